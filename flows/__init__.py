"""Prefect flows: the only place that imports prefect. Each task calls one package function."""

import os

# Prefect's ephemeral server gets 20 s to start by default, which a busy two-core machine can miss;
# a notebook or script that calls a flow directly gets the same margin as the CLI.
os.environ.setdefault("PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS", "120")
