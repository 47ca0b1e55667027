//! The wall's camera: orbit, pan and zoom with mouse, keyboard and touch; named views
//! from the scene with smooth flights between them. Never takes input egui wants.

use crate::TwinSet;
use crate::city::CurrentScene;
use crate::geo::SceneFrame;
use crate::scene::View;
use bevy::input::mouse::{AccumulatedMouseMotion, AccumulatedMouseScroll, MouseScrollUnit};
use bevy::input::touch::Touches;
use bevy::prelude::*;
use bevy_egui::input::EguiWantsInput;

/// Where the camera looks from, as an orbit around a focus point on the ground.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Orbit {
    pub focus: Vec3,
    pub distance_m: f32,
    /// Radians clockwise from north the camera faces.
    pub heading: f32,
    /// Radians below the horizon.
    pub pitch: f32,
}

impl Orbit {
    pub const MIN_DISTANCE_M: f32 = 30.0;
    pub const MAX_DISTANCE_M: f32 = 60_000.0;

    pub fn transform(&self) -> Transform {
        // Facing direction: heading from north (−Z) clockwise (towards +X), tilted down.
        let forward = Vec3::new(
            self.heading.sin() * self.pitch.cos(),
            -self.pitch.sin(),
            -self.heading.cos() * self.pitch.cos(),
        );
        let eye = self.focus - forward * self.distance_m;
        Transform::from_translation(eye).looking_at(self.focus, Vec3::Y)
    }

    fn lerp(&self, to: &Orbit, t: f32) -> Orbit {
        let mut dh = (to.heading - self.heading) % std::f32::consts::TAU;
        if dh > std::f32::consts::PI {
            dh -= std::f32::consts::TAU;
        } else if dh < -std::f32::consts::PI {
            dh += std::f32::consts::TAU;
        }
        Orbit {
            focus: self.focus.lerp(to.focus, t),
            // Zoom in log space so a flight between scales feels even.
            distance_m: (self.distance_m.ln() + (to.distance_m.ln() - self.distance_m.ln()) * t)
                .exp(),
            heading: self.heading + dh * t,
            pitch: self.pitch + (to.pitch - self.pitch) * t,
        }
    }
}

/// The wall camera's state: where it is and where it is flying to.
#[derive(Component, Debug, Clone)]
pub struct WallCamera {
    pub current: Orbit,
    pub target: Orbit,
}

/// The wall's idle tour: after `idle` without input, fly through the scene's views,
/// staying `dwell` at each. Off for screenshots.
#[derive(Resource, Debug, Clone)]
pub struct AutoTour {
    pub enabled: bool,
    pub idle: std::time::Duration,
    pub dwell: std::time::Duration,
}

impl Default for AutoTour {
    fn default() -> Self {
        Self {
            enabled: true,
            idle: std::time::Duration::from_secs(90),
            dwell: std::time::Duration::from_secs(20),
        }
    }
}

/// When the user last touched the camera, and where the tour is.
#[derive(Resource, Debug, Default)]
struct TourState {
    last_input_s: f64,
    last_flight_s: f64,
    next_view: usize,
}

/// Fly the wall camera to a named view of the scene.
#[derive(Message, Debug, Clone)]
pub struct FlyTo(pub String);

pub fn orbit_for(view: &View, frame: Option<&SceneFrame>) -> Orbit {
    let focus = frame
        .and_then(|f| f.0.to_local(view.look_at).ok())
        .map(|p| p.to_world(0.0))
        .unwrap_or(Vec3::ZERO);
    Orbit {
        focus,
        distance_m: view.distance_m as f32,
        heading: (view.heading_deg as f32).to_radians(),
        pitch: (view.pitch_deg as f32).clamp(5.0, 89.9).to_radians(),
    }
}

/// The first view, or one looking at the origin from 2 km.
pub fn initial_orbit(
    scene: &CurrentScene,
    view: Option<&str>,
    frame: Option<&SceneFrame>,
) -> Orbit {
    let named = view
        .and_then(|n| scene.0.view(n))
        .or(scene.0.file.views.first());
    match named {
        Some(v) => orbit_for(v, frame),
        None => Orbit {
            focus: Vec3::ZERO,
            distance_m: 2000.0,
            heading: 0.0,
            pitch: 50f32.to_radians(),
        },
    }
}

pub(super) fn plugin(app: &mut App) {
    app.add_message::<FlyTo>()
        .init_resource::<AutoTour>()
        .init_resource::<TourState>()
        .add_systems(
            Update,
            (control, tour, fly_to_new_critical, fly_to_view, follow)
                .chain()
                .in_set(TwinSet::View),
        );
}

fn fly_to_view(
    mut requests: MessageReader<FlyTo>,
    scene: Res<CurrentScene>,
    frame: Option<NonSend<SceneFrame>>,
    mut cameras: Query<&mut WallCamera>,
) {
    for FlyTo(name) in requests.read() {
        let Some(view) = scene.0.view(name) else {
            warn!("no view named '{name}' in the scene");
            continue;
        };
        for mut cam in &mut cameras {
            cam.target = orbit_for(view, frame.as_deref());
        }
    }
}

fn control(
    mouse: Res<ButtonInput<MouseButton>>,
    motion: Res<AccumulatedMouseMotion>,
    scroll: Res<AccumulatedMouseScroll>,
    keys: Res<ButtonInput<KeyCode>>,
    touches: Res<Touches>,
    egui: Option<Res<EguiWantsInput>>,
    scene: Res<CurrentScene>,
    time: Res<Time>,
    mut fly: MessageWriter<FlyTo>,
    mut cameras: Query<&mut WallCamera>,
    mut tour: ResMut<TourState>,
) {
    let Ok(mut cam) = cameras.single_mut() else {
        return;
    };
    let before = cam.target;
    let egui_pointer = egui.as_ref().is_some_and(|e| e.wants_any_pointer_input());
    let egui_keys = egui.as_ref().is_some_and(|e| e.wants_any_keyboard_input());
    let t = &mut cam.target;
    let pan_scale = t.distance_m / 800.0;
    let mut pan = Vec2::ZERO;
    let mut orbit = Vec2::ZERO;
    let mut zoom = 0.0f32;

    if !egui_pointer {
        if mouse.pressed(MouseButton::Left) {
            pan += motion.delta;
        }
        if mouse.pressed(MouseButton::Right) || mouse.pressed(MouseButton::Middle) {
            orbit += motion.delta;
        }
        zoom += match scroll.unit {
            MouseScrollUnit::Line => scroll.delta.y,
            MouseScrollUnit::Pixel => scroll.delta.y / 40.0,
        };
        // Touch overlays: one finger pans, two fingers pinch to zoom and twist to turn.
        let active: Vec<_> = touches.iter().collect();
        match active.as_slice() {
            [one] => pan += one.delta(),
            [a, b] => {
                let before = a.previous_position().distance(b.previous_position());
                let after = a.position().distance(b.position());
                zoom += (after - before) / 60.0;
                let before_angle = (b.previous_position() - a.previous_position()).to_angle();
                let after_angle = (b.position() - a.position()).to_angle();
                orbit.x += (after_angle - before_angle).to_degrees() * 4.0;
                orbit.y += (a.delta().y + b.delta().y) / 2.0;
            }
            _ => {}
        }
    }
    if !egui_keys {
        let dt = time.delta_secs();
        let speed = 600.0 * dt;
        for (key, dir) in [
            (KeyCode::ArrowLeft, Vec2::new(1.0, 0.0)),
            (KeyCode::ArrowRight, Vec2::new(-1.0, 0.0)),
            (KeyCode::ArrowUp, Vec2::new(0.0, 1.0)),
            (KeyCode::ArrowDown, Vec2::new(0.0, -1.0)),
        ] {
            if keys.pressed(key) {
                pan += dir * speed;
            }
        }
        if keys.pressed(KeyCode::KeyQ) {
            orbit.x -= 300.0 * dt;
        }
        if keys.pressed(KeyCode::KeyE) {
            orbit.x += 300.0 * dt;
        }
        if keys.pressed(KeyCode::Equal) || keys.pressed(KeyCode::NumpadAdd) {
            zoom += 4.0 * dt;
        }
        if keys.pressed(KeyCode::Minus) || keys.pressed(KeyCode::NumpadSubtract) {
            zoom -= 4.0 * dt;
        }
        let digits = [
            KeyCode::Digit1,
            KeyCode::Digit2,
            KeyCode::Digit3,
            KeyCode::Digit4,
            KeyCode::Digit5,
            KeyCode::Digit6,
            KeyCode::Digit7,
            KeyCode::Digit8,
            KeyCode::Digit9,
        ];
        for (i, key) in digits.into_iter().enumerate() {
            if keys.just_pressed(key)
                && let Some(v) = scene.0.file.views.get(i)
            {
                fly.write(FlyTo(v.name.clone()));
            }
        }
    }
    if pan != Vec2::ZERO {
        // Screen drag moves the ground with the pointer: right = along the heading's east.
        let (s, c) = t.heading.sin_cos();
        let right = Vec3::new(c, 0.0, s);
        let forward = Vec3::new(s, 0.0, -c);
        t.focus += (-right * pan.x + forward * pan.y) * pan_scale;
    }
    if orbit != Vec2::ZERO {
        t.heading += orbit.x * 0.005;
        t.pitch = (t.pitch + orbit.y * 0.005).clamp(5f32.to_radians(), 89.5f32.to_radians());
    }
    if zoom != 0.0 {
        t.distance_m = (t.distance_m * (-zoom * 0.15).exp())
            .clamp(Orbit::MIN_DISTANCE_M, Orbit::MAX_DISTANCE_M);
    }
    if cam.target != before || keys.get_just_pressed().next().is_some() {
        tour.last_input_s = time.elapsed_secs_f64();
    }
}

/// Cycles the named views while nobody is at the controls.
fn tour(
    settings: Res<AutoTour>,
    mut state: ResMut<TourState>,
    scene: Res<CurrentScene>,
    time: Res<Time>,
    mode: Res<crate::ops::modes::OperatingState>,
    mut fly: MessageWriter<FlyTo>,
) {
    // The operating mode may name its own tour (e.g. the event venue in a major event).
    let own = mode.tour();
    let scene_views = &scene.0.file.views;
    let count = if own.is_empty() {
        scene_views.len()
    } else {
        own.len()
    };
    if !settings.enabled || count < 2 {
        return;
    }
    let now = time.elapsed_secs_f64();
    let idle = now - state.last_input_s >= settings.idle.as_secs_f64();
    let due = now - state.last_flight_s >= settings.dwell.as_secs_f64();
    if idle && due {
        // The wall starts at the first view, so the tour moves on to the second.
        state.next_view = (state.next_view + 1) % count;
        state.last_flight_s = now;
        let name = match own.get(state.next_view) {
            Some(name) => name.clone(),
            None => scene_views[state.next_view].name.clone(),
        };
        fly.write(FlyTo(name));
    }
}

/// A critical alert that fires while nobody is at the controls is selected and flown
/// to (the tour then dwells there); one at the controls is not taken away from what
/// they look at.
fn fly_to_new_critical(
    settings: Res<AutoTour>,
    mut state: ResMut<TourState>,
    time: Res<Time>,
    clock: Res<crate::ops::TwinClock>,
    alerts: Res<crate::ops::alerts::Alerts>,
    mut select: MessageWriter<super::SelectIncident>,
) {
    let now = time.elapsed_secs_f64();
    if !settings.enabled || now - state.last_input_s < settings.idle.as_secs_f64() {
        return;
    }
    let twin_now = clock.now();
    let newest = alerts
        .newly_fired
        .iter()
        .filter_map(|&i| alerts.list.get(i))
        .filter(|a| a.severity == crate::scene::ops::Severity::Critical && a.position.is_some())
        .rfind(|a| a.inhibited_by.is_none() && !alerts.is_silenced(a, twin_now));
    if let Some(alert) = newest {
        state.last_flight_s = now;
        select.write(super::SelectIncident(super::Incident::Alert(
            alert.id.clone(),
        )));
    }
}

/// Eases the camera towards its target: direct input feels immediate, a flight to a
/// named view takes about a second.
fn follow(time: Res<Time>, mut cameras: Query<(&mut WallCamera, &mut Transform)>) {
    let t = 1.0 - (-6.0 * time.delta_secs()).exp();
    for (mut cam, mut transform) in &mut cameras {
        let next = cam.current.lerp(&cam.target, t);
        cam.current = next;
        *transform = next.transform();
    }
}
