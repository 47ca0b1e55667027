//! A renovation project read from real files (GeoJSON written here, a GLB elevator
//! shaft written by our glTF writer), reviewed: the checklist measured from the data,
//! an elevator shaft pushing the window behind it under the standard and listed apart,
//! notes through their file, the report with non-blank maps, and the built-in demo.

use super::common::{self, load_scene, temp_dir};
use citytwin::city::mesh::{self, MeshData};
use citytwin::geo::{LocalFrame, LocalPoint, LonLat};
use citytwin::plan::cli::{self, PlanOptions};
use citytwin::plan::notes::{self, Note};
use citytwin::plan::review::{self, SunSettings};
use std::path::Path;

const ORIGIN: LonLat = LonLat::new(113.6735, 34.7615);

/// GeoJSON of polygons (rectangles in local metres) with their properties.
fn rects(frame: &LocalFrame, items: &[([f64; 4], serde_json::Value)]) -> String {
    let features: Vec<serde_json::Value> = items
        .iter()
        .map(|([x0, y0, x1, y1], props)| {
            let ring: Vec<[f64; 2]> = [(x0, y0), (x1, y0), (x1, y1), (x0, y1), (x0, y0)]
                .iter()
                .map(|(x, y)| {
                    let p = frame.to_lonlat(LocalPoint::new(**x, **y)).unwrap();
                    [p.lon, p.lat]
                })
                .collect();
            serde_json::json!({"type": "Feature", "properties": props,
                "geometry": {"type": "Polygon", "coordinates": [ring]}})
        })
        .collect();
    serde_json::json!({"type": "FeatureCollection", "features": features}).to_string()
}

fn lines(frame: &LocalFrame, items: &[(Vec<(f64, f64)>, serde_json::Value)]) -> String {
    let features: Vec<serde_json::Value> = items
        .iter()
        .map(|(points, props)| {
            let coords: Vec<[f64; 2]> = points
                .iter()
                .map(|(x, y)| {
                    let p = frame.to_lonlat(LocalPoint::new(*x, *y)).unwrap();
                    [p.lon, p.lat]
                })
                .collect();
            serde_json::json!({"type": "Feature", "properties": props,
                "geometry": {"type": "LineString", "coordinates": coords}})
        })
        .collect();
    serde_json::json!({"type": "FeatureCollection", "features": features}).to_string()
}

fn points(frame: &LocalFrame, items: &[((f64, f64), serde_json::Value)]) -> String {
    let features: Vec<serde_json::Value> = items
        .iter()
        .map(|((x, y), props)| {
            let p = frame.to_lonlat(LocalPoint::new(*x, *y)).unwrap();
            serde_json::json!({"type": "Feature", "properties": props,
                "geometry": {"type": "Point", "coordinates": [p.lon, p.lat]}})
        })
        .collect();
    serde_json::json!({"type": "FeatureCollection", "features": features}).to_string()
}

/// The fixture: a 200 × 200 m site with one 60 × 12 m six-floor slab (18 m) whose south
/// façade runs along y = 0 from x = −30 to 30. Scenario "elevator": a 40 m shaft,
/// 4 × 4 m, 1 m in front of the middle of that façade (an elevator on the south side
/// of the slab, as some retrofits have). Scenario "works": works, sheds, green, a
/// facility, parking, a new three-floor house, no elevator.
fn fixture(dir: &Path) -> std::path::PathBuf {
    let frame = LocalFrame::new(ORIGIN).unwrap();
    let w = |name: &str, text: String| common::write(dir, name, &text);
    w(
        "buildings.geojson",
        rects(
            &frame,
            &[(
                [-30.0, 0.0, 30.0, 12.0],
                serde_json::json!({"id": "SLAB", "levels": 6, "height": 18.0, "use": "residential", "households": 36}),
            )],
        ),
    );
    w(
        "boundary.geojson",
        rects(
            &frame,
            &[([-100.0, -100.0, 100.0, 100.0], serde_json::json!({}))],
        ),
    );
    w(
        "works.geojson",
        lines(
            &frame,
            &[
                (
                    vec![(-90.0, -50.0), (10.0, -50.0)],
                    serde_json::json!({"work": "roads"}),
                ),
                (
                    vec![(-90.0, -60.0), (-90.0, 40.0), (-40.0, 40.0)],
                    serde_json::json!({"work": "cables"}),
                ),
            ],
        ),
    );
    w(
        "sheds.geojson",
        rects(
            &frame,
            &[(
                [60.0, 60.0, 70.0, 70.0],
                serde_json::json!({"illegal": true}),
            )],
        ),
    );
    w(
        "green.geojson",
        rects(
            &frame,
            &[([-80.0, 50.0, -50.0, 70.0], serde_json::json!({}))],
        ),
    );
    w(
        "parking.geojson",
        rects(
            &frame,
            &[([40.0, -90.0, 90.0, -80.0], serde_json::json!({}))],
        ),
    );
    w(
        "facilities.geojson",
        points(
            &frame,
            &[
                (
                    (0.0, 60.0),
                    serde_json::json!({"kind": "childcare", "name": "托育点"}),
                ),
                ((20.0, 60.0), serde_json::json!({"kind": "property"})),
            ],
        ),
    );
    // A new three-floor house 50 m south-east, out of the slab's way.
    w(
        "new.geojson",
        rects(
            &frame,
            &[(
                [50.0, -60.0, 70.0, -50.0],
                serde_json::json!({"id": "NEW", "levels": 3, "height": 9.0, "use": "residential"}),
            )],
        ),
    );
    let mut shaft = MeshData::default();
    // Model space: x east, y north (−Z), up; the shaft from 1 m to 5 m south of its origin.
    let footprint = geo::Rect::new((-2.0, -5.0), (2.0, -1.0)).to_polygon();
    mesh::extrude(&footprint, 0.0, 40.0, [1.0; 4], [1.0; 4], &mut shaft);
    let glb = citytwin::generate::glb::write_parts(
        "test shaft",
        "test fixture",
        &[("shaft", shaft, [0.6, 0.7, 0.8, 1.0], [0.0; 3])],
    );
    std::fs::write(dir.join("shaft.glb"), glb).unwrap();
    let shaft_at = frame.to_lonlat(LocalPoint::new(0.0, 0.0)).unwrap();
    common::write(
        dir,
        "scene.ron",
        &format!(
            r#"(
    name: "review fixture",
    origin: (lon: {olon}, lat: {olat}),
    layers: [(kind: Buildings, path: "buildings.geojson")],
    projects: [
        (
            id: "P1",
            name: "fixture <community> & co",
            boundary: "boundary.geojson",
            scenarios: [
                (
                    name: "elevator",
                    models: [(name: "shaft", path: "shaft.glb", position: (lon: {slon}, lat: {slat}), role: Elevator)],
                ),
                (
                    name: "works",
                    demolitions: "sheds.geojson",
                    buildings: "new.geojson",
                    green: "green.geojson",
                    parking: "parking.geojson",
                    facilities: "facilities.geojson",
                    works: "works.geojson",
                ),
            ],
        ),
    ],
)"#,
            olon = ORIGIN.lon,
            olat = ORIGIN.lat,
            slon = shaft_at.lon,
            slat = shaft_at.lat,
        ),
    )
}

#[test]
fn an_elevator_shaft_pushes_the_window_behind_it_under_the_standard_and_is_listed_apart() {
    let dir = temp_dir("review-elevator");
    let scene = load_scene(&fixture(&dir));
    let (project, frame) = cli::load_project(&scene, Some("P1")).unwrap();
    assert!(project.problems.is_empty(), "{:?}", project.problems);
    let review = review::review(&project, &frame, SunSettings::default()).unwrap();
    let day = review.settings.day;
    let today = &review.existing.sun;
    let elevator = &review.scenarios[0].sun;
    // The same windows in both: the slab stands in both.
    assert_eq!(today.windows.len(), elevator.windows.len());
    assert!(!today.windows.is_empty());
    // Nothing stands near the slab today: every south window has the whole 8 hours.
    for w in today
        .windows
        .iter()
        .filter(|w| w.sample.facing.unwrap()[1] < -0.5)
    {
        assert_eq!(w.after, 8.0, "{:?}", w.sample);
    }
    let south = |x: f64, floor: u32| {
        elevator
            .windows
            .iter()
            .find(|w| {
                w.sample.facing.unwrap()[1] < -0.5
                    && (w.sample.at[0] - x).abs() < 0.51
                    && w.sample.floor == floor
            })
            .unwrap()
    };
    // Behind the shaft's middle: it fills ±63° of the view south, more than the sun's
    // whole swing between 8:00 and 16:00 on 大寒日 (about ±53°): no sun at all.
    let behind = south(0.0, 0);
    assert_eq!(behind.before, Some(8.0));
    assert_eq!(behind.after, 0.0);
    // Without the elevator, exactly today's hours: nothing else changed.
    for w in &elevator.windows {
        assert_eq!(w.without_elevators, w.before, "{:?}", w.sample);
    }
    // 25 m along the façade the shaft lies 78–88° west of south, further than the sun
    // goes before 16:00: no loss.
    assert_eq!(south(25.0, 0).after, 8.0);
    let s = elevator.summary(day);
    assert!(s.pushed_below > 0);
    assert_eq!(s.worsened, 0);
    assert_eq!(
        s.elevator_only.get("SLAB").copied(),
        Some(s.pushed_below),
        "every window pushed below is the elevator's doing: {s:?}"
    );
    assert_eq!(s.shaded_by_elevators, s.less_sun);
    // Today nothing is below the standard.
    assert_eq!(today.summary(day).below, 0);
}

#[test]
fn the_checklist_is_measured_from_the_scenario_files() {
    let dir = temp_dir("review-checklist");
    let scene = load_scene(&fixture(&dir));
    let (project, frame) = cli::load_project(&scene, Some("P1")).unwrap();
    let review = review::review(&project, &frame, SunSettings::default()).unwrap();
    let works = &review.scenarios[1];
    let item = |key: &str| works.checklist.iter().find(|i| i.key == key).unwrap();
    // 100 m of road, 100 + 50 m of cables, a 10 × 10 m shed, 30 × 20 m of green.
    assert_eq!(item("roads").measure, "100 m");
    assert_eq!(item("cables").measure, "150 m");
    assert_eq!(item("demolish").measure, "1 · 100 m²");
    assert_eq!(item("greening").measure, "+600 m²");
    assert_eq!(item("community").measure, "childcare ×1");
    assert_eq!(item("property").measure, "property ×1");
    // 500 m² of parking at 25 m² a space.
    assert_eq!(item("services").measure, "parking +20");
    for key in ["pipes", "facades"] {
        assert!(!item(key).covered, "{key}");
    }
    // Today covers nothing; the elevator scenario only adds a service (the elevator).
    assert!(review.existing.checklist.iter().all(|i| !i.covered));
    let covered: Vec<_> = review.scenarios[0]
        .checklist
        .iter()
        .filter(|i| i.covered)
        .map(|i| (i.key, i.measure.as_str()))
        .collect();
    assert_eq!(covered, vec![("services", "elevators ×1")]);
    // The new house: 20 × 10 m × 3 floors / 70 m² a household = 8.57 → 9; the slab's 36.
    assert_eq!(works.metrics.households, 45);
    let new: Vec<_> = works.sun.windows.iter().filter(|w| w.new).collect();
    assert!(!new.is_empty() && new.iter().all(|w| w.before.is_none()));
}

#[test]
fn notes_round_trip_through_their_file_and_the_report_shows_them() {
    let dir = temp_dir("review-notes");
    let scene = load_scene(&fixture(&dir));
    let path = dir.join("notes/P1.geojson");
    let note = |text: &str, lon: f64| Note {
        at: LonLat::new(lon, ORIGIN.lat),
        text: text.into(),
        author: "王工".into(),
        time: chrono::DateTime::parse_from_rfc3339("2026-12-02T09:30:00+08:00")
            .unwrap()
            .with_timezone(&chrono::Utc),
        scenario: Some("elevator".into()),
    };
    let a = note("电梯井遮挡1号楼南向窗 <check>", ORIGIN.lon);
    let b = Note {
        scenario: None,
        ..note("停车位数量需复核", ORIGIN.lon + 0.0005)
    };
    assert_eq!(notes::add(&path, a.clone()).unwrap(), 1);
    assert_eq!(notes::add(&path, b.clone()).unwrap(), 2);
    assert_eq!(notes::load(&path).unwrap(), vec![a, b]);
    // GDAL reads the file as two points with their text.
    let out = std::process::Command::new("ogrinfo")
        .args(["-al", "-q"])
        .arg(&path)
        .output()
        .expect("ogrinfo (gdal-bin) runs");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("停车位数量需复核") && text.matches("POINT").count() == 2,
        "{text}"
    );
    // A broken file is an error naming it.
    let broken = dir.join("notes/broken.geojson");
    std::fs::write(
        &broken,
        "{\"type\":\"FeatureCollection\",\"features\":[{\"geometry\":null}]}",
    )
    .unwrap();
    let e = notes::load(&broken).unwrap_err();
    assert!(e.contains("broken.geojson") && e.contains("note 0"), "{e}");

    let report = dir.join("report");
    let options = PlanOptions {
        project: Some("P1".into()),
        report: Some(report.clone()),
        ..PlanOptions::default()
    };
    let printed = cli::run(&scene, &options).unwrap();
    assert!(printed.contains("[elevator]"), "{printed}");
    let html = std::fs::read_to_string(report.join("index.html")).unwrap();
    // Escaped: the project's name and the note's text hold markup characters.
    assert!(html.contains("fixture &lt;community&gt; &amp; co"));
    assert!(html.contains("电梯井遮挡1号楼南向窗 &lt;check&gt;"));
    assert!(html.contains("停车位数量需复核"));
    let csv = std::fs::read_to_string(report.join("metrics.csv")).unwrap();
    assert_eq!(csv.lines().count(), 4, "{csv}");
    // One map a scenario and today, each an image with real content: many colours.
    for i in 0..3 {
        assert!(html.contains(&format!("src=\"sun-{i}.png\"")));
        let img = image::open(report.join(format!("sun-{i}.png")))
            .unwrap()
            .to_rgba8();
        assert_eq!(img.width(), citytwin::plan::report::MAP_WIDTH as u32);
        let colours: std::collections::HashSet<[u8; 4]> = img.pixels().map(|p| p.0).collect();
        assert!(colours.len() > 50, "map {i} has {} colours", colours.len());
    }
    // One shadow diagram each: the hourly shadows outlined, blue in the morning, red in
    // the afternoon, on the site plan.
    for i in 0..3 {
        assert!(html.contains(&format!("src=\"shadows-{i}.png\"")));
        let img = image::open(report.join(format!("shadows-{i}.png")))
            .unwrap()
            .to_rgba8();
        let hour = |h: f64| {
            let c = citytwin::plan::report::hour_color((h - 8.0) / 8.0).to_rgba8();
            let near = |a: u8, b: u8| a.abs_diff(b) <= 8;
            img.pixels()
                .filter(|p| near(p.0[0], c.r) && near(p.0[1], c.g) && near(p.0[2], c.b))
                .count()
        };
        assert!(
            hour(8.0) > 20 && hour(16.0) > 20,
            "diagram {i}: no hourly outlines"
        );
    }
    // The elevator scenario's map marks windows below the standard only because of the
    // elevator (violet dots); today's map has none.
    let violet = |i: usize| {
        image::open(report.join(format!("sun-{i}.png")))
            .unwrap()
            .to_rgba8()
            .pixels()
            .filter(|p| p.0 == [150, 60, 220, 255])
            .count()
    };
    assert_eq!(violet(0), 0);
    assert!(violet(1) > 0);
}

#[test]
fn the_built_in_city_carries_the_beisanjie_proposals_and_the_road() {
    let path = citytwin::scene::default_scene_path();
    citytwin::generate::city_files::ensure_builtin(&path).unwrap();
    let scene = load_scene(&path);
    let ids: Vec<_> = scene.file.projects.iter().map(|p| p.id.as_str()).collect();
    assert_eq!(ids, ["RP-2026-001", "RP-2026-002"]);
    assert!(scene.file.projects.iter().all(|p| p.synthetic));
    let (project, frame) = cli::load_project(&scene, Some("RP-2026-001")).unwrap();
    assert!(project.problems.is_empty(), "{:?}", project.problems);
    assert_eq!(project.existing.buildings.len(), 69);
    let site = citytwin::plan::metrics::geodesic_area(&project.site, &frame).unwrap();
    assert!((site / 1e6 - 0.46).abs() < 0.005, "{site}");
    // A adds one elevator to each slab; B takes two slabs down.
    let a = &project.scenarios[0];
    let elevators = a
        .models
        .iter()
        .filter(|m| m.role == citytwin::plan::project::ModelRole::Elevator)
        .count();
    assert_eq!(elevators, 69);
    assert_eq!(project.scenarios[1].removed.len(), 2);
    assert_eq!(project.scenarios[1].buildings.len(), 67);
    let (road, _) = cli::load_project(&scene, Some("RP-2026-002")).unwrap();
    assert!(road.problems.is_empty(), "{:?}", road.problems);
    assert!(!road.scenarios[0].works.is_empty());
}

#[test]
fn the_shadows_on_the_map_are_where_the_sunlight_rays_are_blocked() {
    // 北三街 with proposal A (an elevator on every slab) at three moments of 大寒日: a
    // ground point lies in the drawn shadow exactly when the ray caster that counts
    // the sunlight hours finds its ray to the sun blocked (but for points within a
    // few centimetres of a shadow's edge).
    use citytwin::plan::shadow::{of_scenario, step_at};
    use citytwin::plan::sun::Obstacles;
    use geo::{Contains, Distance, Euclidean};
    let path = citytwin::scene::default_scene_path();
    citytwin::generate::city_files::ensure_builtin(&path).unwrap();
    let scene = load_scene(&path);
    let (project, frame) = cli::load_project(&scene, Some("RP-2026-001")).unwrap();
    let review = review::review(&project, &frame, SunSettings::default()).unwrap();
    let a = &project.scenarios[0];
    let (blocks, triangles) = review::casters(&project, a, true);
    let rays = Obstacles::new(&blocks, triangles, 16.0);
    let ground = &review.scenarios[0].sun.ground;
    assert!(ground.len() > 10_000, "{} ground samples", ground.len());
    for hours in [8.5, 12.0, 15.25] {
        let sun = step_at(&review.path, hours).unwrap();
        assert!((sun.solar_minute - hours * 60.0).abs() <= 0.5);
        let shadow = of_scenario(&project, a, sun).unwrap();
        let edges: Vec<geo::Line<f64>> = shadow
            .0
            .iter()
            .flat_map(|p| std::iter::once(p.exterior()).chain(p.interiors()))
            .flat_map(|r| r.lines())
            .collect();
        let (mut shaded, mut differ) = (0, 0);
        for (sample, _) in ground {
            let point = geo::Point::new(sample.at[0], sample.at[1]);
            let blocked = rays.blocked(sample.at, sun);
            shaded += usize::from(blocked);
            if blocked != shadow.contains(&point) {
                let edge = edges
                    .iter()
                    .map(|l| Euclidean.distance(&point, l))
                    .fold(f64::INFINITY, f64::min);
                assert!(
                    edge < 0.05,
                    "{hours} h: ({:.2}, {:.2}) blocked={blocked}, {edge:.2} m from a shadow edge",
                    point.x(),
                    point.y()
                );
                differ += 1;
            }
        }
        // Shadows are there to compare: winter sun in a dense old community.
        assert!(
            shaded * 10 > ground.len(),
            "{hours} h: {shaded} of {} shaded",
            ground.len()
        );
        assert!(differ * 1000 < ground.len(), "{hours} h: {differ} differ");
    }
}

#[test]
fn a_measured_path_is_its_geodesic_length_with_the_climb() {
    let frame = LocalFrame::new(ORIGIN).unwrap();
    // 300 m east, then 400 m north and 30 m up: 300 + √(400² + 30²) = 701.12 m, within
    // the local frame's scale error (under 2 ppm near its origin).
    let points = [[0.0, 0.0, 0.0], [300.0, 0.0, 0.0], [300.0, 400.0, 30.0]];
    let m = citytwin::plan::metrics::geodesic_length(&points, &frame).unwrap();
    assert!((m - 701.1234).abs() < 0.01, "{m}");
    let east = citytwin::plan::metrics::geodesic_length(&points[..2], &frame).unwrap();
    assert!((east - 300.0).abs() < 0.001, "{east}");
}

#[test]
fn check_reads_the_projects_and_names_a_broken_file() {
    let dir = temp_dir("review-check");
    let scene_path = fixture(&dir);
    let report = citytwin::check::check(&load_scene(&scene_path));
    assert!(report.ok(), "{report}");
    let text = report.to_string();
    assert!(
        text.contains(
            "P1  fixture <community> & co  2 scenarios, 1 buildings on the site today, 1 elements"
        ),
        "{text}"
    );
    // A green file that is not GeoJSON: one error naming the file and the project.
    std::fs::write(dir.join("green.geojson"), "{ not json").unwrap();
    let report = citytwin::check::check(&load_scene(&scene_path));
    assert_eq!(report.errors, 1, "{report}");
    let problem = &report.problems[0];
    assert!(
        problem.starts_with("project P1: ")
            && problem.contains("green.geojson")
            && problem.contains("not valid JSON"),
        "{problem}"
    );
}
