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
use kluis_domain::access_package::PackageKind;
use kluis_domain::i18n;
use kluis_domain::rights::{self, Decision, Urgency};
use kluis_domain::text::Lang;
use kluis_store::{ReminderRun, RequestChange, RequestFilter, RightsRequest, Store};
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
        /// Only the requests assigned to this staff member.
        #[arg(long, value_name = "USERNAME")]
        assignee: Option<String>,
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
    /// Assign the request to a caseworker (or the DPO), who gets the daily reminders.
    Assign {
        request: String,
        #[arg(long = "as", value_name = "USERNAME")]
        as_user: String,
        #[arg(long, value_name = "USERNAME")]
        to: String,
    },
    /// Queue today's reminders to caseworkers of their requests overdue or due within 7
    /// days; `kluis serve` does this every day. Once a day: a second run sends nothing.
    Remind,
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
    ///
    /// Erases in the vault and in every connected system, withdraws consents, and prints
    /// per right, activity and place what was done; a place that failed is retried by
    /// running it again (what is done is never redone). `--note` confirms, saying what was
    /// done, the actions kluis does not carry out itself (access package, rectification,
    /// restriction, objection, ...). Once everything is done, the request is fulfilled.
    Fulfil {
        request: String,
        #[arg(long = "as", value_name = "USERNAME")]
        as_user: String,
        /// What was done by hand, confirming the actions carried out by hand.
        #[arg(long)]
        note: Option<String>,
    },
    /// Rectify one column of the person's rows in one table of a connected system (GDPR
    /// art. 16): needs rectification granted for an activity the system serves. The
    /// timeline and the processing log record the system, table, column and rows changed,
    /// not the value; the request keeps old and new values sealed, and each changed row's
    /// old value is printed (NULL for none). The request's rectification action for the
    /// system is then done; further columns can be rectified after it.
    Rectify {
        request: String,
        #[arg(long = "as", value_name = "USERNAME")]
        as_user: String,
        /// The system, as its dataset map names it.
        #[arg(long)]
        system: String,
        #[arg(long)]
        table: String,
        /// A column the dataset map lists for the table.
        #[arg(long)]
        column: String,
        /// The new value, as text; the database converts it to the column's type.
        #[arg(long)]
        value: String,
    },
    /// Record that a recipient of the data was told of a rectification, erasure or
    /// restriction (GDPR art. 19); the request closes only once every recipient was told.
    Told {
        request: String,
        #[arg(long = "as", value_name = "USERNAME")]
        as_user: String,
        /// The recipient as the register names it (`kluis request fulfil` lists them).
        #[arg(long)]
        recipient: String,
        /// How they were told: a letter, an e-mail of a date, ...
        #[arg(long)]
        how: String,
    },
    /// Close the request: the closing letter is mailed (or, without an e-mail address,
    /// left to print with `kluis request letter`); the ID copy is destroyed. Closed without
    /// decisions, the note is the reason no action was taken, and the letter says it.
    Close {
        request: String,
        #[arg(long = "as", value_name = "USERNAME")]
        as_user: String,
        #[arg(long)]
        note: String,
    },
    /// The latest letter to the person (closing letter, extension, request for proof of
    /// identity) as a PDF to print and post, addressed to their postal address.
    Letter {
        request: String,
        #[arg(long = "as", value_name = "USERNAME")]
        as_user: String,
        #[arg(long)]
        output: PathBuf,
    },
    /// The access package (art. 15) of a decided request, written to a file; each one
    /// made is logged as an export to the data subject.
    Package {
        request: String,
        #[arg(long = "as", value_name = "USERNAME")]
        as_user: String,
        /// html (the accessible page), pdf, or zip (JSON and CSV).
        #[arg(long, default_value = "html")]
        format: String,
        #[arg(long)]
        output: PathBuf,
    },
    /// The portability export (art. 20): what the person provided under consent or
    /// contract, where portability was granted; written to a file (logged as an export),
    /// or sent straight to another controller's HTTPS endpoint with --send-to and
    /// --recipient (art. 20(2); logged as a disclosure to that controller).
    Portability {
        request: String,
        #[arg(long = "as", value_name = "USERNAME")]
        as_user: String,
        /// json or csv.
        #[arg(long, default_value = "json")]
        format: String,
        #[arg(long, required_unless_present = "send_to", conflicts_with = "send_to")]
        output: Option<PathBuf>,
        /// The receiving controller's endpoint (an https:// URL without credentials): the
        /// export is POSTed there, redirects are not followed.
        #[arg(long, value_name = "URL", requires = "recipient")]
        send_to: Option<String>,
        /// The name of the receiving controller, as the processing log records it.
        #[arg(long, value_name = "NAME", requires = "send_to")]
        recipient: Option<String>,
    },
}

/// `config`: the connected systems' URLs, the portability settings and where kluis is
/// reached (for the links in reminders).
pub async fn request(
    store: &Store,
    command: RequestCommand,
    config: &crate::config::Config,
    now: OffsetDateTime,
    out: &mut impl Write,
) -> Result<()> {
    match command {
        RequestCommand::List {
            overdue,
            due_soon,
            all,
            assignee,
            as_user,
        } => {
            handler(store, &as_user).await?;
            let filter = match (overdue, due_soon, all) {
                (true, _, _) => RequestFilter::Overdue,
                (_, true, _) => RequestFilter::DueSoon,
                (_, _, true) => RequestFilter::All,
                _ => RequestFilter::Open,
            };
            let mut list = store.rights_requests(filter, now.date()).await?;
            if let Some(assignee) = &assignee {
                list.retain(|r| r.assignee.as_ref() == Some(assignee));
            }
            writeln!(
                out,
                "{:<18} {:<10} {:<22} {:<16} {:<16} rights",
                "reference", "due", "stage", "", "assignee"
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
                    "{:<18} {:<10} {:<22} {:<16} {:<16} {}",
                    r.reference,
                    r.due_on,
                    r.stage.name(),
                    urgency,
                    r.assignee.as_deref().unwrap_or("-"),
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
        RequestCommand::Assign {
            request,
            as_user,
            to,
        } => {
            handler(store, &as_user).await?;
            let id = find(store, &request).await?;
            let version = store.rights_request(id).await?.version;
            let r = store
                .assign_request(id, version, &to, &as_user, now)
                .await?;
            writeln!(out, "{} is assigned to {to}", r.reference)?;
            Ok(())
        }
        RequestCommand::Remind => {
            let public_url = config.public_url(config.listen);
            let url = format!("{}/admin/rights", public_url.trim_end_matches('/'));
            let holder = format!("kluis request remind (pid {})", std::process::id());
            match store
                .send_daily_rights_reminders(&holder, &url, now)
                .await?
            {
                ReminderRun::Sent(reminders) if reminders.is_empty() => {
                    writeln!(out, "no caseworker has requests overdue or due soon")?;
                }
                ReminderRun::Sent(reminders) => {
                    for r in reminders {
                        writeln!(
                            out,
                            "reminder queued for {}: {} requests, {} overdue",
                            r.username, r.requests, r.overdue
                        )?;
                    }
                }
                ReminderRun::NotDue => {
                    writeln!(out, "today's reminders were already sent")?;
                }
            }
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
            let urls = config.system_urls();
            fulfil(store, &urls, &request, &as_user, note.as_deref(), now, out).await
        }
        RequestCommand::Rectify {
            request,
            as_user,
            system,
            table,
            column,
            value,
        } => {
            let urls = config.system_urls();
            let place = Place {
                system: &system,
                table: &table,
                column: &column,
            };
            rectify(store, &urls, &request, &as_user, place, &value, now, out).await
        }
        RequestCommand::Told {
            request,
            as_user,
            recipient,
            how,
        } => {
            handler(store, &as_user).await?;
            let id = find(store, &request).await?;
            let status = store
                .record_recipient_told(id, &recipient, &how, &as_user, now)
                .await?;
            write!(out, "{}", kluis_web::fulfilment::status_text(&status))?;
            Ok(())
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
        RequestCommand::Letter {
            request,
            as_user,
            output,
        } => {
            handler(store, &as_user).await?;
            let id = find(store, &request).await?;
            let (request, letter) = store.latest_letter(id).await?;
            let pdf = kluis_web::letters::letter_pdf(&request, &letter, now.date());
            std::fs::write(&output, pdf)
                .with_context(|| format!("cannot write {}", output.display()))?;
            writeln!(
                out,
                "the letter to the person of {} is in {}: print it and post it",
                request.reference,
                output.display()
            )?;
            Ok(())
        }
        RequestCommand::Package {
            request,
            as_user,
            format,
            output,
        } => {
            let urls = config.system_urls();
            let export = Export {
                kind: PackageKind::Access,
                format: &format,
                output: &output,
            };
            package(store, &urls, &request, &as_user, export, now, out).await
        }
        RequestCommand::Portability {
            request,
            as_user,
            format,
            output: None,
            send_to: Some(endpoint),
            recipient,
        } => {
            let to = Recipient {
                endpoint: &endpoint,
                name: recipient.as_deref().unwrap_or_default(),
                format: &format,
            };
            transmit(store, config, &request, &as_user, to, now, out).await
        }
        RequestCommand::Portability {
            request,
            as_user,
            format,
            output,
            ..
        } => {
            let Some(output) = output else {
                bail!("give --output FILE, or --send-to URL with --recipient NAME");
            };
            let export = Export {
                kind: PackageKind::Portability,
                format: &format,
                output: &output,
            };
            let urls = config.system_urls();
            package(store, &urls, &request, &as_user, export, now, out).await
        }
    }
}

/// Runs the fulfilment of `request` as `as_user` and prints the status per place; fails
/// when a place failed, so that a script notices and runs it again.
async fn fulfil(
    store: &Store,
    urls: &kluis_web::systems::SystemUrls,
    request: &str,
    as_user: &str,
    note: Option<&str>,
    now: OffsetDateTime,
    out: &mut impl Write,
) -> Result<()> {
    use kluis_web::fulfilment::{FulfilmentError, fulfil, status_text};

    handler(store, as_user).await?;
    let id = find(store, request).await?;
    let processing = staff_processing(store, as_user, None, now).await?;
    let status = match fulfil(store, urls, &processing, id, note).await {
        Ok(status) => status,
        Err(FulfilmentError::Refused(why)) => bail!("{request}: {why}"),
        Err(FulfilmentError::Store(e)) => return Err(e.into()),
    };
    write!(out, "{}", status_text(&status))?;
    let failed: Vec<String> = status
        .actions
        .iter()
        .filter(|a| a.status == kluis_store::ActionStatus::Failed)
        .map(|a| a.target.clone())
        .collect();
    if !failed.is_empty() {
        bail!(
            "{}: carrying it out failed in {}: see above; run it again once repaired",
            status.reference,
            failed.join(", ")
        );
    }
    Ok(())
}

/// Where a rectification goes.
struct Place<'a> {
    system: &'a str,
    table: &'a str,
    column: &'a str,
}

/// Rectifies one column of the person's rows in a connected system.
#[allow(clippy::too_many_arguments)]
async fn rectify(
    store: &Store,
    urls: &kluis_web::systems::SystemUrls,
    request: &str,
    as_user: &str,
    place: Place<'_>,
    value: &str,
    now: OffsetDateTime,
    out: &mut impl Write,
) -> Result<()> {
    use kluis_web::rectification::{RectificationError, rectify_in_system};

    handler(store, as_user).await?;
    let id = find(store, request).await?;
    let processing = staff_processing(store, as_user, None, now).await?;
    let done = rectify_in_system(
        store,
        urls,
        &processing,
        id,
        place.system,
        place.table,
        place.column,
        value,
    )
    .await
    .map_err(|e| match e {
        RectificationError::Store(e) => anyhow::Error::from(e),
        e => anyhow::anyhow!("{request}: {e}"),
    })?;
    writeln!(
        out,
        "{}: system {}: {}.{}: {} of {} row(s) changed",
        done.reference, done.system, done.table, done.column, done.changed, done.rows
    )?;
    for old in &done.old_values {
        let key: Vec<String> = old.key.iter().map(|(c, v)| format!("{c}={v}")).collect();
        let was = old
            .value
            .as_ref()
            .map_or_else(|| "NULL".to_string(), |v| format!("{v:?}"));
        writeln!(out, "  row {}: was {was}", key.join(", "))?;
    }
    Ok(())
}

/// What to make and where to put it.
struct Export<'a> {
    kind: PackageKind,
    format: &'a str,
    output: &'a std::path::Path,
}

/// Makes the package of `export.kind` for `request` as `as_user` and writes it. The file
/// is created first, so an unwritable path fails before anything is exported and logged.
async fn package(
    store: &Store,
    urls: &kluis_web::systems::SystemUrls,
    request: &str,
    as_user: &str,
    export: Export<'_>,
    now: OffsetDateTime,
    out: &mut impl Write,
) -> Result<()> {
    use kluis_web::access_package::{Format, produce};

    handler(store, as_user).await?;
    let format = Format::parse(export.kind, export.format).map_err(anyhow::Error::msg)?;
    let r = store.rights_request(find(store, request).await?).await?;
    let processing = staff_processing(store, as_user, Some(r.reference.clone()), now).await?;
    let mut file = std::fs::File::create(export.output)
        .with_context(|| format!("cannot write {}", export.output.display()))?;
    let download = match produce(store, urls, &processing, &r, export.kind, format).await {
        Ok(d) => d,
        Err(e) => {
            drop(file);
            let _ = std::fs::remove_file(export.output);
            bail!("{}: {e}", r.reference);
        }
    };
    file.write_all(&download.body)
        .and_then(|()| file.sync_all())
        .with_context(|| format!("cannot write {}", export.output.display()))?;
    writeln!(
        out,
        "{}: {} ({} bytes) written to {}",
        r.reference,
        download.file_name,
        download.body.len(),
        export.output.display()
    )?;
    Ok(())
}

/// Where a portability export goes, as the command line gives it.
struct Recipient<'a> {
    endpoint: &'a str,
    name: &'a str,
    format: &'a str,
}

/// Sends the portability export of `request` to another controller's endpoint as
/// `as_user` (art. 20(2)) and prints what was delivered. Bad input and a request that may
/// not release data fail before anything is sent or recorded; an endpoint on an internal
/// network that `[rights] portability_allowed_hosts` does not list is refused, and an
/// endpoint that does not take it fails with its answer, both recorded on the timeline.
async fn transmit(
    store: &Store,
    config: &crate::config::Config,
    request: &str,
    as_user: &str,
    to: Recipient<'_>,
    now: OffsetDateTime,
    out: &mut impl Write,
) -> Result<()> {
    use kluis_web::access_package::Format;
    use kluis_web::portability::{Destination, prepare, send};

    handler(store, as_user).await?;
    let destination = Destination::parse(to.endpoint, to.name).map_err(anyhow::Error::msg)?;
    let format = Format::parse(PackageKind::Portability, to.format).map_err(anyhow::Error::msg)?;
    let r = store.rights_request(find(store, request).await?).await?;
    let processing = staff_processing(store, as_user, Some(r.reference.clone()), now).await?;
    let failed = |e| anyhow::anyhow!("{}: {e}", r.reference);
    // The systems are searched for what the person provided there.
    let export = prepare(
        store,
        &config.system_urls(),
        &processing,
        &r,
        &destination,
        format,
    )
    .await
    .map_err(failed)?;
    let sent = send(
        store,
        &config.portability,
        &processing,
        r.id,
        &destination,
        export,
    )
    .await
    .map_err(failed)?;
    writeln!(
        out,
        "{}: {} export ({} bytes, SHA-256 {}) sent to {} at {}: HTTP {}",
        r.reference,
        sent.format,
        sent.bytes,
        sent.sha256,
        sent.recipient,
        sent.endpoint_host,
        sent.status
    )?;
    Ok(())
}

/// The processing of staff member `as_user` at the command line: a new trace.
async fn staff_processing(
    store: &Store,
    as_user: &str,
    case_ref: Option<String>,
    now: OffsetDateTime,
) -> Result<kluis_store::Processing> {
    use kluis_domain::processing_log::{Actor, ActorKind};

    let user = staff_account(store, as_user).await?;
    let mut trace = [0u8; 16];
    let mut span = [0u8; 8];
    getrandom::fill(&mut trace).context("no random source for a trace id")?;
    getrandom::fill(&mut span).context("no random source for a span id")?;
    trace[0] |= 1;
    span[0] |= 1;
    Ok(kluis_store::Processing {
        actor: Actor {
            kind: ActorKind::Staff,
            id: Some(user.id.to_string()),
            name: as_user.to_string(),
        },
        trace: kluis_domain::trace::TraceContext::new_root(trace, span),
        case_ref,
        now,
    })
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
    writeln!(
        out,
        "assignee:   {}",
        r.assignee.as_deref().unwrap_or("nobody yet")
    )?;
    let person = &r.requester.identity;
    let name = person.full_name();
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
        "assignee": r.assignee,
        "decisions": r.decisions,
        "timeline": r.timeline.iter().map(|s| serde_json::json!({
            "at": s.at.to_string(), "step": s.step, "actor": s.actor, "note": s.note,
        })).collect::<Vec<_>>(),
    });
    writeln!(out, "{}", serde_json::to_string_pretty(&value)?)?;
    Ok(())
}

/// How often `kluis serve` looks whether today's reminders are due.
const REMINDER_CHECK: std::time::Duration = std::time::Duration::from_secs(15 * 60);

/// Sends the daily reminders to caseworkers from 07:00 UTC (the start of the working day
/// in Belgium and the Netherlands), once a day across instances, until `stop`.
pub async fn run_daily_reminders(
    store: Store,
    public_url: String,
    clock: impl Fn() -> OffsetDateTime,
    stop: impl std::future::Future<Output = ()>,
) {
    tokio::pin!(stop);
    let url = format!("{}/admin/rights", public_url.trim_end_matches('/'));
    let holder = format!("kluis serve (pid {})", std::process::id());
    loop {
        let now = clock();
        if now.hour() >= 7 {
            tokio::select! {
                () = &mut stop => return,
                sent = store.send_daily_rights_reminders(&holder, &url, now) => match sent {
                    Ok(ReminderRun::Sent(reminders)) => {
                        tracing::info!(caseworkers = reminders.len(), "rights request reminders queued");
                    }
                    Ok(ReminderRun::NotDue) => {}
                    Err(e) => tracing::error!("the rights request reminders failed: {e}; retried later"),
                },
            }
        }
        tokio::select! {
            () = &mut stop => return,
            () = tokio::time::sleep(REMINDER_CHECK) => {}
        }
    }
}
