"""``linkcrawl demo``: start the test web, crawl it with ``scrapy crawl backlinks`` on the
embedded scheduler, summarise the Parquet it wrote, and rank it with the authority job
(``linkcrawl authority``). Offline and self-contained."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from typing import IO, TYPE_CHECKING

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.dataset as ds

from linkcrawl.schema import PARTITION_COLUMN, TABLES

if TYPE_CHECKING:
    from pathlib import Path

DEMO_CRAWL_ID = "demo"


class DemoError(RuntimeError):
    pass


def start_testweb(pages: int, seed: int, hosts: int) -> tuple[subprocess.Popen[str], str]:
    """Run the test web in its own process (a crawl and a server sharing one GIL would
    measure the GIL) and return it with its address."""
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "linkcrawl.testweb",
            "serve",
            "--pages",
            str(pages),
            "--seed",
            str(seed),
            "--hosts",
            str(hosts),
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    assert proc.stdout is not None
    line = proc.stdout.readline().strip()
    prefix = "testweb listening on "
    if not line.startswith(prefix):
        proc.kill()
        raise DemoError(f"test web did not start (said {line!r})")
    return proc, line.removeprefix(prefix)


def crawl_command(
    seeds_file: Path, output: Path, crawl_id: str, extra: dict[str, str]
) -> list[str]:
    settings = {
        "LINKCRAWL_OUTPUT": str(output),
        "LINKCRAWL_CRAWL_ID": crawl_id,
        # The test web is ours: no politeness delay, several connections per host.
        "DOWNLOAD_DELAY": "0",
        "CONCURRENT_REQUESTS": "32",
        "CONCURRENT_REQUESTS_PER_DOMAIN": "8",
        "LOGSTATS_INTERVAL": "5",
        **extra,
    }
    cmd = [sys.executable, "-m", "scrapy", "crawl", "backlinks", "-a", f"seeds_file={seeds_file}"]
    for key, value in settings.items():
        cmd += ["-s", f"{key}={value}"]
    return cmd


def crawl_env(proxy: str) -> dict[str, str]:
    env = dict(os.environ)
    env.update(
        SCRAPY_SETTINGS_MODULE="linkcrawl.settings",
        http_proxy=proxy,
        HTTP_PROXY=proxy,
        no_proxy="",
        NO_PROXY="",
    )
    return env


def _table(output: Path, table: str, crawl_id: str) -> pa.Table:
    path = output / table / f"{PARTITION_COLUMN}={crawl_id}"
    if not path.exists():
        raise DemoError(f"no {table} written under {path}")
    return ds.dataset(path, format="parquet").to_table()


def _count_by(table: pa.Table, column: str) -> list[tuple[object, int]]:
    counts = table.group_by(column).aggregate([([], "count_all")]).to_pylist()
    rows = [(r[column], int(r["count_all"])) for r in counts]
    return sorted(rows, key=lambda r: (-r[1], str(r[0])))


def summarise(output: Path, crawl_id: str, elapsed: float, out: IO[str]) -> None:
    pages = _table(output, "pages", crawl_id)
    edges = _table(output, "edges", crawl_id)
    w = out.write
    w(
        f"\nCrawl {crawl_id!r}: {pages.num_rows} pages, {edges.num_rows} edges in {elapsed:.1f}s "
        f"({pages.num_rows / max(elapsed, 1e-9):.0f} pages/s)\n"
    )
    status = pc.if_else(pc.is_null(pages["status"]), "error", pc.cast(pages["status"], pa.string()))
    w("\nPages by status:\n")
    for value, n in _count_by(pa.table({"status": status}), "status"):
        w(f"  {value:>8}  {n}\n")
    w("\nEdges by type:\n")
    for value, n in _count_by(edges, "link_type"):
        w(f"  {value:>10}  {n}\n")
    rel = pc.if_else(
        edges["nofollow"],
        "nofollow",
        pc.if_else(edges["sponsored"], "sponsored", pc.if_else(edges["ugc"], "ugc", "dofollow")),
    )
    w("\nEdges by rel (nofollow > sponsored > ugc > dofollow):\n")
    for value, n in _count_by(pa.table({"rel": rel}), "rel"):
        w(f"  {value:>10}  {n}\n")
    external = edges.filter(pc.invert(edges["internal"]))
    pairs = (
        external.group_by(["target_host", "source_host"])
        .aggregate([])
        .group_by("target_host")
        .aggregate([([], "count_all")])
        .to_pylist()
    )
    pairs.sort(key=lambda r: (-r["count_all"], r["target_host"]))
    w("\nTop hosts by referring hosts:\n")
    for r in pairs[:10]:
        w(f"  {r['target_host']:<28} {r['count_all']}\n")
    for table in TABLES:
        w(f"\n{table}: {output / table}/{PARTITION_COLUMN}={crawl_id}/")
    w("\n")


def rank_demo(output: Path, crawl_id: str, out: IO[str], top: int = 10) -> None:
    """Run the authority job on the demo crawl and print the top pages, hosts, domains."""
    import pyarrow.parquet as pq

    from linkcrawl.authority.job import AuthorityConfig, run

    target = output / "authority"
    summary = run(
        AuthorityConfig(input=output, output=target, crawl_ids=(crawl_id,), overwrite=True)
    )
    c = summary["counts"]
    w = out.write
    w(f"\nAuthority (linkcrawl authority --input {output} --crawl-id {crawl_id}): "
      f"{c['nodes']} pages, {c['hosts']} hosts, {c['domains']} domains, "
      f"{c['edges_kept']} ranking edges, {summary['seconds']:.2f} s\n")  # fmt: skip
    for name, key, extra in (
        ("pages", "url", "referring_pages"),
        ("hosts", "host", "referring_hosts"),
        ("domains", "domain", "referring_domains"),
    ):
        rows = pq.read_table(target / f"{name}.parquet", columns=[key, "rank", "score", extra])
        w(f"\nTop {name} by PageRank (score 0-100, {extra.replace('_', ' ')}):\n")
        for r in rows.slice(0, top).to_pylist():
            w(f"  {r['rank']:>3}  {r['score']:6.2f}  {r[extra]:>5}  {r[key]}\n")
    w(f"\nauthority: {target}/{{pages,hosts,domains}}.parquet\n")


def run_demo(output: Path, pages: int, seed: int, hosts: int) -> int:
    from linkcrawl.testweb.generator import TestWeb, TestWebConfig

    out = sys.stdout
    for table in TABLES:
        shutil.rmtree(output / table / f"{PARTITION_COLUMN}={DEMO_CRAWL_ID}", ignore_errors=True)
    output.mkdir(parents=True, exist_ok=True)
    web = TestWeb(TestWebConfig(pages=pages, hosts=hosts, seed=seed))
    seeds_file = output / "seeds.txt"
    seeds_file.write_text("\n".join(web.seeds()) + "\n", encoding="utf-8")
    server, address = start_testweb(pages, seed, hosts)
    log_path = output / "crawl.log"
    try:
        out.write(f"Test web: {pages} pages on {hosts} hosts at {address} (HTTP proxy)\n")
        cmd = crawl_command(seeds_file, output, DEMO_CRAWL_ID, {"LOG_FILE": str(log_path)})
        out.write(f"Crawling: scrapy crawl backlinks -a seeds_file=... (log: {log_path})\n")
        out.flush()
        started = time.monotonic()
        result = subprocess.run(cmd, env=crawl_env(address), check=False)
        elapsed = time.monotonic() - started
    finally:
        server.terminate()
        server.wait(timeout=10)
        if server.stdout is not None:
            server.stdout.close()
    if result.returncode != 0:
        out.write(f"crawl failed with exit status {result.returncode}; see {log_path}\n")
        return result.returncode or 1
    try:
        summarise(output, DEMO_CRAWL_ID, elapsed, out)
        rank_demo(output, DEMO_CRAWL_ID, out)
    except (DemoError, ValueError) as e:
        out.write(f"linkcrawl: error: {e}\n")
        return 1
    return 0
