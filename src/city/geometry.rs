//! Polygon cleaning for imported layers, the way GIS tools treat real deliveries:
//! consecutive duplicate vertices are dropped silently, rings are checked for
//! self-intersection with a sweep line (O(n log n) on real data; geo's own validation
//! compares every pair of segments, close to a minute for a 100,000-vertex ring), and an
//! invalid polygon is repaired into valid parts: its rings are noded where they cross
//! and the faces inside an odd number of rings are kept (odd-even parity, the rule of
//! GEOS's "linework" `MakeValid`), by geo's boolean overlay (i_overlay, a sweep line,
//! O(n log n)) with OGC output. Only what cannot be repaired is an error: too few
//! distinct positions, non-finite coordinates, zero area.

use geo::algorithm::sweep::Cross;
use geo::bool_ops::FillRule;
use geo::coordinate_position::{CoordPos, CoordinatePosition};
use geo::line_intersection::LineIntersection;
use geo::{Area, BooleanOps, Coord, Intersections, Line, LineString, MultiPolygon, Polygon};
use std::fmt;

/// What is wrong with a polygon that can be repaired.
#[derive(Debug, Clone, PartialEq)]
pub enum Defect {
    /// Two non-adjacent edges of one ring cross or touch.
    SelfIntersection { ring: usize, at: Coord<f64> },
    /// A ring turns back on itself along an edge (a spike).
    Spike { ring: usize, at: Coord<f64> },
    /// Two rings overlap along an edge or cross.
    RingsCross {
        rings: (usize, usize),
        at: Coord<f64>,
    },
    /// A hole lies outside the exterior ring.
    HoleOutside { ring: usize },
}

impl fmt::Display for Defect {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Defect::SelfIntersection { ring, at } => write!(
                f,
                "{} ring has a self-intersection at ({:.1}, {:.1}) m",
                ring_name(*ring),
                at.x,
                at.y
            ),
            Defect::Spike { ring, at } => write!(
                f,
                "{} ring doubles back on itself at ({:.1}, {:.1}) m",
                ring_name(*ring),
                at.x,
                at.y
            ),
            Defect::RingsCross { rings, at } => write!(
                f,
                "{} and {} rings cross at ({:.1}, {:.1}) m",
                ring_name(rings.0),
                ring_name(rings.1),
                at.x,
                at.y
            ),
            Defect::HoleOutside { ring } => {
                write!(
                    f,
                    "{} ring lies outside the exterior ring",
                    ring_name(*ring)
                )
            }
        }
    }
}

fn ring_name(ring: usize) -> String {
    match ring {
        0 => "exterior".into(),
        n => format!("interior {}", n - 1),
    }
}

/// A polygon made ready for meshing and lookups, and what was done to it.
#[derive(Debug, Clone)]
pub struct Cleaned {
    pub polygons: Vec<Polygon<f64>>,
    /// Warnings: the repair made, interior rings dropped.
    pub notes: Vec<String>,
}

/// Repaired parts smaller than this (10 cm × 10 cm) are numerical slivers.
pub const SLIVER_M2: f64 = 0.01;

/// Cleans one polygon (local metres). `strict` refuses what would be repaired.
pub fn clean_polygon(polygon: Polygon<f64>, strict: bool) -> Result<Cleaned, String> {
    let mut notes = Vec::new();
    let (exterior, interiors) = polygon.into_inner();
    let exterior = dedup_ring(exterior);
    if exterior
        .0
        .iter()
        .any(|c| !c.x.is_finite() || !c.y.is_finite())
    {
        return Err("exterior ring has a non-finite coordinate".into());
    }
    let distinct = exterior.0.len().saturating_sub(1);
    if distinct < 3 {
        return Err(format!(
            "exterior ring has {distinct} distinct positions; a polygon needs at least 3"
        ));
    }
    let mut holes = Vec::with_capacity(interiors.len());
    for (i, ring) in interiors.into_iter().enumerate() {
        let ring = dedup_ring(ring);
        if ring.0.iter().any(|c| !c.x.is_finite() || !c.y.is_finite()) {
            return Err(format!("interior ring {i} has a non-finite coordinate"));
        }
        let distinct = ring.0.len().saturating_sub(1);
        if distinct < 3 {
            if strict {
                return Err(format!(
                    "interior ring {i} has {distinct} distinct positions; a ring needs at least 3"
                ));
            }
            notes.push(format!(
                "interior ring {i} has {distinct} distinct positions; dropped it"
            ));
            continue;
        }
        holes.push(ring);
    }
    let polygon = Polygon::new(exterior, holes);
    let area = polygon.unsigned_area();
    let Some(defect) = first_defect(&polygon) else {
        if area <= 0.0 {
            return Err("polygon has zero area".into());
        }
        return Ok(Cleaned {
            polygons: vec![polygon],
            notes,
        });
    };
    if strict {
        return Err(format!("invalid polygon: {defect}"));
    }
    let mut repaired = polygon.union_with_fill_rule(&MultiPolygon::new(vec![]), FillRule::EvenOdd);
    // A vertex touching an edge is, after projection, a few nanometres off it: the
    // overlay then leaves a sliver part there that is no part of the real shape.
    let parts = repaired.0.len();
    if repaired.0.iter().any(|p| p.unsigned_area() >= SLIVER_M2) {
        repaired.0.retain(|p| p.unsigned_area() >= SLIVER_M2);
    }
    let slivers = parts - repaired.0.len();
    let repaired_area = repaired.unsigned_area();
    if repaired.0.is_empty() || repaired_area <= 0.0 {
        return Err(format!("polygon has zero area: {defect}"));
    }
    notes.push(format!(
        "{defect}; repaired into {} polygon{} of {:.0} m²{}",
        repaired.0.len(),
        if repaired.0.len() == 1 { "" } else { "s" },
        repaired_area,
        match slivers {
            0 => String::new(),
            n => format!(
                " (and {n} sliver{} under {SLIVER_M2} m² dropped)",
                if n == 1 { "" } else { "s" }
            ),
        }
    ));
    Ok(Cleaned {
        polygons: repaired.0,
        notes,
    })
}

/// Drops consecutive repeated positions (the closing position stays).
fn dedup_ring(mut ring: LineString<f64>) -> LineString<f64> {
    ring.0.dedup();
    ring
}

/// One edge of a polygon: its ring and its index in the ring.
#[derive(Debug, Clone, Copy)]
struct Edge {
    line: Line<f64>,
    ring: usize,
    index: usize,
}

impl Cross for Edge {
    type Scalar = f64;

    fn line(&self) -> Line<f64> {
        self.line
    }
}

/// The first thing that makes `polygon` invalid, if any. Edges are swept once for all
/// rings: adjacent edges of a ring may only share their common vertex, other edges of a
/// ring may not meet at all, two rings may touch at points but not share an edge or
/// cross; each hole must lie inside the exterior.
pub fn first_defect(polygon: &Polygon<f64>) -> Option<Defect> {
    let rings: Vec<&LineString<f64>> = std::iter::once(polygon.exterior())
        .chain(polygon.interiors())
        .collect();
    let edges = rings.iter().enumerate().flat_map(|(ring, line)| {
        line.lines()
            .enumerate()
            .map(move |(index, line)| Edge { line, ring, index })
    });
    let edge_count = |ring: usize| rings[ring].0.len() - 1;
    for (a, b, hit) in Intersections::from_iter(edges) {
        if a.ring == b.ring {
            let n = edge_count(a.ring);
            let (lo, hi) = (a.index.min(b.index), a.index.max(b.index));
            let adjacent = hi - lo == 1 || (lo == 0 && hi == n - 1);
            match hit {
                LineIntersection::SinglePoint { intersection, .. } if adjacent => {
                    // Adjacent edges share one vertex; meeting anywhere else is a spike.
                    let shared = if hi - lo == 1 {
                        a_end(&a, &b)
                    } else {
                        rings[a.ring].0[0]
                    };
                    if intersection != shared {
                        return Some(Defect::Spike {
                            ring: a.ring,
                            at: intersection,
                        });
                    }
                }
                LineIntersection::Collinear { intersection } if adjacent => {
                    return Some(Defect::Spike {
                        ring: a.ring,
                        at: intersection.start,
                    });
                }
                LineIntersection::SinglePoint { intersection, .. } => {
                    return Some(Defect::SelfIntersection {
                        ring: a.ring,
                        at: intersection,
                    });
                }
                LineIntersection::Collinear { intersection } => {
                    return Some(Defect::SelfIntersection {
                        ring: a.ring,
                        at: intersection.start,
                    });
                }
            }
        } else {
            match hit {
                LineIntersection::SinglePoint {
                    is_proper: false, ..
                } => {} // rings may touch at a point
                LineIntersection::SinglePoint { intersection, .. } => {
                    return Some(Defect::RingsCross {
                        rings: (a.ring.min(b.ring), a.ring.max(b.ring)),
                        at: intersection,
                    });
                }
                LineIntersection::Collinear { intersection } => {
                    return Some(Defect::RingsCross {
                        rings: (a.ring.min(b.ring), a.ring.max(b.ring)),
                        at: intersection.start,
                    });
                }
            }
        }
    }
    // No edges cross: each hole is wholly inside or wholly outside the exterior (and
    // every other ring); one of its vertices off the exterior's boundary tells which.
    let shell = Polygon::new(polygon.exterior().clone(), vec![]);
    for (i, hole) in polygon.interiors().iter().enumerate() {
        let outside = hole
            .0
            .iter()
            .map(|c| shell.coordinate_position(c))
            .find(|position| *position != CoordPos::OnBoundary)
            .is_some_and(|position| position == CoordPos::Outside);
        if outside {
            return Some(Defect::HoleOutside { ring: i + 1 });
        }
    }
    None
}

/// The vertex two consecutive edges of a ring share.
fn a_end(a: &Edge, b: &Edge) -> Coord<f64> {
    if a.index < b.index {
        a.line.end
    } else {
        b.line.end
    }
}
