"""What goes to disk: model files, the run store, export bundles and their model cards."""
