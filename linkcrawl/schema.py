"""The one place where every Parquet table's Arrow schema is defined.

The crawl writes two tables, ``edges`` and ``pages``, as Hive-partitioned datasets
(``<root>/<table>/crawl_id=<id>/part-<worker>-<seq>.parquet``). The partition column
``crawl_id`` lives in the directory name, as Hive, Spark, DuckDB, Polars and
pyarrow.dataset expect, so it is not part of the file schemas below; ``dataset_schema``
adds it for readers. The authority job writes three more tables, ``pages``, ``hosts``
and ``domains`` (``AUTHORITY_*_SCHEMA``). Every file carries ``schema_version`` in its
metadata: bump it when a column changes meaning, and teach readers (the authority job)
the old versions.
"""

from __future__ import annotations

import pyarrow as pa

# "2": edges gained ``lastmod`` and the ``sitemap`` link type (version 1 files lack both).
SCHEMA_VERSION = "2"
PARTITION_COLUMN = "crawl_id"
TABLES = ("edges", "pages")

_TIMESTAMP = pa.timestamp("us", tz="UTC")  # microseconds: Spark cannot read nanoseconds


def _schema(name: str, fields: list[pa.Field]) -> pa.Schema:
    return pa.schema(
        fields,
        metadata={"linkcrawl.table": name, "linkcrawl.schema_version": SCHEMA_VERSION},
    )


# One row per link record of a fetched page (see docs/schema.md and docs/rules.md).
EDGES_SCHEMA = _schema(
    "edges",
    [
        pa.field("fetch_time", _TIMESTAMP, nullable=False),
        pa.field("source_url", pa.string(), nullable=False),
        pa.field("source_id", pa.int64(), nullable=False),
        pa.field("source_host", pa.string(), nullable=False),
        pa.field("source_domain", pa.string(), nullable=False),
        pa.field("target_url", pa.string(), nullable=False),
        pa.field("target_id", pa.int64(), nullable=False),
        pa.field("target_host", pa.string(), nullable=False),
        pa.field("target_domain", pa.string(), nullable=False),
        # a | area | redirect | canonical | refresh | sitemap
        pa.field("link_type", pa.string(), nullable=False),
        pa.field("anchor_text", pa.string(), nullable=True),
        pa.field("rel", pa.list_(pa.field("item", pa.string(), nullable=False)), nullable=False),
        pa.field("nofollow", pa.bool_(), nullable=False),
        pa.field("sponsored", pa.bool_(), nullable=False),
        pa.field("ugc", pa.bool_(), nullable=False),
        # the source page said nofollow for all its links (meta robots / X-Robots-Tag)
        pa.field("page_nofollow", pa.bool_(), nullable=False),
        # the anchor wraps an <img>
        pa.field("image", pa.bool_(), nullable=False),
        # source and target have the same host
        pa.field("internal", pa.bool_(), nullable=False),
        # 0-based order among the page's a/area links; null for other types
        pa.field("position", pa.int32(), nullable=True),
        # HTTP status of a redirect edge; null for other types
        pa.field("http_status", pa.int16(), nullable=True),
        # <lastmod> of a sitemap entry (UTC); null when absent or invalid, and for other types
        pa.field("lastmod", _TIMESTAMP, nullable=True),
    ],
)

# One row per fetch attempt that reached a result (response or final download error).
PAGES_SCHEMA = _schema(
    "pages",
    [
        pa.field("fetch_time", _TIMESTAMP, nullable=False),
        pa.field("url", pa.string(), nullable=False),
        pa.field("node_id", pa.int64(), nullable=False),
        pa.field("host", pa.string(), nullable=False),
        pa.field("domain", pa.string(), nullable=False),
        pa.field("status", pa.int16(), nullable=True),
        pa.field("fetch_error", pa.string(), nullable=True),
        pa.field("content_type", pa.string(), nullable=True),
        pa.field("bytes", pa.int64(), nullable=True),
        pa.field("depth", pa.int16(), nullable=False),
        pa.field("encoding", pa.string(), nullable=True),
        pa.field("title", pa.string(), nullable=True),
        pa.field("meta_robots", pa.string(), nullable=True),
        pa.field("x_robots_tag", pa.string(), nullable=True),
        pa.field("noindex", pa.bool_(), nullable=False),
        pa.field("nofollow", pa.bool_(), nullable=False),
        pa.field("canonical", pa.string(), nullable=True),
        pa.field("redirect_target", pa.string(), nullable=True),
        pa.field("refresh_target", pa.string(), nullable=True),
        # edges written for this page
        pa.field("outlinks", pa.int32(), nullable=False),
        # hrefs seen but not emitted, by reason
        pa.field("fragment_links", pa.int32(), nullable=False),
        pa.field("non_http_links", pa.int32(), nullable=False),
        pa.field("invalid_links", pa.int32(), nullable=False),
        pa.field("worker", pa.string(), nullable=False),
    ],
)

SCHEMAS: dict[str, pa.Schema] = {"edges": EDGES_SCHEMA, "pages": PAGES_SCHEMA}

# --- The authority job's output (docs/authority.md): one file per table, not partitioned.
# Each file's metadata also holds ``linkcrawl.authority.parameters``, ``.counts`` (JSON)
# and, for hosts and domains, ``.harmonic`` (exact, or the sample size).


def _ranking_fields(prefix: list[pa.Field]) -> list[pa.Field]:
    return [
        *prefix,
        # PageRank of the site graph (one vote per referring site); sums to 1
        pa.field("pagerank", pa.float64(), nullable=False),
        # in-harmonic centrality of the site graph (exact, or a sampled estimate)
        pa.field("harmonic", pa.float64(), nullable=False),
        # 0-100, log-scaled pagerank; rank 1 = highest pagerank, ties by name
        pa.field("score", pa.float64(), nullable=False),
        pa.field("rank", pa.int64(), nullable=False),
        # distinct other hosts / other registered domains with a link into the site
        pa.field("referring_hosts", pa.int64(), nullable=False),
        pa.field("referring_domains", pa.int64(), nullable=False),
        # link rows from other sites (all rels), and those that pass authority
        pa.field("backlinks_total", pa.int64(), nullable=False),
        pa.field("backlinks_dofollow", pa.int64(), nullable=False),
        # page nodes of the site in the graph
        pa.field("pages", pa.int64(), nullable=False),
        # TrustRank (PageRank teleporting to the seed sites) and its rank; null without seeds
        pa.field("trustrank", pa.float64(), nullable=True),
        pa.field("trust_rank", pa.int64(), nullable=True),
    ]


# One row per page node of the graph (folded URLs are counted in their target's row).
AUTHORITY_PAGES_SCHEMA = _schema(
    "authority_pages",
    [
        pa.field("url", pa.string(), nullable=False),
        pa.field("node_id", pa.int64(), nullable=False),
        # PageRank of the page graph; sums to 1 over the table
        pa.field("pagerank", pa.float64(), nullable=False),
        # 0-100, log-scaled pagerank; rank 1 = highest pagerank, ties by node_id
        pa.field("score", pa.float64(), nullable=False),
        pa.field("rank", pa.int64(), nullable=False),
        # link rows from other pages (all rels, every occurrence), those passing authority
        pa.field("in_links", pa.int64(), nullable=False),
        pa.field("dofollow_in_links", pa.int64(), nullable=False),
        # distinct source pages, hosts and registered domains of those rows
        pa.field("referring_pages", pa.int64(), nullable=False),
        pa.field("referring_hosts", pa.int64(), nullable=False),
        pa.field("referring_domains", pa.int64(), nullable=False),
        pa.field("host", pa.string(), nullable=False),
        pa.field("domain", pa.string(), nullable=False),
        # URLs folded into this page (redirects, canonicals, refreshes pointing to it)
        pa.field("folded_urls", pa.int64(), nullable=False),
        # TrustRank (PageRank teleporting to the seed pages) and its rank; null without seeds
        pa.field("trustrank", pa.float64(), nullable=True),
        pa.field("trust_rank", pa.int64(), nullable=True),
    ],
)

# One row per host of the graph's pages.
AUTHORITY_HOSTS_SCHEMA = _schema(
    "authority_hosts",
    _ranking_fields(
        [
            pa.field("host", pa.string(), nullable=False),
            pa.field("domain", pa.string(), nullable=False),
        ]
    ),
)

# One row per registered domain of the graph's pages.
AUTHORITY_DOMAINS_SCHEMA = _schema(
    "authority_domains", _ranking_fields([pa.field("domain", pa.string(), nullable=False)])
)

AUTHORITY_SCHEMAS: dict[str, pa.Schema] = {
    "pages": AUTHORITY_PAGES_SCHEMA,
    "hosts": AUTHORITY_HOSTS_SCHEMA,
    "domains": AUTHORITY_DOMAINS_SCHEMA,
}


def dataset_schema(table: str) -> pa.Schema:
    """The schema a Hive-aware reader sees: the file schema plus ``crawl_id``."""
    return SCHEMAS[table].append(pa.field(PARTITION_COLUMN, pa.string(), nullable=False))
