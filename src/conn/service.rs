//! The connection service file (libpq's `pg_service.conf`): named groups of connection
//! parameters, picked with `service=NAME` or `PGSERVICE`.
//!
//! > "Service names can be defined in either a per-user service file or a system-wide
//! > file. If the same service name exists in both the user and the system file, the user
//! > file takes precedence. By default, the per-user service file is named
//! > `~/.pg_service.conf`. [...] A different file name can be specified by setting the
//! > environment variable `PGSERVICEFILE`. The system-wide file is named
//! > `pg_service.conf`. By default it is sought in the `etc` directory of the PostgreSQL
//! > installation [...]. Another directory, but not a different file name, can be
//! > specified by setting the environment variable `PGSYSCONFDIR`."
//! >
//! > "Connection parameters obtained from a service file are combined with parameters
//! > obtained from other sources. A service file setting overrides the corresponding
//! > environment variable, and in turn can be overridden by a value given directly in
//! > the connection string." (libpq, *The Connection Service File*)
//!
//! So the order, lowest first, is: defaults, `PG*` variables, the service's group, the
//! connection string (or URL). The user file is `servicefile=` (libpq 18), else
//! `PGSERVICEFILE`, else `$HOME/.pg_service.conf`; the system file is
//! `$PGSYSCONFDIR/pg_service.conf`, else `/etc/postgresql-common/pg_service.conf` (where
//! Debian's and Ubuntu's libpq look). The first file holding the group is the only one
//! read; a group found in neither is an error, as in libpq.
//!
//! The format is libpq's: `[name]` starts a group, `key=value` lines set parameters by
//! their connection-string names, blank lines and lines starting with `#` are skipped,
//! and `service` inside a group is refused (no nesting). pgline also trims blanks around
//! the `=`, which libpq would reject.

use std::path::{Path, PathBuf};

use crate::error::Error;

/// A service file longer than this is refused (libpq reads it line by line; a file this
/// large is not a service file).
const MAX_SERVICE_FILE_LEN: u64 = 1 << 20;

/// Where the service files are: the per-user one and the system-wide one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ServiceFiles {
    pub(crate) user: Option<PathBuf>,
    pub(crate) system: PathBuf,
}

impl ServiceFiles {
    /// The files libpq would read: `servicefile` (the connection parameter), else
    /// `PGSERVICEFILE`, else `$HOME/.pg_service.conf`; and
    /// `$PGSYSCONFDIR/pg_service.conf` or the distribution's default.
    pub(crate) fn locate(servicefile: Option<&str>, get: &dyn Fn(&str) -> Option<String>) -> Self {
        let user = servicefile
            .map(PathBuf::from)
            .or_else(|| get("PGSERVICEFILE").map(PathBuf::from))
            .or_else(|| get("HOME").map(|h| Path::new(&h).join(".pg_service.conf")));
        let system = get("PGSYSCONFDIR")
            .map(|d| Path::new(&d).join("pg_service.conf"))
            .unwrap_or_else(|| PathBuf::from("/etc/postgresql-common/pg_service.conf"));
        Self { user, system }
    }

    /// The `key=value` pairs of group `service`, from the first file that has it.
    pub(crate) fn lookup(&self, service: &str) -> Result<Vec<(String, String)>, Error> {
        for path in self.user.iter().chain(std::iter::once(&self.system)) {
            let Some(text) = read_if_present(path)? else {
                continue;
            };
            if let Some(pairs) = parse_group(&text, service, path)? {
                return Ok(pairs);
            }
        }
        Err(Error::config(format!(
            "definition of service {service:?} not found (looked in {})",
            self.user
                .iter()
                .chain(std::iter::once(&self.system))
                .map(|p| p.display().to_string())
                .collect::<Vec<_>>()
                .join(" and ")
        )))
    }
}

/// The file's text, or `None` when it does not exist. Only a regular file is read, and
/// at most [`MAX_SERVICE_FILE_LEN`] bytes of it (checked while reading: a device or a
/// file that grows cannot make it read without end).
fn read_if_present(path: &Path) -> Result<Option<String>, Error> {
    use std::io::Read;
    let fail = |e: std::io::Error| Error::config(format!("service file {}: {e}", path.display()));
    let file = match std::fs::File::open(path) {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(fail(e)),
    };
    if !file.metadata().map_err(fail)?.is_file() {
        return Err(Error::config(format!(
            "service file {} is not a regular file",
            path.display()
        )));
    }
    let mut text = String::new();
    file.take(MAX_SERVICE_FILE_LEN + 1)
        .read_to_string(&mut text)
        .map_err(fail)?;
    if text.len() as u64 > MAX_SERVICE_FILE_LEN {
        return Err(Error::config(format!(
            "service file {} is over the {MAX_SERVICE_FILE_LEN}-byte limit",
            path.display()
        )));
    }
    Ok(Some(text))
}

/// The pairs of group `service` in a service file's text, or `None` when the file has
/// no such group. `path` names the file in errors.
pub(crate) fn parse_group(
    text: &str,
    service: &str,
    path: &Path,
) -> Result<Option<Vec<(String, String)>>, Error> {
    let mut in_group = false;
    let mut found = None::<Vec<(String, String)>>;
    for (n, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let at = || format!("service file {}, line {}", path.display(), n + 1);
        if let Some(rest) = line.strip_prefix('[') {
            if found.is_some() {
                // The group ended; libpq stops reading here too.
                break;
            }
            let name = rest
                .strip_suffix(']')
                .ok_or_else(|| Error::config(format!("syntax error in {}", at())))?;
            in_group = name == service;
            if in_group {
                found = Some(Vec::new());
            }
            continue;
        }
        let Some(pairs) = found.as_mut().filter(|_| in_group) else {
            continue;
        };
        let (key, value) = line
            .split_once('=')
            .ok_or_else(|| Error::config(format!("syntax error in {}", at())))?;
        let key = key.trim();
        if key == "service" {
            return Err(Error::config(format!(
                "nested service specifications not supported in {}",
                at()
            )));
        }
        pairs.push((key.to_string(), value.trim().to_string()));
    }
    Ok(found)
}

#[cfg(test)]
mod tests {
    use super::*;

    const FILE: &str = "\
# comment
[other]
host=elsewhere

[mydb]
host=somehost
port = 5433
  user=admin
# a comment inside
dbname=app
[after]
host=ignored
";

    #[test]
    fn a_group_is_read_with_comments_blanks_and_spaces_around_the_equals_sign() {
        let got = parse_group(FILE, "mydb", Path::new("f")).unwrap().unwrap();
        let want: Vec<(String, String)> = [
            ("host", "somehost"),
            ("port", "5433"),
            ("user", "admin"),
            ("dbname", "app"),
        ]
        .iter()
        .map(|(k, v)| ((*k).to_string(), (*v).to_string()))
        .collect();
        assert_eq!(got, want);
    }

    #[test]
    fn a_missing_group_is_none_and_an_empty_group_is_found() {
        assert_eq!(parse_group(FILE, "nope", Path::new("f")).unwrap(), None);
        assert_eq!(
            parse_group("[empty]\n", "empty", Path::new("f")).unwrap(),
            Some(vec![])
        );
    }

    #[test]
    fn a_nested_service_and_a_line_without_equals_name_the_file_and_line() {
        let e = parse_group("[a]\nservice=b\n", "a", Path::new("/x/svc"))
            .unwrap_err()
            .to_string();
        assert!(e.contains("nested") && e.contains("/x/svc, line 2"), "{e}");
        let e = parse_group("[a]\nhost\n", "a", Path::new("/x/svc"))
            .unwrap_err()
            .to_string();
        assert!(e.contains("syntax error") && e.contains("line 2"), "{e}");
        // A syntax error in another group does not matter.
        assert!(parse_group("[b]\nhost\n[a]\nhost=h\n", "a", Path::new("f")).is_ok());
    }

    #[test]
    fn files_are_found_from_servicefile_pgservicefile_home_and_pgsysconfdir() {
        let env = |k: &str| match k {
            "HOME" => Some("/home/u".to_string()),
            "PGSYSCONFDIR" => Some("/etc/pg".to_string()),
            _ => None,
        };
        let f = ServiceFiles::locate(None, &env);
        assert_eq!(f.user, Some(PathBuf::from("/home/u/.pg_service.conf")));
        assert_eq!(f.system, PathBuf::from("/etc/pg/pg_service.conf"));
        let env2 = |k: &str| (k == "PGSERVICEFILE").then(|| "/s/file".to_string());
        let f = ServiceFiles::locate(None, &env2);
        assert_eq!(f.user, Some(PathBuf::from("/s/file")));
        assert_eq!(
            f.system,
            PathBuf::from("/etc/postgresql-common/pg_service.conf")
        );
        let f = ServiceFiles::locate(Some("/explicit"), &env2);
        assert_eq!(f.user, Some(PathBuf::from("/explicit")));
    }
}
