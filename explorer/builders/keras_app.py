"""`keras_app`: every Keras Applications model (all 14 families), untrained by default.

Presets exist for the ResNets and DenseNets; every other model is an ``arch`` choice
(``--set arch=mobilenetv2``). Blocks come from each family's naming convention
(``conv3_block2_1_conv`` -> ``conv3/block2``, ``block4b_...`` -> ``block4/block4b``) or, for the
Inception families, from the graph's structure (:mod:`explorer.grouping`).
"""

from __future__ import annotations

from dataclasses import dataclass

from explorer.builders._common import keras
from explorer.builders._registry import add_presets, register
from explorer.config import ConfigError, field, validate_fields

ARCHS = {
    "resnet50": "ResNet50",
    "resnet101": "ResNet101",
    "resnet152": "ResNet152",
    "resnet50v2": "ResNet50V2",
    "resnet101v2": "ResNet101V2",
    "resnet152v2": "ResNet152V2",
    "densenet121": "DenseNet121",
    "densenet169": "DenseNet169",
    "densenet201": "DenseNet201",
    "vgg16": "VGG16",
    "vgg19": "VGG19",
    "xception": "Xception",
    "inceptionv3": "InceptionV3",
    "inceptionresnetv2": "InceptionResNetV2",
    "mobilenet": "MobileNet",
    "mobilenetv2": "MobileNetV2",
    "mobilenetv3small": "MobileNetV3Small",
    "mobilenetv3large": "MobileNetV3Large",
    "nasnetmobile": "NASNetMobile",
    "nasnetlarge": "NASNetLarge",
    **{f"efficientnetb{i}": f"EfficientNetB{i}" for i in range(8)},
    **{f"efficientnetv2{v.lower()}": f"EfficientNetV2{v}" for v in ("B0", "B1", "B2", "B3", "S", "M", "L")},
    **{f"convnext{v.lower()}": f"ConvNeXt{v}" for v in ("Tiny", "Small", "Base", "Large", "XLarge")},
}
FAMILIES = {  # one model per family of keras.applications (the smallest), for tests and benchmarks
    "resnet": "resnet50", "resnetv2": "resnet50v2", "densenet": "densenet121", "vgg": "vgg16",
    "xception": "xception", "inceptionv3": "inceptionv3", "inceptionresnetv2": "inceptionresnetv2",
    "mobilenet": "mobilenet", "mobilenetv2": "mobilenetv2", "mobilenetv3": "mobilenetv3small",
    "nasnet": "nasnetmobile", "efficientnet": "efficientnetb0", "efficientnetv2": "efficientnetv2b0",
    "convnext": "convnexttiny",
}
# Smallest input side each model accepts (Keras's own checks); 32 for the others.
MIN_SIDE = {"inceptionv3": 75, "inceptionresnetv2": 75, "xception": 71}

# Parameter counts of Keras's own models at 224x224x3 with 1000 classes.
KERAS_PARAMS = {
    "resnet50": 25_636_712,
    "resnet101": 44_707_176,
    "resnet152": 60_419_944,
    "resnet50v2": 25_613_800,
    "resnet101v2": 44_675_560,
    "resnet152v2": 60_380_648,
    "densenet121": 8_062_504,
    "densenet169": 14_307_880,
    "densenet201": 20_242_984,
}


@dataclass(frozen=True)
class KerasAppConfig:
    """Config of a Keras Applications model."""

    arch: str = field("resnet50", "Which Keras Applications model.", choices=tuple(ARCHS))
    input_shape: tuple[int, ...] = field((224, 224, 3), "Input height, width, channels (3 channels; at least 32x32, 75x75 for Inception, 71x71 for Xception).", min=1, max=2048, length=(3,))
    num_classes: int = field(1000, "Number of output classes.", min=2, max=100000)
    weights: str = field("none", "Initial weights: none (random) or imagenet (downloads; needs 1000 classes).", choices=("none", "imagenet"))

    def __post_init__(self) -> None:
        validate_fields(self)
        h, w, c = self.input_shape
        side = MIN_SIDE.get(self.arch, 32)
        if min(h, w) < side:
            raise ConfigError(f"input_shape {h}x{w} is too small: {ARCHS[self.arch]} needs at least {side}x{side}.")
        if c != 3:
            raise ConfigError(f"input_shape has {c} channels; Keras Applications take 3 (RGB).")
        if self.weights == "imagenet" and self.num_classes != 1000:
            raise ConfigError(f"num_classes {self.num_classes} does not match imagenet weights, which need 1000.")


@register("keras_app", KerasAppConfig, "Keras Applications: ResNet, DenseNet, VGG, Inception, Xception, MobileNet, "
          "NASNet, EfficientNet, ConvNeXt.")
def build(cfg: KerasAppConfig) -> keras.Model:
    """Build the Keras Applications model described by ``cfg``."""
    fn = getattr(keras.applications, ARCHS[cfg.arch])
    try:
        return fn(
            weights=None if cfg.weights == "none" else "imagenet",
            input_shape=cfg.input_shape,
            classes=cfg.num_classes,
        )
    except Exception as exc:  # download failures surface here when offline
        if cfg.weights == "imagenet":
            raise ConfigError(
                f"weights imagenet could not be loaded ({type(exc).__name__}); without a network, "
                "put the weights file under ~/.keras/models or use weights=none."
            ) from exc
        raise


add_presets(
    "keras_app",
    [
        (arch, f"Keras Applications {cls} (weights=None).", {"arch": arch}, KERAS_PARAMS[arch], 0.0)
        for arch, cls in ARCHS.items() if arch in KERAS_PARAMS
    ],
)
