#!/usr/bin/env bash
# Installs tether into a new virtual environment of its own, as the GitHub Action does
# (action.yml runs this script; tests/test_packaging.py runs the Action's step), and prints the
# path of that environment's python. PYTHON only creates the environment: nothing is installed
# into it, so the caller's interpreter stays as it was.
#
#   scripts/action-install.sh PYTHON VENV_DIR
#
# 1. Every dependency from requirements/action.txt, each pinned and checked against the sha256
#    recorded there (--require-hashes), wheels only (--only-binary :all:: no dependency's build
#    code runs).
# 2. tether itself from this checkout, --no-deps --no-index --no-build-isolation: pip builds the
#    wheel with the hatchling that step 1 installed from the lock, so this step fetches nothing.
#    With build isolation pip would download hatchling and its dependencies unpinned and
#    unchecked (--require-hashes does not reach a build environment).
#
# Nothing from the directory it is run in is imported: in the Action that directory is the
# workspace, the pull request's checkout, where a `venv/`, `pip/`, `ensurepip/` or
# `sitecustomize.py` would otherwise run in place of the standard module (`python -m X` puts
# the current directory first on sys.path). So every interpreter runs with -I (isolated: no
# current directory or script directory on sys.path, no user site-packages, no PYTHON*
# variables), the PYTHON* variables are unset for the interpreters pip and venv start
# themselves (the build backend, ensurepip), and the script works in the new environment's
# directory, not the caller's.
set -euo pipefail
[ $# -eq 2 ] || { echo "usage: $0 PYTHON VENV_DIR" >&2; exit 2; }
base_python=$1
venv=$2
src=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
# relative paths are the caller's: made absolute before leaving its directory
case $base_python in /* | [A-Za-z]:*) ;; */*) base_python=$PWD/$base_python ;; esac
case $venv in /* | [A-Za-z]:*) ;; *) venv=$PWD/$venv ;; esac
while IFS= read -r name; do unset "$name"; done < <(compgen -e | grep '^PYTHON' || true)
mkdir -p "$venv"
cd "$venv"
"$base_python" -I -m venv "$venv"
if [ -x "$venv/bin/python" ]; then
  python=$venv/bin/python
else
  python=$venv/Scripts/python.exe # Windows
fi
pip=("$python" -I -m pip --disable-pip-version-check --no-input --quiet)
"${pip[@]}" install --require-hashes --only-binary :all: -r "$src/requirements/action.txt" >&2
"${pip[@]}" install --no-deps --no-index --no-build-isolation "$src" >&2
echo "$python"
