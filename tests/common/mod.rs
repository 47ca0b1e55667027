//! Helpers shared by the test binaries: temporary scene folders and stepping apps.
#![allow(dead_code)]

use bevy::prelude::*;
use citytwin::TwinOptions;
use citytwin::city::{CityStatus, LoadPhase};
use citytwin::scene::Scene;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// A fresh folder under the target dir, removed and recreated for each test.
pub fn temp_dir(name: &str) -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join(name);
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("create test folder");
    dir
}

pub fn write(dir: &Path, name: &str, text: &str) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, text).expect("write fixture");
    path
}

pub fn repo_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

pub fn load_scene(path: &Path) -> Scene {
    Scene::load(path).unwrap_or_else(|e| panic!("fixture scene does not load: {e}"))
}

pub fn headless(scene: Scene) -> App {
    let options = TwinOptions::from_scene(scene).expect("fixture feeds parse");
    citytwin::headless_app(&options)
}

/// A headless app on a scene with no layers and no feeds, in a fresh folder `name`:
/// the test pushes its messages into the feed channel itself.
pub fn bare_app(name: &str) -> App {
    let scene = write(
        &temp_dir(name),
        "scene.ron",
        r#"(name: "bare", origin: (lon: 113.665, lat: 34.754))"#,
    );
    headless(load_scene(&scene))
}

/// Steps the app until `done` holds, failing after `limit`.
pub fn update_until(app: &mut App, limit: Duration, what: &str, done: impl Fn(&World) -> bool) {
    let started = Instant::now();
    while !done(app.world()) {
        assert!(started.elapsed() < limit, "timed out waiting for {what}");
        app.update();
        std::thread::sleep(Duration::from_millis(2));
    }
}

/// Steps the app until its first feed source is live.
pub fn wait_until_live(app: &mut App, what: &str) {
    wait_for_state(
        app,
        Duration::from_secs(20),
        what,
        citytwin::feeds::SourceState::Live,
    );
}

/// Steps the app until its first feed source is in `state`, failing after `limit`.
pub fn wait_for_state(
    app: &mut App,
    limit: Duration,
    what: &str,
    state: citytwin::feeds::SourceState,
) {
    use citytwin::feeds::ingest::FeedStats;
    update_until(app, limit, what, |w| {
        w.resource::<FeedStats>()
            .sources
            .first()
            .is_some_and(|s| s.state == state)
    });
}

/// Steps the app until a feed id has an entity.
pub fn wait_for_entity(app: &mut App, id: &str) {
    use citytwin::feeds::ingest::FeedEntities;
    update_until(app, Duration::from_secs(20), id, |w| {
        w.resource::<FeedEntities>().get(id).is_some()
    });
}

/// Steps the app for a while, e.g. to let late or duplicate messages arrive.
pub fn run_for(app: &mut App, duration: Duration) {
    let until = Instant::now() + duration;
    while Instant::now() < until {
        app.update();
    }
}

pub fn wait_for_city(app: &mut App) {
    update_until(app, Duration::from_secs(120), "the city to load", |w| {
        w.resource::<CityStatus>().phase == LoadPhase::Ready
    });
    // One more frame so the spatial index sees the CityLoaded message.
    app.update();
}

/// A GeoJSON FeatureCollection from (properties, geometry) JSON snippets.
pub fn collection(features: &[(&str, &str)]) -> String {
    let items: Vec<String> = features
        .iter()
        .map(|(props, geom)| {
            format!(r#"{{"type":"Feature","properties":{props},"geometry":{geom}}}"#)
        })
        .collect();
    format!(
        r#"{{"type":"FeatureCollection","features":[{}]}}"#,
        items.join(",")
    )
}

/// A test certificate authority and a server certificate it signed for `localhost`
/// and 127.0.0.1, written as PEM files.
pub struct Pki {
    pub ca: PathBuf,
    pub cert: PathBuf,
    pub key: PathBuf,
    /// A client certificate the CA signed (for brokers that require one).
    pub client_cert: PathBuf,
    pub client_key: PathBuf,
}

pub fn test_pki(dir: &Path) -> Pki {
    use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, Issuer, KeyPair};
    let mut ca_params = CertificateParams::new(Vec::<String>::new()).expect("CA params");
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca_params
        .distinguished_name
        .push(DnType::CommonName, "citytwin test CA");
    let ca_key = KeyPair::generate().expect("CA key");
    let ca_cert = ca_params.self_signed(&ca_key).expect("CA certificate");
    let issuer = Issuer::new(ca_params, ca_key);
    let mut params = CertificateParams::new(vec!["localhost".to_string(), "127.0.0.1".to_string()])
        .expect("server params");
    params
        .distinguished_name
        .push(DnType::CommonName, "localhost");
    let key = KeyPair::generate().expect("server key");
    let cert = params.signed_by(&key, &issuer).expect("server certificate");
    let mut client = CertificateParams::new(Vec::<String>::new()).expect("client params");
    client
        .distinguished_name
        .push(DnType::CommonName, "citytwin wall");
    let client_key = KeyPair::generate().expect("client key");
    let client_cert = client
        .signed_by(&client_key, &issuer)
        .expect("client certificate");
    Pki {
        ca: write(dir, "ca.pem", &ca_cert.pem()),
        cert: write(dir, "server.pem", &cert.pem()),
        key: write(dir, "server.key", &key.serialize_pem()),
        client_cert: write(dir, "client.pem", &client_cert.pem()),
        client_key: write(dir, "client.key", &client_key.serialize_pem()),
    }
}

/// Steps the app until its first feed source is reconnecting; returns why.
pub fn reconnect_reason(app: &mut App) -> String {
    use citytwin::feeds::SourceState;
    use citytwin::feeds::ingest::FeedStats;
    let reason = |w: &World| match w.resource::<FeedStats>().sources.first().map(|s| &s.state) {
        Some(SourceState::Reconnecting(why)) => Some(why.clone()),
        _ => None,
    };
    update_until(
        app,
        Duration::from_secs(30),
        "the source to reconnect",
        |w| reason(w).is_some(),
    );
    reason(app.world()).unwrap_or_default()
}

/// Pushes one feed message (envelope v1, `ts`, `kind`, `data` as JSON) into the app's
/// feed channel as if its first source had received it.
pub fn push_message(app: &App, ts: &str, kind: &str, data: &str) {
    use citytwin::feeds::schema::FeedMessage;
    use citytwin::feeds::{FeedChannel, FeedEvent};
    let text = format!(r#"{{"v":1,"ts":"{ts}","kind":"{kind}","data":{data}}}"#);
    let message = FeedMessage::decode(&text).unwrap_or_else(|e| panic!("{text}: {e}"));
    app.world()
        .resource::<FeedChannel>()
        .sender
        .send(FeedEvent::Message { source: 0, message })
        .expect("channel open");
}

/// A headless twin playing `file` (in `dir`) as fast as it goes, once it has played
/// it to the end.
pub fn played_to_the_end(dir: &Path, file: &str) -> App {
    write(
        dir,
        "scene.ron",
        &format!(
            r#"(name: "replay", origin: (lon: 113.665, lat: 34.754), feeds: ["replay:{file}@max"])"#
        ),
    );
    let mut app = headless(load_scene(&dir.join("scene.ron")));
    wait_for_state(
        &mut app,
        Duration::from_secs(60),
        "the replay to finish",
        citytwin::feeds::SourceState::Finished,
    );
    app
}
