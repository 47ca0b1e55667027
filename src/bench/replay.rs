//! `citytwin bench replay`: a recording played into the ECS against plain decompression
//! and decoding of the same file, seeks to random times (each one a restart, the
//! nearest checkpoint of the twin's state restored and a fast play up to the target),
//! seeks to checkpoints' own times (the restore alone), and the bytes a message takes
//! on disk.
//!
//! The recording is the demo day of the generated city unless a file is given.

use crate::feeds::ingest::{Backlog, FeedStats};
use crate::feeds::playback::ReplayControl;
use crate::feeds::recording::{self, Recording};
use crate::feeds::{FeedChannel, SourceState};
use crate::generate::rng::SplitMix64;
use chrono::{DateTime, FixedOffset, TimeDelta};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// Longest a play or a seek may take before the bench gives up.
const LIMIT: Duration = Duration::from_secs(1800);

#[derive(Debug, Clone)]
pub struct ReplayFigures {
    pub file: PathBuf,
    pub bytes: u64,
    pub messages: u64,
    pub span: (DateTime<FixedOffset>, DateTime<FixedOffset>),
    /// Decompress and decode every message, nothing else.
    pub decode: Duration,
    /// From the replay going live to every message applied.
    pub replay: Duration,
    /// Each seek's target and the time to the complete state there.
    pub seeks: Vec<(DateTime<FixedOffset>, Duration)>,
    /// Seeks to the times of the recording's first checkpoints of the twin's state
    /// (nothing to play after the restore): what a restore costs.
    pub restores: Vec<(DateTime<FixedOffset>, Duration)>,
}

impl ReplayFigures {
    pub fn rate(&self, d: Duration) -> f64 {
        self.messages as f64 / d.as_secs_f64().max(1e-9)
    }

    pub fn bytes_per_message(&self) -> f64 {
        self.bytes as f64 / self.messages.max(1) as f64
    }

    pub fn seek_worst(&self) -> Duration {
        self.seeks.iter().map(|s| s.1).max().unwrap_or_default()
    }

    pub fn seek_median(&self) -> Duration {
        median(&self.seeks)
    }

    pub fn restore_median(&self) -> Duration {
        median(&self.restores)
    }
}

fn median(timed: &[(DateTime<FixedOffset>, Duration)]) -> Duration {
    let mut d: Vec<Duration> = timed.iter().map(|s| s.1).collect();
    d.sort();
    d.get(d.len() / 2).copied().unwrap_or_default()
}

/// The demo day of the generated city at `scale`: the committed one at `city` scale
/// (when the bench runs in the source tree), else one `gen-day` writes once into the
/// bench's folder.
pub fn day_recording(scale: crate::generate::city::Scale) -> Result<PathBuf, String> {
    use crate::generate::city::{DEFAULT_CITY_SEED, Scale};
    use crate::generate::day;
    let committed = Path::new(day::DAY_FILE);
    if matches!(scale, Scale::City) && committed.is_file() {
        return committed
            .canonicalize()
            .map_err(|e| format!("{}: {e}", committed.display()));
    }
    let dir = std::env::temp_dir().join(format!("citytwin-bench-{}", scale.label()));
    let file = dir.join("day.mcap");
    if !file.is_file() {
        let level = if matches!(scale, Scale::Full) { 9 } else { 19 };
        let partial = dir.join("day.mcap.part");
        day::generate(
            scale,
            DEFAULT_CITY_SEED,
            &partial,
            level,
            day::STATE_EVERY_FULL,
            |what| eprintln!("bench replay: gen-day {}: {what}", scale.label()),
        )
        .map_err(|e| format!("gen-day: {e:#}"))?;
        std::fs::rename(&partial, &file).map_err(|e| format!("{}: {e}", file.display()))?;
    }
    Ok(file)
}

/// The generated city's recording as MCAP, written once into the bench's folder.
pub fn city_recording(scale: crate::generate::city::Scale) -> Result<PathBuf, String> {
    use crate::generate::city::DEFAULT_CITY_SEED;
    use crate::generate::city_files;
    let dir = std::env::temp_dir().join(format!("citytwin-bench-{}", scale.label()));
    let scene = dir.join(city_files::SCENE);
    city_files::ensure(scale, DEFAULT_CITY_SEED, &scene).map_err(|e| e.to_string())?;
    let ndjson = dir.join(city_files::FEED);
    let mcap = dir.join("feed.mcap");
    let fresh = |p: &Path| {
        std::fs::metadata(p)
            .and_then(|m| m.modified())
            .ok()
            .zip(std::fs::metadata(&ndjson).and_then(|m| m.modified()).ok())
            .is_some_and(|(out, src)| out >= src)
    };
    if !fresh(&mcap) {
        recording::convert(&ndjson, &mcap, recording::ARCHIVE_LEVEL)
            .map_err(|e| format!("converting {}: {e:#}", ndjson.display()))?;
    }
    Ok(mcap)
}

/// Runs the bench on `file` with `seeks` random seeks.
pub fn run(file: &Path, seeks: usize) -> Result<ReplayFigures, String> {
    let bytes = std::fs::metadata(file)
        .map_err(|e| format!("{}: {e}", file.display()))?
        .len();
    // Baseline: decompress and decode every message.
    let started = Instant::now();
    let mut rec = Recording::open(file)?;
    let mut messages = 0u64;
    let mut first_last: Option<(DateTime<FixedOffset>, DateTime<FixedOffset>)> = None;
    for i in 0..rec.chunks.len() {
        let entries = rec
            .read_chunk(i)
            .map_err(|d| format!("{}: {d}", file.display()))?;
        for entry in &entries {
            if let Ok(m) = recording::decode(entry) {
                messages += 1;
                first_last =
                    Some(first_last.map_or((m.ts, m.ts), |(a, b)| (a.min(m.ts), b.max(m.ts))));
            }
        }
    }
    let decode = started.elapsed();
    let span = first_last.ok_or_else(|| format!("{}: no message", file.display()))?;

    // The same file played into a headless twin as fast as it goes.
    let scene_dir =
        std::env::temp_dir().join(format!("citytwin-bench-replay-{}", std::process::id()));
    std::fs::create_dir_all(&scene_dir).map_err(|e| e.to_string())?;
    let origin = rec_origin(&mut rec)?;
    let text = format!(
        r#"(name: "bench replay", origin: (lon: {}, lat: {}), feeds: ["replay:{}@max"])"#,
        origin.0,
        origin.1,
        file.display()
    );
    let scene_path = scene_dir.join("scene.ron");
    let scene = crate::scene::Scene::parse(&text, &scene_path).map_err(|e| e.to_string())?;
    let options = crate::TwinOptions::from_scene(scene).map_err(|e| e.to_string())?;
    let mut app = crate::headless_app(&options);
    let settled = |w: &bevy::prelude::World| {
        w.resource::<Backlog>().is_empty() && w.resource::<FeedChannel>().receiver.is_empty()
    };
    // Timed from the replay going live (the file opened, its span read) to its end.
    let mut live_at: Option<Instant> = None;
    let started = Instant::now();
    loop {
        app.update();
        let w = app.world();
        let state = w
            .resource::<FeedStats>()
            .sources
            .first()
            .map(|s| s.state.clone());
        if live_at.is_none() && state.is_some() && state != Some(SourceState::Starting) {
            live_at = Some(Instant::now());
        }
        if let Some(SourceState::Failed(why)) = &state {
            return Err(format!("the replay failed: {why}"));
        }
        if state == Some(SourceState::Finished) && settled(w) {
            break;
        }
        if started.elapsed() > LIMIT {
            return Err(format!("the replay did not finish within {LIMIT:?}"));
        }
    }
    let replay = live_at.map_or_else(|| started.elapsed(), |t| t.elapsed());

    // Seeks to random times, each to a complete state.
    let control = app.world().resource::<ReplayControl>().clone();
    control.set_paused(true);
    let mut rng = SplitMix64::new(0x5EEC);
    let length_ms = (span.1 - span.0).num_milliseconds().max(1) as u64;
    let mut seek_to =
        |to: DateTime<FixedOffset>| -> Result<(DateTime<FixedOffset>, Duration), String> {
            let started = Instant::now();
            control.seek(Some(to));
            loop {
                app.update();
                let w = app.world();
                if w.resource::<FeedStats>().reached == Some(to) && settled(w) {
                    // One more frame: the rules and timers up to the target run.
                    app.update();
                    return Ok((to, started.elapsed()));
                }
                if started.elapsed() > LIMIT {
                    return Err(format!("a seek to {to} did not finish within {LIMIT:?}"));
                }
            }
        };
    let mut timed = Vec::with_capacity(seeks);
    for _ in 0..seeks {
        let to = span.0 + TimeDelta::milliseconds((rng.next_u64() % length_ms) as i64);
        timed.push(seek_to(to)?);
    }
    let mut restores = Vec::new();
    for t in rec.checkpoint_times.iter().take(5) {
        if let Some(to) = recording::time_of(*t) {
            restores.push(seek_to(to)?);
        }
    }
    let _ = std::fs::remove_dir_all(&scene_dir);
    Ok(ReplayFigures {
        file: file.to_path_buf(),
        bytes,
        messages,
        span,
        decode,
        replay,
        seeks: timed,
        restores,
    })
}

/// Where the recording's messages are: the first position a message gives, for the
/// bench scene's origin.
fn rec_origin(rec: &mut Recording) -> Result<(f64, f64), String> {
    use crate::feeds::schema::FeedBody;
    for i in 0..rec.chunks.len() {
        let Ok(entries) = rec.read_chunk(i) else {
            continue;
        };
        for entry in &entries {
            let Ok(m) = recording::decode(entry) else {
                continue;
            };
            let at = match &m.body {
                FeedBody::Device(d) => d.position,
                FeedBody::Camera(c) => c.position,
                _ => None,
            };
            if let Some(p) = at {
                return Ok((p.lon, p.lat));
            }
        }
    }
    Err(format!(
        "{}: no message with a position",
        rec.path.display()
    ))
}
