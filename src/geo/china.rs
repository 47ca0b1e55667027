//! China's obfuscated web-map datums: GCJ-02 ("Mars coordinates") and Baidu's BD-09.
//! PROJ does not know them; forward formulas are the published ones, inverses iterate
//! the forward formula until the round trip closes to well under a centimetre.

use super::LonLat;
use std::f64::consts::PI;

/// Krasovsky 1940 semi-major axis and eccentricity², as used by the GCJ-02 formula.
const KRASOVSKY_A: f64 = 6_378_245.0;
const KRASOVSKY_EE: f64 = 0.006_693_421_622_965_943;
const BD_X_PI: f64 = PI * 3000.0 / 180.0;

/// Stop iterating once the forward image is within this many degrees (≈ 0.1 mm).
const INVERSE_TOLERANCE_DEG: f64 = 1e-9;
const INVERSE_MAX_STEPS: usize = 30;

/// GCJ-02 applies only inside mainland China's rough bounding box; outside it is WGS84.
pub fn outside_china(p: LonLat) -> bool {
    !(72.004..=137.8347).contains(&p.lon) || !(0.8293..=55.8271).contains(&p.lat)
}

fn offset_lat(x: f64, y: f64) -> f64 {
    let mut r = -100.0 + 2.0 * x + 3.0 * y + 0.2 * y * y + 0.1 * x * y + 0.2 * x.abs().sqrt();
    r += (20.0 * (6.0 * x * PI).sin() + 20.0 * (2.0 * x * PI).sin()) * 2.0 / 3.0;
    r += (20.0 * (y * PI).sin() + 40.0 * (y / 3.0 * PI).sin()) * 2.0 / 3.0;
    r += (160.0 * (y / 12.0 * PI).sin() + 320.0 * (y * PI / 30.0).sin()) * 2.0 / 3.0;
    r
}

fn offset_lon(x: f64, y: f64) -> f64 {
    let mut r = 300.0 + x + 2.0 * y + 0.1 * x * x + 0.1 * x * y + 0.1 * x.abs().sqrt();
    r += (20.0 * (6.0 * x * PI).sin() + 20.0 * (2.0 * x * PI).sin()) * 2.0 / 3.0;
    r += (20.0 * (x * PI).sin() + 40.0 * (x / 3.0 * PI).sin()) * 2.0 / 3.0;
    r += (150.0 * (x / 12.0 * PI).sin() + 300.0 * (x / 30.0 * PI).sin()) * 2.0 / 3.0;
    r
}

/// WGS84 → GCJ-02.
pub fn wgs84_to_gcj02(p: LonLat) -> LonLat {
    if outside_china(p) {
        return p;
    }
    let d_lat = offset_lat(p.lon - 105.0, p.lat - 35.0);
    let d_lon = offset_lon(p.lon - 105.0, p.lat - 35.0);
    let rad_lat = p.lat.to_radians();
    let magic = 1.0 - KRASOVSKY_EE * rad_lat.sin().powi(2);
    let sqrt_magic = magic.sqrt();
    let d_lat = d_lat * 180.0 / ((KRASOVSKY_A * (1.0 - KRASOVSKY_EE)) / (magic * sqrt_magic) * PI);
    let d_lon = d_lon * 180.0 / (KRASOVSKY_A / sqrt_magic * rad_lat.cos() * PI);
    LonLat::new(p.lon + d_lon, p.lat + d_lat)
}

/// GCJ-02 → BD-09.
pub fn gcj02_to_bd09(p: LonLat) -> LonLat {
    let z = (p.lon * p.lon + p.lat * p.lat).sqrt() + 0.000_02 * (p.lat * BD_X_PI).sin();
    let theta = p.lat.atan2(p.lon) + 0.000_003 * (p.lon * BD_X_PI).cos();
    LonLat::new(z * theta.cos() + 0.0065, z * theta.sin() + 0.006)
}

/// Solves `forward(x) = target` by fixed-point iteration; the offsets are smooth and
/// small (hundreds of metres), so each step gains about three orders of magnitude.
fn invert(target: LonLat, forward: impl Fn(LonLat) -> LonLat) -> LonLat {
    let mut guess = target;
    for _ in 0..INVERSE_MAX_STEPS {
        let image = forward(guess);
        let (dx, dy) = (image.lon - target.lon, image.lat - target.lat);
        if dx.abs() < INVERSE_TOLERANCE_DEG && dy.abs() < INVERSE_TOLERANCE_DEG {
            break;
        }
        guess = LonLat::new(guess.lon - dx, guess.lat - dy);
    }
    guess
}

/// GCJ-02 → WGS84 (iterative; round trip error well under 1 cm).
pub fn gcj02_to_wgs84(p: LonLat) -> LonLat {
    if outside_china(p) {
        return p;
    }
    invert(p, wgs84_to_gcj02)
}

/// BD-09 → GCJ-02 (iterative).
pub fn bd09_to_gcj02(p: LonLat) -> LonLat {
    invert(p, gcj02_to_bd09)
}

/// WGS84 → BD-09.
pub fn wgs84_to_bd09(p: LonLat) -> LonLat {
    gcj02_to_bd09(wgs84_to_gcj02(p))
}

/// BD-09 → WGS84.
pub fn bd09_to_wgs84(p: LonLat) -> LonLat {
    gcj02_to_wgs84(bd09_to_gcj02(p))
}
