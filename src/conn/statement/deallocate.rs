//! What a completed command did to the session's prepared statements, from its command
//! tag and the SQL that ran. No IO here.
//!
//! PostgreSQL reports `DEALLOCATE ALL` and `DISCARD ALL` in the tag itself, but
//! `DEALLOCATE name` (and `DEALLOCATE PREPARE name`) only as `DEALLOCATE`. The name is
//! therefore read from the SQL, and only when that SQL is exactly one such statement
//! (a single extended-protocol statement, or a simple query holding nothing else).
//! Anything else with a `DEALLOCATE` tag (e.g. several statements in one simple query)
//! is [`Deallocated::Unknown`]: the caller must assume any statement may be gone.

/// Statements a completed command removed from the server session.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Deallocated {
    /// Every prepared statement (`DEALLOCATE ALL`, `DISCARD ALL`).
    All,
    /// The statement with this name (already case-folded as the server folds it).
    Named(String),
    /// Some statement whose name the SQL did not reveal.
    Unknown,
}

/// PostgreSQL's NAMEDATALEN - 1: longer identifiers are truncated by the server.
const MAX_IDENTIFIER: usize = 63;

impl Deallocated {
    /// From a CommandComplete `tag`; `target` gives the name the command's SQL
    /// deallocates (usually [`deallocate_target`] of it; called only for a bare
    /// `DEALLOCATE` tag). `None` when the command deallocated nothing.
    pub(crate) fn from_tag(tag: &str, target: impl FnOnce() -> Option<String>) -> Option<Self> {
        match tag {
            "DEALLOCATE ALL" | "DISCARD ALL" => Some(Self::All),
            "DEALLOCATE" => Some(target().map_or(Self::Unknown, Self::Named)),
            _ => None,
        }
    }
}

/// The statement name `sql` deallocates when it is exactly one `DEALLOCATE [PREPARE]
/// name` (comments, whitespace and one trailing `;` allowed); `None` otherwise,
/// including for `DEALLOCATE ALL` (its tag says so).
pub(crate) fn deallocate_target(sql: &str) -> Option<String> {
    let mut lx = Lexer { rest: sql };
    let first = lx.word()?;
    if !first.eq_ignore_ascii_case("deallocate") || first.quoted {
        return None;
    }
    let mut name = lx.word()?;
    // `DEALLOCATE PREPARE x`; a lone `DEALLOCATE prepare` names a statement "prepare".
    if !name.quoted && name.eq_ignore_ascii_case("prepare") {
        if let Some(next) = lx.word() {
            name = next;
        }
    }
    if !name.quoted && name.eq_ignore_ascii_case("all") {
        return None;
    }
    lx.skip_blank();
    if let Some(r) = lx.rest.strip_prefix(';') {
        lx.rest = r;
        lx.skip_blank();
    }
    if !lx.rest.is_empty() {
        return None;
    }
    Some(name.folded())
}

/// Whether `sql` starts with the keyword `DEALLOCATE` or `DISCARD` (after comments and
/// whitespace): session cleanup a user issued, which iris-pgwire answers only in a simple
/// Query (through Parse/Bind/Execute it reaches IRIS, which rejects it; quirks §4, §14).
pub(crate) fn is_session_cleanup(sql: &str) -> bool {
    let mut lx = Lexer { rest: sql };
    lx.word().is_some_and(|w| {
        !w.quoted && (w.eq_ignore_ascii_case("deallocate") || w.eq_ignore_ascii_case("discard"))
    })
}

/// An identifier or keyword as written.
struct Word<'a> {
    text: std::borrow::Cow<'a, str>,
    quoted: bool,
}

impl Word<'_> {
    fn eq_ignore_ascii_case(&self, s: &str) -> bool {
        self.text.eq_ignore_ascii_case(s)
    }

    /// The name the server sees: unquoted identifiers are lower-cased (ASCII only, as
    /// PostgreSQL does for multibyte encodings), and both kinds truncated to 63 bytes.
    fn folded(self) -> String {
        let mut s = if self.quoted {
            self.text.into_owned()
        } else {
            self.text.to_ascii_lowercase()
        };
        if s.len() > MAX_IDENTIFIER {
            let mut end = MAX_IDENTIFIER;
            while !s.is_char_boundary(end) {
                end -= 1;
            }
            s.truncate(end);
        }
        s
    }
}

struct Lexer<'a> {
    rest: &'a str,
}

impl<'a> Lexer<'a> {
    /// Skips whitespace, `--` line comments and (nested) `/* */` block comments.
    fn skip_blank(&mut self) {
        loop {
            let trimmed = self.rest.trim_start();
            if let Some(r) = trimmed.strip_prefix("--") {
                self.rest = r.find('\n').map_or("", |i| r.get(i..).unwrap_or(""));
            } else if trimmed.starts_with("/*") {
                self.rest = skip_block_comment(trimmed);
            } else {
                self.rest = trimmed;
                return;
            }
        }
    }

    /// The next identifier (plain or double-quoted), `None` at anything else.
    fn word(&mut self) -> Option<Word<'a>> {
        self.skip_blank();
        let mut chars = self.rest.char_indices();
        let (_, c) = chars.next()?;
        if c == '"' {
            let body = self.rest.get(1..)?;
            let mut out = String::new();
            let mut it = body.char_indices().peekable();
            while let Some((i, ch)) = it.next() {
                if ch == '"' {
                    if it.peek().is_some_and(|&(_, n)| n == '"') {
                        it.next();
                        out.push('"');
                        continue;
                    }
                    self.rest = body.get(i + 1..)?;
                    // An empty quoted identifier is an error on the server.
                    return (!out.is_empty()).then_some(Word {
                        text: out.into(),
                        quoted: true,
                    });
                }
                out.push(ch);
            }
            return None;
        }
        if !(c.is_ascii_alphabetic() || c == '_' || !c.is_ascii()) {
            return None;
        }
        let end = chars
            .find(|&(_, ch)| {
                !(ch.is_ascii_alphanumeric() || ch == '_' || ch == '$' || !ch.is_ascii())
            })
            .map_or(self.rest.len(), |(i, _)| i);
        let (w, r) = self.rest.split_at_checked(end)?;
        self.rest = r;
        Some(Word {
            text: w.into(),
            quoted: false,
        })
    }
}

/// `s` starts with `/*`: the text after the matching `*/` (comments nest in
/// PostgreSQL), or "" when it never closes.
fn skip_block_comment(s: &str) -> &str {
    let mut depth = 0usize;
    let mut rest = s;
    loop {
        let open = rest.find("/*");
        let close = rest.find("*/");
        match (open, close) {
            (Some(o), Some(c)) if o < c => {
                depth += 1;
                rest = rest.get(o + 2..).unwrap_or("");
            }
            (_, Some(c)) => {
                depth = depth.saturating_sub(1);
                rest = rest.get(c + 2..).unwrap_or("");
                if depth == 0 {
                    return rest;
                }
            }
            (_, None) => return "",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn from_sql(tag: &str, sql: Option<&str>) -> Option<Deallocated> {
        Deallocated::from_tag(tag, || sql.and_then(deallocate_target))
    }

    #[test]
    fn deallocate_and_discard_statements_are_recognised_as_session_cleanup() {
        for sql in [
            "DEALLOCATE ALL",
            "deallocate prepare s1;",
            " /* x */ -- y\n Discard ALL",
            "DISCARD PLANS",
        ] {
            assert!(is_session_cleanup(sql), "{sql:?}");
        }
        for sql in [
            "SELECT 'DEALLOCATE'",
            "\"deallocate\" x",
            "deallocated",
            "",
            "INSERT INTO discard VALUES (1)",
        ] {
            assert!(!is_session_cleanup(sql), "{sql:?}");
        }
    }

    #[test]
    fn deallocate_all_and_discard_all_tags_mean_every_statement() {
        assert_eq!(from_sql("DEALLOCATE ALL", None), Some(Deallocated::All));
        assert_eq!(
            from_sql("DISCARD ALL", Some("discard all")),
            Some(Deallocated::All)
        );
    }

    #[test]
    fn other_tags_deallocate_nothing() {
        for tag in [
            "SELECT 1",
            "DISCARD PLANS",
            "DISCARD TEMP",
            "PREPARE",
            "RESET",
        ] {
            assert_eq!(from_sql(tag, Some("DEALLOCATE x")), None, "{tag}");
        }
    }

    #[test]
    fn a_deallocate_tag_names_the_statement_from_the_sql() {
        let named = |sql| from_sql("DEALLOCATE", Some(sql));
        assert_eq!(
            named("DEALLOCATE pgline_s3"),
            Some(Deallocated::Named("pgline_s3".into()))
        );
        assert_eq!(
            named("  deallocate PREPARE PGLINE_S3 ;  -- done\n"),
            Some(Deallocated::Named("pgline_s3".into()))
        );
        assert_eq!(
            named("/* a /* nested */ comment */ DEALLOCATE \"My \"\"Stmt\"\"\";"),
            Some(Deallocated::Named("My \"Stmt\"".into()))
        );
        assert_eq!(
            named("DEALLOCATE prepare"),
            Some(Deallocated::Named("prepare".into()))
        );
    }

    #[test]
    fn a_deallocate_tag_without_a_readable_name_is_unknown() {
        for sql in [
            "DEALLOCATE a; DEALLOCATE b",
            "SELECT 1; DEALLOCATE a",
            "DEALLOCATE U&\"a\"",
            "DEALLOCATE \"unterminated",
            "DEALLOCATE",
            "DEALLOCATE \"\"",
        ] {
            assert_eq!(
                from_sql("DEALLOCATE", Some(sql)),
                Some(Deallocated::Unknown),
                "{sql}"
            );
        }
        assert_eq!(from_sql("DEALLOCATE", None), Some(Deallocated::Unknown));
    }

    #[test]
    fn long_names_are_truncated_as_the_server_truncates_them() {
        let long = "x".repeat(70);
        assert_eq!(
            deallocate_target(&format!("DEALLOCATE {long}")),
            Some("x".repeat(63))
        );
        // Truncation never splits a character.
        let wide = "é".repeat(40);
        let got = deallocate_target(&format!("DEALLOCATE \"{wide}\"")).unwrap();
        assert_eq!(got, "é".repeat(31));
    }

    #[test]
    fn deallocate_all_sql_is_left_to_its_tag() {
        assert_eq!(deallocate_target("DEALLOCATE ALL"), None);
        assert_eq!(deallocate_target("DEALLOCATE PREPARE all;"), None);
        assert_eq!(deallocate_target("SELECT 1"), None);
        assert_eq!(deallocate_target("\"DEALLOCATE\" x"), None);
    }
}
