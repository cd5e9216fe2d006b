"""Compliance: do-not-call and repeat callers checked at the door, and the states where recording
needs every party's consent."""
