"""Serve the app for a class: ``python -m explorer.serve [streamlit run options]``.

The same as ``streamlit run app.py [options]`` (``.streamlit/config.toml`` applies: no file
watcher, no rerun on save), plus a warm-up started with the server: Keras is imported and the
default and common presets are analysed and laid out in the background
(:mod:`explorer.ui.warmup`), so the first students find them ready; and a link straight to a
page connects without Streamlit's back-off (:mod:`explorer.webserver`). ``make run`` uses it; ``make
dev`` runs plain ``streamlit run`` with the file watcher for development.

``python -m explorer.serve --prepare`` does the warm-up's work in the foreground and exits: every
preset's analysis and first layout land in the disk cache (:mod:`explorer.diskcache`), so a
server started afterwards reads them in milliseconds, without Keras. ``make run`` prepares first
(about 20 s on 2 cores the first time, a second or two once the cache holds every preset).
"""

from __future__ import annotations

import sys
from pathlib import Path

APP = Path(__file__).resolve().parent.parent / "app.py"


def main(argv: list[str] | None = None) -> None:
    """Start the warm-up thread, then Streamlit's own ``run`` command in this process."""
    import explorer  # noqa: F401  (the analysis backend, before anything imports Keras)
    from explorer.ui import warmup

    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["--prepare"]:
        prepare(warmup)
        return
    warmup.start()  # waits for the server to be up before it takes any CPU
    from streamlit.web import cli

    from explorer import webserver

    webserver.install()  # links straight to a page connect without Streamlit's back-off

    sys.argv = ["streamlit", "run", str(APP), *argv]
    cli.main()


def prepare(warmup) -> None:
    """Analyse and lay out the warm-up's presets into the disk cache, in the foreground; one line."""
    import time

    t0 = time.perf_counter()
    names = warmup.presets()
    warmup.warm(names, quiet=0, server=False)
    ready = [n for n in names if n in warmup.timings]  # a failed name was logged and skipped
    print(f"explorer: {len(ready)} presets ready in the disk cache in {time.perf_counter() - t0:.1f} s "
          f"({len(warmup.from_disk)} were there already)", flush=True)


if __name__ == "__main__":
    main()
