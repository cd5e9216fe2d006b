"""The Twilio adapter: webhooks in, engine events; engine actions out, TwiML."""
