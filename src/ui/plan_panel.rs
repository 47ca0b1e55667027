//! The planner's panel (in place of the wall's when a project is shown): the project,
//! which scenarios are shown and how, the metrics of both side by side, the
//! 一拆五改三增加 checklist, the sunlight figures, the notes, and the report button.

use super::{Tr, W, theme};
use crate::view::measure::{Measure, Tool};
use crate::view::plan::{PlanData, PlanMode, PlanPanelWidth, PlanRequest, PlanStatus};
use bevy::prelude::*;
use bevy_egui::{EguiContexts, egui};

/// Where the report button's last report went (or why it failed).
#[derive(Resource, Debug, Default, Clone)]
pub struct ReportState {
    pub message: Option<String>,
    running: Option<crossbeam_channel::Receiver<Result<String, String>>>,
}

pub fn draw(
    mut contexts: EguiContexts,
    mut request: ResMut<PlanRequest>,
    status: Option<Res<PlanStatus>>,
    scene: Res<crate::city::CurrentScene>,
    mut report: Local<ReportState>,
    mut panel_width: ResMut<PlanPanelWidth>,
    mut measure: ResMut<Measure>,
    mut note_text: Local<String>,
    mut data_mut: Option<ResMut<PlanData>>,
    frame: Option<NonSend<crate::geo::SceneFrame>>,
) -> Result {
    let ctx = contexts.ctx_mut()?;
    let tr = Tr(scene.0.file.language);
    if let Some(rx) = &report.running
        && let Ok(done) = rx.try_recv()
    {
        report.message = Some(done.unwrap_or_else(|e| e));
        report.running = None;
    }
    if request.mode == PlanMode::Swipe {
        swipe_handle(ctx, &mut request);
    }
    let mut root = super::root_ui(ctx, "plan");
    let shown = egui::Panel::left("plan")
        .exact_size(430.0)
        .resizable(false)
        .show(&mut root, |ui| {
            let Some(data) = data_mut.as_deref_mut() else {
                let text = match status.as_ref().and_then(|s| s.failed.clone()) {
                    Some(e) => e,
                    None => tr.word(W::Reviewing).to_string(),
                };
                ui.heading(&request.project);
                ui.label(text);
                return;
            };
            let spec = &data.project.spec;
            ui.heading(&spec.name);
            if spec.synthetic {
                ui.colored_label(theme::SYNTHETIC, tr.word(W::SyntheticProposals));
            }
            let names: Vec<String> = data.review.all().map(|r| r.name.clone()).collect();
            egui::Grid::new("plan-pick").num_columns(2).show(ui, |ui| {
                ui.label(tr.word(W::Proposal));
                pick(ui, "scenario", &names, &mut request.scenario);
                ui.end_row();
                ui.label(tr.word(W::Compare));
                pick(ui, "compare", &names, &mut request.compare);
                ui.end_row();
            });
            ui.horizontal(|ui| {
                for (mode, word) in [
                    (PlanMode::Single, W::ViewSingle),
                    (PlanMode::Swipe, W::ViewSwipe),
                    (PlanMode::SideBySide, W::ViewSideBySide),
                ] {
                    if ui
                        .selectable_label(request.mode == mode, tr.word(word))
                        .clicked()
                    {
                        request.mode = mode;
                    }
                }
            });
            if request.mode == PlanMode::Single {
                toggle_button(
                    ui,
                    &mut request.showing_before,
                    tr.word(W::ShowingCompare),
                    tr.word(W::ShowingProposal),
                );
            }
            if request.mode == PlanMode::Swipe {
                ui.add(
                    egui::Slider::new(&mut request.swipe, 0.35..=0.95)
                        .text(tr.word(W::SwipePosition)),
                );
            }
            shadows(ui, tr, &mut request, &data.review);
            ui.separator();
            let (a, b) = (
                data.review.get(request.compare),
                data.review.get(request.scenario),
            );
            let (Some(a), Some(b)) = (a, b) else {
                return;
            };
            let mut pinned = None;
            egui::ScrollArea::vertical().show(ui, |ui| {
                measuring(ui, tr, &mut measure);
                ui.separator();
                metrics(ui, tr, a, b);
                ui.separator();
                ui.label(egui::RichText::new(tr.word(W::Checklist)).strong());
                for item in &b.checklist {
                    let (mark, color) = if item.covered {
                        ("✓", theme::ONLINE)
                    } else {
                        ("—", theme::DIM)
                    };
                    ui.horizontal(|ui| {
                        ui.colored_label(color, mark);
                        ui.label(item.zh);
                        ui.colored_label(theme::DIM, &item.measure);
                    });
                }
                ui.separator();
                let day = data.review.settings.day;
                let s = b.sun.summary(day);
                ui.label(egui::RichText::new(tr.word(W::SunlightStandard)).strong());
                ui.label(format!("{} {}", day.label(), data.review.date));
                egui::Grid::new("plan-sun").num_columns(2).show(ui, |ui| {
                    for (label, n) in [
                        (tr.word(W::Windows), s.windows),
                        (tr.word(W::BelowStandard), s.below),
                        (tr.word(W::PushedBelow), s.pushed_below),
                        (tr.word(W::AlreadyBelowWorse), s.worsened),
                        (tr.word(W::OnlyByElevators), s.elevator_only.values().sum()),
                        (tr.word(W::ShadedByElevators), s.shaded_by_elevators),
                    ] {
                        ui.label(label);
                        ui.label(n.to_string());
                        ui.end_row();
                    }
                });
                ui.separator();
                ui.label(
                    egui::RichText::new(format!("{} ({})", tr.word(W::Notes), data.notes.len()))
                        .strong(),
                );
                for n in &data.notes {
                    ui.label(format!(
                        "{} — {} {}",
                        n.text,
                        n.author,
                        n.time.format("%Y-%m-%d")
                    ));
                }
                // A note pinned at the last point clicked with a measuring tool.
                ui.text_edit_singleline(&mut *note_text);
                let at = measure
                    .points
                    .last()
                    .copied()
                    .zip(frame.as_ref())
                    .and_then(|(p, f)| f.0.to_lonlat(crate::geo::LocalPoint::new(p[0], p[1])).ok());
                let pin = egui::Button::new(tr.word(W::PinAtPoint));
                if ui
                    .add_enabled(at.is_some() && !note_text.trim().is_empty(), pin)
                    .clicked()
                    && let Some(at) = at
                {
                    let note = crate::plan::notes::Note {
                        at,
                        text: note_text.trim().to_owned(),
                        author: std::env::var("USER").unwrap_or_default(),
                        time: chrono::Utc::now(),
                        scenario: Some(b.name.clone()),
                    };
                    let path = data.project.notes_path.clone();
                    let saved = note.clone();
                    // A small file, written off the frame.
                    std::thread::spawn(move || {
                        if let Err(e) = crate::plan::notes::add(&path, saved) {
                            error!("notes: {e}");
                        }
                    });
                    pinned = Some(note);
                    note_text.clear();
                }
                ui.separator();
                if ui
                    .add_enabled(
                        report.running.is_none(),
                        egui::Button::new(tr.word(W::WriteReport)),
                    )
                    .clicked()
                {
                    let dir = scene.0.base_dir().join(format!("plan-report-{}", spec.id));
                    let (project, review, notes) = (
                        data.project.clone(),
                        data.review.clone(),
                        data.notes.clone(),
                    );
                    let (tx, rx) = crossbeam_channel::bounded(1);
                    report.running = Some(rx);
                    report.message = None;
                    std::thread::spawn(move || {
                        let done = crate::plan::report::write(&dir, &project, &review, &notes, &[])
                            .map(|w| format!("{}", w.html.display()));
                        let _ = tx.send(done);
                    });
                }
                if let Some(m) = &report.message {
                    ui.colored_label(theme::DIM, m);
                }
            });
            if let Some(note) = pinned {
                data.notes.push(note);
            }
        });
    let px = (shown.response.rect.max.x * ctx.pixels_per_point())
        .round()
        .max(0.0) as u32;
    if panel_width.0 != px {
        panel_width.0 = px;
    }
    Ok(())
}

/// Shadows on the map at a moment of the standard day: on/off, a slider over the
/// day's window in true solar time, play, and where the sun stands.
fn shadows(
    ui: &mut egui::Ui,
    tr: Tr,
    request: &mut PlanRequest,
    review: &crate::plan::review::Review,
) {
    use crate::plan::shadow::{clock, step_at};
    let (start, end) = review.settings.day.window();
    ui.horizontal(|ui| {
        let mut on = request.shadows_at.is_some();
        if ui.checkbox(&mut on, tr.word(W::Shadows)).changed() {
            request.shadows_at = on.then_some((start + end) / 2.0);
            request.shadows_playing &= on;
        }
        if request.shadows_at.is_some() {
            toggle_button(
                ui,
                &mut request.shadows_playing,
                tr.word(W::Pause),
                tr.word(W::Play),
            );
        }
    });
    let Some(t) = request.shadows_at.as_mut() else {
        return;
    };
    *t = t.clamp(start, end);
    ui.add(
        egui::Slider::new(t, start..=end)
            .step_by(1.0 / 60.0)
            .custom_formatter(|v, _| clock(v))
            .text(tr.word(W::TrueSolarTime)),
    );
    if let Some(sun) = step_at(&review.path, *t) {
        ui.colored_label(
            theme::DIM,
            format!(
                "{} {:.0}° · {} {:.0}°",
                tr.word(W::SunAzimuth),
                sun.azimuth_deg,
                tr.word(W::SunElevation),
                sun.elevation_deg
            ),
        );
    }
}

/// A button that flips `flag`, labelled by what it is now.
fn toggle_button(ui: &mut egui::Ui, flag: &mut bool, when_on: &str, when_off: &str) {
    if ui.button(if *flag { when_on } else { when_off }).clicked() {
        *flag = !*flag;
    }
}

fn measuring(ui: &mut egui::Ui, tr: Tr, measure: &mut Measure) {
    ui.label(egui::RichText::new(tr.word(W::Measure)).strong());
    ui.horizontal(|ui| {
        for (tool, word) in [
            (Tool::Distance, W::Distance),
            (Tool::Path, W::PathLength),
            (Tool::Area, W::Area),
            (Tool::Height, W::MeasureHeight),
        ] {
            if ui
                .selectable_label(measure.tool == Some(tool), tr.word(word))
                .clicked()
            {
                measure.tool = (measure.tool != Some(tool)).then_some(tool);
                measure.clear();
            }
        }
        if ui.button(tr.word(W::Clear)).clicked() {
            measure.clear();
        }
    });
    if measure.tool.is_some() {
        let text = measure
            .result
            .clone()
            .unwrap_or_else(|| format!("{} {}", tr.word(W::PointsClicked), measure.points.len()));
        ui.colored_label(theme::ACCENT, text);
    }
}

fn pick(ui: &mut egui::Ui, id: &str, names: &[String], chosen: &mut usize) {
    egui::ComboBox::from_id_salt(id)
        .width(300.0)
        .selected_text(names.get(*chosen).cloned().unwrap_or_default())
        .show_ui(ui, |ui| {
            for (k, name) in names.iter().enumerate() {
                ui.selectable_value(chosen, k, name);
            }
        });
}

fn metrics(
    ui: &mut egui::Ui,
    tr: Tr,
    a: &crate::plan::review::ScenarioReview,
    b: &crate::plan::review::ScenarioReview,
) {
    use crate::plan::review::grouped;
    egui::Grid::new("plan-metrics")
        .num_columns(3)
        .striped(true)
        .show(ui, |ui| {
            ui.label("");
            ui.colored_label(theme::DIM, short_name(&a.name));
            ui.colored_label(theme::ACCENT, short_name(&b.name));
            ui.end_row();
            let (ma, mb) = (&a.metrics, &b.metrics);
            let rows: [(String, String, String); 8] = [
                (
                    tr.word(W::SiteArea).to_string(),
                    grouped(ma.site_m2),
                    grouped(mb.site_m2),
                ),
                (
                    tr.word(W::Coverage).to_string(),
                    format!("{:.1}%", ma.coverage * 100.0),
                    format!("{:.1}%", mb.coverage * 100.0),
                ),
                (
                    tr.word(W::FloorAreaRatio).to_string(),
                    format!("{:.2}", ma.far),
                    format!("{:.2}", mb.far),
                ),
                (
                    tr.word(W::GreenRatio).to_string(),
                    format!("{:.1}%", ma.green_ratio * 100.0),
                    format!("{:.1}%", mb.green_ratio * 100.0),
                ),
                (
                    tr.word(W::Parking).to_string(),
                    ma.parking_spaces.to_string(),
                    mb.parking_spaces.to_string(),
                ),
                (
                    tr.word(W::Childcare).to_string(),
                    share(ma, "childcare"),
                    share(mb, "childcare"),
                ),
                (
                    tr.word(W::ElderlyCare).to_string(),
                    share(ma, "elderly_care"),
                    share(mb, "elderly_care"),
                ),
                (
                    tr.word(W::Meals).to_string(),
                    share(ma, "meal"),
                    share(mb, "meal"),
                ),
            ];
            for (label, x, y) in rows {
                ui.label(label);
                ui.label(x);
                ui.label(y);
                ui.end_row();
            }
        });
}

fn share(m: &crate::plan::metrics::Metrics, kind: &str) -> String {
    format!(
        "{:.0}%",
        m.coverage_by_kind.get(kind).copied().unwrap_or(0.0) * 100.0
    )
}

/// The scenario's name up to its first space ("方案A 加装电梯+口袋公园" → "方案A").
fn short_name(name: &str) -> &str {
    name.split(' ').next().unwrap_or(name)
}

/// The swipe line, at the right edge of this (left) view, with a handle to drag it.
fn swipe_handle(ctx: &egui::Context, request: &mut PlanRequest) {
    let rect = ctx.viewport_rect();
    let x = rect.max.x - 2.0;
    ctx.layer_painter(egui::LayerId::new(
        egui::Order::Foreground,
        egui::Id::new("swipe-line"),
    ))
    .line_segment(
        [egui::pos2(x, rect.min.y), egui::pos2(x, rect.max.y)],
        egui::Stroke::new(3.0, egui::Color32::WHITE),
    );
    let full_width = rect.width() / request.swipe.max(0.05);
    egui::Area::new(egui::Id::new("swipe-handle"))
        .fixed_pos(egui::pos2(x - 30.0, rect.center().y - 30.0))
        .order(egui::Order::Foreground)
        .show(ctx, |ui| {
            let (r, response) = ui.allocate_exact_size(egui::vec2(30.0, 60.0), egui::Sense::drag());
            ui.painter()
                .rect_filled(r, 6.0, egui::Color32::from_rgb(240, 240, 240));
            ui.painter().text(
                r.center(),
                egui::Align2::CENTER_CENTER,
                "◀▶",
                egui::FontId::proportional(14.0),
                egui::Color32::from_rgb(20, 30, 50),
            );
            if response.dragged() {
                request.swipe =
                    (request.swipe + response.drag_delta().x / full_width).clamp(0.35, 0.95);
            }
        });
}
