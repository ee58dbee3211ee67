"""Downloader middlewares in a real crawl: linkcrawl.middlewares."""

from __future__ import annotations

import re
import threading
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import TYPE_CHECKING

import pytest

from tests.conftest import WebServer, run_crawl

if TYPE_CHECKING:
    from collections.abc import Iterator
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


class _ProxiedSite(BaseHTTPRequestHandler):
    """A tiny site served as a proxy on 127.0.0.1 (the crawl asks it for absolute URLs):
    subclasses say what each path answers; every path asked for is recorded."""

    paths: list[str] = []

    def answer(self, path: str) -> tuple[int, str, bytes]:
        """(status, content type, body) for ``path``."""
        raise NotImplementedError

    def do_GET(self) -> None:
        path = "/" + self.path.split("//", 1)[-1].partition("/")[2]
        self.paths.append(path)
        status, kind, body = self.answer(path)
        self.send_response(status)
        self.send_header("Content-Type", kind)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


@contextmanager
def _serve(handler: type[_ProxiedSite]) -> Iterator[str]:
    """Serve ``handler`` on a free loopback port; yield its proxy URL."""
    handler.paths = []
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


class _Site404Robots(_ProxiedSite):
    """A two-page site whose robots.txt answers 404 with a body that would disallow
    everything if it were read as a robots.txt."""

    def answer(self, path: str) -> tuple[int, str, bytes]:
        if path == "/robots.txt":
            return 404, "text/plain", b"User-agent: *\nDisallow: /\n"
        if path in ("/", "/a"):
            return 200, "text/html", b'<html><body><a href="/a">a</a></body></html>'
        return 404, "text/plain", b"not found"


def test_a_4xx_robots_txt_allows_everything(tmp_path: Path) -> None:
    # RFC 9309 2.3.1.3: "unavailable" (4xx) means no restrictions, whatever the body says.
    with _serve(_Site404Robots) as proxy:
        result = run_crawl(
            tmp_path / "out",
            proxy=proxy,
            spider_args={"seeds": "http://gone-robots.test/"},
            settings={"LINKCRAWL_SCOPE": "seed_hosts", "DEPTH_LIMIT": "2"},
        )
    assert result.returncode == 0, result.stderr[-2000:]
    assert {"/robots.txt", "/", "/a"} <= set(_Site404Robots.paths)
    assert "'robotstxt/unavailable_4xx': 1" in result.stderr
    assert "robotstxt/forbidden" not in result.stderr


class _ChainSite(_ProxiedSite):
    """A chain of pages / -> /1 -> /2 -> ... with a robots.txt that allows everything."""

    def answer(self, path: str) -> tuple[int, str, bytes]:
        if path == "/robots.txt":
            return 200, "text/plain", b"User-agent: *\nAllow: /\n"
        step = 0 if path == "/" else int(path[1:])
        return 200, "text/html", f'<a href="/{step + 1}">next</a>'.encode()


@pytest.mark.parametrize(("max_age", "at_least", "at_most"), [("0.3", 2, 99), ("86400", 1, 1)])
def test_robots_txt_is_fetched_again_after_its_max_age(
    tmp_path: Path, max_age: str, at_least: int, at_most: int
) -> None:
    # RFC 9309 2.4: a cached robots.txt is not used for more than 24 hours (a setting).
    with _serve(_ChainSite) as proxy:
        result = run_crawl(
            tmp_path / "out",
            proxy=proxy,
            spider_args={"seeds": "http://chain.test/"},
            settings={"LINKCRAWL_SCOPE": "seed_hosts", "DEPTH_LIMIT": "5",
                      "DOWNLOAD_DELAY": "0.4", "LINKCRAWL_ROBOTSTXT_MAX_AGE": max_age},
        )  # fmt: skip
    assert result.returncode == 0, result.stderr[-2000:]
    pages = [p for p in _ChainSite.paths if p != "/robots.txt"]
    assert pages == ["/", "/1", "/2", "/3", "/4", "/5"]  # one after the other, ~0.4 s apart
    assert at_least <= _ChainSite.paths.count("/robots.txt") <= at_most
