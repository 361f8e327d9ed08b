"""`cnn`: the plain CNN of the Keras functional-API tutorial on MNIST, with its knobs exposed.

Default (80,266 parameters): Input 28x28x1 -> [Conv2D(64, 3, relu) -> MaxPooling2D] x 2 ->
Conv2D(64, 3, relu) -> Flatten -> Dropout(0.3) -> Dense(10, softmax).
"""

from __future__ import annotations

from dataclasses import dataclass

from explorer.builders._common import block, conv_output_size, keras, layers
from explorer.builders._registry import add_presets, register
from explorer.config import ConfigError, field, validate_fields

ACTIVATIONS = ("relu", "elu", "gelu", "selu", "swish", "tanh", "sigmoid", "leaky_relu")


@dataclass(frozen=True)
class CNNConfig:
    """Config of the plain CNN."""

    input_shape: tuple[int, ...] = field((28, 28, 1), "Input height, width, channels.", min=1, max=1024, length=(3,))
    num_classes: int = field(10, "Number of output classes.", min=2, max=10000)
    conv_layers: int = field(3, "Number of convolution blocks.", min=1, max=10)
    filters: int = field(64, "Filters in every convolution.", min=1, max=1024)
    kernel_size: int = field(3, "Square kernel size of every convolution.", min=1, max=11)
    padding: str = field("valid", "Convolution padding.", choices=("valid", "same"))
    pooling: str = field("max", "Pooling after every block but the last.", choices=("max", "avg", "none"))
    batch_norm: bool = field(False, "BatchNormalization after every convolution.")
    activation: str = field("relu", "Activation of the convolutions.", choices=ACTIVATIONS)
    head: str = field("flatten", "How features reach the classifier.", choices=("flatten", "global_avg"))
    dense_units: int = field(0, "Hidden Dense units before the classifier (0: none).", min=0, max=8192)
    dropout: float = field(0.3, "Dropout rate before the classifier.", min=0.0, max=0.9)

    def __post_init__(self) -> None:
        validate_fields(self)
        h, w, _ = self.input_shape
        for i in range(self.conv_layers):
            nh = conv_output_size(h, self.kernel_size, 1, self.padding)
            nw = conv_output_size(w, self.kernel_size, 1, self.padding)
            if nh < 1 or nw < 1:
                raise ConfigError(
                    f"input_shape {h}x{w} is too small for {self.conv_layers} convolutions of kernel "
                    f"{self.kernel_size} with {self.padding} padding (it runs out at convolution {i + 1}); "
                    "use a larger input, fewer conv_layers, a smaller kernel_size or padding=same."
                )
            h, w = nh, nw
            if self.pooling != "none" and i < self.conv_layers - 1:
                h, w = h // 2, w // 2
                if h < 1 or w < 1:
                    raise ConfigError(
                        f"input_shape is too small: pooling after convolution {i + 1} leaves no pixels; "
                        "use a larger input, fewer conv_layers or pooling=none."
                    )


@register("cnn", CNNConfig, "Plain CNN of the Keras functional-API tutorial (MNIST).")
def build(cfg: CNNConfig) -> keras.Model:
    """Build the plain CNN described by ``cfg``."""
    inputs = keras.Input(shape=cfg.input_shape, name="image")
    x = inputs
    for i in range(1, cfg.conv_layers + 1):
        with block(f"block{i}") as n:
            x = layers.Conv2D(
                cfg.filters,
                cfg.kernel_size,
                padding=cfg.padding,
                activation=None if cfg.batch_norm else cfg.activation,
                use_bias=not cfg.batch_norm,
                name=n("conv"),
            )(x)
            if cfg.batch_norm:
                x = layers.BatchNormalization(name=n("bn"))(x)
                x = layers.Activation(cfg.activation, name=n(cfg.activation))(x)
            if cfg.pooling != "none" and i < cfg.conv_layers:
                pool = layers.MaxPooling2D if cfg.pooling == "max" else layers.AveragePooling2D
                x = pool(2, name=n("pool"))(x)
    with block("head") as n:
        if cfg.head == "flatten":
            x = layers.Flatten(name=n("flatten"))(x)
        else:
            x = layers.GlobalAveragePooling2D(name=n("gap"))(x)
        if cfg.dense_units:
            x = layers.Dense(cfg.dense_units, activation=cfg.activation, name=n("fc"))(x)
        if cfg.dropout:
            x = layers.Dropout(cfg.dropout, name=n("dropout"))(x)
        outputs = layers.Dense(cfg.num_classes, activation="softmax", name=n("classifier"))(x)
    return keras.Model(inputs, outputs, name="cnn")


add_presets(
    "cnn",
    [
        ("mnist-cnn", "Keras functional-API tutorial CNN on MNIST.", {}, 80_266, 0.0),
    ],
)
