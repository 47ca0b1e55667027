//! The generated city's devices and its recording: every camera and IoT device announced
//! at 08:00, then ten minutes of status changes, work orders and project updates.
//! At `full` scale the counts are the city's published ones (130,000 cameras, 219,300
//! IoT devices); smaller scales take a share of each.

use super::city::{CITY_NOTE, CityPlan};
use super::feed::{
    Msg, Site, encode, life, projects, reading, start_time, status_at_start, work_orders,
};
use super::rng::SplitMix64;
use crate::feeds::schema::*;
use crate::geo::{LocalFrame, LocalPoint, LonLat};
use anyhow::Result;
use geo::{BoundingRect, Centroid};

pub const FULL_CAMERAS: usize = 130_000;
/// IoT devices by kind at full scale; they add up to the published 219,300.
pub const FULL_DEVICES: [(DeviceKind, usize); 9] = [
    (DeviceKind::Elevator, 11_000),
    (DeviceKind::GasDetector, 60_000),
    (DeviceKind::ManholeCover, 50_000),
    (DeviceKind::WaterPressure, 8_000),
    (DeviceKind::BridgeStrain, 2_300),
    (DeviceKind::ParkingSpace, 30_000),
    (DeviceKind::StreetLight, 50_000),
    (DeviceKind::TrafficFlow, 1_200),
    (DeviceKind::AirQuality, 6_800),
];
const SECONDS: i64 = 600;

/// (kind, devices at `full`, report interval in seconds): the real rates table of
/// `data-feeds/SCHEMA.md`, for `bench ops` and `soak`.
pub const REAL_RATES: [(&str, usize, u32); 9] = [
    ("elevator", 11_000, 300),
    ("gas_detector", 60_000, 3600),
    ("manhole_cover", 50_000, 3600),
    ("water_pressure", 8_000, 300),
    ("bridge_strain", 2_300, 3600),
    ("parking_space", 30_000, 3600),
    ("street_light", 50_000, 900),
    ("traffic_flow", 1_200, 60),
    ("air_quality", 6_800, 3600),
];

/// How many of `full` a scale with `share` places.
pub fn scaled(full: usize, share: f64) -> usize {
    ((full as f64 * share).round() as usize).max(1)
}

/// A device to announce.
pub struct Placed {
    pub kind: Option<DeviceKind>,
    pub at: LocalPoint,
    pub heading_deg: f64,
    pub grid: Option<usize>,
}

/// `n` points spread evenly along the roads that `keep` selects, `side` metres off
/// their centre line (alternating sides), heading along the road.
fn along(city: &CityPlan, keep: impl Fn(&str) -> bool, n: usize, side: f64) -> Vec<Placed> {
    let roads: Vec<_> = city.roads.iter().filter(|r| keep(r.class)).collect();
    let length: f64 = roads
        .iter()
        .flat_map(|r| r.line.windows(2))
        .map(|w| (w[1].east_m - w[0].east_m).hypot(w[1].north_m - w[0].north_m))
        .sum();
    if n == 0 || length <= 0.0 {
        return Vec::new();
    }
    let step = length / n as f64;
    let mut out = Vec::with_capacity(n);
    let mut next = step / 2.0;
    let mut walked = 0.0;
    for w in roads.iter().flat_map(|r| r.line.windows(2)) {
        let (dx, dy) = (w[1].east_m - w[0].east_m, w[1].north_m - w[0].north_m);
        let len = dx.hypot(dy);
        if len <= 0.0 {
            continue;
        }
        let (ux, uy) = (dx / len, dy / len);
        while next <= walked + len && out.len() < n {
            let t = next - walked;
            let off = if out.len() % 2 == 0 { side } else { -side };
            out.push(Placed {
                kind: None,
                at: LocalPoint::new(
                    w[0].east_m + ux * t + uy * off,
                    w[0].north_m + uy * t - ux * off,
                ),
                heading_deg: ux.atan2(uy).to_degrees().rem_euclid(360.0),
                grid: None,
            });
            next += step;
        }
        walked += len;
    }
    out
}

/// `n` of `points`, spread evenly over the list; when there are fewer points than `n`,
/// a point takes several devices a few metres apart.
fn spread(points: &[(LocalPoint, Option<usize>)], n: usize) -> Vec<Placed> {
    let mut out = Vec::with_capacity(n);
    if points.is_empty() {
        return out;
    }
    let (mut last, mut again) = (usize::MAX, 0);
    for k in 0..n {
        let i = k * points.len() / n;
        again = if i == last { again + 1 } else { 0 };
        last = i;
        let (p, grid) = points[i];
        out.push(Placed {
            kind: None,
            at: LocalPoint::new(p.east_m + 4.0 * again as f64, p.north_m),
            heading_deg: 0.0,
            grid,
        });
    }
    out
}

/// Where every camera and IoT device of the city stands.
pub fn place_devices(city: &CityPlan) -> Vec<Placed> {
    let share = city.scale.device_share();
    let mut out = Vec::new();
    // Cameras: half at crossings (one per corner, facing the crossing), half along roads.
    let cameras = scaled(FULL_CAMERAS, share);
    let corners: Vec<(LocalPoint, f64)> = city
        .crossings
        .iter()
        .flat_map(|c| {
            [
                (1.0, 1.0, 225.0),
                (-1.0, 1.0, 135.0),
                (-1.0, -1.0, 45.0),
                (1.0, -1.0, 315.0),
            ]
            .map(|(sx, sy, h)| {
                (
                    LocalPoint::new(c.east_m + sx * 26.0, c.north_m + sy * 26.0),
                    h,
                )
            })
        })
        .collect();
    let at_crossings = (cameras / 2).min(corners.len());
    for k in 0..at_crossings {
        let (at, heading_deg) = corners[k * corners.len() / at_crossings];
        out.push(Placed {
            kind: None,
            at,
            heading_deg,
            grid: None,
        });
    }
    out.extend(along(city, |_| true, cameras - at_crossings, 20.0));

    let buildings =
        |keep: &dyn Fn(&super::city::CityBuilding) -> bool| -> Vec<(LocalPoint, Option<usize>)> {
            city.buildings
                .iter()
                .filter(|b| keep(b))
                .map(|b| {
                    let c = b.footprint.centroid().map(|c| c.0).unwrap_or_default();
                    (LocalPoint::new(c.x, c.y), Some(b.micro_grid))
                })
                .collect()
        };
    let tall = buildings(&|b| b.levels >= 10);
    let homes = buildings(&|b| b.use_ == "residential");
    let grid_centres: Vec<(LocalPoint, Option<usize>)> = city
        .micro_grids
        .iter()
        .enumerate()
        .filter_map(|(i, g)| {
            g.shape
                .bounding_rect()
                .map(|r| (LocalPoint::new(r.center().x, r.center().y), Some(i)))
        })
        .collect();
    let bridges: Vec<(LocalPoint, Option<usize>)> =
        city.bridges.iter().map(|p| (*p, None)).collect();
    for (kind, full) in FULL_DEVICES {
        let n = scaled(full, share);
        let mut placed = match kind {
            DeviceKind::Elevator => spread(&tall, n),
            DeviceKind::GasDetector => spread(&homes, n),
            DeviceKind::AirQuality => spread(&grid_centres, n),
            DeviceKind::BridgeStrain => {
                let on_bridges = (n / 2).min(bridges.len() * 4);
                let mut v = spread(&bridges, on_bridges);
                v.extend(along(city, |c| c == "expressway", n - on_bridges, 0.0));
                v
            }
            DeviceKind::ManholeCover => along(city, |_| true, n, 3.0),
            DeviceKind::WaterPressure => along(city, |c| c != "local", n, 8.0),
            DeviceKind::ParkingSpace => along(city, |c| c == "local" || c == "secondary", n, 9.0),
            DeviceKind::StreetLight => along(city, |_| true, n, 12.0),
            DeviceKind::TrafficFlow => {
                along(city, |c| c == "arterial" || c == "expressway", n, 0.0)
            }
            _ => Vec::new(),
        };
        for p in &mut placed {
            p.kind = Some(kind);
        }
        out.extend(placed);
    }
    out
}

/// Each micro-grid's id and the centre of its bounds: where its work orders are placed.
pub(super) fn grid_anchors(city: &CityPlan) -> Vec<(String, LocalPoint)> {
    city.micro_grids
        .iter()
        .filter_map(|g| {
            let c = g.shape.bounding_rect()?.center();
            Some((g.id.clone(), LocalPoint::new(c.x, c.y)))
        })
        .collect()
}

/// The ids the city's recordings give its devices, in the order of `devices`:
/// `ZZ-CAM-000001…` for cameras, `ZZ-IOT-000001…` for IoT devices.
pub fn device_ids(devices: &[Placed]) -> Vec<String> {
    let (mut cams, mut iot) = (0, 0);
    devices
        .iter()
        .map(|d| match d.kind {
            None => {
                cams += 1;
                format!("ZZ-CAM-{cams:06}")
            }
            Some(_) => {
                iot += 1;
                format!("ZZ-IOT-{iot:06}")
            }
        })
        .collect()
}

/// The recording of the generated city.
pub fn recording(
    city: &CityPlan,
    devices: &[Placed],
    frame: &LocalFrame,
    seed: u64,
) -> Result<String> {
    let mut rng = SplitMix64::new(seed ^ 0xFEED);
    let start = start_time();
    let ll = |p: LocalPoint| -> Result<LonLat> {
        let w = frame.to_lonlat(p)?;
        Ok(LonLat::new(
            super::round_to(w.lon, 6),
            super::round_to(w.lat, 6),
        ))
    };
    let mut msgs = Vec::with_capacity(devices.len() + 10_000);
    let mut markers = Vec::with_capacity(devices.len());
    let (mut cams, mut iot) = (0, 0);
    for d in devices {
        let grid = d.grid.map(|g| city.micro_grids[g].id.clone());
        let body = match d.kind {
            None => {
                cams += 1;
                let id = format!("ZZ-CAM-{cams:06}");
                markers.push((id.clone(), None));
                FeedBody::Camera(Box::new(CameraReport {
                    range_m: None,
                    id: id.as_str().into(),
                    name: None,
                    position: Some(ll(d.at)?),
                    heading_deg: Some(d.heading_deg.round()),
                    fov_deg: Some(60.0),
                    status: match status_at_start(&mut rng) {
                        DeviceStatus::Alarm => DeviceStatus::Online,
                        s => s,
                    },
                    grid,
                    stream_url: None,
                    snapshot_url: None,
                }))
            }
            Some(kind) => {
                iot += 1;
                let id = format!("ZZ-IOT-{iot:06}");
                markers.push((id.clone(), Some(kind)));
                FeedBody::Device(DeviceReport {
                    id: id.as_str().into(),
                    kind,
                    name: None,
                    position: Some(ll(d.at)?),
                    status: status_at_start(&mut rng),
                    readings: reading(kind, &mut rng),
                    grid,
                    heartbeat_s: None,
                })
            }
        };
        msgs.push(Msg { at_ms: 0, body });
    }
    // About one change per 400 markers a second, at least a few a second.
    let per_s = (markers.len() as u64 / 400).clamp(3, 250);
    let gap = 1000 / per_s;
    msgs.extend(life(&mut rng, &markers, SECONDS, ((gap / 2) as i64, gap)));
    let anchors = grid_anchors(city);
    let orders = (40.0 * city.scale.device_share().sqrt() * 8.0).round() as usize;
    if !anchors.is_empty() {
        msgs.extend(work_orders(
            &mut rng,
            start,
            &anchors,
            orders.max(40),
            SECONDS,
            &ll,
        )?);
    }
    msgs.extend(projects(&sites(city, frame, &ll)?));
    msgs.extend(vehicles(city, &ll)?);
    Ok(encode(
        msgs,
        start,
        &format!(
            "# {CITY_NOTE}\n# Zhengzhou, scale {}: {cams} cameras, {iot} IoT devices, {{}} messages over {SECONDS} s; schema: data-feeds/SCHEMA.md\n",
            city.scale.label()
        ),
    ))
}

/// Where the three projects are in the generated city (those it holds): 北三街's
/// blocks under construction, 陇海路 (二期)'s 1.6 km of road in design, 淮园口袋公园
/// in acceptance.
pub(super) fn sites(
    city: &CityPlan,
    frame: &LocalFrame,
    ll: &dyn Fn(LocalPoint) -> Result<LonLat>,
) -> Result<[Option<Site>; 3]> {
    let ring = |c: LocalPoint, half: f64| -> Result<Vec<LonLat>> {
        [
            (-1.0, -1.0),
            (1.0, -1.0),
            (1.0, 1.0),
            (-1.0, 1.0),
            (-1.0, -1.0),
        ]
        .into_iter()
        .map(|(x, y)| ll(LocalPoint::new(c.east_m + x * half, c.north_m + y * half)))
        .collect()
    };
    let named = |prefix: &str| {
        city.buildings
            .iter()
            .any(|b| b.name.as_deref().is_some_and(|n| n.starts_with(prefix)))
    };
    let beisanjie = if named("北三街小区") {
        let c = frame.to_local(super::city::BEISANJIE)?;
        Some((
            ring(c, super::city::BEISANJIE_SIDE_M / 2.0)?,
            ProjectPhase::Construction,
        ))
    } else {
        None
    };
    let longhai = match city
        .roads
        .iter()
        .find(|r| r.name.as_deref() == Some("陇海路"))
    {
        Some(road) => {
            let y = road.line[0].north_m;
            let xa = frame.to_local(LonLat::new(113.652, 34.737))?.east_m;
            Some((
                vec![
                    ll(LocalPoint::new(xa, y))?,
                    ll(LocalPoint::new(xa + 1600.0, y))?,
                ],
                ProjectPhase::Design,
            ))
        }
        None => None,
    };
    let huaiyuan = match city.pois.iter().find(|p| p.name == "淮园口袋公园") {
        Some(p) => Some((ring(p.at, 45.0)?, ProjectPhase::Acceptance)),
        None => None,
    };
    Ok([beisanjie, longhai, huaiyuan])
}

/// The tour-bus routes of the generated city: the whole of 金水路 and of 人民路, where
/// the city has them (name, line).
pub fn tour_routes(city: &CityPlan) -> Vec<(&'static str, Vec<LocalPoint>)> {
    [
        ("旅游专线1 金水路", "金水路"),
        ("旅游专线2 人民路", "人民路"),
    ]
    .into_iter()
    .filter_map(|(route, road)| {
        let r = city
            .roads
            .iter()
            .find(|r| r.name.as_deref() == Some(road))?;
        (r.line.len() >= 2).then(|| (route, r.line.clone()))
    })
    .collect()
}

/// The point `s` metres along `line` (turning back at its ends) and the heading there
/// (degrees from north, clockwise).
pub(super) fn driven(line: &[LocalPoint], s: f64) -> (LocalPoint, f64) {
    let lengths: Vec<f64> = line
        .windows(2)
        .map(|w| (w[1].east_m - w[0].east_m).hypot(w[1].north_m - w[0].north_m))
        .collect();
    let total: f64 = lengths.iter().sum();
    if total <= 0.0 {
        return (line[0], 0.0);
    }
    let lap = s.rem_euclid(2.0 * total);
    let (mut s, back) = if lap > total {
        (2.0 * total - lap, true)
    } else {
        (lap, false)
    };
    for (w, len) in line.windows(2).zip(&lengths) {
        if s <= *len && *len > 0.0 {
            let (dx, dy) = (w[1].east_m - w[0].east_m, w[1].north_m - w[0].north_m);
            let t = s / len;
            let p = LocalPoint::new(w[0].east_m + dx * t, w[0].north_m + dy * t);
            let (dx, dy) = if back { (-dx, -dy) } else { (dx, dy) };
            return (p, dx.atan2(dy).to_degrees().rem_euclid(360.0));
        }
        s -= len;
    }
    (line[line.len() - 1], 0.0)
}

/// Key vehicles, a report every 10 s: two tour buses on each route (the second bus of
/// the second route leaves it for two minutes, 350 m east, from 08:06: an off-route
/// alert) and two muck trucks on 中原路.
fn vehicles(city: &CityPlan, ll: &dyn Fn(LocalPoint) -> Result<LonLat>) -> Result<Vec<Msg>> {
    let mut out = Vec::new();
    let mut runs: Vec<(String, VehicleKind, Option<&str>, Vec<LocalPoint>, f64, f64)> = Vec::new();
    for (r, (route, line)) in tour_routes(city).into_iter().enumerate() {
        for bus in 0..2 {
            runs.push((
                format!("ZZ-BUS-{}{}", r + 1, bus + 1),
                VehicleKind::TourBus,
                Some(route),
                line.clone(),
                0.2 + 0.5 * bus as f64,
                8.0,
            ));
        }
    }
    if let Some(road) = city
        .roads
        .iter()
        .find(|r| r.name.as_deref() == Some("中原路"))
    {
        for truck in 0..2 {
            runs.push((
                format!("ZZ-MUCK-{}", truck + 1),
                VehicleKind::MuckTruck,
                None,
                road.line.clone(),
                0.3 + 0.4 * truck as f64,
                10.0,
            ));
        }
    }
    for (id, kind, route, line, start, speed) in runs {
        let total: f64 = line
            .windows(2)
            .map(|w| (w[1].east_m - w[0].east_m).hypot(w[1].north_m - w[0].north_m))
            .sum();
        let astray = id == "ZZ-BUS-22";
        for k in 0..=SECONDS / 10 {
            let t = k * 10;
            let (mut at, heading) = driven(&line, start * total + speed * t as f64);
            if astray && (360..480).contains(&t) {
                at = LocalPoint::new(at.east_m + 350.0, at.north_m);
            }
            out.push(Msg {
                at_ms: t * 1000 + 500,
                body: FeedBody::Vehicle(Box::new(VehicleReport {
                    id: id.as_str().into(),
                    kind,
                    position: ll(at)?,
                    speed_kmh: Some((speed * 3.6).round()),
                    heading_deg: Some(heading.round()),
                    route: route.map(str::to_string),
                })),
            });
        }
    }
    Ok(out)
}
