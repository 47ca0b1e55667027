//! KPI history in preallocated rings covering 48 hours of twin time, so the wall can
//! set today against yesterday: city-wide and per-district series per minute, per-grid
//! series per hour. A minute's sample is the state at its end in twin time, the same
//! at any speed: the systems that change a sampled level file each change with its
//! time ([`LevelChange`]), and a frame that moves past several minutes takes each
//! minute's level back from the frame's end by the changes made after it.

use super::DeviceCounts;
use super::alerts::Alerts;
use super::clock::TwinClock;
use super::orders::OrderBook;
use crate::TwinSet;
use crate::city::CityAreas;
use crate::feeds::ingest::CheckpointReached;
use crate::feeds::schema::{HistoryCheckpoint, Series};
use bevy::platform::collections::HashMap;
use bevy::prelude::*;
use chrono::{DateTime, FixedOffset};

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

    /// Forgets every sample.
    pub fn clear(&mut self) {
        self.slots.fill(T::default());
        self.stamps.fill(i64::MIN);
    }

    /// The samples held, by period.
    pub fn samples(&self) -> Vec<(i64, T)> {
        let mut out: Vec<(i64, T)> = self
            .stamps
            .iter()
            .zip(&self.slots)
            .filter(|(p, _)| **p != i64::MIN)
            .map(|(p, v)| (*p, *v))
            .collect();
        out.sort_by_key(|(p, _)| *p);
        out
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
/// own time; the levels are those at the minute's end (both exact at any speed).
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

    /// The twin starts over (a seek, a loop): the rings forget every sample, as a play
    /// from the recording's start would not have them, and counting starts again at
    /// the next sample.
    pub fn restart(&mut self) {
        self.last_minute = None;
        self.city.clear();
        self.districts.iter_mut().for_each(Ring::clear);
        self.grids.iter_mut().for_each(Ring::clear);
    }

    /// The last minute sampled (minutes since the epoch).
    pub fn last_minute(&self) -> Option<i64> {
        self.last_minute
    }

    /// Sampling goes on after `minute` (a checkpoint's state was restored).
    pub fn set_last_minute(&mut self, minute: Option<i64>) {
        self.last_minute = minute;
    }

    /// The history before `minute` (minutes since the epoch) as a checkpoint.
    pub fn checkpoint(&self, minute: i64) -> HistoryCheckpoint {
        let city: Vec<(i64, CityMinute)> = self
            .city
            .samples()
            .into_iter()
            .filter(|(m, _)| *m < minute)
            .collect();
        let (Some(first), Some(last)) = (city.first(), city.last()) else {
            return HistoryCheckpoint::default();
        };
        let (first, last) = (first.0, last.0);
        let mut out = HistoryCheckpoint {
            from_minute: first,
            ..default()
        };
        for m in first..=last {
            let s = self.city.get(m).unwrap_or_default();
            out.online_rate.push(s.online_rate);
            out.alerts_open.push(s.alerts_open);
            out.orders_open.push(s.orders_open);
            out.orders_overdue.push(s.orders_overdue);
            out.alerts_fired.push(s.alerts_fired);
            out.orders_reported.push(s.orders_reported);
        }
        out.districts = self
            .district_ids
            .iter()
            .zip(&self.districts)
            .map(|(id, ring)| Series {
                id: id.clone(),
                values: (first..=last).map(|m| ring.get(m).unwrap_or(0)).collect(),
            })
            .collect();
        let hour = minute.div_euclid(60);
        let hours = self
            .grids
            .iter()
            .flat_map(|r| r.samples())
            .map(|(h, _)| h)
            .filter(|h| *h < hour);
        if let Some(from) = hours.min() {
            out.from_hour = from;
            for (id, ring) in self.grid_ids.iter().zip(&self.grids) {
                let mut values: Vec<u16> = (from..hour).map(|h| ring.get(h).unwrap_or(0)).collect();
                while values.last() == Some(&0) {
                    values.pop();
                }
                if !values.is_empty() {
                    out.grids.push(Series {
                        id: id.clone(),
                        values,
                    });
                }
            }
        }
        out
    }

    /// Puts a checkpoint's samples into the rings (areas the city does not have are
    /// left out).
    pub fn restore(&mut self, c: &HistoryCheckpoint) {
        for (i, &online_rate) in c.online_rate.iter().enumerate() {
            self.city.put(
                c.from_minute + i as i64,
                CityMinute {
                    online_rate,
                    alerts_open: c.alerts_open[i],
                    orders_open: c.orders_open[i],
                    orders_overdue: c.orders_overdue[i],
                    alerts_fired: c.alerts_fired[i],
                    orders_reported: c.orders_reported[i],
                },
            );
        }
        let index = |ids: &[String]| -> HashMap<String, usize> {
            ids.iter()
                .enumerate()
                .map(|(i, id)| (id.clone(), i))
                .collect()
        };
        let districts = index(&self.district_ids);
        for series in &c.districts {
            if let Some(&i) = districts.get(&series.id) {
                for (k, v) in series.values.iter().enumerate() {
                    self.districts[i].put(c.from_minute + k as i64, *v);
                }
            }
        }
        let grids = index(&self.grid_ids);
        for series in &c.grids {
            if let Some(&i) = grids.get(&series.id) {
                for (k, v) in series.values.iter().enumerate() {
                    self.grids[i].put(c.from_hour + k as i64, *v);
                }
            }
        }
    }

    /// Every sample the rings hold, oldest period first, for comparing two histories.
    pub fn samples(
        &self,
    ) -> (
        Vec<(i64, CityMinute)>,
        Vec<Vec<(i64, u32)>>,
        Vec<Vec<(i64, u16)>>,
    ) {
        (
            self.city.samples(),
            self.districts.iter().map(Ring::samples).collect(),
            self.grids.iter().map(Ring::samples).collect(),
        )
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

/// A sampled level that a system changed, at the twin time it changed.
#[derive(Debug, Clone, PartialEq)]
pub struct LevelChange {
    pub at: DateTime<FixedOffset>,
    pub level: Level,
    pub delta: i32,
    pub district: Option<String>,
    pub grid: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Level {
    AlertsOpen,
    OrdersOpen,
    OrdersOverdue,
    DevicesOnline,
    Devices,
}

impl LevelChange {
    /// A change of a level that is counted per district and grid too.
    pub fn placed(
        at: DateTime<FixedOffset>,
        level: Level,
        delta: i32,
        district: &Option<String>,
        grid: &Option<String>,
    ) -> Self {
        Self {
            at,
            level,
            delta,
            district: district.clone(),
            grid: grid.clone(),
        }
    }
}

/// The changes of the frame to the device levels (alerts and orders keep theirs in
/// their own resources); drained by the sampler every frame.
#[derive(Resource, Debug, Default)]
pub struct LevelChanges(pub Vec<LevelChange>);

/// The history of the last checkpoint a replay reached, put back when the rings are
/// rebuilt for a city that loads after it.
#[derive(Resource, Debug, Default)]
struct Restored(Option<HistoryCheckpoint>);

pub(super) fn plugin(app: &mut App) {
    app.init_resource::<KpiHistory>()
        .init_resource::<LevelChanges>()
        .init_resource::<Restored>()
        .add_systems(
            Update,
            (size_for_city, restore, sample)
                .chain()
                .after(super::OpsSet::Rules)
                .in_set(TwinSet::Ops),
        );
}

fn restore(
    mut reached: MessageReader<CheckpointReached>,
    mut restored: ResMut<Restored>,
    mut history: ResMut<KpiHistory>,
) {
    for r in reached.read() {
        info!(
            "KPI history: {} minutes restored from a checkpoint at {}",
            r.checkpoint.history.online_rate.len(),
            r.ts
        );
        history.restore(&r.checkpoint.history);
        restored.0 = Some(r.checkpoint.history.clone());
    }
}

fn size_for_city(areas: Res<CityAreas>, restored: Res<Restored>, mut history: ResMut<KpiHistory>) {
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
    if let Some(c) = &restored.0 {
        fresh.restore(c);
    }
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
    mut alerts: ResMut<Alerts>,
    mut book: ResMut<OrderBook>,
    devices: Res<DeviceCounts>,
    mut device_changes: ResMut<LevelChanges>,
    mut history: ResMut<KpiHistory>,
) {
    let now = clock.now();
    let minute = now.timestamp().div_euclid(60);
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
            if let Some(o) = book.orders.get(id).filter(|o| !o.carried) {
                h.city
                    .update(o.reported_at.timestamp().div_euclid(60), |m| {
                        m.orders_reported += 1
                    });
            }
        }
    }
    // The frame's level changes; their vectors keep their capacity for the next frame.
    let alerts = alerts.bypass_change_detection();
    let book = book.bypass_change_detection();
    let device_changes = device_changes.bypass_change_detection();
    sample_levels(
        minute,
        alerts,
        book,
        devices.as_ref(),
        [
            &alerts.level_changes,
            &book.level_changes,
            &device_changes.0,
        ],
        &mut history,
    );
    alerts.level_changes.clear();
    book.level_changes.clear();
    device_changes.0.clear();
}

/// Writes every minute that ended since the last sample, with the levels at its end.
fn sample_levels(
    minute: i64,
    alerts: &Alerts,
    book: &OrderBook,
    devices: &DeviceCounts,
    changes: [&Vec<LevelChange>; 3],
    history: &mut ResMut<KpiHistory>,
) {
    // First frame, or the clock went back (wall time before a replay's first message,
    // a replay that seeks or loops): counting starts at the minute of the first change
    // the frame carries (a fast replay brings many minutes in one frame; every change
    // since the state started is in it), or here.
    let earliest = changes
        .iter()
        .flat_map(|c| c.iter())
        .map(|c| c.at.timestamp().div_euclid(60))
        .min();
    let Some(last) = history.last_minute.filter(|last| minute >= *last) else {
        let start = earliest.map_or(minute, |e| e.min(minute));
        history.bypass_change_detection().last_minute = Some(start);
        if start < minute {
            sample_levels(minute, alerts, book, devices, changes, history);
        }
        return;
    };
    if minute == last {
        return;
    }
    // The levels now, at the end of the frame…
    let open_alerts: Vec<_> = alerts.list.iter().filter(|a| a.is_open()).collect();
    let open_orders: Vec<_> = book.orders.values().filter(|o| o.is_open()).collect();
    let mut level = [0i64; 5];
    level[Level::AlertsOpen as usize] = open_alerts.len() as i64;
    level[Level::OrdersOpen as usize] = open_orders.len() as i64;
    level[Level::OrdersOverdue as usize] = open_orders.iter().filter(|o| o.overdue).count() as i64;
    level[Level::DevicesOnline as usize] = devices.online as i64;
    level[Level::Devices as usize] = devices.total() as i64;
    let mut by_district: HashMap<String, i64> = HashMap::default();
    let mut by_grid: HashMap<String, i64> = HashMap::default();
    let places = open_alerts
        .iter()
        .map(|a| (&a.district, &a.grid))
        .chain(open_orders.iter().map(|o| (&o.district, &o.grid)));
    for (district, grid) in places {
        if let Some(d) = district {
            *by_district.entry(d.clone()).or_default() += 1;
        }
        if let Some(g) = grid {
            *by_grid.entry(g.clone()).or_default() += 1;
        }
    }
    // …then each ended minute, latest first, with the changes made after its end
    // taken back. Changes are summed per minute they were made in (no sort of a
    // frame's many device changes); the few that count per place are sorted.
    let first = last.max(minute - MINUTES as i64);
    let mut after = vec![[0i64; 5]; (minute - first) as usize];
    let mut placed: Vec<&LevelChange> = Vec::new();
    for c in changes.into_iter().flatten() {
        let made = c.at.timestamp().div_euclid(60).min(minute);
        if made <= first {
            continue;
        }
        after[(made - first - 1) as usize][c.level as usize] += i64::from(c.delta);
        if matches!(c.level, Level::AlertsOpen | Level::OrdersOpen)
            && (c.district.is_some() || c.grid.is_some())
        {
            placed.push(c);
        }
    }
    placed.sort_by_key(|c| std::cmp::Reverse(c.at));
    let mut placed = placed.into_iter().peekable();
    let h = history.as_mut();
    let (last_hour, hour) = (last.div_euclid(60), minute.div_euclid(60));
    for m in (first..minute).rev() {
        // Changes made in minute m + 1 (or later: summed already) happened after m ended.
        for (l, d) in level.iter_mut().zip(after[(m - first) as usize]) {
            *l -= d;
        }
        let end = (m + 1) * 60;
        while let Some(c) = placed.next_if(|c| c.at.timestamp() >= end) {
            if let Some(d) = &c.district {
                *by_district.entry(d.clone()).or_default() -= i64::from(c.delta);
            }
            if let Some(g) = &c.grid {
                *by_grid.entry(g.clone()).or_default() -= i64::from(c.delta);
            }
        }
        let count = |v: i64| v.clamp(0, i64::from(u32::MAX)) as u32;
        let online_rate = level[Level::DevicesOnline as usize].max(0) as f32
            / level[Level::Devices as usize].max(1) as f32;
        h.city.update(m, |s| {
            s.online_rate = online_rate;
            s.alerts_open = count(level[Level::AlertsOpen as usize]);
            s.orders_open = count(level[Level::OrdersOpen as usize]);
            s.orders_overdue = count(level[Level::OrdersOverdue as usize]);
        });
        for (i, id) in h.district_ids.iter().enumerate() {
            h.districts[i].put(m, count(by_district.get(id).copied().unwrap_or(0)));
        }
        // The hour that ends with this minute.
        let hr = m.div_euclid(60);
        if (m + 1) % 60 == 0 && hr >= last_hour && hr < hour && hr >= hour - HOURS as i64 {
            for (i, id) in h.grid_ids.iter().enumerate() {
                let n = by_grid.get(id).copied().unwrap_or(0);
                h.grids[i].put(hr, n.clamp(0, i64::from(u16::MAX)) as u16);
            }
        }
    }
    h.last_minute = Some(minute);
}
