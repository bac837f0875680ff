//! `Reader`: bounds-checked reads over one message body.
//!
//! Every read returns `Err(DecodeError::Truncated { what })` instead of panicking, so
//! decoders never index wire data directly (house rule: no `Buf::get_*` or `advance` on
//! bytes from the network). `finish` is the trailing-bytes check.

use super::error::DecodeError;

/// A cursor over a message body. Cheap to copy: re-walking a validated body is how
/// iterators over DataRow and RowDescription work.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Reader<'a> {
    buf: &'a [u8],
}

impl<'a> Reader<'a> {
    /// A reader over `buf`.
    #[inline]
    pub(crate) fn new(buf: &'a [u8]) -> Self {
        Self { buf }
    }

    /// Bytes not read yet.
    #[inline]
    pub(crate) fn remaining(&self) -> usize {
        self.buf.len()
    }

    /// The unread bytes.
    #[inline]
    pub(crate) fn rest(&self) -> &'a [u8] {
        self.buf
    }

    /// Takes exactly `n` bytes.
    #[inline]
    pub(crate) fn take(&mut self, n: usize, what: &'static str) -> Result<&'a [u8], DecodeError> {
        match self.buf.split_at_checked(n) {
            Some((head, tail)) => {
                self.buf = tail;
                Ok(head)
            }
            None => Err(DecodeError::Truncated { what }),
        }
    }

    /// Takes a fixed-size array.
    #[inline]
    pub(crate) fn array<const N: usize>(
        &mut self,
        what: &'static str,
    ) -> Result<[u8; N], DecodeError> {
        let bytes = self.take(N, what)?;
        let mut out = [0u8; N];
        out.copy_from_slice(bytes);
        Ok(out)
    }

    /// One byte.
    #[inline]
    pub(crate) fn u8(&mut self, what: &'static str) -> Result<u8, DecodeError> {
        Ok(self.array::<1>(what)?[0])
    }

    /// A big-endian i16.
    #[inline]
    pub(crate) fn i16(&mut self, what: &'static str) -> Result<i16, DecodeError> {
        Ok(i16::from_be_bytes(self.array(what)?))
    }

    /// A big-endian u16 (used for counts, which the server writes as unsigned 16-bit).
    #[inline]
    pub(crate) fn u16(&mut self, what: &'static str) -> Result<u16, DecodeError> {
        Ok(u16::from_be_bytes(self.array(what)?))
    }

    /// A big-endian i32.
    #[inline]
    pub(crate) fn i32(&mut self, what: &'static str) -> Result<i32, DecodeError> {
        Ok(i32::from_be_bytes(self.array(what)?))
    }

    /// A big-endian u32 (OIDs).
    #[inline]
    pub(crate) fn u32(&mut self, what: &'static str) -> Result<u32, DecodeError> {
        Ok(u32::from_be_bytes(self.array(what)?))
    }

    /// A NUL-terminated byte string, without its terminator. A missing NUL is
    /// `Truncated`: the string never ended inside the body.
    #[inline]
    pub(crate) fn cstr_bytes(&mut self, what: &'static str) -> Result<&'a [u8], DecodeError> {
        let end = self
            .buf
            .iter()
            .position(|&b| b == 0)
            .ok_or(DecodeError::Truncated { what })?;
        let s = self.take(end, what)?;
        self.take(1, what)?;
        Ok(s)
    }

    /// A NUL-terminated UTF-8 string.
    #[inline]
    pub(crate) fn cstr(&mut self, what: &'static str) -> Result<&'a str, DecodeError> {
        let bytes = self.cstr_bytes(what)?;
        std::str::from_utf8(bytes).map_err(|_| DecodeError::InvalidUtf8 { what })
    }

    /// A value with an i32 length prefix; -1 is NULL, any other negative length is an
    /// error.
    #[inline]
    pub(crate) fn nullable_value(
        &mut self,
        what: &'static str,
    ) -> Result<Option<&'a [u8]>, DecodeError> {
        let len = self.i32(what)?;
        match len {
            -1 => Ok(None),
            n if n < 0 => Err(DecodeError::BadValueLength(n)),
            n => {
                let n = usize::try_from(n).map_err(|_| DecodeError::BadValueLength(n))?;
                self.take(n, what).map(Some)
            }
        }
    }

    /// Checks that the body was read to its end.
    #[inline]
    pub(crate) fn finish(&self, what: &'static str) -> Result<(), DecodeError> {
        if self.buf.is_empty() {
            Ok(())
        } else {
            Err(DecodeError::TrailingBytes { what })
        }
    }
}

/// Fails with `BadCount` unless `count` items of at least `min_size` bytes each can fit in
/// `remaining` bytes. Call before allocating anything sized by `count`.
#[inline]
pub(crate) fn check_count(
    what: &'static str,
    count: usize,
    min_size: usize,
    remaining: usize,
) -> Result<(), DecodeError> {
    match count.checked_mul(min_size) {
        Some(need) if need <= remaining => Ok(()),
        _ => Err(DecodeError::BadCount {
            what,
            count: i64::try_from(count).unwrap_or(i64::MAX),
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    #[inline]
    fn reads_fixed_width_fields_big_endian() {
        let mut r = Reader::new(&[0x01, 0x00, 0x02, 0xff, 0xff, 0xff, 0xfe]);
        assert_eq!(r.u8("a"), Ok(1));
        assert_eq!(r.i16("b"), Ok(2));
        assert_eq!(r.i32("c"), Ok(-2));
        assert_eq!(r.finish("m"), Ok(()));
    }

    #[test]
    #[inline]
    fn short_input_is_truncated_not_a_panic() {
        let mut r = Reader::new(&[0, 1, 2]);
        assert_eq!(r.i32("len"), Err(DecodeError::Truncated { what: "len" }));
        assert_eq!(r.take(4, "x"), Err(DecodeError::Truncated { what: "x" }));
    }

    #[test]
    #[inline]
    fn cstr_without_nul_is_truncated() {
        let mut r = Reader::new(b"abc");
        assert_eq!(r.cstr("name"), Err(DecodeError::Truncated { what: "name" }));
    }

    #[test]
    #[inline]
    fn cstr_distinguishes_empty_from_missing() {
        let mut r = Reader::new(b"\0x\0");
        assert_eq!(r.cstr("a"), Ok(""));
        assert_eq!(r.cstr("b"), Ok("x"));
        assert_eq!(r.cstr("c"), Err(DecodeError::Truncated { what: "c" }));
    }

    #[test]
    #[inline]
    fn cstr_rejects_invalid_utf8() {
        let mut r = Reader::new(b"\xff\0");
        assert_eq!(r.cstr("s"), Err(DecodeError::InvalidUtf8 { what: "s" }));
    }

    #[test]
    #[inline]
    fn nullable_value_accepts_minus_one_and_rejects_other_negatives() {
        let mut r = Reader::new(&[0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xfe]);
        assert_eq!(r.nullable_value("v"), Ok(None));
        assert_eq!(r.nullable_value("v"), Err(DecodeError::BadValueLength(-2)));
    }

    #[test]
    #[inline]
    fn finish_reports_trailing_bytes() {
        let r = Reader::new(&[0]);
        assert_eq!(
            r.finish("Sync"),
            Err(DecodeError::TrailingBytes { what: "Sync" })
        );
    }

    #[test]
    #[inline]
    fn check_count_rejects_counts_that_cannot_fit() {
        assert!(check_count("columns", 3, 4, 12).is_ok());
        assert!(check_count("columns", 4, 4, 12).is_err());
        assert!(check_count("columns", usize::MAX, 4, 12).is_err());
    }
}
