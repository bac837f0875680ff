//! Runs of bulk rows ([`Expect::BindExecuteRun`]): one queue entry for many Bind/Execute
//! pairs, answered through a fast path. Every test here holds the run to the same
//! outcomes as the same rows queued one expectation at a time.

use proptest::prelude::*;

use super::*;
use crate::conn::event::Expect;
use crate::protocol::backend::BackendMessage as B;
use crate::protocol::backend::{CopyResponse, ErrorFields, ParameterDescription};
use crate::protocol::frontend::BindPrefix;

/// Queues a Describe of statement "s" (item 500), as an explicit `prepare` would.
fn queue_describe(s: &mut Session) {
    s.push_describe_statement(500, "s").expect("describe");
}

/// Queues rows `1..=n` as runs, with a Sync (item 1000 + i) after every `every` rows and
/// at the end.
fn queue_runs(s: &mut Session, n: u64, every: u64) {
    let prefix = BindPrefix::new("", "s", &[]).expect("prefix");
    for i in 1..=n {
        s.push_bind_execute_run::<crate::Error, _>(i, &prefix, |w| {
            w.value(b"x").map_err(crate::Error::encode)
        })
        .expect("queue");
        if i % every == 0 || i == n {
            s.push_sync(1000 + i).expect("sync");
        }
    }
}

/// The same rows, one expectation per message.
fn queue_singles(s: &mut Session, n: u64, every: u64) {
    for i in 1..=n {
        s.push_bind::<crate::Error, _>(i, "", "s", &[], &[], |w| {
            w.value(b"x").map_err(crate::Error::encode)
        })
        .expect("bind");
        s.push_execute(i, "", 0, None).expect("execute");
        if i % every == 0 || i == n {
            s.push_sync(1000 + i).expect("sync");
        }
    }
}

/// Outcomes with the run's shorthand undone: `CompleteRun` becomes one `Done` per row,
/// BindComplete events (which runs do not emit) are dropped, tags are not compared.
fn outcomes(evs: Vec<Event>) -> Vec<E> {
    let mut out = Vec::new();
    for ev in evs {
        match ev {
            Event::CompleteRun(first, n) => {
                out.extend((first..first + n).map(|i| E::Done(i, None)))
            }
            Event::BindComplete(_) => {}
            Event::Complete(i, _) => out.push(E::Done(i, None)),
            ev => out.extend(compact(vec![ev])),
        }
    }
    out
}

/// What the server answers for `n` rows that each insert one row.
fn inserted(n: usize) -> Vec<BackendMessage> {
    (0..n)
        .flat_map(|_| [B::BindComplete, cc("INSERT 0 1")])
        .collect()
}

fn bytes_of(msgs: &[BackendMessage]) -> Vec<u8> {
    let mut buf = BytesMut::new();
    for m in msgs {
        m.encode(&mut buf).expect("encode");
    }
    buf.to_vec()
}

/// Feeds `bytes` in pieces ending at `cuts` (sorted, deduplicated by the caller).
fn feed_in_pieces(s: &mut Session, bytes: &[u8], cuts: &[usize]) -> Vec<Event> {
    let mut buf = BytesMut::new();
    let mut evs = Vec::new();
    let mut at = 0;
    for &c in cuts.iter().chain(std::iter::once(&bytes.len())) {
        let c = c.min(bytes.len());
        if c < at {
            continue;
        }
        buf.extend_from_slice(&bytes[at..c]);
        at = c;
        s.handle_bytes(&mut buf);
        evs.extend(std::iter::from_fn(|| s.poll_event()));
    }
    evs
}

#[test]
fn a_run_of_rows_is_one_queue_entry_that_expands_to_bind_execute_pairs() {
    let mut s = Session::new_ready(Quirks::postgres());
    queue_runs(&mut s, 3, 10);
    assert_eq!(s.pending(), 2, "one run and one Sync");
    assert_eq!(
        s.expectation_entries().copied().collect::<Vec<_>>(),
        vec![
            Expect::BindExecuteRun {
                first: 1,
                count: 3,
                bound: false
            },
            Expect::Sync(1003)
        ]
    );
    let exec = |item| Expect::Execute {
        item,
        columns: None,
    };
    assert_eq!(
        s.expectations().collect::<Vec<_>>(),
        vec![
            Expect::BindComplete(1),
            exec(1),
            Expect::BindComplete(2),
            exec(2),
            Expect::BindComplete(3),
            exec(3),
            Expect::Sync(1003)
        ]
    );
}

#[test]
fn a_run_opens_the_sync_window_and_only_its_sync_closes_it() {
    let mut s = Session::new_ready(Quirks::postgres());
    let prefix = BindPrefix::new("", "s", &[]).expect("prefix");
    for i in 1..=3 {
        s.push_bind_execute_run::<crate::Error, _>(i, &prefix, |w| {
            w.value(b"x").map_err(crate::Error::encode)
        })
        .expect("queue");
    }
    feed_in_pieces(&mut s, &bytes_of(&inserted(3)), &[]);
    assert_eq!(s.pending(), 0, "every row answered");
    assert!(s.in_open_window(), "but no Sync ended the window");
    s.push_sync(1003).expect("sync");
    assert!(!s.in_open_window());
}

#[test]
fn rows_answered_in_one_read_become_one_complete_run_event() {
    let mut s = Session::new_ready(Quirks::postgres());
    queue_runs(&mut s, 4, 4);
    let mut msgs = inserted(4);
    msgs.push(idle());
    let evs = feed_in_pieces(&mut s, &bytes_of(&msgs), &[]);
    assert_eq!(evs.len(), 2, "{evs:?}");
    assert!(matches!(evs[0], Event::CompleteRun(1, 4)), "{evs:?}");
    assert!(matches!(evs[1], Event::Ready(1004, _)), "{evs:?}");
    assert!(s.is_ready());
}

#[test]
fn a_run_fed_one_byte_at_a_time_completes_every_row_once() {
    let mut s = Session::new_ready(Quirks::postgres());
    queue_runs(&mut s, 5, 5);
    let mut msgs = inserted(5);
    msgs.push(idle());
    let bytes = bytes_of(&msgs);
    let cuts: Vec<usize> = (1..bytes.len()).collect();
    let got = outcomes(feed_in_pieces(&mut s, &bytes, &cuts));
    let mut want: Vec<E> = (1..=5).map(|i| E::Done(i, None)).collect();
    want.push(E::Ready(1005));
    assert_eq!(got, want);
    assert!(s.is_ready());
}

#[test]
fn an_error_inside_a_run_fails_that_row_and_aborts_the_rest_of_its_window() {
    let mut s = Session::new_ready(Quirks::postgres());
    queue_runs(&mut s, 6, 3);
    let mut msgs = inserted(1);
    msgs.extend([B::BindComplete, err("23505"), idle()]);
    msgs.extend(inserted(3));
    msgs.push(idle());
    let got = outcomes(feed_in_pieces(&mut s, &bytes_of(&msgs), &[]));
    assert_eq!(
        got,
        vec![
            E::Done(1, None),
            E::Failed(2, Some("23505".into())),
            E::Aborted(3),
            E::Ready(1003),
            E::Done(4, None),
            E::Done(5, None),
            E::Done(6, None),
            E::Ready(1006),
        ]
    );
    assert!(s.is_ready());
}

#[test]
fn a_command_tag_the_fast_path_does_not_take_still_completes_the_row() {
    // A non-ASCII tag is valid UTF-8: the general path decodes it and the row completes.
    let mut s = Session::new_ready(Quirks::postgres());
    queue_runs(&mut s, 2, 2);
    let msgs = [
        B::BindComplete,
        cc("INSÉRT 0 1"),
        B::BindComplete,
        cc("INSERT 0 1"),
        idle(),
    ];
    let got = outcomes(feed_in_pieces(&mut s, &bytes_of(&msgs), &[]));
    assert_eq!(
        got,
        vec![E::Done(1, None), E::Done(2, None), E::Ready(1002)]
    );
}

#[test]
fn a_malformed_command_complete_inside_a_run_breaks_the_session() {
    let mut s = Session::new_ready(Quirks::postgres());
    queue_runs(&mut s, 2, 2);
    // BindComplete, then a CommandComplete whose tag lacks its NUL.
    let mut bytes = bytes_of(&[B::BindComplete]);
    bytes.extend_from_slice(&[b'C', 0, 0, 0, 8, b'I', b'N', b'S', b'E']);
    let evs = feed_in_pieces(&mut s, &bytes, &[]);
    assert!(s.is_broken());
    let failed: Vec<Item> = evs
        .iter()
        .filter_map(|e| match e {
            Event::Failed(i, _) => Some(*i),
            _ => None,
        })
        .collect();
    assert_eq!(failed, vec![1, 2, 1002], "every pending item fails once");
}

#[test]
fn a_described_shape_does_not_outlive_a_row_completed_by_the_fast_path() {
    // After a Describe announced one column, row 1 completes through the fast path; row 2
    // then sends a DataRow with no RowDescription of its own, which PostgreSQL never does.
    let msgs = [
        B::ParameterDescription(ParameterDescription::new(vec![25])),
        rowdesc(&["a"]),
        B::BindComplete,
        cc("INSERT 0 1"),
        B::BindComplete,
        row(&[Some(b"1")]),
        cc("INSERT 0 1"),
        idle(),
    ];
    let bytes = bytes_of(&msgs);
    let mut runs = Session::new_ready(Quirks::postgres());
    let mut singles = Session::new_ready(Quirks::postgres());
    queue_describe(&mut runs);
    queue_describe(&mut singles);
    queue_runs(&mut runs, 2, 10);
    queue_singles(&mut singles, 2, 10);
    let a = outcomes(feed_in_pieces(&mut runs, &bytes, &[]));
    let b = outcomes(feed_in_pieces(&mut singles, &bytes, &[]));
    assert_eq!(a, b);
    assert!(
        runs.is_broken(),
        "a DataRow without a RowDescription is refused"
    );
    assert!(singles.is_broken());
}

/// The server messages the differential test draws from: the expected ones and the
/// hostile ones.
fn any_message() -> impl Strategy<Value = BackendMessage> {
    prop_oneof![
        6 => Just(B::BindComplete),
        6 => Just(cc("INSERT 0 1")),
        1 => Just(cc("INSÉRT 0 1")),
        1 => Just(cc("SELECT 1")),
        2 => Just(err("23505")),
        2 => Just(idle()),
        1 => Just(B::EmptyQueryResponse),
        1 => Just(B::NoData),
        1 => Just(B::PortalSuspended),
        1 => Just(B::ParseComplete),
        1 => Just(B::ParameterDescription(ParameterDescription::new(vec![25]))),
        2 => Just(row(&[Some(b"1")])),
        1 => Just(row(&[Some(b"1"), None])),
        1 => Just(rowdesc(&["a"])),
        1 => Just(B::NoticeResponse(ErrorFields::new("NOTICE", "00000", "hello"))),
        1 => Just(B::CopyInResponse(CopyResponse::new(Format::Text, vec![]))),
        1 => Just(B::CopyDone),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2048))]

    /// Whatever the server sends, and however it is split across reads, rows queued as a
    /// run end exactly as the same rows queued one expectation at a time: same outcomes
    /// per item, same broken state, same expectations left.
    #[test]
    fn runs_and_single_expectations_end_every_row_the_same_way(
        n in 1u64..12,
        every in 1u64..6,
        iris in any::<bool>(),
        flags in any::<[bool; 6]>(),
        describe in any::<bool>(),
        script in proptest::collection::vec(any_message(), 0..40),
        cuts in proptest::collection::vec(0usize..600, 0..8),
    ) {
        // Both dialects, and every mix of the quirk flags the matcher consults.
        let mut quirks = if iris { Quirks::iris() } else { Quirks::postgres() };
        quirks.no_skip_after_error ^= flags[0];
        quirks.command_complete_may_be_missing ^= flags[1];
        quirks.lenient_row_shape ^= flags[2];
        quirks.surplus_ready_tolerated ^= flags[3];
        quirks.backend_copy_fail_messages ^= flags[4];
        quirks.client_side_transaction_state ^= flags[5];
        let mut runs = Session::new_ready(quirks);
        let mut singles = Session::new_ready(quirks);
        if describe {
            queue_describe(&mut runs);
            queue_describe(&mut singles);
        }
        queue_runs(&mut runs, n, every);
        queue_singles(&mut singles, n, every);
        prop_assert_eq!(
            runs.expectations().collect::<Vec<_>>(),
            singles.expectations().collect::<Vec<_>>()
        );
        let bytes = bytes_of(&script);
        let mut cuts = cuts;
        cuts.sort_unstable();
        cuts.dedup();
        let a = outcomes(feed_in_pieces(&mut runs, &bytes, &cuts));
        let b = outcomes(feed_in_pieces(&mut singles, &bytes, &cuts));
        prop_assert_eq!(a, b);
        prop_assert_eq!(runs.is_broken(), singles.is_broken());
        prop_assert_eq!(
            runs.expectations().collect::<Vec<_>>(),
            singles.expectations().collect::<Vec<_>>()
        );
        prop_assert_eq!(runs.pending_syncs(), singles.pending_syncs());
    }
}
