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
    paths: Vec<PathBuf>,
    speed: Option<f64>,
    looping: bool,
    tx: Sender<FeedEvent>,
) {
    let state = |state| FeedEvent::State { source, state };
    loop {
        let mut files = Vec::with_capacity(paths.len());
        for path in &paths {
            match open(path).await {
                Ok(file) => files.push(Lines::new(file)),
                Err(why) => {
                    send(&tx, state(SourceState::Failed(why))).await;
                    return;
                }
            }
        }
        if !send(&tx, state(SourceState::Live)).await {
            return;
        }
        match play(source, files, speed, &tx).await {
            Ok(true) => {}
            Ok(false) => return,
            Err((i, e)) => {
                let why = format!("reading {}: {e}", paths[i].display());
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

/// Opens a recording; a device or FIFO never ends, so it must be a regular file.
async fn open(path: &std::path::Path) -> Result<tokio::fs::File, String> {
    if let Ok(meta) = tokio::fs::metadata(path).await
        && !meta.is_file()
    {
        return Err(format!("{} is not a regular file", path.display()));
    }
    tokio::fs::File::open(path)
        .await
        .map_err(|e| format!("cannot open {}: {e}", path.display()))
}

/// One recording read line by line: its messages, or why a line is not one.
struct Lines {
    reader: BufReader<tokio::fs::File>,
    buf: Vec<u8>,
    line_no: u64,
}

impl Lines {
    fn new(file: tokio::fs::File) -> Self {
        Self {
            reader: BufReader::new(file),
            buf: Vec::new(),
            line_no: 0,
        }
    }

    /// The next message or rejected line with its line number; None at the end.
    async fn next(&mut self) -> std::io::Result<Option<(u64, Result<FeedMessage, DecodeError>)>> {
        loop {
            self.buf.clear();
            let n = (&mut self.reader)
                .take(MAX_LINE_BYTES as u64 + 1)
                .read_until(b'\n', &mut self.buf)
                .await?;
            if n == 0 {
                return Ok(None);
            }
            self.line_no += 1;
            let decoded = if self.buf.len() > MAX_LINE_BYTES && !self.buf.ends_with(b"\n") {
                let rest = skip_rest_of_line(&mut self.reader).await?;
                Err(DecodeError::TooLarge(self.buf.len() + rest))
            } else {
                match std::str::from_utf8(&self.buf) {
                    // Blank lines and `#` comments (a recording's header) are not messages.
                    Ok(text) if text.trim().is_empty() || text.starts_with('#') => continue,
                    Ok(text) => FeedMessage::decode(text.trim_end()),
                    Err(_) => Err(DecodeError::Envelope("not UTF-8".into())),
                }
            };
            return Ok(Some((self.line_no, decoded)));
        }
    }
}

/// Plays one pass of the files, merged by time (each file in its own order; a line
/// that is not a message is reported at once, with its line number in its file).
/// Ok(false) when the app has gone away; Err names the file that failed.
async fn play(
    source: usize,
    mut files: Vec<Lines>,
    speed: Option<f64>,
    tx: &Sender<FeedEvent>,
) -> Result<bool, (usize, std::io::Error)> {
    // The next message of each file, None once it has ended.
    let mut next: Vec<Option<FeedMessage>> = files.iter().map(|_| None).collect();
    let mut ended = vec![false; files.len()];
    // (first message time, when it was played): later ones are due relative to it.
    let mut anchor: Option<(chrono::DateTime<chrono::FixedOffset>, Instant)> = None;
    // The time of the last message waited for.
    let mut last: Option<chrono::DateTime<chrono::FixedOffset>> = None;
    loop {
        for (i, file) in files.iter_mut().enumerate() {
            while next[i].is_none() && !ended[i] {
                match file.next().await.map_err(|e| (i, e))? {
                    None => ended[i] = true,
                    Some((_, Ok(message))) => next[i] = Some(message),
                    Some((line, Err(error))) => {
                        let event = FeedEvent::Rejected {
                            source,
                            line,
                            error,
                        };
                        if !send(tx, event).await {
                            return Ok(false);
                        }
                    }
                }
            }
        }
        // The earliest of the files' next messages (the first file on a tie).
        let Some(i) = (0..next.len())
            .filter(|&i| next[i].is_some())
            .min_by_key(|&i| next[i].as_ref().map(|m| m.ts))
        else {
            return Ok(true);
        };
        let Some(message) = next[i].take() else {
            return Ok(true);
        };
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
        if !send(tx, FeedEvent::Message { source, message }).await {
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
