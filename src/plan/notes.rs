//! Review notes pinned to places: a GeoJSON file of points (WGS84) beside the scene,
//! each with its text, author and time, written whole to a temporary file and renamed
//! over the old one, so a crash never leaves half a file.

use crate::geo::LonLat;
use chrono::{DateTime, Utc};
use serde_json::{Value, json};
use std::path::Path;

#[derive(Debug, Clone, PartialEq)]
pub struct Note {
    pub at: LonLat,
    pub text: String,
    pub author: String,
    pub time: DateTime<Utc>,
    /// The scenario it is about (None: the site as a whole).
    pub scenario: Option<String>,
}

/// Longest note text kept, characters.
pub const MAX_NOTE_CHARS: usize = 4000;
/// Largest notes file read.
pub const MAX_NOTES_BYTES: u64 = 16 << 20;

/// The notes in `path`; none when the file does not exist yet.
pub fn load(path: &Path) -> Result<Vec<Note>, String> {
    if !path.exists() {
        return Ok(Vec::new());
    }
    let bytes = crate::read_limited(path, MAX_NOTES_BYTES)
        .map_err(|e| format!("{}: {e}", path.display()))?;
    let root: Value = serde_json::from_slice(&bytes)
        .map_err(|e| format!("{}: not valid JSON: {e}", path.display()))?;
    let features = root
        .get("features")
        .and_then(Value::as_array)
        .ok_or_else(|| format!("{}: not a GeoJSON FeatureCollection", path.display()))?;
    let mut notes = Vec::with_capacity(features.len());
    for (i, f) in features.iter().enumerate() {
        let bad = |what: &str| format!("{}: note {i}: {what}", path.display());
        let coords = f
            .pointer("/geometry/coordinates")
            .and_then(Value::as_array)
            .filter(|c| f.pointer("/geometry/type") == Some(&json!("Point")) && c.len() >= 2)
            .ok_or_else(|| bad("geometry is not a Point"))?;
        let (Some(lon), Some(lat)) = (coords[0].as_f64(), coords[1].as_f64()) else {
            return Err(bad("coordinates are not numbers"));
        };
        let at = LonLat::new(lon, lat);
        if !at.is_valid() {
            return Err(bad("not a valid lon/lat"));
        }
        let prop = |k: &str| {
            f.pointer(&format!("/properties/{k}"))
                .and_then(Value::as_str)
        };
        let text = prop("text").ok_or_else(|| bad("no \"text\""))?;
        let time = prop("time")
            .ok_or_else(|| bad("no \"time\""))
            .and_then(|t| {
                DateTime::parse_from_rfc3339(t)
                    .map(|t| t.with_timezone(&Utc))
                    .map_err(|e| bad(&format!("time \"{t}\": {e}")))
            })?;
        notes.push(Note {
            at,
            text: text.chars().take(MAX_NOTE_CHARS).collect(),
            author: prop("author").unwrap_or("").to_owned(),
            time,
            scenario: prop("scenario").map(str::to_owned),
        });
    }
    Ok(notes)
}

/// Writes `notes` to `path` (its folder made when missing).
pub fn save(path: &Path, notes: &[Note]) -> Result<(), String> {
    let features: Vec<Value> = notes
        .iter()
        .map(|n| {
            let mut props = json!({
                "text": n.text,
                "author": n.author,
                "time": n.time.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
            });
            if let Some(s) = &n.scenario {
                props["scenario"] = json!(s);
            }
            json!({
                "type": "Feature",
                "geometry": {"type": "Point", "coordinates": [n.at.lon, n.at.lat]},
                "properties": props,
            })
        })
        .collect();
    let text = serde_json::to_string_pretty(&json!({
        "type": "FeatureCollection",
        "name": "citytwin review notes",
        "features": features,
    }))
    .map_err(|e| e.to_string())?;
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    }
    let tmp = path.with_extension("geojson.tmp");
    std::fs::write(&tmp, text).map_err(|e| format!("{}: {e}", tmp.display()))?;
    std::fs::rename(&tmp, path).map_err(|e| format!("{}: {e}", path.display()))
}

/// Adds one note to the file.
pub fn add(path: &Path, note: Note) -> Result<usize, String> {
    let mut notes = load(path)?;
    notes.push(note);
    save(path, &notes)?;
    Ok(notes.len())
}
