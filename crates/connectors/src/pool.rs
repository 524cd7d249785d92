//! Connections kept open per external system, so a search does not pay for a new
//! connection (and, on PostgreSQL, a new backend with cold catalog caches) every time.
//!
//! The pools live in one process-wide registry keyed by what the connection is opened
//! with (kind, URL, query timeout), not in [`crate::System`]: a `System` stays a cheap
//! description that callers build from the stored dataset map for every search (the web
//! layer and the CLI do), two `System`s for the same URL share connections, and no
//! caller has to carry a pool handle around. The public API is unchanged.
//!
//! Not sqlx's `Pool`: it retries a refused connection until its acquire timeout and then
//! reports only `PoolTimedOut`, so a system that is down would cost every search the whole
//! connect timeout and lose the reason ("connection refused") that tells the DBA what to
//! check. Here a new connection is opened exactly as before, with its own error, and the
//! pool only keeps what was opened.
//!
//! A pool holds at most [`MAX_CONNECTIONS`] connections, in use or idle. A connection goes
//! back only when its user ended its transaction cleanly ([`Lease::finish`] with `true`);
//! after an error, a timeout or a cancelled future it is closed, so no half-read result or
//! open transaction is ever handed on. A kept connection is tested by the first statement
//! of its next use (the `BEGIN`, or a ping): if the server dropped it (a restart, an
//! administrator ending sessions, an idle timeout), it is thrown away and the next idle or
//! a new connection is taken instead, so a broken connection never fails a search.

use std::collections::HashMap;
use std::ops::{Deref, DerefMut};
use std::sync::{Arc, LazyLock, Mutex};
use std::time::{Duration, Instant};

use kluis_domain::dataset_map::SystemKind;
use sqlx::Connection;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

use crate::db::{Conn, Target};

/// Most connections kluis keeps open to one system at once (per process), in use or idle.
/// More searches at once wait for one of them.
pub const MAX_CONNECTIONS: usize = 8;
/// A connection idle for longer is closed rather than reused.
const IDLE_TIMEOUT: Duration = Duration::from_secs(60);
/// A connection older than this is closed when it comes back, so the server side of a
/// long-running kluis gets fresh backends now and then.
const MAX_LIFETIME: Duration = Duration::from_secs(30 * 60);
/// A MySQL connection keeps its prepared statements (see `Conn::rows`); once it holds this
/// many, it is closed when it comes back instead of letting sqlx evict statements (an
/// eviction is an unanswered close packet, and the statement after it waits ~40 ms for a
/// delayed ACK). Half of the cache's capacity, so one use never reaches the limit.
pub(crate) const MYSQL_STATEMENTS_KEPT: usize = 256;
const MYSQL_RETIRE_AT: usize = MYSQL_STATEMENTS_KEPT / 2;

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
struct Key {
    kind: SystemKind,
    url: Arc<str>,
    query_timeout: Duration,
}

struct Idle {
    conn: Conn,
    opened: Instant,
    since: Instant,
}

pub(crate) struct Pool {
    target: Target,
    slots: Arc<Semaphore>,
    idle: Mutex<Vec<Idle>>,
}

static POOLS: LazyLock<Mutex<HashMap<Key, Arc<Pool>>>> = LazyLock::new(Default::default);

/// The pool of the system at `url`, created on first use.
pub(crate) fn get<E>(
    kind: SystemKind,
    url: &Arc<str>,
    query_timeout: Duration,
    target: impl FnOnce() -> Result<Target, E>,
) -> Result<Arc<Pool>, E> {
    let key = Key {
        kind,
        url: url.clone(),
        query_timeout,
    };
    let mut pools = POOLS.lock().unwrap_or_else(|p| p.into_inner());
    if let Some(pool) = pools.get(&key) {
        return Ok(pool.clone());
    }
    let pool = Arc::new(Pool {
        target: target()?,
        slots: Arc::new(Semaphore::new(MAX_CONNECTIONS)),
        idle: Mutex::new(Vec::new()),
    });
    pools.insert(key, pool.clone());
    Ok(pool)
}

/// Forgets the pools of `url` and closes their idle connections (tests, before they drop
/// the database behind the URL).
#[cfg(feature = "testing")]
pub(crate) fn forget(url: &str) {
    let mut pools = POOLS.lock().unwrap_or_else(|p| p.into_inner());
    pools.retain(|key, _| &*key.url != url);
}

impl Pool {
    pub(crate) fn target(&self) -> &Target {
        &self.target
    }

    /// Waits for a free slot.
    pub(crate) async fn slot(&self) -> OwnedSemaphorePermit {
        self.slots
            .clone()
            .acquire_owned()
            .await
            .expect("the semaphore is never closed")
    }

    /// The most recently used idle connection that is young enough; older ones are closed.
    pub(crate) fn take_idle(&self) -> Option<(Conn, Instant)> {
        let mut idle = self.idle.lock().unwrap_or_else(|p| p.into_inner());
        let now = Instant::now();
        // The oldest are at the front: drop those idle for too long.
        let stale = idle
            .iter()
            .position(|i| now.duration_since(i.since) < IDLE_TIMEOUT)
            .unwrap_or(idle.len());
        idle.drain(..stale);
        idle.pop().map(|i| (i.conn, i.opened))
    }

    fn put_back(&self, conn: Conn, opened: Instant) {
        let now = Instant::now();
        if now.duration_since(opened) > MAX_LIFETIME {
            return;
        }
        if let Conn::Mysql(c) = &conn
            && c.cached_statements_size() >= MYSQL_RETIRE_AT
        {
            return;
        }
        let mut idle = self.idle.lock().unwrap_or_else(|p| p.into_inner());
        idle.push(Idle {
            conn,
            opened,
            since: now,
        });
    }

    #[cfg(test)]
    fn idle_count(&self) -> usize {
        self.idle.lock().map_or(0, |i| i.len())
    }
}

/// A connection taken from a system's pool. Dropped, it is closed; [`Lease::finish`]
/// gives it back.
pub(crate) struct Lease {
    conn: Option<Conn>,
    opened: Instant,
    pool: Arc<Pool>,
    _slot: OwnedSemaphorePermit,
}

impl Lease {
    pub(crate) fn new(
        conn: Conn,
        opened: Instant,
        pool: Arc<Pool>,
        slot: OwnedSemaphorePermit,
    ) -> Self {
        Lease {
            conn: Some(conn),
            opened,
            pool,
            _slot: slot,
        }
    }

    /// Ends the use: with `clean` (the last transaction ended by a COMMIT or ROLLBACK that
    /// succeeded, nothing left unread) the connection goes back to the pool; otherwise it
    /// is closed.
    pub(crate) async fn finish(mut self, clean: bool) {
        let Some(conn) = self.conn.take() else {
            return;
        };
        if clean {
            self.pool.put_back(conn, self.opened);
        } else {
            conn.close().await;
        }
    }
}

impl Deref for Lease {
    type Target = Conn;
    fn deref(&self) -> &Conn {
        self.conn
            .as_ref()
            .expect("a lease holds its connection until finished")
    }
}

impl DerefMut for Lease {
    fn deref_mut(&mut self) -> &mut Conn {
        self.conn
            .as_mut()
            .expect("a lease holds its connection until finished")
    }
}

impl Conn {
    /// A round trip that tells whether the connection still works.
    pub(crate) async fn ping(&mut self) -> Result<(), sqlx::Error> {
        match self {
            Conn::Postgres(c) => c.ping().await,
            Conn::Mysql(c) => c.ping().await,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn pools_are_shared_per_url_and_timeout() {
        let url: Arc<str> = "postgres://kluis@127.0.0.1:1/unit_pool".into();
        let t = Duration::from_secs(3);
        let target = || Target::parse(SystemKind::Postgres, &url, t);
        let a = get(SystemKind::Postgres, &url, t, target).unwrap();
        let b = get(SystemKind::Postgres, &url, t, target).unwrap();
        assert!(Arc::ptr_eq(&a, &b));
        let c = get(SystemKind::Postgres, &url, Duration::from_secs(4), target).unwrap();
        assert!(!Arc::ptr_eq(&a, &c));
        assert_eq!(a.idle_count(), 0);
        assert!(a.take_idle().is_none());
        // At most MAX_CONNECTIONS slots are handed out at once.
        let mut slots = Vec::new();
        for _ in 0..MAX_CONNECTIONS {
            slots.push(a.slot().await);
        }
        assert!(
            tokio::time::timeout(Duration::from_millis(20), a.slot())
                .await
                .is_err()
        );
        slots.pop();
        assert!(
            tokio::time::timeout(Duration::from_millis(200), a.slot())
                .await
                .is_ok()
        );
    }
}
