"""The distributed frontier: a crawl's queue, dupefilter and politeness schedule in Redis.

``linkcrawl.frontier.store`` is the Redis data layer (no Scrapy import);
``linkcrawl.frontier.scheduler`` is the Scrapy scheduler that drives it. See
docs/frontier.md for the key layout, sizing and operations.
"""

from __future__ import annotations

from linkcrawl.frontier.store import (
    Frontier,
    FrontierConfig,
    FrontierError,
    FrontierRequest,
    Lease,
    RedisUnavailable,
)

__all__ = [
    "Frontier",
    "FrontierConfig",
    "FrontierError",
    "FrontierRequest",
    "Lease",
    "RedisUnavailable",
]
