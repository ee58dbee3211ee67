"""The baseline of ``benchmarks/authority.py``: page PageRank with python-igraph, from Parquet.

    python benchmarks/igraph_baseline.py --input OUT --output FILE [--crawl-id ID ...]

What a user without linkcrawl's node ids and authority job would write, with the tools a
Python user reaches for: pyarrow reads the edge files' URL columns and the few flag columns
the rules need, and the ``pages`` table's url and fetch time (not ``source_id``,
``target_id`` or ``node_id``: numbering the URLs is part of the baseline's cost); one Arrow
dictionary encoding numbers the URLs; numpy applies the job's graph rules (below);
``igraph.Graph`` is built from a list of edge tuples (its fastest documented input: numpy
arrays and memoryviews go through a slower path); PRPACK PageRank (damping 0.85,
directed); url + pagerank written with pyarrow.

The rules are the authority job's (``docs/authority.md``, ``linkcrawl/authority/graph.py``),
so that the two rankings can be compared:

1. only the latest fetch of each source page counts; a later answered fetch in the
   ``pages`` table (status below 500) retires the links of the fetch before, even when it
   found none;
2. each source URL with ``redirect``, ``refresh`` or ``canonical`` edges is folded into one
   target (a redirect before a refresh before a canonical, then the first target), chains
   followed to their end, a cycle folded into one of its URLs;
3. links (``a``, ``area``) then join the folded URLs, and a (source, target) pair passes
   authority once if any of its rows is neither ``nofollow``, ``sponsored``, ``ugc`` nor
   ``page_nofollow``; links of a page to itself pass nothing;
4. every URL of the latest fetches is a node, after folding, even when no link passes it
   authority.

Where the job breaks ties by node id (which of a page's fold edges of one type wins, which
URL names a folded cycle) this script, which has no node ids, takes the URL it numbered
first: the synthetic crawls have no page with two fold edges of one type, so only the URL
that names a folded cycle can differ.

Does not import linkcrawl. Prints one JSON line: node and edge counts, seconds per stage.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import igraph
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.dataset as ds
import pyarrow.parquet as pq

COLUMNS = [
    "source_url", "target_url", "fetch_time", "link_type",
    "nofollow", "sponsored", "ugc", "page_nofollow",
]  # fmt: skip
LINK_TYPES = ("a", "area")
FOLD_TYPES = ("redirect", "refresh", "canonical")  # priority order


def read_edges(root: Path, crawl_ids: list[str]) -> pa.Table:
    dataset = ds.dataset(root / "edges", format="parquet", partitioning="hive")
    where = None
    if crawl_ids:
        where = ds.field("crawl_id").isin(crawl_ids)
    return dataset.to_table(columns=COLUMNS, filter=where)


def page_fetches(root: Path, crawl_ids: list[str], urls: pa.Array) -> tuple[np.ndarray, np.ndarray]:
    """URL number and fetch time of every answered fetch in the ``pages`` table."""
    if not (root / "pages").is_dir():
        return np.zeros(0, np.int64), np.zeros(0, np.int64)
    dataset = ds.dataset(root / "pages", format="parquet", partitioning="hive")
    where = ds.field("status") < 500
    if crawl_ids:
        where &= ds.field("crawl_id").isin(crawl_ids)
    table = dataset.to_table(columns=["url", "fetch_time"], filter=where)
    number = pc.index_in(table["url"], value_set=urls)
    known = pc.is_valid(number)
    fetched = pc.filter(table["fetch_time"], known).cast(pa.int64())
    return pc.filter(number, known).to_numpy(), fetched.to_numpy()


def number_urls(table: pa.Table) -> tuple[pa.Array, np.ndarray, np.ndarray]:
    """Both URL columns through one dictionary: the URLs, and source and target numbers."""
    both = pa.chunked_array(table["source_url"].chunks + table["target_url"].chunks)
    encoded = both.dictionary_encode()
    if encoded.num_chunks == 0:
        return pa.array([], pa.string()), np.zeros(0, np.int32), np.zeros(0, np.int32)
    urls = encoded.chunk(encoded.num_chunks - 1).dictionary  # chunks share one dictionary
    numbers = np.concatenate([c.indices.to_numpy() for c in encoded.chunks])
    return urls, numbers[: table.num_rows], numbers[table.num_rows :]


def flag(table: pa.Table, column: str) -> np.ndarray:
    return table[column].to_numpy().astype(bool, copy=False)


def fold_map(n: int, src: np.ndarray, dst: np.ndarray, priority: np.ndarray) -> np.ndarray:
    """URL number -> the URL it is folded into: one fold edge per source (lowest priority,
    then lowest target), chains followed to their end, a cycle to its lowest number."""
    into = np.arange(n, dtype=np.int64)
    live = src != dst
    src, dst, priority = src[live], dst[live], priority[live]
    if not src.size:
        return into
    order = np.lexsort((dst, priority, src))
    src, dst = src[order], dst[order]
    first = np.concatenate([[True], src[1:] != src[:-1]])
    src, dst = src[first], dst[first]
    # Pointer doubling over the URLs that take part, numbered 0..k-1 in ascending order:
    # after r rounds `step` is f^(2^r) and `lowest` the lowest URL on those 2^r steps.
    local = np.unique(np.concatenate([src, dst]))
    step = np.arange(local.size)
    step[np.searchsorted(local, src)] = np.searchsorted(local, dst)
    lowest = np.minimum(step, np.arange(local.size))
    for _ in range(int(np.ceil(np.log2(local.size))) + 1):
        lowest = np.minimum(lowest, lowest[step])
        step = step[step]
    # `step` has reached each chain's end, or a URL on the cycle the chain runs into; the
    # lowest URL over 2^r >= k steps from there is the cycle's lowest (or the end itself).
    into[local] = local[lowest[step]]
    return into


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--input", type=Path, required=True, help="crawl output root")
    parser.add_argument("--output", type=Path, required=True, help="Parquet file to write")
    parser.add_argument("--crawl-id", action="append", default=[], help="default: all")
    args = parser.parse_args(argv)

    stages: dict[str, float] = {}
    clock = time.monotonic()

    def stage(name: str) -> None:
        nonlocal clock
        now = time.monotonic()
        stages[name] = round(now - clock, 3)
        clock = now

    table = read_edges(args.input, args.crawl_id)
    rows = table.num_rows
    stage("read")
    urls, src, dst = number_urls(table)
    table = table.drop_columns(["source_url", "target_url"])
    n = len(urls)
    stage("number_urls")

    # The latest fetch of each source page.
    fetched = table["fetch_time"].to_numpy().view(np.int64)
    latest = np.full(n, np.iinfo(np.int64).min)
    np.maximum.at(latest, src, fetched)
    np.maximum.at(latest, *page_fetches(args.input, args.crawl_id, urls))
    current = fetched == latest[src]
    del fetched, latest
    kinds = pc.dictionary_encode(table["link_type"]).combine_chunks()
    names = kinds.dictionary.to_pylist()
    kind = kinds.indices.to_numpy()
    is_link = np.isin(kind, [names.index(t) for t in LINK_TYPES if t in names]) & current
    passes = is_link.copy()
    for column in ("nofollow", "sponsored", "ugc", "page_nofollow"):
        passes &= ~flag(table, column)
    priority = np.full(len(names), len(FOLD_TYPES))
    for i, name in enumerate(names):
        if name in FOLD_TYPES:
            priority[i] = FOLD_TYPES.index(name)
    folds = np.flatnonzero(current & (priority[kind] < len(FOLD_TYPES)))
    into = fold_map(n, src[folds], dst[folds], priority[kind[folds]])
    del table, kind, kinds, folds, is_link

    src, dst = into[src], into[dst]
    # Nodes: every URL of the latest fetches, folded; numbered 0..m-1.
    node = np.zeros(n, bool)
    node[src[current]] = True
    node[dst[current]] = True
    number = np.cumsum(node, dtype=np.int64) - 1
    m = int(node.sum())
    passes &= src != dst
    pairs = number[src[passes]] * m + number[dst[passes]]
    pairs.sort()  # distinct pairs: sort + neighbours (np.unique is ~50x slower in numpy 2.4)
    pairs = pairs[np.concatenate([[True], pairs[1:] != pairs[:-1]])]
    del src, dst, current, passes
    stage("rules")

    edges = list(zip((pairs // m).tolist(), (pairs % m).tolist(), strict=True))
    del pairs
    graph = igraph.Graph(n=m, edges=edges, directed=True)
    del edges
    stage("graph")
    scores = graph.pagerank(damping=0.85, directed=True, implementation="prpack")
    stage("pagerank")

    out = pa.table({"url": urls.take(pa.array(np.flatnonzero(node))), "pagerank": scores})
    args.output.parent.mkdir(parents=True, exist_ok=True)
    pq.write_table(out, args.output, compression="zstd")
    stage("write")
    print(json.dumps({"rows": rows, "urls": n, "nodes": m, "edges": graph.ecount(), **stages}))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
