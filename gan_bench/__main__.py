"""``python -m gan_bench``: the ``gan-bench`` command, also as ``torchrun -m gan_bench ...``."""

from __future__ import annotations

import os
import sys

from gan_bench.cli import main

if __name__ == "__main__":
    if int(os.environ.get("RANK") or 0) > 0:  # under torchrun rank 0 reports; errors still reach stderr
        sys.stdout = open(os.devnull, "w")
    sys.exit(main())
