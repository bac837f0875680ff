//! Writing frames: one helper back-patches the length, others check every field against
//! its wire width.
//!
//! The rule (RUSTSEC-2024-0363 / CVE-2024-27304): a length or count that does not fit its
//! field is an [`EncodeError`] and **nothing is written**. `write_frame` truncates the
//! buffer back to where the frame started on any error, so a half-written frame can never
//! reach the socket and be read by the server as several messages.

use bytes::{BufMut, BytesMut};

use super::error::EncodeError;

/// Writes one frame: `tag` (if any), a length placeholder, the body written by `body`,
/// then back-patches the length (which counts itself but not the tag).
///
/// On error the buffer is restored to its length before the call.
#[inline]
pub(crate) fn write_frame<F>(
    buf: &mut BytesMut,
    tag: Option<u8>,
    body: F,
) -> Result<(), EncodeError>
where
    F: FnOnce(&mut BytesMut) -> Result<(), EncodeError>,
{
    let start = buf.len();
    if let Some(tag) = tag {
        buf.put_u8(tag);
    }
    let len_pos = buf.len();
    buf.put_i32(0);
    let result = body(buf).and_then(|()| {
        let len = buf.len() - len_pos;
        let field = i32::try_from(len).map_err(|_| EncodeError::TooLong(len))?;
        patch_i32(buf, len_pos, field);
        Ok(())
    });
    if result.is_err() {
        buf.truncate(start);
    }
    result
}

/// Overwrites four bytes at `pos` with `value` (big-endian). `pos` must lie inside the
/// buffer, which holds for positions this module reserved itself.
#[inline]
pub(crate) fn patch_i32(buf: &mut BytesMut, pos: usize, value: i32) {
    if let Some(slot) = buf.get_mut(pos..pos + 4) {
        slot.copy_from_slice(&value.to_be_bytes());
    }
}

/// Overwrites two bytes at `pos` with `value` (big-endian).
#[inline]
pub(crate) fn patch_u16(buf: &mut BytesMut, pos: usize, value: u16) {
    if let Some(slot) = buf.get_mut(pos..pos + 2) {
        slot.copy_from_slice(&value.to_be_bytes());
    }
}

/// Writes a NUL-terminated string, refusing one that contains a NUL itself.
#[inline]
pub(crate) fn put_cstr(
    buf: &mut BytesMut,
    s: &[u8],
    what: &'static str,
) -> Result<(), EncodeError> {
    if s.contains(&0) {
        return Err(EncodeError::InteriorNul { what });
    }
    buf.put_slice(s);
    buf.put_u8(0);
    Ok(())
}

/// Converts a count to the unsigned 16-bit wire field used for parameter, format and
/// column counts (the server reads them as unsigned: at most 65535).
#[inline]
pub(crate) fn count_u16(n: usize) -> Result<u16, EncodeError> {
    u16::try_from(n).map_err(|_| EncodeError::TooManyParams(n))
}

/// Converts a value length to its i32 wire field.
#[inline]
pub(crate) fn len_i32(n: usize) -> Result<i32, EncodeError> {
    i32::try_from(n).map_err(|_| EncodeError::TooLong(n))
}

/// Writes a u16 count followed by i16 items.
#[inline]
pub(crate) fn put_i16_list(buf: &mut BytesMut, items: &[i16]) -> Result<(), EncodeError> {
    buf.put_u16(count_u16(items.len())?);
    for &i in items {
        buf.put_i16(i);
    }
    Ok(())
}

/// Writes a value with its i32 length prefix; `None` is written as length -1 (NULL).
#[inline]
pub(crate) fn put_nullable(buf: &mut BytesMut, value: Option<&[u8]>) -> Result<(), EncodeError> {
    match value {
        None => buf.put_i32(-1),
        Some(v) => {
            buf.put_i32(len_i32(v.len())?);
            buf.put_slice(v);
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn write_frame_back_patches_length_including_itself() {
        let mut buf = BytesMut::new();
        write_frame(&mut buf, Some(b'Q'), |b| put_cstr(b, b"x", "query")).unwrap();
        assert_eq!(&buf[..], b"Q\0\0\0\x06x\0");
    }

    #[test]
    fn write_frame_untagged_has_no_tag_byte() {
        let mut buf = BytesMut::new();
        write_frame(&mut buf, None, |b| {
            b.put_i32(80877103);
            Ok(())
        })
        .unwrap();
        assert_eq!(&buf[..], &[0, 0, 0, 8, 0x04, 0xd2, 0x16, 0x2f]);
    }

    #[test]
    fn write_frame_leaves_buffer_untouched_on_error() {
        let mut buf = BytesMut::from(&b"keep"[..]);
        let err = write_frame(&mut buf, Some(b'Q'), |b| put_cstr(b, b"a\0b", "query"));
        assert_eq!(err, Err(EncodeError::InteriorNul { what: "query" }));
        assert_eq!(&buf[..], b"keep");
    }

    #[test]
    fn count_above_u16_is_refused() {
        assert_eq!(count_u16(65535), Ok(65535));
        assert_eq!(count_u16(65536), Err(EncodeError::TooManyParams(65536)));
    }

    #[test]
    fn length_above_i32_is_refused() {
        assert_eq!(len_i32(i32::MAX as usize), Ok(i32::MAX));
        assert_eq!(
            len_i32(i32::MAX as usize + 1),
            Err(EncodeError::TooLong(1 << 31))
        );
    }
}
