# Two commands set everything up on a machine with only python3 and make:
#   make run   - create .venv, install routesim, check and run the baseline scenario
#   make test  - create .venv if needed, install with test extras, run the whole suite
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP_RUN  := $(VENV)/.installed-run
STAMP_TEST := $(VENV)/.installed-test

.PHONY: run test lint bench clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(STAMP_RUN): pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e .
	touch $@

$(STAMP_TEST): pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e '.[test]'
	touch $@ $(STAMP_RUN)

run: $(STAMP_RUN)
	$(BIN)/routesim validate scenarios/baseline.yaml
	$(BIN)/routesim run scenarios/baseline.yaml

test: $(STAMP_TEST)
	$(BIN)/python -m pytest -n auto; status=$$?; \
	  if [ $$status -eq 5 ]; then echo "no tests were collected: treating as failure"; exit 1; fi; \
	  exit $$status

lint: $(STAMP_TEST)
	$(BIN)/ruff check sim tests benchmarks
	$(BIN)/mypy

bench: $(STAMP_TEST)
	$(BIN)/python -m benchmarks

clean:
	rm -rf $(VENV) build *.egg-info
