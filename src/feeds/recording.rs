//! Recordings for days, not minutes: MCAP files (see `data-feeds/README.md`).
//!
//! One channel per message kind (`/citytwin/device`, `/citytwin/work_order`, …), each
//! message the feed schema's JSON envelope with its timestamp as MCAP log time, in zstd
//! chunks of at most [`CHUNK_BYTES`]; the summary at the end indexes the chunks by time.
//! A recording is appendable: `citytwin record` closes a chunk at least once a second,
//! so a crash loses at most the last second, and a file without its summary (cut short,
//! or still being written) is read by scanning its chunks.
//!
//! Reading never gives up on a damaged file: a truncated end, a chunk whose data fails
//! its CRC or does not decompress, or a message that is not one, is reported as a
//! [`Damage`] naming where it is, and everything readable around it is kept.

use super::schema::{DecodeError, FeedBody, FeedMessage};
use mcap::records::{self, op};
use std::collections::{BTreeMap, HashMap};
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

/// Uncompressed bytes gathered before a chunk is compressed and written (a seek
/// decompresses at most one chunk of this size before its target time).
pub const CHUNK_BYTES: u64 = 4 << 20;
/// A chunk claiming more than this uncompressed is damage, not a reason to allocate.
pub const MAX_CHUNK_BYTES: u64 = 64 << 20;
/// The topic prefix of the feed channels: `/citytwin/<kind>`.
pub const TOPIC_PREFIX: &str = "/citytwin/";
/// The name of the metadata record that carries the recording's description.
pub const METADATA_NAME: &str = "citytwin";
/// The name of the metadata record that lists the log times of the checkpoints
/// holding the twin's whole state (`log_times`: comma-separated ns), each alone in
/// its chunk: where a seek may start.
pub const CHECKPOINTS_NAME: &str = "citytwin.checkpoints";
/// zstd level for recordings written live (fast enough for any feed rate).
pub const LIVE_LEVEL: u32 = 3;
/// zstd level for recordings written offline (`feeds convert`, `gen-day`).
pub const ARCHIVE_LEVEL: u32 = 15;

/// Whether the file starts with MCAP's magic bytes (else it is read as NDJSON).
pub fn is_mcap(path: &Path) -> std::io::Result<bool> {
    use std::io::Read;
    let mut head = [0u8; 8];
    let mut file = std::fs::File::open(path)?;
    let mut read = 0;
    while read < head.len() {
        let n = file.read(&mut head[read..])?;
        if n == 0 {
            break;
        }
        read += n;
    }
    Ok(read == head.len() && head == mcap::MAGIC)
}

/// Nanoseconds since the Unix epoch (MCAP's log time); times before 1970 are 0.
pub fn log_time(ts: &chrono::DateTime<chrono::FixedOffset>) -> u64 {
    ts.timestamp_nanos_opt()
        .and_then(|n| u64::try_from(n).ok())
        .unwrap_or(0)
}

/// Writes a recording. Dropped without [`finish`](Self::finish), the file has every
/// chunk written so far and no summary; readers scan it.
pub struct RecordingWriter {
    inner: mcap::Writer<BufWriter<std::fs::File>>,
    channels: HashMap<&'static str, u16>,
    sequence: u32,
    written: u64,
    /// Log times of the state checkpoints written.
    checkpoints: Vec<u64>,
}

impl RecordingWriter {
    /// Creates `path` with the description `meta` (who wrote it, from what, the
    /// generator version of the city it belongs to…) as its `citytwin` metadata.
    pub fn create(
        path: &Path,
        meta: &BTreeMap<String, String>,
        level: u32,
    ) -> anyhow::Result<Self> {
        use anyhow::Context;
        let file =
            std::fs::File::create(path).with_context(|| format!("creating {}", path.display()))?;
        let options = mcap::WriteOptions::new()
            .profile("citytwin")
            .library(format!("citytwin {}", env!("CARGO_PKG_VERSION")))
            .compression(Some(mcap::Compression::Zstd))
            .compression_level(level)
            .chunk_size(Some(CHUNK_BYTES))
            // Per-message index records (16 bytes a message, uncompressed) would be
            // half the file: a seek finds its chunk by the chunk index and reads it.
            .emit_message_indexes(false);
        let mut inner = options
            .create(BufWriter::new(file))
            .with_context(|| format!("writing {}", path.display()))?;
        inner.write_metadata(&records::Metadata {
            name: METADATA_NAME.into(),
            metadata: meta.clone(),
        })?;
        Ok(Self {
            inner,
            channels: HashMap::new(),
            sequence: 0,
            written: 0,
            checkpoints: Vec::new(),
        })
    }

    /// Appends one message on its kind's channel. A checkpoint of the twin's whole
    /// state gets a chunk of its own, so a seek starts reading at it.
    pub fn write(&mut self, message: &FeedMessage) -> anyhow::Result<()> {
        let time = log_time(&message.ts);
        let state = message.body.holds_state();
        if state {
            self.flush()?;
        }
        self.write_encoded(message.body.kind(), time, message.encode().as_bytes())?;
        if state {
            self.flush()?;
            self.checkpoints.push(time);
        }
        Ok(())
    }

    /// Appends bytes as a message of `kind` at `time` (ns since the epoch): what
    /// [`write`](Self::write) does, open to tests that write damaged messages.
    pub fn write_encoded(
        &mut self,
        kind: &'static str,
        time: u64,
        data: &[u8],
    ) -> anyhow::Result<()> {
        let channel_id = match self.channels.get(kind) {
            Some(&id) => id,
            None => {
                let schema = format!(
                    r#"{{"title":"citytwin {kind} message","description":"A feed message of kind '{kind}': the v{v} envelope of data-feeds/SCHEMA.md","type":"object","required":["v","ts","kind","data"]}}"#,
                    v = super::schema::SCHEMA_VERSION
                );
                let schema_id = self.inner.add_schema(
                    &format!("citytwin.{kind}"),
                    "jsonschema",
                    schema.as_bytes(),
                )?;
                let topic = format!("{TOPIC_PREFIX}{kind}");
                let id = self
                    .inner
                    .add_channel(schema_id, &topic, "json", &BTreeMap::new())?;
                self.channels.insert(kind, id);
                id
            }
        };
        self.sequence = self.sequence.wrapping_add(1);
        let header = records::MessageHeader {
            channel_id,
            sequence: self.sequence,
            log_time: time,
            publish_time: time,
        };
        self.inner.write_to_known_channel(&header, data)?;
        self.written += 1;
        Ok(())
    }

    /// Closes the current chunk and writes it out: everything written so far
    /// survives a crash from here on.
    pub fn flush(&mut self) -> anyhow::Result<()> {
        self.inner.flush()?;
        Ok(())
    }

    /// Messages written so far.
    pub fn written(&self) -> u64 {
        self.written
    }

    /// Writes the last chunk and the summary (the chunk index) and closes the file.
    pub fn finish(mut self) -> anyhow::Result<u64> {
        if !self.checkpoints.is_empty() {
            let times: Vec<String> = self.checkpoints.iter().map(u64::to_string).collect();
            self.inner.write_metadata(&records::Metadata {
                name: CHECKPOINTS_NAME.into(),
                metadata: BTreeMap::from([("log_times".to_string(), times.join(","))]),
            })?;
        }
        self.inner.finish()?;
        self.inner.into_inner().flush()?;
        Ok(self.written)
    }
}

/// A damaged region of a recording: where it is and what is wrong.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Damage {
    /// Byte offset in the file.
    pub offset: u64,
    pub what: String,
}

impl std::fmt::Display for Damage {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "at byte {}: {}", self.offset, self.what)
    }
}

/// One chunk as the index (or a scan) found it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ChunkInfo {
    /// Offset of the chunk record in the file, and its length with opcode and length.
    pub offset: u64,
    pub length: u64,
    /// Log times of its first and last messages (ns since the epoch).
    pub start: u64,
    pub end: u64,
}

/// One message read from a chunk, not yet decoded.
#[derive(Debug, Clone)]
pub struct RawEntry {
    pub log_time: u64,
    pub channel: u16,
    pub data: Vec<u8>,
}

/// An opened recording: its bytes, its chunks in file order and what was found
/// damaged while opening.
pub struct Recording {
    pub path: PathBuf,
    bytes: Vec<u8>,
    pub chunks: Vec<ChunkInfo>,
    pub damage: Vec<Damage>,
    /// The `citytwin` metadata (description, generator version…).
    pub metadata: BTreeMap<String, String>,
    /// Whether the file has its summary (false: cut short or still being written).
    pub indexed: bool,
    /// Channel id → topic, from the summary or the chunks.
    pub topics: BTreeMap<u16, String>,
    /// Log times of the checkpoints of the twin's whole state, in order (from the
    /// summary's metadata: none in a file without its summary).
    pub checkpoint_times: Vec<u64>,
}

impl Recording {
    /// Reads and indexes a recording; fails only when the file cannot be read or is
    /// not MCAP at all. Damage found on the way is in [`Recording::damage`].
    pub fn open(path: &Path) -> Result<Self, String> {
        let bytes =
            std::fs::read(path).map_err(|e| format!("cannot read {}: {e}", path.display()))?;
        Self::from_bytes(path, bytes)
    }

    pub fn from_bytes(path: &Path, bytes: Vec<u8>) -> Result<Self, String> {
        if !bytes.starts_with(mcap::MAGIC) {
            return Err(format!("{} is not an MCAP recording", path.display()));
        }
        let mut rec = Self {
            path: path.to_path_buf(),
            bytes,
            chunks: Vec::new(),
            damage: Vec::new(),
            metadata: BTreeMap::new(),
            indexed: false,
            topics: BTreeMap::new(),
            checkpoint_times: Vec::new(),
        };
        match mcap::Summary::read(&rec.bytes) {
            Ok(Some(summary)) if rec.adopt(&summary) => rec.indexed = true,
            // No footer or end magic: cut short or still being written (the scan
            // says where it ends), not damage of its own.
            Ok(_) | Err(mcap::McapError::BadMagic | mcap::McapError::BadFooter) => rec.scan(),
            Err(e) => {
                rec.damage.push(Damage {
                    offset: rec.bytes.len() as u64,
                    what: format!(
                        "the summary at the end is unreadable ({e}); chunks found by scanning"
                    ),
                });
                rec.scan();
            }
        }
        Ok(rec)
    }

    /// Takes the chunk index and channels from a summary; false when the summary
    /// has no usable index (the file is then scanned).
    fn adopt(&mut self, summary: &mcap::Summary) -> bool {
        let len = self.bytes.len() as u64;
        let has_chunks = summary.stats.as_ref().is_none_or(|s| s.chunk_count == 0)
            || !summary.chunk_indexes.is_empty();
        if !has_chunks {
            return false;
        }
        for index in &summary.chunk_indexes {
            let end = index.chunk_start_offset.checked_add(index.chunk_length);
            if end.is_none_or(|end| end > len) || index.chunk_length < 9 {
                self.damage.push(Damage {
                    offset: index.chunk_start_offset,
                    what: "the index names a chunk past the end of the file".into(),
                });
                continue;
            }
            self.chunks.push(ChunkInfo {
                offset: index.chunk_start_offset,
                length: index.chunk_length,
                start: index.message_start_time,
                end: index.message_end_time,
            });
        }
        self.chunks.sort_by_key(|c| c.offset);
        for (id, channel) in &summary.channels {
            self.topics.insert(*id, channel.topic.clone());
        }
        for index in &summary.metadata_indexes {
            if index.name != METADATA_NAME && index.name != CHECKPOINTS_NAME {
                continue;
            }
            match mcap::read::metadata(&self.bytes, index) {
                Ok(m) if index.name == METADATA_NAME => self.metadata = m.metadata,
                Ok(m) => {
                    let times = m.metadata.get("log_times").map_or("", String::as_str);
                    self.checkpoint_times = times
                        .split(',')
                        .filter_map(|t| t.trim().parse().ok())
                        .collect();
                    self.checkpoint_times.sort_unstable();
                }
                Err(e) => self.damage.push(Damage {
                    offset: index.offset,
                    what: format!("metadata record unreadable: {e}"),
                }),
            }
        }
        true
    }

    /// Walks the file record by record from the start: for a file without its
    /// summary. Stops at the data's end or where the file is cut short; skips over
    /// garbage to the next record that parses as a chunk.
    fn scan(&mut self) {
        let bytes = &self.bytes;
        let len = bytes.len();
        let mut at = mcap::MAGIC.len();
        while at < len {
            if len - at < 9 {
                self.damage.push(Damage {
                    offset: at as u64,
                    what: format!(
                        "the file ends {} bytes into a record header (cut short)",
                        len - at
                    ),
                });
                break;
            }
            let opcode = bytes[at];
            let body_len = u64::from_le_bytes(bytes[at + 1..at + 9].try_into().unwrap_or([0; 8]));
            let body_start = at + 9;
            // We write no private records (0x80 and up): those bytes are garbage too.
            let known = (op::HEADER..=op::DATA_END).contains(&opcode);
            let fits = body_len <= (len - body_start) as u64;
            if !known || !fits {
                let next = next_chunk(bytes, at + 1);
                let what = match next {
                    Some(next) => format!(
                        "not a record (opcode {opcode:#04x}); {} bytes skipped",
                        next - at
                    ),
                    None if known => format!(
                        "the file ends inside a record of {body_len} bytes, {} of them present (cut short, or still being written)",
                        len - body_start
                    ),
                    None => format!(
                        "not a record (opcode {opcode:#04x}); the remaining {} bytes hold no chunk",
                        len - at
                    ),
                };
                self.damage.push(Damage {
                    offset: at as u64,
                    what,
                });
                match next {
                    Some(next) => {
                        at = next;
                        continue;
                    }
                    None => break,
                }
            }
            let body = &bytes[body_start..body_start + body_len as usize];
            match opcode {
                op::CHUNK => match mcap::parse_record(opcode, body) {
                    Ok(records::Record::Chunk { header, .. }) => self.chunks.push(ChunkInfo {
                        offset: at as u64,
                        length: 9 + body_len,
                        start: header.message_start_time,
                        end: header.message_end_time,
                    }),
                    _ => self.damage.push(Damage {
                        offset: at as u64,
                        what: "a chunk whose header does not parse; skipped".into(),
                    }),
                },
                op::METADATA => {
                    if let Ok(records::Record::Metadata(m)) = mcap::parse_record(opcode, body)
                        && m.name == METADATA_NAME
                    {
                        self.metadata = m.metadata;
                    }
                }
                op::CHANNEL => {
                    if let Ok(records::Record::Channel(c)) = mcap::parse_record(opcode, body) {
                        self.topics.insert(c.id, c.topic);
                    }
                }
                op::DATA_END | op::FOOTER => break,
                _ => {}
            }
            at = body_start + body_len as usize;
        }
    }

    /// Whole file size in bytes.
    pub fn size(&self) -> u64 {
        self.bytes.len() as u64
    }

    /// The messages of chunk `i` in their order in the file, or what is wrong with
    /// the chunk (then none of it is used: its data failed its check). Channels
    /// found inside the chunk are added to [`Recording::topics`].
    pub fn read_chunk(&mut self, i: usize) -> Result<Vec<RawEntry>, Damage> {
        let chunk = self.chunks[i];
        let damage = |what: String| Damage {
            offset: chunk.offset,
            what: format!("chunk {} ({}): {what}", i + 1, span(chunk.start, chunk.end)),
        };
        let start = chunk.offset as usize;
        let end = start + chunk.length as usize;
        if end > self.bytes.len() || chunk.length < 9 || self.bytes[start] != op::CHUNK {
            return Err(damage("not a chunk record where the index says".into()));
        }
        let (header, data) = match mcap::parse_record(op::CHUNK, &self.bytes[start + 9..end]) {
            Ok(records::Record::Chunk { header, data }) => (header, data),
            Ok(_) => return Err(damage("not a chunk record".into())),
            Err(e) => return Err(damage(format!("header does not parse: {e}"))),
        };
        if header.uncompressed_size > MAX_CHUNK_BYTES {
            return Err(damage(format!(
                "claims {} bytes uncompressed, over the {MAX_CHUNK_BYTES}-byte limit",
                header.uncompressed_size
            )));
        }
        let plain = match header.compression.as_str() {
            "" => data.into_owned(),
            "zstd" => zstd::bulk::decompress(&data, header.uncompressed_size as usize)
                .map_err(|e| damage(format!("does not decompress: {e}")))?,
            other => {
                return Err(damage(format!(
                    "compressed with '{other}', which this build does not read"
                )));
            }
        };
        if plain.len() as u64 != header.uncompressed_size {
            return Err(damage(format!(
                "decompresses to {} bytes, its header says {}",
                plain.len(),
                header.uncompressed_size
            )));
        }
        let crc = crc32fast::hash(&plain);
        if header.uncompressed_crc != 0 && crc != header.uncompressed_crc {
            return Err(damage(format!(
                "fails its check (CRC {crc:08x}, recorded {:08x})",
                header.uncompressed_crc
            )));
        }
        let mut out = Vec::new();
        let mut topics = Vec::new();
        let mut at = 0;
        while at < plain.len() {
            let Some(head) = plain.get(at..at + 9) else {
                return Err(damage(format!(
                    "ends inside a record header at byte {at} of its data"
                )));
            };
            let opcode = head[0];
            let body_len = u64::from_le_bytes(head[1..9].try_into().unwrap_or([0; 8]));
            let body = usize::try_from(body_len)
                .ok()
                .and_then(|n| plain.get(at + 9..(at + 9).checked_add(n)?));
            let Some(body) = body else {
                return Err(damage(format!(
                    "a record at byte {at} of its data runs past its end"
                )));
            };
            match mcap::parse_record(opcode, body) {
                Ok(records::Record::Message { header, data }) => out.push(RawEntry {
                    log_time: header.log_time,
                    channel: header.channel_id,
                    data: data.into_owned(),
                }),
                Ok(records::Record::Channel(c)) => topics.push((c.id, c.topic)),
                Ok(_) => {}
                Err(e) => {
                    return Err(damage(format!(
                        "a record at byte {at} of its data does not parse ({e})"
                    )));
                }
            }
            at += 9 + body.len();
        }
        self.topics.extend(topics);
        Ok(out)
    }

    /// The kind a channel carries (`device`, `work_order`…), from its topic.
    pub fn kind_of(&self, channel: u16) -> &str {
        self.topics
            .get(&channel)
            .map(|t| t.strip_prefix(TOPIC_PREFIX).unwrap_or(t))
            .unwrap_or("?")
    }

    /// The chunk of the latest checkpoint of the twin's whole state at or before
    /// `time`, with what it holds (that checkpoint, read and checked): where a seek to
    /// `time` starts reading. A checkpoint whose chunk is damaged or missing is passed
    /// over for an earlier one.
    pub fn checkpoint_before(&mut self, time: u64) -> Option<(usize, Vec<RawEntry>)> {
        let times: Vec<u64> = self
            .checkpoint_times
            .iter()
            .rev()
            .copied()
            .filter(|t| *t <= time)
            .collect();
        for t in times {
            let candidates: Vec<usize> = (0..self.chunks.len())
                .filter(|&i| self.chunks[i].start == t && self.chunks[i].end == t)
                .collect();
            for i in candidates {
                if let Ok(entries) = self.read_chunk(i)
                    && let [entry] = entries.as_slice()
                    && self.kind_of(entry.channel) == "checkpoint"
                {
                    return Some((i, entries));
                }
            }
        }
        None
    }

    /// The first chunk that may hold messages at or after `time`: messages before it
    /// in file order all come before `time` (chunks are written in time order; a
    /// chunk overlapping `time` is included).
    pub fn first_chunk_at(&self, time: u64) -> usize {
        self.chunks
            .iter()
            .position(|c| c.end >= time)
            .unwrap_or(self.chunks.len())
    }
}

/// Decodes one message of a recording: the feed schema's JSON.
pub fn decode(entry: &RawEntry) -> Result<FeedMessage, DecodeError> {
    match std::str::from_utf8(&entry.data) {
        Ok(text) => FeedMessage::decode(text),
        Err(_) => Err(DecodeError::Envelope("not UTF-8".into())),
    }
}

/// The next offset after `from` where a chunk record starts (its header parses and
/// it fits in the file): where reading resumes after garbage.
fn next_chunk(bytes: &[u8], from: usize) -> Option<usize> {
    let len = bytes.len();
    (from..len.saturating_sub(9)).find(|&p| {
        if bytes[p] != op::CHUNK {
            return false;
        }
        let body_len = u64::from_le_bytes(bytes[p + 1..p + 9].try_into().unwrap_or([0; 8]));
        body_len <= (len - p - 9) as u64
            && matches!(
                mcap::parse_record(op::CHUNK, &bytes[p + 9..p + 9 + body_len as usize]),
                Ok(records::Record::Chunk { .. })
            )
    })
}

/// A log time as a Beijing time (`None` past chrono's range).
pub fn time_of(time: u64) -> Option<chrono::DateTime<chrono::FixedOffset>> {
    let secs = (time / 1_000_000_000) as i64;
    let nanos = (time % 1_000_000_000) as u32;
    chrono::DateTime::from_timestamp(secs, nanos).map(|t| t.with_timezone(&crate::ops::beijing()))
}

/// A log time as Beijing time, to the second.
pub fn beijing(time: u64) -> String {
    time_of(time)
        .map(|t| t.format("%Y-%m-%d %H:%M:%S").to_string())
        .unwrap_or_else(|| format!("{time} ns"))
}

/// The first and last message times of a recording (MCAP from its chunk index, text
/// by reading each line's `ts`); `None` when it holds no readable message.
pub fn time_span(
    path: &Path,
) -> Option<(
    chrono::DateTime<chrono::FixedOffset>,
    chrono::DateTime<chrono::FixedOffset>,
)> {
    if !std::fs::metadata(path).ok()?.is_file() {
        return None;
    }
    if is_mcap(path).ok()? {
        let rec = Recording::open(path).ok()?;
        let start = rec.chunks.iter().map(|c| c.start).min()?;
        let end = rec.chunks.iter().map(|c| c.end).max()?;
        return Some((time_of(start)?, time_of(end)?));
    }
    #[derive(serde::Deserialize)]
    struct Stamp {
        ts: chrono::DateTime<chrono::FixedOffset>,
    }
    use std::io::{BufRead, Read};
    let mut file = std::io::BufReader::new(std::fs::File::open(path).ok()?);
    let mut span: Option<(_, _)> = None;
    let mut line = Vec::new();
    let limit = super::replay::MAX_LINE_BYTES as u64 + 1;
    loop {
        line.clear();
        let n = (&mut file).take(limit).read_until(b'\n', &mut line).ok()?;
        if n == 0 {
            return span;
        }
        if n as u64 == limit && !line.ends_with(b"\n") {
            // Longer than any message: skipped to its end, as the replay skips it.
            let mut rest = Vec::new();
            while (&mut file).take(limit).read_until(b'\n', &mut rest).ok()? as u64 == limit
                && !rest.ends_with(b"\n")
            {
                rest.clear();
            }
            continue;
        }
        if let Ok(Stamp { ts }) = serde_json::from_slice::<Stamp>(&line) {
            span = Some(span.map_or((ts, ts), |(a, b): (_, _)| (ts.min(a), ts.max(b))));
        }
    }
}

fn span(start: u64, end: u64) -> String {
    format!("{} – {}", beijing(start), beijing(end))
}

/// What `citytwin feeds info` prints: the time range, counts per kind, chunks,
/// checkpoints and damaged regions of a recording.
#[derive(Debug, Default, Clone)]
pub struct Info {
    pub messages: u64,
    pub per_kind: BTreeMap<String, u64>,
    pub start: Option<u64>,
    pub end: Option<u64>,
    pub chunks: usize,
    pub checkpoints: usize,
    /// Of those, checkpoints of the twin's whole state, with their times (ns).
    pub states: Vec<u64>,
    /// Messages that are not feed messages (bad JSON, wrong schema…).
    pub bad_messages: u64,
    pub damage: Vec<Damage>,
}

impl Recording {
    /// Reads every chunk and decodes every message, counting and noting damage.
    pub fn info(&mut self) -> Info {
        let mut info = Info {
            chunks: self.chunks.len(),
            damage: self.damage.clone(),
            ..Info::default()
        };
        for i in 0..self.chunks.len() {
            let entries = match self.read_chunk(i) {
                Ok(entries) => entries,
                Err(d) => {
                    info.damage.push(d);
                    continue;
                }
            };
            for (n, entry) in entries.iter().enumerate() {
                match decode(entry) {
                    Ok(m) => {
                        info.messages += 1;
                        if matches!(m.body, FeedBody::Checkpoint(_)) {
                            info.checkpoints += 1;
                        }
                        if m.body.holds_state() {
                            info.states.push(entry.log_time);
                        }
                        *info.per_kind.entry(m.body.kind().to_string()).or_default() += 1;
                        info.start =
                            Some(info.start.map_or(entry.log_time, |s| s.min(entry.log_time)));
                        info.end = Some(info.end.map_or(entry.log_time, |e| e.max(entry.log_time)));
                    }
                    Err(e) => {
                        info.bad_messages += 1;
                        info.damage.push(Damage {
                            offset: self.chunks[i].offset,
                            what: format!(
                                "chunk {}, message {} (on {}): {e}",
                                i + 1,
                                n + 1,
                                self.kind_of(entry.channel)
                            ),
                        });
                    }
                }
            }
        }
        info
    }
}

impl Info {
    /// The report as printed, one fact a line.
    pub fn render(&self, rec: &Recording) -> String {
        let mut out = String::new();
        let mut line = |s: String| {
            out.push_str(&s);
            out.push('\n');
        };
        line(format!(
            "{}: MCAP recording, {} bytes, {}",
            rec.path.display(),
            rec.size(),
            if rec.indexed {
                "indexed (summary present)"
            } else {
                "no summary (cut short or still being written): chunks found by scanning"
            }
        ));
        for (k, v) in &rec.metadata {
            line(format!("  {k}: {}", v.replace('\n', "\n    ")));
        }
        match (self.start, self.end) {
            (Some(s), Some(e)) => line(format!(
                "time: {} – {} (Beijing), {:.1} h",
                beijing(s),
                beijing(e),
                (e - s) as f64 / 3.6e12
            )),
            _ => line("time: no messages".into()),
        }
        let per_kind: Vec<String> = self
            .per_kind
            .iter()
            .map(|(k, n)| format!("{k} {n}"))
            .collect();
        line(format!(
            "messages: {} ({})",
            self.messages,
            per_kind.join(", ")
        ));
        if self.messages > 0 {
            line(format!(
                "bytes per message: {:.1}",
                rec.size() as f64 / self.messages as f64
            ));
        }
        line(format!("chunks: {}", self.chunks));
        line(format!("checkpoints: {}", self.checkpoints));
        if !self.states.is_empty() {
            let times: Vec<String> = self.states.iter().map(|t| beijing(*t)).collect();
            line(format!(
                "  {} of the twin's whole state (where seeks start; {} listed in the summary): {}",
                self.states.len(),
                rec.checkpoint_times.len(),
                times.join(", ")
            ));
        }
        if self.damage.is_empty() {
            line("damaged: none".into());
        } else {
            line(format!("damaged: {} region(s)", self.damage.len()));
            for d in &self.damage {
                line(format!("  {d}"));
            }
        }
        out
    }
}

/// What a conversion did.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Converted {
    pub written: u64,
    /// Lines or messages that are not feed messages, with where they are.
    pub skipped: Vec<String>,
}

/// `citytwin feeds convert`: NDJSON to MCAP or MCAP to NDJSON, by the input's first
/// bytes. Messages keep their exact text and order; NDJSON's `#` comment lines become
/// the recording's `note` metadata and come back as comments. What is not a message
/// is skipped and listed; damage in an MCAP input is listed and the rest converted.
pub fn convert(input: &Path, output: &Path, level: u32) -> anyhow::Result<Converted> {
    use anyhow::Context;
    let mut done = Converted::default();
    if is_mcap(input).with_context(|| format!("reading {}", input.display()))? {
        let mut rec = Recording::open(input).map_err(anyhow::Error::msg)?;
        let file = std::fs::File::create(output)
            .with_context(|| format!("creating {}", output.display()))?;
        let mut w = BufWriter::new(file);
        for (k, v) in &rec.metadata {
            for (i, text) in v.lines().enumerate() {
                if k == "note" {
                    writeln!(w, "# {text}")?;
                } else if i == 0 {
                    writeln!(w, "# {k}: {text}")?;
                } else {
                    writeln!(w, "#   {text}")?;
                }
            }
        }
        done.skipped
            .extend(rec.damage.iter().map(|d| d.to_string()));
        for i in 0..rec.chunks.len() {
            let entries = match rec.read_chunk(i) {
                Ok(entries) => entries,
                Err(d) => {
                    done.skipped.push(d.to_string());
                    continue;
                }
            };
            for (n, entry) in entries.iter().enumerate() {
                match decode(entry) {
                    // Checked as a message, written as it was recorded.
                    Ok(_) => {
                        w.write_all(&entry.data)?;
                        w.write_all(b"\n")?;
                        done.written += 1;
                    }
                    Err(e) => done
                        .skipped
                        .push(format!("chunk {}, message {}: {e}", i + 1, n + 1)),
                }
            }
        }
        w.flush()?;
        return Ok(done);
    }
    let text = std::fs::read(input).with_context(|| format!("reading {}", input.display()))?;
    let mut notes = Vec::new();
    let mut messages = Vec::new();
    for (i, line) in text.split(|&b| b == b'\n').enumerate() {
        let Ok(line) = std::str::from_utf8(line) else {
            done.skipped.push(format!("line {}: not UTF-8", i + 1));
            continue;
        };
        let line = line.trim_end_matches('\r');
        if line.trim().is_empty() {
            continue;
        }
        if let Some(note) = line.strip_prefix('#') {
            notes.push(note.trim().to_string());
            continue;
        }
        match FeedMessage::decode(line) {
            Ok(m) => messages.push((m.body.kind(), log_time(&m.ts), line)),
            Err(e) => done.skipped.push(format!("line {}: {e}", i + 1)),
        }
    }
    let mut meta = BTreeMap::new();
    meta.insert("converted_from".to_string(), file_name(input));
    if !notes.is_empty() {
        meta.insert("note".to_string(), notes.join("\n"));
    }
    let mut w = RecordingWriter::create(output, &meta, level)?;
    for (kind, time, line) in messages {
        w.write_encoded(kind, time, line.as_bytes())?;
    }
    done.written = w.finish()?;
    Ok(done)
}

fn file_name(path: &Path) -> String {
    path.file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default()
}
