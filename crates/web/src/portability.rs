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

use std::net::IpAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::body::Bytes;
use axum::http::{Request, StatusCode, header};
use http_body_util::Full;
use hyper_util::rt::TokioIo;
use kluis_domain::access_package::{self, NotReleasable, PackageKind};
use kluis_domain::processing_log::LogAction;
use kluis_store::{
    Processing, RightsRequest, Store, StoreError, Transmission, TransmissionOutcome,
};
use rustls::pki_types::{CertificateDer, ServerName, pem::PemObject};
use sha2::{Digest, Sha256};
use url::{Host, Position, Url};

use crate::access_package::{Format, assemble, render};
use crate::systems::SystemUrls;

/// The legal ground logged with every delivered transmission.
pub const LEGAL_GROUND: &str = "GDPR art. 20(2)";

/// How long a transmission may take, from connecting to the endpoint's answer.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(30);

/// Longest endpoint URL and recipient name taken.
const MAX_ENDPOINT: usize = 2_000;
const MAX_RECIPIENT: usize = 200;

/// How kluis sends: whom it trusts besides the system's certificate authorities, and how
/// long it waits.
#[derive(Debug, Clone)]
pub struct Transmitter {
    /// CA certificates trusted besides the system's (`[rights] portability_ca_file`): an
    /// authorities' own PKI, or a test's.
    pub extra_roots: Vec<CertificateDer<'static>>,
    pub timeout: Duration,
}

impl Default for Transmitter {
    fn default() -> Self {
        Transmitter {
            extra_roots: Vec::new(),
            timeout: DEFAULT_TIMEOUT,
        }
    }
}

impl Transmitter {
    /// Trusts the CA certificates in `pem` too; fails when it holds none or a bad one.
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
        self.extra_roots.extend(certs);
        Ok(self)
    }

    fn client_config(&self) -> Result<rustls::ClientConfig, String> {
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

    /// POSTs `body` to `url` and gives the endpoint's status; a connection, TLS or HTTP
    /// error, or no answer within the timeout, is the reason it failed. Redirects are
    /// answers like any other: never followed.
    async fn post(
        &self,
        url: &Url,
        content_type: &'static str,
        body: Vec<u8>,
        traceparent: &str,
    ) -> Result<StatusCode, String> {
        let config = self.client_config()?;
        match tokio::time::timeout(
            self.timeout,
            exchange(config, url, content_type, body, traceparent),
        )
        .await
        {
            Ok(answer) => answer,
            Err(_) => Err(format!(
                "no answer within {} seconds",
                self.timeout.as_secs_f32()
            )),
        }
    }
}

async fn exchange(
    config: rustls::ClientConfig,
    url: &Url,
    content_type: &'static str,
    body: Vec<u8>,
    traceparent: &str,
) -> Result<StatusCode, String> {
    let port = url.port_or_known_default().unwrap_or(443);
    let (tcp, name) = match url.host() {
        Some(Host::Domain(domain)) => (
            tokio::net::TcpStream::connect((domain, port)).await,
            ServerName::try_from(domain.to_string()).map_err(|e| format!("{domain}: {e}"))?,
        ),
        Some(Host::Ipv4(ip)) => (
            tokio::net::TcpStream::connect((ip, port)).await,
            ServerName::IpAddress(IpAddr::V4(ip).into()),
        ),
        Some(Host::Ipv6(ip)) => (
            tokio::net::TcpStream::connect((ip, port)).await,
            ServerName::IpAddress(IpAddr::V6(ip).into()),
        ),
        None => return Err("the endpoint names no host".into()),
    };
    let host = host_of(url);
    let tcp = tcp.map_err(|e| format!("cannot connect to {host}: {e}"))?;
    let tls = tokio_rustls::TlsConnector::from(Arc::new(config))
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
    /// Sent, and not taken (or never arrived): on the timeline as a failed transmission.
    #[error("{host} did not take the export: {reason}")]
    Failed { host: String, reason: String },
}

/// Makes the portability export of `request` in `format`, sends it to `destination`, and
/// records the outcome. Nothing is sent or recorded when the request may not release data.
pub async fn transmit(
    store: &Store,
    transmitter: &Transmitter,
    processing: &Processing,
    request: &RightsRequest,
    destination: &Destination,
    format: Format,
) -> Result<Sent, TransmitError> {
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
    // Portability holds the vault's records only: no connected system is searched.
    let assembled = assemble(store, &SystemUrls::default(), processing, request, kind)
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
        Err(reason) => TransmissionOutcome::Failed { reason },
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
        .record_transmission(processing, request.id, &transmission, disclosures)
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
}
