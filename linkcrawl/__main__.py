"""``python -m linkcrawl``: the ``linkcrawl`` command (``linkcrawl.cli``)."""

from __future__ import annotations

import sys

from linkcrawl.cli import main

if __name__ == "__main__":
    sys.exit(main())
