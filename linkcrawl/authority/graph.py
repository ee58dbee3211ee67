"""From a crawl's ``edges`` files to the integer arrays the authority job ranks.

Reading (:func:`find_edge_files`, :func:`read_edges`, :func:`map_node_ids`,
:func:`read_node_facts`; :func:`find_page_files` and :func:`read_page_fetches` for rule 1)
and the graph rules of ``docs/authority.md`` (:func:`latest_fetch`, :func:`fold_targets`,
:func:`resolve_folds`, :func:`link_classes`, :func:`link_pairs`). Nothing here builds a
Python object per row: columns are read with pyarrow (only the columns a step needs,
strings as dictionaries), and every rule is a numpy operation over whole arrays.

Nodes are dense ``int32`` indices ``0..n-1`` in ascending order of their 64-bit node id,
so "the smallest node id" is "the smallest index" and the result does not depend on the
order of files or rows.
"""

from __future__ import annotations

import contextlib
import math
import os
import re
import sys
import threading
from concurrent.futures import Executor, Future, ThreadPoolExecutor
from dataclasses import dataclass, fields
from functools import partial
from typing import TYPE_CHECKING, Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from linkcrawl.schema import PARTITION_COLUMN, SCHEMA_VERSION, SCHEMAS

if TYPE_CHECKING:
    from collections.abc import Callable, Sequence
    from pathlib import Path

    from numpy.typing import NDArray

__all__ = [
    "LINK_TYPE_CODES",
    "READABLE_SCHEMA_VERSIONS",
    "EdgeFile",
    "GraphInputError",
    "LinkPairs",
    "NodeFacts",
    "RawEdges",
    "find_edge_files",
    "find_page_files",
    "first_occurrences",
    "fold_targets",
    "latest_fetch",
    "link_classes",
    "link_pairs",
    "lower_priority",
    "map_node_ids",
    "read_edges",
    "read_node_facts",
    "read_page_fetches",
    "resolve_folds",
    "sort_inplace",
]

#: ``edges`` schema versions this module reads.
# Version 1 differs only by what this job does not read (no ``lastmod``, no sitemap rows).
READABLE_SCHEMA_VERSIONS = frozenset({"1", SCHEMA_VERSION})

# link_type codes, in bits 2-4 of a row's flags byte. The fold types are in priority
# order: when a page has several fold edges, a redirect wins over a refresh over a
# canonical (docs/authority.md, rule 2). A sitemap row says where a URL was found, not
# that a page links to it: it makes its target a node and passes nothing.
A, AREA, REDIRECT, REFRESH, CANONICAL, SITEMAP, UNKNOWN_TYPE = 0, 1, 2, 3, 4, 5, 7
LINK_TYPE_CODES = {"a": A, "area": AREA, "redirect": REDIRECT, "refresh": REFRESH,
                   "canonical": CANONICAL, "sitemap": SITEMAP}  # fmt: skip
# Flags byte: bit 0 rel nofollow/sponsored/ugc, bit 1 page_nofollow, bits 2-4 link type.
REL_FLAGGED, PAGE_NOFOLLOW, TYPE_SHIFT = 1, 2, 2

# Link classes (docs/authority.md, rules 3 and 4): what one link row passes.
PASSES_NOTHING, PASSES_REL_WEIGHT, PASSES_FULL = 0, 1, 2

# Columns of the two reading passes.
_RANK_COLUMNS = ["source_id", "target_id", "fetch_time", "link_type",
                 "nofollow", "sponsored", "ugc", "page_nofollow"]  # fmt: skip
_SIDES = {"source": ("source_id", "source_url", "source_host", "source_domain"),
          "target": ("target_id", "target_url", "target_host", "target_domain")}  # fmt: skip
_EDGE_CHECKED = _RANK_COLUMNS + [c for side in _SIDES.values() for c in side]
_PAGE_COLUMNS = ["node_id", "fetch_time", "status"]
# Strings read as dictionaries: no per-row string is materialised, only distinct values.
_STRING_COLUMNS = ["link_type", *(c for side in _SIDES.values() for c in side[1:])]
_CRAWL_DIR = re.compile(rf"{PARTITION_COLUMN}=(.+)")
BLOCK = 1 << 20  # elements per step of the blockwise passes (temporaries stay small)
_URL, _HOST, _DOMAIN = 1, 2, 3  # indices into a side of _SIDES
_PARALLEL_ROWS = 1 << 20  # link rows from which rule 3 sorts on two threads


class GraphInputError(ValueError):
    """The input cannot be read as a linkcrawl edges dataset; the message names the file."""


# --------------------------------------------------------------------------- files


@dataclass(frozen=True)
class EdgeFile:
    """One committed ``edges`` Parquet file and the row count of each of its row groups."""

    path: Path
    crawl_id: str
    row_groups: tuple[int, ...]

    @property
    def rows(self) -> int:
        return sum(self.row_groups)


def _visible(path: Path) -> bool:
    # Hidden and underscore names are in-flight temporaries or metadata (`.part-...tmp`).
    return not path.name.startswith((".", "_"))


def _partitions(root: Path, table: str) -> dict[str, Path]:
    directory = root / table
    partitions: dict[str, Path] = {}
    if directory.is_dir():
        for child in sorted(directory.iterdir()):
            match = _CRAWL_DIR.fullmatch(child.name)
            if child.is_dir() and match:
                partitions[match.group(1)] = child
    return partitions


def _files(directory: Path) -> list[Path]:
    return [p for p in sorted(directory.glob("*.parquet")) if _visible(p) and p.is_file()]


def find_edge_files(root: Path, crawl_ids: Sequence[str] | None = None) -> list[EdgeFile]:
    """The committed edges files under ``root/edges/crawl_id=<id>/``, checked and sorted.

    ``crawl_ids`` selects partitions (default: all). Every file's footer is read and its
    schema checked against ``EDGES_SCHEMA`` before any data is: a foreign, corrupt or
    newer file stops the job before it starts, with the file's path in the message.
    """
    if not root.is_dir():
        raise GraphInputError(f"input {str(root)!r} is not a directory")
    edges = root / "edges"
    if not edges.is_dir():
        raise GraphInputError(
            f"no edges dataset in {str(root)!r} (expected {edges}/{PARTITION_COLUMN}=<id>/)"
        )
    partitions = _partitions(root, "edges")
    if crawl_ids:
        missing = [c for c in dict.fromkeys(crawl_ids) if c not in partitions]
        if missing:
            known = ", ".join(sorted(partitions)) or "none"
            raise GraphInputError(
                f"--crawl-id {missing[0]!r}: no {edges}/{PARTITION_COLUMN}={missing[0]}/ "
                f"(crawls present: {known})"
            )
        partitions = {c: partitions[c] for c in dict.fromkeys(crawl_ids)}
    files = [
        EdgeFile(path, crawl_id, _check_file(path, "edges", _EDGE_CHECKED))
        for crawl_id, directory in partitions.items()
        for path in _files(directory)
    ]
    if not files:
        raise GraphInputError(f"no edges files (*.parquet) under {str(edges)!r}")
    if not any(f.rows for f in files):
        raise GraphInputError(f"the edges files under {str(edges)!r} hold no rows")
    return files


def find_page_files(root: Path, crawl_ids: Sequence[str]) -> list[Path]:
    """The committed ``pages`` files of the given crawls, checked; none when the crawl
    output has no pages table (rule 1 then judges by the edges alone)."""
    partitions = _partitions(root, "pages")
    files = [p for c in crawl_ids if c in partitions for p in _files(partitions[c])]
    for path in files:
        _check_file(path, "pages", _PAGE_COLUMNS)
    return files


def _check_file(path: Path, table_name: str, columns: Sequence[str]) -> tuple[int, ...]:
    """Check one file's footer against ``SCHEMAS[table_name]``; return its row groups'
    row counts."""
    try:
        pf = pq.ParquetFile(path)
        schema = pf.schema_arrow
        meta = pf.metadata
    except (OSError, pa.ArrowException) as e:
        raise GraphInputError(f"{path}: not a readable Parquet file ({_one_line(e)})") from None
    metadata = schema.metadata or {}
    table = metadata.get(b"linkcrawl.table")
    version = metadata.get(b"linkcrawl.schema_version")
    if table is not None and table != table_name.encode():
        raise GraphInputError(f"{path}: a linkcrawl {table.decode(errors='replace')!r} "
                              f"file, not from the {table_name} table")  # fmt: skip
    for name in columns:
        want = SCHEMAS[table_name].field(name).type
        index = schema.get_field_index(name)
        if index < 0:
            raise GraphInputError(
                f"{path}: column {name!r} missing (not a {table_name} table file)"
            )
        got = schema.field(index).type
        if got != want:
            raise GraphInputError(f"{path}: column {name!r} is {got}, expected {want}")
    if version is None:
        raise GraphInputError(f"{path}: no linkcrawl.schema_version in its metadata "
                              "(not written by linkcrawl?)")  # fmt: skip
    if version.decode(errors="replace") not in READABLE_SCHEMA_VERSIONS:
        raise GraphInputError(
            f"{path}: {table_name} schema_version {version.decode(errors='replace')!r} is "
            f"not one this job reads ({', '.join(sorted(READABLE_SCHEMA_VERSIONS))})"
        )
    return tuple(meta.row_group(i).num_rows for i in range(meta.num_row_groups))


def _open(path: Path) -> pq.ParquetFile:
    return pq.ParquetFile(path, read_dictionary=_STRING_COLUMNS)


def _one_line(e: BaseException) -> str:
    """An exception's message on one line (Arrow's messages can span several)."""
    return " ".join(str(e).split())


def _read_error(path: Path, e: Exception) -> GraphInputError:
    return GraphInputError(f"{path}: cannot read Parquet data ({_one_line(e)})")


def _np(array: Any, dtype: Any) -> NDArray[Any]:
    """A non-null Arrow array (or a one-chunk ChunkedArray) as a numpy array."""
    if isinstance(array, pa.ChunkedArray):
        array = array.combine_chunks()
    if array.null_count:
        raise ValueError("unexpected null")
    return np.asarray(array.to_numpy(zero_copy_only=False), dtype=dtype)


# ---------------------------------------------------------------------- pass 1: rows


@dataclass
class RawEdges:
    """Every row of the selected files, in file order, reduced to what ranking needs.

    A fetch's rows are written together, so rows come in runs that share a source and a
    fetch time: ``run_start``, ``run_source`` (its int64 node id) and ``run_time`` describe
    the runs, and rule 1 and the source side of the id mapping work on runs, not rows.
    ``target_ids`` are the int64 target-id chunks as read (Arrow, no copy); ``flags`` one
    byte per row (rel flagged, page_nofollow, link type).
    """

    target_ids: list[pa.Array]
    flags: NDArray[np.uint8]
    run_start: NDArray[np.int64]
    run_source: NDArray[np.int64]
    run_time: NDArray[np.int64]

    @property
    def rows(self) -> int:
        return int(self.flags.size)


def read_edges(files: Sequence[EdgeFile], threads: int = 1) -> RawEdges:
    """Read the columns the ranking needs from every file (pass 1), ``threads`` files at
    a time (each read with Arrow's threads too: the per-batch numpy work between reads
    is single-threaded)."""
    offsets = np.cumsum([0, *(f.rows for f in files)])
    flags = np.empty(int(offsets[-1]), dtype=np.uint8)
    with ThreadPoolExecutor(max_workers=max(1, threads)) as pool:
        parts = list(pool.map(partial(_read_file, flags=flags), files, offsets[:-1].tolist()))
    targets = [t for part in parts for t in part[0]]
    joined = [np.concatenate([part[i] for part in parts]) if parts else np.zeros(0, np.int64)
              for i in (1, 2, 3)]  # fmt: skip
    return RawEdges(targets, flags, *joined)


def _read_file(
    f: EdgeFile, offset: int, flags: NDArray[np.uint8]
) -> tuple[list[pa.Array], NDArray[np.int64], NDArray[np.int64], NDArray[np.int64]]:
    """One file of :func:`read_edges`: its rows' flags into ``flags[offset:]``; its target
    id chunks and its runs (start row, source id, fetch time)."""
    try:
        table = _open(f.path).read(columns=_RANK_COLUMNS, use_threads=True)
    except (OSError, pa.ArrowException) as e:
        raise _read_error(f.path, e) from None
    if table.num_rows != f.rows:
        raise GraphInputError(f"{f.path}: {table.num_rows} rows read, footer says {f.rows}")
    targets: list[pa.Array] = []
    runs: list[list[NDArray[np.int64]]] = [[], [], []]
    try:
        for batch in table.to_batches():
            size = batch.num_rows
            if not size:
                continue
            time = _np(batch.column("fetch_time").cast(pa.int64()), np.int64)
            src = _np(batch.column("source_id"), np.int64)
            change = np.empty(size, dtype=np.bool_)
            change[0] = True
            np.not_equal(src[1:], src[:-1], out=change[1:])
            change[1:] |= time[1:] != time[:-1]
            starts = np.flatnonzero(change)
            runs[0].append(starts + offset)
            runs[1].append(src[starts])
            runs[2].append(time[starts])
            del time, src, change, starts
            flags[offset : offset + size] = _row_flags(batch)
            target = batch.column("target_id")
            if target.null_count:
                raise ValueError("target_id")
            targets.append(target)
            offset += size
    except ValueError as e:
        raise GraphInputError(f"{f.path}: null in a non-nullable column ({e})") from None
    empty = np.zeros(0, np.int64)
    start, source, fetch = (np.concatenate(r) if r else empty for r in runs)
    return targets, start, source, fetch


def _row_flags(batch: pa.RecordBatch) -> NDArray[np.uint8]:
    rel = pc.or_(pc.or_(batch.column("nofollow"), batch.column("sponsored")), batch.column("ugc"))
    flags = _np(rel, np.uint8)
    flags |= _np(batch.column("page_nofollow"), np.uint8) << 1
    link_type = batch.column("link_type")
    if link_type.null_count:
        raise ValueError("link_type")
    if pa.types.is_dictionary(link_type.type):
        lut = np.array(
            [LINK_TYPE_CODES.get(v, UNKNOWN_TYPE) for v in link_type.dictionary.to_pylist()]
            or [UNKNOWN_TYPE],
            dtype=np.uint8,
        )
        codes = lut[_np(link_type.indices, np.int32)]
    else:  # pragma: no cover - read_dictionary always gives a dictionary
        codes = np.array([LINK_TYPE_CODES.get(v, UNKNOWN_TYPE) for v in link_type.to_pylist()],
                         dtype=np.uint8)  # fmt: skip
    flags |= codes << TYPE_SHIFT
    return flags


def map_node_ids(
    raw: RawEdges, threads: int = 1
) -> tuple[NDArray[np.int64], NDArray[np.int32], NDArray[np.int32]]:
    """Dense node indices: ``(node_ids, src, dst)`` with ``node_ids`` sorted ascending and
    ``node_ids[src[i]]`` the source id of row ``i``. Frees ``raw``'s target chunks.

    Arrow hash passes (``dictionary_encode``, which shares one dictionary between chunks)
    over the runs' sources and the rows' targets, then a permutation to ascending id
    order; the sources of the rows are their runs' sources repeated. The ids are split by
    sign, the top bit of the int64 (node ids are uniform hashes: two halves of about the
    same size, with no id in both): each half is hashed and renumbered on its own, on two
    threads when ``threads`` > 1, and the negative half's indices come first. (Measured:
    faster than ``np.unique`` or a sort; two hash passes over halves of the *rows*, merged,
    were no faster at 45M rows, as every node is in both.)
    """
    rows = raw.rows
    if not rows:
        return np.zeros(0, np.int64), np.zeros(0, np.int32), np.zeros(0, np.int32)
    chunks = [raw.run_source, *(_np(c, np.int64) for c in raw.target_ids)]
    run_node = np.empty(raw.run_source.size, dtype=np.int32)
    dst = np.empty(rows, dtype=np.int32)
    bounds = np.cumsum([0, *(c.size for c in chunks[1:])])
    outs = [run_node, *(dst[bounds[i] : bounds[i + 1]] for i in range(len(chunks) - 1))]

    def half(negative: bool, chunk: NDArray[np.int64]) -> NDArray[np.bool_]:
        return chunk < 0 if negative else chunk >= 0

    def encode(negative: bool) -> tuple[NDArray[np.int64], list[NDArray[np.int32]]]:
        parts = [c[half(negative, c)] for c in chunks]
        cuts = np.cumsum([0, *(c.size for c in parts)])
        encoded = pc.dictionary_encode(pa.chunked_array([pa.array(c) for c in parts], pa.int64()))
        del parts
        if not encoded.num_chunks:  # (Arrow leaves out empty chunks)
            return np.zeros(0, np.int64), [np.zeros(0, np.int32)] * len(chunks)
        dictionary = _np(encoded.chunk(0).dictionary, np.int64).copy()
        joined = np.concatenate([_np(c.indices, np.int32) for c in encoded.chunks])
        del encoded
        # numpy copies of everything, the Arrow buffers freed: give them back from this
        # thread (Arrow's allocator keeps a heap per thread).
        pa.default_memory_pool().release_unused()
        return dictionary, [joined[cuts[i] : cuts[i + 1]] for i in range(len(chunks))]

    def renumber(
        negative: bool, dictionary: NDArray[np.int64], indices: list[NDArray[np.int32]], at: int
    ) -> NDArray[np.int64]:
        order = np.argsort(dictionary)
        inverse = np.empty(order.size, dtype=np.int32)
        inverse[order] = np.arange(at, at + order.size, dtype=np.int32)
        for i, chunk in enumerate(chunks):
            outs[i][half(negative, chunk)] = inverse[indices[i]]
        return dictionary[order]

    with ThreadPoolExecutor(max_workers=2 if threads > 1 else 1) as pool:
        (neg_dict, neg_idx), (pos_dict, pos_idx) = pool.map(encode, (True, False))
        if neg_dict.size + pos_dict.size >= 2**31 - 1:
            raise GraphInputError(
                f"{neg_dict.size + pos_dict.size} nodes: more than this job's int32 indices hold"
            )
        pa.default_memory_pool().release_unused()  # the hash tables, before the big arrays
        halves = pool.map(renumber, (True, False), (neg_dict, pos_dict), (neg_idx, pos_idx),
                          (0, neg_dict.size))  # fmt: skip
        node_ids = np.concatenate(list(halves))
    del neg_idx, pos_idx, neg_dict, pos_dict
    raw.target_ids = []
    src = np.repeat(run_node, np.diff(np.append(raw.run_start, rows)))
    return node_ids, src, dst


# ------------------------------------------------------------------ pass 2: node facts


@dataclass
class NodeFacts:
    """Per node index: its URL, host and registered domain (codes into sorted names).

    The URLs are kept in the order they were read, ``url_rows[i]`` being node ``i``'s
    (:meth:`urls` takes them; no copy in node order is made). They are only needed for
    the output: :func:`read_node_facts` can leave them being read on a background thread
    while the rules and rankings run (:meth:`urls` then waits for them, and raises the
    reading's error if it failed).
    """

    url_source: pa.Array | Future[pa.Array]  # large_string, in url_rows order
    url_rows: NDArray[np.int64]
    host: NDArray[np.int32]
    domain: NDArray[np.int32]
    host_names: pa.Array  # sorted ascending
    domain_names: pa.Array  # sorted ascending
    domain_of_host: NDArray[np.int32]

    def urls(self, nodes: NDArray[np.integer]) -> pa.Array:
        """The URLs of ``nodes`` (node indices), as a ``large_string`` array."""
        if isinstance(self.url_source, Future):
            self.url_source = self.url_source.result()
        return self.url_source.take(pa.array(self.url_rows[nodes]))

    @property
    def url(self) -> pa.Array:
        """Every node's URL, in node order."""
        return self.urls(np.arange(self.url_rows.size))


def first_occurrences(
    src: NDArray[np.int32],
    dst: NDArray[np.int32],
    n: int,
    run_start: NDArray[np.int64] | None = None,
) -> tuple[NDArray[np.int64], NDArray[np.int64]]:
    """Where each node is named: ``(nodes, positions)`` in ascending position order, a
    position being ``row * 2`` for the source column and ``row * 2 + 1`` for the target.

    A node that is a source anywhere is read from its first row as a source, any other
    node from its first row as a target: source columns repeat a page's strings on each
    of its rows, which Parquet stores (and the reader decodes) once. ``run_start`` (the
    first row of each run of rows with one source, :class:`RawEdges`) makes the source
    side a pass over the runs instead of the rows; without it every row is looked at.
    Blockwise ``np.minimum.at``: no temporary as long as the rows.
    """
    first = np.full(n, np.iinfo(np.int64).max, dtype=np.int64)
    starts = np.arange(src.size, dtype=np.int64) if run_start is None else run_start
    for at in range(0, starts.size, BLOCK):
        rows = starts[at : at + BLOCK]
        np.minimum.at(first, src[rows], rows * 2)
    is_source = first != np.iinfo(np.int64).max
    for start in range(0, dst.size, BLOCK):
        stop = min(start + BLOCK, dst.size)
        targets = dst[start:stop]
        rows = np.flatnonzero(~is_source[targets])
        np.minimum.at(first, targets[rows], (rows + start) * 2 + 1)
    nodes = np.argsort(first)
    return nodes, first[nodes]


def read_node_facts(  # noqa: PLR0917
    files: Sequence[EdgeFile],
    src: NDArray[np.int32],
    dst: NDArray[np.int32],
    n: int,
    threads: int = 1,
    url_pool: Executor | None = None,
    run_start: NDArray[np.int64] | None = None,
) -> NodeFacts:
    """Read each node's URL, host and domain from one row that names it (pass 2).

    The rows to read follow from pass 1 (:func:`first_occurrences`: files are read in the
    same order, so ``src`` and ``dst`` locate every node without hashing ids again). Of
    each file only the row groups holding such rows are read, and of those only the string
    columns of the side(s) needed, ``threads`` files at a time; only those rows' strings
    are kept: one URL per node, never the URLs of all edges. Hosts and domains are read
    here; the URLs (most of the bytes) too, or, given ``url_pool``, on that executor
    (one task, file after file), while the caller goes on.
    """
    nodes, positions = first_occurrences(src, dst, n, run_start)
    bounds = np.cumsum([0, *(f.rows for f in files)])
    cuts = np.searchsorted(positions >> 1, bounds)
    jobs = [
        (f, positions[cuts[i] : cuts[i + 1]], int(bounds[i]))
        for i, f in enumerate(files)
        if cuts[i + 1] > cuts[i]
    ]
    del positions
    # ``nodes`` is in position order, the order of the parts' rows: invert it.
    by_node = np.empty(n, dtype=np.int64)
    by_node[nodes] = np.arange(n, dtype=np.int64)
    del nodes

    def read_urls() -> pa.Array:
        if url_pool is not None:
            lower_priority()
        urls = []
        for f, at, offset in jobs:
            # release: the stages running meanwhile allocate with numpy, not from Arrow's
            # heap of this thread.
            urls.append(_file_facts(f, at, offset, (_URL,), True)[0].cast(pa.large_string()))
        return pa.concat_arrays(urls)

    url: pa.Array | Future[pa.Array] = (
        read_urls() if url_pool is None else url_pool.submit(read_urls)
    )
    with ThreadPoolExecutor(max_workers=max(1, threads)) as pool:
        parts = list(
            pool.map(lambda j: _file_facts(j[0], j[1], j[2], (_HOST, _DOMAIN), True), jobs)
        )
    hosts = [p[0] for p in parts]
    domains = [p[1] for p in parts]
    del parts
    (host, host_names), (domain, domain_names) = in_parallel(
        [partial(_codes, hosts, by_node), partial(_codes, domains, by_node)], threads
    )
    domain_of_host = np.zeros(len(host_names), dtype=np.int32)
    domain_of_host[host] = domain
    return NodeFacts(url, by_node, host, domain, host_names, domain_names, domain_of_host)


def lower_priority() -> None:
    """Lower this thread's scheduling priority (Linux: a thread is a task with its own
    nice value), so that a background read yields the cores to the job's critical path."""
    if sys.platform == "linux":
        with contextlib.suppress(OSError):  # not allowed: no matter
            os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), 10)


def _file_facts(
    f: EdgeFile,
    positions: NDArray[np.int64],
    offset: int,
    which: tuple[int, ...],
    release: bool = False,
) -> list[pa.Array]:
    """The strings at ``positions`` (ascending) of one file: of each kind in ``which``
    (``_URL``, ``_HOST``, ``_DOMAIN``), in that order. ``release``: give the memory of the
    file's columns back before returning (Arrow's allocator keeps a heap per thread)."""
    rows = (positions >> 1) - offset
    side = positions & 1
    group_bounds = np.cumsum([0, *f.row_groups])
    group_of_row = np.searchsorted(group_bounds, rows, side="right") - 1
    groups = np.unique(group_of_row)
    # Row numbers within the concatenation of the groups read.
    skipped = group_bounds[groups] - np.cumsum([0, *np.asarray(f.row_groups)[groups][:-1]])
    rows = rows - skipped[np.searchsorted(groups, group_of_row)]
    names = [name for bit, name in enumerate(("source", "target")) if (side == bit).any()]
    columns = [_SIDES[name][i] for name in names for i in which]
    try:
        # A row group's target URLs are nearly all distinct and their dictionary pages
        # fall back to plain ones: read as plain strings, which decodes faster than as a
        # dictionary (Arrow would hash them to merge the pages' dictionaries). Source URLs
        # repeat once per link of their page: as a dictionary, only the distinct ones are
        # decoded (measured: ~5x faster per file than as plain strings).
        table = pq.ParquetFile(f.path, read_dictionary=[c for c in columns if c != "target_url"])
        table = table.read_row_groups(groups.tolist(), columns=columns, use_threads=False)
    except (OSError, pa.ArrowException) as e:
        raise _read_error(f.path, e) from None
    out = []
    for i in which:
        if len(names) == 1:
            out.append(_take_strings(table.column(_SIDES[names[0]][i]), rows))
            continue
        # Both sides: take each side's rows, then interleave back into position order.
        is_target = side.astype(np.bool_)
        source = _take_strings(table.column(_SIDES["source"][i]), rows[~is_target])
        target = _take_strings(table.column(_SIDES["target"][i]), rows[is_target])
        merged = pa.concat_arrays([source, target])
        back = np.empty(rows.size, dtype=np.int64)
        back[np.flatnonzero(~is_target)] = np.arange(len(source))
        back[np.flatnonzero(is_target)] = np.arange(len(source), rows.size)
        out.append(merged.take(pa.array(back)))
    if release:
        del table
        pa.default_memory_pool().release_unused()
    return out


def _take_strings(column: pa.ChunkedArray, rows: NDArray[np.intp]) -> pa.Array:
    """``column[rows]`` (``rows`` ascending) as one plain ``string`` array.

    Chunk by chunk: ``ChunkedArray.take`` would first concatenate the chunks, unifying
    their dictionaries, which costs far more than the few rows taken.
    """
    bounds = np.cumsum([0, *(len(c) for c in column.chunks)])
    cuts = np.searchsorted(rows, bounds)
    parts = []
    for i, chunk in enumerate(column.chunks):
        local = rows[cuts[i] : cuts[i + 1]] - bounds[i]
        if local.size:
            part = chunk.take(pa.array(local))
            if pa.types.is_dictionary(part.type):
                part = part.dictionary_decode()
            parts.append(part.cast(pa.string()))
    return pa.concat_arrays(parts) if parts else pa.array([], pa.string())


def _codes(parts: list[pa.Array], order: NDArray[np.intp]) -> tuple[NDArray[np.int32], pa.Array]:
    """Per-node codes into the sorted distinct values of ``parts`` (taken in ``order``)."""
    encoded = pc.dictionary_encode(pa.chunked_array(parts, type=pa.string()))
    if not encoded.num_chunks:
        return np.zeros(0, np.int32), pa.array([], pa.string())
    names = encoded.chunk(0).dictionary
    codes = np.concatenate(
        [np.asarray(c.indices.to_numpy(zero_copy_only=False)) for c in encoded.chunks]
    )
    codes = codes[order]
    by_name = np.asarray(pc.sort_indices(names).to_numpy(zero_copy_only=False))
    rename = np.empty(by_name.size, dtype=np.int32)
    rename[by_name] = np.arange(by_name.size, dtype=np.int32)
    return rename[codes], names.take(pa.array(by_name))


# ---------------------------------------------------------------------- the graph rules


def read_page_fetches(
    files: Sequence[Path], node_ids: NDArray[np.int64]
) -> tuple[NDArray[np.int32], NDArray[np.int64]]:
    """From the ``pages`` table: ``(node, fetch_time)`` of every fetch that got an answer
    saying what the page is now (an HTTP status below 500), for nodes of the graph."""
    ids: list[pa.ChunkedArray] = []
    times: list[pa.ChunkedArray] = []
    for path in files:
        try:
            table = pq.read_table(path, columns=_PAGE_COLUMNS, use_threads=True)
        except (OSError, pa.ArrowException) as e:
            raise _read_error(path, e) from None
        answered = pc.fill_null(pc.less(table.column("status"), 500), False)
        table = table.filter(answered)
        if table.column("node_id").null_count or table.column("fetch_time").null_count:
            raise GraphInputError(f"{path}: null in a non-nullable column")
        ids.append(table.column("node_id"))
        times.append(table.column("fetch_time").cast(pa.int64()))
    if not ids:
        return np.zeros(0, np.int32), np.zeros(0, np.int64)
    # A merge with the sorted node ids: the page rows' ids sorted, then one binary search
    # each, which walks node_ids in order (measured: ~2x faster than a hash lookup,
    # pc.index_in, at 5M nodes; random probes into either miss the caches).
    page_ids = _np(pa.chunked_array([c for a in ids for c in a.chunks], pa.int64()), np.int64)
    order = np.argsort(page_ids)
    page_ids = page_ids[order]
    at = np.searchsorted(node_ids, page_ids)
    np.minimum(at, max(node_ids.size - 1, 0), out=at)
    known = node_ids[at] == page_ids if node_ids.size else np.zeros(at.size, np.bool_)
    del page_ids
    fetch = _np(pa.chunked_array([c for a in times for c in a.chunks], pa.int64()), np.int64)
    return at[known].astype(np.int32), fetch[order[known]]


def latest_fetch(
    src: NDArray[np.int32],
    raw: RawEdges,
    n: int,
    page_fetches: tuple[NDArray[np.int32], NDArray[np.int64]] | None = None,
) -> tuple[NDArray[np.bool_] | None, int]:
    """Rule 1: rows to keep (None = all) and the number of stale rows.

    A source's rows are kept only when their fetch time is the latest fetch of that
    source: the latest among its edge rows and, given ``page_fetches`` (the ``pages``
    table's answered fetches), among its page rows, so that a re-fetch that found no
    links still retires the links of the fetch before. Works on runs of rows (same
    source, same fetch time): when every source has one run and there is no page table,
    which is the common case, a count over the runs settles it.
    """
    starts = raw.run_start
    if not starts.size:
        return None, 0
    run_src = src[starts]
    has_pages = page_fetches is not None and page_fetches[0].size > 0
    if not has_pages and np.bincount(run_src, minlength=n).max() <= 1:
        return None, 0
    latest = np.full(n, np.iinfo(np.int64).min, dtype=np.int64)
    np.maximum.at(latest, run_src, raw.run_time)
    if page_fetches is not None and has_pages:
        np.maximum.at(latest, page_fetches[0], page_fetches[1])
    stale_runs = raw.run_time < latest[run_src]
    if not stale_runs.any():
        return None, 0
    lengths = np.diff(np.append(starts, src.size))
    keep = np.repeat(~stale_runs, lengths)
    return keep, int(keep.size - np.count_nonzero(keep))


@dataclass(frozen=True)
class Folds:
    """Rule 2's choice: the fold edge kept for each folding source, and what was dropped."""

    source: NDArray[np.int32]
    target: NDArray[np.int32]
    rows: int  # fold rows (redirect, refresh, canonical) after rule 1
    noop: int  # fold rows to the page itself (a self-canonical)
    unused: int  # fold rows that lost to another fold edge of their source


def fold_targets(
    src: NDArray[np.int32], dst: NDArray[np.int32], kind: NDArray[np.integer]
) -> Folds:
    """Rule 2: each source's fold target. A redirect wins over a refresh over a canonical;
    among edges of one type the smallest target id wins. Self-folds are no-ops."""
    rows = np.flatnonzero((kind >= REDIRECT) & (kind <= CANONICAL))
    s, d, k = src[rows], dst[rows], kind[rows]
    live = s != d
    noop = int(rows.size - np.count_nonzero(live))
    s, d, k = s[live], d[live], k[live]
    if not s.size:
        return Folds(np.zeros(0, np.int32), np.zeros(0, np.int32), int(rows.size), noop, 0)
    order = np.lexsort((d, k, s))
    s, d = s[order], d[order]
    first = np.empty(s.size, dtype=np.bool_)
    first[0] = True
    np.not_equal(s[1:], s[:-1], out=first[1:])
    chosen_s, chosen_d = s[first], d[first]
    return Folds(chosen_s, chosen_d, int(rows.size), noop, int(s.size - chosen_s.size))


def resolve_folds(
    source: NDArray[np.integer], target: NDArray[np.integer], n: int
) -> NDArray[np.int32]:
    """Rule 2: the representative of every node, ``rep[i]`` (``i`` itself if not folded).

    ``source`` folds into ``target`` (each source once). Chains resolve to their end; a
    cycle, and everything that leads into it, resolves to the cycle's smallest node.
    Vectorised pointer doubling over the nodes that take part: ``g = f^(2^k)`` lands every
    node on its chain's end or on its cycle, and a min-doubling gives each cycle its
    smallest member.
    """
    rep = np.arange(n, dtype=np.int32)
    if not len(source):
        return rep
    local = np.unique(np.concatenate([source, target]))
    k = local.size
    f = np.arange(k, dtype=np.int64)
    f[np.searchsorted(local, source)] = np.searchsorted(local, target)
    rounds = max(1, math.ceil(math.log2(k)) + 1)
    g = f.copy()
    for _ in range(rounds):
        g = g[g]
    # Smallest local index on each node's next 2^rounds steps: on a cycle, the cycle's min.
    smallest = np.arange(k, dtype=np.int64)
    h = f.copy()
    for _ in range(rounds):
        smallest = np.minimum(smallest, smallest[h])
        h = h[h]
    rep[local] = local[smallest[g]]
    return rep


def link_classes(flags: NDArray[np.uint8], rel_weight: float) -> NDArray[np.uint8]:
    """Rules 3 and 4, per row: what a link passes. 0 = nothing (its page says nofollow, or
    it is rel-flagged and the rel policy excludes), 1 = the rel policy's weight (a
    nofollow/sponsored/ugc link under ``include`` or a weight), 2 = full."""
    # In uint8 throughout (np.where would make an int64 temporary per row): full, less
    # the rel-flagged rows' drop, times zero for page-nofollow rows.
    rel_class = PASSES_REL_WEIGHT if rel_weight > 0 else PASSES_NOTHING
    cls: NDArray[np.uint8] = np.bitwise_and(flags, np.uint8(REL_FLAGGED))
    cls *= np.uint8(PASSES_FULL - rel_class)
    np.subtract(np.uint8(PASSES_FULL), cls, out=cls)
    cls *= (flags & PAGE_NOFOLLOW) == 0
    return cls


@dataclass
class LinkPairs:
    """Distinct (source page, target page) pairs of the link rows (:func:`link_pairs`).

    ``best`` is the highest link class among the pair's rows (a link passes if any of its
    occurrences does), ``rows`` the pair's row count and ``passing`` how many of those
    rows have a class above 0.
    """

    src: NDArray[np.int32]
    dst: NDArray[np.int32]
    best: NDArray[np.uint8]
    rows: NDArray[np.int32]
    passing: NDArray[np.int32]

    @property
    def size(self) -> int:
        return int(self.src.size)

    @classmethod
    def empty(cls) -> LinkPairs:
        none = np.zeros(0, np.int32)
        return cls(none, none, np.zeros(0, np.uint8), none, none)


_PAIR_FIELDS = [f.name for f in fields(LinkPairs)]


def pair_key_bits(m: int) -> int:
    """Bits of an index below ``m`` in a packed key: shifts and masks decode the key,
    where a division by ``m`` would cost ~10x more per element."""
    return max(1, (m - 1).bit_length())


def link_pairs(
    src: NDArray[np.int32],
    dst: NDArray[np.int32],
    cls: NDArray[np.uint8],
    m: int,
    *,
    threads: int = 1,
    rows: NDArray[np.bool_] | None = None,
) -> LinkPairs:
    """Rule 3's de-duplication: the distinct (src, dst) pairs of the link rows, with their
    best class and counts. ``src``, ``dst`` are page indices below ``m``, ``cls`` the
    rows' link classes (0-2), ``rows`` (default: all) which rows are links to count; the
    rows are in file order, so a page's links are one run of rows (a fetch is written
    together) or a few (pages folded into it, rule 2).

    Each run of rows with one source gets a number, ascending with the rows, and each row
    a key ``(run << b | dst) << 2 | class``: the keys of one run are together and below
    the next run's, so a stable sort (numpy's timsort, which finds such presorted stretches
    and merges them in about one pass) sorts them nearly in linear time, where a full sort
    of 64-bit keys costs ~7x more (measured at 42M rows). Neighbours then give each run's
    distinct targets; the pairs of a page with several runs are merged by a sort of just
    those pairs. With ``threads`` > 1 and at least ``_PARALLEL_ROWS`` rows, the two halves
    (cut at a run boundary) are sorted and reduced on two threads. The order of the pairs
    means nothing, but it is the same for the same rows (one thread or two).
    """
    size = src.size
    if not size or (rows is not None and not rows.any()):
        return LinkPairs.empty()
    new_run = np.empty(size, dtype=np.bool_)
    new_run[0] = True
    np.not_equal(src[1:], src[:-1], out=new_run[1:])
    starts = np.flatnonzero(new_run)
    del new_run
    run_src = src[starts]
    dst_bits = pair_key_bits(m)
    if pair_key_bits(run_src.size) + dst_bits + 2 > 63:
        raise ValueError(f"{run_src.size} runs of {m} pages: too many for 64-bit pair keys")
    # Each row's run number (np.repeat: ~2x faster than a cumsum of the run starts).
    key = np.repeat(np.arange(starts.size, dtype=np.int64), np.diff(np.append(starts, size)))
    del starts
    key <<= dst_bits
    key |= dst
    key <<= 2
    key |= cls
    if rows is not None:  # one filter of the keys, not three of the columns
        key = key[rows]
    size = key.size
    cut = 0
    if threads > 1 and size >= _PARALLEL_ROWS:
        # The first row of the run holding the middle row: no run in both halves.
        middle_run = key[size // 2] >> (dst_bits + 2)
        cut = int(np.searchsorted(key, middle_run << (dst_bits + 2)))
    if 0 < cut < size:
        with ThreadPoolExecutor(max_workers=2) as pool:
            halves = list(pool.map(_sorted_run_pairs, (key[:cut], key[cut:]),
                                   (dst_bits, dst_bits)))  # fmt: skip
        del key
        run_pairs = _concatenate(halves)
    else:
        run_pairs = _sorted_run_pairs(key, dst_bits)
        del key
    # run_pairs.src holds run numbers: the runs' pages instead.
    pair_run = run_pairs.src
    run_pairs.src = run_src[pair_run]
    # Runs of pages that have several (gathered by run: pair_run ascends).
    shared_run = np.bincount(run_src, minlength=m)[run_src] > 1
    several = np.flatnonzero(shared_run[pair_run])
    del pair_run, shared_run
    if not several.size:
        return run_pairs
    return _merge_pages_runs(run_pairs, several, dst_bits)


def sort_inplace(values: NDArray[Any], threads: int = 1) -> bool:
    """``values.sort()``; on two threads when ``threads`` > 1 and there are at least
    ``_PARALLEL_ROWS`` values: split around the median in place (``ndarray.partition``,
    one linear pass), then each half sorted on its own thread (numpy releases the GIL).
    No temporary. True when it took two threads."""
    if threads < 2 or values.size < _PARALLEL_ROWS:
        values.sort()
        return False
    mid = values.size // 2
    values.partition(mid)
    with ThreadPoolExecutor(max_workers=2) as pool:
        list(pool.map(np.ndarray.sort, (values[:mid], values[mid:])))
    return True


def _sorted_run_pairs(key: NDArray[np.int64], dst_bits: int) -> LinkPairs:
    """Sort ``key`` (stable: timsort) and reduce it to its distinct (run, dst) pairs;
    ``src`` of the result holds run numbers."""
    if not key.size:
        return LinkPairs.empty()
    key.sort(kind="stable")
    size = key.size
    last = np.empty(size, dtype=np.bool_)  # the last row of its pair
    passing = np.empty(size, dtype=np.bool_)  # a row with a class above 0
    for start in range(0, size, BLOCK):
        stop = min(start + BLOCK, size)
        pair = key[start : min(stop + 1, size)] >> 2
        np.not_equal(pair[1:], pair[:-1], out=last[start : start + pair.size - 1])
        np.not_equal(key[start:stop] & 3, 0, out=passing[start:stop])
    last[-1] = True
    ends = np.flatnonzero(last)
    del last
    firsts = np.empty(ends.size, dtype=np.intp)
    firsts[0] = 0
    firsts[1:] = ends[:-1] + 1
    passing_rows = np.add.reduceat(passing, firsts, dtype=np.int32)
    del passing
    counts = (ends - firsts + 1).astype(np.int32)
    del firsts
    tail = key[ends]
    del ends
    best = (tail & 3).astype(np.uint8)
    tail >>= 2
    dst = (tail & ((1 << dst_bits) - 1)).astype(np.int32)
    tail >>= dst_bits
    return LinkPairs(tail.astype(np.int32), dst, best, counts, passing_rows)


def _concatenate(parts: list[LinkPairs]) -> LinkPairs:
    """The parts' pairs one after the other; each part's arrays freed once copied."""
    joined = []
    for name in _PAIR_FIELDS:
        joined.append(np.concatenate([getattr(p, name) for p in parts]))
        for p in parts:
            setattr(p, name, np.zeros(0, getattr(p, name).dtype))
    return LinkPairs(*joined)


def _merge_pages_runs(pairs: LinkPairs, several: NDArray[np.intp], dst_bits: int) -> LinkPairs:
    """Merge the pairs at ``several`` (pages with more than one run) by (src, dst): the
    best class is the highest, the counts add up. Each merged pair takes the place of its
    first occurrence; the others are dropped, their places taken by the last pairs."""
    key = pairs.src[several].astype(np.int64)
    key <<= dst_bits
    key |= pairs.dst[several]
    order = np.argsort(key, kind="stable")
    key = key[order]
    at = several[order]  # positions in pairs, grouped by pair, first occurrence first
    del order
    first = np.empty(key.size, dtype=np.bool_)
    first[0] = True
    np.not_equal(key[1:], key[:-1], out=first[1:])
    del key
    starts = np.flatnonzero(first)
    keep_at = at[starts]
    pairs.best[keep_at] = np.maximum.reduceat(pairs.best[at], starts)
    pairs.rows[keep_at] = np.add.reduceat(pairs.rows[at], starts)
    pairs.passing[keep_at] = np.add.reduceat(pairs.passing[at], starts)
    # Drop the merged-away pairs without copying the arrays (the order of pairs carries no
    # meaning): the last pairs that stay fill their places, and the arrays are cut short.
    gone = np.sort(at[~first])
    size = pairs.size - gone.size
    holes = gone[gone < size]
    movers = np.setdiff1d(np.arange(size, pairs.size), gone, assume_unique=True)
    for name in _PAIR_FIELDS:
        values = getattr(pairs, name)
        values[holes] = values[movers]
        setattr(pairs, name, values[:size])
    return pairs


def in_parallel(calls: Sequence[Callable[[], Any]], threads: int) -> list[Any]:
    """The calls' results, the calls run on up to ``threads`` threads: numpy and Arrow
    release the GIL in their array loops (measured on 2 cores: 1.85x for gathers, boolean
    filters and bincounts of 20M+ elements run as two halves)."""
    if threads < 2 or len(calls) < 2:
        return [call() for call in calls]
    with ThreadPoolExecutor(max_workers=min(threads, len(calls))) as pool:
        return list(pool.map(lambda call: call(), calls))


def blockwise(step: Callable[[slice], None], size: int, threads: int = 1) -> None:
    """``step(block)`` for consecutive slices of ``BLOCK`` elements covering ``0..size``,
    on up to ``threads`` threads (so each block's temporaries stay small)."""
    blocks = [slice(start, min(start + BLOCK, size)) for start in range(0, size, BLOCK)]
    in_parallel([partial(step, block) for block in blocks], threads)


def gather_inplace(table: NDArray[np.integer], values: NDArray[np.int32]) -> None:
    """``values[:] = table[values]`` block by block, without a temporary as long as ``values``."""

    def step(block: slice) -> None:
        values[block] = table[values[block]]

    blockwise(step, values.size)
