"""The ``backlinks`` spider: fetch pages, record every link, follow what the policy allows.

Usage: ``scrapy crawl backlinks -a seeds=URL,URL`` or ``-a seeds_file=PATH``.
The rules it applies are in docs/rules.md; the work is done by pure functions in
``linkcrawl.links`` and ``linkcrawl.policy``, so the callbacks stay thin.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import scrapy
from scrapy.exceptions import DownloadCancelledError, IgnoreRequest

from linkcrawl.fingerprint import URL_META_KEY
from linkcrawl.frontier.meta import ATTEMPTS_META_KEY, LEASE_META_KEY, redis_url
from linkcrawl.items import PageItem
from linkcrawl.links import extract, redirect_link
from linkcrawl.policy import (
    CrawlPolicy,
    PolicyError,
    check_settings,
    is_html,
    load_seeds,
    media_type,
    stop_on_user_error,
)
from linkcrawl.signals import lease_failed, lease_finished
from linkcrawl.urls import node_id

if TYPE_CHECKING:
    from collections.abc import AsyncIterator, Iterator
    from typing import Self

    from scrapy.crawler import Crawler
    from scrapy.http import Response
    from twisted.python.failure import Failure

logger = logging.getLogger(__name__)

_REDIRECT_STATUSES = frozenset({301, 302, 303, 307, 308})
# Node ids of URLs this process has sent to the scheduler, to skip building requests the
# dupefilter would drop (most links of a crawl). A cache: emptied when it reaches this size.
_SENT_CACHE_MAX = 1 << 18  # ~15 MB


def _headers(response: Response) -> dict[str, list[str]]:
    """Scrapy's bytes headers as lower-case name -> list of str (latin-1, lossless)."""
    return {
        k.decode("latin-1").lower(): [v.decode("latin-1") for v in vs]
        for k, vs in response.headers.items()
    }


def _first(headers: dict[str, list[str]], name: str) -> str | None:
    values = headers.get(name)
    return values[0] if values else None


class BacklinksSpider(scrapy.Spider):
    """Crawls from seeds and yields one ``PageItem`` per fetched URL.

    Settings: ``LINKCRAWL_SCOPE``, ``LINKCRAWL_ALLOWED_DOMAINS``,
    ``LINKCRAWL_FOLLOW_NOFOLLOW``, ``LINKCRAWL_OBEY_META_ROBOTS``,
    ``LINKCRAWL_STRIP_QUERY_PARAMS``, ``LINKCRAWL_ANCHOR_MAX_CHARS``, ``LINKCRAWL_BOT_NAME``.
    Stats: ``links/extracted``, ``links/followed``, ``pages/parsed``, ``pages/redirects``,
    ``pages/not_html``, ``pages/errors``, ``pages/fetch_errors``.
    """

    name = "backlinks"

    def __init__(
        self, seeds: str | None = None, seeds_file: str | None = None, **kwargs: Any
    ) -> None:
        super().__init__(**kwargs)
        self.seed_arg = seeds
        self.seeds_file_arg = seeds_file
        self.seed_urls: list[str] = []
        self.strip_params: tuple[str, ...] = ()
        self.anchor_max_chars = 256
        self.bot_name = "linkcrawl"
        self.policy = CrawlPolicy()
        self.max_attempts = 3
        self.depth_limit = 0
        self.url_length_limit = 0
        # node ids (the dupefilter's key) of URLs already in the scheduler's dupefilter
        self._sent: set[int] = set()
        # One bound method each for every request: Scrapy caches its per-callback checks
        # (WARN_ON_GENERATOR_RETURN_VALUE reads the source) by weak reference to it.
        self._callback = self.parse
        self._errback = self.on_error

    @classmethod
    def from_crawler(cls, crawler: Crawler, *args: Any, **kwargs: Any) -> Self:
        spider = super().from_crawler(crawler, *args, **kwargs)
        s = crawler.settings
        try:
            check_settings(s)
            spider.strip_params = tuple(s.getlist("LINKCRAWL_STRIP_QUERY_PARAMS"))
            spider.anchor_max_chars = s.getint("LINKCRAWL_ANCHOR_MAX_CHARS")
            spider.bot_name = s["LINKCRAWL_BOT_NAME"]
            spider.max_attempts = s.getint("FRONTIER_MAX_ATTEMPTS")
            spider.depth_limit = s.getint("DEPTH_LIMIT")
            spider.url_length_limit = s.getint("URLLENGTH_LIMIT")
            redis_mode = bool(redis_url(s))
            # With a Redis frontier, seeds usually come from `linkcrawl seed`.
            spider.seed_urls = load_seeds(
                spider.seed_arg,
                spider.seeds_file_arg,
                spider.strip_params,
                required=not redis_mode,
            )
            spider.policy = CrawlPolicy.build(
                scope=s["LINKCRAWL_SCOPE"],
                seeds=spider.seed_urls,
                allowed_domains=s.getlist("LINKCRAWL_ALLOWED_DOMAINS"),
                follow_nofollow=s.getbool("LINKCRAWL_FOLLOW_NOFOLLOW"),
                obey_meta_robots=s.getbool("LINKCRAWL_OBEY_META_ROBOTS"),
            )
        except PolicyError as e:
            stop_on_user_error(e)
        return spider

    def request_for(
        self, url: str, *, depth: int | None = None, lease: tuple[str, int] | None = None
    ) -> scrapy.Request:
        """The request for a canonical URL; the Redis frontier rebuilds leased requests
        with it (``depth`` and ``lease`` = (lease id, attempts so far) come from Redis)."""
        # Our requests see every status and never follow redirects in the downloader: each
        # hop must become a page row and a redirect edge (robots.txt fetches still do).
        meta: dict[str, Any] = {"dont_redirect": True, URL_META_KEY: url}
        if depth is not None:
            meta["depth"] = depth
        if lease is not None:
            meta[LEASE_META_KEY], meta[ATTEMPTS_META_KEY] = lease
        return scrapy.Request(url, callback=self._callback, errback=self._errback, meta=meta)

    def _inc(self, key: str, count: int = 1) -> None:
        if self.crawler.stats is not None:
            self.crawler.stats.inc_value(key, count)

    def _unsent(self, urls: list[str], depth: int) -> Iterator[str]:
        """The URLs not sent to the scheduler before; remembers those that reach its
        dupefilter (DepthMiddleware and UrlLengthMiddleware drop some on the way)."""
        sent = self._sent
        remember = not self.depth_limit or depth <= self.depth_limit
        max_length = self.url_length_limit
        for url in urls:
            key = node_id(url)
            if key in sent:
                continue
            if remember and (not max_length or len(url) <= max_length):
                if len(sent) >= _SENT_CACHE_MAX:
                    sent.clear()
                sent.add(key)
            yield url

    async def start(self) -> AsyncIterator[Any]:
        # Seeds go through the dupefilter like any link: a seed linked back is not refetched.
        for url in self._unsent(self.seed_urls, 0):
            yield self.request_for(url)

    def parse(self, response: Response, **_: Any) -> Iterator[Any]:
        now = datetime.now(UTC)
        headers = _headers(response)
        content_type = _first(headers, "content-type")
        url = response.meta.get(URL_META_KEY) or response.url
        depth = int(response.meta.get("depth", 0))
        item = PageItem(
            lease_id=response.meta.get(LEASE_META_KEY),
            url=url,
            fetch_time=now,
            depth=depth,
            status=response.status,
            content_type=media_type(content_type),
            size=len(response.body),
        )
        follow: list[str] = []
        location = _first(headers, "location")
        if response.status in _REDIRECT_STATUSES and location:
            item.redirect = redirect_link(
                url, location, response.status, strip_params=self.strip_params
            )
            self._inc("pages/redirects")
            if item.redirect is not None and self.policy.follows(item.redirect):
                follow.append(item.redirect.target_url)
        elif 200 <= response.status < 300 and is_html(content_type, response.body):
            item.facts = facts = extract(
                response.body,
                url,
                headers,
                strip_params=self.strip_params,
                anchor_max_chars=self.anchor_max_chars,
                bot_name=self.bot_name,
            )
            self._inc("pages/parsed")
            self._inc("links/extracted", len(facts.links))
            follow = self.policy.to_follow(facts)
        elif 200 <= response.status < 300:
            self._inc("pages/not_html")
        else:
            self._inc("pages/errors")
        yield item
        self._inc("links/followed", len(follow))
        for url in self._unsent(follow, depth + 1):
            yield self.request_for(url)

    def on_error(self, failure: Failure) -> Iterator[PageItem]:
        """A download that failed for good (after retries) is still a page row."""
        request = failure.request  # type: ignore[attr-defined]
        lease_id = request.meta.get(LEASE_META_KEY)
        if failure.check(IgnoreRequest):  # type: ignore[no-untyped-call]
            # robots.txt, host limit, private address: never fetched, nothing to write
            if lease_id is not None:
                self.crawler.signals.send_catch_log(signal=lease_finished, lease_id=lease_id)
            return
        cancelled = failure.check(DownloadCancelledError)  # type: ignore[no-untyped-call]
        # Scrapy cancels a download past DOWNLOAD_MAXSIZE: with a message when
        # Content-Length announced it, with none when a streamed body grew past it.
        message = str(failure.value)
        if cancelled and (not message or "max size" in message.lower()):
            error = "oversize"
        else:
            error = f"{type(failure.value).__name__}: {failure.value}"[:500]
        if lease_id is not None and error != "oversize":
            # The frontier retries it (another worker, later) or dead-letters it at
            # FRONTIER_MAX_ATTEMPTS; only the final failure becomes a page row.
            attempts = int(request.meta.get(ATTEMPTS_META_KEY, 0)) + 1
            self.crawler.signals.send_catch_log(
                signal=lease_failed, lease_id=lease_id, reason=error
            )
            if attempts < self.max_attempts:
                self._inc("pages/fetch_errors_retried")
                return
        self._inc("pages/fetch_errors")
        yield PageItem(
            lease_id=lease_id if error == "oversize" else None,
            url=request.meta.get(URL_META_KEY) or request.url,
            fetch_time=datetime.now(UTC),
            depth=int(request.meta.get("depth", 0)),
            fetch_error=error,
        )
