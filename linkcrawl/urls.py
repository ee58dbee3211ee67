"""URL rules shared by the whole crawler: one canonical form, its node id, host and domain.

Everything here is a pure function over strings (no Scrapy import): the spider, the
dupefilter, the link extractor, the Parquet pipeline and the test web all call the same
code, so a URL has the same canonical form, node id and domain everywhere. The rules are
`docs/rules.md` section 1; the reasons behind them are in `docs/urls.md`.

* :func:`parse_url` is the WHATWG URL Standard (ada-url), any scheme.
* :func:`canonicalize` is the crawler's canonical form of an http(s) URL.
* :func:`node_id` is the graph node id and dedupe fingerprint of a canonical URL.
* :func:`url_host`, :func:`registered_domain` and :func:`url_facts` give its host and
  registered domain (Public Suffix List, pinned copy in ``linkcrawl/data``).
* :func:`in_scope` and :func:`is_private_address` are the crawl's scope and address guard.

Every error raised for a bad URL is a :class:`URLError` (a :class:`ValueError`).
"""

from __future__ import annotations

import ipaddress
import string
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources
from typing import TYPE_CHECKING
from urllib.parse import unquote_plus

import ada_url
import xxhash
from publicsuffixlist import PublicSuffixList

from linkcrawl import defaults

if TYPE_CHECKING:
    from collections.abc import Iterable

__all__ = [
    "DEFAULT_STRIP_QUERY_PARAMS",
    "SCOPES",
    "InvalidURL",
    "URLError",
    "UnsupportedScheme",
    "UrlFacts",
    "canonicalize",
    "fingerprint",
    "in_scope",
    "is_private_address",
    "node_id",
    "normalize_host",
    "parse_url",
    "registered_domain",
    "registrable_domain",
    "url_facts",
    "url_host",
]


class URLError(ValueError):
    """A string that linkcrawl cannot use as a URL. The one error type of this module."""


class InvalidURL(URLError):
    """The WHATWG URL Standard rejects the string (or its base)."""


class UnsupportedScheme(URLError):
    """A valid URL whose scheme is not ``http`` or ``https`` (``mailto:``, ``ftp:`` ...)."""


#: Tracking query parameters removed by :func:`canonicalize` (``LINKCRAWL_STRIP_QUERY_PARAMS``).
#: Names are matched case-insensitively against the decoded parameter name; a trailing
#: ``*`` makes the entry a prefix.
DEFAULT_STRIP_QUERY_PARAMS: tuple[str, ...] = tuple(defaults.LINKCRAWL_STRIP_QUERY_PARAMS)

#: The values of ``LINKCRAWL_SCOPE`` understood by :func:`in_scope`.
SCOPES: frozenset[str] = frozenset({"all", "seed_hosts", "seed_domains", "allowlist"})

# Parameter names compare ASCII-case-insensitively: str.lower() would also turn the
# Kelvin sign into "k", which a screen over the (percent-encoded) query cannot see.
_ASCII_LOWER = str.maketrans(string.ascii_uppercase, string.ascii_lowercase)
_UNRESERVED = frozenset(string.ascii_letters + string.digits + "-._~")
_HEXDIGITS = frozenset(string.hexdigits)


def _build_percent_table() -> dict[str, str]:
    """Map every two-hex-digit string (any case) to its normalised form.

    An escape of an unreserved character becomes the character, any other escape gets
    upper-case hex: ``"7e" -> "~"``, ``"2f" -> "%2F"``.
    """
    table: dict[str, str] = {}
    for hi in string.hexdigits:
        for lo in string.hexdigits:
            char = chr(int(hi + lo, 16))
            table[hi + lo] = char if char in _UNRESERVED else f"%{hi}{lo}".upper()
    return table


_PERCENT_TABLE = _build_percent_table()


# --------------------------------------------------------------------------- parsing


def _ada_href(url: str, base: str | None) -> str:
    """Return the WHATWG ``href`` of ``url`` resolved against ``base``; raise InvalidURL.

    ``ada_url.normalize_url``/``join_url`` return the ``href`` in one call, which is
    faster than ``ada_url.URL(...).href`` (two foreign calls through ``__getattr__``).
    """
    try:
        if base is None:
            return ada_url.normalize_url(url)
        return ada_url.join_url(base, url)
    except ValueError:
        pass
    # The slow path: only strings that failed. Distinguish programming errors, and give
    # lone surrogates (not encodable as UTF-8) the treatment a browser gives them: a JS
    # string becomes a USVString, each lone surrogate U+FFFD.
    if not isinstance(url, str) or not (base is None or isinstance(base, str)):
        msg = f"URL and base must be str, not {type(url).__name__}/{type(base).__name__}"
        raise TypeError(msg)
    fixed_url, fixed_base = _usv(url), None if base is None else _usv(base)
    if fixed_url != url or fixed_base != base:
        return _ada_href(fixed_url, fixed_base)
    against = "" if base is None else f" (base {_brief(base)})"
    raise InvalidURL(f"invalid URL: {_brief(url)}{against}")


def _brief(text: str | None, limit: int = 200) -> str:
    """``repr(text)``, cut to ``limit`` characters: error messages end up in logs."""
    shown = repr(text)
    return shown if len(shown) <= limit else f"{shown[: limit - 3]}..."


def _usv(text: str) -> str:
    """Replace lone surrogates by U+FFFD, as WebIDL's USVString conversion does."""
    return text.encode("utf-16-le", "surrogatepass").decode("utf-16-le", "replace")


def parse_url(url: str, base: str | None = None) -> str:
    """Parse ``url`` (resolved against ``base``) with the WHATWG URL Standard.

    Returns the serialised URL (``href``) for any scheme, unchanged otherwise: this is
    the browser's view of the URL, before linkcrawl's own rules. Raises
    :class:`InvalidURL` when the Standard rejects ``url`` or ``base``.
    """
    return _ada_href(url, base)


# ----------------------------------------------------------------------- canonical form


def _normalize_percent(text: str) -> str:
    """Decode ``%XX`` escapes of unreserved characters and upper-case the others.

    A ``%`` not followed by two hex digits is left alone (as the Standard does). An escape
    whose decoding would make such a stray ``%`` start a new escape (``%%41B`` would
    become ``%AB``) keeps its escaped form, so the result means what the input meant.
    """
    pieces = text.split("%")
    out = [pieces[0]]
    stray_tail = False  # does the output end with a stray "%" or "%" + one hex digit?
    for piece in pieces[1:]:
        norm = _PERCENT_TABLE.get(piece[:2])
        if norm is None:  # stray "%"
            out.append("%" + piece)
            stray_tail = len(piece) == 0 or (len(piece) == 1 and piece in _HEXDIGITS)
            continue
        if len(norm) == 1 and stray_tail and norm in _HEXDIGITS:
            norm = "%" + piece[:2].upper()
        out.append(norm + piece[2:])
        stray_tail = False
    return "".join(out)


@dataclass(frozen=True, slots=True)
class _ParamMatcher:
    """A strip list, compiled: exact names and prefixes (ASCII lower case), and a screen."""

    exact: frozenset[str]
    prefixes: tuple[str, ...]
    #: Substrings of which a lower-cased query must contain one for any parameter to
    #: match; when it contains none, the query is kept without splitting it. Exact
    #: because path and query are percent-normalised first, so an entry made of
    #: unreserved characters appears literally in any name that decodes to it. None when
    #: some entry has other characters: then every query is split.
    screen: tuple[str, ...] | None

    def strip(self, query: str) -> str:
        """Remove the matching parameters from ``query``; keep the others' bytes and order."""
        if self.screen is not None:
            lowered = query.lower()
            for needle in self.screen:
                if needle in lowered:
                    break
            else:
                return query
        exact, prefixes = self.exact, self.prefixes
        kept = []
        for piece in query.split("&"):
            name = piece.partition("=")[0]
            if "%" in name or "+" in name:
                name = unquote_plus(name, errors="replace")
            name = name.lower() if name.isascii() else name.translate(_ASCII_LOWER)
            if name not in exact and not (prefixes and name.startswith(prefixes)):
                kept.append(piece)
        return "&".join(kept)


@lru_cache(maxsize=32)
def _param_matcher(strip_params: tuple[str, ...]) -> _ParamMatcher:
    names = {p.translate(_ASCII_LOWER) for p in strip_params}
    stems = {n.removesuffix("*") for n in names}
    screen = None
    if all(stem and set(stem) <= _UNRESERVED for stem in stems):
        # A stem that contains another one needs no search of its own.
        screen = tuple(sorted(s for s in stems if not any(o != s and o in s for o in stems)))
    return _ParamMatcher(
        exact=frozenset(n for n in names if not n.endswith("*")),
        prefixes=tuple(sorted(n[:-1] for n in names if n.endswith("*"))),
        screen=screen,
    )


_DEFAULT_MATCHER = _param_matcher(DEFAULT_STRIP_QUERY_PARAMS)


def _ends_in_a_number(host: str) -> bool:
    """The Standard's "ends in a number" test, for a host without trailing dot."""
    last = host.rpartition(".")[2]
    if last.isascii() and last.isdigit():
        return True
    return last[:2] in ("0x", "0X") and all(c in _HEXDIGITS for c in last[2:])


def _strip_trailing_dots(scheme_prefix: str, authority: str, url: str) -> str:
    """Drop the trailing dots of the host in ``authority`` (``host[:port]``).

    ``a.test.`` and ``a.test`` are the same DNS name. The Standard reads a host ending in
    a number as IPv4, ignoring one trailing dot: ``foo.09..`` is a valid domain but
    ``foo.09`` is not, and ``1.2.3.4..`` is a domain while ``1.2.3.4`` is an address.
    Such a host is parsed again without its dots: an IPv4 address, or InvalidURL.
    """
    host, colon, port = authority.rpartition(":") if ".:" in authority else (authority, "", "")
    host = host.rstrip(".")
    if not host:
        raise InvalidURL(f"host has no name: {_brief(url)}")
    authority = f"{host}{colon}{port}"
    if _ends_in_a_number(host):
        try:
            reparsed = _ada_href(f"{scheme_prefix}{authority}/", None)
        except InvalidURL:
            msg = f"host {host!r} ends in a number but is no IPv4 address: {_brief(url)}"
            raise InvalidURL(msg) from None
        authority = reparsed[len(scheme_prefix) : -1]
    return authority


def canonicalize(
    url: str,
    base: str | None = None,
    strip_params: tuple[str, ...] = DEFAULT_STRIP_QUERY_PARAMS,
) -> str:
    """Return linkcrawl's canonical form of ``url`` resolved against ``base``.

    The WHATWG parse (see :func:`parse_url`), then: http(s) only, no fragment, no user
    name or password, no trailing dot in the host, normalised percent-encoding in path
    and query, tracking parameters (``strip_params``) removed, no empty query.

    Raises :class:`InvalidURL` for a string the Standard rejects (and for a host made of
    dots only, which has no canonical form), :class:`UnsupportedScheme` for any scheme
    but http and https. Never raises anything else for a ``str``.
    """
    href = _ada_href(url, base)
    if href.startswith("https://"):
        start = 8
    elif href.startswith("http://"):
        start = 7
    else:
        scheme = href.partition(":")[0]
        raise UnsupportedScheme(f"unsupported scheme {_brief(scheme, 40)}: {_brief(url)}")

    # A serialised special URL is rigid: scheme "://" [userinfo "@"] host [":" port] path
    # ["?" query] ["#" fragment], the path always starts with "/", and "@", "/", "?" and
    # "#" never appear raw where they would be ambiguous. So plain string slicing is exact.
    slash = href.index("/", start)
    if href[slash - 1] != "." and not (
        "?" in href or "#" in href or "%" in href or "@" in href or ".:" in href
    ):
        return href  # nothing to drop, decode or strip: the common case for a page URL
    authority = href[start:slash]
    if "@" in authority:
        authority = authority[authority.rindex("@") + 1 :]
    if authority[-1] == "." or ".:" in authority:
        authority = _strip_trailing_dots(href[:start], authority, url)

    tail = href[slash:]
    if "#" in tail:
        tail = tail[: tail.index("#")]
    path, _, query = tail.partition("?")
    if "%" in path:
        path = _normalize_percent(path)
    if query:
        if "%" in query:
            query = _normalize_percent(query)
        if strip_params is DEFAULT_STRIP_QUERY_PARAMS:
            query = _DEFAULT_MATCHER.strip(query)
        elif strip_params:
            query = _param_matcher(tuple(strip_params)).strip(query)
        if query:
            return f"{href[:start]}{authority}{path}?{query}"
    return f"{href[:start]}{authority}{path}"


def normalize_host(value: str) -> str:
    """Return the canonical host of a host name or URL given by a user (allowlist, seeds).

    ``"ExAmple.COM."`` and ``"https://bücher.example/x"`` give ``"example.com"`` and
    ``"xn--bcher-kva.example"``. Raises :class:`URLError` when it is not a valid host.
    """
    value = value.strip()
    if "://" not in value:
        value = f"http://{value}/"
    return url_host(canonicalize(value))


# ------------------------------------------------------------------- node id, host, domain


def node_id(canonical_url: str) -> int:
    """Return the graph node id of a canonical URL: xxh3_64 of its UTF-8, as a signed int64.

    Signed (two's complement) so that Spark, DuckDB and pandas all read it as ``BIGINT``.
    Its big-endian 8 bytes are the request fingerprint (:func:`fingerprint`).
    """
    h = xxhash.xxh3_64_intdigest(canonical_url.encode("utf-8"))
    return h - (1 << 64) if h >= (1 << 63) else h


def fingerprint(canonical_url: str) -> bytes:
    """Return the dedupe fingerprint of a canonical URL: the 8 bytes of its node id.

    This is ``xxh3_64``'s canonical (big-endian) digest; ``int.from_bytes(fp, "big",
    signed=True) == node_id(url)``.
    """
    return xxhash.xxh3_64_digest(canonical_url.encode("utf-8"))


def url_host(canonical_url: str) -> str:
    """Return the host of a canonical URL: punycode, no port, no trailing dot.

    An IPv6 address keeps its brackets (``"[::1]"``), as the WHATWG ``hostname`` does.
    ``canonical_url`` must come from :func:`canonicalize`; no other check is made.
    """
    start = canonical_url.find("://")
    if start < 0:
        raise InvalidURL(f"not a canonical URL: {_brief(canonical_url)}")
    start += 3
    end = canonical_url.find("/", start)
    authority = canonical_url[start:] if end < 0 else canonical_url[start:end]
    colon = authority.rfind(":")
    if colon >= 0 and not authority.endswith("]"):
        return authority[:colon]
    return authority


def _is_ip_literal(host: str) -> bool:
    """Whether ``host`` is an IPv4 address or an IPv6 address (bracketed or not)."""
    if host.startswith("["):
        host = host[1:-1] if host.endswith("]") else host
    elif not (host[-1:].isdigit() or ":" in host):
        return False
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return False
    return True


@lru_cache(maxsize=1)
def _public_suffix_list() -> PublicSuffixList:
    """Load the pinned Public Suffix List, once, on first use (about 60 ms)."""
    source = resources.files("linkcrawl").joinpath("data", "public_suffix_list.dat")
    return PublicSuffixList(source.read_bytes())


def registrable_domain(domain: str | None) -> str | None:
    """Return the registrable domain of ``domain`` with the PSL's own test semantics.

    Public suffix plus one label, lower-cased; ``None`` when ``domain`` is ``None``, is
    itself a public suffix, or is not a valid name (empty label, leading dot). Unlisted
    top-level domains count as public suffixes (the PSL's implicit ``*`` rule). A
    Unicode name gives a Unicode answer, a punycode name a punycode answer.
    """
    if not domain:
        return None
    result: str | None = _public_suffix_list().privatesuffix(domain.lower())
    return result


@lru_cache(maxsize=1 << 16)
def registered_domain(host: str) -> str:
    """Return the registered domain of a canonical host, as stored in the ``domain`` column.

    The PSL registrable domain (ICANN and private sections); the host itself when it is
    an IP address or is itself a public suffix (``localhost``, ``github.io``).
    """
    if not host or _is_ip_literal(host):
        return host
    return registrable_domain(host) or host


@dataclass(frozen=True, slots=True)
class UrlFacts:
    """What the graph stores about a canonical URL."""

    url: str
    node_id: int
    host: str
    domain: str


def url_facts(canonical_url: str) -> UrlFacts:
    """Return the node id, host and registered domain of a canonical URL.

    The host -> domain lookup is cached (:func:`registered_domain`).
    """
    host = url_host(canonical_url)
    return UrlFacts(canonical_url, node_id(canonical_url), host, registered_domain(host))


# ------------------------------------------------------------------ scope and address guard


def _parent_domains(host: str) -> Iterable[str]:
    """Yield ``host`` and each of its parent domains (``a.b.c``, ``b.c``, ``c``)."""
    yield host
    if _is_ip_literal(host):
        return
    dot = host.find(".")
    while dot >= 0:
        yield host[dot + 1 :]
        dot = host.find(".", dot + 1)


# Six positional parameters is the published signature other modules call; keep it.
def in_scope(  # noqa: PLR0917
    host: str,
    domain: str,
    scope: str,
    seed_hosts: frozenset[str],
    seed_domains: frozenset[str],
    allowed_domains: frozenset[str],
) -> bool:
    """Whether a URL with this canonical ``host`` and ``domain`` is in the crawl's scope.

    ``scope`` is ``LINKCRAWL_SCOPE``: ``all``; ``seed_hosts`` (the host of a seed);
    ``seed_domains`` (the registered domain of a seed); ``allowlist`` (the host or one of
    its parent domains is in ``allowed_domains``). The sets hold canonical hosts and
    domains (see :func:`normalize_host`). An unknown scope raises :class:`ValueError`.
    """
    if scope == "all":
        return True
    if scope == "seed_hosts":
        return host in seed_hosts
    if scope == "seed_domains":
        return domain in seed_domains
    if scope == "allowlist":
        return any(name in allowed_domains for name in _parent_domains(host))
    msg = f"unknown scope {scope!r}, expected one of {sorted(SCOPES)}"
    raise ValueError(msg)


_NAT64_PREFIX = ipaddress.IPv6Network("64:ff9b::/96")


def _is_private_ip(ip: ipaddress.IPv4Address | ipaddress.IPv6Address) -> bool:
    if isinstance(ip, ipaddress.IPv6Address):
        # An IPv4 address embedded in IPv6 reaches that IPv4 address (check it first:
        # the whole mapped and NAT64 ranges count as non-global).
        embedded = ip.ipv4_mapped or ip.sixtofour
        if embedded is None and ip in _NAT64_PREFIX:
            embedded = ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)
        if embedded is not None:
            return _is_private_ip(embedded)
    # Not global: private, loopback, link-local, reserved, unspecified, shared (CGNAT),
    # documentation ranges... Multicast counts as global for ipaddress: add it.
    return not ip.is_global or ip.is_multicast


def is_private_address(host: str) -> bool:
    """Whether ``host`` is a literal IP address that must not be fetched.

    Every address that is not globally reachable (``ipaddress``'s ``is_global``: loopback,
    private, link-local, shared, reserved, unspecified, documentation ranges) and
    multicast, IPv4 or IPv6 (bracketed or not), including IPv4 addresses embedded in IPv6
    (mapped, 6to4, NAT64). Host names give ``False``: check them after DNS resolution.
    """
    if host.startswith("[") and host.endswith("]"):
        host = host[1:-1]
    try:
        ip = ipaddress.ip_address(host)
    except ValueError:
        return False
    return _is_private_ip(ip)
