//! The simple-query flow: when a Query's results end (Protocol, *Simple Query*).

use super::*;

#[test]
fn ready_for_query_before_command_complete_breaks_a_simple_query_on_postgres() {
    let mut sc = Script::postgres();
    sc.s.start_simple_query(1, "select 1", false).unwrap();
    sc.feed([rowdesc(&["a"]), row(&[Some(b"1")]), idle()]);
    assert!(sc.s.is_broken());
    let e = sc.s.broken_error().unwrap();
    assert!(e.is_protocol(), "{e}");
    assert!(e.to_string().contains("no CommandComplete"), "{e}");
    // The row already delivered is followed by the failure, never by Ready: the caller
    // does not get the partial result as a complete one.
    assert_eq!(
        compact(sc.events()),
        vec![E::Desc(1), E::Row(1), E::Failed(1, None)]
    );
}

#[test]
fn ready_for_query_after_a_row_description_with_no_rows_breaks_a_simple_query_on_postgres() {
    let mut sc = Script::postgres();
    sc.s.start_simple_query(1, "select 1 where false", false)
        .unwrap();
    sc.feed([rowdesc(&["a"]), idle()]);
    assert!(sc.s.broken_error().is_some_and(crate::Error::is_protocol));
}

#[test]
fn ready_for_query_in_the_second_statement_of_a_query_breaks_it_on_postgres() {
    let mut sc = Script::postgres();
    sc.s.start_simple_query(1, "select 1; select 2", false)
        .unwrap();
    sc.feed([
        rowdesc(&["a"]),
        row(&[Some(b"1")]),
        cc("SELECT 1"),
        rowdesc(&["b"]),
        row(&[Some(b"2")]),
        idle(),
    ]);
    assert!(sc.s.is_broken());
    assert_eq!(
        compact(sc.events()),
        vec![
            E::Desc(1),
            E::Row(1),
            E::Done(1, Some("SELECT 1".into())),
            E::Desc(1),
            E::Row(1),
            E::Failed(1, None)
        ]
    );
}

#[test]
fn ready_for_query_after_complete_results_ends_a_simple_query() {
    let mut sc = Script::postgres();
    sc.s.start_simple_query(1, "select 1; create table t()", false)
        .unwrap();
    sc.feed([
        rowdesc(&["a"]),
        row(&[Some(b"1")]),
        cc("SELECT 1"),
        cc("CREATE TABLE"),
        idle(),
    ]);
    assert!(!sc.s.is_broken());
    assert!(sc.s.is_ready());
    assert_eq!(
        compact(sc.events()).last(),
        Some(&E::Ready(1)),
        "the Query ends normally"
    );
}

#[test]
fn ready_for_query_after_an_error_mid_result_ends_a_simple_query() {
    // An ERROR after some rows (e.g. division by zero in row 2) closes the result.
    let mut sc = Script::postgres();
    sc.s.start_simple_query(1, "select 1/x from t", false)
        .unwrap();
    sc.feed([rowdesc(&["a"]), row(&[Some(b"1")]), err("22012"), idle()]);
    assert!(!sc.s.is_broken());
    assert_eq!(
        compact(sc.events()),
        vec![
            E::Desc(1),
            E::Row(1),
            E::Failed(1, Some("22012".into())),
            E::Ready(1)
        ]
    );
}

#[test]
fn ready_for_query_before_command_complete_ends_a_simple_query_under_the_iris_quirk() {
    // `Quirks::command_complete_may_be_missing`: the ReadyForQuery ends the statement.
    let mut sc = Script::iris();
    sc.s.start_simple_query(1, "select 1", false).unwrap();
    sc.feed([rowdesc(&["a"]), row(&[Some(b"1")]), idle()]);
    assert!(!sc.s.is_broken());
    assert!(sc.s.is_ready());
    assert_eq!(
        compact(sc.events()),
        vec![E::Desc(1), E::Row(1), E::Ready(1)]
    );
}
