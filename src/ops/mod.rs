//! Operations: what the city does with the feeds. The twin clock, alert rules, work
//! order deadlines, video linkage and the KPIs, as plain ECS systems that run the
//! same on the wall and in headless tests. Knows nothing of egui; panels read these
//! resources and ask for changes with [`alerts::OperatorAction`] messages.

pub mod alerts;
pub mod clock;
pub mod heartbeats;
pub mod history;
pub mod journal;
pub mod kpis;
pub mod linkage;
pub mod modes;
pub mod orders;
pub mod report;
pub mod retire;
pub mod state;
mod timers;
pub mod vehicles;

pub use clock::{ClockMode, TwinClock, beijing};

use crate::TwinSet;
use crate::feeds::ingest::{DeviceStatusChanged, IotDevice, VideoCamera, WorkOrderChanged};
use crate::feeds::schema::{DeviceStatus, OrderStatus};
use crate::scene::ops::OperationsSpec;
use bevy::prelude::*;

/// Within [`TwinSet::Ops`]: the clock ticks, then the rules judge what arrived;
/// linkage and KPIs follow.
#[derive(SystemSet, Debug, Clone, PartialEq, Eq, Hash)]
pub enum OpsSet {
    Rules,
}

/// Installs the scene's operations settings (rules, deadlines, linkage).
pub fn configure(app: &mut App, spec: &OperationsSpec) {
    app.insert_resource(alerts::AlertRules::new(spec))
        .insert_resource(modes::OperatingState::new(spec))
        .insert_resource(alerts::Inhibitions(spec.inhibit.clone()))
        .insert_resource(alerts::AllowedOperators(spec.operators.clone()))
        .insert_resource(orders::SlaPolicy::new(spec.sla.clone(), &spec.calendar))
        .insert_resource(crate::spatial::CameraDefaults(spec.linkage.clone()))
        .insert_resource(retire::RetirePolicy(
            spec.retire_after_h
                .map_or(retire::DEFAULT_RETIRE_AFTER, |h| {
                    chrono::TimeDelta::milliseconds((h * 3_600_000.0) as i64)
                }),
        ));
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
#[derive(Resource, Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct OrderCounts {
    pub open: u64,
    pub closed: u64,
}

pub(super) fn plugin(app: &mut App) {
    app.configure_sets(Update, OpsSet::Rules.in_set(TwinSet::Ops))
        .init_resource::<DeviceCounts>()
        .init_resource::<OrderCounts>()
        .init_resource::<OnlineByKind>()
        .init_resource::<modes::OperatingState>()
        .init_resource::<vehicles::VehicleRules>()
        .init_resource::<vehicles::Vehicles>()
        .add_plugins((
            clock::plugin,
            heartbeats::plugin,
            alerts::plugin,
            orders::plugin,
            linkage::plugin,
            kpis::plugin,
            history::plugin,
            journal::plugin,
            retire::plugin,
            state::plugin,
        ))
        .add_systems(
            Update,
            // The counts take each status change in the frame it is made (the heartbeats
            // make some), so the history dates every change in its own minute.
            (
                count_devices
                    .after(start_over)
                    .after(heartbeats::expire_silent_devices),
                // A checkpoint's counts first, then the frame's changes after it.
                count_orders.after(state::restore),
            )
                .in_set(TwinSet::Ops),
        )
        .add_systems(
            Update,
            start_over
                .after(clock::tick)
                .before(OpsSet::Rules)
                .in_set(TwinSet::Ops),
        );
}

/// The operations resources that start over with a replay.
#[derive(bevy::ecs::system::SystemParam)]
struct OpsState<'w> {
    alerts: ResMut<'w, alerts::Alerts>,
    book: ResMut<'w, orders::OrderBook>,
    watch: ResMut<'w, heartbeats::HeartbeatWatch>,
    state: ResMut<'w, modes::OperatingState>,
    vehicles: ResMut<'w, vehicles::Vehicles>,
    history: ResMut<'w, history::KpiHistory>,
    devices: ResMut<'w, DeviceCounts>,
    by_kind: ResMut<'w, OnlineByKind>,
    orders: ResMut<'w, OrderCounts>,
}

/// When a replay starts over (a seek or a loop: ingest has retired every device and
/// forgotten every order), the operations state starts over with it: alerts, orders,
/// heartbeats, the mode, vehicles, the counts and the history's counting. The replay
/// then plays up to its target through the same systems.
fn start_over(clock: Res<TwinClock>, mut seen: Local<u64>, mut ops: OpsState) {
    if clock.rewinds == *seen {
        return;
    }
    *seen = clock.rewinds;
    info!("feed time went back (a replay seeks or starts over): operations state starts over");
    *ops.alerts = default();
    *ops.book = default();
    *ops.watch = default();
    ops.state.reset();
    ops.vehicles.0.clear();
    ops.history.restart();
    *ops.devices = default();
    *ops.by_kind = default();
    *ops.orders = default();
}

/// Devices online and in all, per kind (`camera` for cameras), kept from status
/// changes so no KPI has to walk a city's devices.
#[derive(Resource, Debug, Clone, Default, PartialEq)]
pub struct OnlineByKind(pub std::collections::BTreeMap<&'static str, (u64, u64)>);

/// What [`OnlineByKind`] files an entity under: its device kind, `camera`, or
/// `other`.
pub(crate) fn entity_kind(
    kinds: &Query<(Option<&IotDevice>, Has<VideoCamera>)>,
    entity: Entity,
) -> &'static str {
    match kinds.get(entity) {
        Ok((Some(d), _)) => kpis::kind_label(d.kind),
        Ok((None, true)) => "camera",
        _ => "other",
    }
}

fn count_devices(
    mut changes: MessageReader<DeviceStatusChanged>,
    mut retired: MessageReader<crate::feeds::ingest::DeviceRetired>,
    kinds: Query<(Option<&IotDevice>, Has<VideoCamera>)>,
    mut counts: ResMut<DeviceCounts>,
    mut by_kind: ResMut<OnlineByKind>,
    mut levels: ResMut<history::LevelChanges>,
) {
    for r in retired.read() {
        let slot = counts.slot(r.status);
        *slot = slot.saturating_sub(1);
        let Some((online, total)) = by_kind.0.get_mut(r.kind) else {
            // Counted out already (the state started over).
            continue;
        };
        *total = total.saturating_sub(1);
        if r.status == DeviceStatus::Online {
            *online = online.saturating_sub(1);
        }
        if *total == 0 {
            by_kind.0.remove(r.kind);
        }
    }
    for change in changes.read() {
        if let Some(from) = change.from {
            let slot = counts.slot(from);
            *slot = slot.saturating_sub(1);
        }
        *counts.slot(change.to) += 1;
        let kind = entity_kind(&kinds, change.entity);
        let (online, total) = by_kind.0.entry(kind).or_default();
        if change.from.is_none() {
            *total += 1;
        }
        let was = change.from == Some(DeviceStatus::Online);
        let is = change.to == DeviceStatus::Online;
        let level = |level, delta| history::LevelChange {
            at: change.ts,
            level,
            delta,
            district: None,
            grid: None,
        };
        if change.from.is_none() {
            levels.0.push(level(history::Level::Devices, 1));
        }
        if is != was {
            levels.0.push(level(
                history::Level::DevicesOnline,
                if is { 1 } else { -1 },
            ));
        }
        if is && !was {
            *online += 1;
        } else if was && !is {
            *online = online.saturating_sub(1);
        }
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
