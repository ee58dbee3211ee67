"""Pure conversion of a ``PageItem`` into rows of the ``pages`` and ``edges`` tables.

Column names and types are those of ``linkcrawl.schema``; a test checks that every row
this module makes has exactly the schema's columns.
"""

from __future__ import annotations

from functools import lru_cache
from typing import TYPE_CHECKING, Any

from linkcrawl.urls import url_facts as _url_facts

if TYPE_CHECKING:
    from linkcrawl.items import PageItem
    from linkcrawl.links import Link

Row = dict[str, Any]

# A page's links mostly point at URLs other pages link to too (navigation, hubs): their
# facts (hash, host, domain) are computed once while they stay among the recent ones.
url_facts = lru_cache(maxsize=1 << 16)(_url_facts)


def page_links(item: PageItem) -> list[Link]:
    """Every link record the page contributes to the edges table."""
    if item.redirect is not None:
        return [item.redirect]
    if item.sitemap_links is not None:
        return item.sitemap_links
    if item.facts is not None:
        return item.facts.links
    return []


def edge_rows(item: PageItem) -> list[Row]:
    source = url_facts(item.url)
    page_nofollow = item.facts.nofollow if item.facts is not None else False
    rows: list[Row] = []
    for link in page_links(item):
        target = url_facts(link.target_url)
        rows.append(
            {
                "fetch_time": item.fetch_time,
                "source_url": source.url,
                "source_id": source.node_id,
                "source_host": source.host,
                "source_domain": source.domain,
                "target_url": target.url,
                "target_id": target.node_id,
                "target_host": target.host,
                "target_domain": target.domain,
                "link_type": link.link_type,
                "anchor_text": link.anchor_text,
                "rel": list(link.rel),
                "nofollow": link.nofollow,
                "sponsored": link.sponsored,
                "ugc": link.ugc,
                "page_nofollow": page_nofollow,
                "image": link.image,
                "internal": source.host == target.host,
                "position": link.position,
                "http_status": link.http_status,
                "lastmod": link.lastmod,
            }
        )
    return rows


def page_row(item: PageItem, worker: str) -> Row:
    page = url_facts(item.url)
    facts = item.facts
    return {
        "fetch_time": item.fetch_time,
        "url": page.url,
        "node_id": page.node_id,
        "host": page.host,
        "domain": page.domain,
        "status": item.status,
        "fetch_error": item.fetch_error,
        "content_type": item.content_type,
        "bytes": item.size,
        "depth": item.depth,
        "encoding": facts.encoding if facts else None,
        "title": facts.title if facts else None,
        "meta_robots": facts.meta_robots if facts else None,
        "x_robots_tag": facts.x_robots_tag if facts else None,
        "noindex": facts.noindex if facts else False,
        "nofollow": facts.nofollow if facts else False,
        "canonical": facts.canonical if facts else None,
        "redirect_target": item.redirect.target_url if item.redirect else None,
        "refresh_target": facts.refresh if facts else None,
        "outlinks": len(page_links(item)),
        "fragment_links": facts.fragment_links if facts else 0,
        "non_http_links": facts.non_http_links if facts else 0,
        "invalid_links": facts.invalid_links if facts else 0,
        "worker": worker,
    }
