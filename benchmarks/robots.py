"""Benchmark: linkcrawl's robots.txt matcher (linkcrawl.robots) against Protego 0.7.0.

Run it as ``python benchmarks/robots.py [--repeat N] [--rounds N]``.

Inputs: the 24 crawler-commons robots.txt files in ``tests/data/robots/crawler_commons``,
a fixed set of agents (some named in the files, some falling back to ``*``) and, per
file, a fixed set of absolute URLs: paths made from the file's own patterns (so rules
match, wildcards and ``$`` included) and generic paths, all seeded.

Measured, each over ``--repeat`` runs (default 5), medians reported:

* **Decisions per second**: every file is parsed once (both parsers, as Scrapy does per
  host), one warm-up pass asks every question once (linkcrawl compiles an agent's rules
  on its first question), then ``--rounds`` passes over every (file, agent, URL) are
  timed: ``RobotsTxt.allowed(url, agent)`` against ``Protego.can_fetch(url, agent)``.
* **Parse time** per file (microseconds, mean over the files): ``parse_robots(bytes)``
  against ``Protego.parse(text)`` (the text decoded as Scrapy does for Protego), and
  linkcrawl's parse plus compiling the rules of every agent asked about.

It also recomputes how many of Google's 145 ``robots_test.cc`` verdicts each parser
gives. The last line of output is one JSON object with the figures.
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import sys
import time
from importlib.metadata import version
from pathlib import Path
from typing import TYPE_CHECKING, Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from protego import Protego

from linkcrawl.robots import parse_directives, parse_robots

if TYPE_CHECKING:
    from collections.abc import Callable, Sequence

PROTEGO_VERSION = version("protego")
DATA = Path(__file__).resolve().parent.parent / "tests" / "data" / "robots"
AGENTS = ("Googlebot", "mybot", "yourbot", "bot1", "Twitterbot", "linkcrawl")
GENERIC_PATHS = (
    "/",
    "/index.html",
    "/about/team",
    "/search?q=robots&page=2",
    "/private/notes.txt",
    "/a/b/c/d/e/f/g/h.html",
    "/product/12345?ref=home#reviews",
    "/%E3%83%84/page",
)


def load_files() -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted((DATA / "crawler_commons").glob("*.txt"))}


def protego_text(body: bytes) -> str:
    # How scrapy.robotstxt.ProtegoRobotParser decodes a body for Protego.
    return body.decode("utf-8-sig", errors="ignore")


def urls_for(body: bytes, rng: random.Random, per_file: int) -> list[str]:
    """Absolute URLs that exercise a file's rules: its patterns made concrete, plus
    generic paths."""
    paths = list(GENERIC_PATHS)
    for directive in parse_directives(body):
        if directive.kind in ("allow", "disallow") and directive.value.startswith("/"):
            concrete = directive.value.rstrip("$").replace("*", "x")
            paths += [concrete, concrete + "more/page.html", concrete.rstrip("/") + "?id=1"]
    rng.shuffle(paths)
    return [f"https://www.example.com{p}" for p in paths[:per_file]]


def questions(files: dict[str, bytes], per_file: int) -> list[tuple[str, str, str]]:
    rng = random.Random(20260101)
    return [
        (name, url, agent)
        for name, body in files.items()
        for url in urls_for(body, rng, per_file)
        for agent in AGENTS
    ]


def time_decisions(
    parsed: dict[str, Any],
    asks: Sequence[tuple[str, str, str]],
    ask: Callable[[Any, str, str], bool],
    rounds: int,
) -> tuple[float, list[bool]]:
    """Decisions per second over ``rounds`` passes, and the answers of the warm-up pass."""
    bound = [(parsed[name], url, agent) for name, url, agent in asks]
    answers = [ask(robots, url, agent) for robots, url, agent in bound]  # warm-up
    started = time.perf_counter()
    for _ in range(rounds):
        for robots, url, agent in bound:
            ask(robots, url, agent)
    elapsed = time.perf_counter() - started
    return rounds * len(bound) / elapsed, answers


def time_parse(files: dict[str, Any], parse: Callable[[Any], object], rounds: int) -> float:
    """Mean microseconds to parse one file."""
    bodies = list(files.values())
    started = time.perf_counter()
    for _ in range(rounds):
        for body in bodies:
            parse(body)
    return (time.perf_counter() - started) / (rounds * len(bodies)) * 1e6


def parse_and_compile(body: bytes) -> object:
    robots = parse_robots(body)
    for agent in AGENTS:
        robots.allowed("/", agent)
    return robots


def google_cases() -> list[dict[str, Any]]:
    data = json.loads((DATA / "google_robotstxt_cases.json").read_text(encoding="utf-8"))
    cases: list[dict[str, Any]] = data["allowed_cases"]
    return cases


def google_score(verdict: Callable[[str, str, str], bool]) -> tuple[int, list[int]]:
    """How many of Google's verdicts ``verdict(body, agent, url)`` gives; ids it misses."""
    right, wrong = 0, []
    for case in google_cases():
        try:
            ok = (
                verdict(case["robotstxt"], case["useragent"], case["url"])
                is case["expected_allowed"]
            )
        except Exception:  # a parser that raises gives no verdict
            ok = False
        if ok:
            right += 1
        else:
            wrong.append(case["id"])
    return right, wrong


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--repeat", type=int, default=5, help="runs; medians are reported")
    parser.add_argument("--rounds", type=int, default=20, help="passes over the questions")
    parser.add_argument("--urls", type=int, default=40, help="URLs per file")
    parser.add_argument("--parse-rounds", type=int, default=50, help="parses of every file")
    args = parser.parse_args(argv)

    files = load_files()
    texts = {name: protego_text(body) for name, body in files.items()}
    asks = questions(files, args.urls)

    ours_rate, theirs_rate, ours_parse, theirs_parse, ours_compile = [], [], [], [], []
    agree = 0
    for _ in range(args.repeat):
        ours_parsed = {name: parse_robots(body) for name, body in files.items()}
        theirs_parsed = {name: Protego.parse(text) for name, text in texts.items()}
        rate, ours_answers = time_decisions(
            ours_parsed, asks, lambda r, u, a: r.allowed(u, a), args.rounds
        )
        ours_rate.append(rate)
        rate, theirs_answers = time_decisions(
            theirs_parsed, asks, lambda r, u, a: r.can_fetch(u, a), args.rounds
        )
        theirs_rate.append(rate)
        agree = sum(a == b for a, b in zip(ours_answers, theirs_answers, strict=True))
        ours_parse.append(time_parse(files, parse_robots, args.parse_rounds))
        theirs_parse.append(time_parse(texts, Protego.parse, args.parse_rounds))
        ours_compile.append(time_parse(files, parse_and_compile, args.parse_rounds))

    ours_ok, ours_wrong = google_score(lambda b, a, u: parse_robots(b).allowed(u, a))
    theirs_ok, theirs_wrong = google_score(lambda b, a, u: Protego.parse(b).can_fetch(u, a))
    total = len(google_cases())

    ours_dps, theirs_dps = statistics.median(ours_rate), statistics.median(theirs_rate)
    ours_us, theirs_us = statistics.median(ours_parse), statistics.median(theirs_parse)
    compile_us = statistics.median(ours_compile)
    print(
        f"{len(files)} robots.txt files, {len(AGENTS)} agents, {len(asks):,} questions, "
        f"{args.rounds} rounds x {args.repeat} runs (medians)"
    )
    print(f"  {'':26} {'decisions/s':>12} {'parse us/file':>14}")
    print(f"  {'linkcrawl.robots':26} {ours_dps:12,.0f} {ours_us:14.1f}")
    print(f"  {'  parse + compile 6 agents':26} {'':12} {compile_us:14.1f}")
    print(f"  {'protego ' + PROTEGO_VERSION:26} {theirs_dps:12,.0f} {theirs_us:14.1f}")
    print(f"  linkcrawl / protego: decisions x{ours_dps / theirs_dps:.2f}, "
          f"parse x{theirs_us / ours_us:.2f} (higher is faster)")  # fmt: skip
    print(f"  same answer as protego on {agree:,} of {len(asks):,} questions")
    print(f"\nGoogle robots_test.cc verdicts right: linkcrawl {ours_ok}/{total}, "
          f"protego {theirs_ok}/{total}")  # fmt: skip
    if ours_wrong:
        print(f"  linkcrawl misses case ids {ours_wrong}")
    print(f"  protego misses case ids {theirs_wrong}")
    print(
        json.dumps(
            {
                "files": len(files),
                "questions": len(asks),
                "linkcrawl_robots_decisions_per_s": round(ours_dps),
                "protego_decisions_per_s": round(theirs_dps),
                "linkcrawl_vs_protego_decision_ratio": round(ours_dps / theirs_dps, 2),
                "linkcrawl_robots_parse_us": round(ours_us, 1),
                "linkcrawl_robots_parse_compile_us": round(compile_us, 1),
                "protego_parse_us": round(theirs_us, 1),
                "linkcrawl_vs_protego_parse_ratio": round(theirs_us / ours_us, 2),
                "answers_agreeing_with_protego": agree,
                "google_cases": total,
                "linkcrawl_google_cases_right": ours_ok,
                "protego_google_cases_right": theirs_ok,
            }
        )
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
