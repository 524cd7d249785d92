//! `kluis`: the server and the command line of the privacy office.

use std::io::Read;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Context, Result, bail};
use clap::{Parser, Subcommand, ValueEnum};
use kluis_domain::access::Role;
use kluis_domain::identifiers::EmailAddress;
use kluis_domain::text::Lang;
use kluis_domain::{art30, completeness, dpv, i18n, register_file};
use kluis_store::Store;
use kluis_web::statements::{self, Format};
use kluis_web::{AppState, Settings, system_clock};
use time::{Date, OffsetDateTime};

mod breach;
mod config;
mod consent;
mod demo;
mod inventory;
mod mail;
mod request;
mod retention;
mod stats;
mod systems;

use config::{Config, Flags};

#[derive(Parser)]
#[command(
    name = "kluis",
    version,
    about = "The privacy office of a public authority"
)]
struct Cli {
    /// Configuration file [default: ./kluis.toml when it exists].
    #[arg(long, global = true, env = "KLUIS_CONFIG")]
    config: Option<PathBuf>,
    /// Database: a SQLite file (sqlite://kluis.db, the default) or postgres://user@host/db
    /// [env: KLUIS_DATABASE_URL]. Overrides the configuration file.
    // Not read by clap from the environment: `--help` would print the password.
    #[arg(long, global = true)]
    database: Option<String>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Serve the API, the public statements and the back-office.
    Serve {
        /// Address to listen on [env: KLUIS_LISTEN; default: 127.0.0.1:8080].
        #[arg(long)]
        listen: Option<SocketAddr>,
        /// Mark session cookies Secure (set this behind HTTPS).
        #[arg(long, env = "KLUIS_SECURE_COOKIES")]
        secure_cookies: bool,
    },
    /// Load the demo registers (one per seed authority), publish their statements, and serve.
    Demo {
        /// Address to listen on [env: KLUIS_LISTEN; default: 127.0.0.1:8080].
        #[arg(long)]
        listen: Option<SocketAddr>,
    },
    /// Create or upgrade the database schema, then exit.
    Migrate,
    /// Keep the register of processing activities as a file.
    Register {
        #[command(subcommand)]
        command: RegisterCommand,
    },
    /// Print the privacy statement of a controller as generated from the current register.
    Statement {
        #[arg(long)]
        controller: String,
        #[arg(long, default_value = "nl")]
        lang: Lang,
        #[arg(long, value_enum, default_value = "html")]
        format: StatementFormat,
        /// Print a published version instead of the current register.
        #[arg(long)]
        version: Option<i64>,
    },
    /// Publish the current statement of a controller as a new version.
    Publish {
        #[arg(long)]
        controller: String,
        /// The day the version takes effect (YYYY-MM-DD); today when left out.
        #[arg(long, value_parser = parse_date)]
        effective_date: Option<Date>,
    },
    /// Staff accounts.
    User {
        #[command(subcommand)]
        command: UserCommand,
    },
    /// API tokens for scripts.
    Token {
        #[command(subcommand)]
        command: TokenCommand,
    },
    /// The configuration (kluis.toml and KLUIS_* variables).
    Config {
        #[command(subcommand)]
        command: ConfigCommand,
    },
    /// The keys that encrypt personal data at rest.
    Keys {
        #[command(subcommand)]
        command: KeysCommand,
    },
    /// The consent ledger: filter a mailing list by consent.
    Consent {
        #[command(subcommand)]
        command: consent::ConsentCommand,
    },
    /// Data subjects in the vault.
    Subject {
        #[command(subcommand)]
        command: inventory::SubjectCommand,
    },
    /// Records in the vault: rectification at a rights request.
    Record {
        #[command(subcommand)]
        command: inventory::RecordCommand,
    },
    /// The processing log: verify its chain, anchor it, show who consulted a person's data.
    Log {
        #[command(subcommand)]
        command: inventory::LogCommand,
    },
    /// The authority's other databases, described by dataset maps.
    Systems {
        #[command(subcommand)]
        command: systems::SystemsCommand,
    },
    /// Need-to-know: staff assignments to processing activities and confidentiality
    /// statements.
    Staff {
        #[command(subcommand)]
        command: inventory::StaffCommand,
    },
    /// Data-subject rights requests: list, read, and take them through their steps.
    Request {
        #[command(subcommand)]
        command: request::RequestCommand,
    },
    /// Statistics and research extracts: pseudonymised, generalised, k-anonymous.
    Stats {
        #[command(subcommand)]
        command: stats::StatsCommand,
    },
    /// Outgoing mail: the outbox and a test mail.
    Mail {
        #[command(subcommand)]
        command: mail::MailCommand,
    },
    /// The register of data breaches: the 72-hour clock and the authority's form.
    Breach {
        #[command(subcommand)]
        command: breach::BreachCommand,
    },
    /// Retention: what will be destroyed, legal holds, extensions, destruction lists and
    /// the sweep.
    Retention {
        #[command(subcommand)]
        command: retention::RetentionCommand,
    },
}

#[derive(Subcommand)]
enum ConfigCommand {
    /// Print the effective configuration, secrets masked, with where each setting came from.
    Show,
}

#[derive(Subcommand)]
enum KeysCommand {
    /// Print a fresh key line ID:BASE64 for `keys = [...]` in the configuration.
    Generate {
        /// Print a fresh pseudonym key (base64) instead.
        #[arg(long)]
        pseudonym: bool,
    },
    /// List the key ids, current first; creates the key file when it does not exist yet.
    List,
    /// Add a fresh current key to the key file, then re-encrypt every national number and
    /// BSN with it and recompute the blind indexes. Older keys stay in the file until you
    /// remove them. Safe to run again after an interruption.
    Rotate {
        /// Do not add a key: re-encrypt with the current one (for keys set inline in the
        /// configuration, after putting the new key first).
        #[arg(long)]
        reencrypt_only: bool,
    },
}

#[derive(Subcommand)]
enum RegisterCommand {
    /// Validate a register YAML file and load it in one transaction.
    Import {
        file: PathBuf,
        /// Retire activities and delete processors and agreements the file no longer has.
        #[arg(long)]
        prune: bool,
    },
    /// Write the register out.
    Export {
        #[arg(long, value_enum, default_value = "yaml")]
        format: ExportFormat,
        /// Language of labels in the CSV table.
        #[arg(long, default_value = "nl")]
        lang: Lang,
        /// Write to this file instead of standard output.
        #[arg(long, short)]
        output: Option<PathBuf>,
    },
    /// Validate a register file without loading it.
    Validate { file: PathBuf },
    /// List what art. 30(1) requires and each activity lacks.
    Check {
        #[arg(long, default_value = "nl")]
        lang: Lang,
    },
}

#[derive(Subcommand)]
enum UserCommand {
    /// Add a staff account; the password is read from standard input.
    Add {
        username: String,
        /// One or more of admin, dpo, caseworker, auditor, application (another program).
        #[arg(long = "role", required = true)]
        roles: Vec<Role>,
        #[arg(long)]
        name: Option<String>,
    },
    /// List staff accounts.
    List,
    /// Where a staff member gets kluis's mails to them (the daily reminder of rights
    /// requests), and in which language; --off stops them.
    Mail {
        username: String,
        #[arg(required_unless_present = "off", conflicts_with = "off")]
        address: Option<EmailAddress>,
        #[arg(long, default_value = "nl")]
        lang: Lang,
        #[arg(long)]
        off: bool,
    },
}

#[derive(Subcommand)]
enum TokenCommand {
    /// Create an API token; it is shown once.
    Create {
        #[arg(long)]
        user: String,
        #[arg(long)]
        name: String,
    },
}

#[derive(Clone, Copy, ValueEnum)]
enum StatementFormat {
    Html,
    Md,
}

#[derive(Clone, Copy, ValueEnum)]
enum ExportFormat {
    Yaml,
    Json,
    Csv,
    Dpv,
}

fn parse_date(s: &str) -> Result<Date, String> {
    Date::parse(s, time::macros::format_description!("[year]-[month]-[day]"))
        .map_err(|_| format!("'{s}' is not a date: write YYYY-MM-DD"))
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("KLUIS_LOG")
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .with_writer(std::io::stderr)
        .init();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => {
            eprintln!("error: cannot start: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(run(cli)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

async fn connect(url: &str) -> Result<Store> {
    Ok(Store::connect(url).await?)
}

/// The store with the configured keys: for everything that touches personal data.
async fn open(config: &Config) -> Result<Store> {
    let keys = std::sync::Arc::new(config.keyring()?);
    Ok(connect(&config.database).await?.with_keys(keys))
}

fn now() -> OffsetDateTime {
    OffsetDateTime::now_utc()
}

/// The staff account named on the command line.
async fn staff_account(store: &Store, username: &str) -> Result<kluis_store::User> {
    store.user_by_username(username).await?.with_context(|| {
        format!("there is no staff account '{username}': add it with `kluis user add`")
    })
}

/// Who the CLI records as the author of a change: the operating-system user.
fn actor() -> String {
    let user = std::env::var("USER").unwrap_or_else(|_| "unknown".into());
    format!("cli:{user}")
}

async fn run(cli: Cli) -> Result<()> {
    // A fresh key needs no configuration: it may be for the file being written.
    if let Command::Keys {
        command: KeysCommand::Generate { pseudonym },
    } = cli.command
    {
        return generate_key(pseudonym);
    }
    let config = Config::load(
        cli.config.as_deref(),
        Flags {
            database: cli.database,
        },
    )?;
    let database = config.database.clone();
    match cli.command {
        Command::Serve {
            listen,
            secure_cookies,
        } => {
            let store = open(&config).await?;
            let listen = listen.unwrap_or(config.listen);
            let mailer = mail::mailer_for_serve(&config, listen)?;
            serve(
                store,
                listen,
                Settings {
                    secure_cookies,
                    system_urls: config.system_urls(),
                    public_url: config.public_url(listen),
                    cookie_origins: config.cookie_origins.clone(),
                    portability: config.portability.clone(),
                    bulk_concurrency: config.bulk_concurrency,
                    ..Settings::default()
                },
                mailer,
            )
            .await
        }
        Command::Demo { listen } => {
            let store = open(&config).await?;
            demo::load(&store, now()).await?;
            // The demo sends no mail: its people are made up.
            serve(
                store,
                listen.unwrap_or(config.listen),
                Settings::default(),
                None,
            )
            .await
        }
        Command::Migrate => {
            connect(&database).await?;
            println!("the database is up to date");
            Ok(())
        }
        Command::Register { command } => register(&database, command).await,
        Command::Statement {
            controller,
            lang,
            format,
            version,
        } => {
            let store = connect(&database).await?;
            let today = now().date();
            let prepared = match version {
                Some(v) => statements::published(&store, &controller, Some(v), today)
                    .await?
                    .with_context(|| {
                        format!("controller '{controller}' has no published version {v}")
                    })?,
                None => statements::preview(&store, &controller, today)
                    .await?
                    .with_context(|| {
                        format!("there is no controller '{controller}' in the register")
                    })?,
            };
            let format = match format {
                StatementFormat::Html => Format::Html,
                StatementFormat::Md => Format::Markdown,
            };
            println!("{}", prepared.render(&controller, lang, format)?);
            Ok(())
        }
        Command::Publish {
            controller,
            effective_date,
        } => {
            let store = connect(&database).await?;
            let state = AppState::new(store, system_clock(), Settings::default());
            let date = effective_date.unwrap_or(state.now().date());
            let v = kluis_web::api::publish_statement(&state, &controller, date, &actor()).await?;
            println!(
                "published version {} of the statement of {controller}, in force from {}",
                v.version, v.effective_date
            );
            Ok(())
        }
        Command::User { command } => user(&database, command).await,
        Command::Token {
            command: TokenCommand::Create { user, name },
        } => {
            let store = connect(&database).await?;
            let account = staff_account(&store, &user).await?;
            let (secret, _) = store.create_api_token(account.id, &name, now()).await?;
            println!("{secret}");
            eprintln!("store this token now: it is not shown again");
            Ok(())
        }
        Command::Config {
            command: ConfigCommand::Show,
        } => {
            print!("{}", config.describe());
            Ok(())
        }
        Command::Keys {
            command: KeysCommand::List,
        } => {
            for id in config.keyring()?.key_ids() {
                println!("{id}");
            }
            Ok(())
        }
        Command::Keys {
            command: KeysCommand::Generate { pseudonym },
        } => generate_key(pseudonym),
        Command::Keys {
            command: KeysCommand::Rotate { reencrypt_only },
        } => {
            let keys = if reencrypt_only {
                config.keyring()?
            } else {
                config.add_current_key()?
            };
            let current = keys.current_key_id().to_string();
            let store = connect(&database)
                .await?
                .with_keys(std::sync::Arc::new(keys));
            let rewritten = store.rotate_keys().await?;
            println!(
                "re-encrypted {rewritten} data subjects under key {current}; older keys may be \
                 removed from the key file once no backup still needs them"
            );
            Ok(())
        }
        Command::Consent { command } => consent::consent(&connect(&database).await?, command).await,
        Command::Subject { command } => {
            inventory::subject(&open(&config).await?, &config.system_urls(), command).await
        }
        Command::Systems { command } => {
            systems::systems(&config, &connect(&database).await?, command).await
        }
        Command::Record { command } => inventory::record(&open(&config).await?, command).await,
        Command::Log { command } => inventory::log(&open(&config).await?, command).await,
        Command::Staff { command } => inventory::staff(&connect(&database).await?, command).await,
        Command::Stats { command } => stats::stats(&open(&config).await?, command).await,
        Command::Request { command } => {
            request::request(
                &open(&config).await?,
                command,
                &config,
                now(),
                &mut std::io::stdout(),
            )
            .await
        }
        Command::Mail { command } => mail::mail(&config, &connect(&database).await?, command).await,
        Command::Breach {
            command: breach::BreachCommand::Affected(args),
        } => breach::affected(&open(&config).await?, &config.system_urls(), args, now()).await,
        Command::Breach { command } => {
            breach::breach(&connect(&database).await?, command, now()).await
        }
        Command::Retention { command } => {
            retention::retention(&open(&config).await?, &config.system_urls(), command).await
        }
    }
}

/// Prints a fresh key line, or a fresh pseudonym key, for the configuration.
fn generate_key(pseudonym: bool) -> Result<()> {
    let secret = if pseudonym {
        kluis_keys::generate_pseudonym_key()?
    } else {
        kluis_keys::generate_key_line()?
    };
    println!("{}", secret.as_str());
    Ok(())
}

async fn register(database: &str, command: RegisterCommand) -> Result<()> {
    match command {
        RegisterCommand::Validate { file } => {
            let (name, text) = read_register_file(&file)?;
            let register = register_file::parse(&name, &text)?;
            println!(
                "{name} is a valid register: {} controllers, {} processors, {} agreements, {} activities",
                register.controllers.len(),
                register.processors.len(),
                register.agreements.len(),
                register.activities.len()
            );
            Ok(())
        }
        RegisterCommand::Import { file, prune } => {
            let (name, text) = read_register_file(&file)?;
            let register = register_file::parse(&name, &text)?;
            let store = connect(database).await?;
            let s = store
                .import_register(&register, prune, &actor(), now())
                .await?;
            println!(
                "{name} loaded: {} created, {} updated, {} unchanged, {} retired",
                s.created, s.updated, s.unchanged, s.retired
            );
            Ok(())
        }
        RegisterCommand::Export {
            format,
            lang,
            output,
        } => {
            let store = connect(database).await?;
            let register = store.register().await?;
            let text = match format {
                ExportFormat::Yaml => register_file::to_yaml(&register)?,
                ExportFormat::Json => serde_json::to_string_pretty(&register)?,
                ExportFormat::Dpv => serde_json::to_string_pretty(&dpv::to_json_ld(&register))?,
                ExportFormat::Csv => art30::to_csv(&register, lang)?,
            };
            match output {
                Some(path) => std::fs::write(&path, text)
                    .with_context(|| format!("cannot write {}", path.display()))?,
                None => print!("{text}"),
            }
            Ok(())
        }
        RegisterCommand::Check { lang } => {
            let store = connect(database).await?;
            let register = store.register().await?;
            let mut incomplete = 0;
            for a in &register.activities {
                let gaps = completeness::check(a, register.controller(&a.controller));
                if gaps.is_empty() {
                    continue;
                }
                incomplete += 1;
                println!("{} ({}):", a.id, a.name.show(lang));
                for g in gaps {
                    println!("  - {}: {}", g.article(), i18n::t(lang, g.label_key()));
                }
            }
            println!(
                "{incomplete} of {} activities lack something art. 30(1) requires",
                register.activities.len()
            );
            Ok(())
        }
    }
}

fn read_register_file(path: &PathBuf) -> Result<(String, String)> {
    let name = path.display().to_string();
    let meta = std::fs::metadata(path).with_context(|| format!("cannot read {name}"))?;
    if meta.len() > register_file::MAX_FILE_BYTES as u64 {
        bail!("{name} is larger than a register can be; split it");
    }
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("cannot read {name} as UTF-8 text"))?;
    Ok((name, text))
}

async fn user(database: &str, command: UserCommand) -> Result<()> {
    let store = connect(database).await?;
    match command {
        UserCommand::Add {
            username,
            roles,
            name,
        } => {
            let mut password = String::new();
            std::io::stdin()
                .read_to_string(&mut password)
                .context("cannot read the password from standard input")?;
            let password = password.trim_end_matches(['\n', '\r']);
            if password.chars().count() < 12 {
                bail!("the password must be at least 12 characters long");
            }
            let display = name.unwrap_or_else(|| username.clone());
            let u = store
                .create_user(&username, &display, password, &roles, now())
                .await?;
            let roles: Vec<_> = u.roles.iter().map(|r| r.name()).collect();
            println!("added {} with roles {}", u.username, roles.join(", "));
        }
        UserCommand::Mail {
            username,
            address,
            lang,
            off: _,
        } => {
            store
                .set_staff_mail(&username, address.as_ref(), lang)
                .await?;
            match address {
                Some(a) => println!("{username} gets kluis's mails at {a} ({})", lang.code()),
                None => println!("{username} gets no mails from kluis"),
            }
        }
        UserCommand::List => {
            for u in store.users().await? {
                let roles: Vec<_> = u.roles.iter().map(|r| r.name()).collect();
                println!(
                    "{}\t{}\t{}{}",
                    u.username,
                    u.display_name,
                    roles.join(","),
                    if u.disabled { "\tdisabled" } else { "" }
                );
            }
        }
    }
    Ok(())
}

async fn serve(
    store: Store,
    listen: SocketAddr,
    settings: Settings,
    mailer: Option<kluis_mail::Mailer>,
) -> Result<()> {
    let listener = tokio::net::TcpListener::bind(listen)
        .await
        .with_context(|| format!("cannot listen on {listen}: is another program using it? choose another with --listen"))?;
    let state = AppState::new(store.clone(), system_clock(), settings);
    // Mail goes out in the background; on shutdown the batch being sent is finished.
    let delivery = mailer.map(|mailer| {
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let clock = state.clock.clone();
        let task = tokio::spawn(kluis_mail::run_delivery(
            store.clone(),
            mailer,
            move || clock(),
            async {
                let _ = stopped.await;
            },
        ));
        (stop, task)
    });
    // The daily retention sweep; with several instances on one database, one sweeps.
    let (stop_sweep, sweep_stopped) = tokio::sync::oneshot::channel::<()>();
    let sweep = {
        let clock = state.clock.clone();
        tokio::spawn(retention::run_daily_sweep(
            store.clone(),
            state.settings.system_urls.clone(),
            move || clock(),
            async {
                let _ = sweep_stopped.await;
            },
        ))
    };
    // The daily reminder of rights requests to their caseworkers; one instance sends it.
    let (stop_reminders, reminders_stopped) = tokio::sync::oneshot::channel::<()>();
    let reminders = {
        let clock = state.clock.clone();
        tokio::spawn(request::run_daily_reminders(
            store.clone(),
            state.settings.public_url.clone(),
            move || clock(),
            async {
                let _ = reminders_stopped.await;
            },
        ))
    };
    tracing::info!("kluis serves on http://{}", listener.local_addr()?);
    kluis_web::serve(listener, state, shutdown()).await?;
    if let Some((stop, task)) = delivery {
        let _ = stop.send(());
        let _ = task.await;
    }
    let _ = stop_sweep.send(());
    let _ = sweep.await;
    let _ = stop_reminders.send(());
    let _ = reminders.await;
    store.close().await;
    Ok(())
}

/// Resolves on Ctrl-C or SIGTERM, so in-flight requests finish before the process exits.
async fn shutdown() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = term => {},
    }
}
