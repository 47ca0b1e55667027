//! `citytwin bench mqtt`: a publisher → mosquitto → citytwin, measured against
//! `mosquitto_sub` reading the same stream in the same run, then the lag from
//! publication to applied in the ECS at a steady rate.
//!
//! Everything runs here: a mosquitto of our own on a free loopback port, a rumqttc
//! publisher on a runtime of its own, `mosquitto_sub` as a child process, and the
//! headless app stepped at 60 frames a second like a wall (its ingest budget per
//! frame is the wall's).

use super::broker::LocalBroker;
use crate::feeds::ingest::{FeedStats, IngestConfig};
use bevy::app::App;
use chrono::{FixedOffset, SecondsFormat, Utc};
use rumqttc::{AsyncClient, MqttOptions, QoS};
use std::io::BufRead;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

/// One wall frame at 60 Hz.
pub const FRAME: Duration = Duration::from_micros(16_667);
const TOPIC: &str = "bench/iot";
const DEVICES: usize = 10_000;

#[derive(Debug, Clone)]
pub struct MqttFigures {
    pub burst_messages: u64,
    /// Time from the first publish until the last message of the burst was read.
    pub sub_time: Duration,
    pub our_time: Duration,
    pub paced_rate: u32,
    pub paced_sent: u64,
    pub paced_time: Duration,
    pub lag_p50: Duration,
    pub lag_p99: Duration,
    pub lag_max: Duration,
    pub coalesced: u64,
    pub rejected: u64,
    /// The longest `App::update` in the paced phase.
    pub longest_update: Duration,
    /// The mean time between frame starts in the paced phase (1/60 s when the app
    /// keeps its beat).
    pub frame_interval: Duration,
}

/// A probe: a message of its own id, to learn that both subscribers are in place.
fn probe() -> String {
    message(0).replace("b-00000", "probe")
}

/// A device report stamped with the current time, so the lag can be measured.
fn message(i: u64) -> String {
    let beijing = FixedOffset::east_opt(8 * 3600).expect("+08:00 is a valid offset");
    let ts = Utc::now()
        .with_timezone(&beijing)
        .to_rfc3339_opts(SecondsFormat::Micros, false);
    let id = i as usize % DEVICES;
    let position = if (i as usize) < DEVICES {
        format!(
            r#","position":{{"lon":{:.6},"lat":{:.6}}}"#,
            113.6 + (id % 100) as f64 * 0.001,
            34.7 + (id / 100) as f64 * 0.001
        )
    } else {
        String::new()
    };
    format!(
        r#"{{"v":1,"ts":"{ts}","kind":"device","data":{{"id":"b-{id:05}","kind":"manhole_cover","status":"online"{position},"readings":[{{"name":"tilt","value":{}.5,"unit":"°"}}]}}}}"#,
        i % 3
    )
}

/// `mosquitto_sub` on the bench topic, its output lines counted by a thread.
struct Subscriber {
    child: Child,
    lines: Arc<AtomicU64>,
    /// When each count was reached: the thread stamps the time of every line.
    last_line_at: Arc<std::sync::Mutex<Option<Instant>>>,
}

impl Subscriber {
    fn start(port: u16) -> Result<Self, String> {
        // Line-buffered, so a line is counted when mosquitto_sub writes it.
        let mut child = Command::new("stdbuf")
            .args([
                "-oL",
                "mosquitto_sub",
                "-h",
                "127.0.0.1",
                "-p",
                &port.to_string(),
            ])
            .args(["-q", "1", "-t", TOPIC])
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .map_err(|e| format!("{} ({e})", super::broker::INSTALL_HINT))?;
        let stdout = child.stdout.take().ok_or("mosquitto_sub has no stdout")?;
        let lines = Arc::new(AtomicU64::new(0));
        let last_line_at = Arc::new(std::sync::Mutex::new(None));
        let (count, at) = (lines.clone(), last_line_at.clone());
        std::thread::spawn(move || {
            for line in std::io::BufReader::new(stdout).lines() {
                if line.is_err() {
                    break;
                }
                if let Ok(mut t) = at.lock() {
                    *t = Some(Instant::now());
                }
                count.fetch_add(1, Ordering::Release);
            }
        });
        Ok(Self {
            child,
            lines,
            last_line_at,
        })
    }

    fn count(&self) -> u64 {
        self.lines.load(Ordering::Acquire)
    }
}

impl Drop for Subscriber {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Publishes the next numbered message; false once the client is gone.
async fn publish_next(client: &AsyncClient, sent: &AtomicU64, qos: QoS) -> bool {
    let i = sent.fetch_add(1, Ordering::Relaxed);
    client.publish(TOPIC, qos, false, message(i)).await.is_ok()
}

/// A publisher on a runtime of its own.
struct Publisher {
    runtime: tokio::runtime::Runtime,
    client: AsyncClient,
    sent: Arc<AtomicU64>,
    qos: QoS,
}

impl Publisher {
    fn start(port: u16, qos: QoS) -> Result<Self, String> {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .thread_name("bench-publisher")
            .enable_all()
            .build()
            .map_err(|e| format!("publisher runtime: {e}"))?;
        let mut options = MqttOptions::new("citytwin-bench-publisher", "127.0.0.1", port);
        options
            .set_keep_alive(Duration::from_secs(30))
            .set_inflight(1000);
        let (client, mut events) = AsyncClient::new(options, 1024);
        runtime.spawn(async move {
            loop {
                if let Err(e) = events.poll().await {
                    bevy::log::warn!("bench publisher: {e}");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
            }
        });
        Ok(Self {
            runtime,
            client,
            sent: Arc::new(AtomicU64::new(0)),
            qos,
        })
    }

    fn probe(&self) {
        let (client, qos) = (self.client.clone(), self.qos);
        self.runtime.spawn(async move {
            let _ = client.publish(TOPIC, qos, false, probe()).await;
        });
    }

    /// Publishes `n` messages as fast as the client takes them.
    fn burst(&self, n: u64) {
        let (client, sent, qos) = (self.client.clone(), self.sent.clone(), self.qos);
        self.runtime.spawn(async move {
            for _ in 0..n {
                if !publish_next(&client, &sent, qos).await {
                    return;
                }
            }
        });
    }

    /// Publishes `rate` messages a second for `duration`, a millisecond's share at a time.
    fn paced(&self, rate: u32, duration: Duration) -> tokio::task::JoinHandle<()> {
        let (client, sent, qos) = (self.client.clone(), self.sent.clone(), self.qos);
        self.runtime.spawn(async move {
            let started = tokio::time::Instant::now();
            let mut tick = tokio::time::interval(Duration::from_millis(1));
            let mut published = 0u64;
            while started.elapsed() < duration {
                tick.tick().await;
                let due = (started.elapsed().as_secs_f64() * f64::from(rate)) as u64;
                while published < due {
                    if !publish_next(&client, &sent, qos).await {
                        return;
                    }
                    published += 1;
                }
            }
        })
    }
}

/// Messages the app has taken off the feed (applied, coalesced or rejected).
fn taken(app: &App) -> u64 {
    app.world()
        .resource::<FeedStats>()
        .sources
        .first()
        .map_or(0, |s| s.received)
}

/// A wall's frame clock: frames start every 1/60 s on a fixed beat, as a display's
/// vsync paces them, so a late wake-up does not push every later frame back.
struct Vsync {
    next: Instant,
}

impl Vsync {
    fn new() -> Self {
        Self {
            next: Instant::now(),
        }
    }

    /// One wall frame: update, then wait for the next beat. Returns how long the update
    /// took. A frame that overran its beat starts the next one at once and the beat
    /// restarts from there.
    fn frame(&mut self, app: &mut App) -> Duration {
        let started = Instant::now();
        app.update();
        let took = started.elapsed();
        self.next += FRAME;
        let now = Instant::now();
        match self.next.checked_duration_since(now) {
            Some(rest) => std::thread::sleep(rest),
            None => self.next = now,
        }
        took
    }
}

fn frames_until(
    app: &mut App,
    vsync: &mut Vsync,
    limit: Duration,
    what: &str,
    done: impl Fn(&App) -> bool,
) -> Result<Duration, String> {
    let started = Instant::now();
    let mut longest = Duration::ZERO;
    while !done(app) {
        if started.elapsed() > limit {
            return Err(format!("timed out after {limit:?} waiting for {what}"));
        }
        longest = longest.max(vsync.frame(app));
    }
    Ok(longest)
}

pub fn mqtt(burst: u64, rate: u32, seconds: f64, qos: u8) -> Result<MqttFigures, String> {
    let qos = match qos {
        0 => QoS::AtMostOnce,
        1 => QoS::AtLeastOnce,
        other => return Err(format!("publisher QoS {other}: 0 or 1")),
    };
    let dir = std::env::temp_dir().join(format!("citytwin-bench-mqtt-{}", std::process::id()));
    std::fs::create_dir_all(&dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    // No cap on queued QoS 1 messages (a burst must not be cut short by the broker),
    // a window of 1,000 unacknowledged messages per subscriber instead of 20, and no
    // Nagle delay on small packets, as a broker serving a high-rate, low-latency
    // consumer is set up; both subscribers get the same.
    let broker = LocalBroker::plain(
        &dir,
        "max_queued_messages 0\nmax_inflight_messages 1000\nset_tcp_nodelay true\n",
    )?;
    let port = broker.port;

    let scene = crate::scene::Scene::parse(
        &format!(
            r#"(name: "bench", origin: (lon: 113.65, lat: 34.75), feeds: ["mqtt://127.0.0.1:{port}/{TOPIC}"])"#
        ),
        std::path::Path::new("bench.ron"),
    )
    .map_err(|e| e.to_string())?;
    let options = crate::TwinOptions::from_scene(scene).map_err(|e| e.to_string())?;
    let mut app = crate::headless_app(&options);
    app.world_mut().resource_mut::<IngestConfig>().measure_lag = true;
    let subscriber = Subscriber::start(port)?;
    let publisher = Publisher::start(port, qos)?;

    let mut vsync = Vsync::new();
    // Both subscribed: probe until each has read a message.
    let started = Instant::now();
    while taken(&app) == 0 || subscriber.count() == 0 {
        if started.elapsed() > Duration::from_secs(20) {
            return Err("subscribers did not receive the probe messages within 20 s".into());
        }
        publisher.probe();
        for _ in 0..6 {
            vsync.frame(&mut app);
        }
    }
    // Probes sent before a subscription was in place are lost: let the rest arrive,
    // then count from here.
    let settle = Instant::now();
    while settle.elapsed() < Duration::from_millis(500) {
        vsync.frame(&mut app);
    }
    let (our_base, sub_base) = (taken(&app), subscriber.count());

    // 1. A burst: as fast as the publisher goes; who reads it all sooner?
    let t0 = Instant::now();
    publisher.burst(burst);
    let mut our_time = None;
    while our_time.is_none() || subscriber.count() < sub_base + burst {
        if t0.elapsed() > Duration::from_secs(300) {
            return Err(format!(
                "burst not read within 300 s: citytwin {} of {burst}, mosquitto_sub {}",
                taken(&app) - our_base,
                subscriber.count() - sub_base
            ));
        }
        vsync.frame(&mut app);
        if our_time.is_none() && taken(&app) >= our_base + burst {
            our_time = Some(t0.elapsed());
        }
    }
    let sub_time = subscriber
        .last_line_at
        .lock()
        .map_err(|_| "subscriber thread panicked")?
        .map_or(Duration::ZERO, |t| t.saturating_duration_since(t0));
    // The paced phase is ours alone: the broker need not feed mosquitto_sub too.
    drop(subscriber);
    let our_time = our_time.unwrap_or_default();

    // 2. Paced: `rate` a second; lag from publication to applied.
    frames_until(
        &mut app,
        &mut vsync,
        Duration::from_secs(30),
        "the burst to be applied",
        |a| crate::feeds::ingest::Backlog::is_empty(a.world().resource()),
    )?;
    if let Some(s) = app
        .world_mut()
        .resource_mut::<FeedStats>()
        .sources
        .first_mut()
        && let Some(h) = &mut s.lag_us
    {
        h.reset();
    }
    let before = taken(&app);
    let sent_before = publisher.sent.load(Ordering::Relaxed);
    let duration = Duration::from_secs_f64(seconds);
    let paced_start = Instant::now();
    let sending = publisher.paced(rate, duration);
    let mut longest_update = Duration::ZERO;
    let mut paced_frames = 0u32;
    while !sending.is_finished()
        || taken(&app) - before < publisher.sent.load(Ordering::Relaxed) - sent_before
    {
        if paced_start.elapsed() > duration + Duration::from_secs(60) {
            return Err("paced phase did not finish within a minute of its end".into());
        }
        longest_update = longest_update.max(vsync.frame(&mut app));
        paced_frames += 1;
    }
    let paced_time = paced_start.elapsed();
    let stats = &app.world().resource::<FeedStats>().sources[0];
    let lag = stats.lag_us.clone().unwrap_or_else(|| {
        hdrhistogram::Histogram::new(3).expect("constant histogram precision is valid")
    });
    let us = |q: f64| Duration::from_micros(lag.value_at_quantile(q));
    let _ = std::fs::remove_dir_all(&dir);
    Ok(MqttFigures {
        burst_messages: burst,
        sub_time,
        our_time,
        paced_rate: rate,
        paced_sent: taken(&app) - before,
        paced_time,
        lag_p50: us(0.5),
        lag_p99: us(0.99),
        lag_max: Duration::from_micros(lag.max()),
        coalesced: stats.coalesced,
        rejected: stats.rejected_total(),
        longest_update,
        frame_interval: paced_time / paced_frames.max(1),
    })
}
