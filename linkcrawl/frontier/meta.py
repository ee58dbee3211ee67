"""Request.meta keys the Redis frontier sets on leased requests."""

from __future__ import annotations

#: the lease to acknowledge once the response's rows are committed
LEASE_META_KEY = "linkcrawl_lease"
#: failed attempts before this lease (download errors, expired leases)
ATTEMPTS_META_KEY = "linkcrawl_attempts"
