"""The benchmarks' own inputs: the synthetic crawl generator must keep writing what the
crawl writes (a schema change once broke it unnoticed: only benchmark runs used it)."""

from __future__ import annotations

import sys
from pathlib import Path

import pyarrow.dataset as ds
import pyarrow.parquet as pq

from linkcrawl.authority.job import AuthorityConfig, run
from linkcrawl.schema import EDGES_SCHEMA, PAGES_SCHEMA
from tests.conftest import ROOT

sys.path.insert(0, str(ROOT / "benchmarks"))
from synthetic_edges import write_synthetic_edges


def test_synthetic_crawl_is_in_the_current_schemas_and_the_job_reads_it(tmp_path: Path) -> None:
    counts = write_synthetic_edges(tmp_path, nodes=600, edges=5_000, seed=3, workers=2,
                                   rows_per_file=1_500)  # fmt: skip
    for table, schema in (("edges", EDGES_SCHEMA), ("pages", PAGES_SCHEMA)):
        files = sorted((tmp_path / table).rglob("*.parquet"))
        assert len(files) >= 2, table
        for f in files:
            assert pq.read_schema(f).remove_metadata() == schema.remove_metadata(), f
    rows = ds.dataset(tmp_path / "edges", format="parquet", partitioning="hive").count_rows()
    assert rows == counts["edges"]
    summary = run(AuthorityConfig(input=tmp_path, output=tmp_path / "authority"))
    assert summary["counts"]["rows_read"] == counts["edges"]
    assert summary["counts"]["node_ids"] == counts["nodes_in_edges"]
    assert summary["rankings"]["pages.pagerank"]["converged"]
