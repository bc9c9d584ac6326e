"""Sentiment Studio's benchmarks: measurements of the app, not tests. Each runs as a module from the repository
root, in the project's environment:

    .venv/bin/python -m benchmarks.run [--quick] [--only PART] [--json FILE]   # the timing table: docs/benchmarks.md
    .venv/bin/python -m benchmarks.results [--quick] [--markdown-only]        # accuracy studies: docs/results.md

The timing suite, ``run``: a registry of parts, each a function ``(quick, results, table)`` in
    throughput     training (ours, the fused ceiling, a tutorial pipeline) and tokenization, tokens/s
    interactive    what a person waits for: the gate trace, attributions, ONNX export, the Runs screen
    processes      measurements in other processes: the window's stalls, start-up, memory, busy programs,
                   data larger than memory, time to a good model
    targets        the figure each measure must meet; texts: the reviews they measure on
and the programs those parts start, each also run on its own:
    startup_probe  opens the main window, prints when it was drawn and whether torch was imported by then
    gui_responsiveness   the window's event-loop stalls after its first paint and while two models train
    large_data     peak memory and time to the first step against the row count
Beside them: ``startup_stress`` (the app launched and closed at random moments under X, crashes counted),
``wait_policy`` (OpenMP wait policy x threads x busy programs), ``distributed`` (one process
against two under torchrun), ``gpu_check`` (CPU against GPU; ``bash benchmarks/gpu_check.sh``).

The results suite, ``results``: one module per study, each with ``run(state, quick)`` adding its finished runs
to docs/results.json and ``markdown(state)`` writing its section of docs/results.md:
    accuracy       test accuracy of every dataset x cell kind, random init and from word vectors
    story          the LSTM-vs-RNN story: accuracy by length and by gap, gradients through time, gates
    word_vectors   the section on pretrained word vectors, and how many of their words to add
    time_to_seed   time to beat the seed article's Keras recipe on SST-2
    faithfulness   whether the word attributions are faithful (also ``python -m benchmarks.faithfulness``)
    report         the state file, hand-written fragments (docs/results/*.md) and the page's frame
    figures        the PNG figures (pyqtgraph, offscreen)
"""

import os
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]  # the repository root: main.py, and where ``-m benchmarks.X`` runs

# as main.py does, so the benchmarks measure what the app runs: numpy gets one OpenBLAS thread (set before
# any benchmark imports numpy; a ``python -m benchmarks.X`` imports this package first)
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
