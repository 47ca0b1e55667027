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
    let scene = load_scene(&bad_scene("bad-input-check"));
    let report = citytwin::check::check(&scene);
    let text = report.to_string();
    assert!(!report.ok(), "{text}");
    assert_eq!(report.errors, 8, "{text}");
    let expect = [
        "buildings.geojson: feature 1: error: ring 0 has 3 positions; a linear ring needs at least 4",
        "buildings.geojson: feature 2: warning: exterior ring has a self-intersection at",
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
    // The bow tie is repaired into its two triangles: one building of two parts.
    assert!(text.contains("repaired into 2 polygons"), "{text}");
    assert!(text.contains("3 buildings"), "{text}");
}

#[test]
fn check_strict_refuses_what_would_be_repaired() {
    let out = Command::new(env!("CARGO_BIN_EXE_citytwin"))
        .args(["check", "--strict", "--scene"])
        .arg(bad_scene("bad-input-strict"))
        .output()
        .expect("citytwin runs");
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{text}");
    assert!(
        text.contains("buildings.geojson: feature 2: error: invalid polygon: exterior ring has a self-intersection at"),
        "{text}"
    );
    assert!(text.contains("2 buildings"), "{text}");
}

#[test]
fn app_skips_bad_features_and_keeps_the_rest() {
    let mut app = headless(load_scene(&bad_scene("bad-input-app")));
    wait_for_city(&mut app);
    let status = app.world().resource::<CityStatus>();
    assert_eq!(status.buildings, 3);
    // 4 bad buildings and the feature in the layer with an unknown CRS (the bow tie
    // is repaired).
    assert_eq!(status.skipped_features, 5, "{:#?}", status.problems);
    let ids: Vec<_> = app
        .world()
        .resource::<Buildings>()
        .0
        .iter()
        .map(|b| b.id.clone())
        .collect();
    assert_eq!(ids, ["good-1", "bowtie", "good-2"]);
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

#[test]
fn gltf_uris_may_not_leave_the_models_folder_and_sizes_are_bounded() {
    use citytwin::city::models::validate;
    use citytwin::fuzz::{triangle_bytes, triangle_gltf};
    let root = temp_dir("bad-gltf");
    let dir = root.join("model");
    std::fs::create_dir_all(dir.join("sub")).unwrap();
    std::fs::write(dir.join("tri.bin"), triangle_bytes()).unwrap();
    std::fs::write(root.join("outside.bin"), triangle_bytes()).unwrap();
    std::os::unix::fs::symlink(root.join("outside.bin"), dir.join("sub/link.bin")).unwrap();
    let fifo = Command::new("mkfifo").arg(dir.join("fifo.bin")).status();
    let check = |name: &str, uri: &str, count: usize| {
        let path = write(&dir, name, &triangle_gltf(uri, count));
        validate(&path)
    };
    let ok = check("ok.gltf", "tri.bin", 3).expect("a model beside its buffer");
    assert_eq!(ok.triangles, 1);
    let refused = [
        ("up.gltf", "../outside.bin", "leaves the model's folder"),
        ("abs.gltf", "/etc/passwd", "leaves the model's folder"),
        ("file.gltf", "file:///etc/passwd", "has a scheme"),
        ("web.gltf", "http://169.254.169.254/latest", "has a scheme"),
        ("utf8.gltf", "%FF%FE.bin", "not UTF-8"),
        (
            "link.gltf",
            "sub/link.bin",
            "leads out of the model's folder",
        ),
        ("dev.gltf", "/dev/zero", "leaves the model's folder"),
    ];
    for (name, uri, why) in refused {
        let e = check(name, uri, 3).expect_err(uri);
        assert!(e.contains(why), "{uri}: {e}");
    }
    if fifo.is_ok_and(|s| s.success()) {
        let e = check("fifo.gltf", "fifo.bin", 3).expect_err("a FIFO");
        assert!(e.contains("not a regular file"), "{e}");
    }
    let e = check("count.gltf", "tri.bin", 1_000_000).expect_err("count past the view");
    assert!(e.contains("runs past its buffer view"), "{e}");

    // An image that claims more pixels than any wall can show is refused from its header.
    let png = dir.join("wide.png");
    image::RgbaImage::new(9000, 1).save(&png).unwrap();
    let with_image = triangle_gltf("tri.bin", 3).replacen(
        r#""buffers""#,
        r#""images":[{"uri":"wide.png"}],"buffers""#,
        1,
    );
    let e = validate(&write(&dir, "image.gltf", &with_image)).expect_err("a 9000-pixel image");
    assert!(e.contains("9000×1 pixels"), "{e}");
}

#[test]
fn absurd_numbers_in_scenes_and_feed_specs_are_refused_with_their_place() {
    use citytwin::feeds::FeedSpec;
    let dir = temp_dir("bad-numbers");
    let cases = [
        ("stale_after_s: 1e300", "stale_after_s"),
        ("stale_after_s: -5.0", "stale_after_s"),
        (
            "operations: (max_clock_jump_h: inf)",
            "operations.max_clock_jump_h",
        ),
        (
            r#"views: [(name: "v", look_at: (lon: 113.6, lat: 34.7), distance_m: NaN)]"#,
            "views[0].distance_m",
        ),
        (
            r#"models: [(name: "m", path: "m.glb", position: (lon: 113.6, lat: 34.7), scale: 0.0)]"#,
            "scale 0",
        ),
    ];
    for (field, place) in cases {
        let text = format!(r#"(name: "n", origin: (lon: 113.665, lat: 34.754), {field})"#);
        let e = citytwin::scene::Scene::parse(&text, &dir.join("scene.ron"))
            .expect_err(field)
            .to_string();
        assert!(e.contains(place), "{field}: {e}");
    }
    for spec in [
        "replay:a.ndjson@1e308",
        "replay:a.ndjson@NaN",
        "http://h/x#every=1e30s",
        "http://h/x#timeout=0s",
        "http://h/x#idle=-1s",
        "mqtt://h:70000/t",
        "mqtt://h:1883/a/#/b",
    ] {
        assert!(FeedSpec::parse(spec, &dir).is_err(), "{spec} accepted");
    }
}

/// Paths that never end (a device, a FIFO) are refused wherever a file is read:
/// scene, layer, recording, CA file.
#[test]
fn devices_are_not_read_as_files() {
    let dir = temp_dir("bad-devices");
    let e = citytwin::scene::Scene::load(std::path::Path::new("/dev/zero"))
        .expect_err("a device as the scene")
        .to_string();
    assert!(e.contains("not a regular file"), "{e}");
    let scene = write(
        &dir,
        "scene.ron",
        r#"(name: "d", origin: (lon: 113.665, lat: 34.754), layers: [(kind: Roads, path: "/dev/zero")], feeds: ["replay:/dev/zero@max"], tls_ca: "/dev/zero")"#,
    );
    let scene = load_scene(&scene);
    let report = citytwin::check::check(&scene);
    assert!(
        report
            .problems
            .iter()
            .any(|p| p.contains("/dev/zero") && p.contains("not a regular file")),
        "{report}"
    );
    let mut app = headless(scene);
    update_until(
        &mut app,
        std::time::Duration::from_secs(20),
        "the replay to fail",
        |w| {
            w.resource::<citytwin::feeds::ingest::FeedStats>()
            .sources
            .first()
            .is_some_and(|s| matches!(&s.state, citytwin::feeds::SourceState::Failed(why) if why.contains("not a regular file")))
        },
    );
    let e = citytwin::feeds::tls::client_config(Some(std::path::Path::new("/dev/zero")))
        .expect_err("a device as the CA file");
    assert!(e.contains("not a regular file"), "{e}");
}

/// Place names with characters outside GB 2312 (垱, 堌, 堃 are GBK's) draw; one
/// outside GBK that no bundled font holds (U+20000, CJK extension B) is a warning of
/// `check`, naming the file, the character and the first feature that uses it.
#[test]
fn check_warns_of_characters_the_wall_cannot_draw() {
    for text in [
        "垱口村",
        "堌阳镇",
        "堃苑小区",
        "二七纪念塔 Erqi Tower 3°C ·",
        "⚠",
    ] {
        assert_eq!(
            citytwin::ui::missing_glyphs(text),
            Vec::<char>::new(),
            "{text}"
        );
    }
    assert_eq!(citytwin::ui::missing_glyphs("𠀀𠀀村"), vec!['𠀀']);
    let dir = temp_dir("bad-glyphs");
    let point = |id: &str, name: &str, lon: f64| {
        serde_json::json!({"type": "Feature", "id": id, "properties": {"name": name},
            "geometry": {"type": "Point", "coordinates": [lon, 34.754]}})
    };
    let pois = serde_json::json!({"type": "FeatureCollection", "features": [
        point("p1", "垱口村", 113.665),
        point("p2", "𠀀家庄", 113.666),
        point("p3", "𠀀村", 113.667),
    ]});
    write(&dir, "pois.geojson", &pois.to_string());
    let scene = write(
        &dir,
        "scene.ron",
        r#"(name: "g", origin: (lon: 113.665, lat: 34.754), layers: [(kind: Pois, path: "pois.geojson")])"#,
    );
    let report = citytwin::check::check(&load_scene(&scene));
    let lacking: Vec<&String> = report
        .problems
        .iter()
        .filter(|p| p.contains("none of the wall's fonts"))
        .collect();
    assert_eq!(lacking.len(), 1, "{report}");
    let warning = lacking[0];
    assert!(warning.contains("pois.geojson"), "{warning}");
    assert!(warning.contains("U+20000"), "{warning}");
    assert!(warning.contains("in 2 "), "{warning}");
    assert!(warning.contains("p2"), "{warning}");
    assert!(report.ok(), "a warning, not an error: {report}");
    assert!(report.warnings >= 1);
}
