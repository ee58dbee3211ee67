"""The identity of this crawler process: file names, leases and heartbeats use it."""

from __future__ import annotations

import os
import re
import secrets
import socket
from functools import cache

_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")


@cache
def _generated_worker_id() -> str:
    # <hostname>-<pid>-<random>: unique even when a pid is reused after a restart.
    host = _UNSAFE.sub("-", socket.gethostname()) or "host"
    return f"{host}-{os.getpid()}-{secrets.token_hex(3)}"


def worker_id(configured: str | None = None) -> str:
    """``LINKCRAWL_WORKER_ID`` made file-name safe, or one generated once per process."""
    if configured:
        return _UNSAFE.sub("-", configured)
    return _generated_worker_id()
