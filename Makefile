# Two commands a new user needs (see README.md):
#   make demo   sets up .venv and runs the live decoding demo
#   make test   sets up .venv and runs the whole test suite and the user guide's strict build
# and one for the user guide:
#   make docs   sets up .venv and builds the guide (docs/, mkdocs.yml) into build/site
# All are safe to run twice; the setup step is skipped while .venv is up to date.

PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo test docs lint setup clean

setup: $(STAMP)

# torch is pinned first: on machines with a local CPU wheel this avoids a multi-GB CUDA download,
# and the package's own `torch>=` range is then already satisfied.
$(STAMP): pyproject.toml
	@command -v $(PYTHON) >/dev/null || { echo "error: $(PYTHON) not found; install Python 3.11 or run 'make PYTHON=python3 ...'"; exit 1; }
	@echo "setting up $(VENV) (first run only: a few minutes, most of it torch)"
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	@echo "[1/3] upgrading pip"
	$(BIN)/python -m pip install -q --upgrade pip
	@echo "[2/3] installing torch 2.13.0 (the largest download)"
	$(BIN)/python -m pip install -q torch==2.13.0
	@echo "[3/3] installing rtdecode and its extras (lsl, onnx, nwb, plot, serial, cluster, view, dev, docs)"
	$(BIN)/python -m pip install -q -e ".[lsl,onnx,nwb,plot,serial,cluster,view,dev,docs]"
	@echo "set up; later runs skip this step while $(VENV) is up to date"
	touch $(STAMP)

demo: $(STAMP)
	$(BIN)/rtdecode demo

test: $(STAMP)
	$(BIN)/ruff check rtdecode bench tests tools
	$(BIN)/ruff format --check rtdecode bench tests tools
	$(BIN)/mypy rtdecode
	$(BIN)/python -m mkdocs build --strict
	$(BIN)/python -m pytest

# --strict: a broken link or anchor, or a page missing from the nav, fails the build (mkdocs.yml).
# Never add --quiet or -v: with either, mkdocs 1.6 drops the warnings that --strict counts and
# passes a broken link (mkdocs issues 4126, 3991); tests/test_docs.py runs the line above to check.
docs: $(STAMP)
	$(BIN)/python -m mkdocs build --strict

clean:
	rm -rf $(VENV) build *.egg-info
