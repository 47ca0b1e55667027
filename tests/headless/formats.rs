//! Layer files as cities deliver them, checked against GDAL: the same features written
//! by `ogr2ogr` as a Shapefile (CGCS2000 Gauss–Krüger, GBK attributes, `.prj` and
//! `.cpg`) and read back by GDAL as GeoJSON load into the same buildings, Chinese
//! names included, within 1 mm.

use crate::common::*;
use citytwin::city::load_city;
use geo::{Area, CoordsIter};
use std::path::Path;
use std::process::Command;

const FIXTURE: &str = r#"{"type":"FeatureCollection","features":[
{"type":"Feature","properties":{"id":"b1","name":"郑州大剧院","height":30.5,"levels":8},
 "geometry":{"type":"Polygon","coordinates":[[[113.660,34.750],[113.662,34.750],[113.662,34.752],[113.660,34.752],[113.660,34.750]],
  [[113.6605,34.7505],[113.6605,34.7510],[113.6610,34.7510],[113.6610,34.7505],[113.6605,34.7505]]]}},
{"type":"Feature","properties":{"id":"b2","name":"二七纪念塔","height":63,"levels":14},
 "geometry":{"type":"MultiPolygon","coordinates":[[[[113.664,34.753],[113.665,34.753],[113.665,34.754],[113.664,34.754],[113.664,34.753]]],
  [[[113.666,34.753],[113.667,34.753],[113.667,34.754],[113.666,34.754],[113.666,34.753]]]]}},
{"type":"Feature","properties":{"id":"b3","name":"待测绘","height":10},"geometry":null}
]}"#;

fn ogr2ogr(dir: &Path, args: &[&str]) {
    let status = Command::new("ogr2ogr")
        .args(args)
        .current_dir(dir)
        .status()
        .expect("ogr2ogr (Debian's gdal-bin, installed by scripts/install-deps.sh)");
    assert!(status.success(), "ogr2ogr {args:?}");
}

#[test]
fn a_gbk_shapefile_in_gauss_kruger_reads_as_gdal_reads_it() {
    let dir = temp_dir("formats-shp");
    write(&dir, "source.geojson", FIXTURE);
    ogr2ogr(
        &dir,
        &[
            "-f",
            "ESRI Shapefile",
            "-lco",
            "ENCODING=GBK",
            "-t_srs",
            "EPSG:4547",
            "b.shp",
            "source.geojson",
        ],
    );
    // The names really are GBK in the .dbf: "郑州" is D6 A3 D6 DD there.
    let dbf = std::fs::read(dir.join("b.dbf")).expect("dbf");
    assert!(dbf.windows(4).any(|w| w == [0xD6, 0xA3, 0xD6, 0xDD]));
    // GDAL's own reading of the Shapefile, as GeoJSON in the same CRS (without the
    // null shape, which GeoJSON would carry as an unlocated feature).
    ogr2ogr(
        &dir,
        &[
            "-f",
            "GeoJSON",
            "-lco",
            "COORDINATE_PRECISION=6",
            "-where",
            "id <> 'b3'",
            "gdal.geojson",
            "b.shp",
        ],
    );
    // The same .dbf without its .cpg: the scene names the encoding.
    for ext in ["shp", "shx", "dbf", "prj"] {
        std::fs::copy(
            dir.join(format!("b.{ext}")),
            dir.join(format!("nocpg.{ext}")),
        )
        .expect("copy");
    }
    let scene = write(
        &dir,
        "scene.ron",
        r#"(name: "formats", origin: (lon: 113.665, lat: 34.754),
            layers: [
                (kind: Buildings, path: "b.shp"),
                (kind: Buildings, path: "gdal.geojson", crs: "EPSG:4547"),
                (kind: Buildings, path: "nocpg.shp", encoding: "GBK"),
            ])"#,
    );
    let city = load_city(&load_scene(&scene));
    let problems: Vec<String> = city.data.problems.iter().map(|p| p.to_string()).collect();
    assert_eq!(city.data.errors().count(), 0, "{problems:#?}");
    // The CRS came from the .prj (the scene sets none).
    assert_eq!(
        city.data.layers[0].crs.to_string(),
        "WKT \"CGCS2000_3_Degree_GK_CM_114E\"",
        "{problems:#?}"
    );
    // The null shape is skipped with a warning, in both Shapefiles.
    for file in ["b.shp", "nocpg.shp"] {
        assert!(
            problems
                .iter()
                .any(|p| p.contains(file) && p.contains("feature 2: warning: null shape; skipped")),
            "{problems:#?}"
        );
    }
    let from = |file: &str| {
        let mut b: Vec<_> = city
            .data
            .buildings
            .iter()
            .filter(|b| b.source.ends_with(file))
            .collect();
        b.sort_by(|x, y| x.id.cmp(&y.id));
        b
    };
    let (shp, gdal, nocpg) = (from("b.shp"), from("gdal.geojson"), from("nocpg.shp"));
    assert_eq!(shp.len(), 2, "{problems:#?}");
    assert_eq!(gdal.len(), 2);
    assert_eq!(nocpg.len(), 2);
    for ((a, g), c) in shp.iter().zip(&gdal).zip(&nocpg) {
        assert_eq!(a.id, g.id);
        assert_eq!(a.name, g.name);
        assert_eq!(c.name, g.name);
        assert_eq!(a.height_m, g.height_m);
        // Attributes as GDAL reads them (a number is the same number, 63 or 63.0).
        assert_eq!(a.properties.len(), g.properties.len());
        for (key, value) in &g.properties {
            let ours = &a.properties[key];
            match (value.as_f64(), ours.as_f64()) {
                (Some(x), Some(y)) => assert_eq!(x, y, "{key}"),
                _ => assert_eq!(ours, value, "{key}"),
            }
        }
        assert_eq!(a.footprint.0.len(), g.footprint.0.len());
        assert_eq!(a.footprint.coords_count(), g.footprint.coords_count());
        for (p, q) in a.footprint.coords_iter().zip(g.footprint.coords_iter()) {
            let d = (p.x - q.x).hypot(p.y - q.y);
            assert!(d < 0.001, "{} differs by {d} m", a.id);
        }
        assert!((a.footprint.unsigned_area() - g.footprint.unsigned_area()).abs() < 0.01);
    }
    assert_eq!(shp[0].name.as_deref(), Some("郑州大剧院"));
    assert_eq!(shp[0].footprint.0[0].interiors().len(), 1, "the hole kept");
    assert_eq!(shp[1].name.as_deref(), Some("二七纪念塔"));
    assert_eq!(shp[1].footprint.0.len(), 2, "both parts");
}

#[test]
fn formats_not_read_yet_are_refused_with_what_to_do() {
    let dir = temp_dir("formats-gpkg");
    write(&dir, "b.gpkg", "not read");
    let scene = write(
        &dir,
        "scene.ron",
        r#"(name: "formats", origin: (lon: 113.665, lat: 34.754),
            layers: [(kind: Buildings, path: "b.gpkg")])"#,
    );
    let city = load_city(&load_scene(&scene));
    let errors: Vec<String> = city.data.errors().map(|p| p.to_string()).collect();
    assert_eq!(errors.len(), 1, "{errors:#?}");
    assert!(
        errors[0].contains("b.gpkg: error: .gpkg files are not read yet"),
        "{errors:#?}"
    );
    assert!(errors[0].contains("ogr2ogr"), "{errors:#?}");
}
