# Quick start:  make run   (set up and serve the app)   |   make test   (set up and run the tests)
#               make dev   (the app with Streamlit's file watcher: edits rerun it)
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
PORT ?= 8501

.PHONY: run run-ray dev test setup setup-dev setup-ray system-deps lint bench clean

$(VENV)/.installed: requirements.txt
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --upgrade pip
	$(PY) -m pip install -r requirements.txt
	touch $@

$(VENV)/.installed-dev: $(VENV)/.installed requirements-dev.txt requirements-ray.txt
	$(PY) -m pip install -r requirements-dev.txt
	touch $@

$(VENV)/.installed-ray: $(VENV)/.installed requirements-ray.txt
	$(PY) -m pip install -r requirements-ray.txt
	touch $@

setup: $(VENV)/.installed

setup-ray: $(VENV)/.installed-ray

setup-dev: $(VENV)/.installed-dev

# graphviz (the dot binary) for graph layout and Chromium for the browser tests, from apt.
system-deps:
	bash scripts/system-deps.sh

run: setup
	@command -v dot >/dev/null || bash scripts/system-deps.sh graphviz || echo "graphviz not installed: graphs fall back to plain DOT"
	$(PY) -m explorer.serve --prepare
	$(PY) -m explorer.serve --server.port $(PORT)

# Development: source edits rerun the app (the served app does not watch its files, see .streamlit/config.toml).
dev: setup
	$(VENV)/bin/streamlit run app.py --server.port $(PORT) --server.fileWatcherType auto --server.runOnSave true

# The app with runs on Ray: a local Ray instance, or the cluster at RAY_ADDRESS (auto, host:port, ray://host:port).
run-ray: setup-ray
	EXPLORER_EXECUTOR=ray EXPLORER_RAY_ADDRESS=$(RAY_ADDRESS) $(PY) -m explorer.serve --server.port $(PORT)

test: setup-dev system-deps
	$(PY) -m pytest

lint: setup-dev
	$(VENV)/bin/ruff check .

bench: setup
	$(PY) benchmarks/run_all.py

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache test-artifacts
