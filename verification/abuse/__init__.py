"""Abuse protection (SPEC §11): who may get a code, fixed limits, adaptive rules, spend caps.

Modules: policy (countries, number types, allow lists, settings checked at start), clients
(IPv6 /64 keys), limits (fixed limits, lockout-proof), rules (adaptive rules), budget (spend
caps, tariff), gate (the one-round-trip Redis script), fallback (the database while Redis
is down), decisions (AbuseDecision rows), guard (the entry points services call).
"""
