"""Downloader middleware applying linkcrawl's per-host policy.

Scrapy's RobotsTxtMiddleware decides allow/deny but ignores ``Crawl-delay``; this
middleware applies it to the host's download slot, caps pages per host (a spider-trap
guard) and refuses literal private addresses (a crawler that follows links from the
open web must not be steered at its own network).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import Counter
from typing import TYPE_CHECKING, Any

from scrapy import signals
from scrapy.downloadermiddlewares.robotstxt import RobotsTxtMiddleware as BaseRobotsTxtMiddleware
from scrapy.exceptions import IgnoreRequest
from scrapy.utils.httpobj import urlparse_cached
from twisted.internet.defer import Deferred

from linkcrawl.frontier.meta import redis_url
from linkcrawl.signals import host_delay
from linkcrawl.urls import is_private_address

if TYPE_CHECKING:
    from typing import Self

    from scrapy import Request
    from scrapy.crawler import Crawler
    from scrapy.http import Response
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


class RobotsTxtMiddleware(BaseRobotsTxtMiddleware):
    """Scrapy's robots.txt middleware, with RFC 9309's reading of a 4xx answer (no
    robots.txt: everything allowed, whatever the body says), a maximum age
    (``LINKCRAWL_ROBOTSTXT_MAX_AGE``, 24 hours: a host's robots.txt is fetched again
    after it), and one fix for concurrent first requests.

    In Scrapy 2.19, requests that arrive for a host while its robots.txt is being fetched
    all await one Deferred through ``Deferred.asFuture``, whose callback returns None: the
    first waiter gets the parser, every later one gets None, and None means "allow". A
    worker of the Redis frontier often leases several URLs of a host before its own first
    robots.txt fetch, so disallowed pages were fetched. The parser is stored by then: use
    it. A robots.txt that could not be fetched stays None (allow), as in Scrapy.
    """

    def __init__(self, crawler: Crawler) -> None:
        super().__init__(crawler)
        self._max_age = crawler.settings.getfloat("LINKCRAWL_ROBOTSTXT_MAX_AGE")
        self._fetched: dict[str, float] = {}  # netloc -> when its robots.txt was answered

    async def _parse_robots(self, response: Response, netloc: str, request: Request) -> None:
        # RFC 9309 2.3.1.3: a 4xx answer means the robots.txt is unavailable: crawl as if
        # there were none. Scrapy parses whatever body came back (a 404 page that happens
        # to contain "Disallow: /" would block the host).
        if 400 <= response.status < 500:
            self._stats.inc_value("robotstxt/unavailable_4xx")
            response = response.replace(body=b"")
        self._fetched[netloc] = time.monotonic()
        await super()._parse_robots(response, netloc, request)

    def _robots_error(self, exc: Exception, netloc: str) -> None:
        self._fetched[netloc] = time.monotonic()
        super()._robots_error(exc, netloc)

    async def robot_parser(self, request: Request) -> RobotParser | None:
        netloc = urlparse_cached(request).netloc
        fetched = self._fetched.get(netloc)
        if fetched is not None and time.monotonic() - fetched > self._max_age:
            # Too old (a long crawl): forget it, and this request fetches it again.
            del self._fetched[netloc]
            if not isinstance(self._parsers.get(netloc), Deferred):
                self._parsers.pop(netloc, None)
                self._stats.inc_value("robotstxt/expired")
        parser = await super().robot_parser(request)
        if parser is None:
            stored = self._parsers.get(urlparse_cached(request).netloc)
            if stored is not None and not isinstance(stored, Deferred):
                return stored
        return parser


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

    def __init__(self, frontier: Any, *, default_delay: float) -> None:
        self.frontier = frontier
        self.default_delay = default_delay
        self.delayed_hosts: set[str] = set()
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
        o = cls(Frontier(redis_client(url), config), default_delay=config.default_delay)
        o.crawler = crawler
        crawler.signals.connect(o.host_delay, signal=host_delay)
        return o

    def host_delay(self, host: str, delay: float) -> None:
        if delay > 0:
            self.delayed_hosts.add(host)

    def _inc(self, key: str) -> None:
        if self.crawler is not None and self.crawler.stats is not None:
            self.crawler.stats.inc_value(key)

    async def process_request(self, request: Request) -> None:
        from linkcrawl.frontier.store import FrontierError

        host = urlparse_cached(request).hostname or ""
        if self.default_delay <= 0 and host not in self.delayed_hosts:
            return
        while True:
            try:
                wait = self.frontier.claim_send(host)
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
