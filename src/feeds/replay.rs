//! The `replay:` source: reads a recording (MCAP, see [`super::recording`], or
//! newline-delimited JSON, one message per line) and plays it back paced by the
//! messages' timestamps, following the timeline's [`Playback`] (pause, speed, seek,
//! loop). Damage in a recording is reported as a rejected message naming where it
//! is, and the rest plays.

use super::playback::{Playback, ReplayControl};
use super::recording::{self, RawEntry, Recording};
use super::schema::{DecodeError, FeedMessage};
use super::{FeedEvent, SourceState, send};
use chrono::{DateTime, FixedOffset};
use crossbeam_channel::Sender;
use std::collections::VecDeque;
use std::path::PathBuf;
use std::time::Duration;
use tokio::io::{AsyncBufReadExt, AsyncReadExt, BufReader};
use tokio::sync::watch;
use tokio::time::Instant;

/// Longest line accepted; anything longer is rejected without being decoded.
pub const MAX_LINE_BYTES: usize = 1 << 20;
/// A message dated further than this past the one before is not waited for (the
/// ingest refuses it as a future time): one bad line must not stall a replay for
/// years.
pub const MAX_WAIT_GAP: chrono::TimeDelta = chrono::TimeDelta::hours(48);

/// Plays `paths` as one recording, following the timeline's [`Playback`]: pauses,
/// speeds, seeks (each one a [`FeedEvent::Restart`] and a fast play up to the target)
/// and loops (`looping`: at the end, or past the loop range's end, a seek to the
/// start of the range or of the recording).
///
/// Without a `control` (no timeline: `record`, tools) it plays at `speed` and ends
/// when the recording does.
pub async fn run(
    source: usize,
    paths: Vec<PathBuf>,
    speed: Option<f64>,
    looping: bool,
    control: Option<ReplayControl>,
    tx: Sender<FeedEvent>,
) {
    let state = |state| FeedEvent::State { source, state };
    let standalone = control.is_none();
    let control = control.unwrap_or_else(|| ReplayControl::new(Playback::at_speed(speed)));
    let mut playback = control.subscribe();
    let (mut generation, mut target) = {
        let p = playback.borrow_and_update();
        (p.seeks, p.seek_to)
    };
    let owned = paths.clone();
    let span = tokio::task::spawn_blocking(move || {
        owned
            .iter()
            .filter_map(|p| recording::time_span(p))
            .reduce(|(a0, a1), (b0, b1)| (a0.min(b0), a1.max(b1)))
    })
    .await
    .ok()
    .flatten();
    if !send(&tx, FeedEvent::Span { source, span }).await {
        return;
    }
    // Opened (an MCAP file read and indexed) once; each pass starts over in them.
    let mut files = Vec::with_capacity(paths.len());
    for path in &paths {
        match open(path).await {
            Ok(file) => files.push(file),
            Err(why) => {
                send(&tx, state(SourceState::Failed(why))).await;
                return;
            }
        }
    }
    loop {
        // One recording seeks from its nearest checkpoint of the twin's state; merged
        // recordings play from their start.
        let from = if files.len() == 1 { target } else { None };
        for (file, path) in files.iter_mut().zip(&paths) {
            if let Err(why) = file.rewind(path, from).await {
                send(&tx, state(SourceState::Failed(why))).await;
                return;
            }
        }
        if !send(&tx, state(SourceState::Live)).await {
            return;
        }
        let seek = match play(source, &mut files, &mut playback, generation, target, &tx).await {
            Ok(Outcome::Gone) => return,
            Err((i, e)) => {
                let why = format!("reading {}: {e}", paths[i].display());
                send(&tx, state(SourceState::Failed(why))).await;
                return;
            }
            Ok(Outcome::Seek { seeks, to }) => (seeks, to),
            Ok(Outcome::PastLoop(start)) => {
                let to = Some(start);
                (control.seek(to), to)
            }
            Ok(Outcome::Ended) if looping => {
                let to = control.get().loop_range.map(|r| r.0);
                (control.seek(to), to)
            }
            Ok(Outcome::Ended) => {
                send(&tx, state(SourceState::Finished)).await;
                if standalone {
                    return;
                }
                // Finished, but the timeline may still send it back.
                loop {
                    if playback.changed().await.is_err() {
                        return;
                    }
                    let p = playback.borrow_and_update();
                    if p.seeks != generation {
                        break (p.seeks, p.seek_to);
                    }
                }
            }
        };
        (generation, target) = seek;
        // Mark the seek as seen here: the play that follows starts from it.
        playback.borrow_and_update();
        if !send(&tx, FeedEvent::Restart { source, generation }).await {
            return;
        }
    }
}

/// Opens a recording; a device or FIFO never ends, so it must be a regular file.
/// An MCAP file is read and indexed off the async threads.
async fn open(path: &std::path::Path) -> Result<Reader, String> {
    if let Ok(meta) = tokio::fs::metadata(path).await
        && !meta.is_file()
    {
        return Err(format!("{} is not a regular file", path.display()));
    }
    let owned = path.to_path_buf();
    let mcap = tokio::task::spawn_blocking(move || recording::is_mcap(&owned))
        .await
        .map_err(|e| e.to_string())?
        .map_err(|e| format!("cannot open {}: {e}", path.display()))?;
    if mcap {
        let owned = path.to_path_buf();
        let rec = tokio::task::spawn_blocking(move || Recording::open(&owned))
            .await
            .map_err(|e| e.to_string())??;
        return Ok(Reader::Mcap(Chunks::new(rec)));
    }
    tokio::fs::File::open(path)
        .await
        .map(|file| Reader::Text(Lines::new(file)))
        .map_err(|e| format!("cannot open {}: {e}", path.display()))
}

/// A recording being read: its messages in file order, each with its number in the
/// file, or why an entry is not a message.
enum Reader {
    Text(Lines),
    Mcap(Chunks),
}

impl Reader {
    /// Back to the start of the recording for a pass that plays up to `target`: an
    /// MCAP file starts at the latest checkpoint of the twin's state before it, if it
    /// has one.
    async fn rewind(
        &mut self,
        path: &std::path::Path,
        target: Option<DateTime<FixedOffset>>,
    ) -> Result<(), String> {
        match self {
            Reader::Text(lines) => {
                let file = tokio::fs::File::open(path)
                    .await
                    .map_err(|e| format!("cannot open {}: {e}", path.display()))?;
                *lines = Lines::new(file);
            }
            Reader::Mcap(chunks) => chunks.rewind(target),
        }
        Ok(())
    }

    async fn next(&mut self) -> std::io::Result<Option<(u64, Result<FeedMessage, DecodeError>)>> {
        match self {
            Reader::Text(lines) => lines.next().await,
            Reader::Mcap(chunks) => Ok(chunks.next()),
        }
    }
}

/// An MCAP recording read chunk by chunk; damage found when it was opened is
/// reported first, then a chunk that fails its check where it would have played.
struct Chunks {
    rec: Recording,
    next_chunk: usize,
    pending: VecDeque<RawEntry>,
    damage_reported: usize,
    count: u64,
}

impl Chunks {
    fn new(rec: Recording) -> Self {
        Self {
            rec,
            next_chunk: 0,
            pending: VecDeque::new(),
            damage_reported: 0,
            count: 0,
        }
    }

    /// Back to the first chunk, or to the chunk of the latest checkpoint of the twin's
    /// state at or before `target`.
    fn rewind(&mut self, target: Option<DateTime<FixedOffset>>) {
        self.pending.clear();
        self.damage_reported = 0;
        self.count = 0;
        self.next_chunk = 0;
        // The checkpoint's chunk was read to find it: it plays from what was read.
        if let Some((chunk, entries)) =
            target.and_then(|t| self.rec.checkpoint_before(recording::log_time(&t)))
        {
            self.next_chunk = chunk + 1;
            self.pending = entries.into();
        }
    }

    fn next(&mut self) -> Option<(u64, Result<FeedMessage, DecodeError>)> {
        let path = self.rec.path.display().to_string();
        if let Some(d) = self.rec.damage.get(self.damage_reported) {
            self.damage_reported += 1;
            return Some((self.count, Err(DecodeError::Damaged(format!("{path} {d}")))));
        }
        loop {
            if let Some(entry) = self.pending.pop_front() {
                self.count += 1;
                return Some((self.count, recording::decode(&entry)));
            }
            if self.next_chunk >= self.rec.chunks.len() {
                return None;
            }
            self.next_chunk += 1;
            match self.rec.read_chunk(self.next_chunk - 1) {
                Ok(entries) => self.pending = entries.into(),
                Err(d) => {
                    return Some((self.count, Err(DecodeError::Damaged(format!("{path} {d}")))));
                }
            }
        }
    }
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

/// How a pass of the recording ended.
enum Outcome {
    /// Every message was played.
    Ended,
    /// The timeline sent the replays elsewhere (seek number, target).
    Seek {
        seeks: u64,
        to: Option<DateTime<FixedOffset>>,
    },
    /// A message lies past the loop range's end: start over at the range's start.
    PastLoop(DateTime<FixedOffset>),
    /// The app has gone away.
    Gone,
}

/// Where paced playing stands: a recorded time and the instant it was (or is due to
/// be) played; later messages are due relative to it.
type Anchor = (DateTime<FixedOffset>, Instant);

/// The recorded time playing has reached at `now`, at `speed` from `anchor`.
fn played_to(anchor: Anchor, speed: f64, now: Instant) -> DateTime<FixedOffset> {
    let elapsed = now.saturating_duration_since(anchor.1).mul_f64(speed);
    anchor.0 + chrono::TimeDelta::from_std(elapsed).unwrap_or(chrono::TimeDelta::MAX)
}

/// Plays one pass of the files, merged by time (each file in its own order; a line
/// that is not a message is reported at once, with its line number in its file).
/// Messages up to `target` (a seek's) go at once, then [`FeedEvent::Reached`]; from
/// there on the playback's pace, pauses and seeks are followed. Err names the file
/// that failed.
async fn play(
    source: usize,
    files: &mut [Reader],
    playback: &mut watch::Receiver<Playback>,
    generation: u64,
    mut target: Option<DateTime<FixedOffset>>,
    tx: &Sender<FeedEvent>,
) -> Result<Outcome, (usize, std::io::Error)> {
    // The next message of each file, None once it has ended.
    let mut next: Vec<Option<FeedMessage>> = files.iter().map(|_| None).collect();
    let mut ended = vec![false; files.len()];
    // A checkpoint of the twin's whole state is restored only where a pass starts at
    // it (a seek): one passed on the way holds the state the twin has already.
    let mut started = vec![files.len() > 1; files.len()];
    let mut anchor: Option<Anchor> = None;
    // The time of the last message waited for.
    let mut last: Option<DateTime<FixedOffset>> = None;
    let mut p = playback.borrow_and_update().clone();
    loop {
        for (i, file) in files.iter_mut().enumerate() {
            while next[i].is_none() && !ended[i] {
                match file.next().await.map_err(|e| (i, e))? {
                    None => ended[i] = true,
                    Some((_, Ok(message))) if started[i] && message.body.holds_state() => {}
                    Some((_, Ok(message))) => {
                        started[i] = true;
                        next[i] = Some(decode_state(message));
                    }
                    Some((line, Err(error))) => {
                        let event = FeedEvent::Rejected {
                            source,
                            line,
                            error,
                        };
                        if !send(tx, event).await {
                            return Ok(Outcome::Gone);
                        }
                    }
                }
            }
        }
        // The earliest of the files' next messages (the first file on a tie).
        let earliest = (0..next.len())
            .filter_map(|i| next[i].as_ref().map(|m| (m.ts, i)))
            .min_by_key(|(ts, _)| *ts);
        let Some((ts, i)) = earliest else {
            // A seek past the end is reached at the end.
            if let Some(at) = target
                && !send(tx, FeedEvent::Reached { source, at }).await
            {
                return Ok(Outcome::Gone);
            }
            return Ok(Outcome::Ended);
        };
        let seeks = playback.borrow().seeks;
        if seeks != generation {
            let to = playback.borrow().seek_to;
            return Ok(Outcome::Seek { seeks, to });
        }
        // Everything up to the target goes at once (a message at the target too, as a
        // play up to that time would have applied it); from the first message past
        // it, the pace is the playback's again.
        let fast = match target {
            Some(t) if ts <= t => true,
            Some(t) => {
                target = None;
                if !send(tx, FeedEvent::Reached { source, at: t }).await {
                    return Ok(Outcome::Gone);
                }
                anchor = Some((t, Instant::now()));
                last = Some(t);
                false
            }
            None => false,
        };
        if !fast {
            if let Some((start, end)) = p.loop_range
                && ts > end
            {
                return Ok(Outcome::PastLoop(start));
            }
            if let Some(seek) =
                wait_for(ts, &mut p, playback, generation, &mut anchor, &mut last).await
            {
                return Ok(seek);
            }
        }
        let Some(message) = next[i].take() else {
            return Ok(Outcome::Ended);
        };
        if !send(tx, FeedEvent::Message { source, message }).await {
            return Ok(Outcome::Gone);
        }
    }
}

/// A checkpoint of the twin's state to be restored is decoded here, on the replay's
/// thread, not by ingest in the render loop (a state that does not decode is left to
/// ingest, which refuses it with the reason).
fn decode_state(mut message: FeedMessage) -> FeedMessage {
    if let super::schema::FeedBody::Checkpoint(c) = &mut message.body
        && let Some(state) = &mut c.state
    {
        let _ = state.decode();
    }
    message
}

/// Waits until the message dated `ts` is due at the playback's pace, following pauses
/// and speed changes as they come; returns the seek that interrupts, if one does.
async fn wait_for(
    ts: DateTime<FixedOffset>,
    p: &mut Playback,
    playback: &mut watch::Receiver<Playback>,
    generation: u64,
    anchor: &mut Option<Anchor>,
    last: &mut Option<DateTime<FixedOffset>>,
) -> Option<Outcome> {
    loop {
        let now_p = playback.borrow_and_update().clone();
        if now_p.seeks != generation {
            return Some(Outcome::Seek {
                seeks: now_p.seeks,
                to: now_p.seek_to,
            });
        }
        if now_p.speed != p.speed || now_p.paused != p.paused {
            // Carry on from the recorded time reached so far, at the new pace.
            let now = Instant::now();
            *anchor = anchor.map(|a| {
                let reached = match p.speed {
                    Some(s) if !p.paused => played_to(a, s, now).min(ts),
                    _ => a.0,
                };
                (reached, now)
            });
        }
        *p = now_p;
        if p.paused {
            if playback.changed().await.is_err() {
                // The timeline is gone: play on.
                p.paused = false;
            }
            continue;
        }
        // At `max`, nothing is waited for.
        let speed = p.speed?;
        if last.is_some_and(|l| ts - l > MAX_WAIT_GAP) {
            // A message dated far past the one before is not waited for.
            return None;
        }
        let (t0, start) = *anchor.get_or_insert((ts, Instant::now()));
        // Timestamps going backwards are played at once, not waited for.
        let offset = (ts - t0).to_std().unwrap_or(Duration::ZERO);
        let due = start + offset.div_f64(speed);
        tokio::select! {
            _ = tokio::time::sleep_until(due) => {
                *last = Some(last.map_or(ts, |l| l.max(ts)));
                return None;
            }
            changed = playback.changed() => {
                if changed.is_err() {
                    tokio::time::sleep_until(due).await;
                    *last = Some(last.map_or(ts, |l| l.max(ts)));
                    return None;
                }
            }
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
