"""Link extraction: an HTML response's bytes, URL and headers -> page facts and links.

This is ``docs/rules.md`` section 2 as one pure function, :func:`extract`, over plain
values (no Scrapy import), so the spider, the test web and the tests share it. Decoding
is Scrapy's (``w3lib.encoding.html_to_unicode`` with the last ``Content-Type`` value and
Scrapy's detection fallback: ASCII, UTF-8, then charset-normalizer); parsing is HTML5
(lexbor via selectolax), so broken markup becomes the tree a browser builds. Every URL
is put in canonical form by :func:`linkcrawl.urls.canonicalize`.

Speed matters here (one call per crawled page): lexbor walks the document once for a
single selector list (links, ``<base>``, ``<meta>``, ``<link>``, ``<title>``) and once
for ``a img``; per link there is one attribute read, one text read and one
canonicalisation, cached within the page. Nothing is cached across pages.

Choices the rules leave open, made here:

* ``<noscript>`` content is parsed as markup (a browser with scripting disabled, as a
  crawler is), so links inside it are extracted.
* ``<a href>`` inside inline SVG/MathML is extracted like any ``<a href>``; a ``<title>``,
  ``<base>`` or ``<link>`` inside SVG/MathML is not the document's.
* Anchor text is the DOM ``textContent`` (text inside a nested ``<script>`` counts).
  "Whitespace", when collapsing anchors, alts and titles, is HTML's ASCII whitespace
  (as for ``document.title`` and ``rel``), so ``&nbsp;`` is kept. An ``<img>`` belongs
  to its nearest enclosing ``<a>``.
* Links can nest (``<a><table><td><a>``, SVG). Reading every link's whole text would
  then be quadratic, so once the links' texts add up to more than the document's size,
  each further link's text is read from its first nodes only (a prefix of the rule's
  anchor, which is all a hostile page deserves).
* Pathological markup is defused before it is parsed (:func:`guard_markup`), because
  lexbor's tree construction is quadratic in the nesting depth (20,000 nested ``<div>``
  take 0.6 s, 40,000 take 2.5 s, a 5 MB page hours) and can be made to copy elements
  and attributes without end. A start tag that would open a 513th nested element
  (Blink's depth limit) becomes an empty comment, so its content, links included, stays
  one level up (``<a>`` itself is kept); so does a formatting start tag beyond 64 open
  ones; attributes after a tag's 256th are dropped; formatting elements left open are
  closed rather than reopened once reopening would copy more than the page's size. Only
  pages that cheap counts mark as suspicious are walked (a heuristic, see
  :func:`_needs_guard`); ordinary pages are parsed exactly as they are.
* Only the first ``Link: rel=canonical`` header, else the first ``<link rel=canonical>``
  element, is looked at; if its target is not a valid http(s) URL the page has no
  canonical (the next candidate is not tried). Likewise the first meta refresh with a
  ``content``. A title that is empty after collapsing is ``None``.
"""

from __future__ import annotations

import re
from bisect import bisect_right
from dataclasses import dataclass
from functools import lru_cache
from typing import TYPE_CHECKING

from charset_normalizer import from_bytes
from selectolax.lexbor import LexborDocumentOptions, LexborHTMLParser
from w3lib.encoding import html_to_unicode, resolve_encoding

from linkcrawl.urls import DEFAULT_STRIP_QUERY_PARAMS, UnsupportedScheme, URLError, canonicalize

if TYPE_CHECKING:
    from collections.abc import Iterator, Mapping, Sequence
    from datetime import datetime

    from selectolax.lexbor import LexborNode

__all__ = [
    "LINK_TYPES",
    "MAX_NESTING_DEPTH",
    "Link",
    "MarkupGuard",
    "PageFacts",
    "extract",
    "guard_markup",
    "parse_link_header_canonical",
    "parse_meta_refresh",
    "redirect_link",
]

# "sitemap": an entry of a sitemap file (the spider makes these, not extract()).
LINK_TYPES = ("a", "area", "redirect", "canonical", "refresh", "sitemap")

#: Page titles longer than this many characters are cut.
TITLE_MAX_CHARS = 512

# Every element extract() looks at, in one selector list: lexbor walks the tree once and
# returns the matches in document order.
_SELECTOR = "a[href], area[href], base[href], meta[content], link[href], title"

# HTML's "ASCII whitespace" (no vertical tab, unlike str.split()).
_ASCII_WS = " \t\n\f\r"
_ASCII_WS_RUN = re.compile("[ \t\n\f\r]+")
# What str.split() also splits on besides ASCII whitespace: when a text has none of these
# (nearly always), the fast str.split() collapses exactly ASCII whitespace.
_OTHER_SPACE = re.compile(
    "[\x0b\x1c-\x1f\x85\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]"
)

# Robots directives that take a value after a colon, so that "unavailable_after: ..." is
# not mistaken for a user-agent prefix in an X-Robots-Tag value.
_VALUED_ROBOTS_DIRECTIVES = frozenset(
    {"unavailable_after", "max-snippet", "max-image-preview", "max-video-preview"}
)

# Nodes read for the text of a link once links turn out to nest (see _anchor_links).
_BOUNDED_TEXT_NODES = 64

# Outcomes of resolving an href, cached next to the canonical URLs (str).
_INVALID = 0
_NON_HTTP = 1

# Size of the cross-page cache of hrefs whose resolution depends on the base URL's
# origin at most (absolute and root-relative hrefs: navigation, footers).
_RESOLVE_CACHE_SIZE = 8192


@dataclass(slots=True)
class Link:
    """One edge of the link graph, from the page it was found on to ``target_url``."""

    target_url: str  # canonical
    link_type: str  # one of LINK_TYPES
    anchor_text: str | None
    rel: tuple[str, ...]
    nofollow: bool
    sponsored: bool
    ugc: bool
    image: bool  # an <a> that contains an <img>
    position: int | None  # 0-based among the page's a/area links; None for other types
    http_status: int | None = None  # redirect edges only
    lastmod: datetime | None = None  # sitemap edges only: the entry's <lastmod>, UTC


@dataclass(slots=True)
class PageFacts:
    """What :func:`extract` learns from one HTML page."""

    url: str
    encoding: str
    title: str | None
    meta_robots: str | None  # raw content values, joined with ", " when several
    x_robots_tag: str | None  # raw header values, joined with ", "
    nofollow: bool
    noindex: bool
    canonical: str | None
    refresh: str | None
    base_url: str
    links: list[Link]
    fragment_links: int
    non_http_links: int
    invalid_links: int


def extract(
    body: bytes,
    url: str,
    headers: Mapping[str, Sequence[str]] | None = None,
    *,
    strip_params: tuple[str, ...] = DEFAULT_STRIP_QUERY_PARAMS,
    anchor_max_chars: int = 256,
    bot_name: str = "linkcrawl",
) -> PageFacts:
    """Decode and parse an HTML response and return its facts and links.

    ``url`` is the response's canonical URL; ``headers`` maps lower-case header names to
    their values (``content-type``, ``link``, ``x-robots-tag`` are read). Never raises
    for any ``body``.
    """
    headers = headers or {}
    strip_params = tuple(strip_params)  # hashable: a cache key (a setting may be a list)
    content_types = headers.get("content-type")
    encoding, text = html_to_unicode(
        content_types[-1] if content_types else None,
        body,
        default_encoding="ascii",
        auto_detect_fun=_detect_encoding,
    )
    # Hostile markup (deep nesting, attribute floods...) is defused first: see guard_markup.
    guard = guard_markup(text)
    text = guard.text
    tree = LexborHTMLParser(text, options=_NO_EVENTS if guard.no_events else 0)

    anchors: list[tuple[LexborNode, str]] = []
    base_href: str | None = None
    title: str | None = None
    canonical_href: str | None = None
    refresh_content: str | None = None
    robots: list[str] = []
    # Robots directives may name a crawler (<meta name="googlebot">, "googlebot: nofollow"
    # in X-Robots-Tag): only "robots" (everyone) and our own names apply to us.
    agents = {"linkcrawl", bot_name.strip().lower()}
    base_seen = title_seen = canonical_seen = False
    foreign: dict[int, bool] = {}  # _in_foreign_content's memo: each ancestor walked once
    for node in tree.css(_SELECTOR):
        tag = node.tag
        if tag in ("a", "area"):
            anchors.append((node, tag))
        elif tag == "meta":
            attrs = node.attributes
            content = attrs.get("content")
            if not content:
                continue
            name = attrs.get("name")
            if name is not None:
                meta_name = name.strip(_ASCII_WS).lower()
                if meta_name == "robots":
                    robots.append(content)
                elif meta_name in agents:  # recorded as X-Robots-Tag would name it
                    robots.append(f"{meta_name}: {content}")
            equiv = attrs.get("http-equiv")
            if (
                refresh_content is None
                and equiv is not None
                and equiv.strip(_ASCII_WS).lower() == "refresh"
            ):
                refresh_content = content
        elif tag == "link":
            if canonical_seen:
                continue
            attrs = node.attributes
            rel = attrs.get("rel")
            if rel and "canonical" in _split_rel(rel) and not _in_foreign_content(node, foreign):
                canonical_seen = True
                canonical_href = attrs.get("href") or ""
        elif tag == "title":
            if not title_seen and not _in_foreign_content(node, foreign):
                title_seen = True
                collapsed = _collapse_prefix(node.text(), TITLE_MAX_CHARS)
                title = collapsed[:TITLE_MAX_CHARS] or None
        elif tag == "base" and not base_seen and not _in_foreign_content(node, foreign):
            base_seen = True
            base_href = node.attributes.get("href") or ""

    page_url = _canonical_or_none(url, None, strip_params) or url
    base_url = url
    if base_href is not None:
        base_url = _canonical_or_none(base_href, url, strip_params) or url

    # The <img> elements inside links, by their nearest enclosing <a>: one more selector
    # query is cheaper than walking every link's subtree. The walks up are memoised, so
    # many images deep inside one link cost one walk.
    link_images: dict[int, list[LexborNode]] = {}
    if anchors:
        nearest: dict[int, int] = {}  # element -> its nearest enclosing <a>, 0 for none
        for img in tree.css("a img"):
            parent = img.parent
            if parent is not None and parent.tag == "a":  # the usual case
                link_images.setdefault(parent.mem_id, []).append(img)
                continue
            path: list[int] = []
            link = 0
            while parent is not None:
                key = parent.mem_id
                known = nearest.get(key)
                if known is not None:
                    link = known
                    break
                if parent.tag == "a":
                    link = key
                    break
                path.append(key)
                parent = parent.parent
            for key in path:
                nearest[key] = link
            if link:
                link_images.setdefault(link, []).append(img)

    links, fragment_links, non_http_links, invalid_links = _anchor_links(
        anchors,
        link_images,
        base_url,
        strip_params=strip_params,
        anchor_max_chars=anchor_max_chars,
        text_budget=len(text),
    )

    # Page-level robots directives: <meta name=robots> and <meta name=OUR NAME>, and the
    # X-Robots-Tag values for everyone or for us (read the same way).
    x_robots = list(headers.get("x-robots-tag") or ())
    ours = (_x_robots_directives(value, agents) for value in [*robots, *x_robots])
    nofollow, noindex = _robots_flags([d for d in ours if d is not None])

    # Canonical: the Link header wins over the element.
    canonical: str | None = None
    header_target = parse_link_header_canonical(headers.get("link") or ())
    if header_target is not None:
        canonical = _canonical_or_none(header_target, url, strip_params)
    elif canonical_href is not None:
        canonical = _canonical_or_none(canonical_href, base_url, strip_params)
    if canonical is not None and canonical != page_url:
        links.append(_page_link(canonical, "canonical"))

    refresh: str | None = None
    if refresh_content is not None:
        refresh_href = parse_meta_refresh(refresh_content)
        if refresh_href is not None:
            refresh = _canonical_or_none(refresh_href, base_url, strip_params)
    if refresh is not None and refresh != page_url:
        links.append(_page_link(refresh, "refresh"))

    return PageFacts(
        url=url,
        encoding=encoding,
        title=title,
        meta_robots=", ".join(robots) if robots else None,
        x_robots_tag=", ".join(x_robots) if x_robots else None,
        nofollow=nofollow,
        noindex=noindex,
        canonical=canonical,
        refresh=refresh,
        base_url=base_url,
        links=links,
        fragment_links=fragment_links,
        non_http_links=non_http_links,
        invalid_links=invalid_links,
    )


def _anchor_links(
    anchors: list[tuple[LexborNode, str]],
    link_images: dict[int, list[LexborNode]],
    base_url: str,
    *,
    strip_params: tuple[str, ...],
    anchor_max_chars: int,
    text_budget: int,
) -> tuple[list[Link], int, int, int]:
    """Turn the page's ``<a href>``/``<area href>`` elements into links, and count the rest.

    ``text_budget`` is the length of the decoded document. Links that do not nest have
    disjoint subtrees, so their texts add up to less than that; once they add up to more,
    links nest (``<a><table><td><a>`` or SVG) and reading every link's whole text would
    take quadratic time: the remaining links read a bounded prefix of their text instead.
    """
    links: list[Link] = []
    fragment_links = non_http_links = invalid_links = 0
    # Per-page caches: pages repeat hrefs (navigation) and rel values; both die with the page.
    resolved: dict[str, str | int] = {}
    rels: dict[str, tuple[str, ...]] = {}
    base_origin = _origin(base_url)
    for node, tag in anchors:
        attrs = node.attributes
        href = (attrs.get("href") or "").strip(_ASCII_WS)
        if not href or href[0] == "#":
            fragment_links += 1
            continue
        target = resolved.get(href)
        if target is None:
            target = resolved[href] = _resolve(href, base_url, base_origin, strip_params)
        if not isinstance(target, str):
            if target == _NON_HTTP:
                non_http_links += 1
            else:
                invalid_links += 1
            continue

        rel_value = attrs.get("rel")
        if rel_value:
            rel = rels.get(rel_value)
            if rel is None:
                rel = rels[rel_value] = _split_rel(rel_value)
        else:
            rel = ()

        image = False
        if tag == "area":
            anchor = _collapse(attrs.get("alt") or "")
        else:
            if text_budget > 0:
                raw = node.text_lexbor()
                text_budget -= len(raw)
                anchor = _collapse_prefix(raw, anchor_max_chars)
            else:
                anchor = _bounded_text(node, anchor_max_chars)
            images = link_images.get(node.mem_id) if link_images else None
            if images is not None:
                image = True
                for img in images if not anchor else ():
                    # The first <img> with a non-empty alt stands in for empty text.
                    anchor = _collapse(img.attributes.get("alt") or "")
                    if anchor:
                        break

        links.append(
            Link(
                target,
                "area" if tag == "area" else "a",
                anchor[:anchor_max_chars] or None,
                rel,
                "nofollow" in rel,
                "sponsored" in rel,
                "ugc" in rel,
                image,
                len(links),
            )
        )
    return links, fragment_links, non_http_links, invalid_links


def redirect_link(
    url: str,
    location: str,
    status: int,
    strip_params: tuple[str, ...] = DEFAULT_STRIP_QUERY_PARAMS,
) -> Link | None:
    """Return the ``redirect`` edge of a 3xx response at ``url`` with ``Location: location``.

    The location is resolved against ``url``; ``None`` when it is invalid or not http(s).
    """
    target = _canonical_or_none(location, url, strip_params)
    if target is None:
        return None
    return Link(target, "redirect", None, (), False, False, False, False, None, status)


def parse_meta_refresh(content: str) -> str | None:
    """Return the URL part of a ``<meta http-equiv=refresh>`` content value, or ``None``.

    The HTML Standard's "shared declarative refresh steps": ``"5"`` and ``"0; url="``
    (a refresh of the page itself) and malformed values (``"abc"``) give ``None``;
    ``"0;URL='/next'"`` gives ``"/next"``.
    """
    n = len(content)
    pos = _skip_ws(content, 0)
    start = pos
    while pos < n and content[pos].isascii() and content[pos].isdigit():
        pos += 1
    if pos == start and (pos >= n or content[pos] != "."):
        return None
    while pos < n and (content[pos] == "." or (content[pos].isascii() and content[pos].isdigit())):
        pos += 1
    if pos >= n:
        return None
    if content[pos] not in ";," and content[pos] not in _ASCII_WS:
        return None
    pos = _skip_ws(content, pos)
    if pos < n and content[pos] in ";,":
        pos += 1
    pos = _skip_ws(content, pos)
    if pos >= n:
        return None

    url_string = content[pos:]
    quote = ""
    if content[pos] in "Uu":
        pos += 1
        if content[pos : pos + 2].lower() == "rl":
            pos = _skip_ws(content, pos + 2)
            if pos < n and content[pos] == "=":
                pos = _skip_ws(content, pos + 1)
                if pos < n and content[pos] in "'\"":
                    quote = content[pos]
                    pos += 1
                url_string = content[pos:]
    elif content[pos] in "'\"":
        quote = content[pos]
        url_string = content[pos + 1 :]
    if quote:
        url_string = url_string.partition(quote)[0]
    url_string = url_string.strip(_ASCII_WS)
    return url_string or None


def parse_link_header_canonical(values: Sequence[str]) -> str | None:
    """Return the target of the first ``rel="canonical"`` link in ``Link`` header values.

    The target is returned as written (between ``<`` and ``>``), not resolved. Values
    follow RFC 8288: ``<https://a.test/x>; rel="canonical", </y>; rel=alternate``.
    """
    for value in values:
        for target, params in _link_values(value):
            rel = params.get("rel")
            if rel is not None and "canonical" in _split_rel(rel):
                return target
    return None


# ----------------------------------------------------------------------------- helpers


def _detect_encoding(body: bytes) -> str | None:
    """Scrapy's fallback when neither headers nor markup declare an encoding.

    The same steps as ``scrapy.http.TextResponse._auto_detect_fun``: ASCII, UTF-8, then
    charset-normalizer's best guess.
    """
    for candidate in ("ascii", "utf-8"):
        try:
            body.decode(candidate)
        except UnicodeError:
            continue
        return resolve_encoding(candidate)
    match = from_bytes(body).best()
    return resolve_encoding(match.encoding) if match else None


def _resolve(
    href: str, base_url: str, base_origin: str | None, strip_params: tuple[str, ...]
) -> str | int:
    """``canonicalize(href, base_url)``, or ``_NON_HTTP`` / ``_INVALID``.

    ``href`` is stripped and not empty. An absolute http(s) href does not depend on the
    base at all, and a root-relative one (``/path``) only on the base's origin, so both
    are resolved through a bounded cache shared by all pages. ``//host`` and ``/\\host``
    are scheme-relative, and the URL parser removes tabs and newlines first (``/<TAB>/x``
    is ``//x``), so those go the uncached way.
    """
    if href.startswith(("http://", "https://")):
        return _resolve_cached(href, None, strip_params)
    if (
        base_origin is not None
        and href[0] == "/"
        and href[1:2] not in ("/", "\\")
        and "\t" not in href
        and "\n" not in href
        and "\r" not in href
    ):
        return _resolve_cached(href, base_origin, strip_params)
    return _resolve_uncached(href, base_url, strip_params)


def _resolve_uncached(href: str, base: str | None, strip_params: tuple[str, ...]) -> str | int:
    try:
        return canonicalize(href, base, strip_params)
    except UnsupportedScheme:
        return _NON_HTTP
    except URLError:
        return _INVALID


_resolve_cached = lru_cache(maxsize=_RESOLVE_CACHE_SIZE)(_resolve_uncached)


def _origin(canonical_url: str) -> str | None:
    """``"https://host:port/"`` of a canonical http(s) URL; ``None`` for anything else."""
    if not canonical_url.startswith(("http://", "https://")):
        return None
    slash = canonical_url.find("/", canonical_url.index("//") + 2)
    return None if slash < 0 else canonical_url[: slash + 1]


def _canonical_or_none(href: str, base: str | None, strip_params: tuple[str, ...]) -> str | None:
    """``canonicalize(href, base)``, or ``None`` for an invalid or non-http(s) URL."""
    try:
        return canonicalize(href, base, strip_params)
    except URLError:
        return None


def _page_link(target: str, link_type: str) -> Link:
    """A page-level edge (``canonical`` or ``refresh``): no anchor, rel or position."""
    return Link(target, link_type, None, (), False, False, False, False, None)


def _collapse(text: str) -> str:
    """Collapse each run of ASCII whitespace to one space and trim (HTML's rule)."""
    if (text.isascii() and text.isprintable()) or _OTHER_SPACE.search(text) is None:
        return " ".join(text.split())
    return " ".join(_ASCII_WS_RUN.split(text)).strip(" ")


def _collapse_prefix(raw: str, max_chars: int) -> str:
    """``_collapse(raw)``, or a prefix of it at least ``max_chars`` long.

    The collapsed form of a prefix of ``raw`` is a prefix of the collapsed form of
    ``raw``, so a long text is only collapsed as far as the cap needs.
    """
    limit = 4 * max_chars + 64
    if len(raw) > limit:
        head = _collapse(raw[:limit])
        if len(head) >= max_chars:
            return head
    return _collapse(raw)


def _bounded_text(node: LexborNode, max_chars: int) -> str:
    """The collapsed text of ``node``, read from its first nodes only.

    Reads text nodes until the collapsed text reaches ``max_chars`` or
    ``_BOUNDED_TEXT_NODES`` nodes have been visited: the safety valve for pages whose
    links nest (see _anchor_links).
    """
    parts: list[str] = []
    size = 0
    check_at = max_chars
    for visited, child in enumerate(node.traverse(include_text=True)):
        if visited >= _BOUNDED_TEXT_NODES:
            break
        data = child.text_content
        if data:
            parts.append(data)
            size += len(data)
            if size >= check_at:
                if len(_collapse("".join(parts))) >= max_chars:
                    break
                check_at = 2 * size
    return _collapse_prefix("".join(parts), max_chars)


def _split_rel(value: str) -> tuple[str, ...]:
    """Split a ``rel`` value on ASCII whitespace, lower-cased, first occurrence kept."""
    for char in "\t\n\f\r":
        if char in value:
            value = value.replace(char, " ")
    tokens = value.lower().split(" ")
    if "" in tokens or len(set(tokens)) != len(tokens):
        return tuple(dict.fromkeys(t for t in tokens if t))
    return tuple(tokens)


def _in_foreign_content(node: LexborNode, memo: dict[int, bool]) -> bool:
    """Whether ``node`` sits inside inline SVG or MathML (so it is not an HTML element).

    ``memo`` remembers the answer for every ancestor walked, so that many candidates
    deep in one subtree (hostile markup) cost one walk, not one each.
    """
    path: list[int] = []
    inside = False
    parent = node.parent
    while parent is not None:
        key = parent.mem_id
        known = memo.get(key)
        if known is not None:
            inside = known
            break
        if parent.tag in ("svg", "math"):
            inside = True
            break
        path.append(key)
        parent = parent.parent
    for key in path:
        memo[key] = inside
    return inside


def _x_robots_directives(value: str, agents: set[str]) -> str | None:
    """The directives of one X-Robots-Tag value that apply to us, or ``None``.

    ``"noindex"`` applies to every crawler; ``"linkcrawl: noindex"`` only to the agents
    named in ``agents``; ``"otherbot: noindex"`` not to us.
    """
    head, colon, rest = value.partition(":")
    name = head.strip(_ASCII_WS).lower()
    if not colon or "," in name or name in _VALUED_ROBOTS_DIRECTIVES:
        return value
    return rest if name in agents else None


def _robots_flags(directives: Sequence[str]) -> tuple[bool, bool]:
    """Return ``(nofollow, noindex)`` for comma-separated robots directive strings."""
    nofollow = noindex = False
    for value in directives:
        for token in value.split(","):
            word = token.strip(_ASCII_WS).lower()
            if word == "none":
                nofollow = noindex = True
            elif word == "nofollow":
                nofollow = True
            elif word == "noindex":
                noindex = True
    return nofollow, noindex


def _skip_ws(text: str, pos: int) -> int:
    """Advance ``pos`` past ASCII whitespace in ``text``."""
    n = len(text)
    while pos < n and text[pos] in _ASCII_WS:
        pos += 1
    return pos


def _link_values(value: str) -> Iterator[tuple[str, dict[str, str]]]:
    """Yield ``(target, params)`` for each link-value of one ``Link`` header value.

    Parameter names are lower-cased; quoted values are unquoted; the first occurrence of
    a parameter wins (RFC 8288). Commas and semicolons inside quotes are honoured.
    """
    n = len(value)
    pos = 0
    while True:
        lt = value.find("<", pos)
        if lt < 0:
            return
        gt = value.find(">", lt + 1)
        if gt < 0:
            return
        target = value[lt + 1 : gt].strip(_ASCII_WS)
        params: dict[str, str] = {}
        pos = gt + 1
        while pos < n:
            pos = _skip_ws(value, pos)
            if pos >= n or value[pos] == ",":
                break
            if value[pos] != ";":
                # Junk between parameters: skip to the next separator.
                pos = _scan_unquoted(value, pos, ";,")
                continue
            pos = _skip_ws(value, pos + 1)
            end = _scan_unquoted(value, pos, "=;,")
            name = value[pos:end].strip(_ASCII_WS).lower()
            pos = end
            param_value = ""
            if pos < n and value[pos] == "=":
                pos = _skip_ws(value, pos + 1)
                if pos < n and value[pos] == '"':
                    param_value, pos = _quoted_string(value, pos)
                else:
                    end = _scan_unquoted(value, pos, ";,")
                    param_value = value[pos:end].strip(_ASCII_WS)
                    pos = end
            if name:
                params.setdefault(name, param_value)
        yield target, params
        pos += 1


def _scan_unquoted(value: str, pos: int, stops: str) -> int:
    """Index of the first character in ``stops`` at or after ``pos``, outside quotes."""
    n = len(value)
    while pos < n and value[pos] not in stops:
        if value[pos] == '"':
            pos = _quoted_string(value, pos)[1]
        else:
            pos += 1
    return pos


def _quoted_string(value: str, pos: int) -> tuple[str, int]:
    """Read the quoted-string starting at ``value[pos] == '"'``; return it and the end."""
    out: list[str] = []
    pos += 1
    n = len(value)
    while pos < n:
        char = value[pos]
        if char == '"':
            return "".join(out), pos + 1
        if char == "\\" and pos + 1 < n:
            pos += 1
            char = value[pos]
        out.append(char)
        pos += 1
    return "".join(out), pos


# ------------------------------------------------------------------ hostile markup guard
#
# lexbor's tree builder does work proportional to the stack of open elements for many
# tokens (scope checks, end tag matching, foster parenting), to the list of active
# formatting elements for formatting tags (Noah's Ark) and reopens every formatting
# element left open on each text or tag (reconstruction, which copies the attributes),
# and compares every attribute of a tag with the ones before it. On ordinary pages all of
# these are small; a page built to make them large is parsed in quadratic time or
# memory. _guard_walk() walks such a page once, modelling the HTML tree construction
# closely enough to know those sizes, and rewrites the markup that would exceed the
# limits below before lexbor sees it. _needs_guard() decides, cheaply, which pages that
# walk is for.

#: Most elements open at once (Blink caps the DOM depth at 512 too). Start tags beyond it
#: are neutralised (links, ``<a>``, are kept).
MAX_NESTING_DEPTH = 512
#: Most active formatting elements after the last marker; further ``<b>``, ``<font>``...
#: start tags are neutralised (``<a>`` never: at most one is active per marker).
_MAX_FORMATTING = 64
#: Attributes per start tag: lexbor checks each against all the tag's earlier ones.
_MAX_ATTRIBUTES = 256
#: Options per ``<select>`` above which lexbor's option bookkeeping (a DOM mutation event
#: per inserted option, quadratic in the select's size) is switched off for the page.
_MAX_OPTIONS = 1024
# Pages this small, with this few "<", skip the walk: whatever their markup, lexbor's
# extra work is bounded by their size (see guard_markup).
_GUARD_FREE_CHARS = 65536
_GUARD_FREE_TAGS = 1024
# Larger pages are looked at in windows of this many characters.
_GUARD_WINDOW = 8192
# A formatting start tag with attributes this long makes a page worth walking: every
# reopening of the element copies them.
_GUARD_LONG_ATTRIBUTES = 65536

# What a neutralised tag becomes: an empty (bogus) comment, inert in every context, even
# in script data ("<!--" would not be).
_NEUTRAL = "<!>"
_NO_EVENTS = LexborDocumentOptions.WO_EVENTS

# One tag or comment opening, tokenized as the HTML tokenizer does: groups 1 "/" of an end
# tag, 2 the tag name, 3 the attributes, 4 what precedes ">" ("/" = self-closing); 5 a
# comment's "!--"; otherwise a bogus comment ("<!x", "<?x", "</1"). The attribute grammar
# is exact, so a start tag that does not match runs to the end of the document.
_ATTR_RE = (
    r"[\t\n\f\r /]*+[^\t\n\f\r />][^\t\n\f\r />=]*+"
    r"(?:[\t\n\f\r ]*+=[\t\n\f\r ]*+(?:\"[^\"]*+\"|'[^']*+'|(?![\"'])[^\t\n\f\r >]*+)"
    r"|(?![\t\n\f\r ]*+=))"
)
_MARKUP = re.compile(
    r"<(?:(/?)([A-Za-z][^\t\n\f\r />]*+)((?:" + _ATTR_RE + r")*+)([\t\n\f\r /]*+)>"
    r"|(!--)|[!?]|/)"
)
_ATTRIBUTE = re.compile(_ATTR_RE)
_COMMENT_END = re.compile(r"--!?>")
_HTML_ENCODING = re.compile(
    r"(?:^|[\t\n\f\r /])encoding[\t\n\f\r ]*=[\t\n\f\r ]*[\"']?"
    r"(?:text/html|application/xhtml\+xml)(?:[\"'\t\n\f\r /]|$)",
    re.IGNORECASE,
)
_FONT_ATTRIBUTE = re.compile(r"(?:color|face|size)$", re.IGNORECASE)
# Elements whose content is text up to their end tag (in HTML content; scripting is off,
# so <noscript> is markup).
_RAW_TEXT_END = {
    name: re.compile(rf"</{name}[\t\n\f\r />]", re.IGNORECASE)
    for name in ("script", "style", "xmp", "iframe", "noembed", "noframes", "textarea", "title")
}

# Per-element flags of the model's stack of open elements.
_F_HTML = 1 << 0
_F_SPECIAL = 1 << 1
_F_SPECIAL_LI = 1 << 2  # special, but not address, div or p (stops the <li> search)
_F_SCOPE = 1 << 3  # "has an element in scope" boundary
_F_BUTTON_SCOPE = 1 << 4
_F_LIST_SCOPE = 1 << 5
_F_TABLE_SCOPE = 1 << 6
_F_TABLE_CONTEXT = 1 << 7  # decides the insertion mode inside tables
_F_HEADING = 1 << 8
_F_MARKER = 1 << 9  # pushes a marker onto the list of active formatting elements
_F_FOREIGN = 1 << 10  # SVG or MathML
_F_HTML_POINT = 1 << 11  # HTML integration point
_F_TEXT_POINT = 1 << 12  # MathML text integration point
_F_ENTRY = 1 << 13  # the element has an entry in the list of active formatting elements
_BOUNDARY_FLAGS = (
    _F_HTML,
    _F_SPECIAL,
    _F_SPECIAL_LI,
    _F_SCOPE,
    _F_BUTTON_SCOPE,
    _F_LIST_SCOPE,
    _F_TABLE_SCOPE,
    _F_TABLE_CONTEXT,
    _F_HEADING,
)


def _names(words: str) -> frozenset[str]:
    return frozenset(words.split())


_HEADINGS = frozenset({"h1", "h2", "h3", "h4", "h5", "h6"})
_SPECIAL = (
    _names(
        "address applet area article aside base basefont bgsound blockquote body br button "
        "caption center col colgroup dd details dir div dl dt embed fieldset figcaption figure "
        "footer form frame frameset head header hgroup hr html iframe img input keygen li link "
        "listing main marquee menu meta nav noembed noframes noscript object ol p param "
        "plaintext pre script search section select source style summary table tbody td "
        "template textarea tfoot th thead title tr track ul wbr xmp"
    )
    | _HEADINGS
)
# (lexbor, like the 2025 HTML standard's customizable <select>, also stops at <select>)
_SCOPE = _names("applet caption html table td th marquee object template select")
_TABLE_CONTEXT = _names("table tbody thead tfoot tr td th caption colgroup template html")
_MARKERS = _names("applet marquee object template td th caption")
_FORMATTING = _names("a b big code em font i nobr s small strike strong tt u")
_VOID = _names(
    "area base basefont bgsound br col embed frame hr image img input keygen link meta "
    "param source track wbr"
)
_IGNORED = _names("html body head frame")
_CLOSES_P = (
    _names(
        "address article aside blockquote center details dialog dir div dl fieldset figcaption "
        "figure footer header hgroup main menu nav ol p search section summary ul pre listing "
        "form li dd dt plaintext hr xmp"
    )
    | _HEADINGS
)
_BLOCK_END = _names(
    "address article aside blockquote button center details dialog dir div dl fieldset "
    "figcaption figure footer header hgroup listing main menu nav ol pre search section "
    "summary ul applet marquee object"
)
_TABLE_PARTS = _names("caption col colgroup tbody thead tfoot tr td th")
_TABLE_SECTIONS = frozenset({"tbody", "thead", "tfoot"})
_IN_TABLE_MODES = frozenset({"table", "tbody", "thead", "tfoot", "tr"})
_BREAKOUT = (
    _names(
        "b big blockquote body br center code dd div dl dt em embed head hr i img li listing "
        "menu meta nobr ol p pre ruby s small span strong strike sub sup table tt u ul "
        "var"
    )
    | _HEADINGS
)
# The model names SVG elements "~name" and MathML elements "^name".
_HTML_POINTS = frozenset({"~foreignobject", "~desc", "~title"})  # and some annotation-xml
_TEXT_POINTS = frozenset({"^mi", "^mo", "^mn", "^ms", "^mtext"})


def _element_flags(name: str) -> int:
    """Flags of an element on the model's stack ("~svg-element", "^mathml-element")."""
    if name[0] in "~^":
        if name == "^annotation-xml":  # an HTML integration point only for HTML content
            return _F_FOREIGN | _F_SPECIAL | _F_SPECIAL_LI | _scope_flags()
        if name in _TEXT_POINTS:
            return _F_FOREIGN | _F_TEXT_POINT | _F_SPECIAL | _F_SPECIAL_LI | _scope_flags()
        if name in _HTML_POINTS:
            return _F_FOREIGN | _F_HTML_POINT | _F_SPECIAL | _F_SPECIAL_LI | _scope_flags()
        return _F_FOREIGN
    flags = _F_HTML
    if name in _SPECIAL:
        flags |= _F_SPECIAL if name in ("address", "div", "p") else _F_SPECIAL | _F_SPECIAL_LI
    if name in _SCOPE:
        flags |= _scope_flags()
    elif name == "button":
        flags |= _F_BUTTON_SCOPE
    elif name in ("ol", "ul"):
        flags |= _F_LIST_SCOPE
    if name in ("html", "table", "template"):
        flags |= _F_TABLE_SCOPE
    if name in _TABLE_CONTEXT:
        flags |= _F_TABLE_CONTEXT
    if name in _HEADINGS:
        flags |= _F_HEADING
    if name in _MARKERS:
        flags |= _F_MARKER
    return flags


def _scope_flags() -> int:
    return _F_SCOPE | _F_BUTTON_SCOPE | _F_LIST_SCOPE


@dataclass(slots=True)
class MarkupGuard:
    """What :func:`guard_markup` did to a document before it is parsed."""

    text: str  # the markup to parse: the input itself when nothing was changed
    walked: bool  # the page looked suspicious and was walked
    neutralised: int = 0  # start tags made empty comments (a link in SVG: self-closing)
    trimmed: int = 0  # start tags whose attributes beyond the limit were dropped
    closed: int = 0  # formatting elements closed rather than reopened once more
    no_events: bool = False  # a <select> too large for lexbor's option bookkeeping
    depth: int = 0  # most elements the walk saw open at once (after its rewriting)

    @property
    def changed(self) -> bool:
        return self.text_changed or self.no_events

    @property
    def text_changed(self) -> bool:
        return bool(self.neutralised or self.trimmed or self.closed)


def guard_markup(text: str) -> MarkupGuard:
    """Make decoded HTML safe to parse in linear time; normal pages come back unchanged.

    Pages whose markup could make lexbor's tree construction superlinear are walked once
    (:func:`_needs_guard` decides, with ``str.count`` passes); the walk follows the HTML
    tree construction rules and, where the document would go past a limit:

    * a start tag that would open a 513th element (:data:`MAX_NESTING_DEPTH`) becomes an
      empty comment: its content stays, one level up, and its end tag closes what is
      open, as a stray end tag does. ``<a>`` is kept (in SVG it is made self-closing),
      so are void and text elements; ``<template>`` has a limit twice as high;
    * a formatting start tag (``<b>``, ``<font>``...) beyond 64 active ones is
      neutralised the same way;
    * when reopening formatting elements left open would copy more elements or
      attribute text than the page's size allows, end tags for them are inserted instead;
    * attributes after the 256th of a tag are dropped;
    * a ``<select>`` with more than 1024 options switches lexbor's DOM mutation events
      off for the page (``no_events``).

    Pages at most 64 K characters long with at most 1024 "<" are only checked for a
    huge tag: the work any other markup of that size can cause is bounded (measured:
    about 0.1 s and 100 MB at worst; a tag with tens of thousands of attributes and a
    "<" hidden in its values every few K, up to about 2 s).
    """
    if not _needs_guard(text):
        return MarkupGuard(text, walked=False)
    return _guard_walk(text)


def _needs_guard(text: str) -> bool:
    """Whether ``text`` may hold markup that the walk has to defuse.

    A window of 8 K characters without "<" is inside one tag, a comment or text: the
    tag it is in is checked for an attribute flood, or for being a formatting element
    with huge attributes (see guard_markup). Past that, small pages are never walked
    (see guard_markup). On larger ones "<" and "</" are counted in each window: "<"
    minus twice "</" counts start tags left open; a window, or a prefix of the page,
    where they are both many and a large share of the tags means deep nesting or many
    open formatting elements. Void elements, implied end tags and comments count too,
    so when that happens the count is made again without them (``<br``, ``<td``...),
    which ordinary sloppy markup needs and hostile nesting does not change.

    This is a heuristic: markup written to defeat it (stray end tags that balance the
    counts, say) is not caught.
    """
    size = len(text)
    window = _GUARD_WINDOW
    find = text.find
    checked = -1
    for start in range(0, size, window):
        if find("<", start, start + window) < 0:
            tag = text.rfind("<", 0, start)
            if tag > checked:
                checked = tag
                if _suspicious_tag(text, tag):
                    return True
    if size <= _GUARD_FREE_CHARS and text.count("<") <= _GUARD_FREE_TAGS:
        return False
    return _looks_deep(text, text, ()) and _looks_deep(text, text.lower(), _UNNESTING_TAGS)


# Start tags that never nest by themselves (void elements, elements whose end tag is
# implied by the next one) and comments: what ordinary markup leaves "unclosed". (Not
# <option>: a <select> with thousands of them is slow to parse too.)
_UNNESTING_TAGS = (
    "<!",
    *_names("<br <img <input <meta <link <hr <source <wbr"),
    *(f"<{name}{after}" for name in ("p", "li", "td", "th", "tr", "dd", "dt") for after in "> "),
)


def _looks_deep(text: str, lowered: str, unnesting: tuple[str, ...]) -> bool:
    """The window and prefix rules of _needs_guard, not counting ``unnesting`` tags."""
    count = text.count
    total_tags = total_open = 0
    for start in range(0, len(text), _GUARD_WINDOW):
        end = start + _GUARD_WINDOW
        tags = count("<", start, end)
        if not tags:
            continue
        opened = tags - 2 * count("</", start, end)
        for prefix in unnesting:
            opened -= lowered.count(prefix, start, end)
        total_tags += tags
        total_open += opened
        if opened > 128 and 2 * opened >= tags:
            return True
        if total_open > MAX_NESTING_DEPTH and 3 * total_open >= total_tags:
            return True
    return False


def _suspicious_tag(text: str, pos: int) -> bool:
    """Whether the tag at ``pos`` has an attribute flood or is formatting with huge ones."""
    if pos < 0:
        return False
    match = _MARKUP.match(text, pos)
    if match is None:
        # a start tag that runs to the end of the document: its attributes still count
        return text.startswith("<", pos) and _is_ascii_letter(text[pos + 1 : pos + 2])
    name = match.group(2)
    if name is None or match.group(1):
        return False
    attributes = match.group(3)
    if len(attributes) > _GUARD_LONG_ATTRIBUTES and name.lower() in _FORMATTING:
        return True
    return len(attributes) > 2 * _MAX_ATTRIBUTES and _count_attributes(attributes) > (
        _MAX_ATTRIBUTES
    )


def _count_attributes(attributes: str, stop: int = _MAX_ATTRIBUTES + 1) -> int:
    count = 0
    for _ in _ATTRIBUTE.finditer(attributes):
        count += 1
        if count >= stop:
            break
    return count


# Kinds of start and end tags in HTML content, for the walk's dispatch.
_S_GENERIC, _S_VOID, _S_VOID_REOPEN, _S_HR, _S_INPUT, _S_IGNORED, _S_RAW = range(7)
_S_XMP, _S_TEXTAREA, _S_TABLE, _S_TABLE_PART, _S_BLOCK, _S_LI, _S_DD_DT = range(7, 14)
_S_HEADING, _S_FORM, _S_PLAINTEXT, _S_A, _S_NOBR, _S_FORMATTING, _S_BUTTON = range(14, 21)
_S_SELECT, _S_OPTION, _S_RB, _S_RT, _S_FOREIGN, _S_PLAIN_PUSH = range(21, 27)
_START_KINDS: dict[str, int] = {
    **dict.fromkeys(_VOID - {"area", "br", "embed", "img", "image", "keygen", "wbr"}, _S_VOID),
    **dict.fromkeys(("area", "br", "embed", "img", "image", "wbr"), _S_VOID_REOPEN),
    "hr": _S_HR,
    "input": _S_INPUT,
    "keygen": _S_INPUT,
    **dict.fromkeys(_IGNORED, _S_IGNORED),
    **dict.fromkeys(("script", "style", "iframe", "noembed", "noframes", "title"), _S_RAW),
    "xmp": _S_XMP,
    "textarea": _S_TEXTAREA,
    "table": _S_TABLE,
    **dict.fromkeys(_TABLE_PARTS, _S_TABLE_PART),
    **dict.fromkeys(_CLOSES_P - {"li", "dd", "dt", "form", "plaintext", "hr", "xmp"}, _S_BLOCK),
    "li": _S_LI,
    "dd": _S_DD_DT,
    "dt": _S_DD_DT,
    **dict.fromkeys(_HEADINGS, _S_HEADING),
    "form": _S_FORM,
    "plaintext": _S_PLAINTEXT,
    "a": _S_A,
    "nobr": _S_NOBR,
    **dict.fromkeys(_FORMATTING - {"a", "nobr"}, _S_FORMATTING),
    "button": _S_BUTTON,
    "select": _S_SELECT,
    "option": _S_OPTION,
    "optgroup": _S_OPTION,
    "rb": _S_RB,
    "rtc": _S_RB,
    "rp": _S_RT,
    "rt": _S_RT,
    "svg": _S_FOREIGN,
    "math": _S_FOREIGN,
    "template": _S_PLAIN_PUSH,
    "frameset": _S_PLAIN_PUSH,  # (ignored once the body has content: errs high)
}
# Start tags the walk handles on its fast path.
_FAST_KINDS = frozenset(
    {_S_GENERIC, _S_VOID, _S_VOID_REOPEN, _S_HR, _S_INPUT, _S_IGNORED, _S_BLOCK}
)
# Elements whose end tag, when they are the current node, takes more than a pop.
_SLOW_POP = _F_FOREIGN | _F_ENTRY
_SLOW_END = frozenset({"form", "body", "html", "br", "head"})
# Start tags kept even past the nesting limit: those that open nothing, text elements,
# links, <template> (its content must stay inert; it has a limit of its own).
_KEPT_WHEN_DEEP = frozenset(
    {
        _S_VOID,
        _S_VOID_REOPEN,
        _S_HR,
        _S_INPUT,
        _S_IGNORED,
        _S_RAW,
        _S_XMP,
        _S_TEXTAREA,
        _S_PLAINTEXT,
        _S_A,
        _S_PLAIN_PUSH,
    }
)


# Past the nesting limit in HTML content, a run of start tags (and the text between them)
# none of which is kept is neutralised in one go: C-speed work for hostile nesting.
def _trie(words: list[str]) -> str:
    """A regular expression matching exactly ``words``, as a trie (fast in ``re``)."""
    heads: dict[str, list[str]] = {}
    for word in words:
        heads.setdefault(word[0], []).append(word[1:])
    branches = []
    for head, tails in sorted(heads.items()):
        rest = [tail for tail in tails if tail]
        if not rest:
            branches.append(re.escape(head))
        else:
            optional = "?" if len(rest) < len(tails) else ""
            branches.append(f"{re.escape(head)}(?:{_trie(rest)}){optional}")
    return "|".join(branches)


_ANY_TAG_RE = r"<[A-Za-z][^\t\n\f\r />]*+(?:" + _ATTR_RE + r")*+[\t\n\f\r /]*+>"
_ANY_TAG = re.compile(_ANY_TAG_RE)
_DEEP_RUN = re.compile(
    r"(?:[^<]*+(?=<(?!(?i:"
    + _trie([name for name, kind in _START_KINDS.items() if kind in _KEPT_WHEN_DEEP])
    + r")[\t\n\f\r />])[A-Za-z])"
    + _ANY_TAG_RE
    + r")++"
)
_E_OTHER, _E_BLOCK, _E_P, _E_LI, _E_DD_DT, _E_HEADING, _E_FORM = range(7)
_E_FORMATTING, _E_TABLE, _E_SELECT, _E_TEMPLATE, _E_IGNORED = range(7, 12)
_END_KINDS: dict[str, int] = {
    **dict.fromkeys(_BLOCK_END, _E_BLOCK),
    "p": _E_P,
    "li": _E_LI,
    "dd": _E_DD_DT,
    "dt": _E_DD_DT,
    **dict.fromkeys(_HEADINGS, _E_HEADING),
    "form": _E_FORM,
    **dict.fromkeys(_FORMATTING, _E_FORMATTING),
    **dict.fromkeys(_TABLE_PARTS | {"table"}, _E_TABLE),
    "select": _E_SELECT,
    "template": _E_TEMPLATE,
    **dict.fromkeys(("body", "html", "br", "head"), _E_IGNORED),
}


class _Entry:
    """An entry of the list of active formatting elements (a marker is a new segment)."""

    __slots__ = ("attached", "attributes", "name", "slot")

    def __init__(self, name: str, attributes: str, slot: int) -> None:
        self.name = name
        self.attributes = attributes  # raw attribute text: Noah's Ark compares these
        self.slot = slot  # index on the stack of open elements; -1 when not open
        self.attached = False  # a clone made by the adoption agency, just above ``slot``


def _guard_walk(text: str) -> MarkupGuard:
    """Walk ``text`` like the HTML tree builder and rewrite what exceeds the limits.

    The model keeps the stack of open elements (names, flags, the slots of each name and
    of each kind of scope boundary, so that every scope check is O(1)) and the list of
    active formatting elements; the insertion mode inside tables is read off the stack.
    It follows the tree construction rules that decide how deep the stack gets and how
    long the list is; where it simplifies, it keeps elements open rather than closing
    them, so its counts err high. Every token costs O(1) amortised.
    """
    guard = MarkupGuard(text, walked=True)
    names: list[str] = []
    flags: list[int] = []
    where: dict[str, list[int]] = {}
    bounds: dict[int, list[int]] = {bit: [] for bit in _BOUNDARY_FLAGS}
    html_at = bounds[_F_HTML]
    special_at = bounds[_F_SPECIAL]
    special_li_at = bounds[_F_SPECIAL_LI]
    scope_at = bounds[_F_SCOPE]
    button_at = bounds[_F_BUTTON_SCOPE]
    list_at = bounds[_F_LIST_SCOPE]
    table_at = bounds[_F_TABLE_SCOPE]
    context_at = bounds[_F_TABLE_CONTEXT]
    heading_at = bounds[_F_HEADING]
    bound_lists: dict[int, tuple[list[int], ...]] = {}
    element_flags: dict[str, int] = {}
    segments: list[list[_Entry]] = [[]]  # list of active formatting elements, by marker
    entry_at: dict[int, _Entry] = {}
    attached: dict[int, list[_Entry]] = {}
    edits: list[tuple[int, int, str]] = []
    options: dict[int, int] = {}  # <select> slot -> its options
    column_templates: set[int] = set()  # templates whose content began with <col>
    form_slot = -1  # the form element pointer: a slot, -2 once popped, -1 when unset
    clones = clone_chars = 0
    clone_budget = 4096 + len(text) // 16
    clone_chars_budget = 65536 + len(text)

    def flags_of(name: str) -> int:
        value = element_flags.get(name)
        if value is None:
            value = element_flags[name] = _element_flags(name)
        return value

    def lists_of(value: int) -> tuple[list[int], ...]:
        lists = bound_lists.get(value)
        if lists is None:
            lists = bound_lists[value] = tuple(bounds[bit] for bit in bounds if value & bit)
        return lists

    def push(name: str, value: int) -> int:
        slot = len(names)
        if slot >= guard.depth:
            guard.depth = slot + 1
        names.append(name)
        flags.append(value)
        slots = where.get(name)
        if slots is None:
            where[name] = [slot]
        else:
            slots.append(slot)
        for lst in lists_of(value & ~_F_ENTRY):
            lst.append(slot)
        if value & _F_MARKER:
            segments.append([])
        return slot

    def pop_to(slot: int) -> None:
        """Pop every element from ``slot`` up."""
        nonlocal form_slot
        while len(names) > slot:
            top = len(names) - 1
            value = flags.pop()
            where[names.pop()].pop()
            for lst in lists_of(value & ~_F_ENTRY):
                lst.pop()
            if value & _F_ENTRY:
                entry_at.pop(top).slot = -1
            if value & _F_MARKER:
                segments.pop()
            if attached:
                for entry in attached.pop(top, ()):
                    entry.slot = -1
                    entry.attached = False
            if top == form_slot:
                form_slot = -2
            if column_templates:
                column_templates.discard(top)
            if options:
                options.pop(top, None)

    def in_scope(name: str, boundaries: list[int]) -> int:
        """Slot of the innermost ``name`` if it is in the scope ``boundaries`` define."""
        slots = where.get(name)
        if slots and slots[-1] >= boundaries[-1]:
            return slots[-1]
        return -1

    def close_p() -> None:
        slots = where.get("p")
        if slots and slots[-1] > button_at[-1]:
            pop_to(slots[-1])

    def detach(entry: _Entry) -> None:
        segment = segments[-1]
        for k in range(len(segment) - 1, -1, -1):
            if segment[k] is entry:
                del segment[k]
                break
        if entry.attached:
            attached[entry.slot].remove(entry)
            entry.attached = False
        elif entry.slot >= 0:
            del entry_at[entry.slot]
            flags[entry.slot] &= ~_F_ENTRY
        entry.slot = -1

    def last_entry(name: str) -> _Entry | None:
        segment = segments[-1]
        for k in range(len(segment) - 1, -1, -1):
            if segment[k].name == name:
                return segment[k]
        return None

    def reconstruct(at: int) -> None:
        """Reopen the formatting elements left open, or close them if over budget."""
        nonlocal clones, clone_chars
        segment = segments[-1]
        if not segment or segment[-1].slot >= 0:
            return
        first = len(segment) - 1
        while first > 0 and segment[first - 1].slot < 0:
            first -= 1
        run = segment[first:]
        size = sum(len(entry.attributes) for entry in run)
        if clones + len(run) > clone_budget or clone_chars + size > clone_chars_budget:
            # An end tag removes a formatting element that is not open from the list.
            edits.append((at, at, "".join(f"</{entry.name}>" for entry in reversed(run))))
            guard.closed += len(run)
            del segment[first:]
            return
        clones += len(run)
        clone_chars += size
        for entry in run:
            entry.slot = push(entry.name, flags_of(entry.name) | _F_ENTRY)
            entry_at[entry.slot] = entry

    def end_any(name: str) -> None:
        """The "any other end tag" steps."""
        slots = where.get(name)
        if slots and slots[-1] >= special_at[-1]:
            pop_to(slots[-1])

    def adoption(name: str) -> None:
        """The adoption agency algorithm, as far as the stack's depth goes."""
        top = len(names) - 1
        if names[top] == name and not flags[top] & _F_ENTRY:
            pop_to(top)
            return
        for _ in range(8):
            entry = last_entry(name)
            if entry is None:
                end_any(name)
                return
            slot = entry.slot
            if slot < 0:
                detach(entry)
                return
            if slot < scope_at[-1]:
                return  # not in scope: ignored
            k = bisect_right(special_at, slot)
            if k == len(special_at):
                own = not entry.attached
                detach(entry)
                pop_to(slot if own else slot + 1)
                return
            # The element moves below the furthest block: its old place stays (as a plain
            # element, so the depth errs high) and it stays open with that block.
            if entry.attached:
                attached[slot].remove(entry)
            else:
                del entry_at[slot]
                flags[slot] &= ~_F_ENTRY
            entry.slot = special_at[k]
            entry.attached = True
            attached.setdefault(entry.slot, []).append(entry)

    def neutralise(start: int, end: int) -> None:
        """Replace the tag at ``start:end`` by an empty comment."""
        if edits and edits[-1][1] == start and edits[-1][2] is _NEUTRAL:
            edits[-1] = (edits[-1][0], end, _NEUTRAL)  # one comment for a run of tags
        else:
            edits.append((start, end, _NEUTRAL))
        guard.neutralised += 1

    def trim(match: re.Match[str]) -> str:
        """Drop the attributes of the start tag ``match`` after the limit's."""
        attributes = match.group(3)
        for kept, attribute in enumerate(_ATTRIBUTE.finditer(attributes), 1):
            if kept == _MAX_ATTRIBUTES:
                edits.append((match.start(3) + attribute.end(), match.end(3), ""))
                guard.trimmed += 1
                return attributes[: attribute.end()]
        return attributes

    def skip_text(name: str, end: int) -> int:
        """Where markup resumes after the text element ``name`` whose start tag ends at
        ``end``: after its end tag, or just after the start tag when there is none (were
        the walk wrong about the element, the rest must still be looked at).
        """
        closing = _RAW_TEXT_END[name].search(text, end)
        tag = None if closing is None else _MARKUP.match(text, closing.start())
        return end if tag is None else tag.end()

    def font_breaks_out(attributes: str) -> bool:
        for attribute in _ATTRIBUTE.finditer(attributes):
            name = attribute.group().lstrip("\t\n\f\r /").partition("=")[0].strip(_ASCII_WS)
            if _FONT_ATTRIBUTE.match(name):
                return True
        return False

    push("html", flags_of("html"))
    limit = MAX_NESTING_DEPTH
    pos = 0
    search = _MARKUP.search
    start_kinds = _START_KINDS
    end_kinds = _END_KINDS
    match: re.Match[str] | None = None
    while True:
        if (
            len(names) >= limit
            and not flags[-1] & _F_FOREIGN
            and not (segments[-1] and segments[-1][-1].slot < 0)  # (text reopens nothing)
        ):
            run = _DEEP_RUN.match(text, pos)
            if run is not None:
                replaced, count = _ANY_TAG.subn(_NEUTRAL, run.group())
                edits.append((pos, run.end(), replaced))
                guard.neutralised += count
                pos = run.end()
        match = search(text, pos)
        if match is None:
            break
        start = match.start()
        # Text reopens the formatting elements left open (not whitespace in a table).
        if (
            start > pos
            and segments[-1]
            and segments[-1][-1].slot < 0
            and (names[context_at[-1]] not in _IN_TABLE_MODES or text[pos:start].strip(_ASCII_WS))
        ):
            reconstruct(pos)
        slash, raw_name, attributes, tail, comment = match.groups()
        end = pos = match.end()
        if raw_name is None:  # comment, bogus comment or CDATA section
            if comment:
                if text.startswith(">", start + 4):
                    pos = start + 5
                elif text.startswith("->", start + 4):
                    pos = start + 6
                else:
                    found = _COMMENT_END.search(text, start + 4)
                    # (unterminated: the rest is a comment, if this really is one)
                    pos = start + 4 if found is None else found.end()
                continue
            closer = ">"
            if flags[-1] & _F_FOREIGN and text.startswith("<![CDATA[", start):
                closer = "]]>"
            found_at = text.find(closer, start + 2)
            pos = start + 2 if found_at < 0 else found_at + len(closer)
            continue
        name = raw_name.lower()
        top_flags = flags[-1]
        if slash:
            # ------------------------------------------------------------------ end tag
            if names[-1] == name and not top_flags & _SLOW_POP and name not in _SLOW_END:
                pop_to(len(names) - 1)  # (the usual case: the end tag of the current node)
                continue
            if top_flags & _F_FOREIGN:
                if name in ("br", "p"):  # leave the SVG or MathML, then as in HTML
                    while flags[-1] & _F_FOREIGN and not flags[-1] & (
                        _F_HTML_POINT | _F_TEXT_POINT
                    ):
                        pop_to(len(names) - 1)
                else:
                    svg, mathml = where.get("~" + name), where.get("^" + name)
                    slot = max(svg[-1] if svg else -1, mathml[-1] if mathml else -1)
                    if slot > html_at[-1]:
                        pop_to(slot)
                        continue
            if column_templates and len(names) - 1 in column_templates and name != "template":
                continue  # (a template of columns ignores the rest)
            if names[-1] == "colgroup" and name != "colgroup":
                pop_to(len(names) - 1)
            kind = end_kinds.get(name, _E_OTHER)
            slot = -1
            if kind == _E_OTHER:
                end_any(name)
            elif kind in (_E_BLOCK, _E_DD_DT):
                slot = in_scope(name, scope_at)
            elif kind == _E_P:
                slot = in_scope("p", button_at)
            elif kind == _E_LI:
                slot = in_scope("li", list_at)
            elif kind == _E_HEADING:
                if heading_at and heading_at[-1] > scope_at[-1]:
                    slot = heading_at[-1]
            elif kind == _E_FORMATTING:
                adoption(name)
            elif kind == _E_TABLE:
                if name == "colgroup":
                    if names[-1] == "colgroup":
                        slot = len(names) - 1
                elif name != "col":
                    slot = in_scope(name, table_at)
            elif kind == _E_FORM:
                if where.get("template"):
                    slot = in_scope("form", scope_at)
                else:
                    # (a form closed out of order stays open: the depth errs high)
                    if form_slot == len(names) - 1 and form_slot > scope_at[-1]:
                        slot = form_slot
                    form_slot = -1
            elif kind == _E_SELECT:
                slot = in_scope("select", scope_at)
            elif kind == _E_TEMPLATE:
                templates = where.get("template")
                if templates:
                    slot = templates[-1]
            if slot >= 0:
                pop_to(slot)
            continue
        # -------------------------------------------------------------------- start tag
        if not top_flags & _F_FOREIGN:
            kind = start_kinds.get(name, _S_GENERIC)
            if len(names) >= limit:
                if kind not in _KEPT_WHEN_DEEP:
                    neutralise(start, end)  # (the common case of hostile nesting)
                    continue
            elif kind in _FAST_KINDS and names[-1] != "colgroup" and not column_templates:
                # The usual cases: elements that open nothing, and ordinary elements.
                if kind == _S_GENERIC:
                    reconstruct(start)
                elif kind == _S_BLOCK:
                    close_p()
                else:
                    if kind == _S_HR:
                        close_p()
                    elif kind == _S_INPUT:
                        slot = in_scope("select", scope_at)
                        if slot >= 0:
                            pop_to(slot)
                        reconstruct(start)
                    elif kind == _S_VOID_REOPEN:
                        reconstruct(start)
                    if len(attributes) > 2 * _MAX_ATTRIBUTES:
                        trim(match)
                    continue
                if len(attributes) > 2 * _MAX_ATTRIBUTES:
                    trim(match)
                push(name, element_flags.get(name) or flags_of(name))
                continue
        if len(attributes) > 2 * _MAX_ATTRIBUTES:
            attributes = trim(match)
        if column_templates and len(names) - 1 in column_templates and name != "template":
            continue  # a template of columns ignores everything but <col> and <template>
        breakout = False
        if top_flags & _F_FOREIGN and not (
            top_flags & _F_HTML_POINT
            or (top_flags & _F_TEXT_POINT and name not in ("mglyph", "malignmark"))
            or (name == "svg" and names[-1] == "^annotation-xml")
        ):
            if not (name in _BREAKOUT or (name == "font" and font_breaks_out(attributes))):
                if not tail.endswith("/"):
                    foreign = names[-1][0] + name  # the current node's namespace
                    if len(names) >= limit:
                        if name == "a":  # keep the link, without its content
                            edits.append((end - 1, end - 1, " /"))
                            guard.neutralised += 1
                        else:
                            neutralise(start, end)
                        continue
                    value = flags_of(foreign)
                    if foreign == "^annotation-xml" and _HTML_ENCODING.search(attributes):
                        value |= _F_HTML_POINT
                    push(foreign, value)
                continue
            breakout = True
        kind = start_kinds.get(name, _S_GENERIC)
        # What is neutralised must have had no effect on the model: decide first.
        if kind == _S_GENERIC or (kind > _S_TEXTAREA and kind != _S_PLAINTEXT):
            depth = len(names)
            if (depth >= limit and kind != _S_A and (name != "template" or depth >= 2 * limit)) or (
                kind in (_S_FORMATTING, _S_NOBR) and len(segments[-1]) >= _MAX_FORMATTING
            ):
                neutralise(start, end)
                continue
        if breakout:  # leave the SVG or MathML
            while flags[-1] & _F_FOREIGN and not flags[-1] & (_F_HTML_POINT | _F_TEXT_POINT):
                pop_to(len(names) - 1)
        if names[-1] == "colgroup" and name not in ("col", "template"):
            pop_to(len(names) - 1)
        if kind <= _S_RAW:  # elements that do not stay open
            if kind == _S_GENERIC:
                pass
            elif kind == _S_VOID_REOPEN:
                reconstruct(start)
                continue
            elif kind == _S_RAW:
                pos = skip_text(name, end)
                continue
            else:
                if kind == _S_HR:
                    close_p()
                elif kind == _S_INPUT:
                    slot = in_scope("select", scope_at)
                    if slot >= 0:
                        pop_to(slot)
                    reconstruct(start)
                continue
        elif kind in (_S_XMP, _S_TEXTAREA):
            if kind == _S_XMP:
                close_p()
                reconstruct(start)
            pos = skip_text(name, end)
            continue
        if kind == _S_GENERIC:
            reconstruct(start)
            slot = len(names)
            if slot >= guard.depth:
                guard.depth = slot + 1
            names.append(name)
            value = element_flags.get(name) or flags_of(name)
            flags.append(value)
            slots = where.get(name)
            if slots is None:
                where[name] = [slot]
            else:
                slots.append(slot)
            for lst in lists_of(value):
                lst.append(slot)
            if value & _F_MARKER:
                segments.append([])
        elif kind == _S_BLOCK:
            close_p()
            push(name, flags_of(name))
        elif kind in (_S_A, _S_NOBR, _S_FORMATTING):
            if kind == _S_A:
                segment = segments[-1]
                previous = segment[-1] if segment else None
                if (
                    previous is not None
                    and previous.name == "a"
                    and previous.slot == len(names) - 1
                    and not previous.attached
                ):
                    # An unclosed link closed by the next one: the adoption agency pops it.
                    segment.pop()
                    pop_to(previous.slot)
                else:
                    previous = last_entry("a")
                    if previous is not None:
                        adoption("a")
                        if last_entry("a") is previous:
                            detach(previous)
            elif kind == _S_NOBR:
                reconstruct(start)
                if in_scope("nobr", scope_at) >= 0:
                    adoption("nobr")
            reconstruct(start)
            segment = segments[-1]
            if kind != _S_A:  # (at most one <a> is active after the last marker)
                same = [e for e in segment if e.name == name and e.attributes == attributes]
                if len(same) >= 3:  # Noah's Ark: at most three identical entries
                    detach(same[0])
            entry = _Entry(name, attributes, push(name, flags_of(name) | _F_ENTRY))
            segment.append(entry)
            entry_at[entry.slot] = entry
        elif kind in (_S_TABLE, _S_TABLE_PART):
            table = table_at[-1]
            if kind == _S_TABLE:
                if names[context_at[-1]] in _IN_TABLE_MODES and names[table] == "table":
                    pop_to(table)  # a table in a table closes it
                push("table", flags_of("table"))
            elif names[table] == "template":
                if name != "col":
                    push(name, flags_of(name))
                elif names[-1] == "template":
                    column_templates.add(len(names) - 1)
            elif names[table] == "table":  # (outside tables these are ignored)
                anchor = table
                cell_or_row = name in ("td", "th", "tr")
                if cell_or_row:
                    for k in range(len(context_at) - 1, -1, -1):
                        slot = context_at[k]
                        if slot <= table:
                            break
                        if names[slot] in _TABLE_SECTIONS or (names[slot] == "tr" and name != "tr"):
                            anchor = slot
                            break
                pop_to(anchor + 1)
                if cell_or_row:
                    if names[anchor] == "table":
                        push("tbody", flags_of("tbody"))
                        if name != "tr":
                            push("tr", flags_of("tr"))
                    elif names[anchor] != "tr" and name != "tr":
                        push("tr", flags_of("tr"))
                    push(name, flags_of(name))
                else:
                    part = "colgroup" if name == "col" else name
                    push(part, flags_of(part))
        elif kind == _S_LI:
            close_p()
            slots = where.get("li")
            if slots and slots[-1] >= special_li_at[-1]:
                pop_to(slots[-1])
            push(name, flags_of(name))
        elif kind == _S_DD_DT:
            close_p()
            dd, dt = where.get("dd"), where.get("dt")
            slot = max(dd[-1] if dd else -1, dt[-1] if dt else -1)
            if slot >= 0 and slot >= special_li_at[-1]:
                pop_to(slot)
            push(name, flags_of(name))
        elif kind == _S_HEADING:
            close_p()
            if flags[-1] & _F_HEADING:
                pop_to(len(names) - 1)
            push(name, flags_of(name))
        elif kind == _S_FORM:
            if form_slot != -1 and not where.get("template"):
                continue  # a form inside a form is ignored
            close_p()
            form_slot = len(names)
            push(name, flags_of(name))
        elif kind == _S_PLAINTEXT:
            # The rest of the document is text, but is walked on anyway: were the walk
            # wrong about the context, it would be markup.
            close_p()
            push(name, flags_of(name))
        elif kind == _S_BUTTON:
            slot = in_scope("button", scope_at)
            if slot >= 0:
                pop_to(slot)
            reconstruct(start)
            push(name, flags_of(name))
        elif kind == _S_SELECT:
            slot = in_scope("select", scope_at)
            if slot >= 0:  # a select in a select closes it
                pop_to(slot)
                continue
            reconstruct(start)
            push(name, flags_of(name))
        elif kind == _S_OPTION:
            if names[-1] == "option":
                pop_to(len(names) - 1)
            selects = where.get("select")
            if selects and not guard.no_events:
                count = options[selects[-1]] = options.get(selects[-1], 0) + 1
                guard.no_events = count > _MAX_OPTIONS
            reconstruct(start)
            push(name, flags_of(name))
        elif kind in (_S_RB, _S_RT):
            if in_scope("ruby", scope_at) >= 0:
                implied = ("rb", "rp", "rt", "rtc") if kind == _S_RB else ("rb", "rp", "rt")
                while names[-1] in implied:
                    pop_to(len(names) - 1)
            push(name, flags_of(name))
        elif kind == _S_FOREIGN:
            reconstruct(start)
            if not tail.endswith("/"):
                foreign = ("~" if name == "svg" else "^") + name
                push(foreign, flags_of(foreign))
        else:  # _S_PLAIN_PUSH
            push(name, flags_of(name))
    if match is None:
        _drop_unterminated_flood(text, pos, guard, edits)
    if edits:
        guard.text = _apply_edits(text, edits)
    return guard


def _drop_unterminated_flood(
    text: str, pos: int, guard: MarkupGuard, edits: list[tuple[int, int, str]]
) -> None:
    """Drop a start tag that runs to the end of the document with an attribute flood.

    The tokenizer drops such a tag (EOF in a tag) but still reads its attributes one by
    one; cutting the document before it gives the same tree.
    """
    # No "<" after ``pos`` starts markup that ends, so the first "<" and letter is it.
    start = text.find("<", pos)
    while start >= 0 and not _is_ascii_letter(text[start + 1 : start + 2]):
        start = text.find("<", start + 1)
    if start < 0 or len(text) - start <= 2 * _MAX_ATTRIBUTES:
        return
    if _count_attributes(text[start:]) > _MAX_ATTRIBUTES:
        edits.append((start, len(text), ""))
        guard.trimmed += 1


def _is_ascii_letter(char: str) -> bool:
    return char.isascii() and char.isalpha()


def _apply_edits(text: str, edits: list[tuple[int, int, str]]) -> str:
    """``text`` with each (start, end, replacement) applied; later overlapping ones lose."""
    edits.sort(key=lambda edit: (edit[0], edit[1]))
    parts: list[str] = []
    last = 0
    for start, end, replacement in edits:
        if start < last:
            continue  # inside a tag that was already replaced
        parts.append(text[last:start])
        parts.append(replacement)
        last = end
    parts.append(text[last:])
    return "".join(parts)
