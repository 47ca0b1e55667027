//! `citytwin gen-day`: a whole day (Monday 23 November 2026, Beijing time) of the
//! generated city's feeds, as an MCAP recording. SYNTHETIC: every figure follows the
//! real rates table of `data-feeds/SCHEMA.md` and the city's published figures
//! (`shared/context/zhengzhou-facts.md`), but no event in it happened.
//!
//! The day starts with a checkpoint holding the KPI history of the day before (made
//! by playing the day before, generated the same way, through the headless twin), then
//! announces every device, camera, open work order and project at 00:00, and goes on
//! with periodic reports at each kind's rate and diurnal readings, status changes,
//! about 8,000 work orders a day at `full` scale, key vehicles, and scripted incidents
//! that unfold across feeds ([`INCIDENTS`]).

use super::city::{CITY_NOTE, CityPlan, Scale};
use super::city_feed::{self, Placed};
use super::feed::Msg;
use super::rng::SplitMix64;
use crate::feeds::recording::RecordingWriter;
use crate::feeds::schema::*;
use crate::geo::{LocalFrame, LocalPoint, LonLat};
use anyhow::{Context, Result};
use chrono::{DateTime, Duration, FixedOffset, NaiveDate, TimeZone};
use std::cell::RefCell;
use std::collections::{BTreeMap, HashMap};
use std::path::Path;
use std::rc::Rc;

/// Where the built-in city's day is committed (relative to the source tree).
pub const DAY_FILE: &str = "data-feeds/zhengzhou-city-day.mcap";
/// A day in milliseconds.
const DAY_MS: i64 = 86_400_000;
const HOUR_MS: i64 = 3_600_000;
const MIN_MS: i64 = 60_000;
/// The work orders of a day at `full` scale (the 12345 hotline's figure).
const FULL_ORDERS_A_DAY: f64 = 8000.0;

/// What the scripted incidents are, for the command's summary and the docs.
pub const INCIDENTS: [&str; 6] = [
    "10:12 a water main bursts (pressure alarms, an immediate work order, linked cameras); repaired by 14:08",
    "15:41 an elevator entrapment in the CBD; rescued at 16:07",
    "19:05 a gas alarm in the old community of 北三街; the leak is closed by 19:52",
    "a road collapse reported the day before at 06:45, under repair all day (72 h)",
    "16:00 淮园口袋公园 passes acceptance and is completed",
    "18:30–22:45 the center runs in major-event mode for an evening event at the CBD",
];

/// The recorded day's start: 00:00 Beijing time, Monday 23 November 2026.
pub fn day_start() -> DateTime<FixedOffset> {
    crate::ops::beijing()
        .with_ymd_and_hms(2026, 11, 23, 0, 0, 0)
        .single()
        .expect("a fixed date exists")
}

/// What one run wrote.
#[derive(Debug, Clone, Default)]
pub struct DayReport {
    pub messages: u64,
    pub per_kind: BTreeMap<&'static str, u64>,
    pub bytes: u64,
    /// Minutes of the day before held by the opening checkpoint.
    pub history_minutes: usize,
    /// Checkpoints of the twin's whole state.
    pub states: u64,
}

/// One device or camera of the day.
struct Dev {
    id: String,
    kind: Option<DeviceKind>,
    at: LonLat,
    local: LocalPoint,
    heading: f64,
    grid: Option<String>,
    /// Report interval, seconds (0: cameras, which send status changes only).
    period_s: i64,
    /// Its reports fall this many seconds into each interval.
    phase_s: i64,
    /// Its status when nothing happens to it: online, or out of order all day.
    base: DeviceStatus,
    /// A constant of its own for the readings (a road's capacity, floors served).
    size: f64,
}

/// A stretch of time a device spends in another status (`Offline`: silent).
#[derive(Debug, Clone)]
struct Episode {
    from_ms: i64,
    to_ms: i64,
    status: DeviceStatus,
    /// Readings sent while it lasts (scripted incidents), instead of the usual.
    readings: Option<Vec<(&'static str, f64, &'static str)>>,
}

/// The day's generator: devices, their scripted episodes and what the scripts send.
pub struct DayGen {
    seed: u64,
    share: f64,
    devs: Vec<Dev>,
    /// Scripted episodes by device (they may span days).
    scripted: HashMap<usize, Vec<Episode>>,
    /// Traffic sections slowed by the road collapse, and since when until when.
    slowed: Vec<(usize, i64, i64)>,
    /// Near the evening event: traffic sections and parking spaces.
    near_event: Vec<bool>,
    anchors: Vec<(String, LocalPoint)>,
    sites: [Option<super::feed::Site>; 3],
    routes: Vec<(&'static str, Vec<LocalPoint>)>,
    muck_road: Option<Vec<LocalPoint>>,
    frame: LocalFrame,
    /// Scripted messages (incident orders, projects, modes), by absolute time.
    script: Vec<Msg>,
    scale_label: &'static str,
    /// Each parking space's changes in a day ([`Self::parking_changes`]), made once:
    /// the space's hourly reports and its change reports all read them.
    parking: RefCell<HashMap<(usize, i64), Rc<[(i64, bool)]>>>,
}

fn round(v: f64, places: i32) -> f64 {
    let f = 10f64.powi(places);
    (v * f).round() / f
}

/// A deterministic generator for (seed, a, b): readings and choices that depend on a
/// device and a time, the same however the day is cut into windows.
fn keyed(seed: u64, a: u64, b: i64) -> SplitMix64 {
    let mut r = SplitMix64::new(
        seed ^ a.wrapping_mul(0x9E37_79B9_7F4A_7C15)
            ^ (b as u64).wrapping_mul(0xD1B5_4A32_D192_ED03),
    );
    r.next_u64();
    r
}

fn bump(h: f64, centre: f64, width: f64) -> f64 {
    (-((h - centre) / width).powi(2)).exp()
}

/// Traffic through the day, 0 (night) to about 1 (the rush hours).
fn traffic_profile(h: f64) -> f64 {
    (0.06 + 0.9 * bump(h, 8.0, 1.1) + 0.8 * bump(h, 18.0, 1.4) + 0.45 * bump(h, 13.0, 3.0)).min(1.0)
}

/// Share of roadside spaces taken: `home` streets fill at night, the others by day.
fn parking_profile(h: f64, home: bool) -> f64 {
    let day = bump(h, 13.5, 4.5);
    if home {
        0.88 - 0.45 * day
    } else {
        0.22 + 0.66 * day
    }
}

/// 12345 calls by the hour of the day (relative).
const CALLS_BY_HOUR: [f64; 24] = [
    1.0, 0.6, 0.4, 0.3, 0.3, 0.5, 1.2, 2.5, 4.5, 6.0, 6.2, 5.5, 4.0, 4.3, 5.6, 5.8, 5.2, 4.4, 3.6,
    3.2, 2.8, 2.2, 1.6, 1.1,
];

/// The week's complaint mix (心通桥): category, share, what citizens say, who handles it.
#[allow(clippy::type_complexity)]
const CATEGORIES: [(OrderCategory, f64, &[&str], &[&str]); 8] = [
    (
        OrderCategory::Traffic,
        0.26,
        &[
            "路口信号灯故障，早高峰拥堵",
            "井盖松动，车辆通过有异响",
            "非机动车道被违规停车占用",
            "公交站台顶棚破损",
            "路面坑洼积水",
        ],
        &["交警支队", "市政工程管理处"],
    ),
    (
        OrderCategory::PublicFacilities,
        0.21,
        &[
            "路灯半年不亮，疑似线路损坏",
            "道路中间花坛无警示标志",
            "人行道地砖松动",
            "小区供水水压不足",
            "健身器材损坏",
        ],
        &["市政管理处", "城管局", "供水公司"],
    ),
    (
        OrderCategory::Education,
        0.16,
        &[
            "学校门口接送车辆占道",
            "入学划片政策咨询",
            "幼儿园周边交通安全",
        ],
        &["教育局"],
    ),
    (
        OrderCategory::PropertyManagement,
        0.14,
        &[
            "楼道照明损坏，物业未处理",
            "电梯频繁故障",
            "物业费收费标准咨询",
        ],
        &["房管局", "街道办事处"],
    ),
    (
        OrderCategory::Environment,
        0.08,
        &["小区门口垃圾堆放未清运", "餐馆油烟扰民", "渣土车抛洒路面"],
        &["城管局", "生态环境局"],
    ),
    (
        OrderCategory::Heating,
        0.06,
        &["维修后暖气片不热", "供暖温度不达标", "暖气管道漏水"],
        &["热力公司"],
    ),
    (
        OrderCategory::MedicalSocialSecurity,
        0.04,
        &["社区卫生站咨询医保报销", "异地就医备案咨询"],
        &["医保局", "人社局"],
    ),
    (
        OrderCategory::Other,
        0.05,
        &["噪声扰民，夜间施工", "违规张贴小广告"],
        &["街道办事处"],
    ),
];

impl DayGen {
    /// The generator for the city `plan` (made with `seed`).
    pub fn new(plan: &CityPlan, seed: u64) -> Result<Self> {
        let frame = LocalFrame::new(super::city::ORIGIN)?;
        let placed = city_feed::place_devices(plan);
        let ids = city_feed::device_ids(&placed);
        let rates: HashMap<&str, i64> = city_feed::REAL_RATES
            .iter()
            .map(|(k, _, s)| (*k, i64::from(*s)))
            .collect();
        let mut rng = SplitMix64::new(seed ^ 0xDA7);
        let mut devs = Vec::with_capacity(placed.len());
        for (p, id) in placed.iter().zip(ids) {
            devs.push(Self::dev(p, id, &rates, &frame, plan, &mut rng)?);
        }
        let anchors = city_feed::grid_anchors(plan);
        let ll = |p: LocalPoint| -> Result<LonLat> { lonlat(&frame, p) };
        let sites = city_feed::sites(plan, &frame, &ll)?;
        let event = frame.to_local(super::city::CORN)?;
        let near_event = devs
            .iter()
            .map(|d| {
                (d.local.east_m - event.east_m).hypot(d.local.north_m - event.north_m) < 2500.0
            })
            .collect();
        let mut g = Self {
            seed,
            share: plan.scale.device_share(),
            devs,
            scripted: HashMap::new(),
            slowed: Vec::new(),
            near_event,
            anchors,
            sites,
            routes: city_feed::tour_routes(plan),
            muck_road: plan
                .roads
                .iter()
                .find(|r| r.name.as_deref() == Some("中原路"))
                .map(|r| r.line.clone()),
            frame,
            script: Vec::new(),
            scale_label: plan.scale.label(),
            parking: RefCell::default(),
        };
        g.script_incidents()?;
        Ok(g)
    }

    fn dev(
        p: &Placed,
        id: String,
        rates: &HashMap<&str, i64>,
        frame: &LocalFrame,
        plan: &CityPlan,
        rng: &mut SplitMix64,
    ) -> Result<Dev> {
        let period_s = match p.kind {
            None => 0,
            Some(k) => rates
                .get(crate::ops::kpis::kind_label(k))
                .copied()
                .unwrap_or(3600),
        };
        let r = rng.unit();
        let base = match p.kind {
            None if r < 0.03 => DeviceStatus::Offline,
            None if r < 0.04 => DeviceStatus::Fault,
            Some(_) if r < 0.025 => DeviceStatus::Offline,
            Some(_) if r < 0.035 => DeviceStatus::Fault,
            _ => DeviceStatus::Online,
        };
        let size = match p.kind {
            Some(DeviceKind::TrafficFlow) => rng.range(1200.0, 3600.0).round(),
            Some(DeviceKind::Elevator) => (10 + rng.below(24)) as f64,
            Some(DeviceKind::ParkingSpace) => f64::from(u8::from(rng.chance(0.6))),
            _ => rng.unit(),
        };
        Ok(Dev {
            id,
            kind: p.kind,
            at: lonlat(frame, p.at)?,
            local: p.at,
            heading: p.heading_deg.round(),
            grid: p.grid.map(|g| plan.micro_grids[g].id.clone()),
            period_s,
            phase_s: if period_s > 0 {
                rng.below(period_s as u64) as i64
            } else {
                0
            },
            base,
            size,
        })
    }

    /// The device of `kind` (None: camera) nearest to `at`, and the next nearest ones.
    fn nearest(&self, kind: Option<DeviceKind>, at: LonLat, n: usize) -> Result<Vec<usize>> {
        let p = self.frame.to_local(at)?;
        let mut found: Vec<(f64, usize)> = self
            .devs
            .iter()
            .enumerate()
            .filter(|(_, d)| d.kind == kind && d.base == DeviceStatus::Online)
            .map(|(i, d)| {
                (
                    (d.local.east_m - p.east_m).hypot(d.local.north_m - p.north_m),
                    i,
                )
            })
            .collect();
        found.sort_by(|a, b| a.0.total_cmp(&b.0));
        Ok(found.into_iter().take(n).map(|(_, i)| i).collect())
    }

    fn episode(
        &mut self,
        dev: usize,
        from_ms: i64,
        to_ms: i64,
        status: DeviceStatus,
        readings: Vec<(&'static str, f64, &'static str)>,
    ) {
        self.scripted.entry(dev).or_default().push(Episode {
            from_ms,
            to_ms,
            status,
            readings: Some(readings),
        });
    }

    /// The scripted incidents: device episodes, work orders, projects and modes.
    fn script_incidents(&mut self) -> Result<()> {
        let at = |h: i64, m: i64, s: i64| h * HOUR_MS + m * MIN_MS + s * 1000;
        // A water main bursts: pressure falls at the nearest gauges.
        let burst = LonLat::new(113.6800, 34.7480);
        let gauges = self.nearest(Some(DeviceKind::WaterPressure), burst, 3)?;
        for (k, &g) in gauges.iter().enumerate() {
            let value = [0.06, 0.11, 0.14][k];
            self.episode(
                g,
                at(10, 12, 40 + 25 * k as i64),
                at(14, 10, 0),
                DeviceStatus::Alarm,
                vec![("pressure", value, "MPa")],
            );
        }
        let order = |id: &str, category, text: &str, urgency, at: LonLat| WorkOrderEvent {
            urgency: Some(urgency),
            ..WorkOrderEvent::reported(
                id.to_string(),
                OrderSource::Hotline12345,
                category,
                text,
                at,
            )
        };
        let burst_order = WorkOrderEvent {
            source: OrderSource::AiDetection,
            grid: self.grid_near(burst)?,
            ..order(
                "12345-20261123-S01",
                OrderCategory::PublicFacilities,
                "主干道供水管道爆裂，路面大量积水，影响通行（管网压力告警）",
                Urgency::Immediate,
                burst,
            )
        };
        self.lifecycle(
            burst_order,
            at(10, 14, 5),
            [at(10, 16, 30), at(10, 21, 0), at(14, 8, 0), at(16, 30, 0)],
            "供水公司",
            &["市政工程管理处", "交警支队"],
        );
        // An elevator entrapment in a tower of the CBD.
        if let Some(&lift) = self
            .nearest(Some(DeviceKind::Elevator), super::city::CORN, 1)?
            .first()
        {
            self.episode(
                lift,
                at(15, 41, 10),
                at(16, 7, 0),
                DeviceStatus::Alarm,
                vec![("floor", 17.0, ""), ("trapped", 2.0, "")],
            );
            let place = self.devs[lift].at;
            let o = WorkOrderEvent {
                grid: self.devs[lift].grid.clone(),
                ..order(
                    "12345-20261123-S02",
                    OrderCategory::PublicFacilities,
                    "电梯困人：2人被困17层，已联系维保单位",
                    Urgency::Immediate,
                    place,
                )
            };
            self.lifecycle(
                o,
                at(15, 42, 0),
                [at(15, 42, 50), at(15, 44, 0), at(16, 7, 30), at(17, 30, 0)],
                "市场监管局",
                &[],
            );
        }
        // A gas alarm in the old community of 北三街: two detectors, the nearest high.
        let gas = self.nearest(Some(DeviceKind::GasDetector), super::city::BEISANJIE, 2)?;
        for (k, &g) in gas.iter().enumerate() {
            self.episode(
                g,
                at(19, 5, 20 + 50 * k as i64),
                at(19, 52, 0),
                DeviceStatus::Alarm,
                vec![("CH4", [28.0, 14.0][k], "%LEL")],
            );
        }
        if let Some(&g) = gas.first() {
            let o = WorkOrderEvent {
                source: OrderSource::GridPatrol,
                grid: self.devs[g].grid.clone(),
                ..order(
                    "12345-20261123-S03",
                    OrderCategory::PublicFacilities,
                    "老旧小区燃气泄漏报警，自闭阀已关闭，需上门排查",
                    Urgency::Immediate,
                    self.devs[g].at,
                )
            };
            self.lifecycle(
                o,
                at(19, 6, 30),
                [at(19, 7, 20), at(19, 9, 0), at(20, 15, 0), at(21, 30, 0)],
                "燃气公司",
                &["街道办事处"],
            );
        }
        // A road collapse the day before, fixed in 72 hours: a manhole cover tilts, the
        // nearest traffic section slows.
        let collapse = LonLat::new(113.6520, 34.7470);
        let (from, to) = (at(6, 40, 0) - DAY_MS, at(6, 40, 0) + 2 * DAY_MS);
        if let Some(&m) = self
            .nearest(Some(DeviceKind::ManholeCover), collapse, 1)?
            .first()
        {
            self.episode(
                m,
                from + 60_000,
                to,
                DeviceStatus::Alarm,
                vec![("tilt", 14.5, "°")],
            );
        }
        if let Some(&t) = self
            .nearest(Some(DeviceKind::TrafficFlow), collapse, 1)?
            .first()
        {
            self.slowed.push((t, from, to));
        }
        let o = WorkOrderEvent {
            source: OrderSource::GridPatrol,
            grid: self.grid_near(collapse)?,
            departments: vec!["供水公司".into(), "燃气公司".into()],
            levels: vec![AdminLevel::District, AdminLevel::Street],
            ..order(
                "12345-20261122-S04",
                OrderCategory::Traffic,
                "道路塌陷约3平方米，已设置围挡，需抢修（涉及地下管线）",
                Urgency::Urgent,
                collapse,
            )
        };
        self.lifecycle(
            o,
            from + 5 * MIN_MS,
            [
                from + 9 * MIN_MS,
                from + 22 * MIN_MS,
                to - 10 * MIN_MS,
                to + 3 * HOUR_MS,
            ],
            "市政工程管理处",
            &[],
        );
        // The projects: announced each midnight; 北三街 advances each evening, 淮园
        // passes acceptance at 16:00 today.
        for k in -1..=0 {
            self.projects(k * DAY_MS)?;
        }
        // The evening event: major-event mode.
        for (t, mode, reason) in [
            (
                at(18, 30, 0),
                OperatingMode::MajorEvent,
                "重大活动保障：郑东新区会展中心晚间大型活动（模拟）",
            ),
            (at(22, 45, 0), OperatingMode::Daily, "活动结束，恢复日常"),
        ] {
            self.script.push(Msg {
                at_ms: t,
                body: FeedBody::Mode(Box::new(ModeChange {
                    mode,
                    by: "市城市运行管理中心 值班长".into(),
                    reason: Some(reason.into()),
                })),
            });
        }
        Ok(())
    }

    fn grid_near(&self, at: LonLat) -> Result<Option<String>> {
        let p = self.frame.to_local(at)?;
        Ok(self
            .anchors
            .iter()
            .min_by(|a, b| {
                let d = |q: &LocalPoint| (q.east_m - p.east_m).hypot(q.north_m - p.north_m);
                d(&a.1).total_cmp(&d(&b.1))
            })
            .map(|(id, _)| id.clone()))
    }

    /// An order's messages: reported at `reported`, then signed, dispatched to
    /// `department`, resolved and closed at `times`.
    fn lifecycle(
        &mut self,
        mut o: WorkOrderEvent,
        reported: i64,
        times: [i64; 4],
        department: &str,
        others: &[&str],
    ) {
        o.sign_deadline = Some(day_start() + Duration::milliseconds(reported + 30 * MIN_MS));
        self.script.push(Msg {
            at_ms: reported,
            body: FeedBody::WorkOrder(Box::new(o.clone())),
        });
        for (status, t) in [
            OrderStatus::Signed,
            OrderStatus::Dispatched,
            OrderStatus::Resolved,
            OrderStatus::Closed,
        ]
        .into_iter()
        .zip(times)
        {
            o.status = status;
            if status == OrderStatus::Dispatched {
                o.department = Some(department.into());
                o.departments.extend(others.iter().map(|d| d.to_string()));
            }
            if status == OrderStatus::Closed {
                o.satisfaction = Some(5);
            }
            self.script.push(Msg {
                at_ms: t,
                body: FeedBody::WorkOrder(Box::new(o.clone())),
            });
        }
    }

    fn projects(&mut self, midnight: i64) -> Result<()> {
        let today = midnight >= 0;
        for (k, ((kind, name, progress, budget), site)) in super::feed::PROJECTS
            .into_iter()
            .zip(&self.sites)
            .enumerate()
        {
            let (geometry, phase) = site
                .clone()
                .unwrap_or((Vec::new(), ProjectPhase::Construction));
            let progress = if today { progress + 0.2 } else { progress };
            let update = |phase, pct: f64, done: bool| ProjectUpdate {
                id: format!("RP-2026-{:03}", k + 1),
                kind,
                name: name.to_string(),
                geometry: geometry.clone(),
                phase,
                progress_pct: round(pct, 1),
                budget_cny: Some(budget),
                items: [
                    (SchemeItem::DemolishIllegal, ItemState::Done),
                    (SchemeItem::RoadResurfacing, ItemState::InProgress),
                    (SchemeItem::CablesUnderground, ItemState::InProgress),
                    (SchemeItem::Greening, ItemState::NotStarted),
                ]
                .map(|(item, state)| SchemeItemState {
                    item,
                    state: if done { ItemState::Done } else { state },
                })
                .into(),
                start: NaiveDate::from_ymd_opt(2026, 3, 1),
                end: NaiveDate::from_ymd_opt(2026, 12, 31),
            };
            self.script.push(Msg {
                at_ms: midnight,
                body: FeedBody::Project(Box::new(update(phase, progress, false))),
            });
            if today && kind == ProjectKind::PocketPark && phase == ProjectPhase::Acceptance {
                self.script.push(Msg {
                    at_ms: 16 * HOUR_MS,
                    body: FeedBody::Project(Box::new(update(ProjectPhase::Completed, 100.0, true))),
                });
            }
            if kind == ProjectKind::OldCommunity {
                self.script.push(Msg {
                    at_ms: midnight + 18 * HOUR_MS,
                    body: FeedBody::Project(Box::new(update(phase, progress + 0.2, false))),
                });
            }
        }
        Ok(())
    }

    /// The random episodes of day `k` (0: the recorded day): at most one a device,
    /// inside the day.
    fn episodes(&self, k: i64) -> HashMap<usize, Episode> {
        let mut rng = keyed(self.seed, 0xE915, k);
        let mut out = HashMap::new();
        for (i, d) in self.devs.iter().enumerate() {
            let u = rng.unit();
            let start = rng.range(0.0, 0.97);
            let len = rng.unit();
            if d.base != DeviceStatus::Online || self.scripted.contains_key(&i) {
                continue;
            }
            let alarm = match d.kind {
                Some(DeviceKind::Elevator) => 0.004,
                Some(DeviceKind::GasDetector) => 0.0004,
                Some(DeviceKind::ManholeCover) => 0.0015,
                Some(DeviceKind::WaterPressure) => 0.005,
                Some(DeviceKind::BridgeStrain) => 0.002,
                Some(DeviceKind::AirQuality) => 0.012,
                _ => 0.0,
            };
            let (silent, fault) = if d.kind.is_none() {
                (0.02, 0.005)
            } else {
                (0.012, 0.003)
            };
            let (status, minutes) = if u < silent {
                (DeviceStatus::Offline, 20.0 + 280.0 * len)
            } else if u < silent + fault {
                (DeviceStatus::Fault, 60.0 + 300.0 * len)
            } else if u < silent + fault + alarm {
                (DeviceStatus::Alarm, 5.0 + 40.0 * len)
            } else {
                continue;
            };
            let from = k * DAY_MS + (start * DAY_MS as f64) as i64 / 1000 * 1000;
            let to = (from + (minutes * 60.0) as i64 * 1000).min((k + 1) * DAY_MS - 1000);
            out.insert(
                i,
                Episode {
                    from_ms: from,
                    to_ms: to,
                    status,
                    readings: None,
                },
            );
        }
        out
    }

    /// The episode of device `i` at `t`, if any.
    fn episode_at<'a>(
        &'a self,
        random: &'a HashMap<usize, Episode>,
        i: usize,
        t: i64,
    ) -> Option<&'a Episode> {
        self.scripted
            .get(&i)
            .into_iter()
            .flatten()
            .chain(random.get(&i))
            .find(|e| e.from_ms <= t && t < e.to_ms)
    }

    fn readings(
        &self,
        i: usize,
        t: i64,
        status: DeviceStatus,
        ep: Option<&Episode>,
    ) -> Vec<Reading> {
        let r = |name: &str, value: f64, unit: &str| Reading {
            name: name.into(),
            value,
            unit: unit.into(),
        };
        if let Some(list) = ep.and_then(|e| e.readings.as_ref()) {
            return list.iter().map(|(n, v, u)| r(n, *v, u)).collect();
        }
        let d = &self.devs[i];
        let Some(kind) = d.kind else {
            return Vec::new();
        };
        let mut rng = keyed(self.seed, i as u64, t);
        let h = t.rem_euclid(DAY_MS) as f64 / HOUR_MS as f64;
        let event = self.near_event[i] && (18.0..22.5).contains(&h) && (0..DAY_MS).contains(&t);
        let alarm = status == DeviceStatus::Alarm;
        match kind {
            DeviceKind::TrafficFlow => {
                let mut p = traffic_profile(h);
                if event {
                    p = (p + 0.5).min(1.2);
                }
                let mut flow = d.size * (0.08 + 0.92 * p) * rng.range(0.92, 1.08);
                let mut speed = (62.0 - 40.0 * p * p).max(8.0) * rng.range(0.93, 1.07);
                if self
                    .slowed
                    .iter()
                    .any(|(s, a, b)| *s == i && (*a..*b).contains(&t))
                {
                    flow *= 0.55;
                    speed *= 0.4;
                }
                vec![
                    r("flow", flow.round(), "veh/h"),
                    r("speed", speed.round(), "km/h"),
                ]
            }
            DeviceKind::WaterPressure => {
                let demand = bump(h, 7.5, 1.5) + bump(h, 19.5, 2.0);
                let p = 0.33 - 0.035 * demand + rng.range(-0.006, 0.006);
                vec![r("pressure", if alarm { 0.09 } else { round(p, 2) }, "MPa")]
            }
            DeviceKind::Elevator => vec![r("floor", (1 + rng.below(d.size as u64)) as f64, "")],
            // Near zero, or the alarm's value.
            DeviceKind::GasDetector | DeviceKind::ManholeCover => {
                let (name, unit, high, noise) = if kind == DeviceKind::GasDetector {
                    ("CH4", "%LEL", 22.0, 1.2)
                } else {
                    ("tilt", "°", 12.0, 0.8)
                };
                let value = if alarm {
                    high
                } else {
                    round(rng.range(0.0, noise), 1)
                };
                vec![r(name, value, unit)]
            }
            DeviceKind::BridgeStrain => {
                let s = 40.0 + 80.0 * traffic_profile(h) + rng.range(-5.0, 5.0);
                vec![r("strain", if alarm { 420.0 } else { s.round() }, "µε")]
            }
            DeviceKind::ParkingSpace => {
                vec![r("occupied", f64::from(u8::from(self.parked(i, t))), "")]
            }
            DeviceKind::StreetLight => {
                let on = self.lamp(i, t) && status == DeviceStatus::Online;
                vec![r("lamp", f64::from(u8::from(on)), "")]
            }
            DeviceKind::AirQuality => {
                let pm =
                    45.0 + 35.0 * (bump(h, 8.0, 2.5) + bump(h, 22.0, 3.0)) + rng.range(-6.0, 6.0);
                vec![r("PM2.5", if alarm { 185.0 } else { pm.round() }, "µg/m³")]
            }
            _ => Vec::new(),
        }
    }

    /// Whether street light `i` is lit at `t`: from dusk (about 17:20) to dawn (about
    /// 06:52), each of twelve circuits a little apart.
    fn lamp(&self, i: usize, t: i64) -> bool {
        let (on, off) = self.lamp_times(i);
        let s = t.rem_euclid(DAY_MS);
        s >= on || s < off
    }

    fn lamp_times(&self, i: usize) -> (i64, i64) {
        let circuit = (i % 12) as i64 * 50_000;
        (
            17 * HOUR_MS + 20 * MIN_MS + circuit,
            6 * HOUR_MS + 52 * MIN_MS + circuit,
        )
    }

    /// When parking space `i` changes in day `k`, and whether it is taken then; the
    /// first entry is its state at midnight.
    fn parking_changes(&self, i: usize, k: i64) -> Vec<(i64, bool)> {
        let mut rng = keyed(self.seed ^ 0xCA5, i as u64, k);
        let home = self.devs[i].size > 0.5;
        let near = self.near_event[i];
        let p_at = |t: i64| {
            let h = t.rem_euclid(DAY_MS) as f64 / HOUR_MS as f64;
            if near && k == 0 && (18.0..22.5).contains(&h) {
                0.97
            } else {
                parking_profile(h, home)
            }
        };
        let mut t = k * DAY_MS;
        let mut taken = rng.unit() < p_at(t);
        let mut out = vec![(t, taken)];
        loop {
            // About one arrival or departure every two hours.
            t += ((-rng.unit().max(1e-9).ln()) * 2.0 * HOUR_MS as f64) as i64 / 1000 * 1000 + 1000;
            if t >= (k + 1) * DAY_MS {
                return out;
            }
            let now = rng.unit() < p_at(t);
            if now != taken {
                taken = now;
                out.push((t, taken));
            }
        }
    }

    /// [`Self::parking_changes`], from the cache once made.
    fn parking_day(&self, i: usize, k: i64) -> Rc<[(i64, bool)]> {
        let mut cache = self.parking.borrow_mut();
        cache
            .entry((i, k))
            .or_insert_with(|| self.parking_changes(i, k).into())
            .clone()
    }

    fn parked(&self, i: usize, t: i64) -> bool {
        self.parking_day(i, t.div_euclid(DAY_MS))
            .iter()
            .rev()
            .find(|(at, _)| *at <= t)
            .is_some_and(|(_, taken)| *taken)
    }

    fn report(
        &self,
        i: usize,
        t: i64,
        status: DeviceStatus,
        ep: Option<&Episode>,
        first: bool,
    ) -> Msg {
        let d = &self.devs[i];
        let body = match d.kind {
            None => FeedBody::Camera(Box::new(CameraReport {
                id: d.id.as_str().into(),
                name: None,
                position: first.then_some(d.at),
                heading_deg: first.then_some(d.heading),
                fov_deg: first.then_some(60.0),
                range_m: None,
                status,
                grid: None,
                stream_url: None,
                snapshot_url: None,
            })),
            Some(kind) => FeedBody::Device(DeviceReport {
                id: d.id.as_str().into(),
                kind,
                name: None,
                position: first.then_some(d.at),
                status,
                readings: self.readings(i, t, status, ep),
                grid: if first { d.grid.clone() } else { None },
                // Devices out of order all day promise no heartbeat: they are known
                // offline and raise no missed-heartbeat alert each day.
                heartbeat_s: (first && d.period_s > 0 && d.base == DeviceStatus::Online)
                    .then_some(d.period_s as u32),
            }),
        };
        Msg { at_ms: t, body }
    }

    /// Work orders reported on day `k`, every message of each (some fall on later
    /// days).
    fn orders(&self, k: i64) -> Vec<Msg> {
        let mut rng = keyed(self.seed ^ 0x12345, 7, k);
        let n = (FULL_ORDERS_A_DAY * self.share.sqrt()).round() as usize;
        let total: f64 = CALLS_BY_HOUR.iter().sum();
        let mut times: Vec<i64> = (0..n)
            .map(|_| {
                let mut pick = rng.unit() * total;
                let mut hour = 23;
                for (h, w) in CALLS_BY_HOUR.iter().enumerate() {
                    if pick < *w {
                        hour = h;
                        break;
                    }
                    pick -= w;
                }
                k * DAY_MS + hour as i64 * HOUR_MS + rng.below(3600) as i64 * 1000
            })
            .collect();
        times.sort_unstable();
        let date = (day_start() + Duration::milliseconds(k * DAY_MS))
            .format("%Y%m%d")
            .to_string();
        let mut out = Vec::with_capacity(n * 5);
        for (seq, reported) in times.into_iter().enumerate() {
            let mut pick = rng.unit();
            let (category, _, texts, departments) = CATEGORIES
                .iter()
                .find(|c| {
                    pick -= c.1;
                    pick < 0.0
                })
                .copied()
                .unwrap_or(CATEGORIES[7]);
            let s = rng.unit();
            let source = if s < 0.6 {
                OrderSource::Hotline12345
            } else if s < 0.75 {
                OrderSource::PhotoReport
            } else if s < 0.85 {
                OrderSource::AiDetection
            } else {
                OrderSource::GridPatrol
            };
            let u = rng.unit();
            let urgency = if u < 0.04 {
                Urgency::Immediate
            } else if u < 0.2 {
                Urgency::Urgent
            } else {
                Urgency::Normal
            };
            let (grid, p) = &self.anchors[rng.below(self.anchors.len() as u64) as usize];
            let p = LocalPoint::new(
                p.east_m + rng.range(-30.0, 30.0),
                p.north_m + rng.range(-30.0, 30.0),
            );
            let Ok(position) = lonlat(&self.frame, p) else {
                continue;
            };
            let cross = rng.chance(0.03);
            let mut o = WorkOrderEvent {
                grid: Some(grid.clone()),
                sign_deadline: Some(day_start() + Duration::milliseconds(reported + 30 * MIN_MS)),
                urgency: Some(urgency),
                ..WorkOrderEvent::reported(
                    format!("12345-{date}-{:04}", seq + 1),
                    source,
                    category,
                    texts[rng.below(texts.len() as u64) as usize],
                    position,
                )
            };
            out.push(Msg {
                at_ms: reported,
                body: FeedBody::WorkOrder(Box::new(o.clone())),
            });
            // Signed in about five minutes (the night shift, fewer, in about eight).
            let h = reported.rem_euclid(DAY_MS) / HOUR_MS;
            let mean_s = if h < 7 { 480.0 } else { 300.0 };
            let signed = reported
                + ((-rng.unit().max(1e-9).ln() * mean_s).clamp(20.0, 7200.0) as i64) * 1000;
            let dispatched = signed + (120 + rng.below(1380) as i64) * 1000;
            let log = |rng: &mut SplitMix64, lo: f64, hi: f64| {
                (lo.ln() + rng.unit() * (hi.ln() - lo.ln())).exp()
            };
            let hours = match urgency {
                Urgency::Immediate => rng.range(0.5, 2.0),
                Urgency::Urgent => log(&mut rng, 2.0, 48.0),
                Urgency::Normal => log(&mut rng, 4.0, 120.0),
            };
            let resolved = dispatched + (hours * HOUR_MS as f64) as i64 / 1000 * 1000;
            let closes = rng.chance(0.9651);
            let closed =
                resolved + (1 + rng.below(17)) as i64 * HOUR_MS + rng.below(3600) as i64 * 1000;
            let satisfied = rng.chance(0.9643);
            let department = departments[rng.below(departments.len() as u64) as usize];
            let mut steps = vec![
                (OrderStatus::Signed, signed),
                (OrderStatus::Dispatched, dispatched),
                (OrderStatus::Resolved, resolved),
            ];
            if closes {
                steps.push((OrderStatus::Closed, closed));
            }
            for (status, t) in steps {
                o.status = status;
                if status == OrderStatus::Dispatched {
                    o.department = Some(department.into());
                    if cross {
                        o.departments = vec!["城管局".into(), "街道办事处".into()];
                        o.levels = vec![
                            AdminLevel::District,
                            AdminLevel::Street,
                            AdminLevel::Community,
                        ];
                    }
                }
                if status == OrderStatus::Closed {
                    o.satisfaction = Some(if satisfied {
                        4 + u8::from(rng.chance(0.8))
                    } else {
                        2 + u8::from(rng.chance(0.5))
                    });
                }
                out.push(Msg {
                    at_ms: t,
                    body: FeedBody::WorkOrder(Box::new(o.clone())),
                });
            }
        }
        out
    }

    /// Key vehicles of day `k`, a report every 10 s while they run: tour buses
    /// 07:30–18:30 on their routes (one leaves its route for two minutes at 10:06 on
    /// the recorded day), muck trucks on 中原路 from 22:00 to 05:00 (their permitted
    /// hours).
    fn vehicles(&self, k: i64) -> Result<Vec<Msg>> {
        let mut runs: Vec<(
            String,
            VehicleKind,
            Option<&str>,
            &[LocalPoint],
            f64,
            f64,
            [(i64, i64); 2],
        )> = Vec::new();
        for (r, (route, line)) in self.routes.iter().enumerate() {
            for bus in 0..2 {
                runs.push((
                    format!("ZZ-BUS-{}{}", r + 1, bus + 1),
                    VehicleKind::TourBus,
                    Some(route),
                    line,
                    0.2 + 0.5 * bus as f64,
                    8.0,
                    [
                        (7 * HOUR_MS + 30 * MIN_MS, 18 * HOUR_MS + 30 * MIN_MS),
                        (0, 0),
                    ],
                ));
            }
        }
        if let Some(road) = &self.muck_road {
            for truck in 0..2 {
                runs.push((
                    format!("ZZ-MUCK-{}", truck + 1),
                    VehicleKind::MuckTruck,
                    None,
                    road,
                    0.3 + 0.4 * truck as f64,
                    10.0,
                    [(0, 5 * HOUR_MS), (22 * HOUR_MS, DAY_MS)],
                ));
            }
        }
        let mut out = Vec::new();
        for (n, (id, kind, route, line, start, speed, windows)) in runs.into_iter().enumerate() {
            let total: f64 = line
                .windows(2)
                .map(|w| (w[1].east_m - w[0].east_m).hypot(w[1].north_m - w[0].north_m))
                .sum();
            let astray = id == "ZZ-BUS-22" && k == 0;
            for (from, to) in windows {
                let mut t = from + (n as i64 % 10) * 1000;
                while t < to {
                    let (mut at, heading) =
                        city_feed::driven(line, start * total + speed * (t / 1000) as f64);
                    if astray && (10 * HOUR_MS + 6 * MIN_MS..10 * HOUR_MS + 8 * MIN_MS).contains(&t)
                    {
                        at = LocalPoint::new(at.east_m + 350.0, at.north_m);
                    }
                    out.push(Msg {
                        at_ms: k * DAY_MS + t,
                        body: FeedBody::Vehicle(Box::new(VehicleReport {
                            id: id.as_str().into(),
                            kind,
                            position: lonlat(&self.frame, at)?,
                            speed_kmh: Some((speed * 3.6).round()),
                            heading_deg: Some(heading.round()),
                            route: route.map(str::to_string),
                        })),
                    });
                    t += 10_000;
                }
            }
        }
        Ok(out)
    }

    /// Every message of day `k` in time order, an hour at a time, to `write`. The day
    /// opens with `checkpoint` (if any) and the announcements.
    pub fn write_day(
        &self,
        k: i64,
        checkpoint: Option<HistoryCheckpoint>,
        mut write: impl FnMut(&FeedMessage) -> Result<()>,
    ) -> Result<()> {
        let (start, end) = (k * DAY_MS, (k + 1) * DAY_MS);
        let random = self.episodes(k);
        let status_at = |i: usize, t: i64| -> (DeviceStatus, Option<&Episode>) {
            match self.episode_at(&random, i, t) {
                Some(e) => (e.status, Some(e)),
                None => (self.devs[i].base, None),
            }
        };
        // Orders of the last week still open at midnight (the road collapse's among
        // them) are announced then as they stand, with when they were reported.
        let mut orders: Vec<Msg> = Vec::new();
        for day in k - 7..=k {
            orders.extend(self.orders(day));
        }
        orders.extend(
            self.script
                .iter()
                .filter(|m| matches!(m.body, FeedBody::WorkOrder(_)))
                .map(|m| Msg {
                    at_ms: m.at_ms,
                    body: m.body.clone(),
                }),
        );
        orders.sort_by_key(|m| m.at_ms);
        let mut open: BTreeMap<String, Msg> = BTreeMap::new();
        let mut reported: HashMap<String, i64> = HashMap::new();
        let mut later: Vec<Msg> = Vec::new();
        for m in orders {
            let FeedBody::WorkOrder(o) = &m.body else {
                continue;
            };
            if m.at_ms < start {
                reported.entry(o.id.clone()).or_insert(m.at_ms);
                if o.status == OrderStatus::Closed {
                    open.remove(&o.id);
                } else {
                    open.insert(o.id.clone(), m);
                }
            } else if m.at_ms < end {
                later.push(m);
            }
        }
        let mut extra: Vec<Msg> = open
            .into_values()
            .map(|mut m| {
                if let FeedBody::WorkOrder(o) = &mut m.body {
                    o.reported_at = reported
                        .get(&o.id)
                        .map(|t| day_start() + Duration::milliseconds(*t));
                }
                Msg {
                    at_ms: start,
                    body: m.body,
                }
            })
            .collect();
        extra.extend(later);
        extra.extend(self.vehicles(k)?);
        extra.extend(
            self.script
                .iter()
                .filter(|m| !matches!(m.body, FeedBody::WorkOrder(_)))
                .filter(|m| (start..end).contains(&m.at_ms))
                .map(|m| Msg {
                    at_ms: m.at_ms,
                    body: m.body.clone(),
                }),
        );
        // Status changes: episodes' starts and ends, parking, street lights.
        for (i, d) in self.devs.iter().enumerate() {
            let eps = self
                .scripted
                .get(&i)
                .into_iter()
                .flatten()
                .chain(random.get(&i));
            for e in eps {
                if (start + 1..end).contains(&e.from_ms) {
                    let silent_iot = e.status == DeviceStatus::Offline && d.kind.is_some();
                    if !silent_iot {
                        extra.push(self.report(i, e.from_ms, e.status, Some(e), false));
                    }
                }
                if (start..end).contains(&e.to_ms) && d.base == DeviceStatus::Online {
                    extra.push(self.report(i, e.to_ms, DeviceStatus::Online, None, false));
                }
            }
            if d.base != DeviceStatus::Online {
                continue;
            }
            match d.kind {
                Some(DeviceKind::ParkingSpace) => {
                    for &(t, _) in self.parking_day(i, k).iter().skip(1) {
                        let (status, ep) = status_at(i, t);
                        if status != DeviceStatus::Offline {
                            extra.push(self.report(i, t, status, ep, false));
                        }
                    }
                }
                Some(DeviceKind::StreetLight) => {
                    let (on, off) = self.lamp_times(i);
                    for t in [start + off, start + on] {
                        let (status, ep) = status_at(i, t);
                        if status == DeviceStatus::Online {
                            extra.push(self.report(i, t, status, ep, false));
                        }
                    }
                }
                _ => {}
            }
        }
        extra.sort_by_key(|m| m.at_ms);
        let mut extra = extra.into_iter().peekable();

        let ts = |t: i64| day_start() + Duration::milliseconds(t);
        if let Some(history) = checkpoint {
            write(&FeedMessage {
                ts: ts(start),
                body: FeedBody::Checkpoint(Box::new(Checkpoint {
                    history,
                    state: None,
                })),
            })?;
        }
        for (i, _) in self.devs.iter().enumerate() {
            let (status, ep) = status_at(i, start);
            let m = self.report(i, start, status, ep, true);
            write(&FeedMessage {
                ts: ts(start),
                body: m.body,
            })?;
        }
        let mut window = start;
        while window < end {
            let next = window + HOUR_MS;
            let mut msgs: Vec<Msg> = Vec::new();
            while let Some(m) = extra.next_if(|m| m.at_ms < next) {
                msgs.push(m);
            }
            for (i, d) in self.devs.iter().enumerate() {
                if d.period_s == 0 {
                    continue;
                }
                let period = d.period_s * 1000;
                let phase = d.phase_s * 1000;
                // The first report at or after the window, past the announcement.
                let mut t = window + (phase - window).rem_euclid(period);
                if t == start {
                    t += period;
                }
                while t < next {
                    let (status, ep) = status_at(i, t);
                    if status != DeviceStatus::Offline {
                        msgs.push(self.report(i, t, status, ep, false));
                    }
                    t += period;
                }
            }
            msgs.sort_by_key(|m| m.at_ms);
            for m in msgs {
                write(&FeedMessage {
                    ts: ts(m.at_ms),
                    body: m.body,
                })?;
            }
            window = next;
        }
        // The day's parking is written: let its changes go.
        self.parking.borrow_mut().retain(|(_, day), _| *day != k);
        Ok(())
    }

    /// What the recording's metadata says of it.
    fn metadata(&self, seed: u64, history: usize) -> BTreeMap<String, String> {
        [
            ("note", format!("SYNTHETIC day of operations generated by `citytwin gen-day`: no event in it happened. {CITY_NOTE}")),
            ("day", "2026-11-23 (Beijing time)".to_string()),
            ("city", format!("gen-city --scale {} --seed {seed}", self.scale_label)),
            ("generator", super::city_files::GENERATOR_VERSION.to_string()),
            ("written_by", format!("citytwin {} gen-day", env!("CARGO_PKG_VERSION"))),
            ("history", format!("{history} minutes of the day before, in the opening checkpoint")),
            ("incidents", INCIDENTS.join("\n")),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v))
        .collect()
    }
}

fn lonlat(frame: &LocalFrame, p: LocalPoint) -> Result<LonLat> {
    let w = frame.to_lonlat(p)?;
    Ok(LonLat::new(
        super::round_to(w.lon, 6),
        super::round_to(w.lat, 6),
    ))
}

/// Writes day `k` of `gen` to an MCAP file at `path`.
fn write_file(
    g: &DayGen,
    k: i64,
    path: &Path,
    level: u32,
    checkpoint: Option<HistoryCheckpoint>,
    meta: &BTreeMap<String, String>,
    report: &mut DayReport,
) -> Result<()> {
    let mut out = RecordingWriter::create(path, meta, level)?;
    g.write_day(k, checkpoint, |m| {
        report.messages += 1;
        *report.per_kind.entry(m.body.kind()).or_default() += 1;
        out.write(m)
    })?;
    out.finish()?;
    report.bytes = std::fs::metadata(path)?.len();
    Ok(())
}

/// The KPI history of the day before, from playing it (generated as the day itself is)
/// through the headless twin on the city at `scene`.
fn yesterday(g: &DayGen, scene: &Path, work: &Path) -> Result<HistoryCheckpoint> {
    let file = work.join("day-before.mcap");
    let mut ignored = DayReport::default();
    write_file(g, -1, &file, 1, None, &BTreeMap::new(), &mut ignored)?;
    let options = city_twin(scene)?.replaying(&file);
    let mut app = crate::headless_app(&options);
    crate::ops::report::run_app(
        &mut app,
        &options,
        day_start(),
        std::time::Duration::from_secs(1800),
    )
    .map_err(|e| anyhow::anyhow!("playing the day before: {e}"))?;
    let history = app.world().resource::<crate::ops::history::KpiHistory>();
    let _ = std::fs::remove_file(&file);
    Ok(history.checkpoint(day_start().timestamp().div_euclid(60)))
}

/// The twin of the city at `scene`.
fn city_twin(scene: &Path) -> Result<crate::TwinOptions> {
    let scene = crate::scene::Scene::load(scene)?;
    crate::TwinOptions::from_scene(scene).map_err(anyhow::Error::msg)
}

/// Recorded time between two checkpoints of the twin's state in the `full` day.
pub const STATE_EVERY_FULL: Duration = Duration::hours(1);

/// `citytwin gen-day`: the day of the city of `scale` made from `seed`, to `out`.
/// `progress` hears what it is doing.
pub fn generate(
    scale: Scale,
    seed: u64,
    out: &Path,
    level: u32,
    every: Duration,
    mut progress: impl FnMut(&str),
) -> Result<DayReport> {
    progress("laying out the city");
    let plan = super::city::plan(scale, seed, |_, _| {})?;
    let g = DayGen::new(&plan, seed)?;
    drop(plan);
    let work = std::env::temp_dir().join(format!("citytwin-gen-day-{}-{seed}", scale.label()));
    std::fs::create_dir_all(&work).with_context(|| format!("{}", work.display()))?;
    let scene = work.join(super::city_files::SCENE);
    progress("writing the city's files (for the day before)");
    super::city_files::ensure(scale, seed, &scene)?;
    progress("playing the day before through the twin for its KPI history");
    let history = yesterday(&g, &scene, &work)?;
    let minutes = history.online_rate.len();
    progress("writing the day");
    if let Some(dir) = out.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).with_context(|| format!("{}", dir.display()))?;
    }
    let mut report = DayReport {
        history_minutes: minutes,
        ..DayReport::default()
    };
    // Written fast, then played through the twin for its checkpoints and copied with
    // them in their places at the archive level.
    let plain = work.join("day-plain.mcap");
    write_file(
        &g,
        0,
        &plain,
        1,
        Some(history),
        &g.metadata(seed, minutes),
        &mut report,
    )?;
    progress("playing the day through the twin for its checkpoints of the twin's state");
    let states =
        crate::ops::state::add_checkpoints(&city_twin(&scene)?, &plain, out, every, level)?;
    let _ = std::fs::remove_file(&plain);
    report.states = states as u64;
    report.messages += report.states;
    *report.per_kind.entry("checkpoint").or_default() += report.states;
    report.bytes = std::fs::metadata(out)?.len();
    Ok(report)
}
