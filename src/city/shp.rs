//! Shapefile reading (`.shp` + `.shx` + `.dbf`, with `.prj` and `.cpg`), through the
//! `shapefile` crate and its `dbase`: each record becomes a GeoJSON feature value, so
//! that the checks, repair and conversion of GeoJSON layers apply unchanged.
//!
//! Polygon rings are grouped the way GDAL does it: an outer ring (clockwise in the
//! file) takes the inner rings whose first vertex lies inside it (the smallest such
//! outer when several do). Z and M values are dropped; a null shape is skipped with a
//! warning.

use super::import::{ParsedFile, Properties};
use crate::geo::Crs;
use geo::{Contains, Coord, LineString, Polygon};
use serde_json::{Value, json};
use shapefile::dbase::{self, FieldValue};
use shapefile::record::traits::HasXY;
use shapefile::{PolygonRing, Shape};
use std::fs::File;
use std::io::BufReader;
use std::path::Path;

/// Reads every record of `path` (the `.shp`). `encoding` overrides the `.cpg`.
pub fn read(path: &Path, encoding: Option<&str>) -> Result<ParsedFile, String> {
    let mut notes = Vec::new();
    let crs = match std::fs::read(path.with_extension("prj")) {
        Ok(bytes) => {
            let text = String::from_utf8_lossy(&bytes);
            match Crs::from_wkt(&text) {
                Some(crs) => Some(crs),
                None => {
                    notes.push((None, "the .prj is not WKT; ignored it".to_string()));
                    None
                }
            }
        }
        Err(_) => None,
    };
    let shapes = shapefile::ShapeReader::from_path(path).map_err(|e| shp_error(path, e))?;
    let dbf_path = path.with_extension("dbf");
    let dbf = File::open(&dbf_path)
        .map(BufReader::new)
        .map_err(|e| format!("cannot open {}: {e}", file_name(&dbf_path)))?;
    let label = match encoding {
        Some(label) => Some(label.to_string()),
        None => std::fs::read_to_string(path.with_extension("cpg"))
            .ok()
            .map(|s| s.trim().trim_start_matches('\u{feff}').to_string()),
    };
    let dbf = match label {
        Some(label) => {
            let encoding = encoding_for(&label)
                .ok_or_else(|| format!("attribute encoding \"{label}\" is not known"))?;
            dbase::Reader::new_with_encoding(dbf, dbase::encoding::EncodingRs::from(encoding))
        }
        None => dbase::Reader::new(dbf),
    }
    .map_err(|e| format!("cannot read {}: {e}", file_name(&dbf_path)))?;
    let mut reader = shapefile::Reader::new(shapes, dbf);
    let mut values = Vec::new();
    let mut errors = Vec::new();
    let mut records = 0;
    for (n, item) in reader.iter_shapes_and_records().enumerate() {
        records = n + 1;
        let (shape, record) = item.map_err(|e| format!("record {n}: {}", shp_error(path, e)))?;
        let geometry = match geometry(shape) {
            Ok(Some(g)) => g,
            Ok(None) => {
                notes.push((Some(n), "null shape; skipped".to_string()));
                continue;
            }
            Err(e) => {
                errors.push((n, e));
                continue;
            }
        };
        let properties: Properties = record
            .into_iter()
            .map(|(name, value)| (name, attribute(value)))
            .collect();
        values.push((
            n,
            json!({"type": "Feature", "geometry": geometry, "properties": properties}),
        ));
    }
    let mut parsed = ParsedFile::new(crs);
    parsed.values = values;
    parsed.records = records;
    parsed.notes = notes;
    parsed.errors = errors;
    Ok(parsed)
}

/// An encoding from its `.cpg` or scene label: WHATWG labels (`gbk`, `gb18030`,
/// `utf-8`…) and Windows code page numbers (`936`, `cp936`).
fn encoding_for(label: &str) -> Option<&'static dbase::encoding_rs::Encoding> {
    let lower = label.trim().to_ascii_lowercase();
    let code_page = lower
        .strip_prefix("cp")
        .or_else(|| lower.strip_prefix("ansi "))
        .unwrap_or(&lower);
    match code_page {
        "936" => return Some(dbase::encoding_rs::GBK),
        "54936" => return Some(dbase::encoding_rs::GB18030),
        "65001" => return Some(dbase::encoding_rs::UTF_8),
        "950" => return Some(dbase::encoding_rs::BIG5),
        _ => {}
    }
    dbase::encoding_rs::Encoding::for_label(lower.as_bytes())
}

fn file_name(path: &Path) -> String {
    path.file_name().map_or_else(
        || path.display().to_string(),
        |n| n.to_string_lossy().into(),
    )
}

fn shp_error(path: &Path, e: shapefile::Error) -> String {
    match e {
        shapefile::Error::MissingDbf => format!("{} has no .dbf beside it", file_name(path)),
        shapefile::Error::InvalidFileCode(code) => {
            format!("not a Shapefile (file code {code}, expected 9994)")
        }
        other => format!("cannot read Shapefile: {other}"),
    }
}

fn position(p: &impl HasXY) -> Value {
    json!([p.x(), p.y()])
}

fn line(points: &[impl HasXY]) -> Value {
    Value::Array(points.iter().map(position).collect())
}

/// The GeoJSON geometry of a shape; `None` for a null shape.
fn geometry(shape: Shape) -> Result<Option<Value>, String> {
    let point = |p: Value| Ok(Some(json!({"type": "Point", "coordinates": p})));
    let lines = |parts: Vec<Value>| {
        Ok(Some(
            json!({"type": "MultiLineString", "coordinates": parts}),
        ))
    };
    match shape {
        Shape::NullShape => Ok(None),
        Shape::Point(p) => point(position(&p)),
        Shape::PointM(p) => point(position(&p)),
        Shape::PointZ(p) => point(position(&p)),
        Shape::Polyline(l) => lines(l.parts().iter().map(|p| line(p)).collect()),
        Shape::PolylineM(l) => lines(l.parts().iter().map(|p| line(p)).collect()),
        Shape::PolylineZ(l) => lines(l.parts().iter().map(|p| line(p)).collect()),
        Shape::Polygon(p) => Ok(Some(polygon(p.rings()))),
        Shape::PolygonM(p) => Ok(Some(polygon(p.rings()))),
        Shape::PolygonZ(p) => Ok(Some(polygon(p.rings()))),
        Shape::Multipoint(m) => Ok(Some(
            json!({"type": "MultiPoint", "coordinates": line(m.points())}),
        )),
        Shape::MultipointM(m) => Ok(Some(
            json!({"type": "MultiPoint", "coordinates": line(m.points())}),
        )),
        Shape::MultipointZ(m) => Ok(Some(
            json!({"type": "MultiPoint", "coordinates": line(m.points())}),
        )),
        Shape::Multipatch(_) => Err("shape is a Multipatch (3D surfaces); not supported".into()),
    }
}

/// A shape's rings as a GeoJSON MultiPolygon: each inner ring goes to the smallest
/// outer ring holding its first vertex (to the last outer before it when none does,
/// which the repair then reports). A file whose rings are all "inner" (wound the
/// wrong way) has each ring read as an outer one.
fn polygon<P: HasXY>(rings: &[PolygonRing<P>]) -> Value {
    let coords = |points: &[P]| -> LineString<f64> {
        points
            .iter()
            .map(|p| Coord { x: p.x(), y: p.y() })
            .collect()
    };
    let all_inner = rings.iter().all(|r| matches!(r, PolygonRing::Inner(_)));
    // (outer ring, its area, the GeoJSON rings of its polygon)
    let mut outers: Vec<(Polygon<f64>, f64, Vec<Value>)> = Vec::new();
    let mut inners = Vec::new();
    for ring in rings {
        match ring {
            PolygonRing::Inner(points) if !all_inner => inners.push((outers.len(), points)),
            other => outers.push(outer(coords(other.points()), line(other.points()))),
        }
    }
    for (before, points) in inners {
        let first = points.first().map(|p| Coord { x: p.x(), y: p.y() });
        let holder = first
            .and_then(|c| {
                outers
                    .iter()
                    .enumerate()
                    .filter(|(_, (outer, _, _))| outer.contains(&c))
                    .min_by(|a, b| a.1.1.total_cmp(&b.1.1))
                    .map(|(i, _)| i)
            })
            .or(before.checked_sub(1));
        match holder {
            Some(i) => outers[i].2.push(line(points)),
            // An inner ring before any outer: read as an outer ring of its own.
            None => outers.push(outer(coords(points), line(points))),
        }
    }
    let parts: Vec<Value> = outers
        .into_iter()
        .map(|(_, _, rings)| Value::Array(rings))
        .collect();
    json!({"type": "MultiPolygon", "coordinates": parts})
}

fn outer(ring: LineString<f64>, json: Value) -> (Polygon<f64>, f64, Vec<Value>) {
    let polygon = Polygon::new(ring, vec![]);
    let area = geo::Area::unsigned_area(&polygon);
    (polygon, area, vec![json])
}

/// A `.dbf` value as JSON: text stays text, numbers become numbers (integral ones as
/// integers, as GDAL reports them), dates ISO 8601, empty fields null.
fn attribute(value: FieldValue) -> Value {
    let number = |f: f64| {
        if f.fract() == 0.0 && f.abs() < 9.0e15 {
            Value::from(f as i64)
        } else {
            serde_json::Number::from_f64(f).map_or(Value::Null, Value::Number)
        }
    };
    match value {
        FieldValue::Character(s) => s.map_or(Value::Null, Value::String),
        FieldValue::Memo(s) => Value::String(s),
        FieldValue::Numeric(n) => n.map_or(Value::Null, number),
        FieldValue::Float(n) => n.map_or(Value::Null, |f| number(f64::from(f))),
        FieldValue::Integer(i) => Value::from(i),
        FieldValue::Currency(f) | FieldValue::Double(f) => number(f),
        FieldValue::Logical(b) => b.map_or(Value::Null, Value::Bool),
        FieldValue::Date(d) => d.map_or(Value::Null, |d| {
            Value::String(format!("{:04}-{:02}-{:02}", d.year(), d.month(), d.day()))
        }),
        FieldValue::DateTime(t) => {
            let (d, time) = (t.date(), t.time());
            Value::String(format!(
                "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}",
                d.year(),
                d.month(),
                d.day(),
                time.hours(),
                time.minutes(),
                time.seconds()
            ))
        }
    }
}
