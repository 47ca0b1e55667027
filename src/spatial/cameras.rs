//! Live cameras in an rstar tree, kept up to date as they appear and move: the k
//! nearest within a radius, and the cameras that can actually see a point.

use bevy::platform::collections::HashMap;
use bevy::prelude::*;
use rstar::RTree;
use rstar::primitives::GeomWithData;

type Entry = GeomWithData<[f64; 2], Entity>;

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
    by_entity: HashMap<Entity, CameraView>,
}

impl CameraIndex {
    pub fn len(&self) -> usize {
        self.by_entity.len()
    }

    pub fn is_empty(&self) -> bool {
        self.by_entity.is_empty()
    }

    pub fn get(&self, entity: Entity) -> Option<&CameraView> {
        self.by_entity.get(&entity)
    }

    /// Adds a camera or updates it; the tree changes only when it moved.
    pub fn upsert(&mut self, entity: Entity, view: CameraView) {
        match self.by_entity.insert(entity, view) {
            Some(old) if old.at == view.at => {}
            Some(old) => {
                self.tree.remove(&Entry::new(old.at, entity));
                self.tree.insert(Entry::new(view.at, entity));
            }
            None => self.tree.insert(Entry::new(view.at, entity)),
        }
    }

    pub fn remove(&mut self, entity: Entity) {
        if let Some(old) = self.by_entity.remove(&entity) {
            self.tree.remove(&Entry::new(old.at, entity));
        }
    }

    /// Sets whether a camera is online (no tree change).
    pub fn set_online(&mut self, entity: Entity, online: bool) {
        if let Some(v) = self.by_entity.get_mut(&entity) {
            v.online = online;
        }
    }

    /// Cameras within `radius_m` of `p`, nearest first, that pass `keep`.
    fn within<'a>(
        &'a self,
        p: [f64; 2],
        radius_m: f64,
        keep: impl Fn(&CameraView) -> bool + 'a,
    ) -> impl Iterator<Item = (Entity, f64)> + 'a {
        let r2 = radius_m * radius_m;
        self.tree
            .nearest_neighbor_iter_with_distance_2(&p)
            .take_while(move |(_, d2)| *d2 <= r2)
            .filter_map(move |(e, d2)| {
                let view = self.by_entity.get(&e.data)?;
                keep(view).then_some((e.data, d2.sqrt()))
            })
    }

    /// The `k` nearest online cameras within `radius_m`, with their distances.
    pub fn nearest(&self, p: [f64; 2], k: usize, radius_m: f64) -> Vec<(Entity, f64)> {
        self.within(p, radius_m, |v| v.online).take(k).collect()
    }

    /// The `k` nearest online cameras within `radius_m` whose view covers `p`.
    pub fn seeing(&self, p: [f64; 2], k: usize, radius_m: f64) -> Vec<(Entity, f64)> {
        self.within(p, radius_m, move |v| v.online && v.sees(p))
            .take(k)
            .collect()
    }

    /// Video linkage: cameras that see `p` first, then, if fewer than `k`, the nearest
    /// online ones regardless of direction, all within `radius_m`.
    pub fn linked(&self, p: [f64; 2], k: usize, radius_m: f64) -> Vec<(Entity, f64)> {
        let mut chosen = self.seeing(p, k, radius_m);
        if chosen.len() < k {
            let more: Vec<_> = self
                .within(p, radius_m, |v| v.online)
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
            .iter()
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
