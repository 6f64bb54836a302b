"""tether: policy-as-code drift and compliance scanner for platform golden paths.

The library API is :func:`scan`; the command line (``scanner.cli``) only parses flags and
formats what it returns.

The names below load on first use (PEP 562), so ``tether --version`` and the other commands
import only what they run; the scan itself lives in ``scanner.scanning``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

if TYPE_CHECKING:
    from .errors import ConfigError
    from .model import Category, Diagnostic, Fact, Finding, Level, Report, Span
    from .scanning import ScanOptions, scan

_LAZY = {
    "ConfigError": "errors",
    "Category": "model",
    "Diagnostic": "model",
    "Fact": "model",
    "Finding": "model",
    "Level": "model",
    "Report": "model",
    "Span": "model",
    "ScanOptions": "scanning",
    "scan": "scanning",
}

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


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'scanner' has no attribute {name!r}")
    from importlib import import_module

    value = getattr(import_module(f".{module}", __name__), name)
    globals()[name] = value  # later lookups are plain attribute reads
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
