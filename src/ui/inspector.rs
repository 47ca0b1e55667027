//! The inspector: whatever is picked (a building, a device, a camera with its live
//! snapshot, an alert or a work order), and for an incident the camera wall: snapshot
//! thumbnails of its linked cameras (2×2, or 3×3 when it has more than four), an
//! offline camera shown as such.

use super::i18n::{Tr, W};
use super::panels::{
    MarkerView, Textures, WallState, fact, kind_word, snapshot_texture, status_color, status_word,
};
use super::theme;
use crate::feeds::schema::{DeviceStatus, Text};
use crate::feeds::snapshot::SnapshotState;
use crate::view::Incident;
use bevy::platform::collections::HashMap;
use bevy_egui::egui::{self, Color32, RichText};

/// The pictures on screen this frame, by camera id.
pub(super) type Pictures = HashMap<String, egui::TextureHandle>;

/// The cameras whose pictures the inspector shows: the selected camera, or the
/// selected incident's linked cameras (at most nine).
fn shown_cameras(s: &WallState) -> Vec<Text> {
    if let Some(m) = s.selection.marker.and_then(|e| s.markers.get(e).ok()) {
        return m.7.map(|_| m.0.0.clone()).into_iter().collect();
    }
    let linked = match &s.selection.incident {
        Some(Incident::Alert(id)) => s.ops.alerts.get(id).map(|a| a.cameras.clone()),
        Some(Incident::Order(id)) => s.ops.book.orders.get(id).map(|o| o.cameras.clone()),
        Some(Incident::Project(_)) | None => None,
    };
    let mut linked = linked.unwrap_or_default();
    linked.truncate(9);
    linked
}

/// Asks the snapshot cache for the shown cameras' pictures and makes their textures;
/// the textures of cameras no longer shown are let go.
pub(super) fn pictures(
    ctx: &egui::Context,
    s: &mut WallState,
    textures: &mut Textures,
) -> Pictures {
    let cameras = shown_cameras(s);
    let mut out = Pictures::default();
    for id in &cameras {
        let url = s
            .entities
            .get(id)
            .and_then(|e| s.markers.get(e).ok())
            .and_then(|m| m.7?.snapshot_url.clone());
        if let Some(url) = url {
            s.snapshots.want(id, &url);
            if let Some(t) = snapshot_texture(ctx, &s.snapshots, id, textures) {
                out.insert(id.to_string(), t);
            }
        }
    }
    textures.0.retain(|id, _| cameras.iter().any(|c| c == id));
    out
}

pub(super) fn inspector(ui: &mut egui::Ui, s: &WallState, pictures: &Pictures, tr: Tr) {
    if s.selection.building.is_some() {
        building(ui, s, tr);
    } else if let Some(m) = s.selection.marker.and_then(|e| s.markers.get(e).ok()) {
        marker(ui, m, s, pictures, tr);
    } else if let Some(incident) = &s.selection.incident {
        self::incident(ui, incident, s, pictures, tr);
    }
}

fn building(ui: &mut egui::Ui, s: &WallState, tr: Tr) {
    let Some(b) = s.selection.building.and_then(|i| s.buildings.0.get(i)) else {
        return;
    };
    tr.section(ui, W::Building);
    if let Some(name) = &b.name {
        ui.label(RichText::new(name).size(24.0).strong());
    }
    egui::Grid::new("building-facts")
        .num_columns(2)
        .show(ui, |ui| {
            fact(ui, tr.word(W::Id), RichText::new(&b.id));
            fact(
                ui,
                tr.word(W::Height),
                RichText::new(format!("{:.1} m", b.height_m)),
            );
            fact(
                ui,
                tr.word(W::Position),
                RichText::new(format!("{:.6}, {:.6}", b.centroid.lon, b.centroid.lat)),
            );
        });
    ui.add_space(8.0);
    ui.label(tr.rich(W::Properties, 16.0, theme::ACCENT));
    egui::Grid::new("building-props")
        .num_columns(2)
        .show(ui, |ui| {
            for (k, v) in &b.properties {
                let text = match v {
                    serde_json::Value::String(s) => s.clone(),
                    other => other.to_string(),
                };
                ui.label(RichText::new(k).color(theme::DIM).size(15.0));
                ui.label(RichText::new(text).size(15.0));
                ui.end_row();
            }
        });
    ui.label(
        RichText::new(b.source.display().to_string())
            .size(12.0)
            .color(theme::DIM),
    );
}

fn marker(
    ui: &mut egui::Ui,
    (id, status, position, name, grid, device, readings, camera): <MarkerView as bevy::ecs::query::QueryData>::Item<'_, '_>,
    s: &WallState,
    pictures: &Pictures,
    tr: Tr,
) {
    tr.section(
        ui,
        if camera.is_some() {
            W::Camera
        } else {
            W::IotDevice
        },
    );
    ui.label(
        RichText::new(name.map_or(id.0.as_str(), |n| n.0.as_str()))
            .size(24.0)
            .strong(),
    );
    egui::Grid::new("marker-facts")
        .num_columns(2)
        .show(ui, |ui| {
            fact(ui, tr.word(W::Id), RichText::new(id.0.as_str()));
            fact(
                ui,
                tr.word(W::Status),
                RichText::new(tr.word(status_word(status.0)))
                    .color(status_color(status.0))
                    .strong(),
            );
            if let Some(d) = device {
                fact(
                    ui,
                    tr.word(W::Kind),
                    RichText::new(tr.word(kind_word(d.kind))),
                );
            }
            if let Some(g) = grid {
                fact(ui, tr.word(W::Grid), RichText::new(&g.0));
            }
            fact(
                ui,
                tr.word(W::Position),
                RichText::new(format!("{:.6}, {:.6}", position.0.lon, position.0.lat)),
            );
            if let Some(c) = camera
                && let Some(h) = c.heading_deg
            {
                let fov = c.fov_deg.map_or(String::new(), |f| format!(" · {f:.0}°"));
                fact(
                    ui,
                    tr.word(W::Heading),
                    RichText::new(format!("{h:.0}°{fov}")),
                );
            }
            for r in readings.map_or(&[][..], |r| &r.0[..]) {
                fact(
                    ui,
                    r.name.as_ref(),
                    RichText::new(format!("{} {}", r.value, r.unit)).size(20.0),
                );
            }
        });
    let Some(c) = camera else {
        return;
    };
    ui.add_space(10.0);
    let age = s
        .snapshots
        .get(&id.0)
        .and_then(|e| e.updated_at)
        .map_or(String::new(), |at| {
            format!(" · {} s", at.elapsed().as_secs())
        });
    ui.label(tr.rich_with(W::Snapshot, &age, 16.0, theme::ACCENT));
    let Some(url) = &c.snapshot_url else {
        ui.label(RichText::new(tr.word(W::NoSnapshotUrl)).color(theme::DIM));
        return;
    };
    picture(ui, s, &id.0, pictures, ui.available_width(), tr);
    // Shown without credentials or token values.
    ui.label(
        RichText::new(crate::feeds::redact(url))
            .size(12.0)
            .color(theme::DIM),
    );
}

/// One camera's picture `width` wide: the snapshot, or why there is none.
fn picture(ui: &mut egui::Ui, s: &WallState, id: &str, pictures: &Pictures, width: f32, tr: Tr) {
    let failed = s.snapshots.get(id).and_then(|e| match &e.state {
        SnapshotState::Failed(why) => Some(why.clone()),
        _ => None,
    });
    match (pictures.get(id), failed) {
        (Some(texture), _) => {
            let [w, h] = texture.size();
            let size = egui::vec2(width, width * h as f32 / w.max(1) as f32);
            ui.add(egui::Image::new(egui::load::SizedTexture::new(
                texture.id(),
                size,
            )));
        }
        (None, Some(why)) => {
            ui.label(RichText::new(tr.word(W::SnapshotFailed)).color(theme::ALARM));
            ui.label(RichText::new(why).size(13.0).color(theme::DIM));
        }
        (None, None) => {
            ui.label(RichText::new(tr.word(W::Loading)).color(theme::DIM));
        }
    }
}

fn incident(ui: &mut egui::Ui, incident: &Incident, s: &WallState, pictures: &Pictures, tr: Tr) {
    let now = s.ops.clock.now();
    let cameras = match incident {
        Incident::Alert(id) => {
            let Some(a) = s.ops.alerts.get(id) else {
                return;
            };
            tr.section(ui, W::Alert);
            let (word, color) = super::incidents::severity_look(a.severity);
            ui.label(RichText::new(&a.title).size(24.0).strong().color(color));
            egui::Grid::new("alert-facts")
                .num_columns(2)
                .show(ui, |ui| {
                    fact(
                        ui,
                        tr.word(W::Status),
                        RichText::new(tr.word(word)).color(color),
                    );
                    fact(ui, tr.word(W::Id), RichText::new(a.device.as_str()));
                    if let Some(d) = &a.district {
                        let street = a
                            .street
                            .as_deref()
                            .map_or(String::new(), |s| format!(" {s}"));
                        fact(
                            ui,
                            tr.word(W::District),
                            RichText::new(format!("{d}{street}")),
                        );
                    }
                    fact(
                        ui,
                        tr.word(W::Since),
                        RichText::new(a.since.format("%m-%d %H:%M:%S").to_string()),
                    );
                    if let Some(v) = a.value {
                        fact(ui, "·", RichText::new(format!("{v}")));
                    }
                    fact(
                        ui,
                        tr.word(W::Reports),
                        RichText::new(a.reports.to_string()),
                    );
                });
            &a.cameras
        }
        Incident::Order(id) => {
            let Some(o) = s.ops.book.orders.get(id) else {
                return;
            };
            tr.section(ui, W::WorkOrder);
            ui.label(
                RichText::new(tr.word(super::incidents::category_word(o.category)))
                    .size(24.0)
                    .strong(),
            );
            let (deadline, _) = super::incidents::next_deadline(o);
            let left = deadline - now;
            egui::Grid::new("order-facts")
                .num_columns(2)
                .show(ui, |ui| {
                    fact(ui, tr.word(W::Id), RichText::new(&o.id));
                    fact(
                        ui,
                        tr.word(W::Status),
                        RichText::new(format!("{:?}", o.status)),
                    );
                    if let Some(d) = &o.district {
                        fact(ui, tr.word(W::District), RichText::new(d));
                    }
                    fact(
                        ui,
                        tr.word(W::Deadline),
                        RichText::new(format!(
                            "{} ({} {})",
                            deadline.format("%m-%d %H:%M"),
                            tr.word(if left.num_seconds() < 0 {
                                W::Overdue
                            } else {
                                W::Left
                            }),
                            super::incidents::countdown(left)
                        ))
                        .color(if left.num_seconds() < 0 {
                            theme::ALARM
                        } else {
                            theme::TEXT
                        }),
                    );
                    if o.three_cross.any() {
                        fact(
                            ui,
                            tr.word(W::ThreeCross),
                            RichText::new(o.districts.join("、")).color(theme::FAULT),
                        );
                    }
                });
            &o.cameras
        }
        Incident::Project(id) => {
            if let Some(p) = s.ops.projects.0.get(id) {
                project(ui, p, tr);
            }
            return;
        }
    };
    camera_wall(ui, s, cameras, pictures, tr);
}

/// A renovation project: kind, phase, progress, budget, period and the state of each
/// item of its scheme.
fn project(ui: &mut egui::Ui, p: &crate::feeds::schema::ProjectUpdate, tr: Tr) {
    use crate::feeds::schema::{ItemState, ProjectKind, SchemeItem};
    tr.section(ui, W::ProjectDetails);
    ui.label(RichText::new(&p.name).size(24.0).strong());
    let kind = match p.kind {
        ProjectKind::OldCommunity => W::KindOldCommunity,
        ProjectKind::Road => W::KindRoadWorks,
        ProjectKind::PocketPark => W::KindPocketPark,
    };
    egui::Grid::new("project-facts")
        .num_columns(2)
        .show(ui, |ui| {
            fact(ui, tr.word(W::Id), RichText::new(&p.id));
            fact(ui, tr.word(W::Kind), RichText::new(tr.word(kind)));
            fact(
                ui,
                tr.word(W::Phase),
                RichText::new(tr.word(super::charts::phase_word(p.phase))).color(theme::ACCENT),
            );
            fact(
                ui,
                tr.word(W::Progress),
                RichText::new(format!("{:.0}%", p.progress_pct)),
            );
            if let Some(b) = p.budget_cny {
                fact(ui, tr.word(W::Budget), RichText::new(format!("¥{:.0}", b)));
            }
            if let (Some(a), Some(b)) = (p.start, p.end) {
                fact(ui, tr.word(W::Period), RichText::new(format!("{a} – {b}")));
            }
        });
    ui.add(
        egui::ProgressBar::new((p.progress_pct / 100.0).clamp(0.0, 1.0) as f32)
            .desired_height(10.0)
            .fill(theme::ONLINE),
    );
    if p.items.is_empty() {
        return;
    }
    ui.add_space(8.0);
    egui::Grid::new("project-items")
        .num_columns(2)
        .show(ui, |ui| {
            for i in &p.items {
                let item = match i.item {
                    SchemeItem::DemolishIllegal => W::ItemDemolish,
                    SchemeItem::RoadResurfacing => W::ItemResurface,
                    SchemeItem::CablesUnderground => W::ItemCables,
                    SchemeItem::Greening => W::ItemGreening,
                    SchemeItem::Facades => W::ItemFacades,
                    SchemeItem::RainSewagePipes => W::ItemPipes,
                    SchemeItem::CommunityFunctions => W::ItemCommunity,
                    SchemeItem::ServiceFacilities => W::ItemServices,
                    SchemeItem::PropertyManagement => W::ItemProperty,
                };
                let (state, color) = match i.state {
                    ItemState::NotStarted => (W::NotStarted, theme::DIM),
                    ItemState::InProgress => (W::InProgress, theme::FAULT),
                    ItemState::Done => (W::Done, theme::ONLINE),
                };
                fact(
                    ui,
                    tr.word(item),
                    RichText::new(tr.word(state)).color(color),
                );
            }
        });
}

/// The incident's linked cameras as thumbnails, 2×2 (3×3 for more than four).
fn camera_wall(ui: &mut egui::Ui, s: &WallState, cameras: &[Text], pictures: &Pictures, tr: Tr) {
    if cameras.is_empty() {
        return;
    }
    ui.add_space(8.0);
    ui.label(tr.rich(W::LinkedCameras, 16.0, theme::ACCENT));
    let per_row = if cameras.len() > 4 { 3 } else { 2 };
    let width = (ui.available_width() - 6.0 * (per_row - 1) as f32) / per_row as f32;
    egui::Grid::new("camera-wall")
        .spacing(egui::vec2(6.0, 6.0))
        .show(ui, |ui| {
            for (i, id) in cameras.iter().take(per_row * per_row).enumerate() {
                let status = s
                    .entities
                    .get(id)
                    .and_then(|e| s.markers.get(e).ok())
                    .map(|m| m.1.0);
                ui.vertical(|ui| {
                    ui.set_width(width);
                    if status == Some(DeviceStatus::Offline) {
                        let (rect, _) = ui.allocate_exact_size(
                            egui::vec2(width, width * 9.0 / 16.0),
                            egui::Sense::hover(),
                        );
                        ui.painter()
                            .rect_filled(rect, 2.0, Color32::from_rgb(30, 34, 40));
                        ui.painter().text(
                            rect.center(),
                            egui::Align2::CENTER_CENTER,
                            tr.word(W::Offline),
                            egui::FontId::proportional(18.0),
                            theme::OFFLINE,
                        );
                    } else {
                        picture(ui, s, id, pictures, width, tr);
                    }
                    ui.label(
                        RichText::new(id.as_str())
                            .size(12.0)
                            .color(status.map_or(theme::DIM, status_color)),
                    );
                });
                if (i + 1) % per_row == 0 {
                    ui.end_row();
                }
            }
        });
}
