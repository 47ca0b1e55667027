//! Map overlays drawn from the operations state: a choropleth of open work orders (or
//! alerts) per community grid, renovation boundaries coloured by phase, work-order
//! pins, road sections coloured by the traffic sensors' speeds, free parking spaces,
//! key vehicles on their approved routes, and the selected incident's linked cameras
//! with their view fans.
//!
//! Two halves: [`compute`] turns the state into plain vertex buffers and counts (no
//! renderer needed, so the headless tests run it), and the wall's [`plugin`] uploads
//! the buffers into one mesh per overlay when they change. Each overlay is rebuilt
//! only when what it shows changed; the sensors' readings are scanned at most four
//! times a second.

use crate::TwinSet;
use crate::city::import::RoadClass;
use crate::city::mesh::MeshData;
use crate::city::{CityAreas, RoadLines};
use crate::feeds::ingest::{FeedEntities, IotDevice, MarkerAt, Projects, Readings, VideoCamera};
use crate::feeds::schema::{
    DeviceKind, OrderStatus, ProjectKind, ProjectPhase, Urgency, VehicleKind,
};
use crate::geo::{LocalPoint, SceneFrame};
use crate::ops::TwinClock;
use crate::ops::alerts::Alerts;
use crate::ops::orders::OrderBook;
use crate::ops::vehicles::{VehicleRules, Vehicles};
use crate::view::{Incident, Selection};
use bevy::prelude::*;
use bevy::time::common_conditions::on_real_timer;
use geo::{Coord, LineString, Polygon};
use rstar::{AABB, PointDistance, RTree, RTreeObject};
use std::collections::HashMap;
use std::time::Duration;

mod draw;

/// What the per-grid choropleth counts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum GridMetric {
    #[default]
    Orders,
    Alerts,
    Off,
}

impl GridMetric {
    /// Orders → alerts → off → orders (the G key).
    pub fn next(self) -> Self {
        match self {
            GridMetric::Orders => GridMetric::Alerts,
            GridMetric::Alerts => GridMetric::Off,
            GridMetric::Off => GridMetric::Orders,
        }
    }
}

/// Which overlays are on (the status bar's toggles; keys G, R, O, T, P, V).
#[derive(Resource, Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Overlays {
    pub grid: GridMetric,
    pub projects: bool,
    pub orders: bool,
    pub traffic: bool,
    pub parking: bool,
    pub vehicles: bool,
}

impl Default for Overlays {
    fn default() -> Self {
        Self {
            grid: GridMetric::Orders,
            projects: true,
            orders: true,
            traffic: true,
            parking: true,
            vehicles: true,
        }
    }
}

/// The overlays drawn as one mesh each (the order pins and vehicles are entities).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Layer {
    Grid,
    Projects,
    Traffic,
    Parking,
    Routes,
    Links,
}

impl Layer {
    pub const ALL: [Layer; 6] = [
        Layer::Grid,
        Layer::Projects,
        Layer::Traffic,
        Layer::Parking,
        Layer::Routes,
        Layer::Links,
    ];

    fn slot(self) -> usize {
        self as usize
    }

    /// Whether it is drawn with these toggles (the linked cameras always are).
    pub fn shown(self, o: &Overlays) -> bool {
        match self {
            Layer::Grid => o.grid != GridMetric::Off,
            Layer::Projects => o.projects,
            Layer::Traffic => o.traffic,
            Layer::Parking => o.parking,
            Layer::Routes => o.vehicles,
            Layer::Links => true,
        }
    }

    /// Blended (see-through) or opaque.
    fn translucent(self) -> bool {
        matches!(self, Layer::Grid | Layer::Links)
    }
}

/// Each overlay's vertex buffers, with a version bumped when they change.
#[derive(Resource, Debug, Default)]
pub struct OverlayMeshes {
    pub data: [MeshData; 6],
    pub version: [u64; 6],
}

impl OverlayMeshes {
    fn put(&mut self, layer: Layer, data: MeshData) {
        self.data[layer.slot()] = data;
        self.version[layer.slot()] += 1;
    }
}

/// What the overlays show now: counted as they are drawn.
#[derive(Resource, Debug, Default, Clone, PartialEq)]
pub struct OverlayStats {
    /// Grids coloured, and what their counts add up to.
    pub grids_coloured: usize,
    pub grid_total: u64,
    /// Renovation projects outlined, per phase (planned … completed).
    pub projects: [usize; 5],
    /// Work-order pins, and those of overdue orders.
    pub pins: usize,
    pub pins_overdue: usize,
    /// Road sections by traffic level: free, slow, jammed.
    pub traffic: [usize; 3],
    /// Free parking spaces drawn.
    pub free_parking: usize,
    /// Key vehicles on the map, those breaking their rules, and routes drawn.
    pub vehicles: usize,
    pub vehicles_off_rules: usize,
    pub routes: usize,
    /// Linked cameras of the selected incident drawn with their fans.
    pub links: usize,
}

impl OverlayStats {
    /// One line of `key=value` pairs (the shot's log; tests read it).
    pub fn summary(&self) -> String {
        let join = |v: &[usize]| {
            v.iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>()
                .join("/")
        };
        format!(
            "grids={} grid_total={} projects={} pins={} overdue_pins={} traffic={} free_parking={} vehicles={} off_rules={} routes={} links={}",
            self.grids_coloured,
            self.grid_total,
            join(&self.projects),
            self.pins,
            self.pins_overdue,
            join(&self.traffic),
            self.free_parking,
            self.vehicles,
            self.vehicles_off_rules,
            self.routes,
            self.links
        )
    }
}

/// How a work order's pin is coloured.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PinLook {
    Open,
    Urgent,
    Overdue,
    Selected,
}

impl PinLook {
    const ALL: [PinLook; 4] = [
        PinLook::Open,
        PinLook::Urgent,
        PinLook::Overdue,
        PinLook::Selected,
    ];

    fn color(self) -> Color {
        match self {
            PinLook::Open => Color::srgb(1.0, 0.85, 0.3),
            PinLook::Urgent => Color::srgb(1.0, 0.55, 0.1),
            PinLook::Overdue => Color::srgb(1.0, 0.15, 0.1),
            // Magenta: nothing else on the map has it (the landmarks are cyan).
            PinLook::Selected => Color::srgb(1.0, 0.2, 0.85),
        }
    }
}

/// An open work order's pin: where it stands (world, on the ground) and its colour.
#[derive(Debug, Clone, PartialEq)]
pub struct Pin {
    pub id: String,
    pub base: Vec3,
    pub look: PinLook,
}

/// The open orders' pins, and the scale they are drawn at (for picking their heads).
#[derive(Resource, Debug, Default)]
pub struct OrderPins {
    pub pins: Vec<Pin>,
    pub scale: f32,
}

/// A pin's height to the middle of its head, at scale 1 (metres).
pub const PIN_HEAD_M: f32 = 50.0;

impl OrderPins {
    /// Where a pin's head is drawn (world).
    pub fn head(&self, pin: &Pin) -> Vec3 {
        pin.base + Vec3::Y * PIN_HEAD_M * self.scale.max(1.0)
    }
}

/// A key vehicle as drawn: where (world, on the ground), which way (radians about +Y
/// from -Z, i.e. from north) and whether it breaks its rules.
#[derive(Debug, Clone, PartialEq)]
pub struct VehicleMark {
    pub id: String,
    pub kind: VehicleKind,
    pub at: Vec3,
    pub yaw: f32,
    pub off_rules: bool,
}

/// The key vehicles to draw this frame, moved on from their last report by their
/// speed and heading (at most [`EXTRAPOLATE_S`]).
#[derive(Resource, Debug, Default)]
pub struct VehicleMarks(pub Vec<VehicleMark>);

/// A vehicle is moved on from its last report for at most this many twin seconds
/// (reports come every 10 s; a silent one stops rather than drives off).
pub const EXTRAPOLATE_S: f64 = 15.0;

/// Heights above the ground (metres): the choropleth under the roads, the rest over
/// the boundary outlines.
const GRID_Y: f32 = 0.8;
const TRAFFIC_Y: f32 = 2.2;
const PARKING_Y: f32 = 2.4;
const PROJECT_Y: f32 = 2.6;
const ROUTE_Y: f32 = 2.0;
const LINK_Y: f32 = 2.8;

/// Speeds (km/h) at and above which a section is free, and below which it is jammed
/// (the usual three levels of Chinese traffic maps: 畅通, 缓行, 拥堵).
pub const FREE_KMH: f64 = 30.0;
pub const JAMMED_KMH: f64 = 15.0;
/// A sensor colours the road this far either side of it (metres).
pub const SECTION_HALF_M: f64 = 150.0;
/// A sensor further than this from every road colours nothing.
const SNAP_M: f64 = 60.0;

/// The choropleth's classes: counts from each bound up (1, 2–3, 4–6, 7–10, 11+).
pub const GRID_CLASSES: [u32; 5] = [1, 2, 4, 7, 11];
pub const GRID_COLORS: [[f32; 4]; 5] = [
    [1.0, 0.86, 0.45, 0.35],
    [1.0, 0.7, 0.3, 0.45],
    [1.0, 0.5, 0.2, 0.55],
    [0.95, 0.3, 0.15, 0.62],
    [0.85, 0.1, 0.12, 0.7],
];
pub const TRAFFIC_COLORS: [[f32; 4]; 3] = [
    [0.2, 0.85, 0.35, 1.0],
    [1.0, 0.6, 0.0, 1.0],
    [0.95, 0.12, 0.1, 1.0],
];
pub const PARKING_COLOR: [f32; 4] = [0.25, 0.6, 1.0, 1.0];
pub const ROUTE_COLOR: [f32; 4] = [0.65, 0.5, 1.0, 1.0];
pub const LINK_COLOR: [f32; 4] = [0.2, 0.9, 1.0, 0.35];

/// The colour of a renovation phase (its outline, and its swatch in the legend).
pub fn phase_color(phase: ProjectPhase) -> [f32; 4] {
    match phase {
        ProjectPhase::Planned => [0.55, 0.62, 0.75, 1.0],
        ProjectPhase::Design => [0.3, 0.8, 1.0, 1.0],
        ProjectPhase::Construction => [1.0, 0.6, 0.1, 1.0],
        ProjectPhase::Acceptance => [0.75, 0.5, 1.0, 1.0],
        ProjectPhase::Completed => [0.3, 0.9, 0.4, 1.0],
    }
}

fn phase_slot(phase: ProjectPhase) -> usize {
    match phase {
        ProjectPhase::Planned => 0,
        ProjectPhase::Design => 1,
        ProjectPhase::Construction => 2,
        ProjectPhase::Acceptance => 3,
        ProjectPhase::Completed => 4,
    }
}

/// The choropleth class of a count: none for 0.
pub fn grid_class(count: u32) -> Option<usize> {
    GRID_CLASSES.iter().rposition(|&from| count >= from)
}

/// Traffic level of a speed: 0 free, 1 slow, 2 jammed.
pub fn traffic_level(speed_kmh: f64) -> usize {
    if speed_kmh >= FREE_KMH {
        0
    } else if speed_kmh >= JAMMED_KMH {
        1
    } else {
        2
    }
}

/// Which community grid each incident is in, found once per incident: by its place
/// (the loaded grids), else the grid it names if that is a loaded one (a feed may name
/// a micro-grid, which the map does not draw).
#[derive(Default)]
pub struct GridOf(HashMap<String, Option<usize>>);

impl GridOf {
    fn of(
        &mut self,
        id: &str,
        position: Option<crate::geo::LonLat>,
        named: Option<&str>,
        places: &GridPlaces,
    ) -> Option<usize> {
        if let Some(found) = self.0.get(id) {
            return *found;
        }
        let by_place = position
            .and_then(|p| places.frame?.to_local(p).ok())
            .and_then(|l| places.index.grids.id_at(l))
            .and_then(|g| places.by_id.get(g));
        let found = by_place
            .or_else(|| named.and_then(|g| places.by_id.get(g)))
            .copied();
        self.0.insert(id.to_string(), found);
        found
    }
}

/// What placing an incident in a grid needs.
pub struct GridPlaces<'a> {
    pub frame: Option<&'a crate::geo::LocalFrame>,
    pub index: &'a crate::spatial::AreaIndex,
    /// Grid id → its position in the loaded grids.
    pub by_id: &'a HashMap<String, usize>,
}

/// Open orders (or the open alerts the wall lists: not silenced, not muted) per grid
/// (positions in the loaded grids). `cache` remembers where each incident is; those
/// no longer open are let go.
pub fn grid_counts(
    metric: GridMetric,
    book: &OrderBook,
    alerts: &Alerts,
    now: chrono::DateTime<chrono::FixedOffset>,
    places: &GridPlaces,
    cache: &mut GridOf,
) -> HashMap<usize, u32> {
    let mut out: HashMap<usize, u32> = HashMap::new();
    let mut open = std::collections::HashSet::new();
    match metric {
        GridMetric::Orders => {
            for o in book.orders.values().filter(|o| o.is_open()) {
                open.insert(o.id.as_str());
                if let Some(g) = cache.of(&o.id, o.position, o.grid.as_deref(), places) {
                    *out.entry(g).or_default() += 1;
                }
            }
        }
        GridMetric::Alerts => {
            for a in alerts.list.iter().filter(|a| a.is_open()) {
                if a.inhibited_by.is_some() || alerts.is_silenced(a, now) {
                    continue;
                }
                open.insert(a.id.as_str());
                if let Some(g) = cache.of(&a.id, a.position, a.grid.as_deref(), places) {
                    *out.entry(g).or_default() += 1;
                }
            }
        }
        GridMetric::Off => {}
    }
    if cache.0.len() > 2 * open.len() + 1024 {
        cache.0.retain(|id, _| open.contains(id.as_str()));
    }
    out
}

/// The part of `line` within `half` metres (along it) of the point nearest `at`.
pub fn section(line: &LineString<f64>, at: Coord<f64>, half: f64) -> LineString<f64> {
    let pts = &line.0;
    if pts.len() < 2 {
        return LineString(Vec::new());
    }
    // The nearest point on the line, as (segment, distance along the line).
    let (mut best_d2, mut along, mut run) = (f64::INFINITY, 0.0, 0.0);
    for w in pts.windows(2) {
        let (a, b) = (w[0], w[1]);
        let d = b - a;
        let len2 = d.x * d.x + d.y * d.y;
        let t = if len2 > 0.0 {
            (((at.x - a.x) * d.x + (at.y - a.y) * d.y) / len2).clamp(0.0, 1.0)
        } else {
            0.0
        };
        let p = a + d * t;
        let d2 = (p.x - at.x).powi(2) + (p.y - at.y).powi(2);
        let len = len2.sqrt();
        if d2 < best_d2 {
            best_d2 = d2;
            along = run + t * len;
        }
        run += len;
    }
    let (from, to) = ((along - half).max(0.0), (along + half).min(run));
    let mut out = Vec::new();
    let mut run = 0.0;
    for w in pts.windows(2) {
        let (a, b) = (w[0], w[1]);
        let len = (b - a).x.hypot((b - a).y);
        let (s0, s1) = (run, run + len);
        run = s1;
        if s1 < from || s0 > to || len == 0.0 {
            continue;
        }
        let point = |s: f64| a + (b - a) * ((s - s0) / len);
        if out.is_empty() {
            out.push(point(from.max(s0)));
        }
        out.push(point(to.min(s1)));
    }
    LineString(out)
}

/// A road segment in the traffic index: which road line, and the segment's ends.
struct Segment {
    road: usize,
    a: [f64; 2],
    b: [f64; 2],
}

impl RTreeObject for Segment {
    type Envelope = AABB<[f64; 2]>;
    fn envelope(&self) -> Self::Envelope {
        AABB::from_corners(self.a, self.b)
    }
}

impl PointDistance for Segment {
    fn distance_2(&self, p: &[f64; 2]) -> f64 {
        let (dx, dy) = (self.b[0] - self.a[0], self.b[1] - self.a[1]);
        let len2 = dx * dx + dy * dy;
        let t = if len2 > 0.0 {
            (((p[0] - self.a[0]) * dx + (p[1] - self.a[1]) * dy) / len2).clamp(0.0, 1.0)
        } else {
            0.0
        };
        let (x, y) = (self.a[0] + dx * t, self.a[1] + dy * t);
        (x - p[0]).powi(2) + (y - p[1]).powi(2)
    }
}

/// Where a sensor stands and what it says: (local point, value) for the traffic
/// sensors' speeds and the parking spaces' occupancy.
#[derive(Default)]
struct Sensors {
    traffic: HashMap<Entity, (Coord<f64>, f64)>,
    parking: HashMap<Entity, (Vec3, bool)>,
    /// Roads of the traffic index (rebuilt when the city changes).
    index: Option<RTree<Segment>>,
    /// Each traffic sensor's road section, found once.
    sections: HashMap<Entity, Option<(LineString<f64>, f64)>>,
}

/// The computing half: what the headless tests add to see the overlays' counts.
pub fn compute(app: &mut App) {
    app.init_resource::<Overlays>()
        .init_resource::<OverlayMeshes>()
        .init_resource::<OverlayStats>()
        .init_resource::<OrderPins>()
        .init_resource::<VehicleMarks>()
        .init_resource::<Selection>()
        .add_systems(
            Update,
            (
                grid_choropleth,
                project_outlines,
                order_pins,
                sensors.run_if(on_real_timer(Duration::from_millis(250))),
                vehicle_routes,
                move_vehicles,
                incident_links,
            )
                .in_set(TwinSet::View)
                .in_set(Computed),
        );
}

/// The systems that compute the overlays (the wall uploads after them).
#[derive(SystemSet, Debug, Clone, PartialEq, Eq, Hash)]
pub struct Computed;

/// Each grid's triangles, made once per loaded city.
#[derive(Default)]
struct GridShapes {
    by_id: HashMap<String, usize>,
    meshes: Vec<MeshData>,
    counts: HashMap<usize, u32>,
    metric: Option<GridMetric>,
    places: GridOf,
}

#[allow(clippy::too_many_arguments)]
fn grid_choropleth(
    overlays: Res<Overlays>,
    areas: Res<CityAreas>,
    index: Res<crate::spatial::AreaIndex>,
    book: Res<OrderBook>,
    alerts: Res<Alerts>,
    clock: Res<TwinClock>,
    frame: Option<NonSend<SceneFrame>>,
    mut shapes: Local<GridShapes>,
    mut out: ResMut<OverlayMeshes>,
    mut stats: ResMut<OverlayStats>,
) {
    let fresh = areas.is_changed() || index.is_changed();
    if fresh {
        let shapes = &mut *shapes;
        shapes.by_id.clear();
        shapes.meshes.clear();
        shapes.places = GridOf::default();
        for (i, (name, shape)) in areas
            .grids
            .names
            .iter()
            .zip(areas.grids.shapes.iter())
            .enumerate()
        {
            shapes.by_id.insert(name.id.clone(), i);
            let mut mesh = MeshData::default();
            for polygon in shape {
                crate::city::mesh::flat(polygon, GRID_Y, [1.0; 4], &mut mesh);
            }
            shapes.meshes.push(mesh);
        }
        shapes.metric = None;
    }
    // Only what the chosen metric counts can change the colours.
    let counted_changed = match overlays.grid {
        GridMetric::Orders => book.is_changed(),
        GridMetric::Alerts => alerts.is_changed(),
        GridMetric::Off => false,
    };
    if !(fresh || overlays.is_changed() || counted_changed) {
        return;
    }
    let GridShapes {
        by_id,
        meshes,
        counts: last,
        metric,
        places,
    } = &mut *shapes;
    let where_ = GridPlaces {
        frame: frame.as_ref().map(|f| &f.0),
        index: &index,
        by_id,
    };
    let counts = grid_counts(overlays.grid, &book, &alerts, clock.now(), &where_, places);
    if *metric == Some(overlays.grid) && counts == *last {
        return;
    }
    let mut mesh = MeshData::default();
    let (mut coloured, mut total) = (0, 0);
    for (&i, &n) in &counts {
        let Some(class) = grid_class(n) else { continue };
        append(&mut mesh, &meshes[i], GRID_COLORS[class]);
        coloured += 1;
        total += n as u64;
    }
    stats.grids_coloured = coloured;
    stats.grid_total = total;
    *last = counts;
    *metric = Some(overlays.grid);
    out.put(Layer::Grid, mesh);
}

/// Appends `from`'s triangles to `to` in one colour.
fn append(to: &mut MeshData, from: &MeshData, color: [f32; 4]) {
    let base = to.positions.len() as u32;
    to.positions.extend_from_slice(&from.positions);
    to.normals.extend_from_slice(&from.normals);
    to.uvs.extend_from_slice(&from.uvs);
    to.colors
        .extend(std::iter::repeat_n(color, from.positions.len()));
    to.indices.extend(from.indices.iter().map(|i| i + base));
}

fn local_line(frame: &crate::geo::LocalFrame, points: &[crate::geo::LonLat]) -> LineString<f64> {
    LineString(
        points
            .iter()
            .filter_map(|p| frame.to_local(*p).ok())
            .map(|l| Coord {
                x: l.east_m,
                y: l.north_m,
            })
            .collect(),
    )
}

fn project_outlines(
    projects: Res<Projects>,
    frame: Option<NonSend<SceneFrame>>,
    mut out: ResMut<OverlayMeshes>,
    mut stats: ResMut<OverlayStats>,
) {
    let Some(frame) = frame else { return };
    if !projects.is_changed() {
        return;
    }
    let mut mesh = MeshData::default();
    let mut per_phase = [0; 5];
    for p in projects.0.values() {
        let mut line = local_line(&frame.0, &p.geometry);
        if line.0.len() < 2 {
            continue;
        }
        let color = phase_color(p.phase);
        match p.kind {
            // A road's works: its centre line, as wide as a street.
            ProjectKind::Road => {
                crate::city::mesh::ribbon(&line, 24.0, PROJECT_Y, color, &mut mesh)
            }
            _ => {
                line.close();
                crate::city::mesh::ribbon(&line, 14.0, PROJECT_Y, color, &mut mesh);
            }
        }
        per_phase[phase_slot(p.phase)] += 1;
    }
    stats.projects = per_phase;
    out.put(Layer::Projects, mesh);
}

/// The renovation site under a ground point (world): inside a boundary ring, or within
/// 30 m of a road's works.
pub fn project_at(
    projects: &Projects,
    frame: &crate::geo::LocalFrame,
    ground: Vec3,
) -> Option<String> {
    use geo::{Contains, Distance, Euclidean};
    let at = LocalPoint::from_world(ground);
    let point = geo::Point::new(at.east_m, at.north_m);
    let mut ids: Vec<&String> = projects.0.keys().collect();
    ids.sort();
    ids.into_iter().find_map(|id| {
        let p = &projects.0[id];
        let line = local_line(frame, &p.geometry);
        let hit = match p.kind {
            ProjectKind::Road => line.0.len() >= 2 && Euclidean.distance(&point, &line) <= 30.0,
            _ => line.0.len() >= 3 && Polygon::new(line, Vec::new()).contains(&point),
        };
        hit.then(|| id.clone())
    })
}

/// A box standing on `base` (world), `size` across and up, turned `yaw` about +Y.
fn add_box(mesh: &mut MeshData, base: Vec3, size: Vec3, yaw: f32, color: [f32; 4]) {
    let turn = Quat::from_rotation_y(yaw);
    let h = size / 2.0;
    let corner =
        |x: f32, y: f32, z: f32| base + turn * Vec3::new(x * h.x, (y + 1.0) * h.y, z * h.z);
    let faces: [([Vec3; 4], Vec3); 5] = [
        (
            [
                corner(-1., 1., -1.),
                corner(1., 1., -1.),
                corner(1., 1., 1.),
                corner(-1., 1., 1.),
            ],
            Vec3::Y,
        ),
        (
            [
                corner(-1., -1., 1.),
                corner(1., -1., 1.),
                corner(1., 1., 1.),
                corner(-1., 1., 1.),
            ],
            turn * Vec3::Z,
        ),
        (
            [
                corner(-1., -1., -1.),
                corner(1., -1., -1.),
                corner(1., 1., -1.),
                corner(-1., 1., -1.),
            ],
            turn * -Vec3::Z,
        ),
        (
            [
                corner(1., -1., -1.),
                corner(1., -1., 1.),
                corner(1., 1., 1.),
                corner(1., 1., -1.),
            ],
            turn * Vec3::X,
        ),
        (
            [
                corner(-1., -1., -1.),
                corner(-1., -1., 1.),
                corner(-1., 1., 1.),
                corner(-1., 1., -1.),
            ],
            turn * -Vec3::X,
        ),
    ];
    for (quad, normal) in faces {
        mesh.quad(quad, normal, color);
    }
}

fn order_pins(
    book: Res<OrderBook>,
    selection: Res<Selection>,
    frame: Option<NonSend<SceneFrame>>,
    mut stats: ResMut<OverlayStats>,
    mut pins: ResMut<OrderPins>,
) {
    let Some(frame) = frame else { return };
    if !(book.is_changed() || selection.is_changed()) {
        return;
    }
    let selected = match &selection.incident {
        Some(Incident::Order(id)) => Some(id.as_str()),
        _ => None,
    };
    let mut out = Vec::new();
    let mut overdue = 0;
    for o in book.orders.values().filter(|o| o.is_open()) {
        let Some(at) = o.position.and_then(|p| frame.0.to_local(p).ok()) else {
            continue;
        };
        // Red as on the orders list: its next deadline (signing, then resolving) passed.
        let late = o.overdue || (o.status == OrderStatus::Reported && o.signed_late);
        overdue += usize::from(late);
        let look = if selected == Some(o.id.as_str()) {
            PinLook::Selected
        } else if late {
            PinLook::Overdue
        } else if o.urgency != Urgency::Normal {
            PinLook::Urgent
        } else {
            PinLook::Open
        };
        out.push(Pin {
            id: o.id.clone(),
            base: at.to_world(0.0),
            look,
        });
    }
    stats.pins = out.len();
    stats.pins_overdue = overdue;
    if pins.pins != out {
        pins.pins = out;
    }
}

/// The value of a named reading.
fn reading(readings: &Readings, names: &[&str]) -> Option<f64> {
    readings
        .0
        .iter()
        .find(|r| names.contains(&r.name.as_str()))
        .map(|r| r.value)
        .filter(|v| v.is_finite())
}

#[allow(clippy::too_many_arguments)]
fn sensors(
    changed: Query<(Entity, &IotDevice, &Readings, &MarkerAt), Changed<Readings>>,
    mut gone: RemovedComponents<IotDevice>,
    roads: Res<RoadLines>,
    mut s: Local<Sensors>,
    mut out: ResMut<OverlayMeshes>,
    mut stats: ResMut<OverlayStats>,
) {
    let mut traffic_changed = false;
    let mut parking_changed = false;
    if roads.is_changed() {
        s.index = Some(RTree::bulk_load(
            roads
                .0
                .iter()
                .enumerate()
                .filter(|(_, r)| r.class != RoadClass::Local)
                .flat_map(|(i, r)| {
                    r.line.0.windows(2).map(move |w| Segment {
                        road: i,
                        a: [w[0].x, w[0].y],
                        b: [w[1].x, w[1].y],
                    })
                })
                .collect(),
        ));
        s.sections.clear();
        traffic_changed = true;
    }
    for e in gone.read() {
        traffic_changed |= s.traffic.remove(&e).is_some();
        s.sections.remove(&e);
        parking_changed |= s.parking.remove(&e).is_some();
    }
    for (e, device, readings, at) in &changed {
        match device.kind {
            DeviceKind::TrafficFlow => {
                let Some(speed) = reading(readings, &["speed", "speed_kmh"]) else {
                    continue;
                };
                let p = LocalPoint::from_world(at.0);
                let was = s.traffic.insert(
                    e,
                    (
                        Coord {
                            x: p.east_m,
                            y: p.north_m,
                        },
                        speed,
                    ),
                );
                traffic_changed |=
                    was.is_none_or(|(_, v)| traffic_level(v) != traffic_level(speed));
            }
            DeviceKind::ParkingSpace => {
                let Some(occupied) = reading(readings, &["occupied"]) else {
                    continue;
                };
                let free = occupied < 0.5;
                let was = s.parking.insert(e, (at.0, free));
                parking_changed |= was.is_none_or(|(_, f)| f != free);
            }
            _ => {}
        }
    }
    if traffic_changed {
        let Sensors {
            traffic,
            index,
            sections,
            ..
        } = &mut *s;
        let mut mesh = MeshData::default();
        let mut levels = [0; 3];
        for (e, (at, speed)) in traffic.iter() {
            let found = sections.entry(*e).or_insert_with(|| {
                let index = index.as_ref()?;
                let seg = index.nearest_neighbor(&[at.x, at.y])?;
                if seg.distance_2(&[at.x, at.y]) > SNAP_M * SNAP_M {
                    return None;
                }
                let road = &roads.0[seg.road];
                Some((section(&road.line, *at, SECTION_HALF_M), road.width_m))
            });
            let Some((line, width)) = found else { continue };
            let level = traffic_level(*speed);
            crate::city::mesh::ribbon(
                line,
                *width + 6.0,
                TRAFFIC_Y,
                TRAFFIC_COLORS[level],
                &mut mesh,
            );
            levels[level] += 1;
        }
        stats.traffic = levels;
        out.put(Layer::Traffic, mesh);
    }
    if parking_changed {
        let mut mesh = MeshData::default();
        let mut free = 0;
        for (at, _) in s.parking.values().filter(|(_, free)| *free) {
            let c = Vec3::new(at.x, PARKING_Y, at.z);
            let h = 4.0;
            mesh.quad(
                [
                    c + Vec3::new(-h, 0.0, -h),
                    c + Vec3::new(h, 0.0, -h),
                    c + Vec3::new(h, 0.0, h),
                    c + Vec3::new(-h, 0.0, h),
                ],
                Vec3::Y,
                PARKING_COLOR,
            );
            free += 1;
        }
        stats.free_parking = free;
        out.put(Layer::Parking, mesh);
    }
}

/// The approved routes as dashes (30 m on, 20 m off).
fn vehicle_routes(
    rules: Option<Res<VehicleRules>>,
    mut out: ResMut<OverlayMeshes>,
    mut stats: ResMut<OverlayStats>,
) {
    let Some(rules) = rules else { return };
    if !rules.is_changed() {
        return;
    }
    let mut mesh = MeshData::default();
    let mut n = 0;
    for (_, line) in rules.routes() {
        for dash in dashes(line, 30.0, 20.0) {
            crate::city::mesh::ribbon(&dash, 7.0, ROUTE_Y, ROUTE_COLOR, &mut mesh);
        }
        n += 1;
    }
    stats.routes = n;
    out.put(Layer::Routes, mesh);
}

/// `line` cut into dashes `on` metres long with `off` metres between them.
fn dashes(line: &LineString<f64>, on: f64, off: f64) -> Vec<LineString<f64>> {
    let total: f64 = line
        .0
        .windows(2)
        .map(|w| (w[1] - w[0]).x.hypot((w[1] - w[0]).y))
        .sum();
    let mut out = Vec::new();
    let mut start = 0.0;
    while start < total {
        let mid = start + on / 2.0;
        let piece = section(line, point_at(line, mid), on / 2.0);
        if piece.0.len() >= 2 {
            out.push(piece);
        }
        start += on + off;
    }
    out
}

/// The point `s` metres along `line`.
fn point_at(line: &LineString<f64>, s: f64) -> Coord<f64> {
    let mut run = 0.0;
    for w in line.0.windows(2) {
        let len = (w[1] - w[0]).x.hypot((w[1] - w[0]).y);
        if run + len >= s && len > 0.0 {
            return w[0] + (w[1] - w[0]) * ((s - run) / len);
        }
        run += len;
    }
    line.0.last().copied().unwrap_or(Coord { x: 0.0, y: 0.0 })
}

/// Places every key vehicle: its last report moved on along its heading at its speed
/// for the twin time since (at most [`EXTRAPOLATE_S`]).
fn move_vehicles(
    vehicles: Res<Vehicles>,
    rules: Option<Res<VehicleRules>>,
    clock: Res<TwinClock>,
    frame: Option<NonSend<SceneFrame>>,
    mut marks: ResMut<VehicleMarks>,
    mut stats: ResMut<OverlayStats>,
) {
    let (Some(frame), Some(rules)) = (frame, rules) else {
        return;
    };
    if vehicles.0.is_empty() && marks.0.is_empty() {
        return;
    }
    let now = clock.now();
    let mut out = Vec::with_capacity(vehicles.0.len());
    for (id, (ts, report)) in &vehicles.0 {
        let Ok(at) = frame.0.to_local(report.position) else {
            continue;
        };
        let heading = report.heading_deg.filter(|h| h.is_finite());
        let yaw = heading.map_or(0.0, |h| -(h as f32).to_radians());
        let dt = ((now - *ts).num_milliseconds() as f64 / 1000.0).clamp(0.0, EXTRAPOLATE_S);
        let moved = match (heading, report.speed_kmh.filter(|v| v.is_finite())) {
            (Some(h), Some(v)) => {
                let d = v / 3.6 * dt;
                let r = h.to_radians();
                LocalPoint::new(at.east_m + d * r.sin(), at.north_m + d * r.cos())
            }
            _ => at,
        };
        let check = rules.check(report, *ts, &frame.0);
        out.push(VehicleMark {
            id: id.clone(),
            kind: report.kind,
            at: moved.to_world(0.0),
            yaw,
            off_rules: check.off_route == Some(true) || check.in_restricted_zone,
        });
    }
    stats.vehicles = out.len();
    stats.vehicles_off_rules = out.iter().filter(|m| m.off_rules).count();
    marks.0 = out;
}

/// The selected incident's linked cameras: a line from the incident to each and the
/// fan each one sees (its heading, field of view and range).
#[allow(clippy::too_many_arguments)]
fn incident_links(
    selection: Res<Selection>,
    alerts: Res<Alerts>,
    book: Res<OrderBook>,
    entities: Res<FeedEntities>,
    cameras: Query<(&VideoCamera, &MarkerAt)>,
    frame: Option<NonSend<SceneFrame>>,
    mut out: ResMut<OverlayMeshes>,
    mut stats: ResMut<OverlayStats>,
) {
    let Some(frame) = frame else { return };
    if !(selection.is_changed() || alerts.is_changed() || book.is_changed()) {
        return;
    }
    // Nothing selected and nothing drawn: the alerts and orders changing (most frames
    // of a busy feed) change nothing here.
    if selection.incident.is_none() && out.data[Layer::Links.slot()].is_empty() {
        return;
    }
    let (position, linked) = match &selection.incident {
        Some(Incident::Alert(id)) => alerts
            .get(id)
            .map(|a| (a.position, a.cameras.clone()))
            .unwrap_or_default(),
        Some(Incident::Order(id)) => book
            .orders
            .get(id)
            .map(|o| (o.position, o.cameras.clone()))
            .unwrap_or_default(),
        Some(Incident::Project(_)) | None => (None, Vec::new()),
    };
    let mut mesh = MeshData::default();
    let from = position.and_then(|p| frame.0.to_local(p).ok());
    let mut n = 0;
    for id in &linked {
        let Some((camera, at)) = entities.get(id).and_then(|e| cameras.get(e).ok()) else {
            continue;
        };
        let cam = LocalPoint::from_world(at.0);
        let c = Coord {
            x: cam.east_m,
            y: cam.north_m,
        };
        if let Some(from) = from {
            let line = LineString(vec![
                Coord {
                    x: from.east_m,
                    y: from.north_m,
                },
                c,
            ]);
            crate::city::mesh::ribbon(&line, 3.0, LINK_Y, [0.2, 0.9, 1.0, 0.9], &mut mesh);
        }
        let fan = view_fan(
            c,
            camera.heading_deg,
            camera.fov_deg.unwrap_or(60.0),
            camera.range_m.unwrap_or(80.0),
        );
        crate::city::mesh::flat(&fan, LINK_Y, LINK_COLOR, &mut mesh);
        n += 1;
    }
    stats.links = n;
    out.put(Layer::Links, mesh);
}

/// What a camera sees on the ground: a fan of `fov` degrees and `range` metres about
/// its heading (a whole disc when it turns freely, with no heading).
pub fn view_fan(at: Coord<f64>, heading: Option<f64>, fov: f64, range: f64) -> Polygon<f64> {
    let (mid, half) = match heading.filter(|h| h.is_finite()) {
        Some(h) => (h, fov.clamp(1.0, 360.0) / 2.0),
        None => (0.0, 180.0),
    };
    let steps = 16;
    let mut ring = Vec::with_capacity(steps + 3);
    if half < 180.0 {
        ring.push(at);
    }
    for i in 0..=steps {
        let a = (mid - half + 2.0 * half * i as f64 / steps as f64).to_radians();
        ring.push(Coord {
            x: at.x + range * a.sin(),
            y: at.y + range * a.cos(),
        });
    }
    Polygon::new(LineString(ring), Vec::new())
}

pub(super) use draw::plugin;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_section_is_the_line_either_side_of_the_nearest_point() {
        let line = LineString::from(vec![(0.0, 0.0), (1000.0, 0.0), (1000.0, 1000.0)]);
        let s = section(&line, Coord { x: 500.0, y: 30.0 }, 150.0);
        assert_eq!(
            s.0,
            vec![Coord { x: 350.0, y: 0.0 }, Coord { x: 650.0, y: 0.0 }]
        );
        // Round the corner: 100 m before it and 50 m after.
        let s = section(&line, Coord { x: 1000.0, y: 50.0 }, 150.0);
        assert_eq!(
            s.0,
            vec![
                Coord { x: 900.0, y: 0.0 },
                Coord { x: 1000.0, y: 0.0 },
                Coord {
                    x: 1000.0,
                    y: 200.0
                }
            ]
        );
        // Clipped at the line's start.
        let s = section(&line, Coord { x: -40.0, y: 0.0 }, 150.0);
        assert_eq!(
            s.0,
            vec![Coord { x: 0.0, y: 0.0 }, Coord { x: 150.0, y: 0.0 }]
        );
    }

    #[test]
    fn classes_and_levels() {
        assert_eq!(grid_class(0), None);
        assert_eq!(grid_class(1), Some(0));
        assert_eq!(grid_class(3), Some(1));
        assert_eq!(grid_class(4), Some(2));
        assert_eq!(grid_class(10), Some(3));
        assert_eq!(grid_class(500), Some(4));
        assert_eq!(traffic_level(45.0), 0);
        assert_eq!(traffic_level(30.0), 0);
        assert_eq!(traffic_level(29.9), 1);
        assert_eq!(traffic_level(15.0), 1);
        assert_eq!(traffic_level(14.9), 2);
    }

    #[test]
    fn dashes_cover_three_fifths_of_a_line() {
        let line = LineString::from(vec![(0.0, 0.0), (500.0, 0.0)]);
        let d = dashes(&line, 30.0, 20.0);
        assert_eq!(d.len(), 10);
        let on: f64 = d.iter().map(|l| l.0[l.0.len() - 1].x - l.0[0].x).sum();
        assert!((on - 300.0).abs() < 1e-6, "{on}");
    }

    #[test]
    fn a_fan_opens_about_the_heading() {
        use geo::{Area, Centroid};
        let fan = view_fan(Coord { x: 0.0, y: 0.0 }, Some(90.0), 60.0, 100.0);
        let c = fan.centroid().expect("a fan");
        assert!(c.x() > 50.0 && c.y().abs() < 1.0, "{c:?}");
        // A sixth of a disc, less what 16 chords cut off.
        let area = fan.unsigned_area();
        let sector = std::f64::consts::PI * 100.0 * 100.0 / 6.0;
        assert!(area < sector && area > sector * 0.98, "{area} vs {sector}");
    }
}
