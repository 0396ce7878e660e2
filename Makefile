.PHONY: demo test bench lint setup
setup:  ## install everything into .venv (idempotent)
	scripts/bootstrap.sh
demo:   ## the main job: local environment + sample DAGs, driven by the mwaa client
	scripts/demo.sh
test:   ## lint + all tests, end to end included (what CI runs)
	scripts/test.sh
lint:
	scripts/bootstrap.sh && .venv/bin/ruff check src tests && .venv/bin/ruff format --check src tests
