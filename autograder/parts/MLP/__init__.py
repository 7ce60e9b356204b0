"""`MLP(features)`: Dense+ReLU per feature, then Dense(1); any layer naming or style."""

NOTEBOOK, ORDER = "maml", 2
