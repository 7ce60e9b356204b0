"""Reading a submitted notebook and extracting the definitions the graders need.

Only imports, function and class definitions, and assignments without calls are kept, each
top-level statement on its own, so that training loops, plots and tests in the notebook never run
during grading, and a cell that fails to parse costs only what it defines.
"""

import ast
import dataclasses
import json
import pathlib


# The most of a file the trusted parent reads: nbgrader's own cap on a submitted file
# (`ExchangeSubmit.max_file_size`, 100,000 KB). Parsing costs about 3 bytes of memory per byte.
MAX_NOTEBOOK_BYTES = 100_000 * 1024
# What overflows while parsing something built to be deep or huge (nested JSON, a 200,000-term
# expression): the file's fault, never the grader's.
PARSER_OVERFLOWS = (RecursionError, MemoryError)


class NotebookError(Exception):
    """The file cannot be read as a notebook; the message is one sentence for the student."""


@dataclasses.dataclass
class Statement:
    cell: int
    source: str


def read_notebook(path: str | pathlib.Path) -> dict:
    """Reads ``path`` as an nbformat 4 notebook (plain dicts), or raises `NotebookError`.

    Plain `json` rather than `nbformat`: importing nbformat's validator alone takes seconds.
    """
    try:
        with open(path, "rb") as f:
            raw = f.read(MAX_NOTEBOOK_BYTES + 1)
    except OSError as error:
        raise NotebookError(f"The file could not be opened ({error.strerror}).") from None
    if len(raw) > MAX_NOTEBOOK_BYTES:
        raise NotebookError(f"The file is larger than {MAX_NOTEBOOK_BYTES // 1024:,} KB, far "
                            "more than a notebook needs; clear its outputs and submit it again.")
    if not raw.strip():
        raise NotebookError("The file is empty.")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise NotebookError("The file is not UTF-8 text, so it is not a notebook.") from None
    try:
        data = json.loads(text)
    except json.JSONDecodeError as error:
        raise NotebookError(f"The file is not valid notebook JSON ({error.msg} at line "
                            f"{error.lineno}); it may be truncated or not a notebook.") from None
    except PARSER_OVERFLOWS:
        raise NotebookError("The file's JSON is nested too deeply to read, so it is not a "
                            "notebook Jupyter wrote.") from None
    if not isinstance(data, dict) or not isinstance(data.get("cells"), list):
        raise NotebookError("The file is JSON but not a Jupyter notebook (it has no list of cells).")
    if data.get("nbformat") != 4:
        raise NotebookError(f"The notebook is in format version {data.get('nbformat')}; "
                            "open and save it in a current Jupyter to convert it to version 4.")
    return data


def code_cells(notebook: dict) -> list[tuple[int, dict]]:
    """``(index, source)`` of every code cell that is not an nbgrader test cell."""
    for index, cell in enumerate(notebook["cells"]):
        if not isinstance(cell, dict):
            continue
        if cell.get("cell_type") != "code":
            continue
        meta = cell.get("metadata", {}).get("nbgrader", {})
        if meta.get("grade") and not meta.get("solution"):
            continue  # a test cell: visible tests are for the student, not for the grader
        source = cell.get("source", "")
        yield index, "".join(source) if isinstance(source, list) else str(source)


def _has_call(node):
    return any(isinstance(child, ast.Call) for child in ast.walk(node))


def _is_definition(statement):
    if isinstance(statement, (ast.Import, ast.ImportFrom, ast.FunctionDef,
                              ast.AsyncFunctionDef, ast.ClassDef)):
        return True
    if isinstance(statement, (ast.Assign, ast.AnnAssign)):
        return statement.value is not None and not _has_call(statement.value)
    return False


def _to_python(source):
    """Turns IPython syntax (magics, shell escapes) into plain Python."""
    from IPython.core.inputtransformer2 import TransformerManager

    return TransformerManager().transform_cell(source)


def _parse(source):
    """The cell's syntax tree, or a `SyntaxError` for any cell Python cannot take in (IPython
    syntax it cannot turn into Python, an expression too deep or too large to parse)."""
    try:
        return ast.parse(_to_python(source))
    except SyntaxError:
        raise
    except ValueError as error:  # e.g. null bytes
        raise SyntaxError(f"it could not be read ({error})") from None
    except PARSER_OVERFLOWS:
        raise SyntaxError("it is nested too deeply or too large to parse") from None


def _unparse(node):
    try:
        return ast.unparse(node)
    except PARSER_OVERFLOWS:
        raise SyntaxError("it is nested too deeply or too large to parse") from None


def extract_definitions(notebook: dict) -> tuple[list[Statement], list[str]]:
    """The top-level definitions of the notebook's code cells, in order, one per statement.

    Returns:
      ``(statements, unparsed)``: the kept `Statement`s, and one sentence for each cell that
      could not be parsed (nothing in such a cell is run).
    """
    statements, unparsed = [], []
    for index, source in code_cells(notebook):
        try:
            kept = [Statement(index, _unparse(node)) for node in _parse(source).body
                    if _is_definition(node)]
        except SyntaxError as error:
            where = f", line {error.lineno}" if error.lineno else ""
            unparsed.append(f"cell {index} has a syntax error ({error.msg}{where})")
            continue
        statements.extend(kept)
    return statements, unparsed


def defined_names(notebook: dict) -> set[str]:
    """The names of the functions and classes defined at the top level of the code cells."""
    names = set()
    for _, source in code_cells(notebook):
        try:
            tree = _parse(source)
        except SyntaxError:
            continue
        names.update(node.name for node in tree.body
                     if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)))
    return names
