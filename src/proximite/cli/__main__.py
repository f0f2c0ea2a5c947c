"""``python -m proximite.cli``: the command line without its console script."""

import sys

from proximite.cli import app

if __name__ == "__main__":  # pragma: no cover
    sys.exit(app())
