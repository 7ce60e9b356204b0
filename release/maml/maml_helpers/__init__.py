"""Provided helpers for the MAML assignment; students do not write anything here.

- `maml_helpers.config`: `MAMLConfig`, every hyperparameter and seed, shared by the notebook,
  the solutions and the graders.
- `maml_helpers.tasks`: sampling sinusoid tasks and meta-batches on the device.
- `maml_helpers.training`: the meta-training loop (`jax.jit` over `lax.scan`).
- `maml_helpers.plots`: the notebook's figures.

Submodules are imported explicitly so that `maml_helpers.config` stays free of JAX.
"""
