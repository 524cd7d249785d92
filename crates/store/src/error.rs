//! What can go wrong in the store, in words that tell the user what to do.

/// An error of the store.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("{what} '{id}' does not exist")]
    NotFound { what: &'static str, id: String },

    /// An optimistic-concurrency check failed: someone else saved in between.
    #[error(
        "{what} '{id}' was changed by someone else: you edited version {expected}, it is now \
         at version {actual}; reload it and apply your change again"
    )]
    Conflict {
        what: &'static str,
        id: String,
        expected: i64,
        actual: i64,
    },

    #[error("{what} '{id}' already exists: choose another id, or edit the existing one")]
    AlreadyExists { what: &'static str, id: String },

    /// A delete refused because other records still refer to the entity.
    #[error("{what} '{id}' cannot be deleted: {by} still refer to it")]
    InUse {
        what: &'static str,
        id: String,
        by: &'static str,
    },

    /// What was asked breaks a rule; the message says which and how to fix it.
    #[error("{0}")]
    Invalid(String),

    /// Personal data outside the caller's need-to-know.
    #[error(
        "this personal data belongs to processing activities you are not assigned to: {}",
        activities.join(", ")
    )]
    OutOfScope { activities: Vec<String> },

    /// Processing of a person's data under an activity is restricted (GDPR art. 18): the
    /// data may only be stored.
    #[error(
        "processing of this person's data under '{activity}' is restricted since {since} at \
         request {reference} (GDPR art. 18): kluis only stores it; lift the restriction first \
         (after telling the person), or rectify it under request {reference}"
    )]
    Restricted {
        activity: String,
        reference: String,
        since: time::Date,
    },

    /// The person objected to processing under an activity (GDPR art. 21), and no
    /// compelling grounds to continue were recorded.
    #[error(
        "the person objected to processing of their data under '{activity}' (request \
         {reference}, GDPR art. 21): stop, or record the compelling grounds that override \
         the objection under that request first"
    )]
    Objected { activity: String, reference: String },

    /// The store was opened without keys, and personal data needs them.
    #[error(
        "kluis has no encryption keys configured: set [keys] in the configuration file or \
         KLUIS_KEYS_FILE"
    )]
    NoKeys,

    #[error("invalid database URL: {0}")]
    InvalidUrl(String),

    /// The database cannot be reached; the message says which one and what to check.
    #[error("database unavailable: {0}")]
    Unavailable(String),

    #[error("database error: {0}")]
    Database(#[source] sqlx::Error),

    #[error(
        "could not bring the database schema up to date: {0}; if a newer kluis used this \
         database, run that version"
    )]
    Migration(#[from] sqlx::migrate::MigrateError),

    /// Stored data that kluis cannot read back.
    #[error(
        "the database holds data kluis cannot read: {0}; restore it from a backup or report \
         a bug"
    )]
    Corrupt(String),
}

impl From<sqlx::Error> for StoreError {
    fn from(e: sqlx::Error) -> Self {
        match e {
            sqlx::Error::ColumnDecode { index, source } => {
                StoreError::Corrupt(format!("column {index}: {source}"))
            }
            sqlx::Error::Decode(source) => StoreError::Corrupt(source.to_string()),
            sqlx::Error::PoolTimedOut => StoreError::Unavailable(
                "no database connection became free in time; the database may be overloaded \
                 or unreachable"
                    .to_string(),
            ),
            sqlx::Error::PoolClosed => {
                StoreError::Unavailable("the store was closed; kluis is shutting down".to_string())
            }
            sqlx::Error::Io(io) => {
                StoreError::Unavailable(format!("lost the connection to the database: {io}"))
            }
            other => StoreError::Database(other),
        }
    }
}

/// Whether `e` is a violated unique constraint or primary key.
pub(crate) fn is_unique_violation(e: &sqlx::Error) -> bool {
    matches!(e, sqlx::Error::Database(db) if db.is_unique_violation())
}

/// Whether `e` is a violated foreign key.
pub(crate) fn is_foreign_key_violation(e: &sqlx::Error) -> bool {
    matches!(e, sqlx::Error::Database(db) if db.is_foreign_key_violation())
}

/// `e`, or `instead` when `e` is a unique violation.
pub(crate) fn on_unique(e: sqlx::Error, instead: StoreError) -> StoreError {
    if is_unique_violation(&e) {
        instead
    } else {
        e.into()
    }
}

/// `e`, or `instead` when `e` is a foreign-key violation.
pub(crate) fn on_foreign_key(e: sqlx::Error, instead: StoreError) -> StoreError {
    if is_foreign_key_violation(&e) {
        instead
    } else {
        e.into()
    }
}

/// The error for a write whose version check matched no row: gone, or changed meanwhile.
pub(crate) fn stale(
    what: &'static str,
    id: &str,
    expected: i64,
    actual: Option<i64>,
) -> StoreError {
    match actual {
        None => StoreError::NotFound {
            what,
            id: id.to_string(),
        },
        Some(actual) => StoreError::Conflict {
            what,
            id: id.to_string(),
            expected,
            actual,
        },
    }
}
