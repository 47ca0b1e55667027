//! `citytwin shot`: waits until every layer and model is loaded and drawn, saves the
//! window to a PNG and exits.

use crate::city::{CityStatus, LoadPhase};
use crate::feeds::ingest::{FeedId, VideoCamera};
use crate::feeds::snapshot::{SnapshotCache, SnapshotState};
use bevy::prelude::*;
use bevy::render::view::screenshot::{Screenshot, ScreenshotCaptured};
use std::path::PathBuf;
use std::time::{Duration, Instant};

/// Frames rendered after loading before the capture: meshes upload, egui lays out
/// twice, lavapipe settles.
const SETTLE_FRAMES: u32 = 10;
const SETTLE_TIME: Duration = Duration::from_secs(2);
const STILL_ATLAS_FRAMES: u32 = 3;

#[derive(Resource, Debug, Clone)]
pub struct ShotRequest {
    pub out: PathBuf,
    pub timeout: Duration,
    /// Click here (window pixels) once the city is drawn, then capture: shows the
    /// inspector the way a user's click does. Several clicks follow one another, each
    /// once the view has settled after the last.
    pub click: Vec<Vec2>,
    /// A feed id is to be selected (`--select`): wait for it, and for its camera
    /// snapshot to arrive or fail.
    pub select: bool,
    /// Once `out` is saved: switch the panels to each language in turn and capture
    /// again into its file (one start for several languages).
    pub also: Vec<(crate::scene::Language, PathBuf)>,
}

/// Pictures saved so far (the capture's observer counts them).
#[derive(Resource, Debug, Default)]
struct ShotsSaved(usize);

#[derive(Resource, Debug)]
struct ShotProgress {
    started: Instant,
    ready_since: Option<(Instant, u32)>,
    /// Clicks made so far.
    clicked: usize,
    requested: bool,
    /// Pictures taken so far: the first into `out`, then one per `also`.
    taken: usize,
}

pub(super) fn plugin(app: &mut App) {
    app.init_resource::<ShotsSaved>().add_systems(
        Update,
        capture_when_ready.run_if(resource_exists::<ShotRequest>),
    );
}

fn capture_when_ready(
    mut commands: Commands,
    request: Res<ShotRequest>,
    status: Res<CityStatus>,
    egui_outputs: Query<&bevy_egui::EguiRenderOutput>,
    mut frames_since_texture_change: Local<u32>,
    mut progress: Local<Option<ShotProgress>>,
    mut exit: MessageWriter<AppExit>,
    mut picks: MessageWriter<super::PickAt>,
    selected: SelectedSnapshot,
    plan: Option<Res<super::plan::PlanStatus>>,
    following: Option<Res<super::sync::Following>>,
    saved: Res<ShotsSaved>,
    overlays: Option<Res<super::overlays::OverlayStats>>,
    mut scene: ResMut<crate::city::CurrentScene>,
) {
    let p = progress.get_or_insert_with(|| ShotProgress {
        started: Instant::now(),
        ready_since: None,
        clicked: 0,
        requested: false,
        taken: 0,
    });
    if p.requested {
        if saved.0 <= p.taken {
            return;
        }
        // The last picture is saved: exit, or switch language and take the next once
        // the panels and the font atlas have settled again.
        p.taken = saved.0;
        let Some((language, _)) = request.also.get(p.taken - 1) else {
            exit.write(AppExit::Success);
            return;
        };
        scene.0.file.language = *language;
        info!("shot: language {}", String::from(*language));
        p.requested = false;
        p.ready_since = None;
        *frames_since_texture_change = 0;
        return;
    }
    // egui adds glyphs to its font atlas as new text appears; capture only once the
    // atlas has been still for a few frames, so no glyph is missing from the picture.
    if egui_outputs.iter().any(|o| !o.textures_delta.is_empty()) {
        *frames_since_texture_change = 0;
    } else {
        *frames_since_texture_change += 1;
    }
    if status.phase == LoadPhase::Failed {
        error!(
            "shot: the city failed to load: {}",
            status.problems.join("; ")
        );
        exit.write(AppExit::from_code(2));
        return;
    }
    if p.started.elapsed() > request.timeout {
        error!(
            "shot: gave up after {:?}: city {:?}, {} models still loading",
            request.timeout, status.phase, status.models_pending
        );
        exit.write(AppExit::from_code(2));
        return;
    }
    if let Some(failed) = plan.as_ref().and_then(|p| p.failed.as_ref()) {
        error!("shot: the renovation scenario failed to load: {failed}");
        exit.write(AppExit::from_code(2));
        return;
    }
    let ready = status.phase == LoadPhase::Ready
        && plan.as_ref().is_none_or(|p| p.drawn)
        && status.models_pending == 0
        && (!request.select || selected.settled())
        // A follower shows its leader's view: wait for the leader's word.
        && following.as_ref().is_none_or(|f| f.applied > 0);
    if !ready {
        p.ready_since = None;
        return;
    }
    let (since, frames) = p.ready_since.get_or_insert((Instant::now(), 0));
    *frames += 1;
    if *frames < SETTLE_FRAMES
        || since.elapsed() < SETTLE_TIME
        || *frames_since_texture_change < STILL_ATLAS_FRAMES
    {
        return;
    }
    if let Some(&at) = request.click.get(p.clicked) {
        p.clicked += 1;
        picks.write(super::PickAt(at));
        // Let the inspector and highlight settle before the capture; between clicks a
        // few frames are enough for the click to be taken.
        p.ready_since = if p.clicked < request.click.len() {
            Instant::now()
                .checked_sub(SETTLE_TIME)
                .map(|t| (t, SETTLE_FRAMES.saturating_sub(3)))
        } else {
            None
        };
        return;
    }
    info!(
        "shot: city ready after {:.1?}; capturing",
        p.started.elapsed()
    );
    if let Some(o) = overlays {
        info!("shot: overlays {}", o.summary());
    }
    p.requested = true;
    let out = match p.taken {
        0 => request.out.clone(),
        n => request.also[n - 1].1.clone(),
    };
    commands.spawn(Screenshot::primary_window()).observe(
        move |captured: On<ScreenshotCaptured>,
              mut exit: MessageWriter<AppExit>,
              mut saved: ResMut<ShotsSaved>| match save_png(&captured.image, &out) {
            Ok(()) => {
                info!("shot: saved {}", out.display());
                saved.0 += 1;
            }
            Err(e) => {
                error!("shot: cannot save {}: {e}", out.display());
                exit.write(AppExit::from_code(1));
            }
        },
    );
}

/// The selected marker and, for a camera, whether its snapshot has arrived.
#[derive(bevy::ecs::system::SystemParam)]
struct SelectedSnapshot<'w, 's> {
    wanted: Res<'w, super::SelectFeedId>,
    selection: Res<'w, super::Selection>,
    cameras: Query<'w, 's, (&'static FeedId, &'static VideoCamera)>,
    snapshots: Res<'w, SnapshotCache>,
}

impl SelectedSnapshot<'_, '_> {
    fn settled(&self) -> bool {
        if self.wanted.0.is_some() {
            return false;
        }
        let Some((id, camera)) = self.selection.marker.and_then(|e| self.cameras.get(e).ok())
        else {
            return true;
        };
        camera.snapshot_url.is_none()
            || self
                .snapshots
                .get(&id.0)
                .is_some_and(|s| !matches!(s.state, SnapshotState::Loading))
    }
}

fn save_png(image: &Image, out: &std::path::Path) -> Result<(), String> {
    let rgb = image
        .clone()
        .try_into_dynamic()
        .map_err(|e| format!("screenshot has an unexpected format: {e}"))?
        .to_rgb8();
    if let Some(dir) = out.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).map_err(|e| e.to_string())?;
    }
    rgb.save_with_format(out, image::ImageFormat::Png)
        .map_err(|e| e.to_string())
}
