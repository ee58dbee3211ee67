"""Request.meta keys the schedulers read and set (leases, postponed requests), and the
Redis frontier's on switch."""

from __future__ import annotations

import os
from typing import Any

#: the lease to acknowledge once the response's rows are committed
LEASE_META_KEY = "linkcrawl_lease"
#: failed attempts before this lease (download errors, expired leases)
ATTEMPTS_META_KEY = "linkcrawl_attempts"
#: on a request handed back to the scheduler: not to be sent before this ``time.time()``
#: (its host's robots.txt is unreachable until then); the scheduler holds it meanwhile
NOT_BEFORE_META_KEY = "linkcrawl_not_before"
#: on a request for a sitemap: "" or the host whose robots.txt named it (its entries may be
#: on that host); the Redis frontier stores it with the request, so that whichever worker
#: leases it reads the response as a sitemap
SITEMAP_META_KEY = "linkcrawl_sitemap"


def redis_url(settings: Any) -> str:
    """``LINKCRAWL_REDIS_URL`` from ``-s``/settings, else from the environment.

    The environment value is read here rather than copied into the settings: Scrapy logs
    overridden settings at start-up, and a Redis password must not reach the logs.
    """
    return str(settings.get("LINKCRAWL_REDIS_URL") or os.environ.get("LINKCRAWL_REDIS_URL", ""))
