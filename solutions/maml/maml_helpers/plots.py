"""Plots for the notebook: sampled tasks, the meta-loss curve, and few-shot adaptation."""

import matplotlib.pyplot as plt
import numpy as np

from maml_helpers.tasks import sinusoid


def plot_tasks(amplitude, phase, x_range=(-5.0, 5.0), ax=None):
    """Draws the task functions ``amplitude[i] * sin(x - phase[i])``."""
    ax = ax or plt.gca()
    grid = np.linspace(*x_range, 200)
    for a, p in zip(np.asarray(amplitude), np.asarray(phase)):
        ax.plot(grid, sinusoid(grid, a, p), lw=1)
    ax.set(xlabel="x", ylabel="y", title=f"{len(np.asarray(amplitude))} sampled tasks")
    return ax


def plot_meta_loss(losses, window=100, ax=None):
    """The meta-loss per step, with a moving average over ``window`` steps."""
    ax = ax or plt.gca()
    losses = np.asarray(losses)
    ax.plot(losses, alpha=0.3, lw=0.5, label="per step")
    if len(losses) >= window:
        smooth = np.convolve(losses, np.ones(window) / window, mode="valid")
        ax.plot(np.arange(window - 1, len(losses)), smooth, label=f"mean of {window}")
    ax.set(xlabel="meta-step", ylabel="query MSE after adaptation", yscale="log",
           title="Meta-training loss")
    ax.legend()
    return ax


def plot_adaptation(grid, truth, predictions, x_support, y_support, ax=None, title=None):
    """Predictions after several numbers of adaptation steps, against the true task.

    Args:
      grid: inputs, shape ``(N,)``.
      truth: the task's outputs on ``grid``.
      predictions: ``{steps: outputs on grid}``; 0 steps is the meta-learned initialisation.
      x_support, y_support: the K points the model adapted on.
    """
    ax = ax or plt.gca()
    ax.plot(grid, truth, "k-", lw=2, label="truth")
    for steps, prediction in sorted(predictions.items()):
        label = "before adaptation" if steps == 0 else f"after {steps} step{'s' * (steps > 1)}"
        ax.plot(grid, np.ravel(prediction), "--" if steps == 0 else "-", label=label)
    ax.plot(np.ravel(x_support), np.ravel(y_support), "k^", label="support points")
    ax.set(xlabel="x", ylabel="y", title=title)
    ax.legend(fontsize="small")
    return ax


def plot_adaptation_curves(curves, ax=None, reference=None, title=None):
    """Query MSE against adaptation steps: ``curves[label] = {steps: (mean, ci95)}``;
    ``reference[label] = {steps: mse}`` is drawn dotted (for example a paper's numbers)."""
    ax = ax or plt.gca()
    for label, curve in curves.items():
        steps = sorted(curve)
        line = ax.errorbar(steps, [curve[s][0] for s in steps], yerr=[curve[s][1] for s in steps],
                           marker="o", capsize=3, label=label)
        if reference and label in reference:
            reference_steps = sorted(reference[label])
            ax.plot(reference_steps, [reference[label][s] for s in reference_steps], linestyle=":",
                    marker="x", color=line[0].get_color(), label=f"{label} (paper)")
    ax.set(xlabel="gradient steps at test time", ylabel="query mean squared error", yscale="log",
           xticks=sorted(set().union(*curves.values(), *(reference or {}).values())), title=title)
    ax.legend(fontsize=8)
    return ax
