"""The baseline of benchmarks/crawl.py: a crawl as a Scrapy user would write it.

Scrapy's own scheduler and dupefilter, ``LinkExtractor`` for links, and one feed item per
link (source, target, anchor, rel), written by the feed exporter as JSON lines.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import scrapy
from scrapy.linkextractors import LinkExtractor


class PlainBacklinksSpider(scrapy.Spider):
    name = "plain_backlinks"
    custom_settings = {"HTTPERROR_ALLOW_ALL": True, "COOKIES_ENABLED": False}

    def __init__(self, seeds_file: str, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.seeds = Path(seeds_file).read_text().split()
        self.extractor = LinkExtractor()

    async def start(self) -> Any:
        for url in self.seeds:
            yield scrapy.Request(url)

    def parse(self, response: Any) -> Any:
        if not isinstance(response, scrapy.http.HtmlResponse):
            return
        for link in self.extractor.extract_links(response):
            yield {"source": response.url, "target": link.url, "anchor": link.text,
                   "nofollow": link.nofollow}  # fmt: skip
            yield response.follow(link, callback=self.parse)
