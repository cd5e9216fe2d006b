"""Caller intent: the five labels, the dataset, training, evaluation and the classifier."""
