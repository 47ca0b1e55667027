//! Benchmarks of the operations layer (`citytwin bench ops`) and the peers they run
//! against. (The feed and city benchmarks still live beside their modules.)

pub mod import;
pub mod ops;
pub mod postgis;
