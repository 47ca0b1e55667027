//! The planners' tools (issue 15): sunlight hours to GB 50180 and scenario metrics so
//! far; the plan layout, views, measuring, notes and the review report are to come.

pub mod metrics;
pub mod sun;
