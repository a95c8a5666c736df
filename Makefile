# Two commands for a new machine: `make run` (offline demo on the shipped sample day) and `make test`.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
DAY    ?= data/arxiv/2025-12-22.jsonl

.PHONY: run test install install-test lint bench clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(VENV)/.installed: $(BIN)/python pyproject.toml
	$(BIN)/python -m pip install --quiet -e .
	touch $@

$(VENV)/.installed-test: $(VENV)/.installed
	$(BIN)/python -m pip install --quiet -e '.[test,bench]'
	touch $@

install: $(VENV)/.installed

install-test: $(VENV)/.installed-test

run: install
	$(BIN)/arxiv-digest run --offline --input $(DAY)

test: install-test
	NO_PROXY=127.0.0.1,localhost PTB_TIMEDELTA=true $(BIN)/python -m pytest

lint: install-test
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	$(BIN)/ruff check core bot tests bench
	$(BIN)/mypy

bench: install-test
	$(BIN)/python bench/eval_offline.py
	$(BIN)/python bench/cost.py

clean:
	rm -rf $(VENV) data/arxiv_digest.db data/digests
