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

/// A4 in points, the margin, the font sizes and the line height.
const PAGE: (f32, f32) = (595.0, 842.0);
const MARGIN: f32 = 56.0;
const TITLE_SIZE: f32 = 14.0;
const TEXT_SIZE: f32 = 10.0;
const LEADING: f32 = 13.0;
/// Characters per line: Helvetica at 10 pt averages about 5 pt a character, so a line of
/// the text width (483 pt) holds about 95; fewer keeps wide letters inside the margin.
const LINE_CHARS: usize = 88;

/// One line of the PDF: bold (a label or the title) or not, and its text.
struct PdfLine {
    bold: bool,
    size: f32,
    text: String,
}

/// The draft as a printable PDF: the title, then each field's label in bold with its
/// value below, wrapped and paged. Helvetica is one of the standard fonts every reader
/// has, so nothing is embedded; text is WinAnsi-encoded, which covers é, è, ë and ç.
pub fn pdf(draft: &NotificationDraft, reference: &str) -> Vec<u8> {
    use pdf_writer::{Content, Name, Pdf, Rect, Ref, Str};

    let mut lines = vec![
        PdfLine {
            bold: true,
            size: TITLE_SIZE,
            text: draft.title.to_string(),
        },
        PdfLine {
            bold: false,
            size: TEXT_SIZE,
            text: format!("{reference} - {}", draft.website),
        },
    ];
    for field in &draft.fields {
        lines.push(PdfLine {
            bold: true,
            size: TEXT_SIZE,
            text: String::new(),
        });
        for part in wrap(field.label) {
            lines.push(PdfLine {
                bold: true,
                size: TEXT_SIZE,
                text: part,
            });
        }
        let value = if field.value.trim().is_empty() {
            "-"
        } else {
            field.value.as_str()
        };
        for part in wrap(value) {
            lines.push(PdfLine {
                bold: false,
                size: TEXT_SIZE,
                text: part,
            });
        }
    }
    let per_page = ((PAGE.1 - 2.0 * MARGIN) / LEADING) as usize;
    let pages: Vec<&[PdfLine]> = lines.chunks(per_page.max(1)).collect();

    let mut pdf = Pdf::new();
    let catalog = Ref::new(1);
    let tree = Ref::new(2);
    let regular = Ref::new(3);
    let bold = Ref::new(4);
    let page_ref = |i: usize| Ref::new(5 + 2 * i as i32);
    let content_ref = |i: usize| Ref::new(6 + 2 * i as i32);
    pdf.catalog(catalog).pages(tree);
    pdf.pages(tree)
        .kids((0..pages.len()).map(page_ref))
        .count(pages.len() as i32);
    for (font, base) in [(regular, "Helvetica"), (bold, "Helvetica-Bold")] {
        pdf.type1_font(font)
            .base_font(Name(base.as_bytes()))
            .encoding_predefined(Name(b"WinAnsiEncoding"));
    }
    for (i, page_lines) in pages.iter().enumerate() {
        let mut page = pdf.page(page_ref(i));
        page.media_box(Rect::new(0.0, 0.0, PAGE.0, PAGE.1));
        page.parent(tree);
        page.contents(content_ref(i));
        let mut resources = page.resources();
        let mut fonts = resources.fonts();
        fonts.pair(Name(b"F1"), regular);
        fonts.pair(Name(b"F2"), bold);
        drop(fonts);
        drop(resources);
        drop(page);
        let mut content = Content::new();
        let mut y = PAGE.1 - MARGIN;
        for line in page_lines.iter() {
            let font = if line.bold { Name(b"F2") } else { Name(b"F1") };
            let encoded = win_ansi(&line.text);
            content
                .begin_text()
                .set_font(font, line.size)
                .next_line(MARGIN, y)
                .show(Str(&encoded))
                .end_text();
            y -= LEADING;
        }
        pdf.stream(content_ref(i), &content.finish());
    }
    pdf.finish()
}

/// Splits text into lines of at most [`LINE_CHARS`] characters at spaces (a longer word is
/// cut), keeping the text's own line breaks.
fn wrap(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    for paragraph in text.lines() {
        let mut line = String::new();
        for word in paragraph.split_whitespace() {
            let mut word = word.to_string();
            while word.chars().count() > LINE_CHARS {
                let head: String = word.chars().take(LINE_CHARS).collect();
                word = word.chars().skip(LINE_CHARS).collect();
                if !line.is_empty() {
                    out.push(std::mem::take(&mut line));
                }
                out.push(head);
            }
            if !line.is_empty() && line.chars().count() + 1 + word.chars().count() > LINE_CHARS {
                out.push(std::mem::take(&mut line));
            }
            if !line.is_empty() {
                line.push(' ');
            }
            line.push_str(&word);
        }
        out.push(line);
    }
    if out.is_empty() {
        out.push(String::new());
    }
    out
}

/// Text in the WinAnsi encoding (Windows-1252) of the standard PDF fonts: Latin-1 as is,
/// the typographic quotes, dashes and the euro sign at their places, anything else as '?'.
fn win_ansi(text: &str) -> Vec<u8> {
    text.chars()
        .map(|c| match c {
            '\u{20}'..='\u{7e}' | '\u{a0}'..='\u{ff}' => c as u8,
            '\u{20ac}' => 0x80,
            '\u{2026}' => 0x85,
            '\u{2018}' => 0x91,
            '\u{2019}' => 0x92,
            '\u{201c}' => 0x93,
            '\u{201d}' => 0x94,
            '\u{2022}' => 0x95,
            '\u{2013}' => 0x96,
            '\u{2014}' => 0x97,
            _ => b'?',
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn win_ansi_keeps_dutch_and_french_letters() {
        assert_eq!(
            win_ansi("é è ë ç"),
            vec![0xe9, b' ', 0xe8, b' ', 0xeb, b' ', 0xe7]
        );
        assert_eq!(
            win_ansi("l’été – 5 €"),
            b"l\x92\xe9t\xe9 \x96 5 \x80".to_vec()
        );
        assert_eq!(win_ansi("Ω\t"), b"??".to_vec());
    }

    #[test]
    fn long_text_wraps_at_spaces_and_long_words_are_cut() {
        let text = format!("{} {}\neinde", "woord ".repeat(30).trim(), "x".repeat(200));
        let lines = wrap(&text);
        assert!(
            lines.iter().all(|l| l.chars().count() <= LINE_CHARS),
            "{lines:?}"
        );
        assert_eq!(lines.last().unwrap(), "einde");
        assert!(lines[0].starts_with("woord woord"));
        assert_eq!(lines.concat().matches('x').count(), 200);
        assert_eq!(wrap(""), vec![String::new()]);
    }
}
