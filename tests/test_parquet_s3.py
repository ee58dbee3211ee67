"""The Parquet writer on an object store: an S3 API server (moto) on 127.0.0.1.

Every test runs with dummy credentials in its own environment and the AWS endpoint
pointing at the local server; instance metadata (169.254.169.254) is never probed and no
request leaves the loopback interface. DuckDB is not among the readers here: it reads S3
through its httpfs extension, which is not installed and would be downloaded.
"""

from __future__ import annotations

import gc
import os
import re
import socket
import subprocess
import sys
import time
import urllib.request
import uuid
from collections import Counter
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import polars as pl
import pyarrow as pa
import pyarrow.dataset as ds
import pyarrow.fs as pafs
import pyarrow.parquet as pq
import pytest
from scrapy.utils.test import get_crawler

from linkcrawl import defaults
from linkcrawl.files import has_credentials, put_file, redact_uri, with_query
from linkcrawl.policy import PolicyError
from linkcrawl.schema import PAGES_SCHEMA, SCHEMAS
from linkcrawl.signals import rows_committed
from pipelines.parquet import ParquetPartWriter, ParquetPipeline, open_output_location
from tests.conftest import DEPTH_LIMIT, RETRY_TIMES, WebServer, edge_key, run_crawl
from tests.test_parquet import FakeClock, html_item, rows

if TYPE_CHECKING:
    from collections.abc import Iterator
    from pathlib import Path

REGION = "us-east-1"
SECRET = "linkcrawl-dummy-secret"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def start_moto(env: dict[str, str] | None = None) -> tuple[subprocess.Popen[bytes], str]:
    """moto's S3 server in a subprocess on a free loopback port, and its endpoint (in a
    thread of this process it deadlocks when pyarrow closes a stream from a destructor,
    which one test does on purpose)."""
    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env=env,
    )
    endpoint = f"http://127.0.0.1:{port}"
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    deadline = time.monotonic() + 30
    while True:
        try:
            opener.open(endpoint + "/moto-api/", timeout=1).close()
            return proc, endpoint
        except OSError:
            if time.monotonic() > deadline or proc.poll() is not None:
                proc.kill()
                raise
            time.sleep(0.1)


@pytest.fixture(scope="module")
def s3_endpoint() -> Iterator[str]:
    proc, endpoint = start_moto()
    try:
        yield endpoint
    finally:
        proc.terminate()
        proc.wait(timeout=10)


@dataclass
class S3:
    endpoint: str
    bucket: str
    client: Any  # boto3's S3 client
    fs: pafs.S3FileSystem

    def objects(self, prefix: str = "") -> list[str]:
        listing = self.client.list_objects_v2(Bucket=self.bucket, Prefix=prefix)
        return sorted(o["Key"] for o in listing.get("Contents", []))

    def keys(self, prefix: str = "") -> list[str]:
        """Objects, without the empty ``dir/`` markers pyarrow leaves when it deletes the
        last object under a prefix (every reader skips them)."""
        return [k for k in self.objects(prefix) if not k.endswith("/")]

    def drop_bucket(self) -> None:
        for key in self.objects():
            self.client.delete_object(Bucket=self.bucket, Key=key)
        self.client.delete_bucket(Bucket=self.bucket)

    def open_uploads(self) -> list[str]:
        uploads = self.client.list_multipart_uploads(Bucket=self.bucket)
        return [u["Key"] for u in uploads.get("Uploads", [])]


@pytest.fixture
def s3(s3_endpoint: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> S3:
    """A fresh bucket, and this test's environment: dummy credentials, the local endpoint."""
    for name in ("AWS_SESSION_TOKEN", "AWS_PROFILE", "AWS_ENDPOINT_URL_S3"):
        monkeypatch.delenv(name, raising=False)
    for name in ("http_proxy", "https_proxy", "all_proxy"):
        monkeypatch.delenv(name, raising=False)
        monkeypatch.delenv(name.upper(), raising=False)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "linkcrawl-dummy-key")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", SECRET)
    monkeypatch.setenv("AWS_DEFAULT_REGION", REGION)
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    # anything that forgets the override still reaches moto, never AWS
    monkeypatch.setenv("AWS_ENDPOINT_URL", s3_endpoint)
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "no-aws-config"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "no-aws-credentials"))
    import boto3

    client = boto3.client("s3", endpoint_url=s3_endpoint, region_name=REGION)
    bucket = f"linkcrawl-{uuid.uuid4().hex[:12]}"
    client.create_bucket(Bucket=bucket)
    fs = pafs.S3FileSystem(endpoint_override=s3_endpoint, region=REGION)
    return S3(s3_endpoint, bucket, client, fs)


def pipeline(output: Path | str, **kw: Any) -> ParquetPipeline:
    opts: dict[str, Any] = {
        "crawl_id": "c1",
        "worker_id": "w1",
        "rows_per_file": 4,  # edges rotate: two items give 4 edge rows
        "batch_rows": 2,
        "rotate_seconds": 60,
        "compression": "zstd",
        "compression_level": 3,
    }
    opts.update(kw)
    return ParquetPipeline(output, **opts)


SORT_KEYS = {"edges": ["source_url", "position"], "pages": ["url"]}


def test_pipeline_writes_the_same_dataset_to_s3_as_to_disk(s3: S3, tmp_path: Path) -> None:
    local = pipeline(tmp_path / "out")
    remote = pipeline(f"{s3.bucket}/prefix", filesystem=s3.fs)
    for pipe in (local, remote):
        for i in range(5):
            pipe.process_item(html_item(f"http://site.test/p{i}"))
        pipe.close_spider()
    for table in SCHEMAS:
        local_files = sorted(p.name for p in (tmp_path / "out" / table / "crawl_id=c1").iterdir())
        keys = s3.keys(f"prefix/{table}/")
        assert keys == [f"prefix/{table}/crawl_id=c1/{name}" for name in local_files]
        want = ds.dataset(tmp_path / "out" / table, format="parquet", partitioning="hive")
        got = ds.dataset(
            f"{s3.bucket}/prefix/{table}", filesystem=s3.fs, format="parquet", partitioning="hive"
        )
        keys_ = [(k, "ascending") for k in SORT_KEYS[table]]
        assert got.to_table().sort_by(keys_).equals(want.to_table().sort_by(keys_))
        schema = pq.read_schema(f"{s3.bucket}/{keys[0]}", filesystem=s3.fs)
        assert schema.metadata == SCHEMAS[table].metadata
    assert len(s3.keys("prefix/edges/")) == 3  # 10 edge rows, 4 a file: rotation works
    frame = pl.scan_parquet(
        f"s3://{s3.bucket}/prefix/pages/**/*.parquet",
        hive_partitioning=True,
        storage_options={"aws_endpoint_url": s3.endpoint, "aws_allow_http": "true"},
    ).collect()
    assert frame.height == 5 and set(frame["crawl_id"]) == {"c1"}
    assert s3.open_uploads() == []


def test_an_open_part_file_is_not_visible_until_it_is_committed(s3: S3) -> None:
    part_dir = f"{s3.bucket}/prefix/pages/crawl_id=c1"
    w = ParquetPartWriter(
        part_dir, PAGES_SCHEMA, worker_id="w1", rows_per_file=100, batch_rows=4,
        rotate_seconds=60, filesystem=s3.fs,
    )  # fmt: skip
    w.append(rows(10))  # two row groups encoded, two rows buffered
    assert w.pending_rows == 10
    # nothing under the prefix, not even a hidden name, and no upload in progress
    assert s3.keys() == [] and s3.open_uploads() == []
    path = w.commit()
    assert path == f"{part_dir}/part-w1-000000.parquet"
    assert s3.keys() == ["prefix/pages/crawl_id=c1/part-w1-000000.parquet"]
    meta = pq.ParquetFile(path, filesystem=s3.fs).metadata
    assert (meta.num_rows, meta.num_row_groups) == (10, 3)
    table = pq.read_table(path, filesystem=s3.fs)
    assert table["url"].to_pylist() == [f"http://site.test/{i}" for i in range(10)]
    assert w.pending_rows == 0 and w.rows_committed == 10


def test_an_exception_while_writing_leaves_no_object(s3: S3) -> None:
    w = ParquetPartWriter(
        f"{s3.bucket}/prefix/pages/crawl_id=c1", PAGES_SCHEMA, worker_id="w1",
        rows_per_file=100, batch_rows=4, rotate_seconds=60, filesystem=s3.fs,
    )  # fmt: skip
    w.append(rows(6))  # one row group written into the open file
    bad = rows(4, start=6)
    bad[3]["depth"] = "deep"  # not an int16: encoding the next batch fails
    with pytest.raises((pa.ArrowInvalid, pa.ArrowTypeError)):
        w.append(bad)
    # the worker dies with the file open: its writer and buffer are dropped
    del w
    gc.collect()
    assert s3.keys() == [] and s3.open_uploads() == []


def test_pyarrow_publishes_what_a_dropped_stream_holds(s3: S3) -> None:
    """Why the writer never streams to the store before commit: pyarrow cannot abort an
    upload; leaving ``with`` on an exception (or dropping the stream) completes it with
    whatever was written. If this test fails, pyarrow has learnt to abort: see
    linkcrawl.files.put_file."""
    key = f"{s3.bucket}/prefix/half.parquet"
    with pytest.raises(RuntimeError), s3.fs.open_output_stream(key) as stream:
        stream.write(b"PAR1 and half a file")
        raise RuntimeError("the writer failed")
    assert s3.fs.get_file_info(key).size == len(b"PAR1 and half a file")


class _FailingStream:
    def __init__(self, published: dict[str, bytes], path: str) -> None:
        self.published, self.path, self.written = published, path, b""

    def write(self, data: pa.Buffer) -> None:
        self.written += data.to_pybytes()[:5]
        raise OSError("connection reset during upload")

    def close(self) -> None:  # as pyarrow does: closing completes the upload
        self.published[self.path] = self.written


class _FakeStore:
    type_name = "s3"

    def __init__(self) -> None:
        self.published: dict[str, bytes] = {}

    def open_output_stream(self, path: str) -> _FailingStream:
        return _FailingStream(self.published, path)

    def delete_file(self, path: str) -> None:
        del self.published[path]


def test_a_failed_upload_removes_what_closing_the_stream_published() -> None:
    store = _FakeStore()
    with pytest.raises(OSError, match="connection reset"):
        put_file(store, "b/p/part-w1-000000.parquet", pa.py_buffer(b"0123456789"))  # type: ignore[arg-type]
    assert store.published == {}


def test_filesystems_with_rename_get_a_hidden_name_then_a_move(tmp_path: Path) -> None:
    fs = pafs.SubTreeFileSystem(str(tmp_path), pafs.LocalFileSystem())
    fs.create_dir("t")
    put_file(fs, "t/part-w1-000000.parquet", pa.py_buffer(b"data"))
    assert [p.name for p in (tmp_path / "t").iterdir()] == ["part-w1-000000.parquet"]


def crawler_settings(s3: S3, **extra: str) -> dict[str, Any]:
    values = {name: getattr(defaults, name) for name in dir(defaults) if name.isupper()}
    values.update(
        LINKCRAWL_OUTPUT=f"s3://{s3.bucket}/prefix",
        PARQUET_S3_ENDPOINT_OVERRIDE=s3.endpoint,
        PARQUET_S3_REGION=REGION,
        LINKCRAWL_CRAWL_ID="c1",
        LINKCRAWL_WORKER_ID="w1",
    )
    values.update(extra)
    return values


def test_a_failed_commit_keeps_rows_and_leases_and_retries(
    s3: S3, caplog: pytest.LogCaptureFixture
) -> None:
    crawler = get_crawler(settings_dict=crawler_settings(s3))
    pipe = ParquetPipeline.from_crawler(crawler)
    # the start-up probe was removed (pyarrow leaves the prefix's marker)
    assert s3.objects() == ["prefix/"]
    clock = FakeClock()
    pipe.clock = clock
    acked: list[str] = []

    def on_rows_committed(lease_ids: list[str]) -> None:
        acked.extend(lease_ids)

    crawler.signals.connect(on_rows_committed, rows_committed, weak=False)
    item = html_item("http://site.test/p")
    item.lease_id = "L1"
    pipe.process_item(item)
    s3.drop_bucket()  # the store goes away mid-crawl
    pipe.commit_now()
    pipe.commit_now()  # within the backoff (5 s, the tick interval): no new attempt
    assert crawler.stats.get_value("parquet/upload_errors/pages") == 1
    clock.now = 5.0
    pipe.commit_now()
    assert crawler.stats.get_value("parquet/upload_errors/pages") == 2
    errors = [r for r in caplog.records if r.levelname == "ERROR"]
    assert len(errors) == 1, "one line per outage, not one per attempt"
    assert "2 rows in 1 files waiting" in errors[0].getMessage()
    assert acked == [], "rows not stored: their leases are held"
    assert pipe.writers["pages"].pending_rows == 1 and pipe.writers["edges"].pending_rows == 2
    s3.client.create_bucket(Bucket=s3.bucket)
    pipe.tick()  # too early: the backoff (now 10 s) has not passed
    assert s3.keys() == []
    clock.now = 15.0
    pipe.tick()
    assert acked == ["L1"]
    assert s3.keys() == [
        "prefix/edges/crawl_id=c1/part-w1-000000.parquet",
        "prefix/pages/crawl_id=c1/part-w1-000000.parquet",
    ]
    assert crawler.stats.get_value("parquet/files_committed/edges") == 1
    pipe.close_spider()
    assert pq.read_table(f"{s3.bucket}/prefix/edges", filesystem=s3.fs).num_rows == 2


def test_an_upload_failing_inside_an_item_keeps_its_lease_for_the_retry(s3: S3) -> None:
    """One row per file: the item's own append commits and uploads, and that upload fails.
    Its rows are kept for the retry (not lost), so its lease must be acknowledged once
    they are stored, not dropped."""
    crawler = get_crawler(settings_dict=crawler_settings(s3, PARQUET_ROWS_PER_FILE="1"))
    pipe = ParquetPipeline.from_crawler(crawler)
    clock = FakeClock()
    pipe.clock = clock
    acked: list[str] = []

    def on_rows_committed(lease_ids: list[str]) -> None:
        acked.extend(lease_ids)

    crawler.signals.connect(on_rows_committed, rows_committed, weak=False)
    s3.drop_bucket()
    item = html_item("http://site.test/p")
    item.lease_id = "L1"
    pipe.process_item(item)
    assert acked == [] and pipe.writers["pages"].unpublished_files == 1
    s3.client.create_bucket(Bucket=s3.bucket)
    clock.now = 60.0
    pipe.tick()
    assert acked == ["L1"]
    pipe.close_spider()


def test_rows_not_stored_at_close_are_reported(s3: S3, caplog: pytest.LogCaptureFixture) -> None:
    crawler = get_crawler(settings_dict=crawler_settings(s3))
    pipe = ParquetPipeline.from_crawler(crawler)
    pipe.process_item(html_item())
    s3.drop_bucket()
    pipe.close_spider()
    assert crawler.stats.get_value("parquet/rows_lost/edges") == 2
    assert any("2 edges rows in 1 files were not stored" in r.getMessage() for r in caplog.records)


@pytest.mark.parametrize(
    ("location", "needles"),
    [
        ("s3://no-such-bucket/prefix", ["not writable", "no-such-bucket", "bucket does not exist"]),
        ("s3://AKIDEXAMPLE:s3cr3t@bucket/prefix", ["holds credentials", "***@bucket"]),
        ("s3://bucket/p?access_key=AKIDEXAMPLE&secret_key=s3cr3t", ["holds credentials"]),
        ("nosuchscheme://bucket/prefix", ["cannot be opened"]),
    ],
)
def test_unusable_outputs_fail_at_start_with_one_line(
    s3: S3, location: str, needles: list[str]
) -> None:
    with pytest.raises(PolicyError) as e:
        open_output_location(location, s3_endpoint_override=s3.endpoint, s3_region=REGION)
    message = str(e.value)
    assert "\n" not in message and "s3cr3t" not in message and "AKIDEXAMPLE" not in message
    for needle in needles:
        assert needle in message


def test_local_paths_and_file_uris_keep_the_local_commit(tmp_path: Path) -> None:
    for location in (str(tmp_path / "a"), (tmp_path / "b").as_uri()):
        filesystem, root = open_output_location(location, s3_endpoint_override="", s3_region="")
        assert filesystem is None and root == location.removeprefix("file://")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a", "b"]  # created, probe gone
    assert list((tmp_path / "a").iterdir()) == []


def test_an_unreachable_endpoint_fails_at_start(s3: S3) -> None:
    dead = f"http://127.0.0.1:{free_port()}"
    with pytest.raises(PolicyError, match=r"not writable: .*(connect|Connect)"):
        open_output_location(f"s3://{s3.bucket}/p", s3_endpoint_override=dead, s3_region=REGION)


def test_refused_credentials_fail_at_start(s3: S3) -> None:
    # a server that checks keys (moto does when INITIAL_NO_AUTH_ACTION_COUNT is set)
    proc, endpoint = start_moto({**os.environ, "INITIAL_NO_AUTH_ACTION_COUNT": "0"})
    try:
        with pytest.raises(PolicyError, match=r"not writable: .*INVALID_ACCESS_KEY_ID") as e:
            open_output_location(
                f"s3://{s3.bucket}/p", s3_endpoint_override=endpoint, s3_region=REGION
            )
        assert SECRET not in str(e.value)
    finally:
        proc.terminate()
        proc.wait(timeout=10)


@pytest.mark.parametrize(
    ("location", "shown"),
    [
        ("out/crawl", "out/crawl"),
        ("s3://b/p", "s3://b/p"),
        ("s3://AK:SK@b/p?region=x", "s3://***@b/p?region=x"),
        ("gs://AK@b/p", "gs://***@b/p"),
        ("abfs://container@account.dfs.core.windows.net/p", None),
        (
            "abfs://account:KEY@account.dfs.core.windows.net/p",
            "abfs://***@account.dfs.core.windows.net/p",
        ),
        ("hdfs://crawler@namenode:8020/out", None),
        (
            "s3://b/p?secret_key=SK&endpoint_override=http://h:9",
            "s3://b/p?secret_key=***&endpoint_override=http://h:9",
        ),
    ],
)
def test_redact_uri(location: str, shown: str | None) -> None:
    """``shown`` None: the URI holds no secret and is shown as it is."""
    assert redact_uri(location) == (shown or location)
    assert has_credentials(location) == (shown not in (None, location))


def test_settings_do_not_override_what_the_uri_says() -> None:
    options = {"region": "us-east-1", "endpoint_override": "http://h:9"}
    got = with_query("s3://b/p?region=eu-west-1", options)
    assert got == "s3://b/p?region=eu-west-1&endpoint_override=http://h:9"
    assert with_query("s3://b/p", {"region": ""}) == "s3://b/p"


@pytest.mark.integration
def test_scrapy_crawl_stops_at_start_on_a_missing_bucket(s3: S3, tmp_path: Path) -> None:
    result = run_crawl(
        tmp_path / "unused",
        proxy=None,
        spider_args={"seeds": "http://a.test/"},
        settings={
            "LINKCRAWL_OUTPUT": f"s3://{s3.bucket}-missing/crawl",
            "PARQUET_S3_ENDPOINT_OVERRIDE": s3.endpoint,
            "PARQUET_S3_REGION": REGION,
        },
        timeout=60,
    )
    output = result.stdout + result.stderr
    assert result.returncode == 2, output[-2000:]
    assert "Traceback" not in output, output[-2000:]
    assert "not writable" in output and f"{s3.bucket}-missing" in output


@pytest.mark.integration
def test_a_crawl_of_the_test_web_writes_its_dataset_to_s3(
    s3: S3, testweb: WebServer, tmp_path: Path
) -> None:
    testweb.reset()
    web = testweb.web
    seeds = tmp_path / "seeds.txt"
    seeds.write_text("\n".join(web.seeds()) + "\n")
    result = run_crawl(
        tmp_path / "unused",
        proxy=testweb.address,
        spider_args={"seeds_file": str(seeds)},
        settings={
            "LINKCRAWL_OUTPUT": f"s3://{s3.bucket}/crawl",
            "PARQUET_S3_ENDPOINT_OVERRIDE": s3.endpoint,
            "PARQUET_S3_REGION": REGION,
            "DEPTH_LIMIT": str(DEPTH_LIMIT),
            "RETRY_TIMES": str(RETRY_TIMES),
            "PARQUET_ROWS_PER_FILE": "500",
            "PARQUET_BATCH_ROWS": "200",
        },
    )
    log = result.stdout + result.stderr
    assert result.returncode == 0, log[-3000:]
    assert "Traceback" not in log, log[-3000:]
    assert SECRET not in log  # credentials stay out of the log
    for table in SCHEMAS:
        keys = s3.keys(f"crawl/{table}/")
        assert len(keys) >= 2, "rotation by rows should have produced several files"
        for key in keys:  # no hidden, temporary or probe objects
            assert re.fullmatch(rf"crawl/{table}/crawl_id=it/part-[\w.-]+-\d{{6}}\.parquet", key)
    assert s3.open_uploads() == []

    def read(table: str) -> list[dict[str, Any]]:
        dataset = ds.dataset(
            f"{s3.bucket}/crawl/{table}", filesystem=s3.fs, format="parquet", partitioning="hive"
        )
        return dataset.to_table().to_pylist()

    pages = [r for r in read("pages") if not web.is_trap(r["url"])]
    assert sorted(r["url"] for r in pages) == sorted(web.expected_pages())
    got = Counter(edge_key(r) for r in read("edges") if not web.is_trap(r["source_url"]))
    want = Counter(
        edge_key(e.__dict__) if hasattr(e, "__dict__") else edge_key(e._asdict())
        for e in web.expected_edges()
    )
    assert sum(want.values()) > 1000 and got == want
