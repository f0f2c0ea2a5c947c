"""Validation suites and cross-table checks that gate every layer transition (built in a later step)."""
