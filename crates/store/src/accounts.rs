//! Staff accounts: users with argon2id passwords, bearer API tokens and login sessions.
//!
//! Secrets never reach the database: passwords are stored as PHC strings, API tokens and
//! session cookies as the hex SHA-256 of the secret (they are long and random, so a fast
//! hash suffices and lookups stay a single indexed query).

use std::sync::OnceLock;

use argon2::Argon2;
use argon2::password_hash::phc::PasswordHash;
use argon2::password_hash::{PasswordHasher, PasswordVerifier};
use kluis_domain::access::Role;
use sha2::{Digest, Sha256};
use sqlx::types::Json;
use time::OffsetDateTime;
use uuid::Uuid;

use crate::error::{on_foreign_key, on_unique};
use crate::{Store, StoreError, fill_random, new_id, timestamp};

/// Every API token starts with this, so a leaked one is recognisable (secret scanners).
const TOKEN_PREFIX: &str = "kluis_";

/// Random bytes in API tokens, session secrets and CSRF tokens.
const SECRET_BYTES: usize = 32;

/// A staff account.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct User {
    pub id: Uuid,
    pub username: String,
    pub display_name: String,
    pub roles: Vec<Role>,
    /// A disabled account cannot log in, and its tokens and sessions stop working.
    pub disabled: bool,
}

/// A bearer token for scripts; the secret itself is shown once, at creation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiToken {
    pub id: Uuid,
    pub user_id: Uuid,
    pub name: String,
    pub created_at: OffsetDateTime,
    pub last_used_at: Option<OffsetDateTime>,
}

/// A logged-in staff member's session.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Session {
    pub user: User,
    /// Pages put this in their forms; a form post must carry it back.
    pub csrf_token: String,
    pub expires_at: OffsetDateTime,
}

type UserRow = (Uuid, String, String, Json<Vec<Role>>, bool);
/// A user row followed by the password hash.
type UserAndHashRow = (Uuid, String, String, Json<Vec<Role>>, bool, String);
/// A token id followed by its user's row.
type TokenUserRow = (
    Uuid,
    Option<OffsetDateTime>,
    Uuid,
    String,
    String,
    Json<Vec<Role>>,
    bool,
);

/// How stale `last_used_at` may get: recording every use would make each API read a
/// database write, while auditors only need to know roughly when a token was last used.
const TOKEN_USE_RESOLUTION: time::Duration = time::Duration::minutes(1);
/// A user row followed by the session's CSRF token and expiry.
type SessionRow = (
    Uuid,
    String,
    String,
    Json<Vec<Role>>,
    bool,
    String,
    OffsetDateTime,
);

fn user((id, username, display_name, Json(roles), disabled): UserRow) -> User {
    User {
        id,
        username,
        display_name,
        roles,
        disabled,
    }
}

/// `bytes` random bytes, hex-encoded.
fn random_hex(bytes: usize) -> Result<String, StoreError> {
    let mut buf = vec![0u8; bytes];
    fill_random(&mut buf)?;
    Ok(hex::encode(buf))
}

fn sha256_hex(secret: &str) -> String {
    hex::encode(Sha256::digest(secret.as_bytes()))
}

/// What `api_tokens.token_hash` holds for an API token; None for what cannot be one.
pub(crate) fn api_token_hash(secret: &str) -> Option<String> {
    secret.starts_with(TOKEN_PREFIX).then(|| sha256_hex(secret))
}

/// Runs CPU-heavy work (argon2) off the async workers.
async fn blocking<T: Send + 'static>(
    work: impl FnOnce() -> T + Send + 'static,
) -> Result<T, StoreError> {
    tokio::task::spawn_blocking(work)
        .await
        .map_err(|e| StoreError::Unavailable(format!("password hashing was interrupted: {e}")))
}

async fn hash_password(password: &str) -> Result<String, StoreError> {
    let password = password.to_owned();
    blocking(move || Argon2::default().hash_password(password.as_bytes()))
        .await?
        .map(|hash| hash.to_string())
        .map_err(|e| StoreError::Unavailable(format!("could not hash the password: {e}")))
}

/// Whether `password` matches the stored PHC string `hash`.
async fn password_matches(password: &str, hash: String) -> Result<bool, StoreError> {
    let password = password.to_owned();
    blocking(move || {
        let parsed = PasswordHash::new(&hash).map_err(|e| {
            StoreError::Corrupt(format!(
                "a stored password hash cannot be read ({e}); set a new password for that user"
            ))
        })?;
        match Argon2::default().verify_password(password.as_bytes(), &parsed) {
            Ok(()) => Ok(true),
            Err(argon2::password_hash::Error::PasswordInvalid) => Ok(false),
            Err(e) => Err(StoreError::Corrupt(format!(
                "a stored password hash cannot be checked ({e}); set a new password for that user"
            ))),
        }
    })
    .await?
}

/// A hash to verify against when the user does not exist, made with the same parameters
/// as real ones, so the answer takes as long as for a real user and does not reveal which
/// usernames exist.
fn dummy_hash() -> String {
    static DUMMY: OnceLock<String> = OnceLock::new();
    DUMMY
        .get_or_init(|| {
            Argon2::default()
                .hash_password_with_salt(b"no such user", b"kluis-dummy-salt")
                .map(|h| h.to_string())
                .unwrap_or_default()
        })
        .clone()
}

impl Store {
    /// Creates a staff account with an argon2id hash of `password`.
    pub async fn create_user(
        &self,
        username: &str,
        display_name: &str,
        password: &str,
        roles: &[Role],
        now: OffsetDateTime,
    ) -> Result<User, StoreError> {
        let now = timestamp(now);
        let hash = hash_password(password).await?;
        let id = new_id(now)?;
        on_pool!(self, |pool| {
            sqlx::query(
                "INSERT INTO users \
                 (id, username, display_name, password_hash, roles, disabled, created_at) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7)",
            )
            .bind(id)
            .bind(username)
            .bind(display_name)
            .bind(&hash)
            .bind(Json(roles))
            .bind(false)
            .bind(now)
            .execute(pool)
            .await
            .map(|_| ())
        })
        .map_err(|e| {
            on_unique(
                e,
                StoreError::AlreadyExists {
                    what: "user",
                    id: username.to_string(),
                },
            )
        })?;
        Ok(User {
            id,
            username: username.to_string(),
            display_name: display_name.to_string(),
            roles: roles.to_vec(),
            disabled: false,
        })
    }

    /// Replaces a user's password.
    pub async fn set_password(&self, username: &str, password: &str) -> Result<(), StoreError> {
        let hash = hash_password(password).await?;
        let updated = on_pool!(self, |pool| {
            sqlx::query("UPDATE users SET password_hash = $2 WHERE username = $1")
                .bind(username)
                .bind(&hash)
                .execute(pool)
                .await?
                .rows_affected()
        });
        if updated == 0 {
            return Err(no_such_user(username));
        }
        Ok(())
    }

    /// Disables or re-enables an account; a disabled account's tokens and sessions stop
    /// working at once.
    pub async fn set_user_disabled(
        &self,
        username: &str,
        disabled: bool,
    ) -> Result<(), StoreError> {
        let updated = on_pool!(self, |pool| {
            sqlx::query("UPDATE users SET disabled = $2 WHERE username = $1")
                .bind(username)
                .bind(disabled)
                .execute(pool)
                .await?
                .rows_affected()
        });
        if updated == 0 {
            return Err(no_such_user(username));
        }
        Ok(())
    }

    /// Every staff account, by username.
    pub async fn users(&self) -> Result<Vec<User>, StoreError> {
        let rows: Vec<UserRow> = on_pool!(self, |pool| {
            sqlx::query_as(
                "SELECT u.id, u.username, u.display_name, u.roles, u.disabled \
                 FROM users u ORDER BY u.username",
            )
            .fetch_all(pool)
            .await?
        });
        Ok(rows.into_iter().map(user).collect())
    }

    /// The staff account with this username, if any.
    pub async fn user_by_username(&self, username: &str) -> Result<Option<User>, StoreError> {
        let row: Option<UserRow> = on_pool!(self, |pool| {
            sqlx::query_as(
                "SELECT u.id, u.username, u.display_name, u.roles, u.disabled \
                 FROM users u WHERE u.username = $1",
            )
            .bind(username)
            .fetch_optional(pool)
            .await?
        });
        Ok(row.map(user))
    }

    /// The user when `password` is theirs; None for a wrong password, an unknown or a
    /// disabled user, all after the same amount of work.
    pub async fn verify_password(
        &self,
        username: &str,
        password: &str,
    ) -> Result<Option<User>, StoreError> {
        let row: Option<UserAndHashRow> = on_pool!(self, |pool| {
            sqlx::query_as(
                "SELECT u.id, u.username, u.display_name, u.roles, u.disabled, \
                     u.password_hash FROM users u WHERE u.username = $1",
            )
            .bind(username)
            .fetch_optional(pool)
            .await?
        });
        let Some((id, username, display_name, roles, disabled, hash)) = row else {
            // Spend the time a real check takes; the outcome does not matter.
            let _ = password_matches(password, dummy_hash()).await;
            return Ok(None);
        };
        let matches = password_matches(password, hash).await?;
        let user = user((id, username, display_name, roles, disabled));
        Ok((matches && !user.disabled).then_some(user))
    }

    /// Creates an API token for a user. Returns the secret, which is shown this once:
    /// only its hash is stored.
    pub async fn create_api_token(
        &self,
        user_id: Uuid,
        name: &str,
        now: OffsetDateTime,
    ) -> Result<(String, ApiToken), StoreError> {
        let now = timestamp(now);
        let secret = format!("{TOKEN_PREFIX}{}", random_hex(SECRET_BYTES)?);
        let id = new_id(now)?;
        on_pool!(self, |pool| {
            sqlx::query(
                "INSERT INTO api_tokens (id, user_id, name, token_hash, created_at, revoked) \
                 VALUES ($1, $2, $3, $4, $5, $6)",
            )
            .bind(id)
            .bind(user_id)
            .bind(name)
            .bind(sha256_hex(&secret))
            .bind(now)
            .bind(false)
            .execute(pool)
            .await
            .map(|_| ())
        })
        .map_err(|e| on_foreign_key(e, no_such_user(&user_id.to_string())))?;
        let token = ApiToken {
            id,
            user_id,
            name: name.to_string(),
            created_at: now,
            last_used_at: None,
        };
        Ok((secret, token))
    }

    /// The user an API token belongs to, noting that it was used at `now`. None for an
    /// unknown or revoked token or a disabled user.
    pub async fn user_for_api_token(
        &self,
        secret: &str,
        now: OffsetDateTime,
    ) -> Result<Option<User>, StoreError> {
        let Some(hash) = api_token_hash(secret) else {
            return Ok(None);
        };
        let row: Option<TokenUserRow> = on_pool!(self, |pool| {
            sqlx::query_as(
                "SELECT t.id, t.last_used_at, u.id, u.username, u.display_name, u.roles, u.disabled \
                     FROM api_tokens t JOIN users u ON u.id = t.user_id \
                     WHERE t.token_hash = $1 AND NOT t.revoked AND NOT u.disabled",
            )
            .bind(&hash)
            .fetch_optional(pool)
            .await?
        });
        let Some((token_id, last_used, id, username, display_name, roles, disabled)) = row else {
            return Ok(None);
        };
        self.note_token_use(token_id, last_used, now).await?;
        Ok(Some(user((id, username, display_name, roles, disabled))))
    }

    /// Records that a token was used `now`, unless that was recorded less than
    /// [`TOKEN_USE_RESOLUTION`] ago.
    pub(crate) async fn note_token_use(
        &self,
        token_id: Uuid,
        last_used: Option<OffsetDateTime>,
        now: OffsetDateTime,
    ) -> Result<(), StoreError> {
        let now = timestamp(now);
        if last_used.is_some_and(|t| now - t < TOKEN_USE_RESOLUTION) {
            return Ok(());
        }
        on_pool!(self, |pool| {
            sqlx::query("UPDATE api_tokens SET last_used_at = $2 WHERE id = $1")
                .bind(token_id)
                .bind(now)
                .execute(pool)
                .await
                .map(|_| ())
        })?;
        Ok(())
    }

    /// The API tokens of a user that are not revoked, oldest first.
    pub async fn api_tokens(&self, user_id: Uuid) -> Result<Vec<ApiToken>, StoreError> {
        let rows: Vec<(Uuid, Uuid, String, OffsetDateTime, Option<OffsetDateTime>)> =
            on_pool!(self, |pool| {
                sqlx::query_as(
                    "SELECT id, user_id, name, created_at, last_used_at FROM api_tokens \
                     WHERE user_id = $1 AND NOT revoked ORDER BY id",
                )
                .bind(user_id)
                .fetch_all(pool)
                .await?
            });
        Ok(rows
            .into_iter()
            .map(|(id, user_id, name, created_at, last_used_at)| ApiToken {
                id,
                user_id,
                name,
                created_at,
                last_used_at,
            })
            .collect())
    }

    /// Revokes an API token for good.
    pub async fn revoke_api_token(&self, id: Uuid) -> Result<(), StoreError> {
        let updated = on_pool!(self, |pool| {
            sqlx::query("UPDATE api_tokens SET revoked = $2 WHERE id = $1")
                .bind(id)
                .bind(true)
                .execute(pool)
                .await?
                .rows_affected()
        });
        if updated == 0 {
            return Err(StoreError::NotFound {
                what: "API token",
                id: id.to_string(),
            });
        }
        Ok(())
    }

    /// Starts a session for a user, lasting `ttl`. Returns the secret for the cookie (only
    /// its hash is stored) and the session with a fresh CSRF token.
    pub async fn create_session(
        &self,
        user_id: Uuid,
        now: OffsetDateTime,
        ttl: time::Duration,
    ) -> Result<(String, Session), StoreError> {
        let now = timestamp(now);
        let expires_at = now.saturating_add(ttl);
        let row: Option<UserRow> = on_pool!(self, |pool| {
            sqlx::query_as(
                "SELECT u.id, u.username, u.display_name, u.roles, u.disabled \
                 FROM users u WHERE u.id = $1",
            )
            .bind(user_id)
            .fetch_optional(pool)
            .await?
        });
        let user = row
            .map(user)
            .ok_or_else(|| no_such_user(&user_id.to_string()))?;
        let secret = random_hex(SECRET_BYTES)?;
        let csrf_token = random_hex(SECRET_BYTES)?;
        on_pool!(self, |pool| {
            sqlx::query(
                "INSERT INTO sessions (secret_hash, user_id, csrf_token, created_at, expires_at) \
                 VALUES ($1, $2, $3, $4, $5)",
            )
            .bind(sha256_hex(&secret))
            .bind(user_id)
            .bind(&csrf_token)
            .bind(now)
            .bind(expires_at)
            .execute(pool)
            .await
            .map(|_| ())
        })
        .map_err(|e| on_foreign_key(e, no_such_user(&user_id.to_string())))?;
        let session = Session {
            user,
            csrf_token,
            expires_at,
        };
        Ok((secret, session))
    }

    /// The session a cookie secret opens; None when unknown, expired at `now`, or the
    /// user is disabled.
    pub async fn session(
        &self,
        secret: &str,
        now: OffsetDateTime,
    ) -> Result<Option<Session>, StoreError> {
        let row: Option<SessionRow> = on_pool!(self, |pool| {
            sqlx::query_as(
                "SELECT u.id, u.username, u.display_name, u.roles, u.disabled, \
                     s.csrf_token, s.expires_at \
                     FROM sessions s JOIN users u ON u.id = s.user_id WHERE s.secret_hash = $1",
            )
            .bind(sha256_hex(secret))
            .fetch_optional(pool)
            .await?
        });
        let Some((id, username, display_name, roles, disabled, csrf_token, expires_at)) = row
        else {
            return Ok(None);
        };
        // Compared here, not in SQL: SQLite's text timestamps do not sort reliably.
        if expires_at <= now || disabled {
            return Ok(None);
        }
        Ok(Some(Session {
            user: user((id, username, display_name, roles, disabled)),
            csrf_token,
            expires_at,
        }))
    }

    /// Ends a session (logout). Ending an unknown or already ended session is not an error.
    pub async fn delete_session(&self, secret: &str) -> Result<(), StoreError> {
        on_pool!(self, |pool| {
            sqlx::query("DELETE FROM sessions WHERE secret_hash = $1")
                .bind(sha256_hex(secret))
                .execute(pool)
                .await
                .map(|_| ())
        })?;
        Ok(())
    }
}

fn no_such_user(id: &str) -> StoreError {
    StoreError::NotFound {
        what: "user",
        id: id.to_string(),
    }
}
