//! The blocking operations shared by [`Connection`](super::Connection),
//! [`Transaction`](super::Transaction) and [`PooledConnection`](super::PooledConnection),
//! written once as a macro over [`Facade`](super::Facade): each is one `block_on` of the
//! async method of the same name.
//!
//! The macro takes one hidden doc-test line that binds `c` to the type being documented,
//! so every generated method carries an example that compiles for its own type.

macro_rules! blocking_methods {
    ($setup:literal) => {
        /// Runs a simple query (one or more `;`-separated statements, no parameters) and
        /// returns each statement's result, rows as text. See
        /// [`Connection::simple_query`](crate::Connection::simple_query).
        ///
        /// ```no_run
        /// # fn main() -> Result<(), pgline::Error> {
        #[doc = $setup]
        /// let results = c.simple_query("SELECT 1; SELECT 2")?;
        /// assert_eq!(results.len(), 2);
        /// # Ok(()) }
        /// ```
        pub fn simple_query(
            &mut self,
            sql: &str,
        ) -> Result<Vec<$crate::SimpleQueryResult>, $crate::Error> {
            let (exec, conn) = $crate::blocking::Facade::parts(self)?;
            exec.run(conn.simple_query(sql))
        }

        /// Runs statements without results, e.g. DDL; an error stops the batch. See
        /// [`Connection::batch_execute`](crate::Connection::batch_execute).
        ///
        /// ```no_run
        /// # fn main() -> Result<(), pgline::Error> {
        #[doc = $setup]
        /// c.batch_execute("CREATE TEMP TABLE t (id int8); CREATE INDEX ON t (id)")?;
        /// # Ok(()) }
        /// ```
        pub fn batch_execute(&mut self, sql: &str) -> Result<(), $crate::Error> {
            let (exec, conn) = $crate::blocking::Facade::parts(self)?;
            exec.run(conn.batch_execute(sql))
        }

        /// Prepares a named statement. See
        /// [`Connection::prepare`](crate::Connection::prepare).
        ///
        /// ```no_run
        /// # fn main() -> Result<(), pgline::Error> {
        #[doc = $setup]
        /// let stmt = c.prepare("SELECT $1::int4 * 2")?;
        /// let row = c.query_one(&stmt, &[&21i32])?;
        /// assert_eq!(row.get::<i32>(0)?, 42);
        /// # Ok(()) }
        /// ```
        pub fn prepare(&mut self, sql: &str) -> Result<$crate::Statement, $crate::Error> {
            let (exec, conn) = $crate::blocking::Facade::parts(self)?;
            exec.run(conn.prepare(sql))
        }

        /// Prepares with explicit parameter types (0 lets the server infer one). See
        /// [`Connection::prepare_typed`](crate::Connection::prepare_typed).
        ///
        /// ```no_run
        /// # fn main() -> Result<(), pgline::Error> {
        #[doc = $setup]
        /// use pgline::types::oid;
        /// let stmt = c.prepare_typed("SELECT $1", &[oid::INT8])?;
        /// assert_eq!(c.query_one(&stmt, &[&7i64])?.get::<i64>(0)?, 7);
        /// # Ok(()) }
        /// ```
        pub fn prepare_typed(
            &mut self,
            sql: &str,
            types: &[$crate::protocol::Oid],
        ) -> Result<$crate::Statement, $crate::Error> {
            let (exec, conn) = $crate::blocking::Facade::parts(self)?;
            exec.run(conn.prepare_typed(sql, types))
        }

        /// Runs a statement (SQL text or a prepared [`Statement`](crate::Statement)) and
        /// collects its rows. See [`Connection::query`](crate::Connection::query).
        ///
        /// ```no_run
        /// # fn main() -> Result<(), pgline::Error> {
        #[doc = $setup]
        /// let rows = c.query("SELECT generate_series(1, $1::int4)", &[&3i32])?;
        /// assert_eq!(rows.len(), 3);
        /// # Ok(()) }
        /// ```
        pub fn query<'s>(
            &mut self,
            stmt: impl Into<$crate::conn::StatementRef<'s>>,
            params: &[&(dyn $crate::ToSql + Sync)],
        ) -> Result<Vec<$crate::Row>, $crate::Error> {
            let (exec, conn) = $crate::blocking::Facade::parts(self)?;
            exec.run(conn.query(stmt, params))
        }

        /// Runs a statement that must return exactly one row. See
        /// [`Connection::query_one`](crate::Connection::query_one).
        ///
        /// ```no_run
        /// # fn main() -> Result<(), pgline::Error> {
        #[doc = $setup]
        /// let row = c.query_one("SELECT $1::text", &[&"hello"])?;
        /// assert_eq!(row.get::<String>(0)?, "hello");
        /// # Ok(()) }
        /// ```
        pub fn query_one<'s>(
            &mut self,
            stmt: impl Into<$crate::conn::StatementRef<'s>>,
            params: &[&(dyn $crate::ToSql + Sync)],
        ) -> Result<$crate::Row, $crate::Error> {
            let (exec, conn) = $crate::blocking::Facade::parts(self)?;
            exec.run(conn.query_one(stmt, params))
        }

        /// Runs a statement that returns at most one row. See
        /// [`Connection::query_opt`](crate::Connection::query_opt).
        ///
        /// ```no_run
        /// # fn main() -> Result<(), pgline::Error> {
        #[doc = $setup]
        /// let row = c.query_opt("SELECT 1 WHERE $1::bool", &[&false])?;
        /// assert!(row.is_none());
        /// # Ok(()) }
        /// ```
        pub fn query_opt<'s>(
            &mut self,
            stmt: impl Into<$crate::conn::StatementRef<'s>>,
            params: &[&(dyn $crate::ToSql + Sync)],
        ) -> Result<Option<$crate::Row>, $crate::Error> {
            let (exec, conn) = $crate::blocking::Facade::parts(self)?;
            exec.run(conn.query_opt(stmt, params))
        }

        /// Runs a statement and returns the rows it affected (`None` when the server did
        /// not report a trustworthy count). See
        /// [`Connection::execute`](crate::Connection::execute).
        ///
        /// ```no_run
        /// # fn main() -> Result<(), pgline::Error> {
        #[doc = $setup]
        /// c.batch_execute("CREATE TEMP TABLE t (id int8)")?;
        /// let n = c.execute("INSERT INTO t SELECT generate_series(1, $1::int8)", &[&5i64])?;
        /// assert_eq!(n, Some(5));
        /// # Ok(()) }
        /// ```
        pub fn execute<'s>(
            &mut self,
            stmt: impl Into<$crate::conn::StatementRef<'s>>,
            params: &[&(dyn $crate::ToSql + Sync)],
        ) -> Result<Option<u64>, $crate::Error> {
            let (exec, conn) = $crate::blocking::Facade::parts(self)?;
            exec.run(conn.execute(stmt, params))
        }

        /// One-shot query with an unnamed statement (one round trip, results as text).
        /// See [`Connection::query_unnamed`](crate::Connection::query_unnamed).
        ///
        /// ```no_run
        /// # fn main() -> Result<(), pgline::Error> {
        #[doc = $setup]
        /// let rows = c.query_unnamed("SELECT $1::int4", &[&1i32])?;
        /// assert_eq!(rows.len(), 1);
        /// # Ok(()) }
        /// ```
        pub fn query_unnamed(
            &mut self,
            sql: &str,
            params: &[&(dyn $crate::ToSql + Sync)],
        ) -> Result<Vec<$crate::Row>, $crate::Error> {
            let (exec, conn) = $crate::blocking::Facade::parts(self)?;
            exec.run(conn.query_unnamed(sql, params))
        }

        /// Streams the rows of a statement with bounded memory, `chunk` rows per fetch
        /// (0: one Execute, read as fast as rows are taken). See
        /// [`Connection::query_stream`](crate::Connection::query_stream).
        ///
        /// ```no_run
        /// # fn main() -> Result<(), pgline::Error> {
        #[doc = $setup]
        /// let mut total = 0i64;
        /// for row in c.query_stream("SELECT generate_series(1, 1000000)::int8", &[], 10_000)? {
        ///     total += row?.get::<i64>(0)?;
        /// }
        /// # Ok(()) }
        /// ```
        pub fn query_stream<'s>(
            &mut self,
            stmt: impl Into<$crate::conn::StatementRef<'s>>,
            params: &[&(dyn $crate::ToSql + Sync)],
            chunk: u32,
        ) -> Result<$crate::blocking::RowIter<'_>, $crate::Error> {
            let (exec, conn) = $crate::blocking::Facade::parts(self)?;
            let stream = exec.run(conn.query_stream(stmt, params, chunk))?;
            Ok($crate::blocking::RowIter::new(exec, stream))
        }

        /// Loads `rows` through one prepared `sql` statement with pipelined Bind/Execute,
        /// everything in one transaction ([`Atomicity::All`](crate::conn::Atomicity::All)).
        /// Per-row failures are in the report; `Err` means the connection failed. See
        /// [`Connection::execute_many`](crate::Connection::execute_many).
        ///
        /// ```no_run
        /// # fn main() -> Result<(), Box<dyn std::error::Error>> {
        #[doc = $setup]
        /// c.batch_execute("CREATE TEMP TABLE t (id int8, name text)")?;
        /// let rows = (0..10_000i64).map(|i| (i, format!("row {i}")));
        /// let report = c.execute_many("INSERT INTO t VALUES ($1, $2)", rows)?;
        /// assert!(report.is_complete());
        /// # Ok(()) }
        /// ```
        pub fn execute_many<I>(
            &mut self,
            sql: &str,
            rows: I,
        ) -> Result<$crate::conn::LoadReport, $crate::conn::LoadError>
        where
            I: IntoIterator,
            I::Item: $crate::conn::Params,
        {
            let (exec, conn) =
                $crate::blocking::Facade::parts(self).map_err($crate::blocking::load_error)?;
            exec.block_on(conn.execute_many(sql, rows))
                .map_err($crate::blocking::load_error)?
        }

        /// [`execute_many`](Self::execute_many) with explicit options. See
        /// [`Connection::execute_many_with`](crate::Connection::execute_many_with).
        ///
        /// ```no_run
        /// # fn main() -> Result<(), Box<dyn std::error::Error>> {
        #[doc = $setup]
        /// use pgline::conn::{Atomicity, ExecuteManyOptions};
        /// c.batch_execute("CREATE TEMP TABLE t (id int8 PRIMARY KEY)")?;
        /// let opts = ExecuteManyOptions::with_atomicity(Atomicity::EachRow);
        /// let report = c.execute_many_with("INSERT INTO t VALUES ($1)", [(1i64,), (1,)], opts)?;
        /// assert_eq!(report.rows_committed, 1);
        /// # Ok(()) }
        /// ```
        pub fn execute_many_with<I>(
            &mut self,
            sql: &str,
            rows: I,
            opts: $crate::conn::ExecuteManyOptions,
        ) -> Result<$crate::conn::LoadReport, $crate::conn::LoadError>
        where
            I: IntoIterator,
            I::Item: $crate::conn::Params,
        {
            let (exec, conn) =
                $crate::blocking::Facade::parts(self).map_err($crate::blocking::load_error)?;
            exec.block_on(conn.execute_many_with(sql, rows, opts))
                .map_err($crate::blocking::load_error)?
        }

        /// Resumes a load that `previous` describes, running only the rows it does not
        /// show as committed. See
        /// [`Connection::resume_execute_many`](crate::Connection::resume_execute_many).
        ///
        /// ```no_run
        /// # fn main() -> Result<(), Box<dyn std::error::Error>> {
        #[doc = $setup]
        /// use pgline::conn::ExecuteManyOptions;
        /// let rows = || (0..1000i64).map(|i| (i,));
        /// let sql = "INSERT INTO t VALUES ($1)";
        /// let report = match c.execute_many(sql, rows()) {
        ///     Ok(r) => r,
        ///     Err(e) => c.resume_execute_many(sql, rows(), &e.report, ExecuteManyOptions::default())?,
        /// };
        /// # Ok(()) }
        /// ```
        pub fn resume_execute_many<I>(
            &mut self,
            sql: &str,
            rows: I,
            previous: &$crate::conn::LoadReport,
            opts: $crate::conn::ExecuteManyOptions,
        ) -> Result<$crate::conn::LoadReport, $crate::conn::LoadError>
        where
            I: IntoIterator,
            I::Item: $crate::conn::Params,
        {
            let (exec, conn) =
                $crate::blocking::Facade::parts(self).map_err($crate::blocking::load_error)?;
            exec.block_on(conn.resume_execute_many(sql, rows, previous, opts))
                .map_err($crate::blocking::load_error)?
        }

        /// Loads `rows` into `table` (`columns` in order), by binary COPY or pipelined
        /// inserts as `mode` says. See [`Connection::load`](crate::Connection::load).
        ///
        /// ```no_run
        /// # fn main() -> Result<(), Box<dyn std::error::Error>> {
        #[doc = $setup]
        /// use pgline::conn::{ExecuteManyOptions, LoadMode};
        /// c.batch_execute("CREATE TEMP TABLE t (id int8, name text)")?;
        /// let rows = (0..100i64).map(|i| (i, i.to_string()));
        /// let opts = ExecuteManyOptions::default();
        /// let report = c.load("t", &["id", "name"], rows, LoadMode::Auto, opts)?;
        /// assert_eq!(report.rows_committed, 100);
        /// # Ok(()) }
        /// ```
        pub fn load<I>(
            &mut self,
            table: &str,
            columns: &[&str],
            rows: I,
            mode: $crate::conn::LoadMode,
            opts: $crate::conn::ExecuteManyOptions,
        ) -> Result<$crate::conn::LoadReport, $crate::conn::LoadError>
        where
            I: IntoIterator,
            I::Item: $crate::conn::Params,
        {
            let (exec, conn) =
                $crate::blocking::Facade::parts(self).map_err($crate::blocking::load_error)?;
            exec.block_on(conn.load(table, columns, rows, mode, opts))
                .map_err($crate::blocking::load_error)?
        }

        /// Starts `COPY ... FROM STDIN` and returns a [`std::io::Write`] for its data;
        /// end it with [`CopyInWriter::finish`](crate::blocking::CopyInWriter::finish).
        /// See [`Connection::copy_in`](crate::Connection::copy_in).
        ///
        /// ```no_run
        /// # fn main() -> Result<(), Box<dyn std::error::Error>> {
        #[doc = $setup]
        /// use std::io::Write;
        /// c.batch_execute("CREATE TEMP TABLE t (id int8, name text)")?;
        /// let mut w = c.copy_in("COPY t FROM STDIN")?;
        /// w.write_all(b"1\tone\n2\ttwo\n")?;
        /// assert_eq!(w.finish()?, 2);
        /// # Ok(()) }
        /// ```
        pub fn copy_in(
            &mut self,
            sql: &str,
        ) -> Result<$crate::blocking::CopyInWriter<'_>, $crate::Error> {
            let (exec, conn) = $crate::blocking::Facade::parts(self)?;
            let copy = exec.run(conn.copy_in(sql))?;
            Ok($crate::blocking::CopyInWriter::new(exec, copy))
        }

        /// Runs `COPY ... TO STDOUT` and returns its data as a [`std::io::Read`] (and an
        /// iterator of chunks). See [`Connection::copy_out`](crate::Connection::copy_out).
        ///
        /// ```no_run
        /// # fn main() -> Result<(), Box<dyn std::error::Error>> {
        #[doc = $setup]
        /// use std::io::Read;
        /// let mut text = String::new();
        /// c.copy_out("COPY (SELECT 1, 'one') TO STDOUT")?.read_to_string(&mut text)?;
        /// assert_eq!(text, "1\tone\n");
        /// # Ok(()) }
        /// ```
        pub fn copy_out(
            &mut self,
            sql: &str,
        ) -> Result<$crate::blocking::CopyOutReader<'_>, $crate::Error> {
            let (exec, conn) = $crate::blocking::Facade::parts(self)?;
            let out = exec.run(conn.copy_out(sql))?;
            Ok($crate::blocking::CopyOutReader::new(exec, out))
        }

        /// Waits up to `timeout` for the next LISTEN/NOTIFY notification; `Ok(None)` when
        /// none came in time. See
        /// [`Connection::wait_for_notification`](crate::Connection::wait_for_notification),
        /// which async callers wrap in a timeout themselves.
        ///
        /// ```no_run
        /// # fn main() -> Result<(), pgline::Error> {
        #[doc = $setup]
        /// use std::time::Duration;
        /// c.batch_execute("LISTEN jobs")?;
        /// if let Some(n) = c.wait_for_notification(Duration::from_secs(5))? {
        ///     println!("{}: {}", n.channel, n.payload);
        /// }
        /// # Ok(()) }
        /// ```
        pub fn wait_for_notification(
            &mut self,
            timeout: std::time::Duration,
        ) -> Result<Option<$crate::Notification>, $crate::Error> {
            let (exec, conn) = $crate::blocking::Facade::parts(self)?;
            // Dropping the wait at the deadline is safe (`# Cancel safety` in the crate docs).
            match exec.block_on(tokio::time::timeout(timeout, conn.wait_for_notification()))? {
                Ok(r) => r.map(Some),
                Err(_) => Ok(None),
            }
        }

        /// Notifications received so far (buffered), oldest first. See
        /// [`Connection::take_notifications`](crate::Connection::take_notifications).
        ///
        /// ```no_run
        /// # fn main() -> Result<(), pgline::Error> {
        #[doc = $setup]
        /// c.batch_execute("LISTEN jobs; NOTIFY jobs, 'hello'")?;
        /// for n in c.take_notifications() {
        ///     println!("{}: {}", n.channel, n.payload);
        /// }
        /// # Ok(()) }
        /// ```
        pub fn take_notifications(&mut self) -> Vec<$crate::Notification> {
            match $crate::blocking::Facade::parts(self) {
                Ok((_, conn)) => conn.take_notifications(),
                Err(_) => Vec::new(),
            }
        }

        /// Notices received since the last call, when no handler is installed. See
        /// [`Connection::take_notices`](crate::Connection::take_notices).
        ///
        /// ```no_run
        /// # fn main() -> Result<(), pgline::Error> {
        #[doc = $setup]
        /// c.batch_execute("DO $$ BEGIN RAISE NOTICE 'hi'; END $$")?;
        /// assert_eq!(c.take_notices()[0].message(), "hi");
        /// # Ok(()) }
        /// ```
        pub fn take_notices(&mut self) -> Vec<$crate::DbError> {
            match $crate::blocking::Facade::parts(self) {
                Ok((_, conn)) => conn.take_notices(),
                Err(_) => Vec::new(),
            }
        }

        /// Installs a handler for notices (e.g. `RAISE NOTICE`). It runs on the thread
        /// that is blocked in the call receiving the notice. See
        /// [`Connection::set_notice_handler`](crate::Connection::set_notice_handler).
        ///
        /// ```no_run
        /// # fn main() -> Result<(), pgline::Error> {
        #[doc = $setup]
        /// c.set_notice_handler(|n| eprintln!("server says: {}", n.message()));
        /// # Ok(()) }
        /// ```
        pub fn set_notice_handler(&mut self, f: impl FnMut($crate::DbError) + Send + 'static) {
            if let Ok((_, conn)) = $crate::blocking::Facade::parts(self) {
                conn.set_notice_handler(f);
            }
        }

        /// Changes the operation deadline from now on (`None`: no deadline). See
        /// [`Connection::set_query_timeout`](crate::Connection::set_query_timeout).
        ///
        /// ```no_run
        /// # fn main() -> Result<(), pgline::Error> {
        #[doc = $setup]
        /// c.set_query_timeout(Some(std::time::Duration::from_secs(30)));
        /// # Ok(()) }
        /// ```
        pub fn set_query_timeout(&mut self, t: Option<std::time::Duration>) {
            if let Ok((_, conn)) = $crate::blocking::Facade::parts(self) {
                conn.set_query_timeout(t);
            }
        }

        /// A server parameter reported by ParameterStatus (`server_version`, `TimeZone`,
        /// ...). See [`Connection::parameter`](crate::Connection::parameter).
        ///
        /// ```no_run
        /// # fn main() -> Result<(), pgline::Error> {
        #[doc = $setup]
        /// println!("server {}", c.parameter("server_version").unwrap_or("?"));
        /// # Ok(()) }
        /// ```
        pub fn parameter(&self, name: &str) -> Option<&str> {
            $crate::blocking::Facade::conn(self).and_then(|c| c.parameter(name))
        }

        /// Whether an earlier error broke the connection; it then refuses all work. See
        /// [`Connection::is_broken`](crate::Connection::is_broken).
        ///
        /// ```no_run
        /// # fn main() -> Result<(), pgline::Error> {
        #[doc = $setup]
        /// if c.is_broken() {
        ///     eprintln!("reconnect");
        /// }
        /// # Ok(()) }
        /// ```
        pub fn is_broken(&self) -> bool {
            $crate::blocking::Facade::conn(self).is_none_or(|c| c.is_broken())
        }
    };
}
