"""`ynet`: a two-input, one-output "Y" network; the same image feeds both branches.

Each branch is 3 x [Conv2D(32/64/128, 3x3, same, relu) -> Dropout(0.4) -> MaxPooling2D];
the right branch uses dilation_rate 2. Concatenate -> Flatten -> Dropout(0.4) -> Dense(10).
Default: 208,394 parameters.
"""

from __future__ import annotations

from dataclasses import dataclass

from explorer.builders._common import block, keras, layers
from explorer.builders._registry import add_presets, register
from explorer.config import ConfigError, field, validate_fields


@dataclass(frozen=True)
class YNetConfig:
    """Config of the Y network."""

    input_shape: tuple[int, ...] = field((28, 28, 1), "Input height, width, channels (both inputs).", min=1, max=1024, length=(3,))
    num_classes: int = field(10, "Number of output classes.", min=2, max=10000)
    filters: tuple[int, ...] = field((32, 64, 128), "Filters of each layer of a branch, comma-separated.", min=1, max=1024, length=tuple(range(1, 7)))
    kernel_size: int = field(3, "Square kernel size.", min=1, max=11)
    dilation_rate: int = field(2, "Dilation rate of the right branch.", min=1, max=8)
    dropout: float = field(0.4, "Dropout rate after every convolution and before the classifier.", min=0.0, max=0.9)

    def __post_init__(self) -> None:
        validate_fields(self)
        h, w, _ = self.input_shape
        smallest = 2 ** len(self.filters)
        if min(h, w) < smallest:
            raise ConfigError(
                f"input_shape {h}x{w} is too small for {len(self.filters)} pooling layers per branch; "
                f"it needs at least {smallest}x{smallest}."
            )


def _branch(x, cfg: YNetConfig, side: str, dilation: int):
    for i, filters in enumerate(cfg.filters, start=1):
        with block(side, f"block{i}") as n:
            x = layers.Conv2D(
                filters, cfg.kernel_size, padding="same", activation="relu",
                dilation_rate=dilation, name=n("conv"),
            )(x)
            x = layers.Dropout(cfg.dropout, name=n("dropout"))(x)
            x = layers.MaxPooling2D(name=n("pool"))(x)
    return x


@register("ynet", YNetConfig, "Two-input Y network: a plain and a dilated branch, concatenated.")
def build(cfg: YNetConfig) -> keras.Model:
    """Build the Y network described by ``cfg``."""
    left_in = keras.Input(shape=cfg.input_shape, name="left_image")
    right_in = keras.Input(shape=cfg.input_shape, name="right_image")
    left = _branch(left_in, cfg, "left", 1)
    right = _branch(right_in, cfg, "right", cfg.dilation_rate)
    with block("head") as n:
        x = layers.Concatenate(name=n("concat"))([left, right])
        x = layers.Flatten(name=n("flatten"))(x)
        x = layers.Dropout(cfg.dropout, name=n("dropout"))(x)
        outputs = layers.Dense(cfg.num_classes, activation="softmax", name=n("classifier"))(x)
    return keras.Model([left_in, right_in], outputs, name="ynet")


add_presets("ynet", [("ynet", "Y network on MNIST (two inputs, one output).", {}, 208_394, 0.0)])
