//! The wall's half of the overlays: one mesh per overlay, refreshed when its buffers
//! change; the work-order pins and key vehicles as entities scaled with the view; the
//! toggle keys.

use super::*;

/// The wall's half: one mesh per overlay, refreshed when its buffers change; the key
/// vehicles as boxes moved each frame.
pub(crate) fn plugin(app: &mut App) {
    compute(app);
    app.add_systems(Startup, setup).add_systems(
        Update,
        (toggle_keys, view_scale, (upload, draw_vehicles, draw_pins))
            .chain()
            .in_set(TwinSet::View)
            .after(Computed),
    );
}

#[derive(Component)]
struct OverlayLayer(Layer, u64);

#[derive(Resource)]
struct Looks {
    vehicle_materials: [Handle<StandardMaterial>; 3],
    vehicle_mesh: Handle<Mesh>,
    pin_materials: [Handle<StandardMaterial>; 4],
    pin_mesh: Handle<Mesh>,
}

#[derive(Component)]
struct VehicleBox(String);

#[derive(Component)]
struct OrderPin;

fn setup(
    mut commands: Commands,
    mut meshes: ResMut<Assets<Mesh>>,
    mut materials: ResMut<Assets<StandardMaterial>>,
) {
    let blended = materials.add(StandardMaterial {
        base_color: Color::WHITE,
        unlit: true,
        alpha_mode: AlphaMode::Blend,
        double_sided: true,
        cull_mode: None,
        ..default()
    });
    let opaque = materials.add(StandardMaterial {
        base_color: Color::WHITE,
        unlit: true,
        double_sided: true,
        cull_mode: None,
        ..default()
    });
    for layer in Layer::ALL {
        // The mesh comes with the overlay's first buffers: an empty mesh is never
        // handed to the renderer (its allocator has no room for nothing).
        commands.spawn((
            OverlayLayer(layer, 0),
            MeshMaterial3d(if layer.translucent() {
                blended.clone()
            } else {
                opaque.clone()
            }),
            Transform::default(),
            Visibility::Hidden,
        ));
    }
    let unlit = |m: &mut Assets<StandardMaterial>, c: Color| {
        m.add(StandardMaterial {
            base_color: c,
            emissive: c.to_linear() * 1.5,
            unlit: true,
            ..default()
        })
    };
    // A pin: a column with a diamond head at PIN_HEAD_M, white (its material colours).
    let mut pin = MeshData::default();
    add_box(
        &mut pin,
        Vec3::ZERO,
        Vec3::new(4.0, PIN_HEAD_M, 4.0),
        0.0,
        [1.0; 4],
    );
    add_box(
        &mut pin,
        Vec3::Y * (PIN_HEAD_M - 8.0),
        Vec3::splat(16.0),
        std::f32::consts::FRAC_PI_4,
        [1.0; 4],
    );
    commands.insert_resource(Looks {
        vehicle_materials: [
            unlit(&mut materials, Color::srgb(1.0, 0.9, 0.2)),
            unlit(&mut materials, Color::srgb(0.85, 0.5, 0.2)),
            unlit(&mut materials, Color::srgb(1.0, 0.15, 0.1)),
        ],
        // A vehicle three times its size, to be seen across the room.
        vehicle_mesh: meshes.add(Cuboid::new(10.0, 10.0, 36.0)),
        pin_materials: PinLook::ALL.map(|l| unlit(&mut materials, l.color())),
        pin_mesh: meshes.add(pin.into_mesh()),
    });
}

/// Pins and vehicles keep a readable size as the camera pulls back, as the markers
/// do (see [`crate::view::markers`]): life size close in, up to ten times far out.
fn view_scale(cameras: Query<&crate::view::camera::WallCamera>, mut pins: ResMut<OrderPins>) {
    let Ok(cam) = cameras.single() else { return };
    let want = crate::view::markers::readable_scale(cam.current.distance_m);
    if (want - pins.scale).abs() > 0.05 * pins.scale.max(0.1) {
        pins.scale = want;
    }
}

/// One entity per pin, coloured by its look, scaled with the view.
fn draw_pins(
    mut commands: Commands,
    overlays: Res<Overlays>,
    pins: Res<OrderPins>,
    looks: Option<Res<Looks>>,
    mut drawn: Local<HashMap<String, Entity>>,
    mut shown_before: Local<bool>,
) {
    let Some(looks) = looks else { return };
    if !pins.is_changed() && !overlays.is_changed() && *shown_before == overlays.orders {
        return;
    }
    *shown_before = overlays.orders;
    let wanted: HashMap<&str, &Pin> = if overlays.orders {
        pins.pins.iter().map(|p| (p.id.as_str(), p)).collect()
    } else {
        HashMap::new()
    };
    drawn.retain(|id, e| {
        let keep = wanted.contains_key(id.as_str());
        if !keep {
            commands.entity(*e).despawn();
        }
        keep
    });
    let scale = pins.scale.max(1.0);
    for (id, pin) in wanted {
        let look = PinLook::ALL
            .iter()
            .position(|l| *l == pin.look)
            .unwrap_or(0);
        let parts = (
            Mesh3d(looks.pin_mesh.clone()),
            MeshMaterial3d(looks.pin_materials[look].clone()),
            Transform::from_translation(pin.base).with_scale(Vec3::splat(scale)),
        );
        match drawn.get(id) {
            Some(e) => {
                commands.entity(*e).insert(parts);
            }
            None => {
                let e = commands.spawn((OrderPin, parts)).id();
                drawn.insert(id.to_string(), e);
            }
        }
    }
}

fn upload(
    mut commands: Commands,
    overlays: Res<Overlays>,
    data: Res<OverlayMeshes>,
    mut meshes: ResMut<Assets<Mesh>>,
    mut layers: Query<(Entity, &mut OverlayLayer, Option<&Mesh3d>, &mut Visibility)>,
) {
    for (e, mut layer, mesh, mut visibility) in &mut layers {
        let slot = layer.0.slot();
        // An emptied overlay is hidden and keeps its last mesh.
        if layer.1 != data.version[slot] && !data.data[slot].is_empty() {
            layer.1 = data.version[slot];
            let fresh = data.data[slot].clone().into_mesh();
            match mesh {
                Some(mesh) => {
                    if let Err(why) = meshes.insert(&mesh.0, fresh) {
                        warn!("overlay {:?}: cannot replace its mesh: {why}", layer.0);
                    }
                }
                None => {
                    commands.entity(e).insert(Mesh3d(meshes.add(fresh)));
                }
            }
        }
        let want = if layer.0.shown(&overlays) && !data.data[slot].is_empty() {
            Visibility::Inherited
        } else {
            Visibility::Hidden
        };
        visibility.set_if_neq(want);
    }
}

fn draw_vehicles(
    mut commands: Commands,
    overlays: Res<Overlays>,
    marks: Res<VehicleMarks>,
    pins: Res<OrderPins>,
    look: Option<Res<Looks>>,
    mut boxes: Query<(
        Entity,
        &VehicleBox,
        &mut Transform,
        &mut MeshMaterial3d<StandardMaterial>,
    )>,
) {
    let Some(look) = look else { return };
    let shown: HashMap<&str, &VehicleMark> = if overlays.vehicles {
        marks.0.iter().map(|m| (m.id.as_str(), m)).collect()
    } else {
        HashMap::new()
    };
    let material = |m: &VehicleMark| {
        look.vehicle_materials[if m.off_rules {
            2
        } else if m.kind == VehicleKind::MuckTruck {
            1
        } else {
            0
        }]
        .clone()
    };
    let mut placed = std::collections::HashSet::new();
    for (e, VehicleBox(id), mut t, mut mat) in &mut boxes {
        let Some(m) = shown.get(id.as_str()) else {
            commands.entity(e).despawn();
            continue;
        };
        let want = placed_vehicle(m, pins.scale);
        t.set_if_neq(want);
        let wanted = material(m);
        if mat.0 != wanted {
            mat.0 = wanted;
        }
        placed.insert(id.as_str());
    }
    for (id, m) in shown {
        if placed.contains(id) {
            continue;
        }
        commands.spawn((
            VehicleBox(id.to_string()),
            Mesh3d(look.vehicle_mesh.clone()),
            MeshMaterial3d(material(m)),
            placed_vehicle(m, pins.scale),
        ));
    }
}

/// A vehicle's box: on the ground at its place, turned to its heading, scaled with
/// the view.
fn placed_vehicle(m: &VehicleMark, scale: f32) -> Transform {
    let scale = scale.max(1.0);
    Transform::from_translation(m.at + Vec3::Y * 5.0 * scale)
        .with_rotation(Quat::from_rotation_y(m.yaw))
        .with_scale(Vec3::splat(scale))
}

/// G cycles the grid choropleth (orders, alerts, off); R, O, T, P, V switch the
/// renovation projects, order pins, traffic, parking and vehicles.
fn toggle_keys(
    keys: Option<Res<ButtonInput<KeyCode>>>,
    egui: Option<Res<bevy_egui::input::EguiWantsInput>>,
    mut overlays: ResMut<Overlays>,
) {
    let Some(keys) = keys else { return };
    if egui.is_some_and(|e| e.wants_any_keyboard_input()) {
        return;
    }
    let mut o = *overlays;
    if keys.just_pressed(KeyCode::KeyG) {
        o.grid = o.grid.next();
    }
    for (key, flag) in [
        (KeyCode::KeyR, &mut o.projects),
        (KeyCode::KeyO, &mut o.orders),
        (KeyCode::KeyT, &mut o.traffic),
        (KeyCode::KeyP, &mut o.parking),
        (KeyCode::KeyV, &mut o.vehicles),
    ] {
        if keys.just_pressed(key) {
            *flag = !*flag;
        }
    }
    overlays.set_if_neq(o);
}
