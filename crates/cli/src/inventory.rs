//! `kluis subject`, `kluis log`, `kluis staff` and `kluis keys rotate`: the inventory and
//! its processing log from the command line.

use anyhow::{Context, Result, bail};
use clap::{Args, Subcommand};
use kluis_domain::access::Scope;
use kluis_domain::identifiers::{Bsn, EmailAddress, IdentifierKind, NationalNumber, PhoneNumber};
use kluis_domain::inventory;
use kluis_domain::processing_log::{Actor, ActorKind, ChainHead, LogEntry, LogSelector};
use kluis_domain::trace::TraceContext;
use kluis_store::{Processing, Store, SubjectQuery, SubjectView};
use kluis_web::systems::{self, SystemUrls};
use time::Date;
use uuid::Uuid;

use crate::{actor, now, parse_date, staff_account};

/// One identifier of a person, as given on the command line.
#[derive(Args)]
#[group(required = true, multiple = false)]
pub struct PersonArgs {
    /// Belgian national number (rijksregisternummer), with or without dots.
    #[arg(long)]
    national_number: Option<String>,
    /// Dutch citizen service number.
    #[arg(long)]
    bsn: Option<String>,
    #[arg(long)]
    email: Option<String>,
    /// In international form: +32 ...
    #[arg(long)]
    phone: Option<String>,
    /// A data subject in the vault, by id.
    #[arg(long)]
    subject_id: Option<Uuid>,
}

impl PersonArgs {
    /// The query, with identifiers checked (check digits included).
    fn query(&self) -> Result<SubjectQuery> {
        Ok(if let Some(n) = &self.national_number {
            SubjectQuery::NationalNumber(n.parse::<NationalNumber>()?)
        } else if let Some(b) = &self.bsn {
            SubjectQuery::Bsn(b.parse::<Bsn>()?)
        } else if let Some(e) = &self.email {
            SubjectQuery::Email(e.parse::<EmailAddress>()?)
        } else if let Some(p) = &self.phone {
            SubjectQuery::Phone(p.parse::<PhoneNumber>()?)
        } else if let Some(id) = self.subject_id {
            SubjectQuery::Id(id)
        } else {
            bail!("name the person: --national-number, --bsn, --email, --phone or --subject-id")
        })
    }
}

#[derive(Subcommand)]
pub enum SubjectCommand {
    /// Everything kluis holds about one person, grouped by processing activity. Every hit
    /// is written to the processing log.
    Find {
        #[command(flatten)]
        person: PersonArgs,
        /// The request or case this search serves, for the log.
        #[arg(long)]
        case: Option<String>,
    },
    /// Restrict processing of a person's data under a processing activity (GDPR art. 18):
    /// kluis then only stores it, and shows and changes it no more.
    Restrict {
        #[arg(long)]
        subject_id: Uuid,
        #[arg(long)]
        activity: String,
        /// The reference of the rights request that asks for it.
        #[arg(long = "request", value_name = "REFERENCE")]
        request: String,
    },
    /// Lift a restriction, once the person was told it would be (GDPR art. 18(3)).
    LiftRestriction {
        #[arg(long)]
        subject_id: Uuid,
        #[arg(long)]
        activity: String,
        /// The reference of the rights request that asked for the restriction.
        #[arg(long = "request", value_name = "REFERENCE")]
        request: String,
        /// The day the person was told (YYYY-MM-DD), not after today.
        #[arg(long, value_parser = parse_date)]
        told_on: Date,
        /// Why the restriction ends (accuracy verified, the objection weighed, ...).
        #[arg(long)]
        reason: String,
    },
    /// Record a person's objection to processing under an activity (GDPR art. 21): kluis
    /// then refuses to add or change their records there. With --compelling-grounds, record
    /// the grounds that override the objection, so processing continues.
    Object {
        #[arg(long)]
        subject_id: Uuid,
        #[arg(long)]
        activity: String,
        /// The reference of the rights request that objects.
        #[arg(long = "request", value_name = "REFERENCE")]
        request: String,
        #[arg(long)]
        compelling_grounds: Option<String>,
    },
}

#[derive(Subcommand)]
pub enum RecordCommand {
    /// Rectify or complete a record in the vault (GDPR art. 16): old and new values are
    /// kept sealed for the request, and the change is logged.
    Rectify {
        record_id: Uuid,
        /// The reference of the rights request that asks for it.
        #[arg(long = "request", value_name = "REFERENCE")]
        request: String,
        /// FIELD=VALUE, repeatable; VALUE is read as JSON when it is JSON, else as text.
        #[arg(long = "set", value_name = "FIELD=VALUE", required = true, value_parser = parse_field)]
        set: Vec<(String, serde_json::Value)>,
    },
}

/// `FIELD=VALUE`: the value as JSON when it parses as JSON (`42`, `true`, `"x"`), else
/// as text.
fn parse_field(s: &str) -> Result<(String, serde_json::Value), String> {
    let (field, value) = s
        .split_once('=')
        .ok_or_else(|| format!("'{s}': write FIELD=VALUE"))?;
    let value = serde_json::from_str(value)
        .unwrap_or_else(|_| serde_json::Value::String(value.to_string()));
    Ok((field.trim().to_string(), value))
}

#[derive(Subcommand)]
pub enum LogCommand {
    /// Check the whole hash chain; names the first broken entry. Exits non-zero when the
    /// chain is broken.
    Verify {
        /// An anchor printed earlier by `kluis log anchor`: also proves that nothing up to
        /// it was rewritten since.
        #[arg(long)]
        anchor: Option<ChainHead>,
    },
    /// Print the chain's head (SEQ:HASH), to keep outside kluis as an anchor.
    Anchor,
    /// Who consulted a person's data: organisation, activity, categories and when, as the
    /// person may see it. With --audit, also the staff member (for auditors).
    Show {
        #[command(flatten)]
        person: PersonArgs,
        #[arg(long)]
        audit: bool,
    },
}

#[derive(Subcommand)]
pub enum StaffCommand {
    /// Assign a staff member to a processing activity (need-to-know).
    Assign { user: String, activity: String },
    /// End an assignment.
    Unassign { user: String, activity: String },
    /// Record a signed confidentiality statement.
    Confidentiality {
        user: String,
        /// The day it was signed (YYYY-MM-DD).
        #[arg(long, value_parser = parse_date)]
        signed_on: Date,
        /// Where the signed statement is kept (document number, file).
        #[arg(long)]
        reference: String,
    },
    /// A staff member's assignments and latest confidentiality statement.
    Show { user: String },
}

/// The CLI's processing context: the operating-system user at the console, a new trace.
pub(crate) fn processing(case: Option<String>) -> Result<Processing> {
    let mut trace = [0u8; 16];
    let mut span = [0u8; 8];
    getrandom::fill(&mut trace).context("no random source for a trace id")?;
    getrandom::fill(&mut span).context("no random source for a span id")?;
    trace[0] |= 1;
    span[0] |= 1;
    Ok(Processing {
        actor: Actor {
            kind: ActorKind::Staff,
            id: None,
            name: actor(),
        },
        trace: TraceContext::new_root(trace, span),
        case_ref: case,
        now: now(),
    })
}

pub async fn subject(store: &Store, urls: &SystemUrls, command: SubjectCommand) -> Result<()> {
    match command {
        SubjectCommand::Find { person, case } => {
            let query = person.query()?;
            let p = processing(case)?;
            let views = store.find_subjects(&p, &query, &Scope::All).await?;
            if views.is_empty() {
                println!("kluis holds nothing about this person in its own vault");
            }
            for view in &views {
                print_subject(view, p.now.date());
            }
            let identities: Vec<_> = views.iter().map(|v| &v.subject.identity).collect();
            let (person, primary) = systems::person_query(&query, &identities);
            let results =
                systems::search(store, urls, &p, &person, primary.as_ref(), &Scope::All).await?;
            let mut failed = 0;
            for r in &results {
                print_system(r);
                failed += usize::from(r.error.is_some());
            }
            if failed > 0 {
                bail!(
                    "{failed} system(s) could not be searched: what is shown above is incomplete"
                );
            }
            Ok(())
        }
        SubjectCommand::Restrict {
            subject_id,
            activity,
            request,
        } => {
            let r = store
                .restrict(subject_id, &activity, &request, &actor(), now())
                .await?;
            let what = if r.changed {
                "restricted"
            } else {
                "was already restricted"
            };
            println!(
                "{what}: processing of {subject_id} under {activity} since {} at request {} \
                 ({} record(s))",
                r.restriction.since.date(),
                r.restriction.request_reference,
                r.records
            );
            Ok(())
        }
        SubjectCommand::LiftRestriction {
            subject_id,
            activity,
            request,
            told_on,
            reason,
        } => {
            // The marks it set in connected systems are cleared first; while one cannot be,
            // the restriction stays in force.
            let p = processing(Some(request.clone()))?;
            let report = kluis_web::system_marks::lift_restriction(
                store,
                urls,
                &p,
                subject_id,
                (&activity, &request),
                told_on,
                &reason,
            )
            .await?;
            print!("{}", kluis_web::system_marks::marks_text(&report.systems));
            let Some(r) = report.lifted else {
                bail!(
                    "the restriction of {subject_id} under {activity} stays in force: the \
                     restriction mark could not be cleared in {}. Repair that, then run \
                     lift-restriction again",
                    report
                        .failed()
                        .iter()
                        .map(|s| s.system.as_str())
                        .collect::<Vec<_>>()
                        .join(", ")
                );
            };
            println!(
                "lifted the restriction of {subject_id} under {activity} (request {}; told on \
                 {told_on}; {} record(s))",
                r.restriction.request_reference, r.records
            );
            Ok(())
        }
        SubjectCommand::Object {
            subject_id,
            activity,
            request,
            compelling_grounds,
        } => {
            let r = store
                .record_objection(subject_id, &activity, &request, &actor(), now())
                .await?;
            let r = match compelling_grounds {
                // The marks the objection set in connected systems are cleared first; while
                // one cannot be, the objection stays in force.
                Some(grounds) => {
                    let p = processing(Some(request.clone()))?;
                    let report = kluis_web::system_marks::override_objection(
                        store,
                        urls,
                        &p,
                        subject_id,
                        (&activity, &request),
                        &grounds,
                    )
                    .await?;
                    let systems: Vec<&str> = report
                        .systems
                        .iter()
                        .filter(|s| s.error.is_some())
                        .map(|s| s.system.as_str())
                        .collect();
                    print!("{}", kluis_web::system_marks::marks_text(&report.systems));
                    let Some(r) = report.recorded else {
                        bail!(
                            "the objection of {subject_id} under {activity} stays in force: \
                             the restriction mark could not be cleared in {}. Repair that, \
                             then record the grounds again",
                            systems.join(", ")
                        );
                    };
                    r
                }
                None => r,
            };
            if r.objection.in_force() {
                println!(
                    "objection recorded (request {}): processing of {subject_id} under \
                     {activity} stops ({} record(s))",
                    r.objection.request_reference, r.records
                );
            } else {
                println!(
                    "objection of request {} overridden by compelling grounds: processing of \
                     {subject_id} under {activity} continues",
                    r.objection.request_reference
                );
            }
            Ok(())
        }
    }
}

pub async fn record(store: &Store, command: RecordCommand) -> Result<()> {
    match command {
        RecordCommand::Rectify {
            record_id,
            request,
            set,
        } => {
            let changes: std::collections::BTreeMap<String, serde_json::Value> =
                set.into_iter().collect();
            let p = processing(Some(request.clone()))?;
            let r = store
                .rectify_record(&p, record_id, &changes, &request)
                .await?;
            let list = |fields: &[String]| {
                if fields.is_empty() {
                    "-".to_string()
                } else {
                    fields.join(", ")
                }
            };
            println!(
                "record {record_id} (request {}): rectified {}; completed {}; already right {}",
                r.request_reference,
                list(&r.rectified),
                list(&r.completed),
                list(&r.unchanged)
            );
            Ok(())
        }
    }
}

fn print_system(r: &systems::SystemResult) {
    let activities = r.activities.join(", ");
    if let Some(error) = &r.error {
        println!("system {} ({activities}): NOT SEARCHED: {error}", r.system);
        return;
    }
    println!(
        "system {} ({activities}): {} row(s)",
        r.system,
        r.rows.len()
    );
    for hit in &r.rows {
        let key: Vec<String> = hit
            .primary_key
            .iter()
            .map(|(c, v)| format!("{c}={v}"))
            .collect();
        let columns: Vec<String> = hit
            .columns
            .iter()
            .map(|c| format!("{}={} [{}]", c.name, c.value, c.category))
            .collect();
        println!(
            "    {} {}: {}",
            hit.table,
            key.join(","),
            columns.join(", ")
        );
    }
}

fn print_subject(view: &SubjectView, today: Date) {
    let s = &view.subject;
    let id = &s.identity;
    println!("data subject {}", s.id);
    if let Some(n) = &id.national_number {
        println!("  national number: {n}");
    }
    if let Some(b) = &id.bsn {
        println!("  BSN: {b}");
    }
    if let Some(e) = &id.email {
        println!("  e-mail: {}", e.as_str());
    }
    if let Some(p) = &id.phone {
        println!("  phone: {}", p.as_str());
    }
    let name = id.full_name();
    if !name.is_empty() {
        println!("  name: {name}");
    }
    if let Some(born) = id.birth_date {
        let child = if id.is_child_on(today) == Some(true) {
            " (under 16: a parent or guardian acts for them)"
        } else {
            ""
        };
        println!("  born: {born}{child}");
    }
    let mut activity = "";
    for r in &view.records {
        if r.activity != activity {
            activity = &r.activity;
            println!("  processing activity {activity}:");
        }
        let (kind, date, event) = inventory::deadline_columns(&r.deadline);
        let retention = match (date, event) {
            (Some(d), _) => format!("destroy on {d}"),
            (None, Some(e)) => format!("kept until {e} + its period"),
            (None, None) => kind.replace('_', " "),
        };
        // A restricted record is only stored: its fields are withheld (GDPR art. 18).
        let fields = match &r.restriction {
            Some(x) => format!(
                "RESTRICTED since {} at request {}, fields withheld",
                x.since.date(),
                x.request_reference
            ),
            None => serde_json::to_string(&r.fields).unwrap_or_default(),
        };
        println!(
            "    {} record {} (collected {}, source: {}): {}; {}",
            r.category,
            r.id,
            r.collected_on,
            r.source.as_deref().unwrap_or("not recorded"),
            fields,
            retention
        );
    }
}

pub async fn log(store: &Store, command: LogCommand) -> Result<()> {
    match command {
        LogCommand::Verify { anchor } => match store.verify_log(anchor).await? {
            Ok(head) => {
                println!(
                    "the processing log verifies: {} entries, head {head}",
                    head.seq
                );
                Ok(())
            }
            Err(broken) => bail!("the processing log does NOT verify: {broken}"),
        },
        LogCommand::Anchor => {
            println!("{}", store.log_head().await?);
            Ok(())
        }
        LogCommand::Show { person, audit } => {
            let subjects = match person.query()? {
                SubjectQuery::Id(id) => store.subject_pseudonyms_of(id).await?,
                SubjectQuery::NationalNumber(n) => {
                    vec![store.subject_pseudonym(IdentifierKind::NationalNumber, &n.digits())?]
                }
                SubjectQuery::Bsn(b) => {
                    vec![store.subject_pseudonym(IdentifierKind::Bsn, &b.digits())?]
                }
                SubjectQuery::Email(e) => {
                    vec![store.subject_pseudonym(IdentifierKind::Email, e.as_str())?]
                }
                SubjectQuery::Phone(p) => {
                    vec![store.subject_pseudonym(IdentifierKind::Phone, p.as_str())?]
                }
            };
            let selector = LogSelector {
                subjects,
                ..LogSelector::default()
            };
            let entries = store.log_entries(&selector, &Scope::All, i64::MAX).await?;
            if entries.is_empty() {
                println!("nobody consulted or changed this person's data through kluis");
            }
            for e in &entries {
                println!("{}", log_line(e, audit));
            }
            Ok(())
        }
    }
}

/// One line per entry: when, which organisation, which activity, what, which categories;
/// the staff member only in the audit view.
fn log_line(e: &LogEntry, audit: bool) -> String {
    let n = &e.entry;
    let mut line = format!(
        "{}  {}  {}  {}  {}",
        e.at.date(),
        n.organisation,
        n.activity,
        n.action,
        if n.data_categories.is_empty() {
            "-".to_string()
        } else {
            n.data_categories.join(",")
        }
    );
    if n.system != "kluis" {
        line.push_str(&format!("  in {}", n.system));
    }
    if let Some(r) = &n.recipient {
        line.push_str(&format!(
            "  to {r} ({})",
            n.legal_ground.as_deref().unwrap_or("")
        ));
    }
    if audit {
        line.push_str(&format!(
            "  by {} ({})  trace {}  #{}",
            e.actor.name, e.actor.kind, e.trace_id, e.seq
        ));
        if let Some(case) = &n.case_ref {
            line.push_str(&format!("  case {case}"));
        }
    }
    line
}

pub async fn staff(store: &Store, command: StaffCommand) -> Result<()> {
    match command {
        StaffCommand::Assign { user, activity } => {
            let member = staff_account(store, &user).await?;
            store
                .assign_activity(member.id, &activity, &actor(), now())
                .await?;
            println!("{user} is assigned to {activity}");
        }
        StaffCommand::Unassign { user, activity } => {
            let member = staff_account(store, &user).await?;
            store.unassign_activity(member.id, &activity).await?;
            println!("{user} is no longer assigned to {activity}");
        }
        StaffCommand::Confidentiality {
            user,
            signed_on,
            reference,
        } => {
            let member = staff_account(store, &user).await?;
            store
                .record_confidentiality_statement(member.id, signed_on, &reference, &actor(), now())
                .await?;
            println!("recorded the confidentiality statement {user} signed on {signed_on}");
        }
        StaffCommand::Show { user } => {
            let member = staff_account(store, &user).await?;
            let c = store.clearance(member.id).await?;
            println!(
                "{user}: roles {}",
                c.roles
                    .iter()
                    .map(|r| r.name())
                    .collect::<Vec<_>>()
                    .join(", ")
            );
            match c.confidentiality_signed_on {
                Some(d) => println!("  confidentiality statement signed on {d}"),
                None => println!("  no confidentiality statement: cannot open personal data"),
            }
            for a in &c.activities {
                println!("  assigned to {a}");
            }
        }
    }
    Ok(())
}
