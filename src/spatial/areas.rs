//! Which district and which grid a point lies in: rstar over the areas' bounds, then
//! an exact point-in-polygon test.

use crate::city::AreaSet;
use crate::geo::LocalPoint;
use geo::{Area, BoundingRect, Contains, Coord};
use rstar::primitives::{GeomWithData, Rectangle};
use rstar::{AABB, RTree};

type Entry = GeomWithData<Rectangle<[f64; 2]>, usize>;

/// One kind of area (districts, or grids and micro-grids together).
#[derive(Default)]
pub struct AreaLookup {
    tree: RTree<Entry>,
    set: AreaSet,
    /// Area of each shape, m²: where areas nest (a micro-grid in a community grid),
    /// the smallest one containing the point is the answer.
    size_m2: Vec<f64>,
}

impl AreaLookup {
    pub fn build(set: &AreaSet) -> Self {
        let entries = set
            .shapes
            .iter()
            .enumerate()
            .filter_map(|(i, s)| {
                let r = s.bounding_rect()?;
                Some(Entry::new(
                    Rectangle::from_corners([r.min().x, r.min().y], [r.max().x, r.max().y]),
                    i,
                ))
            })
            .collect();
        Self {
            tree: RTree::bulk_load(entries),
            size_m2: set.shapes.iter().map(|s| s.unsigned_area()).collect(),
            set: set.clone(),
        }
    }

    pub fn len(&self) -> usize {
        self.size_m2.len()
    }

    pub fn is_empty(&self) -> bool {
        self.size_m2.is_empty()
    }

    /// The smallest area containing `p` (its index into the set).
    pub fn locate(&self, p: LocalPoint) -> Option<usize> {
        let q = [p.east_m, p.north_m];
        let c = Coord {
            x: p.east_m,
            y: p.north_m,
        };
        self.tree
            .locate_in_envelope_intersecting(&AABB::from_point(q))
            .map(|e| e.data)
            .filter(|&i| self.set.shapes[i].contains(&c))
            .min_by(|&a, &b| self.size_m2[a].total_cmp(&self.size_m2[b]).then(a.cmp(&b)))
    }

    /// The same answer by testing every area (tests, bench).
    pub fn locate_brute_force(&self, p: LocalPoint) -> Option<usize> {
        let c = Coord {
            x: p.east_m,
            y: p.north_m,
        };
        (0..self.set.shapes.len())
            .filter(|&i| self.set.shapes[i].contains(&c))
            .min_by(|&a, &b| self.size_m2[a].total_cmp(&self.size_m2[b]).then(a.cmp(&b)))
    }

    /// The id of the area containing `p`.
    pub fn id_at(&self, p: LocalPoint) -> Option<&str> {
        self.locate(p).map(|i| self.set.names[i].id.as_str())
    }

    /// The name (or id) of the area containing `p`.
    pub fn name_at(&self, p: LocalPoint) -> Option<&str> {
        self.locate(p).map(|i| {
            let n = &self.set.names[i];
            n.name.as_deref().unwrap_or(&n.id)
        })
    }
}
