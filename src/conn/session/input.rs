//! Input: framing the server's bytes, matching each message against the expectation
//! queue, the bulk fast path, and the events that come out.

use bytes::BytesMut;

use super::*;

impl Session {
    // ----- input --------------------------------------------------------------------------

    /// Frames and handles every complete message in `buf`. Stops at the first error,
    /// which breaks the session.
    pub fn handle_bytes(&mut self, buf: &mut BytesMut) {
        if let Phase::Startup(s) = &self.phase {
            match **s {
                Startup::ExpectSslResponse { required } => {
                    self.handle_ssl_response(required, buf);
                    return;
                }
                Startup::AwaitTls if !buf.is_empty() => {
                    self.fail(Error::protocol(
                        "server sent unencrypted bytes before the TLS handshake: refused",
                    ));
                    return;
                }
                _ => {}
            }
        }
        while !self.is_broken() {
            if self.run_fast_path(buf) {
                continue;
            }
            // Fast path for the bodiless messages that dominate pipelines (BindComplete,
            // ParseComplete, ...): no frame split, no reference-count traffic.
            match crate::protocol::framing::peek_header(buf) {
                Some((tag, 4)) => {
                    if let Some(msg) = bodiless(tag) {
                        bytes::Buf::advance(buf, 5);
                        self.handle_message(msg);
                        continue;
                    }
                }
                // A short CommandComplete (one per row in a bulk load): decoded from the
                // read buffer in place.
                Some((b'C', len @ 5..=40)) => {
                    let total = usize::try_from(len).unwrap_or(0) + 1;
                    if let Some(body) = buf.get(5..total) {
                        match CommandComplete::decode_slice(body) {
                            Ok(c) => {
                                bytes::Buf::advance(buf, total);
                                self.handle_message(BackendMessage::CommandComplete(c));
                                continue;
                            }
                            Err(e) => {
                                self.fail(Error::decode(e));
                                return;
                            }
                        }
                    }
                }
                _ => {}
            }
            if self.quirks.backend_copy_fail_messages {
                // iris-pgwire answers stray copy messages with a backend 'f' ("CopyData
                // processing failed"): not a response to anything; dropped.
                if let Some((b'f', _)) = crate::protocol::framing::peek_header(buf) {
                    let limits = &self.limits;
                    match crate::protocol::framing::split_frame(buf, |t| limits.backend_cap(t)) {
                        Ok(Some(_)) => continue,
                        Ok(None) => return,
                        Err(e) => {
                            self.fail(Error::decode(e));
                            return;
                        }
                    }
                }
            }
            match decode_backend(buf, &self.limits) {
                Ok(Some(msg)) => self.handle_message(msg),
                Ok(None) => return,
                Err(e) => {
                    self.fail(Error::decode(e));
                    return;
                }
            }
        }
    }

    /// The server closed the connection.
    pub fn handle_eof(&mut self) {
        if !self.is_broken() {
            let err = Error::closed("the server closed the connection");
            let err = match self.unconfirmed_protocol() {
                Some(v) => err.with_note(protocol_hint(v)),
                None => err,
            };
            self.fail(err);
        }
    }

    /// The protocol version requested, while startup waits for the peer's first answer
    /// to a request above 3.0 (a peer that closes the connection now may not know it).
    pub(super) fn unconfirmed_protocol(&self) -> Option<ProtocolVersion> {
        match (&self.phase, &self.startup_ctx) {
            (Phase::Startup(s), Some(ctx))
                if matches!(**s, Startup::ExpectAuth) && ctx.version_unconfirmed() =>
            {
                Some(ctx.protocol.max)
            }
            _ => None,
        }
    }

    /// Handles one decoded message.
    #[inline]
    pub fn handle_message(&mut self, msg: BackendMessage) {
        match msg {
            BackendMessage::NoticeResponse(f) => {
                if !self.is_broken() {
                    self.events
                        .push_back(Event::Notice(Box::new(DbError::from_fields(&f))));
                }
                return;
            }
            BackendMessage::NotificationResponse(n) => {
                if !self.is_broken() {
                    self.events.push_back(Event::Notification(n));
                }
                return;
            }
            BackendMessage::ParameterStatus(p) => {
                if !self.is_broken() {
                    self.handle_parameter_status(p.name(), p.value());
                }
                return;
            }
            _ => {}
        }
        match self.phase {
            Phase::Ready => {
                if let Err(e) = self.dispatch(msg) {
                    self.fail(e);
                }
            }
            Phase::Broken(_) => {}
            Phase::Startup(_) => {
                let phase = std::mem::replace(&mut self.phase, Phase::Ready);
                if let Phase::Startup(state) = phase {
                    self.handle_startup(*state, msg);
                }
            }
        }
    }

    pub(super) fn handle_parameter_status(&mut self, name: &str, value: &str) {
        // Text decoding assumes UTF-8; a server that switches encoding would hand us
        // mojibake, so the connection is broken instead (checklist E2).
        if name == "client_encoding" && !value.eq_ignore_ascii_case("UTF8") {
            self.fail(Error::protocol(format!(
                "server switched client_encoding to {value:?}; only UTF8 is supported"
            )));
            return;
        }
        self.params.insert(name.to_string(), value.to_string());
        if matches!(self.phase, Phase::Ready) {
            self.events
                .push_back(Event::ParameterStatus(name.to_string(), value.to_string()));
        }
    }

    pub(super) fn handle_startup(&mut self, state: Startup, msg: BackendMessage) {
        let Some(ctx) = self.startup_ctx.as_mut() else {
            self.fail(Error::protocol("startup state without context"));
            return;
        };
        match state.handle(msg, ctx, &mut self.out) {
            Ok(Step::Next(s)) => self.phase = Phase::Startup(Box::new(s)),
            Ok(Step::Negotiated(v)) => {
                ctx.version = v;
                ctx.negotiated = true;
                self.protocol = v;
                self.phase = Phase::Startup(Box::new(Startup::ExpectAuth));
            }
            Ok(Step::NeedProof(p)) => {
                self.pending_proof = Some(p);
                self.phase = Phase::Startup(Box::new(Startup::ComputingProof));
            }
            Ok(Step::Done(key)) => {
                self.key = key;
                self.startup_ctx = None;
                self.quirks = self
                    .quirks_forced
                    .unwrap_or_else(|| Quirks::detect(self.parameter("server_version")));
                self.phase = Phase::Ready;
            }
            Err(e) => self.fail(e),
        }
    }

    /// Breaks the session: every pending item fails once with `err`, then nothing more is
    /// delivered.
    pub(super) fn fail(&mut self, err: Error) {
        if self.is_broken() {
            return;
        }
        let mut last = None;
        while let Some(e) = self.pop() {
            let item = e.item();
            if last != Some(item) {
                self.events.push_back(Event::Failed(item, err.clone()));
                last = Some(item);
            }
        }
        self.pending_syncs = 0;
        self.open_window = false;
        self.copy = Copy::None;
        self.startup_ctx = None;
        self.pending_proof = None;
        self.phase = Phase::Broken(err);
    }

    /// Takes the front single expectation (a run gives up its next BindComplete or
    /// Execute and stays queued while rows remain).
    #[inline]
    pub(super) fn pop(&mut self) -> Option<Expect> {
        let front = self.expect.front_mut()?;
        let head = front.head();
        match front.after_head() {
            Some(rest) => *front = rest,
            None => {
                self.expect.pop_front();
            }
        }
        if head.is_sync_point() {
            self.pending_syncs = self.pending_syncs.saturating_sub(1);
        }
        Some(head)
    }

    /// The single expectation after the front one (runs expanded).
    pub(super) fn second(&self) -> Option<Expect> {
        let front = self.expect.front()?;
        match front.after_head() {
            Some(rest) => Some(rest.head()),
            None => self.expect.get(1).map(Expect::head),
        }
    }

    /// Records that `n` rows of a run from `first` completed: extends the last event when
    /// it is the run just before, so a whole read of bulk answers becomes one event.
    #[inline]
    pub(super) fn complete_run_rows(&mut self, first: Item, n: u64) {
        match self.events.back_mut() {
            Some(Event::CompleteRun(f, k)) if f.checked_add(*k) == Some(first) => *k += n,
            _ => self.events.push_back(Event::CompleteRun(first, n)),
        }
    }

    /// The bulk fast path: while the front is a run and the next frames are the
    /// BindComplete and plain CommandComplete pairs it expects, consumes them in one pass
    /// over the read buffer, without decoding them into messages, and reports the rows
    /// as one [`Event::CompleteRun`]. Stops (consuming nothing more) at anything else,
    /// which then takes the general path. Returns whether it consumed anything.
    #[inline]
    pub(super) fn run_fast_path(&mut self, buf: &mut BytesMut) -> bool {
        /// BindComplete: `2`, length 4.
        const BIND_COMPLETE: [u8; 5] = [b'2', 0, 0, 0, 4];
        let Some(&Expect::BindExecuteRun {
            first,
            count,
            mut bound,
        }) = self.expect.front()
        else {
            return false;
        };
        if self.mode != Mode::Normal || self.copy != Copy::None {
            return false;
        }
        let data: &[u8] = buf;
        let mut pos = 0usize;
        let mut done = 0u64;
        // Where the BindComplete of the row being read began, when it is in this buffer.
        let mut row_start: Option<usize> = None;
        while done < count {
            let Some(rest) = data.get(pos..) else { break };
            if !bound {
                if let Some(n) = self.run_answer.matches(rest) {
                    pos += n;
                    done += 1;
                    continue;
                }
                if !rest.starts_with(&BIND_COMPLETE) {
                    break;
                }
                row_start = Some(pos);
                pos += BIND_COMPLETE.len();
                bound = true;
                continue;
            }
            // A short CommandComplete whose tag is ASCII without NUL, ending in its NUL:
            // exactly what decoding would accept (anything else goes the long way, and
            // fails there if it must).
            let Some((b'C', len @ 5..=40)) = crate::protocol::framing::peek_header(rest) else {
                break;
            };
            let total = usize::try_from(len).unwrap_or(0) + 1;
            let ok = rest.get(5..total).is_some_and(|body| {
                body.split_last().is_some_and(|(&nul, tag)| {
                    nul == 0 && tag.iter().all(|&b| b.wrapping_sub(1) < 0x7f)
                })
            });
            if !ok {
                break;
            }
            // A whole answer (BindComplete just before this CommandComplete) is kept, so
            // that the rows after it are matched in one comparison.
            if let Some(answer) = row_start.and_then(|start| data.get(start..pos + total)) {
                self.run_answer.remember(answer);
            }
            pos += total;
            done += 1;
            bound = false;
            row_start = None;
        }
        if pos == 0 {
            return false;
        }
        bytes::Buf::advance(buf, pos);
        if done == count {
            self.expect.pop_front();
        } else if let Some(front) = self.expect.front_mut() {
            *front = Expect::BindExecuteRun {
                first: first + done,
                count: count - done,
                bound,
            };
        }
        if done > 0 {
            // As the general path does at CommandComplete: the next result has no shape
            // until it is described.
            self.shape = None;
            self.complete_run_rows(first, done);
        }
        true
    }

    #[inline]
    pub(super) fn push(&mut self, e: Expect) {
        if e.is_sync_point() {
            self.pending_syncs += 1;
        }
        self.expect.push_back(e);
    }

    pub(super) fn ready(&mut self, item: Item, status: TransactionStatus) {
        self.unsettled_error = None;
        // iris-pgwire's byte is `T` only after a bare BEGIN and never `E`.
        let status = if self.quirks.client_side_transaction_state {
            self.client_tx
        } else {
            status
        };
        self.tx_status = status;
        self.shape = None;
        self.copy = Copy::None;
        self.events.push_back(Event::Ready(item, status));
    }

    pub(super) fn check_row_shape(&self, got: usize) -> Result<(), Error> {
        if self.quirks.lenient_row_shape {
            return Ok(());
        }
        match self.shape {
            None => Err(Error::protocol(
                "server sent a DataRow without a RowDescription",
            )),
            Some(n) if usize::from(n) != got => Err(Error::protocol(format!(
                "DataRow has {got} fields, RowDescription announced {n}"
            ))),
            Some(_) => Ok(()),
        }
    }

    /// The core matcher: one server message against the front expectation.
    pub(super) fn dispatch(&mut self, msg: BackendMessage) -> Result<(), Error> {
        // COPY OUT data belongs to whichever request started the copy.
        match (&self.copy, &msg) {
            (Copy::Out(i), BackendMessage::CopyData(d)) => {
                self.events.push_back(Event::CopyData(*i, d.data().clone()));
                return Ok(());
            }
            (Copy::Out(i), BackendMessage::CopyDone) => {
                self.events.push_back(Event::CopyDone(*i));
                self.copy = Copy::None;
                return Ok(());
            }
            (Copy::Refused(_), BackendMessage::CopyData(_)) => return Ok(()),
            (Copy::Refused(_), BackendMessage::CopyDone) => return Ok(()),
            _ => {}
        }

        let Some(front) = self.expect.front().map(Expect::head) else {
            return self.dispatch_idle(msg);
        };
        let in_run = matches!(self.expect.front(), Some(Expect::BindExecuteRun { .. }));

        if let Mode::Aborted { failed } = self.mode {
            return match msg {
                BackendMessage::ReadyForQuery(r) => self.finish_aborted_window(failed, r.status()),
                BackendMessage::ErrorResponse(f) => {
                    let err = self.db_error(&f);
                    if err.breaks_connection() {
                        return Err(err);
                    }
                    // A second ERROR while skipping (e.g. a COPY failing at Sync) is
                    // attributed to the failed item; keep waiting for ReadyForQuery.
                    Ok(())
                }
                other => Err(Error::unexpected(
                    "ReadyForQuery (the server skips to Sync after an error)",
                    other.name(),
                )),
            };
        }

        match (front, msg) {
            (Expect::ParseComplete(i), BackendMessage::ParseComplete) => {
                self.pop();
                self.events.push_back(Event::ParseComplete(i));
            }
            (Expect::BindComplete(i), BackendMessage::BindComplete) => {
                self.pop();
                if !in_run {
                    self.events.push_back(Event::BindComplete(i));
                }
            }
            (Expect::ParameterDescription(i), BackendMessage::ParameterDescription(d)) => {
                self.pop();
                self.events.push_back(Event::ParameterDescription(i, d));
            }
            (Expect::RowDescription(i), BackendMessage::RowDescription(d)) => {
                self.pop();
                self.shape = Some(u16::try_from(d.len()).unwrap_or(u16::MAX));
                self.set_next_execute_shape(i, self.shape);
                self.events.push_back(Event::RowDescription(i, d));
            }
            (Expect::RowDescription(i), BackendMessage::NoData) => {
                self.pop();
                self.shape = None;
                self.set_next_execute_shape(i, None);
                self.events.push_back(Event::NoData(i));
            }
            (Expect::Execute { item, columns }, BackendMessage::DataRow(r)) => {
                if self.shape.is_none() {
                    self.shape = columns;
                }
                self.check_row_shape(r.len())?;
                self.events.push_back(Event::Row(item, r));
            }
            (Expect::Execute { item, .. }, BackendMessage::CommandComplete(c)) => {
                self.pop();
                self.shape = None;
                if in_run {
                    self.complete_run_rows(item, 1);
                } else {
                    self.events.push_back(Event::Complete(item, Some(c)));
                }
            }
            (Expect::Execute { item, .. }, BackendMessage::EmptyQueryResponse) => {
                self.pop();
                self.shape = None;
                self.events.push_back(Event::EmptyQuery(item));
            }
            (Expect::Execute { item, .. }, BackendMessage::PortalSuspended) => {
                self.pop();
                self.shape = None;
                self.events.push_back(Event::PortalSuspended(item));
            }
            (Expect::Execute { item, .. }, BackendMessage::RowDescription(d))
                if self.quirks.lenient_row_shape =>
            {
                // iris-pgwire 1.7.3 sends RowDescription from Execute for RETURNING.
                self.shape = Some(u16::try_from(d.len()).unwrap_or(u16::MAX));
                self.events.push_back(Event::RowDescription(item, d));
            }
            (Expect::CloseComplete(i), BackendMessage::CloseComplete) => {
                self.pop();
                self.events.push_back(Event::CloseComplete(i));
            }
            (Expect::SimpleQuery { item, .. }, BackendMessage::RowDescription(d)) => {
                self.shape = Some(u16::try_from(d.len()).unwrap_or(u16::MAX));
                self.events.push_back(Event::RowDescription(item, d));
            }
            (Expect::SimpleQuery { item, .. }, BackendMessage::DataRow(r)) => {
                self.check_row_shape(r.len())?;
                self.events.push_back(Event::Row(item, r));
            }
            (Expect::SimpleQuery { item, .. }, BackendMessage::CommandComplete(c)) => {
                self.shape = None;
                self.events.push_back(Event::Complete(item, Some(c)));
            }
            (Expect::SimpleQuery { item, .. }, BackendMessage::EmptyQueryResponse) => {
                self.events.push_back(Event::EmptyQuery(item));
            }
            (Expect::SimpleQuery { .. }, BackendMessage::ReadyForQuery(_))
                if self.shape.is_some() && !self.quirks.command_complete_may_be_missing =>
            {
                // A RowDescription opened a result (`shape`) that no CommandComplete (or
                // error) closed. > "The response to a SELECT query … normally consists
                // of RowDescription, zero or more DataRow messages, and then
                // CommandComplete" (Protocol, *Simple Query*): ending the Query here
                // would hand back the partial rows as a complete result.
                return Err(Error::protocol(
                    "server sent ReadyForQuery in the middle of a result (no CommandComplete)",
                ));
            }
            (Expect::SimpleQuery { item, .. }, BackendMessage::ReadyForQuery(r)) => {
                self.pop();
                self.ready(item, r.status());
            }
            (
                Expect::SimpleQuery { item, .. } | Expect::Execute { item, .. },
                msg @ (BackendMessage::CopyInResponse(_)
                | BackendMessage::CopyOutResponse(_)
                | BackendMessage::CopyBothResponse(_)),
            ) => {
                // COPY is only served through a simple Query started for it (iris-pgwire
                // supports nothing else, and it keeps Sync semantics out of copy mode).
                let allow = matches!(
                    front,
                    Expect::SimpleQuery {
                        allow_copy: true,
                        ..
                    }
                );
                self.start_copy(item, allow, msg)?;
            }
            (Expect::Sync(i), BackendMessage::ReadyForQuery(r)) => {
                self.pop();
                self.ready(i, r.status());
            }
            (front, BackendMessage::ErrorResponse(f)) => {
                let err = self.db_error(&f);
                if err.breaks_connection() {
                    return Err(err);
                }
                if matches!(self.copy, Copy::In(_) | Copy::Out(_) | Copy::Refused(_)) {
                    self.copy = Copy::None;
                }
                self.shape = None;
                let item = front.item();
                self.unsettled_error.get_or_insert_with(|| err.clone());
                self.events.push_back(Event::Failed(item, err));
                match front {
                    // Errors reported at Sync (deferred constraints, iris-pgwire's
                    // deferred DML) and simple-query errors: ReadyForQuery still follows.
                    Expect::Sync(_) | Expect::SimpleQuery { .. } => {}
                    _ if self.quirks.no_skip_after_error => {
                        // The error answers this one message; the rest still run.
                        self.pop();
                    }
                    _ => {
                        // > "When an error is detected while processing any extended-query
                        // > message, the backend issues ErrorResponse, then reads and
                        // > discards messages until a Sync is reached" (Protocol,
                        // > *Extended Query*)
                        self.mode = Mode::Aborted { failed: item };
                        self.last_aborted = Some(item);
                    }
                }
            }
            (Expect::Execute { item, .. }, msg)
                if self.quirks.command_complete_may_be_missing && self.next_accepts(&msg) =>
            {
                // iris-pgwire can finish a statement without CommandComplete: the next
                // expectation's message completes it with an unknown row count.
                self.pop();
                self.shape = None;
                self.events.push_back(Event::Complete(item, None));
                return self.dispatch(msg);
            }
            (front, msg) => return Err(Error::unexpected(front.describe(), msg.name())),
        }
        Ok(())
    }

    /// Whether the expectation after the front one would accept `msg`.
    pub(super) fn next_accepts(&self, msg: &BackendMessage) -> bool {
        let Some(next) = self.second() else {
            return false;
        };
        matches!(
            (next, msg),
            (Expect::ParseComplete(_), BackendMessage::ParseComplete)
                | (Expect::BindComplete(_), BackendMessage::BindComplete)
                | (Expect::CloseComplete(_), BackendMessage::CloseComplete)
                | (Expect::Sync(_), BackendMessage::ReadyForQuery(_))
                | (
                    Expect::ParameterDescription(_),
                    BackendMessage::ParameterDescription(_)
                )
                | (
                    Expect::RowDescription(_),
                    BackendMessage::RowDescription(_) | BackendMessage::NoData
                )
        )
    }

    pub(super) fn set_next_execute_shape(&mut self, item: Item, shape: Option<u16>) {
        for e in self.expect.iter_mut() {
            match e {
                Expect::Execute { item: i, columns } if *i == item => {
                    *columns = shape;
                    return;
                }
                e if e.item() != item => return,
                _ => {}
            }
        }
    }

    pub(super) fn start_copy(
        &mut self,
        item: Item,
        allow: bool,
        msg: BackendMessage,
    ) -> Result<(), Error> {
        match msg {
            BackendMessage::CopyInResponse(r) if allow => {
                self.copy = Copy::In(item);
                self.events.push_back(Event::CopyIn(item, r));
            }
            BackendMessage::CopyOutResponse(r) if allow => {
                self.copy = Copy::Out(item);
                self.events.push_back(Event::CopyOut(item, r));
            }
            other => {
                // A COPY nobody asked for (e.g. `COPY .. FROM STDIN` through simple_query),
                // or CopyBoth (replication), which this client does not speak: refuse it
                // with CopyFail so the server ends it with an error and ReadyForQuery.
                let what = other.name();
                frontend::write_copy_fail(
                    &mut self.out,
                    "COPY is not supported by this call; use copy_in/copy_out",
                )
                .map_err(Error::encode)?;
                self.copy = Copy::Refused(item);
                self.events.push_back(Event::Failed(
                    item,
                    Error::unsupported(format!(
                        "server started a COPY ({what}) that this call cannot serve; use copy_in/copy_out"
                    )),
                ));
            }
        }
        Ok(())
    }

    pub(super) fn dispatch_idle(&mut self, msg: BackendMessage) -> Result<(), Error> {
        match msg {
            // The server explaining why it is closing (admin shutdown, idle timeout).
            BackendMessage::ErrorResponse(f) => Err(self.db_error(&f)),
            BackendMessage::ReadyForQuery(_) if self.quirks.surplus_ready_tolerated => Ok(()),
            BackendMessage::ReadyForQuery(_) => Err(Error::protocol(
                "server sent more ReadyForQuery messages than Syncs",
            )),
            other => Err(Error::unexpected(
                "nothing (no request pending)",
                other.name(),
            )),
        }
    }

    pub(super) fn finish_aborted_window(
        &mut self,
        failed: Item,
        status: TransactionStatus,
    ) -> Result<(), Error> {
        loop {
            match self.pop() {
                Some(Expect::Sync(w)) => {
                    self.mode = Mode::Normal;
                    self.ready(w, status);
                    return Ok(());
                }
                Some(Expect::SimpleQuery { item, .. }) => {
                    // Cannot happen: simple queries never enter Aborted. Treat the RFQ as
                    // its end, as the server does.
                    self.mode = Mode::Normal;
                    self.ready(item, status);
                    return Ok(());
                }
                Some(e) => {
                    let item = e.item();
                    if item != failed && self.last_aborted != Some(item) {
                        self.events.push_back(Event::Aborted(item));
                        self.last_aborted = Some(item);
                    }
                }
                None => {
                    return Err(Error::protocol(
                        "server sent ReadyForQuery but no Sync was pending",
                    ))
                }
            }
        }
    }
}

/// The message for a tag whose body is empty by definition.
fn bodiless(tag: u8) -> Option<BackendMessage> {
    Some(match tag {
        b'1' => BackendMessage::ParseComplete,
        b'2' => BackendMessage::BindComplete,
        b'3' => BackendMessage::CloseComplete,
        b'n' => BackendMessage::NoData,
        b'I' => BackendMessage::EmptyQueryResponse,
        b's' => BackendMessage::PortalSuspended,
        b'c' => BackendMessage::CopyDone,
        _ => return None,
    })
}
