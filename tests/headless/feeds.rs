//! Feeds end to end: a recording replayed on the tokio runtime becomes device entities
//! with the right states; messages pushed into the channel update entities by id.

use crate::common::*;
use citytwin::feeds::ingest::{
    FeedEntities, FeedStats, IotDevice, Status, VideoCamera, WorkOrders,
};
use citytwin::feeds::schema::{DeviceStatus, FeedMessage, OrderStatus};
use citytwin::feeds::{FeedChannel, FeedEvent, SourceState};
use citytwin::ops::{DeviceCounts, OrderCounts, TwinClock};
use std::time::Duration;

fn line(ts: &str, kind: &str, data: &str) -> String {
    format!(r#"{{"v":1,"ts":"2026-11-23T08:00:{ts}+08:00","kind":"{kind}","data":{data}}}"#)
}

fn device(id: &str, status: &str, position: bool) -> String {
    let pos = if position {
        r#","position":{"lon":113.666,"lat":34.755}"#
    } else {
        ""
    };
    format!(r#"{{"id":"{id}","kind":"gas_detector","status":"{status}"{pos}}}"#)
}

fn scene_with_feed(dir: &std::path::Path, recording: &str) -> std::path::PathBuf {
    scene_with_feed_at(dir, recording, "max")
}

/// A scene replaying `recording` at `speed` (`max`, `1`, …).
fn scene_with_feed_at(dir: &std::path::Path, recording: &str, speed: &str) -> std::path::PathBuf {
    write(dir, "feed.ndjson", recording);
    write(
        dir,
        "scene.ron",
        &format!(
            r#"(name: "feeds", origin: (lon: 113.665, lat: 34.754), feeds: ["replay:feed.ndjson@{speed}"])"#
        ),
    )
}

fn entity_status(app: &mut bevy::app::App, id: &str) -> DeviceStatus {
    let e = app
        .world()
        .resource::<FeedEntities>()
        .get(id)
        .unwrap_or_else(|| panic!("{id} has no entity"));
    app.world().get::<Status>(e).expect("status").0
}

#[test]
fn replayed_recording_drives_device_entities() {
    let dir = temp_dir("feed-replay");
    let recording = [
        "# a comment line, skipped".to_string(),
        line("00", "device", &device("gas-1", "online", true)),
        line("00", "device", &device("gas-2", "online", true)),
        line("01", "camera", r#"{"id":"cam-1","status":"online","position":{"lon":113.664,"lat":34.753},"heading_deg":90.0}"#),
        "this line is garbled {{".to_string(),
        line("02", "device", &device("gas-1", "alarm", false)),
        line("01", "device", &device("gas-1", "online", false)),
        line("03", "device", &device("gas-3", "offline", false)),
        line("03", "device", &device("gas-2", "offline", false)),
        line("04", "work_order", r#"{"id":"wo-1","source":"hotline12345","category":"heating","text":"暖气不热","status":"reported"}"#),
        line("05", "work_order", r#"{"id":"wo-1","source":"hotline12345","category":"heating","text":"暖气不热","status":"closed","satisfaction":5}"#),
        line("06", "device", &device("gas-2", "online", false)).replace("\"v\":1", "\"v\":2"),
        line("07", "device", &device("cam-1", "online", false)),
    ]
    .join("\n");
    let mut app = headless(load_scene(&scene_with_feed(&dir, &recording)));
    wait_for_state(
        &mut app,
        Duration::from_secs(30),
        "the replay to finish",
        SourceState::Finished,
    );
    app.update();

    assert_eq!(
        app.world().resource::<FeedEntities>().len(),
        3,
        "gas-3 never had a position"
    );
    assert_eq!(
        entity_status(&mut app, "gas-1"),
        DeviceStatus::Alarm,
        "the older report is refused"
    );
    assert_eq!(
        entity_status(&mut app, "gas-2"),
        DeviceStatus::Offline,
        "the v2 message is rejected"
    );
    assert_eq!(entity_status(&mut app, "cam-1"), DeviceStatus::Online);
    let cam = app.world().resource::<FeedEntities>().get("cam-1").unwrap();
    assert!(app.world().get::<VideoCamera>(cam).is_some());
    assert!(app.world().get::<IotDevice>(cam).is_none());

    let counts = app.world().resource::<DeviceCounts>().clone();
    assert_eq!(
        (counts.online, counts.alarm, counts.offline, counts.total()),
        (1, 1, 1, 3)
    );

    let stats = &app.world().resource::<FeedStats>().sources[0];
    assert_eq!(stats.received, 12);
    assert_eq!(stats.applied, 7);
    let rejected: Vec<(&str, u64)> = stats.rejected.iter().map(|(k, v)| (*k, *v)).collect();
    assert_eq!(
        rejected,
        vec![
            ("kind conflict", 1),
            ("malformed", 1),
            ("no position", 1),
            ("out of order", 1),
            ("version", 1)
        ]
    );

    let orders = app.world().resource::<WorkOrders>();
    assert_eq!(orders.0["wo-1"].status, OrderStatus::Closed);
    assert_eq!(
        *app.world().resource::<OrderCounts>(),
        OrderCounts { open: 0, closed: 1 }
    );
    let clock = app.world().resource::<TwinClock>();
    assert_eq!(
        clock.now().to_rfc3339(),
        "2026-11-23T08:00:05+08:00",
        "newest applied message"
    );
}

#[test]
fn messages_update_entities_by_id_within_one_frame() {
    let mut app = bare_app("feed-channel");
    app.update();
    let tx = app.world().resource::<FeedChannel>().sender.clone();
    let send = |text: String| {
        let message = FeedMessage::decode(&text).expect("test message decodes");
        tx.send(FeedEvent::Message { source: 0, message })
            .expect("channel open");
    };
    // New, then changed twice, all before the next frame.
    send(line("00", "device", &device("d-1", "online", true)));
    send(line("01", "device", &device("d-1", "fault", false)));
    send(line("02", "device", &device("d-1", "alarm", false)));
    app.update();
    app.update();
    let world = app.world_mut();
    let mut q = world.query::<&Status>();
    assert_eq!(q.iter(world).count(), 1, "one entity per id");
    assert_eq!(entity_status(&mut app, "d-1"), DeviceStatus::Alarm);
    let counts = app.world().resource::<DeviceCounts>();
    assert_eq!((counts.alarm, counts.total()), (1, 1));
}

#[test]
fn missing_recording_is_reported_and_app_keeps_running() {
    let dir = temp_dir("feed-missing");
    let scene = write(
        &dir,
        "scene.ron",
        r#"(name: "m", origin: (lon: 113.665, lat: 34.754), feeds: ["replay:nope.ndjson"])"#,
    );
    let mut app = headless(load_scene(&scene));
    update_until(
        &mut app,
        Duration::from_secs(10),
        "the source to fail",
        |w| {
            matches!(
                w.resource::<FeedStats>().sources.first().map(|s| &s.state),
                Some(SourceState::Failed(_))
            )
        },
    );
    let SourceState::Failed(why) = &app.world().resource::<FeedStats>().sources[0].state else {
        unreachable!()
    };
    assert!(why.contains("nope.ndjson"), "{why}");
    app.update();
}

#[test]
fn a_quiet_live_source_turns_stale() {
    use citytwin::feeds::ingest::Health;
    let dir = temp_dir("feed-stale");
    // A replay that delivers one message, then waits an hour of recorded time.
    let recording = [
        line("00", "device", &device("s-1", "online", true)),
        line("00", "device", &device("s-1", "online", false)).replace("08:00:00", "09:00:00"),
    ]
    .join("\n");
    let scene = scene_with_feed_at(&dir, &recording, "1");
    let mut app = headless(load_scene(&scene));
    update_until(
        &mut app,
        Duration::from_secs(10),
        "the first message",
        |w| w.resource::<FeedEntities>().get("s-1").is_some(),
    );
    // Health is judged at a given instant: no need to wait for it.
    let health = |app: &bevy::app::App, after: Duration| {
        app.world().resource::<FeedStats>().sources[0].health(
            std::time::Instant::now() + after,
            Duration::from_millis(300),
        )
    };
    assert_eq!(health(&app, Duration::ZERO), Health::Live);
    let later = health(&app, Duration::from_millis(400));
    assert!(
        matches!(later, Health::Stale(q) if q >= Duration::from_millis(300)),
        "{later:?}"
    );
}

/// Status changes and work-order changes as ingest raised them, in order.
#[derive(bevy::prelude::Resource, Default)]
struct Seen {
    status: Vec<(String, Option<DeviceStatus>, DeviceStatus)>,
    orders: Vec<(String, OrderStatus)>,
}

fn see(
    mut seen: bevy::prelude::ResMut<Seen>,
    mut status: bevy::prelude::MessageReader<citytwin::feeds::ingest::DeviceStatusChanged>,
    mut orders: bevy::prelude::MessageReader<citytwin::feeds::ingest::WorkOrderChanged>,
) {
    for m in status.read() {
        seen.status.push((m.id.to_string(), m.from, m.to));
    }
    for m in orders.read() {
        seen.orders.push((m.id.clone(), m.to));
    }
}

#[test]
fn under_pressure_readings_coalesce_and_no_status_change_or_order_is_lost() {
    use bevy::prelude::*;
    use citytwin::feeds::ingest::{Backlog, IngestConfig, Readings};
    let mut app = bare_app("feed-pressure");
    // A frame that has no time for feeds: it applies one batch of 64, the rest waits.
    {
        let mut config = app.world_mut().resource_mut::<IngestConfig>();
        config.budget = Duration::ZERO;
        config.share_of_frame = 0.0;
    }
    app.init_resource::<Seen>().add_systems(Update, see);
    app.update();

    let tx = app.world().resource::<FeedChannel>().sender.clone();
    let mut sent = 0u64;
    let mut send = |round: u32, kind: &str, data: String| {
        let ts = format!("2026-11-23T08:{:02}:{:02}+08:00", round / 60, round % 60);
        let text = format!(r#"{{"v":1,"ts":"{ts}","kind":"{kind}","data":{data}}}"#);
        let message = FeedMessage::decode(&text).expect("test message decodes");
        tx.send(FeedEvent::Message { source: 0, message })
            .expect("channel open");
        sent += 1;
    };
    const DEVICES: u32 = 10;
    const ROUNDS: u32 = 300;
    for round in 0..ROUNDS {
        for d in 0..DEVICES {
            // d-3 raises an alarm for one round; d-7 goes offline for good.
            let status = match (d, round) {
                (3, 100) => "alarm",
                (7, 200..) => "offline",
                _ => "online",
            };
            let pos = if round == 0 {
                r#","position":{"lon":113.666,"lat":34.755}"#
            } else {
                ""
            };
            send(
                round,
                "device",
                format!(
                    r#"{{"id":"d-{d}","kind":"gas_detector","status":"{status}"{pos},"readings":[{{"name":"CH4","value":{round},"unit":"%LEL"}}]}}"#
                ),
            );
        }
        if round % 10 == 0 {
            let status = if round % 20 == 0 {
                "reported"
            } else {
                "closed"
            };
            let id = round / 20;
            send(
                round,
                "work_order",
                format!(
                    r#"{{"id":"wo-{id}","source":"grid_patrol","category":"environment","text":"渣土车","status":"{status}"}}"#
                ),
            );
        }
    }
    update_until(
        &mut app,
        Duration::from_secs(30),
        "the backlog to drain",
        |w| w.resource::<Backlog>().is_empty() && w.resource::<FeedChannel>().receiver.is_empty(),
    );
    app.update();

    let stats = &app.world().resource::<FeedStats>().sources[0];
    assert_eq!(stats.received, sent);
    assert_eq!(stats.rejected_total(), 0, "{:?}", stats.rejected);
    assert!(stats.coalesced > 1000, "coalesced only {}", stats.coalesced);
    assert_eq!(stats.applied + stats.coalesced, sent);

    // Latest wins: every device shows its last reading.
    let entities = app.world().resource::<FeedEntities>();
    for d in 0..DEVICES {
        let e = entities.get(&format!("d-{d}")).expect("device spawned");
        let readings = app.world().get::<Readings>(e).expect("readings");
        assert_eq!(readings.0[0].value, f64::from(ROUNDS - 1), "d-{d}");
    }
    // Every status change was raised, in order.
    let seen = app.world().resource::<Seen>();
    let changes = |id: &str| -> Vec<(Option<DeviceStatus>, DeviceStatus)> {
        seen.status
            .iter()
            .filter(|(i, ..)| i == id)
            .map(|(_, from, to)| (*from, *to))
            .collect()
    };
    use DeviceStatus::*;
    assert_eq!(
        changes("d-3"),
        vec![(None, Online), (Some(Online), Alarm), (Some(Alarm), Online)]
    );
    assert_eq!(
        changes("d-7"),
        vec![(None, Online), (Some(Online), Offline)]
    );
    assert_eq!(entity_status(&mut app, "d-7"), Offline);
    // Every work order change arrived: 15 opened, 15 closed.
    let seen = app.world().resource::<Seen>();
    assert_eq!(seen.orders.len(), 30, "{:?}", seen.orders);
    let orders = app.world().resource::<WorkOrders>();
    assert_eq!(orders.0.len(), 15);
    assert!(orders.0.values().all(|o| o.status == OrderStatus::Closed));
}

#[test]
fn closed_work_orders_leave_memory_a_day_after_closing() {
    let mut app = bare_app("feed-retention");
    app.update();
    let tx = app.world().resource::<FeedChannel>().sender.clone();
    let send = |ts: &str, id: &str, status: &str| {
        let text = format!(
            r#"{{"v":1,"ts":"{ts}","kind":"work_order","data":{{"id":"{id}","source":"hotline12345","category":"heating","text":"暖气不热","status":"{status}"}}}}"#
        );
        let message = FeedMessage::decode(&text).expect("test message decodes");
        tx.send(FeedEvent::Message { source: 0, message })
            .expect("channel open");
    };
    send("2026-11-23T08:00:00+08:00", "wo-closed", "reported");
    send("2026-11-23T09:00:00+08:00", "wo-closed", "closed");
    send("2026-11-23T08:30:00+08:00", "wo-open", "reported");
    send("2026-11-23T10:00:00+08:00", "wo-reopened", "closed");
    send("2026-11-24T08:00:00+08:00", "wo-reopened", "signed");
    send("2026-11-24T08:05:00+08:00", "wo-reopened", "closed");
    app.update();
    app.update();
    let ids = |app: &bevy::app::App| {
        let mut ids: Vec<String> = app
            .world()
            .resource::<WorkOrders>()
            .0
            .keys()
            .cloned()
            .collect();
        ids.sort();
        ids
    };
    assert_eq!(
        ids(&app),
        ["wo-closed", "wo-open", "wo-reopened"],
        "all within a day"
    );
    // Feed time moves past a day after wo-closed closed.
    send("2026-11-24T09:00:01+08:00", "wo-other", "reported");
    app.update();
    app.update();
    assert_eq!(
        ids(&app),
        ["wo-open", "wo-other", "wo-reopened"],
        "closed over a day ago: gone; open, or closed again since: kept"
    );
    assert_eq!(
        *app.world().resource::<OrderCounts>(),
        OrderCounts { open: 2, closed: 2 },
        "the counts keep what left memory"
    );
}

#[test]
fn a_device_silent_for_three_heartbeats_goes_offline() {
    let mut app = bare_app("feed-heartbeat");
    app.init_resource::<Seen>()
        .add_systems(bevy::prelude::Update, see);
    app.update();
    let tx = app.world().resource::<FeedChannel>().sender.clone();
    let send = |ts: &str, id: &str, extra: &str| {
        let text = format!(
            r#"{{"v":1,"ts":"2026-11-23T{ts}+08:00","kind":"device","data":{{"id":"{id}","kind":"elevator","status":"online","position":{{"lon":113.666,"lat":34.755}}{extra}}}}}"#
        );
        let message = FeedMessage::decode(&text).expect("test message decodes");
        tx.send(FeedEvent::Message { source: 0, message })
            .expect("channel open");
    };
    // Promises a report every minute; another device promises nothing.
    send("08:00:00", "lift-1", r#","heartbeat_s":60"#);
    send("08:00:00", "lift-2", "");
    // Feed time moves on through other messages: two minutes of silence is fine…
    send("08:02:00", "clock", "");
    app.update();
    app.update();
    assert_eq!(entity_status(&mut app, "lift-1"), DeviceStatus::Online);
    // …three heartbeats is not: offline at that exact twin time, with no real time
    // passing (the twin clock is stepped).
    app.world_mut()
        .resource_mut::<citytwin::ops::TwinClock>()
        .step_to(chrono::DateTime::parse_from_rfc3339("2026-11-23T08:02:59+08:00").expect("time"));
    app.update();
    assert_eq!(entity_status(&mut app, "lift-1"), DeviceStatus::Online);
    app.world_mut()
        .resource_mut::<citytwin::ops::TwinClock>()
        .step_to(chrono::DateTime::parse_from_rfc3339("2026-11-23T08:03:00+08:00").expect("time"));
    app.update();
    app.update();
    assert_eq!(entity_status(&mut app, "lift-1"), DeviceStatus::Offline);
    assert_eq!(entity_status(&mut app, "lift-2"), DeviceStatus::Online);
    assert_eq!(app.world().resource::<FeedEntities>().missed_heartbeats, 1);
    let seen = app.world().resource::<Seen>();
    assert!(
        seen.status.contains(&(
            "lift-1".to_string(),
            Some(DeviceStatus::Online),
            DeviceStatus::Offline
        )),
        "{:?}",
        seen.status
    );
    // Reporting again brings it back.
    send("08:03:05", "lift-1", "");
    app.update();
    app.update();
    assert_eq!(entity_status(&mut app, "lift-1"), DeviceStatus::Online);
    let counts = app.world().resource::<DeviceCounts>();
    assert_eq!((counts.online, counts.offline), (3, 0));
}

#[test]
fn a_device_that_moves_is_announced_once_and_one_that_stays_is_not() {
    use bevy::prelude::*;
    use citytwin::feeds::ingest::{DeviceMoved, GeoPosition, MarkerAt};
    #[derive(Resource, Default)]
    struct Moves(Vec<Entity>);
    let mut app = bare_app("feed-moves");
    app.init_resource::<Moves>().add_systems(
        Update,
        |mut moves: MessageReader<DeviceMoved>, mut seen: ResMut<Moves>| {
            seen.0.extend(moves.read().map(|m| m.entity));
        },
    );
    app.update();
    let tx = app.world().resource::<FeedChannel>().sender.clone();
    let at = |lon: f64| format!(r#","position":{{"lon":{lon},"lat":34.755}}"#);
    let reports = [
        ("01", "online", at(113.666)),
        // The same place again, with a status change: not a move.
        ("02", "alarm", at(113.666)),
        ("03", "alarm", String::new()),
        // 190 m east: a move.
        ("04", "alarm", at(113.6671)),
    ];
    // One report a frame, as a live feed brings them.
    for (ts, status, pos) in reports {
        let data = format!(r#"{{"id":"bus-7","kind":"gas_detector","status":"{status}"{pos}}}"#);
        let message = FeedMessage::decode(&line(ts, "device", &data)).expect("decodes");
        tx.send(FeedEvent::Message { source: 0, message })
            .expect("channel open");
        app.update();
    }
    app.update();
    assert_eq!(app.world().resource::<FeedStats>().sources[0].applied, 4);
    let e = app
        .world()
        .resource::<FeedEntities>()
        .get("bus-7")
        .expect("spawned");
    assert_eq!(app.world().resource::<Moves>().0, vec![e]);
    let geo = app.world().get::<GeoPosition>(e).expect("position");
    assert!((geo.0.lon - 113.6671).abs() < 1e-9, "{:?}", geo.0);
    // The marker stands ~190 m east of the origin (113.665 → 113.6671).
    let x = app.world().get::<MarkerAt>(e).expect("marker position").0.x;
    assert!((x - 192.0).abs() < 5.0, "x = {x}");
}

/// A line dated years ahead in a recording played at 1× is neither waited for (the
/// replay would stall until 2031) nor applied (the clock refuses it).
#[test]
fn a_far_future_line_does_not_stall_a_replay() {
    let dir = temp_dir("feeds-future-line");
    let far = line("00", "device", &device("far", "alarm", true))
        .replace("2026-11-23T08:00:00", "2031-01-01T00:00:00");
    let recording = [
        line("00", "device", &device("g-1", "online", true)),
        far,
        line("01", "device", &device("g-1", "alarm", true)),
    ]
    .join("\n");
    let scene = scene_with_feed_at(&dir, &recording, "1");
    let mut app = headless(load_scene(&scene));
    wait_for_state(
        &mut app,
        Duration::from_secs(20),
        "the replay's end",
        SourceState::Finished,
    );
    app.update();
    assert_eq!(entity_status(&mut app, "g-1"), DeviceStatus::Alarm);
    assert!(app.world().resource::<FeedEntities>().get("far").is_none());
}

/// A short soak of the district city: the broker restarted and the HTTP source
/// failing every two seconds, every published work order and alarm applied once.
#[test]
fn a_short_soak_under_faults_applies_every_order_and_alarm_once() {
    let out = temp_dir("soak-short");
    let opts = citytwin::soak::SoakOptions {
        hours: 0.25,
        speed: 120.0,
        out: out.clone(),
        scale: citytwin::generate::city::Scale::District,
        restart_every: Duration::from_secs(2),
        retire_after_h: 6.0,
    };
    let r = citytwin::soak::run(&opts, |_| {}).expect("the soak runs");
    assert!(r.broker_restarts >= 1, "{r:?}");
    for (what, c) in [("orders", r.orders), ("alarms", r.alarms)] {
        assert!(c.published > 0, "{what}: {c:?}");
        assert_eq!(c.applied, c.published, "{what}: every one applied once");
        assert!(c.received >= c.published, "{what}: {c:?}");
    }
    assert!(
        r.faults.iter().all(|f| !f.contains("PANICKED")),
        "{:?}",
        r.faults
    );
    assert!(out.join("soak.csv").exists() && out.join("soak.png").exists());
    let csv = std::fs::read_to_string(out.join("soak.csv")).unwrap();
    assert!(csv.lines().count() > 10, "a sample a twin minute: {csv}");
}
