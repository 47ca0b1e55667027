//! Video linkage: every firing critical alert and every new work order gets the
//! nearest online cameras that can see its place (then the nearest online ones), and
//! is linked again when one of its cameras stops being online.

use super::alerts::Alerts;
use super::orders::OrderBook;
use crate::TwinSet;
use crate::feeds::ingest::{DeviceStatusChanged, FeedId};
use crate::feeds::schema::{DeviceStatus, Text};
use crate::geo::{LonLat, SceneFrame};
use crate::scene::ops::Severity;
use crate::spatial::CameraDefaults;
use crate::spatial::cameras::{CameraIndex, OnlineAt};
use bevy::prelude::*;
use chrono::{DateTime, FixedOffset};

/// Orders are linked to alerts at most this far away…
const ALERT_NEAR_M: f64 = 100.0;
/// More than [`ALERT_NEAR_M`] in latitude or longitude anywhere up to 60° north.
const NEAR_DEG: f64 = 0.002;
/// …that started at most this long before the order.
const ALERT_BEFORE: chrono::TimeDelta = chrono::TimeDelta::minutes(30);

pub(super) fn plugin(app: &mut App) {
    app.add_systems(
        Update,
        link.after(super::OpsSet::Rules).in_set(TwinSet::Ops),
    );
}

/// What linkage handles, in twin-time order within a frame.
enum Event {
    /// A critical alert fired (index into the alert list).
    Fired(usize),
    /// A work order was first reported.
    Reported(String),
    /// A camera stopped being online.
    Lost(Text),
}

/// Links in twin-time order: each incident gets the cameras online at its own time
/// and each camera loss relinks what was open at the loss, so the links are the same
/// however many messages one frame holds (a fast replay, a slow machine).
fn link(
    mut changes: MessageReader<DeviceStatusChanged>,
    index: Res<CameraIndex>,
    defaults: Res<CameraDefaults>,
    ids: Query<&FeedId>,
    frame: Option<NonSend<SceneFrame>>,
    mut alerts: ResMut<Alerts>,
    mut book: ResMut<OrderBook>,
) {
    let Some(frame) = frame else { return };
    let local = |p: LonLat| frame.0.to_local(p).ok().map(|l| [l.east_m, l.north_m]);
    // Cameras that changed status this frame, with their changes in order: the index
    // holds their state at the end of the frame.
    let mut camera_changes: Vec<(
        DateTime<FixedOffset>,
        Entity,
        Option<DeviceStatus>,
        DeviceStatus,
    )> = Vec::new();
    let mut events: Vec<(DateTime<FixedOffset>, Event)> = Vec::new();
    for c in changes.read().filter(|c| index.get(c.entity).is_some()) {
        camera_changes.push((c.ts, c.entity, c.from, c.to));
        if c.from == Some(DeviceStatus::Online) && c.to != DeviceStatus::Online {
            events.push((c.ts, Event::Lost(c.id.clone())));
        }
    }
    camera_changes.sort_by_key(|c| c.0);
    let mut rewind = Rewind::new(&camera_changes);
    let cameras_at = |p: [f64; 2], at: &OnlineAt| -> Vec<Text> {
        index
            .linked_at(p, defaults.0.cameras, defaults.0.radius_m, at)
            .into_iter()
            .filter_map(|(e, _)| ids.get(e).ok().map(|id| id.0.clone()))
            .collect()
    };

    let alerts = alerts.as_mut();
    let book = book.as_mut();
    for &i in &alerts.newly_fired {
        if let Some(a) = alerts.list.get(i)
            && a.severity == Severity::Critical
            && let Some(at) = a.fired_at
        {
            events.push((at, Event::Fired(i)));
        }
    }
    for id in &book.newly_reported {
        if let Some(o) = book.orders.get(id) {
            events.push((o.reported_at, Event::Reported(id.clone())));
        }
    }
    // Stable: a frame's events of one time keep the order they were raised in.
    events.sort_by_key(|e| e.0);
    // Which incidents show each camera (made at the frame's first loss of a camera,
    // kept up as incidents are linked): a loss relinks those, without a walk over all.
    let mut shown: Option<Shown> = None;
    for (t, event) in events {
        let online = rewind.to(t);
        let cameras_at = |p: [f64; 2], _t: DateTime<FixedOffset>| cameras_at(p, online);
        match event {
            Event::Fired(i) => {
                let a = &mut alerts.list[i];
                if let Some(p) = a.position.and_then(local) {
                    a.cameras = cameras_at(p, t);
                    if let Some(shown) = &mut shown {
                        shown.alert(i, &a.cameras);
                    }
                }
            }
            Event::Reported(id) => {
                let Some(o) = book.orders.get_mut(&id) else {
                    continue;
                };
                let Some(p) = o.position.and_then(local) else {
                    continue;
                };
                o.cameras = cameras_at(p, t);
                if let Some(shown) = &mut shown {
                    shown.order(&id, &o.cameras);
                }
                // The alerts that probably caused it: near, and started shortly before.
                let at = o.position;
                o.alerts = alerts
                    .list
                    .iter()
                    .filter(|a| a.since <= t && t - a.since <= ALERT_BEFORE)
                    // Far in degrees is far (projected only when it may be near).
                    .filter(|a| {
                        a.position.zip(at).is_some_and(|(q, o)| {
                            (q.lat - o.lat).abs() < NEAR_DEG && (q.lon - o.lon).abs() < NEAR_DEG
                        })
                    })
                    .filter(|a| {
                        a.position
                            .and_then(local)
                            .is_some_and(|q| (q[0] - p[0]).hypot(q[1] - p[1]) <= ALERT_NEAR_M)
                    })
                    .map(|a| a.id.clone())
                    .collect();
            }
            Event::Lost(camera) => {
                let shown = shown.get_or_insert_with(|| Shown::build(alerts, book));
                // Incidents open at the loss that show this camera.
                for i in shown.alerts_of(&camera) {
                    let a = &mut alerts.list[i];
                    let open = a.fired_at.is_some_and(|f| f <= t)
                        && a.resolved.as_ref().is_none_or(|r| r.at > t);
                    if open
                        && a.cameras.contains(&camera)
                        && let Some(p) = a.position.and_then(local)
                    {
                        a.cameras = cameras_at(p, t);
                        shown.alert(i, &a.cameras);
                    }
                }
                for id in shown.orders_of(&camera) {
                    let Some(o) = book.orders.get_mut(&id) else {
                        continue;
                    };
                    let open = o.reported_at <= t && o.closed_at.is_none_or(|c| c > t);
                    if open
                        && o.cameras.contains(&camera)
                        && let Some(p) = o.position.and_then(local)
                    {
                        o.cameras = cameras_at(p, t);
                        shown.order(&id, &o.cameras);
                    }
                }
            }
        }
    }
}

/// Which alerts (by index) and work orders (by id) show each camera; entries of
/// incidents since relinked elsewhere stay, and are checked against the incident.
#[derive(Default)]
struct Shown {
    alerts: bevy::platform::collections::HashMap<Text, Vec<usize>>,
    orders: bevy::platform::collections::HashMap<Text, Vec<String>>,
}

impl Shown {
    fn build(alerts: &Alerts, book: &OrderBook) -> Self {
        let mut shown = Self::default();
        for (i, a) in alerts.list.iter().enumerate() {
            shown.alert(i, &a.cameras);
        }
        for (id, o) in &book.orders {
            shown.order(id, &o.cameras);
        }
        shown
    }

    fn alert(&mut self, i: usize, cameras: &[Text]) {
        for c in cameras {
            self.alerts.entry(c.clone()).or_default().push(i);
        }
    }

    fn order(&mut self, id: &str, cameras: &[Text]) {
        for c in cameras {
            self.orders
                .entry(c.clone())
                .or_default()
                .push(id.to_string());
        }
    }

    fn alerts_of(&self, camera: &Text) -> Vec<usize> {
        let mut out = self.alerts.get(camera).cloned().unwrap_or_default();
        out.sort_unstable();
        out.dedup();
        out
    }

    fn orders_of(&self, camera: &Text) -> Vec<String> {
        let mut out = self.orders.get(camera).cloned().unwrap_or_default();
        out.sort_unstable();
        out.dedup();
        out
    }
}

/// The cameras' online states at a time of the frame that moves forward as the events
/// are taken in time order: a camera that changed after that time has the state
/// before its first change after it (the index holds the frame's end).
struct Rewind {
    /// (time, camera, online before the change), in time order.
    changes: Vec<(DateTime<FixedOffset>, Entity, bool)>,
    /// For each change, the next change of the same camera.
    next_of_same: Vec<Option<usize>>,
    /// The first change after the current time.
    cursor: usize,
    at: OnlineAt,
}

impl Rewind {
    fn new(
        sorted: &[(
            DateTime<FixedOffset>,
            Entity,
            Option<DeviceStatus>,
            DeviceStatus,
        )],
    ) -> Self {
        let changes: Vec<_> = sorted
            .iter()
            .map(|(t, e, from, _)| (*t, *e, *from == Some(DeviceStatus::Online)))
            .collect();
        let mut next_of_same = vec![None; changes.len()];
        let mut last: bevy::platform::collections::HashMap<Entity, usize> = default();
        let mut at = OnlineAt::default();
        for (i, (_, e, was_online)) in changes.iter().enumerate() {
            match last.insert(*e, i) {
                Some(prev) => next_of_same[prev] = Some(i),
                None => {
                    at.0.insert(*e, *was_online);
                }
            }
        }
        Self {
            changes,
            next_of_same,
            cursor: 0,
            at,
        }
    }

    /// The states at `t` (never earlier than the last time asked for).
    fn to(&mut self, t: DateTime<FixedOffset>) -> &OnlineAt {
        while let Some(&(ts, e, _)) = self.changes.get(self.cursor)
            && ts <= t
        {
            match self.next_of_same[self.cursor] {
                Some(j) => {
                    self.at.0.insert(e, self.changes[j].2);
                }
                None => {
                    self.at.0.remove(&e);
                }
            }
            self.cursor += 1;
        }
        &self.at
    }
}
