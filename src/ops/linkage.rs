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
    let last_change = camera_changes.last().map(|c| c.0);
    // The cameras online at `t` where that differs from the index: a camera's state at
    // `t` is the one before its first change after `t`.
    let online_at = |t: DateTime<FixedOffset>| -> OnlineAt {
        let mut at = OnlineAt::default();
        if last_change.is_none_or(|last| last <= t) {
            return at;
        }
        for (_, entity, from, _) in camera_changes.iter().rev().take_while(|c| c.0 > t) {
            at.0.insert(*entity, *from == Some(DeviceStatus::Online));
        }
        at
    };
    let cameras_at = |p: [f64; 2], t: DateTime<FixedOffset>| -> Vec<Text> {
        index
            .linked_at(p, defaults.0.cameras, defaults.0.radius_m, &online_at(t))
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
    for (t, event) in events {
        match event {
            Event::Fired(i) => {
                let a = &mut alerts.list[i];
                if let Some(p) = a.position.and_then(local) {
                    a.cameras = cameras_at(p, t);
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
                // The alerts that probably caused it: near, and started shortly before.
                o.alerts = alerts
                    .list
                    .iter()
                    .filter(|a| a.since <= t && t - a.since <= ALERT_BEFORE)
                    .filter(|a| {
                        a.position
                            .and_then(local)
                            .is_some_and(|q| (q[0] - p[0]).hypot(q[1] - p[1]) <= ALERT_NEAR_M)
                    })
                    .map(|a| a.id.clone())
                    .collect();
            }
            Event::Lost(camera) => {
                // Incidents open at the loss that show this camera.
                let open_alert = |a: &super::alerts::Alert| {
                    a.fired_at.is_some_and(|f| f <= t)
                        && a.resolved.as_ref().is_none_or(|r| r.at > t)
                };
                for a in alerts
                    .list
                    .iter_mut()
                    .filter(|a| open_alert(a) && a.cameras.contains(&camera))
                {
                    if let Some(p) = a.position.and_then(local) {
                        a.cameras = cameras_at(p, t);
                    }
                }
                for o in book.orders.values_mut().filter(|o| {
                    o.reported_at <= t
                        && o.closed_at.is_none_or(|c| c > t)
                        && o.cameras.contains(&camera)
                }) {
                    if let Some(p) = o.position.and_then(local) {
                        o.cameras = cameras_at(p, t);
                    }
                }
            }
        }
    }
}
