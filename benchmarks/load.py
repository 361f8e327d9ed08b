"""Classroom load: N students open the Build page at once, on a fresh and on a warm server.

Starts the app on a free loopback port and opens sessions at the same moment (bounded: N
sessions, one page each, a time limit), measuring for each the time until its page is done.
Sessions are Streamlit websocket clients speaking the app's own protocol (protobuf
BackMsg/ForwardMsg): a session is ready when its script run finishes with the right parameter
count and no exception element, so this measures the server as thirty laptops load it
(``--clients browser`` opens Chromium tabs instead; on 2 cores the tabs then dominate).

Two servers are compared in the same run, each case on a freshly started server, measured from
the moment its health check answers:

* ``before``: ``streamlit run app.py`` with the file watcher on (``fileWatcherType=auto``, the
  default before issue 11) and no warm-up;
* ``served``: ``python -m explorer.serve``, the README's run command (no file watcher, the
  caches warmed in the background from start).

Cases: ``fresh`` (30 sessions on one preset, right after the health check), ``warm`` (30 more
on the same server once warm), ``warm100`` (100 more), ``mix`` (30 sessions on the 24 presets,
on another fresh server right after its health check), ``mixwarm`` (the same 30 again on that
server once warm). "Warm" is: after the served server's warm-up has ended (its log line), or
after a first round for the ``before`` server. For each: p50/p95/max ready time, sessions rendered, server CPU seconds per
session (user+system of the server and its graphviz children, during the case), and the
machine's 1-minute load average at the end of the case (on a shared machine, wall times grow with
it; CPU per session does not).

``--cache`` picks the servers' disk cache (:mod:`explorer.diskcache`): ``cold`` (default) gives
each server an empty cache folder of its own (the first start ever), ``warm`` one that a
previous served server filled with its warm-up (a restart: the analyses and layouts of every
preset are on disk), ``both`` runs every server both ways and prints each against the first.

Usage: python benchmarks/load.py [--servers before,served] [--cases fresh,warm,warm100,mix,mixwarm]
                                 [--sessions 30] [--preset resnet56] [--clients ws|browser]
                                 [--cache cold|warm|both]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import explorer  # noqa: E402, F401
from explorer.analysis import analyse  # noqa: E402
from explorer.builders import PRESETS, resolve  # noqa: E402
from tests.conftest import ARTIFACTS, CHROMIUM, CHROMIUM_ARGS, streamlit_server, wait_warmed  # noqa: E402

SERVERS = {
    "before": ([sys.executable, "-m", "streamlit", "run", "app.py", "--server.fileWatcherType", "auto"],
               {"EXPLORER_WARMUP": "none"}),
    "served": ([sys.executable, "-m", "explorer.serve"], {}),
}
GOALS = {"fresh": 5.0, "warm": 1.5, "warm100": 5.0, "mix": 8.0, "mixwarm": 8.0}  # p95 seconds, 2 cores


def cpu_seconds(pid: int) -> float:
    """User + system CPU time a process (and its waited-for children) used so far."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    ticks = sum(int(x) for x in fields[11:15])  # utime, stime, cutime, cstime
    return ticks / os.sysconf("SC_CLK_TCK")


def peak_rss_mb(pid: int) -> float:
    """Peak resident memory of a process (VmHWM), in MB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


async def browser_session(browser, url: str, preset: str, expected: str, timeout: float) -> tuple[str, float | None, str]:
    """One Chromium tab on the Build page of ``preset``."""
    ctx = await browser.new_context(viewport={"width": 1280, "height": 800})
    page = await ctx.new_page()
    t0 = time.perf_counter()
    try:
        await page.goto(f"{url}/build?preset={preset}", timeout=timeout * 1000)
        await page.get_by_text(expected).first.wait_for(timeout=timeout * 1000)
        ready = time.perf_counter() - t0
        errors = await page.locator("[data-testid='stException']").count()
        return preset, ready, "exception" if errors else "ok"
    except Exception as exc:  # a timeout is a result here, not a crash
        with contextlib.suppress(Exception):
            ARTIFACTS.mkdir(exist_ok=True)
            await page.screenshot(path=str(ARTIFACTS / f"load-failed-{preset}.png"))
        return preset, None, type(exc).__name__
    finally:
        await ctx.close()


async def ws_session(url: str, preset: str, expected: str, timeout: float) -> tuple[str, float | None, str]:
    """One Streamlit websocket session: run the Build page for ``preset`` and wait for its end."""
    import websockets
    from streamlit.components.v2.bidi_component.main import _make_trigger_id
    from streamlit.proto.BackMsg_pb2 import BackMsg
    from streamlit.proto.ClientState_pb2 import ClientState
    from streamlit.proto.ForwardMsg_pb2 import ForwardMsg
    from streamlit.proto.WidgetStates_pb2 import WidgetState, WidgetStates

    t0 = time.perf_counter()
    metrics, exceptions, first_error = [], 0, ""
    try:
        async with websockets.connect(url.replace("http", "ws", 1) + "/_stcore/stream", subprotocols=["streamlit"],
                                      max_size=None, open_timeout=timeout, ping_interval=None) as ws:
            await ws.send(BackMsg(rerun_script=ClientState(query_string=f"preset={preset}", page_name="build"))
                          .SerializeToString())
            viewer, answered = None, False
            while True:
                msg = ForwardMsg()
                msg.ParseFromString(await asyncio.wait_for(ws.recv(), timeout))
                kind = msg.WhichOneof("type")
                if kind == "delta" and msg.delta.WhichOneof("type") == "new_element":
                    element = msg.delta.new_element
                    if element.WhichOneof("type") == "metric":
                        metrics.append(element.metric.body)
                    if element.WhichOneof("type") == "bidi_component":
                        viewer = element.bidi_component.id
                    if element.WhichOneof("type") == "exception":
                        exceptions += 1
                        first_error = first_error or element.exception.message[:200]
                if kind == "script_finished":
                    if metrics or exceptions or viewer is None or answered:
                        break
                    # The graph-first pass (explorer.ui.graph_viewer.graph_first): a browser reports
                    # its drawing on screen, and the whole page runs. Do as the browser does.
                    answered = True
                    drawn = WidgetState(id=_make_trigger_id(viewer, "events"),
                                        json_trigger_value='[{"event": "drawn", "value": "load"}]')
                    await ws.send(BackMsg(rerun_script=ClientState(
                        query_string=f"preset={preset}", page_name="build",
                        widget_states=WidgetStates(widgets=[drawn]))).SerializeToString())
    except Exception as exc:  # a timeout or a dropped socket is a result here
        return preset, None, f"{type(exc).__name__}: {exc}"[:200]
    ready = time.perf_counter() - t0
    if exceptions:
        return preset, ready, f"exception: {first_error}"
    return preset, ready, "ok" if expected in metrics else f"wrong page {metrics[:1]}"


def p95(times: list[float]) -> float:
    """The 95th percentile (nearest rank) of sorted times."""
    return times[min(len(times) - 1, round(0.95 * (len(times) - 1)))]


async def batch(url: str, pid: int, names: list[str], expected: dict[str, str], timeout: float,
                clients: str) -> dict:
    """Open one session per name at once; the figures of the batch."""
    cpu0, t0 = cpu_seconds(pid), time.perf_counter()
    if clients == "ws":
        results = await asyncio.gather(*(ws_session(url, n, expected[n], timeout) for n in names))
    else:
        from playwright.async_api import async_playwright

        async with async_playwright() as pw:
            browser = await pw.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
            results = await asyncio.gather(*(browser_session(browser, url, n, expected[n], timeout) for n in names))
            await browser.close()
    wall, cpu = time.perf_counter() - t0, cpu_seconds(pid) - cpu0
    load = os.getloadavg()[0]  # the machine's 1-minute load: other work shares the cores
    times = sorted(r[1] for r in results if r[1] is not None)
    return {
        "sessions": len(names), "presets": len(set(names)), "ok": sum(r[2] == "ok" for r in results),
        "failures": [r for r in results if r[2] != "ok"][:3], "wall": wall, "cpu": cpu,
        "p50": statistics.median(times) if times else float("nan"),
        "p95": p95(times) if times else float("nan"), "max": times[-1] if times else float("nan"),
        "load": load,
    }


def serve(kind: str, cache_dir: Path | None = None):
    """A freshly started server of ``kind`` (see :data:`SERVERS`) whose disk cache is ``cache_dir``
    (None: the environment's)."""
    command, env = SERVERS[kind]
    if cache_dir is not None:
        env = {**env, "EXPLORER_CACHE_DIR": str(cache_dir)}
    return streamlit_server(env=env, command=command)


def fill_cache(cache_dir: Path) -> float:
    """Start a served server on ``cache_dir`` and let its warm-up fill it (every preset); seconds."""
    t0 = time.monotonic()
    command, env = SERVERS["served"]
    with streamlit_server(env={**env, "EXPLORER_CACHE_DIR": str(cache_dir), "EXPLORER_WARMUP": "all"},
                          command=command) as url:
        wait_warmed(url)
    return time.monotonic() - t0


async def run_server(kind: str, cases: list[str], sessions: int, preset: str, timeout: float,
                     clients: str, cache: str, cache_root: Path) -> dict[str, dict]:
    """Run the cases on fresh servers of ``kind``; the figures per case.

    ``cache``: ``cold`` gives each server a new empty cache folder under ``cache_root``; ``warm``
    gives every server the folder ``cache_root/filled``, filled first by a served server's warm-up.
    """
    count = iter(range(1_000_000))

    def cache_dir() -> Path:
        if cache == "warm":
            return cache_root / "filled"
        folder = cache_root / f"cold-{kind}-{next(count)}"
        shutil.rmtree(folder, ignore_errors=True)
        return folder

    if cache == "warm" and not (cache_root / "filled").exists():
        print(f"filling the disk cache: {fill_cache(cache_root / 'filled'):.0f} s", file=sys.stderr)
    return await _run_cases(kind, cases, sessions, preset, timeout, clients, cache_dir)


async def _run_cases(kind: str, cases: list[str], sessions: int, preset: str, timeout: float,
                     clients: str, cache_dir) -> dict[str, dict]:
    """Run the cases on fresh servers of ``kind``; the figures per case."""
    from tests.conftest import _last_server_pid

    mix = [list(PRESETS)[i % len(PRESETS)] for i in range(sessions)]
    expected = {n: f"{analyse(resolve(n)).graph.total_params:,}" for n in {preset, *mix}}
    out: dict[str, dict] = {}
    one = [c for c in ("fresh", "warm", "warm100") if c in cases]
    if one:
        with serve(kind, cache_dir()) as url:
            pid = _last_server_pid()
            for case in one:
                n = 100 if case == "warm100" else sessions
                if case != "fresh" and kind == "served":  # warm: the background warm-up has ended
                    wait_warmed(url)
                if case != "fresh" and "fresh" not in out:  # a warm case on its own: warm it first
                    await batch(url, pid, [preset], expected, timeout, clients)
                out[case] = await batch(url, pid, [preset] * n, expected, timeout, clients)
                out[case]["peak_mb"] = peak_rss_mb(pid)
    if "mix" in cases or "mixwarm" in cases:
        with serve(kind, cache_dir()) as url:
            pid = _last_server_pid()
            for case in [c for c in ("mix", "mixwarm") if c in cases]:
                if case == "mixwarm":
                    if kind == "served":
                        wait_warmed(url)
                    elif "mix" not in out:
                        await batch(url, pid, mix, expected, timeout, clients)
                out[case] = await batch(url, pid, mix, expected, timeout, clients)
                out[case]["peak_mb"] = peak_rss_mb(pid)
    return out


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--servers", default="before,served", help="comma-separated: before, served")
    p.add_argument("--cases", default="fresh,warm,warm100,mix,mixwarm",
                   help="comma-separated: fresh, warm, warm100, mix, mixwarm")
    p.add_argument("--sessions", type=int, default=30)
    p.add_argument("--preset", default="resnet56", help="the preset of the one-preset cases")
    p.add_argument("--clients", choices=("ws", "browser"), default="ws")
    p.add_argument("--cache", choices=("cold", "warm", "both"), default="cold",
                   help="the servers' disk cache: empty (cold), filled by an earlier server (warm), or both")
    p.add_argument("--timeout", type=float, default=300.0)
    a = p.parse_args()
    servers = [s for s in a.servers.split(",") if s]
    cases = [c for c in a.cases.split(",") if c]
    caches = ["cold", "warm"] if a.cache == "both" else [a.cache]
    runs = [(kind, cache) for kind in servers for cache in caches]
    label = {r: r[0] if len(caches) == 1 else f"{r[0]}/{r[1]}" for r in runs}
    results = {}
    cache_root = Path(tempfile.mkdtemp(prefix="explorer-load-cache-"))
    try:
        for run in runs:
            results[run] = asyncio.run(run_server(run[0], cases, a.sessions, a.preset, a.timeout, a.clients,
                                                  run[1], cache_root))
    finally:
        shutil.rmtree(cache_root, ignore_errors=True)
    print(f"\n{a.clients} sessions on the Build page, {os.cpu_count()} cores; one preset: {a.preset}; "
          f"mix: {a.sessions} sessions on {min(a.sessions, len(PRESETS))} presets; disk cache: {a.cache}")
    width = max(7, *(len(v) for v in label.values()))
    print(f"{'case':<9} {'server':<{width}} {'sessions':>8} {'ok':>4} {'p50 s':>6} {'p95 s':>6} {'max s':>6} "
          f"{'CPU s/session':>13} {'peak MB':>8} {'load':>5}  goal p95")
    for case in cases:
        for run in runs:
            r = results[run].get(case)
            if not r:
                continue
            print(f"{case:<9} {label[run]:<{width}} {r['sessions']:>8} {r['ok']:>4} {r['p50']:>6.1f} {r['p95']:>6.1f} "
                  f"{r['max']:>6.1f} {r['cpu'] / r['sessions']:>13.2f} {r['peak_mb']:>8.0f} {r['load']:>5.1f}  "
                  f"<= {GOALS[case]:g}")
            if r["failures"]:
                print(f"          failures: {r['failures']}")
        base = runs[0]
        for run in runs[1:]:  # each run against the first, measured in this same invocation
            if case in results[base] and case in results[run]:
                b, s = results[base][case], results[run][case]
                print(f"{'':<9} {'ratio':<{width}} {label[run]} vs {label[base]}: p95 {b['p95'] / s['p95']:.1f}x "
                      f"faster, CPU/session {b['cpu'] / max(s['cpu'], 1e-9):.1f}x less")


if __name__ == "__main__":
    main()
