"""The authority job's Spark engine (``linkcrawl authority --engine spark``) against the
local engine: the same tables (every score within 1e-6, the same rank orders, equal
counts) on the graph-rule edge cases, a crawl of the test web and a 1M-edge synthetic
crawl; the output layout and schemas; the CLI's errors and the missing-pyspark message.

One SparkSession (``local[2]``) serves the module; every test is marked ``spark``
(``pytest -m 'not spark'`` skips them)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

import duckdb
import polars as pl
import pyarrow.parquet as pq
import pytest

from linkcrawl.authority import job
from linkcrawl.authority.job import AuthorityConfig, AuthorityError
from linkcrawl.authority.spark import STATUS_RETENTION
from linkcrawl.cli import main
from linkcrawl.schema import AUTHORITY_SCHEMAS
from tests.conftest import ROOT, Crawl, WebServer
from tests.test_authority import (
    R1,
    R2,
    A,
    B,
    C,
    D,
    E,
    F,
    X,
    Y,
    edge,
    policy_rows,
    random_rows,
    site_rows,
    write_edges,
    write_pages,
)

if TYPE_CHECKING:
    from collections.abc import Iterator

    from pyspark.sql import SparkSession

pytestmark = pytest.mark.spark

sys.path.insert(0, str(ROOT / "benchmarks"))
from synthetic_edges import write_synthetic_edges  # noqa: E402

SCORE_TOL = 1e-6  # the brief's bound; the engines agree to ~1e-16 (same iterations)


@pytest.fixture(scope="module")
def spark(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SparkSession]:
    pyspark_sql = pytest.importorskip("pyspark.sql")
    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    warehouse = tmp_path_factory.mktemp("spark")
    session = (
        pyspark_sql.SparkSession.builder.master("local[2]")
        .appName("linkcrawl-tests")
        .config("spark.ui.enabled", "false")
        .config("spark.ui.showConsoleProgress", "false")
        .config("spark.driver.host", "127.0.0.1")
        .config("spark.driver.bindAddress", "127.0.0.1")
        .config("spark.sql.shuffle.partitions", "2")
        .config("spark.default.parallelism", "2")
        .config("spark.sql.warehouse.dir", str(warehouse / "warehouse"))
        .config("spark.local.dir", str(warehouse / "local"))
        .config(map=STATUS_RETENTION)  # the job's own sessions' (a 1g heap fills without)
        .getOrCreate()
    )
    session.sparkContext.setLogLevel("ERROR")
    yield session
    session.stop()


def run_both(
    spark: SparkSession, root: Path, out: Path, spark_options: Any = None, **options: Any
) -> tuple[dict[str, Any], dict[str, Any]]:
    """Both engines on ``root`` into ``out/local`` and ``out/spark``; their summaries."""
    from linkcrawl.authority import spark as engine

    local = job.run(AuthorityConfig(input=root, output=out / "local", **options))
    remote = engine.run(AuthorityConfig(input=root, output=out / "spark", **options),
                        spark=spark, options=spark_options)  # fmt: skip
    return local, remote


def read(directory: Path, name: str) -> list[dict[str, Any]]:
    """A table in rank order (a file, or the Spark engine's directory of part files)."""
    return pq.read_table(directory / f"{name}.parquet").to_pylist()


def assert_same_tables(out: Path, top: int | None = None) -> dict[str, float]:
    """The Spark engine's tables equal the local engine's: rows in the same (rank) order,
    every float within SCORE_TOL, everything else equal. Returns the max abs difference
    of the float columns per table. ``top``: compare only the first rows (and all scores
    by key)."""
    diffs = {}
    for name in ("pages", "hosts", "domains"):
        path = out / "spark" / f"{name}.parquet"
        schema = pq.read_schema(next(path.glob("*.parquet")) if path.is_dir() else path)
        assert schema.remove_metadata() == AUTHORITY_SCHEMAS[name].remove_metadata(), name
        want, got = read(out / "local", name), read(out / "spark", name)
        assert len(got) == len(want) > 0, name
        key = "url" if name == "pages" else name[:-1] if name == "hosts" else "domain"
        by_key = {r[key]: r for r in got}
        assert by_key.keys() == {r[key] for r in want}, name
        worst = 0.0
        for w in want:
            g = by_key[w[key]]
            for column, value in w.items():
                if isinstance(value, float) and column != "score":
                    worst = max(worst, abs(g[column] - value))
                    assert g[column] == pytest.approx(value, abs=SCORE_TOL), (name, column, w)
                elif column == "score":  # 0-100, rounded to 0.01: a last-bit difference of
                    # the PageRank may round the other way
                    assert g[column] == pytest.approx(value, abs=0.0100001), (name, column, w)
                elif column not in ("rank", "trust_rank"):
                    assert g[column] == value, (name, column, w)
        limit = len(want) if top is None else top
        assert [r[key] for r in got[:limit]] == [r[key] for r in want[:limit]], name
        assert [r["rank"] for r in got] == list(range(1, len(got) + 1)), name
        if top is None:
            for column in ("rank", "trust_rank"):
                assert {r[key]: r[column] for r in got} == {r[key]: r[column] for r in want}
        diffs[name] = worst
    return diffs


def assert_same_summaries(local: dict[str, Any], remote: dict[str, Any]) -> None:
    assert remote["engine"] == "spark"
    assert remote["counts"] == local["counts"]
    assert list(remote["counts"]["dropped"]) == list(local["counts"]["dropped"])
    assert remote["harmonic"] == local["harmonic"]
    assert remote["rankings"].keys() == local["rankings"].keys()
    for name, ranking in local["rankings"].items():
        assert remote["rankings"][name]["converged"] == ranking["converged"], name
        assert abs(remote["rankings"][name]["iterations"] - ranking["iterations"]) <= 1, name
    summary = json.loads((Path(remote["output"]) / "_summary.json").read_text())
    assert summary["engine"] == "spark" and summary["counts"] == remote["counts"]


# --- (c) the rule edge cases, all in one dataset --------------------------------------------


def rule_rows() -> list[dict[str, Any]]:
    """Every rule of docs/authority.md at least once (the local tests' cases)."""
    p, q, tail = "http://cy.test/p", "http://cy.test/q", "http://cy.test/tail"
    s1, s2, s3, self_canonical = (f"http://f.test/s{i}" for i in range(4))
    c1, c2 = "http://f.test/c1", "http://f.test/c2"
    sitemap = "http://a.test/sitemap.xml"
    return [
        # rule 1: A's older fetch (t=0) is stale; E's re-fetch answered 404 (pages table)
        edge(A, B, t=0), edge(A, C, t=0), edge(A, D, t=60), edge(D, A, t=60),
        edge(E, A, t=0), edge(E, B, t=0),
        # rule 2: a redirect chain, a cycle, fold priority, a self-canonical
        edge(X, R1), edge(R1, R2, kind="redirect"), edge(R2, F, kind="redirect"),
        edge(F, X), edge(Y, R2), edge(R1, Y),
        edge(p, q, kind="canonical"), edge(q, p, kind="redirect"),
        edge(tail, p, kind="refresh"), edge(X, tail), edge(p, Y), edge(q, X),
        edge(s1, c1, kind="canonical"), edge(s1, Y, kind="refresh"), edge(s1, X, kind="redirect"),
        edge(s2, c1, kind="canonical"), edge(s2, Y, kind="refresh"),
        edge(s3, c2, kind="canonical"), edge(s3, c1, kind="canonical"),
        edge(self_canonical, self_canonical, kind="canonical"), edge(self_canonical, X),
        # rule 3: self links, duplicates, page nofollow; unknown types; sitemap rows
        edge(B, B), edge(B, C), edge(B, C), edge(B, C, rel=("nofollow",)),
        edge(C, D, page_nofollow=True), edge(C, A, page_nofollow=True),
        edge(B, E, kind="ping"),
        edge(sitemap, A, kind="sitemap"), edge(sitemap, "http://a.test/only-in-sitemap",
                                                kind="sitemap"),
        # rule 4 and the site graphs
        *policy_rows(), *site_rows(),
    ]  # fmt: skip


def test_rule_edge_cases_match_the_local_engine(spark: SparkSession, tmp_path: Path) -> None:
    from linkcrawl.authority.spark import SparkOptions

    root = tmp_path / "in"
    rows = rule_rows()
    write_edges(root, rows[:20], name="part-0")
    write_edges(root, rows[20:], name="part-1")
    write_pages(root, [(E, 0, 200), (E, 10, 404), (B, 10, None), (C, 10, 503)])
    seeds = tmp_path / "seeds.txt"
    seeds.write_text("HTTP://WWW.X.TEST/1#top\nhttp://r.test/r1\nhttp://unknown.test/\n")
    options = SparkOptions(partitions=2)
    local, remote = run_both(spark, root, tmp_path, options, rel_policy="0.5",
                             internal_policy="0.3", trust_seeds=seeds)  # fmt: skip
    assert_same_summaries(local, remote)
    dropped = remote["counts"]["dropped"]
    every_rule = ("stale_fetch", "unknown_link_type", "sitemap", "fold_edge", "fold_noop",
                  "fold_unused", "self_link", "duplicate")  # fmt: skip
    assert min(dropped[k] for k in every_rule) > 0
    assert_same_tables(tmp_path)
    # The documented paths read the Spark engine's output.
    pages = tmp_path / "spark" / "pages.parquet"
    top = duckdb.sql(f"SELECT url FROM read_parquet('{pages}/*.parquet') ORDER BY rank LIMIT 3")
    want = [r["url"] for r in read(tmp_path / "local", "pages")[:3]]
    assert [r[0] for r in top.fetchall()] == want
    assert pl.read_parquet(pages / "*.parquet").height == remote["counts"]["nodes"]
    assert sorted(p.name for p in (tmp_path / "spark").iterdir()) == [
        "_summary.json", "domains.parquet", "hosts.parquet", "pages.parquet"
    ]  # fmt: skip


def test_everything_on_dataframes_on_a_random_dataset(spark: SparkSession, tmp_path: Path) -> None:
    """Everything on DataFrames (graphs whose vectors, host and domain graphs do not fit
    the driver): the page, host and domain PageRank and TrustRank and the harmonic
    centrality, sampled from the same seeded sources as the local engine's (a tiny work
    budget), on a random dataset of the local tests; with the other policies."""
    import numpy as np

    from linkcrawl.authority.spark import SparkOptions

    write_edges(tmp_path / "in", random_rows(np.random.default_rng(1)))
    seeds = tmp_path / "seeds.txt"
    seeds.write_text("http://two.test/1\nhttp://a.one.test/0\n")
    # ~0.5-1 s an iteration here (Spark's per-job overhead): a looser tol; both engines
    # run the same iterations, so they still agree to ~1e-16.
    options = SparkOptions(driver_vector_nodes=0, driver_site_nodes=0, partitions=2)
    local, remote = run_both(spark, tmp_path / "in", tmp_path, options,
                             rel_policy="exclude", internal_policy="exclude",
                             trust_seeds=seeds, tol=1e-3, harmonic_work=1,
                             harmonic_min_sources=2)  # fmt: skip
    assert local["harmonic"]["hosts"] == {"exact": False, "sources": 2, "nodes": 4,
                                          "edges": local["harmonic"]["hosts"]["edges"],
                                          "seed": 0}  # fmt: skip
    assert_same_summaries(local, remote)
    assert_same_tables(tmp_path)
    for level in ("hosts", "domains"):  # written by Spark, not collected
        assert (tmp_path / "spark" / f"{level}.parquet").is_dir(), level
        harmonic = [r["harmonic"] for r in read(tmp_path / "spark", level)]
        assert sum(h > 0 for h in harmonic) >= 2, (level, harmonic)


def test_dataframe_harmonic_centrality_matches_rank_py(spark: SparkSession) -> None:
    """:func:`spark.harmonic_centrality` against :func:`rank.harmonic_centrality` on a
    random directed graph (parallel edges, self-loops, nodes without out-links), exact:
    every node a source, in three passes of 64."""
    import numpy as np
    import pyarrow as pa

    from linkcrawl.authority import rank
    from linkcrawl.authority.spark import harmonic_centrality

    rng = np.random.default_rng(7)
    n = 150
    src = rng.integers(0, n - 10, 400)  # the last 10 nodes have no out-links
    dst = rng.integers(0, n, 400)
    want = rank.harmonic_centrality(src, dst, n)
    nodes = spark.createDataFrame(pa.table({"id": np.arange(n, dtype=np.int64)}))
    edges = spark.createDataFrame(pa.table({"src": src, "dst": dst, "w": np.ones(src.size)}))
    got = harmonic_centrality(nodes, edges, n, None, partitions=2, words=1).toArrow()
    values = np.zeros(n)
    values[got.column("id").to_numpy()] = got.column("harmonic").to_numpy()
    assert got.num_rows == n
    assert np.count_nonzero(want) > n // 2
    np.testing.assert_allclose(values, want, rtol=1e-12, atol=0)


# --- (a) a crawl of the test web -------------------------------------------------------------


@pytest.mark.integration
def test_test_web_crawl_matches_the_local_engine(
    spark: SparkSession, crawl: Crawl, testweb: WebServer, tmp_path: Path
) -> None:
    assert crawl.returncode == 0, crawl.log[-3000:]
    seeds = tmp_path / "seeds.txt"
    seeds.write_text("\n".join(testweb.web.seeds()) + "\n")
    local, remote = run_both(spark, crawl.out, tmp_path, rel_policy="0.5", trust_seeds=seeds)
    assert local["counts"]["nodes"] > 500 and local["counts"]["folded_urls"] > 0
    assert_same_summaries(local, remote)
    diffs = assert_same_tables(tmp_path)
    print(f"test web: max abs diff {diffs}")


# --- (b) a 1M-edge synthetic crawl --------------------------------------------------------------


def test_a_million_edges_match_the_local_engine(spark: SparkSession, tmp_path: Path) -> None:
    root = tmp_path / "in"
    write_synthetic_edges(root, nodes=110_000, edges=1_000_000, seed=1)
    local, remote = run_both(spark, root, tmp_path, tol=1e-10, max_iter=1_000)
    assert local["rankings"]["pages.pagerank"]["converged"]
    assert_same_summaries(local, remote)
    diffs = assert_same_tables(tmp_path, top=1000)
    print(f"1M edges: max abs diff {diffs}; spark stages {remote['stages']}")


# --- (d) errors ---------------------------------------------------------------------------------


def cli_error(argv: list[str], capsys: pytest.CaptureFixture[str]) -> str:
    assert main(argv) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("linkcrawl: error: "), err
    return err[0]


@pytest.mark.parametrize(
    ("option", "value"),
    [("--damping", "1.5"), ("--tol", "-1"), ("--max-iter", "0"), ("--rel-policy", "nofollow"),
     ("--internal-policy", "2"), ("--spark-partitions", "-1"), ("--spark-partitions", "x")],
)  # fmt: skip
def test_bad_options_are_one_line_errors(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], option: str, value: str
) -> None:
    write_edges(tmp_path, [edge(A, B)])
    line = cli_error(["authority", "--engine", "spark", "--input", str(tmp_path), option, value],
                     capsys)  # fmt: skip
    assert option in line and value in line
    assert not (tmp_path / "authority").exists()


def test_bad_inputs_and_outputs_are_one_line_errors(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    base = ["authority", "--engine", "spark"]
    assert "is not a directory" in cli_error([*base, "--input", str(tmp_path / "nope")], capsys)
    assert "no edges dataset" in cli_error([*base, "--input", str(tmp_path)], capsys)
    write_edges(tmp_path, [edge(A, B)])
    (tmp_path / "edges" / "crawl_id=c1" / "bad.parquet").write_bytes(b"not parquet")
    assert "bad.parquet" in cli_error([*base, "--input", str(tmp_path)], capsys)
    (tmp_path / "edges" / "crawl_id=c1" / "bad.parquet").unlink()
    other = tmp_path / "other"
    other.mkdir()
    (other / "keep.txt").write_text("mine")
    line = cli_error([*base, "--input", str(tmp_path), "--output", str(other)], capsys)
    assert "not an authority output" in line
    assert (other / "keep.txt").read_text() == "mine"


def test_a_missing_pyspark_is_one_line(tmp_path: Path) -> None:
    write_edges(tmp_path, site_rows())
    code = (
        "import sys\n"
        "class Block:\n"
        "    def find_spec(self, name, path=None, target=None):\n"
        "        if name == 'pyspark' or name.startswith('pyspark.'):\n"
        "            raise ImportError('blocked: ' + name)\n"
        "sys.meta_path.insert(0, Block())\n"
        "from linkcrawl.cli import main\n"
        f"assert main(['authority', '--input', {str(tmp_path)!r}]) == 0\n"  # local: fine
        "assert 'pyspark' not in sys.modules\n"
        "assert 'scrapy' not in sys.modules\n"
        f"sys.exit(main(['authority', '--engine', 'spark', '--input', {str(tmp_path)!r},"
        f" '--output', {str(tmp_path / 's')!r}]))\n"
    )
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            env=env, cwd=tmp_path, check=False, timeout=120)  # fmt: skip
    assert result.returncode == 2, result.stderr
    lines = [ln for ln in result.stderr.splitlines() if ln.startswith("linkcrawl: error")]
    assert lines == ["linkcrawl: error: the Spark engine needs pyspark: "
                     "pip install 'linkcrawl[spark]'"]  # fmt: skip
    assert not (tmp_path / "s").exists()


def test_the_engine_refuses_a_remote_output(tmp_path: Path) -> None:
    from linkcrawl.authority import spark as engine

    write_edges(tmp_path, [edge(A, B)])
    with pytest.raises(AuthorityError, match="--output"):
        engine.run(AuthorityConfig(input=tmp_path, output=Path("s3a://bucket/out")))


@pytest.mark.parametrize(
    ("master", "cores"),
    [("local", 1), ("local[2]", 2), ("local[3,2]", 3), ("spark://h:7077", 0), ("k8s://x", 0)],
)
def test_local_cores_of_a_master(master: str, cores: int) -> None:
    from linkcrawl.authority.spark import _local_cores

    assert _local_cores(master) == cores
