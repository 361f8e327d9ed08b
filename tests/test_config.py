"""Config validation: every mistake a user can make is a ConfigError naming the field."""

from __future__ import annotations

import pytest

from explorer.builders import resolve
from explorer.config import fields_of, parse_assignments
from explorer.errors import ConfigError

MISTAKES = [
    # (target, overrides, words the message must contain)
    ("resnet", {"depth": 21}, ["depth 21", "6n+2", "20", "26"]),
    ("resnet", {"version": 2, "depth": 24}, ["depth 24", "9n+2", "20", "29"]),
    ("resnet", {"version": 3}, ["version", "between 1 and 2"]),
    ("densenet", {"growth_rate": 0}, ["growth_rate 0", "between 1 and 128"]),
    ("densenet", {"depth": 101}, ["depth 101", "100", "106"]),
    ("densenet", {"compression": 1.5}, ["compression", "between"]),
    ("resnet", {"input_shape": (16, 16, 3)}, ["input_shape", "too small", "29"]),
    ("densenet", {"input_shape": (28, 28, 1)}, ["input_shape", "too small", "32"]),
    ("cnn", {"input_shape": (8, 8, 1)}, ["input_shape", "too small"]),
    ("cnn", {"num_classes": 1}, ["num_classes", "between 2"]),
    ("cnn", {"num_classes": 10**6}, ["num_classes", "10000"]),
    ("cnn", {"padding": "full"}, ["padding", "valid", "same"]),
    ("cnn", {"dropout": 1.5}, ["dropout", "between 0 and 0.9"]),
    ("cnn", {"input_shape": (28, 28)}, ["input_shape", "needs 3"]),
    ("cnn", {"filters": "many"}, ["filters", "whole number"]),
    ("cnn", {"filtrs": 3}, ["unknown field", "filters"]),
    ("ynet", {"filters": (32, 64, 128, 256, 512)}, ["input_shape", "too small", "5 pooling"]),
    ("keras_app", {"arch": "alexnet"}, ["arch", "resnet50"]),
    ("keras_app", {"arch": "inceptionv3", "input_shape": (64, 64, 3)}, ["input_shape", "75x75"]),
    ("keras_app", {"input_shape": (16, 16, 3)}, ["input_shape", "32x32"]),
    ("keras_app", {"input_shape": (64, 64, 1)}, ["channels", "3"]),
    ("keras_app", {"weights": "imagenet", "num_classes": 10}, ["num_classes", "1000"]),
    ("resnett", {}, ["unknown builder or preset", "resnet"]),
    ("resnet", {"dropout": 0.1}, ["unknown field"]),
]


@pytest.mark.parametrize("target,overrides,words", MISTAKES)
def test_mistakes_raise_config_error_naming_the_problem(target, overrides, words):
    with pytest.raises(ConfigError) as info:
        resolve(target, overrides=overrides)
    msg = str(info.value)
    assert "\n" not in msg and len(msg) < 300
    for w in words:
        assert w in msg, (w, msg)


def test_unknown_preset_and_preset_of_another_builder():
    with pytest.raises(ConfigError, match="unknown preset"):
        resolve("resnet", preset="resnet21")
    with pytest.raises(ConfigError, match="belongs to builder 'densenet'"):
        resolve("resnet", preset="densenet-40-12")


def test_preset_name_as_builder_with_overrides():
    spec = resolve("resnet20", overrides={"depth": 56})
    assert spec.builder == "resnet" and spec.preset == "resnet20" and spec.config.depth == 56


@pytest.mark.parametrize(
    "text,expected",
    [
        (["depth=56"], {"depth": 56}),
        (["input_shape=32,32,3"], {"input_shape": (32, 32, 3)}),
        (["l2=0.001", "version=2"], {"l2": 0.001, "version": 2}),
    ],
)
def test_parse_assignments(text, expected):
    from explorer.builders.resnet import ResNetConfig

    assert parse_assignments(ResNetConfig, text) == expected


@pytest.mark.parametrize("text", ["depth", "depth=abc", "depth=5.5", "input_shape=a,b", "nope=1"])
def test_bad_assignments(text):
    from explorer.builders.resnet import ResNetConfig

    with pytest.raises(ConfigError):
        parse_assignments(ResNetConfig, [text])


def test_bool_fields_parse_words():
    from explorer.builders.cnn import CNNConfig

    assert parse_assignments(CNNConfig, ["batch_norm=true"]) == {"batch_norm": True}
    assert parse_assignments(CNNConfig, ["batch_norm=no"]) == {"batch_norm": False}
    with pytest.raises(ConfigError, match="true or false"):
        parse_assignments(CNNConfig, ["batch_norm=maybe"])


def test_int_fields_accept_integral_floats_and_fields_are_ordered():
    from explorer.builders.cnn import CNNConfig

    assert resolve("cnn", overrides={"filters": 32.0}).config.filters == 32
    assert [f.name for f in fields_of(CNNConfig)][:2] == ["input_shape", "num_classes"]
