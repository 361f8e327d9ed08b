"""Classroom load: N sessions open the Build page at once, each on another preset.

Starts ``streamlit run app.py`` on a free loopback port and opens N sessions at the same moment
(bounded: N sessions, one page each, a time limit), measuring for each the time until its page
shows the preset's parameter count. Two kinds of client:

* ``ws`` (default): Streamlit websocket clients speaking the app's own protocol (protobuf
  BackMsg/ForwardMsg): a session is ready when the script run finishes with the right metric and
  no exception element. Measures the server, as thirty laptops would load it.
* ``browser``: N Playwright contexts in one Debian Chromium. On this 2-core machine the thirty
  tabs' rendering dominates, so this measures the browser more than the server.

Prints p50/p95/max ready times, how many sessions rendered, the server's peak memory (VmHWM from
/proc) and its CPU time. Loopback only.

Usage: python benchmarks/load.py [--sessions 30] [--clients ws|browser] [--preset NAME] [--timeout 300]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import explorer  # noqa: E402, F401
from explorer.analysis import analyse  # noqa: E402
from explorer.builders import PRESETS, resolve  # noqa: E402
from tests.conftest import ARTIFACTS, CHROMIUM, CHROMIUM_ARGS, streamlit_server  # noqa: E402


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


async def one_session(browser, url: str, preset: str, expected: str, timeout: float) -> tuple[str, float | None, str]:
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
    from streamlit.proto.BackMsg_pb2 import BackMsg
    from streamlit.proto.ClientState_pb2 import ClientState
    from streamlit.proto.ForwardMsg_pb2 import ForwardMsg

    t0 = time.perf_counter()
    metrics, exceptions, first_error = [], 0, ""
    try:
        async with websockets.connect(url.replace("http", "ws", 1) + "/_stcore/stream", subprotocols=["streamlit"],
                                      max_size=None, open_timeout=timeout, ping_interval=None) as ws:
            await ws.send(BackMsg(rerun_script=ClientState(query_string=f"preset={preset}", page_name="build"))
                          .SerializeToString())
            while True:
                msg = ForwardMsg()
                msg.ParseFromString(await asyncio.wait_for(ws.recv(), timeout))
                kind = msg.WhichOneof("type")
                if kind == "delta" and msg.delta.WhichOneof("type") == "new_element":
                    element = msg.delta.new_element
                    if element.WhichOneof("type") == "metric":
                        metrics.append(element.metric.body)
                    if element.WhichOneof("type") == "exception":
                        exceptions += 1
                        first_error = first_error or element.exception.message[:200]
                if kind == "script_finished":
                    break
    except Exception as exc:  # a timeout or a dropped socket is a result here
        return preset, None, f"{type(exc).__name__}: {exc}"[:200]
    ready = time.perf_counter() - t0
    if exceptions:
        return preset, ready, f"exception: {first_error}"
    return preset, ready, "ok" if expected in metrics else f"wrong page {metrics[:1]}"


async def run(sessions: int, timeout: float, clients: str = "ws", preset: str | None = None) -> None:
    names = [preset or list(PRESETS)[i % len(PRESETS)] for i in range(sessions)]
    expected = {n: f"{analyse(resolve(n)).graph.total_params:,}" for n in set(names)}
    with streamlit_server() as url:
        from tests.conftest import _last_server_pid

        pid = _last_server_pid()
        base = peak_rss_mb(pid)
        t0 = time.perf_counter()
        if clients == "ws":
            results = await asyncio.gather(*(ws_session(url, n, expected[n], timeout) for n in names))
        else:
            from playwright.async_api import async_playwright

            async with async_playwright() as pw:
                browser = await pw.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
                results = await asyncio.gather(*(one_session(browser, url, n, expected[n], timeout) for n in names))
                await browser.close()
        wall = time.perf_counter() - t0
        peak = peak_rss_mb(pid)
        server_cpu = cpu_seconds(pid)
    times = sorted(r[1] for r in results if r[1] is not None)
    ok = sum(1 for r in results if r[2] == "ok")
    print(f"{sessions} {clients} sessions at once, {len(set(names))} different presets, wall {wall:.1f} s")
    print(f"rendered: {ok}/{sessions}; failures: {[r for r in results if r[2] != 'ok']}")
    if times:
        p95 = times[min(len(times) - 1, round(0.95 * (len(times) - 1)))]
        print(f"page ready: p50 {statistics.median(times):.1f} s, p95 {p95:.1f} s, max {times[-1]:.1f} s")
    print(f"server memory: {base:.0f} MB after start, peak {peak:.0f} MB; server CPU {server_cpu:.0f} s "
          f"of {wall:.0f} s wall on {os.cpu_count()} cores")


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--sessions", type=int, default=30)
    p.add_argument("--clients", choices=("ws", "browser"), default="ws")
    p.add_argument("--timeout", type=float, default=300.0)
    p.add_argument("--preset", help="every session opens this preset (a class on one model); default: all presets")
    a = p.parse_args()
    asyncio.run(run(a.sessions, a.timeout, a.clients, a.preset))


if __name__ == "__main__":
    main()
