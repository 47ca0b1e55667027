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
use geo::{Area, Coord, LineString, MultiPolygon, Polygon};

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
            let moved = |ring: &LineString<f64>| {
                LineString::new(
                    ring.coords()
                        .map(|c| Coord {
                            x: c.x + shift.x,
                            y: c.y + shift.y,
                        })
                        .collect(),
                )
            };
            pieces.push(Polygon::new(
                moved(p.exterior()),
                p.interiors().iter().map(moved).collect(),
            ));
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

#[cfg(test)]
mod tests {
    use super::*;
    use geo::{Contains, MultiPolygon, Rect};

    /// The sun at `azimuth` (degrees from north, clockwise) and `elevation`.
    fn sun(azimuth: f64, elevation: f64) -> SunStep {
        let (az, el) = (azimuth.to_radians(), elevation.to_radians());
        SunStep {
            solar_minute: 720.0,
            utc: chrono::DateTime::UNIX_EPOCH,
            azimuth_deg: azimuth,
            elevation_deg: elevation,
            towards: [az.sin() * el.cos(), az.cos() * el.cos(), el.sin()],
        }
    }

    fn rect(x0: f64, y0: f64, x1: f64, y1: f64) -> MultiPolygon<f64> {
        MultiPolygon(vec![Rect::new((x0, y0), (x1, y1)).to_polygon()])
    }

    /// The shadow of one block.
    fn of_block(footprint: &MultiPolygon<f64>, height_m: f64, sun: &SunStep) -> MultiPolygon<f64> {
        let blocks = [Block {
            footprint,
            height_m,
        }];
        ground_shadow(&blocks, &[], sun).unwrap()
    }

    #[test]
    fn a_block_with_the_sun_due_south_shades_a_strip_north_of_it() {
        // 20 m × 10 m, 30 m tall, the sun due south at 30°: the shadow reaches
        // 30 / tan 30° = 51.96 m north of the block's north wall, as wide as the block.
        let shadow = of_block(&rect(0.0, 0.0, 20.0, 10.0), 30.0, &sun(180.0, 30.0));
        let reach = 30.0 / 30f64.to_radians().tan();
        let area = shadow.unsigned_area();
        assert!(
            (area - 20.0 * (10.0 + reach)).abs() < 1e-6,
            "area {area}, hand-calculated {}",
            20.0 * (10.0 + reach)
        );
        assert!(shadow.contains(&Coord {
            x: 10.0,
            y: 10.0 + reach - 0.1
        }));
        assert!(!shadow.contains(&Coord {
            x: 10.0,
            y: 10.0 + reach + 0.1
        }));
        assert!(!shadow.contains(&Coord { x: 10.0, y: -0.1 }));
    }

    #[test]
    fn a_block_with_the_sun_in_the_south_west_shades_a_hexagon() {
        // The sun at 45° from the south-west: the roof's shadow moves 30 m along the
        // ground towards the north-east, (21.21, 21.21); the shadow is the block swept
        // along that move, 200 + 20 × 21.21 + 10 × 21.21 m².
        let shadow = of_block(&rect(0.0, 0.0, 20.0, 10.0), 30.0, &sun(225.0, 45.0));
        let d = 30.0 * std::f64::consts::FRAC_1_SQRT_2;
        let hand = 200.0 + 20.0 * d + 10.0 * d;
        assert!((shadow.unsigned_area() - hand).abs() < 1e-6);
        // The roof's far corner lands at (20 + d, 10 + d).
        assert!(shadow.contains(&Coord {
            x: 20.0 + d - 0.1,
            y: 10.0 + d - 0.1
        }));
        assert!(!shadow.contains(&Coord {
            x: 20.0 + d + 0.1,
            y: 10.0 + d + 0.1
        }));
    }

    #[test]
    fn a_model_shades_as_much_as_the_block_of_its_shape() {
        // An elevator shaft 3 m × 3 m × 20 m as twelve triangles casts the shadow of a
        // 3 m × 3 m block 20 m tall.
        let (x0, y0, x1, y1, h) = (5.0, 5.0, 8.0, 8.0, 20.0);
        let c = |x: f64, y: f64, z: f64| [x, y, z];
        let corners = [
            c(x0, y0, 0.0),
            c(x1, y0, 0.0),
            c(x1, y1, 0.0),
            c(x0, y1, 0.0),
            c(x0, y0, h),
            c(x1, y0, h),
            c(x1, y1, h),
            c(x0, y1, h),
        ];
        let faces = [
            [0, 1, 2, 3],
            [4, 5, 6, 7],
            [0, 1, 5, 4],
            [1, 2, 6, 5],
            [2, 3, 7, 6],
            [3, 0, 4, 7],
        ];
        let triangles: Vec<[[f64; 3]; 3]> = faces
            .iter()
            .flat_map(|f| {
                [
                    [corners[f[0]], corners[f[1]], corners[f[2]]],
                    [corners[f[0]], corners[f[2]], corners[f[3]]],
                ]
            })
            .collect();
        let footprint = rect(x0, y0, x1, y1);
        for (az, el) in [(180.0, 30.0), (135.0, 20.0), (250.0, 40.0)] {
            let of_model = ground_shadow(&[], &triangles, &sun(az, el)).unwrap();
            let a = of_model.unsigned_area();
            let b = of_block(&footprint, h, &sun(az, el)).unsigned_area();
            assert!(
                (a - b).abs() < 1e-6 * b,
                "sun {az}/{el}: {a} m² against {b} m²"
            );
        }
    }

    #[test]
    fn no_shadow_is_drawn_with_the_sun_down() {
        let footprint = rect(0.0, 0.0, 10.0, 10.0);
        let blocks = [Block {
            footprint: &footprint,
            height_m: 10.0,
        }];
        assert!(ground_shadow(&blocks, &[], &sun(180.0, 0.5)).is_none());
    }
}
