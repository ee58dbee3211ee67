"""Sitemaps (sitemaps.org protocol 0.9): a fetched body -> the URLs it lists, and why not.

Pure functions over bytes and strings (no Scrapy import): the spider fetches a sitemap,
:func:`parse_sitemap` reads it, and the caller decides what to request. Bad input never
raises: whatever could be read is kept and every problem is described in
:attr:`Sitemap.problems` (a short message each, first :data:`MAX_PROBLEMS` listed).

* :func:`parse_sitemap` reads a ``urlset``, a ``sitemapindex`` or a text sitemap, gzipped
  or not, into a :class:`Sitemap` of :class:`SitemapEntry`.
* :func:`parse_w3c_datetime` reads a ``<lastmod>`` (W3C Datetime) as a UTC datetime.
* :func:`sitemap_urls_from_robots` and :func:`default_sitemap_url` say where a host's
  sitemaps are.

The rules, with their sources:

* Formats (sitemaps.org "Sitemap file format", "Other formats"): an XML ``urlset`` of
  ``<url>`` entries or a ``sitemapindex`` of ``<sitemap>`` entries, each with ``<loc>``
  and optional ``<lastmod>``, ``<changefreq>``, ``<priority>``; or a UTF-8 text file of
  one URL a line (blank lines and surrounding whitespace ignored). RSS/Atom feeds, which
  the protocol also accepts, are not read: their kind is ``unknown``, with a problem.
* Namespaces: the root is recognised by its local name whatever its namespace (the
  sitemaps.org one, none, or an old/wrong one, as crawler-commons in lenient mode and
  search engines accept) and whatever its prefix; the entry and field elements must be in
  the root's namespace. Elements of other namespaces (``image:``, ``news:``, ``video:``,
  ``xhtml:link``, ``PageMap``, ``mobile:``) are ignored, including their own ``loc``.
  An entry with no ``<loc>`` but text of its own (``<sitemap>https://...</sitemap>``) uses
  that text (crawler-commons reads such index files too). A ``<sitemap>`` in a
  ``urlset`` (or ``<url>`` in an index) is ignored, with a problem.
* Limits (sitemaps.org "Sitemap Index files"): at most ``SITEMAP_MAX_URLS`` entries
  (50,000) and ``SITEMAP_MAX_BYTES`` (50 MiB) *uncompressed* per file. Past either limit
  the rest is dropped, :attr:`Sitemap.truncated` is set and a problem says so. A ``<loc>``
  must be shorter than 2,048 characters (sitemaps.org "XML tag definitions").
* Gzip is recognised by its magic bytes (``1f 8b``), whatever the URL or headers say, and
  decompressed up to the byte limit, so a gzip bomb stops there. Concatenated gzip
  members are read; one level of gzip is undone (a transfer ``Content-Encoding`` is the
  HTTP stack's job). A UTF-8 BOM and whitespace before the document are skipped.
* XML is read by lxml's pull parser, hardened: no entity substitution, no DTD loading, no
  network, no huge-tree mode. A document with a DOCTYPE is refused before any entry is
  read (sitemaps have none; DOCTYPEs carry billion-laughs and XXE attacks). Malformed XML
  is reported with its line, and the entries read before the error are kept.
* URLs are made canonical exactly as links are (:func:`linkcrawl.urls.canonicalize`);
  a relative ``<loc>`` is resolved against the sitemap's URL (the protocol wants absolute
  URLs; resolving costs nothing and is what a browser would do), but a line of a text
  sitemap must be an absolute URL (else any text body would give URLs). A URL that is invalid,
  not http(s) or too long is skipped with the reason. Duplicates are kept (the dupefilter
  removes them).
* Hosts (sitemaps.org "Sitemap file location" and "Sitemaps & Cross Submits"): by default
  (``SITEMAP_HOST_RULE = "host"``) an entry must be on the sitemap's own host (scheme and
  port are not compared), or on a host whose robots.txt named the sitemap (pass those
  hosts as ``robots_hosts``: the cross-submission rule). ``"domain"`` relaxes that to the
  same registered domain (``example.com`` listing ``www.example.com``, common in the
  wild), ``"any"`` accepts every host. The protocol's path rule (a sitemap in
  ``/catalog/`` may only list ``/catalog/...``) is not applied: Google and Bing do not
  apply it to sitemaps named in robots.txt, and CMSs commonly break it.
* ``<lastmod>`` (W3C Datetime, https://www.w3.org/TR/NOTE-datetime): ``YYYY``,
  ``YYYY-MM``, ``YYYY-MM-DD``, then ``Thh:mm``, ``Thh:mm:ss`` or ``Thh:mm:ss.s`` with a
  zone ``Z`` or ``+hh:mm``/``-hh:mm``; a missing zone is read as UTC (as Google does), and
  ``+hhmm`` and a space for ``T`` are accepted. An invalid value is kept as text with
  ``lastmod = None`` and a problem. ``<changefreq>`` must be one of the protocol's seven
  words and ``<priority>`` a number in [0, 1]; otherwise ``None`` and a problem.
"""

from __future__ import annotations

import re
import zlib
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta, timezone
from typing import TYPE_CHECKING, Any, Literal

from lxml import etree

from linkcrawl import defaults
from linkcrawl.urls import (
    DEFAULT_STRIP_QUERY_PARAMS,
    URLError,
    canonicalize,
    normalize_host,
    registered_domain,
    url_host,
)

if TYPE_CHECKING:
    from collections.abc import Iterable

__all__ = [
    "CHANGEFREQS",
    "HOST_RULES",
    "MAX_LOC_CHARS",
    "MAX_PROBLEMS",
    "Sitemap",
    "SitemapEntry",
    "SitemapKind",
    "default_sitemap_url",
    "is_gzip",
    "parse_sitemap",
    "parse_w3c_datetime",
    "sitemap_urls_from_robots",
]

SitemapKind = Literal["urlset", "sitemapindex", "text", "unknown"]

#: The values of ``SITEMAP_HOST_RULE`` understood by :func:`parse_sitemap`.
HOST_RULES: frozenset[str] = frozenset({"host", "domain", "any"})
#: The ``<changefreq>`` values of the protocol.
CHANGEFREQS: frozenset[str] = frozenset(
    {"always", "hourly", "daily", "weekly", "monthly", "yearly", "never"}
)
#: A ``<loc>`` must be shorter than this (sitemaps.org: "less than 2,048 characters").
MAX_LOC_CHARS = 2048
#: Problems listed in :attr:`Sitemap.problems`; the rest are counted in one last message.
MAX_PROBLEMS = 100

_GZIP_MAGIC = b"\x1f\x8b"
_UTF8_BOM = b"\xef\xbb\xbf"
_UTF16_BOMS = (b"\xff\xfe", b"\xfe\xff")
_XML_WHITESPACE = b" \t\r\n"
# Stripped around values and lines: ASCII whitespace only (str.strip() would also eat
# Unicode spaces that are part of a URL; canonicalize() drops C0 controls itself).
_SPACE = " \t\r\n\f\v"
# Bytes given to the XML parser at a time: the parser stops early at the URL limit.
_CHUNK = 64 * 1024
# W3C Datetime, leniently: optional zone (read as UTC), "+hhmm", a space for "T".
_W3C_DATETIME = re.compile(
    r"(\d{4})(?:-(\d\d)(?:-(\d\d)"
    r"(?:[Tt ](\d\d):(\d\d)(?::(\d\d)(?:[.,](\d+))?)?"
    r"\s*(?:([Zz])|([+-])(\d\d):?(\d\d))?)?)?)?",
    re.ASCII,
)
_ENTRY_ELEMENT = {"urlset": "url", "sitemapindex": "sitemap"}
_ENTRY_NAMES = frozenset(_ENTRY_ELEMENT.values())
_FIELDS = frozenset({"loc", "lastmod", "changefreq", "priority"})


@dataclass(frozen=True, slots=True)
class SitemapEntry:
    """One ``<url>`` of a urlset, ``<sitemap>`` of an index, or line of a text sitemap."""

    #: The canonical URL (:func:`linkcrawl.urls.canonicalize` of ``<loc>``).
    url: str
    #: ``<lastmod>`` as a UTC datetime, or None (absent or invalid).
    lastmod: datetime | None = None
    #: ``<lastmod>`` as written (whitespace stripped), or None when absent.
    lastmod_text: str | None = None
    #: ``<changefreq>`` in lower case, or None (absent or not one of :data:`CHANGEFREQS`).
    changefreq: str | None = None
    #: ``<priority>`` in [0, 1], or None (absent or invalid).
    priority: float | None = None


@dataclass(slots=True)
class Sitemap:
    """A parsed sitemap. Build it with :func:`parse_sitemap`."""

    #: ``urlset`` (page URLs), ``sitemapindex`` (sitemap URLs), ``text`` (page URLs), or
    #: ``unknown`` (not a sitemap, or refused: see :attr:`problems`).
    kind: SitemapKind
    #: The sitemap's own URL as given to :func:`parse_sitemap`.
    url: str
    entries: list[SitemapEntry] = field(default_factory=list)
    #: Why entries, fields or the rest of the file were not read, in file order.
    problems: list[str] = field(default_factory=list)
    #: Entries dropped (bad or foreign URL, no ``<loc>``), whether listed in problems or not.
    skipped: int = 0
    #: Whether a limit (bytes or entries) cut the file.
    truncated: bool = False
    #: Problems beyond :data:`MAX_PROBLEMS`, counted but not listed.
    _unlisted: int = 0

    @property
    def urls(self) -> list[str]:
        """The entries' URLs, in file order."""
        return [entry.url for entry in self.entries]

    def add_problem(self, message: str) -> None:
        """Record a problem; past :data:`MAX_PROBLEMS` only the count grows."""
        if len(self.problems) < MAX_PROBLEMS:
            self.problems.append(message)
            return
        self._unlisted += 1
        note = f"... and {self._unlisted} more problems not listed"
        if len(self.problems) == MAX_PROBLEMS:
            self.problems.append(note)
        else:
            self.problems[-1] = note


# --------------------------------------------------------------------------- helpers


def is_gzip(body: bytes) -> bool:
    """Whether ``body`` starts with the gzip magic bytes."""
    return body[:2] == _GZIP_MAGIC


def parse_w3c_datetime(text: str) -> datetime | None:
    """Read a W3C Datetime (``<lastmod>``) as an aware UTC datetime; None when invalid.

    A date without time is midnight UTC; a time without zone is read as UTC. Fractions
    of a second beyond microseconds are cut.
    """
    match = _W3C_DATETIME.fullmatch(text.strip(_SPACE))
    if match is None:
        return None
    year, month, day, hour, minute, second, frac, _z, sign, off_h, off_m = match.groups()
    try:
        zone = UTC
        if sign is not None:
            offset = timedelta(hours=int(off_h), minutes=int(off_m))
            if int(off_h) > 23 or int(off_m) > 59:
                return None
            zone = timezone(-offset if sign == "-" else offset)
        value = datetime(
            int(year),
            int(month or 1),
            int(day or 1),
            int(hour or 0),
            int(minute or 0),
            int(second or 0),
            int((frac or "0")[:6].ljust(6, "0")),
            tzinfo=zone,
        )
        return value.astimezone(UTC)
    except (ValueError, OverflowError):
        return None


def default_sitemap_url(host_url: str) -> str:
    """The conventional sitemap location of ``host_url``'s host: ``<origin>/sitemap.xml``.

    Raises :class:`linkcrawl.urls.URLError` when ``host_url`` is not a usable URL.
    """
    return canonicalize("/sitemap.xml", host_url)


def sitemap_urls_from_robots(
    robots_sitemaps: Iterable[str],
    host_url: str,
    strip_params: tuple[str, ...] = DEFAULT_STRIP_QUERY_PARAMS,
) -> list[str]:
    """The canonical sitemap URLs named by a host's robots.txt ``Sitemap:`` lines
    (``strip_params``: the crawl's ``LINKCRAWL_STRIP_QUERY_PARAMS``, as for links).

    ``robots_sitemaps`` is :attr:`linkcrawl.robots.RobotsTxt.sitemaps` (as written, maybe
    relative: resolved against the host's ``/robots.txt``); ``host_url`` is any URL of the
    host. Invalid and non-http(s) URLs are dropped, repeats removed, order kept. Any host
    is accepted: robots.txt may name sitemaps elsewhere (cross-submission); pass the
    robots host to :func:`parse_sitemap` as ``robots_hosts``. Never raises on content:
    an invalid ``host_url`` resolves only absolute sitemap URLs.
    """
    try:
        base: str | None = canonicalize("/robots.txt", host_url)
    except URLError:
        base = None
    found: dict[str, None] = {}
    for written in robots_sitemaps:
        raw = written.strip(_SPACE)
        if not raw or len(raw) >= MAX_LOC_CHARS:
            continue
        try:
            found.setdefault(canonicalize(raw, base, strip_params))
        except URLError:
            continue
    return list(found)


def _brief(text: str, limit: int = 120) -> str:
    """``repr(text)``, cut to ``limit`` characters: problems end up in logs."""
    shown = repr(text)
    return shown if len(shown) <= limit else f"{shown[: limit - 3]}..."


def _gunzip(body: bytes, max_bytes: int, sitemap: Sitemap) -> bytes:
    """Decompress gzip members, at most ``max_bytes + 1`` bytes of output in all."""
    out = bytearray()
    rest = body
    while rest[:2] == _GZIP_MAGIC:
        inflater = zlib.decompressobj(wbits=16 + zlib.MAX_WBITS)
        try:
            out += inflater.decompress(rest, max_bytes + 1 - len(out))
        except zlib.error as exc:
            sitemap.add_problem(f"corrupt gzip data ({exc}): read {len(out)} bytes before it")
            break
        if len(out) > max_bytes:
            break  # the caller reports the limit
        if not inflater.eof:
            sitemap.add_problem(f"gzip data ends early (cut download?): read {len(out)} bytes")
            break
        rest = inflater.unused_data  # another member, or trailing bytes (ignored)
    return bytes(out)


# --------------------------------------------------------------------------- the parser


class _Reader:
    """Turns ``<loc>`` strings into entries under the URL, host and count rules."""

    def __init__(
        self,
        sitemap: Sitemap,
        base_url: str,
        max_urls: int,
        host_rule: str,
        robots_hosts: Iterable[str],
        *,
        strip_params: tuple[str, ...],
    ) -> None:
        if host_rule not in HOST_RULES:
            msg = f"unknown host rule {host_rule!r}, expected one of {sorted(HOST_RULES)}"
            raise ValueError(msg)
        self.sitemap = sitemap
        self.max_urls = max_urls
        self.host_rule = host_rule
        self.strip_params = strip_params
        self.base: str | None
        try:
            self.base = canonicalize(base_url)
        except URLError as exc:
            self.base = None
            sitemap.add_problem(f"sitemap URL is not usable ({exc}): relative URLs are dropped")
        hosts = {url_host(self.base)} if self.base is not None else set()
        for host in robots_hosts:
            try:
                hosts.add(normalize_host(host))
            except URLError:
                continue
        self.hosts = frozenset(hosts)
        self.domains = frozenset(registered_domain(h) for h in hosts)

    def full(self) -> bool:
        """Whether the entry limit is reached; notes the truncation the first time."""
        if len(self.sitemap.entries) < self.max_urls:
            return False
        if not self.sitemap.truncated:
            self.sitemap.truncated = True
            self.sitemap.add_problem(
                f"more than {self.max_urls} entries (limit): the rest of the file is dropped"
            )
        return True

    def skip(self, where: str, why: str) -> None:
        self.sitemap.skipped += 1
        self.sitemap.add_problem(f"{where}: skipped, {why}")

    def url(self, loc: str, where: str, *, relative: bool = True) -> str | None:
        """The canonical URL of ``loc``, or None (skipped, with the reason).

        ``relative``: resolve a relative ``loc`` against the sitemap's URL (else skip it).
        """
        if len(loc) >= MAX_LOC_CHARS:
            self.skip(where, f"URL of {len(loc)} characters (limit {MAX_LOC_CHARS - 1})")
            return None
        try:
            url = canonicalize(loc, self.base if relative else None, self.strip_params)
        except URLError as exc:
            self.skip(where, f"bad URL: {exc}")
            return None
        if self.host_rule == "any":
            return url
        host = url_host(url)
        if host in self.hosts:
            return url
        if self.host_rule == "domain" and registered_domain(host) in self.domains:
            return url
        self.skip(where, f"URL on host {host!r}, not the sitemap's ({self.host_rule} rule)")
        return None

    def add(self, fields: dict[str, str], where: str) -> None:
        """Add the entry made of ``fields`` (``loc`` and the optional ones)."""
        loc = fields.get("loc", "")
        if not loc:
            self.skip(where, "no <loc>")
            return
        url = self.url(loc, where)
        if url is None:
            return
        lastmod_text = fields.get("lastmod")
        lastmod = None
        if lastmod_text is not None:
            lastmod = parse_w3c_datetime(lastmod_text)
            if lastmod is None:
                self.sitemap.add_problem(
                    f"{where}: lastmod {_brief(lastmod_text)} is not a W3C datetime, ignored"
                )
        changefreq = fields.get("changefreq")
        if changefreq is not None:
            changefreq = changefreq.lower()
            if changefreq not in CHANGEFREQS:
                self.sitemap.add_problem(
                    f"{where}: changefreq {_brief(changefreq)} is not one of the protocol's"
                )
                changefreq = None
        priority = _priority(fields.get("priority"), where, self.sitemap)
        self.sitemap.entries.append(SitemapEntry(url, lastmod, lastmod_text, changefreq, priority))


def _priority(text: str | None, where: str, sitemap: Sitemap) -> float | None:
    if text is None:
        return None
    try:
        value = float(text)
    except ValueError:
        value = -1.0
    if 0.0 <= value <= 1.0:
        return value
    sitemap.add_problem(f"{where}: priority {_brief(text)} is not a number in [0, 1], ignored")
    return None


def _split_tag(tag: Any) -> tuple[str, str]:
    """``"{ns}local"`` -> ``("ns", "local")``; ``"local"`` -> ``("", "local")``."""
    text = str(tag)
    if text[:1] == "{":
        ns, _, local = text[1:].partition("}")
        return ns, local
    return "", text


def _read_text(data: bytes, reader: _Reader, truncated: bool) -> None:
    text = data.decode("utf-8", "replace")
    if truncated:
        text = text[: text.rfind("\n") + 1]  # the last line may be cut
    for number, line in enumerate(text.split("\n"), start=1):
        loc = line.strip(_SPACE)
        if not loc:
            continue
        if reader.full():
            return
        url = reader.url(loc, f"line {number}", relative=False)
        if url is not None:
            reader.sitemap.entries.append(SitemapEntry(url))


def _read_xml(data: bytes, reader: _Reader) -> None:
    sitemap = reader.sitemap
    parser = etree.XMLPullParser(
        events=("start", "end"),
        resolve_entities=False,
        load_dtd=False,
        dtd_validation=False,
        no_network=True,
        huge_tree=False,
        remove_comments=True,
        remove_pis=True,
    )
    state = _XmlState(reader)
    # lxml's error log is per thread, not per parser: start this parse with an empty one.
    etree.clear_error_log()
    try:
        for offset in range(0, len(data), _CHUNK):
            parser.feed(data[offset : offset + _CHUNK])
            if not state.handle(parser.read_events()):
                return
        parser.close()
    except etree.XMLSyntaxError as exc:
        # Events parsed before the error are still queued: keep their entries.
        if state.handle(parser.read_events()):
            # The first fatal error is the cause; lxml may raise a later, vaguer one
            # ("no element found", line 0) when the parser stopped at it silently.
            fatals = exc.error_log.filter_from_fatals()
            if fatals:
                line, message = fatals[0].line, str(fatals[0].message).strip()
            else:
                line, message = exc.lineno, str(exc.msg or exc).strip()
            sitemap.add_problem(
                f"malformed XML at line {line}: {message}; the rest of the file is not read"
            )
    if sitemap.kind == "unknown" and state.root is None and not sitemap.problems:
        sitemap.add_problem("no XML element found")


class _XmlState:
    """Follows the pull parser's events: depth 1 the root, 2 entries, 3 their fields."""

    def __init__(self, reader: _Reader) -> None:
        self.reader = reader
        self.sitemap = reader.sitemap
        self.depth = 0
        self.root: str | None = None
        self.ns = ""
        self.entry_name = ""
        self.fields: dict[str, str] = {}

    def handle(self, events: Iterable[tuple[str, Any]]) -> bool:
        """Handle events; False once reading must stop (refused, unknown, or full)."""
        for event, elem in events:
            if event == "start":
                self.depth += 1
                if self.depth == 1 and not self.start_root(elem):
                    return False
                if self.depth == 2:
                    self.fields = {}
                continue
            depth = self.depth
            self.depth -= 1
            if depth == 3:
                ns, local = _split_tag(elem.tag)
                if ns == self.ns and local in _FIELDS and local not in self.fields:
                    self.fields[local] = (elem.text or "").strip(_SPACE)
            elif depth == 2:
                ns, local = _split_tag(elem.tag)
                if ns == self.ns and local in _ENTRY_NAMES and local != self.entry_name:
                    self.sitemap.add_problem(
                        f"<{local}> at line {elem.sourceline}: ignored, "
                        f"not an entry of a <{self.root}>"
                    )
                elif ns == self.ns and local == self.entry_name:
                    if self.reader.full():
                        return False
                    if "loc" not in self.fields and len(elem) == 0:
                        self.fields["loc"] = (elem.text or "").strip(_SPACE)
                    where = f"<{local}> at line {elem.sourceline}"
                    self.reader.add(self.fields, where)
                # Free the finished entry and everything before it.
                elem.clear()
                parent = elem.getparent()
                while parent is not None and elem.getprevious() is not None:
                    del parent[0]
        return True

    def start_root(self, elem: Any) -> bool:
        docinfo = elem.getroottree().docinfo
        if docinfo.doctype or docinfo.internalDTD is not None:
            self.sitemap.add_problem(
                "XML with a DOCTYPE refused (sitemaps have none; entity expansion and "
                "external entities are not allowed): no entry read"
            )
            return False
        self.ns, self.root = _split_tag(elem.tag)
        if self.root not in _ENTRY_ELEMENT:
            self.sitemap.add_problem(
                f"not a sitemap: the root element is <{self.root}>, not <urlset> or <sitemapindex>"
            )
            return False
        self.sitemap.kind = "urlset" if self.root == "urlset" else "sitemapindex"
        self.entry_name = _ENTRY_ELEMENT[self.root]
        return True


def parse_sitemap(
    body: bytes,
    base_url: str,
    *,
    max_bytes: int = defaults.SITEMAP_MAX_BYTES,
    max_urls: int = defaults.SITEMAP_MAX_URLS,
    host_rule: str = defaults.SITEMAP_HOST_RULE,
    robots_hosts: Iterable[str] = (),
    strip_params: tuple[str, ...] = DEFAULT_STRIP_QUERY_PARAMS,
) -> Sitemap:
    """Parse a fetched sitemap ``body`` (as downloaded, maybe gzipped) found at ``base_url``.

    ``max_bytes`` caps the (decompressed) bytes read, ``max_urls`` the entries kept;
    ``host_rule`` (``host``, ``domain``, ``any``) and ``robots_hosts`` (hosts, or URLs,
    whose robots.txt named this sitemap; invalid ones are ignored) decide which hosts
    entries may be on (see the module docstring); entries are made canonical with
    ``strip_params`` (the crawl's ``LINKCRAWL_STRIP_QUERY_PARAMS``, as links are, so that
    a page listed and linked is one node). Never raises on content; raises
    :class:`ValueError` for an unknown ``host_rule``.
    """
    sitemap = Sitemap(kind="unknown", url=base_url)
    reader = _Reader(sitemap, base_url, max_urls, host_rule, robots_hosts,
                     strip_params=strip_params)  # fmt: skip
    data = _gunzip(body, max_bytes, sitemap) if is_gzip(body) else body
    truncated = len(data) > max_bytes
    if truncated:
        data = data[:max_bytes]
        sitemap.truncated = True
        sitemap.add_problem(
            f"more than {max_bytes} bytes (limit, after decompression): "
            "only the first ones are read"
        )
    if data.startswith(_UTF8_BOM):
        data = data[len(_UTF8_BOM) :]
    if data.startswith(_UTF16_BOMS):
        _read_xml(data, reader)
        return sitemap
    data = data.lstrip(_XML_WHITESPACE)
    if data.startswith(b"<"):
        _read_xml(data, reader)
    elif data:
        sitemap.kind = "text"
        _read_text(data, reader, truncated)
    else:
        sitemap.add_problem("empty sitemap")
    return sitemap
