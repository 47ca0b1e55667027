//! Live cameras in an rstar tree, kept up to date as they appear and move: the k
//! nearest within a radius, and the cameras that can actually see a point.

use bevy::platform::collections::HashMap;
use bevy::prelude::*;
use rstar::RTree;
use rstar::primitives::GeomWithData;

/// The tree holds a camera's place, its slot in [`CameraIndex::slots`] and whether it
/// is online: small entries keep the tree walk in cache, and the nearest online
/// cameras are found without reading anything else.
type Entry = GeomWithData<[f64; 2], (u32, bool)>;

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
    tree: RTree<Entry>,
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

    fn entry(slot: u32, view: &CameraView) -> Entry {
        Entry::new(view.at, (slot, view.online))
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
                self.tree.remove(&Self::entry(i, &old));
                self.tree.insert(Self::entry(i, &view));
            }
            (_, Some(_)) => {}
            (i, None) => self.tree.insert(Self::entry(i, &view)),
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
            .map(|&i| Self::entry(i, &self.slots[i as usize].1))
            .collect();
        self.tree = RTree::bulk_load(entries);
    }

    pub fn remove(&mut self, entity: Entity) {
        if let Some(i) = self.by_entity.remove(&entity) {
            let view = self.slots[i as usize].1;
            self.tree.remove(&Self::entry(i, &view));
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
        let mut r = (1.5 * (k as f64 * area / (std::f64::consts::PI * n as f64)).sqrt()).max(1.0);
        loop {
            let r_eff = r.min(radius_m);
            let mut found: Vec<(u32, f64)> = self
                .tree
                .locate_within_distance(p, r_eff * r_eff)
                .filter(|e| e.data.1)
                .filter(|e| keep.is_none_or(|keep| keep(&self.slots[e.data.0 as usize].1)))
                .map(|e| {
                    // As `CameraView::distance2`, so ties order alike.
                    let at = e.geom();
                    let (dx, dy) = (p[0] - at[0], p[1] - at[1]);
                    (e.data.0, (dx * dx + dy * dy).sqrt())
                })
                .collect();
            if found.len() >= k || r_eff >= radius_m || r >= reach {
                found.sort_by(|a, b| a.1.total_cmp(&b.1));
                found.truncate(k);
                return found
                    .into_iter()
                    .map(|(i, d)| (self.slots[i as usize].0, d))
                    .collect();
            }
            r *= 2.0;
        }
    }

    /// The `k` nearest online cameras within `radius_m`, with their distances.
    pub fn nearest(&self, p: [f64; 2], k: usize, radius_m: f64) -> Vec<(Entity, f64)> {
        self.within(p, k, radius_m, None)
    }

    /// The `k` nearest online cameras within `radius_m` whose view covers `p`.
    pub fn seeing(&self, p: [f64; 2], k: usize, radius_m: f64) -> Vec<(Entity, f64)> {
        self.within(p, k, radius_m, Some(&|v: &CameraView| v.sees(p)))
    }

    /// Video linkage: cameras that see `p` first, then, if fewer than `k`, the nearest
    /// online ones regardless of direction, all within `radius_m`.
    pub fn linked(&self, p: [f64; 2], k: usize, radius_m: f64) -> Vec<(Entity, f64)> {
        let mut chosen = self.seeing(p, k, radius_m);
        if chosen.len() < k {
            let more: Vec<_> = self
                .within(p, k + chosen.len(), radius_m, None)
                .into_iter()
                .filter(|(e, _)| !chosen.iter().any(|(c, _)| c == e))
                .take(k - chosen.len())
                .collect();
            chosen.extend(more);
        }
        chosen
    }

    /// Brute force over every camera: what the tree must agree with (tests, bench).
    pub fn linked_brute_force(&self, p: [f64; 2], k: usize, radius_m: f64) -> Vec<(Entity, f64)> {
        let mut all: Vec<(Entity, f64, bool)> = self
            .by_entity
            .values()
            .map(|&i| &self.slots[i as usize])
            .filter(|(_, v)| v.online && v.distance2(p) <= radius_m * radius_m)
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
