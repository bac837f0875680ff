//! Fuzz oracles, shared by the cargo-fuzz targets in `fuzz/` and by the corpus-replay test
//! that runs under a normal `cargo test`. Not public API.
//!
//! Each oracle panics when an invariant breaks; that is the point (the fuzzer reports
//! it). Nothing here may panic for any other reason.
#![allow(clippy::panic, missing_docs)]

use bytes::{Bytes, BytesMut};

use crate::conn::event::{Event, Item};
use crate::conn::session::Session;
use crate::iris::Quirks;
use crate::protocol::backend::{BackendMessage, CommandComplete, ReadyForQuery, TransactionStatus};
use crate::protocol::framing::{decode_backend, decode_frontend, split_startup_packet};
use crate::protocol::frontend::AuthStage;
use crate::protocol::Limits;

/// Caps small enough that the fuzzer explores them, large enough for real messages.
pub fn fuzz_limits() -> Limits {
    Limits {
        max_message_len: 1 << 20,
        max_small_message_len: 30_000,
    }
}

/// Touches every accessor and drains every iterator of a decoded message.
pub fn drain(msg: &BackendMessage) -> usize {
    let mut n = 0usize;
    match msg {
        BackendMessage::DataRow(r) => {
            assert_eq!(r.iter().len(), r.len());
            for v in r.iter() {
                n += v.map_or(1, <[u8]>::len);
            }
            for rg in r.ranges().flatten() {
                n += r.body().get(rg).map_or(0, <[u8]>::len);
            }
        }
        BackendMessage::RowDescription(d) => {
            assert_eq!(d.fields().len(), d.len());
            for f in d.fields() {
                n += f.name.len() + f.type_oid as usize;
            }
        }
        BackendMessage::ErrorResponse(f) | BackendMessage::NoticeResponse(f) => {
            for (code, v) in f.fields() {
                n += usize::from(code) + v.len();
            }
            let db = crate::error::DbError::from_fields(f);
            n += db.message().len() + db.code().len() + db.severity().len();
            n += db.position().unwrap_or(0) as usize + db.line().unwrap_or(0) as usize;
        }
        BackendMessage::CommandComplete(c) => {
            n += c.tag().len() + c.rows().unwrap_or(0) as usize % 7;
        }
        BackendMessage::ParameterDescription(p) => n += p.types().len(),
        BackendMessage::ParameterStatus(p) => n += p.name().len() + p.value().len(),
        BackendMessage::NotificationResponse(a) => n += a.channel().len() + a.payload().len(),
        BackendMessage::BackendKeyData(k) => n += k.secret_key().len(),
        BackendMessage::CopyData(d) => n += d.data().len(),
        BackendMessage::CopyInResponse(c)
        | BackendMessage::CopyOutResponse(c)
        | BackendMessage::CopyBothResponse(c) => n += c.column_formats().len(),
        BackendMessage::NegotiateProtocolVersion(v) => n += v.unrecognized().len(),
        _ => {}
    }
    n
}

/// Arbitrary bytes through framing + decode, as a client reads them. Invariants: no
/// panic; every frame consumes at least 5 bytes; every decoded message re-encodes to
/// exactly the bytes it was decoded from; every iterator drains.
pub fn backend_stream(data: &[u8]) {
    let limits = fuzz_limits();
    let mut buf = BytesMut::from(data);
    let mut offset = 0usize;
    loop {
        let before = buf.len();
        match decode_backend(&mut buf, &limits) {
            Ok(Some(msg)) => {
                let consumed = before - buf.len();
                assert!(consumed >= 5, "a frame is at least 5 bytes");
                drain(&msg);
                let mut re = BytesMut::new();
                msg.encode(&mut re).expect("a decoded message re-encodes");
                let original = data.get(offset..offset + consumed).expect("in range");
                assert_eq!(&re[..], original, "re-encoding differs for {}", msg.name());
                offset += consumed;
            }
            Ok(None) => {
                assert_eq!(buf.len(), before, "nothing consumed when more is needed");
                return;
            }
            Err(_) => return,
        }
    }
}

/// One tag byte, then a body, straight into the decoder.
pub fn backend_body(data: &[u8]) {
    let Some((&tag, body)) = data.split_first() else {
        return;
    };
    if let Ok(msg) = BackendMessage::decode(tag, Bytes::copy_from_slice(body)) {
        drain(&msg);
        let mut re = BytesMut::new();
        msg.encode(&mut re).expect("re-encodes");
        assert_eq!(re.get(5..), Some(body), "body differs for {}", msg.name());
        assert_eq!(re.first(), Some(&tag));
    }
}

/// Arbitrary bytes as frontend messages (all three readings of 'p') and as startup
/// packets: whatever decodes re-encodes to the same bytes.
pub fn frontend_bytes(data: &[u8]) {
    for stage in [AuthStage::Password, AuthStage::SaslInitial, AuthStage::Sasl] {
        let mut buf = BytesMut::from(data);
        let mut offset = 0;
        loop {
            let before = buf.len();
            match decode_frontend(&mut buf, 1 << 20, stage) {
                Ok(Some(m)) => {
                    let consumed = before - buf.len();
                    let mut re = BytesMut::new();
                    m.encode(&mut re).expect("re-encodes");
                    assert_eq!(Some(&re[..]), data.get(offset..offset + consumed));
                    offset += consumed;
                }
                _ => break,
            }
        }
    }
    let mut buf = BytesMut::from(data);
    let before = buf.len();
    if let Ok(Some(p)) = split_startup_packet(&mut buf) {
        let consumed = before - buf.len();
        let mut re = BytesMut::new();
        p.encode(&mut re).expect("re-encodes");
        assert_eq!(Some(&re[..]), data.get(..consumed));
    }
}

/// SCRAM with arbitrary server messages: no panic, and never a verified server-final.
pub fn scram(server_first: &[u8], server_final: &[u8]) {
    use crate::conn::auth::ScramClient;
    let client =
        ScramClient::new("user", b"pencil", "rOprNGfwEbeRWgbNEkqO").with_max_iterations(64);
    let _ = client.client_first_message();
    if let Ok(pending) = client.handle_server_first(server_first) {
        let proof = pending.compute();
        let _ = proof.client_final_message();
        assert!(
            proof.verify_server_final(server_final).is_err(),
            "an arbitrary server-final must never verify"
        );
    }
}

/// One step of a session script.
#[derive(Debug, Clone)]
pub enum Op {
    /// Start a simple query.
    Simple,
    /// Queue `rows` Bind/Execute pairs with a Sync every `every` rows.
    Rows { rows: u8, every: u8 },
    /// Queue a Parse + Describe + Sync.
    Prepare,
    /// Feed one server message from a small realistic alphabet.
    Feed(u8),
    /// Feed raw bytes.
    Raw(Vec<u8>),
    /// Abandon the operation and prepare to drain (what the driver does before the next
    /// operation).
    Drain,
}

fn alphabet(k: u8) -> BackendMessage {
    use crate::protocol::backend::{DataRow, ErrorFields, FieldDescription, RowDescription};
    use crate::protocol::Format;
    match k % 16 {
        0 => BackendMessage::ParseComplete,
        1 => BackendMessage::BindComplete,
        2 => BackendMessage::NoData,
        3 => BackendMessage::CommandComplete(CommandComplete::new("INSERT 0 1")),
        4 => BackendMessage::CommandComplete(CommandComplete::new("CREATE 0")),
        5 => BackendMessage::ReadyForQuery(ReadyForQuery::new(TransactionStatus::Idle)),
        6 => BackendMessage::ErrorResponse(ErrorFields::new("ERROR", "23505", "dup")),
        7 => BackendMessage::ErrorResponse(ErrorFields::new("FATAL", "57P01", "bye")),
        8 => BackendMessage::NoticeResponse(ErrorFields::new("NOTICE", "00000", "hi")),
        9 => BackendMessage::DataRow(
            DataRow::new(&[Some(b"1")]).unwrap_or_else(|_| unreachable_row()),
        ),
        10 => BackendMessage::RowDescription(
            RowDescription::new(&[FieldDescription {
                name: "a",
                table_oid: 0,
                column_id: 0,
                type_oid: 23,
                type_size: 4,
                type_modifier: -1,
                format: Format::Text,
            }])
            .unwrap_or_else(|_| unreachable_desc()),
        ),
        11 => BackendMessage::EmptyQueryResponse,
        12 => BackendMessage::PortalSuspended,
        13 => BackendMessage::CloseComplete,
        14 => BackendMessage::ParameterDescription(
            crate::protocol::backend::ParameterDescription::new(vec![23]),
        ),
        _ => BackendMessage::ReadyForQuery(ReadyForQuery::new(TransactionStatus::InTransaction)),
    }
}

fn unreachable_row() -> crate::protocol::backend::DataRow {
    panic!("a one-value DataRow always encodes")
}

fn unreachable_desc() -> crate::protocol::backend::RowDescription {
    panic!("a one-field RowDescription always encodes")
}

/// Drives a session with arbitrary operations and server messages. Invariants: no panic;
/// `pending_syncs` equals the sync points in the queue; every sync point gets exactly one
/// `Ready` or (when the connection breaks) one `Failed`; nothing is delivered after the
/// connection broke; when the session reports ready its queue is empty.
pub fn session_script(iris: bool, ops: &[Op]) {
    use std::collections::{HashMap, HashSet};
    let mut s = Session::new_ready(if iris {
        Quirks::iris()
    } else {
        Quirks::postgres()
    });
    let mut next: Item = 1;
    let mut sync_items: Vec<Item> = Vec::new();
    let mut ready: HashMap<Item, u32> = HashMap::new();
    let mut failed: HashSet<Item> = HashSet::new();
    let mut broken_seen = false;
    for op in ops {
        match op {
            Op::Simple => {
                if s.start_simple_query(next, "select 1", false).is_ok() {
                    sync_items.push(next);
                }
                next += 1;
            }
            Op::Rows { rows, every } => {
                let every = u64::from((*every).max(1));
                // The bits above the count choose runs (the bulk path) or single
                // expectations.
                let as_run = (*rows / 32) % 2 == 1;
                let rows = u64::from(*rows % 32);
                let prefix = crate::protocol::frontend::BindPrefix::new("", "s", &[]);
                for r in 0..rows {
                    let i = next;
                    next += 1;
                    match &prefix {
                        Ok(p) if as_run => {
                            let _ = s.push_bind_execute_run::<crate::Error, _>(i, p, |_| Ok(()));
                        }
                        _ => {
                            let _ =
                                s.push_bind::<crate::Error, _>(i, "", "s", &[], &[], |_| Ok(()));
                            let _ = s.push_execute(i, "", 0, None);
                        }
                    }
                    if (r + 1) % every == 0 || r + 1 == rows {
                        if s.push_sync(next).is_ok() {
                            sync_items.push(next);
                        }
                        next += 1;
                    }
                }
            }
            Op::Prepare => {
                let i = next;
                next += 2;
                let _ = s.push_parse(i, "s", "select 1", &[]);
                let _ = s.push_describe_statement(i, "s");
                if s.push_sync(i + 1).is_ok() {
                    sync_items.push(i + 1);
                }
            }
            Op::Feed(k) => s.handle_message(alphabet(*k)),
            Op::Raw(b) => {
                let mut buf = BytesMut::from(&b[..]);
                s.handle_bytes(&mut buf);
            }
            Op::Drain => {
                let _ = s.prepare_drain(next);
                if s.expectations().any(|e| e.item() == next) {
                    sync_items.push(next);
                }
                next += 1;
            }
        }
        let was_broken = broken_seen;
        let mut got_any = false;
        while let Some(ev) = s.poll_event() {
            got_any = true;
            match ev {
                Event::Ready(i, _) => *ready.entry(i).or_default() += 1,
                Event::Failed(i, _) => {
                    failed.insert(i);
                }
                _ => {}
            }
        }
        assert!(
            !(was_broken && got_any),
            "an event was delivered after the connection broke"
        );
        broken_seen = s.is_broken();
        let queued = s.expectations().filter(|e| e.is_sync_point()).count();
        assert_eq!(
            s.pending_syncs(),
            queued,
            "pending_syncs disagrees with the queue"
        );
        if s.is_ready() {
            assert_eq!(s.pending(), 0);
        }
    }
    let still: HashSet<Item> = s.expectations().map(|e| e.item()).collect();
    for i in &sync_items {
        let n = ready.get(i).copied().unwrap_or(0);
        assert!(n <= 1, "sync point {i} completed {n} times");
        if !still.contains(i) {
            assert!(
                n == 1 || (s.is_broken() && failed.contains(i)),
                "sync point {i} left the queue without completing"
            );
        }
    }
}

/// Decodes a byte string into a session script (first byte: dialect; then one op per
/// byte, with operands from the following bytes) and runs it. The fuzz target and the
/// corpus replay test share this mapping, so replay is exact.
pub fn session_script_bytes(data: &[u8]) {
    let Some((&flags, mut rest)) = data.split_first() else {
        return;
    };
    let take = |rest: &mut &[u8]| -> u8 {
        match rest.split_first() {
            Some((&b, r)) => {
                *rest = r;
                b
            }
            None => 0,
        }
    };
    let mut ops = Vec::new();
    while !rest.is_empty() && ops.len() < 512 {
        let op = take(&mut rest);
        ops.push(match op % 6 {
            0 => Op::Simple,
            1 => Op::Rows {
                rows: take(&mut rest),
                every: take(&mut rest),
            },
            2 => Op::Prepare,
            3 => Op::Feed(take(&mut rest)),
            4 => {
                let n = usize::from(take(&mut rest) % 32).min(rest.len());
                let (raw, r) = rest.split_at(n);
                rest = r;
                Op::Raw(raw.to_vec())
            }
            _ => Op::Drain,
        });
    }
    session_script(flags & 1 == 1, &ops);
}

/// One byte of settings (format, strict or lenient, which type OID), then a value body:
/// every value decoder reads it, strictly under its own OID and leniently under any. A
/// decoder may refuse; it must not panic or allocate beyond the cap, and what it accepts
/// must print.
pub fn values(data: &[u8]) {
    use std::collections::HashMap;
    use std::time::SystemTime;

    use crate::types::oid::*;
    use crate::types::{
        decode_value, Array, BitVec, Cidr, Composite, Date, Format, FromSql, Inet, Interval,
        MacAddr, MacAddr8, Money, MultiRange, Numeric, Oid, Range, Time, TimeTz, Timestamp,
        TimestampTz, ValueType,
    };

    let Some((&settings, raw)) = data.split_first() else {
        return;
    };
    let format = if settings & 1 == 0 {
        Format::Binary
    } else {
        Format::Text
    };
    let lenient = settings & 2 != 0;
    // Lenient decoding ignores the OID; strict decoding is tried under the type's own.
    let any = Oid::from(settings >> 2) * 97;

    fn one<'a, T: FromSql<'a> + std::fmt::Debug>(
        oid: Oid,
        any: Oid,
        format: Format,
        lenient: bool,
        raw: &'a [u8],
    ) {
        let ty = ValueType {
            oid: if lenient { any } else { oid },
            format,
            lenient,
        };
        if let Ok(v) = decode_value::<T>(ty, Some(raw)) {
            let _ = format!("{v:?}");
        }
    }
    macro_rules! all {
        ($($t:ty => $oid:expr),* $(,)?) => {
            $( one::<$t>($oid, any, format, lenient, raw); )*
        };
    }
    all!(
        bool => BOOL, i8 => CHAR, i16 => INT2, i32 => INT4, i64 => INT8, u32 => OID,
        f32 => FLOAT4, f64 => FLOAT8, String => TEXT, Vec<u8> => BYTEA,
        SystemTime => TIMESTAMPTZ, Numeric => NUMERIC, Date => DATE, Time => TIME,
        TimeTz => TIMETZ, Timestamp => TIMESTAMP, TimestampTz => TIMESTAMPTZ,
        Interval => INTERVAL, Inet => INET, Cidr => CIDR, std::net::IpAddr => INET,
        MacAddr => MACADDR, MacAddr8 => MACADDR8, BitVec => VARBIT, Money => MONEY,
        Vec<i32> => INT4_ARRAY, Vec<Option<String>> => TEXT_ARRAY, Array<i64> => INT8_ARRAY,
        Array<Numeric> => NUMERIC_ARRAY, Array<Option<Date>> => DATE_ARRAY,
        Range<i32> => INT4RANGE, Range<SystemTime> => TSTZRANGE, MultiRange<i64> => INT8MULTIRANGE,
        HashMap<String, Option<String>> => 16_384,
    );
    for text in [Format::Binary, Format::Text] {
        let ty = ValueType {
            oid: RECORD,
            format: text,
            lenient,
        };
        if let Ok(c) = decode_value::<Composite<'_>>(ty, Some(raw)) {
            for i in 0..c.len() {
                let _ = c.get::<Option<String>>(i);
                let _ = c.get::<Option<i64>>(i);
            }
            let _ = c.fields().count();
        }
    }
}

/// What one run of the binary COPY parser produced: the rows, then how it ended.
#[derive(Debug, PartialEq, Eq)]
struct CopyRun {
    rows: Vec<Vec<Option<Vec<u8>>>>,
    /// `None`: the stream ended cleanly; `Some(message)`: the first error.
    end: Option<String>,
}

fn copy_run(settings: u8, chunks: &mut dyn Iterator<Item = &[u8]>) -> CopyRun {
    use crate::conn::copy_binary::BinaryCopyParser;
    use crate::types::{oid, Oid};
    use std::sync::Arc;

    let fields = match settings & 3 {
        0 => None,
        n => Some(usize::from(n)),
    };
    let mut p = BinaryCopyParser::new(fields);
    if settings & 4 != 0 {
        p = p.with_max_field_len(usize::from(settings >> 3));
    }
    let types: Arc<[Oid]> = Arc::from(&[oid::INT8, oid::TEXT, oid::NUMERIC][..]);
    let mut run = CopyRun {
        rows: Vec::new(),
        end: None,
    };
    let step = |p: &mut BinaryCopyParser, run: &mut CopyRun| -> Result<(), crate::Error> {
        while let Some(row) = p.poll_row()? {
            assert!(row.len() <= crate::conn::copy_binary::MAX_FIELDS);
            if let Some(n) = fields {
                assert_eq!(
                    row.len(),
                    n,
                    "a row with the wrong field count was accepted"
                );
            }
            let values: Vec<Option<Vec<u8>>> =
                row.fields().map(|f| f.map(<[u8]>::to_vec)).collect();
            assert_eq!(values.len(), row.len());
            // Typed access must refuse or succeed, never panic, whatever the bytes.
            let typed = crate::conn::copy_binary::BinaryRow::new(row, types.clone(), false);
            for i in 0..typed.len() + 1 {
                let _ = typed.get::<Option<i64>>(i);
                let _ = typed.get::<Option<String>>(i);
                let _ = typed.get::<Option<crate::types::Numeric>>(i);
            }
            run.rows.push(values);
        }
        Ok(())
    };
    let mut result = Ok(());
    for chunk in chunks {
        result = p
            .handle_chunk(Bytes::copy_from_slice(chunk))
            .and_then(|()| step(&mut p, &mut run));
        if result.is_err() {
            break;
        }
    }
    if result.is_ok() {
        result = p.handle_end();
    }
    run.end = result.err().map(|e| e.to_string());
    run
}

/// Binary COPY out data, fed to [`crate::conn::copy_binary::BinaryCopyParser`] whole and
/// cut into chunks of a fuzzer-chosen size: both must give the same rows and the same end
/// (chunk boundaries are the server's choice and must not change the result). The first
/// byte holds the settings (expected field count, a small field-length cap), the second
/// the chunk size.
pub fn copy_binary(data: &[u8]) {
    let [settings, size, body @ ..] = data else {
        return;
    };
    let whole = copy_run(*settings, &mut std::iter::once(body));
    let size = usize::from(*size).max(1);
    let cut = copy_run(*settings, &mut body.chunks(size));
    if body.is_empty() {
        // No chunk at all: the end is checked on an empty stream either way.
        assert_eq!(whole.rows, cut.rows);
        return;
    }
    assert_eq!(
        whole, cut,
        "chunk boundaries changed the result (size {size})"
    );
}
