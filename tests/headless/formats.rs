//! Layer files as cities deliver them, checked against GDAL: the same features written
//! by `ogr2ogr` as a Shapefile (CGCS2000 Gauss–Krüger, GBK attributes, `.prj` and
//! `.cpg`), a GeoPackage and a FlatGeobuf, and read back by GDAL as GeoJSON, load into
//! the same buildings, Chinese names included, within 1 mm. Repaired polygons match
//! `ogr2ogr -makevalid`; a FlatGeobuf is read only over the scene's extent;
//! `citytwin import` output loads as its source does.

use crate::common::*;
use citytwin::city::import::Building;
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

/// The fixture as `dir/b.shp`: CGCS2000 3° Gauss–Krüger (EPSG:4547), GBK attributes.
fn gbk_shapefile(dir: &Path) {
    write(dir, "source.geojson", FIXTURE);
    ogr2ogr(
        dir,
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
}

#[test]
fn a_gbk_shapefile_in_gauss_kruger_reads_as_gdal_reads_it() {
    let dir = temp_dir("formats-shp");
    gbk_shapefile(&dir);
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
    let city = load_layers(
        &dir,
        r#"[
                (kind: Buildings, path: "b.shp"),
                (kind: Buildings, path: "gdal.geojson", crs: "EPSG:4547"),
                (kind: Buildings, path: "nocpg.shp", encoding: "GBK"),
            ]"#,
    );
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
    let from = |file: &str| buildings_from(&city, file);
    let (shp, gdal, nocpg) = (from("b.shp"), from("gdal.geojson"), from("nocpg.shp"));
    assert_eq!(shp.len(), 2, "{problems:#?}");
    assert_eq!(gdal.len(), 2);
    assert_eq!(nocpg.len(), 2);
    same_buildings(&shp, &gdal);
    same_buildings(&nocpg, &gdal);
    assert_eq!(shp[0].name.as_deref(), Some("郑州大剧院"));
    assert_eq!(shp[0].footprint.0[0].interiors().len(), 1, "the hole kept");
    assert_eq!(shp[1].name.as_deref(), Some("二七纪念塔"));
    assert_eq!(shp[1].footprint.0.len(), 2, "both parts");
}

/// Loads a scene at the fixtures' origin holding `layers` (RON, paths relative to
/// `dir`).
fn load_layers(dir: &Path, layers: &str) -> citytwin::city::LoadedCity {
    let scene = write(
        dir,
        "scene.ron",
        &format!(r#"(name: "formats", origin: (lon: 113.665, lat: 34.754), layers: {layers})"#),
    );
    load_city(&load_scene(&scene))
}

/// The same buildings, attribute for attribute and vertex for vertex (within 1 mm).
fn same_buildings(ours: &[&Building], gdal: &[&Building]) {
    assert_eq!(ours.len(), gdal.len());
    for (a, g) in ours.iter().zip(gdal) {
        assert_eq!(a.id, g.id);
        assert_eq!(a.name, g.name);
        assert_eq!(a.height_m, g.height_m);
        // Attributes as GDAL reads them (a number is the same number, 63 or 63.0).
        assert_eq!(a.properties.len(), g.properties.len(), "{:?}", a.properties);
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
}

/// The buildings loaded from `file`, by id.
fn buildings_from<'a>(city: &'a citytwin::city::LoadedCity, file: &str) -> Vec<&'a Building> {
    let mut b: Vec<_> = city
        .data
        .buildings
        .iter()
        .filter(|b| b.source.ends_with(file))
        .collect();
    b.sort_by(|x, y| x.id.cmp(&y.id));
    b
}

#[test]
fn a_geopackage_and_a_flatgeobuf_read_as_gdal_reads_them() {
    let dir = temp_dir("formats-gpkg-fgb");
    write(&dir, "source.geojson", FIXTURE);
    let gk = ["-t_srs", "EPSG:4547"];
    // A GeoPackage with two feature tables (the scene names one), and a FlatGeobuf.
    ogr2ogr(
        &dir,
        &[
            &["-f", "GPKG", "-nln", "楼栋", "b.gpkg", "source.geojson"][..],
            &gk,
        ]
        .concat(),
    );
    ogr2ogr(
        &dir,
        &["-update", "-nln", "other", "b.gpkg", "source.geojson"],
    );
    ogr2ogr(
        &dir,
        &[&["-f", "FlatGeobuf", "b.fgb", "source.geojson"][..], &gk].concat(),
    );
    // GDAL's own reading of each, as GeoJSON in the same CRS (the located features).
    ogr2ogr(
        &dir,
        &[
            "-f",
            "GeoJSON",
            "-where",
            "id <> 'b3'",
            "gdal-gpkg.geojson",
            "b.gpkg",
            "楼栋",
        ],
    );
    ogr2ogr(
        &dir,
        &[
            "-f",
            "GeoJSON",
            "-where",
            "id <> 'b3'",
            "gdal-fgb.geojson",
            "b.fgb",
        ],
    );
    let city = load_layers(
        &dir,
        r#"[
                (kind: Buildings, path: "b.gpkg", table: "楼栋"),
                (kind: Buildings, path: "gdal-gpkg.geojson", crs: "EPSG:4547"),
                (kind: Buildings, path: "b.fgb"),
                (kind: Buildings, path: "gdal-fgb.geojson", crs: "EPSG:4547"),
            ]"#,
    );
    let problems: Vec<String> = city.data.problems.iter().map(|p| p.to_string()).collect();
    assert_eq!(city.data.errors().count(), 0, "{problems:#?}");
    // The CRS came from the files (the scene sets none for them).
    assert_eq!(
        city.data.layers[0].crs.to_string(),
        "EPSG:4547",
        "{problems:#?}"
    );
    assert_eq!(
        city.data.layers[2].crs.to_string(),
        "EPSG:4547",
        "{problems:#?}"
    );
    // Every feature of the file is counted; the unlocated one is a warning.
    assert_eq!(city.data.layers[0].features, 3);
    assert!(
        problems
            .iter()
            .any(|p| p.contains("b.gpkg: feature 2: warning: null geometry")),
        "{problems:#?}"
    );
    let gpkg = buildings_from(&city, "b.gpkg");
    let fgb = buildings_from(&city, "b.fgb");
    assert_eq!(gpkg.len(), 2, "{problems:#?}");
    assert_eq!(fgb.len(), 2, "{problems:#?}");
    same_buildings(&gpkg, &buildings_from(&city, "gdal-gpkg.geojson"));
    same_buildings(&fgb, &buildings_from(&city, "gdal-fgb.geojson"));
    assert_eq!(gpkg[0].name.as_deref(), Some("郑州大剧院"));
    assert_eq!(fgb[1].name.as_deref(), Some("二七纪念塔"));
    assert_eq!(fgb[0].footprint.0[0].interiors().len(), 1, "the hole kept");
    assert_eq!(gpkg[1].footprint.0.len(), 2, "both parts");
    // A GeoPackage with several tables and none named is refused, naming them.
    // So is a table it does not have.
    let city = load_layers(
        &dir,
        r#"[
                (kind: Buildings, path: "b.gpkg"),
                (kind: Buildings, path: "b.gpkg", table: "楼"),
            ]"#,
    );
    let errors: Vec<String> = city.data.errors().map(|p| p.to_string()).collect();
    assert_eq!(errors.len(), 2, "{errors:#?}");
    assert!(
        errors[0].contains("b.gpkg: error: has 2 feature tables (\"楼栋\", \"other\"); name one"),
        "{errors:#?}"
    );
    assert!(
        errors[1]
            .contains("b.gpkg: error: has no feature table \"楼\" (it has \"楼栋\", \"other\")"),
        "{errors:#?}"
    );
}

/// A FlatGeobuf far larger than the city: a 300 × 200 grid of 40 m squares every
/// 1 km (300 km × 200 km). With a 1.5 km extent only the squares over it are read,
/// through the index, and only a small share of the file's bytes.
#[test]
fn a_flatgeobuf_is_read_only_over_the_scenes_extent() {
    let dir = temp_dir("formats-fgb-extent");
    let (origin_lon, origin_lat) = (113.665, 34.754);
    let mut features = Vec::new();
    // Square (i, j)'s south-west corner, in degrees (1 km ≈ 0.011° east, 0.009° north).
    let corner = |i: i32, j: i32| (112.0 + f64::from(i) * 0.011, 33.9 + f64::from(j) * 0.009);
    for i in 0..300 {
        for j in 0..200 {
            let (x, y) = corner(i, j);
            let (e, n) = (x + 0.00044, y + 0.00036);
            features.push(format!(
                r#"{{"type":"Feature","properties":{{"id":"s{i}-{j}","height":10}},"geometry":{{"type":"Polygon","coordinates":[[[{x},{y}],[{e},{y}],[{e},{n}],[{x},{n}],[{x},{y}]]]}}}}"#
            ));
        }
    }
    write(
        &dir,
        "grid.geojson",
        &format!(
            r#"{{"type":"FeatureCollection","features":[{}]}}"#,
            features.join(",\n")
        ),
    );
    ogr2ogr(
        &dir,
        &[
            "-f",
            "FlatGeobuf",
            "-lco",
            "SPATIAL_INDEX=YES",
            "grid.fgb",
            "grid.geojson",
        ],
    );
    let scene = write(
        &dir,
        "scene.ron",
        &format!(
            r#"(name: "extent", origin: (lon: {origin_lon}, lat: {origin_lat}),
                extent: Radius(1500.0),
                layers: [(kind: Buildings, path: "grid.fgb")])"#
        ),
    );
    let scene = load_scene(&scene);
    let city = load_city(&scene);
    let problems: Vec<String> = city.data.problems.iter().map(|p| p.to_string()).collect();
    assert_eq!(city.data.errors().count(), 0, "{problems:#?}");
    // The squares whose boxes overlap the extent's box, counted here independently.
    let frame = citytwin::geo::LocalFrame::new(scene.file.origin).unwrap();
    let (lo, hi) = scene.extent_box(&frame);
    let expected: Vec<String> = (0..300)
        .flat_map(|i| (0..200).map(move |j| (i, j)))
        .filter(|&(i, j)| {
            let (x, y) = corner(i, j);
            x <= hi.lon && x + 0.00044 >= lo.lon && y <= hi.lat && y + 0.00036 >= lo.lat
        })
        .map(|(i, j)| format!("s{i}-{j}"))
        .collect();
    assert!((4..=25).contains(&expected.len()), "{}", expected.len());
    let mut loaded: Vec<String> = city.data.buildings.iter().map(|b| b.id.clone()).collect();
    loaded.sort();
    let mut expected = expected;
    expected.sort();
    assert_eq!(loaded, expected);
    let layer = &city.data.layers[0];
    assert_eq!(layer.features, expected.len());
    let read = layer.read.expect("read figures of a FlatGeobuf layer");
    assert_eq!(read.in_file, 60_000);
    assert!(
        read.bytes_read * 20 < read.file_bytes,
        "read {} of {} bytes",
        read.bytes_read,
        read.file_bytes
    );
}

/// Invalid polygons as GEOS's "linework" MakeValid repairs them (`ogr2ogr
/// -makevalid`): a bow tie, a ring crossing itself twice, a self-touching ring and a
/// district edge with a spike; each part's area within 0.1 % of GDAL's.
#[test]
fn repaired_polygons_match_gdal_makevalid() {
    let dir = temp_dir("formats-makevalid");
    let polygon = |id: &str, ring: &[(f64, f64)]| {
        let coords: Vec<String> = ring
            .iter()
            .chain(ring.first())
            .map(|(x, y)| format!("[{},{}]", 113.66 + x * 0.001, 34.75 + y * 0.001))
            .collect();
        format!(
            r#"{{"type":"Feature","properties":{{"id":"{id}"}},"geometry":{{"type":"Polygon","coordinates":[[{}]]}}}}"#,
            coords.join(",")
        )
    };
    let features = [
        polygon("bowtie", &[(0.0, 0.0), (4.0, 4.0), (4.0, 0.0), (0.0, 4.0)]),
        polygon(
            "twice",
            &[
                (4.0, 4.0),
                (0.0, 0.0),
                (1.0, 4.0),
                (2.0, 2.0),
                (7.0, 5.0),
                (1.0, 3.0),
                (0.0, 1.0),
            ],
        ),
        polygon(
            "touch",
            &[(0.0, 0.0), (6.0, 0.0), (6.0, 6.0), (3.0, 0.0), (0.0, 6.0)],
        ),
        polygon(
            "spike",
            &[
                (0.0, 0.0),
                (5.0, 0.0),
                (5.0, 2.0),
                (8.0, 2.5),
                (5.0, 2.0),
                (5.0, 5.0),
                (0.0, 5.0),
            ],
        ),
    ];
    write(
        &dir,
        "bad.geojson",
        &format!(
            r#"{{"type":"FeatureCollection","features":[{}]}}"#,
            features.join(",\n")
        ),
    );
    ogr2ogr(
        &dir,
        &["-f", "GeoJSON", "-makevalid", "gdal.geojson", "bad.geojson"],
    );
    let city = load_layers(
        &dir,
        r#"[
                (kind: Districts, path: "bad.geojson"),
                (kind: Districts, path: "gdal.geojson"),
            ]"#,
    );
    let problems: Vec<String> = city.data.problems.iter().map(|p| p.to_string()).collect();
    assert_eq!(city.data.errors().count(), 0, "{problems:#?}");
    let repairs = problems
        .iter()
        .filter(|p| p.contains("bad.geojson") && p.contains("repaired"))
        .count();
    assert!(repairs >= 4, "{problems:#?}");
    let (ours, gdal) = city.data.districts.split_at(4);
    assert_eq!(gdal.len(), 4, "{problems:#?}");
    for (a, g) in ours.iter().zip(gdal) {
        assert_eq!(a.id, g.id);
        let (x, y) = (a.shape.unsigned_area(), g.shape.unsigned_area());
        assert!(y > 1.0, "{}: GDAL's area {y}", g.id);
        assert!(
            (x - y).abs() <= y * 0.001,
            "{}: ours {x:.2} m², GDAL's {y:.2} m²",
            a.id
        );
        // The same parts, each of the same area.
        let mut pa: Vec<f64> = a.shape.0.iter().map(|p| p.unsigned_area()).collect();
        let mut pg: Vec<f64> = g.shape.0.iter().map(|p| p.unsigned_area()).collect();
        pa.sort_by(f64::total_cmp);
        pg.sort_by(f64::total_cmp);
        assert_eq!(
            pa.len(),
            pg.len(),
            "{}: parts {pa:?} vs GDAL's {pg:?}",
            a.id
        );
        for (p, q) in pa.iter().zip(&pg) {
            assert!((p - q).abs() <= q * 0.001, "{}: part {p} vs {q}", a.id);
        }
    }
}

/// `citytwin import`: a GBK Shapefile in Gauss–Krüger becomes an indexed WGS84
/// FlatGeobuf with UTF-8 attributes (as GDAL reads it) and a scene snippet that,
/// pasted into a scene, loads the same buildings as the Shapefile does.
#[test]
fn import_converts_a_shapefile_into_an_indexed_flatgeobuf_and_a_scene_snippet() {
    let dir = temp_dir("formats-import");
    gbk_shapefile(&dir);
    let out = Command::new(env!("CARGO_BIN_EXE_citytwin"))
        .args(["import", "b.shp", "--out", "prepared"])
        .current_dir(&dir)
        .output()
        .expect("citytwin import");
    let (stdout, stderr) = (
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr),
    );
    assert!(out.status.success(), "{stdout}\n{stderr}");
    assert!(stdout.contains("import: 2 features of 3"), "{stdout}");
    assert!(
        stderr.contains("feature 2: null shape; skipped"),
        "{stderr}"
    );
    let snippet = std::fs::read_to_string(dir.join("prepared/b.layer.ron")).expect("snippet");
    assert!(stdout.contains(snippet.trim()), "{stdout}");
    assert!(
        snippet.contains(r#"(kind: Buildings, path: "b.fgb""#),
        "{snippet}"
    );
    // GDAL reads the output: UTF-8 names, WGS84, a spatial index.
    let info = Command::new("ogrinfo")
        .args(["-al", "prepared/b.fgb"])
        .current_dir(&dir)
        .output()
        .expect("ogrinfo");
    let info = String::from_utf8_lossy(&info.stdout);
    assert!(info.contains("Feature Count: 2"), "{info}");
    assert!(
        info.contains("郑州大剧院") && info.contains("二七纪念塔"),
        "{info}"
    );
    assert!(
        info.contains("EPSG\",4326") || info.contains("ID[\"EPSG\",4326]"),
        "{info}"
    );
    // The snippet, pasted into a scene beside the source, loads the same buildings.
    let layer = snippet
        .lines()
        .find(|l| l.starts_with('('))
        .expect("layer line");
    let scene = write(
        &dir.join("prepared"),
        "scene.ron",
        &format!(
            r#"(name: "prepared", origin: (lon: 113.665, lat: 34.754),
                layers: [{layer} (kind: Buildings, path: "../b.shp")])"#
        ),
    );
    let city = load_city(&load_scene(&scene));
    let errors: Vec<String> = city.data.errors().map(|p| p.to_string()).collect();
    assert!(errors.is_empty(), "{errors:#?}");
    let prepared = buildings_from(&city, "b.fgb");
    assert_eq!(prepared.len(), 2);
    same_buildings(&prepared, &buildings_from(&city, "b.shp"));
    // A GeoJSON in Gauss–Krüger saying so only in its legacy `crs` member: with no scene
    // to name the CRS, import takes the file's word for it.
    ogr2ogr(
        &dir,
        &[
            "-f",
            "GeoJSON",
            "-t_srs",
            "EPSG:4547",
            "-where",
            "id <> 'b3'",
            "gk.geojson",
            "source.geojson",
        ],
    );
    let text = std::fs::read_to_string(dir.join("gk.geojson")).unwrap();
    assert!(text.contains("EPSG::4547"), "{text}");
    let out = Command::new(env!("CARGO_BIN_EXE_citytwin"))
        .args(["import", "gk.geojson", "--out", "prepared"])
        .current_dir(&dir)
        .output()
        .expect("citytwin import");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let city = load_layers(
        &dir.join("prepared"),
        r#"[(kind: Buildings, path: "gk.fgb"), (kind: Buildings, path: "../b.shp")]"#,
    );
    assert_eq!(city.data.errors().count(), 0);
    same_buildings(
        &buildings_from(&city, "gk.fgb"),
        &buildings_from(&city, "b.shp"),
    );
}

#[test]
fn other_formats_and_broken_files_are_refused_with_what_to_do() {
    let dir = temp_dir("formats-refused");
    write(&dir, "b.kml", "<kml/>");
    write(&dir, "b.gpkg", "not a database");
    write(&dir, "b.fgb", "not flatgeobuf");
    let city = load_layers(
        &dir,
        r#"[
                (kind: Buildings, path: "b.kml"),
                (kind: Buildings, path: "b.gpkg"),
                (kind: Buildings, path: "b.fgb"),
            ]"#,
    );
    let errors: Vec<String> = city.data.errors().map(|p| p.to_string()).collect();
    assert_eq!(errors.len(), 3, "{errors:#?}");
    assert!(
        errors[0].contains("b.kml: error: citytwin does not read .kml files")
            && errors[0].contains("ogr2ogr -f FlatGeobuf"),
        "{errors:#?}"
    );
    assert!(
        errors[1].contains("b.gpkg: error: not a readable GeoPackage"),
        "{errors:#?}"
    );
    assert!(
        errors[2].contains("b.fgb: error: not a FlatGeobuf file"),
        "{errors:#?}"
    );
}
