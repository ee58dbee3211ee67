"""Crawl policy (pure) and the host-policy middleware and fingerprinter (built with
Scrapy's get_crawler, no engine running)."""

from __future__ import annotations

from pathlib import Path

import pytest
from scrapy import Request
from scrapy.exceptions import IgnoreRequest
from scrapy.settings import Settings
from scrapy.utils.test import get_crawler

from linkcrawl.fingerprint import URL_META_KEY, NodeIdFingerprinter
from linkcrawl.links import Link
from linkcrawl.middlewares import HostPolicyMiddleware
from linkcrawl.policy import (
    CrawlPolicy,
    PolicyError,
    check_settings,
    is_html,
    load_seeds,
    media_type,
)
from linkcrawl.urls import DEFAULT_STRIP_QUERY_PARAMS, node_id


def link(url: str, nofollow: bool = False) -> Link:
    return Link(url, "a", None, ("nofollow",) if nofollow else (), nofollow, False, False, False, 0)


def test_load_seeds_canonicalises_dedupes_and_reads_files(tmp_path: Path) -> None:
    f = tmp_path / "seeds.txt"
    f.write_text("# comment\n\nHTTP://B.test:80/x?utm_source=a\n  http://c.test  \n")
    got = load_seeds("http://a.test/#top, http://b.test/x", str(f), DEFAULT_STRIP_QUERY_PARAMS)
    assert got == ["http://a.test/", "http://b.test/x", "http://c.test/"]


@pytest.mark.parametrize(
    ("seeds", "needle"),
    [("http://a b.test/", "bad seed URL"), ("ftp://a.test/", "bad seed URL"), ("", "no seeds")],
)
def test_load_seeds_errors_name_the_problem(seeds: str, needle: str) -> None:
    with pytest.raises(PolicyError, match=needle):
        load_seeds(seeds, None, DEFAULT_STRIP_QUERY_PARAMS)


def test_bad_seed_in_file_names_file_and_line(tmp_path: Path) -> None:
    f = tmp_path / "s.txt"
    f.write_text("http://ok.test/\nhttp://[::1/\n")
    with pytest.raises(PolicyError, match=r"s\.txt:2"):
        load_seeds(None, str(f), DEFAULT_STRIP_QUERY_PARAMS)


@pytest.mark.parametrize(
    ("scope", "url", "expected"),
    [
        ("all", "http://x.other.test/", True),
        ("seed_hosts", "http://www.site.test/a", True),
        ("seed_hosts", "http://blog.site.test/a", False),
        ("seed_domains", "http://blog.site.test/a", True),
        ("seed_domains", "http://other.test/a", False),
        ("allowlist", "http://deep.allowed.test/", True),
        ("allowlist", "http://notallowed.test/", False),
    ],
)
def test_scope(scope: str, url: str, expected: bool) -> None:
    policy = CrawlPolicy.build(
        scope=scope,
        seeds=["http://www.site.test/"],
        allowed_domains=["Allowed.TEST."],
        follow_nofollow=True,
        obey_meta_robots=True,
    )
    assert policy.in_scope(url) is expected


def test_follow_rules() -> None:
    default = CrawlPolicy()
    strict = CrawlPolicy(follow_nofollow=False, obey_meta_robots=True)
    loose = CrawlPolicy(obey_meta_robots=False)
    assert default.follows(link("http://a.test/", nofollow=True))
    assert not strict.follows(link("http://a.test/", nofollow=True))
    assert not default.follows(link("http://a.test/"), page_nofollow=True)
    assert loose.follows(link("http://a.test/"), page_nofollow=True)


def test_bad_scope_and_allowlist_are_policy_errors() -> None:
    with pytest.raises(PolicyError, match="LINKCRAWL_SCOPE"):
        CrawlPolicy.build(
            scope="web", seeds=[], allowed_domains=[], follow_nofollow=True, obey_meta_robots=True
        )
    with pytest.raises(PolicyError, match="not a host name"):
        CrawlPolicy.build(
            scope="allowlist",
            seeds=[],
            allowed_domains=["a b"],
            follow_nofollow=True,
            obey_meta_robots=True,
        )


@pytest.mark.parametrize(
    ("ctype", "body", "expected"),
    [
        ("text/html; charset=utf-8", b"", True),
        ("application/xhtml+xml", b"", True),
        ("application/pdf", b"<html>", False),
        (None, b"  <!DOCTYPE html><html>", True),
        (None, b"%PDF-1.7", False),
    ],
)
def test_is_html(ctype: str | None, body: bytes, expected: bool) -> None:
    assert is_html(ctype, body) is expected


def test_media_type() -> None:
    assert media_type("Text/HTML; charset=UTF-8") == "text/html"
    assert media_type("") is None


def test_check_settings_names_the_bad_setting() -> None:
    ok = Settings({"LINKCRAWL_CRAWL_ID": "c1"})
    ok.setmodule("linkcrawl.settings")
    check_settings(ok)
    for name, value in [
        ("LINKCRAWL_MAX_PAGES_PER_HOST", "lots"),
        ("DEPTH_LIMIT", "-1"),
        ("LINKCRAWL_FOLLOW_NOFOLLOW", "maybe"),
    ]:
        bad = Settings()
        bad.setmodule("linkcrawl.settings")
        bad.set(name, value)
        with pytest.raises(PolicyError, match=name):
            check_settings(bad)


def test_fingerprint_is_the_node_id_of_the_canonical_url() -> None:
    fp = NodeIdFingerprinter(DEFAULT_STRIP_QUERY_PARAMS)
    a = fp.fingerprint(Request("http://A.test:80/x?utm_source=z#f"))
    b = fp.fingerprint(Request("http://a.test/x", meta={URL_META_KEY: "http://a.test/x"}))
    assert a == b
    assert int.from_bytes(a, "big", signed=True) == node_id("http://a.test/x")
    assert fp.fingerprint(Request("http://a.test/y")) != a


def test_host_policy_caps_pages_per_host_but_not_robots_or_retries() -> None:
    crawler = get_crawler(
        settings_dict={
            "LINKCRAWL_MAX_PAGES_PER_HOST": 2,
            "LINKCRAWL_MAX_CRAWL_DELAY": 30.0,
            "LINKCRAWL_BLOCK_PRIVATE_ADDRESSES": True,
            "LINKCRAWL_BOT_NAME": "linkcrawl",
        }
    )
    mw = HostPolicyMiddleware.from_crawler(crawler)
    mw.process_request(Request("http://a.test/robots.txt", meta={"dont_obey_robotstxt": True}))
    mw.process_request(Request("http://a.test/1"))
    mw.process_request(Request("http://a.test/2"))
    mw.process_request(Request("http://a.test/2", meta={"retry_times": 1}))
    mw.process_request(Request("http://b.test/1"))
    with pytest.raises(IgnoreRequest):
        mw.process_request(Request("http://a.test/3"))
    assert crawler.stats is not None
    assert crawler.stats.get_value("politeness/host_limit_dropped") == 1


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1/",
        "http://[::1]/",
        "http://10.1.2.3/",
        "http://169.254.169.254/latest/meta-data/",
    ],
)
def test_host_policy_refuses_private_addresses(url: str) -> None:
    crawler = get_crawler(
        settings_dict={
            "LINKCRAWL_MAX_PAGES_PER_HOST": 0,
            "LINKCRAWL_MAX_CRAWL_DELAY": 30.0,
            "LINKCRAWL_BLOCK_PRIVATE_ADDRESSES": True,
            "LINKCRAWL_BOT_NAME": "linkcrawl",
        }
    )
    mw = HostPolicyMiddleware.from_crawler(crawler)
    with pytest.raises(IgnoreRequest, match="private address"):
        mw.process_request(Request(url))
    mw.process_request(Request("http://93.184.216.34/"))  # a public address passes
