#!/usr/bin/env bash
# tuilab on a GPU machine that has CUDA torch in its python3 but none of our other
# dependencies, and no network: carry them as wheels.
#
#   bash bench/gpu_setup.sh download   # here, with network: wheels for CPython 3.12 x86-64 into .whl/
#   bash bench/gpu_setup.sh install    # there: a venv over python3's site packages (its CUDA torch),
#                                      # the wheels, and tuilab itself (editable); prints the venv's python
#
# The versions are constraints.txt's. The venv uses --system-site-packages, so torch, numpy,
# scikit-learn, rich, pytest and the rest that machine already has are used as they are.
set -eu
WHEELS=${WHEELS:-.whl}
VENV=${VENV:-/tmp/tuilab-venv}
# What the GPU image lacks (pip show there for the rest); textual's and pydantic's needs included.
PACKAGES="textual==8.2.8 textual-plotext==1.0.1 plotext==5.3.2 pydantic==2.14.4 pydantic_core==2.50.5
annotated-types==0.8.0 typing-inspection==0.4.5 tomli_w==1.2.0 platformdirs==4.14.8 mdit-py-plugins==0.7.0
linkify-it-py==2.2.0 uc-micro-py pytest-asyncio==1.5.0 pytest-textual-snapshot==1.1.0 syrupy==4.8.0"

case "${1:-}" in
download)
    mkdir -p "$WHEELS"
    grep -qs '^/.whl/' .git/info/exclude .gitignore || echo /.whl/ >> .git/info/exclude
    for p in $PACKAGES; do
        python3 -m pip download -q --no-deps --only-binary=:all: --python-version 3.12 --implementation cp \
            --platform manylinux_2_28_x86_64 --platform manylinux_2_17_x86_64 --platform manylinux2014_x86_64 \
            --platform any -d "$WHEELS" "$p"
    done
    du -sh "$WHEELS"
    ;;
install)
    python3 -m venv --system-site-packages "$VENV"
    "$VENV/bin/python" -m pip install -q --no-index --no-deps --no-compile "$WHEELS"/*.whl
    "$VENV/bin/python" -m pip install -q --no-index --no-deps --no-build-isolation -e .
    "$VENV/bin/python" -c "import torch, textual, pydantic, tuilab; print('torch', torch.__version__, 'cuda',
torch.cuda.is_available(), '| textual', textual.__version__, '| pydantic', pydantic.__version__)"
    echo "$VENV/bin/python"
    ;;
*)
    echo "usage: bash bench/gpu_setup.sh download|install" >&2
    exit 2
    ;;
esac
