"""Downloader middlewares applying linkcrawl's per-host policy.

Scrapy's RobotsTxtMiddleware decides allow/deny but ignores ``Crawl-delay``;
``HostPolicyMiddleware`` applies it to the host's download slot, caps pages per host (a
spider-trap guard) and refuses literal private addresses (a crawler that follows links
from the open web must not be steered at its own network). ``RobotsTxtMiddleware`` reads
a robots.txt fetch's outcome as RFC 9309 does (an unreachable host's requests wait, they
are not dropped) and shares it with the fleet in Redis mode; ``FleetSendSpacingMiddleware``
spaces the sends to a host fleet-wide.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import time
from collections import Counter
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from scrapy import signals
from scrapy.downloadermiddlewares.robotstxt import RobotsTxtMiddleware as BaseRobotsTxtMiddleware
from scrapy.exceptions import IgnoreRequest
from scrapy.http import Request
from scrapy.http.request import NO_CALLBACK
from scrapy.utils.httpobj import urlparse_cached
from scrapy.utils.misc import build_from_crawler

from linkcrawl.frontier.meta import NOT_BEFORE_META_KEY, redis_url
from linkcrawl.robotsfetch import (
    ROBOTS_MAX_REDIRECTS,
    RobotsAnswer,
    answer_for_response,
    continued,
    has_given_up,
    is_fresh,
    redis_ttl,
    retry_at,
    unavailable_answer,
    unreachable_answer,
)
from linkcrawl.signals import host_delay
from linkcrawl.urls import is_private_address

if TYPE_CHECKING:
    from typing import Self

    from scrapy.crawler import Crawler
    from scrapy.robotstxt import RobotParser

logger = logging.getLogger(__name__)


class HostPolicyMiddleware:
    """Crawl-delay, pages-per-host cap and private-address guard.

    Settings: ``LINKCRAWL_MAX_PAGES_PER_HOST``, ``LINKCRAWL_MAX_CRAWL_DELAY``,
    ``LINKCRAWL_BLOCK_PRIVATE_ADDRESSES``, ``LINKCRAWL_BOT_NAME``.
    Stats: ``politeness/crawl_delay_hosts``, ``politeness/host_limit_dropped``,
    ``politeness/private_address_dropped``.
    """

    def __init__(
        self,
        *,
        max_pages_per_host: int,
        max_crawl_delay: float,
        block_private_addresses: bool,
        bot_name: str,
    ) -> None:
        self.max_pages_per_host = max_pages_per_host
        self.max_crawl_delay = max_crawl_delay
        self.block_private_addresses = block_private_addresses
        self.bot_name = bot_name
        self.pages_per_host: Counter[str] = Counter()
        self._limited_hosts: set[str] = set()
        self.crawler: Crawler | None = None
        self.redis_mode = False

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> Self:
        s = crawler.settings
        o = cls(
            max_pages_per_host=s.getint("LINKCRAWL_MAX_PAGES_PER_HOST"),
            max_crawl_delay=s.getfloat("LINKCRAWL_MAX_CRAWL_DELAY"),
            block_private_addresses=s.getbool("LINKCRAWL_BLOCK_PRIVATE_ADDRESSES"),
            bot_name=s["LINKCRAWL_BOT_NAME"],
        )
        o.crawler = crawler
        o.redis_mode = bool(redis_url(s))
        crawler.signals.connect(o.robots_parsed, signal=signals.robots_parsed)
        return o

    def _inc(self, key: str) -> None:
        if self.crawler is not None and self.crawler.stats is not None:
            self.crawler.stats.inc_value(key)

    def process_request(self, request: Request) -> None:
        host = urlparse_cached(request).hostname or ""
        if self.block_private_addresses and is_private_address(host):
            self._inc("politeness/private_address_dropped")
            raise IgnoreRequest(f"private address {host!r} refused")
        if request.meta.get("dont_obey_robotstxt") or request.meta.get("retry_times"):
            return  # robots.txt is not a page; a retry was counted on its first attempt
        if self.max_pages_per_host:
            if self.pages_per_host[host] >= self.max_pages_per_host:
                if host not in self._limited_hosts:
                    self._limited_hosts.add(host)
                    logger.info(
                        "Host %s reached LINKCRAWL_MAX_PAGES_PER_HOST=%d; further pages dropped",
                        host,
                        self.max_pages_per_host,
                    )
                self._inc("politeness/host_limit_dropped")
                raise IgnoreRequest(f"host {host} reached its page limit")
            self.pages_per_host[host] += 1

    def robots_parsed(self, robotparser: RobotParser, request: Request, **_: Any) -> None:
        delay = robotparser.crawl_delay(self.bot_name)
        if not delay or delay <= 0 or self.crawler is None or self.crawler.engine is None:
            return
        delay = min(float(delay), self.max_crawl_delay)
        downloader = self.crawler.engine.downloader
        key = downloader.get_slot_key(request)
        # The Redis frontier, when on, applies it to every worker of the fleet.
        self.crawler.signals.send_catch_log(signal=host_delay, host=key, delay=delay)
        self._inc("politeness/crawl_delay_hosts")
        if self.redis_mode:
            return  # the frontier spaces this host's leases; no local slot delay

        # New slots for this key (after slot GC) start with the delay too; no jitter,
        # since jitter would take us under the delay the site asked for.
        slot_settings = downloader.per_slot_settings.setdefault(key, {})
        slot_settings["delay"] = max(delay, float(slot_settings.get("delay", 0.0)))
        slot_settings["jitter"] = 0.0
        slot = downloader.slots.get(key)
        if slot is not None:
            slot.delay = max(slot.delay, delay)
            slot.jitter = 0.0
        logger.info("Host %s asks for Crawl-delay %.2fs; applied", key, delay)


class RobotsTxtUnreachable(Exception):
    """A request that was never sent: its host's robots.txt has been unreachable (5xx,
    network errors) for ``LINKCRAWL_ROBOTSTXT_GIVE_UP_SECONDS``. The spider records it
    as a fetch error, like a download that failed."""


@dataclass(frozen=True, slots=True)
class _HostRobots:
    """What a worker knows of one host's robots.txt: the answer and, when there was a
    body, its parser."""

    answer: RobotsAnswer
    parser: RobotParser | None


class RobotsTxtMiddleware(BaseRobotsTxtMiddleware):
    """Scrapy's robots.txt middleware with RFC 9309's reading of the fetch's outcome, a
    maximum age, and, in Redis mode, one fetch per host for the whole fleet.

    - **2xx**: the body is the robots.txt (``ROBOTSTXT_PARSER``); ``robots_parsed`` fires
      (Crawl-delay: ``HostPolicyMiddleware``), on every worker that reads it.
    - **4xx**, or more than 5 redirects (RFC 9309 2.3.1.2-3): "unavailable": read as an
      empty robots.txt (everything allowed), whatever the body says.
    - **5xx, network errors** (2.3.1.4): "unreachable": everything disallowed for a while.
      The host's requests are not dropped but handed back to the scheduler with a "not
      before" time (``NOT_BEFORE_META_KEY``; ``linkcrawl.frontier.scheduler``): in Redis
      mode the lease goes back to the frontier, which holds the host for every worker.
      The robots.txt is asked again ``LINKCRAWL_ROBOTSTXT_RETRY_SECONDS`` after each
      failure; once it has failed for ``LINKCRAWL_ROBOTSTXT_GIVE_UP_SECONDS``, the host's
      requests fail with :class:`RobotsTxtUnreachable` (never fetched) until it answers.
    - **Age**: an answer is used for ``LINKCRAWL_ROBOTSTXT_MAX_AGE`` (RFC 9309 2.4).
    - **Redis mode**: the answer (body, status, time; JSON, no pickle) is stored under the
      crawl's prefix for the fleet. A worker that needs it reads it there; if it is not
      there, one worker claims the fetch (SET NX, ``LINKCRAWL_ROBOTSTXT_FETCH_LOCK_SECONDS``)
      and the others poll until it is stored.

    Requests that wait for a host's robots.txt all get its answer when it comes (Scrapy
    2.19 hands ``None``, "allow", to every waiter but the first).

    Settings: ``ROBOTSTXT_*``, ``LINKCRAWL_ROBOTSTXT_MAX_AGE``,
    ``LINKCRAWL_ROBOTSTXT_RETRY_SECONDS``, ``LINKCRAWL_ROBOTSTXT_GIVE_UP_SECONDS``,
    ``LINKCRAWL_ROBOTSTXT_FETCH_LOCK_SECONDS``, ``LINKCRAWL_REDIS_URL``.
    Stats: Scrapy's ``robotstxt/*`` plus ``robotstxt/unavailable_4xx``,
    ``robotstxt/unavailable_redirects``, ``robotstxt/unreachable``,
    ``robotstxt/expired``, ``robotstxt/postponed``, ``robotstxt/gave_up``,
    ``robotstxt/shared`` (answers another worker fetched), ``robotstxt/redis_errors``.
    """

    def __init__(self, crawler: Crawler) -> None:
        super().__init__(crawler)
        s = crawler.settings
        self._max_age = s.getfloat("LINKCRAWL_ROBOTSTXT_MAX_AGE")
        self._retry = s.getfloat("LINKCRAWL_ROBOTSTXT_RETRY_SECONDS")
        self._give_up = s.getfloat("LINKCRAWL_ROBOTSTXT_GIVE_UP_SECONDS")
        self._lock_seconds = s.getfloat("LINKCRAWL_ROBOTSTXT_FETCH_LOCK_SECONDS")
        self._hosts: dict[str, _HostRobots] = {}  # netloc -> its robots.txt, as known here
        self._loading: dict[str, asyncio.Future[_HostRobots]] = {}
        self._shared: Any = None  # the Frontier, in Redis mode
        self._redis_failing = False

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> Self:
        o = cls(crawler)
        url = redis_url(crawler.settings)
        if url:
            from linkcrawl.frontier.scheduler import frontier_config, redis_client
            from linkcrawl.frontier.store import Frontier

            o._shared = Frontier(redis_client(url), frontier_config(crawler.settings))
        return o

    # Scrapy's returns None only, and takes a deprecated spider argument; a downloader
    # middleware may return a Request (the engine schedules it again).
    async def process_request(self, request: Request) -> Request | None:  # type: ignore[override]
        if request.meta.get("dont_obey_robotstxt"):
            return None
        if request.url.startswith(("data:", "file:")):
            return None
        host = await self._robots_for(request)
        answer = host.answer
        if answer.kind == "unreachable":
            now = time.time()
            if has_given_up(answer, now, self._give_up):
                self._stats.inc_value("robotstxt/gave_up")
                raise RobotsTxtUnreachable(
                    f"robots.txt of {urlparse_cached(request).netloc} unreachable for "
                    f"{now - answer.since:.0f}s ({answer.reason})"
                )
            # Back to the scheduler until the robots.txt is asked again: awaiting here
            # would hold one of the engine's download slots all that time.
            self._stats.inc_value("robotstxt/postponed")
            postponed = request.replace(dont_filter=True)
            postponed.meta[NOT_BEFORE_META_KEY] = retry_at(answer, self._retry)
            return postponed
        self.process_request_2(host.parser, request)
        return None

    async def robot_parser(self, request: Request) -> RobotParser | None:
        """The parser of the request's host (``None`` while its robots.txt is unreachable:
        :meth:`process_request` disallows everything then, whatever this says)."""
        return (await self._robots_for(request)).parser

    async def _robots_for(self, request: Request) -> _HostRobots:
        netloc = urlparse_cached(request).netloc
        known = self._hosts.get(netloc)
        now = time.time()
        if known is not None and self._fresh(known.answer, now):
            return known
        loading = self._loading.get(netloc)
        if loading is None:
            if known is not None and known.answer.kind != "unreachable":
                self._stats.inc_value("robotstxt/expired")
            # One load per host, whoever asks first; a waiter that is cancelled (the
            # engine closing) does not cancel it for the others.
            loading = asyncio.ensure_future(self._load(request, netloc, known))
            self._loading[netloc] = loading
        return await asyncio.shield(loading)

    def _fresh(self, answer: RobotsAnswer, now: float) -> bool:
        return is_fresh(answer, now, max_age=self._max_age, retry_seconds=self._retry)

    async def _load(self, request: Request, netloc: str, known: _HostRobots | None) -> _HostRobots:
        try:
            previous = known.answer if known is not None else None
            answer = await self._shared_answer(request, netloc, previous)
            host = await self._host_robots(answer, request, netloc)
            self._hosts[netloc] = host
            return host
        finally:
            del self._loading[netloc]

    async def _shared_answer(
        self, request: Request, netloc: str, previous: RobotsAnswer | None
    ) -> RobotsAnswer:
        """The host's answer: from Redis when another worker stored a fresh one, else
        fetched here (by the one worker that claims it) and stored for the others."""
        from linkcrawl.frontier.store import FrontierError

        if self._shared is None:
            return await self._fetch(request, netloc, previous)
        poll = 0.05
        while True:
            try:
                stored = self._shared.robots_answer(netloc)
                if stored is not None and self._fresh(stored, time.time()):
                    self._stats.inc_value("robotstxt/shared")
                    return stored  # type: ignore[no-any-return]
                claimed = self._shared.claim_robots_fetch(netloc, self._lock_seconds)
                if claimed:
                    # Stored between our read and our claim? Then the claim is moot.
                    again = self._shared.robots_answer(netloc)
                    if again is not None and self._fresh(again, time.time()):
                        self._stats.inc_value("robotstxt/shared")
                        return again  # type: ignore[no-any-return]
                    stored = stored or again
            except FrontierError as e:
                self._redis_error(e)
                return await self._fetch(request, netloc, previous)
            if claimed:
                break
            # Another worker is fetching it: wait for its answer (the requests waiting
            # here are what Scrapy's own middleware would hold during a fetch).
            await asyncio.sleep(poll)
            poll = min(poll * 2, 0.5)
        # The latest answer, the fleet's or else ours, says since when it is unreachable.
        answer = await self._fetch(request, netloc, stored or previous)
        ttl = redis_ttl(answer, max_age=self._max_age, retry_seconds=self._retry,
                        give_up_seconds=self._give_up)  # fmt: skip
        try:
            self._shared.store_robots_answer(netloc, answer, ttl)
            self._redis_failing = False
        except FrontierError as e:
            self._redis_error(e)
        return answer

    def _redis_error(self, error: Exception) -> None:
        self._stats.inc_value("robotstxt/redis_errors")
        if not self._redis_failing:
            self._redis_failing = True
            logger.warning("Cannot share robots.txt through Redis (%s); fetching locally", error)

    async def _fetch(
        self, request: Request, netloc: str, previous: RobotsAnswer | None
    ) -> RobotsAnswer:
        """GET the host's robots.txt (up to 5 redirects) and read the outcome."""
        url = urlparse_cached(request)
        robots_request = Request(
            f"{url.scheme}://{netloc}/robots.txt",
            priority=self.DOWNLOAD_PRIORITY,
            meta={"dont_obey_robotstxt": True, "redirect_ttl": ROBOTS_MAX_REDIRECTS},
            callback=NO_CALLBACK,
        )
        self._stats.inc_value("robotstxt/request_count")
        try:
            response = await self.crawler.engine.download_async(robots_request)
        except IgnoreRequest as e:
            # More than 5 redirects ("unavailable", RFC 9309 2.3.1.2), or a middleware
            # refused it (a private address: its pages are refused the same way).
            self._stats.inc_value("robotstxt/unavailable_redirects")
            return unavailable_answer(str(e) or type(e).__name__, time.time())
        except Exception as e:
            self._stats.inc_value(f"robotstxt/exception_count/{type(e)}")
            answer = unreachable_answer(f"{type(e).__name__}: {e}"[:300], time.time())
        else:
            self._stats.inc_value("robotstxt/response_count")
            self._stats.inc_value(f"robotstxt/response_status_count/{response.status}")
            answer = answer_for_response(response.status, response.body, time.time())
            if answer.kind == "unavailable":
                self._stats.inc_value("robotstxt/unavailable_4xx")
        answer = continued(answer, previous)
        if answer.kind == "unreachable":
            self._stats.inc_value("robotstxt/unreachable")
            logger.warning(
                "robots.txt of %s unreachable (%s) for %.0fs: its requests wait, asked "
                "again in %.3gs",
                netloc,
                answer.reason,
                answer.time - answer.since,
                self._retry,
            )
        return answer

    async def _host_robots(
        self, answer: RobotsAnswer, request: Request, netloc: str
    ) -> _HostRobots:
        if answer.kind == "unreachable":
            return _HostRobots(answer, None)
        # An unavailable one (4xx) is an empty robots.txt: everything allowed, and
        # robots_parsed fires as for any answer (the spider's sitemap discovery hears it).
        parser = build_from_crawler(self._parserimpl, self.crawler, answer.body)
        # Wherever the body came from (here or another worker through Redis): the
        # Crawl-delay reaches HostPolicyMiddleware and the frontier the same way.
        await self.crawler.signals.send_catch_log_async(
            signal=signals.robots_parsed, robotparser=parser, request=request
        )
        # The parser is what is asked from now on: the body (up to 500 KiB; in Redis for
        # the fleet) is not kept, a worker that meets a million hosts holds parsers only.
        return _HostRobots(dataclasses.replace(answer, body=b""), parser)


class FleetSendSpacingMiddleware:
    """Redis mode only: space the *sends* to a host fleet-wide, not only its leases.

    The frontier releases a host's leases no faster than its delay, but the time from a
    lease to the request reaching the site varies (the worker's first robots.txt fetch for
    the host, a busy event loop), so two leases a delay apart can arrive closer together.
    Last in the downloader chain, just before the download handler, this middleware claims
    the host's next send in Redis (``Frontier.claim_send``) and waits when another worker
    sent too recently. Hosts without a delay (no ``DOWNLOAD_DELAY``, no Crawl-delay) cost
    nothing. If Redis is unreachable the request goes out on its lease's spacing alone.

    Settings: ``LINKCRAWL_REDIS_URL``, ``DOWNLOAD_DELAY``, ``FRONTIER_DELAY_MARGIN``.
    Stats: ``frontier/send_waits``, ``frontier/send_claim_errors``.
    """

    def __init__(self, frontier: Any, *, default_delay: float, delay_margin: float = 0.0) -> None:
        self.frontier = frontier
        self.default_delay = default_delay
        self.delay_margin = delay_margin
        # host -> Crawl-delay read by this worker (it reaches Redis only with the
        # scheduler's next flush; claims pass it so the first sends are spaced too)
        self.host_delays: dict[str, float] = {}
        self.crawler: Crawler | None = None
        self._claims_failing = False

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> Self:
        from scrapy.exceptions import NotConfigured

        from linkcrawl.frontier.scheduler import frontier_config, redis_client
        from linkcrawl.frontier.store import Frontier

        url = redis_url(crawler.settings)
        if not url:
            raise NotConfigured("no LINKCRAWL_REDIS_URL: Scrapy's slots space the sends")
        config = frontier_config(crawler.settings)
        o = cls(
            Frontier(redis_client(url), config),
            default_delay=config.default_delay,
            delay_margin=crawler.settings.getfloat("FRONTIER_DELAY_MARGIN"),
        )
        o.crawler = crawler
        crawler.signals.connect(o.host_delay, signal=host_delay)
        return o

    def host_delay(self, host: str, delay: float) -> None:
        from linkcrawl.frontier.scheduler import polite_delay

        if delay > 0:
            # with the margin, as the scheduler stores it in Redis
            delay = polite_delay(delay, self.delay_margin)
            self.host_delays[host] = max(delay, self.host_delays.get(host, 0.0))

    def _inc(self, key: str) -> None:
        if self.crawler is not None and self.crawler.stats is not None:
            self.crawler.stats.inc_value(key)

    async def process_request(self, request: Request) -> None:
        from linkcrawl.frontier.store import FrontierError

        host = urlparse_cached(request).hostname or ""
        delay = self.host_delays.get(host, 0.0)
        if self.default_delay <= 0 and delay <= 0:
            return
        while True:
            try:
                wait = self.frontier.claim_send(host, delay)
            except FrontierError as e:
                self._inc("frontier/send_claim_errors")
                if not self._claims_failing:
                    self._claims_failing = True
                    logger.warning("Cannot claim sends in Redis (%s); using lease spacing", e)
                return
            self._claims_failing = False
            if wait <= 0:
                return
            self._inc("frontier/send_waits")
            await asyncio.sleep(wait)
