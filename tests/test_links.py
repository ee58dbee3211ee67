"""Tests for ``linkcrawl.links``: every rule of docs/rules.md section 2, plus hypothesis.

Each parametrized table names the rule it checks. Expected results of broken markup are
what a browser builds (the HTML Standard's tree construction), not what the markup's
author meant.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from selectolax.lexbor import LexborHTMLParser

from linkcrawl import links
from linkcrawl.links import (
    LINK_TYPES,
    MAX_NESTING_DEPTH,
    Link,
    PageFacts,
    _collapse,
    _collapse_prefix,
    _guard_walk,
    _in_foreign_content,
    _origin,
    _resolve,
    _resolve_uncached,
    extract,
    guard_markup,
    parse_link_header_canonical,
    parse_meta_refresh,
    redirect_link,
)
from linkcrawl.urls import DEFAULT_STRIP_QUERY_PARAMS, canonicalize

if TYPE_CHECKING:
    from collections.abc import Mapping, Sequence

URL = "https://site.test/dir/page.html"


def run(
    html: str | bytes,
    headers: Mapping[str, Sequence[str]] | None = None,
    *,
    strip_params: tuple[str, ...] = DEFAULT_STRIP_QUERY_PARAMS,
    anchor_max_chars: int = 256,
    bot_name: str = "linkcrawl",
) -> PageFacts:
    body = html.encode("utf-8") if isinstance(html, str) else html
    return extract(
        body,
        URL,
        headers,
        strip_params=strip_params,
        anchor_max_chars=anchor_max_chars,
        bot_name=bot_name,
    )


def anchors(facts: PageFacts) -> list[tuple[str, str | None]]:
    """(target, anchor) of the a/area links, in order."""
    return [
        (link.target_url, link.anchor_text) for link in facts.links if link.position is not None
    ]


def targets(facts: PageFacts) -> list[str]:
    return [link.target_url for link in facts.links]


def only_link(facts: PageFacts) -> Link:
    assert len(facts.links) == 1, facts.links
    return facts.links[0]


# ----------------------------------------------------------------------------- base URL


@pytest.mark.parametrize(
    ("html", "base_url", "target"),
    [
        # absolute base
        (
            '<base href="https://cdn.test/x/"><a href="y">',
            "https://cdn.test/x/",
            "https://cdn.test/x/y",
        ),
        # relative base, resolved against the response URL
        ('<base href="/sub/"><a href="y">', "https://site.test/sub/", "https://site.test/sub/y"),
        ('<base href="../up/"><a href="y">', "https://site.test/up/", "https://site.test/up/y"),
        # base is canonical (tracking parameter, fragment dropped); root-relative links
        (
            '<base href="HTTPS://CDN.test/a/?utm_source=x#f"><a href="/r">',
            "https://cdn.test/a/",
            "https://cdn.test/r",
        ),
        # invalid base: the response URL
        ('<base href="http://[::1"><a href="y">', URL, "https://site.test/dir/y"),
        ('<base href="https://exa mple.test/"><a href="y">', URL, "https://site.test/dir/y"),
        # a non-http(s) base cannot resolve an http link: treated as invalid
        ('<base href="javascript:alert(1)"><a href="y">', URL, "https://site.test/dir/y"),
        # empty base href is the response URL
        ('<base href=""><a href="y">', URL, "https://site.test/dir/y"),
        # the first <base href> wins, even when it comes after the links (a frozen base)
        (
            '<a href="y"></a><base href="/late/"><base href="/second/">',
            "https://site.test/late/",
            "https://site.test/late/y",
        ),
        # a <base> without href does not count
        (
            '<base target="_blank"><base href="/two/"><a href="y">',
            "https://site.test/two/",
            "https://site.test/two/y",
        ),
        # <base> in inline SVG is not the document's base
        ('<svg><base href="/svg/"></svg><a href="y">', URL, "https://site.test/dir/y"),
    ],
)
def test_base_url(html: str, base_url: str, target: str) -> None:
    facts = run(html)
    assert facts.base_url == base_url
    assert targets(facts) == [target]


def test_base_applies_to_canonical_and_refresh_elements_not_link_header() -> None:
    html = (
        '<base href="https://cdn.test/b/"><link rel="canonical" href="c">'
        '<meta http-equiv="refresh" content="0; url=r">'
    )
    facts = run(html)
    assert facts.canonical == "https://cdn.test/b/c"
    assert facts.refresh == "https://cdn.test/b/r"
    header = run(html, {"link": ["<c>; rel=canonical"]})
    assert header.canonical == "https://site.test/dir/c"


# ------------------------------------------------------------------------- links, counts


@pytest.mark.parametrize(
    ("href", "counter"),
    [
        ("", "fragment_links"),
        ("#", "fragment_links"),
        ("#top", "fragment_links"),
        ("  #top ", "fragment_links"),
        (" \t\n", "fragment_links"),
        ("javascript:void(0)", "non_http_links"),
        ("JavaScript:alert(1)", "non_http_links"),
        ("mailto:someone@example.com", "non_http_links"),
        ("tel:+15555550100", "non_http_links"),
        ("data:text/html,hi", "non_http_links"),
        ("ftp://files.test/x", "non_http_links"),
        ("http://[::1", "invalid_links"),
        ("https://exa mple.test/", "invalid_links"),
        ("http://256.256.256.256/", "invalid_links"),
        ("https://%zz/", "invalid_links"),
        ("http://", "invalid_links"),
    ],
)
def test_hrefs_counted_not_emitted(href: str, counter: str) -> None:
    facts = run(f'<a href="{href}">x</a>')
    assert facts.links == []
    counts = {
        "fragment_links": facts.fragment_links,
        "non_http_links": facts.non_http_links,
        "invalid_links": facts.invalid_links,
    }
    assert counts == {name: int(name == counter) for name in counts}


def test_href_without_value_is_a_fragment_link_and_a_without_href_is_ignored() -> None:
    facts = run("<a href>empty</a><a>no href</a><a name=x>anchor</a>")
    assert facts.links == []
    assert (facts.fragment_links, facts.non_http_links, facts.invalid_links) == (1, 0, 0)


@pytest.mark.parametrize(
    ("href", "target"),
    [
        ("/a", "https://site.test/a"),
        ("b", "https://site.test/dir/b"),
        ("../c?x=1#frag", "https://site.test/c?x=1"),
        ("//other.test/p", "https://other.test/p"),
        ("HTTP://Other.TEST:80/%7Ea", "http://other.test/~a"),
        (" \n /padded \t", "https://site.test/padded"),  # ASCII whitespace stripped
        ("/a\tb\nc", "https://site.test/abc"),  # the URL parser drops tabs and newlines
        ("\\\\back\\slash", "https://back/slash"),
        # links to the page itself are emitted
        ("?utm_source=x", URL),
        ("page.html#section", URL),
    ],
)
def test_href_resolution(href: str, target: str) -> None:
    link = only_link(run(f'<a href="{href}">x</a>'))
    assert link.target_url == target
    assert link.link_type == "a"


def test_duplicates_are_all_emitted_with_positions() -> None:
    html = (
        '<a href="/x">one</a><a href="#f">frag</a><a href="/x">two</a>'
        '<a href="mailto:a@b">mail</a><map><area href="/x" alt="three"></map>'
    )
    facts = run(html)
    assert [(link.target_url, link.anchor_text, link.position) for link in facts.links] == [
        ("https://site.test/x", "one", 0),
        ("https://site.test/x", "two", 1),
        ("https://site.test/x", "three", 2),
    ]
    assert [link.link_type for link in facts.links] == ["a", "a", "area"]
    assert (facts.fragment_links, facts.non_http_links) == (1, 1)


def test_strip_params_setting() -> None:
    html = '<a href="/p?ref=1&utm_source=a&keep=2">x</a>'
    assert only_link(run(html)).target_url == "https://site.test/p?ref=1&keep=2"
    link = only_link(run(html, strip_params=("ref",)))
    assert link.target_url == "https://site.test/p?utm_source=a&keep=2"


# -------------------------------------------------------------------------- anchor text


@pytest.mark.parametrize(
    ("html", "anchor", "image"),
    [
        ('<a href="/a">\n  Hello\t <b>big</b>\n  world  </a>', "Hello big world", False),
        # only ASCII whitespace collapses (HTML's rule): no-break spaces are kept
        ('<a href="/a">Read&nbsp;&nbsp;more</a>', "Read\xa0\xa0more", False),
        ('<a href="/a">\u3000wide\u2003em\x0bvt </a>', "\u3000wide\u2003em\x0bvt", False),
        ('<a href="/a">Fish &amp; chips</a>', "Fish & chips", False),
        ('<a href="/a">   </a>', None, False),
        ('<a href="/a"></a>', None, False),
        ('<a href="/a"><!-- comment only --></a>', None, False),
        # <img> alt stands in for empty text; image is true whenever there is an <img>
        ('<a href="/a"><img src="l.png" alt="  Company \n logo "></a>', "Company logo", True),
        ('<a href="/a"><img src="l.png"></a>', None, True),
        ('<a href="/a"><img src="l.png" alt=""></a>', None, True),
        (
            '<a href="/a"><img alt=""><span><img alt="second"></span><img alt="third"></a>',
            "second",
            True,
        ),
        ('<a href="/a">Text <img alt="alt"></a>', "Text", True),
        ('<a href="/a"><span> </span><picture><img alt="deep"></picture></a>', "deep", True),
        # an image next to the link is not in it
        ('<a href="/a">x</a><img alt="outside">', "x", False),
        ('<a href="/a"></a><img alt="outside">', None, False),
        # text content includes the text of nested elements, even a <script>
        ('<a href="/a">a<script>b</script>c</a>', "abc", False),
    ],
)
def test_anchor_text(html: str, anchor: str | None, image: bool) -> None:
    link = only_link(run(html))
    assert (link.anchor_text, link.image) == (anchor, image)


@pytest.mark.parametrize(
    ("html", "anchor"),
    [
        ('<map><area href="/m" alt="  Map \n part "></map>', "Map part"),
        ('<map><area href="/m"></map>', None),
        ('<map><area href="/m" alt=""></map>', None),
        ('<area href="/m" alt="outside a map">', "outside a map"),
    ],
)
def test_area_anchor_is_alt(html: str, anchor: str | None) -> None:
    link = only_link(run(html))
    assert (link.link_type, link.anchor_text, link.image) == ("area", anchor, False)


@pytest.mark.parametrize(
    ("text", "cap", "anchor"),
    [
        ("x" * 300, 256, "x" * 256),
        ("x" * 256, 256, "x" * 256),
        ("  ab   cd  " * 3, 7, "ab cd a"),
        ("Привет мир", 6, "Привет"),
        ("abc", 0, None),
    ],
)
def test_anchor_cap(text: str, cap: int, anchor: str | None) -> None:
    link = only_link(run(f'<a href="/a">{text}</a>', anchor_max_chars=cap))
    assert link.anchor_text == anchor


# ---------------------------------------------------------------------------------- rel


@pytest.mark.parametrize(
    ("rel", "tokens", "flags"),
    [
        (None, (), (False, False, False)),
        ("", (), (False, False, False)),
        ("nofollow", ("nofollow",), (True, False, False)),
        ("UGC  nofollow", ("ugc", "nofollow"), (True, False, True)),
        ("nofollow NoFollow nofollow", ("nofollow",), (True, False, False)),
        (
            "sponsored\tnoopener\nnoreferrer",
            ("sponsored", "noopener", "noreferrer"),
            (False, True, False),
        ),
        ("  noopener  ", ("noopener",), (False, False, False)),
        ("nofollow,ugc", ("nofollow,ugc",), (False, False, False)),  # not a separator
        ("Sponsored UGC NOFOLLOW ugc", ("sponsored", "ugc", "nofollow"), (True, True, True)),
    ],
)
def test_rel(rel: str | None, tokens: tuple[str, ...], flags: tuple[bool, bool, bool]) -> None:
    attr = "" if rel is None else f' rel="{rel}"'
    for html in (f'<a href="/a"{attr}>x</a>', f'<map><area href="/a"{attr}></map>'):
        link = only_link(run(html))
        assert link.rel == tokens
        assert (link.nofollow, link.sponsored, link.ugc) == flags


# ---------------------------------------------------------------------- page-level robots


@pytest.mark.parametrize(
    ("html", "meta_robots", "nofollow", "noindex"),
    [
        ("<title>t</title>", None, False, False),
        ('<meta name="robots" content="index, follow">', "index, follow", False, False),
        ('<meta name="robots" content="nofollow">', "nofollow", True, False),
        ('<meta name="ROBOTS" content="NoIndex">', "NoIndex", False, True),
        (
            '<meta name=" Robots " content=" NOFOLLOW , noarchive ">',
            " NOFOLLOW , noarchive ",
            True,
            False,
        ),
        ('<meta name="robots" content="none">', "none", True, True),
        (
            '<meta name="robots" content="noindex"><meta name="robots" content="nofollow">',
            "noindex, nofollow",
            True,
            True,
        ),
        # in <body> still counts (the parser puts it where it is)
        ('<body><p>x<meta name="robots" content="noindex"></p>', "noindex", False, True),
        # other names and other attributes are not robots
        ('<meta name="googlebot" content="noindex, nofollow">', None, False, False),
        ('<meta name="description" content="nofollow noindex">', None, False, False),
        ('<meta property="robots" content="noindex">', None, False, False),
        ('<meta name="robots">', None, False, False),
        # tokens are comma-separated
        ('<meta name="robots" content="noindex nofollow">', "noindex nofollow", False, False),
        (
            '<meta name="robots" content="max-snippet:-1,nofollow">',
            "max-snippet:-1,nofollow",
            True,
            False,
        ),
    ],
)
def test_meta_robots(html: str, meta_robots: str | None, nofollow: bool, noindex: bool) -> None:
    facts = run(html + '<a href="/a">x</a>')
    assert (facts.meta_robots, facts.nofollow, facts.noindex) == (meta_robots, nofollow, noindex)
    # links of a nofollow page are still recorded
    assert len(facts.links) == 1


@pytest.mark.parametrize(
    ("values", "bot_name", "nofollow", "noindex"),
    [
        (["noindex"], "linkcrawl", False, True),
        (["NoFollow, NoArchive"], "linkcrawl", True, False),
        (["none"], "linkcrawl", True, True),
        (["noindex", "nofollow"], "linkcrawl", True, True),
        (["googlebot: nofollow"], "linkcrawl", False, False),
        (["linkcrawl: nofollow"], "linkcrawl", True, False),
        (["LinkCrawl : noindex, nofollow"], "linkcrawl", True, True),
        # the setting's bot name counts, and so does "linkcrawl"
        (["mybot: none"], "MyBot", True, True),
        (["linkcrawl: noindex"], "mybot", False, True),
        (["otherbot: noindex", "nofollow"], "linkcrawl", True, False),
        # directives that carry a colon are not user-agent prefixes
        (["unavailable_after: 25 Jun 2010 15:00:00 PST"], "linkcrawl", False, False),
        (["max-snippet: 20, noindex"], "linkcrawl", False, True),
        (["noindex, unavailable_after: 25 Jun 2010"], "linkcrawl", False, True),
        ([], "linkcrawl", False, False),
    ],
)
def test_x_robots_tag(values: list[str], bot_name: str, nofollow: bool, noindex: bool) -> None:
    facts = run('<a href="/a">x</a>', {"x-robots-tag": values}, bot_name=bot_name)
    assert (facts.nofollow, facts.noindex) == (nofollow, noindex)
    # the raw values are recorded, whoever they are for
    assert facts.x_robots_tag == (", ".join(values) or None)


@pytest.mark.parametrize(
    ("html", "bot_name", "meta_robots", "nofollow", "noindex"),
    [
        # a <meta> named for our crawler applies to us, one named for another does not
        ('<meta name="linkcrawl" content="nofollow">', "linkcrawl", "linkcrawl: nofollow",
         True, False),
        ('<meta name="LinkCrawl" content="none">', "linkcrawl", "linkcrawl: none", True, True),
        ('<meta name="mybot" content="noindex">', "MyBot", "mybot: noindex", False, True),
        ('<meta name="linkcrawl" content="noindex">', "mybot", "linkcrawl: noindex", False,
         True),
        ('<meta name="mybot" content="nofollow">', "linkcrawl", None, False, False),
        ('<meta name="googlebot" content="nofollow"><meta name="robots" content="noindex">',
         "linkcrawl", "noindex", False, True),
        ('<meta name="robots" content="noindex"><meta name="linkcrawl" content="nofollow">',
         "linkcrawl", "noindex, linkcrawl: nofollow", True, True),
    ],
)  # fmt: skip
def test_meta_robots_for_a_named_crawler(
    html: str, bot_name: str, meta_robots: str | None, nofollow: bool, noindex: bool
) -> None:
    facts = run(html + '<a href="/a">x</a>', bot_name=bot_name)
    assert (facts.meta_robots, facts.nofollow, facts.noindex) == (meta_robots, nofollow, noindex)


def test_meta_and_header_robots_combine() -> None:
    facts = run('<meta name="robots" content="noindex">', {"x-robots-tag": ["nofollow"]})
    assert (facts.nofollow, facts.noindex) == (True, True)
    assert (facts.meta_robots, facts.x_robots_tag) == ("noindex", "nofollow")


# ------------------------------------------------------------------------------ canonical


@pytest.mark.parametrize(
    ("html", "link_header", "canonical"),
    [
        ('<link rel="canonical" href="/c">', None, "https://site.test/c"),
        (
            '<link rel="Canonical" href="https://Other.test/c?utm_source=x">',
            None,
            "https://other.test/c",
        ),
        ('<link rel="alternate canonical" href="/c">', None, "https://site.test/c"),
        (
            '<link rel="canonical" href="/first"><link rel="canonical" href="/second">',
            None,
            "https://site.test/first",
        ),
        (
            '<link rel="stylesheet" href="/s.css"><link rel="canonical" href="/c">',
            None,
            "https://site.test/c",
        ),
        ('<body><link rel="canonical" href="/in-body">', None, "https://site.test/in-body"),
        # the header wins over the element
        (
            '<link rel="canonical" href="/element">',
            ['<https://site.test/header>; rel="canonical"'],
            "https://site.test/header",
        ),
        # header targets resolve against the response URL
        ("", ["<h>; rel=canonical"], "https://site.test/dir/h"),
        # not canonical, or not usable
        ('<link rel="canonicalx" href="/c">', None, None),
        ('<link rel="canonical">', None, None),
        ('<link rel="canonical" href="mailto:a@b">', None, None),
        ('<link rel="canonical" href="http://[::1">', None, None),
        ('<svg><link rel="canonical" href="/svg"></svg>', None, None),
        ("", ['<https://site.test/n>; rel="next"'], None),
    ],
)
def test_canonical(html: str, link_header: list[str] | None, canonical: str | None) -> None:
    headers = {"link": link_header} if link_header else None
    facts = run(html, headers)
    assert facts.canonical == canonical
    edges = [link for link in facts.links if link.link_type == "canonical"]
    if canonical is None:
        assert edges == []
    else:
        assert edges == [Link(canonical, "canonical", None, (), False, False, False, False, None)]


@pytest.mark.parametrize(
    "html",
    [
        '<link rel="canonical" href="https://site.test/dir/page.html">',
        '<link rel="canonical" href="page.html?utm_campaign=x#top">',
        '<link rel="canonical" href="">',
        '<link rel="canonical" href="HTTPS://SITE.TEST:443/dir/page.html">',
    ],
)
def test_self_canonical_recorded_not_emitted(html: str) -> None:
    facts = run(html)
    assert facts.canonical == URL
    assert facts.links == []


# ------------------------------------------------------------------------- meta refresh


@pytest.mark.parametrize(
    ("content", "url"),
    [
        ("0; url=/next", "/next"),
        ("0;URL=/next", "/next"),
        ("0;URL='/next'", "/next"),
        ('5; URL="https://other.test/"', "https://other.test/"),
        ("0; url = '/q' trailing", "/q"),
        ("0; url='/unterminated", "/unterminated"),
        ("  3 , url=/comma", "/comma"),
        ("0 url=/space", "/space"),
        ("1.5; url=/frac", "/frac"),
        (".5;url=/dot", "/dot"),
        ("0; /no-url-prefix", "/no-url-prefix"),
        ("0; '/quoted'", "/quoted"),
        ("0; urlx", "urlx"),
        ("0; u", "u"),
        ("0; url/x", "url/x"),
        ("0; url=  /padded  ", "/padded"),
        # no URL: a refresh of the page itself, or not a refresh at all
        ("0", None),
        ("5;", None),
        ("0; url=", None),
        ("0; url=''", None),
        ("", None),
        ("abc", None),
        ("url=/x", None),
        ("-1; url=/x", None),
        ("0x; url=/x", None),
    ],
)
def test_parse_meta_refresh(content: str, url: str | None) -> None:
    assert parse_meta_refresh(content) == url


@pytest.mark.parametrize(
    ("html", "refresh", "emitted"),
    [
        ('<meta http-equiv="refresh" content="0; url=/next">', "https://site.test/next", True),
        (
            '<meta http-equiv="Refresh" content="0;URL=\'other.html\'">',
            "https://site.test/dir/other.html",
            True,
        ),
        ('<meta http-equiv="refresh" content="30">', None, False),
        ('<meta http-equiv="refresh" content="0; url=page.html">', URL, False),
        ('<meta http-equiv="refresh" content="0; url=mailto:a@b">', None, False),
        (
            '<meta http-equiv="refresh" content="0; url=/first">'
            '<meta http-equiv="refresh" content="0; url=/2">',
            "https://site.test/first",
            True,
        ),
        (
            '<meta http-equiv="refresh"><meta http-equiv="refresh" content="0;url=/c">',
            "https://site.test/c",
            True,
        ),
        ('<meta name="refresh" content="0; url=/x">', None, False),
    ],
)
def test_meta_refresh(html: str, refresh: str | None, emitted: bool) -> None:
    facts = run(html)
    assert facts.refresh == refresh
    edges = [link for link in facts.links if link.link_type == "refresh"]
    assert edges == ([_page_edge(refresh, "refresh")] if emitted and refresh else [])


def _page_edge(target: str, link_type: str) -> Link:
    return Link(target, link_type, None, (), False, False, False, False, None)


def test_page_edges_come_after_anchor_links() -> None:
    html = (
        '<link rel="canonical" href="/c"><meta http-equiv="refresh" content="0;url=/r">'
        '<a href="/a">a</a>'
    )
    facts = run(html)
    assert [(link.link_type, link.position) for link in facts.links] == [
        ("a", 0),
        ("canonical", None),
        ("refresh", None),
    ]


# -------------------------------------------------------------------------- Link header


@pytest.mark.parametrize(
    ("values", "target"),
    [
        (['<https://a.test/x>; rel="canonical"'], "https://a.test/x"),
        (["<https://a.test/x>; rel=canonical"], "https://a.test/x"),
        (["<https://a.test/x>;rel=CANONICAL"], "https://a.test/x"),
        (['< /rel >; rel="alternate canonical"'], "/rel"),
        (
            ['<https://a.test/n>; rel="next", <https://a.test/c>; rel="canonical"'],
            "https://a.test/c",
        ),
        (['<https://a.test/a,b>; rel="canonical"'], "https://a.test/a,b"),
        (['<https://a.test/n>; title="x, <y>; rel=canonical"; rel=next, <c>; rel=canonical'], "c"),
        (
            ['<https://a.test/n>; rel="next"', '<https://a.test/c>; rel="canonical"'],
            "https://a.test/c",
        ),
        # the first rel parameter counts (RFC 8288)
        (['<https://a.test/x>; rel="next"; rel="canonical"'], None),
        (['<https://a.test/x>; rel="canonicalx"'], None),
        (['<https://a.test/x>; hreflang="canonical"'], None),
        (["<https://a.test/x>"], None),
        (["https://a.test/x; rel=canonical"], None),
        (["<https://a.test/x; rel=canonical"], None),
        (["junk; rel=canonical, <https://a.test/ok>; rel=canonical"], "https://a.test/ok"),
        ([], None),
    ],
)
def test_parse_link_header_canonical(values: list[str], target: str | None) -> None:
    assert parse_link_header_canonical(values) == target


# ---------------------------------------------------------------------------- redirects


@pytest.mark.parametrize(
    ("location", "status", "target"),
    [
        ("/new", 301, "https://site.test/new"),
        ("https://Other.test/x?utm_source=a#f", 302, "https://other.test/x"),
        ("next.html", 307, "https://site.test/dir/next.html"),
        ("", 308, URL),
        ("mailto:a@b", 301, None),
        ("http://[::1", 302, None),
    ],
)
def test_redirect_link(location: str, status: int, target: str | None) -> None:
    link = redirect_link(URL, location, status)
    if target is None:
        assert link is None
    else:
        assert link == Link(target, "redirect", None, (), False, False, False, False, None, status)


# ----------------------------------------------------------------------- malformed HTML


@pytest.mark.parametrize(
    ("html", "expected"),
    [
        # an unclosed <a> is closed by the next <a>
        ('<a href="/a">one<a href="/b">two', [("/a", "one"), ("/b", "two")]),
        ('<a href="/a"><a href="/b">nested</a></a>', [("/a", None), ("/b", "nested")]),
        # unquoted attribute values
        ("<a href=/x?a=1&b=2 rel=nofollow>t</a>", [("/x?a=1&b=2", "t")]),
        ("<a href=/y>u", [("/y", "u")]),
        # stray end tags are ignored
        ('</div></span><a href="/a">x</b></a></p>', [("/a", "x")]),
        # an <a> left open across a block is reconstructed inside it (adoption agency)
        ('<p><a href="/a">x<div>y</div>z<p>w', [("/a", "x"), ("/a", "y"), ("/a", "zw")]),
        ('<b><a href="/c">bold<i>it</b>ital</a>', [("/c", "boldit"), ("/c", "ital")]),
        # a link in a table outside a cell is moved before the table (foster parenting)
        (
            '<table><tr><a href="/t">t</a><td><a href="/u">c</a></td></tr></table>',
            [("/t", "t"), ("/u", "c")],
        ),
        # markup in <textarea>, <title>, comments and <template> is not parsed as elements
        ('<textarea><a href="/no">x</a></textarea><a href="/yes">y</a>', [("/yes", "y")]),
        ('<!-- <a href="/no">x</a> --><a href="/yes">y</a>', [("/yes", "y")]),
        ('<template><a href="/no">x</a></template><a href="/yes">y</a>', [("/yes", "y")]),
        (
            '<script>document.write(\'<a href="/no">\')</script><a href="/yes">y</a>',
            [("/yes", "y")],
        ),
        # <noscript> is parsed as markup (a browser with scripting disabled)
        ('<noscript><a href="/ns">ns</a></noscript>', [("/ns", "ns")]),
        # inline SVG links are links
        ('<svg><a href="/svg"><text>s</text></a></svg>', [("/svg", "s")]),
        # duplicate attributes: the first wins
        ('<a href="/first" href="/second">d</a>', [("/first", "d")]),
        # NUL: dropped from text, U+FFFD in attribute values; stray "<"
        ('<a href="/n\x00">n\x00x</a>', [("/n%EF%BF%BD", "nx")]),
        ('<<a href="/g">g<</a>>', [("/g", "g<")]),
    ],
)
def test_malformed_html(html: str, expected: list[tuple[str, str | None]]) -> None:
    assert anchors(run(html)) == [(f"https://site.test{path}", text) for path, text in expected]


def test_nested_links_have_their_whole_text() -> None:
    # An <a> cannot contain an <a> directly, but a table cell (or SVG) lets links nest.
    html = '<a href="/o">outer <table><tr><td><a href="/i">inner</a></td></tr></table> end</a>'
    assert anchors(run(html)) == [
        ("https://site.test/o", "outer inner end"),
        ("https://site.test/i", "inner"),
    ]


def test_deeply_nested_links_stay_linear_and_keep_a_text_prefix() -> None:
    # Every link holds all the links after it: reading each whole text is quadratic, so
    # past a budget a link's text is read from its first nodes only (a prefix of it).
    depth = 1500
    html = "".join(f'<a href="/{i}">w{i} <table><tr><td>' for i in range(depth))
    facts = run(html)
    assert len(facts.links) == depth
    words = [f"w{i}" for i in range(depth)]
    for i, link in enumerate(facts.links):
        full = " ".join(words[i:])[:256]
        assert link.anchor_text is not None
        assert full.startswith(link.anchor_text)
    assert facts.links[0].anchor_text == " ".join(words)[:256]


@given(st.text(alphabet=" \t\n\r\f\x0b\x1c\xa0\u3000aé", max_size=400), st.integers(0, 40))
def test_collapse_prefix(raw: str, cap: int) -> None:
    expected = " ".join(re.split("[ \t\n\r\f]+", raw)).strip(" ")
    assert _collapse(raw) == expected
    assert _collapse_prefix(raw, cap)[:cap] == expected[:cap]


# -------------------------------------------------------------------------------- title


@pytest.mark.parametrize(
    ("html", "title"),
    [
        ("<title>  A\n  title &amp;\tmore </title>", "A title & more"),
        ("<title></title>", None),
        ("<title>   </title>", None),
        ("<p>no title</p>", None),
        ("<title>first</title><title>second</title>", "first"),
        ("<body><title>in body</title>", "in body"),
        ("<title><b>not</b> markup</title>", "<b>not</b> markup"),
        ("<svg><title>icon</title></svg><title>Real</title>", "Real"),
        ("<svg><title>icon</title></svg>", None),
        ("<title>" + "t" * 600 + "</title>", "t" * 512),
    ],
)
def test_title(html: str, title: str | None) -> None:
    assert run(html).title == title


# ----------------------------------------------------------------------------- encodings


@pytest.mark.parametrize(
    ("body", "content_type", "encoding", "anchor"),
    [
        # declared only in the markup
        (
            '<meta charset="windows-1251"><a href="/x">Привет мир</a>'.encode("cp1251"),
            "text/html",
            "cp1251",
            "Привет мир",
        ),
        (
            '<meta http-equiv="Content-Type" content="text/html; charset=shift_jis">'
            '<a href="/x">日本語のテキスト</a>'.encode("shift_jis"),
            None,
            "cp932",
            "日本語のテキスト",
        ),
        # the Content-Type charset wins over the markup
        (
            '<meta charset="utf-8"><a href="/x">Привет</a>'.encode("cp1251"),
            "text/html; charset=windows-1251",
            "cp1251",
            "Привет",
        ),
        # a BOM wins over the header
        (
            b"\xef\xbb\xbf" + '<a href="/x">Привет</a>'.encode(),
            "text/html; charset=windows-1251",
            "utf-8",
            "Привет",
        ),
        # nothing declared: detection (UTF-8 here)
        ('<a href="/x">café</a>'.encode(), None, "utf-8", "café"),
        # undecodable bytes are replaced, never raised
        (b'<meta charset="utf-8"><a href="/x">a\xff\xfeb</a>', None, "utf-8", "a\ufffd\ufffdb"),
    ],
)
def test_encodings(body: bytes, content_type: str | None, encoding: str, anchor: str) -> None:
    headers = {"content-type": [content_type]} if content_type else None
    facts = run(body, headers)
    assert facts.encoding == encoding
    assert anchors(facts) == [("https://site.test/x", anchor)]


def test_non_ascii_href_in_legacy_encoding() -> None:
    # The href is decoded with the page's encoding; the URL is then percent-encoded as UTF-8
    # (the WHATWG query encoding for non-UTF-8 pages is not applied).
    body = '<meta charset="windows-1251"><a href="/путь">x</a>'.encode("cp1251")
    assert anchors(run(body)) == [("https://site.test/%D0%BF%D1%83%D1%82%D1%8C", "x")]


# ----------------------------------------------------------------------------- the rest


def test_page_facts_of_a_typical_page() -> None:
    html = """<!DOCTYPE html><html><head><meta charset="utf-8">
    <title>Example   page</title><meta name="robots" content="noarchive">
    <link rel="canonical" href="https://site.test/dir/page.html"></head><body>
    <nav><a href="/">Home</a> <a href="#main">Skip</a></nav>
    <p>See <a href="https://other.test/a?utm_medium=x&amp;id=1" rel="ugc nofollow">this</a>
    and <a href="javascript:void(0)">that</a>.</p></body></html>"""
    facts = run(html, {"content-type": ["text/html; charset=UTF-8"]})
    assert facts == PageFacts(
        url=URL,
        encoding="utf-8",
        title="Example page",
        meta_robots="noarchive",
        x_robots_tag=None,
        nofollow=False,
        noindex=False,
        canonical=URL,
        refresh=None,
        base_url=URL,
        links=[
            Link("https://site.test/", "a", "Home", (), False, False, False, False, 0),
            Link(
                "https://other.test/a?id=1",
                "a",
                "this",
                ("ugc", "nofollow"),
                True,
                False,
                True,
                False,
                1,
            ),
        ],
        fragment_links=1,
        non_http_links=1,
        invalid_links=0,
    )


def test_empty_and_non_html_bodies() -> None:
    for body in (b"", b"   ", b"\x00\x01\x02", b"%PDF-1.4 binary", b'{"json": true}'):
        facts = extract(body, URL)
        assert (facts.links, facts.title, facts.base_url) == ([], None, URL)


def test_link_types_constant() -> None:
    assert LINK_TYPES == ("a", "area", "redirect", "canonical", "refresh", "sitemap")


# ----------------------------------------------------------------------- hostile markup
# lexbor's tree construction is superlinear in the nesting depth, the number of active
# formatting elements and the attributes of a tag; guard_markup() defuses such pages
# before they are parsed. Work is bounded structurally here (no timed asserts): what
# lexbor is given is no deeper than the limit, and the links around it are still found.

DEEP = MAX_NESTING_DEPTH + 8  # allowance: <html>, <body>, formatting reopened at the limit


def tree_depth(html: str) -> int:
    """Most elements nested in lexbor's tree of ``html`` (only ever guarded markup)."""
    tree = LexborHTMLParser(html)
    deepest = 0
    stack = [(tree.root, 1)] if tree.root is not None else []
    while stack:
        node, depth = stack.pop()
        deepest = max(deepest, depth)
        child = node.child
        while child is not None:
            if child.is_element_node:
                stack.append((child, depth + 1))
            child = child.next
    return deepest


def ordinary_page(blocks: int) -> str:
    """A large page of everyday (and everyday-sloppy) markup: 30 + 2 * blocks links."""
    parts = [
        "<!DOCTYPE html><html><head><title>Big page</title>",
        '<script>var t = "<div><span>" + x + "</span>"; if (a < b) { t += "<p>"; }</script>',
        "<style>nav > a { color: red }</style></head><body><nav><ul>",
        *(f'<li><a href="/nav/{i}">Nav {i}</a>' for i in range(30)),
        "</ul></nav>",
    ]
    for i in range(blocks):
        parts.append(
            f'<div class="card"><h2>Title {i}</h2><p>Text with <a href="/a/{i}">a link</a> '
            "and <b>bold <i>mixed</b> up</i> words<p>Unclosed <img src=/i.png alt=x><br>"
            f"<table><tr><td>cell<td>cell <a href=/t/{i}>t</a><tr><td>x</table>"
            "<ul><li>one<li>two</ul><select><option>a<option selected>b</select>"
            '<svg viewBox="0 0 9 9"><path d="M0 0L9 9"/><g><circle r="1"/></g></svg>'
            "<!-- a <div> in a comment --><form><input name=q><button>go</button></form></div>"
        )
    parts.append("</body></html>")
    return "".join(parts)


def test_guard_leaves_ordinary_pages_alone() -> None:
    page = ordinary_page(700)  # ~330 KB, ~30,000 tags: past the small-page exemption
    assert len(page) > 65536
    guard = guard_markup(page)
    assert not guard.walked
    assert guard.text is page
    # Walked anyway, nothing in it is past a limit: the markup is left exactly as it is.
    walked = _guard_walk(page)
    assert walked.text is page
    assert not walked.changed
    assert walked.depth < 16
    facts = run(page)
    assert len(facts.links) == 30 + 2 * 700
    assert facts.title == "Big page"


def test_small_pages_are_never_walked() -> None:
    # Under 64 K characters and 1024 "<" any markup costs lexbor little: no walk at all.
    assert not guard_markup("<div>" * 1000).walked
    assert not guard_markup("<p>" + "<b id=1><i>" * 500).walked


NESTS = {
    "closed divs": ("<div>" * 20000, "</div>" * 20000),
    "unclosed divs": ("<div>" * 20000, ""),
    "spans": ("<span>" * 20000, "</span>" * 20000),
    "formatting": ("<b><i>" * 10000, ""),
    "formatting with attributes": ("".join(f"<b id={i}>" for i in range(10000)), ""),
    "tables": ("<table><tr><td>" * 7000, ""),
    "a table in each cell": ("<table><td>" * 10000, ""),
    "links and divs": ('<a href="/n"><div>' * 10000, ""),
    "list items and divs": ("<ul><li><div>" * 7000, ""),
    "paragraphs and divs": ("<p><div>" * 10000, ""),
    "svg groups": ("<svg>" + "<g>" * 20000, ""),
    "templates": ("<template>" * 20000, "</template>" * 20000),
    "objects": ("<object>" * 20000, ""),
    "foster-parented divs": ("<table>" + "<div>" * 20000, ""),
}


@pytest.mark.parametrize(("opening", "closing"), NESTS.values(), ids=NESTS.keys())
def test_deep_nesting_is_cut_at_the_limit(opening: str, closing: str) -> None:
    html = f'<a href="/before">b</a>{opening}<a href="/inside">i</a>{closing}<a href="/after">a</a>'
    guard = guard_markup(html)
    assert guard.walked
    assert guard.neutralised > 0
    assert guard.depth <= 2 * MAX_NESTING_DEPTH + 1  # (<template> has its own, double limit)
    assert tree_depth(guard.text) <= (2 * MAX_NESTING_DEPTH if "template" in opening else DEEP)
    found = set(targets(run(html)))
    assert {"https://site.test/before", "https://site.test/after"} <= found
    if "template" not in opening:  # (a template's content is not the document's)
        assert "https://site.test/inside" in found


def test_extract_parses_the_guarded_markup(monkeypatch: pytest.MonkeyPatch) -> None:
    parsed: list[str] = []

    def parser(html: str, **options: int) -> LexborHTMLParser:
        parsed.append(html)
        return LexborHTMLParser(html, **options)

    monkeypatch.setattr(links, "LexborHTMLParser", parser)
    html = "<div>" * 40000 + '<a href="/deep">deep</a>' + "</div>" * 40000
    assert targets(run(html)) == ["https://site.test/deep"]
    assert parsed[0].count("<div") <= MAX_NESTING_DEPTH
    assert tree_depth(parsed[0]) <= DEEP


def test_unclosed_links_are_all_kept() -> None:
    # Each <a> closes the one before it: no nesting, nothing to cut, every link found.
    html = "".join(f'<a href="/x{i}">t{i}' for i in range(20000))
    guard = guard_markup(html)
    assert guard.walked
    assert not guard.changed
    assert guard.depth < 8
    facts = run(html)
    assert len(facts.links) == 20000
    assert facts.links[-1] == Link(
        "https://site.test/x19999", "a", "t19999", (), False, False, False, False, 19999
    )


def test_links_past_the_limit_in_svg_are_kept() -> None:
    # A link nested past the limit in SVG is made self-closing: still a link, no content.
    html = "<svg>" + "<g>" * 2000 + '<a href="/s"><text>s</text></a>' + "</g>" * 2000
    guard = guard_markup(html)
    assert '<a href="/s" />' in guard.text
    assert tree_depth(guard.text) <= DEEP
    assert targets(run(html)) == ["https://site.test/s"]


@pytest.mark.parametrize(
    ("unit", "deepens"),
    [
        # The adoption agency keeps these flat: nothing to do.
        ("<b><i></b></i>", False),
        ("<b>1<i>2</b>3</i>", False),
        # Here every <b> reopens the <i> left open before it, one level deeper each time.
        ("<b><i>x</b>", True),
    ],
)
def test_misnested_formatting(unit: str, deepens: bool) -> None:
    html = unit * 20000 + '<a href="/after">a</a>'
    guard = guard_markup(html)
    assert guard.text_changed == deepens
    assert tree_depth(guard.text) <= (DEEP if deepens else 16)
    assert targets(run(html)) == ["https://site.test/after"]


def test_attribute_floods_are_trimmed() -> None:
    names = " ".join(f"a{i}" for i in range(20000))
    html = f'<a href="/x" {names}>t</a><a href="/after">a</a>'
    guard = guard_markup(html)
    assert guard.trimmed == 1
    assert len(LexborHTMLParser(guard.text).css_first("a").attributes) == 256
    assert anchors(run(html)) == [("https://site.test/x", "t"), ("https://site.test/after", "a")]
    # A tag that never ends takes the rest of the document with it; cut there instead.
    unterminated = f'<a href="/x">t</a><x {names}'
    assert guard_markup(unterminated).text == '<a href="/x">t</a>'
    assert anchors(run(unterminated)) == [("https://site.test/x", "t")]


def test_long_attribute_values_are_kept() -> None:
    html = '<a href="/x" title="' + "t" * 1_000_000 + '">t</a><a href="/after">a</a>'
    guard = guard_markup(html)
    assert guard.text is html
    assert anchors(run(html)) == [("https://site.test/x", "t"), ("https://site.test/after", "a")]


def test_reopened_formatting_is_budgeted() -> None:
    # Formatting elements left open are reopened (cloned, attributes copied) by every
    # paragraph after them: 1000 of them times 8000 paragraphs would be 8 million
    # elements. Past 64 active ones they are neutralised; past a budget the rest is
    # closed instead of reopened.
    html = "<p>" + "".join(f"<b id={i}>" for i in range(1000)) + "</p>" + "<p>x</p>" * 8000
    guard = guard_markup(html)
    assert guard.neutralised >= 1000 - 64
    assert guard.closed > 0
    tree = LexborHTMLParser(guard.text)
    assert len(tree.css("b")) <= 4096 + len(html) // 16 + 64
    # One open link with a 100 KB title, reopened by 20,000 paragraphs: 2 GB of copies.
    html = '<p><a href="/x" title="' + "t" * 100_000 + '">x</p>' + "<p>y</p>" * 20000
    guard = guard_markup(html)
    assert guard.closed > 0
    links_found = run(html).links
    assert links_found[0].target_url == "https://site.test/x"
    assert len(links_found) <= 1 + (65536 + len(html)) // 100_000


def test_huge_selects_parse_without_mutation_events() -> None:
    html = "<select>" + "<option>x" * 5000 + '</select><a href="/after">a</a>'
    guard = guard_markup(html)
    assert guard.no_events
    assert not guard.text_changed
    assert targets(run(html)) == ["https://site.test/after"]
    # Closed options do not look deep to the pre-check, but the walk sees them.
    closed = "<select>" + "<option>x</option>" * 5000 + "</select>"
    assert _guard_walk(closed).no_events


def test_many_candidates_deep_in_foreign_content_are_checked_once() -> None:
    html = "<svg>" + "<g>" * 400 + "<title>icon</title>" * 3000 + "</svg><title>Real</title>"
    assert run(html).title == "Real"
    tree = LexborHTMLParser(html)
    memo: dict[int, bool] = {}
    titles = tree.css("title")
    assert [_in_foreign_content(node, memo) for node in titles] == [True] * 3000 + [False]
    assert len(memo) <= 400 + 8  # every ancestor walked once, not once per <title>


def test_images_deep_inside_a_link() -> None:
    html = '<a href="/x">' + "<span>" * 400 + '<img alt="pic">' * 3000 + "</a>"
    facts = run(html)
    assert anchors(facts) == [("https://site.test/x", "pic")]
    assert facts.links[0].image


# ---------------------------------------------------------------------------- hypothesis

HREFS = st.sampled_from(
    [
        "",
        "#",
        "#x",
        "/",
        "/a b",
        "a/../b",
        "?q=1&utm_source=x",
        "//other.test",
        "https://xn--bcher-kva.test/",
        "https://bücher.test/ä?ö=ü#ß",
        "http://[::1]:80/",
        "http://0x7f.1/",
        "http://[::1",
        "https://exa mple.test",
        "javascript:x",
        "mailto:x",
        "data:,x",
        "%zz",
        "%7e%2F",
        "\\\\host\\p",
        "http:relative",
        "HTTP://A.TEST.:8080/%41",
        "http://user:pw@a.test/",
        " \t/ws \n",
        "a\x00b",
        "\ud800",
    ]
) | st.text(max_size=20)

TAGS = st.sampled_from(
    [
        "a",
        "area",
        "base",
        "meta",
        "link",
        "title",
        "img",
        "p",
        "div",
        "table",
        "tr",
        "td",
        "svg",
        "math",
        "template",
        "noscript",
        "script",
        "style",
        "textarea",
        "b",
        "i",
        "map",
        "select",
        "option",
        "form",
        "html",
        "head",
        "body",
        "frameset",
        "plaintext",
        "xmp",
    ]
)
ATTR_NAMES = st.sampled_from(
    ["href", "rel", "alt", "name", "content", "http-equiv", "charset", "HREF"]
)
ATTR_VALUES = HREFS | st.sampled_from(
    [
        "robots",
        "nofollow",
        "none",
        "refresh",
        "0; url=/x",
        "canonical",
        "UGC  nofollow",
        "utf-8",
        "shift_jis",
    ]
)


@st.composite
def tag_soup(draw: st.DrawFn) -> str:
    parts: list[str] = []
    for _ in range(draw(st.integers(0, 30))):
        kind = draw(st.integers(0, 5))
        tag = draw(TAGS)
        if kind == 0:
            parts.append(f"</{tag}>")
        elif kind == 1:
            parts.append(draw(st.text(max_size=10)))
        elif kind == 2:
            parts.append(
                draw(
                    st.sampled_from(["<", ">", "<!--", "-->", "&amp;", "&#0;", "&", '"', "'", "="])
                )
            )
        else:
            attrs = []
            for _ in range(draw(st.integers(0, 3))):
                name, value = draw(ATTR_NAMES), draw(ATTR_VALUES)
                quote = draw(st.sampled_from(['"', "'", ""]))
                attrs.append(f" {name}={quote}{value}{quote}")
            parts.append(f"<{tag}{''.join(attrs)}>")
    return "".join(parts)


def check_invariants(facts: PageFacts) -> None:
    positions = [link.position for link in facts.links if link.link_type in ("a", "area")]
    assert positions == list(range(len(positions)))
    for link in facts.links:
        assert link.link_type in LINK_TYPES
        assert canonicalize(link.target_url) == link.target_url
        if link.link_type in ("canonical", "refresh"):
            assert link.position is None
            assert link.target_url != facts.url
        anchor = link.anchor_text
        assert anchor is None or (anchor and len(anchor) <= 256 and anchor == anchor.strip())
    assert min(facts.fragment_links, facts.non_http_links, facts.invalid_links) >= 0
    assert facts.title is None or 0 < len(facts.title) <= 512
    assert canonicalize(facts.base_url) == facts.base_url


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    body=st.binary(max_size=2000),
    content_type=st.sampled_from(
        [None, "text/html", "text/html; charset=utf-16", "text/html; charset=bogus"]
    ),
)
def test_extract_never_raises_on_bytes(body: bytes, content_type: str | None) -> None:
    headers = {"content-type": [content_type]} if content_type else None
    check_invariants(extract(body, URL, headers))


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    html=tag_soup(),
    encoding=st.sampled_from(["utf-8", "cp1251", "shift_jis", "utf-16"]),
    headers=st.fixed_dictionaries(
        {},
        optional={
            "x-robots-tag": st.lists(st.text(max_size=20), max_size=3),
            "link": st.lists(
                st.text(max_size=30) | st.just('<https://site.test/c>; rel="canonical"'), max_size=2
            ),
        },
    ),
)
def test_extract_tag_soup(html: str, encoding: str, headers: dict[str, list[str]]) -> None:
    body = (
        html.encode(encoding, "replace")
        if encoding != "utf-8"
        else html.encode("utf-8", "surrogatepass")
    )
    check_invariants(extract(body, URL, headers))


@given(st.text())
def test_header_parsers_never_raise(text: str) -> None:
    parse_meta_refresh(text)
    parse_link_header_canonical([text])
    link = redirect_link(URL, text, 301)
    assert link is None or canonicalize(link.target_url) == link.target_url


CANONICAL_BASES = st.sampled_from(
    [
        URL,
        "http://site.test/",
        "https://other.test:8443/a/b?q=1",
        "http://[::1]:8080/x/",
        "https://xn--bcher-kva.test/%C3%A4/",
        "http://192.168.0.1/",
    ]
)
HREF_PREFIXES = st.sampled_from(
    [
        "",
        "/",
        "//",
        "/\\",
        "\\",
        "http://",
        "https://",
        "HTTP://",
        "http:",
        "https:/",
        "/\t/",
        "/..",
    ]
)


@settings(max_examples=500, deadline=None)
@given(prefix=HREF_PREFIXES, rest=HREFS, base=CANONICAL_BASES)
def test_cached_resolution_equals_canonicalize(prefix: str, rest: str, base: str) -> None:
    # The cross-page cache keys absolute hrefs without the base and root-relative hrefs
    # by the base's origin: both must give what canonicalize(href, base) gives.
    href = (prefix + rest).strip(" \t\n\f\r")
    if not href:
        return
    expected = _resolve_uncached(href, base, DEFAULT_STRIP_QUERY_PARAMS)
    assert _resolve(href, base, _origin(base), DEFAULT_STRIP_QUERY_PARAMS) == expected
    # twice: the second answer comes from the cache
    assert _resolve(href, base, _origin(base), DEFAULT_STRIP_QUERY_PARAMS) == expected


def test_strip_params_may_be_a_list() -> None:
    facts = extract(b'<a href="/p?ref=1&x=2">x</a>', URL, strip_params=["ref"])  # type: ignore[arg-type]
    assert targets(facts) == ["https://site.test/p?x=2"]


@st.composite
def deep_tag_soup(draw: st.DrawFn) -> str:
    parts: list[str] = []
    for _ in range(draw(st.integers(0, 100))):
        tag = draw(TAGS | st.sampled_from(["svg", "g", "mi", "desc", "td", "tr", "li", "u", "s"]))
        kind = draw(st.integers(0, 9))
        if kind < 3:
            parts.append(f"</{tag}>")
        elif kind == 3:
            parts.append(draw(st.sampled_from(["x", " ", "<!-- c -->", "<br/>", "<p/>"])))
        else:
            attrs = draw(st.sampled_from(["", ' id="1"', " id=2", " a b", ' href="/l"']))
            parts.append(f"<{tag}{attrs}{draw(st.sampled_from(['', '/']))}>")
    return "".join(parts)


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(html=deep_tag_soup())
def test_guard_walk_bounds_the_depth_of_any_markup(html: str) -> None:
    # With a limit of 6 (and 3 formatting elements), whatever the markup, lexbor's tree
    # of the guarded text is no deeper than the limit plus a small allowance.
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(links, "MAX_NESTING_DEPTH", 6)
        patch.setattr(links, "_MAX_FORMATTING", 3)
        guard = _guard_walk(html)
    assert guard.text is html or guard.text_changed
    assert tree_depth(guard.text) <= 2 * 6 + 6
    facts = extract(guard.text.encode("utf-8", "surrogatepass"), URL)
    positions = [link.position for link in facts.links if link.position is not None]
    assert positions == list(range(len(positions)))


@settings(max_examples=200, deadline=None)
@given(
    st.text(alphabet=st.sampled_from(list("<>/!?-=\"' \n\tabtdrsvgmiCDATA[]\x00é")), max_size=300)
)
def test_guard_walk_never_raises_on_text(text: str) -> None:
    guard = _guard_walk(text)
    assert guard.text is text or guard.text_changed
