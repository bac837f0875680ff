//! Simple and extended queries, types in both formats, statements, streaming.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use pgline::types::{oid, Text};
use pgline::{Config, Connection};

use crate::support::conn::{assert_answers, config, connect, table};

async fn connect_with(text: bool) -> Connection {
    let mut cfg: Config = config("postgres", None);
    cfg.prefer_text_format(text);
    Connection::connect(&cfg).await.expect("connect")
}

#[tokio::test]
async fn every_supported_type_round_trips_in_binary_and_text_formats() {
    for text in [false, true] {
        let mut c = connect_with(text).await;
        let t = table("types");
        c.batch_execute(&format!(
            "CREATE TEMP TABLE {t} (b bool, s int2, i int4, l int8, f real, d float8, \
             txt text, vc varchar(20), by bytea, ts timestamptz, dt date, n numeric)"
        ))
        .await
        .unwrap();
        let ts = UNIX_EPOCH + Duration::from_micros(1_700_000_000_123_456);
        let day = UNIX_EPOCH + Duration::from_secs(19_737 * 86_400);
        let insert = format!("INSERT INTO {t} VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10,$11,$12)");
        let numeric = Text {
            oid: oid::NUMERIC,
            value: "12345.678901234567890",
        };
        let n = c
            .execute(
                insert.as_str(),
                &[
                    &true,
                    &-7i16,
                    &123_456i32,
                    &-9_000_000_000i64,
                    &1.5f32,
                    &-2.25e100f64,
                    &"héllo ✓",
                    &"vc",
                    &&b"\x00\x01\xff"[..],
                    &ts,
                    &day,
                    &numeric,
                ],
            )
            .await
            .unwrap();
        assert_eq!(n, Some(1));
        let nulls: [&(dyn pgline::ToSql + Sync); 12] = [
            &None::<bool>,
            &None::<i16>,
            &None::<i32>,
            &None::<i64>,
            &None::<f32>,
            &None::<f64>,
            &None::<&str>,
            &None::<String>,
            &None::<Vec<u8>>,
            &None::<SystemTime>,
            &None::<SystemTime>,
            &None::<Text<'_>>,
        ];
        c.execute(insert.as_str(), &nulls).await.unwrap();
        let rows = c
            .query(
                format!(
                    "SELECT b,s,i,l,f,d,txt,vc,by,ts,dt,n::text FROM {t} ORDER BY b NULLS LAST"
                )
                .as_str(),
                &[],
            )
            .await
            .unwrap();
        assert_eq!(rows.len(), 2, "text={text}");
        let r = &rows[0];
        assert!(r.get::<bool>(0).unwrap());
        assert_eq!(r.get::<i16>(1).unwrap(), -7);
        assert_eq!(r.get::<i32>(2).unwrap(), 123_456);
        assert_eq!(r.get::<i64>(3).unwrap(), -9_000_000_000);
        assert_eq!(r.get::<f32>(4).unwrap(), 1.5);
        assert_eq!(r.get::<f64>(5).unwrap(), -2.25e100);
        assert_eq!(r.get::<String>(6).unwrap(), "héllo ✓");
        assert_eq!(r.get::<&str>("vc").unwrap(), "vc");
        assert_eq!(r.get::<Vec<u8>>(8).unwrap(), b"\x00\x01\xff");
        assert_eq!(r.get::<SystemTime>(9).unwrap(), ts);
        assert_eq!(r.get::<SystemTime>(10).unwrap(), day);
        assert_eq!(r.get::<String>(11).unwrap(), "12345.678901234567890");
        let r = &rows[1];
        for i in 0..12 {
            assert!(
                r.get_raw(i).unwrap().is_none(),
                "column {i} should be NULL (text={text})"
            );
        }
        assert_eq!(r.get::<Option<i64>>(3).unwrap(), None);
        assert!(
            r.get::<i64>(3).unwrap_err().is_conversion(),
            "NULL into i64 is a typed error"
        );
    }
}

#[tokio::test]
async fn reading_a_column_with_the_wrong_rust_type_is_a_typed_error() {
    let mut c = connect().await;
    let r = c
        .query_one("SELECT 1::int4 AS a, 'x'::text AS b", &[])
        .await
        .unwrap();
    assert!(r.get::<String>("a").unwrap_err().is_conversion());
    assert!(r.get::<i32>("b").unwrap_err().is_conversion());
    assert!(
        r.get::<i32>(7).unwrap_err().is_conversion(),
        "no such column"
    );
    assert!(r.get::<i32>("nope").unwrap_err().is_conversion());
}

#[tokio::test]
async fn simple_query_returns_every_result_of_a_multi_statement_string() {
    let mut c = connect().await;
    let res = c
        .simple_query("SELECT 1 AS a, NULL AS b; SELECT 'x' UNION ALL SELECT 'y'; ;")
        .await
        .unwrap();
    assert_eq!(res.len(), 2);
    assert_eq!(res[0].rows[0].get(0).unwrap(), Some("1"));
    assert_eq!(res[0].rows[0].get("b").unwrap(), None);
    assert_eq!(res[0].tag.as_deref(), Some("SELECT 1"));
    assert_eq!(res[1].rows.len(), 2);
    assert_eq!(res[1].rows_affected, Some(2));
    let empty = c.simple_query("").await.unwrap();
    assert!(empty.len() == 1 && empty[0].empty);
}

#[tokio::test]
async fn multi_statement_simple_query_with_an_error_in_the_middle_stops_there() {
    let mut c = connect().await;
    let t = table("ms");
    c.batch_execute(&format!("CREATE TEMP TABLE {t} (x int)"))
        .await
        .unwrap();
    let err = c
        .simple_query(&format!(
            "INSERT INTO {t} VALUES (1); SELECT 1/0; INSERT INTO {t} VALUES (2)"
        ))
        .await
        .unwrap_err();
    assert_eq!(err.code(), Some("22012"));
    // One implicit transaction: nothing of it survives, and the connection is fine.
    let n = c
        .query_one(format!("SELECT count(*) FROM {t}").as_str(), &[])
        .await
        .unwrap();
    assert_eq!(n.get::<i64>(0).unwrap(), 0);
}

#[tokio::test]
async fn a_prepared_statement_is_reused_ten_thousand_times() {
    let mut c = connect().await;
    let s = c.prepare("SELECT $1::int8 + 1").await.unwrap();
    for i in 0..10_000i64 {
        let r = c.query_one(&s, &[&i]).await.unwrap();
        assert_eq!(r.get::<i64>(0).unwrap(), i + 1);
    }
}

#[tokio::test]
async fn statement_cache_evicts_with_close_and_keeps_working() {
    let mut cfg = config("postgres", None);
    cfg.statement_cache_capacity(3);
    let mut c = Connection::connect(&cfg).await.unwrap();
    for round in 0..3 {
        for k in 0..10i32 {
            let sql = format!("SELECT {k} + $1::int4");
            let r = c.query_one(sql.as_str(), &[&round]).await.unwrap();
            assert_eq!(r.get::<i32>(0).unwrap(), k + round);
        }
    }
    let n = c
        .query_one("SELECT count(*) FROM pg_prepared_statements", &[])
        .await
        .unwrap();
    // The cache holds 3 (plus this statement, which evicted one more): never 30.
    assert!(
        n.get::<i64>(0).unwrap() <= 4,
        "evicted statements are closed on the server"
    );
}

#[tokio::test]
async fn unnamed_one_shot_query_runs_in_one_flight() {
    let mut c = connect().await;
    let rows = c
        .query_unnamed("SELECT $1::int4 * 2, $2::text", &[&21i32, &"x"])
        .await
        .unwrap();
    assert_eq!(rows[0].get::<i32>(0).unwrap(), 42);
    assert_eq!(rows[0].get::<&str>(1).unwrap(), "x");
    let n = c
        .query_one("SELECT count(*) FROM pg_prepared_statements", &[])
        .await
        .unwrap();
    assert_eq!(
        n.get::<i64>(0).unwrap(),
        1,
        "only the cached count statement is named"
    );
}

#[tokio::test]
async fn a_million_row_result_streams_with_bounded_memory() {
    let mut c = connect().await;
    // With a row limit (Execute, PortalSuspended, Execute ...) and without one (a single
    // Execute held back by TCP back-pressure): either way the buffer stays small.
    for chunk in [1000, 0] {
        let mut s = c
            .query_stream(
                "SELECT g, repeat('x', 50) FROM generate_series(1, 1000000) g",
                &[],
                chunk,
            )
            .await
            .unwrap();
        let mut n = 0i64;
        let mut max_buf = 0;
        while let Some(r) = s.next().await.unwrap() {
            n += 1;
            if n % 1000 == 0 {
                assert_eq!(r.get::<i32>(0).unwrap() as i64, n);
            }
            max_buf = max_buf.max(s.buffered_bytes());
        }
        drop(s);
        assert_eq!(n, 1_000_000);
        assert!(
            max_buf < 4 << 20,
            "chunk {chunk}: read buffer stayed bounded: {max_buf} bytes"
        );
        assert_answers(&mut c, 1).await;
    }
}

#[tokio::test]
async fn query_one_reports_wrong_row_counts_as_typed_errors() {
    let mut c = connect().await;
    assert!(c
        .query_one("SELECT 1 WHERE false", &[])
        .await
        .unwrap_err()
        .is_row_count());
    assert!(c
        .query_one("SELECT 1 UNION ALL SELECT 2", &[])
        .await
        .unwrap_err()
        .is_row_count());
    assert!(c
        .query_opt("SELECT 1 WHERE false", &[])
        .await
        .unwrap()
        .is_none());
}

#[tokio::test]
async fn server_errors_carry_every_field_and_leave_the_connection_usable() {
    let mut c = connect().await;
    let t = table("uq");
    c.batch_execute(&format!("CREATE TEMP TABLE {t} (id int PRIMARY KEY)"))
        .await
        .unwrap();
    c.execute(format!("INSERT INTO {t} VALUES (1)").as_str(), &[])
        .await
        .unwrap();
    let e = c
        .execute(format!("INSERT INTO {t} VALUES (1)").as_str(), &[])
        .await
        .unwrap_err();
    let db = e.as_db_error().expect("db error");
    assert_eq!(db.code(), "23505");
    assert_eq!(db.severity(), "ERROR");
    assert_eq!(db.table(), Some(t.as_str()));
    assert!(db.constraint().is_some());
    assert!(db.detail().unwrap().contains("already exists"));
    assert!(db.routine().is_some());
    assert!(!c.is_broken());
    assert_answers(&mut c, 2).await;
}

#[tokio::test]
async fn parameter_count_mismatch_is_an_error_before_sending() {
    let mut c = connect().await;
    let s = c.prepare("SELECT $1::int4").await.unwrap();
    assert!(c.query(&s, &[]).await.is_err());
    assert!(!c.is_broken());
}

#[tokio::test]
async fn copy_from_stdin_through_simple_query_is_refused_and_the_connection_stays_usable() {
    let mut c = connect().await;
    let t = table("cp");
    c.batch_execute(&format!("CREATE TEMP TABLE {t} (x int)"))
        .await
        .unwrap();
    let err = c
        .simple_query(&format!("COPY {t} FROM STDIN"))
        .await
        .unwrap_err();
    assert!(err.is_unsupported(), "{err:?}");
    assert!(!c.is_broken());
    assert_answers(&mut c, 3).await;
}

#[tokio::test]
async fn rows_delivered_before_an_error_mid_result_end_with_the_error() {
    let mut c = connect().await;
    let s = c
        .prepare("SELECT 1/(3-n) FROM generate_series(1,10) n")
        .await
        .unwrap();
    let mut stream = c.query_stream(&s, &[], 1).await.unwrap();
    let mut got = 0;
    let err = loop {
        match stream.next().await {
            Ok(Some(_)) => got += 1,
            Ok(None) => panic!("stream ended without the error"),
            Err(e) => break e,
        }
    };
    assert_eq!(got, 2, "the rows before the failing one were delivered");
    assert_eq!(err.code(), Some("22012"));
    drop(stream);
    assert_answers(&mut c, 4).await;
}

#[tokio::test]
async fn a_dropped_unnamed_query_leaves_the_statement_cache_intact() {
    let mut c = connect().await;
    c.query_one("SELECT 1::int4 + $1::int4", &[&1i32])
        .await
        .unwrap();
    let cached = c.cached_statements();
    assert!(cached >= 1);
    let fut = c.query_unnamed("SELECT pg_sleep(0.5), $1::int4", &[&1i32]);
    let _ = tokio::time::timeout(Duration::from_millis(20), fut).await;
    assert_eq!(
        c.cached_statements(),
        cached,
        "the cache survives a dropped one-shot query"
    );
    let r = c
        .query_one("SELECT 1::int4 + $1::int4", &[&2i32])
        .await
        .unwrap();
    assert_eq!(r.get::<i32>(0).unwrap(), 3);
}

#[tokio::test]
async fn text_format_on_postgresql_still_lets_the_server_infer_parameter_types() {
    // Declaring the values' own types in Parse is for servers that infer them badly
    // (iris-pgwire); PostgreSQL infers from the SQL in either format.
    let mut cfg = config("postgres", None);
    cfg.prefer_text_format(true);
    let mut c = Connection::connect(&cfg).await.unwrap();
    let v: i64 = c
        .query_one("SELECT $1::int8 AS v", &[&5i32])
        .await
        .unwrap()
        .get(0)
        .unwrap();
    assert_eq!(v, 5);
    let types: String = c
        .query_one(
            "SELECT parameter_types::text FROM pg_prepared_statements \
             WHERE statement = 'SELECT $1::int8 AS v'",
            &[],
        )
        .await
        .unwrap()
        .get(0)
        .unwrap();
    assert_eq!(
        types, "{bigint}",
        "the type PostgreSQL inferred, not the value's int4"
    );
}
