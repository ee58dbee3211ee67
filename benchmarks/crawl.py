"""Benchmark: whole crawls of the same test web, in one run, by four crawlers.

    python benchmarks/crawl.py [--pages 20000] [--hosts 20] [--skip-plain]

1. plain Scrapy: its own scheduler, ``LinkExtractor``, one JSON-lines feed item per link
   (``benchmarks/plain_scrapy_spider.py``), the baseline. Scrapy does not canonicalise
   URLs the way linkcrawl does, so it re-fetches the test web's URL variants (``:80``,
   ``utm_*``, upper-case hosts...) without end; it is stopped after as many pages as the
   test web has (``CLOSESPIDER_PAGECOUNT``), and its rate is pages fetched per second;
2. linkcrawl embedded (Scrapy's scheduler, lexbor extraction, Parquet);
3. linkcrawl with the Redis frontier, 1 worker;
4. linkcrawl with the Redis frontier, 2 workers.

Every crawl gets the same settings where they apply: robots.txt obeyed, no download delay,
32 concurrent requests, 8 per host, the same DEPTH_LIMIT, a fresh test web server process
(hit counters reset) and, for the Redis runs, a fresh redis-server on a free port. Figures:
pages/s (fetched pages / wall time of the crawl processes) and CPU ms per page (user+sys
CPU of the crawler processes, from ``os.wait4``, divided by pages; the test web server and
Redis are not counted). The machine is shared: compare the ratios, printed last as JSON.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from linkcrawl.testweb.generator import TestWeb, TestWebConfig  # noqa: E402
from tests.redis_server import RedisServer  # noqa: E402

COMMON = {
    "DOWNLOAD_DELAY": "0",
    "CONCURRENT_REQUESTS": "32",
    "CONCURRENT_REQUESTS_PER_DOMAIN": "8",
    "DEPTH_LIMIT": "8",
    "LOG_LEVEL": "INFO",
    "TELNETCONSOLE_ENABLED": "False",
}


def start_web(config: TestWebConfig) -> tuple[subprocess.Popen[str], str]:
    cmd = [sys.executable, "-m", "linkcrawl.testweb", "serve", "--pages", str(config.pages),
           "--hosts", str(config.hosts), "--seed", str(config.seed)]  # fmt: skip
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, text=True, cwd=ROOT)
    assert proc.stdout is not None
    line = proc.stdout.readline().strip()
    return proc, line.removeprefix("testweb listening on ")


def env_for(proxy: str, settings_module: bool) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.lower().endswith("_proxy")}
    env["http_proxy"] = env["HTTP_PROXY"] = proxy
    env["PYTHONPATH"] = str(ROOT)
    if settings_module:
        env["SCRAPY_SETTINGS_MODULE"] = "linkcrawl.settings"
    return env


def run_processes(cmds: list[list[str]], env: dict[str, str], workdir: Path) -> dict[str, float]:
    """Start the commands together; wall time until all exit and their summed CPU."""
    started = time.monotonic()
    procs = []
    for i, cmd in enumerate(cmds):
        log = open(workdir / f"log-{i}.txt", "wb")  # noqa: SIM115
        procs.append((subprocess.Popen(cmd, env=env, cwd=workdir, stdout=log,
                                       stderr=subprocess.STDOUT), log))  # fmt: skip
    cpu = 0.0
    for proc, log in procs:
        _, status, usage = os.wait4(proc.pid, 0)
        proc.returncode = os.waitstatus_to_exitcode(status)
        log.close()
        if proc.returncode != 0:
            raise SystemExit(f"crawl failed ({proc.returncode}); see {log.name}")
        cpu += usage.ru_utime + usage.ru_stime
    return {"wall": time.monotonic() - started, "cpu": cpu}


def pages_fetched(proxy: str) -> int:
    import urllib.request

    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    with opener.open(proxy + "/_testweb/hits", timeout=10) as resp:
        hits = json.loads(resp.read())
    return sum(n for url, n in hits.items() if not url.endswith("/robots.txt"))


def settings_args(settings: dict[str, str]) -> list[str]:
    return [arg for k, v in settings.items() for arg in ("-s", f"{k}={v}")]


def bench(name: str, config: TestWebConfig, workdir: Path, build: Any) -> dict[str, float]:
    web_proc, proxy = start_web(config)
    try:
        run_dir = workdir / name
        run_dir.mkdir()
        cmds, env, before = build(run_dir, proxy)
        if before is not None:
            before()
        result = run_processes(cmds, env, run_dir)
        pages = pages_fetched(proxy)
    finally:
        web_proc.terminate()
        web_proc.wait()
        if web_proc.stdout is not None:
            web_proc.stdout.close()
    figures = {
        "pages": pages,
        "wall_s": round(result["wall"], 2),
        "pages_per_s": round(pages / result["wall"], 1),
        "cpu_ms_per_page": round(1000 * result["cpu"] / pages, 2),
    }
    print(f"{name:<24} {pages:>7} pages {figures['wall_s']:>8.1f} s "
          f"{figures['pages_per_s']:>8.1f} pages/s {figures['cpu_ms_per_page']:>7.2f} CPU ms/page",
          flush=True)  # fmt: skip
    return figures


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--pages", type=int, default=20_000)
    parser.add_argument("--hosts", type=int, default=20)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--skip-plain", action="store_true", help="skip the slow baseline")
    args = parser.parse_args()
    config = TestWebConfig(pages=args.pages, hosts=args.hosts, seed=args.seed)
    seeds = TestWeb(config).seeds()
    workdir = Path(tempfile.mkdtemp(prefix="linkcrawl-bench-"))
    seeds_file = workdir / "seeds.txt"
    seeds_file.write_text("\n".join(seeds) + "\n")
    print(f"test web: {args.pages} pages on {args.hosts} hosts; work dir {workdir}")
    results: dict[str, dict[str, float]] = {}

    def plain(run_dir: Path, proxy: str) -> Any:
        cmd = [sys.executable, "-m", "scrapy", "runspider",
               str(ROOT / "benchmarks" / "plain_scrapy_spider.py"),
               "-a", f"seeds_file={seeds_file}", "-o", str(run_dir / "links.jsonl"),
               *settings_args({**COMMON, "ROBOTSTXT_OBEY": "True",
                               "CLOSESPIDER_PAGECOUNT": str(args.pages)})]  # fmt: skip
        return [cmd], env_for(proxy, settings_module=False), None

    def linkcrawl(run_dir: Path, proxy: str, extra: dict[str, str] | None = None,
                  workers: int = 1, before: Any = None) -> Any:  # fmt: skip
        settings = {**COMMON, "LINKCRAWL_OUTPUT": str(run_dir / "out"),
                    "LINKCRAWL_CRAWL_ID": "bench", **(extra or {})}  # fmt: skip
        spider_args = [] if extra and "LINKCRAWL_REDIS_URL" in extra else [
            "-a", f"seeds_file={seeds_file}"]  # fmt: skip
        cmd = [sys.executable, "-m", "scrapy", "crawl", "backlinks", *spider_args,
               *settings_args(settings)]  # fmt: skip
        return [cmd] * workers, env_for(proxy, settings_module=True), before

    if not args.skip_plain:
        results["plain_scrapy"] = bench("plain Scrapy", config, workdir, plain)
    results["linkcrawl_embedded"] = bench("linkcrawl embedded", config, workdir, linkcrawl)
    for workers in (1, 2):
        redis = RedisServer(workdir / f"redis-{workers}")
        redis.start()
        try:
            from linkcrawl.frontier.scheduler import redis_client
            from linkcrawl.frontier.store import Frontier, FrontierConfig, FrontierRequest

            def seed(redis: RedisServer = redis) -> None:
                frontier = Frontier(redis_client(redis.url), FrontierConfig("linkcrawl:bench"))
                frontier.add([FrontierRequest.from_url(u) for u in seeds])

            extra = {"LINKCRAWL_REDIS_URL": redis.url, "FRONTIER_IDLE_CLOSE_SECONDS": "3",
                     "PARQUET_ROTATE_SECONDS": "5"}  # fmt: skip
            results[f"linkcrawl_redis_{workers}w"] = bench(
                f"linkcrawl Redis {workers} worker(s)", config, workdir,
                lambda d, p, e=extra, w=workers, s=seed: linkcrawl(d, p, e, w, s),
            )  # fmt: skip
        finally:
            redis.stop()

    summary: dict[str, float] = {}
    for name, fig in results.items():
        summary[f"{name}_pages_per_s"] = fig["pages_per_s"]
        summary[f"{name}_cpu_ms_per_page"] = fig["cpu_ms_per_page"]
    if "plain_scrapy" in results:
        base = results["plain_scrapy"]["pages_per_s"]
        summary["linkcrawl_redis_1w_vs_plain_scrapy"] = round(
            results["linkcrawl_redis_1w"]["pages_per_s"] / base, 2)  # fmt: skip
        summary["linkcrawl_embedded_vs_plain_scrapy"] = round(
            results["linkcrawl_embedded"]["pages_per_s"] / base, 2)  # fmt: skip
    summary["linkcrawl_redis_2w_vs_1w"] = round(
        results["linkcrawl_redis_2w"]["pages_per_s"] / results["linkcrawl_redis_1w"]["pages_per_s"],
        2,
    )
    summary["pages"] = args.pages
    shutil.rmtree(workdir, ignore_errors=True)
    print(json.dumps(summary))
    return 0


if __name__ == "__main__":
    sys.exit(main())
