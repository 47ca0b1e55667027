//! Geometries and attributes read through `geozero` (FlatGeobuf features, GeoPackage
//! WKB blobs) turned into GeoJSON values, so that the checks, repair and conversion
//! of GeoJSON layers apply to them unchanged.

use super::import::{ParsedFile, Properties};
use geozero::error::{GeozeroError, Result};
use geozero::{ColumnValue, GeomProcessor, PropertyProcessor};
use serde_json::{Value, json};

/// Builds a GeoJSON geometry object from geozero's geometry events.
#[derive(Default)]
pub struct JsonGeometry {
    /// Open geometries, innermost last: GeoJSON type (None for rings and the parts of
    /// multi-geometries) and the coordinates gathered so far.
    open: Vec<(Option<&'static str>, Vec<Value>)>,
    done: Option<Value>,
}

impl JsonGeometry {
    /// The geometry read, if a whole one was.
    pub fn take(&mut self) -> Option<Value> {
        self.open.clear();
        self.done.take()
    }

    /// Runs `process` (one feature's geometry events) and files the feature into
    /// `parsed` as feature `n`: `feature` with the geometry read, a note when it was
    /// empty, or an error prefixed `what` when it could not be read.
    pub fn file_feature(
        &mut self,
        parsed: &mut ParsedFile,
        n: usize,
        what: &str,
        mut feature: Value,
        process: impl FnOnce(&mut Self) -> Result<()>,
    ) {
        let result = process(self);
        match (result, self.take()) {
            (Ok(()), Some(geometry)) => {
                feature["geometry"] = geometry;
                parsed.values.push((n, feature));
            }
            (Ok(()), None) => parsed
                .notes
                .push((Some(n), "empty geometry; skipped".to_string())),
            (Err(e), _) => parsed.errors.push((n, format!("{what}: {}", say(&e)))),
        }
    }

    fn begin(&mut self, kind: &'static str, tagged: bool, size: usize) {
        let kind = (tagged || self.open.is_empty()).then_some(kind);
        self.open.push((kind, Vec::with_capacity(size)));
    }

    fn end(&mut self) -> Result<()> {
        let (kind, items) = self
            .open
            .pop()
            .ok_or_else(|| GeozeroError::Geometry("geometry ended before it began".into()))?;
        let coordinates = if kind == Some("Point") {
            items
                .into_iter()
                .next()
                .ok_or_else(|| GeozeroError::Geometry("a point without coordinates".to_string()))?
        } else {
            Value::Array(items)
        };
        match self.open.last_mut() {
            Some((_, parent)) => parent.push(coordinates),
            None => {
                let kind = kind.unwrap_or("LineString");
                self.done = Some(json!({"type": kind, "coordinates": coordinates}));
            }
        }
        Ok(())
    }
}

impl GeomProcessor for JsonGeometry {
    fn xy(&mut self, x: f64, y: f64, _idx: usize) -> Result<()> {
        match self.open.last_mut() {
            Some((_, items)) => {
                items.push(json!([x, y]));
                Ok(())
            }
            None => Err(GeozeroError::Geometry(
                "a coordinate outside any geometry".into(),
            )),
        }
    }

    fn empty_point(&mut self, _idx: usize) -> Result<()> {
        Err(GeozeroError::Geometry("an empty point".into()))
    }

    fn point_begin(&mut self, _idx: usize) -> Result<()> {
        self.begin("Point", true, 1);
        Ok(())
    }

    fn point_end(&mut self, _idx: usize) -> Result<()> {
        self.end()
    }

    fn multipoint_begin(&mut self, size: usize, _idx: usize) -> Result<()> {
        self.begin("MultiPoint", true, size);
        Ok(())
    }

    fn multipoint_end(&mut self, _idx: usize) -> Result<()> {
        self.end()
    }

    fn linestring_begin(&mut self, tagged: bool, size: usize, _idx: usize) -> Result<()> {
        self.begin("LineString", tagged, size);
        Ok(())
    }

    fn linestring_end(&mut self, _tagged: bool, _idx: usize) -> Result<()> {
        self.end()
    }

    fn multilinestring_begin(&mut self, size: usize, _idx: usize) -> Result<()> {
        self.begin("MultiLineString", true, size);
        Ok(())
    }

    fn multilinestring_end(&mut self, _idx: usize) -> Result<()> {
        self.end()
    }

    fn polygon_begin(&mut self, tagged: bool, size: usize, _idx: usize) -> Result<()> {
        self.begin("Polygon", tagged, size);
        Ok(())
    }

    fn polygon_end(&mut self, _tagged: bool, _idx: usize) -> Result<()> {
        self.end()
    }

    fn multipolygon_begin(&mut self, size: usize, _idx: usize) -> Result<()> {
        self.begin("MultiPolygon", true, size);
        Ok(())
    }

    fn multipolygon_end(&mut self, _idx: usize) -> Result<()> {
        self.end()
    }

    fn geometrycollection_begin(&mut self, _size: usize, _idx: usize) -> Result<()> {
        Err(GeozeroError::Geometry(
            "a GeometryCollection; no layer takes one".into(),
        ))
    }

    fn circularstring_begin(&mut self, _size: usize, _idx: usize) -> Result<()> {
        Err(curve())
    }

    fn compoundcurve_begin(&mut self, _size: usize, _idx: usize) -> Result<()> {
        Err(curve())
    }

    fn curvepolygon_begin(&mut self, _size: usize, _idx: usize) -> Result<()> {
        Err(curve())
    }

    fn triangle_begin(&mut self, _tagged: bool, _size: usize, _idx: usize) -> Result<()> {
        Err(GeozeroError::Geometry(
            "a Triangle/TIN surface; not supported".into(),
        ))
    }

    fn polyhedralsurface_begin(&mut self, _size: usize, _idx: usize) -> Result<()> {
        Err(GeozeroError::Geometry(
            "a PolyhedralSurface; not supported".into(),
        ))
    }
}

fn curve() -> GeozeroError {
    GeozeroError::Geometry(
        "a curved geometry (SQL-MM); convert with `ogr2ogr -nlt CONVERT_TO_LINEAR`".into(),
    )
}

/// Collects a feature's attributes as JSON values.
#[derive(Default)]
pub struct JsonProperties(pub Properties);

impl PropertyProcessor for JsonProperties {
    fn property(&mut self, _idx: usize, name: &str, value: &ColumnValue) -> Result<bool> {
        self.0.insert(name.to_string(), column_value(value));
        Ok(false)
    }
}

fn column_value(value: &ColumnValue) -> Value {
    let float = |f: f64| serde_json::Number::from_f64(f).map_or(Value::Null, Value::Number);
    match *value {
        ColumnValue::Byte(v) => v.into(),
        ColumnValue::UByte(v) => v.into(),
        ColumnValue::Bool(v) => v.into(),
        ColumnValue::Short(v) => v.into(),
        ColumnValue::UShort(v) => v.into(),
        ColumnValue::Int(v) => v.into(),
        ColumnValue::UInt(v) => v.into(),
        ColumnValue::Long(v) => v.into(),
        ColumnValue::ULong(v) => v.into(),
        ColumnValue::Float(v) => float(f64::from(v)),
        ColumnValue::Double(v) => float(v),
        ColumnValue::String(s) | ColumnValue::DateTime(s) => s.into(),
        ColumnValue::Json(s) => serde_json::from_str(s).unwrap_or_else(|_| s.into()),
        ColumnValue::Binary(_) => Value::Null,
    }
}

/// A geozero error said plainly (its Display wraps some in backquotes).
pub fn say(e: &GeozeroError) -> String {
    match e {
        GeozeroError::Geometry(m) => m.clone(),
        other => other.to_string(),
    }
}
