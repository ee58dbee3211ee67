"""Durable file commits, shared by the crawl's Parquet writer and the authority job, and
the output location a crawl writes to: a local path, or a URI of a pyarrow filesystem
(``s3://bucket/prefix``, ``gs://...``, ``hdfs://...``).

Locally, both write to a temporary name and rename into place; a rename survives a power
loss only once the directory that holds it is on disk too. Object stores have no rename:
there a file is uploaded whole to its final key (:func:`put_file`).
"""

from __future__ import annotations

import contextlib
import os
import re
from typing import TYPE_CHECKING
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

if TYPE_CHECKING:
    from pathlib import Path

    import pyarrow as pa
    import pyarrow.fs as pafs

# A URI scheme of two or more characters: "C:/out" stays a (Windows) path.
_URI = re.compile(r"[A-Za-z][A-Za-z0-9+.-]+://")
# Query keys of pyarrow's filesystem URIs that carry credentials (S3, Azure).
_SECRET_KEYS = frozenset(
    {"access_key", "secret_key", "session_token", "account_key", "sas_token", "client_secret"}
)
# Schemes whose URI user info is an access key (elsewhere it names a container or a user).
_KEY_USERINFO = frozenset({"s3", "gs", "gcs"})
# Filesystems whose output stream publishes an object only when it is closed (S3
# CompleteMultipartUpload, GCS resumable upload finalisation, Azure block list commit),
# so the final key never shows a partial file. Others (HDFS) show a file while it is
# written: there we write a hidden name and move it into place, as on a local disk.
OBJECT_STORES = frozenset({"s3", "gcs", "abfs"})


def first_line(error: BaseException) -> str:
    """The first non-blank line of an error's text (pyarrow's S3 errors and Spark's carry
    request ids, curl details or a JVM stack trace after it), or its type's name."""
    lines = [line.strip() for line in str(error).splitlines() if line.strip()]
    return lines[0] if lines else type(error).__name__


def fsync_dir(directory: Path) -> None:
    """Flush ``directory``'s entries (a rename into it) to disk; best effort: file systems
    that cannot fsync a directory are skipped silently."""
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def is_uri(location: str) -> bool:
    """``s3://b/p`` and ``file:///x`` are URIs; ``out/crawl`` and ``C:/out`` are paths."""
    return _URI.match(location) is not None


def _secret_userinfo(scheme: str, netloc: str) -> bool:
    userinfo = netloc.rpartition("@")[0]
    return bool(userinfo) and (":" in userinfo or scheme in _KEY_USERINFO)


def redact_uri(location: str) -> str:
    """``location`` for a log line: credentials in user info or query replaced."""
    if not is_uri(location):
        return location
    parts = urlsplit(location)
    netloc = parts.netloc
    if _secret_userinfo(parts.scheme, netloc):
        netloc = "***@" + netloc.rpartition("@")[2]
    query = [(k, "***" if k in _SECRET_KEYS else v) for k, v in parse_qsl(parts.query)]
    return urlunsplit(parts._replace(netloc=netloc, query=urlencode(query, safe=":/*")))


def has_credentials(location: str) -> bool:
    """Whether a URI carries a secret (an access key or password in its user info, or a
    credential query key)."""
    if not is_uri(location):
        return False
    parts = urlsplit(location)
    return _secret_userinfo(parts.scheme, parts.netloc) or any(
        k in _SECRET_KEYS for k, _ in parse_qsl(parts.query)
    )


def with_query(location: str, options: dict[str, str]) -> str:
    """``location`` with ``options`` added to its query; keys it already has win."""
    parts = urlsplit(location)
    query = parse_qsl(parts.query)
    present = {k for k, _ in query}
    query += [(k, v) for k, v in options.items() if v and k not in present]
    return urlunsplit(parts._replace(query=urlencode(query, safe=":/")))


def open_output(
    location: str, *, s3_endpoint_override: str = "", s3_region: str = ""
) -> tuple[pafs.FileSystem | None, str]:
    """The filesystem and the root path inside it for an output ``location``.

    A local path (or ``file://`` URI) gives ``(None, path)``: the caller keeps the local
    commit (fsync, rename, fsync the directory). S3 options from settings are added to the
    URI's query unless it names them itself; credentials come from the AWS environment /
    config files only. Raises ``ValueError`` (pyarrow's ``ArrowInvalid``) or ``OSError``.
    """
    if not is_uri(location):
        return None, location
    import pyarrow.fs as pafs

    if urlsplit(location).scheme == "s3":
        location = with_query(
            location, {"endpoint_override": s3_endpoint_override, "region": s3_region}
        )
    filesystem, path = pafs.FileSystem.from_uri(location)
    if filesystem.type_name == "local":
        return None, path
    return filesystem, path.rstrip("/")


def put_file(filesystem: pafs.FileSystem, path: str, data: pa.Buffer) -> None:
    """Publish ``data`` as the file ``path`` so that a reader sees no file or all of it.

    On an object store (:data:`OBJECT_STORES`) the bytes go straight to the final key in
    one ``write``: the upload becomes visible when the stream closes. pyarrow cannot abort
    a stream: closing one, leaving a ``with`` block on an exception, or garbage-collecting
    one all complete the upload with what was written so far. So nothing is streamed while
    rows are encoded (the caller hands over a finished file), and if the one ``write``
    fails the key is deleted in case ``close`` published part of it. Elsewhere (HDFS) the
    file is written under a hidden name and moved into place.
    """
    if filesystem.type_name in OBJECT_STORES:
        _write_whole(filesystem, path, data)
        return
    head, _, name = path.rpartition("/")
    tmp = f"{head}/.{name}.tmp" if head else f".{name}.tmp"
    _write_whole(filesystem, tmp, data)
    filesystem.move(tmp, path)


def _write_whole(filesystem: pafs.FileSystem, path: str, data: pa.Buffer) -> None:
    stream = filesystem.open_output_stream(path)
    try:
        stream.write(data)
    except BaseException:
        # close() cannot be avoided (pyarrow's destructor calls it), so make it explicit
        # and then remove whatever it may have published.
        with contextlib.suppress(OSError):  # the upload failed: nothing was published
            stream.close()
        with contextlib.suppress(OSError):  # FileNotFoundError: nothing was published
            filesystem.delete_file(path)
        raise
    stream.close()


def check_writable(filesystem: pafs.FileSystem, root: str) -> None:
    """Write and delete an empty hidden probe under ``root``; raises ``OSError``.

    On S3 this reaches the endpoint and checks the bucket, the credentials and the right
    to put and delete objects under the prefix: a crawl fails at start, not at its first
    commit.
    """
    import pyarrow as pa

    probe = f"{root}/.linkcrawl-write-test-{os.getpid()}"
    _write_whole(filesystem, probe, pa.py_buffer(b""))
    filesystem.delete_file(probe)
