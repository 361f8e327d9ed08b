"""`densenet`: CIFAR DenseNet and DenseNet-BC (Huang et al. 2017), in the book's and the paper's layout.

Three dense blocks of (L-4)/6 bottleneck layers (BC) or (L-4)/3 plain layers. The book's
DenseNet-BC-100-12 (797,788 parameters): stem BN-ReLU-Conv3x3(2k) concatenated with the input,
layers BN-ReLU-Conv1x1(4k)-BN-ReLU-Conv3x3(k) -> concatenate, transitions
BN-Conv1x1-AveragePooling2D(2), head AvgPool(8)-Flatten-Dense. The paper's layout: stem
Conv3x3(16, or 2k for BC) without input concatenation, convolutions without bias,
BN-ReLU-Conv1x1 transitions, BN-ReLU and global average pooling before the classifier.
"""

from __future__ import annotations

from dataclasses import dataclass

from explorer.builders._common import block, keras, layers
from explorer.builders._registry import add_presets, register
from explorer.config import ConfigError, field, validate_fields

DENSE_BLOCKS = 3


def _depths(bottleneck: bool) -> tuple[int, ...]:
    """Valid depths: 3 dense blocks of (L-4)/6 bottleneck or (L-4)/3 plain layers, L up to 400."""
    per = DENSE_BLOCKS * (2 if bottleneck else 1)
    return tuple(range(per + 4, 401, per))


@dataclass(frozen=True)
class DenseNetConfig:
    """Config of the CIFAR DenseNet / DenseNet-BC."""

    depth: int = field(100, "Depth L: 3 dense blocks of (L-4)/6 bottleneck layers or (L-4)/3 plain layers.", min=7, max=400,
                       valid=lambda v: _depths(v.get("bottleneck", True)),
                       valid_text="6n+4 with bottlenecks (10, 16, ..., 100), 3n+4 without (7, 10, 13, ...)")
    growth_rate: int = field(12, "Growth rate k: channels each layer adds.", min=1, max=128)
    bottleneck: bool = field(True, "Bottleneck layers (BN-ReLU-Conv1x1(4k) before each 3x3 convolution).")
    compression: float = field(0.5, "Transition compression theta (1.0: none; DenseNet-BC uses 0.5).", min=0.05, max=1.0)
    stem: str = field("book", "book: BN-ReLU-Conv3x3(2k) concatenated with the input; paper: a plain Conv3x3.", choices=("book", "paper"))
    stem_filters: int = field(0, "Stem filters (0: 2k for the book's stem or DenseNet-BC, else 16).", min=0, max=1024)
    transition: str = field("book", "book: BN-Conv1x1-AvgPool; paper: BN-ReLU-Conv1x1-AvgPool.", choices=("book", "paper"))
    head: str = field("book", "book: AvgPool(8)-Flatten-Dense; paper: BN-ReLU-GlobalAvgPool-Dense.", choices=("book", "paper"))
    use_bias: bool = field(True, "Bias in convolutions (the book has it, the paper does not).")
    dropout: float = field(0.0, "Dropout after each convolution (the paper uses 0.2 without augmentation).", min=0.0, max=0.9)
    input_shape: tuple[int, ...] = field((32, 32, 3), "Input height, width, channels.", min=1, max=1024, length=(3,))
    num_classes: int = field(10, "Number of output classes.", min=2, max=10000)

    def __post_init__(self) -> None:
        validate_fields(self)
        per = DENSE_BLOCKS * (2 if self.bottleneck else 1)
        if (self.depth - 4) % per or self.depth - 4 < per:
            kind = "(L-4)/6 bottleneck layers" if self.bottleneck else "(L-4)/3 plain layers"
            low = max((self.depth - 4) // per * per + 4, per + 4)
            options = sorted({low, low + per} - {self.depth})
            raise ConfigError(
                f"depth {self.depth} does not give 3 dense blocks of {kind}; nearest valid depths are "
                + " and ".join(str(d) for d in options) + "."
            )
        h, w, _ = self.input_shape
        need = 32 if self.head == "book" else 4
        if min(h, w) < need:
            raise ConfigError(
                f"input_shape {h}x{w} is too small: two transitions halve it and the {self.head} head "
                f"needs at least {need}x{need}."
            )

    @property
    def layers_per_block(self) -> int:
        """Layers in each dense block."""
        return (self.depth - 4) // (DENSE_BLOCKS * (2 if self.bottleneck else 1))


def _conv(cfg, filters, kernel, name):
    return layers.Conv2D(
        filters, kernel, padding="same", use_bias=cfg.use_bias, kernel_initializer="he_normal", name=name
    )


def _bn_relu_conv(x, cfg, n, tag, filters, kernel):
    x = layers.BatchNormalization(name=n(f"{tag}_bn"))(x)
    x = layers.Activation("relu", name=n(f"{tag}_relu"))(x)
    x = _conv(cfg, filters, kernel, n(f"{tag}_conv"))(x)
    if cfg.dropout:
        x = layers.Dropout(cfg.dropout, name=n(f"{tag}_dropout"))(x)
    return x


@register("densenet", DenseNetConfig, "CIFAR DenseNet and DenseNet-BC (depth L, growth rate k, compression).")
def build(cfg: DenseNetConfig) -> keras.Model:
    """Build the CIFAR DenseNet described by ``cfg``."""
    k = cfg.growth_rate
    bc = cfg.bottleneck and cfg.compression < 1
    stem_filters = cfg.stem_filters or (2 * k if cfg.stem == "book" or bc else 16)
    inputs = keras.Input(shape=cfg.input_shape, name="image")
    with block("stem") as n:
        if cfg.stem == "book":
            x = _bn_relu_conv(inputs, cfg, n, "1", stem_filters, 3)
            x = layers.Concatenate(name=n("concat"))([inputs, x])
        else:
            x = _conv(cfg, stem_filters, 3, n("conv"))(inputs)
    # The book counts transition widths from the stem's filters only (not the concatenated input).
    book_width = stem_filters
    for i in range(1, DENSE_BLOCKS + 1):
        for j in range(1, cfg.layers_per_block + 1):
            with block(f"dense{i}", f"layer{j}") as n:
                y = x
                if cfg.bottleneck:
                    y = _bn_relu_conv(y, cfg, n, "1", 4 * k, 1)
                y = _bn_relu_conv(y, cfg, n, "2", k, 3)
                x = layers.Concatenate(name=n("concat"))([x, y])
        if i == DENSE_BLOCKS:
            break
        book_width = int((book_width + cfg.layers_per_block * k) * cfg.compression)
        with block(f"transition{i}") as n:
            if cfg.transition == "book":
                x = layers.BatchNormalization(name=n("bn"))(x)
                x = _conv(cfg, book_width, 1, n("conv"))(x)
                if cfg.dropout:
                    x = layers.Dropout(cfg.dropout, name=n("dropout"))(x)
            else:
                x = _bn_relu_conv(x, cfg, n, "1", int(x.shape[-1] * cfg.compression), 1)
            x = layers.AveragePooling2D(2, name=n("pool"))(x)
    with block("head") as n:
        if cfg.head == "book":
            x = layers.AveragePooling2D(pool_size=8, name=n("avg_pool"))(x)
            x = layers.Flatten(name=n("flatten"))(x)
        else:
            x = layers.BatchNormalization(name=n("bn"))(x)
            x = layers.Activation("relu", name=n("relu"))(x)
            x = layers.GlobalAveragePooling2D(name=n("gap"))(x)
        outputs = layers.Dense(
            cfg.num_classes, activation="softmax", kernel_initializer="he_normal", name=n("classifier")
        )(x)
    kind = "densenet_bc" if bc else "densenet"
    return keras.Model(inputs, outputs, name=f"{kind}_{cfg.depth}_{k}")


_PAPER = {"stem": "paper", "transition": "paper", "head": "paper", "use_bias": False}
_PAPER_PLAIN = {**_PAPER, "bottleneck": False, "compression": 1.0}

add_presets(
    "densenet",
    [
        ("densenet-bc-100-12", "DenseNet-BC-100 (k=12) as in the book.", {}, 797_788, 0.0),
        ("densenet-40-12", "DenseNet (L=40, k=12), Huang et al. 2017 Table 2: 1.0M.", {**_PAPER_PLAIN, "depth": 40, "growth_rate": 12}, 1_000_000, 0.05),
        ("densenet-100-12", "DenseNet (L=100, k=12), Table 2: 7.0M.", {**_PAPER_PLAIN, "depth": 100, "growth_rate": 12}, 7_000_000, 0.05),
        ("densenet-100-24", "DenseNet (L=100, k=24), Table 2: 27.2M.", {**_PAPER_PLAIN, "depth": 100, "growth_rate": 24}, 27_200_000, 0.05),
        ("densenet-bc-250-24", "DenseNet-BC (L=250, k=24), Table 2: 15.3M.", {**_PAPER, "depth": 250, "growth_rate": 24}, 15_300_000, 0.05),
        ("densenet-bc-190-40", "DenseNet-BC (L=190, k=40), Table 2: 25.6M.", {**_PAPER, "depth": 190, "growth_rate": 40}, 25_600_000, 0.05),
    ],
)
