//! The scene's operations settings: alert rules, work-order deadlines, the working-day
//! calendar and video linkage. Every field has a default, so a scene may leave it out.

use crate::feeds::schema::{
    DeviceKind, DeviceStatus, OperatingMode, OrderCategory, OrderSource, Urgency, VehicleKind,
};
use crate::geo::LonLat;
use chrono::NaiveDate;
use serde::{Deserialize, Serialize};

/// How serious an alert is; the wall sorts and colours by it.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, Default,
)]
#[serde(rename_all = "snake_case")]
pub enum Severity {
    Info,
    Minor,
    #[default]
    Major,
    Critical,
}

impl Severity {
    pub const ALL: [Severity; 4] = [
        Severity::Critical,
        Severity::Major,
        Severity::Minor,
        Severity::Info,
    ];
}

/// What makes a rule true for one device report.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub enum Condition {
    /// The reading is at or above `value` (a CH4 %LEL, a bridge strain, a tilt).
    Above { reading: String, value: f64 },
    /// The reading is at or below `value`.
    Below { reading: String, value: f64 },
    /// The reading is outside the band (a water pressure band).
    Outside {
        reading: String,
        low: f64,
        high: f64,
    },
    /// The reading is non-zero (a passenger trapped in an elevator).
    Flag { reading: String },
    /// The device reports this status (`alarm`, `fault`).
    Status(DeviceStatus),
    /// Silent for three of the intervals it promised (`heartbeat_s`).
    MissedHeartbeat,
    /// Online but no reading has changed for this many hours (the door or water
    /// sensor of an elderly person living alone).
    Inactive { hours: f64 },
    /// A key vehicle further from its approved route than the route's corridor.
    OffRoute,
    /// A key vehicle inside a zone closed to its kind at this time of day.
    InRestrictedZone,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RuleSpec {
    /// Unique; a rule named like a built-in one (`device-alarm`, `missed-heartbeat`)
    /// replaces it.
    pub name: String,
    /// What the wall says, e.g. "井盖倾斜"; the name when left out.
    #[serde(default)]
    pub title: Option<String>,
    /// Only devices of this kind; any device when left out.
    #[serde(default)]
    pub kind: Option<DeviceKind>,
    pub when: Condition,
    #[serde(default)]
    pub severity: Severity,
    /// Seconds the condition must hold before the alert fires (pending until then).
    #[serde(default)]
    pub for_s: f64,
    /// Seconds an alert keeps firing after its condition cleared; a reading that
    /// flaps within this raises one alert, not fifty.
    #[serde(default)]
    pub keep_firing_for_s: f64,
    /// `false` turns a built-in rule off.
    #[serde(default = "yes")]
    pub enabled: bool,
}

fn yes() -> bool {
    true
}

/// The rules every scene has unless it replaces them by name.
pub fn builtin_rules() -> Vec<RuleSpec> {
    vec![
        RuleSpec {
            name: "device-alarm".into(),
            title: Some("设备告警 device alarm".into()),
            kind: None,
            when: Condition::Status(DeviceStatus::Alarm),
            severity: Severity::Critical,
            for_s: 0.0,
            keep_firing_for_s: 0.0,
            enabled: true,
        },
        RuleSpec {
            name: "vehicle-off-route".into(),
            title: Some("车辆偏离路线 off route".into()),
            kind: None,
            when: Condition::OffRoute,
            severity: Severity::Major,
            for_s: 0.0,
            keep_firing_for_s: 60.0,
            enabled: true,
        },
        RuleSpec {
            name: "vehicle-restricted-zone".into(),
            title: Some("车辆闯禁区 restricted zone".into()),
            kind: None,
            when: Condition::InRestrictedZone,
            severity: Severity::Major,
            for_s: 0.0,
            keep_firing_for_s: 60.0,
            enabled: true,
        },
        RuleSpec {
            name: "missed-heartbeat".into(),
            title: Some("心跳丢失 missed heartbeats".into()),
            kind: None,
            when: Condition::MissedHeartbeat,
            severity: Severity::Minor,
            for_s: 0.0,
            keep_firing_for_s: 0.0,
            enabled: true,
        },
    ]
}

/// Work-order deadlines.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SlaSpec {
    /// Minutes from first report to signed, unless the message says `sign_deadline`.
    pub sign_minutes: f64,
    /// Per-source sign times that differ from `sign_minutes`.
    pub sign_minutes_by_source: Vec<(OrderSource, f64)>,
    /// Resolution deadlines; the first entry matching the order's category (or any
    /// category) and urgency wins, then the defaults (immediate 2 h, urgent 3 working
    /// days, normal 13 working days).
    pub resolve: Vec<ResolveDeadline>,
    /// Working days overdue after which an overdue order gets a formal notice (a
    /// reminder goes out when it turns overdue).
    pub formal_notice_after_days: u32,
}

impl Default for SlaSpec {
    fn default() -> Self {
        Self {
            sign_minutes: 5.0,
            sign_minutes_by_source: Vec::new(),
            resolve: Vec::new(),
            formal_notice_after_days: 3,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ResolveDeadline {
    #[serde(default)]
    pub category: Option<OrderCategory>,
    pub urgency: Urgency,
    pub within: Within,
}

#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub enum Within {
    /// Clock hours, nights and holidays included.
    Hours(f64),
    /// Working days on the scene's calendar: the deadline is the same time of day
    /// that many working days later.
    WorkingDays(u32),
}

/// Which days are worked: Monday to Friday, less public holidays, plus the make-up
/// working days (调休) that turn a weekend day into a working day.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
#[serde(deny_unknown_fields, default)]
pub struct CalendarSpec {
    pub holidays: Vec<NaiveDate>,
    pub workdays: Vec<NaiveDate>,
}

/// Which cameras are linked to an incident.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct LinkageSpec {
    pub cameras: usize,
    pub radius_m: f64,
    /// How far a camera sees when its message does not say (`range_m`).
    pub default_range_m: f64,
    /// Field of view of a camera with a heading but no `fov_deg`.
    pub default_fov_deg: f64,
}

impl Default for LinkageSpec {
    fn default() -> Self {
        Self {
            cameras: 4,
            radius_m: 300.0,
            default_range_m: 150.0,
            default_fov_deg: 60.0,
        }
    }
}

/// What changes in one operating mode.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ModeSpec {
    pub mode: OperatingMode,
    /// Rules that replace the rule of the same name while the mode is on (e.g. a
    /// lower gas threshold during a major event).
    #[serde(default)]
    pub rules: Vec<RuleSpec>,
    /// Alerts below this severity do not reach the wall in this mode.
    #[serde(default = "lowest")]
    pub wall_min_severity: Severity,
    /// Named views the idle tour visits (the scene's views when empty).
    #[serde(default)]
    pub tour: Vec<String>,
    /// The panel that leads (is shown first) in this mode, e.g. "alerts".
    #[serde(default)]
    pub lead_panel: Option<String>,
}

fn lowest() -> Severity {
    Severity::Info
}

/// Approved routes and restricted zones for key vehicles.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
#[serde(deny_unknown_fields, default)]
pub struct VehicleSpec {
    pub routes: Vec<RouteSpec>,
    pub zones: Vec<ZoneSpec>,
}

/// A tour bus's approved route: a line and how far from it the bus may be.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RouteSpec {
    pub name: String,
    pub line: Vec<LonLat>,
    #[serde(default = "corridor")]
    pub corridor_m: f64,
}

fn corridor() -> f64 {
    100.0
}

/// A zone the given kinds of vehicle may enter only within its time windows (e.g.
/// muck trucks in the old city only 22:00–06:00).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ZoneSpec {
    pub name: String,
    pub ring: Vec<LonLat>,
    pub kinds: Vec<VehicleKind>,
    /// Local (Beijing) times of day when entering is allowed, e.g. ("22:00", "06:00");
    /// none: never allowed.
    #[serde(default)]
    pub allowed: Vec<(chrono::NaiveTime, chrono::NaiveTime)>,
    #[serde(default)]
    pub severity: Severity,
}

/// While an alert of `source_rule` fires, alerts of `target_rules` in the same
/// district (or grid, or anywhere) are muted: a district's power cut mutes the
/// offline devices it causes.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct InhibitSpec {
    pub source_rule: String,
    pub target_rules: Vec<String>,
    #[serde(default)]
    pub same: InhibitScope,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum InhibitScope {
    #[default]
    District,
    Grid,
    /// Anywhere in the city.
    City,
}

/// All of the above, as the scene's `operations` section.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
#[serde(deny_unknown_fields, default)]
pub struct OperationsSpec {
    pub rules: Vec<RuleSpec>,
    pub sla: SlaSpec,
    pub calendar: CalendarSpec,
    pub linkage: LinkageSpec,
    /// Hours a message may be dated ahead of its source before it is refused (48).
    pub max_clock_jump_h: Option<f64>,
    /// A device or camera offline and silent this many hours is retired: its entity
    /// leaves memory and the counts (default 168, a week; it comes back, as new, if it
    /// reports again).
    pub retire_after_h: Option<f64>,
    /// Per operating mode: rule overrides, what reaches the wall, the tour, the lead
    /// panel. A mode not listed runs the scene's rules as they are.
    pub modes: Vec<ModeSpec>,
    pub vehicles: VehicleSpec,
    /// Inhibitions besides the built-in one (a feed that is down mutes the
    /// missed-heartbeat alerts of its devices).
    pub inhibit: Vec<InhibitSpec>,
    /// Operators whose actions are accepted from feeds (control topics, recordings);
    /// empty: actions from feeds are refused. The wall's own UI is not limited here.
    pub operators: Vec<String>,
    /// The wall's operator journal (relative to the scene file): every action taken
    /// on the wall, appended as `operator` feed messages that a `replay:` source plays
    /// back. None: not kept (`citytwin wall --journal FILE` sets one too).
    pub journal: Option<String>,
}

impl OperationsSpec {
    /// The built-in rules, replaced or extended by the scene's, in a stable order.
    pub fn effective_rules(&self) -> Vec<RuleSpec> {
        let mut rules = builtin_rules();
        for rule in &self.rules {
            match rules.iter_mut().find(|r| r.name == rule.name) {
                Some(slot) => *slot = rule.clone(),
                None => rules.push(rule.clone()),
            }
        }
        rules.retain(|r| r.enabled);
        rules
    }

    /// The rules in force in `mode`: the scene's, with the mode's replacing theirs by
    /// name (same order, so a rule keeps its place across modes).
    pub fn rules_in_mode(&self, mode: crate::feeds::schema::OperatingMode) -> Vec<RuleSpec> {
        let mut rules = self.effective_rules();
        for m in self.modes.iter().filter(|m| m.mode == mode) {
            for r in &m.rules {
                if let Some(slot) = rules.iter_mut().find(|e| e.name == r.name) {
                    *slot = r.clone();
                }
            }
        }
        rules
    }

    /// What is wrong with the numbers, naming the rule or setting.
    pub fn validate(&self) -> Result<(), String> {
        let mut names = std::collections::HashSet::new();
        for r in &self.rules {
            if !names.insert(&r.name) {
                return Err(format!("operations.rules: '{}' appears twice", r.name));
            }
        }
        for r in self
            .rules
            .iter()
            .chain(self.modes.iter().flat_map(|m| &m.rules))
        {
            let times = [
                ("for_s", r.for_s),
                ("keep_firing_for_s", r.keep_firing_for_s),
            ];
            for (what, v) in times {
                if !v.is_finite() || !(0.0..=30.0 * 86_400.0).contains(&v) {
                    return Err(format!(
                        "operations.rules '{}': {what} {v} is not within 0–30 days",
                        r.name
                    ));
                }
            }
            let numbers: Vec<f64> = match &r.when {
                Condition::Above { value, .. } | Condition::Below { value, .. } => vec![*value],
                Condition::Outside { low, high, .. } if low > high => {
                    return Err(format!(
                        "operations.rules '{}': band low {low} is above high {high}",
                        r.name
                    ));
                }
                Condition::Outside { low, high, .. } => vec![*low, *high],
                Condition::Inactive { hours } if !(*hours > 0.0 && *hours <= 24.0 * 365.0) => {
                    return Err(format!(
                        "operations.rules '{}': inactive hours {hours} is not within 0–8760",
                        r.name
                    ));
                }
                _ => vec![],
            };
            if numbers.iter().any(|v| !v.is_finite()) {
                return Err(format!(
                    "operations.rules '{}': a threshold is not finite",
                    r.name
                ));
            }
        }
        let rules = self.effective_rules();
        for m in &self.modes {
            for r in &m.rules {
                if !rules.iter().any(|e| e.name == r.name) {
                    return Err(format!(
                        "operations.modes {:?}: rule '{}' replaces no rule of the scene",
                        m.mode, r.name
                    ));
                }
            }
        }
        for i in &self.inhibit {
            for name in std::iter::once(&i.source_rule).chain(&i.target_rules) {
                if !rules.iter().any(|e| e.name == *name) {
                    return Err(format!("operations.inhibit: no rule named '{name}'"));
                }
            }
        }
        for r in &self.vehicles.routes {
            if r.line.len() < 2 || r.line.iter().any(|p| !p.is_valid()) {
                return Err(format!(
                    "operations.vehicles route '{}': a line of 2+ valid points",
                    r.name
                ));
            }
            if !(r.corridor_m > 0.0 && r.corridor_m <= 10_000.0) {
                return Err(format!(
                    "operations.vehicles route '{}': corridor_m within 0–10,000",
                    r.name
                ));
            }
        }
        for z in &self.vehicles.zones {
            if z.ring.len() < 3 || z.ring.iter().any(|p| !p.is_valid()) {
                return Err(format!(
                    "operations.vehicles zone '{}': a ring of 3+ valid points",
                    z.name
                ));
            }
        }
        let l = &self.linkage;
        if l.cameras > 64
            || !(l.radius_m > 0.0 && l.radius_m <= 10_000.0)
            || !(l.default_range_m > 0.0 && l.default_range_m <= 10_000.0)
            || !(l.default_fov_deg > 0.0 && l.default_fov_deg <= 360.0)
        {
            return Err("operations.linkage: cameras ≤ 64, radius and range within 0–10 km, fov within 0–360°".into());
        }
        let s = &self.sla;
        let sign =
            std::iter::once(s.sign_minutes).chain(s.sign_minutes_by_source.iter().map(|x| x.1));
        for m in sign {
            if !(m > 0.0 && m <= 30.0 * 1440.0) {
                return Err(format!(
                    "operations.sla: sign time {m} min is not within 0–30 days"
                ));
            }
        }
        for d in &s.resolve {
            match d.within {
                Within::Hours(h) if !(h > 0.0 && h <= 24.0 * 365.0) => {
                    return Err(format!("operations.sla: {h} hours is not within 0–8760"));
                }
                Within::WorkingDays(n) if n == 0 || n > 365 => {
                    return Err(format!(
                        "operations.sla: {n} working days is not within 1–365"
                    ));
                }
                _ => {}
            }
        }
        if let Some(h) = self.retire_after_h
            && !(h > 0.0 && h <= 87_600.0)
        {
            return Err(format!(
                "operations.retire_after_h {h} is not within 0–87600"
            ));
        }
        if let Some(h) = self.max_clock_jump_h
            && !(h > 0.0 && h <= 24.0 * 3650.0)
        {
            return Err(format!(
                "operations.max_clock_jump_h {h} is not within 0–87600"
            ));
        }
        Ok(())
    }
}
