#!/usr/bin/env python3
"""Raw PostgreSQL-protocol probe (stdlib only) used to record what the server
puts on the wire; the transcripts in README.md come from it.

    python3 tests/iris/wire_probe.py PORT [--ssl-probe]
    python3 tests/iris/wire_probe.py PORT --names TRACE_FILE   # column-name probes

Each scenario opens a fresh connection, sends the frontend messages listed and
prints every backend message until ReadyForQuery (or a 3 s silence, shown as
`<timeout>`).  One line per message: type letter and a decoded summary.
"""

from __future__ import annotations

import socket
import struct
import sys


def msg(kind: bytes, body: bytes = b"") -> bytes:
    return kind + struct.pack("!I", len(body) + 4) + body


def cstr(s: str) -> bytes:
    return s.encode() + b"\0"


def Q(sql):  # noqa: N802 - protocol letters
    return msg(b"Q", cstr(sql))


def P(sql, name="", oids=()):  # noqa: N802
    return msg(b"P", cstr(name) + cstr(sql) + struct.pack("!H", len(oids))
               + b"".join(struct.pack("!I", o) for o in oids))


def B(params=(), stmt="", portal="", result_formats=()):  # noqa: N802
    body = cstr(portal) + cstr(stmt) + struct.pack("!H", 0) + struct.pack("!H", len(params))
    for p in params:
        body += struct.pack("!i", -1) if p is None else struct.pack("!I", len(p.encode())) + p.encode()
    body += struct.pack("!H", len(result_formats)) + b"".join(struct.pack("!H", f) for f in result_formats)
    return msg(b"B", body)


def D(kind="P", name=""):  # noqa: N802
    return msg(b"D", kind.encode() + cstr(name))


def E(portal="", max_rows=0):  # noqa: N802
    return msg(b"E", cstr(portal) + struct.pack("!I", max_rows))


def C(kind="S", name=""):  # noqa: N802
    return msg(b"C", kind.encode() + cstr(name))


S = msg(b"S")
H = msg(b"H")


def fields(body: bytes) -> dict:
    out, i = {}, 0
    while i < len(body) and body[i] != 0:
        j = body.index(b"\0", i + 1)
        out[chr(body[i])] = body[i + 1:j].decode("utf-8", "replace")
        i = j + 1
    return out


def summary(t: bytes, body: bytes) -> str:
    if t in b"EN":
        f = fields(body)
        return f"{t.decode()} {f.get('S')} {f.get('C')} {f.get('M', '')!r}"
    if t == b"C":
        return f"C {body[:-1].decode()!r}"
    if t == b"Z":
        return f"Z({body.decode()})"
    if t == b"T":
        (n,), i, cols = struct.unpack("!H", body[:2]), 2, []
        for _ in range(n):
            j = body.index(b"\0", i)
            name = body[i:j].decode()
            _tab, _att, oid, size, _mod, fmt = struct.unpack("!IHIhiH", body[j + 1:j + 19])
            cols.append(f"{name}:{oid}/{size}{'b' if fmt else ''}")
            i = j + 19
        return "T[" + ", ".join(cols) + "]"
    if t == b"D":
        (n,), i, vals = struct.unpack("!H", body[:2]), 2, []
        for _ in range(n):
            (ln,) = struct.unpack("!i", body[i:i + 4])
            i += 4
            if ln < 0:
                vals.append(None)
            else:
                raw = body[i:i + ln]
                i += ln
                try:
                    vals.append(raw.decode())
                except UnicodeDecodeError:
                    vals.append(raw)
        return f"D{vals}"
    if t == b"t":
        (n,) = struct.unpack("!H", body[:2])
        return "t" + str(list(struct.unpack(f"!{n}I", body[2:2 + 4 * n])))
    if t == b"S":
        k, v = body[:-1].split(b"\0")
        return f"S {k.decode()}={v.decode()}"
    if t == b"R":
        return f"R{struct.unpack('!I', body[:4])[0]}"
    return {b"1": "1 ParseComplete", b"2": "2 BindComplete", b"3": "3 CloseComplete",
            b"n": "n NoData", b"I": "I EmptyQuery", b"s": "s PortalSuspended",
            b"K": "K BackendKeyData"}.get(t, f"{t!r} {body[:60]!r}")


class Conn:
    def __init__(self, port: int, ssl_probe: bool):
        self.s = socket.create_connection(("127.0.0.1", port), timeout=3)
        if ssl_probe:
            self.s.sendall(struct.pack("!II", 8, 80877103))
            self.ssl_answer = self.s.recv(1)
        body = struct.pack("!I", 196608) + cstr("user") + cstr("probe") + cstr("database") + cstr("USER") + b"\0"
        self.s.sendall(struct.pack("!I", len(body) + 4) + body)
        self.buf = b""
        self.startup = self.until_ready()

    def read(self):
        while True:
            if len(self.buf) >= 5:
                (ln,) = struct.unpack("!I", self.buf[1:5])
                if len(self.buf) >= ln + 1:
                    t, body, self.buf = self.buf[:1], self.buf[5:ln + 1], self.buf[ln + 1:]
                    return t, body
            chunk = self.s.recv(65536)
            if not chunk:
                return None, b"<EOF>"
            self.buf += chunk

    def until_ready(self, ready_count=1):
        out = []
        try:
            while True:
                t, body = self.read()
                if t is None:
                    out.append("<EOF>")
                    return out
                out.append(summary(t, body))
                if t == b"Z":
                    ready_count -= 1
                    if ready_count == 0:
                        return out
        except socket.timeout:
            out.append("<timeout>")
            return out

    def run(self, *messages, ready=1):
        self.s.sendall(b"".join(messages))
        return self.until_ready(ready)


SCENARIOS = [
    ("simple: CREATE TABLE", [Q("CREATE TABLE t (id INT PRIMARY KEY, name VARCHAR(50))")]),
    ("simple: INSERT 2 rows", [Q("INSERT INTO t VALUES (1, 'one'), (2, 'two')")]),
    ("simple: SELECT", [Q("SELECT id, name FROM t ORDER BY id")]),
    ("simple: SELECT 0 rows", [Q("SELECT id, name FROM t WHERE id < 0")]),
    ("simple: SELECT literals", [Q("SELECT 1, 'a;b' AS s, 'cost $5' AS c, count(*) FROM t")]),
    ("simple: SHOW", [Q("SHOW standard_conforming_strings")]),
    ("simple: empty query", [Q("")]),
    ("simple: ';'", [Q(";")]),
    ("simple: duplicate key", [Q("INSERT INTO t VALUES (1, 'dup')")]),
    ("simple: NULL primary key", [Q("INSERT INTO t (name) VALUES ('x')")]),
    ("simple: syntax error", [Q("SELEC 1")]),
    ("simple: multi-statement with error", [Q("SELECT 1 AS a; SELEC 2; SELECT 3 AS c")]),
    ("simple: UPDATE / DELETE", [Q("UPDATE t SET name = 'TWO' WHERE id = 2; DELETE FROM t WHERE id = 99")]),
    ("simple: ';' after a quoted literal", [Q("SELECT 'x' AS a; SELECT 2 AS b")]),
    ("simple: COPY-free unknown verb", [Q("VACUUM")]),
    ("simple: DEALLOCATE ALL", [Q("DEALLOCATE ALL")]),
    ("simple: DISCARD ALL", [Q("DISCARD ALL")]),
    ("simple: SET / RESET", [Q("SET application_name = 'x'; RESET ALL")]),
    ("extended: P/B/D/E/S SELECT $1", [P("SELECT id, name FROM t WHERE id = $1"), B(["1"]), D("P"), E(), S]),
    ("extended: Describe S", [P("SELECT id, name FROM t WHERE id = $1", "s1"), D("S", "s1"), S]),
    ("extended: reversed placeholders", [P("SELECT $2 AS a, $1 AS b"), B(["x1", "y2"]), D("P"), E(), S]),
    ("extended: INSERT ok", [P("INSERT INTO t VALUES ($1, $2)"), B(["20", "bound"]), E(), S]),
    ("extended: INSERT duplicate", [P("INSERT INTO t VALUES ($1, $2)"), B(["20", "again"]), D("P"), E(), S]),
    ("extended: empty statement", [P(""), B(), D("P"), E(), S]),
    ("extended: error then more", [P("SELEC 1"), B(), E(), P("SELECT 2 AS two"), B(), D("P"), E(), S]),
    ("extended: DEALLOCATE ALL", [P("DEALLOCATE ALL"), B(), D("P"), E(), S]),
    ("extended: Close S", [C("S", "s1"), S]),
]

TX = [
    ("tx: BEGIN", [Q("BEGIN")]),
    ("tx: INSERT", [Q("INSERT INTO t VALUES (30, 'tx')")]),
    ("tx: error", [Q("SELEC 1")]),
    ("tx: still there", [Q("SELECT count(*) AS n FROM t WHERE id = 30")]),
    ("tx: COMMIT", [Q("COMMIT")]),
    ("tx: BEGIN 2", [Q("BEGIN")]),
    ("tx: INSERT 2", [Q("INSERT INTO t VALUES (31, 'rb')")]),
    ("tx: ROLLBACK", [Q("ROLLBACK")]),
    ("tx: after", [Q("SELECT id FROM t WHERE id >= 30 ORDER BY id")]),
    ("tx: 'begin transaction' (lower case, pg8000)", [Q("begin transaction")]),
    ("tx: INSERT 3", [Q("INSERT INTO t VALUES (32, 'x')")]),
    ("tx: ROLLBACK 3", [Q("ROLLBACK")]),
    ("tx: after 3", [Q("SELECT id FROM t WHERE id >= 30 ORDER BY id")]),
]


# Where can a client get column names without the server running the statement twice?
# Run with the server started under IRIS_STUB_TRACE=FILE: each scenario prints the
# messages and the statements the stand-in IRIS was asked to run for it.
NAMES = [
    ("names: setup", [Q("CREATE TABLE nm (id INT PRIMARY KEY, name VARCHAR(50))")]),
    ("names: setup rows", [Q("INSERT INTO nm VALUES (1, 'one')")]),
    ("names: simple Query", [Q("SELECT id, name FROM nm WHERE id = 1")]),
    ("names: simple Query SELECT 1", [Q("SELECT 1")]),
    ("names: P/B/E/S (no Describe)", [P("SELECT id, name FROM nm WHERE id = $1"), B(["1"]), E(), S]),
    ("names: P/B/D P/E/S (Describe portal)", [P("SELECT id, name FROM nm WHERE id = $1"), B(["1"]), D("P"), E(), S]),
    ("names: P/D S/S then B/E/S (Describe statement)", [P("SELECT id, name FROM nm WHERE id = $1", "n1"), D("S", "n1"), S]),
    ("names: B/E/S of the described statement", [B(["1"], stmt="n1"), E(), S]),
    ("names: P/B/E/S without parameters", [P("SELECT id, name FROM nm"), B(), E(), S]),
    ("names: INSERT RETURNING, P/B/E/S", [P("INSERT INTO nm VALUES ($1, $2) RETURNING id"), B(["2", "two"]), E(), S]),
]


def traced(path: str | None) -> list[str]:
    if not path:
        return []
    try:
        with open(path, encoding="utf-8") as f:
            lines = f.read().splitlines()
        open(path, "w").close()
        return lines
    except FileNotFoundError:
        return []


def names(port: int, ssl_probe: bool, trace: str | None) -> None:
    c = Conn(port, ssl_probe)
    traced(trace)
    for title, msgs in NAMES:
        print(f"{title}:", " | ".join(c.run(*msgs)))
        import time
        time.sleep(0.2)  # the DML batch of 1.7.3 may still be running
        for line in traced(trace):
            print(f"    IRIS ran: {line[:110]}")


def main() -> None:
    port = int(sys.argv[1])
    ssl_probe = "--ssl-probe" in sys.argv
    if "--names" in sys.argv:
        i = sys.argv.index("--names")
        names(port, ssl_probe, sys.argv[i + 1] if len(sys.argv) > i + 1 else None)
        return
    c = Conn(port, ssl_probe)
    if ssl_probe:
        print(f"SSLRequest -> {c.ssl_answer!r}")
    print("startup ->", " | ".join(c.startup))
    for title, msgs in SCENARIOS + TX:
        if title.startswith("simple: empty") or title == "simple: ';'":
            # Nothing comes back: use a throwaway connection.
            d = Conn(port, ssl_probe)
            print(f"{title}:", " | ".join(d.run(*msgs)))
            d.s.close()
            continue
        print(f"{title}:", " | ".join(c.run(*msgs)))


if __name__ == "__main__":
    main()
