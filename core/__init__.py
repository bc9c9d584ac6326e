"""Sentiment Studio's headless core: data, tokenizer, models, tracing, training, model files, CLI.

Nothing in this package imports Qt, pyqtgraph or ``gui``; a test in the suite proves it.
"""

__version__ = "0.1.0"
