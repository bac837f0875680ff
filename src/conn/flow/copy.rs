//! COPY flows: starting a COPY through a simple Query and waiting for the server to
//! enter it ([`Opening`]), sending data with CopyData/CopyDone/CopyFail and reading the
//! count ([`Sending`]), receiving CopyData chunks and the count ([`Receiving`]); the
//! binary row encoding of `COPY ... FROM STDIN (FORMAT binary)` ([`BinaryRows`]); and
//! the server checks that refuse a COPY before anything is sent.
//!
//! COPY runs through a simple Query: the only path every server supports, and the one
//! that keeps Sync out of copy mode.
//!
//! ```text
//!   Opening ─┬─ CopyInResponse ──► Sending ─── data…, CopyDone ──► count at ReadyForQuery
//!            │                             └── CopyFail ─────────► 57014 at ReadyForQuery
//!            ├─ CopyOutResponse ─► Receiving ── CopyData…, CopyDone ──► count at ReadyForQuery
//!            └─ an error, no COPY, the other direction ──► the error at ReadyForQuery
//! ```
#![cfg_attr(
    not(test),
    deny(
        clippy::unwrap_used,
        clippy::expect_used,
        clippy::indexing_slicing,
        clippy::panic
    )
)]

use bytes::{BufMut, Bytes, BytesMut};

use super::{binary_result_supported, Ctx, Flow, Step};
use crate::conn::event::{Event, Item};
use crate::conn::params::Params;
use crate::conn::session::Session;
use crate::error::Error;
use crate::protocol::backend::CopyResponse;
use crate::protocol::frontend::IsNull;
use crate::protocol::{EncodeError, Format, Oid};
use crate::types::ValueType;

#[cfg(test)]
mod tests;

/// Outgoing COPY data is written to the socket once this much is queued.
pub(crate) const COPY_FLUSH: usize = 256 * 1024;
/// Largest CopyData frame queued.
const COPY_FRAME: usize = 1 << 20;

/// The binary COPY signature, flags and header-extension length.
const BINARY_HEADER: &[u8] = b"PGCOPY\n\xff\r\n\0\0\0\0\0\0\0\0\0";

/// Which COPY direction a statement is expected to start.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Direction {
    /// `COPY ... FROM STDIN`: the client sends.
    In,
    /// `COPY ... TO STDOUT`: the server sends.
    Out,
}

// ----- what the server can do ---------------------------------------------------------

/// Refuses a COPY in direction `dir` where the server is known to get it wrong, before
/// anything is sent:
///
/// - COPY FROM STDIN on iris-pgwire (every release; see [`crate::iris::capabilities`]):
///   it stores rows of NULLs (1.0.x), maps columns by table order instead of the column
///   list, or fails (1.7.x with the DB-API backend).
/// - COPY TO STDOUT where it is broken (`Quirks::copy_out_broken`: iris-pgwire sends
///   column names instead of data).
pub(crate) fn check(session: &Session, dir: Direction) -> Result<(), Error> {
    match dir {
        Direction::In => match session.iris_capabilities() {
            Some(caps) if !caps.copy_in => Err(Error::unsupported(format!(
                "COPY FROM STDIN does not store the data it is given on {} \
                 (see pgline::iris::capabilities); use load or execute_many",
                session.iris_release_words()
            ))),
            _ => Ok(()),
        },
        Direction::Out if session.quirks().copy_out_broken => Err(Error::unsupported(
            "COPY TO STDOUT is broken on this server (iris-pgwire sends column names instead of data); use query",
        )),
        Direction::Out => Ok(()),
    }
}

/// Whether `load` in its automatic mode should use binary COPY: a server whose COPY
/// works (not iris-pgwire, whose COPY is CSV-only and row-by-row) and every column type
/// with a binary encoding here.
pub(crate) fn binary_copy_fits(session: &Session, types: &[Oid]) -> bool {
    copy_works(session) && types.iter().all(|&t| binary_result_supported(t))
}

/// Whether COPY can carry a load on this server (not on iris-pgwire, whose COPY is
/// CSV-only and row-by-row).
pub(crate) fn copy_works(session: &Session) -> bool {
    !session.quirks().copy_out_broken
}

/// A binary COPY's column count and format against the types the caller gave.
fn check_binary(response: &CopyResponse, types: &[Oid]) -> Result<(), Error> {
    if response.format() != Format::Binary {
        return Err(Error::config("binary rows need COPY ... (FORMAT binary)"));
    }
    let columns = response.column_formats().len();
    if columns != types.len() {
        return Err(Error::config(format!(
            "COPY has {columns} columns, {} types given",
            types.len()
        )));
    }
    Ok(())
}

// ----- start --------------------------------------------------------------------------

/// A COPY the server entered: the request it belongs to and what the server announced.
#[derive(Debug)]
pub(crate) struct Open {
    item: Item,
    response: CopyResponse,
    lenient: bool,
}

/// The simple Query of a COPY statement, until the server enters COPY in the expected
/// direction. Anything else (an error, a statement that is not a COPY, a COPY the other
/// way) ends in an error once the server is ready again.
pub(crate) struct Opening {
    item: Item,
    want: Direction,
    lenient: bool,
    err: Option<Error>,
}

impl Opening {
    /// Queues `sql` as a simple Query allowed to start COPY.
    pub(crate) fn start(session: &mut Session, sql: &str, want: Direction) -> Result<Self, Error> {
        let item = session.item();
        session.start_simple_query(item, sql, true)?;
        Ok(Self {
            item,
            want,
            lenient: session.quirks().lenient_types,
            err: None,
        })
    }

    fn open(&self, response: CopyResponse) -> Step<Open> {
        Step::Done(Open {
            item: self.item,
            response,
            lenient: self.lenient,
        })
    }
}

impl Flow for Opening {
    type Output = Open;

    fn on_event(&mut self, cx: &mut Ctx<'_>, ev: Event) -> Result<Step<Open>, Error> {
        let item = self.item;
        match ev {
            Event::CopyIn(i, r) if i == item && self.want == Direction::In => {
                return Ok(self.open(r))
            }
            Event::CopyOut(i, r) if i == item && self.want == Direction::Out => {
                return Ok(self.open(r))
            }
            Event::CopyIn(i, _) | Event::CopyOut(i, _) if i == item => {
                self.err.get_or_insert(Error::unsupported(
                    "the statement started COPY in the other direction",
                ));
                // A COPY OUT runs to its end by itself. A COPY IN waits for data that
                // will never come: fail it, so that the server ends it with an error and
                // is ready again. Either way the error is reported at Ready.
                if cx.session.in_copy_in() {
                    cx.session.copy_fail("the caller expected COPY TO STDOUT")?;
                }
            }
            Event::Failed(i, e) if i == item => {
                self.err.get_or_insert(e);
            }
            Event::Ready(i, _) if i == item => {
                return Err(self
                    .err
                    .take()
                    .unwrap_or_else(|| Error::protocol("the statement did not start COPY")));
            }
            _ => {}
        }
        Ok(Step::Continue)
    }
}

// ----- COPY IN ------------------------------------------------------------------------

/// An open `COPY ... FROM STDIN`: data queued as CopyData, ended with CopyDone (the
/// count) or CopyFail (the server rolls back). Driven once, after the end, for the
/// result.
#[derive(Debug)]
pub(crate) struct Sending {
    item: Item,
    response: CopyResponse,
    lenient: bool,
    rows: Option<u64>,
    err: Option<Error>,
}

impl Sending {
    /// The COPY IN the server entered.
    pub(crate) fn new(open: Open) -> Self {
        Self {
            item: open.item,
            response: open.response,
            lenient: open.lenient,
            rows: None,
            err: None,
        }
    }

    /// The request the COPY belongs to.
    pub(crate) fn item(&self) -> Item {
        self.item
    }

    /// The overall format the server announced.
    pub(crate) fn format(&self) -> Format {
        self.response.format()
    }

    /// Number of columns being copied.
    pub(crate) fn columns(&self) -> usize {
        self.response.column_formats().len()
    }

    /// Whether values are encoded for a server with loose types (`Quirks::lenient_types`).
    pub(crate) fn lenient(&self) -> bool {
        self.lenient
    }

    /// Checks that typed binary rows of `types` fit this COPY.
    pub(crate) fn check_binary(&self, types: &[Oid]) -> Result<(), Error> {
        check_binary(&self.response, types)
    }

    /// Whether the server still takes data (it leaves COPY IN when it reports an error).
    pub(crate) fn is_open(&self, session: &Session) -> bool {
        session.in_copy_in()
    }

    fn check_open(&self, session: &Session) -> Result<(), Error> {
        if let Some(e) = session.broken_error() {
            return Err(e.clone());
        }
        if !session.in_copy_in() {
            return Err(Error::protocol(
                "the server left COPY mode (it reported an error): call finish to read it",
            ));
        }
        Ok(())
    }

    /// Queues `data` (any split: rows may span calls) as CopyData frames. After it, the
    /// caller writes while [`must_flush`](Self::must_flush) says so.
    pub(crate) fn write(&mut self, session: &mut Session, data: &[u8]) -> Result<(), Error> {
        self.check_open(session)?;
        for chunk in data.chunks(COPY_FRAME) {
            session.copy_data(chunk)?;
        }
        Ok(())
    }

    /// Whether enough is queued that the writer should wait for the socket before
    /// queueing more. Not once the server has failed the COPY: finishing reports the
    /// error. What is still queued is sent all the same, never dropped: the socket may
    /// have taken part of a frame already, and the server skips CopyData after a COPY
    /// error frame by frame, so a cut frame would swallow the next operation's message.
    pub(crate) fn must_flush(&mut self, session: &mut Session) -> bool {
        session.outbound_mut().len() >= COPY_FLUSH && session.in_copy_in()
    }

    /// Queues CopyDone (unless the server already left COPY IN with an error); the flow
    /// then completes with the number of rows copied.
    pub(crate) fn finish(&mut self, session: &mut Session) -> Result<(), Error> {
        if session.in_copy_in() {
            session.copy_done()?;
        }
        Ok(())
    }

    /// Queues CopyFail with `message` (unless the server already left COPY IN); the flow
    /// then completes with the server's error, which [`aborted`](Self::aborted) turns
    /// into the abort's result.
    pub(crate) fn abort(&mut self, session: &mut Session, message: &str) -> Result<(), Error> {
        if session.in_copy_in() {
            session.copy_fail(message)?;
        }
        Ok(())
    }

    /// The result of an aborted COPY from the flow's: the server's `57014`
    /// (query_canceled, its answer to CopyFail) is success; any other error stands; a
    /// count means the server ignored the abort.
    pub(crate) fn aborted(r: Result<u64, Error>) -> Result<(), Error> {
        match r {
            Err(e) if e.code() == Some("57014") => Ok(()),
            Err(e) => Err(e),
            Ok(_) => Err(Error::protocol("server accepted a COPY that was aborted")),
        }
    }
}

impl Flow for Sending {
    type Output = u64;

    fn on_event(&mut self, cx: &mut Ctx<'_>, ev: Event) -> Result<Step<u64>, Error> {
        let item = self.item;
        match ev {
            Event::Complete(i, tag) if i == item => {
                self.rows = cx.rows_affected(tag.as_ref());
            }
            Event::Failed(i, e) if i == item => {
                self.err.get_or_insert(e);
            }
            Event::Ready(i, _) if i == item => {
                return match self.err.take() {
                    Some(e) => Err(e),
                    None => Ok(Step::Done(self.rows.unwrap_or(0))),
                };
            }
            _ => {}
        }
        Ok(Step::Continue)
    }
}

/// Typed rows encoded for `COPY ... FROM STDIN (FORMAT binary)`: the header, each value
/// with its column type's binary encoding, and the trailer.
#[derive(Debug)]
pub(crate) struct BinaryRows {
    types: Vec<Oid>,
    buf: BytesMut,
    lenient: bool,
}

impl BinaryRows {
    /// An encoder for `copy`'s columns, of `types`, starting with the header.
    pub(crate) fn new(copy: &Sending, types: &[Oid]) -> Result<Self, Error> {
        copy.check_binary(types)?;
        let mut buf = BytesMut::with_capacity(64 * 1024);
        buf.put_slice(BINARY_HEADER);
        Ok(Self {
            types: types.to_vec(),
            buf,
            lenient: copy.lenient(),
        })
    }

    /// The column types.
    pub(crate) fn types(&self) -> &[Oid] {
        &self.types
    }

    /// Encodes one row. A value that cannot be encoded is an error and nothing of the
    /// row is kept.
    pub(crate) fn push(&mut self, row: &(impl Params + ?Sized)) -> Result<(), Error> {
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
            if let Err(e) = encode_value(&mut self.buf, row, i, oid, self.lenient) {
                self.buf.truncate(start);
                return Err(e);
            }
        }
        Ok(())
    }

    /// The encoded data, once enough has gathered to be worth sending.
    pub(crate) fn take_full(&mut self) -> Option<Bytes> {
        (self.buf.len() >= COPY_FLUSH).then(|| self.buf.split().freeze())
    }

    /// The rest of the data with the trailer.
    pub(crate) fn finish(&mut self) -> Bytes {
        self.buf.put_i16(-1);
        self.buf.split().freeze()
    }
}

/// Appends value `i` of `row` as column type `oid`: its length (-1 for NULL), then its
/// bytes.
fn encode_value(
    buf: &mut BytesMut,
    row: &(impl Params + ?Sized),
    i: usize,
    oid: Oid,
    lenient: bool,
) -> Result<(), Error> {
    let v = row.get(i).ok_or_else(|| Error::config("short row"))?;
    let ty = ValueType {
        oid,
        format: Format::Binary,
        lenient,
    };
    if let Some(fixed) = v.to_sql_fixed(ty) {
        buf.extend_from_slice(fixed.as_bytes());
        return Ok(());
    }
    if let Some(bytes) = v.to_sql_slice(ty) {
        let len = i32::try_from(bytes.len())
            .map_err(|_| Error::encode(EncodeError::TooLong(bytes.len())))?;
        buf.put_i32(len);
        buf.extend_from_slice(bytes);
        return Ok(());
    }
    let len_pos = buf.len();
    buf.put_i32(0);
    match v
        .to_sql(ty, buf)
        .map_err(|e| Error::conversion(format!("cannot encode column {}", i + 1), e))?
    {
        IsNull::Yes => {
            buf.truncate(len_pos);
            buf.put_i32(-1);
        }
        IsNull::No => {
            let n = buf.len() - len_pos - 4;
            let n = i32::try_from(n).map_err(|_| Error::encode(EncodeError::TooLong(n)))?;
            if let Some(slot) = buf.get_mut(len_pos..len_pos + 4) {
                slot.copy_from_slice(&n.to_be_bytes());
            }
        }
    }
    Ok(())
}

// ----- COPY OUT -----------------------------------------------------------------------

/// An open `COPY ... TO STDOUT`. Each [`Step::Done`] carries one CopyData chunk, or
/// `None` at the end, after the server confirmed completion; a server error mid-stream
/// is an error, never a short stream. The flow is driven again for the next chunk.
#[derive(Debug)]
pub(crate) struct Receiving {
    item: Item,
    response: CopyResponse,
    lenient: bool,
    finished: bool,
    rows: Option<u64>,
    err: Option<Error>,
}

impl Receiving {
    /// The COPY OUT the server entered.
    pub(crate) fn new(open: Open) -> Self {
        Self {
            item: open.item,
            response: open.response,
            lenient: open.lenient,
            finished: false,
            rows: None,
            err: None,
        }
    }

    /// The request the COPY belongs to.
    pub(crate) fn item(&self) -> Item {
        self.item
    }

    /// The overall format the server announced.
    pub(crate) fn format(&self) -> Format {
        self.response.format()
    }

    /// Whether values are decoded for a server with loose types (`Quirks::lenient_types`).
    pub(crate) fn lenient(&self) -> bool {
        self.lenient
    }

    /// Checks that typed binary rows of `types` fit this COPY.
    pub(crate) fn check_binary(&self, types: &[Oid]) -> Result<(), Error> {
        check_binary(&self.response, types)
    }

    /// Whether the stream is over: the server is ready again (with or without an
    /// error), or the caller was given an error (see [`Self::end`]).
    pub(crate) fn finished(&self) -> bool {
        self.finished
    }

    /// The caller was given an error: the stream is over, whatever the server still
    /// sends (the connection's next operation drains it), so no error is reported twice.
    pub(crate) fn end(&mut self) {
        self.finished = true;
        self.err = None;
    }

    /// Rows the server reported, once the stream ended.
    pub(crate) fn rows(&self) -> Option<u64> {
        self.rows
    }
}

impl Flow for Receiving {
    type Output = Option<Bytes>;

    fn on_event(&mut self, cx: &mut Ctx<'_>, ev: Event) -> Result<Step<Option<Bytes>>, Error> {
        let item = self.item;
        match ev {
            Event::CopyData(i, d) if i == item => return Ok(Step::Done(Some(d))),
            Event::Complete(i, tag) if i == item => {
                self.rows = cx.rows_affected(tag.as_ref());
            }
            Event::Failed(i, e) if i == item => {
                self.err.get_or_insert(e);
            }
            Event::Ready(i, _) if i == item => {
                self.finished = true;
                return match self.err.take() {
                    Some(e) => Err(e),
                    None => Ok(Step::Done(None)),
                };
            }
            _ => {}
        }
        Ok(Step::Continue)
    }
}
