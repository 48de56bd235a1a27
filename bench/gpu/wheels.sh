#!/usr/bin/env bash
# Download, here (with a network), the wheels bench/gpu/run.sh installs on a GPU machine that has
# none: Keras and the kit's dependencies that such a machine lacks (KINDS.md of the device library
# lists what it has: JAX, PyTorch, NumPy, h5py, ml-dtypes, click, rich, Jinja2, matplotlib...).
# The versions are this checkout's (.venv), so the GPU grades with the same Keras as CI.
#
#   bench/gpu/wheels.sh [PYTHON_VERSION]      (default 3.12: the GPU machines' python3)
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo="$(cd "$here/../.." && pwd)"
version="${1:-3.12}"
pip="$repo/.venv/bin/python -m pip"
pinned() { $repo/.venv/bin/python -c "import importlib.metadata as m, sys; print('\n'.join(f'{n}=={m.version(n)}' for n in sys.argv[1:]))" "$@"; }
rm -rf "$here/wheels"
mkdir -p "$here/wheels"
# shellcheck disable=SC2046
$pip download -q --no-deps --only-binary=:all: --python-version "$version" --implementation cp \
    --platform manylinux_2_28_x86_64 --platform manylinux_2_17_x86_64 --platform manylinux2014_x86_64 \
    -d "$here/wheels" \
    $(pinned keras namex optree pydantic pydantic-core annotated-types typing-inspection platformdirs tenacity pyseccomp)
ls -la "$here/wheels"
