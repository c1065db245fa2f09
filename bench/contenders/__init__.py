"""Contenders benchmarked against catalog-sync: a naive port of the original PHP script and a dlt pipeline.

Each is run as `python -m bench.contenders.<module>` with ANAR360_BASE, ANAR360_TOKEN, SAZITO_BASE and
SAZITO_KEY set, and prints one final JSON line `{"variants_seen": N, "writes_sent": M}` on stdout.
"""
