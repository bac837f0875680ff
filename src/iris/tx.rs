//! Client-side transaction tracking for servers whose ReadyForQuery status byte cannot be
//! believed ([`Quirks::client_side_transaction_state`](super::Quirks)).
//!
//! iris-pgwire reports `T` only after the bare verb `BEGIN`, keeps reporting `I` inside a
//! transaction opened any other way (`BEGIN TRANSACTION`, `START TRANSACTION ISOLATION
//! LEVEL …`), and never reports `E`. The client therefore reads the transaction verbs in
//! the SQL it sends.

use crate::protocol::backend::TransactionStatus;

/// The transaction status after `sql` runs, if `sql` contains a statement that opens or
/// ends a transaction (the last such statement wins); `None` when it has none.
///
/// Statements are split on `;` outside quotes and comments; the first one or two words of
/// each decide: `BEGIN`, `START TRANSACTION` open; `COMMIT`, `END`, `ROLLBACK` (but not
/// `ROLLBACK TO [SAVEPOINT]`) and `ABORT` close. `COMMIT AND CHAIN` keeps it open.
pub fn transaction_effect(sql: &str) -> Option<TransactionStatus> {
    let mut effect = None;
    for stmt in split_statements(sql) {
        let mut words = stmt
            .split(|c: char| c.is_ascii_whitespace() || c == '(')
            .filter(|w| !w.is_empty());
        let first = words.next().unwrap_or("");
        let second = words.next().unwrap_or("");
        let third = words.next().unwrap_or("");
        let eq = |a: &str, b: &str| a.eq_ignore_ascii_case(b);
        let e = if eq(first, "BEGIN") || (eq(first, "START") && eq(second, "TRANSACTION")) {
            Some(TransactionStatus::InTransaction)
        } else if (eq(first, "COMMIT") || eq(first, "END")) && eq(second, "AND") {
            // COMMIT AND CHAIN / AND NO CHAIN.
            if eq(third, "CHAIN") {
                Some(TransactionStatus::InTransaction)
            } else {
                Some(TransactionStatus::Idle)
            }
        } else if eq(first, "COMMIT") || eq(first, "END") || eq(first, "ABORT") {
            Some(TransactionStatus::Idle)
        } else if eq(first, "ROLLBACK") {
            if eq(second, "TO") {
                None
            } else {
                Some(TransactionStatus::Idle)
            }
        } else {
            None
        };
        if e.is_some() {
            effect = e;
        }
    }
    effect
}

/// Splits on `;` outside single/double quotes and comments, and strips leading comments
/// and whitespace from each piece. Never panics; unterminated quotes run to the end.
fn split_statements(sql: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut chars = sql.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\'' | '"' => {
                cur.push(c);
                for d in chars.by_ref() {
                    cur.push(d);
                    if d == c {
                        break;
                    }
                }
            }
            '-' if chars.peek() == Some(&'-') => {
                for d in chars.by_ref() {
                    if d == '\n' {
                        break;
                    }
                }
                cur.push(' ');
            }
            '/' if chars.peek() == Some(&'*') => {
                chars.next();
                let mut prev = ' ';
                for d in chars.by_ref() {
                    if prev == '*' && d == '/' {
                        break;
                    }
                    prev = d;
                }
                cur.push(' ');
            }
            ';' => out.push(std::mem::take(&mut cur)),
            _ => cur.push(c),
        }
    }
    out.push(cur);
    out.retain(|s| !s.trim().is_empty());
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use TransactionStatus::{Idle, InTransaction};

    #[test]
    fn bare_and_optioned_begins_open_a_transaction() {
        for sql in [
            "BEGIN",
            "begin;",
            "BEGIN TRANSACTION",
            "START TRANSACTION ISOLATION LEVEL SERIALIZABLE",
            "  /* c */ -- x\n BEGIN WORK",
        ] {
            assert_eq!(transaction_effect(sql), Some(InTransaction), "{sql}");
        }
    }

    #[test]
    fn commit_rollback_end_and_abort_close_it() {
        for sql in ["COMMIT", "end", "ROLLBACK", "ABORT", "COMMIT AND NO CHAIN"] {
            assert_eq!(transaction_effect(sql), Some(Idle), "{sql}");
        }
    }

    #[test]
    fn rollback_to_a_savepoint_and_commit_and_chain_keep_it_open() {
        assert_eq!(transaction_effect("ROLLBACK TO SAVEPOINT a"), None);
        assert_eq!(transaction_effect("COMMIT AND CHAIN"), Some(InTransaction));
    }

    #[test]
    fn the_last_verb_of_a_multi_statement_string_wins() {
        assert_eq!(
            transaction_effect("BEGIN; INSERT INTO t VALUES (1); COMMIT"),
            Some(Idle)
        );
        assert_eq!(transaction_effect("COMMIT; BEGIN"), Some(InTransaction));
    }

    #[test]
    fn verbs_inside_literals_and_comments_do_not_count() {
        assert_eq!(transaction_effect("SELECT 'x; BEGIN'"), None);
        assert_eq!(transaction_effect("SELECT 1 -- ; BEGIN"), None);
        assert_eq!(transaction_effect("SELECT 1 /* ; BEGIN */"), None);
        assert_eq!(transaction_effect("SELECT begin FROM t"), None);
    }

    proptest::proptest! {
        #[test]
        fn arbitrary_text_never_panics(s in ".{0,200}") {
            let _ = transaction_effect(&s);
        }
    }
}
