//! The test harness of the flows: a session past startup, a statement cache, and a flow
//! fed scripted server messages through the real framing. No socket.

use super::{Ctx, Flow, Step};
use crate::conn::statement::StatementCache;
use crate::conn::tests::Script;
use crate::error::Error;
use crate::protocol::backend::BackendMessage;
use crate::protocol::frontend::FrontendMessage;

/// A session, a statement cache, and what the flow has said so far.
pub(crate) struct Harness {
    pub(crate) script: Script,
    pub(crate) cache: StatementCache,
}

impl Harness {
    pub(crate) fn postgres() -> Self {
        Self::with(Script::postgres())
    }

    pub(crate) fn iris() -> Self {
        Self::with(Script::iris())
    }

    pub(crate) fn with(script: Script) -> Self {
        Self {
            script,
            cache: StatementCache::new(16),
        }
    }

    /// Feeds `msgs` and hands every event to `flow`: the flow's result once it completes
    /// (the events after it stay queued), `None` while it still waits.
    pub(crate) fn feed<F: Flow>(
        &mut self,
        flow: &mut F,
        msgs: impl IntoIterator<Item = BackendMessage>,
    ) -> Option<Result<F::Output, Error>> {
        self.script.feed(msgs);
        while let Some(ev) = self.script.s.poll_event() {
            let mut cx = Ctx {
                session: &mut self.script.s,
                cache: &mut self.cache,
            };
            match flow.on_event(&mut cx, ev) {
                Ok(Step::Continue) => {}
                Ok(Step::Done(out)) => return Some(Ok(out)),
                Err(e) => return Some(Err(e)),
            }
        }
        None
    }

    /// The frames queued since the last call, in a compact spelling.
    pub(crate) fn sent(&mut self) -> Vec<String> {
        self.script.sent().into_iter().map(frame).collect()
    }
}

/// A frame in a compact spelling.
pub(crate) fn frame(m: FrontendMessage) -> String {
    match m {
        FrontendMessage::Query(q) => format!("Query {}", q.sql),
        FrontendMessage::Parse(p) => format!("Parse {:?} {:?}", p.name, p.param_types),
        FrontendMessage::Bind(b) => format!("Bind {:?}", b.statement),
        FrontendMessage::Describe(d) => format!("Describe {:?} {:?}", d.target, d.name),
        FrontendMessage::Execute(e) => format!("Execute {}", e.max_rows),
        FrontendMessage::Close(c) => format!("Close {:?}", c.name),
        FrontendMessage::Sync => "Sync".into(),
        FrontendMessage::Flush => "Flush".into(),
        FrontendMessage::CopyData(d) => format!("CopyData {}", String::from_utf8_lossy(&d.data)),
        FrontendMessage::CopyDone => "CopyDone".into(),
        FrontendMessage::CopyFail(f) => format!("CopyFail {}", f.message),
        other => format!("{other:?}"),
    }
}
