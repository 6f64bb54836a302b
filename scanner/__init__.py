"""tether: policy-as-code drift and compliance scanner for platform golden paths.

The library API is :func:`scan`; the command line (``scanner.cli``) only parses flags and
formats what it returns.
"""

from __future__ import annotations

__version__ = "0.1.0"

from .errors import ConfigError  # noqa: E402
from .model import Category, Diagnostic, Fact, Finding, Level, Report, Span  # noqa: E402
from .scan import ScanOptions, scan  # noqa: E402

__all__ = [
    "Category",
    "ConfigError",
    "Diagnostic",
    "Fact",
    "Finding",
    "Level",
    "Report",
    "ScanOptions",
    "Span",
    "__version__",
    "scan",
]
