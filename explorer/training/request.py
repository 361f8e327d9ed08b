"""What a run is: an architecture (builder, preset, overrides), a dataset and hyperparameters.

A run is described by plain data, never by a live model: :class:`RunRequest` turns into a
JSON dict for the store and back, and the worker rebuilds the model from it.
"""

from __future__ import annotations

import dataclasses
import importlib.util
import os
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from explorer import data as datasets
from explorer.config import ConfigError, field, make_config, validate_fields

OPTIMIZERS = ("adam", "sgd-momentum", "rmsprop")
BACKENDS = ("tensorflow", "jax", "torch")
PRECISIONS = ("float32", "mixed_float16", "mixed_bfloat16")
SCHEDULES = ("constant", "book")


@dataclass(frozen=True)
class Hyperparams:
    """Training hyperparameters (validated like a builder config; the form and CLI use the specs)."""

    epochs: int = field(3, "Epochs to train (0: until the time budget runs out).", min=0, max=1000)
    max_seconds: float = field(0.0, "Time budget in seconds (0: no budget).", min=0.0, max=86400.0)
    batch_size: int = field(64, "Images per batch.", min=1, max=8192)
    optimizer: str = field("adam", "Optimizer.", choices=OPTIMIZERS)
    learning_rate: float = field(1e-3, "Learning rate.", min=1e-7, max=1e6)
    seed: int = field(0, "Random seed (weights, shuffling, subset).", min=0, max=2**31 - 1)
    backend: str = field("tensorflow", "Keras backend of the worker.", choices=BACKENDS)
    precision: str = field("float32", "Compute dtype: float32, or mixed precision (float16 with loss scaling, "
                           "or bfloat16); fast on GPUs with tensor cores, slow on CPUs.", choices=PRECISIONS)
    jit_compile: bool = field(False, "Compile the train step with XLA (jit_compile): faster on GPUs once traced.")
    lr_schedule: str = field("constant", "Learning-rate schedule: constant, or the book's (Keras cifar10_resnet "
                             "example): x0.1 after epoch 80, x0.01 after 120, x0.001 after 160, x0.0005 after 180.",
                             choices=SCHEDULES)
    grad_every: int = field(50, "Record each block's gradient and weight norm every this many steps (0: off).",
                            min=0, max=100000)

    def __post_init__(self) -> None:
        validate_fields(self)
        if self.epochs == 0 and self.max_seconds == 0:
            raise ConfigError("epochs and max_seconds are both 0; set a number of epochs or a time budget.")
        if self.backend != "tensorflow" and not backend_available(self.backend):
            raise ConfigError(f"backend {self.backend} is not installed here; use tensorflow.")


def backend_available(name: str) -> bool:
    """Whether a Keras backend's package is installed (without importing it)."""
    return importlib.util.find_spec(name) is not None


def available_backends() -> list[str]:
    """Installed backends, TensorFlow first."""
    return [b for b in BACKENDS if backend_available(b)]


@dataclass(frozen=True)
class RunRequest:
    """A training run as plain data.

    Attributes:
        builder: builder or preset name.
        preset: preset of the builder (None: builder defaults or the preset named by ``builder``).
        overrides: config field overrides.
        dataset: a dataset name or a path to a user ``.npz``.
        data: subset, validation, normalisation and augmentation.
        hp: hyperparameters.
    """

    builder: str
    preset: str | None = None
    overrides: dict[str, Any] = dataclasses.field(default_factory=dict)
    dataset: str = datasets.DEFAULT_DATASET
    data: datasets.DataOptions = dataclasses.field(default_factory=datasets.DataOptions)
    hp: Hyperparams = dataclasses.field(default_factory=Hyperparams)

    def __post_init__(self) -> None:
        # A dataset path means what it meant where it was typed: workers run in another folder.
        if isinstance(self.dataset, str) and datasets.is_file_source(self.dataset):
            object.__setattr__(self, "dataset", os.path.abspath(os.path.expanduser(self.dataset)))

    @property
    def architecture(self):
        """The architecture as asked (its :class:`~explorer.spec.Spec`, before dataset adaptation).

        Raises:
            ConfigError: unknown names or bad values.
        """
        from explorer.builders import resolve

        return resolve(self.builder, self.preset, self.overrides)

    @property
    def label(self) -> str:
        """A short name for tables and legends: the Spec's label and the dataset.

        E.g. ``resnet20 · depth=32 · mnist-5k`` or ``mnist-cnn · lr 3e-3 · 10 ep · mnist-5k``: the
        hyperparameters that differ from the defaults are named too, so runs can be told apart.
        """
        try:
            name = self.architecture.label
        except ConfigError:
            name = " · ".join([self.preset or self.builder, *(f"{k}={_fmt(v)}" for k, v in self.overrides.items())])
        ds = self.dataset.rsplit("/", 1)[-1]
        note = self.adaptation_note()
        return " · ".join([name, *hp_changes(self.hp), ds + (f" ({note})" if note else "")])

    def adaptation_note(self) -> str:
        """How a registered dataset's images are adapted to the architecture ('' when not, or unknown)."""
        info = datasets.DATASETS.get(self.dataset)
        if info is None:
            return ""
        try:
            _spec, how = datasets.adapt(self.architecture, info.input_shape, info.num_classes)
        except ConfigError:
            return ""
        return how.describe(info.input_shape)

    def parts(self) -> list[str]:
        """Every descriptive part of the run (architecture label, each hyperparameter, dataset).

        :func:`explorer.training.progress.distinct_labels` keeps the parts that differ between
        the runs shown together.
        """
        try:
            arch = self.architecture.label
        except ConfigError:
            arch = self.preset or self.builder
        hp = self.hp
        out = [arch, f"{hp.epochs} ep" if hp.epochs else "until time"]
        if hp.max_seconds:
            out.append(f"{hp.max_seconds:g} s")
        out += [f"lr {_short_float(hp.learning_rate)}", hp.optimizer, f"batch {hp.batch_size}", f"seed {hp.seed}",
                hp.backend]
        if hp.precision != "float32":
            out.append(hp.precision)
        if hp.jit_compile:
            out.append("XLA")
        if hp.lr_schedule != "constant":
            out.append(f"{hp.lr_schedule} schedule")
        d = self.data
        if d.subset:
            out.append(f"{d.subset} images")
        if d.augments:
            out.append("augmented")
        out.append(self.dataset.rsplit("/", 1)[-1])
        return out

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict."""
        return {
            "builder": self.builder,
            "preset": self.preset,
            "overrides": {k: list(v) if isinstance(v, tuple) else v for k, v in self.overrides.items()},
            "dataset": self.dataset,
            "data": dataclasses.asdict(self.data),
            "hp": dataclasses.asdict(self.hp),
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> RunRequest:
        """Rebuild a request from :meth:`to_dict` output (validating it again)."""
        return cls(
            builder=d["builder"],
            preset=d.get("preset"),
            overrides={k: tuple(v) if isinstance(v, list) else v for k, v in (d.get("overrides") or {}).items()},
            dataset=d.get("dataset", datasets.DEFAULT_DATASET),
            data=datasets.DataOptions(**(d.get("data") or {})),
            hp=make_config(Hyperparams, **(d.get("hp") or {})),
        )

    def spec(self, input_shape: tuple[int, ...], num_classes: int):
        """The architecture, rebuilt for the dataset's image shape (as adapted) and classes.

        Raises:
            ConfigError: unknown names, bad values, or an input the architecture cannot take.
        """
        return self.adapted(input_shape, num_classes)[0]

    def adapted(self, input_shape: tuple[int, ...], num_classes: int):
        """``(spec, adaptation)``: the architecture for the dataset and how its images are adapted.

        Raises:
            ConfigError: an input the architecture cannot take even padded to 32x32 or as RGB.
        """
        from explorer.builders import resolve

        return datasets.adapt(resolve(self.builder, self.preset, self.overrides), input_shape, num_classes)

    def check(self) -> None:
        """Validate everything that can be checked without training (names, values, dataset, shapes).

        Raises:
            ConfigError or DataError: with one sentence naming the problem.
        """
        self.spec(*self.dataset_shape())

    def dataset_shape(self) -> tuple[tuple[int, ...], int]:
        """The dataset's image shape and number of classes (checking that it can be loaded).

        Raises:
            DataError: unknown, missing or invalid dataset.
        """
        if self.dataset in datasets.DATASETS:
            datasets.check_source(self.dataset)
            info = datasets.DATASETS[self.dataset]
            return info.input_shape, info.num_classes
        d = datasets.load(self.dataset)
        return d.input_shape, d.num_classes


# How each hyperparameter reads in a label when it differs from the default, in label order.
_HP_TEXT: tuple[tuple[str, Callable[[Any], str]], ...] = (
    ("epochs", lambda v: f"{v} ep" if v else "until time"),
    ("max_seconds", lambda v: f"{v:g} s"),
    ("learning_rate", lambda v: f"lr {_short_float(v)}"),
    ("optimizer", str),
    ("batch_size", lambda v: f"batch {v}"),
    ("seed", lambda v: f"seed {v}"),
    ("backend", str),
    ("precision", str),
    ("jit_compile", lambda v: "XLA"),
    ("lr_schedule", lambda v: f"{v} schedule"),
)


def hp_changes(hp: Hyperparams) -> list[str]:
    """Short texts for the hyperparameters that differ from the defaults (``lr 3e-3``, ``10 ep``)."""
    default = Hyperparams()
    return [text(getattr(hp, name)) for name, text in _HP_TEXT if getattr(hp, name) != getattr(default, name)]


def _short_float(v: float) -> str:
    mantissa, exp = f"{v:.2e}".split("e")
    return f"{mantissa.rstrip('0').rstrip('.')}e{int(exp)}"


def book_lr(epoch: int, lr: float) -> float:
    """The learning rate of the book's schedule (Keras' cifar10_resnet example) at an epoch (0-based)."""
    if epoch > 180:
        return lr * 0.5e-3
    if epoch > 160:
        return lr * 1e-3
    if epoch > 120:
        return lr * 1e-2
    if epoch > 80:
        return lr * 1e-1
    return lr


# Recipes: whole runs as a book or tutorial sets them up (the Train page and ``train --recipe``).
RECIPES: dict[str, tuple[str, dict[str, Any]]] = {
    "resnet20-cifar10-book": (
        "ResNet-20 on CIFAR-10 (book): Adam 1e-3 with the book's schedule, batch 32, 200 epochs, "
        "random flips and 10% shifts, per-pixel-mean centring (standardised here).",
        {"builder": "resnet20", "dataset": "cifar10",
         "data": {"flip": True, "shift": 0.1, "normalise": "standardise"},
         "hp": {"epochs": 200, "batch_size": 32, "optimizer": "adam", "learning_rate": 1e-3,
                "lr_schedule": "book"}},
    ),
}


def recipe(name: str) -> RunRequest:
    """The run a recipe describes.

    Raises:
        ConfigError: an unknown recipe name.
    """
    if name not in RECIPES:
        raise ConfigError(f"unknown recipe {name[:60]!r}; choose one of {', '.join(RECIPES)}.")
    return RunRequest.from_dict(RECIPES[name][1])


def _fmt(v: Any) -> str:
    return ",".join(str(x) for x in v) if isinstance(v, (tuple, list)) else str(v)
