//! The city: GIS layers and glTF models of a scene, loaded off the render thread,
//! batched into a few meshes and spawned into the ECS.

pub mod bench;
pub mod fgb;
pub mod geometry;
pub mod gpkg;
pub mod import;
pub mod mesh;
pub mod models;
pub mod night;
pub mod prepare;
pub mod shp;
mod zero;

use crate::TwinSet;
use crate::geo::{LocalFrame, LocalPoint, LonLat, ToWgs84};
use crate::scene::Scene;
use bevy::prelude::*;
use crossbeam_channel::{Receiver, bounded};
use geo::{BoundingRect, Centroid};
use import::{Building, CityData, LandClass, LayerReport, Problem, RoadClass, Severity};
use mesh::MeshData;
use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::{Duration, Instant};

/// Buildings are merged into one mesh per square tile of at least this size; a large
/// city gets larger tiles so that there are at most about [`MAX_TILES`].
pub const TILE_SIZE_M: f64 = 500.0;
/// Draw calls for buildings stay near this however big the city (a few hundred
/// thousand buildings make ~5,000 tiles of 500 m).
pub const MAX_TILES: f64 = 48.0;

/// Heights above ground, so flat layers stack without z-fighting.
/// Land cover lies over the translucent district and grid fills (which would tint it
/// towards their blue) and under the roads; water over parks (a lake in its park).
const LAND_Y: [(LandClass, f32); 3] = [
    (LandClass::Green, 0.70),
    (LandClass::Paved, 0.75),
    (LandClass::Water, 0.80),
];
const GRID_FILL_Y: f32 = 0.3;
const DISTRICT_FILL_Y: f32 = 0.6;
const ROAD_Y: f32 = 1.0;
const GRID_OUTLINE_Y: f32 = 1.4;
const DISTRICT_OUTLINE_Y: f32 = 1.8;

/// A model file placed in the scene.
#[derive(Debug, Clone)]
pub struct ModelPlacement {
    /// Position of the model in the scene file's `models` list.
    pub index: usize,
    pub name: String,
    pub path: PathBuf,
    pub translation: Vec3,
    pub rotation: Quat,
    pub scale: f32,
}

/// A batch of buildings drawn as one mesh.
#[derive(Debug, Clone)]
pub struct TileMesh {
    pub mesh: MeshData,
    pub buildings: Vec<usize>,
}

/// Everything the loader thread hands to the ECS.
#[derive(Debug, Clone)]
pub struct LoadedCity {
    pub data: CityData,
    pub tiles: Vec<TileMesh>,
    pub roads: Vec<(RoadClass, MeshData)>,
    /// Land cover, one mesh per class.
    pub land: Vec<(LandClass, MeshData)>,
    pub district_fill: MeshData,
    pub district_outline: MeshData,
    pub grid_fill: MeshData,
    pub grid_outline: MeshData,
    pub models: Vec<ModelPlacement>,
    /// Building centroids in WGS84, same order as `data.buildings`.
    pub centroids: Vec<LonLat>,
    pub elapsed: Duration,
}

/// Every layer of the scene read into the local frame, problems recorded; no meshes.
pub fn read_layers(scene: &Scene, frame: &LocalFrame) -> CityData {
    let extent = scene.extent_box(frame);
    let mut data = CityData::default();
    for layer in &scene.file.layers {
        import::load_layer(
            layer,
            &scene.resolve(&layer.path),
            frame,
            extent,
            scene.strict_geometry,
            &mut data,
        );
    }
    data
}

/// Loads every layer and model of a scene; never fails as a whole, problems are listed.
/// Blocking: called on the loader thread by the app and directly by `citytwin check`.
pub fn load_city(scene: &Scene) -> LoadedCity {
    let started = Instant::now();
    let mut data = CityData::default();
    let frame = match LocalFrame::new(scene.file.origin) {
        Ok(f) => Some(f),
        Err(e) => {
            data.problems.push(Problem {
                file: scene.path.clone(),
                feature: None,
                severity: Severity::Error,
                message: format!("cannot set up the local frame: {e}"),
            });
            None
        }
    };
    if let Some(frame) = &frame {
        data = read_layers(scene, frame);
    }
    let models = frame
        .as_ref()
        .map(|f| place_models(scene, f, &mut data))
        .unwrap_or_default();
    if let Some(site) = &scene.hidden_site {
        use geo::Contains;
        data.buildings.retain(|b| !site.contains(&centre(b)));
    }
    let centres: Vec<_> = data.buildings.iter().map(centre).collect();
    let centroids = frame
        .as_ref()
        .map(|f| {
            centres
                .iter()
                .map(|c| {
                    f.to_lonlat(LocalPoint::new(c.x, c.y))
                        .unwrap_or(scene.file.origin)
                })
                .collect()
        })
        .unwrap_or_default();
    let mut city = LoadedCity {
        tiles: build_tiles(&data.buildings, &centres),
        roads: build_roads(&data),
        land: build_land(&data),
        district_fill: MeshData::default(),
        district_outline: MeshData::default(),
        grid_fill: MeshData::default(),
        grid_outline: MeshData::default(),
        models,
        centroids,
        data,
        elapsed: Duration::ZERO,
    };
    build_areas(
        &city.data.districts,
        [0.10, 0.45, 0.85, 0.10],
        DISTRICT_FILL_Y,
        &DISTRICT_OUTLINE,
        &mut city.district_fill,
        &mut city.district_outline,
    );
    build_areas(
        &city.data.grids,
        [0.20, 0.85, 0.70, 0.06],
        GRID_FILL_Y,
        &GRID_OUTLINE,
        &mut city.grid_fill,
        &mut city.grid_outline,
    );
    city.elapsed = started.elapsed();
    city
}

fn place_models(scene: &Scene, frame: &LocalFrame, data: &mut CityData) -> Vec<ModelPlacement> {
    let mut placed = Vec::new();
    for (index, model) in scene.file.models.iter().enumerate() {
        let path = scene.resolve(&model.path);
        let mut fail = |message: String| {
            data.problems.push(Problem {
                file: path.clone(),
                feature: None,
                severity: Severity::Error,
                message: format!("model '{}': {message}", model.name),
            })
        };
        if let Err(e) = models::validate(&path) {
            fail(e);
            continue;
        }
        let local = ToWgs84::new(&model.crs)
            .and_then(|t| t.convert(model.position.lon, model.position.lat))
            .and_then(|ll| frame.to_local(ll));
        match local {
            Ok(p) => placed.push(ModelPlacement {
                index,
                name: model.name.clone(),
                path,
                translation: p.to_world(0.0),
                // Heading is clockwise from north seen from above: a negative turn about +Y.
                rotation: Quat::from_rotation_y(-(model.heading_deg as f32).to_radians()),
                scale: model.scale as f32,
            }),
            Err(e) => fail(e.to_string()),
        }
    }
    placed
}

/// Night palette: cool blue-grey walls, lighter for taller buildings, roofs a shade up.
fn building_colors(height_m: f64) -> ([f32; 4], [f32; 4]) {
    let t = (height_m / 120.0).clamp(0.0, 1.0) as f32;
    let wall = [0.16 + 0.10 * t, 0.22 + 0.14 * t, 0.32 + 0.20 * t, 1.0];
    let roof = [wall[0] + 0.10, wall[1] + 0.12, wall[2] + 0.14, 1.0];
    (wall, roof)
}

fn centre(b: &Building) -> geo::Coord<f64> {
    b.footprint.centroid().map(|c| c.0).unwrap_or_default()
}

/// The tile edge for buildings centred at `centres`: 500 m, or more when that would
/// make too many.
fn tile_size(centres: &[geo::Coord<f64>]) -> f64 {
    let area = geo::MultiPoint::from(centres.to_vec())
        .bounding_rect()
        .map_or(0.0, |r| r.width() * r.height());
    TILE_SIZE_M.max((area / MAX_TILES).sqrt())
}

/// `centres`: of each building, in the same order.
fn build_tiles(buildings: &[Building], centres: &[geo::Coord<f64>]) -> Vec<TileMesh> {
    let size = tile_size(centres);
    let mut tiles: BTreeMap<(i64, i64), TileMesh> = BTreeMap::new();
    for (i, (b, c)) in buildings.iter().zip(centres).enumerate() {
        let key = ((c.x / size).floor() as i64, (c.y / size).floor() as i64);
        let tile = tiles.entry(key).or_insert_with(|| TileMesh {
            mesh: MeshData::default(),
            buildings: Vec::new(),
        });
        let (wall, roof) = building_colors(b.height_m);
        for polygon in &b.footprint {
            mesh::extrude(polygon, 0.0, b.height_m as f32, wall, roof, &mut tile.mesh);
        }
        tile.buildings.push(i);
    }
    tiles.into_values().collect()
}

pub fn road_color(class: RoadClass) -> [f32; 4] {
    match class {
        RoadClass::Expressway => [1.00, 0.62, 0.20, 1.0],
        RoadClass::Arterial => [0.95, 0.80, 0.45, 1.0],
        RoadClass::Secondary => [0.55, 0.62, 0.72, 1.0],
        RoadClass::Local => [0.32, 0.38, 0.46, 1.0],
    }
}

/// One mesh per class, each at its height, in the order given; a class with nothing
/// to draw is left out. `add` draws the class's features into its mesh.
fn mesh_per_class<C: Copy>(
    classes: impl IntoIterator<Item = (C, f32)>,
    mut add: impl FnMut(C, f32, &mut MeshData),
) -> Vec<(C, MeshData)> {
    classes
        .into_iter()
        .filter_map(|(class, y)| {
            let mut m = MeshData::default();
            add(class, y, &mut m);
            (!m.is_empty()).then_some((class, m))
        })
        .collect()
}

fn build_roads(data: &CityData) -> Vec<(RoadClass, MeshData)> {
    let classes = [
        RoadClass::Local,
        RoadClass::Secondary,
        RoadClass::Arterial,
        RoadClass::Expressway,
    ];
    // Higher classes sit a few centimetres higher so they cover crossings.
    let heights = classes
        .into_iter()
        .enumerate()
        .map(|(rank, class)| (class, ROAD_Y + rank as f32 * 0.05));
    mesh_per_class(heights, |class, y, m| {
        for road in data.roads.iter().filter(|r| r.class == class) {
            for line in &road.lines {
                mesh::ribbon(line, road.width_m, y, road_color(class), m);
            }
        }
    })
}

/// Land cover on the night map: water a deep navy, parks a dark green, squares a
/// grey, all darker than the roads so streets still lead the eye (and the water
/// darker than the blue-grey of lit walls, so the two never read alike).
pub fn land_color(class: LandClass) -> [f32; 4] {
    match class {
        LandClass::Water => [0.006, 0.022, 0.06, 1.0],
        LandClass::Green => [0.02, 0.07, 0.035, 1.0],
        LandClass::Paved => [0.07, 0.075, 0.09, 1.0],
    }
}

fn build_land(data: &CityData) -> Vec<(LandClass, MeshData)> {
    mesh_per_class(LAND_Y, |class, y, m| {
        for land in data.land.iter().filter(|l| l.class == class) {
            for polygon in &land.area.shape {
                mesh::flat(polygon, y, land_color(class), m);
            }
        }
    })
}

fn build_areas(
    areas: &[import::Area],
    fill_color: [f32; 4],
    fill_y: f32,
    style: &OutlineStyle,
    fill: &mut MeshData,
    outline: &mut MeshData,
) {
    for area in areas {
        for polygon in &area.shape {
            mesh::flat(polygon, fill_y, fill_color, fill);
        }
    }
    *outline = outline_mesh(areas.iter().map(|a| &a.shape), style, style.min_width_m);
}

/// How a boundary is drawn: a flat band, never thinner than `min_width_m`, widened
/// as the camera pulls back so it stays about `pixels` wide on screen.
#[derive(Debug, Clone, Copy)]
pub struct OutlineStyle {
    pub color: [f32; 4],
    pub min_width_m: f64,
    pub pixels: f64,
    pub y_m: f32,
}

pub const DISTRICT_OUTLINE: OutlineStyle = OutlineStyle {
    color: [0.30, 0.75, 1.00, 1.0],
    min_width_m: 12.0,
    pixels: 3.0,
    y_m: DISTRICT_OUTLINE_Y,
};
pub const GRID_OUTLINE: OutlineStyle = OutlineStyle {
    color: [0.25, 0.85, 0.70, 1.0],
    min_width_m: 3.0,
    pixels: 1.0,
    y_m: GRID_OUTLINE_Y,
};

/// The bands around every ring of `shapes`, `width_m` wide.
pub fn outline_mesh<'a>(
    shapes: impl Iterator<Item = &'a geo::MultiPolygon<f64>>,
    style: &OutlineStyle,
    width_m: f64,
) -> MeshData {
    let mut out = MeshData::default();
    for polygon in shapes.flatten() {
        for ring in std::iter::once(polygon.exterior()).chain(polygon.interiors()) {
            mesh::ribbon(ring, width_m, style.y_m, style.color, &mut out);
        }
    }
    out
}

/// A boundary layer's shapes, kept so its band can be redrawn at another width.
#[derive(Component, Debug, Clone)]
pub struct AreaOutline {
    pub style: OutlineStyle,
    pub shapes: std::sync::Arc<Vec<geo::MultiPolygon<f64>>>,
    pub width_m: f64,
}

/// One building as the ECS knows it: for picking, the inspector and the spatial index.
#[derive(Debug, Clone)]
pub struct BuildingRecord {
    pub id: String,
    pub name: Option<String>,
    pub height_m: f64,
    pub centroid: LonLat,
    pub footprint: geo::MultiPolygon<f64>,
    pub bounds: Option<geo::Rect<f64>>,
    pub properties: import::Properties,
    pub source: PathBuf,
}

/// All buildings of the loaded city, indexed by their position in the tiles.
#[derive(Resource, Debug, Default)]
pub struct Buildings(pub Vec<BuildingRecord>);

#[derive(Debug, Clone, Default, PartialEq)]
pub enum LoadPhase {
    #[default]
    Loading,
    Ready,
    /// The loader failed (it panicked, or its thread could not start): the wall
    /// says so and why (in `problems`) and keeps running its feeds.
    Failed,
}

/// What the UI and `shot` need to know about loading.
#[derive(Resource, Debug, Default)]
pub struct CityStatus {
    pub phase: LoadPhase,
    pub buildings: usize,
    pub roads: usize,
    pub districts: usize,
    pub grids: usize,
    pub pois: usize,
    /// Pieces of land cover (water, parks, squares).
    pub land: usize,
    pub skipped_features: usize,
    pub problems: Vec<String>,
    pub layers: Vec<LayerReport>,
    pub load_time: Duration,
    /// Landmark models handed to the asset server, and those still loading.
    pub models_expected: usize,
    pub models_pending: usize,
}

/// Sent once, when the loaded city has been spawned.
#[derive(Message, Debug, Clone)]
pub struct CityLoaded;

/// A batch of buildings; `buildings` index into [`Buildings`].
#[derive(Component, Debug)]
pub struct BuildingTile {
    pub buildings: Vec<usize>,
}

#[derive(Component, Debug)]
pub struct RoadLayer(pub RoadClass);

/// The land cover of one class (water, green, paved).
#[derive(Component, Debug)]
pub struct LandLayer(pub LandClass);

#[derive(Component, Debug)]
pub struct AreaLayer;

#[derive(Component, Debug)]
pub struct PointOfInterest {
    pub id: String,
    pub name: Option<String>,
}

#[derive(Component, Debug)]
pub struct Landmark {
    pub name: String,
}

/// An area's id and name (a district, a community grid or a micro-grid).
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct AreaName {
    pub id: String,
    pub name: Option<String>,
}

/// Areas of one kind, names and shapes (local metres) in the same order.
#[derive(Debug, Clone, Default)]
pub struct AreaSet {
    pub names: Vec<AreaName>,
    pub shapes: std::sync::Arc<Vec<geo::MultiPolygon<f64>>>,
}

/// The districts and grids of the loaded city, for point-in-polygon lookups.
#[derive(Resource, Debug, Clone, Default)]
pub struct CityAreas {
    pub districts: AreaSet,
    /// Street offices (街道).
    pub subdistricts: AreaSet,
    pub grids: AreaSet,
}

/// The loaded city's road centre lines (local metres), for what is drawn along roads
/// (traffic on the map's overlays).
#[derive(Resource, Debug, Clone, Default)]
pub struct RoadLines(pub std::sync::Arc<Vec<RoadLine>>);

#[derive(Debug, Clone)]
pub struct RoadLine {
    pub class: RoadClass,
    pub width_m: f64,
    pub line: geo::LineString<f64>,
}

/// The scene being shown.
#[derive(Resource, Debug, Clone)]
pub struct CurrentScene(pub Scene);

#[derive(Resource)]
struct CityLoader(Receiver<Result<LoadedCity, String>>);

pub(super) fn plugin(app: &mut App) {
    app.init_resource::<CityStatus>()
        .init_resource::<Buildings>()
        .init_resource::<CityAreas>()
        .init_resource::<RoadLines>()
        .add_message::<CityLoaded>()
        .add_systems(Startup, start_loading)
        .add_systems(Update, (receive_city, track_models).in_set(TwinSet::Ingest));
}

fn start_loading(mut commands: Commands, scene: Res<CurrentScene>, mut status: ResMut<CityStatus>) {
    let (tx, rx) = bounded(1);
    let scene = scene.0.clone();
    let spawned = std::thread::Builder::new()
        .name("city-loader".into())
        .spawn(move || {
            let path = scene.path.clone();
            let result =
                std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| load_city(&scene)))
                    .map_err(|panic| {
                        format!(
                            "{}: the city loader failed: {}",
                            path.display(),
                            crate::panic_text(&panic)
                        )
                    });
            // The receiver may be gone if the app quit first; nothing to do then.
            let _ = tx.send(result);
        });
    match spawned {
        Ok(_) => commands.insert_resource(CityLoader(rx)),
        Err(e) => fail(
            &mut status,
            format!("cannot start the city loader thread: {e}"),
        ),
    }
}

fn fail(status: &mut CityStatus, why: String) {
    error!("{why}");
    status.phase = LoadPhase::Failed;
    status.problems.push(why);
}

fn receive_city(
    mut commands: Commands,
    loader: Option<Res<CityLoader>>,
    mut status: ResMut<CityStatus>,
    mut buildings: ResMut<Buildings>,
    mut loaded: MessageWriter<CityLoaded>,
    mut meshes: Option<ResMut<Assets<Mesh>>>,
    mut materials: Option<ResMut<Assets<StandardMaterial>>>,
    asset_server: Option<Res<AssetServer>>,
    images: Option<ResMut<Assets<Image>>>,
) {
    let Some(loader) = loader else { return };
    let city = match loader.0.try_recv() {
        Ok(Ok(city)) => city,
        Err(crossbeam_channel::TryRecvError::Empty) => return,
        Ok(Err(why)) => {
            commands.remove_resource::<CityLoader>();
            return fail(&mut status, why);
        }
        Err(crossbeam_channel::TryRecvError::Disconnected) => {
            commands.remove_resource::<CityLoader>();
            return fail(
                &mut status,
                "the city loader stopped without a result".into(),
            );
        }
    };
    commands.remove_resource::<CityLoader>();
    // A file can hold thousands of bad features: log the first few, the panel and
    // `check` have them all.
    const LOGGED_PROBLEMS: usize = 20;
    for p in city.data.problems.iter().take(LOGGED_PROBLEMS) {
        match p.severity {
            Severity::Error => warn!("{p}"),
            Severity::Warning => info!("{p}"),
        }
    }
    if city.data.problems.len() > LOGGED_PROBLEMS {
        warn!(
            "… and {} more problems; run `citytwin check` to list them all",
            city.data.problems.len() - LOGGED_PROBLEMS
        );
    }
    *status = CityStatus {
        phase: LoadPhase::Ready,
        buildings: city.data.buildings.len(),
        roads: city.data.roads.len(),
        districts: city.data.districts.len(),
        grids: city.data.grids.len(),
        pois: city.data.pois.len(),
        land: city.data.land.len(),
        skipped_features: city.data.skipped_features(),
        problems: city.data.problems.iter().map(ToString::to_string).collect(),
        layers: city.data.layers.clone(),
        load_time: city.elapsed,
        models_expected: 0,
        models_pending: 0,
    };
    info!(
        "city loaded in {:.2?}: {} buildings, {} roads, {} districts, {} grids, {} skipped",
        city.elapsed,
        status.buildings,
        status.roads,
        status.districts,
        status.grids,
        status.skipped_features
    );
    let LoadedCity {
        data,
        tiles,
        roads,
        land,
        district_fill,
        district_outline,
        grid_fill,
        grid_outline,
        models,
        centroids,
        ..
    } = city;
    buildings.0 = data
        .buildings
        .into_iter()
        .zip(centroids)
        .map(|(b, centroid)| BuildingRecord {
            bounds: b.footprint.bounding_rect(),
            id: b.id,
            name: b.name,
            height_m: b.height_m,
            centroid,
            footprint: b.footprint,
            properties: b.properties,
            source: b.source,
        })
        .collect();

    // With a renderer, every batch gets a mesh and a material; headless, only the
    // entities (and the data behind them) exist.
    let mut draw = |mesh: MeshData, material: StandardMaterial| match (&mut meshes, &mut materials)
    {
        (Some(meshes), Some(materials)) => Some((
            Mesh3d(meshes.add(mesh.into_mesh())),
            MeshMaterial3d(materials.add(material)),
        )),
        _ => None,
    };
    // Walls carry the night's windows as their emissive map (see `night`).
    let windows = images.map(|mut images| images.add(night::window_texture()));
    for tile in tiles {
        let material = StandardMaterial {
            base_color: Color::WHITE,
            perceptual_roughness: 0.85,
            emissive: if windows.is_some() {
                LinearRgba::rgb(1.6, 1.4, 1.2)
            } else {
                LinearRgba::rgb(0.015, 0.025, 0.045)
            },
            emissive_texture: windows.clone(),
            ..default()
        };
        let mut e = commands.spawn((
            BuildingTile {
                buildings: tile.buildings,
            },
            Transform::default(),
            Visibility::default(),
        ));
        if let Some(bundle) = draw(tile.mesh, material) {
            e.insert(bundle);
        }
    }
    let flat = |alpha: bool| StandardMaterial {
        base_color: Color::WHITE,
        unlit: true,
        alpha_mode: if alpha {
            AlphaMode::Blend
        } else {
            AlphaMode::Opaque
        },
        ..default()
    };
    // Roads and land cover: opaque flat meshes, one per class.
    let mut flat_layers = Vec::new();
    for (class, mesh) in roads {
        flat_layers.push((commands.spawn(RoadLayer(class)).id(), mesh));
    }
    for (class, mesh) in land {
        flat_layers.push((commands.spawn(LandLayer(class)).id(), mesh));
    }
    for (e, mesh) in flat_layers {
        let mut e = commands.entity(e);
        e.insert((Transform::default(), Visibility::default()));
        if let Some(bundle) = draw(mesh, flat(false)) {
            e.insert(bundle);
        }
    }
    let names = |areas: &[import::Area]| {
        areas
            .iter()
            .map(|a| AreaName {
                id: a.id.clone(),
                name: a.name.clone(),
            })
            .collect::<Vec<_>>()
    };
    commands.insert_resource(RoadLines(std::sync::Arc::new(
        data.roads
            .iter()
            .flat_map(|r| {
                r.lines.iter().map(|line| RoadLine {
                    class: r.class,
                    width_m: r.width_m,
                    line: line.clone(),
                })
            })
            .collect(),
    )));
    let (district_names, grid_names) = (names(&data.districts), names(&data.grids));
    let street_names = names(&data.subdistricts);
    let shapes = |areas: Vec<import::Area>| {
        std::sync::Arc::new(areas.into_iter().map(|a| a.shape).collect::<Vec<_>>())
    };
    let (district_shapes, grid_shapes) = (shapes(data.districts), shapes(data.grids));
    let street_shapes = shapes(data.subdistricts);
    commands.insert_resource(CityAreas {
        districts: AreaSet {
            names: district_names,
            shapes: district_shapes.clone(),
        },
        subdistricts: AreaSet {
            names: street_names,
            shapes: street_shapes,
        },
        grids: AreaSet {
            names: grid_names,
            shapes: grid_shapes.clone(),
        },
    });
    let outline = |style: OutlineStyle, shapes| AreaOutline {
        style,
        shapes,
        width_m: style.min_width_m,
    };
    for (mesh, alpha, outline) in [
        (grid_fill, true, None),
        (district_fill, true, None),
        (
            grid_outline,
            false,
            Some(outline(GRID_OUTLINE, grid_shapes)),
        ),
        (
            district_outline,
            false,
            Some(outline(DISTRICT_OUTLINE, district_shapes)),
        ),
    ] {
        if mesh.is_empty() {
            continue;
        }
        let mut e = commands.spawn((AreaLayer, Transform::default(), Visibility::default()));
        if let Some(bundle) = draw(mesh, flat(alpha)) {
            e.insert(bundle);
        }
        if let Some(outline) = outline {
            e.insert(outline);
        }
    }
    let poi_mesh = meshes
        .as_mut()
        .map(|m| m.add(Cylinder::new(6.0, 30.0).mesh().resolution(12)));
    let poi_material = materials.as_mut().map(|m| {
        m.add(StandardMaterial {
            base_color: Color::srgb(0.2, 0.9, 1.0),
            emissive: LinearRgba::rgb(0.2, 0.9, 1.0),
            unlit: true,
            ..default()
        })
    });
    for poi in data.pois {
        let mut e = commands.spawn((
            PointOfInterest {
                id: poi.id,
                name: poi.name,
            },
            Transform::from_translation(poi.at.to_world(15.0)),
            Visibility::default(),
        ));
        if let (Some(m), Some(mat)) = (&poi_mesh, &poi_material) {
            e.insert((Mesh3d(m.clone()), MeshMaterial3d(mat.clone())));
        }
    }
    for model in models {
        let mut e = commands.spawn((
            Landmark {
                name: model.name.clone(),
            },
            Transform::from_translation(model.translation)
                .with_rotation(model.rotation)
                .with_scale(Vec3::splat(model.scale)),
            Visibility::default(),
        ));
        if let Some(server) = &asset_server {
            let file = model.path.file_name().unwrap_or_default().to_string_lossy();
            let path = format!("{}://{file}", model_asset_source(model.index));
            let handle = server.load(GltfAssetLabel::Scene(0).from_asset(path));
            e.insert(bevy::world_serialization::WorldAssetRoot(handle));
            status.models_expected += 1;
            status.models_pending += 1;
        }
    }
    loaded.write(CityLoaded);
}

/// Each model's folder is an asset source of its own, so a user's models load from
/// wherever the scene says without copying them under `assets/`.
pub fn model_asset_source(index: usize) -> String {
    format!("scene-model-{index}")
}

/// Registers the asset sources for a scene's models; call before `AssetPlugin` is added.
pub fn register_model_sources(app: &mut App, scene: &Scene) {
    use bevy::asset::io::AssetSourceBuilder;
    for (index, model) in scene.file.models.iter().enumerate() {
        let path = scene.resolve(&model.path);
        let dir = path
            .parent()
            .map(|d| d.canonicalize().unwrap_or_else(|_| d.to_owned()))
            .unwrap_or_default();
        app.register_asset_source(
            model_asset_source(index),
            AssetSourceBuilder::platform_default(&dir.to_string_lossy(), None),
        );
    }
}

fn track_models(
    mut status: ResMut<CityStatus>,
    landmarks: Query<&bevy::world_serialization::WorldAssetRoot, With<Landmark>>,
    asset_server: Option<Res<AssetServer>>,
) {
    let Some(server) = asset_server else { return };
    if status.phase != LoadPhase::Ready {
        return;
    }
    // Landmarks spawned this frame are not in the query yet; they count as pending.
    let settled = landmarks
        .iter()
        .filter(|root| {
            server.is_loaded_with_dependencies(root.0.id())
                || matches!(
                    server.get_load_state(root.0.id()),
                    Some(bevy::asset::LoadState::Failed(_))
                )
        })
        .count();
    let pending = status.models_expected.saturating_sub(settled);
    if pending != status.models_pending {
        status.models_pending = pending;
    }
}
