//! The demo recording: every device and camera of the district announced at the start,
//! then ten minutes of status changes, readings, work orders and project updates.

use super::rng::SplitMix64;
use super::{District, SEED, SYNTHETIC_NOTE, round_to};
use crate::feeds::schema::*;
use crate::geo::{LocalFrame, LocalPoint, LonLat};
use anyhow::Result;
use chrono::{DateTime, Duration, FixedOffset, NaiveDate, TimeZone};
use geo::Centroid;

const DEMO_SECONDS: i64 = 600;

pub(super) struct Msg {
    pub at_ms: i64,
    pub body: FeedBody,
}

pub(super) fn recording(d: &District, frame: &LocalFrame) -> Result<String> {
    let mut rng = SplitMix64::new(SEED ^ 0xFEED);
    let start = start_time();
    let ll = |p: LocalPoint| -> Result<LonLat> {
        let w = frame.to_lonlat(p)?;
        Ok(LonLat::new(round_to(w.lon, 7), round_to(w.lat, 7)))
    };
    let mut msgs: Vec<Msg> = Vec::new();
    // (id, kind or None for cameras)
    let mut markers: Vec<(String, Option<DeviceKind>)> = Vec::new();
    // Cameras at every crossing (two each, facing along the roads) and along roads.
    let mut cam = 0;
    let mut camera = |msgs: &mut Vec<Msg>,
                      rng: &mut SplitMix64,
                      p: LocalPoint,
                      heading: f64|
     -> Result<String> {
        cam += 1;
        let id = format!("EQ-CAM-{cam:04}");
        let status = match status_at_start(rng) {
            DeviceStatus::Alarm => DeviceStatus::Online,
            s => s,
        };
        msgs.push(Msg {
            at_ms: 0,
            body: FeedBody::Camera(Box::new(CameraReport {
                range_m: None,
                id: id.as_str().into(),
                name: Some(format!("二七 视频 {cam:04}")),
                position: Some(ll(p)?),
                heading_deg: Some(heading),
                fov_deg: Some(60.0),
                status,
                grid: None,
                stream_url: Some(format!("rtsp://video.example.invalid/erqi/{id}")),
                snapshot_url: None,
            })),
        });
        Ok(id)
    };
    for c in &d.crossings {
        for h in [0.0, 90.0] {
            let id = camera(
                &mut msgs,
                &mut rng,
                LocalPoint::new(c.east_m + 18.0, c.north_m + 18.0),
                h,
            )?;
            markers.push((id, None));
        }
    }
    for (line, class) in &d.roads {
        if *class == "local" {
            continue;
        }
        let (a, b) = (line[0], line[1]);
        let len = (b.east_m - a.east_m).hypot(b.north_m - a.north_m);
        let steps = (len / 300.0) as usize;
        for s in 1..steps {
            let t = s as f64 / steps as f64;
            let p = LocalPoint::new(
                a.east_m + (b.east_m - a.east_m) * t + 12.0,
                a.north_m + (b.north_m - a.north_m) * t + 12.0,
            );
            let id = camera(&mut msgs, &mut rng, p, 45.0)?;
            markers.push((id, None));
        }
    }

    // IoT devices by building and road.
    let mut dev = 0;
    let mut device = |msgs: &mut Vec<Msg>,
                      rng: &mut SplitMix64,
                      kind: DeviceKind,
                      p: LocalPoint,
                      grid: Option<String>|
     -> Result<String> {
        dev += 1;
        let id = format!("EQ-IOT-{dev:05}");
        msgs.push(Msg {
            at_ms: 0,
            body: FeedBody::Device(DeviceReport {
                id: id.as_str().into(),
                kind,
                name: None,
                position: Some(ll(p)?),
                status: status_at_start(rng),
                readings: reading(kind, rng),
                grid,
                heartbeat_s: None,
            }),
        });
        Ok(id)
    };
    for b in &d.buildings {
        let c = b.footprint.centroid().map(|c| c.0).unwrap_or_default();
        let p = LocalPoint::new(c.x, c.y);
        if b.use_ == "residential" && b.levels <= 8 {
            let id = device(&mut msgs, &mut rng, DeviceKind::GasDetector, p, None)?;
            markers.push((id, Some(DeviceKind::GasDetector)));
        }
        if b.levels >= 12 {
            for k in 0..2 {
                let q = LocalPoint::new(p.east_m + 6.0 * k as f64, p.north_m);
                let id = device(&mut msgs, &mut rng, DeviceKind::Elevator, q, None)?;
                markers.push((id, Some(DeviceKind::Elevator)));
            }
        }
    }
    for (line, class) in &d.roads {
        let (a, b) = (line[0], line[1]);
        let len = (b.east_m - a.east_m).hypot(b.north_m - a.north_m);
        let steps = (len / 180.0) as usize;
        for s in 0..=steps {
            let t = s as f64 / steps.max(1) as f64;
            let p = LocalPoint::new(
                a.east_m + (b.east_m - a.east_m) * t - 10.0,
                a.north_m + (b.north_m - a.north_m) * t - 10.0,
            );
            let kind = match s % 4 {
                0 => DeviceKind::ManholeCover,
                1 => DeviceKind::StreetLight,
                2 if *class != "local" => DeviceKind::TrafficFlow,
                2 => DeviceKind::ParkingSpace,
                _ => DeviceKind::WaterPressure,
            };
            let id = device(&mut msgs, &mut rng, kind, p, None)?;
            markers.push((id, Some(kind)));
        }
    }

    msgs.extend(life(&mut rng, &markers, DEMO_SECONDS, (150, 400)));

    let anchors: Vec<(String, LocalPoint)> = d
        .grids
        .iter()
        .map(|g| {
            (
                g.0.clone(),
                LocalPoint::new(g.2[0].east_m + 40.0, g.2[0].north_m + 40.0),
            )
        })
        .collect();
    msgs.extend(work_orders(
        &mut rng,
        start,
        &anchors,
        40,
        DEMO_SECONDS,
        &ll,
    )?);

    msgs.extend(projects(&Default::default()));

    Ok(encode(
        msgs,
        start,
        &format!(
            "# {SYNTHETIC_NOTE}\n# Erqi district, {{}} messages over {DEMO_SECONDS} s; schema: data-feeds/SCHEMA.md\n"
        ),
    ))
}

/// The recording's text: `header` (its `{}` replaced by the message count), then the
/// messages in time order, one JSON line each.
pub(super) fn encode(mut msgs: Vec<Msg>, start: DateTime<FixedOffset>, header: &str) -> String {
    msgs.sort_by_key(|m| m.at_ms);
    let mut out = header.replacen("{}", &msgs.len().to_string(), 1);
    for m in msgs {
        let message = FeedMessage {
            ts: start + Duration::milliseconds(m.at_ms),
            body: m.body,
        };
        out.push_str(&message.encode());
        out.push('\n');
    }
    out
}

/// The demo day's start: 08:00 Beijing time.
pub(super) fn start_time() -> DateTime<FixedOffset> {
    crate::ops::beijing()
        .with_ymd_and_hms(2026, 11, 23, 8, 0, 0)
        .single()
        .expect("a fixed date exists")
}

pub(super) fn reading(kind: DeviceKind, rng: &mut SplitMix64) -> Vec<Reading> {
    let r = |name: &str, value: f64, unit: &str| Reading {
        name: name.into(),
        value: (value * 100.0).round() / 100.0,
        unit: unit.into(),
    };
    match kind {
        DeviceKind::GasDetector => vec![r("CH4", rng.range(0.0, 8.0), "%LEL")],
        DeviceKind::WaterPressure => vec![r("pressure", rng.range(0.22, 0.38), "MPa")],
        DeviceKind::TrafficFlow => vec![
            r("flow", rng.range(300.0, 1800.0), "veh/h"),
            r("speed", rng.range(12.0, 45.0), "km/h"),
        ],
        DeviceKind::ManholeCover => vec![r("tilt", rng.range(0.0, 3.0), "°")],
        DeviceKind::Elevator => vec![r("floor", rng.below(30) as f64, "")],
        // 1 taken, 0 free: about seven in ten taken in the morning.
        DeviceKind::ParkingSpace => vec![r("occupied", f64::from(u8::from(rng.unit() < 0.7)), "")],
        _ => Vec::new(),
    }
}

/// Status of a marker when first announced: mostly online.
pub(super) fn status_at_start(rng: &mut SplitMix64) -> DeviceStatus {
    let r = rng.unit();
    if r < 0.92 {
        DeviceStatus::Online
    } else if r < 0.96 {
        DeviceStatus::Offline
    } else if r < 0.98 {
        DeviceStatus::Fault
    } else {
        DeviceStatus::Alarm
    }
}

/// Life after the announcements: status flips (alarms raised and cleared) and readings,
/// one every `gap_ms.0 + [0, gap_ms.1)` ms. `markers`: (id, kind or None for cameras).
pub(super) fn life(
    rng: &mut SplitMix64,
    markers: &[(String, Option<DeviceKind>)],
    seconds: i64,
    gap_ms: (i64, u64),
) -> Vec<Msg> {
    let mut msgs = Vec::new();
    let mut t = 0i64;
    while t < seconds * 1000 {
        t += gap_ms.0 + rng.below(gap_ms.1) as i64;
        let (id, kind) = &markers[rng.below(markers.len() as u64) as usize];
        let r = rng.unit();
        let status = if r < 0.55 {
            DeviceStatus::Online
        } else if r < 0.75 && kind.is_some() {
            DeviceStatus::Alarm
        } else if r < 0.9 {
            DeviceStatus::Offline
        } else {
            DeviceStatus::Fault
        };
        let body = match kind {
            Some(kind) => FeedBody::Device(DeviceReport {
                id: id.as_str().into(),
                kind: *kind,
                name: None,
                position: None,
                status,
                readings: reading(*kind, rng),
                grid: None,
                heartbeat_s: None,
            }),
            None => FeedBody::Camera(Box::new(CameraReport {
                range_m: None,
                id: id.as_str().into(),
                name: None,
                position: None,
                heading_deg: None,
                fov_deg: None,
                status: if status == DeviceStatus::Alarm {
                    DeviceStatus::Fault
                } else {
                    status
                },
                grid: None,
                stream_url: None,
                snapshot_url: None,
            })),
        };
        msgs.push(Msg { at_ms: t, body });
    }

    msgs
}

/// Work orders from the 12345 hotline and others, moving through their statuses; each
/// reported in one of `grids` (id, a point inside), `count` over `seconds`.
pub(super) fn work_orders(
    rng: &mut SplitMix64,
    start: DateTime<FixedOffset>,
    grids: &[(String, LocalPoint)],
    count: usize,
    seconds: i64,
    ll: &dyn Fn(LocalPoint) -> Result<LonLat>,
) -> Result<Vec<Msg>> {
    let texts = [
        (OrderCategory::Traffic, "路口信号灯故障，早高峰拥堵"),
        (
            OrderCategory::PublicFacilities,
            "路灯半年不亮，疑似线路损坏",
        ),
        (OrderCategory::Environment, "小区门口垃圾堆放未清运"),
        (OrderCategory::Heating, "维修后暖气片不热"),
        (
            OrderCategory::PropertyManagement,
            "楼道照明损坏，物业未处理",
        ),
        (OrderCategory::PublicFacilities, "道路中间花坛无警示标志"),
        (OrderCategory::Traffic, "井盖松动，车辆通过有异响"),
        (OrderCategory::Education, "学校门口接送车辆占道"),
        (
            OrderCategory::MedicalSocialSecurity,
            "社区卫生站咨询医保报销",
        ),
        (OrderCategory::Other, "噪声扰民，夜间施工"),
    ];
    let sources = [
        OrderSource::Hotline12345,
        OrderSource::PhotoReport,
        OrderSource::AiDetection,
        OrderSource::GridPatrol,
    ];
    let departments = [
        "市政管理处",
        "城管局",
        "交警二七大队",
        "热力公司",
        "街道办事处",
    ];
    let mut msgs = Vec::new();
    let spacing_ms = seconds * 1000 * 14 / 15 / count.max(1) as i64;
    for k in 0..count {
        let (category, text) = texts[k % texts.len()];
        let id = format!("12345-20261123-{:04}", k + 1);
        let (grid, p) = &grids[rng.below(grids.len() as u64) as usize];
        let reported = (k as i64) * spacing_ms + rng.below(8000) as i64;
        let mut at = reported;
        let mut order = WorkOrderEvent {
            grid: Some(grid.clone()),
            sign_deadline: Some(start + Duration::milliseconds(reported) + Duration::minutes(5)),
            ..WorkOrderEvent::reported(id, sources[k % sources.len()], category, text, ll(*p)?)
        };
        msgs.push(Msg {
            at_ms: at,
            body: FeedBody::WorkOrder(Box::new(order.clone())),
        });
        for status in [
            OrderStatus::Signed,
            OrderStatus::Dispatched,
            OrderStatus::Resolved,
            OrderStatus::Closed,
        ] {
            at += 20_000 + rng.below(60_000) as i64;
            if at >= seconds * 1000 {
                break;
            }
            order.status = status;
            if status == OrderStatus::Dispatched {
                order.department =
                    Some(departments[rng.below(departments.len() as u64) as usize].to_string());
            }
            if status == OrderStatus::Closed {
                order.satisfaction = Some(if rng.chance(0.95) { 5 } else { 3 });
            }
            msgs.push(Msg {
                at_ms: at,
                body: FeedBody::WorkOrder(Box::new(order.clone())),
            });
        }
    }

    Ok(msgs)
}

/// Renovation projects named in the city's reports, with a progress update midway.
/// A project's site on the map (a boundary ring, or a road's centre line) and its
/// phase, where the generator knows them.
pub(super) type Site = (Vec<LonLat>, ProjectPhase);

/// The three renovation projects named in the city's reports: kind, name, progress
/// (%) and budget (CNY).
pub(super) const PROJECTS: [(ProjectKind, &str, f64, f64); 3] = [
    (
        ProjectKind::OldCommunity,
        "北三街片区老旧小区改造",
        62.0,
        38_000_000.0,
    ),
    (
        ProjectKind::Road,
        "陇海路（二期）道路综合改造",
        35.0,
        210_000_000.0,
    ),
    (ProjectKind::PocketPark, "淮园口袋公园", 90.0, 1_800_000.0),
];

/// The three renovation projects' updates; `sites` places them (none: no geometry,
/// all under construction).
pub(super) fn projects(sites: &[Option<Site>; 3]) -> Vec<Msg> {
    let mut msgs = Vec::new();
    let day = |m, d| NaiveDate::from_ymd_opt(2026, m, d);
    for (k, ((kind, name, progress, budget), site)) in PROJECTS.into_iter().zip(sites).enumerate() {
        let (geometry, phase) = site
            .clone()
            .unwrap_or((Vec::new(), ProjectPhase::Construction));
        for (step, pct) in [(0i64, progress), (300_000, progress + 3.0)] {
            msgs.push(Msg {
                at_ms: step + k as i64 * 1000,
                body: FeedBody::Project(Box::new(ProjectUpdate {
                    id: format!("RP-2026-{:03}", k + 1),
                    kind,
                    name: name.to_string(),
                    geometry: geometry.clone(),
                    phase,
                    progress_pct: pct,
                    budget_cny: Some(budget),
                    items: vec![
                        SchemeItemState {
                            item: SchemeItem::DemolishIllegal,
                            state: ItemState::Done,
                        },
                        SchemeItemState {
                            item: SchemeItem::RoadResurfacing,
                            state: ItemState::InProgress,
                        },
                        SchemeItemState {
                            item: SchemeItem::CablesUnderground,
                            state: ItemState::InProgress,
                        },
                        SchemeItemState {
                            item: SchemeItem::Greening,
                            state: ItemState::NotStarted,
                        },
                    ],
                    start: day(3, 1),
                    end: day(12, 31),
                })),
            });
        }
    }

    msgs
}
