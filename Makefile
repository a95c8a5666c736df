# Two commands for a new machine: `make run` (offline demo on the shipped sample day) and `make test`.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
DAY    ?= data/arxiv/2025-12-22.jsonl

.PHONY: run test test-llm install install-test install-llm lint bench clean

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

$(VENV)/.installed-llm: $(VENV)/.installed-test
	$(BIN)/python -m pip install --quiet -e '.[test,real-llm]'
	touch $@

install-test: $(VENV)/.installed-test

install-llm: $(VENV)/.installed-llm

run: install
	$(BIN)/arxiv-digest run --offline --input $(DAY)

test: install-test
	NO_PROXY=127.0.0.1,localhost PTB_TIMEDELTA=true $(BIN)/python -m pytest

# The real-server tier: llama-cpp-python's server with SmolLM2-135M on 127.0.0.1 (tests/real_llm).
test-llm: install-llm
	NO_PROXY=127.0.0.1,localhost PTB_TIMEDELTA=true $(BIN)/python -m pytest -m real_llm tests/real_llm

lint: install-test
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	$(BIN)/ruff check core bot tests bench
	$(BIN)/mypy

bench: install-test
	$(BIN)/python bench/eval_offline.py
	$(BIN)/python bench/cost.py

clean:
	rm -rf $(VENV) data/arxiv_digest.db data/digests
