"""Serving a class: one analysis per configuration under concurrency, the warm-up, the served config.

The load figures themselves are in ``benchmarks/load.py``; these tests check the mechanisms
that make them hold: they could fail if a change brought back thirty builds for thirty
sessions, a warm-up that warms nothing, or the file watcher.
"""

from __future__ import annotations

import os
import sys
import threading
import time
import urllib.request
from pathlib import Path

import pytest

import explorer  # noqa: F401  (analysis backend before Keras loads)
from explorer import analysis
from explorer.builders import resolve
from explorer.render import have_dot, to_dot
from explorer.spec import Spec
from explorer.ui import graph_viewer, warmup
from tests.conftest import ARTIFACTS, ROOT, streamlit_server, wait_app_idle


def test_concurrent_sessions_on_one_config_build_it_once():
    spec = resolve("cnn", overrides={"filters": 7, "conv_layers": 2})  # not analysed by any other test
    misses = analysis._memo.cache_info().misses
    barrier = threading.Barrier(6)
    results = []

    def session() -> None:
        barrier.wait()
        results.append(analysis.analyse(spec))

    threads = [threading.Thread(target=session) for _ in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    assert len(results) == 6 and all(r is results[0] for r in results)
    assert analysis._memo.cache_info().misses == misses + 1  # one build, five waits


def test_the_page_dot_is_drawn_once_per_graph_and_view():
    graph = analysis.analyse(resolve("resnet20")).graph
    options = graph_viewer.default_options(graph)
    first = graph_viewer.page_dot(graph, options)
    assert graph_viewer.page_dot(graph, options) is first
    assert first == to_dot(graph, options, macs=graph_viewer.layer_macs(graph))
    other = graph_viewer.page_dot(graph, options.__class__("layers", "LR", ()))
    assert other != first


@pytest.mark.skipif(not have_dot(), reason="graphviz is not installed")
def test_warm_up_leaves_the_first_page_of_a_preset_ready():
    import gc

    from explorer.render import _cached

    frozen = gc.get_freeze_count()
    try:
        timings = warmup.warm(["ynet"], quiet=0)  # no sessions here to wait for
        # What it keeps (modules, the analysis and its model) is frozen out of later full collections.
        assert gc.get_freeze_count() > frozen
    finally:
        gc.unfreeze()  # this test process is not a server: let the collector see it all again
    assert {"imports", "ynet"} <= set(timings)
    hits = analysis._memo.cache_info().hits
    graph = analysis.analyse(Spec("ynet", "ynet")).graph  # what /build?preset=ynet opens
    assert analysis._memo.cache_info().hits == hits + 1  # analysed already
    layouts = _cached.cache_info()
    graph_viewer.svg(graph_viewer.default_dot(graph))
    assert _cached.cache_info().hits == layouts.hits + 1 and _cached.cache_info().misses == layouts.misses


def test_warm_up_presets_come_from_the_environment(monkeypatch):
    from explorer.builders import PRESETS

    monkeypatch.delenv("EXPLORER_WARMUP", raising=False)
    names = warmup.presets()
    assert names[0] == "mnist-cnn" and sorted(names) == sorted(PRESETS)  # the default first, then all
    monkeypatch.setenv("EXPLORER_WARMUP", "none")
    assert warmup.presets() == []
    monkeypatch.setenv("EXPLORER_WARMUP", "common")
    assert warmup.presets() == list(warmup.COMMON)
    monkeypatch.setenv("EXPLORER_WARMUP", "resnet20, ynet")
    assert warmup.presets() == ["resnet20", "ynet"]


def test_the_served_app_watches_no_files():
    text = (ROOT / ".streamlit" / "config.toml").read_text()
    server = text.split("[server]", 1)[1].split("\n[", 1)[0]  # the [server] table (tomllib needs 3.11)
    settings = dict(line.replace(" ", "").split("=", 1) for line in server.splitlines()
                    if "=" in line and not line.lstrip().startswith("#"))
    assert settings["fileWatcherType"] == '"none"' and settings["runOnSave"] == "false"


def test_the_served_server_answers_its_health_check_then_warms_up():
    """``python -m explorer.serve``: healthy first (the warm-up waits for it), then warm."""
    env = {"EXPLORER_WARMUP": "mnist-cnn"}
    with streamlit_server(env=env, command=[sys.executable, "-m", "explorer.serve"]) as url:
        with urllib.request.urlopen(f"{url}/_stcore/health", timeout=30) as r:
            assert r.status == 200
        log = ARTIFACTS / f"streamlit-{url.rsplit(':', 1)[1]}.log"
        deadline = time.monotonic() + 300  # generous: Keras's import on a busy 2-core machine
        while "explorer warm-up done" not in log.read_text(errors="replace"):
            assert time.monotonic() < deadline, log.read_text(errors="replace")[-2000:]
            time.sleep(0.2)
        line = next(ln for ln in log.read_text().splitlines() if "explorer warm-up done" in ln)
        assert "mnist-cnn" in line and "imports" in line


@pytest.mark.skipif(not have_dot(), reason="graphviz is not installed")
def test_prepare_fills_the_disk_cache_for_the_next_server(tmp_path):
    import subprocess

    env = {**os.environ, "EXPLORER_CACHE_DIR": str(tmp_path / "cache"), "EXPLORER_WARMUP": "ynet,resnet20"}
    cmd = [sys.executable, "-m", "explorer.serve", "--prepare"]
    first = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=600, cwd=Path(__file__).resolve().parent.parent)
    assert first.returncode == 0, first.stderr[-2000:]
    assert "2 presets ready in the disk cache" in first.stdout and "(0 were there already)" in first.stdout
    second = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=600, cwd=Path(__file__).resolve().parent.parent)
    assert second.returncode == 0 and "(2 were there already)" in second.stdout, second.stderr[-2000:]


def _served_page_requests(browser, url: str) -> tuple[list[str], list[str]]:
    """Open ``url`` in a fresh page until its app is running; the HTTP and websocket URLs it asked for."""
    page = browser.new_page()
    requests, sockets = [], []
    page.on("request", lambda r: requests.append(r.url))
    page.on("websocket", lambda ws: sockets.append(ws.url))
    try:
        page.goto(url)
        page.wait_for_selector("[data-testid='stMain'] [data-testid='stElementContainer']", timeout=120_000)
        wait_app_idle(page, 120_000)
    finally:
        page.close()
    return requests, sockets


def test_the_served_app_connects_a_link_to_a_page_without_a_detour(browser):
    """``python -m explorer.serve`` names the app's base in the page (explorer.webserver): a link
    straight to a page asks the server where it is (not ``/build/_stcore/health``, a 404 that made
    Streamlit back off before its second try)."""
    from explorer.ui.nav import PAGE_TABLE

    with streamlit_server(env={"EXPLORER_WARMUP": "none"}, command=[sys.executable, "-m", "explorer.serve"]) as url:
        with urllib.request.urlopen(f"{url}/build?builder=cnn", timeout=30) as r:
            body, headers = r.read(), r.headers
        assert b"BACKEND_BASE_URL" in body and int(headers["Content-Length"]) == len(body)
        assert body.index(b"BACKEND_BASE_URL") < body.index(b"<script type=\"module\"")  # before Streamlit's code
        assert headers["ETag"].endswith('-h"')  # a copy cached without it is not taken for this one
        # Streamlit's own files are passed through untouched.
        with urllib.request.urlopen(f"{url}/_stcore/health", timeout=30) as r:
            assert r.read() == b"ok"
        for path in [row[3] for row in PAGE_TABLE]:  # every page, and the home page at the root
            requests, sockets = _served_page_requests(browser, f"{url}/{path}")
            assert [s for s in sockets if s.endswith("/_stcore/stream")], (path, sockets)
            assert not [r for r in requests if "_stcore" in r and not r.startswith(f"{url}/_stcore/")], (path, requests)


@pytest.mark.parametrize(("path", "base"), [
    ("/build", ""), ("/build/", ""), ("/present", ""), ("/explorer/build", "/explorer"),
    ("/explorer/train", "/explorer"), ("/", None), ("/explorer", None), ("/explorer/notapage", None),
])
def test_the_base_hint_drops_only_a_page_name_from_the_address(browser, path, base):
    """Behind a proxy at ``/explorer`` a page's address is ``/explorer/build``: the base is the rest;
    an address that does not end with a page is left to Streamlit's own search."""
    from explorer.ui.nav import PAGE_TABLE
    from explorer.webserver import hint_script

    page = browser.new_page()
    html = b"<!doctype html><html><head>" + hint_script(row[3] for row in PAGE_TABLE) + b"</head><body></body></html>"
    page.route("http://proxy.test/**", lambda route: route.fulfill(status=200, content_type="text/html", body=html))
    try:
        page.goto(f"http://proxy.test{path}")
        got = page.evaluate("() => window.__streamlit && window.__streamlit.BACKEND_BASE_URL")
    finally:
        page.close()
    assert got == (None if base is None else "http://proxy.test" + base)
