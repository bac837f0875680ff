//! [`Config`]: where and how to connect, from a builder, a `postgres://` URL or a libpq
//! `key=value` string, with `PG*` environment variables as defaults.
//!
//! Recognised keys (URL query parameters or `key=value` pairs): `host`, `hostaddr` (taken
//! as `host`), `port`, `user`, `password`, `dbname`, `application_name`,
//! `connect_timeout` (seconds), `keepalives`, `keepalives_idle`, `keepalives_interval`,
//! `keepalives_count`, `tcp_user_timeout` (see [`Keepalives`]), `options`, the TLS keys (`sslmode`, `sslnegotiation`,
//! `sslrootcert`, `sslcert`, `sslkey`, `sslpassword`, `sslcrl`, `sslcrldir`, `sslsni`,
//! `sslcertmode`, `ssl_min_protocol_version`, `ssl_max_protocol_version`, `sslkeylogfile`,
//! `channel_binding`, `gssencmode`: see [`super::tls`] for what each does), `require_auth` (comma list of `password`, `md5`, `scram-sha-256`, `none`),
//! `query_timeout` (seconds, pgline's own; default [`DEFAULT_QUERY_TIMEOUT`], `0` = none), `statement_cache_capacity` (pgline's own),
//! `profile` (`auto`, `postgres`, `iris`), `iris_pgwire_version` (e.g. `1.7.3`: see
//! [`Config::iris_pgwire_version`]), `protocol_version` (`3.0`). Unknown keys are an
//! error, as in libpq: a typo must not be silently ignored.
//!
//! Environment variables used by [`Config::from_env`] and [`Config::parse`]: `PGHOST`,
//! `PGPORT`, `PGUSER`, `PGPASSWORD`, `PGDATABASE`, `PGAPPNAME`, `PGCONNECT_TIMEOUT`,
//! `PGOPTIONS`, `PGSSLMODE`, `PGSSLNEGOTIATION`, `PGSSLROOTCERT`, `PGSSLCERT`, `PGSSLKEY`,
//! `PGSSLCRL`, `PGSSLCRLDIR`, `PGSSLSNI`, `PGSSLCERTMODE`, `PGSSLMINPROTOCOLVERSION`,
//! `PGSSLMAXPROTOCOLVERSION`, `PGCHANNELBINDING`, `PGGSSENCMODE`, `PGREQUIREAUTH`.

use std::fmt;
use std::str::FromStr;
use std::time::Duration;

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
    pub(crate) host: String,
    pub(crate) port: u16,
    pub(crate) user: Option<String>,
    pub(crate) password: Option<Vec<u8>>,
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
    pub(crate) iris_pgwire_version: Option<crate::iris::IrisPgwireVersion>,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            host: "localhost".into(),
            port: 5432,
            user: None,
            password: None,
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
            iris_pgwire_version: None,
        }
    }
}

impl fmt::Debug for Config {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Never print the password.
        f.debug_struct("Config")
            .field("host", &self.host)
            .field("port", &self.port)
            .field("user", &self.user)
            .field("password", &self.password.as_ref().map(|_| "<redacted>"))
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
    pub fn from_env_with(get: impl Fn(&str) -> Option<String>) -> Result<Self, Error> {
        let mut c = Self::default();
        for (var, key) in [
            ("PGHOST", "host"),
            ("PGPORT", "port"),
            ("PGUSER", "user"),
            ("PGPASSWORD", "password"),
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
        ] {
            if let Some(v) = get(var) {
                c.set(key, &v)
                    .map_err(|e| Error::config(format!("{var}: {e}")))?;
            }
        }
        Ok(c)
    }

    /// Parses a `postgres://` URL or a `key=value` string on top of the `PG*` environment
    /// defaults. Use `str::parse` for a parse that ignores the environment.
    pub fn parse(s: &str) -> Result<Self, Error> {
        let mut c = Self::from_env()?;
        c.apply_str(s)?;
        Ok(c)
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
            let (host, port) = if let Some(v6) = hostport.strip_prefix('[') {
                let (h, after) = v6
                    .split_once(']')
                    .ok_or_else(|| Error::config("URL: unterminated [ in host"))?;
                (h.to_string(), after.strip_prefix(':'))
            } else {
                match hostport.rsplit_once(':') {
                    Some((h, p)) => (percent_decode(h)?, Some(p)),
                    None => (percent_decode(hostport)?, None),
                }
            };
            if !host.is_empty() {
                self.host = host;
            }
            if let Some(p) = port.filter(|p| !p.is_empty()) {
                self.set("port", p)?;
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
            "host" | "hostaddr" => self.host = value.to_string(),
            "port" => {
                self.port = value
                    .parse()
                    .map_err(|_| Error::config(format!("invalid port {value:?}")))?
            }
            "user" => self.user = Some(value.to_string()),
            "password" => self.password = Some(value.as_bytes().to_vec()),
            "dbname" => self.dbname = Some(value.to_string()),
            "application_name" => self.application_name = Some(value.to_string()),
            "options" => self.options = Some(value.to_string()),
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
            "iris_pgwire_version" => {
                self.iris_pgwire_version =
                    Some(value.parse().map_err(|e: crate::iris::ParseVersionError| {
                        Error::config(e.to_string())
                    })?)
            }
            "protocol_version" => {
                if value != "3.0" {
                    return Err(Error::config(format!(
                        "protocol_version {value:?}: only 3.0 is supported"
                    )));
                }
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

    /// Host name, IP address, or (starting with `/`) a Unix-socket directory.
    pub fn host(&mut self, host: impl Into<String>) -> &mut Self {
        self.host = host.into();
        self
    }

    /// TCP port (also the Unix-socket file suffix).
    pub fn port(&mut self, port: u16) -> &mut Self {
        self.port = port;
        self
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

    /// Named prepared statements kept per connection (LRU; 0 disables the cache).
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

    /// The configured host.
    pub fn get_host(&self) -> &str {
        &self.host
    }

    /// The configured port.
    pub fn get_port(&self) -> u16 {
        self.port
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
        if let Some(a) = &self.application_name {
            v.push(("application_name".into(), a.clone()));
        }
        if let Some(o) = &self.options {
            v.push(("options".into(), o.clone()));
        }
        v.push(("client_encoding".into(), "UTF8".into()));
        // Text-format dates and times are read in ISO only. A startup parameter outranks
        // ALTER ROLE/DATABASE settings, and PgBouncer tracks DateStyle, so this holds
        // whatever the role's default is (unless the caller sets DateStyle itself).
        if !self
            .params
            .iter()
            .any(|(k, _)| k.eq_ignore_ascii_case("DateStyle"))
        {
            v.push(("DateStyle".into(), "ISO, MDY".into()));
        }
        for (k, val) in &self.params {
            v.push((k.clone(), val.clone()));
        }
        v
    }
}

impl FromStr for Config {
    type Err = Error;

    /// Parses a URL or `key=value` string **without** reading the environment.
    fn from_str(s: &str) -> Result<Self, Error> {
        let mut c = Self::default();
        c.apply_str(s)?;
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
    fn zero_connect_timeout_means_no_deadline() {
        let c: Config = "connect_timeout=0".parse().unwrap();
        assert_eq!(c.connect_timeout, None);
    }
}
