"""The authority job: read the edge Parquet files, rank the graph, write the scores.

:mod:`linkcrawl.authority.rank` is the pure ranking math (numpy and scipy only); nothing in
this package imports Scrapy.
"""
