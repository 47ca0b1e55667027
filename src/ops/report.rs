//! `citytwin report`: runs the twin headless until a twin time and returns the
//! operations state at that moment (alerts, work orders with their deadlines, KPIs).
//! The same feeds give the same report at any replay speed.

use super::alerts::{Alert, Alerts, Silence};
use super::clock::TwinClock;
use super::kpis::Kpis;
use super::orders::{OrderBook, OrderSla};
use super::{DeviceCounts, OrderCounts};
use crate::city::{CityStatus, LoadPhase};
use crate::feeds::SourceState;
use crate::feeds::ingest::{FeedStats, IngestConfig, Projects};
use crate::{TwinOptions, headless_app};
use bevy::prelude::*;
use chrono::{DateTime, FixedOffset};
use serde::Serialize;
use std::collections::BTreeMap;
use std::time::{Duration, Instant};

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct OpsReport {
    /// The twin time the state is taken at.
    pub at: DateTime<FixedOffset>,
    pub devices: DeviceTotals,
    pub mode: crate::feeds::schema::OperatingMode,
    pub mode_history: Vec<super::modes::ModeSwitch>,
    pub kpis: Kpis,
    /// Every alert of the last day, in the order they started.
    pub alerts: Vec<Alert>,
    pub silences: Vec<Silence>,
    /// Work orders by id.
    pub orders: Vec<OrderSla>,
    pub feeds: Vec<FeedTotals>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct DeviceTotals {
    pub online: u64,
    pub alarm: u64,
    pub fault: u64,
    pub offline: u64,
    pub orders_open: u64,
    pub orders_closed: u64,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct FeedTotals {
    pub label: String,
    /// Applied or coalesced into a later report of the same device.
    pub accepted: u64,
    pub rejected: BTreeMap<&'static str, u64>,
}

/// Takes the operations state of a running app at its twin clock's time.
pub fn snapshot(world: &World) -> OpsReport {
    let at = world.resource::<TwinClock>().now();
    let kpis = Kpis::compute(
        at,
        world.resource::<Alerts>(),
        world.resource::<OrderBook>(),
        world.resource::<Projects>(),
        world.resource::<super::OnlineByKind>(),
    );
    let counts = world.resource::<DeviceCounts>().clone();
    let orders = world.resource::<OrderCounts>().clone();
    let alerts = world.resource::<Alerts>();
    let book = world.resource::<OrderBook>();
    let state = world.resource::<super::modes::OperatingState>();
    OpsReport {
        at,
        mode: state.mode,
        mode_history: state.history.clone(),
        devices: DeviceTotals {
            online: counts.online,
            alarm: counts.alarm,
            fault: counts.fault,
            offline: counts.offline,
            orders_open: orders.open,
            orders_closed: orders.closed,
        },
        kpis,
        alerts: alerts.list.clone(),
        silences: alerts.silences.clone(),
        orders: book.orders.values().cloned().collect(),
        feeds: world
            .resource::<FeedStats>()
            .sources
            .iter()
            .map(|s| FeedTotals {
                label: crate::feeds::redact(&s.label),
                accepted: s.applied + s.coalesced,
                rejected: s
                    .rejected
                    .iter()
                    .filter(|(k, _)| **k != "after until")
                    .map(|(k, v)| (*k, *v))
                    .collect(),
            })
            .collect(),
    }
}

/// Runs the twin headless on `options` until `until` (twin time), at most `limit` of
/// real time, and reports the state then.
pub fn run(
    options: &TwinOptions,
    until: DateTime<FixedOffset>,
    limit: Duration,
) -> Result<OpsReport, String> {
    run_app(&mut headless_app(options), options, until, limit)
}

/// Updates a headless app, its ingest paused, until its city has loaded (alerts are
/// placed in its districts and grids), at most `limit` of real time.
pub fn load_city(app: &mut App, limit: Duration) -> Result<(), String> {
    let started = Instant::now();
    while app.world().resource::<CityStatus>().phase != LoadPhase::Ready {
        if app.world().resource::<CityStatus>().phase == LoadPhase::Failed {
            let why = app.world().resource::<CityStatus>().problems.join("; ");
            return Err(why);
        }
        app.update();
        if started.elapsed() > limit {
            return Err(format!("the city did not load within {limit:?}"));
        }
        std::thread::sleep(Duration::from_millis(1));
    }
    app.update();
    Ok(())
}

/// [`run`] on an app made from `options` and not yet updated (the caller may read
/// more of its state after).
pub fn run_app(
    app: &mut App,
    options: &TwinOptions,
    until: DateTime<FixedOffset>,
    limit: Duration,
) -> Result<OpsReport, String> {
    {
        let mut config = app.world_mut().resource_mut::<IngestConfig>();
        config.until = Some(until);
        config.paused = true;
    }
    let started = Instant::now();
    let over = |what: &str| (started.elapsed() > limit).then(|| format!("{what} within {limit:?}"));
    load_city(app, limit)?;
    app.world_mut().resource_mut::<IngestConfig>().paused = false;
    let sources = options.feeds.len();
    loop {
        app.update();
        let world = app.world();
        let stats = world.resource::<FeedStats>();
        let done = stats.sources.len() >= sources
            && stats.sources.iter().all(|s| {
                matches!(s.state, SourceState::Finished | SourceState::Failed(_))
                    || s.rejected.contains_key("after until")
            });
        let backlog_empty = world.resource::<crate::feeds::ingest::Backlog>().is_empty();
        let reached = world.resource::<TwinClock>().now() >= until;
        if (done && backlog_empty) || (reached && sources == 0) {
            break;
        }
        if let Some(e) = over("the feeds did not reach the time") {
            return Err(e);
        }
        std::thread::sleep(Duration::from_micros(200));
    }
    // Drain what the channel still holds, then let every timer up to `until` run.
    for _ in 0..3 {
        app.update();
    }
    app.world_mut().resource_mut::<TwinClock>().step_to(until);
    app.update();
    Ok(snapshot(app.world_mut()))
}
