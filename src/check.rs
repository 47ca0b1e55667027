//! `citytwin check` as a library function: load a scene and all its data without a
//! window and list every problem. The CLI prints the report; tests read it.

use crate::city::import::Severity;
use crate::feeds::FeedSpec;
use crate::scene::Scene;
use std::time::{Duration, Instant};

/// What `check` found. `Display` gives the text the CLI prints.
#[derive(Debug, Clone, Default)]
pub struct CheckReport {
    /// The report's lines up to the problems (scene, layers, models, views, feeds).
    pub lines: Vec<String>,
    /// Every problem, errors and warnings, as `file: where: what`.
    pub problems: Vec<String>,
    pub errors: usize,
    pub warnings: usize,
    /// Buildings, roads, districts, grids, pois, land areas loaded.
    pub counts: [usize; 6],
    pub elapsed: Duration,
}

impl CheckReport {
    pub fn ok(&self) -> bool {
        self.errors == 0
    }
}

impl std::fmt::Display for CheckReport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        for l in &self.lines {
            writeln!(f, "{l}")?;
        }
        if !self.problems.is_empty() {
            writeln!(f, "problems")?;
            for p in &self.problems {
                writeln!(f, "  {p}")?;
            }
        }
        let [b, r, d, g, p, l] = self.counts;
        write!(
            f,
            "summary  {b} buildings, {r} roads, {d} districts, {g} grids, {p} pois, {l} land; {} errors, {} warnings; checked in {:.2?}",
            self.errors, self.warnings, self.elapsed
        )
    }
}

/// Loads everything the scene names and reports on it. Never panics on bad data: a
/// loader that panics is reported as an error of its own.
pub fn check(scene: &Scene) -> CheckReport {
    let started = Instant::now();
    let f = &scene.file;
    let mut r = CheckReport::default();
    let mut line = |text: String| r.lines.push(text);
    line(format!("scene    {} — {}", scene.path.display(), f.name));
    line(format!(
        "origin   {}   language {}",
        f.origin,
        String::from(f.language)
    ));
    let city = match std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        crate::city::load_city(scene)
    })) {
        Ok(city) => Some(city),
        Err(panic) => {
            r.problems.push(format!(
                "{}: the city loader failed: {}",
                scene.path.display(),
                crate::panic_text(&panic)
            ));
            r.errors += 1;
            None
        }
    };
    let mut line = |text: String| r.lines.push(text);
    line("layers".into());
    if let Some(city) = &city {
        for l in &city.data.layers {
            let bbox = l.bbox.map_or("-".to_string(), |(lo, hi)| {
                format!("{:.5},{:.5} … {:.5},{:.5}", lo.lon, lo.lat, hi.lon, hi.lat)
            });
            let declared = l
                .declared_crs
                .as_ref()
                .map(|d| format!(" (file declares {d})"))
                .unwrap_or_default();
            let over_extent = l
                .read
                .map(|r| {
                    format!(
                        " (over the extent, of {} in the file; {:.1} of {:.1} MB read)",
                        r.in_file,
                        r.bytes_read as f64 / 1e6,
                        r.file_bytes as f64 / 1e6
                    )
                })
                .unwrap_or_default();
            line(format!(
                "  {:<9} {}  {}{declared}  {} features{over_extent}, {} loaded, {} skipped  bbox {bbox}",
                l.kind.label(),
                l.path.display(),
                l.crs,
                l.features,
                l.loaded,
                l.skipped()
            ));
        }
    }
    line("models".into());
    for m in &f.models {
        let path = scene.resolve(&m.path);
        match crate::city::models::validate(&path) {
            Ok(info) => line(format!(
                "  {}  {}  {} meshes, {} triangles at {}",
                m.name,
                path.display(),
                info.meshes,
                info.triangles,
                m.position
            )),
            Err(_) => line(format!(
                "  {}  {}  INVALID (see problems)",
                m.name,
                path.display()
            )),
        }
    }
    let views: Vec<_> = f.views.iter().map(|v| v.name.as_str()).collect();
    line(format!("views    {}", views.join(", ")));
    let mut feed_errors = Vec::new();
    line("feeds".into());
    let base = scene.base_dir();
    let creds = crate::scene_credentials(scene);
    if let Err(e) = &creds {
        feed_errors.push(e.to_string());
    }
    for text in &f.feeds {
        let shown = crate::feeds::redact(text);
        let parsed = FeedSpec::parse(text, &base);
        if let Ok(spec) = &parsed {
            for w in spec.warnings() {
                line(format!("  warning: {w}"));
            }
        }
        match parsed {
            Ok(FeedSpec::Replay { paths, .. }) => {
                let counts: Result<Vec<usize>, String> = paths
                    .iter()
                    .map(|path| {
                        count_messages(path)
                            .map_err(|e| format!("{}: cannot read recording: {e}", path.display()))
                    })
                    .collect();
                match counts {
                    Ok(counts) => line(format!(
                        "  {shown}  {} messages",
                        counts.iter().sum::<usize>()
                    )),
                    Err(e) => feed_errors.push(e),
                }
            }
            // A live source is only known to work once connected; the wall shows it.
            Ok(FeedSpec::Mqtt(m)) => {
                line(format!(
                    "  {shown}  (MQTT {}:{}, not contacted)",
                    m.host, m.port
                ));
            }
            Ok(FeedSpec::Http(h)) => {
                line(format!("  {shown}  (HTTP {}, not contacted)", h.shown()));
            }
            Err(e) => feed_errors.push(e.to_string()),
        }
    }
    if let Some(city) = &city {
        r.errors += city.data.errors().count();
        r.warnings += city
            .data
            .problems
            .iter()
            .filter(|p| p.severity == Severity::Warning)
            .count();
        r.problems
            .extend(city.data.problems.iter().map(|p| p.to_string()));
        let d = &city.data;
        r.counts = [
            d.buildings.len(),
            d.roads.len(),
            d.districts.len(),
            d.grids.len(),
            d.pois.len(),
            d.land.len(),
        ];
    }
    if let Some(city) = &city {
        let lacking = missing_glyphs(&city.data);
        r.warnings += lacking.len();
        r.problems.extend(lacking);
    }
    r.errors += feed_errors.len();
    r.problems.extend(feed_errors);
    if let Some(city) = &city
        && !f.projects.is_empty()
    {
        r.lines.push("projects".into());
        match crate::geo::LocalFrame::new(f.origin) {
            Ok(frame) => {
                for spec in &f.projects {
                    check_project(scene, spec, &city.data, &frame, &mut r);
                }
            }
            Err(e) => {
                r.errors += 1;
                r.problems.push(format!("{}: {e}", scene.path.display()));
            }
        }
    }
    r.elapsed = started.elapsed();
    r
}

/// Names in the layers with characters the wall's fonts cannot draw (they would show
/// as boxes): one warning a character and layer kind, with how many names hold it and
/// the first of them.
fn missing_glyphs(data: &crate::city::import::CityData) -> Vec<String> {
    use crate::scene::LayerKind::{self, *};
    use std::collections::BTreeMap;
    type Named<'a> = Vec<(LayerKind, &'a str, &'a str)>;
    fn push<'a>(names: &mut Named<'a>, kind: LayerKind, id: &'a str, name: &'a Option<String>) {
        if let Some(name) = name {
            names.push((kind, id, name));
        }
    }
    let mut names = Named::new();
    let mut add = |kind, id, name| push(&mut names, kind, id, name);
    // Written out per layer: the collections have different feature types.
    for x in &data.buildings {
        add(Buildings, &x.id, &x.name);
    }
    for x in &data.roads {
        add(Roads, &x.id, &x.name);
    }
    for (kind, areas) in [
        (Districts, &data.districts),
        (Subdistricts, &data.subdistricts),
        (Grids, &data.grids),
    ] {
        for x in areas {
            add(kind, &x.id, &x.name);
        }
    }
    for x in &data.pois {
        add(Pois, &x.id, &x.name);
    }
    // (kind, character) → (names holding it, the first feature's id and name).
    let mut found: BTreeMap<(LayerKind, char), (usize, &str, &str)> = BTreeMap::new();
    for (kind, id, name) in names {
        for c in crate::ui::missing_glyphs(name) {
            found.entry((kind, c)).or_insert((0, id, name)).0 += 1;
        }
    }
    found
        .into_iter()
        .map(|((kind, c), (count, id, name))| {
            let files: Vec<String> = data
                .layers
                .iter()
                .filter(|l| l.kind == kind)
                .map(|l| l.path.display().to_string())
                .collect();
            format!(
                "{}: '{c}' (U+{:04X}) in {count} {} name(s), first feature {id} '{name}', is in none of the wall's fonts: it shows as a box",
                files.join(", "),
                c as u32,
                kind.label()
            )
        })
        .collect()
}

/// A renovation project's files read as `citytwin plan` reads them.
fn check_project(
    scene: &Scene,
    spec: &crate::plan::project::Project,
    data: &crate::city::import::CityData,
    frame: &crate::geo::LocalFrame,
    r: &mut CheckReport,
) {
    match crate::plan::project::load(scene, spec, data, frame) {
        Ok(p) => {
            let models: usize = p.scenarios.iter().map(|s| s.models.len()).sum();
            r.lines.push(format!(
                "  {}  {}  {} scenarios, {} buildings on the site today, {} elements",
                spec.id,
                spec.name,
                p.scenarios.len(),
                p.existing.buildings.len(),
                models
            ));
            for problem in &p.problems {
                match problem.severity {
                    Severity::Error => r.errors += 1,
                    Severity::Warning => r.warnings += 1,
                }
                r.problems.push(format!("project {}: {problem}", spec.id));
            }
        }
        Err(e) => {
            r.lines.push(format!(
                "  {}  {}  UNREADABLE (see problems)",
                spec.id, spec.name
            ));
            r.errors += 1;
            r.problems.push(format!("project {}: {e}", spec.id));
        }
    }
}

/// The messages in a recording (lines that are neither blank nor `#` comments), read
/// a line at a time; a device or FIFO is refused.
fn count_messages(path: &std::path::Path) -> Result<usize, String> {
    use std::io::{BufRead, Read};
    let meta = std::fs::metadata(path).map_err(|e| e.to_string())?;
    if !meta.is_file() {
        return Err("not a regular file".into());
    }
    let file = std::fs::File::open(path).map_err(|e| e.to_string())?;
    let mut reader = std::io::BufReader::new(file);
    let mut line = Vec::new();
    let mut n = 0;
    loop {
        line.clear();
        let read = (&mut reader)
            .take(crate::feeds::replay::MAX_LINE_BYTES as u64 + 1)
            .read_until(b'\n', &mut line)
            .map_err(|e| e.to_string())?;
        if read == 0 {
            return Ok(n);
        }
        let text = String::from_utf8_lossy(&line);
        if !text.trim().is_empty() && !text.starts_with('#') {
            n += 1;
        }
        // The rest of an over-long line is counted as its own "line"; no matter here.
    }
}
