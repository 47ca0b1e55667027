//! `citytwin fuzz TARGET`: every reader of outside input, fed mutated copies of the
//! repository's own files, on stable Rust.
//!
//! Engine: proptest. An input is a seed from the target's corpus (built from the
//! repository's fixtures, scenes, recordings, models and the documentation's
//! examples) with 1–8 edits applied: bit flips, inserted or deleted bytes, a number
//! or token from a dictionary of troublemakers (`NaN`, `1e308`, `-1`, `..`, `%FF`,
//! far-future dates, …), duplicated or truncated ranges, and splices of two seeds. A
//! panic in the target is a crash: proptest shrinks the edits to a minimal input,
//! which is written to `--crashes DIR` to become a regression test
//! (`tests/fixtures/fuzz/TARGET/`). A run that takes longer than [`HANG_AFTER`] is a
//! hang: the input is written and the process exits with an error.
//!
//! proptest is not coverage-guided: the corpus is the seeds and does not grow. What
//! it gives is a reproducible, shrinking, stable-Rust harness; `docs/reliability.md`
//! says what was run for how long.

use proptest::prelude::*;
use proptest::test_runner::{Config, RngAlgorithm, TestCaseError, TestError, TestRng, TestRunner};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

/// A single execution longer than this is reported as a hang.
pub const HANG_AFTER: Duration = Duration::from_secs(20);
/// Mutated inputs are cut to this size.
const MAX_INPUT: usize = 256 << 10;

/// The readers that can be fuzzed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Target {
    /// Scene files (RON), their feed specs and operations section.
    Scene,
    /// GeoJSON layers, through the whole city loader (every layer kind, meshes too).
    Geojson,
    /// glTF and GLB models: URI confinement, limits, accessors, mesh reading.
    Gltf,
    /// One feed message, as MQTT and HTTP sources decode it; what `record` writes of
    /// an accepted message must read back the same.
    Feed,
    /// A recording, read by the `replay:` source at full speed.
    Recording,
    /// An MCAP recording: indexed or scanned, every chunk read (`feeds info`), and
    /// played by the `replay:` source.
    Mcap,
    /// Feed specs as typed on the command line.
    FeedSpec,
    /// The credentials file.
    Credentials,
    /// Camera snapshots (JPEG, PNG).
    Snapshot,
    /// HTTP sources: NDJSON and SSE framing fed in small chunks, polled documents
    /// split, each message decoded.
    Http,
}

impl Target {
    pub const ALL: [Target; 10] = [
        Target::Scene,
        Target::Geojson,
        Target::Gltf,
        Target::Feed,
        Target::Recording,
        Target::Mcap,
        Target::FeedSpec,
        Target::Credentials,
        Target::Snapshot,
        Target::Http,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Target::Scene => "scene",
            Target::Geojson => "geojson",
            Target::Gltf => "gltf",
            Target::Feed => "feed",
            Target::Recording => "recording",
            Target::Mcap => "mcap",
            Target::FeedSpec => "feed-spec",
            Target::Credentials => "credentials",
            Target::Snapshot => "snapshot",
            Target::Http => "http",
        }
    }
}

/// Inputs and outputs of a target: a scratch folder for the files it reads, and a
/// runtime for the async readers.
pub struct Harness {
    target: Target,
    dir: PathBuf,
    runtime: tokio::runtime::Runtime,
}

impl Harness {
    pub fn new(target: Target, dir: &Path) -> std::io::Result<Self> {
        let dir = dir.join(target.name());
        std::fs::create_dir_all(&dir)?;
        // A buffer beside the glTF inputs, for the ones that name it.
        std::fs::write(dir.join("tri.bin"), triangle_bytes())?;
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()?;
        Ok(Self {
            target,
            dir,
            runtime,
        })
    }

    /// Plays a recording through the replay source to its end (on its own, as fast as
    /// the channel takes it), dropping what it sends.
    fn replay(&self, path: std::path::PathBuf) {
        let (tx, rx) = crossbeam_channel::bounded(1 << 16);
        self.runtime.block_on(crate::feeds::replay::run(
            0,
            vec![path],
            None,
            false,
            None,
            tx,
        ));
        let _ = rx.try_iter().count();
    }

    /// Runs the target on one input. A panic propagates: that is the crash.
    pub fn run(&self, input: &[u8]) {
        let text = || String::from_utf8_lossy(input);
        match self.target {
            Target::Scene => {
                let path = self.dir.join("scene.ron");
                if let Ok(scene) = crate::scene::Scene::parse(&text(), &path) {
                    for spec in &scene.file.feeds {
                        let _ = crate::feeds::FeedSpec::parse(spec, &self.dir);
                    }
                    // What the app builds from the operations section.
                    let ops = &scene.file.operations;
                    let _ = crate::ops::alerts::AlertRules::new(ops);
                    let _ = crate::ops::modes::OperatingState::new(ops);
                    let _ = crate::ops::orders::SlaPolicy::new(ops.sla.clone(), &ops.calendar);
                    if let Ok(frame) = crate::geo::LocalFrame::new(scene.file.origin) {
                        let _ = crate::ops::vehicles::VehicleRules::new(&ops.vehicles, &frame);
                    }
                }
            }
            Target::Geojson => {
                std::fs::write(self.dir.join("layer.geojson"), input).expect("scratch file");
                let scene = crate::scene::Scene::parse(GEOJSON_SCENE, &self.dir.join("scene.ron"))
                    .expect("the fuzz scene parses");
                let _ = crate::city::load_city(&scene);
            }
            Target::Gltf => {
                let name = if input.starts_with(b"glTF") {
                    "model.glb"
                } else {
                    "model.gltf"
                };
                let path = self.dir.join(name);
                std::fs::write(&path, input).expect("scratch file");
                let _ = crate::city::models::validate(&path);
            }
            Target::Feed => {
                // What `record` writes, `replay` reads back to the same message. (A
                // number given with more digits than an f64 holds is rounded on the
                // first decode; from then on it is stable.)
                if let Ok(m) = crate::feeds::schema::FeedMessage::decode(text().trim()) {
                    let written = m.encode();
                    let again =
                        crate::feeds::schema::FeedMessage::decode(&written).unwrap_or_else(|e| {
                            panic!("an accepted message does not decode again: {e}")
                        });
                    assert_eq!(
                        again.encode(),
                        written,
                        "a recorded message reads back changed"
                    );
                }
            }
            Target::Recording => {
                let path = self.dir.join("recording.ndjson");
                std::fs::write(&path, input).expect("scratch file");
                self.replay(path);
            }
            Target::Mcap => {
                let path = self.dir.join("recording.mcap");
                if let Ok(mut rec) =
                    crate::feeds::recording::Recording::from_bytes(&path, input.to_vec())
                {
                    let _ = rec.info();
                }
                std::fs::write(&path, input).expect("scratch file");
                self.replay(path);
            }
            Target::FeedSpec => {
                let _ = crate::feeds::FeedSpec::parse(&text(), &self.dir);
            }
            Target::Credentials => {
                let _ = crate::feeds::secrets::Credentials::parse(&text(), &self.dir);
            }
            Target::Snapshot => {
                let _ = crate::feeds::snapshot::decode(input);
            }
            Target::Http => {
                use crate::feeds::http::{Frame, Framer, MAX_MESSAGE_BYTES, split_document};
                for sse in [false, true] {
                    let mut framer = Framer::new(sse);
                    let mut frames = Vec::new();
                    // Chunks of 1 to 13 bytes, as a slow network delivers them.
                    let mut rest = input;
                    let mut n = 1;
                    while !rest.is_empty() {
                        let (chunk, tail) = rest.split_at(n.min(rest.len()));
                        framer.push(chunk, &mut frames);
                        rest = tail;
                        n = n % 13 + 1;
                    }
                    for f in frames {
                        if let Frame::Message(m) = f {
                            assert!(m.len() <= MAX_MESSAGE_BYTES, "a frame over the limit");
                            let _ = crate::feeds::schema::FeedMessage::decode(m.trim());
                        }
                    }
                }
                for item in split_document(&text()) {
                    let _ = crate::feeds::schema::FeedMessage::decode(item.trim());
                }
            }
        }
    }
}

/// Every layer kind reads the same fuzzed file.
const GEOJSON_SCENE: &str = r#"(name: "fuzz", origin: (lon: 113.665, lat: 34.754), layers: [
    (kind: Buildings, path: "layer.geojson", attributes: (height: "height", levels: "levels")),
    (kind: Roads, path: "layer.geojson"),
    (kind: Districts, path: "layer.geojson"),
    (kind: Grids, path: "layer.geojson"),
    (kind: Pois, path: "layer.geojson"),
    (kind: Land, path: "layer.geojson"),
])"#;

/// A glTF of one triangle whose 36-byte buffer is `uri`, its positions accessor
/// claiming `count` elements (seeds here, bad-input tests).
pub fn triangle_gltf(uri: &str, count: usize) -> String {
    format!(
        r#"{{"asset":{{"version":"2.0"}},"scene":0,"scenes":[{{"nodes":[0]}}],"nodes":[{{"mesh":0}}],"meshes":[{{"primitives":[{{"attributes":{{"POSITION":0}}}}]}}],"buffers":[{{"uri":"{uri}","byteLength":36}}],"bufferViews":[{{"buffer":0,"byteOffset":0,"byteLength":36}}],"accessors":[{{"bufferView":0,"componentType":5126,"count":{count},"type":"VEC3","min":[0,0,0],"max":[1,1,0]}}]}}"#
    )
}

/// The buffer of [`triangle_gltf`]: three float positions.
pub fn triangle_bytes() -> Vec<u8> {
    [0f32, 0., 0., 1., 0., 0., 0., 1., 0.]
        .iter()
        .flat_map(|f| f.to_le_bytes())
        .collect()
}

/// One edit of a seed.
#[derive(Debug, Clone)]
enum Edit {
    Flip(prop::sample::Index, u8),
    Insert(prop::sample::Index, Vec<u8>),
    Delete(prop::sample::Index, usize),
    Token(prop::sample::Index, prop::sample::Index, bool),
    Duplicate(prop::sample::Index, usize),
    Truncate(prop::sample::Index),
    Splice(
        prop::sample::Index,
        prop::sample::Index,
        prop::sample::Index,
        usize,
    ),
}

/// Values that break readers: numbers at and past their limits, non-finite ones,
/// structure, escapes, paths, times.
const TOKENS: &[&str] = &[
    "NaN",
    "-NaN",
    "inf",
    "-inf",
    "Infinity",
    "1e308",
    "-1e308",
    "1e-320",
    "0",
    "-0",
    "-1",
    "4294967296",
    "18446744073709551616",
    "9223372036854775807",
    "-9223372036854775808",
    "65536",
    "0.0",
    "1e9",
    "\"",
    "\\",
    "{",
    "}",
    "[",
    "]",
    "(",
    ")",
    ",",
    ":",
    "\n",
    "\r\n",
    "\0",
    "\\u0000",
    "\\ud800",
    "é",
    "中",
    "\u{202e}",
    "%",
    "%FF",
    "%00",
    "../",
    "/",
    "/dev/zero",
    "file:///etc/passwd",
    "data:,",
    "http://169.254.169.254/",
    "#",
    "@",
    "null",
    "true",
    "[]",
    "{}",
    "\"\"",
    "9999-12-31T23:59:59Z",
    "0000-01-01T00:00:00Z",
    "2026-02-30T08:00:00+08:00",
    "2026-11-23T08:00:00+99:99",
    "2026-11-23T08:00:00.9999999999+08:00",
    "Some(",
    "None",
    "data:",
    "\"v\":1",
    "\"kind\":",
    "\"data\":",
    "\"ts\":",
    "data: ",
    "event: ",
];

fn edit() -> impl Strategy<Value = Edit> {
    let at = any::<prop::sample::Index>;
    prop_oneof![
        (at(), 0u8..8).prop_map(|(i, b)| Edit::Flip(i, b)),
        (at(), prop::collection::vec(any::<u8>(), 1..16)).prop_map(|(i, v)| Edit::Insert(i, v)),
        (at(), 1usize..64).prop_map(|(i, n)| Edit::Delete(i, n)),
        (at(), at(), any::<bool>()).prop_map(|(i, t, r)| Edit::Token(i, t, r)),
        (at(), 1usize..256).prop_map(|(i, n)| Edit::Duplicate(i, n)),
        at().prop_map(Edit::Truncate),
        (at(), at(), at(), 1usize..512).prop_map(|(s, f, i, n)| Edit::Splice(s, f, i, n)),
    ]
}

/// The seed with the edits applied.
fn apply(seeds: &[Vec<u8>], seed: usize, edits: &[Edit]) -> Vec<u8> {
    let mut v = seeds[seed].clone();
    let pos = |i: &prop::sample::Index, len: usize| if len == 0 { 0 } else { i.index(len + 1) };
    for e in edits {
        match e {
            Edit::Flip(i, bit) if !v.is_empty() => {
                let at = i.index(v.len());
                v[at] ^= 1 << bit;
            }
            Edit::Flip(..) => {}
            Edit::Insert(i, bytes) => {
                let at = pos(i, v.len());
                v.splice(at..at, bytes.iter().copied());
            }
            Edit::Delete(i, n) => {
                let at = pos(i, v.len());
                let end = (at + n).min(v.len());
                v.drain(at..end);
            }
            Edit::Token(i, t, replace_word) => {
                let token = TOKENS[t.index(TOKENS.len())].as_bytes();
                let at = pos(i, v.len());
                // Replace the number or word there, or insert before it.
                let end = if *replace_word {
                    at + v[at..]
                        .iter()
                        .take_while(|b| b.is_ascii_alphanumeric() || b"-+.".contains(b))
                        .count()
                } else {
                    at
                };
                v.splice(at..end, token.iter().copied());
            }
            Edit::Duplicate(i, n) => {
                let at = pos(i, v.len());
                let end = (at + n).min(v.len());
                let copy = v[at..end].to_vec();
                v.splice(end..end, copy);
            }
            Edit::Truncate(i) => {
                let at = pos(i, v.len());
                v.truncate(at);
            }
            Edit::Splice(s, f, i, n) => {
                let other = &seeds[s.index(seeds.len())];
                let from = pos(f, other.len());
                let end = (from + n).min(other.len());
                let at = pos(i, v.len());
                v.splice(at..at, other[from..end].iter().copied());
            }
        }
        v.truncate(MAX_INPUT);
    }
    v
}

/// What a fuzzing run did.
#[derive(Debug, Clone, Default)]
pub struct FuzzReport {
    pub executions: u64,
    pub seeds: usize,
    pub seed_bytes: usize,
    pub elapsed: Duration,
    /// Files written for the crashes found (minimal inputs).
    pub crashes: Vec<PathBuf>,
}

/// Fuzzes `target` for `duration`, seeds from `repo`, crashes written under `crashes`.
pub fn fuzz(
    target: Target,
    repo: &Path,
    duration: Duration,
    seed: u64,
    crashes: &Path,
    scratch: &Path,
    quiet: bool,
) -> std::io::Result<FuzzReport> {
    let seeds = corpus(target, repo);
    let harness = Harness::new(target, scratch)?;
    let mut report = FuzzReport {
        seeds: seeds.len(),
        seed_bytes: seeds.iter().map(Vec::len).sum(),
        ..Default::default()
    };
    // Seeds first, as they are.
    if quiet {
        // Panics are expected and reported; their default printout is noise.
        std::panic::set_hook(Box::new(|_| {}));
    }
    for s in &seeds {
        if let Err(why) = run_caught(&harness, s) {
            report.crashes.push(save(crashes, target, s, &why)?);
        }
        report.executions += 1;
    }
    let started = Instant::now();
    let executions = Arc::new(AtomicU64::new(0));
    let watchdog = Watchdog::start(target, crashes);
    let strategy = (0..seeds.len(), prop::collection::vec(edit(), 1..8));
    let mut batch = 0u64;
    while started.elapsed() < duration {
        let mut seed_bytes = seed.to_le_bytes().to_vec();
        seed_bytes.extend(batch.to_le_bytes());
        seed_bytes.resize(32, 0);
        let rng = TestRng::from_seed(RngAlgorithm::ChaCha, &seed_bytes);
        let config = Config {
            cases: 2_000,
            failure_persistence: None,
            max_shrink_iters: 4_000,
            ..Config::default()
        };
        let mut runner = TestRunner::new_with_rng(config, rng);
        let counter = executions.clone();
        let result = runner.run(&strategy, |(s, edits)| {
            let input = apply(&seeds, s, &edits);
            counter.fetch_add(1, Ordering::Relaxed);
            watchdog.arm(&input);
            let outcome = run_caught(&harness, &input);
            watchdog.disarm();
            outcome.map_err(TestCaseError::fail)
        });
        if let Err(TestError::Fail(why, (s, edits))) = result {
            let input = apply(&seeds, s, &edits);
            report
                .crashes
                .push(save(crashes, target, &input, why.message())?);
        }
        batch += 1;
    }
    drop(watchdog);
    if quiet {
        let _ = std::panic::take_hook();
    }
    report.executions += executions.load(Ordering::Relaxed);
    report.elapsed = started.elapsed();
    Ok(report)
}

/// Runs once; a panic becomes its message.
pub fn run_caught(harness: &Harness, input: &[u8]) -> Result<(), String> {
    std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| harness.run(input)))
        .map_err(|p| crate::panic_text(&p))
}

fn save(dir: &Path, target: Target, input: &[u8], why: &str) -> std::io::Result<PathBuf> {
    let dir = dir.join(target.name());
    std::fs::create_dir_all(&dir)?;
    let hash = input.iter().fold(0xcbf2_9ce4_8422_2325u64, |h, b| {
        (h ^ *b as u64).wrapping_mul(0x100_0000_01b3)
    });
    let path = dir.join(format!("crash-{hash:016x}"));
    std::fs::write(&path, input)?;
    std::fs::write(path.with_extension("txt"), why)?;
    Ok(path)
}

/// Writes the running input and exits if one execution takes too long.
struct Watchdog {
    state: Arc<std::sync::Mutex<Option<(Instant, Vec<u8>)>>>,
    stop: Arc<std::sync::atomic::AtomicBool>,
}

impl Watchdog {
    fn start(target: Target, crashes: &Path) -> Self {
        let state: Arc<std::sync::Mutex<Option<(Instant, Vec<u8>)>>> = Default::default();
        let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
        let (s, halt, dir) = (state.clone(), stop.clone(), crashes.to_owned());
        std::thread::spawn(move || {
            while !halt.load(Ordering::Relaxed) {
                std::thread::sleep(Duration::from_millis(500));
                let guard = s.lock().unwrap_or_else(|e| e.into_inner());
                if let Some((at, input)) = guard.as_ref()
                    && at.elapsed() > HANG_AFTER
                {
                    let path = save(&dir, target, input, "hang");
                    eprintln!(
                        "fuzz {}: one execution ran over {HANG_AFTER:?}; input written to {path:?}",
                        target.name()
                    );
                    std::process::exit(3);
                }
            }
        });
        Self { state, stop }
    }

    fn arm(&self, input: &[u8]) {
        *self.state.lock().unwrap_or_else(|e| e.into_inner()) =
            Some((Instant::now(), input.to_vec()));
    }

    fn disarm(&self) {
        *self.state.lock().unwrap_or_else(|e| e.into_inner()) = None;
    }
}

impl Drop for Watchdog {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
    }
}

/// The seeds of a target, from the repository's files and the docs' examples.
pub fn corpus(target: Target, repo: &Path) -> Vec<Vec<u8>> {
    let read = |p: &str| std::fs::read(repo.join(p)).unwrap_or_default();
    let text = |p: &str| String::from_utf8_lossy(&read(p)).into_owned();
    let blocks = |p: &str, lang: &str| crate::markdown_blocks(&text(p), lang);
    let mut out: Vec<Vec<u8>> = match target {
        Target::Scene => {
            let mut v = vec![read("scenes/erqi-demo.ron")];
            v.extend(
                blocks("scenes/README.md", "ron")
                    .into_iter()
                    .map(String::into_bytes),
            );
            v
        }
        Target::Geojson => {
            let mut v: Vec<Vec<u8>> = ["districts", "grids", "pois", "roads"]
                .iter()
                .map(|n| read(&format!("assets/zhengzhou/erqi/{n}.geojson")))
                .collect();
            v.push(first_features(
                &text("assets/zhengzhou/erqi/buildings.geojson"),
                12,
            ));
            v
        }
        Target::Gltf => {
            let mut v = vec![read("assets/models/erqi-tower.glb")];
            v.push(triangle_gltf("tri.bin", 3).into_bytes());
            let data = "data:application/octet-stream;base64,AAAAAAAAAAAAAAAAAACAPwAAAAAAAAAAAAAAAAAAgD8AAAAA";
            v.push(triangle_gltf(data, 3).into_bytes());
            v
        }
        Target::Mcap => {
            // Recordings of the district's first messages: one chunk, several chunks,
            // and one cut short (no summary).
            let lines: Vec<String> = text("data-feeds/zhengzhou-erqi.ndjson")
                .lines()
                .filter(|l| l.starts_with('{'))
                .take(24)
                .map(str::to_string)
                .collect();
            let scratch =
                std::env::temp_dir().join(format!("citytwin-mcap-seed-{}", std::process::id()));
            let mut seeds = Vec::new();
            for per_chunk in [24, 5] {
                if let Ok(bytes) = mcap_seed(&scratch, &lines, per_chunk) {
                    seeds.push(bytes);
                }
            }
            if let Some(whole) = seeds.last() {
                seeds.push(whole[..whole.len() * 2 / 3].to_vec());
            }
            let _ = std::fs::remove_file(&scratch);
            seeds
        }
        Target::Feed | Target::Recording => {
            let mut kinds = std::collections::BTreeMap::<String, Vec<String>>::new();
            for line in text("data-feeds/zhengzhou-erqi.ndjson").lines() {
                let kind = line
                    .split("\"kind\":\"")
                    .nth(1)
                    .and_then(|r| r.split('"').next())
                    .unwrap_or("")
                    .to_string();
                let list = kinds.entry(kind).or_default();
                if list.len() < 3 {
                    list.push(line.to_string());
                }
            }
            let mut lines: Vec<String> = kinds.into_values().flatten().collect();
            lines.extend(
                blocks("data-feeds/SCHEMA.md", "json")
                    .into_iter()
                    .flat_map(|b| b.lines().map(str::to_string).collect::<Vec<_>>())
                    .filter(|l| l.starts_with('{')),
            );
            if target == Target::Feed {
                lines.into_iter().map(String::into_bytes).collect()
            } else {
                lines
                    .chunks(6)
                    .map(|c| format!("# recorded\n{}\n", c.join("\n")).into_bytes())
                    .collect()
            }
        }
        Target::FeedSpec => [
            "replay:../data-feeds/zhengzhou-erqi.ndjson@4x,loop",
            "replay:a.ndjson@max",
            "mqtt://ops@broker.city.local:1883/city/+/events",
            "mqtts://broker:8883/city/#",
            "http://h:8080/orders.json#every=250ms&timeout=2s&idle=90s",
            "https://user:pw@api.city.local/hotline?token=x#every=5s",
        ]
        .iter()
        .map(|s| s.as_bytes().to_vec())
        .collect(),
        Target::Credentials => {
            let mut v: Vec<Vec<u8>> = blocks("scenes/README.md", "ron")
                .into_iter()
                .filter(|b| b.contains("source:"))
                .map(String::into_bytes)
                .collect();
            v.push(
                br#"[(source: "mqtts://b:8883", user: "ops", password: "pw", client_cert: "c.pem", client_key: "c.key", client_id: "wall-1"), (source: "https://api/x/", bearer: "t")]"#
                    .to_vec(),
            );
            v
        }
        Target::Http => {
            let lines: Vec<String> = text("data-feeds/zhengzhou-erqi.ndjson")
                .lines()
                .take(6)
                .map(str::to_string)
                .collect();
            vec![
                lines.join("\n").into_bytes(),
                lines
                    .iter()
                    .map(|l| format!(": keep-alive\nevent: update\nid: 7\ndata: {l}\n\n"))
                    .collect::<String>()
                    .into_bytes(),
                format!("[{}]", lines.join(",")).into_bytes(),
            ]
        }
        Target::Snapshot => {
            let mut png = std::io::Cursor::new(Vec::new());
            let _ = image::RgbaImage::from_pixel(8, 6, image::Rgba([200, 40, 40, 255]))
                .write_to(&mut png, image::ImageFormat::Png);
            vec![read("tests/fixtures/camera-red-blue.jpg"), png.into_inner()]
        }
    };
    out.retain(|s| !s.is_empty());
    if out.is_empty() {
        out.push(b"{}".to_vec());
    }
    out
}

/// A FeatureCollection of the first `n` features of one.
fn first_features(geojson: &str, n: usize) -> Vec<u8> {
    let Ok(serde_json::Value::Object(mut root)) = serde_json::from_str(geojson) else {
        return Vec::new();
    };
    if let Some(serde_json::Value::Array(f)) = root.get_mut("features") {
        f.truncate(n);
    }
    serde_json::to_vec(&root).unwrap_or_default()
}

/// An MCAP recording of `lines`, a chunk closed every `per_chunk` messages.
fn mcap_seed(scratch: &Path, lines: &[String], per_chunk: usize) -> anyhow::Result<Vec<u8>> {
    use crate::feeds::recording::{self, RecordingWriter};
    let meta = [("note".to_string(), "fuzz seed".to_string())].into();
    let mut w = RecordingWriter::create(scratch, &meta, recording::LIVE_LEVEL)?;
    for (i, line) in lines.iter().enumerate() {
        if let Ok(m) = crate::feeds::schema::FeedMessage::decode(line) {
            w.write(&m)?;
        }
        if i % per_chunk == per_chunk - 1 {
            w.flush()?;
        }
    }
    w.finish()?;
    Ok(std::fs::read(scratch)?)
}
