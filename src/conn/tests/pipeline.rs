//! The pipeline state machine, table-driven (STYLE 3.6).

use proptest::prelude::*;

use super::*;
use crate::protocol::backend::BackendMessage as B;

/// Queues `n` Bind/Execute pairs (items 1..=n) of statement "s", with a Sync after every
/// `sync_every` rows (and at the end). Sync items are 1000 + k.
fn queue_rows(sc: &mut Script, n: u64, sync_every: u64) -> Vec<u64> {
    let mut syncs = Vec::new();
    for i in 1..=n {
        sc.s.push_bind::<crate::Error, _>(i, "", "s", &[], &[], |w| {
            w.value(b"x").map_err(crate::Error::encode)
        })
        .unwrap();
        sc.s.push_execute(i, "", 0, None).unwrap();
        if i % sync_every == 0 || i == n {
            let w = 1000 + i;
            sc.s.push_sync(w).unwrap();
            syncs.push(w);
        }
    }
    syncs
}

#[test]
fn three_rows_all_succeed_in_one_sync_window() {
    let mut sc = Script::postgres();
    queue_rows(&mut sc, 3, 3);
    sc.feed([
        B::BindComplete,
        cc("INSERT 0 1"),
        B::BindComplete,
        cc("INSERT 0 1"),
        B::BindComplete,
        cc("INSERT 0 1"),
        idle(),
    ]);
    let ins = Some("INSERT 0 1".to_string());
    assert_eq!(
        compact(sc.events()),
        vec![
            E::Bind(1),
            E::Done(1, ins.clone()),
            E::Bind(2),
            E::Done(2, ins.clone()),
            E::Bind(3),
            E::Done(3, ins),
            E::Ready(1003)
        ]
    );
    assert!(sc.s.is_ready());
}

#[test]
fn execute_many_skips_remaining_items_after_error_until_sync() {
    let mut sc = Script::postgres();
    queue_rows(&mut sc, 3, 3);
    // PostgreSQL: row 2 fails, the server discards everything up to Sync.
    sc.feed([
        B::BindComplete,
        cc("INSERT 0 1"),
        B::BindComplete,
        err("23505"),
        idle(),
    ]);
    assert_eq!(
        compact(sc.events()),
        vec![
            E::Bind(1),
            E::Done(1, Some("INSERT 0 1".into())),
            E::Bind(2),
            E::Failed(2, Some("23505".into())),
            E::Aborted(3),
            E::Ready(1003)
        ]
    );
    assert!(sc.s.is_ready(), "the next window proceeds normally");
    assert!(!sc.s.is_broken());
}

#[test]
fn sync_per_item_isolates_failures() {
    let mut sc = Script::postgres();
    queue_rows(&mut sc, 3, 1);
    sc.feed([
        B::BindComplete,
        cc("INSERT 0 1"),
        idle(),
        B::BindComplete,
        err("23505"),
        idle(),
        B::BindComplete,
        cc("INSERT 0 1"),
        idle(),
    ]);
    let ins = Some("INSERT 0 1".to_string());
    assert_eq!(
        compact(sc.events()),
        vec![
            E::Bind(1),
            E::Done(1, ins.clone()),
            E::Ready(1001),
            E::Bind(2),
            E::Failed(2, Some("23505".into())),
            E::Ready(1002),
            E::Bind(3),
            E::Done(3, ins),
            E::Ready(1003)
        ]
    );
}

#[test]
fn missing_command_complete_is_tolerated_only_under_the_iris_quirk() {
    // DDL answered with BindComplete then straight ReadyForQuery.
    let mut sc = Script::iris();
    queue_rows(&mut sc, 1, 1);
    sc.feed([B::BindComplete, idle()]);
    assert_eq!(
        compact(sc.events()),
        vec![E::Bind(1), E::Done(1, None), E::Ready(1001)]
    );

    let mut sc = Script::postgres();
    queue_rows(&mut sc, 1, 1);
    sc.feed([B::BindComplete, idle()]);
    let evs = sc.events();
    assert!(sc.s.is_broken());
    let msg = sc.s.broken_error().unwrap().to_string();
    assert!(msg.contains("expected DataRow, CommandComplete"), "{msg}");
    assert!(matches!(
        compact(evs).as_slice(),
        [E::Bind(1), E::Failed(1, None), E::Failed(1001, None)]
    ));
}

#[test]
fn surplus_ready_for_query_is_a_protocol_error() {
    let mut sc = Script::postgres();
    queue_rows(&mut sc, 1, 1);
    sc.feed([B::BindComplete, cc("INSERT 0 1"), idle(), idle()]);
    assert!(sc.s.is_broken());
    assert!(sc.s.broken_error().unwrap().is_protocol());
}

#[test]
fn surplus_ready_for_query_is_discarded_under_the_iris_quirk() {
    let mut sc = Script::iris();
    queue_rows(&mut sc, 1, 1);
    sc.feed([B::BindComplete, cc("INSERT 0 1"), idle(), idle()]);
    assert!(!sc.s.is_broken());
    assert!(sc.s.is_ready());
}

#[test]
fn notice_between_rows_is_surfaced_but_never_counted_as_a_response() {
    let mut sc = Script::postgres();
    queue_rows(&mut sc, 2, 2);
    let notice = B::NoticeResponse(ErrorFields::new("NOTICE", "00000", "hello"));
    sc.feed([
        B::BindComplete,
        notice,
        cc("INSERT 0 1"),
        B::BindComplete,
        cc("INSERT 0 1"),
        idle(),
    ]);
    let ins = Some("INSERT 0 1".to_string());
    assert_eq!(
        compact(sc.events()),
        vec![
            E::Bind(1),
            E::Notice,
            E::Done(1, ins.clone()),
            E::Bind(2),
            E::Done(2, ins),
            E::Ready(1002)
        ]
    );
}

#[test]
fn iris_errors_do_not_skip_to_sync_and_later_results_are_believed() {
    // P "SELEC 1" B E, P "SELECT 2" B D E, S  →  1, 2, E, 1, 2, T, D, C, Z
    let mut sc = Script::iris();
    sc.s.push_parse(1, "", "SELEC 1", &[]).unwrap();
    sc.s.push_bind::<crate::Error, _>(1, "", "", &[], &[], |_| Ok(()))
        .unwrap();
    sc.s.push_execute(1, "", 0, None).unwrap();
    sc.s.push_parse(2, "", "SELECT 2", &[]).unwrap();
    sc.s.push_bind::<crate::Error, _>(2, "", "", &[], &[], |_| Ok(()))
        .unwrap();
    sc.s.push_describe_portal(2, "").unwrap();
    sc.s.push_execute(2, "", 0, None).unwrap();
    sc.s.push_sync(9).unwrap();
    sc.feed([
        B::ParseComplete,
        B::BindComplete,
        err("42000"),
        B::ParseComplete,
        B::BindComplete,
        rowdesc(&["x"]),
        row(&[Some(b"2")]),
        cc("SELECT 1"),
        idle(),
    ]);
    assert_eq!(
        compact(sc.events()),
        vec![
            E::Parse(1),
            E::Bind(1),
            E::Failed(1, Some("42000".into())),
            E::Parse(2),
            E::Bind(2),
            E::Desc(2),
            E::Row(2),
            E::Done(2, Some("SELECT 1".into())),
            E::Ready(9)
        ]
    );
    assert!(sc.s.is_ready());
}

#[test]
fn several_iris_errors_before_one_ready_are_attributed_in_order() {
    // Bind nope, Execute, Sync → E 42P02, E 42P03, Z
    let mut sc = Script::iris();
    sc.s.push_bind::<crate::Error, _>(1, "", "nope", &[], &[], |_| Ok(()))
        .unwrap();
    sc.s.push_execute(1, "", 0, None).unwrap();
    sc.s.push_sync(2).unwrap();
    sc.feed([err("42P02"), err("42P03"), idle()]);
    assert_eq!(
        compact(sc.events()),
        vec![
            E::Failed(1, Some("42P02".into())),
            E::Failed(1, Some("42P03".into())),
            E::Ready(2)
        ]
    );
    assert!(sc.s.is_ready());
}

#[test]
fn deferred_error_at_sync_fails_the_window_not_silently() {
    // iris-pgwire 1.7.3: C "INSERT 0 1" looked like success; the real error comes at Sync.
    let mut sc = Script::iris();
    queue_rows(&mut sc, 1, 1);
    sc.feed([B::BindComplete, cc("INSERT 0 1"), err("23505"), idle()]);
    assert_eq!(
        compact(sc.events()),
        vec![
            E::Bind(1),
            E::Done(1, Some("INSERT 0 1".into())),
            E::Failed(1001, Some("23505".into())),
            E::Ready(1001)
        ]
    );
}

#[test]
fn fatal_error_mid_pipeline_fails_every_pending_item_once_and_breaks() {
    let mut sc = Script::postgres();
    queue_rows(&mut sc, 3, 3);
    // Two FATALs in one segment (PgBouncer): the second must be ignored, no panic.
    sc.feed([
        B::BindComplete,
        fatal("57P01"),
        fatal("57P01"),
        cc("INSERT 0 1"),
    ]);
    let evs = compact(sc.events());
    assert_eq!(
        evs,
        vec![
            E::Bind(1),
            E::Failed(1, Some("57P01".into())),
            E::Failed(2, Some("57P01".into())),
            E::Failed(3, Some("57P01".into())),
            E::Failed(1003, Some("57P01".into())),
        ]
    );
    assert!(sc.s.is_broken());
    assert_eq!(sc.s.pending(), 0);
    sc.feed([idle()]);
    assert!(
        sc.events().is_empty(),
        "nothing is delivered after the connection broke"
    );
}

#[test]
fn data_row_without_row_description_is_a_protocol_error_on_postgres() {
    let mut sc = Script::postgres();
    sc.s.start_simple_query(1, "select 1", false).unwrap();
    sc.feed([row(&[Some(b"1")])]);
    assert!(sc.s.is_broken());
    assert!(sc
        .s
        .broken_error()
        .unwrap()
        .to_string()
        .contains("without a RowDescription"));
}

#[test]
fn data_row_field_count_must_match_row_description_on_postgres() {
    let mut sc = Script::postgres();
    sc.s.start_simple_query(1, "select 1", false).unwrap();
    sc.feed([rowdesc(&["a", "b"]), row(&[Some(b"1")])]);
    assert!(sc.s.is_broken());
    assert!(sc
        .s
        .broken_error()
        .unwrap()
        .to_string()
        .contains("1 fields"));
}

#[test]
fn iris_tolerates_data_row_without_row_description() {
    let mut sc = Script::iris();
    sc.s.start_simple_query(1, "select 1", false).unwrap();
    sc.feed([row(&[Some(b"1")]), cc("SELECT 1"), idle()]);
    assert_eq!(
        compact(sc.events()),
        vec![E::Row(1), E::Done(1, Some("SELECT 1".into())), E::Ready(1)]
    );
}

#[test]
fn unrequested_copy_in_is_refused_with_copy_fail_and_the_request_fails() {
    use crate::protocol::backend::CopyResponse;
    let mut sc = Script::postgres();
    sc.s.start_simple_query(1, "copy t from stdin", false)
        .unwrap();
    let _ = sc.sent();
    sc.feed([B::CopyInResponse(CopyResponse::new(
        Format::Text,
        vec![Format::Text],
    ))]);
    let sent = sc.sent();
    assert!(
        matches!(sent.as_slice(), [FrontendMessage::CopyFail(_)]),
        "{sent:?}"
    );
    sc.feed([err("57014"), idle()]);
    let evs = sc.events();
    assert!(matches!(&evs[0], Event::Failed(1, e) if e.is_unsupported()));
    assert!(matches!(
        compact(evs)[1..],
        [E::Failed(1, Some(_)), E::Ready(1)]
    ));
    assert!(sc.s.is_ready());
}

#[test]
fn empty_query_is_answered_locally_for_iris_and_never_sent() {
    let mut sc = Script::iris();
    sc.s.start_simple_query(1, " ; ;", false).unwrap();
    assert!(sc.sent().is_empty());
    assert_eq!(compact(sc.events()), vec![E::Empty(1), E::Ready(1)]);
    let mut sc = Script::postgres();
    sc.s.start_simple_query(1, "", false).unwrap();
    assert_eq!(sc.sent().len(), 1);
}

#[test]
fn client_encoding_switch_breaks_the_connection() {
    use crate::protocol::backend::ParameterStatus;
    let mut sc = Script::postgres();
    sc.feed([B::ParameterStatus(ParameterStatus::new(
        "client_encoding",
        "LATIN1",
    ))]);
    assert!(sc.s.is_broken());
}

#[test]
fn error_while_idle_breaks_with_the_servers_reason() {
    let mut sc = Script::postgres();
    sc.feed([fatal("57P01")]);
    assert_eq!(sc.s.broken_error().unwrap().code(), Some("57P01"));
}

#[test]
fn message_while_idle_is_a_protocol_error() {
    let mut sc = Script::postgres();
    sc.feed([B::BindComplete]);
    assert!(sc
        .s
        .broken_error()
        .unwrap()
        .to_string()
        .contains("no request pending"));
}

#[test]
fn prepare_drain_queues_a_sync_for_an_unsynced_flight() {
    let mut sc = Script::postgres();
    sc.s.push_bind::<crate::Error, _>(1, "", "s", &[], &[], |_| Ok(()))
        .unwrap();
    sc.s.push_execute(1, "", 10, None).unwrap();
    sc.s.push_flush().unwrap();
    let _ = sc.sent();
    sc.s.prepare_drain(2).unwrap();
    assert!(matches!(sc.sent().as_slice(), [FrontendMessage::Sync]));
    assert_eq!(sc.s.pending_syncs(), 1);
}

#[test]
fn a_flight_whose_answers_all_arrived_keeps_its_window_open_until_a_sync() {
    // An INSERT sent with Flush and answered in full: the server has not committed it
    // (the implicit transaction ends at Sync), so the session is not idle.
    let mut sc = Script::postgres();
    sc.s.push_parse(1, "", "insert into t values (1)", &[])
        .unwrap();
    sc.s.push_bind::<crate::Error, _>(1, "", "", &[], &[], |_| Ok(()))
        .unwrap();
    sc.s.push_execute(1, "", 0, None).unwrap();
    sc.s.push_flush().unwrap();
    let _ = sc.sent();
    sc.feed([B::ParseComplete, B::BindComplete, cc("INSERT 0 1")]);
    assert_eq!(sc.s.pending(), 0);
    assert!(sc.s.in_open_window());
    assert!(!sc.s.is_ready());
    sc.s.prepare_drain(2).unwrap();
    assert!(matches!(sc.sent().as_slice(), [FrontendMessage::Sync]));
    assert!(!sc.s.in_open_window());
    sc.feed([idle()]);
    assert!(sc.s.is_ready());
}

#[test]
fn a_drained_session_with_no_open_window_sends_nothing() {
    let mut sc = Script::postgres();
    queue_rows(&mut sc, 1, 1);
    sc.feed([B::BindComplete, cc("INSERT 0 1"), idle()]);
    let _ = sc.sent();
    assert!(!sc.s.in_open_window());
    sc.s.prepare_drain(2).unwrap();
    assert!(sc.sent().is_empty());
    assert!(sc.s.is_ready());
}

#[test]
fn portal_suspended_completes_an_execute_with_a_row_limit() {
    let mut sc = Script::postgres();
    sc.s.push_bind::<crate::Error, _>(1, "", "s", &[], &[], |_| Ok(()))
        .unwrap();
    sc.s.push_execute(1, "", 1, Some(1)).unwrap();
    sc.feed([B::BindComplete, row(&[Some(b"1")]), B::PortalSuspended]);
    assert_eq!(
        compact(sc.events()),
        vec![E::Bind(1), E::Row(1), E::Suspended(1)]
    );
    assert_eq!(sc.s.pending(), 0);
}

/// The reference model: outcome per row for N rows, an error at row `k` (0-based), a Sync
/// every `every` rows.
fn model(n: u64, k: Option<u64>, every: u64) -> Vec<E> {
    let mut out = Vec::new();
    let mut failed_window = None;
    for i in 0..n {
        let window = i / every;
        let item = i + 1;
        if failed_window == Some(window) {
            out.push(E::Aborted(item));
        } else if Some(i) == k {
            out.push(E::Failed(item, Some("23505".into())));
            failed_window = Some(window);
        } else {
            out.push(E::Done(item, Some("INSERT 0 1".into())));
        }
    }
    out
}

proptest! {
    #[test]
    fn pipeline_outcomes_match_the_reference_model(n in 1u64..40, k in proptest::option::of(0u64..40), every in 1u64..10) {
        let k = k.filter(|&k| k < n);
        let mut sc = Script::postgres();
        queue_rows(&mut sc, n, every);
        // The server: rows run until the error; the rest of that window is skipped.
        let mut msgs = Vec::new();
        let mut skipping = false;
        for i in 0..n {
            if !skipping {
                msgs.push(B::BindComplete);
                if Some(i) == k {
                    msgs.push(err("23505"));
                    skipping = true;
                } else {
                    msgs.push(cc("INSERT 0 1"));
                }
            }
            if (i + 1) % every == 0 || i + 1 == n {
                msgs.push(idle());
                skipping = false;
            }
        }
        sc.feed(msgs);
        let outcomes: Vec<E> = compact(sc.events())
            .into_iter()
            .filter(|e| matches!(e, E::Done(..) | E::Failed(..) | E::Aborted(..)))
            .collect();
        prop_assert_eq!(outcomes, model(n, k, every));
        prop_assert!(sc.s.is_ready());
        prop_assert_eq!(sc.s.pending_syncs(), 0);
    }
}

fn backend_f(body_len: usize) -> Vec<u8> {
    let mut v = vec![b'f'];
    v.extend_from_slice(&(i32::try_from(body_len + 4).unwrap_or(i32::MAX)).to_be_bytes());
    v.extend(std::iter::repeat_n(b'x', body_len));
    v
}

#[test]
fn a_backend_f_message_split_across_reads_is_dropped_under_the_iris_quirk() {
    let mut t = Script::iris();
    let bytes = backend_f(26);
    let (a, b) = bytes.split_at(7);
    let mut buf = BytesMut::from(a);
    t.s.handle_bytes(&mut buf);
    assert!(!t.s.is_broken(), "half a frame waits for the rest");
    buf.extend_from_slice(b);
    t.s.handle_bytes(&mut buf);
    assert!(!t.s.is_broken());
    assert!(buf.is_empty(), "the frame was consumed");
    assert!(t.events().is_empty(), "it answers nothing");
}

#[test]
fn an_oversized_backend_f_message_breaks_before_anything_is_buffered() {
    let mut t = Script::iris();
    // Only the header arrives: the declared length alone is refused.
    let mut buf = BytesMut::from(&backend_f(1 << 30)[..5]);
    t.s.handle_bytes(&mut buf);
    assert!(t.s.is_broken());
    let mut t = Script::iris();
    let mut buf = BytesMut::from(&[b'f', 0, 0, 0, 2][..]);
    t.s.handle_bytes(&mut buf);
    assert!(t.s.is_broken(), "a length below 4 is refused too");
}

#[test]
fn a_backend_f_message_breaks_a_postgres_session() {
    let mut t = Script::postgres();
    let mut buf = BytesMut::from(&backend_f(4)[..]);
    t.s.handle_bytes(&mut buf);
    assert!(t.s.is_broken());
}
