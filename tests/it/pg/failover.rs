//! Several hosts, `target_session_attrs`, `.pgpass` and failover, against a real primary
//! and its streaming replica (`pg_basebackup -R`), started by the harness: one pair shared
//! by the module, and a pair of its own for the promotion test.

use std::os::unix::fs::PermissionsExt;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

use pgline::cluster::{TempCluster, SCRAM_USER, SCRAM_USER_PW};
use pgline::pool::{Pool, PoolConfig};
use pgline::{Config, Connection};

/// A primary and its streaming replica.
struct Pair {
    primary: TempCluster,
    replica: TempCluster,
}

fn start_pair() -> Pair {
    let primary = crate::support::start_cluster();
    let replica = primary
        .start_replica()
        .unwrap_or_else(|e| panic!("could not start the streaming replica: {e}"));
    Pair { primary, replica }
}

fn pair() -> &'static Pair {
    static PAIR: OnceLock<Pair> = OnceLock::new();
    PAIR.get_or_init(start_pair)
}

/// A port on 127.0.0.1 nobody listens on: connecting is refused.
fn dead_port() -> u16 {
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    l.local_addr().unwrap().port()
}

/// `host=127.0.0.1,.. port=p1,.. user=postgres dbname=postgres <extra>`.
fn config(ports: &[u16], extra: &str) -> Config {
    let hosts = vec!["127.0.0.1"; ports.len()].join(",");
    let ports: Vec<String> = ports.iter().map(u16::to_string).collect();
    format!(
        "host={hosts} port={} user=postgres dbname=postgres connect_timeout=5 {extra}",
        ports.join(",")
    )
    .parse()
    .unwrap()
}

/// The port of the server `c` landed on, and whether it is a standby.
async fn landed_on(c: &mut Connection) -> (u16, bool) {
    let r = c
        .query_one("SELECT inet_server_port(), pg_is_in_recovery()", &[])
        .await
        .unwrap();
    (r.get::<i32>(0).unwrap() as u16, r.get(1).unwrap())
}

async fn connect_to(ports: &[u16], extra: &str) -> (u16, bool) {
    let mut c = Connection::connect(&config(ports, extra))
        .await
        .unwrap_or_else(|e| panic!("{ports:?} {extra}: {e}"));
    landed_on(&mut c).await
}

#[tokio::test]
async fn read_write_lands_on_the_primary_whichever_order_the_hosts_are_given() {
    let (p, r) = (pair().primary.port(), pair().replica.port());
    for attrs in ["read-write", "primary"] {
        let extra = format!("target_session_attrs={attrs}");
        assert_eq!(connect_to(&[p, r], &extra).await, (p, false), "{attrs}");
        assert_eq!(connect_to(&[r, p], &extra).await, (p, false), "{attrs}");
    }
}

#[tokio::test]
async fn standby_and_read_only_land_on_the_replica_whichever_order() {
    let (p, r) = (pair().primary.port(), pair().replica.port());
    for attrs in ["standby", "read-only", "prefer-standby"] {
        let extra = format!("target_session_attrs={attrs}");
        assert_eq!(connect_to(&[p, r], &extra).await, (r, true), "{attrs}");
        assert_eq!(connect_to(&[r, p], &extra).await, (r, true), "{attrs}");
    }
}

#[tokio::test]
async fn prefer_standby_falls_back_to_the_primary_when_no_standby_answers() {
    let p = pair().primary.port();
    let down = dead_port();
    let extra = "target_session_attrs=prefer-standby";
    assert_eq!(connect_to(&[down, p], extra).await, (p, false));
    assert_eq!(connect_to(&[p, down], extra).await, (p, false));
}

#[tokio::test]
async fn any_takes_the_first_reachable_host_and_a_dead_first_host_is_skipped() {
    let (p, r) = (pair().primary.port(), pair().replica.port());
    assert_eq!(connect_to(&[r, p], "").await, (r, true));
    assert_eq!(
        connect_to(&[p, r], "target_session_attrs=any").await,
        (p, false)
    );
    assert_eq!(
        connect_to(&[dead_port(), dead_port(), r], "").await,
        (r, true)
    );
}

#[tokio::test]
async fn a_unix_socket_directory_is_a_host_of_the_list_and_never_uses_tls() {
    let (p, r) = (pair().primary.port(), pair().replica.port());
    let enc = |d: &std::path::Path| d.to_str().unwrap().replace('/', "%2F");
    let primary_dir = enc(pair().primary.socket_dir());
    let replica_dir = enc(pair().replica.socket_dir());
    for attrs in ["read-write", "standby"] {
        // Percent-encoded in the URL, mixed with TCP hosts; sslmode=require is ignored
        // on a Unix socket, as in libpq.
        let url = format!(
            "postgres://postgres@{replica_dir}:{r},{primary_dir}:{p}/postgres\
             ?target_session_attrs={attrs}&sslmode=require"
        );
        let mut c = Connection::connect(&url.parse().unwrap())
            .await
            .unwrap_or_else(|e| panic!("{url}: {e}"));
        assert!(!c.is_tls());
        assert!(!c.tcp_keepalive(), "a Unix socket, not TCP");
        let want = if attrs == "standby" {
            (r, true)
        } else {
            (p, false)
        };
        let standby: bool = c
            .query_one("SELECT pg_is_in_recovery()", &[])
            .await
            .unwrap()
            .get(0)
            .unwrap();
        assert_eq!(standby, want.1, "{url}");
    }
    // key=value form, a dead socket directory first.
    let kv = format!(
        "host=/nonexistent-pgline-dir,{} port={p} user=postgres dbname=postgres",
        pair().primary.socket_dir().display()
    );
    let mut c = Connection::connect(&kv.parse().unwrap()).await.unwrap();
    assert!(!c.tcp_keepalive());
    assert_answers_with_port(&mut c, p).await;
}

/// Over a Unix socket `inet_server_port()` is NULL; the port shows in `port`.
async fn assert_answers_with_port(c: &mut Connection, port: u16) {
    let got: String = c
        .query_one("SELECT current_setting('port')", &[])
        .await
        .unwrap()
        .get(0)
        .unwrap();
    assert_eq!(got, port.to_string());
}

#[tokio::test]
async fn load_balancing_spreads_connections_over_the_hosts() {
    let (p, r) = (pair().primary.port(), pair().replica.port());
    let mut seen = std::collections::HashSet::new();
    for _ in 0..40 {
        seen.insert(connect_to(&[p, r], "load_balance_hosts=random").await.0);
        if seen.len() == 2 {
            break;
        }
    }
    // Each attempt puts the primary first with probability 1/2: 40 misses are 2^-40.
    assert_eq!(seen.len(), 2, "{seen:?}");
}

#[tokio::test]
async fn when_every_host_fails_the_error_names_each_host_and_why() {
    let (d1, d2) = (dead_port(), dead_port());
    let e = Connection::connect(&config(&[d1, d2], ""))
        .await
        .unwrap_err();
    let msg = e.to_string();
    assert!(e.is_io(), "{e:?}");
    assert!(msg.contains(&format!("127.0.0.1:{d1}")), "{msg}");
    assert!(msg.contains(&format!("127.0.0.1:{d2}")), "{msg}");
    assert!(msg.contains("refused"), "{msg}");

    let r = pair().replica.port();
    let e = Connection::connect(&config(&[r], "target_session_attrs=read-write"))
        .await
        .unwrap_err();
    assert!(e.is_wrong_server(), "{e:?}");
    assert!(e.to_string().contains(&format!("127.0.0.1:{r}")), "{e}");
    let e = Connection::connect(&config(&[d1, r], "target_session_attrs=read-write"))
        .await
        .unwrap_err();
    let msg = e.to_string();
    assert!(e.is_wrong_server(), "{e:?}");
    assert!(
        msg.contains(&format!("127.0.0.1:{r}: the server is read-only")),
        "{msg}"
    );
    assert!(msg.contains(&format!("127.0.0.1:{d1}")), "{msg}");
}

#[tokio::test]
async fn an_authentication_failure_ends_the_walk_without_trying_the_next_host() {
    let p = pair().primary.port();
    // A listener we own stands for the next host: it must never see a connection.
    let next = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    next.set_nonblocking(true).unwrap();
    let next_port = next.local_addr().unwrap().port();
    let mut cfg = config(&[p, next_port], "");
    cfg.user(SCRAM_USER).password("wrong");
    let e = Connection::connect(&cfg).await.unwrap_err();
    assert_eq!(e.code(), Some("28P01"), "{e:?}");
    assert_eq!(
        next.accept().unwrap_err().kind(),
        std::io::ErrorKind::WouldBlock,
        "the host after an authentication failure was contacted"
    );
}

/// A password file with `lines`, mode `mode`, removed on drop.
struct PassFile(std::path::PathBuf);

impl PassFile {
    fn new(lines: &[String], mode: u32) -> Self {
        use std::sync::atomic::AtomicU32;
        static N: AtomicU32 = AtomicU32::new(0);
        let path = std::env::temp_dir().join(format!(
            "pgline-pgpass-{}-{}",
            std::process::id(),
            N.fetch_add(1, Ordering::Relaxed)
        ));
        std::fs::write(&path, lines.join("\n") + "\n").unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(mode)).unwrap();
        Self(path)
    }
    fn path(&self) -> &str {
        self.0.to_str().unwrap()
    }
}

impl Drop for PassFile {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

fn scram_config(ports: &[u16], passfile: &PassFile, extra: &str) -> Config {
    let mut c = config(ports, extra);
    c.user(SCRAM_USER).passfile(passfile.path());
    c
}

#[tokio::test]
async fn pgpass_supplies_the_password_looked_up_for_each_host() {
    let (p, r) = (pair().primary.port(), pair().replica.port());
    let both = PassFile::new(
        &[
            "# comment".into(),
            format!("127.0.0.1:{p}:*:{SCRAM_USER}:{SCRAM_USER_PW}"),
            format!("*:{r}:postgres:{SCRAM_USER}:{SCRAM_USER_PW}"),
        ],
        0o600,
    );
    for attrs in ["read-write", "standby"] {
        let extra = format!("target_session_attrs={attrs}");
        let mut c = Connection::connect(&scram_config(&[p, r], &both, &extra))
            .await
            .unwrap_or_else(|e| panic!("{attrs}: {e}"));
        let want = if attrs == "standby" { r } else { p };
        assert_eq!(landed_on(&mut c).await.0, want);
    }
    // Only the primary's line: the replica gets no password from the file.
    let primary_only = PassFile::new(
        &[format!("127.0.0.1:{p}:*:{SCRAM_USER}:{SCRAM_USER_PW}")],
        0o600,
    );
    Connection::connect(&scram_config(&[p], &primary_only, ""))
        .await
        .unwrap();
    let e = Connection::connect(&scram_config(&[r], &primary_only, ""))
        .await
        .unwrap_err();
    assert!(e.is_auth() || e.code() == Some("28P01"), "{e:?}");
    // A password given outright wins over the file.
    let wrong = PassFile::new(&[format!("*:*:*:{SCRAM_USER}:wrong")], 0o600);
    let mut cfg = scram_config(&[p], &wrong, "");
    cfg.password(SCRAM_USER_PW);
    Connection::connect(&cfg).await.unwrap();
}

#[tokio::test]
async fn a_group_readable_pgpass_is_ignored_like_libpq_does() {
    let p = pair().primary.port();
    let open = PassFile::new(&[format!("*:*:*:{SCRAM_USER}:{SCRAM_USER_PW}")], 0o640);
    let e = Connection::connect(&scram_config(&[p], &open, ""))
        .await
        .unwrap_err();
    assert!(e.is_auth() || e.code() == Some("28P01"), "{e:?}");
    std::fs::set_permissions(&open.0, std::fs::Permissions::from_mode(0o600)).unwrap();
    Connection::connect(&scram_config(&[p], &open, ""))
        .await
        .unwrap();
}

#[tokio::test]
async fn the_pool_closes_a_connection_that_hit_a_read_only_server() {
    let r = pair().replica.port();
    let pool = Pool::new(PoolConfig::new(config(&[r], "")).max_size(1)).unwrap();
    let pid = {
        let mut c = pool.get().await.unwrap();
        let e = c
            .batch_execute("CREATE TABLE failover_never (id int)")
            .await
            .unwrap_err();
        assert_eq!(e.code(), Some("25006"), "{e:?}");
        assert!(!c.is_broken(), "25006 alone does not break the connection");
        assert!(c.saw_failover_error());
        c.query_one("SELECT pg_backend_pid()", &[])
            .await
            .unwrap()
            .get::<i32>(0)
            .unwrap()
    };
    assert_eq!(pool.status().closed.broken, 1);
    let mut c = pool.get().await.unwrap();
    let again: i32 = c
        .query_one("SELECT pg_backend_pid()", &[])
        .await
        .unwrap()
        .get(0)
        .unwrap();
    assert_ne!(pid, again, "the pool reused the connection that saw 25006");
}

#[cfg(feature = "cli")]
#[test]
fn the_cli_lands_on_the_primary_in_both_host_orders_with_the_pgpass_password() {
    let (p, r) = (pair().primary.port(), pair().replica.port());
    let file = PassFile::new(
        &[format!("127.0.0.1:*:*:{SCRAM_USER}:{SCRAM_USER_PW}")],
        0o600,
    );
    for (a, b) in [(p, r), (r, p)] {
        let url = format!(
            "postgres://{SCRAM_USER}@127.0.0.1:{a},127.0.0.1:{b}/postgres?target_session_attrs=read-write"
        );
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_pgline"))
            .args([
                "query",
                "--tsv",
                "--url",
                &url,
                "SELECT inet_server_port(), pg_is_in_recovery()",
            ])
            .env_remove("DATABASE_URL")
            .env_remove("PGPASSWORD")
            .env("PGPASSFILE", file.path())
            .output()
            .unwrap();
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert!(
            out.status.success(),
            "{url}: {stdout}{}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(stdout.contains(&format!("{p}\tf")), "{url}: {stdout}");
    }
}

/// The promotion test's record of what the load saw.
#[derive(Default)]
struct Seen {
    /// Successful writes, as instants.
    ok_at: Mutex<Vec<Instant>>,
    /// The longest `get` took.
    max_get: Mutex<Duration>,
    errors: AtomicU64,
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn after_promotion_read_write_and_a_pool_under_load_find_the_new_primary() {
    let pair = tokio::task::spawn_blocking(|| {
        let primary = crate::support::start_cluster();
        primary
            .psql("CREATE TABLE failover_load (task int, n int)")
            .unwrap();
        let replica = primary.start_replica().unwrap();
        Pair { primary, replica }
    })
    .await
    .unwrap();
    let (p, r) = (pair.primary.port(), pair.replica.port());
    let acquire = Duration::from_secs(3);
    let pool = Pool::new(
        PoolConfig::new(config(
            &[p, r],
            "target_session_attrs=read-write connect_timeout=1",
        ))
        .max_size(4)
        .acquire_timeout(acquire)
        .connect_timeout(Duration::from_secs(2))
        .backoff(Duration::from_millis(20), Duration::from_millis(200))
        .ping_after_idle(Some(Duration::from_millis(100))),
    )
    .unwrap();
    let seen = Arc::new(Seen::default());
    let stop = Arc::new(AtomicBool::new(false));
    let mut tasks = Vec::new();
    for task in 0..6i32 {
        let (pool, seen, stop) = (pool.clone(), seen.clone(), stop.clone());
        tasks.push(tokio::spawn(async move {
            let mut n = 0i32;
            while !stop.load(Ordering::Relaxed) {
                n += 1;
                let t0 = Instant::now();
                let got = pool.get().await;
                let took = t0.elapsed();
                {
                    let mut m = seen.max_get.lock().unwrap();
                    *m = (*m).max(took);
                }
                let ok = match got {
                    Ok(mut c) => c
                        .execute("INSERT INTO failover_load VALUES ($1, $2)", &[&task, &n])
                        .await
                        .is_ok(),
                    Err(e) => {
                        assert!(
                            e.is_pool_timeout()
                                || e.is_io()
                                || e.is_wrong_server()
                                || e.is_closed(),
                            "{e:?}"
                        );
                        false
                    }
                };
                if ok {
                    seen.ok_at.lock().unwrap().push(Instant::now());
                } else {
                    seen.errors.fetch_add(1, Ordering::Relaxed);
                }
                tokio::time::sleep(Duration::from_millis(2)).await;
            }
        }));
    }
    let ok_count = || seen.ok_at.lock().unwrap().len();
    let t = Instant::now();
    while ok_count() < 200 {
        assert!(
            t.elapsed() < Duration::from_secs(30),
            "the load never got going"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    // The failover: the old primary goes away, the replica is promoted.
    let Pair { primary, replica } = pair;
    tokio::task::spawn_blocking(move || primary.pg_ctl(&["stop", "-m", "fast"]).map(|_| primary))
        .await
        .unwrap()
        .unwrap();
    let promoted_at = Instant::now();
    let replica = tokio::task::spawn_blocking(move || replica.promote().map(|_| replica))
        .await
        .unwrap()
        .unwrap();
    let promoted = Instant::now();
    let first_after = loop {
        if let Some(&at) = seen.ok_at.lock().unwrap().iter().find(|&&at| at > promoted) {
            break at;
        }
        assert!(
            promoted.elapsed() < Duration::from_secs(10),
            "no write succeeded within 10 s of the promotion"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    };
    let recovered = first_after - promoted;
    // Let it run on the new primary for a moment, then stop.
    tokio::time::sleep(Duration::from_millis(300)).await;
    stop.store(true, Ordering::Relaxed);
    for t in tasks {
        t.await.unwrap();
    }
    let max_get = *seen.max_get.lock().unwrap();
    eprintln!(
        "failover: stop+promote took {:?}, first write {recovered:?} after promotion, \
         {} failed operations, longest get {max_get:?}",
        promoted - promoted_at,
        seen.errors.load(Ordering::Relaxed)
    );
    assert!(recovered < Duration::from_secs(5), "{recovered:?}");
    assert!(
        max_get < acquire + Duration::from_millis(500),
        "a get waited {max_get:?}, past its {acquire:?} timeout"
    );
    // A plain connect with read-write finds the new primary too.
    let mut c = Connection::connect(&config(&[p, r], "target_session_attrs=read-write"))
        .await
        .unwrap();
    assert_eq!(landed_on(&mut c).await, (r, false));
    let rows: i64 = c
        .query_one("SELECT count(*) FROM failover_load", &[])
        .await
        .unwrap()
        .get(0)
        .unwrap();
    assert!(rows > 0);
    pool.close().await.ok();
    drop(replica);
}

#[tokio::test]
async fn an_empty_password_still_reads_pgpass_like_libpq() {
    let p = pair().primary.port();
    let file = PassFile::new(&[format!("*:*:*:{SCRAM_USER}:{SCRAM_USER_PW}")], 0o600);
    // `password=` given but empty: libpq reads the password file all the same.
    let mut cfg = scram_config(&[p], &file, "password=''");
    Connection::connect(&cfg).await.unwrap();
    cfg.password("");
    Connection::connect(&cfg).await.unwrap();
}

#[tokio::test]
async fn a_pool_for_standbys_keeps_a_connection_that_hit_a_read_only_error() {
    let r = pair().replica.port();
    for attrs in ["standby", "read-only", "prefer-standby"] {
        let extra = format!("target_session_attrs={attrs}");
        let pool = Pool::new(PoolConfig::new(config(&[r], &extra)).max_size(1)).unwrap();
        let pid = {
            let mut c = pool.get().await.unwrap();
            let e = c
                .batch_execute("CREATE TABLE failover_never (id int)")
                .await
                .unwrap_err();
            assert_eq!(e.code(), Some("25006"), "{attrs}: {e:?}");
            c.query_one("SELECT pg_backend_pid()", &[])
                .await
                .unwrap()
                .get::<i32>(0)
                .unwrap()
        };
        let mut c = pool.get().await.unwrap();
        let again: i32 = c
            .query_one("SELECT pg_backend_pid()", &[])
            .await
            .unwrap()
            .get(0)
            .unwrap();
        assert_eq!(
            pid, again,
            "{attrs}: a read-only server is what the pool asked for"
        );
        assert_eq!(pool.status().closed.broken, 0, "{attrs}");
        drop(c);
        pool.close().await.unwrap();
    }
}

/// A multi-host config whose first host is the iris-pgwire server (trust, any user and
/// database): it reports neither `in_hot_standby` nor `default_transaction_read_only`, so
/// `target_session_attrs=primary` asks it `SELECT pg_catalog.pg_is_in_recovery()`, which
/// it cannot run.
fn iris_first(ports: &[u16], extra: &str) -> Config {
    let iris = crate::support::iris::server().port();
    let all: Vec<u16> = std::iter::once(iris).chain(ports.iter().copied()).collect();
    config(&all, extra)
}

#[tokio::test]
async fn a_server_whose_kind_check_fails_is_skipped_and_the_next_host_is_tried() {
    let _turn = crate::support::iris::turn().await;
    let p = pair().primary.port();
    let mut c = Connection::connect(&iris_first(&[p], "target_session_attrs=primary"))
        .await
        .unwrap_or_else(|e| panic!("the walk must go on past the failed check: {e}"));
    assert_eq!(landed_on(&mut c).await, (p, false));
}

#[tokio::test]
async fn when_the_last_host_fails_with_a_server_error_the_combined_error_keeps_its_sqlstate() {
    // A server in smart shutdown: the session held open keeps it running, and every new
    // connection is refused with FATAL 57P03 (cannot_connect_now), after which the walk
    // goes on to the next host; there is none.
    let cluster = Arc::new(crate::support::start_cluster());
    let port = cluster.port();
    let held = Connection::connect(&config(&[port], "")).await.unwrap();
    let stopping = Arc::clone(&cluster);
    let stop = tokio::task::spawn_blocking(move || stopping.pg_ctl(&["stop", "-m", "smart"]));
    let d = dead_port();
    let deadline = Instant::now() + Duration::from_secs(30);
    let e = loop {
        match Connection::connect(&config(&[d, port], "")).await {
            Err(e) if e.to_string().contains(&format!("127.0.0.1:{port}")) => break e,
            Ok(c) => drop(c),
            Err(e) => panic!("{e:?}"),
        }
        assert!(Instant::now() < deadline, "the shutdown never began");
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    drop(held);
    stop.await.unwrap().unwrap();
    let msg = e.to_string();
    assert_eq!(e.code(), Some("57P03"), "the last host's SQLSTATE: {e:?}");
    assert!(e.is_db(), "{e:?}");
    assert!(msg.contains(&format!("127.0.0.1:{d}")), "{msg}");
    assert!(msg.contains(&format!("127.0.0.1:{port}")), "{msg}");
    assert!(msg.contains("could not connect to any of 2 hosts"), "{msg}");
}
