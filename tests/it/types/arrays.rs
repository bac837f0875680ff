//! Arrays, ranges, multiranges, hstore, composites and enums against the real server.

use pgline::types::{oid, Array, Dimension, Format, FromSql, ValueType};
use pgline::{Config, Connection};

use crate::support::conn::{config, connect, table};

/// A connection that sends parameters in binary (`false`) or text (`true`).
async fn connect_with(text: bool) -> Connection {
    let mut cfg: Config = config("postgres", None);
    cfg.prefer_text_format(text);
    Connection::connect(&cfg).await.expect("connect")
}

/// Decodes `bytes` (a `*_send` result) as the binary form of type `oid`.
fn from_binary<T: for<'a> FromSql<'a>>(oid: u32, bytes: &[u8]) -> T {
    T::from_sql(ValueType::new(oid, Format::Binary), bytes)
        .unwrap_or_else(|e| panic!("binary OID {oid}: {e}"))
}

// --- arrays ----------------------------------------------------------------------------

#[tokio::test]
async fn arrays_of_every_basic_type_round_trip_as_parameters_in_both_formats() {
    for text in [false, true] {
        let mut c = connect_with(text).await;
        let ints = vec![1i32, -2, i32::MAX];
        let longs = vec![Some(i64::MIN), None, Some(7)];
        let strs = vec![
            Some("a b".to_string()),
            None,
            Some("x\"y\\z".to_string()),
            Some(String::new()),
            Some("NULL".to_string()),
            Some("{é,}".to_string()),
        ];
        let floats = vec![1.5f64, f64::INFINITY, -0.25];
        let bools = vec![true, false];
        let bytes = vec![vec![0u8, 1, 255], vec![]];
        let row = c
            .query_one(
                "SELECT $1::int4[], $2::int8[], $3::text[], $4::float8[], $5::bool[], $6::bytea[]",
                &[&ints, &longs, &strs, &floats, &bools, &bytes],
            )
            .await
            .unwrap();
        assert_eq!(row.get::<Vec<i32>>(0).unwrap(), ints, "text={text}");
        assert_eq!(
            row.get::<Vec<Option<i64>>>(1).unwrap(),
            longs,
            "text={text}"
        );
        assert_eq!(
            row.get::<Vec<Option<String>>>(2).unwrap(),
            strs,
            "text={text}"
        );
        assert_eq!(row.get::<Vec<f64>>(3).unwrap(), floats, "text={text}");
        assert_eq!(row.get::<Vec<bool>>(4).unwrap(), bools, "text={text}");
        assert_eq!(row.get::<Vec<Vec<u8>>>(5).unwrap(), bytes, "text={text}");
    }
}

#[tokio::test]
async fn the_server_renders_our_arrays_as_we_render_them() {
    for text in [false, true] {
        let mut c = connect_with(text).await;
        let strs = vec![
            Some("a b"),
            None,
            Some("x\"y"),
            Some(""),
            Some("back\\slash"),
        ];
        let row = c
            .query_one(
                "SELECT $1::int4[]::text, $2::text[]::text, $3::int8[]::text",
                &[&vec![Some(1i32), None, Some(3)], &strs, &Vec::<i64>::new()],
            )
            .await
            .unwrap();
        assert_eq!(row.get::<String>(0).unwrap(), "{1,NULL,3}");
        assert_eq!(
            row.get::<String>(1).unwrap(),
            r#"{"a b",NULL,"x\"y","","back\\slash"}"#
        );
        assert_eq!(row.get::<String>(2).unwrap(), "{}");
    }
}

#[tokio::test]
async fn empty_arrays_and_arrays_of_nulls_read_back() {
    let mut c = connect().await;
    let row = c
        .query_one(
            "SELECT '{}'::int4[], ARRAY[NULL,NULL]::text[], $1::int8[]",
            &[&Vec::<i64>::new()],
        )
        .await
        .unwrap();
    assert_eq!(row.get::<Vec<i32>>(0).unwrap(), Vec::<i32>::new());
    assert_eq!(row.get::<Vec<Option<String>>>(1).unwrap(), vec![None, None]);
    assert_eq!(row.get::<Vec<i64>>(2).unwrap(), Vec::<i64>::new());
    // A NULL array is not an empty one.
    let row = c.query_one("SELECT NULL::int4[]", &[]).await.unwrap();
    assert_eq!(row.get::<Option<Vec<i32>>>(0).unwrap(), None);
}

#[tokio::test]
async fn a_three_dimensional_array_with_lower_bounds_reads_into_array_in_both_formats() {
    let mut c = connect().await;
    let row = c
        .query_one(
            "SELECT v, array_send(v) FROM (SELECT '[0:1][1:2][1:1]={{{1},{2}},{{3},{4}}}'::int4[] AS v) s",
            &[],
        )
        .await
        .unwrap();
    let want = Array::new(
        vec![
            Dimension {
                len: 2,
                lower_bound: 0,
            },
            Dimension::new(2),
            Dimension::new(1),
        ],
        vec![1, 2, 3, 4],
    )
    .unwrap();
    assert_eq!(row.get::<Array<i32>>(0).unwrap(), want);
    let binary: Vec<u8> = row.get(1).unwrap();
    assert_eq!(from_binary::<Array<i32>>(oid::INT4_ARRAY, &binary), want);
    // Into a Vec: a clear error pointing at Array<T>.
    let err = row.get::<Vec<i32>>(0).unwrap_err();
    assert!(format!("{err:?}").contains("Array<T>"), "{err:?}");
    // And sent back as a parameter, it keeps its bounds.
    let back = c
        .query_one("SELECT $1::int4[]::text", &[&want])
        .await
        .unwrap();
    assert_eq!(
        back.get::<String>(0).unwrap(),
        "[0:1][1:2][1:1]={{{1},{2}},{{3},{4}}}"
    );
}

#[tokio::test]
async fn binary_arrays_from_array_send_decode_with_their_element_type() {
    let mut c = connect().await;
    let row = c
        .query_one(
            "SELECT array_send(ARRAY[1,NULL,3]::int8[]), array_send(ARRAY['a b',NULL]::text[]), \
             array_send('{}'::int4[])",
            &[],
        )
        .await
        .unwrap();
    let a: Vec<u8> = row.get(0).unwrap();
    assert_eq!(
        from_binary::<Vec<Option<i64>>>(oid::INT8_ARRAY, &a),
        vec![Some(1), None, Some(3)]
    );
    let b: Vec<u8> = row.get(1).unwrap();
    assert_eq!(
        from_binary::<Vec<Option<String>>>(oid::TEXT_ARRAY, &b),
        vec![Some("a b".to_string()), None]
    );
    let e: Vec<u8> = row.get(2).unwrap();
    assert_eq!(
        from_binary::<Vec<i32>>(oid::INT4_ARRAY, &e),
        Vec::<i32>::new()
    );
    // The header's element type is checked: int8 elements are not i32.
    let err = Vec::<Option<i32>>::from_sql(ValueType::new(oid::INT4_ARRAY, Format::Binary), &a);
    assert!(err.is_err());
}

#[tokio::test]
async fn unnest_of_two_array_parameters_inserts_the_rows() {
    for text in [false, true] {
        let mut c = connect_with(text).await;
        let t = table("unnest");
        c.batch_execute(&format!("CREATE TEMP TABLE {t} (id int8, name text)"))
            .await
            .unwrap();
        let ids: Vec<i64> = (1..=1000).collect();
        let names: Vec<Option<String>> = ids
            .iter()
            .map(|i| (i % 10 != 0).then(|| format!("name, \"{i}\"")))
            .collect();
        let n = c
            .execute(
                format!("INSERT INTO {t} SELECT * FROM UNNEST($1::int8[], $2::text[])").as_str(),
                &[&ids, &names],
            )
            .await
            .unwrap();
        assert_eq!(n, Some(1000), "text={text}");
        let row = c
            .query_one(
                format!("SELECT count(*), count(name), max(name) FILTER (WHERE id = 7) FROM {t}")
                    .as_str(),
                &[],
            )
            .await
            .unwrap();
        assert_eq!(row.get::<i64>(0).unwrap(), 1000);
        assert_eq!(row.get::<i64>(1).unwrap(), 900);
        assert_eq!(row.get::<String>(2).unwrap(), "name, \"7\"");
    }
}

#[tokio::test]
async fn slices_and_fixed_size_arrays_are_parameters_too() {
    let mut c = connect().await;
    let v = [3i16, 4];
    let s: &[&str] = &["x", "y z"];
    let row = c
        .query_one(
            "SELECT $1::int2[] = ARRAY[3,4]::int2[], array_length($2::varchar[], 1)",
            &[&v, &s],
        )
        .await
        .unwrap();
    assert!(row.get::<bool>(0).unwrap());
    assert_eq!(row.get::<i32>(1).unwrap(), 2);
}

// --- ranges and multiranges ------------------------------------------------------------

#[tokio::test]
async fn ranges_of_every_built_in_kind_round_trip_as_parameters() {
    use std::ops::Bound::{Excluded, Included, Unbounded};
    use std::time::{Duration, SystemTime, UNIX_EPOCH};

    use pgline::types::{Range, Text};

    let day = |d: u64| UNIX_EPOCH + Duration::from_secs(d * 86_400);
    for text in [false, true] {
        let mut c = connect_with(text).await;
        let i4: Range<i32> = (1..5).into();
        let i8: Range<i64> = Range::new(Excluded(-3), Unbounded);
        let num = Range::new(Included(Text::new(oid::NUMERIC, "1.5")), Unbounded);
        let dates: Range<SystemTime> = (day(19_000)..day(19_031)).into();
        let ts: Range<SystemTime> = Range::new(Unbounded, Included(day(19_000)));
        let tstz: Range<SystemTime> = (day(1)..day(2)).into();
        let row = c
            .query_one(
                "SELECT $1::int4range, $2::int8range, $3::numrange::text, $4::daterange, \
                 $5::tsrange, $6::tstzrange, $1::int4range::text, $2::int8range::text",
                &[&i4, &i8, &num, &dates, &ts, &tstz],
            )
            .await
            .unwrap();
        assert_eq!(row.get::<Range<i32>>(0).unwrap(), i4, "text={text}");
        // int8range is discrete: (-3,) comes back canonical as [-2,).
        assert_eq!(
            row.get::<Range<i64>>(1).unwrap(),
            Range::new(Included(-2), Unbounded)
        );
        assert_eq!(row.get::<String>(2).unwrap(), "[1.5,)");
        assert_eq!(row.get::<Range<SystemTime>>(3).unwrap(), dates);
        assert_eq!(row.get::<Range<SystemTime>>(4).unwrap(), ts);
        assert_eq!(row.get::<Range<SystemTime>>(5).unwrap(), tstz);
        assert_eq!(row.get::<String>(6).unwrap(), "[1,5)");
        assert_eq!(row.get::<String>(7).unwrap(), "[-2,)");
    }
}

#[tokio::test]
async fn empty_and_unbounded_ranges_read_back_in_both_formats() {
    use std::ops::Bound::Unbounded;

    use pgline::types::Range;

    let mut c = connect().await;
    let row = c
        .query_one(
            "SELECT 'empty'::int4range, '[3,3)'::int8range, '(,)'::int4range, \
             range_send('empty'::int4range), range_send('(,10]'::int8range), \
             range_send('[1,2)'::numrange)",
            &[],
        )
        .await
        .unwrap();
    assert_eq!(row.get::<Range<i32>>(0).unwrap(), Range::Empty);
    assert_eq!(row.get::<Range<i64>>(1).unwrap(), Range::Empty);
    assert_eq!(row.get::<Range<i32>>(2).unwrap(), (..).into());
    let b: Vec<u8> = row.get(3).unwrap();
    assert_eq!(from_binary::<Range<i32>>(oid::INT4RANGE, &b), Range::Empty);
    let b: Vec<u8> = row.get(4).unwrap();
    assert_eq!(
        from_binary::<Range<i64>>(oid::INT8RANGE, &b),
        Range::new(Unbounded, std::ops::Bound::Excluded(11))
    );
    // numrange in binary needs a numeric element type: String cannot read binary numeric.
    let b: Vec<u8> = row.get(5).unwrap();
    assert!(Range::<String>::from_sql(ValueType::new(oid::NUMRANGE, Format::Binary), &b).is_err());
}

#[tokio::test]
async fn a_multirange_round_trips_and_the_server_merges_it() {
    use pgline::types::{MultiRange, Range};

    for text in [false, true] {
        let mut c = connect_with(text).await;
        let m = MultiRange(vec![(5..7).into(), (1..3).into(), (2..4).into()]);
        let row = c
            .query_one(
                "SELECT $1::int4multirange, $1::int4multirange::text, \
                 multirange_send($1::int4multirange), '{}'::int8multirange",
                &[&m],
            )
            .await
            .unwrap();
        let want = MultiRange(vec![Range::from(1..4), Range::from(5..7)]);
        assert_eq!(row.get::<MultiRange<i32>>(0).unwrap(), want, "text={text}");
        assert_eq!(row.get::<String>(1).unwrap(), "{[1,4),[5,7)}");
        let b: Vec<u8> = row.get(2).unwrap();
        assert_eq!(
            from_binary::<MultiRange<i32>>(oid::INT4MULTIRANGE, &b),
            want
        );
        assert_eq!(row.get::<MultiRange<i64>>(3).unwrap(), MultiRange(vec![]));
    }
}

// --- hstore, composites, enums ---------------------------------------------------------

#[tokio::test]
async fn hstore_round_trips_as_a_hash_map_in_both_formats() {
    use std::collections::HashMap;

    let mut c = connect().await;
    // The cluster has the contrib package; a concurrent CREATE EXTENSION may lose a race.
    if c.batch_execute("CREATE EXTENSION IF NOT EXISTS hstore")
        .await
        .is_err()
    {
        c.batch_execute("CREATE EXTENSION IF NOT EXISTS hstore")
            .await
            .unwrap();
    }
    let m: HashMap<String, Option<String>> = [
        ("a".to_string(), Some("1".to_string())),
        ("b c".to_string(), None),
        ("q\"uote\\".to_string(), Some(String::new())),
        ("NULL".to_string(), Some("NULL".to_string())),
    ]
    .into_iter()
    .collect();
    for text in [false, true] {
        let mut c = connect_with(text).await;
        let row = c
            .query_one(
                "SELECT $1::hstore, hstore_send($1::hstore), $1::hstore -> 'a', \
                 'x=>1, y=>NULL'::hstore",
                &[&m],
            )
            .await
            .unwrap();
        assert_eq!(
            row.get::<HashMap<String, Option<String>>>(0).unwrap(),
            m,
            "text={text}"
        );
        let b: Vec<u8> = row.get(1).unwrap();
        assert_eq!(
            from_binary::<HashMap<String, Option<String>>>(16_384, &b),
            m
        );
        assert_eq!(row.get::<String>(2).unwrap(), "1");
        let lit: HashMap<String, Option<String>> = row.get(3).unwrap();
        assert_eq!(lit.get("x"), Some(&Some("1".to_string())));
        assert_eq!(lit.get("y"), Some(&None));
    }
}

#[tokio::test]
async fn a_composite_type_and_an_anonymous_record_read_through_composite() {
    use pgline::types::Composite;

    let mut c = connect().await;
    let ty = table("pt");
    c.batch_execute(&format!(
        "CREATE TYPE {ty} AS (x int4, label text, tags text[])"
    ))
    .await
    .unwrap();
    let row = c
        .query_one(
            format!(
                "SELECT ROW(3, 'a \"b\", c', '{{x,y}}')::{ty}, ROW(1, NULL, ''), \
                 record_send(ROW(7, 'z', NULL)::{ty})"
            )
            .as_str(),
            &[],
        )
        .await
        .unwrap();
    let p: Composite<'_> = row.get(0).unwrap();
    assert_eq!(p.len(), 3);
    assert_eq!(p.get::<i32>(0).unwrap(), 3);
    assert_eq!(p.get::<String>(1).unwrap(), "a \"b\", c");
    assert_eq!(p.get::<Vec<String>>(2).unwrap(), ["x", "y"]);
    let r: Composite<'_> = row.get(1).unwrap();
    assert_eq!(r.get::<i32>(0).unwrap(), 1);
    assert_eq!(r.get::<Option<String>>(1).unwrap(), None);
    assert_eq!(r.get::<Option<String>>(2).unwrap(), Some(String::new()));
    // Binary: each field carries its type, checked strictly.
    let b: Vec<u8> = row.get(2).unwrap();
    let bin = Composite::from_sql(ValueType::new(oid::RECORD, Format::Binary), &b).unwrap();
    let oids: Vec<u32> = bin.fields().map(|(o, _)| o).collect();
    assert_eq!(oids, [oid::INT4, oid::TEXT, oid::TEXT_ARRAY]);
    assert_eq!(bin.get::<i32>(0).unwrap(), 7);
    assert_eq!(bin.get::<Option<Vec<String>>>(2).unwrap(), None);
    assert!(bin.get::<i16>(0).is_err());
    c.batch_execute(&format!("DROP TYPE {ty}")).await.unwrap();
}

#[tokio::test]
async fn an_enum_reads_as_a_string_and_is_sent_as_text() {
    use pgline::types::Text;

    let mut c = connect().await;
    let ty = table("mood");
    c.batch_execute(&format!("CREATE TYPE {ty} AS ENUM ('sad', 'happy')"))
        .await
        .unwrap();
    let row = c
        .query_one(
            format!(
                "SELECT 'happy'::{ty}, $1::{ty} > 'sad', ARRAY['sad','happy']::{ty}[], $2::{ty}[]"
            )
            .as_str(),
            &[&Text::new(0, "happy"), &vec![Text::new(0, "sad")]],
        )
        .await
        .unwrap();
    assert_eq!(row.get::<String>(0).unwrap(), "happy");
    assert!(row.get::<bool>(1).unwrap());
    assert_eq!(row.get::<Vec<String>>(2).unwrap(), ["sad", "happy"]);
    assert_eq!(row.get::<Vec<String>>(3).unwrap(), ["sad"]);
    c.batch_execute(&format!("DROP TYPE {ty}")).await.unwrap();
}
