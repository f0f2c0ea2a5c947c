"""Data Docs built once for a batch of gates, not once per gate.

Building the Great Expectations site (every kept suite loaded into a context, every page
rendered) takes seconds and grows with the suites kept; a gate's own validation often takes
less. A gate keeps its runs in the site's store, then asks :func:`site_changed` for the pages:
outside a batch they are built at once (a command that runs one gate), inside
:func:`one_data_docs_build` once when the batch ends, whatever its outcome (a pipeline run
gates up to ten sources and the harmonised tables; a refused one shows on the site too).

The batch is process-wide, not per thread: the gates of a flow run in its task runner's threads.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

__all__ = ["one_data_docs_build", "site_changed"]

log = logging.getLogger(__name__)

_LOCK = threading.Lock()
_BATCHES = 0
_PENDING: dict[Path, None] = {}


@contextmanager
def one_data_docs_build() -> Iterator[None]:
    """Defer the Data Docs sites the gates change inside the block to its end: each built once.

    Nested blocks build when the outermost one ends. A site that fails to build is logged
    (with its folder) and never replaces the block's own error.
    """
    global _BATCHES
    with _LOCK:
        _BATCHES += 1
    try:
        yield
    finally:
        with _LOCK:
            _BATCHES -= 1
            sites = list(_PENDING) if _BATCHES == 0 else []
            if _BATCHES == 0:
                _PENDING.clear()
        for site in sites:
            try:
                _build(site)
            except Exception:  # noqa: BLE001 - the report is a view: the data steps stand
                log.exception("Data Docs of %s could not be built; the next gate builds them again", site)


def site_changed(directory: Path) -> None:
    """A gate kept new runs in ``directory``'s store: build its pages now, or when the batch ends."""
    with _LOCK:
        if _BATCHES:
            _PENDING[Path(directory)] = None
            return
    _build(Path(directory))


def _build(directory: Path) -> None:
    from proximite.expectations.great_expectations import build_site

    build_site(directory)
