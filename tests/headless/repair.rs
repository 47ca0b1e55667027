//! Broken geometry as cities deliver it: duplicate vertices dropped, self-intersecting
//! and spiked rings repaired into valid polygons with a warning naming the file and the
//! feature, only the unrepairable refused; `check --strict` refuses as before.

use crate::common::*;
use citytwin::city::geometry::{Defect, SLIVER_M2, clean_polygon, first_defect};
use citytwin::city::{AreaName, AreaSet, load_city};
use citytwin::geo::{Crs, LocalFrame, LonLat, ToWgs84};
use citytwin::spatial::areas::AreaLookup;
use geo::{Area, Coord, Distance, Euclidean, Line, LineString, Polygon, Validation, coord};
use proptest::prelude::*;

fn ring(points: &[(f64, f64)]) -> LineString<f64> {
    LineString::from(points.to_vec())
}

fn polygon(points: &[(f64, f64)]) -> Polygon<f64> {
    Polygon::new(ring(points), vec![])
}

/// Odd-even point in ring: the rule GIS tools' "linework" repair follows.
fn odd_even(ring: &LineString<f64>, p: Coord<f64>) -> bool {
    let mut inside = false;
    for l in ring.lines() {
        let (a, b) = (l.start, l.end);
        if (a.y > p.y) != (b.y > p.y) && p.x < a.x + (p.y - a.y) / (b.y - a.y) * (b.x - a.x) {
            inside = !inside;
        }
    }
    inside
}

#[test]
fn a_bow_tie_becomes_two_triangles() {
    let bowtie = polygon(&[(0., 0.), (10., 10.), (10., 0.), (0., 10.), (0., 0.)]);
    assert!(matches!(
        first_defect(&bowtie),
        Some(Defect::SelfIntersection { ring: 0, at }) if at == coord! { x: 5., y: 5. }
    ));
    let cleaned = clean_polygon(bowtie.clone(), false).expect("repaired");
    assert_eq!(cleaned.polygons.len(), 2);
    let area: f64 = cleaned.polygons.iter().map(|p| p.unsigned_area()).sum();
    assert!((area - 50.0).abs() < 1e-9, "two triangles of 25 m²: {area}");
    assert!(cleaned.polygons.iter().all(|p| p.is_valid()));
    assert_eq!(
        cleaned.notes,
        [
            "exterior ring has a self-intersection at (5.0, 5.0) m; repaired into 2 polygons of 50 m²"
        ]
    );
    let refused = clean_polygon(bowtie, true).expect_err("strict refuses");
    assert_eq!(
        refused,
        "invalid polygon: exterior ring has a self-intersection at (5.0, 5.0) m"
    );
}

#[test]
fn duplicate_vertices_are_dropped_silently() {
    let p = polygon(&[
        (0., 0.),
        (0., 0.),
        (10., 0.),
        (10., 0.),
        (10., 0.),
        (10., 10.),
        (0., 10.),
        (0., 0.),
    ]);
    let cleaned = clean_polygon(p, true).expect("valid once deduplicated");
    assert!(cleaned.notes.is_empty(), "{:?}", cleaned.notes);
    assert_eq!(cleaned.polygons[0].exterior().0.len(), 5);
}

#[test]
fn a_spike_is_cut_off_and_holes_outside_become_parts() {
    // Out to (15, 5) and back along the same edge: no area. The spike's tip edge also
    // touches its other edges at (10, 0), so the sweep may name either defect first.
    let spike = polygon(&[
        (0., 0.),
        (10., 0.),
        (15., 5.),
        (10., 0.),
        (10., 10.),
        (0., 10.),
        (0., 0.),
    ]);
    assert!(matches!(
        first_defect(&spike),
        Some(Defect::Spike { ring: 0, .. } | Defect::SelfIntersection { ring: 0, .. })
    ));
    let cleaned = clean_polygon(spike, false).expect("repaired");
    let area: f64 = cleaned.polygons.iter().map(|p| p.unsigned_area()).sum();
    assert!((area - 100.0).abs() < 1e-9, "{area}");

    let hole_outside = Polygon::new(
        ring(&[(0., 0.), (10., 0.), (10., 10.), (0., 10.), (0., 0.)]),
        vec![ring(&[
            (20., 0.),
            (22., 0.),
            (22., 2.),
            (20., 2.),
            (20., 0.),
        ])],
    );
    assert_eq!(
        first_defect(&hole_outside),
        Some(Defect::HoleOutside { ring: 1 })
    );
    // A hole touching the exterior at one vertex is valid, as in OGC's model.
    let touching = Polygon::new(
        ring(&[(0., 0.), (10., 0.), (10., 10.), (0., 10.), (0., 0.)]),
        vec![ring(&[(0., 5.), (4., 4.), (4., 6.), (0., 5.)])],
    );
    assert_eq!(first_defect(&touching), None);
    assert!(touching.is_valid());
}

#[test]
fn only_what_cannot_be_repaired_is_refused() {
    let flat = polygon(&[(0., 0.), (5., 0.), (10., 0.), (0., 0.)]);
    assert_eq!(
        clean_polygon(flat, false).expect_err("a line is no polygon"),
        "polygon has zero area: exterior ring doubles back on itself at (0.0, 0.0) m"
    );
    let two = polygon(&[(0., 0.), (5., 0.), (5., 0.), (0., 0.)]);
    assert_eq!(
        clean_polygon(two, false).expect_err("two positions"),
        "exterior ring has 2 distinct positions; a polygon needs at least 3"
    );
    let nan = polygon(&[(0., 0.), (5., f64::NAN), (5., 5.), (0., 0.)]);
    assert!(clean_polygon(nan, false).is_err());
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 400, ..ProptestConfig::default() })]

    /// On small rings with integer corners (so touches and collinear edges are common),
    /// the sweep's verdict is geo's pairwise validation's, and the repair is valid and
    /// answers point-in-polygon as odd-even parity on the original ring does — but in
    /// the parts under [`SLIVER_M2`], which the repair drops as numerical slivers (two
    /// edges crossing at a shallow angle close off such a part: one of 0.004 m² here).
    #[test]
    fn the_sweep_agrees_with_pairwise_validation(
        corners in prop::collection::vec((0i32..8, 0i32..8), 3..9)
    ) {
        let mut points: Vec<(f64, f64)> =
            corners.iter().map(|&(x, y)| (f64::from(x), f64::from(y))).collect();
        points.dedup();
        prop_assume!(points.len() >= 3 && points.first() != points.last());
        points.push(points[0]);
        let p = polygon(&points);
        prop_assume!(p.unsigned_area() > 0.0);
        let sweep_valid = first_defect(&p).is_none();
        prop_assert_eq!(sweep_valid, p.is_valid(), "{:?}", p);
        if let Ok(cleaned) = clean_polygon(p.clone(), false) {
            for part in &cleaned.polygons {
                prop_assert!(part.is_valid(), "{:?} → {:?}", p, part);
            }
            for i in 0..64 {
                let q = coord! { x: f64::from(i % 8) + 0.37, y: f64::from(i / 8) + 0.61 };
                let inside = cleaned.polygons.iter().any(|part| geo::Contains::contains(part, &q));
                if inside != odd_even(p.exterior(), q) {
                    // Only a dropped sliver may differ: q lies in a part of the plain
                    // odd-even overlay that is smaller than the sliver size.
                    let raw = geo::BooleanOps::union_with_fill_rule(
                        &p,
                        &geo::MultiPolygon::new(vec![]),
                        geo::bool_ops::FillRule::EvenOdd,
                    );
                    let sliver = raw.0.iter().any(|part| {
                        part.unsigned_area() < SLIVER_M2 && geo::Contains::contains(part, &q)
                    });
                    prop_assert!(sliver, "{:?} at {:?}: {} after the repair", p, q, inside);
                }
            }
        }
    }
}

/// A district boundary as digitised from a web map (GCJ-02): thousands of vertices,
/// repeated vertices, two swapped vertices (a tiny bow tie) and a spike.
fn digitised_district(centre: LonLat, vertices: usize) -> Vec<(f64, f64)> {
    let mut ring: Vec<(f64, f64)> = (0..vertices)
        .map(|i| {
            let t = i as f64 / vertices as f64 * std::f64::consts::TAU;
            let r = 0.03 * (1.0 + 0.15 * (5.0 * t).sin() + 0.05 * (23.0 * t).cos());
            (centre.lon + r * t.cos(), centre.lat + 0.8 * r * t.sin())
        })
        .collect();
    ring.swap(100, 101);
    ring.swap(1700, 1701);
    let at = ring[900];
    ring.insert(901, (at.0 + 0.002, at.1 + 0.001));
    ring.insert(902, at);
    for i in (0..ring.len()).step_by(37).rev() {
        ring.insert(i, ring[i]);
    }
    ring.push(ring[0]);
    ring
}

#[test]
fn a_digitised_district_loads_repaired_and_locates_every_point() {
    let dir = temp_dir("repair-district");
    let origin = LonLat::new(113.665, 34.754);
    let ring = digitised_district(origin, 2000);
    let coordinates: Vec<String> = ring.iter().map(|(x, y)| format!("[{x},{y}]")).collect();
    let geometry = format!(
        r#"{{"type":"Polygon","coordinates":[[{}]]}}"#,
        coordinates.join(",")
    );
    write(
        &dir,
        "districts.geojson",
        &collection(&[(r#"{"id":"410102","name":"中原区"}"#, &geometry)]),
    );
    let scene = write(
        &dir,
        "scene.ron",
        r#"(name: "district", origin: (lon: 113.665, lat: 34.754),
            layers: [(kind: Districts, path: "districts.geojson", crs: "GCJ-02")])"#,
    );
    let mut scene = load_scene(&scene);
    let city = load_city(&scene);
    let warnings: Vec<String> = city.data.problems.iter().map(|p| p.to_string()).collect();
    assert_eq!(city.data.errors().count(), 0, "{warnings:#?}");
    assert_eq!(city.data.districts.len(), 1, "{warnings:#?}");
    assert!(
        warnings.iter().any(|w| w
            .contains("districts.geojson: feature 0: warning: exterior ring ")
            && w.contains("repaired into")),
        "{warnings:#?}"
    );

    // Every point of a grid over the district is located as odd-even parity on the
    // original ring says, but for points within 0.5 m of its edges.
    let frame = LocalFrame::new(origin).expect("frame");
    let to_wgs84 = ToWgs84::new(&Crs::Gcj02).expect("GCJ-02");
    let local = LineString::from(
        ring.iter()
            .map(|&(x, y)| {
                let p = frame
                    .to_local(to_wgs84.convert(x, y).expect("convert"))
                    .expect("local");
                (p.east_m, p.north_m)
            })
            .collect::<Vec<_>>(),
    );
    let lookup = AreaLookup::build(&AreaSet {
        names: vec![AreaName {
            id: "410102".into(),
            name: None,
        }],
        shapes: std::sync::Arc::new(
            city.data
                .districts
                .iter()
                .map(|a| a.shape.clone())
                .collect(),
        ),
    });
    let edges: Vec<Line<f64>> = local.lines().collect();
    let (mut checked, mut inside) = (0, 0);
    for i in -40..=40 {
        for j in -40..=40 {
            let q = coord! { x: f64::from(i) * 97.3, y: f64::from(j) * 83.9 };
            if edges.iter().any(|e| Euclidean.distance(e, q) < 0.5) {
                continue;
            }
            let expected = odd_even(&local, q);
            let found = lookup
                .locate(citytwin::geo::LocalPoint::new(q.x, q.y))
                .is_some();
            assert_eq!(found, expected, "point {q:?}");
            checked += 1;
            inside += usize::from(found);
        }
    }
    assert!(
        checked > 6000 && inside > 1000,
        "{checked} checked, {inside} inside"
    );

    // `check --strict` refuses the same file as before.
    scene.strict_geometry = true;
    let strict = load_city(&scene);
    assert_eq!(strict.data.districts.len(), 0);
    let errors: Vec<String> = strict.data.errors().map(|p| p.to_string()).collect();
    assert_eq!(errors.len(), 1, "{errors:#?}");
    assert!(
        errors[0].contains("feature 0: error: invalid polygon: exterior ring"),
        "{errors:#?}"
    );
}

/// A building ring of 100,000 vertices with one crossing is repaired (the old pairwise
/// check took close to a minute on it; `bench import` times it against geo's).
#[test]
fn a_huge_ring_is_checked_and_repaired() {
    let n = 100_000;
    let mut points: Vec<(f64, f64)> = (0..n)
        .map(|i| {
            let t = i as f64 / n as f64 * std::f64::consts::TAU;
            (500.0 * t.cos(), 500.0 * t.sin())
        })
        .collect();
    points.swap(5000, 5001);
    points.push(points[0]);
    let p = polygon(&points);
    assert!(matches!(
        first_defect(&p),
        Some(Defect::SelfIntersection { .. })
    ));
    let cleaned = clean_polygon(p.clone(), false).expect("repaired");
    let area: f64 = cleaned.polygons.iter().map(|p| p.unsigned_area()).sum();
    let circle = std::f64::consts::PI * 500.0 * 500.0;
    assert!((area / circle - 1.0).abs() < 1e-4, "{area} vs {circle}");
    points.swap(5000, 5001);
    assert_eq!(first_defect(&polygon(&points)), None);
}
