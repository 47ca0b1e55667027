//! HTTP sources against a real HTTP server (hyper) running in the test process:
//! a polled JSON endpoint with ETags, NDJSON and server-sent-event streams, a
//! failing endpoint and a hanging one.

use crate::common::*;
use bytes::Bytes;
use citytwin::feeds::SourceState;
use citytwin::feeds::ingest::{FeedEntities, FeedStats, Status, WorkOrders};
use citytwin::feeds::schema::{DeviceStatus, OrderStatus};
use http_body_util::Full;
use hyper::{Request, Response, body::Incoming, server::conn::http1, service::service_fn};
use hyper_util::rt::TokioIo;
use std::convert::Infallible;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

#[derive(Default)]
struct Counters {
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

async fn snapshot(path: &str, counters: &Counters) -> Response<Full<Bytes>> {
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

fn response(status: u16, content_type: &str, body: impl Into<Bytes>) -> Response<Full<Bytes>> {
    Response::builder()
        .status(status)
        .header("content-type", content_type)
        .body(Full::new(body.into()))
        .expect("valid response")
}

async fn handle(
    req: Request<Incoming>,
    counters: Arc<Counters>,
) -> Result<Response<Full<Bytes>>, Infallible> {
    let r = match req.uri().path() {
        p if p.starts_with("/cam/") => snapshot(p, &counters).await,
        "/orders.json" => {
            counters.polls.fetch_add(1, Ordering::SeqCst);
            if req.headers().get("if-none-match").is_some_and(|v| v == "\"v1\"") {
                counters.not_modified.fetch_add(1, Ordering::SeqCst);
                Response::builder().status(304).body(Full::new(Bytes::new())).expect("valid")
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
    update_until(
        &mut app,
        Duration::from_secs(20),
        "the retry to succeed",
        |w| w.resource::<FeedEntities>().get("b-1").is_some(),
    );
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
    let mut app = headless(load_scene(&scene("trusted.ron", r#", tls_ca: "ca.pem""#)));
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
