"""One frozen config object for every hyperparameter and seed of the assignment."""

import dataclasses
import math


@dataclasses.dataclass(frozen=True)
class SinusoidConfig:
    """The sinusoid task family of Finn et al. (2017), section 5.1.

    A task is ``y = amplitude * sin(x - phase)`` with the amplitude drawn uniformly from
    ``amplitude_range``, the phase from ``phase_range`` and the inputs from ``x_range``.
    """

    amplitude_range: tuple[float, float] = (0.1, 5.0)
    phase_range: tuple[float, float] = (0.0, math.pi)
    x_range: tuple[float, float] = (-5.0, 5.0)


@dataclasses.dataclass(frozen=True)
class MAMLConfig:
    """Hyperparameters and seeds shared by the notebook, the solutions and the graders.

    The defaults are the paper's regression settings: a (40, 40) ReLU network, K = 10 support
    points, one inner step with alpha = 0.01, meta-batches of 25 tasks and Adam at 1e-3.
    """

    tasks: SinusoidConfig = SinusoidConfig()
    features: tuple[int, ...] = (40, 40)
    k_shot: int = 10
    inner_lr: float = 0.01
    inner_steps: int = 1
    meta_batch_size: int = 25
    meta_lr: float = 1e-3
    # The paper trains for 70,000 meta-steps; this budget runs in 16-19 s on a 2-core CPU.
    meta_steps: int = 20_000
    # `nbgrader autograde` sets NBGRADER_EXECUTION; the notebook then trains only this long.
    autograde_meta_steps: int = 300
    eval_adaptation_steps: tuple[int, ...] = (1, 5, 10)
    seed: int = 0


@dataclasses.dataclass(frozen=True)
class MethodProtocol:
    """How one method of part 2 trains and adapts, as its own paper or released code runs it.

    Training takes ``meta_steps`` outer updates (``notebook_meta_steps`` in the notebook), each on
    ``tasks_per_step`` fresh tasks of ``points_per_task`` points: half support and half query for
    the methods that split them, all pooled for Reptile and the baseline. The inner loop takes
    ``inner_steps`` gradient steps of ``inner_lr`` (Reptile's are one epoch over its points in
    minibatches of ``ComparisonConfig.reptile_minibatch``). The outer update is
    ``outer``: ``"adam"`` at rate ``outer_lr``, or ``"interpolate"``, Reptile's
    ``theta + eps (phi - theta)`` with ``eps`` annealed linearly from ``outer_lr`` to 0. At test
    time every step has rate ``test_lr``; ``None`` means the rate is tuned on validation tasks
    (``ComparisonConfig.test_lr_grid``). ``source`` says whose protocol it is.
    """

    source: str
    meta_steps: int
    notebook_meta_steps: int
    tasks_per_step: int
    points_per_task: int
    inner_lr: float
    inner_steps: int
    outer: str
    outer_lr: float
    test_lr: float | None

    def training_config(self, meta, notebook=False):
        """``meta`` (a `MAMLConfig`) with this protocol's batch, inner loop, outer rate and length."""
        return dataclasses.replace(
            meta, meta_batch_size=self.tasks_per_step, k_shot=self.points_per_task // 2,
            inner_lr=self.inner_lr, inner_steps=self.inner_steps, meta_lr=self.outer_lr,
            meta_steps=self.notebook_meta_steps if notebook else self.meta_steps)


# cbfinn/maml, main.py, with its sinusoid command (--metatrain_iterations=70000
# --update_batch_size=10): update_lr 1e-3 in training and at test time, one inner step,
# meta_batch_size 25, Adam at meta_lr 1e-3.
MAML_PROTOCOL = MethodProtocol(
    source="cbfinn/maml main.py, sinusoid command", meta_steps=70_000, notebook_meta_steps=5_000,
    tasks_per_step=25, points_per_task=20, inner_lr=0.001, inner_steps=1, outer="adam",
    outer_lr=1e-3, test_lr=0.001)


@dataclasses.dataclass(frozen=True)
class ComparisonConfig:
    """Settings for comparing MAML, first-order MAML, Reptile, iMAML and pretraining.

    Every method shares the task family and network of ``meta`` and the evaluation: on
    ``eval_tasks`` unseen tasks it takes 1, 5 and 10 plain gradient steps on ``eval_k_shot``
    support points and is scored on ``eval_query_points`` query points per task. Each method
    trains and adapts by its own `MethodProtocol`, declared before running:

    - MAML and first-order MAML: the paper's released code (``cbfinn/maml``; first-order is its
      ``--stop_grad``), alpha = 0.001 (the code's ``update_lr``; the paper's text says 0.01, at
      which gradient descent on K = 5 points runs at the edge of stability);
    - Reptile: its authors' sine-wave demo (``openai/supervised-reptile``,
      ``reptile-sinewaves-demo``): one task per iteration, one epoch of SGD at 0.02 over its 50
      points in minibatches of ``reptile_minibatch``, an outer step of 0.1 annealed linearly to 0,
      30,000 iterations; its test-time steps also have rate 0.02;
    - the pretrained baseline as the MAML paper describes it (section 5.1): one network regressed
      on every task's points, fine-tuned at test time "with an automatically tuned step size";
    - iMAML, whose paper has no protocol for this task: settings chosen by a declared search on
      validation tasks (``python -m experiments.imaml_sweep`` in the course repository); its
      test-time steps have its inner rate.

    Tuned rates are chosen on ``validation_tasks`` tasks drawn from ``validation_seed``, a stream
    apart from the evaluation's ``eval_seed`` and from every training stream.
    """

    meta: MAMLConfig = MAMLConfig(inner_lr=0.001, meta_steps=70_000)
    # The notebook's sections 2-5 (the comparison cell takes about 45 s on a 2-core CPU).
    notebook_meta_steps: int = 5_000
    maml: MethodProtocol = MAML_PROTOCOL
    first_order: MethodProtocol = dataclasses.replace(
        MAML_PROTOCOL, source="cbfinn/maml main.py, sinusoid command with --stop_grad")
    reptile: MethodProtocol = MethodProtocol(
        source="openai/supervised-reptile reptile-sinewaves-demo", meta_steps=30_000,
        notebook_meta_steps=30_000, tasks_per_step=1, points_per_task=50, inner_lr=0.02,
        inner_steps=5, outer="interpolate", outer_lr=0.1, test_lr=0.02)
    reptile_minibatch: int = 10
    pretrained: MethodProtocol = MethodProtocol(
        source="Finn et al. 2017, section 5.1: fine-tuned with a tuned step size",
        meta_steps=70_000, notebook_meta_steps=5_000, tasks_per_step=25, points_per_task=20,
        inner_lr=0.0, inner_steps=0, outer="adam", outer_lr=1e-3, test_lr=None)
    # iMAML: proximal strength lam, gradient steps on L(phi) + lam / 2 ||phi - theta||^2 (rate
    # inner_lr), then cg_steps of conjugate gradient; chosen on validation tasks (the course
    # repository's results/imaml_search.md).
    imaml: MethodProtocol = MethodProtocol(
        source="no published protocol for this task: a search on validation tasks",
        meta_steps=70_000, notebook_meta_steps=2_000, tasks_per_step=25, points_per_task=20,
        inner_lr=0.001, inner_steps=5, outer="adam", outer_lr=1e-3, test_lr=0.001)
    imaml_lam: float = 1000.0
    imaml_cg_steps: int = 5
    test_lr_grid: tuple[float, ...] = (0.001, 0.002, 0.005, 0.01, 0.02, 0.05)
    eval_k_shot: int = 5
    eval_tasks: int = 1_000
    eval_query_points: int = 100
    eval_steps: tuple[int, ...] = (1, 5, 10)
    seeds: tuple[int, ...] = (0, 1, 2, 3, 4)
    eval_seed: int = 1_000_003  # the evaluation tasks, the same whatever the training seed
    validation_tasks: int = 1_000
    validation_seed: int = 2_000_003  # tuned rates and iMAML's settings are chosen on these

    def protocol(self, method):
        """The `MethodProtocol` of ``method`` ("maml", "first_order", "reptile", "imaml",
        "pretrained")."""
        return getattr(self, method)
