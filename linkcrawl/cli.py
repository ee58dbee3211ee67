"""The ``linkcrawl`` command: demo, extract, seed, frontier, authority, robots, testweb.

Every user mistake (bad option, unreadable file, bad URL) ends in one line on stderr
starting ``linkcrawl: error:`` and exit status 2, never a traceback.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from collections.abc import Sequence


class CLIError(Exception):
    """A user error: printed as one line, exit status 2."""


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not an integer") from None
    if value <= 0:
        raise argparse.ArgumentTypeError(f"{text!r} must be > 0")
    return value


def cmd_extract(args: argparse.Namespace) -> int:
    """Print the link records of one saved page as JSON lines, then a page record."""
    from linkcrawl.links import extract
    from linkcrawl.urls import URLError, canonicalize

    try:
        url = canonicalize(args.url)
    except URLError as e:
        raise CLIError(f"--url {args.url!r}: {e}") from None
    if args.file == "-":
        body = sys.stdin.buffer.read()
    else:
        try:
            body = Path(args.file).read_bytes()
        except OSError as e:
            raise CLIError(f"cannot read {args.file!r}: {e.strerror or e}") from None
    headers: dict[str, list[str]] = {}
    for header in args.header or []:
        name, sep, value = header.partition(":")
        if not sep or not name.strip():
            raise CLIError(f"--header {header!r} must look like 'Name: value'")
        headers.setdefault(name.strip().lower(), []).append(value.strip())
    facts = extract(body, url, headers)
    out = sys.stdout
    for link in facts.links:
        out.write(json.dumps({"record": "link", **dataclasses.asdict(link)}, ensure_ascii=False))
        out.write("\n")
    page = {k: v for k, v in dataclasses.asdict(facts).items() if k != "links"}
    out.write(json.dumps({"record": "page", **page, "links": len(facts.links)}))
    out.write("\n")
    return 0


def cmd_testweb(rest: list[str]) -> int:
    from linkcrawl.testweb.server import main as testweb_main

    return testweb_main(rest)


def cmd_demo(args: argparse.Namespace) -> int:
    from linkcrawl.demo import run_demo
    from linkcrawl.testweb.generator import TestWebConfig

    try:
        TestWebConfig(pages=args.pages, hosts=args.hosts, seed=args.seed)
    except ValueError as e:
        raise CLIError(f"--pages/--hosts: {e}") from None

    return run_demo(output=Path(args.output), pages=args.pages, seed=args.seed, hosts=args.hosts)


def _option_number(option: str, text: str | None, kind: type[int] | type[float]) -> Any:
    """An option's number, or the job's default (None); one-line error otherwise."""
    if text is None:
        return None
    try:
        return kind(text)
    except ValueError:
        what = "an integer" if kind is int else "a number"
        raise CLIError(f"{option} {text!r}: not {what}") from None


# `linkcrawl authority -s NAME=VALUE`: the job's tunables that have no option of their own
# (defaults in linkcrawl/defaults.py), and the field each sets: of the job's configuration,
# or of the Spark engine's options (used only with --engine spark).
AUTHORITY_SETTINGS: dict[str, tuple[str, str, type[int] | type[str]]] = {
    "AUTHORITY_HARMONIC_WORK": ("job", "harmonic_work", int),
    "AUTHORITY_HARMONIC_MIN_SOURCES": ("job", "harmonic_min_sources", int),
    "AUTHORITY_HARMONIC_SEED": ("job", "harmonic_seed", int),
    "AUTHORITY_SPARK_CHECKPOINT_INTERVAL": ("spark", "checkpoint_interval", int),
    "AUTHORITY_SPARK_DRIVER_VECTOR_NODES": ("spark", "driver_vector_nodes", int),
    "AUTHORITY_SPARK_DRIVER_SITE_NODES": ("spark", "driver_site_nodes", int),
    "AUTHORITY_SPARK_HARMONIC_WORDS": ("spark", "harmonic_words", int),
    "AUTHORITY_SPARK_DRIVER_MEMORY": ("spark", "driver_memory", str),
}


def _authority_settings(pairs: list[str]) -> dict[str, dict[str, Any]]:
    """``-s NAME=VALUE`` options -> ``{"job": {field: value}, "spark": {field: value}}``."""
    chosen: dict[str, dict[str, Any]] = {"job": {}, "spark": {}}
    for pair in pairs:
        name, sep, text = pair.partition("=")
        name = name.strip()
        if not sep or name not in AUTHORITY_SETTINGS:
            known = ", ".join(AUTHORITY_SETTINGS)
            raise CLIError(f"-s {pair!r}: expected NAME=VALUE with NAME one of {known}")
        where, field, kind = AUTHORITY_SETTINGS[name]
        value = text.strip()
        chosen[where][field] = _option_number(f"-s {name}", value, int) if kind is int else value
    return chosen


def cmd_authority(args: argparse.Namespace) -> int:
    """Rank the pages, hosts and domains of a crawl's edges (docs/authority.md)."""
    from linkcrawl.authority.job import AuthorityConfig, AuthorityError, format_summary, run

    numbers = {
        "damping": _option_number("--damping", args.damping, float),
        "tol": _option_number("--tol", args.tol, float),
        "max_iter": _option_number("--max-iter", args.max_iter, int),
        "threads": _option_number("--threads", args.threads, int),
    }
    options: dict[str, Any] = {k: v for k, v in numbers.items() if v is not None}
    settings = _authority_settings(args.set or [])
    options.update(settings["job"])
    if settings["spark"] and args.engine != "spark":
        name = next(n for n, (where, field, _) in AUTHORITY_SETTINGS.items()
                    if where == "spark" and field in settings["spark"])  # fmt: skip
        raise CLIError(f"-s {name}: a setting of the Spark engine; add --engine spark")
    if args.rel_policy is not None:
        options["rel_policy"] = args.rel_policy
    if args.internal_policy is not None:
        options["internal_policy"] = args.internal_policy
    config = AuthorityConfig(
        input=Path(args.input),
        output=Path(args.output) if args.output else Path(args.input) / "authority",
        crawl_ids=tuple(args.crawl_id or ()),
        trust_seeds=Path(args.trust_seeds) if args.trust_seeds else None,
        overwrite=args.overwrite,
        **options,
    )
    try:
        if args.engine == "spark":
            # pyspark is imported only here: the local engine never loads it.
            from linkcrawl.authority import spark

            partitions = _option_number("--spark-partitions", args.spark_partitions, int)
            spark_options = spark.SparkOptions(
                **({} if args.spark_master is None else {"master": args.spark_master}),
                **({} if partitions is None else {"partitions": partitions}),
                **settings["spark"],
            )
            summary = spark.run(config, options=spark_options, progress=sys.stderr)
        else:
            summary = run(config, progress=sys.stderr)
    except AuthorityError as e:
        raise CLIError(str(e)) from None
    print(format_summary(summary))
    return 0


def _frontier(args: argparse.Namespace) -> Any:
    """The Redis frontier named by --redis-url/--crawl-id (or LINKCRAWL_* variables)."""
    from linkcrawl import defaults
    from linkcrawl.frontier.scheduler import redis_client
    from linkcrawl.frontier.store import Frontier, FrontierConfig
    from linkcrawl.policy import PolicyError, check_crawl_id

    url = args.redis_url or os.environ.get("LINKCRAWL_REDIS_URL")
    if not url:
        raise CLIError("no Redis: pass --redis-url or set LINKCRAWL_REDIS_URL")
    crawl_id = args.crawl_id or os.environ.get("LINKCRAWL_CRAWL_ID") or defaults.LINKCRAWL_CRAWL_ID
    try:
        config = FrontierConfig(
            prefix=f"linkcrawl:{check_crawl_id(crawl_id)}",
            seen_bucket_bits=args.seen_bucket_bits,
        )
        return Frontier(redis_client(url), config)
    except PolicyError as e:
        raise CLIError(str(e)) from None


def _redis_call(func: Any, *args: Any, **kwargs: Any) -> Any:
    from linkcrawl.frontier.store import FrontierError

    try:
        return func(*args, **kwargs)
    except FrontierError as e:
        raise CLIError(str(e)) from None


def cmd_seed(args: argparse.Namespace) -> int:
    """Add seed URLs to the Redis frontier (they pass its dupefilter)."""
    from linkcrawl.frontier.store import FrontierRequest
    from linkcrawl.policy import PolicyError, load_seeds
    from linkcrawl.urls import DEFAULT_STRIP_QUERY_PARAMS, fingerprint, url_host

    try:
        urls = load_seeds(",".join(args.urls) if args.urls else None, args.file,
                          DEFAULT_STRIP_QUERY_PARAMS)  # fmt: skip
    except PolicyError as e:
        raise CLIError(str(e)) from None
    frontier = _frontier(args)
    requests = [FrontierRequest(u, url_host(u), fingerprint(u), 0) for u in urls]
    added = 0
    for start in range(0, len(requests), 10_000):
        added += _redis_call(frontier.add, requests[start : start + 10_000])
    print(f"{added} seeds added, {len(requests) - added} already seen "
          f"({frontier.config.prefix})")  # fmt: skip
    return 0


def cmd_frontier(args: argparse.Namespace) -> int:
    frontier = _frontier(args)
    if args.action == "reset":
        if not args.yes:
            raise CLIError(f"this deletes every key of {frontier.config.prefix}; add --yes")
        deleted = _redis_call(frontier.reset)
        print(f"{frontier.config.prefix}: {deleted} keys deleted")
        return 0
    status = _redis_call(frontier.status, top_n=args.top)
    if args.json:
        print(json.dumps(status, indent=2, sort_keys=True, default=str))
        return 0
    print(format_status(frontier.config.prefix, status))
    return 0


def format_status(prefix: str, status: dict[str, Any]) -> str:
    counts = status.get("counts", {})
    lines = [f"frontier {prefix}"]
    for key in ("queued", "inflight", "seen", "dead_letters", "hosts_queued"):
        if key in counts:
            lines.append(f"  {key:<14} {counts[key]:>12,}")
    for key, value in sorted(counts.items()):
        if key not in ("queued", "inflight", "seen", "dead_letters", "hosts_queued"):
            lines.append(f"  {key:<14} {value:>12}")
    buckets = status.get("seen_buckets") or {}
    if buckets:
        lines.append(f"  dupefilter     2**{buckets.get('bits')} buckets, "
                     f"{buckets.get('load', 0):.1f} URLs per bucket")  # fmt: skip
        if buckets.get("over_limit"):
            lines.append(
                "  WARNING: dupefilter buckets are nearly full (Redis will switch them to a "
                "bigger encoding); start the next crawl with a larger FRONTIER_SEEN_BUCKET_BITS"
            )
    hosts = status.get("top_hosts") or []
    if hosts:
        lines.append("  backlog by host:")
        lines += [f"    {h['host']:<40} {h['queued']:>10,}" for h in hosts]
    workers = status.get("workers") or {}
    lines.append(f"  workers: {len(workers)}")
    for name, info in sorted(workers.items()):
        age = info.get("age_seconds")
        age_text = f"{age:.0f}s ago" if isinstance(age, int | float) else "?"
        lines.append(f"    {name:<40} heartbeat {age_text:>8}  "
                     f"{info.get('pages_per_min', '?')} pages/min")  # fmt: skip
    robots = status.get("robots_unreachable") or {}
    if robots.get("hosts"):
        # their pages wait in the frontier until robots.txt answers (docs/robots.md)
        lines.append(f"  robots.txt unreachable: {robots['hosts']:,} hosts (their pages wait)")
        now = status.get("time") or 0.0
        for h in robots.get("sample") or []:
            what = f"HTTP {h['status']}" if h.get("status") else h.get("reason") or "?"
            lines.append(f"    {h['host']:<40} since {now - h['since']:>6.0f}s  {what}")
    dead = status.get("dead_letters") or []
    if dead:
        lines.append("  dead letters (sample):")
        lines += [f"    {d.get('url')}  {d.get('reason')}" for d in dead]
    return "\n".join(lines)


# --------------------------------------------------------------------------- robots check

#: Seconds to wait for a robots.txt server (connect, and each read).
ROBOTS_FETCH_TIMEOUT = 10.0


@dataclasses.dataclass(frozen=True)
class RobotsSource:
    """A robots.txt as ``robots check`` got it: the body, or an HTTP outcome without one.

    ``verdict`` is None when there is a body to parse; otherwise ``True`` (4xx, too many
    redirects: everything allowed) or ``False`` (5xx, network error: everything
    disallowed), RFC 9309 2.3.1.
    """

    name: str
    status: str
    body: bytes = b""
    verdict: bool | None = None


def _robots_url(text: str) -> str | None:
    """The robots.txt URL ``--robots`` names (a site URL gives its /robots.txt), or None
    when it is not a URL; an error for a URL that is not http(s)."""
    from urllib.parse import urlsplit, urlunsplit

    if "://" not in text:
        return None
    try:
        parts = urlsplit(text)
        parts.port  # noqa: B018  (raises on a bad port)
    except ValueError as e:
        raise CLIError(f"--robots {text!r}: {e}") from None
    if parts.scheme.lower() not in ("http", "https") or not parts.hostname:
        raise CLIError(f"--robots {text!r}: not an http(s) URL or a file")
    if parts.path == "/robots.txt":
        return urlunsplit((parts.scheme, parts.netloc, parts.path, parts.query, ""))
    return urlunsplit((parts.scheme, parts.netloc, "/robots.txt", "", ""))


def fetch_robots(url: str, user_agent: str, timeout: float = ROBOTS_FETCH_TIMEOUT) -> RobotsSource:
    """GET a robots.txt with the standard library: the first MAX_BODY_BYTES of a 2xx body,
    or what RFC 9309 makes of a failure. Proxies come from the environment."""
    import http.client
    import urllib.error
    import urllib.request

    from linkcrawl.robots import MAX_BODY_BYTES
    from linkcrawl.robotsfetch import ROBOTS_MAX_REDIRECTS, kind_of_status

    class Redirects(urllib.request.HTTPRedirectHandler):
        max_redirections = ROBOTS_MAX_REDIRECTS

    opener = urllib.request.build_opener(Redirects())
    request = urllib.request.Request(url, headers={"User-Agent": user_agent})
    try:
        with opener.open(request, timeout=timeout) as response:
            body = response.read(MAX_BODY_BYTES + 1)
            status = f"HTTP {response.status}"
            final = response.geturl()
    except urllib.error.HTTPError as e:
        e.close()
        # Read as the crawl reads it (linkcrawl.robotsfetch).
        if kind_of_status(e.code) == "unreachable":
            return RobotsSource(
                url, f"HTTP {e.code}: unreachable, everything disallowed", verdict=False
            )
        if 300 <= e.code < 400:
            why = f"HTTP {e.code}, more than {ROBOTS_MAX_REDIRECTS} redirects: unavailable"
            return RobotsSource(url, f"{why}, everything allowed", verdict=True)
        return RobotsSource(url, f"HTTP {e.code}: unavailable, everything allowed", verdict=True)
    except (OSError, http.client.HTTPException) as e:
        reason = getattr(e, "reason", None) or e
        return RobotsSource(url, f"{reason}: unreachable, everything disallowed", verdict=False)
    if final != url:
        status += f" from {final}"
    return RobotsSource(url, _size_status(status, body, MAX_BODY_BYTES), body=body)


def _size_status(status: str, body: bytes, limit: int) -> str:
    if len(body) > limit:
        return f"{status}, more than {limit:,} bytes: the first {limit:,} read"
    return f"{status}, {len(body):,} bytes" if status else f"{len(body):,} bytes"


def _read_robots(text: str, user_agent: str) -> RobotsSource:
    from linkcrawl.robots import MAX_BODY_BYTES

    url = _robots_url(text)
    if url is not None:
        return fetch_robots(url, user_agent)
    try:
        with open(text, "rb") as file:
            body = file.read(MAX_BODY_BYTES + 1)
    except OSError as e:
        raise CLIError(f"cannot read {text!r}: {e.strerror or e}") from None
    return RobotsSource(text, _size_status("", body, MAX_BODY_BYTES), body=body)


def _checked_url(text: str) -> str:
    """A URL or path to check, percent-encoded as Scrapy's Request encodes it."""
    from urllib.parse import urlsplit

    from w3lib.url import safe_url_string

    try:
        parts = urlsplit(text)
        parts.port  # noqa: B018  (raises on a bad port)
    except ValueError as e:
        raise CLIError(f"URL {text!r}: {e}") from None
    is_path = text.startswith("/") and not text.startswith("//")
    is_url = parts.scheme.lower() in ("http", "https") and bool(parts.hostname)
    if not (is_path or is_url):
        raise CLIError(f"URL {text!r}: not an http(s) URL or a path starting with '/'")
    return safe_url_string(text)


def cmd_robots_check(args: argparse.Namespace) -> int:
    """Print allowed/disallowed and the deciding rule for each URL; 1 if any is disallowed."""
    from linkcrawl.robots import agent_of_line, parse_robots, path_params_query, product_token

    if args.agent is None:
        from linkcrawl import settings

        args.agent = settings.ROBOTSTXT_USER_AGENT
    token = product_token(args.agent)
    if not token:
        raise CLIError(f"--agent {args.agent!r}: no product token (letters, '-', '_') "
                       "at its start")  # fmt: skip
    urls = [_checked_url(url) for url in args.urls]
    source = _read_robots(args.robots, args.agent)
    print(f"robots.txt  {source.name}  ({source.status})")
    robots = parse_robots(source.body) if source.verdict is None else None
    if robots is None:
        print(f"agent       {token}")
    else:
        groups = robots.groups_for(token)
        named = any(agent_of_line(token) in group.agents for group in groups)
        group = token if named else "*" if groups else "none applies: everything allowed"
        print(f"agent       {token}  (group: {group})")
        delay = robots.crawl_delay(token)
        if delay is not None:
            print(f"crawl-delay {delay:g}")
        for sitemap in robots.sitemaps:
            print(f"sitemap     {sitemap}")
    width = max(len(url) for url in urls)
    any_disallowed = False
    for url in urls:
        if robots is None:
            allowed = bool(source.verdict)
            why = "no robots.txt" if allowed else "robots.txt unreachable"
        else:
            rule = robots.decision(url, token)
            allowed = rule is None or rule.kind == "allow"
            if rule is not None:
                why = f"{rule.kind}: {rule.pattern}  line {rule.line}"
            elif path_params_query(url).partition("?")[0] == "/robots.txt":
                why = "robots.txt itself is always allowed"
            else:
                why = "no rule matches"
        any_disallowed = any_disallowed or not allowed
        verdict = "allowed" if allowed else "disallowed"
        print(f"{verdict:<10}  {url:<{width}}   ({why})")
    return 1 if any_disallowed else 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="linkcrawl", description="Backlink crawler: crawl, extract, rank, test web."
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    demo = sub.add_parser("demo", help="crawl the built-in test web end to end, offline")
    demo.add_argument("--output", default="out/demo", help="output root (default out/demo)")
    demo.add_argument("--pages", type=_positive_int, default=2000, help="test web pages")
    demo.add_argument("--hosts", type=_positive_int, default=20, help="test web hosts")
    demo.add_argument("--seed", type=int, default=0, help="test web seed")
    demo.set_defaults(func=cmd_demo)

    ext = sub.add_parser("extract", help="print the link records of one saved page")
    ext.add_argument("file", help="saved HTML file, or - for stdin")
    ext.add_argument("--url", required=True, help="the URL the page was fetched from")
    ext.add_argument(
        "--header",
        action="append",
        metavar="'NAME: VALUE'",
        help="a response header (Content-Type, X-Robots-Tag, Link); repeatable",
    )
    ext.set_defaults(func=cmd_extract)

    def redis_options(p: argparse.ArgumentParser) -> None:
        p.add_argument("--redis-url", help="default: $LINKCRAWL_REDIS_URL")
        p.add_argument("--crawl-id", help="default: $LINKCRAWL_CRAWL_ID or 'default'")
        p.add_argument(
            "--seen-bucket-bits", type=_positive_int, default=16,
            help="must match the workers' FRONTIER_SEEN_BUCKET_BITS (default 16)",
        )  # fmt: skip

    seed = sub.add_parser("seed", help="add seed URLs to the Redis frontier")
    seed.add_argument("urls", nargs="*", metavar="URL")
    seed.add_argument("--file", help="file of URLs, one a line (# comments)")
    redis_options(seed)
    seed.set_defaults(func=cmd_seed)

    front = sub.add_parser("frontier", help="inspect or reset the Redis frontier")
    front.add_argument("action", choices=["status", "reset"])
    front.add_argument("--top", type=_positive_int, default=10, help="hosts in the backlog list")
    front.add_argument("--json", action="store_true", help="machine-readable status")
    front.add_argument("--yes", action="store_true", help="confirm reset")
    redis_options(front)
    front.set_defaults(func=cmd_frontier)

    from linkcrawl import defaults as d

    auth = sub.add_parser(
        "authority",
        help="rank pages, hosts and domains of a crawl's edges (PageRank, TrustRank, harmonic)",
        description="Read <input>/edges, apply the graph rules of docs/authority.md and write "
        "pages.parquet, hosts.parquet and domains.parquet under --output.",
    )
    auth.add_argument("--input", required=True, help="the crawl's output root (LINKCRAWL_OUTPUT)")
    auth.add_argument("--crawl-id", action="extend", nargs="+", metavar="ID",
                      help="only these crawls' partitions (default: all)")  # fmt: skip
    auth.add_argument("--output", help="output directory (default <input>/authority)")
    auth.add_argument("--damping", help=f"PageRank damping factor (default {d.AUTHORITY_DAMPING})")
    auth.add_argument("--tol", help=f"convergence tolerance (default {d.AUTHORITY_TOLERANCE:g}): "
                      "stop when an iteration changes the scores by less (L1)")  # fmt: skip
    auth.add_argument("--max-iter", help=f"most power iterations (default {d.AUTHORITY_MAX_ITER})")
    auth.add_argument("--rel-policy", metavar="exclude|include|WEIGHT",
                      help="nofollow/sponsored/ugc links (default "
                      f"{d.AUTHORITY_REL_POLICY})")  # fmt: skip
    auth.add_argument("--internal-policy", metavar="include|exclude|WEIGHT",
                      help="same-host links in the page graph (default "
                      f"{d.AUTHORITY_INTERNAL_POLICY})")  # fmt: skip
    auth.add_argument("--trust-seeds", metavar="FILE",
                      help="trusted seed URLs, one a line: adds TrustRank columns")  # fmt: skip
    auth.add_argument("--threads", help="threads for reading (default 0 = one per core)")
    auth.add_argument("--overwrite", action="store_true",
                      help="replace a previous authority output in --output")  # fmt: skip
    auth.add_argument("--engine", choices=("local", "spark"), default=d.AUTHORITY_ENGINE,
                      help="local: this machine (numpy); spark: PySpark, docs/authority.md "
                      f"'Spark engine' (default {d.AUTHORITY_ENGINE})")  # fmt: skip
    auth.add_argument("--spark-master", metavar="URL",
                      help="with --engine spark: the master of the session it starts (default: "
                      "spark-submit's, else $SPARK_MASTER, else local[*])")  # fmt: skip
    auth.add_argument("--spark-partitions", metavar="N",
                      help="with --engine spark: shuffle partitions and PageRank blocks "
                      "(default 0: two partitions and one block per core)")  # fmt: skip
    auth.add_argument("-s", "--set", action="append", metavar="NAME=VALUE",
                      help="a tunable without an option, e.g. AUTHORITY_HARMONIC_WORK="
                      "100000000 (docs/authority.md lists them)")  # fmt: skip
    auth.set_defaults(func=cmd_authority)

    robots = sub.add_parser("robots", help="robots.txt tools: 'linkcrawl robots check --help'")
    robots_sub = robots.add_subparsers(dest="robots_command", required=True, metavar="ACTION")
    check = robots_sub.add_parser(
        "check",
        help="whether robots.txt allows URLs, and the rule that decided",
        description="Print, for each URL, allowed or disallowed and the robots.txt rule that "
        "decided (docs/robots.md). Exit status 0 when all are allowed, 1 when one is not.",
    )
    check.add_argument("urls", nargs="+", metavar="URL",
                       help="an http(s) URL or a path starting with '/'")  # fmt: skip
    check.add_argument("--robots", required=True, metavar="FILE|URL",
                       help="a robots.txt file, its http(s) URL, or a URL of the site")  # fmt: skip
    check.add_argument("--agent", metavar="UA",
                       help="the crawler's user agent (default: ROBOTSTXT_USER_AGENT, "
                       "'linkcrawl'); its product token is matched")  # fmt: skip
    check.set_defaults(func=cmd_robots_check)

    web = sub.add_parser(
        "testweb", help="the synthetic test web: 'linkcrawl testweb serve --help'", add_help=False
    )
    web.set_defaults(func=None)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    parser = build_parser()
    # `testweb` hands its arguments to the test web's own parser.
    if argv[:1] == ["testweb"]:
        try:
            return cmd_testweb(argv[1:])
        except KeyboardInterrupt:
            return 130
    args = parser.parse_args(argv)
    try:
        return int(args.func(args))
    except CLIError as e:
        print(f"linkcrawl: error: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
