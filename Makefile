# For users: `make demo` and `make test`; for the inner loop: `make test-fast`. Each creates .venv on first use
# (the versions in constraints.txt) and is quick after. `make compat` runs the compatibility matrix (hours; one
# fresh venv per Python and MindSpore pair, docs/versions.md); `make outcome` the training-outcome comparison (hours,
# resumed run by run, docs/training-outcome-parity.md).
VENV := .venv
PYTHON := $(VENV)/bin/python
INSTALLED := $(VENV)/.installed

.PHONY: demo test test-fast bench compat outcome

$(INSTALLED): pyproject.toml constraints.txt
	test -x $(PYTHON) || python3 -m venv $(VENV)
	$(PYTHON) -m pip install --quiet -c constraints.txt --upgrade pip
	$(PYTHON) -m pip install --quiet -c constraints.txt -e '.[test]'
	touch $(INSTALLED)

demo: $(INSTALLED)
	$(VENV)/bin/erfnet demo

test: $(INSTALLED)
	$(PYTHON) -m pytest -n 2 --dist loadscope --no-loadscope-reorder

test-fast: $(INSTALLED)
	$(PYTHON) -m pytest -n 2 --dist loadscope --no-loadscope-reorder -m "not slow"

bench: $(INSTALLED)
	@for script in $(filter-out bench/compat.py bench/compare_training.py bench/outcome_table.py bench/timing.py bench/pipeline_cost.py,$(wildcard bench/*.py)); do $(PYTHON) $$script || exit 1; done

compat: $(INSTALLED)
	$(PYTHON) bench/compat.py

outcome: $(INSTALLED)
	$(PYTHON) bench/compare_training.py
