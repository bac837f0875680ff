//! The blocking facade (`pgline::blocking`, issue 14) against the real PostgreSQL. These
//! are plain `#[test]`s: the facade refuses to run inside a tokio runtime.

use std::io::{BufRead, Read, Write};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Barrier;
use std::time::{Duration, Instant};

use pgline::blocking::{Connection, InsideRuntime, Pool};
use pgline::pool::PoolConfig;
use pgline::protocol::backend::TransactionStatus;

use crate::support::conn::{config, table};

fn connect() -> Connection {
    Connection::connect(&config("postgres", None)).expect("connect as postgres")
}

fn count(c: &mut Connection, t: &str) -> i64 {
    c.query_one(format!("SELECT count(*) FROM {t}").as_str(), &[])
        .expect("count")
        .get(0)
        .expect("an int8")
}

#[test]
fn blocking_connections_move_between_threads_and_the_pool_is_shared_by_them() {
    fn send<T: Send>() {}
    fn shared<T: Send + Sync + Clone>() {}
    send::<Connection>();
    send::<pgline::blocking::PooledConnection>();
    send::<pgline::blocking::CancelToken>();
    shared::<Pool>();
}

#[test]
fn a_blocking_connection_queries_with_parameters() {
    let mut c = connect();
    let row = c
        .query_one("SELECT $1::int4 + 1, $2::text", &[&41i32, &"blocking"])
        .unwrap();
    assert_eq!(row.get::<i32>(0).unwrap(), 42);
    assert_eq!(row.get::<String>(1).unwrap(), "blocking");

    let rows = c
        .query("SELECT generate_series(1, $1::int4)", &[&5i32])
        .unwrap();
    let got: Vec<i32> = rows.iter().map(|r| r.get(0).unwrap()).collect();
    assert_eq!(got, [1, 2, 3, 4, 5]);

    assert!(c
        .query_opt("SELECT 1 WHERE $1::bool", &[&false])
        .unwrap()
        .is_none());
    assert!(c
        .query_one("SELECT 1 WHERE false", &[])
        .unwrap_err()
        .is_row_count());

    let stmt = c.prepare("SELECT $1::int8 * 2").unwrap();
    assert_eq!(
        c.query_one(&stmt, &[&21i64])
            .unwrap()
            .get::<i64>(0)
            .unwrap(),
        42
    );

    let results = c.simple_query("SELECT 1; SELECT 2").unwrap();
    assert_eq!(results.len(), 2);

    let t = table("blk_q");
    c.batch_execute(&format!("CREATE TEMP TABLE {t} (n int8)"))
        .unwrap();
    let n = c
        .execute(
            format!("INSERT INTO {t} SELECT generate_series(1, $1::int8)").as_str(),
            &[&100i64],
        )
        .unwrap();
    assert_eq!(n, Some(100));

    // Streamed rows, a chunk at a time, through the iterator.
    let sum: i64 = c
        .query_stream(format!("SELECT n FROM {t}").as_str(), &[], 7)
        .unwrap()
        .map(|r| r.unwrap().get::<i64>(0).unwrap())
        .sum();
    assert_eq!(sum, 5050);

    let err = c
        .execute("SELECT * FROM no_such_table_here", &[])
        .unwrap_err();
    assert_eq!(err.code(), Some("42P01"));
    assert!(!c.is_broken());
    assert!(c.parameter("server_version").is_some());
    c.close().unwrap();
}

#[test]
fn a_committed_blocking_transaction_is_kept() {
    let mut c = connect();
    let t = table("blk_tx_commit");
    c.batch_execute(&format!("CREATE TEMP TABLE {t} (n int4)"))
        .unwrap();
    let mut tx = c.begin().unwrap();
    tx.execute(format!("INSERT INTO {t} VALUES ($1)").as_str(), &[&1i32])
        .unwrap();
    assert_eq!(
        tx.query(format!("SELECT n FROM {t}").as_str(), &[])
            .unwrap()
            .len(),
        1
    );
    tx.commit().unwrap();
    assert_eq!(c.as_async().transaction_status(), TransactionStatus::Idle);
    assert_eq!(count(&mut c, &t), 1);
}

#[test]
fn a_rolled_back_blocking_transaction_leaves_nothing() {
    let mut c = connect();
    let t = table("blk_tx_rollback");
    c.batch_execute(&format!("CREATE TEMP TABLE {t} (n int4)"))
        .unwrap();
    let mut tx = c.begin().unwrap();
    tx.execute(format!("INSERT INTO {t} VALUES ($1)").as_str(), &[&1i32])
        .unwrap();
    tx.rollback().unwrap();
    assert_eq!(count(&mut c, &t), 0);
}

#[test]
fn a_dropped_blocking_transaction_rolls_back_at_once() {
    let mut c = connect();
    let t = table("blk_tx_drop");
    c.batch_execute(&format!("CREATE TEMP TABLE {t} (n int4)"))
        .unwrap();
    {
        let mut tx = c.begin().unwrap();
        tx.execute(format!("INSERT INTO {t} VALUES ($1)").as_str(), &[&1i32])
            .unwrap();
    }
    // Rolled back by the destructor itself, not queued for the next operation.
    assert!(c.as_async().is_idle());
    assert_eq!(c.as_async().transaction_status(), TransactionStatus::Idle);
    assert_eq!(count(&mut c, &t), 0);
}

#[test]
fn execute_many_loads_ten_thousand_rows_through_the_blocking_api() {
    let mut c = connect();
    let t = table("blk_many");
    c.batch_execute(&format!("CREATE TEMP TABLE {t} (id int8, name text)"))
        .unwrap();
    let rows = (0..10_000i64).map(|i| (i, format!("row {i}")));
    let report = c
        .execute_many(format!("INSERT INTO {t} VALUES ($1, $2)").as_str(), rows)
        .unwrap();
    assert!(report.is_complete(), "{report}");
    assert_eq!(report.rows_committed, 10_000);
    assert_eq!(count(&mut c, &t), 10_000);
    let last: String = c
        .query_one(
            format!("SELECT name FROM {t} WHERE id = $1").as_str(),
            &[&9_999i64],
        )
        .unwrap()
        .get(0)
        .unwrap();
    assert_eq!(last, "row 9999");
}

#[test]
fn copy_in_through_the_writer_reads_back_byte_identical_through_copy_out() {
    let mut c = connect();
    let t = table("blk_copy");
    c.batch_execute(&format!(
        "CREATE TEMP TABLE {t} (id int8, name text, note text)"
    ))
    .unwrap();
    // Text COPY in the form COPY OUT writes it back: NULL as \N, tabs and newlines escaped.
    // About 2.5 MB, so the writer flushes several times mid-COPY.
    let mut data = Vec::new();
    for i in 0..50_000i64 {
        match i % 3 {
            0 => writeln!(data, "{i}\tname {i}\t\\N").unwrap(),
            1 => writeln!(data, "{i}\twith\\ttab\tline\\nbreak é").unwrap(),
            _ => writeln!(data, "{i}\t\t{}", "x".repeat((i % 50) as usize)).unwrap(),
        }
    }
    let mut w = c.copy_in(&format!("COPY {t} FROM STDIN")).unwrap();
    assert_eq!(w.columns(), 3);
    // Uneven pieces: rows span writes.
    for piece in data.chunks(7_777) {
        w.write_all(piece).unwrap();
    }
    w.flush().unwrap();
    assert_eq!(w.finish().unwrap(), 50_000);

    let sql = format!("COPY (SELECT * FROM {t} ORDER BY id) TO STDOUT");
    let mut back = Vec::new();
    let mut out = c.copy_out(&sql).unwrap();
    out.read_to_end(&mut back).unwrap();
    assert_eq!(out.rows(), Some(50_000));
    drop(out);
    assert!(back == data, "COPY OUT differs from what COPY IN wrote");

    // The same data through the chunk iterator and line by line.
    let chunks: Vec<_> = c.copy_out(&sql).unwrap().collect::<Result<_, _>>().unwrap();
    assert_eq!(chunks.len(), 50_000);
    assert!(chunks.concat() == data);
    let lines = c.copy_out(&sql).unwrap().lines().count();
    assert_eq!(lines, 50_000);
}

#[test]
fn binary_copy_out_reads_typed_rows_and_a_reader_dropped_midway_leaves_the_connection_usable() {
    use pgline::types::oid;

    let mut c = connect();
    let sql =
        "COPY (SELECT g::int8, 'n' || g, CASE WHEN g % 2 = 0 THEN NULL ELSE g * 1.5 END::float8 \
               FROM generate_series(1, 20000) g) TO STDOUT (FORMAT binary)";
    let mut rows = c
        .copy_out(sql)
        .unwrap()
        .binary(&[oid::INT8, oid::TEXT, oid::FLOAT8])
        .unwrap();
    let mut n = 0i64;
    for row in rows.by_ref() {
        let row = row.unwrap();
        n += 1;
        assert_eq!(row.get::<i64>(0).unwrap(), n);
        assert_eq!(row.get::<String>(1).unwrap(), format!("n{n}"));
        let expected = (n % 2 == 1).then_some(n as f64 * 1.5);
        assert_eq!(row.get::<Option<f64>>(2).unwrap(), expected);
    }
    assert_eq!(n, 20_000);
    assert_eq!(rows.rows(), Some(20_000));
    assert!(rows.next().is_none(), "the iterator stays ended");
    drop(rows);

    // A wrong type count is refused before any row is read.
    let err = c.copy_out(sql).unwrap().binary(&[oid::INT8]).unwrap_err();
    assert!(err.to_string().contains("3 columns"), "{err}");

    // Dropped after a few rows: the next operation drains the rest and works.
    let mut rows = c
        .copy_out(sql)
        .unwrap()
        .binary(&[oid::INT8, oid::TEXT, oid::FLOAT8])
        .unwrap();
    assert_eq!(rows.by_ref().take(3).count(), 3);
    drop(rows);
    let one: i32 = c.query_one("SELECT 1", &[]).unwrap().get(0).unwrap();
    assert_eq!(one, 1);
}

#[test]
fn a_dropped_copy_in_writer_copies_nothing() {
    let mut c = connect();
    let t = table("blk_copy_drop");
    c.batch_execute(&format!("CREATE TEMP TABLE {t} (id int8)"))
        .unwrap();
    let mut w = c.copy_in(&format!("COPY {t} FROM STDIN")).unwrap();
    w.write_all(b"1\n2\n").unwrap();
    drop(w);
    assert!(c.as_async().is_idle());
    assert_eq!(count(&mut c, &t), 0);
}

#[test]
fn the_blocking_pool_serves_four_os_threads_at_once() {
    let t = table("blk_pool");
    let mut setup = connect();
    setup
        .batch_execute(&format!("CREATE TABLE {t} (thread int4, i int4)"))
        .unwrap();

    let mut cfg = config("postgres", None);
    cfg.application_name(t.clone());
    let pool = Pool::new(
        PoolConfig::new(cfg)
            .max_size(2)
            .acquire_timeout(Duration::from_secs(30)),
    )
    .unwrap();
    const THREADS: i32 = 4;
    const ROUNDS: i32 = 25;
    // All threads are inside get/query at the same time: two wait for a connection.
    let start = Barrier::new(THREADS as usize);
    std::thread::scope(|s| {
        for thread in 0..THREADS {
            let (pool, start, t) = (&pool, &start, &t);
            s.spawn(move || {
                start.wait();
                for i in 0..ROUNDS {
                    let mut conn = pool.get().unwrap();
                    let row = conn
                        .query_one("SELECT $1::int4, pg_sleep(0.002)::text", &[&thread])
                        .unwrap();
                    assert_eq!(row.get::<i32>(0).unwrap(), thread);
                    let mut tx = conn.begin().unwrap();
                    tx.execute(
                        format!("INSERT INTO {t} VALUES ($1, $2)").as_str(),
                        &[&thread, &i],
                    )
                    .unwrap();
                    tx.commit().unwrap();
                }
            });
        }
    });
    assert_eq!(count(&mut setup, &t), i64::from(THREADS * ROUNDS));
    let per_thread = setup
        .query(
            format!("SELECT count(DISTINCT i) FROM {t} GROUP BY thread").as_str(),
            &[],
        )
        .unwrap();
    assert_eq!(per_thread.len(), THREADS as usize);
    let status = pool.status();
    assert!(status.size <= 2, "{status:?}");
    assert_eq!(status.in_use, 0, "{status:?}");

    pool.close().unwrap();
    assert!(pool.get().unwrap_err().is_pool_closed());
    setup.batch_execute(&format!("DROP TABLE {t}")).unwrap();
}

#[test]
fn a_pooled_connection_returned_inside_a_transaction_is_rolled_back_before_reuse() {
    let t = table("blk_pool_dirty");
    let mut setup = connect();
    setup
        .batch_execute(&format!("CREATE TABLE {t} (n int4)"))
        .unwrap();
    let pool = Pool::new(PoolConfig::new(config("postgres", None)).max_size(1)).unwrap();
    {
        let mut conn = pool.get().unwrap();
        // A transaction opened by hand: the guard goes back dirty.
        conn.batch_execute(&format!("BEGIN; INSERT INTO {t} VALUES (1)"))
            .unwrap();
    }
    // The reset runs on the pool's driver thread; the next checkout gets a clean
    // connection (the only one: max_size 1).
    let mut conn = pool.get().unwrap();
    // Inside the old transaction this connection would still see its own row.
    let seen: i64 = conn
        .query_one(format!("SELECT count(*) FROM {t}").as_str(), &[])
        .unwrap()
        .get(0)
        .unwrap();
    assert_eq!(seen, 0);
    drop(conn);
    assert_eq!(count(&mut setup, &t), 0);
    assert_eq!(
        pool.status().created,
        1,
        "the connection was reset, not replaced"
    );
    setup.batch_execute(&format!("DROP TABLE {t}")).unwrap();
}

#[test]
fn a_blocking_cancel_token_cancels_a_query_from_another_thread() {
    let mut c = connect();
    let token = c.cancel_token().unwrap();
    let done = AtomicBool::new(false);
    let started = Instant::now();
    std::thread::scope(|s| {
        // Until the query ends: a cancel that arrives before the query started is lost.
        s.spawn(|| {
            while !done.load(Ordering::Acquire) {
                std::thread::sleep(Duration::from_millis(200));
                token.cancel_query(Duration::from_secs(5)).unwrap();
            }
        });
        let err = c.batch_execute("SELECT pg_sleep(30)").unwrap_err();
        done.store(true, Ordering::Release);
        assert_eq!(err.code(), Some("57014"), "{err}");
    });
    assert!(started.elapsed() < Duration::from_secs(20));
    assert_eq!(
        c.query_one("SELECT 1", &[]).unwrap().get::<i32>(0).unwrap(),
        1
    );
}

#[test]
fn the_blocking_api_inside_a_tokio_runtime_returns_an_error_instead_of_panicking() {
    let cfg = config("postgres", None);
    let mut conn = connect();
    let t = table("blk_in_rt");
    conn.batch_execute(&format!("CREATE TEMP TABLE {t} (n int4)"))
        .unwrap();
    let pool = Pool::new(PoolConfig::new(cfg.clone()).max_size(1)).unwrap();
    let mut pooled = pool.get().unwrap();
    let mut tx = conn.begin().unwrap();
    tx.execute(format!("INSERT INTO {t} VALUES (1)").as_str(), &[])
        .unwrap();

    let refused = |e: pgline::Error| {
        assert!(InsideRuntime::is_cause_of(&e), "{e}");
        assert!(e.is_unsupported(), "{e}");
        assert!(e.to_string().contains("inside a tokio runtime"), "{e}");
    };
    for multi_thread in [false, true] {
        let rt = if multi_thread {
            tokio::runtime::Builder::new_multi_thread()
                .enable_all()
                .build()
        } else {
            tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
        }
        .unwrap();
        rt.block_on(async {
            refused(Connection::connect(&cfg).unwrap_err());
            refused(tx.query("SELECT 1", &[]).unwrap_err());
            refused(pool.get().unwrap_err());
            refused(pooled.query_one("SELECT 1", &[]).unwrap_err());
            refused(pool.close().unwrap_err());
            let load = tx.execute_many("SELECT $1::int4", [(1i32,)]).unwrap_err();
            refused(load.error);
        });
    }
    // Destructors inside a runtime: no panic, and nothing blocks. The transaction's
    // ROLLBACK is queued; the pooled connection goes back to its pool.
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        drop(tx);
        drop(pooled);
    });
    assert_eq!(count(&mut conn, &t), 0);
    assert_eq!(
        conn.as_async().transaction_status(),
        TransactionStatus::Idle
    );
    assert_eq!(
        pool.get()
            .unwrap()
            .query_one("SELECT 7", &[])
            .unwrap()
            .get::<i32>(0)
            .unwrap(),
        7
    );
    // Even a whole connection and pool, runtimes included.
    rt.block_on(async {
        drop(conn);
        drop(pool);
    });
}

#[test]
fn the_blocking_transaction_and_cancel_token_answer_as_the_async_ones_do() {
    let mut c = connect();
    let token = c.cancel_token().unwrap();
    let a = c.as_async().cancel_token().unwrap();
    assert!(token.is_supported());
    assert_eq!(token.is_supported(), a.is_supported());
    assert_eq!(token.secret_key_len(), a.secret_key_len());
    assert!(token.secret_key_len() >= 4);
    let tx = c.begin().unwrap();
    assert!(tx.rolls_back(), "PostgreSQL rolls back");
    tx.rollback().unwrap();
}
