//! The planners' tools (issue 15): renovation projects and their scenarios, metrics,
//! the 一拆五改三增加 checklist, sunlight hours to GB 50180, notes and the review report.

pub mod cli;
pub mod metrics;
pub mod notes;
pub mod project;
pub mod report;
pub mod review;
pub mod shadow;
pub mod sun;
