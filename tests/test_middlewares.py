"""Downloader middlewares in a real crawl: linkcrawl.middlewares."""

from __future__ import annotations

import re
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
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


class _Site404Robots(BaseHTTPRequestHandler):
    """A two-page site (served as a proxy on 127.0.0.1) whose robots.txt answers 404 with
    a body that would disallow everything if it were read as a robots.txt."""

    paths: list[str] = []

    def do_GET(self) -> None:
        path = self.path.split("//", 1)[-1].partition("/")[2]
        self.paths.append("/" + path)
        if path == "robots.txt":
            body, status, kind = b"User-agent: *\nDisallow: /\n", 404, "text/plain"
        elif path in ("", "a"):
            body, status, kind = b'<html><body><a href="/a">a</a></body></html>', 200, "text/html"
        else:
            body, status, kind = b"not found", 404, "text/plain"
        self.send_response(status)
        self.send_header("Content-Type", kind)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


def test_a_4xx_robots_txt_allows_everything(tmp_path: Path) -> None:
    # RFC 9309 2.3.1.3: "unavailable" (4xx) means no restrictions, whatever the body says.
    _Site404Robots.paths = []
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Site404Robots)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        result = run_crawl(
            tmp_path / "out",
            proxy=f"http://127.0.0.1:{server.server_address[1]}",
            spider_args={"seeds": "http://gone-robots.test/"},
            settings={"LINKCRAWL_SCOPE": "seed_hosts", "DEPTH_LIMIT": "2"},
        )
    finally:
        server.shutdown()
        server.server_close()
    assert result.returncode == 0, result.stderr[-2000:]
    assert {"/robots.txt", "/", "/a"} <= set(_Site404Robots.paths)
    assert "'robotstxt/unavailable_4xx': 1" in result.stderr
    assert "robotstxt/forbidden" not in result.stderr


class _ChainSite(BaseHTTPRequestHandler):
    """A chain of pages / -> /1 -> /2 -> ... -> /5 (served as a proxy on 127.0.0.1) with
    a robots.txt that allows everything; counts what is asked for."""

    paths: list[str] = []

    def do_GET(self) -> None:
        path = "/" + self.path.split("//", 1)[-1].partition("/")[2]
        self.paths.append(path)
        if path == "/robots.txt":
            body, kind = b"User-agent: *\nAllow: /\n", "text/plain"
        else:
            step = 0 if path == "/" else int(path[1:])
            body, kind = f'<a href="/{step + 1}">next</a>'.encode(), "text/html"
        self.send_response(200)
        self.send_header("Content-Type", kind)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


@pytest.mark.parametrize(("max_age", "at_least", "at_most"), [("0.3", 2, 99), ("86400", 1, 1)])
def test_robots_txt_is_fetched_again_after_its_max_age(
    tmp_path: Path, max_age: str, at_least: int, at_most: int
) -> None:
    # RFC 9309 2.4: a cached robots.txt is not used for more than 24 hours (a setting).
    _ChainSite.paths = []
    server = ThreadingHTTPServer(("127.0.0.1", 0), _ChainSite)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        result = run_crawl(
            tmp_path / "out",
            proxy=f"http://127.0.0.1:{server.server_address[1]}",
            spider_args={"seeds": "http://chain.test/"},
            settings={"LINKCRAWL_SCOPE": "seed_hosts", "DEPTH_LIMIT": "5",
                      "DOWNLOAD_DELAY": "0.4", "LINKCRAWL_ROBOTSTXT_MAX_AGE": max_age},
        )  # fmt: skip
    finally:
        server.shutdown()
        server.server_close()
    assert result.returncode == 0, result.stderr[-2000:]
    pages = [p for p in _ChainSite.paths if p != "/robots.txt"]
    assert pages == ["/", "/1", "/2", "/3", "/4", "/5"]  # one after the other, ~0.4 s apart
    assert at_least <= _ChainSite.paths.count("/robots.txt") <= at_most
