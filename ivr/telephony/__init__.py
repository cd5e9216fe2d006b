"""Transports at the edge of the engine: Twilio webhooks, and live call state in Redis."""
