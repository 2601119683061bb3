# Two commands: `make demo` (JupyterLab on the quickstart, embedded data) and `make test`.
# Both create the environment in .venv first if it is missing or older than pyproject.toml.

PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
# torch and torchvision must come as a matching pair; override for your platform if needed,
# e.g. make demo TORCH="torch torchvision --index-url https://download.pytorch.org/whl/cpu"
TORCH ?= torch==2.14.1 torchvision==0.29.1
ROOT_FLAG := $(if $(filter 0,$(shell id -u)),--allow-root,)

.PHONY: env demo test test-python test-js typecheck bundle check-bundle clean

env: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q $(TORCH)
	$(PY) -m pip install -q -e ".[dev]"
	touch $@

demo: env
	$(VENV)/bin/jupyter lab $(ROOT_FLAG) notebooks/01_quickstart.ipynb

test: env test-js typecheck test-python

typecheck: env
	$(PY) -m mypy

test-python: env
	$(PY) -m pytest -ra

test-js:
	cd js && node --test tests/

# Rebuild the front-end bundles in nbviz/static/ from js/src/ (needs npm).
bundle:
	cd js && npm ci --no-audit --no-fund && node build.mjs

# Fails if the committed bundles differ from a fresh build of js/src/.
check-bundle: bundle
	git diff --exit-code -- nbviz/static/

clean:
	rm -rf $(VENV) test-output js/node_modules
