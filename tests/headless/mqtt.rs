//! MQTT end to end with a real broker: mosquitto on a free loopback port, messages
//! published with `mosquitto_pub`, the app subscribed through `mqtt://`.

use crate::common::*;
use citytwin::feeds::SourceState;
use citytwin::feeds::bench::broker::{INSTALL_HINT, LocalBroker};
use citytwin::feeds::ingest::{FeedEntities, FeedStats, Projects, Status, WorkOrders};
use citytwin::feeds::schema::{DeviceStatus, OrderStatus};
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

/// The library's local broker, with test-friendly failures.
struct Broker(LocalBroker);

impl Broker {
    fn start(dir: &Path) -> Broker {
        Broker(LocalBroker::plain(dir, "").unwrap_or_else(|e| panic!("{e}")))
    }

    fn restart(&mut self) {
        self.0.restart().unwrap_or_else(|e| panic!("{e}"));
    }

    fn publish(&self, topic: &str, payload: &str) {
        self.0
            .publish(topic, payload)
            .unwrap_or_else(|e| panic!("{e}"));
    }
}

impl std::ops::Deref for Broker {
    type Target = LocalBroker;
    fn deref(&self) -> &LocalBroker {
        &self.0
    }
}

impl std::ops::DerefMut for Broker {
    fn deref_mut(&mut self) -> &mut LocalBroker {
        &mut self.0
    }
}

fn msg(kind: &str, data: &str) -> String {
    format!(r#"{{"v":1,"ts":"2026-11-23T09:00:00+08:00","kind":"{kind}","data":{data}}}"#)
}

fn source_state(app: &bevy::app::App) -> SourceState {
    app.world().resource::<FeedStats>().sources[0].state.clone()
}

fn wait_until_reconnecting(app: &mut bevy::app::App) {
    update_until(app, Duration::from_secs(30), "the source to notice", |w| {
        matches!(
            w.resource::<FeedStats>().sources.first().map(|s| &s.state),
            Some(SourceState::Reconnecting(_))
        )
    });
}

fn app_on(dir: &Path, port: u16) -> bevy::app::App {
    let scene = write(
        dir,
        "scene.ron",
        &format!(
            r#"(name: "mqtt", origin: (lon: 113.665, lat: 34.754), feeds: ["mqtt://127.0.0.1:{port}/city/#"])"#
        ),
    );
    let mut app = headless(load_scene(&scene));
    wait_until_live(&mut app, "the MQTT source to connect");
    // The subscription is sent after the connection is acknowledged.
    run_for(&mut app, Duration::from_millis(500));
    app
}

#[test]
fn every_kind_arrives_through_mosquitto() {
    let dir = temp_dir("mqtt-kinds");
    let broker = Broker::start(&dir);
    let mut app = app_on(&dir, broker.port);
    broker.publish("city/iot", &msg("device", r#"{"id":"m-gas","kind":"gas_detector","status":"alarm","position":{"lon":113.666,"lat":34.755}}"#));
    broker.publish(
        "city/video",
        &msg(
            "camera",
            r#"{"id":"m-cam","status":"fault","position":{"lon":113.667,"lat":34.755}}"#,
        ),
    );
    broker.publish("city/orders", &msg("work_order", r#"{"id":"m-wo","source":"photo_report","category":"environment","text":"垃圾未清运","status":"signed"}"#));
    broker.publish("city/projects", &msg("project", r#"{"id":"m-rp","kind":"pocket_park","name":"淮园","phase":"construction","progress_pct":40.0}"#));
    broker.publish("city/iot", "garbled {");
    update_until(&mut app, Duration::from_secs(20), "five messages", |w| {
        w.resource::<FeedStats>().sources[0].received >= 5
    });
    app.update();
    let w = app.world();
    let status = |id: &str| {
        w.get::<Status>(w.resource::<FeedEntities>().get(id).unwrap())
            .unwrap()
            .0
    };
    assert_eq!(status("m-gas"), DeviceStatus::Alarm);
    assert_eq!(status("m-cam"), DeviceStatus::Fault);
    assert_eq!(
        w.resource::<WorkOrders>().0["m-wo"].status,
        OrderStatus::Signed
    );
    assert_eq!(w.resource::<Projects>().0["m-rp"].progress_pct, 40.0);
    let stats = &w.resource::<FeedStats>().sources[0];
    assert_eq!((stats.applied, stats.rejected_total()), (4, 1));
}

#[test]
fn broker_restart_reconnects_and_the_stream_goes_on() {
    let dir = temp_dir("mqtt-restart");
    let mut broker = Broker::start(&dir);
    let mut app = app_on(&dir, broker.port);
    broker.publish("city/orders", &msg("work_order", r#"{"id":"r-1","source":"hotline12345","category":"heating","text":"暖气不热","status":"reported"}"#));
    update_until(&mut app, Duration::from_secs(20), "the first order", |w| {
        w.resource::<WorkOrders>().0.contains_key("r-1")
    });

    broker.stop();
    wait_until_reconnecting(&mut app);
    let SourceState::Reconnecting(why) = source_state(&app) else {
        unreachable!()
    };
    assert!(why.contains(&broker.port.to_string()), "{why}");

    broker.restart();
    update_until(&mut app, Duration::from_secs(60), "a reconnection", |w| {
        w.resource::<FeedStats>()
            .sources
            .first()
            .is_some_and(|s| s.state == SourceState::Live)
    });
    run_for(&mut app, Duration::from_millis(500));
    broker.publish("city/orders", &msg("work_order", r#"{"id":"r-2","source":"grid_patrol","category":"traffic","text":"井盖松动","status":"reported"}"#));
    update_until(
        &mut app,
        Duration::from_secs(20),
        "the order after the restart",
        |w| w.resource::<WorkOrders>().0.contains_key("r-2"),
    );
    assert_eq!(app.world().resource::<WorkOrders>().0.len(), 2);
}

#[test]
fn record_from_mqtt_then_replay_the_recording() {
    let dir = temp_dir("mqtt-record");
    let broker = Broker::start(&dir);
    // The recording format (MCAP): the name does not say .ndjson.
    let out = dir.join("recorded.mcap");
    let recorder = Command::new(env!("CARGO_BIN_EXE_citytwin"))
        .args(["record", "--duration", "5", "--feeds"])
        .arg(format!("mqtt://127.0.0.1:{}/city/#", broker.port))
        .arg("--out")
        .arg(&out)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("citytwin runs");
    let mut recorder = recorder;
    // Publish once the recorder says it is subscribed (it prints its sources' states).
    let stderr = recorder.stderr.take().expect("stderr piped");
    let (live_tx, live_rx) = std::sync::mpsc::channel();
    let reader = std::thread::spawn(move || {
        use std::io::BufRead;
        let mut seen = String::new();
        for line in std::io::BufReader::new(stderr)
            .lines()
            .map_while(Result::ok)
        {
            if line.ends_with(": Live") {
                let _ = live_tx.send(());
            }
            seen.push_str(&line);
            seen.push('\n');
        }
        seen
    });
    live_rx
        .recv_timeout(Duration::from_secs(20))
        .expect("the recorder to connect");
    let sent = [
        msg(
            "device",
            r#"{"id":"rec-1","kind":"street_light","status":"online","position":{"lon":113.666,"lat":34.755}}"#,
        ),
        msg(
            "device",
            r#"{"id":"rec-1","kind":"street_light","status":"fault"}"#,
        ),
        msg(
            "work_order",
            r#"{"id":"rec-wo","source":"hotline12345","category":"public_facilities","text":"路灯不亮","status":"reported"}"#,
        ),
    ];
    for m in &sent {
        broker.publish("city/x", m);
    }
    broker.publish("city/x", "not json");
    let output = recorder.wait_with_output().expect("recorder exits");
    let report = String::from_utf8_lossy(&output.stdout);
    let stderr = reader.join().unwrap_or_default();
    assert!(output.status.success(), "{report}\n{stderr}");
    assert!(
        report.contains("recorded 3 messages") && report.contains("1 rejected"),
        "{report}"
    );

    let mut rec = citytwin::feeds::recording::Recording::open(&out).unwrap();
    assert!(rec.indexed && rec.damage.is_empty(), "{:?}", rec.damage);
    assert!(
        rec.metadata["sources"].contains(&format!("127.0.0.1:{}/city/#", broker.port)),
        "{:?}",
        rec.metadata
    );
    let recorded: Vec<_> = (0..rec.chunks.len())
        .flat_map(|i| rec.read_chunk(i).unwrap())
        .map(|e| citytwin::feeds::recording::decode(&e).unwrap())
        .collect();
    assert_eq!(recorded.len(), 3);
    for (a, original) in recorded.iter().zip(&sent) {
        let b = citytwin::feeds::schema::FeedMessage::decode(original).unwrap();
        assert_eq!(a, &b, "recorded as sent");
    }

    // The recording plays back into the same states.
    let mut app = played_to_the_end(&dir, "recorded.mcap");
    app.update();
    let w = app.world();
    let e = w.resource::<FeedEntities>().get("rec-1").unwrap();
    assert_eq!(w.get::<Status>(e).unwrap().0, DeviceStatus::Fault);
    assert!(w.resource::<WorkOrders>().0.contains_key("rec-wo"));
}

#[test]
fn a_ten_megabyte_message_is_rejected_and_the_stream_goes_on() {
    let dir = temp_dir("mqtt-huge");
    let broker = Broker::start(&dir);
    let mut app = app_on(&dir, broker.port);
    let huge = dir.join("huge.json");
    let filler = "x".repeat(10 << 20);
    std::fs::write(
        &huge,
        msg(
            "device",
            &format!(r#"{{"id":"{filler}","kind":"other","status":"online"}}"#),
        ),
    )
    .unwrap();
    let status = Command::new("mosquitto_pub")
        .args([
            "-h",
            "127.0.0.1",
            "-p",
            &broker.port.to_string(),
            "-q",
            "1",
            "-t",
            "city/big",
            "-f",
        ])
        .arg(&huge)
        .status()
        .expect(INSTALL_HINT);
    assert!(status.success());
    broker.publish("city/iot", &msg("device", r#"{"id":"after","kind":"other","status":"online","position":{"lon":113.666,"lat":34.755}}"#));
    update_until(
        &mut app,
        Duration::from_secs(30),
        "the message after the huge one",
        |w| w.resource::<FeedEntities>().get("after").is_some(),
    );
    let stats = &app.world().resource::<FeedStats>().sources[0];
    assert_eq!(
        stats.rejected.get("too large"),
        Some(&1),
        "{:?}",
        stats.rejected
    );
    assert_eq!(stats.state, SourceState::Live, "the connection survived");
}

/// A broker that keeps sessions on disk: stopped with SIGTERM it saves them, so
/// messages published for us while we are away are delivered when we are back.
fn persistent_broker(dir: &Path) -> Broker {
    // Started as root, mosquitto drops to the `mosquitto` user and then cannot write
    // its database into our folder; keep it as root there.
    let as_root = Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|o| String::from_utf8_lossy(&o.stdout).trim() == "0");
    let conf = |port: u16| {
        format!(
            "listener {port} 127.0.0.1\nallow_anonymous true\npersistence true\npersistence_location {}/\n{}",
            dir.display(),
            if as_root { "user root\n" } else { "" }
        )
    };
    Broker(LocalBroker::with_config(dir, "persistent.conf", conf).unwrap_or_else(|e| panic!("{e}")))
}

fn order(n: usize) -> String {
    msg(
        "work_order",
        &format!(
            r#"{{"id":"q-{n:03}","source":"hotline12345","category":"other","text":"工单 {n}","status":"reported"}}"#
        ),
    )
}

#[test]
fn qos1_work_orders_arrive_exactly_once_across_a_broker_restart() {
    use citytwin::ops::OrderCounts;
    let dir = temp_dir("mqtt-exactly-once");
    let mut broker = persistent_broker(&dir);
    let mut app = app_on(&dir, broker.port);
    for n in 0..20 {
        broker.publish("city/orders", &order(n));
    }
    update_until(
        &mut app,
        Duration::from_secs(20),
        "the first 20 orders",
        |w| w.resource::<WorkOrders>().0.len() == 20,
    );

    // Stop the broker gracefully (it saves our session), bring it back, and publish
    // at once, while our client is still waiting to reconnect.
    broker.terminate();
    wait_until_reconnecting(&mut app);
    broker.restart();
    for n in 20..40 {
        broker.publish("city/orders", &order(n));
    }
    update_until(&mut app, Duration::from_secs(60), "all 40 orders", |w| {
        w.resource::<WorkOrders>().0.len() == 40
    });
    // Give any redelivery time to arrive, then count what the source received and
    // the ECS applied: a redelivered order with the same status changes no order, so
    // only these counts can see it.
    run_for(&mut app, Duration::from_millis(1500));
    let s = &app.world().resource::<FeedStats>().sources[0];
    assert_eq!(
        (s.received, s.applied, s.rejected_total()),
        (40, 40, 0),
        "each order received and applied once"
    );
    assert_eq!(
        app.world().resource::<OrderCounts>().open,
        40,
        "each order counted once"
    );
}

#[test]
fn mqtts_with_the_scene_ca_delivers_and_an_untrusted_broker_is_refused() {
    let dir = temp_dir("mqtt-tls");
    let pki = test_pki(&dir);
    let conf = |port: u16| {
        format!(
            "listener {port} 127.0.0.1\ncafile {}\ncertfile {}\nkeyfile {}\nallow_anonymous true\npersistence false\n",
            pki.ca.display(),
            pki.cert.display(),
            pki.key.display()
        )
    };
    let broker =
        Broker(LocalBroker::with_config(&dir, "tls.conf", conf).unwrap_or_else(|e| panic!("{e}")));
    let port = broker.port;
    let scene = |name: &str, ca: &str| {
        write(
            &dir,
            name,
            &format!(
                r#"(name: "tls", origin: (lon: 113.665, lat: 34.754), feeds: ["mqtts://localhost:{port}/city/#"]{ca})"#
            ),
        )
    };
    let trusted = scene("trusted.ron", r#", tls_ca: "ca.pem""#);
    let untrusted = scene("untrusted.ron", "");

    let mut app = headless(load_scene(&trusted));
    wait_until_live(&mut app, "the TLS source to connect");
    let status = Command::new("mosquitto_pub")
        .args(["-h", "localhost", "-p", &port.to_string(), "--cafile"])
        .arg(&pki.ca)
        .args(["-q", "1", "-t", "city/iot", "-m"])
        .arg(msg("device", r#"{"id":"tls-gas","kind":"gas_detector","status":"alarm","position":{"lon":113.666,"lat":34.755}}"#))
        .status()
        .expect(INSTALL_HINT);
    assert!(status.success(), "mosquitto_pub over TLS failed");
    wait_for_entity(&mut app, "tls-gas");

    // Without the CA the broker's certificate is not trusted: refused, retried, said why.
    let mut app = headless(load_scene(&untrusted));
    let why = reconnect_reason(&mut app);
    assert!(why.to_lowercase().contains("certificate"), "{why}");
}

/// Two walls on one spec in one machine: each gets a client id of its own, so
/// neither takes the other's session; both stay connected and both get every order.
#[test]
fn two_instances_on_one_spec_have_their_own_client_ids_and_sessions() {
    use citytwin::feeds::FeedRuntime;
    let dir = temp_dir("mqtt-two-walls");
    let broker = Broker::start(&dir);
    let mut a = app_on(&dir, broker.port);
    let mut b = app_on(&dir, broker.port);
    let name = |app: &bevy::app::App| app.world().resource::<FeedRuntime>().instance.name.clone();
    assert_ne!(name(&a), name(&b));
    for n in 0..5 {
        broker.publish("city/orders", &order(n));
    }
    for app in [&mut a, &mut b] {
        update_until(app, Duration::from_secs(20), "5 orders", |w| {
            w.resource::<WorkOrders>().0.len() == 5
        });
    }
    run_for(&mut a, Duration::from_millis(300));
    run_for(&mut b, Duration::from_millis(300));
    for app in [&a, &b] {
        let s = &app.world().resource::<FeedStats>().sources[0];
        assert_eq!(s.runs(), 1, "never kicked off by the other: {:?}", s.state);
        assert_eq!(s.state, SourceState::Live);
    }
    // Names are stable across restarts: a freed slot is taken again by the next one
    // (a role of this test's own, so no other test takes its slots).
    use citytwin::feeds::secrets::Instance;
    let first = Instance::claim(None, "restart-test");
    let second = Instance::claim(None, "restart-test");
    assert_ne!(first.name, second.name);
    let name = first.name.clone();
    drop(first);
    assert_eq!(Instance::claim(None, "restart-test").name, name);
    assert_eq!(
        Instance::claim(Some("wall-3"), "wall").name,
        "wall-3",
        "configurable"
    );
}

#[test]
fn operator_actions_count_only_on_the_scenes_control_topics() {
    use citytwin::feeds::schema::OperatingMode;
    use citytwin::ops::modes::OperatingState;
    let dir = temp_dir("mqtt-control");
    let broker = Broker::start(&dir);
    let scene = write(
        &dir,
        "scene.ron",
        &format!(
            r#"(name: "control", origin: (lon: 113.665, lat: 34.754), feeds: ["mqtt://127.0.0.1:{}/city/#"], operations: (operators: ["值班员 张"]), security: (control_topics: ["city/control/#"]))"#,
            broker.port
        ),
    );
    let mut app = headless(load_scene(&scene));
    wait_until_live(&mut app, "connected");
    let switch = |mode: &str| {
        msg(
            "operator",
            &format!(
                r#"{{"operator":"值班员 张","command":{{"switch_mode":{{"mode":"{mode}","why":"演练"}}}}}}"#
            ),
        )
    };
    broker.publish("city/iot/sensor-7", &switch("emergency"));
    broker.publish("city/control/wall-1", &switch("major_event"));
    update_until(&mut app, Duration::from_secs(20), "both messages", |w| {
        w.resource::<FeedStats>().sources[0].received == 2
    });
    app.update();
    let s = &app.world().resource::<FeedStats>().sources[0];
    assert_eq!(s.rejected.get("not allowed"), Some(&1), "{:?}", s.rejected);
    let state = app.world().resource::<OperatingState>();
    assert_eq!(state.mode, OperatingMode::MajorEvent);
    assert_eq!(state.history.len(), 1, "only the control topic's switch");
}

/// A broker that requires client certificates: the credentials file's certificate
/// gets in; without it the handshake is refused and the source says so.
#[test]
fn mtls_client_certificates_come_from_the_credentials_file() {
    use std::os::unix::fs::PermissionsExt;
    let dir = temp_dir("mqtt-mtls");
    let pki = test_pki(&dir);
    let conf = |port: u16| {
        format!(
            "listener {port} 127.0.0.1\ncafile {}\ncertfile {}\nkeyfile {}\nrequire_certificate true\nallow_anonymous true\npersistence false\n",
            pki.ca.display(),
            pki.cert.display(),
            pki.key.display()
        )
    };
    let broker =
        Broker(LocalBroker::with_config(&dir, "mtls.conf", conf).unwrap_or_else(|e| panic!("{e}")));
    let port = broker.port;
    let creds = write(
        &dir,
        "credentials.ron",
        &format!(
            r#"[(source: "mqtts://localhost:{port}", client_cert: "client.pem", client_key: "client.key")]"#
        ),
    );
    std::fs::set_permissions(&creds, std::fs::Permissions::from_mode(0o600)).unwrap();
    let scene = |name: &str, security: &str| {
        write(
            &dir,
            name,
            &format!(
                r#"(name: "mtls", origin: (lon: 113.665, lat: 34.754), feeds: ["mqtts://localhost:{port}/city/#"], tls_ca: "ca.pem"{security})"#
            ),
        )
    };
    let with = scene(
        "with.ron",
        r#", security: (credentials: "credentials.ron")"#,
    );
    let without = scene("without.ron", "");

    let mut app = headless(load_scene(&with));
    wait_until_live(&mut app, "the mTLS connection");
    let status = Command::new("mosquitto_pub")
        .args(["-h", "localhost", "-p", &port.to_string(), "--cafile"])
        .arg(&pki.ca)
        .arg("--cert")
        .arg(&pki.client_cert)
        .arg("--key")
        .arg(&pki.client_key)
        .args(["-q", "1", "-t", "city/iot", "-m"])
        .arg(msg("device", r#"{"id":"mtls-gas","kind":"gas_detector","status":"alarm","position":{"lon":113.666,"lat":34.755}}"#))
        .status()
        .expect(INSTALL_HINT);
    assert!(
        status.success(),
        "mosquitto_pub with a client certificate failed"
    );
    update_until(&mut app, Duration::from_secs(20), "the message", |w| {
        w.resource::<FeedEntities>().get("mtls-gas").is_some()
    });

    let mut app = headless(load_scene(&without));
    let why = reconnect_reason(&mut app);
    assert!(
        why.contains("CertificateRequired"),
        "refused without a certificate: {why}"
    );
}
