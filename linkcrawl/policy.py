"""Pure crawl-policy rules: seeds, scope and which extracted links to follow."""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn

from linkcrawl import defaults
from linkcrawl.urls import (
    SCOPES,
    URLError,
    canonicalize,
    in_scope,
    normalize_host,
    registered_domain,
    url_host,
)

if TYPE_CHECKING:
    from collections.abc import Callable, Iterable

    from scrapy.settings import BaseSettings

    from linkcrawl.links import Link, PageFacts

_CRAWL_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,127}")
_HTML_TYPES = ("text/html", "application/xhtml+xml")


class PolicyError(ValueError):
    """A user-supplied crawl setting or argument is unusable; the message says which."""


def stop_on_user_error(error: Exception) -> NoReturn:
    """End ``scrapy crawl`` with one log line and exit status 2.

    Called from ``from_crawler`` (before anything is opened): an exception there would
    reach the user as an asyncio traceback and, in Scrapy 2.19, exit status 1.
    """
    logging.getLogger("linkcrawl").critical("linkcrawl: error: %s", error)
    raise SystemExit(2) from None


# Scrapy settings a user commonly sets with -s, checked with linkcrawl's own so that a typo
# is one line naming the setting, not a traceback from deep inside a middleware.
_SCRAPY_NUMERIC_SETTINGS = {
    "DEPTH_LIMIT": int,
    "DEPTH_PRIORITY": int,
    "CONCURRENT_REQUESTS": int,
    "CONCURRENT_REQUESTS_PER_DOMAIN": int,
    "DOWNLOAD_MAXSIZE": int,
    "DOWNLOAD_WARNSIZE": int,
    "RETRY_TIMES": int,
    "DOWNLOAD_DELAY": float,
    "DOWNLOAD_TIMEOUT": float,
}


def check_settings(settings: BaseSettings) -> None:
    """Every linkcrawl setting (and a few Scrapy ones) parses as its default's type."""
    expected: dict[str, type] = dict(_SCRAPY_NUMERIC_SETTINGS)
    for name in dir(defaults):
        if name.isupper():
            expected[name] = type(getattr(defaults, name))
    getters: dict[type, Callable[[str], object]] = {
        bool: settings.getbool,
        int: settings.getint,
        float: settings.getfloat,
        list: settings.getlist,
    }
    for name, kind in sorted(expected.items()):
        getter = getters.get(kind)
        if getter is None:
            continue
        try:
            value: Any = getter(name)
        except (TypeError, ValueError):
            raise PolicyError(
                f"setting {name}={settings.get(name)!r} is not a valid {kind.__name__}"
            ) from None
        if kind in (int, float) and value < 0:
            raise PolicyError(f"setting {name}={value!r} must not be negative")
    check_crawl_id(str(settings.get("LINKCRAWL_CRAWL_ID")))


def check_crawl_id(crawl_id: str) -> str:
    """A crawl id becomes a directory name (``crawl_id=<id>``), so keep it path-safe."""
    if not _CRAWL_ID.fullmatch(crawl_id):
        raise PolicyError(
            f"LINKCRAWL_CRAWL_ID {crawl_id!r} must be 1-128 characters of "
            "letters, digits, '.', '_' or '-', starting with a letter or digit"
        )
    return crawl_id


def load_seeds(
    seeds: str | None,
    seeds_file: str | None,
    strip_params: tuple[str, ...],
    *,
    required: bool = True,
) -> list[str]:
    """Canonical seed URLs from a comma-separated string and/or a file (one URL a line,
    ``#`` comments). A bad URL or unreadable file raises PolicyError naming it."""
    raw: list[tuple[str, str]] = []
    if seeds:
        raw += [(s.strip(), "seeds") for s in seeds.split(",") if s.strip()]
    if seeds_file:
        try:
            text = Path(seeds_file).read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as e:
            raise PolicyError(f"cannot read seeds file {seeds_file!r}: {e}") from None
        for lineno, line in enumerate(text.splitlines(), 1):
            url = line.strip()
            if url and not url.startswith("#"):
                raw.append((url, f"{seeds_file}:{lineno}"))
    out: list[str] = []
    for url, where in raw:
        try:
            out.append(canonicalize(url, strip_params=strip_params))
        except URLError as e:
            raise PolicyError(f"bad seed URL {url!r} ({where}): {e}") from None
    if not out and required:
        raise PolicyError("no seeds: pass -a seeds=URL[,URL...] or -a seeds_file=PATH")
    return list(dict.fromkeys(out))


def media_type(content_type: str | None) -> str | None:
    """``text/html; charset=x`` -> ``text/html``; None when absent or empty."""
    if not content_type:
        return None
    value = content_type.split(";", 1)[0].strip().lower()
    return value or None


def is_html(content_type: str | None, body: bytes) -> bool:
    """HTML by declared type, or (no type at all) by a body that starts like HTML."""
    mtype = media_type(content_type)
    if mtype is not None:
        return mtype in _HTML_TYPES
    head = body[:512].lstrip().lower()
    return head.startswith((b"<!doctype html", b"<html", b"<head", b"<body", b"<a ", b"<p"))


@dataclass(frozen=True, slots=True)
class CrawlPolicy:
    """Which links a page's facts turn into requests (docs/rules.md section 3)."""

    scope: str = "all"
    seed_hosts: frozenset[str] = frozenset()
    seed_domains: frozenset[str] = frozenset()
    allowed_domains: frozenset[str] = frozenset()
    follow_nofollow: bool = True
    obey_meta_robots: bool = True

    @classmethod
    def build(
        cls,
        *,
        scope: str,
        seeds: Iterable[str],
        allowed_domains: Iterable[str],
        follow_nofollow: bool,
        obey_meta_robots: bool,
    ) -> CrawlPolicy:
        if scope not in SCOPES:
            raise PolicyError(
                f"LINKCRAWL_SCOPE {scope!r} is not one of {', '.join(sorted(SCOPES))}"
            )
        allowed: set[str] = set()
        for name in allowed_domains:
            if name.strip():
                try:
                    allowed.add(normalize_host(name))
                except URLError:
                    raise PolicyError(
                        f"LINKCRAWL_ALLOWED_DOMAINS entry {name!r} is not a host name"
                    ) from None
        if scope == "allowlist" and not allowed:
            raise PolicyError("LINKCRAWL_SCOPE 'allowlist' needs LINKCRAWL_ALLOWED_DOMAINS")
        hosts = frozenset(url_host(u) for u in seeds)
        return cls(
            scope=scope,
            seed_hosts=hosts,
            seed_domains=frozenset(registered_domain(h) for h in hosts),
            allowed_domains=frozenset(allowed),
            follow_nofollow=follow_nofollow,
            obey_meta_robots=obey_meta_robots,
        )

    def in_scope(self, url: str) -> bool:
        if self.scope == "all":
            return True
        host = url_host(url)
        return in_scope(
            host,
            registered_domain(host),
            self.scope,
            self.seed_hosts,
            self.seed_domains,
            self.allowed_domains,
        )

    def follows(self, link: Link, page_nofollow: bool = False) -> bool:
        if page_nofollow and self.obey_meta_robots:
            return False
        if link.nofollow and not self.follow_nofollow:
            return False
        return self.in_scope(link.target_url)

    def to_follow(self, facts: PageFacts) -> list[str]:
        """Targets to request from a parsed page, in document order, without repeats."""
        if facts.nofollow and self.obey_meta_robots:
            return []
        targets = (link.target_url for link in facts.links if self.follows(link))
        return list(dict.fromkeys(targets))
