"""Hostile uploads: refusal time and peak memory per file, against a valid model of the same size.

Builds every hostile model file and dataset of ``tests/hostile_files.py`` in a temporary folder,
then for each one: the wall time from the call to the refusal (``model_io.read_graph``: cheap
checks here, the rest in the sandboxed child; ``data.load_npz``: header checks before loading)
and the peak resident memory of the process that read it (the sandbox child's VmHWM for models,
"before child" when the cheap checks in this process refused it; for datasets, how much this
process's peak grew while refusing it). Baselines in the same run: the sandbox's start (fork
server warm-up), a valid tiny model, a valid model declaring 268M parameters, and a valid 5 MB
dataset. Goal: every refusal <= 5 s and <= 1 GiB.

Usage: python benchmarks/hostile_uploads.py
"""

from __future__ import annotations

import resource
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import explorer  # noqa: E402,F401  (analysis backend before Keras loads)
from explorer import data as datasets  # noqa: E402
from explorer.errors import DataError  # noqa: E402
from explorer.model_io import read_graph_measured  # noqa: E402
from tests import hostile_files as hf  # noqa: E402

GOAL_S, GOAL_BYTES = 5.0, 2**30


def _self_peak() -> int:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


def main() -> None:
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        t = time.perf_counter()
        _, fig = read_graph_measured(hf.write_keras(folder / "valid.keras", hf.tiny_config()))
        rows.append(("baseline: first valid model (starts the sandbox)", "opened", time.perf_counter() - t, fig["peak_bytes"], ""))
        for label, path in (("baseline: valid tiny model", folder / "valid.keras"),
                            ("baseline: valid model declaring 268M params", hf.huge_dense(folder))):
            t = time.perf_counter()
            g, fig = read_graph_measured(path)
            rows.append((label, "opened", time.perf_counter() - t, fig["peak_bytes"], f"{g.total_params:,} params"))
        for label, make, _words in hf.MODEL_CASES:
            path = make(folder)
            t = time.perf_counter()
            try:
                _, fig = read_graph_measured(path)
                rows.append((label, "OPENED (not refused!)", time.perf_counter() - t, fig["peak_bytes"], ""))
            except DataError as exc:
                peak = getattr(exc, "figures", {}).get("peak_bytes", float("nan"))  # nan: refused before the child
                rows.append((label, "refused", time.perf_counter() - t, peak, str(exc)))
        before = _self_peak()
        good = hf.write_npz(folder / "valid.npz", x_train=hf._good_arrays()["x_train"].repeat(4000, axis=0)[:80_000].reshape(-1, 8, 8),
                            y_train=(hf.np.arange(80_000) % 3))
        t = time.perf_counter()
        datasets.load_npz(good)
        rows.append(("baseline: valid 5 MB dataset", "loaded", time.perf_counter() - t, float(_self_peak() - before), ""))
        for label, make, _words in hf.NPZ_CASES:
            path = make(folder)
            start = _self_peak()
            t = time.perf_counter()
            try:
                datasets.load_npz(path)
                rows.append((label, "LOADED (not refused!)", time.perf_counter() - t, float(_self_peak() - start), ""))
            except DataError as exc:
                rows.append((label, "refused", time.perf_counter() - t, float(_self_peak() - start), str(exc)))
        grew = _self_peak() - before
    print(f"{'file':<48} {'result':<9} {'seconds':>8} {'peak MB':>12}  message")
    worst_s = worst_b = 0.0
    for label, result, secs, peak, msg in rows:
        peak_txt = "before child" if peak != peak else f"{peak / 2**20:8.0f}"
        print(f"{label:<48} {result:<9} {secs:8.3f} {peak_txt:>12}  {msg[:150]}")
        if result == "refused":
            worst_s = max(worst_s, secs)
            worst_b = max(worst_b, 0 if peak != peak else peak)
    print(f"\nslowest refusal {worst_s:.2f} s (goal <= {GOAL_S:g} s: {worst_s / GOAL_S:.2f} of it); "
          f"highest peak {worst_b / 2**20:.0f} MB (goal <= 1024 MB: {worst_b / GOAL_BYTES:.2f} of it); "
          f"this process grew {grew / 2**20:.0f} MB while refusing the datasets.")


if __name__ == "__main__":
    main()
