//! Spatial indexes (rstar): which building is at a point or under the cursor, which
//! district and grid a point is in, and the live cameras near a point.

pub mod areas;
pub mod cameras;

use crate::TwinSet;
use crate::city::{Buildings, CityAreas, CityLoaded};
use crate::feeds::ingest::{DeviceMoved, DeviceStatusChanged, MarkerAt, Status, VideoCamera};
use crate::feeds::schema::DeviceStatus;
use crate::geo::LocalPoint;
use crate::scene::ops::LinkageSpec;
use bevy::prelude::*;
use geo::{Contains, Coord};
use rstar::primitives::{GeomWithData, Rectangle};
use rstar::{AABB, RTree};

/// Step along a picking ray, metres; smaller than the thinnest building worth picking.
const PICK_STEP_M: f32 = 1.0;
const PICK_MAX_DISTANCE_M: f32 = 30_000.0;

type Entry = GeomWithData<Rectangle<[f64; 2]>, usize>;

/// Building footprint bounds → index into [`Buildings`].
#[derive(Resource, Default)]
pub struct BuildingIndex {
    tree: RTree<Entry>,
}

impl BuildingIndex {
    pub fn build(buildings: &Buildings) -> Self {
        let entries = buildings
            .0
            .iter()
            .enumerate()
            .filter_map(|(i, b)| {
                let r = b.bounds?;
                Some(Entry::new(
                    Rectangle::from_corners([r.min().x, r.min().y], [r.max().x, r.max().y]),
                    i,
                ))
            })
            .collect();
        Self {
            tree: RTree::bulk_load(entries),
        }
    }

    pub fn len(&self) -> usize {
        self.tree.size()
    }

    pub fn is_empty(&self) -> bool {
        self.tree.size() == 0
    }

    /// The building whose footprint contains `p`, if any.
    pub fn at_point(&self, buildings: &Buildings, p: LocalPoint) -> Option<usize> {
        let q = [p.east_m, p.north_m];
        self.tree
            .locate_all_at_point(&q)
            .map(|e| e.data)
            .find(|&i| {
                buildings.0[i].footprint.contains(&Coord {
                    x: p.east_m,
                    y: p.north_m,
                })
            })
    }

    /// The first building a ray (world space) passes through, and the distance to it.
    pub fn pick(&self, buildings: &Buildings, origin: Vec3, dir: Vec3) -> Option<(usize, f32)> {
        let dir = dir.try_normalize()?;
        let step = PICK_STEP_M / dir.xz().length().max(dir.y.abs()).max(1e-3);
        let mut t = 0.0;
        while t < PICK_MAX_DISTANCE_M {
            let p = origin + dir * t;
            if p.y < 0.0 {
                return None;
            }
            let local = LocalPoint::from_world(p);
            let q = [local.east_m, local.north_m];
            let hit = self
                .tree
                .locate_in_envelope_intersecting(&AABB::from_point(q))
                .map(|e| e.data)
                .find(|&i| {
                    let b = &buildings.0[i];
                    p.y <= b.height_m as f32 && b.footprint.contains(&Coord { x: q[0], y: q[1] })
                });
            if let Some(i) = hit {
                return Some((i, t));
            }
            t += step;
        }
        None
    }
}

/// Districts, street offices and grids of the loaded city.
#[derive(Resource, Default)]
pub struct AreaIndex {
    pub districts: areas::AreaLookup,
    /// Street offices (街道).
    pub streets: areas::AreaLookup,
    pub grids: areas::AreaLookup,
}

/// Camera defaults for the linkage queries (the scene's `operations.linkage`).
#[derive(Resource, Debug, Clone, Default)]
pub struct CameraDefaults(pub LinkageSpec);

pub(super) fn plugin(app: &mut App) {
    app.init_resource::<BuildingIndex>()
        .init_resource::<AreaIndex>()
        .init_resource::<cameras::CameraIndex>()
        .init_resource::<CameraDefaults>()
        .add_systems(Update, index_city.in_set(TwinSet::Spatial))
        // Cameras are indexed as soon as ingest has placed them, before the operations
        // rules link incidents to them.
        .add_systems(
            Update,
            index_cameras.after(TwinSet::Ingest).before(TwinSet::Ops),
        );
}

fn index_city(
    mut loaded: MessageReader<CityLoaded>,
    buildings: Res<Buildings>,
    areas: Res<CityAreas>,
    mut index: ResMut<BuildingIndex>,
    mut area_index: ResMut<AreaIndex>,
) {
    if loaded.read().last().is_some() {
        *index = BuildingIndex::build(&buildings);
        *area_index = AreaIndex {
            districts: areas::AreaLookup::build(&areas.districts),
            streets: areas::AreaLookup::build(&areas.subdistricts),
            grids: areas::AreaLookup::build(&areas.grids),
        };
    }
}

/// Follows ingest's messages: a camera that appears, moves or changes status is
/// updated in the index; nothing is rebuilt per frame.
fn index_cameras(
    mut changed: MessageReader<DeviceStatusChanged>,
    mut moved: MessageReader<DeviceMoved>,
    mut retired: MessageReader<crate::feeds::ingest::DeviceRetired>,
    cameras: Query<(&VideoCamera, &MarkerAt, &Status)>,
    defaults: Res<CameraDefaults>,
    mut index: ResMut<cameras::CameraIndex>,
) {
    for r in retired.read().filter(|r| r.kind == "camera") {
        index.remove(r.entity);
    }
    let entities = changed
        .read()
        .map(|c| c.entity)
        .chain(moved.read().map(|m| m.entity));
    let views = entities.filter_map(|entity| {
        let (camera, at, status) = cameras.get(entity).ok()?;
        let local = LocalPoint::from_world(at.0);
        Some((
            entity,
            cameras::CameraView {
                at: [local.east_m, local.north_m],
                heading_deg: camera.heading_deg,
                fov_deg: camera.fov_deg.unwrap_or(defaults.0.default_fov_deg),
                range_m: camera.range_m.unwrap_or(defaults.0.default_range_m),
                online: status.0 == DeviceStatus::Online,
            },
        ))
    });
    index.upsert_many(views);
}
