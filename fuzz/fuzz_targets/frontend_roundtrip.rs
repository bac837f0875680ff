#![no_main]

use arbitrary::Arbitrary;
use bytes::{Bytes, BytesMut};
use pgline::protocol::framing::decode_frontend;
use pgline::protocol::frontend::{
    AuthStage, Bind, Close, Describe, Execute, FrontendMessage, Parse, Query, Target,
};
use pgline::protocol::EncodeError;

#[global_allocator]
static ALLOC: pgline_fuzz::CappedAlloc = pgline_fuzz::CappedAlloc;

#[derive(Arbitrary, Debug)]
enum M {
    Query(String),
    Parse(String, String, Vec<u32>),
    Bind(String, String, u8, bool, Vec<Option<Vec<u8>>>, Vec<bool>),
    Describe(bool, String),
    Execute(String, i32),
    Close(bool, String),
    Sync,
    Flush,
    Raw(Vec<u8>),
}

fn target(s: bool) -> Target {
    if s {
        Target::Statement
    } else {
        Target::Portal
    }
}

libfuzzer_sys::fuzz_target!(|m: M| {
    let msg = match m {
        M::Raw(b) => {
            pgline::__fuzz::frontend_bytes(&b);
            return;
        }
        M::Query(sql) => FrontendMessage::Query(Query { sql }),
        M::Parse(name, query, param_types) => FrontendMessage::Parse(Parse { name, query, param_types }),
        M::Bind(portal, statement, shape, binary, params, result_formats) => {
            // Only valid format lists: the server accepts 0, 1 or one code per parameter,
            // each 0 or 1. (Invalid ones are covered by the unit tests.)
            let code = i16::from(binary);
            let param_formats = match shape % 3 {
                0 => vec![],
                1 => vec![code],
                _ => vec![code; params.len()],
            };
            FrontendMessage::Bind(Bind {
                portal,
                statement,
                param_formats,
                params: params.into_iter().map(|p| p.map(Bytes::from)).collect(),
                result_formats: result_formats.into_iter().map(i16::from).collect(),
            })
        }
        M::Describe(s, name) => FrontendMessage::Describe(Describe { target: target(s), name }),
        M::Execute(portal, max_rows) => FrontendMessage::Execute(Execute { portal, max_rows }),
        M::Close(s, name) => FrontendMessage::Close(Close { target: target(s), name }),
        M::Sync => FrontendMessage::Sync,
        M::Flush => FrontendMessage::Flush,
    };
    let mut buf = BytesMut::new();
    match msg.encode(&mut buf) {
        Ok(()) => {
            let len = buf.len();
            let back = decode_frontend(&mut buf, 1 << 30, AuthStage::Password)
                .expect("what we encode decodes")
                .expect("complete");
            assert_eq!(back, msg);
            assert!(buf.is_empty(), "exactly one frame of {len} bytes");
        }
        // A clean refusal: nothing may have been written.
        Err(EncodeError::InteriorNul { .. } | EncodeError::TooManyParams(_) | EncodeError::TooLong(_)) => {
            assert!(buf.is_empty(), "a refused message writes nothing");
        }
        Err(e) => panic!("unexpected encode error {e}"),
    }
});
