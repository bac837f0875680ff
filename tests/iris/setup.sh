#!/bin/sh
# Create (or reuse) the Python venv that runs a published iris-pgwire server
# for the IRIS compatibility tests, and print its path on stdout.
#
#   tests/iris/setup.sh [VENV_DIR]
#       iris-pgwire 1.7.3 from requirements.txt;
#       default VENV_DIR: $IRIS_VENV, else <repo>/target/iris-venv
#   tests/iris/setup.sh --release 1.0.1 [VENV_DIR]
#       iris-pgwire 1.0.1 from requirements-1.0.1.txt;
#       default VENV_DIR: $IRIS_VENV_1_0_1, else <repo>/target/iris-venv-1.0.1
#
# Idempotent: the venv is reused when it was built from the same
# requirements.txt (a hash is stored in it).  Needs python3 >= 3.11 with the
# venv module (Debian: python3-venv) and access to PyPI.  Works as root or as a
# normal user.  All pip output goes to stderr.
set -eu

here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)
release=1.7.3
if [ "${1:-}" = "--release" ]; then
    release=${2:?setup.sh: --release needs a version}
    shift 2
fi
case $release in
    1.7.3)
        venv=${1:-${IRIS_VENV:-$repo/target/iris-venv}}
        req=$here/requirements.txt ;;
    1.0.1)
        venv=${1:-${IRIS_VENV_1_0_1:-$repo/target/iris-venv-1.0.1}}
        req=$here/requirements-1.0.1.txt ;;
    *)
        echo "setup.sh: no pinned requirements for iris-pgwire $release (1.7.3, 1.0.1)" >&2
        exit 1 ;;
esac
python=${PYTHON:-python3}

"$python" -c 'import sys; sys.exit(sys.version_info < (3, 11))' || {
    echo "setup.sh: iris-pgwire $release needs Python >= 3.11 ($python is $("$python" -V 2>&1))" >&2
    exit 1
}

want=$("$python" -c 'import hashlib,sys; print(hashlib.sha256(open(sys.argv[1],"rb").read()).hexdigest())' "$req")
stamp=$venv/.iris-requirements.sha256

if [ -x "$venv/bin/python" ] && [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ] &&
   "$venv/bin/python" -c 'import iris_pgwire.server' >/dev/null 2>&1; then
    echo "$venv"
    exit 0
fi

mkdir -p "$(dirname "$venv")"
if [ ! -x "$venv/bin/python" ]; then
    "$python" -m venv "$venv" >&2 || {
        echo "setup.sh: '$python -m venv' failed (Debian: apt-get install python3-venv)" >&2
        exit 1
    }
fi
# --no-deps: requirements.txt is the full pinned closure, minus
# intersystems-irispython (replaced by tests/iris/stub; see requirements.txt).
"$venv/bin/python" -m pip install --disable-pip-version-check --no-input \
    --no-deps -r "$req" >&2
"$venv/bin/python" -c 'import iris_pgwire.server' >/dev/null 2>&1 || {
    echo "setup.sh: iris_pgwire does not import in $venv" >&2
    "$venv/bin/python" -c 'import iris_pgwire.server' >&2 || true
    exit 1
}
echo "$want" > "$stamp"
echo "$venv"
