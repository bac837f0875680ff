//! The published iris-pgwire servers, run unmodified on loopback for the IRIS end-to-end
//! tests (see `tests/iris/README.md`): 1.7.3 (the newest release, [`connect`]) and 1.0.1
//! (the second release, which behaves differently, [`connect_release`] with
//! [`Release::V1_0_1`]).
//!
//! On first use of a release the harness builds (or reuses) its venv with
//! `tests/iris/setup.sh [--release 1.0.1]`, starts `tests/iris/serve.py` with that venv's
//! python on a free port and waits for its `READY <port>` line. The launcher stops the
//! server when this test binary exits (it watches its parent). Set `PGLINE_TEST_IRIS_PORT`
//! (1.7.3) or `PGLINE_TEST_IRIS_1_0_1_PORT` (1.0.1) to use a server that is already
//! running. Nothing is ever skipped: if a server cannot start, the test panics with the
//! reason.

use std::io::{BufRead, BufReader};
use std::ops::{Deref, DerefMut};
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::sync::OnceLock;

use std::time::Duration;
use tokio::sync::{Mutex, MutexGuard};

use pgline::{Config, Connection};

/// A running iris-pgwire server.
pub struct IrisServer {
    port: u16,
    log: Option<PathBuf>,
    trace: Option<PathBuf>,
}

impl IrisServer {
    /// Its TCP port on 127.0.0.1.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// The server's log file, when the harness started it.
    pub fn log(&self) -> Option<&PathBuf> {
        self.log.as_ref()
    }

    /// The stand-in's execution trace (`IRIS_STUB_TRACE`: one line per statement IRIS was
    /// asked to run), when the harness started the server (or `PGLINE_TEST_IRIS_TRACE`
    /// names the trace of a server started elsewhere).
    pub fn trace(&self) -> Option<&PathBuf> {
        self.trace.as_ref()
    }
}

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// A published iris-pgwire release the harness can run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Release {
    /// 1.7.3, the newest release (`tests/iris/requirements.txt`).
    V1_7_3,
    /// 1.0.1 (`tests/iris/requirements-1.0.1.txt`): ROLLBACK undoes nothing, DML tags are
    /// `INSERT 0 0 0`, every IRIS error is SQLSTATE 42000.
    V1_0_1,
}

impl Release {
    /// The version string, as `Config::iris_pgwire_version` takes it.
    pub fn version(self) -> &'static str {
        match self {
            Self::V1_7_3 => "1.7.3",
            Self::V1_0_1 => "1.0.1",
        }
    }

    fn port_var(self) -> &'static str {
        match self {
            Self::V1_7_3 => "PGLINE_TEST_IRIS_PORT",
            Self::V1_0_1 => "PGLINE_TEST_IRIS_1_0_1_PORT",
        }
    }
}

fn start(release: Release) -> IrisServer {
    let var = release.port_var();
    if let Ok(port) = std::env::var(var) {
        let port = port
            .parse()
            .unwrap_or_else(|e| panic!("{var}={port:?} is not a port: {e}"));
        let trace = std::env::var_os("PGLINE_TEST_IRIS_TRACE").map(PathBuf::from);
        return IrisServer {
            port,
            log: None,
            trace,
        };
    }
    let mut setup = Command::new("sh");
    setup.arg(repo().join("tests/iris/setup.sh"));
    if release != Release::V1_7_3 {
        setup.arg("--release").arg(release.version());
    }
    let setup = setup
        .stderr(Stdio::inherit())
        .output()
        .unwrap_or_else(|e| panic!("could not run tests/iris/setup.sh: {e}"));
    assert!(
        setup.status.success(),
        "tests/iris/setup.sh failed ({}): the iris-pgwire {} venv could not be built",
        setup.status,
        release.version()
    );
    let venv = String::from_utf8_lossy(&setup.stdout).trim().to_owned();
    let log = std::env::temp_dir().join(format!(
        "pgline-iris-{}-{}.log",
        release.version(),
        std::process::id()
    ));
    let trace = std::env::temp_dir().join(format!(
        "pgline-iris-{}-{}.trace",
        release.version(),
        std::process::id()
    ));
    // A file of an earlier run whose process had the same id would be appended to (and
    // its executions counted): start from none.
    let _ = std::fs::remove_file(&trace);
    // The launcher stops the server when its parent dies, and Linux ties that to the
    // *thread* that spawned it (PR_SET_PDEATHSIG): spawn it from a thread that lives as
    // long as the launcher (it drains the launcher's stdout), not from a test's thread.
    let (tx, rx) = std::sync::mpsc::channel();
    let (python, script, log_arg, trace_arg) = (
        PathBuf::from(&venv).join("bin/python"),
        repo().join("tests/iris/serve.py"),
        log.clone(),
        trace.clone(),
    );
    std::thread::spawn(move || {
        let child = Command::new(python)
            .arg(script)
            .arg("0")
            .arg("--log")
            .arg(log_arg)
            .env("IRIS_STUB_TRACE", trace_arg)
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn();
        let mut child = match child {
            Ok(c) => c,
            Err(e) => {
                let _ = tx.send(Err(format!("could not start tests/iris/serve.py: {e}")));
                return;
            }
        };
        let Some(stdout) = child.stdout.take() else {
            let _ = tx.send(Err("launcher stdout not piped".to_owned()));
            return;
        };
        let mut lines = BufReader::new(stdout).lines();
        let first = match lines.next() {
            Some(Ok(line)) => Ok(line),
            other => Err(format!("launcher exited before READY ({other:?})")),
        };
        let _ = tx.send(first);
        // Keep draining (and keep this thread alive) until the launcher exits.
        for _ in lines {}
        let _ = child.wait();
    });
    let line = match rx.recv_timeout(Duration::from_secs(60)) {
        Ok(Ok(line)) => line,
        Ok(Err(e)) => panic!("iris-pgwire: {e}; log: {}", log.display()),
        Err(_) => panic!(
            "iris-pgwire did not start within 60 s; log: {}",
            log.display()
        ),
    };
    let port = line
        .strip_prefix("READY ")
        .and_then(|p| p.trim().parse().ok())
        .unwrap_or_else(|| panic!("unexpected launcher output {line:?}"));
    IrisServer {
        port,
        log: Some(log),
        trace: Some(trace),
    }
}

/// The iris-pgwire 1.7.3 server, started on first use.
pub fn server() -> &'static IrisServer {
    server_of(Release::V1_7_3)
}

/// The server of `release`, started on first use.
pub fn server_of(release: Release) -> &'static IrisServer {
    static V173: OnceLock<IrisServer> = OnceLock::new();
    static V101: OnceLock<IrisServer> = OnceLock::new();
    match release {
        Release::V1_7_3 => V173.get_or_init(|| start(release)),
        Release::V1_0_1 => V101.get_or_init(|| start(release)),
    }
}

/// A config for the iris-pgwire 1.7.3 server (trust: any user is accepted).
pub fn config() -> Config {
    config_of(Release::V1_7_3)
}

/// A config for the server of `release` (trust: any user is accepted), with the release
/// declared (`Config::iris_pgwire_version`: the server does not report it).
pub fn config_of(release: Release) -> Config {
    let mut cfg = config_undeclared(release);
    cfg.iris_pgwire_version(
        release
            .version()
            .parse()
            .expect("the harness's releases parse"),
    );
    cfg
}

/// [`config_of`] without the release declared: pgline then assumes the least any
/// release can do.
pub fn config_undeclared(release: Release) -> Config {
    let mut cfg = Config::new();
    cfg.host("127.0.0.1")
        .port(server_of(release).port())
        .user("pgline")
        .dbname("USER")
        .query_timeout(Some(Duration::from_secs(60)));
    cfg
}

/// A connection to the iris-pgwire server, holding the suite's lock.
///
/// All sessions share one sqlite file behind the server, and a session inside a write
/// transaction makes the others wait (up to the stand-in's 10 s busy timeout per
/// statement), so the IRIS tests take turns: the lock is held until the connection is
/// dropped.
pub struct IrisConn {
    conn: Connection,
    _turn: MutexGuard<'static, ()>,
}

impl Deref for IrisConn {
    type Target = Connection;
    fn deref(&self) -> &Connection {
        &self.conn
    }
}

impl DerefMut for IrisConn {
    fn deref_mut(&mut self) -> &mut Connection {
        &mut self.conn
    }
}

/// Waits for this test's turn on the shared 1.7.3 server (see [`IrisConn`]).
pub async fn turn() -> MutexGuard<'static, ()> {
    turn_of(Release::V1_7_3).await
}

/// Waits for this test's turn on the server of `release` (each release has its own
/// server, database and turn).
pub async fn turn_of(release: Release) -> MutexGuard<'static, ()> {
    static V173: Mutex<()> = Mutex::const_new(());
    static V101: Mutex<()> = Mutex::const_new(());
    server_of(release);
    match release {
        Release::V1_7_3 => V173.lock().await,
        Release::V1_0_1 => V101.lock().await,
    }
}

/// Connects to the iris-pgwire 1.7.3 server once it is this test's turn.
pub async fn connect() -> IrisConn {
    connect_release(Release::V1_7_3).await
}

/// Connects to the server of `release` once it is this test's turn.
pub async fn connect_release(release: Release) -> IrisConn {
    connect_with(release, config_of(release)).await
}

/// Connects to the server of `release` with `cfg` (made from [`config_of`]) once it is
/// this test's turn.
pub async fn connect_with(release: Release, cfg: Config) -> IrisConn {
    let turn = turn_of(release).await;
    let conn = Connection::connect(&cfg)
        .await
        .unwrap_or_else(|e| panic!("connect to iris-pgwire {}: {e}", release.version()));
    IrisConn { conn, _turn: turn }
}
