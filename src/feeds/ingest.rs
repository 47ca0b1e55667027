//! Ingest: drains the feed channel each frame within a time budget and applies the
//! messages to entities keyed by feed id. State changes leave as Bevy messages.

use super::schema::{
    CameraReport, DeviceKind, DeviceReport, DeviceStatus, FeedBody, FeedMessage, OrderStatus,
    ProjectPhase, ProjectUpdate, Reading, WorkOrderEvent,
};
use super::{FeedChannel, FeedEvent, SourceState};
use crate::TwinSet;
use crate::geo::{LonLat, SceneFrame};
use bevy::platform::collections::HashMap;
use bevy::prelude::*;
use chrono::{DateTime, FixedOffset};
use std::collections::BTreeMap;
use std::time::{Duration, Instant};

/// Longest time one frame spends applying feed messages.
pub const INGEST_BUDGET: Duration = Duration::from_millis(4);
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
    pub rejected: BTreeMap<&'static str, u64>,
    pub last_problem: Option<String>,
    pub last_message_at: Option<Instant>,
    /// When the source last became live.
    pub live_since: Option<Instant>,
    /// Newest message time applied from this source since it (re)started: a replay
    /// that loops starts its clock over.
    pub latest_ts: Option<DateTime<FixedOffset>>,
    /// Time of the last message applied per id, to refuse older ones that would undo
    /// newer state. Reset when the source (re)starts.
    /// One map per message kind, so a lookup borrows the id instead of building a key.
    last_ts_by_id: [HashMap<String, DateTime<FixedOffset>>; 4],
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
}

impl Default for FeedStats {
    fn default() -> Self {
        Self {
            sources: Vec::new(),
            stale_after: DEFAULT_STALE_AFTER,
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
            rejected: BTreeMap::new(),
            last_problem: None,
            last_message_at: None,
            live_since: None,
            latest_ts: None,
            last_ts_by_id: Default::default(),
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
pub struct FeedId(pub String);

/// An IoT device on the map.
#[derive(Component, Debug, Clone)]
pub struct IotDevice {
    pub kind: DeviceKind,
}

/// A video camera on the map (named so as not to clash with Bevy's render `Camera`).
#[derive(Component, Debug, Clone, Default)]
pub struct VideoCamera {
    pub heading_deg: Option<f64>,
    pub fov_deg: Option<f64>,
    pub stream_url: Option<String>,
    pub snapshot_url: Option<String>,
}

#[derive(Component, Debug, Clone, Copy, PartialEq, Eq)]
pub struct Status(pub DeviceStatus);

#[derive(Component, Debug, Clone, Copy, PartialEq)]
pub struct GeoPosition(pub LonLat);

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

#[derive(Debug, Clone, Copy)]
struct Tracked {
    entity: Entity,
    kind: EntityKind,
    status: DeviceStatus,
}

/// Feed id → entity, so a message updates its entity instead of spawning a new one.
#[derive(Resource, Debug, Default)]
pub struct FeedEntities {
    by_id: HashMap<String, Tracked>,
}

impl FeedEntities {
    pub fn get(&self, id: &str) -> Option<Entity> {
        self.by_id.get(id).map(|t| t.entity)
    }

    pub fn len(&self) -> usize {
        self.by_id.len()
    }

    pub fn is_empty(&self) -> bool {
        self.by_id.is_empty()
    }
}

/// Latest state of every work order seen.
#[derive(Resource, Debug, Default)]
pub struct WorkOrders(pub HashMap<String, WorkOrderEvent>);

/// Latest state of every renovation project seen.
#[derive(Resource, Debug, Default)]
pub struct Projects(pub HashMap<String, ProjectUpdate>);

/// A device or camera appeared or changed status (`from` is None when it is new).
#[derive(Message, Debug, Clone)]
pub struct DeviceStatusChanged {
    pub entity: Entity,
    pub id: String,
    pub from: Option<DeviceStatus>,
    pub to: DeviceStatus,
}

#[derive(Message, Debug, Clone)]
pub struct WorkOrderChanged {
    pub id: String,
    pub from: Option<OrderStatus>,
    pub to: OrderStatus,
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
        .add_message::<DeviceStatusChanged>()
        .add_message::<WorkOrderChanged>()
        .add_message::<ProjectPhaseChanged>()
        .add_systems(Update, ingest.in_set(TwinSet::Ingest));
}

/// What a device or camera message changes on its entity.
struct MarkerUpdate {
    id: String,
    kind: EntityKind,
    status: DeviceStatus,
    position: Option<LonLat>,
    name: Option<String>,
    grid: Option<String>,
    device: Option<(DeviceKind, Vec<Reading>)>,
    camera: Option<VideoCamera>,
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
                stream_url: c.stream_url,
                snapshot_url: c.snapshot_url,
            }),
        }
    }
}

/// What ingest changes in place on an existing marker.
type MarkerState = (
    &'static mut Status,
    &'static mut Transform,
    &'static mut GeoPosition,
    Option<&'static mut Readings>,
);

#[derive(bevy::ecs::system::SystemParam)]
struct Outbox<'w> {
    status: MessageWriter<'w, DeviceStatusChanged>,
    orders: MessageWriter<'w, WorkOrderChanged>,
    phases: MessageWriter<'w, ProjectPhaseChanged>,
}

fn ingest(
    mut commands: Commands,
    channel: Res<FeedChannel>,
    frame: Option<NonSend<SceneFrame>>,
    mut stats: ResMut<FeedStats>,
    mut entities: ResMut<FeedEntities>,
    mut orders: ResMut<WorkOrders>,
    mut projects: ResMut<Projects>,
    mut markers: Query<MarkerState>,
    mut out: Outbox,
) {
    let started = Instant::now();
    let mut n = 0u32;
    while let Ok(event) = channel.receiver.try_recv() {
        n += 1;
        match event {
            FeedEvent::State { source, state } => {
                let s = stats.source(source);
                info!("feed {}: {state:?}", s.label);
                if state == SourceState::Live {
                    s.live_since = Some(Instant::now());
                    s.latest_ts = None;
                    s.last_ts_by_id.iter_mut().for_each(HashMap::clear);
                }
                s.state = state;
            }
            FeedEvent::Rejected {
                source,
                line,
                error,
            } => {
                stats.source(source).received += 1;
                stats.reject(source, error.label(), format!("line {line}: {error}"));
            }
            FeedEvent::Message { source, message } => {
                let s = stats.source(source);
                s.received += 1;
                s.last_message_at = Some(Instant::now());
                let FeedMessage { ts, body } = message;
                let id = body.id();
                let kind_slot = body.kind_index();
                if let Some(last) = s.last_ts_by_id[kind_slot].get(id)
                    && ts < *last
                {
                    let why = format!(
                        "{} {id}: time {ts} is before {last} already applied",
                        body.kind()
                    );
                    stats.reject(source, "out of order", why);
                    continue;
                }
                let id = id.to_owned();
                let result = match body {
                    FeedBody::Device(d) => apply_marker(
                        d.into(),
                        &mut commands,
                        frame.as_deref(),
                        &mut entities,
                        &mut markers,
                        &mut out.status,
                    ),
                    FeedBody::Camera(c) => apply_marker(
                        c.into(),
                        &mut commands,
                        frame.as_deref(),
                        &mut entities,
                        &mut markers,
                        &mut out.status,
                    ),
                    FeedBody::WorkOrder(w) => {
                        let id = w.id.clone();
                        if let Some((from, to)) = upsert(&mut orders.0, id.clone(), w, |o| o.status)
                        {
                            out.orders.write(WorkOrderChanged { id, from, to });
                        }
                        Ok(())
                    }
                    FeedBody::Project(p) => {
                        let id = p.id.clone();
                        if let Some((from, to)) =
                            upsert(&mut projects.0, id.clone(), p, |p| p.phase)
                        {
                            out.phases.write(ProjectPhaseChanged { id, from, to });
                        }
                        Ok(())
                    }
                };
                match result {
                    Ok(()) => {
                        let s = stats.source(source);
                        match s.last_ts_by_id[kind_slot].get_mut(&id) {
                            Some(last) => *last = ts,
                            None => {
                                s.last_ts_by_id[kind_slot].insert(id, ts);
                            }
                        }
                        s.applied += 1;
                        if s.latest_ts.is_none_or(|t| ts > t) {
                            s.latest_ts = Some(ts);
                        }
                    }
                    Err((label, why)) => stats.reject(source, label, why),
                }
            }
        }
        if n.is_multiple_of(64) && started.elapsed() > INGEST_BUDGET {
            break;
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

fn apply_marker(
    u: MarkerUpdate,
    commands: &mut Commands,
    frame: Option<&SceneFrame>,
    entities: &mut FeedEntities,
    markers: &mut Query<MarkerState>,
    status_changed: &mut MessageWriter<DeviceStatusChanged>,
) -> Result<(), (&'static str, String)> {
    let translation = match (u.position, frame) {
        (Some(p), Some(frame)) => Some(
            frame
                .0
                .to_local(p)
                .map_err(|e| ("invalid value", format!("{}: {e}", u.id)))?
                .to_world(MARKER_HEIGHT_M),
        ),
        (Some(_), None) => Some(Vec3::ZERO),
        (None, _) => None,
    };
    if let Some(tracked) = entities.by_id.get_mut(&u.id) {
        if tracked.kind != u.kind {
            return Err((
                "kind conflict",
                format!("id {} is already a {:?}", u.id, tracked.kind),
            ));
        }
        let entity = tracked.entity;
        let from = tracked.status;
        tracked.status = u.status;
        // An entity spawned earlier this frame is not queryable yet: insert instead.
        let mut readings = u.device.map(|(_, r)| r).filter(|r| !r.is_empty());
        match markers.get_mut(entity) {
            Ok((mut status, mut transform, mut geo, current)) => {
                if status.0 != u.status {
                    status.0 = u.status;
                }
                if let (Some(t), Some(p)) = (translation, u.position) {
                    transform.translation = t;
                    geo.0 = p;
                }
                if let (Some(mut current), Some(new)) = (current, readings.take()) {
                    current.0 = new;
                }
            }
            Err(_) => {
                let mut e = commands.entity(entity);
                e.insert(Status(u.status));
                if let (Some(t), Some(p)) = (translation, u.position) {
                    e.insert((Transform::from_translation(t), GeoPosition(p)));
                }
            }
        }
        if let Some(readings) = readings {
            commands.entity(entity).insert(Readings(readings));
        }
        if let Some(camera) = u.camera {
            commands.entity(entity).insert(camera);
        }
        if from != u.status {
            status_changed.write(DeviceStatusChanged {
                entity,
                id: u.id,
                from: Some(from),
                to: u.status,
            });
        }
        return Ok(());
    }
    let (Some(translation), Some(position)) = (translation, u.position) else {
        return Err((
            "no position",
            format!("first report of {} has no position", u.id),
        ));
    };
    let mut e = commands.spawn((
        FeedId(u.id.clone()),
        Status(u.status),
        GeoPosition(position),
        Transform::from_translation(translation),
        Visibility::default(),
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
    entities.by_id.insert(
        u.id.clone(),
        Tracked {
            entity,
            kind: u.kind,
            status: u.status,
        },
    );
    status_changed.write(DeviceStatusChanged {
        entity,
        id: u.id,
        from: None,
        to: u.status,
    });
    Ok(())
}
