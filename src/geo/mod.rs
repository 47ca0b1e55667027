//! Coordinate reference systems: EPSG codes through PROJ, GCJ-02/BD-09 in pure Rust,
//! and the scene's local metric frame in which everything is drawn.
//!
//! The local frame is a transverse Mercator projection (scale 1) centred on the scene
//! origin: x metres east, y metres north, computed in f64. Bevy gets f32 offsets from
//! the origin only, so a city 40 km across keeps millimetre precision.

pub mod china;

use serde::{Deserialize, Serialize};
use std::fmt;

/// A geographic position in degrees (WGS84 unless a type or field says otherwise).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LonLat {
    pub lon: f64,
    pub lat: f64,
}

impl LonLat {
    pub const fn new(lon: f64, lat: f64) -> Self {
        Self { lon, lat }
    }

    pub fn is_valid(&self) -> bool {
        self.lon.is_finite()
            && self.lat.is_finite()
            && (-180.0..=180.0).contains(&self.lon)
            && (-90.0..=90.0).contains(&self.lat)
    }
}

impl fmt::Display for LonLat {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:.6}°E {:.6}°N", self.lon, self.lat)
    }
}

/// A point in the scene's local frame, metres east and north of the origin.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct LocalPoint {
    pub east_m: f64,
    pub north_m: f64,
}

impl LocalPoint {
    pub const fn new(east_m: f64, north_m: f64) -> Self {
        Self { east_m, north_m }
    }

    /// Bevy's frame is Y-up and right-handed: east is +X, north is −Z.
    pub fn to_world(self, height_m: f32) -> bevy::math::Vec3 {
        bevy::math::Vec3::new(self.east_m as f32, height_m, -(self.north_m as f32))
    }

    pub fn from_world(v: bevy::math::Vec3) -> Self {
        Self::new(v.x as f64, -v.z as f64)
    }
}

/// The CRS of a data set, as written in a scene file: `EPSG:4547`, `GCJ-02`, `BD-09`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Crs {
    Epsg(u32),
    Gcj02,
    Bd09,
    /// A WKT definition (a Shapefile's `.prj`, often ESRI's dialect without an EPSG
    /// code), given to PROJ as it is; `name` is its first quoted name.
    Wkt {
        name: String,
        wkt: String,
    },
}

impl Crs {
    pub const WGS84: Crs = Crs::Epsg(4326);

    /// Whether coordinates are longitude/latitude degrees (for range checks).
    pub fn is_geographic(&self) -> bool {
        match self {
            Crs::Wkt { wkt, .. } => {
                let head = wkt.trim_start().to_ascii_uppercase();
                head.starts_with("GEOGCS[") || head.starts_with("GEOGCRS[")
            }
            other => matches!(
                other,
                Crs::Gcj02 | Crs::Bd09 | Crs::Epsg(4326 | 4490 | 4214 | 4610)
            ),
        }
    }

    /// A CRS from WKT text (WKT1, ESRI's WKT1 or WKT2), if it looks like one.
    pub fn from_wkt(text: &str) -> Option<Crs> {
        let wkt = text.trim().trim_start_matches('\u{feff}');
        let head = wkt.to_ascii_uppercase();
        let known = [
            "PROJCS[",
            "GEOGCS[",
            "PROJCRS[",
            "GEOGCRS[",
            "GEODCRS[",
            "COMPD_CS[",
        ];
        if !known.iter().any(|k| head.starts_with(k)) {
            return None;
        }
        let name = wkt.split('"').nth(1).unwrap_or("unnamed").to_string();
        Some(Crs::Wkt {
            name,
            wkt: wkt.to_string(),
        })
    }
}

impl fmt::Display for Crs {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Crs::Epsg(code) => write!(f, "EPSG:{code}"),
            Crs::Gcj02 => f.write_str("GCJ-02"),
            Crs::Bd09 => f.write_str("BD-09"),
            Crs::Wkt { name, .. } => write!(f, "WKT \"{name}\""),
        }
    }
}

impl std::str::FromStr for Crs {
    type Err = GeoError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        if let Some(crs) = Crs::from_wkt(s) {
            return Ok(crs);
        }
        let norm = s.trim().to_ascii_uppercase().replace(['-', '_'], "");
        match norm.as_str() {
            "GCJ02" => return Ok(Crs::Gcj02),
            "BD09" | "BD09LL" => return Ok(Crs::Bd09),
            "WGS84" | "CRS84" => return Ok(Crs::WGS84),
            "CGCS2000" => return Ok(Crs::Epsg(4490)),
            _ => {}
        }
        // Also accept the OGC URN form GeoJSON's legacy `crs` member uses.
        let code = norm
            .strip_prefix("EPSG:")
            .or_else(|| norm.strip_prefix("URN:OGC:DEF:CRS:EPSG::"))
            .or_else(|| norm.strip_prefix("URN:OGC:DEF:CRS:EPSG:"));
        match code.and_then(|c| c.parse::<u32>().ok()) {
            Some(code) => Ok(Crs::Epsg(code)),
            None if norm == "URN:OGC:DEF:CRS:OGC:1.3:CRS84" => Ok(Crs::WGS84),
            None => Err(GeoError::UnknownCrs(s.to_string())),
        }
    }
}

impl Serialize for Crs {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            Crs::Wkt { wkt, .. } => s.serialize_str(wkt),
            other => s.collect_str(other),
        }
    }
}

impl<'de> Deserialize<'de> for Crs {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

#[derive(Debug, thiserror::Error)]
pub enum GeoError {
    #[error("unknown CRS '{0}' (expected EPSG:<code>, GCJ-02, BD-09 or WKT)")]
    UnknownCrs(String),
    #[error("PROJ does not know {crs}: {reason}")]
    Proj { crs: Crs, reason: String },
    #[error("coordinate ({x}, {y}) is not a finite number")]
    NotFinite { x: f64, y: f64 },
    #[error("coordinate ({x}, {y}) is outside the valid range of {crs}")]
    OutOfRange { x: f64, y: f64, crs: Crs },
    #[error("PROJ could not transform ({x}, {y}) from {crs}: {reason}")]
    Transform {
        x: f64,
        y: f64,
        crs: Crs,
        reason: String,
    },
}

/// The scene's local metric frame. Holds PROJ objects, so it lives on one thread
/// (PROJ contexts are not `Send`); build one where the work happens.
pub struct LocalFrame {
    origin: LonLat,
    forward: proj::Proj,
    inverse: proj::Proj,
}

impl LocalFrame {
    pub fn new(origin: LonLat) -> Result<Self, GeoError> {
        let tmerc = format!(
            "+proj=tmerc +lat_0={} +lon_0={} +k=1 +x_0=0 +y_0=0 +ellps=WGS84 +units=m +no_defs +type=crs",
            origin.lat, origin.lon
        );
        let make = |from: &str, to: &str| {
            proj::Proj::new_known_crs(from, to, None).map_err(|e| GeoError::Proj {
                crs: Crs::WGS84,
                reason: e.to_string(),
            })
        };
        Ok(Self {
            origin,
            forward: make("EPSG:4326", &tmerc)?,
            inverse: make(&tmerc, "EPSG:4326")?,
        })
    }

    pub fn origin(&self) -> LonLat {
        self.origin
    }

    pub fn to_local(&self, p: LonLat) -> Result<LocalPoint, GeoError> {
        let (x, y) = convert(&self.forward, p.lon, p.lat, &Crs::WGS84)?;
        Ok(LocalPoint::new(x, y))
    }

    pub fn to_lonlat(&self, p: LocalPoint) -> Result<LonLat, GeoError> {
        let (lon, lat) = convert(&self.inverse, p.east_m, p.north_m, &Crs::WGS84)?;
        Ok(LonLat::new(lon, lat))
    }
}

/// One PROJ conversion, with the input and CRS named in the error.
fn convert(proj: &proj::Proj, x: f64, y: f64, crs: &Crs) -> Result<(f64, f64), GeoError> {
    proj.convert((x, y)).map_err(|e| GeoError::Transform {
        x,
        y,
        crs: crs.clone(),
        reason: e.to_string(),
    })
}

enum Direction {
    ToWgs84,
    FromWgs84,
}

/// The PROJ pipeline between `crs` and WGS84; None where no PROJ is needed (WGS84 and
/// CGCS2000, which agree to a few centimetres and PROJ treats as equal; GCJ-02 and
/// BD-09, which are our own transforms).
fn pipeline(crs: &Crs, direction: Direction) -> Result<Option<proj::Proj>, GeoError> {
    let definition = match crs {
        Crs::Epsg(4326 | 4490) | Crs::Gcj02 | Crs::Bd09 => return Ok(None),
        Crs::Epsg(code) => format!("EPSG:{code}"),
        Crs::Wkt { wkt, .. } => wkt.clone(),
    };
    let (from, to) = match direction {
        Direction::ToWgs84 => (definition.as_str(), "EPSG:4326"),
        Direction::FromWgs84 => ("EPSG:4326", definition.as_str()),
    };
    proj::Proj::new_known_crs(from, to, None)
        .map(Some)
        .map_err(|e| GeoError::Proj {
            crs: crs.clone(),
            reason: e.to_string(),
        })
}

/// Converts one data set's coordinates to WGS84 longitude/latitude.
pub struct ToWgs84 {
    crs: Crs,
    proj: Option<proj::Proj>,
}

impl ToWgs84 {
    pub fn new(crs: &Crs) -> Result<Self, GeoError> {
        let proj = pipeline(crs, Direction::ToWgs84)?;
        Ok(Self {
            crs: crs.clone(),
            proj,
        })
    }

    pub fn crs(&self) -> &Crs {
        &self.crs
    }

    pub fn convert(&self, x: f64, y: f64) -> Result<LonLat, GeoError> {
        if !x.is_finite() || !y.is_finite() {
            return Err(GeoError::NotFinite { x, y });
        }
        let out_of_range = || GeoError::OutOfRange {
            x,
            y,
            crs: self.crs.clone(),
        };
        if self.crs.is_geographic() && !LonLat::new(x, y).is_valid() {
            return Err(out_of_range());
        }
        let p = match (&self.crs, &self.proj) {
            (Crs::Gcj02, _) => china::gcj02_to_wgs84(LonLat::new(x, y)),
            (Crs::Bd09, _) => china::bd09_to_wgs84(LonLat::new(x, y)),
            (_, Some(proj)) => {
                let (lon, lat) = convert(proj, x, y, &self.crs)?;
                LonLat::new(lon, lat)
            }
            (_, None) => LonLat::new(x, y),
        };
        if p.is_valid() {
            Ok(p)
        } else {
            Err(out_of_range())
        }
    }
}

/// A WGS84 box as a box in `crs`'s coordinates: the smallest one holding the box's
/// outline (16 points a side), for reading a spatial index in the file's own CRS.
pub fn bounds_in(crs: &Crs, lo: LonLat, hi: LonLat) -> Result<[f64; 4], GeoError> {
    let proj = pipeline(crs, Direction::FromWgs84)?;
    const STEPS: usize = 16;
    let mut out = [
        f64::INFINITY,
        f64::INFINITY,
        f64::NEG_INFINITY,
        f64::NEG_INFINITY,
    ];
    for i in 0..=STEPS {
        let t = i as f64 / STEPS as f64;
        let lon = lo.lon + (hi.lon - lo.lon) * t;
        let lat = lo.lat + (hi.lat - lo.lat) * t;
        for p in [
            LonLat::new(lon, lo.lat),
            LonLat::new(lon, hi.lat),
            LonLat::new(lo.lon, lat),
            LonLat::new(hi.lon, lat),
        ] {
            let (x, y) = match (crs, &proj) {
                (Crs::Gcj02, _) => {
                    let q = china::wgs84_to_gcj02(p);
                    (q.lon, q.lat)
                }
                (Crs::Bd09, _) => {
                    let q = china::wgs84_to_bd09(p);
                    (q.lon, q.lat)
                }
                (_, Some(proj)) => convert(proj, p.lon, p.lat, crs)?,
                (_, None) => (p.lon, p.lat),
            };
            out = [out[0].min(x), out[1].min(y), out[2].max(x), out[3].max(y)];
        }
    }
    Ok(out)
}

/// The scene's frame, for systems that place things given in lon/lat (feeds, views).
/// Kept as non-`Send` ECS data because PROJ objects must stay on one thread.
pub struct SceneFrame(pub LocalFrame);
