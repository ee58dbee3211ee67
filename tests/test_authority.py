"""The authority job (``linkcrawl authority``): every graph rule on small hand-made edge
datasets, checked against networkx on the graph the rules should produce (written out by
hand in each test); the outputs, the atomic write, bad input; and, end to end, the tables
of a real crawl of the test web against the same job run on the test web's own answers."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import duckdb
import networkx as nx
import numpy as np
import polars as pl
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from linkcrawl.authority import graph, job
from linkcrawl.authority.job import AuthorityConfig, AuthorityError, run
from linkcrawl.cli import main
from linkcrawl.schema import AUTHORITY_SCHEMAS, EDGES_SCHEMA, PAGES_SCHEMA, SCHEMA_VERSION
from linkcrawl.urls import node_id, url_facts
from tests.conftest import DEPTH_LIMIT, ROOT, Crawl, WebServer

T0 = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)
TOL = 1e-13  # both sides iterate to this tolerance; results are compared within 1e-9


# --- building edge datasets -------------------------------------------------------------


def edge(
    src: str,
    dst: str,
    *,
    t: int = 0,
    kind: str = "a",
    rel: tuple[str, ...] = (),
    page_nofollow: bool = False,
) -> dict[str, Any]:
    """One EDGES_SCHEMA row; ``t`` is the fetch time in seconds after T0."""
    s, d = url_facts(src), url_facts(dst)
    return {
        "fetch_time": T0 + timedelta(seconds=t),
        "source_url": s.url, "source_id": s.node_id,
        "source_host": s.host, "source_domain": s.domain,
        "target_url": d.url, "target_id": d.node_id,
        "target_host": d.host, "target_domain": d.domain,
        "link_type": kind, "anchor_text": None, "rel": list(rel),
        "nofollow": "nofollow" in rel, "sponsored": "sponsored" in rel, "ugc": "ugc" in rel,
        "page_nofollow": page_nofollow, "image": False, "internal": s.host == d.host,
        "position": 0 if kind in ("a", "area") else None,
        "http_status": 301 if kind == "redirect" else None,
    }  # fmt: skip


def write_edges(
    root: Path, rows: list[dict[str, Any]], *, crawl_id: str = "c1", name: str = "part-0"
) -> Path:
    directory = root / "edges" / f"crawl_id={crawl_id}"
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / f"{name}.parquet"
    pq.write_table(pa.Table.from_pylist(rows, schema=EDGES_SCHEMA), path)
    return path


def authority(root: Path, **options: Any) -> tuple[dict[str, Any], dict[str, dict[Any, Any]]]:
    """Run the job in-process; return its summary and each table keyed by url/host/domain."""
    options.setdefault("tol", TOL)
    options.setdefault("max_iter", 10_000)
    out = options.pop("output", root / "authority")
    summary = run(AuthorityConfig(input=root, output=out, **options))
    tables = {}
    for name, key in (("pages", "url"), ("hosts", "host"), ("domains", "domain")):
        rows = pq.read_table(out / f"{name}.parquet").to_pylist()
        tables[name] = {r[key]: r for r in rows}
    return summary, tables


def nx_pagerank(
    nodes: list[str],
    edges: list[tuple[str, str]] | list[tuple[str, str, float]],
    personalization: dict[str, float] | None = None,
) -> dict[str, float]:
    g = nx.DiGraph()
    g.add_nodes_from(nodes)
    for e in edges:
        g.add_edge(e[0], e[1], weight=e[2] if len(e) == 3 else 1.0)
    result: dict[str, float] = nx.pagerank(
        g, alpha=0.85, personalization=personalization, tol=TOL, max_iter=10_000
    )
    return result


def assert_pagerank(
    table: dict[Any, dict[str, Any]], expected: dict[str, float], column: str = "pagerank"
) -> None:
    assert set(table) == set(expected)
    for key, value in expected.items():
        assert table[key][column] == pytest.approx(value, abs=1e-9), key


# --- rule 1: the latest fetch -----------------------------------------------------------

A, B, C, D, E = (f"http://{x}.test/" for x in "abcde")


def test_only_the_latest_fetch_of_a_page_counts(tmp_path: Path) -> None:
    write_edges(tmp_path, [edge(A, B, t=0), edge(A, C, t=0), edge(B, A, t=0)], crawl_id="old")
    write_edges(tmp_path, [edge(A, D, t=60), edge(D, A, t=60)], crawl_id="new")
    summary, t = authority(tmp_path)
    # A's older fetch (-> B, -> C) is gone; B's only fetch stays (it was not re-fetched).
    assert_pagerank(t["pages"], nx_pagerank([A, B, D], [(A, D), (D, A), (B, A)]))
    assert summary["counts"]["dropped"]["stale_fetch"] == 2
    assert summary["counts"]["rows_read"] == 5
    # --crawl-id selects partitions: the old crawl alone still has A -> B, A -> C.
    _, old = authority(tmp_path, crawl_ids=("old",), output=tmp_path / "old")
    assert_pagerank(old["pages"], nx_pagerank([A, B, C], [(A, B), (A, C), (B, A)]))


def test_latest_fetch_with_several_runs_and_files(tmp_path: Path) -> None:
    # The same fetch split across files (rows of one fetch share their time) is one fetch.
    write_edges(tmp_path, [edge(A, B, t=5), edge(A, C, t=1)], name="part-0")
    write_edges(tmp_path, [edge(A, D, t=5), edge(B, A, t=1)], name="part-1")
    summary, t = authority(tmp_path)
    assert_pagerank(t["pages"], nx_pagerank([A, B, D], [(A, B), (A, D), (B, A)]))
    assert summary["counts"]["dropped"]["stale_fetch"] == 1


def write_pages(
    root: Path, fetches: list[tuple[str, int, int | None]], crawl_id: str = "c1"
) -> None:
    """A pages table: (url, fetch time in seconds after T0, HTTP status or None)."""
    rows = []
    for url, t, status in fetches:
        f = url_facts(url)
        rows.append({
            "fetch_time": T0 + timedelta(seconds=t), "url": f.url, "node_id": f.node_id,
            "host": f.host, "domain": f.domain, "status": status,
            "fetch_error": None if status else "timeout", "content_type": None, "bytes": None,
            "depth": 0, "encoding": None, "title": None, "meta_robots": None,
            "x_robots_tag": None, "noindex": False, "nofollow": False, "canonical": None,
            "redirect_target": None, "refresh_target": None, "outlinks": 0,
            "fragment_links": 0, "non_http_links": 0, "invalid_links": 0, "worker": "w",
        })  # fmt: skip
    directory = root / "pages" / f"crawl_id={crawl_id}"
    directory.mkdir(parents=True, exist_ok=True)
    pq.write_table(pa.Table.from_pylist(rows, schema=PAGES_SCHEMA), directory / "part-0.parquet")


def test_a_later_fetch_without_links_retires_the_older_links(tmp_path: Path) -> None:
    # A's re-fetch at t=10 answered 404 (no edges); B's re-fetch failed (no answer) and C's
    # got a 503: those two say nothing about the page, their older links stay.
    write_edges(tmp_path, [edge(A, B), edge(A, C), edge(B, C), edge(C, A)])
    write_pages(tmp_path, [(A, 0, 200), (A, 10, 404), (B, 0, 200), (B, 10, None),
                           (C, 0, 200), (C, 10, 503), (E, 5, 200)])  # fmt: skip
    summary, t = authority(tmp_path)
    assert_pagerank(t["pages"], nx_pagerank([A, B, C], [(B, C), (C, A)]))
    assert summary["counts"]["dropped"]["stale_fetch"] == 2
    assert summary["counts"]["page_files"] == 1
    # the pages table of another crawl is not read
    _, other = authority(tmp_path, crawl_ids=("c1",), output=tmp_path / "o")
    assert set(other["pages"]) == {A, B, C}


# --- rule 2: folding ------------------------------------------------------------------------

R1, R2, F, X, Y = (f"http://r.test/{p}" for p in ("r1", "r2", "final", "x", "y"))


def test_redirect_chain_folds_into_its_final_target(tmp_path: Path) -> None:
    write_edges(tmp_path, [
        edge(X, R1), edge(R1, R2, kind="redirect"), edge(R2, F, kind="redirect"),
        edge(F, X), edge(Y, R2), edge(R1, Y),  # R1's own link row becomes F's
    ])  # fmt: skip
    summary, t = authority(tmp_path)
    assert_pagerank(t["pages"], nx_pagerank([X, Y, F], [(X, F), (F, X), (Y, F), (F, Y)]))
    assert t["pages"][F]["folded_urls"] == 2
    assert t["pages"][F]["in_links"] == 2  # X -> R1 and Y -> R2, both now to F
    assert summary["counts"]["folded_urls"] == 2
    assert summary["counts"]["dropped"]["fold_edge"] == 2


def test_fold_cycle_collapses_to_its_smallest_node_id(tmp_path: Path) -> None:
    p, q, tail = "http://cy.test/p", "http://cy.test/q", "http://cy.test/tail"
    write_edges(tmp_path, [
        edge(p, q, kind="canonical"), edge(q, p, kind="redirect"),
        edge(tail, p, kind="refresh"), edge(X, tail), edge(p, Y), edge(q, X),
    ])  # fmt: skip
    rep = min((p, q), key=node_id)
    _, t = authority(tmp_path)
    assert_pagerank(t["pages"], nx_pagerank([rep, X, Y], [(X, rep), (rep, Y), (rep, X)]))
    assert t["pages"][rep]["folded_urls"] == 2


def test_fold_priority_redirect_then_refresh_then_canonical(tmp_path: Path) -> None:
    s1, s2, s3, self_canonical = (f"http://f.test/s{i}" for i in range(4))
    c1, c2 = sorted(("http://f.test/c1", "http://f.test/c2"), key=node_id)
    write_edges(tmp_path, [
        # s1: canonical, refresh and redirect; the redirect wins
        edge(s1, c1, kind="canonical"), edge(s1, Y, kind="refresh"), edge(s1, X, kind="redirect"),
        # s2: canonical and refresh; the refresh wins
        edge(s2, c1, kind="canonical"), edge(s2, Y, kind="refresh"),
        # s3: two canonicals; the smaller target id wins
        edge(s3, c2, kind="canonical"), edge(s3, c1, kind="canonical"),
        # a self-canonical is a no-op: the page stays a page with its links
        edge(self_canonical, self_canonical, kind="canonical"), edge(self_canonical, X),
    ])  # fmt: skip
    summary, t = authority(tmp_path)
    # Unused fold edges are dropped; their targets stay nodes of the graph.
    assert set(t["pages"]) == {X, Y, c1, c2, self_canonical}
    assert t["pages"][X]["folded_urls"] == 1
    assert t["pages"][Y]["folded_urls"] == 1
    assert t["pages"][c1]["folded_urls"] == 1
    assert t["pages"][c2]["folded_urls"] == 0
    assert_pagerank(t["pages"], nx_pagerank([X, Y, c1, c2, self_canonical], [(self_canonical, X)]))
    dropped = summary["counts"]["dropped"]
    assert (dropped["fold_edge"], dropped["fold_unused"], dropped["fold_noop"]) == (3, 4, 1)


def test_node_ids_map_to_dense_indices_in_id_order(tmp_path: Path) -> None:
    rows = [edge(f"http://h{i % 7}.test/{i % 13}", f"http://h{i % 5}.test/{i % 11}", t=i % 3)
            for i in range(300)]  # fmt: skip
    for part in range(4):
        write_edges(tmp_path, rows[part::4], name=f"part-{part}")
    files = graph.find_edge_files(tmp_path)
    raw = graph.read_edges(files)
    sources = [r["source_id"] for f in files for r in pq.read_table(f.path).to_pylist()]
    targets = [r["target_id"] for f in files for r in pq.read_table(f.path).to_pylist()]
    node_ids, src, dst = graph.map_node_ids(raw)
    assert node_ids.tolist() == sorted(set(sources) | set(targets))
    assert node_ids[src].tolist() == sources
    assert node_ids[dst].tolist() == targets


def test_resolve_folds_matches_a_plain_walk() -> None:
    rng = np.random.default_rng(3)
    for _ in range(50):
        n = int(rng.integers(2, 40))
        sources = rng.choice(n, size=int(rng.integers(1, n)), replace=False)
        targets = rng.integers(0, n, sources.size)
        keep = sources != targets
        sources, targets = sources[keep], targets[keep]
        rep = graph.resolve_folds(sources, targets, n)
        step = dict(zip(sources.tolist(), targets.tolist(), strict=True))
        for start in range(n):
            path, node = [start], start
            while node in step and step[node] not in path:
                node = step[node]
                path.append(node)
            if node in step:  # entered a cycle: it starts at step[node]
                cycle = path[path.index(step[node]) :]
                want = min(cycle)
            else:
                want = node
            assert rep[start] == want, (start, step)


def test_first_occurrences_prefer_a_source_row() -> None:
    rng = np.random.default_rng(5)
    for _ in range(50):
        n = int(rng.integers(1, 30))
        # Rows in runs of one source, as the crawler writes a page's links together.
        run_source = rng.integers(0, n, int(rng.integers(1, 12))).astype(np.int32)
        run_length = rng.integers(1, 5, run_source.size)
        src = np.repeat(run_source, run_length)
        dst = rng.integers(0, n, src.size).astype(np.int32)
        run_start = np.concatenate([[0], np.cumsum(run_length)[:-1]]).astype(np.int64)
        # Every node 0..n-1 is named: the ones not yet are linked to by the last run.
        unnamed = np.setdiff1d(np.arange(n), np.union1d(src, dst))
        dst = np.concatenate([dst, unnamed.astype(np.int32)])
        src = np.concatenate([src, np.full(unnamed.size, src[-1], np.int32)])
        want = {}
        for row, node in enumerate(src.tolist()):
            want.setdefault(node, row * 2)
        for row, node in enumerate(dst.tolist()):
            want.setdefault(node, row * 2 + 1)
        for starts in (run_start, None):
            nodes, positions = graph.first_occurrences(src, dst, n, starts)
            assert positions.tolist() == sorted(positions.tolist())
            assert dict(zip(nodes.tolist(), positions.tolist(), strict=True)) == want


# --- rule 3: self links, duplicates, page nofollow ---------------------------------------


@pytest.mark.parametrize("rel_weight", [0.0, 0.5, 1.0])
def test_link_classes_of_every_flags_byte(rel_weight: float) -> None:
    flags = np.arange(256, dtype=np.uint8)
    got = graph.link_classes(flags, rel_weight)
    assert got.dtype == np.uint8
    for byte, cls in zip(flags.tolist(), got.tolist(), strict=True):
        if byte & graph.PAGE_NOFOLLOW:
            assert cls == graph.PASSES_NOTHING
        elif byte & graph.REL_FLAGGED:
            assert cls == (graph.PASSES_REL_WEIGHT if rel_weight else graph.PASSES_NOTHING)
        else:
            assert cls == graph.PASSES_FULL


@pytest.mark.parametrize("threads", [1, 2])
def test_link_pairs_match_a_dictionary(monkeypatch: pytest.MonkeyPatch, threads: int) -> None:
    monkeypatch.setattr(graph, "_PARALLEL_ROWS", 8)  # (two threads from 8 rows on)
    rng = np.random.default_rng(7)
    for _ in range(60):
        m = int(rng.integers(1, 12))
        # Runs of rows of one source, a source sometimes in several runs (folded pages).
        run_source = rng.integers(0, m, int(rng.integers(1, 15)))
        src = np.repeat(run_source, rng.integers(1, 6, run_source.size)).astype(np.int32)
        dst = rng.integers(0, m, src.size).astype(np.int32)
        cls = rng.integers(0, 3, src.size).astype(np.uint8)
        counted = rng.random(src.size) < 0.8  # the rows to count (the others are not links)
        want: dict[tuple[int, int], list[int]] = {}
        for s, d, c, k in zip(src.tolist(), dst.tolist(), cls.tolist(), counted, strict=True):
            if k:
                best, rows, passing = want.get((s, d), [0, 0, 0])
                want[(s, d)] = [max(best, c), rows + 1, passing + (c > 0)]
        pairs = graph.link_pairs(src, dst, cls, m, threads=threads, rows=counted)
        got = {
            (s, d): [b, r, p]
            for s, d, b, r, p in zip(pairs.src.tolist(), pairs.dst.tolist(), pairs.best.tolist(),
                                     pairs.rows.tolist(), pairs.passing.tolist(), strict=True)
        }  # fmt: skip
        assert len(got) == pairs.size  # distinct
        assert got == want


def test_self_links_duplicates_and_page_nofollow(tmp_path: Path) -> None:
    write_edges(tmp_path, [
        edge(A, A), edge(A, B), edge(A, B), edge(A, B, rel=("nofollow",)), edge(A, C),
        edge(B, C, rel=("nofollow",)), edge(B, C),  # followed: one occurrence passes
        edge(D, A, page_nofollow=True), edge(D, B, page_nofollow=True),
    ])  # fmt: skip
    summary, t = authority(tmp_path)
    assert_pagerank(t["pages"], nx_pagerank([A, B, C, D], [(A, B), (A, C), (B, C)]))
    b = t["pages"][B]
    assert (b["in_links"], b["dofollow_in_links"], b["referring_pages"]) == (4, 2, 2)
    a = t["pages"][A]
    assert (a["in_links"], a["dofollow_in_links"], a["referring_pages"]) == (1, 0, 1)
    d = summary["counts"]["dropped"]
    assert (d["self_link"], d["page_nofollow"], d["rel_excluded"], d["duplicate"]) == (1, 2, 2, 1)
    assert summary["counts"]["edges_kept"] == 3
    assert summary["counts"]["rows_read"] == sum(d.values()) + 3


def test_unknown_link_types_are_counted_and_dropped(tmp_path: Path) -> None:
    write_edges(tmp_path, [edge(A, B), edge(B, A), edge(A, C, kind="ping")])
    summary, t = authority(tmp_path)
    assert summary["counts"]["dropped"]["unknown_link_type"] == 1
    # its URLs are still nodes (every URL of a kept row is), but it passes nothing
    assert_pagerank(t["pages"], nx_pagerank([A, B, C], [(A, B), (B, A)]))
    assert t["pages"][C]["in_links"] == 0


def test_sitemap_rows_make_their_targets_nodes_and_pass_nothing(tmp_path: Path) -> None:
    sitemap = "http://a.test/sitemap.xml"
    write_edges(tmp_path, [
        edge(A, B), edge(B, A),
        edge(sitemap, A, kind="sitemap"), edge(sitemap, C, kind="sitemap"),
    ])  # fmt: skip
    summary, t = authority(tmp_path)
    d = summary["counts"]["dropped"]
    assert d["sitemap"] == 2
    assert d["unknown_link_type"] == 0
    # C (found only in the sitemap) is a node; the sitemap file is not a page
    assert set(t["pages"]) == {A, B, C}
    assert_pagerank(t["pages"], nx_pagerank([A, B, C], [(A, B), (B, A)]))
    assert t["pages"][C]["in_links"] == 0
    assert t["pages"][A]["in_links"] == 1
    assert summary["counts"]["rows_read"] == sum(d.values()) + summary["counts"]["edges_kept"]


def test_schema_version_1_files_are_read(tmp_path: Path) -> None:
    # version 1: no lastmod column, no sitemap rows; the job reads it as version 2
    write_edges(tmp_path, [edge(A, B), edge(B, A), edge(B, C)])
    for path in (tmp_path / "edges").rglob("*.parquet"):
        table = pq.read_table(path).drop_columns(["lastmod"])
        meta = {**table.schema.metadata, b"linkcrawl.schema_version": b"1"}
        pq.write_table(table.replace_schema_metadata(meta), path)
    summary, t = authority(tmp_path)
    assert summary["counts"]["edges_kept"] == 3
    assert_pagerank(t["pages"], nx_pagerank([A, B, C], [(A, B), (B, A), (B, C)]))


# --- rule 4: rel and internal policies ------------------------------------------------------

IN1, IN2 = "http://a.test/1", "http://a.test/2"


def policy_rows() -> list[dict[str, Any]]:
    return [
        edge(A, B), edge(A, C, rel=("nofollow",)), edge(A, D, rel=("sponsored",)),
        edge(A, IN1), edge(IN1, IN2), edge(IN2, B, rel=("ugc",)), edge(B, A),
    ]  # fmt: skip


@pytest.mark.parametrize(
    ("rel", "internal", "weights"),
    [
        ("exclude", "include", {"rel": 0.0, "int": 1.0}),
        ("include", "include", {"rel": 1.0, "int": 1.0}),
        ("0.25", "include", {"rel": 0.25, "int": 1.0}),
        ("exclude", "exclude", {"rel": 0.0, "int": 0.0}),
        ("0.5", "0.3", {"rel": 0.5, "int": 0.3}),
    ],
)
def test_rel_and_internal_policies(
    tmp_path: Path, rel: str, internal: str, weights: dict[str, float]
) -> None:
    write_edges(tmp_path, policy_rows())
    _, t = authority(tmp_path, rel_policy=rel, internal_policy=internal)
    r, i = weights["rel"], weights["int"]
    candidates = [(A, B, 1.0), (A, C, r), (A, D, r), (A, IN1, i), (IN1, IN2, i),
                  (IN2, B, r), (B, A, 1.0)]  # fmt: skip
    edges = [e for e in candidates if e[2] > 0]
    assert_pagerank(t["pages"], nx_pagerank([A, B, C, D, IN1, IN2], edges))
    # dofollow_in_links follows the policies; in_links counts every row
    assert t["pages"][C]["in_links"] == 1
    assert t["pages"][C]["dofollow_in_links"] == (1 if r else 0)
    assert t["pages"][IN2]["dofollow_in_links"] == (1 if i else 0)


@pytest.mark.parametrize("value", ["0", "1.5", "-1", "nan", "sometimes", ""])
def test_policy_values_are_checked(value: str) -> None:
    with pytest.raises(AuthorityError, match="--rel-policy"):
        job.parse_policy("--rel-policy", value)


def test_uncrawled_targets_are_dangling_nodes(tmp_path: Path) -> None:
    # C and D are never fetched (no rows of their own): dangling, mass spread uniformly.
    write_edges(tmp_path, [edge(A, B), edge(A, C), edge(B, C), edge(B, D)])
    _, t = authority(tmp_path)
    assert_pagerank(t["pages"], nx_pagerank([A, B, C, D], [(A, B), (A, C), (B, C), (B, D)]))
    assert sum(r["pagerank"] for r in t["pages"].values()) == pytest.approx(1.0)


# --- counts ------------------------------------------------------------------------------


def test_count_columns(tmp_path: Path) -> None:
    target = "http://t.example.com/page"
    rows = [
        edge("http://t.example.com/", target),  # internal
        edge("http://t.example.com/", target),  # duplicate occurrence
        edge("http://blog.example.com/1", target),  # same domain, other host
        edge("http://blog.example.com/2", target, rel=("nofollow",)),
        edge("http://other.test/x", target, page_nofollow=True),
        edge("http://other.test/y", target, rel=("ugc",)),
        edge(target, target),  # self link: not counted
    ]
    write_edges(tmp_path, rows)
    _, t = authority(tmp_path)
    row = t["pages"][target]
    assert row["in_links"] == 6
    assert row["dofollow_in_links"] == 3
    assert row["referring_pages"] == 5
    assert row["referring_hosts"] == 3
    assert row["referring_domains"] == 2
    assert (row["host"], row["domain"]) == ("t.example.com", "example.com")
    assert row["node_id"] == node_id(target)
    assert row["trustrank"] is None and row["trust_rank"] is None


# --- hosts and domains ------------------------------------------------------------------

WX1, WX2, BX = "http://www.x.test/1", "http://www.x.test/2", "http://blog.x.test/"
YH, YP, ZH, WH = "http://y.test/", "http://y.test/p", "http://z.test/", "http://w.test/"


def site_rows() -> list[dict[str, Any]]:
    return [
        edge(WX1, YH), edge(WX2, YH), edge(WX2, YP),  # two pages of www.x -> y: one vote
        edge(BX, YH, rel=("nofollow",)),  # passes nothing
        edge(BX, WX1),  # blog.x -> www.x: a host edge, not a domain edge
        edge(YH, ZH), edge(YH, WH), edge(YP, YH),
        edge(ZH, WX1, page_nofollow=True),
        edge(WH, ZH), edge(WH, ZH),
    ]  # fmt: skip


def test_site_graphs_one_vote_per_referring_site(tmp_path: Path) -> None:
    write_edges(tmp_path, site_rows())
    summary, t = authority(tmp_path)
    hosts = ["www.x.test", "blog.x.test", "y.test", "z.test", "w.test"]
    host_edges = [("www.x.test", "y.test"), ("blog.x.test", "www.x.test"),
                  ("y.test", "z.test"), ("y.test", "w.test"), ("w.test", "z.test")]  # fmt: skip
    assert_pagerank(t["hosts"], nx_pagerank(hosts, host_edges))
    domains = ["x.test", "y.test", "z.test", "w.test"]
    domain_edges = [("x.test", "y.test"), ("y.test", "z.test"), ("y.test", "w.test"),
                    ("w.test", "z.test")]  # fmt: skip
    assert_pagerank(t["domains"], nx_pagerank(domains, domain_edges))

    g = nx.DiGraph(host_edges)
    for host, value in nx.harmonic_centrality(g).items():
        assert t["hosts"][host]["harmonic"] == pytest.approx(value)
    g = nx.DiGraph(domain_edges)
    for domain, value in nx.harmonic_centrality(g).items():
        assert t["domains"][domain]["harmonic"] == pytest.approx(value)
    assert summary["harmonic"]["hosts"]["exact"] is True

    def counts(row: dict[str, Any]) -> tuple[int, ...]:
        return tuple(row[k] for k in ("referring_hosts", "referring_domains", "backlinks_total",
                                      "backlinks_dofollow", "pages"))  # fmt: skip

    assert counts(t["hosts"]["y.test"]) == (2, 1, 4, 3, 2)
    assert counts(t["hosts"]["www.x.test"]) == (2, 1, 2, 1, 2)
    assert counts(t["hosts"]["z.test"]) == (2, 2, 3, 3, 1)
    assert counts(t["domains"]["x.test"]) == (1, 1, 1, 0, 3)
    assert counts(t["domains"]["y.test"]) == (2, 1, 4, 3, 2)
    assert t["hosts"]["blog.x.test"]["domain"] == "x.test"
    ranks = sorted((r["rank"], r["pagerank"]) for r in t["hosts"].values())
    assert [r for r, _ in ranks] == [1, 2, 3, 4, 5]
    assert [p for _, p in ranks] == sorted((p for _, p in ranks), reverse=True)
    assert max(r["score"] for r in t["hosts"].values()) == 100.0


def test_harmonic_is_sampled_above_the_work_budget(tmp_path: Path) -> None:
    write_edges(tmp_path, site_rows())
    summary, _ = authority(tmp_path, harmonic_work=1, harmonic_min_sources=3)
    assert summary["harmonic"]["hosts"] == {
        "exact": False, "sources": 3, "nodes": 5, "edges": 5, "seed": 0
    }  # fmt: skip
    meta = pq.read_schema(tmp_path / "authority" / "hosts.parquet").metadata
    assert json.loads(meta[b"linkcrawl.authority.harmonic"])["sources"] == 3


# --- TrustRank ------------------------------------------------------------------------------


def test_trustrank_teleports_to_the_seed_pages_and_sites(tmp_path: Path) -> None:
    redirect = "http://y.test/old"
    write_edges(tmp_path, [*site_rows(), edge(redirect, YP, kind="redirect")])
    seeds = tmp_path / "seeds.txt"
    # non-canonical spellings, a comment, a folded URL (counts as its target), an unknown URL
    seeds.write_text("# trusted\nHTTP://WWW.X.TEST/1#top\n\nhttp://y.test/old\n"
                     "http://unknown.test/\n")  # fmt: skip
    summary, t = authority(tmp_path, trust_seeds=seeds)
    nodes = [WX1, WX2, BX, YH, YP, ZH, WH]
    page_edges = [(WX1, YH), (WX2, YH), (WX2, YP), (BX, WX1), (YH, ZH), (YH, WH), (YP, YH),
                  (WH, ZH)]  # fmt: skip
    assert_pagerank(t["pages"], nx_pagerank(nodes, page_edges, {WX1: 1, YP: 1}), "trustrank")
    assert_pagerank(t["pages"], nx_pagerank(nodes, page_edges))
    hosts = ["www.x.test", "blog.x.test", "y.test", "z.test", "w.test"]
    host_edges = [("www.x.test", "y.test"), ("blog.x.test", "www.x.test"),
                  ("y.test", "z.test"), ("y.test", "w.test"), ("w.test", "z.test")]  # fmt: skip
    expected = nx_pagerank(hosts, host_edges, {"www.x.test": 1, "y.test": 1})
    assert_pagerank(t["hosts"], expected, "trustrank")
    trust_order = sorted(t["pages"], key=lambda u: (-t["pages"][u]["trustrank"], node_id(u)))
    assert [t["pages"][u]["trust_rank"] for u in trust_order] == list(range(1, 8))
    assert summary["counts"]["trust_seeds"] == {"urls": 3, "pages": 2}
    assert "pages.trustrank" in summary["rankings"]


# --- every rule at once, against a plain-Python reading of docs/authority.md ---------------

FOLD_PRIORITY = {"redirect": 0, "refresh": 1, "canonical": 2}


def reference(rows: list[dict[str, Any]], rel_w: float, int_w: float) -> dict[str, Any]:
    """The rules written the slow, obvious way, one dict per row."""
    latest: dict[str, datetime] = {}
    for r in rows:
        latest[r["source_url"]] = max(latest.get(r["source_url"], r["fetch_time"]), r["fetch_time"])
    kept = [r for r in rows if r["fetch_time"] == latest[r["source_url"]]]
    choice: dict[str, tuple[int, int, str]] = {}
    for r in kept:
        if r["link_type"] in FOLD_PRIORITY and r["source_url"] != r["target_url"]:
            key = (FOLD_PRIORITY[r["link_type"]], node_id(r["target_url"]), r["target_url"])
            choice[r["source_url"]] = min(choice.get(r["source_url"], key), key)

    def rep(url: str) -> str:
        path = [url]
        while url in choice:
            url = choice[url][2]
            if url in path:
                return min(path[path.index(url) :], key=node_id)
            path.append(url)
        return url

    host = {r[f"{side}_url"]: r[f"{side}_host"] for r in rows for side in ("source", "target")}
    domain = {r[f"{side}_url"]: r[f"{side}_domain"] for r in rows for side in ("source", "target")}
    nodes = {rep(r[f"{side}_url"]) for r in kept for side in ("source", "target")}
    pairs: dict[tuple[str, str], list[int]] = {}  # (s, d) -> [best class, rows, passing rows]
    for r in kept:
        if r["link_type"] not in ("a", "area"):
            continue
        s, d = rep(r["source_url"]), rep(r["target_url"])
        if s == d:
            continue
        flagged = r["nofollow"] or r["sponsored"] or r["ugc"]
        cls = 0 if r["page_nofollow"] else (1 if rel_w > 0 else 0) if flagged else 2
        p = pairs.setdefault((s, d), [0, 0, 0])
        p[0], p[1], p[2] = max(p[0], cls), p[1] + 1, p[2] + (cls > 0)
    edges = []
    for (s, d), (best, _, _) in pairs.items():
        w = (1.0 if best == 2 else rel_w) * (int_w if host[s] == host[d] else 1.0)
        if best and w > 0:
            edges.append((s, d, w))
    weight_of = {(s, d): w for s, d, w in edges}
    counts = {u: dict.fromkeys(("in_links", "dofollow_in_links", "referring_pages"), 0)
              for u in nodes}  # fmt: skip
    for (s, d), (_, n_rows, n_pass) in pairs.items():
        counts[d]["in_links"] += n_rows
        counts[d]["referring_pages"] += 1
        counts[d]["dofollow_in_links"] += n_pass if (s, d) in weight_of else 0
    for u in nodes:
        sources = [s for (s, d) in pairs if d == u]
        counts[u]["referring_hosts"] = len({host[s] for s in sources})
        counts[u]["referring_domains"] = len({domain[s] for s in sources})
    sites = {}
    for level, site in (("hosts", host), ("domains", domain)):
        site_nodes = sorted({site[u] for u in nodes})
        site_edges = sorted({(site[s], site[d]) for (s, d), p in pairs.items()
                             if p[0] > 0 and site[s] != site[d]})  # fmt: skip
        sites[level] = (site_nodes, site_edges)
    return {"nodes": sorted(nodes), "edges": edges, "counts": counts, "sites": sites}


def random_rows(rng: np.random.Generator) -> list[dict[str, Any]]:
    urls = [f"http://{h}/{p}" for h in ("a.one.test", "b.one.test", "two.test", "three.test")
            for p in range(5)]  # fmt: skip
    rows = []
    for _ in range(int(rng.integers(20, 80))):
        src, dst = (urls[i] for i in rng.integers(0, len(urls), 2))
        kind = str(rng.choice(["a"] * 12 + ["area", "redirect", "refresh", "canonical"]))
        rel = tuple(str(x) for x in rng.choice(["nofollow", "ugc", "sponsored"],
                                               int(rng.integers(0, 2) * rng.integers(0, 3)),
                                               replace=False))  # fmt: skip
        t = int(rng.integers(0, 3))
        rows.append(edge(src, dst, t=t, kind=kind, rel=rel if kind in ("a", "area") else ()))
    # page_nofollow is a property of a fetch: the same for all rows of (source, time)
    flagged = {(r["source_url"], r["fetch_time"]) for r in rows if rng.random() < 0.15}
    for r in rows:
        r["page_nofollow"] = (r["source_url"], r["fetch_time"]) in flagged
    return rows


@pytest.mark.parametrize("seed", range(8))
def test_random_datasets_match_the_reference_rules(tmp_path: Path, seed: int) -> None:
    rng = np.random.default_rng(seed)
    rows = random_rows(rng)
    rel, internal = [("exclude", "include"), ("0.5", "0.25"), ("include", "exclude")][seed % 3]
    rel_w, int_w = job.parse_policy("r", rel), job.parse_policy("i", internal)
    # two files, rows shuffled: the result depends on neither
    order = rng.permutation(len(rows))
    half = len(rows) // 2
    write_edges(tmp_path, [rows[i] for i in order[:half]], name="part-0")
    write_edges(tmp_path, [rows[i] for i in order[half:]], name="part-1")
    _, t = authority(tmp_path, rel_policy=rel, internal_policy=internal)
    want = reference(rows, rel_w, int_w)
    assert_pagerank(t["pages"], nx_pagerank(want["nodes"], want["edges"]))
    for url, expected in want["counts"].items():
        got = {k: t["pages"][url][k] for k in expected}
        assert got == expected, url
    for level in ("hosts", "domains"):
        site_nodes, site_edges = want["sites"][level]
        assert_pagerank(t[level], nx_pagerank(site_nodes, site_edges))
        g = nx.DiGraph()
        g.add_nodes_from(site_nodes)
        g.add_edges_from(site_edges)
        for name, value in nx.harmonic_centrality(g).items():
            assert t[level][name]["harmonic"] == pytest.approx(value), (level, name)


# --- outputs ----------------------------------------------------------------------------------


def test_outputs_are_readable_by_duckdb_and_polars(tmp_path: Path) -> None:
    write_edges(tmp_path, site_rows())
    summary, t = authority(tmp_path, rel_policy="0.5")
    out = tmp_path / "authority"
    assert sorted(p.name for p in out.iterdir()) == [
        "_summary.json", "domains.parquet", "hosts.parquet", "pages.parquet"
    ]  # fmt: skip
    for name, schema in AUTHORITY_SCHEMAS.items():
        file_schema = pq.read_schema(out / f"{name}.parquet")
        assert file_schema.remove_metadata() == schema.remove_metadata()
        meta = file_schema.metadata
        assert meta[b"linkcrawl.schema_version"] == SCHEMA_VERSION.encode()
        assert meta[b"linkcrawl.table"] == f"authority_{name}".encode()
        assert json.loads(meta[b"linkcrawl.authority.parameters"])["rel_weight"] == 0.5
        assert json.loads(meta[b"linkcrawl.authority.counts"])["nodes"] == 7
    top = duckdb.sql(
        f"SELECT url, rank FROM read_parquet('{out}/pages.parquet') ORDER BY rank LIMIT 3"
    ).fetchall()
    assert [r[1] for r in top] == [1, 2, 3]
    assert top[0][0] == min(t["pages"].values(), key=lambda r: r["rank"])["url"]
    hosts = pl.read_parquet(out / "hosts.parquet")
    assert hosts.height == 5 and hosts["pagerank"].sum() == pytest.approx(1.0)
    assert hosts["rank"].to_list() == [1, 2, 3, 4, 5]  # rows are written in rank order
    written = json.loads((out / "_summary.json").read_text())
    assert written["counts"] == summary["counts"]
    assert written["peak_rss_bytes"] > 0


def test_the_pages_table_is_written_in_slices(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    write_edges(tmp_path, site_rows())
    _, whole = authority(tmp_path, output=tmp_path / "whole")
    monkeypatch.setattr(job, "_ROW_GROUP", 3)
    _, sliced = authority(tmp_path, output=tmp_path / "sliced")
    assert sliced == whole
    assert pq.ParquetFile(tmp_path / "sliced" / "pages.parquet").num_row_groups == 3


def test_a_failure_while_writing_leaves_no_output(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    write_edges(tmp_path, site_rows())
    real = job._write_table
    calls = []

    def failing(table: pa.Table, path: Path) -> None:
        calls.append(path.name)
        if len(calls) == 2:
            raise OSError(28, "No space left on device")
        real(table, path)

    monkeypatch.setattr(job, "_write_table", failing)
    with pytest.raises(OSError, match="No space"):
        authority(tmp_path)
    assert not (tmp_path / "authority").exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["edges"]  # no temporary left

    # With a previous output and --overwrite, a failure leaves the previous output whole.
    monkeypatch.setattr(job, "_write_table", real)
    authority(tmp_path)
    before = {p.name: p.read_bytes() for p in (tmp_path / "authority").iterdir()}
    calls.clear()
    monkeypatch.setattr(job, "_write_table", failing)
    with pytest.raises(OSError):
        authority(tmp_path, overwrite=True)
    assert {p.name: p.read_bytes() for p in (tmp_path / "authority").iterdir()} == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["authority", "edges"]


def test_output_replacement_rules(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    write_edges(tmp_path, site_rows())
    out = tmp_path / "authority"
    argv = ["authority", "--input", str(tmp_path), "--output", str(out)]
    assert main(argv) == 0
    first = (out / "_summary.json").read_text()
    # a previous output is not replaced without --overwrite
    assert main(argv) == 2
    assert "pass --overwrite" in capsys.readouterr().err
    assert (out / "_summary.json").read_text() == first
    assert main([*argv, "--overwrite"]) == 0
    assert "replacing the previous output" in capsys.readouterr().err
    # a directory that is not an authority output is never replaced, even with --overwrite
    foreign = tmp_path / "mine"
    foreign.mkdir()
    (foreign / "notes.txt").write_text("keep me")
    assert main(["authority", "--input", str(tmp_path), "--output", str(foreign),
                 "--overwrite"]) == 2  # fmt: skip
    assert "not an authority output" in capsys.readouterr().err
    assert (foreign / "notes.txt").read_text() == "keep me"
    # an empty directory is fine
    empty = tmp_path / "empty"
    empty.mkdir()
    assert main(["authority", "--input", str(tmp_path), "--output", str(empty)]) == 0
    assert (empty / "pages.parquet").exists()


def test_cli_prints_progress_and_summary(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    write_edges(tmp_path, site_rows())
    assert main(["authority", "--input", str(tmp_path), "--threads", "1"]) == 0
    captured = capsys.readouterr()
    for stage in ("read", "nodes", "urls", "latest", "fold", "links", "rank", "pages",
                  "hosts", "domains", "write"):  # fmt: skip
        assert f"authority: {stage}" in captured.err
    assert "pages.pagerank" in captured.out and "converged" in captured.out
    assert "peak memory" in captured.out
    assert (tmp_path / "authority" / "pages.parquet").exists()


def test_cli_settings_reach_the_job(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """``-s NAME=VALUE`` sets a tunable without an option: a tiny harmonic budget samples."""
    write_edges(tmp_path, site_rows())
    out = tmp_path / "out"
    assert main(["authority", "--input", str(tmp_path), "--output", str(out),
                 "-s", "AUTHORITY_HARMONIC_WORK=1", "--set", "AUTHORITY_HARMONIC_MIN_SOURCES = 2",
                 "-s", "AUTHORITY_HARMONIC_SEED=7"]) == 0  # fmt: skip
    summary = json.loads((out / job.SUMMARY_FILE).read_text())
    assert summary["harmonic"]["hosts"]["exact"] is False
    assert summary["harmonic"]["hosts"]["sources"] == 2
    assert summary["harmonic"]["hosts"]["seed"] == 7
    assert summary["parameters"]["harmonic_work"] == 1
    capsys.readouterr()


@pytest.mark.parametrize(
    ("setting", "message"),
    [
        (["-s", "AUTHORITY_NOPE=1"], "NAME one of AUTHORITY_HARMONIC_WORK"),
        (["-s", "AUTHORITY_HARMONIC_WORK"], "expected NAME=VALUE"),
        (["-s", "AUTHORITY_HARMONIC_WORK=lots"], "AUTHORITY_HARMONIC_WORK 'lots': not an integer"),
        (["-s", "AUTHORITY_HARMONIC_WORK=0"], "harmonic budget"),
        (["-s", "AUTHORITY_SPARK_DRIVER_SITE_NODES=0"], "add --engine spark"),
        # checked before Spark starts (or pyspark is imported)
        (["--engine", "spark", "-s", "AUTHORITY_SPARK_HARMONIC_WORDS=0"],
         "AUTHORITY_SPARK_HARMONIC_WORDS 0: must be >= 1"),
        (["--engine", "spark", "-s", "AUTHORITY_SPARK_DRIVER_SITE_NODES=-1"],
         "AUTHORITY_SPARK_DRIVER_SITE_NODES -1: must be >= 0"),
        (["--engine", "spark", "-s", "AUTHORITY_SPARK_DRIVER_MEMORY=lots"],
         "a JVM size like 4g"),
    ],
)  # fmt: skip
def test_cli_settings_errors_are_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], setting: list[str], message: str
) -> None:
    write_edges(tmp_path, site_rows())
    out = tmp_path / "out"
    line = cli_error(["authority", "--input", str(tmp_path), "--output", str(out), *setting],
                     capsys)  # fmt: skip
    assert message in line, line
    assert not out.exists()


# --- bad input ----------------------------------------------------------------------------------


def cli_error(argv: list[str], capsys: pytest.CaptureFixture[str]) -> str:
    assert main(argv) == 2
    err = capsys.readouterr().err
    lines = err.strip().splitlines()
    # one error line, last; only progress lines of finished stages before it
    assert lines[-1].startswith("linkcrawl: error: "), err
    assert all(line.startswith("authority: ") for line in lines[:-1]), err
    return lines[-1]


def test_missing_and_empty_inputs(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "out"
    missing = tmp_path / "nope"
    assert "nope" in cli_error(["authority", "--input", str(missing), "--output", str(out)], capsys)
    empty = tmp_path / "empty"
    empty.mkdir()
    line = cli_error(["authority", "--input", str(empty), "--output", str(out)], capsys)
    assert "no edges dataset" in line
    (empty / "edges" / "crawl_id=c1").mkdir(parents=True)
    (empty / "edges" / "crawl_id=c1" / ".part-x.parquet.tmp").write_bytes(b"in flight")
    line = cli_error(["authority", "--input", str(empty), "--output", str(out)], capsys)
    assert "no edges files" in line
    write_edges(empty, [])
    assert "hold no rows" in cli_error(["authority", "--input", str(empty), "--output",
                                        str(out)], capsys)  # fmt: skip
    write_edges(empty, [edge(A, B)], name="part-1")
    line = cli_error(["authority", "--input", str(empty), "--crawl-id", "c2", "--output",
                      str(out)], capsys)  # fmt: skip
    assert "--crawl-id 'c2'" in line and "c1" in line
    assert not out.exists()


def _foreign(path: Path, table: pa.Table) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    pq.write_table(table, path)


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda: pa.table({"x": [1]}), "column 'source_id' missing"),
        (
            lambda: pa.Table.from_pylist([edge(A, B)], schema=EDGES_SCHEMA).set_column(
                2, "source_id", pa.array([str(node_id(A))])
            ),
            "column 'source_id' is string, expected int64",
        ),
        (
            lambda: pa.Table.from_pylist([edge(A, B)], schema=EDGES_SCHEMA).replace_schema_metadata(
                {"linkcrawl.table": "edges", "linkcrawl.schema_version": "0"}
            ),
            "schema_version '0' is not one this job reads",
        ),
        (
            lambda: pa.Table.from_pylist([edge(A, B)], schema=EDGES_SCHEMA).replace_schema_metadata(
                None
            ),
            "no linkcrawl.schema_version",
        ),
        (
            lambda: pa.Table.from_pylist([edge(A, B)], schema=EDGES_SCHEMA).replace_schema_metadata(
                {"linkcrawl.table": "pages", "linkcrawl.schema_version": "1"}
            ),
            "not from the edges table",
        ),
    ],
)
def test_foreign_files_are_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], make: Any, message: str
) -> None:
    write_edges(tmp_path, [edge(A, B)])
    bad = tmp_path / "edges" / "crawl_id=c1" / "part-bad.parquet"
    _foreign(bad, make())
    line = cli_error(["authority", "--input", str(tmp_path)], capsys)
    assert str(bad) in line and message in line
    assert not (tmp_path / "authority").exists()


def test_a_foreign_pages_file_is_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    write_edges(tmp_path, [edge(A, B)])
    bad = tmp_path / "pages" / "crawl_id=c1" / "part-0.parquet"
    _foreign(bad, pa.table({"node_id": ["x"], "fetch_time": [T0], "status": [200]}))
    line = cli_error(["authority", "--input", str(tmp_path)], capsys)
    assert str(bad) in line and "column 'node_id' is string, expected int64" in line


def test_corrupt_files_are_refused(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    good = write_edges(tmp_path, [edge(A, B), edge(B, C)])
    bad = good.with_name("part-corrupt.parquet")
    bad.write_bytes(b"PAR1 this is not parquet PAR1")
    line = cli_error(["authority", "--input", str(tmp_path)], capsys)
    assert str(bad) in line and "not a readable Parquet file" in line
    # a valid footer over damaged data pages: found while reading, still one line
    data = bytearray(good.read_bytes())
    data[8:200] = bytes(192)
    bad.write_bytes(bytes(data))
    line = cli_error(["authority", "--input", str(tmp_path)], capsys)
    assert str(bad) in line
    assert not (tmp_path / "authority").exists()


def test_bad_trust_seeds(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    write_edges(tmp_path, [edge(A, B)])
    base = ["authority", "--input", str(tmp_path), "--trust-seeds"]
    line = cli_error([*base, str(tmp_path / "missing.txt")], capsys)
    assert "--trust-seeds" in line and "missing.txt" in line
    seeds = tmp_path / "seeds.txt"
    seeds.write_text("# nothing here\n")
    assert "no URLs" in cli_error([*base, str(seeds)], capsys)
    seeds.write_text("http://elsewhere.test/\n")
    assert "none of the 1 URLs" in cli_error([*base, str(seeds)], capsys)
    seeds.write_text("http://[bad\n")
    assert "seeds.txt:1" in cli_error([*base, str(seeds)], capsys)
    seeds.write_bytes(b"\xff\xfe\x00bad")
    assert "cannot read" in cli_error([*base, str(seeds)], capsys)
    assert not (tmp_path / "authority").exists()


@pytest.mark.parametrize(
    ("option", "value"),
    [
        ("--damping", "1.5"), ("--damping", "x"), ("--damping", "0"), ("--tol", "-1"),
        ("--max-iter", "0"), ("--max-iter", "2.5"), ("--threads", "-1"), ("--threads", "many"),
        ("--rel-policy", "nofollow"), ("--internal-policy", "2"),
    ],
)  # fmt: skip
def test_bad_option_values(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], option: str, value: str
) -> None:
    write_edges(tmp_path, [edge(A, B)])
    line = cli_error(["authority", "--input", str(tmp_path), option, value], capsys)
    assert f"{option} " in line and value in line
    assert not (tmp_path / "authority").exists()


# --- no Scrapy ------------------------------------------------------------------------------------


def test_the_job_never_imports_scrapy(tmp_path: Path) -> None:
    write_edges(tmp_path, site_rows())
    code = (
        "import sys\n"
        "from pathlib import Path\n"
        "from linkcrawl.authority.job import AuthorityConfig, run\n"
        f"root = Path({str(tmp_path)!r})\n"
        "run(AuthorityConfig(input=root, output=root / 'a'))\n"
        "from linkcrawl.cli import main\n"
        f"assert main(['authority', '--input', {str(tmp_path)!r}]) == 0\n"
        "assert 'scrapy' not in sys.modules, sorted(m for m in sys.modules if 'scrapy' in m)\n"
        "print('ok')\n"
    )
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            env=env, cwd=tmp_path, check=False, timeout=120)  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip().endswith("ok")
    # and `python -m linkcrawl authority` is the same command
    result = subprocess.run(
        [sys.executable, "-m", "linkcrawl", "authority", "--input", str(tmp_path), "--output",
         str(tmp_path / "m")],
        capture_output=True, text=True, env=env, cwd=tmp_path, check=False, timeout=120,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "m" / "pages.parquet").exists()


# --- end to end: a real crawl against the test web's answers -------------------------------------


def expected_dataset(root: Path, web: Any, trap_urls: list[str]) -> None:
    """The test web's expected edges (and those of the trap pages the crawl fetched) as an
    EDGES_SCHEMA dataset, every page fetched once."""
    pages = [*web.expected_pages(), *trap_urls]
    rows = []
    for e in web.expected_edges(pages):
        row = edge(e.source_url, e.target_url, kind=e.link_type, rel=tuple(e.rel),
                   page_nofollow=e.page_nofollow)  # fmt: skip
        row.update(anchor_text=e.anchor_text, image=e.image, position=e.position,
                   http_status=e.http_status, nofollow=e.nofollow, sponsored=e.sponsored,
                   ugc=e.ugc)  # fmt: skip
        rows.append(row)
    write_edges(root, rows, crawl_id="it")


def read_table(path: Path) -> list[dict[str, Any]]:
    return pq.read_table(path).to_pylist()


@pytest.mark.integration
def test_crawl_authority_equals_the_test_webs_answers(
    crawl: Crawl, testweb: WebServer, tmp_path: Path
) -> None:
    assert crawl.returncode == 0, crawl.log[-3000:]
    web = testweb.web
    crawled = pq.read_table(crawl.out / "pages", columns=["url"]).column("url").to_pylist()
    # The calendar trap's pages the crawl reached (bounded by DEPTH_LIMIT, test_crawl.py)
    traps = sorted({u for u in crawled if web.is_trap(u)})
    assert traps and set(traps) <= set(web.trap_pages(DEPTH_LIMIT))
    expected_root = tmp_path / "expected"
    expected_dataset(expected_root, web, traps)
    seeds = tmp_path / "seeds.txt"
    seeds.write_text("\n".join(web.seeds()) + "\n")
    options = {"trust_seeds": seeds, "rel_policy": "0.5"}
    got_summary = run(AuthorityConfig(input=crawl.out, output=tmp_path / "got", **options))
    want_summary = run(AuthorityConfig(input=expected_root, output=tmp_path / "want", **options))
    assert got_summary["counts"]["nodes"] > 500
    assert got_summary["counts"]["folded_urls"] > 0
    for key in ("nodes", "folded_urls", "edges_kept", "dropped", "hosts", "domains"):
        assert got_summary["counts"][key] == want_summary["counts"][key], key
    for name in ("pages", "hosts", "domains"):
        got = read_table(tmp_path / "got" / f"{name}.parquet")
        want = read_table(tmp_path / "want" / f"{name}.parquet")
        assert len(got) == len(want) > 0, name
        for g, w in zip(got, want, strict=True):
            assert g.keys() == w.keys()
            for column, value in w.items():
                if isinstance(value, float):
                    assert g[column] == pytest.approx(value, abs=1e-9), (name, column, w)
                else:
                    assert g[column] == value, (name, column, w)
