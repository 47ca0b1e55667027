//! A renovation scenario's metrics, computed from its geometry: site area, building
//! footprint and coverage, floor area ratio, green area ratio, parking spaces,
//! facilities by kind, and service coverage (the share of households within a walking
//! distance of each kind of facility, along the paths where the data has them).
//!
//! Areas and lengths are geodesic (WGS84 ellipsoid, Karney's algorithms through geo's
//! `geographiclib`): geometries come in the scene's local metres and are taken back to
//! longitude/latitude for measuring.

use crate::geo::{LocalFrame, LocalPoint};
use geo::{Coord, GeodesicArea, LineString, MultiPolygon, Polygon};
use std::collections::BTreeMap;

/// A building standing in the scenario.
#[derive(Debug, Clone)]
pub struct PlanBuilding {
    /// Local metres.
    pub footprint: MultiPolygon<f64>,
    pub floors: u32,
    /// Households living in it (0 for non-residential).
    pub households: u32,
}

/// A service point: childcare (托育), elderly day-care, a meal point, …
#[derive(Debug, Clone)]
pub struct Facility {
    pub kind: String,
    pub at: LocalPoint,
    /// Added by the scenario (rather than existing).
    pub added: bool,
}

/// Everything a scenario's metrics are computed from (local metres).
#[derive(Debug, Clone)]
pub struct ScenarioGeometry {
    pub site: MultiPolygon<f64>,
    pub buildings: Vec<PlanBuilding>,
    pub green: Vec<MultiPolygon<f64>>,
    /// Parking areas and their spaces (a `spaces` attribute; else one per 25 m², the
    /// planning norm for surface parking including its aisles).
    pub parking: Vec<(MultiPolygon<f64>, Option<u32>)>,
    pub facilities: Vec<Facility>,
    /// Walkable paths; empty: distances are straight lines.
    pub paths: Vec<LineString<f64>>,
}

/// Surface parking: square metres a space takes with its share of the aisles.
pub const M2_PER_SPACE: f64 = 25.0;

#[derive(Debug, Clone, PartialEq)]
pub struct Metrics {
    pub site_m2: f64,
    pub footprint_m2: f64,
    /// Footprint / site.
    pub coverage: f64,
    /// Footprint × floors.
    pub floor_area_m2: f64,
    /// Floor area / site (容积率).
    pub far: f64,
    /// Green inside the site.
    pub green_m2: f64,
    pub green_ratio: f64,
    pub parking_spaces: u32,
    pub households: u32,
    /// Facilities added, by kind.
    pub facilities_added: BTreeMap<String, u32>,
    /// Share of households within the walking distance of each kind.
    pub coverage_by_kind: BTreeMap<String, f64>,
}

/// Geodesic area of a local-metre multipolygon.
pub fn geodesic_area(shape: &MultiPolygon<f64>, frame: &LocalFrame) -> Result<f64, String> {
    let mut total = 0.0;
    for polygon in &shape.0 {
        let ring = |r: &LineString<f64>| -> Result<LineString<f64>, String> {
            r.0.iter()
                .map(|c| {
                    frame
                        .to_lonlat(LocalPoint::new(c.x, c.y))
                        .map(|p| Coord { x: p.lon, y: p.lat })
                        .map_err(|e| e.to_string())
                })
                .collect::<Result<Vec<_>, _>>()
                .map(LineString::new)
        };
        let lonlat = Polygon::new(
            ring(polygon.exterior())?,
            polygon
                .interiors()
                .iter()
                .map(ring)
                .collect::<Result<_, _>>()?,
        );
        total += lonlat.geodesic_area_unsigned();
    }
    Ok(total)
}

/// Geodesic distance between two local points, metres.
pub fn geodesic_distance(a: LocalPoint, b: LocalPoint, frame: &LocalFrame) -> Result<f64, String> {
    use geo::{Distance, Geodesic, Point};
    let p = frame.to_lonlat(a).map_err(|e| e.to_string())?;
    let q = frame.to_lonlat(b).map_err(|e| e.to_string())?;
    Ok(Geodesic.distance(Point::new(p.lon, p.lat), Point::new(q.lon, q.lat)))
}

/// Metres along points (east, north, up in local metres): each leg's geodesic distance
/// on the ellipsoid with its climb.
pub fn geodesic_length(points: &[[f64; 3]], frame: &LocalFrame) -> Result<f64, String> {
    let mut total = 0.0;
    for pair in points.windows(2) {
        let flat = geodesic_distance(
            LocalPoint::new(pair[0][0], pair[0][1]),
            LocalPoint::new(pair[1][0], pair[1][1]),
            frame,
        )?;
        total += flat.hypot(pair[1][2] - pair[0][2]);
    }
    Ok(total)
}

/// The part of `shape` inside the site.
fn inside(shape: &MultiPolygon<f64>, site: &MultiPolygon<f64>) -> MultiPolygon<f64> {
    geo::BooleanOps::intersection(shape, site)
}

/// The metrics of one scenario; `walk_m` is the service distance (300 m).
pub fn compute(g: &ScenarioGeometry, frame: &LocalFrame, walk_m: f64) -> Result<Metrics, String> {
    let site_m2 = geodesic_area(&g.site, frame)?;
    if site_m2 <= 0.0 {
        return Err("the site boundary has no area".into());
    }
    let mut footprint_m2 = 0.0;
    let mut floor_area_m2 = 0.0;
    for b in &g.buildings {
        let a = geodesic_area(&inside(&b.footprint, &g.site), frame)?;
        footprint_m2 += a;
        floor_area_m2 += a * f64::from(b.floors.max(1));
    }
    // Green areas may overlap each other (a park and its lawn): their union counts once.
    let green_union = g.green.iter().fold(MultiPolygon::new(vec![]), |acc, m| {
        geo::BooleanOps::union(&acc, m)
    });
    let green_m2 = geodesic_area(&inside(&green_union, &g.site), frame)?;
    let mut parking_spaces = 0;
    for (shape, spaces) in &g.parking {
        parking_spaces += match spaces {
            Some(n) => *n,
            // Whole spaces; a thousandth of a space is measuring noise (a 500 m² lot
            // is 499.9999 m² on the ellipsoid), not a missing space.
            None => (geodesic_area(&inside(shape, &g.site), frame)? / M2_PER_SPACE + 1e-3).floor()
                as u32,
        };
    }
    let mut facilities_added = BTreeMap::new();
    for f in g.facilities.iter().filter(|f| f.added) {
        *facilities_added.entry(f.kind.clone()).or_insert(0) += 1;
    }
    let households: u32 = g.buildings.iter().map(|b| b.households).sum();
    let network = (!g.paths.is_empty()).then(|| Network::new(&g.paths));
    let mut coverage_by_kind = BTreeMap::new();
    let kinds: std::collections::BTreeSet<&str> =
        g.facilities.iter().map(|f| f.kind.as_str()).collect();
    for kind in kinds {
        let points: Vec<LocalPoint> = g
            .facilities
            .iter()
            .filter(|f| f.kind == kind)
            .map(|f| f.at)
            .collect();
        let reach = network.as_ref().map(|n| n.within(&points, walk_m));
        let mut served = 0u32;
        for b in g.buildings.iter().filter(|b| b.households > 0) {
            let door = centre(&b.footprint);
            let near = match (&reach, &network) {
                (Some(reach), Some(n)) => n.distance_via(door, reach) <= walk_m,
                _ => {
                    let mut best = f64::INFINITY;
                    for p in &points {
                        best = best.min(geodesic_distance(door, *p, frame)?);
                    }
                    best <= walk_m
                }
            };
            if near {
                served += b.households;
            }
        }
        let share = if households == 0 {
            0.0
        } else {
            f64::from(served) / f64::from(households)
        };
        coverage_by_kind.insert(kind.to_string(), share);
    }
    Ok(Metrics {
        site_m2,
        footprint_m2,
        coverage: footprint_m2 / site_m2,
        floor_area_m2,
        far: floor_area_m2 / site_m2,
        green_m2,
        green_ratio: green_m2 / site_m2,
        parking_spaces,
        households,
        facilities_added,
        coverage_by_kind,
    })
}

/// A building's centre (its entrance, for walking distances): the area-weighted
/// centroid of its footprint.
fn centre(shape: &MultiPolygon<f64>) -> LocalPoint {
    let c = geo::Centroid::centroid(shape).unwrap_or(geo::Point::new(0.0, 0.0));
    LocalPoint::new(c.x(), c.y())
}

/// The walkable network: path vertices as nodes (shared where paths meet within
/// 0.5 m), segments as edges with their planar length in local metres (the frame's
/// scale error is under 2 ppm within 10 km of its origin).
struct Network {
    nodes: Vec<LocalPoint>,
    edges: Vec<Vec<(usize, f64)>>,
}

impl Network {
    fn new(paths: &[LineString<f64>]) -> Self {
        let mut nodes: Vec<LocalPoint> = Vec::new();
        let mut edges: Vec<Vec<(usize, f64)>> = Vec::new();
        let mut index: BTreeMap<(i64, i64), usize> = BTreeMap::new();
        let mut node =
            |p: Coord<f64>, nodes: &mut Vec<LocalPoint>, edges: &mut Vec<Vec<(usize, f64)>>| {
                let key = ((p.x * 2.0).round() as i64, (p.y * 2.0).round() as i64);
                *index.entry(key).or_insert_with(|| {
                    nodes.push(LocalPoint::new(p.x, p.y));
                    edges.push(Vec::new());
                    nodes.len() - 1
                })
            };
        for path in paths {
            for line in path.lines() {
                let a = node(line.start, &mut nodes, &mut edges);
                let b = node(line.end, &mut nodes, &mut edges);
                let len = line.dx().hypot(line.dy());
                if a != b {
                    edges[a].push((b, len));
                    edges[b].push((a, len));
                }
            }
        }
        Self { nodes, edges }
    }

    /// The nearest point on the network to `p`: (segment's nodes, distance to it, and
    /// the distance along the segment from each end).
    fn snap(&self, p: LocalPoint) -> Option<(usize, usize, f64, f64, f64)> {
        let mut best: Option<(usize, usize, f64, f64, f64)> = None;
        for (a, list) in self.edges.iter().enumerate() {
            for &(b, len) in list {
                if b < a {
                    continue;
                }
                let (pa, pb) = (self.nodes[a], self.nodes[b]);
                let (dx, dy) = (pb.east_m - pa.east_m, pb.north_m - pa.north_m);
                let t = if len > 0.0 {
                    (((p.east_m - pa.east_m) * dx + (p.north_m - pa.north_m) * dy) / (len * len))
                        .clamp(0.0, 1.0)
                } else {
                    0.0
                };
                let (x, y) = (pa.east_m + dx * t, pa.north_m + dy * t);
                let off = (p.east_m - x).hypot(p.north_m - y);
                if best.is_none_or(|b| off < b.2) {
                    best = Some((a, b, off, t * len, (1.0 - t) * len));
                }
            }
        }
        best
    }

    /// Walking distance from every node to the nearest of `points` (each reaching the
    /// network straight to its nearest point), up to `limit`.
    fn within(&self, points: &[LocalPoint], limit: f64) -> Reach {
        use std::cmp::Reverse;
        use std::collections::BinaryHeap;
        let mut dist = vec![f64::INFINITY; self.nodes.len()];
        let mut heap = BinaryHeap::new();
        let push = |node: usize, d: f64, dist: &mut Vec<f64>, heap: &mut BinaryHeap<_>| {
            if d < dist[node] && d <= limit {
                dist[node] = d;
                // A non-negative f64's bits sort as the number does.
                heap.push(Reverse((d.to_bits(), node)));
            }
        };
        let mut seeds = Vec::new();
        for p in points {
            if let Some((a, b, off, along_a, along_b)) = self.snap(*p) {
                push(a, off + along_a, &mut dist, &mut heap);
                push(b, off + along_b, &mut dist, &mut heap);
                seeds.push((a, b, off, along_a));
            }
        }
        while let Some(Reverse((d, n))) = heap.pop() {
            let d = f64::from_bits(d);
            if d > dist[n] {
                continue;
            }
            for &(m, len) in &self.edges[n] {
                push(m, d + len, &mut dist, &mut heap);
            }
        }
        Reach { nodes: dist, seeds }
    }

    /// Walking distance from `p` (straight to the network, then along it) to the nearest
    /// facility, given the node distances from [`Network::within`].
    fn distance_via(&self, p: LocalPoint, reach: &Reach) -> f64 {
        match self.snap(p) {
            Some((a, b, off, along_a, along_b)) => {
                let via_nodes = off + (reach.nodes[a] + along_a).min(reach.nodes[b] + along_b);
                // A facility on the same segment is reached along it, whatever the
                // segment's ends are from it.
                reach
                    .seeds
                    .iter()
                    .filter(|s| s.0 == a && s.1 == b)
                    .map(|s| off + s.2 + (along_a - s.3).abs())
                    .fold(via_nodes, f64::min)
            }
            None => f64::INFINITY,
        }
    }
}

/// Walking distances to the nearest facility: every node's, and where each facility
/// meets the network (segment's nodes, distance to it, distance along from the first).
struct Reach {
    nodes: Vec<f64>,
    seeds: Vec<(usize, usize, f64, f64)>,
}

/// The metrics as CSV: one row a scenario, the columns the planners' table shows.
pub fn to_csv(rows: &[(String, Metrics)]) -> String {
    let kinds: std::collections::BTreeSet<&String> = rows
        .iter()
        .flat_map(|(_, m)| m.coverage_by_kind.keys().chain(m.facilities_added.keys()))
        .collect();
    let mut out = String::from(
        "scenario,site_m2,footprint_m2,coverage,floor_area_m2,far,green_m2,green_ratio,parking_spaces,households",
    );
    for k in &kinds {
        out.push_str(&format!(",added_{k},coverage_{k}"));
    }
    out.push('\n');
    for (name, m) in rows {
        let quoted = format!("\"{}\"", name.replace('"', "\"\""));
        out.push_str(&format!(
            "{quoted},{:.1},{:.1},{:.4},{:.1},{:.3},{:.1},{:.4},{},{}",
            m.site_m2,
            m.footprint_m2,
            m.coverage,
            m.floor_area_m2,
            m.far,
            m.green_m2,
            m.green_ratio,
            m.parking_spaces,
            m.households
        ));
        for k in &kinds {
            out.push_str(&format!(
                ",{},{}",
                m.facilities_added.get(*k).copied().unwrap_or(0),
                m.coverage_by_kind
                    .get(*k)
                    .map_or(String::new(), |c| format!("{c:.4}"))
            ));
        }
        out.push('\n');
    }
    out
}
