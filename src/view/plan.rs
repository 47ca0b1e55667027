//! A renovation scenario drawn in the 3D view (`--project ID --scenario N`, 0 = today):
//! the site's buildings as the scenario leaves them (new ones warm orange), its glTF
//! elements (elevators violet), green, parking, paths and works, the ground coloured by
//! hours of sun on the standard day and every window-sill point marked by the standard.
//! The city's own meshes leave the site out (`Scene::hidden_site`).

use crate::city::CurrentScene;
use crate::city::mesh::{self, MeshData};
use crate::geo::LocalPoint;
use crate::plan::project::{LoadedProject, ModelRole, Standing};
use crate::plan::review::{Review, ScenarioReview, SunSettings, required};
use bevy::camera::visibility::RenderLayers;
use bevy::camera::{SubCameraView, Viewport};
use bevy::prelude::*;
use crossbeam_channel::{Receiver, bounded};

/// Which project and scenarios to draw, and how.
#[derive(Resource, Debug, Clone)]
pub struct PlanRequest {
    pub project: String,
    /// 0: today; 1…: the project's scenarios in order.
    pub scenario: usize,
    /// What it is compared with (the left side of a swipe or of side-by-side views).
    pub compare: usize,
    pub mode: PlanMode,
    /// Where the swipe line stands, as a share of the window's width.
    pub swipe: f32,
    /// Single view: show `compare` instead of `scenario` (before/after toggle).
    pub showing_before: bool,
    /// The standard day and how sunlight is sampled.
    pub sun: SunSettings,
    /// Shadows on the map at this true solar time (hours), or none.
    pub shadows_at: Option<f64>,
    /// The shadows' time runs through the day's window (and starts over).
    pub shadows_playing: bool,
    /// A measuring tool chosen at start (`--measure`).
    pub measure: Option<super::measure::Tool>,
}

/// How fast the shadows' time runs when played: solar hours per second.
pub const SHADOW_PLAY_HOURS_PER_S: f64 = 1.0 / 3.0;

/// How the scenarios are shown.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum PlanMode {
    /// One view; before/after toggled.
    #[default]
    Single,
    /// One view split by a draggable line: `compare` left of it, `scenario` right.
    Swipe,
    /// Two views side by side with the same viewpoint: `compare` | `scenario`.
    SideBySide,
}

impl PlanRequest {
    /// The scenario the main (left) view shows: the compared one in a swipe or side by
    /// side, in a single view the proposal or, toggled, the compared one.
    pub fn left(&self) -> usize {
        match self.mode {
            PlanMode::Single if !self.showing_before => self.scenario,
            _ => self.compare,
        }
    }
}

impl PlanMode {
    pub fn parse(s: &str) -> Result<Self, String> {
        match s {
            "single" => Ok(PlanMode::Single),
            "swipe" => Ok(PlanMode::Swipe),
            "side-by-side" => Ok(PlanMode::SideBySide),
            _ => Err(format!(
                "'{s}' is not a plan mode (single, swipe, side-by-side)"
            )),
        }
    }
}

/// The loaded project and its review, for the planner's panel.
#[derive(Resource, Debug, Clone)]
pub struct PlanData {
    pub project: LoadedProject,
    pub review: Review,
    pub notes: Vec<crate::plan::notes::Note>,
}

/// Physical pixels the planner's panel takes on the left: the views are centred on
/// what is right of it.
#[derive(Resource, Debug, Default, Clone, Copy)]
pub struct PlanPanelWidth(pub u32);

/// The second view: the proposal, right of the swipe line or on the right.
#[derive(Component)]
pub struct PlanRightCamera;

/// Whether the scenario is drawn yet (a shot waits for it).
#[derive(Resource, Debug, Default, Clone)]
pub struct PlanStatus {
    pub drawn: bool,
    pub failed: Option<String>,
}

#[derive(Resource)]
struct PlanLoader(Receiver<Result<(LoadedProject, Review), String>>);

pub(super) fn plugin(app: &mut App) {
    app.add_systems(
        Startup,
        start_loading.run_if(resource_exists::<PlanRequest>),
    )
    .init_resource::<PlanPanelWidth>()
    .add_systems(
        Update,
        (
            draw_when_loaded.run_if(resource_exists::<PlanLoader>),
            (toggle_before_after, arrange_views)
                .chain()
                .run_if(resource_exists::<PlanRequest>),
            (play_shadows, draw_shadows)
                .chain()
                .run_if(resource_exists::<PlanRequest>.and_then(resource_exists::<PlanData>)),
        ),
    );
}

/// The ground shadows of the scenarios shown, drawn on their layers.
#[derive(Component)]
struct PlanShadow;

/// Runs the shadows' time through the day's window when played (Bevy's clock, so a
/// test steps it).
fn play_shadows(time: Res<Time>, data: Res<PlanData>, mut request: ResMut<PlanRequest>) {
    if !request.shadows_playing {
        return;
    }
    let (start, end) = data.review.settings.day.window();
    let now = request.shadows_at.unwrap_or(start);
    let mut next = now + time.delta_secs_f64() * SHADOW_PLAY_HOURS_PER_S;
    if next > end {
        next = start;
    }
    request.shadows_at = Some(next);
}

/// What the drawn shadows show: the minute and the scenarios.
type ShadowKey = (i64, usize, Option<usize>);

/// Redraws the shadows when the time (to the minute) or the scenarios shown change;
/// a union of a few thousand pieces, a few milliseconds.
fn draw_shadows(
    mut commands: Commands,
    request: Res<PlanRequest>,
    data: Res<PlanData>,
    drawn: Query<Entity, With<PlanShadow>>,
    mut meshes: ResMut<Assets<Mesh>>,
    mut materials: ResMut<Assets<StandardMaterial>>,
    mut material: Local<Option<Handle<StandardMaterial>>>,
    mut last: Local<Option<ShadowKey>>,
) {
    let (start, end) = data.review.settings.day.window();
    let key = request.shadows_at.map(|t| {
        let right = (request.mode != PlanMode::Single).then_some(request.scenario);
        (
            (t.clamp(start, end) * 60.0).round() as i64,
            request.left(),
            right,
        )
    });
    if *last == key {
        return;
    }
    *last = key;
    for e in &drawn {
        commands.entity(e).despawn();
    }
    let Some((minute, left, right)) = key else {
        return;
    };
    let Some(sun) = crate::plan::shadow::step_at(&data.review.path, minute as f64 / 60.0) else {
        return;
    };
    let material = material
        .get_or_insert_with(|| {
            materials.add(StandardMaterial {
                base_color: Color::srgba(0.03, 0.04, 0.18, 0.85),
                alpha_mode: AlphaMode::Blend,
                unlit: true,
                ..default()
            })
        })
        .clone();
    for k in std::iter::once(left).chain(right.filter(|r| *r != left)) {
        let Some(standing) = data.project.get(k) else {
            continue;
        };
        let started = std::time::Instant::now();
        let Some(shadow) = crate::plan::shadow::of_scenario(&data.project, standing, sun) else {
            continue;
        };
        let said = format!(
            "plan: shadows at {} true solar time (sun at azimuth {:.0}°, elevation {:.0}°) on {}: {:.0} m² in {:.0} ms",
            crate::plan::shadow::clock(minute as f64 / 60.0),
            sun.azimuth_deg,
            sun.elevation_deg,
            standing.name,
            geo::Area::unsigned_area(&shadow),
            started.elapsed().as_secs_f64() * 1e3
        );
        // Played, a line a minute of solar time would flood the log.
        if request.shadows_playing {
            debug!("{said}");
        } else {
            info!("{said}");
        }
        let mut flat = MeshData::default();
        for p in &shadow.0 {
            // Facing up, as the city's footprints are turned before they are drawn.
            let p = geo::Orient::orient(p, geo::orient::Direction::Default);
            mesh::flat(&p, SHADOW_Y_M, [1.0; 4], &mut flat);
        }
        if flat.is_empty() {
            continue;
        }
        commands.spawn((
            PlanShadow,
            Mesh3d(meshes.add(flat.into_mesh())),
            MeshMaterial3d(material.clone()),
            Transform::default(),
            RenderLayers::layer(layer_of(k)),
        ));
    }
}

/// Shadows lie over the ground's colours, green, parking, paths and works.
const SHADOW_Y_M: f32 = 0.7;

/// Spawned once the scenarios are drawn, well after the wall's camera took the egui
/// context (bevy_egui gives it to the first camera it sees).
fn spawn_right_camera(commands: &mut Commands) {
    commands.spawn((
        PlanRightCamera,
        Camera3d::default(),
        Camera {
            order: 1,
            is_active: false,
            ..default()
        },
        Msaa::Off,
        RenderLayers::layer(0),
    ));
}

/// `B` shows today (or the compared scenario) in place of the proposal in a single view.
fn toggle_before_after(
    keys: Res<ButtonInput<KeyCode>>,
    egui: Option<Res<bevy_egui::input::EguiWantsInput>>,
    mut request: ResMut<PlanRequest>,
) {
    if egui.is_some_and(|e| e.wants_any_keyboard_input()) {
        return;
    }
    if keys.just_pressed(KeyCode::KeyB) {
        request.showing_before = !request.showing_before;
    }
}

/// The layer a scenario's meshes are on (0 is the city's).
fn layer_of(scenario: usize) -> usize {
    scenario + 1
}

type LeftView<'a> = (
    Entity,
    &'a mut Camera,
    &'a Transform,
    &'a Projection,
    Option<&'a mut RenderLayers>,
);
type RightView<'a> = (
    &'a mut Camera,
    &'a mut Transform,
    &'a mut Projection,
    &'a mut RenderLayers,
);

fn same_viewport(a: &Option<Viewport>, b: &Option<Viewport>) -> bool {
    match (a, b) {
        (None, None) => true,
        (Some(a), Some(b)) => {
            a.physical_position == b.physical_position && a.physical_size == b.physical_size
        }
        _ => false,
    }
}

/// Places the two views for the mode; the second follows the first's viewpoint.
fn arrange_views(
    mut commands: Commands,
    request: Res<PlanRequest>,
    panel: Option<Res<PlanPanelWidth>>,
    window: Option<Single<&Window, With<bevy::window::PrimaryWindow>>>,
    mut left: Query<LeftView, (With<super::camera::WallCamera>, Without<PlanRightCamera>)>,
    mut right: Query<RightView, With<PlanRightCamera>>,
) {
    let (Some(window), Ok(l), Ok(r)) = (window, left.single_mut(), right.single_mut()) else {
        return;
    };
    let (lentity, mut lcam, ltf, lproj, llayers) = l;
    let (mut rcam, mut rtf, mut rproj, mut rlayers) = r;
    let (w, h) = (window.physical_width(), window.physical_height());
    if w < 4 || h < 4 {
        return;
    }
    let shown = request.left();
    let want_left = RenderLayers::from_layers(&[0, layer_of(shown)]);
    match llayers {
        Some(mut layers) => {
            if *layers != want_left {
                *layers = want_left;
            }
        }
        None => {
            commands.entity(lentity).insert(want_left);
        }
    }
    let want_right = RenderLayers::from_layers(&[0, layer_of(request.scenario)]);
    if *rlayers != want_right {
        *rlayers = want_right;
    }
    if *rtf != *ltf {
        *rtf = *ltf;
    }
    if let (Projection::Perspective(l), Projection::Perspective(r)) = (lproj, rproj.as_mut())
        && (r.fov != l.fov || r.near != l.near || r.far != l.far)
    {
        r.fov = l.fov;
        r.near = l.near;
        r.far = l.far;
    }
    let viewport = |x0: u32, x1: u32| Viewport {
        physical_position: UVec2::new(x0, 0),
        physical_size: UVec2::new(x1.saturating_sub(x0).max(1), h),
        ..default()
    };
    // The views fill what the panel leaves: a virtual frame from its edge to the
    // window's right, of which each camera draws its part.
    let p = panel.map_or(0, |p| p.0).min(w / 2);
    let sub = |full: u32, from: i64, size: u32| SubCameraView {
        full_size: UVec2::new(full.max(1), h),
        offset: Vec2::new(from as f32, 0.0),
        size: UVec2::new(size.max(1), h),
    };
    let split = ((request.swipe.clamp(0.05, 0.95) * w as f32) as u32).clamp(p + 1, w - 1);
    let mid = p + (w - p) / 2;
    let (lv, lsub, rv, rsub, active) = match request.mode {
        PlanMode::Single => (None, Some(sub(w - p, -(p as i64), w)), None, None, false),
        PlanMode::SideBySide => (
            Some(viewport(0, mid)),
            Some(sub(mid - p, -(p as i64), mid)),
            Some(viewport(mid, w)),
            None,
            true,
        ),
        PlanMode::Swipe => (
            Some(viewport(0, split)),
            Some(sub(w - p, -(p as i64), split)),
            Some(viewport(split, w)),
            Some(sub(w - p, i64::from(split - p), w - split)),
            true,
        ),
    };
    if !same_viewport(&lcam.viewport, &lv) {
        lcam.viewport = lv;
    }
    if lcam.sub_camera_view != lsub {
        lcam.sub_camera_view = lsub;
    }
    if !same_viewport(&rcam.viewport, &rv) {
        rcam.viewport = rv;
    }
    if rcam.sub_camera_view != rsub {
        rcam.sub_camera_view = rsub;
    }
    if rcam.is_active != active {
        rcam.is_active = active;
    }
}

fn start_loading(mut commands: Commands, scene: Res<CurrentScene>, request: Res<PlanRequest>) {
    commands.init_resource::<PlanStatus>();
    let (tx, rx) = bounded(1);
    let scene = scene.0.clone();
    let id = request.project.clone();
    let sun = request.sun;
    let spawned = std::thread::Builder::new()
        .name("plan-loader".into())
        .spawn(move || {
            let result =
                crate::plan::cli::load_project(&scene, Some(&id)).and_then(|(project, frame)| {
                    let review = crate::plan::review::review(&project, &frame, sun)?;
                    Ok((project, review))
                });
            let _ = tx.send(result);
        });
    match spawned {
        Ok(_) => {
            commands.insert_resource(PlanLoader(rx));
        }
        Err(e) => commands.insert_resource(PlanStatus {
            drawn: false,
            failed: Some(format!("cannot start the plan loader: {e}")),
        }),
    }
}

fn draw_when_loaded(
    mut commands: Commands,
    loader: Res<PlanLoader>,
    request: Res<PlanRequest>,
    mut status: ResMut<PlanStatus>,
    mut meshes: ResMut<Assets<Mesh>>,
    mut materials: ResMut<Assets<StandardMaterial>>,
) {
    let result = match loader.0.try_recv() {
        Ok(r) => r,
        Err(crossbeam_channel::TryRecvError::Empty) => return,
        Err(crossbeam_channel::TryRecvError::Disconnected) => {
            Err("the plan loader stopped without a result".into())
        }
    };
    commands.remove_resource::<PlanLoader>();
    let (project, review) = match result {
        Ok(r) => r,
        Err(e) => {
            error!("plan: {e}");
            status.failed = Some(e);
            return;
        }
    };
    let count = project.scenarios.len();
    if request.scenario > count || request.compare > count {
        let e = format!(
            "project '{}' has {count} scenarios; there is no scenario {}",
            project.spec.id,
            request.scenario.max(request.compare)
        );
        error!("plan: {e}");
        status.failed = Some(e);
        return;
    }
    let lit = materials.add(StandardMaterial {
        base_color: Color::WHITE,
        perceptual_roughness: 0.9,
        ..default()
    });
    let unlit = materials.add(StandardMaterial {
        base_color: Color::WHITE,
        unlit: true,
        ..default()
    });
    for (k, (standing, sun)) in project.all().zip(review.all()).enumerate() {
        info!(
            "plan: drawing {} · {} ({} buildings, {} windows) on layer {}",
            project.spec.name,
            standing.name,
            standing.buildings.len(),
            sun.sun.windows.len(),
            layer_of(k)
        );
        let (solid, flat) = meshes_of(standing, sun, review.settings);
        for (data, material) in [(solid, lit.clone()), (flat, unlit.clone())] {
            if !data.is_empty() {
                commands.spawn((
                    Mesh3d(meshes.add(data.into_mesh())),
                    MeshMaterial3d(material),
                    Transform::default(),
                    RenderLayers::layer(layer_of(k)),
                ));
            }
        }
    }
    let notes = crate::plan::notes::load(&project.notes_path).unwrap_or_else(|e| {
        warn!("plan: {e}");
        Vec::new()
    });
    spawn_right_camera(&mut commands);
    commands.insert_resource(PlanData {
        project,
        review,
        notes,
    });
    status.drawn = true;
}

fn world(x: f64, y: f64, up: f64) -> Vec3 {
    LocalPoint::new(x, y).to_world(up as f32)
}

fn srgb(c: [u8; 3]) -> [f32; 4] {
    let l = |v: u8| Color::srgb_u8(c[0], c[1], c[2]).to_linear().to_f32_array()[v as usize];
    [l(0), l(1), l(2), 1.0]
}

/// What is drawn: solid, lit geometry (buildings, elements) and flat, unlit overlays.
fn meshes_of(
    standing: &Standing,
    review: &ScenarioReview,
    settings: SunSettings,
) -> (MeshData, MeshData) {
    let mut solid = MeshData::default();
    let mut flat = MeshData::default();
    let (start, end) = settings.day.window();
    // The ground by hours of sun, just above the land cover.
    let half = settings.ground_spacing_m / 2.0;
    for (sample, hours) in &review.sun.ground {
        let c = crate::plan::report::hours_color(*hours, end - start);
        let rgba = c.to_rgba8();
        let color = srgb([rgba.r, rgba.g, rgba.b]);
        let (x, y) = (sample.at[0], sample.at[1]);
        flat.quad(
            [
                world(x - half, y - half, 0.25),
                world(x + half, y - half, 0.25),
                world(x + half, y + half, 0.25),
                world(x - half, y + half, 0.25),
            ],
            Vec3::Y,
            color,
        );
    }
    for g in &standing.green {
        for p in &g.0 {
            mesh::flat(p, 0.4, srgb([60, 170, 80]), &mut flat);
        }
    }
    for (p, _) in &standing.parking {
        for p in &p.0 {
            mesh::flat(p, 0.45, srgb([90, 110, 160]), &mut flat);
        }
    }
    for line in &standing.paths {
        mesh::ribbon(line, 3.0, 0.5, srgb([235, 235, 235]), &mut flat);
    }
    for (work, line) in &standing.works {
        mesh::ribbon(line, 1.2, 0.6, srgb(work.rgb()), &mut flat);
    }
    for b in &standing.buildings {
        let (wall, roof) = if b.new {
            (srgb([226, 132, 52]), srgb([240, 170, 100]))
        } else {
            (srgb([150, 156, 166]), srgb([190, 194, 200]))
        };
        for p in &b.footprint.0 {
            let p = geo::Orient::orient(p, geo::orient::Direction::Default);
            mesh::extrude(&p, 0.0, b.height_m as f32, wall, roof, &mut solid);
        }
    }
    for m in &standing.models {
        let color = match m.role {
            ModelRole::Elevator => srgb([150, 80, 230]),
            ModelRole::Facility(_) => srgb([226, 132, 52]),
            ModelRole::Structure => srgb([150, 110, 80]),
        };
        for t in &m.triangles {
            let v = t.map(|p| world(p[0], p[1], p[2]));
            let n = (v[1] - v[0]).cross(v[2] - v[0]).normalize_or_zero();
            solid.triangle(v, n, color);
        }
    }
    // Windows: a 0.7 m square on the façade, green when the standard is met, violet
    // when only an added elevator makes it miss, red when it misses.
    for w in &review.sun.windows {
        let Some(normal) = w.sample.facing else {
            continue;
        };
        let req = required(w, settings.day);
        let color = if w.after + 1e-9 >= req {
            srgb([40, 200, 90])
        } else if w.without_elevators.is_some_and(|f| f + 1e-9 >= req) {
            srgb([170, 80, 255])
        } else {
            srgb([240, 40, 40])
        };
        let [x, y, z] = w.sample.at;
        let (ox, oy) = (normal[0] * 0.05, normal[1] * 0.05);
        let (tx, ty) = (-normal[1] * 0.35, normal[0] * 0.35);
        let n = world(normal[0], normal[1], 0.0) - world(0.0, 0.0, 0.0);
        flat.quad(
            [
                world(x + ox - tx, y + oy - ty, z - 0.35),
                world(x + ox + tx, y + oy + ty, z - 0.35),
                world(x + ox + tx, y + oy + ty, z + 0.35),
                world(x + ox - tx, y + oy - ty, z + 0.35),
            ],
            n,
            color,
        );
    }
    (solid, flat)
}
