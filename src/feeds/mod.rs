//! Live and recorded feeds: message types, source specs, the tokio runtime that runs
//! the sources, and the ingest system that applies messages to the ECS.
//!
//! Sources run on a tokio runtime owned by [`FeedRuntime`] (its own thread, never
//! Bevy's task pools) and send decoded, validated messages through one bounded
//! crossbeam channel; [`ingest`] drains it each frame within a time budget.

pub mod bench;
pub mod http;
pub mod ingest;
pub mod mqtt;
pub mod record;
pub mod replay;
pub mod schema;
pub mod snapshot;
pub mod tls;

use bevy::prelude::*;
use crossbeam_channel::{Receiver, Sender, TrySendError, bounded};
use schema::{DecodeError, FeedMessage};
use std::path::{Path, PathBuf};
use std::time::Duration;

/// Messages in flight between all sources and the ECS. When full, sources wait.
pub const CHANNEL_CAPACITY: usize = 16_384;

/// A feed source as written in a scene or on the command line.
#[derive(Debug, Clone, PartialEq)]
pub enum FeedSpec {
    /// `replay:PATH[@SPEED][,loop]`: a recording; SPEED is a factor (`4` or `4x`) or
    /// `max` for as fast as the channel takes it; `loop` starts over at the end.
    Replay {
        path: PathBuf,
        speed: Option<f64>,
        looping: bool,
    },
    /// `mqtt://[user@]host:port/topic-filter`: QoS 1, persistent session.
    Mqtt(mqtt::MqttSpec),
    /// `http://…[#every=5s&timeout=30s]`: polled JSON or a stream (NDJSON, SSE).
    Http(http::HttpSpec),
}

#[derive(Debug, thiserror::Error, PartialEq)]
pub enum SpecError {
    #[error(
        "feed '{0}': unknown scheme (supported: replay:PATH[@SPEED][,loop], mqtt(s)://[user@]host:port/topic, http(s)://…)"
    )]
    Scheme(String),
    #[error("feed '{spec}': {reason}")]
    Mqtt { spec: String, reason: String },
    #[error("feed '{spec}': {reason}")]
    Http { spec: String, reason: String },
    #[error("feed '{spec}': bad speed '{speed}' (a positive number, e.g. 4 or 4x, or max)")]
    Speed { spec: String, speed: String },
    #[error("feed '{0}': empty path")]
    EmptyPath(String),
}

impl FeedSpec {
    /// Parses a spec; relative paths resolve against `base` (the scene's folder, or the
    /// working directory for specs given on the command line).
    pub fn parse(spec: &str, base: &Path) -> Result<Self, SpecError> {
        if let Some(rest) = spec.strip_prefix("mqtt://") {
            return mqtt::MqttSpec::parse(rest)
                .map(FeedSpec::Mqtt)
                .map_err(|reason| SpecError::Mqtt {
                    spec: spec.to_string(),
                    reason,
                });
        }
        if spec.starts_with("http://") || spec.starts_with("https://") {
            return http::HttpSpec::parse(spec)
                .map(FeedSpec::Http)
                .map_err(|reason| SpecError::Http {
                    spec: spec.to_string(),
                    reason,
                });
        }
        if let Some(rest) = spec.strip_prefix("mqtts://") {
            return mqtt::MqttSpec::parse(rest)
                .map(|s| FeedSpec::Mqtt(mqtt::MqttSpec { tls: true, ..s }))
                .map_err(|reason| SpecError::Mqtt {
                    spec: spec.to_string(),
                    reason,
                });
        }
        let Some(rest) = spec.strip_prefix("replay:") else {
            return Err(SpecError::Scheme(spec.to_string()));
        };
        let (rest, looping) = match rest.strip_suffix(",loop") {
            Some(r) => (r, true),
            None => (rest, false),
        };
        let (path, speed) = match rest.rsplit_once('@') {
            Some((path, speed_text)) => {
                let bad = || SpecError::Speed {
                    spec: spec.to_string(),
                    speed: speed_text.to_string(),
                };
                let speed = if speed_text.eq_ignore_ascii_case("max") {
                    None
                } else {
                    let n: f64 = speed_text
                        .trim_end_matches('x')
                        .parse()
                        .map_err(|_| bad())?;
                    if !(n.is_finite() && n > 0.0) {
                        return Err(bad());
                    }
                    Some(n)
                };
                (path, speed)
            }
            None => (rest, Some(1.0)),
        };
        if path.is_empty() {
            return Err(SpecError::EmptyPath(spec.to_string()));
        }
        let path = Path::new(path);
        let path = if path.is_absolute() {
            path.to_owned()
        } else {
            base.join(path)
        };
        Ok(FeedSpec::Replay {
            path,
            speed,
            looping,
        })
    }
}

/// Where a source stands, shown in the feeds panel.
#[derive(Debug, Clone, PartialEq)]
pub enum SourceState {
    Starting,
    Live,
    /// Lost the connection; the text says why and when the next try is.
    Reconnecting(String),
    Finished,
    Failed(String),
}

/// What sources send to the ECS.
#[derive(Debug, Clone)]
pub enum FeedEvent {
    Message {
        source: usize,
        message: FeedMessage,
    },
    Rejected {
        source: usize,
        line: u64,
        error: DecodeError,
    },
    State {
        source: usize,
        state: SourceState,
    },
}

/// The ECS end of the feed channel; tests may send into `sender` directly.
#[derive(Resource, Clone)]
pub struct FeedChannel {
    pub sender: Sender<FeedEvent>,
    pub receiver: Receiver<FeedEvent>,
}

impl Default for FeedChannel {
    fn default() -> Self {
        let (sender, receiver) = bounded(CHANNEL_CAPACITY);
        Self { sender, receiver }
    }
}

/// A feed spec or URL as it may be shown: any `user:password@` part removed.
pub fn redact(spec: &str) -> String {
    match spec.split_once("://") {
        Some((scheme, rest)) => {
            let end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
            match rest[..end].rfind('@') {
                Some(at) => format!("{scheme}://{}", &rest[at + 1..]),
                None => spec.to_string(),
            }
        }
        None => spec.to_string(),
    }
}

/// Feeds to start, labelled as the user wrote them.
#[derive(Resource, Debug, Clone, Default)]
pub struct FeedConfig {
    pub sources: Vec<(String, FeedSpec)>,
    /// Extra CA certificates for TLS sources and snapshots.
    pub tls_ca: Option<PathBuf>,
}

/// Owns the tokio runtime the sources run on; dropping it stops them.
#[derive(Resource)]
pub struct FeedRuntime {
    _runtime: tokio::runtime::Runtime,
}

/// Exponential backoff between reconnection attempts, shared by the network sources:
/// 250 ms doubling up to 30 s, back to the start after a success.
pub(crate) struct Backoff(Duration);

impl Backoff {
    pub(crate) const START: Duration = Duration::from_millis(250);
    const MAX: Duration = Duration::from_secs(30);

    pub(crate) fn new() -> Self {
        Self(Self::START)
    }

    pub(crate) fn reset(&mut self) {
        self.0 = Self::START;
    }

    /// The wait the next `sleep` will take.
    pub(crate) fn next(&self) -> Duration {
        self.0
    }

    pub(crate) async fn sleep(&mut self) {
        tokio::time::sleep(self.0).await;
        self.0 = (self.0 * 2).min(Self::MAX);
    }
}

/// Sends without blocking the runtime thread: waits while the channel is full (so a
/// fast source slows down instead of losing messages). False once the app is gone.
pub(crate) async fn send(tx: &Sender<FeedEvent>, mut event: FeedEvent) -> bool {
    loop {
        match tx.try_send(event) {
            Ok(()) => return true,
            Err(TrySendError::Full(back)) => {
                event = back;
                tokio::time::sleep(Duration::from_millis(2)).await;
            }
            Err(TrySendError::Disconnected(_)) => return false,
        }
    }
}

/// An error with its causes, `outer: inner: innermost`: reqwest's own message alone
/// ("error sending request") does not say that a certificate was refused.
pub fn error_chain(e: &dyn std::error::Error) -> String {
    let mut text = e.to_string();
    let mut cause = e.source();
    while let Some(c) = cause {
        let next = c.to_string();
        if !text.contains(&next) {
            text = format!("{text}: {next}");
        }
        cause = c.source();
    }
    text
}

/// The TLS configuration for a source: `None` when it needs none; when it needs one
/// that could not be built, the source is reported failed and `Err` returned.
pub(crate) async fn source_tls(
    source: usize,
    needed: bool,
    tls: &tls::TlsSetup,
    tx: &Sender<FeedEvent>,
) -> Result<Option<std::sync::Arc<rustls::ClientConfig>>, ()> {
    if !needed {
        return Ok(None);
    }
    let why = match tls {
        Some(Ok(config)) => return Ok(Some(config.clone())),
        Some(Err(why)) => why.clone(),
        None => "TLS was not set up for this source".to_string(),
    };
    send(
        tx,
        FeedEvent::State {
            source,
            state: SourceState::Failed(why),
        },
    )
    .await;
    Err(())
}

pub(super) fn plugin(app: &mut App) {
    app.init_resource::<FeedChannel>()
        .init_resource::<FeedConfig>()
        .add_systems(Startup, start_sources);
    ingest::plugin(app);
    snapshot::plugin(app);
}

fn start_sources(
    mut commands: Commands,
    config: Res<FeedConfig>,
    channel: Res<FeedChannel>,
    mut stats: ResMut<ingest::FeedStats>,
) {
    for (label, _) in &config.sources {
        stats.add_source(label);
    }
    if config.sources.is_empty() {
        return;
    }
    match spawn_sources(&config.sources, &channel.sender, config.tls_ca.as_deref()) {
        Ok(runtime) => commands.insert_resource(FeedRuntime { _runtime: runtime }),
        Err(e) => error!("cannot start the feed runtime: {e}"),
    }
}

/// Starts a runtime (one worker thread of its own) running every source, each
/// sending into `tx` with its index as the source number.
pub fn spawn_sources(
    sources: &[(String, FeedSpec)],
    tx: &Sender<FeedEvent>,
    tls_ca: Option<&Path>,
) -> std::io::Result<tokio::runtime::Runtime> {
    let needs_tls = sources.iter().any(|(_, spec)| match spec {
        FeedSpec::Mqtt(m) => m.tls,
        FeedSpec::Http(h) => h.url.starts_with("https://"),
        FeedSpec::Replay { .. } => false,
    });
    let tls = tls::setup(needs_tls, tls_ca);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .thread_name("citytwin-feeds")
        .enable_time()
        .enable_io()
        .build()?;
    for (index, (_, spec)) in sources.iter().enumerate() {
        let tx = tx.clone();
        match spec.clone() {
            FeedSpec::Replay {
                path,
                speed,
                looping,
            } => {
                runtime.spawn(replay::run(index, path, speed, looping, tx));
            }
            FeedSpec::Mqtt(spec) => {
                runtime.spawn(mqtt::run(index, spec, tx, tls.clone()));
            }
            FeedSpec::Http(spec) => {
                runtime.spawn(http::run(index, spec, tx, tls.clone()));
            }
        }
    }
    Ok(runtime)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn replay_specs_parse() {
        let base = Path::new("/scenes");
        assert_eq!(
            FeedSpec::parse("replay:../feeds/a.ndjson@4x,loop", base),
            Ok(FeedSpec::Replay {
                path: "/scenes/../feeds/a.ndjson".into(),
                speed: Some(4.0),
                looping: true
            })
        );
        assert_eq!(
            FeedSpec::parse("replay:/tmp/a.ndjson@max", base),
            Ok(FeedSpec::Replay {
                path: "/tmp/a.ndjson".into(),
                speed: None,
                looping: false
            })
        );
        assert!(matches!(
            FeedSpec::parse("replay:a@-2", base),
            Err(SpecError::Speed { .. })
        ));
        assert!(matches!(
            FeedSpec::parse("kafka://x", base),
            Err(SpecError::Scheme(_))
        ));
        assert!(matches!(
            FeedSpec::parse("mqtt://x", base),
            Err(SpecError::Mqtt { .. })
        ));
        assert!(matches!(
            FeedSpec::parse("mqtt://h:1883/city/#", base),
            Ok(FeedSpec::Mqtt(_))
        ));
    }
}
