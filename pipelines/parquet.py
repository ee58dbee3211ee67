"""Rotating, atomically committed, Hive-partitioned Parquet files, and the pipeline
that feeds them from the spider's page items.

A file is written under a hidden temporary name (``.part-...parquet.tmp``: pyarrow,
Spark, Hive and ``*.parquet`` globs all skip it), fsync'd, then renamed into place, so a
reader sees either no file or a whole one. Names carry a per-process worker id and a
sequence number, so two processes never share a file.
"""

from __future__ import annotations

import logging
import os
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pyarrow as pa
import pyarrow.parquet as pq
from scrapy.exceptions import NotConfigured

from linkcrawl.files import fsync_dir
from linkcrawl.policy import PolicyError, check_crawl_id, stop_on_user_error
from linkcrawl.schema import PARTITION_COLUMN, SCHEMAS
from linkcrawl.signals import commit_requested, rows_committed
from linkcrawl.worker import worker_id as resolve_worker_id
from pipelines.rows import edge_rows, page_row

if TYPE_CHECKING:
    from collections.abc import Callable
    from typing import Self

    from scrapy.crawler import Crawler

    from linkcrawl.items import PageItem

logger = logging.getLogger(__name__)


class ParquetPartWriter:
    """Buffers rows of one table and commits them as ``part-<worker>-<seq>.parquet``.

    Rows are encoded every ``batch_rows`` rows (one row group each) into the open
    temporary file; the file is committed after ``rows_per_file`` rows, after
    ``rotate_seconds`` (checked on append and by ``tick``), and on ``close``.
    """

    def __init__(
        self,
        directory: Path,
        schema: pa.Schema,
        *,
        worker_id: str,
        rows_per_file: int,
        batch_rows: int,
        rotate_seconds: float,
        compression: str = "zstd",
        compression_level: int | None = 3,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.directory = directory
        self.schema = schema
        self.worker_id = worker_id
        self.rows_per_file = max(1, rows_per_file)
        self.batch_rows = max(1, min(batch_rows, self.rows_per_file))
        self.rotate_seconds = rotate_seconds
        self.compression = compression
        self.compression_level = compression_level
        self.clock = clock
        self.seq = 0
        self.rows_committed = 0
        self.files_committed: list[Path] = []
        self._buffer: list[dict[str, Any]] = []
        self._writer: pq.ParquetWriter | None = None
        self._file: Any = None
        self._tmp_path: Path | None = None
        self._file_rows = 0  # rows in the open file, buffered or written
        self._opened_at = 0.0

    @property
    def pending_rows(self) -> int:
        """Rows appended but not yet in a committed file."""
        return self._file_rows

    def append(self, rows: list[dict[str, Any]]) -> None:
        if not rows:
            return
        if self._file_rows == 0:
            self._opened_at = self.clock()
        self._buffer.extend(rows)
        self._file_rows += len(rows)
        if len(self._buffer) >= self.batch_rows:
            self._write_buffer()
        if self._file_rows >= self.rows_per_file:
            self.commit()
        else:
            self.tick()

    def tick(self) -> None:
        """Commit the open file if it is older than ``rotate_seconds``."""
        if self._file_rows and self.clock() - self._opened_at >= self.rotate_seconds:
            self.commit()

    def _write_buffer(self) -> None:
        if not self._buffer:
            return
        batch = pa.RecordBatch.from_pylist(self._buffer, schema=self.schema)
        self._buffer = []
        if self._writer is None:
            self.directory.mkdir(parents=True, exist_ok=True)
            name = f"part-{self.worker_id}-{self.seq:06d}.parquet"
            self._tmp_path = self.directory / f".{name}.tmp"
            self._file = open(self._tmp_path, "wb")  # noqa: SIM115 (closed in commit)
            self._writer = pq.ParquetWriter(
                self._file,
                self.schema,
                compression=self.compression,
                compression_level=self.compression_level,
                use_dictionary=True,
                write_statistics=True,
            )
        self._writer.write_batch(batch, row_group_size=self.batch_rows)

    def commit(self) -> Path | None:
        """Write what is buffered, close the file and rename it into place."""
        self._write_buffer()
        if self._writer is None or self._tmp_path is None:
            return None
        self._writer.close()
        self._file.flush()
        os.fsync(self._file.fileno())
        self._file.close()
        final = self._tmp_path.with_name(self._tmp_path.name[1:].removesuffix(".tmp"))
        os.replace(self._tmp_path, final)
        fsync_dir(self.directory)
        self.files_committed.append(final)
        self.rows_committed += self._file_rows
        self._writer, self._file, self._tmp_path = None, None, None
        self._file_rows = 0
        self.seq += 1
        return final

    def close(self) -> None:
        self.commit()


def _check_codec(codec: str) -> str:
    try:
        available = pa.Codec.is_available(codec)
    except ValueError:  # pyarrow does not know the name at all
        available = False
    if not available:
        raise PolicyError(f"PARQUET_COMPRESSION {codec!r} is not a codec pyarrow can write")
    return codec


def check_output_dir(root: Path) -> None:
    """Fail early, with the path in the message, when the output cannot be written."""
    try:
        root.mkdir(parents=True, exist_ok=True)
        probe = root / f".linkcrawl-write-test-{os.getpid()}"
        probe.write_bytes(b"")
        probe.unlink()
    except OSError as e:
        raise PolicyError(f"output directory {str(root)!r} is not writable: {e}") from None


class ParquetPipeline:
    """Writes every ``PageItem`` as one ``pages`` row and its ``edges`` rows.

    Settings: ``PARQUET_ENABLED``, ``LINKCRAWL_OUTPUT``, ``LINKCRAWL_CRAWL_ID``,
    ``LINKCRAWL_WORKER_ID``, ``PARQUET_ROWS_PER_FILE``, ``PARQUET_BATCH_ROWS``,
    ``PARQUET_ROTATE_SECONDS``, ``PARQUET_COMPRESSION``, ``PARQUET_COMPRESSION_LEVEL``.
    Stats: ``parquet/rows_written/<table>``, ``parquet/files_committed/<table>``.
    """

    def __init__(
        self,
        output: Path,
        *,
        crawl_id: str,
        worker_id: str,
        rows_per_file: int,
        batch_rows: int,
        rotate_seconds: float,
        compression: str,
        compression_level: int | None,
    ) -> None:
        self.output = output
        self.crawl_id = check_crawl_id(crawl_id)
        self.worker_id = resolve_worker_id(worker_id)
        self.rotate_seconds = rotate_seconds
        self.writers = {
            table: ParquetPartWriter(
                output / table / f"{PARTITION_COLUMN}={self.crawl_id}",
                schema,
                worker_id=self.worker_id,
                rows_per_file=rows_per_file,
                batch_rows=batch_rows,
                rotate_seconds=rotate_seconds,
                compression=compression,
                compression_level=compression_level,
            )
            for table, schema in SCHEMAS.items()
        }
        self.crawler: Crawler | None = None
        self._loop: Any = None
        self._committed_counts = dict.fromkeys(self.writers, 0)
        # leases whose rows are appended but not yet in committed files
        self._pending_leases: list[str] = []

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> Self:
        s = crawler.settings
        if not s.getbool("PARQUET_ENABLED"):
            raise NotConfigured("PARQUET_ENABLED is off")
        try:
            level = s.get("PARQUET_COMPRESSION_LEVEL")
            o = cls(
                Path(s["LINKCRAWL_OUTPUT"]),
                crawl_id=str(s["LINKCRAWL_CRAWL_ID"]),
                worker_id=str(s["LINKCRAWL_WORKER_ID"] or ""),
                rows_per_file=s.getint("PARQUET_ROWS_PER_FILE"),
                batch_rows=s.getint("PARQUET_BATCH_ROWS"),
                rotate_seconds=s.getfloat("PARQUET_ROTATE_SECONDS"),
                compression=_check_codec(s["PARQUET_COMPRESSION"]),
                compression_level=None if level in (None, "") else int(level),
            )
            check_output_dir(o.output)
        except ValueError as e:  # PolicyError, or int()/float() of a bad setting value
            stop_on_user_error(e)
        o.crawler = crawler
        crawler.signals.connect(o.commit_now, signal=commit_requested)
        return o

    def open_spider(self) -> None:
        from scrapy.utils.asyncio import create_looping_call

        # A quiet crawl still publishes: commit aged files even when no item arrives.
        self._loop = create_looping_call(self.tick)
        self._loop.start(max(0.5, min(5.0, self.rotate_seconds / 4)), now=False)

    def tick(self) -> None:
        for writer in self.writers.values():
            writer.tick()
        self._after_write()

    def commit_now(self) -> None:
        """Commit what is buffered (the frontier is waiting on these rows' leases)."""
        if self._pending_leases:
            self._after_write(force=True)

    def process_item(self, item: PageItem) -> PageItem:
        tables = {"pages": [page_row(item, self.worker_id)], "edges": edge_rows(item)}
        stats = self.crawler.stats if self.crawler is not None else None
        for table, rows in tables.items():
            self.writers[table].append(rows)
            if stats is not None and rows:
                stats.inc_value(f"parquet/rows_written/{table}", len(rows))
        if item.lease_id is not None:
            self._pending_leases.append(item.lease_id)
        self._after_write()
        return item

    def _after_write(self, *, force: bool = False) -> None:
        """Tables commit together: when one writer has committed (rows or age), commit the
        others, so every item appended so far is in committed files; then tell the
        frontier which leases those rows complete."""
        counts = {t: len(w.files_committed) for t, w in self.writers.items()}
        if not force and counts == self._committed_counts:
            return
        for writer in self.writers.values():
            writer.commit()
        stats = self.crawler.stats if self.crawler is not None else None
        for table, writer in self.writers.items():
            for path in writer.files_committed[self._committed_counts.get(table, 0) :]:
                logger.debug("Committed %s", path)
                if stats is not None:
                    stats.inc_value(f"parquet/files_committed/{table}")
        self._committed_counts = {t: len(w.files_committed) for t, w in self.writers.items()}
        if self._pending_leases and self.crawler is not None:
            leases, self._pending_leases = self._pending_leases, []
            self.crawler.signals.send_catch_log(signal=rows_committed, lease_ids=leases)

    def close_spider(self) -> None:
        if self._loop is not None and self._loop.running:
            self._loop.stop()
        self._after_write(force=True)
        logger.info(
            "Parquet output in %s: %s",
            self.output,
            ", ".join(f"{t} {w.rows_committed} rows" for t, w in self.writers.items()),
        )
