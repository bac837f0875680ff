//! Spans (feature `tracing`) against the real server, caught by a small hand-written
//! subscriber: each operation's span and its OpenTelemetry fields, the SQLSTATE of a
//! failure, the authentication method of a connect, and no SQL text or parameter value
//! anywhere unless the connection opts in.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use ::tracing::field::{Field, Visit};
use ::tracing::span::{Attributes, Id, Record};
use ::tracing::subscriber::{DefaultGuard, Interest};
use ::tracing::{Event, Metadata, Subscriber};

use pgline::cluster::{
    MD5_USER, MD5_USER_PW, PASSWORD_USER, PASSWORD_USER_PW, SCRAM_USER, SCRAM_USER_PW,
};
use pgline::conn::{AuthPolicy, ExecuteManyOptions, SslMode};
use pgline::pool::{Pool, PoolConfig};
use pgline::Connection;

use crate::support::conn::{config, connect, table};

/// One span as the subscriber saw it.
#[derive(Debug, Clone)]
struct SpanRec {
    id: u64,
    parent: Option<u64>,
    name: &'static str,
    level: ::tracing::Level,
    fields: HashMap<&'static str, String>,
}

impl SpanRec {
    fn field(&self, name: &str) -> Option<&str> {
        self.fields.get(name).map(String::as_str)
    }
}

#[derive(Default)]
struct State {
    spans: Vec<SpanRec>,
    /// Entered spans, innermost last (one thread: the tests' runtime is current-thread).
    stack: Vec<u64>,
    /// Every field value of every event.
    events: Vec<String>,
}

/// Collects spans and their fields; every call site is of interest to it.
#[derive(Clone, Default)]
struct Recorder {
    state: Arc<Mutex<State>>,
    next: Arc<AtomicU64>,
}

struct Fields<'a>(&'a mut HashMap<&'static str, String>);

impl Visit for Fields<'_> {
    fn record_str(&mut self, field: &Field, value: &str) {
        self.0.insert(field.name(), value.to_string());
    }

    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        self.0.insert(field.name(), format!("{value:?}"));
    }
}

impl Subscriber for Recorder {
    fn register_callsite(&self, _: &'static Metadata<'static>) -> Interest {
        // Ask per span: other tests run at the same time on other threads, without us.
        Interest::sometimes()
    }

    fn enabled(&self, _: &Metadata<'_>) -> bool {
        true
    }

    fn new_span(&self, attrs: &Attributes<'_>) -> Id {
        let id = self.next.fetch_add(1, Ordering::Relaxed) + 1;
        let mut st = self.state.lock().unwrap();
        let parent = if attrs.is_root() {
            None
        } else if let Some(p) = attrs.parent() {
            Some(p.into_u64())
        } else {
            st.stack.last().copied()
        };
        let mut fields = HashMap::new();
        attrs.record(&mut Fields(&mut fields));
        st.spans.push(SpanRec {
            id,
            parent,
            name: attrs.metadata().name(),
            level: *attrs.metadata().level(),
            fields,
        });
        Id::from_u64(id)
    }

    fn record(&self, span: &Id, values: &Record<'_>) {
        let mut st = self.state.lock().unwrap();
        if let Some(s) = st.spans.iter_mut().find(|s| s.id == span.into_u64()) {
            values.record(&mut Fields(&mut s.fields));
        }
    }

    fn record_follows_from(&self, _: &Id, _: &Id) {}

    fn event(&self, event: &Event<'_>) {
        let mut fields = HashMap::new();
        event.record(&mut Fields(&mut fields));
        self.state
            .lock()
            .unwrap()
            .events
            .extend(fields.into_values());
    }

    fn enter(&self, span: &Id) {
        self.state.lock().unwrap().stack.push(span.into_u64());
    }

    fn exit(&self, span: &Id) {
        let mut st = self.state.lock().unwrap();
        if let Some(at) = st.stack.iter().rposition(|&s| s == span.into_u64()) {
            st.stack.remove(at);
        }
    }
}

/// The process-wide subscriber beneath the tests' thread-local recorders: it records
/// nothing, but as a dispatcher that wants every level it keeps tracing's global level
/// filter open. Without it, a recorder dropped on one test thread while another test
/// installs its own can leave the filter at OFF (the two rebuilds race), and that test
/// sees no spans at all.
struct Quiet;

impl Subscriber for Quiet {
    fn register_callsite(&self, _: &'static Metadata<'static>) -> Interest {
        Interest::sometimes()
    }

    fn enabled(&self, _: &Metadata<'_>) -> bool {
        false
    }

    fn new_span(&self, _: &Attributes<'_>) -> Id {
        Id::from_u64(1)
    }

    fn record(&self, _: &Id, _: &Record<'_>) {}

    fn record_follows_from(&self, _: &Id, _: &Id) {}

    fn event(&self, _: &Event<'_>) {}

    fn enter(&self, _: &Id) {}

    fn exit(&self, _: &Id) {}
}

impl Recorder {
    /// A recorder installed as this thread's subscriber until the guard drops.
    fn install() -> (Self, DefaultGuard) {
        static QUIET: std::sync::Once = std::sync::Once::new();
        QUIET.call_once(|| {
            // Nothing else in this test binary sets a global subscriber.
            let _ = ::tracing::subscriber::set_global_default(Quiet);
        });
        let r = Self::default();
        let guard = ::tracing::subscriber::set_default(r.clone());
        (r, guard)
    }

    fn spans(&self) -> Vec<SpanRec> {
        self.state.lock().unwrap().spans.clone()
    }

    fn named(&self, name: &str) -> Vec<SpanRec> {
        self.spans()
            .into_iter()
            .filter(|s| s.name == name)
            .collect()
    }

    /// The only span with this name.
    fn one(&self, name: &str) -> SpanRec {
        let mut v = self.named(name);
        assert_eq!(v.len(), 1, "spans named {name}: {v:#?}");
        v.remove(0)
    }

    /// Every recorded value: span names, span fields, event fields.
    fn all_values(&self) -> Vec<String> {
        let st = self.state.lock().unwrap();
        st.spans
            .iter()
            .flat_map(|s| {
                std::iter::once(s.name.to_string())
                    .chain(s.fields.iter().map(|(k, v)| format!("{k}={v}")))
            })
            .chain(st.events.iter().cloned())
            .collect()
    }
}

/// The fields every operation span carries.
fn assert_database_attributes(s: &SpanRec) {
    assert_eq!(s.field("db.system.name"), Some("postgresql"), "{s:#?}");
    assert_eq!(s.field("db.system"), Some("postgresql"), "{s:#?}");
    assert_eq!(s.field("db.namespace"), Some("postgres"), "{s:#?}");
    let c = config("postgres", None);
    assert_eq!(s.field("server.address"), Some(c.get_host()), "{s:#?}");
    assert_eq!(
        s.field("server.port"),
        Some(c.get_port().to_string().as_str()),
        "{s:#?}"
    );
}

#[tokio::test]
async fn a_query_records_its_span_with_the_database_attributes_and_row_count() {
    let (rec, _guard) = Recorder::install();
    let mut c = connect().await;
    let rows = c
        .query("SELECT g FROM generate_series(1, $1) g", &[&3i32])
        .await
        .unwrap();
    assert_eq!(rows.len(), 3);
    let q = rec.one("pgline.query");
    assert_database_attributes(&q);
    assert_eq!(q.level, ::tracing::Level::INFO);
    assert_eq!(q.field("otel.kind"), Some("client"));
    assert_eq!(q.field("db.operation.name"), Some("SELECT"));
    assert_eq!(q.field("db.response.returned_rows"), Some("3"));
    assert_eq!(q.field("error.type"), None);
    // The statement cache missed: the prepare is a child of the query.
    let p = rec.one("pgline.prepare");
    assert_eq!(p.parent, Some(q.id));
    assert_eq!(p.field("db.operation.name"), Some("SELECT"));
}

#[tokio::test]
async fn a_failing_query_records_its_sqlstate_as_status_code_and_error_type() {
    let (rec, _guard) = Recorder::install();
    let mut c = connect().await;
    let e = c.query("SELECT 1 / $1", &[&0i32]).await.unwrap_err();
    assert_eq!(e.code(), Some("22012"));
    let q = rec.one("pgline.query");
    assert_database_attributes(&q);
    assert_eq!(q.field("db.response.status_code"), Some("22012"));
    assert_eq!(q.field("error.type"), Some("22012"));
    assert_eq!(q.field("otel.status_code"), Some("ERROR"));
    assert_eq!(q.field("db.response.returned_rows"), None);
}

#[tokio::test]
async fn a_client_side_failure_records_its_kind_as_error_type() {
    let (rec, _guard) = Recorder::install();
    let mut c = connect().await;
    let s = c.prepare("SELECT $1::int4").await.unwrap();
    let e = c.query(&s, &[]).await.unwrap_err();
    assert!(e.is_config(), "{e}");
    let q = rec.one("pgline.query");
    assert_eq!(q.field("error.type"), Some("config"));
    assert_eq!(q.field("db.response.status_code"), None);
}

#[tokio::test]
async fn execute_records_rows_affected_and_simple_query_its_rows() {
    let (rec, _guard) = Recorder::install();
    let mut c = connect().await;
    let t = table("trace_exec");
    c.batch_execute(&format!("CREATE TEMP TABLE {t} (id int)"))
        .await
        .unwrap();
    let n = c
        .execute(
            format!("INSERT INTO {t} SELECT generate_series(1, $1)").as_str(),
            &[&4i32],
        )
        .await
        .unwrap();
    assert_eq!(n, Some(4));
    let e = rec.one("pgline.execute");
    assert_database_attributes(&e);
    assert_eq!(e.field("db.operation.name"), Some("INSERT"));
    assert_eq!(e.field("pgline.rows_affected"), Some("4"));
    c.simple_query(&format!("SELECT * FROM {t}")).await.unwrap();
    let simple = rec.named("pgline.simple_query");
    let select = simple
        .iter()
        .find(|s| s.field("db.operation.name") == Some("SELECT"))
        .expect("the SELECT's span");
    assert_eq!(select.field("db.response.returned_rows"), Some("4"));
    assert!(simple
        .iter()
        .any(|s| s.field("db.operation.name") == Some("CREATE")));
}

#[tokio::test]
async fn execute_many_records_one_span_with_its_counts_and_a_debug_span_per_window() {
    let (rec, _guard) = Recorder::install();
    let mut c = connect().await;
    let t = table("trace_many");
    c.batch_execute(&format!("CREATE TABLE {t} (id int PRIMARY KEY, v text)"))
        .await
        .unwrap();
    let opts = ExecuteManyOptions {
        sync_every: 4,
        ..ExecuteManyOptions::default()
    };
    let rows = (0..10).map(|i| (i, format!("v{i}")));
    let sql = format!("INSERT INTO {t} (id, v) VALUES ($1, $2)");
    let r = c.execute_many_with(&sql, rows, opts).await.unwrap();
    assert_eq!(r.rows_done, 10);
    let m = rec.one("pgline.execute_many");
    assert_database_attributes(&m);
    assert_eq!(m.field("db.operation.name"), Some("BATCH INSERT"));
    assert_eq!(m.field("db.operation.batch.size"), Some("10"));
    assert_eq!(m.field("pgline.rows_done"), Some("10"));
    assert_eq!(m.field("pgline.rows_committed"), Some("10"));
    assert_eq!(m.field("pgline.rows_failed"), Some("0"));
    assert_eq!(m.field("pgline.load.method"), Some("pipeline"));
    // Sync every 4 rows: windows of 4, 4 and 2, each a child of the call.
    let windows = rec.named("pgline.pipeline_window");
    let sizes: Vec<_> = windows
        .iter()
        .map(|w| w.field("db.operation.batch.size").unwrap_or("?"))
        .collect();
    assert_eq!(sizes, ["4", "4", "2"], "{windows:#?}");
    assert!(windows
        .iter()
        .all(|w| w.parent == Some(m.id) && w.level == ::tracing::Level::DEBUG));
    // Its prepare, BEGIN and COMMIT are children too; nothing is per row.
    let children: Vec<_> = rec
        .spans()
        .into_iter()
        .filter(|s| s.parent == Some(m.id))
        .map(|s| s.name)
        .collect();
    assert_eq!(children.len(), 6, "{children:?}");
}

#[tokio::test]
async fn execute_many_records_failed_rows_as_counts_not_as_an_error() {
    let (rec, _guard) = Recorder::install();
    let mut c = connect().await;
    let t = table("trace_many_fail");
    c.batch_execute(&format!("CREATE TABLE {t} (id int PRIMARY KEY)"))
        .await
        .unwrap();
    let rows = [1i32, 2, 2, 3].map(|i| (i,));
    let r = c
        .execute_many(&format!("INSERT INTO {t} (id) VALUES ($1)"), rows)
        .await
        .unwrap();
    assert_eq!(r.failures_total, 1);
    let m = rec.one("pgline.execute_many");
    assert_eq!(m.field("pgline.rows_failed"), Some("1"));
    assert_eq!(m.field("pgline.rows_committed"), Some("0"));
    assert_eq!(m.field("error.type"), None);
}

#[tokio::test]
async fn a_pool_acquire_records_its_span_with_the_connect_span_inside() {
    let (rec, _guard) = Recorder::install();
    let pool = Pool::new(PoolConfig::new(config("postgres", None))).unwrap();
    let mut conn = pool.get().await.unwrap();
    conn.query("SELECT 1", &[]).await.unwrap();
    let tls = conn.is_tls();
    drop(conn);
    let a = rec.one("pgline.pool.acquire");
    assert_database_attributes(&a);
    assert_eq!(a.field("error.type"), None);
    let connect = rec.one("pgline.connect");
    assert_eq!(connect.parent, Some(a.id));
    assert_database_attributes(&connect);
    assert_eq!(connect.field("pgline.auth.method"), Some("none"));
    assert_eq!(connect.field("pgline.tls"), Some(tls.to_string().as_str()));
    // The query ran outside the acquire.
    assert_eq!(rec.one("pgline.query").parent, None);
    // A second checkout reuses the idle connection: no connect.
    let again = pool.get().await.unwrap();
    drop(again);
    assert_eq!(rec.named("pgline.pool.acquire").len(), 2);
    assert_eq!(rec.named("pgline.connect").len(), 1);
    pool.close().await.unwrap();
}

#[tokio::test]
async fn a_pool_acquire_that_times_out_records_the_error_type() {
    let (rec, _guard) = Recorder::install();
    let cfg = PoolConfig::new(config("postgres", None))
        .max_size(1)
        .acquire_timeout(std::time::Duration::from_millis(100));
    let pool = Pool::new(cfg).unwrap();
    let held = pool.get().await.unwrap();
    let e = pool.get().await.unwrap_err();
    assert!(e.is_pool_timeout(), "{e}");
    drop(held);
    let failed: Vec<_> = rec
        .named("pgline.pool.acquire")
        .into_iter()
        .filter(|s| s.field("error.type").is_some())
        .collect();
    assert_eq!(failed.len(), 1, "{failed:#?}");
    assert_eq!(failed[0].field("error.type"), Some("pool_timeout"));
    assert_eq!(failed[0].field("otel.status_code"), Some("ERROR"));
    pool.close().await.unwrap();
}

#[tokio::test]
async fn connect_records_the_authentication_method_used() {
    let (rec, _guard) = Recorder::install();
    let mut cleartext = config(PASSWORD_USER, Some(PASSWORD_USER_PW));
    cleartext.auth_policy(AuthPolicy::any());
    let mut scram_plain = config(SCRAM_USER, Some(SCRAM_USER_PW));
    scram_plain.ssl_mode(SslMode::Disable);
    let scram = config(SCRAM_USER, Some(SCRAM_USER_PW));
    let mut expected = Vec::new();
    for (cfg, method) in [
        (config("postgres", None), "none"),
        (cleartext, "password"),
        (config(MD5_USER, Some(MD5_USER_PW)), "md5"),
        (scram_plain, "scram-sha-256"),
    ] {
        let c = Connection::connect(&cfg).await.unwrap();
        expected.push((method.to_string(), c.is_tls()));
    }
    // With TLS, SCRAM binds the channel (channel_binding=prefer).
    let c = Connection::connect(&scram).await.unwrap();
    let method = if c.is_tls() {
        "scram-sha-256-plus"
    } else {
        "scram-sha-256"
    };
    expected.push((method.to_string(), c.is_tls()));
    let got: Vec<_> = rec
        .named("pgline.connect")
        .iter()
        .map(|s| {
            (
                s.field("pgline.auth.method").unwrap_or("?").to_string(),
                s.field("pgline.tls") == Some("true"),
            )
        })
        .collect();
    assert_eq!(got, expected);
}

#[tokio::test]
async fn a_failed_connect_records_the_sqlstate() {
    let (rec, _guard) = Recorder::install();
    let e = Connection::connect(&config(MD5_USER, Some("wrong")))
        .await
        .unwrap_err();
    assert_eq!(e.code(), Some("28P01"));
    let s = rec.one("pgline.connect");
    assert_eq!(s.field("db.response.status_code"), Some("28P01"));
    assert_eq!(s.field("error.type"), Some("28P01"));
    assert_eq!(s.field("pgline.auth.method"), None);
}

#[tokio::test]
async fn copy_and_pipeline_record_their_spans_and_counts() {
    let (rec, _guard) = Recorder::install();
    let mut c = connect().await;
    let t = table("trace_copy");
    c.batch_execute(&format!("CREATE TEMP TABLE {t} (id int)"))
        .await
        .unwrap();
    let mut w = c.copy_in(&format!("COPY {t} FROM STDIN")).await.unwrap();
    w.write(b"1\n2\n3\n").await.unwrap();
    assert_eq!(w.finish().await.unwrap(), 3);
    let out = c
        .copy_out(&format!("COPY {t} TO STDOUT"))
        .await
        .unwrap()
        .read_all()
        .await
        .unwrap();
    assert_eq!(out, b"1\n2\n3\n");
    let copy_in = rec.one("pgline.copy_in");
    assert_database_attributes(&copy_in);
    assert_eq!(copy_in.field("db.operation.name"), Some("COPY"));
    assert_eq!(copy_in.field("pgline.rows_affected"), Some("3"));
    assert_eq!(
        rec.one("pgline.copy_out")
            .field("db.response.returned_rows"),
        Some("3")
    );

    let s = c.prepare("SELECT $1::int4").await.unwrap();
    let mut p = c.pipeline().await.unwrap();
    p.query(&s, &[&1i32]).unwrap();
    p.query(&s, &[&2i32]).unwrap();
    p.sync().unwrap();
    p.query_sql("SELECT 3", &[]).unwrap();
    let results = p.finish().await.unwrap();
    assert_eq!(results.len(), 3);
    let pipeline = rec.one("pgline.pipeline");
    assert_database_attributes(&pipeline);
    assert_eq!(pipeline.field("db.operation.batch.size"), Some("3"));
    let windows: Vec<_> = rec
        .named("pgline.pipeline_window")
        .into_iter()
        .map(|w| {
            assert_eq!(w.parent, Some(pipeline.id));
            w.field("db.operation.batch.size")
                .unwrap_or("?")
                .to_string()
        })
        .collect();
    assert_eq!(windows, ["2", "1"]);
}

/// Strings that appear only in SQL text or parameter values below.
const SECRETS: [&str; 4] = [
    "marker_in_sql",
    "marker_in_param",
    "7654321",
    "marker_in_failing",
];

#[tokio::test]
async fn no_sql_text_or_parameter_values_are_recorded_by_default() {
    let (rec, _guard) = Recorder::install();
    let mut c = connect().await;
    c.query(
        "SELECT 'marker_in_sql'::text, $1::text, $2::int8",
        &[&"marker_in_param", &7654321i64],
    )
    .await
    .unwrap();
    c.simple_query("SELECT 'marker_in_sql'").await.unwrap();
    let t = table("trace_secret");
    c.batch_execute(&format!("CREATE TEMP TABLE {t} (v text, n int8)"))
        .await
        .unwrap();
    c.execute_many(
        &format!("INSERT INTO {t} VALUES ($1 || '_marker_in_sql', $2)"),
        [("marker_in_param", 7654321i64)],
    )
    .await
    .unwrap();
    // The server's message quotes the bad value: it must not be recorded either.
    let e = c
        .query("SELECT $1::text::int4", &[&"marker_in_failing"])
        .await
        .unwrap_err();
    assert!(e.to_string().contains("marker_in_failing"), "{e}");
    let queries = rec.named("pgline.query");
    assert_eq!(queries.len(), 2);
    assert!(queries.iter().all(|q| q.field("db.query.text").is_none()));
    assert_eq!(queries[1].field("error.type"), Some("22P02"));
    for v in rec.all_values() {
        for secret in SECRETS {
            assert!(!v.contains(secret), "{secret} recorded: {v}");
        }
        assert!(!v.contains("SELECT '"), "SQL text recorded: {v}");
    }
    assert!(rec.spans().len() >= 6);
}

#[tokio::test]
async fn sql_text_is_recorded_after_the_connection_opts_in_but_never_parameter_values() {
    let (rec, _guard) = Recorder::install();
    let mut c = connect().await;
    c.trace_sql_text(true);
    let sql = "SELECT 'marker_in_sql'::text, $1::text";
    c.query(sql, &[&"marker_in_param"]).await.unwrap();
    assert_eq!(rec.one("pgline.query").field("db.query.text"), Some(sql));
    assert!(rec
        .all_values()
        .iter()
        .all(|v| !v.contains("marker_in_param")));
    c.trace_sql_text(false);
    c.execute("SELECT 1", &[]).await.unwrap();
    assert_eq!(rec.one("pgline.execute").field("db.query.text"), None);
}
