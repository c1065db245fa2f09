"""A small pipeline declared outside the engine, as docs/adding-a-pipeline.md describes."""
