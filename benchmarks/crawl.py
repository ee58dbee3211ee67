"""Benchmark: whole crawls of the same test web, in one run, by four crawlers.

    python benchmarks/crawl.py [--pages 40000] [--hosts 20] [--skip-plain]

1. plain Scrapy: its own scheduler, ``LinkExtractor``, one JSON-lines feed item per link
   (``benchmarks/plain_scrapy_spider.py``), the baseline. Scrapy does not canonicalise
   URLs the way linkcrawl does, so it re-fetches the test web's URL variants (``:80``,
   ``utm_*``, upper-case hosts...) without end; it is stopped after as many pages as the
   test web has (``CLOSESPIDER_PAGECOUNT``), and its rate is pages fetched per second;
2. linkcrawl embedded (Scrapy's scheduler, lexbor extraction, Parquet);
3. linkcrawl with the Redis frontier, 1 worker;
4. linkcrawl with the Redis frontier, 2 workers.

Every crawl gets the same settings where they apply: robots.txt obeyed, no download delay,
32 concurrent requests, 8 per host (fleet-wide in Redis mode), the same DEPTH_LIMIT, a fresh
test web server process (pages rendered before the clock starts, ``--prerender``, and served
from one asyncio loop, ``--event-loop``, so that serving costs little CPU) and, for the Redis
runs, a fresh redis-server on a free port. Figures:

- pages/s: fetched pages / wall time of the crawl processes, start-up (~2 s of imports)
  and, in Redis mode, the idle wait before exit (``FRONTIER_IDLE_CLOSE_SECONDS=3``)
  included;
- crawl pages/s: fetched pages / time from the first to the last request the test web
  server saw, the rate a long crawl runs at;
- CPU ms per page: user+sys CPU of the crawler processes (``os.wait4``) / pages; the test
  web server's and Redis's CPU per page are printed beside it, because on a small machine
  they share the cores with the workers (two workers on two cores are bound by all three).

The machine is shared: compare the ratios, printed last as JSON.
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
    "FRONTIER_MAX_INFLIGHT_PER_HOST": "8",  # the fleet-wide twin of the line above
    "DEPTH_LIMIT": "8",
    "LOG_LEVEL": "INFO",
    "TELNETCONSOLE_ENABLED": "False",
}


def process_cpu_s(pid: int) -> float:
    """User+sys CPU seconds a live process has used so far (Linux /proc)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def start_web(config: TestWebConfig) -> tuple[subprocess.Popen[str], str]:
    cmd = [sys.executable, "-m", "linkcrawl.testweb", "serve", "--pages", str(config.pages),
           "--hosts", str(config.hosts), "--seed", str(config.seed),
           "--prerender", "--event-loop"]  # fmt: skip
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


def hit_times(proxy: str) -> dict[str, list[float]]:
    import urllib.request

    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    with opener.open(proxy + "/_testweb/hit_times", timeout=10) as resp:
        times: dict[str, list[float]] = json.loads(resp.read())
    return times


def settings_args(settings: dict[str, str]) -> list[str]:
    return [arg for k, v in settings.items() for arg in ("-s", f"{k}={v}")]


def bench(
    name: str, config: TestWebConfig, workdir: Path, build: Any, redis: RedisServer | None = None
) -> dict[str, float]:
    web_proc, proxy = start_web(config)
    server_cpu = -process_cpu_s(web_proc.pid)  # rendering the pages is not serving them
    try:
        run_dir = workdir / name.replace(" ", "-")
        run_dir.mkdir()
        cmds, env, before = build(run_dir, proxy)
        if before is not None:
            before()
        redis_cpu = redis_cpu_s(redis)
        result = run_processes(cmds, env, run_dir)
        redis_cpu = redis_cpu_s(redis) - redis_cpu
        times = hit_times(proxy)
    finally:
        web_proc.terminate()
        _, _, usage = os.wait4(web_proc.pid, 0)
        server_cpu += usage.ru_utime + usage.ru_stime
        if web_proc.stdout is not None:
            web_proc.stdout.close()
    page_times = sorted(t for url, ts in times.items() if not url.endswith("/robots.txt")
                        for t in ts)  # fmt: skip
    pages = len(page_times)
    span = page_times[-1] - page_times[0]
    figures = {
        "pages": pages,
        "wall_s": round(result["wall"], 2),
        "pages_per_s": round(pages / result["wall"], 1),
        "crawl_pages_per_s": round(pages / span, 1),
        "cpu_ms_per_page": round(1000 * result["cpu"] / pages, 2),
        "server_cpu_ms_per_page": round(1000 * server_cpu / pages, 2),
        "redis_cpu_ms_per_page": round(1000 * redis_cpu / pages, 2),
    }
    print(f"{name:<26} {pages:>7} {figures['wall_s']:>7.1f} {figures['pages_per_s']:>8.1f} "
          f"{figures['crawl_pages_per_s']:>8.1f} {figures['cpu_ms_per_page']:>8.2f} "
          f"{figures['server_cpu_ms_per_page']:>8.2f} {figures['redis_cpu_ms_per_page']:>8.2f}",
          flush=True)  # fmt: skip
    return figures


def redis_cpu_s(redis: RedisServer | None) -> float:
    if redis is None:
        return 0.0
    info = redis.client().info("cpu")
    return float(info["used_cpu_user"]) + float(info["used_cpu_sys"])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--pages", type=int, default=40_000)
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
    print(f"{'':<26} {'pages':>7} {'wall s':>7} {'pages/s':>8} {'crawl/s':>8} "
          f"{'CPU ms':>8} {'web ms':>8} {'Redis ms':>8}")  # fmt: skip
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
                lambda d, p, e=extra, w=workers, s=seed: linkcrawl(d, p, e, w, s), redis,
            )  # fmt: skip
        finally:
            redis.stop()

    summary: dict[str, float] = {}
    for name, fig in results.items():
        for key in ("pages_per_s", "crawl_pages_per_s", "cpu_ms_per_page"):
            summary[f"{name}_{key}"] = fig[key]
    summary["testweb_server_cpu_ms_per_page"] = results["linkcrawl_redis_1w"][
        "server_cpu_ms_per_page"
    ]
    summary["redis_cpu_ms_per_page"] = results["linkcrawl_redis_1w"]["redis_cpu_ms_per_page"]

    def ratio(a: str, b: str, key: str) -> float:
        return round(results[a][key] / results[b][key], 2)

    for key, suffix in (("pages_per_s", ""), ("crawl_pages_per_s", "_crawl")):
        if "plain_scrapy" in results:
            for name in ("linkcrawl_embedded", "linkcrawl_redis_1w"):
                summary[f"{name}_vs_plain_scrapy{suffix}"] = ratio(name, "plain_scrapy", key)
        summary[f"linkcrawl_redis_2w_vs_1w{suffix}"] = ratio(
            "linkcrawl_redis_2w", "linkcrawl_redis_1w", key
        )
    summary["pages"] = args.pages
    shutil.rmtree(workdir, ignore_errors=True)
    print(json.dumps(summary))
    return 0


if __name__ == "__main__":
    sys.exit(main())
