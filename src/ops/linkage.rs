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
use crate::spatial::cameras::CameraIndex;
use bevy::prelude::*;

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
    let cameras_at = |p: [f64; 2]| -> Vec<Text> {
        index
            .linked(p, defaults.0.cameras, defaults.0.radius_m)
            .into_iter()
            .filter_map(|(e, _)| ids.get(e).ok().map(|id| id.0.clone()))
            .collect()
    };
    // Cameras that went offline (or faulty) this frame.
    let lost: Vec<Text> = changes
        .read()
        .filter(|c| c.from == Some(DeviceStatus::Online) && c.to != DeviceStatus::Online)
        .filter(|c| index.get(c.entity).is_some())
        .map(|c| c.id.clone())
        .collect();

    let alerts = alerts.as_mut();
    let fired = std::mem::take(&mut alerts.newly_fired);
    for &i in &fired {
        let Some(a) = alerts.list.get_mut(i) else {
            continue;
        };
        if a.severity == Severity::Critical
            && let Some(p) = a.position.and_then(local)
        {
            a.cameras = cameras_at(p);
        }
    }
    alerts.newly_fired = fired;

    let book = book.as_mut();
    for id in &book.newly_reported {
        let Some(o) = book.orders.get_mut(id) else {
            continue;
        };
        let Some(p) = o.position.and_then(local) else {
            continue;
        };
        o.cameras = cameras_at(p);
        // The alerts that probably caused it: near, and started shortly before.
        o.alerts = alerts
            .list
            .iter()
            .filter(|a| a.since <= o.reported_at && o.reported_at - a.since <= ALERT_BEFORE)
            .filter(|a| {
                a.position
                    .and_then(local)
                    .is_some_and(|q| (q[0] - p[0]).hypot(q[1] - p[1]) <= ALERT_NEAR_M)
            })
            .map(|a| a.id.clone())
            .collect();
    }

    if lost.is_empty() {
        return;
    }
    let hit = |cams: &[Text]| cams.iter().any(|c| lost.contains(c));
    for a in alerts
        .list
        .iter_mut()
        .filter(|a| a.is_open() && hit(&a.cameras))
    {
        if let Some(p) = a.position.and_then(local) {
            a.cameras = cameras_at(p);
        }
    }
    for o in book
        .orders
        .values_mut()
        .filter(|o| o.is_open() && hit(&o.cameras))
    {
        if let Some(p) = o.position.and_then(local) {
            o.cameras = cameras_at(p);
        }
    }
}
