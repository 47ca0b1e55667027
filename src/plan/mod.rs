//! The planners' tools (issue 15): sunlight hours to GB 50180 so far; the plan layout,
//! metrics, measuring, notes and the review report are to come.

pub mod sun;
