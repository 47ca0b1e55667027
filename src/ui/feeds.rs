//! The feeds: each source's health, what it received, applied and rejected, and why
//! it rejected, most frequent reasons first (a wall has no hover).

use super::i18n::{Tr, W};
use super::panels::WallState;
use super::theme;
use crate::feeds::SourceState;
use bevy_egui::egui::{self, RichText};

/// The words for a rejection counter's label.
fn reject_reason(label: &str, tr: Tr) -> String {
    let w = match label {
        "malformed" => W::Malformed,
        "version" => W::WrongVersion,
        "unknown kind" => W::UnknownKind,
        "bad data" => W::BadData,
        "invalid value" => W::InvalidValue,
        "too large" => W::TooLarge,
        "out of order" => W::OutOfOrder,
        "no position" => W::NoPosition,
        "kind conflict" => W::KindConflict,
        "duplicate" => W::Duplicate,
        "future time" => W::FutureTime,
        "backwards transition" => W::BackwardsTransition,
        "after until" => W::AfterUntil,
        "not allowed" => W::NotAllowed,
        other => return other.to_string(),
    };
    tr.word(w).to_string()
}

pub(super) fn feeds(ui: &mut egui::Ui, s: &WallState, tr: Tr) {
    super::panels::keep_off_bezels(ui, 80.0);
    tr.section(ui, W::Feeds);
    if s.feeds.sources.is_empty() {
        ui.label(RichText::new(tr.word(W::NoFeeds)).color(theme::DIM));
    }
    let now = std::time::Instant::now();
    for src in &s.feeds.sources {
        let health = src.health(now, s.feeds.stale_after);
        let (color, word) = super::header::health_look(&health);
        super::panels::keep_off_bezels(ui, 64.0);
        let state = match health {
            crate::feeds::ingest::Health::Stale(quiet) => {
                format!("{} {}s", tr.word(word), quiet.as_secs())
            }
            _ => tr.word(word).to_string(),
        };
        ui.horizontal(|ui| {
            ui.label(RichText::new("●").color(color));
            ui.label(RichText::new(crate::feeds::short_name(&src.label)).size(15.0));
            ui.label(RichText::new(state).color(color).size(15.0));
        });
        let mut counts = format!(
            "{} {}  {} {}  {} {}",
            tr.word(W::Received),
            src.received,
            tr.word(W::Applied),
            src.applied,
            tr.word(W::Rejected),
            src.rejected_total()
        );
        if src.coalesced > 0 {
            counts += &format!("  {} {}", tr.word(W::Coalesced), src.coalesced);
        }
        ui.label(RichText::new(counts).size(14.0).color(theme::DIM));
        if !src.rejected.is_empty() {
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
