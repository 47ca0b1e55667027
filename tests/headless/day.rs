//! The demo day (issue 13, part 2): the committed day belongs to the built-in city, and
//! `gen-day` follows the real rates, the hotline's figures and its script.

use crate::common::*;
use citytwin::feeds::recording::{self, Recording};
use citytwin::feeds::schema::{DeviceKind, DeviceStatus, FeedBody, FeedMessage, OrderStatus};
use citytwin::generate::city::{self, DEFAULT_CITY_SEED, Scale};
use citytwin::generate::city_feed;
use citytwin::generate::day::{self, DayGen};
use citytwin::ops::state::TwinState;
use std::collections::{BTreeMap, HashMap, HashSet};

/// Every id the committed day names exists in the current built-in city (devices with
/// their kind, grids, projects, vehicles and their routes), and the day says which
/// generator wrote that city. A change to the city's generator that moves or renames
/// anything fails here until the day is made again (`citytwin gen-day`).
#[test]
fn the_committed_day_belongs_to_the_built_in_city() {
    let path = repo_root().join(day::DAY_FILE);
    let bytes = std::fs::metadata(&path).expect("the committed day").len();
    assert!(bytes < 20_000_000, "the day is {bytes} bytes, over 20 MB");
    let mut rec = Recording::open(&path).expect("the day opens");
    let meta = rec.metadata.clone();
    assert_eq!(
        meta.get("generator").map(String::as_str),
        Some(
            citytwin::generate::city_files::GENERATOR_VERSION
                .to_string()
                .as_str()
        ),
        "the day was made for another generator of the city: run `citytwin gen-day`"
    );
    assert_eq!(
        meta.get("city"),
        Some(&format!("gen-city --scale city --seed {DEFAULT_CITY_SEED}"))
    );

    let plan = city::plan(Scale::City, DEFAULT_CITY_SEED, |_, _| {}).expect("city");
    let placed = city_feed::place_devices(&plan);
    let kinds: HashMap<String, Option<DeviceKind>> = city_feed::device_ids(&placed)
        .into_iter()
        .zip(placed.iter().map(|p| p.kind))
        .collect();
    let grids: HashSet<&str> = plan.micro_grids.iter().map(|g| g.id.as_str()).collect();
    let routes: HashSet<&str> = city_feed::tour_routes(&plan)
        .into_iter()
        .map(|r| r.0)
        .collect();
    let mut unknown: BTreeMap<&'static str, Vec<String>> = BTreeMap::new();
    let mut note = |what: &'static str, id: &str| {
        let list = unknown.entry(what).or_default();
        if list.len() < 5 {
            list.push(id.to_string());
        }
    };
    let (mut messages, mut first, mut last) = (0u64, None, None);
    let mut announced = HashSet::new();
    let mut states = Vec::new();
    for i in 0..rec.chunks.len() {
        for entry in rec.read_chunk(i).expect("no damage") {
            let m = recording::decode(&entry).expect("every message decodes");
            messages += 1;
            first.get_or_insert(m.ts);
            last = Some(m.ts);
            if messages == 1 {
                let FeedBody::Checkpoint(c) = &m.body else {
                    panic!("the day opens with a checkpoint, not {}", m.body.kind());
                };
                assert!(
                    c.history.online_rate.len() >= 1380,
                    "the checkpoint holds the day before: {} minutes",
                    c.history.online_rate.len()
                );
                assert!(c.history.orders_reported.iter().sum::<u32>() > 500);
            }
            match &m.body {
                FeedBody::Device(d) => {
                    match kinds.get(d.id.as_str()) {
                        Some(Some(k)) if *k == d.kind => {}
                        _ => note("device", &d.id),
                    }
                    if let Some(g) = &d.grid
                        && !grids.contains(g.as_str())
                    {
                        note("grid", g);
                    }
                    announced.insert(d.id.clone());
                }
                FeedBody::Camera(c) => {
                    if kinds.get(c.id.as_str()) != Some(&None) {
                        note("camera", &c.id);
                    }
                    announced.insert(c.id.clone());
                }
                FeedBody::WorkOrder(o) => {
                    if let Some(g) = &o.grid
                        && !grids.contains(g.as_str())
                    {
                        note("grid", g);
                    }
                }
                FeedBody::Project(p)
                    if !["RP-2026-001", "RP-2026-002", "RP-2026-003"].contains(&p.id.as_str()) =>
                {
                    note("project", &p.id);
                }
                FeedBody::Vehicle(v) => {
                    if let Some(r) = &v.route
                        && !routes.contains(r.as_str())
                    {
                        note("route", r);
                    }
                }
                FeedBody::Checkpoint(c) if c.state.is_some() => {
                    let json = c.state.as_ref().map(|s| s.raw.get()).unwrap_or_default();
                    let state: TwinState = serde_json::from_str(json)
                        .unwrap_or_else(|e| panic!("the checkpoint at {} decodes: {e}", m.ts));
                    assert_eq!(state.at, m.ts, "a checkpoint is dated at its state's time");
                    assert_eq!(
                        state.feeds.markers.len(),
                        kinds.len(),
                        "the checkpoint at {} holds every device and camera",
                        m.ts
                    );
                    for marker in &state.feeds.markers {
                        if kinds.get(marker.id.as_str()) != Some(&marker.device) {
                            note("checkpoint", &marker.id);
                        }
                    }
                    states.push(m.ts);
                }
                _ => {}
            }
        }
    }
    assert!(
        unknown.is_empty(),
        "ids not in the built-in city: {unknown:?}"
    );
    // A checkpoint of the twin's state every 2 hours, each listed in the summary.
    assert_eq!(
        states.len(),
        11,
        "checkpoints of the twin's state: {states:?}"
    );
    for (i, at) in states.iter().enumerate() {
        let due = day::day_start() + chrono::TimeDelta::hours(2 * (i as i64 + 1));
        assert!(
            *at < due && due - *at < chrono::TimeDelta::minutes(1),
            "checkpoint {i} at {at}, taken before {due}"
        );
    }
    assert_eq!(
        rec.checkpoint_times,
        states.iter().map(recording::log_time).collect::<Vec<_>>(),
        "the summary lists the checkpoints"
    );
    assert_eq!(
        announced.len(),
        kinds.len(),
        "every device and camera of the city is in the day"
    );
    let (first, last) = (first.expect("messages"), last.expect("messages"));
    assert_eq!(first, day::day_start());
    assert!(
        last - first > chrono::TimeDelta::hours(23) + chrono::TimeDelta::minutes(50),
        "the day runs to midnight: {first} – {last}"
    );
    assert!(messages > 500_000, "{messages} messages");
}

/// A day at `district` scale: each kind reports at its rate, the hotline's orders come
/// at the city's figures (signed in about five minutes by day, closed at about the
/// city's rate), the script's incidents are there, the same seed gives the same
/// messages, and the history checkpoint opens it.
#[test]
fn a_generated_day_follows_the_rates_and_the_script() {
    let plan = city::plan(Scale::District, DEFAULT_CITY_SEED, |_, _| {}).expect("city");
    let g = DayGen::new(&plan, DEFAULT_CITY_SEED).expect("day");
    let mut messages: Vec<FeedMessage> = Vec::new();
    g.write_day(0, None, |m| {
        messages.push(m.clone());
        Ok(())
    })
    .expect("the day");
    let start = day::day_start();
    assert!(
        messages.windows(2).all(|w| w[0].ts <= w[1].ts),
        "in time order"
    );
    assert!(
        messages
            .iter()
            .all(|m| m.ts >= start && m.ts < start + chrono::TimeDelta::days(1))
    );

    // The same seed, the same day.
    let mut again = 0usize;
    let mut same = true;
    g.write_day(0, None, |m| {
        same &= messages.get(again) == Some(m);
        again += 1;
        Ok(())
    })
    .expect("the day again");
    assert!(
        same && again == messages.len(),
        "the same seed gives the same day"
    );

    // Reports per kind against the rates table: devices × a day / interval, less those
    // out of order.
    let placed = city_feed::place_devices(&plan);
    let mut devices: HashMap<&str, usize> = HashMap::new();
    for p in &placed {
        if let Some(k) = p.kind {
            *devices
                .entry(citytwin::ops::kpis::kind_label(k))
                .or_default() += 1;
        }
    }
    let mut reports: HashMap<&str, usize> = HashMap::new();
    for m in &messages {
        if let FeedBody::Device(d) = &m.body {
            *reports
                .entry(citytwin::ops::kpis::kind_label(d.kind))
                .or_default() += 1;
        }
    }
    for (kind, _, every_s) in city_feed::REAL_RATES {
        let n = devices.get(kind).copied().unwrap_or(0);
        let expected = n as f64 * 86_400.0 / f64::from(every_s);
        let got = reports.get(kind).copied().unwrap_or(0) as f64;
        // Status changes add a few; devices out of order (about 4 %) send fewer.
        assert!(
            got > expected * 0.9 && got < expected * 1.25 + 200.0,
            "{kind}: {got} reports from {n} devices every {every_s} s (expected about {expected:.0})"
        );
    }

    // The hotline: about 8,000 a day at full scale, scaled by √share; signed in about
    // five minutes by day; closed at about 96.5 % eventually (most after the day).
    let mut reported: HashMap<&str, chrono::DateTime<chrono::FixedOffset>> = HashMap::new();
    let mut sign_minutes: Vec<f64> = Vec::new();
    for m in &messages {
        if let FeedBody::WorkOrder(o) = &m.body {
            match o.status {
                OrderStatus::Reported => {
                    reported.insert(o.id.as_str(), m.ts);
                }
                OrderStatus::Signed => {
                    if let Some(r) = reported.get(o.id.as_str())
                        && (9..18).contains(&chrono::Timelike::hour(r))
                    {
                        sign_minutes.push((m.ts - *r).num_seconds() as f64 / 60.0);
                    }
                }
                _ => {}
            }
        }
    }
    let want = (8000.0 * Scale::District.device_share().sqrt()).round();
    assert!(
        (reported.len() as f64 - want).abs() <= 5.0,
        "{} orders reported, about {want} expected",
        reported.len()
    );
    let mean = sign_minutes.iter().sum::<f64>() / sign_minutes.len() as f64;
    assert!(
        (3.5..7.0).contains(&mean),
        "signed in {mean:.1} minutes on average by day"
    );

    // The script: the water main's alarms at 10:12 and its order repaired about four
    // hours later; major-event mode in the evening.
    let at = |h: u32, m: u32| start + chrono::TimeDelta::minutes(i64::from(h * 60 + m));
    let alarm = messages.iter().find(|m| {
        matches!(&m.body, FeedBody::Device(d) if d.kind == DeviceKind::WaterPressure && d.status == DeviceStatus::Alarm)
    });
    let alarm = alarm.expect("a pressure alarm");
    assert!(
        alarm.ts >= at(10, 12) && alarm.ts < at(10, 14),
        "{}",
        alarm.ts
    );
    let burst: Vec<_> = messages
        .iter()
        .filter_map(|m| match &m.body {
            FeedBody::WorkOrder(o) if o.id == "12345-20261123-S01" => Some((o.status, m.ts)),
            _ => None,
        })
        .collect();
    let resolved = burst
        .iter()
        .find(|(s, _)| *s == OrderStatus::Resolved)
        .expect("the burst main is repaired");
    let hours = (resolved.1 - burst[0].1).num_minutes() as f64 / 60.0;
    assert!((3.5..4.5).contains(&hours), "repaired in {hours:.1} h");
    assert!(messages.iter().any(|m| matches!(&m.body, FeedBody::Mode(c) if c.mode == citytwin::feeds::schema::OperatingMode::MajorEvent && m.ts >= at(18, 0))));
    assert!(messages.iter().any(|m| matches!(&m.body, FeedBody::WorkOrder(o) if o.id == "12345-20261122-S04" && m.ts == start)), "the road collapse of the day before is announced at midnight");
}
