"""Rotating, atomically committed, Hive-partitioned Parquet files, and the pipeline
that feeds them from the spider's page items.

A file is written under a hidden temporary name (``.part-...parquet.tmp``: pyarrow,
Spark, Hive and ``*.parquet`` globs all skip it), fsync'd, then renamed into place, so a
reader sees either no file or a whole one. On an object store (``LINKCRAWL_OUTPUT`` =
``s3://bucket/prefix``, docs/storage.md) there is no rename: the file is encoded in memory
and uploaded whole to its final key when it is committed. Names carry a per-process worker
id and a sequence number, so two processes never share a file.
"""

from __future__ import annotations

import contextlib
import logging
import os
import time
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pyarrow as pa
import pyarrow.parquet as pq
from scrapy.exceptions import NotConfigured
from scrapy.utils.defer import deferred_from_coro

from linkcrawl.files import (
    check_writable,
    first_line,
    fsync_dir,
    has_credentials,
    open_output,
    put_file,
    redact_uri,
)
from linkcrawl.policy import PolicyError, check_crawl_id, stop_on_user_error
from linkcrawl.schema import PARTITION_COLUMN, SCHEMAS
from linkcrawl.signals import commit_requested, rows_committed, rows_lost
from linkcrawl.worker import worker_id as resolve_worker_id
from pipelines.rows import edge_rows, page_row

if TYPE_CHECKING:
    from collections.abc import Callable
    from typing import Self

    import pyarrow.fs as pafs
    from scrapy.crawler import Crawler

    from linkcrawl.items import PageItem

logger = logging.getLogger(__name__)


class ParquetPartWriter:
    """Buffers rows of one table and commits them as ``part-<worker>-<seq>.parquet``.

    Rows are encoded every ``batch_rows`` rows (one row group each) into the open
    temporary file; the file is committed after ``rows_per_file`` rows, after
    ``rotate_seconds`` (checked on append and by ``tick``), and on ``close``.

    With a ``filesystem`` (an object store), ``directory`` is a path in it and the open
    file is an in-memory buffer; ``commit`` seals it and uploads it with ``put_file``. A
    failed upload raises ``OSError`` and keeps the sealed file: every later ``commit``
    uploads the sealed files first, in order, so rows are never dropped or reordered.

    On a local disk a failed write (a full disk, a lost mount) raises ``OSError`` after
    deleting the open file: it may end in a partial row group, and a file that is not
    whole is never renamed into place. Its rows (``rows_discarded`` counts them) are
    gone from this writer; the next rows start a new file under the same name.
    """

    def __init__(
        self,
        directory: Path | str,
        schema: pa.Schema,
        *,
        worker_id: str,
        rows_per_file: int,
        batch_rows: int,
        rotate_seconds: float,
        compression: str = "zstd",
        compression_level: int | None = 3,
        clock: Callable[[], float] = time.monotonic,
        filesystem: pafs.FileSystem | None = None,
    ) -> None:
        self.directory = directory
        self.filesystem = filesystem
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
        self.files_committed: list[Path | str] = []
        self._buffer: list[dict[str, Any]] = []
        # object store: closed files not yet uploaded (path, bytes, rows), oldest first
        self._sealed: list[tuple[str, pa.Buffer, int]] = []
        self._writer: pq.ParquetWriter | None = None
        self._file: Any = None
        self._tmp_path: Path | None = None
        self._file_rows = 0  # rows in the open file, buffered or written
        self._opened_at = 0.0
        self.rows_discarded = 0  # rows of open files deleted after a local write error

    @property
    def pending_rows(self) -> int:
        """Rows appended but not yet in a committed file."""
        return self._file_rows + sum(rows for _, _, rows in self._sealed)

    @property
    def unpublished_files(self) -> int:
        """Closed files whose upload failed, waiting for the next ``commit``."""
        return len(self._sealed)

    def _name(self) -> str:
        return f"part-{self.worker_id}-{self.seq:06d}.parquet"

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
        try:
            if self._writer is None:
                if self.filesystem is not None:
                    # Nothing is streamed to the store before commit: pyarrow would publish
                    # a partial object if anything went wrong in between (linkcrawl.files).
                    self._file = pa.BufferOutputStream()
                else:
                    directory = Path(self.directory)
                    directory.mkdir(parents=True, exist_ok=True)
                    self._tmp_path = directory / f".{self._name()}.tmp"
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
        except OSError:
            if self.filesystem is None:  # a full disk (an in-memory buffer cannot fail so)
                self._discard_open_file()
            raise

    def _discard_open_file(self) -> None:
        """Delete the open local file after a write error, and forget its rows."""
        self.rows_discarded += self._file_rows
        self._buffer, self._file_rows = [], 0
        writer, file, tmp_path = self._writer, self._file, self._tmp_path
        self._writer, self._file, self._tmp_path = None, None, None
        # pyarrow writes the footer when a writer is closed, or collected while open: closed
        # here, where its error (the same full disk) is expected and the file is deleted
        # anyway, and marked closed even when that fails (else its __del__ tries again).
        if writer is not None:
            try:
                writer.close()
            except (OSError, ValueError):
                writer.is_open = False
        if file is not None:
            with contextlib.suppress(OSError, ValueError):
                file.close()
        if tmp_path is not None:  # hidden: a leftover (lost mount) is skipped by readers
            with contextlib.suppress(OSError):
                tmp_path.unlink(missing_ok=True)

    def commit(self) -> Path | str | None:
        """Write what is buffered, close the file and rename it into place (or upload
        it); the last file committed, or None."""
        self._write_buffer()
        if self.filesystem is not None:
            return self._commit_to_store(self.filesystem)
        if self._writer is None or self._tmp_path is None:
            return None
        final = self._tmp_path.with_name(self._tmp_path.name[1:].removesuffix(".tmp"))
        try:  # the footer and the buffered tail are written here: a full disk shows here
            self._writer.close()
            self._file.flush()
            os.fsync(self._file.fileno())
            self._file.close()
            os.replace(self._tmp_path, final)
        except OSError:
            self._discard_open_file()
            raise
        fsync_dir(final.parent)
        self.files_committed.append(final)
        self.rows_committed += self._file_rows
        self._writer, self._file, self._tmp_path = None, None, None
        self._file_rows = 0
        self.seq += 1
        return final

    def _commit_to_store(self, filesystem: pafs.FileSystem) -> str | None:
        if self._writer is not None:
            self._writer.close()
            path = f"{self.directory}/{self._name()}"
            self._sealed.append((path, self._file.getvalue(), self._file_rows))
            self._writer, self._file = None, None
            self._file_rows = 0
            self.seq += 1
        last = None
        while self._sealed:
            path, data, rows = self._sealed[0]
            put_file(filesystem, path, data)  # OSError: kept for the next commit
            del self._sealed[0]
            self.files_committed.append(path)
            self.rows_committed += rows
            last = path
        return last

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


def open_output_location(
    location: str, *, s3_endpoint_override: str, s3_region: str
) -> tuple[pafs.FileSystem | None, str]:
    """Open ``LINKCRAWL_OUTPUT`` and check it can be written, or raise ``PolicyError``
    with one line naming it (credentials redacted): a dead endpoint, a missing bucket or
    refused credentials stop the crawl at start, not at its first commit."""
    shown = redact_uri(location)
    if has_credentials(location):
        raise PolicyError(
            f"LINKCRAWL_OUTPUT {shown!r} holds credentials: Scrapy logs settings, so give "
            "them in the environment (AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, "
            "AWS_PROFILE) instead"
        )
    try:
        filesystem, root = open_output(
            location, s3_endpoint_override=s3_endpoint_override, s3_region=s3_region
        )
    except (ValueError, OSError) as e:  # pyarrow's ArrowInvalid is a ValueError
        raise PolicyError(f"LINKCRAWL_OUTPUT {shown!r} cannot be opened: {first_line(e)}") from None
    if filesystem is None:
        check_output_dir(Path(root))
        return None, root
    try:
        check_writable(filesystem, root)
    except OSError as e:
        raise PolicyError(f"output {shown!r} is not writable: {first_line(e)}") from None
    return filesystem, root


class ParquetPipeline:
    """Writes every ``PageItem`` as one ``pages`` row and its ``edges`` rows.

    Settings: ``PARQUET_ENABLED``, ``LINKCRAWL_OUTPUT``, ``LINKCRAWL_CRAWL_ID``,
    ``LINKCRAWL_WORKER_ID``, ``PARQUET_ROWS_PER_FILE``, ``PARQUET_BATCH_ROWS``,
    ``PARQUET_ROTATE_SECONDS``, ``PARQUET_COMPRESSION``, ``PARQUET_COMPRESSION_LEVEL``,
    ``PARQUET_S3_ENDPOINT_OVERRIDE``, ``PARQUET_S3_REGION``,
    ``PARQUET_WRITE_OUTAGE_CLOSE_SECONDS``.
    Stats: ``parquet/rows_written/<table>``, ``parquet/files_committed/<table>``,
    ``parquet/upload_errors/<table>``, ``parquet/write_errors/<table>``,
    ``parquet/rows_lost/<table>``.

    ``output`` is a local directory, or with ``filesystem`` a path in that filesystem.
    On an object store a failed upload is logged (once per outage) and retried with
    backoff; its rows stay in memory and their frontier leases are not acknowledged, so
    nothing is reported done before it is stored. On a local disk a failed write (a full
    disk) is logged once per outage and counted; the writer deletes the open file, whose
    rows are lost here, and the leases of every item since the last commit are dropped,
    never acknowledged: the frontier re-queues those pages, and the crawl goes on.
    """

    def __init__(
        self,
        output: Path | str,
        *,
        crawl_id: str,
        worker_id: str,
        rows_per_file: int,
        batch_rows: int,
        rotate_seconds: float,
        compression: str,
        compression_level: int | None,
        filesystem: pafs.FileSystem | None = None,
        clock: Callable[[], float] = time.monotonic,
        write_outage_close_seconds: float = 0.0,
    ) -> None:
        self.output = output
        self.write_outage_close_seconds = write_outage_close_seconds
        self.filesystem = filesystem
        # what log lines name: the URI (credentials redacted) or the local path
        self.location = str(output)
        self.crawl_id = check_crawl_id(crawl_id)
        self.worker_id = resolve_worker_id(worker_id)
        self.rotate_seconds = rotate_seconds
        self.clock = clock
        partition = f"{PARTITION_COLUMN}={self.crawl_id}"
        self.writers = {
            table: ParquetPartWriter(
                Path(output) / table / partition
                if filesystem is None
                else f"{str(output).rstrip('/')}/{table}/{partition}",
                schema,
                worker_id=self.worker_id,
                rows_per_file=rows_per_file,
                batch_rows=batch_rows,
                rotate_seconds=rotate_seconds,
                compression=compression,
                compression_level=compression_level,
                filesystem=filesystem,
            )
            for table, schema in SCHEMAS.items()
        }
        self.crawler: Crawler | None = None
        self._loop: Any = None
        self._committed_counts = dict.fromkeys(self.writers, 0)
        # leases whose rows are appended but not yet in committed files
        self._pending_leases: list[str] = []
        # object store outage: when to retry next, and the current backoff
        self._retry_at = 0.0
        self._retry_delay = 0.0
        # local write errors: rows of deleted files already counted; while failing, the
        # files each failing table had committed when it failed (empty: not failing)
        self._rows_discarded = dict.fromkeys(self.writers, 0)
        self._failing: dict[str, int] = {}
        self._failing_from = 0.0  # clock() of the outage's first failure
        self._closing = False

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> Self:
        s = crawler.settings
        if not s.getbool("PARQUET_ENABLED"):
            raise NotConfigured("PARQUET_ENABLED is off")
        try:
            level = s.get("PARQUET_COMPRESSION_LEVEL")
            location = str(s["LINKCRAWL_OUTPUT"])
            filesystem, root = open_output_location(
                location,
                s3_endpoint_override=str(s["PARQUET_S3_ENDPOINT_OVERRIDE"] or ""),
                s3_region=str(s["PARQUET_S3_REGION"] or ""),
            )
            o = cls(
                Path(root) if filesystem is None else root,
                crawl_id=str(s["LINKCRAWL_CRAWL_ID"]),
                worker_id=str(s["LINKCRAWL_WORKER_ID"] or ""),
                rows_per_file=s.getint("PARQUET_ROWS_PER_FILE"),
                batch_rows=s.getint("PARQUET_BATCH_ROWS"),
                rotate_seconds=s.getfloat("PARQUET_ROTATE_SECONDS"),
                compression=_check_codec(s["PARQUET_COMPRESSION"]),
                compression_level=None if level in (None, "") else int(level),
                filesystem=filesystem,
                write_outage_close_seconds=s.getfloat("PARQUET_WRITE_OUTAGE_CLOSE_SECONDS"),
            )
            if filesystem is not None:
                o.location = redact_uri(location)
        except ValueError as e:  # PolicyError, or int()/float() of a bad setting value
            stop_on_user_error(e)
        o.crawler = crawler
        crawler.signals.connect(o.commit_now, signal=commit_requested)
        return o

    def open_spider(self) -> None:
        from scrapy.utils.asyncio import create_looping_call

        # A quiet crawl still publishes: commit aged files even when no item arrives.
        self._loop = create_looping_call(self.tick)
        self._loop.start(self._tick_seconds(), now=False)

    def _tick_seconds(self) -> float:
        return max(0.5, min(5.0, self.rotate_seconds / 4))

    def tick(self) -> None:
        for table, writer in self.writers.items():
            self._guarded(table, writer.tick)
        # retry failed uploads even when no new file is due
        unpublished = any(w.unpublished_files for w in self.writers.values())
        self._after_write(force=unpublished and self.clock() >= self._retry_at)

    def commit_now(self) -> None:
        """Commit what is buffered (the frontier is waiting on these rows' leases); while
        the object store is failing, only once its backoff has passed (the frontier asks
        every second, and each attempt on a dead endpoint blocks for seconds)."""
        if self._pending_leases and self.clock() >= self._retry_at:
            self._after_write(force=True)

    def process_item(self, item: PageItem) -> PageItem:
        tables = {"pages": [page_row(item, self.worker_id)], "edges": edge_rows(item)}
        stats = self.crawler.stats if self.crawler is not None else None
        lost = False  # rows deleted with a file (a full disk); a failed upload keeps them
        for table, rows in tables.items():
            before = self.writers[table].rows_discarded
            self._guarded(table, partial(self.writers[table].append, rows))
            lost = lost or self.writers[table].rows_discarded != before
            if stats is not None and rows:
                stats.inc_value(f"parquet/rows_written/{table}", len(rows))
        if item.lease_id is not None and not lost:
            self._pending_leases.append(item.lease_id)
        self._after_write()
        return item

    def _guarded(self, table: str, action: Callable[[], object]) -> bool:
        """Run a writer call; on an object store, an upload error is logged and counted
        (the writer keeps the file for a retry) instead of failing the item."""
        try:
            action()
        except OSError as e:
            if self.filesystem is None:
                self._write_failed(table, e)
            else:
                self._upload_failed(table, e)
            return False
        return True

    def _write_failed(self, table: str, error: OSError) -> None:
        """A local write failed and the writer deleted its open file: count the rows lost
        with it, and give back (never acknowledge) the leases of every item since the last
        commit, whose rows may have been in it: the frontier re-queues those pages."""
        writer = self.writers[table]
        lost = writer.rows_discarded - self._rows_discarded[table]
        self._rows_discarded[table] = writer.rows_discarded
        leases, self._pending_leases = self._pending_leases, []
        dropped = len(leases)
        if self.crawler is not None:
            self.crawler.stats.inc_value(f"parquet/write_errors/{table}")
            self.crawler.stats.inc_value(f"parquet/rows_lost/{table}", lost)
            if leases:  # back to the frontier now, rather than after the lease timeout
                self.crawler.signals.send_catch_log(signal=rows_lost, lease_ids=leases)
        outage_began = not self._failing
        self._failing.setdefault(table, len(writer.files_committed))
        if not outage_began:
            self._close_after_long_outage()
        else:  # first failure of an outage: one line, not one per item
            self._failing_from = self.clock()
            logger.error(
                "Writing %s in %s failed (%d rows of its open file deleted; %d leases given "
                "back unacknowledged, so the frontier re-queues their pages; writing on with "
                "the next rows): %s",
                table,
                self.location,
                lost,
                dropped,
                first_line(error),
            )

    def _close_after_long_outage(self) -> None:
        """A disk that stays full (or a mount that stays gone): stop this worker rather
        than lease pages it cannot store; a fleet's other workers take them over."""
        limit = self.write_outage_close_seconds
        if self._closing or limit <= 0 or self.clock() - self._failing_from < limit:
            return
        engine = self.crawler.engine if self.crawler is not None else None
        if engine is None or engine.spider is None:
            return
        self._closing = True
        logger.error(
            "Writing to %s has failed for %.0f s (PARQUET_WRITE_OUTAGE_CLOSE_SECONDS): "
            "closing this worker (finish reason parquet_write_failed)",
            self.location,
            self.clock() - self._failing_from,
        )
        deferred_from_coro(engine.close_spider_async(reason="parquet_write_failed"))

    def _upload_failed(self, table: str, error: OSError) -> None:
        writer = self.writers[table]
        if self.crawler is not None:
            self.crawler.stats.inc_value(f"parquet/upload_errors/{table}")
        if self._retry_delay == 0:  # first failure of an outage: one line, not one per item
            logger.error(
                "Upload to %s failed (%s: %d rows in %d files waiting; retrying with "
                "backoff, their leases held): %s",
                self.location,
                table,
                writer.pending_rows,
                writer.unpublished_files,
                first_line(error),
            )
        now = self.clock()
        if now >= self._retry_at:  # once per attempt, not once per table that failed
            self._retry_delay = min(60.0, max(self._tick_seconds(), 2 * self._retry_delay))
            self._retry_at = now + self._retry_delay

    def _after_write(self, *, force: bool = False) -> None:
        """Tables commit together: when one writer has committed (rows or age), commit the
        others, so every item appended so far is in committed files; then tell the
        frontier which leases those rows complete."""
        counts = {t: len(w.files_committed) for t, w in self.writers.items()}
        if not force and counts == self._committed_counts:
            return
        ok = True
        for table, writer in self.writers.items():
            ok = self._guarded(table, writer.commit) and ok
        stats = self.crawler.stats if self.crawler is not None else None
        for table, writer in self.writers.items():
            for path in writer.files_committed[self._committed_counts.get(table, 0) :]:
                logger.debug("Committed %s", path)
                if stats is not None:
                    stats.inc_value(f"parquet/files_committed/{table}")
        self._committed_counts = {t: len(w.files_committed) for t, w in self.writers.items()}
        if not ok or any(w.pending_rows for w in self.writers.values()):
            return  # some rows are not stored yet: their leases wait for the retry
        if self._retry_delay:
            logger.info("Uploads to %s work again; every waiting file is stored", self.location)
            self._retry_delay = self._retry_at = 0.0
        if self._failing and all(len(self.writers[t].files_committed) > committed
                                 for t, committed in self._failing.items()):  # fmt: skip
            logger.info("Writing to %s works again", self.location)  # each failing table
            self._failing.clear()  # has committed a file since it failed
        if self._pending_leases and self.crawler is not None:
            leases, self._pending_leases = self._pending_leases, []
            self.crawler.signals.send_catch_log(signal=rows_committed, lease_ids=leases)

    def close_spider(self) -> None:
        if self._loop is not None and self._loop.running:
            self._loop.stop()
        self._after_write(force=True)
        for table, writer in self.writers.items():
            if writer.pending_rows:  # the last retry failed too: say what is not stored
                logger.error(
                    "%d %s rows in %d files were not stored in %s; their pages must be "
                    "crawled again (the frontier re-queues unacknowledged leases)",
                    writer.pending_rows,
                    table,
                    writer.unpublished_files,
                    self.location,
                )
                if self.crawler is not None:
                    self.crawler.stats.inc_value(f"parquet/rows_lost/{table}", writer.pending_rows)
        logger.info(
            "Parquet output in %s: %s",
            self.location,
            ", ".join(f"{t} {w.rows_committed} rows" for t, w in self.writers.items()),
        )
