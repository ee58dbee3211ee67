"""Tests for linkcrawl.authority.rank: PageRank, harmonic centrality, the score and ranks.

networkx is the reference: random multigraphs are ranked by both, and the networkx
link-analysis cases in tests/data/graph (see its README) are checked at their tolerance.
"""

from __future__ import annotations

import itertools
import json
import math
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import networkx as nx
import numpy as np
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from linkcrawl.authority import rank
from linkcrawl.authority.rank import (
    RankResult,
    harmonic_centrality,
    harmonic_work,
    log_score,
    pagerank,
    ranks,
)

DATA = Path(__file__).parent / "data"
ROOT = Path(__file__).resolve().parent.parent

# Both sides iterate to this; the ranks then agree far inside MATCH.
TIGHT = {"tol": 1e-12, "max_iter": 100_000}
MATCH = 1e-9


@st.composite
def multigraphs(draw: st.DrawFn, max_nodes: int = 12) -> dict[str, Any]:
    """A directed multigraph: parallel edges, self-loops, dangling nodes, weights (0 too)."""
    n = draw(st.integers(1, max_nodes))
    node = st.integers(0, n - 1)
    edges = draw(st.lists(st.tuples(node, node), max_size=4 * n))
    weight = st.one_of(st.just(0.0), st.floats(0.01, 100.0))
    weights = draw(st.none() | st.lists(weight, min_size=len(edges), max_size=len(edges)))
    vector = st.lists(st.one_of(st.just(0.0), st.floats(0.0, 10.0)), min_size=n, max_size=n)
    personalization = draw(st.none() | vector.filter(lambda v: sum(v) > 0))
    dangling = draw(st.none() | vector.filter(lambda v: sum(v) > 0))
    damping = draw(st.sampled_from([0.0, 0.5, 0.85, 0.95]))
    return {
        "n": n,
        "edges": edges,
        "weights": weights,
        "personalization": personalization,
        "dangling": dangling,
        "damping": damping,
    }


def _arrays(edges: list[tuple[int, int]], dtype: Any = np.int64) -> tuple[Any, Any]:
    src = np.array([s for s, _ in edges], dtype=dtype)
    dst = np.array([d for _, d in edges], dtype=dtype)
    return src, dst


def _nx_pagerank(g: dict[str, Any]) -> np.ndarray[Any, Any]:
    n = g["n"]
    graph = nx.MultiDiGraph()
    graph.add_nodes_from(range(n))
    weights = g["weights"] or [1.0] * len(g["edges"])
    for (s, d), w in zip(g["edges"], weights, strict=True):
        graph.add_edge(s, d, weight=w)

    def as_dict(vector: list[float] | None) -> dict[int, float] | None:
        return None if vector is None else dict(enumerate(vector))

    got = nx.pagerank(
        graph,
        alpha=g["damping"],
        personalization=as_dict(g["personalization"]),
        dangling=as_dict(g["dangling"]),
        weight="weight",
        **TIGHT,
    )
    return np.array([got[i] for i in range(n)])


def _ours(g: dict[str, Any], dtype: Any = np.int64) -> RankResult:
    src, dst = _arrays(g["edges"], dtype)

    def vec(v: list[float] | None) -> Any:
        return None if v is None else np.array(v)

    return pagerank(
        src,
        dst,
        g["n"],
        weights=vec(g["weights"]),
        damping=g["damping"],
        personalization=vec(g["personalization"]),
        dangling=vec(g["dangling"]),
        **TIGHT,
    )


# --- PageRank against networkx ------------------------------------------------------------


@settings(max_examples=150, deadline=None)
@given(multigraphs())
def test_pagerank_matches_networkx(g: dict[str, Any]) -> None:
    result = _ours(g)
    assert result.converged
    assert 1 <= result.iterations <= TIGHT["max_iter"]
    assert result.residual < g["n"] * TIGHT["tol"]
    assert result.scores.dtype == np.float64
    assert np.abs(result.scores - _nx_pagerank(g)).max() < MATCH
    assert math.isclose(result.scores.sum(), 1.0, abs_tol=1e-12)


@settings(max_examples=25, deadline=None)
@given(multigraphs())
def test_pagerank_id_dtype_does_not_matter(g: dict[str, Any]) -> None:
    assert np.array_equal(_ours(g, np.int32).scores, _ours(g, np.int64).scores)


def test_pagerank_unweighted_is_weight_one() -> None:
    # The unweighted matrix counts parallel edges in float32; the weighted one sums float64.
    rng = np.random.default_rng(4)
    src, dst = rng.integers(0, 50, 2000), rng.integers(0, 60, 2000)  # many parallel edges
    plain = pagerank(src, dst, 60, tol=0.0, max_iter=20)
    weighted = pagerank(src, dst, 60, weights=np.ones(2000), tol=0.0, max_iter=20)
    assert np.array_equal(plain.scores, weighted.scores)


@pytest.mark.parametrize("weighted", [False, True])
def test_pagerank_of_distinct_edges_in_any_order(weighted: bool) -> None:
    # distinct=True skips the duplicate pass: same scores for edges that never repeat,
    # given in shuffled order (rows' columns unsorted in the matrix).
    rng = np.random.default_rng(6)
    keys = rng.choice(80 * 80, size=1500, replace=False)
    src, dst = keys // 80, keys % 80
    weights = rng.uniform(0.1, 2.0, src.size) if weighted else None
    plain = pagerank(src, dst, 80, weights=weights, tol=1e-12, max_iter=500)
    fast = pagerank(src, dst, 80, weights=weights, tol=1e-12, max_iter=500, distinct=True)
    assert fast.iterations == plain.iterations
    assert np.abs(fast.scores - plain.scores).max() < 1e-15


@contextmanager
def _three_blocks() -> Iterator[None]:
    """Run every power iteration in three row blocks on three threads, however small."""
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(rank, "_PARALLEL_MIN_NNZ", 1)
        mp.setattr(rank, "_threads", lambda: 3)
        yield


@settings(max_examples=40, deadline=None)
@given(multigraphs())
def test_pagerank_in_row_blocks_matches_networkx(g: dict[str, Any]) -> None:
    with _three_blocks():
        ours = _ours(g)
    assert np.abs(ours.scores - _nx_pagerank(g)).max() < MATCH


def test_pagerank_row_blocks_change_nothing(monkeypatch: pytest.MonkeyPatch) -> None:
    rng = np.random.default_rng(5)
    n, m = 300, 3000
    src, dst = rng.integers(0, n, m), rng.integers(0, n // 2, m)  # half the nodes dangle
    args: dict[str, Any] = {"weights": rng.random(m), "personalization": rng.random(n)}
    one = pagerank(src, dst, n, tol=0.0, max_iter=30, **args)
    monkeypatch.setattr(rank, "_PARALLEL_MIN_NNZ", 1)
    for threads in (2, 3, 7):
        monkeypatch.setattr(rank, "_threads", lambda t=threads: t)
        several = pagerank(src, dst, n, tol=0.0, max_iter=30, **args)
        assert np.array_equal(several.scores, one.scores)
        assert math.isclose(several.residual, one.residual, rel_tol=1e-12)


def test_row_blocks_are_views() -> None:
    rng = np.random.default_rng(6)
    n, m = 100, 2000
    matrix, _ = rank._transition(rng.integers(0, n, m), rng.integers(0, n, m), n, None)
    with _three_blocks():
        blocks = rank._row_blocks(matrix)
    assert len(blocks) == 3
    assert blocks[0][1] == 0
    assert blocks[-1][2] == n
    assert all(a[2] == b[1] for a, b in itertools.pairwise(blocks))
    for block, lo, hi in blocks:
        assert np.shares_memory(block.data, matrix.data)
        assert np.shares_memory(block.indices, matrix.indices)
        assert np.array_equal(block.toarray(), matrix[lo:hi].toarray())


def _case_graph(case: dict[str, Any]) -> tuple[list[str], list[tuple[int, int]]]:
    """Node keys (the repr of the label, as the expected values are keyed) and edges."""
    labels: list[Any] = list(case.get("nodes", []))
    for edge in case["edges"]:
        labels.extend(label for label in edge if label not in labels)
    index = {repr(label): i for i, label in enumerate(labels)}
    edges = []
    for s, d in case["edges"]:
        edges.append((index[repr(s)], index[repr(d)]))
        if not case["directed"]:
            assert s != d  # an undirected self-loop would be one entry, not two
            edges.append((index[repr(d)], index[repr(s)]))
    return [repr(label) for label in labels], edges


def _keyed(keys: list[str], values: dict[str, float]) -> np.ndarray[Any, Any]:
    # The data's vectors are keyed by str(label) of int labels: that is their repr.
    return np.array([values.get(key, 0.0) for key in keys], dtype=np.float64)


CASES = json.loads((DATA / "graph" / "networkx_linkanalysis_cases.json").read_text("utf-8"))


@pytest.mark.parametrize("case", CASES["cases"], ids=lambda case: case["name"])
def test_pagerank_networkx_cases(case: dict[str, Any]) -> None:
    if "expected_pagerank" not in case:
        pytest.skip("HITS-only case: linkcrawl's authority job ranks by PageRank, not HITS")
    keys, edges = _case_graph(case)
    params = case["params"]
    personalization = params.get("personalization")
    # A string "dangling" describes the default (the teleport vector); a dict is a vector.
    dangling = params.get("dangling")
    src, dst = _arrays(edges)
    result = pagerank(
        src,
        dst,
        len(keys),
        damping=params["alpha"],
        personalization=None if personalization is None else _keyed(keys, personalization),
        dangling=_keyed(keys, dangling) if isinstance(dangling, dict) else None,
        tol=1e-10,
        max_iter=1000,
    )
    assert result.converged
    expected = _keyed(keys, case["expected_pagerank"])
    assert sorted(case["expected_pagerank"]) == sorted(keys)
    assert np.abs(result.scores - expected).max() < CASES["tolerance_used_by_networkx"]


# --- PageRank edge cases and input checks ---------------------------------------------------


def test_pagerank_empty_graph() -> None:
    result = pagerank(np.array([], np.int64), np.array([], np.int64), 0)
    assert result.scores.shape == (0,)
    assert result.converged


def test_pagerank_no_edges_is_teleport() -> None:
    # Every node is dangling: each iteration gives back the teleport vector exactly.
    none = np.array([], np.int32)
    assert np.allclose(pagerank(none, none, 4).scores, 0.25)
    p = np.array([1.0, 0.0, 3.0, 0.0])
    result = pagerank(none, none, 4, personalization=p)
    assert np.allclose(result.scores, p / p.sum())


def test_pagerank_not_converged_is_reported() -> None:
    src, dst = np.array([0, 1, 1]), np.array([1, 2, 0])
    result = pagerank(src, dst, 3, tol=1e-15, max_iter=2)
    assert not result.converged
    assert result.iterations == 2
    assert result.residual > 0
    assert math.isclose(result.scores.sum(), 1.0)


def test_pagerank_nstart_changes_only_the_path() -> None:
    src, dst = np.array([0, 1, 1, 2]), np.array([1, 2, 0, 0])
    plain = pagerank(src, dst, 3, tol=1e-13, max_iter=1000)
    started = pagerank(src, dst, 3, tol=1e-13, max_iter=1000, nstart=np.array([0.0, 0.0, 5.0]))
    assert np.abs(plain.scores - started.scores).max() < 1e-10


def test_pagerank_inputs_are_not_modified() -> None:
    src, dst, w = np.array([0, 1, 1]), np.array([1, 2, 2]), np.array([2.0, 1.0, 3.0])
    p = np.array([1.0, 2.0, 3.0])
    copies = [a.copy() for a in (src, dst, w, p)]
    pagerank(src, dst, 3, weights=w, personalization=p, dangling=p, nstart=p)
    assert all(np.array_equal(a, b) for a, b in zip((src, dst, w, p), copies, strict=True))


def test_pagerank_does_not_warn_when_all_nodes_dangle_with_weights_zero() -> None:
    # Zero-weight edges leave their source dangling (as networkx does), with no 1/0.
    result = pagerank(np.array([0, 1]), np.array([1, 0]), 2, weights=np.zeros(2))
    assert np.allclose(result.scores, 0.5)


ONE = np.array([0])
BAD_PAGERANK: list[tuple[dict[str, Any], str]] = [
    ({"src": np.array([-1]), "dst": ONE}, "src holds a negative node id"),
    ({"src": ONE, "dst": np.array([3])}, "dst holds node id 3, out of range"),
    ({"src": np.array([0, 1]), "dst": ONE}, "src and dst must have one length"),
    ({"src": np.array([0.0]), "dst": ONE}, "src must hold integers"),
    ({"src": np.array([[0]]), "dst": ONE}, "src must be a 1-D array"),
    ({"n": -1}, "n must be >= 0"),
    ({"weights": np.array([1.0, 2.0])}, "one value per edge"),
    ({"weights": np.array([-1.0])}, "weights must be finite and non-negative"),
    ({"weights": np.array([np.nan])}, "weights must be finite and non-negative"),
    ({"weights": np.array([np.inf])}, "weights must be finite and non-negative"),
    ({"damping": 1.0}, r"damping must be in \[0, 1\)"),
    ({"damping": -0.1}, r"damping must be in \[0, 1\)"),
    ({"damping": math.nan}, r"damping must be in \[0, 1\)"),
    ({"personalization": np.zeros(3)}, "personalization must have a positive sum"),
    ({"personalization": np.ones(2)}, r"personalization must have one value per node \(3\)"),
    ({"personalization": np.array([1.0, -1.0, 1.0])}, "personalization must be finite"),
    ({"dangling": np.zeros(3)}, "dangling must have a positive sum"),
    ({"nstart": np.zeros(3)}, "nstart must have a positive sum"),
    ({"tol": -1.0}, "tol must be a finite number"),
    ({"max_iter": 0}, "max_iter must be >= 1"),
]


@pytest.mark.parametrize(("change", "message"), BAD_PAGERANK)
def test_pagerank_rejects(change: dict[str, Any], message: str) -> None:
    args: dict[str, Any] = {"src": ONE, "dst": ONE, "n": 3} | change
    with pytest.raises(ValueError, match=message):
        pagerank(args.pop("src"), args.pop("dst"), args.pop("n"), **args)


# --- harmonic centrality ---------------------------------------------------------------------


@st.composite
def digraphs(draw: st.DrawFn, max_nodes: int = 150) -> tuple[int, list[tuple[int, int]]]:
    """Sparse random digraphs, often disconnected, with parallel edges and self-loops."""
    n = draw(st.integers(1, max_nodes))
    node = st.integers(0, n - 1)
    edges = draw(st.lists(st.tuples(node, node), max_size=2 * n))
    return n, edges


def _nx_harmonic(n: int, edges: list[tuple[int, int]]) -> np.ndarray[Any, Any]:
    graph = nx.DiGraph()
    graph.add_nodes_from(range(n))
    graph.add_edges_from(edges)
    got = nx.harmonic_centrality(graph)
    return np.array([got[i] for i in range(n)], dtype=np.float64)


# Force each BFS level down each path (all edges / only the frontier's out-edges), and
# one source word per batch so that graphs over 64 nodes take several batches.
PATHS = [
    pytest.param({"_SPARSE_FRONTIER": 0.0}, id="all-edges"),
    pytest.param({"_SPARSE_FRONTIER": 2.0}, id="frontier-edges"),
    pytest.param({"_HARMONIC_WORD_BUDGET": 1}, id="one-word-batches"),
    pytest.param({}, id="defaults"),
]


@pytest.mark.parametrize("patch", PATHS)
@settings(max_examples=20, deadline=None)
@given(graph=digraphs())
def test_harmonic_matches_networkx(patch: dict[str, Any], graph: Any) -> None:
    n, edges = graph
    src, dst = _arrays(edges)
    with pytest.MonkeyPatch.context() as mp:
        for name, value in patch.items():
            mp.setattr(rank, name, value)
        got = harmonic_centrality(src, dst, n)
    assert got.dtype == np.float64
    assert np.allclose(got, _nx_harmonic(n, edges), rtol=1e-12, atol=1e-12)


def test_harmonic_long_path_across_words() -> None:
    # A 200-node path: h(u) = sum of 1/d for d = 1..u, sources in four words.
    n = 200
    src, dst = np.arange(n - 1), np.arange(1, n)
    expected = np.concatenate([[0.0], np.cumsum(1.0 / np.arange(1, n))])
    assert np.allclose(harmonic_centrality(src, dst, n), expected, rtol=1e-12)


@settings(max_examples=20, deadline=None)
@given(digraphs(max_nodes=80))
def test_harmonic_all_sources_is_exact(graph: Any) -> None:
    n, edges = graph
    src, dst = _arrays(edges)
    every = np.random.default_rng(n).permutation(n)
    assert np.array_equal(
        harmonic_centrality(src, dst, n, sources=every), harmonic_centrality(src, dst, n)
    )


@settings(max_examples=20, deadline=None)
@given(graph=digraphs(max_nodes=7), data=st.data())
def test_harmonic_sample_is_unbiased(graph: Any, data: st.DataObject) -> None:
    # The mean over every k-subset of sources is the expectation under uniform sampling
    # without replacement; an unbiased estimator's equals the exact value.
    n, edges = graph
    assume(n >= 3)
    k = data.draw(st.integers(2, n - 1))
    src, dst = _arrays(edges)
    estimates = [
        harmonic_centrality(src, dst, n, sources=np.array(subset))
        for subset in itertools.combinations(range(n), k)
    ]
    assert np.allclose(np.mean(estimates, axis=0), _nx_harmonic(n, edges), rtol=1e-12)


def test_harmonic_small_and_empty() -> None:
    none = np.array([], np.int64)
    assert harmonic_centrality(none, none, 0).shape == (0,)
    assert np.array_equal(harmonic_centrality(none, none, 3), np.zeros(3))
    assert np.array_equal(harmonic_centrality(ONE, ONE, 1, sources=ONE), np.zeros(1))


@pytest.mark.parametrize(
    ("sources", "message"),
    [
        (np.array([0, 0]), "must not repeat a node"),
        (np.array([1]), "at least 2 nodes"),
        (np.array([0, 5]), "sources holds node id 5, out of range"),
        (np.array([0.0, 1.0]), "sources must hold integers"),
    ],
)
def test_harmonic_rejects(sources: Any, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        harmonic_centrality(np.array([0, 1]), np.array([1, 2]), 3, sources=sources)


def test_harmonic_work() -> None:
    assert harmonic_work(1000, 100) == 2 * 1100
    assert harmonic_work(1000, 100, 64) == 1100
    assert harmonic_work(1000, 100, 65) == 2 * 1100
    assert harmonic_work(0, 0) == 0
    with pytest.raises(ValueError, match="must be >= 0"):
        harmonic_work(-1, 10)


# --- log_score and ranks -------------------------------------------------------------------

SCORES = st.lists(
    st.one_of(st.just(0.0), st.floats(1e-300, 1e300), st.sampled_from([1e-9, 0.5, 2.0])),
    max_size=40,
)


@settings(max_examples=200)
@given(SCORES)
def test_log_score_properties(values: list[float]) -> None:
    v = np.array(values, dtype=np.float64)
    score = log_score(v)
    assert score.shape == v.shape
    assert ((score >= 0) & (score <= 100)).all()
    assert np.allclose(score * 100, np.round(score * 100), atol=1e-6)  # 2 decimals
    order = np.argsort(v, kind="stable")
    assert (np.diff(score[order]) >= 0).all()  # monotone
    assert (score[v == 0] == 0).all()
    positive = v[v > 0]
    # values one ulp apart can have the same logarithm: those count as equal
    if positive.size and np.log(positive.min()) < np.log(positive.max()):
        assert (score[v == positive.min()] == 0).all()
        assert (score[v == positive.max()] == 100).all()
        # a ratio scale (up to one step of rounding: ln 4v - ln 4u is not ln v - ln u exactly)
        assert np.allclose(log_score(v * 4.0), score, rtol=0, atol=0.0100001)
    else:
        assert (score == 0).all()  # nothing to spread: everything scores as vmin


def test_log_score_formula() -> None:
    # 100 * ln(v / 1) / ln(100 / 1), by hand: ln 10 / ln 100 = 1/2, ln 2 / ln 100 = 0.150..
    got = log_score(np.array([0.0, 1.0, 10.0, 100.0, 2.0]))
    assert got.tolist() == [0.0, 0.0, 50.0, 100.0, round(100 * math.log(2) / math.log(100), 2)]
    assert log_score(np.array([], np.float64)).shape == (0,)
    assert log_score(np.array([3.0, 3.0, 0.0])).tolist() == [0.0, 0.0, 0.0]


@pytest.mark.parametrize("bad", [[-1.0], [math.nan], [math.inf], [[1.0]]])
def test_log_score_rejects(bad: Any) -> None:
    with pytest.raises(ValueError, match="values must be"):
        log_score(np.array(bad))


VALUES_WITH_TIES = st.sampled_from([0.0, -0.0, 1.0, 2.5, 1e-12, 7.0])


@settings(max_examples=200)
@given(st.lists(st.tuples(VALUES_WITH_TIES, st.integers(-(2**63), 2**63 - 1) | st.integers(0, 3))))
def test_ranks_order(rows: list[tuple[float, int]]) -> None:
    values = np.array([v for v, _ in rows], dtype=np.float64)
    ids = np.array([i for _, i in rows], dtype=np.int64)
    got = ranks(values, ids)
    assert got.dtype == np.int64
    # Equal values by ascending id; a repeated id keeps the input order.
    expected_order = sorted(range(len(rows)), key=lambda r: (-rows[r][0], rows[r][1], r))
    assert [int(got[r]) for r in expected_order] == list(range(1, len(rows) + 1))


def test_ranks_rejects() -> None:
    with pytest.raises(ValueError, match="one length"):
        ranks(np.array([1.0]), np.array([1, 2]))
    with pytest.raises(ValueError, match="NaN"):
        ranks(np.array([math.nan]), np.array([1]))
    with pytest.raises(ValueError, match="ids must hold integers"):
        ranks(np.array([1.0]), np.array([1.0]))


# --- the authority job never imports Scrapy --------------------------------------------------


def test_rank_does_not_import_scrapy() -> None:
    code = "import linkcrawl.authority.rank, sys; assert 'scrapy' not in sys.modules"
    subprocess.run([sys.executable, "-c", code], cwd=ROOT, check=True, timeout=60)
