//! CopyInResponse (`'G'`), CopyOutResponse (`'H'`) and CopyBothResponse (`'W'`), which
//! share one body ([`CopyResponse`]), and CopyData (`'d'`).

use bytes::{BufMut, Bytes, BytesMut};

use super::super::read::{check_count, Reader};
use super::super::write::count_u16;
use super::super::Format;
use super::{DecodeError, EncodeError};

/// The body of CopyInResponse, CopyOutResponse and CopyBothResponse.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CopyResponse {
    format: Format,
    column_formats: Vec<Format>,
}

impl CopyResponse {
    /// A response with an overall format and one format per column.
    pub fn new(format: Format, column_formats: Vec<Format>) -> Self {
        Self {
            format,
            column_formats,
        }
    }

    /// The overall COPY format (text or binary).
    pub fn format(&self) -> Format {
        self.format
    }

    /// The format of each column.
    pub fn column_formats(&self) -> &[Format] {
        &self.column_formats
    }

    /// Decodes the shared body; `name` is the message, for the trailing-bytes error.
    pub(super) fn decode(body: &[u8], name: &'static str) -> Result<Self, DecodeError> {
        let mut r = Reader::new(body);
        // "Int8: 0 indicates the overall COPY format is textual ... 1 indicates the
        // overall copy format is binary."
        let format = match r.u8("COPY format")? {
            0 => Format::Text,
            1 => Format::Binary,
            _ => {
                return Err(DecodeError::BadValue {
                    what: "COPY format",
                })
            }
        };
        let count = usize::from(r.u16("COPY column count")?);
        // "Int16[N]: The format codes to be used for each column": two bytes each,
        // checked before the Vec is sized from the count.
        check_count("COPY column", count, 2, r.remaining())?;
        let mut column_formats = Vec::with_capacity(count);
        for _ in 0..count {
            column_formats.push(Format::from_code(r.i16("COPY column format")?)?);
        }
        r.finish(name)?;
        Ok(Self::new(format, column_formats))
    }

    /// Writes the body.
    pub(super) fn encode_body(&self, buf: &mut BytesMut) -> Result<(), EncodeError> {
        let count = count_u16(self.column_formats.len())?;
        buf.put_u8(match self.format {
            Format::Text => 0,
            Format::Binary => 1,
        });
        buf.put_u16(count);
        for f in &self.column_formats {
            buf.put_i16(f.code());
        }
        Ok(())
    }
}

/// A chunk of COPY data: the whole body, shared with the read buffer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CopyData {
    data: Bytes,
}

impl CopyData {
    /// A chunk with these bytes.
    pub fn new(data: Bytes) -> Self {
        Self { data }
    }

    /// The bytes of this chunk.
    pub fn data(&self) -> &Bytes {
        &self.data
    }

    /// Any body is a valid CopyData.
    pub(super) fn decode(body: Bytes) -> Self {
        Self::new(body)
    }

    /// Writes the body.
    pub(super) fn encode_body(&self, buf: &mut BytesMut) {
        buf.put_slice(&self.data);
    }
}

#[cfg(test)]
mod tests {
    use super::super::test_util::{decode_frame, encode_frame};
    use super::super::BackendMessage;
    use super::*;

    #[test]
    fn copy_responses_share_one_body_layout() {
        for (tag, make) in [
            (
                b'G',
                BackendMessage::CopyInResponse as fn(CopyResponse) -> _,
            ),
            (b'H', BackendMessage::CopyOutResponse),
            (b'W', BackendMessage::CopyBothResponse),
        ] {
            let frame = wire![
                [tag],         // type
                b"\0\0\0\x0b", // length
                b"\x01",       // overall format: binary
                b"\0\x02",     // two columns
                b"\0\x01",     // column 1: binary
                b"\0\0",       // column 2: text
            ];
            let want = make(CopyResponse::new(
                Format::Binary,
                vec![Format::Binary, Format::Text],
            ));
            assert_eq!(decode_frame(&frame), Ok(want.clone()));
            assert_eq!(encode_frame(&want), frame);
        }
    }

    #[test]
    fn copy_response_count_larger_than_the_body_is_refused() {
        let body = wire![
            b"\0",       // overall format: text
            b"\xff\xff", // 65535 columns
            b"\0\0",     // only one format code
        ];
        assert_eq!(
            BackendMessage::decode(b'H', Bytes::from(body)),
            Err(DecodeError::BadCount {
                what: "COPY column",
                count: 65535
            })
        );
    }

    #[test]
    fn copy_response_rejects_bad_format_codes() {
        let body = wire![
            b"\x02", // overall format: neither 0 nor 1
            b"\0\0", // no columns
        ];
        assert!(matches!(
            BackendMessage::decode(b'G', Bytes::from(body)),
            Err(DecodeError::BadValue { .. })
        ));
        let body = wire![
            b"\0",     // overall format: text
            b"\0\x01", // one column
            b"\0\x02", // format code 2
        ];
        assert!(matches!(
            BackendMessage::decode(b'G', Bytes::from(body)),
            Err(DecodeError::BadValue { .. })
        ));
    }

    #[test]
    fn copy_response_rejects_a_trailing_byte() {
        let body = wire![
            b"\0",   // overall format: text
            b"\0\0", // no columns
            b"\0",   // one byte too many
        ];
        assert_eq!(
            BackendMessage::decode(b'W', Bytes::from(body)),
            Err(DecodeError::TrailingBytes {
                what: "CopyBothResponse"
            })
        );
    }

    #[test]
    fn copy_data_keeps_its_body_verbatim() {
        let frame = wire![
            b"d",          // type
            b"\0\0\0\x08", // length
            b"1\t2\n",     // data
        ];
        let want = BackendMessage::CopyData(CopyData::new(Bytes::from_static(b"1\t2\n")));
        assert_eq!(decode_frame(&frame), Ok(want.clone()));
        assert_eq!(encode_frame(&want), frame);
    }
}
