# Two commands set up everything on a fresh machine:
#   make train   # venv + vst, then the main job on the embedded dataset
#   make test    # venv + vst + test deps, then the whole test suite
PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
PIP := $(BIN)/python -m pip install --disable-pip-version-check -q
WORKDIR ?= workdirs/vivit_synthetic

.PHONY: setup setup-test train test bench model-table notebooks clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

$(VENV)/.core: $(BIN)/python requirements.txt constraints.txt setup.py
	$(PIP) -r requirements.txt -c constraints.txt
	$(PIP) --no-deps -e .
	touch $@

$(VENV)/.test: $(VENV)/.core requirements-test.txt
	$(PIP) -r requirements-test.txt -c constraints.txt
	touch $@

setup: $(VENV)/.core
setup-test: $(VENV)/.test

train: setup
	$(BIN)/python -m vst.main --config=configs/vivit_synthetic.py --workdir=$(WORKDIR)

test: setup-test
	$(BIN)/python -m pytest tests -q -n 2

bench: setup
	$(BIN)/python -m vst.bench --config=configs/vivit_synthetic.py

model-table: setup
	$(BIN)/python -m vst.tools.model_table

# The studies (the experiments/*.py in jupytext's percent format) as Jupyter
# notebooks, written beside their scripts so that the helpers they import
# (runner, tables, ...) resolve from the notebook's folder. Git-ignored: the
# .py files are the source and the notebooks are rebuilt from them.
STUDIES = $(shell grep -l '^# %%' experiments/*.py)

notebooks: setup-test
	$(BIN)/python -m jupytext --to ipynb $(STUDIES)

clean:
	rm -rf $(VENV) workdirs
