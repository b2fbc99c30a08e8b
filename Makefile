# One command each: `make run` starts the gateway, `make test` runs the tests.
# Both create .venv and install what they need on a fresh machine.
PYTHON ?= python3
VENV   ?= .venv
PY     := $(VENV)/bin/python
ARGS   ?=

.PHONY: run test fuzz spec lint check bench clean browser

# the console's browser tests drive Debian's chromium and its chromedriver (same build);
# installed when missing, once, bounded in time; as root (CI) or through sudo
APT := $(shell [ "$$(id -u)" = 0 ] || echo sudo) env DEBIAN_FRONTEND=noninteractive
browser:                        ## chromium + chromedriver for tests/console (apt-get)
	@if command -v chromium >/dev/null && command -v chromedriver >/dev/null; then :; \
	elif command -v apt-get >/dev/null; then \
		echo "installing chromium and chromium-driver for the console's browser tests"; \
		timeout 300 $(APT) apt-get update -qq && \
		timeout 900 $(APT) apt-get install -y -qq chromium chromium-driver >/dev/null; \
	else echo "no apt-get: install chromium and chromedriver for tests/console" >&2; fi

$(VENV)/.run-deps: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e '.[full]'
	touch $@

$(VENV)/.dev-deps: pyproject.toml $(VENV)/.run-deps
	$(PY) -m pip install -q -e '.[dev]'
	touch $@

run: $(VENV)/.run-deps          ## start the gateway on 0.0.0.0:8787 (ARGS="--config settings.yaml")
	$(PY) -m proxy $(ARGS)

test: $(VENV)/.dev-deps browser ## lint, type-check and run the whole test suite
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy
	$(PY) tests/check_budget.py
	$(PY) -m pytest $(ARGS)

fuzz: $(VENV)/.dev-deps         ## the long property-based fuzz of the front door (~10 min)
	HYPOTHESIS_PROFILE=long $(PY) -m pytest tests/security/test_fuzz.py -p no:cacheprovider \
		--hypothesis-show-statistics $(ARGS)

spec: $(VENV)/.dev-deps         ## OpenAI's OpenAPI schemas against the gateway, thousands per operation
	HYPOTHESIS_PROFILE=long $(PY) -m pytest tests/spec -s -p no:cacheprovider $(ARGS)

bench: $(VENV)/.dev-deps        ## the project's own benchmark (see bench/README.md)
	$(PY) -m bench $(ARGS)

clean:
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache
