"""What a model is: the recurrent classifier, the trained model around it, its gate trace and its records."""
