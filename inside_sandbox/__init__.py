"""Everything that runs inside the grading sandbox, and nothing else.

The sandbox binds this folder whole, read-only, and no other file of the grader: the trusted
graders, closed forms and reference values (`autograder`) stay outside, where student code cannot
open them (`autograder.isolation.sandbox`; `tests/test_trust_boundary.py` lists what student code can open).
Nothing here imports `autograder`.

- `child`: the server that forks a worker per notebook, each under a uid of its own, loading that
  notebook's definitions and answering probe requests; it clears each notebook before the next;
- `kernel`: the IPython kernel launcher for `nbgrader autograde --kernel`;
- `limits`: resource limits and the drop to an unprivileged uid, before any student code;
- `lowering`: one MLIR context for all the programs a worker lowers;
- `probing`: the toolkit that the parts' probes (sent by the parent as source) are written with.
"""
