"""Warmline IVR: call flows, telephony adapters, routing and the web app."""
