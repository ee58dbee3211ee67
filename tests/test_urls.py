"""Tests for linkcrawl.urls: the WHATWG parse, the canonical form, node ids, domains, scope.

Conformance data lives in tests/data (see its README for sources and licenses). Where
another canonicaliser's expected output differs from ours on purpose, the case is listed
below with our output, grouped by reason; docs/urls.md explains each reason.
"""

from __future__ import annotations

import csv
import json
from pathlib import Path
from typing import Any

import pytest
import xxhash
from hypothesis import HealthCheck, assume, example, given, settings
from hypothesis import strategies as st

from linkcrawl.urls import (
    DEFAULT_STRIP_QUERY_PARAMS,
    InvalidURL,
    UnsupportedScheme,
    URLError,
    UrlFacts,
    canonicalize,
    fingerprint,
    in_scope,
    is_private_address,
    node_id,
    normalize_host,
    parse_url,
    registered_domain,
    registrable_domain,
    url_facts,
    url_host,
)

DATA = Path(__file__).parent / "data"


def _load_json(relative: str) -> Any:
    return json.loads((DATA / relative).read_text(encoding="utf-8"))


def _csv_rows(relative: str) -> list[list[str]]:
    """Rows of a crawler-commons CSV: '#' comments and blank lines skipped, fields trimmed."""
    lines = (DATA / relative).read_text(encoding="utf-8").splitlines()
    data = [line for line in lines if line.strip() and not line.startswith("#")]
    return list(csv.reader(data, skipinitialspace=True))


def _canon_or_error(url: str, base: str | None = None) -> str:
    """The canonical form, or the name of the URLError subclass raised."""
    try:
        return canonicalize(url, base)
    except URLError as exc:
        return type(exc).__name__


# ------------------------------------------------------------------- WHATWG URL (WPT)

WPT_CASES = [case for case in _load_json("url/wpt_urltestdata.json") if isinstance(case, dict)]
WPT_SUCCESS = [case for case in WPT_CASES if not case.get("failure")]
WPT_FAILURE = [case for case in WPT_CASES if case.get("failure")]


def test_wpt_counts() -> None:
    # The copy in tests/data: 891 cases, 267 of which expect failure.
    assert (len(WPT_SUCCESS), len(WPT_FAILURE)) == (624, 267)


@pytest.mark.parametrize("case", WPT_SUCCESS, ids=lambda c: repr(c["input"])[:60])
def test_wpt_parse_success(case: dict[str, Any]) -> None:
    assert parse_url(case["input"], case["base"]) == case["href"]


@pytest.mark.parametrize("case", WPT_FAILURE, ids=lambda c: repr(c["input"])[:60])
def test_wpt_parse_failure(case: dict[str, Any]) -> None:
    with pytest.raises(InvalidURL):
        parse_url(case["input"], case["base"])


@pytest.mark.parametrize("case", WPT_CASES, ids=lambda c: repr(c["input"])[:60])
def test_wpt_canonicalize_raises_only_url_errors(case: dict[str, Any]) -> None:
    """Every WPT input gives a canonical http(s) URL or a URLError, and is idempotent."""
    try:
        result = canonicalize(case["input"], case["base"])
    except UnsupportedScheme:
        assert case.get("failure") or not case["href"].startswith(("http:", "https:"))
        return
    except InvalidURL:
        return
    assert not case.get("failure")
    assert result.startswith(("http://", "https://"))
    assert canonicalize(result) == result


# ------------------------------------------------------------- Public Suffix List tests

PSL_CASES = _load_json("domains/psl_test_cases.json")["cases"]


def test_psl_counts() -> None:
    assert len(PSL_CASES) == 78


@pytest.mark.parametrize("case", PSL_CASES, ids=lambda c: repr(c["input"]))
def test_psl_registrable_domain(case: dict[str, Any]) -> None:
    assert registrable_domain(case["input"]) == case["expected_registrable_domain"]


@pytest.mark.parametrize(
    ("host", "domain"),
    [
        ("www.example.com", "example.com"),
        ("a.b.example.co.uk", "example.co.uk"),
        ("example.com", "example.com"),
        ("com", "com"),  # a public suffix is its own domain
        ("co.uk", "co.uk"),
        ("localhost", "localhost"),  # unlisted TLD: the PSL's implicit "*" rule
        ("a.localhost", "a.localhost"),
        ("user.github.io", "user.github.io"),  # private section
        ("github.io", "github.io"),
        ("www.xn--bcher-kva.example", "xn--bcher-kva.example"),
        ("www.xn--85x722f.xn--55qx5d.cn", "xn--85x722f.xn--55qx5d.cn"),  # 食狮.公司.cn
        ("127.0.0.1", "127.0.0.1"),  # IP addresses are their own domain
        ("10.1.2.3", "10.1.2.3"),
        ("[::1]", "[::1]"),
        ("[2001:db8::1]", "[2001:db8::1]"),
    ],
)
def test_registered_domain(host: str, domain: str) -> None:
    assert registered_domain(host) == domain


# ------------------------------------------------ docs/rules.md section 1, bullet by bullet

RULE_CASES = [
    # 1. WHATWG parse, resolved against the base.
    ("http://a.test/b/c", None, "http://a.test/b/c"),
    ("../x?y=1", "http://a.test/b/c/d", "http://a.test/b/x?y=1"),
    ("//other.test/p", "https://a.test/", "https://other.test/p"),
    ("?q=2", "http://a.test/p?q=1#f", "http://a.test/p?q=2"),
    ("", "http://a.test/p?q=1#f", "http://a.test/p?q=1"),
    # 3. kept from the Standard: lower-case scheme and host,
    ("HTTP://ExAmPle.COM/Path", None, "http://example.com/Path"),
    # IDNA host to punycode (UTS #46),
    ("http://bücher.example/", None, "http://xn--bcher-kva.example/"),
    ("http://BÜCHER.example/", None, "http://xn--bcher-kva.example/"),
    ("http://xn--bcher-kva.example/", None, "http://xn--bcher-kva.example/"),
    ("http://faß.example/", None, "http://xn--fa-hia.example/"),
    ("http://%e2%98%83.net/", None, "http://xn--n3h.net/"),
    ("http://日本語.jp/", None, "http://xn--wgv71a119e.jp/"),
    # IPv4 forms to dotted decimal,
    ("http://0x7f.1/", None, "http://127.0.0.1/"),
    ("http://2130706433/", None, "http://127.0.0.1/"),
    ("http://0177.0.0.1/", None, "http://127.0.0.1/"),
    # IPv6 compressed,
    ("http://[0:0:0:0:0:0:0:1]/", None, "http://[::1]/"),
    ("http://[2001:DB8:0:0:1::1]:8080/", None, "http://[2001:db8::1:0:0:1]:8080/"),
    # default port dropped (other ports kept),
    ("http://a.test:80/", None, "http://a.test/"),
    ("https://a.test:443/", None, "https://a.test/"),
    ("http://a.test:443/", None, "http://a.test:443/"),
    ("https://a.test:80/", None, "https://a.test:80/"),
    ("http://a.test:0080/", None, "http://a.test/"),
    ("http://a.test:/", None, "http://a.test/"),
    # dot segments resolved (also percent-encoded dots),
    ("http://a.test/a/./b/../c", None, "http://a.test/a/c"),
    ("http://a.test/../../x", None, "http://a.test/x"),
    ("http://a.test/a/%2e%2E/b", None, "http://a.test/b"),
    ("http://a.test/a/.%2e/b/%2e", None, "http://a.test/b/"),
    # backslashes as slashes,
    ("http:\\\\a.test\\p\\q", None, "http://a.test/p/q"),
    # characters outside the path/query sets percent-encoded,
    ("http://a.test/a b/ü?q=a b&r=ü", None, "http://a.test/a%20b/%C3%BC?q=a%20b&r=%C3%BC"),
    # tabs and newlines removed, C0 control and space trimmed.
    ("  http://a.te\tst/p\na\rth \n", None, "http://a.test/path"),
    # 4. the fragment is dropped,
    ("http://a.test/p#frag", None, "http://a.test/p"),
    ("http://a.test/p?q#frag", None, "http://a.test/p?q"),
    ("http://a.test/p#", None, "http://a.test/p"),
    ("http://a.test/p#a?b=c", None, "http://a.test/p"),
    # user name and password are dropped,
    ("http://user:pass@a.test/", None, "http://a.test/"),
    ("http://user@a.test:8080/", None, "http://a.test:8080/"),
    ("http://:@a.test/", None, "http://a.test/"),
    ("http://u%40x:p@ss@a.test/", None, "http://a.test/"),
    ("http://user:pass@[::1]/", None, "http://[::1]/"),
    # a trailing dot of the host is dropped,
    ("http://example.com./", None, "http://example.com/"),
    ("http://example.com.:8080/", None, "http://example.com:8080/"),
    ("https://example.com.:443/", None, "https://example.com/"),
    ("http://example.com../", None, "http://example.com/"),
    ("http://1.2.3.4./", None, "http://1.2.3.4/"),
    # (a host ending in a number is IPv4 once its dots are gone: the Standard reads
    # "1.2.3.4.." as a domain name but "1.2.3.4" as an address)
    ("http://1.2.3.4../", None, "http://1.2.3.4/"),
    ("http://0x7f.1..:8080/", None, "http://127.0.0.1:8080/"),
    # percent-encoding: escapes of unreserved characters decoded,
    ("http://a.test/%7Euser/%41%62%2D%2e%5F%30", None, "http://a.test/~user/Ab-._0"),
    ("http://a.test/?%6b=%76", None, "http://a.test/?k=v"),
    # all other escapes upper-case,
    ("http://a.test/a%2fb%3a?x=%2f%c3%bc", None, "http://a.test/a%2Fb%3A?x=%2F%C3%BC"),
    ("http://a.test/%25%25", None, "http://a.test/%25%25"),
    # never decoded twice, stray "%" left alone,
    ("http://a.test/%2541", None, "http://a.test/%2541"),
    ("http://a.test/100%/%zz/%4", None, "http://a.test/100%/%zz/%4"),
    # and a decoding that would turn a stray "%" into a new escape is not made,
    ("http://a.test/%%41B", None, "http://a.test/%%41B"),
    ("http://a.test/%4%31", None, "http://a.test/%4%31"),
    ("http://a.test/%%7E", None, "http://a.test/%~"),
    # the host's percent-encoding is the Standard's business (decoded, then IDNA),
    ("http://%61.test/", None, "http://a.test/"),
    # tracking parameters removed, case-insensitively, on the decoded name,
    ("http://a.test/?utm_source=x&id=1", None, "http://a.test/?id=1"),
    ("http://a.test/?id=1&utm_medium=y&utm_campaign=z", None, "http://a.test/?id=1"),
    ("http://a.test/?UTM_Source=x&id=1", None, "http://a.test/?id=1"),
    ("http://a.test/?utm%5Fsource=x&id=1", None, "http://a.test/?id=1"),
    ("http://a.test/?%75tm_term=x&id=1", None, "http://a.test/?id=1"),
    ("http://a.test/?utm_=x&utm_anything=y", None, "http://a.test/"),
    ("http://a.test/?gclid=1&fbclid=2&msclkid=3&dclid=4&q", None, "http://a.test/?q"),
    ("http://a.test/?gbraid=1&wbraid=2&yclid=3&mc_cid=4&mc_eid=5&q", None, "http://a.test/?q"),
    ("http://a.test/?igshid=1&_hsenc=2&_hsmi=3&mkt_tok=4&q", None, "http://a.test/?q"),
    ("http://a.test/?utm_source", None, "http://a.test/"),
    # but not names that merely start like an exact entry, nor values,
    ("http://a.test/?gclid2=1&fbclid_x=2", None, "http://a.test/?gclid2=1&fbclid_x=2"),
    ("http://a.test/?ref=utm_source", None, "http://a.test/?ref=utm_source"),
    ("http://a.test/?xutm_source=1", None, "http://a.test/?xutm_source=1"),
    # other parameters keep their order and exact bytes (never sorted, "+" kept),
    ("http://a.test/?b=2&a=1&utm_id=3&c=a+b&a=0", None, "http://a.test/?b=2&a=1&c=a+b&a=0"),
    ("http://a.test/?b=&a&&c=%20", None, "http://a.test/?b=&a&&c=%20"),
    ("http://a.test/?x=1&&utm_source=2&y", None, "http://a.test/?x=1&&y"),
    # an empty query is dropped, also one left empty by the removal,
    ("http://a.test/a?", None, "http://a.test/a"),
    ("http://a.test/a?#f", None, "http://a.test/a"),
    ("http://a.test/a?utm_source=x", None, "http://a.test/a"),
    ("http://a.test/a?utm_source=x&", None, "http://a.test/a"),
    ("http://a.test/a?&utm_source=x&gclid=1", None, "http://a.test/a"),
    # the path is never empty for http(s).
    ("http://a.test", None, "http://a.test/"),
    ("https://a.test?q", None, "https://a.test/?q"),
    ("http://a.test#f", None, "http://a.test/"),
]


@pytest.mark.parametrize(("url", "base", "expected"), RULE_CASES)
def test_canonicalize_rules(url: str, base: str | None, expected: str) -> None:
    assert canonicalize(url, base) == expected
    assert canonicalize(expected) == expected


@pytest.mark.parametrize(
    "url",
    [
        "mailto:someone@example.com",
        "tel:+1-555-0100",
        "javascript:alert(1)",
        "data:text/html,<p>hi</p>",
        "ftp://ftp.example.com/file",
        "file:///etc/passwd",
        "ws://a.test/socket",
        "wss://a.test/socket",
        "about:blank",
        "urn:isbn:0451450523",
        "HTTP+X://a.test/",
    ],
)
def test_unsupported_scheme(url: str) -> None:
    with pytest.raises(UnsupportedScheme):
        canonicalize(url)
    parse_url(url)  # valid per the Standard


def test_unsupported_scheme_through_base() -> None:
    with pytest.raises(UnsupportedScheme):
        canonicalize("x/y", "ftp://a.test/")


@pytest.mark.parametrize(
    ("url", "base"),
    [
        ("", None),
        ("no scheme", None),
        ("/relative", None),
        ("http://", None),
        ("http://a b/", None),
        ("http://a<b/", None),
        ("http://[::1/", None),
        ("http://1.2.3.4.5/", None),
        ("http://256.0.0.1/", None),
        ("http://a.test:99999/", None),
        ("http://a.test:8o/", None),
        ("http://a\x00b/", None),
        ("https://example%2Xcom/", None),
        ("x", "not a base"),
        ("x", ""),  # an empty base is an invalid base, as in `new URL(x, "")`
        ("http://a.test/", "not a base"),  # the base must be valid even when unused
        ("x", "mailto:a@b"),  # relative to an opaque path
        # not a Standard failure, but no usable host: a host made of dots only
        ("http://./", None),
        ("http://../p", None),
        # valid domain with its dots, not a valid IPv4 address without them
        ("http://foo.09../", None),
    ],
)
def test_invalid_url(url: str, base: str | None) -> None:
    with pytest.raises(InvalidURL):
        canonicalize(url, base)


def test_errors_are_value_errors() -> None:
    assert issubclass(InvalidURL, URLError)
    assert issubclass(UnsupportedScheme, URLError)
    assert issubclass(URLError, ValueError)


def test_non_str_is_a_type_error() -> None:
    with pytest.raises(TypeError):
        canonicalize(b"http://a.test/")  # type: ignore[arg-type]


def test_lone_surrogates_become_replacement_characters() -> None:
    # What a browser does: a JS string is converted to a USVString first.
    assert canonicalize("http://a.test/\ud800?\udfff") == "http://a.test/%EF%BF%BD?%EF%BF%BD"
    assert parse_url("http://a.test/#\ud800") == "http://a.test/#%EF%BF%BD"


def test_custom_strip_params() -> None:
    url = "http://a.test/?sid=1&utm_source=2&Session_x=3&q=4"
    assert canonicalize(url, strip_params=("sid", "session_*")) == (
        "http://a.test/?utm_source=2&q=4"
    )
    assert canonicalize(url, strip_params=()) == url
    assert canonicalize(url, strip_params=["sid"]) == (  # type: ignore[arg-type]
        "http://a.test/?utm_source=2&Session_x=3&q=4"
    )


def test_strip_params_compare_ascii_case_only() -> None:
    # U+212A KELVIN SIGN lower-cases to "k" with str.lower(); it is not a "k" here.
    kelvin = "http://a.test/?mscl\u212aid=1"
    assert canonicalize(kelvin) == "http://a.test/?mscl%E2%84%AAid=1"
    assert canonicalize("http://a.test/?MsClKiD=1&x") == "http://a.test/?x"
    assert canonicalize("http://a.test/?GRÖßE=1&größe=2&x", strip_params=("größe",)) == (
        "http://a.test/?GR%C3%96%C3%9FE=1&x"
    )


# An entry that is not made only of unreserved characters turns the screen off, so the
# default list with such an entry added takes the slow path for every query.
UNSCREENED = (*DEFAULT_STRIP_QUERY_PARAMS, "\x00no screen\x00")


@given(st.lists(st.text(max_size=12), max_size=6))
@example(["utm_source=1", "x"])
@example(["utm%5Fsource=1", "x"])
@example(["%%75tm_source=1"])
@example(["gcl%69d=1"])
def test_strip_screen_agrees_with_full_scan(params: list[str]) -> None:
    url = "http://a.test/?" + "&".join(params)
    assert canonicalize(url) == canonicalize(url, strip_params=UNSCREENED)


def test_default_strip_params_are_the_setting_default() -> None:
    from linkcrawl import defaults

    assert tuple(defaults.LINKCRAWL_STRIP_QUERY_PARAMS) == DEFAULT_STRIP_QUERY_PARAMS
    assert "utm_*" in DEFAULT_STRIP_QUERY_PARAMS and "gclid" in DEFAULT_STRIP_QUERY_PARAMS


def test_parse_url_keeps_what_canonicalize_drops() -> None:
    url = "HTTP://u:p@Example.COM.:80/a/../%7e?utm_source=x#f"
    assert parse_url(url) == "http://u:p@example.com./%7e?utm_source=x#f"
    assert canonicalize(url) == "http://example.com/~"


@pytest.mark.parametrize(
    ("value", "host"),
    [
        ("example.com", "example.com"),
        ("ExAmple.COM.", "example.com"),
        ("  bücher.example ", "xn--bcher-kva.example"),
        ("https://user@Sub.Example.com:8443/x?y", "sub.example.com"),
        ("127.0.0.1", "127.0.0.1"),
        ("[::1]", "[::1]"),
    ],
)
def test_normalize_host(value: str, host: str) -> None:
    assert normalize_host(value) == host


def test_normalize_host_invalid() -> None:
    with pytest.raises(InvalidURL):
        normalize_host("a b")


# ------------------------------------------------------------------ node id, host, facts

# xxh3_64 test vectors are fixed by the xxHash specification; these values pin both the
# hash and our signed reading of it.
EMPTY_XXH3_64 = 0x2D06800538D394C2


def test_node_id_of_empty_string_is_xxh3_spec_value() -> None:
    assert node_id("") == EMPTY_XXH3_64


def test_node_id_stability() -> None:
    # xxh3_64("http://example.com/") = 0xB97A010E03AF1E2B: high bit set, so negative.
    assert node_id("http://example.com/") == 0xB97A010E03AF1E2B - (1 << 64)
    assert node_id("http://example.com/") == -5_081_748_069_831_205_333
    assert fingerprint("http://example.com/") == bytes.fromhex("b97a010e03af1e2b")


@given(st.text())
def test_node_id_is_signed_int64_and_matches_fingerprint(text: str) -> None:
    nid = node_id(text)
    assert -(1 << 63) <= nid < (1 << 63)
    assert nid % (1 << 64) == xxhash.xxh3_64_intdigest(text.encode("utf-8"))
    fp = fingerprint(text)
    assert len(fp) == 8
    assert int.from_bytes(fp, "big", signed=True) == nid


def test_node_id_signs() -> None:
    # Both halves of the range occur: the id really is read as signed.
    ids = [node_id(f"http://a.test/{i}") for i in range(64)]
    assert any(i < 0 for i in ids)
    assert any(i > 0 for i in ids)


@pytest.mark.parametrize(
    ("url", "host", "domain"),
    [
        ("http://www.example.co.uk/x", "www.example.co.uk", "example.co.uk"),
        ("http://www.example.com:8080/", "www.example.com", "example.com"),
        ("https://xn--bcher-kva.example/", "xn--bcher-kva.example", "xn--bcher-kva.example"),
        ("http://127.0.0.1:8000/", "127.0.0.1", "127.0.0.1"),
        ("http://[::1]:8000/", "[::1]", "[::1]"),
        ("http://[2001:db8::1]/", "[2001:db8::1]", "[2001:db8::1]"),
        ("http://localhost/", "localhost", "localhost"),
        ("https://foo.github.io/", "foo.github.io", "foo.github.io"),
    ],
)
def test_url_facts(url: str, host: str, domain: str) -> None:
    assert canonicalize(url) == url
    assert url_host(url) == host
    facts = url_facts(url)
    assert facts == UrlFacts(url=url, node_id=node_id(url), host=host, domain=domain)


def test_url_host_needs_a_url() -> None:
    with pytest.raises(URLError):
        url_host("example.com")


# ------------------------------------------------------------------------------- scope

SEED_HOSTS = frozenset({"www.example.com", "blog.other.org"})
SEED_DOMAINS = frozenset({"example.com", "other.org"})
ALLOWED = frozenset({"example.com", "sub.allowed.net", "10.0.0.1"})


@pytest.mark.parametrize(
    ("host", "scope", "expected"),
    [
        ("anything.test", "all", True),
        ("www.example.com", "seed_hosts", True),
        ("example.com", "seed_hosts", False),
        ("shop.example.com", "seed_hosts", False),
        ("blog.other.org", "seed_hosts", True),
        ("www.example.com", "seed_domains", True),
        ("shop.example.com", "seed_domains", True),
        ("example.com", "seed_domains", True),
        ("other.org", "seed_domains", True),
        ("example.net", "seed_domains", False),
        ("example.com", "allowlist", True),
        ("a.b.example.com", "allowlist", True),
        ("notexample.com", "allowlist", False),
        ("example.com.evil.test", "allowlist", False),
        ("sub.allowed.net", "allowlist", True),
        ("x.sub.allowed.net", "allowlist", True),
        ("allowed.net", "allowlist", False),
        ("other.allowed.net", "allowlist", False),
        ("10.0.0.1", "allowlist", True),
        ("110.0.0.1", "allowlist", False),  # no "parent domains" for IP addresses
    ],
)
def test_in_scope(host: str, scope: str, expected: bool) -> None:
    domain = registered_domain(host)
    assert in_scope(host, domain, scope, SEED_HOSTS, SEED_DOMAINS, ALLOWED) is expected


def test_in_scope_unknown_scope() -> None:
    with pytest.raises(ValueError, match="unknown scope"):
        in_scope("a.test", "a.test", "everything", SEED_HOSTS, SEED_DOMAINS, ALLOWED)


# ---------------------------------------------------------------------- address guard


@pytest.mark.parametrize(
    ("host", "expected"),
    [
        ("127.0.0.1", True),
        ("127.1.2.3", True),
        ("10.0.0.1", True),
        ("172.16.5.4", True),
        ("192.168.1.1", True),
        ("169.254.169.254", True),  # link-local: cloud metadata
        ("0.0.0.0", True),
        ("100.64.0.1", True),  # shared address space (carrier-grade NAT)
        ("224.0.0.1", True),  # multicast
        ("240.0.0.1", True),  # reserved
        ("255.255.255.255", True),
        ("192.0.2.1", True),  # documentation
        ("[2001:db8::1]", True),
        ("[::1]", True),
        ("::1", True),
        ("[::]", True),
        ("[fe80::1]", True),
        ("[fc00::1]", True),
        ("[fd12:3456::1]", True),
        ("[ff02::1]", True),
        ("[::ffff:127.0.0.1]", True),  # IPv4-mapped
        ("[::ffff:a00:1]", True),
        ("[2002:7f00:1::]", True),  # 6to4 of 127.0.0.1
        ("[64:ff9b::a9fe:a9fe]", True),  # NAT64 of 169.254.169.254
        ("8.8.8.8", False),
        ("93.184.216.34", False),
        ("[2606:4700:4700::1111]", False),
        ("[::ffff:8.8.8.8]", False),
        ("[64:ff9b::808:808]", False),
        ("localhost", False),  # names are checked after DNS resolution, not here
        ("example.com", False),
        ("10.0.0.1.example.com", False),
        ("", False),
    ],
)
def test_is_private_address(host: str, expected: bool) -> None:
    assert is_private_address(host) is expected


def test_is_private_address_on_canonical_hosts() -> None:
    # The forms a page can use all reach the guard as a canonical host.
    for url in [
        "http://0x7f.1/",
        "http://2130706433/",
        "http://[::ffff:7f00:1]/",
        "http://017700000001/",
    ]:
        assert is_private_address(url_host(canonicalize(url))), url


# ---------------------------------------------------------------- other canonicalisers

# crawler-commons BasicURLNormalizer (Nutch): input -> output. Where ours differs on
# purpose, the value here is OUR output; docs/urls.md has the reasons.
CC_WEIRD_OURS: dict[str, str] = {
    # (a) Query order and bytes are kept: no sorting, empty parameters kept.
    "http://example.com/?b=1&a=1": "http://example.com/?b=1&a=1",
    "http://foo.com/foo.html?b=1&a=1": "http://foo.com/foo.html?b=1&a=1",
    "http://foo.com/index?b=2&a=1": "http://foo.com/index?b=2&a=1",
    "http://foo.com/index?b=2&a=1#c": "http://foo.com/index?b=2&a=1",
    "http://foo.com/index?a=1&b=": "http://foo.com/index?a=1&b=",
    "http://foo.com/index?b&a=1": "http://foo.com/index?b&a=1",
    "http://foo.com/index?b=&a=1": "http://foo.com/index?b=&a=1",
    "http://foo.com/index?b=1&a=1&": "http://foo.com/index?b=1&a=1&",
    "http://foo.com/index?&b=1&a=1": "http://foo.com/index?&b=1&a=1",
    "http://foo.com/index?&=1&a=1": "http://foo.com/index?&=1&a=1",
    "http://foo.com/index?=1&b=1&a=1": "http://foo.com/index?=1&b=1&a=1",
    # (b) Repeated slashes in the path are kept.
    "http://foo.com//aa/bb/foo.html": "http://foo.com//aa/bb/foo.html",
    "http://foo.com/aa//bb/foo.html": "http://foo.com/aa//bb/foo.html",
    "http://foo.com/aa/bb//foo.html": "http://foo.com/aa/bb//foo.html",
    "http://foo.com//aa//bb//foo.html": "http://foo.com//aa//bb//foo.html",
    "http://foo.com////aa////bb//foo.html": "http://foo.com////aa////bb//foo.html",
    "http://foo.com////aa////bb////foo.html": "http://foo.com////aa////bb////foo.html",
    # (c) Characters the Standard leaves unencoded stay unencoded ("[]^`|" in the query,
    #     a stray "%" anywhere): we only add what the Standard adds.
    "http://x.com/?x[y]=1": "http://x.com/?x[y]=1",
    "https://www.last.fm/music/Prefuse+73/_/90%+of+My+Mind+Is+With+You": (
        "https://www.last.fm/music/Prefuse+73/_/90%+of+My+Mind+Is+With+You"
    ),
    "http://www.example.com/a/c/../b/search?q=foobar%": (
        "http://www.example.com/a/b/search?q=foobar%"
    ),
    "http://www.example.com/a/c/../b/search?q=foobar^": (
        "http://www.example.com/a/b/search?q=foobar^"
    ),
    "http://www.example.com/a/c/../b/search?q=foobar`": (
        "http://www.example.com/a/b/search?q=foobar`"
    ),
    "http://www.example.com/a/c/../b/search?q=foobar|": (
        "http://www.example.com/a/b/search?q=foobar|"
    ),
    "http://www.example.com/p%zz%77%v": "http://www.example.com/p%zzw%v",
    "http://www.example.com/search?q=foobar%": "http://www.example.com/search?q=foobar%",
    "http://www.example.com/search?q=foobar%2": "http://www.example.com/search?q=foobar%2",
    # (d) Only http and https are crawled.
    "file:///foo/bar.txt": "UnsupportedScheme",
    "ftp://foo.com/index.html": "UnsupportedScheme",
    "file:/path/index.html": "UnsupportedScheme",
    "file:/var/www/html/////./bar/index.html": "UnsupportedScheme",
    "file:/var/www/html/foo/../bar/index.html": "UnsupportedScheme",
    # (e) The Standard rejects the string: no scheme, or no host.
    "foo.com/index.html": "InvalidURL",
    "ftp:/": "InvalidURL",
    "http:////": "InvalidURL",
    "http:///////": "InvalidURL",
}

# w3lib.url.canonicalize_url (Scrapy's default request fingerprint), default arguments.
W3LIB_OURS: dict[str, str] = {
    # (a) Query order and bytes are kept: no sorting, no "=" added, "+" and "%20" differ.
    "http://www.example.com/do?c=1&b=2&a=3": "http://www.example.com/do?c=1&b=2&a=3",
    "http://www.example.com/do?&a=1": "http://www.example.com/do?&a=1",
    "http://www.example.com/do?c=3&b=5&b=2&a=50": "http://www.example.com/do?c=3&b=5&b=2&a=50",
    "http://www.example.com/do?b=&a=2": "http://www.example.com/do?b=&a=2",
    "http://www.example.com/do?b=&c&a=2": "http://www.example.com/do?b=&c&a=2",
    "http://www.example.com/do?1750,4": "http://www.example.com/do?1750,4",
    "http://www.example.com/do?q=a space&a=1": "http://www.example.com/do?q=a%20space&a=1",
    "http://www.example.com/do?q=a+space&a=1": "http://www.example.com/do?q=a+space&a=1",
    "http://www.example.com/do?q=a%20space&a=1": "http://www.example.com/do?q=a%20space&a=1",
    "http://www.example.com/do?price=£500&a=5&z=3": (
        "http://www.example.com/do?price=%C2%A3500&a=5&z=3"
    ),
    "http://はじめよう.みんな/?query=サ&maxResults=5": (
        "http://xn--p8j9a0d9c9a.xn--q9jyb4c/?query=%E3%82%B5&maxResults=5"
    ),
    # (f) User name and password are dropped.
    "http://user:pass@www.example.com:81/do?now=1": "http://www.example.com:81/do?now=1",
    "http://user:pass@www.example.com/do?a=1#frag": "http://www.example.com/do?a=1",
    "http://user:pass@[::1]/a": "http://[::1]/a",
    "http://user@例え.jp/path": "http://xn--r8jz45g.jp/path",
    "http://user:pass@例え.jp:8080/p": "http://xn--r8jz45g.jp:8080/p",
    # (d) Only http and https are crawled.
    "sftp://UsEr:PaSsWoRd@www.EXAMPLE.com/": "UnsupportedScheme",
    "mailto:a/../b": "UnsupportedScheme",
    "foo:/a/../b": "UnsupportedScheme",
    # (e) The Standard rejects the string: a relative URL without a base.
    "a#frag": "InvalidURL",
    "a?b=1#frag": "InvalidURL",
    "?b=1": "InvalidURL",
    # (g) Every host goes through IDNA, even one w3lib leaves alone (empty first label).
    "http://.éxamplé.com/résumé?q=résumé": (
        "http://.xn--xampl-9raf.com/r%C3%A9sum%C3%A9?q=r%C3%A9sum%C3%A9"
    ),
}

# urlcanon path_dots ("special" schemes): path -> resolved path.
PATH_DOTS_OURS: dict[str, str] = {
    # (h) A backslash is a path separator in http(s) URLs (the Standard; what browsers do).
    "\\": "/",
    "\\.": "/",
    "\\..": "/",
    "\\foo": "/foo",
    "/\\": "//",
    "/foo\\": "/foo/",
    "\\/": "//",
    "\\\\": "//",
    "\\./": "/",
    "\\.\\": "/",
    "\\../": "/",
    "\\..\\": "/",
    "\\foo/": "/foo/",
    "\\foo\\": "/foo/",
    "/\\.": "//",
    "/\\foo": "//foo",
    "/foo\\.": "/foo/",
    "/foo\\foo": "/foo/foo",
}

# urlcanon funky_ipv4: host -> dotted IPv4, or null when not an IPv4 address.
FUNKY_IPV4_OURS: dict[str, str] = {
    # (i) The Standard reads "0000xa" as a domain name (it does not end in a number).
    "0000xa": "http://0000xa/",
}


def _check_against(ours: dict[str, str], key: str, got: str, theirs: str) -> None:
    if key in ours:
        assert got == ours[key]
        assert got != theirs, "not an exception any more: remove it from the list"
    else:
        assert got == theirs


CC_WEIRD = _csv_rows("url/crawler_commons/weirdToNormalizedUrls.csv")


@pytest.mark.parametrize(("url", "expected"), CC_WEIRD)
def test_crawler_commons_normalizer(url: str, expected: str) -> None:
    _check_against(CC_WEIRD_OURS, url, _canon_or_error(url), expected)


@pytest.mark.parametrize(
    ("url", "base", "expected"), _csv_rows("url/crawler_commons/url-resolve.csv")
)
def test_crawler_commons_resolve(url: str, base: str, expected: str) -> None:
    # An empty base field means "no base" in this file.
    assert parse_url(url, base or None) == expected


@pytest.mark.parametrize("row", _csv_rows("url/crawler_commons/invalidUrls.csv"))
def test_crawler_commons_invalid(row: list[str]) -> None:
    with pytest.raises(InvalidURL):
        canonicalize(row[0])


W3LIB_CASES = [
    case
    for case in _load_json("url/w3lib_url_html_cases.json")["cases"]["canonicalize_url"]
    # Default arguments and str input only: the others test w3lib options we do not have
    # (keep_fragments, keep_blank_values, query encodings) or bytes input.
    if not case["kwargs"] and len(case["args"]) == 1 and isinstance(case["args"][0], str)
]


@pytest.mark.parametrize("case", W3LIB_CASES, ids=lambda c: repr(c["args"][0])[:60])
def test_w3lib_canonicalize_url(case: dict[str, Any]) -> None:
    url = case["args"][0]
    _check_against(W3LIB_OURS, url, _canon_or_error(url), case["expected"])


@pytest.mark.parametrize(
    ("path", "expected"), list(_load_json("url/urlcanon/path_dots.json")["special"].items())
)
def test_urlcanon_path_dots(path: str, expected: str) -> None:
    got = canonicalize("http://h" + path).removeprefix("http://h")
    _check_against(PATH_DOTS_OURS, path, got, expected)


@pytest.mark.parametrize(
    ("host", "expected"), list(_load_json("url/urlcanon/funky_ipv4.json").items())
)
def test_urlcanon_funky_ipv4(host: str, expected: str | None) -> None:
    theirs = "InvalidURL" if expected is None else f"http://{expected}/"
    _check_against(FUNKY_IPV4_OURS, host, _canon_or_error(f"http://{host}/"), theirs)


@pytest.mark.parametrize("url", _load_json("url/urlcanon/idempotence.json"))
def test_urlcanon_idempotence(url: str) -> None:
    first = _canon_or_error(url)
    if first.startswith("http"):
        assert canonicalize(first) == first


@pytest.mark.parametrize(
    ("table", "keys"),
    [
        (CC_WEIRD_OURS, {row[0] for row in CC_WEIRD}),
        (W3LIB_OURS, {case["args"][0] for case in W3LIB_CASES}),
        (PATH_DOTS_OURS, set(_load_json("url/urlcanon/path_dots.json")["special"])),
        (FUNKY_IPV4_OURS, set(_load_json("url/urlcanon/funky_ipv4.json"))),
    ],
)
def test_exception_lists_name_real_cases(table: dict[str, str], keys: set[str]) -> None:
    assert set(table) <= keys


# --------------------------------------------------------------------------- hypothesis

WEIRD_BASES = st.one_of(
    st.none(),
    st.text(max_size=30),
    st.sampled_from(
        [
            "",
            "http://a.test/b/c",
            "https://u:p@xn--bcher-kva.example:8443/a/b?q#f",
            "http://[::1]/",
            "mailto:a@b",
            "data:text/plain,x",
            "file:///c:/x",
            "sc://h/p",
            "about:blank",
            "http://a.test./%zz/..%2e/",
        ]
    ),
)


@settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow])
@given(url=st.text(), base=WEIRD_BASES)
@example(url="\ud800", base=None)
@example(url="http://a/", base="\udfff")
@example(url="\x00", base="http://a/")
def test_canonicalize_raises_only_url_errors(url: str, base: str | None) -> None:
    try:
        result = canonicalize(url, base)
    except URLError:
        return
    assert result.startswith(("http://", "https://"))
    assert canonicalize(result) == result


LABEL = st.from_regex(r"[a-zA-Z0-9]([a-zA-Z0-9-]{0,8}[a-zA-Z0-9])?", fullmatch=True)
HOSTS = st.one_of(
    st.builds(".".join, st.lists(LABEL, min_size=1, max_size=4)).map(
        lambda h: h if not h.rsplit(".", 1)[-1].isdigit() else h + ".test"
    ),
    st.sampled_from(
        [
            "bücher.example",
            "BÜCHER.Example.",
            "日本語.jp",
            "faß.de",
            "xn--n3h.net",
            "0x7f.1",
            "2130706433",
            "[::1]",
            "[2001:DB8:0:0::1]",
            "a.test.",
            "%61.test",
            "foo.09..",
            "1.2.3.4..",
            "0x7f.1..",
            "a.0x1f.",
        ]
    ),
)
URL_CHARS = st.one_of(
    st.characters(codec="utf-8"),
    st.sampled_from(
        ["%", "%2", "%41", "%7e", "%2F", "%zz", "%25", "/", "..", ".", "%2e", "\\", "#", "?", "&"]
    ),
)
SEGMENT = st.lists(URL_CHARS, max_size=6).map("".join)
PARAM_NAMES = st.one_of(
    st.sampled_from(["utm_source", "UTM_Medium", "gclid", "utm%5Fx", "q", "id", "a+b", ""]),
    st.text(st.characters(codec="ascii"), max_size=5),
)
PARAM = st.one_of(
    st.builds(lambda n, v: f"{n}={v}", PARAM_NAMES, SEGMENT),
    PARAM_NAMES,
)
HTTP_URLS = st.builds(
    lambda scheme, userinfo, host, port, path, query, fragment: (
        f"{scheme}://{userinfo}{host}{port}/{'/'.join(path)}{query}{fragment}"
    ),
    st.sampled_from(["http", "https", "HTTP", "hTTpS"]),
    st.sampled_from(["", "user@", "user:pass@", ":@"]),
    HOSTS,
    st.sampled_from(["", ":80", ":443", ":8080", ":"]),
    st.lists(SEGMENT, max_size=5),
    st.one_of(st.just(""), st.lists(PARAM, max_size=5).map(lambda ps: "?" + "&".join(ps))),
    st.one_of(st.just(""), SEGMENT.map(lambda f: "#" + f)),
)


@settings(max_examples=500)
@given(HTTP_URLS)
def test_canonicalize_is_idempotent(url: str) -> None:
    try:
        first = canonicalize(url)
    except URLError:
        assume(False)
        raise  # unreachable
    assert canonicalize(first) == first
    # The canonical form is its own WHATWG serialisation apart from what we remove or
    # decode: parsing it again changes nothing.
    assert parse_url(first) == first
    assert "#" not in first
    assert "@" not in first.split("/")[2]
