"""`iris.dbapi` stand-in: a DB-API 2.0 surface over sqlite3 that looks like the
InterSystems IRIS DB-API to iris-pgwire 1.7.3's `DBAPIExecutor`.

What each piece is for (server file/function in brackets):

* `connect(**kw)` -- [dbapi_connection_pool._create_connection] passes
  hostname/port/namespace/username/password; all ignored.  Every connection
  opens the same sqlite file, `$IRIS_STUB_DB` (set by tests/iris/serve.py), so
  all client sessions share one database, as they would share one namespace.
* autocommit sqlite (`isolation_level=None`) plus explicit transaction verbs --
  the server calls `connection.commit()` after every statement outside a
  transaction [DBAPIExecutor._maybe_auto_commit], and sends `START TRANSACTION`
  / `COMMIT` / `ROLLBACK` through `cursor.execute` for the client's BEGIN /
  COMMIT / ROLLBACK [DBAPIExecutor.begin_transaction & co., protocol.py
  l.1462].  IRIS semantics kept: a failed statement inside a transaction does
  not abort the transaction (sqlite behaves the same).
* `cursor.description[i][1]` is an IRIS type *code* (the numbers the server's
  `DBAPIExecutor._map_dbapi_type_to_oid` expects, measured by upstream against
  IRIS 2026.2): -5 BIGINT, 5 SMALLINT, -6 TINYINT, 4 INTEGER *and every
  literal/expression*, 12 VARCHAR/CHAR, -1 LONGVARCHAR, 8 DOUBLE, 2 NUMERIC,
  -7 BIT, 1091 DATE, 1092 TIME, 1093 TIMESTAMP.  sqlite does not report
  declared types, so they are looked up with PRAGMA table_info for the tables
  named after FROM/JOIN; anything else reports 4, which is what IRIS does for
  literals (the server then declares 1043 and refines from the first row).
  `description[i][2]` (display size) becomes the RowDescription typlen on the
  wire [protocol.py ~l.1718]: n for VARCHAR(n)/CHAR(n), else None (-> -1).
* errors -- [sql_translator/sqlstate.classify_iris_error] picks the SQLSTATE
  from `SQLCODE: <-n>` in str(exc).  sqlite errors are re-raised with the IRIS
  DB-API wording `[SQLCODE: <-n>:<text>]` (see _ERRORS); unrecognised ones keep
  the sqlite text and no SQLCODE, so the server answers 42000.
* statements sqlite cannot run but the server needs to succeed at startup
  [server.PGWireServer.start -> catalog/function_installer.py and
  catalog/views/installer.py]: `CREATE OR REPLACE FUNCTION ... LANGUAGE
  OBJECTSCRIPT` and `CREATE VIEW pg_catalog.*` are accepted as no-ops (the
  server refuses to start if they fail).  So the emulated pg_catalog views do
  not exist; catalog queries fail.
* small IRIS-isms the server itself emits: `SQLUser.` schema prefix (it
  rewrites `public.`), `TO_DATE('YYYY-MM-DD','YYYY-MM-DD')` (date literals),
  `SELECT TOP n`, `LAST_IDENTITY()` (RETURNING emulation).
"""

from __future__ import annotations

import datetime as _dt
import decimal
import os
import re
import sqlite3
import tempfile
import threading

apilevel = "2.0"
threadsafety = 1
paramstyle = "qmark"


class Warning(Exception):  # noqa: A001 - DB-API name
    pass


class Error(Exception):
    pass


class InterfaceError(Error):
    pass


class DatabaseError(Error):
    pass


class DataError(DatabaseError):
    pass


class OperationalError(DatabaseError):
    pass


class IntegrityError(DatabaseError):
    pass


class InternalError(DatabaseError):
    pass


class ProgrammingError(DatabaseError):
    pass


class NotSupportedError(DatabaseError):
    pass


# --- values ---------------------------------------------------------------
# Parameters: the server already turns dates into strings; Decimal is not a
# type sqlite3 can bind.
sqlite3.register_adapter(decimal.Decimal, str)
sqlite3.register_adapter(_dt.date, lambda v: v.isoformat())
sqlite3.register_adapter(_dt.datetime, lambda v: v.isoformat(" "))
sqlite3.register_adapter(_dt.time, lambda v: v.isoformat())


def _conv(fn):
    def convert(raw: bytes):
        text = raw.decode("utf-8", "replace")
        try:
            return fn(text)
        except (ValueError, decimal.InvalidOperation):
            return text  # whatever was stored, as text

    return convert


# Results of declared DATE/TIME/TIMESTAMP/NUMERIC columns come back as Python
# date/time/datetime/Decimal, as from the IRIS driver (PARSE_DECLTYPES).
sqlite3.register_converter("DATE", _conv(_dt.date.fromisoformat))
sqlite3.register_converter("TIME", _conv(_dt.time.fromisoformat))
sqlite3.register_converter("TIMESTAMP", _conv(_dt.datetime.fromisoformat))
sqlite3.register_converter("NUMERIC", _conv(decimal.Decimal))
sqlite3.register_converter("DECIMAL", _conv(decimal.Decimal))

# Declared type (first word) -> IRIS DB-API type code.
_TYPE_CODES = {
    "BIGINT": -5,
    "SMALLINT": 5,
    "TINYINT": -6,
    "INT": 4,
    "INTEGER": 4,
    "VARCHAR": 12,
    "CHAR": 12,
    "CHARACTER": 12,
    "TEXT": -1,
    "LONGVARCHAR": -1,
    "DOUBLE": 8,
    "FLOAT": 8,
    "REAL": 8,
    "NUMERIC": 2,
    "DECIMAL": 2,
    "MONEY": 2,
    "BIT": -7,
    "BOOLEAN": -7,
    "DATE": 1091,
    "TIME": 1092,
    "TIMESTAMP": 1093,
    "DATETIME": 1093,
}
_LITERAL_CODE = 4

# --- errors ---------------------------------------------------------------
# sqlite message pattern -> (SQLCODE, IRIS DB-API message text, class).
# The codes are the ones sqlstate.SQLCODE_MAP knows (-1 42601, -29 42703,
# -30 42P01, -104 22000, -108 23502, -119 23505, -359 42883); -201 and -121 are
# real IRIS codes the server does not map (-> 42000), kept for realism.
_ERRORS = (
    (r"UNIQUE constraint failed|PRIMARY KEY must be unique", -119,
     "UNIQUE or PRIMARY KEY Constraint failed uniqueness check upon INSERT", IntegrityError),
    (r"NOT NULL constraint failed", -108,
     "Required field missing; INSERT or UPDATE not allowed", IntegrityError),
    (r"FOREIGN KEY constraint failed", -121,
     "FOREIGN KEY referential integrity check failed", IntegrityError),
    (r"CHECK constraint failed|datatype mismatch", -104,
     "Field validation failed in INSERT, or value failed to convert in DisplayToLogical or OdbcToLogical", DataError),
    (r"no such table|no such view", -30, "Table or view not found", ProgrammingError),
    (r"no such column", -29, "Field not found in the applicable tables", ProgrammingError),
    (r"no such function|wrong number of arguments to function", -359,
     "User defined SQL function not found", ProgrammingError),
    (r"already exists", -201, "Table or view name not unique", ProgrammingError),
    # The server hands IRIS a whole "a; b" string when its splitter gives up
    # (1.7.3 DdlSplitter never leaves a quoted literal).  IRIS: -25 [inferred].
    (r"only execute one statement at a time", -25,
     "Input (;) encountered after end of query", ProgrammingError),
    (r"syntax error|incomplete input|unrecognized token", -1,
     "Invalid SQL statement", ProgrammingError),
)


def _translate_error(exc: sqlite3.Error) -> Error:
    text = str(exc)
    for pattern, code, iris_text, cls in _ERRORS:
        if re.search(pattern, text, re.I):
            return cls(f"[SQLCODE: <{code}>:<{iris_text}>]\r\n[Location: <Prepare>]\r\n[%msg: <{text}>]")
    if isinstance(exc, sqlite3.IntegrityError):
        return IntegrityError(text)
    if isinstance(exc, sqlite3.OperationalError):
        return OperationalError(text)
    return DatabaseError(text)


# --- SQL the server sends that sqlite cannot run -----------------------------
_NOOP = re.compile(
    r"^\s*(CREATE\s+(OR\s+REPLACE\s+)?FUNCTION\b.*\bLANGUAGE\s+OBJECTSCRIPT\b"
    r"|(CREATE|DROP)\s+VIEW\s+pg_catalog\.)",
    re.I | re.S,
)
_BEGIN_TX = re.compile(
    r"^\s*(START\s+TRANSACTION\b.*|BEGIN(\s+(WORK|TRANSACTION))?\s*;?\s*)$", re.I | re.S
)
_END_TX = re.compile(r"^\s*(COMMIT|END|ROLLBACK)(\s+(WORK|TRANSACTION))?\s*;?\s*$", re.I)
_TOP = re.compile(r"^(\s*SELECT\s+(?:DISTINCT\s+)?)TOP\s+(\d+)\s+(.*?)\s*;?\s*$", re.I | re.S)


def _rewrite(sql: str) -> str:
    sql = re.sub(r'\b"?SQLUser"?\s*\.\s*', "", sql, flags=re.I)
    sql = re.sub(r"\bLAST_IDENTITY\s*\(\s*\)", "last_insert_rowid()", sql, flags=re.I)
    sql = _fix_create_table(sql)
    m = _TOP.match(sql)
    if m and not re.search(r"\bLIMIT\b", sql, re.I):
        sql = f"{m.group(1)}{m.group(3)} LIMIT {m.group(2)}"
    return sql


_IDENT = re.compile(r"^[A-Za-z_%][\w$]*$")
_AGGREGATE = re.compile(r"^\s*(COUNT|SUM|AVG|MIN|MAX)\s*\(", re.I)
_LITERAL = re.compile(r"^\s*([-+]?\d+(\.\d*)?([eE][-+]?\d+)?|'([^']|'')*'|NULL|\?)\s*$", re.I)


def _iris_column_name(name: str, pos: int) -> str:
    """sqlite names an un-aliased select item by its text ("count(*)", "1");
    IRIS calls it Aggregate_<n>, HostVar_<n> (literals, which IRIS turns into
    host variables) or Expression_<n>.  n = column position [inferred: not
    measured against IRIS].  Aliases and plain column names are kept."""
    if _IDENT.match(name):
        return name
    if _AGGREGATE.match(name):
        return f"Aggregate_{pos}"
    if _LITERAL.match(name):
        return f"HostVar_{pos}"
    return f"Expression_{pos}"


# CREATE TABLE: sqlite lets a non-INTEGER PRIMARY KEY column hold NULL (a
# documented sqlite bug kept for compatibility); IRIS rejects it with SQLCODE
# -108.  Adding NOT NULL to column-level PRIMARY KEY restores that.
_PK_COLUMN = re.compile(r"(?<!NOT NULL )\bPRIMARY\s+KEY\b(?!\s*\()", re.I)


def _fix_create_table(sql: str) -> str:
    if re.match(r"^\s*CREATE\s+(GLOBAL\s+TEMPORARY\s+)?TABLE\b", sql, re.I):
        return _PK_COLUMN.sub("NOT NULL PRIMARY KEY", sql)
    return sql


class Connection:
    def __init__(self, path: str):
        self._raw = sqlite3.connect(
            path,
            timeout=float(os.environ.get("IRIS_STUB_BUSY_TIMEOUT", "10")),
            isolation_level=None,  # we issue BEGIN/COMMIT ourselves
            check_same_thread=False,  # the server calls us via asyncio.to_thread
            detect_types=sqlite3.PARSE_DECLTYPES,
        )
        self._raw.execute("PRAGMA foreign_keys = ON")
        # Several sessions (one pinned connection each) share the file: WAL lets
        # readers proceed while one session holds an open transaction.
        self._raw.execute("PRAGMA journal_mode = WAL")
        # TO_DATE('2024-01-31', 'YYYY-MM-DD'): the server's date-literal rewrite.
        self._raw.create_function("TO_DATE", 2, lambda s, _fmt: s, deterministic=True)
        self._lock = threading.Lock()
        self.autocommit = False  # informational; commit() decides

    def setAutoCommit(self, value: bool) -> None:  # noqa: N802 - IRIS name
        self.autocommit = bool(value)

    def cursor(self) -> "Cursor":
        return Cursor(self)

    def commit(self) -> None:
        if self._raw.in_transaction:
            self._raw.execute("COMMIT")

    def rollback(self) -> None:
        if self._raw.in_transaction:
            self._raw.execute("ROLLBACK")

    def close(self) -> None:
        try:
            self.rollback()
        finally:
            self._raw.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


def _trace(what: str, sql: str) -> None:
    """With IRIS_STUB_TRACE=FILE, one line per statement IRIS is asked to run: the
    evidence for how many times the server executes a client's statement."""
    path = os.environ.get("IRIS_STUB_TRACE")
    if path:
        with open(path, "a", encoding="utf-8") as f:
            f.write(f"{what} {' '.join(sql.split())}\n")


class Cursor:
    arraysize = 1

    def __init__(self, conn: Connection):
        self.connection = conn
        self._cur = conn._raw.cursor()
        self.description = None
        self.rowcount = -1
        self.lastrowid = None

    def execute(self, sql: str, params=None):
        _trace("execute", sql)
        return self._run(sql, params)

    def _run(self, sql: str, params=None):
        raw = self.connection._raw
        self.description, self.rowcount = None, -1
        params = tuple(params) if params else ()
        if _NOOP.match(sql):  # catalog install at startup
            self.rowcount = 0
            return self
        try:
            if _BEGIN_TX.match(sql):
                # START TRANSACTION [ISOLATION LEVEL ...]: options ignored; IRIS
                # nests transactions, sqlite cannot, so a nested one is a no-op.
                if not raw.in_transaction:
                    raw.execute("BEGIN")
                self.rowcount = 0
                return self
            m = _END_TX.match(sql)
            if m:
                if raw.in_transaction:
                    raw.execute("ROLLBACK" if m.group(1).upper() == "ROLLBACK" else "COMMIT")
                self.rowcount = 0
                return self
            self._cur.execute(_rewrite(sql), params)
        except sqlite3.Error as exc:
            raise _translate_error(exc) from exc
        if self._cur.description:
            self.description = self._describe(sql)
        self.rowcount = self._cur.rowcount
        self.lastrowid = self._cur.lastrowid
        return self

    def executemany(self, sql: str, seq_of_params):
        seq_of_params = list(seq_of_params)
        _trace(f"executemany[{len(seq_of_params)}]", sql)
        total = 0
        for params in seq_of_params:
            self._run(sql, params)
            total += max(self.rowcount, 0)
        self.rowcount = total
        return self

    def _describe(self, sql: str):
        declared: dict[str, str] = {}
        for table in re.findall(r'\b(?:FROM|JOIN)\s+("?[\w.]+"?)', _rewrite(sql), re.I):
            table = table.strip('"').split(".")[-1]
            try:
                info = self.connection._raw.execute(
                    "SELECT name, type FROM pragma_table_info(?)", (table,)
                ).fetchall()
            except sqlite3.Error:
                continue
            for name, decl in info:
                declared.setdefault(name.upper(), decl or "")
        out = []
        for pos, d in enumerate(self._cur.description, 1):
            name = _iris_column_name(d[0], pos)
            decl = declared.get(name.upper())
            code, size = _LITERAL_CODE, None
            if decl is not None:
                word = re.match(r"\s*(\w*)", decl).group(1).upper()
                code = _TYPE_CODES.get(word, 12)
                m = re.search(r"\((\d+)", decl)
                if code == 12 and m:
                    size = int(m.group(1))
            # (name, type_code, display_size, internal_size, precision, scale, null_ok)
            out.append((name, code, size, size, None, None, True))
        return out

    def fetchone(self):
        try:
            return self._cur.fetchone()
        except sqlite3.Error as exc:
            raise _translate_error(exc) from exc

    def fetchmany(self, size=None):
        try:
            return self._cur.fetchmany(size or self.arraysize)
        except sqlite3.Error as exc:
            raise _translate_error(exc) from exc

    def fetchall(self):
        try:
            return self._cur.fetchall()
        except sqlite3.Error as exc:
            raise _translate_error(exc) from exc

    def close(self):
        self._cur.close()

    def __iter__(self):
        return iter(self.fetchone, None)


def _db_path() -> str:
    path = os.environ.get("IRIS_STUB_DB")
    if not path:
        path = os.path.join(tempfile.gettempdir(), f"iris-stub-{os.getpid()}.sqlite3")
    return path


def connect(*args, **kwargs) -> Connection:
    """Same keywords as intersystems-irispython (hostname, port, namespace,
    username, password, ...); all ignored: the database is $IRIS_STUB_DB."""
    conn = Connection(_db_path())
    return conn
