//! Renovation projects in the scene (`projects:`): a site boundary and proposal
//! scenarios made of GeoJSON (or any layer format) files and glTF elements, read into
//! what stands on the site in each scenario, beside what stands there today.
//!
//! What stands today comes from the scene's own layers: the buildings whose centre is
//! inside the boundary, the green land cover and the roads over it, the points of
//! interest that are service facilities within walking distance. A scenario removes
//! buildings (demolitions), adds footprints, green, parking, paths, facilities,
//! renovation works and models.

use crate::city::import::{self, Building, CityData, Problem, Severity};
use crate::geo::{Crs, LocalFrame, LocalPoint, LonLat, ToWgs84};
use crate::scene::{Attributes, Layer, LayerKind, Scene};
use geo::{
    Area, BooleanOps, BoundingRect, Centroid, Contains, Intersects, LineString, MultiPolygon,
};
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};

/// A renovation project as the scene file names it.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Project {
    /// The project's id, as the renovation feed knows it (e.g. `RP-2026-0001`).
    pub id: String,
    pub name: String,
    #[serde(default)]
    pub kind: ProjectKind,
    /// Polygon(s) of the site, relative to the scene file.
    pub boundary: PathBuf,
    /// CRS of the project's files that carry none of their own (default EPSG:4326).
    #[serde(default)]
    pub crs: Option<Crs>,
    /// Invented for the demo: said in the plan view and the report.
    #[serde(default)]
    pub synthetic: bool,
    /// The notes file (GeoJSON points), relative to the scene file; default
    /// `notes/<id>.geojson` beside the scene.
    #[serde(default)]
    pub notes: Option<PathBuf>,
    pub scenarios: Vec<Scenario>,
}

/// An old community (老旧小区) or a road (道路) renovation.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub enum ProjectKind {
    #[default]
    Community,
    Road,
}

/// One proposal: every file optional, relative to the scene file.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Scenario {
    pub name: String,
    #[serde(default)]
    pub description: Option<String>,
    /// Polygons: each existing building covered for at least half its footprint is
    /// demolished; features with `illegal: true` are illegal structures (违法建设),
    /// counted for 一拆 whether or not a building layer holds them.
    #[serde(default)]
    pub demolitions: Option<PathBuf>,
    /// New footprints: `levels` or `height`, `use` (`residential` for housing),
    /// `households` (else one per 70 m² of residential floor area).
    #[serde(default)]
    pub buildings: Option<PathBuf>,
    /// Green areas added (polygons).
    #[serde(default)]
    pub green: Option<PathBuf>,
    /// Parking areas (polygons), `spaces` where counted, else one per 25 m².
    #[serde(default)]
    pub parking: Option<PathBuf>,
    /// Walkable paths added (lines).
    #[serde(default)]
    pub paths: Option<PathBuf>,
    /// Facilities added (points), `kind`: childcare (托育), elderly_care (日间照料),
    /// meal (助餐点), community_center, health, property (物业用房), charging,
    /// convenience, fitness, express.
    #[serde(default)]
    pub facilities: Option<PathBuf>,
    /// Renovation works (lines), `work`: roads (白改黑), cables (上改下), pipes
    /// (雨污分流), facades (外立面, along the façades redone).
    #[serde(default)]
    pub works: Option<PathBuf>,
    /// glTF elements added.
    #[serde(default)]
    pub models: Vec<PlanModel>,
}

/// A glTF element of a scenario, placed like the scene's models.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PlanModel {
    pub name: String,
    pub path: PathBuf,
    /// WGS84 (or the project's `crs`).
    pub position: LonLat,
    /// Degrees clockwise from north of the model's −Z axis.
    #[serde(default)]
    pub heading_deg: f64,
    #[serde(default = "one")]
    pub scale: f64,
    #[serde(default)]
    pub role: ModelRole,
}

fn one() -> f64 {
    1.0
}

/// What an element is, for the checklist and the sunlight rules.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub enum ModelRole {
    /// An elevator added to existing housing (加装电梯): GB 50180 judges the sunlight
    /// it takes apart.
    Elevator,
    /// A facility of a kind (as in `facilities`), e.g. `Facility("childcare")`.
    Facility(String),
    /// Anything else that stands (a pergola, a shelter).
    #[default]
    Structure,
}

/// Facility kinds that count as community functions (增加社区功能).
pub const COMMUNITY_KINDS: &[&str] = &[
    "childcare",
    "elderly_care",
    "meal",
    "community_center",
    "health",
];
/// Facility kinds that count as service facilities (增加服务设施).
pub const SERVICE_KINDS: &[&str] = &["charging", "convenience", "fitness", "express"];
/// The kinds whose walking coverage is measured (托育, 日间照料, 助餐).
pub const COVERAGE_KINDS: &[&str] = &["childcare", "elderly_care", "meal"];
/// Residential floor area per household when the data gives no count, m².
pub const M2_PER_HOUSEHOLD: f64 = 70.0;

/// A renovation work on a line.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Work {
    /// 白改黑: concrete roads resurfaced with asphalt.
    Roads,
    /// 上改下: overhead cables put underground.
    Cables,
    /// 雨污分流: rain and sewage pipes separated.
    Pipes,
    /// 外立面: façades redone.
    Facades,
}

impl Work {
    /// How a work is drawn on the site plans and in the 3D view (sRGB).
    pub fn rgb(self) -> [u8; 3] {
        match self {
            Work::Roads => [40, 40, 40],
            Work::Cables => [230, 180, 0],
            Work::Pipes => [30, 120, 220],
            Work::Facades => [200, 60, 200],
        }
    }

    fn parse(s: &str) -> Option<Work> {
        match s.trim().to_ascii_lowercase().as_str() {
            "roads" | "road" | "白改黑" => Some(Work::Roads),
            "cables" | "上改下" => Some(Work::Cables),
            "pipes" | "雨污分流" => Some(Work::Pipes),
            "facades" | "facade" | "外立面" => Some(Work::Facades),
            _ => None,
        }
    }
}

/// A building on the site (local metres).
#[derive(Debug, Clone)]
pub struct SiteBuilding {
    pub id: String,
    pub name: Option<String>,
    pub footprint: MultiPolygon<f64>,
    pub height_m: f64,
    pub floors: u32,
    pub households: u32,
    pub residential: bool,
    /// Built by the scenario (rather than standing today).
    pub new: bool,
}

/// A facility (local metres).
#[derive(Debug, Clone)]
pub struct SiteFacility {
    pub kind: String,
    pub name: Option<String>,
    pub at: LocalPoint,
    pub added: bool,
}

/// A glTF element placed on the site: its triangles in local metres (east, north, up).
#[derive(Debug, Clone)]
pub struct SiteModel {
    pub name: String,
    pub role: ModelRole,
    pub at: LocalPoint,
    pub triangles: Vec<[[f64; 3]; 3]>,
    /// The file, for drawing it.
    pub path: PathBuf,
    pub heading_deg: f64,
    pub scale: f64,
}

/// What stands on the site in one scenario (or today).
#[derive(Debug, Clone, Default)]
pub struct Standing {
    pub name: String,
    pub description: Option<String>,
    pub buildings: Vec<SiteBuilding>,
    /// Buildings standing today that the scenario demolishes.
    pub removed: Vec<SiteBuilding>,
    /// Illegal structures removed (一拆).
    pub illegal: Vec<MultiPolygon<f64>>,
    pub green: Vec<MultiPolygon<f64>>,
    /// The green the scenario adds (part of `green`).
    pub green_added: Vec<MultiPolygon<f64>>,
    pub parking: Vec<(MultiPolygon<f64>, Option<u32>)>,
    pub paths: Vec<LineString<f64>>,
    pub facilities: Vec<SiteFacility>,
    pub works: Vec<(Work, LineString<f64>)>,
    pub models: Vec<SiteModel>,
}

/// A project read from its files: today's site and each scenario on it.
#[derive(Debug, Clone)]
pub struct LoadedProject {
    pub spec: Project,
    pub site: MultiPolygon<f64>,
    pub existing: Standing,
    pub scenarios: Vec<Standing>,
    /// Buildings around the site (not on it) that shade it, standing in every scenario.
    pub context: Vec<SiteBuilding>,
    pub notes_path: PathBuf,
    pub problems: Vec<Problem>,
}

impl LoadedProject {
    /// Today, then each scenario.
    pub fn all(&self) -> impl Iterator<Item = &Standing> {
        std::iter::once(&self.existing).chain(&self.scenarios)
    }

    /// Scenario `k`: 0 is today, 1… the project's scenarios in order.
    pub fn get(&self, k: usize) -> Option<&Standing> {
        self.all().nth(k)
    }
}

/// Buildings within this distance of the site are kept as context for shadows.
pub const CONTEXT_M: f64 = 400.0;
/// Service facilities within this distance of the site are counted (the walking
/// distance of the coverage measure).
pub const WALK_M: f64 = 300.0;

/// Reads `project` of `scene`, whose layers are already in `city`.
pub fn load(
    scene: &Scene,
    project: &Project,
    city: &CityData,
    frame: &LocalFrame,
) -> Result<LoadedProject, String> {
    let mut problems = Vec::new();
    let read = |kind: LayerKind, rel: &Path, problems: &mut Vec<Problem>| -> CityData {
        let mut data = read_file(scene, project, frame, kind, rel, Attributes::default());
        problems.append(&mut data.problems);
        data
    };
    let site = read_site(scene, project, frame)?;
    let bounds = site.bounding_rect().ok_or("the boundary has no extent")?;
    let near = |b: &Building, margin: f64| {
        b.footprint.bounding_rect().is_some_and(|r| {
            r.max().x >= bounds.min().x - margin
                && r.min().x <= bounds.max().x + margin
                && r.max().y >= bounds.min().y - margin
                && r.min().y <= bounds.max().y + margin
        })
    };
    let mut existing = Standing {
        name: "现状 existing".into(),
        ..Standing::default()
    };
    let mut context = Vec::new();
    for b in city.buildings.iter().filter(|b| near(b, CONTEXT_M)) {
        let centre = b.footprint.centroid();
        let on_site = centre.is_some_and(|c| site.contains(&c));
        let building = site_building(b, false);
        if on_site {
            existing.buildings.push(building);
        } else {
            context.push(building);
        }
    }
    for land in &city.land {
        if land.class == import::LandClass::Green && land.area.shape.intersects(&site) {
            existing.green.push(land.area.shape.clone());
        }
    }
    for road in &city.roads {
        for line in &road.lines {
            if line.intersects(&site) {
                existing.paths.push(line.clone());
            }
        }
    }
    for poi in &city.pois {
        let kind = poi
            .properties
            .get("kind")
            .and_then(serde_json::Value::as_str)
            .map(str::to_owned);
        if let Some(kind) = kind
            && (COMMUNITY_KINDS.contains(&kind.as_str())
                || SERVICE_KINDS.contains(&kind.as_str())
                || kind == "property")
        {
            let p = geo::Point::new(poi.at.east_m, poi.at.north_m);
            if geo::Distance::distance(&geo::Euclidean, &p, &site) <= WALK_M {
                existing.facilities.push(SiteFacility {
                    kind,
                    name: poi.name.clone(),
                    at: poi.at,
                    added: false,
                });
            }
        }
    }

    let mut scenarios = Vec::new();
    for spec in &project.scenarios {
        let mut s = existing.clone();
        s.name = spec.name.clone();
        s.description = spec.description.clone();
        if let Some(rel) = &spec.demolitions {
            let d = read(LayerKind::Grids, rel, &mut problems);
            for area in &d.grids {
                let illegal = area
                    .properties
                    .get("illegal")
                    .is_some_and(|v| v.as_bool() == Some(true));
                if illegal {
                    s.illegal.push(area.shape.clone());
                }
                let mut kept = Vec::new();
                for b in s.buildings.drain(..) {
                    let covered = b.footprint.intersection(&area.shape).unsigned_area();
                    if !b.new && covered >= 0.5 * b.footprint.unsigned_area() {
                        s.removed.push(b);
                    } else {
                        kept.push(b);
                    }
                }
                s.buildings = kept;
            }
        }
        if let Some(rel) = &spec.buildings {
            let d = read(LayerKind::Buildings, rel, &mut problems);
            s.buildings
                .extend(d.buildings.iter().map(|b| site_building(b, true)));
        }
        if let Some(rel) = &spec.green {
            let d = read(LayerKind::Grids, rel, &mut problems);
            for a in d.grids {
                s.green.push(a.shape.clone());
                s.green_added.push(a.shape);
            }
        }
        if let Some(rel) = &spec.parking {
            let d = read(LayerKind::Grids, rel, &mut problems);
            for a in d.grids {
                let spaces = a
                    .properties
                    .get("spaces")
                    .and_then(serde_json::Value::as_u64)
                    .map(|n| n.min(u64::from(u32::MAX)) as u32);
                s.parking.push((a.shape, spaces));
            }
        }
        if let Some(rel) = &spec.paths {
            let d = read(LayerKind::Roads, rel, &mut problems);
            s.paths
                .extend(d.roads.into_iter().flat_map(|r| r.lines.into_iter()));
        }
        if let Some(rel) = &spec.facilities {
            let d = read(LayerKind::Pois, rel, &mut problems);
            for p in d.pois {
                match p.properties.get("kind").and_then(serde_json::Value::as_str) {
                    Some(kind) => s.facilities.push(SiteFacility {
                        kind: kind.to_owned(),
                        name: p.name,
                        at: p.at,
                        added: true,
                    }),
                    None => problems.push(Problem {
                        file: scene.resolve(rel),
                        feature: None,
                        severity: Severity::Warning,
                        message: format!("facility {} has no \"kind\"; skipped", p.id),
                    }),
                }
            }
        }
        if let Some(rel) = &spec.works {
            s.works
                .extend(read_works(scene, rel, project, frame, &mut problems));
        }
        for m in &spec.models {
            match place_model(scene, project, m, frame) {
                Ok(model) => {
                    if let ModelRole::Facility(kind) = &model.role {
                        s.facilities.push(SiteFacility {
                            kind: kind.clone(),
                            name: Some(model.name.clone()),
                            at: model.at,
                            added: true,
                        });
                    }
                    s.models.push(model);
                }
                Err(e) => problems.push(Problem {
                    file: scene.resolve(&m.path),
                    feature: None,
                    severity: Severity::Error,
                    message: format!("model '{}': {e}", m.name),
                }),
            }
        }
        scenarios.push(s);
    }
    let notes_path = scene.resolve(
        &project
            .notes
            .clone()
            .unwrap_or_else(|| PathBuf::from(format!("notes/{}.geojson", project.id))),
    );
    Ok(LoadedProject {
        spec: project.clone(),
        site,
        existing,
        scenarios,
        context,
        notes_path,
        problems,
    })
}

/// One of the project's files, read whole as a layer of `kind`.
fn read_file(
    scene: &Scene,
    project: &Project,
    frame: &LocalFrame,
    kind: LayerKind,
    rel: &Path,
    attributes: Attributes,
) -> CityData {
    let layer = Layer {
        kind,
        path: rel.to_owned(),
        crs: project.crs.clone(),
        table: None,
        encoding: None,
        attributes,
    };
    let mut data = CityData::default();
    let whole = (LonLat::new(-180.0, -90.0), LonLat::new(180.0, 90.0));
    import::load_layer(&layer, &scene.resolve(rel), frame, whole, false, &mut data);
    data
}

/// The project's site (local metres): the union of its boundary's polygons.
pub fn read_site(
    scene: &Scene,
    project: &Project,
    frame: &LocalFrame,
) -> Result<MultiPolygon<f64>, String> {
    let data = read_file(
        scene,
        project,
        frame,
        LayerKind::Grids,
        &project.boundary,
        Attributes::default(),
    );
    let path = scene.resolve(&project.boundary);
    let site = data
        .grids
        .iter()
        .fold(MultiPolygon::new(vec![]), |acc, a| acc.union(&a.shape));
    if site.unsigned_area() <= 0.0 {
        return Err(format!(
            "project '{}': the boundary {} holds no polygon with area{}",
            project.id,
            path.display(),
            first_error(&data.problems)
        ));
    }
    Ok(site)
}

fn first_error(problems: &[Problem]) -> String {
    problems
        .iter()
        .find(|p| p.severity == Severity::Error)
        .map_or(String::new(), |p| format!(" ({})", p.message))
}

fn site_building(b: &Building, new: bool) -> SiteBuilding {
    let floors = b
        .properties
        .get("levels")
        .and_then(serde_json::Value::as_f64)
        .map_or_else(|| (b.height_m / 3.0).round(), f64::round)
        .clamp(1.0, 300.0) as u32;
    let residential = b
        .properties
        .get("use")
        .and_then(serde_json::Value::as_str)
        .is_some_and(|u| matches!(u, "residential" | "住宅" | "house" | "apartments"));
    let households = match b
        .properties
        .get("households")
        .and_then(serde_json::Value::as_u64)
    {
        Some(n) => n.min(100_000) as u32,
        None if residential => {
            (b.footprint.unsigned_area() * f64::from(floors) / M2_PER_HOUSEHOLD).round() as u32
        }
        None => 0,
    };
    SiteBuilding {
        id: b.id.clone(),
        name: b.name.clone(),
        footprint: b.footprint.clone(),
        height_m: b.height_m,
        floors,
        households,
        residential,
        new,
    }
}

/// The works file's lines with their `work`, in local metres.
fn read_works(
    scene: &Scene,
    rel: &Path,
    project: &Project,
    frame: &LocalFrame,
    problems: &mut Vec<Problem>,
) -> Vec<(Work, LineString<f64>)> {
    let path = scene.resolve(rel);
    // The work's name is carried as the road's id, read back below.
    let attributes = Attributes {
        id: Some("work".into()),
        ..Attributes::default()
    };
    let data = read_file(scene, project, frame, LayerKind::Roads, rel, attributes);
    problems.extend(data.problems);
    let mut out = Vec::new();
    for road in data.roads {
        match Work::parse(&road.id) {
            Some(work) => out.extend(road.lines.into_iter().map(|l| (work, l))),
            None => problems.push(Problem {
                file: path.clone(),
                feature: None,
                severity: Severity::Warning,
                message: format!(
                    "work \"{}\" is not one of roads, cables, pipes, facades; skipped",
                    road.id
                ),
            }),
        }
    }
    out
}

/// A scenario's glTF element: validated, its triangles placed in local metres.
fn place_model(
    scene: &Scene,
    project: &Project,
    m: &PlanModel,
    frame: &LocalFrame,
) -> Result<SiteModel, String> {
    let path = scene.resolve(&m.path);
    crate::city::models::validate(&path)?;
    if !(m.scale > 0.0 && m.scale <= 1e4) {
        return Err(format!("scale {} is not within 0–10000", m.scale));
    }
    let crs = project.crs.clone().unwrap_or(Crs::WGS84);
    let at = ToWgs84::new(&crs)
        .and_then(|t| t.convert(m.position.lon, m.position.lat))
        .and_then(|ll| frame.to_local(ll))
        .map_err(|e| e.to_string())?;
    let (doc, buffers, _) = gltf::import(&path).map_err(|e| format!("cannot read: {e}"))?;
    let mut triangles = Vec::new();
    let (sin, cos) = m.heading_deg.to_radians().sin_cos();
    let place = |p: [f64; 3]| -> [f64; 3] {
        // Model space: Y up, −Z forward (north at heading 0); east = x, north = −z,
        // turned clockwise by the heading.
        let (x, north, up) = (p[0] * m.scale, -p[2] * m.scale, p[1] * m.scale);
        [
            at.east_m + x * cos + north * sin,
            at.north_m - x * sin + north * cos,
            up,
        ]
    };
    let scene_nodes: Vec<gltf::Node> = match doc.default_scene().or_else(|| doc.scenes().next()) {
        Some(s) => s.nodes().collect(),
        None => doc.nodes().collect(),
    };
    let mut stack: Vec<(gltf::Node, [[f64; 4]; 4])> =
        scene_nodes.into_iter().map(|n| (n, identity())).collect();
    while let Some((node, parent)) = stack.pop() {
        let local = node.transform().matrix().map(|c| c.map(f64::from));
        let world = mul(&parent, &local);
        if let Some(mesh) = node.mesh() {
            for primitive in mesh.primitives() {
                if primitive.mode() != gltf::mesh::Mode::Triangles {
                    continue;
                }
                let reader = primitive.reader(|b| buffers.get(b.index()).map(|d| &d.0[..]));
                let Some(positions) = reader.read_positions() else {
                    continue;
                };
                let positions: Vec<[f64; 3]> = positions
                    .map(|p| place(apply(&world, p.map(f64::from))))
                    .collect();
                let indices: Vec<usize> = match reader.read_indices() {
                    Some(i) => i.into_u32().map(|i| i as usize).collect(),
                    None => (0..positions.len()).collect(),
                };
                for t in indices.chunks_exact(3) {
                    if let (Some(a), Some(b), Some(c)) = (
                        positions.get(t[0]),
                        positions.get(t[1]),
                        positions.get(t[2]),
                    ) {
                        triangles.push([*a, *b, *c]);
                    }
                }
            }
        }
        stack.extend(node.children().map(|c| (c, world)));
    }
    if triangles.is_empty() {
        return Err("holds no triangles".into());
    }
    Ok(SiteModel {
        name: m.name.clone(),
        role: m.role.clone(),
        at,
        triangles,
        path,
        heading_deg: m.heading_deg,
        scale: m.scale,
    })
}

fn identity() -> [[f64; 4]; 4] {
    let mut m = [[0.0; 4]; 4];
    for (i, row) in m.iter_mut().enumerate() {
        row[i] = 1.0;
    }
    m
}

/// Column-major 4×4 product a·b (glTF's layout).
fn mul(a: &[[f64; 4]; 4], b: &[[f64; 4]; 4]) -> [[f64; 4]; 4] {
    let mut out = [[0.0; 4]; 4];
    for (c, col) in out.iter_mut().enumerate() {
        for (r, v) in col.iter_mut().enumerate() {
            *v = (0..4).map(|k| a[k][r] * b[c][k]).sum();
        }
    }
    out
}

fn apply(m: &[[f64; 4]; 4], p: [f64; 3]) -> [f64; 3] {
    let mut out = [0.0; 3];
    for (r, v) in out.iter_mut().enumerate() {
        *v = m[0][r] * p[0] + m[1][r] * p[1] + m[2][r] * p[2] + m[3][r];
    }
    out
}
