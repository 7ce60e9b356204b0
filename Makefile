# Two commands do everything on a fresh machine (each installs into .venv/ first):
#   make demo   build the release, autograde the bundled examples, print grades, write feedback
#   make test   run the package's tests
PYTHON ?= python3
VENV := .venv
BIN := $(CURDIR)/$(VENV)/bin
export PATH := $(BIN):$(PATH)

.PHONY: demo test benchmark solutions references release table2

# requirements.lock pins every transitive dependency (regenerate: pip freeze --exclude-editable).
# bubblewrap (Debian package) sandboxes the student's process; without it grading warns loudly.
$(VENV)/installed: pyproject.toml requirements.lock
	command -v bwrap >/dev/null || (apt-get update -qq && apt-get install -y -qq bubblewrap) \
		|| echo "WARNING: could not install bubblewrap: grading will run unsandboxed" >&2
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip==26.3
	$(BIN)/python -m pip install --quiet --constraint requirements.lock --editable '.[test]'
	touch $@

demo: $(VENV)/installed
	$(BIN)/python -m autograder.course demo

# Debian's chromium: the class report's test opens the page in it (tests/test_report.py).
test: $(VENV)/installed
	command -v chromium >/dev/null || (apt-get update -qq && apt-get install -y -qq chromium) \
		|| echo "WARNING: could not install chromium: the class report's browser test will fail" >&2
	$(BIN)/python -m pytest tests

benchmark: $(VENV)/installed
	$(BIN)/python benchmarks/grading_time.py
	$(BIN)/python benchmarks/meta_training_speed.py

# The paper's Table 2 at paper scale (results/table2.json, .md, .png).
table2: $(VENV)/installed
	$(BIN)/python -m experiments.table2

# Instructor chores: regenerate what is committed after editing source/.
release: $(VENV)/installed
	$(BIN)/nbgrader generate_assignment maml --force

solutions: $(VENV)/installed
	$(BIN)/nbgrader generate_solution maml --force

references: $(VENV)/installed
	$(BIN)/python -m autograder.reference --update-goldens
