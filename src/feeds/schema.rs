//! Feed message types, version 1. One JSON object per message:
//! `{"v":1,"ts":"2026-11-23T08:00:00+08:00","kind":"device","data":{…}}`.
//! `data` is strict: unknown fields, unknown kinds and other versions are rejected.
//! Documented with examples in `data-feeds/SCHEMA.md`.

use crate::geo::LonLat;
use chrono::{DateTime, FixedOffset, NaiveDate};
use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;
use std::borrow::Cow;

pub const SCHEMA_VERSION: u32 = 1;
/// Longest list of readings (or project items) one message may carry.
pub const MAX_LIST: usize = 256;

/// Short text kept inline up to 24 bytes (ids, reading names, units): most feed
/// strings never touch the allocator.
pub type Text = compact_str::CompactString;

/// A decoded, validated feed message with its timestamp.
#[derive(Debug, Clone, PartialEq)]
pub struct FeedMessage {
    pub ts: DateTime<FixedOffset>,
    pub body: FeedBody,
}

#[derive(Debug, Clone, PartialEq)]
/// Device reports, by far the most frequent, are kept inline; the larger, rarer kinds
/// are boxed so every message stays small to move through channels and queues.
pub enum FeedBody {
    Device(DeviceReport),
    Camera(Box<CameraReport>),
    WorkOrder(Box<WorkOrderEvent>),
    Project(Box<ProjectUpdate>),
    /// The operations center's operating mode changes.
    Mode(Box<ModeChange>),
    /// A key vehicle (tour bus, muck truck) reports where it is.
    Vehicle(Box<VehicleReport>),
    /// An operator's action (acknowledge, resolve, silence, switch mode) from a
    /// control topic or a recording, so a replay shows who did what and when.
    Operator(Box<OperatorMessage>),
    /// State of the twin that a recording carries, restored when a replay reaches it.
    Checkpoint(Box<Checkpoint>),
}

impl FeedBody {
    /// Whether it is a checkpoint of the twin's whole state (not only its history).
    pub fn holds_state(&self) -> bool {
        matches!(self, FeedBody::Checkpoint(c) if c.state.is_some())
    }

    pub fn id(&self) -> &str {
        match self {
            FeedBody::Device(d) => &d.id,
            FeedBody::Camera(c) => &c.id,
            FeedBody::WorkOrder(w) => &w.id,
            FeedBody::Project(p) => &p.id,
            FeedBody::Mode(_) => "mode",
            FeedBody::Vehicle(v) => &v.id,
            FeedBody::Operator(_) => "operator",
            FeedBody::Checkpoint(_) => "checkpoint",
        }
    }

    /// Checks what the types alone do not: id length, positions, value ranges, list
    /// lengths.
    fn validate(&self) -> Result<(), DecodeError> {
        check_id(self.id())?;
        match self {
            FeedBody::Checkpoint(c) => c.history.validate()?,
            FeedBody::Operator(o) => {
                if o.operator.trim().is_empty() || o.operator.len() > 128 {
                    return Err(DecodeError::Invalid(
                        "operator: name who (1–128 bytes)".into(),
                    ));
                }
                if let OperatorCommand::Silence { minutes, .. } = &o.command
                    && !(minutes.is_finite() && *minutes > 0.0 && *minutes <= 30.0 * 1440.0)
                {
                    return Err(DecodeError::Invalid(format!(
                        "silence of {minutes} minutes: 0–30 days"
                    )));
                }
            }
            FeedBody::Mode(m) => {
                if m.by.trim().is_empty() || m.by.len() > 128 {
                    return Err(DecodeError::Invalid(
                        "mode: `by` must name who (1–128 bytes)".into(),
                    ));
                }
            }
            FeedBody::Vehicle(v) => {
                if !v.position.is_valid() {
                    return Err(DecodeError::Invalid(format!(
                        "position {} is not a valid lon/lat",
                        v.position
                    )));
                }
                if v.speed_kmh.is_some_and(|s| !(0.0..=400.0).contains(&s)) {
                    return Err(DecodeError::Invalid(
                        "speed_kmh must be within 0–400".into(),
                    ));
                }
                if v.heading_deg
                    .is_some_and(|h| !(h.is_finite() && (-360.0..=360.0).contains(&h)))
                {
                    return Err(DecodeError::Invalid(
                        "heading_deg must be within ±360".into(),
                    ));
                }
            }
            FeedBody::Device(d) => {
                check_position(&d.position)?;
                if d.readings.iter().any(|r| !r.value.is_finite()) {
                    return Err(DecodeError::Invalid("a reading is not finite".into()));
                }
                if d.readings.len() > MAX_LIST {
                    return Err(DecodeError::Invalid(format!(
                        "{} readings: at most {MAX_LIST}",
                        d.readings.len()
                    )));
                }
                if d.heartbeat_s == Some(0) {
                    return Err(DecodeError::Invalid("heartbeat_s must be positive".into()));
                }
            }
            FeedBody::Camera(c) => {
                check_position(&c.position)?;
                if let Some(h) = c.heading_deg
                    && !(h.is_finite() && (-360.0..=360.0).contains(&h))
                {
                    return Err(DecodeError::Invalid(format!(
                        "heading_deg {h} is not within ±360"
                    )));
                }
                if let Some(f) = c.fov_deg
                    && !(f > 0.0 && f <= 360.0)
                {
                    return Err(DecodeError::Invalid(format!(
                        "fov_deg {f} is not within 0–360"
                    )));
                }
                if let Some(r) = c.range_m
                    && !(r > 0.0 && r <= 10_000.0)
                {
                    return Err(DecodeError::Invalid(format!(
                        "range_m {r} is not within 0–10,000"
                    )));
                }
            }
            FeedBody::WorkOrder(w) => {
                check_position(&w.position)?;
                if w.related.len() > 64 || w.related.iter().any(|p| !p.is_valid()) {
                    return Err(DecodeError::Invalid(
                        "related: at most 64 valid lon/lat".into(),
                    ));
                }
                if w.departments.len() > 64 {
                    return Err(DecodeError::Invalid("departments: at most 64".into()));
                }
                if matches!(w.satisfaction, Some(s) if !(1..=5).contains(&s)) {
                    return Err(DecodeError::Invalid("satisfaction must be 1–5".into()));
                }
            }
            FeedBody::Project(p) => {
                if !(0.0..=100.0).contains(&p.progress_pct) {
                    return Err(DecodeError::Invalid(format!(
                        "progress_pct {} is not within 0–100",
                        p.progress_pct
                    )));
                }
                if p.budget_cny.is_some_and(|b| !(0.0..=1e13).contains(&b)) {
                    return Err(DecodeError::Invalid(
                        "budget_cny must be within 0–10 trillion".into(),
                    ));
                }
                if p.geometry.len() > 10_000 || p.items.len() > MAX_LIST {
                    return Err(DecodeError::Invalid(format!(
                        "geometry of at most 10,000 points and at most {MAX_LIST} items"
                    )));
                }
                if let Some(bad) = p.geometry.iter().find(|p| !p.is_valid()) {
                    return Err(DecodeError::Invalid(format!(
                        "geometry point {bad} is not a valid lon/lat"
                    )));
                }
            }
        }
        Ok(())
    }

    pub fn kind(&self) -> &'static str {
        match self {
            FeedBody::Device(_) => "device",
            FeedBody::Camera(_) => "camera",
            FeedBody::WorkOrder(_) => "work_order",
            FeedBody::Project(_) => "project",
            FeedBody::Mode(_) => "mode",
            FeedBody::Vehicle(_) => "vehicle",
            FeedBody::Operator(_) => "operator",
            FeedBody::Checkpoint(_) => "checkpoint",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DeviceKind {
    Elevator,
    GasDetector,
    ManholeCover,
    WaterPressure,
    BridgeStrain,
    ParkingSpace,
    StreetLight,
    TrafficFlow,
    AirQuality,
    Other,
}

/// Status of anything with a marker on the map: IoT devices and cameras.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DeviceStatus {
    Online,
    Alarm,
    Fault,
    Offline,
}

impl DeviceStatus {
    pub const ALL: [DeviceStatus; 4] = [
        DeviceStatus::Online,
        DeviceStatus::Alarm,
        DeviceStatus::Fault,
        DeviceStatus::Offline,
    ];
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Reading {
    pub name: Text,
    pub value: f64,
    pub unit: Text,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DeviceReport {
    pub id: Text,
    pub kind: DeviceKind,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// WGS84. Required the first time an id is seen; may be left out afterwards.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub position: Option<LonLat>,
    pub status: DeviceStatus,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub readings: Vec<Reading>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub grid: Option<String>,
    /// The device reports at least this often (seconds); silent for three
    /// heartbeats (in feed time) it is marked offline.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub heartbeat_s: Option<u32>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CameraReport {
    pub id: Text,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub position: Option<LonLat>,
    /// Degrees clockwise from north.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub heading_deg: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fov_deg: Option<f64>,
    /// How far it sees usefully, metres (the scene's linkage default when left out).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub range_m: Option<f64>,
    /// `alarm` is not used by cameras; online, fault or offline.
    pub status: DeviceStatus,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub grid: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stream_url: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub snapshot_url: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OrderSource {
    /// 12345 citizen hotline.
    Hotline12345,
    /// 郑好拍 photo report.
    PhotoReport,
    AiDetection,
    GridPatrol,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OrderCategory {
    Traffic,
    PublicFacilities,
    Education,
    PropertyManagement,
    Environment,
    Heating,
    MedicalSocialSecurity,
    Other,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OrderStatus {
    Reported,
    Signed,
    Dispatched,
    Resolved,
    Closed,
}

/// A grid event or 12345 work order, sent whenever its status changes.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WorkOrderEvent {
    pub id: String,
    pub source: OrderSource,
    pub category: OrderCategory,
    pub text: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub position: Option<LonLat>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub grid: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub department: Option<String>,
    pub status: OrderStatus,
    /// When it must be signed (accepted) by.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sign_deadline: Option<DateTime<FixedOffset>>,
    /// Citizen satisfaction 1–5, once closed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub satisfaction: Option<u8>,
    /// How fast it must be resolved; sets its resolution deadline (default `normal`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub urgency: Option<Urgency>,
    /// Every department involved (besides `department`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub departments: Vec<String>,
    /// Other places the matter concerns (a pipe that runs under two districts).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub related: Vec<LonLat>,
    /// The administrative levels handling it.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub levels: Vec<AdminLevel>,
    /// When it was first reported, for an order already under way when a feed first
    /// sends it (a recording or a wall that starts while it is open); left out, the
    /// first message's time.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reported_at: Option<DateTime<FixedOffset>>,
}

impl WorkOrderEvent {
    /// A newly reported order at `position`: no grid, department, deadline,
    /// satisfaction, urgency or links yet (the generators set what they know).
    pub fn reported(
        id: String,
        source: OrderSource,
        category: OrderCategory,
        text: &str,
        position: LonLat,
    ) -> Self {
        Self {
            id,
            source,
            category,
            text: text.to_string(),
            position: Some(position),
            grid: None,
            department: None,
            status: OrderStatus::Reported,
            sign_deadline: None,
            satisfaction: None,
            urgency: None,
            departments: Vec::new(),
            related: Vec::new(),
            levels: Vec::new(),
            reported_at: None,
        }
    }
}

/// Levels of the administration an order may involve.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AdminLevel {
    City,
    District,
    /// 街道: a street office.
    Street,
    /// 社区: a community.
    Community,
}

/// A work order's urgency, as the hotline grades it: the resolution deadline follows
/// (by default `immediate` 2 h, `urgent` 3 working days, `normal` 13 working days).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Urgency {
    Immediate,
    Urgent,
    Normal,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ProjectKind {
    OldCommunity,
    Road,
    PocketPark,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ProjectPhase {
    Planned,
    Design,
    Construction,
    Acceptance,
    Completed,
}

/// The items of the "一拆五改三增加" renovation scheme.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SchemeItem {
    /// 一拆: demolish illegal structures.
    DemolishIllegal,
    /// 白改黑: concrete roads resurfaced with asphalt.
    RoadResurfacing,
    /// 上改下: overhead cables buried.
    CablesUnderground,
    Greening,
    Facades,
    RainSewagePipes,
    CommunityFunctions,
    ServiceFacilities,
    PropertyManagement,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ItemState {
    NotStarted,
    InProgress,
    Done,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SchemeItemState {
    pub item: SchemeItem,
    pub state: ItemState,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProjectUpdate {
    pub id: String,
    pub kind: ProjectKind,
    pub name: String,
    /// Boundary ring (communities, parks) or centre line (roads), WGS84.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub geometry: Vec<LonLat>,
    pub phase: ProjectPhase,
    pub progress_pct: f64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub budget_cny: Option<f64>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub items: Vec<SchemeItemState>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub start: Option<NaiveDate>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub end: Option<NaiveDate>,
}

/// The four operating modes of the city's operations center.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, Default,
)]
#[serde(rename_all = "snake_case")]
pub enum OperatingMode {
    /// 日常: everyday operation.
    #[default]
    Daily,
    /// 重大节假日: Spring Festival, National Day.
    MajorHoliday,
    /// 重大活动: a major event in the city.
    MajorEvent,
    /// 应急: an emergency (rainstorm, disaster).
    Emergency,
}

impl OperatingMode {
    pub const ALL: [OperatingMode; 4] = [
        OperatingMode::Daily,
        OperatingMode::MajorHoliday,
        OperatingMode::MajorEvent,
        OperatingMode::Emergency,
    ];
}

/// A switch of operating mode sent by a feed (e.g. the command system).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ModeChange {
    pub mode: OperatingMode,
    /// Who switched (a person or a system).
    pub by: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}

/// What an operator does, as a control message says it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
pub enum OperatorCommand {
    Acknowledge {
        alert: String,
    },
    Resolve {
        alert: String,
    },
    Silence {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        device: Option<Text>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        rule: Option<String>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        district: Option<String>,
        minutes: f64,
        why: String,
    },
    SwitchMode {
        mode: OperatingMode,
        why: String,
    },
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OperatorMessage {
    pub operator: String,
    pub command: OperatorCommand,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum VehicleKind {
    /// 旅游大巴: tour buses keep to approved routes.
    TourBus,
    /// 渣土车: muck trucks keep out of zones outside their permitted hours.
    MuckTruck,
    Other,
}

/// Where a key vehicle is.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct VehicleReport {
    pub id: Text,
    pub kind: VehicleKind,
    pub position: LonLat,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub speed_kmh: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub heading_deg: Option<f64>,
    /// The approved route it runs on (a name in the scene's `vehicles.routes`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub route: Option<String>,
}

/// State of the twin at the message's time, carried by a recording (`kind:
/// "checkpoint"`; only replays may send one). It holds the KPI history up to its
/// time, so a day's recording starts with yesterday's curves, and may hold the whole
/// state of the twin there (`state`), so a seek starts from it instead of from the
/// recording's start. See `data-feeds/README.md`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Checkpoint {
    pub history: HistoryCheckpoint,
    /// The twin's whole state ([`crate::ops::state::TwinState`]), kept as JSON text
    /// until a replay starts from it: a play that passes a checkpoint does not need it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub state: Option<StateJson>,
}

/// A [`Checkpoint`]'s state as JSON text, and decoded once a replay is to restore
/// it (off the render loop: a city's state is megabytes of JSON).
#[derive(Debug, Clone)]
pub struct StateJson {
    pub raw: Box<RawValue>,
    pub decoded: Option<std::sync::Arc<crate::ops::state::TwinState>>,
}

impl StateJson {
    pub fn new(raw: Box<RawValue>) -> Self {
        Self { raw, decoded: None }
    }

    /// Decodes the state, once; what is wrong with it, if it does not decode.
    pub fn decode(&mut self) -> Result<&std::sync::Arc<crate::ops::state::TwinState>, String> {
        if self.decoded.is_none() {
            let state = crate::ops::state::TwinState::decode(self.raw.get())?;
            self.decoded = Some(std::sync::Arc::new(state));
        }
        Ok(self.decoded.as_ref().expect("decoded just now"))
    }
}

impl PartialEq for StateJson {
    fn eq(&self, other: &Self) -> bool {
        self.raw.get() == other.raw.get()
    }
}

impl Serialize for StateJson {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        self.raw.serialize(s)
    }
}

impl<'de> Deserialize<'de> for StateJson {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        Box::<RawValue>::deserialize(d).map(Self::new)
    }
}

/// The KPI history as columns: one value a minute from `from_minute` for the city and
/// each district, one a hour from `from_hour` for each grid (missing samples are
/// zeros).
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HistoryCheckpoint {
    /// Minutes since the Unix epoch.
    pub from_minute: i64,
    pub online_rate: Vec<f32>,
    pub alerts_open: Vec<u32>,
    pub orders_open: Vec<u32>,
    pub orders_overdue: Vec<u32>,
    pub alerts_fired: Vec<u32>,
    pub orders_reported: Vec<u32>,
    /// Open alerts plus open orders per district (by name), per minute.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub districts: Vec<Series<u32>>,
    /// Hours since the Unix epoch.
    #[serde(default)]
    pub from_hour: i64,
    /// Open alerts plus open orders per grid (by id), per hour; grids all zero are left
    /// out.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub grids: Vec<Series<u16>>,
}

/// One area's values in a [`HistoryCheckpoint`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Series<T> {
    pub id: String,
    pub values: Vec<T>,
}

/// Longest history a checkpoint holds: 48 hours of minutes.
pub const CHECKPOINT_MINUTES: usize = 48 * 60;

impl HistoryCheckpoint {
    fn validate(&self) -> Result<(), DecodeError> {
        let n = self.online_rate.len();
        let bad = |what: String| Err(DecodeError::Invalid(format!("checkpoint: {what}")));
        if n > CHECKPOINT_MINUTES {
            return bad(format!(
                "{n} minutes of history: at most {CHECKPOINT_MINUTES}"
            ));
        }
        for (name, len) in [
            ("alerts_open", self.alerts_open.len()),
            ("orders_open", self.orders_open.len()),
            ("orders_overdue", self.orders_overdue.len()),
            ("alerts_fired", self.alerts_fired.len()),
            ("orders_reported", self.orders_reported.len()),
        ] {
            if len != n {
                return bad(format!("{name} has {len} values, online_rate {n}"));
            }
        }
        if let Some(r) = self
            .online_rate
            .iter()
            .find(|r| !(r.is_finite() && (0.0..=1.0).contains(*r)))
        {
            return bad(format!("online rate {r} is not within 0–1"));
        }
        if self.districts.len() > 10_000 || self.grids.len() > 1_000_000 {
            return bad("at most 10,000 districts and 1,000,000 grids".into());
        }
        if let Some(d) = self.districts.iter().find(|d| d.values.len() > n) {
            return bad(format!("district {} has more minutes than the city", d.id));
        }
        if let Some(g) = self.grids.iter().find(|g| g.values.len() > 48) {
            return bad(format!("grid {} has more than 48 hours", g.id));
        }
        Ok(())
    }
}

/// Why a message was rejected; the variant name is the counter's label.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum DecodeError {
    #[error("not JSON or not a v{SCHEMA_VERSION} envelope: {0}")]
    Envelope(String),
    #[error("unsupported schema version {0} (this build reads v{SCHEMA_VERSION})")]
    Version(u32),
    #[error("unknown message kind '{0}'")]
    UnknownKind(String),
    #[error("bad {kind} data: {reason}")]
    Data { kind: &'static str, reason: String },
    #[error("{0}")]
    Invalid(String),
    #[error("message of {0} bytes is over the 1 MiB limit")]
    TooLarge(usize),
    /// A well-formed message this source may not send (an operator action off the
    /// scene's control topics).
    #[error("{0}")]
    NotAllowed(String),
    /// A damaged part of a recording (cut short, a chunk failing its check): where it
    /// is and what is lost; reading goes on after it.
    #[error("damaged recording {0}")]
    Damaged(String),
}

impl DecodeError {
    /// Short label for per-reason counters.
    pub fn label(&self) -> &'static str {
        match self {
            DecodeError::Envelope(_) => "malformed",
            DecodeError::Version(_) => "version",
            DecodeError::UnknownKind(_) => "unknown kind",
            DecodeError::Data { .. } => "bad data",
            DecodeError::Invalid(_) => "invalid value",
            DecodeError::TooLarge(_) => "too large",
            DecodeError::NotAllowed(_) => "not allowed",
            DecodeError::Damaged(_) => "damaged",
        }
    }
}

#[derive(Serialize)]
struct OutEnvelope<'a, T: Serialize> {
    v: u32,
    ts: &'a DateTime<FixedOffset>,
    kind: &'static str,
    data: &'a T,
}

/// What the envelope pass found. `data` is decoded in the same pass when `kind` came
/// before it (the usual order); otherwise it is kept raw and decoded afterwards.
#[derive(Default)]
struct Envelope<'a> {
    v: Option<u32>,
    ts: Option<DateTime<FixedOffset>>,
    kind: Option<Cow<'a, str>>,
    body: Option<FeedBody>,
    raw_data: Option<&'a RawValue>,
    /// Set while `data` is being decoded, so a failure there is reported as bad data
    /// of that kind rather than a malformed envelope.
    decoding: Option<&'static str>,
}

/// The message kinds this build reads, with their `kind` string.
const KINDS: [&str; 8] = [
    "device",
    "camera",
    "work_order",
    "project",
    "mode",
    "vehicle",
    "operator",
    "checkpoint",
];

fn known_kind(kind: &str) -> Option<&'static str> {
    KINDS.into_iter().find(|k| *k == kind)
}

/// Decodes `data` of a known kind from any deserializer.
fn body<'de, D: serde::Deserializer<'de>>(kind: &'static str, d: D) -> Result<FeedBody, D::Error> {
    Ok(match kind {
        "device" => FeedBody::Device(DeviceReport::deserialize(d)?),
        "camera" => FeedBody::Camera(Box::new(CameraReport::deserialize(d)?)),
        "work_order" => FeedBody::WorkOrder(Box::new(WorkOrderEvent::deserialize(d)?)),
        "mode" => FeedBody::Mode(Box::new(ModeChange::deserialize(d)?)),
        "vehicle" => FeedBody::Vehicle(Box::new(VehicleReport::deserialize(d)?)),
        "operator" => FeedBody::Operator(Box::new(OperatorMessage::deserialize(d)?)),
        "checkpoint" => FeedBody::Checkpoint(Box::new(Checkpoint::deserialize(d)?)),
        _ => FeedBody::Project(Box::new(ProjectUpdate::deserialize(d)?)),
    })
}

impl<'de> serde::de::Visitor<'de> for &mut Envelope<'de> {
    type Value = ();

    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str("an object with v, ts, kind and data")
    }

    fn visit_map<A: serde::de::MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        use serde::de::Error;
        while let Some(key) = map.next_key::<Cow<'de, str>>()? {
            match key.as_ref() {
                "v" if self.v.is_none() => self.v = Some(map.next_value()?),
                "ts" if self.ts.is_none() => self.ts = Some(map.next_value::<Timestamp>()?.0),
                "kind" if self.kind.is_none() => self.kind = Some(map.next_value()?),
                "data" if self.body.is_none() && self.raw_data.is_none() => {
                    let v1 = self.v.is_none_or(|v| v == SCHEMA_VERSION);
                    match self.kind.as_deref().and_then(known_kind) {
                        Some(kind) if v1 => {
                            self.decoding = Some(kind);
                            self.body = Some(map.next_value_seed(BodySeed(kind))?);
                            self.decoding = None;
                        }
                        _ => self.raw_data = Some(map.next_value()?),
                    }
                }
                "v" | "ts" | "kind" | "data" => {
                    return Err(A::Error::custom(format!("duplicate field `{key}`")));
                }
                other => {
                    return Err(A::Error::custom(format!(
                        "unknown field `{other}`, expected one of v, ts, kind, data"
                    )));
                }
            }
        }
        Ok(())
    }
}

/// An RFC 3339 time. The usual shape (`2026-11-23T08:00:00.250+08:00`, or `Z`) is
/// read directly, which is several times quicker than chrono's general parser;
/// anything else goes to chrono.
struct Timestamp(DateTime<FixedOffset>);

impl<'de> Deserialize<'de> for Timestamp {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = <Cow<'de, str>>::deserialize(d)?;
        parse_rfc3339(&text)
            .map(Timestamp)
            .map_err(|e| serde::de::Error::custom(format!("ts '{text}': {e}")))
    }
}

pub fn parse_rfc3339(text: &str) -> Result<DateTime<FixedOffset>, chrono::ParseError> {
    match quick_rfc3339(text.as_bytes()) {
        Some(t) => Ok(t),
        None => DateTime::parse_from_rfc3339(text),
    }
}

/// `YYYY-MM-DDTHH:MM:SS[.fraction](Z|±HH:MM)`; `None` for anything else, including
/// leap seconds, which chrono then handles.
pub fn quick_rfc3339(b: &[u8]) -> Option<DateTime<FixedOffset>> {
    use chrono::{NaiveTime, TimeZone};
    let num = |range: std::ops::Range<usize>| -> Option<u32> {
        b.get(range)?.iter().try_fold(0u32, |n, c| {
            c.is_ascii_digit().then(|| n * 10 + u32::from(c - b'0'))
        })
    };
    let at = |i: usize, c: u8| b.get(i) == Some(&c);
    if !(at(4, b'-') && at(7, b'-') && at(10, b'T') && at(13, b':') && at(16, b':')) {
        return None;
    }
    let date = NaiveDate::from_ymd_opt(num(0..4)? as i32, num(5..7)?, num(8..10)?)?;
    let (hour, minute, second) = (num(11..13)?, num(14..16)?, num(17..19)?);
    let mut i = 19;
    let mut nanos = 0u32;
    if at(i, b'.') {
        let digits = b[i + 1..].iter().take_while(|c| c.is_ascii_digit()).count();
        if digits == 0 || digits > 9 {
            return None;
        }
        nanos = num(i + 1..i + 1 + digits)? * 10u32.pow(9 - digits as u32);
        i += 1 + digits;
    }
    let offset = match b.get(i..)? {
        b"Z" => 0,
        [sign @ (b'+' | b'-'), _, _, b':', _, _] => {
            let secs = (num(i + 1..i + 3)? * 3600 + num(i + 4..i + 6)? * 60) as i32;
            if *sign == b'-' { -secs } else { secs }
        }
        _ => return None,
    };
    let time = NaiveTime::from_hms_nano_opt(hour, minute, second, nanos).filter(|_| second < 60)?;
    FixedOffset::east_opt(offset)?
        .from_local_datetime(&date.and_time(time))
        .single()
}

struct BodySeed(&'static str);

impl<'de> serde::de::DeserializeSeed<'de> for BodySeed {
    type Value = FeedBody;

    fn deserialize<D: serde::Deserializer<'de>>(self, d: D) -> Result<FeedBody, D::Error> {
        body(self.0, d)
    }
}

fn check_position(p: &Option<LonLat>) -> Result<(), DecodeError> {
    match p {
        Some(p) if !p.is_valid() => Err(DecodeError::Invalid(format!(
            "position ({}, {}) is not a valid WGS84 lon/lat",
            p.lon, p.lat
        ))),
        _ => Ok(()),
    }
}

fn check_id(id: &str) -> Result<(), DecodeError> {
    if id.is_empty() || id.len() > 128 {
        return Err(DecodeError::Invalid(format!(
            "id must be 1–128 bytes, got {}",
            id.len()
        )));
    }
    Ok(())
}

impl FeedMessage {
    /// Decodes and validates one message, in one pass over the bytes when `kind`
    /// comes before `data`.
    pub fn decode(line: &str) -> Result<FeedMessage, DecodeError> {
        use serde::Deserializer as _;
        let mut env = Envelope::default();
        let mut de = serde_json::Deserializer::from_str(line);
        let parsed = (&mut de).deserialize_map(&mut env).and_then(|()| de.end());
        if let Err(e) = parsed {
            return Err(match env.decoding {
                Some(kind) => DecodeError::Data {
                    kind,
                    reason: e.to_string(),
                },
                None => DecodeError::Envelope(e.to_string()),
            });
        }
        let missing = |field: &str| DecodeError::Envelope(format!("missing field `{field}`"));
        let v = env.v.ok_or_else(|| missing("v"))?;
        let ts = env.ts.ok_or_else(|| missing("ts"))?;
        let kind_text = env.kind.ok_or_else(|| missing("kind"))?;
        if v != SCHEMA_VERSION {
            return Err(DecodeError::Version(v));
        }
        let Some(kind) = known_kind(&kind_text) else {
            return Err(DecodeError::UnknownKind(kind_text.into_owned()));
        };
        let body = match (env.body, env.raw_data) {
            (Some(body), _) => body,
            (None, Some(raw)) => {
                let mut de = serde_json::Deserializer::from_str(raw.get());
                body(kind, &mut de).map_err(|e| DecodeError::Data {
                    kind,
                    reason: e.to_string(),
                })?
            }
            (None, None) => return Err(missing("data")),
        };
        body.validate()?;
        Ok(FeedMessage { ts, body })
    }

    /// One line of the recording format (no trailing newline).
    pub fn encode(&self) -> String {
        let ts = &self.ts;
        let result = match &self.body {
            FeedBody::Device(d) => serde_json::to_string(&OutEnvelope {
                v: SCHEMA_VERSION,
                ts,
                kind: "device",
                data: d,
            }),
            FeedBody::Camera(c) => serde_json::to_string(&OutEnvelope {
                v: SCHEMA_VERSION,
                ts,
                kind: "camera",
                data: c,
            }),
            FeedBody::WorkOrder(w) => serde_json::to_string(&OutEnvelope {
                v: SCHEMA_VERSION,
                ts,
                kind: "work_order",
                data: w,
            }),
            FeedBody::Project(p) => serde_json::to_string(&OutEnvelope {
                v: SCHEMA_VERSION,
                ts,
                kind: "project",
                data: p,
            }),
            FeedBody::Checkpoint(c) => serde_json::to_string(&OutEnvelope {
                v: SCHEMA_VERSION,
                ts,
                kind: "checkpoint",
                data: c,
            }),
            FeedBody::Mode(m) => serde_json::to_string(&OutEnvelope {
                v: SCHEMA_VERSION,
                ts,
                kind: "mode",
                data: m,
            }),
            FeedBody::Vehicle(v) => serde_json::to_string(&OutEnvelope {
                v: SCHEMA_VERSION,
                ts,
                kind: "vehicle",
                data: v,
            }),
            FeedBody::Operator(o) => serde_json::to_string(&OutEnvelope {
                v: SCHEMA_VERSION,
                ts,
                kind: "operator",
                data: o,
            }),
        };
        result.expect("feed types serialize to JSON without fallible parts")
    }
}
