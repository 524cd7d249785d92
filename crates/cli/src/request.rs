//! `kluis request`: data-subject rights requests from the command line, for the DPO and
//! caseworkers: list what is open or late, read one, and take it through its steps.
//!
//! Every step names the staff member (`--as`), who must hold the dpo or caseworker role
//! and have signed a confidentiality statement, as in the API.

use std::io::Write;
use std::path::PathBuf;

use anyhow::{Context, Result, bail};
use clap::Subcommand;
use kluis_domain::access::Permission;
use kluis_domain::i18n;
use kluis_domain::rights::{self, Decision, Urgency};
use kluis_domain::text::Lang;
use kluis_store::{RequestChange, RequestFilter, RightsRequest, Store};
use time::{Date, OffsetDateTime};
use uuid::Uuid;

use crate::{parse_date, staff_account};

#[derive(Subcommand)]
pub enum RequestCommand {
    /// Open requests, due first; --overdue or --due-soon narrow it, --all adds closed ones.
    List {
        #[arg(long, conflicts_with_all = ["due_soon", "all"])]
        overdue: bool,
        /// Due within 7 days, or overdue.
        #[arg(long, conflicts_with = "all")]
        due_soon: bool,
        #[arg(long)]
        all: bool,
        #[arg(long = "as", value_name = "USERNAME")]
        as_user: String,
    },
    /// One request with its decisions and timeline (REQUEST: its reference or id).
    Show {
        request: String,
        #[arg(long = "as", value_name = "USERNAME")]
        as_user: String,
        /// JSON instead of text.
        #[arg(long)]
        json: bool,
    },
    /// Ask the requester for more proof of identity.
    AskIdentity {
        request: String,
        #[arg(long = "as", value_name = "USERNAME")]
        as_user: String,
        /// What is missing, as told to the person.
        #[arg(long)]
        note: String,
    },
    /// The identity is verified; optionally the data subject in the vault it matches.
    Verify {
        request: String,
        #[arg(long = "as", value_name = "USERNAME")]
        as_user: String,
        #[arg(long)]
        subject: Option<Uuid>,
    },
    /// The decisions the register supplies, as JSON to edit and pass to `decide --file`.
    Defaults {
        request: String,
        #[arg(long = "as", value_name = "USERNAME")]
        as_user: String,
    },
    /// Decide every right asked, per processing activity: a JSON array of decisions
    /// (right, activity, outcome, grounds, motivation), as `defaults` prints them.
    Decide {
        request: String,
        #[arg(long = "as", value_name = "USERNAME")]
        as_user: String,
        #[arg(long)]
        file: PathBuf,
    },
    /// Extend the deadline by 1 or 2 months, once, with the reason told to the person.
    Extend {
        request: String,
        #[arg(long = "as", value_name = "USERNAME")]
        as_user: String,
        #[arg(long)]
        months: u8,
        #[arg(long)]
        reason: String,
        /// When the person was told (YYYY-MM-DD); today when left out.
        #[arg(long, value_parser = parse_date)]
        told_on: Option<Date>,
    },
    /// What was granted has been carried out; the note says what was done.
    Fulfil {
        request: String,
        #[arg(long = "as", value_name = "USERNAME")]
        as_user: String,
        #[arg(long)]
        note: String,
    },
    /// The closing letter went out; the ID copy is destroyed.
    Close {
        request: String,
        #[arg(long = "as", value_name = "USERNAME")]
        as_user: String,
        #[arg(long)]
        note: String,
    },
}

pub async fn request(
    store: &Store,
    command: RequestCommand,
    now: OffsetDateTime,
    out: &mut impl Write,
) -> Result<()> {
    match command {
        RequestCommand::List {
            overdue,
            due_soon,
            all,
            as_user,
        } => {
            handler(store, &as_user).await?;
            let filter = match (overdue, due_soon, all) {
                (true, _, _) => RequestFilter::Overdue,
                (_, true, _) => RequestFilter::DueSoon,
                (_, _, true) => RequestFilter::All,
                _ => RequestFilter::Open,
            };
            let list = store.rights_requests(filter, now.date()).await?;
            writeln!(
                out,
                "{:<18} {:<10} {:<22} {:<16} rights",
                "reference", "due", "stage", ""
            )?;
            for r in list {
                let urgency = match r.urgency {
                    Urgency::Overdue(days) => format!("{days} days late"),
                    Urgency::DueSoon(days) => format!("{days} days left"),
                    Urgency::OnTime => String::new(),
                };
                let asked: Vec<&str> = r.rights.iter().map(|r| r.name()).collect();
                writeln!(
                    out,
                    "{:<18} {:<10} {:<22} {:<16} {}",
                    r.reference,
                    r.due_on,
                    r.stage.name(),
                    urgency,
                    asked.join(", ")
                )?;
            }
            Ok(())
        }
        RequestCommand::Show {
            request,
            as_user,
            json,
        } => {
            handler(store, &as_user).await?;
            let r = store.rights_request(find(store, &request).await?).await?;
            if json {
                show_json(&r, out)
            } else {
                show_text(&r, now.date(), out)
            }
        }
        RequestCommand::Defaults { request, as_user } => {
            handler(store, &as_user).await?;
            let r = store.rights_request(find(store, &request).await?).await?;
            let activities: Vec<_> = store
                .activities(Some(&r.controller))
                .await?
                .into_iter()
                .map(|a| a.value)
                .collect();
            let defaults = rights::default_decisions(&r.rights, &activities, r.language);
            writeln!(out, "{}", serde_json::to_string_pretty(&defaults)?)?;
            Ok(())
        }
        RequestCommand::AskIdentity {
            request,
            as_user,
            note,
        } => {
            step(
                store,
                &request,
                &as_user,
                RequestChange::RequestIdentity { note },
                now,
                out,
            )
            .await
        }
        RequestCommand::Verify {
            request,
            as_user,
            subject,
        } => {
            let change = RequestChange::VerifyIdentity {
                subject_id: subject,
            };
            step(store, &request, &as_user, change, now, out).await
        }
        RequestCommand::Decide {
            request,
            as_user,
            file,
        } => {
            let text = std::fs::read_to_string(&file)
                .with_context(|| format!("cannot read {}", file.display()))?;
            let decisions: Vec<Decision> = serde_json::from_str(&text).with_context(|| {
                format!(
                    "{} is not a JSON array of decisions (right, activity, outcome, grounds, \
                     motivation): start from `kluis request defaults`",
                    file.display()
                )
            })?;
            step(
                store,
                &request,
                &as_user,
                RequestChange::Decide { decisions },
                now,
                out,
            )
            .await
        }
        RequestCommand::Extend {
            request,
            as_user,
            months,
            reason,
            told_on,
        } => {
            let change = RequestChange::Extend {
                months,
                reason,
                told_on: told_on.unwrap_or(now.date()),
            };
            step(store, &request, &as_user, change, now, out).await
        }
        RequestCommand::Fulfil {
            request,
            as_user,
            note,
        } => {
            step(
                store,
                &request,
                &as_user,
                RequestChange::Fulfil { note },
                now,
                out,
            )
            .await
        }
        RequestCommand::Close {
            request,
            as_user,
            note,
        } => {
            step(
                store,
                &request,
                &as_user,
                RequestChange::Close { note },
                now,
                out,
            )
            .await
        }
    }
}

/// Checks that `username` may handle rights requests; their username goes on the timeline.
async fn handler(store: &Store, username: &str) -> Result<()> {
    let user = staff_account(store, username).await?;
    if !Permission::HandleRightsRequests.granted_to(&user.roles) {
        bail!("{username} may not handle rights requests: that takes the dpo or caseworker role");
    }
    if let Err(refusal) = store.clearance(user.id).await?.scope() {
        bail!("{username}: {refusal}");
    }
    Ok(())
}

/// The request a reference (`RQ-...`) or id names.
async fn find(store: &Store, request: &str) -> Result<Uuid> {
    if let Ok(id) = request.parse::<Uuid>() {
        return Ok(id);
    }
    store
        .rights_request_by_reference(request)
        .await?
        .with_context(|| format!("there is no rights request {request}"))
}

async fn step(
    store: &Store,
    request: &str,
    as_user: &str,
    change: RequestChange,
    now: OffsetDateTime,
    out: &mut impl Write,
) -> Result<()> {
    handler(store, as_user).await?;
    let id = find(store, request).await?;
    let current = store.rights_request(id).await?;
    let r = store
        .change_request(id, current.version, &change, as_user, now)
        .await?;
    writeln!(
        out,
        "{}: {} ({}), due {}",
        r.reference,
        r.stage.name(),
        r.status.dpv(),
        r.deadline.due_on()
    )?;
    Ok(())
}

fn show_text(r: &RightsRequest, today: Date, out: &mut impl Write) -> Result<()> {
    let lang = Lang::En;
    let label = |key: String| i18n::t(lang, &key).to_string();
    writeln!(out, "{} ({})", r.reference, r.id)?;
    writeln!(out, "controller: {}", r.controller)?;
    let asked: Vec<String> = r.rights.iter().map(|x| label(x.label_key())).collect();
    writeln!(out, "rights:     {}", asked.join(", "))?;
    writeln!(out, "channel:    {}", label(r.channel.label_key()))?;
    writeln!(
        out,
        "stage:      {} ({})",
        label(r.stage.label_key()),
        r.status.dpv()
    )?;
    let urgency = match r.deadline.urgency(today) {
        Urgency::Overdue(days) => format!(", {days} days late"),
        Urgency::DueSoon(days) => format!(", {days} days left"),
        Urgency::OnTime => String::new(),
    };
    writeln!(
        out,
        "received:   {}; due {}{urgency}",
        r.deadline.received_on,
        r.deadline.due_on()
    )?;
    if let Some(e) = &r.deadline.extension {
        writeln!(out, "extended:   by {} month(s): {}", e.months, e.reason)?;
    }
    let person = &r.requester.identity;
    let name = [person.given_name.as_deref(), person.family_name.as_deref()]
        .into_iter()
        .flatten()
        .collect::<Vec<_>>()
        .join(" ");
    writeln!(
        out,
        "person:     {name} ({})",
        label(r.requester.acting_for.label_key())
    )?;
    if let Some(email) = &r.requester.email {
        writeln!(out, "e-mail:     {}", email.as_str())?;
    }
    if !r.requester.message.is_empty() {
        writeln!(out, "message:    {}", r.requester.message)?;
    }
    for d in &r.decisions {
        let grounds: Vec<&str> = d.grounds.iter().map(|g| g.name()).collect();
        writeln!(
            out,
            "decision:   {} / {}: {} {} — {}",
            d.right.name(),
            d.activity,
            d.outcome.name(),
            grounds.join(", "),
            d.motivation
        )?;
    }
    for doc in &r.documents {
        let state = match doc.destroyed_at {
            Some(at) => format!("destroyed {at}"),
            None => "kept until the request closes".into(),
        };
        writeln!(
            out,
            "ID copy:    {} ({} bytes), {state}",
            doc.media_type, doc.size
        )?;
    }
    writeln!(out, "timeline:")?;
    for s in &r.timeline {
        let note = s
            .note
            .as_deref()
            .map(|n| format!(": {n}"))
            .unwrap_or_default();
        writeln!(out, "  {} {} by {}{note}", s.at, s.step, s.actor)?;
    }
    Ok(())
}

fn show_json(r: &RightsRequest, out: &mut impl Write) -> Result<()> {
    let value = serde_json::json!({
        "id": r.id,
        "reference": r.reference,
        "controller": r.controller,
        "rights": r.rights,
        "channel": r.channel,
        "stage": r.stage,
        "status": r.status.dpv(),
        "deadline": r.deadline,
        "requester": r.requester,
        "decisions": r.decisions,
        "timeline": r.timeline.iter().map(|s| serde_json::json!({
            "at": s.at.to_string(), "step": s.step, "actor": s.actor, "note": s.note,
        })).collect::<Vec<_>>(),
    });
    writeln!(out, "{}", serde_json::to_string_pretty(&value)?)?;
    Ok(())
}
