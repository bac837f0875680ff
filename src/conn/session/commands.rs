//! Commands: each encodes its frontend message and pushes what it expects back.

use std::collections::VecDeque;

use super::*;

impl Session {
    // ----- commands -----------------------------------------------------------------------

    #[inline]
    pub(super) fn check_commands(&self) -> Result<(), Error> {
        match &self.phase {
            Phase::Ready => Ok(()),
            Phase::Broken(e) => Err(Error::broken(e)),
            Phase::Startup(_) => Err(Error::protocol("startup has not finished")),
        }
    }

    /// Encodes a simple Query. Its results, then `Ready(item)`, follow as events.
    /// `allow_copy` lets a COPY sub-protocol start (else it is refused with CopyFail).
    pub fn start_simple_query(
        &mut self,
        item: Item,
        sql: &str,
        allow_copy: bool,
    ) -> Result<(), Error> {
        self.check_commands()?;
        self.note_statement_sql(sql);
        if self.quirks.empty_query_unanswered && is_empty_query(sql) {
            // iris-pgwire answers nothing at all to an empty query: answer it here.
            self.events.push_back(Event::EmptyQuery(item));
            self.events.push_back(Event::Ready(item, self.tx_status));
            return Ok(());
        }
        frontend::write_query(&mut self.out, sql).map_err(Error::encode)?;
        self.push(Expect::SimpleQuery { item, allow_copy });
        Ok(())
    }

    /// Encodes Parse.
    pub fn push_parse(
        &mut self,
        item: Item,
        name: &str,
        sql: &str,
        types: &[Oid],
    ) -> Result<(), Error> {
        self.check_commands()?;
        frontend::write_parse(&mut self.out, name, sql, types).map_err(Error::encode)?;
        self.open_window = true;
        self.push(Expect::ParseComplete(item));
        Ok(())
    }

    /// Encodes Describe of a statement (ParameterDescription, then RowDescription/NoData).
    pub fn push_describe_statement(&mut self, item: Item, name: &str) -> Result<(), Error> {
        self.check_commands()?;
        frontend::write_describe(&mut self.out, Target::Statement, name).map_err(Error::encode)?;
        self.open_window = true;
        self.push(Expect::ParameterDescription(item));
        self.push(Expect::RowDescription(item));
        Ok(())
    }

    /// Encodes Describe of a portal (RowDescription/NoData).
    pub fn push_describe_portal(&mut self, item: Item, portal: &str) -> Result<(), Error> {
        self.check_commands()?;
        frontend::write_describe(&mut self.out, Target::Portal, portal).map_err(Error::encode)?;
        self.open_window = true;
        self.push(Expect::RowDescription(item));
        Ok(())
    }

    /// Encodes a Bind whose values `write` adds through the [`BindWriter`]. On error
    /// nothing is written and no expectation is pushed.
    pub fn push_bind<E, F>(
        &mut self,
        item: Item,
        portal: &str,
        statement: &str,
        param_formats: &[i16],
        result_formats: &[i16],
        write: F,
    ) -> Result<(), E>
    where
        E: From<Error>,
        F: FnOnce(&mut BindWriter<'_>) -> Result<(), E>,
    {
        self.check_commands()?;
        let mut w = BindWriter::begin(&mut self.out, portal, statement, param_formats)
            .map_err(|e| E::from(Error::encode(e)))?;
        write(&mut w)?;
        w.finish(result_formats)
            .map_err(|e| E::from(Error::encode(e)))?;
        self.open_window = true;
        self.push(Expect::BindComplete(item));
        Ok(())
    }

    /// Encodes Bind (from a pre-encoded prefix, text or binary values as the prefix says,
    /// binary-free results) and Execute of the unnamed portal for one bulk row, queued as
    /// part of a [`Expect::BindExecuteRun`] when `item` follows the last queued row. On
    /// error nothing is written and nothing is queued.
    #[inline]
    pub fn push_bind_execute_run<E, F>(
        &mut self,
        item: Item,
        prefix: &BindPrefix,
        write: F,
    ) -> Result<(), E>
    where
        E: From<Error>,
        F: FnOnce(&mut BindWriter<'_>) -> Result<(), E>,
    {
        self.check_commands()?;
        let mut w = BindWriter::begin_with(&mut self.out, prefix);
        write(&mut w)?;
        w.finish_execute_all()
            .map_err(|e| E::from(Error::encode(e)))?;
        if let Some(Expect::BindExecuteRun { first, count, .. }) = self.expect.back_mut() {
            if first.checked_add(*count) == Some(item) {
                *count += 1;
                return Ok(());
            }
        }
        // Only a new run marks the window open: a run is extended only while it is the
        // last entry, i.e. while no Sync has followed it (no work per bulk row).
        self.open_window = true;
        self.expect.push_back(Expect::BindExecuteRun {
            first: item,
            count: 1,
            bound: false,
        });
        Ok(())
    }

    /// Encodes Execute. `columns` is the row shape when already known from a Describe.
    #[inline]
    pub fn push_execute(
        &mut self,
        item: Item,
        portal: &str,
        max_rows: i32,
        columns: Option<u16>,
    ) -> Result<(), Error> {
        self.check_commands()?;
        frontend::write_execute(&mut self.out, portal, max_rows).map_err(Error::encode)?;
        self.open_window = true;
        self.push(Expect::Execute { item, columns });
        Ok(())
    }

    /// Encodes Close of a statement or portal.
    pub fn push_close(&mut self, item: Item, target: Target, name: &str) -> Result<(), Error> {
        self.check_commands()?;
        frontend::write_close(&mut self.out, target, name).map_err(Error::encode)?;
        self.open_window = true;
        self.push(Expect::CloseComplete(item));
        Ok(())
    }

    /// Encodes Sync: ends a sync window; `Ready(item)` follows.
    pub fn push_sync(&mut self, item: Item) -> Result<(), Error> {
        self.check_commands()?;
        frontend::write_sync(&mut self.out);
        self.open_window = false;
        self.push(Expect::Sync(item));
        Ok(())
    }

    /// Encodes Flush: asks the server to send what it has, without ending the window.
    pub fn push_flush(&mut self) -> Result<(), Error> {
        self.check_commands()?;
        frontend::write_flush(&mut self.out);
        Ok(())
    }

    pub(super) fn check_copy_in(&self) -> Result<(), Error> {
        self.check_commands()?;
        if !self.in_copy_in() {
            return Err(Error::protocol("not in COPY IN mode"));
        }
        Ok(())
    }

    /// Sends COPY data (only while the server is in copy-in mode).
    pub fn copy_data(&mut self, data: &[u8]) -> Result<(), Error> {
        self.check_copy_in()?;
        frontend::write_copy_data(&mut self.out, data).map_err(Error::encode)
    }

    /// Ends COPY IN successfully.
    pub fn copy_done(&mut self) -> Result<(), Error> {
        self.check_copy_in()?;
        frontend::write_copy_done(&mut self.out);
        self.copy = Copy::None;
        Ok(())
    }

    /// Aborts COPY IN: the server answers with an error and ReadyForQuery.
    pub fn copy_fail(&mut self, message: &str) -> Result<(), Error> {
        self.check_copy_in()?;
        let msg: String = message.chars().filter(|&c| c != '\0').collect();
        frontend::write_copy_fail(&mut self.out, &msg).map_err(Error::encode)?;
        self.copy = Copy::None;
        Ok(())
    }

    /// Prepares to drain after an abandoned operation: aborts a COPY IN in progress and
    /// makes sure a sync point is queued, so that every pending expectation will be
    /// answered and no sync window stays open (even one whose responses have all
    /// arrived: [`in_open_window`](Self::in_open_window)). `item` is used for the Sync
    /// if one is added.
    pub fn prepare_drain(&mut self, item: Item) -> Result<(), Error> {
        self.check_commands()?;
        if self.in_copy_in() {
            self.copy_fail("operation cancelled by the client")?;
        }
        if self.open_window || self.expect.back().is_some_and(|e| !e.is_sync_point()) {
            self.push_sync(item)?;
        }
        Ok(())
    }

    /// Drops events queued for earlier operations, keeping async ones.
    pub fn discard_stale_events(&mut self) -> Vec<Event> {
        let mut keep = Vec::new();
        for ev in self.events.drain(..) {
            if matches!(
                ev,
                Event::Notice(_) | Event::Notification(_) | Event::ParameterStatus(..)
            ) {
                keep.push(ev);
            }
        }
        keep
    }

    /// Takes the notices, notifications and parameter changes out of the events, leaving
    /// the operation's own in order: for a writer that does IO without reading its
    /// operation's events yet (COPY IN), so that what the server sends on the side
    /// cannot pile up while it writes.
    pub(crate) fn take_async_events(&mut self) -> Vec<Event> {
        let (side, own): (VecDeque<Event>, VecDeque<Event>) =
            self.events.drain(..).partition(|ev| {
                matches!(
                    ev,
                    Event::Notice(_) | Event::Notification(_) | Event::ParameterStatus(..)
                )
            });
        self.events = own;
        side.into()
    }

    /// Encodes Terminate (the driver closes the socket after writing it).
    pub fn terminate(&mut self) {
        frontend::write_terminate(&mut self.out);
    }
}

/// Whether a query string has no statement in it (only whitespace and semicolons).
pub(crate) fn is_empty_query(sql: &str) -> bool {
    sql.chars().all(|c| c.is_whitespace() || c == ';')
}
