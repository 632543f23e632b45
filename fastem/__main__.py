"""``python -m fastem ...``: the command line of :mod:`fastem.cli` (fit, predict, score,
select, demo, warmup)."""

import sys

from .cli import main

if __name__ == "__main__":
    sys.exit(main())
