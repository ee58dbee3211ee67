"""linkcrawl's own Scrapy signals, connecting the spider and the Parquet pipeline to the
Redis frontier without importing each other (all are optional components).

A leased request is acknowledged only once the rows of its response are in a committed
Parquet file; these signals carry that news.
"""

from __future__ import annotations

#: The pipeline committed files holding the rows of these leases.
#: Arguments: ``lease_ids: list[str]``.
rows_committed = object()

#: The pipeline lost the rows of these leases before storing them (a full disk): give
#: them back to the frontier now, unacknowledged, to be fetched again.
#: Arguments: ``lease_ids: list[str]``.
rows_lost = object()

#: A leased request ended without rows to write (e.g. forbidden by robots.txt): ack now.
#: Arguments: ``lease_id: str``.
lease_finished = object()

#: A leased request failed to download; the frontier retries or dead-letters it.
#: Arguments: ``lease_id: str``, ``reason: str``.
lease_failed = object()

#: robots.txt asked for a Crawl-delay; the frontier applies it fleet-wide.
#: Arguments: ``host: str``, ``delay: float``.
host_delay = object()

#: The frontier waits only on this worker's uncommitted rows (the downloader is idle):
#: commit now rather than at the next rotation. No arguments.
commit_requested = object()
