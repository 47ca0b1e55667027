//! `citytwin plan` without a window: a project's review printed, written as a report,
//! and notes pinned from the command line.

use super::notes::{self, Note};
use super::project::{self, LoadedProject};
use super::review::{self, Review, SunSettings};
use crate::city::import::{CityData, Severity};
use crate::geo::{LocalFrame, LonLat};
use crate::scene::Scene;
use std::fmt::Write as _;
use std::path::PathBuf;

/// What `plan` was asked to do.
#[derive(Debug, Clone, Default)]
pub struct PlanOptions {
    /// Project id (default: the scene's first).
    pub project: Option<String>,
    pub sun: SunSettings,
    /// Write the HTML report into this folder.
    pub report: Option<PathBuf>,
    /// Write the metrics CSV here.
    pub csv: Option<PathBuf>,
    /// A note to pin before anything else.
    pub note: Option<Note>,
    /// Put shots of the 3D view of today and of every proposal in the report, taken
    /// by this program's `shot` (under `xvfb-run` when there is no display).
    pub shots: bool,
}

/// The scene's layers read (no meshes): what a project's existing state comes from.
pub fn city_data(scene: &Scene) -> Result<(CityData, LocalFrame), String> {
    let frame = LocalFrame::new(scene.file.origin).map_err(|e| e.to_string())?;
    Ok((crate::city::read_layers(scene, &frame), frame))
}

/// Loads the chosen project of `scene`.
pub fn load_project(
    scene: &Scene,
    id: Option<&str>,
) -> Result<(LoadedProject, LocalFrame), String> {
    let spec = match id {
        Some(id) => scene
            .file
            .projects
            .iter()
            .find(|p| p.id == id)
            .ok_or_else(|| {
                format!(
                    "{}: no project '{id}' (projects: {})",
                    scene.path.display(),
                    scene
                        .file
                        .projects
                        .iter()
                        .map(|p| p.id.as_str())
                        .collect::<Vec<_>>()
                        .join(", ")
                )
            })?,
        None => scene
            .file
            .projects
            .first()
            .ok_or_else(|| format!("{}: the scene has no projects", scene.path.display()))?,
    };
    let (city, frame) = city_data(scene)?;
    let loaded = project::load(scene, spec, &city, &frame)?;
    Ok((loaded, frame))
}

/// Runs `plan` headless; returns what to print.
pub fn run(scene: &Scene, options: &PlanOptions) -> Result<String, String> {
    let (project, frame) = load_project(scene, options.project.as_deref())?;
    let mut out = String::new();
    for p in &project.problems {
        let _ = writeln!(out, "{p}");
    }
    if project
        .problems
        .iter()
        .any(|p| p.severity == Severity::Error)
    {
        return Err(format!(
            "{out}project '{}': its files have errors (above)",
            project.spec.id
        ));
    }
    if let Some(note) = &options.note {
        let n = notes::add(&project.notes_path, note.clone())?;
        let _ = writeln!(
            out,
            "note pinned at {} ({n} notes in {})",
            note.at,
            project.notes_path.display()
        );
    }
    let review = review::review(&project, &frame, options.sun)?;
    out.push_str(&summary(&project, &review));
    if let Some(path) = &options.csv {
        let rows: Vec<_> = review
            .all()
            .map(|r| (r.name.clone(), r.metrics.clone()))
            .collect();
        std::fs::write(path, super::metrics::to_csv(&rows))
            .map_err(|e| format!("{}: {e}", path.display()))?;
        let _ = writeln!(out, "metrics written to {}", path.display());
    }
    if let Some(dir) = &options.report {
        let notes = notes::load(&project.notes_path)?;
        let shots = if options.shots {
            take_shots(scene, &project, dir, &mut out)
        } else {
            Vec::new()
        };
        let written = super::report::write(dir, &project, &review, &notes, &shots)?;
        let _ = writeln!(
            out,
            "report written to {} ({} maps, metrics.csv)",
            written.html.display(),
            written.images.len()
        );
    }
    Ok(out)
}

/// Shots of the planner's view of today and of each proposal into `dir`: `citytwin
/// shot` run once a scenario, each in a window of its own (a virtual one under
/// `xvfb-run` when no display is set). A shot that fails is said and left out.
fn take_shots(
    scene: &Scene,
    project: &LoadedProject,
    dir: &std::path::Path,
    out: &mut String,
) -> Vec<(String, PathBuf)> {
    let Ok(exe) = std::env::current_exe() else {
        out.push_str("shots: cannot find this program's path; report without shots\n");
        return Vec::new();
    };
    if let Err(e) = std::fs::create_dir_all(dir) {
        let _ = writeln!(out, "shots: {}: {e}", dir.display());
        return Vec::new();
    }
    let names = project.all().map(|s| s.name.clone());
    let mut shots = Vec::new();
    for (k, name) in names.enumerate() {
        let png = dir.join(format!("view-{k}.png"));
        let mut cmd = if std::env::var_os("DISPLAY").is_some() {
            std::process::Command::new(&exe)
        } else {
            let mut c = std::process::Command::new("xvfb-run");
            c.args(["-a", "-s", "-screen 0 1920x1080x24"]).arg(&exe);
            c
        };
        cmd.args(["shot", "--size", "1600x900", "--scene"])
            .arg(&scene.path)
            .args(["--project", &project.spec.id, "--scenario", &k.to_string()])
            .arg("--out")
            .arg(&png);
        match cmd.output() {
            Ok(o) if o.status.success() && png.is_file() => shots.push((name, png)),
            Ok(o) => {
                let _ = writeln!(
                    out,
                    "shots: the view of {name} failed ({}); left out",
                    o.status
                );
            }
            Err(e) => {
                let _ = writeln!(out, "shots: cannot run a shot ({e}); left out");
            }
        }
    }
    shots
}

/// The review as text: metrics, checklist and sunlight, a column a scenario.
pub fn summary(project: &LoadedProject, review: &Review) -> String {
    let mut o = String::new();
    let spec = &project.spec;
    let _ = writeln!(
        o,
        "{} {}{}",
        spec.id,
        spec.name,
        if spec.synthetic { " (SYNTHETIC)" } else { "" }
    );
    let all: Vec<_> = review.all().collect();
    let day = review.settings.day;
    for r in &all {
        let m = &r.metrics;
        let s = r.sun.summary(day);
        let _ = writeln!(o, "\n[{}]", r.name);
        let _ = writeln!(
            o,
            "  site {} m², footprint {} m², coverage {:.1} %, floor area {} m², FAR {:.2}, \
             green {} m² ({:.1} %), parking {}, households {}",
            review::grouped(m.site_m2),
            review::grouped(m.footprint_m2),
            m.coverage * 100.0,
            review::grouped(m.floor_area_m2),
            m.far,
            review::grouped(m.green_m2),
            m.green_ratio * 100.0,
            m.parking_spaces,
            m.households
        );
        let coverage: Vec<String> = project::COVERAGE_KINDS
            .iter()
            .map(|k| {
                format!(
                    "{k} {:.1} %",
                    m.coverage_by_kind.get(*k).copied().unwrap_or(0.0) * 100.0
                )
            })
            .collect();
        let _ = writeln!(o, "  within 300 m: {}", coverage.join(", "));
        let covered: Vec<String> = r
            .checklist
            .iter()
            .filter(|i| i.covered)
            .map(|i| format!("{} ({})", i.zh, i.measure))
            .collect();
        let _ = writeln!(
            o,
            "  一拆五改三增加: {}/{}{}{}",
            covered.len(),
            r.checklist.len(),
            if covered.is_empty() { "" } else { ": " },
            covered.join("; ")
        );
        let _ = writeln!(
            o,
            "  sunlight ({} {}): {} windows, {} below the standard, {} pushed below, {} \
             worsened, {} of those only by added elevators, {} new below 1 h; {} with \
             less sun than today, {} shaded by added elevators",
            day.label(),
            review.date,
            s.windows,
            s.below,
            s.pushed_below,
            s.worsened,
            s.elevator_only.values().sum::<usize>(),
            s.new_below,
            s.less_sun,
            s.shaded_by_elevators
        );
    }
    o
}

/// A note from the command line, timed now.
pub fn note_now(at: LonLat, text: &str, author: &str, scenario: Option<String>) -> Note {
    Note {
        at,
        text: text.to_owned(),
        author: author.to_owned(),
        time: chrono::Utc::now(),
        scenario,
    }
}
