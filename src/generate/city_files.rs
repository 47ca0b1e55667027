//! Writes a generated city as files a scene loads like any user data: buildings and
//! districts in WGS84, roads in GCJ-02 (as Chinese web maps publish them), grids in
//! CGCS2000 Gauss–Krüger (EPSG:4547, as surveyors deliver), the landmarks as glTF, the
//! devices as a recording, and `scene.ron` tying them together.

use super::city::{self, CITY_NOTE, GenArea, Scale};
use super::city_feed;
use crate::geo::{LocalFrame, LocalPoint, LonLat, china};
use anyhow::{Context, Result};
use geo::Polygon;
use indicatif::ProgressBar;
use serde_json::json;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

pub const BUILDINGS: &str = "buildings.geojson";
pub const ROADS: &str = "roads.geojson";
pub const DISTRICTS: &str = "districts.geojson";
pub const SUBDISTRICTS: &str = "subdistricts.geojson";
pub const GRIDS: &str = "grids.geojson";
pub const MICRO_GRIDS: &str = "micro-grids.geojson";
pub const POIS: &str = "pois.geojson";
pub const LAND: &str = "land.geojson";
pub const FEED: &str = "feed.ndjson";
pub const SCENE: &str = "scene.ron";
/// Bumped whenever the generator's output changes, so a built-in city written by an
/// older build is regenerated.
pub const GENERATOR_VERSION: u32 = 10;

fn stamp(scale: Scale, seed: u64, day: Option<&str>) -> String {
    format!(
        "// Written by `citytwin gen-city --scale {} --seed {seed}` (generator {GENERATOR_VERSION}){}; regenerate rather than edit.",
        scale.label(),
        day.map(|d| format!(", playing {d}")).unwrap_or_default()
    )
}

/// The built-in city's day, as the built-in scene names it (from its folder, both in
/// the source tree).
pub const BUILTIN_DAY: &str = "../../../data-feeds/zhengzhou-city-day.mcap";

/// Makes sure the built-in city (`city` scale, default seed) is at `scene` and was
/// written by this generator; writes it when not (about a second). Returns whether it
/// wrote. Its scene plays the committed day ([`BUILTIN_DAY`]) looping, when that is
/// there, else the city's ten-minute recording.
pub fn ensure_builtin(scene: &Path) -> Result<bool> {
    let day = scene
        .parent()
        .is_some_and(|dir| dir.join(BUILTIN_DAY).is_file())
        .then_some(BUILTIN_DAY);
    ensure_with(Scale::City, city::DEFAULT_CITY_SEED, scene, day)
}

/// Makes sure `scene` is a city of `scale` from `seed` written by this generator;
/// writes it (and its files, in the scene's folder) when not. Returns whether it wrote.
pub fn ensure(scale: Scale, seed: u64, scene: &Path) -> Result<bool> {
    ensure_with(scale, seed, scene, None)
}

fn ensure_with(scale: Scale, seed: u64, scene: &Path, day: Option<&str>) -> Result<bool> {
    let wanted = stamp(scale, seed, day);
    let current = std::fs::read_to_string(scene).unwrap_or_default();
    if current.lines().nth(1) == Some(wanted.as_str()) {
        return Ok(false);
    }
    let dir = scene.parent().context("the scene path has no folder")?;
    eprintln!(
        "citytwin: writing the synthetic {} city to {} (once; `gen-city --scale {}`)",
        scale.label(),
        dir.display(),
        scale.label()
    );
    write_city_playing(scale, seed, dir, day, &ProgressBar::hidden())?;
    Ok(true)
}

/// What was generated, for the command's summary and the tests.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CityReport {
    pub buildings: usize,
    pub roads: usize,
    pub districts: usize,
    pub grids: usize,
    pub micro_grids: usize,
    pub subdistricts: usize,
    pub pois: usize,
    pub land: usize,
    pub cameras: usize,
    pub devices: usize,
    pub files: Vec<PathBuf>,
}

/// Six decimals of a degree: about 0.1 m, enough for a synthetic city, and small files.
fn deg(out: &mut String, [lon, lat]: [f64; 2]) {
    let _ = write!(out, "[{lon:.6},{lat:.6}]");
}

pub(super) fn header(out: &mut String, name: &str, crs: Option<&str>) {
    let mut head =
        json!({"type": "FeatureCollection", "name": name, "synthetic": true, "note": CITY_NOTE});
    if let Some(crs) = crs {
        head["crs"] = json!({"type": "name", "properties": {"name": crs}});
    }
    let head = serde_json::to_string(&head).expect("a JSON value serialises");
    out.push_str(&head[..head.len() - 1]);
    out.push_str(",\"features\":[\n");
}

pub(super) fn footer(out: &mut String) {
    if out.ends_with(",\n") {
        out.truncate(out.len() - 2);
        out.push('\n');
    }
    out.push_str("]}\n");
}

pub(super) fn feature(
    out: &mut String,
    props: serde_json::Value,
    geometry_type: &str,
    coords: &str,
) {
    let _ = writeln!(
        out,
        "{{\"type\":\"Feature\",\"properties\":{props},\"geometry\":{{\"type\":\"{geometry_type}\",\"coordinates\":{coords}}}}},"
    );
}

/// The output folder and the files written to it so far.
struct Writer<'a> {
    root: &'a Path,
    files: Vec<PathBuf>,
}

impl Writer<'_> {
    fn write(&mut self, rel: &str, bytes: &[u8]) -> Result<()> {
        super::write_file(self.root, rel, bytes, &mut self.files)
    }
}

/// Rings of a polygon, each through `point`, as GeoJSON coordinates.
fn rings(
    poly: &Polygon<f64>,
    point: &mut dyn FnMut(f64, f64) -> Result<[f64; 2]>,
) -> Result<String> {
    let mut s = String::from("[");
    for (k, ring) in std::iter::once(poly.exterior())
        .chain(poly.interiors())
        .enumerate()
    {
        if k > 0 {
            s.push(',');
        }
        s.push('[');
        for (i, c) in ring.coords().enumerate() {
            if i > 0 {
                s.push(',');
            }
            deg(&mut s, point(c.x, c.y)?);
        }
        s.push(']');
    }
    s.push(']');
    Ok(s)
}

fn areas(
    name: &str,
    list: &[GenArea],
    crs: Option<&str>,
    point: &mut dyn FnMut(f64, f64) -> Result<[f64; 2]>,
) -> Result<String> {
    let mut out = String::new();
    header(&mut out, name, crs);
    for a in list {
        let mut polys = Vec::new();
        for p in &a.shape {
            polys.push(rings(p, point)?);
        }
        let (kind, coords) = if polys.len() == 1 {
            ("Polygon", polys.remove(0))
        } else {
            ("MultiPolygon", format!("[{}]", polys.join(",")))
        };
        feature(&mut out, json!({"id": a.id, "name": a.name}), kind, &coords);
    }
    footer(&mut out);
    Ok(out)
}

/// Generates the city at `scale` from `seed` and writes it under `out`.
pub fn write_city(scale: Scale, seed: u64, out: &Path, bar: &ProgressBar) -> Result<CityReport> {
    write_city_playing(scale, seed, out, None, bar)
}

/// [`write_city`], its scene playing `day` (a recording, relative to `out`) looping
/// instead of the city's ten-minute recording.
fn write_city_playing(
    scale: Scale,
    seed: u64,
    out: &Path,
    day: Option<&str>,
    bar: &ProgressBar,
) -> Result<CityReport> {
    let frame = LocalFrame::new(city::ORIGIN)?;
    bar.set_message("laying out roads and blocks");
    let plan = city::plan(scale, seed, |done, total| {
        bar.set_length(total);
        bar.set_position(done);
    })?;
    let mut w = Writer {
        root: out,
        files: Vec::new(),
    };
    let wgs84 = |x: f64, y: f64| -> Result<[f64; 2]> {
        let p = frame.to_lonlat(LocalPoint::new(x, y))?;
        Ok([p.lon, p.lat])
    };

    bar.set_message("writing buildings");
    bar.set_length(plan.buildings.len() as u64);
    bar.set_position(0);
    let mut text = String::with_capacity(plan.buildings.len() * 220);
    header(
        &mut text,
        &format!("郑州 buildings ({})", scale.label()),
        None,
    );
    for (i, b) in plan.buildings.iter().enumerate() {
        let mut props = json!({"id": format!("ZZ-B{:06}", i + 1), "levels": b.levels, "use": b.use_, "built": b.built,
            "grid": plan.micro_grids[b.micro_grid].id});
        if let Some(name) = &b.name {
            props["name"] = json!(name);
        }
        if let Some(h) = b.height_m {
            props["height"] = json!(h);
        }
        feature(
            &mut text,
            props,
            "Polygon",
            &rings(&b.footprint, &mut |x, y| wgs84(x, y))?,
        );
        if i % 4096 == 0 {
            bar.set_position(i as u64);
        }
    }
    footer(&mut text);
    w.write(BUILDINGS, text.as_bytes())?;

    bar.set_message("writing roads, districts, grids");
    let mut text = String::new();
    header(
        &mut text,
        &format!("郑州 roads ({}, GCJ-02)", scale.label()),
        None,
    );
    for (i, r) in plan.roads.iter().enumerate() {
        let mut coords = String::from("[");
        for (k, p) in r.line.iter().enumerate() {
            if k > 0 {
                coords.push(',');
            }
            let g = china::wgs84_to_gcj02(frame.to_lonlat(*p)?);
            deg(&mut coords, [g.lon, g.lat]);
        }
        coords.push(']');
        let mut props =
            json!({"id": format!("ZZ-R{:05}", i + 1), "class": r.class, "width": r.width_m});
        if let Some(name) = &r.name {
            props["name"] = json!(name);
        }
        feature(&mut text, props, "LineString", &coords);
    }
    footer(&mut text);
    w.write(ROADS, text.as_bytes())?;

    let districts = areas("districts", &plan.districts, None, &mut |x, y| wgs84(x, y))?;
    w.write(DISTRICTS, districts.as_bytes())?;
    let subdistricts = areas(
        "street offices (街道)",
        &plan.subdistricts,
        None,
        &mut |x, y| wgs84(x, y),
    )?;
    w.write(SUBDISTRICTS, subdistricts.as_bytes())?;
    let to_gk = proj::Proj::new_known_crs("EPSG:4326", "EPSG:4547", None)
        .context("PROJ cannot set up EPSG:4547")?;
    let mut gk = |x: f64, y: f64| -> Result<[f64; 2]> {
        let [lon, lat] = wgs84(x, y)?;
        let (e, n) = to_gk
            .convert((lon, lat))
            .context("projecting to EPSG:4547")?;
        // Millimetres, written with six decimals like the rest.
        Ok([super::round_to(e, 3), super::round_to(n, 3)])
    };
    let crs = Some("urn:ogc:def:crs:EPSG::4547");
    w.write(
        GRIDS,
        areas("community grids (EPSG:4547)", &plan.grids, crs, &mut gk)?.as_bytes(),
    )?;
    w.write(
        MICRO_GRIDS,
        areas("micro-grids (EPSG:4547)", &plan.micro_grids, crs, &mut gk)?.as_bytes(),
    )?;

    let mut text = String::new();
    header(&mut text, "points of interest", None);
    for (i, p) in plan.pois.iter().enumerate() {
        let mut coords = String::new();
        deg(&mut coords, wgs84(p.at.east_m, p.at.north_m)?);
        feature(
            &mut text,
            json!({"id": format!("ZZ-P{:05}", i + 1), "name": p.name, "kind": p.kind}),
            "Point",
            &coords,
        );
    }
    footer(&mut text);
    w.write(POIS, text.as_bytes())?;

    let mut text = String::new();
    header(&mut text, "land cover: water, parks, squares", None);
    for (i, l) in plan.land.iter().enumerate() {
        feature(
            &mut text,
            json!({"id": format!("ZZ-L{:05}", i + 1), "name": l.name, "class": l.class}),
            "Polygon",
            &rings(&l.shape, &mut |x, y| wgs84(x, y))?,
        );
    }
    footer(&mut text);
    w.write(LAND, text.as_bytes())?;

    bar.set_message("placing devices and writing the recording");
    let devices = city_feed::place_devices(&plan);
    let cameras = devices.iter().filter(|d| d.kind.is_none()).count();
    w.write(
        FEED,
        city_feed::recording(&plan, &devices, &frame, seed)?.as_bytes(),
    )?;

    let (lo, hi) = plan.extent;
    let within = |ll: LonLat| -> Result<bool> {
        let p = frame.to_local(ll)?;
        Ok(p.east_m >= lo.east_m
            && p.east_m <= hi.east_m
            && p.north_m >= lo.north_m
            && p.north_m <= hi.north_m)
    };
    let mut models = String::new();
    for (name, rel, ll, bytes) in [
        (
            "二七塔",
            "models/erqi-tower.glb",
            city::ORIGIN,
            super::erqi_tower(CITY_NOTE),
        ),
        (
            "千玺广场",
            "models/zhengdong-corn-tower.glb",
            city::CORN,
            super::corn_tower(CITY_NOTE),
        ),
    ] {
        if within(ll)? {
            w.write(rel, &bytes)?;
            let _ = writeln!(
                models,
                "        (name: \"{name}\", path: \"{rel}\", position: (lon: {}, lat: {}), heading_deg: 0.0, scale: 1.0),",
                ll.lon, ll.lat
            );
        }
    }
    let mut projects = String::new();
    if let Some(demo) = super::plan_demo::demo(&plan, &frame)? {
        for (rel, bytes) in &demo.files {
            w.write(rel, bytes)?;
        }
        projects = demo.scene_entries;
    }
    let centre = frame.to_lonlat(LocalPoint::new(
        (lo.east_m + hi.east_m) / 2.0,
        (lo.north_m + hi.north_m) / 2.0,
    ))?;
    let span = (hi.east_m - lo.east_m).max(hi.north_m - lo.north_m);
    let mut views = format!(
        "        (name: \"overview\", look_at: (lon: {:.4}, lat: {:.4}), distance_m: {:.0}, pitch_deg: 50.0, heading_deg: 10.0),\n",
        centre.lon,
        centre.lat,
        (span * 0.85).round()
    );
    for (name, ll, distance, pitch, heading) in [
        ("erqi", city::ORIGIN, 700.0, 35.0, 30.0),
        ("beisanjie", city::BEISANJIE, 1100.0, 45.0, -20.0),
        ("cbd", city::CORN, 2600.0, 24.0, 200.0),
        (
            "ring-west",
            LonLat::new(113.585, 34.757),
            2400.0,
            30.0,
            60.0,
        ),
    ] {
        if within(ll)? {
            let _ = writeln!(
                views,
                "        (name: \"{name}\", look_at: (lon: {}, lat: {}), distance_m: {distance:.1}, pitch_deg: {pitch:.1}, heading_deg: {heading:.1}),",
                ll.lon, ll.lat
            );
        }
    }
    let mut routes = String::new();
    for (name, line) in super::city_feed::tour_routes(&plan) {
        let points = line
            .iter()
            .map(|p| {
                let ll = frame.to_lonlat(*p)?;
                Ok(format!(
                    "(lon: {}, lat: {})",
                    super::round_to(ll.lon, 6),
                    super::round_to(ll.lat, 6)
                ))
            })
            .collect::<Result<Vec<_>>>()?;
        let _ = writeln!(
            routes,
            "                (name: \"{name}\", line: [{}], corridor_m: 100.0),",
            points.join(", ")
        );
    }
    // The day recorded by `gen-day` for the built-in city, or ten minutes of this one.
    let played = day.unwrap_or(FEED);
    let scene = format!(
        r#"// {CITY_NOTE}
{stamp}
// Format: scenes/README.md. Paths are relative to this file. `{MICRO_GRIDS}` holds the
// micro-grids inside each community grid (not drawn by default; add a Grids layer for them).
(
    name: "郑州 · {title}",
    origin: (lon: {olon}, lat: {olat}),
    language: "zh-CN",
    synthetic: true,
    layers: [
        (kind: Land, path: "{LAND}"),
        (kind: Districts, path: "{DISTRICTS}", crs: "EPSG:4326"),
        (kind: Subdistricts, path: "{SUBDISTRICTS}", crs: "EPSG:4326"),
        (kind: Grids, path: "{GRIDS}", crs: "EPSG:4547"),
        (kind: Roads, path: "{ROADS}", crs: "GCJ-02", attributes: (class: "class", width: "width")),
        (
            kind: Buildings,
            path: "{BUILDINGS}",
            crs: "EPSG:4326",
            attributes: (id: "id", name: "name", height: "height", levels: "levels", metres_per_level: 3.1, default_height_m: 12.0),
        ),
        (kind: Pois, path: "{POIS}"),
    ],
    models: [
{models}    ],
    views: [
{views}    ],
    feeds: ["replay:{played}@1,loop"],
    // Renovation proposals for `citytwin plan` (SYNTHETIC).
    projects: [
{projects}    ],
    // The key vehicles' approved routes (SYNTHETIC): a tour bus further than the
    // corridor from its route raises an alert.
    operations: (
        vehicles: (
            routes: [
{routes}            ],
        ),
    ),
)
"#,
        stamp = stamp(scale, seed, day),
        title = match scale {
            Scale::District => "二七 · 郑东新区",
            Scale::City => "中心城区",
            Scale::Full => "全市",
        },
        olon = city::ORIGIN.lon,
        olat = city::ORIGIN.lat,
    );
    w.write(SCENE, scene.as_bytes())?;
    bar.finish_with_message("done");
    Ok(CityReport {
        buildings: plan.buildings.len(),
        roads: plan.roads.len(),
        districts: plan.districts.len(),
        subdistricts: plan.subdistricts.len(),
        grids: plan.grids.len(),
        micro_grids: plan.micro_grids.len(),
        pois: plan.pois.len(),
        land: plan.land.len(),
        cameras,
        devices: devices.len() - cameras,
        files: w.files,
    })
}
