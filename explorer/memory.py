"""Training memory per block: weights, gradients, optimizer slots and the activations kept for
the backward pass, for a batch size, a dtype and an optimizer.

Plain data: computed from a :class:`~explorer.budget.Budget`; no Keras here.

The estimate, per block (a block's rows add up to the model's):

* **weights**: every parameter (trainable or not), in float32 (Keras keeps variables in float32,
  also under a mixed ``float16``/``bfloat16`` policy; ``float64`` keeps them in float64);
* **gradients**: one per trainable parameter, same bytes as the weights;
* **optimizer slots**: per trainable parameter, :data:`OPTIMIZER_SLOTS` (Adam: 2 moments,
  SGD with momentum and RMSprop: 1, plain SGD: 0);
* **activations**: every layer's output for the whole batch in the chosen dtype (the forward
  pass keeps them for the backward pass), the model's input included.

Not counted: the framework's workspace (convolution scratch, the gradients of activations while
the backward pass runs, which at their peak are about one or two layers' outputs), the input
pipeline, and the runtime itself. Measured against TensorFlow's allocator peak for a training
step on CPU (``benchmarks/memory.py``); the README states the ratio.
"""

from __future__ import annotations

from dataclasses import dataclass

from explorer.budget import DTYPES, BlockBudget, Budget
from explorer.errors import ConfigError

OPTIMIZER_SLOTS: dict[str, int] = {
    "adam": 2, "adamw": 2, "nadam": 2, "adamax": 2, "sgd-momentum": 1, "rmsprop": 1, "adagrad": 1,
    "lion": 1, "sgd": 0,
}
DEFAULT_OPTIMIZER = "adam"
GIB = 2**30


@dataclass(frozen=True)
class TrainingMemory:
    """Bytes a training step needs for one block (or the model when ``path == ""``).

    Attributes:
        path: the block path.
        weights: parameters.
        gradients: one gradient per trainable parameter.
        optimizer: optimizer slots.
        activations: layer outputs kept for the backward pass, for the whole batch.
    """

    path: str
    weights: int
    gradients: int
    optimizer: int
    activations: int

    @property
    def total(self) -> int:
        """All of it."""
        return self.weights + self.gradients + self.optimizer + self.activations


def check_optimizer(optimizer: str) -> int:
    """Optimizer slots per trainable parameter.

    Raises:
        ConfigError: an unknown optimizer.
    """
    if optimizer not in OPTIMIZER_SLOTS:
        raise ConfigError(f"optimizer {optimizer!r} is not known; choose one of {', '.join(OPTIMIZER_SLOTS)}.")
    return OPTIMIZER_SLOTS[optimizer]


def weight_bytes(dtype: str) -> int:
    """Bytes per weight: float32, or float64 when training in float64."""
    return 8 if dtype == "float64" else 4


def _row(b: Budget, r: BlockBudget, slots: int) -> TrainingMemory:
    wb = weight_bytes(b.dtype)
    return TrainingMemory(
        path=r.path,
        weights=r.params * wb,
        gradients=r.trainable_params * wb,
        optimizer=r.trainable_params * slots * wb,
        activations=r.activations * b.batch_size * DTYPES[b.dtype],
    )


def training_memory(b: Budget, optimizer: str = DEFAULT_OPTIMIZER, depth: int | None = None) -> list[TrainingMemory]:
    """Training memory of each block (a partition of the layers, cut to ``depth``).

    Args:
        b: the budget (its batch size and dtype apply).
        optimizer: a key of :data:`OPTIMIZER_SLOTS`.
        depth: cut block paths to this depth (None: leaf blocks).

    Returns:
        One row per block, in graph order; they add up to :func:`training_total`.
    """
    slots = check_optimizer(optimizer)
    return [_row(b, r, slots) for r in b.partition(depth)]


def training_total(b: Budget, optimizer: str = DEFAULT_OPTIMIZER) -> TrainingMemory:
    """Training memory of the whole model (path ``""``)."""
    return _row(b, b.total, check_optimizer(optimizer))


def fits(total: int, gib: float) -> bool:
    """True when ``total`` bytes fit in ``gib`` GiB."""
    return total <= gib * GIB


def max_batch(b: Budget, optimizer: str, gib: float) -> int:
    """The largest batch size whose estimate fits in ``gib`` GiB (0 when even the weights do not)."""
    t = training_total(b, optimizer)
    fixed = t.weights + t.gradients + t.optimizer
    per_example = b.total.activations * DTYPES[b.dtype]
    room = gib * GIB - fixed
    if room < per_example or per_example <= 0:
        return 0
    return int(room // per_example)
