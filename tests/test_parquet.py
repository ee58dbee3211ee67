"""The Parquet writer and item->row conversion, read back with pyarrow, DuckDB and Polars."""

from __future__ import annotations

import errno
import logging
import os
from datetime import UTC, datetime
from pathlib import Path

import duckdb
import polars as pl
import pyarrow as pa
import pyarrow.dataset as ds
import pyarrow.parquet as pq
import pytest

from linkcrawl.items import PageItem
from linkcrawl.links import extract, redirect_link
from linkcrawl.schema import EDGES_SCHEMA, PAGES_SCHEMA, SCHEMA_VERSION, SCHEMAS, dataset_schema
from linkcrawl.urls import node_id
from pipelines.parquet import ParquetPartWriter, ParquetPipeline
from pipelines.rows import edge_rows, page_row
from tests.conftest import WebServer, run_crawl

T0 = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)
HTML = b"""<html><head><title> Hello </title><meta name=robots content=nofollow></head>
<body><a href="/a" rel="ugc nofollow">A  text</a><a href="http://other.test/b"><img alt="B"></a>
<a href="mailto:x@y.test">m</a><a href="#top">top</a></body></html>"""


def html_item(url: str = "http://site.test/p") -> PageItem:
    facts = extract(HTML, url, {"content-type": ["text/html"]})
    return PageItem(
        url=url,
        fetch_time=T0,
        depth=2,
        status=200,
        content_type="text/html",
        size=len(HTML),
        facts=facts,
    )


def test_rows_have_exactly_the_schema_columns() -> None:
    item = html_item()
    edges = edge_rows(item)
    assert [set(r) for r in edges] == [set(EDGES_SCHEMA.names)] * 2
    assert set(page_row(item, "w1")) == set(PAGES_SCHEMA.names)
    # and they convert under the schema without casts failing
    pa.Table.from_pylist(edges, schema=EDGES_SCHEMA)
    pa.Table.from_pylist([page_row(item, "w1")], schema=PAGES_SCHEMA)


def test_edge_rows_carry_link_and_page_facts() -> None:
    rows = edge_rows(html_item())
    first, second = rows
    assert first["target_url"] == "http://site.test/a"
    assert first["target_id"] == node_id("http://site.test/a")
    assert first["source_id"] == node_id("http://site.test/p")
    assert (first["nofollow"], first["ugc"], first["sponsored"]) == (True, True, False)
    assert first["rel"] == ["ugc", "nofollow"]
    assert first["anchor_text"] == "A text"
    assert first["internal"] is True and second["internal"] is False
    assert all(r["page_nofollow"] for r in rows)
    assert second["image"] is True and second["anchor_text"] == "B"
    assert second["target_domain"] == "other.test"
    assert [r["position"] for r in rows] == [0, 1]


def test_page_row_counts_skipped_links_and_redirects() -> None:
    row = page_row(html_item(), "w1")
    assert (row["non_http_links"], row["fragment_links"], row["outlinks"]) == (1, 1, 2)
    assert row["title"] == "Hello" and row["nofollow"] is True
    redirect = PageItem(
        url="http://site.test/old",
        fetch_time=T0,
        depth=1,
        status=301,
        redirect=redirect_link("http://site.test/old", "/new", 301),
    )
    (edge,) = edge_rows(redirect)
    assert (edge["link_type"], edge["http_status"], edge["position"]) == ("redirect", 301, None)
    assert page_row(redirect, "w1")["redirect_target"] == "http://site.test/new"
    failed = PageItem(url="http://site.test/big", fetch_time=T0, depth=1, fetch_error="oversize")
    assert edge_rows(failed) == []
    assert page_row(failed, "w1")["status"] is None


class FakeClock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def writer(tmp_path: Path, **kw: object) -> ParquetPartWriter:
    opts: dict = {"worker_id": "w1", "rows_per_file": 10, "batch_rows": 4, "rotate_seconds": 60.0}
    opts.update(kw)
    return ParquetPartWriter(tmp_path / "pages" / "crawl_id=c1", PAGES_SCHEMA, **opts)


def rows(n: int, start: int = 0) -> list[dict]:
    out = []
    for i in range(start, start + n):
        item = PageItem(url=f"http://site.test/{i}", fetch_time=T0, depth=0, status=200)
        out.append(page_row(item, "w1"))
    return out


def test_writer_rotates_by_rows_and_never_exposes_partial_files(tmp_path: Path) -> None:
    w = writer(tmp_path)
    w.append(rows(7))
    part_dir = tmp_path / "pages" / "crawl_id=c1"
    # rows are in a hidden temporary file until commit: readers see nothing yet
    assert list(part_dir.glob("*.parquet")) == []
    assert [p.name for p in part_dir.iterdir()] == [".part-w1-000000.parquet.tmp"]
    # crosses 10 rows: the file is committed whole (one page's rows never span two files)
    w.append(rows(7, start=7))
    assert [p.name for p in part_dir.glob("*.parquet")] == ["part-w1-000000.parquet"]
    assert pq.ParquetFile(part_dir / "part-w1-000000.parquet").metadata.num_rows == 14
    w.append(rows(2, start=14))
    w.close()
    names = sorted(p.name for p in part_dir.iterdir())
    assert names == ["part-w1-000000.parquet", "part-w1-000001.parquet"]
    table = ds.dataset(part_dir, format="parquet").to_table()
    assert table.num_rows == 16 and w.rows_committed == 16
    assert sorted(table["url"].to_pylist()) == sorted(f"http://site.test/{i}" for i in range(16))


def test_writer_rotates_by_time(tmp_path: Path) -> None:
    clock = FakeClock()
    w = writer(tmp_path, rows_per_file=1000, rotate_seconds=60.0, clock=clock)
    w.append(rows(3))
    clock.now = 59.0
    w.tick()
    assert w.files_committed == []
    clock.now = 60.0
    w.tick()
    assert len(w.files_committed) == 1 and w.pending_rows == 0
    w.tick()  # nothing pending: no empty file
    w.close()
    assert len(w.files_committed) == 1


def test_files_are_zstd_dictionary_and_versioned(tmp_path: Path) -> None:
    w = writer(tmp_path)
    w.append(rows(5))
    (path,) = [w.commit()]
    assert path is not None
    meta = pq.ParquetFile(path).metadata
    col = meta.row_group(0).column(meta.schema.names.index("host"))
    assert col.compression == "ZSTD"
    assert "RLE_DICTIONARY" in col.encodings or "PLAIN_DICTIONARY" in col.encodings
    schema = pq.read_schema(path)
    assert schema.metadata[b"linkcrawl.schema_version"] == SCHEMA_VERSION.encode()
    assert schema.remove_metadata().equals(PAGES_SCHEMA.remove_metadata())


def write_pipeline_output(tmp_path: Path) -> Path:
    out = tmp_path / "out"
    pipe = ParquetPipeline(
        out,
        crawl_id="c1",
        worker_id="w1",
        rows_per_file=100,
        batch_rows=10,
        rotate_seconds=60,
        compression="zstd",
        compression_level=3,
    )
    pipe.process_item(html_item("http://site.test/p"))
    pipe.process_item(html_item("http://site.test/q"))
    pipe.close_spider()
    return out


def test_hive_dataset_reads_in_duckdb_polars_and_pyarrow(tmp_path: Path) -> None:
    out = write_pipeline_output(tmp_path)
    con = duckdb.connect()
    got = con.execute(
        "SELECT crawl_id, source_url, target_url, rel FROM read_parquet(?, hive_partitioning=true)"
        " ORDER BY source_url, position",
        [str(out / "edges" / "*" / "*.parquet")],
    ).fetchall()
    assert got[0] == ("c1", "http://site.test/p", "http://site.test/a", ["ugc", "nofollow"])
    assert len(got) == 4
    frame = pl.scan_parquet(out / "pages" / "**" / "*.parquet", hive_partitioning=True).collect()
    assert frame.height == 2 and frame["crawl_id"].to_list() == ["c1", "c1"]
    assert frame["node_id"].dtype == pl.Int64
    table = ds.dataset(out / "edges", format="parquet", partitioning="hive").to_table()
    assert table.num_rows == 4
    assert table.schema.field("crawl_id").type in (
        pa.string(),
        pa.large_string(),
        pa.dictionary(pa.int32(), pa.string()),
    )
    assert set(dataset_schema("edges").names) == set(table.schema.names)


@pytest.mark.parametrize("table", sorted(SCHEMAS))
def test_schemas_are_versioned(table: str) -> None:
    meta = SCHEMAS[table].metadata
    assert meta[b"linkcrawl.table"] == table.encode()
    assert meta[b"linkcrawl.schema_version"] == SCHEMA_VERSION.encode()


# --- a full disk (real ENOSPC: the open file is a symlink to /dev/full) ------------------------


def full_disk_at(path: Path) -> None:
    """The next file opened at ``path`` is /dev/full: every write to it fails with ENOSPC
    once it reaches the kernel (the writer opens the hidden name, following the link)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.symlink_to("/dev/full")


@pytest.mark.parametrize("where", ["commit", "write"])
def test_a_full_disk_publishes_nothing_and_the_writer_writes_on(tmp_path: Path, where: str) -> None:
    w = writer(tmp_path, batch_rows=4)
    part_dir = tmp_path / "pages" / "crawl_id=c1"
    full_disk_at(part_dir / ".part-w1-000000.parquet.tmp")
    batch = rows(5)
    if where == "write":  # a row group bigger than Python's file buffer fails in append
        for r in batch:
            r["title"] = os.urandom(10_000).hex()  # incompressible
    with pytest.raises(OSError) as failed:
        w.append(batch)  # 5 rows >= batch_rows: a row group is written
        assert where == "commit", "a 100 kB row group reaches the disk in append"
        w.commit()  # the buffered tail and the footer reach the disk here
    assert failed.value.errno == errno.ENOSPC
    # the open file (which may end in a partial row group) is deleted, never published
    assert list(part_dir.iterdir()) == []
    assert w.rows_discarded == 5 and w.pending_rows == 0 and w.files_committed == []
    # the disk has room again: the next rows make a whole file under the same name
    w.append(rows(3, start=5))
    committed = w.commit()
    assert committed == part_dir / "part-w1-000000.parquet"
    table = pq.read_table(committed)
    assert table.column("url").to_pylist() == [f"http://site.test/{i}" for i in (5, 6, 7)]
    assert w.rows_committed == 3 and w.rows_discarded == 5


def test_a_full_disk_drops_the_leases_of_the_rows_it_lost(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    from scrapy.utils.test import get_crawler

    caplog.set_level(logging.INFO, logger="pipelines.parquet")

    from linkcrawl import defaults
    from linkcrawl.signals import rows_committed, rows_lost

    settings = {name: getattr(defaults, name) for name in dir(defaults) if name.isupper()}
    settings.update(LINKCRAWL_OUTPUT=str(tmp_path), LINKCRAWL_CRAWL_ID="c1",
                    LINKCRAWL_WORKER_ID="w1")  # fmt: skip
    crawler = get_crawler(settings_dict=settings)
    pipe = ParquetPipeline.from_crawler(crawler)
    acked: list[str] = []
    given_back: list[str] = []

    def on_committed(lease_ids: list[str]) -> None:
        acked.extend(lease_ids)

    def on_lost(lease_ids: list[str]) -> None:
        given_back.extend(lease_ids)

    crawler.signals.connect(on_committed, rows_committed, weak=False)
    crawler.signals.connect(on_lost, rows_lost, weak=False)
    edges_dir = tmp_path / "edges" / "crawl_id=c1"

    def crawl(lease: str, page: str) -> None:
        item = html_item(f"http://site.test/{page}")
        item.lease_id = lease
        pipe.process_item(item)

    crawl("L1", "a")
    pipe.commit_now()
    assert acked == ["L1"]
    full_disk_at(edges_dir / ".part-w1-000001.parquet.tmp")
    crawl("L2", "b")
    crawl("L3", "c")
    pipe.commit_now()  # the edges file of b and c hits the full disk
    assert acked == ["L1"], "rows not stored: their leases are never acknowledged"
    assert given_back == ["L2", "L3"], "given back to the frontier, to be fetched again"
    errors = [r.getMessage() for r in caplog.records if r.levelname == "ERROR"]
    assert len(errors) == 1 and "No space left on device" in errors[0], errors
    assert "4 rows of its open file deleted; 2 leases given back" in errors[0]
    assert crawler.stats.get_value("parquet/rows_lost/edges") == 4
    assert crawler.stats.get_value("parquet/write_errors/edges") == 1
    assert not any(p.name.startswith(".") for p in edges_dir.iterdir())
    crawl("L4", "d")  # room again: the crawl went on
    pipe.commit_now()
    assert acked == ["L1", "L4"]
    assert any("works again" in r.getMessage() for r in caplog.records)
    pipe.close_spider()
    edges = pq.read_table(edges_dir)  # every committed file is whole
    assert sorted(set(edges.column("source_url").to_pylist())) == [
        "http://site.test/a", "http://site.test/d"
    ]  # fmt: skip


@pytest.mark.integration
def test_a_disk_that_stays_unwritable_closes_the_worker(testweb: WebServer, tmp_path: Path) -> None:
    """A real crawl whose edges partition cannot be created (a file sits where its
    directory goes, so every write fails): one error line for the outage, the pages table
    still written whole, and after PARQUET_WRITE_OUTAGE_CLOSE_SECONDS the worker closes
    itself instead of crawling on without storing anything."""
    out = tmp_path / "out"
    (out / "edges").mkdir(parents=True)
    (out / "edges" / "crawl_id=it").write_text("not a directory\n")
    seeds = tmp_path / "seeds.txt"
    seeds.write_text("\n".join(testweb.web.seeds()) + "\n")
    result = run_crawl(
        out,
        proxy=testweb.address,
        spider_args={"seeds_file": str(seeds)},
        settings={
            "PARQUET_ROTATE_SECONDS": "0.5",  # a commit (and a failure) every 0.5 s
            "PARQUET_WRITE_OUTAGE_CLOSE_SECONDS": "2",
            "CONCURRENT_REQUESTS": "4",  # the test web lasts longer than the outage
            "CONCURRENT_REQUESTS_PER_DOMAIN": "2",
        },
        timeout=120,
    )
    log = result.stdout + result.stderr
    assert result.returncode == 0, log[-3000:]
    assert "Traceback" not in log, log[-3000:]
    assert "'finish_reason': 'parquet_write_failed'" in log, log[-3000:]
    assert log.count("Writing edges in") == 1, "one line per outage, not one per failure"
    assert "PARQUET_WRITE_OUTAGE_CLOSE_SECONDS" in log
    assert (out / "edges" / "crawl_id=it").read_text() == "not a directory\n"
    pages = ds.dataset(out / "pages", format="parquet", partitioning="hive").to_table()
    assert pages.num_rows > 0  # the other table goes on, its files whole
    assert "'parquet/write_errors/edges'" in log and "'parquet/rows_lost/edges'" in log
