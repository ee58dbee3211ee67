"""linkcrawl: a Scrapy-based crawler that builds a backlink index in Parquet."""

__version__ = "0.1.0"
