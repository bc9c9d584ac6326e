"""Sentiment Studio's headless core: data, tokenizer, models, tracing, training, scoring, model files.

Nothing in this package imports Qt, pyqtgraph or ``gui``; a test in the suite proves it.
"""

__version__ = "0.2.0"  # 0.2: model files record their splits (SplitRecord)
