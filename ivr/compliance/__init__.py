"""Compliance checks made before a call is routed: do-not-call and blocklisted callers."""
