//! A renovation scenario's metrics against values computed by hand for a fixture: a
//! 600 m × 200 m site, two 60 m × 12 m residential slabs of 6 floors (36 households
//! each), a 20 m × 10 m two-floor day-care centre, overlapping and straddling green,
//! parking by area and by count, and facilities reached straight or along paths.

use citytwin::geo::{LocalFrame, LocalPoint, LonLat};
use citytwin::plan::metrics::*;
use geo::{LineString, MultiPolygon, Rect};

fn rect(x0: f64, y0: f64, x1: f64, y1: f64) -> MultiPolygon<f64> {
    Rect::new((x0, y0), (x1, y1)).to_polygon().into()
}

fn fixture() -> ScenarioGeometry {
    let slab = |x: f64| PlanBuilding {
        footprint: rect(x - 30.0, 44.0, x + 30.0, 56.0),
        floors: 6,
        households: 36,
    };
    ScenarioGeometry {
        site: rect(0.0, 0.0, 600.0, 200.0),
        buildings: vec![
            slab(100.0),
            slab(500.0),
            PlanBuilding {
                footprint: rect(290.0, 150.0, 310.0, 160.0),
                floors: 2,
                households: 0,
            },
        ],
        green: vec![
            rect(200.0, 0.0, 240.0, 30.0),
            rect(230.0, 0.0, 250.0, 20.0),
            rect(590.0, 100.0, 610.0, 120.0),
        ],
        parking: vec![
            (rect(350.0, 0.0, 400.0, 10.0), None),
            (rect(10.0, 180.0, 20.0, 190.0), Some(7)),
        ],
        facilities: vec![
            Facility {
                kind: "childcare".into(),
                at: LocalPoint::new(100.0, 150.0),
                added: true,
            },
            Facility {
                kind: "elderly".into(),
                at: LocalPoint::new(300.0, 50.0),
                added: false,
            },
        ],
        paths: Vec::new(),
    }
}

fn close(x: f64, y: f64) -> bool {
    (x - y).abs() <= y.abs() * 1e-5 + 1e-6
}

#[test]
fn metrics_match_the_hand_calculation() {
    let frame = LocalFrame::new(LonLat::new(113.6735, 34.7615)).unwrap();
    let m = compute(&fixture(), &frame, 300.0).unwrap();
    // Site 600 × 200; footprints 720 + 720 + 200; floor area 720·6·2 + 200·2.
    assert!(close(m.site_m2, 120_000.0), "{}", m.site_m2);
    assert!(close(m.footprint_m2, 1_640.0), "{}", m.footprint_m2);
    assert!(close(m.coverage, 1_640.0 / 120_000.0), "{}", m.coverage);
    assert!(close(m.floor_area_m2, 9_040.0), "{}", m.floor_area_m2);
    assert!(close(m.far, 9_040.0 / 120_000.0), "{}", m.far);
    // Green: 1200 + 400 − 200 of overlap, and half of the 400 m² straddling the edge.
    assert!(close(m.green_m2, 1_600.0), "{}", m.green_m2);
    // Parking: 500 m² / 25 m² a space, and 7 counted.
    assert_eq!(m.parking_spaces, 27);
    assert_eq!(m.households, 72);
    assert_eq!(m.facilities_added.get("childcare"), Some(&1));
    assert_eq!(m.facilities_added.get("elderly"), None);
    // Straight lines: childcare 100 m from slab A, 412 m from B; elderly 200 m from both.
    assert_eq!(m.coverage_by_kind["childcare"], 0.5);
    assert_eq!(m.coverage_by_kind["elderly"], 1.0);
}

#[test]
fn service_coverage_follows_the_paths() {
    let frame = LocalFrame::new(LonLat::new(113.6735, 34.7615)).unwrap();
    let mut g = fixture();
    // One path: from the elderly centre north, west, and south to slab A's centre.
    g.paths = vec![LineString::from(vec![
        (300.0, 50.0),
        (300.0, 250.0),
        (100.0, 250.0),
        (100.0, 50.0),
    ])];
    let m = compute(&g, &frame, 300.0).unwrap();
    // Elderly → A: 200 + 200 + 200 = 600 m along the path (200 m straight); → B: 200 m
    // straight to the path's start, where the centre is.
    assert_eq!(m.coverage_by_kind["elderly"], 0.5);
    // Childcare sits on the path 100 m above A; B is 200 m off the path's far end, which
    // is 500 m along it from the childcare.
    assert_eq!(m.coverage_by_kind["childcare"], 0.5);
    // The CSV carries every scenario's row and each kind's columns.
    let csv = to_csv(&[("方案A \"加梯\"".into(), m.clone())]);
    let mut lines = csv.lines();
    assert_eq!(
        lines.next().unwrap(),
        "scenario,site_m2,footprint_m2,coverage,floor_area_m2,far,green_m2,green_ratio,parking_spaces,households,added_childcare,coverage_childcare,added_elderly,coverage_elderly"
    );
    let row = lines.next().unwrap();
    assert!(row.starts_with("\"方案A \"\"加梯\"\"\",120000.0,1640.0,0.0137,9040.0,0.075,1600.0,0.0133,27,72,1,0.5000,0,0.5000"), "{row}");
}

#[test]
fn a_facility_and_a_door_on_one_long_path_segment_are_as_far_apart_as_along_it() {
    let frame = LocalFrame::new(LonLat::new(113.6735, 34.7615)).unwrap();
    let mut g = fixture();
    // One straight 600 m path through both slabs' centres (two vertices only): the
    // elderly centre on it 200 m from each slab, both ends 300 m from the centre.
    g.paths = vec![LineString::from(vec![(0.0, 50.0), (600.0, 50.0)])];
    let m = compute(&g, &frame, 300.0).unwrap();
    assert_eq!(m.coverage_by_kind["elderly"], 1.0);
    // Childcare: 100 m off the path above slab A (100 + 0 m), 100 + 400 m from B.
    assert_eq!(m.coverage_by_kind["childcare"], 0.5);
}
