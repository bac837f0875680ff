//! What each iris-pgwire release cannot do, as data: [`Capabilities::of`] looks a release
//! up in one table, and the API refuses what the table says does not work with an
//! [`Unsupported`](crate::Error::is_unsupported) error instead of reporting a success the
//! server did not deliver.
//!
//! # Which release is it?
//!
//! The server does not say. Every release sends the same startup parameters
//! (`server_version` = `16.0 (InterSystems IRIS)`, `server_version_num` = `160000`),
//! answers `SELECT version()` with `PostgreSQL 16.0 (InterSystems IRIS PGWire Protocol)`
//! and `SHOW server_version` with the startup value, and words protocol-level errors
//! (unknown statement at Describe or Bind) identically: checked on 1.0.1 and 1.7.3 side by
//! side. The release is therefore **declared** by the caller, with
//! [`Config::iris_pgwire_version`](crate::Config::iris_pgwire_version) or
//! `iris_pgwire_version=1.7.3` in the URL. Until it is, the release is unknown and pgline
//! assumes the least any published release does (the `unknown` row): an operation that
//! may silently do nothing is refused, with a message that says how to declare the
//! release.
//!
//! # The table
//!
//! | releases | ROLLBACK undoes the transaction | COPY FROM STDIN | COPY TO STDOUT | CancelRequest | `SHOW` answered |
//! |---|---|---|---|---|---|
//! | unknown (not declared) | assumed not | no | no | assumed to close the connection | assumed not |
//! | < 1.0 (git builds, "legacy") | no | no | no (sends column names) | closes the connection | no (forwarded to IRIS, which fails) |
//! | 1.0.0 – 1.2.28 | **no**: BEGIN/COMMIT/ROLLBACK never reach IRIS, every statement commits at once (run: 1.0.1, 1.1.0, 1.2.0, 1.2.16, 1.2.24; 1.2.25–1.2.28 not run (1.2.26 does not start), assumed like 1.2.24) | no (1.0.1: rows of NULLs without HEADER) | no (sends column names) | closes the connection (1.0.1) | yes |
//! | 1.2.29 – 1.2.x | yes (run: 1.2.29, 1.2.34) | no | no | assumed to close the connection | **no**: forwarded to IRIS (1.2.34: SQLSTATE 08000; assumed from 1.2.29) |
//! | 1.3.0 – 1.6.x | yes, inferred (1.2.34 and 1.7.3 both roll back; not run here: these releases need Python ≥ 3.12) | no | no | assumed to close the connection | not verified: assumed not |
//! | 1.7.x | yes (run: 1.7.3) | no (the DB-API backend fails with 08000; headerless rows map by table order, not the column list) | no (sends column names) | ignored: the query runs to its end | yes |
//!
//! Evidence: `iris-pgwire-quirks.md` §1.5, §6, §13, §14; the suites
//! `tests/it/iris/e2e.rs` and `releases.rs` (real 1.7.3 and 1.0.1), `v101.rs` (real
//! 1.0.1) and `fake.rs`; and, for 1.1.0, 1.2.0, 1.2.16, 1.2.24, 1.2.29 and 1.2.34, the published
//! wheels run under `tests/iris/serve.py` and probed with `tests/iris/wire_probe.py` (2026-12-06:
//! BEGIN, INSERT, ROLLBACK, then the row count).
//!
//! # What the API does with it
//!
//! | operation | where the table says no |
//! |---|---|
//! | [`Connection::begin`](crate::Connection::begin) | `Unsupported` before anything is sent; [`Connection::begin_without_rollback`](crate::Connection::begin_without_rollback) opts in |
//! | [`Transaction::rollback`](crate::conn::Transaction::rollback) of such an opted-in transaction | sends ROLLBACK (it ends the server's transaction block), then returns `Unsupported`: the statements stay committed |
//! | [`Connection::copy_in`](crate::Connection::copy_in) | `Unsupported` before anything is sent (`load` uses pipelined inserts) |
//! | [`Connection::copy_out`](crate::Connection::copy_out) | `Unsupported` before anything is sent |
//! | [`CancelToken::cancel_query`](crate::conn::CancelToken::cancel_query) | `Unsupported` without connecting: it would do nothing, or close the connection |

use std::fmt;
use std::str::FromStr;

/// An iris-pgwire release number, `major.minor.patch` (as on PyPI).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct IrisPgwireVersion {
    major: u16,
    minor: u16,
    patch: u16,
}

impl IrisPgwireVersion {
    /// `major.minor.patch`.
    pub const fn new(major: u16, minor: u16, patch: u16) -> Self {
        Self {
            major,
            minor,
            patch,
        }
    }

    /// The major number.
    pub fn major(&self) -> u16 {
        self.major
    }

    /// The minor number.
    pub fn minor(&self) -> u16 {
        self.minor
    }

    /// The patch number.
    pub fn patch(&self) -> u16 {
        self.patch
    }
}

impl fmt::Display for IrisPgwireVersion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{}.{}", self.major, self.minor, self.patch)
    }
}

/// A release number that is not `major.minor[.patch]` with decimal parts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParseVersionError(String);

impl fmt::Display for ParseVersionError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "invalid iris-pgwire version {:?}: expected major.minor.patch, e.g. 1.7.3",
            self.0
        )
    }
}

impl std::error::Error for ParseVersionError {}

impl FromStr for IrisPgwireVersion {
    type Err = ParseVersionError;

    /// `1.7.3`, `1.7` (patch 0); surrounding whitespace is ignored.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let err = || ParseVersionError(s.to_owned());
        let mut parts = s.trim().split('.');
        let mut num = |required: bool| -> Result<u16, ParseVersionError> {
            match parts.next() {
                Some(p) if !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()) => {
                    p.parse().map_err(|_| err())
                }
                None if !required => Ok(0),
                _ => Err(err()),
            }
        };
        let v = Self::new(num(true)?, num(true)?, num(false)?);
        if parts.next().is_some() {
            return Err(err());
        }
        Ok(v)
    }
}

/// What the server does with a CancelRequest.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum CancelEffect {
    /// The running query is cancelled (SQLSTATE 57014), as on PostgreSQL.
    Cancels,
    /// Nothing: the query runs to its end.
    Ignored,
    /// The target connection is closed, without an ErrorResponse.
    ClosesConnection,
}

/// What one iris-pgwire release can do, where pgline's API depends on it (see the
/// [module docs](self) for the table and its evidence).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct Capabilities {
    /// ROLLBACK undoes the statements of the transaction.
    pub rollback: bool,
    /// `COPY ... FROM STDIN` stores the data it is given.
    pub copy_in: bool,
    /// `COPY ... TO STDOUT` sends the rows.
    pub copy_out: bool,
    /// What a CancelRequest does.
    pub cancel: CancelEffect,
    /// `SHOW name` is answered (from the startup parameters) instead of failing in IRIS.
    pub show: bool,
}

const NONE: Capabilities = Capabilities {
    rollback: false,
    copy_in: false,
    copy_out: false,
    cancel: CancelEffect::ClosesConnection,
    show: false,
};

/// One row: releases from `from` up to (not including) `until`.
struct Row {
    from: IrisPgwireVersion,
    until: IrisPgwireVersion,
    caps: Capabilities,
}

/// The `until` of the last row, which takes every later release too.
const MAX_RELEASE: IrisPgwireVersion = IrisPgwireVersion::new(u16::MAX, u16::MAX, u16::MAX);

/// The table of the module docs, in release order.
fn table() -> [Row; 5] {
    let v = IrisPgwireVersion::new;
    [
        // Legacy git builds (before 1.0): transaction verbs never reach IRIS, SHOW and
        // DEALLOCATE are forwarded to IRIS.
        Row {
            from: v(0, 0, 0),
            until: v(1, 0, 0),
            caps: NONE,
        },
        // 1.0.1, 1.1.0, 1.2.0, 1.2.16, 1.2.24 run: ROLLBACK answers success, undoes nothing.
        Row {
            from: v(1, 0, 0),
            until: v(1, 2, 29),
            caps: Capabilities { show: true, ..NONE },
        },
        // 1.2.29 and 1.2.34 run: transactions reach IRIS; SHOW is forwarded to IRIS and
        // fails (1.2.34).
        Row {
            from: v(1, 2, 29),
            until: v(1, 3, 0),
            caps: Capabilities {
                rollback: true,
                ..NONE
            },
        },
        // 1.3 to 1.6: not run (they need Python >= 3.12); rollback inferred from 1.2.34
        // and 1.7.3, the rest assumed as little as any release does.
        Row {
            from: v(1, 3, 0),
            until: v(1, 7, 0),
            caps: Capabilities {
                rollback: true,
                ..NONE
            },
        },
        // 1.7.x (1.7.3 run by the suite): transactions reach IRIS; cancel is ignored.
        Row {
            from: v(1, 7, 0),
            until: MAX_RELEASE,
            caps: Capabilities {
                rollback: true,
                cancel: CancelEffect::Ignored,
                show: true,
                ..NONE
            },
        },
    ]
}

impl Capabilities {
    /// What `version` can do; `None` (the release was not declared) is the least any
    /// release does.
    pub fn of(version: Option<IrisPgwireVersion>) -> Self {
        let Some(v) = version else {
            return Self::unknown();
        };
        table()
            .into_iter()
            // The last row is open-ended: a release above every known one is 1.7-like.
            .rfind(|r| r.from <= v && (v < r.until || r.until == MAX_RELEASE))
            .map_or(NONE, |r| r.caps)
    }

    /// The least any published release does: what pgline assumes when the release is
    /// not declared.
    pub fn unknown() -> Self {
        NONE
    }

    /// PostgreSQL: everything works.
    pub fn postgres() -> Self {
        Self {
            rollback: true,
            copy_in: true,
            copy_out: true,
            cancel: CancelEffect::Cancels,
            show: true,
        }
    }
}

/// The words for "this release" in an `Unsupported` message.
pub(crate) fn release_words(version: Option<IrisPgwireVersion>) -> String {
    match version {
        Some(v) => format!("iris-pgwire {v}"),
        None => "iris-pgwire (release not declared: set Config::iris_pgwire_version or \
                 iris_pgwire_version=<x.y.z> in the URL)"
            .to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v(s: &str) -> Option<IrisPgwireVersion> {
        Some(s.parse().expect("version"))
    }

    #[test]
    fn versions_parse_with_an_optional_patch_and_order_numerically() {
        assert_eq!(v("1.7.3"), Some(IrisPgwireVersion::new(1, 7, 3)));
        assert_eq!(v(" 1.10 "), Some(IrisPgwireVersion::new(1, 10, 0)));
        assert!(IrisPgwireVersion::new(1, 10, 0) > IrisPgwireVersion::new(1, 9, 9));
        for bad in [
            "",
            "1",
            "1.",
            "1.x.3",
            "1.7.3.1",
            "-1.0.0",
            "1.7.99999",
            "1.7.3rc1",
        ] {
            assert!(bad.parse::<IrisPgwireVersion>().is_err(), "{bad:?}");
        }
        assert_eq!(IrisPgwireVersion::new(1, 0, 1).to_string(), "1.0.1");
    }

    #[test]
    fn releases_from_1_2_29_roll_back_and_earlier_ones_do_not() {
        assert!(!Capabilities::of(v("0.9.0")).rollback);
        assert!(!Capabilities::of(v("1.0.1")).rollback);
        assert!(!Capabilities::of(v("1.1.0")).rollback);
        assert!(Capabilities::of(v("1.2.34")).rollback);
        assert!(Capabilities::of(v("1.2.29")).rollback);
        assert!(!Capabilities::of(v("1.2.28")).rollback);
        assert!(Capabilities::of(v("1.5.9")).rollback);
        assert!(Capabilities::of(v("1.7.0")).rollback);
        assert!(Capabilities::of(v("1.7.3")).rollback);
        assert!(Capabilities::of(v("2.0.0")).rollback);
        assert!(
            Capabilities::of(Some(MAX_RELEASE)).rollback,
            "the last row takes every later release"
        );
        assert!(
            !Capabilities::of(None).rollback,
            "unknown assumes the least"
        );
    }

    #[test]
    fn copy_never_works_and_cancel_closes_or_is_ignored() {
        for s in ["0.1.0", "1.0.1", "1.3.0", "1.7.3"] {
            let c = Capabilities::of(v(s));
            assert!(!c.copy_in && !c.copy_out, "{s}");
        }
        assert_eq!(
            Capabilities::of(v("1.0.1")).cancel,
            CancelEffect::ClosesConnection
        );
        assert_eq!(Capabilities::of(v("1.7.3")).cancel, CancelEffect::Ignored);
        assert_eq!(
            Capabilities::of(None).cancel,
            CancelEffect::ClosesConnection
        );
    }

    #[test]
    fn show_is_answered_by_1_0_to_1_2_28_and_by_1_7_but_not_by_1_2_34() {
        assert!(Capabilities::of(v("1.0.1")).show);
        assert!(Capabilities::of(v("1.2.0")).show);
        assert!(Capabilities::of(v("1.7.3")).show);
        assert!(!Capabilities::of(v("1.2.34")).show);
        assert!(!Capabilities::of(None).show);
    }
}
