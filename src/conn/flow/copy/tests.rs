//! The COPY flows driven without a socket: scripted server messages in, the flow's
//! result and the frames it queued out.

use bytes::Bytes;

use super::{
    binary_copy_fits, check, BinaryRows, Direction, Open, Opening, Receiving, Sending, COPY_FLUSH,
};
use crate::conn::flow::harness::Harness;
use crate::conn::tests::{cc, err, idle};
use crate::error::Error;
use crate::iris::IrisPgwireVersion;
use crate::protocol::backend::{BackendMessage, CopyData, CopyResponse};
use crate::protocol::frontend::FrontendMessage;
use crate::protocol::Format;
use crate::types::oid;

/// COPY's own steps on the shared harness.
impl Harness {
    /// Starts `sql` expecting `want`, checks the Query went out, and answers with `msg`.
    fn open(&mut self, sql: &str, want: Direction, msg: BackendMessage) -> Open {
        let mut flow = Opening::start(&mut self.script.s, sql, want).expect("start");
        assert_eq!(self.sent(), [format!("Query {sql}")]);
        self.feed(&mut flow, [msg])
            .expect("done at the COPY response")
            .expect("the COPY is open")
    }

    fn copy_in(&mut self, columns: usize, format: Format) -> Sending {
        let sql = "COPY t FROM STDIN";
        Sending::new(self.open(sql, Direction::In, copy_in_response(columns, format)))
    }

    fn copy_out(&mut self) -> Receiving {
        let sql = "COPY t TO STDOUT";
        Receiving::new(self.open(sql, Direction::Out, copy_out_response(1)))
    }
}

fn copy_in_response(columns: usize, format: Format) -> BackendMessage {
    BackendMessage::CopyInResponse(CopyResponse::new(format, vec![format; columns]))
}

fn copy_out_response(columns: usize) -> BackendMessage {
    BackendMessage::CopyOutResponse(CopyResponse::new(Format::Text, vec![Format::Text; columns]))
}

fn data(s: &'static str) -> BackendMessage {
    BackendMessage::CopyData(CopyData::new(Bytes::from_static(s.as_bytes())))
}

fn release(s: &str) -> Option<IrisPgwireVersion> {
    Some(s.parse().expect("version"))
}

// ----- starting ----------------------------------------------------------------------

#[test]
fn a_copy_in_opens_at_copy_in_response_with_the_format_and_columns_the_server_announced() {
    let mut h = Harness::postgres();
    let copy = h.copy_in(2, Format::Text);
    assert_eq!(copy.format(), Format::Text);
    assert_eq!(copy.columns(), 2);
    assert!(copy.is_open(&h.script.s));
    assert!(!copy.lenient(), "PostgreSQL types are strict");
}

#[test]
fn a_statement_that_starts_no_copy_is_an_error_once_the_server_is_ready_again() {
    let mut h = Harness::postgres();
    let mut flow = Opening::start(&mut h.script.s, "CREATE TABLE t ()", Direction::In).expect("s");
    assert!(h.feed(&mut flow, [cc("CREATE TABLE")]).is_none());
    let e = h
        .feed(&mut flow, [idle()])
        .expect("done")
        .expect_err("no COPY");
    assert!(e.is_protocol(), "{e}");
    assert!(e.to_string().contains("did not start COPY"), "{e}");
}

#[test]
fn a_copy_statement_the_server_refuses_fails_with_the_servers_error() {
    let mut h = Harness::postgres();
    let mut flow =
        Opening::start(&mut h.script.s, "COPY nope FROM STDIN", Direction::In).expect("s");
    let e = h
        .feed(&mut flow, [err("42P01"), idle()])
        .expect("done")
        .expect_err("refused");
    assert_eq!(e.code(), Some("42P01"));
}

#[test]
fn a_copy_out_statement_given_to_copy_in_runs_out_and_is_reported_as_the_wrong_direction() {
    let mut h = Harness::postgres();
    let mut flow = Opening::start(&mut h.script.s, "COPY t TO STDOUT", Direction::In).expect("s");
    let _ = h.sent();
    let msgs = [
        copy_out_response(1),
        data("1\n"),
        BackendMessage::CopyDone,
        cc("COPY 1"),
    ];
    assert!(h.feed(&mut flow, msgs).is_none(), "waits for ReadyForQuery");
    assert!(h.sent().is_empty(), "nothing to send for a COPY OUT");
    let e = h
        .feed(&mut flow, [idle()])
        .expect("done")
        .expect_err("wrong");
    assert!(e.is_unsupported(), "{e}");
    assert!(e.to_string().contains("other direction"), "{e}");
    assert!(h.script.s.is_ready());
}

#[test]
fn a_copy_in_statement_given_to_copy_out_is_failed_at_once_instead_of_waiting_for_data() {
    let mut h = Harness::postgres();
    let mut flow = Opening::start(&mut h.script.s, "COPY t FROM STDIN", Direction::Out).expect("s");
    let _ = h.sent();
    assert!(h
        .feed(&mut flow, [copy_in_response(1, Format::Text)])
        .is_none());
    assert_eq!(
        h.sent(),
        ["CopyFail the caller expected COPY TO STDOUT"],
        "the server would otherwise wait for data forever"
    );
    let e = h
        .feed(&mut flow, [err("57014"), idle()])
        .expect("done")
        .expect_err("wrong");
    assert!(e.is_unsupported(), "the first error wins: {e}");
    assert!(h.script.s.is_ready());
}

// ----- COPY IN ------------------------------------------------------------------------

#[test]
fn copy_in_data_goes_out_as_copy_data_then_copy_done_and_the_count_comes_from_command_complete() {
    let mut h = Harness::postgres();
    let mut copy = h.copy_in(2, Format::Text);
    copy.write(&mut h.script.s, b"1\tada\n").expect("write");
    copy.write(&mut h.script.s, b"2\tgrace\n").expect("write");
    assert!(!copy.must_flush(&mut h.script.s), "little is queued");
    copy.finish(&mut h.script.s).expect("finish");
    assert_eq!(
        h.sent(),
        ["CopyData 1\tada\n", "CopyData 2\tgrace\n", "CopyDone"]
    );
    assert!(h.feed(&mut copy, [cc("COPY 2")]).is_none());
    let n = h.feed(&mut copy, [idle()]).expect("done").expect("ok");
    assert_eq!(n, 2);
}

#[test]
fn copy_in_asks_for_a_flush_once_a_quarter_mebibyte_is_queued_and_caps_frames_at_one_mebibyte() {
    let mut h = Harness::postgres();
    let mut copy = h.copy_in(1, Format::Text);
    copy.write(&mut h.script.s, &vec![b'x'; COPY_FLUSH])
        .expect("write");
    assert!(copy.must_flush(&mut h.script.s));
    let _ = h.sent();
    assert!(!copy.must_flush(&mut h.script.s), "written: nothing queued");
    copy.write(&mut h.script.s, &vec![b'y'; (1 << 20) + 10])
        .expect("write");
    let sizes: Vec<usize> = h
        .script
        .sent()
        .into_iter()
        .map(|m| match m {
            FrontendMessage::CopyData(d) => d.data.len(),
            other => panic!("unexpected {other:?}"),
        })
        .collect();
    assert_eq!(sizes, [1 << 20, 10]);
}

#[test]
fn a_server_error_during_copy_in_keeps_the_queued_frames_whole_refuses_writes_and_is_reported_at_finish(
) {
    let mut h = Harness::postgres();
    let mut copy = h.copy_in(1, Format::Text);
    copy.write(&mut h.script.s, &vec![b'x'; COPY_FLUSH])
        .expect("write");
    // The server rejects the data before it has read all of it.
    assert!(h.feed(&mut copy, [err("22P02")]).is_none());
    assert!(!copy.is_open(&h.script.s));
    assert!(
        !copy.must_flush(&mut h.script.s),
        "no point waiting to send more to a failed COPY"
    );
    // Part of the frame may be on the wire already: what is queued goes out whole, and
    // the server skips it frame by frame.
    assert_eq!(h.sent().len(), 1, "the queued frame is kept");
    let e = copy
        .write(&mut h.script.s, b"more\n")
        .expect_err("COPY is over");
    assert!(
        e.is_protocol() && e.to_string().contains("call finish"),
        "{e}"
    );
    copy.finish(&mut h.script.s).expect("finish");
    assert!(h.sent().is_empty(), "no CopyDone outside COPY mode");
    let e = h.feed(&mut copy, [idle()]).expect("done").expect_err("err");
    assert_eq!(e.code(), Some("22P02"));
}

#[test]
fn aborting_a_copy_in_sends_copy_fail_and_the_servers_cancel_error_means_success() {
    let mut h = Harness::postgres();
    let mut copy = h.copy_in(1, Format::Text);
    copy.write(&mut h.script.s, b"1\n").expect("write");
    copy.abort(&mut h.script.s, "changed my mind\0")
        .expect("abort");
    assert_eq!(h.sent(), ["CopyData 1\n", "CopyFail changed my mind"]);
    let r = h.feed(&mut copy, [err("57014"), idle()]).expect("done");
    assert_eq!(r.as_ref().err().and_then(Error::code), Some("57014"));
    assert!(Sending::aborted(r).is_ok());
}

#[test]
fn an_abort_the_server_ignored_or_answered_with_another_error_is_not_a_success() {
    let accepted = Sending::aborted(Ok(3)).expect_err("rows were copied");
    assert!(accepted.is_protocol(), "{accepted}");
    let other = Error::inferred_db("23505", "duplicate key");
    let e = Sending::aborted(Err(other)).expect_err("another error stands");
    assert_eq!(e.code(), Some("23505"));
}

#[test]
fn binary_rows_start_with_the_header_encode_nulls_as_minus_one_and_end_with_the_trailer() {
    let mut h = Harness::postgres();
    let copy = h.copy_in(2, Format::Binary);
    let mut rows = BinaryRows::new(&copy, &[oid::INT8, oid::TEXT]).expect("binary");
    rows.push(&(1i64, "ada")).expect("row");
    rows.push(&(2i64, None::<&str>)).expect("row");
    assert!(rows.take_full().is_none(), "far below the flush size");
    let mut want = b"PGCOPY\n\xff\r\n\0\0\0\0\0\0\0\0\0".to_vec();
    want.extend_from_slice(&[0, 2, 0, 0, 0, 8, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 3]);
    want.extend_from_slice(b"ada");
    want.extend_from_slice(&[
        0, 2, 0, 0, 0, 8, 0, 0, 0, 0, 0, 0, 0, 2, 0xff, 0xff, 0xff, 0xff,
    ]);
    want.extend_from_slice(&[0xff, 0xff]);
    assert_eq!(rows.finish().as_ref(), want.as_slice());
}

#[test]
fn a_row_of_the_wrong_length_is_refused_and_leaves_nothing_behind() {
    let mut h = Harness::postgres();
    let copy = h.copy_in(1, Format::Binary);
    let mut rows = BinaryRows::new(&copy, &[oid::INT8]).expect("binary");
    let e = rows.push(&(1i64, 2i64)).expect_err("two values");
    assert!(e.is_config(), "{e}");
    assert_eq!(rows.finish().len(), 19 + 2, "header and trailer only");
}

#[test]
fn binary_rows_need_a_binary_copy_with_one_type_per_column() {
    let mut h = Harness::postgres();
    let text = h.copy_in(1, Format::Text);
    let e = BinaryRows::new(&text, &[oid::INT8]).expect_err("text COPY");
    assert!(
        e.is_config() && e.to_string().contains("FORMAT binary"),
        "{e}"
    );
    let mut h = Harness::postgres();
    let binary = h.copy_in(2, Format::Binary);
    let e = BinaryRows::new(&binary, &[oid::INT8]).expect_err("one type");
    assert!(e.to_string().contains("2 columns, 1 types"), "{e}");
}

// ----- COPY OUT -----------------------------------------------------------------------

#[test]
fn copy_out_yields_each_chunk_then_none_with_the_count_once_the_server_is_ready() {
    let mut h = Harness::postgres();
    let mut out = h.copy_out();
    assert_eq!(out.format(), Format::Text);
    let msgs = [data("1\n"), data("2\n")];
    let first = h.feed(&mut out, msgs).expect("a chunk").expect("ok");
    assert_eq!(first.as_deref(), Some(&b"1\n"[..]));
    // The second chunk was queued behind the first: driven again, it comes next.
    let second = h.feed(&mut out, []).expect("a chunk").expect("ok");
    assert_eq!(second.as_deref(), Some(&b"2\n"[..]));
    assert!(h
        .feed(&mut out, [BackendMessage::CopyDone, cc("COPY 2")])
        .is_none());
    assert!(!out.finished() && out.rows() == Some(2));
    let end = h.feed(&mut out, [idle()]).expect("the end").expect("ok");
    assert!(end.is_none());
    assert!(out.finished());
    assert!(
        h.sent().is_empty(),
        "COPY OUT sends nothing after the Query"
    );
}

#[test]
fn a_server_error_mid_copy_out_is_an_error_never_a_short_stream() {
    let mut h = Harness::postgres();
    let mut out = h.copy_out();
    let first = h.feed(&mut out, [data("1\n")]).expect("chunk").expect("ok");
    assert!(first.is_some());
    let e = h
        .feed(&mut out, [err("XX000"), idle()])
        .expect("done")
        .expect_err("failed");
    assert_eq!(e.code(), Some("XX000"));
    assert!(out.finished(), "the server is ready: nothing more to read");
}

#[test]
fn binary_copy_out_rows_need_one_type_per_column() {
    let mut h = Harness::postgres();
    let out = h.copy_out();
    let e = out.check_binary(&[oid::INT8]).expect_err("a text COPY");
    assert!(e.is_config(), "{e}");
}

// ----- what the server can do ---------------------------------------------------------

#[test]
fn postgres_allows_copy_in_both_directions() {
    let h = Harness::postgres();
    assert!(check(&h.script.s, Direction::In).is_ok());
    assert!(check(&h.script.s, Direction::Out).is_ok());
}

#[test]
fn iris_refuses_copy_in_naming_the_release_even_when_it_is_declared() {
    let mut h = Harness::iris();
    let e = check(&h.script.s, Direction::In).expect_err("undeclared");
    assert!(e.is_unsupported(), "{e}");
    assert!(e.to_string().contains("release not declared"), "{e}");
    h.script.s.set_client_options(false, release("1.7.3"));
    let e = check(&h.script.s, Direction::In).expect_err("1.7.3");
    assert!(e.to_string().contains("iris-pgwire 1.7.3"), "{e}");
    assert!(h.sent().is_empty(), "nothing sent");
}

#[test]
fn iris_refuses_copy_out_because_it_sends_column_names_instead_of_data() {
    let h = Harness::iris();
    let e = check(&h.script.s, Direction::Out).expect_err("broken");
    assert!(
        e.is_unsupported() && e.to_string().contains("TO STDOUT"),
        "{e}"
    );
}

#[test]
fn load_uses_binary_copy_only_on_servers_with_working_copy_and_binary_encodable_columns() {
    let pg = Harness::postgres();
    assert!(binary_copy_fits(&pg.script.s, &[oid::INT8, oid::TEXT]));
    assert!(
        !binary_copy_fits(&pg.script.s, &[oid::INT8, 1700]),
        "NUMERIC"
    );
    let iris = Harness::iris();
    assert!(!binary_copy_fits(&iris.script.s, &[oid::INT8]));
}

#[test]
fn a_copy_on_iris_encodes_values_leniently() {
    let mut h = Harness::iris();
    let mut flow = Opening::start(&mut h.script.s, "COPY t FROM STDIN", Direction::In).expect("s");
    let open = h
        .feed(&mut flow, [copy_in_response(1, Format::Text)])
        .expect("done")
        .expect("open");
    assert!(Sending::new(open).lenient());
}

#[test]
fn only_iris_releases_before_1_2_29_or_undeclared_ones_cannot_roll_back() {
    assert_eq!(Harness::postgres().script.s.cannot_roll_back(), None);
    let mut h = Harness::iris();
    let words = h.script.s.cannot_roll_back().expect("undeclared");
    assert!(words.contains("release not declared"), "{words}");
    h.script.s.set_client_options(false, release("1.2.24"));
    assert_eq!(
        h.script.s.cannot_roll_back().as_deref(),
        Some("iris-pgwire 1.2.24")
    );
    h.script.s.set_client_options(false, release("1.2.34"));
    assert_eq!(h.script.s.cannot_roll_back(), None);
}

#[test]
fn notices_during_copy_in_are_taken_aside_and_the_copys_own_events_stay_for_finish() {
    let mut h = Harness::postgres();
    let mut copy = h.copy_in(1, Format::Text);
    let notice = || {
        BackendMessage::NoticeResponse(crate::protocol::backend::ErrorFields::new(
            "NOTICE", "00000", "hi",
        ))
    };
    h.script.feed([notice(), err("22P02"), notice()]);
    let side = h.script.s.take_async_events();
    assert_eq!(side.len(), 2, "both notices, nothing else");
    assert!(side
        .iter()
        .all(|e| matches!(e, crate::conn::event::Event::Notice(_))));
    assert!(h.script.s.take_async_events().is_empty());
    copy.finish(&mut h.script.s).expect("finish");
    let e = h.feed(&mut copy, [idle()]).expect("done").expect_err("err");
    assert_eq!(e.code(), Some("22P02"), "the COPY's own error was kept");
}
