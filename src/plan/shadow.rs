//! Shadows on the ground at one moment of the standard day (阴影图): what the planner's
//! time slider draws on the map and what the report's hour-by-hour shadow diagram
//! outlines.
//!
//! Computed from the same geometry the sunlight hours are (extruded buildings and the
//! triangles of glTF elements), not by the renderer: an exact shadow of a prism is the
//! union of its base, its roof moved along the sun's ground direction by
//! `height / tan(elevation)`, and the parallelograms its walls sweep on the way; a
//! triangle's is its three corners cast onto the ground. The union is `geo`'s
//! (`i_overlay`).

use super::project::{LoadedProject, Standing};
use super::sun::{Block, SunStep};
use geo::orient::{Direction, Orient};
use geo::{Area, Coord, LineString, MultiPolygon, Polygon, Translate};

/// Below this elevation the sun is treated as down: shadows would run off the map.
pub const MIN_ELEVATION_DEG: f64 = 1.0;

/// Where a point at height `z` casts its shadow on the ground (z = 0) with the sun
/// at `sun`; a point at or below the ground is its own shadow.
fn cast(x: f64, y: f64, z: f64, sun: &SunStep) -> Coord<f64> {
    let k = z.max(0.0) / sun.towards[2];
    Coord {
        x: x - sun.towards[0] * k,
        y: y - sun.towards[1] * k,
    }
}

/// A ring's polygon (oriented before the union).
fn polygon(points: Vec<Coord<f64>>) -> Polygon<f64> {
    Polygon::new(LineString::new(points), Vec::new())
}

/// Pieces smaller than this (m²) are left out: walls edge-on to the sun.
const SLIVER_M2: f64 = 1e-6;

/// The ground shadow of everything standing at one step of the sun, or `None` when
/// the sun is below [`MIN_ELEVATION_DEG`].
pub fn ground_shadow(
    blocks: &[Block],
    triangles: &[[[f64; 3]; 3]],
    sun: &SunStep,
) -> Option<MultiPolygon<f64>> {
    if sun.elevation_deg < MIN_ELEVATION_DEG || sun.towards[2] <= 0.0 {
        return None;
    }
    let mut pieces = Vec::new();
    for b in blocks.iter().filter(|b| b.height_m > 0.0) {
        let shift = cast(0.0, 0.0, b.height_m, sun);
        for p in &b.footprint.0 {
            pieces.push(p.clone());
            pieces.push(p.translate(shift.x, shift.y));
            for ring in std::iter::once(p.exterior()).chain(p.interiors()) {
                for wall in ring.lines() {
                    let (a, b) = (wall.start, wall.end);
                    pieces.push(polygon(vec![a, b, b + shift, a + shift, a]));
                }
            }
        }
    }
    for t in triangles {
        if t.iter().all(|p| p[2] <= 0.0) {
            continue;
        }
        let [a, b, c] = t.map(|p| cast(p[0], p[1], p[2], sun));
        pieces.push(polygon(vec![a, b, c, a]));
    }
    // The union's fill rule follows the first ring's winding: every piece is turned
    // to the same one (exteriors counter-clockwise, holes clockwise).
    let pieces: Vec<Polygon<f64>> = pieces
        .iter()
        .filter(|p| p.unsigned_area() > SLIVER_M2)
        .map(|p| p.orient(Direction::Default))
        .collect();
    Some(geo::unary_union(pieces.iter()))
}

/// The ground shadow of scenario `s` (its buildings and models, and the buildings
/// around the site) at `sun`.
pub fn of_scenario(
    project: &LoadedProject,
    s: &Standing,
    sun: &SunStep,
) -> Option<MultiPolygon<f64>> {
    let (blocks, triangles) = super::review::casters(project, s, true);
    ground_shadow(&blocks, &triangles, sun)
}

/// The step of the day's `path` nearest `solar_hours` (true solar time), if the path
/// has steps.
pub fn step_at(path: &[SunStep], solar_hours: f64) -> Option<&SunStep> {
    let minute = solar_hours * 60.0;
    path.iter().min_by(|a, b| {
        (a.solar_minute - minute)
            .abs()
            .total_cmp(&(b.solar_minute - minute).abs())
    })
}

/// `h:mm` for true solar hours.
pub fn clock(solar_hours: f64) -> String {
    let minutes = (solar_hours * 60.0).round() as i64;
    format!("{}:{:02}", minutes / 60, minutes % 60)
}
