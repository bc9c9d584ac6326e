"""Sentiment Studio. With no arguments it opens the desktop app; otherwise it is the command line:

    python main.py train --data builtin:longrange --model lstm --out m.safetensors
    python main.py evaluate m.safetensors --data builtin:longrange
    python main.py predict m.safetensors --gates "the film was great"
"""

from __future__ import annotations

import os
import sys

# numpy's OpenBLAS threads spin after each small matmul and then fight PyTorch's own threads for the
# cores. PyTorch does the heavy lifting here, so the app's numpy gets one thread (set before numpy is
# imported). The gate trace does not rely on this: it limits BLAS itself (core/model/stepwise.py), so a user's
# own script that imports core gets the same speed.
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if not argv or argv[0] == "gui":
        from gui.app import run

        return run(argv[1:])
    from cli import main as cli_main

    return cli_main(argv)


if __name__ == "__main__":
    sys.exit(main())
