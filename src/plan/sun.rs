//! Sunlight hours to GB 50180 (城市居住区规划设计标准): hours of direct sun at
//! window-sill points and on the ground for a standard day, in true solar time at the
//! site's longitude, at 1-minute steps.
//!
//! The sun's position comes from NREL's SPA (Reda & Andreas), through the
//! `solar-positioning` crate. Whether a ray to the sun is blocked is decided against
//! everything standing: the walls of extruded buildings and the triangles of models,
//! found through a uniform grid walked along the ray's ground track, only as far as the
//! tallest obstacle can reach at that sun elevation.

use chrono::{Datelike, NaiveDate, TimeZone, Utc};
use geo::{MultiPolygon, Polygon};
use solar_positioning::{spa, time::DeltaT};

/// The standard days GB 50180 measures on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StandardDay {
    /// 大寒日 (Major Cold, the sun at ecliptic longitude 300°): climate zones I–III and
    /// large cities of zone IV; 8:00–16:00 true solar time. Zhengzhou (zone II, over
    /// 500,000 people): at least 2 hours.
    MajorCold,
    /// 冬至日 (winter solstice, 270°): 9:00–15:00 true solar time.
    WinterSolstice,
}

impl StandardDay {
    pub fn label(self) -> &'static str {
        match self {
            StandardDay::MajorCold => "大寒日 Major Cold",
            StandardDay::WinterSolstice => "冬至日 winter solstice",
        }
    }

    /// The counted window, true solar hours.
    pub fn window(self) -> (f64, f64) {
        match self {
            StandardDay::MajorCold => (8.0, 16.0),
            StandardDay::WinterSolstice => (9.0, 15.0),
        }
    }

    /// Hours of sun the standard asks of a dwelling here (zone II, a city over 500,000
    /// people, on 大寒日: 2; on 冬至日: 1). New housing in an old-district renovation may
    /// not fall below 1 hour on 大寒日 ([`RENOVATION_MIN_HOURS`]).
    pub fn required_hours(self) -> f64 {
        match self {
            StandardDay::MajorCold => 2.0,
            StandardDay::WinterSolstice => 1.0,
        }
    }

    /// The sun's apparent ecliptic longitude that marks the day, degrees.
    fn solar_longitude(self) -> f64 {
        match self {
            StandardDay::MajorCold => 300.0,
            StandardDay::WinterSolstice => 270.0,
        }
    }

    /// The day of `year` (Beijing time, as China's calendar counts solar terms) on which
    /// the sun reaches the term's longitude.
    pub fn date(self, year: i32) -> Result<NaiveDate, String> {
        let target = self.solar_longitude();
        // 大寒 falls on 19–21 January, 冬至 on 21–23 December.
        let (month, first) = match self {
            StandardDay::MajorCold => (1, 15),
            StandardDay::WinterSolstice => (12, 17),
        };
        let mut previous = None;
        for day in first..first + 12 {
            let date = NaiveDate::from_ymd_opt(year, month, day).ok_or("invalid date")?;
            // Beijing midnight at the end of `date`.
            let end = Utc
                .from_utc_datetime(&date.and_hms_opt(16, 0, 0).ok_or("invalid time")?)
                .naive_utc();
            let longitude = ecliptic_longitude(end)?;
            let past = angle_between(longitude, target) >= 0.0;
            if past && previous == Some(false) {
                return Ok(date);
            }
            previous = Some(past);
        }
        Err(format!("no {} found in {year}", self.label()))
    }
}

/// What GB 50180 allows new housing in an old-district renovation to fall to on 大寒日.
pub const RENOVATION_MIN_HOURS: f64 = 1.0;

/// ΔT (TT − UT) for a year, seconds, as the SPA wants it.
fn delta_t(date: NaiveDate) -> f64 {
    DeltaT::estimate_from_date(date.year(), date.month()).unwrap_or(69.0)
}

/// The sun's apparent ecliptic longitude at a UTC instant (from SPA's right ascension
/// and declination and the mean obliquity; good to well under a minute of time).
fn ecliptic_longitude(at: chrono::NaiveDateTime) -> Result<f64, String> {
    let utc = Utc.from_utc_datetime(&at);
    let parts =
        spa::spa_time_dependent_parts(utc, delta_t(at.date())).map_err(|e| format!("SPA: {e}"))?;
    let (alpha, delta) = (
        parts.right_ascension().to_radians(),
        parts.declination().to_radians(),
    );
    let epsilon = 23.4393_f64.to_radians();
    let lambda = (alpha.sin() * epsilon.cos() + delta.tan() * epsilon.sin()).atan2(alpha.cos());
    Ok(lambda.to_degrees().rem_euclid(360.0))
}

/// `a − b` in degrees, wrapped to (−180, 180].
fn angle_between(a: f64, b: f64) -> f64 {
    let d = (a - b).rem_euclid(360.0);
    if d > 180.0 { d - 360.0 } else { d }
}

/// The sun at one step: a unit vector towards it in the local frame (east, north, up).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SunStep {
    /// Minutes of true solar time since midnight (the middle of the step).
    pub solar_minute: f64,
    pub utc: chrono::DateTime<Utc>,
    pub azimuth_deg: f64,
    pub elevation_deg: f64,
    pub towards: [f64; 3],
}

/// The sun over the day's window, one step each `step_min` minutes of true solar
/// time, each step's position taken at its middle. True solar noon is SPA's transit;
/// the equation of time changes by well under a second within the window.
pub fn sun_path(
    date: NaiveDate,
    lon: f64,
    lat: f64,
    window: (f64, f64),
    step_min: f64,
) -> Result<Vec<SunStep>, String> {
    let dt = delta_t(date);
    let transit = spa::sunrise_sunset_utc(
        date.year(),
        date.month(),
        date.day(),
        lat,
        lon,
        dt,
        -0.83337,
    )
    .map_err(|e| format!("SPA: {e}"))?
    .transit()
    .hours();
    let midnight = Utc.from_utc_datetime(&date.and_hms_opt(0, 0, 0).ok_or("invalid date")?);
    let steps = ((window.1 - window.0) * 60.0 / step_min).round() as usize;
    let mut out = Vec::with_capacity(steps);
    for i in 0..steps {
        let solar_minute = window.0 * 60.0 + (i as f64 + 0.5) * step_min;
        let utc_hours = transit + (solar_minute / 60.0 - 12.0);
        let utc = midnight + chrono::Duration::milliseconds((utc_hours * 3_600_000.0) as i64);
        let p =
            spa::solar_position(utc, lat, lon, 0.0, dt, None).map_err(|e| format!("SPA: {e}"))?;
        let (az, el) = (p.azimuth().to_radians(), p.elevation_angle().to_radians());
        out.push(SunStep {
            solar_minute,
            utc,
            azimuth_deg: p.azimuth(),
            elevation_deg: p.elevation_angle(),
            towards: [az.sin() * el.cos(), az.cos() * el.cos(), el.sin()],
        });
    }
    Ok(out)
}

/// A vertical wall: a footprint edge from the ground to the roof.
#[derive(Debug, Clone, Copy)]
struct Wall {
    a: [f64; 2],
    b: [f64; 2],
    top: f64,
}

/// Everything that casts shadows, in local metres, with a grid over it.
pub struct Obstacles {
    walls: Vec<Wall>,
    triangles: Vec<[[f64; 3]; 3]>,
    cell: f64,
    origin: [f64; 2],
    cols: usize,
    rows: usize,
    /// Per cell: walls (index) and triangles (index | TRIANGLE_BIT).
    cells: Vec<Vec<u32>>,
    highest: f64,
}

const TRIANGLE_BIT: u32 = 1 << 31;
/// Rays start this far off the surface they leave, so they do not hit it.
const EPSILON_M: f64 = 1e-6;

/// A building as the sun sees it: footprint (local metres) and height.
pub struct Block<'a> {
    pub footprint: &'a MultiPolygon<f64>,
    pub height_m: f64,
}

impl Obstacles {
    /// Builds the grid (cells of `cell_m`) over the walls of `blocks` and the
    /// `triangles` of models (local metres, z up).
    pub fn new(blocks: &[Block], triangles: Vec<[[f64; 3]; 3]>, cell_m: f64) -> Self {
        let mut walls = Vec::new();
        for b in blocks {
            for polygon in &b.footprint.0 {
                for ring in std::iter::once(polygon.exterior()).chain(polygon.interiors()) {
                    walls.extend(ring.lines().map(|line| Wall {
                        a: [line.start.x, line.start.y],
                        b: [line.end.x, line.end.y],
                        top: b.height_m,
                    }));
                }
            }
        }
        let mut lo = [f64::INFINITY; 2];
        let mut hi = [f64::NEG_INFINITY; 2];
        let mut highest: f64 = 0.0;
        for w in &walls {
            for p in [w.a, w.b] {
                lo = [lo[0].min(p[0]), lo[1].min(p[1])];
                hi = [hi[0].max(p[0]), hi[1].max(p[1])];
            }
            highest = highest.max(w.top);
        }
        for t in &triangles {
            for p in t {
                lo = [lo[0].min(p[0]), lo[1].min(p[1])];
                hi = [hi[0].max(p[0]), hi[1].max(p[1])];
                highest = highest.max(p[2]);
            }
        }
        if !lo[0].is_finite() {
            lo = [0.0, 0.0];
            hi = [0.0, 0.0];
        }
        let cols = (((hi[0] - lo[0]) / cell_m).floor() as usize + 1).max(1);
        let rows = (((hi[1] - lo[1]) / cell_m).floor() as usize + 1).max(1);
        let mut grid = Obstacles {
            walls,
            triangles,
            cell: cell_m,
            origin: lo,
            cols,
            rows,
            cells: vec![Vec::new(); cols * rows],
            highest,
        };
        for i in 0..grid.walls.len() {
            let w = grid.walls[i];
            grid.insert(
                i as u32,
                [
                    w.a[0].min(w.b[0]),
                    w.a[1].min(w.b[1]),
                    w.a[0].max(w.b[0]),
                    w.a[1].max(w.b[1]),
                ],
            );
        }
        for i in 0..grid.triangles.len() {
            let t = grid.triangles[i];
            let xs = t.map(|p| p[0]);
            let ys = t.map(|p| p[1]);
            let min = |v: [f64; 3]| v[0].min(v[1]).min(v[2]);
            let max = |v: [f64; 3]| v[0].max(v[1]).max(v[2]);
            grid.insert(
                i as u32 | TRIANGLE_BIT,
                [min(xs), min(ys), max(xs), max(ys)],
            );
        }
        grid
    }

    fn insert(&mut self, item: u32, bbox: [f64; 4]) {
        let (c0, r0) = self.cell_of(bbox[0], bbox[1]);
        let (c1, r1) = self.cell_of(bbox[2], bbox[3]);
        for r in r0..=r1 {
            for c in c0..=c1 {
                self.cells[r * self.cols + c].push(item);
            }
        }
    }

    fn cell_of(&self, x: f64, y: f64) -> (usize, usize) {
        let c = ((x - self.origin[0]) / self.cell)
            .floor()
            .clamp(0.0, (self.cols - 1) as f64);
        let r = ((y - self.origin[1]) / self.cell)
            .floor()
            .clamp(0.0, (self.rows - 1) as f64);
        (c as usize, r as usize)
    }

    /// The tallest thing standing, metres.
    pub fn highest(&self) -> f64 {
        self.highest
    }

    /// Whether the ray from `p` towards the sun hits anything (the grid walked along the
    /// ray's ground track, as far as the tallest obstacle can still be above it).
    pub fn blocked(&self, p: [f64; 3], sun: &SunStep) -> bool {
        let d = sun.towards;
        if d[2] <= 0.0 {
            return true;
        }
        let horizontal = d[0].hypot(d[1]);
        if self.highest <= p[2] || horizontal < 1e-12 {
            return false;
        }
        // Ground distance after which the ray is above everything.
        let reach = (self.highest - p[2]) * horizontal / d[2];
        let (dx, dy) = (d[0] / horizontal, d[1] / horizontal);
        let slope = d[2] / horizontal;
        // Amanatides–Woo walk over the cells the ground track crosses.
        let (mut c, mut r) = self.cell_of(p[0], p[1]);
        let inside = |x: f64, y: f64| {
            x >= self.origin[0]
                && y >= self.origin[1]
                && x <= self.origin[0] + self.cols as f64 * self.cell
                && y <= self.origin[1] + self.rows as f64 * self.cell
        };
        let (step_c, step_r) = (
            if dx >= 0.0 { 1i64 } else { -1 },
            if dy >= 0.0 { 1i64 } else { -1 },
        );
        let boundary = |i: usize, step: i64, origin: f64| {
            origin + (i as f64 + if step > 0 { 1.0 } else { 0.0 }) * self.cell
        };
        let mut t_c = if dx.abs() < 1e-12 {
            f64::INFINITY
        } else {
            (boundary(c, step_c, self.origin[0]) - p[0]) / dx
        };
        let mut t_r = if dy.abs() < 1e-12 {
            f64::INFINITY
        } else {
            (boundary(r, step_r, self.origin[1]) - p[1]) / dy
        };
        let (delta_c, delta_r) = (self.cell / dx.abs(), self.cell / dy.abs());
        if !inside(p[0], p[1]) {
            // A point beyond everything standing (rare: samples lie among the
            // obstacles): the plain check, which needs no grid.
            return self.blocked_naive(p, sun);
        }
        loop {
            for &item in &self.cells[r * self.cols + c] {
                if self.item_blocks(item, p, d, dx, dy, slope) {
                    return true;
                }
            }
            let t = t_c.min(t_r);
            if t > reach {
                return false;
            }
            if t_c < t_r {
                let next = c as i64 + step_c;
                if next < 0 || next >= self.cols as i64 {
                    return false;
                }
                c = next as usize;
                t_c += delta_c;
            } else {
                let next = r as i64 + step_r;
                if next < 0 || next >= self.rows as i64 {
                    return false;
                }
                r = next as usize;
                t_r += delta_r;
            }
        }
    }

    fn item_blocks(
        &self,
        item: u32,
        p: [f64; 3],
        d: [f64; 3],
        dx: f64,
        dy: f64,
        slope: f64,
    ) -> bool {
        if item & TRIANGLE_BIT != 0 {
            let t = &self.triangles[(item & !TRIANGLE_BIT) as usize];
            ray_hits_triangle(p, d, t)
        } else {
            wall_blocks(&self.walls[item as usize], p, dx, dy, slope)
        }
    }

    /// The naive check: every building's walls and every triangle, for the baseline of
    /// `bench sun` and as a cross-check in tests.
    pub fn blocked_naive(&self, p: [f64; 3], sun: &SunStep) -> bool {
        let d = sun.towards;
        if d[2] <= 0.0 {
            return true;
        }
        let horizontal = d[0].hypot(d[1]);
        if horizontal < 1e-12 {
            return false;
        }
        let (dx, dy, slope) = (d[0] / horizontal, d[1] / horizontal, d[2] / horizontal);
        self.walls.iter().any(|w| wall_blocks(w, p, dx, dy, slope))
            || self.triangles.iter().any(|t| ray_hits_triangle(p, d, t))
    }
}

/// Whether the ray (ground direction `dx, dy`, rising `slope` metres a metre) from `p`
/// passes through the wall below its top.
fn wall_blocks(w: &Wall, p: [f64; 3], dx: f64, dy: f64, slope: f64) -> bool {
    let (ex, ey) = (w.b[0] - w.a[0], w.b[1] - w.a[1]);
    let denom = dx * ey - dy * ex;
    if denom.abs() < 1e-12 {
        return false;
    }
    let (qx, qy) = (w.a[0] - p[0], w.a[1] - p[1]);
    // p + s·(dx, dy) = a + u·(b − a)
    let s = (qx * ey - qy * ex) / denom;
    let u = (qx * dy - qy * dx) / denom;
    if s <= EPSILON_M || !(0.0..=1.0).contains(&u) {
        return false;
    }
    let z = p[2] + s * slope;
    z < w.top && z >= 0.0
}

/// Möller–Trumbore: whether the ray from `p` along `d` hits the triangle ahead of `p`.
fn ray_hits_triangle(p: [f64; 3], d: [f64; 3], t: &[[f64; 3]; 3]) -> bool {
    let sub = |a: [f64; 3], b: [f64; 3]| [a[0] - b[0], a[1] - b[1], a[2] - b[2]];
    let cross = |a: [f64; 3], b: [f64; 3]| {
        [
            a[1] * b[2] - a[2] * b[1],
            a[2] * b[0] - a[0] * b[2],
            a[0] * b[1] - a[1] * b[0],
        ]
    };
    let dot = |a: [f64; 3], b: [f64; 3]| a[0] * b[0] + a[1] * b[1] + a[2] * b[2];
    let (e1, e2) = (sub(t[1], t[0]), sub(t[2], t[0]));
    let h = cross(d, e2);
    let a = dot(e1, h);
    if a.abs() < 1e-12 {
        return false;
    }
    let f = 1.0 / a;
    let s = sub(p, t[0]);
    let u = f * dot(s, h);
    if !(0.0..=1.0).contains(&u) {
        return false;
    }
    let q = cross(s, e1);
    let v = f * dot(d, q);
    if v < 0.0 || u + v > 1.0 {
        return false;
    }
    f * dot(e2, q) > EPSILON_M
}

/// A point where sunlight is counted.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Sample {
    /// Local metres (east, north, up).
    pub at: [f64; 3],
    /// Outward façade normal (east, north) for a window; None on the ground.
    pub facing: Option<[f64; 2]>,
    /// The building whose window it is.
    pub building: Option<usize>,
    /// Floor, from 0 (ground floor).
    pub floor: u32,
}

/// Window-sill points: 0.9 m above each floor, on every façade of each block that the
/// sun reaches during `path`, spaced at most `spacing_m` along it, just off the wall.
pub fn window_samples(blocks: &[(Block, u32)], path: &[SunStep], spacing_m: f64) -> Vec<Sample> {
    let mut out = Vec::new();
    for (i, (block, floors)) in blocks.iter().enumerate() {
        let floors = (*floors).max(1);
        let floor_h = block.height_m / f64::from(floors);
        for polygon in &block.footprint.0 {
            let polygon: Polygon<f64> =
                geo::Orient::orient(polygon, geo::orient::Direction::Default);
            for line in polygon.exterior().lines() {
                let (ex, ey) = (line.dx(), line.dy());
                let len = ex.hypot(ey);
                if len < 1e-6 {
                    continue;
                }
                // Counter-clockwise exterior: outside is to the right.
                let normal = [ey / len, -ex / len];
                let sunny = path.iter().any(|s| {
                    s.towards[2] > 0.0 && s.towards[0] * normal[0] + s.towards[1] * normal[1] > 0.0
                });
                if !sunny {
                    continue;
                }
                let n = (len / spacing_m).ceil().max(1.0) as usize;
                for k in 0..n {
                    let t = (k as f64 + 0.5) / n as f64;
                    let x = line.start.x + ex * t + normal[0] * 0.01;
                    let y = line.start.y + ey * t + normal[1] * 0.01;
                    for floor in 0..floors {
                        let z = f64::from(floor) * floor_h + 0.9;
                        if z >= block.height_m {
                            continue;
                        }
                        out.push(Sample {
                            at: [x, y, z],
                            facing: Some(normal),
                            building: Some(i),
                            floor,
                        });
                    }
                }
            }
        }
    }
    out
}

/// Ground points every `spacing_m` over `bounds` (west, south, east, north in local
/// metres), leaving out those inside a footprint.
pub fn ground_samples(
    bounds: [f64; 4],
    spacing_m: f64,
    footprints: &[&MultiPolygon<f64>],
) -> Vec<Sample> {
    use geo::Contains;
    let mut out = Vec::new();
    let mut y = bounds[1] + spacing_m / 2.0;
    while y < bounds[3] {
        let mut x = bounds[0] + spacing_m / 2.0;
        while x < bounds[2] {
            let c = geo::Coord { x, y };
            if !footprints.iter().any(|f| f.contains(&c)) {
                out.push(Sample {
                    at: [x, y, 0.0],
                    facing: None,
                    building: None,
                    floor: 0,
                });
            }
            x += spacing_m;
        }
        y += spacing_m;
    }
    out
}

/// Minutes of direct sun at each sample over `path` (steps of `step_min`).
pub fn sun_minutes(
    obstacles: &Obstacles,
    samples: &[Sample],
    path: &[SunStep],
    step_min: f64,
    naive: bool,
) -> Vec<f64> {
    let one = |s: &Sample| {
        let lit = path.iter().filter(|step| {
            step.towards[2] > 0.0
                && s.facing
                    .is_none_or(|n| n[0] * step.towards[0] + n[1] * step.towards[1] > 0.0)
                && !if naive {
                    obstacles.blocked_naive(s.at, step)
                } else {
                    obstacles.blocked(s.at, step)
                }
        });
        lit.count() as f64 * step_min
    };
    // One share of the samples per core (rays are independent).
    let threads = std::thread::available_parallelism()
        .map_or(1, |n| n.get())
        .clamp(1, 8);
    let chunk = samples.len().div_ceil(threads).max(1);
    std::thread::scope(|scope| {
        let handles: Vec<_> = samples
            .chunks(chunk)
            .map(|part| scope.spawn(move || part.iter().map(one).collect::<Vec<f64>>()))
            .collect();
        handles
            .into_iter()
            .flat_map(|h| h.join().unwrap_or_default())
            .collect()
    })
}
