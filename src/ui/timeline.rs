//! The replay's timeline, along the bottom while a recording plays: play and pause,
//! the speed, the virtual time large, a bar over the recording's whole span with the
//! incidents met so far marked on it (drag or click to seek), jumps to the previous or
//! next incident, and a loop range. The keys do the same (see [`W::TimelineKeys`]);
//! none of them is one the camera uses. Live feeds have no timeline.

use super::i18n::{Tr, W};
use super::panels::WallState;
use super::theme;
use crate::feeds::ingest::FeedStats;
use crate::feeds::playback::{ReplayControl, speed_label};
use crate::feeds::schema::OperatingMode;
use crate::ops::TwinClock;
use crate::ops::alerts::Alerts;
use crate::ops::modes::OperatingState;
use crate::scene::ops::Severity;
use bevy::prelude::*;
use bevy_egui::egui::{self, Color32, RichText};
use chrono::{DateTime, FixedOffset, TimeDelta};
use std::collections::BTreeMap;

/// A jump to an incident lands this long before it, so it is seen to happen.
pub const LEAD: TimeDelta = TimeDelta::seconds(10);
/// What PgUp and PgDn step by.
pub const STEP: TimeDelta = TimeDelta::minutes(10);
/// Marks kept at most (the oldest go first).
const MAX_MARKS: usize = 10_000;

/// Something the timeline marks: an alert that fired (by severity) or a mode switch.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mark {
    Alert(Severity),
    Mode(OperatingMode),
}

/// The incidents met while this recording played, by time. They outlive seeks and
/// loops (the operations state starts over; what was seen on the timeline stays), so
/// after one pass every incident of the recording is marked.
#[derive(Resource, Debug, Default)]
pub struct TimelineMarks(pub BTreeMap<DateTime<FixedOffset>, Mark>);

impl TimelineMarks {
    /// Where "previous incident" goes from `now`: [`LEAD`] before the last incident
    /// that started before the view.
    pub fn previous(&self, now: DateTime<FixedOffset>) -> Option<DateTime<FixedOffset>> {
        let before = now + LEAD - TimeDelta::seconds(1);
        self.0.range(..before).next_back().map(|(t, _)| *t - LEAD)
    }

    /// Where "next incident" goes from `now`: [`LEAD`] before the first incident after
    /// the one in view.
    pub fn next(&self, now: DateTime<FixedOffset>) -> Option<DateTime<FixedOffset>> {
        let after = now + LEAD + TimeDelta::seconds(1);
        self.0.range(after..).next().map(|(t, _)| *t - LEAD)
    }
}

/// What the timeline's buttons and keys ask for.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum TimelineAction {
    TogglePause,
    Slower,
    Faster,
    Previous,
    Next,
    Back,
    Forward,
    LoopIn,
    LoopOut,
    LoopOff,
    SeekTo(DateTime<FixedOffset>),
}

/// The span every replay's recording covers together.
pub fn span(stats: &FeedStats) -> Option<(DateTime<FixedOffset>, DateTime<FixedOffset>)> {
    stats
        .sources
        .iter()
        .filter_map(|s| s.span)
        .reduce(|(a0, a1), (b0, b1)| (a0.min(b0), a1.max(b1)))
}

/// Carries out `action` on the replays, at the twin's time `now`; seeks stay within
/// the recording's `span`.
pub fn act(
    control: &ReplayControl,
    action: TimelineAction,
    now: DateTime<FixedOffset>,
    marks: &TimelineMarks,
    span: Option<(DateTime<FixedOffset>, DateTime<FixedOffset>)>,
) {
    let clamp = |t: DateTime<FixedOffset>| match span {
        Some((a, b)) => t.clamp(a, b),
        None => t,
    };
    let seek = |t: DateTime<FixedOffset>| {
        control.seek(Some(clamp(t)));
    };
    let playback = control.get();
    match action {
        TimelineAction::TogglePause => control.toggle_pause(),
        TimelineAction::Slower => control.step_speed(false),
        TimelineAction::Faster => control.step_speed(true),
        TimelineAction::Previous => {
            if let Some(t) = marks.previous(now) {
                seek(t);
            }
        }
        TimelineAction::Next => {
            if let Some(t) = marks.next(now) {
                seek(t);
            }
        }
        TimelineAction::Back => seek(now - STEP),
        TimelineAction::Forward => seek(now + STEP),
        TimelineAction::LoopIn => {
            let end = playback.loop_range.map(|r| r.1).or(span.map(|s| s.1));
            control.set_loop(end.map(|e| (now, e)));
        }
        TimelineAction::LoopOut => {
            let start = playback.loop_range.map(|r| r.0).or(span.map(|s| s.0));
            control.set_loop(start.map(|s| (s, now)));
        }
        TimelineAction::LoopOff => control.set_loop(None),
        TimelineAction::SeekTo(t) => seek(t),
    }
}

pub(super) fn plugin(app: &mut App) {
    app.init_resource::<TimelineMarks>()
        .add_systems(Update, (collect_marks, timeline_keys));
}

/// Files the alerts that fired and the mode switches on the timeline (a few times a
/// second: the list is walked whole).
fn collect_marks(
    alerts: Res<Alerts>,
    state: Res<OperatingState>,
    time: Res<Time<Real>>,
    mut last: Local<Option<std::time::Duration>>,
    mut marks: ResMut<TimelineMarks>,
) {
    if !(alerts.is_changed() || state.is_changed()) {
        return;
    }
    let now = time.elapsed();
    if last.is_some_and(|l| now.saturating_sub(l) < std::time::Duration::from_millis(400)) {
        return;
    }
    *last = Some(now);
    let marks = marks.bypass_change_detection();
    for a in &alerts.list {
        if let Some(t) = a.fired_at {
            let mark = marks.0.entry(t).or_insert(Mark::Alert(a.severity));
            if matches!(*mark, Mark::Alert(s) if s < a.severity) {
                *mark = Mark::Alert(a.severity);
            }
        }
    }
    for switch in &state.history {
        marks.0.entry(switch.at).or_insert(Mark::Mode(switch.to));
    }
    while marks.0.len() > MAX_MARKS {
        marks.0.pop_first();
    }
}

/// The timeline's keys, unless egui is taking typed text.
fn timeline_keys(
    keys: Option<Res<ButtonInput<KeyCode>>>,
    egui: Option<Res<bevy_egui::input::EguiWantsInput>>,
    control: Option<Res<ReplayControl>>,
    clock: Res<TwinClock>,
    marks: Res<TimelineMarks>,
    stats: Res<FeedStats>,
) {
    let (Some(keys), Some(control)) = (keys, control) else {
        return;
    };
    if egui.is_some_and(|e| e.wants_any_keyboard_input()) {
        return;
    }
    const KEYS: [(KeyCode, TimelineAction); 10] = [
        (KeyCode::Space, TimelineAction::TogglePause),
        (KeyCode::BracketLeft, TimelineAction::Slower),
        (KeyCode::BracketRight, TimelineAction::Faster),
        (KeyCode::Comma, TimelineAction::Previous),
        (KeyCode::Period, TimelineAction::Next),
        (KeyCode::PageUp, TimelineAction::Back),
        (KeyCode::PageDown, TimelineAction::Forward),
        (KeyCode::Home, TimelineAction::LoopIn),
        (KeyCode::End, TimelineAction::LoopOut),
        (KeyCode::Delete, TimelineAction::LoopOff),
    ];
    for (key, action) in KEYS {
        if keys.just_pressed(key) {
            act(&control, action, clock.now(), &marks, span(&stats));
        }
    }
}

/// Tick spacing along a bar showing `span`: about a dozen labels.
fn tick_step(span: TimeDelta) -> TimeDelta {
    const STEPS_MIN: [i64; 9] = [1, 5, 10, 30, 60, 180, 360, 720, 1440];
    STEPS_MIN
        .iter()
        .map(|m| TimeDelta::minutes(*m))
        .find(|step| span.num_seconds() / step.num_seconds().max(1) <= 12)
        .unwrap_or(TimeDelta::days(1))
}

fn mark_color(mark: Mark) -> Color32 {
    match mark {
        Mark::Alert(severity) => super::incidents::severity_look(severity).1,
        Mark::Mode(mode) => super::header::mode_look(mode).1,
    }
}

/// The timeline strip (only while something replays).
pub(super) fn timeline(ui: &mut egui::Ui, s: &WallState, tr: Tr) {
    let Some(control) = s.replay.as_deref() else {
        return;
    };
    let playback = control.get();
    let now = s.ops.clock.now();
    let span = span(&s.feeds);
    let seeking = s.feeds.sources.iter().any(|f| f.seeking);
    let mut asked: Option<TimelineAction> = None;
    ui.horizontal(|ui| {
        let (word, color) = if playback.paused {
            (W::Play, theme::ONLINE)
        } else {
            (W::Pause, theme::FAULT)
        };
        if ui.button(tr.rich(word, 18.0, color)).clicked() {
            asked = Some(TimelineAction::TogglePause);
        }
        if ui.button(tr.rich(W::Slower, 14.0, theme::TEXT)).clicked() {
            asked = Some(TimelineAction::Slower);
        }
        ui.label(
            RichText::new(speed_label(playback.speed))
                .size(22.0)
                .monospace()
                .color(theme::FAULT),
        );
        if ui.button(tr.rich(W::Faster, 14.0, theme::TEXT)).clicked() {
            asked = Some(TimelineAction::Faster);
        }
        ui.add_space(12.0);
        let shown = match (seeking, playback.seek_to) {
            (true, Some(to)) => to,
            _ => now,
        };
        super::ticker::Ticker::show(
            ui,
            &shown.format("%Y-%m-%d %H:%M:%S").to_string(),
            egui::FontId::monospace(28.0),
            theme::FAULT,
        );
        if seeking {
            ui.label(tr.rich(W::Seeking, 16.0, theme::ACCENT));
        } else if playback.paused {
            ui.label(tr.rich(W::Paused, 16.0, theme::FAULT));
        }
        ui.add_space(12.0);
        for (word, action) in [
            (W::PreviousIncident, TimelineAction::Previous),
            (W::NextIncident, TimelineAction::Next),
            (W::LoopIn, TimelineAction::LoopIn),
            (W::LoopOut, TimelineAction::LoopOut),
        ] {
            if ui.button(tr.rich(word, 14.0, theme::TEXT)).clicked() {
                asked = Some(action);
            }
        }
        if playback.loop_range.is_some()
            && ui
                .button(tr.rich(W::LoopOff, 14.0, theme::ACCENT))
                .clicked()
        {
            asked = Some(TimelineAction::LoopOff);
        }
        if let Some(span) = span
            && let Some(t) = bar(ui, s, span, shown, playback.loop_range)
        {
            asked = Some(TimelineAction::SeekTo(t));
        }
    })
    .response
    .on_hover_text(tr.word(W::TimelineKeys));
    if let Some(action) = asked {
        act(control, action, now, &s.timeline_marks, span);
    }
}

/// The bar across the recording's span: hour ticks, the loop range, the incidents,
/// the playhead; a click or the end of a drag answers the time to seek to.
fn bar(
    ui: &mut egui::Ui,
    s: &WallState,
    (start, end): (DateTime<FixedOffset>, DateTime<FixedOffset>),
    now: DateTime<FixedOffset>,
    loop_range: Option<(DateTime<FixedOffset>, DateTime<FixedOffset>)>,
) -> Option<DateTime<FixedOffset>> {
    // The bar keeps to one screen of a wall: the widest stretch left between bezels.
    let left = ui.cursor().left();
    let (x0, x1) = super::panels::seams(ui)
        .spans(left, ui.max_rect().right(), 8.0)
        .into_iter()
        .max_by(|a, b| (a.1 - a.0).total_cmp(&(b.1 - b.0)))
        .unwrap_or((left, ui.max_rect().right()));
    if x0 > left {
        ui.add_space(x0 - left);
    }
    let width = (x1 - x0).max(120.0);
    let (rect, response) =
        ui.allocate_exact_size(egui::vec2(width, 44.0), egui::Sense::click_and_drag());
    let length = (end - start).num_milliseconds().max(1) as f32;
    let x_of = |t: DateTime<FixedOffset>| {
        let f = (t - start).num_milliseconds() as f32 / length;
        rect.left() + f.clamp(0.0, 1.0) * rect.width()
    };
    let t_of = |x: f32| {
        let f = ((x - rect.left()) / rect.width()).clamp(0.0, 1.0);
        start + TimeDelta::milliseconds((f * length) as i64)
    };
    let painter = ui.painter_at(rect);
    let track =
        egui::Rect::from_x_y_ranges(rect.x_range(), rect.top() + 18.0..=rect.bottom() - 4.0);
    painter.rect_filled(track, 3.0, Color32::from_rgb(14, 30, 52));
    if let Some((a, b)) = loop_range {
        let shade = egui::Rect::from_x_y_ranges(x_of(a)..=x_of(b), track.y_range());
        painter.rect_filled(shade, 0.0, theme::ACCENT.gamma_multiply(0.25));
    }
    // Ticks and their labels, on whole steps of Beijing time.
    let step = tick_step(end - start);
    let step_s = step.num_seconds().max(1);
    let first = (start.timestamp() + 8 * 3600).div_euclid(step_s) * step_s + step_s - 8 * 3600;
    let mut tick = first;
    while tick <= end.timestamp() {
        if let Some(t) = DateTime::from_timestamp(tick, 0) {
            let t = t.with_timezone(&crate::ops::beijing());
            let x = x_of(t);
            painter.line_segment(
                [egui::pos2(x, track.top()), egui::pos2(x, track.bottom())],
                egui::Stroke::new(1.0, theme::EDGE),
            );
            painter.text(
                egui::pos2(x, rect.top()),
                egui::Align2::CENTER_TOP,
                t.format("%H:%M").to_string(),
                egui::FontId::monospace(13.0),
                theme::DIM,
            );
        }
        tick += step_s;
    }
    for (t, mark) in s.timeline_marks.0.range(start..=end) {
        let x = x_of(*t);
        painter.line_segment(
            [
                egui::pos2(x, track.top() + 2.0),
                egui::pos2(x, track.bottom() - 2.0),
            ],
            egui::Stroke::new(2.0, mark_color(*mark)),
        );
    }
    let x = x_of(now);
    painter.line_segment(
        [
            egui::pos2(x, rect.top() + 14.0),
            egui::pos2(x, rect.bottom()),
        ],
        egui::Stroke::new(3.0, theme::FAULT),
    );
    let pointer = response.interact_pointer_pos();
    if response.dragged()
        && let Some(p) = pointer
    {
        let x = p.x.clamp(rect.left(), rect.right());
        painter.line_segment(
            [egui::pos2(x, track.top()), egui::pos2(x, track.bottom())],
            egui::Stroke::new(2.0, theme::TEXT),
        );
        painter.text(
            egui::pos2(x, track.top() - 2.0),
            egui::Align2::CENTER_BOTTOM,
            t_of(x).format("%H:%M:%S").to_string(),
            egui::FontId::monospace(15.0),
            theme::TEXT,
        );
    }
    (response.clicked() || response.drag_stopped())
        .then_some(pointer)
        .flatten()
        .map(|p| t_of(p.x))
}
