//! Layer import (GeoJSON, Shapefile, GeoPackage, FlatGeobuf): reads one layer file,
//! checks every feature and converts it into the scene's local frame. A bad feature becomes a [`Problem`] and is skipped; the rest load.

use super::geometry::clean_polygon;
use crate::geo::{Crs, LocalFrame, LocalPoint, LonLat, ToWgs84};
use crate::scene::{Attributes, Layer, LayerKind};
use geo::{Coord, LineString, MultiPolygon, Polygon};
use serde_json::{Map, Value};
use std::fmt;
use std::path::{Path, PathBuf};

/// Features further than this from the origin are almost always in the wrong CRS.
const FAR_FROM_ORIGIN_M: f64 = 200_000.0;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Severity {
    Error,
    Warning,
}

/// Something wrong in an input file, said the way `check` prints it.
#[derive(Debug, Clone)]
pub struct Problem {
    pub file: PathBuf,
    /// Zero-based index of the feature in its collection.
    pub feature: Option<usize>,
    pub severity: Severity,
    pub message: String,
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let level = match self.severity {
            Severity::Error => "error",
            Severity::Warning => "warning",
        };
        match self.feature {
            Some(n) => write!(
                f,
                "{}: feature {n}: {level}: {}",
                self.file.display(),
                self.message
            ),
            None => write!(f, "{}: {level}: {}", self.file.display(), self.message),
        }
    }
}

pub type Properties = Map<String, Value>;

/// A building footprint (local metres, exterior rings counter-clockwise) and its height.
#[derive(Debug, Clone)]
pub struct Building {
    pub id: String,
    pub name: Option<String>,
    pub height_m: f64,
    pub footprint: MultiPolygon<f64>,
    pub properties: Properties,
    pub source: PathBuf,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RoadClass {
    Expressway,
    Arterial,
    Secondary,
    Local,
}

impl RoadClass {
    fn parse(s: &str) -> Self {
        match s.to_ascii_lowercase().as_str() {
            "expressway" | "motorway" | "trunk" | "快速路" => RoadClass::Expressway,
            "arterial" | "primary" | "主干路" => RoadClass::Arterial,
            "secondary" | "tertiary" | "次干路" => RoadClass::Secondary,
            _ => RoadClass::Local,
        }
    }

    pub fn default_width_m(self) -> f64 {
        match self {
            RoadClass::Expressway => 40.0,
            RoadClass::Arterial => 30.0,
            RoadClass::Secondary => 20.0,
            RoadClass::Local => 10.0,
        }
    }
}

#[derive(Debug, Clone)]
pub struct Road {
    pub id: String,
    pub name: Option<String>,
    pub class: RoadClass,
    pub width_m: f64,
    pub lines: Vec<LineString<f64>>,
}

/// A district or grid: an administrative area drawn as outline and translucent fill.
#[derive(Debug, Clone)]
pub struct Area {
    pub id: String,
    pub name: Option<String>,
    pub shape: MultiPolygon<f64>,
    pub properties: Properties,
}

/// What covers a piece of land, from its `class` property. Names from OpenStreetMap's
/// tags are understood too (`natural=water` → "water", `leisure=park` → "park").
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum LandClass {
    /// Lakes, rivers, reservoirs, canals.
    Water,
    /// Parks, gardens, grass, woods.
    Green,
    /// Squares and other open paved ground.
    Paved,
}

impl LandClass {
    pub fn parse(s: &str) -> Option<Self> {
        match s.trim().to_ascii_lowercase().as_str() {
            "water" | "lake" | "river" | "riverbank" | "reservoir" | "pond" | "canal" => {
                Some(LandClass::Water)
            }
            "park" | "green" | "grass" | "garden" | "forest" | "wood" | "meadow"
            | "recreation_ground" | "pocket_park" => Some(LandClass::Green),
            "plaza" | "square" | "pedestrian" | "paved" => Some(LandClass::Paved),
            _ => None,
        }
    }
}

/// A piece of land cover: drawn as a flat fill under the roads.
#[derive(Debug, Clone)]
pub struct Land {
    pub class: LandClass,
    pub area: Area,
}

#[derive(Debug, Clone)]
pub struct Poi {
    pub id: String,
    pub name: Option<String>,
    pub at: LocalPoint,
    pub properties: Properties,
}

/// What `check` reports per layer.
#[derive(Debug, Clone)]
pub struct LayerReport {
    pub kind: LayerKind,
    pub path: PathBuf,
    pub crs: Crs,
    /// The legacy GeoJSON `crs` member, if the file had one.
    pub declared_crs: Option<String>,
    pub features: usize,
    pub loaded: usize,
    pub bbox: Option<(LonLat, LonLat)>,
    /// What was read of a FlatGeobuf file through its index.
    pub read: Option<super::fgb::ReadFigures>,
}

impl LayerReport {
    pub fn skipped(&self) -> usize {
        self.features - self.loaded
    }
}

/// Everything the GIS layers of a scene hold, in the local frame.
#[derive(Debug, Default, Clone)]
pub struct CityData {
    pub buildings: Vec<Building>,
    pub roads: Vec<Road>,
    pub districts: Vec<Area>,
    /// Street offices (街道).
    pub subdistricts: Vec<Area>,
    pub grids: Vec<Area>,
    pub pois: Vec<Poi>,
    pub land: Vec<Land>,
    pub layers: Vec<LayerReport>,
    pub problems: Vec<Problem>,
}

impl CityData {
    pub fn errors(&self) -> impl Iterator<Item = &Problem> {
        self.problems
            .iter()
            .filter(|p| p.severity == Severity::Error)
    }

    pub fn skipped_features(&self) -> usize {
        self.layers.iter().map(LayerReport::skipped).sum()
    }
}

/// Reads one layer file into `city`, recording its report and every problem.
/// `extent` (WGS84) limits what is read from files with a spatial index.
pub fn load_layer(
    layer: &Layer,
    path: &Path,
    frame: &LocalFrame,
    extent: (LonLat, LonLat),
    strict: bool,
    city: &mut CityData,
) {
    let mut report = LayerReport {
        kind: layer.kind,
        path: path.to_owned(),
        crs: layer.crs.clone().unwrap_or(Crs::WGS84),
        declared_crs: None,
        features: 0,
        loaded: 0,
        bbox: None,
        read: None,
    };
    let (features, read) = match read_features(layer, path, Some(extent)) {
        Ok(parsed) => parsed,
        Err(message) => {
            city.problems.push(Problem {
                file: path.to_owned(),
                feature: None,
                severity: Severity::Error,
                message,
            });
            city.layers.push(report);
            return;
        }
    };
    // The scene's CRS wins; then the file's own (a Shapefile's .prj, a GeoPackage's
    // spatial reference system, a FlatGeobuf header); then WGS84.
    let crs = layer
        .crs
        .clone()
        .or_else(|| features.file_crs.clone())
        .unwrap_or(Crs::WGS84);
    report.crs = crs.clone();
    report.features = features.records;
    report.read = read;
    let mut problem = |feature: Option<usize>, severity, message: String| {
        city.problems.push(Problem {
            file: path.to_owned(),
            feature,
            severity,
            message,
        })
    };
    for (feature, note) in &features.notes {
        problem(*feature, Severity::Warning, note.clone());
    }
    for (feature, error) in &features.errors {
        problem(Some(*feature), Severity::Error, error.clone());
    }
    if let Some(declared) = &features.declared_crs {
        report.declared_crs = Some(declared.clone());
        match declared.parse::<Crs>() {
            Ok(declared_crs) if declared_crs != crs => problem(
                None,
                Severity::Warning,
                format!("file declares CRS {declared} but the scene says {crs}; using the scene's"),
            ),
            Ok(_) => {}
            Err(e) => problem(None, Severity::Warning, format!("file declares {e}")),
        }
    }
    if features.non_finite_tokens > 0 {
        problem(
            None,
            Severity::Warning,
            format!(
                "{} NaN/Infinity literals (not JSON); the features holding them are skipped",
                features.non_finite_tokens
            ),
        );
    }
    let to_wgs84 = match ToWgs84::new(&crs) {
        Ok(t) => t,
        Err(e) => {
            problem(None, Severity::Error, e.to_string());
            city.layers.push(report);
            return;
        }
    };
    let mut convert = Converter {
        to_wgs84: &to_wgs84,
        frame,
        bbox: None,
        strict,
    };
    for (n, value) in features.values {
        // RFC 7946 allows an unlocated feature; GIS tools keep it without a shape.
        if value.get("geometry").is_some_and(Value::is_null) {
            problem(
                Some(n),
                Severity::Warning,
                "null geometry (an unlocated feature); skipped".into(),
            );
            continue;
        }
        let result = convert_feature(layer, n, value, &mut convert, path);
        match result {
            Ok((loaded, warnings)) => {
                for w in warnings {
                    problem(Some(n), Severity::Warning, w);
                }
                report.loaded += 1;
                match loaded {
                    Loaded::Building(b) => city.buildings.push(b),
                    Loaded::Road(r) => city.roads.push(r),
                    Loaded::Area(a) if layer.kind == LayerKind::Districts => city.districts.push(a),
                    Loaded::Area(a) if layer.kind == LayerKind::Subdistricts => {
                        city.subdistricts.push(a)
                    }
                    Loaded::Area(a) => city.grids.push(a),
                    Loaded::Poi(p) => city.pois.push(p),
                    Loaded::Land(l) => city.land.push(l),
                }
            }
            Err(message) => problem(Some(n), Severity::Error, message),
        }
    }
    report.bbox = convert.bbox;
    city.layers.push(report);
}

/// A layer file read into GeoJSON feature values, whatever its format.
pub struct ParsedFile {
    /// (feature index in the file, GeoJSON feature value).
    pub values: Vec<(usize, Value)>,
    /// Features in the file (of a FlatGeobuf file, those over the extent), those that
    /// could not be read included.
    pub records: usize,
    /// A GeoJSON file's legacy `crs` member.
    pub declared_crs: Option<String>,
    /// The CRS the file carries (a Shapefile's `.prj`, a GeoPackage's spatial
    /// reference system, a FlatGeobuf header), used when the scene sets none.
    pub file_crs: Option<Crs>,
    pub non_finite_tokens: usize,
    /// Warnings, for the file or one feature.
    pub notes: Vec<(Option<usize>, String)>,
    /// Features that cannot be read at all.
    pub errors: Vec<(usize, String)>,
}

impl ParsedFile {
    pub fn new(file_crs: Option<Crs>) -> Self {
        Self {
            values: Vec::new(),
            records: 0,
            declared_crs: None,
            file_crs,
            non_finite_tokens: 0,
            notes: Vec::new(),
            errors: Vec::new(),
        }
    }
}

/// Largest GeoJSON layer read (the generated full city's buildings are far below).
pub const MAX_LAYER_BYTES: u64 = 4 << 30;

/// The file formats a layer may be in, told by the file's extension.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    GeoJson,
    Shapefile,
    GeoPackage,
    FlatGeobuf,
}

impl Format {
    /// `.shp` is a Shapefile, `.gpkg` a GeoPackage, `.fgb` FlatGeobuf; formats GDAL
    /// knows that citytwin does not read are refused with what to do; anything else
    /// is read as GeoJSON.
    pub fn of(path: &Path) -> Result<Format, String> {
        let ext = path
            .extension()
            .map(|e| e.to_string_lossy().to_ascii_lowercase())
            .unwrap_or_default();
        match ext.as_str() {
            "shp" => Ok(Format::Shapefile),
            "gpkg" => Ok(Format::GeoPackage),
            "fgb" => Ok(Format::FlatGeobuf),
            "gdb" | "kml" | "tab" | "mif" | "dxf" | "csv" | "zip" => Err(format!(
                "citytwin does not read .{ext} files; convert with `ogr2ogr -f FlatGeobuf \
                 out.fgb {}` (GeoJSON, Shapefile, GeoPackage and FlatGeobuf are read)",
                path.file_name()
                    .map_or("FILE".into(), |n| n.to_string_lossy())
            )),
            _ => Ok(Format::GeoJson),
        }
    }
}

/// Reads a layer file in any format into GeoJSON feature values; `extent` (WGS84)
/// limits what is read from a file with a spatial index (None: everything).
pub(crate) fn read_features(
    layer: &Layer,
    path: &Path,
    extent: Option<(LonLat, LonLat)>,
) -> Result<(ParsedFile, Option<super::fgb::ReadFigures>), String> {
    let format = Format::of(path)?;
    if layer.table.is_some() && format != Format::GeoPackage {
        return Err("`table` is set but the file is not a GeoPackage".into());
    }
    Ok(match format {
        Format::GeoJson => (read_geojson(path)?, None),
        Format::Shapefile => (super::shp::read(path, layer.encoding.as_deref())?, None),
        Format::GeoPackage => (super::gpkg::read(path, layer.table.as_deref())?, None),
        Format::FlatGeobuf => {
            let (parsed, read) = super::fgb::read(path, extent, layer.crs.as_ref())?;
            (parsed, Some(read))
        }
    })
}

fn read_geojson(path: &Path) -> Result<ParsedFile, String> {
    let bytes = crate::read_limited(path, MAX_LAYER_BYTES)
        .map_err(|e| format!("cannot read file: {}", e.rsplit(": ").next().unwrap_or(&e)))?;
    let text = String::from_utf8(bytes).map_err(|_| "cannot read file: not UTF-8".to_string())?;
    let (text, non_finite_tokens) = replace_non_finite_literals(&text);
    let root: Value = serde_json::from_str(&text).map_err(|e| format!("not valid JSON: {e}"))?;
    let Value::Object(mut root) = root else {
        return Err("top level is not a JSON object".into());
    };
    let declared_crs = root
        .get("crs")
        .and_then(|c| c.pointer("/properties/name"))
        .and_then(Value::as_str)
        .map(str::to_owned);
    let values = match root.get("type").and_then(Value::as_str) {
        Some("FeatureCollection") => match root.remove("features") {
            Some(Value::Array(features)) => features,
            _ => return Err("FeatureCollection has no \"features\" array".into()),
        },
        Some("Feature") => vec![Value::Object(root)],
        Some(other) => {
            return Err(format!(
                "top-level type is \"{other}\"; expected FeatureCollection or Feature"
            ));
        }
        None => return Err("top-level object has no \"type\"".into()),
    };
    let mut parsed = ParsedFile::new(None);
    parsed.records = values.len();
    parsed.values = values.into_iter().enumerate().collect();
    parsed.declared_crs = declared_crs;
    parsed.non_finite_tokens = non_finite_tokens;
    Ok(parsed)
}

/// Python's `json.dump` writes `NaN` and `Infinity`, which JSON forbids. Quoting them
/// (outside strings) lets the rest of the file load; the feature that held one is then
/// rejected with a message naming the value (`invalid type: string "NaN"`).
pub fn replace_non_finite_literals(text: &str) -> (std::borrow::Cow<'_, str>, usize) {
    if !text.contains("NaN") && !text.contains("Infinity") {
        return (text.into(), 0);
    }
    let bytes = text.as_bytes();
    let mut out = String::with_capacity(text.len());
    let (mut i, mut in_string, mut count) = (0, false, 0);
    while i < bytes.len() {
        let c = bytes[i];
        if in_string {
            if c == b'\\' && i + 1 < bytes.len() {
                out.push_str(&text[i..i + 2]);
                i += 2;
                continue;
            }
            in_string = c != b'"';
        } else if c == b'"' {
            in_string = true;
        } else {
            let rest = &text[i..];
            let token = ["-Infinity", "Infinity", "NaN"]
                .into_iter()
                .find(|t| rest.starts_with(t));
            if let Some(token) = token {
                out.push('"');
                out.push_str(token);
                out.push('"');
                i += token.len();
                count += 1;
                continue;
            }
        }
        let ch_len = text[i..].chars().next().map_or(1, char::len_utf8);
        out.push_str(&text[i..i + ch_len]);
        i += ch_len;
    }
    (out.into(), count)
}

enum Loaded {
    Building(Building),
    Road(Road),
    Area(Area),
    Poi(Poi),
    Land(Land),
}

struct Converter<'a> {
    to_wgs84: &'a ToWgs84,
    frame: &'a LocalFrame,
    bbox: Option<(LonLat, LonLat)>,
    /// Refuse invalid polygons instead of repairing them.
    strict: bool,
}

impl Converter<'_> {
    fn point(&mut self, position: &[f64]) -> Result<Coord<f64>, String> {
        let [x, y, ..] = position else {
            return Err(format!(
                "position has {} numbers; needs at least 2",
                position.len()
            ));
        };
        let ll = self.to_wgs84.convert(*x, *y).map_err(|e| e.to_string())?;
        let p = self.frame.to_local(ll).map_err(|e| e.to_string())?;
        if p.east_m.hypot(p.north_m) > FAR_FROM_ORIGIN_M {
            return Err(format!(
                "position {ll} is {:.0} km from the scene origin; is the CRS ({}) right?",
                p.east_m.hypot(p.north_m) / 1000.0,
                self.to_wgs84.crs()
            ));
        }
        self.bbox = Some(match self.bbox {
            None => (ll, ll),
            Some((lo, hi)) => (
                LonLat::new(lo.lon.min(ll.lon), lo.lat.min(ll.lat)),
                LonLat::new(hi.lon.max(ll.lon), hi.lat.max(ll.lat)),
            ),
        });
        Ok(Coord {
            x: p.east_m,
            y: p.north_m,
        })
    }

    fn line(&mut self, positions: &[geojson::Position]) -> Result<LineString<f64>, String> {
        positions
            .iter()
            .map(|p| self.point(p.as_slice()))
            .collect::<Result<Vec<_>, _>>()
            .map(LineString::new)
    }

    /// A GeoJSON polygon: ring sizes are checked on the raw positions (geo closes rings
    /// silently), then duplicate vertices are dropped, an invalid polygon is repaired
    /// into valid parts (a warning) unless strict, and exteriors are oriented CCW.
    fn polygon(
        &mut self,
        rings: &[Vec<geojson::Position>],
        warnings: &mut Vec<String>,
    ) -> Result<Vec<Polygon<f64>>, String> {
        if rings.is_empty() {
            return Err("polygon has no rings".into());
        }
        let mut converted = Vec::with_capacity(rings.len());
        for (r, ring) in rings.iter().enumerate() {
            if ring.len() < 4 {
                return Err(format!(
                    "ring {r} has {} positions; a linear ring needs at least 4 (RFC 7946 §3.1.6)",
                    ring.len()
                ));
            }
            if ring.first().map(|p| p.as_slice()) != ring.last().map(|p| p.as_slice()) {
                warnings.push(format!("ring {r} is not closed; closed it"));
            }
            converted.push(self.line(ring)?);
        }
        let exterior = converted.remove(0);
        let cleaned = clean_polygon(Polygon::new(exterior, converted), self.strict)?;
        warnings.extend(cleaned.notes);
        Ok(cleaned
            .polygons
            .iter()
            .map(|p| geo::Orient::orient(p, geo::orient::Direction::Default))
            .collect())
    }

    fn multipolygon(
        &mut self,
        geometry: &geojson::GeometryValue,
        warnings: &mut Vec<String>,
    ) -> Result<MultiPolygon<f64>, String> {
        use geojson::GeometryValue as G;
        match geometry {
            G::Polygon { coordinates } => {
                Ok(MultiPolygon::new(self.polygon(coordinates, warnings)?))
            }
            G::MultiPolygon { coordinates } => {
                let mut parts = Vec::with_capacity(coordinates.len());
                for (i, p) in coordinates.iter().enumerate() {
                    let mut notes = Vec::new();
                    let polygons = self
                        .polygon(p, &mut notes)
                        .map_err(|e| format!("polygon {i}: {e}"))?;
                    warnings.extend(notes.into_iter().map(|n| format!("polygon {i}: {n}")));
                    parts.extend(polygons);
                }
                Ok(MultiPolygon::new(parts))
            }
            other => Err(format!(
                "geometry is {}; expected Polygon or MultiPolygon",
                other.type_name()
            )),
        }
    }
}

fn text_property(props: &Properties, field: Option<&String>) -> Option<String> {
    match props.get(field?)? {
        Value::String(s) if !s.is_empty() => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

fn number_property(props: &Properties, field: Option<&String>) -> Result<Option<f64>, String> {
    let Some(field) = field else { return Ok(None) };
    match props.get(field) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Number(n)) => Ok(n.as_f64()),
        Some(Value::String(s)) => s
            .trim()
            .parse::<f64>()
            .map(Some)
            .map_err(|_| format!("property \"{field}\" is \"{s}\", not a number")),
        Some(other) => Err(format!("property \"{field}\" is {other}, not a number")),
    }
}

fn building_height(attrs: &Attributes, props: &Properties) -> Result<f64, String> {
    let height = match number_property(props, attrs.height.as_ref())? {
        Some(h) => h,
        None => match number_property(props, attrs.levels.as_ref())? {
            Some(levels) => levels * attrs.metres_per_level,
            None => attrs.default_height_m,
        },
    };
    if !height.is_finite() || height <= 0.0 || height > 1000.0 {
        return Err(format!("height {height} m is not between 0 and 1000 m"));
    }
    Ok(height)
}

fn convert_feature(
    layer: &Layer,
    n: usize,
    value: Value,
    convert: &mut Converter,
    path: &Path,
) -> Result<(Loaded, Vec<String>), String> {
    use geojson::GeometryValue as G;
    let feature: geojson::Feature =
        serde_json::from_value(value).map_err(|e| format!("not a valid GeoJSON feature: {e}"))?;
    let props = feature.properties.unwrap_or_default();
    let attrs = &layer.attributes;
    let id = text_property(&props, attrs.id.as_ref())
        .or_else(|| {
            feature.id.as_ref().map(|id| match id {
                geojson::feature::Id::String(s) => s.clone(),
                geojson::feature::Id::Number(n) => n.to_string(),
            })
        })
        .unwrap_or_else(|| format!("{}#{n}", layer.kind.label()));
    let name = text_property(&props, attrs.name.as_ref());
    let geometry = feature
        .geometry
        .ok_or_else(|| "feature has no geometry".to_string())?
        .value;
    let mut warnings = Vec::new();
    let loaded = match layer.kind {
        LayerKind::Buildings => {
            let height_m = building_height(attrs, &props)?;
            let footprint = convert.multipolygon(&geometry, &mut warnings)?;
            Loaded::Building(Building {
                id,
                name,
                height_m,
                footprint,
                properties: props,
                source: path.to_owned(),
            })
        }
        LayerKind::Districts | LayerKind::Subdistricts | LayerKind::Grids => Loaded::Area(Area {
            id,
            name,
            shape: convert.multipolygon(&geometry, &mut warnings)?,
            properties: props,
        }),
        LayerKind::Land => {
            let class = match text_property(&props, attrs.class.as_ref()) {
                Some(c) => LandClass::parse(&c).ok_or_else(|| {
                    format!(
                        "land class {c:?} is not known (water, lake, river, park, green, grass, \
                         garden, forest, plaza, square…)"
                    )
                })?,
                None => return Err("land has no class (water, park, plaza…)".into()),
            };
            Loaded::Land(Land {
                class,
                area: Area {
                    id,
                    name,
                    shape: convert.multipolygon(&geometry, &mut warnings)?,
                    properties: props,
                },
            })
        }
        LayerKind::Roads => {
            let class = text_property(&props, attrs.class.as_ref())
                .map_or(RoadClass::Local, |c| RoadClass::parse(&c));
            let width_m =
                number_property(&props, attrs.width.as_ref())?.unwrap_or(class.default_width_m());
            if !(0.5..=200.0).contains(&width_m) {
                return Err(format!(
                    "road width {width_m} m is not between 0.5 and 200 m"
                ));
            }
            let lines = match &geometry {
                G::LineString { coordinates } => vec![convert.line(coordinates)?],
                G::MultiLineString { coordinates } => coordinates
                    .iter()
                    .map(|l| convert.line(l))
                    .collect::<Result<_, _>>()?,
                other => {
                    return Err(format!(
                        "geometry is {}; expected LineString or MultiLineString",
                        other.type_name()
                    ));
                }
            };
            if lines.iter().any(|l| l.0.len() < 2) {
                return Err("a line needs at least 2 positions".into());
            }
            Loaded::Road(Road {
                id,
                name,
                class,
                width_m,
                lines,
            })
        }
        LayerKind::Pois => {
            let G::Point { coordinates } = &geometry else {
                return Err(format!(
                    "geometry is {}; expected Point",
                    geometry.type_name()
                ));
            };
            let c = convert.point(coordinates.as_slice())?;
            Loaded::Poi(Poi {
                id,
                name,
                at: LocalPoint::new(c.x, c.y),
                properties: props,
            })
        }
    };
    Ok((loaded, warnings))
}
