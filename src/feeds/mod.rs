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
pub mod playback;
pub mod record;
pub mod recording;
pub mod replay;
pub mod schema;
pub mod secrets;
pub mod snapshot;
pub mod tls;

use bevy::prelude::*;
use crossbeam_channel::{Receiver, Sender, TrySendError, bounded};
use schema::{DecodeError, FeedMessage};
pub use secrets::{redact, short_name};
use std::path::{Path, PathBuf};
use std::time::Duration;

/// Messages in flight between all sources and the ECS. When full, sources wait.
pub const CHANNEL_CAPACITY: usize = 16_384;

/// A feed source as written in a scene or on the command line.
#[derive(Debug, Clone, PartialEq)]
pub enum FeedSpec {
    /// `replay:PATH[+PATH…][@SPEED][,loop]`: a recording; SPEED is a factor (`4` or
    /// `4x`) or `max` for as fast as the channel takes it; `loop` starts over at the
    /// end. Several files (a day's feeds and the wall's operator journal) play as one,
    /// merged by time.
    Replay {
        paths: Vec<PathBuf>,
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
    #[error(
        "feed '{spec}': bad speed '{speed}' (a number from 0.001 to 1000000, e.g. 4 or 4x, or max)"
    )]
    Speed { spec: String, speed: String },
    #[error("feed '{0}': empty path")]
    EmptyPath(String),
    #[error("{0}")]
    Credentials(String),
}

/// Parses feed specs as written (relative paths against `base`), labels each with
/// its [`redact`]ed text, and gives each network source its credentials.
pub fn resolve(
    specs: &[String],
    base: &Path,
    creds: &secrets::Credentials,
) -> Result<Vec<(String, FeedSpec)>, SpecError> {
    specs
        .iter()
        .map(|text| {
            let mut spec = FeedSpec::parse(text, base)?;
            match &mut spec {
                FeedSpec::Mqtt(m) => m.apply(creds),
                FeedSpec::Http(h) => h.apply(creds),
                FeedSpec::Replay { .. } => {}
            }
            Ok((redact(text), spec))
        })
        .collect()
}

impl FeedSpec {
    /// Warnings to show at start: credentials written in the spec (they belong in
    /// the credentials file) or about to cross the network in the clear.
    pub fn warnings(&self) -> Vec<String> {
        let (inline, shown, plaintext) = match self {
            FeedSpec::Mqtt(m) => (m.inline_secret, m.shown(), m.plaintext_warning()),
            FeedSpec::Http(h) => (h.inline_secret, h.shown(), h.plaintext_warning()),
            FeedSpec::Replay { .. } => return Vec::new(),
        };
        let inline = inline.then(|| {
            format!("{shown}: a password in the feed spec; put it in the credentials file instead")
        });
        inline.into_iter().chain(plaintext).collect()
    }

    /// Parses a spec; relative paths resolve against `base` (the scene's folder, or the
    /// working directory for specs given on the command line).
    pub fn parse(spec_text: &str, base: &Path) -> Result<Self, SpecError> {
        // Errors show the spec without its credentials.
        let shown = redact(spec_text);
        let spec = shown.as_str();
        if let Some(rest) = spec_text.strip_prefix("mqtt://") {
            return mqtt::MqttSpec::parse(rest)
                .map(FeedSpec::Mqtt)
                .map_err(|reason| SpecError::Mqtt {
                    spec: spec.to_string(),
                    reason,
                });
        }
        if spec_text.starts_with("http://") || spec_text.starts_with("https://") {
            return http::HttpSpec::parse(spec_text)
                .map(FeedSpec::Http)
                .map_err(|reason| SpecError::Http {
                    spec: spec.to_string(),
                    reason,
                });
        }
        if let Some(rest) = spec_text.strip_prefix("mqtts://") {
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
                    // Beyond a million times, replay at `max`; below a thousandth, a
                    // message's wait overflows.
                    if !(n.is_finite() && (0.001..=1e6).contains(&n)) {
                        return Err(bad());
                    }
                    Some(n)
                };
                (path, speed)
            }
            None => (rest, Some(1.0)),
        };
        let paths = path
            .split('+')
            .map(|path| {
                if path.is_empty() {
                    return Err(SpecError::EmptyPath(spec.to_string()));
                }
                let path = Path::new(path);
                Ok(if path.is_absolute() {
                    path.to_owned()
                } else {
                    base.join(path)
                })
            })
            .collect::<Result<Vec<_>, _>>()?;
        Ok(FeedSpec::Replay {
            paths,
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
    /// A replay starts its recording over to reach a seek's target (a loop is a seek
    /// to the start): the twin's state starts over, once per seek `generation`, and
    /// what a source sends before its own restart is dropped.
    Restart {
        source: usize,
        generation: u64,
    },
    /// A replay has sent everything dated up to `at` since its restart: the twin's
    /// time is `at`.
    Reached {
        source: usize,
        at: chrono::DateTime<chrono::FixedOffset>,
    },
    /// A replay's first word: the first and last message times of its recording
    /// (its timeline; `None` when it holds no readable message).
    Span {
        source: usize,
        span: Option<(
            chrono::DateTime<chrono::FixedOffset>,
            chrono::DateTime<chrono::FixedOffset>,
        )>,
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

/// Feeds to start, each labelled by its [`redact`]ed spec.
#[derive(Resource, Debug, Clone, Default)]
pub struct FeedConfig {
    pub sources: Vec<(String, FeedSpec)>,
    /// Extra CA certificates for TLS sources and snapshots.
    pub tls_ca: Option<PathBuf>,
    /// This instance's name for MQTT client ids (`--instance`); `None`: claimed per
    /// machine (see [`secrets::Instance`]).
    pub instance: Option<String>,
    /// Redirect and snapshot hosts, control topics.
    pub security: crate::scene::SecuritySpec,
}

impl FeedConfig {
    /// How fast the replays play, for the header's clock: `×4`, `max` (as fast as
    /// they are taken), several speeds joined; `None` when nothing is replayed.
    pub fn replay_speed(&self) -> Option<String> {
        let mut speeds: Vec<String> = Vec::new();
        for (_, spec) in &self.sources {
            if let FeedSpec::Replay { speed, .. } = spec {
                let shown = match speed {
                    Some(s) => format!("×{s}"),
                    None => "max".to_string(),
                };
                if !speeds.contains(&shown) {
                    speeds.push(shown);
                }
            }
        }
        (!speeds.is_empty()).then(|| speeds.join(" "))
    }
}

/// Owns the tokio runtime the sources run on; dropping it stops them.
#[derive(Resource)]
pub struct FeedRuntime {
    _runtime: tokio::runtime::Runtime,
    /// The instance name the MQTT client ids were made from.
    pub instance: secrets::Instance,
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
    for (label, spec) in &config.sources {
        let index = stats.add_source(label);
        let warnings = spec.warnings();
        for warning in &warnings {
            warn!("feed {warning}");
        }
        if !warnings.is_empty() {
            stats.sources[index].last_problem = Some(warnings.join("; "));
        }
    }
    if config.sources.is_empty() {
        return;
    }
    // One timeline for every replay, at the first one's speed.
    let control = config.sources.iter().find_map(|(_, spec)| match spec {
        FeedSpec::Replay { speed, .. } => Some(playback::ReplayControl::new(
            playback::Playback::at_speed(*speed),
        )),
        _ => None,
    });
    if let Some(control) = &control {
        commands.insert_resource(control.clone());
    }
    match spawn_sources(&config, &channel.sender, "wall", control.as_ref()) {
        Ok((runtime, instance)) => commands.insert_resource(FeedRuntime {
            _runtime: runtime,
            instance,
        }),
        Err(e) => error!("cannot start the feed runtime: {e}"),
    }
}

/// Starts a runtime (one worker thread of its own) running every source, each
/// sending into `tx` with its index as the source number. `role` names the program
/// (wall, record, report) in the instance name MQTT client ids are made from.
/// Replays follow `control` (the wall's timeline), or else each plays on its own at
/// its spec's speed.
pub fn spawn_sources(
    config: &FeedConfig,
    tx: &Sender<FeedEvent>,
    role: &str,
    control: Option<&playback::ReplayControl>,
) -> std::io::Result<(tokio::runtime::Runtime, secrets::Instance)> {
    let sources = &config.sources;
    let needs_tls = sources.iter().any(|(_, spec)| match spec {
        FeedSpec::Mqtt(m) => m.tls && m.client_cert.is_none(),
        FeedSpec::Http(h) => h.url.starts_with("https://"),
        FeedSpec::Replay { .. } => false,
    });
    let tls_ca = config.tls_ca.as_deref();
    let tls = tls::setup(needs_tls, tls_ca);
    let needs_instance = sources
        .iter()
        .any(|(_, s)| matches!(s, FeedSpec::Mqtt(m) if m.client_id.is_none()));
    let instance = if needs_instance {
        secrets::Instance::claim(config.instance.as_deref(), role)
    } else {
        secrets::Instance::claim(Some(role), role)
    };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .thread_name("citytwin-feeds")
        .enable_time()
        .enable_io()
        .build()?;
    for (index, (_, spec)) in sources.iter().enumerate() {
        let tx = tx.clone();
        let watch_tx = tx.clone();
        let task = match spec.clone() {
            FeedSpec::Replay {
                paths,
                speed,
                looping,
            } => runtime.spawn(replay::run(
                index,
                paths,
                speed,
                looping,
                control.cloned(),
                tx,
            )),
            FeedSpec::Mqtt(spec) => {
                // A client certificate makes the source's TLS configuration its own.
                let tls = match &spec.client_cert {
                    Some((cert, key)) if spec.tls => Some(tls::client_config_with(
                        tls_ca,
                        Some((cert.as_path(), key.as_path())),
                    )),
                    _ => tls.clone(),
                };
                runtime.spawn(mqtt::run(
                    index,
                    spec,
                    tx,
                    tls,
                    instance.name.clone(),
                    config.security.control_topics.clone(),
                ))
            }
            FeedSpec::Http(spec) => runtime.spawn(http::run(
                index,
                spec,
                tx,
                tls.clone(),
                config.security.redirect_hosts.clone(),
            )),
        };
        // A source that panics is shown as failed, with why, not left silent.
        runtime.spawn(async move {
            if let Err(e) = task.await
                && e.is_panic()
            {
                let why = format!("the source stopped: {}", crate::panic_text(&e.into_panic()));
                send(
                    &watch_tx,
                    FeedEvent::State {
                        source: index,
                        state: SourceState::Failed(why),
                    },
                )
                .await;
            }
        });
    }
    Ok((runtime, instance))
}
