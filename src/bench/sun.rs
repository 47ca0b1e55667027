//! `citytwin bench sun`: sunlight hours (GB 50180, 大寒日, 8:00–16:00 true solar time,
//! 1-minute steps) for 10,000 window-sill points of the 北三街 community (69 slabs),
//! against that community alone and amid the full city, timed against the naive check
//! of every building for every ray in the same run.

use crate::city::load_city;
use crate::plan::sun::{Block, Obstacles, StandardDay, sun_minutes, sun_path, window_samples};
use std::path::PathBuf;
use std::time::{Duration, Instant};

pub struct SunFigures {
    pub date: chrono::NaiveDate,
    pub samples: usize,
    pub steps: usize,
    pub community_buildings: usize,
    /// Grid built and every sample's hours, the community's buildings standing.
    pub community: Duration,
    /// The same with every building checked for every ray.
    pub naive: Duration,
    /// The same samples amid the full city: buildings within reach picked from all.
    pub full: Duration,
    pub full_buildings: usize,
    pub city_buildings: usize,
    /// Samples under the standard (2 h), community alone and amid the city.
    pub below: usize,
    pub below_full: usize,
}

const GRID_CELL_M: f64 = 16.0;

pub fn run(dir: Option<PathBuf>, samples: usize, year: i32) -> Result<SunFigures, String> {
    let (_, scene) = super::full_city(dir)?;
    let city = load_city(&scene);
    let buildings = &city.data.buildings;
    let community: Vec<usize> = (0..buildings.len())
        .filter(|&i| {
            buildings[i]
                .name
                .as_deref()
                .is_some_and(|n| n.starts_with("北三街小区"))
        })
        .collect();
    if community.is_empty() {
        return Err("the generated city has no 北三街 community".into());
    }
    let floors = |i: usize| {
        let b = &buildings[i];
        b.properties
            .get("levels")
            .and_then(serde_json::Value::as_u64)
            .map_or_else(|| (b.height_m / 3.0).round().max(1.0) as u32, |l| l as u32)
    };
    let block = |i: usize| Block {
        footprint: &buildings[i].footprint,
        height_m: buildings[i].height_m,
    };
    let day = StandardDay::MajorCold;
    let date = day.date(year)?;
    // The community's centre, for the sun's position.
    let (mut cx, mut cy, mut n) = (0.0, 0.0, 0.0);
    for &i in &community {
        for p in &buildings[i].footprint.0 {
            for c in &p.exterior().0 {
                cx += c.x;
                cy += c.y;
                n += 1.0;
            }
        }
    }
    let frame = crate::geo::LocalFrame::new(scene.file.origin).map_err(|e| e.to_string())?;
    let centre = frame
        .to_lonlat(crate::geo::LocalPoint::new(cx / n, cy / n))
        .map_err(|e| e.to_string())?;
    let path = sun_path(date, centre.lon, centre.lat, day.window(), 1.0)?;
    let with_floors: Vec<(Block, u32)> = community.iter().map(|&i| (block(i), floors(i))).collect();
    let all = window_samples(&with_floors, &path, 1.0);
    let stride = (all.len() as f64 / samples as f64).max(1.0);
    let picked: Vec<_> = (0..samples.min(all.len()))
        .map(|k| all[(k as f64 * stride) as usize])
        .collect();
    let blocks: Vec<Block> = community.iter().map(|&i| block(i)).collect();

    let started = Instant::now();
    let obstacles = Obstacles::new(&blocks, Vec::new(), GRID_CELL_M);
    let hours = sun_minutes(&obstacles, &picked, &path, 1.0, false);
    let community_time = started.elapsed();
    let started = Instant::now();
    let naive_hours = sun_minutes(&obstacles, &picked, &path, 1.0, true);
    let naive = started.elapsed();
    if hours != naive_hours {
        let differ = hours
            .iter()
            .zip(&naive_hours)
            .filter(|(a, b)| a != b)
            .count();
        return Err(format!(
            "the grid and the naive check disagree at {differ} samples"
        ));
    }

    // Amid the full city: whatever stands within reach of the samples.
    let started = Instant::now();
    let lowest_sun = path
        .iter()
        .map(|s| s.elevation_deg)
        .fold(f64::INFINITY, f64::min)
        .max(1.0);
    let tallest = buildings.iter().map(|b| b.height_m).fold(0.0, f64::max);
    let reach = tallest / lowest_sun.to_radians().tan();
    let mut bounds = [
        f64::INFINITY,
        f64::INFINITY,
        f64::NEG_INFINITY,
        f64::NEG_INFINITY,
    ];
    for s in &picked {
        bounds = [
            bounds[0].min(s.at[0] - reach),
            bounds[1].min(s.at[1] - reach),
            bounds[2].max(s.at[0] + reach),
            bounds[3].max(s.at[1] + reach),
        ];
    }
    let near: Vec<Block> = buildings
        .iter()
        .filter(|b| {
            geo::BoundingRect::bounding_rect(&b.footprint).is_some_and(|r| {
                r.max().x >= bounds[0]
                    && r.max().y >= bounds[1]
                    && r.min().x <= bounds[2]
                    && r.min().y <= bounds[3]
            })
        })
        .map(|b| Block {
            footprint: &b.footprint,
            height_m: b.height_m,
        })
        .collect();
    let full_obstacles = Obstacles::new(&near, Vec::new(), GRID_CELL_M);
    let full_hours = sun_minutes(&full_obstacles, &picked, &path, 1.0, false);
    let full = started.elapsed();
    let required = day.required_hours() * 60.0;
    Ok(SunFigures {
        date,
        samples: picked.len(),
        steps: path.len(),
        community_buildings: community.len(),
        community: community_time,
        naive,
        full,
        full_buildings: near.len(),
        city_buildings: buildings.len(),
        below: hours.iter().filter(|&&m| m < required).count(),
        below_full: full_hours.iter().filter(|&&m| m < required).count(),
    })
}

pub fn print(f: &SunFigures) {
    println!(
        "sun: {} {} (8:00–16:00 true solar time, 1-minute steps: {} steps), {} window-sill \
         points of the 北三街 community ({} buildings)",
        StandardDay::MajorCold.label(),
        f.date,
        f.steps,
        f.samples,
        f.community_buildings
    );
    let rays = (f.samples * f.steps) as f64;
    let row = |label: &str, d: Duration| {
        println!(
            "  {label:<58} {:>7.3} s  {:>6.0} ns a ray",
            d.as_secs_f64(),
            d.as_secs_f64() * 1e9 / rays
        );
    };
    row(
        "community, grid walked along each ray (grid built too)",
        f.community,
    );
    row("community, naive: every building for every ray", f.naive);
    row(
        &format!(
            "amid the full city ({} of {} buildings within reach)",
            f.full_buildings, f.city_buildings
        ),
        f.full,
    );
    println!(
        "  grid {:.1}× the naive check (same hours at every point); under 2 h: {} of {} \
         points (community alone), {} amid the city",
        f.naive.as_secs_f64() / f.community.as_secs_f64(),
        f.below,
        f.samples,
        f.below_full
    );
    println!("  target: the community under 2 s");
    println!(
        "summary: community_s={:.3} vs_naive={:.1} full_s={:.3} samples={} below_standard={}",
        f.community.as_secs_f64(),
        f.naive.as_secs_f64() / f.community.as_secs_f64(),
        f.full.as_secs_f64(),
        f.samples,
        f.below
    );
}
