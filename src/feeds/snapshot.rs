//! Camera snapshots, fetched on demand: when a camera is shown (selected on the wall)
//! its `snapshot_url` is fetched with reqwest on a small runtime of its own, at most
//! [`MAX_CONCURRENT`] at a time, each within [`TIMEOUT`] and [`MAX_BYTES`], decoded
//! (JPEG or PNG) off the render thread, scaled to at most [`MAX_SIDE`] pixels, and
//! kept in an LRU cache of [`CACHE_ENTRIES`] pictures, refreshed after
//! [`REFRESH_AFTER`] while still wanted. The UI turns them into egui textures.

use super::schema::Text;
use bevy::platform::collections::HashMap;
use bevy::prelude::*;
use crossbeam_channel::{Receiver, Sender, bounded};
use std::sync::Arc;
use std::time::{Duration, Instant};

pub const MAX_CONCURRENT: usize = 4;
pub const TIMEOUT: Duration = Duration::from_secs(5);
pub const MAX_BYTES: usize = 4 << 20;
pub const CACHE_ENTRIES: usize = 32;
pub const REFRESH_AFTER: Duration = Duration::from_secs(10);
/// Pictures are scaled down to fit this many pixels on their longer side.
pub const MAX_SIDE: u32 = 640;
/// Larger pictures are refused before decoding (a small file can claim a huge size).
const MAX_DECODE_SIDE: usize = 8192;
/// Requests waiting for a fetch slot; beyond this a request is retried next frame.
const QUEUE: usize = 64;

/// A decoded picture, RGBA8, row by row.
#[derive(Debug, Clone, PartialEq)]
pub struct Picture {
    pub width: u32,
    pub height: u32,
    pub rgba: Vec<u8>,
}

impl Picture {
    pub fn pixel(&self, x: u32, y: u32) -> [u8; 4] {
        let i = ((y * self.width + x) * 4) as usize;
        [
            self.rgba[i],
            self.rgba[i + 1],
            self.rgba[i + 2],
            self.rgba[i + 3],
        ]
    }
}

/// The latest result for one camera.
#[derive(Debug, Clone)]
pub enum SnapshotState {
    /// Requested, nothing back yet.
    Loading,
    Ready(Arc<Picture>),
    Failed(String),
}

#[derive(Debug, Clone)]
pub struct Snapshot {
    pub url: String,
    pub state: SnapshotState,
    /// When the current state arrived (None while the first fetch runs).
    pub updated_at: Option<Instant>,
    /// Bumped with every new picture, so a texture knows when to reload.
    pub generation: u64,
    in_flight: bool,
    last_wanted: Instant,
}

struct Job {
    id: Text,
    url: String,
}

struct Done {
    id: Text,
    url: String,
    result: Result<Picture, String>,
}

/// The fetcher thread; dropping it closes the job channel, which ends the thread.
struct Fetcher {
    jobs: tokio::sync::mpsc::Sender<Job>,
    done: Receiver<Done>,
}

#[derive(Resource, Default)]
pub struct SnapshotCache {
    /// Extra CA certificates for https snapshots (the scene's `tls_ca`).
    pub tls_ca: Option<std::path::PathBuf>,
    /// Hosts snapshot URLs may name (the scene's `security.snapshot_hosts`); any
    /// other URL is refused without a request.
    pub allowed_hosts: Vec<String>,
    entries: HashMap<Text, Snapshot>,
    fetcher: Option<Fetcher>,
    generation: u64,
    pub fetched: u64,
    pub failed: u64,
}

impl SnapshotCache {
    pub fn get(&self, id: &str) -> Option<&Snapshot> {
        self.entries.get(id)
    }

    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Asks for the camera's picture: fetched if the cache has none for this URL,
    /// or its result is older than [`REFRESH_AFTER`]. Cheap to call every frame.
    pub fn want(&mut self, id: &str, url: &str) {
        let now = Instant::now();
        if let Some(entry) = self.entries.get_mut(id)
            && entry.url == url
        {
            entry.last_wanted = now;
            let fresh = entry
                .updated_at
                .is_some_and(|t| now.duration_since(t) < REFRESH_AFTER);
            if entry.in_flight || fresh {
                return;
            }
        }
        if let Err(why) = self.allowed(url) {
            let entry = self.entries.entry(id.into()).or_insert_with(|| Snapshot {
                url: url.to_string(),
                state: SnapshotState::Loading,
                updated_at: None,
                generation: 0,
                in_flight: false,
                last_wanted: now,
            });
            if entry.updated_at.is_none() || entry.url != url {
                warn!("camera {id}: snapshot {}: {why}", super::redact(url));
                self.failed += 1;
            }
            entry.url = url.to_string();
            entry.state = SnapshotState::Failed(why);
            entry.updated_at = Some(now);
            entry.last_wanted = now;
            self.evict();
            return;
        }
        let Some(fetcher) = self.fetcher() else {
            return;
        };
        let job = Job {
            id: id.into(),
            url: url.to_string(),
        };
        if fetcher.jobs.try_send(job).is_err() {
            return; // queue full (or the fetcher is gone): asked again next frame
        }
        let fresh = || Snapshot {
            url: url.to_string(),
            state: SnapshotState::Loading,
            updated_at: None,
            generation: 0,
            in_flight: true,
            last_wanted: now,
        };
        let entry = self.entries.entry(id.into()).or_insert_with(fresh);
        if entry.url != url {
            *entry = fresh();
        }
        entry.in_flight = true;
        self.evict();
    }

    /// Only http(s) to a host the scene lists: a camera message must not make the
    /// wall fetch an internal address.
    fn allowed(&self, url: &str) -> Result<(), String> {
        let parsed = reqwest::Url::parse(url).map_err(|e| format!("bad URL: {e}"))?;
        if !matches!(parsed.scheme(), "http" | "https") {
            return Err(format!("scheme {} is not http or https", parsed.scheme()));
        }
        let host = parsed.host_str().unwrap_or("");
        let with_port = match parsed.port() {
            Some(p) => format!("{host}:{p}"),
            None => host.to_string(),
        };
        if super::secrets::host_allowed(host, &self.allowed_hosts)
            || super::secrets::host_allowed(&with_port, &self.allowed_hosts)
        {
            Ok(())
        } else {
            Err(format!(
                "host {with_port} is not in the scene's security.snapshot_hosts"
            ))
        }
    }

    fn fetcher(&mut self) -> Option<&Fetcher> {
        if self.fetcher.is_none() {
            match start_fetcher(self.tls_ca.as_deref(), self.allowed_hosts.clone()) {
                Ok(f) => self.fetcher = Some(f),
                Err(e) => error!("camera snapshots: cannot start the fetcher: {e}"),
            }
        }
        self.fetcher.as_ref()
    }

    /// Keeps the most recently wanted pictures.
    fn evict(&mut self) {
        while self.entries.len() > CACHE_ENTRIES {
            let oldest = self
                .entries
                .iter()
                .filter(|(_, e)| !e.in_flight)
                .min_by_key(|(_, e)| e.last_wanted)
                .map(|(id, _)| id.clone());
            match oldest {
                Some(id) => {
                    self.entries.remove(&id);
                }
                None => break,
            }
        }
    }

    /// Takes in what the fetcher finished.
    fn collect(&mut self) {
        let Some(fetcher) = &self.fetcher else {
            return;
        };
        let done: Vec<Done> = fetcher.done.try_iter().collect();
        for Done { id, url, result } in done {
            let Some(entry) = self.entries.get_mut(&id).filter(|e| e.url == url) else {
                continue; // evicted, or the camera's URL changed meanwhile
            };
            entry.in_flight = false;
            entry.updated_at = Some(Instant::now());
            match result {
                Ok(picture) => {
                    self.fetched += 1;
                    self.generation += 1;
                    entry.generation = self.generation;
                    entry.state = SnapshotState::Ready(Arc::new(picture));
                }
                Err(why) => {
                    self.failed += 1;
                    warn!("camera {id}: snapshot {}: {why}", super::redact(&url));
                    entry.state = SnapshotState::Failed(why);
                }
            }
        }
    }
}

pub(super) fn plugin(app: &mut App) {
    app.init_resource::<SnapshotCache>()
        .add_systems(Startup, trust_scene_ca)
        .add_systems(Update, collect_snapshots);
}

fn trust_scene_ca(config: Res<super::FeedConfig>, mut cache: ResMut<SnapshotCache>) {
    cache.tls_ca = config.tls_ca.clone();
    cache.allowed_hosts = config.security.snapshot_hosts.clone();
}

fn collect_snapshots(mut cache: ResMut<SnapshotCache>) {
    if cache.fetcher.is_some() {
        cache.collect();
    }
}

fn start_fetcher(
    tls_ca: Option<&std::path::Path>,
    allowed_hosts: Vec<String>,
) -> Result<Fetcher, String> {
    let tls = super::tls::client_config(tls_ca)
        .inspect_err(|e| warn!("camera snapshots: {e}; https snapshots will fail"))
        .ok();
    let client = super::tls::reqwest_builder(tls.as_ref())
        .timeout(TIMEOUT)
        .connect_timeout(TIMEOUT)
        .redirect(super::http::redirect_policy(None, allowed_hosts))
        .user_agent(concat!("citytwin/", env!("CARGO_PKG_VERSION")))
        .build()
        .map_err(|e| format!("HTTP client: {e}"))?;
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| format!("runtime: {e}"))?;
    let (jobs, mut job_rx) = tokio::sync::mpsc::channel::<Job>(QUEUE);
    let (done_tx, done) = bounded::<Done>(QUEUE);
    std::thread::Builder::new()
        .name("citytwin-snapshots".into())
        .spawn(move || {
            runtime.block_on(async move {
                let slots = Arc::new(tokio::sync::Semaphore::new(MAX_CONCURRENT));
                while let Some(job) = job_rx.recv().await {
                    let Ok(slot) = slots.clone().acquire_owned().await else {
                        return;
                    };
                    let (client, done_tx) = (client.clone(), done_tx.clone());
                    tokio::spawn(async move {
                        let result = fetch(&client, &job.url).await;
                        drop(slot);
                        send_done(
                            &done_tx,
                            Done {
                                id: job.id,
                                url: job.url,
                                result,
                            },
                        );
                    });
                }
            });
        })
        .map_err(|e| format!("thread: {e}"))?;
    Ok(Fetcher { jobs, done })
}

/// Hands a result to the ECS; the channel holds more than can be in flight, so it
/// is only full if the app stopped collecting (then the result is not needed).
fn send_done(tx: &Sender<Done>, done: Done) {
    let _ = tx.try_send(done);
}

async fn fetch(client: &reqwest::Client, url: &str) -> Result<Picture, String> {
    let mut response = client.get(url).send().await.map_err(describe)?;
    let status = response.status();
    if !status.is_success() {
        return Err(format!("HTTP {status}"));
    }
    if let Some(len) = response.content_length()
        && len > MAX_BYTES as u64
    {
        return Err(format!("{len} bytes is over the {MAX_BYTES}-byte limit"));
    }
    let mut body = Vec::new();
    while let Some(chunk) = response.chunk().await.map_err(describe)? {
        if body.len() + chunk.len() > MAX_BYTES {
            return Err(format!("over the {MAX_BYTES}-byte limit"));
        }
        body.extend_from_slice(&chunk);
    }
    tokio::task::spawn_blocking(move || decode(&body))
        .await
        .map_err(|e| format!("decoder stopped: {e}"))?
}

fn describe(e: reqwest::Error) -> String {
    // The URL may carry a token: the error says what went wrong, not where.
    let e = e.without_url();
    if e.is_timeout() {
        format!("timed out after {TIMEOUT:?}")
    } else if e.is_connect() {
        format!("cannot connect: {}", super::error_chain(&e))
    } else {
        super::error_chain(&e)
    }
}

/// JPEG or PNG bytes → an RGBA picture no larger than [`MAX_SIDE`].
pub fn decode(bytes: &[u8]) -> Result<Picture, String> {
    let image = if bytes.starts_with(&[0xFF, 0xD8, 0xFF]) {
        decode_jpeg(bytes)?
    } else if bytes.starts_with(b"\x89PNG\r\n\x1a\n") {
        image::load_from_memory_with_format(bytes, image::ImageFormat::Png)
            .map_err(|e| format!("bad PNG: {e}"))?
            .to_rgba8()
    } else {
        let head: Vec<String> = bytes.iter().take(8).map(|b| format!("{b:02x}")).collect();
        return Err(format!(
            "neither JPEG nor PNG ({} bytes starting {})",
            bytes.len(),
            head.join(" ")
        ));
    };
    let (w, h) = image.dimensions();
    let image = if w.max(h) > MAX_SIDE {
        let scale = MAX_SIDE as f32 / w.max(h) as f32;
        let (nw, nh) = (
            ((w as f32 * scale).round() as u32).max(1),
            ((h as f32 * scale).round() as u32).max(1),
        );
        image::imageops::thumbnail(&image, nw, nh)
    } else {
        image
    };
    Ok(Picture {
        width: image.width(),
        height: image.height(),
        rgba: image.into_raw(),
    })
}

fn decode_jpeg(bytes: &[u8]) -> Result<image::RgbaImage, String> {
    use zune_core::colorspace::ColorSpace;
    use zune_core::options::DecoderOptions;
    let options = DecoderOptions::default()
        .jpeg_set_out_colorspace(ColorSpace::RGBA)
        .set_max_width(MAX_DECODE_SIDE)
        .set_max_height(MAX_DECODE_SIDE);
    let mut decoder = zune_jpeg::JpegDecoder::new_with_options(
        zune_core::bytestream::ZCursor::new(bytes),
        options,
    );
    let pixels = decoder.decode().map_err(|e| format!("bad JPEG: {e:?}"))?;
    let info = decoder.info().ok_or("bad JPEG: no header")?;
    image::RgbaImage::from_raw(u32::from(info.width), u32::from(info.height), pixels)
        .ok_or_else(|| "bad JPEG: pixel count does not match its size".to_string())
}
