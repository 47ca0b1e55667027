//! The bottom strip: events per hour today against yesterday, the complaint category
//! mix, the devices' online rate over the last day (egui_plot), the districts and
//! grids ranked by what is open in them, and the renovation projects with their phase
//! and progress.

use super::board::series;
use super::i18n::{Tr, W};
use super::panels::WallState;
use super::theme;
use crate::feeds::schema::{OrderCategory, ProjectPhase};
use crate::ops::history::KpiHistory;
use bevy_egui::egui::{self, Color32, RichText};
use chrono::{DateTime, FixedOffset, Timelike};
use egui_plot::{Bar, BarChart, Line, Plot, PlotPoints};

/// Alerts fired plus orders reported in each hour of the day that starts `days_back`
/// days before today (twin time, the clock's own offset: Beijing). Hours not in the
/// history are 0; those still to come today are left out.
pub fn events_per_hour(
    history: &KpiHistory,
    now: DateTime<FixedOffset>,
    days_back: i64,
) -> Vec<u32> {
    let minute_now = now.timestamp().div_euclid(60);
    let midnight = minute_now - i64::from(now.hour() * 60 + now.minute()) - days_back * 1440;
    (0..24)
        .map(|h| midnight + h * 60)
        .take_while(|start| *start <= minute_now)
        .map(|start| {
            (start..(start + 60).min(minute_now + 1))
                .filter_map(|m| history.city.get(m))
                .map(|m| m.alerts_fired + m.orders_reported)
                .sum()
        })
        .collect()
}

/// A chart's frame: small, fixed, not to be dragged or zoomed on a wall.
fn plot(id: &str, height: f32) -> Plot<'static> {
    Plot::new(id.to_string())
        .height(height)
        .allow_zoom(false)
        .allow_drag(false)
        .allow_scroll(false)
        .allow_boxed_zoom(false)
        .allow_double_click_reset(false)
        .show_x(false)
        .show_y(false)
        .set_margin_fraction(egui::vec2(0.02, 0.1))
}

pub(super) fn strip(ui: &mut egui::Ui, s: &WallState, tr: Tr) {
    let rect = ui.available_rect_before_wrap();
    // The columns keep off the bezels: each lies on one screen.
    let columns = super::panels::seams(ui).columns(rect.left(), rect.right(), 5, 280.0, 16.0);
    let charts: [&dyn Fn(&mut egui::Ui); 5] = [
        &|ui| per_hour(ui, s, tr),
        &|ui| category_mix(ui, s, tr),
        &|ui| online_rate(ui, s, tr),
        &|ui| rankings(ui, s, tr),
        &|ui| projects(ui, s, tr),
    ];
    for ((x0, x1), chart) in columns.into_iter().zip(charts) {
        let area = egui::Rect::from_x_y_ranges(x0..=x1, rect.y_range());
        let mut child = ui.new_child(
            egui::UiBuilder::new()
                .max_rect(area)
                .layout(egui::Layout::top_down(egui::Align::Min)),
        );
        child.set_clip_rect(area);
        chart(&mut child);
    }
    ui.allocate_rect(rect, egui::Sense::hover());
}

fn title(ui: &mut egui::Ui, tr: Tr, w: W) {
    ui.label(tr.rich(w, 18.0, theme::ACCENT));
}

fn per_hour(ui: &mut egui::Ui, s: &WallState, tr: Tr) {
    let now = s.ops.clock.now();
    ui.horizontal(|ui| {
        title(ui, tr, W::EventsPerHour);
        ui.label(RichText::new("■").color(theme::ACCENT));
        ui.label(RichText::new(tr.word(W::Today)).size(14.0));
        ui.label(RichText::new("—").color(theme::FAULT));
        ui.label(RichText::new(tr.word(W::Yesterday)).size(14.0));
    });
    let today = events_per_hour(&s.ops.history, now, 0);
    let yesterday = events_per_hour(&s.ops.history, now, 1);
    let bars: Vec<Bar> = today
        .iter()
        .enumerate()
        .map(|(h, n)| Bar::new(h as f64, f64::from(*n)).width(0.7))
        .collect();
    let line: PlotPoints = yesterday
        .iter()
        .enumerate()
        .map(|(h, n)| [h as f64, f64::from(*n)])
        .collect();
    plot("events-per-hour", ui.available_height())
        .include_x(-0.5)
        .include_x(23.5)
        .include_y(0.0)
        .x_axis_formatter(|mark, _| format!("{:.0}", mark.value))
        .show(ui, |p| {
            p.bar_chart(BarChart::new("today", bars).color(theme::ACCENT));
            p.line(Line::new("yesterday", line).color(theme::FAULT).width(2.0));
        });
}

fn category_mix(ui: &mut egui::Ui, s: &WallState, tr: Tr) {
    title(ui, tr, W::CategoryMix);
    let mix = &s.ops.kpis.category_mix;
    let total: u64 = mix.values().sum();
    let mut rows: Vec<(OrderCategory, u64)> = [
        OrderCategory::Traffic,
        OrderCategory::PublicFacilities,
        OrderCategory::Education,
        OrderCategory::PropertyManagement,
        OrderCategory::Environment,
        OrderCategory::Heating,
        OrderCategory::MedicalSocialSecurity,
        OrderCategory::Other,
    ]
    .into_iter()
    .map(|c| {
        let label = crate::ops::kpis::category_label(c);
        (c, mix.get(label).copied().unwrap_or(0))
    })
    .collect();
    rows.sort_by_key(|r| std::cmp::Reverse(r.1));
    let bars: Vec<(String, u64)> = rows
        .into_iter()
        .take(6)
        .map(|(c, n)| (tr.word(super::incidents::category_word(c)).to_string(), n))
        .collect();
    bar_list(ui, &bars, total.max(1), theme::ACCENT);
}

/// Labelled horizontal bars, each a share of `whole`.
fn bar_list(ui: &mut egui::Ui, rows: &[(String, u64)], whole: u64, color: Color32) {
    egui::Grid::new(ui.next_auto_id())
        .num_columns(3)
        .spacing(egui::vec2(8.0, 4.0))
        .show(ui, |ui| {
            for (label, n) in rows {
                ui.label(RichText::new(label).size(15.0));
                let (rect, _) =
                    ui.allocate_exact_size(egui::vec2(110.0, 14.0), egui::Sense::hover());
                ui.painter()
                    .rect_filled(rect, 2.0, Color32::from_rgb(20, 36, 60));
                let mut bar = rect;
                bar.set_width(rect.width() * (*n as f32 / whole as f32).clamp(0.0, 1.0));
                ui.painter().rect_filled(bar, 2.0, color);
                ui.label(RichText::new(n.to_string()).size(15.0).monospace());
                ui.end_row();
            }
        });
}

fn online_rate(ui: &mut egui::Ui, s: &WallState, tr: Tr) {
    title(ui, tr, W::OnlineOverTime);
    let now = s.ops.clock.now();
    let points: PlotPoints = series(&s.ops.history, now, 24 * 60, 5, |m| m.online_rate)
        .into_iter()
        .enumerate()
        .filter_map(|(i, v)| Some([i as f64 * 5.0 / 60.0 - 24.0, f64::from(v?) * 100.0]))
        .collect();
    plot("online-rate", ui.available_height())
        .include_x(-24.0)
        .include_x(0.0)
        .x_axis_formatter(|mark, _| format!("{:.0}h", mark.value))
        .y_axis_formatter(|mark, _| format!("{:.0}%", mark.value))
        .show(ui, |p| {
            p.line(Line::new("online", points).color(theme::ONLINE).width(2.0));
        });
}

fn rankings(ui: &mut egui::Ui, s: &WallState, tr: Tr) {
    let k = &s.ops.kpis;
    title(ui, tr, W::DistrictRanking);
    let top = |ranking: &[(String, u64)]| -> Vec<(String, u64)> {
        ranking.iter().take(4).cloned().collect()
    };
    let districts = top(&k.district_ranking);
    let most = districts.first().map_or(1, |d| d.1.max(1));
    bar_list(ui, &districts, most, theme::FAULT);
    title(ui, tr, W::GridRanking);
    let grids = top(&k.grid_ranking);
    let most = grids.first().map_or(1, |d| d.1.max(1));
    bar_list(ui, &grids, most, theme::FAULT);
}

pub(super) fn phase_word(phase: ProjectPhase) -> W {
    match phase {
        ProjectPhase::Planned => W::PhasePlanned,
        ProjectPhase::Design => W::PhaseDesign,
        ProjectPhase::Construction => W::PhaseConstruction,
        ProjectPhase::Acceptance => W::PhaseAcceptance,
        ProjectPhase::Completed => W::PhaseCompleted,
    }
}

fn projects(ui: &mut egui::Ui, s: &WallState, tr: Tr) {
    title(ui, tr, W::Projects);
    let mut list: Vec<_> = s.ops.projects.0.values().collect();
    if list.is_empty() {
        ui.label(RichText::new(tr.word(W::NoProjects)).color(theme::DIM));
        return;
    }
    // Those under way first, furthest along first.
    list.sort_by(|a, b| {
        (a.phase == ProjectPhase::Completed)
            .cmp(&(b.phase == ProjectPhase::Completed))
            .then(b.progress_pct.total_cmp(&a.progress_pct))
            .then(a.id.cmp(&b.id))
    });
    egui::ScrollArea::vertical()
        .id_salt("projects")
        .show(ui, |ui| {
            for p in list.iter().take(8) {
                // The project selected on the map stands out here too.
                let selected = matches!(
                    &s.selection.incident,
                    Some(crate::view::Incident::Project(id)) if *id == p.id
                );
                ui.horizontal(|ui| {
                    let name = RichText::new(&p.name).size(15.0);
                    ui.label(if selected {
                        name.color(theme::ACCENT).strong()
                    } else {
                        name
                    });
                    ui.label(
                        RichText::new(tr.word(phase_word(p.phase)))
                            .size(14.0)
                            .color(theme::ACCENT),
                    );
                });
                ui.add(
                    egui::ProgressBar::new((p.progress_pct / 100.0).clamp(0.0, 1.0) as f32)
                        .desired_height(10.0)
                        .fill(theme::ONLINE)
                        .text(RichText::new(format!("{:.0}%", p.progress_pct)).size(11.0)),
                );
            }
        });
}
