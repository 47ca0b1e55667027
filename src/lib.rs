//! citytwin: a 3D digital twin of a city's operations for operations-center walls.
//!
//! The frame runs in one order, set here: feeds are ingested, operations state is
//! updated, the spatial index follows, then the view and the panels.

pub mod bench;
pub mod check;
pub mod city;
pub mod feeds;
pub mod fuzz;
pub mod generate;
pub mod geo;
pub mod ops;
pub mod plan;
pub mod scene;
pub mod soak;
pub mod spatial;
pub mod ui;
pub mod view;

use bevy::prelude::*;
use feeds::{FeedConfig, FeedSpec};
use scene::Scene;
use std::path::PathBuf;
use std::time::Duration;

/// The stages of a frame, in order.
#[derive(SystemSet, Debug, Clone, PartialEq, Eq, Hash)]
pub enum TwinSet {
    Ingest,
    Ops,
    Spatial,
    View,
    Ui,
}

/// What to run: the scene, its feeds, and (for the wall) the window.
#[derive(Debug, Clone)]
pub struct TwinOptions {
    pub scene: Scene,
    /// Feeds as written, resolved; empty means none (the scene's are used by default).
    pub feeds: Vec<(String, FeedSpec)>,
    /// Extra CA certificates for TLS (the scene's `tls_ca`, resolved).
    pub tls_ca: Option<std::path::PathBuf>,
    /// `--instance`: this instance's name in MQTT client ids.
    pub instance: Option<String>,
    /// The operator journal the wall appends its actions to (`--journal`, else the
    /// scene's `operations.journal`); None for headless runs unless set.
    pub journal: Option<PathBuf>,
}

impl TwinOptions {
    /// The scene with its own feeds.
    pub fn from_scene(scene: Scene) -> Result<Self, feeds::SpecError> {
        let base = scene.base_dir();
        let feeds = feeds::resolve(&scene.file.feeds, &base, &scene_credentials(&scene)?)?;
        let tls_ca = scene.file.tls_ca.as_ref().map(|p| base.join(p));
        Ok(Self {
            scene,
            feeds,
            tls_ca,
            instance: None,
            journal: None,
        })
    }

    /// The same twin with one feed instead of the scene's: the recording at `path`,
    /// played once as fast as ingest takes it.
    pub fn replaying(mut self, path: &std::path::Path) -> Self {
        self.feeds = vec![(
            format!("replay:{}", path.display()),
            FeedSpec::Replay {
                paths: vec![path.to_path_buf()],
                speed: None,
                looping: false,
            },
        )];
        self
    }

    /// The scene's operator journal (`operations.journal`), resolved against its folder.
    pub fn scene_journal(&self) -> Option<PathBuf> {
        let journal = self.scene.file.operations.journal.as_ref()?;
        Some(self.scene.base_dir().join(journal))
    }

    /// Replaces the scene's feeds with specs given on the command line (relative
    /// paths against the working directory).
    pub fn with_feeds(mut self, specs: &[String]) -> Result<Self, feeds::SpecError> {
        let cwd = std::env::current_dir().unwrap_or_default();
        self.feeds = feeds::resolve(specs, &cwd, &scene_credentials(&self.scene)?)?;
        Ok(self)
    }

    /// What the feed sources are started with.
    pub fn feed_config(&self) -> FeedConfig {
        FeedConfig {
            sources: self.feeds.clone(),
            tls_ca: self.tls_ca.clone(),
            instance: self.instance.clone(),
            security: self.scene.file.security.clone(),
        }
    }
}

/// The credentials file for a scene's sources (`CITYTWIN_CREDENTIALS`, else the
/// scene's `security.credentials`), or none.
pub fn scene_credentials(scene: &Scene) -> Result<feeds::secrets::Credentials, feeds::SpecError> {
    feeds::secrets::Credentials::locate(
        scene.file.security.credentials.as_deref(),
        &scene.base_dir(),
    )
    .map_err(feeds::SpecError::Credentials)
}

#[derive(Debug, Clone)]
pub struct WindowOptions {
    pub size: (u32, u32),
    pub fullscreen: bool,
    pub view: Option<String>,
    /// `shot`: save a PNG here once everything is drawn, then exit.
    pub shot: Option<PathBuf>,
    /// `shot --also LANG=FILE`: once `shot` is saved, capture again in these languages.
    pub also: Vec<(scene::Language, PathBuf)>,
    /// `shot --click`: click these window positions, one after another, before
    /// capturing.
    pub click: Vec<Vec2>,
    /// `--select ID`: select the device or camera with this feed id once it exists.
    pub select: Option<String>,
    /// `--project ID --scenario N`: draw a renovation scenario on its site.
    pub plan: Option<view::plan::PlanRequest>,
    /// `--wall`, `--tile C,R --tiles COLSxROWS`: the wall as built and this window's
    /// part of it (none: one screen of `size`).
    pub layout: Option<view::wall::WallLayout>,
    /// `--lead URL` / `--follow URL`: one picture across machines over MQTT.
    pub sync: Option<view::sync::SyncRole>,
}

impl WindowOptions {
    /// The window's size: one tile's screen, the whole wall, or `size`.
    pub fn window_px(&self) -> (u32, u32) {
        match &self.layout {
            Some(l) if l.tile.is_some() => l.wall.screen_px,
            Some(l) => l.wall.window_px(),
            None => self.size,
        }
    }
}

/// The simulation core shared by the wall and the headless tests: scene data, feeds,
/// operations state and the spatial index. No window, no renderer.
pub fn add_core(app: &mut App, options: &TwinOptions) {
    app.configure_sets(
        Update,
        (
            TwinSet::Ingest,
            TwinSet::Ops,
            TwinSet::Spatial,
            TwinSet::View,
            TwinSet::Ui,
        )
            .chain(),
    )
    .insert_resource(city::CurrentScene(options.scene.clone()))
    .insert_resource(options.feed_config())
    .insert_resource(feeds::ingest::FeedStats {
        stale_after: options
            .scene
            .file
            .stale_after_s
            .filter(|s| s.is_finite() && *s > 0.0)
            .map_or(feeds::ingest::DEFAULT_STALE_AFTER, Duration::from_secs_f64),
        ..Default::default()
    });
    let ops_spec = &options.scene.file.operations;
    let live = !options.feeds.is_empty()
        && options
            .feeds
            .iter()
            .all(|(_, f)| !matches!(f, FeedSpec::Replay { .. }));
    app.insert_resource(ops::TwinClock::new(if live {
        ops::ClockMode::Live
    } else {
        ops::ClockMode::Feed
    }))
    .insert_resource(feeds::ingest::IngestConfig {
        max_jump: ops_spec
            .max_clock_jump_h
            .map_or(feeds::ingest::DEFAULT_MAX_JUMP, |h| {
                chrono::TimeDelta::milliseconds((h * 3_600_000.0) as i64)
            }),
        ..default()
    });
    ops::configure(app, ops_spec);
    match geo::LocalFrame::new(options.scene.file.origin) {
        Ok(frame) => {
            app.insert_resource(ops::vehicles::VehicleRules::new(&ops_spec.vehicles, &frame));
            app.insert_non_send(geo::SceneFrame(frame));
        }
        Err(e) => error!("cannot set up the scene's local frame: {e}"),
    }
    app.add_plugins((city::plugin, feeds::plugin, ops::plugin, spatial::plugin));
    ops::journal::install(app, options.journal.as_deref());
}

/// A headless app: the whole pipeline with `MinimalPlugins`, stepped by `app.update()`.
pub fn headless_app(options: &TwinOptions) -> App {
    let mut app = App::new();
    app.add_plugins(MinimalPlugins);
    add_core(&mut app, options);
    app
}

/// The wall: a window, the renderer, the city, markers and panels.
pub fn wall_app(options: &TwinOptions, window: &WindowOptions) -> App {
    use bevy::window::{WindowMode, WindowResolution};
    let started = view::StartedAt(std::time::Instant::now());
    let mut app = App::new();
    app.insert_resource(started);
    city::register_model_sources(&mut app, &options.scene);
    let mode = if window.fullscreen {
        WindowMode::BorderlessFullscreen(bevy::window::MonitorSelection::Primary)
    } else {
        WindowMode::Windowed
    };
    app.add_plugins(
        DefaultPlugins
            .set(WindowPlugin {
                primary_window: Some(Window {
                    title: format!("citytwin · {}", options.scene.file.name),
                    resolution: WindowResolution::new(window.window_px().0, window.window_px().1)
                        .with_scale_factor_override(1.0),
                    mode,
                    ..default()
                }),
                ..default()
            })
            .set(AssetPlugin {
                // Our own files come from the scene's folders; nothing under assets/ is
                // loaded through the asset server, so no meta files are expected.
                meta_check: bevy::asset::AssetMetaCheck::Never,
                ..default()
            }),
    );
    app.add_plugins(bevy_egui::EguiPlugin::default());
    add_core(&mut app, options);
    app.insert_resource(view::StartView(window.view.clone()))
        .insert_resource(view::SelectFeedId(window.select.clone()));
    if let Some(out) = &window.shot {
        app.insert_resource(view::shot::ShotRequest {
            out: out.clone(),
            timeout: Duration::from_secs(180),
            click: window.click.clone(),
            select: window.select.is_some(),
            also: window.also.clone(),
        });
    }
    if let Some(plan) = &window.plan {
        app.insert_resource(plan.clone());
    }
    if let Some(layout) = window.layout {
        view::wall::prepare(&mut app, &layout);
        app.insert_resource(layout);
    }
    if let Some(role) = &window.sync {
        let instance = options.instance.as_deref().unwrap_or("wall");
        view::sync::install(&mut app, role, instance);
    }
    app.add_plugins((view::plugin, ui::plugin));
    if window.shot.is_some() {
        app.insert_resource(view::camera::AutoTour {
            enabled: false,
            ..default()
        });
    }
    app
}

/// The fenced code blocks of a Markdown file in a language: the docs' examples, which
/// the tests check, `bench ops` runs and `fuzz` seeds from.
pub fn markdown_blocks(markdown: &str, lang: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut current: Option<String> = None;
    for line in markdown.lines() {
        let fence = line.trim_start().strip_prefix("```");
        match (&mut current, fence) {
            (None, Some(l)) if l.trim() == lang => current = Some(String::new()),
            (Some(_), Some(_)) => out.extend(current.take()),
            (Some(block), None) => {
                block.push_str(line);
                block.push('\n');
            }
            _ => {}
        }
    }
    out
}

/// The message of a caught panic, for an error that says a part failed.
pub fn panic_text(panic: &Box<dyn std::any::Any + Send>) -> String {
    panic
        .downcast_ref::<&str>()
        .map(|s| s.to_string())
        .or_else(|| panic.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "panicked".into())
}

/// `%XX` escapes decoded (a URL's user and password, a glTF's relative URIs); other
/// bytes, a stray `%` included, pass as they are.
pub fn percent_decode(text: &str) -> Vec<u8> {
    let bytes = text.as_bytes();
    let hex = |b: u8| (b as char).to_digit(16);
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match (
            bytes[i],
            bytes.get(i + 1).and_then(|&b| hex(b)),
            bytes.get(i + 2).and_then(|&b| hex(b)),
        ) {
            (b'%', Some(h), Some(l)) => {
                out.push((h * 16 + l) as u8);
                i += 3;
            }
            (b, _, _) => {
                out.push(b);
                i += 1;
            }
        }
    }
    out
}

/// Reads a regular file of at most `limit` bytes. A device (`/dev/zero`), a FIFO or a
/// file over the limit is refused with what it is, so no path can make a reader wait
/// forever or fill memory.
pub fn read_limited(path: &std::path::Path, limit: u64) -> Result<Vec<u8>, String> {
    use std::io::Read;
    let meta = std::fs::metadata(path).map_err(|e| format!("{}: {e}", path.display()))?;
    if !meta.is_file() {
        return Err(format!("{}: not a regular file", path.display()));
    }
    if meta.len() > limit {
        return Err(format!(
            "{}: {} bytes is over the {limit}-byte limit",
            path.display(),
            meta.len()
        ));
    }
    let mut data = Vec::with_capacity(meta.len() as usize);
    std::fs::File::open(path)
        .and_then(|f| f.take(limit + 1).read_to_end(&mut data))
        .map_err(|e| format!("{}: {e}", path.display()))?;
    if data.len() as u64 > limit {
        return Err(format!(
            "{}: grew over the {limit}-byte limit",
            path.display()
        ));
    }
    Ok(data)
}
