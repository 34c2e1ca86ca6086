//! How values are stored: instants as Unix epoch milliseconds, lists as JSON text, enums as
//! their `as_str()` words. Decoding is strict: an unknown word or a bad instant is an error that
//! names the table and column.

use std::str::FromStr;

use jiff::Timestamp;
use sqlx::Row;
use sqlx::sqlite::SqliteRow;

use super::{Store, StoreError};

pub(super) fn ms(t: Timestamp) -> i64 {
    t.as_millisecond()
}

impl Store {
    /// A column of `row`.
    pub(super) fn get<'r, T>(&self, row: &'r SqliteRow, column: &str) -> Result<T, StoreError>
    where
        T: sqlx::Decode<'r, sqlx::Sqlite> + sqlx::Type<sqlx::Sqlite>,
    {
        row.try_get(column).map_err(|e| self.err(e))
    }

    /// A stored word as its enum.
    pub(super) fn word<T: FromStr>(
        &self,
        row: &SqliteRow,
        table: &'static str,
        column: &'static str,
    ) -> Result<T, StoreError>
    where
        T::Err: std::fmt::Display,
    {
        let text: String = self.get(row, column)?;
        text.parse()
            .map_err(|e: T::Err| self.corrupt(table, column, e.to_string()))
    }

    /// A stored instant.
    pub(super) fn time(
        &self,
        row: &SqliteRow,
        table: &'static str,
        column: &'static str,
    ) -> Result<Timestamp, StoreError> {
        let v: i64 = self.get(row, column)?;
        Timestamp::from_millisecond(v).map_err(|e| self.corrupt(table, column, e.to_string()))
    }

    /// A stored optional instant.
    pub(super) fn opt_time(
        &self,
        row: &SqliteRow,
        table: &'static str,
        column: &'static str,
    ) -> Result<Option<Timestamp>, StoreError> {
        let v: Option<i64> = self.get(row, column)?;
        v.map(|v| {
            Timestamp::from_millisecond(v).map_err(|e| self.corrupt(table, column, e.to_string()))
        })
        .transpose()
    }

    /// A JSON column.
    pub(super) fn json<T: serde::de::DeserializeOwned>(
        &self,
        row: &SqliteRow,
        table: &'static str,
        column: &'static str,
    ) -> Result<T, StoreError> {
        let text: String = self.get(row, column)?;
        serde_json::from_str(&text).map_err(|e| self.corrupt(table, column, e.to_string()))
    }

    /// An optional JSON column.
    pub(super) fn opt_json<T: serde::de::DeserializeOwned>(
        &self,
        row: &SqliteRow,
        table: &'static str,
        column: &'static str,
    ) -> Result<Option<T>, StoreError> {
        let text: Option<String> = self.get(row, column)?;
        text.map(|t| {
            serde_json::from_str(&t).map_err(|e| self.corrupt(table, column, e.to_string()))
        })
        .transpose()
    }

    /// A value as JSON text; failing is an error, never `"null"`.
    pub(super) fn to_json<T: serde::Serialize>(
        &self,
        what: &'static str,
        v: &T,
    ) -> Result<String, StoreError> {
        serde_json::to_string(v).map_err(|source| StoreError::Encode {
            path: self.path.display().to_string(),
            what,
            source,
        })
    }
}

/// `$1, $2, …` for `n` values starting at `$first`.
pub(super) fn placeholders(first: usize, n: usize) -> String {
    (first..first + n)
        .map(|i| format!("${i}"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// At most this many values are bound to one statement (SQLite allows 32,766).
pub(super) const CHUNK: usize = 500;
