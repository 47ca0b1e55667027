//! Bad input: `check` names every problem as `file: feature N: what is wrong` and exits
//! 1; the app skips the bad features, counts them and keeps the good ones.

use crate::common::*;
use citytwin::city::{Buildings, CityStatus};
use std::process::Command;

const OK_SQUARE: &str = r#"{"type":"Polygon","coordinates":[[[113.665,34.754],[113.6652,34.754],[113.6652,34.7542],[113.665,34.7542],[113.665,34.754]]]}"#;

/// Each test gets its own folder: tests run in parallel.
fn bad_scene(folder: &str) -> std::path::PathBuf {
    let dir = temp_dir(folder);
    write(
        &dir,
        "buildings.geojson",
        &collection(&[
            (r#"{"id":"good-1"}"#, OK_SQUARE),
            // 0: fewer than 4 positions
            (
                r#"{"id":"short"}"#,
                r#"{"type":"Polygon","coordinates":[[[113.665,34.754],[113.6652,34.754],[113.665,34.754]]]}"#,
            ),
            // 2: a bow tie
            (
                r#"{"id":"bowtie"}"#,
                r#"{"type":"Polygon","coordinates":[[[113.665,34.754],[113.6652,34.7542],[113.6652,34.754],[113.665,34.7542],[113.665,34.754]]]}"#,
            ),
            // 3: latitude out of range (lon/lat swapped twice over)
            (
                r#"{"id":"range"}"#,
                r#"{"type":"Polygon","coordinates":[[[113.665,134.754],[113.6652,134.754],[113.6652,134.7542],[113.665,134.754]]]}"#,
            ),
            // 4: NaN as Python writes it
            (
                r#"{"id":"nan"}"#,
                r#"{"type":"Polygon","coordinates":[[[113.665,NaN],[113.6652,34.754],[113.6652,34.7542],[113.665,34.754]]]}"#,
            ),
            // 5: wrong geometry type for buildings
            (
                r#"{"id":"line"}"#,
                r#"{"type":"LineString","coordinates":[[113.665,34.754],[113.666,34.754]]}"#,
            ),
            (r#"{"id":"good-2","height":40}"#, OK_SQUARE),
        ]),
    );
    write(
        &dir,
        "broken.geojson",
        r#"{"type":"FeatureCollection","features":[{"type":"Feature",}"#,
    );
    write(
        &dir,
        "other-epsg.geojson",
        &collection(&[("{}", OK_SQUARE)]),
    );
    write(&dir, "broken.glb", "glTF this is not a model");
    write(
        &dir,
        "scene.ron",
        r#"(
            name: "bad",
            origin: (lon: 113.665, lat: 34.754),
            layers: [
                (kind: Buildings, path: "buildings.geojson"),
                (kind: Buildings, path: "missing.geojson"),
                (kind: Roads, path: "broken.geojson"),
                (kind: Grids, path: "other-epsg.geojson", crs: "EPSG:999999"),
            ],
            models: [(name: "broken", path: "broken.glb", position: (lon: 113.665, lat: 34.754))],
        )"#,
    )
}

#[test]
fn check_lists_every_problem_and_fails() {
    let scene = bad_scene("bad-input-check");
    let out = Command::new(env!("CARGO_BIN_EXE_citytwin"))
        .args(["check", "--scene"])
        .arg(&scene)
        .output()
        .expect("citytwin runs");
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{text}");
    let expect = [
        "buildings.geojson: feature 1: error: ring 0 has 3 positions; a linear ring needs at least 4",
        "buildings.geojson: feature 2: error: invalid polygon: exterior ring has a self-intersection",
        "buildings.geojson: feature 3: error: coordinate (113.665, 134.754) is outside the valid range of EPSG:4326",
        "buildings.geojson: feature 4: error: not a valid GeoJSON feature: invalid type: string \"NaN\"",
        "buildings.geojson: feature 5: error: geometry is LineString; expected Polygon or MultiPolygon",
        "buildings.geojson: warning: 1 NaN/Infinity literals",
        "missing.geojson: error: cannot read file",
        "broken.geojson: error: not valid JSON",
        "other-epsg.geojson: error: PROJ does not know EPSG:999999",
        "broken.glb: error: model 'broken': not a valid glTF model",
    ];
    for e in expect {
        assert!(text.contains(e), "missing «{e}» in:\n{text}");
    }
    assert!(text.contains("2 buildings"), "{text}");
}

#[test]
fn app_skips_bad_features_and_keeps_the_rest() {
    let mut app = headless(load_scene(&bad_scene("bad-input-app")));
    wait_for_city(&mut app);
    let status = app.world().resource::<CityStatus>();
    assert_eq!(status.buildings, 2);
    // 5 bad buildings and the feature in the layer with an unknown CRS.
    assert_eq!(status.skipped_features, 6, "{:#?}", status.problems);
    let ids: Vec<_> = app
        .world()
        .resource::<Buildings>()
        .0
        .iter()
        .map(|b| b.id.clone())
        .collect();
    assert_eq!(ids, ["good-1", "good-2"]);
    // The app goes on running.
    app.update();
}

#[test]
fn check_passes_on_the_built_in_scene() {
    let out = Command::new(env!("CARGO_BIN_EXE_citytwin"))
        .arg("check")
        .current_dir(repo_root())
        .output()
        .expect("citytwin runs");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{text}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(text.contains("0 errors"), "{text}");
    assert!(
        text.contains("grids     ") && text.contains("EPSG:4547"),
        "{text}"
    );
    assert!(text.contains("GCJ-02"), "{text}");
}
