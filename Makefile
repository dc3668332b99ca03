# The two commands of the README: `make run` and `make test`. Each installs what it needs.
PYTHON ?= python3.11
VENV := .venv
PY := $(VENV)/bin/python
PORT ?= 8000
HOST ?= 127.0.0.1

.PHONY: run test lint typecheck check install clean fake-ollama

$(VENV)/.installed: pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[dev]'
	touch $@

install: $(VENV)/.installed

run: install
	$(PY) manage.py migrate --noinput
	$(PY) manage.py collectstatic --noinput --verbosity 0
	$(PY) manage.py bootstrap
	$(PY) manage.py sync_functions --verbosity 0 > /dev/null
	@echo "Serving on http://$(HOST):$(PORT) (web + worker; Ctrl-C stops both)"
	PATH="$(CURDIR)/$(VENV)/bin:$$PATH" HOST=$(HOST) ENTITIES_PORT=$(PORT) \
		$(VENV)/bin/honcho start --no-prefix -f Procfile

test: install
	$(PY) -m pytest

lint: install
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

typecheck: install
	$(VENV)/bin/mypy .

check: lint typecheck test

# An Ollama stand-in (the test double) on Ollama's port, for trying Entities without a GPU.
fake-ollama: install
	$(PY) -m inference.testing.ollama_double --port 11434 --tokens-per-second 30

clean:
	rm -rf $(VENV) *.egg-info
