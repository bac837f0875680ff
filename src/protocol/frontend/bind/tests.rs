use super::*;

/// The bytes of `Bind { portal: "", statement: "s1", .. }` with params `'ab'` and NULL.
fn two_param_bind() -> Vec<u8> {
    [
        b"B" as &[u8],       // tag
        b"\0\0\0\x1c",       // length 28
        b"\0",               // unnamed portal
        b"s1\0",             // statement name
        b"\0\x01",           // 1 parameter format code
        b"\0\0",             //   text
        b"\0\x02",           // 2 parameters
        b"\0\0\0\x02",       //   length 2
        b"ab",               //   value
        b"\xff\xff\xff\xff", //   length -1: NULL
        b"\0\x01",           // 1 result format code
        b"\0\x01",           //   binary
    ]
    .concat()
}

#[test]
fn bind_writer_writes_a_two_parameter_bind_byte_for_byte() {
    let mut buf = BytesMut::new();
    let mut w = BindWriter::begin(&mut buf, "", "s1", &[0]).unwrap();
    w.value(b"ab").unwrap();
    w.null().unwrap();
    w.finish(&[1]).unwrap();
    assert_eq!(&buf[..], &two_param_bind()[..]);
}

#[test]
fn bind_decodes_and_encodes_the_same_bytes() {
    let bytes = two_param_bind();
    let body = Bytes::copy_from_slice(&bytes[5..]);
    let bind = Bind::decode(&body).unwrap();
    assert_eq!(
        bind,
        Bind {
            portal: String::new(),
            statement: "s1".into(),
            param_formats: vec![0],
            params: vec![Some(Bytes::from_static(b"ab")), None],
            result_formats: vec![1],
        }
    );
    let mut buf = BytesMut::new();
    bind.encode(&mut buf).unwrap();
    assert_eq!(&buf[..], &bytes[..]);
}

#[test]
fn value_with_is_null_yes_discards_what_the_closure_wrote() {
    let mut buf = BytesMut::new();
    let mut w = BindWriter::begin(&mut buf, "", "s1", &[0]).unwrap();
    w.value_with(|b| {
        b.put_slice(b"ab");
        Ok::<_, EncodeError>(IsNull::No)
    })
    .unwrap();
    w.value_with(|b| {
        b.put_slice(b"garbage");
        Ok::<_, EncodeError>(IsNull::Yes)
    })
    .unwrap();
    w.finish(&[1]).unwrap();
    assert_eq!(&buf[..], &two_param_bind()[..]);
}

#[test]
fn dropping_a_bind_writer_without_finish_truncates_the_buffer() {
    let mut buf = BytesMut::from(&b"Sync-before"[..]);
    {
        let mut w = BindWriter::begin(&mut buf, "p", "s", &[]).unwrap();
        w.value(b"half").unwrap();
    }
    assert_eq!(&buf[..], b"Sync-before");
}

#[test]
fn an_error_mid_way_leaves_the_buffer_exactly_as_before() {
    #[derive(Debug, PartialEq)]
    enum MyErr {
        Encode(EncodeError),
        Custom,
    }
    impl From<EncodeError> for MyErr {
        fn from(e: EncodeError) -> Self {
            Self::Encode(e)
        }
    }
    let mut buf = BytesMut::from(&b"prev"[..]);
    let mut w = BindWriter::begin(&mut buf, "", "s", &[1]).unwrap();
    w.value(b"ok").unwrap();
    let r = w.value_with(|b| {
        b.put_slice(b"partial");
        Err::<IsNull, _>(MyErr::Custom)
    });
    assert_eq!(r, Err(MyErr::Custom));
    // The writer is poisoned: later calls fail and write nothing.
    assert!(w.null().is_err());
    assert!(w.finish(&[]).is_err());
    assert_eq!(&buf[..], b"prev");
}

#[test]
fn begin_with_interior_nul_writes_nothing() {
    let mut buf = BytesMut::from(&b"prev"[..]);
    assert!(matches!(
        BindWriter::begin(&mut buf, "p\0", "s", &[]),
        Err(EncodeError::InteriorNul { .. })
    ));
    assert_eq!(&buf[..], b"prev");
}

#[test]
fn bind_with_65536_parameters_is_refused_and_buffer_unchanged() {
    let mut buf = BytesMut::from(&b"prev"[..]);
    let bind = Bind {
        portal: String::new(),
        statement: String::new(),
        param_formats: vec![],
        params: vec![None; 65536],
        result_formats: vec![],
    };
    assert_eq!(
        bind.encode(&mut buf),
        Err(EncodeError::TooManyParams(65536))
    );
    assert_eq!(&buf[..], b"prev");
}

#[test]
fn bind_with_65535_parameters_fits_the_unsigned_count() {
    let mut buf = BytesMut::new();
    let mut w = BindWriter::begin(&mut buf, "", "", &[]).unwrap();
    for _ in 0..65535 {
        w.null().unwrap();
    }
    w.finish(&[]).unwrap();
    // tag, length, two empty names, format count 0, then the parameter count.
    assert_eq!(buf.get(9..11), Some(&b"\xff\xff"[..]));
}

#[test]
fn value_length_that_cannot_fit_i32_is_too_long() {
    // The check value_with applies after the closure ran, fed with positions directly
    // (writing 2 GiB in a test is not an option).
    let len_pos = 100;
    let max_end = len_pos + 4 + i32::MAX as usize;
    assert_eq!(value_len(len_pos, max_end), Ok(i32::MAX));
    assert_eq!(
        value_len(len_pos, max_end + 1),
        Err(EncodeError::TooLong(i32::MAX as usize + 1))
    );
}

#[test]
fn value_with_closure_truncating_below_its_placeholder_is_refused() {
    assert!(matches!(
        value_len(100, 103),
        Err(EncodeError::BadValue { .. })
    ));
    let mut buf = BytesMut::from(&b"prev"[..]);
    let mut w = BindWriter::begin(&mut buf, "", "", &[]).unwrap();
    let r = w.value_with(|b| {
        b.clear();
        Ok::<_, EncodeError>(IsNull::No)
    });
    assert!(r.is_err());
    drop(w);
    // The closure itself destroyed "prev"; the writer only guarantees nothing of the Bind
    // survives.
    assert!(buf.is_empty());
}

#[test]
fn bind_with_value_length_minus_two_is_rejected() {
    let body: &[u8] = &[
        b"\0" as &[u8],      // unnamed portal
        b"\0",               // unnamed statement
        b"\0\0",             // no parameter formats
        b"\0\x01",           // 1 parameter
        b"\xff\xff\xff\xfe", //   length -2
        b"\0\0",             // no result formats
    ]
    .concat();
    assert_eq!(
        Bind::decode(&Bytes::copy_from_slice(body)),
        Err(DecodeError::BadValueLength(-2))
    );
}

#[test]
fn bind_parameter_count_larger_than_body_is_rejected() {
    let body: &[u8] = &[
        b"\0" as &[u8], // unnamed portal
        b"\0",          // unnamed statement
        b"\0\0",        // no parameter formats
        b"\x10\0",      // 4096 parameters claimed
        b"\0\0",        // but two bytes left
    ]
    .concat();
    assert_eq!(
        Bind::decode(&Bytes::copy_from_slice(body)),
        Err(DecodeError::BadCount {
            what: "parameter",
            count: 4096
        })
    );
}

#[test]
fn bind_format_code_two_is_a_bad_value() {
    let body: &[u8] = &[
        b"\0" as &[u8], // unnamed portal
        b"\0",          // unnamed statement
        b"\0\x01",      // 1 parameter format
        b"\0\x02",      //   2: neither text nor binary
        b"\0\0",        // no parameters
        b"\0\0",        // no result formats
    ]
    .concat();
    assert_eq!(
        Bind::decode(&Bytes::copy_from_slice(body)),
        Err(DecodeError::BadValue {
            what: "format code"
        })
    );
}

#[test]
fn bind_with_two_formats_for_one_parameter_is_rejected() {
    let body: &[u8] = &[
        b"\0" as &[u8], // unnamed portal
        b"\0",          // unnamed statement
        b"\0\x02",      // 2 parameter formats
        b"\0\0\0\x01",  //   text, binary
        b"\0\x01",      // 1 parameter
        b"\0\0\0\0",    //   empty value
        b"\0\0",        // no result formats
    ]
    .concat();
    assert!(matches!(
        Bind::decode(&Bytes::copy_from_slice(body)),
        Err(DecodeError::BadCount {
            what: "parameter format",
            ..
        })
    ));
}

#[test]
fn bind_with_trailing_bytes_is_rejected() {
    let mut bytes = two_param_bind();
    bytes.push(0);
    assert_eq!(
        Bind::decode(&Bytes::copy_from_slice(&bytes[5..])),
        Err(DecodeError::TrailingBytes { what: "Bind" })
    );
}

#[test]
fn prefix_and_finish_execute_all_write_the_same_bytes_as_begin_finish_and_execute() {
    let mut slow = BytesMut::from(&b"prev"[..]);
    let mut w = BindWriter::begin(&mut slow, "", "stmt_7", &[1, 0]).unwrap();
    w.value(&7i64.to_be_bytes()).unwrap();
    w.null().unwrap();
    w.finish(&[]).unwrap();
    crate::protocol::frontend::write_execute(&mut slow, "", 0).unwrap();

    let prefix = BindPrefix::new("", "stmt_7", &[1, 0]).unwrap();
    let mut fast = BytesMut::from(&b"prev"[..]);
    let mut w = BindWriter::begin_with(&mut fast, &prefix);
    w.value(&7i64.to_be_bytes()).unwrap();
    w.null().unwrap();
    w.finish_execute_all().unwrap();
    assert_eq!(fast, slow);
}

#[test]
fn finish_execute_all_after_a_failed_value_writes_nothing() {
    let prefix = BindPrefix::new("", "s", &[]).unwrap();
    let mut buf = BytesMut::from(&b"prev"[..]);
    let mut w = BindWriter::begin_with(&mut buf, &prefix);
    let r = w.value_with(|b| {
        b.put_slice(b"partial");
        Err::<IsNull, EncodeError>(EncodeError::BadValue { what: "test" })
    });
    assert!(r.is_err());
    assert_eq!(w.finish_execute_all(), Err(POISONED));
    assert_eq!(&buf[..], b"prev");
}
