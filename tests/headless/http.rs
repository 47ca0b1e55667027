//! HTTP sources against a real HTTP server (hyper) running in the test process:
//! a polled JSON endpoint with ETags, NDJSON and server-sent-event streams, a
//! failing endpoint and a hanging one.

use crate::common::*;
use bytes::Bytes;
use citytwin::feeds::SourceState;
use citytwin::feeds::ingest::{FeedEntities, FeedStats, Status, WorkOrders};
use citytwin::feeds::schema::{DeviceStatus, OrderStatus};
use http_body_util::combinators::BoxBody;
use http_body_util::{BodyExt, Full};
use hyper::{Request, Response, body::Incoming, server::conn::http1, service::service_fn};
use hyper_util::rt::TokioIo;
use std::convert::Infallible;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

type Body = BoxBody<Bytes, Infallible>;

#[derive(Default)]
struct Counters {
    /// Connections opened per streaming path.
    stream_opens: std::sync::Mutex<std::collections::BTreeMap<String, usize>>,
    /// Authorization headers seen on /auth.json.
    auth_seen: std::sync::Mutex<Vec<String>>,
    polls: AtomicUsize,
    not_modified: AtomicUsize,
    broken: AtomicUsize,
    snapshots: AtomicUsize,
    snapshots_in_flight: AtomicUsize,
    most_snapshots_in_flight: AtomicUsize,
}

/// A 1280×720 PNG: white with a black square in the top-left corner.
fn big_png() -> Vec<u8> {
    let img = image::RgbaImage::from_fn(1280, 720, |x, y| {
        if x < 128 && y < 128 {
            image::Rgba([0, 0, 0, 255])
        } else {
            image::Rgba([255, 255, 255, 255])
        }
    });
    let mut out = std::io::Cursor::new(Vec::new());
    img.write_to(&mut out, image::ImageFormat::Png)
        .expect("encode PNG");
    out.into_inner()
}

async fn snapshot(path: &str, counters: &Counters) -> Response<Body> {
    counters.snapshots.fetch_add(1, Ordering::SeqCst);
    let jpeg =
        || std::fs::read(repo_root().join("tests/fixtures/camera-red-blue.jpg")).expect("fixture");
    match path {
        "/cam/red-blue.jpg" => response(200, "image/jpeg", jpeg()),
        "/cam/big.png" => response(200, "image/png", big_png()),
        p if p.starts_with("/cam/slow-") => {
            let now = counters.snapshots_in_flight.fetch_add(1, Ordering::SeqCst) + 1;
            counters
                .most_snapshots_in_flight
                .fetch_max(now, Ordering::SeqCst);
            tokio::time::sleep(Duration::from_millis(300)).await;
            counters.snapshots_in_flight.fetch_sub(1, Ordering::SeqCst);
            response(200, "image/jpeg", jpeg())
        }
        "/cam/hang.jpg" => {
            tokio::time::sleep(Duration::from_secs(3600)).await;
            response(200, "image/jpeg", jpeg())
        }
        "/cam/garbage.jpg" => response(200, "image/jpeg", "<html>camera offline</html>"),
        _ => response(404, "text/plain", "no such camera"),
    }
}

fn msg(ts: &str, kind: &str, data: &str) -> String {
    format!(r#"{{"v":1,"ts":"2026-11-23T10:00:{ts}+08:00","kind":"{kind}","data":{data}}}"#)
}

fn response(status: u16, content_type: &str, body: impl Into<Bytes>) -> Response<Body> {
    Response::builder()
        .status(status)
        .header("content-type", content_type)
        .body(Full::new(body.into()).boxed())
        .expect("valid response")
}

/// A body written over time: `parts` sent `every` apart, then the connection is held
/// open (never ended) until the server stops.
fn slow_body(content_type: &str, parts: Vec<String>, every: Duration) -> Response<Body> {
    let (mut tx, body) = http_body_util::channel::Channel::<Bytes, Infallible>::new(4);
    tokio::spawn(async move {
        for part in parts {
            tokio::time::sleep(every).await;
            if tx.send_data(Bytes::from(part)).await.is_err() {
                return;
            }
        }
        // Held open: a client that reconnects would show up in `stream_opens`.
        tokio::time::sleep(Duration::from_secs(3600)).await;
        drop(tx);
    });
    Response::builder()
        .status(200)
        .header("content-type", content_type)
        .body(body.boxed())
        .expect("valid response")
}

/// Messages for the long-stream test: devices `{prefix}-0` … `{prefix}-7`.
fn numbered(prefix: &str) -> Vec<String> {
    (0..8)
        .map(|i| {
            msg(
                &format!("{:02}", 10 + i),
                "device",
                &format!(
                    r#"{{"id":"{prefix}-{i}","kind":"water_pressure","status":"online","position":{{"lon":113.666,"lat":34.755}}}}"#
                ),
            )
        })
        .collect()
}

async fn handle(
    req: Request<Incoming>,
    counters: Arc<Counters>,
) -> Result<Response<Body>, Infallible> {
    let path = req.uri().path().to_string();
    if path.starts_with("/long") {
        *counters
            .stream_opens
            .lock()
            .unwrap()
            .entry(path.clone())
            .or_default() += 1;
    }
    let r = match path.as_str() {
        "/long.ndjson" => slow_body(
            "application/x-ndjson",
            numbered("nd").into_iter().map(|m| m + "\n").collect(),
            Duration::from_millis(400),
        ),
        "/long-events" => slow_body(
            "text/event-stream",
            numbered("sse")
                .into_iter()
                .map(|m| format!("data: {m}\n\n"))
                .collect(),
            Duration::from_millis(400),
        ),
        "/huge-event" => {
            // One SSE event of 40 data lines of 32 KiB (1.25 MiB in all), then a small one.
            let line = format!("data: {}\n", "x".repeat(32 << 10));
            let mut body = line.repeat(40);
            body.push('\n');
            body.push_str(&format!(
                "data: {}\n\n",
                msg("20", "device", r#"{"id":"after-huge","kind":"other","status":"online","position":{"lon":113.666,"lat":34.755}}"#)
            ));
            slow_body("text/event-stream", vec![body], Duration::from_millis(1))
        }
        "/trickle.json" => slow_body(
            "application/json",
            "[                                        ]".chars().map(String::from).collect(),
            Duration::from_millis(100),
        ),
        "/auth.json" => {
            let auth = req
                .headers()
                .get("authorization")
                .and_then(|v| v.to_str().ok())
                .unwrap_or("")
                .to_string();
            counters.auth_seen.lock().unwrap().push(auth.clone());
            // "ops:s3cret" and a bearer token, as the tests send them.
            if auth == "Basic b3BzOnMzY3JldA==" || auth == "Bearer tok-123" {
                response(200, "application/json", msg("21", "device", r#"{"id":"authed","kind":"other","status":"online","position":{"lon":113.666,"lat":34.755}}"#))
            } else {
                response(401, "text/plain", "who are you")
            }
        }
        "/redirect-same" => Response::builder()
            .status(302)
            .header("location", "/orders.json")
            .body(Full::new(Bytes::new()).boxed())
            .expect("valid"),
        "/redirect-away" => {
            let port = req
                .headers()
                .get("host")
                .and_then(|h| h.to_str().ok())
                .and_then(|h| h.rsplit_once(':'))
                .map(|(_, p)| p.to_string())
                .unwrap_or_default();
            Response::builder()
                .status(302)
                .header("location", format!("http://localhost:{port}/orders.json"))
                .body(Full::new(Bytes::new()).boxed())
                .expect("valid")
        }
        p if p.starts_with("/cam/") => snapshot(p, &counters).await,
        "/orders.json" => {
            counters.polls.fetch_add(1, Ordering::SeqCst);
            if req.headers().get("if-none-match").is_some_and(|v| v == "\"v1\"") {
                counters.not_modified.fetch_add(1, Ordering::SeqCst);
                Response::builder().status(304).body(Full::new(Bytes::new()).boxed()).expect("valid")
            } else {
                let body = format!(
                    "[{},{}]",
                    msg("00", "work_order", r#"{"id":"h-1","source":"hotline12345","category":"traffic","text":"信号灯故障","status":"dispatched"}"#),
                    msg("00", "work_order", r#"{"id":"h-2","source":"ai_detection","category":"environment","text":"占道经营","status":"reported"}"#)
                );
                let mut r = response(200, "application/json", body);
                r.headers_mut().insert("etag", "\"v1\"".parse().expect("header"));
                r
            }
        }
        "/devices.ndjson" => response(
            200,
            "application/x-ndjson",
            [
                msg("01", "device", r#"{"id":"n-1","kind":"water_pressure","status":"online","position":{"lon":113.666,"lat":34.755}}"#),
                "garbled".to_string(),
                msg("02", "device", r#"{"id":"n-1","kind":"water_pressure","status":"alarm"}"#),
            ]
            .join("\n")
                + "\n",
        ),
        "/events" => response(
            200,
            "text/event-stream",
            format!(
                ": a comment\nevent: update\ndata: {}\n\ndata: {}\n\n",
                msg("03", "camera", r#"{"id":"s-cam","status":"online","position":{"lon":113.664,"lat":34.753}}"#),
                msg("04", "camera", r#"{"id":"s-cam","status":"offline"}"#)
            ),
        ),
        "/broken" => {
            if counters.broken.fetch_add(1, Ordering::SeqCst) < 2 {
                response(500, "text/plain", "database down")
            } else {
                response(200, "application/json", msg("05", "device", r#"{"id":"b-1","kind":"other","status":"online","position":{"lon":113.666,"lat":34.755}}"#))
            }
        }
        "/hang" => {
            tokio::time::sleep(Duration::from_secs(3600)).await;
            response(200, "application/json", "[]")
        }
        _ => response(404, "text/plain", "no such feed"),
    };
    Ok(r)
}

/// Starts the server on a free loopback port; it runs until the runtime is dropped.
fn serve() -> (tokio::runtime::Runtime, u16, Arc<Counters>) {
    serve_on(None)
}

/// The same server over TLS with the test PKI's server certificate.
fn serve_tls(pki: &Pki) -> (tokio::runtime::Runtime, u16, Arc<Counters>) {
    use rustls_pki_types::pem::PemObject;
    use rustls_pki_types::{CertificateDer, PrivateKeyDer};
    let certs = CertificateDer::pem_file_iter(&pki.cert)
        .unwrap()
        .collect::<Result<Vec<_>, _>>()
        .unwrap();
    let key = PrivateKeyDer::from_pem_file(&pki.key).unwrap();
    let config = rustls::ServerConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .unwrap()
    .with_no_client_auth()
    .with_single_cert(certs, key)
    .unwrap();
    serve_on(Some(tokio_rustls::TlsAcceptor::from(Arc::new(config))))
}

fn serve_on(
    tls: Option<tokio_rustls::TlsAcceptor>,
) -> (tokio::runtime::Runtime, u16, Arc<Counters>) {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap();
    let listener = rt
        .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
        .unwrap();
    let port = listener.local_addr().unwrap().port();
    let counters = Arc::new(Counters::default());
    let c = counters.clone();
    rt.spawn(async move {
        loop {
            let Ok((stream, _)) = listener.accept().await else {
                return;
            };
            let (c, tls) = (c.clone(), tls.clone());
            tokio::spawn(async move {
                let service = service_fn(move |req| handle(req, c.clone()));
                let _ = match tls {
                    Some(acceptor) => {
                        let Ok(stream) = acceptor.accept(stream).await else {
                            return; // a client that does not trust us hangs up
                        };
                        http1::Builder::new()
                            .serve_connection(TokioIo::new(stream), service)
                            .await
                    }
                    None => {
                        http1::Builder::new()
                            .serve_connection(TokioIo::new(stream), service)
                            .await
                    }
                };
            });
        }
    });
    (rt, port, counters)
}

fn app_with(feed: &str, name: &str) -> bevy::app::App {
    let dir = temp_dir(name);
    let scene = write(
        &dir,
        "scene.ron",
        &format!(r#"(name: "http", origin: (lon: 113.665, lat: 34.754), feeds: ["{feed}"])"#),
    );
    headless(load_scene(&scene))
}

#[test]
fn polled_json_endpoint_honours_etags() {
    let (_server, port, counters) = serve();
    let mut app = app_with(
        &format!("http://127.0.0.1:{port}/orders.json#every=100ms"),
        "http-poll",
    );
    update_until(&mut app, Duration::from_secs(20), "two 304 answers", |_| {
        counters.not_modified.load(Ordering::SeqCst) >= 2
    });
    app.update();
    let orders = &app.world().resource::<WorkOrders>().0;
    assert_eq!(orders.len(), 2);
    assert_eq!(orders["h-1"].status, OrderStatus::Dispatched);
    let stats = &app.world().resource::<FeedStats>().sources[0];
    assert_eq!(stats.applied, 2, "unchanged polls apply nothing again");
    assert_eq!(stats.state, SourceState::Live);
}

#[test]
fn ndjson_and_sse_streams_drive_entities() {
    let (_server, port, _) = serve();
    let dir = temp_dir("http-streams");
    let scene = write(
        &dir,
        "scene.ron",
        &format!(
            r#"(name: "s", origin: (lon: 113.665, lat: 34.754), feeds: ["http://127.0.0.1:{port}/devices.ndjson", "http://127.0.0.1:{port}/events"])"#
        ),
    );
    let mut app = headless(load_scene(&scene));
    update_until(&mut app, Duration::from_secs(20), "both streams", |w| {
        let e = w.resource::<FeedEntities>();
        let status = |id| e.get(id).and_then(|e| w.get::<Status>(e)).map(|s| s.0);
        status("n-1") == Some(DeviceStatus::Alarm) && status("s-cam") == Some(DeviceStatus::Offline)
    });
    let stats = &app.world().resource::<FeedStats>().sources;
    assert!(
        stats[0].rejected.get("malformed").is_some_and(|n| *n >= 1),
        "{:?}",
        stats[0].rejected
    );
    assert_eq!(
        stats[1].rejected_total(),
        0,
        "SSE comments and event names are not messages"
    );
}

#[test]
fn http_500_is_retried_and_recovers() {
    let (_server, port, counters) = serve();
    let mut app = app_with(
        &format!("http://127.0.0.1:{port}/broken#every=100ms"),
        "http-500",
    );
    wait_for_entity(&mut app, "b-1");
    assert!(counters.broken.load(Ordering::SeqCst) >= 3);
}

#[test]
fn hanging_endpoint_times_out_and_is_reported() {
    let (_server, port, _) = serve();
    let mut app = app_with(
        &format!("http://127.0.0.1:{port}/hang#timeout=300ms"),
        "http-hang",
    );
    let why = reconnect_reason(&mut app);
    assert!(why.contains("/hang"), "{why}");
    app.update();
}

#[test]
fn camera_snapshots_are_fetched_on_demand_cached_bounded_and_fail_clearly() {
    use citytwin::feeds::snapshot::{MAX_CONCURRENT, MAX_SIDE, SnapshotCache, SnapshotState};
    let (_server, port, counters) = serve();
    let mut app = bare_app("http-snapshots");
    app.update();
    app.world_mut()
        .resource_mut::<SnapshotCache>()
        .allowed_hosts = vec!["127.0.0.1".into()];
    let url = |path: &str| format!("http://127.0.0.1:{port}/cam/{path}");
    let want = |app: &mut bevy::app::App, id: &str, path: &str| {
        app.world_mut()
            .resource_mut::<SnapshotCache>()
            .want(id, &url(path));
    };
    let state = |app: &bevy::app::App, id: &str| {
        app.world()
            .resource::<SnapshotCache>()
            .get(id)
            .map(|s| s.state.clone())
    };
    let settled = |w: &bevy::prelude::World, ids: &[&str]| {
        ids.iter().all(|id| {
            w.resource::<SnapshotCache>()
                .get(id)
                .is_some_and(|s| !matches!(s.state, SnapshotState::Loading))
        })
    };

    want(&mut app, "cam-jpeg", "red-blue.jpg");
    want(&mut app, "cam-png", "big.png");
    want(&mut app, "cam-404", "missing.jpg");
    want(&mut app, "cam-garbage", "garbage.jpg");
    want(&mut app, "cam-hang", "hang.jpg");
    let ids = ["cam-jpeg", "cam-png", "cam-404", "cam-garbage", "cam-hang"];
    update_until(&mut app, Duration::from_secs(20), "the snapshots", |w| {
        settled(w, &ids)
    });

    let Some(SnapshotState::Ready(jpeg)) = state(&app, "cam-jpeg") else {
        panic!("jpeg: {:?}", state(&app, "cam-jpeg"));
    };
    assert_eq!((jpeg.width, jpeg.height), (320, 240));
    let [r, g, b, a] = jpeg.pixel(40, 120);
    assert!(
        r > 180 && g < 80 && b < 80 && a == 255,
        "left half red: {:?}",
        jpeg.pixel(40, 120)
    );
    let [r, _, b, _] = jpeg.pixel(280, 120);
    assert!(
        b > 180 && r < 80,
        "right half blue: {:?}",
        jpeg.pixel(280, 120)
    );

    let Some(SnapshotState::Ready(png)) = state(&app, "cam-png") else {
        panic!("png: {:?}", state(&app, "cam-png"));
    };
    assert_eq!((png.width, png.height), (MAX_SIDE, 360), "scaled to fit");
    assert!(png.pixel(10, 10)[0] < 40 && png.pixel(600, 300)[0] > 220);

    let failed = |id: &str| match state(&app, id) {
        Some(SnapshotState::Failed(why)) => why,
        other => panic!("{id}: {other:?}"),
    };
    assert!(failed("cam-404").contains("404"), "{}", failed("cam-404"));
    assert!(
        failed("cam-garbage").contains("neither JPEG nor PNG"),
        "{}",
        failed("cam-garbage")
    );
    assert!(
        failed("cam-hang").contains("timed out"),
        "{}",
        failed("cam-hang")
    );

    // Asked again while fresh: served from the cache.
    let hits = counters.snapshots.load(Ordering::SeqCst);
    want(&mut app, "cam-jpeg", "red-blue.jpg");
    app.update();
    assert_eq!(counters.snapshots.load(Ordering::SeqCst), hits);

    // Ten slow cameras at once: never more than MAX_CONCURRENT fetches in flight.
    let slow: Vec<String> = (0..10).map(|i| format!("slow-{i}")).collect();
    for id in &slow {
        want(&mut app, id, &format!("{id}.jpg"));
    }
    let slow_ids: Vec<&str> = slow.iter().map(String::as_str).collect();
    update_until(
        &mut app,
        Duration::from_secs(20),
        "the slow snapshots",
        |w| settled(w, &slow_ids),
    );
    for id in &slow_ids {
        assert!(
            matches!(state(&app, id), Some(SnapshotState::Ready(_))),
            "{id}"
        );
    }
    let most = counters.most_snapshots_in_flight.load(Ordering::SeqCst);
    assert!(
        (2..=MAX_CONCURRENT).contains(&most),
        "{most} fetches at once (limit {MAX_CONCURRENT})"
    );
}

#[test]
fn https_feeds_and_snapshots_trust_the_scene_ca_and_refuse_unknown_certificates() {
    use citytwin::feeds::snapshot::{SnapshotCache, SnapshotState};
    let dir = temp_dir("http-tls");
    let pki = test_pki(&dir);
    let (_server, port, _) = serve_tls(&pki);
    let scene = |name: &str, ca: &str| {
        write(
            &dir,
            name,
            &format!(
                r#"(name: "https", origin: (lon: 113.665, lat: 34.754), feeds: ["https://localhost:{port}/orders.json#every=200ms"]{ca})"#
            ),
        )
    };
    let mut app = headless(load_scene(&scene(
        "trusted.ron",
        r#", tls_ca: "ca.pem", security: (snapshot_hosts: ["localhost"])"#,
    )));
    update_until(
        &mut app,
        Duration::from_secs(20),
        "orders over https",
        |w| w.resource::<WorkOrders>().0.contains_key("h-1"),
    );
    app.world_mut().resource_mut::<SnapshotCache>().want(
        "cam-tls",
        &format!("https://localhost:{port}/cam/red-blue.jpg"),
    );
    update_until(
        &mut app,
        Duration::from_secs(20),
        "a snapshot over https",
        |w| {
            w.resource::<SnapshotCache>()
                .get("cam-tls")
                .is_some_and(|s| !matches!(s.state, SnapshotState::Loading))
        },
    );
    let state = app
        .world()
        .resource::<SnapshotCache>()
        .get("cam-tls")
        .map(|s| s.state.clone());
    assert!(matches!(state, Some(SnapshotState::Ready(_))), "{state:?}");

    // The system's roots alone do not include our test CA.
    let mut app = headless(load_scene(&scene("untrusted.ron", "")));
    let why = reconnect_reason(&mut app);
    assert!(why.to_lowercase().contains("certificate"), "{why}");
}

/// Streams are not cut by the request timeout: one connection each, held for longer
/// than `timeout` and `idle`, delivers every message exactly once.
#[test]
fn ndjson_and_sse_streams_stay_open_past_every_timeout_and_deliver_each_message_once() {
    let (_server, port, counters) = serve();
    let dir = temp_dir("http-long-streams");
    // 8 messages 400 ms apart: 3.2 s, past timeout (300 ms) and idle (1.5 s) alike.
    let opts = "#timeout=300ms&idle=1500ms";
    let scene = write(
        &dir,
        "scene.ron",
        &format!(
            r#"(name: "s", origin: (lon: 113.665, lat: 34.754), feeds: ["http://127.0.0.1:{port}/long.ndjson{opts}", "http://127.0.0.1:{port}/long-events{opts}"])"#
        ),
    );
    let mut app = headless(load_scene(&scene));
    update_until(&mut app, Duration::from_secs(30), "16 messages", |w| {
        w.resource::<FeedStats>()
            .sources
            .iter()
            .map(|s| s.applied)
            .sum::<u64>()
            >= 16
    });
    // Longer than the idle limit again with nothing sent: the held stream is reopened
    // then, but nothing is delivered twice.
    run_for(&mut app, Duration::from_millis(500));
    let stats = &app.world().resource::<FeedStats>().sources;
    for (s, prefix) in stats.iter().zip(["nd", "sse"]) {
        assert_eq!((s.received, s.applied), (8, 8), "{}: {s:?}", s.label);
        assert_eq!(s.runs(), 1, "{}: one connection while it talked", s.label);
        let e = app.world().resource::<FeedEntities>();
        for i in 0..8 {
            assert!(e.get(&format!("{prefix}-{i}")).is_some(), "{prefix}-{i}");
        }
    }
    let opens = counters.stream_opens.lock().unwrap().clone();
    assert_eq!(opens.get("/long.ndjson"), Some(&1), "{opens:?}");
    assert_eq!(opens.get("/long-events"), Some(&1), "{opens:?}");
}

#[test]
fn a_trickling_document_times_out_and_an_oversized_sse_event_is_dropped_alone() {
    let (_server, port, _) = serve();
    let mut app = app_with(
        &format!("http://127.0.0.1:{port}/trickle.json#timeout=500ms"),
        "http-trickle",
    );
    let why = reconnect_reason(&mut app);
    assert!(why.contains("not complete within"), "{why}");

    let mut app = app_with(
        &format!("http://127.0.0.1:{port}/huge-event"),
        "http-huge-event",
    );
    update_until(&mut app, Duration::from_secs(20), "the event after", |w| {
        w.resource::<FeedEntities>().get("after-huge").is_some()
    });
    let s = &app.world().resource::<FeedStats>().sources[0];
    assert_eq!(s.rejected.get("too large"), Some(&1), "{:?}", s.rejected);
}

#[test]
fn credentials_in_a_url_are_used_and_never_shown() {
    let (_server, port, counters) = serve();
    let dir = temp_dir("http-secret");
    let spec = format!("http://ops:s3cret@127.0.0.1:{port}/auth.json?token=t0k3n#every=200ms");
    let scene = write(
        &dir,
        "scene.ron",
        &format!(r#"(name: "s", origin: (lon: 113.665, lat: 34.754), feeds: ["{spec}"])"#),
    );
    let scene = load_scene(&scene);
    let report = citytwin::check::check(&scene).to_string();
    let mut app = headless(scene);
    wait_for_entity(&mut app, "authed");
    assert!(
        counters
            .auth_seen
            .lock()
            .unwrap()
            .iter()
            .all(|a| a == "Basic b3BzOnMzY3JldA=="),
        "sent as basic auth"
    );
    let s = &app.world().resource::<FeedStats>().sources[0];
    let shown = format!("{} {:?} {:?} {report}", s.label, s.state, s.last_problem);
    for secret in ["s3cret", "t0k3n"] {
        assert!(!shown.contains(secret), "{secret} in {shown}");
    }
    assert!(s.label.contains("127.0.0.1"), "{}", s.label);
    assert!(
        s.last_problem
            .as_deref()
            .is_some_and(|p| p.contains("credentials file")),
        "warned: {:?}",
        s.last_problem
    );

    // `record`: neither the header nor what it prints carries them.
    let out = dir.join("rec.ndjson");
    let config = citytwin::feeds::FeedConfig {
        sources: citytwin::feeds::resolve(std::slice::from_ref(&spec), &dir, &Default::default())
            .unwrap(),
        ..Default::default()
    };
    let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    citytwin::feeds::record::record(&config, &out, Some(Duration::from_millis(800)), stop)
        .expect("record");
    let text = std::fs::read_to_string(&out).unwrap();
    assert!(text.contains("authed"), "{text}");
    assert!(
        !text.contains("s3cret") && !text.contains("t0k3n"),
        "{text}"
    );
}

#[test]
fn a_bearer_token_comes_from_a_private_credentials_file_only() {
    use std::os::unix::fs::PermissionsExt;
    let (_server, port, counters) = serve();
    let dir = temp_dir("http-credentials");
    let creds = write(
        &dir,
        "credentials.ron",
        &format!(r#"[(source: "http://127.0.0.1:{port}/", bearer: "tok-123")]"#),
    );
    let scene = write(
        &dir,
        "scene.ron",
        &format!(
            r#"(name: "s", origin: (lon: 113.665, lat: 34.754), feeds: ["http://127.0.0.1:{port}/auth.json#every=200ms"], security: (credentials: "credentials.ron"))"#
        ),
    );
    std::fs::set_permissions(&creds, std::fs::Permissions::from_mode(0o644)).unwrap();
    let err = citytwin::TwinOptions::from_scene(load_scene(&scene))
        .expect_err("a file others can read is refused")
        .to_string();
    assert!(
        err.contains("chmod 600") && !err.contains("tok-123"),
        "{err}"
    );

    std::fs::set_permissions(&creds, std::fs::Permissions::from_mode(0o600)).unwrap();
    let mut app = headless(load_scene(&scene));
    wait_for_entity(&mut app, "authed");
    assert!(
        counters
            .auth_seen
            .lock()
            .unwrap()
            .contains(&"Bearer tok-123".to_string())
    );
}

#[test]
fn redirects_stay_on_the_host_and_snapshots_only_go_where_the_scene_allows() {
    use citytwin::feeds::snapshot::{SnapshotCache, SnapshotState};
    let (_server, port, counters) = serve();
    let mut app = app_with(
        &format!("http://127.0.0.1:{port}/redirect-same#every=200ms"),
        "http-redirect-same",
    );
    update_until(
        &mut app,
        Duration::from_secs(20),
        "orders via a redirect",
        |w| w.resource::<WorkOrders>().0.contains_key("h-1"),
    );
    let mut app = app_with(
        &format!("http://127.0.0.1:{port}/redirect-away#every=200ms"),
        "http-redirect-away",
    );
    let why = reconnect_reason(&mut app);
    assert!(why.contains("redirect to http://localhost"), "{why}");
    assert!(why.contains("redirect_hosts"), "{why}");

    // Snapshots: a host the scene does not list is never contacted.
    let dir = temp_dir("http-snapshot-hosts");
    let scene = write(
        &dir,
        "scene.ron",
        r#"(name: "s", origin: (lon: 113.665, lat: 34.754), security: (snapshot_hosts: ["localhost"]))"#,
    );
    let mut app = headless(load_scene(&scene));
    app.update();
    let before = counters.snapshots.load(Ordering::SeqCst);
    let mut cache = app.world_mut().resource_mut::<SnapshotCache>();
    cache.want(
        "internal",
        &format!("http://127.0.0.1:{port}/cam/red-blue.jpg?token=abc"),
    );
    cache.want(
        "listed",
        &format!("http://localhost:{port}/cam/red-blue.jpg"),
    );
    update_until(
        &mut app,
        Duration::from_secs(20),
        "the listed snapshot",
        |w| {
            w.resource::<SnapshotCache>()
                .get("listed")
                .is_some_and(|s| matches!(s.state, SnapshotState::Ready(_)))
        },
    );
    let cache = app.world().resource::<SnapshotCache>();
    let Some(SnapshotState::Failed(why)) = cache.get("internal").map(|s| s.state.clone()) else {
        panic!("the unlisted host was not refused");
    };
    assert!(
        why.contains("snapshot_hosts") && !why.contains("abc"),
        "{why}"
    );
    assert_eq!(
        counters.snapshots.load(Ordering::SeqCst),
        before + 1,
        "one fetch"
    );
}
