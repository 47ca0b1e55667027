//! The `citytwin` command line: the wall, screenshots, scene checks, demo data.

use anyhow::{Context, Result, bail};
use citytwin::feeds::FeedSpec;
use citytwin::scene::{Scene, default_scene_path};
use citytwin::{TwinOptions, WindowOptions};
use clap::{Args, Parser, Subcommand};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

#[derive(Parser)]
#[command(
    name = "citytwin",
    version,
    about = "A 3D city operations center for wall displays"
)]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Subcommand)]
enum Command {
    /// Run the wall display (the default, on the built-in Zhengzhou scene).
    Wall {
        #[command(flatten)]
        scene: SceneArg,
        /// Feed to play instead of the scene's, e.g. replay:FILE@4 (repeatable).
        #[arg(long = "feeds", value_name = "SPEC")]
        feeds: Vec<String>,
        /// Window size, e.g. 3840x2160.
        #[arg(long, default_value = "1920x1080", value_parser = parse_size)]
        size: (u32, u32),
        #[arg(long)]
        fullscreen: bool,
        /// Named view of the scene to start at.
        #[arg(long)]
        view: Option<String>,
        /// Select the device, camera, work order or alert with this id once it appears.
        #[arg(long, value_name = "ID")]
        select: Option<String>,
        /// This wall's name in MQTT client ids (default: CITYTWIN_INSTANCE, else the
        /// host name and the first free slot on this machine).
        #[arg(long, value_name = "NAME")]
        instance: Option<String>,
        #[command(flatten)]
        plan: PlanArg,
        #[command(flatten)]
        wall: WallArg,
        /// Append every action taken on this wall (acknowledge, resolve, silence,
        /// switch mode) to FILE as `operator` feed messages, replayable with
        /// replay:FILE (default: the scene's `operations.journal`, if any).
        #[arg(long, value_name = "FILE")]
        journal: Option<PathBuf>,
    },
    /// Open a window, wait until everything is drawn, save a PNG and exit.
    Shot {
        #[command(flatten)]
        scene: SceneArg,
        #[arg(long, value_name = "FILE.png")]
        out: PathBuf,
        #[arg(long, default_value = "1920x1080", value_parser = parse_size)]
        size: (u32, u32),
        #[arg(long)]
        view: Option<String>,
        /// Click at X,Y (window pixels) before capturing, e.g. to show the inspector;
        /// repeated, the clicks follow one another, each once the view has settled.
        #[arg(long, value_name = "X,Y", value_parser = parse_point)]
        click: Vec<(f32, f32)>,
        /// Select the device, camera, work order or alert with this id (a camera's
        /// snapshot is fetched before the capture; the view flies to an order or alert).
        #[arg(long, value_name = "ID")]
        select: Option<String>,
        /// Once FILE.png is saved, switch the panels to LANG and capture again into
        /// this file (repeatable): several languages from one start.
        #[arg(long, value_name = "LANG=FILE.png", value_parser = parse_also)]
        also: Vec<(citytwin::scene::Language, PathBuf)>,
        /// Feed to play instead of the scene's (repeatable).
        #[arg(long = "feeds", value_name = "SPEC")]
        feeds: Vec<String>,
        #[command(flatten)]
        plan: PlanArg,
        #[command(flatten)]
        wall: WallArg,
    },
    /// Review a renovation project (the scene's `projects`): metrics, the 一拆五改三增加
    /// checklist and sunlight hours to GB 50180 for today and every proposal, printed;
    /// `--report DIR` writes them as an HTML report with site plans; `--note` pins a
    /// note to a place in the project's notes file.
    Plan {
        #[command(flatten)]
        scene: SceneArg,
        /// Project id (default: the scene's first project).
        #[arg(long, value_name = "ID")]
        project: Option<String>,
        /// The standard day: major-cold (大寒日, 8–16 h) or winter-solstice (冬至日,
        /// 9–15 h).
        #[arg(long, default_value = "major-cold", value_parser = parse_day)]
        day: citytwin::plan::sun::StandardDay,
        /// The year whose standard day is measured.
        #[arg(long, default_value_t = 2027, value_parser = within(1900i32, 2100))]
        year: i32,
        /// Write the review report (index.html, metrics.csv, sunlight maps) into DIR.
        #[arg(long, value_name = "DIR")]
        report: Option<PathBuf>,
        /// Write the metrics table as CSV.
        #[arg(long, value_name = "FILE.csv")]
        csv: Option<PathBuf>,
        /// Pin a note with this text (needs --at).
        #[arg(long, value_name = "TEXT", requires = "at")]
        note: Option<String>,
        /// Where the note goes: LON,LAT (WGS84).
        #[arg(long, value_name = "LON,LAT", value_parser = parse_lonlat, requires = "note")]
        at: Option<citytwin::geo::LonLat>,
        /// The note's author (default: $USER).
        #[arg(long)]
        author: Option<String>,
        /// The scenario the note is about.
        #[arg(long, value_name = "NAME")]
        scenario: Option<String>,
        /// Print the review without opening the planner's window.
        #[arg(long)]
        print: bool,
        /// With --report: shots of the 3D view of today and of each proposal too (a
        /// window each; under xvfb-run when no display is set).
        #[arg(long, requires = "report")]
        shots: bool,
        /// Shadows on the map at this true solar time of the standard day, e.g. 9:30
        /// (the panel's slider moves them).
        #[arg(long, value_name = "H:MM", value_parser = parse_solar_time)]
        sun_time: Option<f64>,
        /// Window size, e.g. 3840x2160.
        #[arg(long, default_value = "1920x1080", value_parser = parse_size)]
        size: (u32, u32),
        #[arg(long)]
        fullscreen: bool,
    },
    /// Load a scene and all its data without a window; list every problem.
    Check {
        #[command(flatten)]
        scene: SceneArg,
        /// Refuse invalid polygons (self-intersections, spikes, holes outside) instead
        /// of repairing them with a warning.
        #[arg(long)]
        strict: bool,
    },
    /// Run the twin headless (replays at full speed) until a twin time and write the
    /// operations state then: alerts, work orders and their deadlines, KPIs.
    Report {
        #[command(flatten)]
        scene: SceneArg,
        /// Feed to play instead of the scene's (repeatable); replays play at full
        /// speed unless the spec names one, and never loop.
        #[arg(long = "feeds", value_name = "SPEC")]
        feeds: Vec<String>,
        /// Twin time, RFC 3339, e.g. 2026-11-23T08:10:00+08:00.
        #[arg(long, value_name = "TIME")]
        until: chrono::DateTime<chrono::FixedOffset>,
        #[arg(long, value_name = "FILE.json")]
        out: PathBuf,
        /// Give up after this many seconds of real time.
        #[arg(long, default_value_t = 600.0, value_parser = within(0.1, 86_400.0))]
        timeout: f64,
    },
    /// Record what feeds deliver to a file that `replay:` plays back.
    Record {
        /// Feed to record, e.g. mqtt://host:1883/city/# (repeatable).
        #[arg(long = "feeds", value_name = "SPEC", required = true)]
        feeds: Vec<String>,
        #[arg(long, value_name = "FILE")]
        out: PathBuf,
        /// Stop after this many seconds (default: until Ctrl-C or the sources end).
        #[arg(long, value_name = "SECONDS", value_parser = within(0.001, 366.0 * 86_400.0))]
        duration: Option<f64>,
        /// PEM file of CA certificates to trust for mqtts:// and https:// besides the
        /// system's.
        #[arg(long, value_name = "FILE")]
        tls_ca: Option<PathBuf>,
        /// Credentials file (mode 0600; default: CITYTWIN_CREDENTIALS).
        #[arg(long, value_name = "FILE")]
        credentials: Option<PathBuf>,
        /// This recorder's name in MQTT client ids (default: CITYTWIN_INSTANCE, else
        /// the host name and the first free slot on this machine).
        #[arg(long, value_name = "NAME")]
        instance: Option<String>,
    },
    /// Recordings: convert between NDJSON and MCAP, or describe one.
    Feeds {
        #[command(subcommand)]
        which: FeedsKind,
    },
    /// Fuzz the readers of outside input with mutated copies of the repository's
    /// files (run from the repository root); crashes are written as minimal inputs.
    Fuzz {
        /// Readers to fuzz, one after another (default: all).
        #[arg(value_enum)]
        targets: Vec<citytwin::fuzz::Target>,
        /// Minutes per target.
        #[arg(long, default_value_t = 10.0, value_parser = within(0.01, 10_000.0))]
        minutes: f64,
        /// Same seed, same inputs.
        #[arg(long, default_value_t = 1)]
        seed: u64,
        /// Folder for crashing inputs (minimal, with the panic message beside).
        #[arg(long, default_value = "target/fuzz-crashes")]
        crashes: PathBuf,
    },
    /// Run the generated city for twin hours under generated feeds at the city's real
    /// rates with faults injected; sample memory, entities, queues and frame time every
    /// twin minute into DIR/soak.csv and DIR/soak.png.
    Soak {
        /// Twin hours to run.
        #[arg(long, default_value_t = 24.0, value_parser = within(0.05, 720.0))]
        hours: f64,
        /// Twin seconds per wall second (a 24 h day in under an hour: 30 or more).
        #[arg(long, default_value_t = 30.0, value_parser = within(1.0, 10_000.0))]
        speed: f64,
        /// Folder for soak.csv and soak.png.
        #[arg(long, default_value = ".")]
        out: PathBuf,
        #[arg(long, value_enum, default_value = "full")]
        scale: citytwin::generate::city::Scale,
        /// Wall seconds between broker restarts and HTTP faults.
        #[arg(long, default_value_t = 180.0, value_parser = within(1.0, 86_400.0))]
        fault_every_s: f64,
        /// Devices offline and silent this many twin hours are retired.
        #[arg(long, default_value_t = 6.0, value_parser = within(0.1, 8760.0))]
        retire_after_h: f64,
    },
    /// Benchmarks that print figures and ratios against a baseline from the same run.
    Bench {
        #[command(subcommand)]
        which: BenchKind,
    },
    /// Write the built-in synthetic demo district (GeoJSON, glTF, recording).
    GenDemo {
        /// Folder that receives assets/ and data-feeds/ files.
        #[arg(long, default_value = ".")]
        out: PathBuf,
    },
    /// Convert a layer file (GeoJSON, Shapefile, GeoPackage, FlatGeobuf) into an
    /// indexed FlatGeobuf in WGS84 with UTF-8 attributes, and write a scene snippet.
    Import {
        /// The file to convert (.geojson, .shp, .gpkg, .fgb).
        file: PathBuf,
        /// Folder that receives FILE_STEM.fgb and FILE_STEM.layer.ron.
        #[arg(long)]
        out: PathBuf,
        /// Layer kind for the snippet (buildings, roads, districts, subdistricts, grids,
        /// pois, land); guessed from the geometry and attributes when not given.
        #[arg(long, value_parser = parse_kind)]
        kind: Option<citytwin::scene::LayerKind>,
        /// CRS of the input (EPSG:<code>, GCJ-02, BD-09); default: the file's own
        /// (.prj, GeoPackage, FlatGeobuf header), else EPSG:4326.
        #[arg(long)]
        crs: Option<citytwin::geo::Crs>,
        /// Attribute encoding of a Shapefile without a .cpg (GBK, GB18030, UTF-8…).
        #[arg(long)]
        encoding: Option<String>,
        /// The GeoPackage table, when the file has several.
        #[arg(long)]
        table: Option<String>,
    },
    /// Generate a synthetic Zhengzhou (GeoJSON, glTF, a feed recording and scene.ron).
    GenCity {
        /// district: the old centre (tests); city: inside the 3rd ring (the built-in
        /// default); full: the whole urban area with the published device counts.
        #[arg(long, value_enum, default_value = "city")]
        scale: citytwin::generate::city::Scale,
        /// Folder to write; `citytwin wall --scene DIR/scene.ron` shows it.
        #[arg(long)]
        out: PathBuf,
        /// Same seed, same bytes.
        #[arg(long, default_value_t = citytwin::generate::city::DEFAULT_CITY_SEED)]
        seed: u64,
    },
    /// Generate a whole SYNTHETIC day of the generated city's feeds (MCAP): real
    /// rates, diurnal patterns, 12345 orders, scripted incidents, a checkpoint with
    /// the day before's KPI history, and checkpoints of the twin's state for seeks.
    GenDay {
        /// city: the built-in city's day (committed as data-feeds/zhengzhou-city-day.mcap);
        /// full: the published device counts (about 16 million messages).
        #[arg(long, value_enum, default_value = "city")]
        scale: citytwin::generate::city::Scale,
        /// The recording to write.
        #[arg(long, default_value = citytwin::generate::day::DAY_FILE)]
        out: PathBuf,
        /// The city's seed (the day's events follow from it too).
        #[arg(long, default_value_t = citytwin::generate::city::DEFAULT_CITY_SEED)]
        seed: u64,
        /// zstd level of the MCAP chunks [default: 19, the smallest; 9 at `full`
        /// scale, where 19 would take an hour].
        #[arg(long, value_parser = within(1u32, 22))]
        level: Option<u32>,
        /// Minutes of recorded time between two checkpoints of the twin's state
        /// [default: 120 at `city`, where the committed day must stay under 20 MB;
        /// 60 at `full`].
        #[arg(long, value_parser = within(1u32, 1440))]
        checkpoint_every_min: Option<u32>,
    },
}

#[derive(Subcommand)]
enum FeedsKind {
    /// NDJSON to MCAP or MCAP to NDJSON (by the input's first bytes); messages keep
    /// their text and order, what is not a message is listed and skipped.
    Convert {
        input: PathBuf,
        output: PathBuf,
        /// zstd level of the MCAP chunks (1 fast … 19 small).
        #[arg(long, default_value_t = citytwin::feeds::recording::ARCHIVE_LEVEL, value_parser = within(1u32, 22))]
        level: u32,
    },
    /// Print a recording's time range, messages per kind, chunks, checkpoints and
    /// damaged regions.
    Info { file: PathBuf },
    /// Write a copy of a recording (MCAP or NDJSON) as MCAP with a checkpoint of the
    /// twin's state every N minutes of recorded time, taken by playing it through the
    /// headless twin of the scene: a seek then starts from the nearest one (e.g. after
    /// `citytwin record`).
    Checkpoint {
        input: PathBuf,
        output: PathBuf,
        #[command(flatten)]
        scene: SceneArg,
        /// Minutes of recorded time between two checkpoints.
        #[arg(long, default_value_t = 60, value_parser = within(1u32, 1440))]
        every_min: u32,
        /// zstd level of the MCAP chunks (1 fast … 19 small).
        #[arg(long, default_value_t = citytwin::feeds::recording::ARCHIVE_LEVEL, value_parser = within(1u32, 22))]
        level: u32,
    },
}

#[derive(Subcommand)]
enum BenchKind {
    /// Device updates decoded and applied into the ECS vs plain serde decoding.
    Ingest {
        #[arg(long, default_value_t = 300_000, value_parser = within(1usize, 100_000_000))]
        messages: usize,
        #[arg(long, default_value_t = 30_000, value_parser = within(1usize, 10_000_000))]
        devices: usize,
    },
    /// Publisher → mosquitto → citytwin vs mosquitto_sub on the same stream; lag at a
    /// steady rate.
    Mqtt {
        /// Messages in the burst both subscribers read.
        #[arg(long, default_value_t = 200_000, value_parser = within(1u64, 100_000_000))]
        burst: u64,
        /// Messages per second in the paced phase.
        #[arg(long, default_value_t = 50_000, value_parser = within(1u32, 10_000_000))]
        rate: u32,
        /// Length of the paced phase.
        #[arg(long, default_value_t = 5.0, value_parser = within(0.1, 3600.0))]
        seconds: f64,
        /// QoS of the publisher: 0, as sensors send telemetry, or 1 (the subscribers
        /// always ask for 1; the broker delivers at the lower of the two).
        #[arg(long, default_value_t = 0, value_parser = within(0u8, 1))]
        qos: u8,
    },
    /// Loading a generated city (default: full scale) against parsing its GeoJSON with
    /// serde; peak memory; frame time of the headless app with all its devices.
    City {
        #[arg(long, value_enum, default_value = "full")]
        scale: citytwin::generate::city::Scale,
        /// Where the generated city is kept between runs (default: the system temp dir).
        #[arg(long)]
        dir: Option<PathBuf>,
        /// Frames timed in the headless app once everything is in.
        #[arg(long, default_value_t = 300, value_parser = within(1usize, 1_000_000))]
        frames: usize,
    },
    /// The full city's buildings from GeoJSON, Shapefile, GeoPackage and FlatGeobuf
    /// (each written by ogr2ogr) to meshes, against ogr2ogr reading the same files;
    /// peak memory; what a small extent reads of the FlatGeobuf.
    Import {
        /// Where the generated city is kept between runs (default: the system temp dir).
        #[arg(long)]
        dir: Option<PathBuf>,
        /// Radius of the small extent read from the FlatGeobuf, metres.
        #[arg(long, default_value_t = 2000.0, value_parser = within(10.0, 1_000_000.0))]
        small_extent_m: f64,
    },
    /// Sunlight hours (GB 50180, 大寒日) for window-sill points of the 北三街 community:
    /// the grid-walked rays against the naive check, alone and amid the full city.
    Sun {
        /// Where the generated city is kept between runs (default: the system temp dir).
        #[arg(long)]
        dir: Option<PathBuf>,
        #[arg(long, default_value_t = 10_000, value_parser = within(1usize, 10_000_000))]
        samples: usize,
        /// The year whose 大寒日 is measured.
        #[arg(long, default_value_t = 2027, value_parser = within(1900i32, 2100))]
        year: i32,
    },
    /// Frame time of the wall in a real window once the city and its devices are in,
    /// and the draw batches of a frame.
    Frames {
        #[command(flatten)]
        scene: SceneArg,
        #[arg(long, default_value = "1920x1080", value_parser = parse_size)]
        size: (u32, u32),
        /// Named view to measure from (default: the scene's first).
        #[arg(long)]
        view: Option<String>,
        #[arg(long, default_value_t = 120, value_parser = within(1usize, 1_000_000))]
        frames: usize,
        /// The city alone: the scene's feeds are not started, so no device markers.
        #[arg(long)]
        without_devices: bool,
        /// Run twice, without the devices (the baseline) and with them, each in a
        /// process of its own, and print what the markers add.
        #[arg(long, conflicts_with = "without_devices")]
        compare: bool,
        /// Print the figures as one machine-readable line too (used by --compare).
        #[arg(long, hide = true)]
        result_line: bool,
        /// Without the panels (`bench ui`'s baseline).
        #[arg(long, hide = true)]
        no_panels: bool,
        /// Keep an incident selected, so the inspector and camera wall are open.
        #[arg(long, hide = true)]
        select_incident: bool,
    },
    /// The panels' cost: the CPU time of the egui pass per frame with every panel open
    /// (an incident selected, the wide layout) on a 4×2 wall of 1920×1080 screens, and
    /// the whole frame there against the same wall without panels (each in a process of
    /// its own). Last line: `summary: ui_ms=… frame_ms_7680=…`.
    Ui {
        #[command(flatten)]
        scene: SceneArg,
        #[arg(long, default_value = "7680x2160", value_parser = parse_size)]
        size: (u32, u32),
        #[arg(long, default_value_t = 20, value_parser = within(2usize, 100_000))]
        frames: usize,
    },
    /// Operations at city scale: nearest cameras vs brute force and PostGIS, grid
    /// lookup vs brute force, rules and KPIs per frame at the city's real rates.
    Ops {
        #[arg(long, default_value_t = 130_000, value_parser = within(1usize, 10_000_000))]
        cameras: usize,
        /// Incident points queried for their 10 nearest cameras.
        #[arg(long, default_value_t = 10_000, value_parser = within(1usize, 10_000_000))]
        queries: usize,
        /// Events located in their micro-grid.
        #[arg(long, default_value_t = 100_000, value_parser = within(1usize, 100_000_000))]
        events: usize,
        /// Frames (1/60 s of twin time each) timed with every device reporting.
        #[arg(long, default_value_t = 600, value_parser = within(1usize, 1_000_000))]
        frames: usize,
    },
    /// A recording played into the ECS against plain decompression and decoding of the
    /// same file; seeks to random times; bytes per message on disk. Last line:
    /// `summary: replay_vs_decode=… seek_worst_ms=… bytes_per_msg=…`.
    Replay {
        /// The generated city whose demo day is played (`city`: the committed day;
        /// `full`: one `gen-day` writes into the bench's folder, once), unless `--file`
        /// is given.
        #[arg(long, value_enum, default_value = "city")]
        scale: citytwin::generate::city::Scale,
        /// Play the city's ten-minute recording (its announcements and ten minutes of
        /// changes, as MCAP) instead of its day.
        #[arg(long)]
        ten_minutes: bool,
        /// A recording to play instead (MCAP).
        #[arg(long)]
        file: Option<PathBuf>,
        /// Seeks to random times, each timed to a complete state.
        #[arg(long, default_value_t = 20, value_parser = within(0usize, 10_000))]
        seeks: usize,
    },
    /// Memory of the live feed state for a city's cameras and devices.
    State {
        #[arg(long, default_value_t = 130_000, value_parser = within(0usize, 10_000_000))]
        cameras: usize,
        #[arg(long, default_value_t = 219_300, value_parser = within(0usize, 10_000_000))]
        devices: usize,
    },
}

#[derive(Args)]
struct SceneArg {
    /// Scene file (RON); default: the built-in Zhengzhou scene.
    #[arg(long, value_name = "FILE")]
    scene: Option<PathBuf>,
    /// The panels' language, in place of the scene's: zh-CN (Chinese, English beneath)
    /// or en. `L` switches it while running.
    #[arg(long, value_name = "zh-CN|en", value_parser = parse_language)]
    language: Option<citytwin::scene::Language>,
}

fn parse_also(s: &str) -> Result<(citytwin::scene::Language, PathBuf), String> {
    let (language, file) = s
        .split_once('=')
        .ok_or_else(|| format!("'{s}': expected LANG=FILE.png, e.g. en=wall-en.png"))?;
    if file.is_empty() {
        return Err(format!("'{s}': no file after '='"));
    }
    Ok((parse_language(language)?, PathBuf::from(file)))
}

fn parse_language(s: &str) -> Result<citytwin::scene::Language, String> {
    citytwin::scene::Language::try_from(s.to_string())
}

/// The wall as built, and this machine's tile of it.
#[derive(clap::Args, Default)]
struct WallArg {
    /// The wall's screens: laptop, 4k, 4x2, 3x3 or COLSxROWS@WxH, with ,bezel=PX (the
    /// 3D view hides that many pixels behind each bezel) and ,distance=M (the panels'
    /// scale), e.g. 4x2@1920x1080,bezel=18. The window covers the whole wall, or with
    /// --tile one screen of it.
    #[arg(long, value_name = "SPEC", value_parser = citytwin::scene::wall::WallSpec::parse)]
    wall: Option<citytwin::scene::wall::WallSpec>,
    /// This machine's tile of a wall of several machines, C,R from 0,0 at the top left
    /// (with --tiles): it renders that part of one shared view.
    #[arg(long, value_name = "C,R", value_parser = parse_tile, requires = "tiles")]
    tile: Option<(u32, u32)>,
    /// How many machines' tiles make the wall, COLSxROWS (with --tile).
    #[arg(long, value_name = "COLSxROWS", value_parser = parse_tiles, requires = "tile")]
    tiles: Option<(u32, u32)>,
    /// Lead a wall of several machines: publish this wall's camera, selection, mode,
    /// language and twin time on mqtt://HOST:PORT/TOPIC.
    #[arg(long, value_name = "URL", value_parser = citytwin::view::sync::SyncRole::parse_url)]
    lead: Option<citytwin::feeds::mqtt::MqttSpec>,
    /// Follow a leader's state from mqtt://HOST:PORT/TOPIC (keeps the last view if
    /// the leader goes quiet).
    #[arg(long, value_name = "URL", value_parser = citytwin::view::sync::SyncRole::parse_url, conflicts_with = "lead")]
    follow: Option<citytwin::feeds::mqtt::MqttSpec>,
}

impl WallArg {
    fn sync(&self) -> Option<citytwin::view::sync::SyncRole> {
        use citytwin::view::sync::SyncRole;
        match (&self.lead, &self.follow) {
            (Some(s), _) => Some(SyncRole::Lead(s.clone())),
            (None, Some(s)) => Some(SyncRole::Follow(s.clone())),
            _ => None,
        }
    }

    fn layout(&self, size: (u32, u32)) -> Result<Option<citytwin::view::wall::WallLayout>> {
        use citytwin::view::wall::WallLayout;
        Ok(match (self.tile, self.tiles, self.wall) {
            (Some(tile), Some(tiles), wall) => {
                let screen = wall.map_or(size, |w| w.screen_px);
                Some(WallLayout::tiled(wall, tile, tiles, screen).map_err(anyhow::Error::msg)?)
            }
            (_, _, Some(wall)) => Some(WallLayout { wall, tile: None }),
            _ => None,
        })
    }
}

fn parse_tile(s: &str) -> Result<(u32, u32), String> {
    citytwin::scene::wall::pair(s, ',', "tile")
}

fn parse_tiles(s: &str) -> Result<(u32, u32), String> {
    match citytwin::scene::wall::pair(&s.to_lowercase(), 'x', "tiles")? {
        (c, r) if (1..=16).contains(&c) && (1..=16).contains(&r) => Ok((c, r)),
        _ => Err(format!("tiles '{s}': 1 to 16 columns and rows")),
    }
}

#[derive(clap::Args)]
struct PlanArg {
    /// Draw a renovation project of the scene on its site (with --scenario).
    #[arg(long, value_name = "ID")]
    project: Option<String>,
    /// The project's scenario to draw: 0 = today, 1… = its proposals in order.
    #[arg(long, default_value_t = 1, requires = "project")]
    scenario: usize,
    /// What it is compared with (B toggles to it; left of a swipe or side by side).
    #[arg(long, default_value_t = 0, requires = "project")]
    compare: usize,
    /// single (B toggles before/after), swipe (a draggable line) or side-by-side.
    #[arg(long, default_value = "single", value_parser = citytwin::view::plan::PlanMode::parse, requires = "project")]
    mode: citytwin::view::plan::PlanMode,
    /// Where the swipe line starts, as a share of the window's width.
    #[arg(long, default_value_t = 0.5, value_parser = within(0.05f32, 0.95), requires = "project")]
    swipe: f32,
    /// Shadows on the map at this true solar time of the standard day, e.g. 9:30.
    #[arg(long, value_name = "H:MM", value_parser = parse_solar_time, requires = "project")]
    sun_time: Option<f64>,
    /// Start with a measuring tool: distance, path, area or height (clicks measure).
    #[arg(long, value_name = "TOOL", value_parser = citytwin::view::measure::Tool::parse, requires = "project")]
    measure: Option<citytwin::view::measure::Tool>,
}

/// `H:MM` (true solar time) to hours.
fn parse_solar_time(s: &str) -> Result<f64, String> {
    let bad = || format!("'{s}' is not a time of day as H:MM");
    let (h, m) = s.trim().split_once(':').ok_or_else(bad)?;
    let (h, m): (u32, u32) = (h.parse().map_err(|_| bad())?, m.parse().map_err(|_| bad())?);
    if h > 23 || m > 59 {
        return Err(bad());
    }
    Ok(h as f64 + m as f64 / 60.0)
}

impl PlanArg {
    /// The options' defaults, as the flags' own: the first proposal against today in a
    /// single view.
    fn defaults(project: Option<String>) -> Self {
        Self {
            project,
            scenario: 1,
            compare: 0,
            mode: citytwin::view::plan::PlanMode::Single,
            swipe: 0.5,
            sun_time: None,
            measure: None,
        }
    }

    /// With a project: its site left out of the city's meshes, a view of it first.
    fn apply(&self, scene: &mut Scene) -> Result<Option<citytwin::view::plan::PlanRequest>> {
        let Some(id) = &self.project else {
            return Ok(None);
        };
        let spec = scene
            .file
            .projects
            .iter()
            .find(|p| &p.id == id)
            .with_context(|| format!("{}: no project '{id}'", scene.path.display()))?;
        if self.scenario.max(self.compare) > spec.scenarios.len() {
            bail!(
                "project '{id}' has {} scenarios; --scenario and --compare are 0 (today) to {}",
                spec.scenarios.len(),
                spec.scenarios.len()
            );
        }
        let frame = citytwin::geo::LocalFrame::new(scene.file.origin)?;
        let site = citytwin::plan::project::read_site(scene, spec, &frame)
            .map_err(|e| anyhow::anyhow!(e))?;
        let r = geo::BoundingRect::bounding_rect(&site).context("the site has no extent")?;
        let centre = frame.to_lonlat(citytwin::geo::LocalPoint::new(r.center().x, r.center().y))?;
        scene.file.views.insert(
            0,
            citytwin::scene::View {
                name: format!("plan-{id}"),
                look_at: centre,
                distance_m: (r.width().hypot(r.height()) * 1.1).max(150.0),
                pitch_deg: 50.0,
                heading_deg: 0.0,
            },
        );
        scene.hidden_site = Some(site);
        Ok(Some(citytwin::view::plan::PlanRequest {
            project: id.clone(),
            scenario: self.scenario,
            compare: self.compare,
            mode: self.mode,
            swipe: self.swipe,
            showing_before: false,
            sun: Default::default(),
            shadows_at: self.sun_time,
            shadows_playing: false,
            measure: self.measure,
        }))
    }
}

impl SceneArg {
    fn load(&self) -> Result<Scene> {
        let path = match &self.scene {
            Some(path) => path.clone(),
            None => {
                let path = default_scene_path();
                citytwin::generate::city_files::ensure_builtin(&path)?;
                path
            }
        };
        let mut scene = Scene::load(&path)?;
        if let Some(language) = self.language {
            scene.file.language = language;
        }
        Ok(scene)
    }
}

fn parse_size(s: &str) -> Result<(u32, u32), String> {
    let (w, h) = s
        .split_once(['x', 'X'])
        .ok_or_else(|| format!("'{s}' is not WIDTHxHEIGHT"))?;
    let w: u32 = w.parse().map_err(|_| format!("bad width in '{s}'"))?;
    let h: u32 = h.parse().map_err(|_| format!("bad height in '{s}'"))?;
    if !(320..=16384).contains(&w) || !(240..=16384).contains(&h) {
        return Err(format!("size {w}x{h} is out of range"));
    }
    Ok((w, h))
}

fn parse_point(s: &str) -> Result<(f32, f32), String> {
    let (x, y) = s
        .split_once(',')
        .ok_or_else(|| format!("'{s}' is not X,Y"))?;
    let x: f32 = x.trim().parse().map_err(|_| format!("bad X in '{s}'"))?;
    let y: f32 = y.trim().parse().map_err(|_| format!("bad Y in '{s}'"))?;
    if !(x.is_finite()
        && y.is_finite()
        && (0.0..=16384.0).contains(&x)
        && (0.0..=16384.0).contains(&y))
    {
        return Err(format!("'{s}' is not a point within the window"));
    }
    Ok((x, y))
}

fn parse_day(s: &str) -> Result<citytwin::plan::sun::StandardDay, String> {
    use citytwin::plan::sun::StandardDay;
    match s {
        "major-cold" | "大寒" | "大寒日" => Ok(StandardDay::MajorCold),
        "winter-solstice" | "冬至" | "冬至日" => Ok(StandardDay::WinterSolstice),
        _ => Err(format!(
            "'{s}' is not a standard day (major-cold or winter-solstice)"
        )),
    }
}

fn parse_lonlat(s: &str) -> Result<citytwin::geo::LonLat, String> {
    let (lon, lat) = s
        .split_once(',')
        .ok_or_else(|| format!("'{s}' is not LON,LAT"))?;
    let p = citytwin::geo::LonLat::new(
        lon.trim()
            .parse()
            .map_err(|_| format!("bad longitude in '{s}'"))?,
        lat.trim()
            .parse()
            .map_err(|_| format!("bad latitude in '{s}'"))?,
    );
    if !p.is_valid() {
        return Err(format!("'{s}' is not a valid longitude, latitude"));
    }
    Ok(p)
}

fn options(scene: Scene, feeds: &[String]) -> Result<TwinOptions> {
    let options = TwinOptions::from_scene(scene)?;
    if feeds.is_empty() {
        return Ok(options);
    }
    Ok(options.with_feeds(feeds)?)
}

/// A clap parser for a number within `min..=max` (finite, for floats), so an absurd
/// value is refused with the option's name instead of overflowing later.
fn within<T>(min: T, max: T) -> impl Fn(&str) -> Result<T, String> + Clone + Send + Sync
where
    T: std::str::FromStr + PartialOrd + std::fmt::Display + Copy + Send + Sync + 'static,
{
    move |s: &str| {
        let v: T = s
            .trim()
            .parse()
            .map_err(|_| format!("'{s}' is not a number"))?;
        // NaN fails both comparisons, so it is refused too.
        if v >= min && v <= max {
            Ok(v)
        } else {
            Err(format!("{s} is outside {min}..={max}"))
        }
    }
}

/// One `bench frames` run in a process of its own, with `extra` flags; its figures.
fn frames_run(
    scene: &SceneArg,
    (w, h): (u32, u32),
    view: Option<&str>,
    frames: usize,
    extra: &[&str],
) -> Result<BTreeMap<String, f64>> {
    let exe = std::env::current_exe().context("cannot find this program")?;
    let mut cmd = std::process::Command::new(&exe);
    cmd.args(["bench", "frames", "--result-line", "--frames"])
        .arg(frames.to_string())
        .arg("--size")
        .arg(format!("{w}x{h}"))
        .args(extra);
    if let Some(path) = &scene.scene {
        cmd.arg("--scene").arg(path);
    }
    if let Some(view) = view {
        cmd.args(["--view", view]);
    }
    let out = cmd
        .stderr(std::process::Stdio::inherit())
        .output()
        .context("cannot start the benchmark run")?;
    let text = String::from_utf8_lossy(&out.stdout);
    for l in text.lines().filter(|l| !l.starts_with("bench-frames:")) {
        println!("{l}");
    }
    let line = text
        .lines()
        .find_map(|l| l.strip_prefix("bench-frames:"))
        .with_context(|| format!("the run printed no figures ({})", out.status))?;
    Ok(line
        .split_whitespace()
        .filter_map(|kv| kv.split_once('='))
        .filter_map(|(k, v)| Some((k.to_string(), v.parse().ok()?)))
        .collect())
}

/// `bench ui`: the wall at `size` with every panel open, then without panels.
fn bench_ui(scene: &SceneArg, size: (u32, u32), frames: usize) -> Result<ExitCode> {
    println!(
        "the wall at {}x{} with every panel open (an incident selected)",
        size.0, size.1
    );
    let with = frames_run(scene, size, None, frames, &["--select-incident"])?;
    println!("baseline: the same wall without panels");
    let without = frames_run(scene, size, None, frames, &["--no-panels"])?;
    let get = |m: &BTreeMap<String, f64>, k: &str| m.get(k).copied().unwrap_or(f64::NAN);
    let (ui, frame, bare) = (
        get(&with, "ui_p50_ms"),
        get(&with, "frame_p50_ms"),
        get(&without, "frame_p50_ms"),
    );
    println!(
        "panels: egui pass p50 {ui:.2} ms a frame (target under 3 ms); whole frame p50 {bare:.1} ms without panels → {frame:.1} ms with them ({:.2}×); main-world CPU {:.1} → {:.1} ms",
        frame / bare,
        get(&without, "cpu_p50_ms"),
        get(&with, "cpu_p50_ms"),
    );
    println!(
        "summary: ui_ms={ui:.3} frame_ms_7680={frame:.1} frame_ms_7680_no_panels={bare:.1} frame_ratio={:.3}",
        frame / bare
    );
    Ok(ExitCode::SUCCESS)
}

/// `bench frames --compare`: the same scene, view and size without and with the
/// scene's devices, each in a process of its own (a window's event loop runs once per
/// process), and the ratios.
fn compare_frames(
    scene: &SceneArg,
    size: (u32, u32),
    view: Option<&str>,
    frames: usize,
) -> Result<ExitCode> {
    let run = |without: bool| {
        let flags: &[&str] = if without { &["--without-devices"] } else { &[] };
        frames_run(scene, size, view, frames, flags)
    };
    println!("baseline: the city without devices");
    let base = run(true)?;
    println!("the city with its devices");
    let with = run(false)?;
    let get = |m: &BTreeMap<String, f64>, k: &str| m.get(k).copied().unwrap_or(f64::NAN);
    println!(
        "markers add: {} markers; whole frame p50 {:.1} → {:.1} ms ({:.2}×), main-world CPU p50 {:.1} → {:.1} ms ({:.2}×), draw batches {} → {}",
        get(&with, "markers"),
        get(&base, "frame_p50_ms"),
        get(&with, "frame_p50_ms"),
        get(&with, "frame_p50_ms") / get(&base, "frame_p50_ms"),
        get(&base, "cpu_p50_ms"),
        get(&with, "cpu_p50_ms"),
        get(&with, "cpu_p50_ms") / get(&base, "cpu_p50_ms"),
        get(&base, "batches"),
        get(&with, "batches"),
    );
    Ok(ExitCode::SUCCESS)
}

fn run_window(options: &TwinOptions, window: &WindowOptions) -> ExitCode {
    exit_code(citytwin::wall_app(options, window).run())
}

fn exit_code(exit: bevy::app::AppExit) -> ExitCode {
    match exit {
        bevy::app::AppExit::Success => ExitCode::SUCCESS,
        bevy::app::AppExit::Error(code) => ExitCode::from(code.get()),
    }
}

fn main() -> ExitCode {
    match run(Cli::parse()) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("citytwin: {e:#}");
            ExitCode::FAILURE
        }
    }
}

fn run(cli: Cli) -> Result<ExitCode> {
    let command = cli.command.unwrap_or(Command::Wall {
        scene: SceneArg {
            scene: None,
            language: None,
        },
        feeds: Vec::new(),
        size: (1920, 1080),
        fullscreen: false,
        view: None,
        select: None,
        instance: None,
        journal: None,
        plan: PlanArg::defaults(None),
        wall: WallArg::default(),
    });
    match command {
        Command::Wall {
            scene,
            feeds,
            size,
            fullscreen,
            view,
            select,
            instance,
            journal,
            plan,
            wall,
        } => {
            let mut scene = scene.load()?;
            let plan = plan.apply(&mut scene)?;
            let mut options = options(scene, &feeds)?;
            options.instance = instance;
            options.journal = journal.or_else(|| options.scene_journal());
            let window = WindowOptions {
                size,
                fullscreen,
                view,
                shot: None,
                also: Vec::new(),
                click: Vec::new(),
                select,
                plan,
                layout: wall.layout(size)?,
                sync: wall.sync(),
            };
            Ok(run_window(&options, &window))
        }
        Command::Shot {
            scene,
            out,
            size,
            view,
            click,
            select,
            also,
            feeds,
            plan,
            wall,
        } => {
            let mut scene = scene.load()?;
            let plan = plan.apply(&mut scene)?;
            if let Some(v) = &view
                && scene.view(v).is_none()
            {
                let names: Vec<_> = scene.file.views.iter().map(|v| v.name.as_str()).collect();
                bail!(
                    "no view '{v}' in {}; it has: {}",
                    scene.path.display(),
                    names.join(", ")
                );
            }
            let options = options(scene, &feeds)?;
            let window = WindowOptions {
                size,
                fullscreen: false,
                view,
                shot: Some(out),
                also,
                click: click
                    .into_iter()
                    .map(|(x, y)| bevy::math::Vec2::new(x, y))
                    .collect(),
                select,
                plan,
                layout: wall.layout(size)?,
                sync: wall.sync(),
            };
            Ok(run_window(&options, &window))
        }
        Command::Plan {
            scene,
            project,
            day,
            year,
            report,
            csv,
            note,
            at,
            author,
            scenario,
            print,
            shots,
            sun_time,
            size,
            fullscreen,
        } => {
            let mut scene = scene.load()?;
            if !print && report.is_none() && csv.is_none() && note.is_none() {
                // The planner's window: the first proposal against today.
                let id = match project {
                    Some(id) => id,
                    None => scene
                        .file
                        .projects
                        .first()
                        .map(|p| p.id.clone())
                        .with_context(|| {
                            format!("{}: the scene has no projects", scene.path.display())
                        })?,
                };
                let arg = PlanArg {
                    sun_time,
                    ..PlanArg::defaults(Some(id))
                };
                let mut plan = arg.apply(&mut scene)?;
                if let Some(p) = &mut plan {
                    p.sun.day = day;
                    p.sun.year = year;
                }
                let options = options(scene, &[])?;
                let options = citytwin::TwinOptions {
                    feeds: Vec::new(),
                    ..options
                };
                let window = WindowOptions {
                    size,
                    fullscreen,
                    view: None,
                    shot: None,
                    also: Vec::new(),
                    click: Vec::new(),
                    select: None,
                    plan,
                    layout: None,
                    sync: None,
                };
                return Ok(run_window(&options, &window));
            }
            let author = author
                .or_else(|| std::env::var("USER").ok())
                .unwrap_or_default();
            let options = citytwin::plan::cli::PlanOptions {
                project,
                sun: citytwin::plan::review::SunSettings {
                    day,
                    year,
                    ..Default::default()
                },
                report,
                csv,
                note: note
                    .zip(at)
                    .map(|(text, at)| citytwin::plan::cli::note_now(at, &text, &author, scenario)),
                shots,
            };
            let text = citytwin::plan::cli::run(&scene, &options)
                .map_err(|e| anyhow::anyhow!("plan: {e}"))?;
            print!("{text}");
            Ok(ExitCode::SUCCESS)
        }
        Command::Check { scene, strict } => {
            let mut scene = scene.load()?;
            scene.strict_geometry = strict;
            check(&scene)
        }
        Command::Report {
            scene,
            feeds,
            until,
            out,
            timeout,
        } => {
            let mut options = options(scene.load()?, &feeds)?;
            for (_, spec) in &mut options.feeds {
                if let FeedSpec::Replay { looping, speed, .. } = spec {
                    *looping = false;
                    if !feeds.iter().any(|f| f.contains('@')) {
                        *speed = None;
                    }
                }
            }
            let report = citytwin::ops::report::run(
                &options,
                until,
                std::time::Duration::from_secs_f64(timeout),
            )
            .map_err(|e| anyhow::anyhow!("report: {e}"))?;
            let text = serde_json::to_string_pretty(&report)?;
            std::fs::write(&out, text).with_context(|| format!("{}", out.display()))?;
            println!(
                "report at {}: {} alerts ({} open), {} work orders ({} overdue) → {}",
                report.at,
                report.alerts.len(),
                report.alerts.iter().filter(|a| a.is_open()).count(),
                report.orders.len(),
                report.kpis.orders_overdue,
                out.display()
            );
            Ok(ExitCode::SUCCESS)
        }
        Command::Feeds {
            which:
                FeedsKind::Convert {
                    input,
                    output,
                    level,
                },
        } => {
            let done = citytwin::feeds::recording::convert(&input, &output, level)?;
            for skipped in &done.skipped {
                eprintln!("feeds convert: {}: skipped {skipped}", input.display());
            }
            println!(
                "feeds convert: {} messages written to {} ({} skipped)",
                done.written,
                output.display(),
                done.skipped.len()
            );
            Ok(ExitCode::SUCCESS)
        }
        Command::Feeds {
            which:
                FeedsKind::Checkpoint {
                    input,
                    output,
                    scene,
                    every_min,
                    level,
                },
        } => {
            anyhow::ensure!(
                input != output,
                "the copy with checkpoints needs another file than {}",
                input.display()
            );
            let options = TwinOptions::from_scene(scene.load()?).map_err(anyhow::Error::msg)?;
            let every = chrono::TimeDelta::minutes(i64::from(every_min));
            let n = citytwin::ops::state::add_checkpoints(&options, &input, &output, every, level)?;
            println!(
                "{}: {n} checkpoints of the twin's state, one every {every_min} min → {}",
                input.display(),
                output.display()
            );
            Ok(ExitCode::SUCCESS)
        }
        Command::Feeds {
            which: FeedsKind::Info { file },
        } => {
            if !citytwin::feeds::recording::is_mcap(&file)
                .with_context(|| format!("reading {}", file.display()))?
            {
                anyhow::bail!(
                    "{} is not an MCAP recording (NDJSON? `citytwin feeds convert` makes one)",
                    file.display()
                );
            }
            let mut rec =
                citytwin::feeds::recording::Recording::open(&file).map_err(anyhow::Error::msg)?;
            let info = rec.info();
            print!("{}", info.render(&rec));
            Ok(ExitCode::SUCCESS)
        }
        Command::Record {
            feeds,
            out,
            duration,
            tls_ca,
            credentials,
            instance,
        } => {
            let cwd = std::env::current_dir().context("no working directory")?;
            let creds = match &credentials {
                Some(path) => citytwin::feeds::secrets::Credentials::load(path),
                None => citytwin::feeds::secrets::Credentials::locate(None, &cwd),
            }
            .map_err(|e| anyhow::anyhow!(e))?;
            let config = citytwin::feeds::FeedConfig {
                sources: citytwin::feeds::resolve(&feeds, &cwd, &creds)?,
                tls_ca,
                instance,
                security: Default::default(),
            };
            for (_, spec) in &config.sources {
                for warning in spec.warnings() {
                    eprintln!("record: warning: {warning}");
                }
            }
            let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
            let flag = stop.clone();
            std::thread::spawn(move || {
                // Ctrl-C ends the recording cleanly, with everything flushed.
                if let Ok(rt) = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                {
                    let _ = rt.block_on(tokio::signal::ctrl_c());
                    flag.store(true, std::sync::atomic::Ordering::Relaxed);
                }
            });
            let duration = duration.map(std::time::Duration::from_secs_f64);
            let summary = citytwin::feeds::record::record(&config, &out, duration, stop)?;
            println!(
                "recorded {} messages to {} ({} rejected)",
                summary.written,
                out.display(),
                summary.rejected
            );
            Ok(ExitCode::SUCCESS)
        }
        Command::Soak {
            hours,
            speed,
            out,
            scale,
            fault_every_s,
            retire_after_h,
        } => {
            let opts = citytwin::soak::SoakOptions {
                hours,
                speed,
                out: out.clone(),
                scale,
                restart_every: std::time::Duration::from_secs_f64(fault_every_s),
                retire_after_h,
            };
            let r = citytwin::soak::run(&opts, |line| println!("soak: {line}"))?;
            for f in &r.faults {
                println!("fault: {f}");
            }
            let row = |what: &str, c: &citytwin::soak::Counted| {
                println!(
                    "  {what:<10} published {:>9}  received {:>9}  applied {:>9}",
                    c.published, c.received, c.applied
                )
            };
            println!("messages end to end:");
            row("orders", &r.orders);
            row("alarms", &r.alarms);
            row("telemetry", &r.telemetry);
            if !r.telemetry_not_applied.is_empty() {
                let why: Vec<String> = r
                    .telemetry_not_applied
                    .iter()
                    .map(|(k, v)| format!("{k} {v}"))
                    .collect();
                println!("  telemetry not applied: {}", why.join(", "));
            }
            println!(
                "{} samples over {:.1?} of wall time; resident memory {:.0} MB after warm-up, {:.0} MB at the end ({:+.2} %); entities {} → {} ({} retired); largest queue {}; frame {:.2} ms mean, {:.1} ms max; {} broker restarts, {} HTTP faults",
                r.samples,
                r.wall,
                r.rss_warm_mb,
                r.rss_end_mb,
                r.rss_growth_pct,
                r.entities_start,
                r.entities_end,
                r.retired,
                r.max_queue,
                r.frame_ms_mean,
                r.frame_ms_max,
                r.broker_restarts,
                r.http_faults
            );
            println!(
                "wrote {} and {}",
                out.join("soak.csv").display(),
                out.join("soak.png").display()
            );
            println!("{}", citytwin::soak::summary(&r));
            Ok(ExitCode::SUCCESS)
        }
        Command::Fuzz {
            targets,
            minutes,
            seed,
            crashes,
        } => {
            use citytwin::fuzz::Target;
            let targets = if targets.is_empty() {
                Target::ALL.to_vec()
            } else {
                targets
            };
            let repo = std::env::current_dir().context("no working directory")?;
            if !repo.join("data-feeds/SCHEMA.md").exists() {
                bail!(
                    "run `citytwin fuzz` from the repository root: its seeds are the repository's files"
                );
            }
            let scratch =
                std::env::temp_dir().join(format!("citytwin-fuzz-{}", std::process::id()));
            let mut found = 0;
            for target in targets {
                let r = citytwin::fuzz::fuzz(
                    target,
                    &repo,
                    std::time::Duration::from_secs_f64(minutes * 60.0),
                    seed,
                    &crashes,
                    &scratch,
                    true,
                )?;
                println!(
                    "fuzz {:<11} {:>10} executions in {:>6.1} s ({:>7.0}/s), corpus {} seeds ({} bytes), {} crashes",
                    target.name(),
                    r.executions,
                    r.elapsed.as_secs_f64(),
                    r.executions as f64 / r.elapsed.as_secs_f64().max(1e-9),
                    r.seeds,
                    r.seed_bytes,
                    r.crashes.len()
                );
                for c in &r.crashes {
                    println!("  crash: {}", c.display());
                }
                found += r.crashes.len();
            }
            let _ = std::fs::remove_dir_all(&scratch);
            Ok(if found == 0 {
                ExitCode::SUCCESS
            } else {
                ExitCode::FAILURE
            })
        }
        Command::Bench {
            which: BenchKind::City { scale, dir, frames },
        } => bench_city(scale, dir, frames),
        Command::Bench {
            which: BenchKind::Sun { dir, samples, year },
        } => {
            let f = citytwin::bench::sun::run(dir, samples, year)
                .map_err(|e| anyhow::anyhow!("bench sun: {e}"))?;
            citytwin::bench::sun::print(&f);
            Ok(ExitCode::SUCCESS)
        }
        Command::Bench {
            which:
                BenchKind::Import {
                    dir,
                    small_extent_m,
                },
        } => {
            let f = citytwin::bench::import::run(dir, small_extent_m)
                .map_err(|e| anyhow::anyhow!("bench import: {e}"))?;
            citytwin::bench::import::print(&f);
            Ok(ExitCode::SUCCESS)
        }
        Command::Bench {
            which:
                BenchKind::Frames {
                    scene,
                    size,
                    view,
                    frames,
                    without_devices,
                    compare,
                    result_line,
                    no_panels,
                    select_incident,
                },
        } => {
            if compare {
                return compare_frames(&scene, size, view.as_deref(), frames);
            }
            let mut options = options(scene.load()?, &[])?;
            if without_devices {
                options.feeds.clear();
            }
            let window = WindowOptions {
                size,
                fullscreen: false,
                view,
                shot: None,
                also: Vec::new(),
                click: Vec::new(),
                select: None,
                plan: None,
                layout: None,
                sync: None,
            };
            let mut app = citytwin::wall_app(&options, &window);
            app.insert_resource(citytwin::view::framebench::FrameBench {
                frames,
                result_line,
            })
            .insert_resource(citytwin::view::camera::AutoTour {
                enabled: false,
                ..Default::default()
            });
            if no_panels {
                app.insert_resource(citytwin::ui::NoPanels);
            }
            if select_incident {
                app.insert_resource(citytwin::view::framebench::SelectAnIncident);
            }
            Ok(exit_code(app.run()))
        }
        Command::Bench {
            which:
                BenchKind::Ui {
                    scene,
                    size,
                    frames,
                },
        } => bench_ui(&scene, size, frames),
        Command::Bench {
            which: BenchKind::Ingest { messages, devices },
        } => {
            let f = citytwin::feeds::bench::ingest(messages, devices.max(1));
            let plain = f.rate(f.plain_decode);
            let profile = if cfg!(debug_assertions) {
                "dev"
            } else {
                "release"
            };
            println!(
                "ingest: {} device updates over {} devices ({profile} build, every update applied)",
                f.messages, f.devices
            );
            let row = |label: &str, d: std::time::Duration| {
                let rate = f.rate(d);
                println!(
                    "  {label:<40} {rate:>10.0} msg/s  {:>5.2}× plain  ({d:.2?})",
                    rate / plain
                );
            };
            row("plain serde decode (baseline)", f.plain_decode);
            row("our decode + validation", f.decode);
            row("decode, then apply (one thread)", f.decode_then_apply);
            row("decode on source thread → apply in ECS", f.pipeline);
            println!(
                "  target: decode + apply ≥ 0.5× plain decode and ≥ 1,000,000 msg/s (last row: how the app runs)"
            );
            println!(
                "summary: plain_msg_s={:.0} decode_msg_s={:.0} apply_msg_s={:.0} pipeline_msg_s={:.0} apply_vs_plain={:.3} pipeline_vs_plain={:.3}",
                plain,
                f.rate(f.decode),
                f.rate(f.decode_then_apply),
                f.rate(f.pipeline),
                f.rate(f.decode_then_apply) / plain,
                f.rate(f.pipeline) / plain
            );
            Ok(ExitCode::SUCCESS)
        }
        Command::Bench {
            which:
                BenchKind::Mqtt {
                    burst,
                    rate,
                    seconds,
                    qos,
                },
        } => {
            let f = citytwin::feeds::bench::mqtt::mqtt(burst, rate, seconds, qos)
                .map_err(|e| anyhow::anyhow!("bench mqtt: {e}"))?;
            let per_s = |n: u64, d: std::time::Duration| n as f64 / d.as_secs_f64().max(1e-9);
            let (sub, ours) = (
                per_s(f.burst_messages, f.sub_time),
                per_s(f.burst_messages, f.our_time),
            );
            println!(
                "mqtt: publisher (QoS {qos}) → mosquitto → subscribers (QoS 1), on loopback; the app at 60 frames/s"
            );
            println!(
                "  burst of {} messages, time to read them all:",
                f.burst_messages
            );
            println!(
                "    mosquitto_sub          {sub:>10.0} msg/s  ({:.2?})",
                f.sub_time
            );
            println!(
                "    citytwin (into ECS)    {ours:>10.0} msg/s  ({:.2?})",
                f.our_time
            );
            println!(
                "    ratio                  {:>10.2}  (target ≥ 0.9)",
                ours / sub
            );
            println!(
                "  paced at {} msg/s for {seconds} s: the publisher sent {} ({:.0} msg/s), all taken {:.1?} after the start",
                f.paced_rate,
                f.paced_sent,
                f.paced_sent as f64 / seconds,
                f.paced_time
            );
            println!(
                "    lag publish → applied  p50 {:.1?}  p99 {:.1?}  max {:.1?}  (target p99 < one frame + 5 ms = {:.1?})",
                f.lag_p50,
                f.lag_p99,
                f.lag_max,
                citytwin::feeds::bench::mqtt::FRAME + std::time::Duration::from_millis(5)
            );
            println!(
                "    frames {:.2?} apart on average (60 Hz beat); longest frame update {:.1?}; coalesced {}, rejected {}",
                f.frame_interval, f.longest_update, f.coalesced, f.rejected
            );
            let ms = |d: std::time::Duration| d.as_secs_f64() * 1000.0;
            println!(
                "summary: sub_msg_s={sub:.0} ours_msg_s={ours:.0} ours_vs_sub={:.3} lag_p50_ms={:.2} lag_p99_ms={:.2} lag_max_ms={:.2} frame_interval_ms={:.2}",
                ours / sub,
                ms(f.lag_p50),
                ms(f.lag_p99),
                ms(f.lag_max),
                ms(f.frame_interval)
            );
            Ok(ExitCode::SUCCESS)
        }
        Command::Bench {
            which:
                BenchKind::Ops {
                    cameras,
                    queries,
                    events,
                    frames,
                },
        } => {
            if cameras < 10 || queries == 0 || events == 0 || frames == 0 || cameras > 10_000_000 {
                anyhow::bail!("bench ops: at least 10 cameras, one query, event and frame");
            }
            let f = citytwin::bench::ops::run(cameras, queries, events, frames)
                .map_err(|e| anyhow::anyhow!("bench ops: {e}"))?;
            println!(
                "10 nearest of {} cameras, {} incident points:",
                f.cameras, f.queries
            );
            println!("  rstar index       {:>10.2} µs/query", f.knn_us);
            println!(
                "  brute force       {:>10.2} µs/query   index {:.0}× faster",
                f.brute_us,
                f.brute_us / f.knn_us
            );
            match f.postgis_us {
                Some(pg) => println!(
                    "  PostGIS (GiST, <-> LATERAL) {:>6.2} µs/query   index {:.1}× faster (target ≥ 30×); same 10 ids in {}/{} queries",
                    pg,
                    pg / f.knn_us,
                    f.postgis_agree.0,
                    f.postgis_agree.1
                ),
                None => println!("  PostGIS           not measured (see above)"),
            }
            println!("grid of {} events among {} micro-grids:", f.events, f.grids);
            println!("  rstar + point-in-polygon {:>8.3} µs/lookup", f.pip_us);
            println!(
                "  brute force              {:>8.1} µs/lookup   index {:.0}× faster",
                f.pip_brute_us,
                f.pip_brute_us / f.pip_us
            );
            println!(
                "rules and KPIs: {} devices at the real rates ({:.1} reports/frame), {} open orders",
                f.devices, f.messages_per_frame, f.open_orders
            );
            println!(
                "  headless frame (ingest, rules, orders, linkage, KPIs)  mean {:.3} ms  p99 {:.3} ms  (target < 2 ms)",
                f.frame_ms_mean, f.frame_ms_p99
            );
            println!(
                "  KPI refresh over every device and order (twice a second)  {:.2} ms",
                f.kpi_refresh_ms
            );
            let pg = f.postgis_us.unwrap_or(0.0);
            println!(
                "summary: knn_us={:.3} postgis_us={:.3} knn_vs_postgis={:.1} knn_vs_brute={:.1} pip_us={:.4} pip_vs_brute={:.1} rules_kpis_ms={:.3} rules_kpis_p99_ms={:.3} kpi_refresh_ms={:.3}",
                f.knn_us,
                pg,
                if pg > 0.0 { pg / f.knn_us } else { 0.0 },
                f.brute_us / f.knn_us,
                f.pip_us,
                f.pip_brute_us / f.pip_us,
                f.frame_ms_mean,
                f.frame_ms_p99,
                f.kpi_refresh_ms
            );
            Ok(ExitCode::SUCCESS)
        }
        Command::Bench {
            which:
                BenchKind::Replay {
                    scale,
                    file,
                    seeks,
                    ten_minutes,
                },
        } => {
            let file = match file {
                Some(f) => f,
                None if ten_minutes => citytwin::bench::replay::city_recording(scale)
                    .map_err(|e| anyhow::anyhow!("bench replay: {e}"))?,
                None => citytwin::bench::replay::day_recording(scale)
                    .map_err(|e| anyhow::anyhow!("bench replay: {e}"))?,
            };
            let f = citytwin::bench::replay::run(&file, seeks)
                .map_err(|e| anyhow::anyhow!("bench replay: {e}"))?;
            let decode = f.rate(f.decode);
            let replay = f.rate(f.replay);
            println!(
                "replay: {} ({} messages, {} – {}, {:.1} MB, {:.1} bytes a message)",
                f.file.display(),
                f.messages,
                f.span.0.format("%Y-%m-%d %H:%M:%S"),
                f.span.1.format("%H:%M:%S"),
                f.bytes as f64 / 1e6,
                f.bytes_per_message()
            );
            println!(
                "  decompress + decode          {decode:>10.0} msg/s  ({:.2?})",
                f.decode
            );
            println!(
                "  replay into the ECS (@max)   {replay:>10.0} msg/s  ({:.2?}, {:.2}× decode)",
                f.replay,
                replay / decode
            );
            if !f.seeks.is_empty() {
                println!(
                    "  {} seeks to random times (restart, the nearest checkpoint of the twin's state, fast play to the target): median {:.0} ms, worst {:.0} ms",
                    f.seeks.len(),
                    f.seek_median().as_secs_f64() * 1e3,
                    f.seek_worst().as_secs_f64() * 1e3
                );
            }
            if !f.restores.is_empty() {
                println!(
                    "  {} seeks to a checkpoint's own time (the restore alone): median {:.0} ms",
                    f.restores.len(),
                    f.restore_median().as_secs_f64() * 1e3
                );
            }
            println!(
                "summary: replay_vs_decode={:.3} seek_worst_ms={:.1} seek_median_ms={:.1} restore_ms={:.1} bytes_per_msg={:.1} replay_msg_s={replay:.0} decode_msg_s={decode:.0} messages={}",
                replay / decode,
                f.seek_worst().as_secs_f64() * 1e3,
                f.seek_median().as_secs_f64() * 1e3,
                f.restore_median().as_secs_f64() * 1e3,
                f.bytes_per_message(),
                f.messages
            );
            Ok(ExitCode::SUCCESS)
        }
        Command::Bench {
            which: BenchKind::State { cameras, devices },
        } => {
            let f = citytwin::feeds::bench::feed_state(cameras, devices);
            let n = (f.cameras + f.devices).max(1) as f64;
            println!(
                "feed state: {} cameras + {} devices in the ECS",
                f.cameras, f.devices
            );
            println!(
                "  resident before the feed  {:>8.1} MB",
                f.baseline_bytes as f64 / 1e6
            );
            println!(
                "  added by the feed state   {:>8.1} MB  (target < 300 MB)",
                f.bytes as f64 / 1e6
            );
            println!(
                "  per camera or device      {:>8.0} bytes",
                f.bytes as f64 / n
            );
            println!(
                "summary: state_mb={:.1} bytes_per_item={:.0} baseline_mb={:.1}",
                f.bytes as f64 / 1e6,
                f.bytes as f64 / n,
                f.baseline_bytes as f64 / 1e6
            );
            Ok(ExitCode::SUCCESS)
        }
        Command::Import {
            file,
            out,
            kind,
            crs,
            encoding,
            table,
        } => import_file(&file, &out, kind, crs, encoding, table),
        Command::GenCity { scale, out, seed } => {
            let started = std::time::Instant::now();
            let bar = indicatif::ProgressBar::new(0).with_style(
                indicatif::ProgressStyle::with_template(
                    "{elapsed:>4} [{bar:32}] {pos}/{len} {msg}",
                )?
                .progress_chars("=> "),
            );
            let r = citytwin::generate::city_files::write_city(scale, seed, &out, &bar)?;
            println!(
                "gen-city {}: {} buildings, {} roads, {} districts, {} community grids, {} micro-grids, {} points of interest, {} pieces of land cover, {} cameras, {} IoT devices ({:.1} s)",
                scale.label(),
                r.buildings,
                r.roads,
                r.districts,
                r.grids,
                r.micro_grids,
                r.pois,
                r.land,
                r.cameras,
                r.devices,
                started.elapsed().as_secs_f64()
            );
            for f in r.files {
                println!("wrote {}", f.display());
            }
            Ok(ExitCode::SUCCESS)
        }
        Command::GenDay {
            scale,
            out,
            seed,
            level,
            checkpoint_every_min,
        } => {
            let started = std::time::Instant::now();
            let level = level.unwrap_or(match scale {
                citytwin::generate::city::Scale::Full => 9,
                _ => 19,
            });
            let every = chrono::TimeDelta::minutes(i64::from(checkpoint_every_min.unwrap_or(
                match scale {
                    citytwin::generate::city::Scale::Full => 60,
                    _ => 120,
                },
            )));
            let r = citytwin::generate::day::generate(scale, seed, &out, level, every, |what| {
                eprintln!("gen-day: {what} ({:.0} s)", started.elapsed().as_secs_f64())
            })?;
            let kinds: Vec<String> = r.per_kind.iter().map(|(k, n)| format!("{k} {n}")).collect();
            println!(
                "gen-day {}: {} messages ({}), {:.1} MB, {:.1} bytes a message, {} minutes of the day before in the opening checkpoint, {} checkpoints of the twin's state ({:.0} s) → {}",
                scale.label(),
                r.messages,
                kinds.join(", "),
                r.bytes as f64 / 1e6,
                r.bytes as f64 / r.messages.max(1) as f64,
                r.history_minutes,
                r.states,
                started.elapsed().as_secs_f64(),
                out.display()
            );
            for line in citytwin::generate::day::INCIDENTS {
                println!("  scripted: {line}");
            }
            Ok(ExitCode::SUCCESS)
        }
        Command::GenDemo { out } => {
            let written = citytwin::generate::write_demo(&out)?;
            for f in written {
                println!("wrote {}", f.display());
            }
            Ok(ExitCode::SUCCESS)
        }
    }
}

fn parse_kind(s: &str) -> Result<citytwin::scene::LayerKind, String> {
    use citytwin::scene::LayerKind as K;
    [
        K::Buildings,
        K::Roads,
        K::Districts,
        K::Subdistricts,
        K::Grids,
        K::Pois,
        K::Land,
    ]
    .into_iter()
    .find(|k| k.label().eq_ignore_ascii_case(s.trim()))
    .ok_or_else(|| {
        format!("'{s}' is not a layer kind (buildings, roads, districts, subdistricts, grids, pois, land)")
    })
}

fn import_file(
    file: &Path,
    out: &Path,
    kind: Option<citytwin::scene::LayerKind>,
    crs: Option<citytwin::geo::Crs>,
    encoding: Option<String>,
    table: Option<String>,
) -> Result<ExitCode> {
    use citytwin::city::prepare::{ImportOptions, Stage, import};
    let started = std::time::Instant::now();
    let bar = indicatif::ProgressBar::new(0).with_style(
        indicatif::ProgressStyle::with_template("{elapsed:>4} [{bar:32}] {pos}/{len} {msg}")?
            .progress_chars("=> "),
    );
    let options = ImportOptions {
        kind,
        crs,
        encoding,
        table,
    };
    let result = import(file, out, &options, |stage, done, total| {
        let message = match stage {
            Stage::Reading => "reading",
            Stage::Projecting => "projecting to WGS84",
            Stage::Writing => "writing features",
            Stage::Indexing => "building the spatial index",
        };
        bar.set_length(total as u64);
        bar.set_position(done as u64);
        bar.set_message(message);
    });
    bar.finish_and_clear();
    let imported = result.map_err(|e| anyhow::anyhow!("{}: {e}", file.display()))?;
    for p in imported.problems.iter().take(20) {
        eprintln!("{}: {p}", file.display());
    }
    if imported.problems.len() > 20 {
        eprintln!("… and {} more", imported.problems.len() - 20);
    }
    println!(
        "import: {} features of {} ({}) → {} ({:.1} s); snippet in {}",
        imported.written,
        imported.features,
        imported.source_crs,
        imported.output.display(),
        started.elapsed().as_secs_f64(),
        imported.snippet_path.display()
    );
    print!("{}", imported.snippet);
    Ok(ExitCode::SUCCESS)
}

fn bench_city(
    scale: citytwin::generate::city::Scale,
    dir: Option<PathBuf>,
    frames: usize,
) -> Result<ExitCode> {
    use citytwin::feeds::ingest::FeedEntities;
    use std::time::{Duration, Instant};
    let dir = dir
        .unwrap_or_else(|| std::env::temp_dir().join(format!("citytwin-bench-{}", scale.label())));
    let path = dir.join(citytwin::generate::city_files::SCENE);
    citytwin::generate::city_files::ensure(
        scale,
        citytwin::generate::city::DEFAULT_CITY_SEED,
        &path,
    )?;
    let scene = Scene::load(&path)?;
    let profile = if cfg!(debug_assertions) {
        "dev"
    } else {
        "release"
    };
    let f = citytwin::city::bench::load(&scene, 2);
    let mb = |b: u64| b as f64 / 1e6;
    println!(
        "city: {} scale, {} buildings, {:.0} MB of GeoJSON ({profile} build, best of 2)",
        scale.label(),
        f.run.buildings,
        mb(f.bytes)
    );
    let parse = f.parse.as_secs_f64();
    let row = |label: &str, d: Duration| {
        println!(
            "  {label:<44} {:>7.2} s  {:>5.2}× parse",
            d.as_secs_f64(),
            d.as_secs_f64() / parse
        );
    };
    row("parse with serde_json (baseline)", f.parse);
    row("load: parse, check, project, extrude, batch", f.run.load);
    row("Bevy meshes from the batches", f.run.meshes);
    row("start → all meshes built", f.ready());
    println!(
        "  {:.0} buildings/s; {} building meshes (draw calls for buildings), {:.1} M triangles",
        f.run.buildings as f64 / f.ready().as_secs_f64(),
        f.run.tiles,
        f.run.triangles as f64 / 1e6
    );
    match f.run.peak_rss {
        Some(b) => println!("  peak memory during the load: {:.0} MB", mb(b)),
        None => println!("  peak memory: not available on this system"),
    }
    println!("  targets: all meshes built < 2× parse and < 5 s for 300,000 buildings; peak < 2 GB");

    // The headless app with the whole city and every device of its recording.
    let options = citytwin::TwinOptions::from_scene(scene)?;
    let mut app = citytwin::headless_app(&options);
    let started = Instant::now();
    let (mut seen, mut still_since) = (0, Instant::now());
    while started.elapsed() < Duration::from_secs(300) {
        app.update();
        let n = app.world().resource::<FeedEntities>().len();
        let ready = app.world().resource::<citytwin::city::CityStatus>().phase
            == citytwin::city::LoadPhase::Ready;
        if n != seen {
            (seen, still_since) = (n, Instant::now());
        } else if ready && n > 0 && still_since.elapsed() > Duration::from_secs(2) {
            break;
        }
    }
    println!(
        "headless app: city and {seen} devices and cameras in after {:.1} s",
        started.elapsed().as_secs_f64()
    );
    let mut times: Vec<Duration> = (0..frames)
        .map(|_| {
            let t = Instant::now();
            app.update();
            t.elapsed()
        })
        .collect();
    times.sort();
    if let (Some(p50), Some(p95)) = (times.get(frames / 2), times.get(frames * 95 / 100)) {
        println!(
            "  frame CPU time, systems only (replay running): p50 {:.2} ms, p95 {:.2} ms over {frames} frames",
            p50.as_secs_f64() * 1e3,
            p95.as_secs_f64() * 1e3
        );
    }
    Ok(ExitCode::SUCCESS)
}

fn check(scene: &Scene) -> Result<ExitCode> {
    let report = citytwin::check::check(scene);
    println!("{report}");
    Ok(if report.ok() {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}
