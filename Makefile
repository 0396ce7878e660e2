.PHONY: demo test test-slow test-load test-versions bench lint setup docs
setup:  ## install everything into .venv (idempotent)
	scripts/bootstrap.sh
demo:   ## the main job: local environment + sample DAGs, driven by the mwaa client
	scripts/demo.sh
test:   ## lint + all tests, end to end included (what CI runs)
	scripts/test.sh
test-slow:  ## the slow tests `make test` leaves out (the region's module in full: its tests build on each other)
	scripts/test.sh -m "slow or not slow" tests/e2e/test_region.py
	scripts/test.sh -m slow --deselect tests/e2e/test_region.py
test-load:  ## every test, slow ones too, with two CPU hogs beside it (a busy machine; not in CI)
	MWAA_TEST_LOAD=2 scripts/test.sh -m "slow or not slow"
docs:  ## the documentation site, built strictly (what CI checks), into site/
	scripts/bootstrap.sh && .venv/bin/mkdocs build --strict
test-versions:  ## the flow on every Airflow version MWAA offers, then a table (slow; not in CI)
	scripts/test-versions.sh
lint:
	scripts/bootstrap.sh && .venv/bin/ruff check src tests bench && .venv/bin/ruff format --check src tests bench
BEFORE ?= 7a7392a  # the client the before/after columns compare with (main before issue 21)
bench:  ## all benchmarks (each prints side-by-side ratios)
	scripts/bootstrap.sh 3.3.1 2.10.3
	.venv/bin/python bench/executor.py
	.venv/bin/python bench/executor.py --airflow-version 2.10.3 --quick
	.venv/bin/python bench/client.py --before $(BEFORE)
	.venv/bin/python bench/rest.py
	.venv/bin/python bench/throughput.py
	.venv/bin/python bench/load.py --soak 180
	.venv/bin/python bench/lifecycle.py
	.venv/bin/python bench/region.py
	.venv/bin/python bench/versions.py
	.venv/bin/python bench/runtimes.py
	.venv/bin/python bench/celery.py
