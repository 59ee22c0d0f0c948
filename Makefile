# Two entry points do all set-up on a fresh machine: `make run` and `make test`.
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
PIP := $(BIN)/pip install -q -c constraints.txt

.PHONY: install run test lint bench bench-quick clean

$(BIN)/tuilab: pyproject.toml constraints.txt
	$(PY) -m venv $(VENV)
	$(PIP) -e '.[dev]'
	touch $@

install: $(BIN)/tuilab

run: install
	$(BIN)/tuilab presets/quickstart.toml

test: install
	$(BIN)/ruff check tuilab tests bench
	$(BIN)/lint-imports
	$(BIN)/pytest -q

lint: install
	$(BIN)/ruff check tuilab tests bench
	$(BIN)/lint-imports

bench: install
	$(BIN)/python bench/run_all.py

bench-quick: install
	$(BIN)/python bench/engine_vs_plain.py --quick

clean:
	rm -rf $(VENV) build *.egg-info
