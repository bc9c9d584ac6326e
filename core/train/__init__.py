"""How a model learns: the training loop, the pipeline from a dataset to trained models, sweeps, progress."""
