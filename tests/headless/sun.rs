//! Sunlight hours (GB 50180): the sun's position against published values, the
//! standard days, a window shaded by a block against the hand calculation, and the
//! grid walk against the naive check of every obstacle.

use chrono::{NaiveDate, TimeZone, Timelike};
use citytwin::plan::sun::*;
use geo::{MultiPolygon, polygon};
use solar_positioning::{RefractionCorrection, spa};

/// Reda & Andreas (2004), the SPA paper's worked example: 17 October 2003,
/// 12:30:30 local time (UTC−7), 39.742476° N, 105.1786° W, 1830.14 m, 820 mbar,
/// 11 °C, ΔT = 67 s → topocentric zenith 50.11162°, azimuth 194.34024°.
#[test]
fn the_sun_is_where_the_spa_paper_puts_it() {
    let at = chrono::FixedOffset::west_opt(7 * 3600)
        .unwrap()
        .with_ymd_and_hms(2003, 10, 17, 12, 30, 30)
        .unwrap();
    let p = spa::solar_position(
        at,
        39.742476,
        -105.1786,
        1830.14,
        67.0,
        Some(RefractionCorrection::new(820.0, 11.0).unwrap()),
    )
    .unwrap();
    assert!(
        (p.zenith_angle() - 50.11162).abs() < 1e-4,
        "{}",
        p.zenith_angle()
    );
    assert!((p.azimuth() - 194.34024).abs() < 1e-4, "{}", p.azimuth());
}

#[test]
fn the_standard_days_fall_on_the_published_dates() {
    // 大寒: 20 January 2025 and 2026; 冬至: 21 December 2025, 22 December 2026.
    let d = |y, m, d| NaiveDate::from_ymd_opt(y, m, d).unwrap();
    assert_eq!(StandardDay::MajorCold.date(2025).unwrap(), d(2025, 1, 20));
    assert_eq!(StandardDay::MajorCold.date(2026).unwrap(), d(2026, 1, 20));
    assert_eq!(
        StandardDay::WinterSolstice.date(2025).unwrap(),
        d(2025, 12, 21)
    );
    assert_eq!(
        StandardDay::WinterSolstice.date(2026).unwrap(),
        d(2026, 12, 22)
    );
}

/// True solar time: at true noon the sun is due south; the morning and the afternoon
/// mirror each other (to 0.1°: the declination climbs about 0.3° a day in January); the noon elevation is 90° − latitude + declination (−20.2° on
/// 大寒日); in Zhengzhou (113.65° E) true noon is about 12:36 Beijing time: 25 minutes
/// for the longitude, 11 for the equation of time in late January.
#[test]
fn true_solar_time_centres_the_window_on_the_meridian() {
    let (lon, lat) = (113.6535, 34.7466);
    let date = StandardDay::MajorCold.date(2027).unwrap();
    let path = sun_path(date, lon, lat, (8.0, 16.0), 1.0).unwrap();
    assert_eq!(path.len(), 480);
    let (first, last) = (path[0], path[479]);
    assert!(
        (first.azimuth_deg + last.azimuth_deg - 360.0).abs() < 0.1,
        "{first:?} {last:?}"
    );
    assert!((first.elevation_deg - last.elevation_deg).abs() < 0.1);
    // 8:00 on 大寒日 here: the sun about 11° up, south-east.
    assert!(
        (9.0..13.0).contains(&first.elevation_deg),
        "{}",
        first.elevation_deg
    );
    let noon = sun_path(date, lon, lat, (11.995, 12.005), 0.6).unwrap()[0];
    assert!(
        (noon.azimuth_deg - 180.0).abs() < 0.05,
        "{}",
        noon.azimuth_deg
    );
    assert!(
        (noon.elevation_deg - (90.0 - lat - 20.2)).abs() < 0.3,
        "{}",
        noon.elevation_deg
    );
    let beijing = noon
        .utc
        .with_timezone(&chrono::FixedOffset::east_opt(8 * 3600).unwrap());
    let minutes = beijing.hour() * 60 + beijing.minute();
    assert!(
        (12 * 60 + 34..=12 * 60 + 38).contains(&minutes),
        "{beijing}"
    );
}

/// A south-facing window 0.9 m up, a 2 km-long block of height H whose north face is D
/// metres south of it. By hand: at sun azimuth A (from north) and elevation e, the ray
/// meets the block's face after D / (−cos A) metres, at 0.9 + D·tan e / (−cos A); the
/// window is lit when that is at least H.
#[test]
fn a_window_behind_a_block_gets_the_hand_calculated_hours() {
    let date = StandardDay::MajorCold.date(2027).unwrap();
    let path = sun_path(date, 113.6535, 34.7466, (8.0, 16.0), 1.0).unwrap();
    for (h, d) in [(18.0, 30.0), (20.0, 30.0), (12.0, 20.0)] {
        let block: MultiPolygon<f64> = polygon![
            (x: -1000.0, y: -d - 12.0), (x: 1000.0, y: -d - 12.0),
            (x: 1000.0, y: -d), (x: -1000.0, y: -d)
        ]
        .into();
        let obstacles = Obstacles::new(
            &[Block {
                footprint: &block,
                height_m: h,
            }],
            Vec::new(),
            16.0,
        );
        let window = Sample {
            at: [0.0, 0.0, 0.9],
            facing: Some([0.0, -1.0]),
            building: None,
            floor: 0,
        };
        let ours = sun_minutes(&obstacles, &[window], &path, 1.0, false)[0];
        let by_hand = path
            .iter()
            .filter(|s| {
                let (a, e) = (s.azimuth_deg.to_radians(), s.elevation_deg.to_radians());
                e > 0.0 && a.cos() < 0.0 && {
                    let run = d / -a.cos();
                    // Past the block's ends (1 km east and west) the ray misses it.
                    let lateral = d * a.sin().abs() / -a.cos();
                    lateral > 1000.0 || 0.9 + run * e.tan() >= h
                }
            })
            .count() as f64;
        assert!(
            (ours - by_hand).abs() <= 1.0,
            "H {h} D {d}: ours {ours} min, by hand {by_hand}"
        );
        assert!(ours > 0.0 && ours < 480.0, "H {h} D {d}: {ours}");
    }
}

/// The grid walk agrees with checking every obstacle, for windows and ground points
/// among random blocks and a model's triangles, at every step of the day.
#[test]
fn the_grid_walk_agrees_with_the_naive_check() {
    let date = StandardDay::WinterSolstice.date(2026).unwrap();
    let path = sun_path(date, 113.6535, 34.7466, (9.0, 15.0), 5.0).unwrap();
    let mut seed = 0x9e37_79b9_7f4a_7c15_u64;
    let mut next = move || {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        (seed >> 11) as f64 / (1u64 << 53) as f64
    };
    let mut shapes = Vec::new();
    for _ in 0..60 {
        let (x, y) = (next() * 400.0 - 200.0, next() * 400.0 - 200.0);
        let (w, l) = (8.0 + next() * 40.0, 8.0 + next() * 20.0);
        shapes.push((
            MultiPolygon::from(
                polygon![(x: x, y: y), (x: x + w, y: y), (x: x + w, y: y + l), (x: x, y: y + l)],
            ),
            5.0 + next() * 60.0,
            (1 + (next() * 20.0) as u32),
        ));
    }
    // An elevator shaft of a model: a 3 × 3 m box 30 m tall, as triangles.
    let (x0, y0, x1, y1, top) = (10.0, -5.0, 13.0, -2.0, 30.0);
    let mut triangles = Vec::new();
    for (a, b) in [
        ((x0, y0), (x1, y0)),
        ((x1, y0), (x1, y1)),
        ((x1, y1), (x0, y1)),
        ((x0, y1), (x0, y0)),
    ] {
        let (p, q) = ([a.0, a.1, 0.0], [b.0, b.1, 0.0]);
        let (pt, qt) = ([a.0, a.1, top], [b.0, b.1, top]);
        triangles.push([p, q, qt]);
        triangles.push([p, qt, pt]);
    }
    let blocks: Vec<(Block, u32)> = shapes
        .iter()
        .map(|(f, h, n)| {
            (
                Block {
                    footprint: f,
                    height_m: *h,
                },
                *n,
            )
        })
        .collect();
    let mut samples = window_samples(&blocks, &path, 3.0);
    let footprints: Vec<&MultiPolygon<f64>> = shapes.iter().map(|s| &s.0).collect();
    samples.extend(ground_samples(
        [-220.0, -220.0, 220.0, 220.0],
        7.0,
        &footprints,
    ));
    let plain: Vec<Block> = blocks
        .iter()
        .map(|(b, _)| Block {
            footprint: b.footprint,
            height_m: b.height_m,
        })
        .collect();
    let obstacles = Obstacles::new(&plain, triangles, 16.0);
    let grid = sun_minutes(&obstacles, &samples, &path, 5.0, false);
    let naive = sun_minutes(&obstacles, &samples, &path, 5.0, true);
    assert!(samples.len() > 2000, "{}", samples.len());
    let differ: Vec<usize> = (0..samples.len())
        .filter(|&i| grid[i] != naive[i])
        .collect();
    assert!(
        differ.is_empty(),
        "{} of {} differ, e.g. {:?}",
        differ.len(),
        samples.len(),
        differ.first().map(|&i| samples[i])
    );
    // Shade is really cast: some points get the whole window, some none.
    assert!(grid.contains(&360.0) && grid.contains(&0.0));
    // The shaft shades a ground point just north of it at noon.
    let noon = sun_path(date, 113.6535, 34.7466, (11.99, 12.01), 1.2).unwrap()[0];
    assert!(obstacles.blocked([11.5, 0.0, 0.0], &noon));
    assert!(obstacles.blocked_naive([11.5, 0.0, 0.0], &noon));
}
