#!/usr/bin/env bash
# Set up a checkout for grading and for the tests, from a fresh machine:
#   1. the system packages the sandbox and the browser tests need: bubblewrap (every submission
#      runs in its sandbox, docs/security.md) and a headless Chromium with a font (the report and
#      leaderboard pages are tested in a real browser). Installed with apt-get where this runs as
#      root on a Debian-like system; otherwise one line says what to install, and the tests that
#      need them skip, saying why.
#   2. a virtual environment in .venv with the kit and its development tools (pip install -e ".[dev]").
#   3. the verified datasets: from ../shared/datasets where that folder exists, else downloaded
#      from their canonical addresses (`grade data fetch`).
# Run it again at any time: it installs only what is missing.
set -euo pipefail
cd "$(dirname "$0")"

missing=()
command -v bwrap >/dev/null 2>&1 || missing+=(bubblewrap)
command -v chromium >/dev/null 2>&1 || missing+=(chromium fonts-dejavu-core)
if [ ${#missing[@]} -gt 0 ]; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    echo "setup: installing ${missing[*]} with apt-get"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq "${missing[@]}" >/dev/null
  else
    echo "setup: ${missing[*]} not found; install them (Debian or Ubuntu: sudo apt-get install ${missing[*]})." >&2
    echo "setup: until then the sandbox tests (bubblewrap) and the browser tests (chromium) skip, saying why." >&2
  fi
fi

[ -x .venv/bin/python ] || python3 -m venv .venv
.venv/bin/python -m pip install --quiet --upgrade pip
.venv/bin/python -m pip install --quiet -e ".[dev]"

if [ -d ../shared/datasets ]; then
  .venv/bin/grade data fetch --data-dir ../shared/datasets
else
  .venv/bin/grade data fetch
fi
