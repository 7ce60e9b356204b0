"""Sampling sinusoid regression tasks, all on the device so it can run inside `jax.jit`."""

import jax
import jax.numpy as jnp

from maml_helpers.config import MAMLConfig, SinusoidConfig


def sinusoid(x, amplitude, phase):
    """The task function ``amplitude * sin(x - phase)``."""
    return amplitude * jnp.sin(x - phase)


def sample_sinusoid_tasks(key, num_tasks, tasks=SinusoidConfig()):
    """Draws ``num_tasks`` (amplitude, phase) pairs, each an array of shape ``(num_tasks,)``."""
    amplitude_key, phase_key = jax.random.split(key)
    amplitude = jax.random.uniform(
        amplitude_key, (num_tasks,), minval=tasks.amplitude_range[0], maxval=tasks.amplitude_range[1]
    )
    phase = jax.random.uniform(
        phase_key, (num_tasks,), minval=tasks.phase_range[0], maxval=tasks.phase_range[1]
    )
    return amplitude, phase


def sample_points(key, amplitude, phase, num_points, tasks=SinusoidConfig()):
    """Draws ``num_points`` inputs per task; returns ``x, y`` of shape ``(T, num_points, 1)``."""
    x = jax.random.uniform(
        key, (amplitude.shape[0], num_points, 1), minval=tasks.x_range[0], maxval=tasks.x_range[1]
    )
    return x, sinusoid(x, amplitude[:, None, None], phase[:, None, None])


def sample_meta_batch(key, config=MAMLConfig(), meta_batch_size=None, k_shot=None,
                      with_tasks=False):
    """A meta-batch ``(X_train, Y_train, X_test, Y_test)``, each of shape ``(T, K, 1)``.

    Each task gets K support points (train split, used to adapt) and K separate query points
    (test split, used to score the adapted model), as in the paper. With ``with_tasks=True``
    returns ``(batch, (amplitude, phase))``, the tasks' parameters too (for plots).
    """
    meta_batch_size = meta_batch_size or config.meta_batch_size
    k_shot = k_shot or config.k_shot
    task_key, train_key, test_key = jax.random.split(key, 3)
    amplitude, phase = sample_sinusoid_tasks(task_key, meta_batch_size, config.tasks)
    x_train, y_train = sample_points(train_key, amplitude, phase, k_shot, config.tasks)
    x_test, y_test = sample_points(test_key, amplitude, phase, k_shot, config.tasks)
    batch = (x_train, y_train, x_test, y_test)
    return (batch, (amplitude, phase)) if with_tasks else batch
