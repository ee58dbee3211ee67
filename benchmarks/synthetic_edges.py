"""Synthetic crawl output (``edges`` and ``pages`` tables) for the authority benchmark and tests.

    python benchmarks/synthetic_edges.py OUT --nodes 1000000 --edges 9000000 [--seed 0]

or, from a test, ``write_synthetic_edges(root, nodes=2_000, edges=18_000, seed=1)``.

The files are what a crawl of ``workers`` processes writes (``pipelines/parquet.py``): the
schemas of ``linkcrawl.schema``, Hive layout ``<root>/<table>/crawl_id=<id>/part-<worker>-
<seq>.parquet``, a file per ``rows_per_file`` edge rows (a page's rows never split), a row
group per ``batch_rows`` rows, zstd level 3, dictionary encoding, written under a hidden
name and renamed. Rows are in fetch order; the workers' fetches interleave in time.

The graph, deterministic for a seed:

* hosts of power-law size (about 50 pages each on average), grouped 1-3 to a registered
  domain (``www.site-12.example``, ``blog.site-12.example`` -> ``site-12.example``), 70%
  of them https; canonical URLs (``https://www.site-12.example/articles/garden-42.html``)
  built once per node, node ids from ``linkcrawl.urls.node_id``;
* 80% of the nodes are fetched (every home page is); the others are only link targets;
* out-degree log-normal; 75% of links internal (same host, skewed to the home page and
  the first pages of a host), the others to home pages of popular hosts or to popular
  pages (Pareto weights): power-law in-degree; links to self and repeated links happen;
* 11% of links ``rel=nofollow`` (5% of internal, 25% of external links, and most
  ``sponsored`` and half the ``ugc`` ones), ``sponsored`` (3% of external links) and
  ``ugc`` (1.5%), ``noopener noreferrer``, image links, ``area`` links;
* 0.5% of fetched pages are redirects (one ``redirect`` edge, 301/302/308, to a page of
  the same host, sometimes another host; chains happen); 1% are URL variants
  (``...html?view=print``) with a ``canonical`` edge to the page they vary;
* 1% of pages say nofollow for the whole page (``page_nofollow`` on all their edges);
* 0.5% of pages were fetched twice: the older fetch has other links, which a reader
  must ignore (the latest fetch of a page wins, ``linkcrawl.readers``);
* the ``pages`` table has a row per fetch: status 200, or the redirect's status and
  ``redirect_target``; ``canonical``; ``nofollow`` and ``meta_robots`` for page-level
  nofollow; ``outlinks``. Its other columns hold plausible constants.

``write_synthetic_edges`` returns the counts (also in ``<root>/synthetic.json``).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from linkcrawl import defaults
from linkcrawl.schema import EDGES_SCHEMA, PAGES_SCHEMA, PARTITION_COLUMN
from linkcrawl.urls import node_id

#: Bump when the same arguments would give different files (the benchmark's cache key).
GENERATOR_VERSION = 2

PAGES_PER_HOST = 50
HOST_PREFIXES = ("www", "blog", "shop")  # the hosts of one registered domain
HTTPS_HOSTS = 0.7
CRAWLED = 0.8
REDIRECT_PAGES = 0.005
CANONICAL_PAGES = 0.01
PAGE_NOFOLLOW_PAGES = 0.01
RECRAWLED_PAGES = 0.005
INTERNAL = 0.75
NOFOLLOW_INTERNAL = 0.05
NOFOLLOW_EXTERNAL = 0.25
SPONSORED_EXTERNAL = 0.03
UGC = 0.015
NOOPENER_EXTERNAL = 0.2
IMAGE = 0.06
AREA = 0.003
CRAWL_START = datetime(2026, 11, 20, tzinfo=UTC)
CRAWL_HOURS = 6

SECTIONS = ("articles", "news", "products", "blog", "docs/guide", "tag", "forum/thread", "about")
WORDS = (
    "garden", "tools", "river", "market", "winter", "coffee", "travel", "guide", "review",
    "house", "music", "city", "history", "science", "health", "recipe", "bicycle", "camera",
    "photo", "kitchen", "energy", "school", "football", "design", "ocean", "mountain",
    "library", "software", "network", "village", "festival", "weather", "museum",
)  # fmt: skip
REL_TOKENS = ("nofollow", "sponsored", "ugc", "noopener", "noreferrer")
_TS = pa.timestamp("us", tz="UTC")


def _rel_combos() -> pa.Array:
    """``rel`` lists by code: bit 0 nofollow, 1 sponsored, 2 ugc, 3 noopener+noreferrer."""
    lists = []
    for code in range(16):
        tokens = [t for bit, t in enumerate(REL_TOKENS[:3]) if code >> bit & 1]
        if code & 8:
            tokens = ["noopener", "noreferrer", *tokens]
        lists.append(tokens)
    return pa.array(lists, type=EDGES_SCHEMA.field("rel").type)


def _anchors() -> pa.Array:
    return pa.array([f"{a.title()} {b}" for a in WORDS for b in WORDS if a != b] + ["Home"])


def _draw(rng: np.random.Generator, cdf: np.ndarray, k: int) -> np.ndarray:
    """``k`` independent draws from the distribution with cumulative ``cdf``, in random
    order. The uniforms are sorted first: searching a large ``cdf`` in order stays in the
    CPU cache (random order is ~10x slower at 5M nodes); the shuffle restores independence.
    """
    found = np.searchsorted(cdf, np.sort(rng.random(k))).astype(np.int32)
    rng.shuffle(found)
    return found


class _Graph:
    """Every array the files are cut from: per host, per node, per fetch, per edge."""

    def __init__(self, nodes: int, edges: int, seed: int, workers: int) -> None:
        rng = np.random.default_rng(seed)
        self._hosts(rng, nodes)
        self._nodes(rng, nodes)
        self._fetches(rng, workers)
        self._edges(rng, edges)

    def _hosts(self, rng: np.random.Generator, nodes: int) -> None:
        n_hosts = max(1, nodes // PAGES_PER_HOST)
        weight = rng.pareto(1.2, n_hosts) + 1.0
        sizes = 1 + np.floor((nodes - n_hosts) * weight / weight.sum()).astype(np.int64)
        np.add.at(sizes, rng.integers(0, n_hosts, nodes - int(sizes.sum())), 1)
        self.host_size = sizes
        self.host_start = np.concatenate([[0], np.cumsum(sizes)[:-1]])
        per_domain = rng.choice([1, 2, 3], size=n_hosts, p=[0.55, 0.3, 0.15])
        domain_of_host = np.repeat(np.arange(n_hosts), per_domain)[:n_hosts]
        first = np.concatenate([[True], domain_of_host[1:] != domain_of_host[:-1]])
        rank = np.arange(n_hosts) - np.maximum.accumulate(np.where(first, np.arange(n_hosts), 0))
        domains = [f"site-{d}.example" for d in range(int(domain_of_host[-1]) + 1)]
        https = rng.random(n_hosts) < HTTPS_HOSTS
        names = [
            f"{HOST_PREFIXES[r]}.{domains[d]}"
            for r, d in zip(rank.tolist(), domain_of_host.tolist(), strict=True)
        ]
        self.host_name = pa.array(names)
        self.host_domain = domain_of_host
        self.domain_name = pa.array(domains)
        self.host_prefix = pa.array(
            [
                ("https://" if s else "http://") + n
                for s, n in zip(https.tolist(), names, strict=True)
            ]
        )
        # External links: to home pages of hosts in proportion to host_weight, or to
        # pages in proportion to node weights (_nodes); both Pareto, heavy-tailed.
        self.host_cdf = np.cumsum(weight * (rng.pareto(1.0, n_hosts) + 1.0))
        self.host_cdf /= self.host_cdf[-1]

    def _nodes(self, rng: np.random.Generator, nodes: int) -> None:
        host = np.repeat(np.arange(len(self.host_size), dtype=np.int32), self.host_size)
        local = np.arange(nodes) - self.host_start[host]
        self.node_host = host
        crawled = (rng.random(nodes) < CRAWLED) | (local == 0)
        redirect = crawled & (local > 0) & (rng.random(nodes) < REDIRECT_PAGES)
        variant = crawled & (local > 1) & ~redirect & (rng.random(nodes) < CANONICAL_PAGES)
        variant[1:] &= ~variant[:-1]  # a variant's canonical (node - 1) is no variant
        self.crawled, self.redirect, self.variant = crawled, redirect, variant
        self.page_nofollow = crawled & ~redirect & (rng.random(nodes) < PAGE_NOFOLLOW_PAGES)
        self.recrawled = crawled & ~redirect & (rng.random(nodes) < RECRAWLED_PAGES)
        weight = rng.pareto(1.1, nodes) + 1.0
        self.node_cdf = np.cumsum(weight)
        self.node_cdf /= self.node_cdf[-1]

        # URLs: built by Arrow kernels, once per node; files take() from them.
        section = pa.array(["/" + s + "/" for s in SECTIONS]).take(
            pa.array((local // 40 + host) % len(SECTIONS))
        )
        word = pa.array([w + "-" for w in WORDS]).take(pa.array((local * 7919 + host) % len(WORDS)))
        prefix = self.host_prefix.take(pa.array(host))
        number = pc.cast(pa.array(local), pa.string())
        page = pc.binary_join_element_wise(prefix, section, word, number, ".html", "")
        page = pc.if_else(
            pa.array(redirect), pc.binary_join_element_wise(prefix, "/go/", number, ""), page
        )
        home = pc.binary_join_element_wise(prefix, "/", "")
        urls = pc.if_else(pa.array(local == 0), home, page)
        previous = urls.take(pa.array(np.maximum(np.arange(nodes) - 1, 0)))
        urls = pc.if_else(
            pa.array(variant), pc.binary_join_element_wise(previous, "?view=print", ""), urls
        )
        self.node_url = urls
        self.node_id = np.fromiter(map(node_id, urls.to_pylist()), dtype=np.int64, count=nodes)

    def _fetches(self, rng: np.random.Generator, workers: int) -> None:
        current = np.flatnonzero(self.crawled)
        again = np.flatnonzero(self.recrawled)
        node = np.concatenate([current, again])
        old = np.concatenate([np.zeros(len(current), bool), np.ones(len(again), bool)])
        order = rng.permutation(len(node))
        node, old = node[order], old[order]
        # The older of a page's two fetches comes first: swap the flags where it does not.
        position_current = np.empty(len(self.crawled), np.int64)
        position_current[node[~old]] = np.flatnonzero(~old)
        at_old = np.flatnonzero(old)
        at_current = position_current[node[at_old]]
        late = at_old > at_current
        old[at_old[late]], old[at_current[late]] = False, True
        # Fetch i happens at time i (plus jitter) on worker i % workers; each worker's
        # fetches are kept together (its files), in time order.
        step = CRAWL_HOURS * 3600e6 / max(1, len(node))
        start_us = int(CRAWL_START.timestamp() * 1e6)
        jitter = rng.random(len(node)) * step * 0.5
        when = start_us + (np.arange(len(node)) * step + jitter).astype(np.int64)
        by_worker = np.argsort(np.arange(len(node)) % workers, kind="stable")
        self.fetch_node = node[by_worker]
        self.fetch_old = old[by_worker]
        self.fetch_time = when[by_worker]
        self.fetch_worker = (by_worker % workers).astype(np.int32)
        self.fetch_redirect = self.redirect[self.fetch_node] & ~self.fetch_old
        self.fetch_canonical = self.variant[self.fetch_node] & ~self.fetch_old
        self.fetch_page_nofollow = self.page_nofollow[self.fetch_node] & ~self.fetch_old

    def _edges(self, rng: np.random.Generator, edges: int) -> None:
        fetches = len(self.fetch_node)
        linking = ~self.fetch_redirect
        budget = max(0, edges - int(self.fetch_redirect.sum()) - int(self.fetch_canonical.sum()))
        weight = rng.lognormal(0.0, 1.0, int(linking.sum()))
        links = np.zeros(fetches, np.int64)
        links[linking] = rng.multinomial(budget, weight / weight.sum())
        rows = np.where(self.fetch_redirect, 1, links + self.fetch_canonical)
        self.fetch_links, self.fetch_rows = links, rows
        self.fetch_start = np.concatenate([[0], np.cumsum(rows)])
        total = int(self.fetch_start[-1])

        fetch = np.repeat(np.arange(fetches, dtype=np.int32), rows)
        index = np.arange(total) - self.fetch_start[fetch]
        is_link = index < links[fetch]
        is_redirect = self.fetch_redirect[fetch]
        self.edge_fetch = fetch
        self.edge_kind = np.where(is_link, 0, np.where(is_redirect, 1, 2)).astype(np.int8)
        src = self.fetch_node[fetch].astype(np.int32)
        host = self.node_host[src]
        self.edge_src = src

        tgt = np.empty(total, np.int32)
        n_links = int(is_link.sum())
        link_host = host[is_link]
        link_tgt = np.empty(n_links, np.int32)
        internal = rng.random(n_links) < INTERNAL
        inside, outside = np.flatnonzero(internal), np.flatnonzero(~internal)
        h = link_host[inside]  # internal: skewed to the home page and the first pages
        link_tgt[inside] = self.host_start[h] + np.floor(
            self.host_size[h] * rng.random(h.size) ** 3
        )
        to_home = rng.random(outside.size) < 0.5
        home, deep = outside[to_home], outside[~to_home]
        link_tgt[home] = self.host_start[_draw(rng, self.host_cdf, home.size)]
        link_tgt[deep] = _draw(rng, self.node_cdf, deep.size)
        tgt[is_link] = link_tgt
        del link_tgt, internal, inside, outside, h, home, deep, to_home
        r = np.flatnonzero(self.edge_kind == 1)
        same = self.host_start[host[r]] + np.floor(self.host_size[host[r]] * rng.random(len(r)))
        far = _draw(rng, self.node_cdf, len(r))
        target = np.where(rng.random(len(r)) < 0.8, same, far).astype(np.int32)
        tgt[r] = np.where(target == src[r], self.host_start[host[r]], target)
        c = np.flatnonzero(self.edge_kind == 2)
        tgt[c] = src[c] - 1
        self.edge_tgt = tgt

        external = self.node_host[tgt[is_link]] != link_host
        nofollow = rng.random(n_links) < np.where(external, NOFOLLOW_EXTERNAL, NOFOLLOW_INTERNAL)
        sponsored = external & (rng.random(n_links) < SPONSORED_EXTERNAL)
        ugc = rng.random(n_links) < UGC
        nofollow |= (sponsored & (rng.random(n_links) < 0.7)) | (ugc & (rng.random(n_links) < 0.5))
        noopener = external & (rng.random(n_links) < NOOPENER_EXTERNAL)
        rel = np.zeros(total, np.int8)
        rel[is_link] = nofollow | sponsored << 1 | ugc << 2 | noopener << 3
        self.edge_rel = rel
        image = np.zeros(total, bool)
        image[is_link] = rng.random(n_links) < IMAGE
        self.edge_image = image
        anchor = rng.integers(0, len(WORDS) * (len(WORDS) - 1) + 1, total).astype(np.int32)
        no_anchor = ~is_link | (rng.random(total) < 0.02) | (image & (rng.random(total) < 0.5))
        self.edge_anchor = np.where(no_anchor, -1, anchor)
        self.edge_area = is_link & (rng.random(total) < AREA)
        self.edge_position = np.where(is_link, index, -1).astype(np.int32)
        status = rng.choice(np.array([301, 302, 308], np.int16), total, p=[0.7, 0.2, 0.1])
        self.edge_status = np.where(self.edge_kind == 1, status, 0).astype(np.int16)


def _edge_table(g: _Graph, lo: int, hi: int, rels: pa.Array, anchors: pa.Array) -> pa.Table:
    fetch = g.edge_fetch[lo:hi]
    src, tgt = g.edge_src[lo:hi], g.edge_tgt[lo:hi]
    shost, thost = g.node_host[src], g.node_host[tgt]
    kind = g.edge_kind[lo:hi]
    link_type = pa.array(["a", "redirect", "canonical", "area"]).take(
        pa.array(np.where(g.edge_area[lo:hi], 3, kind))
    )
    anchor = g.edge_anchor[lo:hi]
    position = g.edge_position[lo:hi]
    status = g.edge_status[lo:hi]
    rel = g.edge_rel[lo:hi]
    columns = [
        pa.array(g.fetch_time[fetch], _TS),
        g.node_url.take(pa.array(src)),
        pa.array(g.node_id[src]),
        g.host_name.take(pa.array(shost)),
        g.domain_name.take(pa.array(g.host_domain[shost])),
        g.node_url.take(pa.array(tgt)),
        pa.array(g.node_id[tgt]),
        g.host_name.take(pa.array(thost)),
        g.domain_name.take(pa.array(g.host_domain[thost])),
        link_type,
        anchors.take(pa.array(np.maximum(anchor, 0), mask=anchor < 0)),
        rels.take(pa.array(rel)),
        pa.array((rel & 1) > 0),
        pa.array((rel & 2) > 0),
        pa.array((rel & 4) > 0),
        pa.array(g.fetch_page_nofollow[fetch]),
        pa.array(g.edge_image[lo:hi]),
        pa.array(shost == thost),
        pa.array(position, mask=position < 0),
        pa.array(status, mask=status == 0),
        pa.nulls(hi - lo, _TS),  # lastmod: sitemap entries only, and there are none here
    ]
    return pa.Table.from_arrays(columns, schema=EDGES_SCHEMA)


def _page_table(g: _Graph, lo: int, hi: int, worker: str) -> pa.Table:
    n = hi - lo
    node = g.fetch_node[lo:hi]
    host = g.node_host[node]
    redirect = g.fetch_redirect[lo:hi]
    nofollow = g.fetch_page_nofollow[lo:hi]
    first_edge = g.fetch_start[lo:hi]
    last_target = g.edge_tgt[np.minimum(g.fetch_start[lo + 1 : hi + 1], len(g.edge_tgt)) - 1]
    # The redirect edge is a redirect page's only row; the canonical edge is a variant's last.
    redirect_to = g.node_url.take(pa.array(g.edge_tgt[np.minimum(first_edge, len(g.edge_tgt) - 1)]))
    canonical = g.node_url.take(pa.array(last_target))
    html = ~redirect
    none = pa.nulls(n, pa.string())
    zeros = pa.array(np.zeros(n, np.int32))
    columns = [
        pa.array(g.fetch_time[lo:hi], _TS),
        g.node_url.take(pa.array(node)),
        pa.array(g.node_id[node]),
        g.host_name.take(pa.array(host)),
        g.domain_name.take(pa.array(g.host_domain[host])),
        pa.array(
            np.where(
                redirect, g.edge_status[np.minimum(first_edge, len(g.edge_status) - 1)], 200
            ).astype(np.int16)
        ),
        none,
        pc.if_else(pa.array(html), "text/html; charset=utf-8", none),
        pa.array(np.where(html, 2_000 + 400 * g.fetch_links[lo:hi], 0), mask=~html),
        pa.array(np.where(node == g.host_start[host], 0, 1 + node % 6).astype(np.int16)),
        pc.if_else(pa.array(html), "utf-8", none),
        pc.if_else(
            pa.array(html),
            pc.binary_join_element_wise("Page ", pc.cast(pa.array(node), pa.string()), ""),
            none,
        ),
        pc.if_else(pa.array(nofollow), "nofollow", none),
        none,
        pa.array(np.zeros(n, bool)),
        pa.array(nofollow),
        pc.if_else(pa.array(g.fetch_canonical[lo:hi]), canonical, none),
        pc.if_else(pa.array(redirect), redirect_to, none),
        none,
        pa.array(g.fetch_rows[lo:hi].astype(np.int32)),
        zeros,
        zeros,
        zeros,
        pa.array([worker] * n),
    ]
    return pa.Table.from_arrays(columns, schema=PAGES_SCHEMA)


def _write(table: pa.Table, directory: Path, name: str, batch_rows: int) -> int:
    """Write as ``ParquetPartWriter`` does: hidden temporary name, then rename."""
    directory.mkdir(parents=True, exist_ok=True)
    tmp = directory / f".{name}.tmp"
    with pq.ParquetWriter(
        tmp,
        table.schema,
        compression=defaults.PARQUET_COMPRESSION,
        compression_level=defaults.PARQUET_COMPRESSION_LEVEL,
        use_dictionary=True,
        write_statistics=True,
    ) as writer:
        writer.write_table(table, row_group_size=batch_rows)
    os.replace(tmp, directory / name)
    return (directory / name).stat().st_size


def write_synthetic_edges(
    root: Path,
    nodes: int,
    edges: int,
    seed: int,
    *,
    crawl_id: str = "bench",
    workers: int = 4,
    rows_per_file: int = defaults.PARQUET_ROWS_PER_FILE,
    batch_rows: int = defaults.PARQUET_BATCH_ROWS,
    pages: bool = True,
) -> dict[str, Any]:
    """Write a synthetic crawl of about ``nodes`` URLs and ``edges`` edge rows under ``root``.

    Deterministic for the arguments. Returns the counts (see the module docstring).
    """
    if nodes < 2 or edges < 1 or workers < 1:
        raise ValueError("need nodes >= 2, edges >= 1, workers >= 1")
    started = time.monotonic()
    root = Path(root)
    g = _Graph(nodes, edges, seed, workers)
    built = time.monotonic() - started
    rels, anchors = _rel_combos(), _anchors()
    files = 0
    size = 0
    for worker in range(workers):
        name = f"synthetic-w{worker}"
        mine = np.flatnonzero(g.fetch_worker == worker)
        if not len(mine):
            continue
        first, stop = int(mine[0]), int(mine[-1]) + 1  # a worker's fetches are contiguous
        seq = 0
        while first < stop:
            # As the pipeline does: a file is committed once it holds rows_per_file rows.
            rows_before = g.fetch_start[first]
            end = int(np.searchsorted(g.fetch_start, rows_before + rows_per_file, "left"))
            end = min(max(end, first + 1), stop)
            lo, hi = int(g.fetch_start[first]), int(g.fetch_start[end])
            part = f"part-{name}-{seq:06d}.parquet"
            if hi > lo:
                edges_dir = root / "edges" / f"{PARTITION_COLUMN}={crawl_id}"
                size += _write(_edge_table(g, lo, hi, rels, anchors), edges_dir, part, batch_rows)
                files += 1
            if pages:
                pages_dir = root / "pages" / f"{PARTITION_COLUMN}={crawl_id}"
                size += _write(_page_table(g, first, end, name), pages_dir, part, batch_rows)
            first, seq = end, seq + 1

    link = g.edge_kind == 0
    seen = np.zeros(nodes, bool)
    seen[g.edge_src] = True
    seen[g.edge_tgt] = True
    old_rows = g.fetch_rows[g.fetch_old]
    counts: dict[str, Any] = {
        "generator_version": GENERATOR_VERSION,
        "nodes": nodes,
        "edges_requested": edges,
        "seed": seed,
        "crawl_id": crawl_id,
        "workers": workers,
        "edges": len(g.edge_src),
        "nodes_in_edges": int(seen.sum()),
        "hosts": len(g.host_size),
        "domains": len(g.domain_name),
        "fetches": len(g.fetch_node),
        "pages_fetched": int(g.crawled.sum()),
        "link_edges": int(link.sum()),
        "internal_share": round(
            float((g.node_host[g.edge_src] == g.node_host[g.edge_tgt])[link].mean()), 4
        ),
        "nofollow_edges": int((g.edge_rel & 1).astype(bool).sum()),
        "sponsored_edges": int((g.edge_rel & 2).astype(bool).sum()),
        "ugc_edges": int((g.edge_rel & 4).astype(bool).sum()),
        "self_links": int((link & (g.edge_src == g.edge_tgt)).sum()),
        "redirect_edges": int((g.edge_kind == 1).sum()),
        "canonical_edges": int((g.edge_kind == 2).sum()),
        "recrawled_pages": int(g.fetch_old.sum()),
        "old_fetch_edges": int(old_rows.sum()),
        "page_nofollow_pages": int(g.fetch_page_nofollow.sum()),
        "page_nofollow_edges": int(g.fetch_rows[g.fetch_page_nofollow].sum()),
        "edge_files": files,
        "bytes": size,
        "build_s": round(built, 2),
        "seconds": round(time.monotonic() - started, 2),
    }
    (root / "synthetic.json").write_text(json.dumps(counts, indent=1) + "\n")
    return counts


def parse_count(text: str) -> int:
    """``"9M"`` -> 9_000_000, ``"90k"`` -> 90_000, ``"1500"`` -> 1500."""
    text = text.strip().lower().replace("_", "")
    scale = {"k": 1_000, "m": 1_000_000, "g": 1_000_000_000}.get(text[-1:], 1)
    number = text[:-1] if scale > 1 else text
    return round(float(number) * scale)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("root", type=Path, help="output directory (the crawl's LINKCRAWL_OUTPUT)")
    parser.add_argument("--nodes", type=parse_count, default=1_000_000)
    parser.add_argument("--edges", type=parse_count, default=9_000_000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--crawl-id", default="bench")
    parser.add_argument("--workers", type=int, default=4)
    parser.add_argument("--no-pages", action="store_true", help="write the edges table only")
    args = parser.parse_args(argv)
    counts = write_synthetic_edges(
        args.root, args.nodes, args.edges, args.seed,
        crawl_id=args.crawl_id, workers=args.workers, pages=not args.no_pages,
    )  # fmt: skip
    print(json.dumps(counts))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
