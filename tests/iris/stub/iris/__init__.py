"""Stand-in for the `iris` module of `intersystems-irispython`, backed by sqlite3.

Only for running the published `iris-pgwire` 1.7.3 server unmodified in tests,
with no InterSystems IRIS instance.  The server is started with
PGWIRE_BACKEND_TYPE=dbapi; on that path it touches exactly this surface:

* `import iris.dbapi as dbapi; dbapi.connect(hostname=, port=, namespace=,
  username=, password=)`  -- `dbapi_connection_pool.IRISConnectionPool.
  _create_connection`, one connection per client session (pinned) plus one for
  the startup `SELECT 1` (`DBAPIExecutor.test_connection`).
* `connection.cursor()`, `.commit()` (called after every statement outside a
  transaction: `DBAPIExecutor._maybe_auto_commit`), `.rollback()`, `.close()`.
* `cursor.execute(sql[, params])` with qmark (`?`) parameters, `.description`
  (7-tuples; element [1] is an IRIS type *code*, mapped by
  `DBAPIExecutor._map_dbapi_type_to_oid`), `.fetchall()`, `.fetchone()`,
  `.rowcount` (used for the INSERT/UPDATE/DELETE tag counts), `.close()`.
* Exception messages: `sql_translator.sqlstate.classify_iris_error` reads
  `SQLCODE: <-n>` from `str(exc)` to pick the SQLSTATE, so errors are re-raised
  in the IRIS DB-API wording (`[SQLCODE: <-119>:<...>]`).

`iris_executor.IRISExecutor._detect_iris_environment` treats an `iris` module
that has `iris.sql.exec` as *embedded* Python; this module deliberately has no
`sql` attribute.  Other `import iris` sites (`iris_log_handler`, `auth/*`) only
need the import to succeed or are never reached with trust auth.

Implementation: `iris/dbapi.py`.  This file re-exports it, like the real
package, whose `iris.connect` is the same call.
"""

from .dbapi import (  # noqa: F401  (re-exported API)
    DatabaseError,
    DataError,
    Error,
    IntegrityError,
    InterfaceError,
    InternalError,
    NotSupportedError,
    OperationalError,
    ProgrammingError,
    Warning,
    apilevel,
    connect,
    paramstyle,
    threadsafety,
)

__all__ = ["connect", "dbapi"]
