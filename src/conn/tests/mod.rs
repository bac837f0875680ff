//! Deterministic tests of the sans-IO session: a [`Script`] feeds backend messages and
//! the tests assert on events and outbound frames. No sockets, no clock.

mod pipeline;
mod protocol32;
mod runs;
mod simple;
mod startup;

use bytes::BytesMut;

use super::event::{Event, Item};
use super::session::Session;
use crate::iris::Quirks;
use crate::protocol::backend::{
    BackendMessage, CommandComplete, DataRow, ErrorFields, FieldDescription, ReadyForQuery,
    RowDescription, TransactionStatus,
};
use crate::protocol::framing::decode_frontend;
use crate::protocol::frontend::{AuthStage, FrontendMessage};
use crate::protocol::{Format, Oid};

/// A session past startup plus helpers to feed it and read what it did.
pub(crate) struct Script {
    pub(crate) s: Session,
}

impl Script {
    pub(crate) fn postgres() -> Self {
        Self {
            s: Session::new_ready(Quirks::postgres()),
        }
    }

    pub(crate) fn iris() -> Self {
        Self {
            s: Session::new_ready(Quirks::iris()),
        }
    }

    pub(crate) fn feed(&mut self, msgs: impl IntoIterator<Item = BackendMessage>) {
        for m in msgs {
            // Through the real framing, as bytes, to exercise the same path as the driver.
            let mut buf = BytesMut::new();
            m.encode(&mut buf).expect("encode");
            self.s.handle_bytes(&mut buf);
        }
    }

    pub(crate) fn events(&mut self) -> Vec<Event> {
        std::iter::from_fn(|| self.s.poll_event()).collect()
    }

    /// The frontend messages the session queued, decoded.
    pub(crate) fn sent(&mut self) -> Vec<FrontendMessage> {
        let mut out = self.s.outbound_mut().split();
        let mut v = Vec::new();
        while let Some(m) =
            decode_frontend(&mut out, 1 << 30, AuthStage::Password).expect("frontend")
        {
            v.push(m);
        }
        v
    }
}

pub(crate) fn rfq(s: TransactionStatus) -> BackendMessage {
    BackendMessage::ReadyForQuery(ReadyForQuery::new(s))
}

pub(crate) fn idle() -> BackendMessage {
    rfq(TransactionStatus::Idle)
}

pub(crate) fn cc(tag: &'static str) -> BackendMessage {
    BackendMessage::CommandComplete(CommandComplete::new(tag))
}

pub(crate) fn err(code: &str) -> BackendMessage {
    BackendMessage::ErrorResponse(ErrorFields::new("ERROR", code, "boom"))
}

pub(crate) fn fatal(code: &str) -> BackendMessage {
    BackendMessage::ErrorResponse(ErrorFields::new("FATAL", code, "bye"))
}

pub(crate) fn row(vals: &[Option<&[u8]>]) -> BackendMessage {
    BackendMessage::DataRow(DataRow::new(vals).expect("row"))
}

pub(crate) fn rowdesc(names: &[&str]) -> BackendMessage {
    let fields: Vec<FieldDescription<'_>> = names
        .iter()
        .map(|n| FieldDescription {
            name: n,
            table_oid: 0,
            column_id: 0,
            type_oid: 25 as Oid,
            type_size: -1,
            type_modifier: -1,
            format: Format::Text,
        })
        .collect();
    BackendMessage::RowDescription(RowDescription::new(&fields).expect("rowdesc"))
}

/// A compact view of an event for table-driven assertions.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum E {
    Parse(Item),
    Bind(Item),
    Desc(Item),
    NoData(Item),
    Row(Item),
    Done(Item, Option<String>),
    Empty(Item),
    Suspended(Item),
    Close(Item),
    Failed(Item, Option<String>),
    Aborted(Item),
    Ready(Item),
    Notice,
    Other,
}

pub(crate) fn compact(evs: Vec<Event>) -> Vec<E> {
    evs.into_iter()
        .map(|e| match e {
            Event::ParseComplete(i) => E::Parse(i),
            Event::BindComplete(i) => E::Bind(i),
            Event::RowDescription(i, _) => E::Desc(i),
            Event::NoData(i) => E::NoData(i),
            Event::Row(i, _) => E::Row(i),
            Event::Complete(i, t) => E::Done(i, t.map(|t| t.tag().to_string())),
            Event::EmptyQuery(i) => E::Empty(i),
            Event::PortalSuspended(i) => E::Suspended(i),
            Event::CloseComplete(i) => E::Close(i),
            Event::Failed(i, e) => E::Failed(i, e.code().map(str::to_string)),
            Event::Aborted(i) => E::Aborted(i),
            Event::Ready(i, _) => E::Ready(i),
            Event::Notice(_) => E::Notice,
            _ => E::Other,
        })
        .collect()
}
