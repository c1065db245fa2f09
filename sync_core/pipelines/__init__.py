"""One module per pipeline: its declaration (source, mapping, target, strategies) and its own steps."""
