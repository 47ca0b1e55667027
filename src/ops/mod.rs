//! Operations state derived from the feeds: the twin clock and the KPIs the wall shows.
//! Knows nothing of egui; panels read these resources.

use crate::TwinSet;
use crate::feeds::ingest::{DeviceStatusChanged, FeedStats, WorkOrderChanged};
use crate::feeds::schema::{DeviceStatus, OrderStatus};
use bevy::prelude::*;
use chrono::{DateTime, FixedOffset, Utc};

/// Beijing time: the operations center's clock (China has no daylight saving).
pub fn beijing() -> FixedOffset {
    FixedOffset::east_opt(8 * 3600).expect("+08:00 is a valid offset")
}

/// The twin's "now": the newest feed timestamp when feeds play, otherwise wall time.
#[derive(Resource, Debug, Clone, Default)]
pub struct TwinClock {
    pub feed_time: Option<DateTime<FixedOffset>>,
}

impl TwinClock {
    pub fn now(&self) -> DateTime<FixedOffset> {
        self.feed_time
            .unwrap_or_else(|| Utc::now().with_timezone(&beijing()))
    }

    /// True when the clock follows a feed (a replay shows recorded time).
    pub fn is_feed_time(&self) -> bool {
        self.feed_time.is_some()
    }
}

/// Devices and cameras by status, kept up to date from status changes.
#[derive(Resource, Debug, Clone, Default, PartialEq, Eq)]
pub struct DeviceCounts {
    pub online: u64,
    pub alarm: u64,
    pub fault: u64,
    pub offline: u64,
}

impl DeviceCounts {
    pub fn total(&self) -> u64 {
        self.online + self.alarm + self.fault + self.offline
    }

    pub fn get(&self, status: DeviceStatus) -> u64 {
        match status {
            DeviceStatus::Online => self.online,
            DeviceStatus::Alarm => self.alarm,
            DeviceStatus::Fault => self.fault,
            DeviceStatus::Offline => self.offline,
        }
    }

    fn slot(&mut self, status: DeviceStatus) -> &mut u64 {
        match status {
            DeviceStatus::Online => &mut self.online,
            DeviceStatus::Alarm => &mut self.alarm,
            DeviceStatus::Fault => &mut self.fault,
            DeviceStatus::Offline => &mut self.offline,
        }
    }
}

/// Work orders not yet closed.
#[derive(Resource, Debug, Clone, Default, PartialEq, Eq)]
pub struct OrderCounts {
    pub open: u64,
    pub closed: u64,
}

pub(super) fn plugin(app: &mut App) {
    app.init_resource::<TwinClock>()
        .init_resource::<DeviceCounts>()
        .init_resource::<OrderCounts>()
        .add_systems(
            Update,
            (advance_clock, count_devices, count_orders).in_set(TwinSet::Ops),
        );
}

fn advance_clock(stats: Res<FeedStats>, mut clock: ResMut<TwinClock>) {
    let latest = stats.latest_ts();
    if latest != clock.feed_time {
        clock.feed_time = latest;
    }
}

fn count_devices(
    mut changes: MessageReader<DeviceStatusChanged>,
    mut counts: ResMut<DeviceCounts>,
) {
    for change in changes.read() {
        if let Some(from) = change.from {
            let slot = counts.slot(from);
            *slot = slot.saturating_sub(1);
        }
        *counts.slot(change.to) += 1;
    }
}

fn count_orders(mut changes: MessageReader<WorkOrderChanged>, mut counts: ResMut<OrderCounts>) {
    for change in changes.read() {
        let was_closed = change.from == Some(OrderStatus::Closed);
        let is_closed = change.to == OrderStatus::Closed;
        match (change.from.is_some(), was_closed, is_closed) {
            (false, _, true) => counts.closed += 1,
            (false, _, false) => counts.open += 1,
            (true, false, true) => {
                counts.open = counts.open.saturating_sub(1);
                counts.closed += 1;
            }
            (true, true, false) => {
                counts.closed = counts.closed.saturating_sub(1);
                counts.open += 1;
            }
            _ => {}
        }
    }
}
