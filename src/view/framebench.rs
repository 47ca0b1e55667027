//! `citytwin bench frames`: the whole frame in a real window (Xvfb + lavapipe here, a GPU
//! where there is one) once the city and its devices are in, and the draw batches the
//! frame holds.

use crate::city::{CityStatus, LoadPhase};
use crate::feeds::ingest::FeedEntities;
use bevy::prelude::*;
use std::collections::HashSet;
use std::time::{Duration, Instant};

/// Asks the wall to time this many frames, print the figures and exit.
#[derive(Resource, Debug, Clone)]
pub struct FrameBench {
    pub frames: usize,
    /// Also print the figures as one `bench-frames:` line of key=value pairs, for a
    /// parent process comparing runs (`bench frames --compare`).
    pub result_line: bool,
}

#[derive(Default)]
struct Progress {
    /// Markers seen, and since when their number has not changed.
    settled: Option<(usize, Instant)>,
    started: Option<Instant>,
    last: Option<Instant>,
    times: Vec<Duration>,
    /// Main-world CPU time of each timed frame (First → Last: every system of ours and
    /// Bevy's, visibility included; not the render world, which runs alongside).
    cpu: Vec<Duration>,
    /// The egui pass of each timed frame (every panel laid out).
    ui: Vec<Duration>,
    /// Each panel's part of it, frame by frame, in the order the panels are laid out.
    parts: Vec<(&'static str, Vec<Duration>)>,
}

/// When this frame's main schedules began.
#[derive(Resource, Default)]
struct FrameStart(Option<Instant>);

/// Markers still arriving after this long are measured as they are.
const WAIT_FOR_FEEDS: Duration = Duration::from_secs(120);
const STILL_FOR: Duration = Duration::from_secs(3);

pub(super) fn plugin(app: &mut App) {
    app.init_resource::<FrameStart>()
        .add_systems(
            First,
            (|mut start: ResMut<FrameStart>| start.0 = Some(Instant::now()))
                .run_if(resource_exists::<FrameBench>),
        )
        .add_systems(Last, measure.run_if(resource_exists::<FrameBench>))
        .add_systems(
            Update,
            select_an_incident
                .run_if(resource_exists::<SelectAnIncident>)
                .in_set(crate::TwinSet::View),
        );
}

/// `bench ui`: every panel open, so select an incident (the newest open alert, else
/// the most pressing order) once there is one, and keep it selected. The selection is
/// set directly, without the flight a click makes, so the 3D view stays the same as in
/// the run without panels it is compared with.
#[derive(Resource, Debug, Default)]
pub struct SelectAnIncident;

fn select_an_incident(
    alerts: Res<crate::ops::alerts::Alerts>,
    book: Res<crate::ops::orders::OrderBook>,
    mut selection: ResMut<super::Selection>,
) {
    use super::Incident;
    let still = match &selection.incident {
        Some(Incident::Alert(id)) => alerts.get(id).is_some_and(|a| a.is_open()),
        Some(Incident::Order(id)) => book.orders.get(id).is_some_and(|o| o.is_open()),
        Some(Incident::Project(_)) | None => false,
    };
    if still {
        return;
    }
    let alert = alerts
        .list
        .iter()
        .rev()
        .find(|a| a.is_open())
        .map(|a| Incident::Alert(a.id.clone()));
    let order = || {
        book.orders
            .values()
            .filter(|o| o.is_open())
            .min_by_key(|o| o.resolve_deadline)
            .map(|o| Incident::Order(o.id.clone()))
    };
    if let Some(incident) = alert.or_else(order) {
        *selection = super::Selection {
            incident: Some(incident),
            ..default()
        };
    }
}

fn measure(
    bench: Res<FrameBench>,
    start: Res<FrameStart>,
    status: Res<CityStatus>,
    entities: Res<FeedEntities>,
    drawn: Query<(&Mesh3d, &MeshMaterial3d<StandardMaterial>, &ViewVisibility)>,
    ui: Option<Res<crate::ui::UiTiming>>,
    mut p: Local<Progress>,
    mut exit: MessageWriter<AppExit>,
) {
    let now = Instant::now();
    let started = *p.started.get_or_insert(now);
    if status.phase != LoadPhase::Ready || status.models_pending > 0 {
        return;
    }
    if p.last.is_none() {
        let n = entities.len();
        let (seen, since) = *p.settled.get_or_insert((n, now));
        if n != seen {
            p.settled = Some((n, now));
            return;
        }
        if since.elapsed() < STILL_FOR && started.elapsed() < WAIT_FOR_FEEDS {
            return;
        }
        info!(
            "bench frames: {} markers in after {:.1?}; timing {} frames",
            n,
            started.elapsed(),
            bench.frames
        );
        p.last = Some(now);
        return;
    }
    if let Some(last) = p.last.replace(now) {
        p.times.push(now - last);
        if let Some(began) = start.0 {
            p.cpu.push(now - began);
        }
        if let Some(ui) = &ui {
            p.ui.push(ui.last);
            for &(name, took) in &ui.parts {
                match p.parts.iter_mut().find(|(n, _)| *n == name) {
                    Some((_, times)) => times.push(took),
                    None => p.parts.push((name, vec![took])),
                }
            }
        }
    }
    if p.times.len() < bench.frames {
        return;
    }
    let times = sorted(&p.times);
    let ms = |d: Duration| d.as_secs_f64() * 1e3;
    let mean = times.iter().sum::<Duration>() / times.len() as u32;
    let visible: Vec<_> = drawn.iter().filter(|(_, _, v)| v.get()).collect();
    let batches: HashSet<_> = visible
        .iter()
        .map(|(mesh, material, _)| (mesh.0.id(), material.0.id()))
        .collect();
    println!(
        "frames: {} frames after the city and {} markers were in: mean {:.1} ms ({:.1} frames/s), p50 {:.1} ms, p95 {:.1} ms",
        times.len(),
        entities.len(),
        ms(mean),
        1.0 / mean.as_secs_f64(),
        ms(at(&times, 50)),
        ms(at(&times, 95)),
    );
    let cpu = sorted(&p.cpu);
    if !cpu.is_empty() {
        println!(
            "  main-world CPU per frame (all systems, visibility included): p50 {:.1} ms, p95 {:.1} ms",
            ms(at(&cpu, 50)),
            ms(at(&cpu, 95))
        );
    }
    let ui = sorted(&p.ui);
    if !ui.is_empty() {
        println!(
            "  panels (the egui pass: every panel laid out) CPU per frame: p50 {:.2} ms, p95 {:.2} ms",
            ms(at(&ui, 50)),
            ms(at(&ui, 95))
        );
        let parts: Vec<String> = p
            .parts
            .iter()
            .map(|(name, times)| format!("{name} {:.2}", ms(at(&sorted(times), 50))))
            .collect();
        println!(
            "  by panel, this thread's CPU time, p50 in ms: {}",
            parts.join(" · ")
        );
    }
    println!(
        "  visible mesh entities {}, draw batches {} (distinct mesh × material; Bevy draws each batch as one instanced call) + egui",
        visible.len(),
        batches.len()
    );
    if bench.result_line {
        println!(
            "bench-frames: markers={} frame_p50_ms={:.2} cpu_p50_ms={:.2} ui_p50_ms={:.3} batches={}",
            entities.len(),
            ms(at(&times, 50)),
            ms(at(&cpu, 50)),
            ms(at(&ui, 50)),
            batches.len()
        );
    }
    exit.write(AppExit::Success);
}

/// The times in order, for [`at`].
fn sorted(times: &[Duration]) -> Vec<Duration> {
    let mut times = times.to_vec();
    times.sort();
    times
}

/// The `pct`th percentile of `sorted` times; zero when there are none.
fn at(sorted: &[Duration], pct: usize) -> Duration {
    sorted
        .get(sorted.len() * pct / 100)
        .copied()
        .unwrap_or_default()
}
