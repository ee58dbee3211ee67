"""spark-submit entry point of the authority job's Spark engine (docs/authority.md).

    spark-submit [--master URL] deploy/spark/authority.py --input IN --output OUT [options]

The options are `linkcrawl authority`'s (``--crawl-id``, ``--damping``, ``--tol``,
``--max-iter``, ``--rel-policy``, ``--internal-policy``, ``--trust-seeds``,
``--overwrite``, ``--spark-partitions``); the engine is always Spark, and the session is
the one spark-submit configured (``SparkSession.builder.getOrCreate()``). The executors
need the ``linkcrawl`` package (the container image has it; otherwise ``--py-files``).
Exit status 0, or 2 with one ``linkcrawl: error: ...`` line for a user error.
"""

from __future__ import annotations

import sys


def main(argv: list[str]) -> int:
    from linkcrawl.cli import main as linkcrawl

    if "--engine" in argv:
        print("linkcrawl: error: --engine: this entry point always runs the Spark engine",
              file=sys.stderr)  # fmt: skip
        return 2
    return linkcrawl(["authority", "--engine", "spark", *argv])


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
