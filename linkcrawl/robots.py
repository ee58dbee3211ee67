"""robots.txt (RFC 9309) as Google's reference matcher reads it, precompiled for speed.

Google's matcher (google/robotstxt, ``robots.cc``) re-parses the whole file for every
URL it is asked about. Here a file is parsed once into groups of rules
(:func:`parse_robots`), and the rules that apply to one agent are compiled once into a
single regular expression, so a decision is one ``re.match`` plus a few string
operations. The answers are Google's: the tests run every expectation of Google's
``robots_test.cc``.

Everything but :class:`RobotsParser` is pure (no Scrapy import):

* :func:`parse_robots` turns a body (``str`` or ``bytes``) into a :class:`RobotsTxt`,
  whose :meth:`~RobotsTxt.allowed`, :meth:`~RobotsTxt.decision`,
  :meth:`~RobotsTxt.crawl_delay` and :attr:`~RobotsTxt.sitemaps` answer questions.
* :func:`parse_directives` is the line reader underneath: BOM, line endings, the body
  and line caps, comments, ``key: value`` and the key typos Google accepts.
* :func:`path_params_query`, :func:`escape_pattern`, :func:`product_token` and
  :func:`is_valid_user_agent` are Google's helpers of the same names.
* :class:`RobotsParser` is the Scrapy adapter: ``ROBOTSTXT_PARSER =
  "linkcrawl.robots.RobotsParser"``.

Google's reading, where RFC 9309 leaves room or where Google goes beyond it:

* A group is one or more ``user-agent`` lines and the lines after them; a ``user-agent``
  line starts a new group only after an ``allow``/``disallow`` line. Other lines
  (``sitemap``, ``crawl-delay``, unknown keys) do not end a group (RFC 9309 2.2.4).
  ``allow``/``disallow`` lines before the first ``user-agent`` line are ignored.
* A ``user-agent`` line names the product token at the start of its value (letters,
  ``-``, ``_``: ``FooBot/1.2`` is ``FooBot``), compared ASCII-case-insensitively with
  the *whole* agent asked about: pass a product token (``FooBot``), not a full
  ``User-Agent`` header (:func:`product_token` extracts one). ``*`` (alone or followed
  by whitespace) is the global group, used only when no group names the agent. All
  groups naming the agent are merged.
* The longest matching pattern wins (length of the pattern as written, after escaping);
  ``allow`` wins a tie; an empty pattern never decides. ``*`` matches any run of
  characters, ``$`` anchors the end only as the pattern's last character.
* Patterns are escaped as Google does (:func:`escape_pattern`): non-ASCII bytes become
  ``%HH`` and ``%hh`` is upper-cased. Nothing is decoded: ``%62`` does not match ``b``,
  and the URL is compared as given (pass it percent-encoded, as a crawler sends it).
* An ``allow`` pattern ending in ``/index.htm...`` also allows its directory
  (``/dir/index.html`` allows ``/dir/``), a Google extension.
* Accepted typos: ``useragent``, ``user agent``, ``dissallow``, ``dissalow``,
  ``disalow``, ``diasllow``, ``disallaw``; keys match by prefix (``disallowed`` is
  ``disallow``), a missing colon is accepted when the line is exactly two words.
* The first 500 KiB of the body are read, the rest ignored (Google's documented
  limit); a line is cut at 16,663 bytes (``robots.cc``'s line buffer). A UTF-8 BOM,
  or its first bytes, is skipped; CR, LF and CRLF all end lines.
* ``/robots.txt`` itself is always allowed (RFC 9309 2.2.2).
* ``crawl-delay`` is not Google's (Google ignores it): it belongs to the group it is
  in (the first valid value of a group counts), and an agent's delay comes from the
  same groups as its rules. Like any line other than a rule, it does not end a group.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Literal

if TYPE_CHECKING:
    from collections.abc import Callable, Iterable, Iterator, Sequence
    from typing import Self

    from scrapy.crawler import Crawler

__all__ = [
    "MAX_BODY_BYTES",
    "MAX_LINE_BYTES",
    "Decision",
    "Directive",
    "Group",
    "RobotsParser",
    "RobotsTxt",
    "Rule",
    "RuleMatcher",
    "agent_of_line",
    "build_groups",
    "directive_kind",
    "escape_pattern",
    "is_valid_user_agent",
    "parse_directives",
    "parse_robots",
    "path_params_query",
    "product_token",
    "split_key_value",
    "split_lines",
]

#: Bytes of a robots.txt body that are read; the rest is ignored (Google: 500 KiB).
MAX_BODY_BYTES = 500 * 1024
#: Bytes of one line that are read (``robots.cc``: a 2083 * 8 byte buffer with its NUL).
MAX_LINE_BYTES = 2083 * 8 - 1

DirectiveKind = Literal["user-agent", "allow", "disallow", "sitemap", "crawl-delay", "unknown"]
RuleKind = Literal["allow", "disallow"]

_UTF8_BOM = b"\xef\xbb\xbf"
_GLOBAL = "*"
# Key prefixes (case-insensitive), tried in this order as Google's ParsedRobotsKey::Parse
# does; one regex alternative per kind, its group number saying which.
_KEY_KINDS: tuple[DirectiveKind, ...] = (
    "user-agent",
    "allow",
    "disallow",
    "sitemap",
    # Not Google's (Google ignores crawl-delay): tried after Google's keys, so it cannot
    # change how a Google key is read.
    "crawl-delay",
)
_KEY_PREFIX = re.compile(
    r"(user-agent|useragent|user agent)"
    r"|(allow)"
    r"|(disallow|dissallow|dissalow|disalow|diasllow|disallaw)"
    r"|(sitemap|site-map)"
    r"|(crawl-delay|crawldelay)",
    re.IGNORECASE | re.ASCII,  # ASCII: the Kelvin sign is not a "k"
)
_ASCII_LOWER = str.maketrans("ABCDEFGHIJKLMNOPQRSTUVWXYZ", "abcdefghijklmnopqrstuvwxyz")
# absl::StripAsciiWhitespace and C isspace(): space, \t, \n, \v, \f, \r.
_ASCII_SPACE = " \t\n\v\f\r"
_SPACE_OR_TAB = re.compile(r"[ \t]+")
_PRODUCT_TOKEN = re.compile(r"[A-Za-z_-]*")
# What escape_pattern rewrites: a %-escape (upper-cased) or a run of non-ASCII characters.
_TO_ESCAPE = re.compile(r"%[0-9A-Fa-f]{2}|[^\x00-\x7f]+")
_STARS = re.compile(r"\*+")
# Where a URL's path, params or query starts (GetPathParamsQuery's find_first_of("/?;")).
_PATH_START = re.compile(r"[/?;]")
# A rule with more wildcards than this is matched by _wildcard_matcher instead of the
# combined regex: backtracking on ".*a.*b.*c" costs O(n**3) on an adversarial path.
_REGEX_MAX_STARS = 2


# --------------------------------------------------------------------------- helpers


def product_token(user_agent: str) -> str:
    """The product token at the start of ``user_agent``: ``"FooBot/2.1 (x)" -> "FooBot"``.

    Google's ``ExtractUserAgent``: the longest prefix of ASCII letters, ``-`` and ``_``.
    """
    match = _PRODUCT_TOKEN.match(user_agent)
    return match.group() if match else ""


def is_valid_user_agent(user_agent: str) -> bool:
    """Whether ``user_agent`` is a product token a crawler can obey rules for (non-empty,
    only letters, ``-`` and ``_``). Google's ``IsValidUserAgentToObey``."""
    return bool(user_agent) and product_token(user_agent) == user_agent


def path_params_query(url: str) -> str:
    """The path, params and query of ``url``, without scheme, authority and fragment.

    Google's ``GetPathParamsQuery``: the result always starts with ``/``; a URL without
    a path (or not a URL) gives ``/``; a path alone (``/a?b``) is returned as it is.
    Nothing is decoded or normalised.
    """
    if url[:1] == "/" and url[1:2] != "/":
        # The common case of a path: no authority to skip.
        hash_pos = url.find("#")
        return url if hash_pos < 0 else url[:hash_pos]
    search_start = 2 if url[:2] == "//" else 0
    early = _PATH_START.search(url, search_start)
    protocol_end = url.find("://", search_start)
    if protocol_end < 0 or (early is not None and early.start() < protocol_end):
        # No "://", or a path, params or query start before it: no scheme to skip.
        path_match = early
    else:
        path_match = _PATH_START.search(url, protocol_end + 3)
    if path_match is None:
        return "/"
    path_start = path_match.start()
    hash_pos = url.find("#", search_start)
    if 0 <= hash_pos < path_start:
        return "/"
    path = url[path_start:hash_pos] if hash_pos >= 0 else url[path_start:]
    return path if path[0] == "/" else "/" + path


def escape_pattern(pattern: str) -> str:
    """A rule's pattern as Google compares it (``MaybeEscapePattern``).

    ``%hh`` escapes get upper-case hex, non-ASCII characters become the ``%HH`` escapes of
    their UTF-8 bytes (bytes that were not UTF-8, kept as surrogates by
    ``surrogateescape``, become the escape of the original byte). Nothing else changes.
    """
    if pattern.isascii() and "%" not in pattern:
        return pattern
    return _TO_ESCAPE.sub(_escape_match, pattern)


def _escape_match(match: re.Match[str]) -> str:
    text = match.group()
    if text[0] == "%":
        return text.upper()
    return "".join(f"%{byte:02X}" for byte in text.encode("utf-8", "surrogateescape"))


def _as_text(value: str) -> str:
    """``value`` with bytes that were not UTF-8 (surrogates) replaced by U+FFFD."""
    if value.isascii():
        return value
    return value.encode("utf-8", "surrogateescape").decode("utf-8", "replace")


def _ascii_lower(text: str) -> str:
    # Google compares agents with absl::EqualsIgnoreCase (ASCII only); str.lower() would
    # also map the Kelvin sign to "k".
    return text.translate(_ASCII_LOWER)


# --------------------------------------------------------------------------- lines


@dataclass(frozen=True, slots=True)
class Directive:
    """One ``key: value`` line that Google's parser accepts.

    ``value`` is escaped (:func:`escape_pattern`) for ``allow``/``disallow``/unknown keys
    and left as written for ``user-agent`` and ``sitemap``, as Google does.
    """

    line: int
    kind: DirectiveKind
    key: str
    value: str


def split_lines(body: str | bytes) -> list[str]:
    """The lines of a robots.txt body as Google's parser sees them.

    The body is capped at :data:`MAX_BODY_BYTES` and each line at
    :data:`MAX_LINE_BYTES` (both in UTF-8 bytes); a leading UTF-8 BOM, or a prefix of
    one, is skipped; CR, LF and CRLF end lines; a final line break does not start a
    line. Bytes that are not UTF-8 survive as surrogates (``surrogateescape``).
    """
    raw = _body_bytes(body)[:MAX_BODY_BYTES]
    # robots.cc skips the longest prefix of the body that is a prefix of the BOM.
    for size in (3, 2, 1):
        if raw.startswith(_UTF8_BOM[:size]):
            raw = raw[size:]
            break
    text = raw.decode("utf-8", "surrogateescape")
    lines = text.replace("\r\n", "\n").replace("\r", "\n").split("\n")
    if len(lines) > 1 and not lines[-1]:
        lines.pop()
    # A line longer than MAX_LINE_BYTES // 4 characters may be longer in bytes.
    limit = MAX_LINE_BYTES // 4
    for index, line in enumerate(lines):
        if len(line) > limit:
            encoded = line.encode("utf-8", "surrogateescape")
            if len(encoded) > MAX_LINE_BYTES:
                lines[index] = encoded[:MAX_LINE_BYTES].decode("utf-8", "surrogateescape")
    return lines


def _body_bytes(body: str | bytes) -> bytes:
    if isinstance(body, bytes | bytearray | memoryview):
        return bytes(body)
    try:
        return body.encode("utf-8", "surrogateescape")
    except UnicodeEncodeError:  # lone surrogates that are not escaped bytes
        return body.encode("utf-8", "replace")


def split_key_value(line: str) -> tuple[str, str] | None:
    """``(key, value)`` of one line, or None for a line Google skips.

    Google's ``GetKeyAndValueFrom``: the comment (from ``#``) is dropped, the key ends at
    the first ``:``; without a colon, whitespace separates the key from the value only
    when the line is exactly two words. A line with an empty key is skipped.
    """
    comment = line.find("#")
    if comment >= 0:
        line = line[:comment]
    line = line.strip(_ASCII_SPACE)
    sep = line.find(":")
    if sep >= 0:
        key, value = line[:sep], line[sep + 1 :]
    else:
        # Only space and tab separate here (str.split() would also split on U+3000).
        space = _SPACE_OR_TAB.search(line)
        if space is None:
            return None
        key, value = line[: space.start()], line[space.end() :]
        if _SPACE_OR_TAB.search(value):
            return None
    key = key.strip(_ASCII_SPACE)
    if not key:
        return None
    return key, value.strip(_ASCII_SPACE)


def directive_kind(key: str) -> DirectiveKind:
    """The directive a key names, by case-insensitive prefix, typos included."""
    match = _KEY_PREFIX.match(key)
    return "unknown" if match is None else _KEY_KINDS[(match.lastindex or 1) - 1]


def parse_directives(body: str | bytes) -> Iterator[Directive]:
    """Every line of ``body`` that Google's parser accepts, numbered from 1."""
    for line, kind, key, value in _directives(body):
        yield Directive(line, kind, key, value)


def _directives(body: str | bytes) -> Iterator[tuple[int, DirectiveKind, str, str]]:
    # parse_directives without building a Directive per line: parse_robots's path.
    for number, line in enumerate(split_lines(body), 1):
        key_value = split_key_value(line)
        if key_value is None:
            continue
        key, value = key_value
        kind = directive_kind(key)
        if kind not in ("user-agent", "sitemap"):
            value = escape_pattern(value)
        yield number, kind, key, value


# --------------------------------------------------------------------------- groups


@dataclass(frozen=True, slots=True)
class Rule:
    """An ``allow`` or ``disallow`` line: its line number, kind and escaped pattern."""

    line: int
    kind: RuleKind
    pattern: str


#: The rule that decided a URL (the longest match), as :meth:`RobotsTxt.decision` gives it.
Decision = Rule


@dataclass(slots=True)
class Group:
    """A group: the agents its ``user-agent`` lines name and the lines after them.

    ``agents`` holds lower-case product tokens, ``"*"`` for the global group.
    """

    agents: list[str] = field(default_factory=list)
    rules: list[Rule] = field(default_factory=list)
    crawl_delay: float | None = None


def agent_of_line(value: str) -> str:
    """The agent a ``user-agent`` line names: ``"*"`` or a lower-case product token.

    Google reads ``* anything`` as the global agent and otherwise keeps the product
    token (``"FooBot/1.2" -> "foobot"``, ``"*Bot" -> ""``).
    """
    if value[:1] == _GLOBAL and (len(value) == 1 or value[1] in _ASCII_SPACE):
        return _GLOBAL
    return _ascii_lower(product_token(value))


def _crawl_delay(value: str) -> float | None:
    try:
        delay = float(value)
    except ValueError:
        return None
    return delay if math.isfinite(delay) and delay >= 0 else None


def build_groups(
    directives: Iterable[tuple[int, DirectiveKind, str, str]],
) -> tuple[list[Group], list[str]]:
    """Groups and sitemap URLs (in file order, without repeats) of ``(line, kind, key,
    value)`` tuples, as ``parse_directives`` gives them before making them Directives.
    """
    groups: list[Group] = []
    sitemaps: dict[str, None] = {}
    group: Group | None = None
    rules_seen = False  # a rule since the last user-agent line: the next one starts a group
    for line, kind, _key, value in directives:
        if kind == "user-agent":
            if group is None or rules_seen:
                group = Group()
                groups.append(group)
                rules_seen = False
            group.agents.append(agent_of_line(value))
        elif kind in ("allow", "disallow"):
            if group is not None:
                rule_kind: RuleKind = "allow" if kind == "allow" else "disallow"
                group.rules.append(Rule(line, rule_kind, value))
                rules_seen = True
        elif kind == "sitemap":
            if value:
                sitemaps[_as_text(value)] = None
        elif kind == "crawl-delay" and group is not None and group.crawl_delay is None:
            group.crawl_delay = _crawl_delay(value)
    return groups, list(sitemaps)


# --------------------------------------------------------------------------- matching


def _priority(rule: Rule) -> int:
    # Google's priority of a match: the length of the pattern as written (escaped).
    return len(rule.pattern)


def _effective_rules(rules: Sequence[Rule]) -> list[Rule]:
    """Rules that can decide, best first: longest pattern first, allow before disallow at
    equal length, file order after that (Google keeps the first line of a priority).

    Empty patterns (priority 0) never decide and are dropped. An ``allow`` ending in
    ``/index.htm...`` adds ``<dir>/$`` (Google's index.html-is-the-directory rule).
    """
    candidates: list[Rule] = []
    for rule in rules:
        if not rule.pattern:
            continue
        candidates.append(rule)
        if rule.kind == "allow":
            slash = rule.pattern.rfind("/")
            if slash >= 0 and rule.pattern.startswith("/index.htm", slash):
                candidates.append(Rule(rule.line, "allow", rule.pattern[: slash + 1] + "$"))
    candidates.sort(key=lambda r: (-_priority(r), r.kind != "allow"))
    seen: set[tuple[str, str]] = set()
    best: list[Rule] = []
    for rule in candidates:
        if (rule.kind, rule.pattern) not in seen:
            seen.add((rule.kind, rule.pattern))
            best.append(rule)
    return best


def _pattern_regex(pattern: str) -> str:
    """A pattern as a regex matched at the start of the path (``re.DOTALL``)."""
    anchored = pattern.endswith("$")
    body = pattern[:-1] if anchored else pattern
    regex = ".*".join(re.escape(piece) for piece in _STARS.sub("*", body).split("*"))
    return regex + r"\Z" if anchored else regex


def _wildcard_matcher(pattern: str) -> Callable[[str], bool]:
    """A matcher for a pattern with many ``*``: leftmost match of each literal piece in
    turn, linear in the path (a regex would backtrack)."""
    anchored = pattern.endswith("$")
    pieces = (pattern[:-1] if anchored else pattern).split("*")
    head, middle, tail = pieces[0], pieces[1:-1], pieces[-1]

    def matches(path: str) -> bool:
        if not path.startswith(head):
            return False
        pos = len(head)
        for piece in middle:
            found = path.find(piece, pos)
            if found < 0:
                return False
            pos = found + len(piece)
        if anchored:
            return len(path) - len(tail) >= pos and path.endswith(tail)
        return path.find(tail, pos) >= 0

    return matches


class RuleMatcher:
    """The rules that apply to one agent, compiled: :meth:`best` gives the deciding rule.

    Rules are sorted best first; one regex tries them as alternatives in that order, so
    the first alternative that matches is the longest match. Rules with many wildcards
    are checked separately (only those ranked above the regex's answer).
    """

    __slots__ = ("_complex", "_regex", "_regex_rules")

    def __init__(self, rules: Sequence[Rule]) -> None:
        ranked = _effective_rules(rules)
        alternatives: list[str] = []
        # (rank, rule) of each regex alternative: group i + 1 of the regex is rule i.
        self._regex_rules: list[tuple[int, Rule]] = []
        self._complex: list[tuple[int, Rule, Callable[[str], bool]]] = []
        for rank, rule in enumerate(ranked):
            if _STARS.sub("*", rule.pattern).count("*") > _REGEX_MAX_STARS:
                self._complex.append((rank, rule, _wildcard_matcher(rule.pattern)))
            else:
                alternatives.append(f"({_pattern_regex(rule.pattern)})")
                self._regex_rules.append((rank, rule))
        self._regex = re.compile("|".join(alternatives), re.DOTALL) if alternatives else None

    def best(self, path: str) -> Rule | None:
        """The rule that decides ``path``, or None when no rule (with a pattern) matches."""
        winner: Rule | None = None
        winner_rank = -1
        if self._regex is not None:
            match = self._regex.match(path)
            if match is not None:
                winner_rank, winner = self._regex_rules[(match.lastindex or 1) - 1]
                if not self._complex:
                    return winner
        for rank, rule, matches in self._complex:
            if winner is not None and rank > winner_rank:
                break
            if matches(path):
                return rule
        return winner


# --------------------------------------------------------------------------- the file


class RobotsTxt:
    """A parsed robots.txt. Build it with :func:`parse_robots`.

    Questions take an agent as a product token (``"FooBot"``); the rules that apply to
    an agent are compiled on its first question and kept.
    """

    def __init__(self, groups: list[Group], sitemaps: list[str]) -> None:
        self.groups = groups
        #: ``Sitemap:`` URLs in file order, repeats removed, as written (maybe relative).
        self.sitemaps = sitemaps
        self._matchers: dict[str, RuleMatcher] = {}

    def groups_for(self, agent: str) -> list[Group]:
        """The groups that apply to ``agent``: every group naming it, else the global ones.

        A group naming the agent applies even with no rules (then everything is allowed).
        """
        token = _ascii_lower(agent)
        named = [g for g in self.groups if token in g.agents]
        return named or [g for g in self.groups if _GLOBAL in g.agents]

    def _matcher(self, agent: str) -> RuleMatcher:
        matcher = self._matchers.get(agent)
        if matcher is None:
            rules = [rule for group in self.groups_for(agent) for rule in group.rules]
            matcher = self._matchers[agent] = RuleMatcher(rules)
        return matcher

    def decision(self, url: str, agent: str) -> Decision | None:
        """The rule that decides ``url`` (a URL or a path) for ``agent``, or None.

        None means no rule applies, and the URL is allowed.
        """
        path = path_params_query(url)
        if path[:11] == "/robots.txt" and path[11:12] in ("", "?"):
            return None
        matcher = self._matchers.get(agent) or self._matcher(agent)
        return matcher.best(path)

    def allowed(self, url: str, agent: str) -> bool:
        """Whether ``agent`` may fetch ``url`` (a URL or a path, percent-encoded)."""
        rule = self.decision(url, agent)
        return rule is None or rule.kind == "allow"

    def crawl_delay(self, agent: str) -> float | None:
        """The first valid ``Crawl-delay`` (seconds) of the groups that apply to ``agent``."""
        for group in self.groups_for(agent):
            if group.crawl_delay is not None:
                return group.crawl_delay
        return None


def parse_robots(body: str | bytes) -> RobotsTxt:
    """Parse a robots.txt body (bytes as fetched, or text). Never raises on content."""
    groups, sitemaps = build_groups(_directives(body))
    return RobotsTxt(groups, sitemaps)


# --------------------------------------------------------------------------- Scrapy


class RobotsParser:
    """Scrapy's robots.txt parser interface (``scrapy.robotstxt.RobotParser``) over
    :func:`parse_robots`: set ``ROBOTSTXT_PARSER = "linkcrawl.robots.RobotsParser"``.

    Scrapy gives the user agent as ``ROBOTSTXT_USER_AGENT`` or the ``User-Agent`` header;
    its product token (``"linkcrawl/0.1 (+url)" -> "linkcrawl"``) is matched. The body
    is read as UTF-8: sitemap URLs get U+FFFD for bytes that are not UTF-8, patterns
    keep those bytes as ``%HH`` escapes, as Google's matcher (which reads bytes) does.
    Reads no settings and writes no stats.
    """

    def __init__(self, robotstxt_body: bytes | str) -> None:
        self.robots = parse_robots(robotstxt_body)

    @classmethod
    def from_crawler(cls, crawler: Crawler, robotstxt_body: bytes) -> Self:
        return cls(robotstxt_body)

    def allowed(self, url: str | bytes, user_agent: str | bytes) -> bool:
        return self.robots.allowed(_text(url), product_token(_text(user_agent)))

    def crawl_delay(self, user_agent: str | bytes) -> float | None:
        return self.robots.crawl_delay(product_token(_text(user_agent)))


def _text(value: str | bytes) -> str:
    return value.decode("utf-8", "replace") if isinstance(value, bytes) else value
