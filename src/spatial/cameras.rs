//! Live cameras in an rstar tree, kept up to date as they appear and move: the k
//! nearest within a radius, and the cameras that can actually see a point.

use bevy::platform::collections::HashMap;
use bevy::prelude::*;
use rstar::primitives::GeomWithData;
use rstar::{RStarInsertionStrategy, RTree, RTreeParams};

/// The tree holds a camera's place, its slot in [`CameraIndex::slots`] and whether it
/// is online, and its entity: small entries keep the tree walk in cache, and the
/// nearest online cameras are found and named without reading anything else (a slot
/// read per result was a cache miss each, a fifth of a query's time).
type Entry = GeomWithData<[f64; 2], Tag>;

#[derive(Debug, Clone, Copy, PartialEq)]
struct Tag {
    entity: Entity,
    slot: u32,
    online: bool,
}

/// Wider nodes than rstar's default (6): a shallower tree, and a point query reads
/// fewer nodes (measured with `citytwin bench ops`: see the README).
struct CameraParams;

impl RTreeParams for CameraParams {
    const MIN_SIZE: usize = 6;
    const MAX_SIZE: usize = 16;
    const REINSERTION_COUNT: usize = 2;
    type DefaultInsertionStrategy = RStarInsertionStrategy;
}

/// Cameras whose online state differs from the index's: the state at an earlier
/// moment of the frame, for cameras that changed since (empty: the index as it is).
#[derive(Debug, Clone, Default)]
pub struct OnlineAt(pub HashMap<Entity, bool>);

impl OnlineAt {
    /// The camera's state: as `indexed` unless this names it (looked up only when
    /// there is anything to look up).
    fn is_online(&self, indexed: bool, camera: impl FnOnce() -> Entity) -> bool {
        if self.0.is_empty() {
            return indexed;
        }
        self.0.get(&camera()).copied().unwrap_or(indexed)
    }
}

/// What the queries need of one camera, in the local frame (metres east, north).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct CameraView {
    pub at: [f64; 2],
    /// Degrees clockwise from north; `None` for a dome camera that sees all round.
    pub heading_deg: Option<f64>,
    pub fov_deg: f64,
    pub range_m: f64,
    pub online: bool,
}

impl CameraView {
    /// Whether `p` is within its range and inside its field of view.
    pub fn sees(&self, p: [f64; 2]) -> bool {
        let (dx, dy) = (p[0] - self.at[0], p[1] - self.at[1]);
        let d2 = dx * dx + dy * dy;
        if d2 > self.range_m * self.range_m {
            return false;
        }
        let Some(heading) = self.heading_deg else {
            return true;
        };
        if d2 == 0.0 || self.fov_deg >= 360.0 {
            return true;
        }
        let bearing = dx.atan2(dy).to_degrees();
        let off = (bearing - heading).rem_euclid(360.0);
        let off = off.min(360.0 - off);
        off <= self.fov_deg / 2.0
    }

    fn distance2(&self, p: [f64; 2]) -> f64 {
        let (dx, dy) = (p[0] - self.at[0], p[1] - self.at[1]);
        dx * dx + dy * dy
    }
}

/// Every camera by entity, and an rstar tree of their places.
#[derive(Resource, Default)]
pub struct CameraIndex {
    tree: RTree<Entry, CameraParams>,
    /// Entity and view per slot; a removed camera's slot is reused.
    slots: Vec<(Entity, CameraView)>,
    free: Vec<u32>,
    by_entity: HashMap<Entity, u32>,
}

impl CameraIndex {
    pub fn len(&self) -> usize {
        self.by_entity.len()
    }

    pub fn is_empty(&self) -> bool {
        self.by_entity.is_empty()
    }

    pub fn get(&self, entity: Entity) -> Option<&CameraView> {
        self.by_entity
            .get(&entity)
            .map(|&i| &self.slots[i as usize].1)
    }

    fn entry(entity: Entity, slot: u32, view: &CameraView) -> Entry {
        let tag = Tag {
            entity,
            slot,
            online: view.online,
        };
        Entry::new(view.at, tag)
    }

    /// The camera's slot, a fresh one for a new camera (its view not yet set).
    fn slot(&mut self, entity: Entity, view: CameraView) -> (u32, Option<CameraView>) {
        if let Some(&i) = self.by_entity.get(&entity) {
            let old = std::mem::replace(&mut self.slots[i as usize].1, view);
            return (i, Some(old));
        }
        let i = match self.free.pop() {
            Some(i) => {
                self.slots[i as usize] = (entity, view);
                i
            }
            None => {
                self.slots.push((entity, view));
                (self.slots.len() - 1) as u32
            }
        };
        self.by_entity.insert(entity, i);
        (i, None)
    }

    /// Adds a camera or updates it; the tree changes only when its place or
    /// online state did.
    pub fn upsert(&mut self, entity: Entity, view: CameraView) {
        match self.slot(entity, view) {
            (i, Some(old)) if old.at != view.at || old.online != view.online => {
                self.tree.remove(&Self::entry(entity, i, &old));
                self.tree.insert(Self::entry(entity, i, &view));
            }
            (_, Some(_)) => {}
            (i, None) => self.tree.insert(Self::entry(entity, i, &view)),
        }
    }

    /// Adds or updates many cameras; when they are many compared with the index (a
    /// city's cameras announcing themselves), the tree is bulk-loaded anew, which is
    /// quicker and gives a better tree than inserting one by one.
    pub fn upsert_many(&mut self, cameras: impl IntoIterator<Item = (Entity, CameraView)>) {
        let cameras: Vec<_> = cameras.into_iter().collect();
        if cameras.len() < 1024 || cameras.len() * 4 < self.by_entity.len() {
            for (e, v) in cameras {
                self.upsert(e, v);
            }
            return;
        }
        for (e, v) in cameras {
            self.slot(e, v);
        }
        let entries = self
            .by_entity
            .values()
            .map(|&i| {
                let (entity, view) = &self.slots[i as usize];
                Self::entry(*entity, i, view)
            })
            .collect();
        self.tree = RTree::bulk_load_with_params(entries);
    }

    pub fn remove(&mut self, entity: Entity) {
        if let Some(i) = self.by_entity.remove(&entity) {
            let view = self.slots[i as usize].1;
            self.tree.remove(&Self::entry(entity, i, &view));
            self.free.push(i);
        }
    }

    /// The `k` online cameras nearest to `p` within `radius_m` that pass `keep` (when
    /// given), nearest first. Searches a disc sized for about `k` cameras at the
    /// index's mean density and doubles it until it holds `k` (or all): a plain range
    /// search is quicker than rstar's incremental nearest-neighbour iterator.
    fn within(
        &self,
        p: [f64; 2],
        k: usize,
        radius_m: f64,
        keep: Option<&dyn Fn(&CameraView) -> bool>,
        online: &OnlineAt,
    ) -> Vec<(Entity, f64)> {
        let n = self.by_entity.len();
        if n == 0 || k == 0 {
            return Vec::new();
        }
        let env = self.tree.root().envelope();
        let (lo, hi) = (env.lower(), env.upper());
        let area = ((hi[0] - lo[0]) * (hi[1] - lo[1])).max(1.0);
        // Beyond this every camera is inside the disc.
        let reach = {
            let dx = (p[0] - lo[0]).abs().max((p[0] - hi[0]).abs());
            let dy = (p[1] - lo[1]).abs().max((p[1] - hi[1]).abs());
            dx.hypot(dy)
        };
        // 1.25: about 1.6 k cameras expected in the first disc; measured quickest
        // (a larger disc sorts more, a smaller one searches twice more often).
        let mut r = (1.25 * (k as f64 * area / (std::f64::consts::PI * n as f64)).sqrt()).max(1.0);
        // (squared distance, camera): ordered by distance, ties by entity.
        let order = |a: &(f64, Entity), b: &(f64, Entity)| a.0.total_cmp(&b.0).then(a.1.cmp(&b.1));
        let mut found: Vec<(f64, Entity)> = Vec::with_capacity(4 * k);
        loop {
            let r_eff = r.min(radius_m);
            found.clear();
            found.extend(
                self.tree
                    .locate_within_distance(p, r_eff * r_eff)
                    .filter(|e| online.is_online(e.data.online, || e.data.entity))
                    .filter(|e| keep.is_none_or(|keep| keep(&self.slots[e.data.slot as usize].1)))
                    .map(|e| {
                        // As `CameraView::distance2`, so ties order alike.
                        let at = e.geom();
                        let (dx, dy) = (p[0] - at[0], p[1] - at[1]);
                        (dx * dx + dy * dy, e.data.entity)
                    }),
            );
            if found.len() >= k || r_eff >= radius_m || r >= reach {
                if found.len() > k {
                    found.select_nth_unstable_by(k, order);
                    found.truncate(k);
                }
                found.sort_unstable_by(order);
                return found.into_iter().map(|(d2, e)| (e, d2.sqrt())).collect();
            }
            r *= 2.0;
        }
    }

    /// The `k` nearest online cameras within `radius_m`, with their distances.
    pub fn nearest(&self, p: [f64; 2], k: usize, radius_m: f64) -> Vec<(Entity, f64)> {
        self.within(p, k, radius_m, None, &OnlineAt::default())
    }

    /// The `k` nearest online cameras within `radius_m` whose view covers `p`.
    pub fn seeing(&self, p: [f64; 2], k: usize, radius_m: f64) -> Vec<(Entity, f64)> {
        let sees = |v: &CameraView| v.sees(p);
        self.within(p, k, radius_m, Some(&sees), &OnlineAt::default())
    }

    /// Video linkage: cameras that see `p` first, then, if fewer than `k`, the nearest
    /// online ones regardless of direction, all within `radius_m`.
    pub fn linked(&self, p: [f64; 2], k: usize, radius_m: f64) -> Vec<(Entity, f64)> {
        self.linked_at(p, k, radius_m, &OnlineAt::default())
    }

    /// [`Self::linked`] with the cameras online as `online` says for those it names:
    /// linkage as of a moment earlier in the frame than the index's state.
    pub fn linked_at(
        &self,
        p: [f64; 2],
        k: usize,
        radius_m: f64,
        online: &OnlineAt,
    ) -> Vec<(Entity, f64)> {
        let sees = |v: &CameraView| v.sees(p);
        let mut chosen = self.within(p, k, radius_m, Some(&sees), online);
        if chosen.len() < k {
            let more: Vec<_> = self
                .within(p, k + chosen.len(), radius_m, None, online)
                .into_iter()
                .filter(|(e, _)| !chosen.iter().any(|(c, _)| c == e))
                .take(k - chosen.len())
                .collect();
            chosen.extend(more);
        }
        chosen
    }

    /// Brute force over every camera: what the tree must agree with (tests, bench).
    pub fn linked_brute_force(
        &self,
        p: [f64; 2],
        k: usize,
        radius_m: f64,
        online: &OnlineAt,
    ) -> Vec<(Entity, f64)> {
        let mut all: Vec<(Entity, f64, bool)> = self
            .by_entity
            .values()
            .map(|&i| &self.slots[i as usize])
            .filter(|(e, v)| {
                online.is_online(v.online, || *e) && v.distance2(p) <= radius_m * radius_m
            })
            .map(|(e, v)| (*e, v.distance2(p).sqrt(), v.sees(p)))
            .collect();
        all.sort_by(|a, b| a.1.total_cmp(&b.1));
        let mut chosen: Vec<(Entity, f64)> = all
            .iter()
            .filter(|c| c.2)
            .take(k)
            .map(|c| (c.0, c.1))
            .collect();
        for c in &all {
            if chosen.len() >= k {
                break;
            }
            if !chosen.iter().any(|(e, _)| *e == c.0) {
                chosen.push((c.0, c.1));
            }
        }
        chosen
    }
}
