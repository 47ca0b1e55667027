//! The map overlays count what they draw from the operations state: open orders (or
//! alerts) per grid, renovation sites by phase, order pins, road sections by traffic
//! level, free parking spaces, key vehicles and their routes, the selected incident's
//! linked cameras. Headless: the overlays' computing half runs without a renderer.

use crate::common::*;
use bevy::app::App;
use chrono::{DateTime, FixedOffset, TimeDelta};
use citytwin::ops::TwinClock;
use citytwin::ops::orders::OrderBook;
use citytwin::view::overlays::{GridMetric, Layer, OverlayMeshes, OverlayStats, Overlays};
use citytwin::view::{Incident, Selection};
use std::time::Duration;

const T0: &str = "2026-11-23T09:00:00+08:00";

fn at(seconds: i64) -> String {
    (t0() + TimeDelta::seconds(seconds)).to_rfc3339()
}

fn t0() -> DateTime<FixedOffset> {
    DateTime::parse_from_rfc3339(T0).expect("constant time")
}

fn send(app: &App, seconds: i64, kind: &str, data: &str) {
    push_message(app, &at(seconds), kind, data);
}

fn square(id: &str, west: f64, south: f64, east: f64, north: f64) -> (String, String) {
    (
        format!(r#"{{"id":"{id}"}}"#),
        format!(
            r#"{{"type":"Polygon","coordinates":[[[{west},{south}],[{east},{south}],[{east},{north}],[{west},{north}],[{west},{south}]]]}}"#
        ),
    )
}

/// Two grids side by side north of an arterial road along latitude 34.750, which is
/// also a tour bus's approved route.
fn overlay_app() -> App {
    let dir = temp_dir("overlays");
    let (a, b) = (
        square("G-A", 113.660, 34.752, 113.665, 34.756),
        square("G-B", 113.665, 34.752, 113.670, 34.756),
    );
    write(
        &dir,
        "grids.geojson",
        &collection(&[(&a.0, &a.1), (&b.0, &b.1)]),
    );
    write(
        &dir,
        "roads.geojson",
        &collection(&[(
            r#"{"id":"R-1","class":"arterial","width":30}"#,
            r#"{"type":"LineString","coordinates":[[113.650,34.750],[113.680,34.750]]}"#,
        )]),
    );
    let scene = write(
        &dir,
        "scene.ron",
        r#"(
            name: "overlays",
            origin: (lon: 113.665, lat: 34.754),
            layers: [
                (kind: Grids, path: "grids.geojson"),
                (kind: Roads, path: "roads.geojson", attributes: (class: "class", width: "width")),
            ],
            operations: (
                rules: [(name: "ch4", kind: Some(gas_detector), when: Above(reading: "ch4_lel", value: 20.0), severity: critical)],
                vehicles: (routes: [(name: "R1", line: [(lon: 113.650, lat: 34.750), (lon: 113.680, lat: 34.750)], corridor_m: 100.0)]),
            ),
        )"#,
    );
    let mut app = headless(load_scene(&scene));
    citytwin::view::overlays::compute(&mut app);
    wait_for_city(&mut app);
    app
}

fn order(app: &App, seconds: i64, id: &str, place: &str, status: &str) {
    send(
        app,
        seconds,
        "work_order",
        &format!(
            r#"{{"id":"{id}","source":"hotline12345","category":"traffic","text":"路口拥堵",{place}"status":"{status}"}}"#
        ),
    );
}

fn device(app: &App, id: &str, kind: &str, lon: f64, lat: f64, readings: &str) {
    send(
        app,
        0,
        "device",
        &format!(
            r#"{{"id":"{id}","kind":"{kind}","status":"online","position":{{"lon":{lon},"lat":{lat}}},"readings":[{readings}]}}"#
        ),
    );
}

fn stats(app: &App) -> OverlayStats {
    app.world().resource::<OverlayStats>().clone()
}

fn step_until(app: &mut App, seconds: i64, what: &str, done: impl Fn(&OverlayStats) -> bool) {
    app.world_mut()
        .resource_mut::<TwinClock>()
        .step_to(t0() + TimeDelta::seconds(seconds));
    app.update();
    update_until(app, Duration::from_secs(20), what, |w| {
        done(w.resource::<OverlayStats>())
    });
}

#[test]
fn the_overlays_count_what_the_operations_state_holds() {
    let mut app = overlay_app();
    // A camera beside grid B, looking at it, before the orders that link it.
    send(
        &app,
        0,
        "camera",
        r#"{"id":"cam-1","status":"online","position":{"lon":113.6675,"lat":34.7525},"heading_deg":0.0,"fov_deg":90.0}"#,
    );
    // Traffic: jammed on the road, free on the road, and one sensor 2 km from any road.
    let speed = |v: f64| format!(r#"{{"name":"speed","value":{v},"unit":"km/h"}}"#);
    device(&app, "tf-1", "traffic_flow", 113.665, 34.7501, &speed(10.0));
    device(&app, "tf-2", "traffic_flow", 113.656, 34.7502, &speed(42.0));
    device(&app, "tf-3", "traffic_flow", 113.665, 34.770, &speed(20.0));
    // Parking: two of three free.
    let occupied = |v: u8| format!(r#"{{"name":"occupied","value":{v},"unit":""}}"#);
    device(&app, "p-1", "parking_space", 113.661, 34.753, &occupied(0));
    device(&app, "p-2", "parking_space", 113.662, 34.753, &occupied(1));
    device(&app, "p-3", "parking_space", 113.663, 34.753, &occupied(0));
    // A gas alarm in grid A.
    device(
        &app,
        "gas-1",
        "gas_detector",
        113.662,
        34.755,
        r#"{"name":"ch4_lel","value":35.0,"unit":"%LEL"}"#,
    );
    // Orders: two placed in grid A, one in grid B, and one with no position that names
    // grid B.
    let pos = |lon: f64, lat: f64| format!(r#""position":{{"lon":{lon},"lat":{lat}}},"#);
    order(&app, 1, "wo-1", &pos(113.662, 34.754), "reported");
    order(&app, 1, "wo-2", &pos(113.663, 34.7545), "reported");
    order(&app, 1, "wo-3", &pos(113.6676, 34.7535), "reported");
    order(&app, 1, "wo-4", r#""grid":"G-B","#, "reported");
    // Projects: a community's ring in design, a road's line under construction, and
    // one with no site (not drawn).
    send(
        &app,
        1,
        "project",
        r#"{"id":"RP-1","kind":"old_community","name":"北三街","phase":"design","progress_pct":10.0,"geometry":[{"lon":113.660,"lat":34.752},{"lon":113.664,"lat":34.752},{"lon":113.664,"lat":34.755},{"lon":113.660,"lat":34.755}]}"#,
    );
    send(
        &app,
        1,
        "project",
        r#"{"id":"RP-2","kind":"road","name":"陇海路","phase":"construction","progress_pct":40.0,"geometry":[{"lon":113.655,"lat":34.750},{"lon":113.675,"lat":34.750}]}"#,
    );
    send(
        &app,
        1,
        "project",
        r#"{"id":"RP-3","kind":"pocket_park","name":"淮园","phase":"completed","progress_pct":100.0}"#,
    );
    // Key vehicles: one on its route, one 220 m off it.
    for (id, lat) in [("bus-1", 34.7502), ("bus-2", 34.7520)] {
        send(
            &app,
            2,
            "vehicle",
            &format!(
                r#"{{"id":"{id}","kind":"tour_bus","position":{{"lon":113.665,"lat":{lat}}},"speed_kmh":36.0,"heading_deg":90.0,"route":"R1"}}"#
            ),
        );
    }
    step_until(&mut app, 3, "every overlay", |s| {
        s.grids_coloured == 2
            && s.free_parking == 2
            && s.traffic.iter().sum::<usize>() == 2
            && s.vehicles == 2
    });
    let s = stats(&app);
    assert_eq!((s.grids_coloured, s.grid_total), (2, 4), "{s:?}");
    assert_eq!(s.projects, [0, 1, 1, 0, 0], "{s:?}");
    assert_eq!(
        (s.pins, s.pins_overdue),
        (3, 0),
        "pins need a position: {s:?}"
    );
    assert_eq!(
        s.traffic,
        [1, 0, 1],
        "the far sensor colours no road: {s:?}"
    );
    assert_eq!(s.free_parking, 2);
    assert_eq!(
        (s.vehicles, s.vehicles_off_rules, s.routes),
        (2, 1, 1),
        "{s:?}"
    );
    assert_eq!(s.links, 0, "nothing selected");
    for layer in [
        Layer::Grid,
        Layer::Projects,
        Layer::Traffic,
        Layer::Parking,
        Layer::Routes,
    ] {
        let meshes = app.world().resource::<OverlayMeshes>();
        assert!(
            !meshes.data[layer as usize].is_empty(),
            "{layer:?} has nothing to draw"
        );
    }

    // Clicking the ground picks the site there: inside a ring, or beside a road's works.
    let frame = &app.world().non_send::<citytwin::geo::SceneFrame>().0;
    let projects = app.world().resource::<citytwin::feeds::ingest::Projects>();
    let ground = |lon: f64, lat: f64| {
        frame
            .to_local(citytwin::geo::LonLat::new(lon, lat))
            .unwrap()
            .to_world(0.0)
    };
    let pick = |lon, lat| citytwin::view::overlays::project_at(projects, frame, ground(lon, lat));
    assert_eq!(pick(113.662, 34.7535).as_deref(), Some("RP-1"));
    assert_eq!(pick(113.670, 34.7501).as_deref(), Some("RP-2"));
    assert_eq!(pick(113.668, 34.755), None);

    // A bus reported 1 s ago at 36 km/h is drawn 10 m further east; 10 s later, 100 m.
    let marks = &app
        .world()
        .resource::<citytwin::view::overlays::VehicleMarks>()
        .0;
    let bus = marks.iter().find(|m| m.id == "bus-1").expect("bus-1 drawn");
    let reported = app
        .world()
        .non_send::<citytwin::geo::SceneFrame>()
        .0
        .to_local(citytwin::geo::LonLat::new(113.665, 34.7502))
        .unwrap()
        .to_world(0.0);
    assert!(
        (bus.at.x - reported.x - 10.0).abs() < 0.5,
        "{} vs {}",
        bus.at,
        reported
    );
    step_until(&mut app, 12, "the bus moved on", |_| true);
    let marks = &app
        .world()
        .resource::<citytwin::view::overlays::VehicleMarks>()
        .0;
    let bus = marks.iter().find(|m| m.id == "bus-1").expect("bus-1 drawn");
    assert!(
        (bus.at.x - reported.x - 100.0).abs() < 0.5,
        "{} vs {}",
        bus.at,
        reported
    );

    // Closing an order takes it off its grid and its pin away.
    order(
        &app,
        20,
        "wo-1",
        r#""position":{"lon":113.662,"lat":34.754},"#,
        "closed",
    );
    step_until(&mut app, 21, "wo-1 closed", |s| s.grid_total == 3);
    let s = stats(&app);
    assert_eq!((s.grids_coloured, s.pins), (2, 2), "{s:?}");

    // The selected order's linked cameras: as many drawn as the order links.
    let linked = app.world().resource::<OrderBook>().orders["wo-3"]
        .cameras
        .len();
    assert!(linked >= 1, "cam-1 sees wo-3");
    app.world_mut().resource_mut::<Selection>().incident = Some(Incident::Order("wo-3".into()));
    step_until(&mut app, 22, "the links drawn", |s| s.links > 0);
    assert_eq!(stats(&app).links, linked);

    // The choropleth of open alerts: the gas alarm in grid A; then off.
    app.world_mut().resource_mut::<Overlays>().grid = GridMetric::Alerts;
    step_until(&mut app, 23, "alerts per grid", |s| s.grid_total == 1);
    assert_eq!(stats(&app).grids_coloured, 1);
    app.world_mut().resource_mut::<Overlays>().grid = GridMetric::Off;
    step_until(&mut app, 24, "the grids plain", |s| s.grids_coloured == 0);
    assert!(app.world().resource::<OverlayMeshes>().data[Layer::Grid as usize].is_empty());

    // An order unsigned after five minutes turns its pin red.
    step_until(&mut app, 1 + 301, "overdue pins", |s| s.pins_overdue > 0);
    assert_eq!(stats(&app).pins_overdue, 2, "wo-2 and wo-3 unsigned");
}
