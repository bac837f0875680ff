//! Binary COPY out, typed (`CopyOut::binary`) against the real server: round trips with
//! the binary COPY writer for every mapped type, NULLs, row counts, a wrong type list,
//! and dropping the reader mid-stream.

use std::str::FromStr;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use pgline::types::{oid, Date, Numeric};
use pgline::Connection;

use crate::support::conn::{assert_answers, connect, table};

const N: i64 = 100_000;

/// Row `i`: every nullable column is NULL when `i % 7 == 3`.
#[allow(clippy::type_complexity)]
fn row(
    i: i64,
) -> (
    i32,
    Option<i64>,
    Option<String>,
    Option<f64>,
    Option<bool>,
    Option<Vec<u8>>,
    Option<SystemTime>,
    Option<Numeric>,
    Option<Date>,
    Option<Vec<i32>>,
) {
    let null = i % 7 == 3;
    (
        i as i32,
        (!null).then_some(i * 1_000_003 - 7),
        (!null).then(|| format!("row {i} ünïcode")),
        (!null).then(|| i as f64 / 3.0),
        (!null).then_some(i % 2 == 0),
        (!null).then(|| vec![(i % 256) as u8; (i % 5) as usize]),
        (!null).then(|| UNIX_EPOCH + Duration::from_micros(i as u64 * 1_000_003)),
        (!null).then(|| Numeric::from_str(&format!("{}.{:02}", i - 500, i % 100)).unwrap()),
        (!null).then(|| Date::from_pg_days((i % 100_000) as i32 - 50_000).unwrap()),
        (!null).then(|| vec![i as i32, -1, 0]),
    )
}

const TYPES: [u32; 10] = [
    oid::INT4,
    oid::INT8,
    oid::TEXT,
    oid::FLOAT8,
    oid::BOOL,
    oid::BYTEA,
    oid::TIMESTAMPTZ,
    oid::NUMERIC,
    oid::DATE,
    oid::INT4_ARRAY,
];

async fn load(c: &mut Connection, n: i64) -> String {
    let t = table("copy_bin");
    c.batch_execute(&format!(
        "CREATE TABLE {t} (id int4, i8 int8, t text, f float8, b bool, by bytea, \
         ts timestamptz, n numeric, d date, a int4[])"
    ))
    .await
    .unwrap();
    let copy = c
        .copy_in(&format!("COPY {t} FROM STDIN (FORMAT binary)"))
        .await
        .unwrap();
    let mut w = copy.binary(&TYPES).unwrap();
    for i in 0..n {
        w.write_row(&row(i)).await.unwrap();
    }
    assert_eq!(w.finish().await.unwrap(), n as u64);
    t
}

#[tokio::test]
async fn binary_copy_out_reads_back_every_row_and_type_the_binary_writer_wrote() {
    let mut c = connect().await;
    let t = load(&mut c, N).await;
    let out = c
        .copy_out(&format!(
            "COPY (SELECT * FROM {t} ORDER BY id) TO STDOUT (FORMAT binary)"
        ))
        .await
        .unwrap();
    let mut r = out.binary(&TYPES).unwrap();
    let mut i = 0i64;
    while let Some(got) = r.next().await.unwrap() {
        assert_eq!(got.len(), TYPES.len());
        let want = row(i);
        assert_eq!(got.get::<i32>(0).unwrap(), want.0);
        assert_eq!(got.get::<Option<i64>>(1).unwrap(), want.1);
        assert_eq!(got.get::<Option<String>>(2).unwrap(), want.2);
        assert_eq!(got.get::<Option<&str>>(2).unwrap(), want.2.as_deref());
        assert_eq!(got.get::<Option<f64>>(3).unwrap(), want.3);
        assert_eq!(got.get::<Option<bool>>(4).unwrap(), want.4);
        assert_eq!(got.get::<Option<Vec<u8>>>(5).unwrap(), want.5);
        assert_eq!(got.get::<Option<SystemTime>>(6).unwrap(), want.6);
        assert_eq!(got.get::<Option<Numeric>>(7).unwrap(), want.7);
        assert_eq!(got.get::<Option<Date>>(8).unwrap(), want.8);
        assert_eq!(got.get::<Option<Vec<i32>>>(9).unwrap(), want.9);
        i += 1;
    }
    assert_eq!(i, N, "row count");
    assert_eq!(r.rows(), Some(N as u64));
    // The end is sticky.
    assert!(r.next().await.unwrap().is_none());
    drop(r);
    assert_answers(&mut c, 5).await;
}

#[tokio::test]
async fn binary_copy_out_reports_nulls_and_wrong_rust_types_as_conversion_errors() {
    let mut c = connect().await;
    let t = load(&mut c, 10).await;
    let out = c
        .copy_out(&format!(
            "COPY (SELECT * FROM {t} WHERE id = 3) TO STDOUT (FORMAT binary)"
        ))
        .await
        .unwrap();
    let mut r = out.binary(&TYPES).unwrap();
    let got = r.next().await.unwrap().unwrap();
    assert!(
        got.get::<i64>(1).unwrap_err().is_conversion(),
        "NULL into i64"
    );
    assert_eq!(got.get_raw(1).unwrap(), None);
    assert!(
        got.get::<String>(0).unwrap_err().is_conversion(),
        "int4 as String"
    );
    assert!(got.get::<i32>(10).is_err(), "no such column");
    assert!(r.next().await.unwrap().is_none());
    assert_eq!(r.rows(), Some(1));
}

#[tokio::test]
async fn binary_copy_out_refuses_a_type_list_of_the_wrong_length() {
    let mut c = connect().await;
    let t = load(&mut c, 10).await;
    let out = c
        .copy_out(&format!("COPY {t} TO STDOUT (FORMAT binary)"))
        .await
        .unwrap();
    let e = out.binary(&[oid::INT4, oid::INT8]).unwrap_err();
    assert!(e.is_config(), "{e}");
    assert!(e.to_string().contains("10 columns, 2 types"), "{e}");
    assert_answers(&mut c, 6).await;
}

#[tokio::test]
async fn binary_copy_out_refuses_a_text_format_copy() {
    let mut c = connect().await;
    let out = c
        .copy_out("COPY (SELECT 1) TO STDOUT (FORMAT csv)")
        .await
        .unwrap();
    let e = out.binary(&[oid::INT4]).unwrap_err();
    assert!(e.to_string().contains("FORMAT binary"), "{e}");
    assert_answers(&mut c, 7).await;
}

#[tokio::test]
async fn dropping_the_binary_reader_mid_stream_leaves_the_connection_usable() {
    let mut c = connect().await;
    let out = c
        .copy_out(
            "COPY (SELECT g, g::text FROM generate_series(1, 200000) g) TO STDOUT (FORMAT binary)",
        )
        .await
        .unwrap();
    let mut r = out.binary(&[oid::INT4, oid::TEXT]).unwrap();
    for want in 1..=1000 {
        let got = r.next().await.unwrap().unwrap();
        assert_eq!(got.get::<i32>(0).unwrap(), want);
        assert_eq!(got.get::<&str>(1).unwrap(), want.to_string());
    }
    drop(r);
    assert_answers(&mut c, 8).await;
    // And a second binary COPY on the same connection reads in full.
    let out = c
        .copy_out("COPY (SELECT g FROM generate_series(1, 3) g) TO STDOUT (FORMAT binary)")
        .await
        .unwrap();
    let mut r = out.binary(&[oid::INT4]).unwrap();
    let mut got = Vec::new();
    while let Some(row) = r.next().await.unwrap() {
        got.push(row.get::<i32>(0).unwrap());
    }
    assert_eq!(got, [1, 2, 3]);
}

#[cfg(feature = "uuid")]
#[tokio::test]
async fn binary_copy_out_reads_back_uuids_written_by_the_binary_writer() {
    let mut c = connect().await;
    let t = table("copy_bin_uuid");
    c.batch_execute(&format!("CREATE TABLE {t} (id int4, u uuid)"))
        .await
        .unwrap();
    let copy = c
        .copy_in(&format!("COPY {t} FROM STDIN (FORMAT binary)"))
        .await
        .unwrap();
    let mut w = copy.binary(&[oid::INT4, oid::UUID]).unwrap();
    let val = |i: i32| (i % 4 != 0).then(|| uuid::Uuid::from_u128(i as u128 * 0x1234_5678_9abc));
    for i in 0..1000 {
        w.write_row(&(i, val(i))).await.unwrap();
    }
    w.finish().await.unwrap();
    let out = c
        .copy_out(&format!(
            "COPY (SELECT * FROM {t} ORDER BY id) TO STDOUT (FORMAT binary)"
        ))
        .await
        .unwrap();
    let mut r = out.binary(&[oid::INT4, oid::UUID]).unwrap();
    let mut i = 0;
    while let Some(row) = r.next().await.unwrap() {
        assert_eq!(row.get::<i32>(0).unwrap(), i);
        assert_eq!(row.get::<Option<uuid::Uuid>>(1).unwrap(), val(i));
        i += 1;
    }
    assert_eq!(i, 1000);
}
