//! Splitting one line into values as COPY does (`CopyReadAttributesText` and
//! `CopyReadAttributesCSV`): bytes in, bytes out, `None` for NULL. Checking that a value
//! is UTF-8 is the caller's job.

/// Splits a line of PostgreSQL's text format at tabs and decodes each value. From the
/// PostgreSQL docs (COPY, "Text Format"):
///
/// > `\b` backspace, `\f` form feed, `\n` newline, `\r` carriage return, `\t` tab,
/// > `\v` vertical tab, `\digits` backslash followed by one to three octal digits,
/// > `\xdigits` backslash x followed by one or two hex digits. [...] Any other
/// > backslashed character that is not mentioned in the above table will be taken to
/// > represent itself.
///
/// NULL is a value that is `\N` before decoding (so `\\N` is the text `\N`).
pub(super) fn split_text(line: &[u8], out: &mut Vec<Option<Vec<u8>>>) {
    out.clear();
    let mut start = 0;
    let mut i = 0;
    loop {
        match line.get(i) {
            // An escaped tab is data; so is whatever else follows a backslash.
            Some(b'\\') => i += 2,
            Some(b'\t') => {
                out.push(text_value(line.get(start..i).unwrap_or_default()));
                i += 1;
                start = i;
            }
            Some(_) => i += 1,
            None => {
                out.push(text_value(line.get(start..).unwrap_or_default()));
                return;
            }
        }
    }
}

fn text_value(raw: &[u8]) -> Option<Vec<u8>> {
    (raw != b"\\N").then(|| decode_text(raw))
}

/// Decodes the backslash escapes of one text-format value, byte for byte as COPY does:
/// an octal escape keeps the low 8 bits (`\777` is 0xff, `\400` is 0x00), `\x` without a
/// hex digit is `x`, and a backslash at the end of the line is dropped.
pub(super) fn decode_text(raw: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(raw.len());
    let mut i = 0;
    while let Some(&c) = raw.get(i) {
        i += 1;
        if c != b'\\' {
            out.push(c);
            continue;
        }
        let Some(&e) = raw.get(i) else {
            break;
        };
        i += 1;
        let byte = match e {
            b'0'..=b'7' => {
                let mut v = e - b'0';
                for _ in 0..2 {
                    match raw.get(i) {
                        Some(&d @ b'0'..=b'7') => {
                            // Shifting out the high bits is COPY's `val & 0377`.
                            v = (v << 3) | (d - b'0');
                            i += 1;
                        }
                        _ => break,
                    }
                }
                v
            }
            b'x' => match raw.get(i).copied().and_then(hex) {
                Some(h) => {
                    i += 1;
                    match raw.get(i).copied().and_then(hex) {
                        Some(l) => {
                            i += 1;
                            (h << 4) | l
                        }
                        None => h,
                    }
                }
                None => b'x',
            },
            b'b' => 0x08,
            b'f' => 0x0c,
            b'n' => b'\n',
            b'r' => b'\r',
            b't' => b'\t',
            b'v' => 0x0b,
            other => other,
        };
        out.push(byte);
    }
    out
}

fn hex(b: u8) -> Option<u8> {
    match b {
        b'0'..=b'9' => Some(b - b'0'),
        b'a'..=b'f' => Some(b - b'a' + 10),
        b'A'..=b'F' => Some(b - b'A' + 10),
        _ => None,
    }
}

/// Splits a CSV line (which may hold quoted line breaks) into values, as COPY (FORMAT
/// csv) does with its defaults: a `"` anywhere starts a quoted part (so `a"b,c"d` is one
/// value, `ab,cd`), `""` inside quotes is a `"`, and a value with no quote at all that is
/// empty is NULL, while `""` is the empty string.
pub(super) fn split_csv(line: &[u8], out: &mut Vec<Option<Vec<u8>>>) -> Result<(), &'static str> {
    out.clear();
    let mut rest = line;
    loop {
        let mut value = Vec::new();
        let mut saw_quote = false;
        let found_delim = loop {
            // Not in quotes: up to a comma, a quote or the end.
            let stop = rest.iter().position(|&b| b == b',' || b == b'"');
            let n = stop.unwrap_or(rest.len());
            value.extend_from_slice(rest.get(..n).unwrap_or_default());
            let next = stop.and_then(|n| rest.get(n).copied());
            rest = rest.get(n + 1..).unwrap_or_default();
            match next {
                Some(b',') => break true,
                Some(_) => saw_quote = true,
                None => break false,
            }
            // In quotes: up to the closing quote; `""` is a quote.
            loop {
                let Some(q) = rest.iter().position(|&b| b == b'"') else {
                    return Err("unterminated CSV quoted field");
                };
                value.extend_from_slice(rest.get(..q).unwrap_or_default());
                rest = rest.get(q + 1..).unwrap_or_default();
                if rest.first() == Some(&b'"') {
                    value.push(b'"');
                    rest = rest.get(1..).unwrap_or_default();
                } else {
                    break;
                }
            }
        };
        out.push((saw_quote || !value.is_empty()).then_some(value));
        if !found_delim {
            return Ok(());
        }
    }
}
