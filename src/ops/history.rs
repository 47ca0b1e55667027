//! KPI history in preallocated rings covering 48 hours of twin time, so the wall can
//! set today against yesterday: city-wide and per-district series per minute, per-grid
//! series per hour. Sampled when the twin clock enters a new minute; minutes a fast
//! replay skips in one frame get the values of that frame.

use super::DeviceCounts;
use super::alerts::Alerts;
use super::clock::TwinClock;
use super::orders::OrderBook;
use crate::TwinSet;
use crate::city::CityAreas;
use bevy::platform::collections::HashMap;
use bevy::prelude::*;

/// Minutes kept: 48 hours.
pub const MINUTES: usize = 48 * 60;
/// Hours kept for the per-grid series.
pub const HOURS: usize = 48;

/// A fixed ring of samples, one per period; slot `t % len` holds period `t`.
#[derive(Debug, Clone)]
pub struct Ring<T: Copy + Default> {
    slots: Vec<T>,
    /// Period of each slot's sample (to tell a fresh sample from an old lap).
    stamps: Vec<i64>,
}

impl<T: Copy + Default> Ring<T> {
    pub fn new(len: usize) -> Self {
        Self {
            slots: vec![T::default(); len],
            stamps: vec![i64::MIN; len],
        }
    }

    fn put(&mut self, period: i64, value: T) {
        let i = period.rem_euclid(self.slots.len() as i64) as usize;
        self.slots[i] = value;
        self.stamps[i] = period;
    }

    /// Changes the sample of `period` in place (a fresh slot starts from default).
    fn update(&mut self, period: i64, f: impl FnOnce(&mut T)) {
        let i = period.rem_euclid(self.slots.len() as i64) as usize;
        if self.stamps[i] != period {
            self.slots[i] = T::default();
            self.stamps[i] = period;
        }
        f(&mut self.slots[i]);
    }

    /// The sample of `period`, if it is still in the ring.
    pub fn get(&self, period: i64) -> Option<T> {
        let i = period.rem_euclid(self.slots.len() as i64) as usize;
        (self.stamps[i] == period).then_some(self.slots[i])
    }

    fn bytes(&self) -> usize {
        self.slots.len() * (std::mem::size_of::<T>() + std::mem::size_of::<i64>())
    }
}

/// One minute of the city. The counts are filed under the minute of the event's
/// own time (exact at any speed); the levels are those at the frame that entered the
/// next minute.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct CityMinute {
    pub online_rate: f32,
    pub alerts_open: u32,
    pub orders_open: u32,
    pub orders_overdue: u32,
    /// Alerts that fired in this minute.
    pub alerts_fired: u32,
    /// Work orders first reported in this minute.
    pub orders_reported: u32,
}

#[derive(Resource, Debug, Clone)]
pub struct KpiHistory {
    pub city: Ring<CityMinute>,
    /// Open alerts plus open orders per district, per minute (same order as the
    /// scene's districts).
    pub districts: Vec<Ring<u32>>,
    pub district_ids: Vec<String>,
    /// Open alerts plus open orders per grid, per hour.
    pub grids: Vec<Ring<u16>>,
    pub grid_ids: Vec<String>,
    /// The last minute sampled (minutes since the Unix epoch).
    last_minute: Option<i64>,
}

impl Default for KpiHistory {
    fn default() -> Self {
        Self {
            city: Ring::new(MINUTES),
            districts: Vec::new(),
            district_ids: Vec::new(),
            grids: Vec::new(),
            grid_ids: Vec::new(),
            last_minute: None,
        }
    }
}

impl KpiHistory {
    /// Rings for these districts and grids, all allocated now.
    pub fn for_areas(districts: Vec<String>, grids: Vec<String>) -> Self {
        Self {
            districts: districts.iter().map(|_| Ring::new(MINUTES)).collect(),
            district_ids: districts,
            grids: grids.iter().map(|_| Ring::new(HOURS)).collect(),
            grid_ids: grids,
            ..default()
        }
    }

    /// Counting starts again at the next sample (the rings keep what they hold).
    pub fn restart(&mut self) {
        self.last_minute = None;
    }

    /// Memory the rings take, bytes.
    pub fn memory_bytes(&self) -> usize {
        self.city.bytes()
            + self.districts.iter().map(Ring::bytes).sum::<usize>()
            + self.grids.iter().map(Ring::bytes).sum::<usize>()
    }

    /// The city's sample of the minute containing `t`.
    pub fn city_at(&self, t: chrono::DateTime<chrono::FixedOffset>) -> Option<CityMinute> {
        self.city.get(t.timestamp().div_euclid(60))
    }
}

pub(super) fn plugin(app: &mut App) {
    app.init_resource::<KpiHistory>().add_systems(
        Update,
        (size_for_city, sample)
            .chain()
            .after(super::OpsSet::Rules)
            .in_set(TwinSet::Ops),
    );
}

fn size_for_city(areas: Res<CityAreas>, mut history: ResMut<KpiHistory>) {
    if !areas.is_changed() || areas.is_added() && areas.districts.names.is_empty() {
        return;
    }
    // Alerts and orders name their district by name and their grid by id.
    let districts = areas
        .districts
        .names
        .iter()
        .map(|n| n.name.clone().unwrap_or_else(|| n.id.clone()))
        .collect();
    let grids = areas.grids.names.iter().map(|n| n.id.clone()).collect();
    let mut fresh = KpiHistory::for_areas(districts, grids);
    fresh.city = std::mem::replace(&mut history.city, Ring::new(1));
    fresh.last_minute = history.last_minute;
    info!(
        "KPI history: {} districts per minute, {} grids per hour, 48 h: {:.1} MB",
        fresh.districts.len(),
        fresh.grids.len(),
        fresh.memory_bytes() as f64 / 1e6
    );
    *history = fresh;
}

fn sample(
    clock: Res<TwinClock>,
    alerts: Res<Alerts>,
    book: Res<OrderBook>,
    devices: Res<DeviceCounts>,
    mut history: ResMut<KpiHistory>,
) {
    let now = clock.now();
    let minute = now.timestamp().div_euclid(60);
    // The minute being sampled is the one that just ended.
    // First frame, or the clock went back (wall time before a replay's first message,
    // a replay that loops): start counting from here.
    // Counts go under the minute of their own time.
    {
        let h = history.bypass_change_detection();
        for &i in &alerts.newly_fired {
            if let Some(at) = alerts.list.get(i).and_then(|a| a.fired_at) {
                h.city
                    .update(at.timestamp().div_euclid(60), |m| m.alerts_fired += 1);
            }
        }
        for id in &book.newly_reported {
            if let Some(o) = book.orders.get(id) {
                h.city
                    .update(o.reported_at.timestamp().div_euclid(60), |m| {
                        m.orders_reported += 1
                    });
            }
        }
    }
    let Some(last) = history.last_minute.filter(|last| minute >= *last) else {
        history.bypass_change_detection().last_minute = Some(minute);
        return;
    };
    if minute == last {
        return;
    }
    let open_alerts: Vec<_> = alerts.list.iter().filter(|a| a.is_open()).collect();
    let open_orders: Vec<_> = book.orders.values().filter(|o| o.is_open()).collect();
    let online_rate = devices.online as f32 / devices.total().max(1) as f32;
    let (alerts_open, orders_open) = (open_alerts.len() as u32, open_orders.len() as u32);
    let orders_overdue = open_orders.iter().filter(|o| o.overdue).count() as u32;
    let mut by_district: HashMap<&str, u32> = HashMap::default();
    let mut by_grid: HashMap<&str, u32> = HashMap::default();
    let places = open_alerts
        .iter()
        .map(|a| (a.district.as_deref(), a.grid.as_deref()))
        .chain(
            open_orders
                .iter()
                .map(|o| (o.district.as_deref(), o.grid.as_deref())),
        );
    for (district, grid) in places {
        if let Some(d) = district {
            *by_district.entry(d).or_default() += 1;
        }
        if let Some(g) = grid {
            *by_grid.entry(g).or_default() += 1;
        }
    }
    let h = history.as_mut();
    // Every minute from the last sampled to the one before now: a replay that moved
    // on by several minutes in one frame fills them with this frame's values.
    let first = (last).max(minute - MINUTES as i64);
    for m in first..minute {
        h.city.update(m, |s| {
            s.online_rate = online_rate;
            s.alerts_open = alerts_open;
            s.orders_open = orders_open;
            s.orders_overdue = orders_overdue;
        });
        for (i, id) in h.district_ids.iter().enumerate() {
            h.districts[i].put(m, by_district.get(id.as_str()).copied().unwrap_or(0));
        }
    }
    let (last_hour, hour) = (last.div_euclid(60), minute.div_euclid(60));
    if hour > last_hour {
        for hr in last_hour.max(hour - HOURS as i64)..hour {
            for (i, id) in h.grid_ids.iter().enumerate() {
                let n = by_grid.get(id.as_str()).copied().unwrap_or(0);
                h.grids[i].put(hr, n.min(u32::from(u16::MAX)) as u16);
            }
        }
    }
    h.last_minute = Some(minute);
}
