//! The readers against COPY's behaviour, each case checked against PostgreSQL 15
//! (`COPY t FROM '/file'`, the hex of what it stored, or its error and CONTEXT line).

use super::fields::{decode_text, split_csv, split_text};
use super::{server_major, InputError, Options, Reader, Record};

const PG15: bool = true;
const PG18: bool = false;

fn options(csv: bool, pre_18: bool) -> Options {
    Options {
        csv,
        pre_18_end_marker: pre_18,
    }
}

/// Every row of `input` for `ncols` columns named a, b, c, ..., or the first error.
fn read_all(
    input: &[u8],
    csv: bool,
    pre_18: bool,
    ncols: usize,
) -> Result<Vec<Record>, InputError> {
    let columns: Vec<String> = (0..ncols)
        .map(|i| char::from(b'a' + u8::try_from(i).unwrap()).to_string())
        .collect();
    let mut r = Reader::new(input, options(csv, pre_18), &columns);
    let mut out = Vec::new();
    while let Some(rec) = r.next_record()? {
        out.push(rec);
    }
    Ok(out)
}

/// The values of a one-column input.
fn values(input: &[u8], csv: bool) -> Result<Vec<Option<String>>, InputError> {
    Ok(read_all(input, csv, PG15, 1)?
        .into_iter()
        .map(|mut r| r.fields.remove(0))
        .collect())
}

fn error(input: &[u8], csv: bool, ncols: usize) -> InputError {
    read_all(input, csv, PG15, ncols).expect_err("input COPY refuses")
}

#[test]
fn text_decoder_turns_every_named_escape_into_its_byte() {
    assert_eq!(decode_text(br"\b\f\n\r\t\v\\"), b"\x08\x0c\n\r\t\x0b\\");
}

#[test]
fn text_decoder_reads_one_to_three_octal_digits_and_keeps_the_low_eight_bits() {
    assert_eq!(decode_text(br"\101"), b"A");
    assert_eq!(decode_text(br"\60"), b"0");
    assert_eq!(decode_text(br"\7x"), b"\x07x");
    assert_eq!(decode_text(br"\1011"), b"A1", "a fourth digit is data");
    assert_eq!(decode_text(br"\08"), b"\x008", "8 is not octal");
    assert_eq!(decode_text(br"\0"), b"\0");
    assert_eq!(decode_text(br"\303\251"), "é".as_bytes());
    // COPY computes 0777 = 511 and keeps `val & 0377`.
    assert_eq!(decode_text(br"\777"), b"\xff");
    assert_eq!(decode_text(br"\400"), b"\0");
}

#[test]
fn text_decoder_reads_one_or_two_hex_digits_and_a_bare_x_is_x() {
    assert_eq!(decode_text(br"\x41"), b"A");
    assert_eq!(decode_text(br"\x4a\x4A"), b"JJ");
    assert_eq!(decode_text(br"\x7"), b"\x07");
    assert_eq!(decode_text(br"\x41F"), b"AF", "a third digit is data");
    assert_eq!(decode_text(br"\x"), b"x");
    assert_eq!(decode_text(br"\xG"), b"xG");
    assert_eq!(decode_text(br"\xe2\x82\xac"), "€".as_bytes());
}

#[test]
fn text_decoder_takes_any_other_escaped_byte_as_itself_and_drops_a_final_backslash() {
    assert_eq!(decode_text(br"\q\N\.\a"), b"qN.a");
    assert_eq!(decode_text(b"a\\\nb"), b"a\nb");
    assert_eq!(decode_text(br"ab\"), b"ab");
    assert_eq!(decode_text(b""), b"");
}

#[test]
fn text_split_reads_backslash_n_alone_as_null_and_an_escaped_tab_as_data() {
    let mut out = Vec::new();
    split_text(b"1\t\\N\ta\\\tb\t\t\\\\N\ta\\Nb", &mut out);
    assert_eq!(
        out,
        vec![
            Some(b"1".to_vec()),
            None,
            Some(b"a\tb".to_vec()),
            Some(Vec::new()),
            Some(b"\\N".to_vec()),
            Some(b"aNb".to_vec()),
        ]
    );
    split_text(b"", &mut out);
    assert_eq!(
        out,
        vec![Some(Vec::new())],
        "an empty line is one empty string"
    );
}

#[test]
fn csv_split_tells_null_from_the_empty_string() {
    let mut out = Vec::new();
    split_csv(br#"1,"a,b","say ""hi""",,"",x"#, &mut out).unwrap();
    assert_eq!(
        out,
        vec![
            Some(b"1".to_vec()),
            Some(b"a,b".to_vec()),
            Some(b"say \"hi\"".to_vec()),
            None,
            Some(Vec::new()),
            Some(b"x".to_vec()),
        ]
    );
    split_csv(b"", &mut out).unwrap();
    assert_eq!(out, vec![None], "an empty line is one NULL");
    split_csv(b"a,", &mut out).unwrap();
    assert_eq!(out, vec![Some(b"a".to_vec()), None]);
}

#[test]
fn csv_split_starts_a_quoted_part_at_any_quote_as_copy_does() {
    let mut out = Vec::new();
    split_csv(br##"a"b,c"d,"a"b"c", \N ,"""",""x"##, &mut out).unwrap();
    assert_eq!(
        out,
        vec![
            Some(b"ab,cd".to_vec()),
            Some(b"abc".to_vec()),
            Some(b" \\N ".to_vec()),
            Some(b"\"".to_vec()),
            Some(b"x".to_vec()),
        ]
    );
    assert_eq!(
        split_csv(br#"1,"open"#, &mut out),
        Err("unterminated CSV quoted field")
    );
    assert_eq!(
        split_csv(br#""a"""#, &mut out),
        Err("unterminated CSV quoted field")
    );
}

#[test]
fn csv_keeps_crlf_and_lf_inside_quotes_byte_for_byte() {
    let input = b"\"a\r\nb\",\"c\nd\"\n\"x\ry\",z\n";
    let rows = read_all(input, true, PG15, 2).unwrap();
    assert_eq!(
        rows,
        vec![
            Record {
                line: 1,
                fields: vec![Some("a\r\nb".into()), Some("c\nd".into())],
            },
            Record {
                line: 4,
                fields: vec![Some("x\ry".into()), Some("z".into())],
            },
        ]
    );
    // The same with CRLF line endings.
    let input = b"\"a\r\nb\",\"c\nd\"\r\n\"x\ry\",z\r\n";
    let rows = read_all(input, true, PG15, 2).unwrap();
    assert_eq!(rows.len(), 2);
    assert_eq!(
        rows[0].fields,
        vec![Some("a\r\nb".into()), Some("c\nd".into())]
    );
    assert_eq!(rows[1].line, 4);
}

#[test]
fn lines_may_end_in_lf_crlf_or_cr_but_all_alike() {
    for csv in [false, true] {
        for eol in ["\n", "\r\n", "\r"] {
            let input = format!("a{eol}b{eol}c");
            assert_eq!(
                values(input.as_bytes(), csv).unwrap(),
                vec![Some("a".into()), Some("b".into()), Some("c".into())],
                "{eol:?}"
            );
        }
        let e = error(b"a\nb\r\n", csv, 1);
        assert_eq!(e.line, 2);
        assert!(e.message.contains("carriage return found in data"), "{e}");
        let e = error(b"a\r\nb\nc\r\n", csv, 1);
        assert_eq!(e.line, 2);
        assert!(e.message.contains("newline found in data"), "{e}");
        let e = error(b"a\rb\nc\r", csv, 1);
        assert_eq!(e.line, 2);
        assert!(e.message.contains("newline found in data"), "{e}");
    }
    let e = error(b"a\nb\r\n", false, 1);
    assert!(e.message.starts_with("literal carriage return"), "{e}");
    let e = error(b"a\nb\r\n", true, 1);
    assert!(e.message.starts_with("unquoted carriage return"), "{e}");
}

#[test]
fn text_format_takes_an_escaped_line_break_into_the_value() {
    assert_eq!(
        values(b"a\\\nb\nc\n", false).unwrap(),
        vec![Some("a\nb".into()), Some("c".into())]
    );
    // At the end of the input the backslash escapes the last line break.
    assert_eq!(values(b"ab\\\n", false).unwrap(), vec![Some("ab\n".into())]);
    assert_eq!(values(b"ab\\", false).unwrap(), vec![Some("ab".into())]);
}

#[test]
fn an_empty_line_is_an_empty_string_in_text_and_null_in_csv() {
    assert_eq!(values(b"\n", false).unwrap(), vec![Some(String::new())]);
    assert_eq!(values(b"\n", true).unwrap(), vec![None]);
    assert_eq!(values(b"", true).unwrap(), vec![]);
    assert_eq!(values(b"\"\"\n", true).unwrap(), vec![Some(String::new())]);
}

#[test]
fn the_end_marker_ends_text_data_and_must_be_alone_on_its_line() {
    assert_eq!(
        values(b"a\n\\.\nnot data\n", false).unwrap(),
        vec![Some("a".into())]
    );
    assert_eq!(
        values(b"a\r\n\\.\r\nzz\r\n", false).unwrap(),
        vec![Some("a".into())]
    );
    // At the end of the input without a line ending: PostgreSQL 15 says "end-of-copy
    // marker corrupt", 18 "is not alone on its line".
    let e = error(b"a\n\\.", false, 1);
    assert_eq!(e.line, 2);
    assert!(e.message.contains("end-of-copy marker"), "{e}");
    assert!(error(b"a\n\\.x\n", false, 1).message.contains("not alone"));
    let e = error(b"a\r\n\\.\n", false, 1);
    assert!(e.message.contains("newline style"), "{e}");
    // Data before it: PostgreSQL 17 and older keep it as the last row, 18 refuses.
    let pg15 = read_all(b"a\nx\\.\nb\n", false, PG15, 1).unwrap();
    assert_eq!(pg15.len(), 2);
    assert_eq!(pg15[1].fields, vec![Some("x".into())]);
    let e = read_all(b"a\nx\\.\nb\n", false, PG18, 1).unwrap_err();
    assert_eq!(e.line, 2);
    assert!(e.message.contains("not alone"), "{e}");
    // An escaped backslash before a dot is data.
    assert_eq!(values(b"\\\\.\n", false).unwrap(), vec![Some("\\.".into())]);
}

#[test]
fn the_end_marker_ends_csv_data_only_before_postgresql_18_and_only_alone() {
    let input = b"a\n\\.\nzz\n";
    let pg15 = read_all(input, true, PG15, 1).unwrap();
    assert_eq!(pg15.len(), 1);
    let pg18 = read_all(input, true, PG18, 1).unwrap();
    assert_eq!(pg18.len(), 3);
    assert_eq!(pg18[1].fields, vec![Some("\\.".into())]);
    // Quoted, with more on the line, or without a line ending, it is a value anywhere.
    for input in [&b"\"\\.\"\n"[..], b" \\. \n", b"a\n\\."] {
        let rows = read_all(input, true, PG15, 1).unwrap();
        assert!(rows
            .iter()
            .any(|r| r.fields[0].as_deref().is_some_and(|v| v.contains("\\."))));
    }
}

#[test]
fn bytes_that_are_not_utf8_are_refused_with_the_line_that_holds_them() {
    let e = error(b"q\n\"x\ny\"\n\xff\n", true, 1);
    assert_eq!(e.line, 4);
    assert_eq!(
        e.message,
        "invalid byte sequence for encoding \"UTF8\": 0xff"
    );
    // Inside a multi-line quoted value, the physical line of the byte.
    let e = error(b"ok\n\"a\nb\nc\xc3\x28\"\n", true, 1);
    assert_eq!(e.line, 4);
    assert_eq!(
        e.message,
        "invalid byte sequence for encoding \"UTF8\": 0xc3 0x28"
    );
    // NUL is not allowed either.
    let e = error(b"a\x00b\n", false, 1);
    assert_eq!(
        (e.line, e.message.as_str()),
        (1, "invalid byte sequence for encoding \"UTF8\": 0x00")
    );
}

#[test]
fn escapes_that_decode_to_invalid_utf8_or_nul_are_refused_naming_line_and_column() {
    for (input, byte) in [
        (&b"1\t\\0\n"[..], "0x00"),
        (b"1\t\\777\n", "0xff"),
        (b"1\t\\400\n", "0x00"),
        (b"1\t\\303\n", "0xc3"),
        (b"1\t\\xff\n", "0xff"),
    ] {
        let e = error(&[b"0\tok\n", input].concat(), false, 2);
        assert_eq!(e.line, 2, "{e}");
        assert!(
            e.message.starts_with("column b: invalid byte sequence"),
            "{e}"
        );
        assert!(e.message.contains(byte), "{e}");
    }
    // A NULL marker is never decoded.
    assert_eq!(values(b"\\N\n", false).unwrap(), vec![None]);
}

#[test]
fn a_row_with_too_many_or_too_few_values_names_the_line_as_copy_does() {
    let e = error(b"1,2\n1,2,3\n", true, 2);
    assert_eq!(
        e.to_string(),
        "line 2: extra data after last expected column"
    );
    let e = error(b"1\t2\n\n1\n", false, 2);
    assert_eq!(e.to_string(), "line 2: missing data for column \"b\"");
    let e = error(b"1,\"open\n", true, 2);
    assert_eq!(e.to_string(), "line 1: unterminated CSV quoted field");
}

#[test]
fn the_header_is_skipped_as_a_line_with_its_quoted_line_breaks() {
    let columns = ["a".to_string(), "b".to_string()];
    let input = b"\"x\ny\",b\n1,2\n";
    let mut r = Reader::new(&input[..], options(true, PG15), &columns);
    r.skip_header().unwrap();
    let rec = r.next_record().unwrap().unwrap();
    assert_eq!(rec.line, 3);
    assert_eq!(rec.fields, vec![Some("1".into()), Some("2".into())]);
    assert!(r.next_record().unwrap().is_none());
}

#[test]
fn a_megabyte_field_of_short_lines_is_read_in_linear_time() {
    let mut input = b"1,\"".to_vec();
    for _ in 0..(1 << 20) / 4 {
        input.extend_from_slice(b"ab\r\n");
    }
    input.extend_from_slice(b"\"\n2,x\n");
    let started = std::time::Instant::now();
    let rows = read_all(&input, true, PG15, 2).unwrap();
    assert!(started.elapsed() < std::time::Duration::from_secs(5));
    assert_eq!(rows.len(), 2);
    assert_eq!(rows[0].fields[1].as_ref().map(String::len), Some(1 << 20));
    assert_eq!(rows[1].line, (1 << 18) + 2);
}

#[test]
fn server_major_reads_the_leading_number_of_server_version() {
    assert_eq!(
        server_major(Some("15.4 (Debian 15.4-1.pgdg120+1)")),
        Some(15)
    );
    assert_eq!(server_major(Some("16.0 (InterSystems IRIS)")), Some(16));
    assert_eq!(server_major(Some("18beta1")), Some(18));
    assert_eq!(server_major(Some("x")), None);
    assert_eq!(server_major(None), None);
    assert!(Options::for_server(true, Some("17.2")).pre_18_end_marker);
    assert!(!Options::for_server(true, Some("18.0")).pre_18_end_marker);
    assert!(!Options::for_server(true, None).pre_18_end_marker);
}

/// Garbage of every kind, in every chunking: never a panic, and reading through a
/// one-byte buffer gives what reading it whole gives.
#[test]
fn arbitrary_bytes_never_panic_and_chunking_does_not_matter() {
    let alphabet = b"a,\t\"\\.\r\nN0x7\xff\xc3\xa9";
    let mut seed = 0x2545_f491_4f6c_dd1d_u64;
    for _ in 0..3000 {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        let len = usize::try_from(seed % 24).unwrap();
        let input: Vec<u8> = (0..len)
            .map(|i| {
                let k = (seed >> (i % 50)) as usize % alphabet.len();
                alphabet[k]
            })
            .collect();
        for csv in [false, true] {
            for pre_18 in [PG15, PG18] {
                let whole = read_all(&input, csv, pre_18, 2);
                let columns = ["a".to_string(), "b".to_string()];
                let tiny = std::io::BufReader::with_capacity(1, &input[..]);
                let mut r = Reader::new(tiny, options(csv, pre_18), &columns);
                let mut rows = Vec::new();
                let chunked = loop {
                    match r.next_record() {
                        Ok(Some(rec)) => rows.push(rec),
                        Ok(None) => break Ok(rows),
                        Err(e) => break Err(e),
                    }
                };
                assert_eq!(whole, chunked, "{input:?} csv={csv}");
            }
        }
    }
}
