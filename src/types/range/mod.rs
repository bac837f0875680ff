//! Ranges ([`Range<T>`]) and multiranges ([`MultiRange<T>`]) of the built-in range types:
//! `int4range`, `int8range`, `numrange`, `daterange`, `tsrange`, `tstzrange` and their
//! multiranges (PostgreSQL 14+). The bounds are any `T` that maps the element type
//! (`oid::range_element_of`): `Range<i32>` for `int4range`, `Range<SystemTime>` for
//! `tstzrange`, `Range<String>` for any range in the text format.
//!
//! # Wire formats
//!
//! Binary (`range_send`): one flags byte (`EMPTY` 0x01, `LB_INC` 0x02, `UB_INC` 0x04,
//! `LB_INF` 0x08, `UB_INF` 0x10), then each finite bound as an `i32` length and the
//! element's binary value. Multirange: an `i32` count, then each range with an `i32`
//! length in front.
//!
//! Text (`range_out`): `empty`, or `[1,5)`: `[`/`(` for an inclusive/exclusive lower
//! bound, nothing for an unbounded one (`(,5)`); a bound is double-quoted when it is empty
//! or holds `"`, `\`, `(`, `)`, `[`, `]`, `,` or whitespace, with `"` and `\` doubled.
//! Multirange: `{[1,3),[5,7)}`, `{}` when empty.
//!
//! The server canonicalizes discrete ranges: `int4range` `[1,5]` reads back as `[1,6)`,
//! and a range with no values (`[3,3)`) reads back as empty.
//!
//! User-defined range types have per-database OIDs and no known element type: read them
//! as `String`, send them with [`Text`](crate::types::Text).

use std::ops::Bound;

use bytes::{BufMut, BytesMut};

use crate::types::array::wire::{check_container, count_i32, is_pg_space, put_nullable, Body};
use crate::types::array::FIRST_NORMAL_OID;
use crate::types::oid::{self, is_unspecified};
use crate::types::{ConversionError, Format, FromSql, IsNull, Oid, ToSql, ValueType};

const EMPTY: u8 = 0x01;
const LB_INC: u8 = 0x02;
const UB_INC: u8 = 0x04;
const LB_INF: u8 = 0x08;
const UB_INF: u8 = 0x10;

/// A range of `T`: empty, or a lower and an upper bound, each inclusive, exclusive or
/// unbounded ([`std::ops::Bound`]).
///
/// Maps the built-in ranges by element type: `Range<i32>` is `int4range`, `Range<i64>`
/// `int8range`, `Range<SystemTime>` `tstzrange` (and `tsrange`/`daterange` when the
/// parameter is declared so). Element types without a mapping (`numrange` here) are sent
/// as `Range<Text>` and read as `Range<String>` in the text format. The server
/// canonicalizes discrete ranges: `[1,5]` reads back as `[1,6)`, `[3,3)` as empty.
/// Both formats: binary is a flags byte then length-prefixed bounds, text is `[1,5)` or
/// `empty`.
///
/// ```
/// use std::ops::Bound;
/// use pgline::types::Range;
///
/// let r: Range<i32> = (1..5).into(); // [1,5)
/// assert_eq!(r, Range::new(Bound::Included(1), Bound::Excluded(5)));
/// let from: Range<i64> = (10..).into(); // [10,)
/// assert_eq!(from.upper(), Some(&Bound::Unbounded));
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Range<T> {
    /// The empty range (`'empty'`).
    Empty,
    /// A non-empty range.
    Bounds {
        /// The lower bound.
        lower: Bound<T>,
        /// The upper bound.
        upper: Bound<T>,
    },
}

impl<T> Range<T> {
    /// A range with these bounds (the server may find it empty or canonicalize it).
    pub const fn new(lower: Bound<T>, upper: Bound<T>) -> Self {
        Self::Bounds { lower, upper }
    }

    /// Whether this is the empty range.
    pub const fn is_empty(&self) -> bool {
        matches!(self, Self::Empty)
    }

    /// The lower bound, `None` for the empty range.
    pub const fn lower(&self) -> Option<&Bound<T>> {
        match self {
            Self::Empty => None,
            Self::Bounds { lower, .. } => Some(lower),
        }
    }

    /// The upper bound, `None` for the empty range.
    pub const fn upper(&self) -> Option<&Bound<T>> {
        match self {
            Self::Empty => None,
            Self::Bounds { upper, .. } => Some(upper),
        }
    }

    fn bounds(&self) -> [Option<&T>; 2] {
        fn value<T>(b: &Bound<T>) -> Option<&T> {
            match b {
                Bound::Included(v) | Bound::Excluded(v) => Some(v),
                Bound::Unbounded => None,
            }
        }
        match self {
            Self::Empty => [None, None],
            Self::Bounds { lower, upper } => [value(lower), value(upper)],
        }
    }
}

impl<T> From<std::ops::Range<T>> for Range<T> {
    /// `a..b` is `[a,b)`.
    fn from(r: std::ops::Range<T>) -> Self {
        Self::new(Bound::Included(r.start), Bound::Excluded(r.end))
    }
}

impl<T> From<std::ops::RangeInclusive<T>> for Range<T> {
    /// `a..=b` is `[a,b]`.
    fn from(r: std::ops::RangeInclusive<T>) -> Self {
        let (start, end) = r.into_inner();
        Self::new(Bound::Included(start), Bound::Included(end))
    }
}

impl<T> From<std::ops::RangeFrom<T>> for Range<T> {
    /// `a..` is `[a,)`.
    fn from(r: std::ops::RangeFrom<T>) -> Self {
        Self::new(Bound::Included(r.start), Bound::Unbounded)
    }
}

impl<T> From<std::ops::RangeTo<T>> for Range<T> {
    /// `..b` is `(,b)`.
    fn from(r: std::ops::RangeTo<T>) -> Self {
        Self::new(Bound::Unbounded, Bound::Excluded(r.end))
    }
}

impl<T> From<std::ops::RangeFull> for Range<T> {
    /// `..` is `(,)`.
    fn from(_: std::ops::RangeFull) -> Self {
        Self::new(Bound::Unbounded, Bound::Unbounded)
    }
}

/// A multirange (PostgreSQL 14+): a list of ranges, which the server sorts and merges.
/// Binary is an `i32` count then length-prefixed ranges; text is `{[1,3),[5,7)}`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Default)]
pub struct MultiRange<T>(pub Vec<Range<T>>);

impl<T> From<Vec<Range<T>>> for MultiRange<T> {
    fn from(v: Vec<Range<T>>) -> Self {
        Self(v)
    }
}

// ---------------------------------------------------------------------------------------
// Type tables

/// (range, element, multirange) for the built-in range types, as in `oid::RANGES`.
const KINDS: &[(Oid, Oid, Oid)] = &[
    (oid::INT4RANGE, oid::INT4, oid::INT4MULTIRANGE),
    (oid::INT8RANGE, oid::INT8, oid::INT8MULTIRANGE),
    (oid::NUMRANGE, oid::NUMERIC, oid::NUMMULTIRANGE),
    (oid::DATERANGE, oid::DATE, oid::DATEMULTIRANGE),
    (oid::TSRANGE, oid::TIMESTAMP, oid::TSMULTIRANGE),
    (oid::TSTZRANGE, oid::TIMESTAMPTZ, oid::TSTZMULTIRANGE),
];

fn range_of(elem: Oid) -> Option<Oid> {
    KINDS.iter().find(|k| k.1 == elem).map(|k| k.0)
}

fn multirange_of(elem: Oid) -> Option<Oid> {
    KINDS.iter().find(|k| k.1 == elem).map(|k| k.2)
}

/// The element type of built-in range type `oid` (not a multirange).
fn element_of_range(oid: Oid) -> Option<Oid> {
    KINDS.iter().find(|k| k.0 == oid).map(|k| k.1)
}

/// The element type of built-in multirange type `oid`.
fn element_of_multirange(oid: Oid) -> Option<Oid> {
    KINDS.iter().find(|k| k.2 == oid).map(|k| k.1)
}

/// The element type named by the first bound that names one, else `T::null_type_oid()`.
fn own_element<'r, T: ToSql + 'r>(ranges: impl Iterator<Item = &'r Range<T>>) -> Oid {
    ranges
        .flat_map(|r| r.bounds())
        .flatten()
        .map(ToSql::type_oid)
        .find(|&o| o != oid::UNSPECIFIED)
        .unwrap_or_else(T::null_type_oid)
}

fn all_bounds<'r, T: ToSql + 'r>(
    ranges: &mut dyn Iterator<Item = &'r Range<T>>,
    f: impl Fn(&T) -> bool,
) -> bool {
    ranges.flat_map(|r| r.bounds()).flatten().all(f)
}

// ---------------------------------------------------------------------------------------
// Writing

/// Whether range_out quotes this bound text.
fn needs_quotes(s: &[u8]) -> bool {
    s.is_empty()
        || s.iter().any(|&b| {
            matches!(b, b'"' | b'\\' | b'(' | b')' | b'[' | b']' | b',') || is_pg_space(b)
        })
}

fn put_bound_text(out: &mut BytesMut, s: &[u8]) {
    if !needs_quotes(s) {
        out.extend_from_slice(s);
        return;
    }
    out.put_u8(b'"');
    for &b in s {
        if b == b'"' || b == b'\\' {
            out.put_u8(b);
        }
        out.put_u8(b);
    }
    out.put_u8(b'"');
}

fn write_range<T: ToSql>(
    r: &Range<T>,
    elem_ty: ValueType,
    out: &mut BytesMut,
    rust: &'static str,
) -> Result<(), ConversionError> {
    let (lower, upper) = match r {
        Range::Empty => {
            match elem_ty.format {
                Format::Binary => out.put_u8(EMPTY),
                Format::Text => out.extend_from_slice(b"empty"),
            }
            return Ok(());
        }
        Range::Bounds { lower, upper } => (lower, upper),
    };
    match elem_ty.format {
        Format::Binary => {
            let mut flags = 0;
            match lower {
                Bound::Included(_) => flags |= LB_INC,
                Bound::Excluded(_) => {}
                Bound::Unbounded => flags |= LB_INF,
            }
            match upper {
                Bound::Included(_) => flags |= UB_INC,
                Bound::Excluded(_) => {}
                Bound::Unbounded => flags |= UB_INF,
            }
            out.put_u8(flags);
            for v in r.bounds().into_iter().flatten() {
                let written = put_nullable(out, rust, |out| v.to_sql(elem_ty, out))?;
                if written == IsNull::Yes {
                    return Err(ConversionError::invalid(rust, "a bound cannot be NULL"));
                }
            }
        }
        Format::Text => {
            out.put_u8(if matches!(lower, Bound::Included(_)) {
                b'['
            } else {
                b'('
            });
            let mut scratch = BytesMut::new();
            for (i, b) in [lower, upper].into_iter().enumerate() {
                if i == 1 {
                    out.put_u8(b',');
                }
                if let Bound::Included(v) | Bound::Excluded(v) = b {
                    scratch.clear();
                    if v.to_sql(elem_ty, &mut scratch)? == IsNull::Yes {
                        return Err(ConversionError::invalid(rust, "a bound cannot be NULL"));
                    }
                    put_bound_text(out, &scratch);
                }
            }
            out.put_u8(if matches!(upper, Bound::Included(_)) {
                b']'
            } else {
                b')'
            });
        }
    }
    Ok(())
}

impl<T: ToSql> ToSql for Range<T> {
    /// The range type of the bounds' element type (0 when it is not a built-in one).
    fn type_oid(&self) -> Oid {
        range_of(own_element(std::iter::once(self))).unwrap_or(oid::UNSPECIFIED)
    }

    fn accepts(&self, oid: Oid) -> bool {
        let elem = if is_unspecified(oid) {
            own_element(std::iter::once(self))
        } else {
            match element_of_range(oid) {
                Some(e) => e,
                None => return false,
            }
        };
        all_bounds(&mut std::iter::once(self), |v| v.accepts(elem))
    }

    fn to_sql(&self, ty: ValueType, out: &mut BytesMut) -> Result<IsNull, ConversionError> {
        let elem = element_of_range(ty.oid)
            .or_else(|| is_unspecified(ty.oid).then(|| own_element(std::iter::once(self))))
            .filter(|&e| all_bounds(&mut std::iter::once(self), |v| v.accepts(e)))
            .ok_or(ConversionError::WrongType {
                rust: "Range<T>",
                oid: ty.oid,
            })?;
        let start = out.len();
        let elem_ty = ValueType { oid: elem, ..ty };
        write_range(self, elem_ty, out, "Range<T>").inspect_err(|_| out.truncate(start))?;
        Ok(IsNull::No)
    }

    fn supports_binary(&self, oid: Oid) -> bool {
        let elem = element_of_range(oid).or_else(|| {
            is_unspecified(oid)
                .then(|| own_element(std::iter::once(self)))
                .filter(|&e| e != oid::UNSPECIFIED)
        });
        match elem {
            Some(e) => all_bounds(&mut std::iter::once(self), |v| v.supports_binary(e)),
            None => false,
        }
    }

    fn null_type_oid() -> Oid {
        range_of(T::null_type_oid()).unwrap_or(oid::UNSPECIFIED)
    }
}

impl<T: ToSql> ToSql for MultiRange<T> {
    /// The multirange type of the bounds' element type (0 when not a built-in one).
    fn type_oid(&self) -> Oid {
        multirange_of(own_element(self.0.iter())).unwrap_or(oid::UNSPECIFIED)
    }

    fn accepts(&self, oid: Oid) -> bool {
        let elem = if is_unspecified(oid) {
            own_element(self.0.iter())
        } else {
            match element_of_multirange(oid) {
                Some(e) => e,
                None => return false,
            }
        };
        all_bounds(&mut self.0.iter(), |v| v.accepts(elem))
    }

    fn to_sql(&self, ty: ValueType, out: &mut BytesMut) -> Result<IsNull, ConversionError> {
        const RUST: &str = "MultiRange<T>";
        let elem = element_of_multirange(ty.oid)
            .or_else(|| is_unspecified(ty.oid).then(|| own_element(self.0.iter())))
            .filter(|&e| all_bounds(&mut self.0.iter(), |v| v.accepts(e)))
            .ok_or(ConversionError::WrongType {
                rust: RUST,
                oid: ty.oid,
            })?;
        let elem_ty = ValueType { oid: elem, ..ty };
        let start = out.len();
        let result = match ty.format {
            Format::Binary => (|| {
                out.put_i32(count_i32(self.0.len(), RUST)?);
                for r in &self.0 {
                    put_nullable(out, RUST, |out| {
                        write_range(r, elem_ty, out, RUST).map(|()| IsNull::No)
                    })?;
                }
                Ok(())
            })(),
            Format::Text => (|| {
                out.put_u8(b'{');
                for (i, r) in self.0.iter().enumerate() {
                    if i > 0 {
                        out.put_u8(b',');
                    }
                    write_range(r, elem_ty, out, RUST)?;
                }
                out.put_u8(b'}');
                Ok(())
            })(),
        };
        result.inspect_err(|_| out.truncate(start))?;
        Ok(IsNull::No)
    }

    fn supports_binary(&self, oid: Oid) -> bool {
        let elem = element_of_multirange(oid).or_else(|| {
            is_unspecified(oid)
                .then(|| own_element(self.0.iter()))
                .filter(|&e| e != oid::UNSPECIFIED)
        });
        match elem {
            Some(e) => all_bounds(&mut self.0.iter(), |v| v.supports_binary(e)),
            None => false,
        }
    }

    fn null_type_oid() -> Oid {
        multirange_of(T::null_type_oid()).unwrap_or(oid::UNSPECIFIED)
    }
}

// ---------------------------------------------------------------------------------------
// Reading

fn read_binary_range<T: for<'b> FromSql<'b>>(
    body: &mut Body<'_>,
    elem_ty: ValueType,
) -> Result<Range<T>, ConversionError> {
    // range_recv masks off anything but these five flags.
    let flags = body.u8("missing range flags")? & (EMPTY | LB_INC | UB_INC | LB_INF | UB_INF);
    if flags & EMPTY != 0 {
        return Ok(Range::Empty);
    }
    let mut bound = |inf: u8, inc: u8| -> Result<Bound<T>, ConversionError> {
        if flags & inf != 0 {
            return Ok(Bound::Unbounded);
        }
        let raw = body
            .nullable()?
            .ok_or(body.invalid("a range bound cannot be NULL"))?;
        let v = T::from_sql(elem_ty, raw)?;
        Ok(if flags & inc != 0 {
            Bound::Included(v)
        } else {
            Bound::Excluded(v)
        })
    };
    let lower = bound(LB_INF, LB_INC)?;
    let upper = bound(UB_INF, UB_INC)?;
    Ok(Range::Bounds { lower, upper })
}

/// A text range parser over `s` from `pos` (range_parse / range_parse_bound).
struct TextRange<'a> {
    s: &'a [u8],
    pos: usize,
    rust: &'static str,
}

impl TextRange<'_> {
    fn err(&self, reason: &'static str) -> ConversionError {
        ConversionError::invalid(self.rust, reason)
    }

    fn peek(&self) -> Option<u8> {
        self.s.get(self.pos).copied()
    }

    fn skip_space(&mut self) {
        while self.peek().is_some_and(is_pg_space) {
            self.pos += 1;
        }
    }

    /// One bound's text, `None` if unbounded (nothing before the delimiter). Quotes group,
    /// `""` inside quotes is a quote, `\` escapes the next byte.
    fn bound(&mut self) -> Result<Option<Vec<u8>>, ConversionError> {
        if matches!(self.peek(), Some(b',' | b')' | b']')) {
            return Ok(None);
        }
        let mut out = Vec::new();
        let mut in_quotes = false;
        loop {
            let b = self.peek().ok_or(self.err("unterminated range"))?;
            match b {
                b'"' if in_quotes && self.s.get(self.pos + 1) == Some(&b'"') => {
                    out.push(b'"');
                    self.pos += 2;
                    continue;
                }
                b'"' => in_quotes = !in_quotes,
                b'\\' => {
                    self.pos += 1;
                    out.push(self.peek().ok_or(self.err("unterminated escape"))?);
                }
                b',' | b')' | b']' if !in_quotes => return Ok(Some(out)),
                _ => out.push(b),
            }
            self.pos += 1;
        }
    }

    fn range<T: for<'b> FromSql<'b>>(
        &mut self,
        elem_ty: ValueType,
    ) -> Result<Range<T>, ConversionError> {
        self.skip_space();
        let rest = self.s.get(self.pos..).unwrap_or_default();
        if rest
            .get(..5)
            .is_some_and(|w| w.eq_ignore_ascii_case(b"empty"))
        {
            self.pos += 5;
            return Ok(Range::Empty);
        }
        let lower_inc = match self.peek() {
            Some(b'[') => true,
            Some(b'(') => false,
            _ => return Err(self.err("range does not start with [ or (")),
        };
        self.pos += 1;
        let lower = self.bound()?;
        if self.peek() != Some(b',') {
            return Err(self.err("missing , in range"));
        }
        self.pos += 1;
        let upper = self.bound()?;
        let upper_inc = match self.peek() {
            Some(b']') => true,
            Some(b')') => false,
            _ => return Err(self.err("range does not end with ] or )")),
        };
        self.pos += 1;
        let make = |text: Option<Vec<u8>>, inc: bool| -> Result<Bound<T>, ConversionError> {
            Ok(match text {
                None => Bound::Unbounded,
                Some(t) => {
                    let v = T::from_sql(elem_ty, &t)?;
                    if inc {
                        Bound::Included(v)
                    } else {
                        Bound::Excluded(v)
                    }
                }
            })
        };
        Ok(Range::Bounds {
            lower: make(lower, lower_inc)?,
            upper: make(upper, upper_inc)?,
        })
    }

    fn end(&mut self) -> Result<(), ConversionError> {
        self.skip_space();
        if self.pos == self.s.len() {
            Ok(())
        } else {
            Err(self.err("junk after the range"))
        }
    }
}

/// The element value type for a range or multirange column: the built-in element type,
/// or `unknown` (text only: any `T` that reads text from any OID, such as `String`).
fn elem_type(ty: ValueType, element: Option<Oid>) -> ValueType {
    ValueType {
        oid: element.unwrap_or(oid::UNKNOWN),
        ..ty
    }
}

impl<T: for<'b> FromSql<'b>> FromSql<'_> for Range<T> {
    fn from_sql(ty: ValueType, raw: &[u8]) -> Result<Self, ConversionError> {
        const RUST: &str = "Range<T>";
        let kind = element_of_range(ty.oid).is_some() || ty.oid >= FIRST_NORMAL_OID;
        check_container(ty, RUST, Self::accepts(ty.oid), kind)?;
        let elem_ty = elem_type(ty, element_of_range(ty.oid));
        match ty.format {
            Format::Binary => {
                if element_of_range(ty.oid).is_none() {
                    return Err(ConversionError::Unsupported {
                        rust: RUST,
                        format: Format::Binary,
                    });
                }
                let mut body = Body::new(raw, RUST);
                let r = read_binary_range(&mut body, elem_ty)?;
                body.finish()?;
                Ok(r)
            }
            Format::Text => {
                let mut p = TextRange {
                    s: raw,
                    pos: 0,
                    rust: RUST,
                };
                let r = p.range(elem_ty)?;
                p.end()?;
                Ok(r)
            }
        }
    }

    fn accepts(oid: Oid) -> bool {
        element_of_range(oid).is_some_and(T::accepts)
    }
}

impl<T: for<'b> FromSql<'b>> FromSql<'_> for MultiRange<T> {
    fn from_sql(ty: ValueType, raw: &[u8]) -> Result<Self, ConversionError> {
        const RUST: &str = "MultiRange<T>";
        let kind = element_of_multirange(ty.oid).is_some() || ty.oid >= FIRST_NORMAL_OID;
        check_container(ty, RUST, Self::accepts(ty.oid), kind)?;
        let elem_ty = elem_type(ty, element_of_multirange(ty.oid));
        match ty.format {
            Format::Binary => {
                if element_of_multirange(ty.oid).is_none() {
                    return Err(ConversionError::Unsupported {
                        rust: RUST,
                        format: Format::Binary,
                    });
                }
                let mut body = Body::new(raw, RUST);
                // Each range is at least its length and a flags byte.
                let n = body.count(5, "truncated multirange count")?;
                let mut ranges = Vec::with_capacity(n);
                for _ in 0..n {
                    let bytes = body
                        .nullable()?
                        .ok_or(body.invalid("a range in a multirange cannot be NULL"))?;
                    let mut inner = Body::new(bytes, RUST);
                    ranges.push(read_binary_range(&mut inner, elem_ty)?);
                    inner.finish()?;
                }
                body.finish()?;
                Ok(Self(ranges))
            }
            Format::Text => {
                let mut p = TextRange {
                    s: raw,
                    pos: 0,
                    rust: RUST,
                };
                p.skip_space();
                if p.peek() != Some(b'{') {
                    return Err(p.err("multirange does not start with {"));
                }
                p.pos += 1;
                p.skip_space();
                let mut ranges = Vec::new();
                if p.peek() == Some(b'}') {
                    p.pos += 1;
                } else {
                    loop {
                        ranges.push(p.range(elem_ty)?);
                        p.skip_space();
                        match p.peek() {
                            Some(b',') => p.pos += 1,
                            Some(b'}') => {
                                p.pos += 1;
                                break;
                            }
                            _ => return Err(p.err("expected , or } in multirange")),
                        }
                    }
                }
                p.end()?;
                Ok(Self(ranges))
            }
        }
    }

    fn accepts(oid: Oid) -> bool {
        element_of_multirange(oid).is_some_and(T::accepts)
    }
}

#[cfg(test)]
mod tests;
