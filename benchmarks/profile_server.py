"""Profile the app server under classroom load: where does its CPU go?

Starts a server (``--server served``: ``python -m explorer.serve``; ``before``: ``streamlit run
app.py`` with the file watcher, no warm-up), attaches py-spy (``pip install py-spy``) to it,
opens N websocket sessions at once on the Build page (``benchmarks/load.py``'s client), then
prints the functions with the most samples (self, and inclusive of what they call) and writes
the raw collapsed stacks to ``test-artifacts/profile-<server>-<case>.txt`` (load them into
speedscope or flamegraph.pl for a picture).

``--gil`` samples only the thread holding the GIL: where the Python CPU goes, rather than which
threads wait for it (without it, waiting threads show up at whatever line they wait on).

``--cache warm`` gives the server a disk cache filled by an earlier served server (a restart);
``cold`` (default) an empty one.

Usage: python benchmarks/profile_server.py [--server served|before] [--case fresh|warm|mix]
                                           [--sessions 30] [--preset resnet56] [--top 25] [--gil]
                                           [--cache cold|warm]
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import shutil
import signal
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import load

from explorer.builders import PRESETS
from tests.conftest import ARTIFACTS, _last_server_pid


def pyspy() -> str:
    exe = shutil.which("py-spy") or str(Path(sys.executable).parent / "py-spy")
    if not Path(exe).exists():
        sys.exit("py-spy is not installed: pip install py-spy (requirements-dev.txt)")
    return exe


def package_of(frame: str) -> str:
    """``keras`` for ``f (keras/src/layers/x.py:10)``; ``<frozen posixpath>`` stays as is."""
    where = frame.rpartition(" (")[2].rstrip(")")
    path = where.rpartition(":")[0]
    if path.startswith("<"):
        return path
    return path.split("/")[0] if "/" in path else path


def summarise(raw: Path, top: int) -> None:
    """Print the hottest functions of py-spy's collapsed stacks (``frame;frame;... count``)."""
    own: collections.Counter[str] = collections.Counter()
    by_package: collections.Counter[str] = collections.Counter()
    ours: collections.Counter[str] = collections.Counter()
    watcher = 0
    total = 0
    for line in raw.read_text().splitlines():
        stack, _, count = line.rpartition(" ")
        if not stack:
            continue
        n = int(count)
        frames = stack.split(";")
        total += n
        own[frames[-1]] += n
        by_package[package_of(frames[-1])] += n
        watcher += n if any("streamlit/watcher/" in f for f in frames) else 0
        for f in {f.rpartition(":")[0] + ")" for f in frames if any(k in f for k in ("(explorer/", "(pages/", "(app.py"))}:
            ours[f] += n  # per function: line numbers dropped
    print(f"{total} samples; under streamlit/watcher/: {100 * watcher / max(total, 1):.1f}%")
    print("\nself, by package:")
    for f, n in by_package.most_common(12):
        print(f"  {100 * n / total:5.1f}%  {f}")
    print("\nself, by function (where the CPU is):")
    for f, n in own.most_common(top):
        print(f"  {100 * n / total:5.1f}%  {f[:150]}")
    print("\ninclusive, the project's own functions (what it is for):")
    for f, n in ours.most_common(top):
        print(f"  {100 * n / total:5.1f}%  {f[:150]}")


def names_for(case: str, sessions: int, preset: str) -> tuple[list[str], dict[str, str]]:
    """The presets the sessions open, and the parameter count each page must show."""
    from explorer.analysis import analyse
    from explorer.builders import resolve

    names = [list(PRESETS)[i % len(PRESETS)] for i in range(sessions)] if case == "mix" else [preset] * sessions
    return names, {n: f"{analyse(resolve(n)).graph.total_params:,}" for n in set(names)}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--server", choices=tuple(load.SERVERS), default="served")
    p.add_argument("--case", choices=("fresh", "warm", "mix"), default="fresh")
    p.add_argument("--sessions", type=int, default=30)
    p.add_argument("--preset", default="resnet56")
    p.add_argument("--rate", type=int, default=50, help="samples per second")
    p.add_argument("--top", type=int, default=25)
    p.add_argument("--gil", action="store_true",
                   help="sample only the thread holding the GIL (where the Python CPU goes, not who waits for it)")
    p.add_argument("--cache", choices=("cold", "warm"), default="cold", help="the server's disk cache: empty or filled")
    a = p.parse_args()
    ARTIFACTS.mkdir(exist_ok=True)
    raw = ARTIFACTS / f"profile-{a.server}-{a.case}.txt"
    names, expected = names_for(a.case, a.sessions, a.preset)
    cache_dir = Path(tempfile.mkdtemp(prefix="explorer-profile-cache-")) / "cache"
    if a.cache == "warm":
        print(f"filling the disk cache: {load.fill_cache(cache_dir):.0f} s", file=sys.stderr)
    try:
        run_profiled(a, raw, names, expected, cache_dir)
    finally:
        shutil.rmtree(cache_dir.parent, ignore_errors=True)


def run_profiled(a: argparse.Namespace, raw: Path, names: list[str], expected: dict[str, str], cache_dir: Path) -> None:
    """Start the server on ``cache_dir``, record it with py-spy during the batch, print the summary."""
    with load.serve(a.server, cache_dir) as url:
        pid = _last_server_pid()
        if a.case == "warm":  # profile the warm server only: one session first, and the warm-up ended
            asyncio.run(load.batch(url, pid, names[:1], expected, 300, "ws"))
            if "EXPLORER_WARMUP" not in load.SERVERS[a.server][1]:
                load.wait_warmed(url)
        spy = subprocess.Popen([pyspy(), "record", "--pid", str(pid), "--format", "raw", "--rate", str(a.rate),
                                "--nonblocking", "--threads", "-o", str(raw), *(["--gil"] if a.gil else [])],
                               stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        try:
            r = asyncio.run(load.batch(url, pid, names, expected, 300, "ws"))
        finally:
            spy.send_signal(signal.SIGINT)  # py-spy writes its file on Ctrl-C
            err = spy.communicate(timeout=60)[1].decode(errors="replace")
    print(f"{a.server} server, {a.case}: {r['ok']}/{r['sessions']} ok, p50 {r['p50']:.1f} s, p95 {r['p95']:.1f} s, "
          f"server CPU {r['cpu']:.1f} s ({r['cpu'] / r['sessions']:.2f} s/session)")
    if not raw.exists():
        sys.exit(f"py-spy wrote nothing: {err.strip()[-500:]}")
    summarise(raw, a.top)
    print(f"\nraw stacks: {raw}")


if __name__ == "__main__":
    main()
