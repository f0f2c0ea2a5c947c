"""Prefect flows: the only place that imports prefect. Each task calls one package function."""
