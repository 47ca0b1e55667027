//! Retirement: a device or camera that is offline and has been silent for the
//! scene's `operations.retire_after_h` (a week by default) leaves memory — its entity
//! is despawned, it is forgotten by id, the counts drop it, its open alerts resolve —
//! so a wall that runs for months while the city replaces its sensors stays flat. A
//! retired device that reports again comes back as new.

use super::clock::TwinClock;
use crate::TwinSet;
use crate::feeds::ingest::{DeviceRetired, FeedEntities, IotDevice, VideoCamera};
use bevy::prelude::*;
use chrono::TimeDelta;

/// Default retirement: a week offline and silent.
pub const DEFAULT_RETIRE_AFTER: TimeDelta = TimeDelta::hours(168);

/// How long a device may stay offline and silent before it is retired.
#[derive(Resource, Debug, Clone, Copy)]
pub struct RetirePolicy(pub TimeDelta);

impl Default for RetirePolicy {
    fn default() -> Self {
        Self(DEFAULT_RETIRE_AFTER)
    }
}

pub(super) fn plugin(app: &mut App) {
    app.init_resource::<RetirePolicy>().add_systems(
        Update,
        retire
            .after(super::clock::tick)
            .before(super::OpsSet::Rules)
            .in_set(TwinSet::Ops),
    );
}

/// Once a twin minute.
fn retire(
    mut commands: Commands,
    clock: Res<TwinClock>,
    policy: Res<RetirePolicy>,
    mut last: Local<Option<i64>>,
    mut entities: ResMut<FeedEntities>,
    kinds: Query<(Option<&IotDevice>, Has<VideoCamera>)>,
    mut retired: MessageWriter<DeviceRetired>,
) {
    let now = clock.now();
    let minute = now.timestamp().div_euclid(60);
    if *last == Some(minute) {
        return;
    }
    *last = Some(minute);
    let gone = entities
        .bypass_change_detection()
        .retire_silent(now - policy.0);
    if gone.is_empty() {
        return;
    }
    entities.set_changed();
    info!(
        "{} devices offline for over {} h retired",
        gone.len(),
        policy.0.num_hours()
    );
    for (id, entity, status) in gone {
        let kind = super::entity_kind(&kinds, entity);
        retired.write(DeviceRetired {
            entity,
            id,
            status,
            kind,
        });
        commands.entity(entity).despawn();
    }
}
