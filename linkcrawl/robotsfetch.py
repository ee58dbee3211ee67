"""What the answer to a robots.txt fetch means for the crawl (RFC 9309 2.3.1, 2.4), kept
as a small record that a worker holds in memory or shares with the fleet in Redis.

Pure (no Scrapy, no Redis): ``linkcrawl.middlewares.RobotsTxtMiddleware`` fetches and
decides, ``linkcrawl.frontier.store.Frontier`` stores the records (JSON, the body in
base64: nothing is pickled).

* :func:`kind_of_status`: a status's meaning: ``parsed`` (2xx: read the body),
  ``unavailable`` (4xx, a 3xx left after the redirects: no robots.txt, everything
  allowed) or ``unreachable`` (5xx: everything disallowed for a while, then retried).
  A network error, with no status, is ``unreachable`` too.
* :class:`RobotsAnswer` is one fetch's outcome; :func:`answer_for_response` and
  :func:`unreachable_answer` make one, carrying the start of an unreachable run over
  from the previous answer so that :func:`has_given_up` can tell how long it lasted.
* :func:`is_fresh` says whether an answer may still be used; :func:`retry_at` when an
  unreachable host's robots.txt is asked again.
* :func:`encode_answer` / :func:`decode_answer` are the Redis form;
  :func:`redis_ttl` how long Redis keeps it.
"""

from __future__ import annotations

import base64
import binascii
import json
from dataclasses import dataclass, replace
from typing import Literal

from linkcrawl.robots import MAX_BODY_BYTES

__all__ = [
    "ROBOTS_MAX_REDIRECTS",
    "RobotsAnswer",
    "answer_for_response",
    "continued",
    "decode_answer",
    "encode_answer",
    "has_given_up",
    "is_fresh",
    "kind_of_status",
    "redis_ttl",
    "retry_at",
    "unavailable_answer",
    "unreachable_answer",
]

#: Redirects followed for a robots.txt: RFC 9309 2.3.1.2 asks for at least five and lets a
#: crawler read more as "unavailable" (Google follows five too).
ROBOTS_MAX_REDIRECTS = 5

Kind = Literal["parsed", "unavailable", "unreachable"]

TOO_MANY_REQUESTS = 429


def kind_of_status(status: int | None) -> Kind:
    """What an HTTP status (``None``: no answer, a network error) of a robots.txt means.

    2xx: the body is the robots.txt. 3xx (a redirect that was not followed: no
    ``Location``, or too many hops) and 4xx: "unavailable" (RFC 9309 2.3.1.3, and
    2.3.1.2 for the redirects): crawl as if there were no robots.txt. 5xx, anything
    else and no answer: "unreachable" (2.3.1.4): disallow everything for a while.
    429 Too Many Requests is "unreachable" too, as Google reads it: a site that asks us
    to slow down is not saying "crawl everything" (to the RFC's letter it is a 4xx).
    """
    if status is None or status == TOO_MANY_REQUESTS:
        return "unreachable"
    if 200 <= status < 300:
        return "parsed"
    if 300 <= status < 500:
        return "unavailable"
    return "unreachable"


@dataclass(frozen=True, slots=True)
class RobotsAnswer:
    """One robots.txt fetch's outcome for a host (its ``scheme://netloc``)."""

    kind: Kind
    #: the final HTTP status, 0 when there was none (network error, refused request)
    status: int
    #: when it was answered (``time.time()``: every worker of a fleet reads it)
    time: float
    #: the body of a ``parsed`` answer, at most ``MAX_BODY_BYTES`` (what the matcher reads)
    body: bytes = b""
    #: why it is unavailable or unreachable, for the log (an exception, "HTTP 503")
    reason: str = ""
    #: unreachable: when the current run of unreachable answers began
    since: float = 0.0


def answer_for_response(status: int, body: bytes, now: float) -> RobotsAnswer:
    """The answer for an HTTP response (after the redirects were followed)."""
    kind = kind_of_status(status)
    if kind == "parsed":
        return RobotsAnswer(kind, status, now, body=body[:MAX_BODY_BYTES])
    return RobotsAnswer(kind, status, now, reason=f"HTTP {status}", since=now)


def unavailable_answer(reason: str, now: float) -> RobotsAnswer:
    """No robots.txt to read, by RFC 9309's rules (more than five redirects)."""
    return RobotsAnswer("unavailable", 0, now, reason=reason)


def unreachable_answer(reason: str, now: float) -> RobotsAnswer:
    """No answer at all (connection refused, timeout, DNS failure)."""
    return RobotsAnswer("unreachable", 0, now, reason=reason, since=now)


def continued(answer: RobotsAnswer, previous: RobotsAnswer | None) -> RobotsAnswer:
    """``answer``, with the start of its unreachable run taken from ``previous`` when that
    was unreachable too (the host has been unreachable since then)."""
    if (
        answer.kind == "unreachable"
        and previous is not None
        and previous.kind == "unreachable"
        and 0 < previous.since < answer.since
    ):
        return replace(answer, since=previous.since)
    return answer


def retry_at(answer: RobotsAnswer, retry_seconds: float) -> float:
    """When an unreachable host's robots.txt is fetched again."""
    return answer.time + retry_seconds


def is_fresh(answer: RobotsAnswer, now: float, *, max_age: float, retry_seconds: float) -> bool:
    """Whether ``answer`` may still be used at ``now``: a robots.txt (or its absence) for
    ``max_age`` seconds (RFC 9309 2.4), an unreachable one until its retry time."""
    if answer.kind == "unreachable":
        return now < retry_at(answer, retry_seconds)
    return now - answer.time < max_age


def has_given_up(answer: RobotsAnswer, now: float, give_up_seconds: float) -> bool:
    """Whether the host's robots.txt has been unreachable for ``give_up_seconds``: its
    requests then fail (never fetched) instead of waiting again."""
    return answer.kind == "unreachable" and now - answer.since >= give_up_seconds


def redis_ttl(
    answer: RobotsAnswer, *, max_age: float, retry_seconds: float, give_up_seconds: float
) -> float:
    """How long Redis keeps an answer: its useful life, and for an unreachable one long
    enough for the next worker to see when the unreachable run began."""
    if answer.kind == "unreachable":
        return max(retry_seconds, 1.0) + give_up_seconds
    return max_age


def encode_answer(answer: RobotsAnswer) -> str:
    """The JSON stored in Redis (the body in base64)."""
    record = {"kind": answer.kind, "status": answer.status, "time": answer.time,
              "body": base64.b64encode(answer.body).decode("ascii"),
              "reason": answer.reason, "since": answer.since}  # fmt: skip
    return json.dumps(record, separators=(",", ":"))


def decode_answer(raw: str | bytes) -> RobotsAnswer | None:
    """The answer stored by :func:`encode_answer`; ``None`` for anything else (a record
    written by another version: the robots.txt is then fetched again)."""
    try:
        record = json.loads(raw)
        kind = record["kind"]
        if kind not in ("parsed", "unavailable", "unreachable"):
            return None
        return RobotsAnswer(
            kind,
            int(record["status"]),
            float(record["time"]),
            base64.b64decode(record["body"], validate=True),
            str(record["reason"]),
            float(record["since"]),
        )
    except (ValueError, TypeError, KeyError, binascii.Error):
        return None
