"""The authority job: a crawl's ``edges`` dataset in, PageRank-based authority tables out.

``linkcrawl authority --input OUT --output OUT/authority`` runs :func:`run`. The stages:

1. ``read``: the columns ranking needs, from every selected file (:mod:`.graph`);
2. ``nodes``: int64 node ids to dense int32 indices, in id order;
3. ``urls``: each node's host and domain, streamed from the files a second time; its URL
   too, on a background thread that runs on while the next stages do (it is needed
   only by ``write``);
4. ``latest``: rule 1, only the latest fetch of each source page;
5. ``fold``: rule 2, redirects, refreshes and canonicals merge their source into their
   target;
6. ``links``: rules 3 and 4, one edge per (page, target) with the policies' weight, and
   the per-page counts;
7. ``hosts``, ``domains``: one vote per referring site, PageRank, harmonic centrality
   (the two graphs side by side, on two threads);
8. ``rank``: PageRank (and TrustRank with seeds) of the page graph (:mod:`.rank`), last
   of the rankings so that only its edges are still in memory;
9. ``write``: three Parquet files and ``_summary.json`` in a temporary sibling directory,
   renamed into place.

The rules and the outputs are documented in ``docs/authority.md``. This module never
imports Scrapy.
"""

from __future__ import annotations

import dataclasses
import json
import math
import os
import resource
import secrets
import shutil
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from functools import partial
from typing import IO, TYPE_CHECKING, Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from linkcrawl import defaults
from linkcrawl.authority import graph, rank
from linkcrawl.files import fsync_dir
from linkcrawl.schema import AUTHORITY_SCHEMAS, SCHEMA_VERSION

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator
    from concurrent.futures import Executor, Future
    from pathlib import Path

    from numpy.typing import NDArray

__all__ = [
    "SUMMARY_FILE",
    "AuthorityConfig",
    "AuthorityError",
    "format_summary",
    "load_trust_seeds",
    "parse_policy",
    "run",
]

#: The marker of an authority output directory (the job's summary, as JSON).
SUMMARY_FILE = "_summary.json"
_JOB = "linkcrawl authority"
_ROW_GROUP = 1 << 20  # rows per row group of the outputs, and per slice of the pages table
_OUTPUT_FILES = {f"{name}.parquet" for name in AUTHORITY_SCHEMAS} | {SUMMARY_FILE}


class AuthorityError(ValueError):
    """A user error (bad option, unreadable input): one line naming the option or file."""


# ----------------------------------------------------------------------------- options


@dataclass(frozen=True)
class AuthorityConfig:
    """Everything a run depends on. ``rel_policy``/``internal_policy`` are the option
    strings (``exclude``, ``include`` or a weight); :func:`run` checks every value."""

    input: Path
    output: Path
    crawl_ids: tuple[str, ...] = ()
    damping: float = defaults.AUTHORITY_DAMPING
    tol: float = defaults.AUTHORITY_TOLERANCE
    max_iter: int = defaults.AUTHORITY_MAX_ITER
    rel_policy: str = defaults.AUTHORITY_REL_POLICY
    internal_policy: str = defaults.AUTHORITY_INTERNAL_POLICY
    trust_seeds: Path | None = None
    threads: int = defaults.AUTHORITY_THREADS
    overwrite: bool = False
    harmonic_work: int = defaults.AUTHORITY_HARMONIC_WORK
    harmonic_min_sources: int = defaults.AUTHORITY_HARMONIC_MIN_SOURCES
    harmonic_seed: int = defaults.AUTHORITY_HARMONIC_SEED


def _per_node(tol: float, nodes: int) -> float:
    """rank.pagerank stops when the L1 change is below ``nodes * tol`` (networkx's rule);
    the job's ``--tol`` bounds the L1 change of the whole vector, whatever the size."""
    return tol / max(nodes, 1)


def parse_policy(option: str, text: str) -> float:
    """``exclude`` -> 0.0, ``include`` -> 1.0, a number in (0, 1] -> itself."""
    value = str(text).strip().lower()
    if value == "exclude":
        return 0.0
    if value == "include":
        return 1.0
    try:
        weight = float(value)
    except ValueError:
        weight = math.nan
    if not 0.0 < weight <= 1.0:
        raise AuthorityError(
            f"{option} {text!r}: expected exclude, include or a weight in (0, 1]"
        ) from None
    return weight


def _check_config(c: AuthorityConfig) -> tuple[float, float]:
    def bad(option: str, value: object, why: str) -> AuthorityError:
        return AuthorityError(f"{option} {value!r}: {why}")

    if not (isinstance(c.damping, float | int) and 0.0 < c.damping < 1.0):
        raise bad("--damping", c.damping, "must be a number in (0, 1)")
    if not (isinstance(c.tol, float | int) and 0.0 < c.tol < 1.0):
        raise bad("--tol", c.tol, "must be a number in (0, 1)")
    if not (isinstance(c.max_iter, int) and c.max_iter >= 1):
        raise bad("--max-iter", c.max_iter, "must be an integer >= 1")
    if not (isinstance(c.threads, int) and c.threads >= 0):
        raise bad("--threads", c.threads, "must be an integer >= 0 (0 = one per core)")
    if not (c.harmonic_work > 0 and c.harmonic_min_sources >= 2):
        raise bad("harmonic budget", (c.harmonic_work, c.harmonic_min_sources), "out of range")
    return parse_policy("--rel-policy", c.rel_policy), parse_policy(
        "--internal-policy", c.internal_policy
    )


def load_trust_seeds(path: Path) -> list[str]:
    """Canonical URLs of a seeds file (one URL a line, ``#`` comments, blank lines)."""
    from linkcrawl.urls import URLError, canonicalize

    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as e:
        reason = e.strerror if isinstance(e, OSError) and e.strerror else e
        raise AuthorityError(f"--trust-seeds: cannot read {str(path)!r}: {reason}") from None
    urls: list[str] = []
    for lineno, line in enumerate(text.splitlines(), 1):
        url = line.strip()
        if not url or url.startswith("#"):
            continue
        try:
            urls.append(canonicalize(url))
        except URLError as e:
            raise AuthorityError(f"--trust-seeds {path}:{lineno}: bad URL {url!r}: {e}") from None
    if not urls:
        raise AuthorityError(f"--trust-seeds: no URLs in {str(path)!r}")
    return list(dict.fromkeys(urls))


# ------------------------------------------------------------------------ bookkeeping


@dataclass
class _Stage:
    rows: int = 0
    unit: str = "rows"
    note: str = ""


@dataclass
class _Clock:
    progress: IO[str] | None
    started: float = field(default_factory=time.monotonic)
    seconds: dict[str, float] = field(default_factory=dict)
    cpu_seconds: dict[str, float] = field(default_factory=dict)
    peak_mib: dict[str, int] = field(default_factory=dict)

    @contextmanager
    def stage(self, name: str) -> Iterator[_Stage]:
        info = _Stage()
        t0 = time.monotonic()
        # CPU time of every thread of the process (background work included), to show
        # how many cores a stage kept busy.
        cpu0 = time.process_time()
        yield info
        # Arrow's allocator keeps freed memory for reuse; numpy cannot reuse it: give it
        # back at every stage's end (a stage frees the previous stage's big buffers).
        pa.default_memory_pool().release_unused()
        elapsed = time.monotonic() - t0
        self.seconds[name] = round(elapsed, 3)
        self.cpu_seconds[name] = cpu = round(time.process_time() - cpu0, 3)
        self.peak_mib[name] = peak = peak_rss_bytes() // 2**20
        if self.progress is not None:
            note = f"  {info.note}" if info.note else ""
            self.progress.write(
                f"authority: {name:<8} {elapsed:7.2f}s {cpu:6.2f}s CPU {peak:>7,} MiB peak "
                f"{info.rows:>13,} {info.unit}{note}\n"
            )
            self.progress.flush()

    def say(self, text: str) -> None:
        if self.progress is not None:
            self.progress.write(f"authority: {text}\n")
            self.progress.flush()


def peak_rss_bytes() -> int:
    """Peak resident set size of this process (``getrusage``; KiB on Linux, bytes on macOS)."""
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return int(peak if sys.platform == "darwin" else peak * 1024)


def _ranking(result: rank.RankResult) -> dict[str, Any]:
    return {"iterations": result.iterations, "residual": result.residual,
            "converged": result.converged}  # fmt: skip


# ----------------------------------------------------------------------------- output


def _is_previous_output(path: Path) -> bool:
    try:
        names = {p.name for p in path.iterdir()}
        summary = json.loads((path / SUMMARY_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    return isinstance(summary, dict) and summary.get("job") == _JOB and names <= _OUTPUT_FILES


def _check_output(output: Path, overwrite: bool) -> bool:
    """Refuse an output that is not ours, or ours without ``overwrite``. True when a
    previous authority output will be replaced."""
    if not output.exists():
        parent = next((p for p in output.parents if p.exists()), None)
        if parent is None or not parent.is_dir() or not os.access(parent, os.W_OK | os.X_OK):
            raise AuthorityError(f"--output {str(output)!r}: cannot create it (no writable parent)")
        return False
    if not os.access(output.parent, os.W_OK | os.X_OK):
        raise AuthorityError(f"--output {str(output)!r}: its directory is not writable")
    if not output.is_dir():
        raise AuthorityError(f"--output {str(output)!r} exists and is not a directory")
    if not any(output.iterdir()):
        return False
    if not _is_previous_output(output):
        raise AuthorityError(
            f"--output {str(output)!r} exists and is not an authority output; "
            "refusing to replace it (choose another directory)"
        )
    if not overwrite:
        raise AuthorityError(
            f"--output {str(output)!r} holds a previous authority output; "
            "pass --overwrite to replace it"
        )
    return True


# Score columns stored as 8 byte planes (BYTE_STREAM_SPLIT) before zstd: the exponent
# bytes of a score column repeat, its mantissas do not.
_SPLIT_FLOATS = frozenset({"pagerank", "trustrank", "harmonic"})


def _column_options(schema: pa.Schema) -> dict[str, Any]:
    """Parquet options per output column (any reader of Parquet 2 encodings reads them:
    DuckDB, Polars, Spark 3.2+). Measured on a 4.9M-row pages table: the write took 1.6 s
    instead of 2.7 s at about the same size (zstd level 1 on every column before).

    - counts and ranks (int64): DELTA_BINARY_PACKED, not compressed. Small numbers pack
      into a few bits each (as small as zstd made them, 4x faster), and a rank column in
      rank order takes almost nothing;
    - node ids (uniform 64-bit hashes) are stored plain: no codec shrinks them;
    - PageRank-like floats: BYTE_STREAM_SPLIT + zstd (smaller and faster than zstd alone);
    - host and domain: dictionaries (they repeat); URLs and the rest: plain + zstd level 1.
    """
    compression: dict[str, str] = {}
    level: dict[str, int] = {}
    encoding: dict[str, str] = {}
    dictionary: list[str] = []
    for f in schema:
        name = f.name
        if name in ("host", "domain"):
            dictionary.append(name)
        elif pa.types.is_integer(f.type):
            compression[name] = "none"
            if name != "node_id":
                encoding[name] = "DELTA_BINARY_PACKED"
            continue
        elif name in _SPLIT_FLOATS:
            encoding[name] = "BYTE_STREAM_SPLIT"
        compression[name], level[name] = "zstd", 1
    return {"compression": compression, "compression_level": level,
            "column_encoding": encoding, "use_dictionary": dictionary}  # fmt: skip


def _write_table(table: pa.Table | _Slices, path: Path) -> None:
    with open(path, "wb") as fh:
        writer = pq.ParquetWriter(
            fh, table.schema, write_statistics=True, **_column_options(table.schema)
        )
        with writer:
            if isinstance(table, _Slices):
                # The next slice is built (gathers of strings and numbers) on a second
                # thread while this one is encoded and compressed (both release the GIL);
                # at most two slices exist at a time.
                def make(start: int) -> pa.Table:
                    return table.make(table.schema, start, min(start + _ROW_GROUP, table.num_rows))

                with ThreadPoolExecutor(max_workers=1) as pool:
                    following = pool.submit(make, 0)
                    for start in range(0, table.num_rows, _ROW_GROUP):
                        piece = following.result()
                        if start + _ROW_GROUP < table.num_rows:
                            following = pool.submit(make, start + _ROW_GROUP)
                        writer.write_table(piece)
                        del piece
            else:
                writer.write_table(table, row_group_size=_ROW_GROUP)
        fh.flush()
        os.fsync(fh.fileno())


def _publish(tmp: Path, output: Path, overwrite: bool) -> None:
    """Rename the finished temporary directory into place (replacing a previous output)."""
    replacing = _check_output(output, overwrite)
    if output.exists() and not replacing:
        output.rmdir()  # empty directory
    if replacing:
        old = output.with_name(f".{output.name}.old-{os.getpid()}-{secrets.token_hex(4)}")
        os.rename(output, old)
        try:
            os.rename(tmp, output)
        except OSError:
            os.rename(old, output)
            raise
        shutil.rmtree(old, ignore_errors=True)
    else:
        os.rename(tmp, output)
    fsync_dir(output.parent)


# -------------------------------------------------------------------------------- job


@dataclass
class _Pages:
    """The page graph after the rules, in compact page indices ``0..m-1``."""

    m: int
    node: NDArray[np.int64]  # original node index of each page
    page_of: NDArray[np.int32]  # page of each original node (its fold target's), or -1
    host: NDArray[np.int32]  # host code of each page
    domain: NDArray[np.int32]
    folded: NDArray[np.int64]  # URLs folded into each page
    pairs: graph.LinkPairs = field(default_factory=graph.LinkPairs.empty)
    kept: NDArray[np.bool_] = field(default_factory=lambda: np.zeros(0, np.bool_))
    weight: NDArray[np.float64] | None = None  # of every pair; None: all kept weigh 1
    sites: _Sites | None = None
    # Dense host index of every pair's source page (``sites.page_host[pairs.src]``): one
    # random gather shared by rule 4, the page counts and the site graphs.
    pair_src_host: NDArray[np.int32] = field(default_factory=lambda: np.zeros(0, np.int32))
    pair_internal: NDArray[np.bool_] = field(default_factory=lambda: np.zeros(0, np.bool_))


@dataclass(frozen=True)
class _Sites:
    """Dense host and domain indices, in page order (pages are sorted by (domain, host),
    :func:`_site_order`): host ``h`` holds pages ``starts[h]..starts[h+1]-1``, and a
    host's domain index never decreases with ``h``. The site graphs are numbered so; the
    codes (into ``facts.host_names``/``domain_names``, sorted names) name them."""

    page_host: NDArray[np.int32]  # dense host of each page
    host_code: NDArray[np.int32]  # name code of each dense host
    host_domain: NDArray[np.int32]  # dense domain of each dense host
    domain_code: NDArray[np.int32]  # name code of each dense domain

    @classmethod
    def of(cls, host: NDArray[np.int32], domain_of_host: NDArray[np.int32]) -> _Sites:
        if not host.size:
            none = np.zeros(0, np.int32)
            return cls(none, none, none, none)
        new_host = np.empty(host.size, dtype=np.bool_)
        new_host[0] = True
        np.not_equal(host[1:], host[:-1], out=new_host[1:])
        page_host = np.cumsum(new_host, dtype=np.int32)
        page_host -= 1
        host_code = host[new_host]
        domain_code_of_host = domain_of_host[host_code]
        new_domain = np.empty(host_code.size, dtype=np.bool_)
        new_domain[0] = True
        np.not_equal(domain_code_of_host[1:], domain_code_of_host[:-1], out=new_domain[1:])
        host_domain = np.cumsum(new_domain, dtype=np.int32)
        host_domain -= 1
        return cls(page_host, host_code, host_domain, domain_code_of_host[new_domain])

    @property
    def hosts(self) -> int:
        return int(self.host_code.size)

    @property
    def domains(self) -> int:
        return int(self.domain_code.size)


def run(config: AuthorityConfig, *, progress: IO[str] | None = None) -> dict[str, Any]:
    """Run the job; return its summary (also written to ``<output>/_summary.json``).

    Raises :class:`AuthorityError` (a ``ValueError``) for every user error, before the
    output is touched. Progress lines go to ``progress`` (e.g. ``sys.stderr``).
    """
    rel_weight, internal_weight = _check_config(config)
    seeds = load_trust_seeds(config.trust_seeds) if config.trust_seeds is not None else None
    output = config.output.absolute()
    replacing = _check_output(output, config.overwrite)
    threading.Thread(target=rank.prefetch, name="authority-imports", daemon=True).start()
    previous_threads = pa.cpu_count()
    if config.threads:
        pa.set_cpu_count(config.threads)
    try:
        # With more than one thread, one background thread reads the URLs (needed only
        # for the output) while the rules and rankings run, and another builds the site
        # tables (see ``_run``); with a single thread each is done in its own stage.
        with (
            ThreadPoolExecutor(max_workers=1, thread_name_prefix="authority-urls") as urls,
            ThreadPoolExecutor(max_workers=1, thread_name_prefix="authority-sites") as sites,
        ):
            background = pa.cpu_count() > 1
            return _run(config, output, replacing, seeds, rel_weight, internal_weight,
                        progress, urls if background else None,
                        sites if background else None)  # fmt: skip
    except graph.GraphInputError as e:
        raise AuthorityError(str(e)) from None
    finally:
        pa.set_cpu_count(previous_threads)


def _run(  # noqa: PLR0917 (private: one call site)
    config: AuthorityConfig,
    output: Path,
    replacing: bool,
    seeds: list[str] | None,
    rel_weight: float,
    internal_weight: float,
    progress: IO[str] | None,
    url_pool: Executor | None,
    site_pool: Executor | None,
) -> dict[str, Any]:
    clock = _Clock(progress)
    counts: dict[str, Any] = {}
    dropped: dict[str, int] = {}
    with clock.stage("read") as st:
        files = graph.find_edge_files(config.input, config.crawl_ids or None)
        raw = graph.read_edges(files, threads=pa.cpu_count())
        st.rows, st.note = raw.rows, f"from {len(files)} files"
    counts["rows_read"] = raw.rows
    counts["files"] = len(files)

    with clock.stage("nodes") as st:
        node_ids, src, dst = graph.map_node_ids(raw, threads=pa.cpu_count())
        n = int(node_ids.size)
        st.rows, st.unit = n, "node ids"

    if seeds is not None:  # fail before the long stages when no seed is in the data at all
        _seed_pages(seeds, node_ids, None, config.trust_seeds)

    with clock.stage("urls") as st:
        facts = graph.read_node_facts(files, src, dst, n, threads=pa.cpu_count(),
                                      url_pool=url_pool, run_start=raw.run_start)  # fmt: skip
        st.rows, st.unit = n, "URLs"

    with clock.stage("latest") as st:
        crawl_ids = sorted({f.crawl_id for f in files})
        page_files = graph.find_page_files(config.input, crawl_ids)
        fetches = graph.read_page_fetches(page_files, node_ids) if page_files else None
        counts["page_files"] = len(page_files)
        flags = raw.flags
        keep, dropped["stale_fetch"] = graph.latest_fetch(src, raw, n, fetches)
        del fetches
        del raw
        if keep is not None:
            src, dst, flags = src[keep], dst[keep], flags[keep]
        del keep
        st.rows, st.note = src.size, f"{dropped['stale_fetch']:,} stale rows dropped"

    with clock.stage("fold") as st:
        pages, link_rows = _fold(src, dst, flags, n, facts, dropped)
        del src, dst, flags
        st.rows, st.unit = pages.m, "pages"
        st.note = f"{int(pages.folded.sum()):,} URLs folded"

    seed_pages = None
    if seeds is not None:
        seed_pages = _seed_pages(seeds, node_ids, pages, config.trust_seeds)
        counts["trust_seeds"] = {"urls": len(seeds), "pages": int(seed_pages.size)}
    rankings: dict[str, Any] = {}
    harmonic: dict[str, Any] = {}
    # The host and domain graphs need nothing the page counts and ranking make: with more
    # than one thread they are built and ranked on a background thread of lower priority
    # (hosts, then domains) from the end of rule 4 on, filling the core the single-threaded
    # steps leave idle (the page counts, the pages table's compression); the ``hosts`` and
    # ``domains`` stages are then the waits. Each fills its own dicts, merged in order:
    # the summary does not depend on timing.
    level_rankings: dict[str, dict[str, Any]] = {"hosts": {}, "domains": {}}
    level_harmonic: dict[str, dict[str, Any]] = {"hosts": {}, "domains": {}}
    site_futures: dict[str, Future[tuple[pa.Table, str]]] = {}

    with clock.stage("links") as st:
        _weigh(pages, link_rows, rel_weight, internal_weight, dropped)
        site_pairs = _site_pairs(pages)

        def site_table(level: str) -> tuple[pa.Table, str]:
            return _site_table(level, pages, site_pairs, facts, seed_pages, config,
                               level_rankings[level], level_harmonic[level])  # fmt: skip

        if site_pool is not None:
            site_pool.submit(graph.lower_priority)  # the critical path keeps its cores
            site_futures = {level: site_pool.submit(site_table, level)
                            for level in ("hosts", "domains")}  # fmt: skip
        page_counts = _page_counts(pages, site_pairs)
        pages.pair_internal = pages.pair_internal[:0]
        pages.pair_src_host = pages.pair_src_host[:0]
        st.rows, st.unit = int(np.count_nonzero(pages.kept)), "edges kept"
    counts["nodes"] = pages.m
    counts["node_ids"] = n
    counts["folded_urls"] = int(pages.folded.sum())
    counts["edges_kept"] = int(np.count_nonzero(pages.kept))
    counts["dropped"] = dropped
    counts["hosts"] = pages.sites.hosts if pages.sites is not None else 0
    counts["domains"] = pages.sites.domains if pages.sites is not None else 0

    pr, tr = _rank_pages(pages, seed_pages, config, rankings, clock)
    summary = summary_of(config, output, crawl_ids, (rel_weight, internal_weight),
                         counts, rankings, harmonic, clock.seconds)  # fmt: skip
    if replacing:
        clock.say(f"replacing the previous output in {output}")
    with _StagedOutput(output, config.overwrite) as staged:
        with clock.stage("pages") as st:
            table = _pages_table(pages, facts, node_ids, pr, tr, page_counts)
            del page_counts, pr, tr
            st.rows, st.unit = table.num_rows, "rows written"
            staged.write("pages", table, summary)
            del table
        sites: dict[str, pa.Table] = {}
        for level in ("hosts", "domains"):
            with clock.stage(level) as st:
                if level in site_futures:
                    sites[level], info = site_futures.pop(level).result()
                else:
                    sites[level], info = site_table(level)
                st.rows, st.unit, st.note = sites[level].num_rows, level, info
        for level in ("hosts", "domains"):
            rankings.update(level_rankings[level])
            harmonic.update(level_harmonic[level])
        with clock.stage("write") as st:
            for level, table in sites.items():
                staged.write(level, table, summary)
            st.rows, st.unit = sum(t.num_rows for t in sites.values()), "rows written"
            del sites
            staged.publish(summary)
    summary["stages"] = clock.seconds
    summary["stage_cpu_seconds"] = clock.cpu_seconds
    summary["stage_peak_mib"] = clock.peak_mib
    summary["seconds"] = round(time.monotonic() - clock.started, 3)
    summary["peak_rss_bytes"] = peak_rss_bytes()
    # The final figures (the write stage's time, the peak memory): replaced atomically.
    final = output / f".{SUMMARY_FILE}.tmp"
    final.write_text(json.dumps(summary, indent=1) + "\n", encoding="utf-8")
    os.replace(final, output / SUMMARY_FILE)
    return summary


def summary_of(  # noqa: PLR0917
    config: AuthorityConfig,
    output: Path,
    crawl_ids: list[str],
    weights: tuple[float, float],
    counts: dict[str, Any],
    rankings: dict[str, Any],
    harmonic: dict[str, Any],
    stages: dict[str, float],
    engine: str = "local",
) -> dict[str, Any]:
    """The run's summary (``_summary.json``, the outputs' footers), as every engine writes
    it; ``weights`` are the rel and internal policies' weights. The dicts are shared, not
    copied: the caller fills them in as the run goes on."""
    rel_weight, internal_weight = weights
    parameters = {
        "input": str(config.input),
        "crawl_ids": crawl_ids,
        "damping": config.damping,
        "tol": config.tol,
        "max_iter": config.max_iter,
        "rel_policy": config.rel_policy,
        "rel_weight": rel_weight,
        "internal_policy": config.internal_policy,
        "internal_weight": internal_weight,
        "trust_seeds": None if config.trust_seeds is None else str(config.trust_seeds),
        "harmonic_work": config.harmonic_work,
        "harmonic_min_sources": config.harmonic_min_sources,
        "harmonic_seed": config.harmonic_seed,
        "engine": engine,
    }
    return {
        "job": _JOB,
        "engine": engine,
        "schema_version": SCHEMA_VERSION,
        "output": str(output),
        "parameters": parameters,
        "counts": counts,
        "rankings": rankings,
        "harmonic": harmonic,
        "stages": stages,
    }


def _rank_pages(
    pages: _Pages,
    seed_pages: NDArray[np.int64] | None,
    config: AuthorityConfig,
    rankings: dict[str, Any],
    clock: _Clock,
) -> tuple[rank.RankResult, rank.RankResult | None]:
    """PageRank (and TrustRank with seeds) of the page graph; frees the pairs."""
    with clock.stage("rank") as st:
        # Only the ranking edges of the pairs are still needed.
        kept = pages.kept
        s, d = pages.pairs.src[kept], pages.pairs.dst[kept]
        w = None if pages.weight is None else pages.weight[kept]
        pages.pairs, pages.kept, pages.weight = graph.LinkPairs.empty(), kept[:0], None
        del kept
        pa.default_memory_pool().release_unused()
        pr = rank.pagerank(s, d, pages.m, weights=w, damping=config.damping,
                           tol=_per_node(config.tol, pages.m),
                           max_iter=config.max_iter, distinct=True)  # fmt: skip
        rankings["pages.pagerank"] = _ranking(pr)
        tr = None
        if seed_pages is not None:
            personal = np.zeros(pages.m)
            personal[seed_pages] = 1.0
            tr = rank.pagerank(s, d, pages.m, weights=w, damping=config.damping,
                               personalization=personal, tol=_per_node(config.tol, pages.m),
                               max_iter=config.max_iter, distinct=True)  # fmt: skip
            rankings["pages.trustrank"] = _ranking(tr)
        del s, d, w
        st.rows, st.unit = pages.m, "pages"
        st.note = _iterations_note(pr, tr)
    return pr, tr


def _iterations_note(pr: rank.RankResult, tr: rank.RankResult | None) -> str:
    note = f"pagerank {pr.iterations} it, residual {pr.residual:.2e}"
    if not pr.converged:
        note += " (NOT converged)"
    if tr is not None:
        note += f"; trustrank {tr.iterations} it" + ("" if tr.converged else " (NOT converged)")
    return note


def _fold(  # noqa: PLR0917
    src: NDArray[np.int32],
    dst: NDArray[np.int32],
    flags: NDArray[np.uint8],
    n: int,
    facts: graph.NodeFacts,
    dropped: dict[str, int],
) -> tuple[_Pages, list[Any]]:
    """Rule 2 and the page set (the nodes of the kept rows, folded) in compact indices;
    and the link rows (a, area) as (source page, target page, flags)."""
    kind = flags >> graph.TYPE_SHIFT
    dropped["unknown_link_type"] = int(np.count_nonzero(kind == graph.UNKNOWN_TYPE))
    appeared = np.zeros(n, dtype=np.bool_)
    in_sitemap = kind == graph.SITEMAP
    dropped["sitemap"] = int(np.count_nonzero(in_sitemap))
    if dropped["sitemap"]:
        # A URL listed in a sitemap is a node; the sitemap file is not a page (it is a node
        # only if other rows name it), and the rows pass nothing: they go here.
        appeared[dst[in_sitemap]] = True
        np.logical_not(in_sitemap, out=in_sitemap)
        src, dst, flags, kind = (
            src[in_sitemap],
            dst[in_sitemap],
            flags[in_sitemap],
            kind[in_sitemap],
        )
    del in_sitemap
    folds = graph.fold_targets(src, dst, kind)
    dropped["fold_edge"] = int(folds.source.size)
    dropped["fold_noop"] = folds.noop
    dropped["fold_unused"] = folds.unused
    rep = graph.resolve_folds(folds.source, folds.target, n)
    threads = pa.cpu_count()
    # (two threads may write the same True: no matter)
    graph.in_parallel([partial(appeared.__setitem__, src, True),
                       partial(appeared.__setitem__, dst, True)], threads)  # fmt: skip
    present = np.zeros(n, dtype=np.bool_)
    present[rep[appeared]] = True
    node = _site_order(np.flatnonzero(present), facts)
    m = int(node.size)
    del present
    # Two page indices and a 2-bit class make a pair key of rule 3: it fits int64 up to
    # 2**30 pages (a billion).
    if 2 * graph.pair_key_bits(m) + 2 > 63:
        raise AuthorityError(f"{m} pages: too many for this job's 64-bit pair keys")
    compact = np.full(n, -1, dtype=np.int32)
    compact[node] = np.arange(m, dtype=np.int32)
    page_of = compact[rep]
    page_of[~appeared] = -1
    del compact
    folded_nodes = appeared & (rep != np.arange(n, dtype=np.int32))
    folded = np.bincount(page_of[folded_nodes], minlength=m).astype(np.int64)
    del rep, appeared, folded_nodes, kind
    # Every row to pages, in place; the link rows are picked out with rule 3's self-link
    # filter (one pass instead of two).
    graph.in_parallel([partial(graph.gather_inplace, page_of, src),
                       partial(graph.gather_inplace, page_of, dst)], threads)  # fmt: skip
    pages = _Pages(m, node, page_of, facts.host[node], facts.domain[node], folded)
    pages.sites = _Sites.of(pages.host, facts.domain_of_host)
    return pages, [src, dst, flags]


def _site_order(node: NDArray[np.int64], facts: graph.NodeFacts) -> NDArray[np.int64]:
    """The pages' nodes (ascending) reordered by (domain, host), ascending node within a
    host: page ``i`` is ``node[i]``.

    Numbered so, a page's host and domain never decrease with its index. The link pairs,
    sorted by (target, source), then list each target's referring pages host by host and
    domain by domain, and the distinct referring hosts and domains of every page are
    counted in one pass instead of two more sorts of all pairs (:func:`_page_counts`).
    The pages of a site are also neighbours in the PageRank vector, which most links (the
    internal ones) read close to where they write.
    """
    hosts = facts.domain_of_host.size
    if node.size < 2 or hosts < 2:
        return node
    by_site = np.lexsort((np.arange(hosts), facts.domain_of_host))
    host_rank = np.empty(hosts, dtype=np.int64)
    host_rank[by_site] = np.arange(hosts, dtype=np.int64)
    key = host_rank[facts.host[node]]
    key *= int(node[-1]) + 1
    key += node
    graph.sort_inplace(key, pa.cpu_count())
    key %= int(node[-1]) + 1
    return key


def _weigh(
    pages: _Pages,
    rows: list[Any],
    rel_weight: float,
    internal_weight: float,
    dropped: dict[str, int],
) -> None:
    """Rules 3 and 4: the rows (in pages) -> the link rows (a, area) that are no
    self-links -> distinct pairs with their best class (``pages.pairs``), the pairs that
    are ranking edges (``pages.kept``) and their weights."""
    s, d, flags = rows
    rows.clear()  # the caller's references go: the arrays are freed as soon as used
    threads = pa.cpu_count()
    other = np.empty(s.size, dtype=np.bool_)  # a link row (a, area) that is no self-link
    cls = np.empty(s.size, dtype=np.uint8)
    tallies: list[tuple[int, int, int, int]] = []
    step = partial(_link_rows, s, d, flags, rel_weight, other, cls, tallies)
    graph.blockwise(step, s.size, threads)
    del step
    links, counted, page_nofollow, nothing = (sum(t[i] for t in tallies) for i in range(4))
    dropped["self_link"] = links - counted
    dropped["page_nofollow"] = page_nofollow
    dropped["rel_excluded"] = nothing - page_nofollow
    del flags
    pairs = graph.link_pairs(s, d, cls, pages.m, threads=threads, rows=other)
    del s, d, cls, other
    assert pages.sites is not None
    page_host = pages.sites.page_host
    src_host = np.empty(pairs.size, dtype=np.int32)
    internal = np.empty(pairs.size, dtype=np.bool_)
    graph.blockwise(partial(_pair_hosts, page_host, pairs, src_host, internal), pairs.size,
                    threads)  # fmt: skip
    pages.pair_src_host = src_host
    # Rule 4: a pair is a ranking edge when its best class and the policies give it a
    # weight above 0; weights are kept only when some kept edge weighs other than 1.
    kept = pairs.best == graph.PASSES_FULL
    if rel_weight > 0:
        kept |= pairs.best == graph.PASSES_REL_WEIGHT
    if internal_weight == 0:
        kept &= ~internal
    weight = None
    if rel_weight not in (0.0, 1.0) or internal_weight not in (0.0, 1.0):
        weight = np.where(pairs.best == graph.PASSES_FULL, 1.0, rel_weight)
        weight[internal] *= internal_weight
        weight[~kept] = 0.0
        if bool((weight[kept] == 1.0).all()):
            weight = None
    pages.pair_internal = internal
    passing_kept = int(pairs.passing[kept].sum())
    dropped["internal_excluded"] = int(pairs.passing.sum()) - passing_kept
    dropped["duplicate"] = passing_kept - int(np.count_nonzero(kept))
    pages.pairs = pairs
    pages.kept = kept
    pages.weight = weight


def _link_rows(  # noqa: PLR0917 (a blockwise step: the arrays it reads and writes)
    s: NDArray[np.int32],
    d: NDArray[np.int32],
    flags: NDArray[np.uint8],
    rel_weight: float,
    counted: NDArray[np.bool_],
    cls: NDArray[np.uint8],
    tallies: list[tuple[int, int, int, int]],
    block: slice,
) -> None:
    """One block of :func:`_weigh`'s rows: which are counted (link rows, a or area, that
    are no self-links), their classes, and the block's tallies (links, counted, counted
    with page nofollow, counted passing nothing)."""
    link = (flags[block] >> graph.TYPE_SHIFT) <= graph.AREA
    out = counted[block]
    np.not_equal(s[block], d[block], out=out)
    out &= link
    cls[block] = graph.link_classes(flags[block], rel_weight)
    page_nofollow = (flags[block] & graph.PAGE_NOFOLLOW) != 0
    page_nofollow &= out
    nothing = cls[block] == graph.PASSES_NOTHING
    nothing &= out
    links, kept, nofollow, passes_nothing = (
        int(np.count_nonzero(mask)) for mask in (link, out, page_nofollow, nothing)
    )
    tallies.append((links, kept, nofollow, passes_nothing))


def _pair_hosts(
    page_host: NDArray[np.int32],
    pairs: graph.LinkPairs,
    src_host: NDArray[np.int32],
    internal: NDArray[np.bool_],
    block: slice,
) -> None:
    """One block of pairs: the source page's host, and whether the target is on it."""
    np.take(page_host, pairs.src[block], out=src_host[block])
    np.equal(src_host[block], page_host[pairs.dst[block]], out=internal[block])


def _distinct(key: NDArray[np.int64]) -> NDArray[np.int64]:
    """The distinct values of ``key``, ascending; sorts ``key`` in place.

    A sort (on two threads, :func:`graph.sort_inplace`) and a comparison of neighbours:
    several times faster than ``np.unique`` (which hashes first in numpy 2.x) on the tens
    of millions of keys of a big graph.
    """
    if not key.size:
        return key
    graph.sort_inplace(key, pa.cpu_count())
    new = np.empty(key.size, dtype=np.bool_)
    new[0] = True
    np.not_equal(key[1:], key[:-1], out=new[1:])
    return key[new]


def _runs_per_target(
    target: NDArray[np.int32], value: NDArray[np.int32], targets: int
) -> NDArray[np.int64]:
    """Per target, how many distinct values, when ``target`` ascends and equal values of
    one target are neighbours: a new one starts wherever the target or the value changes."""
    if not target.size:
        return np.zeros(targets, dtype=np.int64)
    new = np.ones(target.size, dtype=np.bool_)
    new[1:] = (target[1:] != target[:-1]) | (value[1:] != value[:-1])
    return np.bincount(target[new], minlength=targets).astype(np.int64)


def _page_counts(pages: _Pages, site_pairs: graph.LinkPairs) -> dict[str, NDArray[np.int64]]:
    p = pages.pairs
    m = pages.m

    def links() -> tuple[NDArray[np.int64], ...]:
        referring_pages = np.bincount(p.dst, minlength=m).astype(np.int64)
        in_links = _sum_per(p.dst, p.rows, m, referring_pages)
        return referring_pages, in_links

    def dofollow() -> NDArray[np.int64]:
        return _sum_per(p.dst, np.where(pages.kept, p.passing, 0), m)

    # Three independent groups of passes over the pairs, side by side.
    (referring_pages, in_links), dofollow_in_links, (referring_hosts, referring_domains) = (
        graph.in_parallel(
            [links, dofollow, partial(_referring_sites, pages, site_pairs)], pa.cpu_count()
        )
    )
    return {
        "in_links": in_links,
        "dofollow_in_links": dofollow_in_links,
        "referring_pages": referring_pages,
        "referring_hosts": referring_hosts,
        "referring_domains": referring_domains,
    }


def _sum_per(
    group: NDArray[np.int32],
    counts: NDArray[np.int32],
    size: int,
    entries: NDArray[np.int64] | None = None,
) -> NDArray[np.int64]:
    """``np.bincount(group, weights=counts)`` for counts >= 0, in int64. Most counts are 0
    or 1: those are counted (``entries`` is that count when every count is >= 1), and only
    the excess of the larger ones goes through the float64 weighted bincount, ~4x slower
    per entry."""
    if entries is None:
        entries = np.bincount(group[counts > 0], minlength=size).astype(np.int64)
    larger = counts > 1
    excess = np.bincount(group[larger], weights=counts[larger] - 1, minlength=size)
    return entries + excess.astype(np.int64)


def _referring_sites(
    pages: _Pages, site_pairs: graph.LinkPairs
) -> tuple[NDArray[np.int64], NDArray[np.int64]]:
    """Per page, the distinct hosts and domains of the pages linking to it.

    A page's own host (domain) counts once if a page of it links to the page; the other
    hosts are the distinct (target, source host) of the host-external pairs
    (``site_pairs``, :func:`_site_pairs`), one sort of
    those (a quarter of the pairs or so). In that order a target's source hosts come
    domain by domain (hosts are numbered by domain, :class:`_Sites`), so its distinct
    other domains are where the target or the domain changes.
    """
    sites = pages.sites
    assert sites is not None
    p, m = pages.pairs, pages.m
    own_host = np.zeros(m, dtype=np.int64)
    own_host[p.dst[pages.pair_internal]] = 1
    dst, src_host, _ = _distinct_sources(site_pairs.dst, site_pairs.src, sites.hosts)
    referring_hosts = own_host + np.bincount(dst, minlength=m)
    src_domain = sites.host_domain[src_host]
    del src_host
    same_domain = src_domain == sites.host_domain[sites.page_host[dst]]
    own_domain = own_host  # a host-internal link is a domain-internal one
    own_domain[dst[same_domain]] = 1
    other = ~same_domain
    referring_domains = own_domain + _runs_per_target(dst[other], src_domain[other], m)
    return referring_hosts, referring_domains


def _distinct_sources(
    target: NDArray[np.int32],
    src_host: NDArray[np.int32],
    hosts: int,
    passing: NDArray[np.bool_] | None = None,
) -> tuple[NDArray[np.int32], NDArray[np.int32], NDArray[np.bool_] | None]:
    """The distinct (target, source host) pairs, by target then source host (one sort),
    and with ``passing`` whether any of a pair's occurrences passes. Hosts are numbered
    by domain (:class:`_Sites`): a target's source hosts then come domain by domain."""
    host_bits = graph.pair_key_bits(hosts)
    key = target.astype(np.int64)
    key <<= host_bits
    key |= src_host
    if passing is not None:
        key <<= 1
        key |= passing
    key = _distinct(key)
    passes = None
    if passing is not None:
        passes = (key & 1).astype(np.bool_)
        key >>= 1
        # A pair with and without the bit: keep the last (with it).
        last = np.ones(key.size, dtype=np.bool_)
        np.not_equal(key[1:], key[:-1], out=last[:-1])
        passes, key = passes[last], key[last]
    source = (key & ((1 << host_bits) - 1)).astype(np.int32)
    key >>= host_bits
    return key.astype(np.int32), source, passes


def _seed_pages(
    seeds: list[str], node_ids: NDArray[np.int64], pages: _Pages | None, path: Path | None
) -> NDArray[np.int64]:
    """The pages (compact indices) of the seed URLs; a folded seed counts as its target.
    Without ``pages``, the seeds' node indices (any row names them)."""
    from linkcrawl.urls import node_id

    ids = np.array([node_id(u) for u in seeds], dtype=np.int64)
    at = np.minimum(np.searchsorted(node_ids, ids), max(node_ids.size - 1, 0))
    at = at[node_ids[at] == ids] if node_ids.size else at[:0]
    page = at if pages is None else pages.page_of[at]
    found = np.unique(page[page >= 0]).astype(np.int64)
    if not found.size:
        raise AuthorityError(
            f"--trust-seeds: none of the {len(seeds)} URLs in {str(path)!r} is a page of the graph"
        )
    return found


def _site_pairs(pages: _Pages) -> graph.LinkPairs:
    """The page pairs whose pages are on two different hosts, with the source page's dense
    host as ``src`` (``dst`` stays the target page): what the host and domain graphs and
    the per-page referring sites are built from (every pair between two domains is one
    of them)."""
    p = pages.pairs
    external = ~pages.pair_internal
    columns = graph.in_parallel(
        [partial(np.compress, external, values) for values in
         (pages.pair_src_host, p.dst, p.best, p.rows, p.passing)],
        pa.cpu_count(),
    )  # fmt: skip
    return graph.LinkPairs(*columns)


def _site_table(  # noqa: PLR0917
    level: str,
    pages: _Pages,
    site_pairs: graph.LinkPairs,
    facts: graph.NodeFacts,
    seed_pages: NDArray[np.int64] | None,
    config: AuthorityConfig,
    rankings: dict[str, Any],
    harmonic_info: dict[str, Any],
) -> tuple[pa.Table, str]:
    """PageRank, harmonic centrality and counts of the host or domain graph."""
    sites = pages.sites
    assert sites is not None
    sp = site_pairs
    if level == "hosts":
        n_sites, code, names = sites.hosts, sites.host_code, facts.host_names
        page_site = sites.page_host
        pd, best, rows, passing = page_site[sp.dst], sp.best, sp.rows, sp.passing
        src_host = sp.src
    else:
        n_sites, code, names = sites.domains, sites.domain_code, facts.domain_names
        page_site = sites.host_domain[sites.page_host]
        pd = page_site[sp.dst]
        external = sites.host_domain[sp.src] != pd
        pd, src_host = pd[external], sp.src[external]
        best, rows, passing = sp.best[external], sp.rows[external], sp.passing[external]
        del external

    # One sort serves all: the distinct (target site, source host), each with whether any
    # of its links passes authority. Within a target the source hosts come domain by
    # domain: its distinct source domains, and the domain graph's edges, are where the
    # target or the domain changes.
    target, source_host, passes = _distinct_sources(pd, src_host, sites.hosts, best > 0)
    assert passes is not None
    source_domain = sites.host_domain[source_host]
    target_domain = target if level == "domains" else sites.host_domain[target]
    referring_hosts = np.bincount(target, minlength=n_sites).astype(np.int64)
    other_domain = source_domain != target_domain
    referring_domains = _runs_per_target(target[other_domain], source_domain[other_domain],
                                         n_sites)  # fmt: skip
    del other_domain, target_domain
    # The site graph: one edge per (target, source site) with a passing link.
    e_dst = target[passes]
    e_src = source_host[passes] if level == "hosts" else source_domain[passes]
    if level == "domains" and e_dst.size:
        new = np.ones(e_dst.size, dtype=np.bool_)
        new[1:] = (e_dst[1:] != e_dst[:-1]) | (e_src[1:] != e_src[:-1])
        e_dst, e_src = e_dst[new], e_src[new]
    del target, source_host, source_domain, passes
    backlinks_total = np.bincount(pd, weights=rows, minlength=n_sites).astype(np.int64)
    backlinks_dofollow = np.bincount(pd, weights=passing, minlength=n_sites).astype(np.int64)
    page_count = np.bincount(page_site, minlength=n_sites).astype(np.int64)
    del pd, best, rows, passing, src_host
    # Ties are ranked, and harmonic sources sampled, in name order, as if the sites were
    # numbered by name: the output does not depend on the dense numbering.
    ids = code.astype(np.int64)

    pr = rank.pagerank(e_src, e_dst, n_sites, damping=config.damping,
                       tol=_per_node(config.tol, n_sites),
                       max_iter=config.max_iter, distinct=True)  # fmt: skip
    rankings[f"{level}.pagerank"] = _ranking(pr)
    trust = trust_rank = None
    if seed_pages is not None:
        personal = np.zeros(n_sites)
        personal[page_site[seed_pages]] = 1.0
        tr = rank.pagerank(e_src, e_dst, n_sites, damping=config.damping,
                           personalization=personal, tol=_per_node(config.tol, n_sites),
                           max_iter=config.max_iter, distinct=True)  # fmt: skip
        rankings[f"{level}.trustrank"] = _ranking(tr)
        trust = tr.scores
        trust_rank = rank.ranks(trust, ids)

    sources, h_info = _harmonic_sources(e_src.size, n_sites, config)
    if sources is not None:  # drawn as positions in name order
        sources = np.argsort(code, kind="stable")[sources]
    harmonic_info[level] = h_info
    harmonic = rank.harmonic_centrality(e_src, e_dst, n_sites, sources=sources)
    del e_src, e_dst

    order_rank = rank.ranks(pr.scores, ids)
    order = _rank_order(order_rank)
    columns: dict[str, Any] = {}
    site_names = names.take(pa.array(code[order]))
    if level == "hosts":
        columns["host"] = site_names
        columns["domain"] = facts.domain_names.take(
            pa.array(sites.domain_code[sites.host_domain[order]])
        )
    else:
        columns["domain"] = site_names
    columns.update(
        pagerank=pr.scores[order],
        harmonic=harmonic[order],
        score=rank.log_score(pr.scores)[order],
        rank=order_rank[order],
        referring_hosts=referring_hosts[order].astype(np.int64),
        referring_domains=referring_domains[order].astype(np.int64),
        backlinks_total=backlinks_total[order],
        backlinks_dofollow=backlinks_dofollow[order],
        pages=page_count[order],
        trustrank=_nullable(trust, order, pa.float64(), n_sites),
        trust_rank=_nullable(trust_rank, order, pa.int64(), n_sites),
    )
    schema = AUTHORITY_SCHEMAS[level]
    table = pa.Table.from_arrays([_column(columns[f.name], f.type) for f in schema], schema=schema)
    note = f"pagerank {pr.iterations} it; harmonic " + (
        "exact" if h_info["exact"] else f"sampled from {h_info['sources']:,} sources"
    )
    return table, note


def _harmonic_sources(
    n_edges: int, n: int, config: AuthorityConfig
) -> tuple[NDArray[np.int64] | None, dict[str, Any]]:
    """Exact harmonic centrality while it fits the work budget, else a seeded sample."""
    if rank.harmonic_work(n_edges, n) <= config.harmonic_work:
        return None, {"exact": True, "sources": n, "nodes": n, "edges": n_edges}
    per_source_word = max(1, n_edges + n)
    k = max(config.harmonic_min_sources, (config.harmonic_work // per_source_word) * 64)
    if k >= n:
        return None, {"exact": True, "sources": n, "nodes": n, "edges": n_edges}
    rng = np.random.default_rng(config.harmonic_seed)
    sources = np.sort(rng.choice(n, size=k, replace=False)).astype(np.int64)
    return sources, {"exact": False, "sources": k, "nodes": n, "edges": n_edges,
                     "seed": config.harmonic_seed}  # fmt: skip


def _column(values: Any, type_: pa.DataType) -> pa.Array | pa.ChunkedArray:
    if isinstance(values, pa.Array | pa.ChunkedArray):
        return values if values.type == type_ else values.cast(type_)
    return pa.array(values, type_)


def _nullable(
    values: NDArray[Any] | None, order: NDArray[np.int64], type_: pa.DataType, n: int
) -> pa.Array:
    if values is None:
        return pa.nulls(n, type_)
    return pa.array(values[order], type_)


def _rank_order(ranks: NDArray[np.int64]) -> NDArray[np.int64]:
    """The rows in rank order: the inverse of a permutation of 1..n, without a sort."""
    order = np.empty(ranks.size, dtype=np.int64)
    order[ranks - 1] = np.arange(ranks.size, dtype=np.int64)
    return order


@dataclass(frozen=True)
class _Slices:
    """A table too big to hold whole next to its sources: built and written slice by
    slice (``make(start, stop)`` gives rows ``start..stop-1`` as a table of ``schema``)."""

    schema: pa.Schema
    num_rows: int
    make: Callable[[pa.Schema, int, int], pa.Table]


def _pages_table(  # noqa: PLR0917
    pages: _Pages,
    facts: graph.NodeFacts,
    node_ids: NDArray[np.int64],
    pr: rank.RankResult,
    tr: rank.RankResult | None,
    counts: dict[str, NDArray[np.int64]],
) -> _Slices:
    """The pages table in rank order. Numeric columns are ordered here (8 bytes a page
    each); the strings (URL, host, domain) are taken slice by slice while writing."""
    ids = node_ids[pages.node]
    page_rank = rank.ranks(pr.scores, ids)
    order = _rank_order(page_rank)
    m = pages.m
    columns: dict[str, NDArray[Any] | None] = {
        "node_id": ids,
        "pagerank": pr.scores,
        "score": rank.log_score(pr.scores),
        "rank": page_rank,
        **counts,
        "folded_urls": pages.folded,
        "trustrank": None if tr is None else tr.scores,
        "trust_rank": None if tr is None else rank.ranks(tr.scores, ids),
    }
    # The gathers into rank order, side by side (numpy releases the GIL).
    gathered = graph.in_parallel(
        [partial(np.take, v, order) for v in columns.values() if v is not None], pa.cpu_count()
    )
    numbers: dict[str, NDArray[Any] | None] = {
        name: None if v is None else gathered.pop(0) for name, v in columns.items()
    }
    del columns
    del ids, page_rank
    node, host, domain = pages.node[order], pages.host[order], pages.domain[order]

    def make(schema: pa.Schema, start: int, stop: int) -> pa.Table:
        strings = {
            "url": facts.urls(node[start:stop]).cast(pa.string()),
            "host": facts.host_names.take(pa.array(host[start:stop])),
            "domain": facts.domain_names.take(pa.array(domain[start:stop])),
        }
        columns = []
        for f in schema:
            if f.name in strings:
                columns.append(strings[f.name])
                continue
            values = numbers[f.name]
            columns.append(
                pa.nulls(stop - start, f.type) if values is None
                else pa.array(values[start:stop], f.type)
            )  # fmt: skip
        return pa.Table.from_arrays(columns, schema=schema)

    return _Slices(AUTHORITY_SCHEMAS["pages"], m, make)


def _with_metadata(
    table: pa.Table | _Slices, summary: dict[str, Any], name: str
) -> pa.Table | _Slices:
    meta = dict(table.schema.metadata or {})
    meta[b"linkcrawl.authority.parameters"] = json.dumps(summary["parameters"]).encode()
    meta[b"linkcrawl.authority.counts"] = json.dumps(summary["counts"]).encode()
    if name in summary["harmonic"]:
        meta[b"linkcrawl.authority.harmonic"] = json.dumps(summary["harmonic"][name]).encode()
    if isinstance(table, _Slices):
        return dataclasses.replace(table, schema=table.schema.with_metadata(meta))
    return table.replace_schema_metadata(meta)


class _StagedOutput:
    """The output, written file by file into a hidden sibling directory and renamed into
    place by :meth:`publish`; on any failure (leaving the ``with`` block by an exception)
    the directory is removed and the output is as it was."""

    def __init__(self, output: Path, overwrite: bool) -> None:
        self.output, self.overwrite = output, overwrite
        self.tmp = output.with_name(f".{output.name}.tmp-{os.getpid()}-{secrets.token_hex(4)}")

    def __enter__(self) -> _StagedOutput:
        try:
            self.output.parent.mkdir(parents=True, exist_ok=True)
            self.tmp.mkdir()
        except OSError as e:
            raise AuthorityError(
                f"--output {str(self.output)!r}: cannot write next to it: {e}"
            ) from None
        return self

    def __exit__(self, kind: type[BaseException] | None, *_: object) -> None:
        if kind is not None:
            shutil.rmtree(self.tmp, ignore_errors=True)

    def write(self, name: str, table: pa.Table | _Slices, summary: dict[str, Any]) -> None:
        _write_table(_with_metadata(table, summary, name), self.tmp / f"{name}.parquet")

    def publish(self, summary: dict[str, Any]) -> None:
        (self.tmp / SUMMARY_FILE).write_text(json.dumps(summary, indent=1) + "\n",
                                             encoding="utf-8")  # fmt: skip
        fsync_dir(self.tmp)
        _publish(self.tmp, self.output, self.overwrite)


# ---------------------------------------------------------------------------- summary


def format_summary(summary: dict[str, Any]) -> str:
    """The summary as a few readable lines."""
    c = summary["counts"]
    lines = [
        f"authority output: {summary['output']}",
        f"  nodes        {c['nodes']:>14,} pages ({c['folded_urls']:,} more URLs folded into "
        f"them), {c['hosts']:,} hosts, {c['domains']:,} domains",
        f"  edge rows    {c['rows_read']:>14,} read from {c['files']} files, "
        f"{c['edges_kept']:,} ranking edges kept",
    ]
    for reason, count in c["dropped"].items():
        lines.append(f"    dropped    {count:>14,} {reason}")
    for name, r in summary["rankings"].items():
        state = "converged" if r["converged"] else "NOT CONVERGED"
        lines.append(
            f"  {name:<18} {r['iterations']:>4} iterations, residual {r['residual']:.3e}, {state}"
        )
    for level, h in summary["harmonic"].items():
        how = "exact" if h["exact"] else f"sampled, {h['sources']:,} sources (seed {h['seed']})"
        lines.append(f"  {level + '.harmonic':<18} {how}")
    stages = ", ".join(f"{k} {v:.2f}s" for k, v in summary["stages"].items())
    lines.append(f"  time         {summary.get('seconds', 0.0):.2f}s ({stages})")
    lines.append(f"  peak memory  {summary.get('peak_rss_bytes', 0) / 2**20:,.0f} MiB")
    return "\n".join(lines)
