"""Tests for linkcrawl.robots: Google's robots.txt verdicts, its helpers, the Scrapy adapter.

Conformance data lives in tests/data/robots (see its README for sources and licenses):
every expectation of Google's robots_test.cc, and crawler-commons' robots.txt files.
The property tests compare the compiled matcher with a direct port of Google's
``RobotsMatchStrategy::Matches`` and longest-match rule.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scrapy.robotstxt import RobotParser
from scrapy.utils.misc import build_from_crawler, load_object
from scrapy.utils.test import get_crawler

from linkcrawl.robots import (
    MAX_BODY_BYTES,
    MAX_LINE_BYTES,
    RobotsParser,
    Rule,
    RuleMatcher,
    directive_kind,
    escape_pattern,
    is_valid_user_agent,
    parse_directives,
    parse_robots,
    path_params_query,
    product_token,
    split_key_value,
    split_lines,
)

DATA = Path(__file__).parent / "data" / "robots"
GOOGLE = json.loads((DATA / "google_robotstxt_cases.json").read_text(encoding="utf-8"))
CRAWLER_COMMONS = sorted((DATA / "crawler_commons").glob("*.txt"))


def _case_id(case: dict[str, Any]) -> str:
    return f"{case['id']:03d}-{case['test']}-line{case['source_line']}"


# --------------------------------------------------------------------------- Google's cases


@pytest.mark.parametrize("case", GOOGLE["allowed_cases"], ids=_case_id)
def test_google_verdict(case: dict[str, Any]) -> None:
    robots = parse_robots(case["robotstxt"])
    assert robots.allowed(case["url"], case["useragent"]) is case["expected_allowed"]


def test_google_verdict_count() -> None:
    # The README's counts: a truncated copy of the data would pass the tests above.
    cases = GOOGLE["allowed_cases"]
    assert len(cases) == 145
    assert sum(c["expected_allowed"] for c in cases) == 77


@pytest.mark.parametrize("case", GOOGLE["allowed_cases"], ids=_case_id)
def test_google_verdict_from_bytes(case: dict[str, Any]) -> None:
    robots = parse_robots(case["robotstxt"].encode("utf-8"))
    assert robots.allowed(case["url"], case["useragent"]) is case["expected_allowed"]


@pytest.mark.parametrize(
    "case", GOOGLE["valid_user_agent_to_obey_cases"], ids=lambda c: repr(c["useragent"])
)
def test_google_valid_user_agent(case: dict[str, Any]) -> None:
    assert is_valid_user_agent(case["useragent"]) is case["expected_valid"]


@pytest.mark.parametrize(
    "case", GOOGLE["get_path_params_query_cases"], ids=lambda c: repr(c["url"])
)
def test_google_path_params_query(case: dict[str, Any]) -> None:
    assert path_params_query(case["url"]) == case["expected_path_params_query"]


@pytest.mark.parametrize(
    "case", GOOGLE["maybe_escape_pattern_cases"], ids=lambda c: repr(c["pattern"])
)
def test_google_escape_pattern(case: dict[str, Any]) -> None:
    assert escape_pattern(case["pattern"]) == case["expected_escaped"]


def _stats_body(case: dict[str, Any]) -> str | bytes:
    return bytes.fromhex(case["robotstxt_hex"]) if "robotstxt_hex" in case else case["robotstxt"]


_GOOGLE_KEYS = {"user-agent", "allow", "disallow", "sitemap"}


@pytest.mark.parametrize("case", GOOGLE["parse_stats_cases"], ids=lambda c: c["name"])
def test_google_parse_report(case: dict[str, Any]) -> None:
    body = _stats_body(case)
    directives = list(parse_directives(body))
    known = [d for d in directives if d.kind in _GOOGLE_KEYS]
    if "valid_directives" in case:
        assert len(known) == case["valid_directives"]
    if "unknown_directives" in case:
        assert len(directives) - len(known) == case["unknown_directives"]
    if "last_line" in case:
        assert len(split_lines(body)) == case["last_line"]
    if "sitemap" in case:
        assert parse_robots(body).sitemaps == [case["sitemap"]]


# --------------------------------------------------------------------------- helpers


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        ("User-agent: FooBot", ("User-agent", "FooBot")),
        ("  disallow :  /a b  # comment", ("disallow", "/a b")),
        ("disallow /no-colon/", ("disallow", "/no-colon/")),
        ("disallow /two words/", None),  # no colon: exactly two words or nothing
        ("disallow\u3000/x", None),  # ...separated by space or tab only
        ("just-a-word", None),
        (": /no-key", None),
        ("# only a comment", None),
        ("", None),
        ("user-agent:", ("user-agent", "")),
        ("sitemap: http://a.example/s.xml", ("sitemap", "http://a.example/s.xml")),
    ],
)
def test_split_key_value(line: str, expected: tuple[str, str] | None) -> None:
    assert split_key_value(line) == expected


@pytest.mark.parametrize(
    ("key", "kind"),
    [
        ("User-Agent", "user-agent"),
        ("useragent", "user-agent"),
        ("user agent", "user-agent"),
        ("ALLOW", "allow"),
        ("Disallowed", "disallow"),
        ("dissallow", "disallow"),
        ("Dissalow", "disallow"),
        ("disalow", "disallow"),
        ("diasllow", "disallow"),
        ("disallaw", "disallow"),
        ("Desallow", "unknown"),
        ("Site-map", "sitemap"),
        ("Crawl-delay", "crawl-delay"),
        ("useg-agent", "unknown"),
        ("\u212allow", "unknown"),  # a Kelvin sign is not ASCII "k"... nor an "a"
    ],
)
def test_directive_kind(key: str, kind: str) -> None:
    assert directive_kind(key) == kind


@pytest.mark.parametrize(
    ("user_agent", "token"),
    [
        ("Mozilla/5.0 (compatible; linkcrawl/0.1)", "Mozilla"),
        ("linkcrawl/0.1 (+https://example.com)", "linkcrawl"),
        ("Foo_Bar-Baz 2", "Foo_Bar-Baz"),
        ("*", ""),
        ("", ""),
    ],
)
def test_product_token(user_agent: str, token: str) -> None:
    assert product_token(user_agent) == token


def test_split_lines_endings_bom_and_caps() -> None:
    assert split_lines("a\r\nb\rc\nd") == ["a", "b", "c", "d"]
    assert split_lines(b"\xef\xbb\xbfa\n") == ["a"]
    assert split_lines(b"\xef\xbba") == ["a"]  # a partial BOM is skipped too
    assert split_lines("\ufeffa") == ["a"]
    long_line = "é" * MAX_LINE_BYTES  # two bytes each: the cut is in bytes
    (cut,) = split_lines(long_line)
    assert len(cut.encode("utf-8", "surrogateescape")) == MAX_LINE_BYTES


# --------------------------------------------------------------------------- behaviour


RFC_EXAMPLE = """\
user-agent: ExampleBot
disallow: /foo
disallow: /bar

user-agent: ExampleBot
disallow: /baz

user-agent: *
disallow: /foo
crawl-delay: 5
sitemap: https://example.com/sitemap.xml
"""


def test_groups_merge_and_global_fallback() -> None:
    robots = parse_robots(RFC_EXAMPLE)
    assert not robots.allowed("https://example.com/baz", "examplebot")
    assert not robots.allowed("https://example.com/bar", "ExampleBot")
    assert robots.allowed("https://example.com/baz", "OtherBot")
    assert not robots.allowed("https://example.com/foo", "OtherBot")


def test_decision_names_the_deciding_rule() -> None:
    robots = parse_robots("user-agent: *\ndisallow: /a\nallow: /a/b\ndisallow: /a/b/c\n")
    assert robots.decision("/a/x", "Bot") == Rule(2, "disallow", "/a")
    assert robots.decision("https://h.example/a/b?q", "Bot") == Rule(3, "allow", "/a/b")
    assert robots.decision("/a/b/c", "Bot") == Rule(4, "disallow", "/a/b/c")
    assert robots.decision("/z", "Bot") is None


def test_robots_txt_always_allowed() -> None:
    robots = parse_robots("user-agent: *\ndisallow: /\n")
    assert robots.allowed("https://example.com/robots.txt", "Bot")
    assert robots.decision("/robots.txt", "Bot") is None
    assert not robots.allowed("/robots.txt.bak", "Bot")


def test_empty_disallow_allows() -> None:
    assert parse_robots("user-agent: *\ndisallow:\n").allowed("/anything", "Bot")


def test_index_html_allows_its_directory() -> None:
    robots = parse_robots("user-agent: *\ndisallow: /\nallow: /dir/index.html\n")
    assert robots.allowed("/dir/", "Bot")
    assert robots.allowed("/dir/index.html", "Bot")
    assert not robots.allowed("/dir/other", "Bot")


def test_non_ascii_pattern_matches_its_percent_encoding() -> None:
    robots = parse_robots("user-agent: *\ndisallow: /caf\u00e9\n".encode())
    assert not robots.allowed("/caf%C3%A9", "Bot")
    # Bytes that are not UTF-8 are escaped as the bytes they are, as Google reads them.
    raw = parse_robots(b"user-agent: *\ndisallow: /caf\xe9\n")
    assert not raw.allowed("/caf%E9", "Bot")


def test_crawl_delay_and_sitemaps() -> None:
    robots = parse_robots(RFC_EXAMPLE)
    assert robots.crawl_delay("OtherBot") == 5.0
    assert robots.crawl_delay("ExampleBot") is None  # its own groups set none
    assert robots.sitemaps == ["https://example.com/sitemap.xml"]
    assert parse_robots("user-agent: *\ncrawl-delay: soon\n").crawl_delay("a") is None
    assert parse_robots("user-agent: *\ncrawl-delay: -1\n").crawl_delay("a") is None
    assert parse_robots("user-agent: *\ncrawl-delay: 0.5\n").crawl_delay("a") == 0.5


# --------------------------------------------------------------------------- crawler-commons


def _read(name: str) -> bytes:
    return (DATA / "crawler_commons" / name).read_bytes()


@pytest.mark.parametrize("path", CRAWLER_COMMONS, ids=lambda p: p.name)
def test_crawler_commons_file_parses_and_answers(path: Path) -> None:
    body = path.read_bytes()
    robots = parse_robots(body)
    agents = {"Googlebot", "mybot", "linkcrawl", ""}
    agents |= {a for g in robots.groups for a in g.agents if a != "*"}
    paths = ["/", "/private/x", "/foo/bar", "/wiki/Wikipedia_talk%3Mediation_Committee/"]
    paths += [r.pattern.replace("*", "x").rstrip("$") for g in robots.groups for r in g.rules]
    for agent in agents:
        robots.crawl_delay(agent)
        for url_path in paths:
            rule = robots.decision("https://example.com" + url_path, agent)
            assert robots.allowed(url_path, agent) is (rule is None or rule.kind == "allow")
    # Text gives the same answers as bytes when the bytes are UTF-8.
    text = body.decode("utf-8", "surrogateescape")
    assert parse_robots(text).sitemaps == robots.sitemaps


def test_crawler_commons_typos() -> None:
    robots = parse_robots(_read("directive-typos-robots.txt"))
    # Google reads "bot1".."bot4" as the product token "bot" (no digits): one agent whose
    # groups merge; "bot1" is not an agent Google can match.
    assert not is_valid_user_agent("bot1")
    assert robots.allowed("/dissalow/", "bot1")
    assert not robots.allowed("/dissalow/", "bot")
    assert robots.allowed("/desallow/", "bot")  # not a typo Google accepts
    assert not robots.allowed("/useragent/", "bot")
    # "useg-agent" is an unknown key, so its rule joins the group before it.
    assert not robots.allowed("/useg-agent/", "bot")
    assert not robots.allowed("/useragent-no-colon/", "bot")


def test_crawler_commons_format_errors() -> None:
    robots = parse_robots(_read("format-errors-robots.txt"))
    assert not robots.allowed("/no-colon/", "bot")
    assert not robots.allowed("/no-colon-useragent/", "bot")
    assert not robots.allowed("/other", "bot")
    # disallow "/whitespace-before-colon/" is longer than allow "/whitespace-before-colon".
    assert not robots.allowed("/whitespace-before-colon/", "bot")
    assert robots.allowed("/whitespace-before-colon.html", "bot")
    assert robots.sitemaps == ["/sitemap.xml"]


def test_crawler_commons_precedence_and_merging() -> None:
    precedence = parse_robots(_read("precedence-of-rules.txt"))
    assert precedence.allowed("/foo/bar", "testy")  # allow /foo/bar beats /foo/b*
    assert not precedence.allowed("/foo/baz", "testy")
    assert not precedence.allowed("/x", "wget")  # /* is longer than /
    assert precedence.allowed("/", "wget")  # /index.html adds /$, which ties /*
    merge = parse_robots(_read("merge-rules.txt"))
    assert merge.allowed("/foo/bar", "wget")  # equal-length allow and disallow
    assert not merge.allowed("/tmp/bar", "wget")
    assert not merge.allowed("/tmp/bar", "other")


def test_crawler_commons_crawl_delay_groups() -> None:
    robots = parse_robots(_read("crawl-delay-group-merging.txt"))
    # Crawl-delay does not end the group: mybot and yourbot share its rules and delay.
    assert robots.crawl_delay("mybot") == robots.crawl_delay("yourbot") == 10.0
    assert robots.crawl_delay("otherbot") == 30.0
    assert not robots.allowed("/private/", "mybot")
    assert robots.allowed("/private/", "otherbot")


def test_crawler_commons_sitemaps() -> None:
    assert parse_robots(_read("sitemap-robots-dedup.txt")).sitemaps == [
        "http://example.org/sitemap.xml"
    ]
    assert parse_robots(_read("sitemap-robots.txt")).sitemaps == [
        "http://domain.com/sitemap.xml",
        "http://domain.com/dir/MixedCased-sitemap.xml",
    ]
    assert parse_robots(_read("relative-sitemap-robots.txt")).sitemaps == ["/sitemap.xml"]


def test_crawler_commons_utf8_bom() -> None:
    robots = parse_robots(_read("robots-with-utf8-bom.txt"))
    assert not robots.allowed("/login.aspx", "linkcrawl")  # the first line is read
    assert not robots.allowed("/a/output/print", "Googlebot")


# --------------------------------------------------------------------------- properties


def google_matches(path: str, pattern: str) -> bool:
    """A direct port of Google's RobotsMatchStrategy::Matches (the reference)."""
    positions = [0]
    for index, char in enumerate(pattern):
        if char == "$" and index == len(pattern) - 1:
            return positions[-1] == len(path)
        if char == "*":
            positions = list(range(positions[0], len(path) + 1))
        else:
            positions = [p + 1 for p in positions if p < len(path) and path[p] == char]
            if not positions:
                return False
    return True


def google_allowed(path: str, rules: list[tuple[str, str]]) -> bool:
    """Google's longest match over ``(kind, pattern)`` rules of one group."""
    best = {"allow": -1, "disallow": -1}
    for kind, pattern in rules:
        if google_matches(path, pattern):
            best[kind] = max(best[kind], len(pattern))
        elif kind == "allow" and re.search(r"/index\.htm[^/]*$", pattern):
            directory = pattern[: pattern.rfind("/") + 1] + "$"
            if google_matches(path, directory):
                best[kind] = max(best[kind], len(directory))
    if best["allow"] > 0 or best["disallow"] > 0:
        return best["disallow"] <= best["allow"]
    return True


PATHS = st.text(alphabet="/ab.$*%", max_size=12).map(lambda s: "/" + s)
PATTERNS = st.text(alphabet="/ab.$*", max_size=8)
RULES = st.lists(st.tuples(st.sampled_from(["allow", "disallow"]), PATTERNS), max_size=8)


def _body(rules: list[tuple[str, str]], agent: str = "FooBot") -> str:
    return f"user-agent: {agent}\n" + "".join(f"{kind}: {pat}\n" for kind, pat in rules)


@settings(max_examples=300)
@given(rules=RULES, path=PATHS)
def test_matches_google_reference(rules: list[tuple[str, str]], path: str) -> None:
    # Google's matcher takes the path from the URL first ("//a" is a host, path "/").
    expected = google_allowed(path_params_query(path), rules)
    assert parse_robots(_body(rules)).allowed(path, "FooBot") is expected


@settings(max_examples=200)
@given(
    patterns=st.lists(st.text(alphabet="ab*$/", min_size=1, max_size=10), max_size=6),
    path=st.text(alphabet="ab/", max_size=30),
)
def test_rule_matcher_agrees_with_reference(patterns: list[str], path: str) -> None:
    # Many-wildcard rules take the non-regex path; the ranking must not change.
    rules = [Rule(i + 1, "disallow" if i % 2 else "allow", p) for i, p in enumerate(patterns)]
    best = RuleMatcher(rules).best(path)
    matching = [r for r in rules if google_matches(path, r.pattern)]
    if not matching:
        assert best is None
        return
    top = max(len(r.pattern) for r in matching)
    assert best is not None
    assert len(best.pattern) == top
    if any(r.kind == "allow" for r in matching if len(r.pattern) == top):
        assert best.kind == "allow"


@given(path=PATHS, pattern=st.text(alphabet="/ab*", min_size=1, max_size=8))
def test_equal_length_allow_and_disallow_allows(path: str, pattern: str) -> None:
    for order in (("allow", "disallow"), ("disallow", "allow")):
        robots = parse_robots(_body([(order[0], pattern), (order[1], pattern)]))
        assert robots.allowed(path, "FooBot")


@given(rules=RULES, path=PATHS, other=st.sampled_from(["BarBot", "*", "Foo", "FooBotX"]))
def test_unrelated_group_never_changes_verdict(
    rules: list[tuple[str, str]], path: str, other: str
) -> None:
    body = _body(rules)
    verdict = parse_robots(body).allowed(path, "FooBot")
    unrelated = f"user-agent: {other}\ndisallow: /\nallow: /a\n"
    assert parse_robots(unrelated + body).allowed(path, "FooBot") is verdict
    assert parse_robots(body + "disallow: /zz\n" + unrelated).allowed(path, "FooBot") is (
        parse_robots(body + "disallow: /zz\n").allowed(path, "FooBot")
    )


@given(rules=RULES, path=PATHS, ending=st.sampled_from(["\r\n", "\r"]))
def test_line_endings_do_not_change_verdict(
    rules: list[tuple[str, str]], path: str, ending: str
) -> None:
    body = _body(rules)
    expected = parse_robots(body).allowed(path, "FooBot")
    assert parse_robots(body.replace("\n", ending)).allowed(path, "FooBot") is expected


@given(shift=st.integers(min_value=-3, max_value=3))
def test_body_cap(shift: int) -> None:
    rule = b"user-agent: *\ndisallow: /\n"
    padding = MAX_BODY_BYTES - len(rule) + shift  # the rule ends at the cap when 0
    body = b"#" * (padding - 1) + b"\n" + rule
    robots = parse_robots(body)
    # Past the cap the rule is cut ("disallow: " or less): nothing is disallowed.
    assert robots.allowed("/x", "Bot") is (shift > 1)


def test_many_wildcards_are_linear() -> None:
    pattern = "/" + "*a" * 30 + "*b"
    robots = parse_robots(f"user-agent: *\ndisallow: {pattern}\n")
    assert robots.allowed("/" + "a" * 5000, "Bot")  # a backtracking regex would hang
    assert not robots.allowed("/" + "a" * 40 + "b", "Bot")


# --------------------------------------------------------------------------- Scrapy adapter


def test_adapter_implements_scrapy_interface() -> None:
    abstract = RobotParser.__abstractmethods__
    assert abstract <= set(vars(RobotsParser))
    assert load_object("linkcrawl.robots.RobotsParser") is RobotsParser


def test_adapter_from_crawler_on_bytes() -> None:
    crawler = get_crawler(settings_dict={"ROBOTSTXT_PARSER": "linkcrawl.robots.RobotsParser"})
    body = (
        b"\xef\xbb\xbfUser-agent: linkcrawl\nDisallow: /private\nCrawl-delay: 2\n"
        b"Disallow: /caf\xe9\nSitemap: https://a.example/s\xff.xml\n"
    )
    parser = build_from_crawler(RobotsParser, crawler, body)
    assert not parser.allowed("https://a.example/private/x", "linkcrawl/0.1 (+https://x)")
    assert not parser.allowed(b"https://a.example/private/x", b"linkcrawl")
    assert parser.allowed("https://a.example/public", "linkcrawl")
    assert parser.allowed("https://a.example/private/x", "OtherBot")
    assert not parser.allowed("https://a.example/caf%E9", "linkcrawl")
    assert parser.crawl_delay("linkcrawl/0.1") == 2.0
    assert parser.robots.sitemaps == ["https://a.example/s\ufffd.xml"]


def test_adapter_invalid_utf8_everywhere() -> None:
    parser = RobotsParser.from_crawler(get_crawler(), bytes(range(256)) * 10)
    assert parser.allowed("https://a.example/", "linkcrawl")


def test_pure_module_does_not_import_scrapy() -> None:
    code = (
        "import sys, linkcrawl.robots as r; r.parse_robots(b'user-agent: *').allowed('/', 'a');"
        "sys.exit(any(m.split('.')[0] == 'scrapy' for m in sys.modules))"
    )
    subprocess.run([sys.executable, "-c", code], check=True, cwd=Path(__file__).parent.parent)
