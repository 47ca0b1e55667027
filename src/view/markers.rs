//! Device and camera markers: where they stand, which of them carry a mesh, and how
//! big they are drawn.
//!
//! A city has 350,000 of them, so nothing here walks them all each frame. Markers are
//! filed in a grid of 250 m squares as their messages arrive (a device appears, changes
//! status or moves), with counts by status per square for the cluster columns. Only
//! the squares near the camera's focus are *dressed*: their markers get a mesh,
//! material and visibility, and become render entities; the rest stay plain data that
//! the engine's transform and visibility passes barely see. Per frame the work is
//! proportional to what changed and to what is near the view, not to the city.

use super::clusters::{Counts, MarkerClusters};
use super::{status_color, status_slot};
use crate::TwinSet;
use crate::city::Buildings;
use crate::feeds::ingest::{
    DeviceMoved, DeviceStatusChanged, IotDevice, MARKER_HEIGHT_M, MarkerAt, Status, VideoCamera,
};
use crate::feeds::schema::DeviceStatus;
use crate::spatial::BuildingIndex;
use crate::view::camera::WallCamera;
use bevy::camera::primitives::Aabb;
use bevy::camera::visibility::VisibilityClass;
use bevy::prelude::*;
use std::collections::{BTreeMap, HashMap, HashSet, VecDeque};

pub(super) type MarkerFilter = Or<(With<IotDevice>, With<VideoCamera>)>;

/// The edge of a grid square, and the smallest cluster square.
pub const SQUARE_M: f32 = 250.0;

/// Shared meshes and materials for markers: one per kind and status, so thousands of
/// markers draw as a few instanced batches.
#[derive(Resource)]
pub(super) struct MarkerAssets {
    device_mesh: Handle<Mesh>,
    camera_mesh: Handle<Mesh>,
    materials: [Handle<StandardMaterial>; 4],
}

#[derive(Debug, Default)]
struct Square {
    markers: Vec<Entity>,
    counts: Counts,
}

/// Every marker by grid square, with counts by status; which squares are dressed.
#[derive(Resource, Debug, Default)]
pub struct MarkerGrid {
    squares: HashMap<IVec2, Square>,
    filed: HashMap<Entity, (IVec2, DeviceStatus)>,
    dressed: HashSet<IVec2>,
    /// Squares whose markers are still to be dressed or undressed to match `dressed`,
    /// a few thousand markers a frame ([`DRESS_PER_FRAME`]).
    restyle: VecDeque<IVec2>,
    /// The squares in `restyle`, so none is queued twice.
    queued: HashSet<IVec2>,
    /// Bumped whenever a count changes, so the cluster columns know to recount.
    pub version: u64,
    /// The on-screen scale markers are drawn at now (see [`scale_markers`]).
    scale: f32,
}

/// The grid square a world position (x, z on the ground) falls in.
pub fn square_of(at: Vec3) -> IVec2 {
    IVec2::new(
        (at.x / SQUARE_M).floor() as i32,
        (at.z / SQUARE_M).floor() as i32,
    )
}

impl MarkerGrid {
    /// Files (or re-files) a marker at a square with a status; says whether anything
    /// changed.
    pub fn file(&mut self, e: Entity, square: IVec2, status: DeviceStatus) -> bool {
        match self.filed.insert(e, (square, status)) {
            Some(was) if was == (square, status) => return false,
            Some((from, old)) => {
                let s = self.squares.entry(from).or_default();
                s.counts.0[status_slot(old)] -= 1;
                if from != square {
                    if let Some(i) = s.markers.iter().position(|m| *m == e) {
                        s.markers.swap_remove(i);
                    }
                    self.squares.entry(square).or_default().markers.push(e);
                }
            }
            None => self.squares.entry(square).or_default().markers.push(e),
        }
        self.squares.entry(square).or_default().counts.0[status_slot(status)] += 1;
        self.version += 1;
        true
    }

    /// The counts and markers of one square, if it has any.
    pub fn square(&self, at: IVec2) -> Option<(&Counts, &[Entity])> {
        self.squares.get(&at).map(|s| (&s.counts, &s.markers[..]))
    }

    /// Takes a marker out (its device was retired).
    pub fn remove(&mut self, e: Entity) {
        if let Some((square, status)) = self.filed.remove(&e) {
            let s = self.squares.entry(square).or_default();
            s.counts.0[status_slot(status)] -= 1;
            if let Some(i) = s.markers.iter().position(|m| *m == e) {
                s.markers.swap_remove(i);
            }
            self.version += 1;
        }
    }

    pub fn len(&self) -> usize {
        self.filed.len()
    }

    pub fn is_empty(&self) -> bool {
        self.filed.is_empty()
    }

    /// Counts per square of `factor` × `factor` grid squares (keys in those units):
    /// the same as counting every marker into the larger squares, at the cost of the
    /// grid's squares, not of the markers.
    pub fn merged(&self, factor: i32) -> BTreeMap<(i32, i32), Counts> {
        let mut out: BTreeMap<(i32, i32), Counts> = BTreeMap::new();
        for (at, square) in &self.squares {
            if square.counts.total() == 0 {
                continue;
            }
            let key = (at.x.div_euclid(factor), at.y.div_euclid(factor));
            let c = out.entry(key).or_default();
            for (sum, n) in c.0.iter_mut().zip(square.counts.0) {
                *sum += n;
            }
        }
        out
    }
}

pub(super) fn plugin(app: &mut App) {
    app.init_resource::<MarkerGrid>()
        .add_systems(Startup, setup)
        .add_systems(
            Update,
            // Scale first: markers dressed in this frame take the current scale.
            (
                scale_markers,
                file_markers,
                dress_markers,
                recolor_markers,
                turn_cones,
            )
                .chain()
                .in_set(TwinSet::View),
        );
}

/// A camera turned by its feed turns its cone.
fn turn_cones(mut cameras: Query<(&VideoCamera, &mut Transform), Changed<VideoCamera>>) {
    for (camera, mut t) in &mut cameras {
        let want = cone_rotation(camera.heading_deg);
        if t.rotation != want {
            t.rotation = want;
        }
    }
}

fn setup(
    mut commands: Commands,
    mut meshes: ResMut<Assets<Mesh>>,
    mut materials: ResMut<Assets<StandardMaterial>>,
) {
    let material = |m: &mut Assets<StandardMaterial>, s: DeviceStatus| {
        let c = status_color(s);
        m.add(StandardMaterial {
            base_color: c,
            emissive: c.to_linear() * if s == DeviceStatus::Alarm { 6.0 } else { 1.5 },
            unlit: true,
            ..default()
        })
    };
    commands.insert_resource(MarkerAssets {
        device_mesh: meshes.add(Sphere::new(4.0).mesh().uv(12, 8)),
        camera_mesh: meshes.add(Cone::new(4.5, 10.0).mesh().resolution(10)),
        materials: DeviceStatus::ALL.map(|s| material(&mut materials, s)),
    });
}

/// The scale of a marker: alarms twice the others, to be seen across the room.
fn marker_scale(status: DeviceStatus, base: f32) -> Vec3 {
    Vec3::splat(if status == DeviceStatus::Alarm {
        base * 2.0
    } else {
        base
    })
}

/// What dressing and undressing need of a marker: a dressed one has a mesh and a
/// `Transform`, an undressed one only its [`MarkerAt`].
pub(super) type MarkerParts = (
    &'static Status,
    &'static mut MarkerAt,
    Option<&'static VideoCamera>,
    Option<&'static mut Transform>,
);

/// A camera's marker cone lies on its side, its tip at the camera and its base towards
/// where it looks (`heading_deg` clockwise from north); with no heading it stands up.
pub fn cone_rotation(heading_deg: Option<f64>) -> Quat {
    match heading_deg.filter(|h| h.is_finite()) {
        Some(h) => {
            let h = (h as f32).to_radians();
            let looking = Vec3::new(h.sin(), 0.0, -h.cos());
            // The cone's tip is its +Y end: turn +Y away from where it looks.
            Quat::from_rotation_arc(Vec3::Y, -looking)
        }
        None => Quat::IDENTITY,
    }
}

/// Gives a marker its mesh, material and transform (and so visibility), or takes
/// them all away, leaving its data.
fn set_dressed(
    commands: &mut Commands,
    assets: &MarkerAssets,
    scale: f32,
    e: Entity,
    (status, at, camera, transform): (&Status, Vec3, Option<&VideoCamera>, bool),
    want: bool,
) {
    match (want, transform) {
        (true, false) => {
            let mesh = if camera.is_some() {
                &assets.camera_mesh
            } else {
                &assets.device_mesh
            };
            commands.entity(e).insert((
                Transform::from_translation(at)
                    .with_rotation(cone_rotation(camera.and_then(|c| c.heading_deg)))
                    .with_scale(marker_scale(status.0, scale)),
                Mesh3d(mesh.clone()),
                MeshMaterial3d(assets.materials[status_slot(status.0)].clone()),
            ));
        }
        (false, true) => {
            commands.entity(e).remove::<(
                (Mesh3d, MeshMaterial3d<StandardMaterial>, Aabb),
                (Transform, GlobalTransform, TransformTreeChanged),
                (
                    Visibility,
                    InheritedVisibility,
                    ViewVisibility,
                    VisibilityClass,
                ),
            )>();
        }
        _ => {}
    }
}

/// Files new, changed and moved markers in the grid; puts devices inside a building's
/// footprint (an elevator, a gas detector) on its roof, so they are seen rather than
/// buried in the walls; dresses new markers in dressed squares.
#[allow(clippy::too_many_arguments)]
pub(super) fn file_markers(
    mut commands: Commands,
    mut grid: ResMut<MarkerGrid>,
    assets: Res<MarkerAssets>,
    mut changes: MessageReader<DeviceStatusChanged>,
    mut moves: MessageReader<DeviceMoved>,
    mut retired: MessageReader<crate::feeds::ingest::DeviceRetired>,
    index: Res<BuildingIndex>,
    buildings: Res<Buildings>,
    mut markers: Query<MarkerParts, MarkerFilter>,
) {
    for r in retired.read() {
        grid.remove(r.entity);
    }
    let lift = |at: &mut Vec3| {
        let ground = crate::geo::LocalPoint::from_world(*at);
        let roof = index
            .at_point(&buildings, ground)
            .map_or(0.0, |i| buildings.0[i].height_m as f32);
        at.y = roof + MARKER_HEIGHT_M;
    };
    // Markers that arrived before the city was indexed are lifted once it is.
    if index.is_changed() {
        for (_, mut at, _, transform) in &mut markers {
            lift(&mut at.0);
            if let Some(mut t) = transform {
                t.translation = at.0;
            }
        }
    }
    let placed = changes
        .read()
        .map(|c| (c.entity, c.from.is_none()))
        .chain(moves.read().map(|m| (m.entity, true)));
    for (e, placed) in placed {
        let Ok((status, mut at, camera, transform)) = markers.get_mut(e) else {
            continue;
        };
        if placed {
            lift(&mut at.0);
        }
        let square = square_of(at.0);
        grid.file(e, square, status.0);
        let want = grid.dressed.contains(&square);
        let dressed = transform.is_some();
        if let (true, Some(mut t)) = (want, transform) {
            // Where it stands now; alarms are drawn larger.
            t.translation = at.0;
            t.scale = marker_scale(status.0, grid.scale);
        }
        let parts = (status, at.0, camera, dressed);
        set_dressed(&mut commands, &assets, grid.scale, e, parts, want);
    }
}

/// How far from the camera's focus markers are drawn: beyond, they are too small to
/// tell apart, and a city of 350,000 keeps only those near the view as render
/// entities (a few thousand to ~20,000), so drawing them costs about the same at any
/// city size. Far out, none are drawn: the cluster columns stand for them.
fn marker_radius_m(distance_m: f32) -> f32 {
    (distance_m * 1.5).max(2_000.0)
}

/// The grid squares that touch the circle around a focus.
pub fn squares_near(focus: Vec2, radius: f32) -> HashSet<IVec2> {
    let lo = ((focus - radius) / SQUARE_M).floor().as_ivec2();
    let hi = ((focus + radius) / SQUARE_M).floor().as_ivec2();
    let mut out = HashSet::new();
    for i in lo.x..=hi.x {
        for j in lo.y..=hi.y {
            let min = Vec2::new(i as f32, j as f32) * SQUARE_M;
            let nearest = focus.clamp(min, min + SQUARE_M);
            if nearest.distance(focus) <= radius {
                out.insert(IVec2::new(i, j));
            }
        }
    }
    out
}

/// How many markers a frame at most get or lose their mesh: zooming in over a dense
/// city changes tens of thousands at once, and doing them all in one frame would
/// hitch the wall.
pub const DRESS_PER_FRAME: usize = 8_000;

/// Decides which squares are dressed — those near the focus — every half second once
/// the focus has moved a tenth of the radius, the zoom has changed by a fifth, or
/// clustering has switched (far out, clustered, none is); then brings the markers of
/// changed squares in line, [`DRESS_PER_FRAME`] a frame, undressing first and
/// dressing the squares nearest the focus first.
#[allow(clippy::type_complexity)]
fn dress_markers(
    mut commands: Commands,
    mut grid: ResMut<MarkerGrid>,
    assets: Res<MarkerAssets>,
    cameras: Query<&WallCamera>,
    clusters: Res<MarkerClusters>,
    time: Res<Time>,
    markers: Query<MarkerParts, MarkerFilter>,
    mut last: Local<Option<(Vec3, f32, bool, f32)>>,
) {
    let Ok(cam) = cameras.single() else { return };
    let (focus, radius) = (cam.current.focus, marker_radius_m(cam.current.distance_m));
    let clustered = clusters.cell_m.is_some();
    let now = time.elapsed_secs();
    let due = match *last {
        None => true,
        Some((f, r, c, at)) => {
            now - at >= 0.5
                && (c != clustered
                    || f.xz().distance(focus.xz()) > r * 0.1
                    || (radius / r - 1.0).abs() > 0.2)
        }
    };
    let MarkerGrid {
        squares,
        dressed,
        restyle,
        queued,
        scale,
        ..
    } = &mut *grid;
    if due {
        *last = Some((focus, radius, clustered, now));
        let want = if clustered {
            HashSet::new()
        } else {
            squares_near(focus.xz(), radius)
        };
        let distance = |s: &IVec2| ((s.as_vec2() + 0.5) * SQUARE_M).distance_squared(focus.xz());
        let mut entering: Vec<IVec2> = want
            .difference(dressed)
            .filter(|s| squares.contains_key(s))
            .copied()
            .collect();
        entering.sort_by(|a, b| distance(a).total_cmp(&distance(b)));
        let leaving = dressed
            .difference(&want)
            .filter(|s| squares.contains_key(s))
            .copied();
        // Squares still queued from an earlier decision stay queued: they are brought
        // in line with whatever `dressed` says when their turn comes.
        for s in leaving.chain(entering) {
            if queued.insert(s) {
                restyle.push_back(s);
            }
        }
        *dressed = want;
    }
    let mut done = 0;
    while done < DRESS_PER_FRAME
        && let Some(at) = restyle.pop_front()
    {
        queued.remove(&at);
        let Some(square) = squares.get(&at) else {
            continue;
        };
        let want = dressed.contains(&at);
        for &e in &square.markers {
            if let Ok((status, marker_at, camera, transform)) = markers.get(e) {
                let parts = (status, marker_at.0, camera, transform.is_some());
                set_dressed(&mut commands, &assets, *scale, e, parts, want);
            }
        }
        done += square.markers.len();
    }
}

/// How much larger than life a thing on the map is drawn for the camera at
/// `distance_m` to keep it readable: life size close in, up to ten times far out.
pub fn readable_scale(distance_m: f32) -> f32 {
    (distance_m / 1700.0).clamp(1.0, 10.0)
}

/// Markers keep a readable size on screen: about 7 px across on a 1080-line screen at
/// any distance, never smaller than life, as the camera pulls back. Only dressed
/// markers are drawn, so only they are rescaled; the others take the scale when they
/// are dressed.
fn scale_markers(
    cameras: Query<&WallCamera>,
    mut grid: ResMut<MarkerGrid>,
    clusters: Res<MarkerClusters>,
    mut markers: Query<(&Status, &mut Transform), (MarkerFilter, With<Mesh3d>)>,
) {
    let Ok(cam) = cameras.single() else { return };
    let want = readable_scale(cam.current.distance_m);
    let current = grid.scale;
    // Clustered, nothing is dressed: keep the scale until markers show again.
    if (clusters.cell_m.is_some() && current > 0.0) || (want - current).abs() <= 0.05 * current {
        return;
    }
    grid.scale = want;
    for (s, mut t) in &mut markers {
        t.scale = marker_scale(s.0, want);
    }
}

fn recolor_markers(
    assets: Res<MarkerAssets>,
    mut changed: Query<(&Status, &mut MeshMaterial3d<StandardMaterial>), Changed<Status>>,
) {
    for (status, mut material) in &mut changed {
        let want = &assets.materials[status_slot(status.0)];
        if material.0 != *want {
            material.0 = want.clone();
        }
    }
}
