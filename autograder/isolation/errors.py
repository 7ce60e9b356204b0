"""What can go wrong while grading, as types: the grader's failure, or the student's code's.

The child reports an exception of the student's code as a kind (`inside_sandbox.probing.describe`)
and the parent turns it into one of these; the parent's own findings (a timeout, a dead process)
are `StudentError`s whose message is already the student's feedback.
"""

from autograder.isolation import plain_errors


class GraderError(Exception):
    """The grader itself failed (its child could not start): nobody's score, never a zero."""


class StudentError(Exception):
    """The student's code raised, hung or killed its process; the message is for the student."""

    def feedback(self, check: str = "") -> str:
        """What the student reads about this failure (in the check named ``check``)."""
        return str(self)


class StudentTimeout(StudentError):
    """The student's code did not answer in time (or a check was skipped after one that did not)."""


class CodeRaised(StudentError):
    """The student's code raised an exception; the message is ``Type: message``. ``inputs``
    describes what the check passed (`plain_errors.describe_inputs`), when known."""

    inputs = ""

    def feedback(self, check: str = "") -> str:
        """The likely cause in plain words first, when the message is a known one; then the
        exception, the check and its inputs' shapes, and Python's message without the grader's
        internals."""
        message = plain_errors.without_internals(str(self))
        kind, _, detail = (part.strip() for part in message.partition(":"))
        text = f"Your code raised {kind}" + (f" in the check '{check}'" if check else "")
        text += f" with inputs {self.inputs}" if self.inputs else ""
        text = f"{text}: {detail}" if detail else text
        reading = plain_errors.plain_reading(message, self.inputs)
        return f"Likely cause: {reading}. {text}" if reading else text


class NotImplementedYet(CodeRaised):
    """The student's code raised NotImplementedError: the template, untouched."""

    def feedback(self, check: str = "") -> str:
        return "Not implemented yet."


class MissingName(CodeRaised):
    """The notebook does not define a graded name; the message says which."""

    def feedback(self, check: str = "") -> str:
        return f"{self}."


# The kinds of error a child reports (`inside_sandbox.probing.describe`); anything else is raised.
KINDS: dict[str, type[CodeRaised]] = {"raised": CodeRaised, "not_implemented": NotImplementedYet,
                                      "missing_name": MissingName}
