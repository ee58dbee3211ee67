"""Tests for the test web (``linkcrawl.testweb``): determinism, the feature checklist, its
answers against an independent reference extraction, the proxy server and its command.

The reference extraction below re-implements ``docs/rules.md`` sections 1 and 2 with the
same parsers linkcrawl uses (ada-url, lexbor via selectolax, w3lib decoding), so the test
web's answers are checked against what those parsers really see in the served bytes, not
against the generator's own bookkeeping.
"""

from __future__ import annotations

import gzip
import http.client
import json
import re
import statistics
import subprocess
import sys
import threading
import time
import tracemalloc
import urllib.error
import urllib.request
import xml.etree.ElementTree as ET
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import unquote, urlsplit

import ada_url
import pytest
from protego import Protego
from selectolax.lexbor import LexborHTMLParser
from w3lib.encoding import html_to_unicode

from linkcrawl.testweb.generator import (
    BOT_NAME,
    IDN_ASCII,
    ROBOTS_404_HOST,
    ROBOTS_503_HOST,
    SLOW_HOST,
    ExpectedEdge,
    ExpectedPage,
    TestWeb,
    TestWebConfig,
)
from linkcrawl.testweb.server import TestWebServer, main, serve_main

if TYPE_CHECKING:
    from collections.abc import Iterator

ROOT = Path(__file__).resolve().parent.parent
HTML_TYPES = (None, "text/html", "application/xhtml+xml")
SMALL = TestWebConfig(pages=300, hosts=9, oversize_bytes=100_000)


@pytest.fixture(scope="module")
def web() -> TestWeb:
    return TestWeb()


@pytest.fixture(scope="module")
def pages(web: TestWeb) -> dict[str, ExpectedPage]:
    return web.expected_pages()


@pytest.fixture(scope="module")
def edges(web: TestWeb, pages: dict[str, ExpectedPage]) -> list[ExpectedEdge]:
    return web.expected_edges(list(pages))


@pytest.fixture(scope="module", params=["threads", "event-loop"])
def server(request: pytest.FixtureRequest) -> Iterator[TestWebServer]:
    """The server in both serving modes: every server test holds for each."""
    with TestWebServer(SMALL, event_loop=request.param == "event-loop") as srv:
        yield srv


def host_of(url: str) -> str:
    return urlsplit(url).hostname or ""


def html_bodies(web: TestWeb, pages: dict[str, ExpectedPage]) -> dict[str, str]:
    out = {}
    for url, page in pages.items():
        if page.status == 200 and page.content_type in ("text/html", "application/xhtml+xml"):
            response = web.respond(url)
            out[url] = html_to_unicode(response.header("Content-Type"), response.read())[1]
    return out


# --- a reference extraction (docs/rules.md sections 1 and 2) ----------------------------

ASCII_WS = " \t\n\f\r"
WS = re.compile(f"[{ASCII_WS}]+")
UNRESERVED = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~")
TRACKING = (
    "utm_*", "gclid", "fbclid", "msclkid", "dclid", "gbraid", "wbraid", "yclid",
    "mc_cid", "mc_eid", "igshid", "_hsenc", "_hsmi", "mkt_tok",
)  # fmt: skip


class NotEmitted(Exception):
    pass


def _percent(text: str) -> str:
    def fix(m: re.Match[str]) -> str:
        char = chr(int(m[1], 16))
        return char if char in UNRESERVED else "%" + m[1].upper()

    return re.sub(r"%([0-9A-Fa-f]{2})", fix, text)


def _tracking(name: str) -> bool:
    name = unquote(name).lower()
    return any(name.startswith(t[:-1]) if t.endswith("*") else name == t for t in TRACKING)


def canonical(href: str, base: str) -> str:
    try:
        url = ada_url.URL(href, base)
    except ValueError:
        raise NotEmitted("invalid") from None
    if url.protocol not in ("http:", "https:"):
        raise NotEmitted("scheme")
    host = url.hostname.removesuffix(".")
    port = f":{url.port}" if url.port else ""
    params = [p for p in url.search[1:].split("&") if p and not _tracking(p.split("=", 1)[0])]
    query = "&".join(_percent(p) for p in params)
    path = _percent(url.pathname) or "/"
    return f"{url.protocol}//{host}{port}{path}" + (f"?{query}" if query else "")


def collapse(text: str) -> str:
    return " ".join(WS.split(text)).strip(" ")


def rel_tokens(raw: str | None) -> tuple[str, ...]:
    return tuple(dict.fromkeys(t.lower() for t in WS.split(raw or "") if t))


def robots_header_nofollow(value: str) -> bool:
    m = re.match(r"\s*([A-Za-z0-9_-]+)\s*:(.*)$", value)
    if m and m[1].lower() not in ("noindex", "nofollow", "none"):
        if m[1].lower() != BOT_NAME:
            return False
        value = m[2]
    return bool({t.strip().lower() for t in value.split(",")} & {"nofollow", "none"})


def link_header_canonical(value: str) -> str | None:
    for m in re.finditer(r"<([^>]*)>((?:\s*;\s*[^,;]+)*)", value):
        for param in m[2].split(";"):
            key, _, val = param.strip().partition("=")
            if key.lower() == "rel" and "canonical" in val.strip('"').lower().split():
                return m[1]
    return None


def reference_sitemap(url: str, body: bytes) -> list[tuple[str, datetime | None]]:
    """(target, lastmod) of each entry the crawler keeps (docs/sitemaps.md), read with the
    standard library's XML parser rather than linkcrawl's: entries on other hosts and
    lines that are no absolute URL are dropped, reading stops at the first XML error."""
    if body[:2] == b"\x1f\x8b":
        body = gzip.decompress(body)
    out: list[tuple[str, datetime | None]] = []

    def keep(loc: str, lastmod: str | None, relative: bool) -> None:
        if not relative and "://" not in loc:
            return
        try:
            target = canonical(loc.strip(), url)
        except NotEmitted:
            return
        if host_of(target) != host_of(url):
            return
        when = None
        if lastmod is not None:
            try:
                when = datetime.fromisoformat(lastmod.strip())
            except ValueError:
                when = None
            if when is not None:
                when = when.replace(tzinfo=when.tzinfo or UTC).astimezone(UTC)
        out.append((target, when))

    if not body.lstrip().startswith(b"<"):
        for line in body.decode().splitlines():
            if line.strip():
                keep(line, None, relative=False)
        return out
    parser = ET.XMLPullParser(events=("start", "end"))
    depth, fields = 0, {}
    try:
        for line in body.splitlines(keepends=True):  # events up to the first error
            parser.feed(line)
            for event, elem in parser.read_events():
                if event == "start":
                    depth += 1
                    continue
                depth -= 1
                local = elem.tag.rpartition("}")[2]
                if depth == 2 and elem.tag.startswith("{http://www.sitemaps.org/"):
                    fields[local] = elem.text or ""
                elif depth == 1:
                    keep(fields.get("loc", ""), fields.get("lastmod"), relative=True)
                    fields = {}
    except ET.ParseError:
        pass
    return out


def reference_edges(
    url: str, headers: list[tuple[str, str]], body: bytes
) -> tuple[list[tuple[Any, ...]], bool]:
    """Edge keys ``(source, target, type, anchor, rel, page_nofollow, image, position)``
    and the page-level nofollow of one HTML page."""
    content_type = next((v for k, v in headers if k.lower() == "content-type"), None)
    tree = LexborHTMLParser(html_to_unicode(content_type, body)[1])
    base = url
    base_el = tree.css_first("base[href]")
    if base_el is not None:
        try:
            base = ada_url.URL((base_el.attributes["href"] or "").strip(ASCII_WS), url).href
        except ValueError:
            base = url
    page_nofollow = any(
        (m.attributes.get("name") or "").lower() == "robots"
        and {t.strip().lower() for t in (m.attributes.get("content") or "").split(",")}
        & {"nofollow", "none"}
        for m in tree.css("meta[name]")
    ) or any(robots_header_nofollow(v) for k, v in headers if k.lower() == "x-robots-tag")
    out: list[tuple[Any, ...]] = []
    for node in tree.css("a[href], area[href]"):
        href = (node.attributes.get("href") or "").strip(ASCII_WS)
        if not href or href.startswith("#"):
            continue
        try:
            target = canonical(href, base)
        except NotEmitted:
            continue
        image = False
        if node.tag == "area":
            anchor = collapse(node.attributes.get("alt") or "")
        else:
            anchor = collapse(node.text(deep=True, separator="", strip=False))
            images = node.css("img")
            image = bool(images)
            alts = (collapse(i.attributes.get("alt") or "") for i in images)
            anchor = anchor or next((a for a in alts if a), "")
        rel = rel_tokens(node.attributes.get("rel"))
        out.append(
            (url, target, node.tag, anchor[:256] or None, rel, page_nofollow, image, len(out))
        )
    declared = next(
        (c for k, v in headers if k.lower() == "link" and (c := link_header_canonical(v))), None
    )
    if declared is not None:
        canon: str | None = canonical(declared, url)
    else:
        element = next(
            (
                e
                for e in tree.css("link[rel][href]")
                if "canonical" in rel_tokens(e.attributes["rel"])
            ),
            None,
        )
        canon = None if element is None else canonical(element.attributes["href"] or "", base)
    if canon is not None and canon != url:
        out.append((url, canon, "canonical", None, (), page_nofollow, False, None))
    for meta in tree.css("meta[http-equiv]"):
        if (meta.attributes.get("http-equiv") or "").lower() == "refresh":
            m = re.match(
                r"\s*[\d.]*\s*[;,]?\s*(?:url\s*=\s*)?(.*)$", meta.attributes["content"] or "", re.I
            )
            href = m[1].strip().strip("'\"") if m else ""
            if href and (target := canonical(href, base)) != url:
                out.append((url, target, "refresh", None, (), page_nofollow, False, None))
            break
    return out, page_nofollow


def edge_key(e: ExpectedEdge) -> tuple[Any, ...]:
    return (
        e.source_url,
        e.target_url,
        e.link_type,
        e.anchor_text,
        e.rel,
        e.page_nofollow,
        e.image,
        e.position,
    )


# --- determinism --------------------------------------------------------------------------


def sample_urls(web: TestWeb) -> list[str]:
    urls = list(web.seeds())
    for host in web.hosts:
        urls += [f"http://{host}/p/{k}" for k in range(0, web.page_count(host), 7)]
    urls += [
        f"http://{web.hosts[0]}/zoo",
        f"http://{web.hosts[6]}/cp1251",
        f"http://{web.hosts[6]}/malformed",
    ]
    return urls


def test_same_seed_gives_the_same_bytes_and_answers() -> None:
    a, b = TestWeb(SMALL), TestWeb(SMALL)
    for url in sample_urls(a):
        ra, rb = a.respond(url), b.respond(url)
        assert (ra.status, ra.headers, ra.read()) == (rb.status, rb.headers, rb.read()), url
    assert a.expected_pages() == b.expected_pages()
    assert a.expected_edges() == b.expected_edges()


def test_another_seed_gives_another_web() -> None:
    a = TestWeb(SMALL)
    b = TestWeb(TestWebConfig(pages=SMALL.pages, hosts=SMALL.hosts, seed=1))
    assert a.hosts == b.hosts and a.seeds() == b.seeds()
    urls = [u for u in sample_urls(a) if "/p/" in u]
    differ = sum(a.respond(u).read() != b.respond(u).read() for u in urls)
    assert differ >= 0.9 * len(urls)
    assert Counter(map(edge_key, a.expected_edges())) != Counter(map(edge_key, b.expected_edges()))


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"hosts": 3}, "hosts must be between"),
        ({"pages": 50}, "pages must be between"),
        ({"seed": -1}, "seed must be"),
        ({"oversize_bytes": 10}, "oversize_bytes"),
    ],
)
def test_config_rejects_bad_values(kwargs: dict[str, int], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        TestWebConfig(**kwargs)


# --- the content checklist ----------------------------------------------------------------


def test_hosts_and_seeds(web: TestWeb) -> None:
    assert len(web.hosts) == 20 and len(set(web.hosts)) == 20
    assert all(h.endswith(".test") and h == h.lower() and h.isascii() for h in web.hosts)
    assert {"www.site-03.test", "blog.site-03.test", IDN_ASCII, SLOW_HOST} <= set(web.hosts)
    assert sum(h.startswith("site-") for h in web.hosts) == 16
    assert web.seeds() == [f"http://{h}/" for h in web.hosts]
    assert web.page_count(SLOW_HOST) == 10
    assert sum(web.page_count(h) for h in web.hosts) == 2000


def test_robots_txt(
    web: TestWeb, pages: dict[str, ExpectedPage], edges: list[ExpectedEdge]
) -> None:
    parsers = {h: Protego.parse(web.robots_txt(h)) for h in web.hosts}
    gone = web.hosts[ROBOTS_404_HOST]
    for host, rp in parsers.items():
        assert rp.can_fetch(f"http://{host}/private/x", BOT_NAME) == (host == gone), host
        assert rp.can_fetch(f"http://{host}/p/1", BOT_NAME), host
        response = web.respond(f"http://{host}/robots.txt")
        if host != gone:
            assert (response.status, response.read().decode()) == (200, web.robots_txt(host))
    assert parsers[SLOW_HOST].crawl_delay(BOT_NAME) == 0.5
    assert [h for h, rp in parsers.items() if rp.crawl_delay(BOT_NAME)] == [SLOW_HOST]
    assert parsers["www.site-03.test"].can_fetch(
        "http://www.site-03.test/members/welcome", BOT_NAME
    )
    # robots.txt decides: nothing disallowed is fetched, but links into /private/ exist
    for url in pages:
        assert parsers[host_of(url)].can_fetch(url, BOT_NAME), url
        assert web.robots_allowed(url)
    disallowed = {
        e.target_url
        for e in edges
        if not parsers[host_of(e.target_url)].can_fetch(e.target_url, BOT_NAME)
    }
    assert len(disallowed) >= 20
    assert disallowed == {e.target_url for e in edges if not web.robots_allowed(e.target_url)}
    members = {u for u in disallowed if "/private/" not in u}
    assert members == {
        "http://www.site-03.test/members/area",
        "http://www.site-03.test/members/leak",
    }
    assert "http://www.site-03.test/members/welcome" in pages


def test_robots_txt_404_and_503_hosts(web: TestWeb, pages: dict[str, ExpectedPage]) -> None:
    gone, flaky = web.hosts[ROBOTS_404_HOST], web.hosts[ROBOTS_503_HOST]
    assert gone != flaky and SLOW_HOST not in (gone, flaky)
    # a 404 whose body would forbid everything if it were read as a robots.txt
    response = web.respond(f"http://{gone}/robots.txt")
    assert response.status == 404 and web.robots_txt(gone) == ""
    assert not Protego.parse(response.read().decode()).can_fetch(f"http://{gone}/", BOT_NAME)
    # so everything of that host is crawled, /private/ included (disallowed on the others)
    private = {u for u, p in pages.items() if "/private/" in u}
    assert private and {host_of(u) for u in private} == {gone}
    assert {f"http://{gone}/private/admin", f"http://{gone}/private/leak"} <= private
    assert {pages[u].kind for u in private} == {"robots_allowed"}
    assert not web.robots_allowed(f"http://{flaky}/private/admin")
    # the outage changes one answer only, and none of the expected ones
    robots = f"http://{flaky}/robots.txt"
    down = web.respond(robots, robots_outage=True)
    assert down.status == 503 and web.respond(robots).status == 200
    assert Protego.parse(down.read().decode()).can_fetch(f"http://{flaky}/private/x", BOT_NAME)
    for url in [*list(pages)[::50], f"http://{gone}/robots.txt", f"http://{SLOW_HOST}/robots.txt"]:
        assert web.respond(url, robots_outage=True).read() == web.respond(url).read(), url


def test_link_features_are_present(edges: list[ExpectedEdge]) -> None:
    a = [e for e in edges if e.link_type == "a"]
    rels = {e.rel for e in edges}
    assert {("nofollow",), ("sponsored",), ("ugc",), ("ugc", "nofollow")} <= rels
    assert sum(e.nofollow for e in edges) > 100 and sum(e.ugc for e in edges) > 50
    assert sum(e.sponsored for e in edges) > 50
    assert any(e.image and e.anchor_text for e in a), "image link with alt"
    assert any(e.image and e.anchor_text is None for e in a), "image link with empty alt"
    assert any(e.link_type == "area" and e.anchor_text for e in edges)
    assert any(e.link_type == "area" and e.anchor_text is None for e in edges)
    assert any(e.anchor_text and len(e.anchor_text) == 256 for e in a), "capped anchor"
    assert any(e.anchor_text and not e.anchor_text.isascii() for e in a), "non-ASCII anchors"
    assert any(e.page_nofollow for e in edges)
    dup = Counter((e.source_url, e.target_url) for e in a)
    assert sum(n > 1 for n in dup.values()) > 20, "duplicate links on a page"
    assert any(e.source_url == e.target_url for e in a), "links to the page itself"
    assert Counter(e.link_type for e in edges).keys() == {
        "a",
        "area",
        "canonical",
        "refresh",
        "redirect",
        "sitemap",
    }


def test_href_forms_are_present(web: TestWeb, pages: dict[str, ExpectedPage]) -> None:
    bodies = html_bodies(web, pages)
    hrefs = [
        h for text in bodies.values() for h in re.findall(r'(?i)href\s*=\s*["\']?([^"\'>]*)', text)
    ]
    raw = "\n".join(hrefs)

    def any_href(pattern: str) -> bool:
        return re.search(pattern, raw, re.M) is not None

    checks = {
        "relative": r"^\d+$",
        "root-relative": r"^/p/\d+$",
        "dot": r"^\./",
        "dotdot": r"^\.\./",
        "protocol-relative": r"^//[a-z]",
        "absolute": r"^http://site-\d\d\.test/p/\d+$",
        "upper-case host": r"^http://SITE-\d\d\.TEST/",
        "explicit :80": r"^http://[^/]+:80/",
        "utm": r"[?&]utm_source=",
        "gclid": r"[?&]gclid=",
        "escaped unreserved": r"%(?:7[Ee]|70|3\d)",
        "dot segments": r"/\./|/x/\.\./",
        "fragment": r"^[^#]+#.",
        "fragment only": r"^#",
        "javascript": r"^javascript:",
        "mailto": r"^mailto:",
        "tel": r"^tel:",
        "invalid IPv6": r"^http://\[::1$",
        "space in host": r"^http://exa mple\.test/",
        "unicode host": "bücher\\.test|BÜCHER\\.TEST",
        "punycode host": r"xn--bcher-kva\.test",
        "userinfo": r"^http://[^/@]+@",
        "backslash": r"^\\",
    }
    missing = [name for name, pattern in checks.items() if not any_href(pattern)]
    assert not missing, missing
    assert any("<base href" in text for text in bodies.values())
    assert sum(bool(re.search(r"<map name", t)) for t in bodies.values()) > 50


def test_special_pages_are_present(web: TestWeb, pages: dict[str, ExpectedPage]) -> None:
    by_kind: dict[str, list[ExpectedPage]] = {}
    for page in pages.values():
        by_kind.setdefault(page.kind, []).append(page)
    assert {301, 302, 307, 308} <= {p.status for p in by_kind["redirect"]}
    # a chain of three redirect hops
    url, hops = "http://site-01.test/r/chain/1", 0
    while pages[url].kind == "redirect":
        url, hops = pages[url].redirect_target or "", hops + 1
    assert hops == 3 and pages[url].status == 200
    canon = by_kind["canonical"]
    assert any(web.respond(p.url).header("Link") for p in canon), "canonical by header"
    assert any(b'rel="canonical"' in web.respond(p.url).read() for p in canon), "by element"
    assert any(p.canonical == p.url for p in canon), "canonical to itself"
    assert by_kind["refresh"] and by_kind["refresh_target"]
    assert any(p.nofollow for p in by_kind["robots_meta"])
    assert any(p.nofollow for p in by_kind["robots_header"])
    assert any(not p.nofollow for p in by_kind["robots_header"]), "header for another bot"
    assert len(by_kind["not_found"]) >= 20 and all(p.status == 404 for p in by_kind["not_found"])
    assert [p.status for p in by_kind["server_error"]] == [500]
    assert [p.content_type for p in by_kind["pdf"]] == ["application/pdf"]
    assert [p.content_type for p in by_kind["png"]] == ["image/png"]
    assert web.respond(by_kind["png"][0].url).read().startswith(b"\x89PNG\r\n")
    assert web.respond(by_kind["pdf"][0].url).read().startswith(b"%PDF-")
    assert [(p.status, p.error) for p in by_kind["oversize"]] == [(None, "oversize")] * 2
    assert [p.content_type for p in by_kind["no_content_type"]] == [None]
    assert [p.content_type for p in by_kind["xhtml"]] == ["application/xhtml+xml"]
    assert by_kind["malformed"] and by_kind["charset"]
    charset = web.respond(by_kind["charset"][0].url)
    assert charset.header("Content-Type") == "text/html"
    assert b'<meta charset="windows-1251">' in charset.read()
    assert max(p.depth for p in pages.values()) <= 6
    assert len(by_kind["home"]) == 20 and len(by_kind["page"]) == 2000


def test_oversize_page_is_streamed(web: TestWeb) -> None:
    for path in ("/big/chunked", "/big/length"):
        response = web.respond(f"http://site-06.test{path}")
        assert not isinstance(response.body, bytes)
        size = sum(len(chunk) for chunk in response.body)
        assert size == web.oversize_size() > web.config.oversize_bytes
    assert web.respond("http://site-06.test/big/length").header("Content-Length") == str(
        web.oversize_size()
    )
    assert web.respond("http://site-06.test/big/chunked").header("Content-Length") is None


def test_calendar_trap(
    web: TestWeb, pages: dict[str, ExpectedPage], edges: list[ExpectedEdge]
) -> None:
    url = "http://site-07.test/calendar/2024/06"
    assert web.is_trap(url) and not web.is_trap("http://site-07.test/p/1")
    assert not web.is_trap("http://site-07.test/calendar/2024/13")
    assert not any(web.is_trap(u) for u in pages)
    assert [e.source_url for e in edges if e.target_url == url] == ["http://site-07.test/"]
    targets = {e.target_url for e in web.expected_edges([url])}
    assert {
        "http://site-07.test/calendar/2024/05",
        "http://site-07.test/calendar/2024/07",
    } <= targets
    far = "http://site-07.test/calendar/9021/11"
    assert web.respond(far).status == 200 and web.is_trap(far)
    for limit in (1, 4, 8):
        trap = web.trap_pages(limit)
        assert len(trap) == 2 * limit - 1
        assert max(p.depth for p in trap.values()) == limit
        assert all(web.is_trap(u) and p.status == 200 for u, p in trap.items())


# --- the answers --------------------------------------------------------------------------


def test_expected_edges_match_a_reference_extraction(
    web: TestWeb, pages: dict[str, ExpectedPage], edges: list[ExpectedEdge]
) -> None:
    got: Counter[tuple[Any, ...]] = Counter()
    trap = web.trap_pages(2)
    for url, page in [*pages.items(), *trap.items()]:
        response = web.respond(url)
        if page.error or page.status is None:
            continue
        location = response.header("Location")
        if 300 <= page.status < 400 and location:
            got[(url, canonical(location, url), "redirect", None, (), False, False, None)] += 1
        elif page.status // 100 == 2 and page.kind == "sitemap":
            entries = reference_sitemap(url, response.read())
            got.update((url, target, "sitemap", None, (), False, False, None)
                       for target, _ in entries)  # fmt: skip
            want_lastmod = [(e.target_url, e.lastmod) for e in edges if e.source_url == url]
            assert entries == want_lastmod, url
        elif page.status // 100 == 2 and page.content_type in HTML_TYPES:
            found, nofollow = reference_edges(url, response.headers, response.read())
            got.update(found)
            assert nofollow == page.nofollow, url
    want = Counter(map(edge_key, [*edges, *web.expected_edges(trap)]))
    assert sum(want.values()) > 20_000
    missing, extra = list((want - got).items())[:5], list((got - want).items())[:5]
    assert not missing and not extra, f"missing {missing}\nextra {extra}"


def test_redirect_edges_carry_their_status(
    edges: list[ExpectedEdge], pages: dict[str, ExpectedPage]
) -> None:
    redirects = [e for e in edges if e.link_type == "redirect"]
    assert len(redirects) == sum(p.kind == "redirect" for p in pages.values())
    for e in redirects:
        page = pages[e.source_url]
        assert (e.http_status, e.target_url, e.position) == (
            page.status,
            page.redirect_target,
            None,
        )
    assert all(e.http_status is None for e in edges if e.link_type != "redirect")


def test_expected_pages_and_edges_are_consistent(
    web: TestWeb, pages: dict[str, ExpectedPage], edges: list[ExpectedEdge]
) -> None:
    assert set(web.seeds()) <= set(pages)
    assert {e.source_url for e in edges} <= set(pages)
    with_links = {e.source_url for e in edges if e.link_type != "redirect"}
    with_redirect = {e.source_url for e in edges if e.link_type == "redirect"}
    for url, page in pages.items():
        assert page.url == url and page.host == host_of(url)
        assert (page.status is None) == (page.error == "oversize")
        assert web.respond(url).status == (page.status or 200), url
        parsed = page.status == 200 and page.kind not in ("pdf", "png", "text")
        assert url in with_links if parsed else url not in with_links, url
        assert (url in with_redirect) == (page.kind == "redirect"), url
    # every followed target was fetched, unless robots.txt forbids it or it is the trap
    for e in edges:
        followed = not e.page_nofollow
        if followed:
            assert (
                e.target_url in pages
                or not web.robots_allowed(e.target_url)
                or web.is_trap(e.target_url)
            ), e


def test_sitemap_discovery_changes_the_expected_pages(
    web: TestWeb, pages: dict[str, ExpectedPage], edges: list[ExpectedEdge]
) -> None:
    host = "site-06.test"
    named = Protego.parse(web.robots_txt(host)).sitemaps
    assert len(list(named)) == 4  # the index twice, spelt two ways
    assert web.sitemap_urls(host) == [
        f"http://{host}/sitemaps/{name}" for name in ("index.xml", "pages.txt", "broken.xml")
    ]
    sitemaps = {url for url, page in pages.items() if page.kind == "sitemap"}
    orphans = {url for url, page in pages.items() if page.kind == "orphan"}
    assert len(sitemaps) == 5 and len(orphans) == 3
    # no link reaches a sitemap or an orphan: only sitemap edges do
    linked = {e.target_url for e in edges if e.link_type != "sitemap"}
    assert not linked & (sitemaps | orphans)
    assert {e.source_url for e in edges if e.link_type == "sitemap"} == sitemaps
    assert {p.depth for u, p in pages.items() if u in orphans} == {1, 2}
    off = web.expected_pages(sitemaps="off")
    assert set(off) == set(pages) - sitemaps - orphans
    assert not [e for e in web.expected_edges(list(off)) if e.link_type == "sitemap"]
    default = web.expected_pages(sitemaps="robots+default")
    added = set(default) - set(pages)
    probed = {f"http://{h}/sitemap.xml" for h in web.hosts if h != host}
    assert added == probed | {"http://site-02.test/orphan/default-sitemap"}
    assert [u for u in probed if default[u].status != 404] == ["http://site-02.test/sitemap.xml"]
    with pytest.raises(ValueError, match="discovery"):
        web.sitemap_urls(host, "sometimes")


def test_nofollow_switches_change_the_expected_pages(
    web: TestWeb, pages: dict[str, ExpectedPage]
) -> None:
    only_nofollow = "http://site-00.test/only-via-rel-nofollow"
    assert only_nofollow in pages
    assert set(web.expected_pages(follow_nofollow=False)) == set(pages) - {only_nofollow}
    ignoring = web.expected_pages(obey_meta_robots=False)
    added = sorted(set(ignoring) - set(pages))
    assert set(pages) <= set(ignoring)
    blocked = [
        "meta-nofollow",
        "meta-none",
        "meta-split",
        "header-nofollow",
        "header-multi",
        "header-bot",
    ]
    assert added == sorted(f"http://blog.site-03.test/robots/after-{n}" for n in blocked)
    for name in ("meta-noindex", "meta-other-bot", "header-other-bot"):
        assert f"http://blog.site-03.test/robots/after-{name}" in pages


def test_in_links_are_heavy_tailed_and_mostly_internal(
    pages: dict[str, ExpectedPage], edges: list[ExpectedEdge]
) -> None:
    internal = sum(host_of(e.source_url) == host_of(e.target_url) for e in edges) / len(edges)
    assert 0.65 <= internal <= 0.78, internal
    content = [e for e in edges if pages[e.source_url].kind == "page" and "/p/" in e.target_url]
    indegree = Counter(e.target_url for e in content)
    counts = sorted(
        (indegree.get(u, 0) for u, p in pages.items() if p.kind == "page"), reverse=True
    )
    assert counts[0] >= 20 * statistics.median(counts), (counts[0], statistics.median(counts))
    top = counts[: len(counts) // 100]
    assert sum(top) >= 0.1 * sum(counts), "top 1% of pages get >= 10% of the in-links"


def test_scales_to_200k_pages_without_materialising() -> None:
    tracemalloc.start()
    started = time.perf_counter()
    try:
        big = TestWeb(TestWebConfig(pages=200_000))
        host = big.hosts[8]
        last = big.page_count(host) - 1
        page = big.respond(f"http://{host}/p/{last}").read()
        home = big.respond(f"http://{host}/").read()
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert time.perf_counter() - started < 2
    assert b"<a href=" in page and home.count(b"/index/") > 200
    assert peak < 2_000_000, peak


# --- the server ---------------------------------------------------------------------------


def proxy_opener(server: TestWebServer) -> urllib.request.OpenerDirector:
    return urllib.request.build_opener(urllib.request.ProxyHandler({"http": server.address}))


def direct(
    server: TestWebServer, method: str, target: str, headers: dict[str, str] | None = None
) -> tuple[int, dict[str, str], bytes]:
    conn = http.client.HTTPConnection(server.host, server.port, timeout=10)
    try:
        conn.request(method, target, headers=headers or {})
        response = conn.getresponse()
        return response.status, dict(response.getheaders()), response.read()
    finally:
        conn.close()


def test_proxy_serves_absolute_form_requests(server: TestWebServer) -> None:
    url = "http://site-01.test/p/3"
    with proxy_opener(server).open(url, timeout=10) as response:
        assert response.status == 200
        assert response.headers["Content-Type"] == "text/html; charset=utf-8"
        assert response.read() == server.web.respond(url).read()
    status, headers, _ = direct(server, "GET", "http://site-01.test/r/301")
    assert status == 301 and headers["Location"] == "http://site-01.test/r/landing-301"


@pytest.mark.parametrize("event_loop", [False, True])
def test_prerendered_server_answers_as_the_live_one(event_loop: bool) -> None:
    live = TestWeb(SMALL)
    with TestWebServer(SMALL, prerender=True, event_loop=event_loop) as server:
        pages = set(live.expected_pages())
        # every page but the streamed ones (the oversize page) is rendered ahead
        assert set(server.rendered) <= pages and len(server.rendered) >= len(pages) - 2
        urls = [*server.rendered, "http://site-01.test/robots.txt"]
        for url in urls:
            expected = live.respond(url)
            status, headers, body = direct(server, "GET", url)
            assert (status, body) == (expected.status, expected.read()), url
            assert headers.get("Location") == expected.header("Location"), url
        assert sum(server.hits().values()) == len(urls)


def test_origin_form_with_a_test_web_host_is_served(server: TestWebServer) -> None:
    for host in ("site-02.test", IDN_ASCII, "SITE-02.TEST:80"):
        status, _, body = direct(server, "GET", "/p/4", {"Host": host})
        canonical_host = host.lower().removesuffix(":80")
        assert (status, body) == (200, server.web.respond(f"http://{canonical_host}/p/4").read())


def test_connect_is_refused_and_unknown_hosts_get_502(server: TestWebServer) -> None:
    status, _, body = direct(server, "CONNECT", "site-01.test:443")
    assert status == 405 and b"CONNECT" in body
    with pytest.raises(urllib.error.HTTPError) as info:
        proxy_opener(server).open("http://example.com/", timeout=10)
    assert info.value.code == 502
    assert b"'example.com' is not part of the linkcrawl test web" in info.value.read()
    info.value.close()
    status, _, body = direct(server, "GET", "https://site-01.test/")
    assert status == 502 and b"http, port 80 only" in body
    status, _, body = direct(server, "GET", "http://site-01.test:8080/")
    assert status == 502 and b"http, port 80 only" in body
    status, _, _ = direct(server, "GET", "/", {"Host": "example.org"})
    assert status == 502


def test_hits_are_counted_per_requested_url(server: TestWebServer) -> None:
    server.reset()
    opener = proxy_opener(server)
    for url in (
        "http://site-01.test/robots.txt",
        "http://site-01.test/p/5",
        "http://site-01.test/p/5",
    ):
        with opener.open(url, timeout=10) as response:
            response.read()
    direct(server, "GET", "/p/6", {"Host": "site-02.test"})
    hits = json.loads(direct(server, "GET", "/_testweb/hits")[2])
    assert (
        hits
        == server.hits()
        == {
            "http://site-01.test/robots.txt": 1,
            "http://site-01.test/p/5": 2,
            "http://site-02.test/p/6": 1,
        }
    )
    times = json.loads(direct(server, "GET", "/_testweb/hit_times")[2])
    assert len(times["http://site-01.test/p/5"]) == 2
    assert (
        times["http://site-01.test/p/5"][0]
        <= times["http://site-01.test/p/5"][1]
        <= time.monotonic()
    )
    info = json.loads(direct(server, "GET", "/_testweb/info")[2])
    assert info["seeds"] == server.web.seeds()
    assert direct(server, "GET", "/_testweb/reset")[0] == 405
    assert direct(server, "POST", "/_testweb/reset")[0] == 200
    assert server.hits() == {}
    assert direct(server, "GET", "/_testweb/nothing")[0] == 404


def test_robots_outage_is_switched_by_control_endpoints(server: TestWebServer) -> None:
    flaky = server.web.hosts[ROBOTS_503_HOST]
    robots = f"http://{flaky}/robots.txt"
    server.reset()
    assert direct(server, "GET", robots)[0] == 200
    assert direct(server, "GET", "/_testweb/robots_down")[0] == 405
    status, _, body = direct(server, "POST", "/_testweb/robots_down")
    down = json.loads(body)
    assert status == 200 and down["robots_down"] is True
    assert json.loads(direct(server, "GET", "/_testweb/info")[2])["robots_down"] is True
    assert direct(server, "GET", robots)[0] == 503
    assert direct(server, "GET", f"http://{flaky}/p/1")[0] == 200
    assert direct(server, "GET", f"http://{server.web.hosts[0]}/robots.txt")[0] == 200
    up = json.loads(direct(server, "POST", "/_testweb/robots_recover")[2])
    assert up["robots_down"] is False and down["time"] <= up["time"] <= time.monotonic()
    assert direct(server, "GET", robots)[0] == 200
    times = server.hit_times()[robots]
    assert times[0] < down["time"] <= times[1] <= up["time"] < times[2]
    # reset ends an outage too
    server.robots_down()
    assert direct(server, "GET", robots)[0] == 503
    server.reset()
    assert direct(server, "GET", robots)[0] == 200 and server.hits() == {robots: 1}


def test_head_and_keep_alive_under_concurrency(server: TestWebServer) -> None:
    status, headers, body = direct(server, "HEAD", "http://site-01.test/p/1")
    assert status == 200 and body == b"" and int(headers["Content-Length"]) > 0
    urls = [f"http://{h}/p/{k}" for h in server.web.hosts for k in range(4)]
    expected = {u: server.web.respond(u).read() for u in urls}
    failures: list[str] = []

    def worker() -> None:
        conn = http.client.HTTPConnection(server.host, server.port, timeout=10)
        try:
            for url in urls:
                conn.request("GET", url)
                response = conn.getresponse()
                if response.read() != expected[url] or response.status != 200:
                    failures.append(url)
        finally:
            conn.close()

    threads = [threading.Thread(target=worker) for _ in range(32)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not failures


def test_oversize_page_is_sent_chunked_or_with_length(server: TestWebServer) -> None:
    size = server.web.oversize_size()
    status, headers, body = direct(server, "GET", "http://site-06.test/big/chunked")
    # the event-loop mode sends every body whole, with its length
    encoding = None if server.event_loop else "chunked"
    assert (status, headers.get("Transfer-Encoding"), len(body)) == (200, encoding, size)
    status, headers, body = direct(server, "GET", "http://site-06.test/big/length")
    assert (status, int(headers["Content-Length"]), len(body)) == (200, size, size)
    # a client that gives up half way (like Scrapy at DOWNLOAD_MAXSIZE) does not hurt
    conn = http.client.HTTPConnection(server.host, server.port, timeout=10)
    conn.request("GET", "http://site-06.test/big/chunked")
    conn.getresponse().read(1000)
    conn.close()
    assert direct(server, "GET", "http://site-06.test/p/1")[0] == 200


@pytest.mark.parametrize("event_loop", [False, True])
def test_server_thread_stops_cleanly(event_loop: bool) -> None:
    srv = TestWebServer(SMALL, event_loop=event_loop).start()
    address = (srv.host, srv.port)
    conn = http.client.HTTPConnection(*address, timeout=10)
    conn.request("GET", "http://site-00.test/")
    conn.getresponse().read()
    srv.close()
    conn.close()
    with pytest.raises(OSError):
        http.client.HTTPConnection(*address, timeout=2).connect()


# --- the command --------------------------------------------------------------------------


@pytest.mark.parametrize("extra", [[], ["--prerender", "--event-loop"]])
def test_serve_command_prints_its_address_and_serves(extra: list[str]) -> None:
    cmd = [
        sys.executable,
        "-m",
        "linkcrawl.testweb",
        "serve",
        "--pages",
        "300",
        "--hosts",
        "9",
        "--seed",
        "3",
        *extra,
    ]
    proc = subprocess.Popen(
        cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=ROOT
    )
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()
        assert re.fullmatch(r"testweb listening on http://127\.0\.0\.1:\d+\n", line), line
        address = line.split()[-1]
        opener = urllib.request.build_opener(urllib.request.ProxyHandler({"http": address}))
        with opener.open("http://site-00.test/", timeout=10) as response:
            body = response.read()
        assert (
            body
            == TestWeb(TestWebConfig(pages=300, hosts=9, seed=3))
            .respond("http://site-00.test/")
            .read()
        )
    finally:
        proc.terminate()
        out, err = proc.communicate(timeout=10)
    assert proc.returncode == 0, err
    assert out == "" and err == "", "nothing is logged per request without --verbose"


@pytest.mark.parametrize(
    ("argv", "needle"),
    [
        (["--pages", "x"], "--pages"),
        (["--pages", "10"], "pages must be between"),
        (["serve", "--hosts", "3"], "hosts must be between"),
        (["--seed", "-4"], "seed must be"),
        (["--port", "70000"], "--port"),
        (["--bogus"], "unrecognized arguments"),
    ],
)
def test_serve_rejects_bad_arguments(
    argv: list[str], needle: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert serve_main(argv) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err.count("\n") == 1 and needle in captured.err
    assert captured.err.startswith("linkcrawl testweb serve: error: ")


def test_module_entry_point_needs_serve(capsys: pytest.CaptureFixture[str]) -> None:
    assert main([]) == 2
    assert "usage" in capsys.readouterr().err
    assert main(["--help"]) == 0
    assert serve_main(["--help"]) == 0
    assert "--pages" in capsys.readouterr().out
