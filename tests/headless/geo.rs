//! Coordinates: EPSG transforms against PROJ's own `cs2cs`, and GCJ-02/BD-09 round trips.

use citytwin::geo::{LocalFrame, LonLat, ToWgs84, china};
use proptest::prelude::*;
use std::process::Command;

const ORIGIN: LonLat = LonLat::new(113.665, 34.754);

/// Runs Debian's `cs2cs` (package proj-bin, installed by scripts/install-deps.sh).
fn cs2cs(args: &[&str], input: &str) -> Vec<f64> {
    use std::io::Write;
    let mut child = Command::new("cs2cs")
        .args(["-f", "%.9f"])
        .args(args)
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .expect("cs2cs is missing: install Debian's proj-bin (scripts/install-deps.sh does)");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(format!("{input}\n").as_bytes())
        .expect("write to cs2cs");
    let out = child.wait_with_output().expect("cs2cs runs");
    String::from_utf8_lossy(&out.stdout)
        .split_whitespace()
        .filter_map(|t| t.parse().ok())
        .collect()
}

/// Projects WGS84 to the scene's local frame with cs2cs, the same definition our
/// frame uses.
fn cs2cs_local(ll: LonLat) -> (f64, f64) {
    let tmerc = format!(
        "+proj=tmerc +lat_0={} +lon_0={} +k=1 +x_0=0 +y_0=0 +ellps=WGS84 +units=m",
        ORIGIN.lat, ORIGIN.lon
    );
    let mut args = vec!["+proj=longlat", "+datum=WGS84", "+to"];
    args.extend(tmerc.split(' '));
    let v = cs2cs(&args, &format!("{} {}", ll.lon, ll.lat));
    (v[0], v[1])
}

/// For each EPSG code: a point in that CRS (in GIS order x/easting first) and the
/// order cs2cs wants it typed in (EPSG axis order).
#[test]
fn epsg_transforms_match_cs2cs_to_the_millimetre() {
    let frame = LocalFrame::new(ORIGIN).unwrap();
    // (code, x, y, cs2cs takes northing first)
    let cases = [
        (4547, 469_327.159, 3_847_353.191, true),
        (4547, 472_100.5, 3_845_200.25, true),
        (32649, 752_468.0, 3_849_731.0, false),
        (32650, 204_874.0, 3_850_100.0, false),
        (3857, 12_653_300.0, 4_129_900.0, false),
        (4490, 113.67, 34.76, true),
    ];
    for (code, x, y, northing_first) in cases {
        let ours = ToWgs84::new(&citytwin::geo::Crs::Epsg(code))
            .unwrap()
            .convert(x, y)
            .unwrap();
        let input = if northing_first {
            format!("{y} {x}")
        } else {
            format!("{x} {y}")
        };
        let epsg = format!("EPSG:{code}");
        let theirs = cs2cs(&[epsg.as_str(), "EPSG:4326"], &input);
        // EPSG:4326 prints latitude first.
        let (lat, lon) = (theirs[0], theirs[1]);
        let ours_local = frame.to_local(ours).unwrap();
        let theirs_local = cs2cs_local(LonLat::new(lon, lat));
        let d = (ours_local.east_m - theirs_local.0).hypot(ours_local.north_m - theirs_local.1);
        assert!(
            d < 0.001,
            "EPSG:{code} ({x}, {y}): ours {ours_local:?}, cs2cs {theirs_local:?}, {d} m apart"
        );
    }
}

#[test]
fn unknown_epsg_code_is_a_clear_error() {
    let err = ToWgs84::new(&citytwin::geo::Crs::Epsg(999_999))
        .err()
        .expect("must fail");
    assert!(err.to_string().contains("EPSG:999999"), "{err}");
}

#[test]
fn local_frame_round_trips() {
    let frame = LocalFrame::new(ORIGIN).unwrap();
    let p = LonLat::new(113.7, 34.78);
    let back = frame.to_lonlat(frame.to_local(p).unwrap()).unwrap();
    assert!((back.lon - p.lon).abs() < 1e-9 && (back.lat - p.lat).abs() < 1e-9);
}

/// Degrees of latitude per centimetre, roughly; longitude is looser at 55°N, still < 1 cm.
const CM_IN_DEG: f64 = 1e-7;

proptest! {
    #[test]
    fn gcj02_round_trip_within_a_centimetre(lon in 73.0f64..135.0, lat in 18.0f64..53.0) {
        let p = LonLat::new(lon, lat);
        let back = china::gcj02_to_wgs84(china::wgs84_to_gcj02(p));
        prop_assert!((back.lon - lon).abs() < CM_IN_DEG && (back.lat - lat).abs() < CM_IN_DEG,
            "{p:?} came back as {back:?}");
    }

    #[test]
    fn bd09_round_trip_within_a_centimetre(lon in 73.0f64..135.0, lat in 18.0f64..53.0) {
        let p = LonLat::new(lon, lat);
        let back = china::bd09_to_wgs84(china::wgs84_to_bd09(p));
        prop_assert!((back.lon - lon).abs() < CM_IN_DEG && (back.lat - lat).abs() < CM_IN_DEG,
            "{p:?} came back as {back:?}");
    }

    #[test]
    fn gcj02_offset_is_hundreds_of_metres_in_china(lon in 100.0f64..120.0, lat in 22.0f64..40.0) {
        let p = LonLat::new(lon, lat);
        let g = china::wgs84_to_gcj02(p);
        let d_m = ((g.lon - lon) * 111_000.0 * lat.to_radians().cos()).hypot((g.lat - lat) * 111_000.0);
        prop_assert!(d_m > 50.0 && d_m < 1000.0, "offset {d_m} m at {p:?}");
    }
}
