//! The map overlays' toggles, in the status bar, each with its legend: the grid
//! choropleth's metric and classes, renovation areas by phase, order pins, traffic
//! levels, free parking and key vehicles. The same switches as the keys G, R, O, T,
//! P and V.

use super::i18n::{Tr, W};
use super::panels::SeamFlow;
use super::theme;
use crate::feeds::schema::ProjectPhase;
use crate::view::overlays::{
    GRID_CLASSES, GRID_COLORS, GridMetric, Overlays, PARKING_COLOR, TRAFFIC_COLORS, phase_color,
};
use bevy_egui::egui::{self, Color32, RichText};

fn color32([r, g, b, _]: [f32; 4]) -> Color32 {
    Color32::from_rgb((r * 255.0) as u8, (g * 255.0) as u8, (b * 255.0) as u8)
}

/// A small square of a legend's colour.
fn swatch(ui: &mut egui::Ui, color: Color32) {
    let (rect, _) = ui.allocate_exact_size(egui::vec2(14.0, 14.0), egui::Sense::hover());
    ui.painter().rect_filled(rect, 2.0, color);
}

/// A toggle: its word bright when on, dim when off.
fn toggle(ui: &mut egui::Ui, on: bool, w: W, tr: Tr) -> bool {
    let color = if on { theme::TEXT } else { theme::DIM };
    ui.add(egui::Button::selectable(
        on,
        RichText::new(tr.word(w)).size(15.0).color(color),
    ))
    .clicked()
}

/// The toggles, and with `legend` their legends, laid out left to right along `flow`
/// (clear of a wall's bezels); changes go to `overlays`.
pub(super) fn layers(
    ui: &mut egui::Ui,
    flow: &mut SeamFlow,
    overlays: &mut Overlays,
    legend: bool,
    tr: Tr,
) {
    let mut o = *overlays;
    flow.item(ui, |ui| {
        ui.label(
            RichText::new(tr.word(W::MapLayers))
                .size(15.0)
                .color(theme::ACCENT),
        )
    });
    let grid_word = match o.grid {
        GridMetric::Orders => W::GridOrders,
        GridMetric::Alerts => W::GridAlerts,
        GridMetric::Off => W::GridOff,
    };
    if flow.item(ui, |ui| {
        toggle(ui, o.grid != GridMetric::Off, grid_word, tr)
    }) {
        o.grid = o.grid.next();
    }
    if legend && o.grid != GridMetric::Off {
        for (i, (from, color)) in GRID_CLASSES.iter().zip(GRID_COLORS).enumerate() {
            let label = match GRID_CLASSES.get(i + 1) {
                Some(next) if next - from == 1 => format!("{from}"),
                Some(next) => format!("{from}–{}", next - 1),
                None => format!("{from}+"),
            };
            entry(ui, flow, color32(color), &label);
        }
    }
    flow.item(ui, |ui| ui.separator());
    if flow.item(ui, |ui| toggle(ui, o.projects, W::RenovationAreas, tr)) {
        o.projects = !o.projects;
    }
    if legend && o.projects {
        for phase in [
            ProjectPhase::Planned,
            ProjectPhase::Design,
            ProjectPhase::Construction,
            ProjectPhase::Acceptance,
            ProjectPhase::Completed,
        ] {
            let word = tr.word(super::charts::phase_word(phase));
            entry(ui, flow, color32(phase_color(phase)), word);
        }
    }
    flow.item(ui, |ui| ui.separator());
    if flow.item(ui, |ui| toggle(ui, o.orders, W::OrderPins, tr)) {
        o.orders = !o.orders;
    }
    if flow.item(ui, |ui| toggle(ui, o.traffic, W::TrafficRoads, tr)) {
        o.traffic = !o.traffic;
    }
    if legend && o.traffic {
        for (w, color) in [W::TrafficFree, W::TrafficSlow, W::TrafficJammed]
            .into_iter()
            .zip(TRAFFIC_COLORS)
        {
            entry(ui, flow, color32(color), tr.word(w));
        }
    }
    if flow.item(ui, |ui| toggle(ui, o.parking, W::FreeParking, tr)) {
        o.parking = !o.parking;
    }
    if legend && o.parking {
        flow.item(ui, |ui| swatch(ui, color32(PARKING_COLOR)));
    }
    if flow.item(ui, |ui| toggle(ui, o.vehicles, W::KeyVehicles, tr)) {
        o.vehicles = !o.vehicles;
    }
    if *overlays != o {
        *overlays = o;
    }
}

/// One entry of a legend: its colour and its label.
fn entry(ui: &mut egui::Ui, flow: &mut SeamFlow, color: Color32, label: &str) {
    flow.item(ui, |ui| {
        swatch(ui, color);
        ui.label(RichText::new(label).size(13.0).color(theme::DIM));
    });
}
