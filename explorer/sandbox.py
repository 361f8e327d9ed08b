"""Run a function on untrusted input in a child process with memory, CPU and wall-time limits.

Children are forked from a ``multiprocessing`` fork server that has Keras and the explorer
already imported (:data:`PRELOAD`), so a child starts in milliseconds instead of paying the
seconds of a fresh interpreter's imports, and the server's own threads and state are never
forked. The fork server starts on first use, or earlier with :func:`warm` (the Inspect page
calls it when it opens).

In the child, before the function runs: ``RLIMIT_AS`` allows the address space the child
inherited plus :func:`memory_budget` (default 1 GiB minus what is already resident, so the
child's peak resident memory stays under 1 GiB; ``EXPLORER_SANDBOX_MB`` sets the total) and
``RLIMIT_CPU`` :data:`CPU_SECONDS`. The parent waits at most ``timeout`` seconds (default
``EXPLORER_SANDBOX_TIMEOUT_S``, else 60: a valid 5,000-layer model takes ~15 s on two busy cores) and kills the child after that. A child that runs out
of memory, is killed, or crashes becomes one :class:`SandboxError` line; a :class:`DataError`
raised by the function comes back as itself.
"""

from __future__ import annotations

import multiprocessing
import os
import threading
import time
from collections.abc import Callable
from typing import Any

from explorer.errors import DataError, ExplorerError

PRELOAD = ["__main__", "explorer.inspect_child"]
CPU_SECONDS = 60
DEFAULT_TIMEOUT_S = 60.0
DEFAULT_TOTAL_MB = 1024


class SandboxError(DataError):
    """The child ran out of memory or time, or died."""


def _env_float(name: str, default: float) -> float:
    try:
        value = float(os.environ.get(name, ""))
        return value if value > 0 else default
    except ValueError:
        return default


def timeout_seconds() -> float:
    """Wall-time limit of one child (``EXPLORER_SANDBOX_TIMEOUT_S``, default 60)."""
    return _env_float("EXPLORER_SANDBOX_TIMEOUT_S", DEFAULT_TIMEOUT_S)


def total_bytes() -> int:
    """Peak resident memory a child may reach (``EXPLORER_SANDBOX_MB``, default 1024)."""
    return int(_env_float("EXPLORER_SANDBOX_MB", DEFAULT_TOTAL_MB) * 2**20)


_lock = threading.Lock()
_context: Any = None


def _ctx() -> Any:
    global _context
    with _lock:
        if _context is None:
            ctx = multiprocessing.get_context("forkserver")
            ctx.set_forkserver_preload(PRELOAD)
            _context = ctx
        return _context


def warm() -> None:
    """Start the fork server now (in a background thread), so the first child starts fast."""
    def start() -> None:
        try:
            from multiprocessing import forkserver

            _ctx()
            forkserver.ensure_running()
        except Exception:  # a failed start shows up, with its reason, at the first real call
            pass

    threading.Thread(target=start, name="explorer-sandbox-warm", daemon=True).start()


def _status() -> dict[str, int]:
    out = {}
    with open("/proc/self/status") as fh:
        for line in fh:
            key, _, rest = line.partition(":")
            if key in ("VmSize", "VmRSS", "VmHWM"):
                out[key] = int(rest.split()[0]) * 1024
    return out


def _child(conn: Any, fn: Callable, args: tuple, total: int, cpu: int) -> None:
    import resource

    try:
        st = _status()
        headroom = max(total - st["VmRSS"], 64 * 2**20)
        limit = st["VmSize"] + headroom
        resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
        resource.setrlimit(resource.RLIMIT_CPU, (cpu, cpu + 5))
        resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
        try:
            value = fn(*args)
            reply = ("ok", value)
        except ExplorerError as exc:
            reply = ("error", str(exc))
        except MemoryError:
            reply = ("memory", "")
        except RecursionError:
            reply = ("failed", "it is nested too deeply to rebuild")
        except Exception as exc:  # Keras's messages are long and may echo the config: keep one line
            reply = ("failed", f"{type(exc).__name__}: {' '.join(str(exc).split())[:200]}")
        reply = (*reply, _status().get("VmHWM", 0))
        try:
            conn.send(reply)
        except MemoryError:
            conn.send(("memory", "", 0))
    finally:
        conn.close()
        os._exit(0)


def run(fn: Callable, *args: Any, what: str, timeout: float | None = None) -> tuple[Any, dict[str, float]]:
    """Call ``fn(*args)`` in a limited child and return its value.

    Args:
        fn: a module-level function (it is named, not pickled, to the child).
        args: picklable arguments.
        what: how to name the input in errors (``"model file net.keras"``).
        timeout: wall seconds (default :func:`timeout_seconds`).

    Returns:
        ``(value, figures)``: figures are ``seconds`` (wall) and ``peak_bytes`` (the child's
        peak resident memory).

    Raises:
        DataError: raised by ``fn`` (its message kept), or SandboxError: out of memory, out of
            time, or the child died. Either carries ``figures`` as an attribute.
    """
    timeout = timeout_seconds() if timeout is None else timeout
    ctx = _ctx()
    t0 = time.perf_counter()
    recv, send = ctx.Pipe(duplex=False)
    proc = ctx.Process(target=_child, args=(send, fn, args, total_bytes(), CPU_SECONDS), daemon=True,
                       name="explorer-sandbox")
    try:
        proc.start()
    except Exception as exc:
        raise SandboxError(f"{what} could not be checked: the checking process did not start ({type(exc).__name__}).") from None
    send.close()
    reply = None
    try:
        if recv.poll(timeout):
            reply = recv.recv()
    except (EOFError, OSError):
        reply = None
    except MemoryError:  # a reply too large for this process
        reply = ("memory", "", 0)
    finally:
        recv.close()
        if proc.is_alive():
            proc.kill()
        proc.join(5)
    seconds = time.perf_counter() - t0
    figures = {"seconds": seconds, "peak_bytes": float(reply[2]) if reply else float("nan")}
    if reply is not None and reply[0] == "ok":
        return reply[1], figures
    if reply is None and seconds >= timeout:
        exc: DataError = SandboxError(f"{what} took over {timeout:g} s to read and was stopped; it is refused.")
    elif reply is None:
        exc = SandboxError(f"{what} could not be read: the checking process died ({_signal_name(proc.exitcode)}), "
                           "most likely out of memory; it is refused.")
    elif reply[0] == "error":
        exc = DataError(reply[1])
    elif reply[0] == "memory":
        exc = SandboxError(f"{what} needs more than {total_bytes() / 2**20:,.0f} MB of memory to read; it is refused.")
    else:
        exc = SandboxError(f"{what} could not be read: {reply[1]}.")
    exc.figures = figures  # type: ignore[attr-defined]  (for benchmarks)
    raise exc


def _signal_name(code: int | None) -> str:
    if code is None:
        return "no exit status"
    if code < 0:
        import signal

        try:
            return signal.Signals(-code).name
        except ValueError:
            return f"signal {-code}"
    return f"exit status {code}"
