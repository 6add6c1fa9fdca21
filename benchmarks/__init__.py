"""Reproducible load and throughput scripts that print figures (SPEC §2). Not tests."""
