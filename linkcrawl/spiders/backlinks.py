"""The ``backlinks`` spider: fetch pages, record every link, follow what the policy allows.

Usage: ``scrapy crawl backlinks -a seeds=URL,URL`` or ``-a seeds_file=PATH``.
The rules it applies are in docs/rules.md; the work is done by pure functions in
``linkcrawl.links`` and ``linkcrawl.policy``, so the callbacks stay thin.
"""

from __future__ import annotations

import logging
from collections import Counter
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import scrapy
from scrapy import signals
from scrapy.exceptions import DownloadCancelledError, IgnoreRequest

from linkcrawl.discovery import (
    DISCOVERY_MODES,
    host_sitemaps,
    looks_like_sitemap,
    malformation,
    robots_sitemap_lines,
    sitemap_links,
)
from linkcrawl.fingerprint import URL_META_KEY
from linkcrawl.frontier.meta import (
    ATTEMPTS_META_KEY,
    LEASE_META_KEY,
    SITEMAP_META_KEY,
    redis_url,
)
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
from linkcrawl.sitemaps import HOST_RULES, Sitemap, parse_sitemap
from linkcrawl.urls import URLError, node_id, url_host

if TYPE_CHECKING:
    from collections.abc import AsyncIterator, Iterator
    from typing import Self

    from scrapy.crawler import Crawler
    from scrapy.http import Response
    from scrapy.settings import BaseSettings
    from twisted.python.failure import Failure

logger = logging.getLogger(__name__)

_REDIRECT_STATUSES = frozenset({301, 302, 303, 307, 308})
# Node ids of URLs this process has sent to the scheduler, to skip building requests the
# dupefilter would drop (most links of a crawl). A cache: emptied when it reaches this size.
_SENT_CACHE_MAX = 1 << 18  # ~15 MB
# Sitemap URLs requested and not yet read, and sitemap files requested per host: emptied
# at this size (a forgotten XML sitemap is still recognised by its content).
_SITEMAP_CACHE_MAX = 1 << 16


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

    Sitemaps (docs/sitemaps.md): when a host's robots.txt has been read (Scrapy's
    ``robots_parsed`` signal) the sitemaps it names are requested like seeds (depth 0,
    through the dupefilter); a response that is a sitemap becomes a page row whose
    entries are edges of type ``sitemap``, and its URLs (pages, or child sitemaps of an
    index) are followed like links.

    Settings: ``LINKCRAWL_SCOPE``, ``LINKCRAWL_ALLOWED_DOMAINS``,
    ``LINKCRAWL_FOLLOW_NOFOLLOW``, ``LINKCRAWL_OBEY_META_ROBOTS``,
    ``LINKCRAWL_STRIP_QUERY_PARAMS``, ``LINKCRAWL_ANCHOR_MAX_CHARS``, ``LINKCRAWL_BOT_NAME``,
    ``SITEMAP_ENABLED``, ``SITEMAP_DISCOVERY``, ``SITEMAP_MAX_DEPTH``,
    ``SITEMAP_MAX_FILES_PER_HOST``, ``SITEMAP_MAX_URLS``, ``SITEMAP_MAX_BYTES``,
    ``SITEMAP_HOST_RULE``.
    Stats: ``links/extracted``, ``links/followed``, ``pages/parsed``, ``pages/redirects``,
    ``pages/not_html``, ``pages/errors``, ``pages/fetch_errors``; ``sitemaps/discovered``,
    ``sitemaps/read/<kind>``, ``sitemaps/page_urls``, ``sitemaps/child_sitemaps``,
    ``sitemaps/malformed``, ``sitemaps/truncated``, ``sitemaps/not_a_sitemap``,
    ``sitemaps/problems``, ``sitemaps/entries_skipped``, ``sitemaps/depth_limited``,
    ``sitemaps/host_limit_dropped``, ``sitemaps/out_of_scope``.
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
        self.sitemaps_enabled = False
        self.sitemap_discovery = "off"
        self.sitemap_max_depth = 0
        self.sitemap_max_files = 0
        self.sitemap_max_urls = 0
        self.sitemap_max_bytes = 0
        self.sitemap_host_rule = "host"
        # download_maxsize of a sitemap request (0 = Scrapy's DOWNLOAD_MAXSIZE applies)
        self.sitemap_download_maxsize = 0
        # node ids (the dupefilter's key) of URLs already in the scheduler's dupefilter
        self._sent: set[int] = set()
        # node ids of sitemap URLs requested and not read yet; of those named by another
        # host's robots.txt, that host (its entries may be on it: cross-submission)
        self._sitemaps: set[int] = set()
        self._sitemap_robots_host: dict[int, str] = {}
        # sitemap files requested per host (SITEMAP_MAX_FILES_PER_HOST)
        self._sitemap_files: Counter[str] = Counter()
        # hosts whose sitemaps were looked for (robots.txt read, or none to read)
        self._discovered_hosts: set[str] = set()
        self._logged: set[str] = set()
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
            spider.configure_sitemaps(s)
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
        if spider.sitemap_discovery != "off":
            crawler.signals.connect(spider.on_robots_parsed, signal=signals.robots_parsed)
        return spider

    def configure_sitemaps(self, s: BaseSettings) -> None:
        """Read the ``SITEMAP_*`` settings; PolicyError names a bad value."""
        self.sitemaps_enabled = s.getbool("SITEMAP_ENABLED")
        self.sitemap_discovery = str(s["SITEMAP_DISCOVERY"]).strip().lower()
        if self.sitemap_discovery not in DISCOVERY_MODES:
            raise PolicyError(
                f"SITEMAP_DISCOVERY {s['SITEMAP_DISCOVERY']!r} is not one of "
                f"{', '.join(sorted(DISCOVERY_MODES))}"
            )
        if not self.sitemaps_enabled:
            self.sitemap_discovery = "off"
        self.sitemap_host_rule = str(s["SITEMAP_HOST_RULE"]).strip().lower()
        if self.sitemap_host_rule not in HOST_RULES:
            raise PolicyError(
                f"SITEMAP_HOST_RULE {s['SITEMAP_HOST_RULE']!r} is not one of "
                f"{', '.join(sorted(HOST_RULES))}"
            )
        self.sitemap_max_depth = s.getint("SITEMAP_MAX_DEPTH")
        self.sitemap_max_files = s.getint("SITEMAP_MAX_FILES_PER_HOST")
        self.sitemap_max_urls = s.getint("SITEMAP_MAX_URLS")
        self.sitemap_max_bytes = s.getint("SITEMAP_MAX_BYTES")
        if self.sitemap_max_urls < 1 or self.sitemap_max_bytes < 1:
            raise PolicyError("SITEMAP_MAX_URLS and SITEMAP_MAX_BYTES must be at least 1")
        # A sitemap may be bigger than a page (50 MiB uncompressed, sitemaps.org) but the
        # download itself stays bounded; DOWNLOAD_MAXSIZE = 0 means no limit at all.
        maxsize = s.getint("DOWNLOAD_MAXSIZE")
        if maxsize and self.sitemap_max_bytes > maxsize:
            self.sitemap_download_maxsize = self.sitemap_max_bytes

    def request_for(
        self,
        url: str,
        *,
        depth: int | None = None,
        lease: tuple[str, int] | None = None,
        sitemap: str | None = None,
        key: int | None = None,
    ) -> scrapy.Request:
        """The request for a canonical URL; the Redis frontier rebuilds leased requests
        with it (``depth``, ``lease`` = (lease id, attempts so far) and ``sitemap``, a
        sitemap's tag, come from Redis). ``key``: the URL's node id, when the caller has
        it (not hashed again)."""
        # Our requests see every status and never follow redirects in the downloader: each
        # hop must become a page row and a redirect edge (robots.txt fetches still do).
        meta: dict[str, Any] = {"dont_redirect": True, URL_META_KEY: url}
        if sitemap is None and self._sitemaps:
            key = node_id(url) if key is None else key
            if key in self._sitemaps:
                sitemap = self._sitemap_robots_host.get(key, "")
        if sitemap is not None:
            # Travels with the request (through the Redis frontier too): whichever worker
            # fetches it reads it as a sitemap, with the host whose robots.txt named it.
            meta[SITEMAP_META_KEY] = sitemap
            if self.sitemap_download_maxsize:
                meta["download_maxsize"] = self.sitemap_download_maxsize
                meta["download_warnsize"] = self.sitemap_download_maxsize
        if depth is not None:
            meta["depth"] = depth
        if lease is not None:
            meta[LEASE_META_KEY], meta[ATTEMPTS_META_KEY] = lease
        return scrapy.Request(url, callback=self._callback, errback=self._errback, meta=meta)

    def _inc(self, key: str, count: int = 1) -> None:
        if self.crawler.stats is not None:
            self.crawler.stats.inc_value(key, count)

    def _unsent(self, urls: list[str], depth: int) -> Iterator[tuple[str, int]]:
        """The URLs not sent to the scheduler before, with their node ids; remembers those
        that reach its dupefilter (DepthMiddleware and UrlLengthMiddleware drop some on
        the way)."""
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
            yield url, key

    def _log_once(self, key: str, message: str, *args: Any) -> None:
        if key not in self._logged:
            self._logged.add(key)
            logger.info(message, *args)

    # ------------------------------------------------------------------ sitemaps

    def on_robots_parsed(self, robotparser: object, request: scrapy.Request, **_: Any) -> None:
        """This worker has read a host's robots.txt (before its first request to the host):
        request the host's sitemaps. In Redis mode every worker does so, and the shared
        dupefilter keeps one request of each."""
        host_url = request.meta.get(URL_META_KEY) or request.url
        self._request_sitemaps(host_url, robots_sitemap_lines(robotparser))

    def _request_sitemaps(self, host_url: str, robots_lines: list[str]) -> None:
        """Request the sitemaps of ``host_url``'s host (SITEMAP_DISCOVERY), as seeds are."""
        try:
            robots_host = url_host(host_url)
        except (URLError, ValueError):
            return
        if len(self._discovered_hosts) >= _SITEMAP_CACHE_MAX:
            self._discovered_hosts.clear()
        self._discovered_hosts.add(robots_host)
        found = host_sitemaps(robots_lines, host_url, self.sitemap_discovery, self.strip_params)
        urls = [url for url in found if self._add_sitemap(url, robots_host)]
        engine = self.crawler.engine
        for url, key in self._unsent(urls, 0):
            self._inc("sitemaps/discovered")
            try:
                # depth 0: a sitemap is an entry point, as a seed is
                engine.crawl(self.request_for(url, depth=0, key=key))
            except RuntimeError:
                return  # the spider is closing

    def _add_sitemap(self, url: str, robots_host: str | None) -> bool:
        """Note ``url`` as a sitemap to request; False when scope or the per-host file
        limit forbids it."""
        key = node_id(url)
        if key in self._sitemaps:
            return True
        if not self.policy.in_scope(url):
            self._inc("sitemaps/out_of_scope")
            return False
        host = url_host(url)
        if len(self._sitemaps) >= _SITEMAP_CACHE_MAX:
            self._sitemaps.clear()
            self._sitemap_robots_host.clear()
        if len(self._sitemap_files) >= _SITEMAP_CACHE_MAX:
            self._sitemap_files.clear()
        if self.sitemap_max_files and self._sitemap_files[host] >= self.sitemap_max_files:
            self._inc("sitemaps/host_limit_dropped")
            self._log_once(
                f"sitemap-host:{host}",
                "Host %s reached SITEMAP_MAX_FILES_PER_HOST=%d; further sitemaps dropped",
                host,
                self.sitemap_max_files,
            )
            return False
        self._sitemap_files[host] += 1
        self._sitemaps.add(key)
        if robots_host is not None and robots_host != host:
            self._sitemap_robots_host[key] = robots_host
        return True

    def _read_sitemap(
        self, url: str, body: bytes, html: bool, tag: str | None = None
    ) -> Sitemap | None:
        """The response body read as a sitemap, when ``url`` was requested as one (``tag``:
        its request's ``SITEMAP_META_KEY``, set by whichever worker asked for it) or an
        XML sitemap is what came back; None otherwise (it is then handled as a page)."""
        if not self.sitemaps_enabled:
            return None
        key = node_id(url)
        if tag and key not in self._sitemap_robots_host:
            self._sitemap_robots_host[key] = tag  # named by that host's robots.txt
        known = tag is not None or key in self._sitemaps
        if not known and (html or not looks_like_sitemap(body)):
            return None
        self._sitemaps.discard(key)
        robots_host = self._sitemap_robots_host.get(key)
        sitemap = parse_sitemap(
            body,
            url,
            max_bytes=self.sitemap_max_bytes,
            max_urls=self.sitemap_max_urls,
            host_rule=self.sitemap_host_rule,
            robots_hosts=() if robots_host is None else (robots_host,),
            strip_params=self.strip_params,
        )
        # Cut at SITEMAP_MAX_BYTES, XML always ends early: that is the limit, not the file.
        broken = None if sitemap.truncated else malformation(sitemap)
        if broken is not None:
            self._inc("sitemaps/malformed")
            logger.warning(
                "Malformed sitemap %s (%d entries read before the error): %s",
                url,
                len(sitemap.entries),
                broken,
            )
        if sitemap.kind == "unknown":
            self._sitemap_robots_host.pop(key, None)
            self._inc("sitemaps/not_a_sitemap")
            if broken is None:
                logger.info("Not read as a sitemap: %s (%s)", url, "; ".join(sitemap.problems[:1]))
            return None
        self._inc(f"sitemaps/read/{sitemap.kind}")
        if sitemap.truncated:
            self._inc("sitemaps/truncated")
            logger.info("Sitemap %s cut at a limit: %s", url, sitemap.problems[-1])
        if sitemap.skipped:
            self._inc("sitemaps/entries_skipped", sitemap.skipped)
        if sitemap.problems:
            self._inc("sitemaps/problems", len(sitemap.problems))
            logger.debug("Sitemap %s: %s", url, "; ".join(sitemap.problems[:10]))
        return sitemap

    def _sitemap_follow(self, sitemap: Sitemap, depth: int) -> list[str]:
        """The URLs of a sitemap to request: its pages, or its child sitemaps while the
        index is less than ``SITEMAP_MAX_DEPTH`` levels deep (its crawl depth)."""
        # the host whose robots.txt named it: its child sitemaps may list that host too
        robots_host = self._sitemap_robots_host.pop(node_id(sitemap.url), None)
        urls = [url for url in dict.fromkeys(sitemap.urls) if self.policy.in_scope(url)]
        if sitemap.kind != "sitemapindex":
            self._inc("sitemaps/page_urls", len(sitemap.entries))
            return urls
        self._inc("sitemaps/child_sitemaps", len(sitemap.entries))
        if depth >= self.sitemap_max_depth:
            self._inc("sitemaps/depth_limited", len(urls))
            self._log_once(
                "sitemap-depth",
                "Sitemap index %s is at SITEMAP_MAX_DEPTH=%d: its child sitemaps are "
                "recorded, not fetched (logged once)",
                sitemap.url,
                self.sitemap_max_depth,
            )
            return []
        return [url for url in urls if self._add_sitemap(url, robots_host)]

    async def start(self) -> AsyncIterator[Any]:
        # Seeds go through the dupefilter like any link: a seed linked back is not refetched.
        for url, key in self._unsent(self.seed_urls, 0):
            yield self.request_for(url, key=key)

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
        ok = 200 <= response.status < 300
        html = ok and is_html(content_type, response.body)
        tag = response.meta.get(SITEMAP_META_KEY)
        sitemap = self._read_sitemap(url, response.body, html, tag) if ok else None
        if response.status in _REDIRECT_STATUSES and location:
            item.redirect = redirect_link(
                url, location, response.status, strip_params=self.strip_params
            )
            self._inc("pages/redirects")
            if item.redirect is not None and self.policy.follows(item.redirect):
                follow.append(item.redirect.target_url)
                if tag is not None or (self._sitemaps and node_id(url) in self._sitemaps):
                    # a moved sitemap: its new place is read as one too
                    self._sitemaps.discard(node_id(url))
                    self._add_sitemap(item.redirect.target_url, tag or None)
        elif sitemap is not None:
            item.sitemap_links = sitemap_links(sitemap)
            follow = self._sitemap_follow(sitemap, depth)
        elif html:
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
        elif ok:
            self._inc("pages/not_html")
        else:
            self._inc("pages/errors")
        if self.sitemap_discovery == "robots+default":
            # No robots_parsed for this host (robots.txt missing, or not obeyed): its
            # default sitemap is still worth a look.
            host = url_host(url)
            if host not in self._discovered_hosts:
                self._request_sitemaps(url, [])
        self._inc("links/followed", len(follow))
        for url, key in self._unsent(follow, depth + 1):
            yield self.request_for(url, key=key)
        # The page's item last: its links are then in the scheduler (the Redis frontier's
        # add buffer, sent before any ack) before its rows can be committed and its lease
        # acknowledged. Item first, a worker killed between the ack and the next flush of
        # discovered links lost them (seen in the SIGKILL test: a page never crawled).
        yield item

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
