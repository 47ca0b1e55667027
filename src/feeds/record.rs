//! `citytwin record`: writes what the sources deliver, as accepted by the decoder, to
//! a recording the `replay:` source reads, so a day of live feeds becomes a demo: MCAP
//! (see [`super::recording`]), or NDJSON text when the file is named `.ndjson` or
//! `.jsonl`. Rejected messages are counted, not written.

use super::recording::{self, RecordingWriter};
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
    let labels: Vec<&str> = sources.iter().map(|(l, _)| l.as_str()).collect();
    let started_at = chrono::Utc::now()
        .with_timezone(&crate::ops::beijing())
        .to_rfc3339();
    let mut w = if is_text(out) {
        let file =
            std::fs::File::create(out).with_context(|| format!("creating {}", out.display()))?;
        let mut w = std::io::BufWriter::new(file);
        writeln!(
            w,
            "# recorded by citytwin record from {} at {started_at}",
            labels.join(", "),
        )?;
        Sink::Text(w)
    } else {
        let meta = [
            ("recorded_by", "citytwin record".to_string()),
            ("sources", labels.join(", ")),
            ("started", started_at),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v))
        .collect();
        Sink::Mcap(Box::new(RecordingWriter::create(
            out,
            &meta,
            recording::LIVE_LEVEL,
        )?))
    };
    let (tx, rx) = bounded(super::CHANNEL_CAPACITY);
    let _runtime =
        spawn_sources(config, &tx, "record", None).context("starting the feed runtime")?;
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
                w.write(&message)?;
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
            // A replay recorded on its own never seeks; its span is not recorded.
            Ok(FeedEvent::Restart { .. } | FeedEvent::Reached { .. } | FeedEvent::Span { .. }) => {}
            Err(crossbeam_channel::RecvTimeoutError::Timeout) => {}
            Err(crossbeam_channel::RecvTimeoutError::Disconnected) => break,
        }
        if last_flush.elapsed() > Duration::from_secs(1) {
            w.flush()?;
            last_flush = Instant::now();
        }
    }
    w.finish()?;
    Ok(summary)
}

/// Whether a recording is to be written as NDJSON text (by its file name).
pub fn is_text(path: &Path) -> bool {
    path.extension()
        .is_some_and(|e| e.eq_ignore_ascii_case("ndjson") || e.eq_ignore_ascii_case("jsonl"))
}

enum Sink {
    Text(std::io::BufWriter<std::fs::File>),
    Mcap(Box<RecordingWriter>),
}

impl Sink {
    fn write(&mut self, message: &super::schema::FeedMessage) -> anyhow::Result<()> {
        match self {
            Sink::Text(w) => writeln!(w, "{}", message.encode())?,
            Sink::Mcap(w) => w.write(message)?,
        }
        Ok(())
    }

    /// Makes what was written so far survive a crash (an MCAP chunk is closed).
    fn flush(&mut self) -> anyhow::Result<()> {
        match self {
            Sink::Text(w) => w.flush()?,
            Sink::Mcap(w) => w.flush()?,
        }
        Ok(())
    }

    fn finish(self) -> anyhow::Result<()> {
        match self {
            Sink::Text(mut w) => w.flush()?,
            Sink::Mcap(w) => {
                w.finish()?;
            }
        }
        Ok(())
    }
}
