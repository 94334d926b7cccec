//! The `PUT /sla` body (SPEC §10) parsed into a policy: targets per priority and an optional
//! business-hours calendar. A policy that parses is one the clocks can always compute with.
//!
//! The rules, beyond SPEC §1 (wrong JSON types and `null` are a `400` naming the field, strings
//! are trimmed, unknown fields are ignored):
//! - `targets` is required: an object keyed `"1"` to `"4"` (any other key is a `400`: a typo
//!   must not silently drop a target). A priority left out has no SLA; `{}` turns SLAs off.
//!   A target sets `firstResponseMinutes`, `resolutionMinutes` or both: integers 1–525600
//!   (a year of minutes).
//! - `businessHours` is optional (left out: targets count calendar time). `timezone` is an IANA
//!   name, exact case (`Europe/Berlin`, `UTC`). `days` is an object keyed `mon` … `sun` (others
//!   are a `400`), each a list of `HH:MM-HH:MM` ranges (see `calendar.rs`: no range crosses
//!   midnight, none overlap); a day left out or `[]` is closed; a week with no hours is a `400`.
//!   `holidays` (optional) lists local dates `YYYY-MM-DD`.
//! - Holidays, "1–365 days ahead" (issue 31), read as a window around the day of the `PUT` in
//!   the policy's zone: no date more than 365 days ahead (a list for the coming year), none more
//!   than 365 days past (a year-old configuration read with `GET /sla` can be sent back; past
//!   dates do no harm, a policy only applies to tickets created after it). Repeats are merged.
//! - With business hours, each target must be reachable within 520 weeks (10 years) of the
//!   schedule's hours: 525600 minutes needs about 17 hours a week. This keeps every due time
//!   far inside the calendar's horizon.
//!
//! [`SlaPolicy::to_json`] answers the same shape (`GET /sla`, and what the store keeps):
//! priorities and days in order, closed days and absent targets left out, holidays sorted.
//! [`SlaPolicy::restore`] reads a stored policy back without the holiday window, which only
//! applies on the day a policy is set.

use super::calendar::{
    BusinessHours, Calendar, DayHours, HoursError, TimeRange, WeekSchedule, Zone,
};
use crate::model::{Invalid, Priority, Timestamp};
use chrono::{Days, NaiveDate, Weekday};
use serde_json::{Map, Value, json};

/// The largest target: a year of minutes.
pub const MAX_TARGET_MINUTES: u32 = 525_600;

/// How far from the day of the `PUT` a holiday may lie, either way.
pub const HOLIDAY_WINDOW_DAYS: u64 = 365;

/// A target must be reachable within this many weeks of business hours.
pub const MAX_TARGET_WEEKS: u32 = 520;

/// A target in minutes, 1–525600.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct TargetMinutes(u32);

impl TargetMinutes {
    pub fn new(minutes: i64) -> Option<Self> {
        u32::try_from(minutes)
            .ok()
            .filter(|m| (1..=MAX_TARGET_MINUTES).contains(m))
            .map(Self)
    }

    pub fn get(self) -> u32 {
        self.0
    }
}

/// One priority's targets: at least one of the two is set.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Target {
    first_response: Option<TargetMinutes>,
    resolution: Option<TargetMinutes>,
}

impl Target {
    /// None when neither is set: that is no target at all.
    pub fn new(
        first_response: Option<TargetMinutes>,
        resolution: Option<TargetMinutes>,
    ) -> Option<Self> {
        (first_response.is_some() || resolution.is_some()).then_some(Self {
            first_response,
            resolution,
        })
    }

    pub fn first_response(self) -> Option<TargetMinutes> {
        self.first_response
    }

    pub fn resolution(self) -> Option<TargetMinutes> {
        self.resolution
    }
}

/// The service levels in force: targets per priority, counted on a calendar.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SlaPolicy {
    /// Index 0 is priority 1.
    targets: [Option<Target>; 4],
    calendar: Calendar,
}

/// The fields named in errors, one `&'static str` each.
const TARGET_FIELDS: [[&str; 3]; 4] = [
    [
        "targets.1",
        "targets.1.firstResponseMinutes",
        "targets.1.resolutionMinutes",
    ],
    [
        "targets.2",
        "targets.2.firstResponseMinutes",
        "targets.2.resolutionMinutes",
    ],
    [
        "targets.3",
        "targets.3.firstResponseMinutes",
        "targets.3.resolutionMinutes",
    ],
    [
        "targets.4",
        "targets.4.firstResponseMinutes",
        "targets.4.resolutionMinutes",
    ],
];

/// Day keys, Monday first, with the field each names.
const DAYS: [(&str, &str); 7] = [
    ("mon", "businessHours.days.mon"),
    ("tue", "businessHours.days.tue"),
    ("wed", "businessHours.days.wed"),
    ("thu", "businessHours.days.thu"),
    ("fri", "businessHours.days.fri"),
    ("sat", "businessHours.days.sat"),
    ("sun", "businessHours.days.sun"),
];

const WEEKDAYS: [Weekday; 7] = [
    Weekday::Mon,
    Weekday::Tue,
    Weekday::Wed,
    Weekday::Thu,
    Weekday::Fri,
    Weekday::Sat,
    Weekday::Sun,
];

fn object<'a>(v: &'a Value, field: &'static str) -> Result<&'a Map<String, Value>, Invalid> {
    v.as_object()
        .ok_or_else(|| Invalid::new(field, format!("{field} must be an object.")))
}

fn string<'a>(v: &'a Value, field: &'static str, what: &str) -> Result<&'a str, Invalid> {
    v.as_str()
        .map(str::trim)
        .ok_or_else(|| Invalid::new(field, format!("{field} must be {what}.")))
}

/// Minutes: a JSON integer (`30` or `30.0`; not `"30"`, not `30.5`) within 1–525600.
fn minutes(v: &Value, field: &'static str) -> Result<TargetMinutes, Invalid> {
    let n = match v {
        Value::Number(n) => n.as_i64().or_else(|| {
            n.as_f64()
                .filter(|f| f.fract() == 0.0 && f.abs() < 1e15)
                .map(|f| f as i64)
        }),
        _ => None,
    };
    n.and_then(TargetMinutes::new).ok_or_else(|| {
        Invalid::new(
            field,
            format!("{field} must be an integer from 1 to {MAX_TARGET_MINUTES} (minutes)."),
        )
    })
}

fn parse_targets(v: Option<&Value>) -> Result<[Option<Target>; 4], Invalid> {
    let v = v.ok_or_else(|| Invalid::new("targets", "targets is required."))?;
    let map = v.as_object().ok_or_else(|| {
        Invalid::new(
            "targets",
            "targets must be an object keyed by priority, \"1\" (extreme) to \"4\" (low).",
        )
    })?;
    let mut targets = [None; 4];
    for (key, value) in map {
        let Some(i) = ["1", "2", "3", "4"].iter().position(|k| k == key) else {
            return Err(Invalid::new(
                "targets",
                format!(
                    "targets has an unknown priority {key:?}: the keys are \"1\" (extreme) to \"4\" (low)."
                ),
            ));
        };
        let [field, fr_field, res_field] = TARGET_FIELDS[i];
        let t = object(value, field)?;
        let first = t
            .get("firstResponseMinutes")
            .map(|v| minutes(v, fr_field))
            .transpose()?;
        let resolution = t
            .get("resolutionMinutes")
            .map(|v| minutes(v, res_field))
            .transpose()?;
        targets[i] = Some(Target::new(first, resolution).ok_or_else(|| {
            Invalid::new(
                field,
                format!("{field} must set firstResponseMinutes, resolutionMinutes or both."),
            )
        })?);
    }
    Ok(targets)
}

fn parse_week(v: Option<&Value>) -> Result<WeekSchedule, Invalid> {
    let field = "businessHours.days";
    let v = v.ok_or_else(|| {
        Invalid::new(
            field,
            "businessHours.days is required, e.g. {\"mon\": [\"09:00-17:00\"]}.",
        )
    })?;
    let map = object(v, field)?;
    let mut week: [DayHours; 7] = Default::default();
    for (key, value) in map {
        let Some(i) = DAYS.iter().position(|(k, _)| k == key) else {
            return Err(Invalid::new(
                field,
                format!(
                    "businessHours.days has an unknown day {key:?}: the keys are mon, tue, wed, thu, fri, sat and sun."
                ),
            ));
        };
        let day_field = DAYS[i].1;
        let bad = |e: HoursError| Invalid::new(day_field, format!("{day_field}: {e}"));
        let list = value.as_array().ok_or_else(|| {
            Invalid::new(
                day_field,
                format!("{day_field} must be a list of ranges such as \"09:00-17:00\"."),
            )
        })?;
        let ranges = list
            .iter()
            .map(|r| {
                let raw = string(r, day_field, "a list of ranges such as \"09:00-17:00\"")?;
                TimeRange::parse(raw).map_err(bad)
            })
            .collect::<Result<Vec<_>, _>>()?;
        week[i] = DayHours::new(ranges).map_err(bad)?;
    }
    WeekSchedule::new(week).map_err(|_| {
        Invalid::new(
            field,
            "businessHours has no hours on any day: give at least one range, e.g. \"mon\": [\"09:00-17:00\"].",
        )
    })
}

/// A date written exactly `YYYY-MM-DD`.
fn date(raw: &str) -> Option<NaiveDate> {
    let b = raw.as_bytes();
    let shape = b.len() == 10
        && b[4] == b'-'
        && b[7] == b'-'
        && b.iter()
            .enumerate()
            .all(|(i, c)| i == 4 || i == 7 || c.is_ascii_digit());
    shape.then(|| raw.parse().ok()).flatten()
}

fn parse_holidays(v: Option<&Value>, today: Option<NaiveDate>) -> Result<Vec<NaiveDate>, Invalid> {
    let field = "businessHours.holidays";
    let what = "a list of dates such as \"2026-12-25\"";
    let Some(v) = v else {
        return Ok(Vec::new());
    };
    let list = v
        .as_array()
        .ok_or_else(|| Invalid::new(field, format!("{field} must be {what}.")))?;
    let window = today.and_then(|t| {
        Some((
            t.checked_sub_days(Days::new(HOLIDAY_WINDOW_DAYS))?,
            t.checked_add_days(Days::new(HOLIDAY_WINDOW_DAYS))?,
        ))
    });
    list.iter()
        .map(|item| {
            let raw = string(item, field, what)?;
            let d = date(raw).ok_or_else(|| {
                Invalid::new(
                    field,
                    format!("{field}: {raw:?} is not a date YYYY-MM-DD."),
                )
            })?;
            match window {
                Some((_, last)) if d > last => Err(Invalid::new(
                    field,
                    format!(
                        "{field}: {raw} is more than {HOLIDAY_WINDOW_DAYS} days ahead (list the coming year's holidays)."
                    ),
                )),
                Some((first, _)) if d < first => Err(Invalid::new(
                    field,
                    format!("{field}: {raw} is more than {HOLIDAY_WINDOW_DAYS} days past."),
                )),
                _ => Ok(d),
            }
        })
        .collect()
}

/// `now`: the instant of the `PUT`, for the holiday window; None when restoring.
fn parse_business_hours(v: &Value, now: Option<Timestamp>) -> Result<BusinessHours, Invalid> {
    let map = object(v, "businessHours")?;
    let tz_field = "businessHours.timezone";
    let name = string(
        map.get("timezone")
            .ok_or_else(|| Invalid::new(tz_field, "businessHours.timezone is required."))?,
        tz_field,
        "an IANA time zone name such as \"Europe/Berlin\"",
    )?;
    let tz = Zone::get(name).ok_or_else(|| {
        Invalid::new(
            tz_field,
            format!(
                "businessHours.timezone {name:?} is not an IANA time zone name (e.g. \"Europe/Berlin\", \"America/New_York\", \"UTC\")."
            ),
        )
    })?;
    let week = parse_week(map.get("days"))?;
    let today = now.and_then(|n| tz.local_date(n));
    let holidays = parse_holidays(map.get("holidays"), today)?;
    Ok(BusinessHours::new(tz, week, holidays))
}

impl SlaPolicy {
    /// The `PUT /sla` body, sent at `now`.
    pub fn parse(body: &Value, now: Timestamp) -> Result<Self, Invalid> {
        Self::parse_at(body, Some(now))
    }

    /// A policy as [`SlaPolicy::to_json`] wrote it: every rule but the holiday window.
    pub fn restore(stored: &Value) -> Result<Self, Invalid> {
        Self::parse_at(stored, None)
    }

    fn parse_at(body: &Value, now: Option<Timestamp>) -> Result<Self, Invalid> {
        let body = body
            .as_object()
            .ok_or_else(|| Invalid::new("body", "Request body must be a JSON object."))?;
        let targets = parse_targets(body.get("targets"))?;
        let calendar = match body.get("businessHours") {
            None => Calendar::Continuous,
            Some(v) => Calendar::Business(Box::new(parse_business_hours(v, now)?)),
        };
        if let Calendar::Business(b) = &calendar {
            let weekly = b.week().weekly_minutes();
            let most = u64::from(weekly) * u64::from(MAX_TARGET_WEEKS);
            for (i, t) in targets.iter().enumerate() {
                let Some(t) = t else { continue };
                for (m, field) in [
                    (t.first_response, TARGET_FIELDS[i][1]),
                    (t.resolution, TARGET_FIELDS[i][2]),
                ] {
                    if let Some(m) = m.filter(|m| u64::from(m.get()) > most) {
                        return Err(Invalid::new(
                            field,
                            format!(
                                "{field} ({}) needs more than {MAX_TARGET_WEEKS} weeks of these business hours ({} h {} min a week).",
                                m.get(),
                                weekly / 60,
                                weekly % 60
                            ),
                        ));
                    }
                }
            }
        }
        Ok(Self { targets, calendar })
    }

    /// No targets and calendar time: what is in force before any `PUT /sla`.
    pub fn none() -> Self {
        Self {
            targets: [None; 4],
            calendar: Calendar::Continuous,
        }
    }

    /// The target of a priority (None: tickets of that priority have no SLA).
    pub fn target(&self, priority: Priority) -> Option<Target> {
        self.targets
            .get(usize::from(priority.get()).wrapping_sub(1))
            .copied()
            .flatten()
    }

    pub fn calendar(&self) -> &Calendar {
        &self.calendar
    }

    /// The configuration in the `PUT /sla` shape.
    pub fn to_json(&self) -> Value {
        let mut targets = Map::new();
        for (i, t) in self.targets.iter().enumerate() {
            let Some(t) = t else { continue };
            let mut o = Map::new();
            if let Some(m) = t.first_response {
                o.insert("firstResponseMinutes".into(), m.get().into());
            }
            if let Some(m) = t.resolution {
                o.insert("resolutionMinutes".into(), m.get().into());
            }
            targets.insert((i + 1).to_string(), Value::Object(o));
        }
        let mut out = Map::new();
        out.insert("targets".into(), Value::Object(targets));
        if let Calendar::Business(b) = &self.calendar {
            let mut days = Map::new();
            for ((key, _), wd) in DAYS.iter().zip(WEEKDAYS) {
                let ranges = b.week().day(wd).ranges();
                if !ranges.is_empty() {
                    let list = ranges.iter().map(|r| Value::from(r.to_string())).collect();
                    days.insert((*key).into(), Value::Array(list));
                }
            }
            let holidays: Vec<String> = b.holidays().iter().map(|d| d.to_string()).collect();
            out.insert(
                "businessHours".into(),
                json!({"timezone": b.timezone().name(), "days": days, "holidays": holidays}),
            );
        }
        Value::Object(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sla::calendar::tests::{at, show};
    use proptest::prelude::*;

    /// 2026-06-15 12:00 in Berlin.
    fn now() -> Timestamp {
        at("Europe/Berlin", "2026-06-15 12:00")
    }

    fn spec_body() -> Value {
        json!({
            "targets": {
                "1": {"firstResponseMinutes": 30, "resolutionMinutes": 240},
                "2": {"firstResponseMinutes": 60, "resolutionMinutes": 480},
                "4": {"resolutionMinutes": 2400}
            },
            "businessHours": {
                "timezone": "Europe/Berlin",
                "days": {"mon": ["09:00-17:00"], "tue": ["09:00-17:00"], "wed": ["09:00-17:00"],
                         "thu": ["09:00-17:00"], "fri": ["09:00-17:00"]},
                "holidays": ["2026-12-25"]
            }
        })
    }

    fn p(n: i64) -> Priority {
        Priority::from_int(n).unwrap()
    }

    #[test]
    fn the_spec_example_parses_and_answers_itself() {
        let policy = SlaPolicy::parse(&spec_body(), now()).unwrap();
        let t1 = policy.target(p(1)).unwrap();
        assert_eq!(t1.first_response().map(TargetMinutes::get), Some(30));
        assert_eq!(t1.resolution().map(TargetMinutes::get), Some(240));
        assert_eq!(policy.target(p(3)), None);
        let t4 = policy.target(p(4)).unwrap();
        assert_eq!(
            (t4.first_response(), t4.resolution().map(TargetMinutes::get)),
            (None, Some(2400))
        );
        assert_eq!(policy.to_json(), spec_body());
        assert_eq!(SlaPolicy::restore(&policy.to_json()).unwrap(), policy);
        // The SPEC's worked example on this policy's calendar.
        let due = policy
            .calendar()
            .add_minutes(at("Europe/Berlin", "2026-06-12 16:30"), 60);
        assert_eq!(show("Europe/Berlin", due), "2026-06-15 09:30 +02:00");
    }

    #[test]
    fn input_is_normalised_on_the_way_back() {
        let body = json!({
            "targets": {"3": {"resolutionMinutes": 60.0, "other": true}},
            "businessHours": {
                "timezone": " America/New_York ",
                "days": {"sun": [], "wed": [" 13:00-17:00", "09:00 - 12:00"], "mon": ["00:00-24:00"]},
                "holidays": ["2026-12-25", "2026-07-03", "2026-12-25"]
            },
            "ignored": 1
        });
        let policy = SlaPolicy::parse(&body, now()).unwrap();
        assert_eq!(
            policy.to_json(),
            json!({
                "targets": {"3": {"resolutionMinutes": 60}},
                "businessHours": {
                    "timezone": "America/New_York",
                    "days": {"mon": ["00:00-24:00"], "wed": ["09:00-12:00", "13:00-17:00"]},
                    "holidays": ["2026-07-03", "2026-12-25"]
                }
            })
        );
    }

    #[test]
    fn calendar_time_without_business_hours() {
        for body in [
            json!({"targets": {}}),
            json!({"targets": {"1": {"firstResponseMinutes": 1}}}),
        ] {
            let policy = SlaPolicy::parse(&body, now()).unwrap();
            assert_eq!(policy.calendar(), &Calendar::Continuous);
            assert_eq!(policy.to_json(), body);
        }
        assert_eq!(SlaPolicy::none().to_json(), json!({"targets": {}}));
    }

    #[test]
    fn refusals_name_the_field() {
        let hours = |h: Value| json!({"targets": {}, "businessHours": h});
        let week = json!({"mon": ["09:00-17:00"]});
        #[rustfmt::skip]
        let table: Vec<(&str, Value, &str, &str)> = vec![
            ("not an object", json!([]), "body", "must be a JSON object"),
            ("no targets", json!({}), "targets", "targets is required"),
            ("targets null", json!({"targets": null}), "targets", "must be an object keyed by priority"),
            ("targets a list", json!({"targets": [30]}), "targets", "must be an object keyed by priority"),
            ("priority 5", json!({"targets": {"5": {"resolutionMinutes": 5}}}), "targets", "unknown priority \"5\""),
            ("priority 01", json!({"targets": {"01": {"resolutionMinutes": 5}}}), "targets", "unknown priority \"01\""),
            ("a target not an object", json!({"targets": {"1": 30}}), "targets.1", "must be an object"),
            ("a target null", json!({"targets": {"1": null}}), "targets.1", "must be an object"),
            ("an empty target", json!({"targets": {"2": {}}}), "targets.2", "must set firstResponseMinutes, resolutionMinutes or both"),
            ("zero minutes", json!({"targets": {"1": {"firstResponseMinutes": 0}}}), "targets.1.firstResponseMinutes", "from 1 to 525600"),
            ("negative minutes", json!({"targets": {"2": {"resolutionMinutes": -5}}}), "targets.2.resolutionMinutes", "from 1 to 525600"),
            ("too many minutes", json!({"targets": {"3": {"resolutionMinutes": 525_601}}}), "targets.3.resolutionMinutes", "from 1 to 525600"),
            ("fractional minutes", json!({"targets": {"4": {"resolutionMinutes": 30.5}}}), "targets.4.resolutionMinutes", "integer"),
            ("minutes as a string", json!({"targets": {"4": {"resolutionMinutes": "30"}}}), "targets.4.resolutionMinutes", "integer"),
            ("minutes null", json!({"targets": {"4": {"resolutionMinutes": null}}}), "targets.4.resolutionMinutes", "integer"),
            ("business hours null", hours(Value::Null), "businessHours", "must be an object"),
            ("no timezone", hours(json!({"days": week})), "businessHours.timezone", "is required"),
            ("timezone a number", hours(json!({"timezone": 1, "days": week})), "businessHours.timezone", "IANA time zone name"),
            ("unknown timezone", hours(json!({"timezone": "Europe/Atlantis", "days": week})), "businessHours.timezone", "\"Europe/Atlantis\" is not an IANA time zone"),
            ("timezone in the wrong case", hours(json!({"timezone": "europe/berlin", "days": week})), "businessHours.timezone", "is not an IANA time zone"),
            ("an offset, not a zone", hours(json!({"timezone": "+02:00", "days": week})), "businessHours.timezone", "is not an IANA time zone"),
            ("no days", hours(json!({"timezone": "UTC"})), "businessHours.days", "is required"),
            ("days a list", hours(json!({"timezone": "UTC", "days": []})), "businessHours.days", "must be an object"),
            ("an unknown day", hours(json!({"timezone": "UTC", "days": {"monday": ["09:00-17:00"]}})), "businessHours.days", "unknown day \"monday\""),
            ("a day not a list", hours(json!({"timezone": "UTC", "days": {"tue": "09:00-17:00"}})), "businessHours.days.tue", "must be a list of ranges"),
            ("a range not a string", hours(json!({"timezone": "UTC", "days": {"tue": [9]}})), "businessHours.days.tue", "must be a list of ranges"),
            ("a malformed range", hours(json!({"timezone": "UTC", "days": {"wed": ["9-5"]}})), "businessHours.days.wed", "\"9-5\" is not a time range HH:MM-HH:MM"),
            ("a range over midnight", hours(json!({"timezone": "UTC", "days": {"fri": ["22:00-06:00"]}})), "businessHours.days.fri", "crosses midnight"),
            ("an empty range", hours(json!({"timezone": "UTC", "days": {"sat": ["10:00-10:00"]}})), "businessHours.days.sat", "is empty"),
            ("overlapping ranges", hours(json!({"timezone": "UTC", "days": {"sun": ["09:00-12:00", "11:00-13:00"]}})), "businessHours.days.sun", "\"09:00-12:00\" overlaps \"11:00-13:00\""),
            ("no hours at all", hours(json!({"timezone": "UTC", "days": {}})), "businessHours.days", "no hours on any day"),
            ("only closed days", hours(json!({"timezone": "UTC", "days": {"mon": [], "sun": []}})), "businessHours.days", "no hours on any day"),
            ("holidays not a list", hours(json!({"timezone": "UTC", "days": week, "holidays": "2026-12-25"})), "businessHours.holidays", "must be a list of dates"),
            ("a holiday not a string", hours(json!({"timezone": "UTC", "days": week, "holidays": [20261225]})), "businessHours.holidays", "must be a list of dates"),
            ("a malformed holiday", hours(json!({"timezone": "UTC", "days": week, "holidays": ["2026-1-5"]})), "businessHours.holidays", "\"2026-1-5\" is not a date"),
            ("an impossible holiday", hours(json!({"timezone": "UTC", "days": week, "holidays": ["2026-02-30"]})), "businessHours.holidays", "is not a date"),
            ("a holiday too far ahead", hours(json!({"timezone": "UTC", "days": week, "holidays": ["2027-06-16"]})), "businessHours.holidays", "2027-06-16 is more than 365 days ahead"),
            ("a holiday too far past", hours(json!({"timezone": "UTC", "days": week, "holidays": ["2025-06-14"]})), "businessHours.holidays", "2025-06-14 is more than 365 days past"),
            ("a target the hours cannot reach", json!({"targets": {"4": {"resolutionMinutes": 525_600}}, "businessHours": {"timezone": "UTC", "days": {"mon": ["09:00-10:00"]}}}), "targets.4.resolutionMinutes", "needs more than 520 weeks of these business hours (1 h 0 min a week)"),
        ];
        for (name, body, field, message) in table {
            let e = SlaPolicy::parse(&body, now()).unwrap_err();
            assert_eq!(e.field, field, "{name}: {e}");
            assert!(
                e.message.contains(message),
                "{name}: {:?} lacks {message:?}",
                e.message
            );
        }
    }

    #[test]
    fn the_holiday_window_is_a_year_either_way_and_only_when_set() {
        let body = |d: &str| {
            json!({"targets": {}, "businessHours": {"timezone": "Europe/Berlin",
                "days": {"mon": ["09:00-17:00"]}, "holidays": [d]}})
        };
        // Set on 2026-06-15 (Berlin).
        for ok in ["2026-06-15", "2027-06-15", "2025-06-15", "2026-12-25"] {
            assert!(SlaPolicy::parse(&body(ok), now()).is_ok(), "{ok}");
        }
        for bad in ["2027-06-16", "2025-06-14", "1999-12-31", "2100-01-01"] {
            assert!(SlaPolicy::parse(&body(bad), now()).is_err(), "{bad}");
            // A stored policy is read back whatever today is.
            assert!(SlaPolicy::restore(&body(bad)).is_ok(), "{bad}");
        }
        // "Today" is the policy's own date: 2026-06-15 01:00 in Auckland is still 06-14 in UTC.
        let auckland = |d: &str| {
            json!({"targets": {}, "businessHours": {"timezone": "Pacific/Auckland",
                "days": {"mon": ["09:00-17:00"]}, "holidays": [d]}})
        };
        let early = at("Pacific/Auckland", "2026-06-15 01:00");
        assert!(SlaPolicy::parse(&auckland("2027-06-15"), early).is_ok());
        assert!(SlaPolicy::parse(&auckland("2025-06-14"), early).is_err());
    }

    #[test]
    fn a_large_target_on_enough_hours_is_accepted() {
        // 525600 minutes needs 16 h 51 min a week: two 8.5-hour days are enough.
        let body = json!({"targets": {"4": {"resolutionMinutes": 525_600}},
            "businessHours": {"timezone": "UTC", "days": {"mon": ["08:30-17:00"], "tue": ["08:30-17:00"]}}});
        assert!(SlaPolicy::parse(&body, now()).is_ok());
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(128))]

        /// Whatever parses answers a JSON that parses back to the same policy.
        #[test]
        fn what_parses_round_trips(
            targets in prop::collection::btree_map(1u8..=4, (prop::option::of(1u32..=600), prop::option::of(1u32..=6000)), 0..=4),
            days in prop::collection::btree_map(0usize..7, prop::collection::btree_set(0u16..=48, 0..=6), 0..=7),
            holidays in prop::collection::vec(0u64..=730, 0..5),
            zone in prop::sample::select(vec!["Europe/Berlin", "America/New_York", "Asia/Tokyo", "UTC"]),
        ) {
            let mut t = Map::new();
            for (p, (fr, res)) in targets {
                let mut o = Map::new();
                if let Some(m) = fr { o.insert("firstResponseMinutes".into(), m.into()); }
                if let Some(m) = res { o.insert("resolutionMinutes".into(), m.into()); }
                t.insert(p.to_string(), Value::Object(o));
            }
            let mut d = Map::new();
            for (day, cuts) in days {
                let cuts: Vec<u16> = cuts.into_iter().collect();
                let ranges: Vec<Value> = cuts.chunks_exact(2)
                    .map(|c| format!("{:02}:{:02}-{:02}:{:02}", c[0] / 2, c[0] % 2 * 30, c[1] / 2, c[1] % 2 * 30).into())
                    .collect();
                d.insert(DAYS[day].0.into(), Value::Array(ranges));
            }
            let first = NaiveDate::from_ymd_opt(2025, 6, 16).unwrap();
            let hol: Vec<String> = holidays.iter().map(|n| (first + Days::new(*n)).to_string()).collect();
            let body = json!({"targets": t, "businessHours": {"timezone": zone, "days": d, "holidays": hol}});
            if let Ok(policy) = SlaPolicy::parse(&body, now()) {
                prop_assert_eq!(SlaPolicy::parse(&policy.to_json(), now()).unwrap(), policy.clone());
                prop_assert_eq!(SlaPolicy::restore(&policy.to_json()).unwrap(), policy);
            }
        }
    }
}
