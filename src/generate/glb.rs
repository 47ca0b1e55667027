//! A minimal GLB writer for generated landmarks: one mesh per material, flat normals.

use crate::city::mesh::MeshData;
use serde_json::json;

/// A named part of a model with its material.
pub struct Part {
    pub name: &'static str,
    pub mesh: MeshData,
    pub base_color: [f32; 4],
    pub emissive: [f32; 3],
}

fn push_f32s(bin: &mut Vec<u8>, values: impl Iterator<Item = f32>) {
    for v in values {
        bin.extend_from_slice(&v.to_le_bytes());
    }
}

/// [`write`] from (name, mesh, base colour, emissive) rows.
pub fn write_parts(
    name: &str,
    note: &str,
    rows: &[(&'static str, MeshData, [f32; 4], [f32; 3])],
) -> Vec<u8> {
    let parts: Vec<Part> = rows
        .iter()
        .map(|(name, mesh, base_color, emissive)| Part {
            name,
            mesh: mesh.clone(),
            base_color: *base_color,
            emissive: *emissive,
        })
        .collect();
    write(name, note, &parts)
}

/// Writes a binary glTF 2.0 file holding `parts` as one node each.
pub fn write(name: &str, note: &str, parts: &[Part]) -> Vec<u8> {
    let mut bin = Vec::new();
    let (mut views, mut accessors, mut meshes, mut materials, mut nodes) =
        (vec![], vec![], vec![], vec![], vec![]);
    for (i, part) in parts.iter().enumerate() {
        let m = &part.mesh;
        let mut min = [f32::MAX; 3];
        let mut max = [f32::MIN; 3];
        for p in &m.positions {
            for k in 0..3 {
                min[k] = min[k].min(p[k]);
                max[k] = max[k].max(p[k]);
            }
        }
        let mut view = |bin: &mut Vec<u8>, data: &dyn Fn(&mut Vec<u8>), target: u32| {
            let offset = bin.len();
            data(bin);
            views.push(json!({"buffer": 0, "byteOffset": offset, "byteLength": bin.len() - offset, "target": target}));
            views.len() - 1
        };
        let pos = view(
            &mut bin,
            &|b| push_f32s(b, m.positions.iter().flatten().copied()),
            34962,
        );
        let nor = view(
            &mut bin,
            &|b| push_f32s(b, m.normals.iter().flatten().copied()),
            34962,
        );
        let idx = view(
            &mut bin,
            &|b| {
                m.indices
                    .iter()
                    .for_each(|i| b.extend_from_slice(&i.to_le_bytes()))
            },
            34963,
        );
        let n = m.positions.len();
        accessors.push(json!({"bufferView": pos, "componentType": 5126, "count": n, "type": "VEC3", "min": min, "max": max}));
        accessors
            .push(json!({"bufferView": nor, "componentType": 5126, "count": n, "type": "VEC3"}));
        accessors.push(json!({"bufferView": idx, "componentType": 5125, "count": m.indices.len(), "type": "SCALAR"}));
        let a = accessors.len() - 3;
        materials.push(json!({
            "name": part.name,
            "pbrMetallicRoughness": {"baseColorFactor": part.base_color, "metallicFactor": 0.0, "roughnessFactor": 0.8},
            "emissiveFactor": part.emissive,
        }));
        meshes.push(json!({"name": part.name, "primitives": [{"attributes": {"POSITION": a, "NORMAL": a + 1}, "indices": a + 2, "material": i}]}));
        nodes.push(json!({"name": part.name, "mesh": i}));
    }
    let doc = json!({
        "asset": {"version": "2.0", "generator": "citytwin gen-demo", "copyright": note},
        "scene": 0,
        "scenes": [{"name": name, "nodes": (0..parts.len()).collect::<Vec<_>>()}],
        "nodes": nodes,
        "meshes": meshes,
        "materials": materials,
        "accessors": accessors,
        "bufferViews": views,
        "buffers": [{"byteLength": bin.len()}],
    });
    let mut json_bytes = serde_json::to_vec(&doc).expect("glTF JSON serializes");
    while !json_bytes.len().is_multiple_of(4) {
        json_bytes.push(b' ');
    }
    while !bin.len().is_multiple_of(4) {
        bin.push(0);
    }
    let total = 12 + 8 + json_bytes.len() + 8 + bin.len();
    let mut out = Vec::with_capacity(total);
    out.extend_from_slice(b"glTF");
    out.extend_from_slice(&2u32.to_le_bytes());
    out.extend_from_slice(&(total as u32).to_le_bytes());
    out.extend_from_slice(&(json_bytes.len() as u32).to_le_bytes());
    out.extend_from_slice(b"JSON");
    out.extend_from_slice(&json_bytes);
    out.extend_from_slice(&(bin.len() as u32).to_le_bytes());
    out.extend_from_slice(b"BIN\0");
    out.extend_from_slice(&bin);
    out
}
