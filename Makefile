# The two commands: `make demo` and `make test`. Both create .venv when needed and install the
# core and every bundled plugin (editable); `make install` is the shared step.
VENV ?= .venv
PYTHON ?= python3
# On a machine with a local CPU wheel this takes it; elsewhere pip picks the platform's build.
TORCH_SPEC ?= torch==2.13.0
PY := $(VENV)/bin/python
PLUGIN_DIRS := $(sort $(wildcard plugins/*/pyproject.toml))
EDITABLES := -e ".[test]" $(foreach p,$(PLUGIN_DIRS),-e $(dir $(p))) -e examples/dialsum-lead
PYTEST_ARGS ?=
# Extra pip arguments for `make install` (test-lowest passes the constraints file).
PIP_ARGS ?=
# A second environment with every declared floor pinned (constraints-lowest.txt).
LOWEST_VENV ?= .venv-lowest

.PHONY: install demo test test-fast test-lowest lint docs clean

$(PY):
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip

install: $(PY)
	$(PY) -m pip install -q "$(TORCH_SPEC)"
	$(PY) -m pip install -q $(PIP_ARGS) $(EDITABLES)

demo: install
	$(VENV)/bin/dialsum run recipes/quick.toml

test: install
	$(PY) -m pytest $(PYTEST_ARGS)

test-fast: install
	$(PY) -m pytest -m "not slow" $(PYTEST_ARGS)

# The hf and modes tests against the lowest versions the plugins declare.
test-lowest:
	$(MAKE) install VENV=$(LOWEST_VENV) PIP_ARGS="-c constraints-lowest.txt" \
		EDITABLES='$(subst -e plugins/dialsum-hf/ ,-e plugins/dialsum-hf/[quantization] ,$(EDITABLES))'
	$(LOWEST_VENV)/bin/python -m pip list --format=freeze | grep -iE '^(torch|transformers|peft|accelerate|bitsandbytes|optuna)=='
	$(LOWEST_VENV)/bin/python -m pytest -m "not slow" plugins/dialsum-hf/tests plugins/dialsum-modes/tests $(PYTEST_ARGS)

lint: install
	$(VENV)/bin/ruff check .

clean:
	rm -rf experiments .pytest_cache .ruff_cache
