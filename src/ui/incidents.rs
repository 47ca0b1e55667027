//! The alerts, by severity and group (district and rule), with acknowledge and silence
//! on each group; a new critical one flashes. The open work orders with live
//! countdowns to their deadlines, overdue ones red, 三跨 ones marked. Clicking a row
//! selects the incident (the inspector shows it, the camera flies to it).

use super::header::WALL_OPERATOR;
use super::i18n::{Tr, W};
use super::panels::{Asks, WallState};
use super::theme;
use super::ticker::Ticker;
use crate::feeds::schema::{OrderCategory, OrderStatus};
use crate::ops::alerts::{Action, Alert, AlertState, OperatorAction};
use crate::ops::orders::OrderSla;
use crate::scene::ops::Severity;
use crate::view::pulse::AlertFlash;
use crate::view::{Incident, SelectIncident};
use bevy_egui::egui::{self, Color32, RichText};
use chrono::{DateTime, FixedOffset, TimeDelta};
use std::collections::BTreeMap;

/// How long the list's silence lasts, minutes.
const SILENCE_MIN: f64 = 60.0;
/// Rows each list shows at most (the rest are counted).
const MAX_ROWS: usize = 12;

pub(super) fn severity_look(severity: Severity) -> (W, Color32) {
    match severity {
        Severity::Critical => (W::Critical, theme::ALARM),
        Severity::Major => (W::Major, theme::FAULT),
        Severity::Minor => (W::Minor, theme::TEXT),
        Severity::Info => (W::Info, theme::DIM),
    }
}

/// Open alerts the wall shows (not silenced, not muted, severe enough for the mode),
/// grouped by severity (most severe first), district and rule, newest group first.
pub fn alert_groups(
    alerts: &crate::ops::alerts::Alerts,
    now: DateTime<FixedOffset>,
    min: Severity,
) -> Vec<((Severity, String, String), Vec<&Alert>)> {
    let mut groups: BTreeMap<(std::cmp::Reverse<Severity>, String, String), Vec<&Alert>> =
        BTreeMap::new();
    for a in alerts.list.iter().filter(|a| a.is_open()) {
        if a.severity < min || a.inhibited_by.is_some() || alerts.is_silenced(a, now) {
            continue;
        }
        let district = a.district.clone().unwrap_or_default();
        groups
            .entry((std::cmp::Reverse(a.severity), district, a.rule.clone()))
            .or_default()
            .push(a);
    }
    let mut out: Vec<_> = groups
        .into_iter()
        .map(|((sev, district, rule), mut list)| {
            list.sort_by_key(|a| std::cmp::Reverse(a.fired_at));
            ((sev.0, district, rule), list)
        })
        .collect();
    // Within a severity, the group with the newest alert first.
    out.sort_by(|a, b| {
        b.0.0
            .cmp(&a.0.0)
            .then(b.1[0].fired_at.cmp(&a.1[0].fired_at))
    });
    out
}

/// What the alerts list's acknowledge button of a group sends: an acknowledgement of
/// each of its alerts still firing.
pub fn acknowledge_group(group: &[&Alert]) -> Vec<OperatorAction> {
    group
        .iter()
        .filter(|a| a.state == AlertState::Firing)
        .map(|a| OperatorAction {
            operator: WALL_OPERATOR.into(),
            action: Action::Acknowledge {
                alert: a.id.clone(),
            },
        })
        .collect()
}

/// What the alerts list's silence button of a group sends: its rule silenced in its
/// district (everywhere when it has none) for an hour.
pub fn silence_group(district: &str, rule: &str) -> OperatorAction {
    OperatorAction {
        operator: WALL_OPERATOR.into(),
        action: Action::Silence {
            device: None,
            rule: Some(rule.to_string()),
            district: (!district.is_empty()).then(|| district.to_string()),
            minutes: SILENCE_MIN,
            why: "silenced on the wall".into(),
        },
    }
}

/// `h:mm:ss` (or `Nd h:mm:ss`) of a duration, without its sign.
pub fn countdown(d: TimeDelta) -> String {
    let s = d.num_seconds().unsigned_abs();
    let (days, h, m, s) = (s / 86_400, s / 3600 % 24, s / 60 % 60, s % 60);
    if days > 0 {
        format!("{days}d {h}:{m:02}:{s:02}")
    } else {
        format!("{h}:{m:02}:{s:02}")
    }
}

pub(super) fn alerts(ui: &mut egui::Ui, s: &WallState, asks: &mut Asks, tr: Tr, alone: bool) {
    let ops = &s.ops;
    let now = ops.clock.now();
    let now_s = s.time.elapsed_secs_f64();
    tr.section(ui, W::Alerts);
    let groups = alert_groups(&ops.alerts, now, ops.mode.wall_min_severity());
    if groups.is_empty() {
        ui.label(RichText::new(tr.word(W::NoAlerts)).color(theme::DIM));
        return;
    }
    // Beside the orders, the whole column; above them, half of it.
    let height = if alone {
        ui.available_height()
    } else {
        ui.available_height() * 0.5
    };
    egui::ScrollArea::vertical()
        .id_salt("alerts")
        .max_height(height)
        .show(ui, |ui| {
            let mut last_severity = None;
            for ((severity, district, rule), list) in groups.iter().take(MAX_ROWS) {
                let (word, color) = severity_look(*severity);
                if last_severity != Some(*severity) {
                    last_severity = Some(*severity);
                    let n: usize = groups
                        .iter()
                        .filter(|g| g.0.0 == *severity)
                        .map(|g| g.1.len())
                        .sum();
                    ui.label(tr.rich_with(word, &format!("  {n}"), 18.0, color));
                }
                let newest = list[0];
                super::panels::keep_off_bezels(ui, 60.0);
                let flashing = list.iter().any(|a| s.flash.is_flashing(&a.id, now_s));
                let fill = if flashing && AlertFlash::lit(now_s) {
                    Color32::from_rgb(120, 16, 12)
                } else {
                    theme::CARD
                };
                egui::Frame::new()
                    .fill(fill)
                    .stroke(egui::Stroke::new(1.0, color))
                    .inner_margin(egui::Margin::symmetric(8, 4))
                    .show(ui, |ui| {
                        ui.set_width(ui.available_width());
                        let place = if district.is_empty() {
                            String::new()
                        } else {
                            format!("{district} · ")
                        };
                        let title = format!("{place}{} ×{}", newest.title, list.len());
                        let row = ui.add(
                            egui::Label::new(RichText::new(title).size(18.0).color(color))
                                .sense(egui::Sense::click()),
                        );
                        if row.clicked() {
                            asks.select
                                .write(SelectIncident(Incident::Alert(newest.id.clone())));
                        }
                        ui.horizontal(|ui| {
                            let since = newest.fired_at.unwrap_or(newest.since);
                            ui.label(
                                RichText::new(format!(
                                    "{} {}",
                                    newest.device,
                                    since.format("%H:%M:%S")
                                ))
                                .size(14.0)
                                .color(theme::DIM),
                            );
                            if !list.iter().any(|a| a.state == AlertState::Firing) {
                                ui.label(
                                    RichText::new(tr.word(W::Acknowledged))
                                        .size(14.0)
                                        .color(theme::DIM),
                                );
                            } else if ui.small_button(tr.word(W::Acknowledge)).clicked() {
                                asks.actions.write_batch(acknowledge_group(list));
                            }
                            if ui.small_button(tr.word(W::Silence)).clicked() {
                                asks.actions.write(silence_group(district, rule));
                            }
                        });
                    });
            }
            if groups.len() > MAX_ROWS {
                ui.label(
                    RichText::new(format!("… +{}", groups.len() - MAX_ROWS)).color(theme::DIM),
                );
            }
        });
}

pub(super) fn category_word(c: OrderCategory) -> W {
    match c {
        OrderCategory::Traffic => W::CatTraffic,
        OrderCategory::PublicFacilities => W::CatPublicFacilities,
        OrderCategory::Education => W::CatEducation,
        OrderCategory::PropertyManagement => W::CatPropertyManagement,
        OrderCategory::Environment => W::CatEnvironment,
        OrderCategory::Heating => W::CatHeating,
        OrderCategory::MedicalSocialSecurity => W::CatMedical,
        OrderCategory::Other => W::Other,
    }
}

/// The deadline an open order is working towards: signing while it is unsigned, then
/// resolving.
pub fn next_deadline(o: &OrderSla) -> (DateTime<FixedOffset>, bool) {
    if o.status == OrderStatus::Reported {
        (o.sign_deadline, true)
    } else {
        (o.resolve_deadline, false)
    }
}

/// The `rows` most pressing open orders, first the soonest (or longest overdue)
/// deadline, and how many orders are open in all.
pub fn pressing_orders(
    book: &crate::ops::orders::OrderBook,
    rows: usize,
) -> (Vec<&OrderSla>, usize) {
    let mut open: Vec<(DateTime<FixedOffset>, &OrderSla)> = book
        .orders
        .values()
        .filter(|o| o.is_open() && o.status != OrderStatus::Resolved)
        .map(|o| (next_deadline(o).0, o))
        .collect();
    let total = open.len();
    // A day's book holds thousands of open orders and the panel shows a dozen: pick
    // them in linear time, then order only those (ties by id, so rows keep their place).
    let key = |a: &(DateTime<FixedOffset>, &OrderSla), b: &(DateTime<FixedOffset>, &OrderSla)| {
        a.0.cmp(&b.0).then_with(|| a.1.id.cmp(&b.1.id))
    };
    if open.len() > rows && rows > 0 {
        open.select_nth_unstable_by(rows - 1, key);
    }
    open.truncate(rows);
    open.sort_unstable_by(key);
    (open.into_iter().map(|(_, o)| o).collect(), total)
}

pub(super) fn orders(ui: &mut egui::Ui, s: &WallState, asks: &mut Asks, tr: Tr) {
    let now = s.ops.clock.now();
    super::panels::keep_off_bezels(ui, 80.0);
    tr.section(ui, W::WorkOrders);
    // The choice only changes when an order does: kept until then (a day's book holds
    // thousands of orders, walked otherwise every frame).
    let book = &s.ops.book;
    let key = egui::Id::new("pressing-orders");
    let cached = ui
        .ctx()
        .data(|d| d.get_temp::<(u64, Vec<String>, usize)>(key))
        .filter(|(revision, _, _)| *revision == book.revision());
    let (ids, total) = match cached {
        Some((_, ids, total)) => (ids, total),
        None => {
            let (open, total) = pressing_orders(book, MAX_ROWS);
            let ids: Vec<String> = open.iter().map(|o| o.id.clone()).collect();
            ui.ctx()
                .data_mut(|d| d.insert_temp(key, (book.revision(), ids.clone(), total)));
            (ids, total)
        }
    };
    let open: Vec<&OrderSla> = ids.iter().filter_map(|id| book.orders.get(id)).collect();
    if open.is_empty() {
        ui.label(RichText::new(tr.word(W::NoOrders)).color(theme::DIM));
        return;
    }
    egui::ScrollArea::vertical()
        .id_salt("orders")
        .show(ui, |ui| {
            for o in &open {
                super::panels::keep_off_bezels(ui, 60.0);
                if order_row(ui, o, now, tr).clicked() {
                    asks.select
                        .write(SelectIncident(Incident::Order(o.id.clone())));
                }
            }
            if total > open.len() {
                ui.label(RichText::new(format!("… +{}", total - open.len())).color(theme::DIM));
            }
        });
}

/// One work order's row, painted as one clickable widget (the panel shows a dozen of
/// them every frame; a frame of nested labels costs several times as much):
/// its category and district with a 三跨 mark, then its id and the countdown to its
/// next deadline, red once overdue.
fn order_row(
    ui: &mut egui::Ui,
    o: &OrderSla,
    now: DateTime<FixedOffset>,
    tr: Tr,
) -> egui::Response {
    let (deadline, signing) = next_deadline(o);
    let left = deadline - now;
    let late = left < TimeDelta::zero();
    let text = ui.visuals().text_color();
    let painter = ui.painter();
    let head = format!(
        "{} · {}",
        tr.word(category_word(o.category)),
        o.district.as_deref().unwrap_or("—")
    );
    let head = painter.layout_no_wrap(head, egui::FontId::proportional(17.0), text);
    let mark = o.three_cross.any().then(|| {
        painter.layout_no_wrap(
            tr.word(W::ThreeCross).to_string(),
            egui::FontId::proportional(14.0),
            Color32::BLACK,
        )
    });
    let id = painter.layout_no_wrap(o.id.clone(), egui::FontId::proportional(13.0), theme::DIM);
    let stage = if signing {
        format!("{} · ", tr.word(W::ToSign))
    } else {
        String::new()
    };
    let word = if late { W::Overdue } else { W::Left };
    let count = Ticker::new(
        painter,
        &format!("{stage}{} {}", tr.word(word), countdown(left)),
        egui::FontId::monospace(17.0),
        if late { theme::ALARM } else { theme::TEXT },
    );
    let margin = egui::vec2(8.0, 4.0);
    let gap = ui.spacing().item_spacing;
    let top = head.size().y.max(mark.as_ref().map_or(0.0, |m| m.size().y));
    let bottom = id.size().y.max(count.size().y);
    let size = egui::vec2(ui.available_width(), top + gap.y + bottom + 2.0 * margin.y);
    let (rect, response) = ui.allocate_exact_size(size, egui::Sense::click());
    if !ui.is_rect_visible(rect) {
        return response;
    }
    let edge = if late {
        theme::ALARM
    } else if response.hovered() {
        theme::TEXT
    } else {
        theme::EDGE
    };
    let painter = ui.painter();
    painter.rect(
        rect,
        0.0,
        theme::CARD,
        egui::Stroke::new(1.0, edge),
        egui::StrokeKind::Inside,
    );
    let mut at = rect.min + margin;
    let head_width = head.size().x;
    painter.galley(at + egui::vec2(0.0, top - head.size().y), head, text);
    if let Some(mark) = mark {
        let pad = egui::vec2(4.0, 0.0);
        let min = at + egui::vec2(head_width + gap.x, top - mark.size().y);
        let back = egui::Rect::from_min_size(min, mark.size() + 2.0 * pad);
        painter.rect_filled(back, 0.0, theme::FAULT);
        painter.galley(min + pad, mark, Color32::BLACK);
    }
    at.y += top + gap.y;
    let id_width = id.size().x;
    painter.galley(at + egui::vec2(0.0, bottom - id.size().y), id, theme::DIM);
    let count_at = at + egui::vec2(id_width + gap.x, bottom - count.size().y);
    count.paint(painter, count_at);
    response.on_hover_cursor(egui::CursorIcon::PointingHand)
}
