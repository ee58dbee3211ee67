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
* Only the first ``Link: rel=canonical`` header, else the first ``<link rel=canonical>``
  element, is looked at; if its target is not a valid http(s) URL the page has no
  canonical (the next candidate is not tried). Likewise the first meta refresh with a
  ``content``. A title that is empty after collapsing is ``None``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache
from typing import TYPE_CHECKING

from charset_normalizer import from_bytes
from selectolax.lexbor import LexborHTMLParser
from w3lib.encoding import html_to_unicode, resolve_encoding

from linkcrawl.urls import DEFAULT_STRIP_QUERY_PARAMS, UnsupportedScheme, URLError, canonicalize

if TYPE_CHECKING:
    from collections.abc import Iterator, Mapping, Sequence

    from selectolax.lexbor import LexborNode

__all__ = [
    "LINK_TYPES",
    "Link",
    "PageFacts",
    "extract",
    "parse_link_header_canonical",
    "parse_meta_refresh",
    "redirect_link",
]

LINK_TYPES = ("a", "area", "redirect", "canonical", "refresh")

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
    tree = LexborHTMLParser(text)

    anchors: list[tuple[LexborNode, str]] = []
    base_href: str | None = None
    title: str | None = None
    canonical_href: str | None = None
    refresh_content: str | None = None
    robots: list[str] = []
    base_seen = title_seen = canonical_seen = False
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
            if name is not None and name.strip(_ASCII_WS).lower() == "robots":
                robots.append(content)
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
            if rel and "canonical" in _split_rel(rel) and not _in_foreign_content(node):
                canonical_seen = True
                canonical_href = attrs.get("href") or ""
        elif tag == "title":
            if not title_seen and not _in_foreign_content(node):
                title_seen = True
                collapsed = _collapse_prefix(node.text(), TITLE_MAX_CHARS)
                title = collapsed[:TITLE_MAX_CHARS] or None
        elif tag == "base" and not base_seen and not _in_foreign_content(node):
            base_seen = True
            base_href = node.attributes.get("href") or ""

    page_url = _canonical_or_none(url, None, strip_params) or url
    base_url = url
    if base_href is not None:
        base_url = _canonical_or_none(base_href, url, strip_params) or url

    # The <img> elements inside links, by their nearest enclosing <a>: one more selector
    # query is cheaper than walking every link's subtree.
    link_images: dict[int, list[LexborNode]] = {}
    if anchors:
        for img in tree.css("a img"):
            parent = img.parent
            while parent is not None and parent.tag != "a":
                parent = parent.parent
            if parent is not None:
                link_images.setdefault(parent.mem_id, []).append(img)

    links, fragment_links, non_http_links, invalid_links = _anchor_links(
        anchors,
        link_images,
        base_url,
        strip_params=strip_params,
        anchor_max_chars=anchor_max_chars,
        text_budget=len(text),
    )

    # Page-level robots directives: all <meta name=robots>, the X-Robots-Tag values for us.
    x_robots = list(headers.get("x-robots-tag") or ())
    agents = {"linkcrawl", bot_name.strip().lower()}
    ours = (_x_robots_directives(value, agents) for value in x_robots)
    nofollow, noindex = _robots_flags([*robots, *(d for d in ours if d is not None)])

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


def _in_foreign_content(node: LexborNode) -> bool:
    """Whether ``node`` sits inside inline SVG or MathML (so it is not an HTML element)."""
    parent = node.parent
    while parent is not None:
        if parent.tag in ("svg", "math"):
            return True
        parent = parent.parent
    return False


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
