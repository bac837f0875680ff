//! Connecting to the test cluster.

use bytes::BytesMut;
use pgline::types::{ConversionError, IsNull, Oid, ToSql, ValueType};
use pgline::{Config, Connection};

/// A config for `user` on the shared test cluster.
pub fn config(user: &str, password: Option<&str>) -> Config {
    let c = super::server();
    let mut cfg = Config::new();
    cfg.host(c.host())
        .port(c.port())
        .user(user)
        .dbname("postgres");
    if let Some(p) = password {
        cfg.password(p);
    }
    cfg
}

/// A superuser connection (trust over 127.0.0.1).
pub async fn connect() -> Connection {
    Connection::connect(&config("postgres", None))
        .await
        .expect("connect as postgres")
}

/// The backend process id of `c`.
pub async fn backend_pid(c: &mut Connection) -> i32 {
    c.query_one("SELECT pg_backend_pid()", &[])
        .await
        .unwrap()
        .get(0)
        .unwrap()
}

/// Terminates backend `pid` from a separate superuser connection.
pub async fn terminate_backend(pid: i32) {
    connect()
        .await
        .query("SELECT pg_terminate_backend($1)", &[&pid])
        .await
        .unwrap();
}

/// A fresh table name, unique within the run.
pub fn table(prefix: &str) -> String {
    use std::sync::atomic::{AtomicU32, Ordering};
    static N: AtomicU32 = AtomicU32::new(0);
    format!(
        "{prefix}_{}_{}",
        std::process::id(),
        N.fetch_add(1, Ordering::Relaxed)
    )
}

/// Asserts that `c` still answers a query: `SELECT n` returns `n`.
pub async fn assert_answers(c: &mut Connection, n: i32) {
    let got = c
        .query_one(format!("SELECT {n}").as_str(), &[])
        .await
        .expect("the connection answers")
        .get::<i32>(0)
        .expect("an int4");
    assert_eq!(got, n);
}

/// A value whose own encoder refuses it when `refuse` is set (as a user's `ToSql` refuses
/// a value it cannot represent), and otherwise encodes as `v`: the row holding it is
/// refused before anything of it is sent.
#[derive(Debug)]
pub struct Picky<T> {
    pub v: T,
    pub refuse: bool,
}

impl<T: ToSql> ToSql for Picky<T> {
    fn type_oid(&self) -> Oid {
        self.v.type_oid()
    }
    fn accepts(&self, oid: Oid) -> bool {
        self.v.accepts(oid)
    }
    fn to_sql(&self, ty: ValueType, out: &mut BytesMut) -> Result<IsNull, ConversionError> {
        if self.refuse {
            return Err(ConversionError::Invalid {
                rust: "Picky",
                reason: "refused by the test",
            });
        }
        self.v.to_sql(ty, out)
    }
    fn supports_binary(&self, oid: Oid) -> bool {
        self.v.supports_binary(oid)
    }
}
