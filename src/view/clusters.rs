//! Far out, markers merge: one column per square of the map stands for every device and
//! camera in it. Its height grows with how many there are, its colour says how many are
//! online (green, amber below 90 %, grey below 60 %), and a glowing red cap on top grows
//! with the alarms inside. A whole city's 350,000 markers then draw as a few hundred
//! columns, and an overview of the wall stays readable. Close in, the markers return
//! (`dress_markers` gives meshes only to those near the view).

use super::markers::{MarkerGrid, SQUARE_M};
use super::status_slot;
use crate::TwinSet;
use crate::feeds::schema::DeviceStatus;
use crate::view::camera::WallCamera;
use bevy::prelude::*;
use std::time::Duration;

/// Markers cluster when the camera is farther than this from what it looks at.
pub const CLUSTER_FROM_M: f32 = 3500.0;
/// How often the columns are recounted while clustered (when counts have changed).
const RECOUNT: Duration = Duration::from_millis(500);

/// Whether markers are clustered now, and into squares of what size.
#[derive(Resource, Default, Debug)]
pub struct MarkerClusters {
    pub cell_m: Option<f32>,
    since: Duration,
    /// The grid's version the columns show.
    shown: Option<u64>,
    pool: Vec<(Entity, Entity)>,
}

/// Devices of one square, by status ([`status_slot`] order).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Counts(pub [u32; 4]);

impl Counts {
    pub fn total(&self) -> u32 {
        self.0.iter().sum()
    }

    pub fn alarms(&self) -> u32 {
        self.0[status_slot(DeviceStatus::Alarm)]
    }

    /// Online or alarming (an alarm is a working device reporting a problem).
    pub fn online_share(&self) -> f32 {
        let up = self.0[status_slot(DeviceStatus::Online)] + self.alarms();
        up as f32 / self.total().max(1) as f32
    }

    /// The colour of the column: by the share online.
    pub fn colour(&self) -> DeviceStatus {
        match self.online_share() {
            s if s >= 0.9 => DeviceStatus::Online,
            s if s >= 0.6 => DeviceStatus::Fault,
            _ => DeviceStatus::Offline,
        }
    }
}

/// The square size for a camera this far away: about 14 squares across the view,
/// in steps of 250 m × 2ⁿ so squares do not shimmer while zooming.
pub fn cell_for(distance_m: f32) -> Option<f32> {
    if distance_m < CLUSTER_FROM_M {
        return None;
    }
    let steps = (distance_m / 14.0 / SQUARE_M).log2().round().max(0.0);
    Some(SQUARE_M * 2f32.powf(steps))
}

#[derive(Component)]
struct ClusterColumn;

/// The column mesh and its materials: lit, so a column reads as a solid; alarms glow.
#[derive(Resource)]
struct ColumnAssets {
    mesh: Handle<Mesh>,
    materials: [Handle<StandardMaterial>; 4],
}

pub(super) fn plugin(app: &mut App) {
    app.init_resource::<MarkerClusters>()
        .add_systems(Startup, setup)
        .add_systems(Update, update_clusters.in_set(TwinSet::View));
}

fn setup(
    mut commands: Commands,
    mut meshes: ResMut<Assets<Mesh>>,
    mut materials: ResMut<Assets<StandardMaterial>>,
) {
    let material = |s: DeviceStatus| {
        let c = super::status_color(s);
        StandardMaterial {
            base_color: c,
            emissive: c.to_linear() * if s == DeviceStatus::Alarm { 4.0 } else { 0.6 },
            perceptual_roughness: 0.6,
            ..default()
        }
    };
    commands.insert_resource(ColumnAssets {
        mesh: meshes.add(Cylinder::new(0.5, 1.0).mesh().resolution(20)),
        materials: DeviceStatus::ALL.map(|s| materials.add(material(s))),
    });
}

/// The pooled columns (bodies and alarm caps).
type Columns<'w, 's> = Query<
    'w,
    's,
    (
        &'static mut Transform,
        &'static mut Visibility,
        &'static mut MeshMaterial3d<StandardMaterial>,
    ),
    With<ClusterColumn>,
>;

/// Shows a pooled column at a place, size and colour, or hides it.
fn place_column(
    columns: &mut Columns,
    assets: &ColumnAssets,
    e: Entity,
    shown: Option<(Vec3, Vec3, DeviceStatus)>,
) {
    match (columns.get_mut(e), shown) {
        (Ok((mut t, mut v, mut m)), Some((at, scale, status))) => {
            *t = Transform::from_translation(at).with_scale(scale);
            *v = Visibility::Inherited;
            let want = &assets.materials[status_slot(status)];
            if m.0 != *want {
                m.0 = want.clone();
            }
        }
        (Ok((_, mut v, _)), None) => *v = Visibility::Hidden,
        // Spawned this frame: placed on the next recount.
        (Err(_), _) => {}
    }
}

fn update_clusters(
    mut commands: Commands,
    time: Res<Time>,
    mut state: ResMut<MarkerClusters>,
    cameras: Query<&WallCamera>,
    grid: Res<MarkerGrid>,
    mut columns: Columns,
    assets: Res<ColumnAssets>,
) {
    let Ok(cam) = cameras.single() else { return };
    let want = cell_for(cam.current.distance_m);
    let switched = want != state.cell_m;
    if switched {
        state.cell_m = want;
    }
    state.since += time.delta();
    let Some(cell) = want else {
        if switched {
            for (_, mut v, _) in &mut columns {
                *v = Visibility::Hidden;
            }
        }
        return;
    };
    if !switched && (state.since < RECOUNT || state.shown == Some(grid.version)) {
        return;
    }
    state.since = Duration::ZERO;
    state.shown = Some(grid.version);
    // The grid keeps counts per 250 m square; a cluster square is 2ⁿ of them across.
    let squares = grid.merged((cell / SQUARE_M).round() as i32);
    // Height: a square with 400 devices stands a quarter as tall as the square is wide.
    let height = |n: u32| cell * 0.25 * (n as f32 / 400.0).sqrt().clamp(0.2, 4.0);
    let material = |s: DeviceStatus| MeshMaterial3d(assets.materials[status_slot(s)].clone());
    while state.pool.len() < squares.len() {
        let mut spawn = || {
            commands
                .spawn((
                    ClusterColumn,
                    Mesh3d(assets.mesh.clone()),
                    material(DeviceStatus::Online),
                    Transform::default(),
                    Visibility::Hidden,
                ))
                .id()
        };
        let pair = (spawn(), spawn());
        state.pool.push(pair);
    }
    let mut next = squares.iter();
    for &(body, cap) in &state.pool {
        let square = next.next();
        let (body_at, cap_at) = match square {
            Some((&(i, j), counts)) => {
                let centre = Vec2::new((i as f32 + 0.5) * cell, (j as f32 + 0.5) * cell);
                let (w, h) = (cell * 0.2, height(counts.total()));
                let body = (
                    Vec3::new(centre.x, h / 2.0, centre.y),
                    Vec3::new(w, h, w),
                    counts.colour(),
                );
                let cap = (counts.alarms() > 0).then(|| {
                    let ch = height(counts.alarms()).max(cell * 0.05);
                    let cw = w * (0.6 + 0.5 * (counts.alarms() as f32 / 20.0).min(1.0));
                    (
                        Vec3::new(centre.x, h + ch / 2.0, centre.y),
                        Vec3::new(cw, ch, cw),
                        DeviceStatus::Alarm,
                    )
                });
                (Some(body), cap)
            }
            None => (None, None),
        };
        place_column(&mut columns, &assets, body, body_at);
        place_column(&mut columns, &assets, cap, cap_at);
    }
}
