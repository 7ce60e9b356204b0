"""The assignment's graded parts: one folder per graded name, and the registry of them all.

A part's folder holds everything about it:

- ``__init__.py``: its notebook and its place in that notebook (``NOTEBOOK``, ``ORDER``), and
  whether its checks need the grader's own versions of the parts it builds on
  (``USES_SUBSTITUTES``, `substitutes.py`);
- ``probes.py``: the probes, sent as source into the sandboxed child with the part's first check
  (they are written with `inside_sandbox.probing` and run there, never here);
- ``checks.py``: the checks, one pytest function each, with points and feedback (`checking.case`);
- ``reference.json``: its stored reference values, if its checks compare any;
- any closed form that only its checks use.

Adding a part is adding a folder (docs/adding-a-part.md); nothing here lists them.
"""

import dataclasses
import importlib
import pathlib

FOLDER = pathlib.Path(__file__).resolve().parent
SUBSTITUTES = FOLDER / "substitutes.py"
# The assignment's notebooks, in order, with the points of their written answers, graded by hand
# in nbgrader's formgrader (tests/test_release.py checks that the source notebooks agree).
NOTEBOOKS: dict[str, float] = {"maml": 6.0, "beyond_maml": 4.0}


@dataclasses.dataclass(frozen=True)
class Part:
    """One graded name and the folder that grades it."""

    name: str
    notebook: str
    order: int
    uses_substitutes: bool = False

    @property
    def folder(self) -> pathlib.Path:
        return FOLDER / self.name

    @property
    def checks(self) -> pathlib.Path:
        return self.folder / "checks.py"

    @property
    def reference_file(self) -> pathlib.Path:
        return self.folder / "reference.json"

    def probes_source(self) -> str:
        return (self.folder / "probes.py").read_text(encoding="utf-8")

    def substitutes_source(self) -> str | None:
        """The grader's own versions of graded names, for a part that builds on them."""
        return SUBSTITUTES.read_text(encoding="utf-8") if self.uses_substitutes else None


def _discover() -> dict[str, Part]:
    found = []
    for folder in sorted(FOLDER.iterdir()):
        if (folder / "__init__.py").is_file():
            module = importlib.import_module(f"{__name__}.{folder.name}")
            found.append(Part(folder.name, module.NOTEBOOK, module.ORDER,
                              getattr(module, "USES_SUBSTITUTES", False)))
    unknown = [part.name for part in found if part.notebook not in NOTEBOOKS]
    if unknown:
        raise ValueError(f"parts of no notebook of the assignment: {unknown}")
    order = list(NOTEBOOKS)
    return {part.name: part for part in sorted(found, key=lambda p: (order.index(p.notebook), p.order))}


# Every part, in the notebooks' order (a part's substitutes reach the child only after it is graded).
PARTS: dict[str, Part] = _discover()


def get(name: str) -> Part:
    return PARTS[name]


def of_notebook(notebook: str) -> list[str]:
    """The graded names of ``notebook``, in its order."""
    return [part.name for part in PARTS.values() if part.notebook == notebook]

