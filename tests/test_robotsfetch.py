"""What a robots.txt fetch's outcome means: linkcrawl.robotsfetch (pure), and the
embedded scheduler that holds the requests of a host whose robots.txt is unreachable."""

from __future__ import annotations

import time

import pytest
from scrapy import Request, Spider
from scrapy.utils.test import get_crawler

from linkcrawl.frontier.meta import NOT_BEFORE_META_KEY
from linkcrawl.frontier.scheduler import PostponingScheduler
from linkcrawl.robots import MAX_BODY_BYTES
from linkcrawl.robotsfetch import (
    RobotsAnswer,
    answer_for_response,
    continued,
    decode_answer,
    encode_answer,
    has_given_up,
    is_fresh,
    kind_of_status,
    redis_ttl,
    retry_at,
    unavailable_answer,
    unreachable_answer,
)


@pytest.mark.parametrize(
    ("status", "kind"),
    [
        (200, "parsed"), (204, "parsed"), (299, "parsed"),
        (301, "unavailable"),  # a redirect left unfollowed (no Location, too many hops)
        (400, "unavailable"), (401, "unavailable"), (403, "unavailable"),
        (404, "unavailable"), (410, "unavailable"),
        (429, "unreachable"),  # Google's reading: "slow down" is not "crawl everything"
        (500, "unreachable"), (503, "unreachable"), (599, "unreachable"),
        (600, "unreachable"), (199, "unreachable"), (None, "unreachable"),
    ],
)  # fmt: skip
def test_kind_of_status(status: int | None, kind: str) -> None:
    # RFC 9309 2.3.1.3 (4xx: unavailable, allow all) and 2.3.1.4 (5xx: disallow all)
    assert kind_of_status(status) == kind


def test_answers_from_responses_and_errors() -> None:
    ok = answer_for_response(200, b"x" * (MAX_BODY_BYTES + 10), 5.0)
    assert (ok.kind, ok.status, ok.time, len(ok.body)) == ("parsed", 200, 5.0, MAX_BODY_BYTES)
    gone = answer_for_response(404, b"User-agent: *\nDisallow: /\n", 5.0)
    assert (gone.kind, gone.body, gone.reason) == ("unavailable", b"", "HTTP 404")
    down = answer_for_response(503, b"busy", 5.0)
    assert (down.kind, down.body, down.since) == ("unreachable", b"", 5.0)
    assert unreachable_answer("ConnectionRefusedError: x", 7.0).since == 7.0
    assert unavailable_answer("max redirections reached", 7.0).kind == "unavailable"


def test_an_unreachable_run_keeps_its_start() -> None:
    first = unreachable_answer("timeout", 100.0)
    second = continued(answer_for_response(503, b"", 400.0), first)
    assert (second.since, second.time, second.status) == (100.0, 400.0, 503)
    # a good answer ends the run; the next failure starts a new one
    good = continued(answer_for_response(200, b"", 700.0), second)
    assert good.since == 0.0
    assert continued(unreachable_answer("x", 900.0), good).since == 900.0
    assert continued(first, None) is first


def test_freshness_retry_and_give_up() -> None:
    ok = answer_for_response(200, b"", 1_000.0)
    assert is_fresh(ok, 1_000.0 + 86_399, max_age=86_400, retry_seconds=300)
    assert not is_fresh(ok, 1_000.0 + 86_400, max_age=86_400, retry_seconds=300)
    down = continued(unreachable_answer("x", 1_000.0), unreachable_answer("x", 400.0))
    assert retry_at(down, 300) == 1_300.0
    assert is_fresh(down, 1_299.0, max_age=86_400, retry_seconds=300)
    assert not is_fresh(down, 1_300.0, max_age=86_400, retry_seconds=300)
    assert not has_given_up(down, 1_000.0, 3_600)
    assert has_given_up(down, 4_000.0, 3_600)  # unreachable since 400
    assert not has_given_up(ok, 10**9, 3_600)
    assert redis_ttl(ok, max_age=86_400, retry_seconds=300, give_up_seconds=3_600) == 86_400
    # an unreachable answer outlives its retry time, so the run's start is not forgotten
    assert redis_ttl(down, max_age=86_400, retry_seconds=300, give_up_seconds=3_600) == 3_900


@pytest.mark.parametrize(
    "answer",
    [
        answer_for_response(200, bytes(range(256)) + "café".encode(), 1.5),
        answer_for_response(404, b"", 2.0),
        RobotsAnswer("unreachable", 0, 3.0, reason="DNSLookupError: é", since=1.0),
    ],
)
def test_redis_form_round_trip(answer: RobotsAnswer) -> None:
    raw = encode_answer(answer)
    assert raw.isascii() and "\n" not in raw
    assert decode_answer(raw) == answer
    assert decode_answer(raw.encode()) == answer


@pytest.mark.parametrize(
    "raw",
    ["", "null", "[]", "{}", '{"kind": "pickle"}', b"\x80\x04K\x01.",
     '{"kind":"parsed","status":200,"time":1,"body":"*not base64*","reason":"","since":0}'],
)  # fmt: skip
def test_unreadable_redis_records_are_ignored(raw: str | bytes) -> None:
    assert decode_answer(raw) is None


def test_the_embedded_scheduler_holds_postponed_requests_until_due() -> None:
    crawler = get_crawler(
        Spider, {"SCHEDULER_PRIORITY_QUEUE": "scrapy.pqueues.ScrapyPriorityQueue"}
    )
    scheduler = PostponingScheduler.from_crawler(crawler)
    scheduler.open(Spider("s"))
    later = Request("http://down.test/a", dont_filter=True)
    later.meta[NOT_BEFORE_META_KEY] = time.time() + 0.3
    assert scheduler.enqueue_request(later)
    assert scheduler.enqueue_request(Request("http://up.test/"))
    assert scheduler.has_pending_requests() and len(scheduler) == 2
    got = scheduler.next_request()
    assert got is not None and got.url == "http://up.test/"
    assert scheduler.next_request() is None and scheduler.has_pending_requests()
    time.sleep(0.3)
    due = scheduler.next_request()
    assert due is later and NOT_BEFORE_META_KEY not in due.meta
    assert not scheduler.has_pending_requests()
    assert crawler.stats is not None
    assert crawler.stats.get_value("scheduler/postponed") == 1
    scheduler.close("finished")
