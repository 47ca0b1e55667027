//! The KPI board: each figure of the KPI resource large, with a sparkline of its last
//! 24 hours from the KPI history where it has one; the devices by status beneath.

use super::i18n::{Tr, W};
use super::panels::{WallState, status_color, status_word};
use super::theme;
use crate::feeds::schema::DeviceStatus;
use crate::ops::history::{CityMinute, KpiHistory};
use crate::scene::ops::Severity;
use bevy_egui::egui::{self, Color32, RichText};
use chrono::{DateTime, FixedOffset};

/// A sparkline's span and step, minutes.
const SPARK_SPAN: i64 = 24 * 60;
const SPARK_STEP: i64 = 10;

/// The city's history of one figure over the last 24 hours, a sample every ten
/// minutes (a minute not in the history is a gap).
pub(super) fn series(
    history: &KpiHistory,
    now: DateTime<FixedOffset>,
    span_min: i64,
    step_min: i64,
    f: impl Fn(&CityMinute) -> f32,
) -> Vec<Option<f32>> {
    let last = now.timestamp().div_euclid(60);
    let n = span_min / step_min;
    (0..n)
        .map(|k| {
            let minute = last - (n - 1 - k) * step_min;
            history.city.get(minute).map(|m| f(&m))
        })
        .collect()
}

/// A small line of `values` across the available width (gaps left out), its last
/// value marked.
pub(super) fn sparkline(ui: &mut egui::Ui, values: &[Option<f32>], color: Color32) {
    let (rect, _) =
        ui.allocate_exact_size(egui::vec2(ui.available_width(), 26.0), egui::Sense::hover());
    let known = values.iter().flatten().copied();
    let (lo, hi) = known.fold((f32::MAX, f32::MIN), |(lo, hi), v| (lo.min(v), hi.max(v)));
    if lo > hi {
        return;
    }
    let span = (hi - lo).max(1e-6);
    let n = values.len().max(2) - 1;
    let at = |i: usize, v: f32| {
        egui::pos2(
            rect.left() + rect.width() * i as f32 / n as f32,
            rect.bottom() - 2.0 - (rect.height() - 4.0) * (v - lo) / span,
        )
    };
    let painter = ui.painter_at(rect);
    let mut run: Vec<egui::Pos2> = Vec::new();
    for (i, v) in values.iter().enumerate() {
        match v {
            Some(v) => run.push(at(i, *v)),
            None if !run.is_empty() => {
                painter.add(egui::Shape::line(
                    std::mem::take(&mut run),
                    egui::Stroke::new(1.5, color),
                ));
            }
            None => {}
        }
    }
    if let Some(last) = run.last().copied() {
        painter.add(egui::Shape::line(run, egui::Stroke::new(1.5, color)));
        painter.circle_filled(last, 3.0, color);
    }
}

/// One tile: the label (English beneath), the figure, and its sparkline.
fn tile(
    ui: &mut egui::Ui,
    tr: Tr,
    word: W,
    value: String,
    color: Color32,
    spark: Option<Vec<Option<f32>>>,
) {
    ui.vertical(|ui| {
        ui.set_width(98.0);
        ui.label(tr.rich(word, 15.0, theme::DIM));
        super::ticker::Ticker::show(ui, &value, egui::FontId::proportional(28.0), color);
        match spark {
            Some(values) => sparkline(ui, &values, color),
            None => {
                ui.add_space(26.0);
            }
        }
    });
}

/// Red when something needs attention, the text colour otherwise.
fn alarm_if(attention: bool) -> Color32 {
    if attention { theme::ALARM } else { theme::TEXT }
}

fn percent(share: Option<f64>) -> String {
    share.map_or("—".into(), |s| format!("{:.1}%", s * 100.0))
}

pub(super) fn board(ui: &mut egui::Ui, s: &WallState, tr: Tr) {
    let (ops, h) = (&s.ops, &s.ops.history);
    let now = ops.clock.now();
    let spark = |f: fn(&CityMinute) -> f32| Some(series(h, now, SPARK_SPAN, SPARK_STEP, f));
    tr.section(ui, W::City);
    let total = ops.devices.total();
    let online = (total > 0).then(|| ops.devices.online as f64 / total as f64);
    let open_alerts: u64 = ops
        .kpis
        .alerts_open
        .iter()
        .filter(|(sev, _)| **sev >= ops.mode.wall_min_severity())
        .map(|(_, n)| n)
        .sum();
    let critical = ops
        .kpis
        .alerts_open
        .get(&Severity::Critical)
        .copied()
        .unwrap_or(0);
    let overdue = ops.kpis.orders_overdue + ops.kpis.orders_unsigned_overdue;
    let tiles: [(W, String, Color32, Option<Vec<Option<f32>>>); 8] = [
        (
            W::OnlineRate,
            percent(online),
            theme::ONLINE,
            spark(|m| m.online_rate),
        ),
        (
            W::OpenAlerts,
            open_alerts.to_string(),
            alarm_if(critical > 0),
            spark(|m| m.alerts_open as f32),
        ),
        (
            W::OpenOrders,
            ops.kpis.orders_open.to_string(),
            theme::FAULT,
            spark(|m| m.orders_open as f32),
        ),
        (
            W::OverdueOrders,
            overdue.to_string(),
            alarm_if(overdue > 0),
            spark(|m| m.orders_overdue as f32),
        ),
        (
            W::OrdersToday,
            ops.kpis.orders_today.to_string(),
            theme::TEXT,
            // Orders reported per ten minutes.
            Some(
                series(h, now, SPARK_SPAN, 1, |m| m.orders_reported as f32)
                    .chunks(SPARK_STEP as usize)
                    .map(|c| c.iter().flatten().copied().reduce(|a, b| a + b))
                    .collect(),
            ),
        ),
        (
            W::ClosureRate,
            percent(ops.kpis.closure_rate),
            theme::ONLINE,
            None,
        ),
        (
            W::Satisfaction,
            percent(ops.kpis.satisfaction),
            theme::ONLINE,
            None,
        ),
        (
            W::MeanSign,
            ops.kpis
                .mean_sign_minutes
                .map_or("—".into(), |m| format!("{m:.1} {}", tr.word(W::Minutes))),
            theme::TEXT,
            None,
        ),
    ];
    // Three to a row.
    let mut tiles = tiles.into_iter().peekable();
    while tiles.peek().is_some() {
        super::panels::keep_off_bezels(ui, 96.0);
        ui.horizontal_top(|ui| {
            ui.spacing_mut().item_spacing.x = 12.0;
            for (word, value, color, spark) in tiles.by_ref().take(3) {
                tile(ui, tr, word, value, color, spark);
            }
        });
        ui.add_space(4.0);
    }
    ui.add_space(6.0);
    super::panels::keep_off_bezels(ui, 80.0);
    tr.section(ui, W::Devices);
    ui.horizontal_wrapped(|ui| {
        ui.label(RichText::new(format!("{} {total}", tr.word(W::Total))).size(18.0));
        for status in DeviceStatus::ALL {
            ui.label(RichText::new("●").color(status_color(status)));
            ui.label(
                RichText::new(format!(
                    "{} {}",
                    tr.word(status_word(status)),
                    ops.devices.get(status)
                ))
                .size(18.0)
                .color(status_color(status)),
            );
        }
    });
}
