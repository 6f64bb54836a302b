"""A cache of rule files already validated, so a repeated scan skips what cannot have changed.

Loading a rule means composing its YAML, checking it against the JSON Schema, compiling its
CEL and checking every name it uses: about a millisecond per rule, most of tether's fixed cost
on a small repository. A rule file whose bytes, and whose validating environment (tether's
version, the schema, the fact registry, the CEL functions), are the same as last time cannot
fail validation now, so its checked data is reused and its CEL compiled when first evaluated.

The cache lives in $TETHER_CACHE_DIR, else $XDG_CACHE_HOME/tether, else ~/.cache/tether; set
TETHER_NO_CACHE=1 to bypass it. It is an optimisation only: an unreadable or unwritable cache is
ignored, and a corrupt one is rebuilt.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any

from .. import __version__
from ..facts.kinds import KINDS
from .functions import FUNCTIONS

FILE_NAME = "rules-v1.json"


def directory() -> Path | None:
    if os.environ.get("TETHER_NO_CACHE"):
        return None
    if os.environ.get("TETHER_CACHE_DIR"):
        return Path(os.environ["TETHER_CACHE_DIR"])
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "tether"


@cache
def environment() -> str:
    """What validation depends on besides the file itself."""
    h = hashlib.sha256(__version__.encode())
    h.update(resources.files("scanner.schemas").joinpath("rule.schema.json").read_bytes())
    h.update(json.dumps({k: sorted(v) for k, v in KINDS.items()}, sort_keys=True).encode())
    h.update(" ".join(sorted(FUNCTIONS)).encode())
    return h.hexdigest()


def _write(directory: Path, name: str, data: Any) -> None:
    """Replace a cache file atomically; a cache that cannot be written is simply not kept."""
    try:
        directory.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=directory, prefix=f".{name}-", suffix=".tmp")
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(json.dumps(data))
        os.replace(tmp, directory / name)
    except OSError:
        pass


class RuleCache:
    """Checked rule data by content hash, read once and written back when it grew."""

    def __init__(self) -> None:
        self.dir = directory()
        self.entries: dict[str, Any] = {}
        self.used: dict[str, Any] = {}
        self.dirty = False
        if self.dir is None:
            return
        try:
            data = json.loads((self.dir / FILE_NAME).read_text("utf-8"))
            if data.get("environment") == environment():
                self.entries = dict(data.get("entries", {}))
        except (OSError, ValueError, AttributeError):
            pass

    @staticmethod
    def key(content: bytes) -> str:
        return hashlib.sha256(content).hexdigest()

    def get(self, key: str) -> Any:
        hit = self.entries.get(key)
        if hit is not None:
            self.used[key] = hit
        return hit

    def put(self, key: str, data: Any) -> None:
        self.used[key] = data
        self.dirty = True

    def save(self) -> None:
        """Keep only the entries this load used (so the file tracks the current rules)."""
        if self.dir is None or not (self.dirty or len(self.used) != len(self.entries)):
            return
        _write(self.dir, FILE_NAME, {"environment": environment(), "entries": self.used})


VALIDATED_FILE = "validated-v1.json"


class ValidatedStore:
    """Content hashes of baselines, configurations and exception files found schema-valid."""

    def __init__(self) -> None:
        self.dir = directory()
        self.keys: set[str] = set()
        if self.dir is None:
            return
        try:
            data = json.loads((self.dir / VALIDATED_FILE).read_text("utf-8"))
            if data.get("environment") == environment():
                self.keys = set(data.get("keys", []))
        except (OSError, ValueError, AttributeError):
            pass

    def key(self, kind: str, data: Any) -> str | None:
        if self.dir is None:
            return None
        try:
            canonical = json.dumps([kind, data], sort_keys=True, default=str)
        except (TypeError, ValueError):
            return None
        schema_text = resources.files("scanner.schemas").joinpath(f"{kind}.schema.json")
        h = hashlib.sha256(schema_text.read_bytes())
        h.update(canonical.encode())
        return h.hexdigest()

    def known(self, key: str) -> bool:
        return key in self.keys

    def add(self, key: str) -> None:
        self.keys.add(key)
        if self.dir is None or len(self.keys) > 4096:  # a bound, not an eviction policy
            return
        _write(self.dir, VALIDATED_FILE, {"environment": environment(), "keys": sorted(self.keys)})


def validated_store() -> ValidatedStore:
    """One store per process and cache directory."""
    return _store_for(str(directory()))


@cache
def _store_for(_dir: str) -> ValidatedStore:
    return ValidatedStore()
