//! Key vehicles (一网统管's tour buses and muck trucks): whether a report is off its
//! approved route's corridor, or inside a zone closed to its kind at that hour. The
//! alert engine turns these into alerts like any other rule.

use crate::feeds::schema::{VehicleKind, VehicleReport};
use crate::geo::{LocalFrame, LonLat};
use crate::scene::ops::VehicleSpec;
use bevy::prelude::*;
use chrono::{DateTime, FixedOffset, NaiveTime};
use geo::{Contains, Coord, Distance, Euclidean, LineString, Point, Polygon};
use serde::Serialize;
use std::collections::BTreeMap;

struct Route {
    name: String,
    line: LineString<f64>,
    corridor_m: f64,
}

struct Zone {
    shape: Polygon<f64>,
    kinds: Vec<VehicleKind>,
    allowed: Vec<(NaiveTime, NaiveTime)>,
}

/// Routes and zones in the scene's local frame.
#[derive(Resource, Default)]
pub struct VehicleRules {
    routes: Vec<Route>,
    zones: Vec<Zone>,
}

/// What one report says about the rules.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct VehicleCheck {
    /// `None` when the vehicle names no known route (nothing to be off).
    pub off_route: Option<bool>,
    pub in_restricted_zone: bool,
}

impl VehicleRules {
    pub fn new(spec: &VehicleSpec, frame: &LocalFrame) -> Self {
        let local = |p: &LonLat| {
            frame.to_local(*p).ok().map(|l| Coord {
                x: l.east_m,
                y: l.north_m,
            })
        };
        Self {
            routes: spec
                .routes
                .iter()
                .map(|r| Route {
                    name: r.name.clone(),
                    line: LineString(r.line.iter().filter_map(local).collect()),
                    corridor_m: r.corridor_m,
                })
                .collect(),
            zones: spec
                .zones
                .iter()
                .map(|z| Zone {
                    shape: Polygon::new(
                        LineString(z.ring.iter().filter_map(local).collect()),
                        vec![],
                    ),
                    kinds: z.kinds.clone(),
                    allowed: z.allowed.clone(),
                })
                .collect(),
        }
    }

    /// The approved routes: name and line (local metres).
    pub fn routes(&self) -> impl Iterator<Item = (&str, &LineString<f64>)> {
        self.routes.iter().map(|r| (r.name.as_str(), &r.line))
    }

    pub fn check(
        &self,
        v: &VehicleReport,
        ts: DateTime<FixedOffset>,
        frame: &LocalFrame,
    ) -> VehicleCheck {
        let Ok(p) = frame.to_local(v.position) else {
            return VehicleCheck {
                off_route: None,
                in_restricted_zone: false,
            };
        };
        let point = Point::new(p.east_m, p.north_m);
        let off_route = v
            .route
            .as_deref()
            .and_then(|name| self.routes.iter().find(|r| r.name == name))
            .map(|r| Euclidean.distance(&point, &r.line) > r.corridor_m);
        let time = ts.with_timezone(&super::beijing()).time();
        let in_restricted_zone = self.zones.iter().any(|z| {
            z.kinds.contains(&v.kind)
                && z.shape.contains(&point)
                && !z.allowed.iter().any(|w| within(time, *w))
        });
        VehicleCheck {
            off_route,
            in_restricted_zone,
        }
    }
}

/// Whether `t` is in the window; a window may cross midnight (22:00–06:00).
fn within(t: NaiveTime, (from, to): (NaiveTime, NaiveTime)) -> bool {
    if from <= to {
        from <= t && t < to
    } else {
        t >= from || t < to
    }
}

/// The latest report of every key vehicle.
#[derive(Resource, Debug, Default, Serialize)]
pub struct Vehicles(pub BTreeMap<String, (DateTime<FixedOffset>, VehicleReport)>);
