"""Reading a crawl's dataset: SQL views that keep only the latest fetch of each page.

A URL is fetched once per crawl, except when a worker dies between committing its rows
and acknowledging the lease (the frontier then hands the URL to another worker) or when a
crawl is re-run into the same ``crawl_id``: the raw files may then hold one page's rows
twice. Every row of one fetch carries the same ``fetch_time``, so "the latest fetch of
each source page" is a window over (crawl_id, page id). The views below are plain DuckDB
SQL; Spark SQL accepts the same ``QUALIFY``-free form returned by ``latest_sql``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from pathlib import Path

_KEYS = {"edges": ("source_id", "fetch_time"), "pages": ("node_id", "fetch_time")}


def _glob(root: str | Path, table: str) -> str:
    return f"{str(root).rstrip('/')}/{table}/*/*.parquet"


def latest_sql(root: str | Path, table: str) -> str:
    """SELECT of ``table`` (``edges`` or ``pages``) with only each page's latest fetch."""
    if table not in _KEYS:
        raise ValueError(f"table must be one of {sorted(_KEYS)}, not {table!r}")
    page_id, time_col = _KEYS[table]
    path = _glob(root, table).replace("'", "''")
    return (
        "SELECT * EXCLUDE (_latest) FROM ("
        f"SELECT *, max({time_col}) OVER (PARTITION BY crawl_id, {page_id}) AS _latest "
        f"FROM read_parquet('{path}', hive_partitioning = true)"
        f") WHERE {time_col} = _latest"
    )


def create_views_sql(root: str | Path) -> str:
    """``CREATE VIEW`` statements: ``edges``/``pages`` (raw) and ``edges_latest``/
    ``pages_latest`` (deduplicated), for a DuckDB session."""
    statements = []
    for table in _KEYS:
        path = _glob(root, table).replace("'", "''")
        statements.append(
            f"CREATE OR REPLACE VIEW {table} AS "
            f"SELECT * FROM read_parquet('{path}', hive_partitioning = true)"
        )
        statements.append(f"CREATE OR REPLACE VIEW {table}_latest AS {latest_sql(root, table)}")
    return ";\n".join(statements) + ";"
