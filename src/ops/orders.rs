//! Work orders as a lifecycle: sign and resolution deadlines on a working-day
//! calendar, overdue orders escalated (a reminder when overdue, a formal notice after
//! more working days), each deadline taking effect at its exact twin time.

use super::clock::TwinClock;
use super::history::{Level, LevelChange};
use super::timers::Timers;
use crate::feeds::ingest::WorkOrderChanged;
use crate::feeds::schema::{
    AdminLevel, OrderCategory, OrderSource, OrderStatus, Text, Urgency, WorkOrderEvent,
};
use crate::geo::LonLat;
use crate::scene::ops::{CalendarSpec, SlaSpec, Within};
use bevy::prelude::*;
use chrono::{DateTime, Datelike, FixedOffset, NaiveDate, TimeDelta, Weekday};
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, HashSet};

/// Closed orders are kept this long (twin time) after closing.
pub const CLOSED_RETENTION: TimeDelta = TimeDelta::hours(24);

/// Which days are worked: Monday–Friday, less holidays, plus make-up days (调休).
#[derive(Debug, Clone, Default)]
pub struct WorkCalendar {
    holidays: HashSet<NaiveDate>,
    workdays: HashSet<NaiveDate>,
}

impl WorkCalendar {
    pub fn new(spec: &CalendarSpec) -> Self {
        Self {
            holidays: spec.holidays.iter().copied().collect(),
            workdays: spec.workdays.iter().copied().collect(),
        }
    }

    pub fn is_working_day(&self, d: NaiveDate) -> bool {
        if self.workdays.contains(&d) {
            return true;
        }
        !self.holidays.contains(&d) && !matches!(d.weekday(), Weekday::Sat | Weekday::Sun)
    }

    /// The same time of day `n` working days after `t` (days counted after t's date).
    pub fn add_working_days(&self, t: DateTime<FixedOffset>, n: u32) -> DateTime<FixedOffset> {
        let mut date = t.date_naive();
        let mut left = n;
        // A calendar with no working day at all would loop forever: give up after
        // ten years and count plain days.
        let mut guard = 0;
        while left > 0 && guard < 3650 {
            date = date.succ_opt().unwrap_or(date);
            guard += 1;
            if self.is_working_day(date) {
                left -= 1;
            }
        }
        if left > 0 {
            return t + TimeDelta::days(i64::from(n));
        }
        let time = t.time();
        date.and_time(time)
            .and_local_timezone(*t.offset())
            .single()
            .unwrap_or(t + TimeDelta::days(i64::from(n)))
    }
}

/// The deadlines of the scene's `operations.sla`.
#[derive(Resource, Debug, Clone, Default)]
pub struct SlaPolicy {
    pub spec: SlaSpec,
    pub calendar: WorkCalendar,
}

impl SlaPolicy {
    pub fn new(spec: SlaSpec, calendar: &CalendarSpec) -> Self {
        Self {
            spec,
            calendar: WorkCalendar::new(calendar),
        }
    }

    pub fn sign_deadline(
        &self,
        order: &WorkOrderEvent,
        reported: DateTime<FixedOffset>,
    ) -> DateTime<FixedOffset> {
        if let Some(d) = order.sign_deadline {
            return d;
        }
        let minutes = self
            .spec
            .sign_minutes_by_source
            .iter()
            .find(|(s, _)| *s == order.source)
            .map_or(self.spec.sign_minutes, |(_, m)| *m);
        reported + TimeDelta::milliseconds((minutes * 60_000.0).round() as i64)
    }

    pub fn resolve_deadline(
        &self,
        category: OrderCategory,
        urgency: Urgency,
        reported: DateTime<FixedOffset>,
    ) -> DateTime<FixedOffset> {
        let within = self
            .spec
            .resolve
            .iter()
            .find(|d| d.urgency == urgency && d.category.is_none_or(|c| c == category))
            .map(|d| d.within)
            .unwrap_or(match urgency {
                Urgency::Immediate => Within::Hours(2.0),
                Urgency::Urgent => Within::WorkingDays(3),
                Urgency::Normal => Within::WorkingDays(13),
            });
        match within {
            Within::Hours(h) => {
                reported + TimeDelta::milliseconds((h * 3_600_000.0).round() as i64)
            }
            Within::WorkingDays(n) => self.calendar.add_working_days(reported, n),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Escalation {
    None,
    /// Sent when the resolution deadline passed.
    Reminder,
    /// Sent `formal_notice_after_days` working days after that.
    FormalNotice,
}

/// One work order as operations follow it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OrderSla {
    pub id: String,
    pub source: OrderSource,
    pub category: OrderCategory,
    pub urgency: Urgency,
    pub status: OrderStatus,
    pub position: Option<LonLat>,
    pub district: Option<String>,
    /// The street office (街道) containing it.
    pub street: Option<String>,
    pub grid: Option<String>,
    pub reported_at: DateTime<FixedOffset>,
    /// Already under way when first seen (its message said when it was reported): it
    /// is not counted among the orders reported in the history's minutes.
    pub carried: bool,
    pub signed_at: Option<DateTime<FixedOffset>>,
    pub resolved_at: Option<DateTime<FixedOffset>>,
    pub closed_at: Option<DateTime<FixedOffset>>,
    pub sign_deadline: DateTime<FixedOffset>,
    pub resolve_deadline: DateTime<FixedOffset>,
    /// Not signed by its sign deadline (stays true once signed late).
    pub signed_late: bool,
    /// Not resolved by its resolution deadline.
    pub overdue: bool,
    pub escalation: Escalation,
    pub escalated_at: Option<DateTime<FixedOffset>>,
    pub satisfaction: Option<u8>,
    /// Linked cameras (feed ids), nearest first.
    pub cameras: Vec<Text>,
    /// Alerts at the same place shortly before (the likely cause).
    pub alerts: Vec<String>,
    /// 三跨, computed: the districts its place and related places fall in, the
    /// departments and the administrative levels involved.
    pub three_cross: ThreeCross,
    pub districts: Vec<String>,
    pub departments: Vec<String>,
    pub levels: Vec<AdminLevel>,
}

/// 三跨: whether an order crosses districts, departments or levels.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ThreeCross {
    pub district: bool,
    pub department: bool,
    pub level: bool,
}

impl ThreeCross {
    pub fn any(&self) -> bool {
        self.district || self.department || self.level
    }
}

impl OrderSla {
    pub fn is_open(&self) -> bool {
        self.status != OrderStatus::Closed
    }

    fn resolved(&self) -> bool {
        matches!(self.status, OrderStatus::Resolved | OrderStatus::Closed)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
enum Due {
    Sign,
    Resolve,
    Notice,
}

/// Every order of the last day (open ones however old), with totals that outlive them.
#[derive(Resource, Debug, Default, Clone, Serialize, Deserialize)]
pub struct OrderBook {
    pub orders: BTreeMap<String, OrderSla>,
    timers: Timers<(String, Due)>,
    /// Orders created since the last frame (linkage).
    #[serde(skip)]
    pub newly_reported: Vec<String>,
    pub totals: OrderTotals,
    /// Orders opened, closed and turned overdue this frame, with their times (the
    /// history's minutes).
    #[serde(skip)]
    pub(crate) level_changes: Vec<LevelChange>,
    /// Changes whenever an order is reported or changes status (and differs between
    /// books), so what is drawn from the open orders can be kept until it does.
    #[serde(skip)]
    revision: u64,
}

/// The source of [`OrderBook::revision`]s: unique across books, so a book made anew
/// (a replay's seek) never shows an old book's number.
static REVISIONS: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(1);

/// Running sums for the KPIs (kept when orders leave memory).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct OrderTotals {
    pub reported: u64,
    pub signed: u64,
    pub sign_seconds: f64,
    pub resolved: u64,
    pub resolve_seconds: f64,
    pub closed: u64,
    pub satisfaction_sum: u64,
    pub satisfaction_n: u64,
    /// Closed with satisfaction 4 or 5.
    pub satisfied: u64,
}

impl OrderBook {
    /// Whether the order is open, and open and overdue.
    fn levels(&self, id: &str) -> (bool, bool) {
        self.orders
            .get(id)
            .map_or((false, false), |o| (o.is_open(), o.is_open() && o.overdue))
    }

    /// Files what changed in the order's levels at `at`, from `before`.
    fn file_levels(&mut self, id: &str, at: DateTime<FixedOffset>, before: (bool, bool)) {
        let after = self.levels(id);
        let Some(o) = self.orders.get(id) else {
            return;
        };
        for (level, was, is) in [
            (Level::OrdersOpen, before.0, after.0),
            (Level::OrdersOverdue, before.1, after.1),
        ] {
            if was != is {
                let delta = if is { 1 } else { -1 };
                let change = LevelChange::placed(at, level, delta, &o.district, &o.grid);
                self.level_changes.push(change);
            }
        }
    }

    /// See the field: changes with every order reported or changed.
    pub fn revision(&self) -> u64 {
        self.revision
    }

    /// Takes a new revision (a book restored from a checkpoint).
    pub(crate) fn renew(&mut self) {
        self.revision = REVISIONS.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    }

    fn change(
        &mut self,
        policy: &SlaPolicy,
        c: &WorkOrderChanged,
        place: super::alerts::Place,
        districts: &[String],
    ) {
        self.revision = REVISIONS.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let before = self.levels(&c.id);
        self.apply_change(policy, c, place, districts);
        self.file_levels(&c.id, c.ts, before);
    }

    fn apply_change(
        &mut self,
        policy: &SlaPolicy,
        c: &WorkOrderChanged,
        place: super::alerts::Place,
        districts: &[String],
    ) {
        let order = &*c.order;
        if !self.orders.contains_key(&c.id) {
            let urgency = order.urgency.unwrap_or(Urgency::Normal);
            // An order already under way when first seen dates from its own report;
            // how long its signing or resolving took, when already done, is unknown
            // and left out of the means.
            let reported_at = order.reported_at.filter(|r| *r < c.ts).unwrap_or(c.ts);
            let carried = reported_at < c.ts;
            let done_before = |s: OrderStatus| (carried && c.to >= s).then_some(c.ts);
            let sla = OrderSla {
                id: c.id.clone(),
                source: order.source,
                category: order.category,
                urgency,
                status: OrderStatus::Reported,
                position: order.position,
                district: place.district,
                street: place.street,
                grid: order.grid.clone().or(place.grid),
                reported_at,
                carried,
                signed_at: done_before(OrderStatus::Signed),
                resolved_at: done_before(OrderStatus::Resolved),
                closed_at: None,
                sign_deadline: policy.sign_deadline(order, reported_at),
                resolve_deadline: policy.resolve_deadline(order.category, urgency, reported_at),
                signed_late: false,
                overdue: false,
                escalation: Escalation::None,
                escalated_at: None,
                satisfaction: None,
                cameras: Vec::new(),
                alerts: Vec::new(),
                three_cross: ThreeCross::default(),
                districts: Vec::new(),
                departments: Vec::new(),
                levels: Vec::new(),
            };
            self.timers.at(sla.sign_deadline, (c.id.clone(), Due::Sign));
            self.timers
                .at(sla.resolve_deadline, (c.id.clone(), Due::Resolve));
            self.orders.insert(c.id.clone(), sla);
            self.newly_reported.push(c.id.clone());
            self.totals.reported += 1;
        }
        let Some(o) = self.orders.get_mut(&c.id) else {
            return;
        };
        // What a message adds to the places, departments and levels involved.
        let add = |list: &mut Vec<String>, v: &str| {
            if !list.iter().any(|x| x == v) {
                list.push(v.to_string());
            }
        };
        for d in districts {
            add(&mut o.districts, d);
        }
        for d in order.department.iter().chain(&order.departments) {
            add(&mut o.departments, d);
        }
        for l in &order.levels {
            if !o.levels.contains(l) {
                o.levels.push(*l);
            }
        }
        o.three_cross = ThreeCross {
            district: o.districts.len() > 1,
            department: o.departments.len() > 1,
            level: o.levels.len() > 1,
        };
        let reopened = o.status == OrderStatus::Closed && c.to != OrderStatus::Closed;
        o.status = c.to;
        if reopened {
            o.closed_at = None;
        }
        if c.to >= OrderStatus::Signed && o.signed_at.is_none() {
            o.signed_at = Some(c.ts);
            o.signed_late |= c.ts > o.sign_deadline;
            self.totals.signed += 1;
            self.totals.sign_seconds += (c.ts - o.reported_at).num_milliseconds() as f64 / 1000.0;
        }
        if c.to >= OrderStatus::Resolved && o.resolved_at.is_none() {
            o.resolved_at = Some(c.ts);
            o.overdue |= c.ts > o.resolve_deadline;
            self.totals.resolved += 1;
            self.totals.resolve_seconds +=
                (c.ts - o.reported_at).num_milliseconds() as f64 / 1000.0;
        }
        if c.to == OrderStatus::Closed {
            o.closed_at = Some(c.ts);
            self.totals.closed += 1;
            if let Some(s) = order.satisfaction {
                o.satisfaction = Some(s);
                self.totals.satisfaction_sum += u64::from(s);
                self.totals.satisfaction_n += 1;
                if s >= 4 {
                    self.totals.satisfied += 1;
                }
            }
        }
    }

    fn on_due(&mut self, policy: &SlaPolicy, due: DateTime<FixedOffset>, id: String, what: Due) {
        let before = self.levels(&id);
        self.apply_due(policy, due, &id, what);
        self.file_levels(&id, due, before);
    }

    fn apply_due(&mut self, policy: &SlaPolicy, due: DateTime<FixedOffset>, id: &str, what: Due) {
        let Some(o) = self.orders.get_mut(id) else {
            return;
        };
        match what {
            Due::Sign => {
                if o.signed_at.is_none() {
                    o.signed_late = true;
                }
            }
            Due::Resolve => {
                if !o.resolved() {
                    o.overdue = true;
                    o.escalation = Escalation::Reminder;
                    o.escalated_at = Some(due);
                    let notice = policy
                        .calendar
                        .add_working_days(due, policy.spec.formal_notice_after_days);
                    self.timers.at(notice, (id.to_string(), Due::Notice));
                }
            }
            Due::Notice => {
                if !o.resolved() {
                    o.escalation = Escalation::FormalNotice;
                    o.escalated_at = Some(due);
                }
            }
        }
    }

    fn run_timers(&mut self, policy: &SlaPolicy, t: DateTime<FixedOffset>) {
        while let Some((due, (id, what))) = self.timers.pop_due(t) {
            self.on_due(policy, due, id, what);
        }
    }

    /// Orders waiting to be signed past their sign deadline at `now`.
    pub fn unsigned_overdue(&self, now: DateTime<FixedOffset>) -> usize {
        self.orders
            .values()
            .filter(|o| o.signed_at.is_none() && o.sign_deadline <= now && o.is_open())
            .count()
    }

    /// Open orders past their resolution deadline.
    pub fn overdue_open(&self) -> usize {
        self.orders
            .values()
            .filter(|o| o.is_open() && o.overdue)
            .count()
    }

    fn prune(&mut self, now: DateTime<FixedOffset>) {
        self.orders
            .retain(|_, o| o.closed_at.is_none_or(|c| c + CLOSED_RETENTION >= now));
    }
}

pub(super) fn plugin(app: &mut App) {
    app.init_resource::<OrderBook>()
        .init_resource::<SlaPolicy>()
        .add_systems(
            Update,
            // Rules lies in TwinSet::Ops (ops::plugin).
            follow_orders.in_set(super::OpsSet::Rules),
        );
}

fn follow_orders(
    mut changes: MessageReader<WorkOrderChanged>,
    policy: Res<SlaPolicy>,
    clock: Res<TwinClock>,
    frame: Option<NonSend<crate::geo::SceneFrame>>,
    areas: Res<crate::spatial::AreaIndex>,
    mut book: ResMut<OrderBook>,
) {
    let places = super::alerts::Places {
        frame: frame.as_deref().map(|f| &f.0),
        areas: &areas,
    };
    let book = book.as_mut();
    book.newly_reported.clear();
    for c in changes.read() {
        book.run_timers(&policy, c.ts);
        let place = places.of(c.order.position);
        let districts: Vec<String> = place
            .district
            .iter()
            .cloned()
            .chain(
                c.order
                    .related
                    .iter()
                    .filter_map(|p| places.of(Some(*p)).district),
            )
            .collect();
        book.change(&policy, c, place, &districts);
    }
    let now = clock.now();
    book.run_timers(&policy, now);
    book.prune(now);
}
