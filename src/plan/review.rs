//! A project's review: each scenario's metrics, its 一拆五改三增加 checklist and its
//! sunlight against today's, all computed from the loaded geometry.

use super::metrics::{self, Facility, Metrics, PlanBuilding, ScenarioGeometry};
use super::project::{COMMUNITY_KINDS, LoadedProject, ModelRole, SERVICE_KINDS, Standing, Work};
use super::sun::{self, Block, Obstacles, Sample, StandardDay, SunStep};
use crate::geo::{LocalFrame, LocalPoint};
use geo::{BoundingRect, Centroid, Coord};
use std::collections::BTreeMap;

/// How sunlight is measured.
#[derive(Debug, Clone, Copy)]
pub struct SunSettings {
    pub day: StandardDay,
    pub year: i32,
    /// Window-sill points along a façade at most this far apart (GB 50180 review: 1 m).
    pub window_spacing_m: f64,
    /// Ground points this far apart, for the map.
    pub ground_spacing_m: f64,
}

impl Default for SunSettings {
    fn default() -> Self {
        Self {
            day: StandardDay::MajorCold,
            year: 2027,
            window_spacing_m: 1.0,
            ground_spacing_m: 4.0,
        }
    }
}

/// One item of the scheme: covered or not, and what the proposal does for it.
#[derive(Debug, Clone, PartialEq)]
pub struct ChecklistItem {
    pub key: &'static str,
    pub zh: &'static str,
    pub en: &'static str,
    pub covered: bool,
    /// The measure, e.g. "1,240 m" or "3 facilities"; empty when not covered.
    pub measure: String,
}

/// A window-sill point's sunlight in one scenario.
#[derive(Debug, Clone, PartialEq)]
pub struct WindowSun {
    pub building: String,
    pub new: bool,
    pub sample: Sample,
    /// Hours today (None: the building is new).
    pub before: Option<f64>,
    pub after: f64,
    /// Hours with the scenario's added elevators taken away (None: it adds none).
    pub without_elevators: Option<f64>,
}

/// What the standard asks of a window, hours.
pub fn required(w: &WindowSun, day: StandardDay) -> f64 {
    if w.new {
        sun::RENOVATION_MIN_HOURS.min(day.required_hours())
    } else {
        day.required_hours()
    }
}

/// Sunlight of one scenario (or today).
#[derive(Debug, Clone, Default)]
pub struct SunReview {
    pub windows: Vec<WindowSun>,
    /// Ground points and their hours.
    pub ground: Vec<(Sample, f64)>,
}

/// How a scenario changes sunlight, by the standard's rules.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct SunSummary {
    pub windows: usize,
    /// Under the requirement in this scenario.
    pub below: usize,
    /// Met the standard today, not in the scenario.
    pub pushed_below: usize,
    /// Under the standard today and made worse.
    pub worsened: usize,
    /// Of those pushed below or worsened: fine without the added elevators, by
    /// building id (GB 50180 treats 加装电梯 apart).
    pub elevator_only: BTreeMap<String, usize>,
    /// New housing under the renovation minimum (1 h).
    pub new_below: usize,
    /// Windows with less sun than today (whether or not under the standard).
    pub less_sun: usize,
    /// Windows the added elevators take sun from.
    pub shaded_by_elevators: usize,
}

impl SunReview {
    pub fn summary(&self, day: StandardDay) -> SunSummary {
        let need = day.required_hours();
        let mut s = SunSummary {
            windows: self.windows.len(),
            ..SunSummary::default()
        };
        for w in &self.windows {
            let req = required(w, day);
            if w.after + 1e-9 < req {
                s.below += 1;
                if w.new {
                    s.new_below += 1;
                }
            }
            if w.without_elevators
                .is_some_and(|free| free > w.after + 1e-9)
            {
                s.shaded_by_elevators += 1;
            }
            let Some(before) = w.before else { continue };
            if w.after + 1e-9 < before {
                s.less_sun += 1;
            }
            let pushed = before + 1e-9 >= need && w.after + 1e-9 < need;
            let worsened = before + 1e-9 < need && w.after + 1e-9 < before;
            if pushed {
                s.pushed_below += 1;
            }
            if worsened {
                s.worsened += 1;
            }
            if (pushed || worsened)
                && let Some(free) = w.without_elevators
                && ((pushed && free + 1e-9 >= need) || (worsened && free + 1e-9 >= before))
            {
                *s.elevator_only.entry(w.building.clone()).or_insert(0) += 1;
            }
        }
        s
    }
}

/// One scenario's review.
#[derive(Debug, Clone)]
pub struct ScenarioReview {
    pub name: String,
    pub metrics: Metrics,
    pub checklist: Vec<ChecklistItem>,
    pub sun: SunReview,
}

/// The whole project's review: today first, then each scenario.
#[derive(Debug, Clone)]
pub struct Review {
    pub settings: SunSettings,
    pub date: chrono::NaiveDate,
    pub path: Vec<SunStep>,
    pub existing: ScenarioReview,
    pub scenarios: Vec<ScenarioReview>,
}

impl Review {
    /// Today, then each scenario.
    pub fn all(&self) -> impl Iterator<Item = &ScenarioReview> {
        std::iter::once(&self.existing).chain(&self.scenarios)
    }

    /// Scenario `k`: 0 is today, 1… the project's scenarios in order.
    pub fn get(&self, k: usize) -> Option<&ScenarioReview> {
        self.all().nth(k)
    }
}

/// Reviews every scenario of `project`.
pub fn review(
    project: &LoadedProject,
    frame: &LocalFrame,
    settings: SunSettings,
) -> Result<Review, String> {
    let date = settings.day.date(settings.year)?;
    let centre = project.site.centroid().ok_or("the site has no centre")?;
    let ll = frame
        .to_lonlat(LocalPoint::new(centre.x(), centre.y()))
        .map_err(|e| e.to_string())?;
    let path = sun::sun_path(date, ll.lon, ll.lat, settings.day.window(), 1.0)?;
    let existing_sun = sunlight(project, &project.existing, None, &path, &settings);
    let before: BTreeMap<&str, Vec<f64>> = {
        let mut map: BTreeMap<&str, Vec<f64>> = BTreeMap::new();
        for w in &existing_sun.windows {
            map.entry(w.building.as_str()).or_default().push(w.after);
        }
        map
    };
    let existing_metrics = metrics::compute(
        &geometry(project, &project.existing),
        frame,
        super::project::WALK_M,
    )?;
    let today_spaces = existing_metrics.parking_spaces;
    let existing = ScenarioReview {
        name: project.existing.name.clone(),
        checklist: checklist(project, &project.existing, frame, 0)?,
        metrics: existing_metrics,
        sun: existing_sun.clone(),
    };
    let mut scenarios = Vec::new();
    for s in &project.scenarios {
        let metrics = metrics::compute(&geometry(project, s), frame, super::project::WALK_M)?;
        let parking_added = metrics.parking_spaces.saturating_sub(today_spaces);
        scenarios.push(ScenarioReview {
            name: s.name.clone(),
            checklist: checklist(project, s, frame, parking_added)?,
            metrics,
            sun: sunlight(project, s, Some(&before), &path, &settings),
        });
    }
    Ok(Review {
        settings,
        date,
        path,
        existing,
        scenarios,
    })
}

/// What the metrics are computed from.
pub fn geometry(project: &LoadedProject, s: &Standing) -> ScenarioGeometry {
    ScenarioGeometry {
        site: project.site.clone(),
        buildings: s
            .buildings
            .iter()
            .map(|b| PlanBuilding {
                footprint: b.footprint.clone(),
                floors: b.floors,
                households: b.households,
            })
            .collect(),
        green: s.green.clone(),
        parking: s.parking.clone(),
        facilities: s
            .facilities
            .iter()
            .map(|f| Facility {
                kind: f.kind.clone(),
                at: f.at,
                added: f.added,
            })
            .collect(),
        paths: s.paths.clone(),
    }
}

/// Thousands separated, no decimals: "12,345".
pub fn grouped(x: f64) -> String {
    let n = x.round() as i64;
    let digits = n.unsigned_abs().to_string();
    let mut out = String::new();
    for (i, ch) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(ch);
    }
    if n < 0 { format!("-{out}") } else { out }
}

/// The 一拆五改三增加 checklist of a scenario, each item measured from its data;
/// `parking_added` is its metrics' parking spaces over today's.
pub fn checklist(
    project: &LoadedProject,
    s: &Standing,
    frame: &LocalFrame,
    parking_added: u32,
) -> Result<Vec<ChecklistItem>, String> {
    let item = |key, zh, en, measure: Option<String>| ChecklistItem {
        key,
        zh,
        en,
        covered: measure.is_some(),
        measure: measure.unwrap_or_default(),
    };
    let mut area_illegal = 0.0;
    for shape in &s.illegal {
        area_illegal += metrics::geodesic_area(shape, frame)?;
    }
    let mut length: BTreeMap<Work, f64> = BTreeMap::new();
    for (work, line) in &s.works {
        let points: Vec<[f64; 3]> = line.coords().map(|c| [c.x, c.y, 0.0]).collect();
        *length.entry(*work).or_insert(0.0) += metrics::geodesic_length(&points, frame)?;
    }
    let metres = |w: Work| {
        length
            .get(&w)
            .filter(|m| **m > 0.0)
            .map(|m| format!("{} m", grouped(*m)))
    };
    let mut green_added = 0.0;
    for g in &s.green_added {
        green_added +=
            metrics::geodesic_area(&geo::BooleanOps::intersection(g, &project.site), frame)?;
    }
    let added = |kinds: &[&str]| -> BTreeMap<String, u32> {
        let mut out = BTreeMap::new();
        for f in s.facilities.iter().filter(|f| f.added) {
            if kinds.contains(&f.kind.as_str()) {
                *out.entry(f.kind.clone()).or_insert(0) += 1;
            }
        }
        out
    };
    let listed = |m: BTreeMap<String, u32>| -> Option<String> {
        (!m.is_empty()).then(|| {
            m.iter()
                .map(|(k, n)| format!("{k} ×{n}"))
                .collect::<Vec<_>>()
                .join(", ")
        })
    };
    let elevators = s
        .models
        .iter()
        .filter(|m| m.role == ModelRole::Elevator)
        .count();
    let mut services: Vec<String> = listed(added(SERVICE_KINDS)).into_iter().collect();
    if parking_added > 0 {
        services.push(format!("parking +{parking_added}"));
    }
    if elevators > 0 {
        services.push(format!("elevators ×{elevators}"));
    }
    Ok(vec![
        item(
            "demolish",
            "拆除违法建设",
            "illegal structures demolished",
            (!s.illegal.is_empty())
                .then(|| format!("{} · {} m²", s.illegal.len(), grouped(area_illegal))),
        ),
        item(
            "roads",
            "道路白改黑",
            "roads resurfaced",
            metres(Work::Roads),
        ),
        item(
            "cables",
            "线缆上改下",
            "cables underground",
            metres(Work::Cables),
        ),
        item(
            "greening",
            "绿化提升",
            "greening",
            (green_added >= 1.0).then(|| format!("+{} m²", grouped(green_added))),
        ),
        item("facades", "外立面改造", "façades", metres(Work::Facades)),
        item(
            "pipes",
            "雨污分流",
            "rain and sewage pipes",
            metres(Work::Pipes),
        ),
        item(
            "community",
            "增加社区功能",
            "community functions added",
            listed(added(COMMUNITY_KINDS)),
        ),
        item(
            "services",
            "增加服务设施",
            "service facilities added",
            (!services.is_empty()).then(|| services.join(", ")),
        ),
        item(
            "property",
            "增加物业管理",
            "property management added",
            listed(added(&["property"])),
        ),
    ])
}

/// Grid cell for the shadow rays, metres.
const GRID_CELL_M: f64 = 16.0;

/// What casts shadows in scenario `s`: the buildings around the site and its own, and
/// the triangles of its models (its elevators only when `with_elevators`).
pub fn casters<'a>(
    project: &'a LoadedProject,
    s: &'a Standing,
    with_elevators: bool,
) -> (Vec<Block<'a>>, Vec<[[f64; 3]; 3]>) {
    let blocks = project
        .context
        .iter()
        .chain(&s.buildings)
        .map(|b| Block {
            footprint: &b.footprint,
            height_m: b.height_m,
        })
        .collect();
    let triangles = s
        .models
        .iter()
        .filter(|m| with_elevators || m.role != ModelRole::Elevator)
        .flat_map(|m| m.triangles.iter().copied())
        .collect();
    (blocks, triangles)
}

/// Sunlight of `s`: every window of its housing, and the ground over the site.
/// `before` holds today's hours by building, in sample order.
fn sunlight(
    project: &LoadedProject,
    s: &Standing,
    before: Option<&BTreeMap<&str, Vec<f64>>>,
    path: &[SunStep],
    settings: &SunSettings,
) -> SunReview {
    let (blocks, triangles) = casters(project, s, true);
    let all = Obstacles::new(&blocks, triangles, GRID_CELL_M);
    let has_elevators = s.models.iter().any(|m| m.role == ModelRole::Elevator);
    let mut samples = Vec::new();
    let mut owners = Vec::new();
    for b in s.buildings.iter().filter(|b| b.residential) {
        let own = sun::window_samples(
            &[(
                Block {
                    footprint: &b.footprint,
                    height_m: b.height_m,
                },
                b.floors,
            )],
            path,
            settings.window_spacing_m,
        );
        for (k, sample) in own.into_iter().enumerate() {
            samples.push(sample);
            owners.push((b, k));
        }
    }
    let hours = |minutes: Vec<f64>| -> Vec<f64> { minutes.into_iter().map(|m| m / 60.0).collect() };
    let after = hours(sun::sun_minutes(&all, &samples, path, 1.0, false));
    let free = has_elevators.then(|| {
        let without = Obstacles::new(&blocks, casters(project, s, false).1, GRID_CELL_M);
        hours(sun::sun_minutes(&without, &samples, path, 1.0, false))
    });
    let windows = owners
        .iter()
        .enumerate()
        .map(|(i, (b, k))| WindowSun {
            building: b.id.clone(),
            new: b.new,
            sample: Sample {
                building: None,
                ..samples[i]
            },
            before: if b.new {
                None
            } else {
                before.and_then(|m| m.get(b.id.as_str()).and_then(|v| v.get(*k).copied()))
            },
            after: after[i],
            without_elevators: free.as_ref().map(|f| f[i]),
        })
        .collect();
    let ground = match project.site.bounding_rect() {
        Some(r) => {
            let footprints: Vec<_> = s.buildings.iter().map(|b| &b.footprint).collect();
            let points: Vec<Sample> = sun::ground_samples(
                [r.min().x, r.min().y, r.max().x, r.max().y],
                settings.ground_spacing_m,
                &footprints,
            )
            .into_iter()
            .filter(|p| {
                geo::Contains::contains(
                    &project.site,
                    &Coord {
                        x: p.at[0],
                        y: p.at[1],
                    },
                )
            })
            .collect();
            let h = hours(sun::sun_minutes(&all, &points, path, 1.0, false));
            points.into_iter().zip(h).collect()
        }
        None => Vec::new(),
    };
    SunReview { windows, ground }
}
