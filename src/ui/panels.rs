//! The wall's layout: the header on top, the KPI board and the feeds on the left, the
//! inspector, the alerts and the work orders on the right, and where the screen is
//! wide enough the charts, rankings and projects along the bottom. Each panel is a
//! file of its own; they read the state gathered here and ask for changes with
//! messages.

use super::i18n::{Tr, W};
use super::theme;
use crate::city::{Buildings, CityStatus, CurrentScene, LoadPhase};
use crate::feeds::ingest::{
    DisplayName, FeedEntities, FeedId, FeedStats, GeoPosition, GridRef, IotDevice, Projects,
    Readings, Status, VideoCamera,
};
use crate::feeds::schema::{DeviceKind, DeviceStatus};
use crate::feeds::snapshot::{SnapshotCache, SnapshotState};
use crate::ops::alerts::{Alerts, OperatorAction};
use crate::ops::history::KpiHistory;
use crate::ops::kpis::Kpis;
use crate::ops::modes::OperatingState;
use crate::ops::orders::OrderBook;
use crate::ops::{DeviceCounts, TwinClock};
use crate::view::pulse::AlertFlash;
use crate::view::wall::{PanelPlaces, Seams};
use crate::view::{SelectIncident, Selection};
use bevy::ecs::system::SystemParam;
use bevy::platform::collections::HashMap;
use bevy::prelude::*;
use bevy_egui::EguiContexts;
use bevy_egui::egui::{self, Color32, RichText};

/// What the inspector shows of a device or camera.
pub(super) type MarkerView = (
    &'static FeedId,
    &'static Status,
    &'static GeoPosition,
    Option<&'static DisplayName>,
    Option<&'static GridRef>,
    Option<&'static IotDevice>,
    Option<&'static Readings>,
    Option<&'static VideoCamera>,
);

/// The operations state the panels read.
#[derive(SystemParam)]
pub(super) struct OpsView<'w> {
    pub clock: Res<'w, TwinClock>,
    pub devices: Res<'w, DeviceCounts>,
    pub kpis: Res<'w, Kpis>,
    pub mode: Res<'w, OperatingState>,
    pub alerts: Res<'w, Alerts>,
    pub book: Res<'w, OrderBook>,
    pub history: Res<'w, KpiHistory>,
    pub projects: Res<'w, Projects>,
}

/// What the panels ask for.
#[derive(SystemParam)]
pub(super) struct Asks<'w> {
    pub switch_language: MessageWriter<'w, super::SwitchLanguage>,
    pub actions: MessageWriter<'w, OperatorAction>,
    pub select: MessageWriter<'w, SelectIncident>,
    pub overlays: ResMut<'w, crate::view::overlays::Overlays>,
}

#[derive(SystemParam)]
pub(super) struct WallState<'w, 's> {
    pub markers: Query<'w, 's, MarkerView>,
    pub entities: Res<'w, FeedEntities>,
    pub snapshots: ResMut<'w, SnapshotCache>,
    pub scene: Res<'w, CurrentScene>,
    pub ops: OpsView<'w>,
    pub city: Res<'w, CityStatus>,
    pub feeds: Res<'w, FeedStats>,
    pub buildings: Res<'w, Buildings>,
    pub selection: Res<'w, Selection>,
    pub flash: Res<'w, AlertFlash>,
    pub time: Res<'w, Time>,
    pub feed_config: Option<Res<'w, crate::feeds::FeedConfig>>,
    pub layout: Option<Res<'w, crate::view::wall::WallLayout>>,
    pub following: Option<Res<'w, crate::view::sync::Following>>,
    /// The replays' timeline (none when every feed is live).
    pub replay: Option<Res<'w, crate::feeds::playback::ReplayControl>>,
    pub timeline_marks: Res<'w, super::timeline::TimelineMarks>,
}

/// A panel's glass: near-black blue with a thin edge.
pub(super) fn frame() -> egui::Frame {
    egui::Frame::new()
        .fill(theme::PANEL)
        .stroke(egui::Stroke::new(1.0, theme::EDGE))
        .inner_margin(egui::Margin::same(14))
}

/// Below this width (logical pixels) the wall leaves out the bottom strip of charts,
/// rankings and projects (a laptop window); from [`WIDE`] on, the alerts and the work
/// orders stand side by side.
const CHARTS_FROM: f32 = 1800.0;
const WIDE: f32 = 3000.0;

pub(super) fn draw(
    mut contexts: EguiContexts,
    mut state: WallState,
    mut asks: Asks,
    mut textures: Local<Textures>,
    mut confirm: Local<super::header::ModeConfirm>,
    mut timing: ResMut<super::UiTiming>,
) -> Result {
    let cpu = super::thread_cpu();
    let mut parts = Vec::with_capacity(8);
    wall(
        contexts.ctx_mut()?,
        &mut state,
        &mut asks,
        &mut textures,
        &mut confirm,
        &mut parts,
    );
    timing.add_since(cpu);
    timing.parts = parts;
    Ok(())
}

/// Every panel of the wall, in the places its layout gives them; `parts` gets the CPU
/// time each took.
fn wall(
    ctx: &egui::Context,
    state: &mut WallState,
    asks: &mut Asks,
    textures: &mut Textures,
    confirm: &mut super::header::ModeConfirm,
    parts: &mut Vec<(&'static str, std::time::Duration)>,
) {
    let tr = Tr(state.scene.0.file.language);
    // Each part's CPU time, for `bench ui`'s breakdown.
    let mut last = super::thread_cpu();
    let mut mark = |name: &'static str| {
        let now = super::thread_cpu();
        parts.push((name, now.saturating_sub(last)));
        last = now;
    };
    let pictures = super::inspector::pictures(ctx, state, textures);
    let width = ctx.viewport_rect().width();
    let places = state
        .layout
        .as_ref()
        .map_or(PanelPlaces::ALL, |l| l.panels());
    let seams = state
        .layout
        .as_ref()
        .map_or_else(Seams::default, |l| l.seams(ctx.zoom_factor()));
    ctx.data_mut(|d| d.insert_temp(egui::Id::new(SEAMS), seams));
    let mut root = super::root_ui(ctx, "wall");
    mark("pictures");
    if places.header {
        egui::Panel::top("header")
            .frame(frame())
            .show(&mut root, |ui| {
                super::header::header(ui, state, asks, confirm, tr)
            });
    }
    mark("header");
    if places.bottom {
        egui::Panel::bottom("status")
            .frame(frame().inner_margin(egui::Margin::symmetric(14, 6)))
            .show(&mut root, |ui| {
                status_bar(ui, state, asks, width >= CHARTS_FROM, tr)
            });
        mark("status");
        if state.replay.is_some() {
            egui::Panel::bottom("timeline")
                .frame(frame().inner_margin(egui::Margin::symmetric(14, 6)))
                .show(&mut root, |ui| super::timeline::timeline(ui, state, tr));
        }
        mark("timeline");
        // On a tile, the strip has the tile's whole width; on one window, only where
        // the window is wide enough for the map to keep its room.
        if width >= CHARTS_FROM || places != PanelPlaces::ALL {
            egui::Panel::bottom("charts")
                .frame(frame())
                .exact_size(250.0)
                .resizable(false)
                .show(&mut root, |ui| super::charts::strip(ui, state, tr));
        }
        mark("charts");
    }
    if places.left {
        egui::Panel::left("kpis")
            .frame(frame())
            .exact_size(360.0)
            .resizable(false)
            .show(&mut root, |ui| {
                super::board::board(ui, state, tr);
                ui.add_space(10.0);
                super::feeds::feeds(ui, state, tr);
            });
    }
    mark("kpis+feeds");
    if !places.right {
        return;
    }
    let selected = state.selection.building.is_some()
        || state.selection.marker.is_some()
        || state.selection.incident.is_some();
    if width >= WIDE {
        egui::Panel::right("orders")
            .frame(frame())
            .exact_size(420.0)
            .resizable(false)
            .show(&mut root, |ui| {
                super::incidents::orders(ui, state, asks, tr)
            });
    }
    mark("orders");
    egui::Panel::right("incidents")
        .frame(frame())
        .exact_size(420.0)
        .resizable(false)
        .show(&mut root, |ui| {
            if selected {
                egui::ScrollArea::vertical()
                    .id_salt("inspector")
                    .max_height(ui.available_height() * 0.55)
                    .show(ui, |ui| {
                        super::inspector::inspector(ui, state, &pictures, tr)
                    });
                ui.add_space(8.0);
            }
            super::incidents::alerts(ui, state, asks, tr, width >= WIDE);
            if width < WIDE {
                ui.add_space(8.0);
                super::incidents::orders(ui, state, asks, tr);
            }
        });
    mark("inspector+alerts");
}

/// The egui textures of camera pictures on screen, each with the picture generation it
/// was made from; those no longer shown are dropped.
#[derive(Default)]
pub(super) struct Textures(pub HashMap<String, (u64, egui::TextureHandle)>);

/// The texture for camera `id`'s current picture, made anew when the picture changes.
pub(super) fn snapshot_texture(
    ctx: &egui::Context,
    cache: &SnapshotCache,
    id: &str,
    textures: &mut Textures,
) -> Option<egui::TextureHandle> {
    let snapshot = cache.get(id)?;
    let SnapshotState::Ready(picture) = &snapshot.state else {
        return None;
    };
    if textures.0.get(id).map(|(g, _)| *g) != Some(snapshot.generation) {
        let image = egui::ColorImage::from_rgba_unmultiplied(
            [picture.width as usize, picture.height as usize],
            &picture.rgba,
        );
        let handle = ctx.load_texture(
            format!("snapshot-{id}"),
            image,
            egui::TextureOptions::LINEAR,
        );
        textures
            .0
            .insert(id.to_string(), (snapshot.generation, handle));
    }
    textures.0.get(id).map(|(_, h)| h.clone())
}

pub(super) fn kind_word(kind: DeviceKind) -> W {
    match kind {
        DeviceKind::Elevator => W::Elevator,
        DeviceKind::GasDetector => W::GasDetector,
        DeviceKind::ManholeCover => W::ManholeCover,
        DeviceKind::WaterPressure => W::WaterPressure,
        DeviceKind::BridgeStrain => W::BridgeStrain,
        DeviceKind::ParkingSpace => W::ParkingSpace,
        DeviceKind::StreetLight => W::StreetLight,
        DeviceKind::TrafficFlow => W::TrafficFlow,
        DeviceKind::AirQuality => W::AirQuality,
        DeviceKind::Other => W::Other,
    }
}

pub(super) fn status_color(status: DeviceStatus) -> Color32 {
    match status {
        DeviceStatus::Online => theme::ONLINE,
        DeviceStatus::Alarm => theme::ALARM,
        DeviceStatus::Fault => theme::FAULT,
        DeviceStatus::Offline => theme::OFFLINE,
    }
}

pub(super) fn status_word(status: DeviceStatus) -> W {
    match status {
        DeviceStatus::Online => W::Online,
        DeviceStatus::Alarm => W::Alarm,
        DeviceStatus::Fault => W::Fault,
        DeviceStatus::Offline => W::Offline,
    }
}

/// Where the window's bezels are this frame (egui's temporary data under this id).
const SEAMS: &str = "wall-seams";

/// The bezels of this window, in the panels' logical pixels.
pub(super) fn seams(ui: &egui::Ui) -> Seams {
    ui.ctx()
        .data(|d| d.get_temp::<Seams>(egui::Id::new(SEAMS)))
        .unwrap_or_default()
}

/// Skips down past a horizontal bezel when the next block, about `height` tall, would
/// cross it: no text straddles two screens.
pub(super) fn keep_off_bezels(ui: &mut egui::Ui, height: f32) {
    let y = ui.cursor().top();
    let to = seams(ui).clear_of(y, height, 6.0);
    if to > y {
        ui.add_space(to - y);
    }
}

/// Lays a row's items out left to right so that none crosses a vertical bezel: an item
/// that would is moved just past it. Each item's width is the one it had the frame
/// before (egui lays the panels out every frame; the first frame places them as they
/// fall).
pub(super) struct SeamFlow {
    ctx: egui::Context,
    id: egui::Id,
    seams: Seams,
    widths: Vec<f32>,
    next: usize,
}

impl SeamFlow {
    pub fn new(ui: &egui::Ui, name: &str) -> Self {
        let id = egui::Id::new(("seam-flow", name));
        let seams = seams(ui);
        let widths = if seams.xs.is_empty() {
            Vec::new()
        } else {
            ui.ctx()
                .data(|d| d.get_temp::<Vec<f32>>(id))
                .unwrap_or_default()
        };
        Self {
            ctx: ui.ctx().clone(),
            id,
            seams,
            widths,
            next: 0,
        }
    }

    /// Adds one item (a label, a toggle with its legend…) clear of the bezels.
    pub fn item<R>(&mut self, ui: &mut egui::Ui, add: impl FnOnce(&mut egui::Ui) -> R) -> R {
        if self.seams.xs.is_empty() {
            return add(ui);
        }
        let i = self.next;
        self.next += 1;
        if let Some(&width) = self.widths.get(i) {
            let x = ui.cursor().left();
            let to = self.seams.clear_of_x(x, width, 10.0);
            if to > x {
                ui.add_space(to - x);
            }
        }
        let inner = ui.horizontal(add);
        if self.widths.len() <= i {
            self.widths.resize(i + 1, 0.0);
        }
        self.widths[i] = inner.response.rect.width();
        inner.inner
    }
}

impl Drop for SeamFlow {
    /// Keeps this frame's widths for the next.
    fn drop(&mut self) {
        if !self.seams.xs.is_empty() {
            let widths = std::mem::take(&mut self.widths);
            self.ctx.data_mut(|d| d.insert_temp(self.id, widths));
        }
    }
}

/// A label (dim) and a value beside it, as one row of a two-column grid.
pub(super) fn fact(ui: &mut egui::Ui, label: &str, value: RichText) {
    ui.label(RichText::new(label).color(theme::DIM));
    ui.label(value);
    ui.end_row();
}

/// Load statistics, problems and the overlay toggles; on a wall of several screens
/// across, no item straddles a bezel.
fn status_bar(ui: &mut egui::Ui, s: &WallState, asks: &mut Asks, legend: bool, tr: Tr) {
    ui.horizontal(|ui| {
        let mut flow = SeamFlow::new(ui, "status");
        flow.item(ui, |ui| match s.city.phase {
            LoadPhase::Loading => {
                ui.label(RichText::new(tr.word(W::LoadingCity)).color(theme::FAULT));
            }
            LoadPhase::Failed => {
                ui.label(RichText::new(tr.word(W::CityFailed)).color(theme::ALARM));
            }
            LoadPhase::Ready => {
                ui.label(
                    RichText::new(format!(
                        "{} {} · {} {} · {} {} · {:.1}s",
                        tr.word(W::Buildings),
                        s.city.buildings,
                        tr.word(W::Roads),
                        s.city.roads,
                        tr.word(W::Grids),
                        s.city.grids,
                        s.city.load_time.as_secs_f32()
                    ))
                    .color(theme::DIM)
                    .size(14.0),
                );
            }
        });
        if s.city.skipped_features > 0 || !s.city.problems.is_empty() {
            flow.item(ui, |ui| {
                ui.separator();
                ui.label(
                    RichText::new(format!(
                        "{} {} · {} {}",
                        tr.word(W::SkippedFeatures),
                        s.city.skipped_features,
                        tr.word(W::Problems),
                        s.city.problems.len()
                    ))
                    .color(theme::FAULT)
                    .size(14.0),
                )
                .on_hover_text(s.city.problems.join("\n"));
            });
        }
        flow.item(ui, |ui| ui.separator());
        super::layers::layers(ui, &mut flow, &mut asks.overlays, legend, tr);
    });
}
