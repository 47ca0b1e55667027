//! A renovation scenario drawn in the 3D view (`--project ID --scenario N`, 0 = today):
//! the site's buildings as the scenario leaves them (new ones warm orange), its glTF
//! elements (elevators violet), green, parking, paths and works, the ground coloured by
//! hours of sun on the standard day and every window-sill point marked by the standard.
//! The city's own meshes leave the site out (`Scene::hidden_site`).

use crate::city::CurrentScene;
use crate::city::mesh::{self, MeshData};
use crate::geo::LocalPoint;
use crate::plan::project::{LoadedProject, ModelRole, Standing, Work};
use crate::plan::review::{Review, ScenarioReview, SunSettings, required};
use bevy::prelude::*;
use crossbeam_channel::{Receiver, bounded};

/// Which project and scenario to draw.
#[derive(Resource, Debug, Clone)]
pub struct PlanRequest {
    pub project: String,
    /// 0: today; 1…: the project's scenarios in order.
    pub scenario: usize,
}

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
    .add_systems(
        Update,
        draw_when_loaded.run_if(resource_exists::<PlanLoader>),
    );
}

fn start_loading(mut commands: Commands, scene: Res<CurrentScene>, request: Res<PlanRequest>) {
    commands.init_resource::<PlanStatus>();
    let (tx, rx) = bounded(1);
    let scene = scene.0.clone();
    let id = request.project.clone();
    let spawned = std::thread::Builder::new()
        .name("plan-loader".into())
        .spawn(move || {
            let result =
                crate::plan::cli::load_project(&scene, Some(&id)).and_then(|(project, frame)| {
                    let review =
                        crate::plan::review::review(&project, &frame, SunSettings::default())?;
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
    let pair = match request.scenario {
        0 => Some((&project.existing, &review.existing)),
        k => project
            .scenarios
            .get(k - 1)
            .zip(review.scenarios.get(k - 1)),
    };
    let Some((standing, sun)) = pair else {
        let e = format!(
            "project '{}' has {} scenarios; there is no scenario {}",
            project.spec.id,
            project.scenarios.len(),
            request.scenario
        );
        error!("plan: {e}");
        status.failed = Some(e);
        return;
    };
    info!(
        "plan: drawing {} · {} ({} buildings, {} windows)",
        project.spec.name,
        standing.name,
        standing.buildings.len(),
        sun.sun.windows.len()
    );
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
    let (solid, flat) = meshes_of(standing, sun, review.settings);
    for (data, material) in [(solid, lit), (flat, unlit)] {
        if !data.is_empty() {
            commands.spawn((
                Mesh3d(meshes.add(data.into_mesh())),
                MeshMaterial3d(material),
                Transform::default(),
            ));
        }
    }
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
        let color = match work {
            Work::Roads => [40, 40, 40],
            Work::Cables => [230, 180, 0],
            Work::Pipes => [30, 120, 220],
            Work::Facades => [200, 60, 200],
        };
        mesh::ribbon(line, 1.2, 0.6, srgb(color), &mut flat);
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
