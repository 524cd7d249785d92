//! What every request handler shares.

use std::sync::Arc;

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
}

impl AppState {
    pub fn new(store: Store, clock: Clock, settings: Settings) -> Self {
        AppState {
            store,
            clock,
            settings: Arc::new(settings),
        }
    }

    pub fn now(&self) -> OffsetDateTime {
        (self.clock)()
    }
}
