"""Benchmark: ``linkcrawl.links.extract`` against Scrapy's ``LinkExtractor`` on the same pages.

Run it as ``python benchmarks/extract.py [--pages N] [--repeat R] [--seed S]``.

The script generates its own pages (deterministic for a seed): about 50 KB of HTML each,
about 100 ``<a>`` links mixing relative, root-relative, protocol-relative and absolute
URLs, tracking parameters, fragments, ``mailto:``/``tel:``/``javascript:``, ``rel``
values, linked images, a navigation menu and a footer repeated on every page, inline
scripts, styles and JSON-LD, and paragraphs of non-ASCII text.

What is timed, per page, starting from the response's bytes in both cases:

* linkcrawl: ``extract(body, url, headers)``: decoding (``html_to_unicode``), the lexbor
  parse, and the full result (canonical URLs, anchors, rel flags, page facts).
* Scrapy: ``HtmlResponse(url, body=body, headers=headers)`` and
  ``LinkExtractor().extract_links(response)``: the response object, its decoding, the
  lxml parse and Scrapy's ``Link`` objects (Scrapy's defaults: unique links, URLs not
  canonicalised).

Each side gets a warm-up pass over all pages; then ``--repeat`` passes alternate between
the two, each timing the whole page set; the reported figure is the median pass divided
by the number of pages. linkcrawl's bounded cross-page cache of resolved hrefs is emptied
before every pass, so it only helps with hrefs that repeat across pages (menu, footer), as
in a crawl. The last line of output is one JSON object with the figures.
"""

from __future__ import annotations

import argparse
import gc
import json
import random
import statistics
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from selectolax.lexbor import LexborHTMLParser
from w3lib.encoding import html_to_unicode

from linkcrawl import links
from linkcrawl.links import extract

if TYPE_CHECKING:
    from collections.abc import Callable, Sequence

SITE = "https://www.example.com"
CONTENT_TYPE = "text/html; charset=utf-8"
TARGET_BYTES = 50_000
ARTICLE_LINKS = 70  # plus 20 in the menu and 12 in the footer

# Words for text, slugs and anchors; some non-ASCII, as on real pages.
_WORD_LIST = (
    "the of and to in is that for it as with was on be by this are from at or an "
    "crawler index graph backlink anchor parquet ranking authority frontier robots "
    "canonical redirect host domain schema spider pipeline request response encoding "
    "café naïve über façade résumé Zürich São Paulo — “quoted” 東京 данные"
)
WORDS = tuple(_WORD_LIST.split())
TLDS = ("com", "org", "net", "de", "co.uk", "io")


def sentence(rng: random.Random, n: int) -> str:
    words = rng.choices(WORDS, k=n)
    return " ".join(words).capitalize() + "."


def article_link(rng: random.Random, i: int) -> str:
    """One in-text link of a realistic mix."""
    roll = rng.random()
    slug = "-".join(rng.choices(WORDS[:40], k=3))
    if roll < 0.30:
        href = f"/blog/{2020 + i % 5}/{slug}/"
    elif roll < 0.45:
        href = f"../{slug}.html?page={rng.randint(1, 9)}"
    elif roll < 0.70:
        host = f"{rng.choice(WORDS[:40])}{rng.randint(1, 80)}.example.{rng.choice(TLDS)}"
        href = f"https://{host}/{slug}?utm_source=blog&utm_medium=link&id={rng.randint(1, 999)}"
    elif roll < 0.78:
        href = f"//cdn{rng.randint(1, 3)}.example.net/docs/{slug}.pdf"
    elif roll < 0.85:
        href = f"#{slug}"
    elif roll < 0.88:
        href = rng.choice(("mailto:team@example.com", "tel:+15555550100", "javascript:void(0)"))
    else:
        href = f"{SITE}/tags/{rng.choice(WORDS[:40])}"
    rel = rng.choices(
        (
            "",
            ' rel="nofollow"',
            ' rel="noopener noreferrer"',
            ' rel="UGC nofollow"',
            ' rel="sponsored"',
        ),
        weights=(60, 15, 15, 5, 5),
    )[0]
    text = " ".join(rng.choices(WORDS, k=rng.randint(1, 5)))
    if rng.random() < 0.12:
        alt = text if rng.random() < 0.7 else ""
        return (
            f'<a href="{href}"{rel} class="thumb"><img src="/img/{i}.jpg" alt="{alt}" '
            f'width="320" height="200" loading="lazy"></a>'
        )
    return f'<a href="{href}"{rel} class="inline-link" title="{text}">{text}</a>'


def make_page(rng: random.Random, n: int) -> bytes:
    """A ~50 KB HTML page with about 100 links."""
    head = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        f"<title>{sentence(rng, 6)} | Example</title>",
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        '<meta name="robots" content="index, follow, max-image-preview:large">',
        f'<meta name="description" content="{sentence(rng, 25)}">',
        f'<link rel="canonical" href="{SITE}/blog/post-{n}/">',
        '<link rel="stylesheet" href="/static/css/site.min.css?v=3f2a">',
        '<link rel="preload" href="/static/fonts/inter.woff2" as="font" crossorigin>',
        '<link rel="alternate" hreflang="de" href="https://www.example.de/blog/post/">',
        "<style>",
        ".nav{display:flex;gap:1rem}.nav a{color:#333;text-decoration:none}"
        ".inline-link{color:#06c}.thumb img{border-radius:4px}" * 8,
        "</style>",
        '<script type="application/ld+json">',
        json.dumps(
            {
                "@context": "https://schema.org",
                "@type": "Article",
                "headline": sentence(rng, 8),
                "author": {"@type": "Person", "name": "A. Writer"},
                "keywords": rng.choices(WORDS, k=30),
            }
        ),
        "</script>",
        "<script>window.dataLayer=window.dataLayer||[];function gtag(){dataLayer.push("
        "arguments)}gtag('js',new Date());var s='<a href=\"/not-a-link\">';</script>",
        "</head>",
    ]
    nav = ['<body class="post"><header class="site-header"><nav class="nav"><ul>']
    for j in range(20):
        nav.append(f'<li class="nav-item"><a href="/section/{j}/">{WORDS[20 + j].title()}</a></li>')
    nav.append("</ul></nav></header>")

    body = ['<main id="content"><article class="post-body">', f"<h1>{sentence(rng, 8)}</h1>"]
    links = [article_link(rng, i) for i in range(ARTICLE_LINKS)]
    footer = ['<footer class="site-footer"><div class="cols"><ul>']
    for j in range(12):
        rel = ' rel="nofollow"' if j % 3 == 0 else ""
        footer.append(f'<li><a href="{SITE}/about/{j}"{rel}>About &amp; more {j}</a></li>')
    footer.append('</ul></div><p class="legal">© 2026 Example Ltd. All rights reserved.</p>')
    footer.append('<script src="/static/js/app.min.js" defer></script></footer></body></html>')

    fixed = sum(len(part.encode()) for part in (*head, *nav, *footer))
    budget = TARGET_BYTES - fixed
    paragraphs: list[str] = []
    used = 0
    while used < budget or links:
        words = rng.choices(WORDS, k=rng.randint(40, 90))
        for _ in range(rng.randint(1, 3)):
            if links:
                words.insert(rng.randrange(len(words)), links.pop())
        tag = rng.choice(("p", "p", "p", "li"))
        wrapper = (
            '<div class="card"><div class="card-body">{}</div></div>'
            if rng.random() < 0.2
            else "{}"
        )
        para = wrapper.format(f'<{tag} class="para">{" ".join(words)}</{tag}>\n')
        paragraphs.append(para)
        used += len(para.encode())
    body.extend(paragraphs)
    body.append("</article></main>")
    return "".join((*head, *nav, *body, *footer)).encode("utf-8")


def time_passes(fn: Callable[[bytes, str], object], pages: Sequence[tuple[str, bytes]]) -> float:
    """Seconds for one pass of ``fn`` over every page.

    linkcrawl's cross-page URL cache is emptied first: in a crawl every page is seen once,
    so only hrefs repeated across different pages may hit it, never a page's own hrefs
    from an earlier pass.
    """
    links._resolve_cached.cache_clear()
    gc.collect()
    start = time.perf_counter()
    for url, body in pages:
        fn(body, url)
    return time.perf_counter() - start


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--pages", type=int, default=40, help="pages to generate (default 40)")
    parser.add_argument("--repeat", type=int, default=7, help="timed passes per side (default 7)")
    parser.add_argument("--seed", type=int, default=20261123, help="page generator seed")
    args = parser.parse_args(argv)

    from scrapy.http import HtmlResponse
    from scrapy.linkextractors import LinkExtractor

    rng = random.Random(args.seed)
    pages = [(f"{SITE}/blog/post-{n}/", make_page(rng, n)) for n in range(args.pages)]
    ours_headers = {"content-type": [CONTENT_TYPE]}
    scrapy_headers = {"Content-Type": CONTENT_TYPE}
    extractor = LinkExtractor()

    def ours(body: bytes, url: str) -> object:
        return extract(body, url, ours_headers)

    def scrapys(body: bytes, url: str) -> object:
        return extractor.extract_links(HtmlResponse(url, body=body, headers=scrapy_headers))

    def decode_only(body: bytes, url: str) -> object:
        return html_to_unicode(CONTENT_TYPE, body)

    def parse_only(body: bytes, url: str) -> object:
        return LexborHTMLParser(html_to_unicode(CONTENT_TYPE, body)[1])

    sides = {"linkcrawl": ours, "scrapy": scrapys, "decode": decode_only, "parse": parse_only}
    for fn in sides.values():  # warm-up
        time_passes(fn, pages)
    runs: dict[str, list[float]] = {name: [] for name in sides}
    for _ in range(args.repeat):
        for name, fn in sides.items():
            runs[name].append(time_passes(fn, pages))
    ms = {name: statistics.median(r) / len(pages) * 1e3 for name, r in runs.items()}

    sizes = [len(body) for _, body in pages]
    facts = [extract(body, url, ours_headers) for url, body in pages]
    ours_links = [sum(1 for link in f.links if link.position is not None) for f in facts]
    scrapy_links = [
        len(extractor.extract_links(HtmlResponse(url, body=body, headers=scrapy_headers)))
        for url, body in pages
    ]
    hrefs = [sum(1 for _ in LexborHTMLParser(body).css("a[href]")) for _, body in pages]

    speedup = ms["scrapy"] / ms["linkcrawl"]
    print(
        f"pages: {len(pages)}, mean size {statistics.mean(sizes) / 1000:.1f} KB, "
        f"<a href> per page {statistics.mean(hrefs):.1f}, repeat {args.repeat} (median)"
    )
    print(f"{'':44} {'ms/page':>9} {'links/page':>11}")
    rows = [
        (
            "linkcrawl.links.extract (bytes -> PageFacts)",
            ms["linkcrawl"],
            statistics.mean(ours_links),
        ),
        (
            "scrapy LinkExtractor (HtmlResponse + extract)",
            ms["scrapy"],
            statistics.mean(scrapy_links),
        ),
        ("  of ours: html_to_unicode only", ms["decode"], None),
        ("  of ours: html_to_unicode + lexbor parse", ms["parse"], None),
    ]
    for label, value, count in rows:
        count_text = f"{count:11.1f}" if count is not None else ""
        print(f"{label:44} {value:9.3f} {count_text}")
    print(f"speedup vs scrapy: {speedup:.1f}x")
    print(
        json.dumps(
            {
                "linkcrawl_extract_ms_per_page": round(ms["linkcrawl"], 4),
                "scrapy_linkextractor_ms_per_page": round(ms["scrapy"], 4),
                "speedup_vs_scrapy": round(speedup, 2),
                "pages": len(pages),
                "links_per_page": round(statistics.mean(ours_links), 1),
            }
        )
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
