"""The ``linkcrawl`` command: demo, extract, testweb.

Every user mistake (bad option, unreadable file, bad URL) ends in one line on stderr
starting ``linkcrawl: error:`` and exit status 2, never a traceback.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING

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


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="linkcrawl", description="Backlink crawler: crawl, extract, test web."
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
