//! glTF landmarks: validated with the `gltf` crate (for `check` and before spawning),
//! drawn through Bevy's own glTF loader.
//!
//! A model is untrusted input, so before anything reads it:
//! - the file is a regular file of at most [`MAX_MODEL_BYTES`];
//! - every URI inside it (buffers, images) is a `data:` URI or a relative path to a
//!   regular file beside the model or below its folder: no scheme (`file:`,
//!   `http:`), no absolute path, no `..`, no device, FIFO or symlink leading out,
//!   each at most [`MAX_RESOURCE_BYTES`], all together at most [`MAX_TOTAL_BYTES`];
//! - every image is at most [`MAX_IMAGE_SIDE`] pixels a side (read from its header,
//!   not decoded), so a small file cannot claim gigabytes of pixels;
//! - every accessor lies inside its buffer view and every view inside its buffer,
//!   so reading the mesh cannot index out of bounds.
//!
//! The scene's own paths (the model file itself) are the operator's and stay as
//! they are.

use std::path::{Component, Path, PathBuf};

/// What a valid model file holds, for the `check` summary.
#[derive(Debug, Clone)]
pub struct ModelInfo {
    pub meshes: usize,
    pub triangles: usize,
}

/// Largest model file (glTF JSON or GLB).
pub const MAX_MODEL_BYTES: u64 = 256 << 20;
/// Largest external buffer or image file.
pub const MAX_RESOURCE_BYTES: u64 = 256 << 20;
/// Largest sum of a model's buffers and images.
pub const MAX_TOTAL_BYTES: u64 = 512 << 20;
/// Longest side of an image, in pixels.
pub const MAX_IMAGE_SIDE: u32 = 8192;

/// Where a relative URI inside the model points, if it is allowed to point there.
fn confined(dir: &Path, uri: &str) -> Result<PathBuf, String> {
    if uri.contains(':') {
        return Err(format!(
            "URI '{}' has a scheme; only data: URIs and relative paths are allowed",
            uri.chars().take(64).collect::<String>()
        ));
    }
    let decoded = String::from_utf8(crate::percent_decode(uri))
        .map_err(|_| format!("URI '{uri}' is not UTF-8 once decoded"))?;
    let rel = Path::new(&decoded);
    if decoded.is_empty()
        || rel
            .components()
            .any(|c| !matches!(c, Component::Normal(_) | Component::CurDir))
    {
        return Err(format!(
            "URI '{uri}' leaves the model's folder (absolute, or with ..)"
        ));
    }
    let path = dir.join(rel);
    // Symlinks are followed: the real file must still be inside the folder.
    let real = path
        .canonicalize()
        .map_err(|e| format!("URI '{uri}': {e}"))?;
    let real_dir = dir
        .canonicalize()
        .map_err(|e| format!("{}: {e}", dir.display()))?;
    if !real.starts_with(&real_dir) {
        return Err(format!("URI '{uri}' leads out of the model's folder"));
    }
    Ok(real)
}

/// An image's size from its header, without decoding it.
fn image_side(bytes: &[u8], what: &str) -> Result<(), String> {
    let reader = image::ImageReader::new(std::io::Cursor::new(bytes))
        .with_guessed_format()
        .map_err(|e| format!("{what}: {e}"))?;
    // Formats this build cannot read are left to Bevy, which refuses them itself.
    let Some(_) = reader.format() else {
        return Ok(());
    };
    match reader.into_dimensions() {
        Ok((w, h)) if w.max(h) > MAX_IMAGE_SIDE => Err(format!(
            "{what}: {w}×{h} pixels is over the {MAX_IMAGE_SIDE}-pixel limit"
        )),
        Ok(_) | Err(image::ImageError::Unsupported(_)) => Ok(()),
        Err(e) => Err(format!("{what}: {e}")),
    }
}

/// Opens a glTF/GLB file with its buffers, checks what it points at and that every
/// mesh primitive has positions Bevy can draw. The `gltf` crate panics on some
/// malformed files (found by `citytwin fuzz gltf`); such a panic is this model's error,
/// never the app's.
pub fn validate(path: &Path) -> Result<ModelInfo, String> {
    std::panic::catch_unwind(|| validate_inner(path)).unwrap_or_else(|panic| {
        Err(format!(
            "not a valid glTF model (the glTF reader failed: {})",
            crate::panic_text(&panic)
        ))
    })
}

fn validate_inner(path: &Path) -> Result<ModelInfo, String> {
    let bytes = crate::read_limited(path, MAX_MODEL_BYTES)?;
    let gltf::Gltf {
        document: doc,
        blob,
    } = gltf::Gltf::from_slice(&bytes).map_err(|e| format!("not a valid glTF model: {e}"))?;
    let dir = path.parent().unwrap_or(Path::new("."));
    let mut total = 0u64;
    let mut buffers = Vec::new();
    let mut blob = blob;
    for buffer in doc.buffers() {
        let data = match buffer.source() {
            gltf::buffer::Source::Bin => blob.take().ok_or_else(|| {
                format!(
                    "buffer {} names the GLB blob, which is missing",
                    buffer.index()
                )
            })?,
            gltf::buffer::Source::Uri(uri) if uri.starts_with("data:") => {
                gltf::buffer::Data::from_source(buffer.source(), None)
                    .map_err(|e| format!("buffer {}: {e}", buffer.index()))?
                    .0
            }
            gltf::buffer::Source::Uri(uri) => {
                let file =
                    confined(dir, uri).map_err(|e| format!("buffer {}: {e}", buffer.index()))?;
                crate::read_limited(&file, MAX_RESOURCE_BYTES)?
            }
        };
        if data.len() < buffer.length() {
            return Err(format!(
                "buffer {} holds {} bytes, {} declared",
                buffer.index(),
                data.len(),
                buffer.length()
            ));
        }
        total += data.len() as u64;
        buffers.push(data);
    }
    for view in doc.views() {
        let end = view.offset().checked_add(view.length());
        if end.is_none_or(|end| end > buffers[view.buffer().index()].len()) {
            return Err(format!("buffer view {} runs past its buffer", view.index()));
        }
    }
    for image in doc.images() {
        let what = format!("image {}", image.index());
        match image.source() {
            gltf::image::Source::View { view, .. } => {
                let data =
                    &buffers[view.buffer().index()][view.offset()..view.offset() + view.length()];
                image_side(data, &what)?;
            }
            gltf::image::Source::Uri { uri, .. } if uri.starts_with("data:") => {
                let data = gltf::buffer::Data::from_source(gltf::buffer::Source::Uri(uri), None)
                    .map_err(|e| format!("{what}: {e}"))?;
                image_side(&data.0, &what)?;
            }
            gltf::image::Source::Uri { uri, .. } => {
                let file = confined(dir, uri).map_err(|e| format!("{what}: {e}"))?;
                let data = crate::read_limited(&file, MAX_RESOURCE_BYTES)?;
                total += data.len() as u64;
                image_side(&data, &what)?;
            }
        }
    }
    if total > MAX_TOTAL_BYTES {
        return Err(format!(
            "buffers and images of {total} bytes are over the {MAX_TOTAL_BYTES}-byte limit"
        ));
    }
    for accessor in doc.accessors() {
        check_accessor(&accessor)?;
    }
    if doc.scenes().len() == 0 {
        return Err("glTF has no scene to place".into());
    }
    let mut triangles = 0;
    for mesh in doc.meshes() {
        for (p, prim) in mesh.primitives().enumerate() {
            let at = || format!("mesh '{}' primitive {p}", mesh.name().unwrap_or("?"));
            use gltf::accessor::{DataType, Dimensions};
            if let Some(pos) = prim.get(&gltf::Semantic::Positions)
                && (pos.data_type() != DataType::F32 || pos.dimensions() != Dimensions::Vec3)
            {
                return Err(format!(
                    "{}: POSITION is {:?} {:?}, not float VEC3",
                    at(),
                    pos.data_type(),
                    pos.dimensions()
                ));
            }
            if let Some(idx) = prim.indices()
                && (idx.dimensions() != Dimensions::Scalar
                    || !matches!(
                        idx.data_type(),
                        DataType::U8 | DataType::U16 | DataType::U32
                    ))
            {
                return Err(format!("{}: indices are not unsigned scalars", at()));
            }
            let reader = prim.reader(|b| buffers.get(b.index()).map(|d| &d[..]));
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

/// The bytes an accessor reads lie inside its view (dense and sparse parts).
fn check_accessor(a: &gltf::Accessor<'_>) -> Result<(), String> {
    let what = || format!("accessor {}", a.index());
    let fits = |offset: usize, count: usize, elem: usize, stride: usize, view_len: usize| {
        count == 0
            || (count - 1)
                .checked_mul(stride)
                .and_then(|n| n.checked_add(offset))
                .and_then(|n| n.checked_add(elem))
                .is_some_and(|end| end <= view_len)
    };
    if let Some(view) = a.view() {
        let elem = a.size();
        let stride = view.stride().unwrap_or(elem).max(elem);
        if !fits(a.offset(), a.count(), elem, stride, view.length()) {
            return Err(format!("{} runs past its buffer view", what()));
        }
    }
    if let Some(sparse) = a.sparse() {
        let n = sparse.count();
        if n > a.count() {
            return Err(format!("{}: more sparse entries than elements", what()));
        }
        let idx = sparse.indices();
        if !fits(
            idx.offset(),
            n,
            idx.index_type().size(),
            idx.index_type().size(),
            idx.view().length(),
        ) {
            return Err(format!("{}: sparse indices run past their view", what()));
        }
        let values = sparse.values();
        if !fits(
            values.offset(),
            n,
            a.size(),
            a.size(),
            values.view().length(),
        ) {
            return Err(format!("{}: sparse values run past their view", what()));
        }
    }
    Ok(())
}
