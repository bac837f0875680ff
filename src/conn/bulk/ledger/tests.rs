//! The per-window accounting of execute_many, driven by hand-made events: no socket, no
//! server.

// Lists of one range are what the ledger reports, not a typo for a range of values.
#![allow(clippy::single_range_in_vec_init)]

use super::{Ledger, ROW};
use crate::conn::bulk::{Atomicity, ExecuteManyOptions, LoadReport};
use crate::conn::event::{Event, Item};
use crate::error::Error;
use crate::protocol::backend::{ErrorFields, TransactionStatus};

fn ledger(atomicity: Atomicity) -> Ledger {
    Ledger::new(&ExecuteManyOptions::with_atomicity(atomicity))
}

fn db(code: &str) -> Error {
    Error::db(&ErrorFields::new("ERROR", code, "boom"))
}

/// Sends rows `rows` and closes their window with Sync item `sync`.
fn window(l: &mut Ledger, rows: std::ops::Range<u64>, sync: Item) {
    for i in rows {
        l.row_sent(i);
    }
    l.window_closed(sync);
}

fn feed(l: &mut Ledger, report: &mut LoadReport, events: Vec<Event>) {
    for ev in events {
        assert!(
            l.on_event(ev, report).is_none(),
            "every event is the load's"
        );
    }
}

fn ready(sync: Item) -> Event {
    Event::Ready(sync, TransactionStatus::Idle)
}

#[test]
fn batches_commit_each_window_at_its_ready_for_query() {
    let mut l = ledger(Atomicity::Batches(4));
    let mut r = LoadReport::default();
    window(&mut l, 0..4, 1);
    window(&mut l, 4..8, 2);
    assert_eq!(l.inflight(), 8);
    feed(&mut l, &mut r, vec![Event::CompleteRun(ROW, 4), ready(1)]);
    assert_eq!(r.rows_done, 4);
    assert_eq!(r.committed, vec![0..4]);
    assert!(!l.windows_settled());
    feed(
        &mut l,
        &mut r,
        vec![Event::CompleteRun(ROW | 4, 4), ready(2)],
    );
    assert_eq!(r.committed, vec![0..8], "adjacent windows merge");
    assert_eq!(r.rows_committed, 8);
    assert_eq!(l.inflight(), 0);
    assert!(l.windows_settled());
    assert_eq!(l.uncertain(), 0);
}

#[test]
fn under_all_nothing_commits_at_ready_for_query_and_every_sent_row_is_listed() {
    let mut l = ledger(Atomicity::All);
    let mut r = LoadReport::default();
    window(&mut l, 0..3, 1);
    window(&mut l, 3..5, 2);
    feed(
        &mut l,
        &mut r,
        vec![
            Event::CompleteRun(ROW, 3),
            ready(1),
            Event::CompleteRun(ROW | 3, 2),
            ready(2),
        ],
    );
    assert_eq!(r.rows_done, 5);
    assert!(r.committed.is_empty(), "the caller's COMMIT commits");
    assert_eq!(l.sent(), &[0..5]);
}

#[test]
fn a_failed_row_fails_its_window_stops_the_load_and_the_rest_of_the_window_is_skipped() {
    let mut l = ledger(Atomicity::Batches(3));
    let mut r = LoadReport::default();
    window(&mut l, 0..3, 1);
    feed(
        &mut l,
        &mut r,
        vec![
            Event::CompleteRun(ROW, 1),
            Event::Failed(ROW | 1, db("23505")),
            Event::Aborted(ROW | 2),
            ready(1),
        ],
    );
    assert!(l.stopped(), "Batches stops sending after a failure");
    assert_eq!(r.failures_total, 1);
    assert_eq!(r.first_failure().map(|f| f.index), Some(1));
    assert_eq!(r.rows_skipped, 1);
    assert!(r.committed.is_empty(), "the failed window commits nothing");
    assert_eq!(l.inflight(), 0);
}

#[test]
fn in_an_aborted_transaction_25p02_answers_count_as_skipped_not_failed() {
    let mut l = ledger(Atomicity::All);
    let mut r = LoadReport::default();
    window(&mut l, 0..3, 1);
    feed(
        &mut l,
        &mut r,
        vec![Event::Failed(ROW, db("23505")), ready(1)],
    );
    window(&mut l, 3..5, 2);
    feed(
        &mut l,
        &mut r,
        vec![
            Event::Failed(ROW | 3, db("25P02")),
            Event::Aborted(ROW | 4),
            ready(2),
        ],
    );
    assert_eq!(r.failures_total, 1, "only the real failure");
    assert_eq!(r.rows_skipped, 2);
}

#[test]
fn each_row_keeps_going_after_a_failure_and_commits_the_other_windows() {
    let mut l = ledger(Atomicity::EachRow);
    let mut r = LoadReport::default();
    for (i, sync) in (0..3).zip([10, 11, 12]) {
        window(&mut l, i..i + 1, sync);
    }
    feed(
        &mut l,
        &mut r,
        vec![
            Event::CompleteRun(ROW, 1),
            ready(10),
            Event::Failed(ROW | 1, db("23505")),
            ready(11),
            Event::CompleteRun(ROW | 2, 1),
            ready(12),
        ],
    );
    assert!(!l.stopped());
    assert_eq!(r.committed, vec![0..1, 2..3]);
    assert_eq!(r.failures_total, 1);
}

#[test]
fn an_error_at_sync_fails_the_whole_window_and_takes_back_its_done_rows() {
    let mut l = ledger(Atomicity::Batches(3));
    let mut r = LoadReport::default();
    window(&mut l, 0..3, 1);
    feed(
        &mut l,
        &mut r,
        vec![
            Event::CompleteRun(ROW, 3),
            Event::Failed(1, db("23503")),
            ready(1),
        ],
    );
    assert_eq!(
        r.rows_done, 0,
        "a deferred failure takes the window's rows back"
    );
    assert_eq!(r.failures_total, 1);
    let f = r.first_failure().expect("the window's failure");
    assert_eq!(
        f.rows,
        0..3,
        "the server did not say which row: all of them"
    );
    assert!(r.committed.is_empty());
    assert!(l.stopped());
}

#[test]
fn a_row_answered_before_its_window_is_closed_fails_that_window_when_it_closes() {
    let mut l = ledger(Atomicity::Batches(4));
    let mut r = LoadReport::default();
    l.row_sent(0);
    l.row_sent(1);
    feed(
        &mut l,
        &mut r,
        vec![
            Event::CompleteRun(ROW, 1),
            Event::Failed(ROW | 1, db("23505")),
        ],
    );
    assert_eq!(l.open_len(), 2);
    l.window_closed(7);
    feed(&mut l, &mut r, vec![ready(7)]);
    assert!(r.committed.is_empty(), "the open window had failed");
    assert_eq!(r.rows_done, 1);
}

#[test]
fn a_suspended_portal_is_a_failed_row() {
    let mut l = ledger(Atomicity::EachRow);
    let mut r = LoadReport::default();
    window(&mut l, 0..1, 1);
    feed(&mut l, &mut r, vec![Event::PortalSuspended(ROW), ready(1)]);
    assert_eq!(r.failures_total, 1);
    assert!(r.committed.is_empty());
}

#[test]
fn windows_still_awaiting_ready_for_query_are_uncertain() {
    let mut l = ledger(Atomicity::Batches(2));
    let mut r = LoadReport::default();
    window(&mut l, 0..2, 1);
    window(&mut l, 2..4, 2);
    window(&mut l, 4..5, 3);
    feed(&mut l, &mut r, vec![Event::CompleteRun(ROW, 2), ready(1)]);
    assert_eq!(l.uncertain(), 3, "rows 2..5 were sent and never settled");
    assert_eq!(r.committed, vec![0..2]);
}

#[test]
fn a_row_that_cannot_be_encoded_is_failed_and_stops_a_stopping_load() {
    let mut l = ledger(Atomicity::All);
    let mut r = LoadReport::default();
    l.row_refused(3, Error::config("a value too long for its column"), &mut r);
    assert!(l.stopped());
    assert_eq!(r.first_failure().map(|f| f.index), Some(3));
    let mut each = ledger(Atomicity::EachRow);
    each.row_refused(4, Error::config("a value too long for its column"), &mut r);
    assert!(!each.stopped());
}

#[test]
fn events_that_are_not_the_loads_are_handed_back() {
    let mut l = ledger(Atomicity::All);
    let mut r = LoadReport::default();
    window(&mut l, 0..1, 1);
    assert!(l
        .on_event(Event::Ready(99, TransactionStatus::Idle), &mut r)
        .is_some());
    assert!(l.on_event(Event::CloseComplete(5), &mut r).is_some());
    assert!(
        !l.windows_settled(),
        "an unknown ReadyForQuery settles nothing"
    );
}
