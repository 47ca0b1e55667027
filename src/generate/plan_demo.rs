//! The built-in city's renovation proposals (SYNTHETIC, invented for the demo): two
//! for the 北三街 old community — A adds an elevator to each slab and a pocket park, B
//! demolishes two slabs for a day-care centre and parking — and one for a stretch of
//! 陇海路. Written beside the city as GeoJSON and GLB, listed in the scene's `projects`.

use super::city::CITY_NOTE;
use super::city::{self, CityPlan};
use super::city_files::{feature, footer, header};
use super::glb;
use crate::city::mesh::{self, MeshData};
use crate::geo::{LocalFrame, LocalPoint, LonLat};
use anyhow::{Context, Result};
use geo::{BoundingRect, LineString, Polygon};
use serde_json::json;
use std::fmt::Write as _;

/// Metres a floor, as the built-in scene reads `levels`.
const FLOOR_M: f64 = 3.1;
/// The elevator shaft: square side and height above the roof (machine room).
const SHAFT_M: f64 = 2.6;
const SHAFT_ABOVE_ROOF_M: f64 = 3.0;

/// Files to write (relative path, bytes) and the scene's `projects:` entries.
pub struct Demo {
    pub files: Vec<(String, Vec<u8>)>,
    pub scene_entries: String,
}

fn rect(x0: f64, y0: f64, x1: f64, y1: f64) -> Polygon<f64> {
    geo::Rect::new((x0, y0), (x1, y1)).to_polygon()
}

/// A GeoJSON file of features built by `add`.
struct Collection {
    text: String,
}

impl Collection {
    fn new(name: &str) -> Self {
        let mut text = String::new();
        header(&mut text, name, None);
        Self { text }
    }

    fn finish(mut self) -> Vec<u8> {
        footer(&mut self.text);
        self.text.into_bytes()
    }
}

/// Everything the proposals are made of, in local metres, turned into WGS84 here.
struct Out<'a> {
    frame: &'a LocalFrame,
    files: Vec<(String, Vec<u8>)>,
}

impl Out<'_> {
    fn ll(&self, x: f64, y: f64) -> Result<[f64; 2]> {
        let p = self.frame.to_lonlat(LocalPoint::new(x, y))?;
        Ok([p.lon, p.lat])
    }

    fn lonlat(&self, x: f64, y: f64) -> Result<LonLat> {
        Ok(self.frame.to_lonlat(LocalPoint::new(x, y))?)
    }

    /// Coordinates to 8 decimals (about a millimetre): a planner's 4 m tree strip
    /// keeps its width, which the city's 6 decimals (10 cm) would not.
    fn coords(&self, points: &[geo::Coord<f64>]) -> Result<String> {
        let mut out = String::from("[");
        for (i, p) in points.iter().enumerate() {
            if i > 0 {
                out.push(',');
            }
            let [lon, lat] = self.ll(p.x, p.y)?;
            let _ = write!(out, "[{lon:.8},{lat:.8}]");
        }
        out.push(']');
        Ok(out)
    }

    fn polygon(
        &self,
        c: &mut Collection,
        props: serde_json::Value,
        p: &Polygon<f64>,
    ) -> Result<()> {
        let mut rings = vec![self.coords(&p.exterior().0)?];
        for hole in p.interiors() {
            rings.push(self.coords(&hole.0)?);
        }
        let coords = format!("[{}]", rings.join(","));
        feature(&mut c.text, props, "Polygon", &coords);
        Ok(())
    }

    fn line(
        &self,
        c: &mut Collection,
        props: serde_json::Value,
        l: &LineString<f64>,
    ) -> Result<()> {
        let coords = self.coords(&l.0)?;
        feature(&mut c.text, props, "LineString", &coords);
        Ok(())
    }

    fn point(&self, c: &mut Collection, props: serde_json::Value, x: f64, y: f64) -> Result<()> {
        let coords = self.coords(&[geo::Coord { x, y }])?;
        // One position, not a list of them.
        let one = &coords[1..coords.len() - 1];
        feature(&mut c.text, props, "Point", one);
        Ok(())
    }

    fn put(&mut self, rel: String, c: Collection) {
        self.files.push((rel, c.finish()));
    }
}

/// A model part: a box from (x0, y0, z0) to (x1, y1, z1) in model metres (east, north,
/// up), added to `out`.
fn cuboid(out: &mut MeshData, [x0, y0, z0]: [f64; 3], [x1, y1, z1]: [f64; 3], color: [f32; 4]) {
    mesh::extrude(
        &rect(x0, y0, x1, y1),
        z0 as f32,
        z1 as f32,
        color,
        color,
        out,
    );
}

/// An elevator shaft for a slab of `floors`: glass on a steel frame, centred on its
/// origin, its south face (+north side of the slab it serves) at y = −SHAFT_M/2.
fn elevator(floors: u32) -> Vec<u8> {
    let mut shaft = MeshData::default();
    let h = f64::from(floors) * FLOOR_M + SHAFT_ABOVE_ROOF_M;
    let s = SHAFT_M / 2.0;
    cuboid(
        &mut shaft,
        [-s, -s, 0.0],
        [s, s, h],
        [0.55, 0.70, 0.78, 1.0],
    );
    glb::write_parts(
        &format!("加装电梯 elevator shaft, {floors} floors (SYNTHETIC)"),
        CITY_NOTE,
        &[("shaft", shaft, [0.55, 0.70, 0.78, 1.0], [0.05, 0.08, 0.1])],
    )
}

/// A pergola (廊架): four posts and a slatted roof, 8 × 4 m, 3 m high.
fn pergola() -> Vec<u8> {
    let mut wood = MeshData::default();
    let c = [0.55, 0.38, 0.22, 1.0];
    for (x, y) in [(-3.8, -1.8), (3.5, -1.8), (-3.8, 1.5), (3.5, 1.5)] {
        cuboid(&mut wood, [x, y, 0.0], [x + 0.3, y + 0.3, 2.7], c);
    }
    for k in 0..9 {
        let x = -4.0 + f64::from(k) * 0.97;
        cuboid(&mut wood, [x, -2.0, 2.7], [x + 0.2, 2.0, 3.0], c);
    }
    glb::write_parts(
        "口袋公园廊架 pocket-park pergola (SYNTHETIC)",
        CITY_NOTE,
        &[("pergola", wood, c, [0.1, 0.06, 0.03])],
    )
}

/// A day-care centre (托育 + 日间照料 + 助餐): three floors, 30 × 14 m, a canopy.
fn day_care() -> Vec<u8> {
    let mut walls = MeshData::default();
    let mut canopy = MeshData::default();
    cuboid(
        &mut walls,
        [-15.0, -7.0, 0.0],
        [15.0, 7.0, 10.5],
        [0.95, 0.86, 0.70, 1.0],
    );
    cuboid(
        &mut canopy,
        [-6.0, -10.0, 3.2],
        [6.0, -7.0, 3.5],
        [0.85, 0.35, 0.25, 1.0],
    );
    glb::write_parts(
        "社区托育与日间照料中心 day-care centre (SYNTHETIC)",
        CITY_NOTE,
        &[
            ("walls", walls, [0.95, 0.86, 0.70, 1.0], [0.2, 0.16, 0.1]),
            ("canopy", canopy, [0.85, 0.35, 0.25, 1.0], [0.2, 0.05, 0.03]),
        ],
    )
}

/// A slab of the 北三街 community: (id, footprint, floors).
struct Slab {
    id: String,
    footprint: Polygon<f64>,
    floors: u32,
}

/// The proposals for the generated city, or None when it has no 北三街 community.
pub fn demo(plan: &CityPlan, frame: &LocalFrame) -> Result<Option<Demo>> {
    let slabs: Vec<Slab> = plan
        .buildings
        .iter()
        .enumerate()
        .filter(|(_, b)| {
            b.name
                .as_deref()
                .is_some_and(|n| n.starts_with("北三街小区"))
        })
        .map(|(i, b)| Slab {
            id: format!("ZZ-B{:06}", i + 1),
            footprint: b.footprint.clone(),
            floors: b.levels,
        })
        .collect();
    if slabs.len() != city::BEISANJIE_BUILDINGS {
        return Ok(None);
    }
    let mut out = Out {
        frame,
        files: Vec::new(),
    };
    let centre = frame.to_local(city::BEISANJIE)?;
    let half = city::BEISANJIE_SIDE_M / 2.0;
    let (x0, y0) = (centre.east_m - half, centre.north_m - half);
    let (x1, y1) = (x0 + city::BEISANJIE_SIDE_M, y0 + city::BEISANJIE_SIDE_M);
    let col_w = city::BEISANJIE_SIDE_M / 3.0;
    let dir = "projects/beisanjie";

    let mut boundary = Collection::new("北三街片区 site boundary (SYNTHETIC)");
    out.polygon(
        &mut boundary,
        json!({"id": "RP-2026-001", "name": "北三街片区"}),
        &rect(x0, y0, x1, y1),
    )?;
    out.put(format!("{dir}/boundary.geojson"), boundary);

    // Both proposals resurface the two lanes and separate their pipes; A also puts the
    // cables underground and redoes the façades of the middle column.
    let lanes: Vec<LineString<f64>> = [1.0, 2.0]
        .iter()
        .map(|k| LineString::from(vec![(x0 + col_w * k, y0), (x0 + col_w * k, y1)]))
        .collect();
    let mut works_a = Collection::new("北三街 方案A works (SYNTHETIC)");
    let mut works_b = Collection::new("北三街 方案B works (SYNTHETIC)");
    for lane in &lanes {
        for (c, works) in [
            (&mut works_a, &["roads", "cables", "pipes"][..]),
            (&mut works_b, &["roads", "pipes"][..]),
        ] {
            for w in works {
                out.line(c, json!({"work": w}), lane)?;
            }
        }
    }
    for s in slabs.iter().skip(1).step_by(3) {
        let r = s
            .footprint
            .bounding_rect()
            .context("a slab has no extent")?;
        let south = LineString::from(vec![(r.min().x, r.min().y), (r.max().x, r.min().y)]);
        out.line(&mut works_a, json!({"work": "facades"}), &south)?;
    }
    out.put(format!("{dir}/a-works.geojson"), works_a);
    out.put(format!("{dir}/b-works.geojson"), works_b);

    // A: six illegal sheds in the gaps come down; a pocket park with a pergola by the
    // west lane; parking along the lanes; a fitness corner and a property office.
    let mut demolish_a = Collection::new("北三街 方案A demolitions (SYNTHETIC)");
    for k in 0..6 {
        let r = slabs[k * 9]
            .footprint
            .bounding_rect()
            .context("slab extent")?;
        let (sx, sy) = (r.max().x + 6.0, r.max().y + 3.0);
        out.polygon(
            &mut demolish_a,
            json!({"illegal": true, "name": format!("违建棚屋 {}", k + 1)}),
            &rect(sx, sy, sx + 5.0, sy + 3.5),
        )?;
    }
    out.put(format!("{dir}/a-demolitions.geojson"), demolish_a);
    let park = (x0 + col_w - 60.0, y0 + 300.0);
    let mut green_a = Collection::new("北三街 方案A green (SYNTHETIC)");
    out.polygon(
        &mut green_a,
        json!({"name": "北三街口袋公园"}),
        &rect(park.0, park.1, park.0 + 45.0, park.1 + 40.0),
    )?;
    out.put(format!("{dir}/a-green.geojson"), green_a);
    let mut parking_a = Collection::new("北三街 方案A parking (SYNTHETIC)");
    for lane in &lanes {
        let x = lane.0[0].x;
        for (xa, xb) in [(x - 10.0, x - 5.0), (x + 5.0, x + 10.0)] {
            out.polygon(
                &mut parking_a,
                json!({}),
                &rect(xa, y0 + 40.0, xb, y0 + 190.0),
            )?;
        }
    }
    out.put(format!("{dir}/a-parking.geojson"), parking_a);
    let mut facilities_a = Collection::new("北三街 方案A facilities (SYNTHETIC)");
    for (kind, name, x, y) in [
        ("fitness", "口袋公园健身角", park.0 + 35.0, park.1 + 10.0),
        (
            "property",
            "物业服务用房",
            x0 + col_w * 2.0 - 15.0,
            y0 + 20.0,
        ),
        ("meal", "长者助餐点", x0 + col_w * 2.0 - 15.0, y0 + 340.0),
    ] {
        out.point(&mut facilities_a, json!({"kind": kind, "name": name}), x, y)?;
    }
    out.put(format!("{dir}/a-facilities.geojson"), facilities_a);
    for floors in 5..=7 {
        out.files
            .push((format!("{dir}/elevator-{floors}f.glb"), elevator(floors)));
    }
    out.files.push((format!("{dir}/pergola.glb"), pergola()));
    out.files.push((format!("{dir}/day-care.glb"), day_care()));
    let mut models_a = String::new();
    for (n, s) in slabs.iter().enumerate() {
        let r = s.footprint.bounding_rect().context("slab extent")?;
        let at = out.lonlat((r.min().x + r.max().x) / 2.0, r.max().y + SHAFT_M / 2.0)?;
        let _ = writeln!(
            models_a,
            "                    (name: \"{}号楼 加装电梯\", path: \"{dir}/elevator-{}f.glb\", position: (lon: {:.7}, lat: {:.7}), role: Elevator),",
            n + 1,
            s.floors.clamp(5, 7),
            at.lon,
            at.lat
        );
    }
    let at = out.lonlat(park.0 + 22.0, park.1 + 25.0)?;
    let _ = writeln!(
        models_a,
        "                    (name: \"口袋公园廊架\", path: \"{dir}/pergola.glb\", position: (lon: {:.7}, lat: {:.7}), heading_deg: 90.0),",
        at.lon, at.lat
    );

    // B: slabs 34 and 37 (the west column, mid-rows) come down; the day-care centre
    // stands on the first, a car park on the second, green around the centre.
    let (first, second) = (&slabs[33], &slabs[36]);
    let mut demolish_b = Collection::new("北三街 方案B demolitions (SYNTHETIC)");
    for s in [first, second] {
        let r = s.footprint.bounding_rect().context("slab extent")?;
        out.polygon(
            &mut demolish_b,
            json!({"building": s.id}),
            &rect(
                r.min().x - 0.5,
                r.min().y - 0.5,
                r.max().x + 0.5,
                r.max().y + 0.5,
            ),
        )?;
    }
    out.put(format!("{dir}/b-demolitions.geojson"), demolish_b);
    let r1 = first.footprint.bounding_rect().context("slab extent")?;
    let (cx, cy) = (
        (r1.min().x + r1.max().x) / 2.0,
        (r1.min().y + r1.max().y) / 2.0,
    );
    let r2 = second.footprint.bounding_rect().context("slab extent")?;
    let mut parking_b = Collection::new("北三街 方案B parking (SYNTHETIC)");
    out.polygon(
        &mut parking_b,
        json!({"spaces": 28, "name": "北三街社区停车场"}),
        &rect(r2.min().x, r2.min().y - 2.0, r2.max().x, r2.max().y + 2.0),
    )?;
    out.put(format!("{dir}/b-parking.geojson"), parking_b);
    let mut green_b = Collection::new("北三街 方案B green (SYNTHETIC)");
    out.polygon(
        &mut green_b,
        json!({"name": "托育中心庭院"}),
        &rect(cx + 17.0, cy - 8.0, cx + 32.0, cy + 8.0),
    )?;
    out.put(format!("{dir}/b-green.geojson"), green_b);
    let mut facilities_b = Collection::new("北三街 方案B facilities (SYNTHETIC)");
    for (kind, name) in [("elderly_care", "日间照料中心"), ("meal", "社区食堂")] {
        out.point(
            &mut facilities_b,
            json!({"kind": kind, "name": name}),
            cx,
            cy,
        )?;
    }
    out.put(format!("{dir}/b-facilities.geojson"), facilities_b);
    let at = out.lonlat(cx, cy)?;
    let models_b = format!(
        "                    (name: \"社区托育与日间照料中心\", path: \"{dir}/day-care.glb\", position: (lon: {:.7}, lat: {:.7}), role: Facility(\"childcare\")),\n",
        at.lon, at.lat
    );

    let mut entries = format!(
        r#"        (
            id: "RP-2026-001",
            name: "北三街片区老旧小区改造",
            kind: Community,
            boundary: "{dir}/boundary.geojson",
            synthetic: true,
            scenarios: [
                (
                    name: "方案A 加装电梯+口袋公园",
                    description: "An elevator on the north side of each slab, a pocket park with a pergola, parking along the lanes, illegal sheds removed (SYNTHETIC)",
                    demolitions: "{dir}/a-demolitions.geojson",
                    green: "{dir}/a-green.geojson",
                    parking: "{dir}/a-parking.geojson",
                    facilities: "{dir}/a-facilities.geojson",
                    works: "{dir}/a-works.geojson",
                    models: [
{models_a}                    ],
                ),
                (
                    name: "方案B 拆两栋建托育中心+停车",
                    description: "Slabs 34 and 37 demolished for a day-care centre (托育, 日间照料, 助餐) and a car park (SYNTHETIC)",
                    demolitions: "{dir}/b-demolitions.geojson",
                    green: "{dir}/b-green.geojson",
                    parking: "{dir}/b-parking.geojson",
                    facilities: "{dir}/b-facilities.geojson",
                    works: "{dir}/b-works.geojson",
                    models: [
{models_b}                    ],
                ),
            ],
        ),
"#
    );

    // 陇海路 (二期): 1.6 km of the arterial east of 京广路, a 70 m corridor.
    if let Some(road) = plan
        .roads
        .iter()
        .find(|r| r.name.as_deref() == Some("陇海路"))
    {
        let y = road.line[0].north_m;
        let xa = frame.to_local(LonLat::new(113.652, 34.737))?.east_m;
        let xb = xa + 1600.0;
        let dir = "projects/longhai";
        let mut b = Collection::new("陇海路（二期） corridor (SYNTHETIC)");
        out.polygon(
            &mut b,
            json!({"id": "RP-2026-002"}),
            &rect(xa, y - 35.0, xb, y + 35.0),
        )?;
        out.put(format!("{dir}/boundary.geojson"), b);
        let along = |dy: f64| LineString::from(vec![(xa, y + dy), (xb, y + dy)]);
        let mut works = Collection::new("陇海路（二期） works (SYNTHETIC)");
        out.line(&mut works, json!({"work": "roads"}), &along(0.0))?;
        for dy in [-20.0, 20.0] {
            out.line(&mut works, json!({"work": "cables"}), &along(dy))?;
            out.line(&mut works, json!({"work": "pipes"}), &along(dy * 0.8))?;
        }
        out.put(format!("{dir}/works.geojson"), works);
        let mut green = Collection::new("陇海路（二期） green (SYNTHETIC)");
        for (lo, hi) in [(-30.0, -26.0), (26.0, 30.0)] {
            out.polygon(
                &mut green,
                json!({"name": "行道树带"}),
                &rect(xa, y + lo, xb, y + hi),
            )?;
        }
        out.put(format!("{dir}/green.geojson"), green);
        let mut paths = Collection::new("陇海路（二期） paths (SYNTHETIC)");
        for dy in [-24.0, 24.0] {
            out.line(&mut paths, json!({"name": "非机动车道"}), &along(dy))?;
        }
        out.put(format!("{dir}/paths.geojson"), paths);
        let _ = write!(
            entries,
            r#"        (
            id: "RP-2026-002",
            name: "陇海路（二期）道路综合改造",
            kind: Road,
            boundary: "{dir}/boundary.geojson",
            synthetic: true,
            scenarios: [
                (
                    name: "综合提升 full renovation",
                    description: "Resurfacing, cables underground, rain and sewage separated, tree strips and cycle lanes (SYNTHETIC)",
                    green: "{dir}/green.geojson",
                    paths: "{dir}/paths.geojson",
                    works: "{dir}/works.geojson",
                ),
            ],
        ),
"#
        );
    }
    Ok(Some(Demo {
        files: out.files,
        scene_entries: entries,
    }))
}
