# Rolebook: `make run` serves the demo, `make test` runs the suite, `make bench` the benchmarks.
# Everything starts from nothing: the venv and its pinned packages are made on first use.

PYTHON ?= python3.11
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed-$(shell cksum pyproject.toml | cut -d' ' -f1)
MANAGE := $(PY) manage.py
HOST ?= 127.0.0.1
PORT ?= 8000

.PHONY: run test bench lint venv setup-demo browser clean

venv: $(STAMP)

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

# Browser tests drive Debian's chromium; install it when it is missing (needs root, as in CI).
browser:
	@command -v chromium >/dev/null || { \
	  if [ "$$(id -u)" = 0 ]; then apt-get update -qq && apt-get install -y -qq chromium >/dev/null; \
	  else echo "Install chromium (apt-get install chromium) for the browser tests."; exit 1; fi; }

test: venv browser
	$(PY) -m pytest

lint: venv
	$(VENV)/bin/ruff check .

bench: venv
	$(PY) -m bench

clean:
	rm -rf $(VENV) db.sqlite3 .pytest_cache .pytest-db.sqlite3* var/coder
