"""The CEL runtime (common-expression-language's compiled extension), loaded without the
package's `__init__`, which eagerly imports its interactive CLI (typer, prompt_toolkit, rich,
pygments): 130 ms of every tether start-up for nothing tether uses. If the package layout ever
differs, or `cel` is already imported, this falls back to the normal import."""

from __future__ import annotations

import importlib.machinery
import importlib.util
import sys
from pathlib import Path
from types import ModuleType
from typing import Any


def _load() -> ModuleType:
    loaded = sys.modules.get("cel.cel") or sys.modules.get("cel")
    if loaded is not None:
        return loaded
    try:
        spec = importlib.util.find_spec("cel")
        locations = list(spec.submodule_search_locations or []) if spec else []
        for loc in locations:
            for suffix in importlib.machinery.EXTENSION_SUFFIXES:
                path = Path(loc) / f"cel{suffix}"
                if path.is_file():
                    loader = importlib.machinery.ExtensionFileLoader("cel.cel", str(path))
                    ext_spec = importlib.util.spec_from_file_location(
                        "cel.cel", path, loader=loader
                    )
                    if ext_spec is None:
                        continue
                    module = importlib.util.module_from_spec(ext_spec)
                    loader.exec_module(module)
                    # registered so a later `import cel` reuses it (PyO3 initialises once)
                    sys.modules["cel.cel"] = module
                    return module
    except (ImportError, OSError):
        pass
    import cel

    return cel


_module: ModuleType | None = None


def _cel() -> ModuleType:
    # loaded on the first compile or context, not on import: a scan whose rules are all
    # known valid, and that finds nothing to judge, never needs the runtime (~4 ms with the
    # `logging` import its extension makes)
    global _module
    if _module is None:
        _module = _load()
    return _module


def compile(src: str) -> Any:  # noqa: A001 - the CEL library's own name
    return _cel().compile(src)


def Context(**kwargs: Any) -> Any:  # noqa: N802 - stands for the CEL library's class
    return _cel().Context(**kwargs)
