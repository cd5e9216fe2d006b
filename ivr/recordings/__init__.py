"""Call recordings: fetching Twilio's media and keeping it in the recording store."""
