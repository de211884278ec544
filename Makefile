# marketingai: `make run` sets up and runs everything; `make test` runs the test suite;
# `make serve` runs the web tier alone under gunicorn, DEBUG off (docs/production.md).
PYTHON ?= python3.11
VENV ?= .venv

.PHONY: run serve test install check clean-cache

run: install
	@VENV=$(VENV) scripts/run.sh

serve: install
	@VENV=$(VENV) scripts/serve.sh

test: install
	@VENV=$(VENV) scripts/test.sh

install: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml scripts/install.sh
	@PYTHON=$(PYTHON) VENV=$(VENV) scripts/install.sh
	@touch $@

check: install
	@$(VENV)/bin/python manage.py check
	@$(VENV)/bin/python manage.py makemigrations --check --dry-run
