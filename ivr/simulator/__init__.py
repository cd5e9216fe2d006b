"""A fake Twilio that plays the carrier's side of a call against any TwiML web app over real HTTP.

`carrier` runs the call loop, `twiml_reader` turns TwiML into verb objects, `webhooks` signs and
sends Twilio's requests, `media` serves the recordings the carrier "made", and `caller` is the
protocol (and a scripted implementation) through which the carrier asks the person on the line
what they do.
"""
