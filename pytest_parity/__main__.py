"""``python -m pytest_parity``: the ``pytest-parity`` console script."""

from __future__ import annotations

import sys

from pytest_parity.cli import main

if __name__ == "__main__":
    sys.exit(main())
