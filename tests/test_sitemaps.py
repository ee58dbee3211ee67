"""Tests for linkcrawl.sitemaps: formats, limits, hostile input, URL and host rules.

The sitemap files in tests/data/sitemaps come from crawler-commons and trafilatura (see
its README for sources and licenses); their expected entry counts are counted here from
the raw text, independently of the parser.
"""

from __future__ import annotations

import gzip
import re
import subprocess
import sys
import zlib
from datetime import UTC, datetime
from pathlib import Path
from xml.sax.saxutils import escape

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from linkcrawl import defaults
from linkcrawl.robots import parse_robots
from linkcrawl.sitemaps import (
    MAX_LOC_CHARS,
    MAX_PROBLEMS,
    default_sitemap_url,
    is_gzip,
    parse_sitemap,
    parse_w3c_datetime,
    sitemap_urls_from_robots,
)
from linkcrawl.urls import canonicalize

DATA = Path(__file__).parent / "data" / "sitemaps"
FILES = sorted(p for p in DATA.rglob("*") if p.is_file() and p.name != "README.md")
SITEMAPS_ORG = DATA / "trafilatura" / "sitemap.xml"
NS = "http://www.sitemaps.org/schemas/sitemap/0.9"

# An entry element (<url>, <sitemap>, with any prefix), not <urlset>/<sitemapindex>.
_ENTRY = re.compile(rb"<(?:\w+:)?(?:url|sitemap)[\s/>]")
_URL = re.compile(rb"<(?:\w+:)?url[\s/>]")
_SITEMAP = re.compile(rb"<(?:\w+:)?sitemap[\s/>]")
_FIRST_URL = re.compile(rb"https?://[^/\s<]+")


def _urlset(locs: list[str], ns: str = NS) -> bytes:
    items = "".join(f"<url><loc>{escape(loc)}</loc></url>\n" for loc in locs)
    xmlns = f' xmlns="{ns}"' if ns else ""
    return f'<?xml version="1.0" encoding="UTF-8"?>\n<urlset{xmlns}>\n{items}</urlset>\n'.encode()


def _raw(path: Path) -> bytes:
    body = path.read_bytes()
    return gzip.decompress(body) if body[:2] == b"\x1f\x8b" else body


# --------------------------------------------------------------------------- shared files


def test_data_files_present() -> None:
    assert len(FILES) == 22


@pytest.mark.parametrize("path", FILES, ids=lambda p: str(p.relative_to(DATA)))
def test_shared_file(path: Path) -> None:
    raw = _raw(path).removeprefix(b"\xef\xbb\xbf")
    # The host of the first URL in the first entry (not a namespace URL) is the sitemap's.
    entry = _ENTRY.search(raw)
    first = _FIRST_URL.search(raw, entry.start() if entry else 0)
    assert first is not None
    base = first.group().decode() + "/sitemap.xml"
    if not raw.lstrip().startswith(b"<"):
        kind, expected = "text", len([ln for ln in raw.splitlines() if ln.strip()])
        misplaced = 0
    elif re.search(rb"<(?:\w+:)?sitemapindex[\s>]", raw):
        kind, expected = "sitemapindex", len(_SITEMAP.findall(raw))
        misplaced = len(_URL.findall(raw))
    elif re.search(rb"<(?:\w+:)?urlset[\s>]", raw):
        kind, expected = "urlset", len(_URL.findall(raw))
        misplaced = len(_SITEMAP.findall(raw))
    else:
        kind, expected, misplaced = "unknown", 0, 0
    sitemap = parse_sitemap(path.read_bytes(), base)
    assert sitemap.kind == kind
    assert len(sitemap.entries) == expected
    assert sitemap.skipped == 0
    assert not sitemap.truncated
    if kind == "unknown":
        assert "not a sitemap" in sitemap.problems[0]
    else:
        # trafilatura's hreflang file has a <sitemap> in its <urlset>: ignored, reported.
        assert len(sitemap.problems) == misplaced
        assert all("not an entry of a <" in p for p in sitemap.problems)
    for entry in sitemap.entries:
        assert entry.url == canonicalize(entry.url)


def test_file_fields() -> None:
    sitemap = parse_sitemap(
        (DATA / "crawler_commons" / "xmlSitemap.gz").read_bytes(), "http://www.example.com/x.gz"
    )
    first, second, _, fourth, _ = sitemap.entries
    assert first.url == "http://www.example.com/"
    assert first.lastmod == datetime(2005, 1, 1, tzinfo=UTC)
    assert first.lastmod_text == "2005-01-01"
    assert (first.changefreq, first.priority) == ("monthly", 0.8)
    assert second.url == "http://www.example.com/catalog?item=12&desc=vacation_hawaii"
    assert (second.lastmod, second.lastmod_text, second.priority) == (None, None, None)
    assert fourth.lastmod == datetime(2004, 12, 23, 18, 0, 15, tzinfo=UTC)
    assert fourth.priority == 0.3


def test_index_cdata_and_loc_less_entries() -> None:
    index = parse_sitemap(
        (DATA / "trafilatura" / "sitemap2.xml").read_bytes(), "http://www.example.com/"
    )
    assert index.urls == [
        "http://www.example.com/sitemap1.xml.gz",
        "http://www.example.com/sitemap2.xml.gz",
    ]
    bare = parse_sitemap(
        (DATA / "crawler_commons" / "sitemap.index.xml").read_bytes(), "https://example.com/"
    )
    assert bare.urls[0] == "https://example.com/sitemap.jss?portalCode=10260&lang=en"


def test_extensions_ignored() -> None:
    sitemap = parse_sitemap(
        (DATA / "crawler_commons" / "extension" / "sitemap-images.xml").read_bytes(),
        "http://www.example.com/",
    )
    # image:loc (on example.com, another host) is an extension: not an entry, no problem.
    assert sitemap.urls == ["http://www.example.com/images/some_image_landing_page.html"]
    assert sitemap.problems == []


def test_namespaces() -> None:
    locs = ["http://a.test/1", "http://a.test/2"]
    assert parse_sitemap(_urlset(locs, ns=""), "http://a.test/s.xml").urls == locs
    prefixed = _urlset(locs).replace(b"<url", b"<s:url").replace(b"</url", b"</s:url")
    prefixed = prefixed.replace(b"<loc", b"<s:loc").replace(b"</loc", b"</s:loc")
    prefixed = prefixed.replace(b'xmlns="', b'xmlns:s="')
    sitemap = parse_sitemap(prefixed, "http://a.test/s.xml")
    assert (sitemap.kind, sitemap.urls) == ("urlset", locs)
    # An entry element of another namespace is not an entry.
    other = b'<urlset xmlns="x" xmlns:o="y"><o:url><o:loc>http://a.test/o</o:loc></o:url></urlset>'
    assert parse_sitemap(other, "http://a.test/").entries == []


def test_text_sitemap() -> None:
    body = b"\xef\xbb\xbf  http://a.test/1  \r\n\r\n\thttp://a.test/2\n\n   \nhttp://a.test/3"
    sitemap = parse_sitemap(body, "http://a.test/sitemap.txt")
    assert sitemap.kind == "text"
    assert sitemap.urls == ["http://a.test/1", "http://a.test/2", "http://a.test/3"]
    assert sitemap.problems == []


def test_bom_and_leading_whitespace_before_xml() -> None:
    body = b"\xef\xbb\xbf\n  " + _urlset(["http://a.test/1"])
    assert parse_sitemap(body, "http://a.test/").urls == ["http://a.test/1"]


def test_empty_body() -> None:
    sitemap = parse_sitemap(b"", "http://a.test/")
    assert (sitemap.kind, sitemap.entries, sitemap.problems) == ("unknown", [], ["empty sitemap"])


# --------------------------------------------------------------------------- lastmod & fields


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2005", datetime(2005, 1, 1, tzinfo=UTC)),
        ("2005-07", datetime(2005, 7, 1, tzinfo=UTC)),
        ("2005-07-16", datetime(2005, 7, 16, tzinfo=UTC)),
        ("1997-07-16T19:20+01:00", datetime(1997, 7, 16, 18, 20, tzinfo=UTC)),
        ("1997-07-16T19:20:30+01:00", datetime(1997, 7, 16, 18, 20, 30, tzinfo=UTC)),
        ("1997-07-16T19:20:30.45+01:00", datetime(1997, 7, 16, 18, 20, 30, 450000, tzinfo=UTC)),
        ("1997-07-16T19:20:30.123456789Z", datetime(1997, 7, 16, 19, 20, 30, 123456, tzinfo=UTC)),
        ("2004-12-23T18:00:15Z", datetime(2004, 12, 23, 18, 0, 15, tzinfo=UTC)),
        ("2004-12-23T18:00:15-05:30", datetime(2004, 12, 23, 23, 30, 15, tzinfo=UTC)),
        ("2004-12-23T18:00:15+0100", datetime(2004, 12, 23, 17, 0, 15, tzinfo=UTC)),
        ("2004-12-23T18:00:15", datetime(2004, 12, 23, 18, 0, 15, tzinfo=UTC)),
        ("2004-12-23 18:00", datetime(2004, 12, 23, 18, 0, tzinfo=UTC)),
        ("  2016-11-21\n", datetime(2016, 11, 21, tzinfo=UTC)),
        ("2016-02-29", datetime(2016, 2, 29, tzinfo=UTC)),
    ],
)
def test_lastmod_valid(text: str, expected: datetime) -> None:
    value = parse_w3c_datetime(text)
    assert value == expected
    assert value is not None
    assert value.tzinfo is UTC


@pytest.mark.parametrize(
    "text",
    [
        "",
        "yesterday",
        "05",
        "2005-13",
        "2005-02-30",
        "2015-02-29",
        "2005-7-16",
        "2005-07-16T",
        "2005-07-16T25:00Z",
        "2005-07-16T24:00Z",
        "2005-07-16T19:60Z",
        "2005-07-16T19:20:61Z",
        "2005-07-16T19:20+25:00",
        "2005-07-16T19:20+01:99",
        "0000-01-01",
        "0001-01-01T00:00+01:00",
        "2005-07-16Z",
        "Sat, 16 Jul 2005 19:20:00 GMT",
        "\uff12\uff10\uff10\uff15",  # fullwidth digits: ASCII only
    ],
)
def test_lastmod_invalid(text: str) -> None:
    assert parse_w3c_datetime(text) is None


def test_invalid_fields_reported_entry_kept() -> None:
    body = (
        f'<urlset xmlns="{NS}"><url><loc>http://a.test/</loc><lastmod>soon</lastmod>'
        "<changefreq>Sometimes</changefreq><priority>1.5</priority></url>"
        "<url><loc>http://a.test/b</loc><changefreq>WEEKLY</changefreq><priority>.5</priority>"
        "</url></urlset>"
    ).encode()
    sitemap = parse_sitemap(body, "http://a.test/")
    first, second = sitemap.entries
    assert (first.lastmod, first.lastmod_text, first.changefreq, first.priority) == (
        None,
        "soon",
        None,
        None,
    )
    assert (second.changefreq, second.priority) == ("weekly", 0.5)
    assert len(sitemap.problems) == 3
    assert "not a W3C datetime" in sitemap.problems[0]
    assert "changefreq" in sitemap.problems[1]
    assert "priority" in sitemap.problems[2]
    assert sitemap.skipped == 0


# --------------------------------------------------------------------------- gzip and limits


def test_gzip_detected_by_magic() -> None:
    plain = SITEMAPS_ORG.read_bytes()
    packed = gzip.compress(plain)
    assert is_gzip(packed)
    assert not is_gzip(plain)
    expected = parse_sitemap(plain, "https://www.sitemaps.org/sitemap.xml")
    # The URL does not end in .gz: the magic bytes decide.
    unpacked = parse_sitemap(packed, "https://www.sitemaps.org/sitemap.xml")
    assert unpacked.entries == expected.entries
    assert len(unpacked.entries) == len(_ENTRY.findall(plain))
    assert unpacked.problems == []


def test_gzip_multi_member_and_cut() -> None:
    text = b"http://a.test/1\nhttp://a.test/2\n"
    both = gzip.compress(text) + gzip.compress(b"http://a.test/3\n")
    assert len(parse_sitemap(both, "http://a.test/").entries) == 3
    cut = gzip.compress(text * 1000)[:-20]
    sitemap = parse_sitemap(cut, "http://a.test/")
    assert "gzip data ends early" in sitemap.problems[0]
    assert len(sitemap.entries) > 100
    corrupt = b"\x1f\x8b\x08\x00" + b"\xff" * 40
    sitemap = parse_sitemap(corrupt, "http://a.test/")
    assert "corrupt gzip" in sitemap.problems[0]
    assert sitemap.entries == []


def _gzip_bomb(prefix: bytes, mebibytes: int) -> bytes:
    """``prefix`` then ``mebibytes`` MiB of spaces, gzipped, built without holding it all."""
    packer = zlib.compressobj(9, zlib.DEFLATED, 16 + zlib.MAX_WBITS)
    chunk = b" " * (1 << 20)
    parts = [packer.compress(prefix)]
    parts += [packer.compress(chunk) for _ in range(mebibytes)]
    parts.append(packer.flush())
    return b"".join(parts)


def test_gzip_bomb_stops_at_cap() -> None:
    bomb = _gzip_bomb(b"http://a.test/1\nhttp://a.test/2\n", 1024)  # 1 GiB inflated
    assert len(bomb) < 2 * 1024 * 1024
    sitemap = parse_sitemap(bomb, "http://a.test/", max_bytes=4 * 1024 * 1024)
    assert sitemap.truncated
    assert "more than 4194304 bytes" in sitemap.problems[0]
    assert sitemap.urls == ["http://a.test/1", "http://a.test/2"]


def test_gzip_bomb_default_cap() -> None:
    bomb = _gzip_bomb(_urlset(["http://a.test/1"])[:-11], 60)  # no </urlset>: cut anyway
    sitemap = parse_sitemap(bomb, "http://a.test/")
    assert sitemap.truncated
    assert f"more than {defaults.SITEMAP_MAX_BYTES} bytes" in sitemap.problems[0]


def test_max_bytes_plain_body() -> None:
    body = b"".join(b"http://a.test/%d\n" % i for i in range(1000))
    sitemap = parse_sitemap(body, "http://a.test/", max_bytes=1000)
    assert sitemap.truncated
    # The line cut by the limit is not read as a (wrong) URL.
    kept = body[:1000]
    assert len(sitemap.entries) == kept.count(b"\n")


@pytest.mark.parametrize("max_urls", [1, 100, defaults.SITEMAP_MAX_URLS])
def test_max_urls(max_urls: int) -> None:
    body = _urlset([f"http://a.test/{i}" for i in range(max_urls + 10)])
    sitemap = parse_sitemap(body, "http://a.test/", max_urls=max_urls)
    assert len(sitemap.entries) == max_urls
    assert sitemap.entries[-1].url == f"http://a.test/{max_urls - 1}"
    assert sitemap.truncated
    assert sitemap.problems == [
        f"more than {max_urls} entries (limit): the rest of the file is dropped"
    ]


def test_max_urls_text() -> None:
    body = b"".join(b"http://a.test/%d\n" % i for i in range(60))
    sitemap = parse_sitemap(body, "http://a.test/", max_urls=50)
    assert (len(sitemap.entries), sitemap.truncated) == (50, True)


def test_exactly_max_urls_is_not_truncated() -> None:
    body = _urlset([f"http://a.test/{i}" for i in range(20)])
    sitemap = parse_sitemap(body, "http://a.test/", max_urls=20)
    assert (len(sitemap.entries), sitemap.truncated, sitemap.problems) == (20, False, [])


# --------------------------------------------------------------------------- malformed / hostile


def test_malformed_xml_keeps_what_was_read() -> None:
    body = SITEMAPS_ORG.read_bytes()
    cut = body[: len(body) // 2]
    sitemap = parse_sitemap(cut, "https://www.sitemaps.org/")
    assert sitemap.kind == "urlset"
    assert len(sitemap.entries) == cut.count(b"</url>")
    assert len(sitemap.problems) == 1
    assert sitemap.problems[0].startswith("malformed XML at line ")


def test_malformed_xml_in_the_middle() -> None:
    body = _urlset(["http://a.test/1", "http://a.test/2", "http://a.test/3"])
    broken = body.replace(
        b"<url><loc>http://a.test/2</loc></url>", b"<url><loc>http://a.test/2</lo></url>"
    )
    sitemap = parse_sitemap(broken, "http://a.test/")
    assert sitemap.urls == ["http://a.test/1"]
    assert re.fullmatch(
        r"malformed XML at line 4: .*; the rest of the file is not read", sitemap.problems[0]
    )


BILLION_LAUGHS = b"""<?xml version="1.0"?>
<!DOCTYPE urlset [
 <!ENTITY lol "lol">
 <!ENTITY lol1 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
 <!ENTITY lol2 "&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;">
 <!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">
 <!ENTITY lol4 "&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;">
 <!ENTITY lol5 "&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;">
 <!ENTITY lol6 "&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;">
 <!ENTITY lol7 "&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;">
 <!ENTITY lol8 "&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;">
 <!ENTITY lol9 "&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;">
]>
<urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">
<url><loc>http://a.test/&lol9;</loc></url>
</urlset>
"""

XXE = b"""<?xml version="1.0"?>
<!DOCTYPE urlset [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>
<urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">
<url><loc>http://a.test/&xxe;</loc></url>
</urlset>
"""

EXTERNAL_DTD = b"""<?xml version="1.0"?>
<!DOCTYPE urlset SYSTEM "http://127.0.0.1:9/evil.dtd">
<urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">
<url><loc>http://a.test/1</loc></url>
</urlset>
"""


@pytest.mark.parametrize("body", [BILLION_LAUGHS, XXE, EXTERNAL_DTD], ids=["laughs", "xxe", "dtd"])
def test_doctype_refused(body: bytes) -> None:
    sitemap = parse_sitemap(body, "http://a.test/", host_rule="any")
    assert sitemap.entries == []
    assert sitemap.kind == "unknown"
    assert sitemap.problems == [
        "XML with a DOCTYPE refused (sitemaps have none; entity expansion and external "
        "entities are not allowed): no entry read"
    ]


def test_undeclared_entity_is_malformed() -> None:
    body = _urlset(["http://a.test/1"]).replace(b"/1<", b"/&passwd;<")
    sitemap = parse_sitemap(body, "http://a.test/")
    assert sitemap.entries == []
    assert sitemap.problems[0].startswith("malformed XML at line 3")


def test_not_a_sitemap() -> None:
    sitemap = parse_sitemap(b"<!doctype html><html><body>404</body></html>", "http://a.test/")
    assert (sitemap.kind, sitemap.entries) == ("unknown", [])
    assert len(sitemap.problems) == 1


def test_hostile_urls_skipped_with_reason() -> None:
    locs = [
        "http://a.test/ok",
        "javascript:alert(1)",
        "mailto:x@a.test",
        "http://",
        "http://[::1",
        "http://a.test/" + "x" * MAX_LOC_CHARS,
        "http://evil.test/",
        "",
        "relative/page",
    ]
    sitemap = parse_sitemap(_urlset(locs), "http://a.test/dir/sitemap.xml")
    assert sitemap.urls == ["http://a.test/ok", "http://a.test/dir/relative/page"]
    assert sitemap.skipped == 7
    reasons = "\n".join(sitemap.problems)
    assert reasons.count("skipped, bad URL: unsupported scheme") == 2
    assert reasons.count("skipped, bad URL: invalid URL") == 2
    assert "skipped, URL of 2062 characters (limit 2047)" in reasons
    assert "URL on host 'evil.test', not the sitemap's (host rule)" in reasons
    assert "skipped, no <loc>" in reasons
    assert all(p.startswith("<url> at line ") for p in sitemap.problems)


def test_text_sitemap_bad_lines() -> None:
    sitemap = parse_sitemap(
        b"http://a.test/1\nnot a url at all\nftp://a.test/f\n/relative\n", "http://a.test/"
    )
    assert sitemap.urls == ["http://a.test/1"]
    assert [p.split(":")[0] for p in sitemap.problems] == ["line 2", "line 3", "line 4"]


def test_problems_are_capped() -> None:
    body = "\n".join(f"ftp://a.test/{i}" for i in range(MAX_PROBLEMS + 50)).encode()
    sitemap = parse_sitemap(body, "http://a.test/")
    assert sitemap.skipped == MAX_PROBLEMS + 50
    assert len(sitemap.problems) == MAX_PROBLEMS + 1
    assert sitemap.problems[-1] == "... and 50 more problems not listed"


def test_bad_base_url() -> None:
    sitemap = parse_sitemap(_urlset(["http://a.test/1", "/rel"]), "not a url")
    assert sitemap.entries == []
    assert sitemap.problems[0].startswith("sitemap URL is not usable")
    sitemap = parse_sitemap(_urlset(["http://a.test/1", "/rel"]), "not a url", host_rule="any")
    assert sitemap.urls == ["http://a.test/1"]


# --------------------------------------------------------------------------- host rules


def test_host_rules() -> None:
    locs = [
        "https://example.com/a",
        "https://www.example.com/b",
        "https://other.test/c",
        "http://EXAMPLE.com:8080/d",
    ]
    body = _urlset(locs)
    base = "https://example.com/sitemap.xml"
    assert parse_sitemap(body, base).urls == ["https://example.com/a", "http://example.com:8080/d"]
    assert parse_sitemap(body, base, host_rule="domain").urls == [
        "https://example.com/a",
        "https://www.example.com/b",
        "http://example.com:8080/d",
    ]
    assert len(parse_sitemap(body, base, host_rule="any").entries) == 4
    # Cross-submission: other.test's robots.txt named this sitemap.
    crossed = parse_sitemap(body, base, robots_hosts=["Other.Test", "bad host!"])
    assert crossed.urls == [
        "https://example.com/a",
        "https://other.test/c",
        "http://example.com:8080/d",
    ]
    with pytest.raises(ValueError, match="unknown host rule"):
        parse_sitemap(body, base, host_rule="nope")


def test_index_entries_follow_host_rule() -> None:
    body = (
        f'<sitemapindex xmlns="{NS}"><sitemap><loc>https://a.test/s1.xml</loc></sitemap>'
        "<sitemap><loc>https://cdn.test/s2.xml</loc></sitemap></sitemapindex>"
    ).encode()
    sitemap = parse_sitemap(body, "https://a.test/index.xml")
    assert (sitemap.kind, sitemap.urls, sitemap.skipped) == (
        "sitemapindex",
        ["https://a.test/s1.xml"],
        1,
    )


def test_entries_canonicalised_like_links() -> None:
    loc = "HTTP://A.test:80/a/../b/%7euser?utm_source=x&id=1#frag"
    assert parse_sitemap(_urlset([loc]), "http://a.test/").urls == [canonicalize(loc)]


# --------------------------------------------------------------------------- robots & defaults


def test_sitemap_urls_from_robots() -> None:
    robots = parse_robots(
        b"User-agent: *\nDisallow: /private\n"
        b"Sitemap: https://example.com/sitemap.xml\n"
        b"Sitemap: /sitemaps/news.xml\n"
        b"sitemap: https://cdn.test/example/sitemap.xml.gz#x\n"
        b"Sitemap: https://example.com/sitemap.xml\n"
        b"Sitemap: javascript:alert(1)\n"
        b"Sitemap: http://\n"
    )
    assert sitemap_urls_from_robots(robots.sitemaps, "https://example.com/some/page") == [
        "https://example.com/sitemap.xml",
        "https://example.com/sitemaps/news.xml",
        "https://cdn.test/example/sitemap.xml.gz",
    ]
    assert sitemap_urls_from_robots(["/rel.xml", "https://b.test/s.xml"], "bad") == [
        "https://b.test/s.xml"
    ]


def test_default_sitemap_url() -> None:
    assert (
        default_sitemap_url("https://Example.com:8443/a/b?c")
        == "https://example.com:8443/sitemap.xml"
    )
    assert default_sitemap_url("http://example.com") == "http://example.com/sitemap.xml"


def test_no_scrapy_import() -> None:
    code = "import sys, linkcrawl.sitemaps; assert 'scrapy' not in sys.modules"
    subprocess.run([sys.executable, "-c", code], check=True)


# --------------------------------------------------------------------------- properties


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=2000))
def test_any_bytes_never_raise(body: bytes) -> None:
    for candidate in (body, b"<" + body, b"\x1f\x8b" + body, gzip.compress(body)):
        sitemap = parse_sitemap(candidate, "http://a.test/", max_bytes=1500, max_urls=20)
        assert len(sitemap.entries) <= 20
        assert len(sitemap.problems) <= MAX_PROBLEMS + 1


@settings(max_examples=100, deadline=None)
@given(st.text(st.characters(codec="utf-8", exclude_categories=("Cs",)), max_size=300))
def test_any_xml_text_never_raises(text: str) -> None:
    body = f'<urlset xmlns="{NS}"><url><loc>{text}</loc><lastmod>{text}</lastmod></url></urlset>'
    parse_sitemap(body.encode(), "http://a.test/")
    parse_sitemap(text.encode(), "http://a.test/")


_PATH_CHARS = st.characters(codec="utf-8", exclude_categories=("Cs", "Cc"))


@settings(max_examples=200, deadline=None)
@given(
    st.lists(st.text(_PATH_CHARS, max_size=40), max_size=30),
    st.sampled_from(["http://a.test/", "https://a.test:8443/"]),
    st.booleans(),
)
def test_urlset_round_trip(paths: list[str], origin: str, packed: bool) -> None:
    locs = [origin + path for path in paths]
    body = _urlset(locs)
    if packed:
        body = gzip.compress(body)
    sitemap = parse_sitemap(body, origin + "sitemap.xml")
    assert sitemap.kind == "urlset"
    assert sitemap.urls == [canonicalize(loc.strip(" \t\r\n\f\v")) for loc in locs]
    assert sitemap.problems == []


@settings(max_examples=100, deadline=None)
@given(st.lists(st.text(_PATH_CHARS.filter(lambda c: not c.isspace()), max_size=40), max_size=30))
def test_text_round_trip(paths: list[str]) -> None:
    locs = ["http://a.test/" + path for path in paths]
    sitemap = parse_sitemap("\n".join(locs).encode(), "http://a.test/sitemap.txt")
    assert sitemap.urls == [canonicalize(loc) for loc in locs]
