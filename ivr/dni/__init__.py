"""Dynamic number insertion: web visits lease tracking numbers, and calls to a leased number are
attributed to the visit (its UTM data, referrer and click id). See docs/attribution.md.

- :mod:`ivr.dni.pool`: the per-campaign number pool in Redis, leased atomically (one Lua script).
- :mod:`ivr.dni.visit`: what a publisher's page sends, validated and bounded.
- :mod:`ivr.dni.endpoint`: ``GET /dni/dni.js`` (the snippet) and ``POST /dni/{campaign}/lease``.
"""
