//! COPY through `std::io`: [`CopyInWriter`] (a [`Write`]) and [`BinaryCopyWriter`] for
//! `COPY ... FROM STDIN`, [`CopyOutReader`] (a [`Read`], [`BufRead`] and iterator of
//! chunks) and [`BinaryRowReader`] (typed rows of `FORMAT binary`) for
//! `COPY ... TO STDOUT`.

use std::io::{self, BufRead, Read, Write};

use bytes::Bytes;

use super::{consumed, Exec};
use crate::conn::copy_binary::{BinaryCopyReader, BinaryRow};
use crate::conn::{CopyIn, CopyOut, Params, Socket};
use crate::error::Error;
use crate::protocol::{Format, Oid};

/// An open `COPY ... FROM STDIN`, from `copy_in` (e.g.
/// [`Connection::copy_in`](super::Connection::copy_in)). Write the data with
/// [`std::io::Write`] (rows may span writes), then call [`finish`](Self::finish).
///
/// Data goes to the server as the buffer fills (every 256 KiB) and at `finish`; `flush`
/// adds nothing, since rows are committed only by `finish`. A write error is an
/// [`io::Error`] whose [`into_inner`](io::Error::into_inner) is the [`crate::Error`].
///
/// Dropped without `finish`, the COPY is aborted at once (CopyFail, nothing is copied);
/// where blocking is refused the abort is sent before the connection's next operation.
///
/// ```no_run
/// # fn main() -> Result<(), Box<dyn std::error::Error>> {
/// # let mut conn = pgline::blocking::Connection::connect_str("postgres://postgres@127.0.0.1/postgres")?;
/// use std::io::Write;
///
/// let mut w = conn.copy_in("COPY t (id, name) FROM STDIN (FORMAT csv)")?;
/// for i in 0..1000 {
///     writeln!(w, "{i},name {i}")?;
/// }
/// let rows = w.finish()?;
/// # Ok(()) }
/// ```
pub struct CopyInWriter<'a> {
    exec: Exec<'a>,
    format: Format,
    columns: usize,
    /// `Some` until `finish`, `abort`, `binary` or `drop` takes it.
    copy: Option<CopyIn<'a, Socket>>,
}

impl std::fmt::Debug for CopyInWriter<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CopyInWriter")
            .field("format", &self.format)
            .field("columns", &self.columns)
            .finish_non_exhaustive()
    }
}

impl<'a> CopyInWriter<'a> {
    pub(crate) fn new(exec: Exec<'a>, copy: CopyIn<'a, Socket>) -> Self {
        Self {
            exec,
            format: copy.format(),
            columns: copy.columns(),
            copy: Some(copy),
        }
    }

    /// The overall format the server announced.
    ///
    /// ```no_run
    /// # fn main() -> Result<(), pgline::Error> {
    /// # let mut conn = pgline::blocking::Connection::connect_str("postgres://postgres@127.0.0.1/postgres")?;
    /// let w = conn.copy_in("COPY t FROM STDIN (FORMAT binary)")?;
    /// assert_eq!(w.format(), pgline::types::Format::Binary);
    /// # Ok(()) }
    /// ```
    pub fn format(&self) -> Format {
        self.format
    }

    /// Number of columns being copied.
    ///
    /// ```no_run
    /// # fn main() -> Result<(), pgline::Error> {
    /// # let mut conn = pgline::blocking::Connection::connect_str("postgres://postgres@127.0.0.1/postgres")?;
    /// let w = conn.copy_in("COPY t (id, name) FROM STDIN")?;
    /// assert_eq!(w.columns(), 2);
    /// # Ok(()) }
    /// ```
    pub fn columns(&self) -> usize {
        self.columns
    }

    /// Ends the data and waits for the result: the number of rows copied. See
    /// [`CopyIn::finish`].
    ///
    /// ```no_run
    /// # fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// # let mut conn = pgline::blocking::Connection::connect_str("postgres://postgres@127.0.0.1/postgres")?;
    /// use std::io::Write;
    /// let mut w = conn.copy_in("COPY t (id) FROM STDIN")?;
    /// w.write_all(b"1\n2\n3\n")?;
    /// assert_eq!(w.finish()?, 3);
    /// # Ok(()) }
    /// ```
    pub fn finish(mut self) -> Result<u64, Error> {
        let copy = self.copy.take().ok_or_else(consumed)?;
        self.exec.run(copy.finish())
    }

    /// Aborts with CopyFail (`message` is the reason the server logs): nothing is copied.
    /// See [`CopyIn::abort`].
    ///
    /// ```no_run
    /// # fn main() -> Result<(), pgline::Error> {
    /// # let mut conn = pgline::blocking::Connection::connect_str("postgres://postgres@127.0.0.1/postgres")?;
    /// let w = conn.copy_in("COPY t FROM STDIN")?;
    /// w.abort("the input file was truncated")?;
    /// # Ok(()) }
    /// ```
    pub fn abort(mut self, message: &str) -> Result<(), Error> {
        let copy = self.copy.take().ok_or_else(consumed)?;
        self.exec.run(copy.abort(message))
    }

    /// Switches to typed binary rows (the COPY must use `FORMAT binary`); `types` are the
    /// column type OIDs in order. See [`CopyIn::binary`]. On error the COPY is aborted
    /// before the connection's next operation.
    ///
    /// ```no_run
    /// # fn main() -> Result<(), pgline::Error> {
    /// # let mut conn = pgline::blocking::Connection::connect_str("postgres://postgres@127.0.0.1/postgres")?;
    /// use pgline::types::oid;
    /// let copy = conn.copy_in("COPY t (id, name) FROM STDIN (FORMAT binary)")?;
    /// let mut w = copy.binary(&[oid::INT8, oid::TEXT])?;
    /// w.write_row(&(1i64, "one"))?;
    /// assert_eq!(w.finish()?, 1);
    /// # Ok(()) }
    /// ```
    pub fn binary(mut self, types: &[Oid]) -> Result<BinaryCopyWriter<'a>, Error> {
        let copy = self.copy.take().ok_or_else(consumed)?;
        Ok(BinaryCopyWriter {
            exec: self.exec,
            writer: Some(copy.binary(types)?),
        })
    }
}

impl Write for CopyInWriter<'_> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let copy = self
            .copy
            .as_mut()
            .ok_or_else(|| io::Error::other(consumed()))?;
        self.exec.run(copy.write(buf)).map_err(io::Error::other)?;
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl Drop for CopyInWriter<'_> {
    fn drop(&mut self) {
        if let Some(copy) = self.copy.take() {
            // Refused inside a runtime: the connection's next operation sends the CopyFail.
            let _ = self
                .exec
                .run(copy.abort("COPY abandoned: the writer was dropped without finish"));
        }
    }
}

/// Typed rows for `COPY ... FROM STDIN (FORMAT binary)`, from
/// [`CopyInWriter::binary`]: each value is encoded with its column type's binary encoding.
/// Dropped without [`finish`](Self::finish), the COPY is aborted, as for
/// [`CopyInWriter`].
///
/// ```no_run
/// # fn main() -> Result<(), pgline::Error> {
/// # let mut conn = pgline::blocking::Connection::connect_str("postgres://postgres@127.0.0.1/postgres")?;
/// use pgline::types::oid;
/// let mut w = conn
///     .copy_in("COPY t (id, name) FROM STDIN (FORMAT binary)")?
///     .binary(&[oid::INT8, oid::TEXT])?;
/// for i in 0..1000i64 {
///     w.write_row(&(i, format!("row {i}")))?;
/// }
/// w.finish()?;
/// # Ok(()) }
/// ```
pub struct BinaryCopyWriter<'a> {
    exec: Exec<'a>,
    /// `Some` until `finish`, `abort` or `drop` takes it.
    writer: Option<crate::conn::BinaryCopyWriter<'a, Socket>>,
}

impl std::fmt::Debug for BinaryCopyWriter<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BinaryCopyWriter")
            .field("writer", &self.writer)
            .finish_non_exhaustive()
    }
}

impl BinaryCopyWriter<'_> {
    /// Appends one row; a value that cannot be encoded is an error and nothing of the
    /// row is written. See [`crate::conn::BinaryCopyWriter::write_row`].
    ///
    /// ```no_run
    /// # fn main() -> Result<(), pgline::Error> {
    /// # let mut conn = pgline::blocking::Connection::connect_str("postgres://postgres@127.0.0.1/postgres")?;
    /// # let mut w = conn.copy_in("COPY t (id, name) FROM STDIN (FORMAT binary)")?
    /// #     .binary(&[pgline::types::oid::INT8, pgline::types::oid::TEXT])?;
    /// w.write_row(&(1i64, "one"))?;
    /// w.write_row(&(2i64, None::<&str>))?;
    /// # Ok(()) }
    /// ```
    pub fn write_row(&mut self, row: &(impl Params + ?Sized)) -> Result<(), Error> {
        let writer = self.writer.as_mut().ok_or_else(consumed)?;
        self.exec.run(writer.write_row(row))
    }

    /// Writes the trailer, ends the COPY and returns the number of rows copied.
    ///
    /// ```no_run
    /// # fn main() -> Result<(), pgline::Error> {
    /// # let mut conn = pgline::blocking::Connection::connect_str("postgres://postgres@127.0.0.1/postgres")?;
    /// # let mut w = conn.copy_in("COPY t (id) FROM STDIN (FORMAT binary)")?
    /// #     .binary(&[pgline::types::oid::INT8])?;
    /// w.write_row(&(1i64,))?;
    /// assert_eq!(w.finish()?, 1);
    /// # Ok(()) }
    /// ```
    pub fn finish(mut self) -> Result<u64, Error> {
        let writer = self.writer.take().ok_or_else(consumed)?;
        self.exec.run(writer.finish())
    }

    /// Aborts the COPY with CopyFail: nothing is copied.
    ///
    /// ```no_run
    /// # fn main() -> Result<(), pgline::Error> {
    /// # let mut conn = pgline::blocking::Connection::connect_str("postgres://postgres@127.0.0.1/postgres")?;
    /// # let w = conn.copy_in("COPY t (id) FROM STDIN (FORMAT binary)")?
    /// #     .binary(&[pgline::types::oid::INT8])?;
    /// w.abort("changed my mind")?;
    /// # Ok(()) }
    /// ```
    pub fn abort(mut self, message: &str) -> Result<(), Error> {
        let writer = self.writer.take().ok_or_else(consumed)?;
        self.exec.run(writer.abort(message))
    }
}

impl Drop for BinaryCopyWriter<'_> {
    fn drop(&mut self) {
        if let Some(writer) = self.writer.take() {
            let _ = self
                .exec
                .run(writer.abort("COPY abandoned: the writer was dropped without finish"));
        }
    }
}

/// The data of a `COPY ... TO STDOUT`, from `copy_out` (e.g.
/// [`Connection::copy_out`](super::Connection::copy_out)): read it with
/// [`std::io::Read`] / [`BufRead`], or iterate over its chunks (one CopyData message
/// each: usually one row in text and CSV formats). Both can be mixed; the data comes
/// once. A read error is an [`io::Error`] whose [`into_inner`](io::Error::into_inner) is
/// the [`crate::Error`]; a stream never ends silently short.
///
/// Dropped before the end, the rest is read and discarded by the connection's next
/// operation (see [`CopyOut`]).
///
/// ```no_run
/// # fn main() -> Result<(), Box<dyn std::error::Error>> {
/// # let mut conn = pgline::blocking::Connection::connect_str("postgres://postgres@127.0.0.1/postgres")?;
/// use std::io::BufRead;
///
/// let out = conn.copy_out("COPY t TO STDOUT (FORMAT csv)")?;
/// for line in out.lines() {
///     println!("{}", line?);
/// }
/// # Ok(()) }
/// ```
pub struct CopyOutReader<'a> {
    exec: Exec<'a>,
    out: CopyOut<'a, Socket>,
    /// What is left of the chunk being read through `Read`.
    chunk: Bytes,
    /// The server confirmed the end (or the stream failed).
    done: bool,
}

impl std::fmt::Debug for CopyOutReader<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CopyOutReader")
            .field("out", &self.out)
            .field("buffered", &self.chunk.len())
            .field("done", &self.done)
            .finish_non_exhaustive()
    }
}

impl<'a> CopyOutReader<'a> {
    pub(crate) fn new(exec: Exec<'a>, out: CopyOut<'a, Socket>) -> Self {
        Self {
            exec,
            out,
            chunk: Bytes::new(),
            done: false,
        }
    }

    /// The overall format.
    ///
    /// ```no_run
    /// # fn main() -> Result<(), pgline::Error> {
    /// # let mut conn = pgline::blocking::Connection::connect_str("postgres://postgres@127.0.0.1/postgres")?;
    /// let out = conn.copy_out("COPY t TO STDOUT")?;
    /// assert_eq!(out.format(), pgline::types::Format::Text);
    /// # Ok(()) }
    /// ```
    pub fn format(&self) -> Format {
        self.out.format()
    }

    /// Rows the server reported, once the data was read to the end.
    ///
    /// ```no_run
    /// # fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// # let mut conn = pgline::blocking::Connection::connect_str("postgres://postgres@127.0.0.1/postgres")?;
    /// let mut out = conn.copy_out("COPY (SELECT generate_series(1, 3)) TO STDOUT")?;
    /// std::io::copy(&mut out, &mut std::io::sink())?;
    /// assert_eq!(out.rows(), Some(3));
    /// # Ok(()) }
    /// ```
    pub fn rows(&self) -> Option<u64> {
        self.out.rows()
    }

    /// Reads everything (what is left) into one buffer.
    ///
    /// ```no_run
    /// # fn main() -> Result<(), pgline::Error> {
    /// # let mut conn = pgline::blocking::Connection::connect_str("postgres://postgres@127.0.0.1/postgres")?;
    /// let data = conn.copy_out("COPY (SELECT 1) TO STDOUT")?.read_all()?;
    /// assert_eq!(data, b"1\n");
    /// # Ok(()) }
    /// ```
    pub fn read_all(mut self) -> Result<Vec<u8>, Error> {
        let mut all = Vec::new();
        while let Some(chunk) = self.next_chunk()? {
            all.extend_from_slice(&chunk);
        }
        Ok(all)
    }

    /// Typed rows of a `COPY ... TO STDOUT (FORMAT binary)`, one column type OID per
    /// column: an iterator of [`BinaryRow`]s (see
    /// [`CopyOut::binary`](crate::conn::CopyOut::binary)). Must be called before any data
    /// is read.
    ///
    /// ```no_run
    /// # fn main() -> Result<(), pgline::Error> {
    /// # let mut conn = pgline::blocking::Connection::connect_str("postgres://postgres@127.0.0.1/postgres")?;
    /// use pgline::types::oid;
    ///
    /// let out = conn.copy_out("COPY (SELECT 1::int8, 'a'::text) TO STDOUT (FORMAT binary)")?;
    /// for row in out.binary(&[oid::INT8, oid::TEXT])? {
    ///     let row = row?;
    ///     let (id, name): (i64, &str) = (row.get(0)?, row.get(1)?);
    ///     println!("{id} {name}");
    /// }
    /// # Ok(()) }
    /// ```
    pub fn binary(self, types: &[Oid]) -> Result<BinaryRowReader<'a>, Error> {
        if !self.chunk.is_empty() || self.done {
            return Err(Error::config(
                "binary rows must be read from the start of the COPY data",
            ));
        }
        let Self { exec, out, .. } = self;
        Ok(BinaryRowReader {
            exec,
            rows: out.binary(types)?,
            done: false,
        })
    }

    /// The rest of the current chunk, else the next chunk; `None` at the end.
    fn next_chunk(&mut self) -> Result<Option<Bytes>, Error> {
        if !self.chunk.is_empty() {
            return Ok(Some(std::mem::take(&mut self.chunk)));
        }
        if self.done {
            return Ok(None);
        }
        match self.exec.run(self.out.next()) {
            Ok(Some(chunk)) => Ok(Some(chunk)),
            Ok(None) => {
                self.done = true;
                Ok(None)
            }
            Err(e) => {
                self.done = true;
                Err(e)
            }
        }
    }
}

impl Iterator for CopyOutReader<'_> {
    type Item = Result<Bytes, Error>;

    fn next(&mut self) -> Option<Self::Item> {
        self.next_chunk().transpose()
    }
}

impl Read for CopyOutReader<'_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let avail = self.fill_buf()?;
        let n = avail.len().min(buf.len());
        if let (Some(dst), Some(src)) = (buf.get_mut(..n), avail.get(..n)) {
            dst.copy_from_slice(src);
        }
        self.consume(n);
        Ok(n)
    }
}

impl BufRead for CopyOutReader<'_> {
    fn fill_buf(&mut self) -> io::Result<&[u8]> {
        // Skip empty chunks: an empty buffer means the end.
        while self.chunk.is_empty() {
            match self.next_chunk().map_err(io::Error::other)? {
                Some(chunk) => self.chunk = chunk,
                None => break,
            }
        }
        Ok(&self.chunk)
    }

    fn consume(&mut self, amt: usize) {
        let _ = self.chunk.split_to(amt.min(self.chunk.len()));
    }
}

/// Typed rows of a `COPY ... TO STDOUT (FORMAT binary)`, from
/// [`CopyOutReader::binary`]: an iterator of [`BinaryRow`]s that ends after the trailer
/// and the server's confirmation. Malformed data or a server error is an `Err` item
/// (after which the iterator ends), never a short stream.
///
/// Dropped before the end, the rest is read and discarded by the connection's next
/// operation.
pub struct BinaryRowReader<'a> {
    exec: Exec<'a>,
    rows: BinaryCopyReader<'a, Socket>,
    done: bool,
}

impl std::fmt::Debug for BinaryRowReader<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BinaryRowReader")
            .field("rows", &self.rows)
            .field("done", &self.done)
            .finish_non_exhaustive()
    }
}

impl BinaryRowReader<'_> {
    /// Rows the server reported, once the data was read to the end.
    ///
    /// ```no_run
    /// # fn main() -> Result<(), pgline::Error> {
    /// # let mut conn = pgline::blocking::Connection::connect_str("postgres://postgres@127.0.0.1/postgres")?;
    /// let mut rows = conn
    ///     .copy_out("COPY (SELECT generate_series(1, 3)) TO STDOUT (FORMAT binary)")?
    ///     .binary(&[pgline::types::oid::INT4])?;
    /// assert_eq!(rows.by_ref().count(), 3);
    /// assert_eq!(rows.rows(), Some(3));
    /// # Ok(()) }
    /// ```
    pub fn rows(&self) -> Option<u64> {
        self.rows.rows()
    }

    /// The column type OIDs given.
    pub fn types(&self) -> &[Oid] {
        self.rows.types()
    }
}

impl Iterator for BinaryRowReader<'_> {
    type Item = Result<BinaryRow, Error>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.done {
            return None;
        }
        let next = self.exec.run(self.rows.next());
        if !matches!(next, Ok(Some(_))) {
            self.done = true;
        }
        next.transpose()
    }
}
