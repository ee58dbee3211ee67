"""The item the spider yields: one fetched URL with what was learnt from it."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from datetime import datetime

    from linkcrawl.links import Link, PageFacts


@dataclass(slots=True)
class PageItem:
    """A fetch result. ``facts`` is set for parsed HTML, ``redirect`` for a 3xx hop,
    ``sitemap_links`` for a sitemap; ``status`` is None when the download itself failed
    (``fetch_error`` says why)."""

    url: str
    fetch_time: datetime
    depth: int
    status: int | None = None
    fetch_error: str | None = None
    content_type: str | None = None
    size: int | None = None
    facts: PageFacts | None = None
    redirect: Link | None = None
    # the entries of a sitemap (link_type "sitemap"), when the response was read as one
    sitemap_links: list[Link] | None = None
    # Redis frontier lease to acknowledge once this item's rows are committed
    lease_id: str | None = None
