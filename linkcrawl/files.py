"""Durable file commits, shared by the crawl's Parquet writer and the authority job.

Both write to a temporary name and rename into place; a rename survives a power loss
only once the directory that holds it is on disk too.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from pathlib import Path


def fsync_dir(directory: Path) -> None:
    """Flush ``directory``'s entries (a rename into it) to disk; best effort: file systems
    that cannot fsync a directory are skipped silently."""
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)
