"""Errors the engine raises. Messages meant for people are Chinese sentences that say what to fix."""
from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class Problem:
    """One thing wrong with a definition file, located precisely enough for a designer to fix it."""

    file: str
    line: int | None
    message: str
    element: str | None = None

    def __str__(self) -> str:
        where = f"{self.file}:{self.line if self.line is not None else 0}"
        what = f" [{self.element}]" if self.element else ""
        return f"{where}:{what} {self.message}"


class EngineError(Exception):
    """Base class of every error the engine reports to a person."""


class DefinitionError(EngineError):
    """A BPMN/DMN file or a set of them cannot be deployed; carries every problem found."""

    def __init__(self, problems: list[Problem]):
        self.problems = list(problems)
        super().__init__("\n".join(str(p) for p in self.problems))


class NotFound(EngineError):
    pass


class WorkItemUnavailable(EngineError):
    """The work item was completed, cancelled or claimed by someone else in the meantime."""


class NotPermitted(EngineError):
    pass


class AmbiguousCorrelation(EngineError):
    """A message's correlation keys match more than one waiting case."""


@dataclass
class FormErrors(EngineError):
    """Submitted form data failed validation: field id -> message. Nothing was saved."""

    errors: dict[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        super().__init__("; ".join(f"{k}: {v}" for k, v in self.errors.items()))


class ProcessFailed(EngineError):
    """The process itself failed while running: a script, an expression, a value it cannot keep.
    The message names the step and may quote the script, so it is for those who may read process
    sources; everyone else is told that a step failed, with a reference (web/failure_text.py)."""


class ScriptError(ProcessFailed):
    """An expression or script was refused or failed inside the restricted environment."""


class ConcurrencyConflict(EngineError):
    """The case changed between load and save; the caller retries the command."""
