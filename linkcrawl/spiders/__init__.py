"""linkcrawl's spiders, one a module."""
