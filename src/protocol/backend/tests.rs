//! Property tests over every backend message: round trips, length fields, chunking
//! invariance, and re-encoding of decoded bytes. The byte-level tests sit beside each
//! message.

use bytes::{Bytes, BytesMut};
use proptest::collection::vec;
use proptest::prelude::*;

use super::super::framing::{decode_backend, split_frame, Limits};
use super::super::Format;
use super::*;

/// Strings the protocol can carry in a C string: anything without NUL.
fn cstring() -> impl Strategy<Value = String> {
    "[^\u{0}]{0,12}"
}

fn bytes(max: usize) -> impl Strategy<Value = Bytes> {
    vec(any::<u8>(), 0..max).prop_map(Bytes::from)
}

fn format() -> impl Strategy<Value = Format> {
    prop_oneof![Just(Format::Text), Just(Format::Binary)]
}

fn authentication() -> impl Strategy<Value = Authentication> {
    prop_oneof![
        Just(Authentication::Ok),
        Just(Authentication::KerberosV5),
        Just(Authentication::CleartextPassword),
        any::<[u8; 4]>().prop_map(|salt| Authentication::Md5Password { salt }),
        Just(Authentication::ScmCredential),
        Just(Authentication::Gss),
        bytes(32).prop_map(Authentication::GssContinue),
        Just(Authentication::Sspi),
        // A mechanism name is never empty: the empty name ends the list.
        vec("[^\u{0}]{1,12}", 1..4).prop_map(Authentication::Sasl),
        bytes(32).prop_map(Authentication::SaslContinue),
        bytes(32).prop_map(Authentication::SaslFinal),
    ]
}

fn error_fields() -> impl Strategy<Value = ErrorFields> {
    (
        cstring(),
        cstring(),
        cstring(),
        vec((1u8..=255, cstring()), 0..4),
    )
        .prop_map(|(s, c, m, extra)| {
            extra
                .into_iter()
                .try_fold(ErrorFields::new(&s, &c, &m), |e, (code, v)| {
                    e.with(code, &v)
                })
                .unwrap()
        })
}

fn row_description() -> impl Strategy<Value = RowDescription> {
    vec(
        (
            cstring(),
            any::<u32>(),
            any::<i16>(),
            any::<u32>(),
            any::<i16>(),
            any::<i32>(),
            format(),
        ),
        0..5,
    )
    .prop_map(|cols| {
        let fields: Vec<_> = cols
            .iter()
            .map(
                |(name, table_oid, column_id, type_oid, type_size, type_modifier, format)| {
                    FieldDescription {
                        name,
                        table_oid: *table_oid,
                        column_id: *column_id,
                        type_oid: *type_oid,
                        type_size: *type_size,
                        type_modifier: *type_modifier,
                        format: *format,
                    }
                },
            )
            .collect();
        RowDescription::new(&fields).unwrap()
    })
}

fn data_row() -> impl Strategy<Value = DataRow> {
    vec(proptest::option::of(vec(any::<u8>(), 0..16)), 0..8).prop_map(|values| {
        let refs: Vec<Option<&[u8]>> = values.iter().map(|v| v.as_deref()).collect();
        DataRow::new(&refs).unwrap()
    })
}

fn transaction_status() -> impl Strategy<Value = TransactionStatus> {
    prop_oneof![
        Just(TransactionStatus::Idle),
        Just(TransactionStatus::InTransaction),
        Just(TransactionStatus::Failed),
    ]
}

/// Every variant of [`BackendMessage`], with random contents.
fn backend_message() -> impl Strategy<Value = BackendMessage> {
    let copy = || (format(), vec(format(), 0..6)).prop_map(|(f, cols)| CopyResponse::new(f, cols));
    prop_oneof![
        authentication().prop_map(BackendMessage::Authentication),
        (any::<i32>(), vec(any::<u8>(), 4..=256)).prop_map(|(pid, key)| {
            BackendMessage::BackendKeyData(BackendKeyData::new(pid, Bytes::from(key)))
        }),
        Just(BackendMessage::BindComplete),
        Just(BackendMessage::CloseComplete),
        cstring().prop_map(|t| BackendMessage::CommandComplete(CommandComplete::new(t))),
        copy().prop_map(BackendMessage::CopyInResponse),
        copy().prop_map(BackendMessage::CopyOutResponse),
        copy().prop_map(BackendMessage::CopyBothResponse),
        bytes(64).prop_map(|d| BackendMessage::CopyData(CopyData::new(d))),
        Just(BackendMessage::CopyDone),
        data_row().prop_map(BackendMessage::DataRow),
        Just(BackendMessage::EmptyQueryResponse),
        error_fields().prop_map(BackendMessage::ErrorResponse),
        error_fields().prop_map(BackendMessage::NoticeResponse),
        (any::<i32>(), cstring(), cstring()).prop_map(|(pid, c, p)| {
            BackendMessage::NotificationResponse(NotificationResponse::new(pid, c, p))
        }),
        (any::<i32>(), vec(cstring(), 0..4)).prop_map(|(minor, opts)| {
            BackendMessage::NegotiateProtocolVersion(NegotiateProtocolVersion::new(minor, opts))
        }),
        Just(BackendMessage::NoData),
        vec(any::<u32>(), 0..8)
            .prop_map(|t| BackendMessage::ParameterDescription(ParameterDescription::new(t))),
        (cstring(), cstring())
            .prop_map(|(n, v)| BackendMessage::ParameterStatus(ParameterStatus::new(n, v))),
        Just(BackendMessage::ParseComplete),
        Just(BackendMessage::PortalSuspended),
        transaction_status().prop_map(|s| BackendMessage::ReadyForQuery(ReadyForQuery::new(s))),
        row_description().prop_map(BackendMessage::RowDescription),
    ]
}

fn encode(msg: &BackendMessage) -> BytesMut {
    let mut buf = BytesMut::new();
    msg.encode(&mut buf).unwrap();
    buf
}

/// Decodes every complete message in `buf`, leaving any incomplete tail.
fn drain(buf: &mut BytesMut, out: &mut Vec<BackendMessage>) {
    while let Some(msg) = decode_backend(buf, &Limits::default()).unwrap() {
        out.push(msg);
    }
}

proptest! {
    #[test]
    fn every_message_round_trips_through_framing(msg in backend_message()) {
        let mut buf = encode(&msg);
        let decoded = decode_backend(&mut buf, &Limits::default());
        prop_assert_eq!(decoded, Ok(Some(msg)));
        prop_assert!(buf.is_empty(), "framing left {} bytes", buf.len());
    }

    #[test]
    fn length_field_of_every_frame_is_its_size_minus_one(msg in backend_message()) {
        let buf = encode(&msg);
        prop_assert_eq!(buf.first().copied(), Some(msg.tag()));
        let len = i32::from_be_bytes([buf[1], buf[2], buf[3], buf[4]]);
        prop_assert_eq!(len as usize, buf.len() - 1);
    }

    #[test]
    fn a_stream_decodes_the_same_in_any_chunking(
        msgs in vec(backend_message(), 0..12),
        cuts in vec(1usize..40, 0..64),
    ) {
        let mut stream = BytesMut::new();
        for m in &msgs {
            m.encode(&mut stream).unwrap();
        }
        let stream = stream.freeze();

        let mut whole = Vec::new();
        let mut buf = BytesMut::from(&stream[..]);
        drain(&mut buf, &mut whole);
        prop_assert!(buf.is_empty());
        prop_assert_eq!(&whole, &msgs);

        let mut chunked = Vec::new();
        let mut buf = BytesMut::new();
        let mut rest = &stream[..];
        let mut sizes = cuts.iter().copied().cycle();
        while !rest.is_empty() {
            let n = sizes.next().unwrap_or(rest.len()).min(rest.len());
            let (chunk, tail) = rest.split_at(n);
            buf.extend_from_slice(chunk);
            rest = tail;
            drain(&mut buf, &mut chunked);
        }
        prop_assert!(buf.is_empty());
        prop_assert_eq!(chunked, whole);
    }

    #[test]
    fn re_encoding_decoded_bytes_gives_the_same_bytes(msg in backend_message()) {
        let wire = encode(&msg).freeze();
        let mut buf = BytesMut::from(&wire[..]);
        let (tag, body) = split_frame(&mut buf, |t| Limits::default().backend_cap(t))
            .unwrap()
            .unwrap();
        let decoded = BackendMessage::decode(tag, body).unwrap();
        prop_assert_eq!(&encode(&decoded)[..], &wire[..]);
    }

    /// The fuzz oracle in small: arbitrary bodies never panic a decoder, every accessor
    /// and iterator of what decodes runs to the end, and what decodes re-encodes to the
    /// very bytes it came from (every encoding is canonical).
    #[test]
    fn arbitrary_bodies_never_panic_and_decoded_ones_re_encode_exactly(
        tag in prop::sample::select(b"RK23CGHWdcDIENAvntS1sZTxX".to_vec()),
        body in vec(any::<u8>(), 0..48),
    ) {
        let mut frame = BytesMut::new();
        frame.extend_from_slice(&[tag]);
        frame.extend_from_slice(&(body.len() as i32 + 4).to_be_bytes());
        frame.extend_from_slice(&body);
        if let Ok(msg) = BackendMessage::decode(tag, Bytes::from(body)) {
            touch_everything(&msg);
            prop_assert_eq!(&encode(&msg)[..], &frame[..]);
        }
    }

    /// DataRows in particular: random column lengths (most of them bogus) over random
    /// bytes.
    #[test]
    fn arbitrary_data_rows_never_panic(
        count in any::<u16>(),
        lens in vec(prop_oneof![Just(-1i32), Just(-2), Just(i32::MIN), 0i32..8, any::<i32>()], 0..6),
        tail in vec(any::<u8>(), 0..8),
    ) {
        let mut body = count.to_be_bytes().to_vec();
        for l in lens {
            body.extend_from_slice(&l.to_be_bytes());
            body.extend_from_slice(&tail);
        }
        if let Ok(msg) = BackendMessage::decode(b'D', Bytes::from(body)) {
            touch_everything(&msg);
        }
    }
}

/// Calls every accessor and drains every iterator of `msg`.
fn touch_everything(msg: &BackendMessage) {
    let _ = (msg.name(), msg.tag());
    match msg {
        BackendMessage::DataRow(row) => {
            assert_eq!(row.iter().count(), row.len());
            for (v, r) in row.iter().zip(row.ranges()) {
                assert_eq!(v.map(<[u8]>::len), r.map(|r| r.len()));
            }
        }
        BackendMessage::RowDescription(rd) => assert_eq!(rd.fields().count(), rd.len()),
        BackendMessage::ErrorResponse(e) | BackendMessage::NoticeResponse(e) => {
            let _ = e.fields().count();
            let _ = (
                e.severity(),
                e.severity_nonlocalized(),
                e.code(),
                e.message(),
            );
            let _ = (e.detail(), e.hint(), e.position(), e.internal_position());
            let _ = (
                e.internal_query(),
                e.where_(),
                e.schema(),
                e.table(),
                e.column(),
            );
            let _ = (
                e.datatype(),
                e.constraint(),
                e.file(),
                e.line(),
                e.routine(),
            );
            let _ = format!("{e:?}");
        }
        BackendMessage::CommandComplete(c) => {
            let _ = (c.tag(), c.rows());
        }
        _ => {}
    }
}
