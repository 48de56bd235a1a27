#!/usr/bin/env bash
# The GPU check of issue 35, in one command of at most 8 minutes on a borrowed GPU machine:
#
#   bench/gpu/run.sh [--tiny] [--out DIR] [--data-dir DIR] [--challenges "fashion cnn"] [--concurrent N]
#
# 1. prepare: what the machine lacks to grade (Keras and the kit's pure-Python dependencies; the
#    GPU machines we borrow have JAX and PyTorch with CUDA, no TensorFlow and no network) is
#    installed from the wheels in bench/gpu/wheels (made here by bench/gpu/wheels.sh) into a
#    virtual environment that sees the machine's own packages, JAX included;
# 2. measure (bench/gpu/measure.py): (a) `grade submit` of each reference on its full profile,
#    start-up included; (b) N small gradings at once sharing the GPU (each bounded to its share of
#    its memory) against the same gradings one at a time; (c) the same submission on the GPU and on
#    the CPU, verdict and accuracy. It writes DIR/gpu_results.json and DIR/gpu_results.md.
#
# On a machine without a GPU it runs the same steps on the CPU; `--tiny` makes every grading
# small, which is how CI runs it (tests/test_gpu_script.py).
#
# On a borrowed GPU machine (the device tool: one call, the checkout travels, 64 MiB at most):
#   here:   bench/gpu/wheels.sh                               (about 5 MB of wheels, git-ignored)
#           mkdir -p shared/datasets && cp -r ../shared/datasets/{fashion_mnist,mnist} shared/datasets/
#           (42 MB, git-ignored; cats_vs_dogs, 72 MB, is over what one call carries)
#   there:  chmod -R go-rwx solutions && bash bench/gpu/run.sh --challenges fashion cnn --out "$OUT"
#           (no bubblewrap there: as root the batch's sandbox is the uid fallback, which refuses
#           while the reference solutions are readable by other users)
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo="$(cd "$here/../.." && pwd)"
python="${PYTHON:-python3}"
wheels="${GPU_WHEELS:-$here/wheels}"
venv="${GPU_VENV:-${TMPDIR:-/tmp}/cnn-grader-gpu-venv}"

# What is missing, if anything, and the Python to grade with (this one, or a venv made for it).
grading_python="$("$python" "$here/prepare.py" --wheels "$wheels" --venv "$venv")"
echo "grading with $grading_python" >&2

cd "$repo"
export PYTHONUNBUFFERED=1
# Keras' backend: the machine's JAX where TensorFlow is missing (the GPU machines), else the default.
if [ -z "${KERAS_BACKEND:-}" ] && ! "$grading_python" -c "import tensorflow" >/dev/null 2>&1; then
    export KERAS_BACKEND=jax
fi
exec "$grading_python" "$here/measure.py" "$@"
