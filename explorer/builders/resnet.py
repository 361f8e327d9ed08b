"""`resnet`: CIFAR-style ResNet v1 (He et al. 2015) and v2 (He et al. 2016), as in the book.

v1: depth 6n+2, basic blocks Conv-BN-ReLU, Conv-BN, add, ReLU; 16/32/64 filters; a 1x1
projection (no BN, no activation) on the shortcut of the first block of stages 2 and 3.
v2: depth 9n+2, pre-activation bottlenecks BN-ReLU-Conv1x1, BN-ReLU-Conv3x3, BN-ReLU-Conv1x1,
inner widths 16/64/128 with outputs 64/128/256, a 1x1 projection on every stage's first block.
Convolutions: he_normal, L2(1e-4), bias on, same padding.
``shortcut=false`` drops every shortcut (identity and projection, and the Add): the "plain"
networks of He et al. 2015, for the degradation experiment (plain-20 vs plain-56 vs ResNet-56).
"""

from __future__ import annotations

from dataclasses import dataclass

from explorer.builders._common import block, keras, layers, regularizers
from explorer.builders._registry import add_presets, register
from explorer.config import ConfigError, field, validate_fields


def _depths(version: int) -> tuple[int, ...]:
    """Valid depths: 6n+2 (v1) or 9n+2 (v2), n >= 1, up to 1001."""
    per = 6 if version == 1 else 9
    return tuple(range(per + 2, 1002, per))


@dataclass(frozen=True)
class ResNetConfig:
    """Config of the CIFAR ResNet (v1 and v2)."""

    version: int = field(1, "1: basic blocks (depth 6n+2); 2: pre-activation bottlenecks (depth 9n+2).", min=1, max=2,
                         valid=lambda v: (1, 2), valid_text="1 or 2")
    depth: int = field(20, "Number of weighted layers: 6n+2 for v1, 9n+2 for v2.", min=8, max=1001,
                       valid=lambda v: _depths(v.get("version", 1)),
                       valid_text="6n+2 for v1 (8, 14, 20, ...), 9n+2 for v2 (11, 20, 29, ...)")
    input_shape: tuple[int, ...] = field((32, 32, 3), "Input height, width, channels.", min=1, max=1024, length=(3,))
    num_classes: int = field(10, "Number of output classes.", min=2, max=10000)
    filters: int = field(16, "Width of the stem (and of stage 1 in v1; it doubles per stage).", min=1, max=512)
    bottleneck_width: int = field(16, "v2: inner width of stage 1's bottlenecks (later stages use the previous output).", min=1, max=512,
                                  when={"version": 2})
    expansion: int = field(4, "v2: stage 1 output width / inner width (later stages double).", min=1, max=8,
                           when={"version": 2})
    l2: float = field(1e-4, "L2 weight decay on convolution kernels.", min=0.0, max=1.0)
    shortcut: bool = field(True, "Residual shortcuts (false: the same stack without them, a 'plain' net as in He et al. 2015).")

    def __post_init__(self) -> None:
        validate_fields(self)
        per = 6 if self.version == 1 else 9
        if (self.depth - 2) % per:
            low = (self.depth - 2) // per * per + 2
            options = [d for d in (low, low + per) if d >= per + 2]
            raise ConfigError(
                f"depth {self.depth} is not {per}n+2 (ResNet v{self.version}); nearest valid depths are "
                + " and ".join(str(d) for d in options) + "."
            )
        h, w, _ = self.input_shape
        if min(h, w) < 29:
            raise ConfigError(
                f"input_shape {h}x{w} is too small: two stride-2 stages and the 8x8 average pool need "
                "at least 29x29 (CIFAR is 32x32)."
            )

    @property
    def blocks_per_stage(self) -> int:
        """Residual blocks in each of the three stages."""
        return (self.depth - 2) // (6 if self.version == 1 else 9)


def _conv_bn(x, cfg, n, tag, filters, kernel=3, strides=1, activation="relu", bn=True, conv_first=True):
    """The book's ``resnet_layer``: Conv2D and optional BN/activation, in either order."""
    conv = layers.Conv2D(
        filters, kernel, strides=strides, padding="same", kernel_initializer="he_normal",
        kernel_regularizer=regularizers.L2(cfg.l2) if cfg.l2 else None, name=n(f"{tag}_conv"),
    )
    if conv_first:
        x = conv(x)
        if bn:
            x = layers.BatchNormalization(name=n(f"{tag}_bn"))(x)
        if activation:
            x = layers.Activation(activation, name=n(f"{tag}_relu"))(x)
        return x
    if bn:
        x = layers.BatchNormalization(name=n(f"{tag}_bn"))(x)
    if activation:
        x = layers.Activation(activation, name=n(f"{tag}_relu"))(x)
    return conv(x)


def _v1(x, cfg: ResNetConfig):
    filters = cfg.filters
    for stage in range(3):
        for b in range(cfg.blocks_per_stage):
            with block(f"stage{stage + 1}", f"block{b + 1}") as n:
                strides = 2 if stage > 0 and b == 0 else 1
                y = _conv_bn(x, cfg, n, "1", filters, strides=strides)
                y = _conv_bn(y, cfg, n, "2", filters, activation=None)
                if not cfg.shortcut:  # plain: the block's output is its residual branch alone
                    x = layers.Activation("relu", name=n("out"))(y)
                    continue
                if strides == 2:
                    x = _conv_bn(x, cfg, n, "shortcut", filters, kernel=1, strides=2, activation=None, bn=False)
                x = layers.Add(name=n("add"))([x, y])
                x = layers.Activation("relu", name=n("out"))(x)
        filters *= 2
    return x


def _v2(x, cfg: ResNetConfig):
    width_in = cfg.bottleneck_width
    for stage in range(3):
        width_out = width_in * (cfg.expansion if stage == 0 else 2)
        for b in range(cfg.blocks_per_stage):
            with block(f"stage{stage + 1}", f"block{b + 1}") as n:
                first = b == 0
                strides = 2 if stage > 0 and first else 1
                pre = not (stage == 0 and first)  # stage 1's first block skips its first BN-ReLU
                y = _conv_bn(x, cfg, n, "1", width_in, kernel=1, strides=strides,
                             activation="relu" if pre else None, bn=pre, conv_first=False)
                y = _conv_bn(y, cfg, n, "2", width_in, conv_first=False)
                y = _conv_bn(y, cfg, n, "3", width_out, kernel=1, conv_first=False)
                if not cfg.shortcut:
                    x = y
                    continue
                if first:
                    x = _conv_bn(x, cfg, n, "shortcut", width_out, kernel=1, strides=strides, activation=None, bn=False)
                x = layers.Add(name=n("add"))([x, y])
        width_in = width_out
    return x


@register("resnet", ResNetConfig, "CIFAR ResNet v1 (6n+2 basic blocks) and v2 (9n+2 pre-activation bottlenecks).")
def build(cfg: ResNetConfig) -> keras.Model:
    """Build the CIFAR ResNet described by ``cfg``."""
    inputs = keras.Input(shape=cfg.input_shape, name="image")
    with block("stem") as n:
        x = _conv_bn(inputs, cfg, n, "1", cfg.filters)
    x = _v1(x, cfg) if cfg.version == 1 else _v2(x, cfg)
    with block("head") as n:
        if cfg.version == 2:
            x = layers.BatchNormalization(name=n("bn"))(x)
            x = layers.Activation("relu", name=n("relu"))(x)
        x = layers.AveragePooling2D(pool_size=8, name=n("avg_pool"))(x)
        x = layers.Flatten(name=n("flatten"))(x)
        outputs = layers.Dense(
            cfg.num_classes, activation="softmax", kernel_initializer="he_normal", name=n("classifier")
        )(x)
    return keras.Model(inputs, outputs, name=f"resnet{cfg.depth}_v{cfg.version}")


add_presets(
    "resnet",
    [
        ("resnet20", "ResNet-20 v1 on CIFAR-10.", {"depth": 20}, 274_442, 0.0),
        ("resnet32", "ResNet-32 v1 on CIFAR-10.", {"depth": 32}, None, 0.0),
        ("resnet44", "ResNet-44 v1 on CIFAR-10.", {"depth": 44}, None, 0.0),
        ("resnet56", "ResNet-56 v1 on CIFAR-10.", {"depth": 56}, None, 0.0),
        ("resnet110", "ResNet-110 v1 on CIFAR-10.", {"depth": 110}, 1_742_762, 0.0),
        ("resnet56v2", "ResNet-56 v2 (pre-activation bottlenecks) on CIFAR-10.", {"version": 2, "depth": 56}, None, 0.0),
        ("resnet110v2", "ResNet-110 v2 on CIFAR-10.", {"version": 2, "depth": 110}, 3_323_210, 0.0),
    ],
)
