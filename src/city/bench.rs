//! `citytwin bench city`: how fast a scene's GIS becomes meshes, against merely parsing
//! the same GeoJSON files with serde in the same run, and how much memory that takes.

use super::{LoadedCity, load_city};
use crate::scene::Scene;
use std::time::{Duration, Instant};

pub struct LoadFigures {
    /// Bytes of GeoJSON in the scene's layers.
    pub bytes: u64,
    /// Reading and parsing those files into `serde_json::Value` (the baseline).
    pub parse: Duration,
    /// The best load of the scene (its peak memory leaves out the baseline's).
    pub run: LoadRun,
}

impl LoadFigures {
    pub fn ready(&self) -> Duration {
        self.run.ready()
    }
}

/// Peak resident set of this process, from /proc (Linux).
pub fn peak_rss() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kb: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb * 1024)
}

/// Resets the peak so the next reading covers only what follows (Linux ≥ 4.0).
fn reset_peak_rss() {
    let _ = std::fs::write("/proc/self/clear_refs", "5");
}

/// Times the baseline and the load of `scene`, best of `runs` each.
pub fn load(scene: &Scene, runs: usize) -> LoadFigures {
    let paths: Vec<_> = scene
        .file
        .layers
        .iter()
        .map(|l| scene.resolve(&l.path))
        .collect();
    let bytes = paths
        .iter()
        .filter_map(|p| std::fs::metadata(p).ok())
        .map(|m| m.len())
        .sum();
    let mut parse = Duration::MAX;
    for _ in 0..runs {
        let started = Instant::now();
        for p in &paths {
            let text = std::fs::read_to_string(p).unwrap_or_default();
            let value: serde_json::Value = serde_json::from_str(&text).unwrap_or_default();
            std::hint::black_box(&value);
        }
        parse = parse.min(started.elapsed());
    }
    let mut best: Option<LoadRun> = None;
    for _ in 0..runs {
        let run = load_once(scene);
        if best.as_ref().is_none_or(|b| run.ready() < b.ready()) {
            best = Some(run);
        }
    }
    LoadFigures {
        bytes,
        parse,
        run: best.expect("at least one run"),
    }
}

/// One timed load of a scene, start to all meshes.
pub struct LoadRun {
    /// `load_city`: read, check, project, extrude, batch.
    pub load: Duration,
    /// The batches into Bevy meshes.
    pub meshes: Duration,
    pub buildings: usize,
    pub tiles: usize,
    pub triangles: usize,
    /// Peak resident memory from the start of this load.
    pub peak_rss: Option<u64>,
    pub layers: Vec<super::import::LayerReport>,
    pub errors: usize,
}

impl LoadRun {
    pub fn ready(&self) -> Duration {
        self.load + self.meshes
    }
}

/// Loads `scene` once into meshes, timing each step.
pub fn load_once(scene: &Scene) -> LoadRun {
    reset_peak_rss();
    let started = Instant::now();
    let city: LoadedCity = load_city(scene);
    let load = started.elapsed();
    let started = Instant::now();
    let triangles = city.tiles.iter().map(|t| t.mesh.triangle_count()).sum();
    let tiles = city.tiles.len();
    let meshes: Vec<_> = city.tiles.into_iter().map(|t| t.mesh.into_mesh()).collect();
    let meshes_time = started.elapsed();
    let peak_rss = peak_rss();
    std::hint::black_box(&meshes);
    LoadRun {
        load,
        meshes: meshes_time,
        buildings: city.data.buildings.len(),
        tiles,
        triangles,
        peak_rss,
        errors: city.data.errors().count(),
        layers: city.data.layers,
    }
}
