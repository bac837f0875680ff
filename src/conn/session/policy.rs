//! What the session decides for the driver and the flows: the error grace, request
//! numbers, and the answers that depend on the server's dialect and the caller's settings.

use super::*;

impl Session {
    /// Whether the exchange in flight has failed and only its ReadyForQuery is left to
    /// come (see [`Quirks::ready_may_not_follow_error`]).
    pub fn awaiting_ready_after_error(&self) -> bool {
        self.unsettled_error.is_some()
            && self.copy == Copy::None
            && self
                .expect
                .front()
                .is_some_and(|e| e.head().is_sync_point())
    }

    /// Ends an exchange whose ReadyForQuery did not follow its error within the driver's
    /// grace, as if it had come (the transaction status is the one last known). Only for
    /// servers whose profile says it may never come.
    pub fn assume_ready_after_error(&mut self) {
        if !self.awaiting_ready_after_error() || !self.quirks.ready_may_not_follow_error {
            return;
        }
        if let Some(head) = self.pop() {
            let status = self.tx_status;
            self.ready(head.item(), status);
        }
    }

    /// The server's error for the exchange in flight, if one arrived and its
    /// ReadyForQuery has not.
    pub fn take_unsettled_error(&mut self) -> Option<Error> {
        self.unsettled_error.take()
    }

    /// What the driver should wait for now: a failed exchange waits a short grace for its
    /// ReadyForQuery ([`READY_AFTER_ERROR_GRACE`]); everything else waits for IO.
    pub(crate) fn wait(&self) -> Wait {
        if self.awaiting_ready_after_error() {
            Wait::Grace(READY_AFTER_ERROR_GRACE)
        } else {
            Wait::Io
        }
    }

    /// The grace of [`Wait::Grace`] passed without the ReadyForQuery. On a server whose
    /// profile says it may never come (iris-pgwire legacy) the exchange settles without
    /// it. Elsewhere, when `report` (the caller is an operation, not a drain) and every
    /// message is written, so that the delay is the server's, the server's error is
    /// returned for the operation to complete with at once; re-synchronising then becomes
    /// the next operation's first work. `None`: keep waiting.
    pub(crate) fn grace_expired(&mut self, report: bool) -> Option<Error> {
        if self.quirks.ready_may_not_follow_error {
            self.assume_ready_after_error();
            None
        } else if report && !self.has_outbound() {
            self.take_unsettled_error()
        } else {
            None
        }
    }

    /// A new request number (increasing; see [`Item`]).
    #[inline]
    pub(crate) fn item(&mut self) -> Item {
        let i = self.next_item;
        self.next_item += 1;
        i
    }

    /// Settings of the caller's that the flows consult beside the server's quirks:
    /// `prefer_text` and the declared iris-pgwire release.
    pub(crate) fn set_client_options(
        &mut self,
        prefer_text: bool,
        iris_release: Option<IrisPgwireVersion>,
    ) {
        self.prefer_text = prefer_text;
        self.iris_release = iris_release;
    }

    /// Whether parameters and results use text format only (the server's dialect or the
    /// caller's `prefer_text`).
    #[inline]
    pub(crate) fn text_only(&self) -> bool {
        self.quirks.text_only || self.prefer_text
    }

    /// What the server's iris-pgwire release can do (see [`crate::iris::capabilities`]);
    /// `None` on PostgreSQL.
    pub(crate) fn iris_capabilities(&self) -> Option<Capabilities> {
        self.quirks
            .is_iris_like()
            .then(|| Capabilities::of(self.iris_release))
    }

    /// The declared iris-pgwire release in words, for errors.
    pub(crate) fn iris_release_words(&self) -> String {
        crate::iris::capabilities::release_words(self.iris_release)
    }

    /// The words for the server's release when it cannot roll back (an iris-pgwire
    /// release before 1.2.29, or one not declared; see [`crate::iris::capabilities`]):
    /// there a transaction is refused unless the caller opts in, and a ROLLBACK is never
    /// reported as a success. `None` where rollback works.
    pub(crate) fn cannot_roll_back(&self) -> Option<String> {
        let caps = self.iris_capabilities()?;
        (!caps.rollback).then(|| self.iris_release_words())
    }

    /// Why a CancelRequest cannot cancel a query on this server (the words for the
    /// token's refusal); `None` where it can. On iris-pgwire, by the declared release:
    /// ignored, or the connection closed instead (see [`crate::iris::capabilities`]).
    pub(crate) fn cancel_refusal(&self) -> Option<String> {
        let caps = self.iris_capabilities()?;
        let release = self.iris_release_words();
        match caps.cancel {
            crate::iris::CancelEffect::Cancels => None,
            crate::iris::CancelEffect::Ignored => Some(format!(
                "{release} ignores a CancelRequest: the query runs to its end"
            )),
            _ => Some(format!(
                "{release} closes the connection on a CancelRequest instead of cancelling its query"
            )),
        }
    }

    /// Whether a CancelRequest can stop a statement and leave the connection usable, so
    /// that a deadline may cancel and drain instead of closing.
    #[inline]
    pub(crate) fn cancel_keeps_connection(&self) -> bool {
        !self.quirks.cancel_unreliable
    }
}
