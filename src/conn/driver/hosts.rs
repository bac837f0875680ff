//! Multi-host connect: the walk over `host=a,b,c`, `target_session_attrs`,
//! `load_balance_hosts` and the `.pgpass` lookup for each host.
//!
//! ```text
//!  targets (shuffled when load_balance_hosts=random)
//!   │  for each pass (prefer-standby: standby, then any)
//!   ▼    for each target, within its own connect_timeout:
//!  connect_one ──error──► falls through? ──yes──► note why, next target
//!   │                         └──no──► return that error (the walk ends)
//!   ▼
//!  right kind of server? ──no, or the check failed──► close it, note why, next target
//!   │yes
//!   ▼
//!  the connection
//! ```
//!
//! A server whose kind cannot be checked (the `SHOW transaction_read_only` or
//! `pg_is_in_recovery()` query fails) is closed and the walk goes on, as in libpq.
//!
//! When every target failed, the error names each one and why; its kind is the last
//! failure's (so `is_timeout` or `is_io` still answer for a single host), and when the
//! last failure is a server error, the error is that one (its SQLSTATE and fields), with
//! the walk as a note in front.

use std::path::PathBuf;
use std::time::Duration;

use super::Connection;
use crate::conn::config::{Config, LoadBalanceHosts, Target, TargetSessionAttrs};
use crate::conn::pgpass;
use crate::error::Error;

/// The longest `.pgpass` read: far beyond any real one; a bigger file is skipped.
const MAX_PASSFILE: u64 = 1024 * 1024;

/// How long closing a server of the wrong kind may take before it is just dropped.
const CLOSE_GRACE: Duration = Duration::from_millis(500);

pub(super) async fn connect(config: &Config) -> Result<Connection, Error> {
    let mut targets = config.targets()?;
    if config.load_balance_hosts == LoadBalanceHosts::Random {
        shuffle(&mut targets)?;
    }
    let want = config.target_session_attrs;
    // prefer-standby: libpq makes a second pass accepting any server when no standby
    // was found (fe-connect.c, "prefer-standby ... try again, this time accepting any").
    let passes: &[TargetSessionAttrs] = match want {
        TargetSessionAttrs::PreferStandby => {
            &[TargetSessionAttrs::Standby, TargetSessionAttrs::Any]
        }
        _ => std::slice::from_ref(&want),
    };
    // libpq reads the password file when no password, or an empty one, was given
    // (fe-connect.c: `conn->pgpass == NULL || conn->pgpass[0] == '\0'`).
    let passfile = if no_password(&config.password) {
        read_passfile(config)
    } else {
        None
    };
    let single = targets.len() == 1 && passes.len() == 1;
    let mut failures: Vec<(String, Error)> = Vec::new();
    let mut unreachable = vec![false; targets.len()];
    for &pass in passes {
        for (i, t) in targets.iter().enumerate() {
            // A host that could not be reached in the first pass is not tried again in
            // the second: it would only cost another connect_timeout.
            if unreachable.get(i).copied().unwrap_or(false) {
                continue;
            }
            let mut cfg = config.for_target(t);
            if let Some(file) = passfile.as_deref().filter(|_| no_password(&cfg.password)) {
                if let Some(pw) = password_for(file, &cfg, t) {
                    cfg.password = Some(pw.into_bytes());
                }
            }
            let attempt = async {
                let mut conn = Connection::connect_one(&cfg).await?;
                match wrong_kind(&mut conn, pass).await {
                    Ok(None) => Ok(Ok(conn)),
                    Ok(Some(why)) => Ok(Err((
                        conn,
                        Error::new(crate::error::Kind::WrongServer, why),
                    ))),
                    // libpq (fe-connect.c, CONNECTION_CHECK_TARGET): when the query that
                    // tells the server's kind fails, the next host is tried.
                    Err(e) => Ok(Err((
                        conn,
                        e.with_note(format!(
                            "checking target_session_attrs={} failed",
                            pass.as_str()
                        )),
                    ))),
                }
            };
            let r = match cfg.connect_timeout {
                None => attempt.await,
                Some(d) => tokio::time::timeout(d, attempt)
                    .await
                    .unwrap_or_else(|_| Err(Error::timeout("connect timed out"))),
            };
            match r {
                Ok(Ok(conn)) => return Ok(conn),
                Ok(Err((conn, e))) => {
                    if !conn.is_broken() {
                        let _ = tokio::time::timeout(CLOSE_GRACE, conn.close()).await;
                    }
                    failures.push((t.to_string(), e));
                }
                Err(e) => {
                    if single || !falls_through(&e) {
                        return Err(e);
                    }
                    if let Some(u) = unreachable.get_mut(i) {
                        *u = true;
                    }
                    failures.push((t.to_string(), e));
                }
            }
        }
    }
    Err(all_failed(&failures, want))
}

/// Whether libpq would try the next host after this failure.
///
/// libpq (fe-connect.c, `PQconnectPoll`) moves on to the next address or host
/// (`try_next_addr` / `try_next_host`, the `CONNECTION_FAILED()` path) when the socket
/// cannot be connected, the attempt times out (`connect_timeout` applies to each host),
/// or SSL/GSS negotiation fails; but once the server has answered the startup packet,
/// an ErrorResponse ends the whole connection attempt (`goto error_return`), so "if a
/// connection is established successfully, but authentication fails, the remaining hosts
/// in the list are not tried" (libpq docs, "Specifying Multiple Hosts"). The one
/// exception, since PostgreSQL 14 (commit c1d589571, "Try next host after a 'cannot
/// connect now' failure"), is SQLSTATE 57P03 cannot_connect_now (a server starting up,
/// shutting down or in recovery without hot standby): the next host is tried.
///
/// pgline also moves on when the server closes the connection before startup ends (a
/// server going down mid-handshake is as unreachable as one that refuses).
fn falls_through(e: &Error) -> bool {
    if e.is_db() {
        return e.code() == Some("57P03");
    }
    e.is_io() || e.is_closed() || e.is_timeout() || e.is_tls()
}

/// Why this server is not what `want` asks for, or `None` when it is.
///
/// libpq's rule (fe-connect.c, `CONNECTION_CHECK_TARGET`): for `read-write`/`read-only`
/// the server is read-only when `default_transaction_read_only` or `in_hot_standby` is
/// on, asking `SHOW transaction_read_only` when either was not reported (before
/// PostgreSQL 14); for `primary`/`standby` it is a standby when `in_hot_standby` is on,
/// asking `SELECT pg_catalog.pg_is_in_recovery()` when it was not reported.
async fn wrong_kind(
    conn: &mut Connection,
    want: TargetSessionAttrs,
) -> Result<Option<String>, Error> {
    use TargetSessionAttrs as T;
    let why = |s: &str| Some(format!("{s} (target_session_attrs={})", want.as_str()));
    Ok(match want {
        T::ReadWrite | T::ReadOnly => {
            let reported = (
                on(conn, "default_transaction_read_only"),
                on(conn, "in_hot_standby"),
            );
            let read_only = match reported {
                (Some(d), Some(h)) => d || h,
                _ => scalar(conn, "SHOW transaction_read_only").await? == "on",
            };
            match (want, read_only) {
                (T::ReadWrite, true) => why("the server is read-only"),
                (T::ReadOnly, false) => why("the server is not read-only"),
                _ => None,
            }
        }
        T::Primary | T::Standby | T::PreferStandby => {
            let reported = on(conn, "in_hot_standby");
            let standby = match reported {
                Some(v) => v,
                None => scalar(conn, "SELECT pg_catalog.pg_is_in_recovery()").await? == "t",
            };
            match (want, standby) {
                (T::Primary, true) => why("the server is in hot standby mode"),
                (T::Standby | T::PreferStandby, false) => {
                    why("the server is not in hot standby mode")
                }
                _ => None,
            }
        }
        _ => None,
    })
}

/// A boolean ParameterStatus, when the server reported it.
fn on(conn: &Connection, name: &str) -> Option<bool> {
    conn.parameter(name).map(|v| v == "on")
}

/// The one value `sql` returns.
async fn scalar(conn: &mut Connection, sql: &str) -> Result<String, Error> {
    let results = conn.simple_query(sql).await?;
    results
        .iter()
        .flat_map(|r| r.rows.iter())
        .next()
        .and_then(|row| row.get(0).ok().flatten())
        .map(str::to_string)
        .ok_or_else(|| Error::protocol(format!("{sql:?} returned no value")))
}

/// The error after every host failed: each host and why, in the order tried.
fn all_failed(failures: &[(String, Error)], want: TargetSessionAttrs) -> Error {
    let Some(((last_host, last), earlier)) = failures.split_last() else {
        return Error::config("no host to connect to");
    };
    let mut msg = match want {
        TargetSessionAttrs::Any => format!("could not connect to any of {} hosts", failures.len()),
        w => format!(
            "no suitable server among {} attempts (target_session_attrs={})",
            failures.len(),
            w.as_str()
        ),
    };
    for (host, e) in earlier {
        msg.push_str(&format!("; {host}: {e}"));
    }
    if last.as_db_error().is_some() {
        // The server's own error (a 57P03, a failed kind check): kept whole, so that its
        // SQLSTATE (`code()`) and fields still answer, with the walk in front.
        msg.push_str(&format!("; {last_host}"));
        return last.clone().with_note(msg);
    }
    msg.push_str(&format!("; {last_host}: {last}"));
    Error::new(last.kind(), msg)
}

/// Whether no password was given: none, or an empty one (libpq then reads the password
/// file; fe-connect.c, `connectOptions2`).
fn no_password(password: &Option<Vec<u8>>) -> bool {
    password.as_deref().is_none_or(<[u8]>::is_empty)
}

/// Fisher–Yates with OS randomness (`load_balance_hosts=random`).
fn shuffle(targets: &mut [Target]) -> Result<(), Error> {
    let mut seed = [0u8; 8];
    getrandom::fill(&mut seed)
        .map_err(|e| Error::config(format!("no randomness for load_balance_hosts: {e}")))?;
    let mut x = u64::from_le_bytes(seed) | 1;
    for i in (1..targets.len()).rev() {
        // xorshift64: plenty for an order of a handful of hosts.
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        let j = usize::try_from(x % (i as u64 + 1)).unwrap_or(0);
        targets.swap(i, j);
    }
    Ok(())
}

/// The password file's contents: `passfile`, else `$PGPASSFILE` (already in `passfile`
/// when the config came from the environment), else `~/.pgpass` (libpq reads the
/// default file whatever the connection string says, and so does pgline, also for a
/// config from `str::parse`). `None` when there is
/// none, it cannot be read, or group or others may read it (libpq skips such a file with
/// "WARNING: password file has group or world access; permissions should be u=rw (0600)
/// or less").
fn read_passfile(config: &Config) -> Option<String> {
    let path = config.passfile.clone().or_else(|| {
        std::env::var_os("PGPASSFILE")
            .filter(|p| !p.is_empty())
            .map(PathBuf::from)
            .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".pgpass")))
    })?;
    let meta = std::fs::metadata(&path).ok()?;
    if !meta.is_file() {
        return None;
    }
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        if meta.permissions().mode() & 0o077 != 0 {
            log::warn!(
                "pgline: password file {} has group or world access; permissions should be \
                 u=rw (0600) or less; ignoring it",
                path.display()
            );
            return None;
        }
    }
    if meta.len() > MAX_PASSFILE {
        log::warn!(
            "pgline: password file {} is larger than {MAX_PASSFILE} bytes; ignoring it",
            path.display()
        );
        return None;
    }
    std::fs::read_to_string(&path).ok()
}

/// The `.pgpass` password for one target: matched on its host name (or its `hostaddr`
/// when no host name was given, as libpq does), port, database (the user name when no
/// database is set) and user.
fn password_for(file: &str, cfg: &Config, t: &Target) -> Option<String> {
    let user = cfg.get_user();
    let dbname = cfg.dbname.clone().unwrap_or_else(|| user.clone());
    pgpass::lookup(
        file,
        pgpass::Lookup {
            host: &t.host,
            port: t.port,
            dbname: &dbname,
            user: &user,
        },
    )
}
