//! Geometry for the city: extruded buildings, road ribbons and area fills, built as
//! plain vertex buffers (on the loader thread) and turned into Bevy meshes later.

use super::night;
use crate::geo::LocalPoint;
use bevy::asset::RenderAssetUsages;
use bevy::math::Vec3;
use bevy::mesh::{Indices, Mesh, PrimitiveTopology};
use geo::{LineString, Polygon, TriangulateEarcut};

/// Vertex buffers for one batch (a tile of buildings, all roads of a class…).
#[derive(Debug, Default, Clone)]
pub struct MeshData {
    pub positions: Vec<[f32; 3]>,
    pub normals: Vec<[f32; 3]>,
    pub colors: Vec<[f32; 4]>,
    /// Texture coordinates: walls in window cells of [`super::night`]'s texture, flat
    /// surfaces at its dark corner.
    pub uvs: Vec<[f32; 2]>,
    pub indices: Vec<u32>,
}

impl MeshData {
    pub fn is_empty(&self) -> bool {
        self.indices.is_empty()
    }

    pub fn triangle_count(&self) -> usize {
        self.indices.len() / 3
    }

    /// Adds a flat-shaded triangle, fixing its winding so its front faces `normal`.
    pub fn triangle(&mut self, v: [Vec3; 3], normal: Vec3, color: [f32; 4]) {
        self.triangle_uv(v, [[0.0; 2]; 3], normal, color);
    }

    fn triangle_uv(
        &mut self,
        mut v: [Vec3; 3],
        mut uv: [[f32; 2]; 3],
        normal: Vec3,
        color: [f32; 4],
    ) {
        let face = (v[1] - v[0]).cross(v[2] - v[0]);
        if face.length_squared() < 1e-12 {
            return;
        }
        if face.dot(normal) < 0.0 {
            v.swap(1, 2);
            uv.swap(1, 2);
        }
        let base = self.vertices(v.into_iter().zip(uv), normal, color);
        self.indices.extend([base, base + 1, base + 2]);
    }

    /// Appends vertices sharing a normal and colour; returns the index of the first.
    fn vertices(
        &mut self,
        points: impl Iterator<Item = (Vec3, [f32; 2])>,
        normal: Vec3,
        color: [f32; 4],
    ) -> u32 {
        let base = self.positions.len() as u32;
        for (p, uv) in points {
            self.positions.push(p.to_array());
            self.normals.push(normal.to_array());
            self.colors.push(color);
            self.uvs.push(uv);
        }
        base
    }

    pub fn quad(&mut self, v: [Vec3; 4], normal: Vec3, color: [f32; 4]) {
        self.quad_uv(v, [[0.0; 2]; 4], normal, color);
    }

    /// A planar quad as four shared vertices and two triangles (a third fewer vertices
    /// than two separate triangles: walls are most of a city's geometry).
    fn quad_uv(&mut self, mut v: [Vec3; 4], mut uv: [[f32; 2]; 4], normal: Vec3, color: [f32; 4]) {
        let face = (v[1] - v[0]).cross(v[2] - v[0]);
        if face.length_squared() < 1e-12 {
            // Degenerate first half: fall back to triangles, which skip what is empty.
            self.triangle_uv([v[0], v[1], v[2]], [uv[0], uv[1], uv[2]], normal, color);
            self.triangle_uv([v[0], v[2], v[3]], [uv[0], uv[2], uv[3]], normal, color);
            return;
        }
        if face.dot(normal) < 0.0 {
            v.swap(1, 3);
            uv.swap(1, 3);
        }
        let base = self.vertices(v.into_iter().zip(uv), normal, color);
        self.indices
            .extend([base, base + 1, base + 2, base, base + 2, base + 3]);
    }

    pub fn into_mesh(self) -> Mesh {
        Mesh::new(
            PrimitiveTopology::TriangleList,
            RenderAssetUsages::RENDER_WORLD,
        )
        .with_inserted_attribute(Mesh::ATTRIBUTE_POSITION, self.positions)
        .with_inserted_attribute(Mesh::ATTRIBUTE_NORMAL, self.normals)
        .with_inserted_attribute(Mesh::ATTRIBUTE_COLOR, self.colors)
        .with_inserted_attribute(Mesh::ATTRIBUTE_UV_0, self.uvs)
        .with_inserted_indices(Indices::U32(self.indices))
    }
}

fn world(x: f64, y: f64, height: f32) -> Vec3 {
    LocalPoint::new(x, y).to_world(height)
}

/// A prism: walls around every ring and a triangulated roof at `top_m`.
/// Expects exterior rings counter-clockwise and holes clockwise (see `geo::Orient`).
/// Walls are mapped in window cells: one cell per [`night::WINDOW_M`] along the wall
/// and per [`night::FLOOR_M`] up, starting at a place that differs between buildings.
pub fn extrude(
    polygon: &Polygon<f64>,
    base_m: f32,
    top_m: f32,
    wall: [f32; 4],
    roof: [f32; 4],
    out: &mut MeshData,
) {
    let cells = night::CELLS as f64;
    let (v0, v1) = (
        base_m / night::FLOOR_M as f32 / cells as f32,
        top_m / night::FLOOR_M as f32 / cells as f32,
    );
    for ring in std::iter::once(polygon.exterior()).chain(polygon.interiors()) {
        // Where along the texture this building's windows start.
        let mut along = ring.0.first().map_or(0.0, |c| {
            ((c.x * 0.713 + c.y * 0.377).abs().fract() * cells).floor() * night::WINDOW_M
        });
        for seg in ring.lines() {
            let (a, b) = (seg.start, seg.end);
            let (dx, dy) = (b.x - a.x, b.y - a.y);
            // Solid lies to the left of travel on both exterior (CCW) and holes (CW),
            // so the outward normal is to the right: (dy, -dx) in east/north.
            let len = dx.hypot(dy);
            if len < 1e-6 {
                continue;
            }
            let normal = world(dy / len, -dx / len, 0.0);
            let u = |m: f64| (m / night::WINDOW_M / cells) as f32;
            let (u0, u1) = (u(along), u(along + len));
            along += len;
            out.quad_uv(
                [
                    world(a.x, a.y, base_m),
                    world(b.x, b.y, base_m),
                    world(b.x, b.y, top_m),
                    world(a.x, a.y, top_m),
                ],
                [[u0, v0], [u1, v0], [u1, v1], [u0, v1]],
                normal,
                wall,
            );
        }
    }
    flat(polygon, top_m, roof, out);
}

/// A horizontal polygon facing up, at height `y_m`.
pub fn flat(polygon: &Polygon<f64>, y_m: f32, color: [f32; 4], out: &mut MeshData) {
    for tri in polygon.earcut_triangles() {
        let [a, b, c] = tri.to_array();
        out.triangle(
            [
                world(a.x, a.y, y_m),
                world(b.x, b.y, y_m),
                world(c.x, c.y, y_m),
            ],
            Vec3::Y,
            color,
        );
    }
}

/// A flat band of `width_m` along a line at height `y_m` (roads, boundary outlines).
/// Joints are mitred, with the mitre capped so sharp turns do not spike.
pub fn ribbon(line: &LineString<f64>, width_m: f64, y_m: f32, color: [f32; 4], out: &mut MeshData) {
    let pts: Vec<(f64, f64)> = line.coords().map(|c| (c.x, c.y)).collect();
    let half = width_m / 2.0;
    let normal_of = |a: (f64, f64), b: (f64, f64)| {
        let (dx, dy) = (b.0 - a.0, b.1 - a.1);
        let len = dx.hypot(dy).max(1e-9);
        (-dy / len, dx / len)
    };
    let offset_at = |i: usize| -> (f64, f64) {
        let n_prev = (i > 0).then(|| normal_of(pts[i - 1], pts[i]));
        let n_next = (i + 1 < pts.len()).then(|| normal_of(pts[i], pts[i + 1]));
        match (n_prev, n_next) {
            (Some(a), Some(b)) => {
                let (mx, my) = (a.0 + b.0, a.1 + b.1);
                let m_len = mx.hypot(my);
                if m_len < 1e-6 {
                    return (a.0 * half, a.1 * half);
                }
                let (mx, my) = (mx / m_len, my / m_len);
                let scale = (half / (mx * a.0 + my * a.1).max(0.5)).min(half * 2.0);
                (mx * scale, my * scale)
            }
            (Some(n), None) | (None, Some(n)) => (n.0 * half, n.1 * half),
            (None, None) => (0.0, 0.0),
        }
    };
    for i in 0..pts.len().saturating_sub(1) {
        let (a, b) = (pts[i], pts[i + 1]);
        let (oa, ob) = (offset_at(i), offset_at(i + 1));
        out.quad(
            [
                world(a.0 - oa.0, a.1 - oa.1, y_m),
                world(b.0 - ob.0, b.1 - ob.1, y_m),
                world(b.0 + ob.0, b.1 + ob.1, y_m),
                world(a.0 + oa.0, a.1 + oa.1, y_m),
            ],
            Vec3::Y,
            color,
        );
    }
}
