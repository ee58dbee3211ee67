"""User mistakes end with one clear line and a non-zero exit, never a traceback."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import ROOT, run_crawl


def assert_clean_failure(result: subprocess.CompletedProcess[str], *needles: str) -> None:
    output = result.stdout + result.stderr
    assert result.returncode == 2, output[-2000:]
    assert "Traceback" not in output, output[-2000:]
    for needle in needles:
        assert needle in output, output[-2000:]


@pytest.mark.integration
@pytest.mark.parametrize(
    ("spider_args", "settings", "needles"),
    [
        ({"seeds": "http://exa mple.test/"}, {}, ["bad seed URL", "exa mple"]),
        ({"seeds": "mailto:a@b.test"}, {}, ["bad seed URL"]),
        ({}, {}, ["no seeds"]),
        ({"seeds_file": "/nonexistent/seeds.txt"}, {}, ["cannot read seeds file"]),
        ({"seeds": "http://a.test/"}, {"LINKCRAWL_SCOPE": "everything"}, ["LINKCRAWL_SCOPE"]),
        ({"seeds": "http://a.test/"}, {"LINKCRAWL_SCOPE": "allowlist"}, ["ALLOWED_DOMAINS"]),
        ({"seeds": "http://a.test/"}, {"DEPTH_LIMIT": "deep"}, ["DEPTH_LIMIT"]),
        ({"seeds": "http://a.test/"}, {"PARQUET_ROWS_PER_FILE": "-5"}, ["PARQUET_ROWS_PER_FILE"]),
        ({"seeds": "http://a.test/"}, {"LINKCRAWL_CRAWL_ID": "../x"}, ["LINKCRAWL_CRAWL_ID"]),
        ({"seeds": "http://a.test/"}, {"PARQUET_COMPRESSION": "zip"}, ["PARQUET_COMPRESSION"]),
    ],
)
def test_scrapy_crawl_rejects_bad_input(
    tmp_path: Path, spider_args: dict[str, str], settings: dict[str, str], needles: list[str]
) -> None:
    result = run_crawl(
        tmp_path / "out", proxy=None, spider_args=spider_args, settings=settings, timeout=60
    )
    assert_clean_failure(result, *needles)
    assert not list((tmp_path / "out").glob("*/*/*.parquet"))


@pytest.mark.integration
def test_scrapy_crawl_rejects_unwritable_output(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("not a directory")
    result = run_crawl(
        blocker / "out", proxy=None, spider_args={"seeds": "http://a.test/"}, timeout=60
    )
    assert_clean_failure(result, "not writable", str(blocker / "out"))


def linkcrawl(*args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "linkcrawl.cli", *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        input=stdin,
        timeout=60,
        check=False,
    )


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (["extract", "/nonexistent.html", "--url", "http://a.test/"], "cannot read"),
        (["extract", "-", "--url", "http://exa mple.test/"], "--url"),
        (["extract", "-", "--url", "http://a.test/", "--header", "nocolon"], "--header"),
        (["demo", "--pages", "0"], "--pages"),
        (["demo", "--pages", "many"], "--pages"),
        (["demo", "--hosts", "2", "--pages", "5"], "--pages/--hosts"),
        (["testweb"], "usage"),
        (["nosuchcommand"], "invalid choice"),
        (["testweb", "serve", "--pages", "x"], "--pages"),
    ],
)
def test_linkcrawl_cli_rejects_bad_arguments(args: list[str], needle: str) -> None:
    result = linkcrawl(*args, stdin="")
    assert result.returncode == 2, result.stderr
    assert "Traceback" not in result.stderr
    assert needle in result.stderr


def test_linkcrawl_extract_prints_json_lines() -> None:
    html = '<base href="http://b.test/d/"><a href="x" rel="UGC">X</a><a href="tel:1">t</a>'
    result = linkcrawl("extract", "-", "--url", "http://a.test/", stdin=html)
    assert result.returncode == 0, result.stderr
    import json

    records = [json.loads(line) for line in result.stdout.splitlines()]
    assert records[0]["record"] == "link"
    assert records[0]["target_url"] == "http://b.test/d/x"
    assert records[0]["ugc"] is True
    assert records[-1]["record"] == "page"
    assert records[-1]["non_http_links"] == 1 and records[-1]["links"] == 1
