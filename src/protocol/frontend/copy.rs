//! CopyData (`'d'`), CopyDone (`'c'`), CopyFail (`'f'`): the client side of COPY FROM STDIN.

use bytes::{BufMut, Bytes, BytesMut};

use super::owned_cstr;
use super::sync::write_empty;
use crate::protocol::error::{DecodeError, EncodeError};
use crate::protocol::read::Reader;
use crate::protocol::write::{len_i32, put_cstr, write_frame};

/// CopyData: a chunk of the COPY stream. Chunk boundaries carry no meaning.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CopyData {
    /// The bytes: the whole body.
    pub data: Bytes,
}

impl CopyData {
    /// Decodes a CopyData body (any bytes, shared with `body`).
    pub fn decode(body: &Bytes) -> Self {
        Self { data: body.clone() }
    }

    /// Encodes the full frame.
    pub fn encode(&self, buf: &mut BytesMut) -> Result<(), EncodeError> {
        write_copy_data(buf, &self.data)
    }
}

/// Writes a CopyData frame. Data longer than the i32 length field allows (minus its own
/// four bytes) is refused.
pub fn write_copy_data(buf: &mut BytesMut, data: &[u8]) -> Result<(), EncodeError> {
    // Checked up front so a too-long chunk is refused before it is copied.
    len_i32(data.len().saturating_add(4))?;
    write_frame(buf, Some(b'd'), |b| {
        b.put_slice(data);
        Ok(())
    })
}

/// Writes a CopyDone frame: the COPY stream ended normally.
pub fn write_copy_done(buf: &mut BytesMut) {
    write_empty(buf, b'c');
}

/// CopyFail: abort the COPY, with a reason the server puts into its error.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CopyFail {
    /// The reason.
    pub message: String,
}

impl CopyFail {
    /// Decodes a CopyFail body: `String message`.
    pub fn decode(body: &[u8]) -> Result<Self, DecodeError> {
        let mut r = Reader::new(body);
        let message = owned_cstr(&mut r, "CopyFail message")?;
        r.finish("CopyFail")?;
        Ok(Self { message })
    }

    /// Encodes the full frame.
    pub fn encode(&self, buf: &mut BytesMut) -> Result<(), EncodeError> {
        write_copy_fail(buf, &self.message)
    }
}

/// Writes a CopyFail frame.
pub fn write_copy_fail(buf: &mut BytesMut, message: &str) -> Result<(), EncodeError> {
    write_frame(buf, Some(b'f'), |b| {
        put_cstr(b, message.as_bytes(), "CopyFail message")
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn copy_messages_encode_field_by_field() {
        let mut buf = BytesMut::new();
        write_copy_data(&mut buf, b"1\t2\n").unwrap();
        write_copy_done(&mut buf);
        write_copy_fail(&mut buf, "bad").unwrap();
        let expected: &[u8] = &[
            b"d" as &[u8], // CopyData tag
            b"\0\0\0\x08", // length 8
            b"1\t2\n",     // data, raw
            b"c",          // CopyDone tag
            b"\0\0\0\x04", // length 4
            b"f",          // CopyFail tag
            b"\0\0\0\x08", // length 8
            b"bad\0",      // message
        ]
        .concat();
        assert_eq!(&buf[..], expected);
    }

    #[test]
    fn copy_data_keeps_every_byte_including_nul() {
        let body = Bytes::from_static(b"\0\xff\0");
        assert_eq!(CopyData::decode(&body).data, body);
    }

    #[test]
    fn copy_fail_with_trailing_bytes_is_rejected() {
        assert_eq!(
            CopyFail::decode(b"x\0y"),
            Err(DecodeError::TrailingBytes { what: "CopyFail" })
        );
    }

    #[test]
    fn copy_fail_with_interior_nul_is_refused() {
        let mut buf = BytesMut::new();
        assert!(write_copy_fail(&mut buf, "a\0").is_err());
        assert!(buf.is_empty());
    }
}
