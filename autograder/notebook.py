"""Reading a submitted notebook and extracting the definitions the graders need.

Only imports, function and class definitions, and assignments without calls are kept, each
top-level statement on its own, so that training loops, plots and tests in the notebook never run
during grading, and a cell that fails to parse costs only what it defines.
"""

import ast
import dataclasses
import json


class NotebookError(Exception):
    """The file cannot be read as a notebook; the message is one sentence for the student."""


@dataclasses.dataclass
class Statement:
    cell: int
    source: str


def read_notebook(path):
    """Reads ``path`` as an nbformat 4 notebook (plain dicts), or raises `NotebookError`.

    Plain `json` rather than `nbformat`: importing nbformat's validator alone takes seconds.
    """
    try:
        with open(path, "rb") as f:
            raw = f.read()
    except OSError as error:
        raise NotebookError(f"The file could not be opened ({error.strerror}).") from None
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
    if not isinstance(data, dict) or not isinstance(data.get("cells"), list):
        raise NotebookError("The file is JSON but not a Jupyter notebook (it has no list of cells).")
    if data.get("nbformat") != 4:
        raise NotebookError(f"The notebook is in format version {data.get('nbformat')}; "
                            "open and save it in a current Jupyter to convert it to version 4.")
    return data


def code_cells(notebook):
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


def extract_definitions(notebook):
    """The top-level definitions of the notebook's code cells, in order, one per statement.

    Returns:
      ``(statements, unparsed)``: the kept `Statement`s, and one sentence for each cell that
      could not be parsed (nothing in such a cell is run).
    """
    statements, unparsed = [], []
    for index, source in code_cells(notebook):
        try:
            tree = ast.parse(_to_python(source))
        except SyntaxError as error:
            unparsed.append(f"cell {index} has a syntax error ({error.msg}, line {error.lineno})")
            continue
        except ValueError as error:
            unparsed.append(f"cell {index} could not be read ({error})")
            continue
        statements.extend(Statement(index, ast.unparse(node))
                          for node in tree.body if _is_definition(node))
    return statements, unparsed


def defined_names(notebook):
    """The names of the functions and classes defined at the top level of the code cells."""
    names = set()
    for _, source in code_cells(notebook):
        try:
            tree = ast.parse(_to_python(source))
        except (SyntaxError, ValueError):
            continue
        names.update(node.name for node in tree.body
                     if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)))
    return names
