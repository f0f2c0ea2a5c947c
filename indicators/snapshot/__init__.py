"""The decision-makers' snapshot (written in a later step)."""
