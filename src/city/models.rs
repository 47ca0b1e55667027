//! glTF landmarks: validated with the `gltf` crate (for `check` and before spawning),
//! drawn through Bevy's own glTF loader.

use std::path::Path;

/// What a valid model file holds, for the `check` summary.
#[derive(Debug, Clone)]
pub struct ModelInfo {
    pub meshes: usize,
    pub triangles: usize,
}

/// Opens a glTF/GLB file with its buffers and checks that every mesh primitive has
/// positions Bevy can draw.
pub fn validate(path: &Path) -> Result<ModelInfo, String> {
    let (doc, buffers, _images) =
        gltf::import(path).map_err(|e| format!("not a valid glTF model: {e}"))?;
    if doc.scenes().len() == 0 {
        return Err("glTF has no scene to place".into());
    }
    let mut triangles = 0;
    for mesh in doc.meshes() {
        for (p, prim) in mesh.primitives().enumerate() {
            let reader = prim.reader(|b| buffers.get(b.index()).map(|d| &d.0[..]));
            let count = reader
                .read_positions()
                .ok_or_else(|| {
                    format!(
                        "mesh '{}' primitive {p} has no POSITION attribute",
                        mesh.name().unwrap_or("?")
                    )
                })?
                .count();
            triangles += match reader.read_indices() {
                Some(i) => i.into_u32().count() / 3,
                None => count / 3,
            };
        }
    }
    Ok(ModelInfo {
        meshes: doc.meshes().len(),
        triangles,
    })
}
