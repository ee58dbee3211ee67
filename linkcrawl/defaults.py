"""Every linkcrawl setting and its default, grouped by component.

Scrapy's own settings keep their names and live in ``settings.py``; the names here are
linkcrawl's. Call sites read them with ``settings.getint("NAME")`` and no second default.
"""

from __future__ import annotations

# --- Identity -------------------------------------------------------------------------
# Product token used in robots.txt matching, X-Robots-Tag prefixes and the User-Agent.
LINKCRAWL_BOT_NAME = "linkcrawl"
# Partition value for every row this crawl writes; all workers of one crawl share it.
LINKCRAWL_CRAWL_ID = "default"
# Names this process in file names and the pages table; empty = <hostname>-<pid>-<random>.
LINKCRAWL_WORKER_ID = ""
# Root of the output dataset: <root>/edges/crawl_id=<id>/ and <root>/pages/crawl_id=<id>/.
LINKCRAWL_OUTPUT = "out/crawl"

# --- Scope and politeness -------------------------------------------------------------
# Which links are followed: all | seed_hosts | seed_domains | allowlist.
LINKCRAWL_SCOPE = "all"
# Registered domains or hosts allowed when LINKCRAWL_SCOPE is "allowlist".
LINKCRAWL_ALLOWED_DOMAINS: list[str] = []
# Stop requesting pages of a host after this many (0 = no limit); a spider-trap guard.
LINKCRAWL_MAX_PAGES_PER_HOST = 0
# Follow rel=nofollow links for discovery (nofollow is a ranking hint, not a crawl ban).
LINKCRAWL_FOLLOW_NOFOLLOW = True
# Do not follow links of pages with meta robots / X-Robots-Tag nofollow (still recorded).
LINKCRAWL_OBEY_META_ROBOTS = True
# Upper bound for a robots.txt Crawl-delay, so one host cannot stall a worker's slot.
LINKCRAWL_MAX_CRAWL_DELAY = 30.0
# Seconds a host's robots.txt is trusted before it is fetched again (RFC 9309 2.4: a
# crawler should not use a cached robots.txt for more than 24 hours).
LINKCRAWL_ROBOTSTXT_MAX_AGE = 24 * 3600.0
# After a 5xx or network error on robots.txt the host is fully disallowed (RFC 9309
# 2.3.1.4) and its requests wait; robots.txt is asked again this long after each failure
# (5 min, Nutch's robots 503 deferral: one request per host per 5 min, fleet-wide).
LINKCRAWL_ROBOTSTXT_RETRY_SECONDS = 300.0
# Once robots.txt has been unreachable this long, the host's requests fail (recorded as
# fetch errors, never fetched) instead of waiting, so a dead host cannot hold a crawl open.
LINKCRAWL_ROBOTSTXT_GIVE_UP_SECONDS = 3600.0
# Redis mode: one worker fetches a host's robots.txt for the fleet; if it has not stored
# the answer after this long (it died), another worker fetches it.
LINKCRAWL_ROBOTSTXT_FETCH_LOCK_SECONDS = 60.0
# Refuse URLs whose host is a literal private, loopback or link-local IP address (SSRF).
LINKCRAWL_BLOCK_PRIVATE_ADDRESSES = True

# --- URL rules and extraction ---------------------------------------------------------
# Query parameters removed by canonicalisation; a trailing "*" makes a prefix.
LINKCRAWL_STRIP_QUERY_PARAMS = [
    "utm_*",
    "gclid",
    "fbclid",
    "msclkid",
    "dclid",
    "gbraid",
    "wbraid",
    "yclid",
    "mc_cid",
    "mc_eid",
    "igshid",
    "_hsenc",
    "_hsmi",
    "mkt_tok",
]
# Anchor text longer than this many characters is cut.
LINKCRAWL_ANCHOR_MAX_CHARS = 256

# --- Parquet output -------------------------------------------------------------------
# Write edges and pages tables (the crawl's whole point; off only for dry runs).
PARQUET_ENABLED = True
# Commit a file once it holds this many rows (per table).
PARQUET_ROWS_PER_FILE = 1_000_000
# Buffered rows are encoded as one Arrow batch / Parquet row group at this size.
PARQUET_BATCH_ROWS = 50_000
# Commit a non-empty file at least this often, so a long crawl publishes steadily.
PARQUET_ROTATE_SECONDS = 60.0
# Parquet codec and level (zstd 3: about the size of gzip at a fraction of the CPU).
PARQUET_COMPRESSION = "zstd"
PARQUET_COMPRESSION_LEVEL = 3
# Local writes failing (a full disk) for this long without a file committed close the
# worker (finish reason parquet_write_failed) instead of crawling on unstored; 0 = never.
PARQUET_WRITE_OUTAGE_CLOSE_SECONDS = 300.0
# S3 endpoint for LINKCRAWL_OUTPUT=s3://... (MinIO, Ceph...): http(s)://host:port;
# empty = AWS, or AWS_ENDPOINT_URL_S3 / AWS_ENDPOINT_URL from the environment.
PARQUET_S3_ENDPOINT_OVERRIDE = ""
# S3 region of the output bucket; empty = AWS_DEFAULT_REGION / the AWS config, else the
# bucket's own region (one request to AWS at start). Credentials: environment only.
PARQUET_S3_REGION = ""

# --- Redis frontier (off unless LINKCRAWL_REDIS_URL is set) ---------------------------
# redis://[:password@]host:port/db or rediss://...; empty = embedded Scrapy scheduler.
LINKCRAWL_REDIS_URL = ""
# Dupefilter buckets = 2**bits; keep seen URLs / 2**bits under ~350 (docs/frontier.md):
# 16 suits crawls up to ~23M URLs; every worker and `linkcrawl seed` must agree.
FRONTIER_SEEN_BUCKET_BITS = 16
# A leased request not acknowledged within this time is requeued by any live worker.
FRONTIER_LEASE_SECONDS = 600.0
# After this many failed attempts (download errors, expired leases) a URL is dead-lettered.
FRONTIER_MAX_ATTEMPTS = 3
# Fleet-wide leases outstanding per host (the fleet-wide twin of CONCURRENT_REQUESTS_PER_DOMAIN).
FRONTIER_MAX_INFLIGHT_PER_HOST = 2
# Exit once the whole frontier has been empty, with nothing in flight, for this long.
FRONTIER_IDLE_CLOSE_SECONDS = 30.0
# Never exit on an empty frontier: wait for new seeds (a long-running service).
FRONTIER_SERVICE_MODE = False
# How often the worker flushes discovered links, publishes its heartbeat and requeues
# expired leases (seconds).
FRONTIER_FLUSH_INTERVAL = 0.05
FRONTIER_HEARTBEAT_INTERVAL = 5.0
# Added to a host's delay (when it has one) so that request arrivals, not just leases,
# stay at least the delay apart (lease-to-arrival time varies: robots.txt, event loop).
FRONTIER_DELAY_MARGIN = 0.1

# --- Authority job (`linkcrawl authority`, docs/authority.md) -------------------------
# PageRank damping factor: the chance that the random surfer follows a link.
AUTHORITY_DAMPING = 0.85
# Stop when an iteration changes the scores by less than this in all (L1; docs/authority.md).
AUTHORITY_TOLERANCE = 1e-6
# ... or after this many iterations (reported as not converged).
AUTHORITY_MAX_ITER = 200
# nofollow/sponsored/ugc links: "exclude" (pass nothing), "include" (weight 1) or a weight.
AUTHORITY_REL_POLICY = "exclude"
# Same-host links in the page graph: "include", "exclude" or a weight in (0, 1].
AUTHORITY_INTERNAL_POLICY = "include"
# Threads for Parquet reading and Arrow kernels; 0 = one per CPU core.
AUTHORITY_THREADS = 0
# Harmonic centrality is exact while rank.harmonic_work() is within this, else sampled.
AUTHORITY_HARMONIC_WORK = 20_000_000
# Fewest sampled sources when the harmonic centrality is estimated.
AUTHORITY_HARMONIC_MIN_SOURCES = 256
# Seed of the random sample of harmonic sources (the output is reproducible).
AUTHORITY_HARMONIC_SEED = 0
# Engine of `linkcrawl authority`: "local" (one machine, numpy) or "spark" (PySpark).
AUTHORITY_ENGINE = "local"
# Spark master of a session the job starts; "" = spark-submit's, else $SPARK_MASTER, else local[*].
AUTHORITY_SPARK_MASTER = ""
# Shuffle partitions and PageRank blocks of the Spark engine; 0 = two shuffle partitions per
# core of a local master (else the session's) and one PageRank block per core.
AUTHORITY_SPARK_PARTITIONS = 0
# Checkpoint the PageRank vector every this many iterations, else cache it: an iteration's
# plan holds the previous one twice, so a plan not cut doubles at each step (keep it <= 4).
AUTHORITY_SPARK_CHECKPOINT_INTERVAL = 1
# PageRank joins the edges with a broadcast copy of the vector while the graph has at most
# this many nodes (16 bytes each), else with a shuffle join.
AUTHORITY_SPARK_BROADCAST_NODES = 4_000_000
# Page graphs of up to this many pages are ranked with the PageRank vector on the driver (8
# bytes a page) and the edges on the executors: ~20x faster per iteration than DataFrames.
AUTHORITY_SPARK_DRIVER_VECTOR_NODES = 50_000_000
# Host (domain) graphs of up to this many sites are collected and ranked on the driver by the
# local engine's code (the same files, bit for bit); bigger ones are ranked on DataFrames.
AUTHORITY_SPARK_DRIVER_SITE_NODES = 2_000_000
# Sources per pass of the DataFrame harmonic centrality: 64 x this (8 bytes a word a node).
AUTHORITY_SPARK_HARMONIC_WORDS = 16
# Heap of the JVM a session started by the job gets (driver, and executors of a local
# master); under spark-submit its --driver-memory applies instead.
AUTHORITY_SPARK_DRIVER_MEMORY = "4g"

# --- Sitemaps (linkcrawl/sitemaps.py, docs/sitemaps.md) -------------------------------
# Read sitemaps in the crawl: request the ones SITEMAP_DISCOVERY finds, record their entries.
SITEMAP_ENABLED = True
# Where a host's sitemaps are looked for once its robots.txt is read: robots (its
# Sitemap: lines), robots+default (also /sitemap.xml when robots.txt names none), off.
SITEMAP_DISCOVERY = "robots"
# Levels of sitemap index files below a discovered sitemap whose children are fetched
# (0: an index's entries are recorded as edges, its child sitemaps not fetched).
SITEMAP_MAX_DEPTH = 2
# Most sitemap files one worker requests per host (0 = no limit): an index fan-out guard.
SITEMAP_MAX_FILES_PER_HOST = 1000
# Most entries read from one sitemap file; the rest is dropped (sitemaps.org: 50,000).
SITEMAP_MAX_URLS = 50_000
# Most bytes read from one sitemap, after gzip decompression (sitemaps.org: 50 MiB).
SITEMAP_MAX_BYTES = 50 * 1024 * 1024
# Which entry hosts a sitemap may list: host (its own, sitemaps.org), domain (same
# registered domain: www/non-www), any. Robots.txt cross-submission adds that host.
SITEMAP_HOST_RULE = "host"
