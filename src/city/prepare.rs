//! `citytwin import FILE --out DIR`: any layer file citytwin reads, converted once into
//! an indexed FlatGeobuf in WGS84 with UTF-8 attributes, and a scene snippet for it,
//! so that a city's data department prepares a scene once and the wall reads only
//! what its extent covers.

use super::import::{Format, ParsedFile, read_features};
use crate::geo::{Crs, LonLat, ToWgs84};
use crate::scene::{Attributes, Layer, LayerKind};
use serde_json::Value;
use std::path::{Path, PathBuf};

/// What to read the input as; unset fields are taken from the file.
#[derive(Debug, Clone, Default)]
pub struct ImportOptions {
    pub kind: Option<LayerKind>,
    pub crs: Option<Crs>,
    pub encoding: Option<String>,
    pub table: Option<String>,
}

/// Where an import stands, for a progress bar.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stage {
    /// Reading and decoding the input (no count yet).
    Reading,
    /// Projecting features to WGS84: done of total.
    Projecting,
    /// Adding features to the output: done of total.
    Writing,
    /// Building the spatial index and writing the file.
    Indexing,
}

#[derive(Debug)]
pub struct Imported {
    pub output: PathBuf,
    pub snippet_path: PathBuf,
    pub snippet: String,
    pub kind: LayerKind,
    pub source_crs: Crs,
    /// Features in the input.
    pub features: usize,
    /// Features written.
    pub written: usize,
    /// What was skipped or noted, one line each ("feature 12: …").
    pub problems: Vec<String>,
}

/// Converts `file` into `out_dir/<stem>.fgb` and `out_dir/<stem>.layer.ron`.
pub fn import(
    file: &Path,
    out_dir: &Path,
    options: &ImportOptions,
    mut progress: impl FnMut(Stage, usize, usize),
) -> Result<Imported, String> {
    let format = Format::of(file)?;
    let stem = file
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .filter(|s| !s.is_empty())
        .ok_or_else(|| format!("{}: no file name", file.display()))?;
    let layer = Layer {
        kind: options.kind.unwrap_or(LayerKind::Buildings),
        path: file.to_owned(),
        crs: options.crs.clone(),
        table: options.table.clone(),
        encoding: options.encoding.clone(),
        attributes: Attributes::default(),
    };
    progress(Stage::Reading, 0, 0);
    let (parsed, _) = read_features(&layer, file, None)?;
    let ParsedFile {
        values,
        records,
        file_crs,
        declared_crs,
        notes,
        errors,
        ..
    } = parsed;
    // With no scene to say it, a GeoJSON file's legacy `crs` member is the best word.
    let source_crs = options
        .crs
        .clone()
        .or(file_crs)
        .or_else(|| declared_crs.and_then(|c| c.parse().ok()))
        .unwrap_or(Crs::WGS84);
    let to_wgs84 = ToWgs84::new(&source_crs).map_err(|e| e.to_string())?;
    let mut problems: Vec<String> = notes
        .iter()
        .map(|(n, m)| match n {
            Some(n) => format!("feature {n}: {m}"),
            None => m.clone(),
        })
        .chain(errors.iter().map(|(n, m)| format!("feature {n}: {m}")))
        .collect();
    let total = values.len();
    let mut features = Vec::with_capacity(total);
    for (i, (n, mut value)) in values.into_iter().enumerate() {
        let geometry = value.get_mut("geometry").filter(|g| !g.is_null());
        match geometry.map(|g| project(&mut g["coordinates"], &to_wgs84)) {
            Some(Ok(())) => features.push(value),
            Some(Err(e)) => problems.push(format!("feature {n}: {e}; skipped")),
            None => problems.push(format!("feature {n}: no geometry; skipped")),
        }
        if i % 1024 == 0 || i + 1 == total {
            progress(Stage::Projecting, i + 1, total);
        }
    }
    std::fs::create_dir_all(out_dir)
        .map_err(|e| format!("cannot create {}: {e}", out_dir.display()))?;
    let output = out_dir.join(format!("{stem}.fgb"));
    let written = features.len();
    super::fgb::write(&output, &stem, &features, |done| {
        if done % 1024 == 0 || done == written {
            progress(Stage::Writing, done, written);
        }
        if done == written {
            progress(Stage::Indexing, written, written);
        }
    })?;
    let kind = options.kind.unwrap_or_else(|| guess_kind(&features));
    let snippet = snippet(&stem, kind, &features, file, &source_crs, format, written);
    let snippet_path = out_dir.join(format!("{stem}.layer.ron"));
    std::fs::write(&snippet_path, &snippet)
        .map_err(|e| format!("cannot write {}: {e}", snippet_path.display()))?;
    Ok(Imported {
        output,
        snippet_path,
        snippet,
        kind,
        source_crs,
        features: records,
        written,
        problems,
    })
}

/// Projects every position of a GeoJSON `coordinates` value to WGS84 in place.
fn project(coordinates: &mut Value, to_wgs84: &ToWgs84) -> Result<(), String> {
    let Value::Array(items) = coordinates else {
        return Err("coordinates are not an array".into());
    };
    if items.first().is_some_and(Value::is_number) {
        let x = items[0].as_f64().unwrap_or(f64::NAN);
        let y = items.get(1).and_then(Value::as_f64).unwrap_or(f64::NAN);
        let p: LonLat = to_wgs84.convert(x, y).map_err(|e| e.to_string())?;
        // A metre's thousandth is 1e-8°: nine decimals keep the output exact to 0.1 mm.
        let round = |v: f64| (v * 1e9).round() / 1e9;
        *items = vec![round(p.lon).into(), round(p.lat).into()];
        return Ok(());
    }
    items.iter_mut().try_for_each(|c| project(c, to_wgs84))
}

const HEIGHT_NAMES: [&str; 5] = ["height", "高度", "建筑高度", "HEIGHT", "building_height"];
const LEVEL_NAMES: [&str; 6] = [
    "levels",
    "层数",
    "floors",
    "FLOOR",
    "楼层数",
    "building:levels",
];
const NAME_NAMES: [&str; 5] = ["name", "名称", "NAME", "MC", "mc"];
const ID_NAMES: [&str; 5] = ["id", "ID", "code", "编码", "代码"];

fn column<'a>(features: &[Value], candidates: &[&'a str]) -> Option<&'a str> {
    candidates.iter().copied().find(|c| {
        features
            .iter()
            .take(1000)
            .any(|f| !f["properties"][c].is_null())
    })
}

/// Points are POIs, lines roads; polygons with a height or floor count are
/// buildings, other polygons districts.
fn guess_kind(features: &[Value]) -> LayerKind {
    let kind = features
        .iter()
        .find_map(|f| f["geometry"]["type"].as_str())
        .unwrap_or("Polygon");
    match kind.trim_start_matches("Multi") {
        "Point" => LayerKind::Pois,
        "LineString" => LayerKind::Roads,
        _ if column(features, &HEIGHT_NAMES).is_some()
            || column(features, &LEVEL_NAMES).is_some() =>
        {
            LayerKind::Buildings
        }
        _ => LayerKind::Districts,
    }
}

/// The scene entry for the converted layer, with the attribute names found in it
/// where they differ from the defaults.
fn snippet(
    stem: &str,
    kind: LayerKind,
    features: &[Value],
    source: &Path,
    source_crs: &Crs,
    format: Format,
    written: usize,
) -> String {
    let mut attributes = Vec::new();
    let mut pick = |field: &str, default: &str, names: &[&str]| {
        if let Some(found) = column(features, names).filter(|c| *c != default) {
            attributes.push(format!("{field}: {found:?}"));
        }
    };
    pick("id", "id", &ID_NAMES);
    pick("name", "name", &NAME_NAMES);
    if kind == LayerKind::Buildings {
        pick("height", "height", &HEIGHT_NAMES);
        pick("levels", "levels", &LEVEL_NAMES);
    }
    let attributes = if attributes.is_empty() {
        String::new()
    } else {
        format!(", attributes: ({})", attributes.join(", "))
    };
    format!(
        "// `citytwin import` of {} ({format:?}, {source_crs}): {written} features, now WGS84\n\
         // (EPSG:4326) with UTF-8 attributes and a spatial index. Paste into a scene's\n\
         // `layers`; the path is relative to this folder.\n\
         (kind: {kind:?}, path: {:?}{attributes}),\n",
        source.display(),
        format!("{stem}.fgb"),
    )
}
