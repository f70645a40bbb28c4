# Two commands a new user needs (see README.md):
#   make demo   sets up .venv and runs the live decoding demo
#   make test   sets up .venv and runs the whole test suite
# Both are safe to run twice; the setup step is skipped while .venv is up to date.

PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo test lint setup clean

setup: $(STAMP)

# torch is pinned first: on machines with a local CPU wheel this avoids a multi-GB CUDA download,
# and the package's own `torch>=` range is then already satisfied.
$(STAMP): pyproject.toml
	@command -v $(PYTHON) >/dev/null || { echo "error: $(PYTHON) not found; install Python 3.11 or run 'make PYTHON=python3 ...'"; exit 1; }
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q torch==2.13.0
	$(BIN)/python -m pip install -q -e ".[lsl,onnx,nwb,plot,serial,view,dev]"
	touch $(STAMP)

demo: $(STAMP)
	$(BIN)/rtdecode demo

test: $(STAMP)
	$(BIN)/ruff check rtdecode bench tests tools
	$(BIN)/ruff format --check rtdecode bench tests tools
	$(BIN)/mypy rtdecode
	$(BIN)/python -m pytest

clean:
	rm -rf $(VENV) build *.egg-info
