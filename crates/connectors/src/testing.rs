//! Throwaway external systems for integration tests and benchmarks (cargo feature
//! `testing`): an HR system of job applications on PostgreSQL ([`hr_postgres`]) and an
//! accounting system of suppliers on MariaDB ([`accounting_mariadb`]), each in a database
//! of its own with a realistic schema, foreign keys and indexes, seeded with the
//! [`people`] below and described by the dataset maps of `docs/dataset-map.md`.
//!
//! The servers are the ones at `TEST_DATABASE_URL` and `TEST_MYSQL_URL`. Without the
//! variable a helper returns None after a loud notice, or panics when `CI=true`. The
//! database is dropped by [`TestSystem::cleanup`], or on a best-effort basis when the
//! [`TestSystem`] is dropped (also when a test panics). Helpers panic on failure: that
//! fails the test.

use std::collections::BTreeMap;
use std::io::Write;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

use kluis_domain::dataset_map::{self, DatasetMap, SystemKind};
use kluis_domain::retention::{Period, RetentionEvent, RetentionRule, RetentionSchedule};
use sqlx::{AssertSqlSafe, Connection, MySqlConnection, PgConnection};

use crate::{System, mask_password};

/// The dataset map of the HR system, as in `docs/dataset-map.md`.
pub const HR_MAP: &str = include_str!("testing/hr.yaml");
/// The dataset map of the accounting system, as in `docs/dataset-map.md`.
pub const ACCOUNTING_MAP: &str = include_str!("testing/accounting.yaml");

/// The people seeded in the test systems, with their identifiers as a caseworker types
/// them, and the rows each has.
pub mod people {
    /// HR: 1 applicant (e-mail stored as `An.Peeters@Example.BE`), 2 applications, 1
    /// interview note, 2 documents. Accounting: 1 supplier, 2 invoices, 1 payment.
    pub const AN_EMAIL: &str = "an.peeters@example.be";
    pub const AN_NATIONAL_NUMBER: &str = "85.07.30-033.28";
    pub const AN_PHONE: &str = "+32 470 12 34 56";

    /// HR only: 1 applicant, 1 application, 1 interview note, 1 document.
    pub const BRAM_EMAIL: &str = "bram.janssens@example.be";
    pub const BRAM_NATIONAL_NUMBER: &str = "90.02.14-123.03";

    /// HR: 1 applicant, 1 application. Accounting: 1 supplier (e-mail stored as
    /// `Chloe.Dubois@Example.be`), 1 invoice, 1 payment. No national number anywhere.
    pub const CHLOE_EMAIL: &str = "chloe.dubois@example.be";

    /// Accounting only: 1 supplier, 1 invoice, 1 payment.
    pub const DIRK_NATIONAL_NUMBER: &str = "75.01.01-001.96";
}

/// The retention schedules of the test systems' activities, as the register gives them:
/// `recruitment` keeps rejected applicants in a reserve for 1 year after the procedure
/// (extendable twice). An's rejected application (closed 2024-03-29) is due from
/// 2025-03-30; Bram's (closed the same day) was successful and is not in the reserve.
/// In accounting, Dirk's supplier record ended 2014-06-30 and is due from 2024-07-01;
/// the printer's (a company) is not personal data.
pub fn schedules() -> BTreeMap<String, Vec<RetentionSchedule>> {
    let reserve = RetentionSchedule {
        key: "reserve".into(),
        applies_to: None,
        rule: RetentionRule::Extendable {
            event: RetentionEvent::EndOfProcedure,
            period: Period::years(1),
            extension: Period::years(1),
            max_extensions: 2,
        },
        evidence_hold: None,
        note: None,
        anonymise: None,
    };
    BTreeMap::from([
        ("recruitment".to_string(), vec![reserve]),
        ("supplier-payments".to_string(), vec![]),
    ])
}

/// The HR map, parsed.
pub fn hr_map() -> DatasetMap {
    dataset_map::parse("hr.yaml", HR_MAP).unwrap_or_else(|e| panic!("{e}"))
}

/// The accounting map, parsed.
pub fn accounting_map() -> DatasetMap {
    dataset_map::parse("accounting.yaml", ACCOUNTING_MAP).unwrap_or_else(|e| panic!("{e}"))
}

/// An external system in a database of its own, removed after the test.
pub struct TestSystem {
    system: System,
    url: String,
    kind: SystemKind,
    guard: Guard,
}

impl TestSystem {
    /// The system, described by its map from `docs/dataset-map.md`.
    pub fn system(&self) -> &System {
        &self.system
    }

    /// The URL of the test database.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// The same database described by another map, e.g. a broken one.
    pub fn with_map(&self, map: DatasetMap) -> System {
        System::new(map, &self.url).unwrap_or_else(|e| panic!("{e}"))
    }

    /// Runs SQL (several statements allowed) in the test database, as its owner.
    pub async fn execute(&self, sql: &str) {
        execute(self.kind, &self.url, sql.to_string()).await;
    }

    /// The first column of the first row of `sql`, as text.
    pub async fn scalar(&self, sql: &str) -> String {
        let sql = AssertSqlSafe(sql.to_string());
        let value: Option<String> = match self.kind {
            SystemKind::Postgres => {
                let mut c = pg(&self.url).await;
                sqlx::query_scalar(sql).fetch_one(&mut c).await
            }
            SystemKind::Mysql => {
                let mut c = mysql(&self.url).await;
                sqlx::query_scalar(sql).fetch_one(&mut c).await
            }
        }
        .unwrap_or_else(|e| panic!("test query failed: {e}"));
        value.unwrap_or_default()
    }

    /// Adds `people` more people, each with one row in every table of the map (HR: an
    /// applicant, an application, an interview note and a document; accounting: a
    /// supplier, an invoice and a payment), with set-based SQL. Returns the rows added.
    pub async fn fill(&self, people: u64) -> u64 {
        if people == 0 {
            return 0;
        }
        match self.kind {
            SystemKind::Postgres => {
                let a0 = self
                    .scalar("SELECT COALESCE(max(id), 0)::text FROM hr.applicants")
                    .await;
                let p0 = self
                    .scalar("SELECT COALESCE(max(id), 0)::text FROM hr.applications")
                    .await;
                let from: u64 = a0.parse().unwrap_or(0) + 1;
                let to = from + people - 1;
                // Only numbers of ours are spliced into this SQL.
                self.execute(&format!(
                    "INSERT INTO hr.applicants (first_name, last_name, email, phone, national_number, birth_date, created_at) \
                     SELECT 'Voornaam' || g, 'Achternaam' || g, 'persoon' || g || '@bulk.example', \
                       '+3249' || lpad(g::text, 8, '0'), \
                       substr(d, 1, 2) || '.' || substr(d, 3, 2) || '.' || substr(d, 5, 2) || '-' || substr(d, 7, 3) || '.' || substr(d, 10, 2), \
                       date '1950-01-01' + (g % 20000)::int, timestamptz '2024-01-01 00:00:00+00' + g * interval '1 second' \
                     FROM generate_series({from}::bigint, {to}::bigint) AS g, LATERAL (SELECT '99' || lpad(g::text, 9, '0') AS d) AS x; \
                     INSERT INTO hr.applications (applicant_id, vacancy_id, submitted_at, status, motivation, expected_salary) \
                     SELECT id, (SELECT min(id) FROM hr.vacancies), created_at + interval '1 day', 'received', 'Motivatie ' || id, 2500 + id % 1000 \
                     FROM hr.applicants WHERE id >= {from}; \
                     INSERT INTO hr.interview_notes (application_id, interviewer, held_on, score, notes) \
                     SELECT id, 'Jury', submitted_at::date + 7, (id % 10)::smallint, 'Notities ' || id FROM hr.applications WHERE id > {p0}; \
                     INSERT INTO hr.documents (application_id, file_name, kind, uploaded_at, size_bytes) \
                     SELECT id, 'cv-' || id || '.pdf', 'cv', submitted_at::timestamp, 100000 FROM hr.applications WHERE id > {p0}; \
                     ANALYZE hr.applicants, hr.applications, hr.interview_notes, hr.documents;"
                ))
                .await;
                people * 4
            }
            SystemKind::Mysql => {
                let s0 = self
                    .scalar("SELECT CAST(COALESCE(MAX(id), 0) AS CHAR) FROM suppliers")
                    .await;
                let i0 = self
                    .scalar("SELECT CAST(COALESCE(MAX(id), 0) AS CHAR) FROM invoices")
                    .await;
                let from: u64 = s0.parse().unwrap_or(0) + 1;
                let to = from + people - 1;
                // MariaDB's SEQUENCE engine generates the numbers; only ours are spliced.
                self.execute(&format!(
                    "INSERT INTO suppliers (name, email, phone, national_number, street, postcode, city, iban, natural_person, created_at) \
                     SELECT CONCAT('Leverancier ', seq), CONCAT('leverancier', seq, '@bulk.example'), \
                       CONCAT('+3249', LPAD(seq, 8, '0')), CONCAT('99', LPAD(seq, 9, '0')), CONCAT('Straat ', seq), \
                       '1000', 'Brussel', CONCAT('BE', LPAD(seq, 14, '0')), 1, '2024-01-01 00:00:00' \
                     FROM seq_{from}_to_{to}; \
                     INSERT INTO invoices (supplier_id, number, invoice_date, amount, description) \
                     SELECT id, CONCAT('B', id), '2024-03-01', 100 + id % 900, 'Bulk' FROM suppliers WHERE id >= {from}; \
                     INSERT INTO payments (invoice_id, paid_at, amount, iban) \
                     SELECT id, '2024-03-20 12:00:00', amount, 'BE00000000000000' FROM invoices WHERE id > {i0}; \
                     ANALYZE TABLE suppliers, invoices, payments;"
                ))
                .await;
                people * 3
            }
        }
    }

    /// Removes the test database.
    pub async fn cleanup(mut self) {
        self.guard.remove().await;
    }
}

/// The HR system on the PostgreSQL server at `TEST_DATABASE_URL`, in a new database
/// (tables in schema `hr`).
pub async fn hr_postgres() -> Option<TestSystem> {
    create(SystemKind::Postgres, hr_map(), HR_SCHEMA).await
}

/// The accounting system on the MariaDB server at `TEST_MYSQL_URL`, in a new database.
pub async fn accounting_mariadb() -> Option<TestSystem> {
    create(SystemKind::Mysql, accounting_map(), ACCOUNTING_SCHEMA).await
}

async fn create(kind: SystemKind, map: DatasetMap, schema: &str) -> Option<TestSystem> {
    let admin_url = admin_url(kind)?;
    let database = unique_name();
    execute(kind, &admin_url, format!("CREATE DATABASE {database}")).await;
    let guard = Guard {
        place: Some((kind, admin_url.clone(), database.clone())),
    };
    let url = with_database(&admin_url, &database);
    execute(kind, &url, schema.to_string()).await;
    let system = System::new(map, &url).unwrap_or_else(|e| panic!("{e}"));
    Some(TestSystem {
        system,
        url,
        kind,
        guard,
    })
}

fn admin_url(kind: SystemKind) -> Option<String> {
    let (var, example) = match kind {
        SystemKind::Postgres => (
            "TEST_DATABASE_URL",
            "postgres://postgres@127.0.0.1:5432/test",
        ),
        SystemKind::Mysql => ("TEST_MYSQL_URL", "mysql://root@127.0.0.1:3306/test"),
    };
    if let Some(url) = std::env::var(var).ok().filter(|u| !u.is_empty()) {
        return Some(url);
    }
    if std::env::var("CI").is_ok_and(|v| v == "true") {
        panic!(
            "{var} is not set, and CI=true: the connector tests must run in CI. Set {var} to a \
             server where this user may create databases, e.g. {example}"
        );
    }
    // Written to stderr directly, because the test harness swallows `eprintln!` of
    // passing tests; once per variable and test binary is loud enough.
    static WARNED: [AtomicBool; 2] = [AtomicBool::new(false), AtomicBool::new(false)];
    if !WARNED[kind as usize].swap(true, Ordering::Relaxed) {
        let _ = writeln!(
            std::io::stderr(),
            "\n**********\nSKIPPED: {kind} connector tests need {var} (e.g. {example})\n**********\n"
        );
    }
    None
}

/// A database name no other test uses: letters, digits and underscores only.
fn unique_name() -> String {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos() % 1_000_000_000_000);
    format!(
        "kluis_t_{}_{nanos}_{}",
        std::process::id(),
        COUNTER.fetch_add(1, Ordering::Relaxed)
    )
}

/// `url` pointing at `database` instead of the database it names.
fn with_database(url: &str, database: &str) -> String {
    let (base, query) = match url.split_once('?') {
        Some((base, query)) => (base, Some(query)),
        None => (url, None),
    };
    let authority_start = base.find("://").map_or(0, |i| i + 3);
    let base = match base[authority_start..].find('/') {
        Some(slash) => &base[..authority_start + slash],
        None => base,
    };
    match query {
        Some(query) => format!("{base}/{database}?{query}"),
        None => format!("{base}/{database}"),
    }
}

async fn pg(url: &str) -> PgConnection {
    PgConnection::connect(url)
        .await
        .unwrap_or_else(|e| panic!("cannot connect to {}: {e}", mask_password(url)))
}

async fn mysql(url: &str) -> MySqlConnection {
    MySqlConnection::connect(url)
        .await
        .unwrap_or_else(|e| panic!("cannot connect to {}: {e}", mask_password(url)))
}

async fn execute(kind: SystemKind, url: &str, sql: String) {
    let result = match kind {
        SystemKind::Postgres => {
            let mut c = pg(url).await;
            let r = sqlx::raw_sql(AssertSqlSafe(sql)).execute(&mut c).await;
            let _ = c.close().await;
            r.map(drop)
        }
        SystemKind::Mysql => {
            let mut c = mysql(url).await;
            let r = sqlx::raw_sql(AssertSqlSafe(sql)).execute(&mut c).await;
            let _ = c.close().await;
            r.map(drop)
        }
    };
    result.unwrap_or_else(|e| panic!("test SQL failed on {}: {e}", mask_password(url)));
}

/// Drops the test database once: explicitly, or when dropped.
struct Guard {
    place: Option<(SystemKind, String, String)>,
}

impl Guard {
    async fn remove(&mut self) {
        if let Some((kind, admin_url, database)) = self.place.take() {
            drop_database(kind, &admin_url, &database).await;
        }
    }
}

impl Drop for Guard {
    fn drop(&mut self) {
        if let Some((kind, admin_url, database)) = self.place.take() {
            // Drop cannot await, and may run inside the test's runtime: use a runtime of
            // its own on a thread of its own.
            let dropped = std::thread::spawn(move || {
                if let Ok(runtime) = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                {
                    runtime.block_on(drop_database(kind, &admin_url, &database));
                }
            });
            let _ = dropped.join();
        }
    }
}

async fn drop_database(kind: SystemKind, admin_url: &str, database: &str) {
    // The connections kluis keeps to the test database go first.
    crate::pool::forget(&with_database(admin_url, database));
    let sql = match kind {
        // FORCE ends connections a test may have left open.
        SystemKind::Postgres => format!("DROP DATABASE IF EXISTS {database} WITH (FORCE)"),
        SystemKind::Mysql => format!("DROP DATABASE IF EXISTS {database}"),
    };
    let result = match kind {
        SystemKind::Postgres => match PgConnection::connect(admin_url).await {
            Ok(mut c) => sqlx::raw_sql(AssertSqlSafe(sql))
                .execute(&mut c)
                .await
                .map(drop),
            Err(e) => Err(e),
        },
        SystemKind::Mysql => match MySqlConnection::connect(admin_url).await {
            Ok(mut c) => sqlx::raw_sql(AssertSqlSafe(sql))
                .execute(&mut c)
                .await
                .map(drop),
            Err(e) => Err(e),
        },
    };
    if let Err(e) = result {
        eprintln!("could not drop test database {database}: {e}");
    }
}

/// The HR system: vacancies, applicants, their applications, interview notes and
/// uploaded documents.
const HR_SCHEMA: &str = r#"
CREATE SCHEMA hr;

CREATE TABLE hr.vacancies (
    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    title text NOT NULL,
    department text NOT NULL,
    opens_on date NOT NULL,
    closes_on date
);

CREATE TABLE hr.applicants (
    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    first_name text NOT NULL,
    last_name text NOT NULL,
    email varchar(254) NOT NULL,
    phone varchar(20),
    national_number varchar(15),
    birth_date date,
    created_at timestamptz NOT NULL DEFAULT now(),
    processing_restricted boolean NOT NULL DEFAULT false
);
CREATE UNIQUE INDEX applicants_email ON hr.applicants (lower(email));
CREATE INDEX applicants_national_number ON hr.applicants (national_number);
CREATE INDEX applicants_phone ON hr.applicants (phone);

CREATE TABLE hr.applications (
    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    applicant_id bigint NOT NULL REFERENCES hr.applicants (id) ON DELETE CASCADE,
    vacancy_id bigint NOT NULL REFERENCES hr.vacancies (id),
    submitted_at timestamptz NOT NULL,
    status text NOT NULL CHECK (status IN ('received', 'in_review', 'rejected', 'hired')),
    motivation text,
    expected_salary numeric(10, 2),
    closed_on date,
    processing_restricted boolean NOT NULL DEFAULT false
);
CREATE INDEX applications_applicant ON hr.applications (applicant_id);
CREATE INDEX applications_closed_on ON hr.applications (closed_on);

CREATE TABLE hr.interview_notes (
    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    application_id bigint NOT NULL REFERENCES hr.applications (id) ON DELETE CASCADE,
    interviewer text NOT NULL,
    held_on date NOT NULL,
    score smallint CHECK (score BETWEEN 0 AND 10),
    notes text
);
CREATE INDEX interview_notes_application ON hr.interview_notes (application_id);

CREATE TABLE hr.documents (
    id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    application_id bigint NOT NULL REFERENCES hr.applications (id) ON DELETE CASCADE,
    file_name text NOT NULL,
    kind text NOT NULL,
    uploaded_at timestamp NOT NULL,
    size_bytes integer NOT NULL
);
CREATE INDEX documents_application ON hr.documents (application_id);

INSERT INTO hr.vacancies (title, department, opens_on, closes_on) VALUES
    ('Dossierbeheerder burgerzaken', 'Burgerzaken', '2024-03-01', '2024-03-31'),
    ('Medewerker ICT', 'ICT', '2024-04-01', NULL);

INSERT INTO hr.applicants (first_name, last_name, email, phone, national_number, birth_date, created_at) VALUES
    ('An', 'Peeters', 'An.Peeters@Example.BE', '+32470123456', '85.07.30-033.28', '1985-07-30', '2024-03-05 10:15:00+01'),
    ('Bram', 'Janssens', 'bram.janssens@example.be', NULL, '90.02.14-123.03', '1990-02-14', '2024-03-06 11:00:00+01'),
    ('Chloé', 'Dubois', 'chloe.dubois@example.be', '+32499112233', NULL, NULL, '2024-04-02 16:45:00+02');

INSERT INTO hr.applications (applicant_id, vacancy_id, submitted_at, status, motivation, expected_salary, closed_on) VALUES
    (1, 1, '2024-03-10 14:00:00+01', 'rejected', 'Ik werk graag met mensen.', 3100.50, '2024-03-29'),
    (1, 2, '2024-04-03 09:30:00+02', 'in_review', NULL, 3350.00, NULL),
    (2, 1, '2024-03-11 08:05:00+01', 'hired', 'Ervaring bij een andere gemeente.', 3000.00, '2024-03-29'),
    (3, 2, '2024-04-04 12:00:00+02', 'received', 'Graag!', NULL, NULL);

INSERT INTO hr.interview_notes (application_id, interviewer, held_on, score, notes) VALUES
    (1, 'K. Vermeersch', '2024-03-20', 6, 'Sterk in communicatie.'),
    (3, 'K. Vermeersch', '2024-03-21', 8, 'Zeer geschikt.');

INSERT INTO hr.documents (application_id, file_name, kind, uploaded_at, size_bytes) VALUES
    (1, 'cv-an-peeters.pdf', 'cv', '2024-03-10 13:58:00', 183201),
    (2, 'diploma-an-peeters.pdf', 'diploma', '2024-04-03 09:29:30.5', 92000),
    (3, 'cv-bram-janssens.pdf', 'cv', '2024-03-11 08:01:00', 120400);
"#;

/// The accounting system: suppliers (natural persons and companies), their invoices and
/// the payments of those invoices.
const ACCOUNTING_SCHEMA: &str = r#"
CREATE TABLE suppliers (
    id INT AUTO_INCREMENT PRIMARY KEY,
    name VARCHAR(200) NOT NULL,
    email VARCHAR(254),
    phone VARCHAR(20),
    national_number CHAR(11),
    street VARCHAR(200),
    postcode VARCHAR(10),
    city VARCHAR(100),
    iban VARCHAR(34),
    natural_person BOOLEAN NOT NULL DEFAULT 1,
    created_at TIMESTAMP NOT NULL DEFAULT CURRENT_TIMESTAMP,
    ended_on DATE,
    processing_restricted BOOLEAN NOT NULL DEFAULT 0,
    KEY suppliers_email (email),
    KEY suppliers_phone (phone),
    KEY suppliers_national_number (national_number)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

CREATE TABLE invoices (
    id BIGINT AUTO_INCREMENT PRIMARY KEY,
    supplier_id INT NOT NULL,
    number VARCHAR(40) NOT NULL,
    invoice_date DATE NOT NULL,
    amount DECIMAL(12, 2) NOT NULL,
    description TEXT,
    processing_restricted BOOLEAN NOT NULL DEFAULT 0,
    CONSTRAINT invoices_supplier FOREIGN KEY (supplier_id) REFERENCES suppliers (id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

CREATE TABLE payments (
    id BIGINT AUTO_INCREMENT PRIMARY KEY,
    invoice_id BIGINT NOT NULL,
    paid_at DATETIME(6) NOT NULL,
    amount DECIMAL(12, 2) NOT NULL,
    iban VARCHAR(34),
    CONSTRAINT payments_invoice FOREIGN KEY (invoice_id) REFERENCES invoices (id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

INSERT INTO suppliers (name, email, phone, national_number, street, postcode, city, iban, natural_person, ended_on) VALUES
    ('An Peeters (opleidingen)', 'an.peeters@example.be', '+32470123456', '85073003328', 'Kerkstraat 1', '8970', 'Poperinge', 'BE68539007547034', 1, NULL),
    ('Dirk Claes', 'dirk.claes@example.be', '+3250403111', '75010100196', 'Markt 5', '8000', 'Brugge', 'BE71096123456769', 1, '2014-06-30'),
    ('Drukkerij Vandenberghe NV', 'info@drukkerij.example', '+3256123456', NULL, 'Industrielaan 12', '8500', 'Kortrijk', 'BE62510007547061', 0, '2010-01-01'),
    ('Chloé Dubois', 'Chloe.Dubois@Example.be', '+32499112233', NULL, 'Rue Haute 3', '1000', 'Bruxelles', 'BE43068999999501', 1, NULL);

INSERT INTO invoices (supplier_id, number, invoice_date, amount, description) VALUES
    (1, 'F2024-001', '2024-02-01', 450.00, 'Opleiding GDPR voor personeel'),
    (1, 'F2024-017', '2024-05-15', 900.00, 'Tweedaagse opleiding'),
    (2, 'F2024-002', '2024-02-03', 1210.00, 'Herstelling verwarming'),
    (3, 'F2024-003', '2024-02-04', 3025.40, 'Drukwerk stadsmagazine'),
    (4, 'F2024-004', '2024-03-01', 300.00, 'Vertaling FR');

INSERT INTO payments (invoice_id, paid_at, amount, iban) VALUES
    (1, '2024-02-20 10:00:00.125000', 450.00, 'BE68539007547034'),
    (3, '2024-02-25 09:00:00', 1210.00, 'BE71096123456769'),
    (4, '2024-03-01 15:30:00', 3025.40, 'BE62510007547061'),
    (5, '2024-03-20 11:11:11', 300.00, 'BE43068999999501');
"#;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_maps_are_valid_and_the_ones_documented() {
        hr_map();
        accounting_map();
        let doc = include_str!("../../../docs/dataset-map.md");
        assert!(
            doc.contains(HR_MAP),
            "docs/dataset-map.md must show testing/hr.yaml"
        );
        assert!(
            doc.contains(ACCOUNTING_MAP),
            "docs/dataset-map.md must show testing/accounting.yaml"
        );
    }

    #[test]
    fn test_urls_point_at_the_new_database() {
        assert_eq!(
            with_database("mysql://root@127.0.0.1:3306/test", "kluis_t_1"),
            "mysql://root@127.0.0.1:3306/kluis_t_1"
        );
        assert_eq!(
            with_database("postgres://u:p@h/db?sslmode=disable", "x"),
            "postgres://u:p@h/x?sslmode=disable"
        );
    }
}
