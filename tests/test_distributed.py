"""Several ``scrapy crawl backlinks`` workers sharing one real Redis frontier.

The test web and redis-server are real processes on 127.0.0.1; outputs are read back with
DuckDB and compared with the test web's own answers.
"""

from __future__ import annotations

import itertools
import random
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path
from typing import Any

import duckdb
import pyarrow.parquet as pq
import pytest

from linkcrawl.frontier.store import Frontier, FrontierConfig
from linkcrawl.readers import latest_sql
from linkcrawl.robotsfetch import decode_answer, unreachable_answer
from linkcrawl.testweb.generator import (
    ROBOTS_404_HOST,
    ROBOTS_503_HOST,
    SLOW_HOST,
    SLOW_HOST_CRAWL_DELAY,
    SLOW_HOST_PAGES,
)
from linkcrawl.urls import url_host
from tests.conftest import ROOT, WebServer, edge_key, start_crawl
from tests.redis_server import RedisServer
from tests.test_middlewares import _FlakyRobots, _paths, _serve

pytestmark = pytest.mark.integration

DEPTH_LIMIT = 8
RETRY_TIMES = 2


def redis_settings(redis: RedisServer, **extra: str) -> dict[str, str]:
    settings = {
        "LINKCRAWL_REDIS_URL": redis.url,
        "DEPTH_LIMIT": str(DEPTH_LIMIT),
        "RETRY_TIMES": str(RETRY_TIMES),
        "PARQUET_ROTATE_SECONDS": "2",
        "PARQUET_BATCH_ROWS": "300",
        "FRONTIER_IDLE_CLOSE_SECONDS": "3",
        "FRONTIER_HEARTBEAT_INTERVAL": "1",
        "FRONTIER_LEASE_SECONDS": "6",
        "FRONTIER_MAX_INFLIGHT_PER_HOST": "4",
        # a worker killed while it fetches a robots.txt for the fleet holds the others
        # back this long
        "LINKCRAWL_ROBOTSTXT_FETCH_LOCK_SECONDS": "3",
    }
    settings.update(extra)
    return settings


def linkcrawl_cli(*args: str, redis: RedisServer) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "linkcrawl.cli", *args, "--redis-url", redis.url,
         "--crawl-id", "it"],
        cwd=ROOT, capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip


def seed(testweb: WebServer, redis: RedisServer, tmp_path: Path) -> None:
    seeds = tmp_path / "seeds.txt"
    seeds.write_text("\n".join(testweb.web.seeds()) + "\n")
    result = linkcrawl_cli("seed", "--file", str(seeds), redis=redis)
    assert result.returncode == 0, result.stderr
    assert f"{len(testweb.web.seeds())} seeds added" in result.stdout


_RUNNING: list[subprocess.Popen[bytes]] = []


@pytest.fixture(autouse=True)
def _kill_leftover_workers() -> Any:
    # A failed assertion must not leave workers crawling into the next test.
    yield
    while _RUNNING:
        proc = _RUNNING.pop()
        if proc.poll() is None:
            proc.kill()
            proc.wait(timeout=10)


def workers(
    n: int,
    out: Path,
    testweb: WebServer,
    settings: dict[str, str],
    env: dict[str, str] | None = None,
) -> list[subprocess.Popen[bytes]]:
    procs = [
        start_crawl(out, proxy=testweb.address, spider_args={}, settings=settings,
                    log=out.parent / f"worker-{i}.log", env=env)
        for i in range(n)
    ]  # fmt: skip
    _RUNNING.extend(procs)
    return procs


def wait_until_crawling(
    procs: list[subprocess.Popen[bytes]], out: Path, testweb: WebServer, timeout: float = 60
) -> None:
    """Until every worker has opened its spider and the test web has served pages: a fixed
    sleep is not enough on a loaded machine, where a worker signalled during its start-up
    stops before it crawls, and the test would not test what it says."""
    deadline = time.monotonic() + timeout
    while True:
        logs = [(out.parent / f"worker-{i}.log").read_text(errors="replace")
                for i in range(len(procs))]  # fmt: skip
        if all("Spider opened" in log for log in logs) and len(page_hits(testweb)) >= 3:
            # the engine's start goes on for a moment after "Spider opened" (extensions
            # start): a signal in that moment was seen to stop a worker without its
            # "closed (shutdown)" line
            time.sleep(1.0)
            return
        assert time.monotonic() < deadline, "the workers did not start crawling"
        assert all(p.poll() is None for p in procs), "a worker exited during start-up"
        time.sleep(0.05)


def wait_all(procs: list[subprocess.Popen[bytes]], out: Path, timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    for i, proc in enumerate(procs):
        proc.wait(timeout=max(1.0, deadline - time.monotonic()))
        log = (out.parent / f"worker-{i}.log").read_text(errors="replace")
        assert proc.returncode in (0, -signal.SIGKILL), log[-3000:]
        if proc.returncode == 0:
            assert "Traceback" not in log, log[-3000:]


def page_hits(testweb: WebServer) -> dict[str, int]:
    return {u: n for u, n in testweb.hits().items() if not u.endswith("/robots.txt")}


def expected_edge_set(testweb: WebServer) -> Counter[tuple[Any, ...]]:
    return Counter(edge_key(e.__dict__) for e in testweb.web.expected_edges())


def read_edges(out: Path, *, latest: bool) -> Counter[tuple[Any, ...]]:
    con = duckdb.connect()
    raw = f"SELECT * FROM read_parquet('{out}/edges/*/*.parquet', hive_partitioning=true)"
    sql = latest_sql(out, "edges") if latest else raw
    # timestamps as integers: DuckDB turns TIMESTAMPTZ into Python values only with pytz
    cur = con.execute(
        f"SELECT * EXCLUDE (fetch_time, lastmod), epoch_us(lastmod) AS lastmod FROM ({sql})"
    )
    cols = [d[0] for d in cur.description]
    rows = [dict(zip(cols, r, strict=True)) for r in cur.fetchall()]
    return Counter(edge_key(r) for r in rows)


def non_trap(counter: Counter[tuple[Any, ...]], testweb: WebServer) -> Counter[tuple[Any, ...]]:
    return Counter({k: v for k, v in counter.items() if not testweb.web.is_trap(k[0])})


def assert_nothing_lost(got: Counter[Any], testweb: WebServer) -> None:
    """Every expected edge is there (after keeping each page's latest fetch)."""
    want = expected_edge_set(testweb)
    lost = want - got
    assert not lost, list(lost.items())[:3]
    # robots.txt too: Scrapy 2.19 let requests that waited on a host's first robots.txt
    # fetch through (linkcrawl.middlewares.RobotsTxtMiddleware fixes it); nothing extra.
    extra = got - want
    assert not extra, list(extra.items())[:3]


@pytest.fixture
def redis(tmp_path: Path) -> Any:
    server = RedisServer(tmp_path / "redis", appendonly=True)
    server.start()
    try:
        yield server
    finally:
        server.stop()


ROBOTS_RETRY_SECONDS = 0.5


def robots_attempts(times: list[float]) -> list[list[float]]:
    """Arrival times of a failing robots.txt, grouped into fetches: a fetch is its first
    request and Scrapy's immediate retries of it, ``1 + RETRY_TIMES`` requests (the last
    fetch may be cut short by the end of the outage)."""
    ordered = sorted(times)
    return [ordered[i : i + 1 + RETRY_TIMES] for i in range(0, len(ordered), 1 + RETRY_TIMES)]


def test_three_workers_fetch_every_page_exactly_once(
    testweb: WebServer, redis: RedisServer, tmp_path: Path
) -> None:
    # Also RFC 9309 on the test web, fleet-wide: the robots.txt of ROBOTS_404_HOST is a 404
    # (crawled in full); that of ROBOTS_503_HOST answers 503 until the test ends the outage
    # (nothing of it fetched until then, robots.txt asked once per retry interval).
    web = testweb.web
    flaky, gone = web.hosts[ROBOTS_503_HOST], web.hosts[ROBOTS_404_HOST]
    flaky_robots = f"http://{flaky}/robots.txt"
    testweb.reset()
    seed(testweb, redis, tmp_path)
    out = tmp_path / "out"
    settings = redis_settings(redis, LINKCRAWL_ROBOTSTXT_RETRY_SECONDS=str(ROBOTS_RETRY_SECONDS))
    testweb.robots_down()
    try:
        procs = workers(3, out, testweb, settings)
        deadline = time.monotonic() + 60
        while len(robots_attempts(testweb.hit_times().get(flaky_robots, []))) < 3:
            assert time.monotonic() < deadline, testweb.hit_times().get(flaky_robots)
            assert all(p.poll() is None for p in procs)
            time.sleep(0.05)
    finally:
        recovered = testweb.robots_recover()
    wait_all(procs, out)
    expected = web.expected_pages()
    hits = page_hits(testweb)
    for url, page in expected.items():
        want = 1 + RETRY_TIMES if page.status is not None and page.status >= 500 else 1
        assert hits.get(url) == want, (url, hits.get(url))
    unexpected = [u for u in hits if u not in expected and not web.is_trap(u)]
    assert not unexpected, unexpected  # nothing disallowed by robots.txt either
    # the 404 host: everything, also what the 404 body and the other hosts' rules disallow
    assert hits.get(f"http://{gone}/private/admin") == 1
    assert len([u for u in expected if url_host(u) == gone]) > 20
    # the 503 host: nothing but robots.txt while it was down, every page once after
    times = testweb.hit_times()
    flaky_pages = [t for u, ts in times.items() if url_host(u) == flaky and u != flaky_robots
                   for t in ts]  # fmt: skip
    assert len(flaky_pages) > 20 and min(flaky_pages) > recovered
    down = robots_attempts([t for t in times[flaky_robots] if t < recovered])
    assert len(down) >= 3, down
    gaps = [b[0] - a[-1] for a, b in itertools.pairwise(down)]
    assert min(gaps) >= ROBOTS_RETRY_SECONDS * 0.9, gaps  # per interval for the fleet
    assert len([t for t in times[flaky_robots] if t >= recovered]) <= 1  # then one 200
    # one robots.txt fetch per other host for the whole fleet (stored in Redis for the others)
    robots = {u: n for u, n in testweb.hits().items() if u.endswith("/robots.txt")}
    del robots[flaky_robots]
    assert robots == {f"http://{h}/robots.txt": 1 for h in {url_host(u) for u in hits} - {flaky}}
    for host, kind in [(flaky, "parsed"), (gone, "unavailable")]:
        stored = decode_answer(redis.client().get(f"linkcrawl:it:robots:{host}") or b"")
        assert stored is not None and stored.kind == kind, (host, stored)
    logs = [(out.parent / f"worker-{i}.log").read_text() for i in range(3)]
    assert any("'robotstxt/shared'" in log for log in logs)
    assert any("'frontier/postponed'" in log for log in logs)
    assert any("'robotstxt/unavailable_4xx': 1" in log for log in logs)
    assert not any("'robotstxt/gave_up'" in log for log in logs)
    stored = decode_answer(redis.client().get(f"linkcrawl:it:robots:{SLOW_HOST}") or b"")
    assert stored is not None and stored.kind == "parsed" and b"Crawl-delay" in stored.body
    # its Crawl-delay held for the fleet, whichever worker fetched it and whichever read it
    # from Redis
    arrivals = sorted(t for url, ts in testweb.hit_times().items()
                      if url_host(url) == SLOW_HOST and not url.endswith("/robots.txt")
                      for t in ts)  # fmt: skip
    assert len(arrivals) > SLOW_HOST_PAGES
    assert min(b - a for a, b in itertools.pairwise(arrivals)) >= SLOW_HOST_CRAWL_DELAY
    # all three took part, and the union of their files is exactly the expected edges
    writers = {p.name.split("-")[2] for p in (out / "pages" / "crawl_id=it").glob("*.parquet")}
    assert len(writers) == 3, writers
    assert_nothing_lost(non_trap(read_edges(out, latest=False), testweb), testweb)
    status = linkcrawl_cli("frontier", "status", "--json", redis=redis)
    assert status.returncode == 0, status.stderr
    assert '"queued": 0' in status.stdout and '"inflight": 0' in status.stdout


@pytest.mark.parametrize("moment", [0.3, 1.5, 3.0])
def test_sigkill_of_a_worker_loses_nothing(
    testweb: WebServer, redis: RedisServer, tmp_path: Path, moment: float
) -> None:
    testweb.reset()
    seed(testweb, redis, tmp_path)
    out = tmp_path / "out"
    # Tiny batches and frequent rotation: the victim is almost always mid-write.
    settings = redis_settings(redis, PARQUET_BATCH_ROWS="20", PARQUET_ROTATE_SECONDS="0.5")
    procs = workers(3, out, testweb, settings)
    time.sleep(moment)
    if moment >= 3.0:
        # this moment: while a Parquet file is open (a hidden .tmp part exists)
        deadline = time.monotonic() + 20
        while not list(out.rglob(".part-*.tmp")) and time.monotonic() < deadline:
            time.sleep(0.01)
        writing = list(out.rglob(".part-*.tmp"))
        assert writing, "no file was being written"
        # file names carry <hostname>-<pid>-<random>: kill the process writing this one
        pids = {p.pid: p for p in procs}
        owners = [
            pids[int(n)] for n in writing[0].name.split("-") if n.isdigit() and int(n) in pids
        ]
        victim = owners[0] if owners else procs[0]
    else:
        victim = random.Random(moment).choice(procs)
    victim.send_signal(signal.SIGKILL)
    wait_all(procs, out)
    assert victim.returncode == -signal.SIGKILL
    # every committed file is readable; a half-written one is hidden (.tmp), never *.parquet
    for path in out.rglob("*.parquet"):
        pq.ParquetFile(path).metadata  # noqa: B018 (reads the footer)
    # nothing lost: after keeping each page's latest fetch, exactly the expected edges
    assert_nothing_lost(non_trap(read_edges(out, latest=True), testweb), testweb)
    hits = page_hits(testweb)
    assert all(hits.get(url) for url in testweb.web.expected_pages())


def test_fleet_wide_politeness(testweb: WebServer, redis: RedisServer, tmp_path: Path) -> None:
    testweb.reset()
    web = testweb.web
    hosts = [h for h in web.hosts if h.startswith("site-0")][:3]
    result = linkcrawl_cli("seed", *[f"http://{h}/" for h in hosts], redis=redis)
    assert result.returncode == 0, result.stderr
    out = tmp_path / "out"
    settings = redis_settings(
        redis,
        DOWNLOAD_DELAY="0.25",
        LINKCRAWL_SCOPE="allowlist",
        LINKCRAWL_ALLOWED_DOMAINS=",".join(hosts),
        LINKCRAWL_MAX_PAGES_PER_HOST="10",
    )
    wait_all(workers(3, out, testweb, settings), out)
    times = testweb.hit_times()
    for host in hosts:
        arrivals = sorted(t for url, ts in times.items() if url_host(url) == host
                          and not url.endswith("/robots.txt") for t in ts)  # fmt: skip
        assert len(arrivals) >= 10, host
        gaps = [b - a for a, b in itertools.pairwise(arrivals)]
        assert min(gaps) >= 0.25, (host, sorted(gaps)[:5])


def test_redis_restart_mid_crawl_loses_nothing(
    testweb: WebServer, redis: RedisServer, tmp_path: Path
) -> None:
    testweb.reset()
    seed(testweb, redis, tmp_path)
    out = tmp_path / "out"
    procs = workers(2, out, testweb, redis_settings(redis))
    wait_until_crawling(procs, out, testweb)
    redis.stop()
    time.sleep(2.0)
    redis.restart()
    wait_all(procs, out)
    logs = [(out.parent / f"worker-{i}.log").read_text() for i in range(2)]
    assert any("Redis frontier unavailable" in log for log in logs)
    assert_nothing_lost(non_trap(read_edges(out, latest=True), testweb), testweb)


def test_frontier_cli_status_and_reset(redis: RedisServer) -> None:
    result = linkcrawl_cli("seed", "http://a.test/", "http://b.test/x", "http://a.test/",
                           redis=redis)  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert "2 seeds added" in result.stdout
    again = linkcrawl_cli("seed", "http://a.test/", redis=redis)
    assert "0 seeds added, 1 already seen" in again.stdout
    # a host whose robots.txt is down, as a worker records it
    frontier = Frontier(redis.client(), FrontierConfig(prefix="linkcrawl:it"))
    frontier.store_robots_answer("down.test", unreachable_answer("refused", time.time()), 60)
    status = linkcrawl_cli("frontier", "status", redis=redis)
    assert status.returncode == 0, status.stderr
    assert "queued" in status.stdout and "a.test" in status.stdout
    assert "robots.txt unreachable: 1 hosts" in status.stdout
    assert "down.test" in status.stdout and "refused" in status.stdout
    refused = linkcrawl_cli("frontier", "reset", redis=redis)
    assert refused.returncode == 2 and "--yes" in refused.stderr
    reset = linkcrawl_cli("frontier", "reset", "--yes", redis=redis)
    assert reset.returncode == 0, reset.stderr
    status = linkcrawl_cli("frontier", "status", "--json", redis=redis)
    assert '"queued": 0' in status.stdout


def test_dead_redis_is_one_clear_line(tmp_path: Path) -> None:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    result = subprocess.run(
        [sys.executable, "-m", "linkcrawl.cli", "frontier", "status", "--redis-url",
         f"redis://:secret@127.0.0.1:{port}/0"],
        cwd=ROOT, capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert result.returncode == 2
    assert "Traceback" not in result.stderr
    assert str(port) in result.stderr and "secret" not in result.stderr


def test_sigterm_with_a_password_url_releases_and_loses_nothing(
    testweb: WebServer, redis: RedisServer, tmp_path: Path
) -> None:
    # A password-protected Redis, reached through redis://:password@host:port/db.
    redis.client().config_set("requirepass", "s3cret")
    url = redis.url.replace("redis://", "redis://:s3cret@")
    seeds = tmp_path / "seeds.txt"
    seeds.write_text("\n".join(testweb.web.seeds()) + "\n")
    seeded = subprocess.run(
        [sys.executable, "-m", "linkcrawl.cli", "seed", "--file", str(seeds), "--redis-url",
         url, "--crawl-id", "it"],
        cwd=ROOT, capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert seeded.returncode == 0, seeded.stderr
    testweb.reset()
    out = tmp_path / "out"
    # the password travels in the environment, never on a command line or in a log
    settings = redis_settings(redis)
    del settings["LINKCRAWL_REDIS_URL"]
    procs = workers(2, out, testweb, settings, env={"LINKCRAWL_REDIS_URL": url})
    wait_until_crawling(procs, out, testweb)
    procs[0].send_signal(signal.SIGTERM)
    started = time.monotonic()
    procs[0].wait(timeout=30)
    assert time.monotonic() - started < 30
    assert procs[0].returncode == 0
    wait_all(procs, out)
    log = (out.parent / "worker-0.log").read_text()
    assert "Received SIGTERM" in log and "closed (shutdown)" in log
    assert "s3cret" not in log
    assert_nothing_lost(non_trap(read_edges(out, latest=True), testweb), testweb)


def test_worker_refuses_mismatched_buckets_and_bad_password(
    redis: RedisServer, tmp_path: Path
) -> None:
    from tests.conftest import run_crawl

    assert linkcrawl_cli("seed", "http://a.test/", redis=redis).returncode == 0
    mismatched = run_crawl(tmp_path / "out", proxy=None, spider_args={},
                           settings=redis_settings(redis, FRONTIER_SEEN_BUCKET_BITS="12"),
                           timeout=60)  # fmt: skip
    assert mismatched.returncode == 2, mismatched.stderr[-2000:]
    assert "FRONTIER_SEEN_BUCKET_BITS=16" in mismatched.stderr
    assert "Traceback" not in mismatched.stderr
    redis.client().config_set("requirepass", "right")
    wrong = redis.url.replace("redis://", "redis://:wrong@")
    settings = redis_settings(redis, LINKCRAWL_REDIS_URL=wrong)
    refused = run_crawl(tmp_path / "out", proxy=None, spider_args={}, settings=settings,
                        timeout=60)  # fmt: skip
    assert refused.returncode == 2, refused.stderr[-2000:]
    assert "Traceback" not in refused.stderr
    assert "credentials" in refused.stderr or "WRONGPASS" in refused.stderr


def test_an_unreachable_robots_txt_holds_its_host_for_the_fleet(
    redis: RedisServer, tmp_path: Path
) -> None:
    # RFC 9309 2.3.1.4 with two workers: while down.test's robots.txt answers 503 its
    # pages are held in the frontier (not lost, not fetched), one worker asks robots.txt
    # again per retry interval for the whole fleet, and the host is crawled once it
    # answers. gone.test's robots.txt is a 404 (RFC 9309 2.3.1.3): crawled in full.
    _FlakyRobots.status = 503
    _FlakyRobots.hits = []
    hosts = ("down.test", "up.test", "gone.test")
    seeded = linkcrawl_cli("seed", *[f"http://{h}/" for h in hosts], redis=redis)
    assert seeded.returncode == 0, seeded.stderr
    out = tmp_path / "out"
    settings = redis_settings(
        redis,
        LINKCRAWL_SCOPE="allowlist",
        LINKCRAWL_ALLOWED_DOMAINS=",".join(hosts),
        RETRY_TIMES="0",
        LINKCRAWL_ROBOTSTXT_RETRY_SECONDS="0.5",
    )
    with _serve(_FlakyRobots) as proxy:
        procs = [
            start_crawl(out, proxy=proxy, spider_args={}, settings=settings,
                        log=out.parent / f"worker-{i}.log")
            for i in range(2)
        ]  # fmt: skip
        _RUNNING.extend(procs)
        deadline = time.monotonic() + 30
        while (
            _paths(_FlakyRobots, "down.test").count("/robots.txt") < 4
            or len(_paths(_FlakyRobots, "gone.test")) < 4
        ):
            assert time.monotonic() < deadline, _FlakyRobots.hits
            assert all(p.poll() is None for p in procs)
            time.sleep(0.05)
        assert set(_paths(_FlakyRobots, "down.test")) == {"/robots.txt"}
        _FlakyRobots.status = 200
        recovered = time.monotonic()
        wait_all(procs, out, timeout=60)
    down = [(t, u) for t, u in _FlakyRobots.hits if u.startswith("down.test/")]
    assert sorted(u for _, u in down if not u.endswith("/robots.txt")) == [
        "down.test/", "down.test/a"
    ]  # fmt: skip
    assert all(t > recovered for t, u in down if not u.endswith("/robots.txt"))
    asked = [t for t, u in down if u.endswith("/robots.txt") and t < recovered]
    gaps = [b - a for a, b in itertools.pairwise(asked)]
    assert min(gaps) >= 0.45, gaps  # once per interval for the fleet, not per worker
    assert sorted(_paths(_FlakyRobots, "up.test")) == ["/", "/a", "/robots.txt"]
    assert sorted(_paths(_FlakyRobots, "gone.test")) == ["/", "/a", "/private/x", "/robots.txt"]
    logs = "".join((out.parent / f"worker-{i}.log").read_text() for i in range(2))
    assert "'frontier/postponed'" in logs and "'robotstxt/gave_up'" not in logs
    for host, kind in [
        ("down.test", "parsed"),
        ("up.test", "parsed"),
        ("gone.test", "unavailable"),
    ]:
        stored = decode_answer(redis.client().get(f"linkcrawl:it:robots:{host}") or b"")
        assert stored is not None and stored.kind == kind, (host, stored)
    assert not redis.client().keys("linkcrawl:it:robots_lock:*")  # every claim ended
    status = linkcrawl_cli("frontier", "status", "--json", redis=redis)
    assert '"queued": 0' in status.stdout and '"dead_letters": 0' in status.stdout
