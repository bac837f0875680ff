//! A real PgBouncer (Debian's `pgbouncer` package, 1.18 on Debian 12) in front of the
//! harness cluster, for the tests of pgline's pooler-safe mode.
//!
//! [`TempPgBouncer::start`] writes its own `pgbouncer.ini` and `userlist.txt` into a fresh
//! directory under `/tmp`, listens on a free port on `127.0.0.1` (no unix socket) and
//! forwards every database (`* = host=.. port=..`) to the given server. Clients
//! authenticate with `trust` (the userlist names [`TRUST_USER`] and [`SUPERUSER`]); PgBouncer
//! logs in to the server as the same role, which the cluster's `pg_hba.conf` trusts over
//! `127.0.0.1`. TLS is off on both sides (PgBouncer answers `N` to an SSLRequest).
//!
//! PgBouncer refuses to run as root: when the effective uid is 0 it runs as the `postgres`
//! OS user (`runuser -u postgres --`), like the cluster. It runs in the foreground as a
//! child of the test process; [`TempPgBouncer::stop`] and `Drop` send it SIGTERM (immediate
//! shutdown) and remove the directory. Statics are never dropped, so `start` also spawns a
//! detached watchdog shell that does the same once the test process has exited.
//!
//! [`pgbouncer`] is the shared instance: **transaction** pooling with a pool of **one**
//! server connection per user and database, so every client connection really shares the
//! same server connection, one transaction at a time.

use std::fs;
use std::io::Write;
use std::net::{TcpListener, TcpStream};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

pub use pgline::cluster::{SUPERUSER, TRUST_USER};

/// How PgBouncer assigns server connections to clients (`pool_mode`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PoolMode {
    /// A server connection per client for the client's whole session.
    Session,
    /// A server connection per transaction: the next transaction (or statement outside
    /// one) may run on another server connection, and another client's on this one.
    Transaction,
}

impl PoolMode {
    fn ini(self) -> &'static str {
        match self {
            Self::Session => "session",
            Self::Transaction => "transaction",
        }
    }
}

/// Options for [`TempPgBouncer::start`].
#[derive(Debug, Clone)]
pub struct PgBouncerOptions {
    /// `pool_mode`.
    pub pool_mode: PoolMode,
    /// `default_pool_size`: server connections per (user, database).
    pub pool_size: u32,
    /// Extra `[pgbouncer]` lines, appended after the defaults (so they win).
    pub extra: Vec<String>,
}

impl Default for PgBouncerOptions {
    fn default() -> Self {
        Self {
            pool_mode: PoolMode::Transaction,
            pool_size: 1,
            extra: Vec::new(),
        }
    }
}

/// A running PgBouncer; stopped and its directory removed on [`stop`](Self::stop) or drop.
#[derive(Debug)]
pub struct TempPgBouncer {
    dir: PathBuf,
    port: u16,
    child: Option<Child>,
    watchdog: Option<Child>,
}

impl TempPgBouncer {
    /// Starts PgBouncer in front of the server at `server_host:server_port` and waits
    /// until it accepts connections (at most 20 s).
    pub fn start(
        server_host: &str,
        server_port: u16,
        opts: &PgBouncerOptions,
    ) -> Result<Self, String> {
        let binary = find_pgbouncer().ok_or_else(|| {
            "pgbouncer not found (install Debian's `pgbouncer` package: apt-get install -y \
             pgbouncer; .ci/run does)"
                .to_string()
        })?;
        let as_postgres = effective_uid_is_root();
        let dir = make_temp_dir()?;
        let mut me = Self {
            dir,
            port: 0,
            child: None,
            watchdog: None,
        };
        // From here on, Drop cleans up whatever was created.
        me.watchdog = Some(me.spawn_watchdog()?);
        let mut attempts = 0;
        loop {
            attempts += 1;
            me.port = free_port()?;
            me.write_files(server_host, server_port, opts)?;
            if as_postgres {
                let out = Command::new("chown")
                    .arg("-R")
                    .arg("postgres:postgres")
                    .arg(&me.dir)
                    .output()
                    .map_err(|e| format!("chown of {}: {e}", me.dir.display()))?;
                if !out.status.success() {
                    return Err(format!(
                        "chown -R postgres:postgres {}: {}",
                        me.dir.display(),
                        String::from_utf8_lossy(&out.stderr)
                    ));
                }
            }
            let mut cmd = if as_postgres {
                let mut c = Command::new("runuser");
                c.args(["-u", "postgres", "--"]).arg(&binary);
                c
            } else {
                Command::new(&binary)
            };
            cmd.arg(me.ini_path())
                .current_dir(&me.dir)
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(Stdio::null());
            me.child = Some(
                cmd.spawn()
                    .map_err(|e| format!("spawning {}: {e}", binary.display()))?,
            );
            match me.wait_ready() {
                Ok(()) => return Ok(me),
                Err(e) if attempts < 3 && me.log().contains("Address already in use") => {
                    let _ = e;
                    me.kill();
                }
                Err(e) => return Err(e),
            }
        }
    }

    fn ini_path(&self) -> PathBuf {
        self.dir.join("pgbouncer.ini")
    }

    fn pid_path(&self) -> PathBuf {
        self.dir.join("pgbouncer.pid")
    }

    fn log_path(&self) -> PathBuf {
        self.dir.join("pgbouncer.log")
    }

    fn write_files(
        &self,
        server_host: &str,
        server_port: u16,
        opts: &PgBouncerOptions,
    ) -> Result<(), String> {
        let userlist = format!("\"{TRUST_USER}\" \"\"\n\"{SUPERUSER}\" \"\"\n");
        let mut ini = format!(
            "[databases]\n\
             * = host={server_host} port={server_port}\n\
             \n\
             [pgbouncer]\n\
             listen_addr = 127.0.0.1\n\
             listen_port = {port}\n\
             unix_socket_dir =\n\
             auth_type = trust\n\
             auth_file = {userlist}\n\
             pool_mode = {mode}\n\
             default_pool_size = {size}\n\
             min_pool_size = 0\n\
             reserve_pool_size = 0\n\
             max_client_conn = 200\n\
             server_tls_sslmode = disable\n\
             client_tls_sslmode = disable\n\
             logfile = {log}\n\
             pidfile = {pid}\n\
             admin_users = {SUPERUSER}\n\
             stats_users = {SUPERUSER}\n\
             ignore_startup_parameters = extra_float_digits,options\n",
            port = self.port,
            userlist = self.dir.join("userlist.txt").display(),
            mode = opts.pool_mode.ini(),
            size = opts.pool_size,
            log = self.log_path().display(),
            pid = self.pid_path().display(),
        );
        for line in &opts.extra {
            ini.push_str(line);
            ini.push('\n');
        }
        write_file(&self.dir.join("userlist.txt"), &userlist)?;
        write_file(&self.ini_path(), &ini)
    }

    /// Polls until the port accepts a connection, or the process exited, or 20 s passed.
    fn wait_ready(&mut self) -> Result<(), String> {
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            if let Some(child) = self.child.as_mut() {
                if let Ok(Some(status)) = child.try_wait() {
                    return Err(format!(
                        "pgbouncer exited at startup ({status}); its log:\n{}",
                        self.log()
                    ));
                }
            }
            if TcpStream::connect(("127.0.0.1", self.port)).is_ok() {
                return Ok(());
            }
            if Instant::now() >= deadline {
                return Err(format!(
                    "pgbouncer did not listen on 127.0.0.1:{} within 20 s; its log:\n{}",
                    self.port,
                    self.log()
                ));
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// The host clients connect to.
    pub fn host(&self) -> &str {
        "127.0.0.1"
    }

    /// The port PgBouncer listens on.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// `postgres://user@127.0.0.1:port/dbname?sslmode=disable` plus `extra` query
    /// parameters (`key=value&...`, already encoded), for a role the userlist trusts.
    pub fn url(&self, user: &str, dbname: &str, extra: &str) -> String {
        let mut url = format!(
            "postgres://{user}@127.0.0.1:{}/{dbname}?sslmode=disable",
            self.port
        );
        if !extra.is_empty() {
            url.push('&');
            url.push_str(extra);
        }
        url
    }

    /// PgBouncer's log so far.
    pub fn log(&self) -> String {
        fs::read_to_string(self.log_path()).unwrap_or_default()
    }

    /// Stops PgBouncer and removes its directory.
    pub fn stop(mut self) {
        self.shutdown();
    }

    fn kill(&mut self) {
        if let Ok(pid) = fs::read_to_string(self.pid_path()) {
            let pid = pid.trim();
            if !pid.is_empty() && pid.bytes().all(|b| b.is_ascii_digit()) {
                let _ = Command::new("kill").args(["-TERM", pid]).status();
            }
        }
        if let Some(mut child) = self.child.take() {
            let deadline = Instant::now() + Duration::from_secs(5);
            loop {
                match child.try_wait() {
                    Ok(Some(_)) | Err(_) => break,
                    Ok(None) if Instant::now() >= deadline => {
                        let _ = child.kill();
                        let _ = child.wait();
                        break;
                    }
                    Ok(None) => std::thread::sleep(Duration::from_millis(20)),
                }
            }
        }
        let _ = fs::remove_file(self.pid_path());
    }

    fn shutdown(&mut self) {
        self.kill();
        let _ = fs::remove_dir_all(&self.dir);
        if let Some(mut w) = self.watchdog.take() {
            let _ = w.kill();
            let _ = w.wait();
        }
    }

    /// A detached shell that stops PgBouncer and removes the directory once this process
    /// is gone. It runs in its own process group so a Ctrl-C to the tests does not kill it.
    fn spawn_watchdog(&self) -> Result<Child, String> {
        use std::os::unix::process::CommandExt;
        let script = format!(
            "while kill -0 {pid} 2>/dev/null; do sleep 0.5; done; \
             if [ -f {pidfile} ]; then kill -TERM \"$(cat {pidfile})\" 2>/dev/null; fi; \
             sleep 1; rm -rf {dir}",
            pid = std::process::id(),
            pidfile = sh_quote(&self.pid_path().to_string_lossy()),
            dir = sh_quote(&self.dir.to_string_lossy()),
        );
        Command::new("sh")
            .arg("-c")
            .arg(script)
            .current_dir("/")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .process_group(0)
            .spawn()
            .map_err(|e| format!("spawning the pgbouncer cleanup watchdog: {e}"))
    }
}

impl Drop for TempPgBouncer {
    fn drop(&mut self) {
        self.shutdown();
    }
}

/// The shared PgBouncer of the test binary, started on first use in front of the server
/// under test ([`super::server`]): transaction pooling, one server connection per user and
/// database. Panics (never skips) when it cannot start.
pub fn pgbouncer() -> &'static TempPgBouncer {
    static SHARED: OnceLock<TempPgBouncer> = OnceLock::new();
    SHARED.get_or_init(|| {
        let s = super::server();
        TempPgBouncer::start(s.host(), s.port(), &PgBouncerOptions::default())
            .unwrap_or_else(|e| panic!("could not start PgBouncer: {e}"))
    })
}

fn find_pgbouncer() -> Option<PathBuf> {
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .chain(["/usr/sbin", "/usr/bin", "/sbin", "/bin"].map(PathBuf::from))
        .map(|d| d.join("pgbouncer"))
        .find(|p| p.is_file())
}

fn effective_uid_is_root() -> bool {
    fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("Uid:"))
                .map(|l| l.split_whitespace().nth(2) == Some("0"))
        })
        .unwrap_or(false)
}

fn free_port() -> Result<u16, String> {
    let l = TcpListener::bind(("127.0.0.1", 0)).map_err(|e| format!("binding a port: {e}"))?;
    l.local_addr()
        .map(|a| a.port())
        .map_err(|e| format!("reading the free port: {e}"))
}

fn make_temp_dir() -> Result<PathBuf, String> {
    use std::sync::atomic::{AtomicU32, Ordering};
    static N: AtomicU32 = AtomicU32::new(0);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or(0);
    for _ in 0..100 {
        let dir = PathBuf::from(format!(
            "/tmp/pgline-pgbouncer-{}-{}-{nanos}",
            std::process::id(),
            N.fetch_add(1, Ordering::Relaxed)
        ));
        match fs::create_dir(&dir) {
            Ok(()) => {
                // The postgres user must traverse it even before the chown.
                let _ = fs::set_permissions(&dir, fs::Permissions::from_mode(0o755));
                return Ok(dir);
            }
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {}
            Err(e) => return Err(format!("creating {}: {e}", dir.display())),
        }
    }
    Err("could not create a temporary directory for pgbouncer".into())
}

fn write_file(path: &Path, text: &str) -> Result<(), String> {
    let mut f = fs::File::create(path).map_err(|e| format!("creating {}: {e}", path.display()))?;
    f.write_all(text.as_bytes())
        .map_err(|e| format!("writing {}: {e}", path.display()))
}

fn sh_quote(s: &str) -> String {
    format!("'{}'", s.replace('\'', "'\\''"))
}
