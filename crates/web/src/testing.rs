//! For tests: a local HTTPS endpoint that receives transmissions (GDPR art. 20(2)) and
//! keeps what arrived, with a certificate from a throwaway CA made at start.

use std::sync::atomic::{AtomicU16, Ordering};
use std::sync::{Arc, Mutex};

use axum::body::Bytes;
use axum::http::{HeaderMap, Request, Response, StatusCode};
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper_util::rt::TokioIo;
use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, Issuer, KeyPair};
use rustls::pki_types::{PrivateKeyDer, PrivatePkcs8KeyDer};

/// One request the endpoint received.
#[derive(Debug, Clone)]
pub struct Received {
    pub method: String,
    /// Path and query.
    pub target: String,
    pub headers: HeaderMap,
    pub body: Vec<u8>,
}

/// An HTTPS endpoint on 127.0.0.1 answering every request with one status (201 unless
/// told otherwise), at once or when released (see [`HttpsEndpoint::hold`]). Stops when
/// dropped.
pub struct HttpsEndpoint {
    port: u16,
    ca_pem: String,
    status: Arc<AtomicU16>,
    /// Whether answers wait for [`HttpsEndpoint::release`].
    held: tokio::sync::watch::Sender<bool>,
    received: Arc<Mutex<Vec<Received>>>,
    task: tokio::task::JoinHandle<()>,
}

impl HttpsEndpoint {
    pub async fn start() -> HttpsEndpoint {
        let ca_key = KeyPair::generate().expect("a CA key");
        let mut ca_params = CertificateParams::new(Vec::<String>::new()).expect("CA params");
        ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        ca_params
            .distinguished_name
            .push(DnType::CommonName, "kluis test CA");
        let ca = ca_params.self_signed(&ca_key).expect("a CA certificate");
        let issuer = Issuer::new(ca_params, ca_key);
        let key = KeyPair::generate().expect("a server key");
        let params = CertificateParams::new(vec!["127.0.0.1".to_string(), "localhost".to_string()])
            .expect("server params");
        let cert = params
            .signed_by(&key, &issuer)
            .expect("a server certificate");
        let config = rustls::ServerConfig::builder_with_provider(Arc::new(
            rustls::crypto::ring::default_provider(),
        ))
        .with_safe_default_protocol_versions()
        .expect("TLS versions")
        .with_no_client_auth()
        .with_single_cert(
            vec![cert.der().clone()],
            PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(key.serialize_der())),
        )
        .expect("a server config");
        let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(config));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("a free port");
        let port = listener.local_addr().expect("the port").port();
        let status = Arc::new(AtomicU16::new(201));
        let received = Arc::new(Mutex::new(Vec::new()));
        let (held, held_rx) = tokio::sync::watch::channel(false);
        let (s, r) = (status.clone(), received.clone());
        let task = tokio::spawn(async move {
            loop {
                let Ok((tcp, _)) = listener.accept().await else {
                    continue;
                };
                let (acceptor, status, received, held) =
                    (acceptor.clone(), s.clone(), r.clone(), held_rx.clone());
                tokio::spawn(async move {
                    let Ok(tls) = acceptor.accept(tcp).await else {
                        return;
                    };
                    let service = hyper::service::service_fn(move |request: Request<Incoming>| {
                        let (status, received, mut held) =
                            (status.clone(), received.clone(), held.clone());
                        async move {
                            let (parts, body) = request.into_parts();
                            let body = body.collect().await?.to_bytes().to_vec();
                            received.lock().expect("not poisoned").push(Received {
                                method: parts.method.to_string(),
                                target: parts
                                    .uri
                                    .path_and_query()
                                    .map(ToString::to_string)
                                    .unwrap_or_default(),
                                headers: parts.headers,
                                body,
                            });
                            let _ = held.wait_for(|held| !held).await;
                            let code = StatusCode::from_u16(status.load(Ordering::SeqCst))
                                .unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
                            let mut response = Response::new(Full::new(Bytes::new()));
                            *response.status_mut() = code;
                            if code.is_redirection() {
                                response.headers_mut().insert(
                                    axum::http::header::LOCATION,
                                    axum::http::HeaderValue::from_static("https://127.0.0.1:1/"),
                                );
                            }
                            Ok::<_, hyper::Error>(response)
                        }
                    });
                    let _ = hyper::server::conn::http1::Builder::new()
                        .serve_connection(TokioIo::new(tls), service)
                        .await;
                });
            }
        });
        HttpsEndpoint {
            port,
            ca_pem: ca.pem(),
            status,
            held,
            received,
            task,
        }
    }

    /// `https://127.0.0.1:PORT{path}`.
    pub fn url(&self, path: &str) -> String {
        format!("https://127.0.0.1:{}{path}", self.port)
    }

    /// The CA that issued the endpoint's certificate, as PEM: for `portability_ca_file`.
    pub fn ca_pem(&self) -> &str {
        &self.ca_pem
    }

    /// A transmitter that trusts the endpoint's certificate. It does not reach it yet:
    /// 127.0.0.1 is internal, so it must be allowed too (see
    /// [`Transmitter::with_allowed_hosts`](crate::portability::Transmitter::with_allowed_hosts)).
    pub fn transmitter(&self) -> crate::portability::Transmitter {
        crate::portability::Transmitter::default()
            .with_ca_pem(self.ca_pem.as_bytes())
            .expect("the test CA is a CA")
    }

    /// From now on, requests are received and then wait for [`HttpsEndpoint::release`]
    /// before they are answered.
    pub fn hold(&self) {
        self.held.send_replace(true);
    }

    /// Answers the requests held, and the next ones at once.
    pub fn release(&self) {
        self.held.send_replace(false);
    }

    /// The status every request is answered with from now on.
    pub fn answer_with(&self, status: u16) {
        self.status.store(status, Ordering::SeqCst);
    }

    /// What arrived so far, oldest first.
    pub fn received(&self) -> Vec<Received> {
        self.received.lock().expect("not poisoned").clone()
    }
}

impl Drop for HttpsEndpoint {
    fn drop(&mut self) {
        self.task.abort();
    }
}
