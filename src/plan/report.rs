//! The review report: one HTML page readable offline (no script, no web font, images
//! beside it), with the metrics table, the checklist, the sunlight figures and maps of
//! today and of every scenario, and the notes; the metrics as CSV too.
//!
//! The maps are site plans drawn here with `vello_cpu` (the 2D rasteriser egui already
//! builds): the ground coloured by hours of sun, buildings, new and removed buildings,
//! green, parking, paths, works, facilities, elements, and every window-sill point
//! coloured by the standard; and a shadow diagram of each, the ground shadow at every
//! whole hour of the standard day outlined.

use super::notes::Note;
use super::project::{LoadedProject, ModelRole, Standing, Work};
use super::review::{Review, ScenarioReview, required};
use geo::{BoundingRect, MultiPolygon};
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use vello_cpu::color::AlphaColor;
use vello_cpu::color::Srgb;
use vello_cpu::kurbo::{BezPath, Circle, Shape, Stroke};
use vello_cpu::{Pixmap, RenderContext, Resources};

/// Width of a map, pixels.
pub const MAP_WIDTH: u16 = 1000;
/// Metres of surroundings drawn around the site.
const MARGIN_M: f64 = 30.0;

type Color = AlphaColor<Srgb>;

fn rgb(r: u8, g: u8, b: u8) -> Color {
    Color::from_rgba8(r, g, b, 255)
}

fn rgba(r: u8, g: u8, b: u8, a: u8) -> Color {
    Color::from_rgba8(r, g, b, a)
}

/// Hours of sun as a colour: deep blue (none) through violet and orange to pale yellow
/// (the whole window).
pub fn hours_color(hours: f64, window_hours: f64) -> Color {
    const STOPS: [(f64, [u8; 3]); 5] = [
        (0.0, [24, 32, 88]),
        (0.25, [92, 60, 150]),
        (0.5, [196, 82, 112]),
        (0.75, [242, 150, 60]),
        (1.0, [252, 236, 160]),
    ];
    let t = (hours / window_hours.max(1e-9)).clamp(0.0, 1.0);
    for pair in STOPS.windows(2) {
        let ((t0, a), (t1, b)) = (pair[0], pair[1]);
        if t <= t1 {
            let f = (t - t0) / (t1 - t0);
            let mix = |i: usize| (f64::from(a[i]) + (f64::from(b[i]) - f64::from(a[i])) * f) as u8;
            return rgb(mix(0), mix(1), mix(2));
        }
    }
    rgb(252, 236, 160)
}

/// Maps local metres to map pixels (north up).
struct View {
    west: f64,
    north: f64,
    scale: f64,
    height: u16,
}

impl View {
    fn new(project: &LoadedProject) -> Self {
        let r = project
            .site
            .bounding_rect()
            .unwrap_or(geo::Rect::new((0.0, 0.0), (1.0, 1.0)));
        let (w, h) = (r.width() + 2.0 * MARGIN_M, r.height() + 2.0 * MARGIN_M);
        let scale = f64::from(MAP_WIDTH) / w;
        Self {
            west: r.min().x - MARGIN_M,
            north: r.max().y + MARGIN_M,
            scale,
            height: (h * scale).ceil().clamp(64.0, 4096.0) as u16,
        }
    }

    fn px(&self, x: f64, y: f64) -> (f64, f64) {
        ((x - self.west) * self.scale, (self.north - y) * self.scale)
    }

    fn polygon_path(&self, shape: &MultiPolygon<f64>) -> BezPath {
        let mut path = BezPath::new();
        for polygon in &shape.0 {
            for ring in std::iter::once(polygon.exterior()).chain(polygon.interiors()) {
                for (i, c) in ring.0.iter().enumerate() {
                    let p = self.px(c.x, c.y);
                    if i == 0 {
                        path.move_to(p);
                    } else {
                        path.line_to(p);
                    }
                }
                path.close_path();
            }
        }
        path
    }

    fn line_path(&self, line: &geo::LineString<f64>) -> BezPath {
        let mut path = BezPath::new();
        for (i, c) in line.0.iter().enumerate() {
            let p = self.px(c.x, c.y);
            if i == 0 {
                path.move_to(p);
            } else {
                path.line_to(p);
            }
        }
        path
    }
}

fn fill(ctx: &mut RenderContext, path: &BezPath, color: Color) {
    ctx.set_paint(color);
    ctx.fill_path(path);
}

fn stroke(ctx: &mut RenderContext, path: &BezPath, color: Color, width: f64) {
    ctx.set_paint(color);
    ctx.set_stroke(Stroke::new(width));
    ctx.stroke_path(path);
}

fn work_color(w: Work) -> Color {
    let [r, g, b] = w.rgb();
    rgb(r, g, b)
}

/// The site plan of one scenario with its sunlight, as PNG bytes.
pub fn sun_map(
    project: &LoadedProject,
    standing: &Standing,
    review: &ScenarioReview,
    day: super::sun::StandardDay,
    ground_spacing_m: f64,
) -> Result<Vec<u8>, String> {
    let view = View::new(project);
    let mut ctx = blank(&view);
    let (start, end) = day.window();
    let window_hours = end - start;
    // The ground: one cell a sample, a hair wider so cells meet without seams.
    let half = ground_spacing_m / 2.0 * 1.04;
    for (sample, hours) in &review.sun.ground {
        let (x0, y0) = view.px(sample.at[0] - half, sample.at[1] + half);
        let (x1, y1) = view.px(sample.at[0] + half, sample.at[1] - half);
        fill(
            &mut ctx,
            &vello_cpu::kurbo::Rect::new(x0, y0, x1, y1).to_path(0.1),
            hours_color(*hours, window_hours),
        );
    }
    site_plan(&mut ctx, &view, project, standing);
    // Windows: the standard met (green), missed only because of an added elevator
    // (violet), missed (red); the worst drawn last.
    let mut dots: Vec<(u8, f64, f64)> = review
        .sun
        .windows
        .iter()
        .map(|win| {
            let req = required(win, day);
            let rank = if win.after + 1e-9 >= req {
                0
            } else if win.without_elevators.is_some_and(|f| f + 1e-9 >= req) {
                1
            } else {
                2
            };
            let (x, y) = view.px(win.sample.at[0], win.sample.at[1]);
            (rank, x, y)
        })
        .collect();
    dots.sort_by_key(|d| d.0);
    for (rank, x, y) in dots {
        let color = match rank {
            0 => rgb(40, 170, 70),
            1 => rgb(150, 60, 220),
            _ => rgb(220, 30, 30),
        };
        fill(&mut ctx, &Circle::new((x, y), 1.8).to_path(0.1), color);
    }
    for f in &standing.facilities {
        let (x, y) = view.px(f.at.east_m, f.at.north_m);
        let c = Circle::new((x, y), 6.0).to_path(0.1);
        fill(&mut ctx, &c, rgb(255, 255, 255));
        stroke(
            &mut ctx,
            &c,
            if f.added {
                rgb(226, 132, 52)
            } else {
                rgb(60, 60, 60)
            },
            3.0,
        );
    }
    png_of(ctx, &view)
}

/// What every site plan shows over its ground: green, parking, paths, works, the
/// buildings around and on the site (new ones orange, demolished ones outlined red),
/// illegal structures, the models and the site's boundary.
fn site_plan(ctx: &mut RenderContext, view: &View, project: &LoadedProject, standing: &Standing) {
    for g in &standing.green {
        fill(ctx, &view.polygon_path(g), rgba(60, 170, 80, 110));
    }
    for g in &standing.green_added {
        stroke(ctx, &view.polygon_path(g), rgb(30, 140, 60), 2.0);
    }
    for (p, _) in &standing.parking {
        let path = view.polygon_path(p);
        fill(ctx, &path, rgba(90, 110, 160, 150));
        stroke(ctx, &path, rgb(60, 70, 120), 1.5);
    }
    for line in &standing.paths {
        stroke(ctx, &view.line_path(line), rgba(250, 250, 250, 220), 2.5);
    }
    for (work, line) in &standing.works {
        stroke(ctx, &view.line_path(line), work_color(*work), 2.0);
    }
    for b in &project.context {
        fill(ctx, &view.polygon_path(&b.footprint), rgb(170, 170, 168));
    }
    for b in &standing.buildings {
        let path = view.polygon_path(&b.footprint);
        let color = if b.new {
            rgb(226, 132, 52)
        } else {
            rgb(120, 124, 132)
        };
        fill(ctx, &path, color);
        stroke(ctx, &path, rgb(40, 40, 44), 1.0);
    }
    for b in &standing.removed {
        stroke(ctx, &view.polygon_path(&b.footprint), rgb(210, 30, 30), 2.5);
    }
    for shape in &standing.illegal {
        stroke(ctx, &view.polygon_path(shape), rgb(210, 30, 30), 2.0);
    }
    for m in &standing.models {
        let color = match m.role {
            ModelRole::Elevator => rgb(120, 40, 200),
            ModelRole::Facility(_) => rgb(226, 132, 52),
            ModelRole::Structure => rgb(110, 90, 70),
        };
        for t in &m.triangles {
            let mut path = BezPath::new();
            path.move_to(view.px(t[0][0], t[0][1]));
            path.line_to(view.px(t[1][0], t[1][1]));
            path.line_to(view.px(t[2][0], t[2][1]));
            path.close_path();
            fill(ctx, &path, color);
        }
    }
    stroke(ctx, &view.polygon_path(&project.site), rgb(20, 20, 20), 2.5);
}

/// A plan's canvas, filled with the paper colour.
fn blank(view: &View) -> RenderContext {
    let mut ctx = RenderContext::new(MAP_WIDTH, view.height);
    let (w, h) = (f64::from(MAP_WIDTH), f64::from(view.height));
    fill(
        &mut ctx,
        &vello_cpu::kurbo::Rect::new(0.0, 0.0, w, h).to_path(0.1),
        rgb(236, 236, 230),
    );
    ctx
}

/// The whole hours of the standard day's window (8 to 16 on 大寒日): the shadow
/// diagram's outlines.
fn whole_hours(day: super::sun::StandardDay) -> std::ops::RangeInclusive<i64> {
    let (start, end) = day.window();
    start.ceil() as i64..=end.floor() as i64
}

/// The colour of an hour's shadow outline: morning blue through to afternoon red.
pub fn hour_color(share_of_day: f64) -> Color {
    let t = share_of_day.clamp(0.0, 1.0);
    let mix = |a: f64, b: f64| (a + (b - a) * t).round() as u8;
    rgb(mix(40.0, 220.0), mix(90.0, 50.0), mix(220.0, 40.0))
}

/// The hour-by-hour shadow diagram (阴影图) of one scenario: the ground shadow at each
/// whole hour of the standard day's window, lightly filled so that ground shaded at
/// several hours is darker, each hour outlined in its colour ([`hour_color`]).
pub fn shadow_map(
    project: &LoadedProject,
    standing: &Standing,
    path: &[super::sun::SunStep],
    day: super::sun::StandardDay,
) -> Result<Vec<u8>, String> {
    let view = View::new(project);
    let mut ctx = blank(&view);
    let (start, end) = day.window();
    let mut outlines = Vec::new();
    for h in whole_hours(day).map(|h| h as f64) {
        let Some(sun) = super::shadow::step_at(path, h) else {
            continue;
        };
        let Some(shadow) = super::shadow::of_scenario(project, standing, sun) else {
            continue;
        };
        let outline = view.polygon_path(&shadow);
        fill(&mut ctx, &outline, rgba(40, 50, 90, 45));
        outlines.push((h, outline));
    }
    for (h, outline) in &outlines {
        stroke(
            &mut ctx,
            outline,
            hour_color((h - start) / (end - start)),
            2.0,
        );
    }
    site_plan(&mut ctx, &view, project, standing);
    png_of(ctx, &view)
}

/// The plan rendered and encoded.
fn png_of(mut ctx: RenderContext, view: &View) -> Result<Vec<u8>, String> {
    ctx.flush();
    let mut pixmap = Pixmap::new(MAP_WIDTH, view.height);
    ctx.render(&mut pixmap, &mut Resources::new());
    // The background is opaque, so the premultiplied pixels are the plain ones.
    let image = image::RgbaImage::from_raw(
        u32::from(MAP_WIDTH),
        u32::from(view.height),
        pixmap.data_as_u8_slice().to_vec(),
    )
    .ok_or("the map's pixels do not fill the image")?;
    let mut png = Vec::new();
    image
        .write_to(&mut std::io::Cursor::new(&mut png), image::ImageFormat::Png)
        .map_err(|e| e.to_string())?;
    Ok(png)
}

/// Text for HTML: `<`, `>`, `&` and quotes escaped.
pub fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for ch in s.chars() {
        match ch {
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '&' => out.push_str("&amp;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// What the report wrote.
#[derive(Debug, Clone)]
pub struct Written {
    pub html: PathBuf,
    pub csv: PathBuf,
    pub images: Vec<PathBuf>,
}

/// Writes the report for `project` into `dir`: `index.html`, `metrics.csv` and one
/// sunlight map a scenario (today first).
pub fn write(
    dir: &Path,
    project: &LoadedProject,
    review: &Review,
    notes: &[Note],
    shots: &[(String, PathBuf)],
) -> Result<Written, String> {
    std::fs::create_dir_all(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    let put = |name: &str, bytes: &[u8]| -> Result<PathBuf, String> {
        let path = dir.join(name);
        std::fs::write(&path, bytes).map_err(|e| format!("{}: {e}", path.display()))?;
        Ok(path)
    };
    let all: Vec<(&Standing, &ScenarioReview)> = project.all().zip(review.all()).collect();
    let mut images = Vec::new();
    for (i, (standing, r)) in all.iter().enumerate() {
        let png = sun_map(
            project,
            standing,
            r,
            review.settings.day,
            review.settings.ground_spacing_m,
        )?;
        images.push(put(&format!("sun-{i}.png"), &png)?);
        let png = shadow_map(project, standing, &review.path, review.settings.day)?;
        images.push(put(&format!("shadows-{i}.png"), &png)?);
    }
    let rows: Vec<(String, super::metrics::Metrics)> = all
        .iter()
        .map(|(_, r)| (r.name.clone(), r.metrics.clone()))
        .collect();
    let csv = put("metrics.csv", super::metrics::to_csv(&rows).as_bytes())?;
    let html = put(
        "index.html",
        html(project, review, &all, notes, shots).as_bytes(),
    )?;
    Ok(Written { html, csv, images })
}

fn html(
    project: &LoadedProject,
    review: &Review,
    all: &[(&Standing, &ScenarioReview)],
    notes: &[Note],
    shots: &[(String, PathBuf)],
) -> String {
    let spec = &project.spec;
    let mut o = String::new();
    let day = review.settings.day;
    let _ = writeln!(
        o,
        "<!DOCTYPE html>\n<html lang=\"zh-CN\"><head><meta charset=\"utf-8\">\
         <title>{name} · 评审报告 review</title>\n<style>\
         body{{font-family:sans-serif;margin:2em;color:#222;background:#fafaf7}}\
         table{{border-collapse:collapse;margin:1em 0}}td,th{{border:1px solid #bbb;padding:4px 8px;text-align:right}}\
         th{{background:#e8e8e0}}td:first-child,th:first-child{{text-align:left}}\
         .yes{{color:#176a2c;font-weight:bold}}.no{{color:#999}}.synthetic{{background:#c22;color:#fff;padding:2px 8px}}\
         figure{{display:inline-block;margin:0 1em 1em 0;vertical-align:top}}img{{max-width:48vw;border:1px solid #999}}\
         .legend span{{display:inline-block;width:1em;height:1em;margin:0 .3em 0 1em;vertical-align:middle}}\
         </style></head><body>\n<h1>{name}</h1>\n<p>项目 Project <b>{id}</b> · {kind} · \
         {n} 个方案 scenarios · 生成 generated {now}</p>",
        name = escape(&spec.name),
        id = escape(&spec.id),
        kind = match spec.kind {
            super::project::ProjectKind::Community => "老旧小区改造 old community",
            super::project::ProjectKind::Road => "道路改造 road",
        },
        n = project.scenarios.len(),
        now = chrono::Utc::now().format("%Y-%m-%d %H:%M UTC"),
    );
    if spec.synthetic {
        o.push_str(
            "<p><span class=\"synthetic\">合成数据 SYNTHETIC</span> 演示方案，非真实规划 \
             — an invented demo proposal, not a real plan.</p>\n",
        );
    }
    // Metrics.
    o.push_str("<h2>指标 Metrics</h2>\n<table><tr><th></th>");
    for (_, r) in all {
        let _ = write!(o, "<th>{}</th>", escape(&r.name));
    }
    o.push_str("</tr>\n");
    let row = |o: &mut String, label: &str, f: &dyn Fn(&super::metrics::Metrics) -> String| {
        let _ = write!(o, "<tr><td>{label}</td>");
        for (_, r) in all {
            let _ = write!(o, "<td>{}</td>", escape(&f(&r.metrics)));
        }
        o.push_str("</tr>\n");
    };
    use super::review::grouped;
    row(&mut o, "用地面积 site area (m²)", &|m| {
        grouped(m.site_m2)
    });
    row(&mut o, "建筑基底 footprint (m²)", &|m| {
        grouped(m.footprint_m2)
    });
    row(&mut o, "建筑密度 coverage", &|m| {
        format!("{:.1} %", m.coverage * 100.0)
    });
    row(&mut o, "建筑面积 floor area (m²)", &|m| {
        grouped(m.floor_area_m2)
    });
    row(&mut o, "容积率 FAR", &|m| format!("{:.2}", m.far));
    row(&mut o, "绿地面积 green (m²)", &|m| grouped(m.green_m2));
    row(&mut o, "绿地率 green ratio", &|m| {
        format!("{:.1} %", m.green_ratio * 100.0)
    });
    row(&mut o, "停车位 parking spaces", &|m| {
        m.parking_spaces.to_string()
    });
    row(&mut o, "户数 households", &|m| m.households.to_string());
    for kind in super::project::COVERAGE_KINDS {
        row(&mut o, &format!("{kind} 300 m 覆盖 coverage"), &|m| {
            m.coverage_by_kind
                .get(*kind)
                .map_or("0.0 %".into(), |c| format!("{:.1} %", c * 100.0))
        });
    }
    o.push_str("</table>\n<p><a href=\"metrics.csv\">metrics.csv</a></p>\n");
    // Checklist.
    o.push_str("<h2>一拆五改三增加 Checklist</h2>\n<table><tr><th></th>");
    for (_, r) in all.iter().skip(1) {
        let _ = write!(o, "<th>{}</th>", escape(&r.name));
    }
    o.push_str("</tr>\n");
    let items = all.first().map_or(0, |(_, r)| r.checklist.len());
    for i in 0..items {
        let first = &all[0].1.checklist[i];
        let _ = write!(o, "<tr><td>{} {}</td>", first.zh, first.en);
        for (_, r) in all.iter().skip(1) {
            let item = &r.checklist[i];
            if item.covered {
                let _ = write!(o, "<td class=\"yes\">✓ {}</td>", escape(&item.measure));
            } else {
                o.push_str("<td class=\"no\">—</td>");
            }
        }
        o.push_str("</tr>\n");
    }
    o.push_str("</table>\n");
    // Sunlight.
    let _ = writeln!(
        o,
        "<h2>日照 Sunlight (GB 50180)</h2>\n<p>{label} {date}, {from:02}:00–{to:02}:00 真太阳时 \
         true solar time, 1-minute steps; window sills 0.9 m above each floor, every {sp} m \
         along the façades the sun reaches. Standard: {need} h for existing housing, \
         {min} h for new housing in an old-district renovation.</p>",
        label = day.label(),
        date = review.date,
        from = day.window().0 as u32,
        to = day.window().1 as u32,
        sp = review.settings.window_spacing_m,
        need = day.required_hours(),
        min = super::sun::RENOVATION_MIN_HOURS,
    );
    o.push_str("<table><tr><th></th>");
    for (_, r) in all {
        let _ = write!(o, "<th>{}</th>", escape(&r.name));
    }
    o.push_str("</tr>\n");
    let summaries: Vec<_> = all.iter().map(|(_, r)| r.sun.summary(day)).collect();
    let srow = |o: &mut String, label: &str, f: &dyn Fn(&super::review::SunSummary) -> String| {
        let _ = write!(o, "<tr><td>{label}</td>");
        for s in &summaries {
            let _ = write!(o, "<td>{}</td>", f(s));
        }
        o.push_str("</tr>\n");
    };
    srow(&mut o, "窗台点 window points", &|s| {
        s.windows.to_string()
    });
    srow(&mut o, "不达标 below the standard", &|s| {
        s.below.to_string()
    });
    srow(&mut o, "由达标变为不达标 pushed below", &|s| {
        s.pushed_below.to_string()
    });
    srow(&mut o, "原不达标且变差 already below, worse", &|s| {
        s.worsened.to_string()
    });
    srow(
        &mut o,
        "其中仅因加装电梯 of which only by added elevators",
        &|s| s.elevator_only.values().sum::<usize>().to_string(),
    );
    srow(
        &mut o,
        "新建住宅不足 1 h new housing under 1 h",
        &|s| s.new_below.to_string(),
    );
    srow(&mut o, "日照减少 less sun than today", &|s| {
        s.less_sun.to_string()
    });
    srow(
        &mut o,
        "受加装电梯遮挡 shaded by added elevators",
        &|s| s.shaded_by_elevators.to_string(),
    );
    o.push_str("</table>\n");
    for (s, (_, r)) in summaries.iter().zip(all) {
        if s.elevator_only.is_empty() {
            continue;
        }
        let _ = writeln!(
            o,
            "<h3>{}: 仅因加装电梯不达标 worsened only by added elevators</h3>\n<table><tr><th>building</th><th>windows</th></tr>",
            escape(&r.name)
        );
        for (b, n) in &s.elevator_only {
            let _ = writeln!(o, "<tr><td>{}</td><td>{n}</td></tr>", escape(b));
        }
        o.push_str("</table>\n");
    }
    o.push_str(
        "<p class=\"legend\">Hours of sun on the ground: \
         <span style=\"background:#182058\"></span>0 \
         <span style=\"background:#c45270\"></span>half the window \
         <span style=\"background:#fcECA0\"></span>all of it · windows: \
         <span style=\"background:#28aa46\"></span>meet the standard \
         <span style=\"background:#963cdc\"></span>miss it only because of an added elevator \
         <span style=\"background:#dc1e1e\"></span>miss it · buildings: \
         <span style=\"background:#787c84\"></span>standing \
         <span style=\"background:#e28434\"></span>new \
         <span style=\"border:2px solid #d21e1e\"></span>demolished · \
         <span style=\"background:#7828c8\"></span>elevators</p>\n",
    );
    for (i, (_, r)) in all.iter().enumerate() {
        let _ = writeln!(
            o,
            "<figure><img src=\"sun-{i}.png\" alt=\"{name}\"><figcaption>{name}</figcaption></figure>",
            name = escape(&r.name)
        );
    }
    let (from, to) = review.settings.day.window();
    let _ = write!(
        o,
        "<h2>阴影 Shadows hour by hour</h2>\n<p>{label}: the ground shadow at each whole \
         hour from {from:02.0}:00 to {to:02.0}:00 true solar time, outlined from ",
        label = escape(review.settings.day.label()),
    );
    for h in whole_hours(review.settings.day) {
        let c = hour_color((h as f64 - from) / (to - from)).to_rgba8();
        let _ = write!(
            o,
            "<span style=\"border:2px solid #{:02x}{:02x}{:02x}\"></span>{h}:00 ",
            c.r, c.g, c.b
        );
    }
    o.push_str("; ground shaded at several hours is darker.</p>\n");
    for (i, (_, r)) in all.iter().enumerate() {
        let _ = writeln!(
            o,
            "<figure><img src=\"shadows-{i}.png\" alt=\"{name}\"><figcaption>{name}</figcaption></figure>",
            name = escape(&r.name)
        );
    }
    if !shots.is_empty() {
        o.push_str("<h2>视图 Views</h2>\n");
        for (caption, path) in shots {
            let file = path
                .file_name()
                .map(|f| f.to_string_lossy().into_owned())
                .unwrap_or_default();
            let _ = writeln!(
                o,
                "<figure><img src=\"{f}\" alt=\"{c}\"><figcaption>{c}</figcaption></figure>",
                f = escape(&file),
                c = escape(caption)
            );
        }
    }
    // Notes.
    let _ = writeln!(o, "<h2>批注 Notes ({})</h2>", notes.len());
    if notes.is_empty() {
        o.push_str("<p>None yet.</p>\n");
    } else {
        o.push_str("<table><tr><th>note</th><th>author</th><th>time</th><th>scenario</th><th>place</th></tr>\n");
        for n in notes {
            let _ = writeln!(
                o,
                "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{:.6}, {:.6}</td></tr>",
                escape(&n.text),
                escape(&n.author),
                n.time.format("%Y-%m-%d %H:%M UTC"),
                escape(n.scenario.as_deref().unwrap_or("")),
                n.at.lon,
                n.at.lat
            );
        }
        o.push_str("</table>\n");
    }
    o.push_str("</body></html>\n");
    o
}
