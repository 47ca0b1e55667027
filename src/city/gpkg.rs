//! GeoPackage reading through SQLite (`rusqlite`, Debian's libsqlite3): one feature
//! table (named in the scene, or the only one), its CRS from `gpkg_spatial_ref_sys`,
//! its geometry blobs (GeoPackage header + WKB) decoded by geozero.

use super::import::{ParsedFile, Properties};
use super::zero::JsonGeometry;
use crate::geo::Crs;
use rusqlite::types::ValueRef;
use rusqlite::{Connection, OpenFlags};
use serde_json::{Value, json};
use std::path::Path;

/// Reads every feature of `table` (or of the file's only feature table).
pub fn read(path: &Path, table: Option<&str>) -> Result<ParsedFile, String> {
    let db = Connection::open_with_flags(
        path,
        OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )
    .map_err(|e| format!("cannot open GeoPackage: {e}"))?;
    let sql_error = |e: rusqlite::Error| format!("not a readable GeoPackage: {e}");
    let tables: Vec<String> = db
        .prepare("SELECT table_name FROM gpkg_contents WHERE data_type = 'features'")
        .and_then(|mut s| s.query_map([], |r| r.get(0))?.collect::<Result<_, _>>())
        .map_err(sql_error)?;
    let names = || {
        tables
            .iter()
            .map(|t| format!("\"{t}\""))
            .collect::<Vec<_>>()
            .join(", ")
    };
    let table = match (table, tables.as_slice()) {
        (Some(wanted), _) if tables.iter().any(|t| t == wanted) => wanted.to_string(),
        (Some(wanted), []) => {
            return Err(format!("has no feature table \"{wanted}\" (it has none)"));
        }
        (Some(wanted), _) => {
            return Err(format!(
                "has no feature table \"{wanted}\" (it has {})",
                names()
            ));
        }
        (None, [only]) => only.clone(),
        (None, []) => return Err("has no feature table".into()),
        (None, _) => {
            return Err(format!(
                "has {} feature tables ({}); name one with `table` in the scene",
                tables.len(),
                names()
            ));
        }
    };
    let (geometry_column, srs_id): (String, i64) = db
        .query_row(
            "SELECT column_name, srs_id FROM gpkg_geometry_columns WHERE table_name = ?1",
            [&table],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .map_err(|e| format!("table \"{table}\" has no geometry column: {e}"))?;
    let crs = crs_of(&db, srs_id)?;
    let columns: Vec<(String, bool)> = db
        .prepare(&format!("PRAGMA table_info({})", quote(&table)))
        .and_then(|mut s| {
            s.query_map([], |r| {
                let pk: i64 = r.get(5)?;
                let kind: String = r.get(2)?;
                Ok((r.get(1)?, pk > 0 && kind.eq_ignore_ascii_case("INTEGER")))
            })?
            .collect::<Result<_, _>>()
        })
        .map_err(sql_error)?;
    let fid = columns.iter().find(|(_, pk)| *pk).map(|(n, _)| n.clone());
    let attributes: Vec<&String> = columns
        .iter()
        .filter(|(n, pk)| !pk && *n != geometry_column)
        .map(|(n, _)| n)
        .collect();
    let select: Vec<String> = std::iter::once(quote(&geometry_column))
        .chain(fid.iter().map(|f| quote(f)))
        .chain(attributes.iter().map(|a| quote(a)))
        .collect();
    let order = fid.as_deref().map(quote).unwrap_or_else(|| "rowid".into());
    let mut statement = db
        .prepare(&format!(
            "SELECT {} FROM {} ORDER BY {order}",
            select.join(", "),
            quote(&table)
        ))
        .map_err(sql_error)?;
    let mut rows = statement.query([]).map_err(sql_error)?;
    let first_attribute = 1 + usize::from(fid.is_some());
    let mut parsed = ParsedFile::new(crs);
    let mut geometry = JsonGeometry::default();
    let mut n = 0;
    while let Some(row) = rows.next().map_err(sql_error)? {
        let mut properties = Properties::new();
        for (i, name) in attributes.iter().enumerate() {
            let value = row.get_ref(first_attribute + i).map_err(sql_error)?;
            properties.insert((*name).clone(), json_value(value));
        }
        let id = if fid.is_some() {
            row.get::<_, i64>(1).ok()
        } else {
            None
        };
        match row.get_ref(0).map_err(sql_error)? {
            ValueRef::Null => parsed
                .notes
                .push((Some(n), "null geometry; skipped".to_string())),
            ValueRef::Blob(blob) => {
                let mut feature = json!({"type": "Feature", "properties": properties});
                if let Some(id) = id {
                    feature["id"] = id.into();
                }
                geometry.file_feature(&mut parsed, n, "geometry blob", feature, |g| {
                    geozero::wkb::process_gpkg_geom(&mut &blob[..], g)
                });
            }
            _ => parsed
                .errors
                .push((n, "geometry is not a GeoPackage blob".to_string())),
        }
        n += 1;
    }
    parsed.records = n;
    Ok(parsed)
}

/// A table or column name as an SQL identifier.
fn quote(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

/// The CRS of `srs_id` in `gpkg_spatial_ref_sys`: EPSG by code, others by their WKT;
/// the undefined systems (0, −1) say nothing.
fn crs_of(db: &Connection, srs_id: i64) -> Result<Option<Crs>, String> {
    if srs_id <= 0 {
        return Ok(None);
    }
    let (organization, code, definition): (String, i64, String) = db
        .query_row(
            "SELECT organization, organization_coordsys_id, definition \
             FROM gpkg_spatial_ref_sys WHERE srs_id = ?1",
            [srs_id],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
        )
        .map_err(|e| format!("spatial reference system {srs_id} is not defined: {e}"))?;
    if organization.eq_ignore_ascii_case("EPSG") && code > 0 {
        return Ok(u32::try_from(code).ok().map(Crs::Epsg));
    }
    Crs::from_wkt(&definition).map(Some).ok_or_else(|| {
        format!("spatial reference system {srs_id} ({organization}:{code}) has no usable WKT")
    })
}

fn json_value(value: ValueRef) -> Value {
    match value {
        ValueRef::Null | ValueRef::Blob(_) => Value::Null,
        ValueRef::Integer(i) => i.into(),
        ValueRef::Real(f) => serde_json::Number::from_f64(f).map_or(Value::Null, Value::Number),
        ValueRef::Text(t) => String::from_utf8_lossy(t).into_owned().into(),
    }
}
