//! Runs browser scenarios (see `tests/browser/run.mjs`) in headless Chromium from Rust tests.
//!
//! A test starts the server on a free loopback port, then:
//!
//! ```ignore
//! if !support::browser::require_browser() {
//!     return;
//! }
//! support::browser::run_scenario(&base_url, json!([{"goto": "/healthz"}, {"axe": true}]))
//!     .unwrap();
//! ```
//!
//! `run_scenario` blocks until Chromium is done, so the server must not need the test's own
//! thread: spawn it on a `#[tokio::test(flavor = "multi_thread")]` runtime, or on its own thread.

// Each test binary that includes `support` uses only part of it.
#![allow(dead_code)]

use std::fs::{self, File};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::thread;
use std::time::{Duration, Instant};

/// A scenario that is still running after this long is stuck: it gets killed.
const SCENARIO_TIMEOUT: Duration = Duration::from_secs(300);

/// One Chromium at a time: on two cores, parallel browsers make each other time out.
static BROWSER_LOCK: Mutex<()> = Mutex::new(());
static SCENARIO_COUNTER: AtomicU64 = AtomicU64::new(0);

fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn harness_dir() -> PathBuf {
    workspace_root().join("tests/browser")
}

fn chromium_path() -> PathBuf {
    std::env::var_os("CHROMIUM")
        .filter(|path| !path.is_empty())
        .map_or_else(|| PathBuf::from("/usr/bin/chromium"), PathBuf::from)
}

/// Checks that node, the harness's npm packages and Chromium are installed; `Err` says which
/// is missing and how to get it.
pub fn browser_available() -> Result<(), String> {
    let node = Command::new("node")
        .arg("--version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status();
    if !node.is_ok_and(|status| status.success()) {
        return Err("`node` cannot be run: install Node.js 20 or newer".into());
    }
    let modules = harness_dir().join("node_modules");
    for package in ["playwright-core", "@axe-core/playwright"] {
        if !modules.join(package).is_dir() {
            return Err(format!(
                "{} lacks {package}: run `npm ci` in tests/browser (scripts/test does)",
                modules.display()
            ));
        }
    }
    let chromium = chromium_path();
    if !chromium.is_file() {
        return Err(format!(
            "no Chromium at {}: `apt-get install chromium` (or set CHROMIUM)",
            chromium.display()
        ));
    }
    Ok(())
}

/// True when the browser test may go ahead. When it cannot, it panics under `CI=true` (CI must
/// not pass without running it) and otherwise says SKIPPED and returns false.
pub fn require_browser() -> bool {
    match browser_available() {
        Ok(()) => true,
        Err(reason) if std::env::var("CI").as_deref() == Ok("true") => {
            panic!("browser test cannot run under CI=true: {reason}")
        }
        Err(reason) => {
            eprintln!("SKIPPED browser test: {reason}");
            false
        }
    }
}

/// Runs `steps` (a JSON array of scenario steps) against the server at `base_url` in headless
/// Chromium. `Err` holds the harness's report: the failing step, what was expected, the URL
/// and the page text.
pub fn run_scenario(base_url: &str, steps: serde_json::Value) -> Result<(), String> {
    let scenario = serde_json::json!({ "base_url": base_url, "steps": steps });
    let dir = ScratchDir::new()?;
    let scenario_path = dir.path.join("scenario.json");
    fs::write(&scenario_path, scenario.to_string())
        .map_err(|e| format!("cannot write {}: {e}", scenario_path.display()))?;

    let _one_browser = BROWSER_LOCK
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    let (stdout_path, stderr_path) = (dir.path.join("stdout"), dir.path.join("stderr"));
    let child = Command::new("node")
        .arg("tests/browser/run.mjs")
        .arg(&scenario_path)
        .current_dir(workspace_root())
        .stdin(Stdio::null())
        .stdout(output_file(&stdout_path)?)
        .stderr(output_file(&stderr_path)?)
        .spawn()
        .map_err(|e| format!("cannot start `node tests/browser/run.mjs`: {e}"))?;
    let status = wait_with_timeout(child, SCENARIO_TIMEOUT)?;

    let stdout = fs::read_to_string(&stdout_path).unwrap_or_default();
    let stderr = fs::read_to_string(&stderr_path).unwrap_or_default();
    match status {
        Some(status) if status.success() => {
            eprint!("{stdout}");
            Ok(())
        }
        Some(status) => Err(format!(
            "browser scenario failed ({status}):\n{stderr}{stdout}"
        )),
        None => Err(format!(
            "browser scenario still running after {SCENARIO_TIMEOUT:?}, killed:\n{stderr}{stdout}"
        )),
    }
}

fn output_file(path: &Path) -> Result<File, String> {
    File::create(path).map_err(|e| format!("cannot create {}: {e}", path.display()))
}

/// Waits for `child`; `None` means it ran past `timeout` and was killed.
fn wait_with_timeout(mut child: Child, timeout: Duration) -> Result<Option<ExitStatus>, String> {
    let deadline = Instant::now() + timeout;
    loop {
        match child.try_wait() {
            Ok(Some(status)) => return Ok(Some(status)),
            Ok(None) if Instant::now() < deadline => thread::sleep(Duration::from_millis(50)),
            Ok(None) => {
                // Already exited in between is fine; the wait reaps it either way.
                let _ = child.kill();
                let _ = child.wait();
                return Ok(None);
            }
            Err(e) => return Err(format!("cannot wait for the browser harness: {e}")),
        }
    }
}

/// A directory of its own for one scenario, removed when dropped.
struct ScratchDir {
    path: PathBuf,
}

impl ScratchDir {
    fn new() -> Result<Self, String> {
        let unique = format!(
            "kluis-browser-{}-{}",
            std::process::id(),
            SCENARIO_COUNTER.fetch_add(1, Ordering::Relaxed)
        );
        let path = std::env::temp_dir().join(unique);
        // A leftover from an earlier process with the same id would only be stale.
        let _ = fs::remove_dir_all(&path);
        fs::create_dir_all(&path).map_err(|e| format!("cannot create {}: {e}", path.display()))?;
        Ok(Self { path })
    }
}

impl Drop for ScratchDir {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.path);
    }
}
