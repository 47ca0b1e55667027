//! Full-state checkpoints: the twin's whole state at a moment of a recording — every
//! device and camera, work orders and projects, the feed's per-id times, alerts with
//! their rule timers, the order book with its deadlines, heartbeats, the mode, key
//! vehicles, the counts and the KPI history — so a replay that seeks starts from the
//! nearest checkpoint before its target instead of from the recording's start, and
//! arrives at exactly the state a play from the start gives.
//!
//! A checkpoint is taken between two messages of a recording ([`capture`]: every
//! message before it applied and judged, none after) and written as a `checkpoint`
//! message dated at the twin's time then. A replay that starts a pass at one restores
//! it: ingest puts back the feed state ([`crate::feeds::ingest::FeedState`]) and
//! [`restore`] the operations state, in the frame the checkpoint is applied.

use super::alerts::Alerts;
use super::heartbeats::HeartbeatWatch;
use super::history::KpiHistory;
use super::modes::{ModeSwitch, OperatingState};
use super::orders::OrderBook;
use super::vehicles::Vehicles;
use super::{OrderCounts, TwinClock};
use crate::TwinSet;
use crate::feeds::ingest::{CheckpointReached, FeedState};
use crate::feeds::schema::{
    Checkpoint, FeedBody, FeedMessage, OperatingMode, StateJson, VehicleReport,
};
use bevy::prelude::*;
use chrono::{DateTime, FixedOffset};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// The twin's whole state at `at`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct TwinState {
    /// The twin's time: the newest message applied.
    pub at: DateTime<FixedOffset>,
    pub feeds: FeedState,
    pub ops: OpsSnapshot,
}

impl TwinState {
    /// Decodes a state from its JSON, its feed and operations parts at once on two
    /// threads (a city's state is megabytes: a seek waits for it).
    pub fn decode(json: &str) -> Result<Self, String> {
        #[derive(Deserialize)]
        struct Parts<'a> {
            at: DateTime<FixedOffset>,
            #[serde(borrow)]
            feeds: &'a serde_json::value::RawValue,
            #[serde(borrow)]
            ops: &'a serde_json::value::RawValue,
        }
        let parts: Parts = serde_json::from_str(json).map_err(|e| e.to_string())?;
        let (feeds, ops) = std::thread::scope(|s| {
            let feeds = s.spawn(|| serde_json::from_str::<FeedState>(parts.feeds.get()));
            let ops = serde_json::from_str::<OpsSnapshot>(parts.ops.get());
            (feeds.join(), ops)
        });
        let feeds = feeds
            .map_err(|_| "decoding its feeds' state panicked".to_string())?
            .map_err(|e| format!("feeds: {e}"))?;
        let ops = ops.map_err(|e| format!("ops: {e}"))?;
        Ok(Self {
            at: parts.at,
            feeds,
            ops,
        })
    }
}

/// The operations state (the KPI history's samples travel in the checkpoint's
/// `history`).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct OpsSnapshot {
    pub alerts: Alerts,
    pub book: OrderBook,
    pub watch: HeartbeatWatch,
    pub mode: OperatingMode,
    pub mode_history: Vec<ModeSwitch>,
    pub vehicles: BTreeMap<String, (DateTime<FixedOffset>, VehicleReport)>,
    pub order_counts: OrderCounts,
    /// The last minute the history sampled.
    pub history_minute: Option<i64>,
}

/// The checkpoint of the twin's state now, as a recording's message: for an app
/// whose ingest has applied every message before this point and none after (see
/// [`crate::feeds::ingest::IngestConfig::hold_from`]) and whose systems have run
/// since. Secrets in camera addresses are left out, as in every recording.
pub fn capture(world: &World) -> FeedMessage {
    let feeds = crate::feeds::ingest::capture(world);
    let at = feeds
        .latest_ts
        .unwrap_or_else(|| world.resource::<TwinClock>().now());
    let mode = world.resource::<OperatingState>();
    let labels: Vec<String> = world
        .resource::<crate::feeds::ingest::FeedStats>()
        .sources
        .iter()
        .map(|s| crate::feeds::redact(&s.label))
        .collect();
    let history = world.resource::<KpiHistory>();
    let history_minute = history.last_minute();
    let state = TwinState {
        at,
        feeds,
        ops: OpsSnapshot {
            alerts: world.resource::<Alerts>().clone(),
            book: world.resource::<OrderBook>().clone(),
            watch: world.resource::<HeartbeatWatch>().clone(),
            mode: mode.mode,
            mode_history: mode
                .history
                .iter()
                .cloned()
                .map(|mut m| {
                    m.by = unlabelled(&m.by, &labels);
                    m
                })
                .collect(),
            vehicles: world.resource::<Vehicles>().0.clone(),
            order_counts: world.resource::<OrderCounts>().clone(),
            history_minute,
        },
    };
    let json = serde_json::value::to_raw_value(&state)
        .expect("the twin's state serializes to JSON without fallible parts");
    // Every sample so far, the current minute's counts among them.
    let upto = history_minute
        .unwrap_or(i64::MIN)
        .max(at.timestamp().div_euclid(60))
        + 1;
    FeedMessage {
        ts: at,
        body: FeedBody::Checkpoint(Box::new(Checkpoint {
            history: history.checkpoint(upto),
            state: Some(StateJson::new(json)),
        })),
    }
}

/// Plays a headless app's one replay (made, not yet updated) and takes a checkpoint
/// at each of `times` (in order): the state after every message dated before it.
/// Returns each time with its checkpoint, up to the recording's end; at most `limit`
/// of real time.
pub fn take(
    app: &mut App,
    times: &[DateTime<FixedOffset>],
    limit: std::time::Duration,
) -> Result<Vec<(DateTime<FixedOffset>, FeedMessage)>, String> {
    use crate::feeds::ingest::{Backlog, FeedStats, IngestConfig};
    let started = std::time::Instant::now();
    app.world_mut().resource_mut::<IngestConfig>().paused = true;
    super::report::load_city(app, limit)?;
    let mut out = Vec::new();
    for &t in times {
        {
            let mut config = app.world_mut().resource_mut::<IngestConfig>();
            config.paused = false;
            config.hold_from = Some(t);
        }
        loop {
            app.update();
            let world = app.world();
            if world.resource::<Backlog>().holding {
                break;
            }
            let sources = &world.resource::<FeedStats>().sources;
            let finished = !sources.is_empty()
                && sources.iter().all(|s| {
                    matches!(
                        s.state,
                        crate::feeds::SourceState::Finished | crate::feeds::SourceState::Failed(_)
                    )
                });
            let drained = world.resource::<Backlog>().is_empty()
                && world
                    .resource::<crate::feeds::FeedChannel>()
                    .receiver
                    .is_empty();
            if finished && drained {
                return Ok(out);
            }
            if started.elapsed() > limit {
                return Err(format!("the recording did not reach {t} within {limit:?}"));
            }
            if world
                .resource::<crate::feeds::FeedChannel>()
                .receiver
                .is_empty()
            {
                std::thread::sleep(std::time::Duration::from_micros(200));
            }
        }
        out.push((t, capture(app.world())));
    }
    Ok(out)
}

/// Stands for the feed a mode switch came on, in a checkpoint: the feed that plays the
/// checkpoint is named there when it is restored.
pub const FEED: &str = "({feed})";

/// A switch's `by` without the feed it came on (`指挥中心 (replay:…)` →
/// `指挥中心 ({feed})`), which is the player's, not the recording's.
fn unlabelled(by: &str, labels: &[String]) -> String {
    labels
        .iter()
        .find_map(|l| by.strip_suffix(&format!("({l})")))
        .map_or_else(|| by.to_string(), |who| format!("{who}{FEED}"))
}

/// A restored switch's `by`, naming the feed that played the checkpoint.
pub fn labelled(by: &str, label: &str) -> String {
    match by.strip_suffix(FEED) {
        Some(who) => format!("{who}({label})"),
        None => by.to_string(),
    }
}

pub(super) fn plugin(app: &mut App) {
    app.add_systems(
        Update,
        // After the state started over for the seek, before anything that reads it.
        restore
            .after(super::start_over)
            .before(super::heartbeats::expire_silent_devices)
            .before(super::OpsSet::Rules)
            .in_set(TwinSet::Ops),
    );
}

/// Puts a checkpoint's operations state in place (ingest has put its feed state).
pub(super) fn restore(
    mut reached: MessageReader<CheckpointReached>,
    mut alerts: ResMut<Alerts>,
    mut book: ResMut<OrderBook>,
    mut watch: ResMut<HeartbeatWatch>,
    mut mode: ResMut<OperatingState>,
    mut vehicles: ResMut<Vehicles>,
    mut counts: ResMut<OrderCounts>,
    mut history: ResMut<KpiHistory>,
    entities: Res<crate::feeds::ingest::FeedEntities>,
) {
    for r in reached.read() {
        let Some(ops) = &r.ops else { continue };
        let ops: &OpsSnapshot = ops;
        info!(
            "operations state restored from the checkpoint at {}: {} alerts, {} orders",
            r.ts,
            ops.alerts.list.len(),
            ops.book.orders.len()
        );
        *alerts = ops.alerts.clone();
        *book = ops.book.clone();
        book.renew();
        *watch = ops.watch.restored(&entities);
        mode.mode = ops.mode;
        mode.history = ops.mode_history.clone();
        vehicles.0 = ops.vehicles.clone();
        *counts = ops.order_counts.clone();
        history.set_last_minute(ops.history_minute);
    }
}

/// `TimeDelta` as whole milliseconds.
pub mod millis {
    use chrono::TimeDelta;
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(d: &TimeDelta, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_i64(d.num_milliseconds())
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<TimeDelta, D::Error> {
        i64::deserialize(d).map(TimeDelta::milliseconds)
    }
}

/// A map whose keys are not strings (JSON object keys must be), as a list of pairs.
pub mod pairs {
    use bevy::platform::collections::HashMap;
    use serde::{Deserialize, Deserializer, Serialize, Serializer};
    use std::hash::Hash;

    pub fn serialize<K: Serialize, V: Serialize, S: Serializer>(
        map: &HashMap<K, V>,
        s: S,
    ) -> Result<S::Ok, S::Error> {
        s.collect_seq(map.iter())
    }

    pub fn deserialize<'de, K, V, D>(d: D) -> Result<HashMap<K, V>, D::Error>
    where
        K: Deserialize<'de> + Eq + Hash,
        V: Deserialize<'de>,
        D: Deserializer<'de>,
    {
        Vec::<(K, V)>::deserialize(d).map(|v| v.into_iter().collect())
    }
}

/// Calls `f` with every message of the recording at `path` (MCAP or NDJSON) in file
/// order; what is not a message is passed over. Checkpoints of the twin's state it
/// already holds are left out.
fn each_message(
    path: &std::path::Path,
    mut f: impl FnMut(FeedMessage) -> anyhow::Result<()>,
) -> anyhow::Result<()> {
    use crate::feeds::recording;
    use anyhow::Context;
    let mut keep = |m: FeedMessage| {
        if m.body.holds_state() { Ok(()) } else { f(m) }
    };
    if recording::is_mcap(path).with_context(|| format!("reading {}", path.display()))? {
        let mut rec = recording::Recording::open(path).map_err(anyhow::Error::msg)?;
        for i in 0..rec.chunks.len() {
            for entry in rec.read_chunk(i).unwrap_or_default() {
                if let Ok(m) = recording::decode(&entry) {
                    keep(m)?;
                }
            }
        }
        return Ok(());
    }
    let text =
        std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    for line in text.lines() {
        if let Ok(m) = FeedMessage::decode(line.trim_end()) {
            keep(m)?;
        }
    }
    Ok(())
}

/// Writes `output` (MCAP): the messages of the recording `input` with a checkpoint
/// of the twin's state (the twin of `options`, its feeds replaced by the recording)
/// every `every` of recorded time from its first message. Returns the checkpoints
/// written.
pub fn add_checkpoints(
    options: &crate::TwinOptions,
    input: &std::path::Path,
    output: &std::path::Path,
    every: chrono::TimeDelta,
    level: u32,
) -> anyhow::Result<usize> {
    let Some((first, last)) = crate::feeds::recording::time_span(input) else {
        anyhow::bail!("{}: no messages", input.display());
    };
    anyhow::ensure!(
        every > chrono::TimeDelta::zero(),
        "checkpoints need a positive interval"
    );
    let times: Vec<_> = (1..)
        .map(|i| first + every * i)
        .take_while(|t| *t <= last)
        .collect();
    let mut app = crate::headless_app(&options.clone().replaying(input));
    let states = take(&mut app, &times, std::time::Duration::from_secs(3600))
        .map_err(|e| anyhow::anyhow!("playing {}: {e}", input.display()))?;
    drop(app);
    let written = states.len();
    let meta = crate::feeds::recording::Recording::open(input)
        .map(|r| r.metadata)
        .unwrap_or_default();
    let mut out = crate::feeds::recording::RecordingWriter::create(output, &meta, level)?;
    let mut states = states.into_iter().peekable();
    each_message(input, |m| {
        while let Some((_, state)) = states.next_if(|(before, _)| m.ts >= *before) {
            out.write(&state)?;
        }
        out.write(&m)
    })?;
    out.finish()?;
    Ok(written)
}
