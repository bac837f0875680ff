"""asyncpg's executemany as a peer for `examples/compare.rs`, run by it once per round.

Usage: asyncpg_executemany.py HOST PORT ROWS. Loads the same rows as `compare` into its
table `t` in one transaction and prints `WALL_SECONDS CPU_SECONDS` (this process, user +
system, around the executemany alone; the rows are built before timing). Exits 3 when
asyncpg is not installed, so the caller can say so instead of failing.
"""

import asyncio
import datetime
import sys
import time

try:
    import asyncpg
except ImportError:
    sys.exit(3)

NAMES = ["alpha", "bravo", "charlie", "delta"]
INSERT = "INSERT INTO t (id, name, score, created) VALUES ($1, $2, $3, $4)"


async def main(host, port, n):
    conn = await asyncpg.connect(host=host, port=port, user="postgres", database="postgres")
    base = datetime.datetime.fromtimestamp(1_700_000_000, datetime.timezone.utc)
    rows = [
        (i, NAMES[i % 4], (i % 1000) * 0.25, base + datetime.timedelta(microseconds=i))
        for i in range(n)
    ]
    await conn.execute("TRUNCATE t")
    c0, t0 = time.process_time(), time.perf_counter()
    async with conn.transaction():
        await conn.executemany(INSERT, rows)
    wall, cpu = time.perf_counter() - t0, time.process_time() - c0
    count = await conn.fetchval("SELECT count(*) FROM t")
    await conn.close()
    if count != n:
        sys.exit(f"asyncpg loaded {count} rows, expected {n}")
    print(f"{wall} {cpu}")


asyncio.run(main(sys.argv[1], int(sys.argv[2]), int(sys.argv[3])))
