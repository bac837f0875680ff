//! The `pgline` command-line tool: exit codes, the summary line, errors that name the
//! failing row and SQLSTATE.

use std::io::Write;
use std::process::{Command, Output};

use crate::support::conn::{connect, table};

fn url() -> String {
    crate::support::server().url("postgres", None, "postgres")
}

fn pgline(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_pgline"))
        .args(args)
        .env_remove("DATABASE_URL")
        .output()
        .expect("run pgline")
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

fn csv_file(rows: &[String]) -> tempfile_path::TempPath {
    let p = tempfile_path::TempPath::new("csv");
    let mut f = std::fs::File::create(&p.0).unwrap();
    for r in rows {
        writeln!(f, "{r}").unwrap();
    }
    p
}

mod tempfile_path {
    /// A file path removed on drop.
    pub(super) struct TempPath(pub(super) std::path::PathBuf);

    impl TempPath {
        pub(super) fn new(ext: &str) -> Self {
            use std::sync::atomic::{AtomicU32, Ordering};
            static N: AtomicU32 = AtomicU32::new(0);
            let n = N.fetch_add(1, Ordering::Relaxed);
            Self(std::env::temp_dir().join(format!("pgline-cli-{}-{n}.{ext}", std::process::id())))
        }
        pub(super) fn as_str(&self) -> &str {
            self.0.to_str().unwrap()
        }
    }

    impl Drop for TempPath {
        fn drop(&mut self) {
            let _ = std::fs::remove_file(&self.0);
        }
    }
}

#[tokio::test]
async fn load_by_copy_and_by_pipeline_prints_the_summary_and_exits_zero() {
    let mut c = connect().await;
    for mode in ["copy", "pipeline", "auto"] {
        let t = table("cli_load");
        c.batch_execute(&format!(
            "CREATE TABLE {t} (id int8, name text, score float8)"
        ))
        .await
        .unwrap();
        let mut rows = vec!["id,name,score".to_string()];
        rows.extend((0..1000).map(|i| format!("{i},\"name, {i}\",{}.5", i % 7)));
        rows.push("1000,,".into()); // NULLs
        let f = csv_file(&rows);
        let out = pgline(&[
            "load",
            "--url",
            &url(),
            "--table",
            &t,
            "--header",
            "--mode",
            mode,
            f.as_str(),
        ]);
        let stdout = text(&out.stdout);
        assert!(
            out.status.success(),
            "{mode}: {}{}",
            stdout,
            text(&out.stderr)
        );
        let via = if mode == "pipeline" {
            "pipeline"
        } else {
            "copy"
        };
        assert!(stdout.starts_with("loaded 1001 rows in "), "{stdout}");
        assert!(
            stdout.trim_end().ends_with(&format!("rows/s) via {via}")),
            "{stdout}"
        );
        let n = c
            .query_one(
                format!("SELECT count(*), count(name) FROM {t}").as_str(),
                &[],
            )
            .await
            .unwrap();
        assert_eq!(n.get::<i64>(0).unwrap(), 1001);
        assert_eq!(n.get::<i64>(1).unwrap(), 1000, "the empty field is NULL");
        let r = c
            .query_one(format!("SELECT name FROM {t} WHERE id = 5").as_str(), &[])
            .await
            .unwrap();
        assert_eq!(r.get::<&str>(0).unwrap(), "name, 5");
    }
}

#[tokio::test]
async fn load_failure_exits_one_and_names_the_row_and_sqlstate() {
    let mut c = connect().await;
    let t = table("cli_bad");
    c.batch_execute(&format!("CREATE TABLE {t} (id int PRIMARY KEY)"))
        .await
        .unwrap();
    let f = csv_file(&["1".into(), "2".into(), "2".into(), "3".into()]);
    let out = pgline(&[
        "load",
        "--url",
        &url(),
        "--table",
        &t,
        "--mode",
        "pipeline",
        f.as_str(),
    ]);
    assert_eq!(out.status.code(), Some(1));
    let err = text(&out.stderr);
    assert!(err.contains("row 3 failed"), "{err}");
    assert!(err.contains("23505"), "{err}");
    let n = c
        .query_one(format!("SELECT count(*) FROM {t}").as_str(), &[])
        .await
        .unwrap();
    assert_eq!(
        n.get::<i64>(0).unwrap(),
        0,
        "one transaction: nothing committed"
    );
}

#[tokio::test]
async fn query_prints_an_aligned_table_or_tsv() {
    let out = pgline(&[
        "query",
        "--url",
        &url(),
        "SELECT 1 AS a, 'xyz' AS bb UNION ALL SELECT 22, NULL",
    ]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let s = text(&out.stdout);
    assert_eq!(s, "a  | bb \n---+----\n1  | xyz\n22 |    \n(2 rows)\n");
    let out = pgline(&["query", "--tsv", "--url", &url(), "SELECT 1 AS a, 'x' AS b"]);
    assert_eq!(text(&out.stdout), "a\tb\n1\tx\n");
}

#[tokio::test]
async fn query_error_exits_one_with_the_sqlstate() {
    let out = pgline(&["query", "--url", &url(), "SELECT * FROM no_such_table"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(text(&out.stderr).contains("42P01"), "{}", text(&out.stderr));
}

#[tokio::test]
async fn demo_without_a_url_starts_its_own_cluster_and_reports_both_methods() {
    let out = pgline(&["demo", "--rows", "20000"]);
    let stdout = text(&out.stdout);
    assert!(out.status.success(), "{stdout}{}", text(&out.stderr));
    assert!(stdout.contains("execute_many (pipelined)"), "{stdout}");
    assert!(stdout.contains("COPY (binary)"), "{stdout}");
    assert!(stdout.contains("table held 20000 rows"), "{stdout}");
    assert!(text(&out.stderr).contains("stopped the throwaway cluster"));
}

/// `pgline query` against the TLS-enabled test cluster: with the defaults (sslmode=prefer)
/// and with verify-full, the server sees an encrypted session; a wrong CA or a host name
/// the certificate does not name fails, saying which.
#[cfg(feature = "rustls")]
#[test]
fn query_connects_over_tls_by_default_and_with_verify_full_and_says_why_verification_fails() {
    let server = crate::support::tls_server();
    let files = crate::support::tls::tls_files();
    let ssl = "SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()";
    let plain_url = server.url("postgres", None, "postgres");
    let out = pgline(&["query", "--url", &plain_url, ssl]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(
        text(&out.stdout).lines().any(|l| l.trim() == "t"),
        "{}",
        text(&out.stdout)
    );

    let verified = format!(
        "postgres://postgres@localhost:{}/postgres?sslmode=verify-full&sslrootcert={}",
        server.port(),
        files.ca.display()
    );
    let out = pgline(&["query", "--url", &verified, ssl]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(
        text(&out.stdout).lines().any(|l| l.trim() == "t"),
        "{}",
        text(&out.stdout)
    );

    let wrong_ca = verified.replace(
        &files.ca.display().to_string(),
        &files.wrong_ca.display().to_string(),
    );
    let out = pgline(&["query", "--url", &wrong_ca, "SELECT 1"]);
    assert!(!out.status.success());
    assert!(
        text(&out.stderr).contains("not signed by a trusted root"),
        "{}",
        text(&out.stderr)
    );
    let wrong_host = verified.replace("@localhost:", "@127.0.0.1:");
    let out = pgline(&["query", "--url", &wrong_host, "SELECT 1"]);
    assert!(!out.status.success());
    assert!(
        text(&out.stderr).contains("does not match the host name"),
        "{}",
        text(&out.stderr)
    );
}

/// A connect timeout too large for a `Duration` is a clear configuration error (exit 1),
/// never a panic (exit 101), from the URL and from `PGCONNECT_TIMEOUT`.
#[test]
fn huge_connect_timeouts_are_config_errors_not_panics() {
    let url = format!("{}?connect_timeout=1e20", url());
    let out = pgline(&["query", "--url", &url, "SELECT 1"]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stderr));
    assert!(
        text(&out.stderr).contains("connect_timeout"),
        "{}",
        text(&out.stderr)
    );
    let out = Command::new(env!("CARGO_BIN_EXE_pgline"))
        .args([
            "query",
            "--url",
            &crate::support::server().url("postgres", None, "postgres"),
            "SELECT 1",
        ])
        .env_remove("DATABASE_URL")
        .env("PGCONNECT_TIMEOUT", "1e20")
        .output()
        .expect("run pgline");
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stderr));
    assert!(
        text(&out.stderr).contains("PGCONNECT_TIMEOUT"),
        "{}",
        text(&out.stderr)
    );
}

#[test]
fn query_reads_sql_from_a_file_or_stdin_and_writes_csv_like_psql() {
    let sql = "SELECT 1 AS n, 'a,b' AS comma, 'say \"hi\"' AS quote, '' AS empty, \
               NULL::text AS nothing, E'two\\nlines' AS nl";
    let expected =
        "n,comma,quote,empty,nothing,nl\n1,\"a,b\",\"say \"\"hi\"\"\",\"\",,\"two\nlines\"\n";
    let f = csv_file(&[sql.to_string()]);
    let out = pgline(&["query", "--url", &url(), "--csv", "-f", f.as_str()]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_eq!(text(&out.stdout), expected);

    let mut child = Command::new(env!("CARGO_BIN_EXE_pgline"))
        .args(["query", "--url", &url(), "--csv"])
        .env_remove("DATABASE_URL")
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(sql.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_eq!(text(&out.stdout), expected);
}

#[test]
fn query_help_lists_the_connection_parameters_that_matter() {
    let out = pgline(&["query", "--help"]);
    let help = text(&out.stdout);
    for p in [
        "sslmode",
        "sslrootcert",
        "connect_timeout",
        "query_timeout",
        "channel_binding",
        "-f, --file",
        "--csv",
    ] {
        assert!(help.contains(p), "{p} missing from:\n{help}");
    }
}
