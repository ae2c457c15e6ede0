PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: test browser demo lint bench vectors mutation clean

$(BIN)/python:
	$(PY) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip

$(STAMP): $(BIN)/python pyproject.toml
	$(BIN)/pip install --quiet -e '.[test]'
	touch $(STAMP)

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/mypy

test: lint
	$(BIN)/pytest

# the browser tests alone, against Debian's chromium (installed by .ci/chromium if missing)
browser: $(STAMP)
	SHORA_CHROMIUM=$$(bash .ci/chromium) $(BIN)/pytest tests/web

demo: $(STAMP)
	$(BIN)/python -m deploy.demo $(DEMO_ARGS)

bench: $(STAMP)
	for b in tests/bench/*.py; do $(BIN)/python $$b || exit 1; done

# Mutation testing (docs/mutation.md): each module against its own fast tests, one module at a time.
# Slow (minutes per module) and not part of `make test`. MUTATE=protocol/merkle.py runs one module.
comma := ,
space := $(subst ,, )
# note's four hypothesis round trips take most of its test time: its mutants run without them
NOTE_PROPERTIES := $(subst $(space),$(comma),$(foreach t,note_round_trip checkpoint_round_trip \
	parse_raises_only_decode_error signed_and_cosigned_checkpoints_open,--deselect \
	tests/protocol/test_note.py::test_property_$(t)))
MUTATION_RUNS := \
	protocol/merkle.py=tests/protocol/test_merkle.py,tests/protocol/test_limits.py \
	protocol/codec.py=tests/protocol/test_codec.py,tests/protocol/test_unicode.py,tests/protocol/test_limits.py \
	protocol/note.py=tests/protocol/test_note.py,tests/protocol/test_limits.py,$(NOTE_PROPERTIES) \
	protocol/bundle.py=tests/protocol/test_bundle.py,tests/protocol/test_limits.py \
	protocol/entry.py=tests/protocol/test_entry.py,tests/protocol/test_record.py,tests/protocol/test_limits.py \
	protocol/recount.py=tests/protocol/test_recount.py \
	node/rules/council/rules.py=tests/node/test_governance_rules.py,tests/node/test_governance.py,tests/node/test_governance_elections.py \
	node/rules/council/decide.py=tests/node/test_governance_rules.py,tests/node/test_governance.py,tests/node/test_members_machine.py,tests/node/test_governance_elections.py,tests/node/test_governance_vote.py
MUTATE ?= $(foreach run,$(MUTATION_RUNS),$(firstword $(subst =, ,$(run))))

mutation: $(STAMP)
	$(BIN)/pip install --quiet -e '.[test,mutation]'
	@for run in $(MUTATION_RUNS); do \
		module=$${run%%=*}; tests=$$(echo $${run#*=} | tr , ' '); \
		case " $(MUTATE) " in *" $$module "*) ;; *) continue ;; esac; \
		echo "== $$module against $$tests"; \
		$(BIN)/python -m tests.mutation run $$module $$tests || exit 1; \
	done

vectors: $(STAMP)
	$(BIN)/python -m tests.vectors.generate

clean:
	rm -rf $(VENV) build *.egg-info
