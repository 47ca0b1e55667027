//! The wall's panels: header with scene and clock, KPIs, feeds, inspector, problems.

use super::{Tr, theme};
use crate::city::{Buildings, CityStatus, CurrentScene, LoadPhase};
use crate::feeds::SourceState;
use crate::feeds::ingest::{FeedStats, Health};
use crate::feeds::schema::DeviceStatus;
use crate::ops::{DeviceCounts, OrderCounts, TwinClock};
use crate::view::Selection;
use bevy::ecs::system::SystemParam;
use bevy::prelude::*;
use bevy_egui::EguiContexts;
use bevy_egui::egui::{self, Align, Color32, Layout, RichText};

#[derive(SystemParam)]
pub(super) struct WallState<'w> {
    scene: Res<'w, CurrentScene>,
    clock: Res<'w, TwinClock>,
    devices: Res<'w, DeviceCounts>,
    orders: Res<'w, OrderCounts>,
    city: Res<'w, CityStatus>,
    feeds: Res<'w, FeedStats>,
    buildings: Res<'w, Buildings>,
    selection: Res<'w, Selection>,
}

fn frame() -> egui::Frame {
    egui::Frame::new()
        .fill(theme::PANEL)
        .stroke(egui::Stroke::new(1.0, theme::EDGE))
        .inner_margin(egui::Margin::same(14))
}

pub(super) fn draw(mut contexts: EguiContexts, state: WallState) -> Result {
    let ctx = contexts.ctx_mut()?;
    let tr = Tr(state.scene.0.file.language);
    let mut root = egui::Ui::new(
        ctx.clone(),
        "wall".into(),
        egui::UiBuilder::new()
            .layer_id(egui::LayerId::background())
            .max_rect(ctx.viewport_rect()),
    );
    egui::Panel::top("header")
        .frame(frame())
        .show(&mut root, |ui| header(ui, &state, tr));
    egui::Panel::bottom("status")
        .frame(frame().inner_margin(egui::Margin::symmetric(14, 6)))
        .show(&mut root, |ui| status_bar(ui, &state, tr));
    egui::Panel::left("kpis")
        .frame(frame())
        .exact_size(330.0)
        .resizable(false)
        .show(&mut root, |ui| {
            kpis(ui, &state, tr);
            ui.add_space(12.0);
            feeds(ui, &state, tr);
        });
    if state.selection.building.is_some() {
        egui::Panel::right("inspector")
            .frame(frame())
            .exact_size(360.0)
            .resizable(false)
            .show(&mut root, |ui| inspector(ui, &state, tr));
    }
    Ok(())
}

fn header(ui: &mut egui::Ui, s: &WallState, tr: Tr) {
    ui.horizontal(|ui| {
        ui.label(
            RichText::new(&s.scene.0.file.name)
                .heading()
                .color(theme::ACCENT)
                .strong(),
        );
        if s.scene.0.file.synthetic {
            ui.add_space(16.0);
            ui.label(
                RichText::new(tr.t("合成演示数据", "SYNTHETIC DEMO DATA"))
                    .color(Color32::BLACK)
                    .background_color(theme::SYNTHETIC)
                    .size(16.0),
            );
        }
        ui.with_layout(Layout::right_to_left(Align::Center), |ui| {
            let now = s.clock.now();
            ui.label(
                RichText::new(now.format("%Y-%m-%d %H:%M:%S").to_string())
                    .size(30.0)
                    .monospace()
                    .color(theme::TEXT),
            );
            let tag = if s.clock.is_feed_time() {
                tr.t("回放时间", "replay time")
            } else {
                tr.t("北京时间", "Beijing time")
            };
            ui.label(RichText::new(tag).color(theme::DIM));
        });
    });
}

fn status_color(status: DeviceStatus) -> Color32 {
    match status {
        DeviceStatus::Online => theme::ONLINE,
        DeviceStatus::Alarm => theme::ALARM,
        DeviceStatus::Fault => theme::FAULT,
        DeviceStatus::Offline => theme::OFFLINE,
    }
}

fn status_name(status: DeviceStatus, tr: Tr) -> String {
    match status {
        DeviceStatus::Online => tr.t("在线", "Online"),
        DeviceStatus::Alarm => tr.t("告警", "Alarm"),
        DeviceStatus::Fault => tr.t("故障", "Fault"),
        DeviceStatus::Offline => tr.t("离线", "Offline"),
    }
}

fn big_number(ui: &mut egui::Ui, label: String, value: u64, color: Color32) {
    ui.horizontal(|ui| {
        ui.label(RichText::new(label).color(theme::DIM).size(18.0));
        ui.with_layout(Layout::right_to_left(Align::Center), |ui| {
            ui.label(
                RichText::new(value.to_string())
                    .size(34.0)
                    .color(color)
                    .strong(),
            );
        });
    });
}

fn kpis(ui: &mut egui::Ui, s: &WallState, tr: Tr) {
    ui.label(
        RichText::new(tr.t("物联感知", "Devices"))
            .size(22.0)
            .color(theme::ACCENT),
    );
    ui.separator();
    big_number(
        ui,
        tr.t("接入总数", "Total"),
        s.devices.total(),
        theme::TEXT,
    );
    for status in DeviceStatus::ALL {
        big_number(
            ui,
            status_name(status, tr),
            s.devices.get(status),
            status_color(status),
        );
    }
    // Share of devices reporting normally, as a bar.
    let total = s.devices.total().max(1) as f32;
    let online = s.devices.online as f32 / total;
    ui.add(
        egui::ProgressBar::new(online)
            .fill(theme::ONLINE)
            .text(format!(
                "{} {:.1}%",
                tr.short("在线率", "online"),
                online * 100.0
            )),
    );
    ui.add_space(12.0);
    ui.label(
        RichText::new(tr.t("城市运行", "City"))
            .size(22.0)
            .color(theme::ACCENT),
    );
    ui.separator();
    big_number(
        ui,
        tr.t("建筑", "Buildings"),
        s.city.buildings as u64,
        theme::TEXT,
    );
    big_number(
        ui,
        tr.t("待办工单", "Open orders"),
        s.orders.open,
        theme::FAULT,
    );
    big_number(ui, tr.t("已办结", "Closed"), s.orders.closed, theme::ONLINE);
}

fn feeds(ui: &mut egui::Ui, s: &WallState, tr: Tr) {
    ui.label(
        RichText::new(tr.t("数据接入", "Feeds"))
            .size(22.0)
            .color(theme::ACCENT),
    );
    ui.separator();
    if s.feeds.sources.is_empty() {
        ui.label(RichText::new(tr.t("无数据源", "no feeds")).color(theme::DIM));
    }
    for src in &s.feeds.sources {
        let (state, color) = match src.health(std::time::Instant::now(), s.feeds.stale_after) {
            Health::Starting => (tr.short("连接中", "starting"), theme::DIM),
            Health::Live => (tr.short("接入中", "live"), theme::ONLINE),
            Health::Stale(quiet) => (
                format!("{} {}s", tr.short("无数据", "stale"), quiet.as_secs()),
                theme::FAULT,
            ),
            Health::Reconnecting => (tr.short("重连中", "reconnecting"), theme::FAULT),
            Health::Finished => (tr.short("回放结束", "finished"), theme::DIM),
            Health::Failed => (tr.short("失败", "failed"), theme::ALARM),
        };
        let name = src.label.rsplit('/').next().unwrap_or(&src.label);
        ui.horizontal(|ui| {
            ui.label(RichText::new("●").color(color));
            ui.label(RichText::new(name).size(15.0));
            ui.label(RichText::new(state).color(color).size(15.0));
        });
        let mut counts = format!(
            "{} {}  {} {}  {} {}",
            tr.short("收", "recv"),
            src.received,
            tr.short("用", "applied"),
            src.applied,
            tr.short("拒", "rejected"),
            src.rejected_total()
        );
        if src.coalesced > 0 {
            counts += &format!("  {} {}", tr.short("合并", "coalesced"), src.coalesced);
        }
        ui.label(RichText::new(counts).size(14.0).color(theme::DIM));
        if let SourceState::Failed(why) | SourceState::Reconnecting(why) = &src.state {
            ui.label(RichText::new(why).size(13.0).color(theme::ALARM));
        }
    }
}

fn inspector(ui: &mut egui::Ui, s: &WallState, tr: Tr) {
    let Some(b) = s.selection.building.and_then(|i| s.buildings.0.get(i)) else {
        return;
    };
    ui.label(
        RichText::new(tr.t("建筑信息", "Building"))
            .size(22.0)
            .color(theme::ACCENT),
    );
    ui.separator();
    if let Some(name) = &b.name {
        ui.label(RichText::new(name).size(24.0).strong());
    }
    egui::Grid::new("building-facts")
        .num_columns(2)
        .show(ui, |ui| {
            ui.label(RichText::new(tr.short("编号", "ID")).color(theme::DIM));
            ui.label(&b.id);
            ui.end_row();
            ui.label(RichText::new(tr.short("高度", "Height")).color(theme::DIM));
            ui.label(format!("{:.1} m", b.height_m));
            ui.end_row();
            ui.label(RichText::new(tr.short("位置", "Position")).color(theme::DIM));
            ui.label(format!("{:.6}, {:.6}", b.centroid.lon, b.centroid.lat));
            ui.end_row();
        });
    ui.add_space(8.0);
    ui.label(RichText::new(tr.t("属性", "Properties")).color(theme::ACCENT));
    egui::ScrollArea::vertical().show(ui, |ui| {
        egui::Grid::new("building-props")
            .num_columns(2)
            .show(ui, |ui| {
                for (k, v) in &b.properties {
                    ui.label(RichText::new(k).color(theme::DIM).size(15.0));
                    let text = match v {
                        serde_json::Value::String(s) => s.clone(),
                        other => other.to_string(),
                    };
                    ui.label(RichText::new(text).size(15.0));
                    ui.end_row();
                }
            });
        ui.label(
            RichText::new(b.source.display().to_string())
                .size(12.0)
                .color(theme::DIM),
        );
    });
}

fn status_bar(ui: &mut egui::Ui, s: &WallState, tr: Tr) {
    ui.horizontal(|ui| {
        match s.city.phase {
            LoadPhase::Loading => {
                ui.label(RichText::new(tr.t("加载城市…", "loading city…")).color(theme::FAULT));
            }
            LoadPhase::Ready => {
                ui.label(
                    RichText::new(format!(
                        "{} {} · {} {} · {} {} · {:.1}s",
                        tr.short("建筑", "buildings"),
                        s.city.buildings,
                        tr.short("道路", "roads"),
                        s.city.roads,
                        tr.short("网格", "grids"),
                        s.city.grids,
                        s.city.load_time.as_secs_f32()
                    ))
                    .color(theme::DIM)
                    .size(14.0),
                );
            }
        }
        if s.city.skipped_features > 0 || !s.city.problems.is_empty() {
            ui.separator();
            ui.label(
                RichText::new(format!(
                    "{} {} · {} {}",
                    tr.short("已跳过要素", "skipped features"),
                    s.city.skipped_features,
                    tr.short("问题", "problems"),
                    s.city.problems.len()
                ))
                .color(theme::FAULT)
                .size(14.0),
            )
            .on_hover_text(s.city.problems.join("\n"));
        }
    });
}
