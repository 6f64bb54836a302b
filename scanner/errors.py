"""Errors that end a scan before it starts: bad configuration, bad rules, bad baselines.
(Bad *input* never raises: it becomes a Diagnostic.)"""

from __future__ import annotations


class ConfigError(Exception):
    """A configuration, rule or baseline problem, located at file and line (exit code 2)."""

    def __init__(self, file: str, line: int | None, message: str) -> None:
        self.file = file
        self.line = line
        self.message = message
        where = f"{file}:{line}" if line else file
        super().__init__(f"{where}: {message}")
