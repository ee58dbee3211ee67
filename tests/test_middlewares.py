"""Downloader middlewares in a real crawl: linkcrawl.middlewares."""

from __future__ import annotations

import itertools
import re
import subprocess
import threading
import time
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import TYPE_CHECKING

import pytest

from tests.conftest import WebServer, run_crawl, start_crawl

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator
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


class _HostSite(_ProxiedSite):
    """A proxied site that knows the host asked for: every ``host/path`` is recorded
    with its arrival time; subclasses answer ``site(host, path)``."""

    hits: list[tuple[float, str]] = []

    def answer(self, path: str) -> tuple[int, str, bytes]:
        host = self.path.split("//", 1)[-1].partition("/")[0]
        self.hits.append((time.monotonic(), host + path))
        return self.site(host, path)

    def site(self, host: str, path: str) -> tuple[int, str, bytes]:
        raise NotImplementedError


_PAGES = b'<html><body><a href="/a">a</a> <a href="/private/x">x</a></body></html>'


class _FlakyRobots(_HostSite):
    """``down.test``'s robots.txt answers ``status`` (0: the connection is closed with no
    answer) until a test sets it to 200; ``up.test``'s always answers. Both disallow
    /private/ when they answer; ``gone.test``'s is a 404 whose body would disallow all."""

    status = 503

    def do_GET(self) -> None:
        if self.path.endswith("//down.test/robots.txt") and self.status == 0:
            self.hits.append((time.monotonic(), "down.test/robots.txt"))
            self.close_connection = True  # a network error: no answer at all
            return
        super().do_GET()

    def site(self, host: str, path: str) -> tuple[int, str, bytes]:
        if path == "/robots.txt":
            if host == "gone.test":
                return 404, "text/plain", b"User-agent: *\nDisallow: /\n"
            if host == "down.test" and self.status != 200:
                return self.status, "text/plain", b"come back later"
            return 200, "text/plain", b"User-agent: *\nDisallow: /private/\n"
        if path in ("/", "/a", "/private/x"):
            return 200, "text/html", _PAGES
        return 404, "text/plain", b"not found"


def _wait_for(
    condition: Callable[[], bool], proc: subprocess.Popen[bytes], log: Path, timeout: float = 30
) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert proc.poll() is None, log.read_text(errors="replace")[-3000:]
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.05)


def _paths(site: type[_HostSite], host: str) -> list[str]:
    return [u.removeprefix(host) for _, u in site.hits if u.startswith(host + "/")]


@pytest.mark.parametrize("status", [503, 0])
def test_an_unreachable_robots_txt_holds_its_host_until_it_answers(
    tmp_path: Path, status: int
) -> None:
    # RFC 9309 2.3.1.4: a 5xx or a network error disallows everything "for a while": the
    # host's pages wait (not lost, not holding the other hosts back) and robots.txt is
    # asked again; once it answers, the host is crawled as its robots.txt says.
    _FlakyRobots.status = status
    _FlakyRobots.hits = []
    with _serve(_FlakyRobots) as proxy:
        proc = start_crawl(
            tmp_path / "out",
            proxy=proxy,
            spider_args={"seeds": "http://down.test/,http://up.test/"},
            settings={"LINKCRAWL_SCOPE": "seed_hosts", "DEPTH_LIMIT": "2",
                      "RETRY_TIMES": "0", "LINKCRAWL_ROBOTSTXT_RETRY_SECONDS": "0.5"},
            log=tmp_path / "crawl.log",
        )  # fmt: skip
        try:
            _wait_for(
                lambda: _paths(_FlakyRobots, "down.test").count("/robots.txt") >= 3,
                proc,
                tmp_path / "crawl.log",
            )
            # meanwhile the other host was crawled in full
            assert sorted(_paths(_FlakyRobots, "up.test")) == ["/", "/a", "/robots.txt"]
            assert _paths(_FlakyRobots, "down.test") == ["/robots.txt"] * len(
                _paths(_FlakyRobots, "down.test")
            )
            _FlakyRobots.status = 200
            recovered = time.monotonic()
            assert proc.wait(timeout=60) == 0
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
    log = (tmp_path / "crawl.log").read_text()
    down = [(t, u) for t, u in _FlakyRobots.hits if u.startswith("down.test/")]
    pages = [u for t, u in down if not u.endswith("/robots.txt")]
    assert sorted(pages) == ["down.test/", "down.test/a"]  # /private/x: disallowed
    assert all(t > recovered for t, u in down if not u.endswith("/robots.txt"))
    retries = [t for t, u in down if u.endswith("/robots.txt") and t < recovered]
    gaps = [b - a for a, b in itertools.pairwise(retries)]
    assert min(gaps) >= 0.45, gaps  # asked again every LINKCRAWL_ROBOTSTXT_RETRY_SECONDS
    assert re.search(r"'robotstxt/postponed': \d+", log), log[-3000:]
    assert "'robotstxt/gave_up'" not in log and "Traceback" not in log


def test_an_unreachable_robots_txt_fails_its_requests_after_the_give_up_time(
    tmp_path: Path,
) -> None:
    # A host that never answers must not hold the crawl open: after
    # LINKCRAWL_ROBOTSTXT_GIVE_UP_SECONDS its requests fail (a page row each), unsent.
    _FlakyRobots.status = 503
    _FlakyRobots.hits = []
    with _serve(_FlakyRobots) as proxy:
        result = run_crawl(
            tmp_path / "out",
            proxy=proxy,
            spider_args={"seeds": "http://down.test/,http://down.test/a"},
            settings={"LINKCRAWL_SCOPE": "seed_hosts", "RETRY_TIMES": "0",
                      "LINKCRAWL_ROBOTSTXT_RETRY_SECONDS": "0.3",
                      "LINKCRAWL_ROBOTSTXT_GIVE_UP_SECONDS": "1"},
            timeout=60,
        )  # fmt: skip
    assert result.returncode == 0, result.stderr[-2000:]
    assert set(_paths(_FlakyRobots, "down.test")) == {"/robots.txt"}
    assert "'robotstxt/gave_up': 2" in result.stderr
    assert "'pages/fetch_errors': 2" in result.stderr


class _RedirectedRobots(_HostSite):
    """robots.txt of ``r<N>.test`` redirects N times (/robots.txt -> /r/1 -> ... -> /r/N),
    then answers a robots.txt that disallows /private/."""

    def site(self, host: str, path: str) -> tuple[int, str, bytes]:
        hops = int(host.partition(".")[0][1:])
        step = 0 if path == "/robots.txt" else int(path[3:]) if path.startswith("/r/") else -1
        if 0 <= step < hops:
            return 301, "text/plain", f"/r/{step + 1}".encode()
        if step == hops:
            return 200, "text/plain", b"User-agent: *\nDisallow: /private/\n"
        return 200, "text/html", b"<html><body>a page</body></html>"

    def do_GET(self) -> None:  # a 301 needs its Location header
        path = "/" + self.path.split("//", 1)[-1].partition("/")[2]
        status, kind, body = self.answer(path)
        self.send_response(status)
        if status == 301:
            self.send_header("Location", body.decode())
        self.send_header("Content-Type", kind)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


def test_robots_txt_redirects_are_followed_five_times(tmp_path: Path) -> None:
    # RFC 9309 2.3.1.2: follow at least five redirects; more may be read as
    # "unavailable" (everything allowed). Scrapy would follow REDIRECT_MAX_TIMES (20).
    _RedirectedRobots.hits = []
    with _serve(_RedirectedRobots) as proxy:
        result = run_crawl(
            tmp_path / "out",
            proxy=proxy,
            spider_args={"seeds": "http://r5.test/private/x,http://r6.test/private/x"},
            settings={"LINKCRAWL_SCOPE": "seed_hosts"},
            timeout=60,
        )
    assert result.returncode == 0, result.stderr[-2000:]
    assert "/private/x" not in _paths(_RedirectedRobots, "r5.test")
    assert _paths(_RedirectedRobots, "r5.test") == ["/robots.txt"] + [
        f"/r/{k}" for k in range(1, 6)
    ]
    # six redirects: the sixth is not followed, and the host is crawled as if unrestricted
    assert _paths(_RedirectedRobots, "r6.test") == [
        "/robots.txt",
        *[f"/r/{k}" for k in range(1, 6)],
        "/private/x",
    ]
    assert "'robotstxt/unavailable_redirects': 1" in result.stderr
    assert "'robotstxt/forbidden': 1" in result.stderr
