//! The operator journal: every action taken on this wall (acknowledge, resolve,
//! silence, switch mode), with who and when, appended to a file as `operator` feed
//! messages. A `replay:` source of the journal, beside the recording of the feeds,
//! shows who acknowledged what and when. Actions that came on feeds are not written:
//! they are in the recording of those feeds already.
//!
//! The file is written by a thread of its own behind a bounded channel, so the frame
//! never waits on the disk; a full channel or a failed write is counted and logged.

use super::alerts::OperatorAction;
use super::clock::TwinClock;
use crate::TwinSet;
use crate::feeds::schema::{FeedBody, FeedMessage, OperatorMessage};
use bevy::prelude::*;
use crossbeam_channel::{Sender, TrySendError, bounded};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

/// Lines waiting for the writer; an operator does not act hundreds of times a second.
const QUEUE: usize = 1024;

/// The journal this wall writes to, if any.
#[derive(Resource, Debug, Default)]
pub struct OperatorJournal {
    pub path: Option<PathBuf>,
    tx: Option<Sender<String>>,
    /// Actions written to the file.
    pub written: Arc<AtomicU64>,
    /// Actions not written (the queue was full, or the file failed); each is logged.
    pub lost: Arc<AtomicU64>,
}

impl OperatorJournal {
    /// Opens `path` for appending (creating it with a header) and starts its writer.
    pub fn open(path: &Path) -> std::io::Result<Self> {
        let mut file = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(path)?;
        writeln!(
            file,
            "# citytwin operator journal: actions taken on the wall from {}",
            chrono::Utc::now()
                .with_timezone(&super::beijing())
                .to_rfc3339()
        )?;
        let (tx, rx) = bounded::<String>(QUEUE);
        let written = Arc::new(AtomicU64::new(0));
        let lost = Arc::new(AtomicU64::new(0));
        let (w, l, shown) = (written.clone(), lost.clone(), path.display().to_string());
        std::thread::Builder::new()
            .name("operator-journal".into())
            .spawn(move || {
                for line in rx {
                    match writeln!(file, "{line}").and_then(|()| file.flush()) {
                        Ok(()) => w.fetch_add(1, Ordering::Relaxed),
                        Err(e) => {
                            error!("operator journal {shown}: an action not written: {e}");
                            l.fetch_add(1, Ordering::Relaxed)
                        }
                    };
                }
            })?;
        Ok(Self {
            path: Some(path.to_owned()),
            tx: Some(tx),
            written,
            lost,
        })
    }

    /// The same line a control topic would carry for this action at `at`.
    pub fn line(action: &OperatorAction, at: chrono::DateTime<chrono::FixedOffset>) -> String {
        FeedMessage {
            ts: at,
            body: FeedBody::Operator(Box::new(OperatorMessage {
                operator: action.operator.clone(),
                command: action.action.clone(),
            })),
        }
        .encode()
    }
}

/// Installs the journal at `path` (none: actions are not journaled). A journal that
/// cannot be opened is reported and the wall runs without one.
pub fn install(app: &mut App, path: Option<&Path>) {
    let journal = match path.map(OperatorJournal::open) {
        None => OperatorJournal::default(),
        Some(Ok(j)) => {
            info!(
                "operator journal: {}",
                path.unwrap_or(Path::new("")).display()
            );
            j
        }
        Some(Err(e)) => {
            error!(
                "operator journal {}: cannot be opened, actions are not journaled: {e}",
                path.unwrap_or(Path::new("")).display()
            );
            OperatorJournal::default()
        }
    };
    app.insert_resource(journal);
}

pub(super) fn plugin(app: &mut App) {
    app.init_resource::<OperatorJournal>()
        .add_systems(Update, journal.in_set(TwinSet::Ops));
}

/// The wall's actions of this frame, at the twin's now (when they apply).
fn journal(
    mut actions: MessageReader<OperatorAction>,
    clock: Res<TwinClock>,
    journal: Res<OperatorJournal>,
) {
    let Some(tx) = &journal.tx else {
        actions.clear();
        return;
    };
    let now = clock.now();
    for action in actions.read() {
        match tx.try_send(OperatorJournal::line(action, now)) {
            Ok(()) => {}
            Err(TrySendError::Full(_) | TrySendError::Disconnected(_)) => {
                journal.lost.fetch_add(1, Ordering::Relaxed);
                warn!(
                    "operator journal: {} {:?} not journaled (writer behind or stopped)",
                    action.operator, action.action
                );
            }
        }
    }
}
