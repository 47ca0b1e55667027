//! Text that changes every frame — clocks, countdowns — painted character by
//! character. egui shapes a string anew each time it changes (with harfrust), and a
//! wall full of running clocks would shape a dozen strings every frame; one
//! character's layout is kept by egui between frames, so a ticker only looks its
//! characters up. Meant for monospaced text (digits, a few fixed words), where
//! shaping a whole string adds nothing.

use bevy_egui::egui::{self, Color32, FontId, Galley, Painter, Pos2, Vec2};
use std::sync::Arc;

/// A line of text laid out from its characters' cached galleys.
pub struct Ticker {
    glyphs: Vec<Arc<Galley>>,
    size: Vec2,
    color: Color32,
}

impl Ticker {
    pub fn new(painter: &Painter, text: &str, font: FontId, color: Color32) -> Self {
        let glyphs: Vec<Arc<Galley>> = text
            .chars()
            .map(|c| painter.layout_no_wrap(c.to_string(), font.clone(), color))
            .collect();
        let size = glyphs.iter().fold(Vec2::ZERO, |s, g| {
            Vec2::new(s.x + g.size().x, s.y.max(g.size().y))
        });
        Self {
            glyphs,
            size,
            color,
        }
    }

    pub fn size(&self) -> Vec2 {
        self.size
    }

    /// Paints the line with its top left corner at `at`.
    pub fn paint(self, painter: &Painter, at: Pos2) {
        let mut x = at.x;
        for g in self.glyphs {
            let width = g.size().x;
            painter.galley(Pos2::new(x, at.y + self.size.y - g.size().y), g, self.color);
            x += width;
        }
    }

    /// Lays the line out in `ui` as a label would.
    pub fn show(ui: &mut egui::Ui, text: &str, font: FontId, color: Color32) -> egui::Response {
        let ticker = Self::new(ui.painter(), text, font, color);
        let (rect, response) = ui.allocate_exact_size(ticker.size(), egui::Sense::hover());
        if ui.is_rect_visible(rect) {
            ticker.paint(ui.painter(), rect.min);
        }
        response
    }
}
