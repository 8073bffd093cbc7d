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

# Opens course/START_HERE.md rendered (the settings in course/.jupyterlab-settings/overrides.json
# make Markdown open as a preview and turn off the news and update prompts).
lab: $(STAMP)
	$(BIN)/python -m jupyter lab --ServerApp.root_dir=course \
		--LabApp.app_settings_dir="$(CURDIR)/course/.jupyterlab-settings" \
		--LabApp.default_url=/lab/tree/START_HERE.md --LabApp.news_url=None \
		--LabApp.check_for_updates_class=jupyterlab.handlers.announcements.NeverCheckForUpdate \
		$(ROOT_FLAG) $(LAB_FLAGS)

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
