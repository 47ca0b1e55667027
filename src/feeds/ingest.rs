//! Ingest: drains the feed channel each frame within a time budget and applies the
//! messages to entities keyed by feed id. State changes leave as Bevy messages.

use super::schema::{
    CameraReport, DeviceKind, DeviceReport, DeviceStatus, FeedBody, FeedMessage, ModeChange,
    OrderStatus, ProjectPhase, ProjectUpdate, Reading, Text, VehicleReport, WorkOrderEvent,
};
use super::{FeedChannel, FeedEvent, SourceState};
use crate::TwinSet;
use crate::geo::{LonLat, SceneFrame};
use bevy::platform::collections::HashMap;
use bevy::prelude::*;
use chrono::{DateTime, FixedOffset};
use std::collections::{BTreeMap, VecDeque};
use std::time::{Duration, Instant};

/// Longest time one frame spends applying feed messages.
pub const INGEST_BUDGET: Duration = Duration::from_millis(4);
/// Once the budget is spent, time a frame may spend moving waiting messages from the
/// channel into the backlog, where repeated device reports coalesce.
pub const BACKLOG_PULL_BUDGET: Duration = Duration::from_millis(1);
/// Messages the backlog holds at most; when full, the channel fills and sources wait.
pub const BACKLOG_CAPACITY: usize = 65_536;
/// Log the first few rejections of a source, then one in this many.
const LOG_EVERY_NTH_REJECTION: u64 = 1000;
const LOG_FIRST_REJECTIONS: u64 = 10;
/// Markers float this high above ground.
pub const MARKER_HEIGHT_M: f32 = 8.0;

/// Counters and health of one source.
#[derive(Debug, Clone)]
pub struct SourceStats {
    pub label: String,
    pub state: SourceState,
    pub received: u64,
    pub applied: u64,
    /// Device and camera reports replaced by a newer one of the same status while both
    /// waited to be applied (latest wins; only under pressure).
    pub coalesced: u64,
    pub rejected: BTreeMap<&'static str, u64>,
    pub last_problem: Option<String>,
    pub last_message_at: Option<Instant>,
    /// When the source last became live.
    pub live_since: Option<Instant>,
    /// Newest message time applied from this source since it (re)started: a replay
    /// that loops starts its clock over.
    pub latest_ts: Option<DateTime<FixedOffset>>,
    /// Time of the last work order, project update (per [`Record::SLOT`]) and vehicle
    /// report (slot 2) applied per id,
    /// to refuse older ones that would undo newer state. Reset when the source
    /// (re)starts. (Devices and cameras keep theirs with their entity, see `Tracked`.)
    last_ts_by_id: [HashMap<Text, DateTime<FixedOffset>>; 3],
    /// Time of the message last applied per work order and project, kept when the
    /// source restarts: a QoS 1 message the broker hands on again after a reconnect
    /// (same time, same content) is a duplicate, not a second application.
    applied_ts_by_id: [HashMap<Text, DateTime<FixedOffset>>; 2],
    /// Time from a message's `ts` to its being applied, in microseconds, when
    /// [`IngestConfig::measure_lag`] is on (live feeds stamped at publication).
    pub lag_us: Option<hdrhistogram::Histogram<u64>>,
    /// Counts the times the source went live, so marker times of an earlier run
    /// (a replay that looped) do not count as newer.
    run: u32,
    /// A replay's recording: its first and last message times (see
    /// [`FeedEvent::Span`]); `None` for live sources and empty recordings.
    pub span: Option<(DateTime<FixedOffset>, DateTime<FixedOffset>)>,
    /// A replay (it follows the timeline, see [`crate::feeds::playback`]).
    pub replay: bool,
    /// The seek this source last restarted for; while it is behind
    /// [`FeedStats::generation`], what it sends belongs to the time before the seek
    /// and is dropped.
    generation: u64,
    /// Restarted for a seek and not yet at its target.
    pub seeking: bool,
    /// Messages dropped because a seek overtook them.
    pub dropped_by_seek: u64,
}

/// A source's health as the feeds panel shows it.
#[derive(Debug, Clone, PartialEq)]
pub enum Health {
    Starting,
    Live,
    /// Connected, but nothing has arrived for this long.
    Stale(Duration),
    Reconnecting,
    Finished,
    Failed,
}

impl SourceStats {
    /// How many times the source went live: a replay that loops goes live again at
    /// each pass, a network source at each reconnection.
    pub fn runs(&self) -> u32 {
        self.run
    }

    pub fn rejected_total(&self) -> u64 {
        self.rejected.values().sum()
    }

    /// Live sources that have been quiet for longer than `stale_after` are stale.
    pub fn health(&self, now: Instant, stale_after: Duration) -> Health {
        match &self.state {
            SourceState::Starting => Health::Starting,
            SourceState::Reconnecting(_) => Health::Reconnecting,
            SourceState::Finished => Health::Finished,
            SourceState::Failed(_) => Health::Failed,
            SourceState::Live => {
                let since = self.last_message_at.or(self.live_since).unwrap_or(now);
                let quiet = now.saturating_duration_since(since);
                if quiet > stale_after {
                    Health::Stale(quiet)
                } else {
                    Health::Live
                }
            }
        }
    }
}

/// How long a connected source may stay silent before the panel calls it stale.
pub const DEFAULT_STALE_AFTER: Duration = Duration::from_secs(60);

#[derive(Resource, Debug)]
pub struct FeedStats {
    pub sources: Vec<SourceStats>,
    pub stale_after: Duration,
    /// The newest seek the twin's state was started over for.
    pub generation: u64,
    /// Counts the times the twin's state started over (seeks and loops): the
    /// operations state starts over with it (see [`crate::ops::clock`]).
    pub restarts: u64,
    /// The newest seek's target, once every replay has played up to it.
    pub reached: Option<DateTime<FixedOffset>>,
}

impl Default for FeedStats {
    fn default() -> Self {
        Self {
            sources: Vec::new(),
            stale_after: DEFAULT_STALE_AFTER,
            generation: 0,
            restarts: 0,
            reached: None,
        }
    }
}

impl FeedStats {
    /// The newest message time over all sources: the twin's notion of "now".
    pub fn latest_ts(&self) -> Option<DateTime<FixedOffset>> {
        self.sources.iter().filter_map(|s| s.latest_ts).max()
    }

    pub fn add_source(&mut self, label: &str) -> usize {
        self.sources.push(SourceStats {
            label: label.to_string(),
            state: SourceState::Starting,
            received: 0,
            applied: 0,
            coalesced: 0,
            lag_us: None,
            run: 0,
            rejected: BTreeMap::new(),
            last_problem: None,
            last_message_at: None,
            live_since: None,
            latest_ts: None,
            last_ts_by_id: Default::default(),
            applied_ts_by_id: Default::default(),
            span: None,
            replay: false,
            generation: 0,
            seeking: false,
            dropped_by_seek: 0,
        });
        self.sources.len() - 1
    }

    fn source(&mut self, index: usize) -> &mut SourceStats {
        while self.sources.len() <= index {
            let n = self.sources.len();
            self.add_source(&format!("source {n}"));
        }
        &mut self.sources[index]
    }

    fn reject(&mut self, index: usize, label: &'static str, why: String) {
        let s = self.source(index);
        *s.rejected.entry(label).or_default() += 1;
        let total = s.rejected_total();
        if total <= LOG_FIRST_REJECTIONS || total.is_multiple_of(LOG_EVERY_NTH_REJECTION) {
            warn!("feed {}: rejected ({total} so far): {why}", s.label);
        }
        s.last_problem = Some(why);
    }
}

/// The feed's id of an entity (device or camera).
#[derive(Component, Debug, Clone, PartialEq, Eq, Hash)]
pub struct FeedId(pub Text);

/// An IoT device on the map.
#[derive(Component, Debug, Clone)]
pub struct IotDevice {
    pub kind: DeviceKind,
}

/// A video camera on the map (named so as not to clash with Bevy's render `Camera`).
#[derive(Component, Debug, Clone, Default, serde::Serialize, serde::Deserialize)]
pub struct VideoCamera {
    pub heading_deg: Option<f64>,
    pub fov_deg: Option<f64>,
    pub range_m: Option<f64>,
    pub stream_url: Option<String>,
    pub snapshot_url: Option<String>,
}

#[derive(Component, Debug, Clone, Copy, PartialEq, Eq)]
pub struct Status(pub DeviceStatus);

#[derive(Component, Debug, Clone, Copy, PartialEq)]
pub struct GeoPosition(pub LonLat);

/// Where a marker stands in the scene's world frame (metres; y is the height it floats
/// at). Plain data: the wall gives a marker a `Transform` and a mesh only while it is
/// near the view, so the engine's per-frame transform and visibility passes never
/// walk a city's worth of devices.
#[derive(Component, Debug, Clone, Copy, PartialEq)]
pub struct MarkerAt(pub Vec3);

#[derive(Component, Debug, Clone, Default)]
pub struct Readings(pub Vec<Reading>);

#[derive(Component, Debug, Clone)]
pub struct DisplayName(pub String);

#[derive(Component, Debug, Clone)]
pub struct GridRef(pub String);

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum EntityKind {
    Device,
    Camera,
}

impl EntityKind {
    /// The message kind that reports it.
    fn name(self) -> &'static str {
        match self {
            EntityKind::Device => "device",
            EntityKind::Camera => "camera",
        }
    }
}

#[derive(Debug, Clone, Copy)]
struct Tracked {
    entity: Entity,
    kind: EntityKind,
    status: DeviceStatus,
    /// Time of the last report applied, the source it came from and that source's
    /// run: a report older than this from the same run of the same source is late.
    ts: DateTime<FixedOffset>,
    source: usize,
    run: u32,
    /// Promised report interval in seconds; 0 when the device promised none.
    heartbeat_s: u32,
}

/// Feed id → entity, so a message updates its entity instead of spawning a new one.
#[derive(Resource, Debug, Default)]
pub struct FeedEntities {
    by_id: HashMap<Text, Tracked>,
    /// Devices marked offline because they missed three heartbeats.
    pub missed_heartbeats: u64,
    /// Devices and cameras retired: offline and silent past the scene's
    /// `operations.retire_after_h`, their entities despawned.
    pub retired: u64,
}

impl FeedEntities {
    pub fn get(&self, id: &str) -> Option<Entity> {
        self.by_id.get(id).map(|t| t.entity)
    }

    /// The source (index into [`FeedStats::sources`]) that last reported `id`.
    pub fn source_of(&self, id: &str) -> Option<usize> {
        self.by_id.get(id).map(|t| t.source)
    }

    /// The time of the last report applied for `id` and its promised interval.
    pub fn last_report(&self, id: &str) -> Option<(DateTime<FixedOffset>, u32)> {
        self.by_id.get(id).map(|t| (t.ts, t.heartbeat_s))
    }

    /// Marks a device offline (it missed its heartbeats): returns its entity and the
    /// status it had, or `None` when it is unknown or offline already.
    pub fn mark_offline(&mut self, id: &str) -> Option<(Entity, DeviceStatus)> {
        let tracked = self.by_id.get_mut(id)?;
        if tracked.status == DeviceStatus::Offline {
            return None;
        }
        let from = tracked.status;
        tracked.status = DeviceStatus::Offline;
        self.missed_heartbeats += 1;
        Some((tracked.entity, from))
    }

    pub fn len(&self) -> usize {
        self.by_id.len()
    }

    pub fn is_empty(&self) -> bool {
        self.by_id.is_empty()
    }

    /// Forgets every device and camera that is offline and last reported before
    /// `before`: returns (id, entity, status) of each, for the caller to despawn.
    pub fn retire_silent(
        &mut self,
        before: DateTime<FixedOffset>,
    ) -> Vec<(Text, Entity, DeviceStatus)> {
        let gone: Vec<Text> = self
            .by_id
            .iter()
            .filter(|(_, t)| t.status == DeviceStatus::Offline && t.ts < before)
            .map(|(id, _)| id.clone())
            .collect();
        let out: Vec<_> = gone
            .into_iter()
            .filter_map(|id| {
                let t = self.by_id.remove(&id)?;
                Some((id, t.entity, t.status))
            })
            .collect();
        self.retired += out.len() as u64;
        if !out.is_empty() {
            self.by_id.shrink_to_fit();
        }
        out
    }
}

/// A device or camera was retired (offline and silent past the scene's
/// `operations.retire_after_h`); its entity is despawned this frame.
#[derive(Message, Debug, Clone)]
pub struct DeviceRetired {
    pub entity: Entity,
    pub id: Text,
    pub status: DeviceStatus,
    /// The device kind's label (`camera` for cameras), for the per-kind counts.
    pub kind: &'static str,
}

/// How long a closed work order stays in memory after it closed, in feed time, so
/// a wall that runs for months keeps a flat footprint. (Counts in `OrderCounts`
/// are kept; only the order's details go.)
pub const CLOSED_ORDER_RETENTION: chrono::TimeDelta = chrono::TimeDelta::hours(24);

/// Latest state of every open work order, and of closed ones for
/// [`CLOSED_ORDER_RETENTION`] after they closed.
#[derive(Resource, Debug, Default)]
pub struct WorkOrders(pub HashMap<String, WorkOrderEvent>, ClosedOrders);

/// When orders closed, oldest first, to let them go in order.
#[derive(Debug, Default)]
pub struct ClosedOrders {
    queue: VecDeque<(DateTime<FixedOffset>, String)>,
    /// The latest closing time of each order in `queue`; an order reopened and
    /// closed again is kept until its last closing is old.
    latest: HashMap<String, DateTime<FixedOffset>>,
}

impl WorkOrders {
    fn closed(&mut self, id: String, at: DateTime<FixedOffset>) {
        self.1.latest.insert(id.clone(), at);
        self.1.queue.push_back((at, id));
    }

    /// Forgets orders that closed more than `retention` before `now` and are still
    /// closed. Returns how many went.
    pub fn prune(&mut self, now: DateTime<FixedOffset>, retention: chrono::TimeDelta) -> usize {
        self.prune_ids(now, retention).len()
    }

    /// As [`WorkOrders::prune`], returning the ids that left.
    pub fn prune_ids(
        &mut self,
        now: DateTime<FixedOffset>,
        retention: chrono::TimeDelta,
    ) -> Vec<String> {
        let mut gone = Vec::new();
        while let Some((at, _)) = self.1.queue.front()
            && *at + retention < now
        {
            let Some((at, id)) = self.1.queue.pop_front() else {
                break;
            };
            if self.1.latest.get(&id) != Some(&at) {
                continue; // closed again later; a later entry decides
            }
            self.1.latest.remove(&id);
            if self
                .0
                .get(&id)
                .is_some_and(|o| o.status == OrderStatus::Closed)
            {
                self.0.remove(&id);
                gone.push(id);
            }
        }
        gone
    }
}

/// Latest state of every renovation project seen.
#[derive(Resource, Debug, Default)]
pub struct Projects(pub HashMap<String, ProjectUpdate>);

/// A device or camera as a checkpoint holds it.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct MarkerSnapshot {
    pub id: Text,
    /// A device's kind; `None` for a camera.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub device: Option<DeviceKind>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub camera: Option<VideoCamera>,
    pub status: DeviceStatus,
    pub position: LonLat,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub grid: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub readings: Vec<Reading>,
    /// Its last report's time.
    pub ts: DateTime<FixedOffset>,
    #[serde(default)]
    pub heartbeat_s: u32,
}

/// Per-id times, by id.
type IdTimes = Vec<(Text, DateTime<FixedOffset>)>;

/// What ingest keeps of the twin's state, as a checkpoint holds it (see
/// [`crate::ops::state`]).
#[derive(Debug, Clone, Default, serde::Serialize, serde::Deserialize)]
pub struct FeedState {
    /// Every device and camera, by id.
    pub markers: Vec<MarkerSnapshot>,
    pub missed_heartbeats: u64,
    pub retired: u64,
    /// Work orders (open, and closed within [`CLOSED_ORDER_RETENTION`]) by id, and
    /// when the closed ones closed, oldest first.
    pub orders: Vec<WorkOrderEvent>,
    pub closed: Vec<(DateTime<FixedOffset>, String)>,
    pub projects: Vec<ProjectUpdate>,
    /// The newest message time applied.
    pub latest_ts: Option<DateTime<FixedOffset>>,
    /// The times that refuse an older work order, project or vehicle report of the
    /// same id, and those that tell a repeated work order or project.
    pub last_ts_by_id: [IdTimes; 3],
    pub applied_ts_by_id: [IdTimes; 2],
}

/// Times per id over all sources (the latest of each), sorted by id.
fn merged_times<'a>(
    maps: impl Iterator<Item = &'a HashMap<Text, DateTime<FixedOffset>>>,
) -> IdTimes {
    let mut merged: BTreeMap<Text, DateTime<FixedOffset>> = BTreeMap::new();
    for (id, t) in maps.flatten() {
        let slot = merged.entry(id.clone()).or_insert(*t);
        *slot = (*slot).max(*t);
    }
    merged.into_iter().collect()
}

/// The feed state of `world` for a checkpoint (all sources taken as one, as a
/// recording holds them). Camera addresses lose their credentials.
pub fn capture(world: &World) -> FeedState {
    let entities = world.resource::<FeedEntities>();
    let stats = world.resource::<FeedStats>();
    let mut markers: Vec<MarkerSnapshot> = entities
        .by_id
        .iter()
        .filter_map(|(id, t)| {
            let e = world.get_entity(t.entity).ok()?;
            let mut camera = e.get::<VideoCamera>().cloned();
            if let Some(c) = &mut camera {
                c.stream_url = c.stream_url.as_deref().map(super::redact);
                c.snapshot_url = c.snapshot_url.as_deref().map(super::redact);
            }
            Some(MarkerSnapshot {
                id: id.clone(),
                device: e.get::<IotDevice>().map(|d| d.kind),
                camera,
                status: t.status,
                position: e.get::<GeoPosition>()?.0,
                name: e.get::<DisplayName>().map(|n| n.0.clone()),
                grid: e.get::<GridRef>().map(|g| g.0.clone()),
                readings: e.get::<Readings>().map(|r| r.0.clone()).unwrap_or_default(),
                ts: t.ts,
                heartbeat_s: t.heartbeat_s,
            })
        })
        .collect();
    markers.sort_by(|a, b| a.id.cmp(&b.id));
    let orders = world.resource::<WorkOrders>();
    let mut open: Vec<WorkOrderEvent> = orders.0.values().cloned().collect();
    open.sort_by(|a, b| a.id.cmp(&b.id));
    let mut projects: Vec<ProjectUpdate> =
        world.resource::<Projects>().0.values().cloned().collect();
    projects.sort_by(|a, b| a.id.cmp(&b.id));
    FeedState {
        markers,
        missed_heartbeats: entities.missed_heartbeats,
        retired: entities.retired,
        orders: open,
        closed: orders.1.queue.iter().cloned().collect(),
        projects,
        latest_ts: stats.latest_ts(),
        last_ts_by_id: std::array::from_fn(|i| {
            merged_times(stats.sources.iter().map(|s| &s.last_ts_by_id[i]))
        }),
        applied_ts_by_id: std::array::from_fn(|i| {
            merged_times(stats.sources.iter().map(|s| &s.applied_ts_by_id[i]))
        }),
    }
}

/// A device or camera appeared or changed status (`from` is None when it is new).
#[derive(Message, Debug, Clone)]
pub struct DeviceStatusChanged {
    pub entity: Entity,
    pub id: Text,
    pub from: Option<DeviceStatus>,
    pub to: DeviceStatus,
    /// Twin time of the change: the report's time, or the heartbeat's due time.
    pub ts: DateTime<FixedOffset>,
}

/// A device went silent for [`MISSED_HEARTBEATS`] of its heartbeats, at `at` (twin
/// time): from the heartbeat watch when it stays silent, from ingest when its next
/// report shows the silence (see [`crate::ops::heartbeats`]).
#[derive(Message, Debug, Clone)]
pub struct HeartbeatMissed {
    pub id: Text,
    pub at: DateTime<FixedOffset>,
}

/// How long a device that promised a report every `heartbeat_s` may be silent before
/// it is offline.
pub fn heartbeat_window(heartbeat_s: u32) -> chrono::TimeDelta {
    chrono::TimeDelta::seconds(MISSED_HEARTBEATS * i64::from(heartbeat_s))
}

/// A device or camera already known reported a new position (the wall re-files its
/// marker). A device first seen in this same frame and placed again counts as moved:
/// its first position is not readable until the frame's commands apply.
#[derive(Message, Debug, Clone, Copy)]
pub struct DeviceMoved {
    pub entity: Entity,
    /// The report's time.
    pub ts: DateTime<FixedOffset>,
}

/// A work-order message was applied: raised for every one, also when it repeats the
/// order's status (`from == Some(to)`).
#[derive(Message, Debug, Clone)]
pub struct WorkOrderChanged {
    pub id: String,
    pub from: Option<OrderStatus>,
    pub to: OrderStatus,
    /// The message time of the change.
    pub ts: DateTime<FixedOffset>,
    /// The order as this message left it (the map holds only the frame's latest).
    pub order: Box<WorkOrderEvent>,
}

/// A feed asked for another operating mode (operations decide and keep the history).
#[derive(Message, Debug, Clone)]
pub struct ModeRequested {
    pub ts: DateTime<FixedOffset>,
    pub change: ModeChange,
    /// The feed it came from (credentials removed).
    pub source: String,
}

/// An operator's action that arrived on a feed (a control topic, a recording).
#[derive(Message, Debug, Clone)]
pub struct OperatorRequested {
    pub ts: DateTime<FixedOffset>,
    pub message: super::schema::OperatorMessage,
    /// The feed it came from (credentials removed).
    pub source: String,
}

/// A replay reached a checkpoint of the twin's state (operations restore it).
#[derive(Message, Debug, Clone)]
pub struct CheckpointReached {
    pub ts: DateTime<FixedOffset>,
    pub checkpoint: Box<super::schema::Checkpoint>,
    /// The operations state, when the checkpoint holds the twin's whole state and a
    /// pass of the replay starts from it (ingest has put the feed state back).
    pub ops: Option<std::sync::Arc<crate::ops::state::OpsSnapshot>>,
}

/// A key vehicle's report, in the order applied.
#[derive(Message, Debug, Clone)]
pub struct VehicleReported {
    pub ts: DateTime<FixedOffset>,
    pub report: VehicleReport,
}

/// Every applied device or camera report, in the order applied, for the rules that
/// judge readings and statuses. Reports that coalesced while waiting are raised too,
/// each with its own time, before the report that replaced them.
#[derive(Message, Debug, Clone)]
pub struct DeviceReported {
    pub entity: Entity,
    pub id: Text,
    /// `None` for a camera.
    pub kind: Option<DeviceKind>,
    pub ts: DateTime<FixedOffset>,
    pub status: DeviceStatus,
    pub readings: Vec<Reading>,
    /// Promised report interval, seconds (0: none).
    pub heartbeat_s: u32,
}

#[derive(Message, Debug, Clone)]
pub struct ProjectPhaseChanged {
    pub id: String,
    pub from: Option<ProjectPhase>,
    pub to: ProjectPhase,
}

pub(super) fn plugin(app: &mut App) {
    app.init_resource::<FeedStats>()
        .init_resource::<FeedEntities>()
        .init_resource::<WorkOrders>()
        .init_resource::<Projects>()
        .init_resource::<IngestConfig>()
        .init_resource::<Backlog>()
        .add_message::<DeviceStatusChanged>()
        .add_message::<DeviceRetired>()
        .add_message::<DeviceMoved>()
        .add_message::<WorkOrderChanged>()
        .add_message::<DeviceReported>()
        .add_message::<HeartbeatMissed>()
        .add_message::<ModeRequested>()
        .add_message::<VehicleReported>()
        .add_message::<OperatorRequested>()
        .add_message::<CheckpointReached>()
        .add_message::<ProjectPhaseChanged>()
        .add_systems(
            Update,
            (ingest, prune_closed_orders)
                .chain()
                .in_set(TwinSet::Ingest),
        );
}

/// What a device or camera message changes on its entity.
struct MarkerUpdate {
    id: Text,
    kind: EntityKind,
    status: DeviceStatus,
    position: Option<LonLat>,
    name: Option<String>,
    grid: Option<String>,
    device: Option<(DeviceKind, Vec<Reading>)>,
    camera: Option<VideoCamera>,
    heartbeat_s: Option<u32>,
}

impl From<DeviceReport> for MarkerUpdate {
    fn from(d: DeviceReport) -> Self {
        Self {
            id: d.id,
            kind: EntityKind::Device,
            status: d.status,
            position: d.position,
            name: d.name,
            grid: d.grid,
            device: Some((d.kind, d.readings)),
            camera: None,
            heartbeat_s: d.heartbeat_s,
        }
    }
}

impl From<CameraReport> for MarkerUpdate {
    fn from(c: CameraReport) -> Self {
        Self {
            id: c.id,
            kind: EntityKind::Camera,
            status: c.status,
            position: c.position,
            name: c.name,
            grid: c.grid,
            device: None,
            camera: Some(VideoCamera {
                heading_deg: c.heading_deg,
                fov_deg: c.fov_deg,
                range_m: c.range_m,
                stream_url: c.stream_url,
                snapshot_url: c.snapshot_url,
            }),
            heartbeat_s: None,
        }
    }
}

/// What ingest changes in place on an existing marker.
type MarkerState = (
    &'static mut Status,
    &'static mut MarkerAt,
    &'static mut GeoPosition,
    Option<&'static mut Readings>,
);

#[derive(bevy::ecs::system::SystemParam)]
struct Outbox<'w> {
    status: MessageWriter<'w, DeviceStatusChanged>,
    moves: MessageWriter<'w, DeviceMoved>,
    orders: MessageWriter<'w, WorkOrderChanged>,
    reports: MessageWriter<'w, DeviceReported>,
    missed: MessageWriter<'w, HeartbeatMissed>,
    modes: MessageWriter<'w, ModeRequested>,
    vehicles: MessageWriter<'w, VehicleReported>,
    operators: MessageWriter<'w, OperatorRequested>,
    checkpoints: MessageWriter<'w, CheckpointReached>,
    phases: MessageWriter<'w, ProjectPhaseChanged>,
    retired: MessageWriter<'w, DeviceRetired>,
}

/// How ingest treats a backlog.
#[derive(Resource, Debug, Clone)]
pub struct IngestConfig {
    pub budget: Duration,
    /// When frames are slow (a software renderer draws a big city at a frame a second)
    /// ingest may take this share of the last frame's time instead, up to
    /// [`MAX_SLOW_FRAME_BUDGET`]: otherwise a 4 ms budget a second would take minutes to
    /// bring in a city's devices.
    pub share_of_frame: f32,
    /// Whether waiting device and camera reports may coalesce (latest wins). Off, every
    /// report is applied and a slow frame slows the sources instead.
    pub coalesce: bool,
    /// Record each source's lag from `ts` to applied (benchmarks; costs a clock read
    /// per message).
    pub measure_lag: bool,
    /// A message dated further than this ahead of its source's newest time (or, for a
    /// source's first message, of the other sources') is refused as `future time`
    /// instead of moving the twin's clock.
    pub max_jump: chrono::TimeDelta,
    /// Messages dated after this are not applied (`citytwin report --until`).
    pub until: Option<DateTime<FixedOffset>>,
    /// Nothing is taken off the channel while set (`report` waits for the city's
    /// districts and grids first, so every alert is placed the same at any speed).
    pub paused: bool,
    /// Messages dated at or after this wait, unapplied, until it is lifted or moved
    /// on ([`Backlog::holding`] says when one waits): the twin's state between two
    /// messages, for a checkpoint.
    pub hold_from: Option<DateTime<FixedOffset>>,
}

/// Default for [`IngestConfig::max_jump`]: a quiet source may skip a night and a day.
pub const DEFAULT_MAX_JUMP: chrono::TimeDelta = chrono::TimeDelta::hours(48);
/// Coalesced readings kept per waiting report for the rules; older ones beyond this
/// are counted as dropped.
const SUPERSEDED_PER_REPORT: usize = 64;

impl Default for IngestConfig {
    fn default() -> Self {
        Self {
            budget: INGEST_BUDGET,
            share_of_frame: 0.2,
            coalesce: true,
            measure_lag: false,
            max_jump: DEFAULT_MAX_JUMP,
            until: None,
            paused: false,
            hold_from: None,
        }
    }
}

/// Messages taken off the channel after a frame's budget was spent, waiting to be
/// applied in order. A device or camera report that repeats the status of the
/// report of the same id still waiting here takes its place (fields it leaves out are
/// kept from the older one), so under pressure readings coalesce to the latest while
/// every status change, every alarm, every work order and project update stays.
#[derive(Resource, Debug, Default)]
pub struct Backlog {
    /// (source, message) in arrival order; a merge rewrites a slot in place.
    queue: VecDeque<(usize, FeedMessage)>,
    /// Sequence number of `queue[0]`.
    front: u64,
    /// Marker id → sequence number of its newest waiting report.
    markers: HashMap<Text, u64>,
    /// Sequence number → readings of the reports merged into that slot, oldest first,
    /// so the rules still see every reading.
    superseded: HashMap<u64, Vec<(DateTime<FixedOffset>, Vec<Reading>)>>,
    /// Readings merged away beyond [`SUPERSEDED_PER_REPORT`].
    pub readings_dropped: u64,
    /// A message at or after [`IngestConfig::hold_from`] waits: everything before it
    /// has been applied.
    pub holding: bool,
}

/// Readings of reports that coalesced into the one being applied, oldest first.
type Superseded = Vec<(DateTime<FixedOffset>, Vec<Reading>)>;

impl Backlog {
    pub fn len(&self) -> usize {
        self.queue.len()
    }

    pub fn is_empty(&self) -> bool {
        self.queue.is_empty()
    }

    /// The time of the message next in line.
    fn front_ts(&self) -> Option<DateTime<FixedOffset>> {
        self.queue.front().map(|(_, m)| m.ts)
    }

    fn pop(&mut self) -> Option<(usize, FeedMessage, Superseded)> {
        let (source, message) = self.queue.pop_front()?;
        let id = message.body.id();
        if self.markers.get(id) == Some(&self.front) {
            self.markers.remove(id);
        }
        let superseded = self.superseded.remove(&self.front).unwrap_or_default();
        self.front += 1;
        Some((source, message, superseded))
    }

    /// Queues a message, merging it into the waiting report of the same marker when
    /// that has the same status and source. Returns whether it merged, or an
    /// out-of-order rejection when it is older than the waiting one.
    fn push(
        &mut self,
        source: usize,
        message: FeedMessage,
        coalesce: bool,
    ) -> Result<bool, (&'static str, String)> {
        let marker = matches!(message.body, FeedBody::Device(_) | FeedBody::Camera(_));
        if marker
            && coalesce
            && let Some(&seq) = self.markers.get(message.body.id())
            && let Some((waiting_source, waiting)) = self.queue.get_mut((seq - self.front) as usize)
            && *waiting_source == source
        {
            if message.ts < waiting.ts {
                return Err(late(
                    message.body.kind(),
                    message.body.id(),
                    message.ts,
                    None,
                ));
            }
            if same_state(waiting, &message) {
                // The older report stays visible to the rules at its own time (with its
                // readings), and its time is when the status it shares began: a status
                // change is dated as a report-by-report play would date it.
                let older = match &waiting.body {
                    FeedBody::Device(d) => d.readings.clone(),
                    _ => Vec::new(),
                };
                let kept = self.superseded.entry(seq).or_default();
                if kept.len() < SUPERSEDED_PER_REPORT {
                    kept.push((waiting.ts, older));
                } else {
                    self.readings_dropped += 1;
                }
                merge(waiting, message);
                return Ok(true);
            }
        }
        let seq = self.front + self.queue.len() as u64;
        if marker {
            self.markers.insert(message.body.id().into(), seq);
        }
        self.queue.push_back((source, message));
        Ok(false)
    }
}

/// Whether two reports of one marker say the same status (so the older one may go).
fn same_state(older: &FeedMessage, newer: &FeedMessage) -> bool {
    match (&older.body, &newer.body) {
        (FeedBody::Device(o), FeedBody::Device(n)) => o.status == n.status && o.kind == n.kind,
        (FeedBody::Camera(o), FeedBody::Camera(n)) => o.status == n.status,
        _ => false,
    }
}

/// Replaces `older` with `newer`, keeping what `newer` leaves out. Only for reports
/// for which [`same_state`] holds.
fn merge(older: &mut FeedMessage, newer: FeedMessage) {
    older.ts = newer.ts;
    match (&mut older.body, newer.body) {
        (FeedBody::Device(o), FeedBody::Device(n)) => {
            o.status = n.status;
            o.name = n.name.or(o.name.take());
            o.position = n.position.or(o.position);
            o.grid = n.grid.or(o.grid.take());
            if !n.readings.is_empty() {
                o.readings = n.readings;
            }
        }
        (FeedBody::Camera(o), FeedBody::Camera(n)) => {
            o.status = n.status;
            o.name = n.name.or(o.name.take());
            o.position = n.position.or(o.position);
            o.grid = n.grid.or(o.grid.take());
            o.heading_deg = n.heading_deg.or(o.heading_deg);
            o.fov_deg = n.fov_deg.or(o.fov_deg);
            o.range_m = n.range_m.or(o.range_m);
            o.stream_url = n.stream_url.or(o.stream_url.take());
            o.snapshot_url = n.snapshot_url.or(o.snapshot_url.take());
        }
        (_, n) => unreachable!("merge of {} reports that same_state refused", n.kind()),
    }
}

/// Everything applying a message writes to.
#[derive(bevy::ecs::system::SystemParam)]
struct Sink<'w, 's> {
    commands: Commands<'w, 's>,
    frame: Option<NonSend<'w, SceneFrame>>,
    stats: ResMut<'w, FeedStats>,
    entities: ResMut<'w, FeedEntities>,
    orders: ResMut<'w, WorkOrders>,
    projects: ResMut<'w, Projects>,
    markers: Query<'w, 's, MarkerState>,
    devices: Query<'w, 's, &'static IotDevice>,
    out: Outbox<'w>,
    measure_lag: Local<'s, bool>,
    config: Res<'w, IngestConfig>,
}

/// What ingest may take of a frame while a seek plays up to its target.
pub const SEEK_BUDGET: Duration = Duration::from_millis(50);

/// The most a slow frame lets ingest take (see [`IngestConfig::share_of_frame`]).
pub const MAX_SLOW_FRAME_BUDGET: Duration = Duration::from_millis(100);

fn ingest(
    channel: Res<FeedChannel>,
    config: Res<IngestConfig>,
    time: Res<Time<Real>>,
    mut backlog: ResMut<Backlog>,
    mut pending: Local<Option<(usize, u64)>>,
    mut held: Local<Option<FeedEvent>>,
    mut sink: Sink,
) {
    if config.paused {
        return;
    }
    // A restart that starts the twin over takes a frame of its own: what was applied
    // before it has been judged by the rules, and what follows is judged afresh.
    if let Some((source, generation)) = pending.take() {
        // A target reached before the restart is not this seek's.
        *held = None;
        for (source, _, _) in std::iter::from_fn(|| backlog.pop()) {
            sink.stats.source(source).dropped_by_seek += 1;
        }
        sink.restart(source, generation);
        return;
    }
    let started = Instant::now();
    let mut budget = config.budget.max(
        time.delta()
            .mul_f32(config.share_of_frame)
            .min(MAX_SLOW_FRAME_BUDGET),
    );
    // While a seek plays up to its target the wall shows *seeking*, not the twin's
    // state: fewer, longer frames bring it there sooner.
    if sink.stats.sources.iter().any(|s| s.seeking) {
        budget = budget.max(SEEK_BUDGET);
    }
    let over = |n: u32| n.is_multiple_of(64) && started.elapsed() > budget;
    let mut n = 0u32;
    // What waits in the backlog goes first; the channel only once it is empty, so
    // each marker's reports stay in order.
    *sink.measure_lag = config.measure_lag;
    let held_back = |ts: DateTime<FixedOffset>| config.hold_from.is_some_and(|h| ts >= h);
    backlog.holding = false;
    while let Some(ts) = backlog.front_ts() {
        if held_back(ts) {
            backlog.holding = true;
            return;
        }
        let Some((source, message, superseded)) = backlog.pop() else {
            break;
        };
        n += 1;
        sink.apply(source, message, superseded);
        if over(n) {
            break;
        }
    }
    while backlog.is_empty() && !over(n) {
        let event = match held.take() {
            Some(event) => event,
            None => match channel.receiver.try_recv() {
                Ok(event) => event,
                Err(_) => return,
            },
        };
        n += 1;
        if let Some(restart) = sink.starts_over(&event) {
            *pending = Some(restart);
            return;
        }
        if let FeedEvent::Message { message, .. } = &event
            && held_back(message.ts)
        {
            *held = Some(event);
            backlog.holding = true;
            return;
        }
        if let Some((source, message)) = sink.take(event, started) {
            sink.apply(source, message, Vec::new());
        }
    }
    // Budget spent with messages still coming: move them into the backlog, where
    // repeated reports coalesce, until it is full (then the sources wait).
    if !config.coalesce || held.is_some() {
        return;
    }
    let pull_until = started.elapsed() + BACKLOG_PULL_BUDGET;
    let mut pulled = 0u32;
    while backlog.len() < BACKLOG_CAPACITY {
        pulled += 1;
        if pulled.is_multiple_of(64) && started.elapsed() > pull_until {
            break;
        }
        let Ok(event) = channel.receiver.try_recv() else {
            break;
        };
        if let Some(restart) = sink.starts_over(&event) {
            *pending = Some(restart);
            break;
        }
        // A seek's target is reached once what came before it is applied: it waits
        // behind the backlog (else the clock would step to the target, and its timers
        // fire, ahead of the messages still waiting).
        if matches!(event, FeedEvent::Reached { .. }) {
            *held = Some(event);
            break;
        }
        let Some((source, message)) = sink.take(event, started) else {
            continue;
        };
        // A replay waits instead (the channel fills and it slows down): its messages
        // queue in order, so a seek or a fast play gives the state a slow one gives.
        let coalesce = !sink.stats.source(source).replay;
        match backlog.push(source, message, coalesce) {
            Ok(true) => sink.stats.source(source).coalesced += 1,
            Ok(false) => {}
            Err((label, why)) => sink.stats.reject(source, label, why),
        }
    }
}

impl Sink<'_, '_> {
    /// Counts an event off the channel; source state and rejections end here,
    /// messages are handed back to be applied (now or from the backlog).
    fn take(&mut self, event: FeedEvent, now: Instant) -> Option<(usize, FeedMessage)> {
        match event {
            FeedEvent::State { source, state } => {
                let s = self.stats.source(source);
                info!("feed {}: {state:?}", s.label);
                if state == SourceState::Live {
                    s.live_since = Some(Instant::now());
                    s.latest_ts = None;
                    s.last_ts_by_id.iter_mut().for_each(HashMap::clear);
                    s.run += 1;
                }
                s.state = state;
                None
            }
            FeedEvent::Rejected {
                source,
                line,
                error,
            } => {
                self.stats.source(source).received += 1;
                self.stats
                    .reject(source, error.label(), format!("line {line}: {error}"));
                None
            }
            FeedEvent::Message { source, message } => {
                let newest = self.stats.generation;
                let s = self.stats.source(source);
                s.received += 1;
                s.last_message_at = Some(now);
                if s.replay && s.generation < newest {
                    s.dropped_by_seek += 1;
                    return None;
                }
                Some((source, message))
            }
            FeedEvent::Restart { source, generation } => {
                self.restart(source, generation);
                None
            }
            FeedEvent::Reached { source, at } => {
                let newest = self.stats.generation;
                let s = self.stats.source(source);
                if s.generation == newest {
                    s.seeking = false;
                }
                let all = self
                    .stats
                    .sources
                    .iter()
                    .all(|s| !s.replay || (s.generation == newest && !s.seeking));
                if all {
                    self.stats.reached = Some(at);
                }
                None
            }
            FeedEvent::Span { source, span } => {
                let s = self.stats.source(source);
                s.replay = true;
                s.span = span;
                None
            }
        }
    }

    /// The restart `event` is, when it starts the twin's state over (a seek not yet
    /// seen): (source, seek number).
    fn starts_over(&self, event: &FeedEvent) -> Option<(usize, u64)> {
        match *event {
            FeedEvent::Restart { source, generation } if generation > self.stats.generation => {
                Some((source, generation))
            }
            _ => None,
        }
    }

    /// A replay restarts its recording for seek `generation`: its own times start
    /// over, and on the first restart for that seek the twin's feed state does too —
    /// every device and camera is retired (the counts, the map and the index let it
    /// go), work orders and projects are forgotten, and the operations state follows
    /// (see [`FeedStats::restarts`]).
    fn restart(&mut self, source: usize, generation: u64) {
        let newest = self.stats.generation;
        let s = self.stats.source(source);
        s.replay = true;
        s.generation = generation;
        s.seeking = true;
        if generation <= newest {
            s.latest_ts = None;
            s.last_ts_by_id.iter_mut().for_each(HashMap::clear);
            s.applied_ts_by_id.iter_mut().for_each(HashMap::clear);
            return;
        }
        info!("feeds: the twin starts over for a seek (seek {generation})");
        self.stats.generation = generation;
        self.stats.restarts += 1;
        self.stats.reached = None;
        for s in &mut self.stats.sources {
            s.latest_ts = None;
            s.last_ts_by_id.iter_mut().for_each(HashMap::clear);
            s.applied_ts_by_id.iter_mut().for_each(HashMap::clear);
        }
        self.retire_all();
        *self.orders = WorkOrders::default();
        *self.projects = Projects::default();
    }

    /// Every device and camera is retired (the counts, the map and the index let it
    /// go) and despawned.
    fn retire_all(&mut self) {
        for (id, tracked) in self.entities.by_id.drain() {
            let kind = match tracked.kind {
                EntityKind::Camera => "camera",
                EntityKind::Device => self
                    .devices
                    .get(tracked.entity)
                    .map_or("other", |d| crate::ops::kpis::kind_label(d.kind)),
            };
            self.out.retired.write(DeviceRetired {
                entity: tracked.entity,
                id,
                status: tracked.status,
                kind,
            });
            self.commands.entity(tracked.entity).despawn();
        }
        self.entities.by_id.shrink_to_fit();
        self.entities.missed_heartbeats = 0;
        self.entities.retired = 0;
    }

    /// Puts a checkpoint's feed state in place of the twin's (see
    /// [`crate::ops::state`]): what was there is retired, the checkpoint's devices and
    /// cameras are spawned (each raised as new, so counts, map and index take them),
    /// work orders, projects and the source's per-id times are the checkpoint's.
    /// Returns the operations state for [`crate::ops::state`] to restore.
    fn restore_state(
        &mut self,
        source: usize,
        mut json: super::schema::StateJson,
    ) -> Result<std::sync::Arc<crate::ops::state::OpsSnapshot>, (&'static str, String)> {
        // The replay decoded it already (see `replay::decode_state`).
        json.decode().map_err(|e| {
            (
                "invalid value",
                format!("checkpoint: its state does not decode: {e}"),
            )
        })?;
        let decoded = json.decoded.take().expect("decoded above");
        let mut state =
            std::sync::Arc::try_unwrap(decoded).unwrap_or_else(|shared| (*shared).clone());
        info!(
            "feeds: the twin's state restored from the checkpoint at {}: {} devices and cameras, {} work orders",
            state.at,
            state.feeds.markers.len(),
            state.feeds.orders.len()
        );
        self.retire_all();
        let feeds = state.feeds;
        let run = self.stats.source(source).run;
        for m in feeds.markers {
            let translation = match self.translation(m.position) {
                Ok(t) => t,
                Err(e) => {
                    warn!("checkpoint: {} left out: {e}", m.id);
                    continue;
                }
            };
            let (id, status, ts) = (m.id.clone(), m.status, m.ts);
            let is_device = m.device.is_some();
            let u = MarkerUpdate {
                id: m.id,
                kind: if is_device {
                    EntityKind::Device
                } else {
                    EntityKind::Camera
                },
                status,
                position: Some(m.position),
                name: m.name,
                grid: m.grid,
                device: m.device.map(|kind| (kind, m.readings)),
                camera: (!is_device).then(|| m.camera.unwrap_or_default()),
                heartbeat_s: Some(m.heartbeat_s),
            };
            let entity = self.spawn_marker(u, m.position, translation, ts, source, run);
            self.out.status.write(DeviceStatusChanged {
                entity,
                id,
                from: None,
                to: status,
                ts,
            });
        }
        self.entities.missed_heartbeats = feeds.missed_heartbeats;
        self.entities.retired = feeds.retired;
        let mut orders = WorkOrders::default();
        for o in feeds.orders {
            orders.0.insert(o.id.clone(), o);
        }
        for (at, id) in feeds.closed {
            orders.closed(id, at);
        }
        *self.orders = orders;
        self.projects.0 = feeds
            .projects
            .into_iter()
            .map(|p| (p.id.clone(), p))
            .collect();
        let s = self.stats.source(source);
        s.latest_ts = feeds.latest_ts;
        let times =
            |v: IdTimes| -> HashMap<Text, DateTime<FixedOffset>> { v.into_iter().collect() };
        let [a, b, c] = feeds.last_ts_by_id;
        s.last_ts_by_id = [times(a), times(b), times(c)];
        let [a, b] = feeds.applied_ts_by_id;
        s.applied_ts_by_id = [times(a), times(b)];
        let label = super::redact(&s.label);
        for m in &mut state.ops.mode_history {
            m.by = crate::ops::state::labelled(&m.by, &label);
        }
        Ok(std::sync::Arc::new(state.ops))
    }

    fn apply(&mut self, source: usize, message: FeedMessage, superseded: Superseded) {
        let FeedMessage { ts, body } = message;
        if let Err((label, why)) = self.admit(source, ts, &body) {
            self.stats.reject(source, label, why);
            return;
        }
        let result = match body {
            FeedBody::Device(d) => self.apply_marker(source, ts, d.into(), superseded),
            FeedBody::Camera(c) => self.apply_marker(source, ts, (*c).into(), superseded),
            FeedBody::WorkOrder(w) if self.backwards(&w) => Err((
                "backwards transition",
                format!(
                    "work_order {}: {:?} after {:?}",
                    w.id,
                    w.status,
                    self.orders.0.get(&w.id).map(|o| o.status)
                ),
            )),
            FeedBody::WorkOrder(w) => self.apply_record(
                source,
                ts,
                *w,
                |s| &mut s.orders.0,
                |o| o.status,
                |s, id, from, to| {
                    if to == OrderStatus::Closed {
                        s.orders.closed(id.clone(), ts);
                    }
                    let Some(order) = s.orders.0.get(&id).cloned() else {
                        return;
                    };
                    s.out.orders.write(WorkOrderChanged {
                        id,
                        from,
                        to,
                        ts,
                        order: Box::new(order),
                    });
                },
            ),
            FeedBody::Mode(m) => {
                let label = super::redact(&self.stats.source(source).label);
                self.out.modes.write(ModeRequested {
                    ts,
                    change: *m,
                    source: label,
                });
                Ok(())
            }
            FeedBody::Operator(o) => {
                let label = super::redact(&self.stats.source(source).label);
                self.out.operators.write(OperatorRequested {
                    ts,
                    message: *o,
                    source: label,
                });
                Ok(())
            }
            FeedBody::Checkpoint(_) if !self.stats.source(source).replay => Err((
                "not allowed",
                "checkpoint: only a recording may carry the twin's state".to_string(),
            )),
            FeedBody::Checkpoint(mut checkpoint) => {
                let state = checkpoint.state.take();
                state
                    .map(|json| self.restore_state(source, json))
                    .transpose()
                    .map(|ops| {
                        self.out.checkpoints.write(CheckpointReached {
                            ts,
                            checkpoint,
                            ops,
                        });
                    })
            }
            FeedBody::Vehicle(v) => {
                let last = self.stats.source(source).last_ts_by_id[2]
                    .get(v.id.as_str())
                    .copied();
                match last.filter(|last| ts < *last) {
                    Some(last) => Err(late("vehicle", &v.id, ts, Some(last))),
                    None => {
                        self.stats.source(source).last_ts_by_id[2].insert(v.id.clone(), ts);
                        self.out.vehicles.write(VehicleReported { ts, report: *v });
                        Ok(())
                    }
                }
            }
            FeedBody::Project(p) => self.apply_record(
                source,
                ts,
                *p,
                |s| &mut s.projects.0,
                |p| p.phase,
                |s, id, from, to| {
                    s.out.phases.write(ProjectPhaseChanged { id, from, to });
                },
            ),
        };
        match result {
            Ok(()) => {
                let measure = *self.measure_lag;
                let s = self.stats.source(source);
                s.applied += 1;
                if measure {
                    let lag = (chrono::Utc::now().fixed_offset() - ts).num_microseconds();
                    let histogram = s.lag_us.get_or_insert_with(|| {
                        hdrhistogram::Histogram::new_with_bounds(1, 3_600_000_000, 3)
                            .expect("constant histogram bounds are valid")
                    });
                    histogram.saturating_record(lag.unwrap_or(0).max(0) as u64);
                }
                if s.latest_ts.is_none_or(|t| ts > t) {
                    s.latest_ts = Some(ts);
                }
            }
            Err((label, why)) => self.stats.reject(source, label, why),
        }
    }

    /// Whether a message may be applied at all: not after `--until`, and not so far
    /// ahead of its source's time that it would drag the twin's clock.
    fn admit(
        &mut self,
        source: usize,
        ts: DateTime<FixedOffset>,
        body: &FeedBody,
    ) -> Result<(), (&'static str, String)> {
        if self.config.until.is_some_and(|until| ts > until) {
            return Err((
                "after until",
                format!("{} {}: {ts}", body.kind(), body.id()),
            ));
        }
        let reference = self
            .stats
            .source(source)
            .latest_ts
            .or_else(|| self.stats.latest_ts());
        if let Some(reference) = reference
            && ts - reference > self.config.max_jump
        {
            return Err((
                "future time",
                format!(
                    "{} {}: time {ts} is {} h ahead of the feed's {reference}",
                    body.kind(),
                    body.id(),
                    (ts - reference).num_hours()
                ),
            ));
        }
        Ok(())
    }

    /// A work order may only move forward (reported → signed → dispatched → resolved →
    /// closed); a closed one may be reopened.
    fn backwards(&self, order: &WorkOrderEvent) -> bool {
        self.orders
            .0
            .get(&order.id)
            .is_some_and(|old| old.status != OrderStatus::Closed && order.status < old.status)
    }

    /// Work orders and projects: latest wins, unless older than the last one applied
    /// from the same source.
    fn apply_record<T: Record + PartialEq, S: PartialEq + Copy>(
        &mut self,
        source: usize,
        ts: DateTime<FixedOffset>,
        record: T,
        map: impl Fn(&mut Self) -> &mut HashMap<String, T>,
        state: impl Fn(&T) -> S,
        changed: impl Fn(&mut Self, String, Option<S>, S),
    ) -> Result<(), (&'static str, String)> {
        let id = record.id().to_string();
        let slot = T::SLOT;
        let last = self.stats.source(source).last_ts_by_id[slot]
            .get(id.as_str())
            .copied();
        if let Some(last) = last.filter(|last| ts < *last) {
            return Err(late(T::KIND, &id, ts, Some(last)));
        }
        // The same message again (QoS 1 delivers at least once: a broker restart can
        // hand on a message twice, also after the source reconnected and forgot its
        // times): counted, not applied twice.
        let applied = self.stats.source(source).applied_ts_by_id[slot]
            .get(id.as_str())
            .copied();
        if applied == Some(ts) && map(self).get(&id) == Some(&record) {
            return Err(duplicate(T::KIND, &id, ts));
        }
        let s = self.stats.source(source);
        s.last_ts_by_id[slot].insert(id.as_str().into(), ts);
        s.applied_ts_by_id[slot].insert(id.as_str().into(), ts);
        let now = state(&record);
        match upsert(map(self), id.clone(), record, state) {
            Some((from, to)) => changed(self, id, from, to),
            // Raised for every message of a kind that asks (operations follow each
            // work-order message, also one that repeats its status).
            None if T::EVERY_MESSAGE => changed(self, id, Some(now), now),
            None => {}
        }
        Ok(())
    }

    /// Devices and cameras: one lookup finds the entity and the time of its last report.
    fn apply_marker(
        &mut self,
        source: usize,
        ts: DateTime<FixedOffset>,
        u: MarkerUpdate,
        superseded: Superseded,
    ) -> Result<(), (&'static str, String)> {
        let run = self.stats.source(source).run;
        // A report that others of the same status coalesced into changed the status
        // at the first of them.
        let changed_at = superseded.first().map_or(ts, |(first, _)| (*first).min(ts));
        let translation = u
            .position
            .map(|p| self.translation(p))
            .transpose()
            .map_err(|e| ("invalid value", format!("{}: {e}", u.id)))?;
        let observed = Observed {
            kind: u.device.as_ref().map(|(k, _)| *k),
            ts,
            status: u.status,
            readings: u
                .device
                .as_ref()
                .map(|(_, r)| r.clone())
                .unwrap_or_default(),
            superseded,
        };
        if let Some(tracked) = self.entities.by_id.get_mut(&u.id) {
            if tracked.kind != u.kind {
                return Err((
                    "kind conflict",
                    format!("id {} is already a {:?}", u.id, tracked.kind),
                ));
            }
            if tracked.source == source && tracked.run == run && ts < tracked.ts {
                return Err(late(u.kind.name(), &u.id, ts, Some(tracked.ts)));
            }
            // The same report again (a QoS 1 redelivery, also one after the source
            // reconnected): same source, time and status, and readings (if any) equal
            // to those applied.
            if tracked.source == source
                && ts == tracked.ts
                && u.status == tracked.status
                && self
                    .markers
                    .get(tracked.entity)
                    .is_ok_and(|(_, _, geo, current)| {
                        u.position.is_none_or(|p| p == geo.0)
                            && u.device.as_ref().is_none_or(|(_, r)| {
                                r.is_empty() || current.is_some_and(|c| c.0 == *r)
                            })
                    })
            {
                return Err(duplicate(u.kind.name(), &u.id, ts));
            }
            let (mut last, mut promised) = (tracked.ts, tracked.heartbeat_s);
            (tracked.ts, tracked.source, tracked.run) = (ts, source, run);
            if let Some(h) = u.heartbeat_s {
                tracked.heartbeat_s = h;
            }
            let entity = tracked.entity;
            let heartbeat_s = tracked.heartbeat_s;
            let from = tracked.status;
            tracked.status = u.status;
            // An entity spawned earlier this frame is not queryable yet: insert instead.
            let mut readings = u.device.map(|(_, r)| r).filter(|r| !r.is_empty());
            match self.markers.get_mut(entity) {
                Ok((mut status, mut at, mut geo, current)) => {
                    if status.0 != u.status {
                        status.0 = u.status;
                    }
                    if let (Some(t), Some(p)) = (translation, u.position)
                        && geo.0 != p
                    {
                        at.0 = t;
                        geo.0 = p;
                        self.out.moves.write(DeviceMoved { entity, ts });
                    }
                    if let (Some(mut current), Some(new)) = (current, readings.take()) {
                        current.0 = new;
                    }
                }
                Err(_) => {
                    let mut e = self.commands.entity(entity);
                    e.insert(Status(u.status));
                    if let (Some(t), Some(p)) = (translation, u.position) {
                        e.insert((MarkerAt(t), GeoPosition(p)));
                        self.out.moves.write(DeviceMoved { entity, ts });
                    }
                }
            }
            if let Some(readings) = readings {
                self.commands.entity(entity).insert(Readings(readings));
            }
            if let Some(camera) = u.camera {
                self.commands.entity(entity).insert(camera);
            }
            // The status through this report and those coalesced into it, in time
            // order. A device silent for MISSED_HEARTBEATS of its heartbeats before one
            // of them went offline then, whether or not a frame ended in the silence
            // (the heartbeat watch marks it when one does): the state never depends on
            // how the messages fell into frames.
            let mut status = from;
            let times = observed.superseded.iter().map(|(t, _)| *t).chain([ts]);
            for t in times {
                let silent_from = last + heartbeat_window(promised);
                if promised > 0 && status != DeviceStatus::Offline && t > silent_from {
                    self.out.missed.write(HeartbeatMissed {
                        id: u.id.clone(),
                        at: silent_from,
                    });
                    self.out.status.write(DeviceStatusChanged {
                        entity,
                        id: u.id.clone(),
                        from: Some(status),
                        to: DeviceStatus::Offline,
                        ts: silent_from,
                    });
                    self.entities.missed_heartbeats += 1;
                    status = DeviceStatus::Offline;
                }
                if status != u.status {
                    self.out.status.write(DeviceStatusChanged {
                        entity,
                        id: u.id.clone(),
                        from: Some(status),
                        to: u.status,
                        ts: t,
                    });
                    status = u.status;
                }
                (last, promised) = (t, heartbeat_s);
            }
            self.observed(entity, &u.id, heartbeat_s, observed);
            return Ok(());
        }
        let (Some(translation), Some(position)) = (translation, u.position) else {
            return Err((
                "no position",
                format!("first report of {} has no position", u.id),
            ));
        };
        let (id, status, heartbeat_s) = (u.id.clone(), u.status, u.heartbeat_s.unwrap_or(0));
        let entity = self.spawn_marker(u, position, translation, ts, source, run);
        self.observed(entity, &id, heartbeat_s, observed);
        self.out.status.write(DeviceStatusChanged {
            entity,
            id,
            from: None,
            to: status,
            ts: changed_at,
        });
        Ok(())
    }

    /// Where a marker at `p` stands in the scene (at the origin before the scene's
    /// frame is known).
    fn translation(&self, p: LonLat) -> Result<Vec3, crate::geo::GeoError> {
        match self.frame.as_deref() {
            Some(frame) => Ok(frame.0.to_local(p)?.to_world(MARKER_HEIGHT_M)),
            None => Ok(Vec3::ZERO),
        }
    }

    /// Spawns the entity of a device or camera first seen (its last report at `ts`
    /// from `source`'s `run`) and files it by id.
    fn spawn_marker(
        &mut self,
        u: MarkerUpdate,
        position: LonLat,
        translation: Vec3,
        ts: DateTime<FixedOffset>,
        source: usize,
        run: u32,
    ) -> Entity {
        let mut e = self.commands.spawn((
            FeedId(u.id.clone()),
            Status(u.status),
            GeoPosition(position),
            MarkerAt(translation),
        ));
        match (u.device, u.camera) {
            (Some((kind, readings)), _) => {
                e.insert((IotDevice { kind }, Readings(readings)));
            }
            (None, Some(camera)) => {
                e.insert(camera);
            }
            (None, None) => {}
        }
        if let Some(name) = u.name {
            e.insert(DisplayName(name));
        }
        if let Some(grid) = u.grid {
            e.insert(GridRef(grid));
        }
        let entity = e.id();
        self.entities.by_id.insert(
            u.id,
            Tracked {
                entity,
                kind: u.kind,
                status: u.status,
                ts,
                source,
                run,
                heartbeat_s: u.heartbeat_s.unwrap_or(0),
            },
        );
        entity
    }

    /// Raises the report for the rules: first the readings that coalesced into it.
    fn observed(&mut self, entity: Entity, id: &Text, heartbeat_s: u32, o: Observed) {
        for (ts, readings) in o.superseded {
            self.out.reports.write(DeviceReported {
                entity,
                id: id.clone(),
                kind: o.kind,
                ts,
                status: o.status,
                readings,
                heartbeat_s,
            });
        }
        self.out.reports.write(DeviceReported {
            entity,
            id: id.clone(),
            kind: o.kind,
            ts: o.ts,
            status: o.status,
            readings: o.readings,
            heartbeat_s,
        });
    }
}

/// A report as the rules see it.
struct Observed {
    kind: Option<DeviceKind>,
    ts: DateTime<FixedOffset>,
    status: DeviceStatus,
    readings: Vec<Reading>,
    superseded: Superseded,
}

/// The rejection of a message that repeats the one applied for its id.
fn duplicate(kind: &str, id: &str, ts: DateTime<FixedOffset>) -> (&'static str, String) {
    (
        "duplicate",
        format!("{kind} {id}: the same message at {} again", ts.to_rfc3339()),
    )
}

/// The rejection of a report older than one already applied or waiting.
fn late(
    kind: &str,
    id: &str,
    ts: DateTime<FixedOffset>,
    last: Option<DateTime<FixedOffset>>,
) -> (&'static str, String) {
    let why = match last {
        Some(last) => format!("{kind} {id}: time {ts} is before {last} already applied"),
        None => format!("{kind} {id}: time {ts} is before a report still waiting"),
    };
    ("out of order", why)
}

/// Work orders and projects, kept by id in a map.
trait Record {
    const KIND: &'static str;
    /// Whether its change message is raised for every message, not only when its
    /// state changes.
    const EVERY_MESSAGE: bool;
    /// Which of a source's `last_ts_by_id` maps holds its times.
    const SLOT: usize;
    fn id(&self) -> &str;
}

impl Record for WorkOrderEvent {
    const KIND: &'static str = "work_order";
    const EVERY_MESSAGE: bool = true;
    const SLOT: usize = 0;
    fn id(&self) -> &str {
        &self.id
    }
}

impl Record for ProjectUpdate {
    const KIND: &'static str = "project";
    const EVERY_MESSAGE: bool = false;
    const SLOT: usize = 1;
    fn id(&self) -> &str {
        &self.id
    }
}

/// Devices silent for this many of their heartbeats are marked offline.
pub const MISSED_HEARTBEATS: i64 = 3;

fn prune_closed_orders(mut stats: ResMut<FeedStats>, mut orders: ResMut<WorkOrders>) {
    let Some(now) = stats.latest_ts() else {
        return;
    };
    // Only the oldest closing is looked at unless some are due, and the resource is
    // written (change-detected) only then.
    if orders
        .1
        .queue
        .front()
        .is_some_and(|(at, _)| *at + CLOSED_ORDER_RETENTION < now)
    {
        let gone = orders.prune_ids(now, CLOSED_ORDER_RETENTION);
        if !gone.is_empty() {
            // Their ordering state goes with them (a source's per-id times).
            for s in stats.bypass_change_detection().sources.iter_mut() {
                for id in &gone {
                    s.last_ts_by_id[WorkOrderEvent::SLOT].remove(id.as_str());
                    s.applied_ts_by_id[WorkOrderEvent::SLOT].remove(id.as_str());
                }
            }
            debug!(
                "{} work orders closed over a day ago left memory",
                gone.len()
            );
        }
    }
}

/// Latest wins; returns (old, new) state when the state changed or the item is new.
fn upsert<T, S: PartialEq + Copy>(
    map: &mut HashMap<String, T>,
    id: String,
    value: T,
    state: impl Fn(&T) -> S,
) -> Option<(Option<S>, S)> {
    let to = state(&value);
    let from = map.insert(id, value).map(|old| state(&old));
    (from != Some(to)).then_some((from, to))
}
