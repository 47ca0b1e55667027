//! The header: the city, the operating mode as a coloured banner (switched from here,
//! after a confirmation), a light per feed with its readable name, the clock (live
//! Beijing time, or replay time in amber with its speed) and the language button.

use super::i18n::{Tr, W};
use super::panels::{Asks, WallState};
use super::theme;
use crate::feeds::ingest::Health;
use crate::feeds::schema::OperatingMode;
use crate::ops::alerts::{Action, OperatorAction};
use bevy_egui::egui::{self, Align, Color32, Layout, RichText};

/// A mode switch asked for in the header, waiting for its confirmation.
#[derive(Default)]
pub(super) struct ModeConfirm(Option<OperatingMode>);

pub(super) fn mode_look(mode: OperatingMode) -> (W, Color32) {
    match mode {
        OperatingMode::Daily => (W::ModeDaily, theme::ONLINE),
        OperatingMode::MajorHoliday => (W::ModeHoliday, theme::ACCENT),
        OperatingMode::MajorEvent => (W::ModeEvent, theme::FAULT),
        OperatingMode::Emergency => (W::ModeEmergency, theme::ALARM),
    }
}

/// The operator the wall's own actions are filed under.
pub(super) const WALL_OPERATOR: &str = "wall";

pub(super) fn header(
    ui: &mut egui::Ui,
    s: &WallState,
    asks: &mut Asks,
    confirm: &mut ModeConfirm,
    tr: Tr,
) {
    let rect = ui.available_rect_before_wrap();
    let spans = super::panels::seams(ui).spans(rect.left(), rect.right(), 12.0);
    if spans.len() <= 1 {
        ui.horizontal(|ui| {
            city_and_mode(ui, s, confirm, tr);
            ui.add_space(20.0);
            feed_lights(ui, s, tr);
            ui.with_layout(Layout::right_to_left(Align::Center), |ui| {
                clock_and_language(ui, s, asks, tr)
            });
        });
    } else {
        // On a wall of several screens across, each part of the header keeps to one
        // screen: the city and mode on the first, the feeds on the second, the clock on
        // the last.
        let (band, _) =
            ui.allocate_exact_size(egui::vec2(rect.width(), 56.0), egui::Sense::hover());
        let part = |ui: &mut egui::Ui, (x0, x1): (f32, f32), layout: Layout| {
            let area = egui::Rect::from_x_y_ranges(x0..=x1, band.y_range());
            let mut child = ui.new_child(egui::UiBuilder::new().max_rect(area).layout(layout));
            child.set_clip_rect(area);
            child
        };
        let left = Layout::left_to_right(Align::Center);
        city_and_mode(&mut part(ui, spans[0], left), s, confirm, tr);
        let last = spans[spans.len() - 1];
        let mut right = part(ui, last, Layout::right_to_left(Align::Center));
        clock_and_language(&mut right, s, asks, tr);
        if spans.len() >= 3 {
            feed_lights(&mut part(ui, spans[1], left), s, tr);
        } else {
            right.add_space(20.0);
            feed_lights(&mut right, s, tr);
        }
    }
    if let Some(to) = confirm.0 {
        let (word, color) = mode_look(to);
        let mut answer = None;
        egui::Modal::new(egui::Id::new("confirm-mode")).show(ui.ctx(), |ui| {
            ui.label(tr.rich(W::SwitchModeTo, 22.0, theme::TEXT));
            ui.label(tr.rich(word, 30.0, color));
            ui.horizontal(|ui| {
                if ui.button(tr.rich(W::Confirm, 20.0, theme::TEXT)).clicked() {
                    answer = Some(true);
                }
                if ui.button(tr.rich(W::Cancel, 20.0, theme::DIM)).clicked() {
                    answer = Some(false);
                }
            });
        });
        if answer == Some(true) {
            asks.actions.write(OperatorAction {
                operator: WALL_OPERATOR.into(),
                action: Action::SwitchMode {
                    mode: to,
                    why: "switched on the wall".into(),
                },
            });
        }
        if answer.is_some() {
            confirm.0 = None;
        }
    }
}

/// The city, the synthetic badge and the operating mode's banner (a click offers the
/// other modes).
fn city_and_mode(ui: &mut egui::Ui, s: &WallState, confirm: &mut ModeConfirm, tr: Tr) {
    ui.label(
        RichText::new(&s.scene.0.file.name)
            .heading()
            .color(theme::ACCENT)
            .strong(),
    );
    if s.scene.0.file.synthetic {
        ui.add_space(12.0);
        ui.label(tr.rich(W::SyntheticData, 16.0, theme::SYNTHETIC));
    }
    ui.add_space(20.0);
    let (word, fill) = mode_look(s.ops.mode.mode);
    let banner = egui::Button::new(
        RichText::new(format!(" {} ", tr.word(word)))
            .color(Color32::BLACK)
            .size(22.0)
            .strong(),
    )
    .fill(fill);
    let response = ui.add(banner);
    egui::Popup::menu(&response).show(|ui| {
        for mode in [
            OperatingMode::Daily,
            OperatingMode::MajorHoliday,
            OperatingMode::MajorEvent,
            OperatingMode::Emergency,
        ] {
            let (word, color) = mode_look(mode);
            if mode != s.ops.mode.mode && ui.button(tr.rich(word, 18.0, color)).clicked() {
                confirm.0 = Some(mode);
            }
        }
    });
    if let Some(f) = &s.following {
        ui.add_space(12.0);
        if f.lost {
            ui.label(tr.rich(W::LeaderLost, 18.0, theme::ALARM));
        } else {
            ui.label(tr.rich(W::FollowingLeader, 16.0, theme::DIM));
        }
    }
}

/// The language button and the clock, laid out right to left.
fn clock_and_language(ui: &mut egui::Ui, s: &WallState, asks: &mut Asks, tr: Tr) {
    // The other language, named in itself (L on the keyboard).
    let other = match tr.0 {
        crate::scene::Language::Chinese => W::LanguageName.en(),
        crate::scene::Language::English => W::LanguageName.zh(),
    };
    if ui.button(RichText::new(other).size(16.0)).clicked() {
        asks.switch_language.write(super::SwitchLanguage);
    }
    ui.add_space(12.0);
    clock(ui, s, tr);
}

/// Replay time in amber with its speed, live time in the text colour: never taken for
/// one another.
fn clock(ui: &mut egui::Ui, s: &WallState, tr: Tr) {
    let now = s.ops.clock.now();
    let replaying = s.ops.clock.is_feed_time();
    let color = if replaying { theme::FAULT } else { theme::TEXT };
    super::ticker::Ticker::show(
        ui,
        &now.format("%Y-%m-%d %H:%M:%S").to_string(),
        egui::FontId::monospace(30.0),
        color,
    );
    if replaying {
        // The timeline's speed, or the specs' where nothing follows a timeline.
        let speed = match s.replay.as_deref().map(|c| c.get()) {
            Some(p) if p.paused => tr.word(W::Paused).to_string(),
            Some(p) => crate::feeds::playback::speed_label(p.speed),
            None => s
                .feed_config
                .as_ref()
                .and_then(|c| c.replay_speed())
                .unwrap_or_default(),
        };
        ui.label(tr.rich_with(W::ReplayTime, &format!(" {speed}"), 18.0, theme::FAULT));
    } else {
        ui.label(tr.rich(W::BeijingTime, 18.0, theme::DIM));
    }
}

/// The colour and word of a feed's health.
pub(super) fn health_look(health: &Health) -> (Color32, W) {
    match health {
        Health::Starting => (theme::DIM, W::Starting),
        Health::Live => (theme::ONLINE, W::Live),
        Health::Stale(_) => (theme::FAULT, W::Stale),
        Health::Reconnecting => (theme::FAULT, W::Reconnecting),
        Health::Finished => (theme::DIM, W::Finished),
        Health::Failed => (theme::ALARM, W::Failed),
    }
}

/// A light per feed with its readable name (no credentials: see
/// [`crate::feeds::short_name`]).
fn feed_lights(ui: &mut egui::Ui, s: &WallState, tr: Tr) {
    let now = std::time::Instant::now();
    for src in s.feeds.sources.iter().take(6) {
        let (color, word) = health_look(&src.health(now, s.feeds.stale_after));
        ui.label(RichText::new("●").size(20.0).color(color))
            .on_hover_text(tr.word(word));
        ui.label(RichText::new(crate::feeds::short_name(&src.label)).size(16.0));
    }
    if s.feeds.sources.len() > 6 {
        ui.label(RichText::new(format!("+{}", s.feeds.sources.len() - 6)).color(theme::DIM));
    }
}
