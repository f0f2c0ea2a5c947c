"""Shared test set-up: offline settings, an isolated Prefect home, a test raw-layer key, a test pseudonym key."""

from __future__ import annotations

import os
import tempfile

# Before anything imports Prefect: offline, and a throwaway Prefect home so tests never touch
# the user's ~/.prefect.
os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
os.environ.setdefault("GX_ANALYTICS_ENABLED", "false")
os.environ.setdefault("DO_NOT_TRACK", "1")
os.environ.setdefault("PREFECT_HOME", tempfile.mkdtemp(prefix="proximite-prefect-home-"))
os.environ.setdefault("PREFECT_LOGGING_LEVEL", "WARNING")
# Layer 01 raw and the quarantine's reports are encrypted at rest (conf [privacy]): every test
# project, and every process a test starts, seals them with this key unless a test sets another.
TEST_RAW_KEY = "0f1e2d3c4b5a69788796a5b4c3d2e1f000112233445566778899aabbccddeeff"
os.environ.setdefault("PROXIMITE_RAW_KEY", TEST_RAW_KEY)
# The ephemeral API server starts slowly on a busy two-core machine (default: 20 s).
os.environ.setdefault("PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS", "120")

import pytest  # noqa: E402

pytest_plugins = ["sandbox_fixtures", "indicator_fixtures"]

TEST_KEY = "test-key-not-secret-0123456789abcdef"


@pytest.fixture
def pseudonym_env(monkeypatch: pytest.MonkeyPatch) -> bytes:
    """Set PROXIMITE_PSEUDONYM_KEY for the test; returns the key bytes."""
    monkeypatch.setenv("PROXIMITE_PSEUDONYM_KEY", TEST_KEY)
    return TEST_KEY.encode()
