//! Measuring on the planner's map: distance, path length, area and height from clicked
//! points, geodesic (the points taken back to longitude/latitude on the WGS84
//! ellipsoid), and the last point clicked, for pinning a note there.
//!
//! A click finds the first thing its ray meets: the shown scenario's buildings and
//! elements on the site, the city's buildings around it, or the ground.

use super::plan::{PlanData, PlanRequest};
use super::{PickAt, camera::WallCamera};
use crate::geo::{LocalPoint, SceneFrame};
use crate::spatial::BuildingIndex;
use bevy::prelude::*;

/// What a click measures.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Tool {
    Distance,
    Path,
    Area,
    Height,
}

/// The measuring state: the tool, the points clicked (local metres, height), the
/// result.
#[derive(Resource, Debug, Default, Clone)]
pub struct Measure {
    pub tool: Option<Tool>,
    /// (east, north, up) in local metres.
    pub points: Vec<[f64; 3]>,
    pub result: Option<String>,
}

impl Tool {
    pub fn parse(s: &str) -> Result<Self, String> {
        match s {
            "distance" => Ok(Tool::Distance),
            "path" => Ok(Tool::Path),
            "area" => Ok(Tool::Area),
            "height" => Ok(Tool::Height),
            _ => Err(format!(
                "'{s}' is not a measuring tool (distance, path, area, height)"
            )),
        }
    }
}

impl Measure {
    pub fn clear(&mut self) {
        self.points.clear();
        self.result = None;
    }
}

/// A point clicked: where the ray first meets something.
#[derive(Component)]
struct MeasureMark;

pub(super) fn plugin(app: &mut App) {
    app.init_resource::<Measure>()
        .add_systems(Startup, start_tool.run_if(resource_exists::<PlanRequest>))
        .add_systems(
            Update,
            (measure_clicks, draw_marks)
                .chain()
                .after(super::click_to_pick)
                .run_if(resource_exists::<PlanData>),
        );
}

/// The tool asked for on the command line.
fn start_tool(request: Res<PlanRequest>, mut measure: ResMut<Measure>) {
    if request.measure.is_some() {
        measure.tool = request.measure;
    }
}

fn measure_clicks(
    mut picks: MessageReader<PickAt>,
    mut measure: ResMut<Measure>,
    request: Res<PlanRequest>,
    data: Res<PlanData>,
    cameras: Query<(&Camera, &GlobalTransform), With<WallCamera>>,
    index: Res<BuildingIndex>,
    buildings: Res<crate::city::Buildings>,
    frame: Option<NonSend<SceneFrame>>,
) {
    let Some(tool) = measure.tool else {
        picks.clear();
        return;
    };
    let (Ok((camera, transform)), Some(frame)) = (cameras.single(), frame) else {
        return;
    };
    for PickAt(cursor) in picks.read() {
        let Ok(ray) = camera.viewport_to_world(transform, *cursor) else {
            continue;
        };
        let Some(hit) = first_hit(&data, request.left(), &index, &buildings, ray) else {
            continue;
        };
        let local = LocalPoint::from_world(hit);
        let point = [local.east_m, local.north_m, f64::from(hit.y.max(0.0))];
        if matches!(tool, Tool::Distance | Tool::Height) && measure.points.len() >= 2
            || tool == Tool::Height && !measure.points.is_empty()
        {
            measure.points.clear();
        }
        measure.points.push(point);
        let frame = &frame.0;
        measure.result = match tool {
            Tool::Height => Some(format!("{:.1} m", point[2])),
            Tool::Distance | Tool::Path if measure.points.len() >= 2 => {
                crate::plan::metrics::geodesic_length(&measure.points, frame)
                    .ok()
                    .map(|m| format!("{m:.1} m"))
            }
            Tool::Area if measure.points.len() >= 3 => {
                let mut ring: Vec<(f64, f64)> =
                    measure.points.iter().map(|p| (p[0], p[1])).collect();
                ring.push(ring[0]);
                let shape = geo::MultiPolygon::new(vec![geo::Polygon::new(ring.into(), vec![])]);
                crate::plan::metrics::geodesic_area(&shape, frame)
                    .ok()
                    .map(|a| format!("{a:.1} m²"))
            }
            _ => None,
        };
        let at: Vec<String> = measure
            .points
            .iter()
            .map(|p| format!("({:.2}, {:.2}, {:.2})", p[0], p[1], p[2]))
            .collect();
        info!(
            "measure: {tool:?} {} at {}",
            measure.result.as_deref().unwrap_or("-"),
            at.join(" ")
        );
    }
}

/// The first thing along `ray`: the shown scenario's buildings (prisms) and elements
/// on the site, the city's buildings, or the ground (y = 0).
fn first_hit(
    data: &PlanData,
    scenario: usize,
    index: &BuildingIndex,
    buildings: &crate::city::Buildings,
    ray: Ray3d,
) -> Option<Vec3> {
    let dir = *ray.direction;
    let ground = (dir.y < -1e-4).then(|| -ray.origin.y / dir.y);
    let city = index
        .pick(buildings, ray.origin, dir)
        .map(|(_, distance)| distance);
    let standing = data.project.get(scenario)?;
    // The site's prisms, marched in half-metre steps as far as the ground.
    let limit = ground.unwrap_or(20_000.0).min(city.unwrap_or(f32::MAX));
    let mut site = None;
    let step = 0.5f32;
    let mut t = 0.0f32;
    let tallest = standing
        .buildings
        .iter()
        .map(|b| b.height_m)
        .fold(0.0, f64::max) as f32;
    while t < limit {
        let p = ray.origin + dir * t;
        if p.y <= tallest {
            let local = LocalPoint::from_world(p);
            let c = geo::Coord {
                x: local.east_m,
                y: local.north_m,
            };
            if standing
                .buildings
                .iter()
                .any(|b| f64::from(p.y) <= b.height_m && geo::Contains::contains(&b.footprint, &c))
            {
                site = Some(t);
                break;
            }
        }
        t += step;
    }
    let t = [site, city, ground]
        .into_iter()
        .flatten()
        .fold(f32::INFINITY, f32::min);
    t.is_finite().then(|| ray.origin + dir * t)
}

fn draw_marks(
    mut commands: Commands,
    measure: Res<Measure>,
    marks: Query<Entity, With<MeasureMark>>,
    mut meshes: ResMut<Assets<Mesh>>,
    mut materials: ResMut<Assets<StandardMaterial>>,
    mut assets: Local<Option<(Handle<Mesh>, Handle<StandardMaterial>)>>,
) {
    if !measure.is_changed() {
        return;
    }
    for e in &marks {
        commands.entity(e).despawn();
    }
    let (mesh, material) = assets
        .get_or_insert_with(|| {
            (
                meshes.add(Sphere::new(2.0).mesh().uv(12, 8)),
                materials.add(StandardMaterial {
                    base_color: Color::srgb(1.0, 0.9, 0.1),
                    unlit: true,
                    ..default()
                }),
            )
        })
        .clone();
    for p in &measure.points {
        commands.spawn((
            MeasureMark,
            Mesh3d(mesh.clone()),
            MeshMaterial3d(material.clone()),
            Transform::from_translation(LocalPoint::new(p[0], p[1]).to_world(p[2] as f32)),
        ));
    }
}
