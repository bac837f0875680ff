#!/usr/bin/env python3
"""Run the published iris-pgwire server, unmodified, on loopback for tests.

    <venv>/bin/python tests/iris/serve.py [PORT]        (or IRIS_PGWIRE_PORT=...)

* PORT 0 or absent: a free port is chosen.
* The server is `python -m iris_pgwire.server` (the `iris-pgwire` console
  script of 1.7.3 calls the async `main()` without running it, so it cannot be
  used), run with *this* interpreter: start the launcher with the venv's python
  made by tests/iris/setup.sh, or pass --python.
* Configuration is only environment variables read by iris_pgwire/server.py
  (`_gather_main_config`, `PGWireServer.__init__`):
    PGWIRE_BACKEND_TYPE=dbapi   DB-API executor (default would be "embedded",
                                i.e. inside an IRIS process)
    PGWIRE_HOST=127.0.0.1, PGWIRE_PORT=<port>
    IRIS_PASSWORD=SYS           the DBAPI backend refuses an empty password
    PGWIRE_SSL_ENABLED unset    SSLRequest is answered 'N'
  Authentication is trust: server.main() never enables SCRAM.
* The `iris` module the server imports is our stand-in (tests/iris/stub), put
  first on PYTHONPATH; it stores data in a fresh sqlite file ($IRIS_STUB_DB) in
  a temporary directory that is removed on exit.
* Prints `READY <port>` on stdout once the port accepts TCP connections.  The
  server's own log goes to stderr (or --log FILE).
* Exits (stopping the server) on SIGTERM/SIGINT, when the server dies, or when
  the launcher's parent process dies.
"""

from __future__ import annotations

import argparse
import ctypes
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
STUB = os.path.join(HERE, "stub")
PR_SET_PDEATHSIG = 1


def _pdeathsig(sig: int) -> None:
    """Linux: have the kernel send `sig` to this process when its parent dies."""
    try:
        ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, sig, 0, 0, 0)
    except Exception:  # not Linux: the getppid() poll below still works
        pass


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _accepts(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.5):
            return True
    except OSError:
        return False


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("port", nargs="?", type=int,
                    default=int(os.environ.get("IRIS_PGWIRE_PORT", "0")))
    ap.add_argument("--python", default=sys.executable,
                    help="interpreter that has iris-pgwire installed (default: this one)")
    ap.add_argument("--log", help="write the server log here instead of stderr")
    ap.add_argument("--timeout", type=float, default=60.0,
                    help="seconds to wait for the port to accept connections")
    args = ap.parse_args()

    parent = os.getppid()
    _pdeathsig(signal.SIGTERM)
    port = args.port or _free_port()
    if _accepts(port):
        print(f"port {port} is already in use", file=sys.stderr)
        return 2

    tmp = tempfile.mkdtemp(prefix="iris-pgwire-")
    env = dict(os.environ)
    env.update(
        PGWIRE_BACKEND_TYPE="dbapi",
        PGWIRE_HOST="127.0.0.1",
        PGWIRE_PORT=str(port),
        IRIS_PASSWORD=env.get("IRIS_PASSWORD") or "SYS",
        IRIS_STUB_DB=os.path.join(tmp, "iris.sqlite3"),
        PYTHONPATH=os.pathsep.join([STUB] + [p for p in [env.get("PYTHONPATH")] if p]),
        PYTHONDONTWRITEBYTECODE="1",  # keep __pycache__ out of the worktree
        PYTHONUNBUFFERED="1",
    )
    env.pop("PGWIRE_SSL_ENABLED", None)
    log = open(args.log, "ab") if args.log else sys.stderr

    def child_setup() -> None:
        os.setsid()  # own process group, so it can be stopped as a whole
        _pdeathsig(signal.SIGKILL)  # server dies with the launcher, even on SIGKILL

    server = subprocess.Popen(
        [args.python, "-m", "iris_pgwire.server"],
        env=env, cwd=tmp, stdin=subprocess.DEVNULL, stdout=log, stderr=log,
        preexec_fn=child_setup,
    )

    stopping = False

    def stop(*_):
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    signal.signal(signal.SIGHUP, stop)

    rc = 0
    try:
        deadline = time.monotonic() + args.timeout
        ready = False
        while not stopping:
            if server.poll() is not None:
                print(f"iris-pgwire exited with status {server.returncode}", file=sys.stderr)
                rc = 1
                break
            if os.getppid() != parent:
                break  # parent died (fallback for the prctl above)
            if not ready:
                if _accepts(port):
                    ready = True
                    print(f"READY {port}", flush=True)
                elif time.monotonic() > deadline:
                    print(f"iris-pgwire did not listen on {port} within {args.timeout}s",
                          file=sys.stderr)
                    rc = 1
                    break
                else:
                    time.sleep(0.1)
                    continue
            time.sleep(0.5)
    finally:
        if server.poll() is None:
            try:
                os.killpg(server.pid, signal.SIGTERM)
            except ProcessLookupError:
                pass
            try:
                server.wait(5)
            except subprocess.TimeoutExpired:
                os.killpg(server.pid, signal.SIGKILL)
                server.wait()
        shutil.rmtree(tmp, ignore_errors=True)
    return rc


if __name__ == "__main__":
    sys.exit(main())
