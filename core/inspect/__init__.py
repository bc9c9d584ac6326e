"""What is inside a model: gradients through time and gate saturation, word attributions, side-by-side scores."""
