//! Type OIDs of the built-in types this crate knows by name (from PostgreSQL's
//! `pg_type.dat`). Built-in OIDs are fixed across PostgreSQL versions; user-defined types
//! (enums, domains, extensions) get per-database OIDs and are not listed here.

use crate::protocol::Oid;

/// No type given: in Parse, "let the server infer the parameter type".
pub const UNSPECIFIED: Oid = 0;
/// `bool`.
pub const BOOL: Oid = 16;
/// `bytea`.
pub const BYTEA: Oid = 17;
/// `"char"` (the single-byte internal type, not `char(n)`).
pub const CHAR: Oid = 18;
/// `name` (identifiers, 63 bytes).
pub const NAME: Oid = 19;
/// `int8` / `bigint`.
pub const INT8: Oid = 20;
/// `int2` / `smallint`.
pub const INT2: Oid = 21;
/// `int4` / `integer`.
pub const INT4: Oid = 23;
/// `regproc`.
pub const REGPROC: Oid = 24;
/// `text`.
pub const TEXT: Oid = 25;
/// `oid`.
pub const OID: Oid = 26;
/// `json`.
pub const JSON: Oid = 114;
/// `xml`.
pub const XML: Oid = 142;
/// `json[]`.
pub const JSON_ARRAY: Oid = 199;
/// `float4` / `real`.
pub const FLOAT4: Oid = 700;
/// `float8` / `double precision`.
pub const FLOAT8: Oid = 701;
/// `unknown`: the type of an untyped literal (`SELECT 'abc'` before PostgreSQL 10).
pub const UNKNOWN: Oid = 705;
/// `money`.
pub const MONEY: Oid = 790;
/// `inet`.
pub const INET: Oid = 869;
/// `bool[]`.
pub const BOOL_ARRAY: Oid = 1000;
/// `bytea[]`.
pub const BYTEA_ARRAY: Oid = 1001;
/// `int2[]`.
pub const INT2_ARRAY: Oid = 1005;
/// `int4[]`.
pub const INT4_ARRAY: Oid = 1007;
/// `text[]`.
pub const TEXT_ARRAY: Oid = 1009;
/// `varchar[]`.
pub const VARCHAR_ARRAY: Oid = 1015;
/// `int8[]`.
pub const INT8_ARRAY: Oid = 1016;
/// `float4[]`.
pub const FLOAT4_ARRAY: Oid = 1021;
/// `float8[]`.
pub const FLOAT8_ARRAY: Oid = 1022;
/// `bpchar` / `char(n)`.
pub const BPCHAR: Oid = 1042;
/// `varchar` / `character varying(n)`.
pub const VARCHAR: Oid = 1043;
/// `date`.
pub const DATE: Oid = 1082;
/// `time` (without time zone).
pub const TIME: Oid = 1083;
/// `timestamp` (without time zone).
pub const TIMESTAMP: Oid = 1114;
/// `timestamp[]`.
pub const TIMESTAMP_ARRAY: Oid = 1115;
/// `date[]`.
pub const DATE_ARRAY: Oid = 1182;
/// `timestamptz` / `timestamp with time zone`.
pub const TIMESTAMPTZ: Oid = 1184;
/// `timestamptz[]`.
pub const TIMESTAMPTZ_ARRAY: Oid = 1185;
/// `interval`.
pub const INTERVAL: Oid = 1186;
/// `numeric[]`.
pub const NUMERIC_ARRAY: Oid = 1231;
/// `timetz` / `time with time zone`.
pub const TIMETZ: Oid = 1266;
/// `numeric` / `decimal`.
pub const NUMERIC: Oid = 1700;
/// `record` (anonymous row types).
pub const RECORD: Oid = 2249;
/// `void` (functions returning nothing).
pub const VOID: Oid = 2278;
/// `uuid`.
pub const UUID: Oid = 2950;
/// `uuid[]`.
pub const UUID_ARRAY: Oid = 2951;
/// `jsonb`.
pub const JSONB: Oid = 3802;
/// `jsonb[]`.
pub const JSONB_ARRAY: Oid = 3807;

/// Whether `oid` leaves the type to the server: [`UNSPECIFIED`] (0) or [`UNKNOWN`]. Every
/// `ToSql` type accepts these.
pub(crate) fn is_unspecified(oid: Oid) -> bool {
    oid == UNSPECIFIED || oid == UNKNOWN
}

/// Whether `oid` is a string type whose binary form is its text (UTF-8 bytes): `text`,
/// `varchar`, `bpchar`, `name`, `"char"` and `unknown`.
pub(crate) fn is_text_like(oid: Oid) -> bool {
    matches!(oid, TEXT | VARCHAR | BPCHAR | NAME | CHAR | UNKNOWN)
}
