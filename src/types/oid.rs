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

// Further built-in types and their array types (issue 16's mappings).
/// `"char"[]`.
pub const CHAR_ARRAY: Oid = 1002;
/// `name[]`.
pub const NAME_ARRAY: Oid = 1003;
/// `oid[]`.
pub const OID_ARRAY: Oid = 1028;
/// `xml[]`.
pub const XML_ARRAY: Oid = 143;
/// `cidr`.
pub const CIDR: Oid = 650;
/// `cidr[]`.
pub const CIDR_ARRAY: Oid = 651;
/// `macaddr8`.
pub const MACADDR8: Oid = 774;
/// `macaddr8[]`.
pub const MACADDR8_ARRAY: Oid = 775;
/// `money[]`.
pub const MONEY_ARRAY: Oid = 791;
/// `macaddr`.
pub const MACADDR: Oid = 829;
/// `macaddr[]`.
pub const MACADDR_ARRAY: Oid = 1040;
/// `inet[]`.
pub const INET_ARRAY: Oid = 1041;
/// `bpchar[]`.
pub const BPCHAR_ARRAY: Oid = 1014;
/// `time[]`.
pub const TIME_ARRAY: Oid = 1183;
/// `interval[]`.
pub const INTERVAL_ARRAY: Oid = 1187;
/// `timetz[]`.
pub const TIMETZ_ARRAY: Oid = 1270;
/// `bit`.
pub const BIT: Oid = 1560;
/// `bit[]`.
pub const BIT_ARRAY: Oid = 1561;
/// `varbit`.
pub const VARBIT: Oid = 1562;
/// `varbit[]`.
pub const VARBIT_ARRAY: Oid = 1563;
/// `record[]`.
pub const RECORD_ARRAY: Oid = 2287;
/// `int4range`.
pub const INT4RANGE: Oid = 3904;
/// `int4range[]`.
pub const INT4RANGE_ARRAY: Oid = 3905;
/// `numrange`.
pub const NUMRANGE: Oid = 3906;
/// `numrange[]`.
pub const NUMRANGE_ARRAY: Oid = 3907;
/// `tsrange`.
pub const TSRANGE: Oid = 3908;
/// `tsrange[]`.
pub const TSRANGE_ARRAY: Oid = 3909;
/// `tstzrange`.
pub const TSTZRANGE: Oid = 3910;
/// `tstzrange[]`.
pub const TSTZRANGE_ARRAY: Oid = 3911;
/// `daterange`.
pub const DATERANGE: Oid = 3912;
/// `daterange[]`.
pub const DATERANGE_ARRAY: Oid = 3913;
/// `int8range`.
pub const INT8RANGE: Oid = 3926;
/// `int8range[]`.
pub const INT8RANGE_ARRAY: Oid = 3927;
/// `int4multirange`.
pub const INT4MULTIRANGE: Oid = 4451;
/// `int4multirange[]`.
pub const INT4MULTIRANGE_ARRAY: Oid = 6150;
/// `nummultirange`.
pub const NUMMULTIRANGE: Oid = 4532;
/// `nummultirange[]`.
pub const NUMMULTIRANGE_ARRAY: Oid = 6151;
/// `tsmultirange`.
pub const TSMULTIRANGE: Oid = 4533;
/// `tsmultirange[]`.
pub const TSMULTIRANGE_ARRAY: Oid = 6152;
/// `tstzmultirange`.
pub const TSTZMULTIRANGE: Oid = 4534;
/// `tstzmultirange[]`.
pub const TSTZMULTIRANGE_ARRAY: Oid = 6153;
/// `datemultirange`.
pub const DATEMULTIRANGE: Oid = 4535;
/// `datemultirange[]`.
pub const DATEMULTIRANGE_ARRAY: Oid = 6155;
/// `int8multirange`.
pub const INT8MULTIRANGE: Oid = 4536;
/// `int8multirange[]`.
pub const INT8MULTIRANGE_ARRAY: Oid = 6157;

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

/// The array type of element type `elem`, for the built-in types listed here.
pub fn array_of(elem: Oid) -> Option<Oid> {
    ARRAYS.iter().find(|(e, _)| *e == elem).map(|(_, a)| *a)
}

/// The element type of array type `array`, for the built-in types listed here.
pub fn element_of(array: Oid) -> Option<Oid> {
    ARRAYS.iter().find(|(_, a)| *a == array).map(|(e, _)| *e)
}

/// (element, array) pairs of the built-in types listed here.
const ARRAYS: &[(Oid, Oid)] = &[
    (BOOL, BOOL_ARRAY),
    (BYTEA, BYTEA_ARRAY),
    (CHAR, CHAR_ARRAY),
    (NAME, NAME_ARRAY),
    (INT8, INT8_ARRAY),
    (INT2, INT2_ARRAY),
    (INT4, INT4_ARRAY),
    (TEXT, TEXT_ARRAY),
    (OID, OID_ARRAY),
    (JSON, JSON_ARRAY),
    (XML, XML_ARRAY),
    (CIDR, CIDR_ARRAY),
    (FLOAT4, FLOAT4_ARRAY),
    (FLOAT8, FLOAT8_ARRAY),
    (MACADDR8, MACADDR8_ARRAY),
    (MONEY, MONEY_ARRAY),
    (MACADDR, MACADDR_ARRAY),
    (INET, INET_ARRAY),
    (BPCHAR, BPCHAR_ARRAY),
    (VARCHAR, VARCHAR_ARRAY),
    (DATE, DATE_ARRAY),
    (TIME, TIME_ARRAY),
    (TIMESTAMP, TIMESTAMP_ARRAY),
    (TIMESTAMPTZ, TIMESTAMPTZ_ARRAY),
    (INTERVAL, INTERVAL_ARRAY),
    (TIMETZ, TIMETZ_ARRAY),
    (BIT, BIT_ARRAY),
    (VARBIT, VARBIT_ARRAY),
    (NUMERIC, NUMERIC_ARRAY),
    (RECORD, RECORD_ARRAY),
    (UUID, UUID_ARRAY),
    (JSONB, JSONB_ARRAY),
    (INT4RANGE, INT4RANGE_ARRAY),
    (NUMRANGE, NUMRANGE_ARRAY),
    (TSRANGE, TSRANGE_ARRAY),
    (TSTZRANGE, TSTZRANGE_ARRAY),
    (DATERANGE, DATERANGE_ARRAY),
    (INT8RANGE, INT8RANGE_ARRAY),
    (INT4MULTIRANGE, INT4MULTIRANGE_ARRAY),
    (NUMMULTIRANGE, NUMMULTIRANGE_ARRAY),
    (TSMULTIRANGE, TSMULTIRANGE_ARRAY),
    (TSTZMULTIRANGE, TSTZMULTIRANGE_ARRAY),
    (DATEMULTIRANGE, DATEMULTIRANGE_ARRAY),
    (INT8MULTIRANGE, INT8MULTIRANGE_ARRAY),
];

/// The element type of built-in range or multirange type `oid` (`int4range` → `int4`).
pub fn range_element_of(oid: Oid) -> Option<Oid> {
    RANGES
        .iter()
        .find(|(r, _, m)| *r == oid || *m == oid)
        .map(|(_, e, _)| *e)
}

/// (range, element, multirange) triples of the built-in range types (`pg_range`).
const RANGES: &[(Oid, Oid, Oid)] = &[
    (INT4RANGE, INT4, INT4MULTIRANGE),
    (NUMRANGE, NUMERIC, NUMMULTIRANGE),
    (TSRANGE, TIMESTAMP, TSMULTIRANGE),
    (TSTZRANGE, TIMESTAMPTZ, TSTZMULTIRANGE),
    (DATERANGE, DATE, DATEMULTIRANGE),
    (INT8RANGE, INT8, INT8MULTIRANGE),
];
