"""The Redis data layer of the distributed frontier: dupefilter, per-host queues, politeness
schedule, leases, dead letters and robots.txt answers, shared by every worker of a crawl.

Pure of Scrapy: the scheduler (``linkcrawl.frontier.scheduler``) and the CLI call it.
Every operation that touches more than one key is one Lua script (``lua/*.lua``, loaded
with redis-py's ``register_script``: EVALSHA, reloaded after a Redis restart), so it is
atomic and one round trip. Nothing is pickled: a queued request is the JSON
``["/path?query",depth,attempts]`` in its host's queue (the URL without
``scheme://host``, see :func:`pack_url`). The key layout and the sizing of the dupefilter
are described in ``docs/frontier.md``.

Connection problems raise :class:`RedisUnavailable` (one line, the URL without password);
the caller retries with backoff. Every operation can be retried after a failure: adds
dedupe, acks and releases of a lease already ended do nothing, and a lease whose reply was
lost expires and is requeued.
"""

from __future__ import annotations

import json
import math
import re
import time
from contextlib import contextmanager
from dataclasses import dataclass
from importlib import resources
from typing import TYPE_CHECKING, Any

import redis
from redis.exceptions import (
    AuthenticationError,
    ReadOnlyError,
    RedisError,
    ResponseError,
)
from redis.exceptions import (
    ConnectionError as RedisConnectionError,
)
from redis.exceptions import (
    TimeoutError as RedisTimeoutError,
)

from linkcrawl.robotsfetch import RobotsAnswer, decode_answer, encode_answer
from linkcrawl.urls import fingerprint as url_fingerprint
from linkcrawl.urls import url_host

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator, Sequence

    from redis.commands.core import Script

__all__ = [
    "MAX_BATCH",
    "Frontier",
    "FrontierConfig",
    "FrontierError",
    "FrontierRequest",
    "Lease",
    "RedisUnavailable",
    "pack_url",
    "redact_url",
    "seen_bucket_bits_for",
    "unpack_url",
]

#: Requests per Lua call in :meth:`Frontier.add`: a page's links are one call; a larger
#: batch (a seed file) is split so that no single script blocks Redis for long.
MAX_BATCH = 10_000
#: Expired leases requeued per :meth:`Frontier.requeue_expired` call.
EXPIRE_BATCH = 1_000
#: Mean fingerprints per dupefilter bucket that :func:`seen_bucket_bits_for` aims at:
#: well under ``set-max-intset-entries`` (512) even for the fullest bucket.
TARGET_BUCKET_LOAD = 350


class FrontierError(Exception):
    """A frontier operation failed (bad input, a Redis error, a misconfigured crawl)."""


class RedisUnavailable(FrontierError):
    """Redis cannot be reached (refused, timed out, loading, connection lost): retry later."""


def seen_bucket_bits_for(expected_urls: int) -> int:
    """The ``seen_bucket_bits`` for a crawl expected to see about ``expected_urls`` URLs.

    Buckets hold :data:`TARGET_BUCKET_LOAD` fingerprints on average, so they stay
    intset-encoded (8 bytes each) with room to spare; see docs/frontier.md.
    """
    if expected_urls <= TARGET_BUCKET_LOAD:
        return 1
    return min(32, math.ceil(math.log2(expected_urls / TARGET_BUCKET_LOAD)))


@dataclass(frozen=True)
class FrontierConfig:
    """Where a crawl's frontier lives in Redis and how it releases requests.

    Every worker of a crawl must use the same ``prefix`` and ``seen_bucket_bits`` (the
    latter is recorded on the first add and checked on every later one).
    """

    #: every key of the crawl starts with ``prefix + ":"``, e.g. ``"linkcrawl:<crawl_id>"``
    prefix: str
    #: dupefilter buckets = 2**bits; aim at <= 350 URLs per bucket (docs/frontier.md)
    seen_bucket_bits: int = 16
    #: a lease not acked or released within this time is requeued by any worker
    lease_seconds: float = 600.0
    #: failed attempts (errors, expired leases) before a request is dead-lettered
    max_attempts: int = 3
    #: minimum seconds between two releases of one host, fleet-wide
    default_delay: float = 1.0
    #: leases outstanding per host, fleet-wide
    max_inflight_per_host: int = 2

    def __post_init__(self) -> None:
        if not self.prefix or any(c in self.prefix for c in "\n\r "):
            raise ValueError(f"frontier prefix must be non-empty, without spaces: {self.prefix!r}")
        if not 1 <= self.seen_bucket_bits <= 32:
            raise ValueError(f"seen_bucket_bits must be 1..32, not {self.seen_bucket_bits}")
        if not self.lease_seconds > 0:
            raise ValueError(f"lease_seconds must be > 0, not {self.lease_seconds}")
        if self.max_attempts < 1:
            raise ValueError(f"max_attempts must be >= 1, not {self.max_attempts}")
        if not (self.default_delay >= 0 and math.isfinite(self.default_delay)):
            raise ValueError(f"default_delay must be >= 0, not {self.default_delay}")
        if self.max_inflight_per_host < 1:
            msg = f"max_inflight_per_host must be >= 1, not {self.max_inflight_per_host}"
            raise ValueError(msg)


@dataclass(frozen=True, slots=True)
class FrontierRequest:
    """What the frontier stores of a request: enough to rebuild it, nothing more."""

    url: str  #: canonical URL (``linkcrawl.urls.canonicalize``)
    host: str  #: ``linkcrawl.urls.url_host(url)``: the politeness key
    fingerprint: bytes  #: ``linkcrawl.urls.fingerprint(url)``: 8 bytes, the dedupe key
    depth: int
    attempts: int = 0  #: failed attempts so far
    #: a sitemap: "" or the host whose robots.txt named it; None for a page
    sitemap: str | None = None

    @classmethod
    def from_url(cls, canonical_url: str, depth: int = 0) -> FrontierRequest:
        """The request for a canonical URL: host and fingerprint computed from it."""
        return cls(canonical_url, url_host(canonical_url), url_fingerprint(canonical_url), depth)


@dataclass(frozen=True, slots=True)
class Lease:
    """A request taken by a worker: ack or release it by ``lease_id`` before it expires."""

    lease_id: str
    request: FrontierRequest
    worker: str


def redact_url(url: str) -> str:
    """``url`` without its password (``redis://user:***@host:port/db``), for log lines."""
    scheme, sep, rest = url.partition("://")
    if not sep or "@" not in rest.split("/", 1)[0]:
        return url
    userinfo, _, hostpart = rest.partition("@")
    user = userinfo.split(":", 1)[0]
    return f"{scheme}://{user + ':' if user else ':'}***@{hostpart}"


def _describe(client: redis.Redis) -> str:
    """The server a client talks to, as a URL without credentials."""
    pool = client.connection_pool
    kw = pool.connection_kwargs
    db = kw.get("db", 0)
    if kw.get("path"):
        return f"unix://{kw['path']}?db={db}"
    scheme = "rediss" if issubclass(pool.connection_class, redis.SSLConnection) else "redis"
    return f"{scheme}://{kw.get('host', 'localhost')}:{kw.get('port', 6379)}/{db}"


def pack_url(url: str, host: str) -> str:
    """The URL as a queue entry stores it: without ``scheme://host``, which the queue's
    key already names. ``https://h/p`` -> ``/p``, ``http://h:8080/p`` -> ``h:8080/p``; a URL
    that does not start with its host is kept whole."""
    if url.startswith("https://") and url.startswith(host, 8):
        rest = url[8 + len(host) :]
        if rest[:1] in ("/", ":"):
            return rest
    elif url.startswith("http://") and url.startswith(host, 7):
        rest = url[7 + len(host) :]
        if rest[:1] in ("/", ":"):
            return "h" + rest
    return url


def unpack_url(packed: str, host: str) -> str:
    """The inverse of :func:`pack_url`."""
    if packed[:1] in ("/", ":"):
        return f"https://{host}{packed}"
    if packed[:2] in ("h/", "h:"):
        return f"http://{host}{packed[1:]}"
    return packed


def _text(value: bytes | str) -> str:
    return value.decode("utf-8") if isinstance(value, bytes) else value


def _int(value: bytes | str | None) -> int:
    return int(float(_text(value))) if value is not None else 0


def _one_line(text: str) -> str:
    return " ".join(text.split())


def _glob_escape(text: str) -> str:
    return "".join("\\" + c if c in "*?[]\\" else c for c in text)


def _load_script(name: str) -> str:
    return resources.files("linkcrawl.frontier").joinpath("lua", name).read_text("utf-8")


class Frontier:
    """One crawl's frontier in Redis, as seen by one worker (or the CLI).

    ``clock`` gives the time used for delays, deadlines and heartbeats (seconds; tests
    pass a fake one). Workers on different machines must have synchronised clocks
    (NTP): a skew of ``s`` seconds can shorten a host's delay by ``s``.
    """

    def __init__(
        self,
        client: redis.Redis,
        config: FrontierConfig,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.client = client
        self.config = config
        self.clock = clock
        self.where = _describe(client)
        p = config.prefix
        self._keys = {
            name: f"{p}:{name}"
            for name in (
                "meta", "counts", "ready", "next", "backlog", "hif", "delay", "leases",
                "deadlines", "lease_seq", "dead", "workers", "sent", "robots_down",
            )
        }  # fmt: skip
        self._add_script: Script = client.register_script(_load_script("add.lua"))
        self._lease_script: Script = client.register_script(_load_script("lease.lua"))
        self._finish_script: Script = client.register_script(_load_script("finish.lua"))
        self._send_script: Script = client.register_script(_load_script("send.lua"))

    # ------------------------------------------------------------------ errors

    @contextmanager
    def _redis(self, operation: str) -> Iterator[None]:
        """Turn redis-py errors into :class:`FrontierError` / :class:`RedisUnavailable`."""
        try:
            yield
        except AuthenticationError as e:
            msg = f"Redis at {self.where} refused the credentials ({operation}): {e}"
            raise FrontierError(_one_line(msg)) from None
        except (RedisConnectionError, RedisTimeoutError, ReadOnlyError) as e:
            # ReadOnlyError: talking to a replica, e.g. during a failover
            msg = f"Redis unavailable at {self.where} ({operation}): {e or type(e).__name__}"
            raise RedisUnavailable(_one_line(msg)) from None
        except ResponseError as e:
            mismatch = re.search(r"this crawl uses (\d+), the caller (\d+)", str(e))
            if mismatch:
                msg = (
                    f"frontier {self.config.prefix} uses seen_bucket_bits={mismatch[1]}, "
                    f"this worker {mismatch[2]}: set FRONTIER_SEEN_BUCKET_BITS={mismatch[1]}"
                )
                raise FrontierError(msg) from None
            msg = f"Redis error at {self.where} ({operation}): {e}"
            raise FrontierError(_one_line(msg)) from e
        except RedisError as e:
            msg = f"Redis error at {self.where} ({operation}): {e}"
            raise FrontierError(_one_line(msg)) from e

    def _now(self) -> float:
        return float(self.clock())

    # ------------------------------------------------------------------ adding

    def _seen_slot(self, fp: bytes) -> tuple[str, str]:
        """(bucket suffix, set member) of a fingerprint: top bits in hex, the rest in decimal."""
        if len(fp) != 8:
            raise ValueError(f"a fingerprint is 8 bytes, not {len(fp)}: {fp!r}")
        value = int.from_bytes(fp, "big")
        rest = 64 - self.config.seen_bucket_bits
        return format(value >> rest, "x"), str(value & ((1 << rest) - 1))

    def _add_args(self, requests: Sequence[FrontierRequest], queue: bool) -> list[str]:
        c = self.config
        args = [c.prefix, str(c.seen_bucket_bits), repr(self._now()),
                str(c.max_inflight_per_host), "1" if queue else "0"]  # fmt: skip
        for r in requests:
            args += self._seen_slot(r.fingerprint)
            if queue:
                if r.depth < 0 or r.attempts < 0:
                    raise ValueError(f"negative depth or attempts: {r}")
                if not r.host or "\n" in r.host:
                    raise ValueError(f"bad host {r.host!r} for {r.url}")
                packed = pack_url(r.url, r.host)
                # A sitemap's tag goes before depth and attempts (finish.lua reads those
                # two from the end): pages, nearly all of the queue, pay nothing for it.
                fields = [packed, r.depth, r.attempts] if r.sitemap is None else [
                    packed, r.sitemap, r.depth, r.attempts]  # fmt: skip
                entry = json.dumps(fields, separators=(",", ":"))
                args += (r.host, str(r.depth), entry)
        return args

    def add(self, requests: Sequence[FrontierRequest]) -> int:
        """Queue the requests whose fingerprint was never seen; return how many were new.

        One Lua call (one round trip) per :data:`MAX_BATCH` requests. Dedupe is exact on
        the 8-byte fingerprint, within the batch too; a new request goes to the back of
        its host's queue, behind the requests of its depth and lower.
        """
        new = 0
        for start in range(0, len(requests), MAX_BATCH):
            args = self._add_args(requests[start : start + MAX_BATCH], queue=True)
            with self._redis("add"):
                new += int(self._add_script(args=args))
        return new

    def mark_seen(self, fingerprints: Sequence[bytes]) -> int:
        """Put fingerprints in the dupefilter without queuing anything (URLs known from an
        earlier crawl, or not to be crawled); return how many were new."""
        new = 0
        for start in range(0, len(fingerprints), MAX_BATCH):
            c = self.config
            args = [c.prefix, str(c.seen_bucket_bits), repr(self._now()),
                    str(c.max_inflight_per_host), "0"]  # fmt: skip
            for fp in fingerprints[start : start + MAX_BATCH]:
                args += self._seen_slot(fp)
            with self._redis("mark_seen"):
                new += int(self._add_script(args=args))
        return new

    # ------------------------------------------------------------------ leasing

    def lease(self, worker: str, max_count: int = 1) -> tuple[list[Lease], float | None]:
        """Lease up to ``max_count`` ready requests to ``worker`` (one round trip).

        Returns the leases and the earliest time (clock units) at which a call may lease
        more: a time <= now when more are ready already (``max_count`` was reached), the
        time the next host's delay ends, ``now`` + a short poll interval when every host
        with queued work has all its in-flight slots taken (one frees at an ack,
        :meth:`fetched`, a release or an expiry), ``None`` when nothing is queued.
        """
        if not worker or "\n" in worker:
            raise ValueError(f"bad worker id {worker!r}")
        if max_count < 1:
            return [], None
        c = self.config
        now = self._now()
        args = [c.prefix, repr(now), worker, str(max_count), repr(c.lease_seconds),
                repr(c.default_delay), str(c.max_inflight_per_host)]  # fmt: skip
        with self._redis("lease"):
            reply = self._lease_script(args=args)
        count, nxt = int(reply[0]), _text(reply[1])
        leases = []
        for i in range(2, 2 + 3 * count, 3):
            host = _text(reply[i + 1])
            packed, *tag, depth, attempts = json.loads(reply[i + 2])
            url = unpack_url(packed, host)
            sitemap = str(tag[0]) if tag else None
            request = FrontierRequest(url, host, url_fingerprint(url), depth, attempts, sitemap)
            leases.append(Lease(_text(reply[i]), request, worker))
        if nxt == "":
            return leases, None
        if nxt == "blocked":
            return leases, now + min(max(c.default_delay, 0.05), 1.0)
        return leases, float(nxt)

    def _finish(
        self,
        mode: str,
        lease_ids: Sequence[str],
        reason: str = "",
        not_before: float | None = None,
    ) -> tuple[int, int]:
        c = self.config
        held = "" if not_before is None else repr(float(not_before))
        args = [c.prefix, mode, repr(self._now()), str(c.max_inflight_per_host),
                str(c.max_attempts), reason, str(EXPIRE_BATCH), held, *lease_ids]  # fmt: skip
        with self._redis(mode):
            done, dead = self._finish_script(args=args)
        return int(done), int(dead)

    def ack(self, lease_ids: Sequence[str]) -> int:
        """The requests are done: forget their leases and free their hosts' in-flight
        slots (unless :meth:`fetched` did). Returns how many leases were still held (an
        expired one is not)."""
        if not lease_ids:
            return 0
        return self._finish("ack", lease_ids)[0]

    def fetched(self, lease_ids: Sequence[str]) -> int:
        """The downloads are over: free their hosts' in-flight slots now, keep the leases
        until :meth:`ack` (rows committed) or :meth:`release`. Without it a slot stays
        taken until the ack. Returns how many slots were freed (once per lease)."""
        if not lease_ids:
            return 0
        return self._finish("fetched", lease_ids)[0]

    def release(
        self,
        lease_ids: Sequence[str],
        *,
        failed: bool,
        reason: str | None = None,
        not_before: float | None = None,
    ) -> tuple[int, int]:
        """Give leases back: each request goes to the front of its host's queue for its
        depth. ``failed`` counts an attempt; the attempt that reaches ``max_attempts``
        sends the request to the dead letters with ``reason`` instead. ``not_before``
        (clock units) holds the hosts of the requeued requests back until then, for the
        whole fleet (a host whose robots.txt is unreachable).
        Returns (requeued, dead_lettered)."""
        if not lease_ids:
            return 0, 0
        mode = "fail" if failed else "release"
        return self._finish(mode, lease_ids, _one_line(reason or "failed"), not_before)

    def renew(self, lease_ids: Sequence[str]) -> int:
        """Push the deadline of leases still held to now + ``lease_seconds`` (for work
        that legitimately takes longer, e.g. rows waiting for a file rotation)."""
        if not lease_ids:
            return 0
        deadline = self._now() + self.config.lease_seconds
        with self._redis("renew"):
            changed = self.client.zadd(
                self._keys["deadlines"], dict.fromkeys(lease_ids, deadline), xx=True, ch=True
            )
        return int(changed or 0)

    def requeue_expired(self) -> tuple[int, int]:
        """Requeue (as a failed attempt) up to 1,000 leases past their deadline, whoever
        holds them; the reason is ``lease expired (worker W)``.
        Returns (requeued, dead_lettered)."""
        return self._finish("expire", ())

    def claim_send(self, host: str, delay: float = 0.0) -> float:
        """Claim the next send to ``host`` for the fleet, just before sending a leased
        request: 0.0 means send now (the send time is recorded), a positive value is the
        number of seconds to wait before claiming again. Hosts without a delay always
        get 0.0. Leases are spaced by the delay already; this keeps *arrivals* spaced
        when one request's lease-to-send time is longer than the next one's.

        The host's delay is the largest of ``default_delay``, the one stored in Redis and
        ``delay``: the caller's own knowledge (a Crawl-delay it has just read, which
        reaches Redis only with its scheduler's next flush)."""
        floor = max(self.config.default_delay, delay)
        args = [self.config.prefix, host, repr(self._now()), repr(floor)]
        with self._redis("claim_send"):
            return max(0.0, float(self._send_script(args=args)))

    def set_host_delay(self, host: str, delay: float) -> None:
        """Set a host's delay for the whole fleet (robots.txt Crawl-delay); the effective
        delay is the larger of this and ``default_delay``."""
        with self._redis("set_host_delay"):
            if delay > self.config.default_delay:
                self.client.hset(self._keys["delay"], host, repr(float(delay)))
            else:
                self.client.hdel(self._keys["delay"], host)

    # ------------------------------------------------------------------ robots.txt

    def _robots_key(self, netloc: str, lock: bool = False) -> str:
        if not netloc or any(c in netloc for c in "\n\r "):
            raise ValueError(f"bad robots.txt host {netloc!r}")
        return f"{self.config.prefix}:{'robots_lock' if lock else 'robots'}:{netloc}"

    def robots_answer(self, netloc: str) -> RobotsAnswer | None:
        """The robots.txt answer a worker stored for ``netloc`` (``scheme://`` left out:
        the key is the URL's netloc), or ``None`` (none, expired or unreadable)."""
        with self._redis("robots_answer"):
            raw = self.client.get(self._robots_key(netloc))
        return None if raw is None else decode_answer(raw)

    def claim_robots_fetch(self, netloc: str, seconds: float) -> bool:
        """Claim the fetch of ``netloc``'s robots.txt for ``seconds`` (SET NX): ``True``
        means this worker fetches it and stores the answer; the others wait for it. A
        claim that is not followed by :meth:`store_robots_answer` lapses after ``seconds``
        (a worker that died mid-fetch)."""
        ms = max(1, int(seconds * 1000))
        with self._redis("claim_robots_fetch"):
            return bool(self.client.set(self._robots_key(netloc, lock=True), "1", nx=True, px=ms))

    def store_robots_answer(self, netloc: str, answer: RobotsAnswer, ttl: float) -> None:
        """Store ``netloc``'s robots.txt answer for ``ttl`` seconds and end the fetch claim,
        in one transaction: a worker that claims after it finds the answer.

        An unreachable answer also enters ``P:robots_down`` (scored by when its record
        expires), for ``linkcrawl frontier status``; any other answer takes the host out.
        Entries of records that expired are pruned here."""
        now = self._now()
        down = self._keys["robots_down"]
        pipe = self.client.pipeline(transaction=True)
        pipe.set(self._robots_key(netloc), encode_answer(answer), px=max(1, int(ttl * 1000)))
        pipe.delete(self._robots_key(netloc, lock=True))
        if answer.kind == "unreachable":
            pipe.zadd(down, {netloc: now + ttl})
        else:
            pipe.zrem(down, netloc)
        pipe.zremrangebyscore(down, "-inf", now)
        with self._redis("store_robots_answer"):
            pipe.execute()

    def robots_down(self, top_n: int = 10) -> tuple[int, list[dict[str, Any]]]:
        """Hosts whose robots.txt is unreachable now (5xx, 429, network errors: their pages
        wait): how many, and up to ``top_n`` of them with ``since``, ``status``, ``reason``
        and ``retry`` (when robots.txt is asked again, if known)."""
        now = self._now()
        down = self._keys["robots_down"]
        with self._redis("robots_down"):
            total = int(self.client.zcount(down, now, "+inf"))
            found: list[bytes] = self.client.zrangebyscore(down, now, "+inf", 0, top_n)  # type: ignore[assignment]
            names = [_text(h) for h in found]
            raw = self.client.mget([self._robots_key(h) for h in names]) if names else []
        hosts = []
        for name, record in zip(names, raw, strict=True):
            answer = None if record is None else decode_answer(record)
            if answer is None or answer.kind != "unreachable":
                continue  # answered meanwhile
            hosts.append({"host": name, "since": answer.since, "status": answer.status or None,
                          "reason": answer.reason, "asked": answer.time})  # fmt: skip
        return total, hosts

    # ------------------------------------------------------------------ workers

    def heartbeat(self, worker: str, info: dict[str, Any], ttl: float) -> None:
        """Record that ``worker`` is alive (for ``ttl`` seconds), with what it reports."""
        record = json.dumps({"info": info, "time": self._now(), "ttl": ttl}, default=str)
        with self._redis("heartbeat"):
            self.client.hset(self._keys["workers"], worker, record)

    def workers(self) -> dict[str, dict[str, Any]]:
        """Live workers (heartbeat within its ttl): their info plus ``last_seen`` and
        ``age_seconds``."""
        with self._redis("workers"):
            raw = self.client.hgetall(self._keys["workers"])
        return self._live_workers(raw)

    def _live_workers(self, raw: dict[Any, Any]) -> dict[str, dict[str, Any]]:
        now = self._now()
        live = {}
        for name, value in raw.items():
            record = json.loads(value)
            age = now - float(record["time"])
            if age <= float(record["ttl"]):
                info = dict(record.get("info") or {})
                info.update(last_seen=record["time"], age_seconds=round(age, 3))
                live[_text(name)] = info
        return live

    # ------------------------------------------------------------------ reporting

    def counts(self) -> dict[str, int]:
        """queued, inflight, seen, dead_letters, hosts_queued (fleet-wide)."""
        pipe = self.client.pipeline(transaction=False)
        pipe.hmget(self._keys["counts"], ["queued", "inflight", "seen", "dead"])
        pipe.zcard(self._keys["backlog"])
        with self._redis("counts"):
            (queued, inflight, seen, dead), hosts = pipe.execute()
        return {
            "queued": _int(queued),
            "inflight": _int(inflight),
            "seen": _int(seen),
            "dead_letters": _int(dead),
            "hosts_queued": int(hosts),
        }

    def is_idle(self) -> bool:
        """Nothing queued and nothing in flight, fleet-wide."""
        with self._redis("is_idle"):
            queued, inflight = self.client.hmget(self._keys["counts"], ["queued", "inflight"])
        return _int(queued) <= 0 and _int(inflight) <= 0

    def status(self, top_n: int = 10) -> dict[str, Any]:
        """Everything ``linkcrawl frontier status`` shows, in three round trips.

        ``counts`` (as :meth:`counts`); ``seen_buckets``: the crawl's bucket bits, the mean
        fingerprints per bucket (``load``) and Redis's ``set-max-intset-entries``
        (``limit``, ``None`` when CONFIG is not allowed), ``over_limit`` when the mean load
        passes 80% of it; ``top_hosts``: the ``top_n`` largest backlogs with their host
        slots taken (``inflight``), ``delay`` (``None``: the workers' default) and
        ``next_release`` time (``None`` or past: now); ``dead_letters``: the 10 newest;
        ``workers``: live workers with their in-flight lease counts.
        """
        k = self._keys
        pipe = self.client.pipeline(transaction=False)
        pipe.hmget(k["counts"], ["queued", "inflight", "seen", "dead"])
        pipe.zcard(k["backlog"])
        pipe.zrevrange(k["backlog"], 0, max(top_n, 1) - 1, withscores=True)
        pipe.lrange(k["dead"], 0, 9)
        pipe.hgetall(k["workers"])
        pipe.hvals(k["leases"])
        pipe.hget(k["meta"], "seen_bucket_bits")
        with self._redis("status"):
            (queued, inflight, seen, dead), hosts, top, dead_raw, workers_raw, leases, bits = (
                pipe.execute()
            )
            top = top[:top_n]
            names = [_text(h) for h, _ in top]
            details: list[Any] = [[], [], []]
            if names:
                pipe = self.client.pipeline(transaction=False)
                pipe.hmget(k["hif"], names)
                pipe.hmget(k["delay"], names)
                pipe.zmscore(k["next"], names)
                details = pipe.execute()
            limit: int | None = None
            try:
                value = next(iter(self.client.config_get("set-max-intset-entries").values()), None)
                limit = int(value) if value else None
            except (ResponseError, ValueError):
                limit = None
        counts = {
            "queued": _int(queued),
            "inflight": _int(inflight),
            "seen": _int(seen),
            "dead_letters": _int(dead),
            "hosts_queued": int(hosts),
        }
        crawl_bits = _int(bits) or self.config.seen_bucket_bits
        load = counts["seen"] / (1 << crawl_bits)
        top_hosts = [
            {
                "host": name,
                "queued": int(score),
                "inflight": _int(details[0][i]),
                "delay": float(details[1][i]) if details[1][i] else None,
                "next_release": details[2][i],
            }
            for i, (name, (_, score)) in enumerate(zip(names, top, strict=True))
        ]
        workers = self._live_workers(workers_raw)
        for record in leases:  # "1" or "0", host, "\n", worker, "\n", entry
            owner = _text(record).split("\n", 2)[1]
            if owner in workers:
                workers[owner]["leases"] = workers[owner].get("leases", 0) + 1
        robots_total, robots_hosts = self.robots_down(top_n)
        return {
            "time": self._now(),
            "counts": counts,
            "robots_unreachable": {"hosts": robots_total, "sample": robots_hosts},
            "seen_buckets": {
                "bits": crawl_bits,
                "buckets": 1 << crawl_bits,
                "load": round(load, 2),
                "limit": limit,
                "over_limit": limit is not None and load > 0.8 * limit,
            },
            "top_hosts": top_hosts,
            "dead_letters": [self._dead_record(r) for r in dead_raw],
            "workers": workers,
        }

    @staticmethod
    def _dead_record(raw: bytes | str) -> dict[str, Any]:
        entry, reason, worker, host, when = json.loads(raw)
        if isinstance(entry, list):
            packed, *_, depth, attempts = entry
            url = unpack_url(packed, host)
        else:  # an unreadable queue entry, kept as a string
            url, depth, attempts = entry, None, None
        return {"url": url, "host": host, "depth": depth, "attempts": attempts,
                "reason": reason, "worker": worker, "time": when}  # fmt: skip

    def dead_letters(self, limit: int = 100) -> list[dict[str, Any]]:
        """The newest dead letters: url, host, depth, attempts, reason, worker, time."""
        if limit < 1:
            return []
        with self._redis("dead_letters"):
            raw = self.client.lrange(self._keys["dead"], 0, limit - 1)
        return [self._dead_record(r) for r in raw]

    def reset(self) -> int:
        """Delete every key of this crawl (SCAN + UNLINK on ``prefix:*``); return how many.

        Other crawls' keys and keys outside the prefix are untouched. Stop the workers
        first: a worker still running would write its in-flight state back.
        """
        pattern = _glob_escape(self.config.prefix) + ":*"
        deleted = 0
        with self._redis("reset"):
            batch: list[Any] = []
            for key in self.client.scan_iter(match=pattern, count=1000):
                batch.append(key)
                if len(batch) >= 1000:
                    deleted += self.client.unlink(*batch)
                    batch = []
            if batch:
                deleted += self.client.unlink(*batch)
        return deleted
