//! A local SMTP sink for integration tests (cargo feature `testing`): a real, minimal SMTP
//! server on 127.0.0.1 that keeps what it receives, so tests assert on messages as a mail
//! server saw them. It can be told to refuse messages, to show that nothing is lost.
//!
//! Test helpers panic on failure: that fails the test.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use base64::Engine as _;
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;

/// The longest a test waits for messages before it fails.
const WAIT: Duration = Duration::from_secs(30);

/// A message as the sink received it.
#[derive(Debug, Clone)]
pub struct ReceivedMail {
    /// The envelope sender (MAIL FROM), without angle brackets.
    pub mail_from: String,
    /// The envelope recipients (RCPT TO), without angle brackets.
    pub rcpt_to: Vec<String>,
    /// The message as sent after DATA, dot-unstuffed, lines ending in CRLF.
    pub data: String,
}

impl ReceivedMail {
    /// Every header as (name, value): folded lines unfolded, encoded words (RFC 2047)
    /// decoded, in message order.
    pub fn headers(&self) -> Vec<(String, String)> {
        let head = self.data.split("\r\n\r\n").next().unwrap_or_default();
        let mut headers: Vec<(String, String)> = Vec::new();
        for line in head.split("\r\n") {
            if line.starts_with([' ', '\t']) {
                if let Some((_, value)) = headers.last_mut() {
                    value.push_str(line);
                }
            } else if let Some((name, value)) = line.split_once(':') {
                headers.push((name.to_string(), value.to_string()));
            }
        }
        headers
            .into_iter()
            .map(|(name, value)| (name, decode_words(value.trim())))
            .collect()
    }

    /// Every value of header `name` (case-insensitive).
    pub fn header_all(&self, name: &str) -> Vec<String> {
        self.headers()
            .into_iter()
            .filter(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v)
            .collect()
    }

    /// The value of header `name`, if the message has it; panics when it has several.
    pub fn header(&self, name: &str) -> Option<String> {
        let mut values = self.header_all(name);
        assert!(values.len() < 2, "{name} appears {} times", values.len());
        values.pop()
    }

    /// The body, its transfer encoding undone, with `\n` line ends and without the empty
    /// lines SMTP clients add at the end.
    pub fn body(&self) -> String {
        let raw = self
            .data
            .split_once("\r\n\r\n")
            .map(|(_, body)| body)
            .unwrap_or_default();
        let encoding = self
            .header("Content-Transfer-Encoding")
            .unwrap_or_default()
            .to_ascii_lowercase();
        let bytes = match encoding.as_str() {
            "quoted-printable" => {
                quoted_printable::decode(raw.as_bytes(), quoted_printable::ParseMode::Robust)
                    .unwrap_or_else(|e| panic!("bad quoted-printable body: {e}"))
            }
            "base64" => {
                let compact: String = raw.split_whitespace().collect();
                base64::engine::general_purpose::STANDARD
                    .decode(compact)
                    .unwrap_or_else(|e| panic!("bad base64 body: {e}"))
            }
            _ => raw.as_bytes().to_vec(),
        };
        String::from_utf8(bytes)
            .unwrap_or_else(|e| panic!("the body is not UTF-8: {e}"))
            .trim_end_matches(['\r', '\n'])
            .replace("\r\n", "\n")
    }
}

/// Decodes the encoded words (`=?utf-8?b?...?=`, `=?utf-8?q?...?=`) of a header value;
/// whitespace between two encoded words is dropped, as RFC 2047 says.
fn decode_words(value: &str) -> String {
    let mut out = String::new();
    let mut previous_encoded = false;
    for (i, word) in value.split([' ', '\t']).enumerate() {
        if word.is_empty() {
            continue;
        }
        match decode_word(word) {
            Some(text) => {
                if i > 0 && !previous_encoded && !out.is_empty() {
                    out.push(' ');
                }
                out.push_str(&text);
                previous_encoded = true;
            }
            None => {
                if !out.is_empty() {
                    out.push(' ');
                }
                out.push_str(word);
                previous_encoded = false;
            }
        }
    }
    out
}

fn decode_word(word: &str) -> Option<String> {
    let inner = word.strip_prefix("=?")?.strip_suffix("?=")?;
    let mut parts = inner.splitn(3, '?');
    let (charset, encoding, text) = (parts.next()?, parts.next()?, parts.next()?);
    if !charset.eq_ignore_ascii_case("utf-8") {
        return None;
    }
    let bytes = match encoding {
        "b" | "B" => base64::engine::general_purpose::STANDARD
            .decode(text)
            .ok()?,
        "q" | "Q" => quoted_printable::decode(
            text.replace('_', " ").as_bytes(),
            quoted_printable::ParseMode::Robust,
        )
        .ok()?,
        _ => return None,
    };
    String::from_utf8(bytes).ok()
}

#[derive(Default)]
struct State {
    messages: Vec<ReceivedMail>,
    /// The reply to the end of DATA instead of accepting, when set.
    refusal: Option<String>,
    refused: usize,
}

/// A running SMTP sink; it stops when dropped.
pub struct SmtpSink {
    port: u16,
    state: Arc<Mutex<State>>,
    received: watch::Receiver<usize>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for SmtpSink {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl SmtpSink {
    /// Starts a sink on a free port of 127.0.0.1.
    pub async fn start() -> SmtpSink {
        let listener = TcpListener::bind("127.0.0.1:0")
            .await
            .unwrap_or_else(|e| panic!("the SMTP sink cannot listen: {e}"));
        let port = listener
            .local_addr()
            .unwrap_or_else(|e| panic!("the SMTP sink has no address: {e}"))
            .port();
        let state = Arc::new(Mutex::new(State::default()));
        let (count, received) = watch::channel(0);
        let count = Arc::new(count);
        let task = tokio::spawn({
            let state = state.clone();
            async move {
                while let Ok((stream, _)) = listener.accept().await {
                    tokio::spawn(session(stream, state.clone(), count.clone()));
                }
            }
        });
        SmtpSink {
            port,
            state,
            received,
            task,
        }
    }

    /// The URL for `[mail] smtp_url`: plain SMTP to the sink.
    pub fn url(&self) -> String {
        format!("smtp://127.0.0.1:{}", self.port)
    }

    /// From now on, answer the end of each message with `reply` (e.g. `451 4.3.0 try
    /// again later`) and keep nothing; `None` accepts again.
    pub fn refuse(&self, reply: Option<&str>) {
        self.lock().refusal = reply.map(str::to_string);
    }

    /// How many messages were refused.
    pub fn refused(&self) -> usize {
        self.lock().refused
    }

    /// The messages received so far, in order of arrival.
    pub fn messages(&self) -> Vec<ReceivedMail> {
        self.lock().messages.clone()
    }

    /// Waits until at least `n` messages arrived, and returns all of them; panics after
    /// 30 seconds.
    pub async fn wait_for(&self, n: usize) -> Vec<ReceivedMail> {
        let mut received = self.received.clone();
        let arrived = tokio::time::timeout(WAIT, received.wait_for(|count| *count >= n)).await;
        match arrived {
            Ok(Ok(_)) => self.messages(),
            _ => panic!(
                "the SMTP sink received {} of {n} messages within {WAIT:?}",
                self.messages().len()
            ),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// One SMTP session: EHLO/HELO, MAIL FROM, RCPT TO, DATA, RSET, NOOP, QUIT.
async fn session(stream: TcpStream, state: Arc<Mutex<State>>, count: Arc<watch::Sender<usize>>) {
    let (read, mut write) = stream.into_split();
    let mut lines = BufReader::new(read);
    let mut mail_from: Option<String> = None;
    let mut rcpt_to: Vec<String> = Vec::new();
    if write
        .write_all(&reply("220 kluis-sink ESMTP".into()))
        .await
        .is_err()
    {
        return;
    }
    loop {
        let Some(line) = read_line(&mut lines).await else {
            return;
        };
        let upper = line.to_ascii_uppercase();
        let answer = if upper.starts_with("EHLO") {
            mail_from = None;
            rcpt_to.clear();
            "250-kluis-sink\r\n250 8BITMIME".to_string()
        } else if upper.starts_with("HELO") {
            mail_from = None;
            rcpt_to.clear();
            "250 kluis-sink".to_string()
        } else if upper.starts_with("MAIL FROM:") {
            mail_from = Some(path(&line["MAIL FROM:".len()..]));
            rcpt_to.clear();
            "250 2.1.0 OK".to_string()
        } else if upper.starts_with("RCPT TO:") {
            if mail_from.is_none() {
                "503 5.5.1 MAIL first".to_string()
            } else {
                rcpt_to.push(path(&line["RCPT TO:".len()..]));
                "250 2.1.5 OK".to_string()
            }
        } else if upper == "DATA" {
            if rcpt_to.is_empty() {
                "503 5.5.1 RCPT first".to_string()
            } else {
                if write
                    .write_all(&reply("354 end data with <CR><LF>.<CR><LF>".into()))
                    .await
                    .is_err()
                {
                    return;
                }
                let Some(data) = read_data(&mut lines).await else {
                    return;
                };
                let mail = ReceivedMail {
                    mail_from: mail_from.take().unwrap_or_default(),
                    rcpt_to: std::mem::take(&mut rcpt_to),
                    data,
                };
                let mut state = state.lock().unwrap_or_else(|e| e.into_inner());
                match state.refusal.clone() {
                    Some(refusal) => {
                        state.refused += 1;
                        refusal
                    }
                    None => {
                        state.messages.push(mail);
                        count.send_replace(state.messages.len());
                        "250 2.0.0 queued".to_string()
                    }
                }
            }
        } else if upper == "RSET" {
            mail_from = None;
            rcpt_to.clear();
            "250 2.0.0 OK".to_string()
        } else if upper.starts_with("NOOP") {
            "250 2.0.0 OK".to_string()
        } else if upper == "QUIT" {
            let _ = write.write_all(&reply("221 2.0.0 bye".into())).await;
            return;
        } else {
            "502 5.5.2 command not implemented".to_string()
        };
        if write.write_all(&reply(answer)).await.is_err() {
            return;
        }
    }
}

/// A reply line as sent.
fn reply(text: String) -> Vec<u8> {
    let mut out = text.into_bytes();
    out.extend_from_slice(b"\r\n");
    out
}

/// One command line without its line end; None when the client left.
async fn read_line(lines: &mut BufReader<tokio::net::tcp::OwnedReadHalf>) -> Option<String> {
    let mut bytes = Vec::new();
    match lines.read_until(b'\n', &mut bytes).await {
        Ok(0) | Err(_) => None,
        Ok(_) => Some(
            String::from_utf8_lossy(&bytes)
                .trim_end_matches(['\r', '\n'])
                .to_string(),
        ),
    }
}

/// The message after DATA up to the line holding a single dot, dot-unstuffed.
async fn read_data(lines: &mut BufReader<tokio::net::tcp::OwnedReadHalf>) -> Option<String> {
    let mut data = Vec::new();
    loop {
        let mut line = Vec::new();
        if lines.read_until(b'\n', &mut line).await.ok()? == 0 {
            return None;
        }
        if line == b".\r\n" || line == b".\n" {
            return Some(String::from_utf8_lossy(&data).into_owned());
        }
        let unstuffed = line.strip_prefix(b".").unwrap_or(&line);
        data.extend_from_slice(unstuffed);
    }
}

/// The address in `<address> PARAMETERS`.
fn path(argument: &str) -> String {
    let argument = argument.trim();
    match (argument.find('<'), argument.find('>')) {
        (Some(start), Some(end)) if start < end => argument[start + 1..end].to_string(),
        _ => argument
            .split_whitespace()
            .next()
            .unwrap_or_default()
            .to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn headers_are_unfolded_and_decoded() {
        let mail = ReceivedMail {
            mail_from: String::new(),
            rcpt_to: Vec::new(),
            data: "Subject: Uw =?utf-8?b?aW5zY2hyaWp2aW5n?=\r\n =?utf-8?q?_=E2=80=94?= klaar\r\n\
                   List-Unsubscribe: <https://k.be/u/1>\r\n\r\nbody\r\n"
                .into(),
        };
        assert_eq!(
            mail.header("subject").as_deref(),
            Some("Uw inschrijving — klaar")
        );
        assert_eq!(
            mail.header("List-Unsubscribe").as_deref(),
            Some("<https://k.be/u/1>")
        );
        assert_eq!(mail.body(), "body");
        assert_eq!(path(" <an@example.be> BODY=8BITMIME"), "an@example.be");
    }
}
