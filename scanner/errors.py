"""Errors that end a scan before it starts: bad configuration, bad rules, bad baselines.
(Bad *input* never raises: it becomes a Diagnostic.)"""

from __future__ import annotations

from .redact import clip, redact

MAX_MESSAGE: int = 300  # characters of a message; a configuration error quotes, never copies


class ConfigError(Exception):
    """A configuration, rule or baseline problem, located at file and line (exit code 2).

    The message may quote repository text (a configuration file is often the repository's
    own), so it is redacted and clipped to :data:`MAX_MESSAGE` characters before it is
    stored; ``file`` is redacted too."""

    def __init__(self, file: str, line: int | None, message: str) -> None:
        self.file = redact(file)
        self.line = line
        # redact before clipping, so a cut cannot leave the start of a token unrecognised
        self.message = clip(redact(message), MAX_MESSAGE)
        where = f"{self.file}:{line}" if line else self.file
        super().__init__(f"{where}: {self.message}")
