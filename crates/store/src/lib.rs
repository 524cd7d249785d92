//! Persistence for kluis: the register of processing activities, published privacy
//! statements and staff accounts, in SQLite (the embedded default) or PostgreSQL.
//!
//! Callers see one [`Store`]; each method dispatches once on the backend and runs the same
//! SQL against either pool (SQLite accepts PostgreSQL's `$1` placeholders). Entities are
//! stored whole as JSON documents next to the key columns used to find and order them.
//! The clock is injected: every write takes `now` from the caller.

/// Runs `$body` with `$pool` bound to the store's pool, whichever backend it is. The body is
/// compiled once per backend, so it must evaluate to the same type in both.
macro_rules! on_pool {
    ($store:expr, |$pool:ident| $body:expr) => {
        match &$store.pool {
            $crate::Pool::Sqlite($pool) => $body,
            $crate::Pool::Postgres($pool) => $body,
        }
    };
}

/// Runs `$body` in a write transaction bound to `$tx`; commits when the body completes and
/// rolls back when it leaves early (`?` or `return`), because the transaction is dropped.
macro_rules! write_transaction {
    ($store:expr, |$tx:ident| $body:expr) => {
        match &$store.pool {
            $crate::Pool::Sqlite(pool) => {
                // IMMEDIATE takes the write lock up front, so concurrent writers queue on
                // busy_timeout instead of failing when a read lock cannot be upgraded.
                let mut $tx = pool.begin_with("BEGIN IMMEDIATE").await?;
                let out = $body;
                $tx.commit().await?;
                out
            }
            $crate::Pool::Postgres(pool) => {
                let mut $tx = pool.begin().await?;
                let out = $body;
                $tx.commit().await?;
                out
            }
        }
    };
}

/// Runs `$body` in a read-only transaction, so several queries see one consistent state.
macro_rules! read_transaction {
    ($store:expr, |$tx:ident| $body:expr) => {
        match &$store.pool {
            $crate::Pool::Sqlite(pool) => {
                let mut $tx = pool.begin_with("BEGIN").await?;
                let out = $body;
                $tx.commit().await?;
                out
            }
            $crate::Pool::Postgres(pool) => {
                let mut $tx = pool
                    .begin_with("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY")
                    .await?;
                let out = $body;
                $tx.commit().await?;
                out
            }
        }
    };
}

mod accounts;
mod breaches;
mod consent;
mod cookies;
mod error;
mod fulfilment;
mod log;
mod mail;
mod media;
mod register;
mod restriction;
mod retention;
mod rights;
mod staff;
mod statements;
mod statistics;
mod system_marks;
mod systems;
#[cfg(feature = "testing")]
pub mod testing;
mod vault;

use std::str::FromStr;
use std::time::Duration;

use sqlx::migrate::Migrator;
use sqlx::postgres::{PgConnectOptions, PgPool, PgPoolOptions};
use sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteSynchronous,
};
use time::{OffsetDateTime, UtcOffset};
use uuid::Uuid;

pub use accounts::{ApiToken, Session, User};
pub use breaches::{
    Affected, BREACH_PURPOSE, Breach, BreachFilter, LetterRecipient, NotifyOutcome,
    StoredArt34Decision, StoredNotice, SystemNotifyOutcome, SystemRecipient,
};
pub use consent::{
    Consent, ConsentAnswer, ConsentSubject, StoredConsentEvent, TokenConsentCheck, Withdrawal,
};
pub use cookies::{CookieChoiceCount, StoredCookieChoice};
pub use error::StoreError;
pub use fulfilment::{
    ActionStatus, CarriedOutBy, FulfilmentAction, FulfilmentStatus, PACKAGE, PlannedAction,
    RecipientToTell, TableCounts, VAULT, plan_actions, recipients_to_tell, report_tables,
    summary as fulfilment_summary,
};
pub use log::Processing;
pub use mail::{MAIL_MAX_ATTEMPTS, MailRetry, MailStatus, QueuedMail};
pub use media::{MediaItem, MediaItemView, MediaRemovalRequest, MediaSubject};
pub use register::{ActivityVersion, ImportSummary, Versioned};
pub use restriction::{
    FieldChange, Objection, ObjectionReport, RecordRestriction, Rectification, RectificationReport,
    Restriction, RestrictionReport, may_lift,
};
pub use retention::{
    AnonymisedRecord, DestructionList, DestructionLogEntry, Extension, Hold, PlanLine,
    RetentionPlan, RetentionRun, SweepOptions, SweepOutcome,
};
pub use rights::{
    FiledRequest, IdentityDocument, MAX_DOCUMENT_BYTES, NewRequest, PublicStatus,
    RectificationInSystem, Reminder, ReminderRun, RequestChange, RequestFilter, RequestStep,
    RequestSummary, RightsRequest, RowValue, SystemRectification, Transmission,
    TransmissionOutcome,
};
pub use staff::ConfidentialityStatement;
pub use statements::StatementVersion;
pub use statistics::{LoggedExtract, StatisticsExtract};
pub use system_marks::SystemMarks;
pub use systems::StoredSystem;
pub use vault::{Record, RecordChange, Subject, SubjectQuery, SubjectView};

static SQLITE_MIGRATOR: Migrator = sqlx::migrate!("./migrations/sqlite");
static POSTGRES_MIGRATOR: Migrator = sqlx::migrate!("./migrations/postgres");

/// How long a query waits for a locked SQLite database or a free PostgreSQL connection.
const WAIT: Duration = Duration::from_secs(5);

/// Which database a store runs on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// The persistence of kluis. Cheap to clone: clones share one connection pool.
#[derive(Debug, Clone)]
pub struct Store {
    pool: Pool,
    /// Encrypt identifiers and make blind indexes and pseudonyms; see [`Store::with_keys`].
    keys: Option<std::sync::Arc<kluis_keys::Keyring>>,
    /// The processing log's group commit, started on first use (it needs the runtime).
    appender: std::sync::Arc<std::sync::OnceLock<tokio::sync::mpsc::Sender<log::PendingAppend>>>,
}

#[derive(Debug, Clone)]
enum Pool {
    Sqlite(SqlitePool),
    Postgres(PgPool),
}

impl Store {
    /// Opens the database at `url` and brings its schema up to date.
    ///
    /// `sqlite://FILE` creates the file when missing; `sqlite::memory:` is a private
    /// in-memory database; `postgres://USER:PASSWORD@HOST:PORT/DATABASE` needs an existing
    /// database.
    pub async fn connect(url: &str) -> Result<Store, StoreError> {
        let pool = if url.starts_with("sqlite:") {
            Pool::Sqlite(connect_sqlite(url).await?)
        } else if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            Pool::Postgres(connect_postgres(url).await?)
        } else {
            return Err(StoreError::InvalidUrl(format!(
                "'{}' is not a database URL kluis knows: use sqlite://FILE (e.g. \
                 sqlite://kluis.db), sqlite::memory: or postgres://USER:PASSWORD@HOST:PORT/DATABASE",
                mask_password(url)
            )));
        };
        let store = Store {
            pool,
            keys: None,
            appender: Default::default(),
        };
        store.migrate().await?;
        Ok(store)
    }

    /// The group committer's queue. Its task holds a store without a queue of its own, so
    /// it ends when the last store handle using it is dropped.
    fn group_commit(&self) -> &tokio::sync::mpsc::Sender<log::PendingAppend> {
        self.appender.get_or_init(|| {
            log::spawn_group_committer(Store {
                pool: self.pool.clone(),
                keys: None,
                appender: Default::default(),
            })
        })
    }

    pub fn backend(&self) -> Backend {
        match self.pool {
            Pool::Sqlite(_) => Backend::Sqlite,
            Pool::Postgres(_) => Backend::Postgres,
        }
    }

    /// Closes every connection; waits for queries in flight.
    pub async fn close(&self) {
        on_pool!(self, |pool| pool.close().await)
    }

    async fn migrate(&self) -> Result<(), StoreError> {
        match &self.pool {
            Pool::Sqlite(pool) => SQLITE_MIGRATOR.run(pool).await?,
            Pool::Postgres(pool) => POSTGRES_MIGRATOR.run(pool).await?,
        }
        Ok(())
    }
}

async fn connect_sqlite(url: &str) -> Result<SqlitePool, StoreError> {
    let options = SqliteConnectOptions::from_str(url)
        .map_err(|e| StoreError::InvalidUrl(format!("'{url}': {e}")))?
        .create_if_missing(true)
        .foreign_keys(true)
        .busy_timeout(WAIT)
        .journal_mode(SqliteJournalMode::Wal)
        // FULL: a committed change and its processing-log entry survive a power cut, not
        // only a crash of kluis.
        .synchronous(SqliteSynchronous::Full)
        // Read pages straight from the operating system's cache instead of copying each one
        // in with a system call: a fifth more consent checks a second. Up to 1 GiB of the
        // file is mapped; what is read counts in the process's RSS as shared file pages.
        .pragma("mmap_size", "1073741824");
    let in_memory = url.contains(":memory:") || url.contains("mode=memory");
    let pool_options = if in_memory {
        // Each connection to an in-memory database would see its own empty database, and
        // closing the last one destroys it: keep exactly one, forever.
        SqlitePoolOptions::new()
            .max_connections(1)
            .min_connections(1)
            .idle_timeout(None)
            .max_lifetime(None)
    } else {
        SqlitePoolOptions::new().max_connections(8)
    };
    let path = options.get_filename().display().to_string();
    pool_options
        // A connection to a local file does not go away while idle: testing it before each
        // use would cost every query one more hand-off to its worker thread.
        .test_before_acquire(false)
        .acquire_timeout(WAIT)
        .connect_with(options)
        .await
        .map_err(|e| {
            StoreError::Unavailable(format!(
                "cannot open the SQLite database '{path}': {e}; check that its directory exists \
             and that kluis may write there"
            ))
        })
}

async fn connect_postgres(url: &str) -> Result<PgPool, StoreError> {
    let masked = mask_password(url);
    let options = PgConnectOptions::from_str(url)
        .map_err(|e| StoreError::InvalidUrl(format!("'{masked}': {e}")))?;
    PgPoolOptions::new()
        .max_connections(10)
        .acquire_timeout(WAIT)
        .connect_with(options)
        .await
        .map_err(|e| {
            StoreError::Unavailable(format!(
                "cannot connect to PostgreSQL at '{masked}': {e}; check that the server runs \
                 and accepts connections on that host and port, that the database exists, and \
                 that the user name and password are right"
            ))
        })
}

pub use kluis_keys::mask_password;

/// `now` as stored: in UTC and cut to microseconds, the precision PostgreSQL keeps, so
/// what a write returns equals what a later read returns on both backends.
fn timestamp(now: OffsetDateTime) -> OffsetDateTime {
    let utc = now.to_offset(UtcOffset::UTC);
    utc.replace_nanosecond(utc.nanosecond() / 1_000 * 1_000)
        .unwrap_or(utc)
}

/// Fills `bytes` from the operating system's random number generator.
fn fill_random(bytes: &mut [u8]) -> Result<(), StoreError> {
    getrandom::fill(bytes).map_err(|e| {
        StoreError::Unavailable(format!(
            "the operating system's random number generator failed: {e}"
        ))
    })
}

/// A uuid v7 for a row created at `now`: ordered by creation, unguessable in its rest.
fn new_id(now: OffsetDateTime) -> Result<Uuid, StoreError> {
    let millis = u64::try_from(now.unix_timestamp_nanos() / 1_000_000).unwrap_or(0);
    let mut random = [0u8; 10];
    fill_random(&mut random)?;
    Ok(uuid::Builder::from_unix_timestamp_millis(millis, &random).into_uuid())
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    #[test]
    fn passwords_are_masked_in_urls() {
        assert_eq!(
            mask_password("postgres://kluis:s3cr3t@db.example:5432/kluis?sslmode=require"),
            "postgres://kluis:****@db.example:5432/kluis?sslmode=require"
        );
        assert_eq!(
            mask_password("postgres://kluis@db:5432/kluis"),
            "postgres://kluis@db:5432/kluis"
        );
        assert_eq!(mask_password("sqlite://kluis.db"), "sqlite://kluis.db");
        assert_eq!(mask_password("kluis.db"), "kluis.db");
        // An '@' in the path is not userinfo.
        assert_eq!(mask_password("postgres://h/db@x"), "postgres://h/db@x");
    }

    #[test]
    fn timestamps_are_utc_microseconds() {
        let t = timestamp(datetime!(2026-03-01 10:00:00.123456789 +01:00));
        assert_eq!(t, datetime!(2026-03-01 09:00:00.123456 UTC));
        assert_eq!(t.offset(), UtcOffset::UTC);
    }

    #[test]
    fn ids_are_v7_and_carry_their_creation_time() {
        let now = datetime!(2026-03-01 10:00:00 UTC);
        let a = new_id(now).unwrap();
        let b = new_id(now).unwrap();
        assert_ne!(a, b);
        assert_eq!(a.get_version_num(), 7);
        let (secs, _) = a.get_timestamp().unwrap().to_unix();
        assert_eq!(i64::try_from(secs).unwrap(), now.unix_timestamp());
    }

    #[tokio::test]
    async fn unknown_url_schemes_are_refused_with_a_hint() {
        let err = Store::connect("mysql://root:pw@localhost/kluis")
            .await
            .unwrap_err();
        let message = err.to_string();
        assert!(matches!(err, StoreError::InvalidUrl(_)), "{err:?}");
        assert!(message.contains("sqlite://"), "{message}");
        assert!(!message.contains(":pw@"), "password leaked: {message}");
    }
}
