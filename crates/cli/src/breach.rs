//! `kluis breach`: the register of data breaches on the command line: the list with the
//! 72-hour clock, one breach in full, the draft of the supervisory authority's form, and
//! the people affected in the vault and the connected systems.

use std::path::PathBuf;

use anyhow::{Context, Result, bail};
use clap::{Subcommand, ValueEnum};
use kluis_domain::breach::{
    self, AffectedQuery, ClockStatus, DraftInput, NotificationDraft, show_time,
};
use kluis_domain::category::DataCategory;
use kluis_domain::legal::SupervisoryAuthority;
use kluis_domain::text::Lang;
use kluis_store::{Breach, BreachFilter, Store};
use kluis_web::breach_systems::AffectedInSystems;
use kluis_web::pdf_text::{Doc, Style};
use kluis_web::systems::SystemUrls;
use time::{Date, OffsetDateTime};
use uuid::Uuid;

#[derive(Subcommand)]
pub enum BreachCommand {
    /// List the register of breaches, most recent first, with the 72-hour clock.
    List {
        /// Only breaches not notified whose 72 hours have passed.
        #[arg(long)]
        overdue: bool,
        /// Only breaches whose file is not closed.
        #[arg(long)]
        open: bool,
    },
    /// Show one breach in full: documentation, notifications, art. 34 decision.
    Show {
        /// The breach's id (a uuid) or its reference (DL-...).
        id: String,
    },
    /// Write the draft of the notification to the supervisory authority.
    Draft {
        /// The breach's id (a uuid) or its reference (DL-...).
        id: String,
        #[arg(long, value_enum, default_value = "json")]
        format: DraftFormat,
        /// Write to this file instead of standard output.
        #[arg(long, short)]
        output: Option<PathBuf>,
        /// gba, vtc or ap [default: the controller's first supervisory authority].
        #[arg(long)]
        authority: Option<String>,
        /// nl or fr, as the authority's form offers [default: its first].
        #[arg(long)]
        lang: Option<Lang>,
    },
    /// Find the people affected: in the vault and in the connected systems serving the
    /// activities, counted per system and table; listed by their identifiers when the risk
    /// is high or they are to be told. Every person found is logged, with the breach as
    /// case.
    Affected(AffectedArgs),
}

/// Which people a breach affects: at least an activity, a category or a system.
#[derive(clap::Args)]
pub struct AffectedArgs {
    /// The breach's id (a uuid) or its reference (DL-...).
    id: String,
    /// Records of this processing activity, and the systems serving it (repeatable).
    #[arg(long = "activity")]
    activities: Vec<String>,
    /// Data of this category, e.g. contact or national_number (repeatable).
    #[arg(long = "category")]
    categories: Vec<DataCategory>,
    /// Only this place: a connected system, or `kluis` for the vault (repeatable).
    #[arg(long = "system")]
    systems: Vec<String>,
    /// Collected (dated, in a system) on or after this day (YYYY-MM-DD).
    #[arg(long, value_parser = crate::parse_date)]
    from: Option<Date>,
    /// Collected (dated, in a system) on or before this day (YYYY-MM-DD).
    #[arg(long, value_parser = crate::parse_date)]
    until: Option<Date>,
    /// When the people must be told: how many to list per system.
    #[arg(long, default_value_t = kluis_web::breach_systems::DEFAULT_LIST)]
    limit: usize,
    /// People to skip per system, for the next page of the list.
    #[arg(long, default_value_t = 0)]
    offset: usize,
    #[arg(long, value_enum, default_value = "table")]
    format: AffectedFormat,
}

#[derive(Clone, Copy, ValueEnum)]
pub enum AffectedFormat {
    Table,
    Json,
}

#[derive(Clone, Copy, ValueEnum)]
pub enum DraftFormat {
    Json,
    /// A printable PDF (A4, Helvetica); needs --output.
    Pdf,
}

pub async fn breach(store: &Store, command: BreachCommand, now: OffsetDateTime) -> Result<()> {
    match command {
        BreachCommand::List { overdue, open } => {
            let list = store.breaches(BreachFilter { open, overdue }, now).await?;
            if list.is_empty() {
                println!("no breaches{}", if overdue { " overdue" } else { "" });
            }
            for b in list {
                println!("{}", line(&b, now));
            }
            Ok(())
        }
        BreachCommand::Show { id } => {
            let b = find(store, &id, now).await?;
            print!("{}", details(&b, now));
            Ok(())
        }
        BreachCommand::Draft {
            id,
            format,
            output,
            authority,
            lang,
        } => {
            let authority = authority
                .map(|a| a.parse::<SupervisoryAuthority>())
                .transpose()?;
            if matches!(format, DraftFormat::Pdf) && output.is_none() {
                bail!("a PDF goes to a file: add --output FILE.pdf");
            }
            let b = find(store, &id, now).await?;
            let draft = draft(store, &b, authority, lang).await?;
            let bytes = match format {
                DraftFormat::Json => (serde_json::to_string_pretty(&draft)? + "\n").into_bytes(),
                DraftFormat::Pdf => pdf(&draft, &b.reference()),
            };
            match output {
                Some(path) => std::fs::write(&path, bytes)
                    .with_context(|| format!("cannot write {}", path.display()))?,
                None => print!("{}", String::from_utf8_lossy(&bytes)),
            }
            Ok(())
        }
        // Needs the keys and the systems' connections: `main` calls [`affected`].
        BreachCommand::Affected(_) => bail!("the people affected are looked up with keys"),
    }
}

/// `kluis breach affected`: the vault, then the connected systems; one system that cannot
/// be reached says why and does not stop the others.
pub async fn affected(
    store: &Store,
    urls: &SystemUrls,
    args: AffectedArgs,
    now: OffsetDateTime,
) -> Result<()> {
    let b = find(store, &args.id, now).await?;
    let query = AffectedQuery {
        activities: args.activities.into_iter().collect(),
        data_categories: args.categories.into_iter().collect(),
        collected_from: args.from,
        collected_until: args.until,
        systems: args.systems.into_iter().collect(),
    };
    let p = crate::inventory::processing(Some(b.reference()))?;
    let found = kluis_web::breach_systems::find_everywhere(
        store,
        urls,
        &p,
        &b,
        &query,
        (args.limit, args.offset),
    )
    .await?;
    let (vault, systems, must_tell) = (found.vault, found.in_systems, found.listed);
    if matches!(args.format, AffectedFormat::Json) {
        let out = serde_json::json!({
            "breach": b.reference(),
            "vault": {"people": vault.subjects.len(), "records": vault.records,
                      "by_activity": vault.by_activity},
            "systems": systems.systems,
            "total_people": systems.total_people,
            "total_note": systems.total_note,
        });
        println!("{}", serde_json::to_string_pretty(&out)?);
        return Ok(());
    }
    print!("{}", affected_text(&b, &vault, &systems, must_tell));
    Ok(())
}

fn affected_text(
    b: &Breach,
    vault: &kluis_store::Affected,
    found: &AffectedInSystems,
    listed: bool,
) -> String {
    let mut out = format!("people affected by {}\n", b.reference());
    out += &format!(
        "kluis (vault): {} people, {} records\n",
        vault.subjects.len(),
        vault.records
    );
    for s in &found.systems {
        if let Some(e) = &s.error {
            out += &format!("{}: cannot say: {e}\n", s.system);
            continue;
        }
        out += &format!("{}: {} people, {} rows\n", s.system, s.people, s.rows);
        for t in &s.tables {
            out += &format!("  {}: {} rows\n", t.table, t.rows);
        }
        for n in &s.notes {
            out += &format!("  note: {n}\n");
        }
        for person in &s.listed {
            let ids: Vec<String> = person
                .identifiers
                .iter()
                .map(|(k, v)| format!("{k} {v}"))
                .collect();
            let also = match (person.in_vault, &person.also_in) {
                (true, _) => " (also in the vault)".to_string(),
                (false, Some(other)) => format!(" (also in {other})"),
                (false, None) => String::new(),
            };
            out += &format!("  - {}{also}\n", ids.join(", "));
        }
        if let Some(cap) = s.cap
            && (s.listed.len() as u64) < s.people
        {
            out += &format!(
                "  listed {} of {} (at most {cap} at a time): use --offset for the next page\n",
                s.listed.len(),
                s.people
            );
        }
    }
    if !listed {
        out += "the people are not listed: the risk is not high and no decision to tell \
                them was recorded (art. 34)\n";
    }
    match found.total_people {
        Some(n) => out += &format!("in all: {n} people ({})\n", found.total_note),
        None => out += &format!("in all: cannot say ({})\n", found.total_note),
    }
    out
}

/// A breach by id or by reference (`DL-` and the id's last eight hex digits).
async fn find(store: &Store, id: &str, now: OffsetDateTime) -> Result<Breach> {
    if let Ok(uuid) = id.parse::<Uuid>() {
        return store
            .breach(uuid)
            .await?
            .with_context(|| format!("there is no breach {id}: see `kluis breach list`"));
    }
    let wanted = id.trim().to_uppercase();
    let mut found: Vec<Breach> = store
        .breaches(BreachFilter::default(), now)
        .await?
        .into_iter()
        .filter(|b| b.reference() == wanted)
        .collect();
    match found.len() {
        1 => Ok(found.remove(0)),
        0 => bail!("there is no breach '{id}': give its id or reference from `kluis breach list`"),
        _ => bail!("several breaches have reference '{id}': give the id instead"),
    }
}

async fn draft(
    store: &Store,
    b: &Breach,
    authority: Option<SupervisoryAuthority>,
    lang: Option<Lang>,
) -> Result<NotificationDraft> {
    let controller = store
        .controller(&b.facts.controller)
        .await?
        .with_context(|| {
            format!(
                "controller '{}' of this breach is no longer in the register: import it again",
                b.facts.controller
            )
        })?
        .value;
    let notices = b.authority_notices();
    Ok(breach::draft(&DraftInput {
        facts: &b.facts,
        controller: &controller,
        notices: &notices,
        decision: b.art34.as_ref().map(|d| &d.decision),
        authority,
        language: lang,
    })?)
}

/// What the clock says, in words, with the deadline when it matters.
fn clock_words(b: &Breach, now: OffsetDateTime) -> String {
    let due = show_time(b.facts.notification_due());
    match b.clock(now) {
        ClockStatus::NotRequired => "no notification needed (no risk)".to_string(),
        ClockStatus::NotDue => format!("notify by {due}"),
        ClockStatus::DueSoon => format!("DUE SOON: notify by {due}"),
        ClockStatus::Overdue => format!("OVERDUE: was due {due}"),
        ClockStatus::Notified => "notified in time".to_string(),
        ClockStatus::NotifiedLate => "notified late (reasons recorded)".to_string(),
    }
}

fn line(b: &Breach, now: OffsetDateTime) -> String {
    let risk = b.facts.risk_level().map_or("not assessed", |r| r.name());
    let state = if b.facts.is_open() { "open" } else { "closed" };
    let summary: String = b.facts.description.chars().take(60).collect();
    format!(
        "{}  {}  aware {}  {risk}  {state}  {}  {summary}",
        b.reference(),
        b.id,
        show_time(b.facts.aware_at),
        clock_words(b, now)
    )
}

fn details(b: &Breach, now: OffsetDateTime) -> String {
    let f = &b.facts;
    let mut out = String::new();
    let mut put = |label: &str, value: &str| {
        if !value.trim().is_empty() {
            out.push_str(&format!("{label:<20} {value}\n"));
        }
    };
    put("reference", &b.reference());
    put("id", &b.id.to_string());
    put("version", &b.version.to_string());
    put("controller", &f.controller);
    put("detected", &show_time(f.detected_at));
    put("aware", &show_time(f.aware_at));
    put("clock", &clock_words(b, now));
    put(
        "reported by",
        &serde_json::to_string(&f.reported_by).unwrap_or_default(),
    );
    put("what happened", &f.description);
    let names = |v: Vec<&str>| v.join(", ");
    put(
        "data categories",
        &names(f.data_categories.iter().map(|c| c.name()).collect()),
    );
    put(
        "special categories",
        &names(f.special_categories.iter().map(|c| c.name()).collect()),
    );
    put(
        "people",
        &names(f.subject_categories.iter().map(|c| c.name()).collect()),
    );
    put(
        "approx. people",
        &f.approx_subjects.map(|n| n.to_string()).unwrap_or_default(),
    );
    put(
        "approx. records",
        &f.approx_records.map(|n| n.to_string()).unwrap_or_default(),
    );
    put("consequences", &f.consequences);
    put("measures taken", &f.measures_taken);
    put("measures proposed", &f.measures_proposed);
    match &f.risk {
        Some(r) => put("risk", &format!("{}: {}", r.level.name(), r.reasons)),
        None => put("risk", "not assessed yet"),
    }
    for n in &b.notices {
        let mut text = format!(
            "{} {} sent {}: {}",
            n.seq,
            n.notice.phase.name(),
            show_time(n.notice.sent_at),
            n.notice.content
        );
        if let Some(reason) = &n.notice.delay_reason {
            text.push_str(&format!(" (late: {reason})"));
        }
        put("notification", &text);
    }
    match &b.art34 {
        Some(d) if d.decision.inform => put("people", &format!("told: {}", d.decision.reasons)),
        Some(d) => put(
            "people",
            &format!(
                "not told, {}: {}",
                d.decision.ground.map_or("no high risk", |g| g.article()),
                d.decision.reasons
            ),
        ),
        None if breach::people_must_be_told(&b.facts, None) => {
            put("people", "HIGH RISK: decide whether to tell them (art. 34)")
        }
        None => {}
    }
    put("people told", &b.people_told.to_string());
    if let Some(closed) = f.closed_at {
        put("closed", &show_time(closed));
    }
    out
}

/// The draft as a printable PDF: the title, then each field's label in bold with its
/// value below.
pub fn pdf(draft: &NotificationDraft, reference: &str) -> Vec<u8> {
    let mut doc = Doc::new();
    doc.describe(draft.title, reference);
    doc.line(Style::Title, draft.title);
    doc.line(Style::Text, &format!("{reference} - {}", draft.website));
    for field in &draft.fields {
        doc.gap();
        doc.line(Style::Bold, field.label);
        let value = if field.value.trim().is_empty() {
            "-"
        } else {
            field.value.as_str()
        };
        doc.line(Style::Text, value);
    }
    doc.finish()
}
