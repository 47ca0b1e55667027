//! Heartbeats: a device that promised to report every `heartbeat_s` and has been
//! silent for three of them goes offline at that exact twin time, with the usual
//! status-change message, and [`HeartbeatMissed`] for the `missed-heartbeat` rule.
//! The watch marks a device that stays silent; a silence that ends in the same frame
//! as it began (a replay brings minutes a frame) is marked by ingest from the report
//! that ends it, at the same time, so the state is the same however the messages fell
//! into frames.

use super::clock::TwinClock;
use super::timers::Timers;
use crate::TwinSet;
pub use crate::feeds::ingest::HeartbeatMissed;
use crate::feeds::ingest::{
    DeviceReported, DeviceStatusChanged, FeedEntities, MISSED_HEARTBEATS, Status,
    heartbeat_window as window,
};
use crate::feeds::schema::{DeviceStatus, Text};
use bevy::platform::collections::HashSet;
use bevy::prelude::*;

/// One expiry check pending per device that promised a heartbeat. A checkpoint keeps
/// which devices are watched, in order; their checks are made again from their last
/// reports when it is restored ([`HeartbeatWatch::restored`]), so the checkpoint is the
/// same however the play that took it fell into frames.
#[derive(Resource, Debug, Default, Clone, serde::Serialize, serde::Deserialize)]
pub struct HeartbeatWatch {
    #[serde(skip)]
    timers: Timers<Text>,
    #[serde(with = "sorted")]
    watched: HashSet<Text>,
}

impl HeartbeatWatch {
    /// The watch of a checkpoint with each device's check due when its window since
    /// its last report ends (a check made earlier would only be put off to then).
    pub fn restored(&self, entities: &FeedEntities) -> Self {
        let mut ids: Vec<&Text> = self.watched.iter().collect();
        ids.sort_unstable();
        let mut out = Self::default();
        for id in ids {
            if let Some((last, heartbeat_s)) = entities.last_report(id) {
                out.timers.at(last + window(heartbeat_s), id.clone());
                out.watched.insert(id.clone());
            }
        }
        out
    }
}

/// A set as a list in order: the same set is written the same.
mod sorted {
    use super::{HashSet, Text};
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(set: &HashSet<Text>, s: S) -> Result<S::Ok, S::Error> {
        let mut ids: Vec<&Text> = set.iter().collect();
        ids.sort_unstable();
        s.collect_seq(ids)
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<HashSet<Text>, D::Error> {
        Vec::<Text>::deserialize(d).map(|v| v.into_iter().collect())
    }
}

pub(super) fn plugin(app: &mut App) {
    app.init_resource::<HeartbeatWatch>()
        .add_message::<HeartbeatMissed>()
        .add_systems(
            Update,
            // Before the rules, which take the misses in time order with the reports.
            expire_silent_devices
                .after(super::clock::tick)
                .before(super::OpsSet::Rules)
                .in_set(TwinSet::Ops),
        );
}

pub(super) fn expire_silent_devices(
    mut reports: MessageReader<DeviceReported>,
    clock: Res<TwinClock>,
    mut watch: ResMut<HeartbeatWatch>,
    mut entities: ResMut<FeedEntities>,
    mut statuses: Query<&mut Status>,
    mut changes: MessageWriter<DeviceStatusChanged>,
    mut missed: MessageWriter<HeartbeatMissed>,
) {
    let watch = watch.as_mut();
    for r in reports.read() {
        if r.heartbeat_s > 0 && watch.watched.insert(r.id.clone()) {
            watch.timers.at(r.ts + window(r.heartbeat_s), r.id.clone());
        }
    }
    let now = clock.now();
    let mut expired = 0u32;
    while let Some((due, id)) = watch.timers.pop_due(now) {
        let Some((last, heartbeat_s)) = entities.last_report(&id) else {
            watch.watched.remove(&id);
            continue;
        };
        let expires = last + window(heartbeat_s.max(1));
        if heartbeat_s > 0 && expires > due {
            // Reported since: check again when the new window ends.
            watch.timers.at(expires, id);
            continue;
        }
        watch.watched.remove(&id);
        if heartbeat_s == 0 {
            continue;
        }
        // Only written when a device does expire: the panels need not redraw otherwise.
        // One that reported itself offline misses nothing (as ingest judges a silence).
        let Some((entity, from)) = entities.mark_offline(&id) else {
            continue;
        };
        missed.write(HeartbeatMissed {
            id: id.clone(),
            at: due,
        });
        if let Ok(mut status) = statuses.get_mut(entity) {
            status.0 = DeviceStatus::Offline;
        }
        changes.write(DeviceStatusChanged {
            entity,
            id,
            from: Some(from),
            to: DeviceStatus::Offline,
            ts: due,
        });
        expired += 1;
    }
    if expired > 0 {
        info!("{expired} devices missed {MISSED_HEARTBEATS} heartbeats: marked offline");
    }
}
