#!/usr/bin/env python3
"""The seed's path (psycopg 3 through iris-pgwire 1.7.3) against pgline, same server, same run.

    python3 tests/iris/seed_compare.py [N]        # default N = 10000

One command: builds or reuses the iris-pgwire venv (tests/iris/setup.sh) and a psycopg
venv (target/psycopg-venv from tests/iris/psycopg-requirements.txt), starts one server
(tests/iris/serve.py), then runs, one after another against it:

* psycopg 3.3 sync and async, each with its default (prepares a statement after five
  runs) and with prepare_threshold=None: the seed's workload with the seed's workarounds
  (every error caught after the fact and counted), N `SELECT 1` (latency p50/p99), an
  N-row executemany (rows/s, client CPU per row), every stored row read back and compared;
* `cargo run --release --example iris_seed_workload -- N`: the same through pgline.

Prints one table. A client whose stored rows differ from the rows it sent gets no figures.
"""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parent.parent


def row(i: int):
    return (i, f"name {i:07d}", (i % 1000) * 0.25)


def pct(sorted_us: list[float], p: float) -> float:
    return sorted_us[round((len(sorted_us) - 1) * p)]


# ----- psycopg side (runs inside the psycopg venv) ---------------------------------------

def psycopg_sync(port: int, n: int, prepare: str) -> dict:
    import psycopg

    kw = {} if prepare == "default" else {"prepare_threshold": None}
    url = f"postgresql://_SYSTEM:SYS@127.0.0.1:{port}/USER?sslmode=prefer"
    t = f"seed_psy_s{prepare[:2]}_{os.getpid()}"
    errors = 0
    problems: list[str] = []

    def swallow(what, fn):
        nonlocal errors
        try:
            return fn()
        except Exception as e:  # the seed's workaround: catch after the fact, go on
            errors += 1
            problems.append(f"{what}: {str(e).splitlines()[0][:100]}")
            return None

    conn = psycopg.connect(url, autocommit=True, **kw)
    cur = conn.cursor()
    v = swallow("SELECT 1", lambda: cur.execute("SELECT 1").fetchone()[0])
    if v != 1 or type(v) is not int:
        problems.append(f"SELECT 1 gave {v!r}")
    swallow("SHOW", lambda: cur.execute("SHOW standard_conforming_strings").fetchone())
    swallow("CREATE", lambda: cur.execute(
        f"CREATE TABLE {t} (id BIGINT PRIMARY KEY, name VARCHAR(40), score DOUBLE)"))
    ins = f"INSERT INTO {t} (id, name, score) VALUES (%s, %s, %s)"
    for rid, commit in ((-1, True), (-2, False)):
        tx = psycopg.connect(url, **kw)  # autocommit off: the dialect's transactions
        tc = tx.cursor()
        swallow("INSERT", lambda: tc.execute(ins, row(rid)))
        swallow("DEALLOCATE", lambda: tc.execute("DEALLOCATE ALL"))
        swallow("COMMIT/ROLLBACK", tx.commit if commit else tx.rollback)
        tx.close()
    for sql in ("SELECT TABLE_NAME FROM INFORMATION_SCHEMA.TABLES WHERE TABLE_SCHEMA = 'SQLUser'",
                f"SELECT COLUMN_NAME, DATA_TYPE FROM INFORMATION_SCHEMA.COLUMNS WHERE TABLE_NAME = '{t}'"):
        swallow("INFORMATION_SCHEMA", lambda: cur.execute(sql).fetchall())
    lat = []
    for _ in range(n):
        t0 = time.perf_counter()
        r = swallow("SELECT 1", lambda: cur.execute("SELECT 1").fetchone())
        lat.append((time.perf_counter() - t0) * 1e6)
        if r is None or r[0] != 1:
            problems.append(f"SELECT 1 gave {r!r}")
    lat.sort()
    c0, t0 = time.process_time(), time.perf_counter()
    swallow("executemany", lambda: cur.executemany(ins, [row(i) for i in range(1, n + 1)]))
    wall, cpu = time.perf_counter() - t0, time.process_time() - c0
    stored = {r[0]: (r[1], r[2]) for r in cur.execute(
        f"SELECT id, name, score FROM {t} WHERE id > %s", (-100,)).fetchall()}
    conn.close()
    return finish("psycopg sync", prepare, lat, n, wall, cpu, errors, problems, stored)


async def psycopg_async(port: int, n: int, prepare: str) -> dict:
    import psycopg

    kw = {} if prepare == "default" else {"prepare_threshold": None}
    url = f"postgresql://_SYSTEM:SYS@127.0.0.1:{port}/USER?sslmode=prefer"
    t = f"seed_psy_a{prepare[:2]}_{os.getpid()}"
    errors = 0
    problems: list[str] = []

    async def swallow(what, coro):
        nonlocal errors
        try:
            return await coro
        except Exception as e:
            errors += 1
            problems.append(f"{what}: {str(e).splitlines()[0][:100]}")
            return None

    async def one(cur, sql, args=None):
        await cur.execute(sql, args)
        return await cur.fetchone()

    async def all_rows(cur, sql, args=None):
        await cur.execute(sql, args)
        return await cur.fetchall()

    conn = await psycopg.AsyncConnection.connect(url, autocommit=True, **kw)
    cur = conn.cursor()
    r = await swallow("SELECT 1", one(cur, "SELECT 1"))
    if r is None or r[0] != 1 or type(r[0]) is not int:
        problems.append(f"SELECT 1 gave {r!r}")
    await swallow("SHOW", one(cur, "SHOW standard_conforming_strings"))
    await swallow("CREATE", cur.execute(
        f"CREATE TABLE {t} (id BIGINT PRIMARY KEY, name VARCHAR(40), score DOUBLE)"))
    ins = f"INSERT INTO {t} (id, name, score) VALUES (%s, %s, %s)"
    for rid, commit in ((-1, True), (-2, False)):
        tx = await psycopg.AsyncConnection.connect(url, **kw)
        tc = tx.cursor()
        await swallow("INSERT", tc.execute(ins, row(rid)))
        await swallow("DEALLOCATE", tc.execute("DEALLOCATE ALL"))
        await swallow("COMMIT/ROLLBACK", tx.commit() if commit else tx.rollback())
        await tx.close()
    for sql in ("SELECT TABLE_NAME FROM INFORMATION_SCHEMA.TABLES WHERE TABLE_SCHEMA = 'SQLUser'",
                f"SELECT COLUMN_NAME, DATA_TYPE FROM INFORMATION_SCHEMA.COLUMNS WHERE TABLE_NAME = '{t}'"):
        await swallow("INFORMATION_SCHEMA", all_rows(cur, sql))
    lat = []
    for _ in range(n):
        t0 = time.perf_counter()
        r = await swallow("SELECT 1", one(cur, "SELECT 1"))
        lat.append((time.perf_counter() - t0) * 1e6)
        if r is None or r[0] != 1:
            problems.append(f"SELECT 1 gave {r!r}")
    lat.sort()
    c0, t0 = time.process_time(), time.perf_counter()
    await swallow("executemany", cur.executemany(ins, [row(i) for i in range(1, n + 1)]))
    wall, cpu = time.perf_counter() - t0, time.process_time() - c0
    stored = {r[0]: (r[1], r[2]) for r in await all_rows(
        cur, f"SELECT id, name, score FROM {t} WHERE id > %s", (-100,))}
    await conn.close()
    return finish("psycopg async", prepare, lat, n, wall, cpu, errors, problems, stored)


def finish(client, prepare, lat, n, wall, cpu, errors, problems, stored) -> dict:
    want = {i: (name, score) for i, name, score in map(row, [-1, *range(1, n + 1)])}
    got = {int(k): (str(v[0]), float(v[1])) for k, v in stored.items()}
    bad = sum(1 for k in want.keys() | got.keys() if want.get(k) != got.get(k))
    return {
        "client": f"{client} ({'prepare_threshold=None' if prepare == 'none' else 'default'})",
        "select1_p50_us": pct(lat, 0.5), "select1_p99_us": pct(lat, 0.99),
        "bulk_rows_s": n / wall, "bulk_cpu_us_row": cpu * 1e6 / n,
        "errors_swallowed": errors, "rows_checked": len(got), "rows_wrong": bad,
        "problems": sorted(set(problems))[:5],
    }


# ----- orchestration ----------------------------------------------------------------------

def venv_python(venv: Path, req: Path) -> Path:
    py = venv / "bin" / "python"
    if not py.exists() or subprocess.run([py, "-c", "import psycopg"], capture_output=True).returncode:
        subprocess.run([sys.executable, "-m", "venv", venv], check=True)
        subprocess.run([py, "-m", "pip", "install", "--disable-pip-version-check", "-q",
                        "--no-deps", "-r", req], check=True)
    return py


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1] == "--psycopg":
        mode, port, n, prepare = sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), sys.argv[5]
        r = psycopg_sync(port, n, prepare) if mode == "sync" else asyncio.run(
            psycopg_async(port, n, prepare))
        print("RESULT " + json.dumps(r))
        return
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 10_000
    iris_venv = subprocess.run(["sh", HERE / "setup.sh"], check=True, capture_output=True,
                               text=True).stdout.strip()
    psy = venv_python(REPO / "target" / "psycopg-venv", HERE / "psycopg-requirements.txt")
    subprocess.run(["cargo", "build", "--release", "--all-features", "--example", "iris_seed_workload"],
                   cwd=REPO, check=True)
    log = open(f"/tmp/seed-compare-{os.getpid()}.log", "w")
    server = subprocess.Popen([Path(iris_venv) / "bin" / "python", HERE / "serve.py", "0"],
                              stdout=subprocess.PIPE, stderr=log, text=True)
    try:
        line = server.stdout.readline()
        if not line.startswith("READY"):
            sys.exit(f"server did not start: {line!r} (log {log.name})")
        port = int(line.split()[1])
        results = []
        runs = [[psy, __file__, "--psycopg", m, str(port), str(n), p]
                for m in ("sync", "async") for p in ("default", "none")]
        runs.append([REPO / "target" / "release" / "examples" / "iris_seed_workload", str(n)])
        for cmd in runs:
            out = subprocess.run(cmd, capture_output=True, text=True,
                                 env={**os.environ, "PGLINE_IRIS_PORT": str(port)})
            res = [l for l in out.stdout.splitlines() if l.startswith("RESULT ")]
            if out.returncode or not res:
                sys.exit(f"{cmd} failed ({out.returncode}):\n{out.stdout[-2000:]}\n{out.stderr[-2000:]}")
            r = json.loads(res[-1][7:])
            r.setdefault("rows_wrong", 0)
            results.append(r)
            print(f"done: {r['client']}", file=sys.stderr)
    finally:
        server.terminate()
        server.wait(10)
    print(f"iris-pgwire 1.7.3 (stand-in IRIS), one server, N = {n}\n")
    print("| client | SELECT 1 p50 µs | p99 µs | executemany rows/s | client CPU µs/row "
          "| errors swallowed | rows checked (wrong) |")
    print("|---|---:|---:|---:|---:|---:|---:|")
    for r in results:
        ok = r["rows_wrong"] == 0
        rate = f"{r['bulk_rows_s']:.0f}" if ok else "— (wrong data)"
        print(f"| {r['client']} | {r['select1_p50_us']:.0f} | {r['select1_p99_us']:.0f} | {rate} "
              f"| {r['bulk_cpu_us_row']:.1f} | {r['errors_swallowed']} "
              f"| {r['rows_checked']} ({r['rows_wrong']}) |")
    pg = results[-1]
    sync = [r for r in results if r["client"].startswith("psycopg sync")]
    best_p50 = min(r["select1_p50_us"] for r in sync)
    best_bulk = max(r["bulk_rows_s"] for r in results[:-1] if r["rows_wrong"] == 0)
    print(f"\npgline SELECT 1 p50 / best psycopg sync p50: {pg['select1_p50_us'] / best_p50:.2f}x")
    print(f"pgline rows/s / best psycopg executemany rows/s: {pg['bulk_rows_s'] / best_bulk:.2f}x")
    for r in results:
        for p in r.get("problems", []):
            print(f"  {r['client']}: {p}")


if __name__ == "__main__":
    main()
