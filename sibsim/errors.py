"""Errors that speak the user's language: the field, the value given, what is allowed."""

from __future__ import annotations


class SibsimError(Exception):
    """Base class for every error sibsim raises on purpose."""


class ScenarioError(SibsimError, ValueError):
    """A scenario (file, dict or override) is not valid.

    ``problems`` is a list of ``(field, message)`` pairs; ``field`` is a dotted
    path such as ``outcomes.0.baseline`` so the app can show the message beside
    the field it concerns.
    """

    def __init__(self, problems: list[tuple[str, str]], *, source: str | None = None):
        self.problems = list(problems)
        self.source = source
        head = f"{source}: " if source else ""
        lines = [f"{field}: {msg}" if field else msg for field, msg in self.problems]
        if len(lines) == 1:
            super().__init__(head + "invalid scenario: " + lines[0])
        else:
            super().__init__(head + "invalid scenario:\n  " + "\n  ".join(lines))

    def __reduce__(self):  # rebuilt from its problems (a worker process's error reaches the parent whole)
        return _scenario_error, (self.problems, self.source)


def _scenario_error(problems, source):
    return ScenarioError(problems, source=source)


class UsageError(SibsimError, ValueError):
    """A call or command-line argument is not valid (unknown name, bad value)."""


class SibsimWarning(UserWarning):
    """Something sibsim changed or doubts but carries on with (printed by the CLI as one line)."""


class Terminated(BaseException):
    """The process received SIGTERM (raised by the CLI's handler so that cleanup code runs)."""
