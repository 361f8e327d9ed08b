"""What a run is: an architecture (builder, preset, overrides), a dataset and hyperparameters.

A run is described by plain data, never by a live model: :class:`RunRequest` turns into a
JSON dict for the store and back, and the worker rebuilds the model from it.
"""

from __future__ import annotations

import dataclasses
import importlib.util
import os
from dataclasses import dataclass
from typing import Any

from explorer import data as datasets
from explorer.config import ConfigError, field, make_config, validate_fields

OPTIMIZERS = ("adam", "sgd-momentum", "rmsprop")
BACKENDS = ("tensorflow", "jax", "torch")


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
        return " · ".join([name, *hp_changes(self.hp), ds])

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
        """The architecture, rebuilt for the dataset's image shape and classes.

        Raises:
            ConfigError: unknown names, bad values, or an input the architecture cannot take.
        """
        from explorer.builders import resolve

        return datasets.adapt_spec(resolve(self.builder, self.preset, self.overrides), input_shape, num_classes)

    def check(self) -> None:
        """Validate everything that can be checked without training (names, values, dataset, shapes).

        Raises:
            ConfigError or DataError: with one sentence naming the problem.
        """
        if self.dataset in datasets.DATASETS:
            datasets.check_source(self.dataset)
            info = datasets.DATASETS[self.dataset]
            shape, classes = info.input_shape, info.num_classes
        else:
            d = datasets.load(self.dataset)
            shape, classes = d.input_shape, d.num_classes
        self.spec(shape, classes)


def hp_changes(hp: Hyperparams) -> list[str]:
    """Short texts for the hyperparameters that differ from the defaults (``lr 3e-3``, ``10 ep``)."""
    default = Hyperparams()
    out = []
    if hp.epochs != default.epochs:
        out.append(f"{hp.epochs} ep" if hp.epochs else "until time")
    if hp.max_seconds:
        out.append(f"{hp.max_seconds:g} s")
    if hp.learning_rate != default.learning_rate:
        mantissa, exp = f"{hp.learning_rate:.2e}".split("e")
        out.append(f"lr {mantissa.rstrip('0').rstrip('.')}e{int(exp)}")
    if hp.optimizer != default.optimizer:
        out.append(hp.optimizer)
    if hp.batch_size != default.batch_size:
        out.append(f"batch {hp.batch_size}")
    if hp.seed != default.seed:
        out.append(f"seed {hp.seed}")
    if hp.backend != default.backend:
        out.append(hp.backend)
    return out


def _fmt(v: Any) -> str:
    return ",".join(str(x) for x in v) if isinstance(v, (tuple, list)) else str(v)
