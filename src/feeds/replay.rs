//! The `replay:` source: reads a recording (newline-delimited JSON, one message per
//! line) and plays it back paced by the messages' timestamps.

use super::schema::{DecodeError, FeedMessage};
use super::{FeedEvent, SourceState, send};
use crossbeam_channel::Sender;
use std::path::PathBuf;
use std::time::Duration;
use tokio::io::{AsyncBufReadExt, AsyncReadExt, BufReader};
use tokio::time::Instant;

/// Longest line accepted; anything longer is rejected without being decoded.
pub const MAX_LINE_BYTES: usize = 1 << 20;
/// A message dated further than this past the one before is not waited for (the
/// ingest refuses it as a future time): one bad line must not stall a replay for
/// years.
pub const MAX_WAIT_GAP: chrono::TimeDelta = chrono::TimeDelta::hours(48);

pub async fn run(
    source: usize,
    path: PathBuf,
    speed: Option<f64>,
    looping: bool,
    tx: Sender<FeedEvent>,
) {
    let state = |state| FeedEvent::State { source, state };
    loop {
        // A device or FIFO never ends: a recording is a regular file.
        if let Ok(meta) = tokio::fs::metadata(&path).await
            && !meta.is_file()
        {
            let why = format!("{} is not a regular file", path.display());
            send(&tx, state(SourceState::Failed(why))).await;
            return;
        }
        let file = match tokio::fs::File::open(&path).await {
            Ok(f) => f,
            Err(e) => {
                let why = format!("cannot open {}: {e}", path.display());
                send(&tx, state(SourceState::Failed(why))).await;
                return;
            }
        };
        if !send(&tx, state(SourceState::Live)).await {
            return;
        }
        match play(source, file, speed, &tx).await {
            Ok(true) => {}
            Ok(false) => return,
            Err(e) => {
                let why = format!("reading {}: {e}", path.display());
                send(&tx, state(SourceState::Failed(why))).await;
                return;
            }
        }
        if !looping {
            send(&tx, state(SourceState::Finished)).await;
            return;
        }
    }
}

/// Plays one pass of the file. Ok(false) when the app has gone away.
async fn play(
    source: usize,
    file: tokio::fs::File,
    speed: Option<f64>,
    tx: &Sender<FeedEvent>,
) -> std::io::Result<bool> {
    let mut reader = BufReader::new(file);
    let mut buf = Vec::new();
    let mut line_no = 0u64;
    // (first message time, when it was played): later ones are due relative to it.
    let mut anchor: Option<(chrono::DateTime<chrono::FixedOffset>, Instant)> = None;
    // The time of the last message waited for.
    let mut last: Option<chrono::DateTime<chrono::FixedOffset>> = None;
    loop {
        buf.clear();
        let n = (&mut reader)
            .take(MAX_LINE_BYTES as u64 + 1)
            .read_until(b'\n', &mut buf)
            .await?;
        if n == 0 {
            return Ok(true);
        }
        line_no += 1;
        let event = if buf.len() > MAX_LINE_BYTES && !buf.ends_with(b"\n") {
            let rest = skip_rest_of_line(&mut reader).await?;
            Err(DecodeError::TooLarge(buf.len() + rest))
        } else {
            match std::str::from_utf8(&buf) {
                // Blank lines and `#` comments (a recording's header) are not messages.
                Ok(text) if text.trim().is_empty() || text.starts_with('#') => continue,
                Ok(text) => FeedMessage::decode(text.trim_end()),
                Err(_) => Err(DecodeError::Envelope("not UTF-8".into())),
            }
        };
        let event = match event {
            Ok(message) => {
                let gap_ok = last.is_none_or(|l| message.ts - l <= MAX_WAIT_GAP);
                if let Some(speed) = speed
                    && gap_ok
                {
                    let (t0, start) = *anchor.get_or_insert((message.ts, Instant::now()));
                    // Timestamps going backwards are played at once, not waited for.
                    let offset = (message.ts - t0).to_std().unwrap_or(Duration::ZERO);
                    tokio::time::sleep_until(start + offset.div_f64(speed)).await;
                    last = Some(last.map_or(message.ts, |l| l.max(message.ts)));
                }
                FeedEvent::Message { source, message }
            }
            Err(error) => FeedEvent::Rejected {
                source,
                line: line_no,
                error,
            },
        };
        if !send(tx, event).await {
            return Ok(false);
        }
    }
}

/// Skips to the next line; returns how many bytes were skipped.
async fn skip_rest_of_line(reader: &mut BufReader<tokio::fs::File>) -> std::io::Result<usize> {
    let mut skipped = 0;
    loop {
        let chunk = reader.fill_buf().await?;
        if chunk.is_empty() {
            return Ok(skipped);
        }
        if let Some(i) = chunk.iter().position(|&b| b == b'\n') {
            reader.consume(i + 1);
            return Ok(skipped + i + 1);
        }
        let len = chunk.len();
        skipped += len;
        reader.consume(len);
    }
}
