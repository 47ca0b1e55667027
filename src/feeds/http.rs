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

#[derive(Debug, Clone, PartialEq)]
pub struct HttpSpec {
    pub url: String,
    /// Poll period for JSON documents.
    pub every: Duration,
    /// Longest wait for a response or, in a stream, for the next bytes.
    pub timeout: Duration,
}

fn parse_duration(s: &str) -> Option<Duration> {
    let (n, unit) = s
        .strip_suffix("ms")
        .map(|n| (n, 0.001))
        .or_else(|| s.strip_suffix('s').map(|n| (n, 1.0)))
        .or_else(|| s.strip_suffix('m').map(|n| (n, 60.0)))?;
    let secs = n.parse::<f64>().ok()? * unit;
    (secs.is_finite() && secs > 0.0).then(|| Duration::from_secs_f64(secs))
}

impl HttpSpec {
    pub fn parse(spec: &str) -> Result<Self, String> {
        let (url, fragment) = spec.split_once('#').unwrap_or((spec, ""));
        let mut out = HttpSpec {
            url: url.to_string(),
            every: Duration::from_secs(5),
            timeout: Duration::from_secs(30),
        };
        for opt in fragment.split('&').filter(|o| !o.is_empty()) {
            let (key, value) = opt
                .split_once('=')
                .ok_or(format!("option '{opt}' is not key=value"))?;
            let d = parse_duration(value)
                .ok_or(format!("'{value}' is not a duration like 5s or 250ms"))?;
            match key {
                "every" => out.every = d,
                "timeout" => out.timeout = d,
                _ => return Err(format!("unknown option '{key}' (every, timeout)")),
            }
        }
        reqwest::Url::parse(&out.url).map_err(|e| format!("bad URL: {e}"))?;
        Ok(out)
    }
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

pub async fn run(source: usize, spec: HttpSpec, tx: Sender<FeedEvent>, tls: TlsSetup) {
    let https = spec.url.starts_with("https://");
    let Ok(tls) = source_tls(source, https, &tls, &tx).await else {
        return;
    };
    let client = match super::tls::reqwest_builder(tls.as_ref())
        .connect_timeout(spec.timeout.min(Duration::from_secs(10)))
        .read_timeout(spec.timeout)
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
            Fetch::StreamEnded => {
                backoff.reset();
                live = false;
                if !sink
                    .state(SourceState::Reconnecting(format!(
                        "{}: stream ended; reopening",
                        spec.url
                    )))
                    .await
                {
                    return;
                }
                tokio::time::sleep(Backoff::START).await;
            }
            Fetch::Failed(why) => {
                live = false;
                let why = format!("{}: {why}; retrying in {:.1?}", spec.url, backoff.next());
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
    StreamEnded,
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
    let mut req = client.get(&spec.url).timeout(spec.timeout);
    if let Some(e) = etag.as_deref() {
        req = req.header(IF_NONE_MATCH, e);
    }
    if let Some(m) = modified.as_deref() {
        req = req.header(IF_MODIFIED_SINCE, m);
    }
    let mut resp = match req.send().await {
        Ok(r) => r,
        Err(e) => return Fetch::Failed(super::error_chain(&e)),
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
        return stream(&mut resp, sse, sink).await;
    }
    *etag = header(ETAG);
    *modified = header(LAST_MODIFIED);
    let mut body = Vec::new();
    loop {
        match resp.chunk().await {
            Ok(Some(c)) => {
                body.extend_from_slice(&c);
                if body.len() > MAX_DOCUMENT_BYTES {
                    return Fetch::Failed(format!("document over {MAX_DOCUMENT_BYTES} bytes"));
                }
            }
            Ok(None) => break,
            Err(e) => return Fetch::Failed(super::error_chain(&e)),
        }
    }
    let Ok(text) = std::str::from_utf8(&body) else {
        return Fetch::Failed("response is not UTF-8".into());
    };
    // An array of messages, or a single message.
    let items: Vec<&str> = match serde_json::from_str::<Vec<&RawValue>>(text) {
        Ok(array) => array.into_iter().map(RawValue::get).collect(),
        Err(_) => vec![text],
    };
    for item in items {
        if !sink.message(item).await {
            return Fetch::Gone;
        }
    }
    Fetch::Polled
}

/// Reads a stream to its end: one message per line (NDJSON) or per event (SSE).
async fn stream(resp: &mut reqwest::Response, sse: bool, sink: &mut Sink<'_>) -> Fetch {
    let mut pending: Vec<u8> = Vec::new();
    let mut event_data = String::new();
    // Inside a line too long to keep: drop bytes until its end.
    let mut skipping = false;
    loop {
        let chunk = match resp.chunk().await {
            Ok(Some(c)) => c,
            Ok(None) => return Fetch::StreamEnded,
            Err(e) => return Fetch::Failed(super::error_chain(&e)),
        };
        pending.extend_from_slice(&chunk);
        while let Some(i) = pending.iter().position(|&b| b == b'\n') {
            let line: Vec<u8> = pending.drain(..=i).collect();
            if std::mem::take(&mut skipping) {
                continue;
            }
            let line = String::from_utf8_lossy(&line);
            let line = line.trim_end_matches(['\r', '\n']);
            let message = if sse {
                // SSE: `data:` lines accumulate; a blank line ends the event.
                if let Some(data) = line.strip_prefix("data:") {
                    if !event_data.is_empty() {
                        event_data.push('\n');
                    }
                    event_data.push_str(data.strip_prefix(' ').unwrap_or(data));
                    None
                } else if line.is_empty() && !event_data.is_empty() {
                    Some(std::mem::take(&mut event_data))
                } else {
                    None
                }
            } else {
                (!line.trim().is_empty()).then(|| line.to_string())
            };
            if let Some(m) = message
                && !sink.message(&m).await
            {
                return Fetch::Gone;
            }
        }
        if pending.len() > MAX_MESSAGE_BYTES {
            if !skipping && !sink.too_large(pending.len()).await {
                return Fetch::Gone;
            }
            skipping = true;
            pending.clear();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn specs_parse() {
        let s = HttpSpec::parse("http://h:8080/orders.json#every=250ms&timeout=2s").unwrap();
        assert_eq!(s.url, "http://h:8080/orders.json");
        assert_eq!(
            (s.every, s.timeout),
            (Duration::from_millis(250), Duration::from_secs(2))
        );
        assert!(HttpSpec::parse("http://h/x#every=soon").is_err());
        assert!(HttpSpec::parse("https://h/x").is_ok());
    }
}
