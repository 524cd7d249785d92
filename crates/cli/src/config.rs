//! The configuration of kluis: one TOML file (`kluis.toml`) plus `KLUIS_*` environment
//! variables, plus the command-line flags; later sources win. No file at all is fine: the
//! defaults run the embedded SQLite database with a key file beside it.
//!
//! ```toml
//! database = "postgres://kluis:secret@db.example/kluis"   # or database_file = "/run/secrets/db"
//! listen = "0.0.0.0:8080"
//! public_url = "https://privacy.example.be"   # where citizens reach kluis: links in mail
//!
//! [keys]
//! file = "/var/lib/kluis/kluis.keys"       # created on first use when missing
//! # or inline (each also as keys_file / pseudonym_key_file):
//! # keys = ["2026-11-23-3fa9c1:BASE64..."]  # current first
//! # pseudonym_key = "BASE64..."
//!
//! [systems.hr]
//! url = "postgres://kluis_reader:secret@hr.example/hr"   # or url_file = "/run/secrets/hr"
//!
//! [mail]
//! smtp_url = "smtps://kluis:secret@relay.example.be"   # or smtp_url_file = "/run/secrets/smtp"
//! from = "Stad Poperinge <privacy@poperinge.be>"
//! # reply_to = "dpo@poperinge.be"
//!
//! [cookies]
//! origins = ["https://www.poperinge.be"]   # websites whose cookie banner records choices
//!
//! [rights]
//! # CA certificates (PEM) trusted besides the system's when a portability export is sent
//! # straight to another controller's HTTPS endpoint (art. 20(2))
//! portability_ca_file = "/etc/kluis/partner-ca.pem"
//! # hosts (names or addresses, as the endpoint's URL writes them) a portability export may
//! # be sent to although they resolve to internal addresses (loopback, private, link-local
//! # ...): partners on the government network. Others are refused before anything is sent.
//! portability_allowed_hosts = ["partner.example", "10.1.2.3"]
//! # access packages, portability exports and fulfilment runs made at once; the others
//! # wait their turn, so person lookups keep the remaining cores (default: half the cores)
//! bulk_concurrency = 1
//! ```
//!
//! Environment: `KLUIS_DATABASE_URL`, `KLUIS_LISTEN`, `KLUIS_KEYS_FILE`,
//! `KLUIS_SYSTEM_<NAME>_URL` (NAME upper-cased, `-` written as `_`), `KLUIS_PUBLIC_URL`,
//! `KLUIS_MAIL_SMTP_URL`, `KLUIS_MAIL_FROM`, `KLUIS_MAIL_REPLY_TO`,
//! `KLUIS_COOKIE_ORIGINS` (comma-separated), `KLUIS_RIGHTS_PORTABILITY_CA_FILE`,
//! `KLUIS_RIGHTS_PORTABILITY_ALLOWED_HOSTS` (comma-separated),
//! `KLUIS_RIGHTS_BULK_CONCURRENCY`. Relative paths are relative to the working directory,
//! like a relative SQLite database.

use std::collections::BTreeMap;
use std::fmt::{self, Write as _};
use std::io::Write as _;
use std::net::SocketAddr;
use std::ops::Range;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result, anyhow, bail};
use kluis_keys::{KeyError, Keyring};
use kluis_mail::{MailConfig, MailError};
use kluis_store::mask_password;
use serde::Deserialize;
use toml::Spanned;

/// Read when present and no other file is named.
pub const DEFAULT_FILE: &str = "kluis.toml";
const DEFAULT_DATABASE: &str = "sqlite://kluis.db";
const DEFAULT_LISTEN: &str = "127.0.0.1:8080";
const DEFAULT_KEY_FILE: &str = "kluis.keys";
/// Keeps a mistaken path (a disk image, a log) from being read whole into memory.
const MAX_FILE_BYTES: u64 = 1 << 20;

/// The effective configuration.
pub struct Config {
    /// The file read, if any.
    pub file: Option<PathBuf>,
    pub database: String,
    pub listen: SocketAddr,
    pub keys: Keys,
    /// External systems by name: their connection URLs live only here, never in the register.
    pub systems: BTreeMap<String, System>,
    /// Where citizens reach kluis, without a trailing slash; None: `http://{listen}`.
    public_url: Option<String>,
    /// The SMTP relay and sender; None: mail stays queued in the outbox.
    pub mail: Option<MailConfig>,
    /// `[mail]` as read so far, checked once every source was applied.
    mail_parts: MailParts,
    /// The authority's websites whose cookie banner may record choices (`[cookies] origins`).
    pub cookie_origins: Vec<String>,
    /// How portability exports are sent to other controllers: the CA certificates of
    /// `[rights] portability_ca_file` are trusted besides the system's, and the hosts of
    /// `[rights] portability_allowed_hosts` may be on an internal network.
    pub portability: kluis_web::portability::Transmitter,
    portability_ca_file: Option<PathBuf>,
    /// Heavy rights-request jobs run at once (`[rights] bulk_concurrency`), at least 1.
    pub bulk_concurrency: usize,
    origins: BTreeMap<String, Origin>,
}

/// Where the keys come from.
pub enum Keys {
    /// A key file, created with a fresh keyring when missing.
    File(PathBuf),
    /// Key lines (`ID:BASE64`, current first) and the base64 pseudonym key, from the
    /// configuration itself.
    Inline {
        keys: Vec<String>,
        pseudonym_key: String,
    },
}

/// An external system kluis searches and erases in.
pub struct System {
    pub url: String,
}

/// Command-line flags that override the file and the environment.
#[derive(Default)]
pub struct Flags {
    pub database: Option<String>,
}

/// Where a setting came from, for `kluis config show`.
#[derive(Clone)]
enum Origin {
    Default,
    DefaultBesideDatabase,
    File(String),
    SecretFile(PathBuf),
    Env(String),
    Flag(&'static str),
}

impl fmt::Display for Origin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Origin::Default => f.write_str("default"),
            Origin::DefaultBesideDatabase => f.write_str("default: beside the database"),
            Origin::File(name) => write!(f, "from {name}"),
            Origin::SecretFile(path) => write!(f, "read from {}", path.display()),
            Origin::Env(var) => write!(f, "from {var}"),
            Origin::Flag(flag) => write!(f, "from {flag}"),
        }
    }
}

/// One `[mail]` setting as read, with where it was set: for the origin and for errors.
struct MailPart {
    value: String,
    at: String,
    origin: Origin,
}

#[derive(Default)]
struct MailParts {
    smtp_url: Option<MailPart>,
    from: Option<MailPart>,
    reply_to: Option<MailPart>,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct FileConfig {
    database: Option<String>,
    database_file: Option<PathBuf>,
    listen: Option<Spanned<String>>,
    keys: Option<Spanned<FileKeys>>,
    #[serde(default)]
    systems: BTreeMap<String, Spanned<FileSystem>>,
    public_url: Option<Spanned<String>>,
    mail: Option<Spanned<FileMail>>,
    cookies: Option<FileCookies>,
    rights: Option<FileRights>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct FileRights {
    portability_ca_file: Option<Spanned<PathBuf>>,
    portability_allowed_hosts: Option<Vec<Spanned<String>>>,
    bulk_concurrency: Option<Spanned<i64>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct FileCookies {
    #[serde(default)]
    origins: Vec<Spanned<String>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct FileMail {
    smtp_url: Option<Spanned<String>>,
    smtp_url_file: Option<Spanned<PathBuf>>,
    from: Option<Spanned<String>>,
    reply_to: Option<Spanned<String>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct FileKeys {
    file: Option<PathBuf>,
    keys: Option<Vec<String>>,
    keys_file: Option<PathBuf>,
    pseudonym_key: Option<String>,
    pseudonym_key_file: Option<PathBuf>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct FileSystem {
    url: Option<String>,
    url_file: Option<PathBuf>,
}

/// The configuration file being read: its name and text, for error messages with lines.
struct Source<'a> {
    name: String,
    text: &'a str,
}

impl Source<'_> {
    fn at(&self, span: Range<usize>) -> String {
        let end = span.start.min(self.text.len());
        let line = self.text.as_bytes()[..end]
            .iter()
            .filter(|b| **b == b'\n')
            .count()
            + 1;
        format!("{}:{line}", self.name)
    }
}

impl Config {
    /// Reads `path` (or `./kluis.toml` when it exists), then the environment, then `flags`.
    pub fn load(path: Option<&Path>, flags: Flags) -> Result<Config> {
        let path = path.map(Path::to_path_buf).or_else(|| {
            let default = PathBuf::from(DEFAULT_FILE);
            default.is_file().then_some(default)
        });
        let text = match &path {
            Some(p) => Some(read_limited(p).with_context(|| {
                format!(
                    "cannot read the configuration file {}: check the path given with \
                     --config or KLUIS_CONFIG",
                    p.display()
                )
            })?),
            None => None,
        };
        let env: BTreeMap<String, String> = std::env::vars()
            .filter(|(k, v)| k.starts_with("KLUIS_") && !v.is_empty())
            .collect();
        let file = path.as_deref().zip(text.as_deref());
        Config::from_sources(file, &env, flags)
    }

    /// The configuration from a file's path and text, environment variables and flags.
    pub fn from_sources(
        file: Option<(&Path, &str)>,
        env: &BTreeMap<String, String>,
        flags: Flags,
    ) -> Result<Config> {
        let mut config = Config {
            file: file.map(|(p, _)| p.to_path_buf()),
            database: DEFAULT_DATABASE.into(),
            listen: parse_listen(DEFAULT_LISTEN, "the default")?,
            keys: Keys::File(PathBuf::new()),
            systems: BTreeMap::new(),
            public_url: None,
            mail: None,
            mail_parts: MailParts::default(),
            cookie_origins: Vec::new(),
            portability: Default::default(),
            portability_ca_file: None,
            bulk_concurrency: kluis_web::BulkGate::default_permits(),
            origins: BTreeMap::new(),
        };
        for setting in ["database", "listen", "keys", "public_url", "mail"] {
            config.origins.insert(setting.into(), Origin::Default);
        }
        let mut keys_configured = false;
        if let Some((path, text)) = file {
            let source = Source {
                name: path.display().to_string(),
                text,
            };
            keys_configured = config.apply_file(&source)?;
        }
        keys_configured |= config.apply_env(env)?;
        if let Some(database) = flags.database {
            config.set("database", Origin::Flag("--database"));
            config.database = database;
        }
        if !keys_configured {
            config.keys = Keys::File(default_key_file(&config.database));
            config.set("keys", Origin::DefaultBesideDatabase);
        }
        config.check_mail()?;
        Ok(config)
    }

    fn set(&mut self, setting: &str, origin: Origin) {
        self.origins.insert(setting.into(), origin);
    }

    /// Applies the file; tells whether it configured the keys.
    fn apply_file(&mut self, source: &Source) -> Result<bool> {
        let file: FileConfig = toml::from_str(source.text).map_err(|e| {
            let at = source.at(e.span().unwrap_or(0..0));
            anyhow!("{at}: {}", e.message().trim())
        })?;
        let origin = Origin::File(source.name.clone());
        match (file.database, file.database_file) {
            (Some(_), Some(_)) => bail!(
                "{}: give either database or database_file, not both",
                source.name
            ),
            (Some(url), None) => {
                self.database = url;
                self.set("database", origin.clone());
            }
            (None, Some(path)) => {
                self.database = read_secret(&path, "the database URL")?;
                self.set("database", Origin::SecretFile(path));
            }
            (None, None) => {}
        }
        if let Some(listen) = file.listen {
            let at = source.at(listen.span());
            self.listen = parse_listen(listen.get_ref(), &at)?;
            self.set("listen", origin.clone());
        }
        let keys_configured = match file.keys {
            Some(keys) => {
                let at = source.at(keys.span());
                self.keys = file_keys(keys.into_inner(), &at)?;
                self.set("keys", origin.clone());
                true
            }
            None => false,
        };
        for (name, system) in file.systems {
            let at = source.at(system.span());
            check_system_name(&name, &at)?;
            let system = system.into_inner();
            let (url, url_origin) = match (system.url, system.url_file) {
                (Some(url), None) => (url, origin.clone()),
                (None, Some(path)) => (
                    read_secret(&path, &format!("the URL of system '{name}'"))?,
                    Origin::SecretFile(path),
                ),
                _ => bail!("{at}: system '{name}' needs either url or url_file"),
            };
            self.set(&format!("systems.{name}"), url_origin);
            self.systems.insert(name, System { url });
        }
        if let Some(public_url) = file.public_url {
            let at = format!("{}: public_url", source.at(public_url.span()));
            self.public_url = Some(parse_public_url(public_url.get_ref(), &at)?);
            self.set("public_url", origin.clone());
        }
        if let Some(mail) = file.mail {
            self.apply_file_mail(source, mail)?;
        }
        if let Some(cookies) = file.cookies {
            self.cookie_origins = cookies
                .origins
                .iter()
                .map(|o| {
                    let at = format!("{}: [cookies] origins", source.at(o.span()));
                    parse_cookie_origin(o.get_ref(), &at)
                })
                .collect::<Result<_>>()?;
            self.set("cookies.origins", origin.clone());
        }
        let rights = file.rights.map(|r| {
            (
                r.portability_ca_file,
                r.portability_allowed_hosts,
                r.bulk_concurrency,
            )
        });
        let (ca_file, allowed_hosts, bulk) = rights.unwrap_or_default();
        if let Some(path) = ca_file {
            let at = format!("{}: [rights] portability_ca_file", source.at(path.span()));
            self.set_portability_ca(path.into_inner(), &at)?;
            self.set("rights.portability_ca_file", origin.clone());
        }
        if let Some(hosts) = allowed_hosts {
            let hosts = hosts
                .iter()
                .map(|h| {
                    let at = format!(
                        "{}: [rights] portability_allowed_hosts",
                        source.at(h.span())
                    );
                    parse_allowed_host(h.get_ref(), &at)
                })
                .collect::<Result<_>>()?;
            self.set_allowed_hosts(hosts);
            self.set("rights.portability_allowed_hosts", origin.clone());
        }
        if let Some(n) = bulk {
            let at = format!("{}: [rights] bulk_concurrency", source.at(n.span()));
            self.bulk_concurrency = parse_bulk_concurrency(&n.get_ref().to_string(), &at)?;
            self.set("rights.bulk_concurrency", origin.clone());
        }
        Ok(keys_configured)
    }

    /// Reads `[mail]`; its values are checked once the environment was applied too.
    fn apply_file_mail(&mut self, source: &Source, mail: Spanned<FileMail>) -> Result<()> {
        let table_at = source.at(mail.span());
        let mail = mail.into_inner();
        let part = |value: Spanned<String>, setting: &str| MailPart {
            at: format!("{}: [mail] {setting}", source.at(value.span())),
            value: value.into_inner(),
            origin: Origin::File(source.name.clone()),
        };
        self.mail_parts.smtp_url = match (mail.smtp_url, mail.smtp_url_file) {
            (Some(url), None) => Some(part(url, "smtp_url")),
            (None, Some(path)) => Some(MailPart {
                at: format!("{}: [mail] smtp_url_file", source.at(path.span())),
                value: read_secret(path.get_ref(), "the SMTP URL")?,
                origin: Origin::SecretFile(path.into_inner()),
            }),
            (Some(_), Some(_)) => {
                bail!("{table_at}: [mail] takes either smtp_url or smtp_url_file, not both")
            }
            (None, None) => None,
        };
        self.mail_parts.from = mail.from.map(|from| part(from, "from"));
        self.mail_parts.reply_to = mail.reply_to.map(|r| part(r, "reply_to"));
        Ok(())
    }

    /// Trusts the CA certificates in the PEM file at `path` for portability transmissions;
    /// `at` says where the setting was made.
    fn set_portability_ca(&mut self, path: PathBuf, at: &str) -> Result<()> {
        let text =
            read_limited(&path).with_context(|| format!("{at}: cannot read {}", path.display()))?;
        self.portability = std::mem::take(&mut self.portability)
            .with_ca_pem(text.as_bytes())
            .map_err(|e| anyhow!("{at}: {}: {e}", path.display()))?;
        self.portability_ca_file = Some(path);
        Ok(())
    }

    /// Lets portability exports go to `hosts` although they are on an internal network.
    fn set_allowed_hosts(&mut self, hosts: Vec<url::Host>) {
        self.portability = std::mem::take(&mut self.portability).with_allowed_hosts(hosts);
    }

    /// Applies `KLUIS_*` variables; tells whether they configured the keys.
    fn apply_env(&mut self, env: &BTreeMap<String, String>) -> Result<bool> {
        if let Some(url) = env.get("KLUIS_DATABASE_URL") {
            self.database = url.clone();
            self.set("database", Origin::Env("KLUIS_DATABASE_URL".into()));
        }
        if let Some(listen) = env.get("KLUIS_LISTEN") {
            self.listen = parse_listen(listen, "KLUIS_LISTEN")?;
            self.set("listen", Origin::Env("KLUIS_LISTEN".into()));
        }
        let keys_configured = match env.get("KLUIS_KEYS_FILE") {
            Some(path) => {
                self.keys = Keys::File(PathBuf::from(path));
                self.set("keys", Origin::Env("KLUIS_KEYS_FILE".into()));
                true
            }
            None => false,
        };
        let mut by_env_name: BTreeMap<String, String> = BTreeMap::new();
        for name in self.systems.keys() {
            if let Some(other) = by_env_name.insert(system_env_var(name), name.clone()) {
                bail!(
                    "systems '{other}' and '{name}' would both be set by {}: rename one",
                    system_env_var(name)
                );
            }
        }
        for (var, url) in env {
            let Some(upper) = var
                .strip_prefix("KLUIS_SYSTEM_")
                .and_then(|v| v.strip_suffix("_URL"))
            else {
                continue;
            };
            let name = match by_env_name.get(var) {
                Some(name) => name.clone(),
                None => upper.to_ascii_lowercase().replace('_', "-"),
            };
            check_system_name(&name, var)?;
            self.set(&format!("systems.{name}"), Origin::Env(var.clone()));
            self.systems.insert(name, System { url: url.clone() });
        }
        if let Some(origins) = env.get("KLUIS_COOKIE_ORIGINS") {
            self.cookie_origins = origins
                .split(',')
                .filter(|o| !o.trim().is_empty())
                .map(|o| parse_cookie_origin(o, "KLUIS_COOKIE_ORIGINS"))
                .collect::<Result<_>>()?;
            self.set(
                "cookies.origins",
                Origin::Env("KLUIS_COOKIE_ORIGINS".into()),
            );
        }
        if let Some(path) = env.get("KLUIS_RIGHTS_PORTABILITY_CA_FILE") {
            let var = "KLUIS_RIGHTS_PORTABILITY_CA_FILE";
            self.set_portability_ca(PathBuf::from(path), var)?;
            self.set("rights.portability_ca_file", Origin::Env(var.into()));
        }
        if let Some(hosts) = env.get("KLUIS_RIGHTS_PORTABILITY_ALLOWED_HOSTS") {
            let var = "KLUIS_RIGHTS_PORTABILITY_ALLOWED_HOSTS";
            let hosts = hosts
                .split(',')
                .filter(|h| !h.trim().is_empty())
                .map(|h| parse_allowed_host(h, var))
                .collect::<Result<_>>()?;
            self.set_allowed_hosts(hosts);
            self.set("rights.portability_allowed_hosts", Origin::Env(var.into()));
        }
        if let Some(n) = env.get("KLUIS_RIGHTS_BULK_CONCURRENCY") {
            let var = "KLUIS_RIGHTS_BULK_CONCURRENCY";
            self.bulk_concurrency = parse_bulk_concurrency(n, var)?;
            self.set("rights.bulk_concurrency", Origin::Env(var.into()));
        }
        if let Some(public_url) = env.get("KLUIS_PUBLIC_URL") {
            self.public_url = Some(parse_public_url(public_url, "KLUIS_PUBLIC_URL")?);
            self.set("public_url", Origin::Env("KLUIS_PUBLIC_URL".into()));
        }
        for (var, part) in [
            ("KLUIS_MAIL_SMTP_URL", &mut self.mail_parts.smtp_url),
            ("KLUIS_MAIL_FROM", &mut self.mail_parts.from),
            ("KLUIS_MAIL_REPLY_TO", &mut self.mail_parts.reply_to),
        ] {
            if let Some(value) = env.get(var) {
                *part = Some(MailPart {
                    value: value.clone(),
                    at: var.to_string(),
                    origin: Origin::Env(var.to_string()),
                });
            }
        }
        Ok(keys_configured)
    }

    /// Checks `[mail]` as the file and the environment left it: no mail settings at all is
    /// fine (mail stays queued), half of them is a mistake.
    fn check_mail(&mut self) -> Result<()> {
        let parts = std::mem::take(&mut self.mail_parts);
        let (smtp_url, from) = match (parts.smtp_url, parts.from) {
            (None, None) => {
                if let Some(reply_to) = parts.reply_to {
                    bail!(
                        "{} is set, but [mail] smtp_url and from are not: set them too \
                         (KLUIS_MAIL_SMTP_URL, KLUIS_MAIL_FROM), or remove it",
                        reply_to.at
                    );
                }
                return Ok(());
            }
            (Some(smtp_url), Some(from)) => (smtp_url, from),
            (Some(set), None) => bail!(
                "{} is set, but [mail] from is not: set it (or KLUIS_MAIL_FROM) to the \
                 address mail is sent from",
                set.at
            ),
            (None, Some(set)) => bail!(
                "{} is set, but [mail] smtp_url is not: set it (or KLUIS_MAIL_SMTP_URL) to \
                 the relay that sends the mail",
                set.at
            ),
        };
        let reply_to = parts.reply_to;
        let config = MailConfig::new(
            &smtp_url.value,
            &from.value,
            reply_to.as_ref().map(|r| r.value.as_str()),
        )
        .map_err(|e| match &e {
            MailError::Setting { setting, problem } => {
                let at = match *setting {
                    "from" => &from.at,
                    "reply_to" => reply_to.as_ref().map_or(&from.at, |r| &r.at),
                    _ => &smtp_url.at,
                };
                anyhow!("{at}: {problem}")
            }
            MailError::Store(_) => anyhow!("{e}"),
        })?;
        self.set("mail.smtp_url", smtp_url.origin);
        self.set("mail.from", from.origin);
        if let Some(reply_to) = reply_to {
            self.set("mail.reply_to", reply_to.origin);
        }
        self.mail = Some(config);
        Ok(())
    }

    /// The keyring: from the inline keys, or from the key file, which is created with a
    /// fresh keyring when it does not exist yet.
    pub fn keyring(&self) -> Result<Keyring> {
        match &self.keys {
            Keys::Inline {
                keys,
                pseudonym_key,
            } => Keyring::from_key_lines(keys, pseudonym_key)
                .map_err(|e| anyhow!("the keys in [keys] of {}: {e}", self.origin_of("keys"))),
            Keys::File(path) => load_or_create_key_file(path),
        }
    }

    fn origin_of(&self, setting: &str) -> Origin {
        self.origins
            .get(setting)
            .cloned()
            .unwrap_or(Origin::Default)
    }

    /// The effective configuration, for `kluis config show`: passwords in URLs and key
    /// material are masked, and each setting says where it came from.
    pub fn describe(&self) -> String {
        let mut out = String::new();
        let file = match &self.file {
            Some(p) => p.display().to_string(),
            None => "none (built-in defaults)".into(),
        };
        let _ = writeln!(out, "configuration file: {file}");
        let mut line = |name: &str, value: &str, setting: &str| {
            let _ = writeln!(out, "{name:<20}{value}  ({})", self.origin_of(setting));
        };
        line("database", &mask_password(&self.database), "database");
        line("listen", &self.listen.to_string(), "listen");
        let keys = match &self.keys {
            Keys::File(path) => format!("key file {}", path.display()),
            Keys::Inline { keys, .. } => {
                let current = keys
                    .first()
                    .and_then(|k| kluis_keys::parse_key_line(k).ok())
                    .map(|(id, _)| format!(", current key {id}"))
                    .unwrap_or_default();
                format!("{} inline{current}, pseudonym key set (****)", keys.len())
            }
        };
        line("keys", &keys, "keys");
        for (name, system) in &self.systems {
            line(
                &format!("systems.{name}"),
                &mask_password(&system.url),
                &format!("systems.{name}"),
            );
        }
        line("public_url", &self.public_url(self.listen), "public_url");
        let cookie_origins = if self.cookie_origins.is_empty() {
            "none: only kluis's own pages record cookie choices".to_string()
        } else {
            self.cookie_origins.join(", ")
        };
        line("cookies.origins", &cookie_origins, "cookies.origins");
        let ca = match &self.portability_ca_file {
            Some(path) => format!(
                "{} ({} certificates) and the system's",
                path.display(),
                self.portability.extra_root_count()
            ),
            None => "the system's certificate authorities only".into(),
        };
        line(
            "rights.portability_ca_file",
            &ca,
            "rights.portability_ca_file",
        );
        let allowed = self.portability.allowed_hosts();
        let allowed = if allowed.is_empty() {
            "none: portability exports go to public addresses only".to_string()
        } else {
            let hosts: Vec<String> = allowed.iter().map(ToString::to_string).collect();
            format!("{} (also when internal)", hosts.join(", "))
        };
        line(
            "rights.portability_allowed_hosts",
            &allowed,
            "rights.portability_allowed_hosts",
        );
        line(
            "rights.bulk_concurrency",
            &format!(
                "{} at once (access packages, portability, fulfilment)",
                self.bulk_concurrency
            ),
            "rights.bulk_concurrency",
        );
        match &self.mail {
            Some(mail) => {
                line("mail.smtp_url", &mail.smtp_url_masked(), "mail.smtp_url");
                line("mail.from", &mail.from(), "mail.from");
                if let Some(reply_to) = mail.reply_to() {
                    line("mail.reply_to", &reply_to, "mail.reply_to");
                }
            }
            None => line("mail", "not configured: mail stays queued", "mail"),
        }
        out
    }

    /// Where citizens reach kluis when it listens on `listen`: `public_url`, else
    /// `http://{listen}`.
    pub fn public_url(&self, listen: SocketAddr) -> String {
        self.public_url
            .clone()
            .unwrap_or_else(|| format!("http://{listen}"))
    }

    /// Whether `public_url` was set, rather than derived from the listening address.
    pub fn public_url_is_set(&self) -> bool {
        self.public_url.is_some()
    }
}

/// The `[keys]` table: a key file, or inline keys with their pseudonym key.
fn file_keys(keys: FileKeys, at: &str) -> Result<Keys> {
    let inline = keys.keys.is_some() || keys.keys_file.is_some();
    let pseudonym = keys.pseudonym_key.is_some() || keys.pseudonym_key_file.is_some();
    if let Some(file) = keys.file {
        if inline || pseudonym {
            bail!("{at}: [keys] takes either file or inline keys with a pseudonym_key, not both");
        }
        return Ok(Keys::File(file));
    }
    let lines = match (keys.keys, keys.keys_file) {
        (Some(lines), None) => lines,
        (None, Some(path)) => read_secret(&path, "the keys")?
            .lines()
            .map(str::trim)
            .filter(|l| !l.is_empty() && !l.starts_with('#'))
            .map(String::from)
            .collect(),
        (Some(_), Some(_)) => bail!("{at}: [keys] takes either keys or keys_file, not both"),
        (None, None) => bail!(
            "{at}: [keys] needs file = \"PATH\", or keys = [\"ID:BASE64\"] with a \
             pseudonym_key; `kluis keys generate` prints a key"
        ),
    };
    let pseudonym_key = match (keys.pseudonym_key, keys.pseudonym_key_file) {
        (Some(key), None) => key,
        (None, Some(path)) => read_secret(&path, "the pseudonym key")?,
        (Some(_), Some(_)) => {
            bail!("{at}: [keys] takes either pseudonym_key or pseudonym_key_file, not both")
        }
        (None, None) => bail!(
            "{at}: inline keys need a pseudonym_key (or pseudonym_key_file); \
             `kluis keys generate --pseudonym` prints one"
        ),
    };
    if lines.is_empty() {
        bail!("{at}: [keys] lists no key; `kluis keys generate` prints one");
    }
    Ok(Keys::Inline {
        keys: lines,
        pseudonym_key,
    })
}

/// `public_url`: an http(s) address with a host and no query or fragment; trailing slashes
/// are dropped, so links are made by appending a path.
fn parse_public_url(text: &str, at: &str) -> Result<String> {
    let text = text.trim();
    let bad = |problem: &str| {
        anyhow!(
            "{at}: '{text}' {problem}: write the address citizens reach kluis at, like \
             https://privacy.example.be"
        )
    };
    let url = url::Url::parse(text).map_err(|e| bad(&format!("is not a URL ({e})")))?;
    if !matches!(url.scheme(), "https" | "http") {
        return Err(bad("is not an http:// or https:// address"));
    }
    if url.host_str().is_none_or(str::is_empty) {
        return Err(bad("names no host"));
    }
    if url.query().is_some() || url.fragment().is_some() {
        return Err(bad(
            "has a '?' or '#' part, which links cannot be appended to",
        ));
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err(bad("holds a user name or password"));
    }
    Ok(text.trim_end_matches('/').to_string())
}

/// An entry of `[rights] portability_allowed_hosts`: a host name or address, no URL.
fn parse_allowed_host(text: &str, at: &str) -> Result<url::Host> {
    kluis_web::portability::parse_allowed_host(text).map_err(|e| anyhow!("{at}: {e}"))
}

/// How many heavy rights-request jobs run at once: a whole number from 1.
fn parse_bulk_concurrency(text: &str, at: &str) -> Result<usize> {
    match text.trim().parse::<usize>() {
        Ok(n) if n >= 1 => Ok(n),
        _ => bail!("{at}: give a whole number of at least 1 (jobs at once), not '{text}'"),
    }
}

/// A website origin as browsers send it in `Origin`: scheme, host and port, nothing more.
fn parse_cookie_origin(text: &str, at: &str) -> Result<String> {
    let text = text.trim();
    let bad = |problem: &str| {
        anyhow!(
            "{at}: '{text}' {problem}: write the website's origin, scheme and host only, like \
             https://www.example.be"
        )
    };
    let url = url::Url::parse(text).map_err(|e| bad(&format!("is not a URL ({e})")))?;
    if !matches!(url.scheme(), "https" | "http") {
        return Err(bad("is not an http:// or https:// address"));
    }
    if url.path() != "/" || url.query().is_some() || url.fragment().is_some() {
        return Err(bad(
            "has a path, '?' or '#' part, which an origin never has",
        ));
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err(bad("holds a user name or password"));
    }
    Ok(url.origin().ascii_serialization())
}

fn parse_listen(text: &str, at: &str) -> Result<SocketAddr> {
    text.trim().parse().map_err(|_| {
        anyhow!(
            "{at}: '{text}' is not an address to listen on: write HOST:PORT, like 127.0.0.1:8080"
        )
    })
}

/// System names become parts of environment variable names, so they keep to `a-z0-9-_`.
fn check_system_name(name: &str, at: &str) -> Result<()> {
    let allowed = |c: char| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '_';
    if name.is_empty() || !name.chars().all(allowed) {
        bail!("{at}: '{name}' is not a system name: use a-z, 0-9, '-' and '_'");
    }
    Ok(())
}

/// The environment variable that overrides the URL of system `name`.
pub fn system_env_var(name: &str) -> String {
    format!(
        "KLUIS_SYSTEM_{}_URL",
        name.to_ascii_uppercase().replace('-', "_")
    )
}

/// Where the key file is when none is configured: beside a SQLite database (`kluis.db`
/// gives `kluis.keys`, `other.db` gives `other.keys`), else in the working directory.
pub fn default_key_file(database: &str) -> PathBuf {
    let sqlite_file = database
        .strip_prefix("sqlite://")
        .or_else(|| database.strip_prefix("sqlite:"))
        .map(|rest| rest.split('?').next().unwrap_or(rest))
        .filter(|f| !f.is_empty() && !f.contains(":memory:"));
    match sqlite_file {
        Some(file) => Path::new(file).with_extension("keys"),
        None => PathBuf::from(DEFAULT_KEY_FILE),
    }
}

/// A secret held in a file (`*_file` settings, e.g. a container secret), without the
/// trailing newline editors add.
fn read_secret(path: &Path, what: &str) -> Result<String> {
    let text = read_limited(path)
        .with_context(|| format!("cannot read {what} from {}", path.display()))?;
    let secret = text.trim_end_matches(['\n', '\r']).to_string();
    if secret.trim().is_empty() {
        bail!("{} is empty: it should hold {what}", path.display());
    }
    Ok(secret)
}

fn read_limited(path: &Path) -> Result<String> {
    let meta = std::fs::metadata(path)?;
    if meta.len() > MAX_FILE_BYTES {
        bail!("it is larger than 1 MiB");
    }
    Ok(std::fs::read_to_string(path)?)
}

fn load_or_create_key_file(path: &Path) -> Result<Keyring> {
    match std::fs::read_to_string(path) {
        Ok(text) => {
            warn_if_others_can_read(path);
            read_key_file(path, &text)
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => create_key_file(path),
        Err(e) => Err(anyhow!(
            "cannot read the key file {}: {e}; check its permissions",
            path.display()
        )),
    }
}

impl Config {
    /// The external systems' URLs, for the web layer and `kluis subject find`.
    pub fn system_urls(&self) -> kluis_web::systems::SystemUrls {
        kluis_web::systems::SystemUrls(
            self.systems
                .iter()
                .map(|(name, s)| (name.clone(), s.url.clone()))
                .collect(),
        )
    }

    /// Adds a fresh key to the key file as the current one, keeping the older keys for
    /// what they encrypted; returns the new keyring. The file is replaced whole (written
    /// aside, then renamed), so a crash leaves the old or the new file, never half of one.
    pub fn add_current_key(&self) -> Result<Keyring> {
        let Keys::File(path) = &self.keys else {
            bail!(
                "the keys are set inline in the configuration: put a new line from `kluis keys \
                 generate` first in `keys`, keep the old ones after it, then run `kluis keys \
                 rotate --reencrypt-only`"
            );
        };
        let current = load_or_create_key_file(path)?;
        let rotated = current.with_new_current_key()?;
        let text = rotated.to_key_file_text();
        let aside = path.with_extension(format!("keys.new-{}", std::process::id()));
        write_private(&aside, text.as_bytes())
            .and_then(|()| std::fs::rename(&aside, path))
            .map_err(|e| {
                let _ = std::fs::remove_file(&aside);
                anyhow!("cannot write the key file {}: {e}", path.display())
            })?;
        sync_directory(path);
        Ok(rotated)
    }
}

fn read_key_file(path: &Path, text: &str) -> Result<Keyring> {
    Keyring::from_key_file_text(text).map_err(|e| match e {
        KeyError::KeyFile { line, problem } => anyhow!("{}:{line}: {problem}", path.display()),
        other => anyhow!("{}: {other}", path.display()),
    })
}

/// Writes a fresh keyring to `path`, readable by the owner only. The file appears complete
/// or not at all (written aside, then linked), and an existing one is never overwritten:
/// when another kluis created it first, that one is used.
fn create_key_file(path: &Path) -> Result<Keyring> {
    let keyring = Keyring::generate()?;
    let text = keyring.to_key_file_text();
    let aside = path.with_extension(format!("keys.new-{}", std::process::id()));
    let written = write_private(&aside, text.as_bytes()).and_then(|()| {
        let linked = std::fs::hard_link(&aside, path);
        let _ = std::fs::remove_file(&aside);
        linked
    });
    match written {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
            let text = std::fs::read_to_string(path)
                .with_context(|| format!("cannot read the key file {}", path.display()))?;
            return read_key_file(path, &text);
        }
        Err(e) => {
            let _ = std::fs::remove_file(&aside);
            bail!(
                "cannot create the key file {}: {e}; check that its directory exists and that \
                 kluis may write there, or set [keys] file in the configuration",
                path.display()
            )
        }
    }
    sync_directory(path);
    eprintln!(
        "warning: created a new key file {}: it holds the keys that encrypt personal data. \
         Back it up now, and keep that backup apart from database backups: without it the \
         encrypted data cannot be read, and whoever has both can read it.",
        path.display()
    );
    Ok(keyring)
}

fn write_private(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let mut file = options.open(path)?;
    file.write_all(bytes)?;
    file.sync_all()
}

/// Makes the new directory entry durable: data encrypted with the new keys must not
/// outlive the key file after a power cut.
fn sync_directory(path: &Path) {
    #[cfg(unix)]
    {
        let dir = match path.parent() {
            Some(d) if !d.as_os_str().is_empty() => d,
            _ => Path::new("."),
        };
        if let Ok(d) = std::fs::File::open(dir) {
            let _ = d.sync_all();
        }
    }
    #[cfg(not(unix))]
    let _ = path;
}

fn warn_if_others_can_read(path: &Path) {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        if let Ok(meta) = std::fs::metadata(path)
            && meta.permissions().mode() & 0o077 != 0
        {
            eprintln!(
                "warning: other users may read the key file {}: run chmod 600 on it",
                path.display()
            );
        }
    }
    #[cfg(not(unix))]
    let _ = path;
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(vars: &[(&str, &str)]) -> BTreeMap<String, String> {
        vars.iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    fn from_file(text: &str) -> Result<Config> {
        Config::from_sources(
            Some((Path::new("kluis.toml"), text)),
            &BTreeMap::new(),
            Flags::default(),
        )
    }

    fn temp_dir(name: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("kluis-config-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        dir
    }

    #[test]
    fn no_file_gives_the_embedded_default() {
        let c = Config::from_sources(None, &BTreeMap::new(), Flags::default()).unwrap();
        assert_eq!(c.database, "sqlite://kluis.db");
        assert_eq!(c.listen.to_string(), "127.0.0.1:8080");
        assert!(matches!(&c.keys, Keys::File(p) if p == Path::new("kluis.keys")));
        assert!(c.systems.is_empty());
        let shown = c.describe();
        assert!(shown.contains("none (built-in defaults)"), "{shown}");
        assert!(shown.contains("default: beside the database"), "{shown}");
    }

    #[test]
    fn the_key_file_sits_beside_the_sqlite_database() {
        for (database, keys) in [
            ("sqlite://kluis.db", "kluis.keys"),
            (
                "sqlite:///var/lib/kluis/kluis.db?mode=rwc",
                "/var/lib/kluis/kluis.keys",
            ),
            ("sqlite:data/other.db", "data/other.keys"),
            ("sqlite::memory:", "kluis.keys"),
            ("postgres://kluis@db/kluis", "kluis.keys"),
        ] {
            assert_eq!(default_key_file(database), Path::new(keys), "{database}");
        }
        // The key file follows the database wherever that was set.
        let c = Config::from_sources(
            None,
            &BTreeMap::new(),
            Flags {
                database: Some("sqlite:///srv/k/x.db".into()),
            },
        )
        .unwrap();
        assert!(matches!(&c.keys, Keys::File(p) if p == Path::new("/srv/k/x.keys")));
    }

    #[test]
    fn the_file_then_the_environment_then_flags() {
        let file = "database = \"postgres://kluis:file-secret@db/kluis\"\n\
                    listen = \"0.0.0.0:9000\"\n\
                    [systems.hr-db]\nurl = \"postgres://hr:hr-secret@hr/hr\"\n\
                    [systems.accounting]\nurl = \"mysql://acc:acc-secret@acc/acc\"\n";
        let c = from_file(file).unwrap();
        assert_eq!(c.database, "postgres://kluis:file-secret@db/kluis");
        assert_eq!(c.listen.to_string(), "0.0.0.0:9000");
        assert_eq!(c.systems["hr-db"].url, "postgres://hr:hr-secret@hr/hr");

        let vars = env(&[
            ("KLUIS_LISTEN", "127.0.0.1:7000"),
            ("KLUIS_KEYS_FILE", "/etc/kluis/kluis.keys"),
            ("KLUIS_SYSTEM_HR_DB_URL", "postgres://hr:env-secret@hr2/hr"),
            ("KLUIS_SYSTEM_CRM_URL", "postgres://crm@crm/crm"),
        ]);
        let c = Config::from_sources(
            Some((Path::new("kluis.toml"), file)),
            &vars,
            Flags {
                database: Some("postgres://flag@db/kluis".into()),
            },
        )
        .unwrap();
        assert_eq!(c.database, "postgres://flag@db/kluis");
        assert_eq!(c.listen.to_string(), "127.0.0.1:7000");
        assert!(matches!(&c.keys, Keys::File(p) if p == Path::new("/etc/kluis/kluis.keys")));
        assert_eq!(c.systems["hr-db"].url, "postgres://hr:env-secret@hr2/hr");
        assert_eq!(c.systems["crm"].url, "postgres://crm@crm/crm");
        assert_eq!(c.systems.len(), 3);

        let shown = c.describe();
        for secret in ["file-secret", "hr-secret", "env-secret", "acc-secret"] {
            assert!(!shown.contains(secret), "{shown}");
        }
        assert!(shown.contains("acc:****@acc"), "{shown}");
        assert!(shown.contains("from --database"), "{shown}");
        assert!(shown.contains("from KLUIS_SYSTEM_HR_DB_URL"), "{shown}");
        assert!(shown.contains("from kluis.toml"), "{shown}");
    }

    #[test]
    fn mistakes_in_the_file_name_the_line() {
        for (text, place, problem) in [
            (
                "database = \"x\"\nlisen = \"1\"\n",
                "kluis.toml:2",
                "unknown field `lisen`",
            ),
            (
                "[keys]\nfile = \"k\"\nkey = [\"a\"]\n",
                "kluis.toml:3",
                "unknown field `key`",
            ),
            (
                "[systems.hr]\nurl = \"u\"\npassword = \"p\"\n",
                "kluis.toml:3",
                "password",
            ),
            ("database = \n", "kluis.toml:1", ""),
            ("\n\nlisten = \"localhost\"\n", "kluis.toml:3", "HOST:PORT"),
            ("\n[systems.hr]\n", "kluis.toml:2", "url or url_file"),
            (
                "\n[systems.HR]\nurl = \"u\"\n",
                "kluis.toml:2",
                "not a system name",
            ),
            (
                "[keys]\nkeys = [\"a:b\"]\n",
                "kluis.toml:1",
                "pseudonym_key",
            ),
            (
                "[keys]\nfile = \"k\"\npseudonym_key = \"p\"\n",
                "kluis.toml:1",
                "not both",
            ),
            ("[keys]\n", "kluis.toml:1", "kluis keys generate"),
        ] {
            let err = from_file(text)
                .err()
                .map(|e| format!("{e:#}"))
                .unwrap_or_default();
            assert!(
                err.starts_with(&format!("{place}: ")) && err.contains(problem),
                "{text:?} => {err}"
            );
        }
    }

    #[test]
    fn secrets_can_come_from_files() {
        let dir = temp_dir("secrets");
        let write = |name: &str, text: &str| {
            let p = dir.join(name);
            std::fs::write(&p, text).unwrap();
            p.display().to_string()
        };
        let line = kluis_keys::generate_key_line().unwrap();
        let keys = write("keys", &format!("# current\n{}\n\n", line.as_str()));
        let pseudonym = write(
            "pseudonym",
            &format!(
                "{}\n",
                kluis_keys::generate_pseudonym_key().unwrap().as_str()
            ),
        );
        let db = write("db", "postgres://kluis:s3cret@db/kluis\n");
        let hr = write("hr", "mysql://hr:hr-secret@hr/hr\r\n");
        let text = format!(
            "database_file = \"{db}\"\n[keys]\nkeys_file = \"{keys}\"\npseudonym_key_file = \"{pseudonym}\"\n\
             [systems.hr]\nurl_file = \"{hr}\"\n"
        );
        let c = from_file(&text).unwrap();
        assert_eq!(c.database, "postgres://kluis:s3cret@db/kluis");
        assert_eq!(c.systems["hr"].url, "mysql://hr:hr-secret@hr/hr");
        let ring = c.keyring().unwrap();
        let (id, _) = kluis_keys::parse_key_line(&line).unwrap();
        assert_eq!(ring.current_key_id(), id);
        let shown = c.describe();
        assert!(
            !shown.contains("s3cret") && !shown.contains(&line[line.len() - 20..]),
            "{shown}"
        );
        assert!(shown.contains(&format!("read from {db}")), "{shown}");

        let missing = from_file("database_file = \"/no/such/secret\"\n")
            .err()
            .unwrap();
        assert!(
            format!("{missing:#}").contains("cannot read the database URL from /no/such/secret")
        );
        let empty = write("empty", "\n");
        let err = from_file(&format!("[systems.hr]\nurl_file = \"{empty}\"\n"))
            .err()
            .unwrap();
        assert!(format!("{err:#}").contains("is empty"), "{err:#}");
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn a_missing_key_file_is_created_private_and_then_reused() {
        let dir = temp_dir("keyfile");
        let path = dir.join("kluis.keys");
        let vars = env(&[("KLUIS_KEYS_FILE", path.to_str().unwrap())]);
        let c = Config::from_sources(None, &vars, Flags::default()).unwrap();
        let first = c.keyring().unwrap();
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&path).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        let again = c.keyring().unwrap();
        assert_eq!(again.current_key_id(), first.current_key_id());
        assert_eq!(
            again.pseudonym("bsn", "111222333"),
            first.pseudonym("bsn", "111222333")
        );
        let leftovers: Vec<_> = std::fs::read_dir(&dir).unwrap().flatten().collect();
        assert_eq!(leftovers.len(), 1, "only the key file remains");

        std::fs::write(&path, "keys = [\n\"k1:AQEB\",\n]\npseudonym_key = \"\"\n").unwrap();
        let err = format!("{:#}", c.keyring().unwrap_err());
        assert!(err.starts_with(&format!("{}:2: ", path.display())), "{err}");

        let nowhere = Config::from_sources(
            None,
            &env(&[("KLUIS_KEYS_FILE", "/no/such/dir/kluis.keys")]),
            Flags::default(),
        )
        .unwrap();
        let err = format!("{:#}", nowhere.keyring().unwrap_err());
        assert!(
            err.contains("cannot create the key file /no/such/dir/kluis.keys"),
            "{err}"
        );
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn bad_environment_values_name_the_variable() {
        let err = Config::from_sources(None, &env(&[("KLUIS_LISTEN", "8080")]), Flags::default())
            .err()
            .unwrap();
        assert!(
            format!("{err}").starts_with("KLUIS_LISTEN: '8080'"),
            "{err}"
        );
        let err = Config::from_sources(
            None,
            &env(&[("KLUIS_SYSTEM_H.R_URL", "x")]),
            Flags::default(),
        )
        .err()
        .unwrap();
        assert!(format!("{err}").contains("not a system name"), "{err}");
        assert_eq!(system_env_var("hr-db"), "KLUIS_SYSTEM_HR_DB_URL");
    }

    #[test]
    fn public_url_and_mail_come_from_the_file_and_the_environment() {
        let c = Config::from_sources(None, &BTreeMap::new(), Flags::default()).unwrap();
        assert_eq!(c.public_url(c.listen), "http://127.0.0.1:8080");
        assert!(!c.public_url_is_set());
        assert!(c.mail.is_none());
        assert!(c.describe().contains("not configured: mail stays queued"));

        let file = "public_url = \"https://privacy.poperinge.be/\"\n\
                    [mail]\nsmtp_url = \"smtps://kluis:mail-s3cret@relay.poperinge.be\"\n\
                    from = \"Stad Poperinge <privacy@poperinge.be>\"\n";
        let c = from_file(file).unwrap();
        assert_eq!(c.public_url(c.listen), "https://privacy.poperinge.be");
        let mail = c.mail.as_ref().unwrap();
        assert_eq!(mail.from(), "Stad Poperinge <privacy@poperinge.be>");
        assert_eq!(mail.reply_to(), None);
        let shown = c.describe();
        assert!(!shown.contains("mail-s3cret"), "{shown}");
        assert!(
            shown.contains("smtps://kluis:****@relay.poperinge.be  (from kluis.toml)"),
            "{shown}"
        );

        let vars = env(&[
            ("KLUIS_PUBLIC_URL", "https://kluis.poperinge.be/privacy"),
            ("KLUIS_MAIL_SMTP_URL", "smtp://relay.intern:25"),
            ("KLUIS_MAIL_REPLY_TO", "dpo@poperinge.be"),
        ]);
        let c = Config::from_sources(
            Some((Path::new("kluis.toml"), file)),
            &vars,
            Flags::default(),
        )
        .unwrap();
        assert_eq!(c.public_url(c.listen), "https://kluis.poperinge.be/privacy");
        let mail = c.mail.as_ref().unwrap();
        assert_eq!(mail.smtp_url_masked(), "smtp://relay.intern:25");
        assert_eq!(mail.reply_to().as_deref(), Some("dpo@poperinge.be"));
        let shown = c.describe();
        assert!(shown.contains("from KLUIS_MAIL_SMTP_URL"), "{shown}");
        assert!(shown.contains("from KLUIS_MAIL_REPLY_TO"), "{shown}");
    }

    #[test]
    fn bad_public_url_and_mail_settings_name_the_setting() {
        for (text, vars, place, problem) in [
            (
                "public_url = \"ftp://x.be\"\n",
                vec![],
                "kluis.toml:1: public_url: ",
                "not an http:// or https://",
            ),
            (
                "\npublic_url = \"https://x.be/?lang=nl\"\n",
                vec![],
                "kluis.toml:2: public_url: ",
                "'?' or '#'",
            ),
            (
                "public_url = \"privacy.example.be\"\n",
                vec![],
                "kluis.toml:1: public_url: ",
                "not a URL",
            ),
            (
                "",
                vec![("KLUIS_PUBLIC_URL", "https://u:p@x.be")],
                "KLUIS_PUBLIC_URL: ",
                "user name or password",
            ),
            (
                "[mail]\nsmtp_url = \"http://relay\"\nfrom = \"a@b.be\"\n",
                vec![],
                "kluis.toml:2: [mail] smtp_url: ",
                "not an SMTP URL",
            ),
            (
                "[mail]\nsmtp_url = \"smtp://relay\"\nfrom = \"nobody\"\n",
                vec![],
                "kluis.toml:3: [mail] from: ",
                "not an e-mail address",
            ),
            (
                "[mail]\nsmtp_url = \"smtp://relay\"\nfrom = \"a@b.be\"\nreply_to = \"x\"\n",
                vec![],
                "kluis.toml:4: [mail] reply_to: ",
                "not an e-mail address",
            ),
            (
                "[mail]\nfrom = \"a@b.be\"\n",
                vec![],
                "kluis.toml:2: [mail] from is set",
                "smtp_url is not",
            ),
            (
                "[mail]\nsmtp_url = \"smtp://relay\"\n",
                vec![],
                "kluis.toml:2: [mail] smtp_url is set",
                "from is not",
            ),
            (
                "",
                vec![
                    ("KLUIS_MAIL_SMTP_URL", "smtp://kluis:s3cret@relay"),
                    ("KLUIS_MAIL_FROM", "a@b.be"),
                ],
                "KLUIS_MAIL_SMTP_URL: ",
                "unencrypted",
            ),
            (
                "",
                vec![("KLUIS_MAIL_REPLY_TO", "a@b.be")],
                "KLUIS_MAIL_REPLY_TO is set",
                "smtp_url and from are not",
            ),
            (
                "[mail]\nsmtp_url = \"x\"\nsmtp_url_file = \"y\"\n",
                vec![],
                "kluis.toml:1: ",
                "not both",
            ),
            (
                "[mail]\nsmtp = \"x\"\n",
                vec![],
                "kluis.toml:2: ",
                "unknown field `smtp`",
            ),
        ] {
            let err = Config::from_sources(
                Some((Path::new("kluis.toml"), text)),
                &env(&vars),
                Flags::default(),
            )
            .err()
            .map(|e| format!("{e:#}"))
            .unwrap_or_default();
            assert!(
                err.starts_with(place) && err.contains(problem),
                "{text:?} {vars:?} => {err}"
            );
            assert!(!err.contains("s3cret"), "{err}");
        }
    }

    #[test]
    fn bulk_concurrency_is_a_whole_number_from_one() {
        let c = from_file("").unwrap();
        assert_eq!(c.bulk_concurrency, kluis_web::BulkGate::default_permits());
        let c = from_file("[rights]\nbulk_concurrency = 3\n").unwrap();
        assert_eq!(c.bulk_concurrency, 3);
        assert!(c.describe().contains("3 at once"), "{}", c.describe());
        let err = format!(
            "{:#}",
            from_file("[rights]\nbulk_concurrency = 0\n").err().unwrap()
        );
        assert!(
            err.starts_with("kluis.toml:2: [rights] bulk_concurrency: give a whole number"),
            "{err}"
        );
        let c = Config::from_sources(
            None,
            &env(&[("KLUIS_RIGHTS_BULK_CONCURRENCY", "2")]),
            Flags::default(),
        )
        .unwrap();
        assert_eq!(c.bulk_concurrency, 2);
    }

    #[test]
    fn a_portability_ca_file_must_be_readable_and_hold_certificates() {
        let c = from_file("").unwrap();
        assert_eq!(c.portability.extra_root_count(), 0);
        assert!(
            c.describe()
                .contains("the system's certificate authorities only  (default)"),
            "{}",
            c.describe()
        );
        let err = format!(
            "{:#}",
            from_file(
                "listen = \"127.0.0.1:8080\"\n[rights]\nportability_ca_file = \"/no/such.pem\"\n"
            )
            .err()
            .unwrap()
        );
        assert!(
            err.starts_with("kluis.toml:3: [rights] portability_ca_file: cannot read /no/such.pem"),
            "{err}"
        );
        let dir = temp_dir("portability-ca");
        let empty = dir.join("empty.pem");
        std::fs::write(&empty, "no certificate\n").unwrap();
        let err = Config::from_sources(
            None,
            &env(&[("KLUIS_RIGHTS_PORTABILITY_CA_FILE", empty.to_str().unwrap())]),
            Flags::default(),
        )
        .err()
        .map(|e| format!("{e:#}"))
        .unwrap_or_default();
        assert!(
            err.starts_with("KLUIS_RIGHTS_PORTABILITY_CA_FILE: ")
                && err.contains("no PEM certificate"),
            "{err}"
        );
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[tokio::test]
    async fn portability_allowed_hosts_are_host_names_or_addresses() {
        let hosts = |c: &Config| -> Vec<String> {
            c.portability
                .allowed_hosts()
                .iter()
                .map(ToString::to_string)
                .collect()
        };
        let c = from_file("").unwrap();
        assert!(hosts(&c).is_empty());
        assert!(
            c.describe()
                .contains("none: portability exports go to public addresses only  (default)"),
            "{}",
            c.describe()
        );
        let file = "[rights]\nportability_allowed_hosts = [\"Partner.example\", \"10.1.2.3\", \"[fd00::1]\"]\n";
        let c = from_file(file).unwrap();
        assert_eq!(hosts(&c), ["partner.example", "10.1.2.3", "[fd00::1]"]);
        assert!(
            c.describe().contains(
                "partner.example, 10.1.2.3, [fd00::1] (also when internal)  (from kluis.toml)"
            ),
            "{}",
            c.describe()
        );
        // A CA file set later (here by the environment) keeps the allowed hosts.
        let endpoint = kluis_web::testing::HttpsEndpoint::start().await;
        let dir = temp_dir("allowed-hosts");
        let ca = dir.join("partner-ca.pem");
        std::fs::write(&ca, endpoint.ca_pem()).unwrap();
        let c = Config::from_sources(
            Some((Path::new("kluis.toml"), file)),
            &env(&[("KLUIS_RIGHTS_PORTABILITY_CA_FILE", ca.to_str().unwrap())]),
            Flags::default(),
        )
        .unwrap();
        assert_eq!(hosts(&c).len(), 3);
        assert_eq!(c.portability.extra_root_count(), 1);
        let _ = std::fs::remove_dir_all(&dir);
        // The environment replaces the file's list.
        let c = Config::from_sources(
            Some((Path::new("kluis.toml"), file)),
            &env(&[(
                "KLUIS_RIGHTS_PORTABILITY_ALLOWED_HOSTS",
                "a.example, 10.0.0.7,",
            )]),
            Flags::default(),
        )
        .unwrap();
        assert_eq!(hosts(&c), ["a.example", "10.0.0.7"]);

        // A bad entry is refused where it is, with what to write instead.
        for (entry, problem) in [
            ("\"\"", "an empty entry: give a host name or address"),
            ("\"   \"", "an empty entry"),
            (
                "\"https://partner.example/inbox\"",
                "'https://partner.example/inbox' is a URL, not a host: give the host alone",
            ),
            ("\"partner.example:8443\"", "give it without a port"),
            ("\"*.partner.example\"", "wildcard"),
        ] {
            let text = format!(
                "listen = \"127.0.0.1:8080\"\n[rights]\nportability_allowed_hosts = [\n  \"ok.example\",\n  {entry},\n]\n"
            );
            let err = format!("{:#}", from_file(&text).err().unwrap());
            assert!(
                err.starts_with("kluis.toml:5: [rights] portability_allowed_hosts: ")
                    && err.contains(problem),
                "{entry}: {err}"
            );
        }
        let err = format!(
            "{:#}",
            from_file("[rights]\nportability_allowed_hosts = \"partner.example\"\n")
                .err()
                .unwrap()
        );
        assert!(err.starts_with("kluis.toml:2: "), "{err}");
        let err = Config::from_sources(
            None,
            &env(&[(
                "KLUIS_RIGHTS_PORTABILITY_ALLOWED_HOSTS",
                "ok.example,https://x.example/",
            )]),
            Flags::default(),
        )
        .err()
        .map(|e| format!("{e:#}"))
        .unwrap_or_default();
        assert!(
            err.starts_with(
                "KLUIS_RIGHTS_PORTABILITY_ALLOWED_HOSTS: 'https://x.example/' is a URL"
            ),
            "{err}"
        );
    }

    #[test]
    fn cookie_origins_come_from_the_file_or_the_environment() {
        let file =
            "[cookies]\norigins = [\"https://www.Poperinge.be/\", \"http://localhost:3000\"]\n";
        let c = from_file(file).unwrap();
        assert_eq!(
            c.cookie_origins,
            ["https://www.poperinge.be", "http://localhost:3000"]
        );
        assert!(
            c.describe()
                .contains("https://www.poperinge.be, http://localhost:3000  (from kluis.toml)"),
            "{}",
            c.describe()
        );
        let c = Config::from_sources(
            Some((Path::new("kluis.toml"), file)),
            &env(&[(
                "KLUIS_COOKIE_ORIGINS",
                "https://a.example.be, https://b.example.be",
            )]),
            Flags::default(),
        )
        .unwrap();
        assert_eq!(
            c.cookie_origins,
            ["https://a.example.be", "https://b.example.be"]
        );
        let none = Config::from_sources(None, &BTreeMap::new(), Flags::default()).unwrap();
        assert!(none.cookie_origins.is_empty());
    }

    #[test]
    fn cookie_origins_must_be_origins() {
        for (origin, problem) in [
            ("www.poperinge.be", "is not a URL"),
            ("https://www.poperinge.be/cookies", "has a path"),
            ("ftp://www.poperinge.be", "is not an http"),
        ] {
            let text =
                format!("listen = \"127.0.0.1:8080\"\n[cookies]\norigins = [\"{origin}\"]\n");
            let Err(e) = from_file(&text) else {
                panic!("{origin} was accepted");
            };
            let message = e.to_string();
            assert!(
                message.starts_with("kluis.toml:3: [cookies] origins"),
                "{message}"
            );
            assert!(message.contains(problem), "{message}");
        }
        let Err(e) = Config::from_sources(
            None,
            &env(&[(
                "KLUIS_COOKIE_ORIGINS",
                "https://ok.example.be,https://x.be/path",
            )]),
            Flags::default(),
        ) else {
            panic!("a path was accepted");
        };
        assert!(
            e.to_string()
                .starts_with("KLUIS_COOKIE_ORIGINS: 'https://x.be/path'"),
            "{e}"
        );
    }
}
