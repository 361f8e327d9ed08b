"""The disk cache: a restarted process reads analyses and layouts without Keras, never breaks on a bad entry.

Real builds of small presets, real graphviz, real files in a temporary cache folder
(``EXPLORER_CACHE_DIR``); nothing here stands in for the cache.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import threading
from pathlib import Path

import pytest

import explorer  # noqa: F401  (analysis backend before Keras loads)
from explorer import analysis, diskcache, render
from explorer.builders import resolve
from explorer.render import have_dot

ROOT = Path(__file__).resolve().parent.parent
SMALL = ["mnist-cnn", "resnet20", "ynet"]


@pytest.fixture
def cache(tmp_path, monkeypatch) -> Path:
    """An empty cache folder of this test's own, as the environment names it."""
    folder = tmp_path / "cache"
    monkeypatch.setenv(diskcache.ENV, str(folder))
    return folder


def _entries(folder: Path) -> list[Path]:
    return sorted(p for p in folder.rglob("*") if p.is_file()) if folder.exists() else []


def _run(code: str, env: dict[str, str], cwd: Path = ROOT) -> dict:
    """Run ``code`` in a fresh interpreter; its last stdout line, read as JSON."""
    proc = subprocess.run([sys.executable, "-c", code], cwd=cwd, env={**os.environ, **env},
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return json.loads(proc.stdout.strip().splitlines()[-1])


@pytest.mark.parametrize("name", SMALL)
def test_a_disk_hit_returns_the_graph_the_build_made(cache, name):
    spec = resolve(name)
    built = analysis._load_or_build(spec)  # a miss: built, then written
    assert built.model is not None and len(_entries(cache)) == 1
    hit = analysis._load_or_build(spec)
    assert hit.model is None  # read, not built
    assert hit.graph == built.graph
    assert hit.graph.nodes == built.graph.nodes and hit.graph.edges == built.graph.edges
    assert [n.params for n in hit.graph.nodes] == [n.params for n in built.graph.nodes]
    assert hit.graph.total_params == built.graph.total_params == built.model.count_params()
    assert hit.label == built.label and hit.spec == spec


@pytest.mark.skipif(not have_dot(), reason="graphviz is not installed")
def test_a_second_process_analyses_and_lays_out_from_the_cache_without_keras(cache):
    from explorer.ui.graph_viewer import default_dot

    spec = resolve("resnet20")
    graph = analysis._load_or_build(spec).graph
    drawing = render._cached.__wrapped__(default_dot(graph), "svg")  # the disk tier, past the memory one
    code = (
        "import sys, json, hashlib\n"
        "import explorer\n"
        "from explorer.analysis import analyse\n"
        "from explorer.builders import resolve\n"
        "from explorer.render import cached_layout\n"
        "from explorer.ui.graph_viewer import default_dot\n"
        "a = analyse(resolve('resnet20'))\n"
        "svg = cached_layout(default_dot(a.graph), 'svg')\n"
        "print(json.dumps({'keras': 'keras' in sys.modules, 'model': a.model is not None,\n"
        "                  'params': a.graph.total_params, 'svg': hashlib.sha256(svg).hexdigest()}))\n"
    )
    got = _run(code, {diskcache.ENV: str(cache)})
    assert got == {"keras": False, "model": False, "params": graph.total_params,
                   "svg": __import__("hashlib").sha256(drawing).hexdigest()}


@pytest.mark.skipif(not have_dot(), reason="graphviz is not installed")
def test_the_warm_up_reads_the_cache_before_it_imports_keras(cache):
    analysis._load_or_build(resolve("resnet20"))  # the cache of an earlier server
    code = (
        "import json\n"
        "import explorer\n"
        "from explorer.ui import warmup\n"
        "warmup.warm(['resnet20', 'mnist-cnn'])\n"
        "print(json.dumps({'order': list(warmup.timings), 'from_disk': warmup.from_disk}))\n"
    )
    got = _run(code, {diskcache.ENV: str(cache)})
    # resnet20 from disk first, then the pages' libraries, Keras, and mnist-cnn built (and now written)
    assert got == {"order": ["resnet20", "imports", "keras", "mnist-cnn"], "from_disk": ["resnet20"]}
    assert analysis._load_or_build(resolve("mnist-cnn")).model is None


def _damage(path: Path, how: str) -> None:
    blob = path.read_bytes()
    if how == "truncated":
        path.write_bytes(blob[: len(blob) // 2])
    elif how == "empty":
        path.write_bytes(b"")
    elif how == "flipped":  # one byte changed in the payload: the checksum catches it
        i = len(blob) - 10
        path.write_bytes(blob[:i] + bytes([blob[i] ^ 0xFF]) + blob[i + 1:])


@pytest.mark.parametrize("how", ["truncated", "empty", "flipped", "not a pickle", "another object"])
def test_a_damaged_entry_is_rebuilt_and_rewritten_quietly(cache, how, capfd):
    spec = resolve("mnist-cnn")
    good = analysis._load_or_build(spec).graph
    key, salt = analysis.disk_key(spec), analysis._disk_salt()
    (path,) = _entries(cache)
    if how == "not a pickle":
        assert diskcache.put("analysis", key, b"\x80\x05garbage", salt)
    elif how == "another object":
        assert diskcache.save("analysis", key, ["a list, not an entry"], salt)
    else:
        _damage(path, how)
    again = analysis._load_or_build(spec)
    assert again.model is not None and again.graph == good  # rebuilt
    entry = diskcache.load("analysis", key, salt)  # and rewritten whole
    assert entry["graph"] == good
    out, err = capfd.readouterr()
    assert "Traceback" not in out + err


def test_an_unusable_cache_folder_is_a_miss_not_an_error(tmp_path, monkeypatch):
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    monkeypatch.setenv(diskcache.ENV, str(blocker))
    assert diskcache.put("layout", "k", b"data") is False
    assert diskcache.get("layout", "k") is None
    assert analysis._load_or_build(resolve("mnist-cnn")).graph.total_params > 0


def test_a_code_change_starts_a_new_folder(tmp_path):
    copy = tmp_path / "src"
    shutil.copytree(ROOT / "explorer", copy / "explorer", ignore=shutil.ignore_patterns("__pycache__"))
    code = ("import json\nfrom explorer import diskcache\n"
            "print(json.dumps(str(diskcache.folder('analysis', base=diskcache.Path('/c')))))")
    env = {"PYTHONPATH": str(copy)}
    before = _run(code, env, cwd=tmp_path)
    assert before == _run(code, env, cwd=tmp_path)  # stable
    with open(copy / "explorer" / "fmt.py", "a") as f:
        f.write("\n# a change\n")
    after = _run(code, env, cwd=tmp_path)
    assert after != before and after.startswith("/c/analysis-")


def test_stale_version_folders_are_removed_on_first_use(cache, monkeypatch):
    monkeypatch.setattr(diskcache, "_cleaned", set())  # a process that has not used the cache yet
    stale = cache / "analysis-0123456789abcdef0123"
    other_kind = cache / "layout-0123456789abcdef0123"
    for folder in (stale, other_kind):
        folder.mkdir(parents=True)
        (folder / "entry").write_bytes(b"old")
    assert diskcache.put("analysis", "k", b"new")
    assert not stale.exists() and other_kind.exists()
    assert {p.parent.name for p in _entries(cache)} == {other_kind.name, diskcache.folder("analysis").name}


@pytest.mark.parametrize("value", ["off", "none", "0", "OFF"])
def test_the_cache_turned_off_writes_nothing(tmp_path, monkeypatch, value):
    monkeypatch.setenv(diskcache.ENV, value)
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert diskcache.root() is None
    spec = resolve("mnist-cnn")
    assert analysis._load_or_build(spec).model is not None
    assert analysis._load_or_build(spec).model is not None  # built again: nothing was kept
    assert diskcache.put("layout", "k", b"data") is False and diskcache.get("layout", "k") is None
    written = [p for p in tmp_path.rglob("*") if "architecture-explorer" in str(p)
               or p.name.startswith(("analysis-", "layout-"))]
    assert written == []


def test_the_default_folder_follows_xdg_then_home(monkeypatch, tmp_path):
    monkeypatch.delenv(diskcache.ENV, raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert diskcache.root() == tmp_path / "xdg" / "architecture-explorer"
    monkeypatch.delenv("XDG_CACHE_HOME")
    monkeypatch.setenv("HOME", str(tmp_path))
    assert diskcache.root() == tmp_path / ".cache" / "architecture-explorer"


def test_code_from_a_disk_hit_is_the_code_from_a_fresh_build(cache):
    from explorer.codegen import generate

    spec = resolve("cnn", overrides={"filters": 5, "conv_layers": 2})  # analysed by no other test
    fresh = generate.__wrapped__(spec)  # analyse builds it (and writes the disk)
    analysis._memo.cache_clear()  # a restarted process: memory empty, the disk filled
    a = analysis.analyse(spec)
    assert a.model is None
    assert generate.__wrapped__(spec) == fresh
    assert a.model is not None and analysis.analyse(spec) is a  # built once, on demand, kept


def test_concurrent_writers_leave_a_whole_entry(cache):
    payloads = [bytes([i]) * (1000 + 50_000 * i) for i in range(4)]
    seen: list[bytes | None] = []
    stored: list[bool] = []
    barrier = threading.Barrier(len(payloads) + 1)

    def writer(data: bytes) -> None:
        barrier.wait()
        for _ in range(30):
            stored.append(diskcache.put("layout", "same key", data))

    def reader() -> None:
        barrier.wait()
        for _ in range(200):
            seen.append(diskcache.get("layout", "same key"))

    threads = [threading.Thread(target=writer, args=(p,)) for p in payloads] + [threading.Thread(target=reader)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    assert len(stored) == 120 and all(stored)
    assert len(seen) == 200 and all(s is None or s in payloads for s in seen)  # never a partial entry
    assert diskcache.get("layout", "same key") in payloads
    assert len(_entries(cache)) == 1  # no temporary file left behind


def test_concurrent_processes_write_one_readable_analysis(cache):
    code = ("import json\nimport explorer\nfrom explorer import analysis\nfrom explorer.builders import resolve\n"
            "print(json.dumps(analysis._load_or_build(resolve('resnet20')).graph.total_params))")
    env = {**os.environ, diskcache.ENV: str(cache)}
    procs = [subprocess.Popen([sys.executable, "-c", code], cwd=ROOT, env=env, stdout=subprocess.PIPE, text=True)
             for _ in range(2)]
    outs = [p.communicate(timeout=300)[0] for p in procs]
    assert all(p.returncode == 0 for p in procs)
    hit = analysis._load_or_build(resolve("resnet20"))
    assert hit.model is None and {json.loads(o) for o in outs} == {hit.graph.total_params}


def test_the_cache_keeps_within_its_bounds(cache, monkeypatch):
    for i in range(12):
        assert diskcache.put("layout", f"k{i}", b"x" * 100)
        path = diskcache.folder("layout") / diskcache.key_of(f"k{i}")
        os.utime(path, (1_000_000 + i, 1_000_000 + i))  # written in this order, long ago
    assert diskcache.get("layout", "k3") == b"x" * 100  # read now: recently used
    monkeypatch.setattr(diskcache, "MAX_ENTRIES", 5)
    assert diskcache.put("layout", "k12", b"x" * 100)
    kept = sorted(int(k[1:]) for k in (f"k{i}" for i in range(13)) if diskcache.get("layout", k) is not None)
    assert kept == [3, 9, 10, 11, 12]  # the least recently used went first

    monkeypatch.setattr(diskcache, "MAX_ENTRIES", 1000)
    monkeypatch.setattr(diskcache, "MAX_BYTES", 2500)
    for i in range(10):
        assert diskcache.put("layout", f"big{i}", b"y" * 1000)
    assert sum(p.stat().st_size for p in _entries(cache)) <= 2500
    assert diskcache.get("layout", "big9") == b"y" * 1000


def test_a_cli_command_on_an_architecture_seen_before_imports_no_keras(cache):
    code = ("import json, sys\nfrom explorer.cli import main\nmain(['summary', 'resnet20', '--json'])\n"
            "print(json.dumps('keras' in sys.modules))")

    def summary() -> tuple[dict, bool]:
        proc = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=300,
                              env={**os.environ, diskcache.ENV: str(cache)})
        assert proc.returncode == 0, proc.stderr[-2000:]
        *body, loaded = proc.stdout.strip().splitlines()
        return json.loads("\n".join(body)), json.loads(loaded)

    first, second = summary(), summary()
    assert first[1] is True and second[1] is False  # built once, then read
    assert first[0] == second[0]


def test_entries_are_read_only_from_a_folder_no_one_else_may_write(cache):
    spec = resolve("mnist-cnn")
    analysis._load_or_build(spec)
    here = diskcache.folder("analysis", analysis._disk_salt())
    assert here.stat().st_mode & 0o777 == 0o700
    assert analysis._load_or_build(spec).model is None  # a hit
    here.chmod(0o777)
    assert diskcache.load("analysis", analysis.disk_key(spec), analysis._disk_salt()) is None
    assert diskcache.get("analysis", analysis.disk_key(spec), analysis._disk_salt()) is None
    assert analysis._load_or_build(spec).model is not None  # built, not unpickled


def test_the_clear_session_guard_waits_for_keras_and_is_on_before_the_first_build():
    """app.py installs the guard on every run; a session served from the disk cache imports no Keras for it."""
    code = (
        "import json, sys\n"
        "import explorer\n"
        "from explorer import keras_compat\n"
        "keras_compat.guard_clear_session()\n"
        "before = 'keras' in sys.modules\n"
        "from explorer.builders import build_model, resolve\n"
        "build_model(resolve('mnist-cnn'), weights=False)\n"
        "import keras\n"
        "print(json.dumps([before, getattr(keras.backend.clear_session, '__explorer_guarded__', False)]))\n"
    )
    assert _run(code, {}) == [False, True]


def test_two_spellings_of_one_config_share_one_entry(cache):
    from explorer.spec import Spec

    as_preset, as_builder = Spec("ynet", "ynet"), resolve("ynet")  # ?preset=ynet, and `summary ynet`
    assert as_preset != as_builder and as_preset.config == as_builder.config
    built = analysis._load_or_build(as_builder)
    hit = analysis._load_or_build(as_preset)
    assert hit.model is None and hit.graph == built.graph and len(_entries(cache)) == 1
    assert hit.label == as_preset.label
