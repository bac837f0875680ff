//! IRIS SQLCODEs in iris-pgwire errors, and the PostgreSQL SQLSTATE each common one means.
//!
//! iris-pgwire passes IRIS's error text through in the message, e.g.
//! `[SQLCODE: <-119>:<UNIQUE or PRIMARY KEY Constraint failed uniqueness check upon
//! INSERT>]`, and sends a SQLSTATE of its own: 42000 for every IRIS error on 1.0.x, a
//! partial classification with fallbacks 42000, 08000 or XX000 on 1.7.x (quirks §7,
//! §14). [`DbError::iris_sqlcode`](crate::DbError::iris_sqlcode) reads the SQLCODE back,
//! and [`DbError::sqlstate_mapped`](crate::DbError::sqlstate_mapped) gives the SQLSTATE
//! code written for PostgreSQL expects, from the table below; `code()` stays what the
//! server sent.
//!
//! SQLCODE meanings: InterSystems IRIS documentation, "SQL Error Messages"
//! (<https://docs.intersystems.com/irislatest/csp/docbook/DocBook.UI.Page.cls?KEY=RERR_sql>).
//! Where iris-pgwire 1.7.3 classifies a code itself (`sql_translator/sqlstate.py`,
//! `classify_iris_error`), the table agrees with it.
//!
//! | SQLCODE | IRIS meaning | SQLSTATE | PostgreSQL name |
//! |---|---|---|---|
//! | -1 | Invalid SQL statement | 42601 | syntax_error |
//! | -4 | A term expected, beginning with one of the following: ... | 42601 | syntax_error |
//! | -12 | A term expected, beginning with one of the following: ... | 42601 | syntax_error |
//! | -25 | Input (`;`) encountered after end of query | 42601 | syntax_error |
//! | -29 | Field not found in the applicable tables | 42703 | undefined_column |
//! | -30 | Table or view not found | 42P01 | undefined_table |
//! | -108 | Required field missing; INSERT or UPDATE not allowed | 23502 | not_null_violation |
//! | -110 | Locking conflict in filing | 55P03 | lock_not_available |
//! | -114 | One or more matching rows is locked by another user | 55P03 | lock_not_available |
//! | -119 | UNIQUE or PRIMARY KEY constraint failed uniqueness check upon INSERT | 23505 | unique_violation |
//! | -120 | UNIQUE or PRIMARY KEY constraint failed uniqueness check upon UPDATE | 23505 | unique_violation |
//! | -121 | FOREIGN KEY constraint failed referential check upon INSERT of row in referencing table | 23503 | foreign_key_violation |
//! | -122 | FOREIGN KEY constraint failed referential check upon UPDATE of row in referencing table | 23503 | foreign_key_violation |
//! | -123 | FOREIGN KEY constraint failed referential check upon UPDATE of row in referenced table | 23503 | foreign_key_violation |
//! | -124 | FOREIGN KEY constraint failed referential check upon DELETE of row in referenced table | 23503 | foreign_key_violation |
//! | -359 | SQL function not found | 42883 | undefined_function |
//! | -400 | Fatal error occurred | XX000 | internal_error |
//!
//! IRIS has no SQLCODE of its own for a deadlock: a lock it cannot get within the lock
//! timeout is -110 or -114, so `40P01` never comes out of this table; 55P03 does. Other
//! SQLCODEs are reported by `iris_sqlcode` and left unmapped (`sqlstate_mapped` then
//! returns the server's code).

/// The table of the module docs: IRIS SQLCODE and the PostgreSQL SQLSTATE it maps to.
pub const SQLCODE_TO_SQLSTATE: &[(i32, &str)] = &[
    (-1, "42601"),
    (-4, "42601"),
    (-12, "42601"),
    (-25, "42601"),
    (-29, "42703"),
    (-30, "42P01"),
    (-108, "23502"),
    (-110, "55P03"),
    (-114, "55P03"),
    (-119, "23505"),
    (-120, "23505"),
    (-121, "23503"),
    (-122, "23503"),
    (-123, "23503"),
    (-124, "23503"),
    (-359, "42883"),
    (-400, "XX000"),
];

/// The PostgreSQL SQLSTATE for an IRIS SQLCODE, from [`SQLCODE_TO_SQLSTATE`].
pub fn sqlstate_for_sqlcode(sqlcode: i32) -> Option<&'static str> {
    SQLCODE_TO_SQLSTATE
        .iter()
        .find(|(c, _)| *c == sqlcode)
        .map(|(_, s)| *s)
}

/// The IRIS SQLCODE in an error message.
///
/// The message may echo the statement (or values from it), and a column or literal in
/// there could read like a SQLCODE, so the wording iris-pgwire passes on from the IRIS
/// DB-API, `[SQLCODE: <-119>:<...>]`, is looked for first: its first occurrence wins.
/// Without it, the looser forms `SQLCODE: <-119>`, `SQLCODE: -119` and `SQLCODE=-119`
/// (at the start of a word, not `MY_SQLCODE=1`) are taken only when every one of them
/// in the message names the same number: two different ones cannot be told apart.
/// `None` when the message carries none, or the number does not fit an `i32`.
pub fn iris_sqlcode(message: &str) -> Option<i32> {
    /// The DB-API wording, up to the number.
    const DBAPI: &str = "[SQLCODE: <";
    let mut rest = message;
    while let Some(at) = rest.find(DBAPI) {
        let after = rest.get(at + DBAPI.len()..)?;
        if let Some((n, tail)) = number(after) {
            if tail.starts_with('>') {
                return Some(n);
            }
        }
        rest = after;
    }
    let mut found = None;
    let mut rest = message;
    while let Some(at) = rest.find("SQLCODE") {
        let word_start = rest
            .get(..at)
            .and_then(|before| before.chars().next_back())
            .is_none_or(|c| !(c.is_alphanumeric() || c == '_' || c == '$' || c == '%'));
        let after = rest.get(at + "SQLCODE".len()..)?;
        if let Some(n) = number_after(after).filter(|_| word_start) {
            match found {
                Some(m) if m != n => return None,
                _ => found = Some(n),
            }
        }
        rest = after;
    }
    found
}

/// An optional `-` and up to 9 digits at the start of `s`: the number, and what follows.
fn number(s: &str) -> Option<(i32, &str)> {
    let (neg, digits) = match s.strip_prefix('-') {
        Some(d) => (true, d),
        None => (false, s),
    };
    let end = digits
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(digits.len());
    let num = digits
        .get(..end)
        .filter(|d| !d.is_empty() && d.len() <= 9)?;
    let n: i32 = num.parse().ok()?;
    Some((if neg { -n } else { n }, digits.get(end..)?))
}

/// `: <-119>`, `: -119`, `=-119`, `= <-119>` at the start of `s`: the number.
fn number_after(s: &str) -> Option<i32> {
    let s = s.trim_start_matches(' ');
    let s = s.strip_prefix(':').or_else(|| s.strip_prefix('='))?;
    let s = s.trim_start_matches(' ');
    let s = s.strip_prefix('<').unwrap_or(s);
    number(s).map(|(n, _)| n)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_dbapi_wording_of_every_release_gives_the_sqlcode() {
        let m = "Statement processing failed: [SQLCODE: <-119>:<UNIQUE or PRIMARY KEY \
                 Constraint failed uniqueness check upon INSERT>]\r\n[Location: <Prepare>]";
        assert_eq!(iris_sqlcode(m), Some(-119));
        assert_eq!(
            iris_sqlcode("[SQLCODE: <-30>:<Table or view not found>]"),
            Some(-30)
        );
        assert_eq!(iris_sqlcode("error SQLCODE=-108 x"), Some(-108));
        assert_eq!(iris_sqlcode("SQLCODE: 100"), Some(100));
    }

    #[test]
    fn messages_without_a_number_after_sqlcode_give_none() {
        for m in [
            "",
            "duplicate key value violates unique constraint",
            "SQLCODE",
            "SQLCODE: <>",
            "SQLCODE: <x>",
            "SQLCODE: <-99999999999>",
            "SQLCODE -119",
        ] {
            assert_eq!(iris_sqlcode(m), None, "{m:?}");
        }
        assert_eq!(iris_sqlcode("SQLCODE: x, then SQLCODE: <-1>"), Some(-1));
    }

    #[test]
    fn the_dbapi_wording_wins_over_a_sqlcode_echoed_from_the_statement() {
        // The statement is echoed first, with a column that reads like a SQLCODE.
        let m = "error in UPDATE t SET SQLCODE=-5 WHERE id = 1: [SQLCODE: <-119>:<UNIQUE or \
                 PRIMARY KEY Constraint failed uniqueness check upon UPDATE>]";
        assert_eq!(iris_sqlcode(m), Some(-119));
        // ... and after it.
        let m = "[SQLCODE: <-30>:<Table or view not found>] in SELECT 'SQLCODE: <-1>'";
        assert_eq!(iris_sqlcode(m), Some(-30));
        // A DB-API prefix without its closing `>` is not the DB-API wording.
        assert_eq!(iris_sqlcode("[SQLCODE: <-30 x] SQLCODE=-30"), Some(-30));
    }

    #[test]
    fn without_the_dbapi_wording_different_loose_sqlcodes_give_none() {
        assert_eq!(iris_sqlcode("SQLCODE=-5 then SQLCODE: -30"), None);
        assert_eq!(iris_sqlcode("SQLCODE=-30 then SQLCODE: <-30>"), Some(-30));
    }

    #[test]
    fn sqlcode_inside_a_longer_word_is_not_a_sqlcode() {
        for m in ["MY_SQLCODE=-5", "v_SQLCODE: -5", "XSQLCODE=1", "%SQLCODE=1"] {
            assert_eq!(iris_sqlcode(m), None, "{m:?}");
        }
        assert_eq!(iris_sqlcode("MY_SQLCODE=-5, SQLCODE=-1"), Some(-1));
        assert_eq!(iris_sqlcode("(SQLCODE=-1)"), Some(-1));
    }

    #[test]
    fn the_common_sqlcodes_map_to_their_postgresql_sqlstates() {
        assert_eq!(sqlstate_for_sqlcode(-119), Some("23505"));
        assert_eq!(sqlstate_for_sqlcode(-121), Some("23503"));
        assert_eq!(sqlstate_for_sqlcode(-124), Some("23503"));
        assert_eq!(sqlstate_for_sqlcode(-108), Some("23502"));
        assert_eq!(sqlstate_for_sqlcode(-114), Some("55P03"));
        assert_eq!(sqlstate_for_sqlcode(-30), Some("42P01"));
        assert_eq!(sqlstate_for_sqlcode(-29), Some("42703"));
        assert_eq!(sqlstate_for_sqlcode(-1), Some("42601"));
        assert_eq!(sqlstate_for_sqlcode(-201), None);
        assert_eq!(sqlstate_for_sqlcode(0), None);
    }

    proptest::proptest! {
        #[test]
        fn arbitrary_messages_never_panic(s in ".{0,200}") {
            let _ = iris_sqlcode(&s);
        }
    }
}
