//! `citytwin bench ingest`: device updates decoded and applied into the ECS, against
//! plain serde decoding of the same bytes, measured in the same run.

pub mod broker;
pub mod mqtt;

use super::schema::FeedMessage;
use super::{FeedChannel, FeedEvent};
use crate::feeds::ingest::FeedStats;
use std::time::{Duration, Instant};

/// The baseline: the same bytes decoded the plain way, with serde derive into std
/// types (`String`, `Vec`), no validation and nothing applied.
#[derive(serde::Deserialize)]
#[allow(dead_code)] // read only to be decoded
struct PlainEnvelope {
    v: u32,
    ts: chrono::DateTime<chrono::FixedOffset>,
    kind: String,
    data: PlainDevice,
}

#[derive(serde::Deserialize)]
#[allow(dead_code)]
struct PlainDevice {
    id: String,
    kind: String,
    status: String,
    #[serde(default)]
    position: Option<PlainPosition>,
    readings: Vec<PlainReading>,
}

#[derive(serde::Deserialize)]
#[allow(dead_code)]
struct PlainPosition {
    lon: f64,
    lat: f64,
}

#[derive(serde::Deserialize)]
#[allow(dead_code)]
struct PlainReading {
    name: String,
    value: f64,
    unit: String,
}

#[derive(Debug, Clone)]
pub struct IngestFigures {
    pub messages: usize,
    pub devices: usize,
    /// The baseline: serde derive into plain std types.
    pub plain_decode: Duration,
    /// Our decode and validation alone.
    pub decode: Duration,
    /// Decode and apply one after the other on one thread.
    pub decode_then_apply: Duration,
    /// As the app runs: decoded on a source thread, applied by the ingest system.
    pub pipeline: Duration,
}

impl IngestFigures {
    pub fn rate(&self, d: Duration) -> f64 {
        self.messages as f64 / d.as_secs_f64()
    }
}

/// Lines for `devices` devices: each announced with a position, then updates.
fn lines(messages: usize, devices: usize) -> Vec<String> {
    let statuses = ["online", "alarm", "fault", "offline"];
    (0..messages)
        .map(|i| {
            let id = i % devices;
            let ts = format!("2026-11-23T08:{:02}:{:02}.{:03}+08:00", (i / 60_000) % 60, (i / 1000) % 60, i % 1000);
            let status = statuses[(i / devices + id) % 4];
            let pos = if i < devices {
                format!(r#","position":{{"lon":{:.6},"lat":{:.6}}}"#, 113.6 + (id % 300) as f64 * 0.0005, 34.7 + (id / 300) as f64 * 0.0005)
            } else {
                String::new()
            };
            format!(
                r#"{{"v":1,"ts":"{ts}","kind":"device","data":{{"id":"dev-{id:06}","kind":"gas_detector","status":"{status}"{pos},"readings":[{{"name":"CH4","value":{}.5,"unit":"%LEL"}}]}}}}"#,
                i % 7
            )
        })
        .collect()
}

/// The headless app with no sources; benchmarks push into its channel.
fn bench_app() -> bevy::app::App {
    let scene = crate::scene::Scene::parse(
        r#"(name: "bench", origin: (lon: 113.65, lat: 34.75))"#,
        std::path::Path::new("bench.ron"),
    )
    .expect("bench scene parses");
    let options = crate::TwinOptions::from_scene(scene).expect("no feeds");
    let mut app = crate::headless_app(&options);
    app.update();
    app
}

/// Decodes a line and sends it as source 0, running frames while the channel is full.
fn push(app: &mut bevy::app::App, tx: &crossbeam_channel::Sender<FeedEvent>, line: &str) {
    let message = FeedMessage::decode(line).expect("bench lines are valid");
    let mut event = FeedEvent::Message { source: 0, message };
    while let Err(crossbeam_channel::TrySendError::Full(back)) = tx.try_send(event) {
        event = back;
        app.update();
    }
}

fn applied(app: &bevy::app::App) -> u64 {
    app.world()
        .resource::<FeedStats>()
        .sources
        .first()
        .map_or(0, |s| s.applied)
}

/// Runs frames until `n` messages have been applied.
fn drain(app: &mut bevy::app::App, n: usize) {
    while applied(app) < n as u64 {
        app.update();
    }
}

/// Best of three runs of `f`, so a cold cache does not flatter a ratio.
fn best_of_three(mut f: impl FnMut()) -> Duration {
    (0..3)
        .map(|_| {
            let t = Instant::now();
            f();
            t.elapsed()
        })
        .min()
        .unwrap_or_default()
}

/// Best of three runs of `f`, each on a new [`applying_app`].
fn best_of_three_apps(mut f: impl FnMut(&mut bevy::app::App)) -> Duration {
    (0..3)
        .map(|_| {
            let mut app = applying_app();
            let t = Instant::now();
            f(&mut app);
            t.elapsed()
        })
        .min()
        .unwrap_or_default()
}

/// A bench app that applies every update (no coalescing), so each message costs
/// its full decode and apply.
fn applying_app() -> bevy::app::App {
    let mut app = bench_app();
    app.world_mut()
        .resource_mut::<crate::feeds::ingest::IngestConfig>()
        .coalesce = false;
    app
}

pub fn ingest(messages: usize, devices: usize) -> IngestFigures {
    let lines = lines(messages, devices);
    let plain_decode = best_of_three(|| {
        for l in &lines {
            let e: PlainEnvelope = serde_json::from_str(l).expect("bench lines are valid");
            std::hint::black_box(e);
        }
    });
    let decode = best_of_three(|| {
        for l in &lines {
            std::hint::black_box(FeedMessage::decode(l).expect("bench lines are valid"));
        }
    });

    // Each app run three times on a fresh app (the setup is not timed): this
    // machine is shared and single runs vary by up to 2×.
    let decode_then_apply = best_of_three_apps(|app| {
        let tx = app.world().resource::<FeedChannel>().sender.clone();
        for l in &lines {
            push(app, &tx, l);
        }
        drain(app, messages);
    });

    // As in the app: a source thread decodes into the bounded channel (waiting
    // while it is full), the main thread runs frames.
    let pipeline = best_of_three_apps(|app| {
        let tx = app.world().resource::<FeedChannel>().sender.clone();
        let rx = app.world().resource::<FeedChannel>().receiver.clone();
        std::thread::scope(|scope| {
            scope.spawn(|| {
                for l in &lines {
                    let message = FeedMessage::decode(l).expect("bench lines are valid");
                    if tx.send(FeedEvent::Message { source: 0, message }).is_err() {
                        return;
                    }
                }
            });
            // Like a wall frame waiting for vsync, the main thread does not spin on
            // an empty channel (that would take the source thread's core on two cores).
            while applied(app) < messages as u64 {
                if rx.is_empty() {
                    std::thread::sleep(Duration::from_micros(200));
                }
                app.update();
            }
        });
    });
    IngestFigures {
        messages,
        devices,
        plain_decode,
        decode,
        decode_then_apply,
        pipeline,
    }
}

/// Resident memory of this process, from /proc (Linux).
fn resident_bytes() -> Option<u64> {
    let statm = std::fs::read_to_string("/proc/self/statm").ok()?;
    let pages: u64 = statm.split_whitespace().nth(1)?.parse().ok()?;
    Some(pages * 4096)
}

#[derive(Debug, Clone)]
pub struct StateFigures {
    pub cameras: usize,
    pub devices: usize,
    pub bytes: u64,
    pub baseline_bytes: u64,
}

/// The live state of a city's cameras and devices in the ECS: every one announced
/// once with position, name and readings, then the process's resident memory
/// measured against the same app before the feed.
pub fn feed_state(cameras: usize, devices: usize) -> StateFigures {
    let mut app = bench_app();
    let tx = app.world().resource::<FeedChannel>().sender.clone();
    let baseline_bytes = resident_bytes().unwrap_or(0);
    let total = cameras + devices;
    for i in 0..total {
        let (lon, lat) = (
            113.5 + (i % 600) as f64 * 0.0005,
            34.6 + (i / 600) as f64 * 0.0005,
        );
        let line = if i < cameras {
            format!(
                r#"{{"v":1,"ts":"2026-11-23T08:00:00+08:00","kind":"camera","data":{{"id":"cam-{i:06}","name":"视频 {i}","status":"online","position":{{"lon":{lon:.6},"lat":{lat:.6}}},"heading_deg":90.0,"fov_deg":60.0,"stream_url":"rtsp://video.example.invalid/{i}"}}}}"#
            )
        } else {
            format!(
                r#"{{"v":1,"ts":"2026-11-23T08:00:00+08:00","kind":"device","data":{{"id":"iot-{i:06}","kind":"gas_detector","status":"online","position":{{"lon":{lon:.6},"lat":{lat:.6}}},"readings":[{{"name":"CH4","value":1.5,"unit":"%LEL"}}]}}}}"#
            )
        };
        push(&mut app, &tx, &line);
    }
    drain(&mut app, total);
    app.update();
    StateFigures {
        cameras,
        devices,
        bytes: resident_bytes().unwrap_or(0).saturating_sub(baseline_bytes),
        baseline_bytes,
    }
}
