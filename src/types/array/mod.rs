//! Arrays: `Vec<T>`, `&[T]` and `[T; N]` as one-dimensional arrays, [`Array<T>`] for any
//! number of dimensions and lower bounds other than 1.
//!
//! # Wire formats
//!
//! Binary (`array_send` / `array_recv`):
//!
//! ```text
//! i32 ndim (0..=6)   i32 has_nulls (0 or 1)   u32 element type OID
//! ndim × (i32 length, i32 lower bound)
//! per element, in row-major order: i32 length (-1 = NULL), then that many bytes
//! ```
//!
//! Text (`array_out` / `array_in`): `{1,2,NULL,"a b","x\"y"}`, nested braces per dimension,
//! and a `[0:1]={…}` prefix when a lower bound is not 1. An element is double-quoted when
//! it is empty, is `NULL` in any case, or holds `{`, `}`, `,`, `"`, `\` or whitespace;
//! inside quotes `"` and `\` are backslash-escaped.
//!
//! # Limits
//!
//! Nothing is allocated from a number in the header before it is checked: at most 6
//! dimensions (PostgreSQL's `MAXDIM`), and the product of the lengths must fit the bytes
//! that follow at 4 bytes (a length) per element, so a header claiming 2^30 × 2^30
//! elements fails at once. The text parser makes one pass, nests at most 6 deep and
//! produces at most one element per input byte.
//!
//! # Types
//!
//! Writing declares `oid::array_of(element)`, the element type being that of the first
//! element that names one (or `T::null_type_oid()`); where no built-in array type is known
//! (an element type without a mapping here, or `Text` with OID 0) it declares 0 and the
//! server infers the type from the SQL (`$1::mood[]`). User-defined array types (an enum's
//! `mood[]`) have per-database OIDs: they are accepted by OID range (`>= 16384`) and sent
//! in the text format, since the binary header would need the element's OID.
//!
//! Reading checks the array OID (strict mode) and, in binary, that `T` accepts the element
//! OID in the header. Elements are decoded with the element OID and the array's format.
//! `Vec<T>` reads one dimension (or an empty array); a multi-dimensional value is an error
//! that points to [`Array<T>`].

use bytes::{BufMut, BytesMut};

use super::oid::{self, is_unspecified};
use super::{ConversionError, Format, FromSql, IsNull, Oid, ToSql, ValueType};

mod text;
pub(in crate::types) mod wire;

#[cfg(test)]
mod tests;

use wire::{check_container, count_i32, patch_i32, put_nullable, Body};

/// PostgreSQL's `MAXDIM`: arrays have at most 6 dimensions.
pub(crate) const MAX_DIMENSIONS: usize = 6;

/// `FirstNormalObjectId`: OIDs from here on are assigned per database (user types,
/// extension types such as `hstore`), so they cannot be known statically.
pub(in crate::types) const FIRST_NORMAL_OID: Oid = 16_384;

/// One dimension of an array: how many elements, and the subscript of the first.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Dimension {
    /// Number of elements along this dimension.
    pub len: i32,
    /// The subscript of the first element (1 unless the array says otherwise).
    pub lower_bound: i32,
}

impl Dimension {
    /// A dimension of `len` elements starting at subscript 1.
    pub const fn new(len: i32) -> Self {
        Self {
            len,
            lower_bound: 1,
        }
    }
}

/// An array of any number of dimensions (up to 6) with its lower bounds, elements in
/// row-major order (the last subscript varies fastest), as PostgreSQL stores them.
///
/// For one dimension, `Vec<T>`, `&[T]` and `[T; N]` are parameters too (`Option<T>`
/// elements are NULLs), and `Vec<T>` reads a one-dimensional or empty array; a
/// multi-dimensional value read into a `Vec` is an error that points here. The array type
/// declared is `oid::array_of` the element type (0, for the server to infer, when there
/// is none). In binary, the element type in the value's header must be one `T` accepts.
///
/// ```
/// use pgline::types::{Array, Dimension};
///
/// // '[0:1][1:2]={{1,2},{3,4}}'
/// let a = Array::new(
///     vec![Dimension { len: 2, lower_bound: 0 }, Dimension::new(2)],
///     vec![1, 2, 3, 4],
/// )?;
/// assert_eq!(a.get(&[1, 1]), Some(&3));
/// assert_eq!(a.get(&[2, 1]), None);
/// # Ok::<(), pgline::types::ConversionError>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Array<T> {
    dims: Vec<Dimension>,
    elements: Vec<T>,
}

impl<T> Array<T> {
    /// An array of shape `dims` holding `elements` in row-major order. Fails if there are
    /// more than 6 dimensions, a negative length, a subscript past `i32::MAX`, or the
    /// element count is not the product of the lengths. No dimensions is the empty array.
    pub fn new(dims: Vec<Dimension>, elements: Vec<T>) -> Result<Self, ConversionError> {
        let expected = check_dims(&dims, "Array")?;
        if expected != elements.len() {
            return Err(ConversionError::invalid(
                "Array",
                "element count is not the product of the dimensions",
            ));
        }
        // PostgreSQL has one empty array: no dimensions.
        let dims = if expected == 0 { Vec::new() } else { dims };
        Ok(Self { dims, elements })
    }

    /// A one-dimensional array starting at subscript 1.
    pub fn from_vec(elements: Vec<T>) -> Self {
        let dims = match i32::try_from(elements.len()) {
            Ok(0) | Err(_) => Vec::new(),
            Ok(n) => vec![Dimension::new(n)],
        };
        Self { dims, elements }
    }

    /// The dimensions, outermost first; empty for the empty array.
    pub fn dimensions(&self) -> &[Dimension] {
        &self.dims
    }

    /// The elements in row-major order.
    pub fn elements(&self) -> &[T] {
        &self.elements
    }

    /// The elements in row-major order.
    pub fn into_elements(self) -> Vec<T> {
        self.elements
    }

    /// The element at PostgreSQL subscripts `index` (one per dimension, counted from each
    /// lower bound), or `None` outside the array.
    pub fn get(&self, index: &[i32]) -> Option<&T> {
        if index.len() != self.dims.len() || self.dims.is_empty() {
            return None;
        }
        let mut flat: usize = 0;
        for (d, &i) in self.dims.iter().zip(index) {
            let offset = i.checked_sub(d.lower_bound)?;
            if offset < 0 || offset >= d.len {
                return None;
            }
            flat = flat
                .checked_mul(usize::try_from(d.len).ok()?)?
                .checked_add(usize::try_from(offset).ok()?)?;
        }
        self.elements.get(flat)
    }

    /// Iterates over the elements in row-major order.
    pub fn iter(&self) -> std::slice::Iter<'_, T> {
        self.elements.iter()
    }
}

impl<T> From<Vec<T>> for Array<T> {
    fn from(v: Vec<T>) -> Self {
        Self::from_vec(v)
    }
}

impl<T> IntoIterator for Array<T> {
    type Item = T;
    type IntoIter = std::vec::IntoIter<T>;
    fn into_iter(self) -> Self::IntoIter {
        self.elements.into_iter()
    }
}

impl<'a, T> IntoIterator for &'a Array<T> {
    type Item = &'a T;
    type IntoIter = std::slice::Iter<'a, T>;
    fn into_iter(self) -> Self::IntoIter {
        self.elements.iter()
    }
}

/// Checks a shape (as `array_recv` and `ArrayCheckBounds` do) and returns its element
/// count. Allocates nothing.
fn check_dims(dims: &[Dimension], rust: &'static str) -> Result<usize, ConversionError> {
    if dims.len() > MAX_DIMENSIONS {
        return Err(ConversionError::invalid(rust, "more than 6 dimensions"));
    }
    let mut n: usize = 1;
    for d in dims {
        let len = usize::try_from(d.len)
            .map_err(|_| ConversionError::invalid(rust, "negative dimension length"))?;
        // The last subscript, lower_bound + len - 1, must be an i32.
        if i64::from(d.lower_bound) + i64::from(d.len) - 1 > i64::from(i32::MAX) {
            return Err(ConversionError::invalid(rust, "subscript past i32::MAX"));
        }
        n = n
            .checked_mul(len)
            .ok_or(ConversionError::invalid(rust, "too many elements"))?;
    }
    Ok(if dims.is_empty() { 0 } else { n })
}

// ---------------------------------------------------------------------------------------
// Writing

/// The element type to declare for `elems`: the first element type OID that is not 0,
/// else `T::null_type_oid()`.
fn element_oid<T: ToSql>(elems: &[T]) -> Oid {
    elems
        .iter()
        .map(ToSql::type_oid)
        .find(|&o| o != oid::UNSPECIFIED)
        .unwrap_or_else(T::null_type_oid)
}

/// The array type to declare for `elems` (0 when no built-in array type is known).
fn array_oid<T: ToSql>(elems: &[T]) -> Oid {
    oid::array_of(element_oid(elems)).unwrap_or(oid::UNSPECIFIED)
}

/// The element type to write for a parameter of array type `array`: the built-in one,
/// the values' own for an unspecified type, 0 for a user-defined array type (text only).
fn target_element<T: ToSql>(array: Oid, elems: &[T]) -> Option<Oid> {
    if is_unspecified(array) {
        Some(element_oid(elems))
    } else if let Some(e) = oid::element_of(array) {
        Some(e)
    } else if array >= FIRST_NORMAL_OID {
        Some(oid::UNSPECIFIED)
    } else {
        None
    }
}

fn accepts_array<T: ToSql>(array: Oid, elems: &[T]) -> bool {
    match target_element(array, elems) {
        Some(e) => elems.iter().all(|v| v.accepts(e)),
        None => false,
    }
}

/// Binary needs the element's OID in the header, so only built-in element types (or the
/// values' own) whose values all support binary.
fn supports_binary_array<T: ToSql>(array: Oid, elems: &[T]) -> bool {
    match target_element(array, elems) {
        Some(e) if e != oid::UNSPECIFIED && (is_unspecified(array) || array < FIRST_NORMAL_OID) => {
            elems.iter().all(|v| v.supports_binary(e))
        }
        _ => false,
    }
}

/// Writes `elems` (row-major) with shape `dims` (already checked) in `ty.format`.
fn write_array<T: ToSql>(
    elems: &[T],
    dims: &[Dimension],
    ty: ValueType,
    out: &mut BytesMut,
    rust: &'static str,
) -> Result<IsNull, ConversionError> {
    let elem = target_element(ty.oid, elems)
        .filter(|&e| elems.iter().all(|v| v.accepts(e)))
        .ok_or(ConversionError::WrongType { rust, oid: ty.oid })?;
    let elem_ty = ValueType {
        oid: elem,
        format: ty.format,
        lenient: ty.lenient,
    };
    match ty.format {
        Format::Binary => {
            if elem == oid::UNSPECIFIED {
                return Err(ConversionError::Unsupported {
                    rust,
                    format: Format::Binary,
                });
            }
            write_binary(elems, dims, elem_ty, out, rust)?
        }
        Format::Text => text::write(elems, dims, elem_ty, out, rust)?,
    }
    Ok(IsNull::No)
}

fn write_binary<T: ToSql>(
    elems: &[T],
    dims: &[Dimension],
    elem_ty: ValueType,
    out: &mut BytesMut,
    rust: &'static str,
) -> Result<(), ConversionError> {
    let start = out.len();
    // An empty array is written with no dimensions, as array_send does.
    let dims = if elems.is_empty() { &[][..] } else { dims };
    out.put_i32(count_i32(dims.len(), rust)?);
    let flags_at = out.len();
    out.put_i32(0);
    out.put_u32(elem_ty.oid);
    for d in dims {
        out.put_i32(d.len);
        out.put_i32(d.lower_bound);
    }
    let mut has_nulls = false;
    // Fixed-size elements (integers, floats, timestamps, ...) go in with their length in
    // one copy, no back-patching: the hot path of UNNEST bulk inserts. Room for all of
    // them is reserved once, from the first element's size.
    if let Some(first) = elems.first().and_then(|v| v.to_sql_fixed(elem_ty)) {
        out.reserve(elems.len().saturating_mul(first.as_bytes().len()));
    }
    for v in elems {
        if let Some(fixed) = v.to_sql_fixed(elem_ty) {
            out.extend_from_slice(fixed.as_bytes());
            continue;
        }
        if let Some(bytes) = v.to_sql_slice(elem_ty) {
            let Ok(len) = i32::try_from(bytes.len()) else {
                out.truncate(start);
                return Err(ConversionError::invalid(rust, "element longer than 2 GiB"));
            };
            out.put_i32(len);
            out.extend_from_slice(bytes);
            continue;
        }
        match put_nullable(out, rust, |out| v.to_sql(elem_ty, out)) {
            Ok(IsNull::Yes) => has_nulls = true,
            Ok(IsNull::No) => {}
            Err(e) => {
                out.truncate(start);
                return Err(e);
            }
        }
    }
    patch_i32(out, flags_at, i32::from(has_nulls));
    Ok(())
}

/// One dimension of `n` elements, or none for the empty array.
fn dims_1d(n: usize, rust: &'static str) -> Result<Vec<Dimension>, ConversionError> {
    Ok(match count_i32(n, rust)? {
        0 => Vec::new(),
        n => vec![Dimension::new(n)],
    })
}

macro_rules! slice_to_sql {
    ($rust:literal) => {
        fn type_oid(&self) -> Oid {
            array_oid(self.as_ref())
        }

        fn accepts(&self, oid: Oid) -> bool {
            accepts_array(oid, self.as_ref())
        }

        fn to_sql(&self, ty: ValueType, out: &mut BytesMut) -> Result<IsNull, ConversionError> {
            let elems: &[T] = self.as_ref();
            write_array(elems, &dims_1d(elems.len(), $rust)?, ty, out, $rust)
        }

        fn supports_binary(&self, oid: Oid) -> bool {
            supports_binary_array(oid, self.as_ref())
        }

        fn array_len(&self) -> Option<usize> {
            let elems: &[T] = self.as_ref();
            Some(elems.len())
        }

        fn to_sql_array_range(
            &self,
            ty: ValueType,
            range: std::ops::Range<usize>,
            out: &mut BytesMut,
        ) -> Option<Result<IsNull, ConversionError>> {
            let all: &[T] = self.as_ref();
            let elems = all.get(range)?;
            Some(
                dims_1d(elems.len(), $rust)
                    .and_then(|dims| write_array(elems, &dims, ty, out, $rust)),
            )
        }

        fn null_type_oid() -> Oid {
            oid::array_of(T::null_type_oid()).unwrap_or(oid::UNSPECIFIED)
        }
    };
}

/// A one-dimensional array; `Option` elements are NULLs.
impl<T: ToSql> ToSql for Vec<T> {
    slice_to_sql!("Vec<T>");
}

/// A one-dimensional array; `Option` elements are NULLs.
impl<T: ToSql> ToSql for &[T] {
    slice_to_sql!("&[T]");
}

/// A one-dimensional array; `Option` elements are NULLs.
impl<T: ToSql, const N: usize> ToSql for [T; N] {
    slice_to_sql!("[T; N]");
}

/// Any shape, with its lower bounds.
impl<T: ToSql> ToSql for Array<T> {
    fn type_oid(&self) -> Oid {
        array_oid(&self.elements)
    }

    fn accepts(&self, oid: Oid) -> bool {
        accepts_array(oid, &self.elements)
    }

    fn to_sql(&self, ty: ValueType, out: &mut BytesMut) -> Result<IsNull, ConversionError> {
        write_array(&self.elements, &self.dims, ty, out, "Array<T>")
    }

    fn supports_binary(&self, oid: Oid) -> bool {
        supports_binary_array(oid, &self.elements)
    }

    fn null_type_oid() -> Oid {
        oid::array_of(T::null_type_oid()).unwrap_or(oid::UNSPECIFIED)
    }
}

// ---------------------------------------------------------------------------------------
// Reading

/// Whether `oid` can be an array of elements `T` accepts: a built-in array type whose
/// element `T` accepts, or any user-defined type (their array OIDs are per database; the
/// binary header's element OID is still checked).
fn accepts_array_oid<'a, T: FromSql<'a>>(oid: Oid) -> bool {
    match oid::element_of(oid) {
        Some(e) => T::accepts(e),
        None => oid >= FIRST_NORMAL_OID,
    }
}

/// Whether `oid` is an array type: a built-in one, or any user-defined type.
fn is_array_oid(oid: Oid) -> bool {
    oid::element_of(oid).is_some() || oid >= FIRST_NORMAL_OID
}

/// Decodes an array value into its shape and elements.
fn read_array<T: for<'b> FromSql<'b>>(
    ty: ValueType,
    raw: &[u8],
    rust: &'static str,
) -> Result<(Vec<Dimension>, Vec<T>), ConversionError> {
    match ty.format {
        Format::Binary => read_binary(ty, raw, rust),
        Format::Text => {
            let parsed = text::parse(raw, rust)?;
            // The text form carries no element type: the built-in one, or unknown.
            let elem_ty = ValueType {
                oid: oid::element_of(ty.oid).unwrap_or(oid::UNKNOWN),
                format: Format::Text,
                lenient: ty.lenient,
            };
            let mut elements = Vec::with_capacity(parsed.elements.len());
            for e in &parsed.elements {
                elements.push(match e {
                    Some(bytes) => T::from_sql(elem_ty, bytes)?,
                    None => T::from_sql_null(elem_ty)?,
                });
            }
            Ok((parsed.dims, elements))
        }
    }
}

fn read_binary<T: for<'b> FromSql<'b>>(
    ty: ValueType,
    raw: &[u8],
    rust: &'static str,
) -> Result<(Vec<Dimension>, Vec<T>), ConversionError> {
    let mut body = Body::new(raw, rust);
    let ndim = body.i32("truncated array header")?;
    let ndim = usize::try_from(ndim)
        .ok()
        .filter(|&n| n <= MAX_DIMENSIONS)
        .ok_or(ConversionError::invalid(
            rust,
            "dimension count not in 0..=6",
        ))?;
    let flags = body.i32("truncated array header")?;
    if flags & !1 != 0 {
        return Err(ConversionError::invalid(rust, "invalid array flags"));
    }
    let elem = body.u32("truncated array header")?;
    if !ty.lenient && !T::accepts(elem) {
        return Err(ConversionError::WrongType {
            rust: std::any::type_name::<T>(),
            oid: elem,
        });
    }
    let mut dims = [Dimension::new(0); MAX_DIMENSIONS];
    for d in dims.iter_mut().take(ndim) {
        d.len = body.i32("truncated array dimensions")?;
        d.lower_bound = body.i32("truncated array dimensions")?;
    }
    let dims = dims.get(..ndim).unwrap_or_default();
    let count = check_dims(dims, rust)?;
    // Every element has at least its 4-byte length: this caps the allocation below by the
    // size of the value itself.
    body.check_count(count, 4)?;
    let elem_ty = ValueType {
        oid: elem,
        format: Format::Binary,
        lenient: ty.lenient,
    };
    let mut elements = Vec::with_capacity(count);
    for _ in 0..count {
        elements.push(match body.nullable()? {
            Some(bytes) => T::from_sql(elem_ty, bytes)?,
            None => T::from_sql_null(elem_ty)?,
        });
    }
    body.finish()?;
    let dims = if count == 0 {
        Vec::new()
    } else {
        dims.to_vec()
    };
    Ok((dims, elements))
}

/// A one-dimensional array (or the empty array). Elements are owned (`String`, not
/// `&str`): the text format may need unescaping.
impl<T: for<'b> FromSql<'b>> FromSql<'_> for Vec<T> {
    fn from_sql(ty: ValueType, raw: &[u8]) -> Result<Self, ConversionError> {
        check_container(ty, "Vec<T>", Self::accepts(ty.oid), is_array_oid(ty.oid))?;
        let (dims, elements) = read_array(ty, raw, "Vec<T>")?;
        if dims.len() > 1 {
            return Err(ConversionError::invalid(
                "Vec<T>",
                "multi-dimensional array: read it as pgline::types::Array<T>",
            ));
        }
        Ok(elements)
    }

    fn accepts(oid: Oid) -> bool {
        accepts_array_oid::<T>(oid)
    }
}

/// Any shape, with its lower bounds.
impl<T: for<'b> FromSql<'b>> FromSql<'_> for Array<T> {
    fn from_sql(ty: ValueType, raw: &[u8]) -> Result<Self, ConversionError> {
        check_container(ty, "Array<T>", Self::accepts(ty.oid), is_array_oid(ty.oid))?;
        let (dims, elements) = read_array(ty, raw, "Array<T>")?;
        Ok(Self { dims, elements })
    }

    fn accepts(oid: Oid) -> bool {
        accepts_array_oid::<T>(oid)
    }
}
