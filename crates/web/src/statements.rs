//! Publishing and reading privacy statements: the use cases the API, the public pages and
//! the CLI share.

use kluis_domain::register::Register;
use kluis_domain::statement::{self, StatementMeta, VersionRef};
use kluis_domain::text::Lang;
use kluis_store::{StatementVersion, Store, StoreError};
use time::Date;

/// Output formats of a statement.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Html,
    Markdown,
}

impl std::str::FromStr for Format {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "html" => Ok(Format::Html),
            "md" | "markdown" => Ok(Format::Markdown),
            other => Err(format!("unknown format '{other}': use html or md")),
        }
    }
}

/// A statement ready to render, with the register snapshot it is generated from.
pub struct Prepared {
    pub snapshot: Register,
    pub meta: StatementMeta,
}

impl Prepared {
    pub fn render(
        &self,
        controller: &str,
        lang: Lang,
        format: Format,
    ) -> Result<String, statement::StatementError> {
        let s = statement::generate(&self.snapshot, controller, lang, &self.meta)?;
        Ok(match format {
            Format::Html => statement::render_html(&s),
            Format::Markdown => statement::render_markdown(&s),
        })
    }
}

fn version_ref(v: &StatementVersion) -> VersionRef {
    VersionRef {
        version: u32::try_from(v.version).unwrap_or(u32::MAX),
        effective_date: v.effective_date,
    }
}

/// The statement as it would read if published today: the current register, numbered as
/// the next version, with the changes since the last published one.
pub async fn preview(
    store: &Store,
    controller: &str,
    today: Date,
) -> Result<Option<Prepared>, StoreError> {
    let register = store.register().await?;
    let Some(snapshot) = register.for_controller(controller) else {
        return Ok(None);
    };
    let versions = store.statement_versions(controller).await?;
    let changes = match versions.last() {
        Some(last) => match store.statement_version(controller, last.version).await? {
            Some((_, previous)) => statement::changes(&previous, &snapshot),
            None => Vec::new(),
        },
        None => Vec::new(),
    };
    let meta = StatementMeta {
        version: u32::try_from(versions.len() + 1).unwrap_or(u32::MAX),
        effective_date: today,
        earlier_versions: versions.iter().rev().map(version_ref).collect(),
        changes,
    };
    Ok(Some(Prepared { snapshot, meta }))
}

/// A published statement: the requested version, or else the latest one in force on
/// `today`. `None` when there is no such version.
pub async fn published(
    store: &Store,
    controller: &str,
    version: Option<i64>,
    today: Date,
) -> Result<Option<Prepared>, StoreError> {
    let versions = store.statement_versions(controller).await?;
    let chosen = match version {
        Some(n) => versions.iter().find(|v| v.version == n),
        None => versions.iter().rev().find(|v| v.effective_date <= today),
    };
    let Some(chosen) = chosen else {
        return Ok(None);
    };
    let Some((_, snapshot)) = store.statement_version(controller, chosen.version).await? else {
        return Ok(None);
    };
    let changes = match versions.iter().rev().find(|v| v.version < chosen.version) {
        Some(prev) => match store.statement_version(controller, prev.version).await? {
            Some((_, previous)) => statement::changes(&previous, &snapshot),
            None => Vec::new(),
        },
        None => Vec::new(),
    };
    let meta = StatementMeta {
        version: u32::try_from(chosen.version).unwrap_or(u32::MAX),
        effective_date: chosen.effective_date,
        earlier_versions: versions
            .iter()
            .rev()
            .filter(|v| v.version != chosen.version && v.effective_date <= today)
            .map(version_ref)
            .collect(),
        changes,
    };
    Ok(Some(Prepared { snapshot, meta }))
}

/// Publishes the current register of `controller` as its next statement version.
/// `None` when the register has no such controller. Callers check the effective date.
pub async fn publish(
    store: &Store,
    controller: &str,
    effective_date: Date,
    actor: &str,
    now: time::OffsetDateTime,
) -> Result<Option<StatementVersion>, StoreError> {
    let Some(snapshot) = store.register().await?.for_controller(controller) else {
        return Ok(None);
    };
    store
        .publish_statement(controller, effective_date, &snapshot, actor, now)
        .await
        .map(Some)
}
