"""The test web: a deterministic synthetic multi-host web that knows its own answers.

Every response is rendered on request from ``(seed, host, path)``: nothing is stored, so a
200,000-page web costs the same memory as a 2,000-page one. Random choices come from
``random.Random(xxh3_64(f"{seed}:{key}"))``, one generator per page, so a page's bytes depend
only on the configuration and its URL.

The generator chooses every link's *target* first (a canonical URL, ``docs/rules.md``
section 1) and only then renders an ``href`` for it, possibly in a non-canonical form
(upper-case host, ``:80``, tracking parameters, ``%7E`` escapes, ``../``, a fragment ...).
That is how :meth:`TestWeb.expected_edges` and :meth:`TestWeb.expected_pages` know what a
crawler obeying ``docs/rules.md`` must find, without calling ``linkcrawl.urls`` or
``linkcrawl.links``. ``docs/testweb.md`` lists where each feature lives.
"""

from __future__ import annotations

import contextlib
import gzip
import html
import itertools
import math
import random
import re
import struct
import zlib
from collections import deque
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import partial
from typing import TYPE_CHECKING, Final
from urllib.parse import urlsplit

import xxhash

if TYPE_CHECKING:
    from collections.abc import Callable, Iterable, Iterator

__all__ = [
    "ANCHOR_MAX_CHARS",
    "BOT_NAME",
    "SITEMAP_DISCOVERY_MODES",
    "ExpectedEdge",
    "ExpectedPage",
    "TestResponse",
    "TestWeb",
    "TestWebConfig",
]

# --- fixed shape of the web -------------------------------------------------------------

#: ``LINKCRAWL_ANCHOR_MAX_CHARS`` default the expected anchors are capped at.
ANCHOR_MAX_CHARS: Final = 256
#: ``LINKCRAWL_BOT_NAME`` default the robots rules are evaluated for.
BOT_NAME: Final = "linkcrawl"
#: Content pages listed on one ``/index/N`` page.
INDEX_PAGE_SIZE: Final = 50
#: Content pages of the small host whose robots.txt asks for ``Crawl-delay: 0.5``.
SLOW_HOST_PAGES: Final = 10
#: The slow host's robots.txt ``Crawl-delay`` in seconds.
SLOW_HOST_CRAWL_DELAY: Final = 0.5
#: Smallest number of content pages of every other host (fixtures link to ``/p/0`` .. ``/p/19``).
MIN_PAGES_PER_HOST: Final = 20
MIN_HOSTS: Final = 9
MAX_HOSTS: Final = 999
MAX_PAGES: Final = 100_000_000
#: The oversize page is this many bytes longer than ``oversize_bytes``.
OVERSIZE_SLACK: Final = 64 * 1024
#: The calendar trap's entry month, linked from the trap host's home page.
TRAP_ENTRY: Final = (2024, 6)

IDN_ASCII: Final = "xn--bcher-kva.test"
IDN_UNICODE: Final = "bücher.test"
SLOW_HOST: Final = "slow.test"

# Host roles: index in TestWeb.hosts of the host that carries each group of fixtures.
ZOO, REDIRECTS, CANONICAL, WWW, BLOG, IDN, FILES, TRAP = range(8)
#: The host whose robots.txt names sitemaps (index, gzip, text, malformed) and the host
#: that serves one at the default place ``/sitemap.xml`` without naming it.
SITEMAP_HOST: Final = FILES
DEFAULT_SITEMAP_HOST: Final = CANONICAL
#: The host whose ``/robots.txt`` answers 404 (RFC 9309 "unavailable": everything allowed),
#: with a body that would disallow everything if a crawler read it as a robots.txt.
ROBOTS_404_HOST: Final = TRAP
#: The host whose ``/robots.txt`` answers 503 during a robots outage (``respond(url,
#: robots_outage=True)``; the server's ``POST /_testweb/robots_down``), as RFC 9309's
#: "unreachable": nothing of it may be fetched until it answers again.
ROBOTS_503_HOST: Final = REDIRECTS
#: ``SITEMAP_DISCOVERY`` values :meth:`TestWeb.expected_pages` understands.
SITEMAP_DISCOVERY_MODES: Final = ("off", "robots", "robots+default")

_HTML_UTF8: Final = "text/html; charset=utf-8"
_TEXT_UTF8: Final = "text/plain; charset=utf-8"
#: The 404 body of ``ROBOTS_404_HOST``'s robots.txt: read as a robots.txt it forbids all.
_ROBOTS_404_BODY: Final = b"User-agent: *\nDisallow: /\n"
#: The 503 body of ``ROBOTS_503_HOST``'s robots.txt during an outage: read as a robots.txt
#: it allows all, so a crawler that parsed it would fetch the host's pages too early.
_ROBOTS_503_BODY: Final = b"User-agent: *\nAllow: /\n"
_ASCII_WS: Final = " \t\n\f\r"
_TRAP_RE: Final = re.compile(r"/calendar/(\d{4})/(\d{2})")
_DIGITS_RE: Final = re.compile(r"0|[1-9][0-9]*")
_WS_RE: Final = re.compile(f"[{_ASCII_WS}]+")

_WORD_TEXT: Final = (
    "river stone garden window market engine signal harbor meadow lantern copper "
    "forest bridge candle orbit pixel thunder velvet canyon falcon glacier island "
    "journal kettle ladder marble nectar oyster pepper quartz ribbon saddle timber "
    "umbrella valley walnut yonder zephyr anchor beacon cactus dynamo ember fabric "
    "gadget hollow ivory jigsaw kernel lagoon mosaic nimbus opal prism quiver rocket "
    "summit tundra update vortex willow xenon yarrow zenith atlas border cipher delta"
)
_WORD_TEXT_DE: Final = (
    "bücher über größe straße mädchen käse öl tür brücke schön grün fluss wald "
    "märchen stühle küche höhe fähre löwe bär übung zeitung garten stadt"
)
_WORDS: Final = tuple(_WORD_TEXT.split())
_WORDS_DE: Final = tuple(_WORD_TEXT_DE.split())
_PHRASES: Final = (
    "read more",
    "click here",
    "this article",
    "full story",
    "details",
    "see also",
    "continue reading",
    "source",
)
_REL_VARIANTS: Final = (
    "nofollow",
    "sponsored",
    "ugc",
    "ugc nofollow",
    "NoFollow",
    "nofollow nofollow",
    "  UGC\tNoFollow ugc ",
    "noopener noreferrer",
    "sponsored nofollow",
    "external",
)
_TRACKING_SUFFIXES: Final = (
    "utm_source=newsletter&utm_medium=email&utm_campaign=spring",
    "gclid=Cj0KCQiA-linkcrawl",
    "fbclid=IwAR0linkcrawl",
    "utm_source=feed",
)


# --- public records -----------------------------------------------------------------------


@dataclass(frozen=True)
class TestWebConfig:
    """Size and seed of a test web; everything else follows from these values."""

    __test__ = False  # not a pytest test class

    pages: int = 2000
    hosts: int = 20
    seed: int = 0
    oversize_bytes: int = 6 * 2**20

    def __post_init__(self) -> None:
        for name in ("pages", "hosts", "seed", "oversize_bytes"):
            value = getattr(self, name)
            if not isinstance(value, int) or isinstance(value, bool):
                raise TypeError(f"{name} must be an int, got {value!r}")
        if not MIN_HOSTS <= self.hosts <= MAX_HOSTS:
            raise ValueError(f"hosts must be between {MIN_HOSTS} and {MAX_HOSTS}, got {self.hosts}")
        least = SLOW_HOST_PAGES + MIN_PAGES_PER_HOST * (self.hosts - 1)
        if not least <= self.pages <= MAX_PAGES:
            raise ValueError(
                f"pages must be between {least} and {MAX_PAGES} for {self.hosts} hosts, "
                f"got {self.pages}"
            )
        if self.seed < 0:
            raise ValueError(f"seed must be >= 0, got {self.seed}")
        if not 1024 <= self.oversize_bytes <= 2**31:
            raise ValueError(
                f"oversize_bytes must be between 1024 and 2**31, got {self.oversize_bytes}"
            )


@dataclass(frozen=True)
class TestResponse:
    """What the server sends for one URL. ``body`` is bytes, or an iterator of byte chunks
    for the streamed oversize page (sent chunked unless ``headers`` has a Content-Length)."""

    __test__ = False  # not a pytest test class

    status: int
    headers: list[tuple[str, str]]
    body: bytes | Iterator[bytes]

    def header(self, name: str) -> str | None:
        """The first value of header ``name`` (case-insensitive), or None."""
        lname = name.lower()
        return next((v for k, v in self.headers if k.lower() == lname), None)

    def read(self) -> bytes:
        """The whole body (consumes a streamed body)."""
        return self.body if isinstance(self.body, bytes) else b"".join(self.body)


@dataclass(frozen=True)
class ExpectedPage:
    """One URL a crawler obeying ``docs/rules.md`` fetches, and what it gets.

    ``content_type`` is the media type without parameters (``text/html``), None when the
    response has no Content-Type or has no status (``error="oversize"``). ``depth`` is the
    shortest number of link/redirect hops from a seed. ``canonical`` is the page's declared
    canonical URL (also when it equals the page URL); ``nofollow``/``noindex`` its page-level
    robots directives; ``redirect_target`` the canonical ``Location`` of a redirect.
    """

    url: str
    status: int | None
    content_type: str | None
    kind: str
    host: str
    error: str | None = None
    depth: int = 0
    redirect_target: str | None = None
    canonical: str | None = None
    nofollow: bool = False
    noindex: bool = False


@dataclass(frozen=True)
class ExpectedEdge:
    """One edge row the extractor emits (``docs/rules.md`` section 2 and 3)."""

    source_url: str
    target_url: str
    link_type: str  # a | area | canonical | refresh | redirect | sitemap
    anchor_text: str | None
    rel: tuple[str, ...]
    nofollow: bool
    sponsored: bool
    ugc: bool
    page_nofollow: bool
    image: bool
    position: int | None
    http_status: int | None
    lastmod: datetime | None = None  # a sitemap entry's <lastmod>, UTC


# --- internal building blocks ------------------------------------------------------------


@dataclass(frozen=True)
class _Url:
    """A canonical http URL split in parts (path and query already canonical)."""

    host: str
    path: str = "/"
    query: str = ""

    def __str__(self) -> str:
        return f"http://{self.host}{self.path}" + (f"?{self.query}" if self.query else "")

    @property
    def dir(self) -> str:
        return self.path[: self.path.rfind("/") + 1]


@dataclass(frozen=True)
class _Edge:
    target: str
    link_type: str
    anchor: str | None = None
    rel: tuple[str, ...] = ()
    image: bool = False
    http_status: int | None = None
    lastmod: datetime | None = None


@dataclass(frozen=True)
class _Label:
    """Inner markup of a link, its text content, and the ``alt`` of each ``<img>`` in it."""

    html: str
    text: str
    alts: tuple[str | None, ...] = ()


@dataclass(frozen=True)
class _Canon:
    """A canonical fixture: ``<link rel=canonical>`` and/or ``Link`` header, and the answer."""

    path: str
    element: str | None
    header: str | None
    target: str  # canonical path the page declares
    base: str | None = None
    label: str | None = None


@dataclass(frozen=True)
class _Robots:
    """A page-level robots fixture: its ``<meta>`` elements and ``X-Robots-Tag`` values."""

    name: str
    metas: tuple[str, ...] = ()
    headers: tuple[str, ...] = ()
    nofollow: bool = False
    noindex: bool = False


@dataclass
class _Spec:
    """Everything known about one URL: the response and the answers."""

    status: int
    kind: str
    headers: list[tuple[str, str]]
    body: bytes = b""
    stream: Callable[[], Iterator[bytes]] | None = None
    edges: list[_Edge] = field(default_factory=list)
    parsed: bool = False
    nofollow: bool = False
    noindex: bool = False
    redirect_target: str | None = None
    canonical: str | None = None
    error: str | None = None

    @property
    def content_type(self) -> str | None:
        if self.error is not None:
            return None
        value = next((v for k, v in self.headers if k.lower() == "content-type"), None)
        return None if value is None else value.split(";")[0].strip().lower()


def _collapse(text: str) -> str:
    """Collapse runs of ASCII whitespace to one space and trim."""
    return " ".join(_WS_RE.split(text)).strip(" ")


def _rel_tokens(raw: str | None) -> tuple[str, ...]:
    if raw is None:
        return ()
    seen: dict[str, None] = {}
    for token in _WS_RE.split(raw):
        if token:
            seen.setdefault(token.lower(), None)
    return tuple(seen)


def _anchor(label: _Label) -> tuple[str | None, bool]:
    text = _collapse(label.text)
    if not text:
        text = next((_collapse(a) for a in label.alts if a and _collapse(a)), "")
    return (text[:ANCHOR_MAX_CHARS] or None), bool(label.alts)


def _attr(value: str) -> str:
    return html.escape(value, quote=True)


def _text(value: str) -> str:
    return html.escape(value, quote=False)


def _plain(text: str) -> _Label:
    return _Label(_text(text), text)


def _zipf(rng: random.Random, n: int) -> int:
    """A rank in ``[0, n)`` with P(rank r) roughly proportional to 1 / (r + 1)."""
    if n <= 1:
        return 0
    return min(n - 1, int(math.exp(rng.random() * math.log(n + 1))) - 1)


def _png_bytes() -> bytes:
    def chunk(kind: bytes, data: bytes) -> bytes:
        return (
            struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
        )

    header = struct.pack(">IIBBBBB", 1, 1, 8, 2, 0, 0, 0)
    pixels = zlib.compress(b"\x00\x1f\x6f\xb4")
    return (
        b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", pixels) + chunk(b"IEND", b"")
    )


def _pdf_bytes(link: str) -> bytes:
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 200 100] /Annots [4 0 R] >>",
        b"<< /Type /Annot /Subtype /Link /Rect [0 0 200 100] /A << /S /URI /URI ("
        + link.encode()
        + b") >> >>",
    ]
    out = b"%PDF-1.4\n"
    offsets = []
    for number, body in enumerate(objects, 1):
        offsets.append(len(out))
        out += f"{number} 0 obj\n".encode() + body + b"\nendobj\n"
    xref = len(out)
    out += f"xref\n0 {len(objects) + 1}\n0000000000 65535 f \n".encode()
    out += b"".join(f"{o:010d} 00000 n \n".encode() for o in offsets)
    out += (
        f"trailer\n<< /Size {len(objects) + 1} /Root 1 0 R >>\nstartxref\n{xref}\n%%EOF\n".encode()
    )
    return out


# --- href rendering -----------------------------------------------------------------------

#: Every way an href can spell a target, in the zoo's order.
HREF_FORMS: Final = (
    "absolute",
    "root",
    "relative",
    "dot",
    "dotdot",
    "protocol_relative",
    "upper_host",
    "upper_scheme",
    "port_80",
    "tracking",
    "tracking_gclid",
    "tracking_fbclid",
    "fragment",
    "root_fragment",
    "escaped",
    "dot_segments",
    "whitespace",
    "tab_newline",
    "backslash",
    "userinfo",
    "trailing_dot",
    "empty_query",
    "unicode_host",
)
_FORM_WEIGHTS: Final = {
    "absolute": 26,
    "root": 22,
    "relative": 8,
    "dot": 3,
    "dotdot": 3,
    "protocol_relative": 6,
    "upper_host": 2,
    "upper_scheme": 1,
    "port_80": 2,
    "tracking": 4,
    "tracking_gclid": 1,
    "tracking_fbclid": 1,
    "fragment": 4,
    "root_fragment": 2,
    "escaped": 3,
    "dot_segments": 2,
    "whitespace": 2,
    "tab_newline": 1,
    "backslash": 1,
    "userinfo": 1,
    "trailing_dot": 1,
    "empty_query": 1,
    "unicode_host": 30,  # only applicable to the IDN host, where it is then the usual form
}
_FORMS: Final = tuple(_FORM_WEIGHTS)
_FORM_CUM_WEIGHTS: Final = tuple(itertools.accumulate(_FORM_WEIGHTS.values()))


@dataclass(frozen=True)
class _Ctx:
    """The base URL hrefs of a document are resolved against."""

    base: _Url
    dir: str = field(init=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "dir", self.base.dir)

    def same_host(self, target: _Url) -> bool:
        return target.host == self.base.host

    def relative_rest(self, target: _Url) -> str | None:
        """``target``'s path relative to the base directory, if it is below it."""
        if target.host != self.base.host or not target.path.startswith(self.dir):
            return None
        rest = target.path[len(self.dir) :]
        if not rest or ":" in rest.split("/")[0]:
            return None
        return rest


def render_href(form: str, target: _Url, ctx: _Ctx, salt: int = 0) -> str | None:
    """An href in ``form`` that resolves (against ``ctx``) and canonicalises to ``target``;
    None when the form cannot express it from this base."""
    q = f"?{target.query}" if target.query else ""
    absolute = f"http://{target.host}{target.path}{q}"
    if form == "absolute":
        return absolute
    same = target.host == ctx.base.host
    if form == "root":
        return target.path + q if same else None
    if form in ("relative", "dot"):
        rest = ctx.relative_rest(target)
        if rest is None:
            return None
        return f"{rest}{q}" if form == "relative" else f"./{rest}{q}"
    if form == "dotdot":
        if not same:
            return None
        ups = max(ctx.dir.count("/") - 1, 1) + salt % 2  # one more '..' than needed is clamped
        return "../" * ups + target.path[1:] + q
    if form == "protocol_relative":
        return f"//{target.host}{target.path}{q}"
    if form == "upper_host":
        return f"http://{target.host.upper()}{target.path}{q}"
    if form == "upper_scheme":
        return f"HTTP://{target.host}{target.path}{q}"
    if form == "port_80":
        return f"http://{target.host}:80{target.path}{q}"
    if form.startswith("tracking"):
        extra = {
            "tracking": _TRACKING_SUFFIXES[salt % 2 * 3],
            "tracking_gclid": _TRACKING_SUFFIXES[1],
            "tracking_fbclid": _TRACKING_SUFFIXES[2],
        }[form]
        query = (
            f"{extra}&{target.query}"
            if target.query and salt % 2
            else "&".join(p for p in (target.query, extra) if p)
        )
        return f"http://{target.host}{target.path}?{query}"
    if form == "fragment":
        return f"{absolute}#section-{salt % 7}"
    if form == "root_fragment":
        return f"{target.path}{q}#top" if same else None
    if form == "escaped":
        escapes = {j for m in re.finditer("%..", target.path) for j in range(m.start(), m.end())}
        positions = [
            i
            for i, c in enumerate(target.path)
            if ((c.isascii() and c.isalnum()) or c in "-_~") and i not in escapes
        ]
        if not positions:
            return None
        i = positions[salt % len(positions)]
        escape = f"%{ord(target.path[i]):02X}"
        escape = escape.lower() if salt % 2 else escape
        return f"http://{target.host}{target.path[:i]}{escape}{target.path[i + 1 :]}{q}"
    if form == "dot_segments":
        middle = "/./" if salt % 2 else "/x/../"
        return f"http://{target.host}{middle}{target.path[1:]}{q}"
    if form == "whitespace":
        return f"  \n{absolute} \t"
    if form == "tab_newline":
        return f"http://{target.host}/\n\t{target.path[1:]}{q}"
    if form == "backslash":
        return target.path.replace("/", "\\") + q if same else None
    if form == "userinfo":
        return f"http://reader:secret@{target.host}{target.path}{q}"
    if form == "trailing_dot":
        return f"http://{target.host}.{target.path}{q}"
    if form == "empty_query":
        return None if target.query else f"{absolute}?"
    if form == "unicode_host":
        if target.host != IDN_ASCII:
            return None
        host = IDN_UNICODE.upper() if salt % 3 == 2 else IDN_UNICODE
        return f"http://{host}{target.path}{q}"
    raise ValueError(f"unknown href form {form!r}")


# --- HTML documents -----------------------------------------------------------------------


class _Doc:
    """An HTML document under construction, with the edges its markup yields."""

    def __init__(self, url: _Url, title: str, *, lang: str = "en") -> None:
        self.url = url
        self.title = title
        self.lang = lang
        self.head: list[str] = []
        self.body: list[str] = []
        self.edges: list[_Edge] = []
        self.ctx = _Ctx(url)
        self.maps = 0

    def set_base(self, href: str, effective: _Url) -> None:
        self.head.append(f'<base href="{_attr(href)}">')
        self.ctx = _Ctx(effective)

    def add(self, markup: str, edge: _Edge | None = None) -> None:
        self.body.append(markup)
        if edge is not None:
            self.edges.append(edge)

    def a(
        self,
        target: _Url,
        label: _Label,
        *,
        href: str | None = None,
        rel: str | None = None,
        wrap: str = "p",
        form: str = "absolute",
        salt: int = 0,
    ) -> str:
        """Add ``<a>`` to ``target`` (rendered in ``form`` unless ``href`` is given)."""
        if href is None:
            href = render_href(form, target, self.ctx, salt)
            if href is None:
                raise ValueError(f"form {form!r} cannot reach {target} from {self.ctx.base}")
        rel_attr = "" if rel is None else f' rel="{_attr(rel)}"'
        anchor, image = _anchor(label)
        markup = f'<a href="{_attr(href)}"{rel_attr}>{label.html}</a>'
        edge = _Edge(str(target), "a", anchor, _rel_tokens(rel), image)
        self.add(f"<{wrap}>{markup}</{wrap}>\n" if wrap else markup, edge)
        return markup

    def area(self, items: Iterable[tuple[_Url | str | None, str, str | None, str | None]]) -> None:
        """Add an image map; items are ``(target, href, alt, rel)``, target None = no href."""
        self.maps += 1
        name = f"map-{self.maps}"
        parts = [
            f'<p><img src="/static/{name}.png" usemap="#{name}" alt="Map" width="64" height="64">'
        ]
        parts.append(f'<map name="{name}">')
        for n, (target, href, alt, rel) in enumerate(items):
            coords = f"{n * 8},0,{n * 8 + 8},8"
            alt_attr = "" if alt is None else f' alt="{_attr(alt)}"'
            rel_attr = "" if rel is None else f' rel="{_attr(rel)}"'
            if target is None:
                parts.append(f'<area shape="rect" coords="{coords}"{alt_attr}>')
                continue
            parts.append(
                f'<area shape="rect" coords="{coords}" href="{_attr(href)}"{alt_attr}{rel_attr}>'
            )
            anchor = _collapse(alt or "")[:ANCHOR_MAX_CHARS] or None
            self.edges.append(_Edge(str(target), "area", anchor, _rel_tokens(rel)))
        parts.append("</map></p>\n")
        self.body.append("".join(parts))

    def junk(self, href: str, text: str) -> None:
        """A link the extractor counts but never emits (fragment, other scheme, invalid)."""
        self.body.append(f'<p><a href="{_attr(href)}">{_text(text)}</a></p>\n')

    def para(self, text: str) -> None:
        self.body.append(f"<p>{_text(text)}</p>\n")

    def render(self, charset: str = "utf-8") -> bytes:
        head = "\n".join(
            [f'<meta charset="{charset}">', f"<title>{_text(self.title)}</title>", *self.head]
        )
        page = (
            f'<!DOCTYPE html>\n<html lang="{self.lang}">\n<head>\n{head}\n</head>\n<body>\n'
            f"{''.join(self.body)}</body>\n</html>\n"
        )
        return page.encode(charset)


def _html(doc: _Doc, kind: str, *, headers: Iterable[tuple[str, str]] = (), **kw: object) -> _Spec:
    spec = _Spec(200, kind, [("Content-Type", _HTML_UTF8), *headers], body=doc.render())
    spec.edges = list(doc.edges)
    spec.parsed = True
    for key, value in kw.items():
        setattr(spec, key, value)
    return spec


# --- the web ------------------------------------------------------------------------------


if TYPE_CHECKING:
    #: (path, query, builder, label on the host's home page or None)
    Fixture = tuple[str, str, Callable[[], _Spec], str | None]


class TestWeb:
    """A deterministic synthetic web. See the module docstring and ``docs/testweb.md``."""

    __test__ = False  # not a pytest test class

    def __init__(self, config: TestWebConfig | None = None) -> None:
        self.config = config = config if config is not None else TestWebConfig()
        h = config.hosts
        width = max(2, len(str(h - 1)))
        names = [f"site-{i:0{width}d}.test" for i in range(h)]
        names[WWW] = f"www.site-{WWW:0{width}d}.test"
        names[BLOG] = f"blog.site-{WWW:0{width}d}.test"
        names[IDN] = IDN_ASCII
        names[h - 1] = SLOW_HOST
        #: Canonical (punycode) host names; ``hosts[-1]`` is the slow host.
        self.hosts: list[str] = names
        self._index = {name: i for i, name in enumerate(names)}
        per, extra = divmod(config.pages - SLOW_HOST_PAGES, h - 1)
        self._pages = [per + (1 if i < extra else 0) for i in range(h - 1)] + [SLOW_HOST_PAGES]
        self._offset = [self._hash("offset", i) % n for i, n in enumerate(self._pages)]
        self._host_rank = sorted(range(h), key=lambda i: self._hash("host-rank", i))
        self._fixtures: dict[int, dict[tuple[str, str], Fixture]] = {}

    # -- small helpers ----------------------------------------------------------------------

    def _hash(self, *key: object) -> int:
        return xxhash.xxh3_64_intdigest(":".join(map(str, (self.config.seed, *key))).encode())

    def _rng(self, *key: object) -> random.Random:
        return random.Random(self._hash(*key))

    def _p(self, h: int, k: int) -> _Url:
        return _Url(self.hosts[h], f"/p/{k % self._pages[h]}")

    def _home(self, h: int) -> _Url:
        return _Url(self.hosts[h])

    def _index_count(self, h: int) -> int:
        n = self._pages[h]
        return 0 if n <= INDEX_PAGE_SIZE else -(-n // INDEX_PAGE_SIZE)

    def page_count(self, host: str) -> int:
        """Number of ``/p/N`` content pages of ``host``."""
        return self._pages[self._index[host]]

    def title(self, h: int, k: int) -> str:
        """Title of content page ``/p/k`` of host number ``h`` (also its usual anchor)."""
        bits = self._hash("title", h, k)
        words = _WORDS_DE if h == IDN else _WORDS
        picked = [words[(bits >> (2 + 10 * i)) % len(words)] for i in range(2 + bits % 3)]
        return " ".join([picked[0].capitalize(), *picked[1:]])

    def _popular(self, h: int, rank: int) -> int:
        return (rank + self._offset[h]) % self._pages[h]

    # -- public API -------------------------------------------------------------------------

    def seeds(self) -> list[str]:
        """Canonical home page URL of every host."""
        return [str(self._home(i)) for i in range(len(self.hosts))]

    def robots_txt(self, host: str) -> str:
        """The robots.txt a crawler reads for ``host`` (canonical name): the body of its
        ``/robots.txt``, or ``""`` (no rules) for :data:`ROBOTS_404_HOST`, whose
        ``/robots.txt`` is a 404 (RFC 9309 2.3.1.3: crawl as if there were none)."""
        h = self._index[host]
        if h == ROBOTS_404_HOST:
            return ""
        lines = [
            f"# robots.txt for {host} (linkcrawl test web)",
            "User-agent: badbot",
            "Disallow: /",
            "",
            "User-agent: *",
            "Disallow: /private/",
        ]
        if h == WWW:
            lines += ["Disallow: /members/", "Allow: /members/welcome"]
        if host == SLOW_HOST:
            lines.append(f"Crawl-delay: {SLOW_HOST_CRAWL_DELAY}")
        if h == SITEMAP_HOST:
            # the index twice (once spelt otherwise), a relative line, a malformed file
            lines += [
                "",
                f"Sitemap: http://{host}/sitemaps/index.xml",
                "Sitemap: /sitemaps/pages.txt",
                f"sitemap: HTTP://{host.upper()}:80/sitemaps/index.xml",
                f"Sitemap: http://{host}/sitemaps/broken.xml",
            ]
        return "\n".join(lines) + "\n"

    def sitemap_urls(self, host: str, discovery: str = "robots") -> list[str]:
        """The canonical URLs of the sitemaps a crawl requests for ``host`` once its
        robots.txt is read, under ``SITEMAP_DISCOVERY = discovery``."""
        if discovery not in SITEMAP_DISCOVERY_MODES:
            raise ValueError(f"discovery must be one of {SITEMAP_DISCOVERY_MODES}")
        if discovery == "off":
            return []
        if self._index[host] == SITEMAP_HOST:
            names = ("index.xml", "pages.txt", "broken.xml")
            return [f"http://{host}/sitemaps/{name}" for name in names]
        return [f"http://{host}/sitemap.xml"] if discovery == "robots+default" else []

    def robots_allowed(self, url: str) -> bool:
        """Whether robots.txt lets :data:`BOT_NAME` fetch ``url``."""
        host, path, _ = self._split(url)
        if host not in self._index or self._index[host] == ROBOTS_404_HOST:
            return True
        if path.startswith("/private/"):
            return False
        members = self._index[host] == WWW and path.startswith("/members/")
        return not members or path.startswith("/members/welcome")

    def is_trap(self, url: str) -> bool:
        """Whether ``url`` is a page of the infinite calendar."""
        host, path, query = self._split(url)
        return self._index.get(host) == TRAP and not query and self._trap_month(path) is not None

    def respond(self, url: str, *, robots_outage: bool = False) -> TestResponse:
        """The response to a GET of ``url`` (absolute; the host may be in any case/form).

        ``robots_outage``: answer as during a robots outage, when the ``/robots.txt`` of
        :data:`ROBOTS_503_HOST` is a 503 (every other URL answers as always)."""
        host, path, query = self._split(url)
        if host not in self._index:
            what = (
                f"host {host!r}" if "://" not in host else f"origin {host!r} (http, port 80 only)"
            )
            body = (
                f"502 Bad Gateway: {what} is not part of the linkcrawl test web; "
                "the test web server never connects out\n"
            )
            return TestResponse(502, [("Content-Type", "text/plain; charset=utf-8")], body.encode())
        if robots_outage and self._index[host] == ROBOTS_503_HOST and path == "/robots.txt":
            return TestResponse(503, [("Content-Type", _TEXT_UTF8)], _ROBOTS_503_BODY)
        spec = self._spec(self._index[host], path, query)
        if spec.stream is not None:
            return TestResponse(spec.status, list(spec.headers), spec.stream())
        return TestResponse(spec.status, list(spec.headers), spec.body)

    def expected_pages(
        self,
        *,
        follow_nofollow: bool = True,
        obey_meta_robots: bool = True,
        sitemaps: str = "robots",
    ) -> dict[str, ExpectedPage]:
        """Canonical URL -> :class:`ExpectedPage` for every non-trap URL a crawl from
        :meth:`seeds` with scope ``all`` and no depth/host limits fetches.

        ``sitemaps`` is the crawl's ``SITEMAP_DISCOVERY``: every host is crawled, so the
        sitemaps of every host (:meth:`sitemap_urls`) are requested, at depth 0 like the
        seeds, and their entries followed like links."""
        pages: dict[str, ExpectedPage] = {}
        seen: set[str] = set()
        queue: deque[tuple[str, int]] = deque()
        entry_points = [
            *self.seeds(),
            *(u for h in self.hosts for u in self.sitemap_urls(h, sitemaps)),
        ]
        for seed in entry_points:
            if seed not in seen:
                seen.add(seed)
                queue.append((seed, 0))
        while queue:
            url, depth = queue.popleft()
            if not self.robots_allowed(url) or self.is_trap(url):
                continue
            spec = self._spec_for(url)
            pages[url] = self._page_record(url, spec, depth)
            for edge in spec.edges:
                follow = edge.link_type not in ("a", "area") or (
                    (follow_nofollow or "nofollow" not in edge.rel)
                    and (not obey_meta_robots or not spec.nofollow)
                )
                if follow and edge.target not in seen:
                    seen.add(edge.target)
                    queue.append((edge.target, depth + 1))
        return pages

    def trap_pages(self, depth_limit: int) -> dict[str, ExpectedPage]:
        """The calendar pages a crawl with Scrapy's ``DEPTH_LIMIT=depth_limit`` fetches:
        the entry month is at depth 1 (linked from the trap host's home page), month
        ``entry +/- j`` at depth ``1 + j``."""
        if depth_limit < 1:
            return {}
        year, month = TRAP_ENTRY
        entry = year * 12 + month - 1
        out: dict[str, ExpectedPage] = {}
        for j in range(-(depth_limit - 1), depth_limit):
            y, m = divmod(entry + j, 12)
            if 1 <= y <= 9999:
                url = str(_Url(self.hosts[TRAP], f"/calendar/{y:04d}/{m + 1:02d}"))
                out[url] = self._page_record(url, self._spec_for(url), 1 + abs(j))
        return out

    def expected_edges(self, pages: Iterable[str] | None = None) -> list[ExpectedEdge]:
        """Every edge the extractor emits for the fetched ``pages`` (canonical URLs; default
        :meth:`expected_pages`), in document order per page (a/area, then canonical, then
        refresh; a redirect page has only its redirect edge; a sitemap has one ``sitemap``
        edge per entry the crawler keeps)."""
        urls = list(self.expected_pages()) if pages is None else list(pages)
        out: list[ExpectedEdge] = []
        for url in urls:
            spec = self._spec_for(url)
            position = 0
            for e in spec.edges:
                pos = None
                if e.link_type in ("a", "area"):
                    pos, position = position, position + 1
                out.append(
                    ExpectedEdge(
                        source_url=url,
                        target_url=e.target,
                        link_type=e.link_type,
                        anchor_text=e.anchor,
                        rel=e.rel,
                        nofollow="nofollow" in e.rel,
                        sponsored="sponsored" in e.rel,
                        ugc="ugc" in e.rel,
                        page_nofollow=spec.nofollow,
                        image=e.image,
                        position=pos,
                        http_status=e.http_status,
                        lastmod=e.lastmod,
                    )
                )
        return out

    # -- routing ----------------------------------------------------------------------------

    @staticmethod
    def _split(url: str) -> tuple[str, str, str]:
        parts = urlsplit(url)
        host = (parts.hostname or "").rstrip(".")
        if not host.isascii():
            with contextlib.suppress(UnicodeError):
                host = host.encode("idna").decode("ascii")
        try:
            port = parts.port
        except ValueError:
            port = -1
        if parts.scheme.lower() != "http" or port not in (None, 80):
            host = f"{parts.scheme.lower()}://{parts.netloc.lower()}"  # never a test-web host
        return host.lower(), parts.path or "/", parts.query

    def _spec_for(self, url: str) -> _Spec:
        host, path, query = self._split(url)
        return self._spec(self._index[host], path, query)

    def _page_record(self, url: str, spec: _Spec, depth: int) -> ExpectedPage:
        return ExpectedPage(
            url=url,
            status=None if spec.error else spec.status,
            content_type=spec.content_type,
            kind=spec.kind,
            host=self._split(url)[0],
            error=spec.error,
            depth=depth,
            redirect_target=spec.redirect_target,
            canonical=spec.canonical,
            nofollow=spec.nofollow,
            noindex=spec.noindex,
        )

    def _spec(self, h: int, path: str, query: str) -> _Spec:
        if path == "/robots.txt":
            if h == ROBOTS_404_HOST:
                return _Spec(404, "robots", [("Content-Type", _TEXT_UTF8)], _ROBOTS_404_BODY)
            body = self.robots_txt(self.hosts[h]).encode()
            return _Spec(200, "robots", [("Content-Type", _TEXT_UTF8)], body)
        if path == "/" and not query:
            return self._home_page(h)
        if not query and path.startswith("/index/"):
            number = path[len("/index/") :]
            if _DIGITS_RE.fullmatch(number) and 1 <= int(number) <= self._index_count(h):
                return self._index_page(h, int(number))
        if not query and path.startswith("/p/"):
            number = path[len("/p/") :]
            if _DIGITS_RE.fullmatch(number) and int(number) < self._pages[h]:
                return self._content_page(h, int(number))
        fixture = self._fixture_table(h).get((path, query))
        if fixture is not None:
            return fixture[2]()
        if h == TRAP and not query:
            month = self._trap_month(path)
            if month is not None:
                return self._calendar(*month)
        if path.startswith("/private/") or (h == WWW and path.startswith("/members/")):
            return self._private(h, path)
        return self._not_found(h, path)

    def _fixture_table(self, h: int) -> dict[tuple[str, str], Fixture]:
        table = self._fixtures.get(h)
        if table is None:
            builders: dict[int, Callable[[], list[Fixture]]] = {
                ZOO: self._zoo_fixtures,
                REDIRECTS: self._redirect_fixtures,
                CANONICAL: self._canonical_fixtures,
                WWW: self._www_fixtures,
                BLOG: self._blog_fixtures,
                IDN: self._idn_fixtures,
                FILES: self._files_fixtures,
            }
            make = builders.get(h)
            table = {} if make is None else {(f[0], f[1]): f for f in make()}
            self._fixtures[h] = table
        return table

    @staticmethod
    def _trap_month(path: str) -> tuple[int, int] | None:
        m = _TRAP_RE.fullmatch(path)
        if m is None:
            return None
        year, month = int(m[1]), int(m[2])
        return (year, month) if year >= 1 and 1 <= month <= 12 else None

    # -- generic pages ----------------------------------------------------------------------

    def _home_page(self, h: int) -> _Spec:
        host = self.hosts[h]
        url = self._home(h)
        doc = _Doc(url, f"{host} home", lang="de" if h == IDN else "en")
        doc.add(f"<h1>{_text(host)}</h1>\n")
        count = self._index_count(h)
        doc.add("<ul>\n")
        if count:
            for i in range(1, count + 1):
                doc.a(_Url(host, f"/index/{i}"), _plain(f"Index page {i}"), form="root", wrap="li")
        else:
            for k in range(self._pages[h]):
                doc.a(self._p(h, k), _plain(self.title(h, k)), form="root", wrap="li")
        doc.add("</ul>\n<h2>Most read</h2>\n<ul>\n")
        for rank in range(5):
            k = self._popular(h, rank)
            doc.a(self._p(h, k), _plain(self.title(h, k)), form="relative", wrap="li")
        doc.add("</ul>\n<h2>Test fixtures</h2>\n<ul>\n")
        for path, query, _, label in self._fixture_table(h).values():
            if label is not None:
                doc.a(_Url(host, path, query), _plain(label), form="root", wrap="li")
        doc.add("</ul>\n")
        if h == TRAP:
            y, m = TRAP_ENTRY
            doc.a(_Url(host, f"/calendar/{y:04d}/{m:02d}"), _plain("Events calendar"), form="root")
        if host != SLOW_HOST:
            doc.a(_Url(host, "/gone"), _plain("Old page (removed)"), form="root")
            doc.a(_Url(host, "/private/admin"), _plain("Admin area"), form="root")
        neighbours = [(h + 1) % len(self.hosts), (h + 2) % len(self.hosts)]
        if h in (WWW, BLOG):
            neighbours.insert(0, BLOG if h == WWW else WWW)
        for other in neighbours:
            doc.a(self._home(other), _plain(f"Visit {self.hosts[other]}"), form="absolute")
        return _html(doc, "home")

    def _index_page(self, h: int, number: int) -> _Spec:
        host = self.hosts[h]
        doc = _Doc(_Url(host, f"/index/{number}"), f"{host} index {number}")
        doc.a(self._home(h), _plain("Home"), form="root")
        first = (number - 1) * INDEX_PAGE_SIZE
        doc.add("<ul>\n")
        for k in range(first, min(first + INDEX_PAGE_SIZE, self._pages[h])):
            doc.a(self._p(h, k), _plain(self.title(h, k)), form="root", wrap="li")
        doc.add("</ul>\n")
        if number > 1:
            doc.a(_Url(host, f"/index/{number - 1}"), _plain("Previous"), form="relative")
        if number < self._index_count(h):
            doc.a(_Url(host, f"/index/{number + 1}"), _plain("Next"), form="relative")
        return _html(doc, "index")

    def _content_page(self, h: int, k: int) -> _Spec:
        rng = self._rng("page", h, k)
        host = self.hosts[h]
        url = _Url(host, f"/p/{k}")
        doc = _Doc(url, self.title(h, k), lang="de" if h == IDN else "en")
        base_host: int | None = None
        if rng.random() < 0.04:
            base_host = rng.randrange(len(self.hosts) - 1)
            base = _Url(self.hosts[base_host], "/p/")
            base_form = rng.choice(("absolute", "protocol_relative", "upper_host", "port_80"))
            base_href = render_href(base_form, base, _Ctx(url))
            assert base_href is not None
            doc.set_base(base_href, base)
        doc.add("<header><nav>")
        doc.a(self._home(h), _plain("Home"), href=self._href(rng, self._home(h), doc.ctx), wrap="")
        doc.add("</nav></header>\n<main>\n")
        doc.add(f"<h1>{_text(doc.title)}</h1>\n")
        for _ in range(rng.randint(4, 14)):
            if rng.random() < 0.5:
                doc.para(self._sentence(rng, h))
            if rng.random() < 0.08:
                self._junk(rng, doc)
            if base_host is not None and rng.random() < 0.5:
                target = self._p(
                    base_host, self._popular(base_host, _zipf(rng, self._pages[base_host]))
                )
            elif rng.random() < 0.64:
                target = self._p(h, self._popular(h, _zipf(rng, self._pages[h])))
            else:
                other = self._host_rank[_zipf(rng, len(self.hosts) - 1)]
                if other == h:
                    other = self._host_rank[-1]
                target = self._p(other, self._popular(other, _zipf(rng, self._pages[other])))
            self._content_link(rng, doc, target)
        if rng.random() < 0.06:
            private = _Url(host, f"/private/{rng.choice(_WORDS)}-{k}")
            form = "root" if doc.ctx.same_host(private) else "absolute"
            doc.a(private, _plain("Members only"), form=form)
        doc.add("</main>\n<footer>")
        index = k // INDEX_PAGE_SIZE + 1
        back = _Url(host, f"/index/{index}") if self._index_count(h) else self._home(h)
        doc.a(back, _plain("Back to the index"), href=self._href(rng, back, doc.ctx), wrap="")
        doc.add("</footer>\n")
        return _html(doc, "page")

    def _href(self, rng: random.Random, target: _Url, ctx: _Ctx, salt: int = 0) -> str:
        """An href for ``target`` in a randomly chosen form that can express it."""
        while True:
            form = rng.choices(_FORMS, cum_weights=_FORM_CUM_WEIGHTS)[0]
            href = render_href(form, target, ctx, salt)
            if href is not None:
                return href

    def _sentence(self, rng: random.Random, h: int) -> str:
        words = _WORDS_DE if h == IDN else _WORDS
        start = rng.randrange(len(words))
        picked = (words[start:] + words[:start])[: rng.randint(6, 16)]
        return " ".join(picked).capitalize() + "."

    def _junk(self, rng: random.Random, doc: _Doc) -> None:
        choices = (
            ("#", "Top"),
            ("#comments", "Comments"),
            ("", "Reload"),
            ("javascript:void(0)", "Menu"),
            (f"mailto:editor@{doc.url.host}", "Write to us"),
            ("tel:+1-555-0100", "Call us"),
            ("http://[::1", "Broken link"),
            ("http://exa mple.test/", "Broken host"),
        )
        doc.junk(*rng.choice(choices))

    def _content_link(self, rng: random.Random, doc: _Doc, target: _Url) -> None:
        salt = rng.randrange(1000)
        href = self._href(rng, target, doc.ctx, salt)
        rel = rng.choice(_REL_VARIANTS) if rng.random() < 0.12 else None
        th = self._index[target.host]
        title = self.title(th, int(target.path[3:]))
        words = title.split()
        style = rng.random()
        if style < 0.06:  # image map
            alt = title if rng.random() < 0.7 else ""
            doc.area([(target, href, alt, rel)])
            return
        if style < 0.10:
            label = _Label(
                f'<img src="/static/thumb-{salt}.png" alt="{_attr(title)}">', "", (title,)
            )
        elif style < 0.12:
            label = _Label(f'<img src="/static/thumb-{salt}.png" alt="">', "", ("",))
        elif style < 0.13:
            label = _Label(f'<img src="/static/thumb-{salt}.png">', "", (None,))
        elif style < 0.15:
            label = _Label(
                f'<img src="/static/icon.png" alt="icon"> {_text(title)}', f" {title}", ("icon",)
            )
        elif style < 0.25:
            tag = rng.choice(("b", "em", "span", "strong"))
            head, tail = words[0], " ".join(words[1:])
            label = _Label(f"<{tag}>{_text(head)}</{tag}> {_text(tail)}", f"{head} {tail}")
        elif style < 0.32:
            messy = "\n   " + "  \t ".join(words) + " \n"
            label = _Label(_text(messy), messy)
        elif style < 0.45:
            label = _plain(rng.choice(_PHRASES))
        else:
            label = _plain(title)
        markup = doc.a(target, label, rel=rel, href=href)
        if rng.random() < 0.05:  # the same link twice on a page
            doc.add(f"<p>Again: {markup}</p>\n", doc.edges[-1])

    def _simple(self, url: _Url, kind: str, title: str, *links: tuple[_Url, str]) -> _Spec:
        doc = _Doc(url, title, lang="de" if url.host == IDN_ASCII else "en")
        doc.add(f"<h1>{_text(title)}</h1>\n")
        for target, text in links or ((_Url(url.host), "Home"),):
            doc.a(target, _plain(text), form="root" if target.host == url.host else "absolute")
        return _html(doc, kind)

    def _not_found(self, h: int, path: str) -> _Spec:
        body = (
            "<!DOCTYPE html>\n<html><head><title>Not found</title></head><body>\n"
            f"<h1>404 Not Found</h1><p>{_text(path)} is not on {self.hosts[h]}.</p>\n"
            '<p><a href="/">Home</a></p></body></html>\n'
        ).encode()
        return _Spec(404, "not_found", [("Content-Type", _HTML_UTF8)], body)

    def _private(self, h: int, path: str) -> _Spec:
        url = _Url(self.hosts[h], path)
        kind = "robots_allowed" if self.robots_allowed(str(url)) else "private"
        leak = _Url(url.host, path[: path.index("/", 1)] + "/leak")
        return self._simple(url, kind, "Private", (leak, "More secrets"))

    def _redirect(self, status: int, location: str, target: _Url) -> _Spec:
        body = (
            b"<!DOCTYPE html>\n<html><head><title>Moved</title></head><body>\n"
            b'<p>This page has moved. <a href="/r/body-only">Read the notice</a>.</p>\n'
            b"</body></html>\n"
        )
        headers = [("Location", location), ("Content-Type", _HTML_UTF8)]
        spec = _Spec(status, "redirect", headers, body, redirect_target=str(target))
        spec.edges = [_Edge(str(target), "redirect", http_status=status)]
        return spec

    def _calendar(self, year: int, month: int) -> _Spec:
        host = self.hosts[TRAP]
        url = _Url(host, f"/calendar/{year:04d}/{month:02d}")
        doc = _Doc(url, f"Calendar {year:04d}-{month:02d}")
        doc.add(f"<h1>Events in {year:04d}-{month:02d}</h1>\n")
        index = year * 12 + month - 1
        py, pm = divmod(index - 1, 12)
        ny, nm = divmod(index + 1, 12)
        if py >= 1:
            prev = _Url(host, f"/calendar/{py:04d}/{pm + 1:02d}")
            doc.a(prev, _plain("« Previous month"), href=f"../{py:04d}/{pm + 1:02d}")
        if ny <= 9999:
            doc.a(
                _Url(host, f"/calendar/{ny:04d}/{nm + 1:02d}"), _plain("Next month »"), form="root"
            )
        doc.a(self._home(TRAP), _plain("Home"), form="root")
        doc.a(self._p(TRAP, 0), _plain(self.title(TRAP, 0)), form="root")
        return _html(doc, "trap")

    # -- fixtures: site-00, the link zoo ----------------------------------------------------

    def _zoo_fixtures(self) -> list[Fixture]:
        page1 = (self._p(ZOO, 1), "Page 1")
        return [
            ("/zoo", "", self._zoo, "Link zoo"),
            self._leaf(ZOO, "/list", "query", page1, query="sort=asc&page=2"),
            self._leaf(ZOO, "/~about", "escape", page1),
            self._leaf(ZOO, "/tag/c%2B%2B", "escape", page1),
            self._leaf(ZOO, "/wiki/Caf%C3%A9", "escape", page1),
            self._leaf(ZOO, "/only-via-rel-nofollow", "nofollow_target", page1),
            ("/base/absolute", "", self._base_absolute, "Base: other host"),
            ("/base/relative", "", self._base_relative, "Base: relative"),
            ("/base/invalid", "", self._base_invalid, "Base: invalid first"),
            ("/base/multiple", "", self._base_multiple, "Base: two elements"),
        ]

    def _leaf(
        self,
        h: int,
        path: str,
        kind: str,
        link: tuple[_Url, str] | None = None,
        *,
        query: str = "",
        label: str | None = None,
    ) -> Fixture:
        """A fixture row for a small HTML page with one link (default: its home page)."""
        url = _Url(self.hosts[h], path, query)
        link = link if link is not None else (self._home(h), "Home")
        return (path, query, partial(self._simple, url, kind, f"Page {path}", link), label)

    def _zoo(self) -> _Spec:
        host = self.hosts[ZOO]
        url = _Url(host, "/zoo")
        doc = _Doc(url, "Link zoo")
        doc.head.append('<link rel="stylesheet" href="/static/site.css">')
        doc.head.append('<link rel="alternate" hreflang="de" href="/de/zoo">')
        doc.add("<h1>Every way to write a link</h1>\n<h2>Forms</h2>\n")
        internal, external, idn = self._p(ZOO, 2), self._p(REDIRECTS, 1), self._p(IDN, 1)
        for form in HREF_FORMS:
            for salt, target in enumerate((internal, external, idn)):
                href = render_href(form, target, doc.ctx, salt)
                if href is not None:
                    doc.a(target, _plain(f"{form} {salt}"), form=form, salt=salt)
        doc.a(idn, _plain("unicode upper"), href=f"http://{IDN_UNICODE.upper()}{idn.path}")
        doc.a(idn, _plain("unicode protocol-relative"), href=f"//{IDN_UNICODE}{idn.path}")
        beyond_root = self._p(ZOO, 3)
        doc.a(beyond_root, _plain("Above the root"), href="../../../" + beyond_root.path[1:])

        doc.add("<h2>Query strings</h2>\n")
        listing = _Url(host, "/list", "sort=asc&page=2")
        doc.a(
            listing, _plain("Tracking in the middle"), href="/list?sort=asc&utm_source=zoo&page=2"
        )
        doc.a(
            listing,
            _plain("Everything at once"),
            href="/list?utm_campaign=x&sort=%61sc&page=2&gclid=1",
        )
        doc.a(
            listing, _plain("Upper-case tracking name"), href="/list?UTM_Source=x&sort=asc&page=2"
        )
        doc.a(listing, _plain("Escaped tracking name"), href="/list?sort=asc&%75tm_medium=x&page=2")
        doc.a(listing, _plain("Upper-case msclkid last"), href="/list?sort=asc&page=2&MSCLKID=7")

        doc.add("<h2>Escapes</h2>\n")
        about = _Url(host, "/~about")
        doc.a(about, _plain("Tilde escaped"), href="/%7Eabout")
        doc.a(about, _plain("Tilde escaped, lower-case"), href="/%7eabout")
        doc.a(about, _plain("Tilde"), href="/~about")
        tag = _Url(host, "/tag/c%2B%2B")
        doc.a(tag, _plain("Lower-case reserved escape"), href="/tag/c%2b%2b")
        doc.a(tag, _plain("Upper-case reserved escape"), href="/tag/c%2B%2B")
        cafe = _Url(host, "/wiki/Caf%C3%A9")
        doc.a(cafe, _plain("Non-ASCII path"), href="/wiki/Café")
        doc.a(cafe, _plain("Non-ASCII path, lower-case escape"), href="/wiki/Caf%c3%a9")

        doc.add("<h2>Links to this page</h2>\n")
        doc.a(url, _plain("Self with tracking"), href="?utm_source=self")
        doc.a(url, _plain("Self with fragment"), href="/zoo#top")
        doc.junk("#top", "Fragment only")
        doc.junk("#", "Bare hash")
        doc.junk("", "Empty href")
        doc.junk("   ", "Whitespace href")

        doc.add("<h2>Not followed: other schemes and invalid URLs</h2>\n")
        for href, text in (
            ("javascript:void(0)", "JavaScript"),
            ("JavaScript:alert(1)", "JavaScript upper"),
            (f"mailto:webmaster@{host}", "Mail"),
            ("tel:+1-555-0100", "Phone"),
            ("data:text/html,hello", "Data URL"),
            (f"ftp://{host}/pub/file.txt", "FTP"),
            ("http://[::1", "Unclosed IPv6"),
            ("http://exa mple.test/", "Space in host"),
            ("http://", "No host"),
            (f"http://{host}:99999/", "Port out of range"),
        ):
            doc.junk(href, text)
        doc.add('<p><a name="anchor-without-href">Named anchor</a> and <a>bare a</a></p>\n')

        doc.add("<h2>rel</h2>\n")
        for i, rel in enumerate(_REL_VARIANTS):
            doc.a(self._p(ZOO, 3 + i), _plain(f"rel {rel.strip()}"), rel=rel, form="root")
        doc.a(self._p(ZOO, 14), _plain("Empty rel"), rel="", form="root")
        only = _Url(host, "/only-via-rel-nofollow")
        doc.a(only, _plain("Only linked with nofollow"), rel="nofollow", form="root")

        doc.add("<h2>Anchor text</h2>\n")
        t = self._p(ZOO, 15)
        nested = _Label(
            "<span>  Read</span>\n <b>more</b> <i>about <em>this</em></i>",
            "  Read\n more about this",
        )
        doc.a(t, nested, form="root")
        doc.a(t, _Label("<b>Link</b>crawl", "Linkcrawl"), form="root")
        doc.a(t, _plain("Tom & Jerry <3"), form="root")
        doc.a(t, _plain("\n\t  Messy \n\n whitespace\t\there  "), form="root")
        doc.a(t, _plain("Bücher über Öl \u2013 日本語 \U0001f4da"), form="root")
        doc.a(t, _Label("", ""), form="root")
        doc.a(t, _Label("   \n ", "   \n "), form="root")
        long_text = " ".join(f"word{i:04d}" for i in range(40))  # 359 chars; cut inside a word
        doc.a(t, _plain(long_text), form="root")

        doc.add("<h2>Images</h2>\n")
        t = self._p(ZOO, 16)
        doc.a(
            t,
            _Label('<img src="/static/logo.png" alt="Site logo">', "", ("Site logo",)),
            form="root",
        )
        doc.a(t, _Label('<img src="/static/logo.png" alt="">', "", ("",)), form="root")
        doc.a(t, _Label('<img src="/static/logo.png">', "", (None,)), form="root")
        doc.a(
            t,
            _Label(
                '<img src="/a.png" alt=""><img src="/b.png" alt="Second image">',
                "",
                ("", "Second image"),
            ),
            form="root",
        )
        doc.a(
            t,
            _Label('<img src="/a.png" alt="Icon"> Text label ', " Text label ", ("Icon",)),
            form="root",
        )
        doc.a(
            t,
            _Label('<img src="/a.png" alt="  Logo \n of  site ">', "", ("  Logo \n of  site ",)),
            form="root",
        )

        doc.add("<h2>Image map</h2>\n")
        t1, t2, t3 = self._p(ZOO, 17), self._p(CANONICAL, 2), self._p(ZOO, 18)
        doc.area(
            [
                (t1, "/p/" + t1.path[3:], "North region", None),
                (t2, f"//{t2.host}{t2.path}", "", None),
                (t3, f"{t3.path}?utm_source=map", "Sponsored region", "sponsored"),
                (None, "", "No href", None),
            ]
        )

        doc.add("<h2>Duplicates</h2>\n")
        t = self._p(ZOO, 19)
        markup = doc.a(t, _plain("Twice"), form="root")
        doc.add(f"<p>{markup}</p>\n", doc.edges[-1])
        doc.a(t, _plain("Same target, other text"), form="absolute")

        doc.add("<h2>Missing and disallowed</h2>\n")
        r = self.hosts[REDIRECTS]
        doc.a(_Url(r, "/P/3"), _plain("Path case matters"), href=f"http://{r}/P/3")
        beyond = _Url(r, f"/p/{self._pages[REDIRECTS] + 5}")
        doc.a(beyond, _plain("Past the last page"), form="absolute")
        doc.a(_Url(host, "/private/zoo-secret"), _plain("Disallowed by robots.txt"), form="root")
        return _html(doc, "zoo")

    def _base_absolute(self) -> _Spec:
        host, other = self.hosts[ZOO], self.hosts[REDIRECTS]
        doc = _Doc(_Url(host, "/base/absolute"), "Base on another host")
        doc.set_base(f"HTTP://{other.upper()}:80/p/", _Url(other, "/p/"))
        doc.a(
            self._p(REDIRECTS, 3),
            _plain("Relative to the base"),
            href=self._p(REDIRECTS, 3).path[3:],
        )
        doc.a(
            self._p(REDIRECTS, 4),
            _plain("Root-relative to the base"),
            href=self._p(REDIRECTS, 4).path,
        )
        doc.a(self._p(ZOO, 5), _plain("Absolute"), form="absolute")
        doc.a(_Url(other, "/"), _plain("Base home"), href="/")
        return _html(doc, "base")

    def _base_relative(self) -> _Spec:
        host = self.hosts[ZOO]
        doc = _Doc(_Url(host, "/base/relative"), "Relative base")
        doc.set_base("../p/", _Url(host, "/p/"))
        doc.a(self._p(ZOO, 5), _plain("Below the base"), href=self._p(ZOO, 5).path[3:])
        doc.a(self._p(ZOO, 6), _plain("Dot below the base"), href="./" + self._p(ZOO, 6).path[3:])
        return _html(doc, "base")

    def _base_invalid(self) -> _Spec:
        host = self.hosts[ZOO]
        doc = _Doc(_Url(host, "/base/invalid"), "Invalid first base")
        doc.head.append('<base href="http://[::1">')
        doc.head.append(f'<base href="http://{self.hosts[CANONICAL]}/elsewhere/">')
        doc.a(_Url(host, "/zoo"), _plain("Up to the zoo"), href="../zoo")
        doc.a(self._p(ZOO, 7), _plain("Sibling"), href="../" + self._p(ZOO, 7).path[1:])
        return _html(doc, "base")

    def _base_multiple(self) -> _Spec:
        host, first, second = self.hosts[ZOO], self.hosts[CANONICAL], self.hosts[FILES]
        doc = _Doc(_Url(host, "/base/multiple"), "Two base elements")
        doc.set_base(f"//{first}/p/", _Url(first, "/p/"))
        doc.head.append(f'<base href="http://{second}/p/">')
        doc.a(self._p(CANONICAL, 8), _plain("First base wins"), href=self._p(CANONICAL, 8).path[3:])
        return _html(doc, "base")

    # -- fixtures: site-01, redirects -------------------------------------------------------

    def _redirect_fixtures(self) -> list[Fixture]:
        host = self.hosts[REDIRECTS]
        cross = self._p(CANONICAL, 3)
        hops: list[tuple[str, int, str, _Url, str | None]] = [
            # (path, status, Location as sent, canonical target, label on the home page)
            ("/r/301", 301, f"http://{host}/r/landing-301", _Url(host, "/r/landing-301"), "301"),
            ("/r/302", 302, "/r/landing-302", _Url(host, "/r/landing-302"), "302"),
            ("/r/303", 303, "landing-303", _Url(host, "/r/landing-303"), "303"),
            ("/r/307", 307, str(cross), cross, "307 to another host"),
            ("/r/308", 308, f"HTTP://{host.upper()}:80/r/landing-308?utm_source=x#moved",
             _Url(host, "/r/landing-308"), "308"),
            ("/r/chain/1", 301, "/r/chain/2", _Url(host, "/r/chain/2"), "Redirect chain"),
            ("/r/chain/2", 302, f"http://{host}/r/chain/3", _Url(host, "/r/chain/3"), None),
            ("/r/chain/3", 307, "end", _Url(host, "/r/chain/end"), None),
            ("/r/to-private", 301, "/private/moved", _Url(host, "/private/moved"), "To /private/"),
            ("/r/to-missing", 302, "/r/nowhere", _Url(host, "/r/nowhere"), "Redirect to a 404"),
        ]  # fmt: skip
        out: list[Fixture] = [
            (path, "", partial(self._redirect, status, location, target), label)
            for path, status, location, target, label in hops
        ]
        for path in ("/r/landing-301", "/r/landing-302", "/r/landing-303", "/r/landing-308"):
            out.append(self._leaf(REDIRECTS, path, "landing"))
        out.append(self._leaf(REDIRECTS, "/r/chain/end", "landing"))
        return out

    # -- fixtures: site-02, canonical and meta refresh --------------------------------------

    def _canonical_fixtures(self) -> list[Fixture]:
        h = f"http://{self.hosts[CANONICAL]}"
        multi = f'</static/site.css>; rel="preload"; as="style", <{h}/canon/target-header-multi>'
        canon = [
            _Canon("/canon/element", "/canon/target-element", None, "/canon/target-element",
                   label="Canonical element"),
            _Canon("/canon/header", None, f'<{h}/canon/target-header>; rel="canonical"',
                   "/canon/target-header", label="Canonical header"),
            _Canon("/canon/header-multi", None, f'{multi}; rel="canonical"',
                   "/canon/target-header-multi", label="Canonical in a multi-value Link header"),
            _Canon("/canon/header-relative", None, "<target-header-relative>; rel=canonical",
                   "/canon/target-header-relative", label="Relative canonical header"),
            _Canon("/canon/self", f"{h}/canon/self?utm_source=feed", None, "/canon/self",
                   label="Canonical to itself"),
            _Canon("/canon/both", "/canon/target-both-element",
                   f'<{h}/canon/target-both-header>; rel="canonical"', "/canon/target-both-header",
                   label="Canonical header and element"),
            _Canon("/canon/base", "target-base", None, "/canon/sub/target-base", base="/canon/sub/",
                   label="Canonical under a base"),
        ]  # fmt: skip
        refresh: list[tuple[str, str, str | None, str]] = [
            # (path, content of <meta http-equiv=refresh>, target path, label on the home page)
            ("/refresh/quoted", "0; url='/refresh/target-quoted'", "/refresh/target-quoted",
             "Meta refresh"),
            ("/refresh/plain", f"5;URL={h}/refresh/target-plain", "/refresh/target-plain",
             "Meta refresh, absolute"),
            ("/refresh/none", "30", None, "Meta refresh without URL"),
            ("/refresh/self", "10; url=/refresh/self?utm_source=reload", "/refresh/self",
             "Meta refresh to itself"),
        ]  # fmt: skip
        out: list[Fixture] = []
        for case in canon:
            out.append((case.path, "", partial(self._canonical, case), case.label))
            if case.target != case.path:
                out.append(self._leaf(CANONICAL, case.target, "canonical_target"))
        for path, content, target, label in refresh:
            out.append((path, "", partial(self._refresh, path, content, target), label))
            if target is not None and target != path:
                out.append(self._leaf(CANONICAL, target, "refresh_target"))
        # at the default place, named by no robots.txt: read with SITEMAP_DISCOVERY =
        # robots+default only; it lists a page no link reaches
        out.append(("/sitemap.xml", "", self._default_sitemap, None))
        out.append(self._leaf(CANONICAL, "/orphan/default-sitemap", "orphan"))
        return out

    def _canonical(self, case: _Canon) -> _Spec:
        url = _Url(self.hosts[CANONICAL], case.path)
        target = _Url(url.host, case.target)
        doc = _Doc(url, f"Canonical {case.path}")
        if case.base is not None:
            doc.set_base(case.base, _Url(url.host, case.base))
        doc.head.append(f'<link rel="alternate" hreflang="de" href="/de{case.path}">')
        if case.element is not None:
            doc.head.append(f'<link rel="canonical" href="{_attr(case.element)}">')
        doc.a(self._home(CANONICAL), _plain("Home"), form="absolute")
        headers = [] if case.header is None else [("Link", case.header)]
        spec = _html(doc, "canonical", headers=headers, canonical=str(target))
        if target != url:
            spec.edges.append(_Edge(str(target), "canonical"))
        return spec

    def _refresh(self, path: str, content: str, target: str | None) -> _Spec:
        url = _Url(self.hosts[CANONICAL], path)
        doc = _Doc(url, f"Refresh {path}")
        doc.head.append(f'<meta http-equiv="refresh" content="{_attr(content)}">')
        doc.a(self._home(CANONICAL), _plain("Home"), form="root")
        spec = _html(doc, "refresh")
        if target is not None and target != path:
            spec.edges.append(_Edge(str(_Url(url.host, target)), "refresh"))
        return spec

    # -- fixtures: www./blog.site-03, robots ------------------------------------------------

    def _www_fixtures(self) -> list[Fixture]:
        welcome, area = "/members/welcome", "/members/area"
        return [
            (welcome, "", partial(self._private, WWW, welcome), "Members: welcome (robots Allow)"),
            (area, "", partial(self._private, WWW, area), "Members area (robots Disallow)"),
            self._leaf(WWW, "/about", "about", (self._home(BLOG), "Our blog"), label="About us"),
        ]

    def _blog_fixtures(self) -> list[Fixture]:
        cases = [
            _Robots("meta-nofollow", ('<meta name="robots" content="noindex, nofollow">',),
                    nofollow=True, noindex=True),
            _Robots("meta-none", ('<meta name="ROBOTS" content="NONE">',),
                    nofollow=True, noindex=True),
            _Robots("meta-split", ('<meta name="robots" content="noindex">',
                                   '<meta name="Robots" content="NoFollow">'),
                    nofollow=True, noindex=True),
            _Robots("meta-noindex", ('<meta name="robots" content="noindex">',), noindex=True),
            _Robots("meta-other-bot", ('<meta name="googlebot" content="nofollow">',)),
            _Robots("header-nofollow", headers=("nofollow",), nofollow=True),
            _Robots("header-multi", headers=("noindex", "NoFollow"), nofollow=True, noindex=True),
            _Robots("header-bot", headers=(f"{BOT_NAME}: nofollow",), nofollow=True),
            _Robots("header-other-bot", headers=("googlebot: noindex, nofollow",)),
        ]  # fmt: skip
        out: list[Fixture] = [("/comments", "", self._comments, "Comments")]
        for case in cases:
            out.append((f"/robots/{case.name}", "", partial(self._robots_page, case), case.name))
            out.append(self._leaf(BLOG, f"/robots/after-{case.name}", "robots_target"))
        return out

    def _robots_page(self, case: _Robots) -> _Spec:
        host = self.hosts[BLOG]
        doc = _Doc(_Url(host, f"/robots/{case.name}"), f"Robots {case.name}")
        doc.head.extend(case.metas)
        doc.a(_Url(host, f"/robots/after-{case.name}"), _plain(f"After {case.name}"), form="root")
        doc.a(self._p(BLOG, 2), _plain(self.title(BLOG, 2)), form="absolute")
        kind = "robots_header" if case.headers else "robots_meta"
        headers = [("X-Robots-Tag", value) for value in case.headers]
        return _html(doc, kind, headers=headers, nofollow=case.nofollow, noindex=case.noindex)

    def _comments(self) -> _Spec:
        host = self.hosts[BLOG]
        doc = _Doc(_Url(host, "/comments"), "Reader comments")
        for i, rel in enumerate(
            ("ugc", "ugc nofollow", "UGC NOFOLLOW", "nofollow ugc", "sponsored")
        ):
            target = self._p((i * 5) % (len(self.hosts) - 1), 10 + i)
            doc.add(f'<article class="comment" id="c{i}"><p>Comment {i}: ')
            doc.a(target, _plain(f"my site {i}"), rel=rel, form="absolute", wrap="")
            doc.add("</p></article>\n")
        return _html(doc, "comments")

    # -- fixtures: bücher.test --------------------------------------------------------------

    def _idn_fixtures(self) -> list[Fixture]:
        return [("/unicode", "", self._unicode, "Unicode")]

    def _unicode(self) -> _Spec:
        doc = _Doc(_Url(IDN_ASCII, "/unicode"), "Bücher über Bücher", lang="de")
        doc.a(self._p(IDN, 1), _plain("Bücher über Öl"), href=f"http://{IDN_UNICODE}/p/1")
        doc.a(self._p(IDN, 2), _plain("日本語のページ"), href=f"//{IDN_UNICODE.upper()}/p/2")
        doc.a(self._p(IDN, 3), _plain("Ελληνικά"), href=f"http://{IDN_ASCII}/p/3")
        doc.a(self._p(IDN, 4), _plain("\U0001f4da Bibliothek"), href="/p/4")
        doc.a(self._p(ZOO, 4), _plain("Zurück zum Zoo"), form="absolute")
        return _html(doc, "unicode")

    # -- fixtures: site-06, non-HTML, errors, encodings -------------------------------------

    def _files_fixtures(self) -> list[Fixture]:
        host = self.hosts[FILES]
        notes = f'See <a href="http://{host}/p/9">page 9</a> (plain text, never parsed).\n'
        error = '<!DOCTYPE html><html><body><h1>500</h1><p><a href="/p/1">x</a></p></body></html>\n'
        files: list[tuple[str, str, int, str, bytes, str]] = [
            # (path, kind, status, Content-Type, body, label on the home page)
            ("/files/report.pdf", "pdf", 200, "application/pdf", _pdf_bytes(f"http://{host}/p/7"),
             "Report (PDF)"),
            ("/files/logo.png", "png", 200, "image/png", _png_bytes(), "Logo (PNG)"),
            ("/files/notes.txt", "text", 200, "text/plain; charset=utf-8", notes.encode(),
             "Notes (text)"),
            ("/error/500", "server_error", 500, _HTML_UTF8, error.encode(), "Server error"),
        ]  # fmt: skip
        missing = "/files/missing.pdf"
        moscow = "/wiki/%D0%9C%D0%BE%D1%81%D0%BA%D0%B2%D0%B0"
        return [
            *(
                (path, "", partial(_Spec, status, kind, [("Content-Type", ctype)], body), label)
                for path, kind, status, ctype, body, label in files
            ),
            (missing, "", partial(self._not_found, FILES, missing), "Missing file"),
            ("/big/chunked", "", partial(self._oversize, chunked=True), "Huge page (chunked)"),
            ("/big/length", "", partial(self._oversize, chunked=False), "Huge page (length)"),
            ("/malformed", "", self._malformed, "Malformed HTML"),
            ("/cp1251", "", self._cp1251, "Windows-1251"),
            self._leaf(FILES, moscow, "escape"),
            ("/xhtml", "", self._xhtml, "XHTML"),
            ("/no-type", "", self._no_type, "No Content-Type"),
            *self._sitemap_fixtures(),
        ]

    def oversize_size(self) -> int:
        """Exact byte size of the oversize page (always > ``config.oversize_bytes``)."""
        head, line, tail, lines = self._oversize_parts()
        return len(head) + lines * len(line) + len(tail)

    def _oversize_parts(self) -> tuple[bytes, bytes, bytes, int]:
        head = (
            b'<!DOCTYPE html>\n<html>\n<head>\n<meta charset="utf-8">\n'
            b"<title>Oversize page</title>\n</head>\n<body>\n"
            b'<p><a href="/p/1">Page 1</a></p>\n'
        )
        line = b"<p>" + (" ".join(_WORDS).encode() * 2)[:1000] + b"</p>\n"
        tail = b"</body>\n</html>\n"
        want = self.config.oversize_bytes + OVERSIZE_SLACK - len(head) - len(tail)
        return head, line, tail, -(-want // len(line))

    def _oversize(self, *, chunked: bool) -> _Spec:
        head, line, tail, lines = self._oversize_parts()

        def chunks() -> Iterator[bytes]:
            yield head
            block = line * 64
            full, rest = divmod(lines, 64)
            for _ in range(full):
                yield block
            yield line * rest + tail

        headers = [("Content-Type", _HTML_UTF8)]
        if not chunked:
            headers.append(("Content-Length", str(self.oversize_size())))
        return _Spec(200, "oversize", headers, stream=chunks, error="oversize")

    def _malformed(self) -> _Spec:
        h = FILES

        def p(k: int) -> str:
            return self._p(h, k).path

        markup = f"""<!DOCTYPE html>
<html>
<head>
<meta charset="utf-8">
<title>Malformed <a href="/malformed/in-title">markup</a></title>
<body>
<div class=wrapper>
<p>Unclosed paragraph with <a href="{p(1)}">one <b>bold</a> tail
<p>Missing end tag: <a href="{p(2)}">two <a href="{p(3)}">three</a>
<p><a href="{p(4)}"><i>four</a> italic tail</i>
<p><A HREF={p(5)} REL=NoFollow>five</A>
<p><a href="{p(6)}" href="{p(7)}">six</a>
<table><a href="{p(8)}">eight</a><tr><td><a href='{p(9)}'>nine</td></tr></table>
<!-- <a href="/malformed/in-comment">comment</a> -->
<script>document.write('<a href="/malformed/in-script">script</a>');</script>
<textarea><a href="/malformed/in-textarea">textarea</a></textarea>
<p>un<a href="{p(10)}">us<b>ual</b></a>
<ul><li><a href="{p(11)}">eleven</a><li><a href="{p(12)}">twelve</a></ul>
<p><a href="{p(13)}">thirteen<p>carried over</a>
<p><a href="{p(14)}">fourteen
"""
        expected = [
            (1, "one bold", None),
            (2, "two", None),
            (3, "three", None),
            (4, "four", None),
            (5, "five", "NoFollow"),
            (6, "six", None),
            (8, "eight", None),
            (9, "nine", None),
            (10, "usual", None),
            (11, "eleven", None),
            (12, "twelve", None),
            (13, "thirteen", None),
            (13, "carried over", None),
            (14, "fourteen", None),
        ]
        spec = _Spec(200, "malformed", [("Content-Type", _HTML_UTF8)], markup.encode(), parsed=True)
        spec.edges = [
            _Edge(str(self._p(h, k)), "a", text, _rel_tokens(rel)) for k, text, rel in expected
        ]
        return spec

    def _cp1251(self) -> _Spec:
        h, host = FILES, self.hosts[FILES]
        doc = _Doc(_Url(host, "/cp1251"), "Новости и статьи", lang="ru")
        doc.add("<h1>Новости</h1>\n")
        doc.a(self._home(h), _plain("Главная страница"), form="root")
        doc.a(self._p(h, 1), _plain("Новости  культуры"), form="root")
        article = ("Статья", "\u043e погоде")  # "about the weather"
        doc.a(
            self._p(h, 2),
            _Label(f"<b>{article[0]}</b> {article[1]}", " ".join(article)),
            form="absolute",
        )
        moscow = _Url(host, "/wiki/%D0%9C%D0%BE%D1%81%D0%BA%D0%B2%D0%B0")
        doc.a(moscow, _plain("Москва"), href="/wiki/Москва")
        doc.a(moscow, _plain("Москва (escaped)"), href=moscow.path)
        body = doc.render(charset="windows-1251")
        spec = _Spec(200, "charset", [("Content-Type", "text/html")], body, parsed=True)
        spec.edges = list(doc.edges)
        return spec

    def _xhtml(self) -> _Spec:
        host = self.hosts[FILES]
        body = (
            '<?xml version="1.0" encoding="UTF-8"?>\n<!DOCTYPE html>\n'
            '<html xmlns="http://www.w3.org/1999/xhtml">\n<head><meta charset="UTF-8"/>'
            "<title>XHTML page</title></head>\n<body>\n"
            f'<p><a href="{self._p(FILES, 4).path}">XHTML link</a></p>\n'
            '<p><a href="/">Home</a></p>\n</body>\n</html>\n'
        ).encode()
        spec = _Spec(
            200,
            "xhtml",
            [("Content-Type", "application/xhtml+xml; charset=utf-8")],
            body,
            parsed=True,
        )
        spec.edges = [
            _Edge(str(self._p(FILES, 4)), "a", "XHTML link"),
            _Edge(f"http://{host}/", "a", "Home"),
        ]
        return spec

    def _no_type(self) -> _Spec:
        body = (
            b"<!DOCTYPE html>\n<html>\n<head><title>No content type</title></head>\n<body>\n"
            b'<p><a href="/p/5">Untyped but HTML</a></p>\n</body>\n</html>\n'
        )
        spec = _Spec(200, "no_content_type", [], body, parsed=True)
        spec.edges = [_Edge(str(self._p(FILES, 5)), "a", "Untyped but HTML")]
        return spec

    # -- fixtures: sitemaps -----------------------------------------------------------------

    def _sitemap_fixtures(self) -> list[Fixture]:
        """site-06's sitemaps (named by its robots.txt, linked from nowhere) and the pages
        only they list."""
        orphans = ("sitemap-only", "gzipped", "text", "after-break")
        return [
            ("/sitemaps/index.xml", "", self._sitemap_index, None),
            ("/sitemaps/pages.xml", "", self._sitemap_pages, None),
            ("/sitemaps/more.xml.gz", "", self._sitemap_gzip, None),
            ("/sitemaps/pages.txt", "", self._sitemap_text, None),
            ("/sitemaps/broken.xml", "", self._sitemap_broken, None),
            *(self._leaf(SITEMAP_HOST, f"/orphan/{name}", "orphan") for name in orphans),
        ]

    @staticmethod
    def _sitemap(body: bytes, edges: list[_Edge], content_type: str = "application/xml") -> _Spec:
        spec = _Spec(200, "sitemap", [("Content-Type", content_type)], body)
        spec.edges = edges
        return spec

    def _sitemap_index(self) -> _Spec:
        host = self.hosts[SITEMAP_HOST]
        pages, more = f"http://{host}/sitemaps/pages.xml", f"http://{host}/sitemaps/more.xml.gz"
        body = _sitemap_xml(
            "sitemapindex",
            # the second <loc> is relative: resolved against the index's URL
            [(pages, "2024-05-01T12:00:00+02:00", ""), ("/sitemaps/more.xml.gz", None, "")],
        )
        return self._sitemap(
            body,
            [_Edge(pages, "sitemap", lastmod=datetime(2024, 5, 1, 10, tzinfo=UTC)),
             _Edge(more, "sitemap")],
        )  # fmt: skip

    def _sitemap_pages(self) -> _Spec:
        h, host = SITEMAP_HOST, self.hosts[SITEMAP_HOST]
        image = f"<image:image><image:loc>http://{host}/files/logo.png</image:loc></image:image>"
        orphan, private = (
            f"http://{host}/orphan/sitemap-only",
            f"http://{host}/private/from-sitemap",
        )
        rows: list[tuple[str, str | None, str, str | None, datetime | None]] = [
            # (<loc> as written, <lastmod>, extra markup, canonical URL or None, lastmod)
            (str(self._p(h, 1)), "2024-05-02", image, str(self._p(h, 1)),
             datetime(2024, 5, 2, tzinfo=UTC)),
            (f"http://{host.upper()}{self._p(h, 3).path}", "2024-05-03T08:30:00Z", "",
             str(self._p(h, 3)), datetime(2024, 5, 3, 8, 30, tzinfo=UTC)),
            (orphan, "2024-05-04T10:00:00.5-05:00", "", orphan,
             datetime(2024, 5, 4, 15, 0, 0, 500_000, tzinfo=UTC)),
            (str(self._p(h, 4)), "yesterday", "", str(self._p(h, 4)), None),
            # another host: not the sitemap's to list (sitemaps.org), skipped
            (str(self._p(ZOO, 5)), None, "", None, None),
            # relative; disallowed by robots.txt: an edge, never fetched
            ("/private/from-sitemap", None, "", private, None),
        ]  # fmt: skip
        body = _sitemap_xml(
            "urlset",
            [(loc, lastmod, extra) for loc, lastmod, extra, _, _ in rows],
            ' xmlns:image="http://www.google.com/schemas/sitemap-image/1.1"',
        )
        edges = [_Edge(url, "sitemap", lastmod=when) for _, _, _, url, when in rows if url]
        return self._sitemap(body, edges)

    def _sitemap_gzip(self) -> _Spec:
        h, host = SITEMAP_HOST, self.hosts[SITEMAP_HOST]
        page, orphan = str(self._p(h, 6)), f"http://{host}/orphan/gzipped"
        body = _sitemap_xml("urlset", [(page, "2024-06-01", ""), (orphan, None, "")])
        edges = [
            _Edge(page, "sitemap", lastmod=datetime(2024, 6, 1, tzinfo=UTC)),
            _Edge(orphan, "sitemap"),
        ]
        # mtime=0: the same bytes every time
        return self._sitemap(gzip.compress(body, mtime=0), edges, "application/x-gzip")

    def _sitemap_text(self) -> _Spec:
        h, host = SITEMAP_HOST, self.hosts[SITEMAP_HOST]
        urls = [str(self._p(h, 7)), f"http://{host}/orphan/text", str(self._p(h, 8))]
        # a blank line, spaces around a URL and a line that is no URL (skipped)
        body = f"{urls[0]}\n{urls[1]}\n\n  {urls[2]}  \nnot a url\n".encode()
        edges = [_Edge(url, "sitemap") for url in urls]
        return self._sitemap(body, edges, "text/plain; charset=utf-8")

    def _sitemap_broken(self) -> _Spec:
        h, host = SITEMAP_HOST, self.hosts[SITEMAP_HOST]
        page = str(self._p(h, 2))
        # the second <url> is never closed: the entry before the error is kept, the rest
        # of the file (/orphan/after-break) is not read
        body = (
            '<?xml version="1.0" encoding="UTF-8"?>\n'
            '<urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">\n'
            f"<url><loc>{page}</loc></url>\n"
            f"<url><loc>http://{host}/orphan/after-break</loc>\n<url>\n"
            "</urlset>\n"
        ).encode()
        return self._sitemap(body, [_Edge(page, "sitemap")])

    def _default_sitemap(self) -> _Spec:
        h, host = DEFAULT_SITEMAP_HOST, self.hosts[DEFAULT_SITEMAP_HOST]
        orphan, page = f"http://{host}/orphan/default-sitemap", str(self._p(h, 2))
        body = _sitemap_xml("urlset", [(orphan, "2024-07-01", ""), (page, None, "")])
        edges = [
            _Edge(orphan, "sitemap", lastmod=datetime(2024, 7, 1, tzinfo=UTC)),
            _Edge(page, "sitemap"),
        ]
        return self._sitemap(body, edges)


def _sitemap_xml(root: str, entries: Iterable[tuple[str, str | None, str]], ns: str = "") -> bytes:
    """A sitemaps.org XML document: ``entries`` are (loc, lastmod or None, extra markup)."""
    tag = "sitemap" if root == "sitemapindex" else "url"
    lines = [
        '<?xml version="1.0" encoding="UTF-8"?>',
        f'<{root} xmlns="http://www.sitemaps.org/schemas/sitemap/0.9"{ns}>',
    ]
    for loc, lastmod, extra in entries:
        when = "" if lastmod is None else f"<lastmod>{lastmod}</lastmod>"
        lines.append(f"  <{tag}><loc>{_text(loc)}</loc>{when}{extra}</{tag}>")
    lines.append(f"</{root}>")
    return ("\n".join(lines) + "\n").encode()
