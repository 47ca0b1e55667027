//! `citytwin soak`: the generated city under generated feeds at the city's real rates
//! (`data-feeds/SCHEMA.md`), on the twin clock at X× wall speed, for H twin hours,
//! with faults injected, sampling memory, entities, queues and frame time every twin
//! minute.
//!
//! What runs, all for real in one process and its children:
//! - the headless app (the whole pipeline) on the generated city's scene;
//! - mosquitto with persistence on a private port, killed gracefully and started again
//!   every `restart_every` of wall time;
//! - a publisher (rumqttc) sending device reports (QoS 0, `soak/telemetry`), alarms
//!   and their recoveries (QoS 1, `soak/alarms`) and work orders through their
//!   lifecycle (QoS 1, `soak/orders`), every message stamped with its twin time; some
//!   devices are retired every twin hour and new ones appear (churn);
//! - an HTTP source of renovation projects whose server, every few minutes, answers
//!   500, hangs, or trickles one byte a second, then recovers;
//! - once at the start: a recording written to a full disk (`/dev/full`), and a
//!   recording cut mid-line read back.
//!
//! Work orders and alarms are counted end to end: published (the publisher, after
//! the client accepted them) = received (their source) = applied (the ECS).

use crate::feeds::FeedChannel;
use crate::feeds::ingest::FeedStats;
use crate::generate::city::Scale;
use crate::generate::city_feed::REAL_RATES as RATES;
use crate::generate::rng::SplitMix64;
use crate::ops::{ClockMode, TwinClock};
use anyhow::{Context, Result, bail};
use chrono::{DateTime, FixedOffset, TimeDelta};
use std::collections::{BinaryHeap, HashSet};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU8, AtomicU64, Ordering};
use std::time::{Duration, Instant};

#[derive(Debug, Clone)]
pub struct SoakOptions {
    /// Twin hours to run.
    pub hours: f64,
    /// Twin seconds per wall second.
    pub speed: f64,
    /// Where the CSV and the PNG go.
    pub out: PathBuf,
    pub scale: Scale,
    /// Wall time between broker restarts (and between HTTP fault changes).
    pub restart_every: Duration,
    /// Devices offline and silent this long are retired (their entities despawned).
    pub retire_after_h: f64,
}

/// Messages of one kind, end to end.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Counted {
    pub published: u64,
    pub received: u64,
    pub applied: u64,
}

#[derive(Debug, Clone, Default)]
pub struct SoakReport {
    pub samples: usize,
    pub rss_warm_mb: f64,
    pub rss_end_mb: f64,
    pub rss_growth_pct: f64,
    pub entities_start: u64,
    pub entities_end: u64,
    pub max_queue: usize,
    pub orders: Counted,
    pub alarms: Counted,
    pub telemetry: Counted,
    /// Telemetry received but not applied, by reason (coalesced under pressure,
    /// rejected as late, …).
    pub telemetry_not_applied: Vec<(String, u64)>,
    pub broker_restarts: u32,
    pub http_faults: u32,
    pub retired: u64,
    pub frame_ms_mean: f64,
    pub frame_ms_max: f64,
    /// One-off fault checks and what they showed.
    pub faults: Vec<String>,
    pub wall: Duration,
}

const T0: &str = "2026-11-23T00:00:00+08:00";

const CAMERAS: usize = 130_000;
const ORDERS_PER_DAY: f64 = 8_000.0;
const ALARMS_PER_MINUTE: f64 = 2.0;
/// Share of each kind's devices retired (and replaced) every twin hour.
const CHURN_PER_HOUR: f64 = 0.002;

fn rss_bytes() -> u64 {
    let pages = std::fs::read_to_string("/proc/self/statm")
        .ok()
        .and_then(|s| s.split_whitespace().nth(1)?.parse::<u64>().ok())
        .unwrap_or(0);
    pages * 4096
}

/// What the publisher has sent, by topic.
#[derive(Default)]
struct Published {
    orders: AtomicU64,
    alarms: AtomicU64,
    telemetry: AtomicU64,
    done: AtomicBool,
}

pub fn run(opts: &SoakOptions, progress: impl Fn(&str)) -> Result<SoakReport> {
    if !(opts.hours > 0.0 && opts.hours <= 24.0 * 30.0) {
        bail!("--hours {}: within 0–720", opts.hours);
    }
    if !(opts.speed >= 1.0 && opts.speed <= 10_000.0) {
        bail!("--speed {}: within 1–10000", opts.speed);
    }
    std::fs::create_dir_all(&opts.out).with_context(|| opts.out.display().to_string())?;
    let started = Instant::now();
    let mut report = SoakReport::default();
    report.faults.extend(one_off_faults());

    // The city.
    let city_dir = std::env::temp_dir().join(format!("citytwin-bench-{}", opts.scale.label()));
    let scene_path = city_dir.join(crate::generate::city_files::SCENE);
    progress(&format!("city: {}", scene_path.display()));
    crate::generate::city_files::ensure(
        opts.scale,
        crate::generate::city::DEFAULT_CITY_SEED,
        &scene_path,
    )?;
    let mut scene = crate::scene::Scene::load(&scene_path)?;

    // The broker and the HTTP source.
    let work = std::env::temp_dir().join(format!("citytwin-soak-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&work);
    std::fs::create_dir_all(&work)?;
    let root = crate::feeds::secrets::uid() == 0;
    let conf = |port: u16| {
        format!(
            "listener {port} 127.0.0.1\nallow_anonymous true\npersistence true\npersistence_location {}/\nmax_queued_messages 0\n{}",
            work.display(),
            if root { "user root\n" } else { "" }
        )
    };
    let broker = crate::feeds::bench::broker::LocalBroker::with_config(&work, "soak.conf", conf)
        .map_err(|e| anyhow::anyhow!(e))?;
    let port = broker.port;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .thread_name("citytwin-soak")
        .enable_all()
        .build()?;
    let http_mode = Arc::new(AtomicU8::new(0));
    let http_port = runtime.block_on(faulty_http_server(http_mode.clone()))?;

    scene.file.feeds = vec![
        format!("mqtt://127.0.0.1:{port}/soak/orders"),
        format!("mqtt://127.0.0.1:{port}/soak/alarms"),
        format!("mqtt://127.0.0.1:{port}/soak/telemetry"),
        format!("http://127.0.0.1:{http_port}/projects.json#every=5s&timeout=3s"),
    ];
    scene.file.operations.retire_after_h = Some(opts.retire_after_h);
    let options = crate::TwinOptions::from_scene(scene)?;
    let mut app = crate::headless_app(&options);
    app.insert_resource(TwinClock::new(ClockMode::Feed));
    progress("loading the city");
    let load_limit = Instant::now() + Duration::from_secs(600);
    while app.world().resource::<crate::city::CityStatus>().phase != crate::city::LoadPhase::Ready {
        app.update();
        if Instant::now() > load_limit {
            bail!("the city did not load within 10 minutes");
        }
        std::thread::sleep(Duration::from_millis(5));
    }

    // Publisher and faults.
    let published = Arc::new(Published::default());
    let t0 = DateTime::parse_from_rfc3339(T0).expect("constant");
    let bounds = opts.scale.bounds();
    let share = opts.scale.device_share();
    let broker = Arc::new(std::sync::Mutex::new(broker));
    let stop = Arc::new(AtomicBool::new(false));
    let restarts = Arc::new(AtomicU64::new(0));
    let faults_http = Arc::new(AtomicU64::new(0));
    runtime.spawn(publish(
        port,
        t0,
        opts.hours,
        opts.speed,
        bounds,
        share,
        published.clone(),
    ));
    let fault_thread = {
        let (broker, stop, restarts, faults_http, mode) = (
            broker.clone(),
            stop.clone(),
            restarts.clone(),
            faults_http.clone(),
            http_mode.clone(),
        );
        let every = opts.restart_every;
        std::thread::spawn(move || {
            let mut next = Instant::now() + every;
            let mut n = 0u32;
            while !stop.load(Ordering::Relaxed) {
                std::thread::sleep(Duration::from_millis(100));
                if Instant::now() < next {
                    continue;
                }
                next = Instant::now() + every;
                n += 1;
                // Broker: a graceful stop (it saves its sessions), then up again.
                if let Ok(mut b) = broker.lock() {
                    b.terminate();
                    std::thread::sleep(Duration::from_millis(500));
                    if b.restart().is_ok() {
                        restarts.fetch_add(1, Ordering::Relaxed);
                    }
                }
                // HTTP: 500, hang, trickle, then healthy, in turn.
                let m = (n % 4) as u8;
                mode.store(m, Ordering::Relaxed);
                if m != 0 {
                    faults_http.fetch_add(1, Ordering::Relaxed);
                }
            }
        })
    };

    // The app, sampled every twin minute.
    let csv_path = opts.out.join("soak.csv");
    let mut csv = std::io::BufWriter::new(std::fs::File::create(&csv_path)?);
    writeln!(
        csv,
        "twin_time,wall_s,rss_mb,entities,devices,queue,frame_ms_mean,frame_ms_max,orders_applied,alarms_applied,telemetry_applied,alerts,orders_open,retired"
    )?;
    let mut next_sample = t0 + TimeDelta::minutes(1);
    let mut frames: Vec<f64> = Vec::new();
    let mut samples: Vec<Sample> = Vec::new();
    let mut all_frames = (0u64, 0.0f64, 0.0f64);
    let deadline_after_end = Duration::from_secs(120);
    let mut publisher_done_at: Option<Instant> = None;
    progress("running");
    loop {
        let t = Instant::now();
        app.update();
        let ms = t.elapsed().as_secs_f64() * 1000.0;
        frames.push(ms);
        all_frames = (all_frames.0 + 1, all_frames.1 + ms, all_frames.2.max(ms));
        let world = app.world();
        let now = world.resource::<TwinClock>().now();
        let queue = world.resource::<FeedChannel>().receiver.len();
        report.max_queue = report.max_queue.max(queue);
        let fed = world.resource::<TwinClock>().feed_time.is_some();
        if fed && now >= next_sample {
            let stats = world.resource::<FeedStats>();
            let applied = |i: usize| stats.sources.get(i).map_or(0, |s| s.applied);
            let sample = Sample {
                at: now,
                rss: rss_bytes(),
                entities: u64::from(world.entities().count_spawned()),
                devices: world.resource::<crate::feeds::ingest::FeedEntities>().len() as u64,
                frame_mean: frames.iter().sum::<f64>() / frames.len().max(1) as f64,
                frame_max: frames.iter().copied().fold(0.0, f64::max),
            };
            writeln!(
                csv,
                "{},{:.1},{:.1},{},{},{},{:.3},{:.3},{},{},{},{},{},{}",
                now.to_rfc3339(),
                started.elapsed().as_secs_f64(),
                sample.rss as f64 / 1e6,
                sample.entities,
                sample.devices,
                queue,
                sample.frame_mean,
                sample.frame_max,
                applied(0),
                applied(1),
                applied(2),
                world.resource::<crate::ops::alerts::Alerts>().list.len(),
                world.resource::<crate::ops::OrderCounts>().open,
                world
                    .resource::<crate::feeds::ingest::FeedEntities>()
                    .retired,
            )?;
            csv.flush()?;
            if samples.len().is_multiple_of(60) {
                progress(&format!(
                    "{}  rss {:.0} MB  entities {}  queue {queue}  frame {:.2} ms",
                    now.format("%m-%d %H:%M"),
                    sample.rss as f64 / 1e6,
                    sample.entities,
                    sample.frame_mean
                ));
            }
            samples.push(sample);
            frames.clear();
            while next_sample <= now {
                next_sample += TimeDelta::minutes(1);
            }
        }
        if published.done.load(Ordering::Relaxed) {
            let at = *publisher_done_at.get_or_insert_with(Instant::now);
            let stats = world.resource::<FeedStats>();
            let settled = |i: usize, n: u64| {
                stats
                    .sources
                    .get(i)
                    .is_some_and(|s| s.applied + s.rejected_total() >= n)
            };
            // Every order and alarm in (telemetry is QoS 0: what is lost is lost), and
            // a moment for the channel to drain.
            let all_in = settled(0, published.orders.load(Ordering::Relaxed))
                && settled(1, published.alarms.load(Ordering::Relaxed))
                && at.elapsed() > Duration::from_secs(2)
                && queue == 0;
            if all_in || at.elapsed() > deadline_after_end {
                break;
            }
        }
    }
    stop.store(true, Ordering::Relaxed);
    let _ = fault_thread.join();
    // Redeliveries after the last restart would show here.
    let settle = Instant::now();
    while settle.elapsed() < Duration::from_secs(2) {
        app.update();
    }
    let world = app.world();
    let stats = world.resource::<FeedStats>();
    let counted = |i: usize, published: u64| Counted {
        published,
        received: stats.sources.get(i).map_or(0, |s| s.received),
        applied: stats.sources.get(i).map_or(0, |s| s.applied),
    };
    report.orders = counted(0, published.orders.load(Ordering::Relaxed));
    report.alarms = counted(1, published.alarms.load(Ordering::Relaxed));
    report.telemetry = counted(2, published.telemetry.load(Ordering::Relaxed));
    if let Some(s) = stats.sources.get(2) {
        report.telemetry_not_applied = s
            .rejected
            .iter()
            .map(|(k, v)| (k.to_string(), *v))
            .chain(std::iter::once(("coalesced".to_string(), s.coalesced)))
            .filter(|(_, v)| *v > 0)
            .collect();
    }
    report.retired = world
        .resource::<crate::feeds::ingest::FeedEntities>()
        .retired;
    report.broker_restarts = restarts.load(Ordering::Relaxed) as u32;
    report.http_faults = faults_http.load(Ordering::Relaxed) as u32;
    report.samples = samples.len();
    report.frame_ms_mean = all_frames.1 / all_frames.0.max(1) as f64;
    report.frame_ms_max = all_frames.2;
    // Warm-up: the first quarter of the run (the city, every device announced, the
    // first alerts and orders); growth is measured from there to the end.
    if samples.len() >= 4 {
        let warm = &samples[samples.len() / 4];
        let tail = &samples[samples.len() - samples.len().min(5)..];
        let end_rss = tail.iter().map(|s| s.rss as f64).sum::<f64>() / tail.len() as f64;
        report.rss_warm_mb = warm.rss as f64 / 1e6;
        report.rss_end_mb = end_rss / 1e6;
        report.rss_growth_pct = (end_rss - warm.rss as f64) / warm.rss as f64 * 100.0;
        report.entities_start = warm.entities;
        report.entities_end = samples.last().map_or(0, |s| s.entities);
    }
    plot(&samples, &opts.out.join("soak.png"))?;
    drop(app);
    if let Ok(mut b) = broker.lock() {
        b.stop();
    }
    drop(runtime);
    let _ = std::fs::remove_dir_all(&work);
    report.wall = started.elapsed();
    Ok(report)
}

struct Sample {
    at: DateTime<FixedOffset>,
    rss: u64,
    entities: u64,
    devices: u64,
    frame_mean: f64,
    frame_max: f64,
}

/// A message due at a twin time (orders' later steps, alarms' recoveries).
#[derive(PartialEq, Eq)]
struct Due {
    at: DateTime<FixedOffset>,
    topic: &'static str,
    message: String,
    /// The device whose alarm this message ends.
    recovers: Option<String>,
}

/// Earliest first in a `BinaryHeap` (a max-heap).
impl Ord for Due {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        other
            .at
            .cmp(&self.at)
            .then_with(|| other.message.cmp(&self.message))
    }
}

impl PartialOrd for Due {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

/// The publisher: announces every device and camera at the start, then sends what
/// falls due as twin time runs at `speed`.
async fn publish(
    port: u16,
    t0: DateTime<FixedOffset>,
    hours: f64,
    speed: f64,
    bounds: [f64; 4],
    share: f64,
    counts: Arc<Published>,
) {
    use rumqttc::{AsyncClient, MqttOptions, QoS};
    let mut o = MqttOptions::new("citytwin-soak-publisher", "127.0.0.1", port);
    o.set_keep_alive(Duration::from_secs(10))
        .set_clean_session(false)
        .set_inflight(1000);
    let (client, mut events) = AsyncClient::new(o, 10_000);
    tokio::spawn(async move {
        loop {
            if events.poll().await.is_err() {
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
        }
    });
    let mut rng = SplitMix64::new(20261123);
    let ts = |t: DateTime<FixedOffset>| t.to_rfc3339_opts(chrono::SecondsFormat::Millis, false);
    let place = |rng: &mut SplitMix64| {
        (
            rng.range(bounds[0], bounds[2]),
            rng.range(bounds[1], bounds[3]),
        )
    };
    let line = |kind: &str, t: DateTime<FixedOffset>, data: String| {
        format!(
            r#"{{"v":1,"ts":"{}","kind":"{kind}","data":{data}}}"#,
            ts(t)
        )
    };
    let send = |topic: &'static str, text: String| {
        let client = client.clone();
        let counts = counts.clone();
        async move {
            let qos = if topic == "soak/telemetry" {
                QoS::AtMostOnce
            } else {
                QoS::AtLeastOnce
            };
            if client.publish(topic, qos, false, text).await.is_ok() {
                let c = match topic {
                    "soak/orders" => &counts.orders,
                    "soak/alarms" => &counts.alarms,
                    _ => &counts.telemetry,
                };
                c.fetch_add(1, Ordering::Relaxed);
            }
        }
    };
    // Devices by kind: the next id to add, and the ids retired.
    let mut fleet: Vec<(&str, u32, Vec<u32>, usize)> = RATES
        .iter()
        .map(|(k, n, every)| {
            let n = ((*n as f64 * share).round() as usize).max(1);
            (*k, *every, (0..n as u32).collect(), n)
        })
        .collect();
    let device = |kind: &str, id: u32, status: &str, every: u32, pos: Option<(f64, f64)>| {
        let pos = pos.map_or(String::new(), |(lon, lat)| {
            format!(r#","position":{{"lon":{lon:.6},"lat":{lat:.6}}}"#)
        });
        format!(
            r#"{{"id":"{kind}-{id:06}","kind":"{kind}","status":"{status}","heartbeat_s":{every}{pos}}}"#
        )
    };
    for (kind, every, ids, _) in &fleet {
        for &id in ids.iter() {
            let p = place(&mut rng);
            send(
                "soak/telemetry",
                line("device", t0, device(kind, id, "online", *every, Some(p))),
            )
            .await;
        }
    }
    let cameras = ((CAMERAS as f64 * share).round() as usize).max(1);
    for c in 0..cameras {
        let (lon, lat) = place(&mut rng);
        let data = format!(
            r#"{{"id":"cam-{c:06}","status":"online","position":{{"lon":{lon:.6},"lat":{lat:.6}}},"heading_deg":{:.0},"fov_deg":60}}"#,
            rng.range(0.0, 360.0)
        );
        send("soak/telemetry", line("camera", t0, data)).await;
    }

    let end = t0 + TimeDelta::milliseconds((hours * 3_600_000.0) as i64);
    let wall0 = tokio::time::Instant::now();
    let mut twin = t0;
    let mut owed = vec![0.0f64; fleet.len()];
    let mut cursor = vec![0usize; fleet.len()];
    let (mut owed_orders, mut owed_alarms, mut next_order) = (0.0f64, 0.0f64, 0u64);
    let mut due: BinaryHeap<Due> = BinaryHeap::new();
    let mut alarming: HashSet<String> = HashSet::new();
    let mut next_churn = t0 + TimeDelta::hours(1);
    let mut tick = tokio::time::interval(Duration::from_millis(20));
    while twin < end {
        tick.tick().await;
        let now = (t0
            + TimeDelta::milliseconds((wall0.elapsed().as_secs_f64() * speed * 1000.0) as i64))
        .min(end);
        let dt = (now - twin).num_milliseconds() as f64 / 1000.0;
        twin = now;
        for (k, (kind, every, ids, _)) in fleet.iter().enumerate() {
            owed[k] += ids.len() as f64 * dt / f64::from(*every);
            while owed[k] >= 1.0 && !ids.is_empty() {
                owed[k] -= 1.0;
                let id = ids[cursor[k] % ids.len()];
                cursor[k] += 1;
                let name = format!("{kind}-{id:06}");
                let status = if alarming.contains(&name) {
                    "alarm"
                } else {
                    "online"
                };
                let value = rng.range(0.0, 100.0);
                let data = device(kind, id, status, *every, None).replace(
                    r#","heartbeat_s""#,
                    &format!(r#","readings":[{{"name":"value","value":{value:.2},"unit":""}}],"heartbeat_s""#),
                );
                send("soak/telemetry", line("device", twin, data)).await;
            }
        }
        owed_alarms += dt / 60.0 * ALARMS_PER_MINUTE;
        while owed_alarms >= 1.0 {
            owed_alarms -= 1.0;
            let (kind, every, ids, _) = &fleet[1 + (rng.next_u64() % 2) as usize];
            if ids.is_empty() {
                continue;
            }
            let id = ids[(rng.next_u64() % ids.len() as u64) as usize];
            let name = format!("{kind}-{id:06}");
            if alarming.insert(name.clone()) {
                send(
                    "soak/alarms",
                    line("device", twin, device(kind, id, "alarm", *every, None)),
                )
                .await;
                let at = twin + TimeDelta::minutes(10);
                due.push(Due {
                    at,
                    topic: "soak/alarms",
                    message: line("device", at, device(kind, id, "online", *every, None)),
                    recovers: Some(name),
                });
            }
        }
        owed_orders += dt / 86_400.0 * ORDERS_PER_DAY;
        while owed_orders >= 1.0 {
            owed_orders -= 1.0;
            next_order += 1;
            let id = format!("SOAK-{next_order:07}");
            let (lon, lat) = place(&mut rng);
            let order = |status: &str| {
                format!(
                    r#"{{"id":"{id}","source":"hotline12345","category":"environment","text":"噪声扰民 (soak)","status":"{status}","position":{{"lon":{lon:.6},"lat":{lat:.6}}}}}"#
                )
            };
            send("soak/orders", line("work_order", twin, order("reported"))).await;
            for (after, status) in [(3, "dispatched"), (90, "resolved"), (150, "closed")] {
                let at = twin + TimeDelta::minutes(after);
                due.push(Due {
                    at,
                    topic: "soak/orders",
                    message: line("work_order", at, order(status)),
                    recovers: None,
                });
            }
        }
        while due.peek().is_some_and(|d| d.at <= twin) {
            let Some(d) = due.pop() else {
                break;
            };
            if let Some(device) = &d.recovers {
                alarming.remove(device);
            }
            send(d.topic, d.message).await;
        }
        if twin >= next_churn {
            next_churn += TimeDelta::hours(1);
            for (kind, every, ids, next_id) in fleet.iter_mut() {
                let n = ((ids.len() as f64 * CHURN_PER_HOUR).round() as usize).min(ids.len());
                for _ in 0..n {
                    let gone = (rng.next_u64() % ids.len() as u64) as usize;
                    ids.swap_remove(gone);
                    let id = *next_id as u32;
                    *next_id += 1;
                    ids.push(id);
                    let p = place(&mut rng);
                    send(
                        "soak/telemetry",
                        line("device", twin, device(kind, id, "online", *every, Some(p))),
                    )
                    .await;
                }
            }
        }
    }
    // What is still due within the run (recoveries, order steps) is sent at its time.
    while let Some(d) = due.pop() {
        if d.at <= end {
            send(d.topic, d.message).await;
        }
    }
    // Let the client hand everything to the broker.
    tokio::time::sleep(Duration::from_secs(1)).await;
    counts.done.store(true, Ordering::Relaxed);
}

/// An HTTP server of renovation projects that misbehaves on demand: 0 healthy, 1 an
/// HTTP 500, 2 a response that never comes, 3 a body trickled a byte a second.
async fn faulty_http_server(mode: Arc<AtomicU8>) -> std::io::Result<u16> {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let port = listener.local_addr()?.port();
    tokio::spawn(async move {
        let mut n = 0u64;
        while let Ok((mut socket, _)) = listener.accept().await {
            n += 1;
            let mode = mode.load(Ordering::Relaxed);
            tokio::spawn(async move {
                let mut buf = [0u8; 4096];
                let _ = socket.read(&mut buf).await;
                let body = format!(
                    r#"[{{"v":1,"ts":"{T0}","kind":"project","data":{{"id":"RP-SOAK-1","kind":"old_community","name":"航海路社区 (soak)","phase":"construction","progress_pct":{},"start":"2026-03-01","end":"2026-12-31"}}}}]"#,
                    (n % 100) as f64
                );
                let head = |status: &str, len: usize| {
                    format!(
                        "HTTP/1.1 {status}\r\ncontent-type: application/json\r\ncontent-length: {len}\r\nconnection: close\r\n\r\n"
                    )
                };
                match mode {
                    1 => {
                        let _ = socket
                            .write_all(head("500 Internal Server Error", 0).as_bytes())
                            .await;
                    }
                    2 => tokio::time::sleep(Duration::from_secs(3600)).await,
                    3 => {
                        let _ = socket
                            .write_all(head("200 OK", body.len()).as_bytes())
                            .await;
                        for b in body.bytes() {
                            if socket.write_all(&[b]).await.is_err() {
                                return;
                            }
                            tokio::time::sleep(Duration::from_secs(1)).await;
                        }
                    }
                    _ => {
                        let _ = socket
                            .write_all(head("200 OK", body.len()).as_bytes())
                            .await;
                        let _ = socket.write_all(body.as_bytes()).await;
                    }
                }
            });
        }
    });
    Ok(port)
}

/// Faults checked once: recording onto a full disk, reading a recording cut mid-line.
fn one_off_faults() -> Vec<String> {
    let mut out = Vec::new();
    let dir = std::env::temp_dir().join(format!("citytwin-soak-faults-{}", std::process::id()));
    let _ = std::fs::create_dir_all(&dir);
    let line = |i: u32| {
        format!(
            r#"{{"v":1,"ts":"{T0}","kind":"device","data":{{"id":"f-{i}","kind":"other","status":"online","position":{{"lon":113.66,"lat":34.75}}}}}}"#
        )
    };
    let full = (0..200).map(line).collect::<Vec<_>>().join("\n") + "\n";
    let source = dir.join("source.ndjson");
    let _ = std::fs::write(&source, &full);
    // A disk that is full: every write fails with ENOSPC.
    if Path::new("/dev/full").exists() {
        let config = crate::feeds::FeedConfig {
            sources: vec![(
                "replay".into(),
                crate::feeds::FeedSpec::Replay {
                    paths: vec![source.clone()],
                    speed: None,
                    looping: false,
                },
            )],
            ..Default::default()
        };
        let stop = Arc::new(AtomicBool::new(false));
        let result = std::panic::catch_unwind(|| {
            crate::feeds::record::record(
                &config,
                Path::new("/dev/full"),
                Some(Duration::from_secs(10)),
                stop,
            )
        });
        out.push(match result {
            Ok(Err(e)) => format!("record onto a full disk: refused cleanly ({e:#})"),
            Ok(Ok(s)) => format!(
                "record onto a full disk: no error reported ({} written)",
                s.written
            ),
            Err(_) => "record onto a full disk: PANICKED".into(),
        });
    }
    // A recording cut in the middle of its last line.
    let cut = &full[..full.len() - 40];
    let truncated = dir.join("truncated.ndjson");
    let _ = std::fs::write(&truncated, cut);
    let (tx, rx) = crossbeam_channel::bounded(1024);
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build();
    if let Ok(rt) = rt {
        rt.block_on(crate::feeds::replay::run(
            0,
            vec![truncated],
            None,
            false,
            None,
            tx,
        ));
        let (mut ok, mut bad) = (0, 0);
        for e in rx.try_iter() {
            match e {
                crate::feeds::FeedEvent::Message { .. } => ok += 1,
                crate::feeds::FeedEvent::Rejected { .. } => bad += 1,
                _ => {}
            }
        }
        out.push(format!(
            "a recording cut mid-line: {ok} messages read, {bad} rejected (the cut line), no panic"
        ));
    }
    let _ = std::fs::remove_dir_all(&dir);
    out
}

/// Three panels over twin time: resident memory, entities, frame time (mean per
/// twin minute); hour lines in grey.
fn plot(samples: &[Sample], path: &Path) -> Result<()> {
    let (w, h) = (1200u32, 900u32);
    let mut img = image::RgbImage::from_pixel(w, h, image::Rgb([16, 20, 28]));
    if samples.len() >= 2 {
        let series: [(Vec<f64>, [u8; 3]); 3] = [
            (
                samples.iter().map(|s| s.rss as f64 / 1e6).collect(),
                [90, 200, 250],
            ),
            (
                samples.iter().map(|s| s.entities as f64).collect(),
                [120, 230, 140],
            ),
            (
                samples.iter().map(|s| s.frame_mean).collect(),
                [250, 190, 80],
            ),
        ];
        let panel_h = h / 3;
        let t0 = samples[0].at;
        let span = (samples[samples.len() - 1].at - t0).num_seconds().max(1) as f64;
        for (p, (values, colour)) in series.iter().enumerate() {
            let top = p as u32 * panel_h + 20;
            let bottom = (p as u32 + 1) * panel_h - 20;
            let max = values.iter().copied().fold(f64::MIN, f64::max);
            // From zero, so growth is seen at its true scale.
            let scale = |v: f64| {
                let f = if max > 0.0 { v / (max * 1.1) } else { 0.0 };
                bottom as f64 - f * (bottom - top) as f64
            };
            for x in 40..w - 20 {
                img.put_pixel(x, bottom, image::Rgb([90, 90, 100]));
            }
            for y in top..=bottom {
                img.put_pixel(40, y, image::Rgb([90, 90, 100]));
            }
            let hours = (span / 3600.0).ceil() as i64;
            for hr in 1..hours {
                let x = 40.0 + (hr as f64 * 3600.0 / span) * (w - 60) as f64;
                for y in (top..bottom).step_by(3) {
                    img.put_pixel(x as u32, y, image::Rgb([50, 55, 65]));
                }
            }
            let mut last: Option<(f64, f64)> = None;
            for (s, v) in samples.iter().zip(values) {
                let x = 40.0 + ((s.at - t0).num_seconds() as f64 / span) * (w - 60) as f64;
                let y = scale(*v);
                if let Some((lx, ly)) = last {
                    let steps = ((x - lx).abs().max((y - ly).abs()) as usize).max(1);
                    for i in 0..=steps {
                        let f = i as f64 / steps as f64;
                        let (px, py) = (lx + (x - lx) * f, ly + (y - ly) * f);
                        if px >= 0.0 && py >= 0.0 && (px as u32) < w && (py as u32) < h {
                            img.put_pixel(px as u32, py as u32, image::Rgb(*colour));
                            if (py as u32) + 1 < h {
                                img.put_pixel(px as u32, py as u32 + 1, image::Rgb(*colour));
                            }
                        }
                    }
                }
                last = Some((x, y));
            }
        }
    }
    img.save(path).with_context(|| path.display().to_string())?;
    Ok(())
}

/// The summary line of a report.
pub fn summary(r: &SoakReport) -> String {
    format!(
        "summary: rss_growth_pct={:.2} entities_start={} entities_end={} max_queue={} orders_published={} orders_received={} orders_applied={} alarms_published={} alarms_received={} alarms_applied={} broker_restarts={} http_faults={} retired={}",
        r.rss_growth_pct,
        r.entities_start,
        r.entities_end,
        r.max_queue,
        r.orders.published,
        r.orders.received,
        r.orders.applied,
        r.alarms.published,
        r.alarms.received,
        r.alarms.applied,
        r.broker_restarts,
        r.http_faults,
        r.retired
    )
}
