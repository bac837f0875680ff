//! Property tests: every frontend message and startup packet round-trips through the
//! framing layer, length fields are right, a stream decodes the same however it is chunked,
//! and the hot-path writers produce exactly the bytes of the structs' `encode`.

use bytes::{Bytes, BytesMut};
use proptest::prelude::*;

use super::*;
use crate::protocol::framing::{decode_frontend, split_startup_packet};
use crate::protocol::{DEFAULT_MAX_MESSAGE_LEN, PROTOCOL_3_0, PROTOCOL_3_2};

/// A protocol string: no NUL (it is a C string on the wire).
fn cstring() -> impl Strategy<Value = String> {
    "[^\x00]{0,12}"
}

fn bytes(max: usize) -> impl Strategy<Value = Bytes> {
    prop::collection::vec(any::<u8>(), 0..max).prop_map(Bytes::from)
}

fn target() -> impl Strategy<Value = Target> {
    prop_oneof![Just(Target::Statement), Just(Target::Portal)]
}

fn format() -> impl Strategy<Value = i16> {
    0i16..=1
}

fn bind() -> impl Strategy<Value = Bind> {
    (
        cstring(),
        cstring(),
        prop::collection::vec(prop::option::of(bytes(16)), 0..6),
        0usize..3,
        prop::collection::vec(format(), 0..4),
        prop::collection::vec(format(), 0..6),
    )
        .prop_map(|(portal, statement, params, shape, one, many)| {
            // Zero, one, or one format per parameter: the shapes the protocol allows.
            let param_formats = match shape {
                0 => vec![],
                1 => one.into_iter().take(1).collect(),
                _ => (0..params.len())
                    .map(|i| many.get(i).copied().unwrap_or(0))
                    .collect(),
            };
            Bind {
                portal,
                statement,
                param_formats,
                params,
                result_formats: many,
            }
        })
}

fn message() -> impl Strategy<Value = FrontendMessage> {
    use FrontendMessage as M;
    prop_oneof![
        prop::collection::vec(1u8..=255, 0..16).prop_map(|p| M::PasswordMessage(PasswordMessage {
            password: Bytes::from(p)
        })),
        (cstring(), prop::option::of(bytes(24))).prop_map(|(mechanism, data)| {
            M::SaslInitialResponse(SaslInitialResponse { mechanism, data })
        }),
        bytes(24).prop_map(|data| M::SaslResponse(SaslResponse { data })),
        cstring().prop_map(|sql| M::Query(Query { sql })),
        (
            cstring(),
            cstring(),
            prop::collection::vec(any::<u32>(), 0..6)
        )
            .prop_map(|(name, query, param_types)| M::Parse(Parse {
                name,
                query,
                param_types
            })),
        bind().prop_map(M::Bind),
        (target(), cstring()).prop_map(|(target, name)| M::Describe(Describe { target, name })),
        (cstring(), any::<i32>())
            .prop_map(|(portal, max_rows)| M::Execute(Execute { portal, max_rows })),
        (target(), cstring()).prop_map(|(target, name)| M::Close(Close { target, name })),
        Just(M::Sync),
        Just(M::Flush),
        bytes(24).prop_map(|data| M::CopyData(CopyData { data })),
        Just(M::CopyDone),
        cstring().prop_map(|message| M::CopyFail(CopyFail { message })),
        Just(M::Terminate),
    ]
}

fn startup_packet() -> impl Strategy<Value = StartupPacket> {
    let version = prop_oneof![
        Just(PROTOCOL_3_0),
        Just(PROTOCOL_3_2),
        (any::<u16>()).prop_map(|minor| 0x0003_0000 | i32::from(minor)),
    ];
    let param = ("[^\x00]{1,8}", cstring());
    prop_oneof![
        (version, prop::collection::vec(param, 0..5)).prop_map(|(protocol_version, params)| {
            StartupPacket::Startup(StartupMessage {
                protocol_version,
                params,
            })
        }),
        Just(StartupPacket::SslRequest),
        Just(StartupPacket::GssEncRequest),
        (any::<i32>(), prop::collection::vec(any::<u8>(), 4..=256)).prop_map(
            |(process_id, key)| StartupPacket::CancelRequest(CancelRequest {
                process_id,
                secret_key: Bytes::from(key)
            })
        ),
    ]
}

/// The auth stage a server would be in when it receives `m`.
fn stage_of(m: &FrontendMessage) -> AuthStage {
    match m {
        FrontendMessage::SaslInitialResponse(_) => AuthStage::SaslInitial,
        FrontendMessage::SaslResponse(_) => AuthStage::Sasl,
        _ => AuthStage::Password,
    }
}

fn encoded(m: &FrontendMessage) -> BytesMut {
    let mut buf = BytesMut::new();
    m.encode(&mut buf).unwrap();
    buf
}

/// The same bytes through the hot-path writer for `m`.
fn written(m: &FrontendMessage) -> BytesMut {
    use FrontendMessage as M;
    let mut buf = BytesMut::new();
    let b = &mut buf;
    match m {
        M::PasswordMessage(p) => write_password(b, &p.password).unwrap(),
        M::SaslInitialResponse(s) => match &s.data {
            Some(d) => write_sasl_initial_response(b, &s.mechanism, d).unwrap(),
            // The writer always sends a response; the -1 form has no writer.
            None => s.encode(b).unwrap(),
        },
        M::SaslResponse(s) => write_sasl_response(b, &s.data).unwrap(),
        M::Query(q) => write_query(b, &q.sql).unwrap(),
        M::Parse(p) => write_parse(b, &p.name, &p.query, &p.param_types).unwrap(),
        M::Bind(x) => {
            let mut w = BindWriter::begin(b, &x.portal, &x.statement, &x.param_formats).unwrap();
            for (i, p) in x.params.iter().enumerate() {
                // Alternate between the three ways of writing a value.
                match (p, i % 2) {
                    (None, 0) => w.null().unwrap(),
                    (None, _) => w
                        .value_with(|b| {
                            b.extend_from_slice(b"dropped");
                            Ok::<_, EncodeError>(IsNull::Yes)
                        })
                        .unwrap(),
                    (Some(v), 0) => w.value(v).unwrap(),
                    (Some(v), _) => w
                        .value_with(|b| {
                            b.extend_from_slice(v);
                            Ok::<_, EncodeError>(IsNull::No)
                        })
                        .unwrap(),
                }
            }
            w.finish(&x.result_formats).unwrap();
        }
        M::Describe(d) => write_describe(b, d.target, &d.name).unwrap(),
        M::Execute(e) => write_execute(b, &e.portal, e.max_rows).unwrap(),
        M::Close(c) => write_close(b, c.target, &c.name).unwrap(),
        M::Sync => write_sync(b),
        M::Flush => write_flush(b),
        M::CopyData(c) => write_copy_data(b, &c.data).unwrap(),
        M::CopyDone => write_copy_done(b),
        M::CopyFail(c) => write_copy_fail(b, &c.message).unwrap(),
        M::Terminate => write_terminate(b),
    }
    buf
}

fn startup_written(p: &StartupPacket) -> BytesMut {
    let mut buf = BytesMut::new();
    match p {
        StartupPacket::Startup(s) => {
            let params: Vec<(&str, &str)> = s
                .params
                .iter()
                .map(|(n, v)| (n.as_str(), v.as_str()))
                .collect();
            write_startup(&mut buf, s.protocol_version, &params).unwrap();
        }
        StartupPacket::SslRequest => write_ssl_request(&mut buf),
        StartupPacket::GssEncRequest => write_gssenc_request(&mut buf),
        StartupPacket::CancelRequest(c) => {
            write_cancel_request(&mut buf, c.process_id, &c.secret_key).unwrap();
        }
    }
    buf
}

fn declared_len(frame: &[u8], at: usize) -> usize {
    let b: [u8; 4] = frame.get(at..at + 4).unwrap().try_into().unwrap();
    usize::try_from(i32::from_be_bytes(b)).unwrap()
}

proptest! {
    #[test]
    fn every_message_round_trips_through_framing(m in message()) {
        let mut buf = encoded(&m);
        prop_assert_eq!(buf.first().copied(), Some(m.tag()));
        let decoded = decode_frontend(&mut buf, DEFAULT_MAX_MESSAGE_LEN, stage_of(&m));
        prop_assert_eq!(decoded, Ok(Some(m)));
        prop_assert!(buf.is_empty(), "buffer fully consumed");
    }

    #[test]
    fn every_startup_packet_round_trips_through_framing(p in startup_packet()) {
        let mut buf = BytesMut::new();
        p.encode(&mut buf).unwrap();
        prop_assert_eq!(split_startup_packet(&mut buf), Ok(Some(p)));
        prop_assert!(buf.is_empty(), "buffer fully consumed");
    }

    #[test]
    fn length_field_is_frame_size_minus_tag(m in message()) {
        let buf = encoded(&m);
        prop_assert_eq!(declared_len(&buf, 1), buf.len() - 1);
    }

    #[test]
    fn startup_length_field_is_the_whole_packet(p in startup_packet()) {
        let mut buf = BytesMut::new();
        p.encode(&mut buf).unwrap();
        prop_assert_eq!(declared_len(&buf, 0), buf.len());
    }

    #[test]
    fn a_stream_decodes_the_same_in_any_chunking(
        msgs in prop::collection::vec(message(), 0..12),
        chunks in prop::collection::vec(1usize..32, 1..64),
    ) {
        let mut stream = BytesMut::new();
        for m in &msgs {
            m.encode(&mut stream).unwrap();
        }
        let mut input = stream.freeze();
        let mut buf = BytesMut::new();
        let mut out = Vec::new();
        let mut sizes = chunks.iter().cycle();
        loop {
            // The server knows which 'p' it expects; so does the test.
            let stage = msgs.get(out.len()).map_or(AuthStage::Password, stage_of);
            match decode_frontend(&mut buf, DEFAULT_MAX_MESSAGE_LEN, stage) {
                Ok(Some(m)) => out.push(m),
                Ok(None) if input.is_empty() => break,
                Ok(None) => {
                    let n = (*sizes.next().unwrap()).min(input.len());
                    buf.extend_from_slice(&input.split_to(n));
                }
                Err(e) => return Err(TestCaseError::fail(format!("{e}"))),
            }
        }
        prop_assert_eq!(out, msgs);
        prop_assert!(buf.is_empty());
    }

    #[test]
    fn hot_path_writers_match_struct_encode(m in message()) {
        prop_assert_eq!(written(&m), encoded(&m));
    }

    #[test]
    fn startup_writers_match_struct_encode(p in startup_packet()) {
        let mut buf = BytesMut::new();
        p.encode(&mut buf).unwrap();
        prop_assert_eq!(startup_written(&p), buf);
    }

    #[test]
    fn a_failed_encode_leaves_the_buffer_unchanged(
        m in message(),
        prefix in bytes(8),
    ) {
        // Inject a NUL into a C-string field, where the message has one.
        let mut bad = m;
        let poisoned = match &mut bad {
            FrontendMessage::Query(q) => { q.sql.push('\0'); true }
            FrontendMessage::Parse(p) => { p.name.push('\0'); true }
            FrontendMessage::Bind(b) => { b.statement.push('\0'); true }
            FrontendMessage::Describe(d) => { d.name.push('\0'); true }
            FrontendMessage::Execute(e) => { e.portal.push('\0'); true }
            FrontendMessage::Close(c) => { c.name.push('\0'); true }
            FrontendMessage::CopyFail(c) => { c.message.push('\0'); true }
            FrontendMessage::SaslInitialResponse(s) => { s.mechanism.push('\0'); true }
            _ => false,
        };
        let mut buf = BytesMut::from(&prefix[..]);
        let r = bad.encode(&mut buf);
        prop_assert_eq!(r.is_err(), poisoned);
        if poisoned {
            prop_assert_eq!(&buf[..], &prefix[..]);
        }
    }
}

/// Cross-check against an independent encoder (postgres-protocol, a dev-dependency) for
/// the messages it can write.
#[test]
fn writers_match_postgres_protocol_byte_for_byte() {
    use postgres_protocol::message::frontend as pp;
    let mut ours = BytesMut::new();
    let mut theirs = BytesMut::new();

    write_query(&mut ours, "SELECT 1").unwrap();
    pp::query("SELECT 1", &mut theirs).unwrap();
    write_parse(&mut ours, "s", "SELECT $1", &[23, 25]).unwrap();
    pp::parse("s", "SELECT $1", [23, 25], &mut theirs).unwrap();
    write_describe(&mut ours, Target::Statement, "s").unwrap();
    pp::describe(b'S', "s", &mut theirs).unwrap();
    write_execute(&mut ours, "", 0).unwrap();
    pp::execute("", 0, &mut theirs).unwrap();
    write_close(&mut ours, Target::Portal, "p").unwrap();
    pp::close(b'P', "p", &mut theirs).unwrap();
    write_sync(&mut ours);
    pp::sync(&mut theirs);
    write_flush(&mut ours);
    pp::flush(&mut theirs);
    write_terminate(&mut ours);
    pp::terminate(&mut theirs);
    write_copy_done(&mut ours);
    pp::copy_done(&mut theirs);
    write_copy_fail(&mut ours, "no").unwrap();
    pp::copy_fail("no", &mut theirs).unwrap();
    write_password(&mut ours, b"pw").unwrap();
    pp::password_message(b"pw", &mut theirs).unwrap();
    write_sasl_initial_response(&mut ours, "SCRAM-SHA-256", b"n,,").unwrap();
    pp::sasl_initial_response("SCRAM-SHA-256", b"n,,", &mut theirs).unwrap();
    write_sasl_response(&mut ours, b"c=biws").unwrap();
    pp::sasl_response(b"c=biws", &mut theirs).unwrap();
    write_ssl_request(&mut ours);
    pp::ssl_request(&mut theirs);
    write_cancel_request(&mut ours, 7, &9i32.to_be_bytes()).unwrap();
    pp::cancel_request(7, 9, &mut theirs);
    write_startup(&mut ours, PROTOCOL_3_0, &[("user", "u"), ("database", "d")]).unwrap();
    pp::startup_message([("user", "u"), ("database", "d")], &mut theirs).unwrap();

    let mut w = BindWriter::begin(&mut ours, "", "s", &[1]).unwrap();
    w.value(b"\0\0\0\x01").unwrap();
    w.null().unwrap();
    w.finish(&[1]).unwrap();
    pp::bind(
        "",
        "s",
        [1],
        [Some(&b"\0\0\0\x01"[..]), None],
        |v, buf| match v {
            Some(v) => {
                buf.extend_from_slice(v);
                Ok(postgres_protocol::IsNull::No)
            }
            None => Ok(postgres_protocol::IsNull::Yes),
        },
        [1],
        &mut theirs,
    )
    .map_err(|_| "bind")
    .unwrap();

    assert_eq!(ours, theirs);
}
