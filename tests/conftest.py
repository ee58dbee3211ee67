"""Shared fixtures: a real test web server process and a real ``scrapy crawl`` runner.

Nothing here talks to anything but 127.0.0.1: the crawler reaches the ``.test`` hosts
through the test web acting as its HTTP proxy, and the test web never connects out.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import urllib.request
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from linkcrawl.testweb.generator import TestWeb, TestWebConfig

ROOT = Path(__file__).resolve().parent.parent
# One web for the integration tests: every feature of the test web, small enough to
# crawl in seconds.
IT_CONFIG = TestWebConfig(pages=1000, hosts=12, seed=7)
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


@dataclass
class WebServer:
    proc: subprocess.Popen[str]
    address: str
    web: TestWeb

    def _control(self, path: str, method: str = "GET") -> Any:
        # Direct to the server, never through an environment proxy.
        opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
        req = urllib.request.Request(self.address + path, method=method)
        with opener.open(req, timeout=10) as resp:
            return json.loads(resp.read() or b"null")

    def hits(self) -> dict[str, int]:
        return dict(self._control("/_testweb/hits"))

    def hit_times(self) -> dict[str, list[float]]:
        return dict(self._control("/_testweb/hit_times"))

    def reset(self) -> None:
        """Forget the hits; end a robots outage."""
        self._control("/_testweb/reset", method="POST")

    def robots_down(self) -> float:
        """Start a robots outage (ROBOTS_503_HOST's robots.txt answers 503); its time."""
        return float(self._control("/_testweb/robots_down", method="POST")["time"])

    def robots_recover(self) -> float:
        """End it: the server's ``time.monotonic()`` before the switch (as in hit_times)."""
        return float(self._control("/_testweb/robots_recover", method="POST")["time"])


def start_testweb(config: TestWebConfig) -> WebServer:
    cmd = [
        sys.executable,
        "-m",
        "linkcrawl.testweb",
        "serve",
        "--pages",
        str(config.pages),
        "--hosts",
        str(config.hosts),
        "--seed",
        str(config.seed),
    ]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, text=True, cwd=ROOT)
    assert proc.stdout is not None
    line = proc.stdout.readline().strip()
    assert line.startswith("testweb listening on http://127.0.0.1:"), line
    return WebServer(proc, line.removeprefix("testweb listening on "), TestWeb(config))


@pytest.fixture(scope="session")
def testweb() -> Any:
    server = start_testweb(IT_CONFIG)
    try:
        yield server
    finally:
        server.proc.terminate()
        server.proc.wait(timeout=10)
        if server.proc.stdout is not None:
            server.proc.stdout.close()


def crawl_env(proxy: str | None) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.lower().endswith("_proxy")}
    env["SCRAPY_SETTINGS_MODULE"] = "linkcrawl.settings"
    env["PYTHONPATH"] = str(ROOT)
    if proxy:
        env["http_proxy"] = env["HTTP_PROXY"] = proxy
    return env


def crawl_command(
    out: Path, spider_args: dict[str, str], settings: dict[str, str] | None
) -> list[str]:
    base = {
        "LINKCRAWL_OUTPUT": str(out),
        "LINKCRAWL_CRAWL_ID": "it",
        "DOWNLOAD_DELAY": "0",
        "CONCURRENT_REQUESTS": "32",
        "CONCURRENT_REQUESTS_PER_DOMAIN": "8",
        "LOG_LEVEL": "INFO",
    }
    base.update(settings or {})
    cmd = [sys.executable, "-m", "scrapy", "crawl", "backlinks"]
    for key, value in spider_args.items():
        cmd += ["-a", f"{key}={value}"]
    for key, value in base.items():
        cmd += ["-s", f"{key}={value}"]
    return cmd


def start_crawl(
    out: Path,
    *,
    proxy: str | None,
    spider_args: dict[str, str],
    settings: dict[str, str] | None = None,
    log: Path,
    env: dict[str, str] | None = None,
) -> subprocess.Popen[bytes]:
    """A crawl running in the background, its log in a file (no pipe to fill up)."""
    with open(log, "wb") as log_file:
        return subprocess.Popen(
            crawl_command(out, spider_args, settings),
            env={**crawl_env(proxy), **(env or {})},
            cwd=tempfile.gettempdir(),
            stdout=log_file,
            stderr=subprocess.STDOUT,
        )


def run_crawl(
    out: Path,
    *,
    proxy: str | None,
    spider_args: dict[str, str],
    settings: dict[str, str] | None = None,
    timeout: float = 240,
) -> subprocess.CompletedProcess[str]:
    """``scrapy crawl backlinks`` in a subprocess, as a user runs it."""
    cmd = crawl_command(out, spider_args, settings)
    return subprocess.run(
        cmd,
        env=crawl_env(proxy),
        cwd=tempfile.gettempdir(),
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


@dataclass
class Crawl:
    out: Path
    returncode: int
    log: str
    hits: dict[str, int]
    hit_times: dict[str, list[float]]

    @classmethod
    def finished(cls, out: Path, result: subprocess.CompletedProcess[str], web: WebServer) -> Crawl:
        """A finished crawl: its output, exit status, log and the test web's hit log."""
        return cls(out, result.returncode, result.stdout + result.stderr, web.hits(),
                   web.hit_times())  # fmt: skip


# The integration crawl's limits (tests/test_crawl.py checks the crawl against them).
DEPTH_LIMIT = 8
RETRY_TIMES = 2


@pytest.fixture(scope="session")
def crawl(testweb: WebServer, tmp_path_factory: pytest.TempPathFactory) -> Crawl:
    """One crawl of the integration test web, shared by test_crawl.py and test_authority.py."""
    testweb.reset()
    root = tmp_path_factory.mktemp("crawl")
    seeds = root / "seeds.txt"
    seeds.write_text("# the test web's home pages\n" + "\n".join(testweb.web.seeds()) + "\n")
    result = run_crawl(
        root / "out",
        proxy=testweb.address,
        spider_args={"seeds_file": str(seeds)},
        settings={
            "DEPTH_LIMIT": str(DEPTH_LIMIT),
            "RETRY_TIMES": str(RETRY_TIMES),
            # small files, so rotation and multi-file reads are exercised
            "PARQUET_ROWS_PER_FILE": "500",
            "PARQUET_BATCH_ROWS": "200",
        },
    )
    return Crawl.finished(root / "out", result, testweb)


def epoch_us(value: datetime | int | None) -> int | None:
    """A timestamp as microseconds since the epoch (DuckDB's ``epoch_us``), None as None."""
    if isinstance(value, datetime):
        return (value - EPOCH) // timedelta(microseconds=1)
    return value


def edge_key(row: dict[str, Any]) -> tuple[Any, ...]:
    """The fields of an edge row that the test web knows, as a comparable tuple
    (``lastmod`` a datetime, or microseconds as DuckDB's ``epoch_us`` gives it)."""
    return (
        row["source_url"], row["target_url"], row["link_type"], row["anchor_text"],
        tuple(row["rel"]), row["nofollow"], row["sponsored"], row["ugc"],
        row["page_nofollow"], row["image"], row["position"], row["http_status"],
        epoch_us(row["lastmod"]),
    )  # fmt: skip
