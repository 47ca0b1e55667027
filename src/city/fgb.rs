//! FlatGeobuf: reading with the file's packed R-tree, so that only the features over
//! the scene's extent are read from a country-sized file, and writing (what
//! `citytwin import` produces: WGS84, attributes in UTF-8, a spatial index).

use super::import::{ParsedFile, Properties};
use super::zero::{JsonGeometry, JsonProperties, say};
use crate::geo::{Crs, LonLat};
use flatgeobuf::{
    ColumnType, FallibleStreamingIterator, FeatureProperties, FgbCrs, FgbReader, FgbWriter,
    FgbWriterOptions, GeometryType, GeozeroGeometry,
};
use geozero::error::Result as ZeroResult;
use geozero::{ColumnValue, GeomProcessor};
use serde_json::{Value, json};
use std::cell::Cell;
use std::fs::File;
use std::io::{BufReader, Read, Seek, SeekFrom};
use std::path::Path;
use std::rc::Rc;

/// A file that counts the bytes read from it.
struct Counted {
    file: File,
    read: Rc<Cell<u64>>,
}

impl Read for Counted {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.file.read(buf)?;
        self.read.set(self.read.get() + n as u64);
        Ok(n)
    }
}

impl Seek for Counted {
    fn seek(&mut self, pos: SeekFrom) -> std::io::Result<u64> {
        self.file.seek(pos)
    }
}

/// What reading a FlatGeobuf file took.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ReadFigures {
    /// Bytes read from the file (header, index and the selected features).
    pub bytes_read: u64,
    pub file_bytes: u64,
    /// Features in the file; `records` of the parsed file are those selected.
    pub in_file: u64,
}

/// Reads the features of `path` over the WGS84 box `extent` (all of them when there
/// is none or the file has no index). `crs` (the scene's) overrides the file's.
pub fn read(
    path: &Path,
    extent: Option<(LonLat, LonLat)>,
    crs: Option<&Crs>,
) -> Result<(ParsedFile, ReadFigures), String> {
    let file = File::open(path).map_err(|e| format!("cannot open file: {e}"))?;
    let file_bytes = file.metadata().map(|m| m.len()).unwrap_or(0);
    let read = Rc::new(Cell::new(0));
    // Page-sized reads: the index is searched node by node and every seek empties
    // the buffer, so a larger one would read (and count) bytes nobody uses.
    let reader = BufReader::with_capacity(
        4 << 10,
        Counted {
            file,
            read: read.clone(),
        },
    );
    let fgb = FgbReader::open(reader).map_err(|e| format!("not a FlatGeobuf file: {e}"))?;
    let header = fgb.header();
    let file_crs = header.crs().and_then(|c| {
        let org = c.org().unwrap_or("EPSG");
        if org.eq_ignore_ascii_case("EPSG") && c.code() > 0 {
            u32::try_from(c.code()).ok().map(Crs::Epsg)
        } else {
            c.wkt().and_then(Crs::from_wkt)
        }
    });
    let in_file = header.features_count();
    let node_size = header.index_node_size();
    let indexed = node_size > 0 && in_file > 0;
    let mut parsed = ParsedFile::new(file_crs.clone());
    let selected = match (extent, indexed) {
        (Some((lo, hi)), true) => {
            let frame_crs = crs.or(file_crs.as_ref()).unwrap_or(&Crs::WGS84);
            let [min_x, min_y, max_x, max_y] = crate::geo::bounds_in(frame_crs, lo, hi)
                .map_err(|e| format!("cannot place the scene's extent in {frame_crs}: {e}"))?;
            let index_error =
                |e: flatgeobuf::Error| format!("cannot read the FlatGeobuf index: {e}");
            // The crate's seeking search assumes the default node size (16, what GDAL
            // and `citytwin import` write); another size is searched with the index
            // read whole, which takes the header's size.
            if node_size == flatgeobuf::packed_r_tree::PackedRTree::DEFAULT_NODE_SIZE {
                let features = fgb
                    .select_bbox(min_x, min_y, max_x, max_y)
                    .map_err(index_error)?;
                drain(features, &mut parsed)?
            } else {
                let features = fgb
                    .select_bbox_seq(min_x, min_y, max_x, max_y)
                    .map_err(index_error)?;
                drain(features, &mut parsed)?
            }
        }
        _ => {
            if extent.is_some() {
                parsed.notes.push((
                    None,
                    "no spatial index; read the whole file (`citytwin import` writes one)"
                        .to_string(),
                ));
            }
            let features = fgb
                .select_all()
                .map_err(|e| format!("cannot read the FlatGeobuf file: {e}"))?;
            drain(features, &mut parsed)?
        }
    };
    parsed.records = selected;
    Ok((
        parsed,
        ReadFigures {
            bytes_read: read.get(),
            file_bytes,
            in_file,
        },
    ))
}

/// Reads every selected feature into `parsed`; returns how many there were.
fn drain<I>(mut features: I, parsed: &mut ParsedFile) -> Result<usize, String>
where
    I: FallibleStreamingIterator<Item = flatgeobuf::FgbFeature, Error = flatgeobuf::Error>,
{
    let mut geometry = JsonGeometry::default();
    let mut n = 0;
    while let Some(feature) = features
        .next()
        .map_err(|e| format!("feature {n}: cannot read: {e}"))?
    {
        let mut properties = JsonProperties::default();
        if let Err(e) = feature.process_properties(&mut properties) {
            parsed.errors.push((n, format!("attributes: {}", say(&e))));
        } else if feature.geometry().is_none() {
            parsed
                .notes
                .push((Some(n), "null geometry; skipped".to_string()));
        } else {
            let template = json!({"type": "Feature", "properties": properties.0});
            geometry.file_feature(parsed, n, "geometry", template, |g| feature.process_geom(g));
        }
        n += 1;
    }
    Ok(n)
}

/// A GeoJSON geometry value fed to geozero (for the writer).
struct JsonSource<'a>(&'a Value);

impl JsonSource<'_> {
    fn positions<P: GeomProcessor>(line: &Value, p: &mut P) -> ZeroResult<()> {
        for (i, xy) in array(line).iter().enumerate() {
            let c = array(xy);
            let (x, y) = (number(c.first()), number(c.get(1)));
            p.xy(x, y, i)?;
        }
        Ok(())
    }

    fn polygon<P: GeomProcessor>(
        rings: &Value,
        tagged: bool,
        idx: usize,
        p: &mut P,
    ) -> ZeroResult<()> {
        let rings = array(rings);
        p.polygon_begin(tagged, rings.len(), idx)?;
        for (i, ring) in rings.iter().enumerate() {
            p.linestring_begin(false, array(ring).len(), i)?;
            Self::positions(ring, p)?;
            p.linestring_end(false, i)?;
        }
        p.polygon_end(tagged, idx)
    }
}

fn array(v: &Value) -> &[Value] {
    v.as_array().map_or(&[], Vec::as_slice)
}

fn number(v: Option<&Value>) -> f64 {
    v.and_then(Value::as_f64).unwrap_or(f64::NAN)
}

impl GeozeroGeometry for JsonSource<'_> {
    fn process_geom<P: GeomProcessor>(&self, p: &mut P) -> ZeroResult<()> {
        let c = &self.0["coordinates"];
        match self.0["type"].as_str().unwrap_or_default() {
            "Point" => {
                p.point_begin(0)?;
                let xy = array(c);
                p.xy(number(xy.first()), number(xy.get(1)), 0)?;
                p.point_end(0)
            }
            "MultiPoint" => {
                p.multipoint_begin(array(c).len(), 0)?;
                Self::positions(c, p)?;
                p.multipoint_end(0)
            }
            "LineString" => {
                p.linestring_begin(true, array(c).len(), 0)?;
                Self::positions(c, p)?;
                p.linestring_end(true, 0)
            }
            "MultiLineString" => {
                p.multilinestring_begin(array(c).len(), 0)?;
                for (i, line) in array(c).iter().enumerate() {
                    p.linestring_begin(false, array(line).len(), i)?;
                    Self::positions(line, p)?;
                    p.linestring_end(false, i)?;
                }
                p.multilinestring_end(0)
            }
            "Polygon" => Self::polygon(c, true, 0, p),
            "MultiPolygon" => {
                p.multipolygon_begin(array(c).len(), 0)?;
                for (i, polygon) in array(c).iter().enumerate() {
                    Self::polygon(polygon, false, i, p)?;
                }
                p.multipolygon_end(0)
            }
            other => Err(geozero::error::GeozeroError::Geometry(format!(
                "geometry type \"{other}\" cannot be written"
            ))),
        }
    }
}

/// The FlatGeobuf column type that holds every value of a property.
fn column_type(values: impl Iterator<Item = Value>) -> ColumnType {
    let (mut ints, mut numbers, mut bools, mut other) = (0, 0, 0, 0);
    for v in values {
        match v {
            Value::Null => {}
            Value::Bool(_) => bools += 1,
            Value::Number(n) if n.is_i64() => ints += 1,
            Value::Number(_) => numbers += 1,
            _ => other += 1,
        }
    }
    match (ints, numbers, bools, other) {
        (_, _, 0, 0) if numbers > 0 => ColumnType::Double,
        (i, 0, 0, 0) if i > 0 => ColumnType::Long,
        (0, 0, b, 0) if b > 0 => ColumnType::Bool,
        _ => ColumnType::String,
    }
}

/// The layer's geometry type: the multi type of its kind, so single and multi
/// geometries mix (the writer promotes singles).
fn geometry_type(features: &[Value]) -> GeometryType {
    let mut kinds = features
        .iter()
        .filter_map(|f| f["geometry"]["type"].as_str())
        .map(|t| t.trim_start_matches("Multi"));
    let Some(first) = kinds.next() else {
        return GeometryType::Unknown;
    };
    if !kinds.all(|k| k == first) {
        return GeometryType::Unknown;
    }
    match first {
        "Point" => GeometryType::MultiPoint,
        "LineString" => GeometryType::MultiLineString,
        "Polygon" => GeometryType::MultiPolygon,
        _ => GeometryType::Unknown,
    }
}

/// Writes `features` (GeoJSON values in WGS84) as an indexed FlatGeobuf layer;
/// `progress` is called after each feature is added (the index is built at the end).
pub fn write(
    out: &Path,
    name: &str,
    features: &[Value],
    mut progress: impl FnMut(usize),
) -> Result<(), String> {
    let mut columns: Vec<String> = Vec::new();
    for f in features {
        if let Some(props) = f["properties"].as_object() {
            for k in props.keys() {
                if !columns.contains(k) {
                    columns.push(k.clone());
                }
            }
        }
    }
    let types: Vec<ColumnType> = columns
        .iter()
        .map(|c| column_type(features.iter().map(|f| f["properties"][c].clone())))
        .collect();
    let mut fgb = FgbWriter::create_with_options(
        name,
        geometry_type(features),
        FgbWriterOptions {
            crs: FgbCrs {
                code: 4326,
                ..Default::default()
            },
            ..Default::default()
        },
    )
    .map_err(|e| format!("cannot start the FlatGeobuf file: {e}"))?;
    for (c, t) in columns.iter().zip(&types) {
        fgb.add_column(c, *t, |_, col| col.nullable = true);
    }
    for (n, f) in features.iter().enumerate() {
        let empty = Properties::new();
        let props = f["properties"].as_object().unwrap_or(&empty);
        let mut failed = None;
        fgb.add_feature_geom(JsonSource(&f["geometry"]), |w| {
            for (i, (c, t)) in columns.iter().zip(&types).enumerate() {
                let text;
                let value = match (props.get(c), *t) {
                    (None | Some(Value::Null), _) => continue,
                    (Some(v), ColumnType::Long) => ColumnValue::Long(v.as_i64().unwrap_or(0)),
                    (Some(v), ColumnType::Double) => {
                        ColumnValue::Double(v.as_f64().unwrap_or(f64::NAN))
                    }
                    (Some(v), ColumnType::Bool) => ColumnValue::Bool(v.as_bool().unwrap_or(false)),
                    (Some(Value::String(s)), _) => ColumnValue::String(s),
                    (Some(v), _) => {
                        text = v.to_string();
                        ColumnValue::String(&text)
                    }
                };
                if let Err(e) = geozero::PropertyProcessor::property(w, i, c, &value) {
                    failed.get_or_insert(e);
                }
            }
        })
        .map_err(|e| format!("feature {n}: {}", say(&e)))?;
        if let Some(e) = failed {
            return Err(format!("feature {n}: {}", say(&e)));
        }
        progress(n + 1);
    }
    let file = File::create(out).map_err(|e| format!("cannot create {}: {e}", out.display()))?;
    fgb.write(std::io::BufWriter::new(file))
        .map_err(|e| format!("cannot write {}: {e}", out.display()))
}
