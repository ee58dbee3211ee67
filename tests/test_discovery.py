"""Sitemaps in the crawl: ``linkcrawl.discovery`` (pure), the spider's sitemap handling
(Scrapy's ``get_crawler``, no engine) and real crawls of the test web, whose site-06
names an index, a gzipped, a text and a malformed sitemap in its robots.txt."""

from __future__ import annotations

import gzip
import re
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import duckdb
import pyarrow as pa
import pyarrow.dataset as ds
import pytest
from scrapy.http import Request, TextResponse
from scrapy.utils.test import get_crawler

from linkcrawl import defaults
from linkcrawl.discovery import (
    host_sitemaps,
    looks_like_sitemap,
    malformation,
    robots_sitemap_lines,
    sitemap_links,
)
from linkcrawl.fingerprint import URL_META_KEY
from linkcrawl.frontier.meta import SITEMAP_META_KEY
from linkcrawl.items import PageItem
from linkcrawl.robots import RobotsParser
from linkcrawl.sitemaps import parse_sitemap
from linkcrawl.spiders.backlinks import BacklinksSpider
from linkcrawl.testweb.generator import DEFAULT_SITEMAP_HOST, SITEMAP_HOST
from tests.conftest import Crawl, WebServer, epoch_us, run_crawl

if TYPE_CHECKING:
    from pathlib import Path

NS = 'xmlns="http://www.sitemaps.org/schemas/sitemap/0.9"'
URLSET = (
    f'<?xml version="1.0"?>\n<urlset {NS}><url><loc>http://a.test/1</loc></url></urlset>'.encode()
)


# --- linkcrawl.discovery -------------------------------------------------------------------


def test_robots_sitemap_lines_from_the_parsers_scrapy_may_use() -> None:
    body = b"User-agent: *\nDisallow: /x\nSitemap: http://a.test/s.xml\nsitemap: /t.txt\n"
    assert robots_sitemap_lines(RobotsParser(body)) == ["http://a.test/s.xml", "/t.txt"]

    class Protego:  # Scrapy's ProtegoRobotParser keeps protego's parser as .rp
        rp = type("rp", (), {"sitemaps": iter(["http://a.test/p.xml"])})()

    assert robots_sitemap_lines(Protego()) == ["http://a.test/p.xml"]
    assert robots_sitemap_lines(object()) == []


@pytest.mark.parametrize(
    ("lines", "discovery", "expected"),
    [
        (["/s.xml", "HTTP://A.TEST:80/s.xml", "http://b.test/x.xml"], "robots",
         ["http://a.test/s.xml", "http://b.test/x.xml"]),
        ([], "robots", []),
        ([], "robots+default", ["http://a.test/sitemap.xml"]),
        (["/named.xml"], "robots+default", ["http://a.test/named.xml"]),
        (["/s.xml"], "off", []),
        (["ftp://a.test/s.xml", "http://[::1"], "robots", []),
    ],
)  # fmt: skip
def test_host_sitemaps(lines: list[str], discovery: str, expected: list[str]) -> None:
    assert host_sitemaps(lines, "http://a.test/some/page?q=1", discovery) == expected


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        (URLSET, True),
        (b'\xef\xbb\xbf  <sitemapindex xmlns="x"><sitemap/></sitemapindex>', True),
        (b'<?xml version="1.0"?><!-- hi --><sm:urlset xmlns:sm="x"></sm:urlset>', True),
        (gzip.compress(URLSET), True),
        (gzip.compress(b"x" * 100_000), False),  # an archive: a few KiB are looked at
        (b"\x1f\x8bnot really gzip", False),
        (b"<!DOCTYPE html><html><body>urlset</body></html>", False),
        (b"<rss><channel/></rss>", False),
        (b"http://a.test/1\nhttp://a.test/2\n", False),  # text sitemaps: never by content
        (b"", False),
    ],
)
def test_looks_like_sitemap(body: bytes, expected: bool) -> None:
    assert looks_like_sitemap(body) is expected


def test_malformation_is_a_broken_file_not_a_bad_entry() -> None:
    broken = parse_sitemap(URLSET.replace(b"</urlset>", b"<url></urlset>"), "http://a.test/s")
    assert broken.urls == ["http://a.test/1"]
    assert (malformation(broken) or "").startswith("malformed XML at line")
    foreign = URLSET.replace(b"http://a.test/1", b"http://b.test/1")
    bad_entry = parse_sitemap(foreign, "http://a.test/s")
    assert bad_entry.problems and malformation(bad_entry) is None
    cut = parse_sitemap(gzip.compress(URLSET)[:-12], "http://a.test/s")
    assert (malformation(cut) or "").startswith("gzip data ends early")


def test_sitemap_links_are_sitemap_edges_with_lastmod() -> None:
    body = URLSET.replace(b"</loc>", b"</loc><lastmod>2024-05-02T10:00:00+02:00</lastmod>")
    (link,) = sitemap_links(parse_sitemap(body, "http://a.test/s.xml"))
    assert (link.target_url, link.link_type, link.lastmod) == (
        "http://a.test/1", "sitemap", datetime(2024, 5, 2, 8, tzinfo=UTC),
    )  # fmt: skip
    assert (link.anchor_text, link.rel, link.position, link.http_status) == (None, (), None, None)
    assert not (link.nofollow or link.sponsored or link.ugc or link.image)


# --- the spider, without an engine ---------------------------------------------------------


class _Engine:
    """Stands in for Scrapy's engine: records what the spider schedules."""

    def __init__(self) -> None:
        self.requests: list[Request] = []

    def crawl(self, request: Request) -> None:
        self.requests.append(request)


def spider_for(**settings: Any) -> BacklinksSpider:
    values = {name: getattr(defaults, name) for name in dir(defaults) if name.isupper()}
    crawler = get_crawler(BacklinksSpider, {**values, **settings})
    spider = BacklinksSpider.from_crawler(crawler, seeds="http://a.test/")
    crawler.engine = _Engine()  # type: ignore[assignment]
    return spider


def response(url: str, body: bytes, content_type: str = "application/xml") -> TextResponse:
    request = Request(url, meta={URL_META_KEY: url, "depth": 0})
    return TextResponse(url, body=body, headers={"Content-Type": content_type}, request=request)


def test_robots_parsed_requests_the_named_sitemaps_once_at_depth_0() -> None:
    spider = spider_for(DOWNLOAD_MAXSIZE=1000, SITEMAP_MAX_BYTES=5000)
    robots = RobotsParser(b"Sitemap: /a.xml\nSitemap: http://a.test/a.xml\nSitemap: /b.txt\n")
    trigger = Request("http://a.test/p", meta={URL_META_KEY: "http://a.test/p"})
    spider.on_robots_parsed(robots, trigger)
    spider.on_robots_parsed(robots, trigger)  # robots.txt read again (max age): no repeat
    engine: Any = spider.crawler.engine
    assert [(r.url, r.meta["depth"]) for r in engine.requests] == [
        ("http://a.test/a.xml", 0),
        ("http://a.test/b.txt", 0),
    ]
    # a sitemap may be bigger than a page: SITEMAP_MAX_BYTES bounds its download
    assert engine.requests[0].meta["download_maxsize"] == 5000
    assert "download_maxsize" not in spider.request_for("http://a.test/page").meta


def test_a_host_without_robots_txt_gets_its_default_sitemap_probed() -> None:
    spider = spider_for(SITEMAP_DISCOVERY="robots+default")
    html = b"<!DOCTYPE html><html><body><a href='/x'>x</a></body></html>"
    list(spider.parse(response("http://a.test/", html, "text/html")))
    list(spider.parse(response("http://a.test/x", html, "text/html")))
    engine: Any = spider.crawler.engine
    assert [r.url for r in engine.requests] == ["http://a.test/sitemap.xml"]
    plain = spider_for()  # "robots": nothing without a Sitemap: line
    list(plain.parse(response("http://a.test/", html, "text/html")))
    assert not plain.crawler.engine.requests  # type: ignore[union-attr]


def test_byte_limit_cuts_a_sitemap_and_is_not_reported_as_malformed() -> None:
    spider = spider_for(SITEMAP_MAX_BYTES=120)
    spider.on_robots_parsed(RobotsParser(b"Sitemap: /s.txt\n"), Request("http://a.test/"))
    body = b"".join(f"http://a.test/page-{i}\n".encode() for i in range(20))
    # the page's item comes last, after the requests of its links (see parse())
    *requests, item = spider.parse(response("http://a.test/s.txt", body, "text/plain"))
    assert isinstance(item, PageItem) and item.sitemap_links is not None
    assert [link.target_url for link in item.sitemap_links] == [
        f"http://a.test/page-{i}"
        for i in range(5)  # the lines within 120 bytes (21 each)
    ]
    assert [r.url for r in requests] == [link.target_url for link in item.sitemap_links]
    stats = spider.crawler.stats
    assert stats is not None
    assert stats.get_value("sitemaps/truncated") == 1
    assert stats.get_value("sitemaps/malformed") is None


def test_an_unknown_text_file_is_not_a_sitemap_but_an_xml_sitemap_is() -> None:
    spider = spider_for()
    (item,) = spider.parse(response("http://a.test/notes.txt", b"http://a.test/1\n", "text/plain"))
    assert isinstance(item, PageItem) and item.sitemap_links is None
    # a child sitemap leased by a worker that did not read its index (Redis mode)
    request, item = spider.parse(response("http://a.test/child.xml", URLSET))
    assert isinstance(item, PageItem) and item.sitemap_links is not None
    assert request.url == "http://a.test/1"


@pytest.mark.parametrize(
    ("name", "value"),
    [("SITEMAP_DISCOVERY", "sometimes"), ("SITEMAP_HOST_RULE", "nearby"),
     ("SITEMAP_MAX_URLS", 0), ("SITEMAP_MAX_DEPTH", -1)],
)  # fmt: skip
def test_bad_sitemap_settings_stop_the_crawl(name: str, value: object) -> None:
    with pytest.raises(SystemExit) as stop:
        spider_for(**{name: value})
    assert stop.value.code == 2


# --- the integration crawl (tests/conftest.py's `crawl`, SITEMAP_DISCOVERY = robots) -----


def sitemap_edges(out: Path) -> list[dict[str, Any]]:
    con = duckdb.connect()
    rel = con.execute(
        "SELECT source_url, target_url, epoch_us(lastmod) AS lastmod, position, internal"
        " FROM read_parquet(?, hive_partitioning = true) WHERE link_type = 'sitemap'",
        [str(out / "edges" / "*" / "*.parquet")],
    )
    cols = [d[0] for d in rel.description]
    return [dict(zip(cols, r, strict=True)) for r in rel.fetchall()]


@pytest.mark.integration
def test_every_sitemap_is_fetched_once_and_recorded_as_a_page(
    crawl: Crawl, testweb: WebServer
) -> None:
    web = testweb.web
    host = web.hosts[SITEMAP_HOST]
    files = {
        f"http://{host}/sitemaps/{name}": kind
        for name, kind in [("index.xml", "application/xml"), ("pages.xml", "application/xml"),
                           ("more.xml.gz", "application/x-gzip"), ("pages.txt", "text/plain"),
                           ("broken.xml", "application/xml")]
    }  # fmt: skip
    assert {url: crawl.hits.get(url) for url in files} == dict.fromkeys(files, 1)
    pages = ds.dataset(crawl.out / "pages", partitioning="hive").to_table().to_pylist()
    rows = {r["url"]: r for r in pages if r["url"] in files}
    assert {url: r["content_type"] for url, r in rows.items()} == files
    assert {url: r["depth"] for url, r in rows.items()} == {
        url: 1 if url.endswith(("pages.xml", ".gz")) else 0 for url in files
    }
    # robots.txt names the index twice; a default /sitemap.xml is not tried ("robots")
    assert not [u for u in crawl.hits if u.endswith("/sitemap.xml")]
    stats = re.search(r"'sitemaps/read/urlset': (\d+)", crawl.log)
    assert stats is not None and int(stats.group(1)) == 3


@pytest.mark.integration
def test_sitemap_edges_carry_lastmod(crawl: Crawl, testweb: WebServer) -> None:
    got = sorted((r["source_url"], r["target_url"], r["lastmod"]) for r in sitemap_edges(crawl.out))
    want = sorted(
        (e.source_url, e.target_url, epoch_us(e.lastmod))
        for e in testweb.web.expected_edges()
        if e.link_type == "sitemap"
    )
    assert got == want and len(got) == 13
    assert sum(lastmod is not None for _, _, lastmod in got) == 5
    host = testweb.web.hosts[SITEMAP_HOST]
    assert (
        f"http://{host}/sitemaps/pages.xml",
        f"http://{host}/orphan/sitemap-only",
        epoch_us(datetime(2024, 5, 4, 15, 0, 0, 500_000, tzinfo=UTC)),
    ) in got
    schema = ds.dataset(crawl.out / "edges", partitioning="hive").schema
    assert schema.field("lastmod").type == pa.timestamp("us", tz="UTC")


@pytest.mark.integration
def test_orphan_pages_are_found_through_sitemaps_only(crawl: Crawl, testweb: WebServer) -> None:
    host = testweb.web.hosts[SITEMAP_HOST]
    orphans = [f"http://{host}/orphan/{n}" for n in ("sitemap-only", "gzipped", "text")]
    assert [crawl.hits.get(url) for url in orphans] == [1, 1, 1]
    con = duckdb.connect()
    linked = con.execute(
        "SELECT DISTINCT target_url FROM read_parquet(?) WHERE link_type <> 'sitemap'",
        [str(crawl.out / "edges" / "*" / "*.parquet")],
    ).fetchall()
    assert not {url for (url,) in linked} & set(orphans)


@pytest.mark.integration
def test_a_url_both_linked_and_listed_is_fetched_once(crawl: Crawl, testweb: WebServer) -> None:
    host = testweb.web.hosts[SITEMAP_HOST]
    listed = {r["target_url"] for r in sitemap_edges(crawl.out)}
    con = duckdb.connect()
    linked = {
        url
        for (url,) in con.execute(
            "SELECT DISTINCT target_url FROM read_parquet(?) WHERE link_type = 'a'",
            [str(crawl.out / "edges" / "*" / "*.parquet")],
        ).fetchall()
    }
    both = sorted((listed & linked) - {u for u in listed if "/sitemaps/" in u})
    assert len(both) >= 5, both
    assert all(crawl.hits.get(url) == 1 for url in both), both
    # listed but disallowed by robots.txt: an edge, never fetched
    assert f"http://{host}/private/from-sitemap" in listed
    assert f"http://{host}/private/from-sitemap" not in crawl.hits


@pytest.mark.integration
def test_a_malformed_sitemap_is_reported_and_the_rest_skipped(
    crawl: Crawl, testweb: WebServer
) -> None:
    host = testweb.web.hosts[SITEMAP_HOST]
    assert re.search(
        rf"WARNING: Malformed sitemap http://{re.escape(host)}/sitemaps/broken.xml "
        r"\(1 entries read before the error\): malformed XML at line 6",
        crawl.log,
    ), crawl.log[-3000:]
    assert "'sitemaps/malformed': 1," in crawl.log
    assert f"http://{host}/orphan/after-break" not in crawl.hits
    edges = [r for r in sitemap_edges(crawl.out) if r["source_url"].endswith("/broken.xml")]
    assert [r["target_url"] for r in edges] == [f"http://{host}/p/2"]


# --- limits, and the default location ---------------------------------------------------


def small_crawl(
    web: WebServer, root: Path, host: str, settings: dict[str, str]
) -> tuple[Crawl, list[dict[str, Any]]]:
    web.reset()
    result = run_crawl(
        root / "out",
        proxy=web.address,
        spider_args={"seeds": f"http://{host}/"},
        settings={"LINKCRAWL_SCOPE": "seed_hosts", "DEPTH_LIMIT": "1", **settings},
    )
    done = Crawl.finished(root / "out", result, web)
    assert done.returncode == 0, done.log[-3000:]
    assert "Traceback" not in done.log, done.log[-3000:]
    return done, sitemap_edges(root / "out")


@pytest.mark.integration
def test_limits_are_enforced_in_a_crawl(testweb: WebServer, tmp_path: Path, crawl: Crawl) -> None:
    # `crawl` first: both use the server's hit counters.
    host = testweb.web.hosts[SITEMAP_HOST]
    done, edges = small_crawl(
        testweb,
        tmp_path,
        host,
        {"SITEMAP_MAX_URLS": "2", "SITEMAP_MAX_DEPTH": "0", "SITEMAP_MAX_FILES_PER_HOST": "2"},
    )
    base = f"http://{host}/sitemaps/"
    fetched = {u.removeprefix(base) for u in done.hits if u.startswith(base)}
    # two files for the host; the index's children are edges, not fetched (depth 0)
    assert fetched == {"index.xml", "pages.txt"}
    got = sorted((r["source_url"].removeprefix(base), r["target_url"]) for r in edges)
    assert got == [
        ("index.xml", f"{base}more.xml.gz"),
        ("index.xml", f"{base}pages.xml"),
        # two entries of the text sitemap's three (SITEMAP_MAX_URLS)
        ("pages.txt", f"http://{host}/orphan/text"),
        ("pages.txt", f"http://{host}/p/7"),
    ]
    assert done.hits.get(f"http://{host}/orphan/text") == 1
    for stat, value in [("truncated", 1), ("depth_limited", 2), ("host_limit_dropped", 1)]:
        assert f"'sitemaps/{stat}': {value}," in done.log, stat
    assert "reached SITEMAP_MAX_FILES_PER_HOST=2" in done.log


@pytest.mark.integration
def test_default_location_and_byte_limit(testweb: WebServer, tmp_path: Path, crawl: Crawl) -> None:
    host = testweb.web.hosts[DEFAULT_SITEMAP_HOST]
    assert "sitemap" not in testweb.web.robots_txt(host).lower()
    # 200 bytes: the first <url> of /sitemap.xml only (tests/test_testweb.py checks bytes)
    done, edges = small_crawl(
        testweb,
        tmp_path,
        host,
        {"SITEMAP_DISCOVERY": "robots+default", "SITEMAP_MAX_BYTES": "200"},
    )
    assert done.hits.get(f"http://{host}/sitemap.xml") == 1
    assert [(r["target_url"], r["lastmod"]) for r in edges] == [
        (f"http://{host}/orphan/default-sitemap", epoch_us(datetime(2024, 7, 1, tzinfo=UTC)))
    ]
    assert done.hits.get(f"http://{host}/orphan/default-sitemap") == 1
    assert "'sitemaps/truncated': 1," in done.log
    assert "sitemaps/malformed" not in done.log


@pytest.mark.integration
def test_sitemaps_off(testweb: WebServer, tmp_path: Path, crawl: Crawl) -> None:
    host = testweb.web.hosts[SITEMAP_HOST]
    done, edges = small_crawl(testweb, tmp_path, host, {"SITEMAP_ENABLED": "False"})
    assert not edges
    assert not [u for u in done.hits if "/sitemaps/" in u or "/orphan/" in u]
    assert "sitemaps/" not in done.log


def test_a_pages_item_comes_after_the_requests_of_its_links() -> None:
    # Redis mode acknowledges a page's lease once its rows are committed: its links must
    # be in the scheduler's add buffer (sent before any ack) before its item can be.
    spider = spider_for()
    html = b'<html><body><a href="/a">a</a> <a href="/b">b</a></body></html>'
    *requests, item = spider.parse(response("http://a.test/", html, "text/html"))
    assert isinstance(item, PageItem)
    assert [r.url for r in requests] == ["http://a.test/a", "http://a.test/b"]


def test_sitemap_urls_are_canonical_with_the_crawls_tracking_parameters() -> None:
    # A page listed in a sitemap and linked from a page must be one node: its entry is
    # made canonical with LINKCRAWL_STRIP_QUERY_PARAMS, as links are.
    spider = spider_for(LINKCRAWL_STRIP_QUERY_PARAMS=["ref", "utm_*"])
    robots = RobotsParser(b"Sitemap: /s.xml?ref=robots\n")
    spider.on_robots_parsed(robots, Request("http://a.test/"))
    engine: Any = spider.crawler.engine
    assert [r.url for r in engine.requests] == ["http://a.test/s.xml"]
    body = (
        f'<?xml version="1.0"?>\n<urlset {NS}><url><loc>http://a.test/p?ref=map&amp;id=2'
        "</loc></url></urlset>"
    ).encode()
    *requests, item = spider.parse(response("http://a.test/s.xml", body))
    assert isinstance(item, PageItem) and item.sitemap_links is not None
    assert [link.target_url for link in item.sitemap_links] == ["http://a.test/p?id=2"]
    assert [r.url for r in requests] == ["http://a.test/p?id=2"]


def test_a_tagged_request_is_read_as_a_sitemap_by_any_worker() -> None:
    # Redis mode: worker B leases a text sitemap that worker A's robots.txt reading
    # discovered (a.test named b.test/s.txt: cross-submission). The tag on the request is
    # all B knows, and it is enough: read as a sitemap, a.test's entries allowed.
    worker_a, worker_b = spider_for(), spider_for()
    worker_a.on_robots_parsed(
        RobotsParser(b"Sitemap: http://b.test/s.txt\n"), Request("http://a.test/")
    )
    engine: Any = worker_a.crawler.engine
    (asked,) = engine.requests
    assert asked.meta[SITEMAP_META_KEY] == "a.test"
    leased = worker_b.request_for("http://b.test/s.txt", depth=0, sitemap="a.test")
    body = b"http://a.test/listed\nhttp://b.test/own\n"
    answer = TextResponse(leased.url, body=body, headers={"Content-Type": "text/plain"},
                          request=leased)  # fmt: skip
    *requests, item = worker_b.parse(answer)
    assert isinstance(item, PageItem) and item.sitemap_links is not None
    assert [link.target_url for link in item.sitemap_links] == [
        "http://a.test/listed", "http://b.test/own",
    ]  # fmt: skip
    assert [r.url for r in requests] == [link.target_url for link in item.sitemap_links]
    # untagged, the same text is a plain page to B
    plain = worker_b.request_for("http://b.test/notes.txt", depth=0)
    (page,) = worker_b.parse(TextResponse(plain.url, body=body,
                                          headers={"Content-Type": "text/plain"},
                                          request=plain))  # fmt: skip
    assert isinstance(page, PageItem) and page.sitemap_links is None
