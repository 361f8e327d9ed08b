"""Shared fixtures: analysed presets (cached), a running Streamlit server, a Chromium browser.

Browser tests are marked ``browser``; they skip when Chromium is missing, except under CI
(``CI=true``), where a missing browser is a failure.
"""

from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

import explorer  # noqa: F401  (analysis backend before Keras loads)

ROOT = Path(__file__).resolve().parent.parent
ARTIFACTS = ROOT / "test-artifacts"
CHROMIUM = os.environ.get("EXPLORER_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-quic",
    "--no-first-run", "--disable-component-update", "--disable-sync", "--disable-dev-shm-usage",
]


def pytest_configure(config) -> None:
    """A disk cache (:mod:`explorer.diskcache`) of this session's own: tests never read or fill
    ``~/.cache``, and never see an entry an earlier session left (servers started here inherit it)."""
    import tempfile

    config._explorer_cache = tempfile.mkdtemp(prefix="explorer-cache-tests-")
    os.environ["EXPLORER_CACHE_DIR"] = config._explorer_cache


def pytest_unconfigure(config) -> None:
    import shutil

    folder = getattr(config, "_explorer_cache", None)
    if folder:
        shutil.rmtree(folder, ignore_errors=True)


def free_port() -> int:
    """A free TCP port on the loopback interface."""
    with contextlib.closing(socket.socket(socket.AF_INET, socket.SOCK_STREAM)) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_healthy(url: str, proc: subprocess.Popen, timeout: float = 120) -> None:
    """Wait for Streamlit's health endpoint, failing early if the server died."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"streamlit exited with {proc.returncode}")
        with contextlib.suppress(OSError):
            with urllib.request.urlopen(f"{url}/_stcore/health", timeout=2) as r:
                if r.status == 200:
                    return
        time.sleep(0.3)
    raise TimeoutError("streamlit did not become healthy")


_SERVERS: list[int] = []


def _last_server_pid() -> int:
    """PID of the most recently started Streamlit server (for memory readings)."""
    return _SERVERS[-1]


@contextlib.contextmanager
def streamlit_server(env: dict[str, str] | None = None, command: list[str] | None = None):
    """Start ``streamlit run app.py`` on a free loopback port; yield its base URL.

    Args:
        env: extra environment variables.
        command: the command before the server options (default ``python -m streamlit run app.py``;
            the benchmarks also start ``python -m explorer.serve``, the served app).
    """
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    ARTIFACTS.mkdir(exist_ok=True)
    log = open(ARTIFACTS / f"streamlit-{port}.log", "w")
    command = command or [sys.executable, "-m", "streamlit", "run", "app.py"]
    proc = subprocess.Popen(
        [*command, "--server.headless", "true",
         "--server.port", str(port), "--server.address", "127.0.0.1", "--browser.gatherUsageStats", "false"],
        cwd=ROOT, stdout=log, stderr=subprocess.STDOUT, env={**os.environ, **(env or {})},
    )
    _SERVERS.append(proc.pid)
    try:
        wait_healthy(url, proc)
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
        log.close()


@pytest.fixture(scope="session")
def artifacts() -> Path:
    """Folder for screenshots and logs (``test-artifacts/``)."""
    ARTIFACTS.mkdir(exist_ok=True)
    return ARTIFACTS


@pytest.fixture(scope="session")
def app_url(artifacts):
    """Base URL of a Streamlit server running the app for the whole test session."""
    with streamlit_server(env={"EXPLORER_STORE": str(artifacts / "browser-runs.sqlite")}) as url:
        yield url


@pytest.fixture(scope="session")
def browser():
    """A headless Debian Chromium driven by Playwright."""
    if not Path(CHROMIUM).exists():
        if os.environ.get("CI"):
            pytest.fail(f"Chromium not found at {CHROMIUM}; CI must install it (apt-get install chromium)")
        pytest.skip("Chromium is not installed")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        b = pw.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        yield b
        b.close()


@pytest.fixture
def open_page(browser):
    """Opens fresh browser pages, each in a context of its own: ``open_page(1400, 900)``.

    The contexts close after the test.
    """
    contexts = []

    def open_(width: int = 1280, height: int = 800):
        contexts.append(browser.new_context(viewport={"width": width, "height": height}))
        return contexts[-1].new_page()

    yield open_
    for ctx in contexts:
        ctx.close()


@pytest.fixture
def page(open_page):
    """A fresh browser page (1280x800)."""
    return open_page()


def no_exception(page) -> None:
    """Assert that the page shows no exception box (its text is the message when it does)."""
    boxes = page.locator("[data-testid='stException']")
    assert boxes.count() == 0, boxes.first.inner_text()


def wait_warmed(url: str, timeout: float = 600.0) -> float:
    """Wait for the served server's warm-up to finish (its log line); seconds waited."""
    log = ARTIFACTS / f"streamlit-{url.rsplit(':', 1)[1]}.log"
    t0 = time.monotonic()
    while "explorer warm-up done" not in log.read_text(errors="replace"):
        if time.monotonic() - t0 > timeout:
            raise TimeoutError(f"no warm-up line in {log} after {timeout:.0f} s")
        time.sleep(0.2)
    return time.monotonic() - t0


def wait_app_idle(page, timeout: float = 60_000) -> None:
    """Wait until Streamlit has finished running the script (no running indicator)."""
    page.wait_for_selector("[data-testid='stApp']", timeout=timeout)
    page.wait_for_function(
        "() => !document.querySelector('[data-testid=\"stStatusWidget\"]')",
        timeout=timeout,
    )


def advance_until(sched, check, what: str, seconds: float = 240.0, poll: float = 0.1):
    """Advance a scheduler until ``check()`` returns something truthy; return it.

    Args:
        sched: the :class:`~explorer.training.scheduler.Scheduler` that moves the queue.
        check: the condition (returns the value to hand back, or something falsy).
        what: what is awaited, for the timeout's message.
        seconds: a generous bound (a busy machine can hold a worker for a while).
        poll: seconds between checks.
    """
    import time

    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        sched.advance()
        got = check()
        if got:
            return got
        time.sleep(poll)
    raise AssertionError(f"timed out waiting for {what}")
