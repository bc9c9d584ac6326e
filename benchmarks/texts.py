"""The texts the timing benchmarks measure on: IMDB reviews when ../shared/datasets/imdb is there, else generated
ones with IMDB's length distribution."""

from __future__ import annotations

import numpy as np

from benchmarks import ROOT

IMDB = ROOT.parent / "shared" / "datasets" / "imdb"


def imdb_like_texts(n: int, seed: int = 0) -> tuple[list[str], np.ndarray, str]:
    """IMDB reviews when present, else generated ones with IMDB's long-tailed length distribution."""
    if (IMDB / "train.tsv").is_file():
        rows = [line.rstrip("\n").rsplit("\t", 1) for line in (IMDB / "train.tsv").open(encoding="utf-8")][1:]
        rows = rows[:n]
        return [r[0] for r in rows], np.array([int(r[1]) for r in rows]), "../shared/datasets/imdb (train)"
    rng = np.random.default_rng(seed)
    words = [f"w{i}" for i in range(20000)]
    p = 1 / np.arange(1, 20001)
    p /= p.sum()
    lengths = np.clip(rng.lognormal(mean=5.2, sigma=0.7, size=n), 10, 2500).astype(int)  # mean ~230, long tail
    texts = [" ".join(rng.choice(words, size=k, p=p)) for k in lengths]
    return texts, rng.integers(0, 2, size=n), "generated (IMDB-like lengths)"
