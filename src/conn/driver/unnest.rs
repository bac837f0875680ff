//! `insert_unnest`: a bulk insert that binds whole columns as arrays and expands them on
//! the server with `UNNEST`, one statement per chunk of rows.
//!
//! Columns given as `Vec<T>`, `&[T]` or `[T; N]` (the usual case) have their lengths
//! checked up front, and each chunk of at most [`UNNEST_CHUNK_ROWS`] elements is encoded
//! straight into its Bind as an array of its own (`ToSql::to_sql_array_range`): no
//! intermediate buffer, no copy. Any other array value (an `Array<T>`, a user's type) is
//! encoded once as a binary one-dimensional array of the column's array type, then cut
//! into chunks by walking its validated element lengths; each chunk is bound as a
//! ready-made array value (a fresh 20-byte header in front of a zero-copy slice of the
//! elements). Either way one Bind stays far below the server's 1 GiB message limit
//! whatever the input size.

use bytes::{BufMut, Bytes, BytesMut};
use tokio::io::{AsyncRead, AsyncWrite};

use super::Connection;
use crate::error::Error;
use crate::protocol::backend::TransactionStatus;
use crate::protocol::{Format, Oid};
use crate::types::{ConversionError, IsNull, ToSql, ValueType};

use super::quote_ident;

/// Rows per `INSERT ... SELECT * FROM UNNEST(...)` statement. At 100,000 rows a Bind of
/// a few wide columns is tens of MiB: far below the 1 GiB message cap, large enough that
/// the per-statement cost is noise.
pub(crate) const UNNEST_CHUNK_ROWS: usize = 100_000;

impl<S: AsyncRead + AsyncWrite + Unpin> Connection<S> {
    /// Inserts whole columns into `table`: `column_values[i]` is an array value (a
    /// `Vec<T>`, `&[T]` or `[T; N]` of any [`ToSql`] element type, `Option<T>` elements
    /// for NULLs) holding every row's value of `columns[i]`. Runs
    /// `INSERT INTO table (columns) SELECT * FROM UNNEST($1::<type>[], ...)`, where each
    /// `<type>` is the column's own type read from the table, and returns the number of
    /// rows inserted.
    ///
    /// Every column must have the same length, else a config error is returned and
    /// nothing is sent. Inputs longer than 100,000 rows are sent as one statement per
    /// 100,000 rows, inside one transaction: `BEGIN`/`COMMIT` around them when the
    /// connection is idle, the caller's transaction otherwise (nothing is committed
    /// then). Either every row is inserted or, on any error (a constraint violation, a
    /// value the column's type does not accept), none.
    ///
    /// PostgreSQL only: it needs `UNNEST` of several arrays and array types for the
    /// columns (`typarray` in `pg_type`).
    ///
    /// # Which bulk path to pick
    ///
    /// - **`insert_unnest`**: the columns are already in memory as vectors and the
    ///   statement is a plain insert. One statement per 100,000 rows, so the least server
    ///   work per row of the statement-based paths (one executor start, no per-row
    ///   Bind/Execute). All or nothing: a failure names no row, and there is no resume.
    ///   It can be extended by hand (`ON CONFLICT ... DO NOTHING`, `RETURNING`) with
    ///   [`execute`](Self::execute) and the same array parameters.
    /// - **[`execute_many`](Self::execute_many)**: any statement (`UPDATE`, `DELETE`,
    ///   upserts, calls), rows streamed from an iterator with bounded memory, and a
    ///   per-row outcome: which row failed, why, and where to resume, with the atomicity
    ///   chosen by its options. Also the path that works on iris-pgwire.
    /// - **[`load`](Self::load) / COPY**: the fastest for plain inserts on PostgreSQL
    ///   (binary COPY), streaming from an iterator; all or nothing.
    ///
    /// # Examples
    ///
    /// ```no_run
    /// # async fn demo(conn: &mut pgline::Connection) -> Result<(), pgline::Error> {
    /// use std::time::SystemTime;
    ///
    /// let ids: Vec<i64> = (0..10_000).collect();
    /// let names: Vec<String> = ids.iter().map(|i| format!("user {i}")).collect();
    /// let scores: Vec<Option<f64>> = ids.iter().map(|&i| (i % 2 == 0).then_some(1.5)).collect();
    /// let created = vec![SystemTime::now(); ids.len()];
    /// let n = conn
    ///     .insert_unnest(
    ///         "users",
    ///         &["id", "name", "score", "created"],
    ///         &[&ids, &names, &scores, &created],
    ///     )
    ///     .await?;
    /// assert_eq!(n, 10_000);
    /// # Ok(()) }
    /// ```
    pub async fn insert_unnest(
        &mut self,
        table: &str,
        columns: &[&str],
        column_values: &[&(dyn ToSql + Sync)],
    ) -> Result<u64, Error> {
        if columns.is_empty() || columns.len() != column_values.len() {
            return Err(Error::config(format!(
                "insert_unnest: {} column names but {} column values (need the same, at least one)",
                columns.len(),
                column_values.len()
            )));
        }
        let table_q = quote_ident(table);
        let cols = columns
            .iter()
            .map(|c| quote_ident(c))
            .collect::<Vec<_>>()
            .join(", ");
        let targets = self.unnest_targets(&table_q, &cols).await?;
        if targets.len() != columns.len() {
            return Err(Error::protocol(
                "insert_unnest: the table's description has a different column count",
            ));
        }

        let casts = targets
            .iter()
            .enumerate()
            .map(|(i, t)| format!("${}::{}", i + 1, t.array_name))
            .collect::<Vec<_>>()
            .join(", ");
        let sql = format!("INSERT INTO {table_q} ({cols}) SELECT * FROM UNNEST({casts})");
        let not_an_array = |name: &str, array: Oid, e: ConversionError| {
            Error::conversion(
                format!(
                    "insert_unnest: the value for column {name:?} is not an array of the column's type ({array})"
                ),
                e,
            )
        };
        let unequal = |name: &str, len: usize, rows: usize| {
            Error::config(format!(
                "insert_unnest: column {name:?} has {len} values but column {:?} has {rows}; every column needs one value per row",
                columns.first().copied().unwrap_or_default(),
            ))
        };

        // Vec, slice and fixed-size array columns: lengths known up front, and each chunk
        // of each column encoded straight into its Bind.
        // Inside the caller's transaction a value refused in a later chunk would leave the
        // earlier chunks inserted there: with several chunks, everything is encoded first.
        let lens: Option<Vec<usize>> = column_values.iter().map(|v| v.array_len()).collect();
        let one_chunk_or_own_tx = |rows: usize| {
            rows <= UNNEST_CHUNK_ROWS || self.transaction_status() == TransactionStatus::Idle
        };
        if let Some(lens) = lens.filter(|l| one_chunk_or_own_tx(l.first().copied().unwrap_or(0))) {
            let rows = lens.first().copied().unwrap_or(0);
            if let Some((name, &len)) = columns.iter().zip(&lens).find(|(_, &l)| l != rows) {
                return Err(unequal(name, len, rows));
            }
            let mut direct = Vec::with_capacity(columns.len());
            for ((name, &value), target) in columns.iter().zip(column_values).zip(&targets) {
                if !value.accepts(target.array) {
                    let e = ConversionError::WrongType {
                        rust: "insert_unnest column",
                        oid: target.array,
                    };
                    return Err(not_an_array(name, target.array, e));
                }
                direct.push(DirectColumn {
                    value,
                    array: target.array,
                    binary: value.supports_binary(target.array),
                });
            }
            if rows == 0 {
                return Ok(0);
            }
            let chunk = |range: std::ops::Range<usize>| -> Vec<ColumnRange<'_>> {
                direct.iter().map(|c| c.range(range.clone())).collect()
            };
            return in_one_transaction(self, &sql, rows, chunk).await;
        }

        // Anything else (an `Array<T>`, a user's own array type): encode each column once,
        // as the column's array type, check the lengths, then bind slices of it.
        let mut arrays = Vec::with_capacity(columns.len());
        for ((name, value), target) in columns.iter().zip(column_values).zip(&targets) {
            arrays.push(
                EncodedArray::encode(name, *value, target.array)
                    .map_err(|e| e.unwrap_or_else(|e| not_an_array(name, target.array, e)))?,
            );
        }
        let rows = arrays.first().map_or(0, |a| a.len());
        if let Some((name, a)) = columns.iter().zip(&arrays).find(|(_, a)| a.len() != rows) {
            return Err(unequal(name, a.len(), rows));
        }
        if rows == 0 {
            return Ok(0);
        }
        let chunk = |range: std::ops::Range<usize>| -> Vec<ArrayChunk> {
            arrays
                .iter()
                .map(|a| a.chunk(range.start / UNNEST_CHUNK_ROWS))
                .collect()
        };
        in_one_transaction(self, &sql, rows, chunk).await
    }

    /// Each column's array type (OID and `format_type` name), in `cols` order.
    async fn unnest_targets(&mut self, table: &str, cols: &str) -> Result<Vec<Target>, Error> {
        let stmt = self
            .prepare(&format!("SELECT {cols} FROM {table} WHERE false"))
            .await?;
        let elems: Vec<i64> = stmt
            .columns()
            .iter()
            .map(|c| i64::from(c.type_oid()))
            .collect();
        self.close_statement(stmt.name()).await?;
        let rows = self
            .query(
                "SELECT t.typarray::int8, format_type(t.typarray, NULL) \
                 FROM unnest($1::int8[]) WITH ORDINALITY AS c(elem, n) \
                 LEFT JOIN pg_catalog.pg_type t ON t.oid = c.elem::oid ORDER BY c.n",
                &[&elems],
            )
            .await?;
        let mut out = Vec::with_capacity(rows.len());
        for (row, elem) in rows.iter().zip(&elems) {
            let array: Option<i64> = row.get(0)?;
            let name: Option<String> = row.get(1)?;
            match (array.and_then(|a| Oid::try_from(a).ok()), name) {
                (Some(array), Some(array_name)) if array != 0 => {
                    out.push(Target { array, array_name })
                }
                _ => {
                    return Err(Error::unsupported(format!(
                        "insert_unnest: column type {elem} has no array type"
                    )))
                }
            }
        }
        Ok(out)
    }
}

/// Runs the chunks in one transaction: the caller's if one is open, a single statement
/// on its own, else `BEGIN`/`COMMIT` around them.
async fn in_one_transaction<S, P, F>(
    conn: &mut Connection<S>,
    sql: &str,
    rows: usize,
    chunk: F,
) -> Result<u64, Error>
where
    S: AsyncRead + AsyncWrite + Unpin,
    P: ToSql + Sync,
    F: Fn(std::ops::Range<usize>) -> Vec<P>,
{
    let chunks = rows.div_ceil(UNNEST_CHUNK_ROWS);
    if chunks == 1 || conn.transaction_status() != TransactionStatus::Idle {
        // One statement is atomic on its own; inside the caller's transaction the
        // caller decides.
        return run_chunks(conn, sql, rows, &chunk).await;
    }
    let mut tx = conn.begin().await?;
    let n = run_chunks(&mut tx, sql, rows, &chunk).await?;
    tx.commit().await?;
    Ok(n)
}

/// Runs one statement per chunk of [`UNNEST_CHUNK_ROWS`] rows on `conn` and sums the rows
/// inserted.
async fn run_chunks<S, P, F>(
    conn: &mut Connection<S>,
    sql: &str,
    rows: usize,
    chunk: &F,
) -> Result<u64, Error>
where
    S: AsyncRead + AsyncWrite + Unpin,
    P: ToSql + Sync,
    F: Fn(std::ops::Range<usize>) -> Vec<P>,
{
    let mut total = 0u64;
    for k in 0..rows.div_ceil(UNNEST_CHUNK_ROWS) {
        let start = k * UNNEST_CHUNK_ROWS;
        let end = rows.min(start + UNNEST_CHUNK_ROWS);
        let values = chunk(start..end);
        let params: Vec<&(dyn ToSql + Sync)> =
            values.iter().map(|c| c as &(dyn ToSql + Sync)).collect();
        // A server that reports no count inserted the whole chunk (the statement succeeded).
        let n = conn.execute(sql, &params).await?;
        total += n.unwrap_or((end - start) as u64);
    }
    Ok(total)
}

/// A column whose value is a one-dimensional array (`Vec`, slice, `[T; N]`), checked
/// once against the column's array type.
struct DirectColumn<'a> {
    value: &'a (dyn ToSql + Sync),
    array: Oid,
    /// Whether every element has a binary form (asked once: it walks the elements).
    binary: bool,
}

impl<'a> DirectColumn<'a> {
    fn range(&self, range: std::ops::Range<usize>) -> ColumnRange<'a> {
        ColumnRange {
            value: self.value,
            array: self.array,
            binary: self.binary,
            range,
        }
    }
}

/// Rows `range` of a [`DirectColumn`], bound as an array of their own and encoded
/// straight into the Bind.
struct ColumnRange<'a> {
    value: &'a (dyn ToSql + Sync),
    array: Oid,
    binary: bool,
    range: std::ops::Range<usize>,
}

impl std::fmt::Debug for ColumnRange<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ColumnRange")
            .field("array", &self.array)
            .field("range", &self.range)
            .finish()
    }
}

/// The one parameter type a bound column takes: its own array type, which the statement
/// casts it to.
fn own_array_type(ty: ValueType, array: Oid) -> Result<(), ConversionError> {
    if ty.oid == array {
        Ok(())
    } else {
        Err(ConversionError::WrongType {
            rust: "insert_unnest column",
            oid: ty.oid,
        })
    }
}

impl ToSql for ColumnRange<'_> {
    fn type_oid(&self) -> Oid {
        self.array
    }

    /// Only the column's own array type (the statement casts to it), checked against
    /// every element once before the first chunk.
    fn accepts(&self, oid: Oid) -> bool {
        oid == self.array
    }

    fn to_sql(&self, ty: ValueType, out: &mut BytesMut) -> Result<IsNull, ConversionError> {
        own_array_type(ty, self.array)?;
        self.value
            .to_sql_array_range(ty, self.range.clone(), out)
            .unwrap_or(Err(ConversionError::invalid(
                "insert_unnest column",
                "the column has fewer values than rows",
            )))
    }

    fn supports_binary(&self, oid: Oid) -> bool {
        oid == self.array && self.binary
    }
}

/// A column's array type on the server.
struct Target {
    array: Oid,
    /// `format_type(typarray, NULL)`, e.g. `bigint[]`: safe to splice into SQL.
    array_name: String,
}

/// One column encoded as a binary one-dimensional array, with the offset of every element.
struct EncodedArray {
    array: Oid,
    elem: Oid,
    has_null: i32,
    /// The whole encoding; elements start at `starts[0]`.
    bytes: Bytes,
    /// Elements.
    count: usize,
    /// Start of chunk `k` (element `k * UNNEST_CHUNK_ROWS`) in `bytes`, then the end of
    /// the last element.
    starts: Vec<usize>,
}

/// Binary array header: ndim, has-null flag, element OID.
const HEADER: usize = 12;
/// One dimension: length, lower bound.
const DIM: usize = 8;

impl EncodedArray {
    /// `Err(Err(e))`: the value is not an array of the column's type (the caller names
    /// it); `Err(Ok(e))`: any other error, final.
    fn encode(
        column: &str,
        value: &(dyn ToSql + Sync),
        array: Oid,
    ) -> Result<Self, Result<Error, ConversionError>> {
        let ty = ValueType::new(array, Format::Binary);
        let mut buf = BytesMut::new();
        // `to_sql` checks that every element is accepted for the column's element type.
        match value.to_sql(ty, &mut buf) {
            Ok(IsNull::No) => {}
            Ok(IsNull::Yes) => {
                return Err(Ok(Error::config(format!(
                    "insert_unnest: the value for column {column:?} is NULL, not an array"
                ))))
            }
            Err(e) => return Err(Err(e)),
        }
        Self::parse(buf.freeze(), array).ok_or_else(|| {
            Ok(Error::config(format!(
                "insert_unnest: the value for column {column:?} is not a one-dimensional array"
            )))
        })
    }

    /// Walks the encoding of a binary array (`array_send`'s layout), checking every
    /// length; `None` for anything but zero or one dimension or a malformed encoding.
    fn parse(bytes: Bytes, array: Oid) -> Option<Self> {
        let i32_at = |at: usize| -> Option<i32> {
            let b = bytes.get(at..at.checked_add(4)?)?;
            Some(i32::from_be_bytes(b.try_into().ok()?))
        };
        let ndim = i32_at(0)?;
        let has_null = i32_at(4)?;
        let elem = Oid::from_be_bytes(bytes.get(8..12)?.try_into().ok()?);
        let (count, mut at) = match ndim {
            0 => (0usize, HEADER),
            1 => (usize::try_from(i32_at(HEADER)?).ok()?, HEADER + DIM),
            _ => return None,
        };
        // Each element takes at least its 4-byte length: a count the bytes cannot hold
        // is malformed, checked before allocating.
        if count > bytes.len().saturating_sub(at) / 4 {
            return None;
        }
        // Only chunk boundaries are kept: the start of every UNNEST_CHUNK_ROWS-th element
        // and the end.
        let mut starts = Vec::with_capacity(count / UNNEST_CHUNK_ROWS + 2);
        for i in 0..count {
            if i % UNNEST_CHUNK_ROWS == 0 {
                starts.push(at);
            }
            let len = i32_at(at)?;
            at += 4;
            if len >= 0 {
                at = at.checked_add(usize::try_from(len).ok()?)?;
            } else if len != -1 {
                return None;
            }
        }
        if at != bytes.len() {
            return None;
        }
        starts.push(at);
        Some(Self {
            array,
            elem,
            has_null,
            bytes,
            count,
            starts,
        })
    }

    fn len(&self) -> usize {
        self.count
    }

    /// Chunk `k`: elements `k * UNNEST_CHUNK_ROWS ..` up to the next boundary, as an array
    /// value of its own.
    fn chunk(&self, k: usize) -> ArrayChunk {
        let from = self.starts.get(k).copied().unwrap_or(self.bytes.len());
        let to = self.starts.get(k + 1).copied().unwrap_or(self.bytes.len());
        let start = k * UNNEST_CHUNK_ROWS;
        let end = self.count.min(start + UNNEST_CHUNK_ROWS);
        let mut header = [0u8; HEADER + DIM];
        header[0..4].copy_from_slice(&1i32.to_be_bytes());
        header[4..8].copy_from_slice(&self.has_null.to_be_bytes());
        header[8..12].copy_from_slice(&self.elem.to_be_bytes());
        // `end - start <= UNNEST_CHUNK_ROWS`, far below i32::MAX.
        let n = i32::try_from(end - start).unwrap_or(i32::MAX);
        header[12..16].copy_from_slice(&n.to_be_bytes());
        header[16..20].copy_from_slice(&1i32.to_be_bytes());
        ArrayChunk {
            array: self.array,
            header,
            elements: self.bytes.slice(from..to),
        }
    }
}

/// A ready-made binary array value: written as is, for its own array type only.
struct ArrayChunk {
    array: Oid,
    header: [u8; HEADER + DIM],
    elements: Bytes,
}

impl std::fmt::Debug for ArrayChunk {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ArrayChunk")
            .field("array", &self.array)
            .field("bytes", &(self.header.len() + self.elements.len()))
            .finish()
    }
}

impl ToSql for ArrayChunk {
    fn type_oid(&self) -> Oid {
        self.array
    }

    fn accepts(&self, oid: Oid) -> bool {
        oid == self.array
    }

    fn to_sql(&self, ty: ValueType, out: &mut BytesMut) -> Result<IsNull, ConversionError> {
        own_array_type(ty, self.array)?;
        if ty.format != Format::Binary {
            return Err(ConversionError::Unsupported {
                rust: "insert_unnest column",
                format: ty.format,
            });
        }
        out.reserve(self.header.len() + self.elements.len());
        out.put_slice(&self.header);
        out.put_slice(&self.elements);
        Ok(IsNull::No)
    }

    fn supports_binary(&self, oid: Oid) -> bool {
        oid == self.array
    }
}
