//! A small scene loads into the ECS with the right buildings, heights and positions.

use crate::common::*;
use citytwin::city::{BuildingTile, Buildings, CityStatus};
use citytwin::geo::{LocalPoint, LonLat, china};
use citytwin::spatial::BuildingIndex;
use geo::Centroid;

const ORIGIN: LonLat = LonLat::new(113.665, 34.754);

/// A square of ±`half` degrees around a lon/lat, as a GeoJSON polygon.
fn square(c: LonLat, half: f64) -> String {
    let (w, e, s, n) = (c.lon - half, c.lon + half, c.lat - half, c.lat + half);
    format!(
        r#"{{"type":"Polygon","coordinates":[[[{w},{s}],[{e},{s}],[{e},{n}],[{w},{n}],[{w},{s}]]]}}"#
    )
}

fn small_scene() -> std::path::PathBuf {
    let dir = temp_dir("small-scene");
    let east = LonLat::new(ORIGIN.lon + 0.002, ORIGIN.lat);
    // A courtyard building: the hole is listed clockwise, as RFC 7946 asks.
    let (w, e, s, n) = (
        ORIGIN.lon - 0.003,
        ORIGIN.lon - 0.002,
        ORIGIN.lat - 0.0005,
        ORIGIN.lat + 0.0005,
    );
    let (hw, he, hs, hn) = (w + 0.0003, e - 0.0003, s + 0.0003, n - 0.0003);
    let courtyard = format!(
        r#"{{"type":"Polygon","coordinates":[[[{w},{s}],[{e},{s}],[{e},{n}],[{w},{n}],[{w},{s}]],[[{hw},{hs}],[{hw},{hn}],[{he},{hn}],[{he},{hs}],[{hw},{hs}]]]}}"#
    );
    write(
        &dir,
        "buildings.geojson",
        &collection(&[
            (
                r#"{"id":"K1","name":"known","height":23.5}"#,
                &square(ORIGIN, 0.0001),
            ),
            (r#"{"id":"K2","levels":7}"#, &square(east, 0.0001)),
            (r#"{"id":"K3","height":"12"}"#, &courtyard),
        ]),
    );
    // The same kind of square, published in GCJ-02 as a Chinese web map would.
    let north = LonLat::new(ORIGIN.lon, ORIGIN.lat + 0.002);
    let gcj = china::wgs84_to_gcj02(north);
    write(
        &dir,
        "gcj.geojson",
        &collection(&[(r#"{"id":"G1","height":30}"#, &square(gcj, 0.0001))]),
    );
    write(
        &dir,
        "scene.ron",
        r#"(
            name: "small",
            origin: (lon: 113.665, lat: 34.754),
            layers: [
                (kind: Buildings, path: "buildings.geojson", attributes: (metres_per_level: 3.0)),
                (kind: Buildings, path: "gcj.geojson", crs: "GCJ-02"),
            ],
        )"#,
    )
}

#[test]
fn small_scene_loads_with_heights_and_positions() {
    let mut app = headless(load_scene(&small_scene()));
    wait_for_city(&mut app);
    let world = app.world_mut();
    let status = world.resource::<CityStatus>();
    assert_eq!(status.buildings, 4, "problems: {:?}", status.problems);
    assert_eq!(status.skipped_features, 0);

    let buildings = &world.resource::<Buildings>().0;
    let by_id = |id: &str| {
        buildings
            .iter()
            .find(|b| b.id == id)
            .unwrap_or_else(|| panic!("{id} missing"))
    };
    let k1 = by_id("K1");
    assert_eq!(k1.height_m, 23.5);
    assert_eq!(k1.name.as_deref(), Some("known"));
    let c = k1.footprint.centroid().unwrap();
    // Centred on the origin: the local centroid is (0, 0) to the centimetre.
    assert!(
        c.x().abs() < 0.01 && c.y().abs() < 0.01,
        "K1 centroid {c:?}"
    );
    // 0.0002° of longitude at 34.754°N is 18.312 m, of latitude 22.187 m (PROJ's cs2cs).
    let r = k1.bounds.unwrap();
    assert!((r.width() - 18.312).abs() < 0.01, "width {}", r.width());
    assert!((r.height() - 22.187).abs() < 0.01, "height {}", r.height());

    assert_eq!(by_id("K2").height_m, 21.0, "7 levels × 3 m");
    let k2 = by_id("K2").footprint.centroid().unwrap();
    assert!(
        (k2.x() - 183.121).abs() < 0.01 && (k2.y() - 0.002).abs() < 0.01,
        "K2 at {k2:?}"
    );
    let k3 = by_id("K3");
    assert_eq!(k3.height_m, 12.0, "a numeric string height is read");
    assert_eq!(
        k3.footprint.0[0].interiors().len(),
        1,
        "courtyard hole kept"
    );
    let courtyard = k3.bounds.unwrap().center();

    // GCJ-02 input lands where its WGS84 original is, to the centimetre.
    let g1 = by_id("G1").footprint.centroid().unwrap();
    // cs2cs: 34.756°N, 113.665°E is 221.872 m north of the origin.
    assert!(g1.x().abs() < 0.01, "G1 east {:.4}", g1.x());
    assert!((g1.y() - 221.872).abs() < 0.01, "G1 north {:.4}", g1.y());

    // Batched: buildings share tiles, and every building is in exactly one tile.
    let mut tiles = world.query::<&BuildingTile>();
    let mut seen: Vec<usize> = tiles
        .iter(world)
        .flat_map(|t| t.buildings.clone())
        .collect();
    assert!(tiles.iter(world).count() < 4);
    seen.sort();
    assert_eq!(seen, vec![0, 1, 2, 3]);

    // Picking: the index finds the building under a point and a ray.
    let buildings = world.resource::<Buildings>();
    let index = world.resource::<BuildingIndex>();
    let at = index
        .at_point(buildings, LocalPoint::new(0.0, 0.0))
        .unwrap();
    assert_eq!(buildings.0[at].id, "K1");
    assert!(
        index
            .at_point(buildings, LocalPoint::new(60.0, 60.0))
            .is_none()
    );
    assert!(
        index
            .at_point(buildings, LocalPoint::new(courtyard.x, courtyard.y))
            .is_none(),
        "the courtyard is open"
    );
    let eye = bevy::math::Vec3::new(0.0, 200.0, 300.0);
    let (hit, dist) = index
        .pick(buildings, eye, bevy::math::Vec3::new(0.0, 10.0, 0.0) - eye)
        .expect("ray towards K1 hits it");
    assert_eq!(buildings.0[hit].id, "K1");
    assert!(dist > 300.0 && dist < 361.0, "hit at {dist}");
}

#[test]
fn land_cover_loads_by_class_and_an_unknown_class_is_reported() {
    use citytwin::city::import::LandClass;
    let dir = temp_dir("land-cover");
    let at = |d: f64| LonLat::new(ORIGIN.lon + d, ORIGIN.lat);
    write(
        &dir,
        "land.geojson",
        &collection(&[
            (
                r#"{"id":"L1","name":"如意湖","class":"lake"}"#,
                &square(at(0.0), 0.001),
            ),
            (r#"{"id":"L2","class":"garden"}"#, &square(at(0.003), 0.001)),
            (r#"{"id":"L3","class":"Water"}"#, &square(at(0.006), 0.001)),
            (
                r#"{"id":"L4","class":"volcano"}"#,
                &square(at(0.009), 0.001),
            ),
            (r#"{"id":"L5"}"#, &square(at(0.012), 0.001)),
        ]),
    );
    let path = write(
        &dir,
        "scene.ron",
        r#"(name: "land", origin: (lon: 113.665, lat: 34.754), layers: [(kind: Land, path: "land.geojson")])"#,
    );
    let scene = citytwin::scene::Scene::load(&path).expect("scene");
    let city = citytwin::city::load_city(&scene);
    let classes: Vec<_> = city
        .data
        .land
        .iter()
        .map(|l| (l.area.id.as_str(), l.class))
        .collect();
    assert_eq!(
        classes,
        [
            ("L1", LandClass::Water),
            ("L2", LandClass::Green),
            ("L3", LandClass::Water)
        ]
    );
    assert_eq!(city.data.land[0].area.name.as_deref(), Some("如意湖"));
    let problems: Vec<String> = city.data.problems.iter().map(ToString::to_string).collect();
    assert_eq!(problems.len(), 2, "{problems:?}");
    assert!(
        problems[0].contains("land.geojson") && problems[0].contains("\"volcano\" is not known"),
        "{}",
        problems[0]
    );
    assert!(problems[1].contains("land has no class"), "{}", problems[1]);
    // One mesh per class present: water and green, no paved.
    let meshes: Vec<_> = city.land.iter().map(|(class, _)| *class).collect();
    assert_eq!(meshes, [LandClass::Green, LandClass::Water]);
}
