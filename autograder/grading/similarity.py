"""Similar code across a class, per graded function. It flags; it never changes a grade.

Each student's graded function (the last top-level definition of its name, read as the grader
reads it, never run) is reduced to a **normal form**: its syntax tree without docstrings,
comments or formatting, with every name the function binds (arguments, locals, loop variables,
inner functions) replaced by one placeholder, and the names it reads from outside (``jax``,
``jnp``, ``optax``, attributes) kept. Renaming, reformatting and comments therefore change
nothing. Each top-level statement of the body is then **fingerprinted** by winnowing
(Schleimer, Wilkerson and Aiken, 2003): hashes of its ``K``-token runs, of which the smallest in
every window of ``WINDOW`` consecutive ones is kept. Fingerprints are taken statement by
statement, so reordered statements keep them.

Two implementations' score is the Jaccard index of their fingerprint sets, after removing the
fingerprints of the released template (what every student starts from) and those that more than
``COMMON`` of the class's distinct implementations share (code everyone writes; copies count
once, so they cannot make themselves common). Implementations with fewer than
``MIN_FINGERPRINTS`` of their own are too short to tell copying from convergence and are not
compared; nor are untouched templates. Pairs scoring at least
``THRESHOLD`` are joined into clusters; a cluster's score is its weakest joining pair's.

`class_similarity` returns ``{graded name: [{"students": [...], "score": s}, ...]}``, clusters with
the highest score first.

References:
  Schleimer, Wilkerson and Aiken, 2003, "Winnowing: Local Algorithms for Document
  Fingerprinting", SIGMOD.
"""

import ast
import io
import pathlib
import tokenize
import zlib

from autograder import parts
from autograder.grading import batch_grading, notebook

K = 5  # tokens per hashed run
WINDOW = 4  # runs per winnowing window: any shared run of K + WINDOW - 1 tokens is caught
COMMON = 0.5  # a fingerprint in more than this fraction of the class is nobody's evidence
# A function of a line or two (the solutions of inner_step_objective, square_error_loss and
# adaptation_loss: 8 to 11 fingerprints) is written alike by students who never met; the shortest
# solution compared here, MLP's, has 13 beyond its template.
MIN_FINGERPRINTS = 12
# Renamed, reformatted and reordered copies score 1; the tests' bank's independent correct
# versions score at most 0.50 against the solution (adapt with lax.fori_loop), and versions
# derived from the solution with a few casts added 0.58 to 0.80 (tests/test_similarity.py).
THRESHOLD = 0.7
PLACEHOLDER = "_"


def graded_sources(notebook_data: dict, names: list[str]) -> dict[str, str]:
    """``{name: source}`` of the last top-level definition of each of ``names`` in the notebook's
    code cells, as the grader extracts it (`notebook.extract_definitions`), only faster: a cell
    that is plain Python is parsed as it is (IPython's transforms change only what Python rejects),
    and only the definitions wanted are unparsed."""
    found = {}
    for _, source in notebook.code_cells(notebook_data):
        try:
            tree = _parse_cell(source)
        except (SyntaxError, *notebook.PARSER_OVERFLOWS):
            continue
        for node in tree.body:
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)) \
                    and node.name in names:
                try:
                    found[node.name] = ast.unparse(node)
                except notebook.PARSER_OVERFLOWS:
                    continue
    return found


def _parse_cell(source):
    try:
        return ast.parse(source)
    except (SyntaxError, ValueError):
        return notebook._parse(source)  # IPython syntax, or the grader's own reason to refuse it


class _Normaliser(ast.NodeTransformer):
    """Drops docstrings and replaces every name the definition binds by `PLACEHOLDER`."""

    def __init__(self, bound):
        self.bound = bound

    def visit_Name(self, node):
        if node.id in self.bound:
            node.id = PLACEHOLDER
        return node

    def visit_arg(self, node):
        node.arg = PLACEHOLDER
        node.annotation = None
        return node

    def _definition(self, node):
        node.body = [s for s in node.body if not _is_docstring(s)] or [ast.Pass()]
        self.generic_visit(node)
        return node

    def visit_FunctionDef(self, node):
        node.name = PLACEHOLDER
        node.returns = None
        return self._definition(node)

    visit_AsyncFunctionDef = visit_FunctionDef

    def visit_ClassDef(self, node):
        return self._definition(node)


def _is_docstring(statement):
    return (isinstance(statement, ast.Expr) and isinstance(statement.value, ast.Constant)
            and isinstance(statement.value.value, str))


def _bound_names(tree):
    bound = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Name) and isinstance(node.ctx, (ast.Store, ast.Del)):
            bound.add(node.id)
        elif isinstance(node, ast.arg):
            bound.add(node.arg)
        elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            bound.add(node.name)
        elif isinstance(node, ast.alias):
            bound.add((node.asname or node.name).split(".")[0])
    return bound


def normal_statements(source: str) -> list[str]:
    """The definition's body in normal form, one string per top-level statement (a class's
    methods each count as one)."""
    definition = ast.parse(source).body[0]
    name = definition.name
    bound = _bound_names(definition) - {name}
    body = [s for s in definition.body if not _is_docstring(s)]
    if isinstance(definition, ast.ClassDef):
        _Normaliser(bound).visit(definition)
        return [ast.unparse(s) for s in definition.body]
    normaliser = _Normaliser(bound)
    return [ast.unparse(normaliser.visit(s)) for s in body]


def _tokens(text):
    skip = {tokenize.NEWLINE, tokenize.NL, tokenize.INDENT, tokenize.DEDENT, tokenize.COMMENT,
            tokenize.ENDMARKER}
    return [t.string for t in tokenize.generate_tokens(io.StringIO(text).readline)
            if t.type not in skip]


def fingerprints(statements: list[str]) -> set[int]:
    """Winnowed hashes of every statement's ``K``-token runs (a shorter statement: one hash)."""
    found = set()
    for statement in statements:
        tokens = _tokens(statement)
        runs = [zlib.crc32("\x1f".join(tokens[i:i + K]).encode())
                for i in range(max(1, len(tokens) - K + 1))]
        for start in range(max(1, len(runs) - WINDOW + 1)):
            found.add(min(runs[start:start + WINDOW]))
    return found


def clusters(sources: dict[str, str], template: str | None = None) -> list[dict]:
    """``[{"students": [...], "score": s}]`` for one graded name, from ``{student: source}``."""
    template_statements = _normal(template) if template else None
    template_prints = fingerprints(template_statements) if template_statements else set()
    prints = {}
    by_source = {}  # students who submitted the very same text are read once
    for student, source in sources.items():
        if source not in by_source:
            statements = _normal(source)
            by_source[source] = (None if statements is None or statements == template_statements
                                 else fingerprints(statements) - template_prints)
        if by_source[source] is not None:
            prints[student] = by_source[source]
    holders, distinct = {}, {}
    for student, found in prints.items():
        for fingerprint in found:
            holders.setdefault(fingerprint, []).append(student)
        distinct.setdefault(frozenset(found), student)
    # Common code is counted over distinct implementations, so that copies cannot make themselves
    # common and hide.
    implementations = {}
    for found in distinct:
        for fingerprint in found:
            implementations[fingerprint] = implementations.get(fingerprint, 0) + 1
    common = {f for f, count in implementations.items()
              if count > COMMON * len(distinct) and count > 2}
    own = {s: found - common for s, found in prints.items()}
    own = {s: frozenset(found) for s, found in own.items() if len(found) >= MIN_FINGERPRINTS}
    # Identical fingerprint sets score 1 with each other: each set is scored once against the
    # others, so the work grows with the distinct implementations, not with the copies.
    copies = {}
    for student in sorted(own):
        copies.setdefault(own[student], []).append(student)
    edges = [(1.0, members[0], other) for members in copies.values() for other in members[1:]]
    first = {found: members[0] for found, members in copies.items()}
    shared = {}
    for fingerprint, who in holders.items():
        if fingerprint in common:
            continue
        sets = sorted({own[s] for s in who if s in own}, key=lambda found: first[found])
        for i, a in enumerate(sets):
            for b in sets[i + 1:]:
                shared[a, b] = shared.get((a, b), 0) + 1
    for (a, b), count in shared.items():
        score = count / len(a | b)
        if score >= THRESHOLD:
            edges.append((score, first[a], first[b]))
    return _join(sorted(edges, reverse=True))


def _normal(source):
    try:
        return normal_statements(source)
    except (SyntaxError, ValueError, IndexError, *notebook.PARSER_OVERFLOWS):
        return None


def _join(edges):
    """Union-find over the pairs, strongest first; a cluster's score is its weakest joining pair's."""
    parent, score = {}, {}

    def root(x):
        while parent.setdefault(x, x) != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    for value, a, b in edges:
        ra, rb = root(a), root(b)
        if ra != rb:
            parent[rb] = ra
            score[ra] = min(value, score.get(ra, 1.0), score.get(rb, 1.0))
    groups = {}
    for student in parent:
        groups.setdefault(root(student), []).append(student)
    found = [{"students": sorted(members), "score": round(score[r], 3)}
             for r, members in groups.items() if len(members) > 1]
    return sorted(found, key=lambda c: (-c["score"], c["students"]))


def class_sources(submitted: str | pathlib.Path) -> dict[str, dict[str, str]]:
    """``{graded name: {student: source}}`` over every student of nbgrader's ``submitted``
    folder (read, never run)."""
    sources = {name: {} for name in parts.PARTS}
    for (student, _), files in batch_grading.submissions(submitted).items():
        for notebook_name, path in files.graded.items():
            try:
                data = notebook.read_notebook(path)
            except notebook.NotebookError:
                continue
            for name, source in graded_sources(data, parts.of_notebook(notebook_name)).items():
                sources[name][student] = source
    return sources


def class_similarity(submitted: str | pathlib.Path, release: str | pathlib.Path,
                     sources: dict[str, dict[str, str]] | None = None) -> dict:
    """``{graded name: clusters}`` over every student of nbgrader's ``submitted`` folder (or of
    ``sources``, `class_sources`' result), with the released notebooks in ``release`` as the
    template."""
    sources = class_sources(submitted) if sources is None else sources
    result = {}
    for name, part in parts.PARTS.items():
        template_path = pathlib.Path(release) / f"{part.notebook}.ipynb"
        template = (graded_sources(notebook.read_notebook(template_path), [name]).get(name)
                    if template_path.is_file() else None)
        result[name] = clusters(sources.get(name, {}), template)
    return result
