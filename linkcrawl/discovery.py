"""How the crawl uses sitemaps: where a host's sitemaps are, whether a response is one,
and its entries as edges (docs/sitemaps.md).

Pure functions over plain values (no Scrapy import); the spider wraps them. Parsing a
sitemap is :func:`linkcrawl.sitemaps.parse_sitemap`'s job.
"""

from __future__ import annotations

import re
import zlib
from typing import TYPE_CHECKING

from linkcrawl.links import Link
from linkcrawl.sitemaps import default_sitemap_url, is_gzip, sitemap_urls_from_robots
from linkcrawl.urls import DEFAULT_STRIP_QUERY_PARAMS, URLError

if TYPE_CHECKING:
    from collections.abc import Iterable

    from linkcrawl.sitemaps import Sitemap

__all__ = [
    "DISCOVERY_MODES",
    "host_sitemaps",
    "looks_like_sitemap",
    "malformation",
    "robots_sitemap_lines",
    "sitemap_links",
]

#: The values of ``SITEMAP_DISCOVERY``.
DISCOVERY_MODES: frozenset[str] = frozenset({"off", "robots", "robots+default"})

# Bytes of a body (decompressed, for gzip) looked at to tell whether it is a sitemap.
_SNIFF_BYTES = 4096
# The root element of an XML sitemap, with any namespace prefix.
_SITEMAP_ROOT = re.compile(rb"<(?:[A-Za-z_][\w.-]*:)?(?:urlset|sitemapindex)[\s/>]")
# Problems of linkcrawl.sitemaps that mean the file itself is broken (not one bad entry).
_MALFORMED = ("malformed XML", "corrupt gzip", "gzip data ends early")


def robots_sitemap_lines(robotparser: object) -> list[str]:
    """The ``Sitemap:`` values (as written) of the parser Scrapy's ``robots_parsed``
    signal carries: :class:`linkcrawl.robots.RobotsParser` (``.robots.sitemaps``), or
    Scrapy's Protego adapter (``.rp.sitemaps``); nothing for a parser without them."""
    for holder in (getattr(robotparser, "robots", None), getattr(robotparser, "rp", None)):
        lines = getattr(holder, "sitemaps", None)
        if lines is not None:
            return [line for line in lines if isinstance(line, str)]
    return []


def host_sitemaps(
    robots_lines: Iterable[str],
    host_url: str,
    discovery: str,
    strip_params: tuple[str, ...] = DEFAULT_STRIP_QUERY_PARAMS,
) -> list[str]:
    """The canonical URLs (``strip_params``: the crawl's tracking parameters) of the
    sitemaps to request for the host of ``host_url`` once its robots.txt is read, under
    ``SITEMAP_DISCOVERY`` = ``discovery``.

    ``robots``: the robots.txt ``Sitemap:`` lines (any host: cross-submission).
    ``robots+default``: also ``/sitemap.xml`` when robots.txt names none (the
    conventional place; a host that names its sitemaps is not second-guessed).
    ``off``: none.
    """
    if discovery == "off":
        return []
    urls = sitemap_urls_from_robots(robots_lines, host_url, strip_params)
    if not urls and discovery == "robots+default":
        try:
            urls = [default_sitemap_url(host_url)]
        except URLError:
            return []
    return urls


def looks_like_sitemap(body: bytes) -> bool:
    """Whether ``body`` (as downloaded, maybe gzipped) starts like an XML sitemap: a
    ``<urlset>`` or ``<sitemapindex>`` root in its first few KiB.

    For responses not known to be sitemaps: a child sitemap fetched by a worker that did
    not read its index (Redis mode), a sitemap given as a seed or linked from a page.
    Only a few KiB are decompressed, so a linked archive costs nothing. Text sitemaps
    cannot be told from other text and are never recognised this way.
    """
    head = body[:_SNIFF_BYTES]
    if is_gzip(head):
        try:
            inflater = zlib.decompressobj(wbits=16 + zlib.MAX_WBITS)
            head = inflater.decompress(body[: 16 * _SNIFF_BYTES], _SNIFF_BYTES)
        except zlib.error:
            return False
    head = head.removeprefix(b"\xef\xbb\xbf").lstrip(b" \t\r\n")
    return head.startswith(b"<") and _SITEMAP_ROOT.search(head) is not None


def malformation(sitemap: Sitemap) -> str | None:
    """The problem saying the file itself is broken (bad XML or gzip, as opposed to some
    bad entries), or None."""
    return next((p for p in sitemap.problems if p.startswith(_MALFORMED)), None)


def sitemap_links(sitemap: Sitemap) -> list[Link]:
    """Every entry of ``sitemap`` as an edge of type ``sitemap`` from the sitemap's URL:
    page URLs of a urlset or text sitemap, child sitemap URLs of an index."""
    return [
        Link(
            target_url=entry.url,
            link_type="sitemap",
            anchor_text=None,
            rel=(),
            nofollow=False,
            sponsored=False,
            ugc=False,
            image=False,
            position=None,
            lastmod=entry.lastmod,
        )
        for entry in sitemap.entries
    ]
