//! The wall's egui panels: a dark theme sized for very large screens, the CJK font,
//! Chinese-first labels, and one function per panel. Panels only read resources and
//! ask for changes through messages.

mod board;
mod charts;
mod feeds;
mod header;
pub mod i18n;
mod incidents;
mod inspector;
mod layers;
mod panels;
pub mod plan_panel;
mod ticker;
pub mod timeline;

pub use charts::events_per_hour;
pub use i18n::{Tr, W};
pub use incidents::{acknowledge_group, alert_groups, countdown, pressing_orders, silence_group};

use crate::scene::Language;
use bevy::prelude::*;
use bevy_egui::{EguiContexts, EguiPrimaryContextPass, egui};
use std::sync::Arc;

/// Noto Sans CJK SC, subset to GBK (see `assets/fonts/README.md`).
const CJK_FONT: &[u8] = include_bytes!("../../assets/fonts/NotoSansSC-Regular-GBK.otf");

/// The wall's fonts: egui's own (Latin, symbols, emoji) first, then Noto Sans SC for
/// Chinese.
pub fn font_definitions() -> egui::FontDefinitions {
    let mut fonts = egui::FontDefinitions::default();
    fonts.font_data.insert(
        "noto-sans-sc".into(),
        Arc::new(egui::FontData::from_static(CJK_FONT)),
    );
    for family in [egui::FontFamily::Proportional, egui::FontFamily::Monospace] {
        fonts
            .families
            .entry(family)
            .or_default()
            .push("noto-sans-sc".into());
    }
    fonts
}

/// The characters of `text` that none of the wall's fonts can draw (they would show as
/// boxes), in order, each once. Whitespace and control characters are not drawn and
/// are never missing.
pub fn missing_glyphs(text: &str) -> Vec<char> {
    use skrifa::MetadataProvider;
    static CHARMAPS: std::sync::OnceLock<Vec<skrifa::FontRef<'static>>> =
        std::sync::OnceLock::new();
    let fonts = CHARMAPS.get_or_init(|| {
        font_definitions()
            .font_data
            .into_values()
            .filter_map(|data| match &data.font {
                // Every font the wall uses is static data (egui's and ours).
                std::borrow::Cow::Borrowed(bytes) => {
                    skrifa::FontRef::from_index(bytes, data.index).ok()
                }
                std::borrow::Cow::Owned(_) => None,
            })
            .collect()
    });
    let mut missing: Vec<char> = Vec::new();
    for c in text.chars() {
        if c.is_whitespace() || c.is_control() || missing.contains(&c) {
            continue;
        }
        if !fonts.iter().any(|f| f.charmap().map(c).is_some()) {
            missing.push(c);
        }
    }
    missing
}

/// Panel colours: near-black blue glass, cyan accents, status colours that match the
/// map markers.
pub mod theme {
    use bevy_egui::egui::Color32;
    pub const PANEL: Color32 = Color32::from_rgb(6, 14, 28);
    pub const EDGE: Color32 = Color32::from_rgb(28, 92, 140);
    /// The fill of a card in a list (an alert group, a work order).
    pub const CARD: Color32 = Color32::from_rgb(12, 24, 44);
    pub const TEXT: Color32 = Color32::from_rgb(214, 228, 245);
    pub const DIM: Color32 = Color32::from_rgb(120, 145, 175);
    pub const ACCENT: Color32 = Color32::from_rgb(64, 200, 255);
    pub const ONLINE: Color32 = Color32::from_rgb(38, 242, 140);
    pub const ALARM: Color32 = Color32::from_rgb(255, 64, 48);
    pub const FAULT: Color32 = Color32::from_rgb(255, 178, 26);
    pub const OFFLINE: Color32 = Color32::from_rgb(115, 128, 140);
    pub const SYNTHETIC: Color32 = Color32::from_rgb(255, 200, 60);
}

/// The whole window as one background `Ui`, that the panels are laid out in.
fn root_ui(ctx: &egui::Context, id: &'static str) -> egui::Ui {
    egui::Ui::new(
        ctx.clone(),
        id.into(),
        egui::UiBuilder::new()
            .layer_id(egui::LayerId::background())
            .max_rect(ctx.viewport_rect()),
    )
}

/// Switch the panels between Chinese (English beneath) and English: the header's
/// button sends it, as does the `L` key.
#[derive(Message, Debug, Clone, Copy)]
pub struct SwitchLanguage;

/// Applies [`SwitchLanguage`] and the `L` key (unless egui is taking typed text) to the
/// scene's language, which every panel reads.
pub fn switch_language(
    keys: Option<Res<ButtonInput<KeyCode>>>,
    egui: Option<Res<bevy_egui::input::EguiWantsInput>>,
    mut asked: MessageReader<SwitchLanguage>,
    mut scene: ResMut<crate::city::CurrentScene>,
) {
    let typing = egui.is_some_and(|e| e.wants_any_keyboard_input());
    let key = !typing && keys.is_some_and(|k| k.just_pressed(KeyCode::KeyL));
    let switches = asked.read().count() + usize::from(key);
    if switches % 2 == 1 {
        let language = &mut scene.0.file.language;
        *language = match *language {
            Language::Chinese => Language::English,
            Language::English => Language::Chinese,
        };
        info!("wall: language {}", String::from(*language));
    }
}

pub(super) fn plugin(app: &mut App) {
    use crate::view::plan::PlanRequest;
    app.add_message::<SwitchLanguage>()
        .add_systems(Update, switch_language);
    timeline::plugin(app);
    app.init_resource::<UiTiming>().add_systems(
        EguiPrimaryContextPass,
        (
            |mut t: ResMut<UiTiming>| t.pass = std::time::Duration::ZERO,
            setup_style,
            panels::draw.run_if(
                not(resource_exists::<PlanRequest>).and_then(not(resource_exists::<NoPanels>)),
            ),
            plan_panel::draw.run_if(resource_exists::<PlanRequest>),
            |mut t: ResMut<UiTiming>| t.last = t.pass,
        )
            .chain(),
    );
}

/// The CPU time of the last frame's egui pass (styling and every panel laid out), for
/// `bench ui`. Each system of the pass adds the CPU time of its own thread
/// ([`thread_cpu`]), so what the renderer's threads take from the same cores while the
/// pass runs is not counted in it (on two cores it doubled the wall-clock figure).
#[derive(Resource, Debug, Default)]
pub struct UiTiming {
    pass: std::time::Duration,
    pub last: std::time::Duration,
    /// The last pass's panels, each with its CPU time, in the order they were laid out.
    pub parts: Vec<(&'static str, std::time::Duration)>,
}

impl UiTiming {
    /// Adds this thread's CPU time since `since` (a [`thread_cpu`] reading).
    fn add_since(&mut self, since: std::time::Duration) {
        self.pass += thread_cpu().saturating_sub(since);
    }
}

/// The CPU time this thread has used so far.
pub fn thread_cpu() -> std::time::Duration {
    use rustix::time::{ClockId, clock_gettime};
    let t = clock_gettime(ClockId::ThreadCPUTime);
    std::time::Duration::new(
        u64::try_from(t.tv_sec).unwrap_or(0),
        u32::try_from(t.tv_nsec).unwrap_or(0),
    )
}

/// The wall without its panels (`bench ui`'s baseline).
#[derive(Resource, Debug, Default)]
pub struct NoPanels;

/// Rasterises digits and signs at every size the panels use, so live numbers never
/// wait a frame for a glyph (a wall must not flicker; a screenshot must be complete).
fn warm_glyphs(ctx: &egui::Context) {
    const SIGNS: &str = "0123456789:.,%-+/ ·";
    ctx.fonts_mut(|fonts| {
        for size in [12.0, 13.0, 14.0, 15.0, 16.0, 18.0, 22.0, 24.0, 30.0, 34.0] {
            for font in [
                egui::FontId::proportional(size),
                egui::FontId::monospace(size),
            ] {
                fonts.layout_no_wrap(SIGNS.into(), font, theme::TEXT);
            }
        }
    });
}

/// Installs the CJK font and the wall style once, and scales everything to the screen:
/// a 4K wall gets twice the 1080p sizes.
fn setup_style(
    mut contexts: EguiContexts,
    windows: Query<&Window, With<bevy::window::PrimaryWindow>>,
    layout: Option<Res<crate::view::wall::WallLayout>>,
    mut frames: Local<u32>,
    mut last_zoom: Local<f32>,
    mut warm_at: Local<u32>,
    mut timing: ResMut<UiTiming>,
) -> Result {
    let cpu = thread_cpu();
    let ctx = contexts.ctx_mut()?;
    *frames += 1;
    // Glyphs are rasterised per pixel density: warm them again once a new zoom has
    // taken effect.
    if *frames == 3 || *frames == *warm_at {
        warm_glyphs(ctx);
    }
    if *frames == 1 {
        ctx.set_fonts(font_definitions());
        let mut visuals = egui::Visuals::dark();
        visuals.panel_fill = theme::PANEL;
        visuals.window_fill = theme::PANEL;
        visuals.override_text_color = Some(theme::TEXT);
        visuals.widgets.noninteractive.bg_stroke = egui::Stroke::new(1.0, theme::EDGE);
        ctx.set_visuals(visuals);
        ctx.all_styles_mut(|style| {
            use egui::{FontId, TextStyle};
            style.text_styles = [
                (TextStyle::Heading, FontId::proportional(30.0)),
                (TextStyle::Body, FontId::proportional(18.0)),
                (TextStyle::Button, FontId::proportional(18.0)),
                (TextStyle::Small, FontId::proportional(14.0)),
                (TextStyle::Monospace, FontId::monospace(16.0)),
            ]
            .into();
            style.spacing.item_spacing = egui::vec2(10.0, 8.0);
        });
    }
    if let Ok(window) = windows.single() {
        // A wall's own scale (its screens' lines and the viewing distance), else the
        // window's height against 1080 lines.
        let zoom = layout.map_or((window.height() / 1080.0).clamp(0.75, 3.0), |l| {
            l.wall.ui_zoom()
        });
        if (zoom - *last_zoom).abs() > 0.01 {
            *last_zoom = zoom;
            ctx.set_zoom_factor(zoom);
            *warm_at = (*frames + 2).max(3);
        }
    }
    timing.add_since(cpu);
    Ok(())
}
