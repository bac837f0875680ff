//! CommandComplete (`'C'`): the command tag that ends each command's results.

use bytes::{Bytes, BytesMut};

use super::super::read::Reader;
use super::super::text::ByteStr;
use super::super::write::put_cstr;
use super::{share, DecodeError, EncodeError};

/// Tags up to this many bytes are stored inline: the common ones ("INSERT 0 1",
/// "UPDATE 12", "SELECT 100000") then cost no reference-counted buffer per command.
const INLINE: usize = 30;

#[derive(Clone)]
enum Tag {
    Inline { len: u8, buf: [u8; INLINE] },
    Shared(ByteStr),
}

/// A command finished; its tag says which and, for most DML, how many rows.
#[derive(Clone)]
pub struct CommandComplete {
    tag: Tag,
}

impl PartialEq for CommandComplete {
    fn eq(&self, other: &Self) -> bool {
        self.tag() == other.tag()
    }
}

impl Eq for CommandComplete {}

impl std::fmt::Debug for CommandComplete {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CommandComplete")
            .field("tag", &self.tag())
            .finish()
    }
}

impl CommandComplete {
    /// A CommandComplete with this tag (e.g. `"INSERT 0 3"`).
    pub fn new(tag: impl Into<ByteStr>) -> Self {
        let tag: ByteStr = tag.into();
        Self::from_str_tag(tag.as_str()).unwrap_or(Self {
            tag: Tag::Shared(tag),
        })
    }

    /// The inline form, if the tag is short enough.
    #[inline]
    fn from_str_tag(tag: &str) -> Option<Self> {
        let bytes = tag.as_bytes();
        let len = u8::try_from(bytes.len())
            .ok()
            .filter(|&l| usize::from(l) <= INLINE)?;
        let mut buf = [0u8; INLINE];
        buf.get_mut(..bytes.len())?.copy_from_slice(bytes);
        Some(Self {
            tag: Tag::Inline { len, buf },
        })
    }

    /// Decodes a `'C'` body from a borrowed slice (the driver's fast path for short
    /// frames: no buffer is split off or shared).
    #[inline]
    pub fn decode_slice(body: &[u8]) -> Result<Self, DecodeError> {
        let mut r = Reader::new(body);
        let tag = r.cstr("command tag")?;
        r.finish("CommandComplete")?;
        Ok(Self::from_str_tag(tag).unwrap_or_else(|| Self {
            tag: Tag::Shared(ByteStr::from(tag.to_string())),
        }))
    }

    /// The command tag, e.g. `"SELECT 5"` or `"CREATE TABLE"`.
    pub fn tag(&self) -> &str {
        match &self.tag {
            // Both forms hold validated UTF-8; the fallback cannot be taken.
            Tag::Inline { len, buf } => buf
                .get(..usize::from(*len))
                .and_then(|b| std::str::from_utf8(b).ok())
                .unwrap_or_default(),
            Tag::Shared(s) => s,
        }
    }

    /// The number of rows the command processed, parsed as libpq's `PQcmdTuples` does:
    /// `INSERT oid rows`, and `SELECT`/`UPDATE`/`DELETE`/`MERGE`/`MOVE`/`FETCH`/`COPY`
    /// followed by `rows`. Any other tag, or a count that is not all digits or does not
    /// fit a `u64`, is `None`.
    pub fn rows(&self) -> Option<u64> {
        let mut words = self.tag().split(' ');
        let count = match words.next()? {
            // "For an INSERT command, the tag is INSERT oid rows ... oid used to be the
            // object ID of the inserted row if rows was 1 ...; it is now always 0."
            "INSERT" => {
                words.next()?;
                words.next()?
            }
            "SELECT" | "UPDATE" | "DELETE" | "MERGE" | "MOVE" | "FETCH" | "COPY" => words.next()?,
            _ => return None,
        };
        if words.next().is_some() || count.is_empty() || !count.bytes().all(|b| b.is_ascii_digit())
        {
            return None;
        }
        // All digits, so the only failure left is overflow: None, not a panic.
        count.parse().ok()
    }

    /// Decodes a `'C'` body: one UTF-8 C string and nothing after it.
    pub(super) fn decode(body: Bytes) -> Result<Self, DecodeError> {
        let mut r = Reader::new(&body);
        let tag = r.cstr("command tag")?;
        r.finish("CommandComplete")?;
        if let Some(short) = Self::from_str_tag(tag) {
            return Ok(short);
        }
        let tag = ByteStr::from_utf8(share(&body, tag.as_bytes()), "command tag")?;
        Ok(Self {
            tag: Tag::Shared(tag),
        })
    }

    /// Writes the body.
    pub(super) fn encode_body(&self, buf: &mut BytesMut) -> Result<(), EncodeError> {
        put_cstr(buf, self.tag().as_bytes(), "command tag")
    }
}

#[cfg(test)]
mod tests {
    use super::super::test_util::{decode_frame, encode_frame};
    use super::super::BackendMessage;
    use super::*;

    fn rows(tag: &'static str) -> Option<u64> {
        CommandComplete::new(tag).rows()
    }

    #[test]
    fn command_complete_round_trips_its_tag() {
        let frame = wire![
            b"C",            // type
            b"\0\0\0\x0f",   // length
            b"INSERT 0 3\0", // tag
        ];
        let want = BackendMessage::CommandComplete(CommandComplete::new("INSERT 0 3"));
        assert_eq!(decode_frame(&frame), Ok(want.clone()));
        assert_eq!(encode_frame(&want), frame);
    }

    #[test]
    fn rows_parses_the_standard_tags() {
        assert_eq!(rows("INSERT 0 3"), Some(3));
        assert_eq!(rows("SELECT 5"), Some(5));
        assert_eq!(rows("UPDATE 0"), Some(0));
        assert_eq!(rows("DELETE 12"), Some(12));
        assert_eq!(rows("MERGE 2"), Some(2));
        assert_eq!(rows("MOVE 4"), Some(4));
        assert_eq!(rows("FETCH 9"), Some(9));
        assert_eq!(rows("COPY 18446744073709551615"), Some(u64::MAX));
    }

    #[test]
    fn rows_is_none_for_tags_without_a_count() {
        assert_eq!(rows("CREATE TABLE"), None);
        assert_eq!(rows("BEGIN"), None);
        assert_eq!(rows(""), None);
        assert_eq!(rows("SELECT"), None);
        assert_eq!(rows("INSERT 0"), None);
    }

    #[test]
    fn rows_is_none_for_an_unparsable_count() {
        assert_eq!(rows("INSERT 0 x"), None);
        assert_eq!(rows("SELECT +5"), None);
        assert_eq!(rows("SELECT -1"), None);
        assert_eq!(rows("SELECT 5 6"), None);
        assert_eq!(rows("SELECT  5"), None);
    }

    #[test]
    fn rows_is_none_for_a_huge_count_without_panicking() {
        assert_eq!(rows("INSERT 0 99999999999999999999999"), None);
        assert_eq!(rows("COPY 18446744073709551616"), None);
    }

    #[test]
    fn command_complete_without_nul_is_truncated() {
        let body = wire![
            b"SELECT 1", // tag, no terminator
        ];
        assert!(matches!(
            BackendMessage::decode(b'C', Bytes::from(body)),
            Err(DecodeError::Truncated { .. })
        ));
    }

    #[test]
    fn command_complete_rejects_a_trailing_byte() {
        let body = wire![
            b"SELECT 1\0", // tag
            b"x",          // one byte too many
        ];
        assert_eq!(
            BackendMessage::decode(b'C', Bytes::from(body)),
            Err(DecodeError::TrailingBytes {
                what: "CommandComplete"
            })
        );
    }

    #[test]
    fn command_complete_rejects_non_utf8_tag() {
        let body = wire![
            b"SELECT \xff\0", // tag with a stray byte
        ];
        assert_eq!(
            BackendMessage::decode(b'C', Bytes::from(body)),
            Err(DecodeError::InvalidUtf8 {
                what: "command tag"
            })
        );
    }
}
