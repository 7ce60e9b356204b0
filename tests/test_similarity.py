"""`autograder.similarity`: copies are found whatever their names, layout and statement order;
independent solutions written differently are not flagged; templates and trivial code are not
compared."""

import ast
import json

import bank
import pytest
import submissions

from autograder import parts
from autograder import similarity as similarity_cli
from autograder.grading import similarity

SOLUTIONS = {**submissions.solution_sources("maml"), **submissions.solution_sources("beyond_maml")}
# Correct code written independently of the solution (the float32 variants are the solution with
# casts added, so they are near copies by construction and are left out).
INDEPENDENT = {name: [v.cells[name] for v in bank.ALTERNATIVES
                      if name in v.cells and "float32" not in v.name]
               for name in parts.PARTS}

def _own_fingerprints(name):
    return len(similarity.fingerprints(similarity.normal_statements(SOLUTIONS[name])))


# Graded functions long enough to compare, with independent solutions in the bank to compare with.
CHECKED = [name for name in parts.PARTS
           if INDEPENDENT[name] and _own_fingerprints(name) >= similarity.MIN_FINGERPRINTS]


class _Renamer(ast.NodeTransformer):
    """Gives every argument and local a new name, as a student hiding a copy would."""

    def __init__(self, bound):
        self.bound = bound

    def visit_Name(self, node):
        if node.id in self.bound:
            node.id = f"my_{node.id}"
        return node

    def visit_arg(self, node):
        node.arg = f"my_{node.arg}"
        return node


def renamed(source):
    tree = ast.parse(source)
    definition = tree.body[0]
    bound = {a.arg for a in ast.walk(definition) if isinstance(a, ast.arg)} | {
        n.id for n in ast.walk(definition) if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Store)}
    return ast.unparse(_Renamer(bound).visit(tree))


def reformatted(source):
    """Another docstring, a comment on every line, blank lines, and the body re-laid out."""
    tree = ast.parse(source)
    body = tree.body[0].body
    if similarity._is_docstring(body[0]):
        body[0].value.value = "My own words about what this does."
    lines = ast.unparse(tree).splitlines()
    return "\n\n".join(f"{line}  # step {i}" if not line.rstrip().endswith(("\"\"\"", "'''")) else line
                       for i, line in enumerate(lines))


def reordered(source):
    """The body's last two statements before its return swapped, where they do not depend on
    each other, else the first two after the docstring."""
    tree = ast.parse(source)
    body = [s for s in tree.body[0].body if not similarity._is_docstring(s)]
    i = next((i for i in range(len(body) - 2, 0, -1)
              if not _names(body[i]) & _stores(body[i - 1])), 0)
    body[i - 1], body[i] = body[i], body[i - 1]
    tree.body[0].body = body
    return ast.unparse(tree)


def _names(statement):
    return {n.id for n in ast.walk(statement) if isinstance(n, ast.Name)}


def _stores(statement):
    stored = {n.id for n in ast.walk(statement) if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Store)}
    if isinstance(statement, ast.FunctionDef):
        stored.add(statement.name)
    return stored


def class_of(name):
    """``{student: source}``: the solution, its three disguised copies, the independent
    solutions, and one disguised copy of the first independent solution."""
    students = {"solution": SOLUTIONS[name]}
    for disguise in (renamed, reformatted, reordered):
        students[f"solution_{disguise.__name__}"] = disguise(SOLUTIONS[name])
    for i, source in enumerate(INDEPENDENT[name]):
        students[f"independent_{i}"] = source
    students["independent_0_renamed"] = renamed(INDEPENDENT[name][0])
    return students


@pytest.mark.parametrize("disguise", [renamed, reformatted])
def test_renaming_and_reformatting_leave_the_normal_form_unchanged(disguise):
    """Names the function binds, docstrings, comments and layout are all gone from the normal
    form of every graded function's solution."""
    for name in parts.PARTS:
        source = SOLUTIONS[name]
        assert disguise(source) != source
        assert similarity.normal_statements(disguise(source)) == similarity.normal_statements(source)


def test_reordering_statements_keeps_every_fingerprint():
    """Fingerprints are taken statement by statement, so swapping two independent statements
    (iMAML's test gradient and its Hessian-vector product) keeps the set."""
    source = SOLUTIONS["imaml_meta_gradient"]
    swapped = reordered(source)
    assert similarity.normal_statements(swapped) != similarity.normal_statements(source)
    assert similarity.fingerprints(similarity.normal_statements(swapped)) == similarity.fingerprints(
        similarity.normal_statements(source))


@pytest.mark.parametrize("name", CHECKED)
def test_every_planted_copy_is_found_and_no_independent_solution_is_flagged(name):
    """In a class of the solution, its renamed, reformatted and reordered copies, the independent
    correct solutions of the tests' bank and a renamed copy of one of them: the copies cluster
    with their originals, and no two independent solutions share a cluster."""
    found = similarity.clusters(class_of(name))
    groups = [set(c["students"]) for c in found]
    copies_of_solution = {"solution", "solution_renamed", "solution_reformatted", "solution_reordered"}
    assert any(copies_of_solution <= group for group in groups), found
    assert any({"independent_0", "independent_0_renamed"} <= group for group in groups), found
    for group in groups:
        originals = {s for s in group if s == "solution" or s.startswith("independent_")
                     and not s.endswith("_renamed")}
        assert len(originals) <= 1, f"independent solutions flagged together: {found}"
    assert all(c["score"] >= similarity.THRESHOLD for c in found)


def test_a_near_copy_scores_below_an_exact_one():
    """One extra statement in a copy lowers its score below 1 but keeps it flagged; the exact
    copies score 1."""
    source = SOLUTIONS["imaml_meta_gradient"]
    extra = source.replace("    return solution", "    solution = tree_map(lambda s: s * 1.0, solution)\n"
                           "    return solution")
    found = similarity.clusters({"a": source, "b": renamed(source), "c": extra,
                                 **{f"other_{i}": s for i, s in enumerate(INDEPENDENT["imaml_meta_gradient"])}})
    assert {"a", "b", "c"} in [set(c["students"]) for c in found]
    exact = similarity.clusters({"a": source, "b": renamed(source)})
    assert exact == [{"students": ["a", "b"], "score": 1.0}]
    assert found[0]["score"] < 1.0


def test_the_compared_functions_include_every_long_graded_function():
    """Only the one- and two-line functions (inner_step_objective, square_error_loss,
    adaptation_loss) are too short to compare; the planted-copy test covers every other graded
    function with an independent solution in the bank."""
    short = {name for name in parts.PARTS if _own_fingerprints(name) < similarity.MIN_FINGERPRINTS}
    assert short == {"inner_step_objective", "square_error_loss", "adaptation_loss"}
    assert set(CHECKED) == {name for name in parts.PARTS if INDEPENDENT[name]} - short


def test_untouched_templates_and_trivial_code_are_not_compared():
    """Students who left the release's stub, or wrote the same one-line loss, are not flagged."""
    template = similarity.graded_sources(submissions.load(submissions.release_path("maml")),
                                         ["adapt", "square_error_loss"])
    stubs = similarity.clusters({s: template["adapt"] for s in "abc"}, template["adapt"])
    assert stubs == []
    one_liner = SOLUTIONS["square_error_loss"]
    assert similarity.clusters({s: renamed(one_liner) for s in "abc"},
                               template["square_error_loss"]) == []


def test_a_class_folder_is_compared_per_graded_name(tmp_path):
    """`python -m autograder.similarity` on nbgrader's submitted/ layout: two students with the
    same solution under other names are one cluster for every graded name they share, a student
    with the release's stubs is in none, and every graded name has an entry."""
    for notebook in parts.NOTEBOOKS:
        cells = submissions.solution_sources(notebook)
        for student, answers in (
                ("ann", cells),
                ("ben", {g: renamed(s) if g in parts.PARTS else s for g, s in cells.items()}),
                ("cat", {g: None for g in cells})):
            submissions.write(submissions.submission(answers, notebook=notebook),
                              tmp_path / "submitted" / student / "maml" / f"{notebook}.ipynb")
    out = tmp_path / "similarity.json"
    assert similarity_cli.main([str(tmp_path / "submitted"), "--release",
                            str(submissions.release_path("maml").parent), "--out", str(out)]) == 0
    found = json.loads(out.read_text())
    assert set(found) == set(parts.PARTS)
    long_enough = [n for n in parts.PARTS if found[n]]
    assert {"adapt", "imaml_meta_gradient", "reptile_update"} <= set(long_enough)
    for name in long_enough:
        assert found[name] == [{"students": ["ann", "ben"], "score": 1.0}]


def test_broken_and_hostile_notebooks_do_not_stop_the_others(tmp_path):
    """A file that is not a notebook, a cell that does not parse and a function nested too deeply
    to unparse cost only their own student: the two copies are still found."""
    nested = "def adapt(loss, params, x, y, alpha, steps=1, first_order=False):\n    return " + (
        "(" * 5000) + "1" + (")" * 5000) + "\n"
    for student, answer in (("ann", SOLUTIONS["adapt"]), ("ben", renamed(SOLUTIONS["adapt"])),
                            ("deep", nested), ("typo", "def adapt(:\n")):
        submissions.write(submissions.submission({"adapt": answer}),
                          tmp_path / student / "maml" / "maml.ipynb")
    (tmp_path / "junk" / "maml").mkdir(parents=True)
    (tmp_path / "junk" / "maml" / "maml.ipynb").write_text("{not json", encoding="utf-8")
    found = similarity.class_similarity(tmp_path, submissions.release_path("maml").parent)
    assert found["adapt"] == [{"students": ["ann", "ben"], "score": 1.0}]


def test_graded_functions_are_read_as_the_grader_extracts_them():
    """`graded_sources` (a fast path: plain-Python cells parsed as they are, only the wanted
    definitions unparsed) gives what the grader's own extraction gives, for the solution, every
    bank version and a cell with IPython magics."""
    from autograder.grading import notebook as notebook_reading

    versions = [{}] + [v.cells for v in bank.WRONG + bank.ALTERNATIVES + bank.BROKEN]
    magic = {"adapt": "%time x = 1\n!echo hi\n" + SOLUTIONS["adapt"]}
    for cells in versions + [magic]:
        for name in parts.NOTEBOOKS:
            data = submissions.submission({k: v for k, v in cells.items()
                                           if k in submissions.solution_sources(name)},
                                          notebook=name)
            wanted = parts.of_notebook(name)
            statements, _ = notebook_reading.extract_definitions(data)
            expected = {}
            for statement in statements:
                node = ast.parse(statement.source).body[0]
                if getattr(node, "name", None) in wanted:
                    expected[node.name] = statement.source
            assert similarity.graded_sources(data, wanted) == expected
