//! The operating mode (daily, major holiday, major event, emergency): switched by an
//! operator action or a feed's `mode` message, every switch kept with time, who and
//! why. The mode decides the rules in force, what reaches the wall and the tour.

use crate::feeds::schema::OperatingMode;
use crate::scene::ops::{ModeSpec, OperationsSpec, Severity};
use bevy::prelude::*;
use chrono::{DateTime, FixedOffset};
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ModeSwitch {
    pub from: OperatingMode,
    pub to: OperatingMode,
    pub at: DateTime<FixedOffset>,
    pub by: String,
    pub why: Option<String>,
}

/// The mode now, and every switch.
#[derive(Resource, Debug, Clone, Default)]
pub struct OperatingState {
    pub mode: OperatingMode,
    pub history: Vec<ModeSwitch>,
    /// The scene's settings per mode.
    specs: Vec<ModeSpec>,
}

/// Switches kept at most (a year of several a day).
const HISTORY_LIMIT: usize = 4096;

impl OperatingState {
    pub fn new(spec: &OperationsSpec) -> Self {
        Self {
            specs: spec.modes.clone(),
            ..default()
        }
    }

    /// Back to daily with no history (a replay that starts over), the scene's
    /// settings kept.
    pub fn reset(&mut self) {
        self.mode = OperatingMode::default();
        self.history.clear();
    }

    /// Switches to `to`; returns false when it is the mode already.
    pub fn switch(
        &mut self,
        to: OperatingMode,
        at: DateTime<FixedOffset>,
        by: &str,
        why: Option<String>,
    ) -> bool {
        if to == self.mode {
            return false;
        }
        info!(
            "operating mode {:?} → {to:?} by {by} ({})",
            self.mode,
            why.as_deref().unwrap_or("-")
        );
        self.history.push(ModeSwitch {
            from: self.mode,
            to,
            at,
            by: by.to_string(),
            why,
        });
        if self.history.len() > HISTORY_LIMIT {
            self.history.remove(0);
        }
        self.mode = to;
        true
    }

    fn spec(&self) -> Option<&ModeSpec> {
        self.specs.iter().find(|m| m.mode == self.mode)
    }

    /// The least severe alert shown on the wall in this mode.
    pub fn wall_min_severity(&self) -> Severity {
        self.spec().map_or(Severity::Info, |m| m.wall_min_severity)
    }

    /// The views the idle tour visits in this mode (empty: the scene's).
    pub fn tour(&self) -> &[String] {
        self.spec().map_or(&[], |m| &m.tour)
    }

    pub fn lead_panel(&self) -> Option<&str> {
        self.spec().and_then(|m| m.lead_panel.as_deref())
    }
}
