//! COPY: `copy_in` (raw bytes, or typed binary rows through [`BinaryCopyWriter`]) and
//! `copy_out` (a stream of byte chunks, or typed binary rows through
//! [`BinaryCopyReader`], parsed by the sans-IO `conn::copy_binary`). The protocol, and
//! what each server can do, is the sans-IO `conn::flow::copy`; this is its async shell:
//! deadlines, spans and the driver loop.

use bytes::Bytes;
use tokio::io::{AsyncRead, AsyncWrite};

use super::{timed, Connection};
use crate::conn::copy_binary::{BinaryCopyParser, BinaryCopyReader, BinaryRow};
use crate::conn::flow::copy::{self, BinaryRows, Direction, Opening, Receiving, Sending};
use crate::conn::params::Params;
use crate::error::Error;
use crate::protocol::{Format, Oid};
use crate::trace::{self, Op};

/// An open `COPY ... FROM STDIN`. Write data, then [`finish`](Self::finish). Dropped
/// without finishing, the COPY is aborted with CopyFail before the connection's next
/// operation (nothing is committed).
pub struct CopyIn<'c, S> {
    conn: &'c mut Connection<S>,
    flow: Sending,
    /// The COPY's span, open until it ends or is dropped (see `crate::trace`).
    span: trace::Span,
}

impl<S> std::fmt::Debug for CopyIn<'_, S> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CopyIn")
            .field("item", &self.flow.item())
            .finish_non_exhaustive()
    }
}

impl<S: AsyncRead + AsyncWrite + Unpin> Connection<S> {
    /// Sends `sql` as a simple query allowed to start COPY, and waits for the server to
    /// enter COPY in the expected direction (see [`Opening`]).
    async fn start_copy(&mut self, sql: &str, want: Direction) -> Result<copy::Open, Error> {
        self.begin_op().await?;
        let mut flow = Opening::start(&mut self.session, sql, want)?;
        self.drive(&mut flow).await
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
        copy::check(&self.session, Direction::In)?;
        let span = self.op_span(Op::CopyIn, sql);
        let r = timed!(self, span.instrument(self.start_copy(sql, Direction::In)));
        span.error_of(&r);
        Ok(CopyIn {
            conn: self,
            flow: Sending::new(r?),
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
        copy::check(&self.session, Direction::Out)?;
        let span = self.op_span(Op::CopyOut, sql);
        let r = timed!(self, span.instrument(self.start_copy(sql, Direction::Out)));
        span.error_of(&r);
        Ok(CopyOut {
            conn: self,
            flow: Receiving::new(r?),
            span,
        })
    }
}

impl<S: AsyncRead + AsyncWrite + Unpin> CopyIn<'_, S> {
    /// The overall format the server announced.
    pub fn format(&self) -> Format {
        self.flow.format()
    }

    /// Number of columns being copied.
    pub fn columns(&self) -> usize {
        self.flow.columns()
    }

    /// Writes data (any split: rows may span calls). Flushes to the socket as the buffer
    /// fills, reading what the server sends meanwhile.
    pub async fn write(&mut self, data: &[u8]) -> Result<(), Error> {
        self.flow.write(&mut self.conn.session, data)?;
        self.flush_if_full().await
    }

    /// Writes while the buffer is full, within the operation deadline: a server that
    /// stops reading cannot block the writer forever.
    async fn flush_if_full(&mut self) -> Result<(), Error> {
        let (conn, flow) = (&mut *self.conn, &mut self.flow);
        timed!(conn, async {
            while flow.must_flush(&mut conn.session) {
                conn.write_some().await?;
                // The COPY's own events wait for finish; notices and notifications the
                // server sends meanwhile go where they always go, so they cannot pile up.
                conn.route_side_events();
            }
            Ok(())
        })
    }

    /// Ends the data (CopyDone) and waits for the result: the number of rows copied.
    pub async fn finish(mut self) -> Result<u64, Error> {
        self.flow.finish(&mut self.conn.session)?;
        self.wait().await
    }

    /// Aborts with CopyFail: the server rolls the COPY back.
    pub async fn abort(mut self, message: &str) -> Result<(), Error> {
        self.flow.abort(&mut self.conn.session, message)?;
        Sending::aborted(self.wait().await)
    }

    /// The COPY's result, within the operation deadline.
    async fn wait(&mut self) -> Result<u64, Error> {
        let (conn, flow) = (&mut *self.conn, &mut self.flow);
        let r = timed!(conn, conn.drive(flow));
        self.span.finish(&r);
        r
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
    rows: BinaryRows,
}

impl<S> std::fmt::Debug for BinaryCopyWriter<'_, S> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BinaryCopyWriter")
            .field("types", &self.rows.types())
            .finish_non_exhaustive()
    }
}

impl<'c, S: AsyncRead + AsyncWrite + Unpin> BinaryCopyWriter<'c, S> {
    fn new(copy: CopyIn<'c, S>, types: &[Oid]) -> Result<Self, Error> {
        let rows = BinaryRows::new(&copy.flow, types)?;
        Ok(Self { copy, rows })
    }

    /// Appends one row. A value that cannot be encoded is an error and nothing of the
    /// row is written.
    pub async fn write_row(&mut self, row: &(impl Params + ?Sized)) -> Result<(), Error> {
        self.rows.push(row)?;
        if let Some(data) = self.rows.take_full() {
            self.send(data).await?;
        }
        Ok(())
    }

    async fn send(&mut self, data: Bytes) -> Result<(), Error> {
        self.copy.write(&data).await
    }

    /// Writes the trailer, ends the COPY and returns the number of rows copied.
    pub async fn finish(mut self) -> Result<u64, Error> {
        let data = self.rows.finish();
        if self.copy.flow.is_open(&self.copy.conn.session) {
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
    flow: Receiving,
    /// The COPY's span, open until the data ends or the stream is dropped.
    span: trace::Span,
}

impl<S> std::fmt::Debug for CopyOut<'_, S> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CopyOut")
            .field("item", &self.flow.item())
            .finish_non_exhaustive()
    }
}

impl<S: AsyncRead + AsyncWrite + Unpin> CopyOut<'_, S> {
    /// The overall format.
    pub fn format(&self) -> Format {
        self.flow.format()
    }

    /// The next chunk, `None` at the end (after the server confirmed completion). An
    /// error mid-stream is returned as an error: a stream never ends silently short.
    ///
    /// Each call waits at most the operation deadline (`query_timeout`) for the next
    /// chunk.
    pub async fn next(&mut self) -> Result<Option<Bytes>, Error> {
        if self.flow.finished() {
            return Ok(None);
        }
        let (conn, flow) = (&mut *self.conn, &mut self.flow);
        let r = timed!(conn, conn.drive(flow));
        match (&r, self.flow.rows()) {
            (Ok(None), Some(n)) => self.span.returned_rows(n),
            (Err(e), _) => {
                self.span.error(e);
                self.flow.end();
            }
            _ => {}
        }
        r
    }

    /// Rows the server reported, once the stream ended.
    pub fn rows(&self) -> Option<u64> {
        self.flow.rows()
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
        self.flow.check_binary(types)?;
        let lenient = self.flow.lenient();
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
