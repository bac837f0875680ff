//! The non-blocking half of the driver loop: what has already arrived, handed to a flow.

use tokio::io::{AsyncRead, AsyncWrite};

use super::Connection;
use crate::conn::event::Event;
use crate::conn::flow::{Flow, Step};
use crate::error::Error;

impl<S: AsyncRead + AsyncWrite + Unpin> Connection<S> {
    /// [`Connection::drive`] without IO and without waiting: hands `flow` the events the
    /// session already holds (routing notices and notifications on the way) until it
    /// completes (`Some`, the events after it stay queued) or none are left (`None`).
    /// For operations whose caller decides when to do IO (the explicit pipeline).
    pub(crate) fn drive_ready<F: Flow>(
        &mut self,
        flow: &mut F,
    ) -> Result<Option<F::Output>, Error> {
        while let Some(ev) = self.session.poll_event() {
            match ev {
                Event::Notice(n) => self.on_notice(n),
                Event::Notification(n) => self.on_notification(n),
                Event::ParameterStatus(..) => {}
                ev => {
                    if let Step::Done(out) = flow.on_event(&mut self.ctx(), ev)? {
                        return Ok(Some(out));
                    }
                }
            }
        }
        Ok(None)
    }
}
