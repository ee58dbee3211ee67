"""The test web: a deterministic synthetic multi-host web and the proxy that serves it.

``TestWeb`` renders every page on request and knows which pages and edges a crawler that
obeys ``docs/rules.md`` must find; ``run_server`` / ``serve_main`` serve it over HTTP as a
forward proxy for ``http://*.test`` URLs. See ``docs/testweb.md``.
"""

from __future__ import annotations

from linkcrawl.testweb.generator import (
    ExpectedEdge,
    ExpectedPage,
    TestResponse,
    TestWeb,
    TestWebConfig,
)
from linkcrawl.testweb.server import TestWebServer, run_server, serve_main

__all__ = [
    "ExpectedEdge",
    "ExpectedPage",
    "TestResponse",
    "TestWeb",
    "TestWebConfig",
    "TestWebServer",
    "run_server",
    "serve_main",
]
