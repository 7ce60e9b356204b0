"""Out-of-process graders for the MAML assignment.

The trusted parent (this package, run as ``python -m autograder``) extracts the definitions from a
notebook, runs them in a sandboxed child process (`inside_sandbox.child`), sends it inputs, gets
plain numbers back, and compares them with closed forms and stored references. Only the parent
decides points. Each graded part's probes, checks and reference values live in its own folder
(`autograder.parts`).
"""
