//! One connection to an external system, whichever its kind, and the SQL spelling that
//! differs between PostgreSQL and MySQL/MariaDB.
//!
//! Every value crosses the connection as text: the SQL casts each selected column to text
//! and [`crate::schema::ValueType`] turns it into JSON from the column's declared type. One
//! code path then serves both backends and every column type.

use std::str::FromStr;
use std::time::Duration;

use kluis_domain::dataset_map::{DatasetMap, SystemKind};
use sqlx::mysql::MySqlConnectOptions;
use sqlx::postgres::PgConnectOptions;
use sqlx::{AssertSqlSafe, Connection, MySqlConnection, PgConnection, Row};

/// How to reach a system: the parsed connection options of its kind.
#[derive(Debug, Clone)]
pub(crate) enum Target {
    Postgres(PgConnectOptions),
    Mysql(MySqlConnectOptions),
}

impl Target {
    /// Parses `url` for a system of `kind`; the error says what is wrong with it.
    pub(crate) fn parse(
        kind: SystemKind,
        url: &str,
        query_timeout: Duration,
    ) -> Result<Self, String> {
        let scheme = url.split_once("://").map_or("", |(s, _)| s);
        match kind {
            SystemKind::Postgres => {
                if !matches!(scheme, "postgres" | "postgresql") {
                    return Err(
                        "the map says kind: postgres, so the URL must start with postgres://"
                            .into(),
                    );
                }
                let options = PgConnectOptions::from_str(url).map_err(|e| e.to_string())?;
                // Set at connection start-up, so they cost no round trip: every transaction
                // is read-only, values come out in ISO form and UTC, and the server itself
                // stops a statement that runs too long.
                let options = options.application_name("kluis").options([
                    ("default_transaction_read_only", "on".to_string()),
                    ("TimeZone", "UTC".to_string()),
                    ("DateStyle", "ISO".to_string()),
                    ("IntervalStyle", "iso_8601".to_string()),
                    ("statement_timeout", query_timeout.as_millis().to_string()),
                ]);
                Ok(Target::Postgres(options))
            }
            SystemKind::Mysql => {
                if !matches!(scheme, "mysql" | "mariadb") {
                    return Err("the map says kind: mysql, so the URL must start with mysql:// or mariadb://".into());
                }
                // sqlx sets the session time zone to UTC (+00:00) on connect.
                let options = MySqlConnectOptions::from_str(url)
                    .map_err(|e| e.to_string())?
                    .statement_cache_capacity(crate::pool::MYSQL_STATEMENTS_KEPT);
                Ok(Target::Mysql(options))
            }
        }
    }
}

/// An open connection.
pub(crate) enum Conn {
    Postgres(PgConnection),
    Mysql(MySqlConnection),
}

/// Rows of text values, in the order the statement selects them.
pub(crate) type TextRows = Vec<Vec<Option<String>>>;

impl Conn {
    pub(crate) async fn open(target: &Target) -> Result<Conn, sqlx::Error> {
        Ok(match target {
            Target::Postgres(o) => Conn::Postgres(PgConnection::connect_with(o).await?),
            Target::Mysql(o) => Conn::Mysql(MySqlConnection::connect_with(o).await?),
        })
    }

    /// Runs one statement whose selected columns are all text (or NULL).
    ///
    /// `sql` must hold only names that were checked against the live schema and quoted
    /// with [`quote`]; every value is in `binds`.
    pub(crate) async fn rows(
        &mut self,
        sql: String,
        binds: &[String],
    ) -> Result<TextRows, sqlx::Error> {
        match self {
            Conn::Postgres(c) => {
                // Not kept as a prepared statement: a traceparent comment makes most
                // statements' text unique, so a kept one would seldom be used again.
                let mut q = sqlx::query(AssertSqlSafe(sql)).persistent(false);
                for b in binds {
                    q = q.bind(b.clone());
                }
                let rows = q.fetch_all(&mut *c).await?;
                rows.iter()
                    .map(|r| (0..r.len()).map(|i| r.try_get(i)).collect())
                    .collect()
            }
            Conn::Mysql(c) => {
                // Kept prepared until the connection closes: a one-off statement ends with
                // a close packet the server does not answer, and sqlx does not set
                // TCP_NODELAY, so the next statement would wait ~40 ms for a delayed ACK.
                // The pool retires a connection before its cache is full (`pool.rs`).
                let mut q = sqlx::query(AssertSqlSafe(sql));
                for b in binds {
                    q = q.bind(b.clone());
                }
                let rows = q.fetch_all(&mut *c).await?;
                rows.iter()
                    .map(|r| (0..r.len()).map(|i| r.try_get(i)).collect())
                    .collect()
            }
        }
    }

    /// Runs a statement without parameters or results (BEGIN, ROLLBACK).
    pub(crate) async fn execute(&mut self, sql: String) -> Result<(), sqlx::Error> {
        match self {
            Conn::Postgres(c) => sqlx::raw_sql(AssertSqlSafe(sql))
                .execute(&mut *c)
                .await
                .map(drop),
            Conn::Mysql(c) => sqlx::raw_sql(AssertSqlSafe(sql))
                .execute(&mut *c)
                .await
                .map(drop),
        }
    }

    pub(crate) async fn close(self) {
        // The server notices a dropped connection too; closing politely is a courtesy.
        let _ = match self {
            Conn::Postgres(c) => c.close().await,
            Conn::Mysql(c) => c.close().await,
        };
    }
}

/// The statement that opens a transaction that writes: the connection's default is
/// read-only (see [`Target::parse`]), so it is overridden here, explicitly.
pub(crate) fn begin_write(kind: SystemKind) -> &'static str {
    match kind {
        SystemKind::Postgres => "BEGIN ISOLATION LEVEL READ COMMITTED READ WRITE",
        SystemKind::Mysql => "START TRANSACTION READ WRITE",
    }
}

/// Runs a statement with bound values (an UPDATE or DELETE); returns the rows it changed.
/// The same rules as [`Conn::rows`] hold for `sql`.
pub(crate) async fn affect(
    conn: &mut Conn,
    sql: String,
    binds: &[String],
) -> Result<u64, sqlx::Error> {
    match conn {
        Conn::Postgres(c) => {
            let mut q = sqlx::query(AssertSqlSafe(sql)).persistent(false);
            for b in binds {
                q = q.bind(b.clone());
            }
            Ok(q.execute(&mut *c).await?.rows_affected())
        }
        Conn::Mysql(c) => {
            let mut q = sqlx::query(AssertSqlSafe(sql));
            for b in binds {
                q = q.bind(b.clone());
            }
            Ok(q.execute(&mut *c).await?.rows_affected())
        }
    }
}

/// A table's name in its schema (when the map names one), quoted.
pub(crate) fn qualified(kind: SystemKind, schema: Option<&str>, table: &str) -> String {
    match schema {
        Some(s) => format!("{}.{}", quote(kind, s), quote(kind, table)),
        None => quote(kind, table),
    }
}

/// The SQL text of a map's tables and columns under aliases, for the queries that join
/// the map's tables (the search of a person, the search of a breach's people).
pub(crate) trait AliasedSql {
    fn map(&self) -> &DatasetMap;

    fn kind(&self) -> SystemKind {
        self.map().kind
    }

    /// `schema.table AS alias`.
    fn from(&self, table: &str, alias: &str) -> String {
        let table = qualified(self.kind(), self.map().schema.as_deref(), table);
        format!("{table} AS {alias}")
    }

    /// `alias.column`, quoted.
    fn column(&self, alias: &str, column: &str) -> String {
        format!("{alias}.{}", quote(self.kind(), column))
    }
}

/// `name` as an identifier in SQL: `"name"` on PostgreSQL, `` `name` `` on MySQL, with
/// the quote character doubled inside. Only for names found in the live schema.
pub(crate) fn quote(kind: SystemKind, name: &str) -> String {
    match kind {
        SystemKind::Postgres => format!("\"{}\"", name.replace('"', "\"\"")),
        SystemKind::Mysql => format!("`{}`", name.replace('`', "``")),
    }
}

/// Collects the values of a statement and writes their placeholders.
pub(crate) struct Binds {
    kind: SystemKind,
    pub(crate) values: Vec<String>,
}

impl Binds {
    pub(crate) fn new(kind: SystemKind) -> Self {
        Binds {
            kind,
            values: Vec::new(),
        }
    }

    /// The placeholder of `value`, now bound: `$n` on PostgreSQL, `?` on MySQL.
    pub(crate) fn push(&mut self, value: &str) -> String {
        self.values.push(value.to_string());
        match self.kind {
            SystemKind::Postgres => format!("${}", self.values.len()),
            SystemKind::Mysql => "?".to_string(),
        }
    }

    /// `(p1, p2, ...)` for `values`, for use after `IN`.
    pub(crate) fn list<'a>(&mut self, values: impl IntoIterator<Item = &'a str>) -> String {
        let placeholders: Vec<String> = values.into_iter().map(|v| self.push(v)).collect();
        format!("({})", placeholders.join(", "))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_quoted_per_backend() {
        assert_eq!(quote(SystemKind::Postgres, "applicants"), "\"applicants\"");
        assert_eq!(quote(SystemKind::Postgres, "a\"; DROP"), "\"a\"\"; DROP\"");
        assert_eq!(quote(SystemKind::Mysql, "a`b"), "`a``b`");
    }

    #[test]
    fn placeholders_are_numbered_on_postgres_only() {
        let mut pg = Binds::new(SystemKind::Postgres);
        assert_eq!(pg.list(["a", "b"]), "($1, $2)");
        let mut my = Binds::new(SystemKind::Mysql);
        assert_eq!(my.list(["a", "b"]), "(?, ?)");
        assert_eq!(my.values, ["a", "b"]);
    }

    #[test]
    fn the_url_must_fit_the_kind() {
        let t = Duration::from_secs(1);
        assert!(Target::parse(SystemKind::Postgres, "mysql://u@h/db", t).is_err());
        assert!(Target::parse(SystemKind::Mysql, "postgres://u@h/db", t).is_err());
        assert!(Target::parse(SystemKind::Mysql, "mariadb://u@h/db", t).is_ok());
        assert!(Target::parse(SystemKind::Postgres, "postgresql://u@h/db", t).is_ok());
    }
}
