"""Indicators: pure functions from harmonised tables to indicator tables (built in a later step)."""
