//! The `kluis` binary as a user runs it: exit codes, messages, and what ends up in the
//! database (SQLite, and PostgreSQL at TEST_DATABASE_URL).

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use kluis_store::testing::{TestStore, postgres_store, sqlite_store};

#[path = "cli/breach.rs"]
mod breach;
#[path = "cli/portability.rs"]
mod portability;
#[path = "cli/rectification.rs"]
mod rectification;
#[path = "cli/restriction.rs"]
mod restriction;
#[path = "cli/retention.rs"]
mod retention;

const KLUIS: &str = env!("CARGO_BIN_EXE_kluis");
const LIMBURG: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../examples/limburg.yaml");

fn kluis(db: &str, args: &[&str]) -> Output {
    kluis_with_input(db, args, "")
}

fn kluis_with_input(db: &str, args: &[&str], input: &str) -> Output {
    let mut child = Command::new(KLUIS)
        .args(args)
        .env("KLUIS_DATABASE_URL", db)
        .env("KLUIS_LOG", "warn")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("kluis starts");
    if let Some(mut stdin) = child.stdin.take() {
        stdin.write_all(input.as_bytes()).expect("write stdin");
    }
    child.wait_with_output().expect("kluis finishes")
}

fn ok(out: &Output) -> String {
    assert!(
        out.status.success(),
        "kluis failed: {}\n{}",
        String::from_utf8_lossy(&out.stderr),
        String::from_utf8_lossy(&out.stdout)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn fails(out: &Output) -> String {
    assert!(
        !out.status.success(),
        "kluis should have failed: {}",
        String::from_utf8_lossy(&out.stdout)
    );
    String::from_utf8_lossy(&out.stderr).into_owned()
}

fn broken_copy_of_limburg() -> std::path::PathBuf {
    let text = std::fs::read_to_string(LIMBURG).unwrap();
    // The second reference to a processor now names one that does not exist.
    let broken = text.replacen("processors: [limburg-", "processors: [nobody-", 1);
    assert_ne!(text, broken, "the example changed: update this test");
    let path = std::env::temp_dir().join(format!("kluis-broken-{}.yaml", std::process::id()));
    std::fs::write(&path, broken).unwrap();
    path
}

async fn register_story(store: TestStore) {
    let db = store.url().to_string();
    let broken = broken_copy_of_limburg();
    let broken_name = broken.display().to_string();

    // A broken file is refused with its place, and changes nothing.
    let err = fails(&kluis(&db, &["register", "validate", &broken_name]));
    assert!(
        err.contains(&format!("{broken_name}:")) && err.contains("nobody-"),
        "{err}"
    );
    let err = fails(&kluis(&db, &["register", "import", &broken_name]));
    assert!(err.contains("nothing was changed"), "{err}");
    let empty = ok(&kluis(&db, &["register", "export", "--format", "json"]));
    assert!(!empty.contains("limburg"), "{empty}");
    let _ = std::fs::remove_file(&broken);
    let err = fails(&kluis(&db, &["register", "import", "/no/such/file.yaml"]));
    assert!(err.contains("cannot read /no/such/file.yaml"), "{err}");

    // Import, then every export format.
    let out = ok(&kluis(&db, &["register", "import", LIMBURG]));
    assert!(out.contains("created"), "{out}");
    let again = ok(&kluis(&db, &["register", "import", LIMBURG]));
    assert!(
        again.contains("0 created, 0 updated"),
        "re-importing the same file changes nothing: {again}"
    );
    let yaml = ok(&kluis(&db, &["register", "export", "--format", "yaml"]));
    let original = kluis_domain::register_file::parse(
        "limburg.yaml",
        &std::fs::read_to_string(LIMBURG).unwrap(),
    )
    .unwrap();
    let exported = kluis_domain::register_file::parse("export.yaml", &yaml).unwrap();
    assert!(
        exported == original,
        "the YAML export differs from the imported file"
    );
    let csv = ok(&kluis(
        &db,
        &["register", "export", "--format", "csv", "--lang", "nl"],
    ));
    assert!(csv.lines().count() > original.activities.len(), "{csv}");
    let dpv = ok(&kluis(&db, &["register", "export", "--format", "dpv"]));
    assert!(dpv.contains("eu-gdpr:A6-1-c"), "legal obligation in DPV");
    let err = fails(&kluis(&db, &["register", "export", "--format", "xml"]));
    assert!(err.contains("xml"), "{err}");

    // The statement carries the seed's facts.
    let md = ok(&kluis(
        &db,
        &[
            "statement",
            "--controller",
            "limburg",
            "--lang",
            "nl",
            "--format",
            "md",
        ],
    ));
    for fact in [
        "0207.725.203",
        "dpo@limburg.be",
        "griffie@limburg.be",
        "30 dagen",
        "70 jaar",
    ] {
        assert!(md.contains(fact), "the Limburg statement lacks {fact}");
    }
    let err = fails(&kluis(&db, &["statement", "--controller", "atlantis"]));
    assert!(err.contains("atlantis"), "{err}");
    let err = fails(&kluis(
        &db,
        &["statement", "--controller", "limburg", "--lang", "de"],
    ));
    assert!(err.contains("de"), "{err}");

    // Publishing numbers versions; a published version can be printed.
    let out = ok(&kluis(&db, &["publish", "--controller", "limburg"]));
    assert!(out.contains("version 1"), "{out}");
    let html = ok(&kluis(
        &db,
        &[
            "statement",
            "--controller",
            "limburg",
            "--version",
            "1",
            "--lang",
            "en",
        ],
    ));
    assert!(html.contains("<h1"), "{html}");
    let err = fails(&kluis(
        &db,
        &[
            "publish",
            "--controller",
            "limburg",
            "--effective-date",
            "2001-01-01",
        ],
    ));
    assert!(err.contains("past"), "{err}");
    let err = fails(&kluis(
        &db,
        &[
            "publish",
            "--controller",
            "limburg",
            "--effective-date",
            "tomorrow",
        ],
    ));
    assert!(err.contains("YYYY-MM-DD"), "{err}");

    // Accounts and tokens.
    let err = fails(&kluis_with_input(
        &db,
        &["user", "add", "anna", "--role", "dpo"],
        "short\n",
    ));
    assert!(err.contains("12 characters"), "{err}");
    let err = fails(&kluis_with_input(
        &db,
        &["user", "add", "anna", "--role", "boss"],
        "a long enough password\n",
    ));
    assert!(err.contains("boss"), "{err}");
    ok(&kluis_with_input(
        &db,
        &[
            "user",
            "add",
            "anna",
            "--role",
            "dpo",
            "--name",
            "Anna Peeters",
        ],
        "a long enough password\n",
    ));
    let err = fails(&kluis_with_input(
        &db,
        &["user", "add", "anna", "--role", "dpo"],
        "a long enough password\n",
    ));
    assert!(err.contains("already exists"), "{err}");
    let list = ok(&kluis(&db, &["user", "list"]));
    assert!(list.contains("anna\tAnna Peeters\tdpo"), "{list}");
    let token = ok(&kluis(
        &db,
        &["token", "create", "--user", "anna", "--name", "ci"],
    ));
    assert!(token.trim().starts_with("kluis_"), "{token}");
    let err = fails(&kluis(
        &db,
        &["token", "create", "--user", "nobody", "--name", "ci"],
    ));
    assert!(err.contains("kluis user add"), "{err}");

    let checked = ok(&kluis(&db, &["register", "check"]));
    assert!(checked.contains("activities lack"), "{checked}");
    store.cleanup().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn register_statement_and_accounts_from_the_command_line() {
    register_story(sqlite_store().await).await;
    if let Some(pg) = postgres_store().await {
        register_story(pg).await;
    }
}

#[test]
fn a_bad_database_url_is_a_clear_error() {
    let err = fails(&kluis("mysql://nowhere/db", &["migrate"]));
    assert!(err.contains("database"), "{err}");
    let err = fails(&kluis("postgres://nobody@127.0.0.1:1/none", &["migrate"]));
    assert!(err.contains("127.0.0.1:1"), "{err}");
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

fn http_get(port: u16, path: &str) -> Option<String> {
    let mut s = TcpStream::connect(("127.0.0.1", port)).ok()?;
    s.set_read_timeout(Some(Duration::from_secs(5))).ok()?;
    write!(
        s,
        "GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n"
    )
    .ok()?;
    let mut response = String::new();
    s.read_to_string(&mut response).ok()?;
    Some(response)
}

#[tokio::test(flavor = "multi_thread")]
async fn demo_serves_every_seed_statement() {
    let store = sqlite_store().await;
    let port = free_port();
    let mut child = Command::new(KLUIS)
        .args(["demo", "--listen", &format!("127.0.0.1:{port}")])
        .env("KLUIS_DATABASE_URL", store.url())
        .env("KLUIS_LOG", "warn")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("kluis demo starts");
    let started = Instant::now();
    let health = loop {
        if let Some(r) = http_get(port, "/healthz") {
            break r;
        }
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "kluis demo did not answer within 30 s"
        );
        std::thread::sleep(Duration::from_millis(50));
    };
    assert!(health.starts_with("HTTP/1.1 200"), "{health}");
    for controller in [
        "west-vlaanderen",
        "limburg",
        "flevoland",
        "stad-poperinge",
        "woondienst-regio-izegem",
    ] {
        let page = http_get(port, &format!("/privacy/{controller}?lang=nl")).unwrap_or_default();
        assert!(
            page.starts_with("HTTP/1.1 200"),
            "/privacy/{controller}: {page}"
        );
    }
    let _ = child.kill();
    let output = child.wait_with_output().expect("kluis demo stops");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("sign in at /admin/login"), "{stderr}");
    store.cleanup().await;
}

/// Runs kluis in `dir` with only the given `KLUIS_*` variables, whatever the test runner has.
fn kluis_in(dir: &std::path::Path, args: &[&str], env: &[(&str, &str)]) -> Output {
    let mut command = Command::new(KLUIS);
    for (var, _) in std::env::vars().filter(|(k, _)| k.starts_with("KLUIS_")) {
        command.env_remove(var);
    }
    command
        .args(args)
        .current_dir(dir)
        .env("KLUIS_LOG", "warn")
        .envs(env.iter().copied())
        .stdin(Stdio::null())
        .output()
        .expect("kluis runs")
}

fn empty_dir(name: &str) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("kluis-cli-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

#[test]
fn config_show_masks_passwords_and_says_where_settings_came_from() {
    let dir = empty_dir("config-show");
    std::fs::write(
        dir.join("kluis.toml"),
        "database = \"postgres://kluis:db-s3cret@db.example/kluis\"\n\
         [systems.hr]\nurl = \"postgres://reader:hr-s3cret@hr.example/hr\"\n",
    )
    .unwrap();
    let out = ok(&kluis_in(
        &dir,
        &["config", "show"],
        &[
            (
                "KLUIS_SYSTEM_ACCOUNTING_URL",
                "mysql://acc:acc-s3cret@acc/books",
            ),
            ("KLUIS_LISTEN", "127.0.0.1:9999"),
        ],
    ));
    for secret in ["db-s3cret", "hr-s3cret", "acc-s3cret"] {
        assert!(!out.contains(secret), "{out}");
    }
    for shown in [
        "postgres://kluis:****@db.example/kluis",
        "postgres://reader:****@hr.example/hr",
        "mysql://acc:****@acc/books",
        "from KLUIS_SYSTEM_ACCOUNTING_URL",
        "127.0.0.1:9999",
        "from kluis.toml",
    ] {
        assert!(out.contains(shown), "{shown} missing from:\n{out}");
    }
    // --database still wins over the file.
    let out = ok(&kluis_in(
        &dir,
        &["--database", "sqlite://other.db", "config", "show"],
        &[],
    ));
    assert!(
        out.contains("sqlite://other.db") && out.contains("other.keys"),
        "{out}"
    );
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn a_bad_config_file_names_file_and_line_and_fails() {
    let dir = empty_dir("config-bad");
    let path = dir.join("settings.toml");
    std::fs::write(
        &path,
        "database = \"sqlite://k.db\"\n\nlisen = \"0.0.0.0:80\"\n",
    )
    .unwrap();
    let name = path.display().to_string();
    let err = fails(&kluis_in(&dir, &["--config", &name, "migrate"], &[]));
    assert!(
        err.contains(&format!("{name}:3:")) && err.contains("lisen"),
        "{err}"
    );
    let err = fails(&kluis_in(
        &dir,
        &["config", "show"],
        &[("KLUIS_CONFIG", "/no/such/kluis.toml")],
    ));
    assert!(err.contains("/no/such/kluis.toml"), "{err}");
    assert!(
        !dir.join("k.db").exists(),
        "nothing is created from a bad configuration"
    );
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn keys_are_generated_and_the_key_file_is_made_beside_the_database() {
    let dir = empty_dir("keys");
    let line = ok(&kluis_in(&dir, &["keys", "generate"], &[]));
    let (id, key) = line.trim().split_once(':').expect("ID:BASE64");
    assert!(!id.is_empty() && key.len() == 44, "{line}");

    let db = format!("sqlite://{}/vault.db", dir.display());
    let env = [("KLUIS_DATABASE_URL", db.as_str())];
    let out = kluis_in(&dir, &["keys", "list"], &env);
    let listed = ok(&out);
    let warning = String::from_utf8_lossy(&out.stderr);
    assert!(warning.contains("apart from database backups"), "{warning}");
    let key_file = dir.join("vault.keys");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&key_file).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600, "the key file is private");
    }
    // The second run reads the same file and does not warn again.
    let again = kluis_in(&dir, &["keys", "list"], &env);
    assert_eq!(ok(&again), listed);
    assert!(String::from_utf8_lossy(&again.stderr).is_empty());
    let _ = std::fs::remove_dir_all(&dir);
}

/// Els, a caseworker whose confidentiality statement is recorded through the CLI (`k`),
/// for the stories that assign her.
async fn caseworker_els(
    store: &TestStore,
    k: impl Fn(&[&str]) -> Output,
    now: time::OffsetDateTime,
) {
    store
        .create_user(
            "els",
            "Els",
            "a long password here",
            &[kluis_domain::access::Role::Caseworker],
            now,
        )
        .await
        .unwrap();
    ok(&k(&[
        "staff",
        "confidentiality",
        "els",
        "--signed-on",
        "2026-01-05",
        "--reference",
        "DOC-1",
    ]));
}

/// The processing under which a story puts its people and records in the vault.
fn seeding(now: time::OffsetDateTime) -> kluis_store::Processing {
    use kluis_domain::processing_log::{Actor, ActorKind};
    kluis_store::Processing {
        actor: Actor {
            kind: ActorKind::Staff,
            id: None,
            name: "seed".into(),
        },
        trace: kluis_domain::trace::TraceContext::new_root([3; 16], [4; 8]),
        case_ref: None,
        now,
    }
}

/// `kluis` on `db` with the key file `keys`.
fn kluis_keys(db: &str, keys: &std::path::Path, args: &[&str]) -> Output {
    Command::new(KLUIS)
        .args(args)
        .env("KLUIS_DATABASE_URL", db)
        .env("KLUIS_KEYS_FILE", keys)
        .env("KLUIS_LOG", "warn")
        .output()
        .expect("kluis runs")
}

async fn inventory_story(store: TestStore) {
    use kluis_domain::access::Role;
    use kluis_domain::inventory::{RecordInput, SubjectIdentity};
    use kluis_domain::processing_log::{Actor, ActorKind};
    use kluis_domain::trace::TraceContext;

    let db = store.url().to_string();
    let dir = empty_dir("inventory");
    let keys = dir.join("kluis.keys");
    std::fs::write(&keys, store.keys().to_key_file_text().as_bytes()).unwrap();
    let k = |args: &[&str]| kluis_keys(&db, &keys, args);
    ok(&k(&["register", "import", LIMBURG]));
    store
        .create_user(
            "els",
            "Els",
            "a long password here",
            &[Role::Caseworker],
            time::OffsetDateTime::now_utc(),
        )
        .await
        .unwrap();

    // Need-to-know from the command line.
    ok(&k(&["staff", "assign", "els", "limburg-werving-selectie"]));
    let err = fails(&k(&[
        "staff",
        "assign",
        "nobody",
        "limburg-werving-selectie",
    ]));
    assert!(err.contains("kluis user add"), "{err}");
    let err = fails(&k(&[
        "staff",
        "confidentiality",
        "els",
        "--signed-on",
        "2099-01-01",
        "--reference",
        "DOC-1",
    ]));
    assert!(err.contains("future"), "{err}");
    ok(&k(&[
        "staff",
        "confidentiality",
        "els",
        "--signed-on",
        "2026-01-05",
        "--reference",
        "DOC-1",
    ]));
    let shown = ok(&k(&["staff", "show", "els"]));
    assert!(shown.contains("signed on 2026-01-05"), "{shown}");
    assert!(shown.contains("limburg-werving-selectie"), "{shown}");

    // A person in the vault.
    let p = kluis_store::Processing {
        actor: Actor {
            kind: ActorKind::Staff,
            id: None,
            name: "els".into(),
        },
        trace: TraceContext::new_root([5; 16], [6; 8]),
        case_ref: None,
        now: time::OffsetDateTime::now_utc(),
    };
    let identity = SubjectIdentity {
        national_number: Some("85.07.30-033.28".parse().unwrap()),
        family_name: Some("Peeters".into()),
        given_name: Some("An".into()),
        ..Default::default()
    };
    let (an, _) = store
        .record_subject(&p, "limburg-werving-selectie", &identity, &[])
        .await
        .unwrap();
    let input = RecordInput {
        activity: "limburg-werving-selectie".into(),
        schedule: Some("niet-weerhouden".into()),
        category: kluis_domain::category::DataCategory::Education,
        fields: [("diploma".to_string(), serde_json::json!("Master"))].into(),
        source: Some("de kandidaat".into()),
        collected_on: time::macros::date!(2026 - 03 - 01),
        events: Default::default(),
        provided_by_subject: true,
    };
    store.add_record(&p, an.id, &input).await.unwrap();

    // Malformed identifiers are refused with the reason.
    let err = fails(&k(&[
        "subject",
        "find",
        "--national-number",
        "85.07.30-033.29",
    ]));
    assert!(err.contains("check digits"), "{err}");
    let err = fails(&k(&["subject", "find", "--bsn", "111222334"]));
    assert!(err.contains("check"), "{err}");
    let found = ok(&k(&["subject", "find", "--national-number", "85073003328"]));
    assert!(found.contains("85.07.30-033.28"), "{found}");
    assert!(found.contains("limburg-werving-selectie"), "{found}");
    assert!(found.contains("education"), "{found}");

    // Who consulted An's data: the citizen's view names no staff member, the audit view does.
    let shown = ok(&k(&["log", "show", "--national-number", "85.07.30-033.28"]));
    assert!(
        shown.contains("limburg  limburg-werving-selectie  search_hit"),
        "{shown}"
    );
    assert!(!shown.contains("els"), "{shown}");
    let audit = ok(&k(&[
        "log",
        "show",
        "--subject-id",
        &an.id.to_string(),
        "--audit",
    ]));
    assert!(audit.contains("by els"), "{audit}");
    assert!(audit.contains("by cli:"), "{audit}");

    // Anchors and verification.
    let anchor = ok(&k(&["log", "anchor"])).trim().to_string();
    let verified = ok(&k(&["log", "verify", "--anchor", &anchor]));
    assert!(verified.contains("verifies"), "{verified}");
    let err = fails(&k(&["log", "verify", "--anchor", "2:nonsense"]));
    assert!(err.contains("anchor"), "{err}");

    // Rotation: a new current key, everything re-encrypted, still found.
    let before = ok(&k(&["keys", "list"]));
    let rotated = ok(&k(&["keys", "rotate"]));
    assert!(
        rotated.contains("re-encrypted 1 data subjects"),
        "{rotated}"
    );
    let after = ok(&k(&["keys", "list"]));
    assert_eq!(after.lines().count(), before.lines().count() + 1);
    assert_eq!(after.lines().nth(1), before.lines().next());
    let found = ok(&k(&["subject", "find", "--national-number", "85073003328"]));
    assert!(found.contains("85.07.30-033.28"), "{found}");

    // Someone rewrites history in the database: verification names the entry and fails.
    store
        .without_log_triggers("UPDATE processing_log SET activity = 'x' WHERE seq = 2")
        .await;
    let err = fails(&k(&["log", "verify"]));
    assert!(err.contains("entry 2"), "{err}");
    let _ = std::fs::remove_dir_all(&dir);
    store.cleanup().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn inventory_and_log_from_the_command_line() {
    inventory_story(sqlite_store().await).await;
    if let Some(pg) = postgres_store().await {
        inventory_story(pg).await;
    }
}

/// The status of `GET path` with a bearer token, or None when the server did not answer
/// in full (it was killed mid-request).
fn http_get_status(port: u16, path: &str, token: &str) -> Option<u16> {
    let mut s = TcpStream::connect(("127.0.0.1", port)).ok()?;
    s.set_read_timeout(Some(Duration::from_secs(5))).ok()?;
    write!(
        s,
        "GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer {token}\r\n\
         Connection: close\r\n\r\n"
    )
    .ok()?;
    let mut response = String::new();
    s.read_to_string(&mut response).ok()?;
    // A complete answer ends with the JSON body's closing brace.
    if !response.trim_end().ends_with('}') {
        return None;
    }
    response.get(9..12)?.parse().ok()
}

async fn sigkill_story(store: TestStore) {
    use kluis_domain::access::{Role, Scope};
    use kluis_domain::inventory::SubjectIdentity;
    use kluis_domain::processing_log::{Actor, ActorKind, LogSelector};
    use kluis_domain::trace::TraceContext;
    use std::sync::Arc;
    use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

    let db = store.url().to_string();
    let dir = empty_dir("sigkill");
    let keys = dir.join("kluis.keys");
    std::fs::write(&keys, store.keys().to_key_file_text().as_bytes()).unwrap();
    ok(&kluis_keys(&db, &keys, &["register", "import", LIMBURG]));
    let now = time::OffsetDateTime::now_utc();
    let dpo = store
        .create_user("dpo", "DPO", "a long password here", &[Role::Dpo], now)
        .await
        .unwrap();
    store
        .record_confidentiality_statement(dpo.id, now.date(), "DOC-1", "test", now)
        .await
        .unwrap();
    let (token, _) = store.create_api_token(dpo.id, "test", now).await.unwrap();
    let p = kluis_store::Processing {
        actor: Actor {
            kind: ActorKind::Staff,
            id: None,
            name: "dpo".into(),
        },
        trace: TraceContext::new_root([5; 16], [6; 8]),
        case_ref: None,
        now,
    };
    let identity = SubjectIdentity {
        email: Some("an@example.be".parse().unwrap()),
        ..Default::default()
    };
    let (an, _) = store
        .record_subject(&p, "limburg-werving-selectie", &identity, &[])
        .await
        .unwrap();
    let selector = LogSelector {
        subjects: store.subject_pseudonyms(&identity).unwrap(),
        ..Default::default()
    };
    let before = store
        .log_entries(&selector, &Scope::All, i64::MAX)
        .await
        .unwrap()
        .len();

    let port = free_port();
    let mut server = Command::new(KLUIS)
        .args(["serve", "--listen", &format!("127.0.0.1:{port}")])
        .env("KLUIS_DATABASE_URL", &db)
        .env("KLUIS_KEYS_FILE", &keys)
        .env("KLUIS_LOG", "error")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("kluis serve starts");
    let started = Instant::now();
    while http_get(port, "/healthz").is_none() {
        assert!(started.elapsed() < Duration::from_secs(30), "no answer");
        std::thread::sleep(Duration::from_millis(20));
    }

    // Readers hammer the subject; each 200 is an acknowledged read with its log entry.
    let acknowledged = Arc::new(AtomicUsize::new(0));
    let stop = Arc::new(AtomicBool::new(false));
    let path = format!("/api/v1/subjects/{}", an.id);
    let readers: Vec<_> = (0..4)
        .map(|_| {
            let (acknowledged, stop, path, token) = (
                acknowledged.clone(),
                stop.clone(),
                path.clone(),
                token.clone(),
            );
            std::thread::spawn(move || {
                while !stop.load(Ordering::Relaxed) {
                    match http_get_status(port, &path, &token) {
                        Some(200) => {
                            acknowledged.fetch_add(1, Ordering::SeqCst);
                        }
                        Some(other) => panic!("unexpected status {other}"),
                        None => {}
                    }
                }
            })
        })
        .collect();
    while acknowledged.load(Ordering::SeqCst) < 50 {
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "reads too slow"
        );
        std::thread::sleep(Duration::from_millis(5));
    }
    // SIGKILL, while requests are in flight.
    server.kill().expect("SIGKILL");
    let _ = server.wait();
    let seen = acknowledged.load(Ordering::SeqCst);
    stop.store(true, Ordering::Relaxed);
    for r in readers {
        r.join().unwrap();
    }

    let logged = store
        .log_entries(&selector, &Scope::All, i64::MAX)
        .await
        .unwrap()
        .len()
        - before;
    assert!(
        logged >= seen,
        "{seen} reads were acknowledged but only {logged} were logged"
    );
    let verified = ok(&kluis_keys(&db, &keys, &["log", "verify"]));
    assert!(verified.contains("verifies"), "{verified}");
    let _ = std::fs::remove_dir_all(&dir);
    store.cleanup().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_killed_server_loses_no_acknowledged_log_entry() {
    sigkill_story(sqlite_store().await).await;
    if let Some(pg) = postgres_store().await {
        sigkill_story(pg).await;
    }
}

/// `kluis` on `db` with the key file `keys` and extra environment variables.
fn kluis_env(db: &str, keys: &std::path::Path, env: &[(&str, &str)], args: &[&str]) -> Output {
    let mut command = Command::new(KLUIS);
    command
        .args(args)
        .env("KLUIS_DATABASE_URL", db)
        .env("KLUIS_KEYS_FILE", keys)
        .env("KLUIS_LOG", "error");
    for (k, v) in env {
        command.env(k, v);
    }
    command.output().expect("kluis runs")
}

/// The test systems' maps, serving Limburg's recruitment and bookkeeping activities.
fn limburg_map(
    mut map: kluis_domain::dataset_map::DatasetMap,
    activity: &str,
    dir: &std::path::Path,
) -> std::path::PathBuf {
    map.activities = vec![activity.to_string()];
    let path = dir.join(format!("{}.yaml", map.name));
    std::fs::write(&path, kluis_domain::dataset_map::to_yaml(&map).unwrap()).unwrap();
    path
}

async fn systems_story(store: TestStore) {
    use kluis_connectors::testing::{
        accounting_map, accounting_mariadb, hr_map, hr_postgres, people,
    };
    let (Some(hr), Some(accounting)) = (hr_postgres().await, accounting_mariadb().await) else {
        store.cleanup().await;
        return;
    };
    let db = store.url().to_string();
    let dir = empty_dir("systems");
    let keys = dir.join("kluis.keys");
    std::fs::write(&keys, store.keys().to_key_file_text().as_bytes()).unwrap();
    ok(&kluis_keys(&db, &keys, &["register", "import", LIMBURG]));
    let hr_file = limburg_map(hr_map(), "limburg-werving-selectie", &dir);
    let accounting_file = limburg_map(accounting_map(), "limburg-boekhouding", &dir);
    let hr_path = hr_file.display().to_string();
    let accounting_path = accounting_file.display().to_string();

    // Without a configured connection, a system cannot be added.
    let err = fails(&kluis_keys(&db, &keys, &["systems", "add", &hr_path]));
    assert!(err.contains("KLUIS_SYSTEM_HR_URL"), "{err}");
    let env = [
        ("KLUIS_SYSTEM_HR_URL", hr.url()),
        ("KLUIS_SYSTEM_ACCOUNTING_URL", accounting.url()),
    ];
    let k = |args: &[&str]| kluis_env(&db, &keys, &env, args);

    // A map naming a table the database lacks is refused, and nothing is stored.
    let mut broken = hr_map();
    let applicants = broken.tables.remove("applicants").unwrap();
    broken.tables.insert("applicantz".into(), applicants);
    for table in broken.tables.values_mut() {
        if let Some(link) = &mut table.link
            && link.references.table == "applicants"
        {
            link.references.table = "applicantz".into();
        }
    }
    let broken_dir = dir.join("broken");
    std::fs::create_dir_all(&broken_dir).unwrap();
    let broken_file = limburg_map(broken, "limburg-werving-selectie", &broken_dir);
    let err = fails(&k(&["systems", "add", &broken_file.display().to_string()]));
    assert!(err.contains("applicantz"), "{err}");
    assert_eq!(ok(&k(&["systems", "list"])), "");

    let added = ok(&k(&["systems", "add", &hr_path]));
    assert!(added.contains("matches"), "{added}");
    ok(&k(&["systems", "add", &accounting_path]));
    let listed = ok(&k(&["systems", "list"]));
    assert!(
        listed.contains("accounting") && listed.contains("hr"),
        "{listed}"
    );
    assert!(!listed.contains(hr.url()), "no URL is stored or shown");
    let checked = ok(&k(&["systems", "check"]));
    assert_eq!(
        checked.matches("the map matches the database").count(),
        2,
        "{checked}"
    );

    // One person across both systems, through every table, logged per system.
    let found = ok(&k(&["subject", "find", "--email", people::AN_EMAIL]));
    assert!(
        found.contains("system hr (limburg-werving-selectie)"),
        "{found}"
    );
    assert!(
        found.contains("system accounting (limburg-boekhouding)"),
        "{found}"
    );
    assert!(found.contains("interview_notes"), "{found}");
    assert!(found.contains("payments"), "{found}");
    assert!(!found.contains("bram"), "{found}");
    let shown = ok(&k(&["log", "show", "--email", people::AN_EMAIL]));
    assert!(
        shown.contains("limburg-werving-selectie  search_hit"),
        "{shown}"
    );
    assert!(
        shown.contains("in hr") && shown.contains("in accounting"),
        "{shown}"
    );

    // An unreachable system fails alone: the other still answers, the gap is said.
    let down = [
        ("KLUIS_SYSTEM_HR_URL", hr.url()),
        (
            "KLUIS_SYSTEM_ACCOUNTING_URL",
            "mysql://root@127.0.0.1:1/accounting",
        ),
    ];
    let out = kluis_env(
        &db,
        &keys,
        &down,
        &["subject", "find", "--email", people::AN_EMAIL],
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(!out.status.success(), "{stdout}");
    assert!(
        stdout.contains("system hr (limburg-werving-selectie)"),
        "{stdout}"
    );
    assert!(
        stdout.contains("accounting (limburg-boekhouding): NOT SEARCHED"),
        "{stdout}"
    );
    let out = kluis_env(&db, &keys, &down, &["systems", "check"]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(!out.status.success(), "{stdout}");
    assert!(
        stdout.contains("hr: the map matches the database"),
        "{stdout}"
    );
    assert!(stdout.contains("accounting: cannot be checked"), "{stdout}");

    hr.cleanup().await;
    accounting.cleanup().await;
    let _ = std::fs::remove_dir_all(&dir);
    store.cleanup().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn external_systems_from_the_command_line() {
    systems_story(sqlite_store().await).await;
    if let Some(pg) = postgres_store().await {
        systems_story(pg).await;
    }
}

#[tokio::test]
async fn consent_filter_keeps_only_addresses_whose_consent_allows_the_purpose() {
    consent_filter_story(sqlite_store().await).await;
    if let Some(pg) = postgres_store().await {
        consent_filter_story(pg).await;
    }
}

async fn consent_filter_story(store: TestStore) {
    use kluis_domain::consent::{ConsentGiven, ConsentMethod, WithdrawalChannel};
    use kluis_domain::inventory::SubjectIdentity;
    use kluis_domain::processing_log::{Actor, ActorKind};
    use kluis_domain::trace::TraceContext;

    let db = store.url().to_string();
    ok(&kluis(&db, &["register", "import", LIMBURG]));
    let p = kluis_store::Processing {
        actor: Actor {
            kind: ActorKind::Staff,
            id: None,
            name: "communicatie".into(),
        },
        trace: TraceContext::new_root([5; 16], [6; 8]),
        case_ref: None,
        now: time::OffsetDateTime::now_utc(),
    };
    let given = ConsentGiven {
        method: ConsentMethod::WebForm,
        affirmative_act: true,
        notice_text: "Ja, stuur mij de nieuwsbrief.".into(),
        language: kluis_domain::text::Lang::Nl,
        statement_version: None,
        evidence: "form 1".into(),
        valid_until: None,
    };
    let mut consents = Vec::new();
    for email in ["an@example.be", "bart@example.be", "chris@example.be"] {
        let identity = SubjectIdentity {
            email: Some(email.parse().unwrap()),
            ..Default::default()
        };
        let (subject, _) = store
            .record_subject(&p, "limburg-nieuwsbrieven", &identity, &[])
            .await
            .unwrap();
        consents.push(
            store
                .give_consent(&p, subject.id, "limburg-nieuwsbrieven", &given, None)
                .await
                .unwrap(),
        );
    }
    store
        .withdraw_consent(&p, consents[1].id, WithdrawalChannel::Staff)
        .await
        .unwrap();

    let input = "Chris@Example.be\nnot an address\nbart@example.be\n\nunknown@example.be\nan@example.be\nan@example.be\n";
    let out = kluis_with_input(
        &db,
        &["consent", "filter", "--purpose", "limburg-nieuwsbrieven"],
        input,
    );
    let kept = ok(&out);
    assert_eq!(kept, "chris@example.be\nan@example.be\n");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("1 line(s) are not e-mail addresses"),
        "{stderr}"
    );
    assert!(stderr.contains("first on line 2"), "{stderr}");
    assert!(stderr.contains("2 of 6 address(es)"), "{stderr}");

    // A purpose that does not rest on consent, or does not exist: a clear error, no output.
    let out = kluis_with_input(
        &db,
        &["consent", "filter", "--purpose", "limburg-werving-selectie"],
        input,
    );
    let err = fails(&out);
    assert!(err.contains("not on consent"), "{err}");
    assert!(out.stdout.is_empty());
    let err = fails(&kluis_with_input(
        &db,
        &["consent", "filter", "--purpose", "no-such-purpose"],
        input,
    ));
    assert!(
        err.contains("no processing activity 'no-such-purpose'"),
        "{err}"
    );
    store.cleanup().await;
}

/// `kluis` with `env` and no mail or public_url settings of the test runner's own; in a
/// blocking thread, so the SMTP sink keeps answering on the test's runtime.
async fn kluis_mail(db: &str, env: &[(&str, &str)], args: &[&str]) -> Output {
    let mut command = Command::new(KLUIS);
    for (var, _) in std::env::vars().filter(|(k, _)| {
        k.starts_with("KLUIS_MAIL_") || k == "KLUIS_PUBLIC_URL" || k == "KLUIS_CONFIG"
    }) {
        command.env_remove(var);
    }
    command
        .args(args)
        .env("KLUIS_DATABASE_URL", db)
        .env("KLUIS_LOG", "warn")
        .envs(env.iter().copied())
        .stdin(Stdio::null());
    tokio::task::spawn_blocking(move || command.output().expect("kluis runs"))
        .await
        .expect("kluis ran")
}

/// Starts `kluis serve` with `env` and waits until it answers.
async fn start_serve(db: &str, env: &[(&str, &str)]) -> std::process::Child {
    let port = free_port();
    let mut command = Command::new(KLUIS);
    for (var, _) in std::env::vars().filter(|(k, _)| {
        k.starts_with("KLUIS_MAIL_") || k == "KLUIS_PUBLIC_URL" || k == "KLUIS_CONFIG"
    }) {
        command.env_remove(var);
    }
    let child = command
        .args(["serve", "--listen", &format!("127.0.0.1:{port}")])
        .env("KLUIS_DATABASE_URL", db)
        .env("KLUIS_LOG", "warn")
        .envs(env.iter().copied())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("kluis serve starts");
    tokio::task::spawn_blocking(move || {
        let started = Instant::now();
        while http_get(port, "/healthz").is_none() {
            assert!(started.elapsed() < Duration::from_secs(30), "no answer");
            std::thread::sleep(Duration::from_millis(20));
        }
    })
    .await
    .expect("kluis serve answers");
    child
}

/// Stops a server started by [`start_serve`] and returns what it wrote to stderr.
fn stop_serve(mut server: std::process::Child) -> String {
    let _ = server.kill();
    let output = server.wait_with_output().expect("kluis serve stops");
    String::from_utf8_lossy(&output.stderr).into_owned()
}

#[test]
fn public_url_and_mail_settings_are_checked_and_shown_masked() {
    let dir = empty_dir("config-mail");
    std::fs::write(
        dir.join("kluis.toml"),
        "public_url = \"https://privacy.poperinge.be/\"\n\
         [mail]\nfrom = \"privacy@poperinge.be\"\n\
         smtp_url = \"smtps://kluis:mail-s3cret@relay.poperinge.be\"\n",
    )
    .unwrap();
    let out = ok(&kluis_in(&dir, &["config", "show"], &[]));
    assert!(!out.contains("mail-s3cret"), "{out}");
    for shown in [
        "https://privacy.poperinge.be  (from kluis.toml)",
        "smtps://kluis:****@relay.poperinge.be  (from kluis.toml)",
        "privacy@poperinge.be  (from kluis.toml)",
    ] {
        assert!(out.contains(shown), "{shown} missing from:\n{out}");
    }

    // Bad values fail with the setting's name and place, and show no password.
    for (env, expected) in [
        (
            ("KLUIS_PUBLIC_URL", "https://privacy.poperinge.be/#top"),
            "KLUIS_PUBLIC_URL: ",
        ),
        (
            (
                "KLUIS_MAIL_SMTP_URL",
                "smtp://kluis:s3cret@relay.poperinge.be",
            ),
            "KLUIS_MAIL_SMTP_URL: ",
        ),
        (("KLUIS_MAIL_FROM", "privacy"), "KLUIS_MAIL_FROM: "),
    ] {
        for command in [&["config", "show"][..], &["mail", "status"]] {
            let err = fails(&kluis_in(&dir, command, &[env]));
            assert!(err.contains(expected), "{env:?} => {err}");
            assert!(!err.contains("s3cret"), "{err}");
        }
    }
    std::fs::write(
        dir.join("kluis.toml"),
        "[mail]\nfrom = \"privacy@poperinge.be\"\nsmtp_url = \"http://relay.poperinge.be\"\n",
    )
    .unwrap();
    let err = fails(&kluis_in(&dir, &["config", "show"], &[]));
    assert!(
        err.contains("kluis.toml:3: [mail] smtp_url: 'http://relay.poperinge.be'"),
        "{err}"
    );

    // Without settings: the address kluis listens on, and no mail.
    std::fs::remove_file(dir.join("kluis.toml")).unwrap();
    let out = ok(&kluis_in(
        &dir,
        &["config", "show"],
        &[("KLUIS_LISTEN", "127.0.0.1:9999")],
    ));
    assert!(out.contains("http://127.0.0.1:9999  (default)"), "{out}");
    assert!(out.contains("not configured: mail stays queued"), "{out}");
    assert!(
        !dir.join("kluis.db").exists(),
        "config show creates no database"
    );
    let _ = std::fs::remove_dir_all(&dir);
}

async fn mail_story(store: TestStore) {
    use kluis_mail::testing::SmtpSink;

    let db = store.url().to_string();
    let dir = empty_dir("mail");
    let keys = dir.join("kluis.keys");
    let keys = keys.to_str().unwrap();
    let sink = SmtpSink::start().await;
    let relay = sink.url();
    let mail = [
        ("KLUIS_MAIL_SMTP_URL", relay.as_str()),
        ("KLUIS_MAIL_FROM", "Stad Poperinge <privacy@poperinge.be>"),
    ];

    // Not configured: a test mail is refused with what to set; nothing is queued.
    let err = fails(&kluis_mail(&db, &[], &["mail", "test", "--to", "an@example.be"]).await);
    assert!(
        err.contains("mail is not configured") && err.contains("KLUIS_MAIL_SMTP_URL"),
        "{err}"
    );
    let status = ok(&kluis_mail(&db, &[], &["mail", "status"]).await);
    assert!(status.contains("mail is not configured"), "{status}");
    assert!(status.contains("pending: 0"), "{status}");
    let err = fails(&kluis_mail(&db, &mail, &["mail", "test", "--to", "an at example.be"]).await);
    assert!(
        err.contains("--to 'an at example.be'") && err.contains("not an e-mail address"),
        "{err}"
    );
    let status = ok(&kluis_mail(&db, &mail, &["mail", "status"]).await);
    assert!(status.contains("pending: 0"), "{status}");
    assert!(!status.contains("not configured"), "{status}");

    // The relay refuses: the command fails, and the mail stays queued with the reason.
    sink.refuse(Some("451 4.3.0 try again later"));
    let err = fails(&kluis_mail(&db, &mail, &["mail", "test", "--to", "an@example.be"]).await);
    assert!(err.contains("451") && err.contains("stays queued"), "{err}");
    assert_eq!(sink.refused(), 1);
    let status = ok(&kluis_mail(&db, &mail, &["mail", "status"]).await);
    assert!(status.contains("pending: 1"), "{status}");
    assert!(
        status.contains("to an@example.be")
            && status.contains("(451): 4.3.0 try again later")
            && status.contains("attempt 1, retried from 20"),
        "{status}"
    );

    // The relay accepts: the test mail arrives.
    sink.refuse(None);
    let out = ok(&kluis_mail(&db, &mail, &["mail", "test", "--to", "Bert@Example.be"]).await);
    assert!(out.contains("sent a test mail to bert@example.be"), "{out}");
    let received = sink.wait_for(1).await;
    assert_eq!(received.len(), 1);
    assert_eq!(received[0].rcpt_to, ["bert@example.be"]);
    assert_eq!(received[0].mail_from, "privacy@poperinge.be");
    assert_eq!(
        received[0].header("Subject").as_deref(),
        Some("kluis: testbericht / test message")
    );
    assert!(received[0].header("List-Unsubscribe").is_none());
    assert!(received[0].body().contains("outgoing mail works"));
    let status = ok(&kluis_mail(&db, &mail, &["mail", "status"]).await);
    assert!(
        status.contains("pending: 1") && status.contains("sent:    1"),
        "{status}"
    );

    // `kluis serve` without mail says so at start-up; with mail it delivers in the
    // background what is queued meanwhile.
    let server = start_serve(&db, &[("KLUIS_KEYS_FILE", keys)]).await;
    let stderr = stop_serve(server);
    assert!(stderr.contains("mail is not configured"), "{stderr}");
    let mut with_mail = mail.to_vec();
    with_mail.push(("KLUIS_KEYS_FILE", keys));
    let server = start_serve(&db, &with_mail).await;
    let newsletter = kluis_domain::mail::OutgoingMail {
        to: "chris@example.be".parse().unwrap(),
        subject: "Nieuwsbrief".into(),
        body_text: "Beste lezer,\n".into(),
        activity: Some("nieuwsbrief".into()),
        unsubscribe_url: Some("https://privacy.poperinge.be/consent/unsubscribe/t0k3n".into()),
    };
    store
        .enqueue_mail(&newsletter, time::OffsetDateTime::now_utc())
        .await
        .unwrap();
    let received = sink.wait_for(2).await;
    let stderr = stop_serve(server);
    assert_eq!(received.len(), 2, "{stderr}");
    assert_eq!(received[1].rcpt_to, ["chris@example.be"]);
    assert_eq!(
        received[1].header("List-Unsubscribe").as_deref(),
        Some("<https://privacy.poperinge.be/consent/unsubscribe/t0k3n>")
    );
    assert!(stderr.contains("public_url is not set"), "{stderr}");
    let _ = std::fs::remove_dir_all(&dir);
    store.cleanup().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn outgoing_mail_from_the_command_line_and_the_server() {
    mail_story(sqlite_store().await).await;
    if let Some(pg) = postgres_store().await {
        mail_story(pg).await;
    }
}

#[tokio::test]
async fn breach_register_from_the_command_line() {
    breach_story(sqlite_store().await).await;
    if let Some(pg) = postgres_store().await {
        breach_story(pg).await;
    }
}

async fn breach_story(store: TestStore) {
    use kluis_domain::breach::{BreachFacts, ReportedBy};
    use time::OffsetDateTime;

    let db = store.url().to_string();
    ok(&kluis(&db, &["register", "import", LIMBURG]));
    let now = OffsetDateTime::now_utc();
    let facts = |hours_ago: i64, description: &str| BreachFacts {
        controller: "limburg".into(),
        detected_at: now - time::Duration::hours(hours_ago),
        aware_at: now - time::Duration::hours(hours_ago),
        reported_by: ReportedBy::Staff {
            name: "onthaal".into(),
        },
        description: description.into(),
        data_categories: Default::default(),
        special_categories: Default::default(),
        subject_categories: Default::default(),
        approx_subjects: Some(3),
        approx_records: None,
        consequences: String::new(),
        measures_taken: String::new(),
        measures_proposed: String::new(),
        risk: None,
        closed_at: None,
    };
    let old = store
        .create_breach(&facts(100, "Verkeerd ontvangen post"), "dpo", now)
        .await
        .unwrap();
    let fresh = store
        .create_breach(&facts(1, "Laptop gestolen"), "dpo", now)
        .await
        .unwrap();

    let all = ok(&kluis(&db, &["breach", "list"]));
    assert!(
        all.contains(&old.reference()) && all.contains(&fresh.reference()),
        "{all}"
    );
    let overdue = ok(&kluis(&db, &["breach", "list", "--overdue"]));
    assert!(overdue.contains(&old.reference()), "{overdue}");
    assert!(overdue.contains("OVERDUE"), "{overdue}");
    assert!(!overdue.contains(&fresh.reference()), "{overdue}");

    let shown = ok(&kluis(&db, &["breach", "show", &old.reference()]));
    assert!(shown.contains("Verkeerd ontvangen post"), "{shown}");
    assert!(shown.contains("not assessed yet"), "{shown}");

    // The draft of the GBA's form (the controller's first authority), in French on request.
    let path = std::env::temp_dir().join(format!("kluis-draft-{}.json", uuid::Uuid::now_v7()));
    let out = path.display().to_string();
    let id = fresh.id.to_string();
    ok(&kluis(
        &db,
        &[
            "breach", "draft", &id, "--format", "json", "--output", &out, "--lang", "fr",
        ],
    ));
    let draft: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
    std::fs::remove_file(&path).unwrap();
    assert_eq!(draft["authority"], "gba");
    assert_eq!(draft["language"], "fr");
    let description = draft["fields"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["key"] == "description")
        .unwrap();
    assert_eq!(description["label"], "Nature de la fuite de données");
    assert_eq!(description["value"], "Laptop gestolen");

    // The same as a PDF: standard fonts, WinAnsi text (é as one byte), nothing embedded.
    let path = std::env::temp_dir().join(format!("kluis-draft-{}.pdf", uuid::Uuid::now_v7()));
    let out = path.display().to_string();
    ok(&kluis(
        &db,
        &[
            "breach", "draft", &id, "--format", "pdf", "--output", &out, "--lang", "fr",
        ],
    ));
    let bytes = std::fs::read(&path).unwrap();
    std::fs::remove_file(&path).unwrap();
    assert!(bytes.starts_with(b"%PDF-"));
    let contains = |needle: &[u8]| bytes.windows(needle.len()).any(|w| w == needle);
    assert!(contains(b"/WinAnsiEncoding"));
    // Text with a byte beyond ASCII is written as a hex string: é is the one byte E9.
    let label: &[u8] = b"Nature de la fuite de donn\xe9es";
    let hex: String = label.iter().map(|b| format!("{b:02x}")).collect();
    assert!(
        contains(hex.as_bytes()) || contains(hex.to_uppercase().as_bytes()),
        "{hex}"
    );
    assert!(contains(b"Laptop gestolen"));
    let err = fails(&kluis(&db, &["breach", "draft", &id, "--format", "pdf"]));
    assert!(err.contains("--output"), "{err}");

    // Bad input: an unknown breach, a language the VTC's form does not have.
    let err = fails(&kluis(&db, &["breach", "show", "DL-00000000"]));
    assert!(err.contains("no breach"), "{err}");
    let err = fails(&kluis(
        &db,
        &["breach", "draft", &id, "--authority", "vtc", "--lang", "fr"],
    ));
    assert!(err.contains("not offered"), "{err}");
    let err = fails(&kluis(
        &db,
        &["breach", "draft", &id, "--authority", "cnil"],
    ));
    assert!(err.contains("cnil"), "{err}");
    store.cleanup().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn statistics_extracts_from_the_command_line() {
    stats_story(sqlite_store().await).await;
    if let Some(pg) = postgres_store().await {
        stats_story(pg).await;
    }
}

async fn stats_story(store: TestStore) {
    use kluis_domain::access::Role;
    use kluis_domain::inventory::{RecordInput, SubjectIdentity};
    use kluis_domain::processing_log::{Actor, ActorKind};
    use kluis_domain::trace::TraceContext;

    const ACTIVITY: &str = "limburg-werving-selectie";
    let db = store.url().to_string();
    let dir = empty_dir("stats");
    let keys = dir.join("kluis.keys");
    std::fs::write(&keys, store.keys().to_key_file_text().as_bytes()).unwrap();
    let k = |args: &[&str]| kluis_keys(&db, &keys, args);
    ok(&k(&["register", "import", LIMBURG]));
    let now = time::OffsetDateTime::now_utc();
    for (user, assigned) in [("els", true), ("jan", false)] {
        let account = store
            .create_user(user, user, "a long password here", &[Role::Caseworker], now)
            .await
            .unwrap();
        store
            .record_confidentiality_statement(account.id, now.date(), "DOC-1", "dpo", now)
            .await
            .unwrap();
        if assigned {
            store
                .assign_activity(account.id, ACTIVITY, "dpo", now)
                .await
                .unwrap();
        }
    }
    // Six applicants with a diploma record; the sixth alone in postcode 9xxx.
    let p = kluis_store::Processing {
        actor: Actor {
            kind: ActorKind::Staff,
            id: None,
            name: "els".into(),
        },
        trace: TraceContext::new_root([5; 16], [6; 8]),
        case_ref: None,
        now,
    };
    for i in 0..6 {
        let identity = SubjectIdentity {
            email: Some(format!("kandidaat{i}@example.be").parse().unwrap()),
            birth_date: Some(time::macros::date!(1990 - 05 - 01)),
            ..Default::default()
        };
        let (subject, _) = store
            .record_subject(&p, ACTIVITY, &identity, &[])
            .await
            .unwrap();
        let diploma = if i == 0 {
            "=HYPERLINK(\"x\")"
        } else {
            "Master"
        };
        let postcode = if i == 5 { "9000" } else { "3500" };
        let input = RecordInput {
            activity: ACTIVITY.into(),
            schedule: Some("niet-weerhouden".into()),
            category: kluis_domain::category::DataCategory::Education,
            fields: [
                ("diploma".to_string(), serde_json::json!(diploma)),
                ("postcode".to_string(), serde_json::json!(postcode)),
            ]
            .into(),
            source: None,
            collected_on: time::macros::date!(2026 - 03 - 01),
            events: Default::default(),
            provided_by_subject: true,
        };
        store.add_record(&p, subject.id, &input).await.unwrap();
    }
    let spec = |k: u32, column: &str| {
        let path = dir.join(format!("spec-{k}-{}.yaml", column.len()));
        std::fs::write(
            &path,
            format!(
                "activity: {ACTIVITY}\nproject: arbeidsmarkt-2026\npurpose: Studie arbeidsmarkt\n\
                 thresholds: {{k: {k}, max_suppressed_share: 0.2}}\ncolumns:\n\
                 \x20 - {{name: person, role: pseudonym}}\n\
                 \x20 - {{name: born, source: subject.birth_date, role: quasi_identifier, generalise: year}}\n\
                 \x20 - {{name: postcode, source: field.postcode, role: quasi_identifier, generalise: {{prefix: 1}}}}\n\
                 \x20 - {column}\n"
            ),
        )
        .unwrap();
        path.display().to_string()
    };
    let csv = dir.join("extract.csv");
    let csv_name = csv.display().to_string();
    let report = dir.join("report.json");
    let report_name = report.display().to_string();
    let extract = |spec: &str, user: &str| {
        k(&[
            "stats",
            "extract",
            "--spec",
            spec,
            "--output",
            &csv_name,
            "--report",
            &report_name,
            "--as",
            user,
        ])
    };

    // A direct identifier is refused, naming the column, before anything is read.
    let asks_email = spec(5, "{name: mail, source: field.email, role: attribute}");
    let err = fails(&extract(&asks_email, "els"));
    assert!(
        err.contains("column 'mail'") && err.contains("direct identifier"),
        "{err}"
    );
    let asks_name = spec(5, "{name: n, source: subject.family_name, role: attribute}");
    let err = fails(&extract(&asks_name, "els"));
    assert!(err.contains("subject.family_name"), "{err}");
    assert!(!csv.exists());

    // Need-to-know: an unknown account, and one not assigned to the activity.
    let good = spec(5, "{name: diploma, source: field.diploma, role: attribute}");
    let err = fails(&extract(&good, "nobody"));
    assert!(err.contains("kluis user add"), "{err}");
    let err = fails(&extract(&good, "jan"));
    assert!(err.contains("not assigned"), "{err}");
    assert!(!csv.exists());

    // Released: five rows, the sixth applicant suppressed, a formula defused.
    let out = ok(&extract(&good, "els"));
    assert!(out.contains("6 rows of 6 people"), "{out}");
    assert!(out.contains("k-anonymity: 5 required, 5 achieved"), "{out}");
    assert!(out.contains("5 rows written"), "{out}");
    let text = std::fs::read_to_string(&csv).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines[0], "person,born,postcode,diploma");
    assert_eq!(lines.len(), 6, "{text}");
    assert!(text.contains(",1990,3,\"'=HYPERLINK"), "{text}");
    assert!(
        !text.contains("example.be") && !text.contains(",9,"),
        "{text}"
    );
    let json: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&report).unwrap()).unwrap();
    assert_eq!(json["report"]["k_achieved"], 5);
    assert_eq!(json["report"]["rows_suppressed"], 1);
    assert_eq!(json["project"], "arbeidsmarkt-2026");
    std::fs::remove_file(&csv).unwrap();
    std::fs::remove_file(&report).unwrap();

    // Below the threshold: refused, non-zero, nothing written.
    let strict = spec(6, "{name: diploma, source: field.diploma, role: attribute}");
    let err = fails(&extract(&strict, "els"));
    assert!(
        err.contains("the release is refused") && err.contains("nothing was written"),
        "{err}"
    );
    assert!(!csv.exists() && !report.exists());

    // Both attempts are logged, with who made them.
    let log = ok(&k(&["stats", "log", ACTIVITY]));
    assert_eq!(log.lines().count(), 2, "{log}");
    assert!(log.lines().all(|l| l.contains("by els")), "{log}");
    assert!(log.contains("refused") && log.contains("released"), "{log}");
    let _ = std::fs::remove_dir_all(&dir);
    store.cleanup().await;
}

#[tokio::test]
async fn rights_requests_from_the_command_line() {
    request_story(sqlite_store().await).await;
    if let Some(pg) = postgres_store().await {
        request_story(pg).await;
    }
}

/// A request filed on the portal, worked through by a caseworker with `kluis request`.
async fn request_story(store: TestStore) {
    use kluis_domain::access::Role;
    use kluis_domain::inventory::SubjectIdentity;
    use kluis_domain::rights::{ActingFor, RequestChannel, Requester, Right};

    let db = store.url().to_string();
    let dir = empty_dir("requests");
    let keys = dir.join("kluis.keys");
    std::fs::write(&keys, store.keys().to_key_file_text().as_bytes()).unwrap();
    let k = |args: &[&str]| kluis_keys(&db, &keys, args);
    ok(&k(&["register", "import", LIMBURG]));
    let now = time::OffsetDateTime::now_utc();
    for (name, role) in [("els", Role::Caseworker), ("audit", Role::Auditor)] {
        store
            .create_user(name, name, "a long password here", &[role], now)
            .await
            .unwrap();
    }
    let email = || Some("an.peeters@example.be".parse().unwrap());
    let filed = store
        .file_request(
            &kluis_store::NewRequest {
                controller: "limburg".into(),
                rights: vec![Right::Access, Right::Erasure],
                channel: RequestChannel::Portal,
                requester: Requester {
                    identity: SubjectIdentity {
                        email: email(),
                        family_name: Some("Peeters".into()),
                        ..Default::default()
                    },
                    acting_for: ActingFor::Themselves,
                    filed_by: None,
                    email: email(),
                    postal_address: None,
                    message: "Wat weet u over mij?".into(),
                },
                language: kluis_domain::text::Lang::Nl,
                received_on: now.date(),
            },
            |_| None,
            "requester",
            now,
        )
        .await
        .unwrap();
    let reference = filed.reference.as_str();

    // Refused: an auditor, and a caseworker without a confidentiality statement.
    let err = fails(&k(&["request", "list", "--as", "audit"]));
    assert!(err.contains("dpo or caseworker"), "{err}");
    let err = fails(&k(&["request", "list", "--as", "els"]));
    assert!(err.contains("confidentiality"), "{err}");
    ok(&k(&[
        "staff",
        "confidentiality",
        "els",
        "--signed-on",
        "2026-01-05",
        "--reference",
        "DOC-1",
    ]));

    let listed = ok(&k(&["request", "list", "--as", "els"]));
    assert!(
        listed.contains(reference) && listed.contains("access, erasure"),
        "{listed}"
    );
    assert!(!ok(&k(&["request", "list", "--overdue", "--as", "els"])).contains(reference));
    let shown = ok(&k(&[
        "request",
        "show",
        &reference.to_lowercase(),
        "--as",
        "els",
    ]));
    assert!(
        shown.contains("Peeters") && shown.contains("dpv:RequestAcknowledged"),
        "{shown}"
    );

    // No fulfilment before the identity is verified; nothing changes.
    let err = fails(&k(&[
        "request", "fulfil", reference, "--as", "els", "--note", "x",
    ]));
    assert!(err.contains("identity is verified"), "{err}");
    ok(&k(&["request", "verify", reference, "--as", "els"]));
    // The register's defaults, completed by the caseworker, then decided.
    let defaults = ok(&k(&["request", "defaults", reference, "--as", "els"]));
    let mut decisions: Vec<serde_json::Value> = serde_json::from_str(&defaults).unwrap();
    assert!(
        decisions
            .iter()
            .any(|d| d["activity"] == "limburg-overheidsopdrachten"
                && d["grounds"] == serde_json::json!(["legal_obligation"])),
        "{defaults}"
    );
    decisions.retain(|d| d["right"] == "erasure");
    decisions.push(serde_json::json!({
        "right": "access", "activity": "limburg-nieuwsbrieven", "outcome": "granted",
        "motivation": "U krijgt uw gegevens."
    }));
    let file = dir.join("decisions.json");
    std::fs::write(&file, "[{\"right\": \"access\"}]").unwrap();
    let err = fails(&k(&[
        "request",
        "decide",
        reference,
        "--as",
        "els",
        "--file",
        file.to_str().unwrap(),
    ]));
    assert!(err.contains("kluis request defaults"), "{err}");
    std::fs::write(&file, serde_json::to_string(&decisions).unwrap()).unwrap();
    ok(&k(&[
        "request",
        "decide",
        reference,
        "--as",
        "els",
        "--file",
        file.to_str().unwrap(),
    ]));
    let err = fails(&k(&[
        "request",
        "extend",
        reference,
        "--as",
        "els",
        "--months",
        "3",
        "--reason",
        "veel werk",
    ]));
    assert!(err.contains("one or two months"), "{err}");
    ok(&k(&[
        "request",
        "extend",
        reference,
        "--as",
        "els",
        "--months",
        "1",
        "--reason",
        "veel werk",
    ]));
    ok(&k(&[
        "request",
        "fulfil",
        reference,
        "--as",
        "els",
        "--note",
        "pakket verstuurd",
    ]));
    let closed = ok(&k(&[
        "request",
        "close",
        reference,
        "--as",
        "els",
        "--note",
        "brief verstuurd",
    ]));
    assert!(closed.contains("closed (dpv:RequestFulfilled)"), "{closed}");
    // The closing letter to print: a PDF with the letter as it was mailed.
    let dir = empty_dir(&format!("letter-{}", reference.to_lowercase()));
    let pdf = dir.join("letter.pdf");
    let printed = ok(&k(&[
        "request",
        "letter",
        reference,
        "--as",
        "els",
        "--output",
        pdf.to_str().unwrap(),
    ]));
    assert!(printed.contains("print it and post it"), "{printed}");
    let bytes = std::fs::read(&pdf).unwrap();
    assert!(bytes.starts_with(b"%PDF"));
    assert!(String::from_utf8_lossy(&bytes).contains(reference));
    let shown = ok(&k(&["request", "show", reference, "--as", "els", "--json"]));
    let shown: serde_json::Value = serde_json::from_str(&shown).unwrap();
    let steps: Vec<&str> = shown["timeline"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["step"].as_str().unwrap())
        .collect();
    assert_eq!(
        steps,
        [
            "received",
            "acknowledged",
            "identity_verified",
            "decided",
            "deadline_extended",
            "requester_told",
            "fulfilled",
            "closed",
            "requester_told"
        ]
    );
    assert_eq!(shown["timeline"][2]["actor"], "els");
    let err = fails(&k(&["request", "show", "RQ-0000-0000-0000", "--as", "els"]));
    assert!(err.contains("there is no rights request"), "{err}");
    store.cleanup().await;
}

#[tokio::test]
async fn the_retention_sweep_reaches_connected_systems() {
    external_sweep_story(sqlite_store().await).await;
}

/// `kluis retention sweep` after the vault sweeps the HR system on PostgreSQL (rejected
/// applications 4 weeks after closing, Limburg's rule) and the accounting system on
/// MariaDB (suppliers anonymised 10 years after the relationship ended), every batch in
/// the destruction log; an unreachable system fails the run with its name.
async fn external_sweep_story(store: TestStore) {
    use kluis_connectors::testing::{accounting_map, accounting_mariadb, hr_map, hr_postgres};
    let (Some(hr), Some(accounting)) = (hr_postgres().await, accounting_mariadb().await) else {
        store.cleanup().await;
        return;
    };
    let db = store.url().to_string();
    let dir = empty_dir("external-sweep");
    let keys = dir.join("kluis.keys");
    std::fs::write(&keys, store.keys().to_key_file_text().as_bytes()).unwrap();
    ok(&kluis_keys(&db, &keys, &["register", "import", LIMBURG]));
    let mut hr_rules = hr_map();
    hr_rules
        .tables
        .get_mut("applications")
        .and_then(|t| t.retention.as_mut())
        .expect("the HR map gives applications a retention")
        .schedule = Some("niet-weerhouden".into());
    let hr_file = limburg_map(hr_rules, "limburg-werving-selectie", &dir);
    let accounting_file = limburg_map(accounting_map(), "limburg-boekhouding", &dir);
    let env = [
        ("KLUIS_SYSTEM_HR_URL", hr.url()),
        ("KLUIS_SYSTEM_ACCOUNTING_URL", accounting.url()),
    ];
    let k = |args: &[&str]| kluis_env(&db, &keys, &env, args);
    ok(&k(&["systems", "add", &hr_file.display().to_string()]));
    ok(&k(&[
        "systems",
        "add",
        &accounting_file.display().to_string(),
    ]));

    // Bram was not selected either, but kluis holds a record of his (an appeal): his
    // rows in the HR system are held with it, found by his e-mail address.
    hr.execute("UPDATE hr.applications SET status = 'rejected' WHERE applicant_id = 2")
        .await;
    let bram = {
        let p = kluis_store::Processing {
            actor: kluis_domain::processing_log::Actor {
                kind: kluis_domain::processing_log::ActorKind::Staff,
                id: None,
                name: "hr".into(),
            },
            trace: kluis_domain::trace::TraceContext::new_root([5; 16], [6; 8]),
            case_ref: None,
            now: time::OffsetDateTime::now_utc(),
        };
        let identity = kluis_domain::inventory::SubjectIdentity {
            email: Some(
                kluis_connectors::testing::people::BRAM_EMAIL
                    .parse()
                    .unwrap(),
            ),
            family_name: Some("Janssens".into()),
            ..Default::default()
        };
        let (subject, _) = store
            .record_subject(&p, "limburg-werving-selectie", &identity, &[])
            .await
            .unwrap();
        let input = kluis_domain::inventory::RecordInput {
            activity: "limburg-werving-selectie".into(),
            schedule: Some("niet-weerhouden".into()),
            category: kluis_domain::category::DataCategory::Education,
            fields: std::collections::BTreeMap::from([(
                "diploma".to_string(),
                serde_json::json!("Master"),
            )]),
            source: None,
            collected_on: time::macros::date!(2024 - 03 - 11),
            events: std::collections::BTreeMap::from([(
                kluis_domain::retention::RetentionEvent::EndOfProcedure,
                time::OffsetDateTime::now_utc().date(),
            )]),
            provided_by_subject: true,
        };
        store.add_record(&p, subject.id, &input).await.unwrap().id
    };
    let placed = ok(&k(&[
        "retention",
        "hold",
        "place",
        "--record",
        &bram.to_string(),
        "--reason",
        "beroep bij de Raad van State",
    ]));
    let hold_id = placed
        .split_whitespace()
        .nth(3)
        .unwrap_or_else(|| panic!("no hold id in {placed}"))
        .to_string();

    let planned = ok(&k(&["retention", "sweep", "--dry-run"]));
    assert!(
        planned.contains(
            "table applications (limburg-werving-selectie): 1 to delete, 0 to anonymise, 0 \
             kept, 1 held"
        ),
        "{planned}"
    );
    assert_eq!(
        hr.scalar("SELECT count(*)::text FROM hr.applications")
            .await,
        "4"
    );

    let swept = ok(&k(&["retention", "sweep"]));
    assert!(
        swept.contains("hr") && swept.contains("accounting"),
        "{swept}"
    );
    assert!(swept.contains("1 held (legal hold)"), "{swept}");
    // An's rejected application went, with its interview note and document; Bram's is
    // held, the others stay. Dirk Claes is anonymised; his IBAN and national number are
    // kept by law.
    assert_eq!(
        hr.scalar("SELECT count(*)::text FROM hr.applications")
            .await,
        "3"
    );
    assert_eq!(
        hr.scalar("SELECT string_agg(applicant_id::text, ',') FROM hr.applications WHERE status = 'rejected'")
            .await,
        "2"
    );
    assert_eq!(
        accounting
            .scalar("SELECT CAST(COUNT(*) AS CHAR) FROM suppliers WHERE name = 'erased supplier'")
            .await,
        "1"
    );
    assert_eq!(
        accounting
            .scalar("SELECT iban FROM suppliers WHERE name = 'erased supplier'")
            .await,
        "BE71096123456769"
    );
    let log = store.destruction_log(None, 0, 100).await.unwrap();
    let external: Vec<_> = log.iter().filter(|e| e.system != "kluis").collect();
    let applications = external
        .iter()
        .find(|e| e.system == "hr" && e.table == "applications")
        .unwrap_or_else(|| panic!("no entry for hr.applications: {log:?}"));
    assert_eq!(applications.rows, 1);
    assert_eq!(applications.activity, "limburg-werving-selectie");
    assert_eq!(applications.schedule, "niet-weerhouden");
    assert!(applications.run_id.is_some(), "under the run");
    let suppliers = external
        .iter()
        .find(|e| e.system == "accounting" && e.table == "suppliers")
        .unwrap_or_else(|| panic!("no entry for accounting.suppliers: {log:?}"));
    assert_eq!((suppliers.rows, suppliers.method.name()), (1, "anonymise"));
    // A second sweep finds nothing more to destroy in the systems while the hold lasts.
    ok(&k(&["retention", "sweep"]));
    let again = store.destruction_log(None, 0, 100).await.unwrap();
    assert_eq!(
        again.iter().filter(|e| e.system != "kluis").count(),
        external.len()
    );
    // Lifted: the next sweep removes Bram's application, logged.
    ok(&k(&[
        "retention",
        "hold",
        "lift",
        &hold_id,
        "--reason",
        "beroep verworpen",
    ]));
    let swept = ok(&k(&["retention", "sweep"]));
    assert!(!swept.contains("held (legal hold)"), "{swept}");
    assert_eq!(
        hr.scalar("SELECT count(*)::text FROM hr.applications WHERE status = 'rejected'")
            .await,
        "0"
    );
    let after = store.destruction_log(None, 0, 100).await.unwrap();
    assert!(
        after
            .iter()
            .filter(|e| e.system == "hr" && e.table == "applications")
            .count()
            == 2,
        "{after:?}"
    );

    // A system that cannot be reached fails the run, by name.
    let down = [
        (
            "KLUIS_SYSTEM_HR_URL",
            "postgres://postgres@127.0.0.1:1/nothing",
        ),
        ("KLUIS_SYSTEM_ACCOUNTING_URL", accounting.url()),
    ];
    let err = fails(&kluis_env(&db, &keys, &down, &["retention", "sweep"]));
    assert!(err.contains("the sweep of hr stopped"), "{err}");
    hr.cleanup().await;
    accounting.cleanup().await;
    store.cleanup().await;
}

#[tokio::test]
async fn caseworkers_are_assigned_requests_and_reminded_from_the_command_line() {
    assignment_story(sqlite_store().await).await;
    if let Some(pg) = postgres_store().await {
        assignment_story(pg).await;
    }
}

/// The DPO assigns an overdue request to a caseworker with a mail address; `kluis request
/// remind` queues one reminder a day.
async fn assignment_story(store: TestStore) {
    use kluis_domain::access::Role;
    use kluis_domain::inventory::SubjectIdentity;
    use kluis_domain::rights::{ActingFor, RequestChannel, Requester, Right};

    let db = store.url().to_string();
    let dir = empty_dir("assignment");
    let keys = dir.join("kluis.keys");
    std::fs::write(&keys, store.keys().to_key_file_text().as_bytes()).unwrap();
    let k = |args: &[&str]| kluis_keys(&db, &keys, args);
    ok(&k(&["register", "import", LIMBURG]));
    let now = time::OffsetDateTime::now_utc();
    for (name, role) in [("els", Role::Caseworker), ("audit", Role::Auditor)] {
        store
            .create_user(name, name, "a long password here", &[role], now)
            .await
            .unwrap();
    }
    ok(&k(&[
        "staff",
        "confidentiality",
        "els",
        "--signed-on",
        "2026-01-05",
        "--reference",
        "DOC-1",
    ]));
    let email = || Some("an.peeters@example.be".parse().unwrap());
    let filed = store
        .file_request(
            &kluis_store::NewRequest {
                controller: "limburg".into(),
                rights: vec![Right::Access],
                channel: RequestChannel::Letter,
                requester: Requester {
                    identity: SubjectIdentity {
                        email: email(),
                        ..Default::default()
                    },
                    acting_for: ActingFor::Themselves,
                    filed_by: None,
                    email: email(),
                    postal_address: None,
                    message: "Wat weet u over mij?".into(),
                },
                language: kluis_domain::text::Lang::Nl,
                // Received 40 days ago: overdue.
                received_on: now.date() - time::Duration::days(40),
            },
            |_| None,
            "requester",
            now,
        )
        .await
        .unwrap();
    let reference = filed.reference.as_str();

    let err = fails(&k(&[
        "request", "assign", reference, "--to", "audit", "--as", "els",
    ]));
    assert!(err.contains("may not handle rights requests"), "{err}");
    let err = fails(&k(&["user", "mail", "nobody", "x@stad.be"]));
    assert!(err.contains("nobody"), "{err}");
    let err = fails(&k(&["user", "mail", "els", "not an address"]));
    assert!(err.contains("address"), "{err}");
    ok(&k(&[
        "user",
        "mail",
        "els",
        "els@limburg.be",
        "--lang",
        "en",
    ]));
    let assigned = ok(&k(&[
        "request", "assign", reference, "--to", "els", "--as", "els",
    ]));
    assert!(assigned.contains("assigned to els"), "{assigned}");
    let mine = ok(&k(&["request", "list", "--assignee", "els", "--as", "els"]));
    assert!(
        mine.contains(reference) && mine.contains("days late"),
        "{mine}"
    );
    let others = ok(&k(&[
        "request",
        "list",
        "--assignee",
        "audit",
        "--as",
        "els",
    ]));
    assert!(!others.contains(reference), "{others}");
    let shown = ok(&k(&["request", "show", reference, "--as", "els"]));
    assert!(shown.contains("assignee:   els"), "{shown}");

    let pending = store.mail_status(0).await.unwrap().pending;
    let reminded = ok(&k(&["request", "remind"]));
    assert!(
        reminded.contains("reminder queued for els: 1 requests, 1 overdue"),
        "{reminded}"
    );
    assert_eq!(store.mail_status(0).await.unwrap().pending, pending + 1);
    let again = ok(&k(&["request", "remind"]));
    assert!(again.contains("already sent"), "{again}");
    assert_eq!(store.mail_status(0).await.unwrap().pending, pending + 1);
    let _ = std::fs::remove_dir_all(&dir);
    store.cleanup().await;
}

#[tokio::test]
async fn access_package_and_portability_from_the_command_line() {
    package_story(sqlite_store().await).await;
    if let Some(pg) = postgres_store().await {
        package_story(pg).await;
    }
}

/// `kluis request package` and `kluis request portability`: refused before a decision
/// (no file left, nothing logged), then written in each format and logged as exports.
async fn package_story(store: TestStore) {
    use kluis_domain::access::Scope;
    use kluis_domain::category::DataCategory;
    use kluis_domain::inventory::{RecordInput, SubjectIdentity};
    use kluis_domain::processing_log::{LogAction, LogSelector};
    use kluis_domain::rights::{ActingFor, RequestChannel, Requester, Right};
    use std::collections::BTreeMap;

    let db = store.url().to_string();
    let dir = empty_dir("packages");
    let keys = dir.join("kluis.keys");
    std::fs::write(&keys, store.keys().to_key_file_text().as_bytes()).unwrap();
    let k = |args: &[&str]| kluis_keys(&db, &keys, args);
    ok(&k(&["register", "import", LIMBURG]));
    let now = time::OffsetDateTime::now_utc();
    caseworker_els(&store, &k, now).await;
    let p = seeding(now);
    let identity = SubjectIdentity {
        email: Some("an.peeters@example.be".parse().unwrap()),
        family_name: Some("Peeters".into()),
        ..Default::default()
    };
    let (an, _) = store
        .record_subject(&p, "limburg-nieuwsbrieven", &identity, &[])
        .await
        .unwrap();
    for (field, provided) in [("nieuwsbrief_email", true), ("bounces", false)] {
        store
            .add_record(
                &p,
                an.id,
                &RecordInput {
                    activity: "limburg-nieuwsbrieven".into(),
                    schedule: None,
                    category: DataCategory::Contact,
                    fields: BTreeMap::from([(field.to_string(), serde_json::json!("x"))]),
                    source: None,
                    collected_on: now.date(),
                    events: BTreeMap::new(),
                    provided_by_subject: provided,
                },
            )
            .await
            .unwrap();
    }
    let filed = store
        .file_request(
            &kluis_store::NewRequest {
                controller: "limburg".into(),
                rights: vec![Right::Access, Right::Portability],
                channel: RequestChannel::Letter,
                requester: Requester {
                    identity: identity.clone(),
                    acting_for: ActingFor::Themselves,
                    filed_by: None,
                    email: identity.email.clone(),
                    postal_address: None,
                    message: "Mijn gegevens, graag.".into(),
                },
                language: kluis_domain::text::Lang::Nl,
                received_on: now.date(),
            },
            |_| None,
            "requester",
            now,
        )
        .await
        .unwrap();
    let reference = filed.reference.as_str();
    let out = |name: &str| dir.join(name).display().to_string();

    // Before the identity is verified: refused, no file, nothing logged.
    let head = store.log_head().await.unwrap();
    let err = fails(&k(&[
        "request",
        "package",
        reference,
        "--format",
        "pdf",
        "--output",
        &out("early.pdf"),
        "--as",
        "els",
    ]));
    assert!(err.contains("identity is not verified"), "{err}");
    assert!(!dir.join("early.pdf").exists());
    assert_eq!(store.log_head().await.unwrap(), head);
    let subject = an.id.to_string();
    ok(&k(&[
        "request",
        "verify",
        reference,
        "--as",
        "els",
        "--subject",
        &subject,
    ]));
    let decisions = dir.join("decisions.json");
    std::fs::write(
        &decisions,
        serde_json::json!([
            {"right": "access", "activity": "limburg-nieuwsbrieven", "outcome": "granted",
             "motivation": "U krijgt uw gegevens."},
            {"right": "portability", "activity": "limburg-nieuwsbrieven", "outcome": "granted",
             "motivation": "U krijgt wat u ons gaf."},
        ])
        .to_string(),
    )
    .unwrap();
    ok(&k(&[
        "request",
        "decide",
        reference,
        "--as",
        "els",
        "--file",
        decisions.to_str().unwrap(),
    ]));
    let err = fails(&k(&[
        "request",
        "package",
        reference,
        "--format",
        "docx",
        "--output",
        &out("p.docx"),
        "--as",
        "els",
    ]));
    assert!(err.contains("html, pdf, zip"), "{err}");

    // Each format, written and logged.
    for (format, starts) in [
        ("html", &b"<!DOCTYPE html>"[..]),
        ("pdf", b"%PDF"),
        ("zip", b"PK"),
    ] {
        let file = out(&format!("package.{format}"));
        let said = ok(&k(&[
            "request", "package", reference, "--format", format, "--output", &file, "--as", "els",
        ]));
        assert!(said.contains(reference), "{said}");
        let bytes = std::fs::read(&file).unwrap();
        assert!(bytes.starts_with(starts), "{format}");
    }
    let html = std::fs::read_to_string(out("package.html")).unwrap();
    assert!(html.contains("<html lang=\"nl\">") && html.contains("nieuwsbrief_email"));
    let file = out("ported.json");
    ok(&k(&[
        "request",
        "portability",
        reference,
        "--format",
        "json",
        "--output",
        &file,
        "--as",
        "els",
    ]));
    let ported: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&file).unwrap()).unwrap();
    let records = ported["records"].as_array().unwrap();
    assert_eq!(records.len(), 1, "only what she provided: {ported}");
    assert!(records[0]["fields"]["nieuwsbrief_email"].is_string());
    let exports = store
        .log_entries(
            &LogSelector {
                subjects: store.subject_pseudonyms_of(an.id).await.unwrap(),
                ..LogSelector::default()
            },
            &Scope::All,
            1_000,
        )
        .await
        .unwrap()
        .into_iter()
        .filter(|e| {
            e.entry.action == LogAction::Export && e.entry.case_ref.as_deref() == Some(reference)
        })
        .count();
    assert_eq!(
        exports, 4,
        "three packages and one export, one activity each"
    );
    let _ = std::fs::remove_dir_all(&dir);
    store.cleanup().await;
}

#[tokio::test]
async fn erasure_reaches_the_vault_and_every_connected_system() {
    erasure_story(sqlite_store().await).await;
    if let Some(pg) = postgres_store().await {
        erasure_story(pg).await;
    }
}

/// `kluis request fulfil` erases An Peeters in the vault, in the HR system on PostgreSQL
/// and in the accounting system on MariaDB. HR cannot be reached the first time: the run
/// fails naming it, the request stays decided; the second run erases in HR only and
/// counts nothing twice; a third changes nothing. Closing waits for the recipients (art.
/// 19), recorded with `kluis request told`.
async fn erasure_story(store: TestStore) {
    use kluis_connectors::testing::{
        accounting_map, accounting_mariadb, hr_map, hr_postgres, people,
    };
    use kluis_domain::category::DataCategory;
    use kluis_domain::inventory::{RecordInput, SubjectIdentity};
    use kluis_domain::rights::{ActingFor, RequestChannel, Requester, Right};

    let (Some(hr), Some(accounting)) = (hr_postgres().await, accounting_mariadb().await) else {
        store.cleanup().await;
        return;
    };
    const WERVING: &str = "limburg-werving-selectie";
    const BOEKHOUDING: &str = "limburg-boekhouding";
    let db = store.url().to_string();
    let dir = empty_dir(&format!("erasure-{:?}", store.backend()));
    let keys = dir.join("kluis.keys");
    std::fs::write(&keys, store.keys().to_key_file_text().as_bytes()).unwrap();
    ok(&kluis_keys(&db, &keys, &["register", "import", LIMBURG]));
    let hr_file = limburg_map(hr_map(), WERVING, &dir);
    let accounting_file = limburg_map(accounting_map(), BOEKHOUDING, &dir);
    let up = [
        ("KLUIS_SYSTEM_HR_URL", hr.url()),
        ("KLUIS_SYSTEM_ACCOUNTING_URL", accounting.url()),
    ];
    let down = [
        (
            "KLUIS_SYSTEM_HR_URL",
            "postgres://postgres@127.0.0.1:1/nothing",
        ),
        ("KLUIS_SYSTEM_ACCOUNTING_URL", accounting.url()),
    ];
    let k = |args: &[&str]| kluis_env(&db, &keys, &up, args);
    ok(&k(&["systems", "add", &hr_file.display().to_string()]));
    ok(&k(&[
        "systems",
        "add",
        &accounting_file.display().to_string(),
    ]));
    let now = time::OffsetDateTime::now_utc();
    caseworker_els(&store, &k, now).await;
    // An in the vault: an application (recruitment) and a supplier file (accounting).
    let p = seeding(now);
    let identity = SubjectIdentity {
        national_number: Some(people::AN_NATIONAL_NUMBER.parse().unwrap()),
        email: Some(people::AN_EMAIL.parse().unwrap()),
        family_name: Some("Peeters".into()),
        ..Default::default()
    };
    let (an, _) = store
        .record_subject(&p, WERVING, &identity, &[])
        .await
        .unwrap();
    let mut records = Vec::new();
    for (activity, schedule, category) in [
        (WERVING, Some("niet-weerhouden"), DataCategory::Education),
        (BOEKHOUDING, None, DataCategory::Financial),
    ] {
        let r = store
            .add_record(
                &p,
                an.id,
                &RecordInput {
                    activity: activity.into(),
                    schedule: schedule.map(str::to_string),
                    category,
                    fields: std::collections::BTreeMap::from([(
                        "veld".to_string(),
                        serde_json::json!("waarde"),
                    )]),
                    source: None,
                    collected_on: now.date(),
                    events: std::collections::BTreeMap::new(),
                    provided_by_subject: true,
                },
            )
            .await
            .unwrap();
        records.push(r.id);
    }
    let filed = store
        .file_request(
            &kluis_store::NewRequest {
                controller: "limburg".into(),
                rights: vec![Right::Erasure],
                channel: RequestChannel::Letter,
                requester: Requester {
                    identity: identity.clone(),
                    acting_for: ActingFor::Themselves,
                    filed_by: None,
                    email: Some(people::AN_EMAIL.parse().unwrap()),
                    postal_address: None,
                    message: "Wis mijn gegevens.".into(),
                },
                language: kluis_domain::text::Lang::Nl,
                received_on: now.date(),
            },
            |_| None,
            "requester",
            now,
        )
        .await
        .unwrap();
    let reference = filed.reference.as_str();
    let fulfil = ["request", "fulfil", reference, "--as", "els"];
    // Not before the identity is verified and the request decided; nothing changes.
    let err = fails(&k(&fulfil));
    assert!(err.contains("identity is verified"), "{err}");
    let subject = an.id.to_string();
    ok(&k(&[
        "request",
        "verify",
        reference,
        "--as",
        "els",
        "--subject",
        &subject,
    ]));
    let err = fails(&k(&fulfil));
    assert!(err.contains("decide first"), "{err}");
    let decisions = serde_json::json!([
        {"right": "erasure", "activity": WERVING, "outcome": "granted", "motivation": "Gewist."},
        {"right": "erasure", "activity": BOEKHOUDING, "outcome": "granted",
         "motivation": "Gewist, behalve wat de boekhoudwet ons doet bewaren."},
    ]);
    let file = dir.join("decisions.json");
    std::fs::write(&file, decisions.to_string()).unwrap();
    ok(&k(&[
        "request",
        "decide",
        reference,
        "--as",
        "els",
        "--file",
        file.to_str().unwrap(),
    ]));
    let an_in_hr =
        "SELECT count(*)::text FROM hr.applicants WHERE email ILIKE 'an.peeters@example.be'";
    assert_eq!(hr.scalar(an_in_hr).await, "1");

    // HR is down: the vault and accounting are done, HR failed, the request stays decided.
    let out = kluis_env(&db, &keys, &down, &fulfil);
    let err = fails(&out);
    assert!(
        err.contains("failed in hr:") && err.contains("run it again"),
        "{err}"
    );
    let printed = String::from_utf8_lossy(&out.stdout);
    assert!(
        printed.contains(&format!("erasure / {WERVING} / hr: failed")),
        "{printed}"
    );
    assert!(
        printed.contains(&format!("erasure / {BOEKHOUDING} / accounting: done")),
        "{printed}"
    );
    assert!(printed.contains("kept: suppliers.iban"), "{printed}");
    assert!(
        printed.contains(&format!("erasure / {WERVING} / vault: done")),
        "{printed}"
    );
    for r in &records {
        assert!(!store.record_exists(*r).await.unwrap());
    }
    assert_eq!(hr.scalar(an_in_hr).await, "1", "HR untouched");
    let erased_supplier =
        "SELECT CAST(COUNT(*) AS CHAR) FROM suppliers WHERE name = 'erased supplier'";
    assert_eq!(accounting.scalar(erased_supplier).await, "1");
    let r = store.rights_request(filed.id).await.unwrap();
    assert_eq!(r.stage.name(), "decided");
    let log = store.destruction_log(None, 0, 10_000).await.unwrap();
    let per_system = |log: &[kluis_store::DestructionLogEntry], system: &str| {
        log.iter().filter(|e| e.system == system).count()
    };
    let accounting_entries = per_system(&log, "accounting");
    let vault_entries = per_system(&log, "kluis");
    assert!(accounting_entries > 0 && vault_entries == 2, "{log:?}");
    assert_eq!(per_system(&log, "hr"), 0);

    // Repaired: HR is erased, nothing else again; the request is fulfilled.
    let printed = ok(&k(&fulfil));
    assert!(printed.contains("fulfilled"), "{printed}");
    assert!(
        printed.contains(&format!("erasure / {WERVING} / hr: done")),
        "{printed}"
    );
    assert!(printed.contains("applicants: 1 deleted"), "{printed}");
    assert_eq!(hr.scalar(an_in_hr).await, "0");
    assert_eq!(accounting.scalar(erased_supplier).await, "1");
    let log = store.destruction_log(None, 0, 10_000).await.unwrap();
    assert_eq!(per_system(&log, "accounting"), accounting_entries);
    assert_eq!(per_system(&log, "kluis"), vault_entries);
    assert!(per_system(&log, "hr") > 0);
    let hr_entries = per_system(&log, "hr");
    // A third run changes and counts nothing.
    ok(&k(&fulfil));
    let log = store.destruction_log(None, 0, 10_000).await.unwrap();
    assert_eq!(per_system(&log, "hr"), hr_entries);

    // Closing waits for the recipients of the erased data (art. 19).
    let close = [
        "request",
        "close",
        reference,
        "--as",
        "els",
        "--note",
        "brief verstuurd",
    ];
    let err = fails(&k(&close));
    assert!(
        err.contains("art. 19") && err.contains("Assessmentbureaus"),
        "{err}"
    );
    let err = fails(&k(&[
        "request",
        "told",
        reference,
        "--as",
        "els",
        "--recipient",
        "De krant",
        "--how",
        "brief",
    ]));
    assert!(err.contains("Andere overheden"), "{err}");
    for name in [
        "Assessmentbureaus",
        "Externe leden van de jury",
        "Andere overheden",
    ] {
        ok(&k(&[
            "request",
            "told",
            reference,
            "--as",
            "els",
            "--recipient",
            name,
            "--how",
            "e-mail",
        ]));
    }
    let closed = ok(&k(&close));
    assert!(closed.contains("closed"), "{closed}");
    let _ = std::fs::remove_dir_all(&dir);
    hr.cleanup().await;
    accounting.cleanup().await;
    store.cleanup().await;
}
