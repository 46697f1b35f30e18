# The README's commands. Each creates .venv and installs what it needs on a fresh machine.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
HOST ?= 127.0.0.1
PORT ?= 8000
export DJANGO_SETTINGS_MODULE := marketplace.settings

.PHONY: run test e2e bench messages compilemessages lint clean

$(VENV)/.runtime: requirements.txt
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r requirements.txt
	touch $@

$(VENV)/.dev: requirements.txt requirements-dev.txt $(VENV)/.runtime
	$(PY) -m pip install --quiet -r requirements-dev.txt
	touch $@

compilemessages: $(VENV)/.runtime
	$(VENV)/bin/pybabel compile --domain=django --directory=locale --statistics

# The app with demo data on the embedded default (SQLite, no Redis), Celery worker and beat beside it.
run: $(VENV)/.runtime compilemessages
	$(PY) manage.py migrate --no-input
	$(PY) manage.py collectstatic --no-input --verbosity 0
	$(PY) manage.py seed_demo
	$(PY) manage.py refresh_fx_rates
	$(PY) manage.py serve --host $(HOST) --port $(PORT)

test: $(VENV)/.dev compilemessages
	$(VENV)/bin/pytest

e2e: $(VENV)/.dev compilemessages
	$(VENV)/bin/pytest tests/e2e -m browser

bench: $(VENV)/.dev compilemessages
	$(PY) bench/run.py

# Re-extract UI strings into every catalogue (then translate the new entries).
messages: $(VENV)/.dev
	$(PY) manage.py makemessages --all --no-location --ignore=.venv --ignore=tests --ignore=bench

lint: $(VENV)/.dev
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

clean:
	rm -rf $(VENV) db.sqlite3 staticfiles var
