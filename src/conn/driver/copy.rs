//! COPY: `copy_in` (raw bytes, or typed binary rows through [`BinaryCopyWriter`]) and
//! `copy_out` (a stream of byte chunks, or typed binary rows through
//! [`BinaryCopyReader`], parsed by the sans-IO `conn::copy_binary`). COPY runs through a simple Query, the only path
//! every server supports and the one that keeps Sync out of copy mode.

use bytes::{BufMut, Bytes, BytesMut};
use tokio::io::{AsyncRead, AsyncWrite};

use super::query::rows_affected;
use super::{timed, Connection};
use crate::conn::copy_binary::{BinaryCopyParser, BinaryCopyReader, BinaryRow};
use crate::conn::event::{Event, Item};
use crate::conn::params::Params;
use crate::error::Error;
use crate::protocol::backend::CopyResponse;
use crate::protocol::frontend::IsNull;
use crate::protocol::{EncodeError, Format, Oid};
use crate::trace::{self, Op};
use crate::types::ValueType;

/// Outgoing COPY data is flushed to the socket once this much is buffered.
const COPY_FLUSH: usize = 256 * 1024;
/// Largest CopyData frame written.
const COPY_FRAME: usize = 1 << 20;

/// The binary COPY signature, flags and header-extension length.
const BINARY_HEADER: &[u8] = b"PGCOPY\n\xff\r\n\0\0\0\0\0\0\0\0\0";

/// An open `COPY ... FROM STDIN`. Write data, then [`finish`](Self::finish). Dropped
/// without finishing, the COPY is aborted with CopyFail before the connection's next
/// operation (nothing is committed).
pub struct CopyIn<'c, S> {
    conn: &'c mut Connection<S>,
    item: Item,
    response: CopyResponse,
    /// The COPY's span, open until it ends or is dropped (see `crate::trace`).
    span: trace::Span,
}

impl<S> std::fmt::Debug for CopyIn<'_, S> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CopyIn")
            .field("item", &self.item)
            .finish_non_exhaustive()
    }
}

/// Which COPY direction a statement is expected to start.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Direction {
    In,
    Out,
}

impl<S: AsyncRead + AsyncWrite + Unpin> Connection<S> {
    /// Sends `sql` as a simple query allowed to start COPY, and waits for the server to
    /// enter COPY in the expected direction. Anything else ends in an error after the
    /// server is ready again.
    async fn start_copy(
        &mut self,
        sql: &str,
        want: Direction,
    ) -> Result<(Item, CopyResponse), Error> {
        self.begin_op().await?;
        let item = self.item();
        self.session.start_simple_query(item, sql, true)?;
        let mut err = None;
        loop {
            match self.next_event().await? {
                Event::CopyIn(i, r) if i == item && want == Direction::In => return Ok((i, r)),
                Event::CopyOut(i, r) if i == item && want == Direction::Out => return Ok((i, r)),
                Event::CopyIn(i, _) | Event::CopyOut(i, _) if i == item => {
                    // The session keeps serving the COPY; the error is reported at Ready.
                    err.get_or_insert(Error::unsupported(
                        "the statement started COPY in the other direction",
                    ));
                }
                Event::Failed(i, e) if i == item => {
                    err.get_or_insert(e);
                }
                Event::Ready(i, _) if i == item => {
                    return Err(
                        err.unwrap_or_else(|| Error::protocol("the statement did not start COPY"))
                    )
                }
                _ => {}
            }
        }
    }

    /// Starts `COPY ... FROM STDIN` (`sql` must be such a statement).
    ///
    /// # Examples
    ///
    /// Text format: the data is written as the server parses it (here CSV). For typed
    /// rows in binary format, see [`CopyIn::binary`].
    ///
    /// ```no_run
    /// # async fn demo(conn: &mut pgline::Connection) -> Result<(), pgline::Error> {
    /// let mut copy = conn.copy_in("COPY users (id, name) FROM STDIN (FORMAT csv)").await?;
    /// copy.write(b"1,ada\n2,grace\n").await?;
    /// copy.write(b"3,edsger\n").await?;
    /// let rows = copy.finish().await?;
    /// assert_eq!(rows, 3);
    /// # Ok(()) }
    /// ```
    ///
    /// On iris-pgwire (every release; see [`crate::iris::capabilities`]) this returns an
    /// [`Unsupported`](Error::is_unsupported) error and sends nothing: COPY FROM there
    /// stores rows of NULLs (1.0.x), maps columns by table order instead of the column
    /// list, or fails (1.7.x with the DB-API backend). [`load`](Self::load) uses pipelined
    /// inserts there.
    pub async fn copy_in(&mut self, sql: &str) -> Result<CopyIn<'_, S>, Error> {
        if let Some(caps) = self.iris_capabilities() {
            if !caps.copy_in {
                return Err(Error::unsupported(format!(
                    "COPY FROM STDIN does not store the data it is given on {} \
                     (see pgline::iris::capabilities); use load or execute_many",
                    crate::iris::capabilities::release_words(
                        self.config().get_iris_pgwire_version()
                    )
                )));
            }
        }
        let span = self.op_span(Op::CopyIn, sql);
        let r = timed!(self, span.instrument(self.start_copy(sql, Direction::In)));
        span.error_of(&r);
        let (item, response) = r?;
        Ok(CopyIn {
            conn: self,
            item,
            response,
            span,
        })
    }

    /// Runs `COPY ... TO STDOUT` and returns its data as a stream of chunks.
    ///
    /// # Examples
    ///
    /// ```no_run
    /// # async fn demo(conn: &mut pgline::Connection) -> Result<(), pgline::Error> {
    /// let mut out = conn.copy_out("COPY users TO STDOUT (FORMAT csv)").await?;
    /// while let Some(chunk) = out.next().await? {
    ///     // Usually one row per chunk in text and CSV formats.
    ///     print!("{}", String::from_utf8_lossy(&chunk));
    /// }
    /// println!("{:?} rows", out.rows());
    ///
    /// // Or everything at once:
    /// let csv = conn.copy_out("COPY users TO STDOUT (FORMAT csv)").await?.read_all().await?;
    /// # Ok(()) }
    /// ```
    pub async fn copy_out(&mut self, sql: &str) -> Result<CopyOut<'_, S>, Error> {
        if self.session.quirks().copy_out_broken {
            return Err(Error::unsupported(
                "COPY TO STDOUT is broken on this server (iris-pgwire sends column names instead of data); use query",
            ));
        }
        let span = self.op_span(Op::CopyOut, sql);
        let r = timed!(self, span.instrument(self.start_copy(sql, Direction::Out)));
        span.error_of(&r);
        let (item, response) = r?;
        Ok(CopyOut {
            conn: self,
            item,
            response,
            finished: false,
            rows: None,
            span,
        })
    }
}

impl<S: AsyncRead + AsyncWrite + Unpin> CopyIn<'_, S> {
    /// The overall format the server announced.
    pub fn format(&self) -> Format {
        self.response.format()
    }

    /// Number of columns being copied.
    pub fn columns(&self) -> usize {
        self.response.column_formats().len()
    }

    fn check_open(&self) -> Result<(), Error> {
        if let Some(e) = self.conn.session.broken_error() {
            return Err(e.clone());
        }
        if !self.conn.session.in_copy_in() {
            return Err(Error::protocol(
                "the server left COPY mode (it reported an error): call finish to read it",
            ));
        }
        Ok(())
    }

    /// Writes data (any split: rows may span calls). Flushes to the socket as the buffer
    /// fills, reading what the server sends meanwhile.
    pub async fn write(&mut self, data: &[u8]) -> Result<(), Error> {
        self.check_open()?;
        for chunk in data.chunks(COPY_FRAME) {
            self.conn.session.copy_data(chunk)?;
        }
        self.flush_if_full().await
    }

    /// Writes while the buffer is full, within the operation deadline: a server that
    /// stops reading cannot block the writer forever.
    async fn flush_if_full(&mut self) -> Result<(), Error> {
        let conn = &mut *self.conn;
        timed!(conn, flush_full(conn))
    }

    /// Ends the data (CopyDone) and waits for the result: the number of rows copied.
    pub async fn finish(mut self) -> Result<u64, Error> {
        if self.conn.session.in_copy_in() {
            self.conn.session.copy_done()?;
        }
        self.wait().await
    }

    /// Aborts with CopyFail: the server rolls the COPY back.
    pub async fn abort(mut self, message: &str) -> Result<(), Error> {
        if self.conn.session.in_copy_in() {
            self.conn.session.copy_fail(message)?;
        }
        match self.wait().await {
            Err(e) if e.code() == Some("57014") => Ok(()),
            Err(e) => Err(e),
            Ok(_) => Err(Error::protocol("server accepted a COPY that was aborted")),
        }
    }

    /// The COPY's result, within the operation deadline.
    async fn wait(&mut self) -> Result<u64, Error> {
        let (conn, item) = (&mut *self.conn, self.item);
        let r = timed!(conn, wait_result(conn, item));
        self.span.finish(&r);
        r
    }
}

async fn flush_full<S: AsyncRead + AsyncWrite + Unpin>(
    conn: &mut Connection<S>,
) -> Result<(), Error> {
    while conn.session.outbound_mut().len() >= COPY_FLUSH {
        conn.write_some().await?;
        if !conn.session.in_copy_in() {
            // The server failed the COPY: stop sending; finish() reports the error.
            let _ = conn.session.outbound_mut().split();
            break;
        }
    }
    Ok(())
}

async fn wait_result<S: AsyncRead + AsyncWrite + Unpin>(
    conn: &mut Connection<S>,
    item: Item,
) -> Result<u64, Error> {
    let mut rows = None;
    let mut err = None;
    loop {
        match conn.next_event().await? {
            Event::Complete(i, tag) if i == item => {
                rows = rows_affected(&conn.session, tag.as_ref());
            }
            Event::Failed(i, e) if i == item => {
                err.get_or_insert(e);
            }
            Event::Ready(i, _) if i == item => break,
            _ => {}
        }
    }
    match err {
        Some(e) => Err(e),
        None => Ok(rows.unwrap_or(0)),
    }
}

impl<'c, S: AsyncRead + AsyncWrite + Unpin> CopyIn<'c, S> {
    /// Switches to typed binary rows (the COPY must use `FORMAT binary`); `types` are the
    /// column type OIDs in order.
    ///
    /// # Examples
    ///
    /// ```no_run
    /// # async fn demo(conn: &mut pgline::Connection) -> Result<(), pgline::Error> {
    /// use pgline::types::oid;
    ///
    /// let copy = conn.copy_in("COPY users (id, name) FROM STDIN (FORMAT binary)").await?;
    /// let mut w = copy.binary(&[oid::INT8, oid::TEXT])?;
    /// w.write_row(&(1i64, "ada")).await?;
    /// w.write_row(&(2i64, None::<&str>)).await?; // NULL
    /// assert_eq!(w.finish().await?, 2);
    /// # Ok(()) }
    /// ```
    pub fn binary(self, types: &[Oid]) -> Result<BinaryCopyWriter<'c, S>, Error> {
        BinaryCopyWriter::new(self, types)
    }
}

/// Typed rows for `COPY ... FROM STDIN (FORMAT binary)`: each value is encoded with its
/// column type's binary encoding.
pub struct BinaryCopyWriter<'c, S> {
    copy: CopyIn<'c, S>,
    types: Vec<Oid>,
    buf: BytesMut,
    lenient: bool,
}

impl<S> std::fmt::Debug for BinaryCopyWriter<'_, S> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BinaryCopyWriter")
            .field("types", &self.types)
            .finish_non_exhaustive()
    }
}

impl<'c, S: AsyncRead + AsyncWrite + Unpin> BinaryCopyWriter<'c, S> {
    fn new(copy: CopyIn<'c, S>, types: &[Oid]) -> Result<Self, Error> {
        if copy.format() != Format::Binary {
            return Err(Error::config("binary rows need COPY ... (FORMAT binary)"));
        }
        if copy.columns() != types.len() {
            return Err(Error::config(format!(
                "COPY has {} columns, {} types given",
                copy.columns(),
                types.len()
            )));
        }
        let mut buf = BytesMut::with_capacity(64 * 1024);
        buf.put_slice(BINARY_HEADER);
        let lenient = copy.conn.session.quirks().lenient_types;
        Ok(Self {
            copy,
            types: types.to_vec(),
            buf,
            lenient,
        })
    }

    /// Appends one row. A value that cannot be encoded is an error and nothing of the
    /// row is written.
    pub async fn write_row(&mut self, row: &(impl Params + ?Sized)) -> Result<(), Error> {
        self.encode_row(row)?;
        if self.buf.len() >= COPY_FLUSH {
            let data = self.buf.split().freeze();
            self.send(data).await?;
        }
        Ok(())
    }

    fn encode_row(&mut self, row: &(impl Params + ?Sized)) -> Result<(), Error> {
        if row.len() != self.types.len() {
            return Err(Error::config(format!(
                "row has {} values, COPY has {} columns",
                row.len(),
                self.types.len()
            )));
        }
        let start = self.buf.len();
        let count =
            i16::try_from(self.types.len()).map_err(|_| Error::config("too many COPY columns"))?;
        self.buf.put_i16(count);
        for (i, &oid) in self.types.iter().enumerate() {
            let r = (|| -> Result<(), Error> {
                let v = row.get(i).ok_or_else(|| Error::config("short row"))?;
                let ty = ValueType {
                    oid,
                    format: Format::Binary,
                    lenient: self.lenient,
                };
                if let Some(fixed) = v.to_sql_fixed(ty) {
                    self.buf.extend_from_slice(fixed.as_bytes());
                    return Ok(());
                }
                if let Some(bytes) = v.to_sql_slice(ty) {
                    let len = i32::try_from(bytes.len())
                        .map_err(|_| Error::encode(EncodeError::TooLong(bytes.len())))?;
                    self.buf.put_i32(len);
                    self.buf.extend_from_slice(bytes);
                    return Ok(());
                }
                let len_pos = self.buf.len();
                self.buf.put_i32(0);
                match v
                    .to_sql(ty, &mut self.buf)
                    .map_err(|e| Error::conversion(format!("cannot encode column {}", i + 1), e))?
                {
                    IsNull::Yes => {
                        self.buf.truncate(len_pos);
                        self.buf.put_i32(-1);
                    }
                    IsNull::No => {
                        let n = self.buf.len() - len_pos - 4;
                        let n =
                            i32::try_from(n).map_err(|_| Error::encode(EncodeError::TooLong(n)))?;
                        if let Some(slot) = self.buf.get_mut(len_pos..len_pos + 4) {
                            slot.copy_from_slice(&n.to_be_bytes());
                        }
                    }
                }
                Ok(())
            })();
            if let Err(e) = r {
                self.buf.truncate(start);
                return Err(e);
            }
        }
        Ok(())
    }

    async fn send(&mut self, data: Bytes) -> Result<(), Error> {
        self.copy.write(&data).await
    }

    /// Writes the trailer, ends the COPY and returns the number of rows copied.
    pub async fn finish(mut self) -> Result<u64, Error> {
        self.buf.put_i16(-1);
        let data = self.buf.split().freeze();
        if self.copy.conn.session.in_copy_in() {
            self.send(data).await?;
        }
        self.copy.finish().await
    }

    /// Aborts the COPY with CopyFail.
    pub async fn abort(self, message: &str) -> Result<(), Error> {
        self.copy.abort(message).await
    }
}

/// The data of a `COPY ... TO STDOUT`, chunk by chunk (one CopyData message each:
/// usually one row in text/CSV formats).
pub struct CopyOut<'c, S> {
    conn: &'c mut Connection<S>,
    item: Item,
    response: CopyResponse,
    finished: bool,
    rows: Option<u64>,
    /// The COPY's span, open until the data ends or the stream is dropped.
    span: trace::Span,
}

impl<S> std::fmt::Debug for CopyOut<'_, S> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CopyOut")
            .field("item", &self.item)
            .finish_non_exhaustive()
    }
}

impl<S: AsyncRead + AsyncWrite + Unpin> CopyOut<'_, S> {
    /// The overall format.
    pub fn format(&self) -> Format {
        self.response.format()
    }

    /// The next chunk, `None` at the end (after the server confirmed completion). An
    /// error mid-stream is returned as an error: a stream never ends silently short.
    ///
    /// Each call waits at most the operation deadline (`query_timeout`) for the next
    /// chunk.
    pub async fn next(&mut self) -> Result<Option<Bytes>, Error> {
        if self.finished {
            return Ok(None);
        }
        let Self {
            conn,
            item,
            finished,
            rows,
            span,
            ..
        } = self;
        let conn = &mut **conn;
        let r = timed!(conn, next_chunk(conn, *item, finished, rows));
        match (&r, *rows) {
            (Ok(None), Some(n)) => span.returned_rows(n),
            (Err(e), _) => span.error(e),
            _ => {}
        }
        r
    }

    /// Rows the server reported, once the stream ended.
    pub fn rows(&self) -> Option<u64> {
        self.rows
    }

    /// Reads everything into one buffer.
    pub async fn read_all(mut self) -> Result<Vec<u8>, Error> {
        let mut v = Vec::new();
        while let Some(c) = self.next().await? {
            v.extend_from_slice(&c);
        }
        Ok(v)
    }
}

async fn next_chunk<S: AsyncRead + AsyncWrite + Unpin>(
    conn: &mut Connection<S>,
    item: Item,
    finished: &mut bool,
    rows: &mut Option<u64>,
) -> Result<Option<Bytes>, Error> {
    let mut err = None;
    loop {
        match conn.next_event().await? {
            Event::CopyData(i, d) if i == item => return Ok(Some(d)),
            Event::CopyDone(i) if i == item => {}
            Event::Complete(i, tag) if i == item => {
                *rows = rows_affected(&conn.session, tag.as_ref());
            }
            Event::Failed(i, e) if i == item => {
                err.get_or_insert(e);
            }
            Event::Ready(i, _) if i == item => {
                *finished = true;
                return match err {
                    Some(e) => Err(e),
                    None => Ok(None),
                };
            }
            _ => {}
        }
    }
}

impl<'c, S: AsyncRead + AsyncWrite + Unpin> CopyOut<'c, S> {
    /// Switches to typed binary rows (the COPY must use `FORMAT binary`); `types` are the
    /// column type OIDs in order, one per column copied. The data is checked as it
    /// streams: signature, flags, field counts (must equal `types.len()`), field lengths
    /// (capped at 1 GiB) and the trailer.
    ///
    /// Dropped mid-stream, the rest of the COPY is drained before the connection's next
    /// operation.
    ///
    /// # Examples
    ///
    /// ```no_run
    /// # async fn demo(conn: &mut pgline::Connection) -> Result<(), pgline::Error> {
    /// use pgline::types::oid;
    ///
    /// let out = conn.copy_out("COPY users (id, name) TO STDOUT (FORMAT binary)").await?;
    /// let mut rows = out.binary(&[oid::INT8, oid::TEXT])?;
    /// while let Some(row) = rows.next().await? {
    ///     let (id, name): (i64, Option<String>) = (row.get(0)?, row.get(1)?);
    ///     println!("{id} {name:?}");
    /// }
    /// println!("{:?} rows", rows.rows());
    /// # Ok(()) }
    /// ```
    pub fn binary(self, types: &[Oid]) -> Result<BinaryCopyReader<'c, S>, Error> {
        if self.format() != Format::Binary {
            return Err(Error::config("binary rows need COPY ... (FORMAT binary)"));
        }
        let columns = self.response.column_formats().len();
        if columns != types.len() {
            return Err(Error::config(format!(
                "COPY has {columns} columns, {} types given",
                types.len()
            )));
        }
        let lenient = self.conn.session.quirks().lenient_types;
        Ok(BinaryCopyReader {
            out: self,
            parser: BinaryCopyParser::new(Some(types.len())),
            types: types.into(),
            lenient,
        })
    }
}

impl<S: AsyncRead + AsyncWrite + Unpin> BinaryCopyReader<'_, S> {
    /// The next row, `None` at the end (after the trailer and the server's
    /// confirmation). Malformed data or a server error is an error, never a short
    /// stream. Each chunk waits at most the operation deadline.
    pub async fn next(&mut self) -> Result<Option<BinaryRow>, Error> {
        loop {
            if let Some(raw) = self.parser.poll_row()? {
                return Ok(Some(BinaryRow::new(raw, self.types.clone(), self.lenient)));
            }
            match self.out.next().await? {
                Some(chunk) => self.parser.handle_chunk(chunk)?,
                None => {
                    self.parser.handle_end()?;
                    return Ok(None);
                }
            }
        }
    }

    /// Rows the server reported, once the stream ended.
    pub fn rows(&self) -> Option<u64> {
        self.out.rows()
    }

    /// The column type OIDs given.
    pub fn types(&self) -> &[Oid] {
        &self.types
    }
}
