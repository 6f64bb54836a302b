#!/usr/bin/env bash
# Regenerates requirements/action.txt, the hash-locked requirements the GitHub Action installs
# (scripts/action-install.sh): pyproject.toml's runtime dependencies and its build backend
# (build-system.requires: the Action builds tether's wheel with --no-build-isolation).
#
# uv's universal resolution gives one set of pins for every platform and every Python from the
# requires-python floor up, and keeps the environment markers (ruamel.yaml.clib on CPython only,
# colorama on Windows only, ...); pip-compile would resolve for this machine alone. For each
# pinned version it records the sha256 of every file the index has (each platform's wheels, the
# sdist). uv runs from a throwaway virtual environment, not the project's.
#
#   scripts/lock-action-requirements.sh        (needs python3 >= 3.11 and the package index)
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
uv_version=0.13.9
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
python3 -m venv "$tmp/venv"
"$tmp/venv/bin/python" -m pip install --quiet --disable-pip-version-check "uv==$uv_version"
# build.in: pyproject.toml's build-system.requires; prints the requires-python floor
floor=$(python3 - "$tmp/build.in" <<'PY'
import sys
import tomllib

with open("pyproject.toml", "rb") as f:
    pyproject = tomllib.load(f)
with open(sys.argv[1], "w") as out:
    out.write("".join(f"{r}\n" for r in pyproject["build-system"]["requires"]))
print(pyproject["project"]["requires-python"].removeprefix(">="))
PY
)
{
  cat <<HEADER
# The GitHub Action's dependencies (action.yml, scripts/action-install.sh installs them with
# pip install --require-hashes --only-binary :all:): pyproject.toml's runtime dependencies and
# its build backend, pinned for every platform and Python >= $floor, with the sha256 of every
# file of each pinned version. Do not edit by hand; regenerate with
#    scripts/lock-action-requirements.sh
# which runs, with uv $uv_version in a throwaway virtual environment,
#    uv pip compile --universal --python-version $floor --generate-hashes pyproject.toml BUILD.in
# where BUILD.in lists pyproject.toml's build-system.requires.
HEADER
  "$tmp/venv/bin/uv" pip compile --universal --python-version "$floor" --generate-hashes \
    --custom-compile-command "scripts/lock-action-requirements.sh" \
    pyproject.toml "$tmp/build.in"
} | sed "s|-r $tmp/build.in|build-system.requires (pyproject.toml)|" >"$tmp/action.txt"
mkdir -p requirements
mv "$tmp/action.txt" requirements/action.txt
echo "wrote requirements/action.txt (Python >= $floor)"
