# Thin entry points; the logic lives in deploy/local/ (see docs/operations-local-stack.md).
PY     := .venv/bin/python
STACK  := $(PY) deploy/local/stack.py
PYTEST := .venv/bin/pytest

.PHONY: bootstrap stack-up stack-down stack-status stack-logs stack-reset lint test demo proto

bootstrap:
	bash deploy/local/bootstrap.sh

# The stack targets need the venv; a fresh clone gets it from bootstrap first.
$(PY):
	bash deploy/local/bootstrap.sh

stack-up: | $(PY)
	$(STACK) up

stack-down: | $(PY)
	$(STACK) down

stack-status: | $(PY)
	$(STACK) status

stack-logs: | $(PY)
	$(STACK) logs

stack-reset: | $(PY)
	$(STACK) reset

# Both checks always run; the target fails if either found something.
lint: | $(PY)
	rc=0; .venv/bin/ruff check libs services tests deploy || rc=1; \
	  .venv/bin/ruff format --check libs services tests deploy bench || rc=1; \
	  .venv/bin/mypy libs services || rc=1; exit $$rc

# pytest's exit code is the target's: 5 ("no tests collected") fails like any other.
test:
	bash deploy/local/bootstrap.sh
	$(STACK) up
	$(PYTEST) -q -p no:cacheprovider --durations=15; rc=$$?; \
	  if [ $$rc -eq 5 ]; then echo "pytest collected no tests: failing"; fi; exit $$rc

# The whole failover on the local stack (deploy/local/demo.py); stays up for the UI
# until Ctrl-C. DEMO_ARGS="--deployments 3 --exit-when-done" is what CI runs.
demo:
	bash deploy/local/bootstrap.sh
	$(STACK) up
	$(PY) deploy/local/demo.py $(DEMO_ARGS)

# gRPC stubs from schemas/proto into libs/common/jetbridge/common/_generated/ (never
# committed; also generated on first import of jetbridge.common.dataplane_api).
proto: | $(PY)
	$(PY) schemas/proto/generate.py
