//! The wall's panels: header with scene and clock, KPIs, feeds, inspector, problems.

use super::{Tr, theme};
use crate::city::{Buildings, CityStatus, CurrentScene, LoadPhase};
use crate::feeds::SourceState;
use crate::feeds::ingest::{
    DisplayName, FeedId, FeedStats, GeoPosition, GridRef, Health, IotDevice, Readings, Status,
    VideoCamera,
};
use crate::feeds::schema::OperatingMode;
use crate::feeds::schema::{DeviceKind, DeviceStatus};
use crate::feeds::snapshot::{SnapshotCache, SnapshotState};
use crate::ops::kpis::Kpis;
use crate::ops::modes::OperatingState;
use crate::ops::{DeviceCounts, OrderCounts, TwinClock};
use crate::scene::ops::Severity;
use crate::view::Selection;
use bevy::ecs::system::SystemParam;
use bevy::prelude::*;
use bevy_egui::EguiContexts;
use bevy_egui::egui::{self, Align, Color32, Layout, RichText};

/// What the inspector shows of a device or camera.
type MarkerView = (
    &'static FeedId,
    &'static Status,
    &'static GeoPosition,
    Option<&'static DisplayName>,
    Option<&'static GridRef>,
    Option<&'static IotDevice>,
    Option<&'static Readings>,
    Option<&'static VideoCamera>,
);

/// The egui texture of the selected camera's snapshot, with the picture generation
/// it was made from.
#[derive(Default)]
pub(super) struct SnapshotTexture(Option<(u64, egui::TextureHandle)>);

#[derive(SystemParam)]
pub(super) struct WallState<'w, 's> {
    markers: Query<'w, 's, MarkerView>,
    snapshots: ResMut<'w, SnapshotCache>,
    scene: Res<'w, CurrentScene>,
    clock: Res<'w, TwinClock>,
    devices: Res<'w, DeviceCounts>,
    orders: Res<'w, OrderCounts>,
    ops: Res<'w, Kpis>,
    mode: Res<'w, OperatingState>,
    city: Res<'w, CityStatus>,
    feeds: Res<'w, FeedStats>,
    buildings: Res<'w, Buildings>,
    selection: Res<'w, Selection>,
    switch_language: MessageWriter<'w, super::SwitchLanguage>,
    feed_config: Option<Res<'w, crate::feeds::FeedConfig>>,
}

fn frame() -> egui::Frame {
    egui::Frame::new()
        .fill(theme::PANEL)
        .stroke(egui::Stroke::new(1.0, theme::EDGE))
        .inner_margin(egui::Margin::same(14))
}

pub(super) fn draw(
    mut contexts: EguiContexts,
    mut state: WallState,
    mut texture: Local<SnapshotTexture>,
) -> Result {
    let ctx = contexts.ctx_mut()?;
    // The selected camera's snapshot: asked for (and refreshed) while it is shown.
    let camera = state
        .selection
        .marker
        .and_then(|e| state.markers.get(e).ok())
        .and_then(|m| Some((m.0.0.clone(), m.7?.snapshot_url.clone()?)));
    let snapshot = match camera {
        Some((id, url)) => {
            state.snapshots.want(&id, &url);
            snapshot_texture(ctx, &state.snapshots, &id, &mut texture)
        }
        None => {
            texture.0 = None;
            None
        }
    };
    let tr = Tr(state.scene.0.file.language);
    let mut root = super::root_ui(ctx, "wall");
    let switch = egui::Panel::top("header")
        .frame(frame())
        .show(&mut root, |ui| header(ui, &state, tr))
        .inner;
    if switch {
        state.switch_language.write(super::SwitchLanguage);
    }
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
    } else if let Some(m) = state
        .selection
        .marker
        .and_then(|e| state.markers.get(e).ok())
    {
        egui::Panel::right("inspector")
            .frame(frame())
            .exact_size(360.0)
            .resizable(false)
            .show(&mut root, |ui| {
                marker_inspector(ui, m, &state, snapshot, tr)
            });
    }
    Ok(())
}

/// The texture for camera `id`'s current picture, made anew when the picture changes.
fn snapshot_texture(
    ctx: &egui::Context,
    cache: &SnapshotCache,
    id: &str,
    texture: &mut SnapshotTexture,
) -> Option<egui::TextureHandle> {
    let snapshot = cache.get(id)?;
    let SnapshotState::Ready(picture) = &snapshot.state else {
        return None;
    };
    if texture.0.as_ref().map(|(g, _)| *g) != Some(snapshot.generation) {
        let image = egui::ColorImage::from_rgba_unmultiplied(
            [picture.width as usize, picture.height as usize],
            &picture.rgba,
        );
        let handle = ctx.load_texture(
            format!("snapshot-{id}"),
            image,
            egui::TextureOptions::LINEAR,
        );
        texture.0 = Some((snapshot.generation, handle));
    }
    texture.0.as_ref().map(|(_, h)| h.clone())
}

/// The feeds panel's words for a rejection counter's label.
fn reject_reason(label: &str, tr: Tr) -> String {
    let zh = match label {
        "malformed" => "格式错误",
        "version" => "版本不符",
        "unknown kind" => "未知类型",
        "bad data" => "数据错误",
        "invalid value" => "数值无效",
        "too large" => "消息过大",
        "out of order" => "时间倒序",
        "no position" => "缺少位置",
        "kind conflict" => "类型冲突",
        "duplicate" => "重复消息",
        "future time" => "时间超前",
        "backwards transition" => "状态倒退",
        "after until" => "超出截止时间",
        "not allowed" => "不允许",
        _ => label,
    };
    tr.short(zh, label)
}

fn kind_name(kind: DeviceKind, tr: Tr) -> String {
    let (zh, en) = match kind {
        DeviceKind::Elevator => ("电梯", "Elevator"),
        DeviceKind::GasDetector => ("燃气探测器", "Gas detector"),
        DeviceKind::ManholeCover => ("井盖", "Manhole cover"),
        DeviceKind::WaterPressure => ("供水压力", "Water pressure"),
        DeviceKind::BridgeStrain => ("桥梁应变", "Bridge strain"),
        DeviceKind::ParkingSpace => ("停车位", "Parking space"),
        DeviceKind::StreetLight => ("路灯", "Street light"),
        DeviceKind::TrafficFlow => ("交通流量", "Traffic flow"),
        DeviceKind::AirQuality => ("空气质量", "Air quality"),
        DeviceKind::Other => ("其他", "Other"),
    };
    tr.short(zh, en)
}

fn marker_inspector(
    ui: &mut egui::Ui,
    (id, status, position, name, grid, device, readings, camera): <MarkerView as bevy::ecs::query::QueryData>::Item<'_, '_>,
    s: &WallState,
    snapshot: Option<egui::TextureHandle>,
    tr: Tr,
) {
    let title = if camera.is_some() {
        tr.t("视频监控", "Camera")
    } else {
        tr.t("物联设备", "IoT device")
    };
    ui.label(RichText::new(title).size(22.0).color(theme::ACCENT));
    ui.separator();
    ui.label(
        RichText::new(name.map_or(id.0.as_str(), |n| n.0.as_str()))
            .size(24.0)
            .strong(),
    );
    egui::Grid::new("marker-facts")
        .num_columns(2)
        .show(ui, |ui| {
            let row = |ui: &mut egui::Ui, label: String, value: RichText| {
                ui.label(RichText::new(label).color(theme::DIM));
                ui.label(value);
                ui.end_row();
            };
            row(ui, tr.short("编号", "ID"), RichText::new(id.0.as_str()));
            row(
                ui,
                tr.short("状态", "Status"),
                RichText::new(status_name(status.0, tr))
                    .color(status_color(status.0))
                    .strong(),
            );
            if let Some(d) = device {
                row(
                    ui,
                    tr.short("类型", "Kind"),
                    RichText::new(kind_name(d.kind, tr)),
                );
            }
            if let Some(g) = grid {
                row(ui, tr.short("网格", "Grid"), RichText::new(&g.0));
            }
            row(
                ui,
                tr.short("位置", "Position"),
                RichText::new(format!("{:.6}, {:.6}", position.0.lon, position.0.lat)),
            );
            if let Some(c) = camera
                && let Some(h) = c.heading_deg
            {
                let fov = c.fov_deg.map_or(String::new(), |f| format!(" · {f:.0}°"));
                row(
                    ui,
                    tr.short("朝向", "Heading"),
                    RichText::new(format!("{h:.0}°{fov}")),
                );
            }
            for r in readings.map_or(&[][..], |r| &r.0[..]) {
                row(
                    ui,
                    r.name.to_string(),
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
    ui.label(RichText::new(tr.t("实时画面", "Snapshot") + &age).color(theme::ACCENT));
    let Some(url) = &c.snapshot_url else {
        ui.label(RichText::new(tr.t("无快照地址", "no snapshot URL")).color(theme::DIM));
        return;
    };
    let failed = s.snapshots.get(&id.0).and_then(|e| match &e.state {
        SnapshotState::Failed(why) => Some(why),
        _ => None,
    });
    match (snapshot, failed) {
        (Some(texture), _) => {
            let width = ui.available_width();
            let [w, h] = texture.size();
            let size = egui::vec2(width, width * h as f32 / w.max(1) as f32);
            ui.add(egui::Image::new(egui::load::SizedTexture::new(
                texture.id(),
                size,
            )));
        }
        (None, Some(why)) => {
            ui.label(RichText::new(tr.t("快照获取失败", "snapshot failed")).color(theme::ALARM));
            ui.label(RichText::new(why).size(13.0).color(theme::DIM));
        }
        (None, None) => {
            ui.label(RichText::new(tr.t("加载中…", "loading…")).color(theme::DIM));
        }
    }
    // Shown without credentials or token values.
    ui.label(
        RichText::new(crate::feeds::redact(url))
            .size(12.0)
            .color(theme::DIM),
    );
}

/// The header; true when its language button was clicked.
fn header(ui: &mut egui::Ui, s: &WallState, tr: Tr) -> bool {
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
        // The operating mode as a coloured banner: calm in daily operation.
        ui.add_space(24.0);
        let (mode, fill) = match s.mode.mode {
            OperatingMode::Daily => (tr.t("日常模式", "Daily"), theme::ONLINE),
            OperatingMode::MajorHoliday => (tr.t("重大节假日", "Major holiday"), theme::ACCENT),
            OperatingMode::MajorEvent => (tr.t("重大活动", "Major event"), theme::FAULT),
            OperatingMode::Emergency => (tr.t("应急模式", "Emergency"), theme::ALARM),
        };
        ui.label(
            RichText::new(format!(" {mode} "))
                .color(Color32::BLACK)
                .background_color(fill)
                .size(20.0)
                .strong(),
        );
        ui.with_layout(Layout::right_to_left(Align::Center), |ui| {
            let now = s.clock.now();
            // Replay time in amber with its speed, live time in the text colour: never
            // taken for one another.
            let replaying = s.clock.is_feed_time();
            ui.label(
                RichText::new(now.format("%Y-%m-%d %H:%M:%S").to_string())
                    .size(30.0)
                    .monospace()
                    .color(if replaying { theme::FAULT } else { theme::TEXT }),
            );
            let tag = if replaying {
                let speed = s
                    .feed_config
                    .as_ref()
                    .and_then(|c| c.replay_speed())
                    .unwrap_or_default();
                format!("{} {speed}", tr.t("回放时间", "replay time"))
            } else {
                tr.t("北京时间", "Beijing time")
            };
            ui.label(RichText::new(tag).color(if replaying { theme::FAULT } else { theme::DIM }));
            // The other language, named in itself (L on the keyboard).
            let other = match tr.0 {
                crate::scene::Language::Chinese => "English",
                crate::scene::Language::English => "中文",
            };
            ui.add_space(12.0);
            ui.button(RichText::new(other).size(16.0)).clicked()
        })
        .inner
    })
    .inner
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
    big_number(
        ui,
        tr.t("超期工单", "Overdue orders"),
        s.ops.orders_overdue + s.ops.orders_unsigned_overdue,
        theme::ALARM,
    );
    big_number(ui, tr.t("已办结", "Closed"), s.orders.closed, theme::ONLINE);
    ui.add_space(12.0);
    ui.label(
        RichText::new(tr.t("告警", "Alerts"))
            .size(22.0)
            .color(theme::ACCENT),
    );
    ui.separator();
    for severity in Severity::ALL
        .into_iter()
        .filter(|sev| *sev >= s.mode.wall_min_severity())
    {
        let (name, color) = match severity {
            Severity::Critical => (tr.t("紧急", "Critical"), theme::ALARM),
            Severity::Major => (tr.t("重要", "Major"), theme::FAULT),
            Severity::Minor => (tr.t("一般", "Minor"), theme::TEXT),
            Severity::Info => (tr.t("提示", "Info"), theme::DIM),
        };
        let n = s.ops.alerts_open.get(&severity).copied().unwrap_or(0);
        big_number(ui, name, n, color);
    }
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
        let name = crate::feeds::short_name(&src.label);
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
        if !src.rejected.is_empty() {
            // Why, most frequent first: a wall has no hover.
            let mut reasons: Vec<(&str, u64)> =
                src.rejected.iter().map(|(k, v)| (*k, *v)).collect();
            reasons.sort_by_key(|r| std::cmp::Reverse(r.1));
            let text: Vec<String> = reasons
                .iter()
                .take(3)
                .map(|(reason, n)| format!("{} {n}", reject_reason(reason, tr)))
                .collect();
            ui.label(
                RichText::new(text.join(" · "))
                    .size(14.0)
                    .color(theme::FAULT),
            );
        }
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
            LoadPhase::Failed => {
                ui.label(
                    RichText::new(tr.t("城市加载失败", "city failed to load")).color(theme::ALARM),
                );
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
