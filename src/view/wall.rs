//! This window's part of the wall. A wall of several machines (`--tile C,R --tiles
//! COLSxROWS`) shows one picture: each machine renders its tile of one larger view
//! (Bevy's sub-view of a camera, an off-axis projection), laid out on a canvas that
//! includes the bezels, so lines run straight from one screen to the next. The panels
//! go where a wall's operators expect them: the header and the KPI board on the left
//! column, alerts and orders on the right one, the charts along the bottom row.

use super::camera::WallCamera;
use crate::scene::wall::{Screen, WallSpec};
use bevy::camera::SubCameraView;
use bevy::prelude::*;

/// The wall this window belongs to, and which tile of it the window is (none: the
/// window is the whole wall).
#[derive(Resource, Debug, Clone, Copy, PartialEq)]
pub struct WallLayout {
    pub wall: WallSpec,
    pub tile: Option<(u32, u32)>,
}

/// Which panels this window draws.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PanelPlaces {
    pub header: bool,
    pub left: bool,
    pub right: bool,
    /// The charts strip and the status bar.
    pub bottom: bool,
}

impl PanelPlaces {
    pub const ALL: PanelPlaces = PanelPlaces {
        header: true,
        left: true,
        right: true,
        bottom: true,
    };
}

impl WallLayout {
    /// `--tile C,R --tiles COLSxROWS` over screens of `screen_px` (or those of `wall`,
    /// with its bezels).
    pub fn tiled(
        wall: Option<WallSpec>,
        tile: (u32, u32),
        tiles: (u32, u32),
        screen_px: (u32, u32),
    ) -> Result<Self, String> {
        let base = wall.unwrap_or(WallSpec::single(screen_px.0, screen_px.1));
        let wall = WallSpec {
            cols: tiles.0,
            rows: tiles.1,
            ..base
        };
        if tiles.0 == 0 || tiles.1 == 0 || tile.0 >= tiles.0 || tile.1 >= tiles.1 {
            return Err(format!(
                "tile {},{} is not on a wall of {}x{} tiles",
                tile.0, tile.1, tiles.0, tiles.1
            ));
        }
        Ok(Self {
            wall,
            tile: Some(tile),
        })
    }

    /// This window's screen, when it is one tile of the wall.
    pub fn screen(&self) -> Option<Screen> {
        let (c, r) = self.tile?;
        self.wall
            .screens()
            .into_iter()
            .find(|s| s.col == c && s.row == r)
    }

    /// The part of the wall's view this window shows (none: all of it).
    pub fn sub_view(&self) -> Option<SubCameraView> {
        let screen = self.screen()?;
        let (w, h) = self.wall.canvas_px();
        Some(SubCameraView {
            full_size: UVec2::new(w, h),
            offset: Vec2::new(screen.canvas_at.0 as f32, screen.canvas_at.1 as f32),
            size: UVec2::new(screen.size.0, screen.size.1),
        })
    }

    /// The panels on this window: all on a whole wall; on a tile, the header and the
    /// left column on the left tiles of the top and the others, the right column on
    /// the right tiles, the charts on the bottom row (its middle tiles when there are
    /// three columns or more).
    pub fn panels(&self) -> PanelPlaces {
        let Some((c, r)) = self.tile else {
            return PanelPlaces::ALL;
        };
        let (cols, rows) = (self.wall.cols, self.wall.rows);
        let bottom_row = r + 1 == rows;
        PanelPlaces {
            header: r == 0 && c == 0,
            left: c == 0,
            right: c + 1 == cols,
            bottom: bottom_row
                && (if cols >= 3 {
                    c > 0 && c + 1 < cols
                } else {
                    c == 0
                }),
        }
    }
}

/// Where the screens' edges lie in this window, in the panels' logical pixels: the
/// panels keep their text off them.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Seams {
    /// x of each vertical bezel (between two columns of screens).
    pub xs: Vec<f32>,
    /// y of each horizontal bezel.
    pub ys: Vec<f32>,
}

impl WallLayout {
    /// The bezels inside this window at a UI zoom of `zoom` (none on a tile: its
    /// window is one screen).
    pub fn seams(&self, zoom: f32) -> Seams {
        if self.tile.is_some() {
            return Seams::default();
        }
        let (w, h) = self.wall.screen_px;
        Seams {
            xs: (1..self.wall.cols).map(|c| (c * w) as f32 / zoom).collect(),
            ys: (1..self.wall.rows).map(|r| (r * h) as f32 / zoom).collect(),
        }
    }
}

impl Seams {
    /// The stretches of `[x0, x1]` between vertical bezels, each `margin` clear of them.
    pub fn spans(&self, x0: f32, x1: f32, margin: f32) -> Vec<(f32, f32)> {
        let mut cuts: Vec<f32> = self
            .xs
            .iter()
            .copied()
            .filter(|x| *x > x0 && *x < x1)
            .collect();
        cuts.insert(0, x0 - margin);
        cuts.push(x1 + margin);
        cuts.windows(2)
            .map(|w| (w[0] + margin, w[1] - margin))
            .filter(|(a, b)| b > a)
            .collect()
    }

    /// Where an item `width` wide starting at `x` should start instead so that it does
    /// not cross a vertical bezel: just past the bezel, or where it was.
    pub fn clear_of_x(&self, x: f32, width: f32, margin: f32) -> f32 {
        self.xs
            .iter()
            .find(|b| x < **b + margin && x + width > **b - margin)
            .map_or(x, |b| b + margin)
    }

    /// Where a block `height` tall starting at `y` should start instead so that it does
    /// not cross a horizontal bezel: just past the bezel, or where it was.
    pub fn clear_of(&self, y: f32, height: f32, margin: f32) -> f32 {
        self.ys
            .iter()
            .find(|b| y < **b + margin && y + height > **b - margin)
            .map_or(y, |b| b + margin)
    }

    /// `n` columns at least `min_w` wide laid out over the stretches between bezels,
    /// filling each stretch before the next; fewer when they do not fit.
    pub fn columns(&self, x0: f32, x1: f32, n: usize, min_w: f32, gap: f32) -> Vec<(f32, f32)> {
        let spans = self.spans(x0, x1, gap / 2.0);
        let fits: Vec<usize> = spans
            .iter()
            .map(|(a, b)| (((b - a) + gap) / (min_w + gap)).floor() as usize)
            .collect();
        let total: usize = fits.iter().sum();
        let n = n.min(total);
        let mut left = n;
        let mut out = Vec::new();
        for ((a, b), fit) in spans.iter().zip(&fits) {
            let here = (*fit).min(left);
            if here == 0 {
                continue;
            }
            let w = ((b - a) - gap * (here - 1) as f32) / here as f32;
            for k in 0..here {
                let start = a + k as f32 * (w + gap);
                out.push((start, start + w));
            }
            left -= here;
        }
        out
    }
}

impl WallLayout {
    /// One window over several screens with bezels between them: the 3D view is drawn
    /// by one camera per screen, each its part of the canvas, so the bezels hide their
    /// pixels. (Without bezels one camera draws the same picture.)
    pub fn split(&self) -> bool {
        self.tile.is_none() && self.wall.bezel_px > 0 && self.wall.cols * self.wall.rows > 1
    }
}

/// The camera of a screen other than the first, on a split wall: a child of the wall
/// camera, so it moves with it.
#[derive(Component, Debug)]
pub struct ScreenCamera;

/// The panels' own camera on a split wall (egui draws over the whole window, not one
/// screen's viewport).
#[derive(Component, Debug)]
pub struct PanelCamera;

pub(super) fn plugin(app: &mut App) {
    app.add_systems(
        Update,
        (apply_sub_view, split_screens).in_set(crate::TwinSet::View),
    );
}

/// Before the first camera exists: a split wall's panels get a camera of their own.
pub fn prepare(app: &mut App, layout: &WallLayout) {
    if !layout.split() {
        return;
    }
    if let Some(mut settings) = app
        .world_mut()
        .get_resource_mut::<bevy_egui::EguiGlobalSettings>()
    {
        settings.auto_create_primary_context = false;
    }
    app.add_systems(Startup, |mut commands: Commands| {
        commands.spawn((
            Camera2d,
            Camera {
                order: 100,
                clear_color: ClearColorConfig::None,
                ..default()
            },
            PanelCamera,
            bevy_egui::PrimaryEguiContext,
        ));
    });
}

/// Gives each screen of a split wall its camera: the wall camera takes the first, a
/// child camera each of the others, each with its viewport and its part of the canvas.
fn split_screens(
    mut commands: Commands,
    layout: Option<Res<WallLayout>>,
    adapter: Option<Res<bevy::render::renderer::RenderAdapterInfo>>,
    mut cameras: Query<(Entity, &mut Camera, &Projection), With<WallCamera>>,
    mut done: Local<bool>,
) {
    let Some(layout) = layout.filter(|l| l.split()) else {
        return;
    };
    let (Some(adapter), Ok((wall, mut first, projection))) = (adapter, cameras.single_mut()) else {
        return;
    };
    if std::mem::replace(&mut *done, true) {
        return;
    }
    let software = format!("{:?}", adapter.device_type) == "Cpu";
    let (w, h) = layout.wall.canvas_px();
    for (i, screen) in layout.wall.screens().into_iter().enumerate() {
        let viewport = bevy::camera::Viewport {
            physical_position: UVec2::new(screen.window_at.0, screen.window_at.1),
            physical_size: UVec2::new(screen.size.0, screen.size.1),
            ..default()
        };
        let sub = SubCameraView {
            full_size: UVec2::new(w, h),
            offset: Vec2::new(screen.canvas_at.0 as f32, screen.canvas_at.1 as f32),
            size: UVec2::new(screen.size.0, screen.size.1),
        };
        if i == 0 {
            first.viewport = Some(viewport);
            first.sub_camera_view = Some(sub);
            continue;
        }
        let mut screen_camera = commands.spawn((
            Camera3d::default(),
            Camera {
                order: i as isize,
                viewport: Some(viewport),
                sub_camera_view: Some(sub),
                ..default()
            },
            projection.clone(),
            Transform::IDENTITY,
            ScreenCamera,
            ChildOf(wall),
        ));
        if software {
            screen_camera.insert(Msaa::Off);
        }
    }
    info!(
        "wall: {} screens of {}x{}, {} px bezels: one camera each over a {w}x{h} canvas",
        layout.wall.cols * layout.wall.rows,
        layout.wall.screen_px.0,
        layout.wall.screen_px.1,
        layout.wall.bezel_px
    );
}

/// Sets the wall camera's sub-view for this window's tile.
fn apply_sub_view(
    layout: Option<Res<WallLayout>>,
    mut cameras: Query<&mut Camera, With<WallCamera>>,
) {
    let Some(sub) = layout.and_then(|l| l.sub_view()) else {
        return;
    };
    for mut camera in &mut cameras {
        if camera.sub_camera_view != Some(sub) {
            camera.sub_camera_view = Some(sub);
        }
    }
}
