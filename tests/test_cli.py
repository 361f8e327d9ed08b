"""The command line contract: JSON fields, exit codes, one-line errors (run as a real subprocess)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def cli(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    """Run ``python -m explorer ARGS`` and capture its output."""
    return subprocess.run(
        [sys.executable, "-m", "explorer", *args], cwd=ROOT, capture_output=True, text=True, timeout=300,
        env={**os.environ, **(env or {})},
    )


def test_list_json_names_every_builder_and_preset():
    from explorer.builders import PRESETS, REGISTRY

    r = cli("list", "--json")
    assert r.returncode == 0, r.stderr
    data = json.loads(r.stdout)
    assert [b["name"] for b in data["builders"]] == list(REGISTRY)
    assert sorted(p["name"] for p in data["presets"]) == sorted(PRESETS)
    resnet = next(b for b in data["builders"] if b["name"] == "resnet")
    depth = next(f for f in resnet["fields"] if f["name"] == "depth")
    assert depth["type"] == "int" and depth["help"]


def test_summary_json_fields_and_partition():
    r = cli("summary", "resnet20", "--json")
    assert r.returncode == 0, r.stderr
    s = json.loads(r.stdout)
    for key in ("builder", "config", "total_params", "trainable_params", "non_trainable_params", "layers", "blocks"):
        assert key in s
    assert s["builder"] == "resnet" and s["config"]["depth"] == 20
    assert s["total_params"] == 274_442
    assert s["trainable_params"] + s["non_trainable_params"] == s["total_params"]
    assert sum(b["params"] for b in s["blocks"]) == s["total_params"]
    assert sum(b["trainable_params"] for b in s["blocks"]) == s["trainable_params"]
    assert sum(b["layers"] for b in s["blocks"]) == s["layers"]
    for b in s["blocks"]:
        assert set(b) >= {"path", "params", "trainable_params", "output_shape"}
    assert s["blocks"][-1]["output_shape"] == [None, 10]


def test_summary_builder_preset_and_set_are_equivalent_spellings():
    a = json.loads(cli("summary", "resnet56", "--json").stdout)
    b = json.loads(cli("summary", "resnet", "--preset", "resnet20", "--set", "depth=56", "--json").stdout)
    assert a["total_params"] == b["total_params"] == 861_770
    c = json.loads(cli("summary", "cnn", "--set", "input_shape=32,32,3", "--set", "padding=same", "--json").stdout)
    assert c["config"]["input_shape"] == [32, 32, 3] and c["config"]["padding"] == "same"


def test_summary_text_lists_blocks_and_totals():
    r = cli("summary", "ynet")
    assert r.returncode == 0
    assert "left/block1" in r.stdout and "Total params:         208,394" in r.stdout


@pytest.mark.parametrize(
    "args,words",
    [
        (["summary", "resnet", "--set", "depth=21"], "depth 21 is not 6n+2"),
        (["summary", "resnt20"], "unknown builder or preset"),
        (["summary", "resnet", "--set", "depth"], "--set expects field=value"),
        (["summary", "resnet", "--set", "depht=20"], "did you mean depth"),
        (["summary", "resnet", "--preset", "densenet-40-12"], "belongs to builder"),
        (["summary", "missing.keras"], "does not exist"),
        (["summry", "resnet20"], "invalid choice"),
        (["summary"], "required"),
    ],
)
def test_bad_input_exits_2_with_one_line(args, words):
    r = cli(*args)
    assert r.returncode == 2
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1, r.stderr
    assert words in lines[0]
    assert "Traceback" not in r.stderr


def test_summary_of_a_saved_model_file(tmp_path):
    import explorer  # noqa: F401
    from explorer.builders import build_model, resolve

    path = tmp_path / "tiny.keras"
    build_model(resolve("cnn", overrides={"conv_layers": 1, "filters": 4})).save(path)
    r = cli("summary", str(path), "--json")
    assert r.returncode == 0, r.stderr
    s = json.loads(r.stdout)
    assert s["builder"] is None and s["total_params"] == (3 * 3 * 1 * 4 + 4) + (26 * 26 * 4 * 10 + 10)  # no pooling after the last conv
    assert [b["path"] for b in s["blocks"]] == ["input", "block1", "head"]


def test_garbage_model_file_is_refused(tmp_path):
    bad = tmp_path / "bad.keras"
    bad.write_bytes(b"not a zip at all")
    r = cli("summary", str(bad))
    assert r.returncode == 2 and "not a .keras archive" in r.stderr
    assert len(r.stderr.strip().splitlines()) == 1


HEAVY = ("keras", "jax", "scipy", "tensorflow", "numpy")


@pytest.mark.parametrize("args", [["--help"], ["list", "--json"], ["list"], ["runs", "--json"], ["summary", "--help"]])
def test_commands_that_need_no_model_import_no_framework(args, tmp_path):
    """``--help``, ``list`` and ``runs`` load neither Keras nor what it brings (seconds, hundreds of MB)."""
    probe = ("import runpy, sys\n"
             "sys.argv = ['explorer'] + sys.argv[1:]\n"
             "try:\n    runpy.run_module('explorer', run_name='__main__')\n"
             "except SystemExit as e:\n    code = e.code\n"
             f"print('LOADED', [m for m in {HEAVY!r} if m in sys.modules], code, file=sys.stderr)\n")
    if args[0] == "runs":
        args = [*args, "--store", str(tmp_path / "runs.sqlite")]
    r = subprocess.run([sys.executable, "-c", probe, *args], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert r.stderr.strip().splitlines()[-1] == "LOADED [] 0", r.stderr
    assert r.stdout.strip()  # it did answer


def test_a_command_that_builds_imports_keras_on_first_use_without_tensorflow():
    """The lazy builders still build: ``summary`` imports Keras (numpy backend), never TensorFlow."""
    probe = ("import sys\n"
             "from explorer.cli import main\n"
             "main(['summary', 'mnist-cnn', '--json'])\n"
             "print('LOADED', 'keras' in sys.modules, 'tensorflow' in sys.modules, file=sys.stderr)\n")
    env = {**os.environ, "EXPLORER_CACHE_DIR": "off"}  # it builds: no analysis from the disk cache
    r = subprocess.run([sys.executable, "-c", probe], cwd=ROOT, capture_output=True, text=True, timeout=300, env=env)
    assert json.loads(r.stdout)["total_params"] == 80_266
    assert r.stderr.strip().splitlines()[-1] == "LOADED True False", r.stderr
