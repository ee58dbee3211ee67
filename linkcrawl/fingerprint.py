"""Request fingerprints from the canonical URL's node id.

The dedupe key of a request and the graph node of its page are the same 8 bytes, so a
URL the dupefilter has seen is exactly a node the edges already name.
"""

from __future__ import annotations

from typing import TYPE_CHECKING
from weakref import WeakKeyDictionary

from linkcrawl.urls import URLError, canonicalize, fingerprint

# Request.meta key holding the canonical URL of the spider's requests.
URL_META_KEY = "linkcrawl_url"

if TYPE_CHECKING:
    from typing import Self

    from scrapy import Request
    from scrapy.crawler import Crawler


def url_fingerprint(url: str, strip_params: tuple[str, ...]) -> bytes:
    """8-byte big-endian node id of the canonical form of ``url``.

    A URL the canonicaliser rejects keeps its own bytes as identity (its hash), so two
    different bad URLs never collide into one fingerprint.
    """
    try:
        return fingerprint(canonicalize(url, strip_params=strip_params))
    except URLError:
        return fingerprint(url)


class NodeIdFingerprinter:
    """``REQUEST_FINGERPRINTER_CLASS`` keyed on the canonical URL (method and body ignored:
    the crawler only issues GETs).

    Settings: ``LINKCRAWL_STRIP_QUERY_PARAMS``.
    """

    def __init__(self, strip_params: tuple[str, ...]) -> None:
        self.strip_params = strip_params
        self._cache: WeakKeyDictionary[Request, bytes] = WeakKeyDictionary()

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> Self:
        return cls(tuple(crawler.settings.getlist("LINKCRAWL_STRIP_QUERY_PARAMS")))

    def fingerprint(self, request: Request) -> bytes:
        cached = self._cache.get(request)
        if cached is None:
            # The spider's requests carry their canonical URL (request.url is re-escaped
            # by Scrapy); anything else (robots.txt, user requests) is canonicalised here.
            canonical = request.meta.get(URL_META_KEY) if request.meta else None
            if canonical is not None:
                cached = fingerprint(canonical)
            else:
                cached = url_fingerprint(request.url, self.strip_params)
            self._cache[request] = cached
        return cached
