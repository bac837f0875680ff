//! Rows and columns: zero-copy views over DataRow bodies.

use std::sync::Arc;

use crate::error::Error;
use crate::protocol::backend::{DataRow, RowDescription};
use crate::protocol::{Format, Oid};
use crate::types::{decode_value, FromSql, ValueType};

/// One column of a result.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Column {
    name: String,
    table_oid: Oid,
    column_id: i16,
    type_oid: Oid,
    type_size: i16,
    type_modifier: i32,
    format: Format,
}

impl Column {
    /// Column name (as the server sent it).
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Type OID.
    pub fn type_oid(&self) -> Oid {
        self.type_oid
    }

    /// OID of the source table, or 0.
    pub fn table_oid(&self) -> Oid {
        self.table_oid
    }

    /// Attribute number in the source table, or 0.
    pub fn column_id(&self) -> i16 {
        self.column_id
    }

    /// `pg_type.typlen`.
    pub fn type_size(&self) -> i16 {
        self.type_size
    }

    /// Type modifier (e.g. varchar length + 4), or -1.
    pub fn type_modifier(&self) -> i32 {
        self.type_modifier
    }

    /// Format the values of this column arrive in.
    pub fn format(&self) -> Format {
        self.format
    }

    pub(crate) fn with_format(mut self, f: Format) -> Self {
        self.format = f;
        self
    }

    /// Columns of a RowDescription.
    pub(crate) fn from_description(d: &RowDescription) -> Vec<Self> {
        d.fields()
            .map(|f| Self {
                name: f.name.to_string(),
                table_oid: f.table_oid,
                column_id: f.column_id,
                type_oid: f.type_oid,
                type_size: f.type_size,
                type_modifier: f.type_modifier,
                format: f.format,
            })
            .collect()
    }
}

/// Selects a column by position or by name.
pub trait RowIndex: std::fmt::Debug {
    /// The position of the column, if it exists.
    fn index(&self, columns: &[Column]) -> Option<usize>;

    /// The position when the row came without a column description (lenient servers):
    /// only positional indices have one.
    fn position_without_columns(&self) -> Option<usize> {
        None
    }
}

impl RowIndex for usize {
    fn index(&self, columns: &[Column]) -> Option<usize> {
        (*self < columns.len()).then_some(*self)
    }

    fn position_without_columns(&self) -> Option<usize> {
        Some(*self)
    }
}

impl RowIndex for &str {
    fn index(&self, columns: &[Column]) -> Option<usize> {
        columns.iter().position(|c| c.name == *self)
    }
}

/// One row of a result: the DataRow bytes plus the shared column list.
#[derive(Debug, Clone)]
pub struct Row {
    columns: Arc<[Column]>,
    data: DataRow,
    lenient: bool,
}

impl Row {
    pub(crate) fn new(columns: Arc<[Column]>, data: DataRow, lenient: bool) -> Self {
        Self {
            columns,
            data,
            lenient,
        }
    }

    /// The columns.
    pub fn columns(&self) -> &[Column] {
        &self.columns
    }

    /// Number of values in the row.
    pub fn len(&self) -> usize {
        self.data.len()
    }

    /// Whether the row has no values.
    pub fn is_empty(&self) -> bool {
        self.data.is_empty()
    }

    /// The raw bytes of a value (`None` for NULL), or an error if there is no such column.
    pub fn get_raw(&self, idx: impl RowIndex) -> Result<Option<&[u8]>, Error> {
        let i = self.position(&idx)?;
        self.data
            .iter()
            .nth(i)
            .ok_or_else(|| Error::conversion(format!("row has no value {i}"), NoSuchColumn))
    }

    fn position(&self, idx: &dyn RowIndex) -> Result<usize, Error> {
        if self.lenient && self.columns.is_empty() && idx.position_without_columns().is_none() {
            return Err(Error::conversion(
                format!("cannot find column {idx:?} by name"),
                NoColumnNames,
            ));
        }
        idx.index(&self.columns)
            .or_else(|| {
                // A DataRow with no RowDescription (iris-pgwire skips it when nothing was
                // described): values are text, found by position.
                (self.lenient && self.columns.is_empty())
                    .then(|| idx.position_without_columns())
                    .flatten()
            })
            .filter(|&i| i < self.data.len())
            .ok_or_else(|| {
                Error::conversion(format!("no column {idx:?} in this row"), NoSuchColumn)
            })
    }

    /// Decodes a value as `T`. A NULL into a non-`Option`, a column of another type
    /// (strict servers), or bad bytes is an error, never a panic.
    pub fn get<'a, T: FromSql<'a>>(&'a self, idx: impl RowIndex) -> Result<T, Error> {
        let i = self.position(&idx)?;
        let (ty, name) = match self.columns.get(i) {
            Some(col) => (
                ValueType {
                    oid: col.type_oid,
                    format: col.format,
                    lenient: self.lenient,
                },
                col.name.as_str(),
            ),
            // Only reachable in lenient mode, for a row without a description.
            None if self.lenient => (
                ValueType {
                    oid: crate::types::oid::UNKNOWN,
                    format: Format::Text,
                    lenient: true,
                },
                "?",
            ),
            None => return Err(Error::conversion(format!("no column {i}"), NoSuchColumn)),
        };
        let raw = self
            .data
            .iter()
            .nth(i)
            .ok_or_else(|| Error::conversion(format!("row has no value {i}"), NoSuchColumn))?;
        decode_value(ty, raw).map_err(|e| {
            Error::conversion(
                format!(
                    "cannot read column {:?} ({})",
                    name,
                    std::any::type_name::<T>()
                ),
                e,
            )
        })
    }
}

/// A row of a simple query: every value is text.
#[derive(Debug, Clone)]
pub struct SimpleRow {
    columns: Arc<[Column]>,
    data: DataRow,
}

impl SimpleRow {
    pub(crate) fn new(columns: Arc<[Column]>, data: DataRow) -> Self {
        Self { columns, data }
    }

    /// The columns.
    pub fn columns(&self) -> &[Column] {
        &self.columns
    }

    /// Number of values.
    pub fn len(&self) -> usize {
        self.data.len()
    }

    /// Whether the row has no values.
    pub fn is_empty(&self) -> bool {
        self.data.is_empty()
    }

    /// The text of a value, `None` for NULL. Invalid UTF-8 or a missing column is an
    /// error.
    pub fn get(&self, idx: impl RowIndex) -> Result<Option<&str>, Error> {
        let i = idx
            .index(&self.columns)
            .ok_or_else(|| Error::conversion(format!("no column {idx:?}"), NoSuchColumn))?;
        match self.data.iter().nth(i) {
            None => Err(Error::conversion(
                format!("row has no value {i}"),
                NoSuchColumn,
            )),
            Some(None) => Ok(None),
            Some(Some(b)) => std::str::from_utf8(b)
                .map(Some)
                .map_err(|e| Error::conversion("value is not UTF-8", e)),
        }
    }

    /// All values as text, in order.
    pub fn values(&self) -> impl Iterator<Item = Option<&str>> + '_ {
        self.data
            .iter()
            .map(|v| v.map(|b| std::str::from_utf8(b).unwrap_or("\u{fffd}")))
    }
}

/// The error source for a column that does not exist.
#[derive(Debug)]
struct NoSuchColumn;

impl std::fmt::Display for NoSuchColumn {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("no such column")
    }
}

impl std::error::Error for NoSuchColumn {}

/// The error source for a name asked of a row that came without column names.
#[derive(Debug)]
struct NoColumnNames;

impl std::fmt::Display for NoColumnNames {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(
            "the server sent this row without column names: iris-pgwire names columns only \
             by running a statement a second time (Describe), which pgline does not do for \
             statements with parameters; read the row by position, run the statement \
             without parameters (sent as a simple Query, which names the columns), or \
             `prepare` it (described once, when prepared)",
        )
    }
}

impl std::error::Error for NoColumnNames {}
