//! A new critical alert must be impossible to miss: it flashes on the alerts list and
//! a red ring pulses on the map at its place, until it is acknowledged (or resolved,
//! silenced) or [`FLASH_S`] has passed.

use crate::TwinSet;
use crate::geo::SceneFrame;
use crate::ops::TwinClock;
use crate::ops::alerts::{AlertState, Alerts};
use crate::scene::ops::Severity;
use bevy::platform::collections::HashMap;
use bevy::prelude::*;

/// How long (seconds of the wall's own time) a new critical alert flashes at most.
pub const FLASH_S: f64 = 60.0;
/// Rings on the map at most (the newest alerts'): a burst of alarms must not drown the
/// map in rings, and each ring is a blended draw.
pub const MAX_RINGS: usize = 8;

/// Critical alerts that fired lately, with when the wall first saw them (seconds of
/// Bevy's `Time`).
#[derive(Resource, Debug, Default)]
pub struct AlertFlash {
    since: HashMap<String, f64>,
}

impl AlertFlash {
    /// Whether alert `id` flashes at `now_s` (it is still new and nobody acted on it).
    pub fn is_flashing(&self, id: &str, now_s: f64) -> bool {
        self.since.get(id).is_some_and(|t| now_s - t < FLASH_S)
    }

    /// The flash's phase at `now_s`: on for half of each second.
    pub fn lit(now_s: f64) -> bool {
        now_s.fract() < 0.5
    }

    /// The ids flashing now, newest first, at most `n`.
    pub fn newest(&self, n: usize) -> Vec<&str> {
        let mut ids: Vec<(&String, &f64)> = self.since.iter().collect();
        ids.sort_by(|a, b| b.1.total_cmp(a.1).then(a.0.cmp(b.0)));
        ids.into_iter().take(n).map(|(id, _)| id.as_str()).collect()
    }
}

/// Takes in the critical alerts fired this frame, and lets go of those acted on,
/// closed, silenced or past their time (so the map stays bounded over days).
pub fn track_flashes(
    time: Res<Time>,
    clock: Res<TwinClock>,
    alerts: Res<Alerts>,
    mut flash: ResMut<AlertFlash>,
) {
    let now = time.elapsed_secs_f64();
    let twin_now = clock.now();
    for a in alerts
        .newly_fired
        .iter()
        .filter_map(|&i| alerts.list.get(i))
    {
        if a.severity == Severity::Critical {
            flash.since.entry(a.id.clone()).or_insert(now);
        }
    }
    if flash.since.is_empty() {
        return;
    }
    flash.since.retain(|id, since| {
        now - *since < FLASH_S
            && alerts.get(id).is_some_and(|a| {
                a.state == AlertState::Firing
                    && a.inhibited_by.is_none()
                    && !alerts.is_silenced(a, twin_now)
            })
    });
}

/// The ring drawn at a flashing alert's place.
#[derive(Component)]
struct Pulse(String);

#[derive(Resource)]
struct PulseLook {
    mesh: Handle<Mesh>,
    material: Handle<StandardMaterial>,
}

pub(super) fn plugin(app: &mut App) {
    app.init_resource::<AlertFlash>()
        .add_systems(Startup, setup)
        .add_systems(
            Update,
            (track_flashes.after(TwinSet::Ops), pulse)
                .chain()
                .in_set(TwinSet::View),
        );
}

fn setup(
    mut commands: Commands,
    mut meshes: ResMut<Assets<Mesh>>,
    mut materials: ResMut<Assets<StandardMaterial>>,
) {
    commands.insert_resource(PulseLook {
        mesh: meshes.add(Annulus::new(0.8, 1.0).mesh().resolution(48)),
        material: materials.add(StandardMaterial {
            base_color: Color::srgba(1.0, 0.15, 0.1, 0.85),
            emissive: LinearRgba::rgb(4.0, 0.4, 0.2),
            alpha_mode: AlphaMode::Blend,
            unlit: true,
            double_sided: true,
            cull_mode: None,
            ..default()
        }),
    });
}

/// One ring per flashing alert, growing from 20 to 120 m each second.
fn pulse(
    mut commands: Commands,
    time: Res<Time>,
    flash: Res<AlertFlash>,
    alerts: Res<Alerts>,
    look: Option<Res<PulseLook>>,
    frame: Option<NonSend<SceneFrame>>,
    mut rings: Query<(Entity, &Pulse, &mut Transform)>,
) {
    let (Some(look), Some(frame)) = (look, frame) else {
        return;
    };
    let wanted = flash.newest(MAX_RINGS);
    let mut shown: Vec<&str> = Vec::new();
    let radius = 20.0 + 100.0 * time.elapsed_secs().fract();
    for (e, Pulse(id), mut t) in &mut rings {
        if wanted.contains(&id.as_str()) {
            t.scale = Vec3::splat(radius);
            shown.push(id);
        } else {
            commands.entity(e).despawn();
        }
    }
    for id in wanted.into_iter().filter(|id| !shown.contains(id)) {
        let Some(at) = alerts
            .get(id)
            .and_then(|a| a.position)
            .and_then(|p| frame.0.to_local(p).ok())
        else {
            continue;
        };
        commands.spawn((
            Pulse(id.to_string()),
            Mesh3d(look.mesh.clone()),
            MeshMaterial3d(look.material.clone()),
            Transform::from_translation(at.to_world(3.0))
                .with_rotation(Quat::from_rotation_x(-std::f32::consts::FRAC_PI_2))
                .with_scale(Vec3::splat(radius)),
        ));
    }
}
