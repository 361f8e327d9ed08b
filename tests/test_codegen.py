"""Generated source rebuilds the same architecture, for every preset; the written file runs alone."""

from __future__ import annotations

import ast
import os
import subprocess
import sys
from pathlib import Path

import pytest

from explorer.builders import PRESETS, build_model, resolve
from explorer.codegen import MAX_LINE, generate, run_source
from explorer.graph import extract

ROOT = Path(__file__).resolve().parent.parent


def _layers(model):
    return [(type(la).__name__, la.get_config()) for la in model.layers]


@pytest.mark.parametrize("name", list(PRESETS))
def test_generated_code_rebuilds_the_same_model(name):
    spec = resolve(name)
    source = generate(spec)
    ast.parse(source)
    built = build_model(spec, weights=False)
    rebuilt = run_source(source, weights=False)
    # same layer classes and configs (names included), in the same order
    assert _layers(rebuilt) == _layers(built)
    # same connections and parameter counts
    a, b = extract(built), extract(rebuilt)
    assert a.edges == b.edges
    assert a.inputs == b.inputs and a.outputs == b.outputs
    assert b.total_params == a.total_params == built.count_params()
    assert b.trainable_params == a.trainable_params


def test_code_is_readable_blocks_are_functions_and_shared():
    source = generate(resolve("resnet110"))
    tree = ast.parse(source)
    functions = [n.name for n in tree.body if isinstance(n, ast.FunctionDef)]
    # 54 residual blocks, but blocks that differ only in their arguments share one function
    assert "build_model" in functions and "stem" in functions and "head" in functions
    assert len(functions) <= 5
    # the filter count is a parameter, passed per stage; runs of blocks are loops
    assert "def stage_block(inputs, filters, name):" in source
    for filters, stage in ((16, 1), (32, 2), (64, 3)):
        assert f'stage_block(x, filters={filters}, name=f"stage{stage}_block{{i}}")' in source
    assert source.count("for i in range(") == 3
    assert "keras.Model(inputs=image, outputs=" in source
    # one line per layer: every layer name appears once as a name= argument
    model = build_model(resolve("resnet20"), weights=False)
    small = generate(resolve("resnet20"))
    calls = small.count("= layers.")
    assert calls >= len([la for la in model.layers if type(la).__name__ != "InputLayer"]) // 6


@pytest.mark.parametrize("name", list(PRESETS))
def test_generated_lines_fit_99_characters(name):
    source = generate(resolve(name))
    too_long = [ln for ln in source.splitlines() if len(ln) > MAX_LINE]
    assert MAX_LINE == 99 and not too_long, too_long[:3]


def test_docstring_lists_only_the_fields_that_apply():
    v1 = generate(resolve("resnet56"))
    v2 = generate(resolve("resnet56v2"))
    head_v1 = v1.split('"""')[1]
    head_v2 = v2.split('"""')[1]
    assert "depth = 56" in head_v1 and "bottleneck_width" not in head_v1 and "expansion" not in head_v1
    assert "bottleneck_width = 16" in head_v2 and "expansion = 4" in head_v2


def test_tweaked_config_is_reflected():
    source = generate(resolve("cnn", overrides={"conv_layers": 2, "filters": 8, "batch_norm": True}))
    assert "layers.Conv2D(8, 3, use_bias=False" in source
    assert "BatchNormalization" in source
    assert "conv_layers = 2" in source


def test_cli_writes_a_file_that_runs_on_its_own(tmp_path):
    out = tmp_path / "ynet_model.py"
    r = subprocess.run([sys.executable, "-m", "explorer", "code", "ynet", "-o", str(out)],
                       cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr
    run = subprocess.run([sys.executable, str(out)], cwd=tmp_path, capture_output=True, text=True, timeout=300,
                         env={**os.environ, "KERAS_BACKEND": "numpy", "PYTHONPATH": ""})
    assert run.returncode == 0, run.stderr
    assert "208,394" in run.stdout  # model.summary() prints the total


def test_cli_prints_and_rejects_bad_output(tmp_path):
    r = subprocess.run([sys.executable, "-m", "explorer", "code", "mnist-cnn"], cwd=ROOT,
                       capture_output=True, text=True, timeout=300)
    assert r.returncode == 0 and "def build_model():" in r.stdout
    r = subprocess.run([sys.executable, "-m", "explorer", "code", "mnist-cnn", "-o", str(tmp_path / "x.txt")],
                       cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert r.returncode == 2 and "must end in .py" in r.stderr
