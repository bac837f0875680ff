//! The spans pgline emits (feature `tracing`), printed by a small hand-written subscriber:
//! a query, an `execute_many` (with its sync windows), a pool acquire (with the connect
//! inside it) and a failing query, against a throwaway cluster this example starts.
//!
//! Run: cargo run --example tracing --features tracing
//!
//! Each span is printed as a tree line with its duration and fields once its section is
//! done. Note what is missing: no SQL text and no parameter values (see
//! `Connection::trace_sql_text` for the opt-in). A real application would install
//! `tracing-subscriber` or `tracing-opentelemetry` instead; the fields are named after the
//! OpenTelemetry database conventions so the latter exports them as they are.

#[cfg(feature = "tracing")]
#[tokio::main(flavor = "current_thread")]
async fn main() {
    demo::run().await;
}

#[cfg(not(feature = "tracing"))]
fn main() {
    eprintln!("this example needs the `tracing` feature:");
    eprintln!("  cargo run --example tracing --features tracing");
}

#[cfg(feature = "tracing")]
mod demo {
    use std::sync::atomic::{AtomicU64, Ordering};
    use std::sync::{Arc, Mutex};
    use std::time::{Duration, Instant};

    use pgline::cluster::{ClusterOptions, TempCluster, SCRAM_USER, SCRAM_USER_PW};
    use pgline::conn::ExecuteManyOptions;
    use pgline::pool::{Pool, PoolConfig};
    use pgline::{Config, Connection};
    use tracing::field::{Field, Visit};
    use tracing::span::{Attributes, Id, Record};
    use tracing::{Event, Metadata, Subscriber};

    pub(crate) async fn run() {
        let printer = Printer::default();
        tracing::subscriber::set_global_default(printer.clone()).expect("no other subscriber");
        let cluster = TempCluster::start(ClusterOptions::default()).expect("cluster");
        let mut cfg = Config::new();
        cfg.host(cluster.host())
            .port(cluster.port())
            .user(SCRAM_USER)
            .password(SCRAM_USER_PW)
            .dbname("postgres");

        let mut c = Connection::connect(&cfg).await.expect("connect");
        printer.section("connect");

        let rows = c
            .query("SELECT g FROM generate_series(1, $1) g", &[&5i32])
            .await
            .expect("query");
        assert_eq!(rows.len(), 5);
        printer.section("a query (its statement is prepared on the way: a cache miss)");

        c.batch_execute("CREATE TABLE items (id int8 PRIMARY KEY, name text)")
            .await
            .expect("create table");
        printer.section("batch_execute");

        let opts = ExecuteManyOptions {
            sync_every: 4096,
            ..ExecuteManyOptions::default()
        };
        let items = (0..10_000i64).map(|i| (i, format!("item {i}")));
        let report = c
            .execute_many_with("INSERT INTO items (id, name) VALUES ($1, $2)", items, opts)
            .await
            .expect("execute_many");
        assert_eq!(report.rows_committed, 10_000);
        printer.section("execute_many: 10,000 rows, a window every 4,096 (DEBUG spans)");

        let pool = Pool::new(PoolConfig::new(cfg.clone()).max_size(2)).expect("pool");
        let mut conn = pool.get().await.expect("acquire");
        printer.section("a pool acquire that opens a connection");
        conn.query_one("SELECT count(*) FROM items", &[])
            .await
            .expect("count");
        drop(conn);
        let conn = pool.get().await.expect("acquire again");
        drop(conn);
        printer.section("a query on the pooled connection, then an acquire of the idle one");

        let e = c
            .query("SELECT $1::text::int4", &[&"not a number"])
            .await
            .expect_err("bad input");
        printer.section(&format!(
            "a failing query (the error says {:?}; the span keeps only the SQLSTATE)",
            e.to_string()
        ));

        pool.close().await.expect("close pool");
        c.close().await.expect("close");
        cluster.stop();
    }

    /// One span as seen so far.
    struct SpanData {
        name: &'static str,
        level: tracing::Level,
        parent: Option<u64>,
        fields: Vec<(&'static str, String)>,
        opened: Instant,
        closed: Option<Duration>,
        /// Handles alive (the span closes when the last one drops).
        refs: usize,
    }

    #[derive(Default)]
    struct State {
        /// Spans in the order they were opened.
        spans: Vec<(u64, SpanData)>,
        /// Entered spans, innermost last (this example runs on one thread).
        stack: Vec<u64>,
    }

    /// Keeps every span of the current section; [`Printer::section`] prints and forgets
    /// them.
    #[derive(Clone, Default)]
    struct Printer {
        state: Arc<Mutex<State>>,
        next: Arc<AtomicU64>,
    }

    struct Fields<'a>(&'a mut Vec<(&'static str, String)>);

    impl Visit for Fields<'_> {
        fn record_str(&mut self, field: &Field, value: &str) {
            self.0.push((field.name(), value.to_string()));
        }

        fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
            self.0.push((field.name(), format!("{value:?}")));
        }
    }

    impl Printer {
        fn find(st: &mut State, id: u64) -> Option<&mut SpanData> {
            st.spans.iter_mut().find(|(i, _)| *i == id).map(|(_, s)| s)
        }

        /// Prints the spans of the section just run as a tree, and forgets them.
        fn section(&self, title: &str) {
            let mut st = self.state.lock().expect("lock");
            println!("== {title}");
            let spans = std::mem::take(&mut st.spans);
            let depth_of = |mut p: Option<u64>| {
                let mut d = 0;
                while let Some(id) = p {
                    d += 1;
                    p = spans
                        .iter()
                        .find(|(i, _)| *i == id)
                        .and_then(|(_, s)| s.parent);
                }
                d
            };
            for (_, s) in &spans {
                let took = s
                    .closed
                    .map_or_else(|| "open".to_string(), |d| format!("{d:.1?}"));
                let fields: Vec<String> =
                    s.fields.iter().map(|(k, v)| format!("{k}={v}")).collect();
                println!(
                    "{:indent$}{} [{}, {took}] {}",
                    "",
                    s.name,
                    s.level,
                    fields.join(" "),
                    indent = 2 * depth_of(s.parent),
                );
            }
            println!();
        }
    }

    impl Subscriber for Printer {
        fn enabled(&self, metadata: &Metadata<'_>) -> bool {
            metadata.target().starts_with("pgline")
        }

        fn new_span(&self, attrs: &Attributes<'_>) -> Id {
            let id = self.next.fetch_add(1, Ordering::Relaxed) + 1;
            let mut st = self.state.lock().expect("lock");
            let parent = if attrs.is_root() {
                None
            } else if let Some(p) = attrs.parent() {
                Some(p.into_u64())
            } else {
                st.stack.last().copied()
            };
            let mut fields = Vec::new();
            attrs.record(&mut Fields(&mut fields));
            st.spans.push((
                id,
                SpanData {
                    name: attrs.metadata().name(),
                    level: *attrs.metadata().level(),
                    parent,
                    fields,
                    opened: Instant::now(),
                    closed: None,
                    refs: 1,
                },
            ));
            Id::from_u64(id)
        }

        fn record(&self, span: &Id, values: &Record<'_>) {
            let mut st = self.state.lock().expect("lock");
            if let Some(s) = Self::find(&mut st, span.into_u64()) {
                values.record(&mut Fields(&mut s.fields));
            }
        }

        fn record_follows_from(&self, _: &Id, _: &Id) {}

        fn event(&self, _: &Event<'_>) {}

        fn enter(&self, span: &Id) {
            self.state.lock().expect("lock").stack.push(span.into_u64());
        }

        fn exit(&self, span: &Id) {
            let mut st = self.state.lock().expect("lock");
            if let Some(at) = st.stack.iter().rposition(|&s| s == span.into_u64()) {
                st.stack.remove(at);
            }
        }

        fn clone_span(&self, span: &Id) -> Id {
            let mut st = self.state.lock().expect("lock");
            if let Some(s) = Self::find(&mut st, span.into_u64()) {
                s.refs += 1;
            }
            span.clone()
        }

        fn try_close(&self, span: Id) -> bool {
            let mut st = self.state.lock().expect("lock");
            let Some(s) = Self::find(&mut st, span.into_u64()) else {
                return false;
            };
            s.refs -= 1;
            if s.refs == 0 {
                s.closed = Some(s.opened.elapsed());
            }
            s.refs == 0
        }
    }
}
