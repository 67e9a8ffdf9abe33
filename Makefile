# The two commands a newcomer needs:  make demo  and  make test.
# Each installs what is missing first (scripts/setup.sh) and is safe to re-run.

VENV   ?= .venv
PY     := $(VENV)/bin/python
export EXTFRAME_VENV := $(abspath $(VENV))

.PHONY: all setup demo test soak lint bench actions lock clean help

all: help

help:
	@echo "make demo     the bundled actions on the real kernel, then the whole loop on a sandbox OVS"
	@echo "make test     lint, type-check and run the whole test suite"
	@echo "make soak     1,000 register/replace/unregister cycles under traffic, and 200 kill -9s of ovs-vswitchd during them (a few minutes)"
	@echo "make setup    only install what is missing"
	@echo "make bench    run the benchmarks (bench/README.md)"
	@echo "make actions  rebuild actions/*.o from actions/*.c"
	@echo "make lock     record what every action was proven to do in extframe.lock (root)"

setup:
	@bash scripts/setup.sh

demo: setup
	$(VENV)/bin/extframe library
	$(VENV)/bin/extframe demo

lint: setup
	$(VENV)/bin/ruff check extframe analyzer tests bench
	$(VENV)/bin/mypy

# pytest exits 5 when it collected nothing; that must never count as a pass.
test: lint
	@$(PY) -m pytest $(PYTEST_ARGS); rc=$$?; \
	if [ $$rc -eq 5 ]; then echo "make test: pytest collected no tests" >&2; exit 1; fi; \
	exit $$rc

# The soak tests' short forms (20 cycles, 50 kills of ovs-vswitchd) are part of make test.
soak: setup
	EXTFRAME_SOAK_CYCLES=1000 EXTFRAME_SOAK_KILLS=200 $(PY) -m pytest -q tests/ovs/test_soak.py

bench: setup
	$(PY) -m bench

actions: setup
	$(VENV)/bin/extframe build actions/*.c

# After changing an action: review the diff of extframe.lock and commit it.
# make test fails while an action differs from it (tests/kernel/test_gate.py).
lock: setup
	$(VENV)/bin/extframe lock actions/*.c

clean:
	rm -f actions/*.o
	rm -rf .pytest_cache .mypy_cache .ruff_cache
