//! numeric, uuid, json, inet/cidr, macaddr, bit strings, "char" and money against the
//! real server: every value goes as a parameter in the binary and the text format, is
//! compared with the server's own text rendering, read back as a column, and its binary
//! form (from the type's `*_send` function, as bytea) is decoded too.

use pgline::types::{
    decode_value, oid, BitVec, Cidr, Format, FromSql, Inet, MacAddr, Money, Numeric, Oid, ValueType,
};
use pgline::{Config, Connection, ToSql};

use crate::support::conn::{config, table};

/// A connection that sends parameters in binary (`text = false`) or as text.
async fn connect_with(text: bool) -> Connection {
    let mut cfg: Config = config("postgres", None);
    cfg.prefer_text_format(text);
    Connection::connect(&cfg).await.expect("connect")
}

/// Decodes the bytes a `*_send` function returned as a binary value of type `oid`.
fn from_send<T: for<'a> FromSql<'a>>(oid: Oid, raw: &[u8]) -> T {
    decode_value(ValueType::new(oid, Format::Binary), Some(raw))
        .unwrap_or_else(|e| panic!("binary {oid}: {e}"))
}

/// Sends `v` as `$1::ty` in both formats; checks the server's output-function text of
/// it (`format('%s')`; `::text` adds a full netmask to inet) against
/// `want_text`, and that the column and the `send` bytes read back equal to `v`.
async fn check<T>(v: &T, ty: &str, type_oid: Oid, send: &str, want_text: &str)
where
    T: ToSql + for<'a> FromSql<'a> + PartialEq + std::fmt::Debug,
{
    for text in [false, true] {
        let mut c = connect_with(text).await;
        let sql = format!("SELECT format('%s', $1::{ty}), $1::{ty}, {send}($1::{ty})");
        let r = c
            .query_one(sql.as_str(), &[v])
            .await
            .unwrap_or_else(|e| panic!("{ty} {v:?} text={text}: {e}"));
        assert_eq!(r.get::<String>(0).unwrap(), want_text, "{ty} text={text}");
        assert_eq!(&r.get::<T>(1).unwrap(), v, "{ty} column text={text}");
        let sent = r.get::<Vec<u8>>(2).unwrap();
        assert_eq!(&from_send::<T>(type_oid, &sent), v, "{ty} binary");
    }
}

fn num(s: &str) -> Numeric {
    s.parse().unwrap()
}

#[tokio::test]
async fn numeric_values_round_trip_in_both_formats_and_print_as_the_server_prints_them() {
    let thousand: String = (0..1000)
        .map(|i| char::from(b'0' + (i * 7 % 10) as u8))
        .collect();
    let thousand = format!("9{}.{}", &thousand[..700], &thousand[700..]);
    for s in [
        "0",
        "-0.000",
        "1.2E+5",
        "123.4500",
        "-0.00012",
        "1e-20",
        "99999999999999999999.99999999999999999999",
        "NaN",
        "Infinity",
        "-Infinity",
        thousand.as_str(),
    ] {
        let v = num(s);
        // The server's text is what Display prints, digit for digit (scale included).
        check(&v, "numeric", oid::NUMERIC, "numeric_send", &v.to_string()).await;
    }
}

#[tokio::test]
async fn numeric_scale_follows_the_column_typmod_including_negative_scales() {
    let mut c = connect_with(false).await;
    let t = table("numscale");
    c.batch_execute(&format!(
        "CREATE TEMP TABLE {t} (a numeric(10,2), b numeric(5,-3)); \
         INSERT INTO {t} VALUES (3.14159, 1.2E+5), (-0.001, 123456)"
    ))
    .await
    .unwrap();
    let rows = c
        .query(
            format!("SELECT a, b, numeric_send(a), numeric_send(b) FROM {t}").as_str(),
            &[],
        )
        .await
        .unwrap();
    let got: Vec<(String, String)> = rows
        .iter()
        .map(|r| {
            let a = r.get::<Numeric>(0).unwrap();
            let b = r.get::<Numeric>(1).unwrap();
            assert_eq!(
                from_send::<Numeric>(oid::NUMERIC, &r.get::<Vec<u8>>(2).unwrap()),
                a
            );
            let bin_b: Numeric = from_send(oid::NUMERIC, &r.get::<Vec<u8>>(3).unwrap());
            assert_eq!(bin_b.to_string(), b.to_string());
            (a.to_string(), b.to_string())
        })
        .collect();
    assert_eq!(
        got,
        [
            ("3.14".to_owned(), "120000".to_owned()),
            ("0.00".to_owned(), "123000".to_owned())
        ]
    );
    // A parameter goes into the typmod'd column and is rounded by the server.
    c.execute(
        format!("INSERT INTO {t} (a) VALUES ($1)").as_str(),
        &[&num("2.005")],
    )
    .await
    .unwrap();
    let r = c
        .query_one(format!("SELECT a FROM {t} WHERE b IS NULL").as_str(), &[])
        .await
        .unwrap();
    assert_eq!(r.get::<Numeric>(0).unwrap().to_string(), "2.01");
}

#[cfg(feature = "rust_decimal")]
#[tokio::test]
async fn rust_decimal_round_trips_and_refuses_nan_with_a_reason() {
    use rust_decimal::Decimal;
    for text in [false, true] {
        let mut c = connect_with(text).await;
        let d: Decimal = "-12345.6789".parse().unwrap();
        let r = c
            .query_one("SELECT $1::numeric::text, $1::numeric", &[&d])
            .await
            .unwrap();
        assert_eq!(r.get::<String>(0).unwrap(), "-12345.6789");
        assert_eq!(r.get::<Decimal>(1).unwrap(), d);
        let r = c
            .query_one("SELECT 'NaN'::numeric, 1e-30::numeric", &[])
            .await
            .unwrap();
        let err = r.get::<Decimal>(0).unwrap_err();
        assert!(
            err.is_conversion() && err.to_string().contains("NaN"),
            "{err}"
        );
        assert!(r.get::<Decimal>(1).unwrap_err().is_conversion());
    }
}

#[cfg(feature = "uuid")]
#[tokio::test]
async fn uuid_round_trips_in_both_formats() {
    let u = uuid::Uuid::parse_str("a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11").unwrap();
    check(
        &u,
        "uuid",
        oid::UUID,
        "uuid_send",
        "a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11",
    )
    .await;
}

#[cfg(feature = "serde_json")]
#[tokio::test]
async fn json_and_jsonb_round_trip_in_both_formats() {
    use pgline::types::Json;
    use serde_json::json;
    let v = json!({"a": [1, 2.5, "x"], "b": null, "ü": true});
    check(
        &v,
        "jsonb",
        oid::JSONB,
        "jsonb_send",
        r#"{"a": [1, 2.5, "x"], "b": null, "ü": true}"#,
    )
    .await;
    // json keeps the text as sent.
    check(
        &v,
        "json",
        oid::JSON,
        "json_send",
        r#"{"a":[1,2.5,"x"],"b":null,"ü":true}"#,
    )
    .await;
    let mut c = connect_with(false).await;
    let r = c
        .query_one(
            "SELECT $1::jsonb, jsonb_send($1::jsonb)",
            &[&Json(vec![1u8, 2])],
        )
        .await
        .unwrap();
    assert_eq!(r.get::<Json<Vec<u8>>>(0).unwrap(), Json(vec![1, 2]));
    assert_eq!(r.get::<Vec<u8>>(1).unwrap(), b"\x01[1, 2]");
}

#[tokio::test]
async fn inet_and_cidr_round_trip_including_ipv6_with_short_netmasks() {
    for s in [
        "192.168.0.1/24",
        "10.0.0.1",
        "::1",
        "2001:db8::1/64",
        "::ffff:1.2.3.4/100",
        "fe80::/10",
    ] {
        let v: Inet = s.parse().unwrap();
        check(&v, "inet", oid::INET, "inet_send", s).await;
    }
    for s in ["10.0.0.0/8", "2001:db8::/32", "::/0", "192.168.1.1/32"] {
        let v: Cidr = s.parse().unwrap();
        check(&v, "cidr", oid::CIDR, "cidr_send", s).await;
    }
    let ip: std::net::IpAddr = "2001:db8::7".parse().unwrap();
    check(&ip, "inet", oid::INET, "inet_send", "2001:db8::7").await;
    // A short netmask is not silently dropped.
    let mut c = connect_with(false).await;
    let r = c.query_one("SELECT '10.1.2.3/8'::inet", &[]).await.unwrap();
    assert!(r.get::<std::net::IpAddr>(0).unwrap_err().is_conversion());
    assert_eq!(r.get::<Inet>(0).unwrap().prefix(), 8);
}

#[tokio::test]
async fn macaddr_bit_strings_char_and_money_round_trip() {
    let m = MacAddr([0x08, 0x00, 0x2b, 0x01, 0x02, 0xff]);
    check(
        &m,
        "macaddr",
        oid::MACADDR,
        "macaddr_send",
        "08:00:2b:01:02:ff",
    )
    .await;
    let empty = BitVec::default();
    check(&empty, "varbit", oid::VARBIT, "varbit_send", "").await;
    let long: String = (0..10_001)
        .map(|i| if i % 3 == 0 { '1' } else { '0' })
        .collect();
    let bits: BitVec = long.parse().unwrap();
    check(&bits, "varbit", oid::VARBIT, "varbit_send", &long).await;
    let one: BitVec = "1".parse().unwrap();
    check(&one, "bit(1)", oid::BIT, "bit_send", "1").await;

    // "char" 200: charout's octal escape.
    let ch = 200u8 as i8;
    check(&ch, "\"char\"", oid::CHAR, "charsend", "\\310").await;

    // money: binary parameters only; text columns of the cluster's lc_monetary.
    let mut c = connect_with(false).await;
    let r = c
        .query_one(
            "SELECT $1::money::numeric::text, $1::money, cash_send($1::money)",
            &[&Money(-123_456)],
        )
        .await
        .unwrap();
    assert_eq!(r.get::<String>(0).unwrap(), "-1234.56");
    assert_eq!(r.get::<Money>(1).unwrap(), Money(-123_456));
    assert_eq!(
        from_send::<Money>(oid::MONEY, &r.get::<Vec<u8>>(2).unwrap()),
        Money(-123_456)
    );
    let mut t = connect_with(true).await;
    let err = t
        .query_one("SELECT $1::money", &[&Money(1)])
        .await
        .unwrap_err();
    assert!(err.is_conversion(), "{err}");
}

#[tokio::test]
async fn tokio_postgres_reads_the_same_text_for_values_pgline_sent() {
    use tokio_postgres::NoTls;
    let server = crate::support::server();
    let (tp, conn) = tokio_postgres::connect(&server.url("postgres", None, "postgres"), NoTls)
        .await
        .unwrap();
    tokio::spawn(conn);
    let mut c = connect_with(false).await;
    let t = table("diff");
    tp.batch_execute(&format!("CREATE TABLE {t} (n numeric, i inet, c cidr)"))
        .await
        .unwrap();
    c.execute(
        format!("INSERT INTO {t} VALUES ($1, $2, $3)").as_str(),
        &[
            &num("-1.2E-3"),
            &"2001:db8::1/64".parse::<Inet>().unwrap(),
            &"10.0.0.0/8".parse::<Cidr>().unwrap(),
        ],
    )
    .await
    .unwrap();
    let row = tp
        .query_one(&format!("SELECT n::text, i::text, c::text FROM {t}"), &[])
        .await
        .unwrap();
    let got: (String, String, String) = (row.get(0), row.get(1), row.get(2));
    assert_eq!(
        got,
        (
            "-0.0012".into(),
            "2001:db8::1/64".into(),
            "10.0.0.0/8".into()
        )
    );
    tp.batch_execute(&format!("DROP TABLE {t}")).await.unwrap();
}
