//! The scene file: what a city view is made of (layers, models, views, feeds, language),
//! read from RON with strict field checking so a typo is an error with line and column.

pub mod ops;
pub mod wall;

use crate::geo::{Crs, LonLat};
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};

/// The scene the wall shows when started with no arguments: the synthetic central city,
/// generated there by `gen-city --scale city` on first use (not committed: see
/// `generate::city_files::ensure_builtin`).
pub const DEFAULT_SCENE: &str = "assets/zhengzhou/city/scene.ron";

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SceneFile {
    /// Shown in the wall's header.
    pub name: String,
    /// Origin of the local metric frame (WGS84). Pick a point near the data's centre.
    pub origin: LonLat,
    #[serde(default)]
    pub language: Language,
    /// Said on screen: the data is synthetic (demo) rather than a city's real data.
    #[serde(default)]
    pub synthetic: bool,
    #[serde(default)]
    pub layers: Vec<Layer>,
    /// The part of the world the scene shows: layers with a spatial index
    /// (FlatGeobuf) read only the features over it. Default: 100 km around `origin`.
    #[serde(default)]
    pub extent: Option<Extent>,
    #[serde(default)]
    pub models: Vec<Model>,
    #[serde(default)]
    pub views: Vec<View>,
    /// Feed specs, e.g. `replay:../data-feeds/erqi.ndjson@4`.
    #[serde(default)]
    pub feeds: Vec<String>,
    /// PEM file of CA certificates trusted for `mqtts://`, `https://` and camera
    /// snapshots besides the system's (relative to the scene file).
    #[serde(default)]
    pub tls_ca: Option<String>,
    /// A connected feed silent this many seconds is shown as stale (default 60).
    #[serde(default)]
    pub stale_after_s: Option<f64>,
    /// Alert rules, work-order deadlines, the working-day calendar, video linkage.
    #[serde(default)]
    pub operations: ops::OperationsSpec,
    /// Where credentials come from and which hosts and topics are trusted.
    #[serde(default)]
    pub security: SecuritySpec,
    /// Renovation projects planners review (`citytwin plan`): a site boundary and
    /// proposal scenarios.
    #[serde(default)]
    pub projects: Vec<crate::plan::project::Project>,
}

/// What the scene trusts. Everything not listed is refused.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SecuritySpec {
    /// The credentials file (RON, mode 0600), relative to the scene file;
    /// `CITYTWIN_CREDENTIALS` wins over it.
    #[serde(default)]
    pub credentials: Option<String>,
    /// Hosts an HTTP source may be redirected to besides its own (`host` or
    /// `*.domain`); https is never redirected to http.
    #[serde(default)]
    pub redirect_hosts: Vec<String>,
    /// Hosts camera snapshot URLs may name (`host`, `host:port` or `*.domain`): a feed
    /// must not make the wall fetch an internal address.
    #[serde(default)]
    pub snapshot_hosts: Vec<String>,
    /// MQTT topic filters on which operator actions are accepted (with the operators
    /// in `operations.operators`); an operator action on any other topic, or from an
    /// HTTP source, is refused.
    #[serde(default)]
    pub control_topics: Vec<String>,
}

/// Written as a language tag: `"zh-CN"` or `"en"`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub enum Language {
    /// Chinese first, with English beneath for visitors.
    #[default]
    Chinese,
    English,
}

impl TryFrom<String> for Language {
    type Error = String;

    fn try_from(tag: String) -> Result<Self, Self::Error> {
        match tag.to_ascii_lowercase().as_str() {
            "zh-cn" | "zh" | "zh-hans" => Ok(Language::Chinese),
            "en" | "en-us" | "en-gb" => Ok(Language::English),
            _ => Err(format!(
                "unknown language '{tag}' (expected \"zh-CN\" or \"en\")"
            )),
        }
    }
}

impl From<Language> for String {
    fn from(l: Language) -> String {
        match l {
            Language::Chinese => "zh-CN".into(),
            Language::English => "en".into(),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum LayerKind {
    Buildings,
    Roads,
    Districts,
    /// Street offices (街道): between districts and community grids.
    Subdistricts,
    Grids,
    Pois,
    /// Land cover: water, parks and green, squares (`class` property).
    Land,
}

impl LayerKind {
    pub fn label(self) -> &'static str {
        match self {
            LayerKind::Buildings => "buildings",
            LayerKind::Roads => "roads",
            LayerKind::Districts => "districts",
            LayerKind::Subdistricts => "subdistricts",
            LayerKind::Grids => "grids",
            LayerKind::Pois => "pois",
            LayerKind::Land => "land",
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Layer {
    pub kind: LayerKind,
    /// GeoJSON (`.geojson`, `.json`), Shapefile (`.shp`), GeoPackage (`.gpkg`) or
    /// FlatGeobuf (`.fgb`) file, relative to the scene file; the format is inferred
    /// from the extension.
    pub path: PathBuf,
    /// CRS of the coordinates in the file. When unset: the file's own (a Shapefile's
    /// `.prj`, a GeoPackage's spatial reference system, a FlatGeobuf header), else
    /// EPSG:4326. A legacy GeoJSON `crs` member is reported by `check` but this
    /// setting decides.
    #[serde(default)]
    pub crs: Option<Crs>,
    /// The feature table of a GeoPackage holding several (default: its only one).
    #[serde(default)]
    pub table: Option<String>,
    /// Attribute text encoding of a Shapefile's `.dbf` (`GBK`, `GB18030`, `UTF-8`, …;
    /// WHATWG labels). When unset: the `.cpg` file, else the `.dbf`'s code page mark.
    #[serde(default)]
    pub encoding: Option<String>,
    #[serde(default)]
    pub attributes: Attributes,
}

/// The scene's extent: a radius around the origin or a WGS84 box.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub enum Extent {
    /// Metres around `origin`.
    Radius(f64),
    /// Degrees: west, south, east, north.
    Bounds {
        west: f64,
        south: f64,
        east: f64,
        north: f64,
    },
}

/// The extent when a scene sets none: the whole of a municipality the size of
/// Zhengzhou's (about 7,500 km²) around an origin near its centre.
pub const DEFAULT_EXTENT_M: f64 = 100_000.0;

fn default_crs() -> Crs {
    Crs::WGS84
}

/// Which GeoJSON properties carry what. Unset fields fall back to defaults.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Attributes {
    pub id: Option<String>,
    pub name: Option<String>,
    /// Height in metres; wins over `levels`.
    pub height: Option<String>,
    /// Number of floors, multiplied by `metres_per_level`.
    pub levels: Option<String>,
    pub metres_per_level: f64,
    pub default_height_m: f64,
    /// Road class (expressway, arterial, secondary, local…).
    pub class: Option<String>,
    /// Road width in metres; otherwise derived from the class.
    pub width: Option<String>,
}

impl Default for Attributes {
    fn default() -> Self {
        Self {
            id: Some("id".into()),
            name: Some("name".into()),
            height: Some("height".into()),
            levels: Some("levels".into()),
            metres_per_level: 3.0,
            default_height_m: 10.0,
            class: Some("class".into()),
            width: Some("width".into()),
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Model {
    pub name: String,
    /// glTF or GLB file, relative to the scene file.
    pub path: PathBuf,
    pub position: LonLat,
    #[serde(default = "default_crs")]
    pub crs: Crs,
    /// Degrees clockwise from north of the model's −Z axis.
    #[serde(default)]
    pub heading_deg: f64,
    #[serde(default = "one")]
    pub scale: f64,
}

fn one() -> f64 {
    1.0
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct View {
    pub name: String,
    /// The point looked at (WGS84).
    pub look_at: LonLat,
    /// Distance from the camera to that point.
    pub distance_m: f64,
    /// Degrees below the horizon (90 = straight down).
    #[serde(default = "default_pitch")]
    pub pitch_deg: f64,
    /// Degrees clockwise from north the camera faces.
    #[serde(default)]
    pub heading_deg: f64,
}

fn default_pitch() -> f64 {
    45.0
}

#[derive(Debug, thiserror::Error)]
pub enum SceneError {
    #[error("{path}: cannot read scene file: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{path}:{line}:{col}: {message}")]
    Parse {
        path: PathBuf,
        line: usize,
        col: usize,
        message: String,
    },
    #[error("{path}: {message}")]
    Invalid { path: PathBuf, message: String },
}

/// A parsed scene plus where it came from (paths inside resolve against its folder).
#[derive(Debug, Clone)]
pub struct Scene {
    pub file: SceneFile,
    pub path: PathBuf,
    /// Refuse invalid polygons instead of repairing them (`check --strict`).
    pub strict_geometry: bool,
    /// Buildings whose centre lies in here (local metres) are left out of the city's
    /// meshes: a renovation site the plan view draws itself.
    pub hidden_site: Option<geo::MultiPolygon<f64>>,
}

impl Scene {
    pub fn load(path: &Path) -> Result<Self, SceneError> {
        let invalid = |message: String| SceneError::Invalid {
            path: path.to_owned(),
            message,
        };
        let meta = std::fs::metadata(path).map_err(|source| SceneError::Read {
            path: path.to_owned(),
            source,
        })?;
        if !meta.is_file() || meta.len() > MAX_SCENE_BYTES {
            return Err(invalid(format!(
                "not a regular file of at most {MAX_SCENE_BYTES} bytes"
            )));
        }
        let text = std::fs::read_to_string(path).map_err(|source| SceneError::Read {
            path: path.to_owned(),
            source,
        })?;
        Self::parse(&text, path)
    }

    pub fn parse(text: &str, path: &Path) -> Result<Self, SceneError> {
        // `implicit_some` lets a user write `height: "h"` rather than `Some("h")`.
        let options = ron::Options::default()
            .with_default_extension(ron::extensions::Extensions::IMPLICIT_SOME);
        let file: SceneFile = options.from_str(text).map_err(|e| SceneError::Parse {
            path: path.to_owned(),
            line: e.span.start.line,
            col: e.span.start.col,
            message: e.code.to_string(),
        })?;
        let invalid = |message: String| SceneError::Invalid {
            path: path.to_owned(),
            message,
        };
        if let Ok(value) = options.from_str::<ron::Value>(text) {
            check_numbers(&value, &mut String::new()).map_err(invalid)?;
        }
        if let Some(s) = file.stale_after_s
            && !(s > 0.0 && s <= 1e6)
        {
            return Err(invalid(format!(
                "stale_after_s {s} is not within 0–1000000 seconds"
            )));
        }
        for m in &file.models {
            if !(m.scale > 0.0 && m.scale <= 1e4) {
                return Err(invalid(format!(
                    "model '{}': scale {} is not within 0–10000",
                    m.name, m.scale
                )));
            }
        }
        if !file.origin.is_valid() {
            return Err(invalid(format!(
                "origin {} is not a valid lon/lat",
                file.origin
            )));
        }
        match file.extent {
            Some(Extent::Radius(m)) if !(m > 0.0 && m <= 2_000_000.0) => {
                return Err(invalid(format!(
                    "extent radius {m} m is not within 0–2000000 m"
                )));
            }
            Some(Extent::Bounds {
                west,
                south,
                east,
                north,
            }) if !(LonLat::new(west, south).is_valid()
                && LonLat::new(east, north).is_valid()
                && west < east
                && south < north) =>
            {
                return Err(invalid(format!(
                    "extent bounds ({west}, {south}, {east}, {north}) are not a lon/lat box \
                     with west < east and south < north"
                )));
            }
            _ => {}
        }
        file.operations.validate().map_err(invalid)?;
        let mut ids = std::collections::HashSet::new();
        for p in &file.projects {
            if p.id.trim().is_empty() || !ids.insert(p.id.as_str()) {
                return Err(invalid(format!(
                    "project id '{}' is empty or used twice",
                    p.id
                )));
            }
            if p.scenarios.is_empty() {
                return Err(invalid(format!("project '{}' has no scenarios", p.id)));
            }
            if let Some(m) = p
                .scenarios
                .iter()
                .flat_map(|s| &s.models)
                .find(|m| !m.position.is_valid())
            {
                return Err(invalid(format!(
                    "project '{}': model '{}' has no valid position",
                    p.id, m.name
                )));
            }
        }
        for view in &file.views {
            if !view.look_at.is_valid() || !view.distance_m.is_finite() || view.distance_m <= 0.0 {
                return Err(invalid(format!(
                    "view '{}' needs a valid look_at and a positive distance_m",
                    view.name
                )));
            }
        }
        Ok(Self {
            file,
            path: path.to_owned(),
            strict_geometry: false,
            hidden_site: None,
        })
    }

    /// The folder the scene's relative paths start from.
    pub fn base_dir(&self) -> PathBuf {
        match self.path.parent() {
            Some(p) if !p.as_os_str().is_empty() => p.to_owned(),
            _ => PathBuf::from("."),
        }
    }

    /// The scene's extent as a WGS84 box (south-west, north-east corners).
    pub fn extent_box(&self, frame: &crate::geo::LocalFrame) -> (LonLat, LonLat) {
        let radius = match self.file.extent {
            Some(Extent::Bounds {
                west,
                south,
                east,
                north,
            }) => return (LonLat::new(west, south), LonLat::new(east, north)),
            Some(Extent::Radius(m)) => m,
            None => DEFAULT_EXTENT_M,
        };
        let corner = |east_m: f64, north_m: f64| {
            frame
                .to_lonlat(crate::geo::LocalPoint::new(east_m, north_m))
                .unwrap_or(self.file.origin)
        };
        let (sw, ne) = (corner(-radius, -radius), corner(radius, radius));
        let (nw, se) = (corner(-radius, radius), corner(radius, -radius));
        (
            LonLat::new(sw.lon.min(nw.lon), sw.lat.min(se.lat)),
            LonLat::new(ne.lon.max(se.lon), ne.lat.max(nw.lat)),
        )
    }

    pub fn resolve(&self, relative: &Path) -> PathBuf {
        if relative.is_absolute() {
            relative.to_owned()
        } else {
            self.base_dir().join(relative)
        }
    }

    pub fn view(&self, name: &str) -> Option<&View> {
        self.file.views.iter().find(|v| v.name == name)
    }
}

/// Largest scene file read.
pub const MAX_SCENE_BYTES: u64 = 16 << 20;

/// Largest magnitude of any number in a scene file: beyond every sane setting
/// (Gauss–Krüger eastings with a zone prefix are under 1e8), and small enough that no
/// duration or offset made from it overflows.
pub const MAX_SCENE_NUMBER: f64 = 1e9;

/// Every number in the file is finite and within ±[`MAX_SCENE_NUMBER`]; the error
/// names the field, e.g. `operations.rules[2].when.value`.
fn check_numbers(value: &ron::Value, path: &mut String) -> Result<(), String> {
    match value {
        ron::Value::Number(n) => {
            let x = (*n).into_f64();
            if !x.is_finite() || x.abs() > MAX_SCENE_NUMBER {
                let at = if path.is_empty() {
                    "(top)"
                } else {
                    path.as_str()
                };
                return Err(format!(
                    "{at}: {x} is not a finite number within ±{MAX_SCENE_NUMBER:e}"
                ));
            }
        }
        ron::Value::Map(map) => {
            for (key, v) in map.iter() {
                let len = path.len();
                let name = match key {
                    ron::Value::String(k) => k.clone(),
                    other => format!("{other:?}"),
                };
                if !path.is_empty() {
                    path.push('.');
                }
                path.push_str(&name);
                check_numbers(v, path)?;
                path.truncate(len);
            }
        }
        ron::Value::Seq(items) => {
            for (i, v) in items.iter().enumerate() {
                let len = path.len();
                path.push_str(&format!("[{i}]"));
                check_numbers(v, path)?;
                path.truncate(len);
            }
        }
        ron::Value::Option(Some(v)) => check_numbers(v, path)?,
        _ => {}
    }
    Ok(())
}

/// Where the built-in scene lives: under the working directory when run from the source
/// tree, else in the source tree the binary was built from.
pub fn default_scene_path() -> PathBuf {
    let local = PathBuf::from(DEFAULT_SCENE);
    if Path::new("Cargo.toml").exists() && Path::new("scenes").is_dir() {
        return local;
    }
    Path::new(env!("CARGO_MANIFEST_DIR")).join(DEFAULT_SCENE)
}
