"""Routing calls to licensed loan officers: who may take a call now, and why not.

``officers`` holds the deployment's officer model, ``hours`` the opening-hours grammar,
``eligibility`` the pure per-officer check and ``explain`` the per-pool table behind
``warmline route --explain``. See docs/routing.md.
"""
