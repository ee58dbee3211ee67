"""Scrapy item pipelines: page items -> edge and page rows -> Parquet files."""
