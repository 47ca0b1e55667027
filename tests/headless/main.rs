//! Headless tests: the whole pipeline (scene → GIS → ECS, feeds → entities) with
//! `MinimalPlugins`, no window, no GPU.

#[path = "../common/mod.rs"]
mod common;

mod bad_input;
mod city;
mod day;
mod demo;
mod docs;
mod feeds;
mod formats;
mod fuzz;
mod gen_city;
mod geo;
mod http;
mod mqtt;
mod ops;
mod overlays;
mod plan;
mod recording;
mod repair;
mod review;
mod sun;
mod timeline;
mod units;
