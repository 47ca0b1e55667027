//! What the wall draws on top of the city: camera, lighting, device markers, the
//! selection highlight and picking. Only added with a window and renderer.

pub mod camera;
pub mod clusters;
pub mod framebench;
pub mod markers;
pub mod measure;
pub mod overlays;
pub mod plan;
pub mod pulse;
pub mod shot;
pub mod sync;
pub mod wall;

use crate::TwinSet;
use crate::city::{Buildings, CurrentScene, mesh::MeshData};
use crate::feeds::ingest::Status;
use crate::feeds::schema::DeviceStatus;
use crate::geo::SceneFrame;
use crate::spatial::BuildingIndex;
use bevy::prelude::*;
use bevy::window::PrimaryWindow;
use bevy_egui::input::EguiWantsInput;
use camera::{WallCamera, initial_orbit};

/// What the user clicked, shown in the inspector: a building, a device or camera
/// marker, or an incident (an alert or a work order): at most one of them.
#[derive(Resource, Debug, Default, Clone, PartialEq)]
pub struct Selection {
    pub building: Option<usize>,
    pub marker: Option<Entity>,
    pub incident: Option<Incident>,
}

/// An alert, a work order or a renovation project, by id: what the wall follows up.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Incident {
    Alert(String),
    Order(String),
    Project(String),
}

/// Select an incident (from the panels' lists, or a new critical alert while the
/// wall is idle) and fly the camera to its place.
#[derive(Message, Debug, Clone, PartialEq)]
pub struct SelectIncident(pub Incident);

/// A feed id to select once its entity exists (`--select`).
#[derive(Resource, Debug, Default, Clone)]
pub struct SelectFeedId(pub Option<String>);

/// A click this close to a marker (logical pixels) selects it rather than what
/// lies behind it.
const MARKER_PICK_RADIUS: f32 = 18.0;

/// When the process started, for the "city on screen after" figure.
#[derive(Resource, Debug, Clone, Copy)]
pub struct StartedAt(pub std::time::Instant);

/// Which named view the wall starts at (`--view`).
#[derive(Resource, Debug, Default, Clone)]
pub struct StartView(pub Option<String>);

pub fn status_color(status: DeviceStatus) -> Color {
    match status {
        DeviceStatus::Online => Color::srgb(0.15, 0.95, 0.55),
        DeviceStatus::Alarm => Color::srgb(1.0, 0.2, 0.15),
        DeviceStatus::Fault => Color::srgb(1.0, 0.7, 0.1),
        DeviceStatus::Offline => Color::srgb(0.45, 0.5, 0.55),
    }
}

/// The slot of a status in per-status counts: online, alarm, fault, offline.
pub fn status_slot(status: DeviceStatus) -> usize {
    match status {
        DeviceStatus::Online => 0,
        DeviceStatus::Alarm => 1,
        DeviceStatus::Fault => 2,
        DeviceStatus::Offline => 3,
    }
}

#[derive(Component)]
struct SelectionHighlight;

/// The selection halo of a marker.
#[derive(Component)]
struct HaloOf(Entity);

pub(super) fn plugin(app: &mut App) {
    app.init_resource::<Selection>()
        .init_resource::<SelectFeedId>()
        .add_message::<PickAt>()
        .add_message::<SelectIncident>()
        .init_resource::<StartView>()
        .insert_resource(ClearColor(Color::srgb(0.015, 0.025, 0.05)))
        .insert_resource(GlobalAmbientLight {
            color: Color::srgb(0.55, 0.65, 0.9),
            brightness: 250.0,
            affects_lightmapped_meshes: true,
        })
        .add_systems(Startup, setup)
        .add_systems(Update, hold_feeds_while_loading.before(TwinSet::Ingest))
        .add_systems(
            Update,
            (
                (
                    click_to_pick,
                    pick_building,
                    select_feed_id,
                    select_incident,
                )
                    .chain(),
                (highlight_selection, follow_selected_marker)
                    .chain()
                    .after(markers::file_markers),
                report_first_full_frame,
                fit_to_renderer,
                refit_outlines,
            )
                .in_set(TwinSet::View),
        );
    camera::plugin(app);
    clusters::plugin(app);
    markers::plugin(app);
    framebench::plugin(app);
    shot::plugin(app);
    plan::plugin(app);
    measure::plugin(app);
    pulse::plugin(app);
    overlays::plugin(app);
    wall::plugin(app);
}

/// The wall holds its feeds while the city loads (the sources wait on the bounded
/// channel), so the first messages' alerts and orders are placed in their district and
/// grid like every later one; a city that fails to load lets them through.
fn hold_feeds_while_loading(
    city: Res<crate::city::CityStatus>,
    mut config: ResMut<crate::feeds::ingest::IngestConfig>,
    mut holding: Local<bool>,
) {
    let loading = city.phase == crate::city::LoadPhase::Loading;
    if loading != *holding {
        *holding = loading;
        config.paused = loading;
    }
}

fn setup(
    mut commands: Commands,
    scene: Res<CurrentScene>,
    start: Res<StartView>,
    frame: Option<NonSend<SceneFrame>>,
    mut meshes: ResMut<Assets<Mesh>>,
    mut materials: ResMut<Assets<StandardMaterial>>,
) {
    let orbit = initial_orbit(&scene, start.0.as_deref(), frame.as_deref());
    commands.spawn((
        Camera3d::default(),
        Projection::Perspective(PerspectiveProjection {
            fov: 40f32.to_radians(),
            near: 5.0,
            far: 200_000.0,
            ..default()
        }),
        WallCamera {
            current: orbit,
            target: orbit,
        },
        orbit.transform(),
    ));
    // Cool moonlight from the south-east; the ambient term keeps shaded walls readable.
    commands.spawn((
        DirectionalLight {
            color: Color::srgb(0.75, 0.82, 1.0),
            illuminance: 2_500.0,
            shadow_maps_enabled: false,
            ..default()
        },
        Transform::from_xyz(800.0, 1500.0, 600.0).looking_at(Vec3::ZERO, Vec3::Y),
    ));
    commands.spawn((
        Mesh3d(meshes.add(Plane3d::default().mesh().size(80_000.0, 80_000.0))),
        MeshMaterial3d(materials.add(StandardMaterial {
            base_color: Color::srgb(0.03, 0.045, 0.07),
            perceptual_roughness: 1.0,
            ..default()
        })),
    ));
}

/// A software renderer (lavapipe: CI, machines without a GPU) shades every pixel on the
/// CPU, and 4× MSAA multiplies that work (measured: 1.07 → 0.67 s a frame at 720p). It
/// is turned off there; a GPU keeps Bevy's 4× MSAA.
///
/// Shadows stay off: the city is lit by a weak moon and its own windows, and a test
/// with the moon casting cascaded shadows (three cascades to 4 km) darkened nothing a
/// viewer could read, at a cost.
fn fit_to_renderer(
    mut commands: Commands,
    adapter: Option<Res<bevy::render::renderer::RenderAdapterInfo>>,
    cameras: Query<Entity, With<WallCamera>>,
    mut done: Local<bool>,
) {
    let (Some(adapter), Ok(camera)) = (adapter, cameras.single()) else {
        return;
    };
    if std::mem::replace(&mut *done, true) {
        return;
    }
    if format!("{:?}", adapter.device_type) == "Cpu" {
        info!("software renderer ({}): MSAA off", adapter.name);
        commands.entity(camera).insert(Msaa::Off);
    }
}

/// Boundaries stay crisp from any distance: a band is redrawn about its style's
/// `pixels` wide on screen whenever the camera has moved in or out by a third.
fn refit_outlines(
    cameras: Query<(&WallCamera, &Projection)>,
    window: Option<Single<&Window, With<PrimaryWindow>>>,
    mut outlines: Query<(&mut crate::city::AreaOutline, &Mesh3d)>,
    mut meshes: ResMut<Assets<Mesh>>,
) {
    let (Ok((cam, Projection::Perspective(p))), Some(window)) = (cameras.single(), window) else {
        return;
    };
    // Metres per pixel where the camera looks.
    let mpp = 2.0 * cam.current.distance_m as f64 * (p.fov as f64 / 2.0).tan()
        / window.resolution.height().max(1.0) as f64;
    for (mut outline, mesh) in &mut outlines {
        let want = (outline.style.pixels * mpp).max(outline.style.min_width_m);
        if (0.75..1.33).contains(&(want / outline.width_m)) {
            continue;
        }
        outline.width_m = want;
        let band = crate::city::outline_mesh(outline.shapes.iter(), &outline.style, want);
        if meshes.insert(&mesh.0, band.into_mesh()).is_err() {
            warn!("boundary mesh is gone; not redrawn");
        }
    }
}

/// Logs once how long it took from start until the whole city (layers and models) is
/// in a rendered frame.
fn report_first_full_frame(
    status: Res<crate::city::CityStatus>,
    started: Option<Res<StartedAt>>,
    mut reported: Local<bool>,
) {
    if *reported || status.phase != crate::city::LoadPhase::Ready || status.models_pending > 0 {
        return;
    }
    *reported = true;
    if let Some(started) = started {
        info!(
            "first full frame: city and models drawn {:.2?} after start (GIS load {:.2?})",
            started.0.elapsed(),
            status.load_time
        );
    }
}

/// A click at a window position (logical pixels): select whatever building is there.
#[derive(Message, Debug, Clone, Copy)]
pub struct PickAt(pub Vec2);

/// A click (press and release without dragging) asks to pick under the cursor.
fn click_to_pick(
    mouse: Res<ButtonInput<MouseButton>>,
    egui: Option<Res<EguiWantsInput>>,
    window: Single<&Window, With<PrimaryWindow>>,
    mut picks: MessageWriter<PickAt>,
    mut press_at: Local<Option<Vec2>>,
) {
    if egui.as_ref().is_some_and(|e| e.wants_any_pointer_input()) {
        *press_at = None;
        return;
    }
    let Some(cursor) = window.cursor_position() else {
        return;
    };
    if mouse.just_pressed(MouseButton::Left) {
        *press_at = Some(cursor);
    }
    if mouse.just_released(MouseButton::Left)
        && let Some(start) = press_at.take()
        && start.distance(cursor) <= 4.0
    {
        picks.write(PickAt(cursor));
    }
}

fn pick_building(
    mut picks: MessageReader<PickAt>,
    cameras: Query<(&Camera, &GlobalTransform), Or<(With<WallCamera>, With<wall::ScreenCamera>)>>,
    markers: Query<(Entity, &GlobalTransform), (With<Status>, With<Mesh3d>, Without<WallCamera>)>,
    index: Res<BuildingIndex>,
    buildings: Res<Buildings>,
    pins: Option<Res<overlays::OrderPins>>,
    shown: Option<Res<overlays::Overlays>>,
    projects: Res<crate::feeds::ingest::Projects>,
    frame: Option<NonSend<SceneFrame>>,
    mut selection: ResMut<Selection>,
) {
    for PickAt(cursor) in picks.read() {
        // The camera of the screen clicked (a split wall has one per screen).
        let Some((camera, transform)) = cameras.iter().find(|(c, _)| {
            c.logical_viewport_rect()
                .is_some_and(|r| r.contains(*cursor))
        }) else {
            continue;
        };
        // The nearest marker on screen within reach of the click wins.
        let marker = markers
            .iter()
            .filter_map(|(e, at)| {
                let p = camera.world_to_viewport(transform, at.translation()).ok()?;
                let d = p.distance(*cursor);
                (d <= MARKER_PICK_RADIUS).then_some((e, d))
            })
            .min_by(|a, b| a.1.total_cmp(&b.1));
        // A work order's pin head, when the pins are shown, competes with the markers.
        let pin = pins
            .as_ref()
            .filter(|_| shown.as_ref().is_none_or(|o| o.orders))
            .and_then(|pins| {
                pins.pins
                    .iter()
                    .filter_map(|pin| {
                        let p = camera.world_to_viewport(transform, pins.head(pin)).ok()?;
                        let d = p.distance(*cursor);
                        (d <= MARKER_PICK_RADIUS).then_some((&pin.id, d))
                    })
                    .min_by(|a, b| a.1.total_cmp(&b.1))
            });
        let picked = match (marker, pin) {
            (_, Some((id, d))) if marker.is_none_or(|(_, m)| d < m) => Selection {
                incident: Some(Incident::Order(id.clone())),
                ..default()
            },
            (Some((e, _)), _) => Selection {
                marker: Some(e),
                ..default()
            },
            _ => {
                let Ok(ray) = camera.viewport_to_world(transform, *cursor) else {
                    continue;
                };
                let building = index
                    .pick(&buildings, ray.origin, *ray.direction)
                    .map(|(i, _)| i);
                // The ground between buildings: a renovation site, when shown.
                let site = building
                    .is_none()
                    .then(|| {
                        ray.plane_intersection_point(Vec3::ZERO, InfinitePlane3d::new(Vec3::Y))
                    })
                    .flatten()
                    .filter(|_| shown.as_ref().is_none_or(|o| o.projects))
                    .and_then(|ground| {
                        let frame = frame.as_deref()?;
                        overlays::project_at(&projects, &frame.0, ground)
                    });
                Selection {
                    building,
                    incident: site.map(Incident::Project),
                    ..default()
                }
            }
        };
        match (&picked.building, &picked.marker, &picked.incident) {
            (Some(i), _, _) => info!("selected building {} at {cursor}", buildings.0[*i].id),
            (_, Some(e), _) => info!("selected marker {e} at {cursor}"),
            (_, _, Some(Incident::Order(id))) => info!("selected work order {id} at {cursor}"),
            (_, _, Some(Incident::Project(id))) => info!("selected project {id} at {cursor}"),
            _ => info!("nothing to select at {cursor}"),
        }
        if *selection != picked {
            *selection = picked;
        }
    }
}

/// `--select ID`: a device or camera once its entity exists, or a work order or alert
/// once it is known (selected as from the panels' lists, the camera flying to it).
fn select_feed_id(
    mut wanted: ResMut<SelectFeedId>,
    entities: Res<crate::feeds::ingest::FeedEntities>,
    book: Res<crate::ops::orders::OrderBook>,
    alerts: Res<crate::ops::alerts::Alerts>,
    mut incidents: MessageWriter<SelectIncident>,
    mut selection: ResMut<Selection>,
) {
    let Some(id) = &wanted.0 else {
        return;
    };
    if let Some(e) = entities.get(id) {
        info!("selected {id} ({e})");
        *selection = Selection {
            marker: Some(e),
            ..default()
        };
    } else if book.orders.contains_key(id) {
        info!("selected work order {id}");
        incidents.write(SelectIncident(Incident::Order(id.clone())));
    } else if alerts.get(id).is_some() {
        info!("selected alert {id}");
        incidents.write(SelectIncident(Incident::Alert(id.clone())));
    } else {
        return;
    }
    wanted.0 = None;
}

/// Selects the incidents asked for and flies the camera to the last one's place.
fn select_incident(
    mut asked: MessageReader<SelectIncident>,
    alerts: Res<crate::ops::alerts::Alerts>,
    book: Res<crate::ops::orders::OrderBook>,
    projects: Res<crate::feeds::ingest::Projects>,
    frame: Option<NonSend<SceneFrame>>,
    mut selection: ResMut<Selection>,
    mut cameras: Query<&mut WallCamera>,
) {
    let Some(SelectIncident(incident)) = asked.read().last() else {
        return;
    };
    let position = match incident {
        Incident::Alert(id) => alerts.get(id).and_then(|a| a.position),
        Incident::Order(id) => book.orders.get(id).and_then(|o| o.position),
        // A project's site: the middle of its ring or line.
        Incident::Project(id) => projects.0.get(id).and_then(|p| {
            let n = p.geometry.len() as f64;
            (n > 0.0).then(|| {
                let (lon, lat) = p
                    .geometry
                    .iter()
                    .fold((0.0, 0.0), |(x, y), g| (x + g.lon, y + g.lat));
                crate::geo::LonLat::new(lon / n, lat / n)
            })
        }),
    };
    *selection = Selection {
        incident: Some(incident.clone()),
        ..default()
    };
    let focus = position
        .zip(frame.as_deref())
        .and_then(|(p, f)| f.0.to_local(p).ok());
    if let (Some(local), Ok(mut camera)) = (focus, cameras.single_mut()) {
        camera.target.focus = local.to_world(0.0);
        camera.target.distance_m = camera.target.distance_m.min(900.0);
    }
}

/// The selection's glow: translucent cyan, unlit.
fn highlight_material(alpha: f32) -> StandardMaterial {
    StandardMaterial {
        base_color: Color::srgba(0.2, 0.85, 1.0, alpha),
        emissive: LinearRgba::rgb(0.3, 1.2, 2.0),
        alpha_mode: AlphaMode::Blend,
        unlit: true,
        ..default()
    }
}

fn highlight_selection(
    mut commands: Commands,
    selection: Res<Selection>,
    buildings: Res<Buildings>,
    existing: Query<Entity, With<SelectionHighlight>>,
    mut meshes: ResMut<Assets<Mesh>>,
    mut materials: ResMut<Assets<StandardMaterial>>,
) {
    if !selection.is_changed() {
        return;
    }
    for e in &existing {
        commands.entity(e).despawn();
    }
    if let Some(marker) = selection.marker {
        // A glowing shell around the marker, following its position and on-screen
        // scale ([`follow_selected_marker`]).
        commands.spawn((
            SelectionHighlight,
            HaloOf(marker),
            Mesh3d(meshes.add(Sphere::new(9.0).mesh().uv(16, 10))),
            MeshMaterial3d(materials.add(highlight_material(0.35))),
            Transform::default(),
            Visibility::Hidden,
        ));
        return;
    }
    let Some(b) = selection.building.and_then(|i| buildings.0.get(i)) else {
        return;
    };
    let mut mesh = MeshData::default();
    let glow = [1.0, 1.0, 1.0, 1.0];
    for polygon in &b.footprint {
        crate::city::mesh::extrude(polygon, 0.0, b.height_m as f32 + 0.5, glow, glow, &mut mesh);
    }
    commands.spawn((
        SelectionHighlight,
        Mesh3d(meshes.add(mesh.into_mesh())),
        MeshMaterial3d(materials.add(highlight_material(0.55))),
        // Slightly larger than the building so the glow wraps it instead of z-fighting.
        {
            let c = crate::geo::LocalPoint::new(
                b.bounds.map_or(0.0, |r| r.center().x),
                b.bounds.map_or(0.0, |r| r.center().y),
            )
            .to_world(0.0);
            let scale = Vec3::new(1.03, 1.0, 1.03);
            Transform::from_translation(c - c * scale).with_scale(scale)
        },
    ));
}

/// The halo stands where its marker is, at its scale, and shows while the marker is
/// drawn (a marker far from the view has no mesh, and no halo either).
fn follow_selected_marker(
    mut halos: Query<(&HaloOf, &mut Transform, &mut Visibility)>,
    markers: Query<Option<&Transform>, (With<Status>, Without<HaloOf>)>,
) {
    for (HaloOf(marker), mut t, mut v) in &mut halos {
        let Ok(drawn) = markers.get(*marker) else {
            continue;
        };
        if let Some(at) = drawn
            && *t != *at
        {
            *t = *at;
        }
        let want = if drawn.is_some() {
            Visibility::Inherited
        } else {
            Visibility::Hidden
        };
        v.set_if_neq(want);
    }
}
