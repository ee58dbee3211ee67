"""The Scrapy scheduler of linkcrawl: Scrapy's own (embedded default) or the Redis frontier.

``SCHEDULER = "linkcrawl.frontier.scheduler.FrontierScheduler"`` is always set; without
``LINKCRAWL_REDIS_URL`` it hands back Scrapy's default scheduler with one addition
(:class:`PostponingScheduler`: a request handed back with a "not before" time, because
its host's robots.txt is unreachable, is held until then), so the embedded crawl is
otherwise exactly Scrapy's. With it, every worker shares one frontier
(``linkcrawl.frontier.store``):

- discovered requests are buffered and added in one Redis call per flush (a few per page
  at most, not one per link), deduplicated there on the canonical URL's node id;
- ``next_request`` leases as many ready requests as the engine has free download slots
  (a host is released no faster than its delay, fleet-wide); the engine sends them all in
  the same pass, so nothing leased waits in this process;
- a lease is acknowledged when the Parquet pipeline reports the rows of its response
  committed (``linkcrawl.signals.rows_committed``), so a SIGKILL means a re-crawl after the
  lease expires, never a loss;
- a leased request handed back with a "not before" time (its host's robots.txt is
  unreachable) is released to the frontier, which holds the host back until then for
  every worker;
- Redis outages are logged once, retried with backoff, and buffered work is kept.
"""

from __future__ import annotations

import asyncio
import heapq
import itertools
import logging
import time
from collections import deque
from typing import TYPE_CHECKING, Any

from scrapy import Request, signals
from scrapy.core.scheduler import BaseScheduler, Scheduler
from scrapy.utils.asyncio import create_looping_call

from linkcrawl import signals as lc_signals
from linkcrawl.fingerprint import URL_META_KEY
from linkcrawl.frontier.meta import (
    LEASE_META_KEY,
    NOT_BEFORE_META_KEY,
    SITEMAP_META_KEY,
    redis_url,
)
from linkcrawl.frontier.store import (
    Frontier,
    FrontierConfig,
    FrontierError,
    FrontierRequest,
    RedisUnavailable,
)
from linkcrawl.policy import PolicyError, check_crawl_id, stop_on_user_error
from linkcrawl.urls import URLError, canonicalize, fingerprint, url_host
from linkcrawl.worker import worker_id as resolve_worker_id

if TYPE_CHECKING:
    from scrapy import Spider
    from scrapy.crawler import Crawler
    from scrapy.statscollectors import StatsCollector
    from twisted.internet.defer import Deferred

logger = logging.getLogger(__name__)

_MAX_BACKOFF = 10.0
# At most this many leases per round trip (the engine's free download slots, if fewer).
_MAX_LEASE_BATCH = 16


def redis_client(url: str) -> Any:
    """A redis-py client for ``redis://`` / ``rediss://`` URLs (password in the URL or in
    the environment's URL only: never in settings files)."""
    import redis
    from redis.backoff import ExponentialBackoff
    from redis.retry import Retry

    try:
        # Short timeouts and one quick retry: the reactor thread waits on every call, and
        # the scheduler does its own backoff during an outage.
        return redis.Redis.from_url(
            url,
            socket_connect_timeout=1,
            socket_timeout=5,
            health_check_interval=30,
            retry=Retry(ExponentialBackoff(cap=0.25), 1),
        )
    except ValueError as e:
        raise PolicyError(f"LINKCRAWL_REDIS_URL is not a Redis URL: {e}") from None


def polite_delay(delay: float, margin: float) -> float:
    """The fleet-wide spacing of a host's leases: its delay plus a margin for the time
    between a lease and its request reaching the site (a robots.txt fetch, event-loop
    latency), so that arrivals, not only leases, keep the delay. No delay, no margin."""
    return delay + margin if delay > 0 else 0.0


def frontier_config(settings: Any) -> FrontierConfig:
    return FrontierConfig(
        prefix=f"linkcrawl:{check_crawl_id(str(settings['LINKCRAWL_CRAWL_ID']))}",
        seen_bucket_bits=settings.getint("FRONTIER_SEEN_BUCKET_BITS"),
        lease_seconds=settings.getfloat("FRONTIER_LEASE_SECONDS"),
        max_attempts=settings.getint("FRONTIER_MAX_ATTEMPTS"),
        default_delay=polite_delay(
            settings.getfloat("DOWNLOAD_DELAY"), settings.getfloat("FRONTIER_DELAY_MARGIN")
        ),
        max_inflight_per_host=settings.getint("FRONTIER_MAX_INFLIGHT_PER_HOST"),
    )


def check_frontier(frontier: Frontier) -> None:
    """Refuse to start on a user error (wrong password, a crawl sized with other bucket
    bits); a Redis that is merely down is waited for like any later outage."""
    try:
        status = frontier.status(top_n=1)
    except RedisUnavailable as e:
        logger.error("Redis frontier unavailable at start (%s); will keep trying", e)
        return
    except FrontierError as e:
        stop_on_user_error(e)
    bits = (status.get("seen_buckets") or {}).get("bits")
    if bits is not None and int(bits) != frontier.config.seen_bucket_bits:
        stop_on_user_error(
            PolicyError(
                f"frontier {frontier.config.prefix} uses seen_bucket_bits={bits}; "
                f"set FRONTIER_SEEN_BUCKET_BITS={bits} (this worker has "
                f"{frontier.config.seen_bucket_bits})"
            )
        )


def not_before(request: Request) -> float | None:
    """The ``time.time()`` before which a request handed back to the scheduler must not
    be sent (``NOT_BEFORE_META_KEY``), or ``None``."""
    value = request.meta.get(NOT_BEFORE_META_KEY)
    return None if value is None else float(value)


class PostponingScheduler(Scheduler):
    """Scrapy's scheduler, holding the requests handed back with a "not before" time
    (``NOT_BEFORE_META_KEY``: their host's robots.txt is unreachable) until that time.

    They wait here, not in a downloader middleware, because a request awaiting there
    keeps one of the engine's ``CONCURRENT_REQUESTS`` slots: a few hosts that are down
    would stall the crawl of every other host. A held request counts as pending, so the
    crawl does not end while a host may still recover; at close they join Scrapy's
    queues (kept on disk with ``JOBDIR``).

    Stats: ``scheduler/postponed``.
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._held: list[tuple[float, int, Request]] = []
        self._order = itertools.count()
        self._wake: asyncio.TimerHandle | None = None
        self._wake_at = 0.0

    def enqueue_request(self, request: Request) -> bool:
        until = not_before(request)
        if until is None:
            return bool(super().enqueue_request(request))
        del request.meta[NOT_BEFORE_META_KEY]
        heapq.heappush(self._held, (until, next(self._order), request))
        if self.stats is not None:
            self.stats.inc_value("scheduler/postponed")
        self._wake_engine_at(until)
        return True

    def _wake_engine_at(self, when: float) -> None:
        # The engine asks for requests after each download and on its 5 s heartbeat;
        # wake it when the first held request is due, so a host resumes on time.
        if self._wake is not None and self._wake_at <= when:
            return
        if self._wake is not None:
            self._wake.cancel()
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            return  # no loop (a test without a reactor): the heartbeat will do
        self._wake_at = when
        self._wake = loop.call_later(max(0.0, when - time.time()), self._wake_engine)

    def _wake_engine(self) -> None:
        self._wake = None
        slot = getattr(self.crawler.engine, "_slot", None) if self.crawler else None
        nextcall = getattr(slot, "nextcall", None)
        if nextcall is not None:
            nextcall.schedule()
        if self._held:
            # The first may still be here, due, if the downloader is full: look again in
            # a second (its next download's end asks anyway), not in a busy loop.
            self._wake_engine_at(max(self._held[0][0], time.time() + 1.0))

    def next_request(self) -> Request | None:
        if self._held and self._held[0][0] <= time.time():
            return heapq.heappop(self._held)[2]
        request: Request | None = super().next_request()
        return request

    def has_pending_requests(self) -> bool:
        return bool(self._held) or bool(super().has_pending_requests())

    def __len__(self) -> int:
        return len(self._held) + super().__len__()

    def close(self, reason: str) -> Deferred[None] | None:
        if self._wake is not None:
            self._wake.cancel()
            self._wake = None
        while self._held:
            request = heapq.heappop(self._held)[2]
            request.dont_filter = True  # already seen by the dupefilter
            super().enqueue_request(request)
        return super().close(reason)


class FrontierScheduler(BaseScheduler):
    """Scrapy's scheduler, or the Redis frontier when ``LINKCRAWL_REDIS_URL`` is set.

    Settings: ``LINKCRAWL_REDIS_URL``, ``LINKCRAWL_CRAWL_ID``, ``LINKCRAWL_WORKER_ID``,
    ``FRONTIER_*``, ``DOWNLOAD_DELAY`` (the fleet-wide per-host delay).
    Stats: ``frontier/added``, ``frontier/duplicates``, ``frontier/leased``,
    ``frontier/acked``, ``frontier/released``, ``frontier/retried``,
    ``frontier/dead_letters``, ``frontier/requeued_expired``, ``frontier/redis_errors``,
    ``frontier/postponed``, ``frontier/requeued_unstored``.
    """

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> Any:  # Self or Scrapy's Scheduler
        url = redis_url(crawler.settings)
        if not url:
            return PostponingScheduler.from_crawler(crawler)
        s = crawler.settings
        try:
            config = frontier_config(s)
            client = redis_client(url)
        except (PolicyError, ValueError) as e:
            stop_on_user_error(e)
        frontier = Frontier(client, config)
        check_frontier(frontier)
        o = cls(
            frontier,
            worker=resolve_worker_id(s.get("LINKCRAWL_WORKER_ID")),
            stats=crawler.stats,
            idle_close_seconds=s.getfloat("FRONTIER_IDLE_CLOSE_SECONDS"),
            service_mode=s.getbool("FRONTIER_SERVICE_MODE"),
            flush_interval=s.getfloat("FRONTIER_FLUSH_INTERVAL"),
            heartbeat_interval=s.getfloat("FRONTIER_HEARTBEAT_INTERVAL"),
            strip_params=tuple(s.getlist("LINKCRAWL_STRIP_QUERY_PARAMS")),
            delay_margin=s.getfloat("FRONTIER_DELAY_MARGIN"),
        )
        o.crawler = crawler
        crawler.signals.connect(o.rows_committed, signal=lc_signals.rows_committed)
        crawler.signals.connect(o.lease_finished, signal=lc_signals.lease_finished)
        crawler.signals.connect(o.lease_failed, signal=lc_signals.lease_failed)
        crawler.signals.connect(o.rows_lost, signal=lc_signals.rows_lost)
        crawler.signals.connect(o.host_delay, signal=lc_signals.host_delay)
        crawler.signals.connect(o.left_downloader, signal=signals.request_left_downloader)
        return o

    def __init__(
        self,
        frontier: Frontier,
        *,
        worker: str,
        stats: StatsCollector | None,
        idle_close_seconds: float,
        service_mode: bool,
        flush_interval: float,
        heartbeat_interval: float,
        strip_params: tuple[str, ...],
        delay_margin: float = 0.1,
    ) -> None:
        self.frontier = frontier
        self.delay_margin = delay_margin
        self.worker = worker
        self.stats = stats
        self.idle_close_seconds = idle_close_seconds
        self.service_mode = service_mode
        self.flush_interval = flush_interval
        self.heartbeat_interval = heartbeat_interval
        self.strip_params = strip_params
        self.crawler: Crawler | None = None
        self.spider: Spider | None = None
        # Work that must reach Redis; kept across outages.
        self._to_add: list[FrontierRequest] = []
        self._to_ack: list[str] = []
        self._to_release: list[tuple[str, str]] = []
        self._to_requeue: list[str] = []  # leases whose rows were lost: fetch again
        self._to_postpone: list[tuple[str, float]] = []  # (lease id, not before)
        self._fetched: list[str] = []
        self._host_delays: dict[str, float] = {}
        # Leases taken but not yet handed to the engine (normally empty).
        self._ready: deque[Request] = deque()
        self._outstanding: set[str] = set()  # leases this worker holds
        self._next_lease_poll = 0.0
        self._idle_since: float | None = None
        self._idle_checked = 0.0
        self._remote_idle = False
        self._redis_down_since: float | None = None
        self._backoff = 0.5
        self._retry_at = 0.0
        self._last_heartbeat = 0.0
        self._last_commit_request = 0.0
        self._pages = 0
        self._started = time.monotonic()
        self._loop: Any = None

    # ------------------------------------------------------------------ Redis access

    def _inc(self, key: str, count: int = 1) -> None:
        if self.stats is not None and count:
            self.stats.inc_value(key, count)

    def _redis_ok(self) -> bool:
        return time.monotonic() >= self._retry_at

    def _redis_failed(self, error: FrontierError) -> None:
        now = time.monotonic()
        self._inc("frontier/redis_errors")
        if self._redis_down_since is None:
            self._redis_down_since = now
            logger.error("Redis frontier unavailable (%s); retrying with backoff", error)
        self._retry_at = now + self._backoff
        self._backoff = min(self._backoff * 2, _MAX_BACKOFF)

    def _redis_back(self) -> None:
        if self._redis_down_since is not None:
            logger.warning(
                "Redis frontier reachable again after %.1fs; resuming",
                time.monotonic() - self._redis_down_since,
            )
            self._redis_down_since = None
        self._backoff = 0.5

    def flush(self) -> None:
        """Send buffered adds, acks, releases and delays; keep them on failure."""
        if not self._redis_ok():
            return
        if not (
            self._host_delays
            or self._to_add
            or self._to_ack
            or self._to_release
            or self._to_requeue
            or self._fetched
            or self._to_postpone
        ):
            return
        try:
            if self._host_delays:
                for host, delay in list(self._host_delays.items()):
                    self.frontier.set_host_delay(host, delay)
                    del self._host_delays[host]
            if self._fetched:
                fetched = self._fetched
                self.frontier.fetched(fetched)
                self._fetched = self._fetched[len(fetched) :]
            if self._to_add:
                batch = self._to_add
                new = self.frontier.add(batch)
                self._to_add = self._to_add[len(batch) :]
                self._inc("frontier/added", new)
                self._inc("frontier/duplicates", len(batch) - new)
            if self._to_ack:
                acks = self._to_ack
                self._inc("frontier/acked", self.frontier.ack(acks))
                self._to_ack = self._to_ack[len(acks) :]
            if self._to_release:
                releases = self._to_release
                for lease_id, reason in releases:
                    requeued, dead = self.frontier.release([lease_id], failed=True, reason=reason)
                    self._inc("frontier/retried", requeued)
                    self._inc("frontier/dead_letters", dead)
                self._to_release = self._to_release[len(releases) :]
            if self._to_requeue:
                lost = self._to_requeue
                requeued, _ = self.frontier.release(lost, failed=False)
                self._inc("frontier/requeued_unstored", requeued)
                self._to_requeue = self._to_requeue[len(lost) :]
            if self._to_postpone:
                postponed = self._to_postpone
                by_time: dict[float, list[str]] = {}
                for lease_id, until in postponed:
                    by_time.setdefault(until, []).append(lease_id)
                for until, ids in by_time.items():
                    requeued, _ = self.frontier.release(ids, failed=False, not_before=until)
                    self._inc("frontier/postponed", requeued)
                self._to_postpone = self._to_postpone[len(postponed) :]
        except FrontierError as e:
            self._redis_failed(e)
            return
        self._redis_back()

    # ------------------------------------------------------------------ lifecycle

    def open(self, spider: Spider) -> None:
        self.spider = spider
        if self.crawler is not None and self.crawler.engine is not None:
            # The frontier spaces a host's leases fleet-wide; a local delay on top (with
            # Scrapy's +-50% jitter) would only hold leased requests back and bunch them
            # up against other workers' fetches. Scrapy has no public setter for this.
            downloader = self.crawler.engine.downloader
            downloader._delay = 0.0
            downloader._jitter = 0.0
        self._loop = create_looping_call(self._tick)
        self._loop.start(self.flush_interval, now=True)
        logger.info("Redis frontier %s as worker %s", self.frontier.config.prefix, self.worker)

    def _tick(self) -> None:
        self.flush()
        now = time.monotonic()
        if now - self._last_heartbeat >= self.heartbeat_interval and self._redis_ok():
            self._last_heartbeat = now
            elapsed_min = max((now - self._started) / 60, 1e-9)
            info = {"pages": self._pages, "pages_per_min": round(self._pages / elapsed_min, 1),
                    "inflight": len(self._outstanding)}  # fmt: skip
            try:
                self.frontier.heartbeat(self.worker, info, ttl=3 * self.heartbeat_interval)
                requeued, dead = self.frontier.requeue_expired()
                self._inc("frontier/requeued_expired", requeued)
                self._inc("frontier/dead_letters", dead)
            except FrontierError as e:
                self._redis_failed(e)
        engine = self.crawler.engine if self.crawler is not None else None
        # Nothing downloading but leases held: their rows sit in the pipeline's buffers.
        # Commit them now, so the fleet is not kept waiting for the next file rotation.
        if (
            engine is not None
            and self._outstanding
            and not self._ready
            and not engine.downloader.active
            and now - self._last_commit_request >= 1.0
        ):
            self._last_commit_request = now
            engine.crawler.signals.send_catch_log(signal=lc_signals.commit_requested)
        # Leases may have become ready while the engine sleeps on its 5 s heartbeat: wake
        # it (Scrapy has no public hook for a scheduler to say "I have work now").
        if now >= self._next_lease_poll and self.crawler is not None:
            slot = getattr(self.crawler.engine, "_slot", None)
            nextcall = getattr(slot, "nextcall", None)
            if nextcall is not None:
                nextcall.schedule()

    def close(self, reason: str) -> None:
        if self._loop is not None and self._loop.running:
            self._loop.stop()
        # Leases handed out but never started go back to the front of their queues now;
        # anything still unacknowledged is recovered by lease expiry, never lost.
        unstarted = [r.meta[LEASE_META_KEY] for r in self._ready]
        self._ready.clear()
        for attempt in range(3):
            self.flush()
            try:
                if unstarted:
                    self.frontier.release(unstarted, failed=False)
                    self._inc("frontier/released", len(unstarted))
                    unstarted = []
                if not (self._to_add or self._to_ack or self._to_release or self._to_requeue
                        or self._to_postpone):  # fmt: skip
                    break
            except FrontierError as e:
                self._redis_failed(e)
            time.sleep(min(0.5 * (attempt + 1), 2))
        if (self._to_add or self._to_ack or self._to_release or self._to_requeue
                or self._to_postpone or unstarted):  # fmt: skip
            logger.error(
                "Redis frontier unreachable at close: %d links not added (their pages' "
                "leases will expire and be re-crawled), %d acks pending",
                len(self._to_add),
                len(self._to_ack),
            )
        logger.info("Redis frontier worker %s closed (%s)", self.worker, reason)

    # ------------------------------------------------------------------ signals

    def rows_committed(self, lease_ids: list[str]) -> None:
        self._to_ack.extend(lease_ids)
        self._outstanding.difference_update(lease_ids)

    def lease_finished(self, lease_id: str) -> None:
        self._to_ack.append(lease_id)
        self._outstanding.discard(lease_id)

    def lease_failed(self, lease_id: str, reason: str) -> None:
        self._to_release.append((lease_id, reason))
        self._outstanding.discard(lease_id)

    def rows_lost(self, lease_ids: list[str]) -> None:
        self._to_requeue.extend(lease_ids)
        self._outstanding.difference_update(lease_ids)

    def host_delay(self, host: str, delay: float) -> None:
        delay = polite_delay(delay, self.delay_margin)
        self._host_delays[host] = max(delay, self._host_delays.get(host, 0.0))

    def left_downloader(self, request: Request, **_: Any) -> None:
        # The fetch is over: free the host's fleet-wide fetch slot now. The lease itself
        # lives on until the rows are committed (or the fetch is retried).
        lease_id = request.meta.get(LEASE_META_KEY)
        if lease_id is not None:
            self._pages += 1
            self._fetched.append(lease_id)
            # A host that was blocked on its in-flight cap may be ready again: the next
            # next_request frees the slot and asks at once instead of at the next poll.
            self._next_lease_poll = 0.0

    # ------------------------------------------------------------------ the scheduler

    def enqueue_request(self, request: Request) -> bool:
        lease_id = request.meta.get(LEASE_META_KEY)
        if lease_id is not None:
            until = not_before(request)
            if until is not None:
                # Its host's robots.txt is unreachable: back to the frontier, which holds
                # the host until then for the whole fleet (no attempt counted).
                self._to_postpone.append((lease_id, until))
                self._outstanding.discard(lease_id)
                return True
            # A leased request coming back (RetryMiddleware, a middleware's reschedule):
            # it is ours already, not a new discovery for the dupefilter.
            self._ready.append(request)
            return True
        url = request.meta.get(URL_META_KEY)
        if url is None:
            try:
                url = canonicalize(request.url, strip_params=self.strip_params)
            except URLError:
                logger.warning("Dropping a request the frontier cannot store: %s", request)
                return False
        self._to_add.append(
            FrontierRequest(
                url=url,
                host=url_host(url),
                fingerprint=fingerprint(url),
                depth=int(request.meta.get("depth", 0)),
                sitemap=request.meta.get(SITEMAP_META_KEY),
            )
        )
        return True

    def next_request(self) -> Request | None:
        if self._ready:
            return self._ready.popleft()
        now = time.monotonic()
        if not self._redis_ok() or self.spider is None:
            return None
        # Our own new discoveries may be the only work there is (a crawl's first pages,
        # a narrow frontier): send them and ask at once rather than at the next poll.
        if now < self._next_lease_poll and not self._to_add:
            return None
        if self._to_add or self._fetched:
            # our own discoveries first, so the frontier can order them; and the hosts'
            # slots our finished fetches hold
            self.flush()
        try:
            leases, next_ready = self.frontier.lease(self.worker, max_count=self._free_slots())
        except FrontierError as e:
            self._redis_failed(e)
            return None
        self._redis_back()
        if not leases:
            wait = 0.5 if next_ready is None else max(0.0, next_ready - time.time())
            self._next_lease_poll = now + min(wait, 0.5)
            return None
        make = getattr(self.spider, "request_for", None)
        for lease in leases:
            req = lease.request
            extra = {} if req.sitemap is None else {"sitemap": req.sitemap}
            if make is not None:
                request = make(
                    req.url, depth=req.depth, lease=(lease.lease_id, req.attempts), **extra
                )
            else:
                request = Request(req.url, meta={"depth": req.depth})
                request.meta[LEASE_META_KEY] = lease.lease_id
                if req.sitemap is not None:
                    request.meta[SITEMAP_META_KEY] = req.sitemap
            self._outstanding.add(lease.lease_id)
            self._ready.append(request)
        self._inc("frontier/leased", len(leases))
        return self._ready.popleft()

    def _free_slots(self) -> int:
        """Requests the engine's downloader takes now: the ones leased in one round trip
        are all sent in the engine's current pass (it calls ``next_request`` until full)."""
        engine = self.crawler.engine if self.crawler is not None else None
        if engine is None:
            return 1
        downloader = engine.downloader
        if not downloader.total_concurrency:
            return _MAX_LEASE_BATCH
        free = downloader.total_concurrency - len(downloader.active)
        return max(1, min(_MAX_LEASE_BATCH, free))

    def has_pending_requests(self) -> bool:
        if self._ready or self._to_add or self._to_release or self._to_postpone:
            return True
        if self.service_mode:
            return True
        now = time.monotonic()
        if now - self._idle_checked >= 1.0 and self._redis_ok():
            self._idle_checked = now
            try:
                self._remote_idle = self.frontier.is_idle()
            except FrontierError as e:
                self._redis_failed(e)
                self._remote_idle = False
        if not self._remote_idle or self._to_ack or self._fetched:
            self._idle_since = None
            return True
        if self._idle_since is None:
            self._idle_since = now
        return now - self._idle_since < self.idle_close_seconds
