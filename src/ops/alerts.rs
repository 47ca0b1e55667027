//! Alert rules: every device report is judged against the scene's rules (and the
//! built-in ones) in time order; `for` and `keep_firing_for` timers take effect at
//! their exact due twin time, so the alerts at a time T are the same at any replay
//! speed. One alert per device and rule while active; operators acknowledge, resolve
//! and silence through [`OperatorAction`] messages.

use super::clock::TwinClock;
use super::history::{Level, LevelChange};
use super::modes::OperatingState;
use super::timers::Timers;
use crate::feeds::ingest::{DeviceReported, GeoPosition, ModeRequested, VehicleReported};
use crate::feeds::schema::{DeviceKind, DeviceStatus, OperatingMode, Reading, Text};
use crate::geo::LonLat;
use crate::scene::ops::{Condition, RuleSpec, Severity};
use bevy::platform::collections::HashMap;
use bevy::prelude::*;
use chrono::{DateTime, FixedOffset, TimeDelta};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// Resolved alerts are kept this long (twin time) for the wall and reports.
pub const RESOLVED_RETENTION: TimeDelta = TimeDelta::hours(24);

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AlertState {
    /// The condition holds, but not yet for the rule's `for`.
    Pending,
    Firing,
    Acknowledged,
    Resolved,
}

/// Who did something to an alert, and when (twin time).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Stamp {
    pub by: String,
    pub at: DateTime<FixedOffset>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Alert {
    /// `rule:device:started`, stable across runs and speeds.
    pub id: String,
    pub rule: String,
    pub title: String,
    pub severity: Severity,
    pub device: Text,
    pub device_kind: Option<DeviceKind>,
    pub position: Option<LonLat>,
    pub district: Option<String>,
    /// The street office (街道) containing it.
    pub street: Option<String>,
    pub grid: Option<String>,
    pub state: AlertState,
    /// When the condition started to hold.
    pub since: DateTime<FixedOffset>,
    pub fired_at: Option<DateTime<FixedOffset>>,
    pub acknowledged: Option<Stamp>,
    pub resolved: Option<Stamp>,
    /// The value that last made the condition true, when it is a reading.
    pub value: Option<f64>,
    /// Reports that said the same while it was active (deduplicated into this alert).
    pub reports: u64,
    /// Linked cameras (feed ids), nearest first.
    pub cameras: Vec<Text>,
    /// Why it is muted, while it is: its feed is down, or an alert that causes it
    /// fires (an inhibition of the scene).
    pub inhibited_by: Option<String>,
}

impl Alert {
    pub fn is_open(&self) -> bool {
        matches!(self.state, AlertState::Firing | AlertState::Acknowledged)
    }
}

/// A silence: matching alerts still exist but do not reach the wall until it expires.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Silence {
    pub device: Option<Text>,
    pub rule: Option<String>,
    pub district: Option<String>,
    pub by: String,
    pub why: String,
    pub from: DateTime<FixedOffset>,
    pub until: DateTime<FixedOffset>,
}

impl Silence {
    pub fn matches(&self, a: &Alert) -> bool {
        self.device.as_ref().is_none_or(|d| *d == a.device)
            && self.rule.as_ref().is_none_or(|r| *r == a.rule)
            && self
                .district
                .as_ref()
                .is_none_or(|d| a.district.as_ref() == Some(d))
    }

    pub fn active_at(&self, t: DateTime<FixedOffset>) -> bool {
        self.from <= t && t < self.until
    }
}

/// What an operator asks for; the UI, tests and a control topic send it alike (the
/// feed's `operator` message carries the same).
pub use crate::feeds::schema::OperatorCommand as Action;

#[derive(Message, Debug, Clone, PartialEq)]
pub struct OperatorAction {
    pub operator: String,
    pub action: Action,
}

/// A rule as the engine runs it.
#[derive(Debug, Clone)]
struct Rule {
    spec: RuleSpec,
    pending: TimeDelta,
    hold: TimeDelta,
}

/// The scene's rules (built-ins replaced or extended by the scene), per operating
/// mode: a mode's rules replace the scene's by name, each keeping its place.
#[derive(Resource, Debug, Clone, Default)]
pub struct AlertRules {
    by_mode: Vec<(OperatingMode, Vec<Rule>)>,
}

impl AlertRules {
    pub fn new(spec: &crate::scene::ops::OperationsSpec) -> Self {
        let secs = |s: f64| TimeDelta::milliseconds((s * 1000.0).round() as i64);
        let rules = |specs: Vec<RuleSpec>| {
            specs
                .into_iter()
                .map(|spec| Rule {
                    pending: secs(spec.for_s),
                    hold: secs(spec.keep_firing_for_s),
                    spec,
                })
                .collect()
        };
        Self {
            by_mode: OperatingMode::ALL
                .into_iter()
                .map(|m| (m, rules(spec.rules_in_mode(m))))
                .collect(),
        }
    }

    fn in_mode(&self, mode: OperatingMode) -> &[Rule] {
        self.by_mode
            .iter()
            .find(|(m, _)| *m == mode)
            .map_or(&[], |(_, r)| r.as_slice())
    }
}

/// Per device and rule: the alert now active and the times its timers check.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct Active {
    alert: usize,
    /// When the condition last cleared while firing (the hold runs from here).
    clear_since: Option<DateTime<FixedOffset>>,
    /// The rule's pending and hold times when they were set (a mode switch may
    /// change the rule; a running timer keeps its own).
    #[serde(with = "super::state::millis")]
    pending: TimeDelta,
    #[serde(with = "super::state::millis")]
    hold: TimeDelta,
}

/// Per device, what the inactivity rules follow and what an alert needs to say.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
struct DeviceTrack {
    /// Readings fingerprint and when they last changed.
    readings: u64,
    last_change: Option<DateTime<FixedOffset>>,
    status: Option<DeviceStatus>,
    kind: Option<DeviceKind>,
    position: Option<LonLat>,
    /// An inactivity check is scheduled (one at a time per device).
    inactive_due: Option<DateTime<FixedOffset>>,
    /// Alerts of this device now active (any rule): with none, a condition that
    /// does not hold needs no look-up.
    active: u16,
}

#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
enum Due {
    /// The rule's `for` has run since the condition started at `since`.
    Fire {
        device: Text,
        rule: u16,
    },
    /// The rule's hold has run since the condition cleared.
    Clear {
        device: Text,
        rule: u16,
    },
    Inactive {
        device: Text,
    },
}

/// Every alert of the last day, the active ones by device and rule, and silences.
#[derive(Resource, Debug, Default, Clone, Serialize, Deserialize)]
pub struct Alerts {
    /// In the order they started; resolved ones leave after [`RESOLVED_RETENTION`].
    pub list: Vec<Alert>,
    #[serde(with = "super::state::pairs")]
    active: HashMap<(Text, u16), Active>,
    devices: HashMap<Text, DeviceTrack>,
    pub silences: Vec<Silence>,
    timers: Timers<Due>,
    /// Alerts fired, ever (they leave `list` a day after resolving).
    pub fired_total: u64,
    /// Alerts that fired since the last frame, for linkage and the wall's flash.
    /// Positions in `list` (valid until the next frame's evaluation).
    #[serde(skip)]
    pub newly_fired: Vec<usize>,
    /// Actions from feeds refused because their operator is not the scene's.
    pub refused_actions: u64,
    /// Some alert is muted now (the inhibition pass may skip frames otherwise).
    any_inhibited: bool,
    /// Alerts opened and closed this frame, with their times (the history's minutes).
    #[serde(skip)]
    pub(crate) level_changes: Vec<super::history::LevelChange>,
}

impl Alerts {
    pub fn get(&self, id: &str) -> Option<&Alert> {
        self.list.iter().find(|a| a.id == id)
    }

    /// Open (firing or acknowledged) alerts by severity, silenced and inhibited ones
    /// left out.
    pub fn open_by_severity(&self, now: DateTime<FixedOffset>) -> BTreeMap<Severity, u64> {
        let mut out = BTreeMap::new();
        for a in self.list.iter().filter(|a| a.is_open()) {
            if !self.is_silenced(a, now) && a.inhibited_by.is_none() {
                *out.entry(a.severity).or_default() += 1;
            }
        }
        out
    }

    pub fn is_silenced(&self, a: &Alert, now: DateTime<FixedOffset>) -> bool {
        self.silences
            .iter()
            .any(|s| s.active_at(now) && s.matches(a))
    }

    /// Open alerts grouped for the wall: (district, rule title) → count, e.g. "12
    /// manhole covers tilted in 二七区".
    pub fn groups(&self, now: DateTime<FixedOffset>) -> BTreeMap<(String, String), u64> {
        let mut out = BTreeMap::new();
        for a in self.list.iter().filter(|a| a.is_open()) {
            if self.is_silenced(a, now) || a.inhibited_by.is_some() {
                continue;
            }
            let district = a.district.clone().unwrap_or_else(|| "—".into());
            *out.entry((district, a.title.clone())).or_default() += 1;
        }
        out
    }

    fn fire(&mut self, index: usize, at: DateTime<FixedOffset>) {
        let a = &mut self.list[index];
        if a.state != AlertState::Pending {
            return;
        }
        a.state = AlertState::Firing;
        a.fired_at = Some(at);
        let opened = LevelChange::placed(at, Level::AlertsOpen, 1, &a.district, &a.grid);
        self.level_changes.push(opened);
        self.fired_total += 1;
        self.newly_fired.push(index);
    }

    /// A retired device: its open alerts resolve, its tracking state goes.
    fn retire_device(&mut self, device: &Text, at: DateTime<FixedOffset>) {
        let keys: Vec<(Text, u16)> = self
            .active
            .keys()
            .filter(|(d, _)| d == device)
            .cloned()
            .collect();
        for key in keys {
            self.resolve(&key, at, "retired");
        }
        self.devices.remove(device);
    }

    fn forget_active(&mut self, device: &Text) {
        if let Some(t) = self.devices.get_mut(device) {
            t.active = t.active.saturating_sub(1);
        }
    }

    fn resolve(&mut self, key: &(Text, u16), at: DateTime<FixedOffset>, by: &str) {
        if let Some(active) = self.active.remove(key) {
            self.forget_active(&key.0);
            let a = &mut self.list[active.alert];
            if a.is_open() {
                let closed = LevelChange::placed(at, Level::AlertsOpen, -1, &a.district, &a.grid);
                self.level_changes.push(closed);
            }
            a.state = AlertState::Resolved;
            a.resolved = Some(Stamp {
                by: by.to_string(),
                at,
            });
        }
    }

    /// Applies the condition of `rule` for `device` as observed at `at`.
    fn set_condition(
        &mut self,
        rules: &[Rule],
        rule: u16,
        device: &Text,
        holds: bool,
        value: Option<f64>,
        at: DateTime<FixedOffset>,
        place: &dyn Fn() -> Place,
    ) {
        let r = &rules[rule as usize];
        let key = (device.clone(), rule);
        match (self.active.get_mut(&key), holds) {
            (None, true) => {
                let place = place();
                let track = self.devices.get(device);
                let index = self.list.len();
                self.list.push(Alert {
                    id: format!("{}:{device}:{}", r.spec.name, at.to_rfc3339()),
                    rule: r.spec.name.clone(),
                    title: r.spec.title.clone().unwrap_or_else(|| r.spec.name.clone()),
                    severity: r.spec.severity,
                    device: device.clone(),
                    device_kind: track.and_then(|t| t.kind),
                    position: track.and_then(|t| t.position),
                    district: place.district.clone(),
                    street: place.street.clone(),
                    grid: place.grid.clone(),
                    state: AlertState::Pending,
                    since: at,
                    fired_at: None,
                    acknowledged: None,
                    resolved: None,
                    value,
                    reports: 1,
                    cameras: Vec::new(),
                    inhibited_by: None,
                });
                if let Some(t) = self.devices.get_mut(device) {
                    t.active += 1;
                }
                self.active.insert(
                    key.clone(),
                    Active {
                        alert: index,
                        clear_since: None,
                        pending: r.pending,
                        hold: r.hold,
                    },
                );
                if r.pending <= TimeDelta::zero() {
                    self.fire(index, at);
                } else {
                    self.timers.at(
                        at + r.pending,
                        Due::Fire {
                            device: device.clone(),
                            rule,
                        },
                    );
                }
            }
            (Some(active), true) => {
                active.clear_since = None;
                let a = &mut self.list[active.alert];
                a.reports += 1;
                if value.is_some() {
                    a.value = value;
                }
            }
            (Some(active), false) => {
                let index = active.alert;
                if self.list[index].state == AlertState::Pending {
                    // Never fired: it goes without a trace.
                    self.active.remove(&key);
                    self.forget_active(device);
                    self.list.remove(index);
                    for a in self.active.values_mut() {
                        if a.alert > index {
                            a.alert -= 1;
                        }
                    }
                    for i in &mut self.newly_fired {
                        if *i > index {
                            *i -= 1;
                        }
                    }
                } else if active.clear_since.is_none() {
                    active.clear_since = Some(at);
                    active.hold = r.hold;
                    if r.hold <= TimeDelta::zero() {
                        self.resolve(&key, at, "rule");
                    } else {
                        self.timers.at(
                            at + r.hold,
                            Due::Clear {
                                device: device.clone(),
                                rule,
                            },
                        );
                    }
                }
            }
            (None, false) => {}
        }
    }

    /// A timer fell due at `due`: act if the state it was set for still stands.
    fn on_due(&mut self, rules: &[Rule], due: DateTime<FixedOffset>, what: Due, places: &Places) {
        match what {
            Due::Fire { device, rule } => {
                if let Some(active) = self.active.get(&(device, rule)) {
                    let index = active.alert;
                    if self.list[index].state == AlertState::Pending
                        && self.list[index].since + active.pending == due
                    {
                        self.fire(index, due);
                    }
                }
            }
            Due::Clear { device, rule } => {
                let key = (device, rule);
                if self
                    .active
                    .get(&key)
                    .is_some_and(|a| a.clear_since.is_some_and(|c| c + a.hold == due))
                {
                    self.resolve(&key, due, "rule");
                }
            }
            Due::Inactive { device } => {
                let Some(track) = self.devices.get_mut(&device) else {
                    return;
                };
                track.inactive_due = None;
                let Some(changed) = track.last_change else {
                    return;
                };
                let (kind, online) = (track.kind, track.status == Some(DeviceStatus::Online));
                let place = places.of(track.position);
                let mut next: Option<DateTime<FixedOffset>> = None;
                for (i, r) in rules.iter().enumerate() {
                    let Condition::Inactive { hours } = r.spec.when else {
                        continue;
                    };
                    if !applies(r, kind) {
                        continue;
                    }
                    let at = changed + hours_delta(hours);
                    if at <= due {
                        if online && !self.active.contains_key(&(device.clone(), i as u16)) {
                            self.set_condition(rules, i as u16, &device, true, None, at, &|| {
                                place.clone()
                            });
                        }
                    } else {
                        next = Some(next.map_or(at, |n| n.min(at)));
                    }
                }
                if let Some(next) = next
                    && let Some(track) = self.devices.get_mut(&device)
                {
                    track.inactive_due = Some(next);
                    self.timers.at(next, Due::Inactive { device });
                }
            }
        }
    }

    /// Judges one device report against every rule.
    fn observe(
        &mut self,
        rules: &[Rule],
        report: &DeviceReported,
        position: Option<LonLat>,
        place: &dyn Fn() -> Place,
    ) {
        let fingerprint = readings_fingerprint(&report.readings);
        let track = self.devices.entry(report.id.clone()).or_default();
        track.kind = report.kind.or(track.kind);
        track.status = Some(report.status);
        if position.is_some() {
            track.position = position;
        }
        let changed = track.last_change.is_none()
            || (!report.readings.is_empty() && track.readings != fingerprint);
        if changed {
            track.readings = fingerprint;
            track.last_change = Some(report.ts);
        }
        let none_active = track.active == 0;
        let mut inactive_due = None;
        for (i, r) in rules.iter().enumerate() {
            if !applies(r, report.kind) {
                continue;
            }
            let (holds, value) = match &r.spec.when {
                Condition::Above { reading, value } => match reading_value(report, reading) {
                    Some(v) => (v >= *value, Some(v)),
                    None => continue,
                },
                Condition::Below { reading, value } => match reading_value(report, reading) {
                    Some(v) => (v <= *value, Some(v)),
                    None => continue,
                },
                Condition::Outside { reading, low, high } => match reading_value(report, reading) {
                    Some(v) => (v < *low || v > *high, Some(v)),
                    None => continue,
                },
                Condition::Flag { reading } => match reading_value(report, reading) {
                    Some(v) => (v != 0.0, Some(v)),
                    None => continue,
                },
                Condition::Status(s) => (report.status == *s, None),
                // Vehicles only (see `observe_vehicle`).
                Condition::OffRoute | Condition::InRestrictedZone => continue,
                // Any report clears a missed heartbeat.
                Condition::MissedHeartbeat => (false, None),
                Condition::Inactive { hours } => {
                    let at = self.devices[&report.id].last_change.unwrap_or(report.ts)
                        + hours_delta(*hours);
                    inactive_due =
                        Some(inactive_due.map_or(at, |d: DateTime<FixedOffset>| d.min(at)));
                    // A change of readings (or going offline) ends it.
                    if !(changed || report.status != DeviceStatus::Online) {
                        continue;
                    }
                    (false, None)
                }
            };
            if !holds && none_active {
                continue;
            }
            self.set_condition(rules, i as u16, &report.id, holds, value, report.ts, place);
        }
        let Some(due) = inactive_due else {
            return;
        };
        let track = self
            .devices
            .get_mut(&report.id)
            .expect("tracked just above");
        if track.inactive_due.is_none_or(|d| d > due) {
            track.inactive_due = Some(due);
            self.timers.at(
                due,
                Due::Inactive {
                    device: report.id.clone(),
                },
            );
        }
    }

    /// A device missed its heartbeats at `at` (see `ops::heartbeats`).
    fn heartbeat_missed(
        &mut self,
        rules: &[Rule],
        id: &Text,
        at: DateTime<FixedOffset>,
        places: &Places,
    ) {
        let (kind, position) = self
            .devices
            .get(id)
            .map_or((None, None), |t| (t.kind, t.position));
        let place = places.of(position);
        for (i, r) in rules.iter().enumerate() {
            if r.spec.when == Condition::MissedHeartbeat && applies(r, kind) {
                self.set_condition(rules, i as u16, id, true, None, at, &|| place.clone());
            }
        }
    }

    /// Judges one key vehicle report against the vehicle rules.
    fn observe_vehicle(
        &mut self,
        rules: &[Rule],
        v: &VehicleReported,
        check: super::vehicles::VehicleCheck,
        place: &Place,
    ) {
        let id = v.report.id.clone();
        let track = self.devices.entry(id.clone()).or_default();
        track.position = Some(v.report.position);
        for (i, r) in rules.iter().enumerate() {
            if !r.spec.enabled {
                continue;
            }
            let holds = match r.spec.when {
                Condition::OffRoute => match check.off_route {
                    Some(off) => off,
                    None => continue,
                },
                Condition::InRestrictedZone => check.in_restricted_zone,
                _ => continue,
            };
            self.set_condition(rules, i as u16, &id, holds, None, v.ts, &|| place.clone());
        }
    }

    /// Fires every timer due at or before `t`, in due order.
    fn run_timers(&mut self, rules: &[Rule], t: DateTime<FixedOffset>, places: &Places) {
        while let Some((due, what)) = self.timers.pop_due(t) {
            self.on_due(rules, due, what, places);
        }
    }

    fn act(&mut self, action: &OperatorAction, now: DateTime<FixedOffset>) -> Result<(), String> {
        let stamp = Stamp {
            by: action.operator.clone(),
            at: now,
        };
        match &action.action {
            Action::Acknowledge { alert } => {
                let a = self
                    .list
                    .iter_mut()
                    .find(|a| a.id == *alert)
                    .ok_or_else(|| format!("no alert {alert}"))?;
                if a.state == AlertState::Firing {
                    a.state = AlertState::Acknowledged;
                    a.acknowledged = Some(stamp);
                }
            }
            Action::Resolve { alert } => {
                let key = self
                    .active
                    .iter()
                    .find(|(_, v)| self.list[v.alert].id == *alert)
                    .map(|(k, _)| k.clone())
                    .ok_or_else(|| format!("no open alert {alert}"))?;
                self.resolve(&key, now, &action.operator);
            }
            Action::SwitchMode { .. } => return Err("a mode switch is not an alert action".into()),
            Action::Silence {
                device,
                rule,
                district,
                minutes,
                why,
            } => {
                if !(minutes.is_finite() && *minutes > 0.0 && *minutes <= 30.0 * 1440.0) {
                    return Err(format!("silence of {minutes} minutes: 0–30 days"));
                }
                self.silences.push(Silence {
                    device: device.clone(),
                    rule: rule.clone(),
                    district: district.clone(),
                    by: action.operator.clone(),
                    why: why.clone(),
                    from: now,
                    until: now + TimeDelta::milliseconds((minutes * 60_000.0) as i64),
                });
            }
        }
        Ok(())
    }

    /// Lets resolved alerts and expired silences of over a day ago go.
    fn prune(&mut self, now: DateTime<FixedOffset>) {
        let old = |a: &Alert| {
            a.state == AlertState::Resolved
                && a.resolved
                    .as_ref()
                    .is_some_and(|r| r.at + RESOLVED_RETENTION < now)
        };
        if self
            .silences
            .iter()
            .any(|s| s.until + RESOLVED_RETENTION < now)
        {
            self.silences
                .retain(|s| s.until + RESOLVED_RETENTION >= now);
        }
        if !self.list.iter().any(old) {
            return;
        }
        let mut remap = Vec::with_capacity(self.list.len());
        let mut kept = 0usize;
        for a in &self.list {
            remap.push(kept);
            if !old(a) {
                kept += 1;
            }
        }
        self.list.retain(|a| !old(a));
        for a in self.active.values_mut() {
            a.alert = remap[a.alert];
        }
    }
}

fn applies(rule: &Rule, kind: Option<DeviceKind>) -> bool {
    rule.spec.enabled && rule.spec.kind.is_none_or(|k| Some(k) == kind)
}

fn hours_delta(hours: f64) -> TimeDelta {
    TimeDelta::milliseconds((hours * 3_600_000.0).round() as i64)
}

fn reading_value(report: &DeviceReported, name: &str) -> Option<f64> {
    report
        .readings
        .iter()
        .find(|r| r.name == name)
        .map(|r| r.value)
}

fn readings_fingerprint(readings: &[Reading]) -> u64 {
    use std::hash::{Hash, Hasher};
    let mut h = std::collections::hash_map::DefaultHasher::new();
    for r in readings {
        r.name.hash(&mut h);
        r.value.to_bits().hash(&mut h);
    }
    h.finish()
}

/// Where an alert is: its position and the district, street office and grid that
/// contain it.
#[derive(Debug, Clone, Default)]
pub struct Place {
    pub position: Option<LonLat>,
    pub district: Option<String>,
    /// The street office (街道).
    pub street: Option<String>,
    pub grid: Option<String>,
}

/// Looks up the place of a position (district and grid by point-in-polygon).
pub struct Places<'a> {
    pub frame: Option<&'a crate::geo::LocalFrame>,
    pub areas: &'a crate::spatial::AreaIndex,
}

impl Places<'_> {
    /// The place of a position whose local-frame point is known already.
    pub fn at(&self, position: LonLat, local: crate::geo::LocalPoint) -> Place {
        Place {
            position: Some(position),
            district: self.areas.districts.name_at(local).map(str::to_string),
            street: self.areas.streets.name_at(local).map(str::to_string),
            grid: self.areas.grids.id_at(local).map(str::to_string),
        }
    }

    /// The place of a position, projected into the local frame.
    pub fn of(&self, position: Option<LonLat>) -> Place {
        let local = position.and_then(|p| Some((p, self.frame?.to_local(p).ok()?)));
        match local {
            Some((p, l)) => self.at(p, l),
            None => Place {
                position,
                ..default()
            },
        }
    }
}

/// The scene's inhibitions.
#[derive(Resource, Debug, Clone, Default)]
pub struct Inhibitions(pub Vec<crate::scene::ops::InhibitSpec>);

pub(super) fn plugin(app: &mut App) {
    app.init_resource::<Alerts>()
        .init_resource::<AlertRules>()
        .init_resource::<Inhibitions>()
        .init_resource::<AllowedOperators>()
        .add_message::<OperatorAction>()
        .add_systems(
            Update,
            (prune, evaluate, operator_actions, inhibit)
                .chain()
                // Rules lies in TwinSet::Ops (ops::plugin).
                .in_set(super::OpsSet::Rules),
        );
}

/// What the rules see this frame, in time order.
enum Seen<'a> {
    Device(&'a DeviceReported),
    Mode(&'a ModeRequested),
    Vehicle(&'a VehicleReported),
    Missed(&'a super::heartbeats::HeartbeatMissed),
}

impl Seen<'_> {
    fn ts(&self) -> DateTime<FixedOffset> {
        match self {
            Seen::Device(r) => r.ts,
            Seen::Mode(m) => m.ts,
            Seen::Vehicle(v) => v.ts,
            Seen::Missed(m) => m.at,
        }
    }
}

/// Device reports, mode switches and vehicle reports in time order; before each,
/// the timers due by its time, so every rule sees the state of its moment.
fn evaluate(
    mut reports: MessageReader<DeviceReported>,
    mut modes: MessageReader<ModeRequested>,
    mut vehicle_reports: MessageReader<VehicleReported>,
    mut missed: MessageReader<super::heartbeats::HeartbeatMissed>,
    positions: Query<(&GeoPosition, &crate::feeds::ingest::MarkerAt)>,
    rules: Res<AlertRules>,
    vehicle_rules: Res<super::vehicles::VehicleRules>,
    mut vehicles: ResMut<super::vehicles::Vehicles>,
    mut state: ResMut<OperatingState>,
    clock: Res<TwinClock>,
    frame: Option<NonSend<crate::geo::SceneFrame>>,
    areas: Res<crate::spatial::AreaIndex>,
    mut alerts: ResMut<Alerts>,
) {
    let places = Places {
        frame: frame.as_deref().map(|f| &f.0),
        areas: &areas,
    };
    alerts.newly_fired.clear();
    let mut seen: Vec<Seen> = reports.read().map(Seen::Device).collect();
    seen.extend(modes.read().map(Seen::Mode));
    seen.extend(vehicle_reports.read().map(Seen::Vehicle));
    seen.extend(missed.read().map(Seen::Missed));
    // Stable: reports of one time keep the order they were applied in.
    if !seen.is_sorted_by_key(Seen::ts) {
        seen.sort_by_key(Seen::ts);
    }
    for s in seen {
        let in_force = rules.in_mode(state.mode);
        alerts.run_timers(in_force, s.ts(), &places);
        match s {
            Seen::Device(report) => {
                let at = positions.get(report.entity).ok();
                // Placed (districts, grids) only when an alert is raised, from the
                // marker's place in the local frame: no projection per report.
                let place = || match at {
                    Some((geo, marker)) => {
                        places.at(geo.0, crate::geo::LocalPoint::from_world(marker.0))
                    }
                    None => Place::default(),
                };
                alerts.observe(in_force, report, at.map(|(g, _)| g.0), &place);
            }
            Seen::Missed(m) => alerts.heartbeat_missed(in_force, &m.id, m.at, &places),
            Seen::Mode(m) => {
                let by = format!("{} ({})", m.change.by, m.source);
                state.switch(m.change.mode, m.ts, &by, m.change.reason.clone());
            }
            Seen::Vehicle(v) => {
                let Some(frame) = places.frame else { continue };
                let check = vehicle_rules.check(&v.report, v.ts, frame);
                let place = places.of(Some(v.report.position));
                alerts.observe_vehicle(in_force, v, check, &place);
                vehicles
                    .0
                    .insert(v.report.id.to_string(), (v.ts, v.report.clone()));
            }
        }
    }
    let in_force = rules.in_mode(state.mode);
    alerts.run_timers(in_force, clock.now(), &places);
}

/// Operators the scene accepts actions from on feeds.
#[derive(Resource, Debug, Clone, Default)]
pub struct AllowedOperators(pub Vec<String>);

/// The UI's actions (at the twin's now), then those that came on feeds (at their own
/// time, only from the scene's operators), each kept with who and when.
fn operator_actions(
    mut actions: MessageReader<OperatorAction>,
    mut from_feeds: MessageReader<crate::feeds::ingest::OperatorRequested>,
    allowed: Res<AllowedOperators>,
    clock: Res<TwinClock>,
    mut state: ResMut<OperatingState>,
    mut alerts: ResMut<Alerts>,
) {
    let now = clock.now();
    let feed_actions = from_feeds.read().filter_map(|r| {
        if !allowed.0.contains(&r.message.operator) {
            warn!(
                "{}: an action by '{}', who is not among the scene's operators: refused",
                r.source, r.message.operator
            );
            alerts.refused_actions += 1;
            return None;
        }
        Some((
            OperatorAction {
                operator: r.message.operator.clone(),
                action: r.message.command.clone(),
            },
            r.ts,
        ))
    });
    let all: Vec<(OperatorAction, DateTime<FixedOffset>)> = actions
        .read()
        .map(|a| (a.clone(), now))
        .collect::<Vec<_>>()
        .into_iter()
        .chain(feed_actions.collect::<Vec<_>>())
        .collect();
    for (action, at) in all {
        if let Action::SwitchMode { mode, why } = &action.action {
            state.switch(*mode, at, &action.operator, Some(why.clone()));
            continue;
        }
        match alerts.act(&action, at) {
            Ok(()) => info!("operator {}: {:?}", action.operator, action.action),
            Err(why) => warn!(
                "operator {}: {:?} refused: {why}",
                action.operator, action.action
            ),
        }
    }
}

/// Marks the open alerts that are muted: missed heartbeats of devices whose feed is
/// down, and the targets of an inhibition while its source alert fires nearby.
fn inhibit(
    inhibitions: Res<Inhibitions>,
    stats: Res<crate::feeds::ingest::FeedStats>,
    entities: Res<crate::feeds::ingest::FeedEntities>,
    mut alerts: ResMut<Alerts>,
) {
    use crate::scene::ops::InhibitScope;
    let down = |s: &crate::feeds::ingest::SourceStats| {
        matches!(
            s.state,
            crate::feeds::SourceState::Reconnecting(_) | crate::feeds::SourceState::Failed(_)
        )
    };
    // Nothing can be muted, and nothing is: no need to look at every alert.
    if inhibitions.0.is_empty() && !stats.sources.iter().any(down) && !alerts.any_inhibited {
        return;
    }
    let alerts = alerts.bypass_change_detection();
    let sources: Vec<(&str, &str, Option<&str>, Option<&str>)> = alerts
        .list
        .iter()
        .filter(|_| !inhibitions.0.is_empty())
        .filter(|a| a.state == AlertState::Firing || a.state == AlertState::Acknowledged)
        .map(|a| {
            (
                a.rule.as_str(),
                a.id.as_str(),
                a.district.as_deref(),
                a.grid.as_deref(),
            )
        })
        .collect();
    let mut muted: Vec<(usize, Option<String>)> = Vec::new();
    for (i, a) in alerts.list.iter().enumerate() {
        if !a.is_open() && a.state != AlertState::Pending {
            continue;
        }
        let feed_down = (a.rule == "missed-heartbeat")
            .then(|| entities.source_of(&a.device))
            .flatten()
            .and_then(|s| stats.sources.get(s))
            .filter(|s| {
                matches!(
                    s.state,
                    crate::feeds::SourceState::Reconnecting(_)
                        | crate::feeds::SourceState::Failed(_)
                )
            })
            .map(|s| format!("feed down: {}", crate::feeds::redact(&s.label)));
        let by_alert = || {
            inhibitions.0.iter().find_map(|inh| {
                if !inh.target_rules.contains(&a.rule) {
                    return None;
                }
                sources
                    .iter()
                    .find(|(rule, id, district, grid)| {
                        *rule == inh.source_rule
                            && *id != a.id
                            && match inh.same {
                                InhibitScope::City => true,
                                InhibitScope::District => {
                                    district.is_some() && *district == a.district.as_deref()
                                }
                                InhibitScope::Grid => grid.is_some() && *grid == a.grid.as_deref(),
                            }
                    })
                    .map(|(_, id, _, _)| id.to_string())
            })
        };
        let why = feed_down.or_else(by_alert);
        if why != a.inhibited_by {
            muted.push((i, why));
        }
    }
    for (i, why) in muted {
        alerts.list[i].inhibited_by = why;
    }
    alerts.any_inhibited = alerts.list.iter().any(|a| a.inhibited_by.is_some());
}

/// Once a twin minute: what is kept for a day need not be looked at every frame.
fn prune(
    clock: Res<TwinClock>,
    mut last: Local<Option<i64>>,
    mut alerts: ResMut<Alerts>,
    mut retired: MessageReader<crate::feeds::ingest::DeviceRetired>,
) {
    let now = clock.now();
    for r in retired.read() {
        alerts.retire_device(&r.id, now);
    }
    let minute = now.timestamp().div_euclid(60);
    if *last == Some(minute) {
        return;
    }
    *last = Some(minute);
    alerts.bypass_change_detection().prune(now);
}
