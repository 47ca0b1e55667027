//! Operations on a stepped twin clock: alert rules with `for` and `keep_firing_for`,
//! dedup, silences, work-order deadlines on a working-day calendar, camera queries
//! against brute force, video linkage, the clock refusing far-future messages, and
//! `report` giving the same state at any replay speed.

use crate::common::*;
use bevy::app::App;
use bevy::prelude::*;
use chrono::{DateTime, FixedOffset, TimeDelta};
use citytwin::feeds::schema::FeedMessage;
use citytwin::feeds::{FeedChannel, FeedEvent};
use citytwin::ops::TwinClock;
use citytwin::ops::alerts::{Action, AlertState, Alerts, OperatorAction};
use citytwin::ops::orders::{OrderBook, WorkCalendar};
use citytwin::scene::ops::{CalendarSpec, Severity};
use citytwin::spatial::cameras::{CameraIndex, CameraView, OnlineAt};
use proptest::prelude::*;

const T0: &str = "2026-11-23T09:00:00+08:00";

fn t0() -> DateTime<FixedOffset> {
    DateTime::parse_from_rfc3339(T0).expect("constant time")
}

fn at(seconds: i64) -> String {
    (t0() + TimeDelta::seconds(seconds)).to_rfc3339()
}

/// A headless app on a scene with these `operations` and no feed: the test pushes
/// messages and steps the clock.
fn ops_app(name: &str, operations: &str) -> App {
    let scene = write(
        &temp_dir(name),
        "scene.ron",
        &format!(
            r#"(name: "ops", origin: (lon: 113.665, lat: 34.754), operations: ({operations}))"#
        ),
    );
    let mut app = headless(load_scene(&scene));
    app.update();
    app
}

fn send(app: &App, ts: &str, kind: &str, data: &str) {
    push_message(app, ts, kind, data);
}

fn gas(app: &App, seconds: i64, lel: f64) {
    send(
        app,
        &at(seconds),
        "device",
        &format!(
            r#"{{"id":"gas-1","kind":"gas_detector","status":"online","position":{{"lon":113.666,"lat":34.755}},"readings":[{{"name":"ch4_lel","value":{lel},"unit":"%LEL"}}]}}"#
        ),
    );
}

fn step_to(app: &mut App, seconds: i64) {
    app.world_mut()
        .resource_mut::<TwinClock>()
        .step_to(t0() + TimeDelta::seconds(seconds));
    app.update();
}

fn alerts(app: &App) -> Vec<(String, AlertState)> {
    app.world()
        .resource::<Alerts>()
        .list
        .iter()
        .map(|a| (a.rule.clone(), a.state))
        .collect()
}

const GAS_RULE: &str = r#"rules: [(name: "ch4", kind: Some(gas_detector), when: Above(reading: "ch4_lel", value: 20.0), severity: critical, for_s: 60.0, keep_firing_for_s: 300.0)]"#;

#[test]
fn a_threshold_fires_at_its_value_and_not_below() {
    let mut app = ops_app(
        "ops-threshold",
        r#"rules: [(name: "ch4", kind: Some(gas_detector), when: Above(reading: "ch4_lel", value: 20.0), severity: critical)]"#,
    );
    gas(&app, 0, 19.99);
    step_to(&mut app, 1);
    assert!(
        alerts(&app).is_empty(),
        "below the threshold: {:?}",
        alerts(&app)
    );
    gas(&app, 2, 20.0);
    step_to(&mut app, 3);
    assert_eq!(alerts(&app), vec![("ch4".to_string(), AlertState::Firing)]);
    let a = &app.world().resource::<Alerts>().list[0];
    assert_eq!(a.fired_at, Some(t0() + TimeDelta::seconds(2)));
    assert_eq!(a.value, Some(20.0));
}

#[test]
fn for_and_keep_firing_for_turn_a_flapping_reading_into_one_alert() {
    let mut app = ops_app("ops-flapping", GAS_RULE);
    // High for 30 s, then low: never fired, no trace.
    gas(&app, 0, 35.0);
    gas(&app, 30, 5.0);
    step_to(&mut app, 90);
    assert!(alerts(&app).is_empty(), "{:?}", alerts(&app));
    // High from 100 s: pending, firing exactly 60 s later.
    gas(&app, 100, 35.0);
    step_to(&mut app, 159);
    assert_eq!(alerts(&app), vec![("ch4".to_string(), AlertState::Pending)]);
    step_to(&mut app, 400);
    assert_eq!(alerts(&app), vec![("ch4".to_string(), AlertState::Firing)]);
    let fired = app.world().resource::<Alerts>().list[0].fired_at;
    assert_eq!(fired, Some(t0() + TimeDelta::seconds(160)));
    // Flapping every 20 s for ten minutes: still one alert.
    for k in 0..30 {
        gas(&app, 410 + 20 * k, if k % 2 == 0 { 3.0 } else { 40.0 });
    }
    step_to(&mut app, 1000);
    assert_eq!(alerts(&app), vec![("ch4".to_string(), AlertState::Firing)]);
    // Low from 1,030 s (the last report at 990 s was high): resolved at 1,330 s.
    gas(&app, 1030, 2.0);
    step_to(&mut app, 1329);
    assert_eq!(alerts(&app), vec![("ch4".to_string(), AlertState::Firing)]);
    step_to(&mut app, 1400);
    assert_eq!(
        alerts(&app),
        vec![("ch4".to_string(), AlertState::Resolved)]
    );
    let a = &app.world().resource::<Alerts>().list[0];
    assert_eq!(
        a.resolved.as_ref().map(|r| r.at),
        Some(t0() + TimeDelta::seconds(1330))
    );
    assert_eq!(app.world().resource::<Alerts>().fired_total, 1);
}

#[test]
fn a_hundred_alarm_reports_of_one_device_are_one_alert() {
    let mut app = ops_app("ops-dedup", "");
    for k in 0..100 {
        send(
            &app,
            &at(k),
            "device",
            r#"{"id":"lift-7","kind":"elevator","status":"alarm","position":{"lon":113.666,"lat":34.755}}"#,
        );
    }
    step_to(&mut app, 200);
    let list = &app.world().resource::<Alerts>().list;
    assert_eq!(list.len(), 1, "{list:?}");
    assert_eq!(list[0].rule, "device-alarm");
    assert_eq!(list[0].reports, 100);
    assert_eq!(list[0].severity, Severity::Critical);
}

/// A manhole cover in alarm at 0 s; the id of the alert it raised.
fn manhole_alarm(app: &mut App, id: &str) -> String {
    send(
        app,
        &at(0),
        "device",
        &format!(
            r#"{{"id":"{id}","kind":"manhole_cover","status":"alarm","position":{{"lon":113.666,"lat":34.755}}}}"#
        ),
    );
    step_to(app, 1);
    app.world().resource::<Alerts>().list[0].id.clone()
}

#[test]
fn acknowledge_and_a_silence_that_expires() {
    let mut app = ops_app("ops-silence", "");
    let id = manhole_alarm(&mut app, "mh-1");
    let open = |app: &App| {
        let now = app.world().resource::<TwinClock>().now();
        app.world()
            .resource::<Alerts>()
            .open_by_severity(now)
            .get(&Severity::Critical)
            .copied()
            .unwrap_or(0)
    };
    assert_eq!(open(&app), 1);
    let act = |app: &mut App, action: Action| {
        app.world_mut().write_message(OperatorAction {
            operator: "值班员 张".into(),
            action,
        });
        app.update();
    };
    act(&mut app, Action::Acknowledge { alert: id.clone() });
    let a = app.world().resource::<Alerts>().list[0].clone();
    assert_eq!(a.state, AlertState::Acknowledged);
    assert_eq!(a.acknowledged.map(|s| s.by), Some("值班员 张".to_string()));
    act(
        &mut app,
        Action::Silence {
            device: Some("mh-1".into()),
            rule: None,
            district: None,
            minutes: 10.0,
            why: "维修中".into(),
        },
    );
    assert_eq!(open(&app), 0, "silenced");
    step_to(&mut app, 1 + 10 * 60 + 1);
    assert_eq!(open(&app), 1, "the silence expired");
    act(&mut app, Action::Resolve { alert: id });
    assert_eq!(open(&app), 0);
    assert_eq!(alerts(&app)[0].1, AlertState::Resolved);
}

#[test]
fn an_online_device_whose_readings_never_change_raises_one_inactivity_alert() {
    let mut app = ops_app(
        "ops-inactive",
        r#"rules: [(name: "still", kind: Some(other), when: Inactive(hours: 12.0), severity: major)]"#,
    );
    let door = |app: &App, s: i64, v: f64| {
        send(
            app,
            &at(s),
            "device",
            &format!(
                r#"{{"id":"door-3","kind":"other","status":"online","position":{{"lon":113.666,"lat":34.755}},"readings":[{{"name":"opened","value":{v},"unit":""}}]}}"#
            ),
        );
    };
    door(&app, 0, 1.0);
    door(&app, 3600, 0.0);
    // The same reading every hour for a day: it changed last at 1 h, so the alert
    // fires at 13 h, once.
    for h in 2..24 {
        door(&app, h * 3600, 0.0);
    }
    step_to(&mut app, 24 * 3600);
    let list = app.world().resource::<Alerts>().list.clone();
    assert_eq!(list.len(), 1, "{list:?}");
    assert_eq!(list[0].fired_at, Some(t0() + TimeDelta::hours(13)));
    door(&app, 25 * 3600, 1.0);
    step_to(&mut app, 25 * 3600 + 1);
    assert_eq!(alerts(&app)[0].1, AlertState::Resolved, "the door opened");
}

#[test]
fn a_silent_device_raises_a_missed_heartbeat_alert_at_the_due_time() {
    let mut app = ops_app("ops-heartbeat", "");
    send(
        &app,
        &at(0),
        "device",
        r#"{"id":"wp-1","kind":"water_pressure","status":"online","heartbeat_s":300,"position":{"lon":113.666,"lat":34.755}}"#,
    );
    step_to(&mut app, 899);
    assert!(alerts(&app).is_empty());
    step_to(&mut app, 3600);
    let list = app.world().resource::<Alerts>().list.clone();
    assert_eq!(list.len(), 1);
    assert_eq!(list[0].rule, "missed-heartbeat");
    assert_eq!(list[0].fired_at, Some(t0() + TimeDelta::seconds(900)));
}

/// Two devices promising a report a minute (offline after three minutes of silence);
/// one is silent from 09:00 to 09:05. Stepped a minute at a time, or in one frame that
/// holds the whole silence, as a fast replay brings it.
fn silence_scenario(name: &str, one_frame: bool) -> App {
    let mut app = ops_app(name, "");
    let report = |app: &App, s: i64, id: &str| {
        send(
            app,
            &at(s),
            "device",
            &format!(
                r#"{{"id":"{id}","kind":"water_pressure","status":"online","heartbeat_s":60,"position":{{"lon":113.666,"lat":34.755}}}}"#
            ),
        );
    };
    for s in (0..=360).step_by(60) {
        report(&app, s, "wp-steady");
        if s == 0 || s == 300 {
            report(&app, s, "wp-silent");
        }
        if !one_frame {
            step_to(&mut app, s);
        }
    }
    step_to(&mut app, 360);
    app
}

#[test]
fn a_silence_inside_one_frame_takes_the_device_offline_as_stepping_through_it_does() {
    use citytwin::feeds::ingest::FeedEntities;
    use citytwin::ops::history::KpiHistory;
    let summary = |app: &App| {
        let world = app.world();
        let history = world.resource::<KpiHistory>();
        let online: Vec<f32> = (0..6)
            .map(|m| {
                history
                    .city_at(t0() + TimeDelta::seconds(m * 60))
                    .expect("sampled")
                    .online_rate
            })
            .collect();
        let alerts: Vec<_> = world
            .resource::<Alerts>()
            .list
            .iter()
            .map(|a| {
                let resolved = a.resolved.as_ref().map(|r| r.at);
                (a.rule.clone(), a.device.clone(), a.fired_at, resolved)
            })
            .collect();
        let missed = world.resource::<FeedEntities>().missed_heartbeats;
        (online, alerts, missed)
    };
    let stepped = summary(&silence_scenario("ops-silence-stepped", false));
    let (online, alerts, missed) = &stepped;
    // Offline from 09:03 (three heartbeats after 09:00) until its report at 09:05.
    assert_eq!(online, &[1.0, 1.0, 1.0, 0.5, 0.5, 1.0]);
    assert_eq!(*missed, 1);
    assert_eq!(alerts.len(), 1, "{alerts:?}");
    assert_eq!(alerts[0].0, "missed-heartbeat");
    assert_eq!(alerts[0].2, Some(t0() + TimeDelta::seconds(180)));
    assert_eq!(alerts[0].3, Some(t0() + TimeDelta::seconds(300)));
    assert_eq!(
        summary(&silence_scenario("ops-silence-one-frame", true)),
        stepped
    );
}

#[test]
fn an_unsigned_order_turns_overdue_after_five_minutes() {
    let mut app = ops_app("ops-sign", "");
    send(
        &app,
        &at(0),
        "work_order",
        r#"{"id":"wo-1","source":"hotline12345","category":"heating","text":"暖气不热","status":"reported"}"#,
    );
    send(
        &app,
        &at(0),
        "work_order",
        r#"{"id":"wo-2","source":"hotline12345","category":"heating","text":"暖气不热","status":"reported"}"#,
    );
    send(
        &app,
        &at(120),
        "work_order",
        r#"{"id":"wo-2","source":"hotline12345","category":"heating","text":"暖气不热","status":"signed"}"#,
    );
    step_to(&mut app, 299);
    let book = app.world().resource::<OrderBook>();
    assert_eq!(book.unsigned_overdue(t0() + TimeDelta::seconds(299)), 0);
    assert!(!book.orders["wo-1"].signed_late);
    step_to(&mut app, 301);
    let book = app.world().resource::<OrderBook>();
    assert!(book.orders["wo-1"].signed_late, "unsigned after 5 minutes");
    assert!(!book.orders["wo-2"].signed_late, "signed after 2 minutes");
    assert_eq!(book.unsigned_overdue(t0() + TimeDelta::seconds(301)), 1);
    assert_eq!(book.totals.sign_seconds, 120.0);
}

/// An order already under way when it first arrives (`reported_at`): its deadlines
/// run from its report, it is not one of today's orders nor counted in today's minutes,
/// and its signing, done before it arrived, stays out of the mean; one still waiting
/// to be signed is overdue at once and counts when signed.
#[test]
fn an_order_carried_from_yesterday_keeps_its_report_time() {
    let mut app = ops_app("ops-carried", "");
    let yesterday = (t0() - TimeDelta::hours(20)).to_rfc3339();
    send(
        &app,
        &at(0),
        "work_order",
        &format!(
            r#"{{"id":"wo-old","source":"hotline12345","category":"heating","text":"暖气不热","status":"dispatched","urgency":"immediate","reported_at":"{yesterday}"}}"#
        ),
    );
    send(
        &app,
        &at(0),
        "work_order",
        &format!(
            r#"{{"id":"wo-waiting","source":"hotline12345","category":"traffic","text":"井盖松动","status":"reported","reported_at":"{yesterday}"}}"#
        ),
    );
    send(
        &app,
        &at(10),
        "work_order",
        r#"{"id":"wo-new","source":"hotline12345","category":"traffic","text":"井盖松动","status":"reported"}"#,
    );
    send(
        &app,
        &at(70),
        "work_order",
        r#"{"id":"wo-new","source":"hotline12345","category":"traffic","text":"井盖松动","status":"signed"}"#,
    );
    send(
        &app,
        &at(130),
        "work_order",
        r#"{"id":"wo-waiting","source":"hotline12345","category":"traffic","text":"井盖松动","status":"signed"}"#,
    );
    step_to(&mut app, 200);
    let book = app.world().resource::<OrderBook>();
    let old = &book.orders["wo-old"];
    assert!(old.carried);
    assert_eq!(old.reported_at, t0() - TimeDelta::hours(20));
    assert!(
        old.overdue,
        "immediate: due two hours after its report, long past"
    );
    assert!(!old.signed_late, "when it was signed is not known");
    assert!(
        book.orders["wo-waiting"].signed_late,
        "unsigned for 20 hours"
    );
    // The mean: wo-new's 60 s and wo-waiting's 20 h, not wo-old's.
    assert_eq!(book.totals.signed, 2);
    assert_eq!(book.totals.sign_seconds, 60.0 + 20.0 * 3600.0 + 130.0);
    let k = citytwin::ops::report::snapshot(app.world_mut()).kpis;
    assert_eq!(k.orders_today, 1, "only wo-new was reported today");
    assert_eq!(k.orders_open, 3);
    let history = app.world().resource::<citytwin::ops::history::KpiHistory>();
    let reported: u32 = history
        .city
        .samples()
        .iter()
        .map(|(_, m)| m.orders_reported)
        .sum();
    assert_eq!(reported, 1, "carried orders are not counted as reported");
}

#[test]
fn an_order_moving_backwards_is_refused_and_counted() {
    use citytwin::feeds::ingest::FeedStats;
    let mut app = ops_app("ops-backwards", "");
    let order = |s: &str| {
        format!(
            r#"{{"id":"wo-9","source":"grid_patrol","category":"traffic","text":"井盖松动","status":"{s}"}}"#
        )
    };
    send(&app, &at(0), "work_order", &order("dispatched"));
    send(&app, &at(1), "work_order", &order("signed"));
    step_to(&mut app, 2);
    let stats = app.world().resource::<FeedStats>();
    assert_eq!(
        stats.sources[0].rejected.get("backwards transition"),
        Some(&1)
    );
    let book = app.world().resource::<OrderBook>();
    assert_eq!(
        book.orders["wo-9"].status,
        citytwin::feeds::schema::OrderStatus::Dispatched
    );
}

#[test]
fn a_message_delivered_twice_is_counted_as_a_duplicate_not_applied_twice() {
    use citytwin::feeds::ingest::FeedStats;
    let mut app = ops_app("ops-duplicate", "");
    let order = |s: &str| {
        format!(
            r#"{{"id":"wo-3","source":"hotline12345","category":"traffic","text":"信号灯故障","status":"{s}"}}"#
        )
    };
    let lift = |status: &str, load: f64| {
        format!(
            r#"{{"id":"lift-3","kind":"elevator","status":"{status}","position":{{"lon":113.666,"lat":34.755}},"readings":[{{"name":"load_kg","value":{load},"unit":"kg"}}]}}"#
        )
    };
    // A QoS 1 redelivery: the same messages again, after a reconnection (the source
    // goes live again, which resets its ordering times; the broker hands on what it
    // had not seen acknowledged).
    for _ in 0..2 {
        app.world()
            .resource::<FeedChannel>()
            .sender
            .send(FeedEvent::State {
                source: 0,
                state: citytwin::feeds::SourceState::Live,
            })
            .expect("channel open");
        send(&app, &at(0), "work_order", &order("reported"));
        send(&app, &at(0), "device", &lift("alarm", 300.0));
        step_to(&mut app, 1);
    }
    // Not duplicates: another status or other readings at the same time.
    send(&app, &at(0), "work_order", &order("signed"));
    send(&app, &at(0), "device", &lift("alarm", 320.0));
    step_to(&mut app, 2);
    let s = &app.world().resource::<FeedStats>().sources[0];
    assert_eq!(s.rejected.get("duplicate"), Some(&2), "{:?}", s.rejected);
    assert_eq!(s.applied, 4);
    let book = app.world().resource::<OrderBook>();
    assert_eq!(book.totals.reported, 1);
    assert_eq!(
        book.orders["wo-3"].status,
        citytwin::feeds::schema::OrderStatus::Signed
    );
    assert_eq!(app.world().resource::<Alerts>().list[0].reports, 2);
}

#[test]
fn working_days_skip_weekends_and_holidays_and_count_make_up_days() {
    let friday: DateTime<FixedOffset> =
        DateTime::parse_from_rfc3339("2026-11-27T10:00:00+08:00").expect("time");
    let plain = WorkCalendar::new(&CalendarSpec::default());
    assert_eq!(
        plain.add_working_days(friday, 3).to_rfc3339(),
        "2026-12-02T10:00:00+08:00",
        "Fri + 3 working days = Wed"
    );
    let date = |s: &str| s.parse().expect("date");
    let holiday = WorkCalendar::new(&CalendarSpec {
        holidays: vec![date("2026-11-30")],
        workdays: vec![],
    });
    assert_eq!(
        holiday.add_working_days(friday, 3).to_rfc3339(),
        "2026-12-03T10:00:00+08:00"
    );
    let make_up = WorkCalendar::new(&CalendarSpec {
        holidays: vec![],
        workdays: vec![date("2026-11-28")],
    });
    assert_eq!(
        make_up.add_working_days(friday, 3).to_rfc3339(),
        "2026-12-01T10:00:00+08:00",
        "the make-up Saturday counts"
    );
}

#[test]
fn an_urgent_order_goes_overdue_after_three_working_days_across_a_weekend() {
    let mut app = ops_app("ops-resolve", "");
    let friday = "2026-11-27T10:00:00+08:00";
    send(
        &app,
        friday,
        "work_order",
        r#"{"id":"wo-u","source":"hotline12345","category":"public_facilities","text":"路灯不亮","status":"reported","urgency":"urgent"}"#,
    );
    app.update();
    let deadline = app.world().resource::<OrderBook>().orders["wo-u"].resolve_deadline;
    assert_eq!(deadline.to_rfc3339(), "2026-12-02T10:00:00+08:00");
    let step = |app: &mut App, s: &str| {
        app.world_mut()
            .resource_mut::<TwinClock>()
            .step_to(DateTime::parse_from_rfc3339(s).expect("time"));
        app.update();
    };
    step(&mut app, "2026-12-02T09:59:00+08:00");
    assert!(!app.world().resource::<OrderBook>().orders["wo-u"].overdue);
    step(&mut app, "2026-12-02T10:00:00+08:00");
    let o = app.world().resource::<OrderBook>().orders["wo-u"].clone();
    assert!(o.overdue);
    assert_eq!(o.escalation, citytwin::ops::orders::Escalation::Reminder);
    // Three more working days: a formal notice.
    step(&mut app, "2026-12-07T10:00:00+08:00");
    let o = app.world().resource::<OrderBook>().orders["wo-u"].clone();
    assert_eq!(
        o.escalation,
        citytwin::ops::orders::Escalation::FormalNotice
    );
}

#[test]
fn a_message_dated_years_ahead_does_not_move_the_clock() {
    use citytwin::feeds::ingest::FeedStats;
    let mut app = ops_app("ops-future", "");
    gas(&app, 0, 1.0);
    step_to(&mut app, 0);
    send(
        &app,
        "2031-01-01T00:00:00+08:00",
        "device",
        r#"{"id":"gas-1","kind":"gas_detector","status":"alarm"}"#,
    );
    gas(&app, 10, 1.0);
    app.update();
    let now = app.world().resource::<TwinClock>().now();
    assert_eq!(now, t0() + TimeDelta::seconds(10));
    let stats = app.world().resource::<FeedStats>();
    assert_eq!(stats.sources[0].rejected.get("future time"), Some(&1));
    assert!(alerts(&app).is_empty(), "the refused alarm raised nothing");
}

fn camera(app: &App, id: &str, lon: f64, lat: f64, heading: Option<f64>, status: &str) {
    camera_at(app, 0, id, lon, lat, heading, status);
}

fn camera_at(
    app: &App,
    seconds: i64,
    id: &str,
    lon: f64,
    lat: f64,
    heading: Option<f64>,
    status: &str,
) {
    let heading = heading.map_or(String::new(), |h| {
        format!(r#","heading_deg":{h},"fov_deg":60.0"#)
    });
    send(
        app,
        &at(seconds),
        "camera",
        &format!(
            r#"{{"id":"{id}","status":"{status}","position":{{"lon":{lon},"lat":{lat}}}{heading}}}"#
        ),
    );
}

#[test]
fn a_critical_alert_links_the_cameras_that_see_it_and_relinks_when_one_goes_offline() {
    let mut app = ops_app("ops-linkage", "linkage: (cameras: 2)");
    // The alarm at (113.6660, 34.7550). Cameras ~50 m west facing east (sees it),
    // ~30 m east facing east (looks away), ~80 m south facing north (sees it),
    // ~60 m north, a dome.
    camera(&app, "cam-w", 113.66545, 34.7550, Some(90.0), "online");
    camera(&app, "cam-e", 113.66633, 34.7550, Some(90.0), "online");
    camera(&app, "cam-s", 113.6660, 34.75428, Some(0.0), "online");
    camera(&app, "cam-n", 113.6660, 34.75554, None, "online");
    app.update();
    send(
        &app,
        &at(5),
        "device",
        r#"{"id":"gas-9","kind":"gas_detector","status":"alarm","position":{"lon":113.6660,"lat":34.7550}}"#,
    );
    app.update();
    app.update();
    let cams = app.world().resource::<Alerts>().list[0].cameras.clone();
    assert_eq!(
        cams,
        ["cam-w", "cam-n"],
        "nearest that can see it, dome included"
    );
    send(
        &app,
        &at(6),
        "camera",
        r#"{"id":"cam-w","status":"offline"}"#,
    );
    app.update();
    app.update();
    let cams = app.world().resource::<Alerts>().list[0].cameras.clone();
    assert_eq!(
        cams,
        ["cam-n", "cam-s"],
        "relinked without the offline camera"
    );
}

/// A critical alert at 5 s with cameras changing around it: `cam-s` (sees it) is
/// offline until 3 s, `cam-w` (sees it) goes offline at 8 s, `cam-x` (sees it,
/// nearer) comes online at 9 s. Stepped per message or all in one frame.
fn linkage_scenario(name: &str, one_frame: bool) -> Vec<String> {
    let mut app = ops_app(name, "linkage: (cameras: 2)");
    camera(&app, "cam-w", 113.66545, 34.7550, Some(90.0), "online");
    camera(&app, "cam-s", 113.6660, 34.75428, Some(0.0), "offline");
    camera(&app, "cam-n", 113.6660, 34.75554, None, "online");
    app.update();
    let step = |app: &mut App| {
        if !one_frame {
            app.update();
        }
    };
    send(
        &app,
        &at(3),
        "camera",
        r#"{"id":"cam-s","status":"online"}"#,
    );
    step(&mut app);
    send(
        &app,
        &at(5),
        "device",
        r#"{"id":"gas-9","kind":"gas_detector","status":"alarm","position":{"lon":113.6660,"lat":34.7550}}"#,
    );
    step(&mut app);
    let first = app
        .world()
        .resource::<Alerts>()
        .list
        .first()
        .map(|a| a.cameras.clone());
    if !one_frame {
        assert_eq!(
            first.as_deref(),
            Some(&["cam-w".into(), "cam-n".into()][..]),
            "the two nearest that see it at 5 s (cam-n a dome)"
        );
    }
    send(
        &app,
        &at(8),
        "camera",
        r#"{"id":"cam-w","status":"offline"}"#,
    );
    step(&mut app);
    camera_at(&app, 9, "cam-x", 113.66570, 34.7550, Some(90.0), "online");
    app.update();
    app.update();
    let alerts = app.world().resource::<Alerts>();
    alerts.list[0]
        .cameras
        .iter()
        .map(|c| c.to_string())
        .collect()
}

#[test]
fn linkage_is_the_same_when_one_frame_holds_every_change() {
    let stepped = linkage_scenario("ops-linkage-stepped", false);
    // Relinked at 8 s without cam-w: cam-n (a dome, 60 m) and cam-s (80 m) see it;
    // cam-x, nearer, came online after and is not taken.
    assert_eq!(stepped, ["cam-n", "cam-s"]);
    assert_eq!(linkage_scenario("ops-linkage-one-frame", true), stepped);
}

fn view(at: [f64; 2], heading: Option<f64>, fov: f64, range: f64, online: bool) -> CameraView {
    CameraView {
        at,
        heading_deg: heading,
        fov_deg: fov,
        range_m: range,
        online,
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(24))]
    #[test]
    fn camera_queries_equal_brute_force(
        cams in prop::collection::vec(
            ((-2000.0f64..2000.0, -2000.0f64..2000.0), prop::option::of(0.0f64..360.0), 20.0f64..120.0, 50.0f64..400.0, prop::bool::weighted(0.8)),
            1..300,
        ),
        flipped in prop::collection::vec(prop::bool::weighted(0.1), 300),
        points in prop::collection::vec((-2000.0f64..2000.0, -2000.0f64..2000.0), 1..20),
        k in 1usize..8,
        radius in 50.0f64..800.0,
    ) {
        let mut world = World::new();
        let mut index = CameraIndex::default();
        // Some cameras were in the other state earlier in the frame.
        let mut earlier = OnlineAt::default();
        for (i, ((x, y), heading, fov, range, online)) in cams.iter().enumerate() {
            let e = world.spawn_empty().id();
            index.upsert(e, view([*x, *y], *heading, *fov, *range, *online));
            if flipped[i] {
                earlier.0.insert(e, !*online);
            }
        }
        for (x, y) in points {
            let p = [x, y];
            prop_assert_eq!(index.linked(p, k, radius), index.linked_brute_force(p, k, radius, &OnlineAt::default()));
            prop_assert_eq!(index.linked_at(p, k, radius, &earlier), index.linked_brute_force(p, k, radius, &earlier));
            let nearest = index.nearest(p, k, radius);
            prop_assert!(nearest.windows(2).all(|w| w[0].1 <= w[1].1));
            let seeing = index.seeing(p, k, radius);
            prop_assert!(seeing.iter().all(|(e, _)| index.get(*e).is_some_and(|v| v.sees(p) && v.online)));
        }
    }
}

#[test]
fn a_camera_sees_within_its_field_of_view_and_range() {
    let east = view([0.0, 0.0], Some(90.0), 60.0, 100.0, true);
    assert!(east.sees([50.0, 0.0]));
    assert!(east.sees([50.0, 28.0]), "29° off the heading");
    assert!(!east.sees([50.0, 30.0]), "31° off");
    assert!(!east.sees([-50.0, 0.0]), "behind");
    assert!(!east.sees([101.0, 0.0]), "out of range");
    let north = view([0.0, 0.0], Some(350.0), 40.0, 100.0, true);
    assert!(north.sees([5.0, 90.0]), "across north");
    let dome = view([0.0, 0.0], None, 60.0, 100.0, true);
    assert!(dome.sees([-70.0, -70.0]));
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(16))]
    #[test]
    fn grid_lookup_equals_brute_force_point_in_polygon(
        cells in prop::collection::vec((0.0f64..1000.0, 0.0f64..1000.0, 10.0f64..300.0, 10.0f64..300.0), 1..60),
        points in prop::collection::vec((0.0f64..1300.0, 0.0f64..1300.0), 1..50),
    ) {
        use citytwin::city::{AreaName, AreaSet};
        use citytwin::geo::LocalPoint;
        use citytwin::spatial::areas::AreaLookup;
        let shapes: Vec<geo::MultiPolygon<f64>> = cells
            .iter()
            .map(|(x, y, w, h)| {
                geo::MultiPolygon(vec![geo::Rect::new(
                    geo::coord! { x: *x, y: *y },
                    geo::coord! { x: x + w, y: y + h },
                ).to_polygon()])
            })
            .collect();
        let set = AreaSet {
            names: (0..shapes.len()).map(|i| AreaName { id: format!("g{i}"), name: None }).collect(),
            shapes: std::sync::Arc::new(shapes),
        };
        let lookup = AreaLookup::build(&set);
        for (x, y) in points {
            let p = LocalPoint::new(x, y);
            prop_assert_eq!(lookup.locate(p), lookup.locate_brute_force(p));
        }
    }
}

/// A short recording: cameras, a gas detector flapping around its threshold, an
/// elevator alarm, work orders signed late and on time, spread over 3 s.
fn fixture() -> String {
    let mut lines = Vec::new();
    let ms = |n: i64| {
        (t0() + TimeDelta::milliseconds(n)).to_rfc3339_opts(chrono::SecondsFormat::Millis, false)
    };
    let mut push = |n: i64, kind: &str, data: String| {
        lines.push((
            n,
            format!(
                r#"{{"v":1,"ts":"{}","kind":"{kind}","data":{data}}}"#,
                ms(n)
            ),
        ));
    };
    for c in 0..6 {
        push(
            0,
            "camera",
            format!(
                r#"{{"id":"cam-{c}","status":"online","position":{{"lon":{},"lat":34.7550}},"heading_deg":{}}}"#,
                113.6650 + 0.0004 * c as f64,
                (90 * c) % 360
            ),
        );
    }
    for k in 0..30i64 {
        let lel = if (k / 3) % 2 == 0 {
            25.0 + k as f64
        } else {
            4.0
        };
        push(
            100 * k,
            "device",
            format!(
                r#"{{"id":"gas-f","kind":"gas_detector","status":"online","position":{{"lon":113.6660,"lat":34.7551}},"readings":[{{"name":"ch4_lel","value":{lel},"unit":"%LEL"}}]}}"#
            ),
        );
    }
    push(500, "device", r#"{"id":"lift-f","kind":"elevator","status":"alarm","position":{"lon":113.6655,"lat":34.7549}}"#.into());
    push(
        2500,
        "device",
        r#"{"id":"lift-f","kind":"elevator","status":"online"}"#.into(),
    );
    for o in 0..4 {
        push(
            200 * o,
            "work_order",
            format!(
                r#"{{"id":"wo-{o}","source":"hotline12345","category":"traffic","text":"信号灯故障","status":"reported","position":{{"lon":113.6660,"lat":34.7550}},"sign_deadline":"{}"}}"#,
                ms(1000)
            ),
        );
    }
    push(800, "work_order", r#"{"id":"wo-0","source":"hotline12345","category":"traffic","text":"信号灯故障","status":"signed"}"#.into());
    push(1500, "work_order", r#"{"id":"wo-1","source":"hotline12345","category":"traffic","text":"信号灯故障","status":"signed"}"#.into());
    push(2900, "work_order", r#"{"id":"wo-0","source":"hotline12345","category":"traffic","text":"信号灯故障","status":"closed","satisfaction":5}"#.into());
    // A recording is in time order (a stable sort keeps each time's order).
    lines.sort_by_key(|l| l.0);
    lines.into_iter().map(|l| l.1 + "\n").collect()
}

#[test]
fn the_same_recording_gives_the_same_report_at_1x_1000x_and_max() {
    let dir = temp_dir("ops-report-speeds");
    write(&dir, "feed.ndjson", &fixture());
    let scene = write(
        &dir,
        "scene.ron",
        r#"(name: "speeds", origin: (lon: 113.665, lat: 34.754), operations: (rules: [(name: "ch4", kind: Some(gas_detector), when: Above(reading: "ch4_lel", value: 20.0), severity: critical, for_s: 0.25, keep_firing_for_s: 0.35)]))"#,
    );
    let until = t0() + TimeDelta::milliseconds(2700);
    let reports: Vec<serde_json::Value> = ["@1", "@1000", "@max"]
        .iter()
        .map(|speed| {
            let mut options =
                citytwin::TwinOptions::from_scene(load_scene(&scene)).expect("scene feeds");
            let spec = format!("replay:feed.ndjson{speed}");
            options.feeds = vec![(
                spec.clone(),
                citytwin::feeds::FeedSpec::parse(&spec, &dir).expect("spec"),
            )];
            let report =
                citytwin::ops::report::run(&options, until, std::time::Duration::from_secs(120))
                    .unwrap_or_else(|e| panic!("{speed}: {e}"));
            let mut v = serde_json::to_value(&report).expect("report serialises");
            // The label names the speed; everything else must match.
            v["feeds"][0]["label"] = serde_json::Value::Null;
            v
        })
        .collect();
    let alerts = reports[0]["alerts"].as_array().expect("alerts");
    assert_eq!(alerts.len(), 2, "gas and elevator: {alerts:?}");
    assert_eq!(
        reports[0]["kpis"]["orders_unsigned_overdue"], 2,
        "wo-2 and wo-3 unsigned at 1 s"
    );
    assert_eq!(
        reports[0]["feeds"][0]["rejected"],
        serde_json::json!({}),
        "every line accepted"
    );
    assert_eq!(reports[0], reports[1], "1× and 1000×");
    assert_eq!(reports[0], reports[2], "1× and max");
}

#[test]
fn a_mode_switch_changes_the_thresholds_in_force() {
    use citytwin::feeds::schema::OperatingMode;
    use citytwin::ops::modes::OperatingState;
    let mut app = ops_app(
        "ops-modes",
        r#"rules: [(name: "ch4", kind: gas_detector, when: Above(reading: "ch4_lel", value: 20.0), severity: critical)],
           modes: [(mode: major_event, wall_min_severity: major, tour: ["venue"],
                    rules: [(name: "ch4", kind: gas_detector, when: Above(reading: "ch4_lel", value: 10.0), severity: critical)])]"#,
    );
    gas(&app, 0, 15.0);
    step_to(&mut app, 1);
    assert!(
        alerts(&app).is_empty(),
        "15 %LEL is below the daily threshold"
    );
    // The report at 20 s is sent first, the switch at 10 s after it: time order wins.
    gas(&app, 20, 15.0);
    send(
        &app,
        &at(10),
        "mode",
        r#"{"mode":"major_event","by":"指挥中心","reason":"国际马拉松"}"#,
    );
    step_to(&mut app, 21);
    let state = app.world().resource::<OperatingState>().clone();
    assert_eq!(state.mode, OperatingMode::MajorEvent);
    assert_eq!(state.history.len(), 1);
    assert_eq!(state.history[0].at, t0() + TimeDelta::seconds(10));
    assert!(state.history[0].by.starts_with("指挥中心"));
    assert_eq!(state.wall_min_severity(), Severity::Major);
    assert_eq!(state.tour(), ["venue"]);
    assert_eq!(alerts(&app), vec![("ch4".to_string(), AlertState::Firing)]);
    let fired = app.world().resource::<Alerts>().list[0].fired_at;
    assert_eq!(fired, Some(t0() + TimeDelta::seconds(20)));

    // An operator switches back; 15 %LEL no longer holds.
    app.world_mut().write_message(OperatorAction {
        operator: "值班长 李".into(),
        action: Action::SwitchMode {
            mode: OperatingMode::Daily,
            why: "活动结束".into(),
        },
    });
    step_to(&mut app, 30);
    gas(&app, 40, 15.0);
    step_to(&mut app, 41);
    let state = app.world().resource::<OperatingState>().clone();
    assert_eq!(state.mode, OperatingMode::Daily);
    assert_eq!(state.history.len(), 2);
    assert_eq!(state.history[1].by, "值班长 李");
    assert_eq!(state.history[1].why.as_deref(), Some("活动结束"));
    assert_eq!(
        alerts(&app),
        vec![("ch4".to_string(), AlertState::Resolved)]
    );
}

#[test]
fn a_tour_bus_off_its_route_and_a_muck_truck_in_a_closed_zone_raise_one_alert_each() {
    let mut app = ops_app(
        "ops-vehicles",
        r#"vehicles: (
            routes: [(name: "R1", line: [(lon: 113.660, lat: 34.750), (lon: 113.670, lat: 34.750)], corridor_m: 100.0)],
            zones: [(name: "old-city", ring: [(lon: 113.660, lat: 34.755), (lon: 113.670, lat: 34.755), (lon: 113.670, lat: 34.760), (lon: 113.660, lat: 34.760)],
                     kinds: [muck_truck], allowed: [("22:00:00", "06:00:00")])])"#,
    );
    let bus = |app: &App, s: i64, lat: f64| {
        send(
            app,
            &at(s),
            "vehicle",
            &format!(
                r#"{{"id":"bus-1","kind":"tour_bus","position":{{"lon":113.665,"lat":{lat}}},"speed_kmh":40.0,"route":"R1"}}"#
            ),
        );
    };
    bus(&app, 0, 34.7502); // ~22 m from the line
    for s in [10, 20, 30] {
        bus(&app, s, 34.7520); // ~220 m
    }
    bus(&app, 40, 34.7501);
    // 09:00: the zone is closed to muck trucks; 23:00 it is open.
    send(
        &app,
        &at(5),
        "vehicle",
        r#"{"id":"truck-1","kind":"muck_truck","position":{"lon":113.665,"lat":34.757}}"#,
    );
    send(
        &app,
        &at(14 * 3600),
        "vehicle",
        r#"{"id":"truck-2","kind":"muck_truck","position":{"lon":113.665,"lat":34.757}}"#,
    );
    step_to(&mut app, 14 * 3600 + 1);
    let list = app.world().resource::<Alerts>().list.clone();
    let of = |id: &str| list.iter().filter(|a| a.device == id).collect::<Vec<_>>();
    assert_eq!(of("bus-1").len(), 1, "{list:?}");
    assert_eq!(of("bus-1")[0].rule, "vehicle-off-route");
    assert_eq!(of("bus-1")[0].fired_at, Some(t0() + TimeDelta::seconds(10)));
    assert_eq!(
        of("bus-1")[0].state,
        AlertState::Resolved,
        "back on its route"
    );
    assert_eq!(of("truck-1").len(), 1);
    assert_eq!(of("truck-1")[0].rule, "vehicle-restricted-zone");
    assert!(
        of("truck-2").is_empty(),
        "23:00 is within the permitted hours"
    );
}

/// The KPI scenario: orders and devices over five minutes, stepped minute by minute
/// or (`one_frame`) all applied in one frame, as a fast replay would.
fn kpi_scenario(name: &str, one_frame: bool) -> App {
    let mut app = ops_app(name, "");
    // Feed time starts a minute before the first order.
    send(
        &app,
        &at(-60),
        "device",
        r#"{"id":"d-0","kind":"other","status":"online","position":{"lon":113.666,"lat":34.755}}"#,
    );
    step_to(&mut app, -60);
    let order = |app: &App, s: i64, id: &str, status: &str, extra: &str| {
        send(
            app,
            &at(s),
            "work_order",
            &format!(
                r#"{{"id":"{id}","source":"hotline12345","category":"environment","text":"噪声扰民","status":"{status}"{extra}}}"#
            ),
        );
    };
    let step = |app: &mut App, s: i64| {
        if !one_frame {
            step_to(app, s);
        }
    };
    order(&app, 0, "k-1", "reported", "");
    order(&app, 10, "k-2", "reported", "");
    step(&mut app, 59);
    order(&app, 70, "k-3", "reported", r#","urgency":"immediate""#);
    step(&mut app, 119);
    step(&mut app, 120);
    order(&app, 130, "k-1", "signed", "");
    step(&mut app, 130);
    order(&app, 190, "k-1", "closed", r#","satisfaction":5"#);
    order(&app, 200, "k-2", "closed", r#","satisfaction":2"#);
    send(
        &app,
        &at(200),
        "device",
        r#"{"id":"d-1","kind":"other","status":"offline","position":{"lon":113.666,"lat":34.755}}"#,
    );
    step(&mut app, 239);
    step(&mut app, 240);
    step_to(&mut app, 300);
    app
}

#[test]
fn kpis_and_their_history_equal_hand_counts() {
    use citytwin::ops::history::{KpiHistory, MINUTES};
    use citytwin::ops::kpis::Kpis;
    let mut app = kpi_scenario("ops-kpis", false);
    let fast = kpi_scenario("ops-kpis-one-frame", true);
    let history = app.world().resource::<KpiHistory>();
    let minutes = |history: &KpiHistory| {
        (-1..5)
            .map(|m| history.city_at(t0() + TimeDelta::seconds(m * 60)))
            .collect::<Vec<_>>()
    };
    // Levels at each minute's end and counts under their own minute, the same when
    // one frame holds all five minutes.
    assert_eq!(
        minutes(history),
        minutes(fast.world().resource::<KpiHistory>())
    );
    let minute = |s: i64| {
        history
            .city_at(t0() + TimeDelta::seconds(s))
            .expect("sampled")
    };
    assert_eq!(minute(0).orders_reported, 2, "k-1 and k-2 in 09:00");
    assert_eq!(minute(0).orders_open, 2);
    assert_eq!(minute(60).orders_reported, 1, "k-3 in 09:01");
    assert_eq!(minute(60).orders_open, 3);
    assert_eq!(minute(120).orders_open, 3);
    assert_eq!(minute(180).orders_open, 1, "k-1, k-2 closed in 09:03");
    assert_eq!(minute(180).orders_reported, 0);
    assert_eq!(minute(120).online_rate, 1.0);
    assert_eq!(minute(180).online_rate, 0.5, "d-1 offline at 09:03:20");
    assert!(
        history.memory_bytes() >= MINUTES * 12,
        "{}",
        history.memory_bytes()
    );

    // Two hours later k-3 (immediate: 2 h) is overdue.
    step_to(&mut app, 70 + 2 * 3600);
    let now = app.world().resource::<TwinClock>().now();
    let k = {
        let world = app.world_mut();
        citytwin::ops::report::snapshot(world).kpis
    };
    assert_eq!(k.orders_today, 3);
    assert_eq!(k.orders_open, 1);
    assert_eq!(k.orders_overdue, 1);
    assert_eq!(k.orders_closed, 2);
    assert_eq!(k.closure_rate, Some(2.0 / 3.0));
    assert_eq!(k.satisfaction, Some(0.5), "one of two rated 4–5");
    // k-2 was closed without a separate signing: signed when closed, 190 s in.
    assert_eq!(k.mean_sign_minutes, Some((130.0 + 190.0) / 2.0 / 60.0));
    assert_eq!(k.mean_resolve_hours, Some((190.0 + 190.0) / 2.0 / 3600.0));
    assert_eq!(k.category_mix.get("environment"), Some(&3));
    assert_eq!(k.online_rate.get("other"), Some(&0.5));
    assert_eq!(now, t0() + TimeDelta::seconds(70 + 2 * 3600));
    assert_ne!(k, Kpis::default());
}

#[test]
fn a_power_cut_and_a_feed_outage_mute_the_offline_alerts_they_cause() {
    use citytwin::feeds::SourceState;
    let mut app = ops_app(
        "ops-inhibit",
        r#"rules: [(name: "power-cut", kind: other, when: Below(reading: "mains_v", value: 100.0), severity: critical)],
           inhibit: [(source_rule: "power-cut", target_rules: ["missed-heartbeat"], same: city)]"#,
    );
    let open = |app: &App| -> u64 {
        let now = app.world().resource::<TwinClock>().now();
        app.world()
            .resource::<Alerts>()
            .open_by_severity(now)
            .values()
            .sum()
    };
    send(
        &app,
        &at(0),
        "device",
        r#"{"id":"wp-1","kind":"water_pressure","status":"online","heartbeat_s":60,"position":{"lon":113.666,"lat":34.755}}"#,
    );
    send(
        &app,
        &at(0),
        "device",
        r#"{"id":"sub-1","kind":"other","status":"online","position":{"lon":113.667,"lat":34.755},"readings":[{"name":"mains_v","value":230.0,"unit":"V"}]}"#,
    );
    // The substation loses power; the water meter goes silent.
    send(
        &app,
        &at(30),
        "device",
        r#"{"id":"sub-1","kind":"other","status":"online","readings":[{"name":"mains_v","value":0.0,"unit":"V"}]}"#,
    );
    step_to(&mut app, 200);
    let list = app.world().resource::<Alerts>().list.clone();
    let heartbeat = list
        .iter()
        .find(|a| a.rule == "missed-heartbeat")
        .expect("raised");
    assert_eq!(
        heartbeat.inhibited_by.as_deref(),
        Some(list[0].id.as_str()),
        "{list:?}"
    );
    assert_eq!(open(&app), 1, "only the power cut reaches the wall");
    // Power back: the heartbeat alert is no longer muted.
    send(
        &app,
        &at(210),
        "device",
        r#"{"id":"sub-1","kind":"other","status":"online","readings":[{"name":"mains_v","value":230.0,"unit":"V"}]}"#,
    );
    step_to(&mut app, 211);
    app.update();
    assert_eq!(open(&app), 1, "the silent meter counts again");
    // The feed itself goes down: its devices' missed heartbeats are muted.
    app.world()
        .resource::<FeedChannel>()
        .sender
        .send(FeedEvent::State {
            source: 0,
            state: SourceState::Reconnecting("broker gone".into()),
        })
        .expect("channel open");
    app.update();
    app.update();
    assert_eq!(open(&app), 0, "the outage mutes it");
    let list = app.world().resource::<Alerts>().list.clone();
    let heartbeat = list
        .iter()
        .find(|a| a.rule == "missed-heartbeat")
        .expect("raised");
    assert!(
        heartbeat
            .inhibited_by
            .as_deref()
            .is_some_and(|w| w.starts_with("feed down"))
    );
}

#[test]
fn three_cross_is_computed_from_places_departments_and_levels() {
    use citytwin::ops::orders::ThreeCross;
    let dir = temp_dir("ops-three-cross");
    let square = |w: f64, e: f64| {
        format!(
            r#"{{"type":"Polygon","coordinates":[[[{w},34.750],[{e},34.750],[{e},34.760],[{w},34.760],[{w},34.750]]]}}"#
        )
    };
    write(
        &dir,
        "districts.geojson",
        &collection(&[
            (r#"{"id":"EQ","name":"二七区"}"#, &square(113.660, 113.665)),
            (r#"{"id":"JS","name":"金水区"}"#, &square(113.665, 113.670)),
        ]),
    );
    // Street offices: 金水区 split in two along 113.667.
    write(
        &dir,
        "streets.geojson",
        &collection(&[
            (
                r#"{"id":"JS-S01","name":"经八路街道"}"#,
                &square(113.665, 113.667),
            ),
            (
                r#"{"id":"JS-S02","name":"花园路街道"}"#,
                &square(113.667, 113.670),
            ),
        ]),
    );
    // Community grids: 二七区's square in two halves.
    write(
        &dir,
        "grids.geojson",
        &collection(&[
            (r#"{"id":"EQ-G01"}"#, &square(113.660, 113.6625)),
            (r#"{"id":"EQ-G02"}"#, &square(113.6625, 113.665)),
        ]),
    );
    let scene = write(
        &dir,
        "scene.ron",
        r#"(name: "three-cross", origin: (lon: 113.665, lat: 34.755),
            layers: [(kind: Districts, path: "districts.geojson"),
                     (kind: Subdistricts, path: "streets.geojson"),
                     (kind: Grids, path: "grids.geojson")])"#,
    );
    let mut app = headless(load_scene(&scene));
    wait_for_city(&mut app);
    send(
        &app,
        &at(0),
        "work_order",
        r#"{"id":"x-1","source":"hotline12345","category":"public_facilities","text":"供水管道漏水影响两区","status":"reported","position":{"lon":113.662,"lat":34.755},"related":[{"lon":113.668,"lat":34.755}],"department":"市政","departments":["水务"],"levels":["district","street"]}"#,
    );
    send(
        &app,
        &at(0),
        "work_order",
        r#"{"id":"x-2","source":"hotline12345","category":"public_facilities","text":"路灯不亮","status":"reported","position":{"lon":113.662,"lat":34.755},"department":"市政","levels":["street"]}"#,
    );
    send(
        &app,
        &at(1),
        "device",
        r#"{"id":"gas-js","kind":"gas_detector","status":"alarm","position":{"lon":113.668,"lat":34.756}}"#,
    );
    step_to(&mut app, 2);
    let book = app.world().resource::<OrderBook>();
    let x1 = &book.orders["x-1"];
    assert_eq!(x1.districts, ["二七区", "金水区"]);
    assert_eq!(x1.district.as_deref(), Some("二七区"));
    assert_eq!(
        x1.three_cross,
        ThreeCross {
            district: true,
            department: true,
            level: true
        }
    );
    assert!(!book.orders["x-2"].three_cross.any());
    let alert = &app.world().resource::<Alerts>().list[0];
    assert_eq!(
        alert.district.as_deref(),
        Some("金水区"),
        "placed by point-in-polygon"
    );
    assert_eq!(
        alert.street.as_deref(),
        Some("花园路街道"),
        "and its street office"
    );
    assert_eq!(
        x1.street, None,
        "二七区 has no street offices in this scene"
    );
    assert_eq!(x1.grid.as_deref(), Some("EQ-G01"));
    // Rankings: open orders and alerts per district and per grid.
    let kpis = citytwin::ops::report::snapshot(app.world()).kpis;
    assert_eq!(
        kpis.district_ranking,
        [("二七区".to_string(), 2), ("金水区".to_string(), 1)]
    );
    assert_eq!(kpis.grid_ranking, [("EQ-G01".to_string(), 2)]);
}

#[test]
fn operator_actions_on_a_feed_apply_at_their_time_and_only_from_the_scenes_operators() {
    use citytwin::feeds::schema::OperatingMode;
    use citytwin::ops::modes::OperatingState;
    let mut app = ops_app("ops-operator-feed", r#"operators: ["值班员 张"]"#);
    let id = manhole_alarm(&mut app, "mh-2");
    let op = |who: &str, command: &str| format!(r#"{{"operator":"{who}","command":{command}}}"#);
    send(
        &app,
        &at(5),
        "operator",
        &op("路人", &format!(r#"{{"resolve":{{"alert":"{id}"}}}}"#)),
    );
    send(
        &app,
        &at(6),
        "operator",
        &op(
            "值班员 张",
            &format!(r#"{{"acknowledge":{{"alert":"{id}"}}}}"#),
        ),
    );
    send(
        &app,
        &at(7),
        "operator",
        &op(
            "值班员 张",
            r#"{"switch_mode":{"mode":"emergency","why":"暴雨红色预警"}}"#,
        ),
    );
    step_to(&mut app, 10);
    let alerts = app.world().resource::<Alerts>();
    let a = &alerts.list[0];
    assert_eq!(
        a.state,
        AlertState::Acknowledged,
        "the stranger's resolve was refused"
    );
    let ack = a.acknowledged.clone().expect("acknowledged");
    assert_eq!(
        (ack.by.as_str(), ack.at),
        ("值班员 张", t0() + TimeDelta::seconds(6))
    );
    assert_eq!(alerts.refused_actions, 1);
    let state = app.world().resource::<OperatingState>();
    assert_eq!(state.mode, OperatingMode::Emergency);
    assert_eq!(state.history[0].at, t0() + TimeDelta::seconds(7));
}

#[test]
fn a_replay_that_loops_starts_the_operations_state_over() {
    let dir = temp_dir("ops-loop");
    let line = |s: i64, status: &str| {
        format!(
            r#"{{"v":1,"ts":"{}","kind":"device","data":{{"id":"lift-9","kind":"elevator","status":"{status}","position":{{"lon":113.666,"lat":34.755}}}}}}"#,
            at(s)
        )
    };
    write(
        &dir,
        "feed.ndjson",
        &format!("{}\n{}\n", line(0, "alarm"), line(1, "alarm")),
    );
    let scene = write(
        &dir,
        "scene.ron",
        r#"(name: "loop", origin: (lon: 113.665, lat: 34.754), feeds: ["replay:feed.ndjson@4,loop"])"#,
    );
    let mut app = headless(load_scene(&scene));
    update_until(
        &mut app,
        std::time::Duration::from_secs(20),
        "a few loops",
        |w| w.resource::<TwinClock>().rewinds >= 3,
    );
    app.update();
    app.update();
    let alerts = app.world().resource::<Alerts>();
    // Without starting over, one alert would have counted every loop's reports.
    assert!(
        alerts.list.len() <= 1,
        "one loop's alert at most: {:?}",
        alerts.list
    );
    // (A frame may still hold the last report of the pass before.)
    assert!(
        alerts.list.iter().all(|a| a.reports <= 3),
        "{:?}",
        alerts.list
    );
}

/// A device that went offline and stayed silent past `retire_after_h` leaves memory:
/// entity, id, counts and open alerts; when it reports again it comes back as new.
#[test]
fn a_device_offline_past_the_retirement_time_leaves_memory_and_can_come_back() {
    use citytwin::feeds::ingest::FeedEntities;
    use citytwin::ops::{DeviceCounts, OnlineByKind};
    let mut app = ops_app("ops-retire", "retire_after_h: 1.0");
    let report = |app: &App, s: i64| {
        send(
            app,
            &at(s),
            "device",
            r#"{"id":"lamp-1","kind":"street_light","status":"online","heartbeat_s":60,"position":{"lon":113.666,"lat":34.755}}"#,
        )
    };
    report(&app, 0);
    send(
        &app,
        &at(0),
        "device",
        r#"{"id":"lamp-2","kind":"street_light","status":"online","position":{"lon":113.667,"lat":34.755}}"#,
    );
    step_to(&mut app, 1);
    let entity = app
        .world()
        .resource::<FeedEntities>()
        .get("lamp-1")
        .expect("spawned");
    // Three heartbeats missed at 180 s: offline, with its alert.
    step_to(&mut app, 200);
    app.update();
    assert_eq!(app.world().resource::<DeviceCounts>().offline, 1);
    assert!(
        alerts(&app).iter().any(|(_, s)| *s == AlertState::Firing),
        "{:?}",
        alerts(&app)
    );
    // Still there just before the hour of silence ends (last report at 0 s) …
    step_to(&mut app, 3_590);
    assert!(
        app.world()
            .resource::<FeedEntities>()
            .get("lamp-1")
            .is_some()
    );
    // … gone a minute after.
    step_to(&mut app, 3_660);
    app.update();
    let w = app.world();
    assert!(w.resource::<FeedEntities>().get("lamp-1").is_none());
    assert!(w.get_entity(entity).is_err(), "despawned");
    assert_eq!(w.resource::<FeedEntities>().retired, 1);
    assert_eq!(w.resource::<DeviceCounts>().total(), 1, "lamp-2 alone");
    assert_eq!(
        w.resource::<OnlineByKind>().0.get("street_light"),
        Some(&(1, 1))
    );
    assert!(
        alerts(&app).iter().all(|(_, s)| *s == AlertState::Resolved),
        "{:?}",
        alerts(&app)
    );
    assert!(
        w.resource::<FeedEntities>().get("lamp-2").is_some(),
        "an online device stays however quiet"
    );
    // It reports again: back, as new.
    report(&app, 3_700);
    step_to(&mut app, 3_701);
    app.update();
    assert!(
        app.world()
            .resource::<FeedEntities>()
            .get("lamp-1")
            .is_some()
    );
    assert_eq!(app.world().resource::<DeviceCounts>().online, 2);
}

#[test]
fn the_walls_actions_go_to_its_journal_and_replay_with_the_recording() {
    use citytwin::ops::journal::OperatorJournal;
    use std::sync::atomic::Ordering;
    let dir = temp_dir("ops-journal");
    let alarm = format!(
        r#"{{"v":1,"ts":"{}","kind":"device","data":{{"id":"mh-7","kind":"manhole_cover","status":"alarm","position":{{"lon":113.666,"lat":34.755}}}}}}"#,
        at(0)
    );
    write(&dir, "day.ndjson", &format!("{alarm}\n"));
    let operations = r#"operators: ["值班员 王"], journal: "journal.ndjson""#;
    // The wall: the alarm arrives, the operator acknowledges it on screen at 20 s.
    let scene = write(
        &dir,
        "wall.ron",
        &format!(
            r#"(name: "wall", origin: (lon: 113.665, lat: 34.754), operations: ({operations}))"#
        ),
    );
    let mut options = citytwin::TwinOptions::from_scene(load_scene(&scene)).expect("scene");
    options.journal = options.scene_journal();
    let mut app = citytwin::headless_app(&options);
    app.update();
    send(
        &app,
        &at(0),
        "device",
        &alarm[alarm.find("{\"id\"").expect("data")..alarm.len() - 1],
    );
    step_to(&mut app, 1);
    let id = app.world().resource::<Alerts>().list[0].id.clone();
    step_to(&mut app, 20);
    app.world_mut().write_message(OperatorAction {
        operator: "值班员 王".into(),
        action: Action::Acknowledge { alert: id.clone() },
    });
    app.update();
    update_until(
        &mut app,
        std::time::Duration::from_secs(10),
        "the journal written",
        |w| {
            w.resource::<OperatorJournal>()
                .written
                .load(Ordering::Relaxed)
                == 1
        },
    );
    let journal = std::fs::read_to_string(dir.join("journal.ndjson")).expect("journal");
    let lines: Vec<&str> = journal.lines().filter(|l| !l.starts_with('#')).collect();
    assert_eq!(lines.len(), 1, "{journal}");
    let line = FeedMessage::decode(lines[0]).expect("an operator message");
    assert_eq!(line.ts, t0() + TimeDelta::seconds(20));
    assert!(
        lines[0].contains("值班员 王") && lines[0].contains(&id),
        "{}",
        lines[0]
    );

    // The replay of the day with the journal shows who acknowledged it and when.
    let scene = write(
        &dir,
        "replay.ron",
        &format!(
            r#"(name: "replay", origin: (lon: 113.665, lat: 34.754), feeds: ["replay:day.ndjson+journal.ndjson@max"], operations: ({operations}))"#
        ),
    );
    let mut app = headless(load_scene(&scene));
    update_until(
        &mut app,
        std::time::Duration::from_secs(20),
        "the acknowledgement replayed",
        |w| {
            w.resource::<Alerts>()
                .list
                .first()
                .is_some_and(|a| a.acknowledged.is_some())
        },
    );
    let a = &app.world().resource::<Alerts>().list[0];
    assert_eq!(a.id, id);
    let ack = a.acknowledged.clone().expect("acknowledged");
    assert_eq!(
        (ack.by.as_str(), ack.at),
        ("值班员 王", t0() + TimeDelta::seconds(20))
    );
    assert_eq!(app.world().resource::<Alerts>().refused_actions, 0);
}

/// A new critical alert flashes on the wall until the wall's own acknowledge (the
/// messages its alerts list sends for the group) or a minute of the wall's time has
/// passed; the list's silence takes the group off the wall.
#[test]
fn a_new_critical_alert_flashes_until_acknowledged_and_a_silenced_group_leaves_the_list() {
    use bevy::time::TimeUpdateStrategy;
    use citytwin::ui::{acknowledge_group, alert_groups, silence_group};
    use citytwin::view::pulse::{AlertFlash, FLASH_S, track_flashes};
    use std::time::Duration;
    let mut app = ops_app("ops-flash", "");
    app.insert_resource(TimeUpdateStrategy::ManualDuration(Duration::from_millis(
        100,
    )))
    .init_resource::<AlertFlash>()
    .add_systems(Update, track_flashes.after(citytwin::TwinSet::Ops));
    app.world_mut()
        .resource_mut::<Time<Virtual>>()
        .set_max_delta(Duration::from_secs(600));
    let flashing = |app: &App, id: &str| {
        let now = app.world().resource::<Time>().elapsed_secs_f64();
        app.world().resource::<AlertFlash>().is_flashing(id, now)
    };
    let groups = |app: &App| {
        let now = app.world().resource::<TwinClock>().now();
        alert_groups(app.world().resource::<Alerts>(), now, Severity::Info)
            .into_iter()
            .map(|(key, list)| (key, list.iter().map(|a| a.id.clone()).collect::<Vec<_>>()))
            .collect::<Vec<_>>()
    };
    let first = manhole_alarm(&mut app, "mh-1");
    assert!(flashing(&app, &first), "a new critical alert flashes");
    let (key, ids) = groups(&app).remove(0);
    assert_eq!(
        (key.0, ids.clone()),
        (Severity::Critical, vec![first.clone()])
    );
    // The list's acknowledge button of the group.
    let actions = {
        let alerts = app.world().resource::<Alerts>();
        let group: Vec<_> = ids.iter().filter_map(|id| alerts.get(id)).collect();
        acknowledge_group(&group)
    };
    assert_eq!(actions.len(), 1);
    app.world_mut().write_message_batch(actions);
    app.update();
    let a = app
        .world()
        .resource::<Alerts>()
        .get(&first)
        .cloned()
        .expect("alert");
    assert_eq!(a.state, AlertState::Acknowledged);
    assert_eq!(a.acknowledged.map(|s| s.by), Some("wall".to_string()));
    assert!(!flashing(&app, &first), "acknowledged: no more flashing");
    // A second one flashes for a minute of the wall's time, then stops by itself.
    send(
        &app,
        &at(2),
        "device",
        r#"{"id":"mh-2","kind":"manhole_cover","status":"alarm","position":{"lon":113.667,"lat":34.756}}"#,
    );
    step_to(&mut app, 3);
    let second = app.world().resource::<Alerts>().list[1].id.clone();
    assert!(flashing(&app, &second));
    app.insert_resource(TimeUpdateStrategy::ManualDuration(Duration::from_secs_f64(
        FLASH_S + 1.0,
    )));
    app.update();
    assert!(!flashing(&app, &second), "still flashing after {FLASH_S} s");
    // The group's silence: the rule off the wall (both alerts are in one group).
    let groups_now = groups(&app);
    assert_eq!(groups_now.len(), 1);
    assert_eq!(groups_now[0].1.len(), 2);
    let rule = groups_now[0].0.2.clone();
    app.world_mut()
        .write_message(silence_group(&groups_now[0].0.1, &rule));
    app.update();
    assert!(groups(&app).is_empty(), "silenced group still listed");
    assert_eq!(app.world().resource::<Alerts>().silences.len(), 1);
}
