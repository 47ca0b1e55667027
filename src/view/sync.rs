//! One picture across machines: a leader wall publishes its camera, selection,
//! operating mode, language and twin time over MQTT (the broker the feeds use) every
//! frame it changes and once a second besides; each follower takes the newest state on
//! its next frame. A follower that hears nothing from its leader for
//! [`LEADER_LOST_S`] keeps the last view and says so.
//!
//! The state is one retained message on one topic, so a follower that starts late
//! (or reconnects) gets the current view at once.

use super::camera::{Orbit, WallCamera};
use super::overlays::Overlays;
use super::{Incident, Selection};
use crate::city::{Buildings, CurrentScene};
use crate::feeds::ingest::{FeedEntities, FeedId};
use crate::feeds::mqtt::MqttSpec;
use crate::feeds::schema::OperatingMode;
use crate::ops::TwinClock;
use crate::ops::modes::OperatingState;
use crate::scene::Language;
use bevy::prelude::*;
use serde::{Deserialize, Serialize};
use std::time::Duration;

/// A follower that has heard nothing for this long says it lost its leader.
pub const LEADER_LOST_S: f64 = 3.0;
/// The leader says its state at least this often, changed or not.
const HEARTBEAT_S: f64 = 1.0;

/// What the leader shows, as published.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LeaderState {
    /// The leader's frame number.
    pub frame: u64,
    pub focus: [f32; 3],
    pub distance_m: f32,
    pub heading: f32,
    pub pitch: f32,
    /// The selected device or camera (feed id).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub marker: Option<String>,
    /// The selected building (its id).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub building: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub alert: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub order: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub project: Option<String>,
    pub mode: OperatingMode,
    pub language: Language,
    /// The twin clock, RFC 3339.
    pub twin_time: String,
    /// The map overlays switched on.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub overlays: Option<Overlays>,
    /// The replays' playback, when the leader plays a recording: followers playing the
    /// same recording pause, speed and seek with it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub playback: Option<SyncedPlayback>,
}

/// The part of a leader's [`Playback`](crate::feeds::playback::Playback) its
/// followers copy (the twin time is [`LeaderState::twin_time`]).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct SyncedPlayback {
    pub paused: bool,
    /// `None`: as fast as ingest goes.
    pub speed: Option<f64>,
    /// The leader is on its way to a seek's target: its twin time is not yet the one
    /// to follow.
    #[serde(default)]
    pub seeking: bool,
}

/// A follower seeks to its leader's twin time when it is further off than this, in
/// real time at the playback's speed (at least [`MIN_DRIFT_S`] of twin time)…
const DRIFT_REAL_S: f64 = 0.5;
const MIN_DRIFT_S: f64 = 2.0;
/// …and not more often than this (a seek takes a while to reach its target).
const SEEK_EVERY_S: f64 = 3.0;

impl LeaderState {
    fn orbit(&self) -> Orbit {
        Orbit {
            focus: Vec3::from_array(self.focus),
            distance_m: self.distance_m,
            heading: self.heading,
            pitch: self.pitch,
        }
    }

    /// The same picture (the frame number and the clock aside).
    fn same_view(&self, other: &LeaderState) -> bool {
        LeaderState {
            frame: other.frame,
            twin_time: other.twin_time.clone(),
            ..self.clone()
        } == *other
    }
}

/// Lead or follow, on `mqtt://HOST:PORT/TOPIC`.
#[derive(Debug, Clone, PartialEq)]
pub enum SyncRole {
    Lead(MqttSpec),
    Follow(MqttSpec),
}

impl SyncRole {
    /// `mqtt://[USER[:PASSWORD]@]HOST:PORT/TOPIC` (the topic a name, no wildcards).
    pub fn parse_url(url: &str) -> Result<MqttSpec, String> {
        let rest = url.strip_prefix("mqtt://").ok_or_else(|| {
            format!(
                "'{}': expected mqtt://HOST:PORT/TOPIC",
                crate::feeds::redact(url)
            )
        })?;
        let spec = MqttSpec::parse(rest)?;
        if spec.topic.contains(['#', '+']) {
            return Err(format!(
                "'{}': the topic is a name, not a filter",
                spec.topic
            ));
        }
        Ok(spec)
    }
}

/// The follower's side: the last state applied and when (Bevy's `Time`).
#[derive(Resource, Debug, Default)]
pub struct Following {
    pub applied: u64,
    pub last_frame: Option<u64>,
    pub heard_at: Option<f64>,
    /// No word from the leader for [`LEADER_LOST_S`].
    pub lost: bool,
}

/// The network side's ends.
#[derive(Resource)]
struct SyncChannels {
    /// The newest state for the leader's client (a watch: never blocks, keeps one).
    out: Option<tokio::sync::watch::Sender<String>>,
    inbox: Option<crossbeam_channel::Receiver<String>>,
    /// The runtime the client runs on (dropping it stops the client).
    _runtime: tokio::runtime::Runtime,
}

pub fn install(app: &mut App, role: &SyncRole, instance: &str) {
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .thread_name("citytwin-sync")
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => {
            error!("wall sync: cannot start its runtime: {e}");
            return;
        }
    };
    match role {
        SyncRole::Lead(spec) => {
            let (tx, rx) = tokio::sync::watch::channel(String::new());
            runtime.spawn(lead(spec.clone(), rx, instance.to_string()));
            info!("wall sync: leading on {}", spec.shown());
            app.insert_resource(SyncChannels {
                out: Some(tx),
                inbox: None,
                _runtime: runtime,
            })
            .add_systems(Update, publish.in_set(crate::TwinSet::View));
        }
        SyncRole::Follow(spec) => {
            let (tx, rx) = crossbeam_channel::bounded::<String>(64);
            runtime.spawn(follow(spec.clone(), tx, instance.to_string()));
            info!("wall sync: following {}", spec.shown());
            app.insert_resource(SyncChannels {
                out: None,
                inbox: Some(rx),
                _runtime: runtime,
            })
            .init_resource::<Following>()
            .insert_resource(super::camera::AutoTour {
                enabled: false,
                ..default()
            })
            .add_systems(Update, apply.in_set(crate::TwinSet::View));
        }
    }
}

fn mqtt_options(spec: &MqttSpec, instance: &str, role: &str) -> rumqttc::MqttOptions {
    let id = format!("{}-{role}", spec.client_id(instance));
    let mut o = rumqttc::MqttOptions::new(id, spec.host.clone(), spec.port);
    o.set_keep_alive(Duration::from_secs(5))
        .set_clean_session(true)
        .set_max_packet_size(64 * 1024, 64 * 1024);
    if let Some(user) = &spec.user {
        let password = spec
            .password
            .as_ref()
            .map_or(String::new(), |p| p.expose().to_string());
        o.set_credentials(user.clone(), password);
    }
    o
}

/// Publishes what the wall hands over, retained, reconnecting as needed.
async fn lead(spec: MqttSpec, mut states: tokio::sync::watch::Receiver<String>, instance: String) {
    let (client, mut events) =
        rumqttc::AsyncClient::new(mqtt_options(&spec, &instance, "lead"), 16);
    let topic = spec.topic.clone();
    tokio::spawn(async move {
        // The newest state only: a watch keeps one.
        while states.changed().await.is_ok() {
            let state = states.borrow_and_update().clone();
            if let Err(e) = client
                .publish(&topic, rumqttc::QoS::AtMostOnce, true, state.into_bytes())
                .await
            {
                warn!("wall sync: cannot publish: {e}");
            }
        }
    });
    poll_forever(&spec, &mut events, |_| {}).await;
}

/// Takes the leader's states off the topic into the wall's inbox.
async fn follow(spec: MqttSpec, inbox: crossbeam_channel::Sender<String>, instance: String) {
    let (client, mut events) =
        rumqttc::AsyncClient::new(mqtt_options(&spec, &instance, "follow"), 16);
    poll_forever(&spec, &mut events, |event| match event {
        rumqttc::Event::Incoming(rumqttc::Packet::ConnAck(_)) => {
            if let Err(e) = client.try_subscribe(spec.topic.clone(), rumqttc::QoS::AtMostOnce) {
                warn!("wall sync: cannot subscribe to {}: {e}", spec.topic);
            }
        }
        rumqttc::Event::Incoming(rumqttc::Packet::Publish(p)) => {
            match String::from_utf8(p.payload.to_vec()) {
                // A full inbox means the wall is behind: it takes the newest anyway.
                Ok(text) => {
                    let _ = inbox.try_send(text);
                }
                Err(_) => warn!("wall sync: a state that is not UTF-8 on {}", spec.topic),
            }
        }
        _ => {}
    })
    .await;
}

/// Polls the connection for ever, handing each event to `on_event`; after an error it
/// waits and reconnects (said once until it is connected again).
async fn poll_forever(
    spec: &MqttSpec,
    events: &mut rumqttc::EventLoop,
    mut on_event: impl FnMut(rumqttc::Event),
) {
    let mut reported = false;
    loop {
        match events.poll().await {
            Ok(event) => {
                if let rumqttc::Event::Incoming(rumqttc::Packet::ConnAck(_)) = &event {
                    reported = false;
                    info!("wall sync: connected to {}", spec.shown());
                }
                on_event(event);
            }
            Err(e) => {
                if !reported {
                    warn!("wall sync: {}: {e}; retrying", spec.shown());
                    reported = true;
                }
                tokio::time::sleep(Duration::from_millis(500)).await;
            }
        }
    }
}

/// The leader's side: the state of this frame, handed over when it changed or once a
/// second.
#[allow(clippy::too_many_arguments)]
fn publish(
    channels: Res<SyncChannels>,
    time: Res<Time>,
    cameras: Query<&WallCamera>,
    selection: Res<Selection>,
    ids: Query<&FeedId>,
    buildings: Res<Buildings>,
    mode: Res<OperatingState>,
    scene: Res<CurrentScene>,
    clock: Res<TwinClock>,
    overlays: Option<Res<Overlays>>,
    replay: Option<Res<crate::feeds::playback::ReplayControl>>,
    stats: Res<crate::feeds::ingest::FeedStats>,
    mut frame: Local<u64>,
    mut last: Local<Option<(LeaderState, f64)>>,
) {
    *frame += 1;
    let (Some(out), Ok(camera)) = (&channels.out, cameras.single()) else {
        return;
    };
    let orbit = camera.target;
    let state = LeaderState {
        frame: *frame,
        focus: orbit.focus.to_array(),
        distance_m: orbit.distance_m,
        heading: orbit.heading,
        pitch: orbit.pitch,
        marker: selection
            .marker
            .and_then(|e| ids.get(e).ok())
            .map(|id| id.0.to_string()),
        building: selection
            .building
            .and_then(|i| buildings.0.get(i))
            .map(|b| b.id.clone()),
        alert: match &selection.incident {
            Some(Incident::Alert(id)) => Some(id.clone()),
            _ => None,
        },
        order: match &selection.incident {
            Some(Incident::Order(id)) => Some(id.clone()),
            _ => None,
        },
        project: match &selection.incident {
            Some(Incident::Project(id)) => Some(id.clone()),
            _ => None,
        },
        mode: mode.mode,
        language: scene.0.file.language,
        twin_time: clock.now().to_rfc3339(),
        overlays: overlays.map(|o| *o),
        playback: replay.map(|r| {
            let p = r.get();
            SyncedPlayback {
                paused: p.paused,
                speed: p.speed,
                seeking: stats.sources.iter().any(|s| s.seeking),
            }
        }),
    };
    let now = time.elapsed_secs_f64();
    let due = last
        .as_ref()
        .is_none_or(|(s, at)| !s.same_view(&state) || now - at >= HEARTBEAT_S);
    if !due {
        return;
    }
    match serde_json::to_string(&state) {
        Ok(text) => {
            out.send_replace(text);
            *last = Some((state, now));
        }
        Err(e) => warn!("wall sync: cannot encode the state: {e}"),
    }
}

/// The follower's side: the newest state from the leader, applied on this frame.
#[allow(clippy::too_many_arguments)]
fn apply(
    channels: Res<SyncChannels>,
    time: Res<Time>,
    mut following: ResMut<Following>,
    mut cameras: Query<&mut WallCamera>,
    mut selection: ResMut<Selection>,
    entities: Res<FeedEntities>,
    buildings: Res<Buildings>,
    mut mode: ResMut<OperatingState>,
    mut scene: ResMut<CurrentScene>,
    clock: Res<TwinClock>,
    mut followed: FollowedPlayback,
) {
    let Some(inbox) = &channels.inbox else {
        return;
    };
    let now = time.elapsed_secs_f64();
    let mut newest: Option<LeaderState> = None;
    for text in inbox.try_iter() {
        match serde_json::from_str::<LeaderState>(&text) {
            Ok(s) => newest = Some(s),
            Err(e) => warn!("wall sync: a state that does not decode: {e}"),
        }
    }
    let Some(state) = newest else {
        let quiet = following.heard_at.map_or(now, |t| now - t);
        if quiet >= LEADER_LOST_S && !following.lost {
            following.lost = true;
            warn!("wall sync: no word from the leader for {quiet:.0} s; keeping the last view");
        }
        return;
    };
    if following.lost {
        info!("wall sync: the leader is back");
    }
    following.lost = false;
    following.heard_at = Some(now);
    following.last_frame = Some(state.frame);
    following.applied += 1;
    let orbit = state.orbit();
    for mut camera in &mut cameras {
        camera.current = orbit;
        camera.target = orbit;
    }
    let wanted = Selection {
        building: state
            .building
            .as_ref()
            .and_then(|id| buildings.0.iter().position(|b| &b.id == id)),
        marker: state.marker.as_ref().and_then(|id| entities.get(id)),
        incident: match (&state.alert, &state.order, &state.project) {
            (Some(a), _, _) => Some(Incident::Alert(a.clone())),
            (None, Some(o), _) => Some(Incident::Order(o.clone())),
            (None, None, Some(p)) => Some(Incident::Project(p.clone())),
            _ => None,
        },
    };
    if *selection != wanted {
        info!(
            "wall sync: selection from the leader: {}",
            state
                .marker
                .as_deref()
                .or(state.building.as_deref())
                .or(state.alert.as_deref())
                .or(state.order.as_deref())
                .unwrap_or("none")
        );
        *selection = wanted;
    }
    if scene.0.file.language != state.language {
        scene.0.file.language = state.language;
    }
    if mode.mode != state.mode {
        mode.switch(
            state.mode,
            clock.now(),
            "leader",
            Some("following the leader".into()),
        );
    }
    if let (Some(overlays), Some(ours)) = (state.overlays, followed.overlays.as_deref_mut())
        && *ours != overlays
    {
        *ours = overlays;
    }
    followed.follow(&state, clock.now(), now);
}

/// What a follower changes to play its replays with its leader's.
#[derive(bevy::ecs::system::SystemParam)]
struct FollowedPlayback<'w, 's> {
    overlays: Option<ResMut<'w, Overlays>>,
    replay: Option<Res<'w, crate::feeds::playback::ReplayControl>>,
    stats: Res<'w, crate::feeds::ingest::FeedStats>,
    last_seek: Local<'s, Option<f64>>,
}

impl FollowedPlayback<'_, '_> {
    /// Pauses and speeds the replays as the leader's, and seeks to the leader's twin
    /// time when they have drifted apart (a follower started late, a leader that
    /// sought or looped).
    fn follow(
        &mut self,
        state: &LeaderState,
        now: chrono::DateTime<chrono::FixedOffset>,
        real_s: f64,
    ) {
        let (Some(control), Some(p)) = (self.replay.as_deref(), state.playback) else {
            return;
        };
        control.set_paused(p.paused);
        control.set_speed(p.speed);
        let Ok(leader) = chrono::DateTime::parse_from_rfc3339(&state.twin_time) else {
            return;
        };
        let drift_s = (leader - now).num_milliseconds().abs() as f64 / 1000.0;
        let allowed =
            (p.speed.unwrap_or(crate::feeds::playback::MAX_SPEED) * DRIFT_REAL_S).max(MIN_DRIFT_S);
        let seeking = p.seeking || self.stats.sources.iter().any(|s| s.seeking);
        let recent = self.last_seek.is_some_and(|t| real_s - t < SEEK_EVERY_S);
        if drift_s > allowed && !seeking && !recent {
            info!("wall sync: {drift_s:.1} s from the leader's twin time: seeking to {leader}");
            control.seek(Some(leader));
            *self.last_seek = Some(real_s);
        }
    }
}
