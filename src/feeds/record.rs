//! `citytwin record`: writes what the sources deliver, as accepted by the decoder, to
//! the recording format the `replay:` source reads, so a day of live feeds becomes a
//! demo. Rejected messages are counted, not written.

use super::{FeedConfig, FeedEvent, SourceState, spawn_sources};
use crossbeam_channel::bounded;
use std::io::Write;
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct RecordSummary {
    pub written: u64,
    pub rejected: u64,
}

/// Records until every source has finished or failed, `duration` has passed, or
/// `stop` is set (Ctrl-C). The file is flushed at least once a second.
/// Sources are labelled by their redacted specs (see [`super::resolve`]), so the
/// header and the messages printed carry no credentials.
pub fn record(
    config: &FeedConfig,
    out: &Path,
    duration: Option<Duration>,
    stop: Arc<AtomicBool>,
) -> anyhow::Result<RecordSummary> {
    let sources = &config.sources;
    use anyhow::Context;
    let file = std::fs::File::create(out).with_context(|| format!("creating {}", out.display()))?;
    let mut w = std::io::BufWriter::new(file);
    let labels: Vec<&str> = sources.iter().map(|(l, _)| l.as_str()).collect();
    writeln!(
        w,
        "# recorded by citytwin record from {} at {}",
        labels.join(", "),
        chrono::Utc::now()
            .with_timezone(&crate::ops::beijing())
            .to_rfc3339()
    )?;
    let (tx, rx) = bounded(super::CHANNEL_CAPACITY);
    let _runtime = spawn_sources(config, &tx, "record").context("starting the feed runtime")?;
    drop(tx);
    let started = Instant::now();
    let mut last_flush = Instant::now();
    let mut done = vec![false; sources.len()];
    let mut summary = RecordSummary::default();
    loop {
        if stop.load(Ordering::Relaxed)
            || duration.is_some_and(|d| started.elapsed() >= d)
            || done.iter().all(|d| *d)
        {
            break;
        }
        match rx.recv_timeout(Duration::from_millis(200)) {
            Ok(FeedEvent::Message { mut message, .. }) => {
                // Snapshot URLs often carry a token: the recording keeps the camera's
                // address, not its credentials.
                if let super::schema::FeedBody::Camera(c) = &mut message.body
                    && let Some(url) = &mut c.snapshot_url
                {
                    *url = super::redact(url);
                }
                writeln!(w, "{}", message.encode())?;
                summary.written += 1;
            }
            Ok(FeedEvent::Rejected {
                source,
                line,
                error,
            }) => {
                summary.rejected += 1;
                eprintln!(
                    "record: {} message {line} rejected: {error}",
                    labels[source]
                );
            }
            Ok(FeedEvent::State { source, state }) => {
                eprintln!("record: {}: {state:?}", labels[source]);
                if matches!(state, SourceState::Finished | SourceState::Failed(_)) {
                    done[source] = true;
                }
            }
            Err(crossbeam_channel::RecvTimeoutError::Timeout) => {}
            Err(crossbeam_channel::RecvTimeoutError::Disconnected) => break,
        }
        if last_flush.elapsed() > Duration::from_secs(1) {
            w.flush()?;
            last_flush = Instant::now();
        }
    }
    w.flush()?;
    Ok(summary)
}
