//! Benchmarks of the operations layer (`citytwin bench ops`) and the peers they run
//! against. (The feed and city benchmarks still live beside their modules.)

pub mod import;
pub mod ops;
pub mod postgis;
pub mod replay;
pub mod sun;

/// The generated full city (written once into `dir`, by default the system temp dir's
/// `citytwin-bench-full`, and kept between runs): its folder and scene.
pub fn full_city(
    dir: Option<std::path::PathBuf>,
) -> Result<(std::path::PathBuf, crate::scene::Scene), String> {
    use crate::generate::city::{DEFAULT_CITY_SEED, Scale};
    use crate::generate::city_files;
    let scale = Scale::Full;
    let dir = dir
        .unwrap_or_else(|| std::env::temp_dir().join(format!("citytwin-bench-{}", scale.label())));
    let scene_path = dir.join(city_files::SCENE);
    city_files::ensure(scale, DEFAULT_CITY_SEED, &scene_path).map_err(|e| e.to_string())?;
    let scene = crate::scene::Scene::load(&scene_path).map_err(|e| e.to_string())?;
    Ok((dir, scene))
}
