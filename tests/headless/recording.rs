//! MCAP recordings (issue 13, parts 1 and 5): NDJSON to MCAP and back through the real
//! command, damage of every kind reported where it is with the rest read and replayed,
//! and a recorder killed mid-recording keeping what it had flushed.

use crate::common::*;
use citytwin::feeds::ingest::FeedStats;
use citytwin::feeds::recording::{self, Recording, RecordingWriter};
use citytwin::feeds::schema::FeedMessage;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

fn erqi() -> PathBuf {
    repo_root().join("data-feeds/zhengzhou-erqi.ndjson")
}

/// The messages of the committed district recording, as lines.
fn erqi_lines() -> Vec<String> {
    std::fs::read_to_string(erqi())
        .unwrap()
        .lines()
        .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
        .map(str::to_string)
        .collect()
}

fn citytwin(args: &[&std::ffi::OsStr]) -> (bool, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_citytwin"))
        .args(args)
        .output()
        .expect("citytwin runs");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.success(), text)
}

#[test]
fn ndjson_to_mcap_and_back_keeps_every_message_its_order_and_the_note() {
    let dir = temp_dir("recording-convert");
    let mcap = dir.join("erqi.mcap");
    let back = dir.join("back.ndjson");
    let (ok, out) = citytwin(&[
        "feeds".as_ref(),
        "convert".as_ref(),
        erqi().as_os_str(),
        mcap.as_os_str(),
    ]);
    assert!(ok, "{out}");
    let lines = erqi_lines();
    assert!(
        out.contains(&format!("{} messages written", lines.len())),
        "{out}"
    );
    assert!(recording::is_mcap(&mcap).unwrap());

    let (ok, info) = citytwin(&["feeds".as_ref(), "info".as_ref(), mcap.as_os_str()]);
    assert!(ok, "{info}");
    let mut per_kind: BTreeMap<String, usize> = BTreeMap::new();
    for l in &lines {
        *per_kind
            .entry(FeedMessage::decode(l).unwrap().body.kind().into())
            .or_default() += 1;
    }
    let kinds: Vec<String> = per_kind.iter().map(|(k, n)| format!("{k} {n}")).collect();
    let expected = format!("messages: {} ({})", lines.len(), kinds.join(", "));
    assert!(info.contains(&expected), "want '{expected}' in\n{info}");
    assert!(
        info.contains("time: 2026-11-23 08:00:00 – 2026-11-23 08:10:00"),
        "{info}"
    );
    assert!(info.contains("indexed (summary present)"), "{info}");
    assert!(info.contains("damaged: none"), "{info}");
    assert!(
        info.contains("SYNTHETIC"),
        "the note says the data is synthetic:\n{info}"
    );
    let size = std::fs::metadata(&mcap).unwrap().len();
    assert!(
        size * 5 < std::fs::metadata(erqi()).unwrap().len(),
        "compressed: {size} bytes"
    );

    let (ok, out) = citytwin(&[
        "feeds".as_ref(),
        "convert".as_ref(),
        mcap.as_os_str(),
        back.as_os_str(),
    ]);
    assert!(ok, "{out}");
    let text = std::fs::read_to_string(&back).unwrap();
    let back_lines: Vec<&str> = text.lines().filter(|l| !l.starts_with('#')).collect();
    assert_eq!(back_lines, lines, "every message, its text and its order");
    let original = std::fs::read_to_string(erqi()).unwrap();
    for comment in original.lines().filter(|l| l.starts_with('#')) {
        assert!(
            text.lines().any(|l| l == comment),
            "comment kept: {comment}"
        );
    }
}

/// A recording of the district's messages in chunks of 400 (closed by hand, as the
/// recorder closes one each second), with one message that is not JSON in chunk 2.
/// Returns the file and the messages of each chunk as decoded.
fn chunked(dir: &Path) -> (PathBuf, Vec<usize>) {
    let path = dir.join("chunked.mcap");
    let mut w = RecordingWriter::create(&path, &BTreeMap::new(), recording::LIVE_LEVEL).unwrap();
    for (i, line) in erqi_lines().iter().enumerate() {
        let m = FeedMessage::decode(line).unwrap();
        w.write(&m).unwrap();
        if i == 500 {
            w.write_encoded("device", recording::log_time(&m.ts), b"{\"v\":1,\"ts\":")
                .unwrap();
        }
        if i % 400 == 399 {
            w.flush().unwrap();
        }
    }
    w.finish().unwrap();
    let mut rec = Recording::open(&path).unwrap();
    let good: Vec<usize> = (0..rec.chunks.len())
        .map(|i| {
            let entries = rec.read_chunk(i).unwrap();
            entries
                .iter()
                .filter(|e| recording::decode(e).is_ok())
                .count()
        })
        .collect();
    (path, good)
}

#[test]
fn damage_in_a_recording_is_reported_where_it_is_and_the_rest_is_read() {
    let dir = temp_dir("recording-damage");
    let (path, good) = chunked(&dir);
    let total = erqi_lines().len() as u64;
    assert_eq!(good.len(), 10, "ten chunks");
    assert_eq!(good.iter().sum::<usize>() as u64, total);

    // Intact but for the bad message: named by chunk and place, the rest counted.
    let mut rec = Recording::open(&path).unwrap();
    assert!(rec.indexed && rec.damage.is_empty());
    let info = rec.info();
    assert_eq!((info.messages, info.bad_messages), (total, 1));
    assert_eq!(info.damage.len(), 1);
    assert!(
        info.damage[0].what.contains("chunk 2, message 102"),
        "{}",
        info.damage[0]
    );
    let chunks = rec.chunks.clone();
    let bytes = std::fs::read(&path).unwrap();

    // A corrupt chunk: its bytes changed in the middle of its compressed data.
    let mut corrupt = bytes.clone();
    let c = chunks[3];
    for b in &mut corrupt[(c.offset + c.length / 2) as usize..][..16] {
        *b ^= 0x5a;
    }
    let corrupt_path = dir.join("corrupt.mcap");
    std::fs::write(&corrupt_path, &corrupt).unwrap();
    let mut rec = Recording::open(&corrupt_path).unwrap();
    let info = rec.info();
    assert_eq!(info.messages, total - good[3] as u64, "all but chunk 4's");
    let chunk_damage: Vec<_> = info
        .damage
        .iter()
        .filter(|d| d.offset == c.offset)
        .collect();
    assert_eq!(chunk_damage.len(), 1, "{:?}", info.damage);
    assert!(
        chunk_damage[0].what.starts_with("chunk 4 (2026-11-23"),
        "{}",
        chunk_damage[0]
    );
    let (ok, printed) = citytwin(&["feeds".as_ref(), "info".as_ref(), corrupt_path.as_os_str()]);
    assert!(ok, "{printed}");
    assert!(
        printed.contains("damaged: 2 region(s)")
            && printed.contains(&format!("at byte {}: chunk 4", c.offset)),
        "{printed}"
    );

    // Cut short in the middle of chunk 6: no summary; the first five chunks read.
    let c6 = chunks[5];
    let cut = &bytes[..(c6.offset + c6.length / 2) as usize];
    let cut_path = dir.join("cut.mcap");
    std::fs::write(&cut_path, cut).unwrap();
    let mut rec = Recording::open(&cut_path).unwrap();
    assert!(!rec.indexed);
    assert_eq!(rec.chunks.len(), 5);
    assert_eq!(rec.damage.len(), 1, "{:?}", rec.damage);
    assert_eq!(rec.damage[0].offset, c6.offset);
    assert!(
        rec.damage[0].what.contains("cut short"),
        "{}",
        rec.damage[0]
    );
    let first_five: u64 = good[..5].iter().sum::<usize>() as u64;
    assert_eq!(rec.info().messages, first_five);

    // Garbage before chunk 3 of the cut file: skipped to the next chunk.
    let c3 = chunks[2];
    let mut garbled = cut[..c3.offset as usize].to_vec();
    garbled.extend(std::iter::repeat_n(0xee, 64));
    garbled.extend(&cut[c3.offset as usize..]);
    let garbled_path = dir.join("garbled.mcap");
    std::fs::write(&garbled_path, &garbled).unwrap();
    let mut rec = Recording::open(&garbled_path).unwrap();
    assert_eq!(rec.chunks.len(), 5);
    assert_eq!(rec.damage.len(), 2, "{:?}", rec.damage);
    assert_eq!(rec.damage[0].offset, c3.offset);
    assert!(
        rec.damage[0]
            .what
            .contains("not a record (opcode 0xee); 64 bytes skipped"),
        "{}",
        rec.damage[0]
    );
    assert_eq!(rec.info().messages, first_five);

    // The replay source plays the corrupt file: every readable message arrives, the
    // chunk and the bad message are rejected with their reasons.
    let app = played_to_the_end(&dir, "corrupt.mcap");
    let stats = &app.world().resource::<FeedStats>().sources[0];
    let readable = total - good[3] as u64;
    assert_eq!(
        stats.rejected.get("damaged"),
        Some(&1),
        "{:?}",
        stats.rejected
    );
    assert_eq!(
        stats.rejected.get("malformed"),
        Some(&1),
        "{:?}",
        stats.rejected
    );
    assert_eq!(
        stats.received,
        readable + 2,
        "every readable message and the two rejections"
    );
}

#[test]
fn a_killed_recorder_keeps_everything_it_had_flushed() {
    let dir = temp_dir("recording-kill");
    let out = dir.join("killed.mcap");
    // The district's ten minutes at 30×: twenty seconds of recording, a chunk a second.
    let mut recorder = Command::new(env!("CARGO_BIN_EXE_citytwin"))
        .args(["record", "--feeds"])
        .arg(format!("replay:{}@30", erqi().display()))
        .arg("--out")
        .arg(&out)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("citytwin runs");
    let started = Instant::now();
    loop {
        let chunks = Recording::open(&out).map(|r| r.chunks.len()).unwrap_or(0);
        if chunks >= 3 {
            break;
        }
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "no chunks written"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    recorder.kill().expect("kill the recorder");
    recorder.wait().unwrap();

    let mut rec = Recording::open(&out).unwrap();
    assert!(!rec.indexed, "killed before its summary");
    assert!(
        rec.damage.len() <= 1,
        "at most a cut-short end: {:?}",
        rec.damage
    );
    assert!(rec.metadata["recorded_by"].contains("citytwin record"));
    let mut read = Vec::new();
    for i in 0..rec.chunks.len() {
        for entry in rec.read_chunk(i).unwrap() {
            read.push(recording::decode(&entry).unwrap());
        }
    }
    let lines = erqi_lines();
    assert!(
        read.len() >= 3 && read.len() < lines.len(),
        "{} read",
        read.len()
    );
    for (i, (got, line)) in read.iter().zip(&lines).enumerate() {
        assert_eq!(
            got,
            &FeedMessage::decode(line).unwrap(),
            "message {i} as recorded"
        );
    }
}
