"""``python -m linkcrawl.testweb serve [--pages N] [--seed S] [--hosts H] [--port P]``."""

from __future__ import annotations

import sys

from linkcrawl.testweb.server import main

if __name__ == "__main__":
    sys.exit(main())
