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
    auth_log_line_of(cluster(), user)
}

/// The line in `cluster`'s log for a successful authentication as `identity` (the user
/// name, or the certificate's subject for `cert`), once it appears.
fn auth_log_line_of(cluster: &TempCluster, identity: &str) -> String {
    let needle = format!("identity=\"{identity}\"");
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let log = cluster.server_log();
        if let Some(l) = log
            .lines()
            .find(|l| l.contains("connection authenticated") && l.contains(&needle))
        {
            return l.to_owned();
        }
        assert!(
            Instant::now() < deadline,
            "no auth line for {identity} in log:\n{log}"
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
        line.contains("method=password") && line.contains("pg_hba.conf:7)"),
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
        line.contains("method=md5") && line.contains("pg_hba.conf:8)"),
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
        line.contains("method=scram-sha-256") && line.contains("pg_hba.conf:10)"),
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
        line.contains("method=scram-sha-256") && line.contains("pg_hba.conf:10)"),
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

/// TLS in the test clusters: the certificates from `support::tls` and the `hostssl` /
/// `hostnossl` lines. tokio-postgres over rustls and libpq (`psql`) are the independent
/// clients. Needs rustls, an optional dependency (the `rustls` feature, on by default).
#[cfg(feature = "rustls")]
mod tls {
    use super::auth_log_line_of;
    use crate::support::tls::{client_config, sec1_pem, tls_files, OTHER_CLIENT_CN};
    use crate::support::{expired_tls_server, plain_server, tls_server};
    use pgline::cluster::*;
    use rustls::CertificateError;
    use std::io::{Read, Write};
    use std::net::{Ipv4Addr, TcpStream};
    use std::os::unix::fs::{MetadataExt, PermissionsExt};
    use std::path::Path;
    use std::process::{Command, Stdio};
    use std::time::Duration;
    use tokio_postgres::config::SslMode;
    use tokio_postgres::error::SqlState;
    use tokio_postgres::tls::MakeTlsConnect;
    use tokio_postgres::{Config, NoTls, Socket};
    use tokio_postgres_rustls::MakeRustlsConnect;

    /// What the server says about a session.
    #[derive(Debug)]
    struct Session {
        user: String,
        database: String,
        ssl: bool,
        client_dn: Option<String>,
    }

    /// A config for `cluster` as `host` (always reached at 127.0.0.1, so `localhost` never
    /// tries `::1`; the host name is what TLS verifies).
    fn config(cluster: &TempCluster, host: &str, user: &str, dbname: &str) -> Config {
        let mut cfg = Config::new();
        cfg.host(host)
            .hostaddr(Ipv4Addr::LOCALHOST.into())
            .port(cluster.port())
            .user(user)
            .dbname(dbname)
            .connect_timeout(Duration::from_secs(10));
        cfg
    }

    async fn session<T>(cfg: &Config, tls: T) -> Result<Session, tokio_postgres::Error>
    where
        T: MakeTlsConnect<Socket>,
        T::Stream: Send + 'static,
    {
        let (client, conn) = cfg.connect(tls).await?;
        let task = tokio::spawn(conn);
        let row = client
            .query_one(
                "SELECT current_user::text, current_database()::text, ssl, client_dn \
                 FROM pg_stat_ssl WHERE pid = pg_backend_pid()",
                &[],
            )
            .await?;
        drop(client);
        let _ = task.await;
        Ok(Session {
            user: row.get(0),
            database: row.get(1),
            ssl: row.get(2),
            client_dn: row.get(3),
        })
    }

    /// A session over TLS (`sslmode=require`, the certificate verified by rustls against
    /// `root` and `host`), with the client certificate `client` if given.
    async fn tls_session(
        mut cfg: Config,
        root: &Path,
        client: Option<(&Path, &Path)>,
    ) -> Result<Session, tokio_postgres::Error> {
        cfg.ssl_mode(SslMode::Require);
        session(&cfg, MakeRustlsConnect::new(client_config(root, client))).await
    }

    async fn plain_session(mut cfg: Config) -> Result<Session, tokio_postgres::Error> {
        cfg.ssl_mode(SslMode::Disable);
        session(&cfg, NoTls).await
    }

    /// The certificate error rustls reported, found in the error's source chain (an
    /// `io::Error` hides its payload from `source()`, so look inside those too).
    fn certificate_error(e: &tokio_postgres::Error) -> Option<&CertificateError> {
        let mut next = std::error::Error::source(e);
        while let Some(err) = next {
            let inner = err
                .downcast_ref::<std::io::Error>()
                .and_then(|io| io.get_ref())
                .map(|e| e as &(dyn std::error::Error + 'static))
                .unwrap_or(err);
            if let Some(rustls::Error::InvalidCertificate(c)) = inner.downcast_ref() {
                return Some(c);
            }
            next = err.source();
        }
        None
    }

    /// Asserts that the server refused the login with `code` and a message containing
    /// `message`.
    fn assert_refused_with(err: &tokio_postgres::Error, code: &SqlState, message: &str) {
        let db = err
            .as_db_error()
            .unwrap_or_else(|| panic!("not a server error: {err:?}"));
        assert_eq!(db.code(), code, "{db:?}");
        assert!(db.message().contains(message), "{db:?}");
    }

    /// Sends an SSLRequest and returns the one-byte answer.
    fn ssl_request_answer(port: u16) -> u8 {
        // Int32 length 8, Int32 80877103 ("SSLRequest" in the protocol docs).
        let request = [0, 0, 0, 8, 0x04, 0xd2, 0x16, 0x2f];
        let mut s = TcpStream::connect((Ipv4Addr::LOCALHOST, port)).unwrap();
        s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
        s.write_all(&request).unwrap();
        let mut answer = [0];
        s.read_exact(&mut answer).unwrap();
        answer[0]
    }

    #[test]
    fn tls_cluster_answers_s_and_plain_cluster_answers_n_to_ssl_request() {
        assert_eq!(char::from(ssl_request_answer(tls_server().port())), 'S');
        assert_eq!(char::from(ssl_request_answer(plain_server().port())), 'N');
    }

    #[tokio::test]
    async fn tls_cluster_serves_a_verified_connection_to_localhost_that_pg_stat_ssl_reports() {
        let files = tls_files();
        let cfg = config(tls_server(), "localhost", SUPERUSER, "postgres");
        let s = tls_session(cfg, &files.ca, None).await.unwrap();
        assert!(s.ssl, "{s:?}");
        assert_eq!((s.user.as_str(), s.client_dn), (SUPERUSER, None));
    }

    #[tokio::test]
    async fn tls_server_certificate_names_localhost_but_not_127_0_0_1() {
        let cfg = config(tls_server(), "127.0.0.1", SUPERUSER, "postgres");
        let err = tls_session(cfg, &tls_files().ca, None).await.unwrap_err();
        assert!(
            matches!(
                certificate_error(&err),
                Some(
                    CertificateError::NotValidForName
                        | CertificateError::NotValidForNameContext { .. }
                )
            ),
            "{err:?}"
        );
    }

    #[tokio::test]
    async fn tls_server_certificate_is_refused_when_trusting_only_the_wrong_ca() {
        let cfg = config(tls_server(), "localhost", SUPERUSER, "postgres");
        let err = tls_session(cfg, &tls_files().wrong_ca, None)
            .await
            .unwrap_err();
        assert!(
            matches!(
                certificate_error(&err),
                Some(CertificateError::UnknownIssuer)
            ),
            "{err:?}"
        );
    }

    #[tokio::test]
    async fn expired_tls_server_certificate_is_refused_as_expired() {
        let cfg = config(expired_tls_server(), "localhost", SUPERUSER, "postgres");
        let err = tls_session(cfg, &tls_files().ca, None).await.unwrap_err();
        assert!(
            matches!(
                certificate_error(&err),
                Some(CertificateError::Expired | CertificateError::ExpiredContext { .. })
            ),
            "{err:?}"
        );
    }

    #[tokio::test]
    async fn plain_cluster_refuses_a_client_that_requires_tls() {
        let cfg = config(plain_server(), "localhost", SUPERUSER, "postgres");
        let err = tls_session(cfg, &tls_files().ca, None).await.unwrap_err();
        assert!(err.to_string().contains("TLS"), "{err:?}");
        let cfg = config(plain_server(), "localhost", SUPERUSER, "postgres");
        assert!(!plain_session(cfg).await.unwrap().ssl);
    }

    #[tokio::test]
    async fn cert_role_logs_in_with_its_client_certificate_and_either_key_format() {
        let files = tls_files();
        for key in [&files.client_key, &files.client_key_sec1] {
            let cfg = config(tls_server(), "localhost", CERT_USER, "postgres");
            let s = tls_session(cfg, &files.ca, Some((&files.client_cert, key)))
                .await
                .unwrap_or_else(|e| panic!("{}: {e:?}", key.display()));
            assert!(s.ssl, "{s:?}");
            assert_eq!(s.user, CERT_USER);
            assert_eq!(s.client_dn.as_deref(), Some("/CN=pgline_cert"));
        }
        let line = auth_log_line_of(tls_server(), "CN=pgline_cert");
        assert!(
            line.contains("method=cert") && line.contains("pg_hba.conf:9)"),
            "{line}"
        );
    }

    #[tokio::test]
    async fn cert_role_is_refused_without_a_client_certificate_and_without_tls() {
        let cfg = config(tls_server(), "localhost", CERT_USER, "postgres");
        let err = tls_session(cfg, &tls_files().ca, None).await.unwrap_err();
        assert_refused_with(
            &err,
            &SqlState::INVALID_AUTHORIZATION_SPECIFICATION,
            "requires a valid client certificate",
        );
        // Without TLS the role falls through to the scram-sha-256 line, and has no password.
        let mut cfg = config(tls_server(), "localhost", CERT_USER, "postgres");
        cfg.password("anything");
        let err = plain_session(cfg).await.unwrap_err();
        assert_refused_with(
            &err,
            &SqlState::INVALID_PASSWORD,
            "password authentication failed",
        );
    }

    #[tokio::test]
    async fn cert_role_is_refused_with_a_certificate_for_another_name() {
        let files = tls_files();
        let cfg = config(tls_server(), "localhost", CERT_USER, "postgres");
        let other = (
            files.other_client_cert.as_path(),
            files.other_client_key.as_path(),
        );
        let err = tls_session(cfg, &files.ca, Some(other)).await.unwrap_err();
        assert_refused_with(
            &err,
            &SqlState::INVALID_AUTHORIZATION_SPECIFICATION,
            "certificate authentication failed",
        );
        let log = tls_server().server_log();
        assert!(
            log.contains(&format!("authenticated user name ({OTHER_CLIENT_CN})")),
            "{log}"
        );
    }

    #[tokio::test]
    async fn nossl_database_is_refused_over_tls_and_accepted_without_for_every_role() {
        let ca = &tls_files().ca;
        for user in [SUPERUSER, TRUST_USER, SCRAM_USER] {
            let cfg = config(tls_server(), "localhost", user, NOSSL_DB);
            let err = tls_session(cfg, ca, None).await.unwrap_err();
            assert_refused_with(
                &err,
                &SqlState::INVALID_AUTHORIZATION_SPECIFICATION,
                "pg_hba.conf rejects connection",
            );

            let s = plain_session(config(tls_server(), "localhost", user, NOSSL_DB))
                .await
                .unwrap();
            assert_eq!(
                (s.user.as_str(), s.database.as_str(), s.ssl),
                (user, NOSSL_DB, false)
            );
        }
    }

    #[tokio::test]
    async fn sslonly_database_is_refused_without_tls_and_accepted_over_it() {
        let ca = &tls_files().ca;
        for user in [SUPERUSER, TRUST_USER] {
            let cfg = config(tls_server(), "localhost", user, SSLONLY_DB);
            let err = plain_session(cfg).await.unwrap_err();
            assert_refused_with(
                &err,
                &SqlState::INVALID_AUTHORIZATION_SPECIFICATION,
                "pg_hba.conf rejects connection",
            );

            let cfg = config(tls_server(), "localhost", user, SSLONLY_DB);
            let s = tls_session(cfg, ca, None).await.unwrap();
            assert_eq!(
                (s.user.as_str(), s.database.as_str(), s.ssl),
                (user, SSLONLY_DB, true)
            );
        }
    }

    /// Runs `psql` (libpq, OpenSSL) with `conninfo` and returns the output of `sql`.
    fn libpq(cluster: &TempCluster, conninfo: &str, sql: &str) -> Result<String, String> {
        let mut cmd = Command::new(cluster.bin_dir().join("psql"));
        cmd.args(["-X", "-A", "-t", "-d", conninfo, "-c", sql])
            .env("PGCONNECT_TIMEOUT", "10")
            .stdin(Stdio::null());
        for (var, _) in std::env::vars_os() {
            if var.to_string_lossy().starts_with("PG") {
                cmd.env_remove(var);
            }
        }
        let out = cmd.output().map_err(|e| format!("running psql: {e}"))?;
        let text = |b: &[u8]| String::from_utf8_lossy(b).trim().to_owned();
        if out.status.success() {
            Ok(text(&out.stdout))
        } else {
            Err(text(&out.stderr))
        }
    }

    #[test]
    fn libpq_verifies_the_server_and_logs_in_as_the_cert_role_with_either_key_format() {
        let (c, files) = (tls_server(), tls_files());
        let base = format!(
            "host=localhost hostaddr=127.0.0.1 port={} dbname=postgres sslmode=verify-full \
             sslrootcert={}",
            c.port(),
            files.ca.display()
        );
        for key in [&files.client_key, &files.client_key_sec1] {
            let conninfo = format!(
                "{base} user={CERT_USER} sslcert={} sslkey={}",
                files.client_cert.display(),
                key.display()
            );
            let out = libpq(
                c,
                &conninfo,
                "SELECT current_user || ' ' || ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()",
            );
            assert_eq!(out.as_deref(), Ok("pgline_cert true"), "{}", key.display());
        }
        // verify-full checks the name: the certificate is for localhost only.
        let by_ip = base.replace("host=localhost", "host=127.0.0.1");
        let err = libpq(c, &format!("{by_ip} user={SUPERUSER}"), "SELECT 1").unwrap_err();
        assert!(err.contains("does not match host name"), "{err}");
    }

    #[test]
    fn sec1_client_key_is_the_pkcs8_key_with_its_curve_named() {
        use rustls::pki_types::pem::PemObject;
        use rustls::pki_types::PrivateKeyDer;
        let files = tls_files();
        let pkcs8 = PrivateKeyDer::from_pem_file(&files.client_key).unwrap();
        let sec1 = PrivateKeyDer::from_pem_file(&files.client_key_sec1).unwrap();
        assert!(matches!(pkcs8, PrivateKeyDer::Pkcs8(_)));
        assert!(matches!(sec1, PrivateKeyDer::Sec1(_)));
        // [0] { OID 1.2.840.10045.3.1.7 (prime256v1) }, as RFC 5915 requires.
        let named_p256 = [
            0xa0, 0x0a, 0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07,
        ];
        assert!(sec1
            .secret_der()
            .windows(named_p256.len())
            .any(|w| w == named_p256));
        let public_key = |key: &PrivateKeyDer<'_>| {
            rustls::crypto::ring::sign::any_ecdsa_type(key)
                .unwrap()
                .public_key()
                .unwrap()
                .to_vec()
        };
        assert_eq!(public_key(&pkcs8), public_key(&sec1));
        // The DER walk reports every truncation as an error, never a panic.
        let der = pkcs8.secret_der();
        assert!(sec1_pem(der).is_ok());
        for len in 0..der.len() {
            assert!(sec1_pem(&der[..len]).is_err(), "truncated to {len}");
        }
    }

    #[test]
    fn tls_files_and_server_key_are_private() {
        let files = tls_files();
        let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode(&files.dir), 0o700);
        for key in [
            &files.client_key,
            &files.client_key_sec1,
            &files.other_client_key,
        ] {
            assert_eq!(mode(key), 0o600, "{}", key.display());
        }
        let data = tls_server().data_dir();
        let owner = std::fs::metadata(data).unwrap().uid();
        for (file, want) in [
            ("server.key", 0o600),
            ("server.crt", 0o644),
            ("root.crt", 0o644),
        ] {
            let path = data.join(file);
            assert_eq!(mode(&path), want, "{}", path.display());
            assert_eq!(
                std::fs::metadata(&path).unwrap().uid(),
                owner,
                "{}",
                path.display()
            );
        }
    }
}
