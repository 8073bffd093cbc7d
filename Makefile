# The README's two commands:
#   make lab   - start the course (JupyterLab on course/), creating .venv on first use
#   make test  - run the whole test suite, creating .venv on first use
PYTHON ?= python3
VENV ?= .venv
ifeq ($(OS),Windows_NT)
BIN := $(VENV)/Scripts
else
BIN := $(VENV)/bin
endif
STAMP := $(VENV)/.setcourse-installed
# Jupyter refuses to run as root (containers, CI) unless told to.
ROOT_FLAG := $(if $(filter 0,$(shell id -u 2>/dev/null)),--allow-root,)
# Extra JupyterLab options, e.g. make lab LAB_FLAGS="--no-browser --port=9000"
LAB_FLAGS ?=

.PHONY: lab test venv clean

lab: $(STAMP)
	$(BIN)/python -m jupyter lab --ServerApp.root_dir=course $(ROOT_FLAG) $(LAB_FLAGS)

test: $(STAMP)
	$(BIN)/python -m pytest

venv: $(STAMP)

# Re-install when the dependency list changes; the package itself is editable.
$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e ".[test]"
	@touch $(STAMP)

clean:
	rm -rf $(VENV) .pytest_cache
