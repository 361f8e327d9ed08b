"""Serve the app for a class: ``python -m explorer.serve [streamlit run options]``.

The same as ``streamlit run app.py [options]`` (``.streamlit/config.toml`` applies: no file
watcher, no rerun on save), plus a warm-up started with the server: Keras is imported and the
default and common presets are analysed and laid out in the background
(:mod:`explorer.ui.warmup`), so the first students find them ready. ``make run`` uses it; ``make
dev`` runs plain ``streamlit run`` with the file watcher for development.
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
    warmup.start()  # waits for the server to be up before it takes any CPU
    from streamlit.web import cli

    sys.argv = ["streamlit", "run", str(APP), *argv]
    cli.main()


if __name__ == "__main__":
    main()
