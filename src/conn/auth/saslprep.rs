//! SASLprep (RFC 4013, a profile of stringprep RFC 3454) with PostgreSQL's fallback rule.
//! Pure functions, no IO.
//!
//! With the `stringprep` feature (on by default) the whole profile is applied by the
//! `stringprep` crate: mapping, NFKC, the prohibited and unassigned tables and the bidi
//! rule, as PostgreSQL's `pg_saslprep` does. Without it, the partial version below runs.
//!
//! The partial version:
//!
//! What is done, in the order of RFC 3454 §2 and of PostgreSQL's `pg_saslprep`
//! (`src/common/saslprep.c`):
//!
//! - pure-ASCII input is returned unchanged (PostgreSQL's fast path: not even ASCII control
//!   characters are rejected);
//! - input that is not UTF-8 is returned unchanged (PostgreSQL: `SASLPREP_INVALID_UTF8`,
//!   libpq and the server then use the raw bytes);
//! - step 1, map: non-ASCII spaces (RFC 3454 C.1.2) become U+0020, then "commonly mapped to
//!   nothing" (B.1) is removed; PostgreSQL checks C.1.2 first, so U+200B, which is in
//!   both, becomes a space;
//! - step 3, prohibit: C.2–C.9 checked by code-point range; an empty result also counts as
//!   prohibited; a prohibited string falls back to the raw input, as in libpq.
//!
//! What is **not** done: step 2 (NFKC normalization), the unassigned-code-point check
//! (A.1) and the bidi rule (step 4, tables D.1/D.2). A password that NFKC would change
//! (e.g. one with a decomposed "a" + U+0308, ligatures, full-width forms) or that
//! PostgreSQL rejects for bidi/unassigned reasons may therefore not match what the server
//! computed. Already precomposed passwords such as "pässwörd" are unaffected by NFKC and
//! work.

use std::borrow::Cow;

/// RFC 3454 C.1.2, non-ASCII space characters: mapped to U+0020 (RFC 4013 §2.1).
const NON_ASCII_SPACE: &[(u32, u32)] = &[
    (0x00A0, 0x00A0),
    (0x1680, 0x1680),
    (0x2000, 0x200B),
    (0x202F, 0x202F),
    (0x205F, 0x205F),
    (0x3000, 0x3000),
];

/// RFC 3454 B.1, "commonly mapped to nothing": removed (RFC 4013 §2.1).
const MAPPED_TO_NOTHING: &[(u32, u32)] = &[
    (0x00AD, 0x00AD),
    (0x034F, 0x034F),
    (0x1806, 0x1806),
    (0x180B, 0x180D),
    (0x200B, 0x200D),
    (0x2060, 0x2060),
    (0xFE00, 0xFE0F),
    (0xFEFF, 0xFEFF),
];

/// RFC 4013 §2.3 prohibited output: RFC 3454 C.1.2 and C.2.1–C.9, by range.
/// (C.5, surrogates, cannot occur in a Rust `str`; listed for completeness.)
const PROHIBITED: &[(u32, u32)] = &[
    // C.2.1 ASCII control characters.
    (0x0000, 0x001F),
    (0x007F, 0x007F),
    // C.1.2 non-ASCII space (already mapped away; kept as in pg's table).
    (0x00A0, 0x00A0),
    (0x1680, 0x1680),
    (0x2000, 0x200B),
    (0x202F, 0x202F),
    (0x205F, 0x205F),
    (0x3000, 0x3000),
    // C.2.2 non-ASCII control characters.
    (0x0080, 0x009F),
    (0x06DD, 0x06DD),
    (0x070F, 0x070F),
    (0x180E, 0x180E),
    (0x200C, 0x200D),
    (0x2028, 0x2029),
    (0x2060, 0x2063),
    (0x206A, 0x206F),
    (0xFEFF, 0xFEFF),
    (0xFFF9, 0xFFFC),
    (0x1D173, 0x1D17A),
    // C.3 private use.
    (0xE000, 0xF8FF),
    (0xF0000, 0xFFFFD),
    (0x100000, 0x10FFFD),
    // C.4 non-character code points (the nFFFE–nFFFF pairs are checked in code).
    (0xFDD0, 0xFDEF),
    // C.5 surrogate codes.
    (0xD800, 0xDFFF),
    // C.6 inappropriate for plain text.
    (0xFFF9, 0xFFFD),
    // C.7 inappropriate for canonical representation.
    (0x2FF0, 0x2FFB),
    // C.8 change display properties or deprecated.
    (0x0340, 0x0341),
    (0x200E, 0x200F),
    (0x202A, 0x202E),
    // C.9 tagging characters.
    (0xE0001, 0xE0001),
    (0xE0020, 0xE007F),
];

fn in_table(c: u32, table: &[(u32, u32)]) -> bool {
    table.iter().any(|&(lo, hi)| lo <= c && c <= hi)
}

fn is_prohibited(c: u32) -> bool {
    // C.4 also holds U+nFFFE and U+nFFFF in every plane.
    in_table(c, PROHIBITED) || (c & 0xFFFE) == 0xFFFE
}

/// SASLprep `input` as PostgreSQL's `pg_saslprep` would (without the `stringprep`
/// feature: minus NFKC, the unassigned check and the bidi rule; see the module docs).
/// Returns the raw input whenever PostgreSQL would fall back to it (not UTF-8, prohibited
/// output, or empty after mapping).
pub(crate) fn saslprep(input: &[u8]) -> Cow<'_, [u8]> {
    // pg_saslprep: "An ASCII string requires no further processing."
    if input.is_ascii() {
        return Cow::Borrowed(input);
    }
    let Ok(text) = std::str::from_utf8(input) else {
        return Cow::Borrowed(input);
    };
    full_or_partial(input, text)
}

/// The whole RFC 4013 profile; prohibited, unassigned, bidi-violating or empty results
/// fall back to the raw input, as libpq does.
#[cfg(feature = "stringprep")]
fn full_or_partial<'a>(input: &'a [u8], text: &str) -> Cow<'a, [u8]> {
    match stringprep::saslprep(text) {
        Ok(prepped) if !prepped.is_empty() => Cow::Owned(prepped.into_owned().into_bytes()),
        _ => Cow::Borrowed(input),
    }
}

#[cfg(not(feature = "stringprep"))]
fn full_or_partial<'a>(input: &'a [u8], text: &str) -> Cow<'a, [u8]> {
    partial(input, text)
}

/// Steps 1 and 3 only (see the module docs).
#[cfg_attr(feature = "stringprep", allow(dead_code))]
fn partial<'a>(input: &'a [u8], text: &str) -> Cow<'a, [u8]> {
    // Step 1, map (RFC 3454 §3, RFC 4013 §2.1).
    let mapped: String = text
        .chars()
        .filter_map(|ch| {
            let c = u32::from(ch);
            if in_table(c, NON_ASCII_SPACE) {
                Some(' ')
            } else if in_table(c, MAPPED_TO_NOTHING) {
                None
            } else {
                Some(ch)
            }
        })
        .collect();
    // pg: "don't allow empty password" -> SASLPREP_PROHIBITED -> raw bytes.
    if mapped.is_empty() {
        return Cow::Borrowed(input);
    }
    // Step 3, prohibit (RFC 4013 §2.3). Step 2 (NFKC) is skipped, see the module docs.
    if mapped.chars().any(|ch| is_prohibited(u32::from(ch))) {
        return Cow::Borrowed(input);
    }
    Cow::Owned(mapped.into_bytes())
}

#[cfg(all(test, feature = "stringprep"))]
mod tests {
    use super::*;

    #[test]
    fn nfkc_composes_decomposed_letters_and_ligatures_as_postgresql_does() {
        assert_eq!(&*saslprep("pa\u{308}ss".as_bytes()), "p\u{e4}ss".as_bytes());
        assert_eq!(&*saslprep("\u{fb01}x".as_bytes()), b"fix");
        assert_eq!(&*saslprep("\u{ff21}\u{ff22}".as_bytes()), b"AB");
    }

    #[test]
    fn the_partial_version_agrees_where_nfkc_changes_nothing() {
        for s in [
            "p\u{e4}ssw\u{f6}rd",
            "a\u{a0}b",
            "x\u{ad}y",
            "\u{3a9}\u{3bc}",
        ] {
            assert_eq!(saslprep(s.as_bytes()), partial(s.as_bytes(), s), "{s:?}");
        }
    }

    #[test]
    fn prohibited_and_bidi_violating_input_falls_back_to_the_raw_bytes() {
        let control = "a\u{80}b";
        assert_eq!(&*saslprep(control.as_bytes()), control.as_bytes());
        let bidi = "\u{5d0}a\u{5d1}";
        assert_eq!(&*saslprep(bidi.as_bytes()), bidi.as_bytes());
    }
}
