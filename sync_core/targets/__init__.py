"""Targets the engine writes to itself: a SQLModel table upserted by fingerprint."""
