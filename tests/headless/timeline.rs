//! The replay's timeline (issue 13, parts 3 and 4): a seek rebuilds the twin's state,
//! and the state at a time T after a seek is exactly the state a play from the
//! recording's start to T gives — devices, alerts, work orders, KPIs and their
//! history — backwards and forwards, across midnight; pause holds the twin's time. The
//! recording opens with a checkpoint of the KPI history before it, restored each time.

use crate::common::*;
use bevy::prelude::*;
use chrono::{DateTime, FixedOffset, TimeDelta};
use citytwin::feeds::SourceState;
use citytwin::feeds::ingest::FeedStats;
use citytwin::feeds::playback::ReplayControl;
use citytwin::ops::TwinClock;
use citytwin::ops::history::KpiHistory;
use std::path::Path;
use std::time::Duration;

/// The recording starts at 22:50 and ends at 01:10 the next day.
const START: &str = "2026-11-23T22:50:00+08:00";

fn start() -> DateTime<FixedOffset> {
    DateTime::parse_from_rfc3339(START).expect("constant time")
}

/// Two hours and twenty minutes of a small district, across midnight: gas detectors
/// drifting over their threshold and back (alerts firing and resolving), elevators
/// with alarm spells, a detector that falls silent (missed heartbeats), work orders
/// reported every three minutes and signed late or on time then closed, and the
/// major-event mode for an hour. Deterministic: a fixed generator, no clock.
fn day_fixture() -> String {
    let mut lines: Vec<(i64, String)> = Vec::new();
    let mut push = |s: i64, kind: &str, data: String| {
        let ts = (start() + TimeDelta::seconds(s)).to_rfc3339();
        lines.push((
            s,
            format!(r#"{{"v":1,"ts":"{ts}","kind":"{kind}","data":{data}}}"#),
        ));
    };
    // It opens with a checkpoint: two hours of KPI history before it.
    push(0, "checkpoint", checkpoint_fixture());
    let end = 140 * 60;
    let mut state = 0x2545_f491_4f6c_dd1d_u64;
    let mut next = move || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    };
    for g in 0..12 {
        let lon = 113.6650 + 0.0003 * g as f64;
        // Gas 11 falls silent after 40 minutes: its heartbeats are missed.
        let until = if g == 11 { 40 * 60 } else { end };
        for s in (g * 5..until).step_by(60) {
            let lel =
                8.0 + (next() % 180) as f64 / 10.0 + if (s / 900) % 3 == g % 3 { 6.0 } else { 0.0 };
            push(
                s,
                "device",
                format!(
                    r#"{{"id":"gas-{g}","kind":"gas_detector","status":"online","heartbeat_s":60,"position":{{"lon":{lon:.4},"lat":34.7550}},"readings":[{{"name":"ch4_lel","value":{lel:.1},"unit":"%LEL"}}]}}"#
                ),
            );
        }
    }
    for e in 0..6 {
        let lon = 113.6652 + 0.0004 * e as f64;
        for s in (e * 7..end).step_by(120) {
            let status = if next() % 9 == 0 { "alarm" } else { "online" };
            push(
                s,
                "device",
                format!(
                    r#"{{"id":"lift-{e}","kind":"elevator","status":"{status}","position":{{"lon":{lon:.4},"lat":34.7546}}}}"#
                ),
            );
        }
    }
    let category = [
        "traffic",
        "public_facilities",
        "environment",
        "property_management",
    ];
    for (o, s) in (30..end - 600).step_by(180).enumerate() {
        let deadline = (start() + TimeDelta::seconds(s + 300)).to_rfc3339();
        let cat = category[o % category.len()];
        let order = |status: &str, extra: &str| {
            format!(
                r#"{{"id":"wo-{o}","source":"hotline12345","category":"{cat}","text":"路灯不亮","status":"{status}","position":{{"lon":113.6661,"lat":34.7552}}{extra}}}"#
            )
        };
        push(
            s,
            "work_order",
            order("reported", &format!(r#","sign_deadline":"{deadline}""#)),
        );
        let signed = s + 120 + (next() % 360) as i64;
        push(signed, "work_order", order("signed", ""));
        if o % 3 != 0 {
            push(
                signed + 1500,
                "work_order",
                order("closed", r#","satisfaction":5"#),
            );
        }
    }
    push(
        40 * 60,
        "mode",
        r#"{"mode":"major_event","by":"指挥中心","reason":"跨年活动"}"#.into(),
    );
    push(
        100 * 60,
        "mode",
        r#"{"mode":"daily","by":"指挥中心","reason":"活动结束"}"#.into(),
    );
    lines.sort_by_key(|l| l.0);
    lines.into_iter().map(|(_, l)| l + "\n").collect()
}

/// Minutes of history in the fixture's opening checkpoint.
const HISTORY_MINUTES: i64 = 120;

/// The opening checkpoint's history: the city's series for the two hours before the
/// recording (alerts fired every seventh minute, orders every fifth).
fn checkpoint_fixture() -> String {
    let from = start().timestamp() / 60 - HISTORY_MINUTES;
    let n = HISTORY_MINUTES as usize;
    let series = |f: &dyn Fn(usize) -> u32| {
        (0..n)
            .map(|m| f(m).to_string())
            .collect::<Vec<_>>()
            .join(",")
    };
    format!(
        r#"{{"history":{{"from_minute":{from},"online_rate":[{}],"alerts_open":[{}],"orders_open":[{}],"orders_overdue":[{}],"alerts_fired":[{}],"orders_reported":[{}]}}}}"#,
        vec!["0.95"; n].join(","),
        series(&|m| (m % 4) as u32),
        series(&|m| 3 + (m / 30) as u32),
        series(&|_| 0),
        series(&|m| u32::from(m % 7 == 0)),
        series(&|m| u32::from(m % 5 == 0)),
    )
}

/// The opening checkpoint's minutes are in the history as it gave them.
fn assert_history_restored(world: &World, what: &str) {
    let history = world.resource::<KpiHistory>();
    let from = start().timestamp() / 60 - HISTORY_MINUTES;
    for m in [0, 7, 35, 119] {
        let s = history
            .city
            .get(from + m)
            .unwrap_or_else(|| panic!("{what}: minute {m} of the checkpoint's history is missing"));
        assert_eq!(
            (
                s.alerts_open,
                s.orders_open,
                s.alerts_fired,
                s.orders_reported
            ),
            (
                (m % 4) as u32,
                3 + (m / 30) as u32,
                u32::from(m % 7 == 0),
                u32::from(m % 5 == 0)
            ),
            "{what}: minute {m} of the checkpoint's history"
        );
    }
}

const SCENE: &str = r#"(name: "timeline", origin: (lon: 113.665, lat: 34.754), feeds: ["replay:day.ndjson@max"], operations: (rules: [(name: "ch4", kind: Some(gas_detector), when: Above(reading: "ch4_lel", value: 20.0), severity: critical, for_s: 30.0, keep_firing_for_s: 90.0)]))"#;

/// The state compared: the operations report (devices, alerts, orders, KPIs, mode)
/// without the feeds' counters (a play that sought has received more), and every
/// sample of the KPI history.
fn state_of(world: &World) -> (serde_json::Value, String) {
    let mut report = serde_json::to_value(citytwin::ops::report::snapshot(world)).expect("report");
    let s = &world.resource::<FeedStats>().sources[0];
    eprintln!(
        "sought: received {} applied {} coalesced {} dropped by seek {} rejected {:?}",
        s.received, s.applied, s.coalesced, s.dropped_by_seek, s.rejected
    );
    report["feeds"] = serde_json::Value::Null;
    let history = format!("{:?}", world.resource::<KpiHistory>().samples());
    (report, history)
}

/// The state a play from the start up to `until` gives (`citytwin report`'s way).
fn played_to(dir: &Path, until: DateTime<FixedOffset>) -> (serde_json::Value, String) {
    let options =
        citytwin::TwinOptions::from_scene(load_scene(&dir.join("scene.ron"))).expect("scene");
    let mut app = citytwin::headless_app(&options);
    let limit = Duration::from_secs(120);
    let report = citytwin::ops::report::run_app(&mut app, &options, until, limit)
        .unwrap_or_else(|e| panic!("play to {until}: {e}"));
    let mut value = serde_json::to_value(report).expect("report");
    eprintln!("played: {}", value["feeds"]);
    value["feeds"] = serde_json::Value::Null;
    let history = format!("{:?}", app.world().resource::<KpiHistory>().samples());
    (value, history)
}

/// Where two JSON values differ, as `path: left != right` lines.
fn differences(a: &serde_json::Value, b: &serde_json::Value, path: &str, out: &mut Vec<String>) {
    use serde_json::Value;
    match (a, b) {
        (Value::Object(x), Value::Object(y)) => {
            for key in x.keys().chain(y.keys().filter(|k| !x.contains_key(*k))) {
                let (l, r) = (&x.get(key), &y.get(key));
                match (l, r) {
                    (Some(l), Some(r)) => differences(l, r, &format!("{path}.{key}"), out),
                    _ => out.push(format!("{path}.{key}: {l:?} != {r:?}")),
                }
            }
        }
        (Value::Array(x), Value::Array(y)) => {
            if x.len() != y.len() {
                out.push(format!("{path}: {} items != {}", x.len(), y.len()));
            }
            for (i, (l, r)) in x.iter().zip(y).enumerate() {
                differences(l, r, &format!("{path}[{i}]"), out);
            }
        }
        _ if a != b => out.push(format!("{path}: {a} != {b}")),
        _ => {}
    }
}

fn seek(app: &mut App, to: DateTime<FixedOffset>) {
    let control = app.world().resource::<ReplayControl>().clone();
    control.set_paused(true);
    control.seek(Some(to));
    update_until(app, Duration::from_secs(120), "the seek", |w| {
        w.resource::<FeedStats>().reached == Some(to)
            && w.resource::<citytwin::feeds::ingest::Backlog>().is_empty()
            && w.resource::<citytwin::feeds::FeedChannel>()
                .receiver
                .is_empty()
    });
    // Let every timer up to the target run.
    for _ in 0..3 {
        app.update();
    }
}

/// The state of `app` at `t` (after a seek) is the state a play of the NDJSON day in
/// `dir` from its start to `t` gives: the operations report, every sample of the KPI
/// history, the clock, and the opening checkpoint's history.
fn assert_played_state(app: &App, dir: &Path, t: DateTime<FixedOffset>, what: &str) {
    assert_played_state_as(app, dir, t, what, "");
}

/// [`assert_played_state`] for an app whose feed is named `feed` where the play's is
/// `replay:day.ndjson@max` (mode switches name the feed they came on).
fn assert_played_state_as(app: &App, dir: &Path, t: DateTime<FixedOffset>, what: &str, feed: &str) {
    let mut sought = state_of(app.world());
    if !feed.is_empty() {
        let text = sought.0.to_string().replace(feed, "replay:day.ndjson@max");
        sought.0 = serde_json::from_str(&text).expect("the report as JSON");
    }
    let (played, history) = played_to(dir, t);
    assert!(
        !sought.0["alerts"].as_array().expect("alerts").is_empty(),
        "{what}: some alert has fired by then"
    );
    assert!(
        sought.0["devices"]["orders_open"].as_u64() > Some(0),
        "{what}: orders are open"
    );
    let mut diff = Vec::new();
    differences(&sought.0, &played, "", &mut diff);
    assert!(
        diff.is_empty(),
        "{what}: the operations state at {t} after a seek (left) and a play (right):\n{}",
        diff.iter().take(20).cloned().collect::<Vec<_>>().join("\n")
    );
    if sought.1 != history {
        let (a, b): (Vec<&str>, Vec<&str>) = (
            sought.1.split("), (").collect(),
            history.split("), (").collect(),
        );
        let diff: Vec<String> = a
            .iter()
            .zip(&b)
            .filter(|(x, y)| x != y)
            .take(6)
            .map(|(x, y)| format!("{x}  !=  {y}"))
            .collect();
        panic!(
            "{what}: the KPI history at {t} after a seek and a play ({} and {} samples):\n{}",
            a.len(),
            b.len(),
            diff.join("\n")
        );
    }
    assert_eq!(app.world().resource::<TwinClock>().now(), t, "{what}");
    assert_history_restored(app.world(), what);
}

#[test]
fn seeking_to_a_time_gives_the_state_a_play_from_the_start_gives() {
    let dir = temp_dir("timeline-exact");
    write(&dir, "day.ndjson", &day_fixture());
    write(&dir, "scene.ron", SCENE);

    let mut app = headless(load_scene(&dir.join("scene.ron")));
    // Ingest under pressure: a few messages a frame, the rest waiting in the backlog
    // (as on a loaded machine), and the state must still be exact.
    {
        let mut config = app
            .world_mut()
            .resource_mut::<citytwin::feeds::ingest::IngestConfig>();
        config.budget = Duration::from_micros(200);
        config.share_of_frame = 0.0;
    }
    wait_for_city(&mut app);
    update_until(&mut app, Duration::from_secs(120), "the first pass", |w| {
        w.resource::<FeedStats>().sources.first().map(|s| &s.state) == Some(&SourceState::Finished)
    });
    let (first, last) = app.world().resource::<FeedStats>().sources[0]
        .span
        .expect("the replay's span");
    assert_eq!(first, start(), "the timeline starts at the first message");
    assert!(
        last > start() + TimeDelta::minutes(135),
        "the timeline ends at the last message: {last}"
    );

    // Back into the evening, forward across midnight, back again: each time the state
    // of a play from the start.
    for (minutes, what) in [
        (35, "before midnight, before the mode switch"),
        (95, "after midnight, in the major-event mode"),
        (62, "back, just after midnight"),
        (130, "near the end"),
    ] {
        let t = start() + TimeDelta::minutes(minutes) + TimeDelta::seconds(17);
        seek(&mut app, t);
        assert_played_state(&app, &dir, t, what);
        assert_history_restored(app.world(), what);
    }

    // Paused, the twin's time holds.
    let before = app.world().resource::<TwinClock>().now();
    run_for(&mut app, Duration::from_millis(300));
    assert_eq!(app.world().resource::<TwinClock>().now(), before, "paused");
    // Played on at 1000×, it moves, and nothing is dropped that was sent after the seek.
    let control = app.world().resource::<ReplayControl>().clone();
    control.set_speed(Some(1000.0));
    control.set_paused(false);
    update_until(&mut app, Duration::from_secs(30), "time moving on", |w| {
        w.resource::<TwinClock>().now() > before + TimeDelta::seconds(30)
    });
    let stats = app.world().resource::<FeedStats>();
    assert!(
        stats.restarts >= 4,
        "one restart per seek: {}",
        stats.restarts
    );
}

/// The same day as an MCAP recording with a checkpoint of the twin's whole state
/// every 20 minutes (taken by playing it through the twin): a seek starts reading at
/// the nearest checkpoint before its target, plays only what follows it, and arrives
/// at exactly the state a play of the plain day from its start gives — before the
/// first checkpoint, just after one, across midnight, backwards.
#[test]
fn a_seek_from_a_checkpoint_gives_the_state_a_play_from_the_start_gives() {
    let dir = temp_dir("timeline-checkpoints");
    let day = day_fixture();
    write(&dir, "day.ndjson", &day);
    write(&dir, "scene.ron", SCENE);
    let every = TimeDelta::minutes(20);
    let options =
        citytwin::TwinOptions::from_scene(load_scene(&dir.join("scene.ron"))).expect("scene");
    let written = citytwin::ops::state::add_checkpoints(
        &options,
        &dir.join("day.ndjson"),
        &dir.join("day.mcap"),
        every,
        3,
    )
    .unwrap_or_else(|e| panic!("checkpoints: {e:#}"));
    let times: Vec<DateTime<FixedOffset>> = day
        .lines()
        .filter_map(|l| citytwin::feeds::schema::FeedMessage::decode(l).ok())
        .map(|m| m.ts)
        .collect();
    let last = *times.iter().max().expect("messages");
    let due = (1..).take_while(|i| start() + every * *i <= last).count();
    assert!(due >= 7, "the day runs past 2 h 20 min: {last}");
    assert_eq!(written, due, "a checkpoint every 20 minutes");
    let rec = citytwin::feeds::recording::Recording::open(&dir.join("day.mcap")).expect("open");
    assert_eq!(rec.checkpoint_times.len(), due, "the summary lists them");
    write(
        &dir,
        "scene-mcap.ron",
        &SCENE.replace("replay:day.ndjson@max", "replay:day.mcap@max"),
    );

    let mut app = headless(load_scene(&dir.join("scene-mcap.ron")));
    wait_for_city(&mut app);
    update_until(&mut app, Duration::from_secs(120), "the first pass", |w| {
        w.resource::<FeedStats>().sources.first().map(|s| &s.state) == Some(&SourceState::Finished)
    });
    for (minutes, what) in [
        (35, "15 minutes after the first checkpoint"),
        (95, "after midnight, from the checkpoint at 00:10"),
        (62, "back, 2 minutes after a checkpoint"),
        (10, "before the first checkpoint (from the start)"),
        (130, "near the end"),
    ] {
        let t = start() + TimeDelta::minutes(minutes) + TimeDelta::seconds(17);
        let handled = |w: &World| {
            let s = &w.resource::<FeedStats>().sources[0];
            s.applied + s.rejected_total()
        };
        let before = handled(app.world());
        seek(&mut app, t);
        // What the pass played: the checkpoint and the messages after it up to t, or
        // every message up to t when no checkpoint comes before t.
        let from = (1..)
            .map(|i| start() + every * i)
            .take_while(|c| *c <= t)
            .last();
        let expected = match from {
            Some(c) => 1 + times.iter().filter(|ts| **ts >= c && **ts <= t).count(),
            None => times.iter().filter(|ts| **ts <= t).count(),
        };
        assert_eq!(
            handled(app.world()) - before,
            expected as u64,
            "{what}: the messages the seek played"
        );
        assert_played_state_as(&app, &dir, t, what, "replay:day.mcap@max");
    }
}

/// Bad input: a checkpoint whose state does not decode is refused with its reason,
/// counted, and the replay goes on with every message after it.
#[test]
fn a_checkpoint_whose_state_does_not_decode_is_refused_and_the_play_goes_on() {
    let dir = temp_dir("timeline-bad-state");
    let day = day_fixture();
    let bad = format!(
        r#"{{"v":1,"ts":"{START}","kind":"checkpoint","data":{{"history":{{"from_minute":0,"online_rate":[],"alerts_open":[],"orders_open":[],"orders_overdue":[],"alerts_fired":[],"orders_reported":[]}},"state":{{"at":"not a time"}}}}}}"#
    );
    write(&dir, "day.ndjson", &format!("{bad}\n{day}"));
    write(&dir, "scene.ron", SCENE);
    let mut app = headless(load_scene(&dir.join("scene.ron")));
    wait_for_city(&mut app);
    update_until(&mut app, Duration::from_secs(120), "the pass", |w| {
        w.resource::<FeedStats>().sources.first().map(|s| &s.state) == Some(&SourceState::Finished)
            && w.resource::<citytwin::feeds::ingest::Backlog>().is_empty()
    });
    let s = &app.world().resource::<FeedStats>().sources[0];
    assert_eq!(
        s.rejected.get("invalid value"),
        Some(&1),
        "{:?}",
        s.rejected
    );
    let why = s.last_problem.as_deref().unwrap_or_default();
    assert!(why.contains("its state does not decode"), "{why}");
    let messages = day.lines().filter(|l| !l.trim().is_empty()).count() as u64;
    assert_eq!(s.applied, messages, "every message after it is applied");
}

/// One picture across machines, in time too: a leader and a follower playing the
/// same recording through a real mosquitto; the leader seeks back and pauses, and
/// switches an overlay off; the follower pauses at the leader's time with the same
/// state, and draws the same overlays.
#[test]
fn a_follower_pauses_and_seeks_with_its_leader() {
    use citytwin::feeds::bench::broker::LocalBroker;
    use citytwin::view::camera::{Orbit, WallCamera};
    use citytwin::view::overlays::Overlays;
    use citytwin::view::sync::{SyncRole, install};
    let dir = temp_dir("timeline-follow");
    write(&dir, "day.ndjson", &day_fixture());
    write(&dir, "scene.ron", SCENE);
    let broker = LocalBroker::plain(&dir, "").unwrap_or_else(|e| panic!("{e}"));
    let url = format!("mqtt://127.0.0.1:{}/citytwin/wall-test", broker.port);
    let spec = SyncRole::parse_url(&url).expect("sync url");
    let start_app = |role: SyncRole, name: &str| {
        let mut app = headless(load_scene(&dir.join("scene.ron")));
        // The view's resources the sync reads (a headless app has no view).
        app.init_resource::<Overlays>()
            .init_resource::<citytwin::view::Selection>();
        install(&mut app, &role, name);
        wait_for_city(&mut app);
        app
    };
    let mut leader = start_app(SyncRole::Lead(spec.clone()), "leader");
    let orbit = Orbit {
        focus: Vec3::ZERO,
        distance_m: 800.0,
        heading: 0.3,
        pitch: 0.6,
    };
    leader.world_mut().spawn(WallCamera {
        current: orbit,
        target: orbit,
    });
    let mut follower = start_app(SyncRole::Follow(spec), "follower");
    for app in [&mut leader, &mut follower] {
        update_until(app, Duration::from_secs(120), "the first pass", |w| {
            w.resource::<FeedStats>().sources.first().map(|s| &s.state)
                == Some(&SourceState::Finished)
        });
    }
    let t = start() + TimeDelta::minutes(75) + TimeDelta::seconds(3);
    leader.world_mut().resource_mut::<Overlays>().parking = false;
    seek(&mut leader, t);
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    loop {
        leader.update();
        follower.update();
        let w = follower.world();
        let done = w.resource::<TwinClock>().now() == t
            && w.resource::<ReplayControl>().get().paused
            && !w.resource::<Overlays>().parking
            && w.resource::<FeedStats>().reached == Some(t);
        if done {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the follower did not reach the leader's {t}: at {}, paused {}, parking {}",
            w.resource::<TwinClock>().now(),
            w.resource::<ReplayControl>().get().paused,
            w.resource::<Overlays>().parking
        );
        std::thread::sleep(Duration::from_millis(5));
    }
    for _ in 0..3 {
        follower.update();
    }
    assert_eq!(
        state_of(follower.world()),
        state_of(leader.world()),
        "the follower's state at the leader's time"
    );
}
