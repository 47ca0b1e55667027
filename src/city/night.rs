//! The night city: a texture of windows, some lit in warm or cool light, most dark,
//! that building walls carry as their emissive map. One cell of the texture is one
//! window bay ([`WINDOW_M`] wide, [`FLOOR_M`] high); roofs and other flat surfaces map
//! to a corner that is dark. The texture repeats, with mipmaps so that far walls fade
//! to a soft glow instead of shimmering.

use crate::generate::rng::SplitMix64;
use bevy::asset::RenderAssetUsages;
use bevy::image::{Image, ImageAddressMode, ImageSampler, ImageSamplerDescriptor};
use bevy::render::render_resource::{Extent3d, TextureDimension, TextureFormat};

/// Width of a window bay along a wall.
pub const WINDOW_M: f64 = 3.6;
/// Height of a floor.
pub const FLOOR_M: f64 = 3.1;
/// Window bays across (and up) the texture.
pub const CELLS: u32 = 16;
/// Pixels per bay.
pub const CELL_PX: u32 = 8;
/// Share of windows lit.
const LIT: f64 = 0.32;

/// The window texture with its full mip chain, ready for `StandardMaterial::emissive_texture`.
pub fn window_texture() -> Image {
    let side = CELLS * CELL_PX;
    let mut rng = SplitMix64::new(0x0371_2026);
    let mut level = vec![0u8; (side * side * 4) as usize];
    for cy in 0..CELLS {
        for cx in 0..CELLS {
            // The bay at (0, 0) stays dark: flat surfaces sample it.
            if (cx, cy) == (0, 0) || !rng.chance(LIT) {
                continue;
            }
            // Most homes are lit warm; some offices and screens cool.
            let glow = rng.range(0.55, 1.0);
            let rgb = if rng.chance(0.75) {
                [1.0, 0.78, 0.45]
            } else {
                [0.65, 0.85, 1.0]
            };
            for py in 2..CELL_PX - 1 {
                for px in 1..CELL_PX - 1 {
                    let i = (((cy * CELL_PX + py) * side + cx * CELL_PX + px) * 4) as usize;
                    for k in 0..3 {
                        level[i + k] = (rgb[k] * glow * 255.0) as u8;
                    }
                    level[i + 3] = 255;
                }
            }
        }
    }
    // Box-filtered mips down to 1×1.
    let mut data = level.clone();
    let (mut size, mut levels) = (side, 1);
    while size > 1 {
        let half = size / 2;
        let mut next = vec![0u8; (half * half * 4) as usize];
        for y in 0..half {
            for x in 0..half {
                for k in 0..4 {
                    let at = |xx: u32, yy: u32| level[((yy * size + xx) * 4 + k) as usize] as u32;
                    let sum = at(2 * x, 2 * y)
                        + at(2 * x + 1, 2 * y)
                        + at(2 * x, 2 * y + 1)
                        + at(2 * x + 1, 2 * y + 1);
                    next[((y * half + x) * 4 + k) as usize] = (sum / 4) as u8;
                }
            }
        }
        data.extend_from_slice(&next);
        level = next;
        size = half;
        levels += 1;
    }
    let mut image = Image::new_uninit(
        Extent3d {
            width: side,
            height: side,
            depth_or_array_layers: 1,
        },
        TextureDimension::D2,
        TextureFormat::Rgba8UnormSrgb,
        RenderAssetUsages::RENDER_WORLD,
    );
    image.data = Some(data);
    image.texture_descriptor.mip_level_count = levels;
    let mut sampler = ImageSamplerDescriptor::linear();
    sampler.set_address_mode(ImageAddressMode::Repeat);
    image.sampler = ImageSampler::Descriptor(sampler);
    image
}
