# Two commands for users: `make demo` and `make test`. Both create .venv on first use and are quick after.
VENV := .venv
PYTHON := $(VENV)/bin/python
INSTALLED := $(VENV)/.installed

.PHONY: demo test bench

$(INSTALLED): pyproject.toml
	test -x $(PYTHON) || python3 -m venv $(VENV)
	$(PYTHON) -m pip install --quiet --upgrade pip
	$(PYTHON) -m pip install --quiet -e '.[test]'
	touch $(INSTALLED)

demo: $(INSTALLED)
	$(VENV)/bin/erfnet demo

test: $(INSTALLED)
	$(PYTHON) -m pytest

bench: $(INSTALLED)
	@for script in bench/*.py; do $(PYTHON) $$script || exit 1; done
