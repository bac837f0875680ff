//! The password file (`.pgpass`): parsing and matching, without IO.
//!
//! Format, as libpq reads it (libpq docs, "The Password File"): one entry per line,
//! `hostname:port:database:username:password`; `#` starts a comment line; a field may be
//! `*` (matches anything), and `\:` and `\\` stand for a literal `:` and `\`. The first
//! matching line wins. The driver reads the file (and checks its permissions); this
//! module only answers "which password does this file give for this server".

/// libpq's default Unix-socket directories. A connection through one of them looks up the
/// host name `localhost` (libpq: "The host name localhost is also searched for when the
/// connection is a Unix-domain socket connection and the host parameter matches libpq's
/// default socket directory path"). Upstream's default is `/tmp`; Debian's libpq uses
/// `/var/run/postgresql`.
const DEFAULT_SOCKET_DIRS: [&str; 3] = ["/tmp", "/var/run/postgresql", "/run/postgresql"];

/// The longest line considered (libpq skips longer lines; it reads in 320-byte chunks but
/// copes with any length). A cap keeps a hostile file from costing much.
const MAX_LINE: usize = 64 * 1024;

/// The server an entry must match: the host name (not `hostaddr`, unless only that was
/// given), the port as digits, the database and the user.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Lookup<'a> {
    pub(crate) host: &'a str,
    pub(crate) port: u16,
    pub(crate) dbname: &'a str,
    pub(crate) user: &'a str,
}

/// The password `contents` gives for `key`, if a line matches.
pub(crate) fn lookup(contents: &str, key: Lookup<'_>) -> Option<String> {
    let host = effective_host(key.host);
    let port = key.port.to_string();
    contents
        .lines()
        .filter(|l| l.len() <= MAX_LINE && !l.starts_with('#'))
        .find_map(|line| {
            let line = line.strip_suffix('\r').unwrap_or(line);
            let mut rest = line;
            for want in [host, port.as_str(), key.dbname, key.user] {
                rest = field_matches(rest, want)?;
            }
            Some(unescape(rest))
        })
}

/// The host name looked up: `localhost` for a default socket directory.
fn effective_host(host: &str) -> &str {
    if host.is_empty()
        || DEFAULT_SOCKET_DIRS
            .iter()
            .any(|d| host.trim_end_matches('/') == *d)
    {
        "localhost"
    } else {
        host
    }
}

/// If the first field of `line` matches `want` (`*`, or equal once unescaped), the rest of
/// the line after its `:`.
fn field_matches<'a>(line: &'a str, want: &str) -> Option<&'a str> {
    if let Some(rest) = line.strip_prefix("*:") {
        return Some(rest);
    }
    let mut chars = line.char_indices();
    let mut got = String::new();
    while let Some((i, c)) = chars.next() {
        match c {
            '\\' => got.push(chars.next()?.1),
            ':' => return (got == want).then(|| line.get(i + 1..)).flatten(),
            c => got.push(c),
        }
    }
    None
}

/// The password field with its escapes removed. As libpq's `passwordFromFile`: it ends
/// at the first unescaped `:`, and a lone `\\` at the end is kept.
fn unescape(field: &str) -> String {
    let mut out = String::with_capacity(field.len());
    let mut chars = field.chars();
    while let Some(c) = chars.next() {
        match c {
            '\\' => out.push(chars.next().unwrap_or('\\')),
            ':' => break,
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key<'a>(host: &'a str, port: u16, dbname: &'a str, user: &'a str) -> Lookup<'a> {
        Lookup {
            host,
            port,
            dbname,
            user,
        }
    }

    #[test]
    fn the_first_matching_line_wins() {
        let f = "db1:5432:app:alice:first\n*:*:*:alice:second\n";
        assert_eq!(
            lookup(f, key("db1", 5432, "app", "alice")).as_deref(),
            Some("first")
        );
        assert_eq!(
            lookup(f, key("db2", 5432, "app", "alice")).as_deref(),
            Some("second")
        );
        assert_eq!(lookup(f, key("db1", 5432, "app", "bob")), None);
    }

    #[test]
    fn each_field_must_match_exactly_or_be_a_star() {
        let f = "h:5433:d:u:pw";
        assert_eq!(lookup(f, key("h", 5433, "d", "u")).as_deref(), Some("pw"));
        assert_eq!(lookup(f, key("h", 5432, "d", "u")), None);
        assert_eq!(lookup(f, key("hh", 5433, "d", "u")), None);
        assert_eq!(lookup(f, key("h", 5433, "dd", "u")), None);
        assert_eq!(
            lookup("*:*:*:*:any", key("x", 1, "y", "z")).as_deref(),
            Some("any")
        );
        // A star is a whole field, not a glob.
        assert_eq!(lookup("h*:*:*:*:pw", key("h1", 1, "d", "u")), None);
    }

    #[test]
    fn escaped_colons_and_backslashes_are_literal() {
        let f = r"fe80\:\:1:5432:d:u:pa\:ss\\word";
        assert_eq!(
            lookup(f, key("fe80::1", 5432, "d", "u")).as_deref(),
            Some(r"pa:ss\word")
        );
        let f = r"h:5432:d:us\\er:pw";
        assert_eq!(
            lookup(f, key("h", 5432, "d", r"us\er")).as_deref(),
            Some("pw")
        );
    }

    #[test]
    fn comments_short_lines_and_crlf_are_handled() {
        let f = "# h:5432:d:u:commented\nh:5432:d\nh:5432:d:u:pw\r\n";
        assert_eq!(lookup(f, key("h", 5432, "d", "u")).as_deref(), Some("pw"));
        assert_eq!(lookup("", key("h", 5432, "d", "u")), None);
    }

    #[test]
    fn a_password_ends_at_an_unescaped_colon_and_may_be_empty() {
        // libpq's passwordFromFile stops at the first unescaped ':'.
        assert_eq!(
            lookup("h:1:d:u:a:b", key("h", 1, "d", "u")).as_deref(),
            Some("a")
        );
        assert_eq!(
            lookup("h:1:d:u:a\\:b\\", key("h", 1, "d", "u")).as_deref(),
            Some("a:b\\")
        );
        assert_eq!(
            lookup("h:1:d:u:", key("h", 1, "d", "u")).as_deref(),
            Some("")
        );
    }

    #[test]
    fn a_default_socket_directory_matches_localhost_and_others_match_by_path() {
        let f = "localhost:5432:d:u:local\n/srv/pg:5432:d:u:srv\n";
        for dir in ["/var/run/postgresql", "/tmp", "/var/run/postgresql/"] {
            assert_eq!(
                lookup(f, key(dir, 5432, "d", "u")).as_deref(),
                Some("local"),
                "{dir}"
            );
        }
        assert_eq!(
            lookup(f, key("/srv/pg", 5432, "d", "u")).as_deref(),
            Some("srv")
        );
        assert_eq!(
            lookup(f, key("localhost", 5432, "d", "u")).as_deref(),
            Some("local")
        );
    }
}
