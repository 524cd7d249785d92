//! What every request handler shares.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use axum::body::Bytes;

use kluis_store::Store;
use time::OffsetDateTime;

/// The clock, injected so tests can fix "now".
pub type Clock = Arc<dyn Fn() -> OffsetDateTime + Send + Sync>;

pub fn system_clock() -> Clock {
    Arc::new(OffsetDateTime::now_utc)
}

#[derive(Debug, Clone)]
pub struct Settings {
    /// Send cookies with `Secure` (behind HTTPS); off for plain-HTTP loopback demos.
    pub secure_cookies: bool,
    /// How long a staff session lasts without signing in again.
    pub session_ttl: time::Duration,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            secure_cookies: false,
            session_ttl: time::Duration::hours(8),
        }
    }
}

#[derive(Clone)]
pub struct AppState {
    pub store: Store,
    pub clock: Clock,
    pub settings: Arc<Settings>,
    /// Serialised activity lists, valid for one activities revision of the database.
    pub activity_lists: Arc<Mutex<ActivityLists>>,
}

/// The JSON of `GET /api/v1/activities` per controller filter, made at one revision.
///
/// Serialising hundreds of activities costs far more than the request around it; the
/// database's revision counter (moved by a trigger on every write) says when the copy is
/// stale, so several instances sharing one database never serve an outdated list.
#[derive(Default)]
pub struct ActivityLists {
    revision: i64,
    lists: HashMap<Option<String>, Bytes>,
}

impl ActivityLists {
    /// Filters kept at once; more distinct filters (e.g. unknown controllers) start over.
    const CAPACITY: usize = 64;

    pub fn get(&self, revision: i64, controller: Option<&str>) -> Option<Bytes> {
        if self.revision != revision {
            return None;
        }
        self.lists.get(&controller.map(str::to_string)).cloned()
    }

    pub fn put(&mut self, revision: i64, controller: Option<&str>, json: Bytes) {
        if self.revision != revision || self.lists.len() >= Self::CAPACITY {
            self.lists.clear();
            self.revision = revision;
        }
        self.lists.insert(controller.map(str::to_string), json);
    }
}

impl AppState {
    pub fn new(store: Store, clock: Clock, settings: Settings) -> Self {
        AppState {
            store,
            clock,
            settings: Arc::new(settings),
            activity_lists: Arc::default(),
        }
    }

    pub fn now(&self) -> OffsetDateTime {
        (self.clock)()
    }
}
