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

/// A decoded, validated feed message with its timestamp.
#[derive(Debug, Clone, PartialEq)]
pub struct FeedMessage {
    pub ts: DateTime<FixedOffset>,
    pub body: FeedBody,
}

#[derive(Debug, Clone, PartialEq)]
pub enum FeedBody {
    Device(DeviceReport),
    Camera(CameraReport),
    WorkOrder(WorkOrderEvent),
    Project(ProjectUpdate),
}

impl FeedBody {
    pub fn id(&self) -> &str {
        match self {
            FeedBody::Device(d) => &d.id,
            FeedBody::Camera(c) => &c.id,
            FeedBody::WorkOrder(w) => &w.id,
            FeedBody::Project(p) => &p.id,
        }
    }

    /// 0–3, for per-kind tables.
    pub fn kind_index(&self) -> usize {
        match self {
            FeedBody::Device(_) => 0,
            FeedBody::Camera(_) => 1,
            FeedBody::WorkOrder(_) => 2,
            FeedBody::Project(_) => 3,
        }
    }

    pub fn kind(&self) -> &'static str {
        match self {
            FeedBody::Device(_) => "device",
            FeedBody::Camera(_) => "camera",
            FeedBody::WorkOrder(_) => "work_order",
            FeedBody::Project(_) => "project",
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
    pub name: String,
    pub value: f64,
    pub unit: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DeviceReport {
    pub id: String,
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
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CameraReport {
    pub id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub position: Option<LonLat>,
    /// Degrees clockwise from north.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub heading_deg: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fov_deg: Option<f64>,
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
        }
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawEnvelope<'a> {
    v: u32,
    ts: DateTime<FixedOffset>,
    #[serde(borrow)]
    kind: Cow<'a, str>,
    #[serde(borrow)]
    data: &'a RawValue,
}

#[derive(Serialize)]
struct OutEnvelope<'a, T: Serialize> {
    v: u32,
    ts: &'a DateTime<FixedOffset>,
    kind: &'static str,
    data: &'a T,
}

fn data<T: for<'de> Deserialize<'de>>(
    kind: &'static str,
    raw: &RawValue,
) -> Result<T, DecodeError> {
    serde_json::from_str(raw.get()).map_err(|e| DecodeError::Data {
        kind,
        reason: e.to_string(),
    })
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
    /// Decodes and validates one message.
    pub fn decode(line: &str) -> Result<FeedMessage, DecodeError> {
        let env: RawEnvelope =
            serde_json::from_str(line).map_err(|e| DecodeError::Envelope(e.to_string()))?;
        if env.v != SCHEMA_VERSION {
            return Err(DecodeError::Version(env.v));
        }
        let body = match env.kind.as_ref() {
            "device" => {
                let d: DeviceReport = data("device", env.data)?;
                check_id(&d.id)?;
                check_position(&d.position)?;
                if d.readings.iter().any(|r| !r.value.is_finite()) {
                    return Err(DecodeError::Invalid("a reading is not finite".into()));
                }
                FeedBody::Device(d)
            }
            "camera" => {
                let c: CameraReport = data("camera", env.data)?;
                check_id(&c.id)?;
                check_position(&c.position)?;
                FeedBody::Camera(c)
            }
            "work_order" => {
                let w: WorkOrderEvent = data("work_order", env.data)?;
                check_id(&w.id)?;
                check_position(&w.position)?;
                if matches!(w.satisfaction, Some(s) if !(1..=5).contains(&s)) {
                    return Err(DecodeError::Invalid("satisfaction must be 1–5".into()));
                }
                FeedBody::WorkOrder(w)
            }
            "project" => {
                let p: ProjectUpdate = data("project", env.data)?;
                check_id(&p.id)?;
                if !(0.0..=100.0).contains(&p.progress_pct) {
                    return Err(DecodeError::Invalid(format!(
                        "progress_pct {} is not within 0–100",
                        p.progress_pct
                    )));
                }
                if let Some(bad) = p.geometry.iter().find(|p| !p.is_valid()) {
                    return Err(DecodeError::Invalid(format!(
                        "geometry point {bad} is not a valid lon/lat"
                    )));
                }
                FeedBody::Project(p)
            }
            other => return Err(DecodeError::UnknownKind(other.to_string())),
        };
        Ok(FeedMessage { ts: env.ts, body })
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
        };
        result.expect("feed types serialize to JSON without fallible parts")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const DEVICE: &str = r#"{"v":1,"ts":"2026-11-23T08:00:00+08:00","kind":"device","data":{"id":"gas-1","kind":"gas_detector","position":{"lon":113.66,"lat":34.75},"status":"alarm","readings":[{"name":"CH4","value":12.5,"unit":"%LEL"}]}}"#;

    #[test]
    fn device_round_trips() {
        let m = FeedMessage::decode(DEVICE).unwrap();
        let FeedBody::Device(d) = &m.body else {
            panic!("not a device")
        };
        assert_eq!(d.status, DeviceStatus::Alarm);
        assert_eq!(FeedMessage::decode(&m.encode()).unwrap(), m);
    }

    #[test]
    fn rejections_have_reasons() {
        let bad_version = DEVICE.replace("\"v\":1", "\"v\":7");
        assert_eq!(
            FeedMessage::decode(&bad_version),
            Err(DecodeError::Version(7))
        );
        let unknown = DEVICE.replace("\"kind\":\"device\"", "\"kind\":\"drone\"");
        assert!(
            matches!(FeedMessage::decode(&unknown), Err(DecodeError::UnknownKind(k)) if k == "drone")
        );
        let far = DEVICE.replace("34.75", "134.75");
        assert!(matches!(
            FeedMessage::decode(&far),
            Err(DecodeError::Invalid(_))
        ));
        assert!(matches!(
            FeedMessage::decode("{not json"),
            Err(DecodeError::Envelope(_))
        ));
        let extra = DEVICE.replace("\"status\"", "\"colour\":1,\"status\"");
        assert!(matches!(
            FeedMessage::decode(&extra),
            Err(DecodeError::Data { .. })
        ));
    }
}
