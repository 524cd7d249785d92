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
    /// Connection URLs of the authority's other systems, by name, from configuration.
    pub system_urls: crate::systems::SystemUrls,
    /// The authority's own websites (`https://www.example.be`) whose cookie banner may send
    /// visitors' choices to kluis from the browser (CORS); others are refused.
    pub cookie_origins: Vec<String>,
    /// Where citizens reach kluis (`https://privacy.example.be`, no trailing slash): the
    /// start of every link kluis puts in mail.
    pub public_url: String,
    /// How portability exports are sent to other controllers (art. 20(2)): extra trusted
    /// CA certificates, the hosts allowed on internal networks, the timeout. Its TLS set-up
    /// is made on the first send and reused.
    pub portability: crate::portability::Transmitter,
    /// How many heavy rights-request jobs (access packages, portability exports, fulfilment
    /// runs) run at once; see [`BulkGate`]. At least 1. A transmission holds a turn while
    /// its export is made, not while the other controller answers.
    pub bulk_concurrency: usize,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            secure_cookies: false,
            session_ttl: time::Duration::hours(8),
            system_urls: Default::default(),
            cookie_origins: Vec::new(),
            public_url: "http://127.0.0.1:8080".into(),
            portability: Default::default(),
            bulk_concurrency: BulkGate::default_permits(),
        }
    }
}

/// The bulkhead between heavy rights-request work and everything else.
///
/// One access package costs tens of milliseconds of CPU (the vault, every connected
/// system, the PDF and the zip), a fulfilment run touches every system; a person lookup
/// costs a few. Left alone, a hundred packages at once saturate every core and a lookup
/// queues behind all of them (issue 4: a lookup must not slow by more than 2× while 100
/// requests are in flight). So the heavy work waits here for one of a few permits: at
/// most that many run at once, the others wait their turn in arrival order (tokio's
/// semaphore is fair), none is refused, and the remaining cores stay free for interactive
/// lookups and the back-office pages. One gate for all bulk work, per process.
#[derive(Clone)]
pub struct BulkGate(Arc<tokio::sync::Semaphore>);

impl BulkGate {
    /// `permits` jobs at once (at least 1).
    pub fn new(permits: usize) -> Self {
        BulkGate(Arc::new(tokio::sync::Semaphore::new(permits.max(1))))
    }

    /// Half the available cores, at least 1: the other half serves interactive requests.
    pub fn default_permits() -> usize {
        std::thread::available_parallelism().map_or(1, |n| (n.get() / 2).max(1))
    }

    /// Waits for a turn; the work may run while the permit is held.
    pub async fn admit(&self) -> tokio::sync::OwnedSemaphorePermit {
        self.0
            .clone()
            .acquire_owned()
            .await
            .expect("the bulk gate is never closed")
    }

    /// Permits free now (for tests and diagnostics).
    pub fn available(&self) -> usize {
        self.0.available_permits()
    }
}

#[derive(Clone)]
pub struct AppState {
    pub store: Store,
    pub clock: Clock,
    pub settings: Arc<Settings>,
    /// Serialised activity lists, valid for one activities revision of the database.
    pub activity_lists: Arc<Mutex<ActivityLists>>,
    /// Whether purposes may ask consent, valid for one activities revision.
    pub consent_purposes: Arc<Mutex<ConsentPurposes>>,
    /// Failed sign-ins per username, to slow down password guessing.
    pub login_throttle: Arc<Mutex<LoginThrottle>>,
    /// Admission of heavy rights-request work, `settings.bulk_concurrency` at a time.
    pub bulk: BulkGate,
}

/// Counts failed sign-ins per username in this process: after [`LoginThrottle::LIMIT`]
/// failures within [`LoginThrottle::WINDOW`], the username is refused without checking the
/// password until the window since the last failure has passed. A success clears the count.
///
/// Per process, not per deployment: with several instances an attacker gets the limit once
/// per instance, which still turns millions of guesses into tens.
#[derive(Default)]
pub struct LoginThrottle {
    failures: HashMap<String, (u32, OffsetDateTime)>,
}

impl LoginThrottle {
    pub const LIMIT: u32 = 10;
    pub const WINDOW: time::Duration = time::Duration::minutes(15);
    /// Usernames tracked at once; beyond this, expired entries are dropped.
    const CAPACITY: usize = 10_000;

    /// When `username` may try again, if it is refused now.
    pub fn refused_until(&self, username: &str, now: OffsetDateTime) -> Option<OffsetDateTime> {
        let (count, last) = self.failures.get(&username.to_lowercase())?;
        let until = *last + Self::WINDOW;
        (*count >= Self::LIMIT && now < until).then_some(until)
    }

    pub fn failed(&mut self, username: &str, now: OffsetDateTime) {
        if self.failures.len() >= Self::CAPACITY {
            self.failures
                .retain(|_, (_, last)| now - *last < Self::WINDOW);
        }
        let entry = self
            .failures
            .entry(username.to_lowercase())
            .or_insert((0, now));
        if now - entry.1 >= Self::WINDOW {
            *entry = (0, now);
        }
        entry.0 += 1;
        entry.1 = now;
    }

    pub fn succeeded(&mut self, username: &str) {
        self.failures.remove(&username.to_lowercase());
    }
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

/// What a consent check must know about its purpose, per processing activity, learnt at
/// one activities revision.
///
/// Reading and parsing the activity's document would cost more than the rest of a check;
/// the check reads the revision together with its answers, so a copy is never used once
/// the register has changed, on this instance or another.
#[derive(Default)]
pub struct ConsentPurposes {
    revision: i64,
    purposes: HashMap<String, PurposeCheck>,
}

/// Whether a processing activity may be the purpose of a consent check.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PurposeCheck {
    OnConsent,
    /// There is no such processing activity.
    Unknown,
    /// It may not ask consent; the reason, for the caller.
    Refused(String),
}

impl ConsentPurposes {
    /// Purposes kept at once; more distinct ones (e.g. unknown ids) start over.
    const CAPACITY: usize = 1_024;

    pub fn get(&self, revision: i64, purpose: &str) -> Option<PurposeCheck> {
        if self.revision != revision {
            return None;
        }
        self.purposes.get(purpose).cloned()
    }

    /// Keeps `check`, learnt after reading `revision`; what was learnt at a later revision
    /// stays.
    pub fn put(&mut self, revision: i64, purpose: &str, check: PurposeCheck) {
        if revision < self.revision {
            return;
        }
        if self.revision != revision || self.purposes.len() >= Self::CAPACITY {
            self.purposes.clear();
            self.revision = revision;
        }
        self.purposes.insert(purpose.to_string(), check);
    }
}

impl AppState {
    pub fn new(store: Store, clock: Clock, settings: Settings) -> Self {
        AppState {
            store,
            clock,
            bulk: BulkGate::new(settings.bulk_concurrency),
            settings: Arc::new(settings),
            activity_lists: Arc::default(),
            consent_purposes: Arc::default(),
            login_throttle: Arc::default(),
        }
    }

    pub fn now(&self) -> OffsetDateTime {
        (self.clock)()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    #[test]
    fn repeated_failures_lock_a_username_for_a_while() {
        let t0 = datetime!(2026-11-23 10:00 UTC);
        let mut throttle = LoginThrottle::default();
        for i in 0..LoginThrottle::LIMIT {
            assert_eq!(throttle.refused_until("anna", t0), None, "attempt {i}");
            throttle.failed("Anna", t0);
        }
        let until = t0 + LoginThrottle::WINDOW;
        assert_eq!(throttle.refused_until("anna", t0), Some(until));
        assert_eq!(
            throttle.refused_until("bert", t0),
            None,
            "other usernames are not affected"
        );
        assert_eq!(throttle.refused_until("anna", until), None, "the lock ends");
        throttle.failed("anna", until);
        assert_eq!(
            throttle.refused_until("anna", until),
            None,
            "a new window starts at one"
        );
    }

    #[test]
    fn purposes_are_known_for_one_revision() {
        let mut purposes = ConsentPurposes::default();
        purposes.put(3, "nieuwsbrieven", PurposeCheck::OnConsent);
        assert_eq!(
            purposes.get(3, "nieuwsbrieven"),
            Some(PurposeCheck::OnConsent)
        );
        assert_eq!(purposes.get(3, "werving"), None);
        assert_eq!(
            purposes.get(4, "nieuwsbrieven"),
            None,
            "the register changed"
        );
        purposes.put(4, "nieuwsbrieven", PurposeCheck::Unknown);
        purposes.put(3, "werving", PurposeCheck::Refused("not on consent".into()));
        assert_eq!(
            purposes.get(4, "nieuwsbrieven"),
            Some(PurposeCheck::Unknown),
            "what an older read learnt does not replace a newer one"
        );
        assert_eq!(purposes.get(3, "werving"), None);
    }

    /// With one permit, jobs run one at a time, in the order they arrived, and none runs
    /// while the permit is taken; ordering only, no timings.
    #[tokio::test]
    async fn the_bulk_gate_admits_one_job_per_permit_in_arrival_order() {
        use std::sync::atomic::{AtomicUsize, Ordering};

        let gate = BulkGate::new(1);
        let held = gate.admit().await;
        let running = Arc::new(AtomicUsize::new(0));
        let ran = Arc::new(Mutex::new(Vec::new()));
        let mut jobs = Vec::new();
        for job in 0..4 {
            let (gate, running, ran) = (gate.clone(), running.clone(), ran.clone());
            jobs.push(tokio::spawn(async move {
                let _turn = gate.admit().await;
                let at_once = running.fetch_add(1, Ordering::SeqCst) + 1;
                ran.lock().unwrap().push((job, at_once));
                // Give the others every chance to overlap.
                for _ in 0..10 {
                    tokio::task::yield_now().await;
                }
                running.fetch_sub(1, Ordering::SeqCst);
            }));
            // Let this job queue before the next arrives (one thread: it runs to the gate).
            tokio::task::yield_now().await;
        }
        assert!(ran.lock().unwrap().is_empty(), "a job ran without a permit");
        drop(held);
        for job in jobs {
            job.await.unwrap();
        }
        assert_eq!(*ran.lock().unwrap(), [(0, 1), (1, 1), (2, 1), (3, 1)]);
        assert_eq!(gate.available(), 1);
        assert!(BulkGate::default_permits() >= 1);
    }

    #[test]
    fn a_success_clears_the_count() {
        let t0 = datetime!(2026-11-23 10:00 UTC);
        let mut throttle = LoginThrottle::default();
        for _ in 0..LoginThrottle::LIMIT - 1 {
            throttle.failed("anna", t0);
        }
        throttle.succeeded("anna");
        throttle.failed("anna", t0);
        assert_eq!(throttle.refused_until("anna", t0), None);
    }
}
