//! [`Config`]: where and how to connect, from a builder, a `postgres://` URL or a libpq
//! `key=value` string, with `PG*` environment variables as defaults.
//!
//! Recognised keys (URL query parameters or `key=value` pairs): `host`, `hostaddr`, `port`
//! (each a comma-separated list for several servers; see [`Config::host`]), `user`,
//! `password`, `passfile`, `dbname`, `application_name`, `target_session_attrs`,
//! `load_balance_hosts`,
//! `connect_timeout` (seconds), `keepalives`, `keepalives_idle`, `keepalives_interval`,
//! `keepalives_count`, `tcp_user_timeout` (see [`Keepalives`]), `options`, the TLS keys (`sslmode`, `sslnegotiation`,
//! `sslrootcert`, `sslcert`, `sslkey`, `sslpassword`, `sslcrl`, `sslcrldir`, `sslsni`,
//! `sslcertmode`, `ssl_min_protocol_version`, `ssl_max_protocol_version`, `sslkeylogfile`,
//! `channel_binding`, `gssencmode`: see [`super::tls`] for what each does), `require_auth` (comma list of `password`, `md5`, `scram-sha-256`, `none`),
//! `query_timeout` (seconds, pgline's own; default [`DEFAULT_QUERY_TIMEOUT`], `0` = none), `statement_cache_capacity` (pgline's own),
//! `profile` (`auto`, `postgres`, `iris`), `iris_pgwire_version` (e.g. `1.7.3`: see
//! [`Config::iris_pgwire_version`]), `min_protocol_version` and
//! `max_protocol_version` (`3.0`, `3.2`, `latest`; see [`super::protocol_version`]),
//! `protocol_version` (pgline's older name for `max_protocol_version`). Unknown keys are
//! an error, as in libpq: a typo must not be silently ignored. Also `service` and
//! `servicefile` (a group of the connection service file: see [`super::service`] for the
//! files and the precedence), `fallback_application_name` (sent as `application_name`
//! only when that is set nowhere, `PGAPPNAME` included), and `options` (split as the
//! server does: see [`super::options`]).
//!
//! Environment variables used by [`Config::from_env`] and [`Config::parse`]: `PGHOST`,
//! `PGHOSTADDR`, `PGPORT`, `PGPASSFILE`, `PGTARGETSESSIONATTRS`, `PGLOADBALANCEHOSTS`, `PGUSER`, `PGPASSWORD`, `PGDATABASE`, `PGAPPNAME`, `PGCONNECT_TIMEOUT`,
//! `PGOPTIONS`, `PGSSLMODE`, `PGSSLNEGOTIATION`, `PGSSLROOTCERT`, `PGSSLCERT`, `PGSSLKEY`,
//! `PGSSLCRL`, `PGSSLCRLDIR`, `PGSSLSNI`, `PGSSLCERTMODE`, `PGSSLMINPROTOCOLVERSION`,
//! `PGSSLMAXPROTOCOLVERSION`, `PGCHANNELBINDING`, `PGGSSENCMODE`, `PGREQUIREAUTH`,
//! `PGMINPROTOCOLVERSION`, `PGMAXPROTOCOLVERSION`.
//!
//! # Behind PgBouncer: `statement_cache_capacity=0` is pooler-safe mode
//!
//! `statement_cache_capacity` (default 100) is how many named prepared statements a
//! connection keeps in its LRU cache. **`0` selects pooler-safe mode**, for PgBouncer in
//! transaction pooling (`pool_mode = transaction`) and poolers like it, which hand each
//! transaction (and each statement outside one) a server connection that other clients
//! use too:
//!
//! - only the unnamed statement is used: nothing is named on the server, so nothing can
//!   vanish (26000) or collide with another client's statement (42P05);
//! - every Parse goes in the same flight as its Bind/Execute, before one Sync: a
//!   [`Statement`](crate::Statement) from `prepare()` keeps its Describe information (the
//!   parameter types and the columns, so result formats stay binary) and is parsed again
//!   as the unnamed statement each time it runs;
//! - `execute_many` parses the unnamed statement again at the start of every
//!   Sync-delimited window, because each window may land on another server connection;
//!   COPY, the pipeline API (each Sync window re-parses the statements it runs),
//!   `insert_unnest` and `pgline load` work the same way;
//! - no statement cache, and no session state is assumed.
//!
//! What does **not** work through a transaction-mode pooler, in any client: session state
//! set outside a transaction (`SET`, `LISTEN`, advisory locks held across transactions,
//! temporary tables, SQL-level `PREPARE`, cursors `WITH HOLD`) applies to whichever server
//! connection ran it and is lost or leaks to another client; keep such work inside one
//! [`Transaction`](crate::Transaction) (`SET LOCAL`, `pg_advisory_xact_lock`, `ON COMMIT
//! DROP`). The default mode (named statements, cached) works through a pooler in session
//! mode. Used through a transaction-mode pooler by mistake, its 26000/42P05 errors carry a
//! hint to set `statement_cache_capacity=0`.

use std::fmt;
use std::str::FromStr;
use std::time::Duration;

pub use super::protocol_version::{ProtocolRange, ProtocolVersion};
pub use super::tls::{
    ChannelBindingMode, RootCert, SslCertMode, SslMode, SslNegotiation, TlsSettings, TlsVersion,
};
use crate::error::Error;
use crate::protocol::Limits;

/// Which authentication exchanges the client accepts (libpq's `require_auth`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AuthPolicy {
    /// Cleartext password (`password`). Off by default: without TLS it sends the password
    /// in the clear to whoever answers.
    pub cleartext: bool,
    /// MD5 (`md5`).
    pub md5: bool,
    /// SCRAM-SHA-256 (`scram-sha-256`).
    pub scram: bool,
    /// No password exchange at all (`none`: trust, or AuthenticationOk at once).
    pub none: bool,
}

impl Default for AuthPolicy {
    fn default() -> Self {
        Self {
            cleartext: false,
            md5: true,
            scram: true,
            none: true,
        }
    }
}

impl AuthPolicy {
    /// Every method allowed, including cleartext.
    pub fn any() -> Self {
        Self {
            cleartext: true,
            md5: true,
            scram: true,
            none: true,
        }
    }

    fn parse(s: &str) -> Result<Self, Error> {
        let mut p = Self {
            cleartext: false,
            md5: false,
            scram: false,
            none: false,
        };
        for m in s.split(',').map(str::trim).filter(|m| !m.is_empty()) {
            match m {
                "password" => p.cleartext = true,
                "md5" => p.md5 = true,
                "scram-sha-256" => p.scram = true,
                "none" => p.none = true,
                other => {
                    return Err(Error::config(format!(
                        "require_auth: unknown method {other:?}"
                    )))
                }
            }
        }
        Ok(p)
    }
}

/// The operation deadline when none is configured: 5 minutes.
///
/// libpq has none, and a server that stalls (or a peer that stops answering while its
/// kernel still acknowledges keepalives) then hangs a call forever. pgline promises that
/// nothing waits forever by default, so it needs one; Npgsql's is 30 s. Five minutes is
/// far beyond what an interactive or OLTP statement should take and shorter than anyone
/// waits on a hung service. Hitting it on a legitimately long statement costs a clear
/// timeout error (the statement is cancelled, the connection kept), never a hang or a
/// broken pool; analytic jobs raise it or set `query_timeout=0`.
pub const DEFAULT_QUERY_TIMEOUT: Duration = Duration::from_secs(300);

/// TCP keepalives and the user timeout: how long a dead peer or a silent network can go
/// unnoticed on an idle or blocked TCP connection (ignored for Unix-domain sockets).
///
/// libpq's parameters: `keepalives` (`1` on, `0` off), `keepalives_idle`,
/// `keepalives_interval` (seconds), `keepalives_count`, `tcp_user_timeout` (milliseconds).
/// libpq leaves idle/interval/count to the system (on Linux: 2 hours idle, then 9 probes
/// 75 s apart, over 2 hours before a dead server is noticed); pgline's defaults notice it
/// after about two minutes: probes after 60 s idle, every 15 s, 4 unanswered probes.
/// A value of `0` means the system default, as in libpq.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Keepalives {
    /// `keepalives`: whether to send them at all.
    pub enabled: bool,
    /// `keepalives_idle`: idle time before the first probe; `None` = system default.
    pub idle: Option<Duration>,
    /// `keepalives_interval`: time between unanswered probes; `None` = system default.
    pub interval: Option<Duration>,
    /// `keepalives_count`: unanswered probes before the connection is dropped; `None` =
    /// system default.
    pub count: Option<u32>,
    /// `tcp_user_timeout`: how long written data may stay unacknowledged before the
    /// connection is dropped (Linux); `None` = system default.
    pub user_timeout: Option<Duration>,
}

impl Default for Keepalives {
    fn default() -> Self {
        Self {
            enabled: true,
            idle: Some(Duration::from_secs(60)),
            interval: Some(Duration::from_secs(15)),
            count: Some(4),
            user_timeout: None,
        }
    }
}

/// Which kind of server a connection must land on (libpq's `target_session_attrs`).
///
/// With several hosts, each is tried in turn (see [`Config::host`]) and a server of the
/// wrong kind is closed and skipped. Decided from the `in_hot_standby` and
/// `default_transaction_read_only` ParameterStatus that PostgreSQL 14 and later report,
/// and, where the server does not report them, from `SHOW transaction_read_only` or
/// `SELECT pg_is_in_recovery()` (as libpq does).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum TargetSessionAttrs {
    /// `any`: the first server that accepts the connection.
    #[default]
    Any,
    /// `read-write`: a server that accepts writes by default (not a standby, and
    /// `default_transaction_read_only` off).
    ReadWrite,
    /// `read-only`: the opposite of `read-write`.
    ReadOnly,
    /// `primary`: a server that is not in hot standby.
    Primary,
    /// `standby`: a server in hot standby.
    Standby,
    /// `prefer-standby`: a standby if any host is one, otherwise any server (a second
    /// pass over the hosts).
    PreferStandby,
}

impl TargetSessionAttrs {
    fn parse(s: &str) -> Result<Self, Error> {
        Ok(match s {
            "any" => Self::Any,
            "read-write" => Self::ReadWrite,
            "read-only" => Self::ReadOnly,
            "primary" => Self::Primary,
            "standby" => Self::Standby,
            "prefer-standby" => Self::PreferStandby,
            other => {
                return Err(Error::config(format!(
                    "invalid target_session_attrs {other:?} (any, read-write, read-only, \
                     primary, standby, prefer-standby)"
                )))
            }
        })
    }

    /// libpq's name for it.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Any => "any",
            Self::ReadWrite => "read-write",
            Self::ReadOnly => "read-only",
            Self::Primary => "primary",
            Self::Standby => "standby",
            Self::PreferStandby => "prefer-standby",
        }
    }
}

/// In which order the hosts are tried (libpq's `load_balance_hosts`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum LoadBalanceHosts {
    /// `disable`: in the order given.
    #[default]
    Disable,
    /// `random`: shuffled anew for every connection attempt, which spreads the
    /// connections of many clients (or of one pool) over the hosts.
    Random,
}

/// One server of a (possibly multi-host) config: the name it goes by (TLS server name,
/// `.pgpass` host), the address to connect to when `hostaddr` gives one, and the port.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Target {
    pub(crate) host: String,
    pub(crate) hostaddr: Option<String>,
    pub(crate) port: u16,
}

impl fmt::Display for Target {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.host.starts_with('/') {
            write!(
                f,
                "{}/.s.PGSQL.{}",
                self.host.trim_end_matches('/'),
                self.port
            )
        } else if let Some(addr) = self.hostaddr.as_deref().filter(|a| *a != self.host) {
            write!(f, "{} ({addr}):{}", self.host, self.port)
        } else if self.host.contains(':') {
            write!(f, "[{}]:{}", self.host, self.port)
        } else {
            write!(f, "{}:{}", self.host, self.port)
        }
    }
}

/// libpq's default port, used for an empty entry of a port list.
const DEFAULT_PORT: u16 = 5432;

/// Which server dialect to speak. See [`crate::iris`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum ProfileChoice {
    /// Detect from the server's ParameterStatus at startup.
    #[default]
    Auto,
    /// Plain PostgreSQL: strict protocol checks.
    Postgres,
    /// InterSystems IRIS through iris-pgwire.
    Iris,
}

/// Connection settings.
///
/// # Examples
///
/// From a `postgres://` URL or libpq's `key=value` form (`str::parse` reads no
/// environment; [`Config::parse`] starts from the `PG*` variables), or with the builder:
///
/// ```
/// use std::time::Duration;
/// use pgline::Config;
///
/// let url: Config = "postgres://app:secret@db.internal:6432/app?sslmode=disable".parse()?;
/// assert_eq!((url.get_host(), url.get_port()), ("db.internal", 6432));
/// assert_eq!(url.get_dbname(), Some("app"));
///
/// let kv: Config = "host=db.internal port=6432 user=app dbname=app connect_timeout=5".parse()?;
/// assert_eq!(kv.get_connect_timeout(), Some(Duration::from_secs(5)));
///
/// let mut built = Config::new();
/// built
///     .host("db.internal")
///     .port(6432)
///     .user("app")
///     .password("secret")
///     .dbname("app")
///     .application_name("api")
///     .query_timeout(Some(Duration::from_secs(30)));
/// assert_eq!(built.get_user(), "app");
/// # Ok::<(), pgline::Error>(())
/// ```
#[derive(Clone, PartialEq, Eq)]
pub struct Config {
    /// One host, or a comma-separated list of them.
    pub(crate) host: String,
    /// Whether `host` was set (rather than left at its default).
    pub(crate) host_set: bool,
    /// `hostaddr`: one address or a comma-separated list, matched to `host` by position.
    pub(crate) hostaddr: Option<String>,
    /// The port of the first host (of every host unless `ports` has several).
    pub(crate) port: u16,
    /// One port per host, when `port` was given as a list of more than one.
    pub(crate) ports: Vec<u16>,
    pub(crate) user: Option<String>,
    pub(crate) password: Option<Vec<u8>>,
    pub(crate) passfile: Option<std::path::PathBuf>,
    pub(crate) target_session_attrs: TargetSessionAttrs,
    pub(crate) load_balance_hosts: LoadBalanceHosts,
    pub(crate) dbname: Option<String>,
    pub(crate) application_name: Option<String>,
    pub(crate) options: Option<String>,
    pub(crate) params: Vec<(String, String)>,
    pub(crate) connect_timeout: Option<Duration>,
    pub(crate) keepalives: Keepalives,
    pub(crate) query_timeout: Option<Duration>,
    pub(crate) tls: TlsSettings,
    pub(crate) auth: AuthPolicy,
    pub(crate) limits: Limits,
    pub(crate) statement_cache_capacity: usize,
    pub(crate) profile: ProfileChoice,
    pub(crate) notification_capacity: usize,
    pub(crate) insecure_skip_scram_server_signature: bool,
    pub(crate) prefer_text: bool,
    /// `min_protocol_version` / `max_protocol_version`.
    pub(crate) protocol: ProtocolRange,
    /// `fallback_application_name`.
    pub(crate) fallback_application_name: Option<String>,
    /// `service`: the service file group this config was built with.
    pub(crate) service: Option<String>,
    /// `servicefile`: the per-user service file.
    pub(crate) servicefile: Option<String>,
    pub(crate) iris_pgwire_version: Option<crate::iris::IrisPgwireVersion>,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            host: "localhost".into(),
            host_set: false,
            hostaddr: None,
            port: DEFAULT_PORT,
            ports: Vec::new(),
            user: None,
            password: None,
            passfile: None,
            target_session_attrs: TargetSessionAttrs::Any,
            load_balance_hosts: LoadBalanceHosts::Disable,
            dbname: None,
            application_name: None,
            options: None,
            params: Vec::new(),
            connect_timeout: Some(Duration::from_secs(30)),
            keepalives: Keepalives::default(),
            query_timeout: Some(DEFAULT_QUERY_TIMEOUT),
            tls: TlsSettings::default(),
            auth: AuthPolicy::default(),
            limits: Limits::default(),
            statement_cache_capacity: 100,
            profile: ProfileChoice::default(),
            notification_capacity: 1024,
            insecure_skip_scram_server_signature: false,
            prefer_text: false,
            protocol: ProtocolRange::default(),
            fallback_application_name: None,
            service: None,
            servicefile: None,
            iris_pgwire_version: None,
        }
    }
}

impl fmt::Debug for Config {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Never print the password.
        f.debug_struct("Config")
            .field("host", &self.host)
            .field("hostaddr", &self.hostaddr)
            .field("port", &self.port)
            .field("ports", &self.ports)
            .field("user", &self.user)
            .field("password", &self.password.as_ref().map(|_| "<redacted>"))
            .field("passfile", &self.passfile)
            .field("target_session_attrs", &self.target_session_attrs)
            .field("load_balance_hosts", &self.load_balance_hosts)
            .field("dbname", &self.dbname)
            .field("application_name", &self.application_name)
            .field("options", &self.options)
            .field("params", &self.params)
            .field("connect_timeout", &self.connect_timeout)
            .field("keepalives", &self.keepalives)
            .field("query_timeout", &self.query_timeout)
            .field("tls", &self.tls)
            .field("auth", &self.auth)
            .field("limits", &self.limits)
            .field("statement_cache_capacity", &self.statement_cache_capacity)
            .field("profile", &self.profile)
            .field("protocol", &self.protocol)
            .field("fallback_application_name", &self.fallback_application_name)
            .field("service", &self.service)
            .field("iris_pgwire_version", &self.iris_pgwire_version)
            .finish_non_exhaustive()
    }
}

impl Config {
    /// Defaults only: `localhost:5432`, user from `$USER`, no environment variables read.
    pub fn new() -> Self {
        Self::default()
    }

    /// Defaults overridden by the `PG*` environment variables.
    pub fn from_env() -> Result<Self, Error> {
        Self::from_env_with(|k| std::env::var(k).ok())
    }

    /// As [`from_env`](Self::from_env), reading variables through `get` (for tests).
    /// `PGSERVICE` picks a service file group, which overrides the other variables.
    pub fn from_env_with(get: impl Fn(&str) -> Option<String>) -> Result<Self, Error> {
        Self::parse_with("", get)
    }

    /// As [`parse`](Self::parse), reading variables through `get` (for tests; `HOME`
    /// too, for `~/.pg_service.conf`).
    ///
    /// Precedence, lowest first, as libpq's: defaults, `PG*` variables, the `service`
    /// group (from `s`, else `PGSERVICE`), then `s` itself.
    pub fn parse_with(s: &str, get: impl Fn(&str) -> Option<String>) -> Result<Self, Error> {
        let mut explicit = Self::default();
        explicit.apply_str(s)?;
        let mut c = Self::env_defaults(&get)?;
        let service = explicit.service.clone().or_else(|| get("PGSERVICE"));
        if let Some(name) = service {
            c.apply_service(&name, explicit.servicefile.as_deref(), &get)?;
        }
        c.apply_str(s)?;
        Ok(c)
    }

    /// Sets the parameters of service file group `name` on top of this config.
    fn apply_service(
        &mut self,
        name: &str,
        servicefile: Option<&str>,
        get: &dyn Fn(&str) -> Option<String>,
    ) -> Result<(), Error> {
        let files = super::service::ServiceFiles::locate(servicefile, get);
        for (k, v) in files.lookup(name)? {
            if k == "servicefile" {
                return Err(Error::config(format!(
                    "service {name:?}: servicefile cannot be set inside a service file"
                )));
            }
            self.set(&k, &v)
                .map_err(|e| Error::config(format!("service {name:?}: {e}")))?;
        }
        self.service = Some(name.to_string());
        Ok(())
    }

    /// The `PG*` variables alone (no service file).
    fn env_defaults(get: &dyn Fn(&str) -> Option<String>) -> Result<Self, Error> {
        let mut c = Self::default();
        for (var, key) in [
            ("PGHOST", "host"),
            ("PGHOSTADDR", "hostaddr"),
            ("PGPORT", "port"),
            ("PGUSER", "user"),
            ("PGPASSWORD", "password"),
            ("PGPASSFILE", "passfile"),
            ("PGTARGETSESSIONATTRS", "target_session_attrs"),
            ("PGLOADBALANCEHOSTS", "load_balance_hosts"),
            ("PGDATABASE", "dbname"),
            ("PGAPPNAME", "application_name"),
            ("PGCONNECT_TIMEOUT", "connect_timeout"),
            ("PGOPTIONS", "options"),
            ("PGSSLMODE", "sslmode"),
            ("PGSSLNEGOTIATION", "sslnegotiation"),
            ("PGSSLROOTCERT", "sslrootcert"),
            ("PGSSLCERT", "sslcert"),
            ("PGSSLKEY", "sslkey"),
            ("PGSSLCRL", "sslcrl"),
            ("PGSSLCRLDIR", "sslcrldir"),
            ("PGSSLSNI", "sslsni"),
            ("PGSSLCERTMODE", "sslcertmode"),
            ("PGSSLMINPROTOCOLVERSION", "ssl_min_protocol_version"),
            ("PGSSLMAXPROTOCOLVERSION", "ssl_max_protocol_version"),
            ("PGCHANNELBINDING", "channel_binding"),
            ("PGGSSENCMODE", "gssencmode"),
            ("PGREQUIREAUTH", "require_auth"),
            ("PGMINPROTOCOLVERSION", "min_protocol_version"),
            ("PGMAXPROTOCOLVERSION", "max_protocol_version"),
        ] {
            if let Some(v) = get(var) {
                c.set(key, &v)
                    .map_err(|e| Error::config(format!("{var}: {e}")))?;
            }
        }
        Ok(c)
    }

    /// Parses a `postgres://` URL or a `key=value` string on top of the `PG*` environment
    /// defaults and the service file group named by `service` or `PGSERVICE` (see
    /// [`parse_with`](Self::parse_with) for the precedence). Use `str::parse` for a parse
    /// that ignores the environment.
    pub fn parse(s: &str) -> Result<Self, Error> {
        Self::parse_with(s, |k| std::env::var(k).ok())
    }

    /// Applies a URL or `key=value` string on top of this config.
    pub fn apply_str(&mut self, s: &str) -> Result<(), Error> {
        let s = s.trim();
        if let Some(rest) = s
            .strip_prefix("postgres://")
            .or_else(|| s.strip_prefix("postgresql://"))
        {
            self.apply_url(rest)
        } else {
            for (k, v) in parse_key_values(s)? {
                self.set(&k, &v)?;
            }
            Ok(())
        }
    }

    fn apply_url(&mut self, rest: &str) -> Result<(), Error> {
        let (before_query, query) = match rest.split_once('?') {
            Some((a, b)) => (a, Some(b)),
            None => (rest, None),
        };
        let (authority, path) = match before_query.split_once('/') {
            Some((a, p)) => (a, Some(p)),
            None => (before_query, None),
        };
        let (userinfo, hostport) = match authority.rsplit_once('@') {
            Some((u, h)) => (Some(u), h),
            None => (None, authority),
        };
        if let Some(userinfo) = userinfo {
            let (user, password) = match userinfo.split_once(':') {
                Some((u, p)) => (u, Some(p)),
                None => (userinfo, None),
            };
            if !user.is_empty() {
                self.user = Some(percent_decode(user)?);
            }
            if let Some(p) = password {
                self.password = Some(percent_decode(p)?.into_bytes());
            }
        }
        if !hostport.is_empty() {
            // `h1:p1,h2:p2`: libpq turns it into `host=h1,h2 port=p1,p2`, an entry
            // without a port leaving its place in the port list empty (the default port).
            let mut hosts = Vec::new();
            let mut ports = Vec::new();
            for hp in hostport.split(',') {
                let (host, port) = if let Some(v6) = hp.strip_prefix('[') {
                    let (h, after) = v6
                        .split_once(']')
                        .ok_or_else(|| Error::config("URL: unterminated [ in host"))?;
                    (h.to_string(), after.strip_prefix(':'))
                } else {
                    match hp.rsplit_once(':') {
                        Some((h, p)) => (percent_decode(h)?, Some(p)),
                        None => (percent_decode(hp)?, None),
                    }
                };
                hosts.push(host);
                ports.push(port.unwrap_or(""));
            }
            if hosts.iter().any(|h| !h.is_empty()) {
                self.set("host", &hosts.join(","))?;
            }
            if ports.iter().any(|p| !p.is_empty()) {
                self.set("port", &ports.join(","))?;
            }
        }
        if let Some(db) = path.filter(|p| !p.is_empty()) {
            self.dbname = Some(percent_decode(db)?);
        }
        if let Some(q) = query {
            for pair in q.split('&').filter(|p| !p.is_empty()) {
                let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
                self.set(&percent_decode(k)?, &percent_decode(v)?)?;
            }
        }
        Ok(())
    }

    /// Sets one libpq-style key.
    pub fn set(&mut self, key: &str, value: &str) -> Result<&mut Self, Error> {
        match key {
            "host" => {
                self.host = value.to_string();
                self.host_set = true;
            }
            "hostaddr" => self.hostaddr = Some(value.to_string()).filter(|v| !v.is_empty()),
            "port" => {
                let ports = value
                    .split(',')
                    .map(|p| match p.trim() {
                        "" => Ok(DEFAULT_PORT),
                        p => p.parse::<u16>().ok().filter(|&n| n > 0).ok_or_else(|| {
                            Error::config(format!("invalid port {p:?} in {value:?}"))
                        }),
                    })
                    .collect::<Result<Vec<u16>, Error>>()?;
                self.port = ports.first().copied().unwrap_or(DEFAULT_PORT);
                self.ports = if ports.len() > 1 { ports } else { Vec::new() };
            }
            "passfile" => {
                self.passfile =
                    Some(value.into()).filter(|p: &std::path::PathBuf| !p.as_os_str().is_empty())
            }
            "target_session_attrs" => self.target_session_attrs = TargetSessionAttrs::parse(value)?,
            "load_balance_hosts" => {
                self.load_balance_hosts = match value {
                    "disable" => LoadBalanceHosts::Disable,
                    "random" => LoadBalanceHosts::Random,
                    other => {
                        return Err(Error::config(format!(
                            "invalid load_balance_hosts {other:?} (disable, random)"
                        )))
                    }
                }
            }
            "user" => self.user = Some(value.to_string()),
            "password" => self.password = Some(value.as_bytes().to_vec()),
            "dbname" => self.dbname = Some(value.to_string()),
            "application_name" => self.application_name = Some(value.to_string()),
            "options" => {
                // Refuse a malformed `-c` now, not at connect time.
                super::options::options_to_params(value)?;
                self.options = Some(value.to_string())
            }
            "fallback_application_name" | "service" | "servicefile" => {
                self.set_libpq_extra(key, value)
            }
            "connect_timeout" => self.connect_timeout = parse_seconds(key, value)?,
            "keepalives" => {
                self.keepalives.enabled = match value.trim() {
                    "1" => true,
                    "0" => false,
                    _ => {
                        return Err(Error::config(format!(
                            "invalid keepalives {value:?} (0, 1)"
                        )))
                    }
                }
            }
            "keepalives_idle" => self.keepalives.idle = parse_seconds(key, value)?,
            "keepalives_interval" => self.keepalives.interval = parse_seconds(key, value)?,
            "keepalives_count" => {
                let n: u32 = value
                    .trim()
                    .parse()
                    .map_err(|_| Error::config(format!("invalid keepalives_count {value:?}")))?;
                self.keepalives.count = (n > 0).then_some(n);
            }
            "tcp_user_timeout" => {
                let ms: u64 = value.trim().parse().map_err(|_| {
                    Error::config(format!("invalid tcp_user_timeout {value:?} (milliseconds)"))
                })?;
                if ms > 365 * 24 * 3600 * 1000 {
                    return Err(Error::config(format!(
                        "tcp_user_timeout {value:?} is out of range (at most a year)"
                    )));
                }
                self.keepalives.user_timeout = (ms > 0).then(|| Duration::from_millis(ms));
            }
            "query_timeout" => self.query_timeout = parse_seconds(key, value)?,
            "require_auth" => self.auth = AuthPolicy::parse(value)?,
            "statement_cache_capacity" => {
                self.statement_cache_capacity = value.parse().map_err(|_| {
                    Error::config(format!("invalid statement_cache_capacity {value:?}"))
                })?
            }
            "profile" => {
                self.profile = match value {
                    "auto" => ProfileChoice::Auto,
                    "postgres" => ProfileChoice::Postgres,
                    "iris" => ProfileChoice::Iris,
                    _ => return Err(Error::config(format!("invalid profile {value:?}"))),
                }
            }
            "min_protocol_version" | "max_protocol_version" | "protocol_version" => {
                self.set_protocol_version(key, value)?
            }
            "iris_pgwire_version" => {
                self.iris_pgwire_version =
                    Some(value.parse().map_err(|e: crate::iris::ParseVersionError| {
                        Error::config(e.to_string())
                    })?)
            }
            other => {
                if !self.tls.set(other, value)? {
                    return Err(Error::config(format!(
                        "unknown connection parameter {other:?}"
                    )));
                }
            }
        }
        Ok(self)
    }

    /// Host name, IP address, or (starting with `/`) a Unix-socket directory; or a
    /// comma-separated list of them (libpq's multi-host form).
    ///
    /// With several hosts, each is tried in order (or shuffled, with
    /// [`load_balance_hosts`](Self::load_balance_hosts)) until one accepts the connection
    /// and is of the kind [`target_session_attrs`](Self::target_session_attrs) asks for.
    /// Each attempt has its own `connect_timeout`. As in libpq, a host that cannot be
    /// reached (refused, unreachable, timed out, TLS failure, closed before startup ended,
    /// or `57P03` cannot_connect_now) is skipped, but an error the server reports once
    /// the exchange has begun (a failed password, `pg_hba.conf` rejection, unknown
    /// database, ...) ends the walk. When every host fails, the error names each one
    /// and why. Over a Unix-domain socket (`/dir`, the file `.s.PGSQL.<port>` in it),
    /// TLS is never attempted.
    pub fn host(&mut self, host: impl Into<String>) -> &mut Self {
        self.host = host.into();
        self.host_set = true;
        self
    }

    /// `hostaddr`: numeric addresses to connect to, one per host (or in place of
    /// `host`), so no name lookup happens while `host` stays the name for TLS and
    /// `.pgpass`.
    pub fn hostaddr(&mut self, addr: impl Into<String>) -> &mut Self {
        self.hostaddr = Some(addr.into());
        self
    }

    /// TCP port (also the Unix-socket file suffix), for every host.
    pub fn port(&mut self, port: u16) -> &mut Self {
        self.port = port;
        self.ports.clear();
        self
    }

    /// One port per host (the list must be as long as the host list).
    pub fn ports(&mut self, ports: &[u16]) -> &mut Self {
        self.port = ports.first().copied().unwrap_or(DEFAULT_PORT);
        self.ports = if ports.len() > 1 {
            ports.to_vec()
        } else {
            Vec::new()
        };
        self
    }

    /// `passfile`: the password file read when no password is given (default
    /// `$PGPASSFILE`, else `~/.pgpass`). Looked up for each host as it is tried; skipped
    /// with a warning when group or others can read it, as libpq does.
    pub fn passfile(&mut self, path: impl Into<std::path::PathBuf>) -> &mut Self {
        self.passfile = Some(path.into());
        self
    }

    /// `target_session_attrs`: which kind of server to land on.
    pub fn target_session_attrs(&mut self, attrs: TargetSessionAttrs) -> &mut Self {
        self.target_session_attrs = attrs;
        self
    }

    /// `load_balance_hosts`: in which order to try the hosts.
    pub fn load_balance_hosts(&mut self, lb: LoadBalanceHosts) -> &mut Self {
        self.load_balance_hosts = lb;
        self
    }

    /// The servers to try, in the order given, with libpq's pairing rules: `port` has
    /// one entry for all hosts or one per host, `hostaddr` one per host (or stands in
    /// for `host` when no host was set); other counts are a configuration error.
    pub(crate) fn targets(&self) -> Result<Vec<Target>, Error> {
        let addrs: Option<Vec<&str>> = self
            .hostaddr
            .as_deref()
            .map(|a| a.split(',').map(str::trim).collect());
        let hosts: Vec<String> = match (&addrs, self.host_set) {
            (Some(addrs), false) => addrs.iter().map(|a| a.to_string()).collect(),
            _ => self
                .host
                .split(',')
                .map(|h| match h.trim() {
                    "" => "localhost".to_string(),
                    h => h.to_string(),
                })
                .collect(),
        };
        if let Some(addrs) = &addrs {
            if addrs.len() != hosts.len() {
                return Err(Error::config(format!(
                    "could not match {} host names to {} hostaddr values",
                    hosts.len(),
                    addrs.len()
                )));
            }
        }
        if !self.ports.is_empty() && self.ports.len() != hosts.len() {
            return Err(Error::config(format!(
                "could not match {} port numbers to {} hosts",
                self.ports.len(),
                hosts.len()
            )));
        }
        Ok(hosts
            .into_iter()
            .enumerate()
            .map(|(i, host)| Target {
                hostaddr: addrs
                    .as_ref()
                    .and_then(|a| a.get(i))
                    .filter(|a| !a.is_empty())
                    .map(|a| a.to_string()),
                port: self.ports.get(i).copied().unwrap_or(self.port),
                host,
            })
            .collect())
    }

    /// This config narrowed to one of its targets (what a single attempt uses).
    pub(crate) fn for_target(&self, t: &Target) -> Self {
        let mut c = self.clone();
        c.host = t.host.clone();
        c.hostaddr = t.hostaddr.clone();
        c.port = t.port;
        c.ports = Vec::new();
        c
    }

    /// User name.
    pub fn user(&mut self, user: impl Into<String>) -> &mut Self {
        self.user = Some(user.into());
        self
    }

    /// Password.
    pub fn password(&mut self, password: impl AsRef<[u8]>) -> &mut Self {
        self.password = Some(password.as_ref().to_vec());
        self
    }

    /// Database name (defaults to the user name on the server).
    pub fn dbname(&mut self, dbname: impl Into<String>) -> &mut Self {
        self.dbname = Some(dbname.into());
        self
    }

    /// `application_name` startup parameter.
    pub fn application_name(&mut self, name: impl Into<String>) -> &mut Self {
        self.application_name = Some(name.into());
        self
    }

    /// `options` startup parameter (command-line options for the backend).
    pub fn options(&mut self, options: impl Into<String>) -> &mut Self {
        self.options = Some(options.into());
        self
    }

    /// Any other startup parameter (e.g. `search_path`).
    pub fn param(&mut self, name: impl Into<String>, value: impl Into<String>) -> &mut Self {
        self.params.push((name.into(), value.into()));
        self
    }

    /// Deadline for TCP connect plus authentication plus the first ReadyForQuery.
    pub fn connect_timeout(&mut self, t: Option<Duration>) -> &mut Self {
        self.connect_timeout = t;
        self
    }

    /// TCP keepalives and `tcp_user_timeout` (see [`Keepalives`]).
    pub fn keepalives(&mut self, k: Keepalives) -> &mut Self {
        self.keepalives = k;
        self
    }

    /// Deadline for each operation ([`DEFAULT_QUERY_TIMEOUT`] unless set; `None`, or
    /// `query_timeout=0` in a URL, for none). When it passes with a statement running,
    /// pgline sends a CancelRequest and drains the connection to ReadyForQuery within a
    /// short grace, and the connection stays usable; it is broken only when that drain
    /// fails or the server cannot cancel reliably (iris-pgwire). Bulk loads and COPY apply
    /// it to each wait for the server (a window of rows, a chunk), not to the whole load,
    /// so a load of any size runs while the server keeps taking rows; an `execute_many`
    /// wait that passes it stops the load, cancels the statement and drains every window
    /// (the [`LoadError`](crate::conn::LoadError) says exactly which rows were committed),
    /// and the connection stays usable.
    ///
    /// Per statement: [`Connection::set_query_timeout`](crate::Connection::set_query_timeout).
    pub fn query_timeout(&mut self, t: Option<Duration>) -> &mut Self {
        self.query_timeout = t;
        self
    }

    /// `sslmode`: whether to use TLS and what to verify (see [`super::tls`]).
    pub fn ssl_mode(&mut self, mode: SslMode) -> &mut Self {
        self.tls.mode = Some(mode);
        self
    }

    /// `sslrootcert`: the trusted roots (a PEM file, or the platform's store).
    pub fn ssl_root_cert(&mut self, root: RootCert) -> &mut Self {
        self.tls.root_cert = Some(root);
        self
    }

    /// `sslcert` and `sslkey`: a client certificate chain and its private key (PEM).
    pub fn ssl_client_cert(
        &mut self,
        cert: impl Into<std::path::PathBuf>,
        key: impl Into<std::path::PathBuf>,
    ) -> &mut Self {
        self.tls.cert = Some(cert.into());
        self.tls.key = Some(key.into());
        self
    }

    /// `sslnegotiation`: SSLRequest first, or TLS at once.
    pub fn ssl_negotiation(&mut self, negotiation: SslNegotiation) -> &mut Self {
        self.tls.negotiation = negotiation;
        self
    }

    /// `channel_binding`: whether SCRAM binds to the TLS channel.
    pub fn channel_binding(&mut self, mode: ChannelBindingMode) -> &mut Self {
        self.tls.channel_binding = mode;
        self
    }

    /// All TLS settings, for the rarer keys (`sslcrl`, `sslsni`, version bounds, ...);
    /// [`set`](Self::set) takes them by libpq's names too.
    pub fn tls_settings_mut(&mut self) -> &mut TlsSettings {
        &mut self.tls
    }

    /// The TLS settings.
    pub fn get_tls(&self) -> &TlsSettings {
        &self.tls
    }

    /// Which authentication exchanges to accept.
    pub fn auth_policy(&mut self, policy: AuthPolicy) -> &mut Self {
        self.auth = policy;
        self
    }

    /// Caps on incoming message sizes.
    pub fn limits(&mut self, limits: Limits) -> &mut Self {
        self.limits = limits;
        self
    }

    /// Whether pooler-safe mode is on (`statement_cache_capacity == 0`).
    pub(crate) fn pooler_safe(&self) -> bool {
        self.statement_cache_capacity == 0
    }

    /// Named prepared statements kept per connection (LRU). `0` disables the cache and
    /// selects pooler-safe mode: unnamed statements only, each parsed in the flight that
    /// runs it (for PgBouncer in transaction pooling; see the
    /// [module docs](crate::conn::config)).
    pub fn statement_cache_capacity(&mut self, n: usize) -> &mut Self {
        self.statement_cache_capacity = n;
        self
    }

    /// Server dialect.
    pub fn profile(&mut self, p: ProfileChoice) -> &mut Self {
        self.profile = p;
        self
    }

    /// The iris-pgwire release the server runs (the server does not report it; see
    /// [`crate::iris::capabilities`]). pgline looks up what that release cannot do and
    /// refuses those operations with an `Unsupported` error: on a release that cannot
    /// roll back, [`Connection::begin`](crate::Connection::begin) refuses unless
    /// [`begin_without_rollback`](crate::Connection::begin_without_rollback) opts in.
    /// Undeclared, the least any release can do is assumed. Ignored on PostgreSQL.
    /// URL key: `iris_pgwire_version=1.7.3`.
    pub fn iris_pgwire_version(&mut self, v: crate::iris::IrisPgwireVersion) -> &mut Self {
        self.iris_pgwire_version = Some(v);
        self
    }

    /// The declared iris-pgwire release, if any.
    pub fn get_iris_pgwire_version(&self) -> Option<crate::iris::IrisPgwireVersion> {
        self.iris_pgwire_version
    }

    /// How many LISTEN/NOTIFY notifications are buffered before the oldest are dropped.
    pub fn notification_capacity(&mut self, n: usize) -> &mut Self {
        self.notification_capacity = n.max(1);
        self
    }

    /// **Insecure.** Accept a SCRAM exchange whose server signature cannot be verified,
    /// for iris-pgwire only (it sends a constant 20-byte dummy signature). The server is
    /// then not authenticated to the client. Honoured only under the IRIS profile; logged
    /// as a warning on every connect.
    pub fn danger_iris_skip_scram_server_signature(&mut self, yes: bool) -> &mut Self {
        self.insecure_skip_scram_server_signature = yes;
        self
    }

    /// Send parameters and request results in text format even where binary is
    /// supported (binary is the default on PostgreSQL; IRIS always uses text).
    pub fn prefer_text_format(&mut self, yes: bool) -> &mut Self {
        self.prefer_text = yes;
        self
    }

    /// The user name that will be sent: the configured one, else `$USER`.
    pub fn get_user(&self) -> String {
        self.user
            .clone()
            .or_else(|| std::env::var("USER").ok())
            .unwrap_or_else(|| "postgres".into())
    }

    /// `min_protocol_version`: the lowest protocol version accepted when the server
    /// offers a downgrade (default 3.0).
    pub fn min_protocol_version(&mut self, v: ProtocolVersion) -> &mut Self {
        self.protocol.min = v;
        self
    }

    /// `max_protocol_version`: the protocol version requested (default 3.0, as libpq
    /// 18; [`ProtocolVersion::V3_2`] for PostgreSQL 18's long cancel keys).
    pub fn max_protocol_version(&mut self, v: ProtocolVersion) -> &mut Self {
        self.protocol.max = v;
        self
    }

    /// The protocol versions allowed (`min`) and requested (`max`).
    pub fn protocol_range(&self) -> ProtocolRange {
        self.protocol
    }

    /// The configured host (a comma-separated list when there are several).
    pub fn get_host(&self) -> &str {
        &self.host
    }

    /// The configured port (of the first host, when each has its own).
    pub fn get_port(&self) -> u16 {
        self.port
    }

    /// The configured `target_session_attrs`.
    pub fn get_target_session_attrs(&self) -> TargetSessionAttrs {
        self.target_session_attrs
    }

    /// The configured `load_balance_hosts`.
    pub fn get_load_balance_hosts(&self) -> LoadBalanceHosts {
        self.load_balance_hosts
    }

    /// The configured database, if any.
    pub fn get_dbname(&self) -> Option<&str> {
        self.dbname.as_deref()
    }

    /// The per-operation deadline.
    pub fn get_query_timeout(&self) -> Option<Duration> {
        self.query_timeout
    }

    /// The connect deadline.
    pub fn get_connect_timeout(&self) -> Option<Duration> {
        self.connect_timeout
    }

    /// The TCP keepalive settings.
    pub fn get_keepalives(&self) -> Keepalives {
        self.keepalives
    }

    /// The server dialect choice.
    pub fn get_profile(&self) -> ProfileChoice {
        self.profile
    }

    /// Startup parameters to send, in order.
    pub(crate) fn startup_params(&self) -> Vec<(String, String)> {
        let user = self.get_user();
        let mut v = vec![("user".to_string(), user)];
        if let Some(db) = &self.dbname {
            v.push(("database".into(), db.clone()));
        }
        if let Some(a) = self
            .application_name
            .as_ref()
            .or(self.fallback_application_name.as_ref())
        {
            v.push(("application_name".into(), a.clone()));
        }
        // Settings in `options` become startup parameters of their own (see
        // `super::options`); an `options` with other switches is sent as it is (an
        // invalid one was refused when the connection was configured).
        let from_options = match self
            .options
            .as_deref()
            .map(super::options::options_to_params)
        {
            Some(Ok(Some(pairs))) => pairs,
            Some(_) => {
                if let Some(o) = &self.options {
                    v.push(("options".into(), o.clone()));
                }
                Vec::new()
            }
            None => Vec::new(),
        };
        v.push(("client_encoding".into(), "UTF8".into()));
        // Text-format dates and times are read in ISO only. A startup parameter outranks
        // ALTER ROLE/DATABASE settings, and PgBouncer tracks DateStyle, so this holds
        // whatever the role's default is (unless the caller sets DateStyle itself).
        if !self
            .params
            .iter()
            .chain(&from_options)
            .any(|(k, _)| k.eq_ignore_ascii_case("DateStyle"))
        {
            v.push(("DateStyle".into(), "ISO, MDY".into()));
        }
        // As with libpq, where the server applies `options` before the other startup
        // parameters: an explicit `application_name` (and pgline's `client_encoding`)
        // wins over the same name in `options`.
        let taken: Vec<String> = v.iter().map(|(k, _)| k.to_ascii_lowercase()).collect();
        v.extend(
            from_options
                .into_iter()
                .filter(|(k, _)| !taken.contains(&k.to_ascii_lowercase())),
        );
        for (k, val) in &self.params {
            v.push((k.clone(), val.clone()));
        }
        v
    }
}

// ----- service, servicefile, fallback_application_name -----------------------------------

impl Config {
    /// The libpq keys that only record a value: `fallback_application_name`, and
    /// `service`/`servicefile` (resolved by [`Config::parse`] and `str::parse`, never by
    /// [`Config::set`], which takes one key at a time).
    fn set_libpq_extra(&mut self, key: &str, value: &str) {
        let v = Some(value.to_string());
        match key {
            "fallback_application_name" => self.fallback_application_name = v,
            "service" => self.service = v,
            _ => self.servicefile = v,
        }
    }

    /// `fallback_application_name`: the `application_name` to send when none is set
    /// (neither by `application_name` nor `PGAPPNAME`), as libpq: for tools that want a
    /// default name the user can still override.
    pub fn fallback_application_name(&mut self, name: impl Into<String>) -> &mut Self {
        self.fallback_application_name = Some(name.into());
        self
    }

    /// The service file group this config was built from, if any.
    pub fn get_service(&self) -> Option<&str> {
        self.service.as_deref()
    }
}

// ----- protocol version keys ------------------------------------------------------------

impl Config {
    /// `min_protocol_version`, `max_protocol_version` and pgline's older
    /// `protocol_version` (the version to request, so the same as `max_protocol_version`).
    fn set_protocol_version(&mut self, key: &str, value: &str) -> Result<(), Error> {
        let v = ProtocolVersion::parse(value).map_err(|e| Error::config(format!("{key}: {e}")))?;
        if key == "min_protocol_version" {
            self.protocol.min = v;
        } else {
            self.protocol.max = v;
        }
        Ok(())
    }
}

impl FromStr for Config {
    type Err = Error;

    /// Parses a URL or `key=value` string **without** the `PG*` variables. A `service`
    /// in the string is still resolved (it names a service file group; the files are
    /// found through `servicefile`, `PGSERVICEFILE`, `HOME` and `PGSYSCONFDIR`), with the
    /// string's own values winning.
    fn from_str(s: &str) -> Result<Self, Error> {
        let mut c = Self::default();
        c.apply_str(s)?;
        if let Some(name) = c.service.clone() {
            let servicefile = c.servicefile.clone();
            c = Self::default();
            c.apply_service(&name, servicefile.as_deref(), &|k| std::env::var(k).ok())?;
            c.apply_str(s)?;
        }
        Ok(c)
    }
}

fn parse_seconds(key: &str, value: &str) -> Result<Option<Duration>, Error> {
    let secs: f64 = value
        .trim()
        .parse()
        .map_err(|_| Error::config(format!("invalid {key} {value:?}")))?;
    if !secs.is_finite() || secs < 0.0 {
        return Err(Error::config(format!("invalid {key} {value:?}")));
    }
    if secs > MAX_SECONDS {
        return Err(Error::config(format!(
            "{key} {value:?} is out of range: at most {MAX_SECONDS} seconds (one year); 0 means no limit"
        )));
    }
    // libpq: 0 means wait forever.
    Ok((secs > 0.0).then(|| Duration::from_secs_f64(secs)))
}

/// The longest duration a connection parameter may give: a year. Longer is a typo (or
/// `1e20`), and `Duration::from_secs_f64` would panic on some of them.
const MAX_SECONDS: f64 = 365.0 * 24.0 * 3600.0;

fn percent_decode(s: &str) -> Result<String, Error> {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while let Some(&b) = bytes.get(i) {
        if b == b'%' {
            let hex = bytes
                .get(i + 1..i + 3)
                .and_then(|h| std::str::from_utf8(h).ok())
                .and_then(|h| u8::from_str_radix(h, 16).ok())
                .ok_or_else(|| Error::config(format!("invalid percent-encoding in {s:?}")))?;
            out.push(hex);
            i += 3;
        } else {
            out.push(b);
            i += 1;
        }
    }
    String::from_utf8(out).map_err(|_| Error::config(format!("{s:?} is not UTF-8 when decoded")))
}

/// Parses libpq's `key = value key2='quoted \' value'` syntax.
fn parse_key_values(s: &str) -> Result<Vec<(String, String)>, Error> {
    let mut out = Vec::new();
    let mut chars = s.chars().peekable();
    loop {
        while chars.peek().is_some_and(|c| c.is_whitespace()) {
            chars.next();
        }
        if chars.peek().is_none() {
            return Ok(out);
        }
        let mut key = String::new();
        while let Some(&c) = chars.peek() {
            if c == '=' || c.is_whitespace() {
                break;
            }
            key.push(c);
            chars.next();
        }
        while chars.peek().is_some_and(|c| c.is_whitespace()) {
            chars.next();
        }
        if chars.next() != Some('=') {
            return Err(Error::config(format!("missing \"=\" after {key:?}")));
        }
        while chars.peek().is_some_and(|c| c.is_whitespace()) {
            chars.next();
        }
        let mut value = String::new();
        if chars.peek() == Some(&'\'') {
            chars.next();
            loop {
                match chars.next() {
                    Some('\\') => match chars.next() {
                        Some(c) => value.push(c),
                        None => return Err(Error::config("unterminated quoted value")),
                    },
                    Some('\'') => break,
                    Some(c) => value.push(c),
                    None => return Err(Error::config("unterminated quoted value")),
                }
            }
        } else {
            while let Some(&c) = chars.peek() {
                if c.is_whitespace() {
                    break;
                }
                chars.next();
                if c == '\\' {
                    if let Some(n) = chars.next() {
                        value.push(n);
                    }
                } else {
                    value.push(c);
                }
            }
        }
        out.push((key, value));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn url_sets_every_part_and_decodes_percent_escapes() {
        let c: Config = "postgres://us%40er:p%3Ass@db.example:6543/my%20db?application_name=app&connect_timeout=5&sslmode=disable"
            .parse()
            .unwrap();
        assert_eq!(c.user.as_deref(), Some("us@er"));
        assert_eq!(c.password.as_deref(), Some(&b"p:ss"[..]));
        assert_eq!(c.host, "db.example");
        assert_eq!(c.port, 6543);
        assert_eq!(c.dbname.as_deref(), Some("my db"));
        assert_eq!(c.application_name.as_deref(), Some("app"));
        assert_eq!(c.connect_timeout, Some(Duration::from_secs(5)));
        assert_eq!(c.tls.mode, Some(SslMode::Disable));
    }

    #[test]
    fn the_iris_pgwire_release_is_declared_in_the_url_and_a_bad_one_is_refused() {
        let c: Config = "postgres://u@h/db?profile=iris&iris_pgwire_version=1.0.1"
            .parse()
            .unwrap();
        assert_eq!(
            c.get_iris_pgwire_version(),
            Some(crate::iris::IrisPgwireVersion::new(1, 0, 1))
        );
        let e = "postgres://u@h/db?iris_pgwire_version=latest"
            .parse::<Config>()
            .unwrap_err();
        assert!(e.is_config() && e.to_string().contains("1.7.3"), "{e}");
        assert_eq!(Config::new().get_iris_pgwire_version(), None);
    }

    #[test]
    fn url_accepts_bracketed_ipv6_hosts() {
        let c: Config = "postgresql://[::1]:5433/x".parse().unwrap();
        assert_eq!((c.host.as_str(), c.port), ("::1", 5433));
    }

    #[test]
    fn key_value_string_handles_quotes_and_escapes() {
        let c: Config =
            "host=h port = 7 user='a b' password='it\\'s' dbname=d options='-c search_path=x'"
                .parse()
                .unwrap();
        assert_eq!(c.host, "h");
        assert_eq!(c.port, 7);
        assert_eq!(c.user.as_deref(), Some("a b"));
        assert_eq!(c.password.as_deref(), Some(&b"it's"[..]));
        assert_eq!(c.options.as_deref(), Some("-c search_path=x"));
    }

    #[test]
    fn unknown_keys_are_an_error_not_ignored() {
        let err = "hots=x".parse::<Config>().unwrap_err();
        assert!(err.is_config());
        assert!(err.to_string().contains("hots"));
    }

    #[test]
    fn environment_gives_defaults_that_the_string_overrides() {
        let env = |k: &str| match k {
            "PGHOST" => Some("envhost".to_string()),
            "PGUSER" => Some("envuser".to_string()),
            "PGPORT" => Some("6000".to_string()),
            _ => None,
        };
        let mut c = Config::from_env_with(env).unwrap();
        c.apply_str("user=explicit").unwrap();
        assert_eq!(c.host, "envhost");
        assert_eq!(c.port, 6000);
        assert_eq!(c.user.as_deref(), Some("explicit"));
    }

    #[test]
    fn require_auth_parses_method_lists() {
        let c: Config = "require_auth=scram-sha-256".parse().unwrap();
        assert_eq!(
            c.auth,
            AuthPolicy {
                cleartext: false,
                md5: false,
                scram: true,
                none: false
            }
        );
        assert!("require_auth=kerberos".parse::<Config>().is_err());
    }

    #[test]
    fn debug_output_never_contains_the_password() {
        let c: Config = "password=hunter2".parse().unwrap();
        assert!(!format!("{c:?}").contains("hunter2"));
    }

    #[test]
    fn tls_keys_are_taken_by_their_libpq_names_in_every_form() {
        let url: Config =
            "postgres://u@h/db?sslmode=verify-full&sslrootcert=%2Ftmp%2Fca.pem&channel_binding=require"
                .parse()
                .unwrap();
        let kv: Config =
            "host=h user=u dbname=db sslmode=verify-full sslrootcert=/tmp/ca.pem channel_binding=require"
                .parse()
                .unwrap();
        let env = Config::from_env_with(|k| match k {
            "PGHOST" => Some("h".into()),
            "PGUSER" => Some("u".into()),
            "PGDATABASE" => Some("db".into()),
            "PGSSLMODE" => Some("verify-full".into()),
            "PGSSLROOTCERT" => Some("/tmp/ca.pem".into()),
            "PGCHANNELBINDING" => Some("require".into()),
            _ => None,
        })
        .unwrap();
        assert_eq!(url, kv);
        assert_eq!(kv, env);
        assert_eq!(url.tls.mode, Some(SslMode::VerifyFull));
        assert_eq!(
            url.tls.root_cert,
            Some(RootCert::File("/tmp/ca.pem".into()))
        );
        assert_eq!(url.tls.channel_binding, ChannelBindingMode::Require);
    }

    #[test]
    fn out_of_range_durations_are_config_errors_not_panics() {
        for v in ["1e20", "1e300", "31536001", "-1", "NaN", "inf"] {
            for key in ["connect_timeout", "query_timeout"] {
                let e = format!("{key}={v}").parse::<Config>().unwrap_err();
                assert!(e.is_config(), "{key}={v}: {e}");
            }
        }
        let env = Config::from_env_with(|k| (k == "PGCONNECT_TIMEOUT").then(|| "1e20".into()));
        assert!(env.unwrap_err().to_string().contains("PGCONNECT_TIMEOUT"));
        let c: Config = "connect_timeout=31536000".parse().unwrap();
        assert_eq!(c.connect_timeout, Some(Duration::from_secs(31_536_000)));
    }

    #[test]
    fn startup_asks_for_iso_datestyle_unless_the_caller_sets_one() {
        let c = Config::new();
        let p = c.startup_params();
        assert!(
            p.contains(&("DateStyle".into(), "ISO, MDY".into())),
            "{p:?}"
        );
        let mut c = Config::new();
        c.param("datestyle", "ISO, DMY");
        let p = c.startup_params();
        assert_eq!(
            p.iter()
                .filter(|(k, _)| k.eq_ignore_ascii_case("datestyle"))
                .count(),
            1,
            "{p:?}"
        );
    }

    #[test]
    fn keepalives_are_on_by_default_and_take_libpqs_names() {
        let d = Config::new().keepalives;
        assert!(d.enabled);
        assert_eq!(d.idle, Some(Duration::from_secs(60)));
        let c: Config =
            "keepalives=1 keepalives_idle=5 keepalives_interval=2 keepalives_count=3 tcp_user_timeout=9000"
                .parse()
                .unwrap();
        assert_eq!(
            c.keepalives,
            Keepalives {
                enabled: true,
                idle: Some(Duration::from_secs(5)),
                interval: Some(Duration::from_secs(2)),
                count: Some(3),
                user_timeout: Some(Duration::from_secs(9)),
            }
        );
        let off: Config = "keepalives=0 keepalives_idle=0".parse().unwrap();
        assert!(!off.keepalives.enabled);
        assert_eq!(off.keepalives.idle, None, "0 = the system default");
        assert!("keepalives=yes".parse::<Config>().unwrap_err().is_config());
        assert!("tcp_user_timeout=-5"
            .parse::<Config>()
            .unwrap_err()
            .is_config());
    }

    #[test]
    fn protocol_versions_default_to_3_0_and_take_libpqs_names_and_env() {
        let d = Config::new().protocol_range();
        assert_eq!(
            (d.min, d.max),
            (ProtocolVersion::V3_0, ProtocolVersion::V3_0)
        );
        let c: Config = "max_protocol_version=latest min_protocol_version=3.2"
            .parse()
            .unwrap();
        assert_eq!(
            (c.protocol.min, c.protocol.max),
            (ProtocolVersion::V3_2, ProtocolVersion::V3_2)
        );
        let url: Config = "postgres://h/db?max_protocol_version=3.2".parse().unwrap();
        assert_eq!(url.protocol.max, ProtocolVersion::V3_2);
        let old: Config = "protocol_version=3.2".parse().unwrap();
        assert_eq!(old.protocol.max, ProtocolVersion::V3_2);
        let env = Config::from_env_with(|k| match k {
            "PGMAXPROTOCOLVERSION" => Some("3.2".into()),
            "PGMINPROTOCOLVERSION" => Some("3.0".into()),
            _ => None,
        })
        .unwrap();
        assert_eq!(env.protocol.max, ProtocolVersion::V3_2);
        let e = "max_protocol_version=3.1".parse::<Config>().unwrap_err();
        assert!(
            e.is_config() && e.to_string().contains("max_protocol_version"),
            "{e}"
        );
        let e = Config::from_env_with(|k| (k == "PGMINPROTOCOLVERSION").then(|| "4".into()))
            .unwrap_err();
        assert!(e.to_string().contains("PGMINPROTOCOLVERSION"), "{e}");
    }

    /// A service file in a fresh directory; returns the file's path.
    fn service_file(name: &str, text: &str) -> std::path::PathBuf {
        let dir = std::env::temp_dir().join(format!(
            "pgline-svc-{}-{name}-{:?}",
            std::process::id(),
            std::thread::current().id()
        ));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("pg_service.conf");
        std::fs::write(&path, text).unwrap();
        path
    }

    #[test]
    fn service_values_beat_the_environment_and_the_string_beats_both() {
        let file = service_file(
            "prec",
            "[app]\nhost=svchost\nport=6001\nuser=svcuser\ndbname=svcdb\n",
        );
        let f = file.to_string_lossy().into_owned();
        let env = |k: &str| match k {
            "PGSERVICEFILE" => Some(f.clone()),
            "PGHOST" => Some("envhost".into()),
            "PGUSER" => Some("envuser".into()),
            "PGAPPNAME" => Some("envapp".into()),
            _ => None,
        };
        let c = Config::parse_with("service=app user=explicit", env).unwrap();
        assert_eq!(c.host, "svchost", "the service beats PGHOST");
        assert_eq!(c.port, 6001);
        assert_eq!(c.user.as_deref(), Some("explicit"), "the string beats both");
        assert_eq!(c.dbname.as_deref(), Some("svcdb"));
        assert_eq!(
            c.application_name.as_deref(),
            Some("envapp"),
            "what the service leaves unset comes from the environment"
        );
        assert_eq!(c.get_service(), Some("app"));
        // The same through a URL.
        let u = Config::parse_with("postgres://explicit@/?service=app", env).unwrap();
        assert_eq!(
            (u.host.as_str(), u.user.as_deref()),
            ("svchost", Some("explicit"))
        );
    }

    #[test]
    fn pgservice_picks_the_group_when_the_string_names_none() {
        let file = service_file("env", "[envsvc]\nport=6002\n[app]\nport=6003\n");
        let f = file.to_string_lossy().into_owned();
        let env = |k: &str| match k {
            "PGSERVICEFILE" => Some(f.clone()),
            "PGSERVICE" => Some("envsvc".into()),
            _ => None,
        };
        assert_eq!(Config::from_env_with(env).unwrap().port, 6002);
        assert_eq!(Config::parse_with("service=app", env).unwrap().port, 6003);
    }

    #[test]
    fn the_user_service_file_wins_and_the_system_one_is_read_when_it_lacks_the_group() {
        let user = service_file("user", "[both]\nport=7001\n");
        let sys = service_file("sys", "[both]\nport=7002\n[sysonly]\nport=7003\n");
        let (u, s) = (
            user.to_string_lossy().into_owned(),
            sys.parent().unwrap().to_string_lossy().into_owned(),
        );
        let env = |k: &str| match k {
            "PGSERVICEFILE" => Some(u.clone()),
            "PGSYSCONFDIR" => Some(s.clone()),
            _ => None,
        };
        assert_eq!(Config::parse_with("service=both", env).unwrap().port, 7001);
        assert_eq!(
            Config::parse_with("service=sysonly", env).unwrap().port,
            7003
        );
        let e = Config::parse_with("service=nowhere", env).unwrap_err();
        assert!(
            e.is_config() && e.to_string().contains("\"nowhere\" not found"),
            "{e}"
        );
    }

    #[test]
    fn servicefile_and_home_locate_the_user_file() {
        let file = service_file("home", "[h]\nport=7101\n");
        let home = file.parent().unwrap().to_string_lossy().into_owned();
        std::fs::copy(&file, file.with_file_name(".pg_service.conf")).unwrap();
        let env = |k: &str| (k == "HOME").then(|| home.clone());
        assert_eq!(Config::parse_with("service=h", env).unwrap().port, 7101);
        let other = service_file("sf", "[h]\nport=7102\n");
        let s = format!("service=h servicefile={}", other.display());
        assert_eq!(Config::parse_with(&s, env).unwrap().port, 7102);
        // str::parse resolves an explicit service too (no PG* variables).
        let c: Config = s.parse().unwrap();
        assert_eq!(c.port, 7102);
    }

    #[test]
    fn a_bad_key_in_a_service_file_names_the_service() {
        let file = service_file("bad", "[b]\nhots=x\n");
        let s = format!("service=b servicefile={}", file.display());
        let e = s.parse::<Config>().unwrap_err();
        assert!(
            e.to_string().contains("service \"b\"") && e.to_string().contains("hots"),
            "{e}"
        );
    }

    #[test]
    fn fallback_application_name_is_used_only_when_application_name_is_unset() {
        let app = |c: &Config| {
            c.startup_params()
                .into_iter()
                .find(|(k, _)| k == "application_name")
                .map(|(_, v)| v)
        };
        let c: Config = "fallback_application_name=tool".parse().unwrap();
        assert_eq!(app(&c).as_deref(), Some("tool"));
        let c: Config = "fallback_application_name=tool application_name=mine"
            .parse()
            .unwrap();
        assert_eq!(app(&c).as_deref(), Some("mine"));
        let env = |k: &str| (k == "PGAPPNAME").then(|| "fromenv".to_string());
        let c = Config::parse_with("fallback_application_name=tool", env).unwrap();
        assert_eq!(
            app(&c).as_deref(),
            Some("fromenv"),
            "PGAPPNAME sets application_name"
        );
        assert_eq!(app(&Config::new()), None);
    }

    #[test]
    fn settings_in_options_become_startup_parameters_and_count_for_datestyle() {
        let c: Config = r"options='-c search_path=a\\ b --DateStyle=German'"
            .parse()
            .unwrap();
        let p = c.startup_params();
        assert!(p.contains(&("search_path".into(), "a b".into())), "{p:?}");
        assert!(p.contains(&("DateStyle".into(), "German".into())), "{p:?}");
        assert!(!p.iter().any(|(k, _)| k == "options"), "{p:?}");
        assert_eq!(
            p.iter()
                .filter(|(k, _)| k.eq_ignore_ascii_case("datestyle"))
                .count(),
            1,
            "the caller's DateStyle replaces pgline's: {p:?}"
        );
        let raw: Config = "options='-B 64'".parse().unwrap();
        assert!(raw
            .startup_params()
            .contains(&("options".into(), "-B 64".into())));
        assert!("options='-c work_mem'"
            .parse::<Config>()
            .unwrap_err()
            .is_config());
    }

    #[test]
    fn zero_connect_timeout_means_no_deadline() {
        let c: Config = "connect_timeout=0".parse().unwrap();
        assert_eq!(c.connect_timeout, None);
    }

    fn t(host: &str, hostaddr: Option<&str>, port: u16) -> Target {
        Target {
            host: host.into(),
            hostaddr: hostaddr.map(Into::into),
            port,
        }
    }

    #[test]
    fn a_host_list_takes_one_port_for_all_or_one_port_each() {
        let one: Config = "host=a,b,c port=7".parse().unwrap();
        assert_eq!(
            one.targets().unwrap(),
            vec![t("a", None, 7), t("b", None, 7), t("c", None, 7)]
        );
        let each: Config = "host=a,b port=1,2".parse().unwrap();
        assert_eq!(
            each.targets().unwrap(),
            vec![t("a", None, 1), t("b", None, 2)]
        );
        let err = "host=a,b,c port=1,2".parse::<Config>().unwrap().targets();
        assert!(err.unwrap_err().is_config());
        assert!("port=1,x".parse::<Config>().unwrap_err().is_config());
    }

    #[test]
    fn a_multi_host_url_pairs_each_host_with_its_port() {
        let c: Config = "postgres://u@h1:5433,h2,[::1]:5435/db?target_session_attrs=read-write"
            .parse()
            .unwrap();
        assert_eq!(
            c.targets().unwrap(),
            vec![
                t("h1", None, 5433),
                t("h2", None, 5432),
                t("::1", None, 5435)
            ]
        );
        assert_eq!(c.target_session_attrs, TargetSessionAttrs::ReadWrite);
        assert_eq!(c.get_port(), 5433);
    }

    #[test]
    fn a_percent_encoded_socket_directory_is_a_unix_socket_host() {
        let c: Config = "postgres://%2Fvar%2Frun%2Fpostgresql:5444/db"
            .parse()
            .unwrap();
        let targets = c.targets().unwrap();
        assert_eq!(targets, vec![t("/var/run/postgresql", None, 5444)]);
        assert_eq!(targets[0].to_string(), "/var/run/postgresql/.s.PGSQL.5444");
    }

    #[test]
    fn hostaddr_pairs_with_host_by_position_or_stands_in_for_it() {
        let c: Config = "host=db1,db2 hostaddr=10.0.0.1,10.0.0.2 port=5"
            .parse()
            .unwrap();
        assert_eq!(
            c.targets().unwrap(),
            vec![t("db1", Some("10.0.0.1"), 5), t("db2", Some("10.0.0.2"), 5)]
        );
        let only: Config = "hostaddr=10.0.0.1,10.0.0.2".parse().unwrap();
        assert_eq!(
            only.targets().unwrap(),
            vec![
                t("10.0.0.1", Some("10.0.0.1"), 5432),
                t("10.0.0.2", Some("10.0.0.2"), 5432)
            ]
        );
        let bad: Config = "host=a,b hostaddr=10.0.0.1".parse().unwrap();
        assert!(bad.targets().unwrap_err().to_string().contains("hostaddr"));
    }

    #[test]
    fn session_attrs_load_balancing_and_passfile_come_from_env_and_strings() {
        for (v, want) in [
            ("any", TargetSessionAttrs::Any),
            ("read-write", TargetSessionAttrs::ReadWrite),
            ("read-only", TargetSessionAttrs::ReadOnly),
            ("primary", TargetSessionAttrs::Primary),
            ("standby", TargetSessionAttrs::Standby),
            ("prefer-standby", TargetSessionAttrs::PreferStandby),
        ] {
            let c: Config = format!("target_session_attrs={v}").parse().unwrap();
            assert_eq!(c.target_session_attrs, want);
            assert_eq!(want.as_str(), v);
        }
        assert!("target_session_attrs=master"
            .parse::<Config>()
            .unwrap_err()
            .is_config());
        assert!("load_balance_hosts=roundrobin"
            .parse::<Config>()
            .unwrap_err()
            .is_config());
        let env = Config::from_env_with(|k| match k {
            "PGTARGETSESSIONATTRS" => Some("standby".into()),
            "PGLOADBALANCEHOSTS" => Some("random".into()),
            "PGPASSFILE" => Some("/tmp/pw".into()),
            "PGHOSTADDR" => Some("127.0.0.1".into()),
            _ => None,
        })
        .unwrap();
        assert_eq!(env.target_session_attrs, TargetSessionAttrs::Standby);
        assert_eq!(env.load_balance_hosts, LoadBalanceHosts::Random);
        assert_eq!(
            env.passfile.as_deref(),
            Some(std::path::Path::new("/tmp/pw"))
        );
        assert_eq!(
            env.targets().unwrap(),
            vec![t("127.0.0.1", Some("127.0.0.1"), 5432)]
        );
    }
}
