"""The authority job's ranking math: PageRank, harmonic centrality, the 0-100 score, ranks.

Arrays in, arrays out. A graph is two integer arrays ``src`` and ``dst`` (one entry per
edge, node ids ``0..n-1``) and a node count ``n``; everything here is numpy and
scipy.sparse, with no Scrapy import, so the job, the benchmarks and the tests run the same
code with no engine.

* :func:`pagerank` has the semantics of ``networkx.pagerank`` (its ``_pagerank_scipy``
  power iteration), sized for the page graph: 45M edges and 5M nodes on two cores.
* :func:`harmonic_centrality` is ``networkx.harmonic_centrality`` on a ``DiGraph``, by
  bit-parallel breadth-first search; with ``sources`` it is a sampled estimate for host
  graphs too large for an exact run, and :func:`harmonic_work` says which one fits.
* :func:`log_score` turns scores into the published 0-100 value; :func:`ranks` orders them.

Every error raised for bad input is a :class:`ValueError` that names the argument.
"""

from __future__ import annotations

import itertools
import math
import operator
import os
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from functools import partial
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    from numpy.typing import NDArray

__all__ = [
    "RankResult",
    "harmonic_centrality",
    "harmonic_work",
    "log_score",
    "pagerank",
    "ranks",
]

# Edges scaled per step when normalising the transition matrix: the gather of 1/out-weight
# by column index then needs a temporary of 8 MiB, not one as long as the edge list.
_SCALE_CHUNK = 1 << 20

# One power iteration is a sparse matrix-vector product bound by memory latency (45M
# edges: about 0.3 s on one core), so it is cut into row blocks of at least this many
# matrix entries, run by one thread per CPU (scipy releases the GIL), at most this many.
_PARALLEL_MIN_NNZ = 1 << 20
_PARALLEL_MAX_THREADS = 8

# Harmonic centrality runs 64 sources per uint64 word and several words per batch: as many
# as keep each (node x word) and (edge x word) buffer of a batch under this many words
# (8 MiB), and at least one. Measured on the 1M-page benchmark's site graphs: up to ~10% less
# CPU than with 64 MiB buffers (they stay in the caches; more batches cost little).
_HARMONIC_WORD_BUDGET = 1 << 20

# A BFS level gathers the frontier along only the frontier's out-edges (instead of along
# every edge) when those are fewer than this share of the edges: the first and the last
# levels of a search touch few nodes, the middle ones almost all of them.
_SPARSE_FRONTIER = 0.25


@dataclass(frozen=True)
class RankResult:
    """The outcome of :func:`pagerank`.

    ``scores`` sums to 1 (up to rounding); ``residual`` is the L1 change made by the last
    iteration and ``converged`` says whether it fell below ``n * tol`` within ``max_iter``
    iterations. A result that did not converge is still returned: the caller reports it.
    """

    scores: NDArray[np.float64]
    iterations: int
    residual: float
    converged: bool


def pagerank(
    src: NDArray[np.integer],
    dst: NDArray[np.integer],
    n: int,
    *,
    weights: NDArray[np.floating] | None = None,
    damping: float = 0.85,
    personalization: NDArray[np.floating] | None = None,
    dangling: NDArray[np.floating] | None = None,
    tol: float = 1e-6,
    max_iter: int = 100,
    nstart: NDArray[np.floating] | None = None,
    distinct: bool = False,
) -> RankResult:
    """PageRank of nodes ``0..n-1`` of the graph with edges ``src[i] -> dst[i]``.

    The semantics are those of ``networkx.pagerank``: parallel edges add their weights
    (``weights``, default 1 each); self-loops are kept (the caller drops them if it wants
    to); each node's out-weights are normalised to sum 1; a node with zero out-weight is
    dangling and its mass goes out by ``dangling``, or if that is None by
    ``personalization``, or uniformly. The teleport vector is ``personalization`` (default
    uniform). ``personalization``, ``dangling`` and ``nstart`` are length-``n`` vectors of
    non-negative values with a positive sum, scaled here to sum 1. Each iteration is::

        x = damping * (M @ x + sum(x[dangling nodes]) * dangling) + (1 - damping) * p

    and the iteration stops when the L1 change is below ``n * tol`` (converged) or after
    ``max_iter`` iterations (not converged; no exception, see :class:`RankResult`). As in
    networkx, ``tol`` is per node: the L1 change of two distributions is at most 2, so from
    ``n >= 2 / tol`` nodes on the first iteration always "converges"; a large graph needs
    a ``tol`` well below ``1 / n``.

    ``src`` and ``dst`` may be int32 or int64, and are not kept: the matrix ``M`` is one
    CSR matrix (rows are link targets, parallel edges summed) with float64 values and
    int32 indices whenever the node and edge counts allow, to which scipy casts int64 ids
    while it is built (a temporary copy). From about a million matrix entries on, each
    iteration runs in row blocks, one thread per usable CPU (at most 8); every score is
    summed in the same order whatever the number of blocks, only ``residual`` may differ
    in its last bits. ``distinct=True`` is the caller's promise that no edge appears
    twice (with parallel edges the result is then wrong): the matrix is built faster.
    """
    n = _node_count(n)
    src, dst = _edges(src, dst, n)
    if not 0.0 <= damping < 1.0:
        raise ValueError(f"damping must be in [0, 1), got {damping!r}")
    if not (tol >= 0.0 and math.isfinite(tol)):
        raise ValueError(f"tol must be a finite number >= 0, got {tol!r}")
    max_iter = operator.index(max_iter)
    if max_iter < 1:
        raise ValueError(f"max_iter must be >= 1, got {max_iter}")
    w = None
    if weights is not None:
        w = np.asarray(weights, dtype=np.float64)
        if w.shape != src.shape:
            raise ValueError(f"weights must have one value per edge ({src.size}), got {w.shape}")
        # min and max instead of isfinite/less masks: no temporary as long as the edges.
        if w.size and not (w.min() >= 0.0 and math.isfinite(w.max())):
            raise ValueError("weights must be finite and non-negative")
    if n == 0:
        return RankResult(np.zeros(0), 0, 0.0, True)
    p = None if personalization is None else _distribution("personalization", personalization, n)
    dw = p if dangling is None else _distribution("dangling", dangling, n)
    x = np.full(n, 1.0 / n) if nstart is None else _distribution("nstart", nstart, n)

    m, out_weight = _transition(src, dst, n, w, distinct)
    dangling_nodes = np.flatnonzero(out_weight == 0.0)
    del out_weight

    step = _PowerStep(_row_blocks(m), n, damping, p, dw, np.empty(n))
    del m
    # Buffers reused by every iteration: the blocks' `M @ x` are its only allocations.
    # With several blocks, each thread writes its rows of the next x into `spare`, and
    # x and spare swap.
    dangling_x = np.empty(dangling_nodes.size)
    threaded = len(step.blocks) > 1
    spare = np.empty(n if threaded else 0)
    pool = ThreadPoolExecutor(len(step.blocks)) if threaded else None
    residual = math.inf
    try:
        for iteration in range(1, max_iter + 1):
            lost = 0.0
            if dangling_nodes.size:
                # mode="clip": with the default "raise", take buffers `out` (an allocation).
                taken = np.take(x, dangling_nodes, out=dangling_x, mode="clip")
                lost = damping * float(taken.sum())
            if pool is None:
                x, residual = step.run(0, x, lost, None)
            else:
                run = partial(step.run, x=x, lost=lost, out=spare)
                residual = sum(r for _, r in pool.map(run, range(len(step.blocks))))
                x, spare = spare, x
            if residual < n * tol:
                return RankResult(x, iteration, residual, True)
    finally:
        if pool is not None:
            pool.shutdown()
    return RankResult(x, max_iter, residual, False)


def harmonic_centrality(
    src: NDArray[np.integer],
    dst: NDArray[np.integer],
    n: int,
    *,
    sources: NDArray[np.integer] | None = None,
) -> NDArray[np.float64]:
    """Harmonic centrality of nodes ``0..n-1``, unweighted and directed.

    Exact (``sources`` None), it is ``networkx.harmonic_centrality`` of the ``DiGraph`` with
    edges ``src[i] -> dst[i]``: ``h(u) = sum over v != u of 1 / d(v, u)``, where ``d(v, u)``
    is the number of edges on a shortest path from ``v`` to ``u`` and ``1 / d`` is 0 when
    ``u`` cannot be reached from ``v``. Parallel edges and self-loops change nothing.

    Sampled, ``sources`` is a uniform random sample, without replacement, of ``k >= 2``
    distinct nodes, and the estimate is::

        h_S(u) = (n - 1) / (k - [u in S]) * sum over v in S, v != u of 1 / d(v, u)

    Given whether ``u`` is in the sample, ``S`` without ``u`` is a uniform sample of the
    other ``n - 1`` nodes, so ``h_S(u)`` is an unbiased estimate of ``h(u)`` (Eppstein and
    Wang's sampling, 2004, with the node's own zero term left out of the average). With
    ``S`` all nodes it is the exact value. The caller draws the sample (e.g.
    ``numpy.random.Generator.choice(n, k, replace=False)``), so it owns the seed.

    The search is bit-parallel: one batch runs 64 sources per uint64 word, ``W`` words at a
    time, and each BFS level ORs the frontier's bits along the edges into the targets'
    words; the cost is in :func:`harmonic_work`.
    """
    n = _node_count(n)
    src, dst = _edges(src, dst, n)
    chosen: NDArray[np.integer]
    if sources is None:
        chosen = np.arange(n)
    else:
        chosen = _id_array("sources", sources, n)
        if np.unique(chosen).size != chosen.size:
            raise ValueError("sources must not repeat a node")
        if chosen.size < min(2, n):
            raise ValueError("sources must hold at least 2 nodes (or all of them)")
    acc = np.zeros(n)
    if n < 2 or src.size == 0:
        return acc

    # Row u of the pattern lists the nodes with an edge to u, once each (parallel edges
    # are merged by the COO -> CSR conversion); self-loops never reach anything new.
    loop = src == dst
    if loop.any():
        src, dst = src[~loop], dst[~loop]
    del loop
    pattern = _sparse().csr_array((np.ones(src.size, dtype=np.bool_), (dst, src)), shape=(n, n))
    graph = _InEdges.from_csr(pattern.indptr, pattern.indices)
    del pattern
    if graph.preds.size:
        per_word = max(1, _HARMONIC_WORD_BUDGET // max(n, graph.preds.size))
        words = min(-(-chosen.size // 64), per_word)
        for start in range(0, chosen.size, 64 * words):
            batch = chosen[start : start + 64 * words]
            _bfs_batch(graph, batch, -(-batch.size // 64), acc)

    if sources is not None:
        # (n - 1) / (k - [u in S]); k == n gives exactly 1, so all-sources is exact.
        in_sample = np.zeros(n, dtype=np.bool_)
        in_sample[chosen] = True
        acc *= (n - 1) / (chosen.size - in_sample)
    return acc


def harmonic_work(n_edges: int, n: int, n_sources: int | None = None) -> int:
    """Estimated cost of :func:`harmonic_centrality`, in 64-bit word operations per level.

    Each BFS level of a batch gathers one word per edge and updates one word per node, for
    every word of sources: ``ceil(k / 64) * (n_edges + n)`` with ``k = n_sources``, or
    ``k = n`` for the exact run. The whole run costs about this times the number of levels
    (one more than the longest distance from a source to a node it reaches), less on the
    first and last levels, which only touch the frontier. The job compares it with its
    budget to choose the exact run or a sample, and sizes the sample by solving for ``k``.
    """
    k = n if n_sources is None else n_sources
    if min(n_edges, n, k) < 0:
        raise ValueError("n_edges, n and n_sources must be >= 0")
    return -(-k // 64) * (n_edges + n)


def log_score(values: NDArray[np.float64]) -> NDArray[np.float64]:
    """The published 0-100 score of non-negative values, log-scaled and rounded.

    ``score(v) = round(100 * ln(v / vmin) / ln(vmax / vmin), 2)`` for ``v > 0``, where
    ``vmin`` is the smallest positive value and ``vmax`` the largest; ``score(0) = 0``.
    So the smallest positive value scores 0 and the largest 100, and the score is
    non-decreasing in the value. When there is no spread to scale (no positive value, or
    all positive values equal) every score is 0, the score of ``vmin``. Empty in, empty
    out. The logarithms are taken separately (``ln v - ln vmin``) so that no ratio can
    overflow.
    """
    v = np.asarray(values, dtype=np.float64)
    if v.ndim != 1:
        raise ValueError(f"values must be a 1-D array, got shape {v.shape}")
    if v.size and not (v.min() >= 0.0 and math.isfinite(v.max())):
        raise ValueError("values must be finite and non-negative")
    out = np.zeros(v.size)
    positive = v > 0.0
    if not positive.any():
        return out
    logs = np.log(v[positive])
    low = logs.min()
    span = logs.max() - low
    if span <= 0.0:
        return out
    logs -= low
    logs *= 100.0 / span
    out[positive] = np.round(logs, 2)
    return out


def ranks(values: NDArray[np.float64], ids: NDArray[np.int64]) -> NDArray[np.int64]:
    """1-based rank of each value, highest first; equal values are ordered by ascending id.

    The order is total and deterministic when ids are unique (repeated ids keep their
    input order). ``0.0`` and ``-0.0`` are equal; NaN is refused.
    """
    v = np.asarray(values, dtype=np.float64)
    i = np.asarray(ids)
    if v.ndim != 1 or v.shape != i.shape:
        raise ValueError(
            f"values and ids must be 1-D arrays of one length, got {v.shape} and {i.shape}"
        )
    if i.dtype.kind not in "iu":
        raise ValueError(f"ids must hold integers, got dtype {i.dtype}")
    if np.isnan(v).any():
        raise ValueError("values must not be NaN")
    order = _descending_then_by_id(v, i)
    out = np.empty(v.size, dtype=np.int64)
    out[order] = np.arange(1, v.size + 1, dtype=np.int64)
    return out


def _descending_then_by_id(v: NDArray[np.float64], ids: NDArray[np.integer]) -> NDArray[np.intp]:
    """The indices of ``v`` by descending value, equal values by ascending id (then by
    position). One unstable argsort of the values (numpy's SIMD sort), then a lexsort of
    only the values that tie: about half the time of ``np.lexsort((ids, -v))`` on a big
    PageRank vector, where a few percent of the pages share a value."""
    order = np.argsort(-v)
    if v.size < 2:
        return order
    ordered = v[order]
    new_value = np.empty(v.size, dtype=np.bool_)
    new_value[0] = True
    np.not_equal(ordered[1:], ordered[:-1], out=new_value[1:])
    del ordered
    if new_value.all():
        return order
    run = np.cumsum(new_value, dtype=np.int64)
    del new_value
    tied = np.flatnonzero(np.bincount(run)[run] > 1)
    members = order[tied]
    # lexsort is stable: the position breaks ties of equal ids (as np.lexsort would).
    members = members[np.lexsort((members, ids[members], run[tied]))]
    order[tied] = members
    return order


def _node_count(n: int) -> int:
    n = operator.index(n)
    if n < 0:
        raise ValueError(f"n must be >= 0, got {n}")
    return n


def _id_array(name: str, ids: Any, n: int) -> NDArray[np.integer]:
    """``ids`` as a 1-D integer array of node ids in ``0..n-1``, not copied."""
    a = np.asarray(ids)
    if a.ndim != 1:
        raise ValueError(f"{name} must be a 1-D array, got shape {a.shape}")
    if a.dtype.kind not in "iu":
        raise ValueError(f"{name} must hold integers, got dtype {a.dtype}")
    if a.size:
        low, high = int(a.min()), int(a.max())
        if low < 0:
            raise ValueError(f"{name} holds a negative node id ({low})")
        if high >= n:
            raise ValueError(f"{name} holds node id {high}, out of range for n={n}")
    return a


def _edges(src: Any, dst: Any, n: int) -> tuple[NDArray[np.integer], NDArray[np.integer]]:
    s = _id_array("src", src, n)
    d = _id_array("dst", dst, n)
    if s.size != d.size:
        raise ValueError(f"src and dst must have one length, got {s.size} and {d.size}")
    return s, d


def _distribution(name: str, values: Any, n: int) -> NDArray[np.float64]:
    """A fresh copy of a length-``n`` non-negative vector, scaled to sum 1."""
    v = np.array(values, dtype=np.float64)
    if v.shape != (n,):
        raise ValueError(f"{name} must have one value per node ({n}), got shape {v.shape}")
    if not (v.min() >= 0.0 and math.isfinite(v.max())):
        raise ValueError(f"{name} must be finite and non-negative")
    total = v.sum()
    if not total > 0.0:
        raise ValueError(f"{name} must have a positive sum")
    v /= total
    return v


def _transition(
    src: NDArray[np.integer],
    dst: NDArray[np.integer],
    n: int,
    weights: NDArray[np.float64] | None,
    distinct: bool = False,
) -> tuple[Any, NDArray[np.float64]]:
    """The column-stochastic CSR matrix ``M[d, s] = w(s -> d) / out_weight(s)``, and out_weight.

    The matrix is built with the raw weights (parallel edges summed by the COO -> CSR
    conversion) and normalised afterwards, a chunk at a time, so that besides the matrix
    only the COO values (and int32 copies of int64 ids, made by scipy) exist while it is
    built. Without weights, the parallel edges are counted in float32 (exact up to 2**24
    per pair) and widened while normalising: the COO values then take 4 bytes an edge, not
    8, which lowers the peak by 2 bytes an edge. Columns of dangling nodes hold only zeros.
    """
    if weights is None and distinct:
        # Each edge once: the out-weights are out-degrees, and every value is known before
        # the matrix is built (no second pass gathering 1 / out_weight by column).
        out_degree = np.bincount(src, minlength=n)
        inverse = np.zeros(n)
        np.divide(1.0, out_degree, out=inverse, where=out_degree > 0)
        m = _csr(inverse[src], dst, src, n, distinct)
        return m, out_degree.astype(np.float64)
    if weights is None:
        ones = np.ones(src.size, dtype=np.float32)
        counts = _csr(ones, dst, src, n, distinct)
        del ones
        # Column sums through the transpose's matvec: bincount would copy indices to intp.
        out_weight = (counts.T @ np.ones(n, dtype=np.float32)).astype(np.float64)
        values = np.empty(counts.nnz)
        _normalise(counts.data, counts.indices, out_weight, values)
        m = _sparse().csr_array((values, counts.indices, counts.indptr), shape=(n, n))
        return m, out_weight
    m = _csr(weights.astype(np.float64, copy=False), dst, src, n, distinct)
    out_weight = m.T @ np.ones(n)
    _normalise(m.data, m.indices, out_weight, m.data)
    return m, out_weight


def _csr(
    values: NDArray[np.floating],
    rows: NDArray[np.integer],
    columns: NDArray[np.integer],
    n: int,
    distinct: bool,
) -> Any:
    """The n x n CSR matrix of the COO entries, duplicates summed. ``distinct``: the
    caller promises no (row, column) twice, and the pass that sorts every row's columns
    to find duplicates is skipped (the matrix-vector product needs no order; the pass
    cost ~6x the counting sort into rows when the entries come unsorted)."""
    coo = _sparse().coo_array((values, (rows, columns)), shape=(n, n))
    if distinct:
        coo.has_canonical_format = True  # nothing to sum: tocsr() skips sum_duplicates()
    return coo.tocsr()


def _normalise(
    weights: NDArray[np.floating],
    columns: NDArray[np.integer],
    out_weight: NDArray[np.float64],
    out: NDArray[np.float64],
) -> None:
    """``out = weights / out_weight[columns]`` (0 where that is 0), a chunk at a time."""
    inverse = np.zeros(out_weight.size)
    np.divide(1.0, out_weight, out=inverse, where=out_weight > 0.0)
    for start in range(0, weights.size, _SCALE_CHUNK):
        chunk = slice(start, start + _SCALE_CHUNK)
        np.multiply(weights[chunk], inverse[columns[chunk]], out=out[chunk])


def _sparse() -> Any:
    """``scipy.sparse``, imported on first use: the authority job imports it on a
    background thread while it reads its input (:func:`prefetch`), ~0.1 s off its start."""
    import scipy.sparse

    return scipy.sparse


def prefetch() -> None:
    """Import what the ranking needs (for a background thread)."""
    _sparse()


def _threads() -> int:
    """The CPUs this process may run on."""
    if hasattr(os, "sched_getaffinity"):
        return len(os.sched_getaffinity(0))
    return os.cpu_count() or 1  # pragma: no cover - platforms without affinity


def _row_blocks(m: Any) -> list[tuple[Any, int, int]]:
    """``m`` cut into row blocks of about equal nnz, one per thread, as ``(block, lo, hi)``.

    The blocks are views of ``m``'s arrays. They are assembled attribute by attribute
    because scipy's constructor copies an index or value array that is a view of less than
    half of its base (``scipy._lib._util._prune_array``), which would double the memory.
    """
    n_rows = m.shape[0]
    count = min(_threads(), _PARALLEL_MAX_THREADS, m.nnz // _PARALLEL_MIN_NNZ)
    if count < 2:
        return [(m, 0, n_rows)]
    indptr = m.indptr
    cuts = np.searchsorted(indptr, np.arange(1, count) * (m.nnz / count))
    bounds = [0, *sorted({int(c) for c in cuts} - {0, n_rows}), n_rows]
    blocks = []
    for lo, hi in itertools.pairwise(bounds):
        start, stop = int(indptr[lo]), int(indptr[hi])
        block = _sparse().csr_array((hi - lo, m.shape[1]), dtype=np.float64)
        block.indptr = indptr[lo : hi + 1] - indptr[lo]
        block.indices = m.indices[start:stop]
        block.data = m.data[start:stop]
        blocks.append((block, lo, hi))
    return blocks


@dataclass(frozen=True)
class _PowerStep:
    """One power iteration, over one row block at a time (so that threads can share it)."""

    blocks: list[tuple[Any, int, int]]
    n: int
    damping: float
    p: NDArray[np.float64] | None  # the teleport vector; None is uniform
    dw: NDArray[np.float64] | None  # where dangling mass goes; may be p itself
    scratch: NDArray[np.float64]

    def run(
        self, i: int, x: NDArray[np.float64], lost: float, out: NDArray[np.float64] | None
    ) -> tuple[NDArray[np.float64], float]:
        """Rows of block ``i`` of the next x (into ``out`` if given) and their L1 change."""
        block, lo, hi = self.blocks[i]
        y: NDArray[np.float64] = block @ x
        y *= self.damping
        scratch = self.scratch[lo:hi]
        teleport = 1.0 - self.damping
        rows = slice(lo, hi)
        if self.dw is self.p:
            self._add(y, self.p, rows, lost + teleport, scratch)
        else:
            self._add(y, self.dw, rows, lost, scratch)
            self._add(y, self.p, rows, teleport, scratch)
        np.subtract(y, x[lo:hi], out=scratch)
        np.abs(scratch, out=scratch)
        residual = float(scratch.sum())
        if out is None:
            return y, residual
        out[lo:hi] = y
        return out, residual

    def _add(
        self,
        y: NDArray[np.float64],
        vector: NDArray[np.float64] | None,
        rows: slice,
        factor: float,
        scratch: NDArray[np.float64],
    ) -> None:
        """``y += factor * vector[rows]`` in place; a None vector is uniform (``1 / n``)."""
        if vector is None:
            y += factor / self.n
        else:
            np.multiply(vector[rows], factor, out=scratch)
            y += scratch


@dataclass(frozen=True)
class _InEdges:
    """A graph's in-edges grouped by target, in the shapes one BFS level needs."""

    preds: NDArray[np.integer]  # the in-edges' sources, grouped by target
    targets: NDArray[np.integer]  # the nodes with at least one in-edge
    starts: NDArray[np.integer]  # where each of those nodes' group starts in preds
    edge_target: NDArray[np.integer]  # the target of each entry of preds
    out_degree: NDArray[np.intp]  # per node, its number of distinct out-edges

    @classmethod
    def from_csr(cls, indptr: NDArray[np.integer], preds: NDArray[np.integer]) -> _InEdges:
        """From a CSR pattern whose row ``u`` lists the nodes with an edge to ``u``."""
        in_degree = np.diff(indptr)
        targets = np.flatnonzero(in_degree).astype(preds.dtype)
        return cls(
            preds=preds,
            targets=targets,
            starts=indptr[:-1][targets],
            edge_target=np.repeat(np.arange(in_degree.size, dtype=preds.dtype), in_degree),
            out_degree=np.bincount(preds, minlength=in_degree.size),
        )


def _bfs_batch(
    graph: _InEdges, batch: NDArray[np.integer], words: int, acc: NDArray[np.float64]
) -> None:
    """Add ``1 / d(v, u)`` to ``acc[u]`` for every source ``v`` of ``batch`` and every ``u``.

    Source ``batch[j]`` owns bit ``j % 64`` of word ``j // 64`` of every node's bitset;
    ``reached`` holds the bits of the sources that have reached a node, ``frontier`` those
    that reached it at the last level. A level ORs each node's predecessors' frontier
    bits, keeps the bits it has not seen, and counts them: each is one source at distance
    ``level``.
    """
    n = acc.size
    reached = np.zeros((n, words), dtype=np.uint64)
    j = np.arange(batch.size)
    reached[batch, j // 64] = np.left_shift(np.uint64(1), (j % 64).astype(np.uint64))
    frontier = reached.copy()
    active: NDArray[np.integer] = batch
    on = np.zeros(n, dtype=np.bool_)
    preds: NDArray[np.integer]
    starts: NDArray[np.integer]
    targets: NDArray[np.integer]
    level = 0
    while active.size:
        level += 1
        if graph.out_degree[active].sum() < _SPARSE_FRONTIER * graph.preds.size:
            on[active] = True
            used = on[graph.preds]
            on[active] = False
            preds = graph.preds[used]
            if not preds.size:
                break
            edge_target = graph.edge_target[used]
            first = np.empty(edge_target.size, dtype=np.bool_)
            first[0] = True
            np.not_equal(edge_target[1:], edge_target[:-1], out=first[1:])
            starts = np.flatnonzero(first)
            targets = edge_target[starts]
        else:
            preds, starts, targets = graph.preds, graph.starts, graph.targets
        bits = np.bitwise_or.reduceat(frontier[preds], starts, axis=0)
        bits &= ~reached[targets]
        fresh = bits.any(axis=1)
        targets, bits = targets[fresh], bits[fresh]
        frontier[active] = 0
        frontier[targets] = bits
        reached[targets] |= bits
        acc[targets] += np.bitwise_count(bits).sum(axis=1) / level
        active = targets
