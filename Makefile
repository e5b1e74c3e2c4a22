# Two entry points: `make demo` (a real gate over the bundled examples) and `make test`.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
OUT    := out

.PHONY: demo test lint typecheck docs venv venv-test clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip

$(VENV)/.installed: $(BIN)/python pyproject.toml
	$(BIN)/python -m pip install -q -e .
	touch $@

$(VENV)/.installed-test: $(BIN)/python pyproject.toml
	$(BIN)/python -m pip install -q -e '.[test]'
	touch $@ $(VENV)/.installed

venv: $(VENV)/.installed
venv-test: $(VENV)/.installed-test

demo: $(VENV)/.installed
	PATH="$(CURDIR)/$(BIN):$$PATH" bash examples/demo.sh $(OUT)

lint: $(VENV)/.installed-test
	$(BIN)/ruff check scanner tests benchmarks
	$(BIN)/ruff format --check scanner tests benchmarks

typecheck: $(VENV)/.installed-test
	$(BIN)/mypy

# the command reference regenerated from the commands, then the site (tests/docs checks both)
docs: $(VENV)/.installed-test
	$(BIN)/python -m scanner.cli.reference docs/cli.md
	NO_MKDOCS_2_WARNING=1 $(BIN)/mkdocs build --strict --site-dir $(OUT)/site

test: $(VENV)/.installed-test lint typecheck
	$(BIN)/python -m pytest -n 2 -q

clean:
	rm -rf $(VENV) $(OUT) site build dist *.egg-info
