"""Downloader middlewares in a real crawl: linkcrawl.middlewares."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

import pytest

from tests.conftest import WebServer, run_crawl

if TYPE_CHECKING:
    from pathlib import Path

pytestmark = pytest.mark.integration


def test_requests_waiting_on_one_robots_txt_all_obey_it(testweb: WebServer, tmp_path: Path) -> None:
    # Scrapy 2.19's RobotsTxtMiddleware hands None ("allow") to every request but the
    # first that waits on a host's robots.txt fetch. Seeds are scheduled together, so
    # they all wait on the same fetch: disallowed seeds must still never be fetched.
    web = testweb.web
    host = web.hosts[2]
    home = f"http://{host}/"
    private = [f"http://{host}/private/page-{k}" for k in range(8)]
    assert web.robots_allowed(home) and not any(web.robots_allowed(u) for u in private)
    testweb.reset()
    result = run_crawl(
        tmp_path / "out",
        proxy=testweb.address,
        spider_args={"seeds": ",".join([*private, home])},
        settings={"LINKCRAWL_SCOPE": "seed_hosts", "DEPTH_LIMIT": "1"},
    )
    assert result.returncode == 0, result.stderr[-2000:]
    hits = testweb.hits()
    assert hits.get(home) == 1 and hits.get(f"http://{host}/robots.txt") == 1
    assert not [u for u in hits if "/private/" in u]
    forbidden = re.search(r"'robotstxt/forbidden': (\d+)", result.stderr)
    assert forbidden is not None and int(forbidden.group(1)) >= len(private)
