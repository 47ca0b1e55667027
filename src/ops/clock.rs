//! The twin clock: the one "now" every time-based rule reads. Live (wall time), or
//! following the feeds (a replay's recorded time); tests step it by hand.

use crate::TwinSet;
use crate::feeds::ingest::FeedStats;
use bevy::prelude::*;
use chrono::{DateTime, FixedOffset, Utc};

/// Beijing time: the operations center's clock (China has no daylight saving).
pub fn beijing() -> FixedOffset {
    FixedOffset::east_opt(8 * 3600).expect("+08:00 is a valid offset")
}

/// Where the twin's time comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ClockMode {
    /// Wall time: every feed is live (MQTT, HTTP); messages are stamped at the source.
    Live,
    /// The newest accepted message time: a replay (or a test pushing messages) sets
    /// the pace, at any speed.
    #[default]
    Feed,
}

#[derive(Resource, Debug, Clone)]
pub struct TwinClock {
    pub mode: ClockMode,
    /// Newest accepted feed time (any source).
    pub feed_time: Option<DateTime<FixedOffset>>,
    /// Wall time as of this frame (read once per frame, here only).
    wall: DateTime<FixedOffset>,
    /// Stepped by hand (tests, `report --until`): time never runs behind this.
    manual: Option<DateTime<FixedOffset>>,
    /// Counts the times feed time went back (a replay that seeks or loops): the
    /// operations state starts over each time.
    pub rewinds: u64,
}

impl Default for TwinClock {
    fn default() -> Self {
        Self {
            mode: ClockMode::default(),
            feed_time: None,
            wall: Utc::now().with_timezone(&beijing()),
            manual: None,
            rewinds: 0,
        }
    }
}

impl TwinClock {
    pub fn new(mode: ClockMode) -> Self {
        Self { mode, ..default() }
    }

    /// The twin's "now".
    pub fn now(&self) -> DateTime<FixedOffset> {
        let base = match self.mode {
            ClockMode::Live => self.wall,
            ClockMode::Feed => self.feed_time.unwrap_or(self.wall),
        };
        match self.manual {
            Some(m) if m > base => m,
            _ => base,
        }
    }

    /// True when the clock shows recorded time rather than live time.
    pub fn is_feed_time(&self) -> bool {
        self.mode == ClockMode::Feed && self.feed_time.is_some()
    }

    /// Moves time forward to `t` by hand (never back).
    pub fn step_to(&mut self, t: DateTime<FixedOffset>) {
        if self.manual.is_none_or(|m| t > m) {
            self.manual = Some(t);
        }
    }

    /// Forgets feed time (a replay that loops or seeks starts over).
    pub fn reset_feed_time(&mut self) {
        self.feed_time = None;
        self.manual = None;
    }
}

pub(super) fn plugin(app: &mut App) {
    app.init_resource::<TwinClock>().add_systems(
        Update,
        tick.in_set(TwinSet::Ops).before(super::OpsSet::Rules),
    );
}

/// The only place wall time is read; feed time follows what ingest accepted.
pub(super) fn tick(stats: Res<FeedStats>, mut restarts: Local<u64>, mut clock: ResMut<TwinClock>) {
    let wall = Utc::now().with_timezone(&beijing());
    let latest = stats.latest_ts();
    let clock = clock.bypass_change_detection();
    clock.wall = wall;
    // A replay that seeks or loops starts its recording over: the clock follows it
    // back, and the operations state starts over.
    if stats.restarts != *restarts {
        *restarts = stats.restarts;
        clock.rewinds += 1;
        clock.manual = None;
        clock.feed_time = None;
    }
    if latest.is_some() && latest != clock.feed_time {
        clock.feed_time = latest;
    }
    // Once a seek has played up to its target, the twin's time is the target.
    if let Some(at) = stats.reached {
        clock.step_to(at);
    }
}
