"""Tests for ``linkcrawl robots check``: verdicts, deciding rules, fetch outcomes, errors.

The URL cases fetch from the project's test web server on 127.0.0.1 (as an HTTP proxy
for the ``.test`` hosts, or directly); nothing reaches a non-loopback address.
"""

from __future__ import annotations

import socket
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import TYPE_CHECKING, Any

import pytest

from linkcrawl.cli import main

if TYPE_CHECKING:
    from collections.abc import Iterator
    from pathlib import Path

    from tests.conftest import WebServer

ROBOTS = """\
User-agent: badbot
Disallow: /

User-agent: *
Disallow: /private/
Allow: /private/ok
Crawl-delay: 2
Sitemap: https://example.com/sitemap.xml
"""


@pytest.fixture
def robots_file(tmp_path: Path) -> Path:
    path = tmp_path / "robots.txt"
    path.write_text(ROBOTS)
    return path


@pytest.fixture
def no_proxy(monkeypatch: pytest.MonkeyPatch) -> None:
    """Direct connections only: no proxy from the environment."""
    for name in ("http_proxy", "https_proxy", "all_proxy", "no_proxy"):
        monkeypatch.delenv(name, raising=False)
        monkeypatch.delenv(name.upper(), raising=False)


@pytest.fixture
def via_testweb(testweb: WebServer, monkeypatch: pytest.MonkeyPatch, no_proxy: None) -> str:
    """The test web as the HTTP proxy, so ``http://<host>.test/`` reaches it."""
    monkeypatch.setenv("http_proxy", testweb.address)
    monkeypatch.setenv("HTTP_PROXY", testweb.address)
    return testweb.address


def check(*argv: str) -> int:
    return main(["robots", "check", *argv])


def verdicts(out: str) -> list[list[str]]:
    """The URL lines of the output, each as [verdict, url, why]."""
    rows = []
    for line in out.splitlines():
        if line.startswith(("allowed ", "disallowed ")):
            verdict, url, why = line.split(maxsplit=2)
            rows.append([verdict, url, why])
    return rows


def test_file_disallowed_names_rule_and_line(
    robots_file: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    status = check("--robots", str(robots_file), "https://example.com/a",
                   "https://example.com/private/x", "https://example.com/private/ok")  # fmt: skip
    out, err = capsys.readouterr()
    assert status == 1
    assert err == ""
    lines = out.splitlines()
    assert lines[0] == f"robots.txt  {robots_file}  ({len(ROBOTS)} bytes)"
    assert lines[1] == "agent       linkcrawl  (group: *)"
    assert "crawl-delay 2" in lines
    assert "sitemap     https://example.com/sitemap.xml" in lines
    assert verdicts(out) == [
        ["allowed", "https://example.com/a", "(no rule matches)"],
        ["disallowed", "https://example.com/private/x", "(disallow: /private/  line 5)"],
        ["allowed", "https://example.com/private/ok", "(allow: /private/ok  line 6)"],
    ]
    # Columns: the verdict, the URL padded to the longest one, the rule.
    assert "disallowed  https://example.com/private/x    (disallow: /private/  line 5)" in lines


def test_file_all_allowed_exits_0(robots_file: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert check("--robots", str(robots_file), "https://example.com/", "/private/ok") == 0
    assert [v for v, _, _ in verdicts(capsys.readouterr().out)] == ["allowed", "allowed"]


def test_path_form_and_robots_txt_itself(
    robots_file: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert check("--robots", str(robots_file), "/private/a?b=1", "/robots.txt") == 1
    assert verdicts(capsys.readouterr().out) == [
        ["disallowed", "/private/a?b=1", "(disallow: /private/  line 5)"],
        ["allowed", "/robots.txt", "(robots.txt itself is always allowed)"],
    ]


def test_agent_product_token_picks_its_group(
    robots_file: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert check("--robots", str(robots_file), "--agent", "BadBot/2.1 (+https://x.test)",
                 "/a") == 1  # fmt: skip
    out = capsys.readouterr().out
    assert "agent       BadBot  (group: BadBot)" in out.splitlines()
    assert "crawl-delay" not in out  # badbot's group has none
    assert verdicts(out) == [["disallowed", "/a", "(disallow: /  line 2)"]]


def test_non_ascii_url_checked_percent_encoded(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "robots.txt"
    path.write_text("User-agent: *\nDisallow: /café\n", encoding="utf-8")
    assert check("--robots", str(path), "/café/menu") == 1
    assert verdicts(capsys.readouterr().out) == [
        ["disallowed", "/caf%C3%A9/menu", "(disallow: /caf%C3%A9  line 2)"]
    ]


def test_binary_garbage_is_parsed(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "robots.txt"
    path.write_bytes(bytes(range(256)) * 8 + b"\nUser-agent: *\nDisallow: /x\n\xff\xfe")
    assert check("--robots", str(path), "/x", "/y") == 1
    out = capsys.readouterr().out
    assert verdicts(out) == [
        # Each copy of the 256 bytes holds a LF and a CR: 16 line ends before them.
        ["disallowed", "/x", "(disallow: /x  line 19)"],
        ["allowed", "/y", "(no rule matches)"],
    ]


def test_url_of_test_web_host(via_testweb: str, capsys: pytest.CaptureFixture[str]) -> None:
    site = "http://www.site-03.test"
    # A page of the site names the site's robots.txt.
    assert check("--robots", f"{site}/p/1", f"{site}/members/welcome", f"{site}/members/area",
                 f"{site}/private/x", "/p/1") == 1  # fmt: skip
    out, err = capsys.readouterr()
    assert err == ""
    header = out.splitlines()[0]
    assert header.startswith(f"robots.txt  {site}/robots.txt  (HTTP 200, ")
    assert "agent       linkcrawl  (group: *)" in out.splitlines()
    assert verdicts(out) == [
        ["allowed", f"{site}/members/welcome", "(allow: /members/welcome  line 8)"],
        ["disallowed", f"{site}/members/area", "(disallow: /members/  line 7)"],
        ["disallowed", f"{site}/private/x", "(disallow: /private/  line 6)"],
        ["allowed", "/p/1", "(no rule matches)"],
    ]


def test_url_slow_host_crawl_delay(via_testweb: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert check("--robots", "http://slow.test/robots.txt", "http://slow.test/p/1") == 0
    assert "crawl-delay 0.5" in capsys.readouterr().out.splitlines()


def test_404_allows_everything(
    testweb: WebServer, no_proxy: None, capsys: pytest.CaptureFixture[str]
) -> None:
    # Asked directly (not as a proxy), the test web answers 404 outside its control paths.
    url = f"{testweb.address}/robots.txt"
    assert check("--robots", url, "/private/x", "/a") == 0
    out = capsys.readouterr().out
    assert out.splitlines()[0] == (
        f"robots.txt  {url}  (HTTP 404: unavailable, everything allowed)"
    )
    assert verdicts(out) == [
        ["allowed", "/private/x", "(no robots.txt)"],
        ["allowed", "/a", "(no robots.txt)"],
    ]


def test_5xx_disallows_everything(via_testweb: str, capsys: pytest.CaptureFixture[str]) -> None:
    # A host outside the test web: the test web answers 502 and never connects out.
    url = "http://not-in-the-web.test/robots.txt"
    assert check("--robots", url, "/a") == 1
    out = capsys.readouterr().out
    assert out.splitlines()[0] == (
        f"robots.txt  {url}  (HTTP 502: unreachable, everything disallowed)"
    )
    assert verdicts(out) == [["disallowed", "/a", "(robots.txt unreachable)"]]


def test_closed_port_disallows_everything(
    no_proxy: None, capsys: pytest.CaptureFixture[str]
) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    # Nothing listens on the port now that the socket is closed.
    assert check("--robots", f"http://127.0.0.1:{port}/", "/a", "/b") == 1
    out = capsys.readouterr().out
    header = out.splitlines()[0]
    assert header.startswith(f"robots.txt  http://127.0.0.1:{port}/robots.txt  (")
    assert header.endswith(": unreachable, everything disallowed)")
    assert [v for v, _, _ in verdicts(out)] == ["disallowed", "disallowed"]


class _Redirects(BaseHTTPRequestHandler):
    """``/robots.txt?hops=N`` -> ``/hop/1?hops=N`` -> ... -> ``/hop/N?hops=N``, which
    serves a robots.txt; ``/robots.txt?status=N`` answers status N (a body that allows
    everything, which no status but 2xx may be read for)."""

    def do_GET(self) -> None:
        if "?status=" in self.path:
            body = b"User-agent: *\nAllow: /\n"
            self.send_response(int(self.path.partition("?status=")[2]))
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)
            return
        path, _, query = self.path.partition("?hops=")
        hops = int(query)
        step = 0 if path == "/robots.txt" else int(path.removeprefix("/hop/"))
        if step < hops:
            self.send_response(302)
            self.send_header("Location", f"/hop/{step + 1}?hops={hops}")
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        body = b"User-agent: *\nDisallow: /\n"
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:
        pass


@pytest.fixture
def redirect_server(no_proxy: None) -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Redirects)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


def test_five_redirects_are_followed(
    redirect_server: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert check("--robots", f"{redirect_server}/robots.txt?hops=5", "/a") == 1
    out = capsys.readouterr().out
    assert out.splitlines()[0] == (
        f"robots.txt  {redirect_server}/robots.txt?hops=5  "
        f"(HTTP 200 from {redirect_server}/hop/5?hops=5, 26 bytes)"
    )
    assert verdicts(out) == [["disallowed", "/a", "(disallow: /  line 2)"]]


def test_six_redirects_mean_unavailable(
    redirect_server: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert check("--robots", f"{redirect_server}/robots.txt?hops=6", "/a") == 0
    out = capsys.readouterr().out
    assert "HTTP 302, more than 5 redirects: unavailable, everything allowed" in out
    assert verdicts(out) == [["allowed", "/a", "(no robots.txt)"]]


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--robots", "{missing}", "/a"], "cannot read '{missing}': No such file or directory"),
        (["--robots", "{dir}", "/a"], "cannot read '{dir}': Is a directory"),
        (["--robots", "{file}", "example.com/a"],
         "URL 'example.com/a': not an http(s) URL or a path starting with '/'"),
        (["--robots", "{file}", "ftp://example.com/a"],
         "URL 'ftp://example.com/a': not an http(s) URL or a path starting with '/'"),
        (["--robots", "{file}", "http://[::1/a"], "URL 'http://[::1/a': Invalid IPv6 URL"),
        (["--robots", "ftp://example.com/robots.txt", "/a"],
         "--robots 'ftp://example.com/robots.txt': not an http(s) URL or a file"),
        (["--robots", "{file}", "--agent", "42bot", "/a"],
         "--agent '42bot': no product token (letters, '-', '_') at its start"),
    ],
)  # fmt: skip
def test_user_errors_are_one_line(
    argv: list[str],
    message: str,
    robots_file: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    names = {"missing": str(tmp_path / "missing.txt"), "dir": str(tmp_path),
             "file": str(robots_file)}  # fmt: skip
    assert check(*(arg.format(**names) for arg in argv)) == 2
    out, err = capsys.readouterr()
    assert out == ""
    assert err == f"linkcrawl: error: {message.format(**names)}\n"


def test_no_urls_is_a_usage_error(robots_file: Path, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exc:
        check("--robots", str(robots_file))
    assert exc.value.code == 2
    assert "the following arguments are required: URL" in capsys.readouterr().err


def test_429_disallows_everything(redirect_server: str, capsys: pytest.CaptureFixture[str]) -> None:
    # Too Many Requests: read as Google reads it ("unreachable"), not as a 4xx "allow all"
    assert check("--robots", f"{redirect_server}/robots.txt?status=429", "/a") == 1
    out = capsys.readouterr().out
    assert out.splitlines()[0].endswith("(HTTP 429: unreachable, everything disallowed)")
    assert [v for v, _, _ in verdicts(out)] == ["disallowed"]
