"""The authority job's Spark engine: the graph rules and rankings of ``docs/authority.md``
on PySpark DataFrames, for crawls too big for one machine's memory.

``linkcrawl authority --engine spark`` (or ``deploy/spark/authority.py`` under
``spark-submit``) runs :func:`run`. It reads the same Parquet dataset as the local engine
(:mod:`.job`), from a local path or any filesystem Spark reads, applies the same rules in
the same order, and writes the same tables (``docs/authority.md``, "Spark engine"):

1. ``read``: the edge rows' ranking columns (and, for rule 1, the ``pages`` table's
   answered fetches);
2. ``latest``: rule 1, a join with each source page's latest fetch;
3. ``fold``: rule 2. The chosen fold edges (one per folding URL) are collected to the
   driver and resolved by the local engine's :func:`.graph.resolve_folds`, so chains and
   cycles end where the local engine's do; the mapping goes back as a broadcast join;
4. ``links``: rules 3 and 4, the distinct (page, target) pairs with their best class,
   and the pages' count columns;
5. ``rank``: PageRank (and TrustRank) of the page graph by the local engine's power
   iteration and stopping rule: the vector on the driver and the edges in CSR blocks on
   the executors (:func:`pagerank_driver_vector`), or, for a vector too big for the
   driver, all in DataFrames with checkpoints (:func:`pagerank`);
6. ``pages``: the 0-100 score and the ranks (descending score, ties by node id), the
   table written by Spark in rank order;
7. ``hosts``, ``domains``: the site graphs (one vote per referring site) and their counts
   built on Spark. Up to ``AUTHORITY_SPARK_DRIVER_SITE_NODES`` sites they are collected
   and the site rankings, harmonic centrality (same budget and seed), ranks and scores
   are the local engine's :mod:`.rank` functions on the driver, the files the local
   engine's writer's (:func:`_site_table`); above that everything stays on DataFrames:
   :func:`pagerank`, a bit-parallel :func:`harmonic_centrality` from the same sources,
   the tables written by Spark in rank order (:func:`_site_frames`);
8. ``write``: ``_summary.json``, and the temporary directory renamed into place.

Option checks, seeds, the score formula, the summary and the output rules are the local
engine's own functions. pyspark is imported only here, and this module only when the
Spark engine is asked for; it never imports Scrapy.
"""

from __future__ import annotations

import json
import math
import os
import re
import sys
import time
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

import numpy as np
import pyarrow as pa

from linkcrawl import defaults
from linkcrawl.authority import graph, job, rank
from linkcrawl.files import first_line
from linkcrawl.schema import AUTHORITY_SCHEMAS, EDGES_SCHEMA, PAGES_SCHEMA

if TYPE_CHECKING:
    from collections.abc import Iterable, Iterator

    from numpy.typing import NDArray
    from pyspark.sql import Column, DataFrame, SparkSession

__all__ = [
    "PageRankResult",
    "SparkOptions",
    "harmonic_centrality",
    "import_pyspark",
    "pagerank",
    "run",
    "session",
]

INSTALL_HINT = "the Spark engine needs pyspark: pip install 'linkcrawl[spark]'"
_APP_NAME = "linkcrawl authority"
# link_type codes of graph.py (fold types in priority order), as Spark expressions use them.
_KIND = graph.LINK_TYPE_CODES
_A, _AREA, _REDIRECT, _CANONICAL = graph.A, graph.AREA, graph.REDIRECT, graph.CANONICAL
_SITEMAP, _UNKNOWN = graph.SITEMAP, graph.UNKNOWN_TYPE
_FULL, _REL, _NOTHING = graph.PASSES_FULL, graph.PASSES_REL_WEIGHT, graph.PASSES_NOTHING


@dataclass(frozen=True)
class SparkOptions:
    """The Spark engine's own tunables (``AUTHORITY_SPARK_*`` in ``linkcrawl/defaults.py``).

    ``master`` "" means: the master of ``spark-submit`` or ``$SPARK_MASTER``, else
    ``local[*]``; ``partitions`` 0 means the session's ``spark.sql.shuffle.partitions``.
    """

    master: str = defaults.AUTHORITY_SPARK_MASTER
    partitions: int = defaults.AUTHORITY_SPARK_PARTITIONS
    checkpoint_interval: int = defaults.AUTHORITY_SPARK_CHECKPOINT_INTERVAL
    driver_vector_nodes: int = defaults.AUTHORITY_SPARK_DRIVER_VECTOR_NODES
    driver_site_nodes: int = defaults.AUTHORITY_SPARK_DRIVER_SITE_NODES
    harmonic_words: int = defaults.AUTHORITY_SPARK_HARMONIC_WORDS
    driver_memory: str = defaults.AUTHORITY_SPARK_DRIVER_MEMORY


def import_pyspark() -> Any:
    """``pyspark.sql``, or the one-line install hint as an :class:`~.job.AuthorityError`."""
    try:
        import pyspark.sql
    except ImportError:
        raise job.AuthorityError(INSTALL_HINT) from None
    return pyspark.sql


def session(options: SparkOptions) -> tuple[SparkSession, bool]:
    """The active SparkSession (``spark-submit``'s), or a new one; True when it is new
    (the caller then stops it). A new session's master is ``options.master``, else
    ``$SPARK_MASTER``, else ``local[*]``."""
    sql = import_pyspark()
    active = sql.SparkSession.getActiveSession()
    if active is not None:
        return active, False
    from pyspark import SparkContext

    if SparkContext._active_spark_context is not None:  # spark-submit made one
        return sql.SparkSession.builder.getOrCreate(), False
    # Under spark-submit (which starts the JVM and hands its gateway to this process) the
    # session takes spark-submit's --master and --conf; otherwise it needs a master.
    submitted = "PYSPARK_GATEWAY_PORT" in os.environ
    master = options.master or os.environ.get("SPARK_MASTER", "")
    builder = sql.SparkSession.builder.appName(_APP_NAME)
    if master or not submitted:
        builder = builder.master(master or "local[*]")
    if not submitted:
        # Python workers (the PageRank blocks) run this interpreter, which has numpy, scipy
        # and linkcrawl (spark-submit's are set by its spark.pyspark.python).
        os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
        builder = builder.config("spark.ui.showConsoleProgress", "false")
        # The JVM this process starts is the driver and, with a local master, the
        # executors too: Spark's default heap (1g) ran out at 9M edge rows. And a JVM out
        # of memory exits (the job then fails with one line) instead of hanging half-dead.
        builder = builder.config("spark.driver.memory", options.driver_memory).config(
            "spark.driver.extraJavaOptions", "-XX:+ExitOnOutOfMemoryError"
        )
        builder = builder.config(map=STATUS_RETENTION)
    # Spark's default of 200 shuffle partitions costs a task each per stage: on one machine
    # (measured: the fold stage of a 90k-edge crawl took 55 s instead of ~5 s) two per core.
    shuffle = options.partitions or 2 * _local_cores(master or ("" if submitted else "local[*]"))
    if shuffle:
        builder = builder.config("spark.sql.shuffle.partitions", str(shuffle))
    spark = builder.getOrCreate()
    if not submitted:
        spark.sparkContext.setLogLevel("ERROR")
    return spark, True


# Each PageRank iteration and harmonic level is a few SQL executions and jobs, and the
# driver keeps each one's plan graph and metrics (whether or not a UI runs) up to Spark's
# retention limits, 1,000 of each: hundreds of MB of a heap that the executors of a local
# master share (measured: a 1g JVM failed an aggregation "No enough memory" on the third
# small run; with these limits it did not).
STATUS_RETENTION: dict[str, Any] = {
    "spark.sql.ui.retainedExecutions": "50",
    "spark.ui.retainedJobs": "100",
    "spark.ui.retainedStages": "100",
}


def _local_cores(master: str) -> int:
    """The cores of a ``local``, ``local[N]`` or ``local[*]`` master; 0 for a cluster."""
    match = re.fullmatch(r"local(?:\[(\*|\d+)(?:,\d+)?\])?", master.strip())
    if match is None:
        return 0
    if match.group(1) in (None, "*"):
        return 1 if match.group(1) is None else os.cpu_count() or 1
    return int(match.group(1))


# ----------------------------------------------------------------------------- input


_SCHEME = re.compile(r"([A-Za-z][A-Za-z0-9+.-]+):/+(.*)")


def _location(path: Path | str) -> str:
    """A path option as Spark reads it: ``s3a://bucket/x`` (which ``Path`` turns into
    ``s3a:/bucket/x``) gets its ``//`` back; a plain or ``file:`` path stays a path."""
    text = str(path)
    match = _SCHEME.fullmatch(text)
    if match is None or len(match.group(1)) < 2:  # C:/... on Windows is a path
        return text
    if match.group(1) == "file":
        return "/" + match.group(2)
    return f"{match.group(1)}://{match.group(2)}"


def _is_local(location: str) -> bool:
    return "://" not in location


def _local_path(location: str) -> Path:
    return Path(location)


@dataclass
class _Input:
    edges: DataFrame
    pages: DataFrame | None
    files: int
    page_files: int
    crawl_ids: list[str]


def _read_input(spark: SparkSession, config: job.AuthorityConfig) -> _Input:
    """The edges (and pages) DataFrames. A local input is checked file by file by the
    local engine's checks first (the same one-line errors); any other location is read
    by Spark, and its columns checked."""
    location = _location(config.input)
    reader = spark.read.option("mergeSchema", "false")
    if _is_local(location):
        root = _local_path(location)
        files = graph.find_edge_files(root, config.crawl_ids or None)
        crawl_ids = sorted({f.crawl_id for f in files})
        page_files = graph.find_page_files(root, crawl_ids)
        edges = reader.parquet(*(str(f.path.absolute()) for f in files))
        pages = reader.parquet(*(str(p.absolute()) for p in page_files)) if page_files else None
        return _Input(edges, pages, len(files), len(page_files), crawl_ids)
    base = location.rstrip("/")
    remote_edges = _read_remote(spark, f"{base}/edges", config.crawl_ids)
    if remote_edges is None:
        raise job.AuthorityError(f"no edges dataset in {location!r} (or no such crawl id)")
    _check_columns(remote_edges, EDGES_SCHEMA, f"{base}/edges", _EDGE_COLUMNS)
    ids = sorted(r[0] for r in remote_edges.select("crawl_id").distinct().collect())
    remote_pages = _read_remote(spark, f"{base}/pages", tuple(ids))
    if remote_pages is not None:
        _check_columns(remote_pages, PAGES_SCHEMA, f"{base}/pages",
                       ["node_id", "fetch_time", "status"])  # fmt: skip
    page_count = 0 if remote_pages is None else len(remote_pages.inputFiles())
    return _Input(remote_edges, remote_pages, len(remote_edges.inputFiles()), page_count, ids)


_EDGE_COLUMNS = ["source_id", "source_url", "source_host", "source_domain", "target_id",
                 "target_url", "target_host", "target_domain", "fetch_time", "link_type",
                 "nofollow", "sponsored", "ugc", "page_nofollow"]  # fmt: skip


def _read_remote(
    spark: SparkSession, directory: str, crawl_ids: tuple[str, ...]
) -> DataFrame | None:
    from pyspark.errors import AnalysisException

    paths = [f"{directory}/crawl_id={c}" for c in crawl_ids] or [directory]
    try:
        return spark.read.option("basePath", directory).parquet(*paths)
    except AnalysisException as e:
        if "PATH_NOT_FOUND" in str(e) or "UNABLE_TO_INFER_SCHEMA" in str(e):
            return None
        raise


def _check_columns(df: DataFrame, schema: pa.Schema, where: str, columns: list[str]) -> None:
    from pyspark.sql import types as T

    spark_types = {pa.int64(): T.LongType(), pa.int16(): T.ShortType(),
                   pa.string(): T.StringType(), pa.bool_(): T.BooleanType()}  # fmt: skip
    have = {f.name: f.dataType for f in df.schema.fields}
    for name in columns:
        if name not in have:
            raise job.AuthorityError(f"{where}: column {name!r} missing")
        want = schema.field(name).type
        expected = T.TimestampType() if pa.types.is_timestamp(want) else spark_types[want]
        if have[name] != expected:
            raise job.AuthorityError(f"{where}: column {name!r} is {have[name]}, expected {want}")


# ---------------------------------------------------------------------------- PageRank


@dataclass(frozen=True)
class PageRankResult:
    """A Spark PageRank: ``scores`` is a checkpointed DataFrame ``(id, score)``."""

    scores: DataFrame
    iterations: int
    residual: float
    converged: bool

    def summary(self) -> dict[str, Any]:
        return {"iterations": self.iterations, "residual": self.residual,
                "converged": self.converged}  # fmt: skip


def pagerank(  # noqa: PLR0917
    nodes: DataFrame,
    edges: DataFrame,
    n: int,
    damping: float,
    tol: float,
    max_iter: int,
    partitions: int,
    checkpoint_interval: int,
    personalization: DataFrame | None = None,
    broadcast_nodes: int = defaults.AUTHORITY_SPARK_BROADCAST_NODES,
) -> PageRankResult:
    """PageRank of ``nodes`` (a column ``id``, ``n`` rows) over ``edges`` (``src``,
    ``dst``, ``w`` > 0, each (src, dst) once), as :func:`.rank.pagerank` computes it.

    The same power iteration from the same start (``1 / n`` each)::

        x = damping * (M x) + (damping * sum(x[dangling]) + 1 - damping) * p

    with ``M[d, s] = w / out_weight(s)``, ``p`` uniform or ``personalization`` (a column
    ``id`` of the nodes teleported to, each equally) and the dangling mass spread like the
    teleport; it stops when the L1 change of the whole vector is below ``tol`` (the
    local engine's ``n * (tol / n)``).

    An iteration is one Spark job and one small aggregate: the edges (cached) joined with
    the vector (broadcast while ``n <= broadcast_nodes``, else a shuffle join), the
    products and the nodes' own rows (previous value, dangling, teleport) summed by node
    in one shuffle, and the sums the next step needs (the L1 change, the dangling mass)
    aggregated from the result. Each iteration's plan holds the previous vector twice, so
    the vector is checkpointed (``localCheckpoint``) every ``checkpoint_interval``
    iterations and cached in between: the plan stays short however many iterations run.
    """
    from pyspark import StorageLevel
    from pyspark.sql import Observation
    from pyspark.sql import functions as F

    if n == 0:
        empty = nodes.select("id", F.lit(0.0).alias("score"))
        return PageRankResult(empty, 0, 0.0, True)
    out_weight = edges.groupBy("src").agg(F.sum("w").alias("out_weight"))
    matrix = (
        edges.join(out_weight, "src")
        .select("src", "dst", (F.col("w") * (F.lit(1.0) / F.col("out_weight"))).alias("v"))
        .repartition(partitions, "src")
        .persist(StorageLevel.MEMORY_AND_DISK)
    )
    has_out = out_weight.select(F.col("src").alias("id"), F.lit(True).alias("has_out"))
    state = nodes.select("id").join(has_out, "id", "left")
    uniform = personalization is None
    if personalization is not None:
        seeds = personalization.select("id").distinct()
        p = seeds.select("id", F.lit(1.0 / seeds.count()).alias("p"))
        state = state.join(F.broadcast(p), "id", "left")
    else:
        state = state.withColumn("p", F.lit(None).cast("double"))
    state = state.select(
        "id",
        F.col("has_out").isNull().alias("dangling"),
        F.coalesce("p", F.lit(0.0)).alias("p"),
        F.lit(1.0 / n).alias("x"),
    ).repartition(partitions, "id")
    state = state.localCheckpoint(eager=True)
    first = state.agg(F.sum(F.when(F.col("dangling"), F.col("x")))).first()
    lost = damping * float((first[0] if first else None) or 0.0)
    teleport = 1.0 - damping
    limit = n * (tol / max(n, 1))
    broadcast = n <= broadcast_nodes
    held: list[DataFrame] = []
    residual = math.inf
    iteration = 0
    converged = False
    null = F.lit(None)
    # Adaptive execution re-plans every stage of every iteration (measured: twice the time
    # of an iteration on small graphs) for nothing: the shapes do not change.
    conf = nodes.sparkSession.conf
    adaptive = conf.get("spark.sql.adaptive.enabled")
    conf.set("spark.sql.adaptive.enabled", "false")
    try:
        for iteration in range(1, max_iter + 1):
            factor = lost + teleport
            spread: Column = F.lit(factor / n) if uniform else F.col("p") * F.lit(factor)
            vector = state.select(F.col("id").alias("src"), "x")
            products = matrix.join(F.broadcast(vector) if broadcast else vector, "src").select(
                F.col("dst").alias("id"), (F.col("v") * F.col("x")).alias("c"),
                null.cast("double").alias("previous"), null.cast("boolean").alias("dangling"),
                null.cast("double").alias("p"),
            )  # fmt: skip
            own = state.select("id", F.lit(0.0).alias("c"), F.col("x").alias("previous"),
                               "dangling", "p")  # fmt: skip
            summed = products.unionByName(own).groupBy("id").agg(
                F.sum("c").alias("c"), F.max("previous").alias("previous"),
                F.max("dangling").alias("dangling"), F.max("p").alias("p"),
            )  # fmt: skip
            following = summed.select(
                "id", "dangling", "p", (F.col("c") * F.lit(damping) + spread).alias("x"),
                "previous",
            )  # fmt: skip
            # The sums the next step needs, observed while the vector is materialised:
            # one Spark job an iteration (plus the broadcast's).
            sums = Observation()
            following = following.observe(
                sums,
                F.sum(F.abs(F.col("x") - F.col("previous"))).alias("residual"),
                F.sum(F.when(F.col("dangling"), F.col("x"))).alias("dangling"),
            )
            if iteration % checkpoint_interval == 0:
                following = following.localCheckpoint(eager=True)
                for df in held:
                    df.unpersist()
                held.clear()
            else:
                following = following.persist(StorageLevel.MEMORY_AND_DISK)
                following.count()
                held.append(following)
            residual = float(sums.get.get("residual") or 0.0)
            lost = damping * float(sums.get.get("dangling") or 0.0)
            state = following.select("id", "dangling", "p", "x")
            if residual < limit:
                converged = True
                break
        scores = state.select("id", F.col("x").alias("score")).localCheckpoint(eager=True)
    finally:
        conf.set("spark.sql.adaptive.enabled", adaptive or "true")
        for df in held:
            df.unpersist()
        matrix.unpersist()
    return PageRankResult(scores, iteration, residual, converged)


def pagerank_driver_vector(  # noqa: PLR0917
    nodes: DataFrame,
    edges: DataFrame,
    n: int,
    damping: float,
    tol: float,
    max_iter: int,
    partitions: int,
    personalization: DataFrame | None = None,
) -> PageRankResult:
    """:func:`pagerank` with the vector on the driver: the same iteration, for graphs whose
    vector (8 bytes a node) fits the driver, many times faster per iteration.

    The edges stay distributed: numbered densely (node ids in ascending order), grouped by
    target into ``partitions`` blocks, each block a scipy CSR matrix cached on the
    executors. An iteration broadcasts ``x``, each block returns its rows of ``M x``, and
    the driver finishes the step with the local engine's arithmetic (``y *= damping``,
    the dangling and teleport mass, the L1 change). No plan grows: there is nothing to
    checkpoint.
    """
    from pyspark.sql import functions as F

    spark = nodes.sparkSession
    ids = np.sort(np.asarray(nodes.select("id").toArrow().column("id").to_numpy(), np.int64))
    if n == 0 or ids.size == 0:
        return PageRankResult(nodes.select("id", F.lit(0.0).alias("score")), 0, 0.0, True)
    index = spark.createDataFrame(pa.table({"id": ids, "i": np.arange(ids.size, dtype=np.int64)}))
    index = F.broadcast(index) if ids.size <= defaults.AUTHORITY_SPARK_BROADCAST_NODES else index
    out_weight = edges.groupBy("src").agg(F.sum("w").alias("out_weight"))
    matrix = (
        edges.join(out_weight, "src")
        .join(index.select(F.col("id").alias("src"), F.col("i").alias("si")), "src")
        .join(index.select(F.col("id").alias("dst"), F.col("i").alias("di")), "dst")
        .select("di", "si", (F.col("w") * (F.lit(1.0) / F.col("out_weight"))).alias("v"))
        .repartition(partitions, "di")
    )
    blocks = matrix.rdd.mapPartitions(_csr_block).persist()
    has_out = out_weight.select("src").toArrow().column("src").to_numpy()
    dangling = np.ones(n, dtype=np.bool_)
    dangling[np.searchsorted(ids, np.asarray(has_out, np.int64))] = False
    dangling_nodes = np.flatnonzero(dangling)
    p = None
    if personalization is not None:
        seeds = np.asarray(personalization.select("id").toArrow().column("id").to_numpy())
        p = np.zeros(n)
        p[np.searchsorted(ids, np.asarray(seeds, np.int64))] = 1.0
        p /= p.sum()
    x = np.full(n, 1.0 / n)
    teleport = 1.0 - damping
    residual = math.inf
    iteration = 0
    converged = False
    context = spark.sparkContext
    try:
        for iteration in range(1, max_iter + 1):  # noqa: B007 (read after the loop)
            lost = damping * float(x[dangling_nodes].sum()) if dangling_nodes.size else 0.0
            shared = context.broadcast(x)
            y = np.zeros(n)
            for rows, values in blocks.map(partial(_block_product, shared)).collect():
                y[rows] = values
            shared.destroy()
            y *= damping
            if p is None:
                y += (lost + teleport) / n
            else:
                y += p * (lost + teleport)
            residual = float(np.abs(y - x).sum())
            x = y
            if residual < n * (tol / max(n, 1)):
                converged = True
                break
    finally:
        blocks.unpersist()
    scores = spark.createDataFrame(pa.table({"id": ids, "score": x}))
    return PageRankResult(scores, iteration, residual, converged)


def _csr_block(rows: Iterable[Any]) -> Iterator[tuple[Any, Any]]:
    """One partition of the matrix entries ``(di, si, v)`` as ``(targets, CSR matrix)``:
    row ``r`` of the matrix is target ``targets[r]``."""
    import scipy.sparse

    entries = [(r[0], r[1], r[2]) for r in rows]
    if not entries:
        return
    di, si, v = (np.array(c) for c in zip(*entries, strict=True))
    targets, row = np.unique(di.astype(np.int64), return_inverse=True)
    matrix = scipy.sparse.csr_array(
        (v.astype(np.float64), (row, si.astype(np.int64))), shape=(targets.size, int(si.max()) + 1)
    )
    yield targets, matrix


def _block_product(shared: Any, block: tuple[Any, Any]) -> tuple[Any, Any]:
    targets, matrix = block
    x = shared.value
    return targets, matrix @ x[: matrix.shape[1]]


def harmonic_centrality(
    nodes: DataFrame,
    edges: DataFrame,
    n: int,
    sources: NDArray[np.int64] | None,
    partitions: int,
    *,
    words: int = defaults.AUTHORITY_SPARK_HARMONIC_WORDS,
) -> DataFrame:
    """:func:`.rank.harmonic_centrality` on DataFrames: ``(id, harmonic)`` of ``nodes`` (a
    column ``id`` of ``n`` ints ``0..n-1``) over ``edges`` (``src``, ``dst``).

    The same bit-parallel breadth-first search from the same sources (all nodes, or the
    sample ``sources`` with the same ``(n - 1) / (k - [u in S])`` scaling): a pass takes
    up to ``64 * words`` sources, source ``j`` owning bit ``j % 64`` of column
    ``w{j // 64}``. A level joins the last level's newly reached bits with the edges,
    ORs them per target (``bit_or``), keeps the bits the target had not seen, and adds
    ``bit_count(new) / level`` to it: every new bit is one source at that distance. A
    pass stops at the first level that reaches nothing new (one more than the longest
    distance from a source), so it costs that many joins of the edges with the frontier
    and of the frontier with the reached bits. Only sampled sources are ever on the
    driver; the reached bits (8 bytes a word a reached node) are checkpointed each level.
    """
    from pyspark import StorageLevel
    from pyspark.sql import functions as F

    spark = nodes.sparkSession
    chosen = np.arange(n, dtype=np.int64) if sources is None else np.asarray(sources, np.int64)
    links = (
        edges.where(F.col("src") != F.col("dst")).select("src", "dst").distinct()
        .repartition(partitions, "src").persist(StorageLevel.MEMORY_AND_DISK)
    )  # fmt: skip
    # (id, harmonic): the sums so far, each level's terms added in level order as
    # rank.harmonic_centrality adds them. Updated by joins, not by aggregating unions.
    acc: DataFrame | None = None
    try:
        for start in range(0, chosen.size if n >= 2 else 0, 64 * words):
            batch = chosen[start : start + 64 * words]
            width = -(-batch.size // 64)
            names = [f"w{i}" for i in range(width)]
            j = np.arange(batch.size)
            bits = np.zeros((batch.size, width), dtype=np.uint64)
            bits[j, j // 64] = np.left_shift(np.uint64(1), (j % 64).astype(np.uint64))
            frontier = spark.createDataFrame(pa.table(
                {"id": batch, **{w: bits[:, i].view(np.int64) for i, w in enumerate(names)}}
            )).localCheckpoint(eager=True)  # fmt: skip
            # (id, w..., h): the bits of the sources that reached each node, and its sum
            reached = frontier.select("*", F.lit(0.0).alias("h"))
            level = 0
            while True:
                level += 1
                offered = (
                    frontier.withColumnRenamed("id", "src").join(links, "src")
                    .groupBy(F.col("dst").alias("id"))
                    .agg(*(F.bit_or(w).alias(w) for w in names))
                )  # fmt: skip
                seen = reached.select("id", *(F.col(w).alias(f"seen_{w}") for w in names))
                new = offered.join(seen, "id", "left").select(
                    "id",
                    *(
                        F.col(w)
                        .bitwiseAND(F.bitwise_not(F.coalesce(F.col(f"seen_{w}"), F.lit(0))))
                        .alias(w)
                        for w in names
                    ),
                )
                anything: Column = F.lit(False)
                for w in names:
                    anything = anything | (F.col(w) != 0)
                new = new.where(anything).localCheckpoint(eager=True)
                if new.isEmpty():
                    break
                count: Column = F.lit(0)
                for w in names:
                    count = count + F.bit_count(F.col(f"new_{w}"))
                fresh = new.select("id", *(F.col(w).alias(f"new_{w}") for w in names))
                reached = (
                    reached.join(fresh, "id", "full").select(
                        "id",
                        *(
                            F.coalesce(F.col(w), F.lit(0))
                            .bitwiseOR(F.coalesce(F.col(f"new_{w}"), F.lit(0)))
                            .alias(w)
                            for w in names
                        ),
                        (F.coalesce(F.col("h"), F.lit(0.0))
                         + F.coalesce(count / F.lit(float(level)), F.lit(0.0))).alias("h"),
                    )
                ).localCheckpoint(eager=True)  # fmt: skip
                frontier = new
            sums = reached.select("id", F.col("h").alias("batch"))
            acc = (
                sums.withColumnRenamed("batch", "harmonic") if acc is None
                else acc.join(sums, "id", "full").select(
                    "id",
                    (F.coalesce(F.col("harmonic"), F.lit(0.0))
                     + F.coalesce(F.col("batch"), F.lit(0.0))).alias("harmonic"),
                ).localCheckpoint(eager=True)
            )  # fmt: skip
        result = nodes.select("id")
        value: Column = F.lit(0.0)
        if acc is not None:
            result = result.join(acc, "id", "left")
            value = F.coalesce(F.col("harmonic"), F.lit(0.0))
        if sources is not None and n >= 2:
            # (n - 1) / (k - [u in S]), as rank.harmonic_centrality scales the sample.
            sampled = np.ones(chosen.size, np.bool_)
            sample = spark.createDataFrame(pa.table({"id": chosen, "sampled": sampled}))
            result = result.join(F.broadcast(sample), "id", "left")
            k = float(chosen.size)
            divisor = F.when(F.col("sampled").isNotNull(), F.lit(k - 1.0)).otherwise(F.lit(k))
            value = value * (F.lit(float(n - 1)) / divisor)
        return result.select("id", value.alias("harmonic")).localCheckpoint(eager=True)
    finally:
        links.unpersist()


# ------------------------------------------------------------------------------- the job


def _kind(column: str) -> Column:
    """``link_type`` -> graph.py's code (an unknown type -> UNKNOWN_TYPE)."""
    from pyspark.sql import functions as F

    expr = F.lit(_UNKNOWN)
    for name, code in _KIND.items():
        expr = F.when(F.col(column) == name, F.lit(code)).otherwise(expr)
    return expr


def _count(df: DataFrame) -> int:
    return int(df.count())


def _sum_row(df: DataFrame, **sums: Column) -> dict[str, int]:
    from pyspark.sql import functions as F

    row = df.agg(*(F.coalesce(F.sum(c), F.lit(0)).alias(k) for k, c in sums.items())).first()
    assert row is not None
    return {k: int(row[k]) for k in sums}


def run(
    config: job.AuthorityConfig,
    *,
    options: SparkOptions | None = None,
    spark: SparkSession | None = None,
    progress: IO[str] | None = None,
) -> dict[str, Any]:
    """Run the job on Spark; return its summary (also ``<output>/_summary.json``).

    ``spark``: a session to use (default: the active one, or a new one from ``options``,
    stopped at the end). Raises :class:`~.job.AuthorityError` for every user error, before
    the output is touched: the local engine's checks, plus Spark's own read errors as
    one line.
    """
    options = options or SparkOptions()
    rel_weight, internal_weight = job._check_config(config)
    if not (isinstance(options.partitions, int) and options.partitions >= 0):
        raise job.AuthorityError(f"--spark-partitions {options.partitions!r}: must be >= 0")
    for name, value, least in (
        ("AUTHORITY_SPARK_CHECKPOINT_INTERVAL", options.checkpoint_interval, 1),
        ("AUTHORITY_SPARK_DRIVER_VECTOR_NODES", options.driver_vector_nodes, 0),
        ("AUTHORITY_SPARK_DRIVER_SITE_NODES", options.driver_site_nodes, 0),
        ("AUTHORITY_SPARK_HARMONIC_WORDS", options.harmonic_words, 1),
    ):
        if not (isinstance(value, int) and value >= least):
            raise job.AuthorityError(f"{name} {value!r}: must be >= {least}")
    if not re.fullmatch(r"[1-9][0-9]*[kmgt]?", str(options.driver_memory).lower()):
        raise job.AuthorityError(
            f"AUTHORITY_SPARK_DRIVER_MEMORY {options.driver_memory!r}: a JVM size like 4g"
        )
    seeds = job.load_trust_seeds(config.trust_seeds) if config.trust_seeds is not None else None
    if not _is_local(_location(config.output)):
        raise job.AuthorityError(
            f"--output {_location(config.output)!r}: the Spark engine writes to a local or "
            "mounted path (the driver renames the finished output into place)"
        )
    output = _local_path(_location(config.output)).absolute()
    replacing = job._check_output(output, config.overwrite)
    source = _location(config.input)
    if _is_local(source):  # every file checked before a JVM starts (read again by Spark)
        try:
            files = graph.find_edge_files(_local_path(source), config.crawl_ids or None)
            graph.find_page_files(_local_path(source), sorted({f.crawl_id for f in files}))
        except graph.GraphInputError as e:
            raise job.AuthorityError(str(e)) from None
    import_pyspark()
    from py4j.protocol import Py4JError
    from pyspark.errors import PySparkException

    own = spark is None
    if spark is None:
        spark, own = session(options)
    try:
        return _run(spark, config, options, output, replacing, seeds, rel_weight,
                    internal_weight, progress)  # fmt: skip
    except graph.GraphInputError as e:
        raise job.AuthorityError(str(e)) from None
    except (PySparkException, Py4JError) as e:
        raise job.AuthorityError(f"spark: {first_line(e)}") from None
    finally:
        if own:
            spark.stop()


def _run(  # noqa: PLR0917 (private: one call site; the stages in order)
    spark: SparkSession,
    config: job.AuthorityConfig,
    options: SparkOptions,
    output: Path,
    replacing: bool,
    seeds: list[str] | None,
    rel_weight: float,
    internal_weight: float,
    progress: IO[str] | None,
) -> dict[str, Any]:
    from pyspark import StorageLevel
    from pyspark.sql import functions as F

    clock = job._Clock(progress)
    partitions = options.partitions or int(spark.conf.get("spark.sql.shuffle.partitions") or 8)
    counts: dict[str, Any] = {}
    dropped: dict[str, int] = {}
    mem = StorageLevel.MEMORY_AND_DISK

    with clock.stage("read") as st:
        data = _read_input(spark, config)
        rows = data.edges.select(
            F.col("source_id").alias("s"),
            F.col("target_id").alias("d"),
            F.col("fetch_time").alias("t"),
            _kind("link_type").alias("kind"),
            (F.col("nofollow") | F.col("sponsored") | F.col("ugc")).alias("rel"),
            F.col("page_nofollow").alias("pnf"),
        ).persist(mem)
        counts["rows_read"] = _count(rows)
        counts["files"] = data.files
        st.rows, st.note = counts["rows_read"], f"from {data.files} files"
    # Each node's URL, host and domain: every row naming a node names it with the same
    # strings (the node id is the URL's hash), so any row does.
    e = data.edges
    facts = (
        e.select(F.col("source_id").alias("id"), F.col("source_url").alias("url"),
                 F.col("source_host").alias("host"), F.col("source_domain").alias("domain"))
        .unionByName(e.select(F.col("target_id").alias("id"), F.col("target_url").alias("url"),
                              F.col("target_host").alias("host"),
                              F.col("target_domain").alias("domain")))
        .groupBy("id")
        .agg(*(F.first(c).alias(c) for c in ("url", "host", "domain")))
    )  # fmt: skip
    node_ids = rows.select(F.col("s").alias("id")).union(rows.select(F.col("d").alias("id")))
    node_ids = node_ids.distinct().persist(mem)
    counts["node_ids"] = _count(node_ids)
    seed_ids = None
    if seeds is not None:
        from linkcrawl.urls import node_id

        seed_table = pa.table({"id": pa.array(sorted({node_id(u) for u in seeds}), pa.int64())})
        seed_ids = spark.createDataFrame(seed_table)
        if not _count(node_ids.join(F.broadcast(seed_ids), "id")):
            raise _no_seed(seeds, config)

    with clock.stage("latest") as st:
        counts["page_files"] = data.page_files
        latest = rows.groupBy("s").agg(F.max("t").alias("latest"))
        if data.pages is not None:
            answered = data.pages.where(F.col("status") < 500).select(
                F.col("node_id").alias("s"), F.col("fetch_time").alias("latest")
            )
            latest = latest.unionByName(answered).groupBy("s").agg(F.max("latest").alias("latest"))
        kept_rows = (
            rows.join(latest, "s").where(F.col("t") == F.col("latest")).drop("latest", "t")
        ).persist(mem)
        kept_count = _count(kept_rows)
        dropped["stale_fetch"] = counts["rows_read"] - kept_count
        rows.unpersist()
        st.rows, st.note = kept_count, f"{dropped['stale_fetch']:,} stale rows dropped"

    with clock.stage("fold") as st:
        tallies = _sum_row(
            kept_rows,
            unknown_link_type=(F.col("kind") == _UNKNOWN).cast("long"),
            sitemap=(F.col("kind") == _SITEMAP).cast("long"),
            fold_rows=F.col("kind").between(_REDIRECT, _CANONICAL).cast("long"),
            fold_noop=(
                F.col("kind").between(_REDIRECT, _CANONICAL) & (F.col("s") == F.col("d"))
            ).cast("long"),
        )
        dropped["unknown_link_type"] = tallies["unknown_link_type"]
        dropped["sitemap"] = tallies["sitemap"]
        live = kept_rows.where(
            F.col("kind").between(_REDIRECT, _CANONICAL) & (F.col("s") != F.col("d"))
        )
        # Rule 2's choice: a redirect over a refresh over a canonical, then the smallest
        # target id (kind codes are in that priority order).
        chosen = live.groupBy("s").agg(F.min(F.struct("kind", "d")).alias("best"))
        chosen = chosen.select("s", F.col("best.d").alias("d"))
        fold_table = chosen.toArrow()
        dropped["fold_edge"] = fold_table.num_rows
        dropped["fold_noop"] = tallies["fold_noop"]
        dropped["fold_unused"] = tallies["fold_rows"] - tallies["fold_noop"] - fold_table.num_rows
        rep = spark.createDataFrame(_resolve_folds(fold_table))
        rep = F.broadcast(rep) if fold_table.num_rows <= _BROADCAST_FOLDS else rep
        # Every row in pages; the sitemap rows only make their targets nodes.
        mapped = (
            kept_rows.join(rep.select(F.col("node").alias("s"), F.col("rep").alias("ps")),
                           "s", "left")
            .join(rep.select(F.col("node").alias("d"), F.col("rep").alias("pd")), "d", "left")
            .select("s", "d", F.coalesce("ps", "s").alias("ps"), F.coalesce("pd", "d").alias("pd"),
                    "kind", "rel", "pnf")
        ).persist(mem)  # fmt: skip
        appeared = (
            mapped.where(F.col("kind") != _SITEMAP).select(F.col("s").alias("node"))
            .union(mapped.select(F.col("d").alias("node"))).distinct()
        )  # fmt: skip
        folded = (
            appeared.join(rep, "node")
            .groupBy(F.col("rep").alias("id"))
            .agg(F.count("*").alias("folded"))
        )
        page_ids = (
            mapped.where(F.col("kind") != _SITEMAP).select(F.col("ps").alias("id"))
            .union(mapped.select(F.col("pd").alias("id"))).distinct()
        )  # fmt: skip
        pages = (
            page_ids.join(facts, "id", "left")
            .join(folded, "id", "left")
            .select("id", "url", "host", "domain", F.coalesce("folded", F.lit(0)).alias("folded"))
        ).persist(mem)
        m = _count(pages)
        kept_rows.unpersist()
        counts["nodes"] = m
        counts["folded_urls"] = _sum_row(pages, folded=F.col("folded"))["folded"]
        st.rows, st.unit = m, "pages"
        st.note = f"{counts['folded_urls']:,} URLs folded"

    seed_pages = None
    if seeds is not None and seed_ids is not None:
        seed_pages = (
            appeared.join(F.broadcast(seed_ids.select(F.col("id").alias("node"))), "node")
            .join(rep, "node", "left")
            .select(F.coalesce("rep", "node").alias("id"))
            .distinct()
        ).persist(mem)
        found = _count(seed_pages)
        if not found:
            raise _no_seed(seeds, config)
        counts["trust_seeds"] = {"urls": len(seeds), "pages": found}

    with clock.stage("links") as st:
        links = mapped.where(F.col("kind") <= _AREA)
        rel_class = _REL if rel_weight > 0 else _NOTHING
        cls = (
            F.when(F.col("pnf"), F.lit(_NOTHING))
            .when(F.col("rel"), F.lit(rel_class))
            .otherwise(F.lit(_FULL))
        )
        counted = links.where(F.col("ps") != F.col("pd")).select(
            "ps", "pd", "pnf", cls.alias("cls")
        )
        link_tallies = _sum_row(
            links, links=F.lit(1), counted=(F.col("ps") != F.col("pd")).cast("long")
        )
        row_tallies = _sum_row(
            counted,
            page_nofollow=F.col("pnf").cast("long"),
            nothing=(F.col("cls") == _NOTHING).cast("long"),
        )
        dropped["self_link"] = link_tallies["links"] - link_tallies["counted"]
        dropped["page_nofollow"] = row_tallies["page_nofollow"]
        dropped["rel_excluded"] = row_tallies["nothing"] - row_tallies["page_nofollow"]
        site = pages.select("id", "host", "domain")
        pairs = (
            counted.groupBy("ps", "pd")
            .agg(F.max("cls").alias("best"), F.count("*").alias("rows"),
                 F.sum((F.col("cls") > 0).cast("long")).alias("passing"))
            .join(site.select(F.col("id").alias("ps"), F.col("host").alias("sh"),
                              F.col("domain").alias("sd")), "ps")
            .join(site.select(F.col("id").alias("pd"), F.col("host").alias("dh"),
                              F.col("domain").alias("dd")), "pd")
        )  # fmt: skip
        internal = F.col("sh") == F.col("dh")
        kept = F.col("best") == _FULL
        if rel_weight > 0:
            kept = kept | (F.col("best") == _REL)
        if internal_weight == 0:
            kept = kept & ~internal
        weight: Column = F.lit(1.0)
        if rel_weight not in (0.0, 1.0) or internal_weight not in (0.0, 1.0):
            weight = F.when(F.col("best") == _FULL, F.lit(1.0)).otherwise(F.lit(rel_weight))
            weight = F.when(internal, weight * F.lit(internal_weight)).otherwise(weight)
        pairs = pairs.select("*", kept.alias("kept"), weight.alias("w")).persist(mem)
        pair_tallies = _sum_row(
            pairs,
            passing=F.col("passing"),
            passing_kept=F.when(F.col("kept"), F.col("passing")).otherwise(0),
            kept=F.col("kept").cast("long"),
        )
        dropped["internal_excluded"] = pair_tallies["passing"] - pair_tallies["passing_kept"]
        dropped["duplicate"] = pair_tallies["passing_kept"] - pair_tallies["kept"]
        counts["edges_kept"] = pair_tallies["kept"]
        page_counts = pairs.groupBy(F.col("pd").alias("id")).agg(
            F.sum("rows").alias("in_links"),
            F.sum(F.when(F.col("kept"), F.col("passing")).otherwise(0)).alias("dofollow_in_links"),
            F.count("*").alias("referring_pages"),
            F.countDistinct("sh").alias("referring_hosts"),
            F.countDistinct("sd").alias("referring_domains"),
        )
        st.rows, st.unit = counts["edges_kept"], "edges kept"
    counts["dropped"] = dropped
    hosts_df = pages.select("host", "domain").distinct().persist(mem)
    counts["hosts"] = _count(hosts_df)
    counts["domains"] = _count(hosts_df.select("domain").distinct())

    rankings: dict[str, Any] = {}
    harmonic: dict[str, Any] = {}
    with clock.stage("rank") as st:
        page_edges = pairs.where(F.col("kept")).select(
            F.col("ps").alias("src"), F.col("pd").alias("dst"), "w"
        )
        page_nodes = pages.select("id")
        rank_args: tuple[Any, ...] = (m, config.damping, config.tol, config.max_iter,
                                      partitions, options.checkpoint_interval)  # fmt: skip
        rank_pages: Any = pagerank
        if m <= options.driver_vector_nodes:
            # One block of the matrix per core by default: a task an iteration each.
            blocks = options.partitions or spark.sparkContext.defaultParallelism
            rank_pages = pagerank_driver_vector
            rank_args = (*rank_args[:4], blocks)
        pr = rank_pages(page_nodes, page_edges, *rank_args)
        rankings["pages.pagerank"] = pr.summary()
        tr = None
        if seed_pages is not None:
            tr = rank_pages(page_nodes, page_edges, *rank_args, personalization=seed_pages)
            rankings["pages.trustrank"] = tr.summary()
        st.rows, st.unit = m, "pages"
        st.note = f"pagerank {pr.iterations} it, residual {pr.residual:.2e}"
        if tr is not None:
            st.note += f"; trustrank {tr.iterations} it"

    summary = job.summary_of(config, output, data.crawl_ids, (rel_weight, internal_weight),
                             counts, rankings, harmonic, clock.seconds, engine="spark")  # fmt: skip
    summary["parameters"].update(
        spark_master=spark.sparkContext.master, spark_partitions=partitions
    )
    if replacing:
        clock.say(f"replacing the previous output in {output}")
    with job._StagedOutput(output, config.overwrite) as staged:
        with clock.stage("pages") as st:
            table = (
                pages.join(pr.scores, "id")
                .join(page_counts, "id", "left")
                .select(
                    "id", "url", "host", "domain", "folded", F.col("score").alias("pagerank"),
                    *(F.coalesce(c, F.lit(0)).alias(c) for c in _PAGE_COUNTS),
                )
            )  # fmt: skip
            if tr is not None:
                table = table.join(tr.scores.select("id", F.col("score").alias("trustrank")), "id")
                table = _with_rank(table, "trustrank", "trust_rank").persist(mem)
            else:
                table = table.select(
                    "*",
                    F.lit(None).cast("double").alias("trustrank"),
                    F.lit(None).cast("long").alias("trust_rank"),
                )
            table = _with_score(table, "pagerank", "score")
            table = _with_rank(table, "pagerank", "rank")
            _write_parts(
                table,
                staged.tmp / "pages.parquet",
                "pages",
                {"node_id": "id", "folded_urls": "folded"},
            )
            st.rows, st.unit = m, "rows written"
        sites: dict[str, pa.Table] = {}
        for level in ("hosts", "domains"):
            with clock.stage(level) as st:
                if counts[level] <= options.driver_site_nodes:
                    sites[level], note, rankings[f"{level}.pagerank"], trust, harmonic[level] = (
                        _site_table(spark, level, pages, pairs, hosts_df, seed_pages, config)
                    )
                    st.rows = sites[level].num_rows
                else:  # too big for the driver: ranked and written from DataFrames
                    st.rows, note, rankings[f"{level}.pagerank"], trust, harmonic[level] = (
                        _site_frames(level, pages, pairs, hosts_df, seed_pages, config,
                                     options, partitions, staged.tmp / f"{level}.parquet")
                    )  # fmt: skip
                if trust is not None:
                    rankings[f"{level}.trustrank"] = trust
                st.unit, st.note = level, note
        # Rankings in the local engine's order: pages, then each level's.
        order = ["pages.pagerank", "pages.trustrank", "hosts.pagerank", "hosts.trustrank",
                 "domains.pagerank", "domains.trustrank"]  # fmt: skip
        ordered = {k: rankings[k] for k in order if k in rankings}
        rankings.clear()
        rankings.update(ordered)
        with clock.stage("write") as st:
            for level, site_table in sites.items():
                staged.write(level, site_table, summary)
            st.rows, st.unit = sum(t.num_rows for t in sites.values()), "rows written"
            staged.publish(summary)
    summary["stages"] = clock.seconds
    summary["stage_cpu_seconds"] = clock.cpu_seconds
    summary["stage_peak_mib"] = clock.peak_mib
    summary["seconds"] = round(time.monotonic() - clock.started, 3)
    summary["peak_rss_bytes"] = job.peak_rss_bytes()
    final = output / f".{job.SUMMARY_FILE}.tmp"
    final.write_text(json.dumps(summary, indent=1) + "\n", encoding="utf-8")
    os.replace(final, output / job.SUMMARY_FILE)
    for df in (pages, pairs, mapped, hosts_df, node_ids, seed_pages):
        if df is not None:
            df.unpersist()
    return summary


# Fold mappings up to this many nodes are broadcast to the joins (16 bytes a node).
_BROADCAST_FOLDS = 2_000_000
_PAGE_COUNTS = ("in_links", "dofollow_in_links", "referring_pages", "referring_hosts",
                "referring_domains")  # fmt: skip


def _no_seed(seeds: list[str], config: job.AuthorityConfig) -> job.AuthorityError:
    return job.AuthorityError(
        f"--trust-seeds: none of the {len(seeds)} URLs in {str(config.trust_seeds)!r} is a "
        "page of the graph"
    )


def _resolve_folds(chosen: pa.Table) -> pa.Table:
    """Rule 2 on the driver: ``(node, rep)`` of every node that folds into another, from
    the chosen fold edges ``(s, d)``, by the local engine's :func:`.graph.resolve_folds`
    over the fold edges' nodes numbered in id order (smallest index = smallest id)."""
    source = np.asarray(chosen.column("s").to_numpy(), dtype=np.int64)
    target = np.asarray(chosen.column("d").to_numpy(), dtype=np.int64)
    ids = np.unique(np.concatenate([source, target]))
    rep = graph.resolve_folds(np.searchsorted(ids, source), np.searchsorted(ids, target),
                              ids.size)  # fmt: skip
    moved = rep != np.arange(ids.size)
    return pa.table({"node": pa.array(ids[moved], pa.int64()),
                     "rep": pa.array(ids[rep[moved]], pa.int64())})  # fmt: skip


def _with_score(df: DataFrame, column: str, name: str) -> DataFrame:
    """:func:`.rank.log_score` as a Spark column: the smallest positive value and the
    largest are found first, their logarithms taken by numpy as the local engine does,
    and each value scaled and rounded as ``np.round(x, 2)`` does (``rint(100 x) / 100``)."""
    from pyspark.sql import functions as F

    row = df.agg(F.min(F.when(F.col(column) > 0, F.col(column))), F.max(column)).first()
    assert row is not None
    low_value, high_value = row[0], row[1]
    if low_value is None:
        return df.withColumn(name, F.lit(0.0))
    low = float(np.log(np.float64(low_value)))
    span = float(np.log(np.float64(high_value))) - low
    if span <= 0.0:
        return df.withColumn(name, F.lit(0.0))
    scaled = (F.log(F.col(column)) - F.lit(low)) * F.lit(100.0 / span)
    score = F.when(F.col(column) > 0, F.rint(scaled * F.lit(100.0)) / F.lit(100.0))
    return df.withColumn(name, F.coalesce(score.otherwise(F.lit(0.0)), F.lit(0.0)))


def _with_rank(df: DataFrame, column: str, name: str) -> DataFrame:
    """``name``: 1 for the highest ``column``, ties by ascending ``id`` (:func:`.rank.ranks`).
    The result stays in that order (the tables are written from it)."""
    from pyspark.sql import functions as F

    return _numbered(df, [F.col(column).desc(), F.col("id").asc()], name, first=1)


def _numbered(df: DataFrame, order: list[Column], name: str, first: int) -> DataFrame:
    """``name``: each row's place in ``order``, from ``first``.

    A global sort (range partitions, in order), then each row's place within its
    partition plus the rows of the partitions before it: no single-partition window."""
    from pyspark.sql import functions as F

    ordered = (
        df.orderBy(*order)
        .withColumn("_part", F.spark_partition_id())
        .withColumn("_row", F.monotonically_increasing_id())
    ).localCheckpoint(eager=True)
    sizes = sorted((r[0], r[1]) for r in ordered.groupBy("_part").count().collect())
    offsets, total = {}, 0
    for part, size in sizes:
        offsets[part] = total
        total += size
    offset = F.lit(0)
    for part, start in offsets.items():
        offset = F.when(F.col("_part") == part, F.lit(start)).otherwise(offset)
    within = F.col("_row") - F.shiftleft(F.col("_part").cast("long"), 33)
    place = (within + offset + F.lit(first)).cast("long")
    return ordered.withColumn(name, place).drop("_part", "_row")


def _write_parts(df: DataFrame, path: Path, name: str, source: dict[str, str]) -> None:
    """Authority table ``name`` as a directory of part files in the frame's (rank) order,
    with exactly its AUTHORITY_SCHEMAS columns, types and nullability; ``source``: the
    frame's column of each differently named table column."""
    from pyspark.sql import functions as F

    schema = AUTHORITY_SCHEMAS[name]
    defaults_by_type = {pa.string(): F.lit(""), pa.int64(): F.lit(0).cast("long"),
                        pa.float64(): F.lit(0.0)}  # fmt: skip
    column_type = {pa.int64(): "long", pa.float64(): "double"}
    columns = []
    for f in schema:
        column = F.col(source.get(f.name, f.name))
        if not f.nullable:  # coalesce with a literal: a non-nullable column for Spark
            column = F.coalesce(column, defaults_by_type[f.type])
        else:  # nullif with a value it never has (scores, ranks >= 0): a nullable one
            column = F.nullif(column, F.lit(-1).cast(column_type[f.type]))
        columns.append(column.alias(f.name))
    spark = df.sparkSession
    hadoop = spark.sparkContext._jsc.hadoopConfiguration()
    marker = "mapreduce.fileoutputcommitter.marksuccessfuljobs"
    before = hadoop.get(marker)
    hadoop.set(marker, "false")
    try:
        df.select(*columns).write.option("compression", "zstd").parquet(str(path))
    finally:
        if before is None:
            hadoop.unset(marker)
        else:
            hadoop.set(marker, before)
    for crc in path.glob(".*.crc"):  # the local filesystem's checksums
        crc.unlink()


def _site_table(  # noqa: PLR0917
    spark: SparkSession,
    level: str,
    pages: DataFrame,
    pairs: DataFrame,
    hosts_df: DataFrame,
    seed_pages: DataFrame | None,
    config: job.AuthorityConfig,
) -> tuple[pa.Table, str, dict[str, Any], dict[str, Any] | None, dict[str, Any]]:
    """The hosts or domains table: the site graph (one vote per referring site) and its
    counts built on Spark; the graph (one edge per pair of sites) and the counts (one
    row per site) collected to the driver, where the rankings, the harmonic centrality,
    the ranks and the score are the local engine's functions."""
    from pyspark.sql import functions as F

    key, site_pairs, counts = _site_pairs(level, pairs)
    # Sites numbered as the local engine numbers them, hosts by (domain, host) and domains
    # by name, so that its rankings and harmonic centrality run on the same arrays in the
    # same order and give the same bits; ties are ranked, and harmonic sources drawn, in
    # name order (``code``: each site's place by name).
    names_df = hosts_df if level == "hosts" else hosts_df.select("domain").distinct()
    names_table = names_df.toArrow()
    names = sorted(names_table.column(key).to_pylist())
    domain_of: dict[str, str] = {}
    dense = names
    if level == "hosts":
        domain_of = dict(zip(names_table.column("host").to_pylist(),
                             names_table.column("domain").to_pylist(), strict=True))  # fmt: skip
        dense = sorted(names, key=lambda h: (domain_of[h], h))
    n_sites = len(dense)
    index_of = {name: i for i, name in enumerate(dense)}
    by_name = {name: i for i, name in enumerate(names)}
    code = np.array([by_name[name] for name in dense], dtype=np.int64)
    index_df = spark.createDataFrame(
        pa.table({key: pa.array(dense, pa.string()), "i": pa.array(range(n_sites), pa.int64())})
    )
    edges = (
        site_pairs.where(F.col("best") > 0).select("source", "target").distinct()
        .join(F.broadcast(index_df.select(F.col(key).alias("source"), F.col("i").alias("src"))),
              "source")
        .join(F.broadcast(index_df.select(F.col(key).alias("target"), F.col("i").alias("dst"))),
              "target")
        .select("src", "dst", F.lit(1.0).alias("w"))
    ).persist()  # fmt: skip
    # The site graph is aggregated (one edge per pair of sites) and its harmonic
    # centrality needs all of it on the driver: it is ranked there too, by the local
    # engine's code (rank.pagerank), so that the site tables are the local engine's.
    edge_table = edges.toArrow()
    edges.unpersist()
    e_src = np.asarray(edge_table.column("src").to_numpy(), dtype=np.int64)
    e_dst = np.asarray(edge_table.column("dst").to_numpy(), dtype=np.int64)
    del edge_table
    by_target = np.lexsort((e_src, e_dst))  # the local engine's edge order
    e_src, e_dst = e_src[by_target], e_dst[by_target]
    tol = job._per_node(config.tol, n_sites)
    pr = rank.pagerank(e_src, e_dst, n_sites, damping=config.damping, tol=tol,
                       max_iter=config.max_iter, distinct=True)  # fmt: skip
    scores = pr.scores
    trust_scores = None
    trust_summary = None
    if seed_pages is not None:
        seed_sites = (
            seed_pages.join(pages.select("id", key), "id")
            .join(F.broadcast(index_df), key)
            .select("i")
            .distinct()
            .toArrow()
        )
        personal = np.zeros(n_sites)
        personal[np.asarray(seed_sites.column("i").to_numpy(), dtype=np.int64)] = 1.0
        tr = rank.pagerank(e_src, e_dst, n_sites, damping=config.damping, tol=tol,
                           personalization=personal, max_iter=config.max_iter,
                           distinct=True)  # fmt: skip
        trust_summary = job._ranking(tr)
        trust_scores = tr.scores
    count_table = counts.toArrow()
    per_site = {c: np.zeros(n_sites, dtype=np.int64) for c in _SITE_COUNTS}
    at = np.array([index_of[t] for t in count_table.column("target").to_pylist()], dtype=np.int64)
    for c in _SITE_COUNTS:
        per_site[c][at] = np.asarray(count_table.column(c).to_numpy(), dtype=np.int64)
    page_table = pages.groupBy(key).count().toArrow()
    pages_per_site = np.zeros(n_sites, dtype=np.int64)
    at = np.array([index_of[t] for t in page_table.column(key).to_pylist()], dtype=np.int64)
    pages_per_site[at] = np.asarray(page_table.column("count").to_numpy(), dtype=np.int64)

    sources, h_info = job._harmonic_sources(e_src.size, n_sites, config)
    if sources is not None:  # drawn as positions in name order
        sources = np.argsort(code, kind="stable")[sources]
    harmonic = rank.harmonic_centrality(e_src, e_dst, n_sites, sources=sources)
    ids = code
    order_rank = rank.ranks(scores, ids)
    order = job._rank_order(order_rank)
    columns: dict[str, Any] = {}
    site_names = pa.array(dense, pa.string()).take(pa.array(order))
    columns[key] = site_names
    if level == "hosts":
        columns["domain"] = pa.array([domain_of[h] for h in site_names.to_pylist()], pa.string())
    columns.update(
        pagerank=scores[order],
        harmonic=harmonic[order],
        score=rank.log_score(scores)[order],
        rank=order_rank[order],
        **{c: v[order] for c, v in per_site.items()},
        pages=pages_per_site[order],
        trustrank=job._nullable(trust_scores, order, pa.float64(), n_sites),
        trust_rank=job._nullable(
            None if trust_scores is None else rank.ranks(trust_scores, ids),
            order,
            pa.int64(),
            n_sites,
        ),
    )
    schema = AUTHORITY_SCHEMAS[level]
    table = pa.Table.from_arrays([job._column(columns[f.name], f.type) for f in schema],
                                 schema=schema)  # fmt: skip
    note = f"pagerank {pr.iterations} it; harmonic " + (
        "exact" if h_info["exact"] else f"sampled from {h_info['sources']:,} sources"
    )
    return table, note, job._ranking(pr), trust_summary, h_info


_SITE_COUNTS = ("referring_hosts", "referring_domains", "backlinks_total", "backlinks_dofollow")


def _site_pairs(level: str, pairs: DataFrame) -> tuple[str, DataFrame, DataFrame]:
    """The level's key column, its site pairs (page pairs between two sites: ``target``,
    ``source``, the pair's class and row counts) and its count columns per target site."""
    from pyspark.sql import functions as F

    key = "host" if level == "hosts" else "domain"
    external = pairs.where(F.col("sh") != F.col("dh"))
    if level == "hosts":
        target, source = F.col("dh"), F.col("sh")
    else:
        external = external.where(F.col("sd") != F.col("dd"))
        target, source = F.col("dd"), F.col("sd")
    site_pairs = external.select(
        target.alias("target"), source.alias("source"), F.col("sh"), F.col("sd"),
        F.col("dd"), "best", "rows", "passing",
    )  # fmt: skip
    counts = site_pairs.groupBy("target").agg(
        F.countDistinct("sh").alias("referring_hosts"),
        F.countDistinct(F.when(F.col("sd") != F.col("dd"), F.col("sd"))).alias("referring_domains"),
        F.sum("rows").alias("backlinks_total"),
        F.sum("passing").alias("backlinks_dofollow"),
    )
    return key, site_pairs, counts


def _site_frames(  # noqa: PLR0917
    level: str,
    pages: DataFrame,
    pairs: DataFrame,
    hosts_df: DataFrame,
    seed_pages: DataFrame | None,
    config: job.AuthorityConfig,
    options: SparkOptions,
    partitions: int,
    path: Path,
) -> tuple[int, str, dict[str, Any], dict[str, Any] | None, dict[str, Any]]:
    """The hosts or domains table of a site graph too big for the driver, all on
    DataFrames, written to ``path`` (a directory of part files in rank order, like
    ``pages.parquet``). The same table as :func:`_site_table`'s: sites numbered in name
    order (ties are ranked, and harmonic sources drawn, in name order), the DataFrame
    :func:`pagerank` (the local update and stopping rule), :func:`harmonic_centrality`
    from the same sources, the score and ranks as the pages table's."""
    from pyspark import StorageLevel
    from pyspark.sql import functions as F

    mem = StorageLevel.MEMORY_AND_DISK
    key, site_pairs, counts = _site_pairs(level, pairs)
    names = hosts_df if level == "hosts" else hosts_df.select("domain").distinct()
    sites = _numbered(names, [F.col(key).asc()], "id", first=0).persist(mem)
    n_sites = _count(sites)
    index = sites.select(key, "id")
    edges = (
        site_pairs.where(F.col("best") > 0).select("source", "target").distinct()
        .join(index.select(F.col(key).alias("source"), F.col("id").alias("src")), "source")
        .join(index.select(F.col(key).alias("target"), F.col("id").alias("dst")), "target")
        .select("src", "dst", F.lit(1.0).alias("w"))
    ).localCheckpoint(eager=True)  # fmt: skip
    # (checkpointed, not cached: every ranking iteration and search level plans over the
    # edges, and a plan that holds the whole rule pipeline takes longer to plan than a
    # small graph takes to iterate)
    n_edges = _count(edges)
    nodes = sites.select("id")
    # rank.pagerank stops at an L1 change below n * (tol / n); pagerank() at n * (tol / n).
    rank_args = (n_sites, config.damping, config.tol, config.max_iter, partitions,
                 options.checkpoint_interval)  # fmt: skip
    pr = pagerank(nodes, edges, *rank_args)
    table = sites.join(pr.scores.select("id", F.col("score").alias("pagerank")), "id")
    trust = None
    if seed_pages is not None:
        seed_sites = (
            seed_pages.join(pages.select("id", key), "id")
            .select(key).distinct().join(index, key).select("id")
        )  # fmt: skip
        tr = pagerank(nodes, edges, *rank_args, personalization=seed_sites)
        trust = tr.summary()
        table = table.join(tr.scores.select("id", F.col("score").alias("trustrank")), "id")
    sources, h_info = job._harmonic_sources(n_edges, n_sites, config)
    harmonic = harmonic_centrality(nodes, edges, n_sites, sources, partitions,
                                   words=options.harmonic_words)  # fmt: skip
    per_page = pages.groupBy(key).agg(F.count("*").alias("pages"))
    table = (
        table.join(harmonic, "id")
        .join(counts.withColumnRenamed("target", key), key, "left")
        .join(per_page, key, "left")
    )
    if trust is not None:
        table = _with_rank(table, "trustrank", "trust_rank")
    else:
        table = table.select("*", F.lit(None).cast("double").alias("trustrank"),
                             F.lit(None).cast("long").alias("trust_rank"))  # fmt: skip
    table = _with_score(table, "pagerank", "score")
    table = _with_rank(table, "pagerank", "rank")
    _write_parts(table, path, level, {})
    sites.unpersist()
    note = f"on DataFrames; pagerank {pr.iterations} it; harmonic " + (
        "exact" if h_info["exact"] else f"sampled from {h_info['sources']:,} sources"
    )
    return n_sites, note, pr.summary(), trust, h_info
