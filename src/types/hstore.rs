//! `hstore` (the contrib extension) as `HashMap<String, Option<String>>`.
//!
//! # Type OID
//!
//! An extension type's OID is assigned per database when `CREATE EXTENSION hstore` runs,
//! so it cannot be known statically and **strict mode cannot check it**: `FromSql`
//! accepts any OID from 16384 (`FirstNormalObjectId`) up, and, in the text format, any
//! OID at all (the text is parsed as hstore syntax or fails). Writing declares OID 0, so
//! the server takes the type from the SQL (`$1::hstore`).
//!
//! # Wire formats
//!
//! Binary (`hstore_send`): an `i32` pair count, then per pair the key (`i32` length and
//! bytes; never NULL) and the value (`i32` length, -1 for NULL, and bytes). Text
//! (`hstore_out`): `"a"=>"1", "b"=>NULL`, keys and values double-quoted with `"` and `\`
//! backslash-escaped; unquoted tokens are read too. Of duplicate keys the first is kept.

use std::collections::HashMap;
use std::hash::BuildHasher;

use bytes::{BufMut, BytesMut};

use crate::types::array::wire::{
    check_container, count_i32, is_pg_space, put_nullable, put_quoted, Body,
};
use crate::types::array::FIRST_NORMAL_OID;
use crate::types::oid::{self, is_unspecified};
use crate::types::{ConversionError, Format, FromSql, IsNull, Oid, ToSql, ValueType};

const RUST: &str = "HashMap<String, Option<String>>";

impl<S: BuildHasher + Sync> ToSql for HashMap<String, Option<String>, S> {
    /// 0: `hstore`'s OID is per database; the server infers it (`$1::hstore`).
    fn type_oid(&self) -> Oid {
        oid::UNSPECIFIED
    }

    /// An unspecified type, or any user-defined one (hstore's OID is not known).
    fn accepts(&self, oid: Oid) -> bool {
        is_unspecified(oid) || oid >= FIRST_NORMAL_OID
    }

    fn to_sql(&self, ty: ValueType, out: &mut BytesMut) -> Result<IsNull, ConversionError> {
        crate::types::ensure_accepted(self.accepts(ty.oid), RUST, ty.oid)?;
        let start = out.len();
        match ty.format {
            Format::Binary => {
                out.put_i32(count_i32(self.len(), RUST)?);
                for (k, v) in self {
                    let key = |out: &mut BytesMut| {
                        out.put_slice(k.as_bytes());
                        Ok(IsNull::No)
                    };
                    let value = |out: &mut BytesMut| match v {
                        Some(v) => {
                            out.put_slice(v.as_bytes());
                            Ok(IsNull::No)
                        }
                        None => Ok(IsNull::Yes),
                    };
                    let r =
                        put_nullable(out, RUST, key).and_then(|_| put_nullable(out, RUST, value));
                    if let Err(e) = r {
                        out.truncate(start);
                        return Err(e);
                    }
                }
            }
            Format::Text => {
                for (i, (k, v)) in self.iter().enumerate() {
                    if i > 0 {
                        out.put_slice(b", ");
                    }
                    put_quoted(out, k.as_bytes(), true);
                    out.put_slice(b"=>");
                    match v {
                        Some(v) => put_quoted(out, v.as_bytes(), true),
                        None => out.put_slice(b"NULL"),
                    }
                }
            }
        }
        Ok(IsNull::No)
    }

    /// Binary only for a declared user-defined type (the server's hstore), text otherwise.
    fn supports_binary(&self, oid: Oid) -> bool {
        oid >= FIRST_NORMAL_OID
    }
}

fn utf8(bytes: &[u8]) -> Result<String, ConversionError> {
    String::from_utf8(bytes.to_vec()).map_err(|_| ConversionError::invalid(RUST, "invalid UTF-8"))
}

fn read_binary<S: BuildHasher + Default>(
    raw: &[u8],
) -> Result<HashMap<String, Option<String>, S>, ConversionError> {
    let mut body = Body::new(raw, RUST);
    // Each pair is at least two lengths.
    let n = body.count(8, "truncated pair count")?;
    let mut map = HashMap::with_capacity_and_hasher(n, S::default());
    for _ in 0..n {
        let key = body
            .nullable()?
            .ok_or(ConversionError::invalid(RUST, "NULL key"))?;
        let value = body.nullable()?.map(utf8).transpose()?;
        map.entry(utf8(key)?).or_insert(value);
    }
    body.finish()?;
    Ok(map)
}

/// hstore_in's grammar.
struct Parser<'a> {
    s: &'a [u8],
    pos: usize,
}

impl Parser<'_> {
    fn err(reason: &'static str) -> ConversionError {
        ConversionError::invalid(RUST, reason)
    }

    fn peek(&self) -> Option<u8> {
        self.s.get(self.pos).copied()
    }

    fn skip_space(&mut self) {
        while self.peek().is_some_and(is_pg_space) {
            self.pos += 1;
        }
    }

    /// A quoted or unquoted token; `Ok((bytes, quoted))`. Unquoted tokens end at
    /// whitespace, `=` (keys) or `,`.
    fn token(&mut self, is_key: bool) -> Result<(Vec<u8>, bool), ConversionError> {
        let mut out = Vec::new();
        if self.peek() == Some(b'"') {
            self.pos += 1;
            loop {
                let b = self.peek().ok_or(Self::err("unterminated quoted string"))?;
                self.pos += 1;
                match b {
                    b'"' => return Ok((out, true)),
                    b'\\' => {
                        out.push(self.peek().ok_or(Self::err("unterminated escape"))?);
                        self.pos += 1;
                    }
                    _ => out.push(b),
                }
            }
        }
        while let Some(b) = self.peek() {
            match b {
                b',' => break,
                b'=' if is_key => break,
                _ if is_pg_space(b) => break,
                b'\\' => {
                    self.pos += 1;
                    out.push(self.peek().ok_or(Self::err("unterminated escape"))?);
                }
                _ => out.push(b),
            }
            self.pos += 1;
        }
        if out.is_empty() {
            return Err(Self::err("empty unquoted token"));
        }
        Ok((out, false))
    }
}

fn read_text<S: BuildHasher + Default>(
    s: &[u8],
) -> Result<HashMap<String, Option<String>, S>, ConversionError> {
    let mut p = Parser { s, pos: 0 };
    let mut map = HashMap::with_hasher(S::default());
    p.skip_space();
    while p.peek().is_some() {
        let (key, _) = p.token(true)?;
        p.skip_space();
        if p.s.get(p.pos..p.pos + 2) != Some(&b"=>"[..]) {
            return Err(Parser::err("expected =>"));
        }
        p.pos += 2;
        p.skip_space();
        let (value, quoted) = p.token(false)?;
        let value = if !quoted && value.eq_ignore_ascii_case(b"NULL") {
            None
        } else {
            Some(utf8(&value)?)
        };
        map.entry(utf8(&key)?).or_insert(value);
        p.skip_space();
        match p.peek() {
            None => break,
            Some(b',') => {
                p.pos += 1;
                p.skip_space();
                if p.peek().is_none() {
                    return Err(Parser::err("trailing ,"));
                }
            }
            Some(_) => return Err(Parser::err("expected , between pairs")),
        }
    }
    Ok(map)
}

impl<S: BuildHasher + Default> FromSql<'_> for HashMap<String, Option<String>, S> {
    fn from_sql(ty: ValueType, raw: &[u8]) -> Result<Self, ConversionError> {
        // Any OID in text (it parses as hstore or fails); user-defined ones in binary.
        check_container(ty, RUST, Self::accepts(ty.oid), true)?;
        match ty.format {
            Format::Binary => read_binary(raw),
            Format::Text => read_text(raw),
        }
    }

    /// Any user-defined type (hstore's OID is per database).
    fn accepts(oid: Oid) -> bool {
        oid >= FIRST_NORMAL_OID
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    type Map = HashMap<String, Option<String>>;
    const HSTORE: Oid = 16_500;

    fn map(pairs: &[(&str, Option<&str>)]) -> Map {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.map(str::to_string)))
            .collect()
    }

    fn decode(format: Format, raw: &[u8]) -> Result<Map, ConversionError> {
        Map::from_sql(ValueType::new(HSTORE, format), raw)
    }

    fn encode(m: &Map, format: Format) -> Vec<u8> {
        let mut out = BytesMut::new();
        m.to_sql(ValueType::new(HSTORE, format), &mut out).unwrap();
        out.to_vec()
    }

    #[test]
    fn text_hstore_parses_as_hstore_in_does() {
        assert_eq!(decode(Format::Text, b""), Ok(Map::new()));
        assert_eq!(
            decode(
                Format::Text,
                br#""a"=>"1", "b c"=>NULL, "n"=>"NULL", k=>v , x\=y=>"q\"t""#
            ),
            Ok(map(&[
                ("a", Some("1")),
                ("b c", None),
                ("n", Some("NULL")),
                ("k", Some("v")),
                ("x=y", Some("q\"t"))
            ]))
        );
        assert_eq!(
            decode(Format::Text, b"a=>1,a=>2"),
            Ok(map(&[("a", Some("1"))]))
        );
        for bad in ["a", "a=>", "a=1", "\"a=>1", "a=>1 b=>2", "=>1", "a=>1,"] {
            assert!(decode(Format::Text, bad.as_bytes()).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn binary_hstore_has_a_count_then_length_prefixed_pairs() {
        let m = map(&[("k", None)]);
        assert_eq!(
            encode(&m, Format::Binary),
            [0, 0, 0, 1, 0, 0, 0, 1, b'k', 0xff, 0xff, 0xff, 0xff]
        );
        assert_eq!(encode(&m, Format::Text), br#""k"=>NULL"#);
    }

    #[test]
    fn hostile_binary_hstore_is_an_error_not_a_panic() {
        let cases: &[&[u8]] = &[
            &[0, 0],
            &[0x7f, 0xff, 0xff, 0xff, 0, 0, 0, 0],
            &[0, 0, 0, 1, 0xff, 0xff, 0xff, 0xff, 0, 0, 0, 0],
            &[0, 0, 0, 1, 0, 0, 0, 9, b'k', 0, 0, 0, 0],
            &[0, 0, 0, 1, 0, 0, 0, 1, 0xff, 0xff, 0xff, 0xff, 0xff],
            &[0, 0, 0, 1, 0, 0, 0, 1, b'k', 0xff, 0xff, 0xff, 0xff, 0],
        ];
        for raw in cases {
            assert!(decode(Format::Binary, raw).is_err(), "{raw:?}");
        }
    }

    #[test]
    fn strict_mode_cannot_check_hstore_but_refuses_built_in_types_in_binary() {
        assert!(<Map as FromSql>::accepts(16_384));
        assert!(!<Map as FromSql>::accepts(oid::TEXT));
        let r = Map::from_sql(ValueType::new(oid::INT4, Format::Binary), &[0, 0, 0, 0]);
        assert!(matches!(r, Err(ConversionError::WrongType { .. })));
        // Text from any OID parses.
        let r = Map::from_sql(ValueType::new(oid::TEXT, Format::Text), b"a=>b");
        assert_eq!(r, Ok(map(&[("a", Some("b"))])));
        assert_eq!(map(&[]).type_oid(), 0);
        assert!(!map(&[]).supports_binary(0));
    }

    proptest! {
        #[test]
        fn hstores_round_trip_in_both_formats(
            m in proptest::collection::hash_map(".{0,6}", proptest::option::of(".{0,6}"), 0..8)
        ) {
            for f in [Format::Binary, Format::Text] {
                prop_assert_eq!(decode(f, &encode(&m, f)), Ok(m.clone()));
            }
        }

        #[test]
        fn arbitrary_input_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..48)) {
            let _ = decode(Format::Binary, &bytes);
            let _ = decode(Format::Text, &bytes);
        }
    }
}
