//! The live schema of a system, read from its catalogue, and how it differs from the
//! dataset map. A name is used in SQL only after it was found here.

use std::collections::{BTreeMap, BTreeSet};

use kluis_domain::dataset_map::{DatasetMap, SystemKind};
use serde_json::Value;

use crate::db::{Binds, Conn};

/// How a column's value, read as text, becomes JSON.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ValueType {
    Integer,
    Float,
    /// Exact decimals (numeric, decimal) stay strings, so no digit is lost.
    Decimal,
    Boolean,
    Date,
    /// A date and time without a zone, written `2024-05-01T09:30:00`.
    Timestamp,
    /// A moment in time, read in UTC and written `2024-05-01T09:30:00Z`.
    TimestampUtc,
    Json,
    /// Binary data, written as hexadecimal.
    Bytes,
    Text,
}

impl ValueType {
    /// From PostgreSQL's type name (`format_type`) and its type category.
    fn postgres(name: &str, category: &str) -> Self {
        match name {
            "smallint" | "integer" | "bigint" => ValueType::Integer,
            "real" | "double precision" => ValueType::Float,
            "numeric" | "money" => ValueType::Decimal,
            "boolean" => ValueType::Boolean,
            "date" => ValueType::Date,
            "timestamp without time zone" => ValueType::Timestamp,
            "timestamp with time zone" => ValueType::TimestampUtc,
            "json" | "jsonb" => ValueType::Json,
            "bytea" => ValueType::Bytes,
            // Domains and extension types: their category says enough.
            _ if category == "B" => ValueType::Boolean,
            _ => ValueType::Text,
        }
    }

    /// From MySQL's `DATA_TYPE`.
    fn mysql(data_type: &str) -> Self {
        match data_type {
            "tinyint" | "smallint" | "mediumint" | "int" | "integer" | "bigint" => {
                ValueType::Integer
            }
            "float" | "double" | "real" => ValueType::Float,
            "decimal" | "numeric" => ValueType::Decimal,
            "date" => ValueType::Date,
            "datetime" => ValueType::Timestamp,
            // Stored in UTC and shown in the session's zone, which sqlx sets to UTC.
            "timestamp" => ValueType::TimestampUtc,
            "json" => ValueType::Json,
            "binary" | "varbinary" | "tinyblob" | "blob" | "mediumblob" | "longblob" | "bit" => {
                ValueType::Bytes
            }
            _ => ValueType::Text,
        }
    }

    /// `expr` (a quoted column) as text in a SELECT list.
    pub(crate) fn select(self, kind: SystemKind, expr: &str) -> String {
        match (kind, self) {
            (SystemKind::Postgres, ValueType::Bytes) => format!("encode({expr}, 'hex')"),
            (SystemKind::Postgres, _) => format!("{expr}::text"),
            (SystemKind::Mysql, ValueType::Bytes) => format!("HEX({expr})"),
            (SystemKind::Mysql, _) => format!("CAST({expr} AS CHAR)"),
        }
    }

    /// The JSON value of a column read as text.
    pub(crate) fn to_json(self, text: Option<String>) -> Value {
        let Some(text) = text else {
            return Value::Null;
        };
        match self {
            ValueType::Integer => text
                .parse::<i64>()
                .map(Value::from)
                .or_else(|_| text.parse::<u64>().map(Value::from))
                .unwrap_or(Value::String(text)),
            ValueType::Float => match text.parse::<f64>() {
                Ok(f) if f.is_finite() => Value::from(f),
                _ => Value::String(text),
            },
            ValueType::Boolean => match text.as_str() {
                "true" | "t" | "1" => Value::Bool(true),
                "false" | "f" | "0" => Value::Bool(false),
                _ => Value::String(text),
            },
            ValueType::Timestamp => Value::String(text.replacen(' ', "T", 1)),
            ValueType::TimestampUtc => {
                let iso = text.replacen(' ', "T", 1);
                let bare = iso.strip_suffix("+00").unwrap_or(&iso);
                if bare.contains('T') {
                    Value::String(format!("{bare}Z"))
                } else {
                    // infinity, -infinity
                    Value::String(iso)
                }
            }
            ValueType::Json => serde_json::from_str(&text).unwrap_or(Value::String(text)),
            ValueType::Decimal | ValueType::Date | ValueType::Bytes | ValueType::Text => {
                Value::String(text)
            }
        }
    }
}

/// One column as the database has it.
#[derive(Debug, Clone)]
pub(crate) struct LiveColumn {
    pub(crate) name: String,
    pub(crate) type_name: String,
    pub(crate) value_type: ValueType,
    /// A character type, fit to hold an identifier.
    pub(crate) is_text: bool,
    /// Compared without regard to case by its collation (MySQL `_ci`).
    pub(crate) case_insensitive: bool,
    pub(crate) in_primary_key: bool,
}

#[derive(Debug, Clone, Default)]
pub(crate) struct LiveTable {
    /// In the table's column order.
    pub(crate) columns: Vec<LiveColumn>,
}

impl LiveTable {
    pub(crate) fn column(&self, name: &str) -> Option<&LiveColumn> {
        self.columns.iter().find(|c| c.name == name)
    }

    pub(crate) fn primary_key(&self) -> Vec<&str> {
        self.columns
            .iter()
            .filter(|c| c.in_primary_key)
            .map(|c| c.name.as_str())
            .collect()
    }
}

/// The tables of the map as they exist in the database.
#[derive(Debug, Clone, Default)]
pub(crate) struct LiveSchema {
    pub(crate) tables: BTreeMap<String, LiveTable>,
    /// (table, column, referenced table, referenced column) of each foreign key.
    pub(crate) foreign_keys: BTreeSet<(String, String, String, String)>,
}

/// What to read from the catalogue.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Read {
    Columns,
    ColumnsAndForeignKeys,
}

/// Reads the columns (and foreign keys) of the map's tables. `comment` goes in front of
/// each statement (the traceparent).
pub(crate) async fn read(
    conn: &mut Conn,
    map: &DatasetMap,
    what: Read,
    comment: &str,
) -> Result<LiveSchema, sqlx::Error> {
    let kind = map.kind;
    let mut binds = Binds::new(kind);
    let schema = match (&map.schema, kind) {
        (Some(s), _) => binds.push(s),
        (None, SystemKind::Postgres) => "current_schema()".into(),
        (None, SystemKind::Mysql) => "DATABASE()".into(),
    };
    let names = binds.list(map.tables.keys().map(String::as_str));
    let sql = match kind {
        SystemKind::Postgres => format!(
            "{comment}SELECT c.relname::text, a.attname::text, format_type(a.atttypid, NULL), \
             t.typcategory::text, \
             CASE WHEN EXISTS (SELECT 1 FROM pg_catalog.pg_index i WHERE i.indrelid = c.oid \
               AND i.indisprimary AND a.attnum = ANY(i.indkey)) THEN '1' ELSE '0' END, '' \
             FROM pg_catalog.pg_class c \
             JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace \
             JOIN pg_catalog.pg_attribute a ON a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped \
             JOIN pg_catalog.pg_type t ON t.oid = a.atttypid \
             WHERE n.nspname = {schema} AND c.relname IN {names} \
             AND c.relkind IN ('r', 'p', 'v', 'm', 'f') \
             ORDER BY c.relname, a.attnum"
        ),
        SystemKind::Mysql => format!(
            "{comment}SELECT CAST(TABLE_NAME AS CHAR), CAST(COLUMN_NAME AS CHAR), \
             CAST(COLUMN_TYPE AS CHAR), CAST(DATA_TYPE AS CHAR), \
             CASE WHEN COLUMN_KEY = 'PRI' THEN '1' ELSE '0' END, \
             CAST(COALESCE(COLLATION_NAME, '') AS CHAR) \
             FROM information_schema.COLUMNS \
             WHERE TABLE_SCHEMA = {schema} AND TABLE_NAME IN {names} \
             ORDER BY TABLE_NAME, ORDINAL_POSITION"
        ),
    };
    let mut live = LiveSchema::default();
    for row in conn.rows(sql, &binds.values).await? {
        let [table, name, type_name, category, pk, collation] = row_of(row);
        let (value_type, is_text) = match kind {
            SystemKind::Postgres => (ValueType::postgres(&type_name, &category), category == "S"),
            SystemKind::Mysql => (
                ValueType::mysql(&category),
                matches!(
                    category.as_str(),
                    "char" | "varchar" | "tinytext" | "text" | "mediumtext" | "longtext"
                ),
            ),
        };
        live.tables
            .entry(table)
            .or_default()
            .columns
            .push(LiveColumn {
                name,
                type_name,
                value_type,
                is_text,
                case_insensitive: kind == SystemKind::Mysql && collation.ends_with("_ci"),
                in_primary_key: pk == "1",
            });
    }
    if what == Read::ColumnsAndForeignKeys {
        live.foreign_keys = foreign_keys(conn, map, comment).await?;
    }
    Ok(live)
}

async fn foreign_keys(
    conn: &mut Conn,
    map: &DatasetMap,
    comment: &str,
) -> Result<BTreeSet<(String, String, String, String)>, sqlx::Error> {
    let mut binds = Binds::new(map.kind);
    let schema = match (&map.schema, map.kind) {
        (Some(s), _) => binds.push(s),
        (None, SystemKind::Postgres) => "current_schema()".into(),
        (None, SystemKind::Mysql) => "DATABASE()".into(),
    };
    // PostgreSQL's information_schema hides the constraints of tables the reading account
    // does not own, and a read-only account owns none: read the catalogue itself.
    let sql = match map.kind {
        SystemKind::Postgres => format!(
            "{comment}SELECT cl.relname::text, a.attname::text, fcl.relname::text, fa.attname::text \
             FROM pg_catalog.pg_constraint con \
             JOIN pg_catalog.pg_class cl ON cl.oid = con.conrelid \
             JOIN pg_catalog.pg_namespace n ON n.oid = cl.relnamespace \
             JOIN pg_catalog.pg_class fcl ON fcl.oid = con.confrelid \
             CROSS JOIN LATERAL unnest(con.conkey, con.confkey) AS k(col, fcol) \
             JOIN pg_catalog.pg_attribute a ON a.attrelid = con.conrelid AND a.attnum = k.col \
             JOIN pg_catalog.pg_attribute fa ON fa.attrelid = con.confrelid AND fa.attnum = k.fcol \
             WHERE con.contype = 'f' AND n.nspname = {schema}"
        ),
        SystemKind::Mysql => format!(
            "{comment}SELECT CAST(TABLE_NAME AS CHAR), CAST(COLUMN_NAME AS CHAR), \
             CAST(REFERENCED_TABLE_NAME AS CHAR), CAST(REFERENCED_COLUMN_NAME AS CHAR) \
             FROM information_schema.KEY_COLUMN_USAGE \
             WHERE TABLE_SCHEMA = {schema} AND REFERENCED_TABLE_SCHEMA = TABLE_SCHEMA \
             AND REFERENCED_TABLE_NAME IS NOT NULL"
        ),
    };
    let rows = conn.rows(sql, &binds.values).await?;
    Ok(rows
        .into_iter()
        .map(|row| {
            let [t, c, rt, rc] = row_of(row);
            (t, c, rt, rc)
        })
        .collect())
}

/// The first N values of a catalogue row, NULL read as empty.
fn row_of<const N: usize>(row: Vec<Option<String>>) -> [String; N] {
    let mut values = row.into_iter().map(Option::unwrap_or_default);
    std::array::from_fn(|_| values.next().unwrap_or_default())
}

/// The differences between the map and the live schema: mismatches that stop kluis
/// from using the map, and notes that do not.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Comparison {
    pub(crate) mismatches: Vec<String>,
    pub(crate) notes: Vec<String>,
}

/// Compares the map with the live schema, in words a DBA understands.
pub(crate) fn compare(map: &DatasetMap, live: &LiveSchema) -> Comparison {
    let mut out = Comparison::default();
    let qualified = |t: &str| match &map.schema {
        Some(s) => format!("{s}.{t}"),
        None => t.to_string(),
    };
    if live.tables.is_empty() {
        out.mismatches.push(match &map.schema {
            Some(s) => format!(
                "none of the tables of the map exist in schema '{s}': check schema: in the map and the database in the URL"
            ),
            None => "none of the tables of the map exist in the connection's default schema: check the database in the URL, or give schema: in the map".to_string(),
        });
        return out;
    }
    for (name, table) in &map.tables {
        let Some(lt) = live.tables.get(name) else {
            let hint = live
                .tables
                .keys()
                .find(|k| k.eq_ignore_ascii_case(name))
                .map(|k| format!(" (did you mean '{k}'? names are case-sensitive)"))
                .unwrap_or_default();
            out.mismatches
                .push(format!("table {} does not exist{hint}", qualified(name)));
            continue;
        };
        let missing = |column: &str| {
            let names: Vec<&str> = lt.columns.iter().map(|c| c.name.as_str()).collect();
            let shown = if names.len() > 30 {
                format!("{}, ...", names[..30].join(", "))
            } else {
                names.join(", ")
            };
            format!(
                "table {} has no column '{column}' (it has: {shown})",
                qualified(name)
            )
        };
        for (column, c) in &table.columns {
            match lt.column(column) {
                None => out.mismatches.push(missing(column)),
                Some(live_column) => {
                    if let Some(kind) = c.identifies
                        && !live_column.is_text
                    {
                        out.mismatches.push(format!(
                            "column {}.{column} identifies by {kind} but is of type {}: kluis compares identifiers as text, so the column must be char, varchar or text",
                            qualified(name),
                            live_column.type_name
                        ));
                    }
                }
            }
        }
        if table.primary_key.is_empty() {
            if lt.primary_key().is_empty() {
                out.mismatches.push(format!(
                    "table {} has no primary key: name the columns that identify a row with primary_key: [...]",
                    qualified(name)
                ));
            }
        } else {
            for key in &table.primary_key {
                if lt.column(key).is_none() {
                    out.mismatches.push(missing(key));
                }
            }
        }
        if let Some(link) = &table.link {
            if lt.column(&link.column).is_none() {
                out.mismatches.push(format!(
                    "table {} has no column '{}' for its link to {}",
                    qualified(name),
                    link.column,
                    link.references
                ));
            }
            let parent = &link.references.table;
            if let Some(pt) = live.tables.get(parent)
                && pt.column(&link.references.column).is_none()
            {
                out.mismatches.push(format!(
                    "table {} links to {}, but table {} has no column '{}'",
                    qualified(name),
                    link.references,
                    qualified(parent),
                    link.references.column
                ));
            }
            let fk = (
                name.clone(),
                link.column.clone(),
                parent.clone(),
                link.references.column.clone(),
            );
            if !live.foreign_keys.contains(&fk) {
                out.notes.push(format!(
                    "link {name}.{} → {} is not a foreign key in the database; kluis follows it anyway",
                    link.column, link.references
                ));
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_become_json_of_their_type() {
        use serde_json::json;
        assert_eq!(ValueType::Integer.to_json(Some("42".into())), json!(42));
        assert_eq!(
            ValueType::Integer.to_json(Some("18446744073709551615".into())),
            json!(18446744073709551615u64)
        );
        assert_eq!(ValueType::Float.to_json(Some("1.5".into())), json!(1.5));
        assert_eq!(ValueType::Float.to_json(Some("NaN".into())), json!("NaN"));
        assert_eq!(
            ValueType::Decimal.to_json(Some("3100.50".into())),
            json!("3100.50")
        );
        assert_eq!(ValueType::Boolean.to_json(Some("true".into())), json!(true));
        assert_eq!(
            ValueType::Date.to_json(Some("1985-07-30".into())),
            json!("1985-07-30")
        );
        assert_eq!(
            ValueType::Timestamp.to_json(Some("2024-05-01 09:30:00.25".into())),
            json!("2024-05-01T09:30:00.25")
        );
        assert_eq!(
            ValueType::TimestampUtc.to_json(Some("2024-05-01 09:30:00+00".into())),
            json!("2024-05-01T09:30:00Z")
        );
        assert_eq!(
            ValueType::TimestampUtc.to_json(Some("2024-05-01 09:30:00".into())),
            json!("2024-05-01T09:30:00Z")
        );
        assert_eq!(
            ValueType::Json.to_json(Some("{\"a\": 1}".into())),
            json!({"a": 1})
        );
        assert_eq!(ValueType::Text.to_json(None), Value::Null);
    }
}
