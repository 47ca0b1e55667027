//! HTTP sources (reqwest). `http://host/path` is fetched and, by the response's
//! Content-Type, either
//! - polled: a JSON array of messages (or one message), re-fetched every `every`
//!   with `If-None-Match` / `If-Modified-Since`, so an unchanged endpoint costs a 304;
//! - streamed: newline-delimited JSON (`application/x-ndjson`) or server-sent events
//!   (`text/event-stream`), read as it arrives; when it ends, it is opened again.
//!
//! Options ride in the URL fragment, which is never sent to the server:
//! `http://host/orders.json#every=5s&timeout=30s`. Errors and HTTP failures are
//! retried with backoff and shown as "reconnecting".

use super::schema::{DecodeError, FeedMessage};
use super::tls::TlsSetup;
use super::{Backoff, FeedEvent, SourceState, send, source_tls};
use crossbeam_channel::Sender;
use reqwest::header::{CONTENT_TYPE, ETAG, IF_MODIFIED_SINCE, IF_NONE_MATCH, LAST_MODIFIED};
use serde_json::value::RawValue;
use std::time::Duration;

/// Largest message (a stream line, an SSE event, one array element) decoded.
pub const MAX_MESSAGE_BYTES: usize = 1 << 20;
/// Largest polled document read.
const MAX_DOCUMENT_BYTES: usize = 64 << 20;
/// Redirects followed at most.
const MAX_REDIRECTS: usize = 5;
/// Bounds on the URL options: below, a busy loop; above, `Duration` overflows or a
/// source that never retries.
const SHORTEST: Duration = Duration::from_millis(10);
const LONGEST: Duration = Duration::from_secs(24 * 3600);

#[derive(Debug, Clone, PartialEq)]
pub struct HttpSpec {
    /// The URL without credentials (safe to show, apart from its query: see `redact`).
    pub url: String,
    /// Poll period for JSON documents.
    pub every: Duration,
    /// Longest wait to connect and for the response's headers, and for the whole body
    /// of a polled document. A stream is not cut by it.
    pub timeout: Duration,
    /// Longest silence in a stream (NDJSON, SSE) before it is reopened.
    pub idle: Duration,
    /// From the URL's `user:password@` or the credentials file.
    pub auth: Option<super::secrets::HttpAuth>,
    /// The URL carried credentials.
    pub inline_secret: bool,
}

fn parse_duration(s: &str) -> Option<Duration> {
    let (n, unit) = s
        .strip_suffix("ms")
        .map(|n| (n, 0.001))
        .or_else(|| s.strip_suffix('s').map(|n| (n, 1.0)))
        .or_else(|| s.strip_suffix('m').map(|n| (n, 60.0)))?;
    let secs = n.parse::<f64>().ok()? * unit;
    (secs.is_finite() && secs >= SHORTEST.as_secs_f64() && secs <= LONGEST.as_secs_f64())
        .then(|| Duration::from_secs_f64(secs))
}

fn percent_decode(text: &str) -> String {
    String::from_utf8_lossy(&crate::percent_decode(text)).into_owned()
}

impl HttpSpec {
    pub fn parse(spec: &str) -> Result<Self, String> {
        let (url, fragment) = spec.split_once('#').unwrap_or((spec, ""));
        let mut parsed = reqwest::Url::parse(url).map_err(|e| format!("bad URL: {e}"))?;
        if parsed.host_str().is_none_or(str::is_empty) {
            return Err("no host in the URL".into());
        }
        // Credentials leave the URL at once, so nothing that shows it can show them.
        let auth = (!parsed.username().is_empty()).then(|| super::secrets::HttpAuth::Basic {
            user: percent_decode(parsed.username()),
            password: super::secrets::Secret::new(percent_decode(parsed.password().unwrap_or(""))),
        });
        let _ = parsed.set_username("");
        let _ = parsed.set_password(None);
        let mut out = HttpSpec {
            url: parsed.to_string(),
            every: Duration::from_secs(5),
            timeout: Duration::from_secs(30),
            idle: Duration::from_secs(120),
            inline_secret: auth.is_some(),
            auth,
        };
        for opt in fragment.split('&').filter(|o| !o.is_empty()) {
            let (key, value) = opt
                .split_once('=')
                .ok_or(format!("option '{opt}' is not key=value"))?;
            let d = parse_duration(value).ok_or(format!(
                "'{value}' is not a duration from 10ms to 24h, like 5s or 250ms"
            ))?;
            match key {
                "every" => out.every = d,
                "timeout" => out.timeout = d,
                "idle" => out.idle = d,
                _ => return Err(format!("unknown option '{key}' (every, timeout, idle)")),
            }
        }
        Ok(out)
    }

    /// The URL as it may be shown.
    pub fn shown(&self) -> String {
        super::secrets::redact(&self.url)
    }

    /// Takes credentials from the file's entry when the URL brought none.
    pub fn apply(&mut self, creds: &super::secrets::Credentials) {
        use super::secrets::HttpAuth;
        let Ok(url) = reqwest::Url::parse(&self.url) else {
            return;
        };
        let (Some(host), Some(port)) = (url.host_str(), url.port_or_known_default()) else {
            return;
        };
        let Some(c) = creds.for_source(url.scheme(), host, port, url.path()) else {
            return;
        };
        if self.auth.is_none() {
            self.auth = match (&c.bearer, &c.user) {
                (Some(token), _) => Some(HttpAuth::Bearer(token.clone())),
                (None, Some(user)) => Some(HttpAuth::Basic {
                    user: user.clone(),
                    password: c
                        .password
                        .clone()
                        .unwrap_or(super::secrets::Secret::new("")),
                }),
                (None, None) => None,
            };
        }
    }

    /// A warning when credentials would cross the network in the clear.
    pub fn plaintext_warning(&self) -> Option<String> {
        (self.auth.is_some() && self.url.starts_with("http://")).then(|| {
            format!(
                "{}: credentials are sent over plain http; use https",
                self.shown()
            )
        })
    }
}

/// Follows redirects to the same host, or to hosts the scene lists, never from
/// https to http, at most [`MAX_REDIRECTS`].
pub(crate) fn redirect_policy(
    url: Option<&str>,
    allowed: Vec<String>,
) -> reqwest::redirect::Policy {
    let origin = url.and_then(|u| reqwest::Url::parse(u).ok());
    reqwest::redirect::Policy::custom(move |attempt| {
        if attempt.previous().len() > MAX_REDIRECTS {
            return attempt.error(format!("more than {MAX_REDIRECTS} redirects"));
        }
        let to = attempt.url();
        let shown = super::secrets::redact(to.as_str());
        let from_https = attempt.previous().iter().any(|u| u.scheme() == "https");
        if from_https && to.scheme() != "https" {
            return attempt.error(format!("redirect from https to {shown} refused"));
        }
        let same = origin.as_ref().is_some_and(|o| {
            o.host_str() == to.host_str() && o.port_or_known_default() == to.port_or_known_default()
        });
        if same || super::secrets::host_allowed(to.host_str().unwrap_or(""), &allowed) {
            attempt.follow()
        } else {
            attempt.error(format!(
                "redirect to {shown} refused: another host (allow it in the scene's security.redirect_hosts)"
            ))
        }
    })
}

/// Counts messages for "message N" in rejection reasons.
struct Sink<'a> {
    source: usize,
    tx: &'a Sender<FeedEvent>,
    n: u64,
}

impl Sink<'_> {
    async fn message(&mut self, text: &str) -> bool {
        self.n += 1;
        let event = if text.len() > MAX_MESSAGE_BYTES {
            FeedEvent::Rejected {
                source: self.source,
                line: self.n,
                error: DecodeError::TooLarge(text.len()),
            }
        } else {
            match FeedMessage::decode(text.trim()) {
                Ok(message) if matches!(message.body, super::schema::FeedBody::Operator(_)) => {
                    FeedEvent::Rejected {
                        source: self.source,
                        line: self.n,
                        error: DecodeError::NotAllowed(
                            "operator actions are taken only over MQTT, on the scene's security.control_topics"
                                .into(),
                        ),
                    }
                }
                Ok(message) => FeedEvent::Message {
                    source: self.source,
                    message,
                },
                Err(error) => FeedEvent::Rejected {
                    source: self.source,
                    line: self.n,
                    error,
                },
            }
        };
        send(self.tx, event).await
    }

    async fn too_large(&mut self, len: usize) -> bool {
        self.n += 1;
        let error = DecodeError::TooLarge(len);
        send(
            self.tx,
            FeedEvent::Rejected {
                source: self.source,
                line: self.n,
                error,
            },
        )
        .await
    }

    async fn state(&self, state: SourceState) -> bool {
        send(
            self.tx,
            FeedEvent::State {
                source: self.source,
                state,
            },
        )
        .await
    }
}

pub async fn run(
    source: usize,
    spec: HttpSpec,
    tx: Sender<FeedEvent>,
    tls: TlsSetup,
    redirect_hosts: Vec<String>,
) {
    let https = spec.url.starts_with("https://");
    let Ok(tls) = source_tls(source, https, &tls, &tx).await else {
        return;
    };
    // No whole-request timeout: it would cut a stream. Connecting, the response's
    // headers and a polled body each have their own deadline (`timeout`), a stream
    // its longest silence (`idle`); TCP keepalive finds a peer that vanished.
    let client = match super::tls::reqwest_builder(tls.as_ref())
        .connect_timeout(spec.timeout.min(Duration::from_secs(10)))
        .tcp_keepalive(Duration::from_secs(30))
        .redirect(redirect_policy(Some(&spec.url), redirect_hosts))
        .user_agent(concat!("citytwin/", env!("CARGO_PKG_VERSION")))
        .build()
    {
        Ok(c) => c,
        Err(e) => {
            send(
                &tx,
                FeedEvent::State {
                    source,
                    state: SourceState::Failed(format!("HTTP client: {e}")),
                },
            )
            .await;
            return;
        }
    };
    let mut sink = Sink {
        source,
        tx: &tx,
        n: 0,
    };
    let shown = spec.shown();
    let mut backoff = Backoff::new();
    let mut validators: (Option<String>, Option<String>) = (None, None);
    let mut live = false;
    loop {
        let outcome = fetch_once(&client, &spec, &mut sink, &mut validators, &mut live).await;
        match outcome {
            Fetch::Gone => return,
            Fetch::Polled => {
                backoff.reset();
                tokio::time::sleep(spec.every).await;
            }
            Fetch::StreamEnded(why) => {
                backoff.reset();
                live = false;
                if !sink
                    .state(SourceState::Reconnecting(format!(
                        "{shown}: {why}; reopening"
                    )))
                    .await
                {
                    return;
                }
                tokio::time::sleep(Backoff::START).await;
            }
            Fetch::Failed(why) => {
                live = false;
                let why = format!("{shown}: {why}; retrying in {:.1?}", backoff.next());
                if !sink.state(SourceState::Reconnecting(why)).await {
                    return;
                }
                backoff.sleep().await;
            }
        }
    }
}

enum Fetch {
    Polled,
    /// The stream ended or fell silent for longer than `idle`: why.
    StreamEnded(String),
    Failed(String),
    /// The app has gone away.
    Gone,
}

async fn fetch_once(
    client: &reqwest::Client,
    spec: &HttpSpec,
    sink: &mut Sink<'_>,
    (etag, modified): &mut (Option<String>, Option<String>),
    live: &mut bool,
) -> Fetch {
    use super::secrets::HttpAuth;
    let mut req = client.get(&spec.url);
    req = match &spec.auth {
        Some(HttpAuth::Basic { user, password }) => req.basic_auth(user, Some(password.expose())),
        Some(HttpAuth::Bearer(token)) => req.bearer_auth(token.expose()),
        None => req,
    };
    if let Some(e) = etag.as_deref() {
        req = req.header(IF_NONE_MATCH, e);
    }
    if let Some(m) = modified.as_deref() {
        req = req.header(IF_MODIFIED_SINCE, m);
    }
    let mut resp = match tokio::time::timeout(spec.timeout, req.send()).await {
        Ok(Ok(r)) => r,
        Ok(Err(e)) => return Fetch::Failed(super::error_chain(&e.without_url())),
        Err(_) => return Fetch::Failed(format!("no response within {:?}", spec.timeout)),
    };
    let status = resp.status();
    if status != reqwest::StatusCode::NOT_MODIFIED && !status.is_success() {
        return Fetch::Failed(format!("HTTP {status}"));
    }
    if !*live {
        *live = true;
        if !sink.state(SourceState::Live).await {
            return Fetch::Gone;
        }
    }
    if status == reqwest::StatusCode::NOT_MODIFIED {
        return Fetch::Polled;
    }
    let header = |name| {
        resp.headers()
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned)
    };
    let content_type = header(CONTENT_TYPE).unwrap_or_default();
    if content_type.starts_with("text/event-stream")
        || content_type.starts_with("application/x-ndjson")
    {
        let sse = content_type.starts_with("text/event-stream");
        return stream(&mut resp, sse, spec.idle, sink).await;
    }
    *etag = header(ETAG);
    *modified = header(LAST_MODIFIED);
    if resp
        .content_length()
        .is_some_and(|n| n > MAX_DOCUMENT_BYTES as u64)
    {
        return Fetch::Failed(format!("document over {MAX_DOCUMENT_BYTES} bytes"));
    }
    // The whole body within `timeout`: a server trickling a byte a second is cut.
    let deadline = tokio::time::Instant::now() + spec.timeout;
    let mut body = Vec::new();
    loop {
        match tokio::time::timeout_at(deadline, resp.chunk()).await {
            Ok(Ok(Some(c))) => {
                if body.len() + c.len() > MAX_DOCUMENT_BYTES {
                    return Fetch::Failed(format!("document over {MAX_DOCUMENT_BYTES} bytes"));
                }
                body.extend_from_slice(&c);
            }
            Ok(Ok(None)) => break,
            Ok(Err(e)) => return Fetch::Failed(super::error_chain(&e.without_url())),
            Err(_) => {
                return Fetch::Failed(format!(
                    "document not complete within {:?} ({} bytes read)",
                    spec.timeout,
                    body.len()
                ));
            }
        }
    }
    let Ok(text) = std::str::from_utf8(&body) else {
        return Fetch::Failed("response is not UTF-8".into());
    };
    for item in split_document(text) {
        if !sink.message(item).await {
            return Fetch::Gone;
        }
    }
    Fetch::Polled
}

/// Reads a stream to its end: one message per line (NDJSON) or per event (SSE).
/// Reads a stream to its end, one message per line (NDJSON) or per event (SSE).
async fn stream(
    resp: &mut reqwest::Response,
    sse: bool,
    idle: Duration,
    sink: &mut Sink<'_>,
) -> Fetch {
    let mut framer = Framer::new(sse);
    let mut frames = Vec::new();
    loop {
        let chunk = match tokio::time::timeout(idle, resp.chunk()).await {
            Ok(Ok(Some(c))) => c,
            Ok(Ok(None)) => return Fetch::StreamEnded("stream ended".into()),
            Ok(Err(e)) => return Fetch::Failed(super::error_chain(&e.without_url())),
            Err(_) => return Fetch::StreamEnded(format!("nothing for {idle:?}")),
        };
        framer.push(&chunk, &mut frames);
        for frame in frames.drain(..) {
            let delivered = match frame {
                Frame::Message(m) => sink.message(&m).await,
                Frame::TooLarge(len) => sink.too_large(len).await,
            };
            if !delivered {
                return Fetch::Gone;
            }
        }
    }
}

/// What a stream's bytes come to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Frame {
    Message(String),
    /// A line or event over [`MAX_MESSAGE_BYTES`], dropped; its length so far.
    TooLarge(usize),
}

/// Splits a stream's bytes, as they come, into messages: one per NDJSON line, or one
/// per server-sent event (its `data:` lines joined; comments, `event:` and `id:`
/// lines ignored). Memory is bounded by [`MAX_MESSAGE_BYTES`] for the line and for
/// the event being read; a longer one is reported once and skipped to its end.
#[derive(Debug, Default)]
pub struct Framer {
    sse: bool,
    pending: Vec<u8>,
    event: String,
    /// Inside a line (or SSE event) too long to keep: drop bytes until its end.
    skipping_line: bool,
    skipping_event: bool,
}

impl Framer {
    pub fn new(sse: bool) -> Self {
        Self {
            sse,
            ..Self::default()
        }
    }

    pub fn push(&mut self, chunk: &[u8], out: &mut Vec<Frame>) {
        self.pending.extend_from_slice(chunk);
        let mut start = 0;
        while let Some(i) = self.pending[start..].iter().position(|&b| b == b'\n') {
            let end = start + i;
            let line = String::from_utf8_lossy(&self.pending[start..end]).into_owned();
            start = end + 1;
            if std::mem::take(&mut self.skipping_line) {
                continue;
            }
            self.line(line.trim_end_matches('\r'), out);
        }
        self.pending.drain(..start);
        if self.pending.len() > MAX_MESSAGE_BYTES {
            if !self.skipping_line {
                out.push(Frame::TooLarge(self.pending.len()));
            }
            self.skipping_line = true;
            self.pending.clear();
        }
    }

    fn line(&mut self, line: &str, out: &mut Vec<Frame>) {
        if !self.sse {
            if !line.trim().is_empty() {
                out.push(Frame::Message(line.to_string()));
            }
            return;
        }
        // SSE: `data:` lines accumulate; a blank line ends the event.
        if let Some(data) = line.strip_prefix("data:") {
            let data = data.strip_prefix(' ').unwrap_or(data);
            if self.skipping_event {
                return;
            }
            if self.event.len() + data.len() + 1 > MAX_MESSAGE_BYTES {
                self.skipping_event = true;
                out.push(Frame::TooLarge(self.event.len() + data.len()));
                self.event = String::new();
                return;
            }
            if !self.event.is_empty() {
                self.event.push('\n');
            }
            self.event.push_str(data);
        } else if line.is_empty() {
            self.skipping_event = false;
            if !self.event.is_empty() {
                out.push(Frame::Message(std::mem::take(&mut self.event)));
            }
        }
    }
}

/// A polled document's messages: the elements of a JSON array, or the document as
/// one message.
pub fn split_document(text: &str) -> Vec<&str> {
    match serde_json::from_str::<Vec<&RawValue>>(text) {
        Ok(array) => array.into_iter().map(RawValue::get).collect(),
        Err(_) => vec![text],
    }
}
