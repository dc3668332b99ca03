# The two commands of the README: `make run` and `make test`. Each installs what it needs.
PYTHON ?= python3.11
VENV := .venv
PY := $(VENV)/bin/python
PORT ?= 8000
HOST ?= 127.0.0.1

.PHONY: run test lint typecheck check install clean fake-ollama sandbox browser test-team \
	schemathesis

$(VENV)/.installed: pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[dev]'
	touch $@

install: $(VENV)/.installed

# The code interpreter's sandbox: a Python with numpy, pandas and matplotlib (pinned, with its
# font list built once), and bubblewrap, installed when missing if we are root and have apt.
# Without bubblewrap the server refuses to run code (docs/code-interpreter.md).
SANDBOX_VENV := .sandbox-venv
# bubblewrap runs as an unprivileged uid, which must be able to read the interpreter: so the
# system's Python by default, not one under /root (pyenv). Its pip is not needed: ours installs.
SANDBOX_BASE_PYTHON ?= $(shell test -x /usr/bin/python3 && echo /usr/bin/python3 || echo $(PYTHON))

$(SANDBOX_VENV)/.installed: tools/sandbox/requirements.txt | $(VENV)/.installed
	test -x $(SANDBOX_VENV)/bin/python || $(SANDBOX_BASE_PYTHON) -m venv --without-pip $(SANDBOX_VENV)
	$(PY) -m pip --python $(SANDBOX_VENV)/bin/python install --quiet -r tools/sandbox/requirements.txt
	MPLCONFIGDIR=$(CURDIR)/$(SANDBOX_VENV)/mplconfig $(SANDBOX_VENV)/bin/python -c "import matplotlib.font_manager"
	chmod -R a+rX $(SANDBOX_VENV)
	touch $@

sandbox: $(SANDBOX_VENV)/.installed
	@command -v bwrap >/dev/null 2>&1 || { \
		if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
			apt-get install -y -qq bubblewrap >/dev/null 2>&1 \
			|| { apt-get update -qq && apt-get install -y -qq bubblewrap; } \
			|| echo "warning: could not install bubblewrap: the server will refuse to run code"; \
		else \
			echo "warning: bubblewrap (bwrap) is missing: install the bubblewrap package," \
				"or the server refuses to run code"; \
		fi; }

run: install sandbox
	$(PY) manage.py migrate --noinput
	$(PY) manage.py collectstatic --noinput --verbosity 0
	$(PY) manage.py bootstrap
	$(PY) manage.py sync_functions --verbosity 0 > /dev/null
	@echo "Serving on http://$(HOST):$(PORT) (web + worker; Ctrl-C stops both)"
	PATH="$(CURDIR)/$(VENV)/bin:$$PATH" HOST=$(HOST) ENTITIES_PORT=$(PORT) \
		$(VENV)/bin/honcho start --no-prefix -f Procfile

# Debian's Chromium, which the browser tests (tests/browser) drive through Playwright; installed
# when missing if we are root and have apt. Without it those tests fail and say why.
browser:
	@test -x /usr/bin/chromium || { \
		if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
			DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null 2>&1 \
			|| { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium; } \
			|| echo "warning: could not install chromium: the browser tests will fail"; \
		else \
			echo "warning: /usr/bin/chromium is missing (apt-get install chromium):" \
				"the browser tests will fail"; \
		fi; }

test: install sandbox browser
	$(PY) -m pytest

# schemathesis over every operation of /v1/openapi.json against a live stack (part of `make
# test`; this runs it alone). SCHEMATHESIS_MAX_EXAMPLES=N tries more cases per operation.
schemathesis: install
	$(PY) -m pytest tests/test_schemathesis.py

# Team mode for real: the suite against PostgreSQL and Redis (started first if installed here
# but stopped), with tests/team: the scale test and the process tests. The browser tests and
# schemathesis are left to `make test`: they drive an embedded stack whatever the mode.
TEAM_DATABASE_URL ?= postgres://postgres@127.0.0.1:5432/test
TEAM_REDIS_URL ?= redis://127.0.0.1:6379/0

test-team: install sandbox
	tests/team/services.sh
	DATABASE_URL=$(TEAM_DATABASE_URL) REDIS_URL=$(TEAM_REDIS_URL) \
		$(PY) -m pytest --ignore=tests/browser --ignore=tests/test_schemathesis.py

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
