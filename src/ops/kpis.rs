//! The KPIs the wall and `report` read, in one resource, refreshed from the
//! operations state (at most a few times a second of real time).

use super::OnlineByKind;
use super::alerts::Alerts;
use super::clock::TwinClock;
use super::orders::OrderBook;
use crate::TwinSet;
use crate::feeds::ingest::Projects;
use crate::feeds::schema::{DeviceKind, OrderCategory, ProjectPhase};
use crate::scene::ops::Severity;
use bevy::prelude::*;
use chrono::{DateTime, FixedOffset};
use serde::Serialize;
use std::collections::BTreeMap;

#[derive(Resource, Debug, Clone, Default, PartialEq, Serialize)]
pub struct Kpis {
    /// Share of devices (by kind, `camera` for cameras) that are online, 0–1.
    pub online_rate: BTreeMap<&'static str, f64>,
    /// Open, unsilenced alerts by severity.
    pub alerts_open: BTreeMap<Severity, u64>,
    pub alerts_fired_total: u64,
    /// Work orders reported today (Beijing date of the twin clock).
    pub orders_today: u64,
    pub orders_open: u64,
    /// Open orders past their resolution deadline.
    pub orders_overdue: u64,
    /// Orders not signed by their sign deadline, still unsigned.
    pub orders_unsigned_overdue: u64,
    pub orders_closed: u64,
    pub mean_sign_minutes: Option<f64>,
    pub mean_resolve_hours: Option<f64>,
    /// Closed / reported, 0–1.
    pub closure_rate: Option<f64>,
    /// Closed orders rated 4 or 5 / rated, 0–1.
    pub satisfaction: Option<f64>,
    /// Orders in memory by category.
    pub category_mix: BTreeMap<&'static str, u64>,
    /// Open alerts plus open orders per district, most first.
    pub district_ranking: Vec<(String, u64)>,
    /// The same per community grid (those with anything open), most first, at most
    /// [`GRID_RANKING`] of them.
    pub grid_ranking: Vec<(String, u64)>,
    pub projects_by_phase: BTreeMap<String, u64>,
    /// Projects past their `end` date, not completed.
    pub projects_overdue: u64,
}

/// Grids kept in [`Kpis::grid_ranking`]: a wall shows the top few, a report the rest
/// of what matters; the full per-grid figures are in the KPI history.
pub const GRID_RANKING: usize = 100;

/// Places by count, most first (ties by name).
fn ranked(counts: BTreeMap<String, u64>) -> Vec<(String, u64)> {
    let mut ranking: Vec<_> = counts.into_iter().collect();
    ranking.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
    ranking
}

fn label<T: Serialize>(v: &T) -> String {
    serde_json::to_value(v)
        .ok()
        .and_then(|v| v.as_str().map(str::to_string))
        .unwrap_or_default()
}

impl Kpis {
    pub fn compute(
        now: DateTime<FixedOffset>,
        alerts: &Alerts,
        book: &OrderBook,
        projects: &Projects,
        devices: &OnlineByKind,
    ) -> Self {
        let mut k = Kpis {
            online_rate: devices
                .0
                .iter()
                .map(|(kind, (on, all))| (*kind, *on as f64 / (*all).max(1) as f64))
                .collect(),
            ..default()
        };
        k.alerts_open = alerts.open_by_severity(now);
        k.alerts_fired_total = alerts.fired_total;
        let today = now.date_naive();
        let mut districts: BTreeMap<String, u64> = BTreeMap::new();
        let mut grids: BTreeMap<String, u64> = BTreeMap::new();
        let mut count = |district: &Option<String>, grid: &Option<String>| {
            if let Some(d) = district {
                *districts.entry(d.clone()).or_default() += 1;
            }
            if let Some(g) = grid {
                *grids.entry(g.clone()).or_default() += 1;
            }
        };
        for o in book.orders.values() {
            if o.reported_at.date_naive() == today {
                k.orders_today += 1;
            }
            *k.category_mix
                .entry(category_label(o.category))
                .or_default() += 1;
            if o.is_open() {
                k.orders_open += 1;
                count(&o.district, &o.grid);
            }
        }
        for a in alerts.list.iter().filter(|a| a.is_open()) {
            count(&a.district, &a.grid);
        }
        k.orders_overdue = book.overdue_open() as u64;
        k.orders_unsigned_overdue = book.unsigned_overdue(now) as u64;
        let t = &book.totals;
        k.orders_closed = t.closed;
        k.mean_sign_minutes = (t.signed > 0).then(|| t.sign_seconds / t.signed as f64 / 60.0);
        k.mean_resolve_hours =
            (t.resolved > 0).then(|| t.resolve_seconds / t.resolved as f64 / 3600.0);
        k.closure_rate = (t.reported > 0).then(|| t.closed as f64 / t.reported as f64);
        k.satisfaction =
            (t.satisfaction_n > 0).then(|| t.satisfied as f64 / t.satisfaction_n as f64);
        k.district_ranking = ranked(districts);
        k.grid_ranking = ranked(grids);
        k.grid_ranking.truncate(GRID_RANKING);
        for p in projects.0.values() {
            *k.projects_by_phase.entry(label(&p.phase)).or_default() += 1;
            if p.phase != ProjectPhase::Completed && p.end.is_some_and(|end| end < today) {
                k.projects_overdue += 1;
            }
        }
        k
    }
}

/// How often (real time) the wall's KPIs are recomputed.
const REFRESH_S: f32 = 0.5;

pub(super) fn plugin(app: &mut App) {
    app.init_resource::<Kpis>().add_systems(
        Update,
        refresh.after(super::OpsSet::Rules).in_set(TwinSet::Ops),
    );
}

fn refresh(
    time: Res<Time<Real>>,
    mut since: Local<f32>,
    clock: Res<TwinClock>,
    alerts: Res<Alerts>,
    book: Res<OrderBook>,
    projects: Res<Projects>,
    devices: Res<OnlineByKind>,
    mut kpis: ResMut<Kpis>,
) {
    *since += time.delta_secs();
    if *since < REFRESH_S && *kpis != Kpis::default() {
        return;
    }
    *since = 0.0;
    let fresh = Kpis::compute(clock.now(), &alerts, &book, &projects, &devices);
    if *kpis != fresh {
        *kpis = fresh;
    }
}

pub fn category_label(c: OrderCategory) -> &'static str {
    match c {
        OrderCategory::Traffic => "traffic",
        OrderCategory::PublicFacilities => "public_facilities",
        OrderCategory::Education => "education",
        OrderCategory::PropertyManagement => "property_management",
        OrderCategory::Environment => "environment",
        OrderCategory::Heating => "heating",
        OrderCategory::MedicalSocialSecurity => "medical_social_security",
        OrderCategory::Other => "other",
    }
}

/// The label of a device kind, as the feed writes it.
pub fn kind_label(kind: DeviceKind) -> &'static str {
    match kind {
        DeviceKind::Elevator => "elevator",
        DeviceKind::GasDetector => "gas_detector",
        DeviceKind::ManholeCover => "manhole_cover",
        DeviceKind::WaterPressure => "water_pressure",
        DeviceKind::BridgeStrain => "bridge_strain",
        DeviceKind::ParkingSpace => "parking_space",
        DeviceKind::StreetLight => "street_light",
        DeviceKind::TrafficFlow => "traffic_flow",
        DeviceKind::AirQuality => "air_quality",
        DeviceKind::Other => "other",
    }
}
