# Two commands set everything up on a machine with only python3 and make:
#   make run   - create .venv, install routesim, check and run the baseline scenario
#   make test  - create .venv if needed, install with test extras (and Debian's chromium for
#                the brief's browser test, when missing), run ruff and mypy (make lint), then
#                the whole suite
#   make notebooks - install the notebooks extra (JupyterLab) and open notebooks/ in JupyterLab
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP_RUN  := $(VENV)/.installed-run
STAMP_TEST := $(VENV)/.installed-test
STAMP_NB   := $(VENV)/.installed-notebooks

.PHONY: run test chromium notebooks lint bench clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(STAMP_RUN): pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e .
	touch $@

$(STAMP_TEST): pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e '.[test]'
	touch $@ $(STAMP_RUN)

$(STAMP_NB): pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e '.[notebooks]'
	touch $@ $(STAMP_RUN)

# tests/test_brief_browser.py renders a brief in headless Chromium; machines run as root
chromium:
	command -v chromium >/dev/null || (apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q chromium)

run: $(STAMP_RUN)
	$(BIN)/routesim validate scenarios/baseline.yaml
	$(BIN)/routesim run scenarios/baseline.yaml

test: lint chromium
	$(BIN)/python -m pytest -n auto; status=$$?; \
	  if [ $$status -eq 5 ]; then echo "no tests were collected: treating as failure"; exit 1; fi; \
	  exit $$status

notebooks: $(STAMP_NB)
	$(BIN)/jupyter lab --ip=127.0.0.1 notebooks/

lint: $(STAMP_TEST)
	$(BIN)/ruff check sim tests benchmarks docs
	$(BIN)/mypy

bench: $(STAMP_TEST)
	$(BIN)/python -m benchmarks

clean:
	rm -rf $(VENV) build *.egg-info
