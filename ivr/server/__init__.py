"""The aiohttp application that serves Twilio's webhooks."""
