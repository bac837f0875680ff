//! **The driver loop**: the only code in pgline that waits on a socket.
//!
//! [`Connection::pump`] writes whatever the session has queued **while** reading whatever
//! the server sends (both polled in one future), so no size of request can deadlock
//! against a server that is blocked writing its responses. [`Connection::drive`] runs
//! one operation: it moves bytes, feeds them to the [`Session`](crate::conn::Session),
//! and hands each event to the operation's [flow](crate::conn::flow), which decides what
//! it means; the one timer here besides the caller's deadline is the grace the session
//! asks for after an error ([`Wait`]). Startup ([`Connection::run_startup`]), draining
//! (`next_discarded_event`), the bulk path's refills (`write_some`), the pool's liveness
//! peek (`poll_alive`), LISTEN (`wait_for_notification`) and Terminate (`close`) are the
//! other ways in, each a few lines over the same primitives.

use std::future::poll_fn;
use std::io;
use std::pin::Pin;
use std::task::Poll;

use bytes::Buf;
use tokio::io::{AsyncRead, AsyncWrite, AsyncWriteExt};

use super::{no_tls_here, Connection, Notification};
use crate::conn::event::Event;
use crate::conn::flow::{Ctx, Flow, Step};
use crate::conn::session::{StartupStatus, Wait};
use crate::error::{DbError, Error};
use crate::protocol::backend::NotificationResponse;
use crate::protocol::framing::peek_header;

/// How much spare room the read buffer keeps for one read.
pub(super) const READ_CHUNK: usize = 64 * 1024;
/// Notices kept when no handler is installed.
const NOTICE_BUFFER: usize = 64;

/// Progress made by one [`Connection::pump`].
enum Progress {
    Read,
    Wrote,
    Eof,
}

impl<S: AsyncRead + AsyncWrite + Unpin> Connection<S> {
    pub(super) async fn run_startup(&mut self) -> Result<(), Error> {
        loop {
            self.route_async_events();
            if let Some(e) = self.session.broken_error() {
                return Err(e.clone());
            }
            match self.session.startup_status() {
                StartupStatus::Done => return Ok(()),
                StartupStatus::NeedScramProof => {
                    if let Some(pending) = self.session.take_scram_pending() {
                        // PBKDF2 costs milliseconds to seconds: keep it off the async worker.
                        let proof = tokio::task::spawn_blocking(move || pending.compute())
                            .await
                            .map_err(|e| Error::auth(format!("SCRAM computation failed: {e}")))?;
                        self.session.provide_scram_proof(proof);
                    }
                }
                StartupStatus::NeedTls => {
                    let binding = match (self.start_tls, self.tls.clone()) {
                        (Some(start), Some(connector)) => start(&mut self.stream, &connector).await,
                        _ => Err(no_tls_here()),
                    };
                    match binding {
                        Ok(binding) => self.session.tls_established(binding),
                        Err(e) => {
                            self.session.mark_broken(e.clone());
                            return Err(e);
                        }
                    }
                }
                StartupStatus::InProgress => {
                    // As `step_io`, letting the spans see how the client authenticates.
                    let progress = self.pump().await;
                    self.trace.startup_read(&self.rbuf);
                    self.take_progress(progress);
                    self.trace.startup_wrote(self.session.outbound_mut());
                }
            }
        }
    }

    // ----- the IO loop --------------------------------------------------------------------

    /// Whether the socket is in polled IO now: only while `execute_many` streams rows
    /// (see [`ExecuteManyOptions::io_tick`](crate::conn::ExecuteManyOptions::io_tick)),
    /// or after such a load was dropped mid-way, until the next operation starts.
    pub fn is_io_polled(&self) -> bool {
        self.polled
    }

    /// Polled IO with this tick, or event-driven IO (`None`), where the transport
    /// supports the switch (see `socket`); a no-op elsewhere. A failed switch loses the
    /// socket, so it breaks the connection.
    pub(crate) fn set_io_tick(&mut self, tick: Option<std::time::Duration>) {
        let Some(set) = self.set_polled else { return };
        if tick.is_none() && !self.polled {
            return;
        }
        match set(&mut self.stream, tick) {
            Ok(()) => self.polled = tick.is_some(),
            Err(e) => {
                self.polled = false;
                self.session.mark_broken(Error::io(e));
            }
        }
    }

    /// Writes pending output while reading; returns after any progress.
    async fn pump(&mut self) -> io::Result<Progress> {
        let Self {
            stream,
            rbuf,
            session,
            ..
        } = self;
        // Room for the next read. For a large frame whose header is in, reserve up to its
        // (already cap-checked) size so it is not read in many small steps.
        let mut want = READ_CHUNK;
        if let Some((_, len)) = peek_header(rbuf) {
            if let Ok(len) = usize::try_from(len) {
                want = want.max((len + 1).saturating_sub(rbuf.len()).min(16 << 20));
            }
        }
        if rbuf.capacity() - rbuf.len() < want / 2 {
            rbuf.reserve(want);
        }
        poll_fn(|cx| {
            let mut wrote = false;
            let out = session.outbound_mut();
            while !out.is_empty() {
                match Pin::new(&mut *stream).poll_write(cx, out) {
                    Poll::Ready(Ok(0)) => {
                        return Poll::Ready(Err(io::Error::new(
                            io::ErrorKind::WriteZero,
                            "socket accepted no bytes",
                        )))
                    }
                    Poll::Ready(Ok(n)) => {
                        out.advance(n.min(out.len()));
                        wrote = true;
                    }
                    Poll::Ready(Err(e)) => return Poll::Ready(Err(e)),
                    Poll::Pending => break,
                }
            }
            // Flush whenever our side is written out, not only after a write in this
            // round: a TLS stream may hold records it could not send last time (the socket
            // was full), and only a flush sends them and registers for writability. On a
            // plain socket it is a no-op.
            if out.is_empty() {
                if let Poll::Ready(Err(e)) = Pin::new(&mut *stream).poll_flush(cx) {
                    return Poll::Ready(Err(e));
                }
            }
            match tokio_util::io::poll_read_buf(Pin::new(&mut *stream), cx, rbuf) {
                Poll::Ready(Ok(0)) => return Poll::Ready(Ok(Progress::Eof)),
                Poll::Ready(Ok(_)) => return Poll::Ready(Ok(Progress::Read)),
                Poll::Ready(Err(e)) => return Poll::Ready(Err(e)),
                Poll::Pending => {}
            }
            if wrote {
                Poll::Ready(Ok(Progress::Wrote))
            } else {
                Poll::Pending
            }
        })
        .await
    }

    /// One round of IO, fed to the session.
    async fn step_io(&mut self) {
        let progress = self.pump().await;
        self.take_progress(progress);
    }

    /// Feeds what one [`Self::pump`] read to the session.
    #[inline]
    fn take_progress(&mut self, progress: io::Result<Progress>) {
        match progress {
            Ok(Progress::Read) => self.session.handle_bytes(&mut self.rbuf),
            Ok(Progress::Wrote) => {}
            Ok(Progress::Eof) => {
                self.session.handle_bytes(&mut self.rbuf);
                self.session.handle_eof();
            }
            Err(e) => self.session.mark_broken(Error::io(e)),
        }
    }

    /// **The driver loop** for one operation: moves bytes and hands each of the
    /// session's events to `flow` (see [`crate::conn::flow`]) until the flow completes.
    /// Queries, prepares, row streams, closes and COPY run through here; the explicit
    /// pipeline, whose caller chooses when to do IO, hands its flow what has arrived with
    /// [`Self::drive_ready`] after each `write_some`; the bulk path polls the session's
    /// events itself after each `write_some` and hands them to its sender. The flow is left as it was after its last event, so a stream is
    /// driven again for its next row.
    pub(crate) async fn drive<F: Flow>(&mut self, flow: &mut F) -> Result<F::Output, Error> {
        loop {
            let ev = self.next_event().await?;
            if let Step::Done(out) = flow.on_event(&mut self.ctx(), ev)? {
                return Ok(out);
            }
        }
    }

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

    /// What a flow may touch: the session and the statement cache.
    #[inline]
    pub(crate) fn ctx(&mut self) -> Ctx<'_> {
        Ctx {
            session: &mut self.session,
            cache: &mut self.cache,
        }
    }

    /// The next event for the current operation; notices and notifications are routed
    /// on the way.
    ///
    /// An operation completes with the server's error at once: when the error is in, all
    /// our messages are written, and its ReadyForQuery does not follow within a short
    /// grace, the error is returned as `Err` and re-synchronising becomes the connection's
    /// pending work, done (within the next operation's deadline) before that operation
    /// starts. PostgreSQL sends the ReadyForQuery right behind the error, so in practice
    /// the caller sees the settled transaction status; a server that stalls there cannot
    /// hold the caller's error back until a deadline.
    pub(crate) async fn next_event(&mut self) -> Result<Event, Error> {
        self.next_event_with(true).await
    }

    /// [`Self::next_event`] for draining what an earlier operation left behind: its
    /// errors are discarded with its other responses, so none completes anything early.
    pub(super) async fn next_discarded_event(&mut self) -> Result<Event, Error> {
        self.next_event_with(false).await
    }

    async fn next_event_with(&mut self, early_error: bool) -> Result<Event, Error> {
        loop {
            while let Some(ev) = self.session.poll_event() {
                match ev {
                    Event::Notice(n) => self.on_notice(n),
                    Event::Notification(n) => self.on_notification(n),
                    Event::ParameterStatus(..) => {}
                    ev => return Ok(ev),
                }
            }
            if let Some(e) = self.session.broken_error() {
                return Err(e.clone());
            }
            // The session owns the timer: it says how long to wait and what a wait that
            // runs out means.
            match self.session.wait() {
                Wait::Io => self.step_io().await,
                Wait::Grace(grace) => {
                    if tokio::time::timeout(grace, self.step_io()).await.is_err() {
                        if let Some(e) = self.session.grace_expired(early_error) {
                            return Err(e);
                        }
                    }
                }
            }
        }
    }

    /// Writes everything queued without waiting for responses (used when the caller
    /// refills the buffer, e.g. bulk loads), reading whatever arrives meanwhile.
    pub(crate) async fn write_some(&mut self) -> Result<(), Error> {
        if let Some(e) = self.session.broken_error() {
            return Err(e.clone());
        }
        self.step_io().await;
        match self.session.broken_error() {
            Some(e) => Err(e.clone()),
            None => Ok(()),
        }
    }

    pub(super) fn route_async_events(&mut self) {
        for ev in self.session.discard_stale_events() {
            match ev {
                Event::Notice(n) => self.on_notice(n),
                Event::Notification(n) => self.on_notification(n),
                _ => {}
            }
        }
    }

    /// Routes the notices and notifications that arrived, leaving the operation's own
    /// events queued (see `Session::take_async_events`).
    pub(super) fn route_side_events(&mut self) {
        for ev in self.session.take_async_events() {
            match ev {
                Event::Notice(n) => self.on_notice(n),
                Event::Notification(n) => self.on_notification(n),
                _ => {}
            }
        }
    }

    pub(super) fn on_notice(&mut self, n: Box<DbError>) {
        let n = *n;
        match &mut self.notice_handler {
            Some(h) => h(n),
            None => {
                if self.notices.len() >= NOTICE_BUFFER {
                    self.notices.pop_front();
                }
                self.notices.push_back(n);
            }
        }
    }

    pub(super) fn on_notification(&mut self, n: NotificationResponse) {
        if self.notifications.len() >= self.config.notification_capacity {
            self.notifications.pop_front();
            self.dropped_notifications += 1;
        }
        self.notifications.push_back(n.into());
    }

    /// A liveness check that costs no round trip (for the pool's checkout): reads, without
    /// waiting, whatever the socket already holds. EOF, a reset, or a message the server
    /// sent while nothing was pending (typically FATAL 57P01 before it closes) marks the
    /// connection broken; a notification or parameter change is taken in as usual.
    /// Returns whether the connection is still usable.
    pub(crate) fn poll_alive(&mut self) -> bool {
        if self.session.is_broken() {
            return false;
        }
        let mut cx = std::task::Context::from_waker(std::task::Waker::noop());
        // At most a few reads: an idle connection normally has nothing to read at all.
        for _ in 0..4 {
            if self.rbuf.capacity() - self.rbuf.len() < 1024 {
                self.rbuf.reserve(READ_CHUNK);
            }
            match tokio_util::io::poll_read_buf(Pin::new(&mut self.stream), &mut cx, &mut self.rbuf)
            {
                Poll::Pending => break,
                Poll::Ready(Ok(0)) => {
                    self.session.handle_bytes(&mut self.rbuf);
                    self.session.handle_eof();
                    break;
                }
                Poll::Ready(Ok(_)) => self.session.handle_bytes(&mut self.rbuf),
                Poll::Ready(Err(e)) => {
                    self.session.mark_broken(Error::io(e));
                    break;
                }
            }
        }
        self.route_async_events();
        !self.session.is_broken()
    }

    /// Waits for the next notification (reading the socket while idle). Wrap it in a
    /// timeout; it waits as long as the server stays silent.
    ///
    /// # Examples
    ///
    /// ```no_run
    /// # async fn demo(conn: &mut pgline::Connection) -> Result<(), pgline::Error> {
    /// use std::time::Duration;
    /// conn.batch_execute("LISTEN jobs").await?;
    /// match tokio::time::timeout(Duration::from_secs(30), conn.wait_for_notification()).await {
    ///     Ok(n) => println!("job {}", n?.payload),
    ///     Err(_) => println!("no job within 30 s"),
    /// }
    /// # Ok(()) }
    /// ```
    pub async fn wait_for_notification(&mut self) -> Result<Notification, Error> {
        self.begin_op().await?;
        loop {
            if let Some(n) = self.notifications.pop_front() {
                return Ok(n);
            }
            while let Some(ev) = self.session.poll_event() {
                match ev {
                    Event::Notice(n) => self.on_notice(n),
                    Event::Notification(n) => self.on_notification(n),
                    _ => {}
                }
            }
            if let Some(n) = self.notifications.pop_front() {
                return Ok(n);
            }
            if let Some(e) = self.session.broken_error() {
                return Err(e.clone());
            }
            self.step_io().await;
        }
    }

    /// Sends Terminate and closes the socket, within the operation deadline (or 5 s when
    /// none is set): a server that stops reading cannot make it hang.
    pub async fn close(mut self) -> Result<(), Error> {
        let deadline = self
            .config
            .query_timeout
            .unwrap_or(std::time::Duration::from_secs(5));
        let fut = async {
            if !self.session.is_broken() {
                self.session.terminate();
                let out = self.session.outbound_mut().split().freeze();
                self.stream.write_all(&out).await.map_err(Error::io)?;
            }
            self.stream.shutdown().await.map_err(Error::io)
        };
        tokio::time::timeout(deadline, fut)
            .await
            .unwrap_or_else(|_| Err(Error::timeout("close timed out")))
    }
}
