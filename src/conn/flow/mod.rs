//! Operation flows: the sans-IO state machines that turn one operation's events into its
//! result. No IO, no clock, no `.await`.
//!
//! Every operation the driver runs is a value here. Its constructor (`start`) queues the
//! operation's messages on the [`Session`]; [`Flow::on_event`] then takes the session's
//! events for it in server order, queueing more messages where the protocol needs them (a
//! row stream's next Execute and its Sync, a COPY's CopyFail), until it returns
//! [`Step::Done`] with the result:
//!
//! ```text
//!   let mut flow = Run::start(&mut session, ..)?;     queues Bind/Execute/Sync
//!   loop {
//!       the driver moves bytes: outbound → socket, socket → session.handle_bytes
//!       for each event:  match flow.on_event(&mut ctx, event)? {
//!                            Step::Continue => more IO,
//!                            Step::Done(out) => return out,
//!                        }
//!   }
//! ```
//!
//! The driver's one loop (`Connection::drive`) is the only thing that waits; what the
//! events mean, and every server quirk that changes it, is decided here or in the
//! [`Session`] below. Tests drive flows with scripted server messages and no socket
//! (`flow::tests`).
//!
//! | flow | operation |
//! | --- | --- |
//! | [`simple::SimpleQuery`] | `simple_query`, `batch_execute` |
//! | [`simple::RunSimple`] | a parameterless `query`/`execute` sent as a simple Query (IRIS) |
//! | [`extended::Prepare`] | `prepare`, the statement cache's misses |
//! | [`extended::Run`] | `query`, `execute`, `query_unnamed` |
//! | [`extended::Stream`] | `query_stream` |
//! | [`extended::Close`] | `Statement::close` |
//! | [`copy::Opening`] | `copy_in`, `copy_out`: the Query, until the server enters COPY |
//! | [`copy::Sending`] | `CopyIn` `write`/`finish`/`abort`, `BinaryCopyWriter` (rows encoded by [`copy::BinaryRows`]) |
//! | [`copy::Receiving`] | `CopyOut::next`, `BinaryCopyReader` |
//! | [`pipeline::PipelineFlow`] | `pipeline` (`Pipeline`): statements, sync windows, results |

// Without the tokio driver nothing runs these flows; they still build (and their tests
// run) so that the state machines never depend on the runtime.
#![cfg_attr(not(feature = "runtime"), allow(dead_code, unreachable_pub))]

pub(crate) mod copy;
pub(crate) mod extended;
#[cfg(test)]
mod harness;
pub(crate) mod pipeline;
pub(crate) mod simple;
#[cfg(test)]
mod tests;

use std::borrow::Cow;

use super::event::{Event, Item};
use super::session::Session;
use super::statement::{Deallocated, Statement, StatementCache};
use crate::error::Error;
use crate::protocol::backend::CommandComplete;
use crate::protocol::frontend::BindWriter;
use crate::protocol::{Format, Oid};
use crate::types::{ToSql, ValueType};

/// What a flow says after an event.
#[derive(Debug)]
pub(crate) enum Step<T> {
    /// Not finished: the driver reads on.
    Continue,
    /// The operation completed with this result.
    Done(T),
}

/// What a flow may touch besides its own state: the session (to queue messages) and the
/// connection's statement cache (deallocations the server reports, stale statements).
pub(crate) struct Ctx<'a> {
    /// The sans-IO session.
    pub(crate) session: &'a mut Session,
    /// The connection's statement cache.
    pub(crate) cache: &'a mut StatementCache,
}

/// One operation as a state machine over the session's events.
pub(crate) trait Flow {
    /// The operation's result.
    type Output;

    /// Takes the next event (notices, notifications and parameter changes never come
    /// here). `Err` ends the operation with that error: a server error once the
    /// exchange is over, or a message the flow could not queue.
    fn on_event(&mut self, cx: &mut Ctx<'_>, ev: Event) -> Result<Step<Self::Output>, Error>;
}

impl Ctx<'_> {
    /// After a command completed: forgets the cached statements it deallocated on the
    /// server (`DEALLOCATE ALL`, `DISCARD ALL`, `DEALLOCATE name`), without queueing a
    /// Close for them. `target` is the name the command's SQL deallocates, read only for
    /// a bare `DEALLOCATE` tag (see [`Deallocated`]).
    pub(crate) fn note_complete(
        &mut self,
        tag: Option<&CommandComplete>,
        target: impl FnOnce() -> Option<String>,
    ) {
        if let Some(d) = tag.and_then(|t| Deallocated::from_tag(t.tag(), target)) {
            self.cache.forget(&d);
        }
    }

    /// Rows affected by a completed command (see [`rows_affected`]).
    #[inline]
    pub(crate) fn rows_affected(&self, tag: Option<&CommandComplete>) -> Option<u64> {
        rows_affected(self.session, tag)
    }
}

/// Rows affected by a completed command, `None` where the count is unknown or the server
/// is known to report it unreliably.
pub(crate) fn rows_affected(session: &Session, tag: Option<&CommandComplete>) -> Option<u64> {
    if session.quirks().unreliable_row_counts {
        return None;
    }
    tag.and_then(CommandComplete::rows)
}

/// Result types pgline can decode in binary; others are requested as text.
pub(crate) fn binary_result_supported(oid: Oid) -> bool {
    use crate::types::oid;
    matches!(
        oid,
        oid::BOOL
            | oid::BYTEA
            | oid::NAME
            | oid::INT8
            | oid::INT2
            | oid::INT4
            | oid::TEXT
            | oid::OID
            | oid::FLOAT4
            | oid::FLOAT8
            | oid::BPCHAR
            | oid::VARCHAR
            | oid::DATE
            | oid::TIMESTAMP
            | oid::TIMESTAMPTZ
    )
}

/// Chooses the wire format for each parameter and checks that the value fits the type.
pub(crate) fn param_formats(
    params: &[&(dyn ToSql + Sync)],
    types: &[Oid],
    text_only: bool,
    lenient: bool,
) -> Result<Vec<i16>, Error> {
    params
        .iter()
        .enumerate()
        .map(|(i, p)| {
            let oid = types.get(i).copied().unwrap_or(0);
            if !lenient && oid != 0 && oid != crate::types::oid::UNKNOWN && !p.accepts(oid) {
                return Err(Error::conversion(
                    format!(
                        "cannot send {p:?} as parameter ${} of type OID {oid}",
                        i + 1
                    ),
                    WrongParamType,
                ));
            }
            Ok(if !text_only && p.supports_binary(oid) {
                1
            } else {
                0
            })
        })
        .collect()
}

/// Writes the parameter values into a Bind.
pub(crate) fn write_params(
    w: &mut BindWriter<'_>,
    params: &[&(dyn ToSql + Sync)],
    types: &[Oid],
    formats: &[i16],
    lenient: bool,
) -> Result<(), Error> {
    for (i, p) in params.iter().enumerate() {
        let ty = ValueType {
            oid: types.get(i).copied().unwrap_or(0),
            format: if formats.get(i) == Some(&1) {
                Format::Binary
            } else {
                Format::Text
            },
            lenient,
        };
        w.value_with(|buf| {
            p.to_sql(ty, buf)
                .map_err(|e| Error::conversion(format!("cannot encode parameter ${}", i + 1), e))
        })?;
    }
    Ok(())
}

#[derive(Debug)]
struct WrongParamType;

impl std::fmt::Display for WrongParamType {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("parameter type mismatch")
    }
}

impl std::error::Error for WrongParamType {}

/// On servers that bind placeholders by position (`Quirks::positional_placeholders`):
/// the SQL renumbered to `$1..$k` in textual order, each once, and the caller's value
/// index for each. Unchanged (and `None`) elsewhere or when already in order.
pub(crate) fn renumber<'q>(
    session: &Session,
    sql: &'q str,
) -> Result<(Cow<'q, str>, Option<Vec<u16>>), Error> {
    if !session.quirks().positional_placeholders {
        return Ok((Cow::Borrowed(sql), None));
    }
    match crate::iris::placeholders::rewrite(sql) {
        Ok(None) => Ok((Cow::Borrowed(sql), None)),
        Ok(Some(r)) => Ok((Cow::Owned(r.sql), Some(r.order))),
        Err(e) => Err(Error::config(e.to_string())),
    }
}

/// The caller's values in the order of a renumbered statement's placeholders (see
/// [`renumber`]); borrowed unchanged when nothing was renumbered.
pub(crate) fn renumbered_values<'p, 'v>(
    params: &'p [&'v (dyn ToSql + Sync)],
    order: Option<&[u16]>,
) -> Result<Cow<'p, [&'v (dyn ToSql + Sync)]>, Error> {
    let Some(order) = order else {
        return Ok(Cow::Borrowed(params));
    };
    order
        .iter()
        .map(|&j| {
            params.get(usize::from(j)).copied().ok_or_else(|| {
                Error::config(format!(
                    "the statement uses ${} but {} values were given",
                    j + 1,
                    params.len()
                ))
            })
        })
        .collect::<Result<Vec<_>, _>>()
        .map(Cow::Owned)
}

/// A prepared statement's parameter count against the number of values given.
pub(crate) fn check_param_count(s: &Statement, given: usize) -> Result<(), Error> {
    if s.params().len() != given {
        return Err(Error::config(format!(
            "statement has {} parameters, {given} given",
            s.params().len()
        )));
    }
    Ok(())
}

/// Before a Bind of `s`: when `s` is the unnamed statement (pooler-safe mode), queues
/// its Parse again, with the parameter types its Describe reported, so that the Bind
/// in the same flight finds it whichever server connection the flight lands on.
/// Nothing for a named statement.
pub(crate) fn push_parse_again(
    session: &mut Session,
    item: Item,
    s: &Statement,
) -> Result<(), Error> {
    if !s.is_unnamed() {
        return Ok(());
    }
    let (sql, _) = renumber(session, s.sql())?;
    let types = s.wire_params().to_vec();
    session.push_parse(item, "", &sql, &types)
}
