//! The portability export sent straight to another controller (GDPR art. 20(2)), where the
//! person asks for it: the same export as the download (only what the person provided
//! under consent or contract, where portability was granted), POSTed as JSON or CSV to the
//! receiving controller's HTTPS endpoint; for the API and the command line alike.
//!
//! HTTP/1.1 over rustls (ring, the system's trust store plus the CA certificates configured
//! for it), with a timeout, without following redirects, with the processing's W3C
//! `traceparent`. Each try goes on the request's timeline with the endpoint's host, the
//! recipient, the format, the size and SHA-256 of what was sent and the answer; a delivered
//! export is also logged as a disclosure to the recipient (legal ground "GDPR art. 20(2)"),
//! in the same transaction. Bad input and a request that may not release data send nothing
//! and record nothing.
//!
//! Personal data goes to public internet addresses only (no server-side request forgery
//! towards the authority's own network): the endpoint's host is resolved once, refused when
//! any of its addresses is loopback, private, link-local and the like (see [`non_public`]),
//! and the connection goes to exactly the addresses checked, so a second DNS answer cannot
//! point it elsewhere (DNS rebinding). Hosts on `[rights] portability_allowed_hosts` (a
//! partner on the government network) may be internal. A refused endpoint gets nothing; the
//! refusal goes on the timeline as a failed transmission.
//!
//! The work comes in two steps, [`prepare`] (the export: heavy, for the bulk gate) and
//! [`send`] (waiting for the endpoint: needs no turn at the gate).

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use axum::body::Bytes;
use axum::http::{Request, StatusCode, header};
use http_body_util::Full;
use hyper_util::rt::TokioIo;
use kluis_domain::access_package::{self, NotReleasable, PackageKind};
use kluis_domain::processing_log::{LogAction, NewLogEntry};
use kluis_store::{
    Processing, RightsRequest, Store, StoreError, Transmission, TransmissionOutcome,
};
use rustls::pki_types::{CertificateDer, ServerName, pem::PemObject};
use sha2::{Digest, Sha256};
use tokio::time::Instant;
use url::{Host, Position, Url};

use crate::access_package::{Format, assemble, render};
use crate::systems::SystemUrls;

/// The legal ground logged with every delivered transmission.
pub const LEGAL_GROUND: &str = "GDPR art. 20(2)";

/// How long a transmission may take, from resolving the endpoint's host to its answer.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(30);

/// Longest endpoint URL and recipient name taken.
const MAX_ENDPOINT: usize = 2_000;
const MAX_RECIPIENT: usize = 200;

/// What to do about a refused endpoint, said with every refusal.
const ALLOW_HINT: &str = "nothing was sent; add the host to [rights] \
    portability_allowed_hosts if it is a trusted partner on an internal network";

/// How kluis sends: whom it trusts besides the system's certificate authorities, which
/// hosts may be internal, and how long it waits.
#[derive(Debug, Clone)]
pub struct Transmitter {
    /// CA certificates trusted besides the system's (`[rights] portability_ca_file`): an
    /// authorities' own PKI, or a test's.
    extra_roots: Vec<CertificateDer<'static>>,
    /// Hosts that may resolve to non-public addresses (`[rights]
    /// portability_allowed_hosts`), as the endpoint's URL writes them.
    allowed_hosts: Vec<Host>,
    pub timeout: Duration,
    /// The TLS set-up, made on the first send and reused by every later one: loading the
    /// system's trust store costs milliseconds each time.
    tls: OnceLock<Arc<rustls::ClientConfig>>,
}

impl Default for Transmitter {
    fn default() -> Self {
        Transmitter {
            extra_roots: Vec::new(),
            allowed_hosts: Vec::new(),
            timeout: DEFAULT_TIMEOUT,
            tls: OnceLock::new(),
        }
    }
}

/// Why nothing reached the endpoint.
#[derive(Debug)]
enum NotSent {
    /// The endpoint is on an internal network and not allowed: never contacted.
    Refused(String),
    /// It could not be resolved, reached or spoken to, or did not answer in time.
    Failed(String),
}

impl Transmitter {
    /// Trusts the CA certificates in `pem` too, instead of any given before; fails when it
    /// holds none or a bad one, so a bad `portability_ca_file` stops kluis at start.
    pub fn with_ca_pem(mut self, pem: &[u8]) -> Result<Transmitter, String> {
        let certs = CertificateDer::pem_slice_iter(pem)
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| format!("not a PEM certificate file: {e}"))?;
        if certs.is_empty() {
            return Err("no PEM certificate (-----BEGIN CERTIFICATE-----) in it".into());
        }
        let mut roots = rustls::RootCertStore::empty();
        for cert in &certs {
            roots
                .add(cert.clone())
                .map_err(|e| format!("not a usable CA certificate: {e}"))?;
        }
        self.extra_roots = certs;
        self.tls = OnceLock::new();
        Ok(self)
    }

    /// How many CA certificates are trusted besides the system's.
    pub fn extra_root_count(&self) -> usize {
        self.extra_roots.len()
    }

    /// Lets the endpoint's host be one of `hosts` even where it resolves to a non-public
    /// address; see [`parse_allowed_host`].
    pub fn with_allowed_hosts(mut self, hosts: Vec<Host>) -> Transmitter {
        self.allowed_hosts = hosts;
        self
    }

    pub fn allowed_hosts(&self) -> &[Host] {
        &self.allowed_hosts
    }

    /// The TLS set-up, made once. A failure is not kept: it is retried on the next send.
    fn client_config(&self) -> Result<Arc<rustls::ClientConfig>, String> {
        if let Some(config) = self.tls.get() {
            return Ok(config.clone());
        }
        let config = Arc::new(self.build_client_config()?);
        // Two first sends at once may both build it; either result is the same.
        Ok(self.tls.get_or_init(|| config).clone())
    }

    fn build_client_config(&self) -> Result<rustls::ClientConfig, String> {
        let mut roots = rustls::RootCertStore::empty();
        roots.add_parsable_certificates(rustls_native_certs::load_native_certs().certs);
        roots.add_parsable_certificates(self.extra_roots.iter().cloned());
        if roots.is_empty() {
            return Err(
                "kluis trusts no certificate authority: install the system's CA \
                        certificates or set [rights] portability_ca_file"
                    .into(),
            );
        }
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let mut config = rustls::ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .map_err(|e| format!("TLS set-up: {e}"))?
            .with_root_certificates(roots)
            .with_no_client_auth();
        config.alpn_protocols = vec![b"http/1.1".to_vec()];
        Ok(config)
    }

    /// Where `url` may be reached: its host's addresses, resolved once and each checked.
    /// The connection goes to exactly these.
    async fn addresses(&self, url: &Url) -> Result<Vec<SocketAddr>, NotSent> {
        let port = url.port_or_known_default().unwrap_or(443);
        let Some(host) = url.host() else {
            return Err(NotSent::Failed("the endpoint names no host".into()));
        };
        let (name, literal) = match host {
            Host::Domain(domain) => (domain.to_string(), false),
            Host::Ipv4(ip) => (ip.to_string(), true),
            Host::Ipv6(ip) => (format!("[{ip}]"), true),
        };
        let addresses: Vec<SocketAddr> = match host {
            Host::Ipv4(ip) => vec![SocketAddr::from((ip, port))],
            Host::Ipv6(ip) => vec![SocketAddr::from((ip, port))],
            Host::Domain(domain) => tokio::net::lookup_host((domain, port))
                .await
                .map_err(|e| NotSent::Failed(format!("cannot resolve {domain}: {e}")))?
                .collect(),
        };
        if addresses.is_empty() {
            return Err(NotSent::Failed(format!("{name} has no address")));
        }
        if self.allowed_hosts.contains(&host.to_owned()) {
            return Ok(addresses);
        }
        match refusal(&name, literal, &addresses) {
            Some(why) => Err(NotSent::Refused(why)),
            None => Ok(addresses),
        }
    }

    /// POSTs `body` to `url` and gives the endpoint's status. A host on an internal network
    /// is refused before anything is sent; a resolution, connection, TLS or HTTP error, or
    /// no answer within the timeout, is the reason it failed. Redirects are answers like
    /// any other: never followed.
    async fn post(
        &self,
        url: &Url,
        content_type: &'static str,
        body: Vec<u8>,
        traceparent: &str,
    ) -> Result<StatusCode, NotSent> {
        let late = || {
            NotSent::Failed(format!(
                "no answer within {} seconds",
                self.timeout.as_secs_f32()
            ))
        };
        // One deadline for resolving, connecting and the answer.
        let deadline = Instant::now() + self.timeout;
        let addresses = tokio::time::timeout_at(deadline, self.addresses(url))
            .await
            .map_err(|_| late())??;
        let config = self.client_config().map_err(NotSent::Failed)?;
        tokio::time::timeout_at(
            deadline,
            exchange(config, url, &addresses, content_type, body, traceparent),
        )
        .await
        .map_err(|_| late())?
        .map_err(NotSent::Failed)
    }
}

/// Why sending to `host` (a name, or an address when `literal`) is refused, given the
/// addresses it resolved to: the first that is not public, or None when all are.
fn refusal(host: &str, literal: bool, addresses: &[SocketAddr]) -> Option<String> {
    addresses.iter().find_map(|address| {
        let ip = address.ip();
        let kind = non_public(ip)?;
        Some(if literal {
            format!("{host} is {} {kind} address: {ALLOW_HINT}", article(kind))
        } else {
            format!(
                "{host} resolves to {ip}, {} {kind} address: {ALLOW_HINT}",
                article(kind)
            )
        })
    })
}

fn article(word: &str) -> &'static str {
    if word.starts_with(['a', 'e', 'i', 'o', 'u']) {
        "an"
    } else {
        "a"
    }
}

/// What kind of non-public address `ip` is ("loopback", "private", ...), or None for a
/// public internet address: the only kind personal data may be sent to unasked.
///
/// std's stable `Ipv4Addr`/`Ipv6Addr` methods are used where they exist; the rest is written
/// out here because `is_global`, `is_shared`, `is_benchmarking`, `is_reserved` and IPv6
/// `is_documentation` are still unstable (rust-lang/rust#27709), and no address crate is a
/// dependency.
pub fn non_public(ip: IpAddr) -> Option<&'static str> {
    match ip {
        IpAddr::V4(ip) => non_public_v4(ip),
        IpAddr::V6(ip) => non_public_v6(ip),
    }
}

fn non_public_v4(ip: Ipv4Addr) -> Option<&'static str> {
    let [a, b, c, _] = ip.octets();
    let kind = if ip.is_unspecified() || a == 0 {
        // 0.0.0.0/8, "this network": Linux connects 0.0.0.0 to the host itself.
        "unspecified"
    } else if ip.is_loopback() {
        "loopback"
    } else if ip.is_private() {
        "private"
    } else if ip.is_link_local() {
        // 169.254.0.0/16, with the cloud metadata service at 169.254.169.254.
        "link-local"
    } else if a == 100 && (b & 0xc0) == 64 {
        // 100.64.0.0/10 (RFC 6598), `is_shared` in unstable std.
        "shared (carrier-grade NAT)"
    } else if ip.is_broadcast() {
        "broadcast"
    } else if ip.is_multicast() {
        "multicast"
    } else if ip.is_documentation() {
        "documentation"
    } else if a == 198 && (b & 0xfe) == 18 {
        // 198.18.0.0/15 (RFC 2544), `is_benchmarking` in unstable std.
        "benchmarking"
    } else if a == 192 && b == 0 && c == 0 {
        // 192.0.0.0/24, IETF protocol assignments (RFC 6890).
        "reserved"
    } else if a >= 240 {
        // 240.0.0.0/4 (RFC 1112), `is_reserved` in unstable std.
        "reserved"
    } else {
        return None;
    };
    Some(kind)
}

fn non_public_v6(ip: Ipv6Addr) -> Option<&'static str> {
    let s = ip.segments();
    // ::ffff:a.b.c.d reaches the IPv4 address itself.
    if let Some(v4) = ip.to_ipv4_mapped() {
        return non_public_v4(v4);
    }
    // 64:ff9b::/96 (RFC 6052): a NAT64 gateway reaches the IPv4 address in the last 32
    // bits; public ones are how an IPv6-only network reaches the IPv4 internet.
    if s[..6] == [0x64, 0xff9b, 0, 0, 0, 0] {
        return non_public_v4(embedded_v4(s[6], s[7]));
    }
    let kind = if ip.is_unspecified() {
        "unspecified"
    } else if ip.is_loopback() {
        "loopback"
    } else if ip.is_unique_local() {
        // fc00::/7, IPv6's private addresses.
        "private (unique local)"
    } else if ip.is_unicast_link_local() {
        "link-local"
    } else if ip.is_multicast() {
        "multicast"
    } else if s[0] & 0xe000 != 0x2000 {
        // Outside 2000::/3, the only global unicast block: IPv4-compatible ::/96,
        // site-local fec0::/10, discard-only 100::/64, local-use NAT64 64:ff9b:1::/48...
        "reserved"
    } else if s[0] == 0x2001 && s[1] < 0x200 {
        // 2001::/23, IETF protocol assignments: Teredo, benchmarking 2001:2::/48, ...
        "reserved"
    } else if (s[0] == 0x2001 && s[1] == 0xdb8) || (s[0] == 0x3fff && s[1] < 0x1000) {
        // 2001:db8::/32 and 3fff::/20 (RFC 3849, RFC 9637), unstable `is_documentation`.
        "documentation"
    } else if s[0] == 0x2002 {
        // 2002::/16, 6to4 (RFC 3056): the IPv4 address in bits 16 to 48.
        return non_public_v4(embedded_v4(s[1], s[2]));
    } else {
        return None;
    };
    Some(kind)
}

fn embedded_v4(high: u16, low: u16) -> Ipv4Addr {
    Ipv4Addr::from((u32::from(high) << 16) | u32::from(low))
}

/// An entry of `[rights] portability_allowed_hosts`: a host name (`partner.example`) or
/// an address (`10.1.2.3`, `fd00::1` or `[fd00::1]`), compared with the endpoint's host as
/// its URL writes it (names lower-cased); no URL, port or wildcard.
pub fn parse_allowed_host(text: &str) -> Result<Host, String> {
    const LIKE: &str = "like partner.example or 10.1.2.3";
    let text = text.trim();
    if text.is_empty() {
        return Err(format!(
            "an empty entry: give a host name or address, {LIKE}"
        ));
    }
    if text.contains("://") || text.contains('/') {
        return Err(format!(
            "'{text}' is a URL, not a host: give the host alone, {LIKE}"
        ));
    }
    if text.contains('*') {
        return Err(format!(
            "'{text}' has a wildcard: list each host by its full name"
        ));
    }
    // An IPv6 address with or without the brackets a URL puts around it.
    let unbracketed = text.strip_prefix('[').and_then(|t| t.strip_suffix(']'));
    if let Ok(ip) = unbracketed.unwrap_or(text).parse::<IpAddr>() {
        return Ok(match ip {
            IpAddr::V4(ip) => Host::Ipv4(ip),
            IpAddr::V6(ip) => Host::Ipv6(ip),
        });
    }
    // Parsed as a URL's host is, so the two compare equal (case, IDNA, IPv4 forms).
    Host::parse(text).map_err(|e| {
        format!("'{text}' is not a host name or address ({e}): give it without a port, {LIKE}")
    })
}

async fn exchange(
    config: Arc<rustls::ClientConfig>,
    url: &Url,
    addresses: &[SocketAddr],
    content_type: &'static str,
    body: Vec<u8>,
    traceparent: &str,
) -> Result<StatusCode, String> {
    let name = match url.host() {
        Some(Host::Domain(domain)) => {
            ServerName::try_from(domain.to_string()).map_err(|e| format!("{domain}: {e}"))?
        }
        Some(Host::Ipv4(ip)) => ServerName::IpAddress(IpAddr::V4(ip).into()),
        Some(Host::Ipv6(ip)) => ServerName::IpAddress(IpAddr::V6(ip).into()),
        None => return Err("the endpoint names no host".into()),
    };
    let host = host_of(url);
    // The checked addresses, in the resolver's order; never the name again.
    let tcp = tokio::net::TcpStream::connect(addresses)
        .await
        .map_err(|e| format!("cannot connect to {host}: {e}"))?;
    let tls = tokio_rustls::TlsConnector::from(config)
        .connect(name, tcp)
        .await
        .map_err(|e| format!("no TLS connection with {host}: {e}"))?;
    let (mut sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(tls))
        .await
        .map_err(|e| format!("HTTP with {host} failed: {e}"))?;
    let connection = tokio::spawn(connection);
    let request = Request::post(&url[Position::BeforePath..Position::AfterQuery])
        .header(header::HOST, host.as_str())
        .header(header::CONTENT_TYPE, content_type)
        .header(
            header::USER_AGENT,
            concat!("kluis/", env!("CARGO_PKG_VERSION")),
        )
        .header("traceparent", traceparent)
        .body(Full::new(Bytes::from(body)))
        .map_err(|e| format!("the request could not be made: {e}"))?;
    let answer = sender.send_request(request).await;
    connection.abort();
    answer
        .map(|response| response.status())
        .map_err(|e| format!("HTTP with {host} failed: {e}"))
}

/// The host and, when it is not 443, the port: what the timeline keeps of an endpoint.
fn host_of(url: &Url) -> String {
    let host = url.host_str().unwrap_or_default();
    match url.port() {
        Some(port) => format!("{host}:{port}"),
        None => host.to_string(),
    }
}

/// Where an export goes: an `https` endpoint without credentials in it, and the name of
/// the controller that receives it.
#[derive(Debug, Clone)]
pub struct Destination {
    url: Url,
    recipient: String,
}

impl Destination {
    /// Checks what staff gave; the error says what is wrong without repeating a password.
    pub fn parse(endpoint: &str, recipient: &str) -> Result<Destination, String> {
        let endpoint = endpoint.trim();
        if endpoint.is_empty() {
            return Err("give the receiving controller's endpoint, an https:// URL".into());
        }
        if endpoint.len() > MAX_ENDPOINT {
            return Err(format!(
                "the endpoint is longer than {MAX_ENDPOINT} characters"
            ));
        }
        let url = Url::parse(endpoint)
            .map_err(|e| format!("the endpoint is not a URL ({e}): give an https:// URL"))?;
        if !url.username().is_empty() || url.password().is_some() {
            return Err(
                "the endpoint carries a user name or password: kluis does not put \
                        credentials in a URL, give the endpoint without them"
                    .into(),
            );
        }
        if url.scheme() != "https" {
            return Err(format!(
                "the endpoint must be an https:// URL, not {}: the data is only sent encrypted",
                url.scheme()
            ));
        }
        if url.host().is_none() {
            return Err("the endpoint names no host".into());
        }
        let recipient = recipient.trim();
        if recipient.is_empty() {
            return Err(
                "name the receiving controller (recipient): the processing log records \
                        who received the data"
                    .into(),
            );
        }
        if recipient.chars().count() > MAX_RECIPIENT || recipient.chars().any(char::is_control) {
            return Err(format!(
                "the recipient is a controller's name on one line, at most {MAX_RECIPIENT} \
                 characters"
            ));
        }
        let mut url = url;
        url.set_fragment(None);
        Ok(Destination {
            url,
            recipient: recipient.to_string(),
        })
    }

    pub fn host(&self) -> String {
        host_of(&self.url)
    }

    pub fn recipient(&self) -> &str {
        &self.recipient
    }
}

/// What was delivered.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Sent {
    pub endpoint_host: String,
    pub recipient: String,
    pub format: &'static str,
    pub bytes: u64,
    pub sha256: String,
    /// The endpoint's answer.
    pub status: u16,
}

/// Why nothing was delivered.
#[derive(Debug, thiserror::Error)]
pub enum TransmitError {
    /// The format is not one a portability export comes in.
    #[error("{0}")]
    Invalid(String),
    #[error("{0}")]
    NotReleasable(#[from] NotReleasable),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("the export could not be written: {0}")]
    Render(String),
    /// The endpoint is on an internal network and not allowed: nothing was sent. On the
    /// timeline as a failed transmission.
    #[error("{reason}")]
    Refused { host: String, reason: String },
    /// Sent, and not taken (or never arrived): on the timeline as a failed transmission.
    #[error("{host} did not take the export: {reason}")]
    Failed { host: String, reason: String },
}

/// A portability export made for one destination, ready to [`send`].
pub struct Prepared {
    format_name: &'static str,
    content_type: &'static str,
    body: Vec<u8>,
    /// The disclosures to log once it is delivered.
    disclosures: Vec<NewLogEntry>,
}

/// The whole transmission for a server: the export made with a turn at the bulk gate (it
/// is heavy: lookups keep their cores), then sent without one (waiting for the other
/// controller takes no CPU). The command line, alone in its process, calls [`prepare`] and
/// [`send`] itself.
pub async fn transmit(
    state: &crate::state::AppState,
    processing: &Processing,
    request: &RightsRequest,
    destination: &Destination,
    format: Format,
) -> Result<Sent, TransmitError> {
    let export = {
        let _turn = state.bulk.admit().await;
        prepare(
            &state.store,
            &state.settings.system_urls,
            processing,
            request,
            destination,
            format,
        )
        .await?
    };
    send(
        &state.store,
        &state.settings.portability,
        processing,
        request.id,
        destination,
        export,
    )
    .await
}

/// Makes the portability export of `request` in `format` for `destination`, searching the
/// connected systems at `urls` for the rows the person provided: the heavy part, to run
/// with a turn at the bulk gate. Nothing is recorded when the request may not release
/// data.
pub async fn prepare(
    store: &Store,
    urls: &SystemUrls,
    processing: &Processing,
    request: &RightsRequest,
    destination: &Destination,
    format: Format,
) -> Result<Prepared, TransmitError> {
    let (format_name, content_type) = match format {
        Format::Json => ("json", "application/json"),
        Format::Csv => ("csv", "text/csv; charset=utf-8"),
        _ => {
            return Err(TransmitError::Invalid(
                "a portability export is sent as json or csv".into(),
            ));
        }
    };
    let kind = PackageKind::Portability;
    access_package::check_release(kind, request.stage, &request.rights, &request.decisions)?;
    let assembled = assemble(store, urls, processing, request, kind)
        .await
        .map_err(|e| match e {
            crate::access_package::PackageError::NotReleasable(e) => e.into(),
            crate::access_package::PackageError::Store(e) => e.into(),
            crate::access_package::PackageError::Render(e) => TransmitError::Render(e),
        })?;
    let body =
        render(&assembled.package, format).map_err(|e| TransmitError::Render(e.to_string()))?;
    let disclosures = assembled
        .log_entries
        .into_iter()
        .map(|mut entry| {
            entry.action = LogAction::Disclose;
            entry.recipient = Some(destination.recipient.clone());
            entry.legal_ground = Some(LEGAL_GROUND.into());
            entry
        })
        .collect();
    Ok(Prepared {
        format_name,
        content_type,
        body,
        disclosures,
    })
}

/// Sends `export` (made by [`prepare`] for `request_id` and `destination`) and records
/// the outcome on the request's timeline; a delivered export is also logged as disclosed.
/// It waits for the endpoint, not for the CPU: it needs no turn at the bulk gate.
pub async fn send(
    store: &Store,
    transmitter: &Transmitter,
    processing: &Processing,
    request_id: uuid::Uuid,
    destination: &Destination,
    export: Prepared,
) -> Result<Sent, TransmitError> {
    let Prepared {
        format_name,
        content_type,
        body,
        disclosures,
    } = export;
    let bytes = body.len() as u64;
    let sha256 = hex::encode(Sha256::digest(&body));
    let answer = transmitter
        .post(
            &destination.url,
            content_type,
            body,
            &processing.trace.traceparent(),
        )
        .await;
    // A refusal is recorded as any failed try, and told apart to the caller.
    let refused = matches!(answer, Err(NotSent::Refused(_)));
    let outcome = match answer {
        Ok(status) if status.is_success() => TransmissionOutcome::Delivered {
            status: status.as_u16(),
        },
        Ok(status) => TransmissionOutcome::Failed {
            reason: format!(
                "HTTP {} {}{}",
                status.as_u16(),
                status.canonical_reason().unwrap_or_default(),
                if status.is_redirection() {
                    " (redirects are not followed)"
                } else {
                    ""
                }
            ),
        },
        Err(NotSent::Refused(reason) | NotSent::Failed(reason)) => {
            TransmissionOutcome::Failed { reason }
        }
    };
    let transmission = Transmission {
        host: destination.host(),
        recipient: destination.recipient.clone(),
        format: format_name.into(),
        bytes,
        sha256,
        outcome,
    };
    store
        .record_transmission(processing, request_id, &transmission, disclosures)
        .await?;
    match transmission.outcome {
        TransmissionOutcome::Delivered { status } => Ok(Sent {
            endpoint_host: transmission.host,
            recipient: transmission.recipient,
            format: format_name,
            bytes,
            sha256: transmission.sha256,
            status,
        }),
        TransmissionOutcome::Failed { reason } if refused => Err(TransmitError::Refused {
            host: transmission.host,
            reason,
        }),
        TransmissionOutcome::Failed { reason } => Err(TransmitError::Failed {
            host: transmission.host,
            reason,
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn destinations_are_https_without_credentials_and_name_the_recipient() {
        let ok = Destination::parse(
            " https://ontvanger.example.be:8443/inbox?x=1#f ",
            " Stad Gent ",
        )
        .unwrap();
        assert_eq!(ok.host(), "ontvanger.example.be:8443");
        assert_eq!(ok.recipient(), "Stad Gent");
        assert_eq!(
            ok.url.as_str(),
            "https://ontvanger.example.be:8443/inbox?x=1"
        );
        assert_eq!(
            Destination::parse("https://example.be/in", "X")
                .unwrap()
                .host(),
            "example.be"
        );
        for (endpoint, recipient, says) in [
            ("http://example.be/in", "X", "https://"),
            ("ftp://example.be/in", "X", "https://"),
            ("example.be/in", "X", "not a URL"),
            ("", "X", "endpoint"),
            ("https://user:geheim@example.be/in", "X", "password"),
            ("https://user@example.be/in", "X", "user name"),
            ("https://example.be/in", "  ", "recipient"),
            ("https://example.be/in", "two\nlines", "one line"),
        ] {
            let err = Destination::parse(endpoint, recipient).unwrap_err();
            assert!(err.contains(says), "{endpoint}: {err}");
            assert!(!err.contains("geheim"), "{err}");
        }
    }

    #[test]
    fn a_ca_file_must_hold_certificates() {
        assert!(Transmitter::default().with_ca_pem(b"").is_err());
        assert!(
            Transmitter::default()
                .with_ca_pem(b"-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n")
                .is_err()
        );
    }

    #[tokio::test]
    async fn the_tls_set_up_is_made_once_and_reused() {
        let endpoint = crate::testing::HttpsEndpoint::start().await;
        let transmitter = endpoint.transmitter();
        let first = transmitter.client_config().unwrap();
        let again = transmitter.client_config().unwrap();
        assert!(Arc::ptr_eq(&first, &again), "built once");
        let other = transmitter
            .with_ca_pem(endpoint.ca_pem().as_bytes())
            .unwrap();
        assert!(
            !Arc::ptr_eq(&first, &other.client_config().unwrap()),
            "new roots, a new set-up"
        );
    }

    #[test]
    fn only_public_addresses_are_public() {
        for (address, kind) in [
            ("0.0.0.0", "unspecified"),
            ("0.1.2.3", "unspecified"),
            ("127.0.0.1", "loopback"),
            ("127.255.0.9", "loopback"),
            ("10.0.0.5", "private"),
            ("172.16.0.1", "private"),
            ("172.31.255.255", "private"),
            ("192.168.1.1", "private"),
            ("169.254.169.254", "link-local"),
            ("100.64.0.1", "shared (carrier-grade NAT)"),
            ("100.127.255.254", "shared (carrier-grade NAT)"),
            ("224.0.0.1", "multicast"),
            ("255.255.255.255", "broadcast"),
            ("192.0.2.10", "documentation"),
            ("198.51.100.10", "documentation"),
            ("203.0.113.10", "documentation"),
            ("198.18.0.1", "benchmarking"),
            ("192.0.0.8", "reserved"),
            ("240.0.0.1", "reserved"),
            ("::", "unspecified"),
            ("::1", "loopback"),
            ("fc00::1", "private (unique local)"),
            ("fd12:3456::1", "private (unique local)"),
            ("fe80::1", "link-local"),
            ("ff02::1", "multicast"),
            ("2001:db8::1", "documentation"),
            ("3fff::1", "documentation"),
            ("2001::1", "reserved"),
            ("fec0::1", "reserved"),
            ("::7f00:1", "reserved"),
            ("100::1", "reserved"),
            // IPv4 inside IPv6: mapped, NAT64 and 6to4 reach the IPv4 address.
            ("::ffff:127.0.0.1", "loopback"),
            ("::ffff:10.0.0.5", "private"),
            ("::ffff:169.254.169.254", "link-local"),
            ("64:ff9b::a00:5", "private"),
            ("2002:a9fe:a9fe::1", "link-local"),
        ] {
            let ip: IpAddr = address.parse().unwrap();
            assert_eq!(non_public(ip), Some(kind), "{address}");
        }
        for address in [
            "1.1.1.1",
            "8.8.8.8",
            "93.184.215.14",
            "100.63.255.255",
            "100.128.0.1",
            "172.32.0.1",
            "192.0.3.1",
            "198.20.0.1",
            "2a02:1800::1",
            "2606:4700:4700::1111",
            "::ffff:8.8.8.8",
            "64:ff9b::808:808",
            "2002:808:808::1",
        ] {
            let ip: IpAddr = address.parse().unwrap();
            assert_eq!(non_public(ip), None, "{address}");
        }
    }

    #[test]
    fn a_refusal_names_the_address_and_what_to_do() {
        let at = |s: &str| s.parse::<SocketAddr>().unwrap();
        let why = refusal(
            "partner.example",
            false,
            &[at("93.184.215.14:443"), at("10.0.0.5:443")],
        )
        .unwrap();
        assert_eq!(
            why,
            "partner.example resolves to 10.0.0.5, a private address: nothing was sent; add \
             the host to [rights] portability_allowed_hosts if it is a trusted partner on an \
             internal network"
        );
        let why = refusal("[::1]", true, &[at("[::1]:8443")]).unwrap();
        assert!(why.starts_with("[::1] is a loopback address: "), "{why}");
        let why = refusal("169.254.169.254", true, &[at("169.254.169.254:443")]).unwrap();
        assert!(why.starts_with("169.254.169.254 is a link-local"), "{why}");
        assert_eq!(
            refusal("example.be", false, &[at("93.184.215.14:443")]),
            None
        );
    }

    #[test]
    fn allowed_hosts_are_hosts() {
        for (entry, host) in [
            (
                "partner.example",
                Host::Domain("partner.example".to_string()),
            ),
            (
                " Partner.Example ",
                Host::Domain("partner.example".to_string()),
            ),
            ("10.1.2.3", Host::Ipv4([10, 1, 2, 3].into())),
            ("fd00::1", Host::Ipv6("fd00::1".parse().unwrap())),
            ("[fd00::1]", Host::Ipv6("fd00::1".parse().unwrap())),
        ] {
            assert_eq!(parse_allowed_host(entry), Ok(host), "{entry}");
        }
        for (entry, says) in [
            ("", "empty"),
            ("  ", "empty"),
            ("https://partner.example/inbox", "is a URL"),
            ("partner.example/inbox", "is a URL"),
            ("partner.example:8443", "without a port"),
            ("*.partner.example", "wildcard"),
            ("user@partner.example", "not a host name"),
        ] {
            let err = parse_allowed_host(entry).unwrap_err();
            assert!(err.contains(says), "{entry:?}: {err}");
        }
    }

    /// Resolving and checking only: nothing listens and nothing is sent.
    #[tokio::test]
    async fn internal_endpoints_are_refused_unless_allowed() {
        let url = |s: &str| Url::parse(s).unwrap();
        let plain = Transmitter::default();
        for (endpoint, says) in [
            ("https://127.0.0.1:1/in", "127.0.0.1 is a loopback address"),
            ("https://[::1]:1/in", "[::1] is a loopback address"),
            ("https://[::ffff:7f00:1]:1/in", "loopback address"),
            ("https://10.0.0.5/in", "10.0.0.5 is a private address"),
            (
                "https://169.254.169.254/latest/meta-data/",
                "169.254.169.254 is a link-local address",
            ),
            // The URL parser reads the other ways of writing 127.0.0.1 as that address.
            ("https://2130706433:1/in", "127.0.0.1 is a loopback"),
            ("https://localhost:1/in", "localhost resolves to "),
        ] {
            match plain.addresses(&url(endpoint)).await {
                Err(NotSent::Refused(why)) => {
                    assert!(why.contains(says), "{endpoint}: {why}");
                    assert!(why.contains("portability_allowed_hosts"), "{why}");
                }
                other => panic!("{endpoint}: {other:?}"),
            }
        }
        let allowing = |hosts: &[&str]| {
            Transmitter::default().with_allowed_hosts(
                hosts
                    .iter()
                    .map(|h| parse_allowed_host(h).unwrap())
                    .collect(),
            )
        };
        let listed = allowing(&["LocalHost", "10.0.0.5", "::1"]);
        let addresses = listed
            .addresses(&url("https://localhost:8443/in"))
            .await
            .unwrap();
        assert!(!addresses.is_empty());
        assert!(
            addresses
                .iter()
                .all(|a| a.ip().is_loopback() && a.port() == 8443),
            "{addresses:?}"
        );
        assert_eq!(
            listed.addresses(&url("https://10.0.0.5/in")).await.unwrap(),
            [SocketAddr::from(([10, 0, 0, 5], 443))]
        );
        assert!(listed.addresses(&url("https://[::1]/in")).await.is_ok());
        // Listed as a name is not listed as its address, nor the other way round.
        assert!(matches!(
            listed.addresses(&url("https://127.0.0.1/in")).await,
            Err(NotSent::Refused(_))
        ));
        assert!(matches!(
            allowing(&["127.0.0.1"])
                .addresses(&url("https://localhost/in"))
                .await,
            Err(NotSent::Refused(_))
        ));
    }
}
