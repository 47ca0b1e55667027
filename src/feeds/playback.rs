//! How the replays play: paused or playing, at what speed, from where, and over what
//! loop range. The timeline (panel and keys) changes it; every `replay:` source
//! follows it through a [`tokio::sync::watch`] channel (one value, never a queue).
//!
//! A seek is played, not jumped: the replay starts its recording over, the twin's
//! state starts over with it ([`super::FeedEvent::Restart`]), and everything before
//! the target time is applied as fast as ingest takes it, through the same systems
//! as a normal play, so the state at the target is the state a play from the start
//! gives. A loop is a seek to the loop's start.

use bevy::prelude::*;
use chrono::{DateTime, FixedOffset};
use tokio::sync::watch;

/// The slowest and fastest paced speeds the timeline offers (`max` is beyond them).
pub const MIN_SPEED: f64 = 0.25;
pub const MAX_SPEED: f64 = 1000.0;

/// The speeds the timeline steps through, slowest first.
pub const SPEEDS: [f64; 9] = [0.25, 0.5, 1.0, 2.0, 4.0, 10.0, 60.0, 300.0, 1000.0];

#[derive(Debug, Clone, PartialEq)]
pub struct Playback {
    pub paused: bool,
    /// Times real time; `None`: as fast as ingest takes the messages.
    pub speed: Option<f64>,
    /// Counts seeks (loops included): each new value sends every replay to `seek_to`.
    pub seeks: u64,
    /// Where the last seek went; `None`: the recording's start.
    pub seek_to: Option<DateTime<FixedOffset>>,
    /// Play only this range, starting over at its start once its end is passed.
    pub loop_range: Option<(DateTime<FixedOffset>, DateTime<FixedOffset>)>,
}

impl Playback {
    pub fn at_speed(speed: Option<f64>) -> Self {
        Self {
            paused: false,
            speed,
            seeks: 0,
            seek_to: None,
            loop_range: None,
        }
    }
}

/// The timeline's end of the playback channel. Cloned into every replay source.
#[derive(Resource, Debug, Clone)]
pub struct ReplayControl(watch::Sender<Playback>);

impl ReplayControl {
    pub fn new(initial: Playback) -> Self {
        Self(watch::Sender::new(initial))
    }

    pub fn get(&self) -> Playback {
        self.0.borrow().clone()
    }

    pub fn subscribe(&self) -> watch::Receiver<Playback> {
        self.0.subscribe()
    }

    pub fn set_paused(&self, paused: bool) {
        self.0
            .send_if_modified(|p| std::mem::replace(&mut p.paused, paused) != paused);
    }

    pub fn toggle_pause(&self) {
        self.0.send_modify(|p| p.paused = !p.paused);
    }

    /// Sets the speed, held to [`MIN_SPEED`]..=[`MAX_SPEED`] (`None`: as fast as
    /// ingest goes).
    pub fn set_speed(&self, speed: Option<f64>) {
        let speed = speed.map(|s| s.clamp(MIN_SPEED, MAX_SPEED));
        self.0
            .send_if_modified(|p| std::mem::replace(&mut p.speed, speed) != speed);
    }

    /// One step faster (`up`) or slower along [`SPEEDS`].
    pub fn step_speed(&self, up: bool) {
        let now = self.get().speed.unwrap_or(MAX_SPEED);
        let next = if up {
            SPEEDS.iter().copied().find(|s| *s > now * 1.0001)
        } else {
            SPEEDS.iter().rev().copied().find(|s| *s < now * 0.9999)
        };
        if let Some(next) = next {
            self.set_speed(Some(next));
        }
    }

    /// Sends every replay to `to` (`None`: the start); the twin's state is rebuilt up
    /// to it. Returns the seek's number.
    pub fn seek(&self, to: Option<DateTime<FixedOffset>>) -> u64 {
        let mut n = 0;
        self.0.send_modify(|p| {
            p.seeks += 1;
            p.seek_to = to;
            n = p.seeks;
        });
        n
    }

    /// Loops between `range`'s two times (or no longer, with `None`): once a replay
    /// passes the range's end, every replay starts over at its start.
    pub fn set_loop(&self, range: Option<(DateTime<FixedOffset>, DateTime<FixedOffset>)>) {
        let range = range.map(|(a, b)| if a <= b { (a, b) } else { (b, a) });
        self.0
            .send_if_modified(|p| std::mem::replace(&mut p.loop_range, range) != range);
    }
}

/// The speed as the timeline shows it: `×4`, `×0.25`, `max`.
pub fn speed_label(speed: Option<f64>) -> String {
    match speed {
        Some(s) => format!("×{s}"),
        None => "max".into(),
    }
}
