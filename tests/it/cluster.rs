//! The test cluster itself: it starts, every auth role works with the intended method,
//! and it cleans up after itself. Uses tokio-postgres only as an independent client.

use crate::support::{cluster, server, start_cluster};
use pgline::cluster::*;
use std::net::TcpStream;
use std::time::{Duration, Instant};
use tokio_postgres::error::SqlState;
use tokio_postgres::NoTls;

async fn connect(user: &str, password: Option<&str>) -> Result<String, tokio_postgres::Error> {
    let (client, conn) =
        tokio_postgres::connect(&server().url(user, password, "postgres"), NoTls).await?;
    let task = tokio::spawn(conn);
    let row = client.query_one("SELECT current_user::text", &[]).await?;
    drop(client);
    let _ = task.await;
    Ok(row.get(0))
}

async fn assert_wrong_password_rejected(user: &str) {
    let err = connect(user, Some("definitely-wrong"))
        .await
        .expect_err("wrong password accepted");
    assert_eq!(err.code(), Some(&SqlState::INVALID_PASSWORD), "{err:?}");
}

/// The server-log line for a successful authentication of `user`, once it appears.
fn auth_log_line(user: &str) -> String {
    let needle = format!("identity=\"{user}\"");
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let log = cluster().server_log();
        if let Some(l) = log
            .lines()
            .find(|l| l.contains("connection authenticated") && l.contains(&needle))
        {
            return l.to_owned();
        }
        assert!(
            Instant::now() < deadline,
            "no auth line for {user} in log:\n{log}"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[tokio::test]
async fn superuser_connects_over_tcp_without_a_password() {
    assert_eq!(connect(SUPERUSER, None).await.unwrap(), "postgres");
}

#[tokio::test]
async fn trust_role_connects_without_a_password() {
    assert_eq!(connect(TRUST_USER, None).await.unwrap(), TRUST_USER);
}

#[tokio::test]
async fn password_role_authenticates_with_cleartext_exchange() {
    assert_eq!(
        connect(PASSWORD_USER, Some(PASSWORD_USER_PW))
            .await
            .unwrap(),
        PASSWORD_USER
    );
    assert_wrong_password_rejected(PASSWORD_USER).await;
    let line = auth_log_line(PASSWORD_USER);
    assert!(
        line.contains("method=password") && line.contains("pg_hba.conf:4)"),
        "{line}"
    );
}

#[tokio::test]
async fn md5_role_authenticates_with_md5_exchange() {
    assert_eq!(
        connect(MD5_USER, Some(MD5_USER_PW)).await.unwrap(),
        MD5_USER
    );
    assert_wrong_password_rejected(MD5_USER).await;
    let line = auth_log_line(MD5_USER);
    assert!(
        line.contains("method=md5") && line.contains("pg_hba.conf:5)"),
        "{line}"
    );
}

#[tokio::test]
async fn scram_role_authenticates_with_scram_sha_256() {
    assert_eq!(
        connect(SCRAM_USER, Some(SCRAM_USER_PW)).await.unwrap(),
        SCRAM_USER
    );
    assert_wrong_password_rejected(SCRAM_USER).await;
    let line = auth_log_line(SCRAM_USER);
    assert!(
        line.contains("method=scram-sha-256") && line.contains("pg_hba.conf:6)"),
        "{line}"
    );
}

#[tokio::test]
async fn scram_role_with_non_ascii_password_authenticates() {
    assert_eq!(
        connect(SCRAM_UTF8_USER, Some(SCRAM_UTF8_USER_PW))
            .await
            .unwrap(),
        SCRAM_UTF8_USER
    );
    assert_wrong_password_rejected(SCRAM_UTF8_USER).await;
    let line = auth_log_line(SCRAM_UTF8_USER);
    assert!(
        line.contains("method=scram-sha-256") && line.contains("pg_hba.conf:6)"),
        "{line}"
    );
}

#[test]
fn passwords_are_stored_with_the_intended_hash() {
    let out = cluster()
        .psql("SELECT rolname || '=' || left(rolpassword, 14) FROM pg_authid WHERE rolname LIKE 'pgline%' AND rolpassword IS NOT NULL ORDER BY 1")
        .unwrap();
    assert!(out.contains("pgline_md5=md5"), "{out}");
    assert!(out.contains("pgline_scram=SCRAM-SHA-256$"), "{out}");
    assert!(out.contains("pgline_scram_utf8=SCRAM-SHA-256$"), "{out}");
}

#[test]
fn psql_reports_sql_errors_with_the_server_message() {
    let err = cluster()
        .psql("SELECT no_such_column;")
        .unwrap_err()
        .to_string();
    assert!(err.contains("no_such_column"), "{err}");
}

fn port_accepts(port: u16) -> bool {
    TcpStream::connect_timeout(&([127, 0, 0, 1], port).into(), Duration::from_secs(1)).is_ok()
}

#[test]
fn stopped_cluster_removes_its_directory_and_closes_its_port() {
    let c = start_cluster();
    let (dir, port) = (c.data_dir().parent().unwrap().to_owned(), c.port());
    assert!(dir.exists() && port_accepts(port));
    c.stop();
    assert!(!dir.exists(), "{} still exists", dir.display());
    assert!(!port_accepts(port), "port {port} still accepts connections");
}

#[test]
fn dropped_cluster_cleans_up_like_stop() {
    let c = start_cluster();
    let (dir, port) = (c.data_dir().parent().unwrap().to_owned(), c.port());
    drop(c);
    assert!(!dir.exists() && !port_accepts(port));
}

#[test]
fn restart_keeps_port_and_socket() {
    let c = start_cluster();
    c.pg_ctl(&["restart", "-m", "fast"]).unwrap();
    assert!(port_accepts(c.port()));
    assert_eq!(c.psql("SELECT 1").unwrap().trim(), "1");
    c.pg_ctl(&["stop", "-m", "immediate"]).unwrap();
    assert!(!port_accepts(c.port()));
    c.pg_ctl(&["start"]).unwrap();
    assert_eq!(c.psql("SELECT 2").unwrap().trim(), "2");
}

const WATCHDOG_ENV: &str = "PGLINE_WATCHDOG_CHILD_OUT";

/// Not a test of its own: when run by the test below (with `WATCHDOG_ENV` set), it starts a
/// cluster and exits the process without running destructors. Otherwise it does nothing.
#[test]
fn watchdog_helper_exits_without_destructors_when_asked() {
    let Ok(out) = std::env::var(WATCHDOG_ENV) else {
        return;
    };
    let c = start_cluster();
    let dir = c.data_dir().parent().unwrap().display().to_string();
    std::fs::write(out, format!("{dir}\n{}\n", c.port())).unwrap();
    std::process::exit(0);
}

#[test]
fn watchdog_removes_cluster_when_test_process_exits_without_destructors() {
    let out = std::env::temp_dir().join(format!("pgline-watchdog-{}", std::process::id()));
    let status = std::process::Command::new(std::env::current_exe().unwrap())
        .args([
            "--exact",
            "cluster::watchdog_helper_exits_without_destructors_when_asked",
            "--test-threads=1",
        ])
        .env(WATCHDOG_ENV, &out)
        .stdout(std::process::Stdio::null())
        .status()
        .unwrap();
    assert!(status.success());
    let info = std::fs::read_to_string(&out).unwrap();
    let _ = std::fs::remove_file(&out);
    let mut lines = info.lines();
    let dir = std::path::PathBuf::from(lines.next().unwrap());
    let port: u16 = lines.next().unwrap().parse().unwrap();
    let deadline = Instant::now() + Duration::from_secs(20);
    while (dir.exists() || port_accepts(port)) && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(100));
    }
    assert!(!dir.exists(), "{} still exists", dir.display());
    assert!(!port_accepts(port), "port {port} still accepts connections");
}
