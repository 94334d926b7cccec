//! Business time for SLA clocks (SPEC §10): "add N business minutes to an instant" and "business
//! time between two instants", over a weekly schedule of local hours in an IANA zone with holidays.
//!
//! Conventions (the tests below hold each of them):
//! - Instants are [`Timestamp`]s (UTC milliseconds, as on tickets); business time is counted in
//!   milliseconds, so a ticket created at 16:30:12.345 is due at 09:30:12.345. The minute
//!   functions are the same in whole minutes.
//! - A range is `HH:MM-HH:MM` in local wall-clock time, its end after its start; `24:00` is the
//!   end of the day. A range crossing midnight (`22:00-06:00`) is refused: write `22:00-24:00`
//!   on the one day and `00:00-06:00` on the next. A day's ranges may come in any order; they
//!   are sorted, and overlapping ones are refused (touching ones, `09:00-12:00` and
//!   `12:00-13:00`, are fine).
//! - Business time is real elapsed time while a range is open. A range opens the first time the
//!   local clock reads its start on its date and closes the first time it reads its end. So when
//!   the clocks change outside the range (the usual night change), `09:00-17:00` is 8 hours on
//!   every day, the spring-forward and fall-back days included; a range spanning the change is
//!   an hour shorter or longer (`00:00-24:00` is 23 h or 25 h, as the day is). A boundary in the
//!   skipped hour (02:30 in Berlin on spring-forward night) is taken at the jump (03:00 CEST),
//!   so a range wholly inside it (`02:00-03:00`) is empty that night; a boundary in the repeated
//!   hour (fall-back night) is taken at its first occurrence, so `02:00-02:30` counts the first
//!   pass only and `01:00-04:00` counts the repeated hour once more (4 h).
//! - Holidays are local dates on which no range opens.
//! - `add(x, n)` is the earliest instant `t` with `between(x, t) == n`. For `n > 0` it is the end
//!   of a business millisecond, never outside business hours, and a range's closing edge
//!   counts: 30 minutes from 16:30 in `09:00-17:00` is 17:00 that day, not 09:00 the next
//!   business day. From outside business hours the count starts at the next opening.
//!   `add(x, 0)` is `x`.
//! - Without business hours (calendar time) both are plain arithmetic.
//! - Termination and cost: a [`WeekSchedule`] has at least one range (an empty one cannot be
//!   built), and holidays are finitely many, so business time always comes. Both functions walk
//!   local days, two zone look-ups per range per day, never minute by minute: a year of 40-hour
//!   weeks is about 1,600 days. [`Calendar::add`] gives up at [`HORIZON_DAYS`] and answers that
//!   day's start (a policy's targets are kept far below it, see `policy.rs`).

use crate::model::Timestamp;
use chrono::{Datelike, NaiveDate, NaiveTime, Weekday};
use jiff::tz::{AmbiguousOffset, TimeZone};
use std::fmt;

pub const MINUTE_MS: i64 = 60_000;

/// Minutes in a day; a range may end at 24:00.
const DAY_MINUTES: u16 = 1440;

/// How many local days [`Calendar::add`] walks at most (about 100 years).
pub const HORIZON_DAYS: u32 = 36_525;

/// Why business hours were refused; the policy adds the field.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum HoursError {
    #[error("\"{0}\" is not a time range HH:MM-HH:MM (e.g. \"09:00-17:00\").")]
    Malformed(String),
    #[error(
        "\"{0}\" crosses midnight: write it as two ranges, one ending at 24:00 and one starting at 00:00 on the next day."
    )]
    CrossesMidnight(String),
    #[error("\"{0}\" is empty: its end must be after its start.")]
    Empty(String),
    #[error("\"{0}\" overlaps \"{1}\".")]
    Overlap(String, String),
    #[error("there are no business hours on any day.")]
    NoHours,
}

/// One opening on a day, in local minutes since midnight: `start < end <= 1440`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct TimeRange {
    start: u16,
    end: u16,
}

/// `HH:MM` with `00:00`–`23:59`, or `24:00`; exactly two digits each.
fn clock_minute(s: &str) -> Option<u16> {
    let b = s.as_bytes();
    if b.len() != 5 || b[2] != b':' {
        return None;
    }
    let two = |i: usize| -> Option<u16> {
        let (x, y) = (b[i], b[i + 1]);
        (x.is_ascii_digit() && y.is_ascii_digit())
            .then(|| u16::from(x - b'0') * 10 + u16::from(y - b'0'))
    };
    match (two(0)?, two(3)?) {
        (h @ 0..=23, m @ 0..=59) => Some(h * 60 + m),
        (24, 0) => Some(DAY_MINUTES),
        _ => None,
    }
}

impl TimeRange {
    /// `"09:00-17:00"` (spaces around the parts are allowed).
    pub fn parse(raw: &str) -> Result<Self, HoursError> {
        let raw = raw.trim();
        let malformed = || HoursError::Malformed(raw.to_string());
        let (a, b) = raw.split_once('-').ok_or_else(malformed)?;
        let start = clock_minute(a.trim())
            .filter(|m| *m < DAY_MINUTES)
            .ok_or_else(malformed)?;
        let end = clock_minute(b.trim()).ok_or_else(malformed)?;
        match end.cmp(&start) {
            std::cmp::Ordering::Greater => Ok(Self { start, end }),
            std::cmp::Ordering::Equal => Err(HoursError::Empty(raw.to_string())),
            std::cmp::Ordering::Less => Err(HoursError::CrossesMidnight(raw.to_string())),
        }
    }

    /// Local minutes since midnight at which the range opens.
    pub fn start_minute(self) -> u16 {
        self.start
    }

    /// Local minutes since midnight at which it closes (1440: midnight ending the day).
    pub fn end_minute(self) -> u16 {
        self.end
    }

    pub fn minutes(self) -> u32 {
        u32::from(self.end - self.start)
    }
}

impl fmt::Display for TimeRange {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let hm = |m: u16| (m / 60, m % 60);
        let ((sh, sm), (eh, em)) = (hm(self.start), hm(self.end));
        write!(f, "{sh:02}:{sm:02}-{eh:02}:{em:02}")
    }
}

/// One weekday's ranges, sorted and non-overlapping (possibly none: closed).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct DayHours(Vec<TimeRange>);

impl DayHours {
    pub fn new(mut ranges: Vec<TimeRange>) -> Result<Self, HoursError> {
        ranges.sort();
        if let Some(w) = ranges.windows(2).find(|w| w[0].end > w[1].start) {
            return Err(HoursError::Overlap(w[0].to_string(), w[1].to_string()));
        }
        Ok(Self(ranges))
    }

    pub fn ranges(&self) -> &[TimeRange] {
        &self.0
    }

    pub fn minutes(&self) -> u32 {
        self.0.iter().map(|r| r.minutes()).sum()
    }
}

/// The seven days' hours, Monday first, with business hours on at least one day.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WeekSchedule([DayHours; 7]);

impl WeekSchedule {
    /// `days[0]` is Monday. A week with no hours at all is refused: no due time could ever come.
    pub fn new(days: [DayHours; 7]) -> Result<Self, HoursError> {
        if days.iter().all(|d| d.0.is_empty()) {
            return Err(HoursError::NoHours);
        }
        Ok(Self(days))
    }

    pub fn day(&self, day: Weekday) -> &DayHours {
        &self.0[day.num_days_from_monday() as usize]
    }

    /// Business minutes in a week with no holiday and no clock change.
    pub fn weekly_minutes(&self) -> u32 {
        self.0.iter().map(DayHours::minutes).sum()
    }
}

/// An IANA time zone (its rules from jiff's bundled copy of the tz database, so a Lambda
/// needs no /usr/share/zoneinfo), with the name it was given.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Zone {
    name: String,
    tz: TimeZone,
}

impl Zone {
    /// The zone of an IANA name in its exact case (`Europe/Berlin`, `UTC`); None for an
    /// unknown name, another case, an alias-free offset such as `+02:00`.
    pub fn get(name: &str) -> Option<Self> {
        let tz = TimeZone::get(name).ok()?;
        (tz.iana_name() == Some(name)).then(|| Self {
            name: name.to_owned(),
            tz,
        })
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    /// The local date at an instant (None only outside jiff's years -9999..=9999).
    pub fn local_date(&self, at: Timestamp) -> Option<NaiveDate> {
        let ts = jiff::Timestamp::from_millisecond(at.millis()).ok()?;
        let d = self.tz.to_datetime(ts).date();
        NaiveDate::from_ymd_opt(
            i32::from(d.year()),
            u32::from(d.month().unsigned_abs()),
            u32::from(d.day().unsigned_abs()),
        )
    }
}

/// A weekly schedule in a time zone, with holidays (local dates, sorted, distinct).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BusinessHours {
    timezone: Zone,
    week: WeekSchedule,
    holidays: Vec<NaiveDate>,
}

/// A chrono date as jiff's (None outside jiff's years -9999..=9999).
fn civil(date: NaiveDate) -> Option<jiff::civil::Date> {
    let year = i16::try_from(date.year()).ok()?;
    // Months and days are 1-12 and 1-31.
    jiff::civil::Date::new(year, date.month() as i8, date.day() as i8).ok()
}

impl BusinessHours {
    pub fn new(
        timezone: Zone,
        week: WeekSchedule,
        holidays: impl IntoIterator<Item = NaiveDate>,
    ) -> Self {
        let mut holidays: Vec<NaiveDate> = holidays.into_iter().collect();
        holidays.sort();
        holidays.dedup();
        Self {
            timezone,
            week,
            holidays,
        }
    }

    pub fn timezone(&self) -> &Zone {
        &self.timezone
    }

    pub fn week(&self) -> &WeekSchedule {
        &self.week
    }

    pub fn holidays(&self) -> &[NaiveDate] {
        &self.holidays
    }

    fn local_date(&self, at: i64) -> Option<NaiveDate> {
        self.timezone.local_date(Timestamp::from_millis(at))
    }

    /// The first instant (UTC ms) at which the local clock reads `minute` on `date` or later:
    /// the earlier of a repeated time, the jump for a skipped one.
    fn first_reach(&self, date: NaiveDate, minute: u16) -> Option<i64> {
        let (date, minute) = if minute >= DAY_MINUTES {
            (date.succ_opt()?, 0)
        } else {
            (date, minute)
        };
        let hm = NaiveTime::from_hms_opt(u32::from(minute / 60), u32::from(minute % 60), 0)?;
        // The wall-clock reading as if it were UTC; an offset turns it into the instant.
        let wall = date.and_time(hm).and_utc().timestamp_millis();
        let instant = |o: jiff::tz::Offset| wall - i64::from(o.seconds()) * 1000;
        // Hours and minutes are below 24 and 60.
        let local = civil(date)?.at((minute / 60) as i8, (minute % 60) as i8, 0, 0);
        match self.timezone.tz.to_ambiguous_timestamp(local).offset() {
            AmbiguousOffset::Unambiguous { offset } => Some(instant(offset)),
            AmbiguousOffset::Fold { before, after } => Some(instant(before).min(instant(after))),
            // Skipped: the clocks jumped over this reading. Read under the offset after the
            // jump it names an instant before the jump; the zone's next transition is it.
            AmbiguousOffset::Gap { before, after } => {
                let early = jiff::Timestamp::from_millisecond(instant(after)).ok()?;
                match self.timezone.tz.following(early).next() {
                    Some(jump) => Some(jump.timestamp().as_millisecond()),
                    // A gap with no transition after it cannot happen with the zone tables;
                    // read the time at the offset before it rather than fail.
                    None => Some(instant(before)),
                }
            }
        }
    }

    /// The business intervals of a local date, in UTC ms, sorted and disjoint (touching at
    /// most); none on a holiday.
    fn intervals(&self, date: NaiveDate) -> impl Iterator<Item = (i64, i64)> + '_ {
        let open = self.holidays.binary_search(&date).is_err();
        let ranges = if open {
            self.week.day(date.weekday()).ranges()
        } else {
            &[]
        };
        ranges.iter().filter_map(move |r| {
            let s = self.first_reach(date, r.start)?;
            let e = self.first_reach(date, r.end)?;
            (e > s).then_some((s, e))
        })
    }

    fn add(&self, from: i64, ms: i64) -> i64 {
        if ms <= 0 {
            return from;
        }
        // The day before: a fall-back at midnight can put `from` in an earlier local date.
        let Some(mut date) = self.local_date(from).and_then(|d| d.pred_opt()) else {
            return from.saturating_add(ms);
        };
        let mut left = ms;
        for _ in 0..HORIZON_DAYS {
            for (s, e) in self.intervals(date) {
                let s = s.max(from);
                if e > s {
                    if left <= e - s {
                        return s + left;
                    }
                    left -= e - s;
                }
            }
            match date.succ_opt() {
                Some(next) => date = next,
                None => break,
            }
        }
        self.first_reach(date, 0).unwrap_or(i64::MAX)
    }

    fn between(&self, from: i64, to: i64) -> i64 {
        if to <= from {
            return 0;
        }
        let Some(mut date) = self.local_date(from).and_then(|d| d.pred_opt()) else {
            return 0;
        };
        let mut total = 0;
        // Every later date opens no earlier than its first reach of 00:00.
        while self.first_reach(date, 0).is_some_and(|start| start < to) {
            for (s, e) in self.intervals(date) {
                let (s, e) = (s.max(from), e.min(to));
                if e > s {
                    total += e - s;
                }
            }
            match date.succ_opt() {
                Some(next) => date = next,
                None => break,
            }
        }
        total
    }
}

/// How an SLA counts time: every minute, or business hours only.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Calendar {
    /// Calendar time: targets count every minute.
    Continuous,
    /// Boxed: the zone and week are large beside `Continuous`.
    Business(Box<BusinessHours>),
}

impl Calendar {
    /// The earliest instant at which `ms` business milliseconds have passed since `from`
    /// (`from` itself for `ms <= 0`).
    pub fn add(&self, from: Timestamp, ms: i64) -> Timestamp {
        Timestamp::from_millis(match self {
            Calendar::Continuous => from.millis().saturating_add(ms.max(0)),
            Calendar::Business(b) => b.add(from.millis(), ms),
        })
    }

    /// Business milliseconds from `from` to `to` (0 when `to <= from`).
    pub fn between(&self, from: Timestamp, to: Timestamp) -> i64 {
        match self {
            Calendar::Continuous => to.millis().saturating_sub(from.millis()).max(0),
            Calendar::Business(b) => b.between(from.millis(), to.millis()),
        }
    }

    /// [`Calendar::add`] in whole minutes.
    pub fn add_minutes(&self, from: Timestamp, minutes: i64) -> Timestamp {
        self.add(from, minutes.saturating_mul(MINUTE_MS))
    }

    /// [`Calendar::between`] in whole minutes, rounded down.
    pub fn minutes_between(&self, from: Timestamp, to: Timestamp) -> i64 {
        self.between(from, to) / MINUTE_MS
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use proptest::prelude::*;

    const DAY_KEYS: [&str; 7] = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"];

    /// A calendar from day keys and ranges, e.g. `&[("mon", &["09:00-17:00"])]`.
    pub(crate) fn hours(tz: &str, days: &[(&str, &[&str])], holidays: &[&str]) -> Calendar {
        let mut week: [DayHours; 7] = Default::default();
        for (key, ranges) in days {
            let i = DAY_KEYS.iter().position(|k| k == key).unwrap();
            week[i] = DayHours::new(
                ranges
                    .iter()
                    .map(|r| TimeRange::parse(r).unwrap())
                    .collect(),
            )
            .unwrap();
        }
        Calendar::Business(Box::new(BusinessHours::new(
            Zone::get(tz).unwrap(),
            WeekSchedule::new(week).unwrap(),
            holidays.iter().map(|d| d.parse::<NaiveDate>().unwrap()),
        )))
    }

    pub(crate) const WEEKDAYS_9_TO_5: &[(&str, &[&str])] = &[
        ("mon", &["09:00-17:00"]),
        ("tue", &["09:00-17:00"]),
        ("wed", &["09:00-17:00"]),
        ("thu", &["09:00-17:00"]),
        ("fri", &["09:00-17:00"]),
    ];

    fn every_day(ranges: &'static [&'static str]) -> Vec<(&'static str, &'static [&'static str])> {
        DAY_KEYS.iter().map(|k| (*k, ranges)).collect()
    }

    /// A local wall-clock reading "2026-03-27 16:30" in `tz` (it must exist and be unique).
    pub(crate) fn at(tz: &str, local: &str) -> Timestamp {
        let tz = TimeZone::get(tz).unwrap();
        let dt: jiff::civil::DateTime = local.parse().unwrap();
        let ts = tz.to_ambiguous_timestamp(dt).unambiguous().unwrap();
        Timestamp::from_millis(ts.as_millisecond())
    }

    /// An instant as "2026-03-30 09:30 +02:00" in `tz`, to compare readably.
    pub(crate) fn show(tz: &str, t: Timestamp) -> String {
        let tz = TimeZone::get(tz).unwrap();
        let ts = jiff::Timestamp::from_millisecond(t.millis()).unwrap();
        let d = tz.to_datetime(ts);
        let off = tz.to_offset(ts).seconds();
        let (sign, off) = if off < 0 { ('-', -off) } else { ('+', off) };
        format!(
            "{:04}-{:02}-{:02} {:02}:{:02} {sign}{:02}:{:02}",
            d.year(),
            d.month(),
            d.day(),
            d.hour(),
            d.minute(),
            off / 3600,
            off % 3600 / 60
        )
    }

    const BERLIN: &str = "Europe/Berlin";
    const NEW_YORK: &str = "America/New_York";

    #[test]
    fn worked_examples_of_adding_business_minutes() {
        let weekdays = hours(BERLIN, WEEKDAYS_9_TO_5, &[]);
        let easter_monday = hours(BERLIN, WEEKDAYS_9_TO_5, &["2026-04-06"]);
        let lunch = hours(
            BERLIN,
            &[
                ("mon", &["13:00-17:00", "09:00-12:00"]),
                ("tue", &["09:00-12:00", "13:00-17:00"]),
            ],
            &[],
        );
        let nights = hours(
            BERLIN,
            &[("sat", &["22:00-24:00"]), ("sun", &["00:00-06:00"])],
            &[],
        );
        let ny = hours(NEW_YORK, WEEKDAYS_9_TO_5, &[]);
        let always = hours(BERLIN, &every_day(&["00:00-24:00"]), &[]);
        #[rustfmt::skip]
        let table: Vec<(&str, &Calendar, &str, &str, i64, &str)> = vec![
            // SPEC §10: Friday 16:30, 60 minutes, Monday–Friday 09:00–17:00 -> Monday 09:30.
            ("SPEC: Friday 16:30 + 60", &weekdays, BERLIN, "2026-06-12 16:30", 60, "2026-06-15 09:30 +02:00"),
            ("SPEC across the spring-forward weekend", &weekdays, BERLIN, "2026-03-27 16:30", 60, "2026-03-30 09:30 +02:00"),
            ("SPEC across the fall-back weekend", &weekdays, BERLIN, "2026-10-23 16:30", 60, "2026-10-26 09:30 +01:00"),
            ("SPEC in New York", &ny, NEW_YORK, "2026-03-06 16:30", 60, "2026-03-09 09:30 -04:00"),
            ("a holiday on the Monday", &easter_monday, BERLIN, "2026-04-03 16:30", 60, "2026-04-07 09:30 +02:00"),
            ("a start on the holiday", &easter_monday, BERLIN, "2026-04-06 10:00", 60, "2026-04-07 10:00 +02:00"),
            ("a start before hours", &weekdays, BERLIN, "2026-06-15 07:00", 60, "2026-06-15 10:00 +02:00"),
            ("a start after hours", &weekdays, BERLIN, "2026-06-15 18:00", 60, "2026-06-16 10:00 +02:00"),
            ("a start on a Saturday", &weekdays, BERLIN, "2026-06-13 11:00", 60, "2026-06-15 10:00 +02:00"),
            ("the closing edge counts: 16:30 + 30 is 17:00", &weekdays, BERLIN, "2026-06-15 16:30", 30, "2026-06-15 17:00 +02:00"),
            ("one more minute is the next morning", &weekdays, BERLIN, "2026-06-15 16:30", 31, "2026-06-16 09:01 +02:00"),
            ("a whole business week", &weekdays, BERLIN, "2026-06-15 09:00", 5 * 480, "2026-06-19 17:00 +02:00"),
            ("zero minutes is the start itself", &weekdays, BERLIN, "2026-06-13 11:00", 0, "2026-06-13 11:00 +02:00"),
            ("two ranges: over lunch", &lunch, BERLIN, "2026-06-15 11:30", 60, "2026-06-15 13:30 +02:00"),
            ("two ranges: to the lunch edge", &lunch, BERLIN, "2026-06-15 11:30", 30, "2026-06-15 12:00 +02:00"),
            ("two ranges, given unsorted, into the next day", &lunch, BERLIN, "2026-06-15 16:00", 120, "2026-06-16 10:00 +02:00"),
            ("a night shift on a normal weekend: 7 h", &nights, BERLIN, "2026-06-13 22:00", 420, "2026-06-14 05:00 +02:00"),
            ("a night shift over spring-forward: 7 h (02:00-03:00 never happens)", &nights, BERLIN, "2026-03-28 22:00", 420, "2026-03-29 06:00 +02:00"),
            ("a night shift over fall-back: 7 h (02:00-03:00 happens twice)", &nights, BERLIN, "2026-10-24 22:00", 420, "2026-10-25 04:00 +01:00"),
            ("24/7 over spring-forward is calendar time", &always, BERLIN, "2026-03-28 12:00", 1440, "2026-03-29 13:00 +02:00"),
            ("24/7 over fall-back is calendar time", &always, BERLIN, "2026-10-24 12:00", 1440, "2026-10-25 11:00 +01:00"),
            ("calendar time", &Calendar::Continuous, BERLIN, "2026-06-12 16:30", 60, "2026-06-12 17:30 +02:00"),
        ];
        for (name, cal, tz, start, minutes, want) in table {
            let from = at(tz, start);
            let due = cal.add_minutes(from, minutes);
            assert_eq!(show(tz, due), want, "{name}");
            assert_eq!(
                cal.minutes_between(from, due),
                minutes,
                "{name}: measured back"
            );
        }
    }

    #[test]
    fn milliseconds_carry_through() {
        let cal = hours(BERLIN, WEEKDAYS_9_TO_5, &[]);
        let from = Timestamp::from_millis(at(BERLIN, "2026-06-12 16:30").millis() + 12_345);
        let due = cal.add_minutes(from, 60);
        assert_eq!(
            due.millis() - at(BERLIN, "2026-06-15 09:30").millis(),
            12_345
        );
    }

    /// The first instant of a local date (its midnight, or the jump when midnight is skipped).
    fn day_start(cal: &Calendar, date: NaiveDate) -> Timestamp {
        match cal {
            Calendar::Business(b) => Timestamp::from_millis(b.first_reach(date, 0).unwrap()),
            Calendar::Continuous => unreachable!("a business calendar"),
        }
    }

    /// Business minutes of each local date from `first` for `days` days.
    fn daily_minutes(cal: &Calendar, first: &str, days: u64) -> Vec<(NaiveDate, i64)> {
        let d0: NaiveDate = first.parse().unwrap();
        (0..days)
            .map(|i| {
                let d = d0 + chrono::Days::new(i);
                let next = d + chrono::Days::new(1);
                (
                    d,
                    cal.minutes_between(day_start(cal, d), day_start(cal, next)),
                )
            })
            .collect()
    }

    #[test]
    fn the_clock_change_nights_in_berlin_and_new_york() {
        // (zone, the day, ranges every day, business minutes that day)
        #[rustfmt::skip]
        let table: &[(&str, &str, &'static [&'static str], i64)] = &[
            // Office hours hold on the change days: 8 hours.
            (BERLIN, "2026-03-29", &["09:00-17:00"], 480),
            (BERLIN, "2026-10-25", &["09:00-17:00"], 480),
            (NEW_YORK, "2026-03-08", &["09:00-17:00"], 480),
            (NEW_YORK, "2026-11-01", &["09:00-17:00"], 480),
            // The whole day is the day's real length.
            (BERLIN, "2026-03-29", &["00:00-24:00"], 23 * 60),
            (BERLIN, "2026-10-25", &["00:00-24:00"], 25 * 60),
            (NEW_YORK, "2026-03-08", &["00:00-24:00"], 23 * 60),
            (NEW_YORK, "2026-11-01", &["00:00-24:00"], 25 * 60),
            // A range over the change: one hour less or more.
            (BERLIN, "2026-03-29", &["01:00-04:00"], 120),
            (BERLIN, "2026-10-25", &["01:00-04:00"], 240),
            (NEW_YORK, "2026-03-08", &["00:30-03:30"], 120),
            (NEW_YORK, "2026-11-01", &["00:30-03:30"], 240),
            // The skipped hour: a range inside it is empty, a boundary in it is the jump.
            (BERLIN, "2026-03-29", &["02:00-03:00"], 0),
            (BERLIN, "2026-03-29", &["02:30-04:00"], 60),
            (BERLIN, "2026-03-29", &["01:00-02:30"], 60),
            (NEW_YORK, "2026-03-08", &["02:15-02:45"], 0),
            // The repeated hour: boundaries at their first occurrence.
            (BERLIN, "2026-10-25", &["02:00-02:30"], 30),
            (BERLIN, "2026-10-25", &["02:30-03:00"], 90),
            (NEW_YORK, "2026-11-01", &["01:00-01:30"], 30),
            (NEW_YORK, "2026-11-01", &["00:00-01:30"], 90),
            (NEW_YORK, "2026-11-01", &["01:30-02:00"], 90),
        ];
        for (tz, day, ranges, want) in table {
            let cal = hours(tz, &every_day(ranges), &[]);
            let got = daily_minutes(&cal, day, 1);
            assert_eq!(got[0].1, *want, "{tz} {day} {ranges:?}");
        }
    }

    #[test]
    fn office_hours_are_eight_hours_on_every_weekday_of_the_year() {
        for tz in [
            BERLIN,
            NEW_YORK,
            "Australia/Lord_Howe",
            "America/Santiago",
            "Asia/Kolkata",
        ] {
            let cal = hours(tz, WEEKDAYS_9_TO_5, &["2026-12-25"]);
            let christmas: NaiveDate = "2026-12-25".parse().unwrap();
            for (day, minutes) in daily_minutes(&cal, "2026-01-01", 365) {
                let want = match day.weekday() {
                    Weekday::Sat | Weekday::Sun => 0,
                    _ if day == christmas => 0,
                    _ => 480,
                };
                assert_eq!(minutes, want, "{tz} {day}");
            }
        }
    }

    #[test]
    fn half_hour_clock_changes() {
        // Lord Howe Island moves its clocks by 30 minutes (2026-04-05 and 2026-10-04, at 02:00).
        let tz = "Australia/Lord_Howe";
        let cal = hours(tz, &every_day(&["00:00-24:00"]), &[]);
        assert_eq!(daily_minutes(&cal, "2026-04-05", 1)[0].1, 24 * 60 + 30);
        assert_eq!(daily_minutes(&cal, "2026-10-04", 1)[0].1, 24 * 60 - 30);
    }

    #[test]
    fn a_skipped_day_has_no_hours() {
        // Samoa skipped 2011-12-30 when it crossed the date line.
        let tz = "Pacific/Apia";
        let cal = hours(tz, &every_day(&["09:00-17:00"]), &[]);
        let days = daily_minutes(&cal, "2011-12-29", 3);
        assert_eq!(days.iter().map(|d| d.1).collect::<Vec<_>>(), [480, 0, 480]);
        let thursday_noon = at(tz, "2011-12-29 12:00");
        assert_eq!(
            show(tz, cal.add_minutes(thursday_noon, 6 * 60)),
            "2011-12-31 10:00 +14:00"
        );
    }

    #[test]
    fn ranges_parse_strictly() {
        let ok = [
            ("09:00-17:00", "09:00-17:00", 480),
            (" 09:00 - 17:00 ", "09:00-17:00", 480),
            ("00:00-24:00", "00:00-24:00", 1440),
            ("23:59-24:00", "23:59-24:00", 1),
        ];
        for (raw, shown, minutes) in ok {
            let r = TimeRange::parse(raw).unwrap();
            assert_eq!(
                (r.to_string().as_str(), r.minutes()),
                (shown, minutes),
                "{raw}"
            );
        }
        let bad: &[(&str, HoursError)] = &[
            ("9:00-17:00", HoursError::Malformed("9:00-17:00".into())),
            ("09:00", HoursError::Malformed("09:00".into())),
            ("09:00-17:60", HoursError::Malformed("09:00-17:60".into())),
            ("24:00-24:00", HoursError::Malformed("24:00-24:00".into())),
            ("25:00-26:00", HoursError::Malformed("25:00-26:00".into())),
            ("09-17", HoursError::Malformed("09-17".into())),
            (
                "０９:00-17:00",
                HoursError::Malformed("０９:00-17:00".into()),
            ),
            ("09:00-09:00", HoursError::Empty("09:00-09:00".into())),
            (
                "22:00-06:00",
                HoursError::CrossesMidnight("22:00-06:00".into()),
            ),
            (
                "22:00-00:00",
                HoursError::CrossesMidnight("22:00-00:00".into()),
            ),
        ];
        for (raw, want) in bad {
            assert_eq!(&TimeRange::parse(raw).unwrap_err(), want, "{raw}");
        }
    }

    #[test]
    fn a_day_sorts_its_ranges_and_refuses_overlaps() {
        let r = |s: &str| TimeRange::parse(s).unwrap();
        let day = DayHours::new(vec![r("13:00-17:00"), r("09:00-12:00")]).unwrap();
        assert_eq!(day.ranges(), &[r("09:00-12:00"), r("13:00-17:00")]);
        assert!(DayHours::new(vec![r("09:00-12:00"), r("12:00-13:00")]).is_ok());
        for pair in [
            ["09:00-12:00", "11:00-13:00"],
            ["09:00-17:00", "09:00-17:00"],
            ["10:00-11:00", "09:00-17:00"],
        ] {
            let e = DayHours::new(vec![r(pair[0]), r(pair[1])]).unwrap_err();
            assert!(matches!(e, HoursError::Overlap(..)), "{pair:?}");
        }
        assert_eq!(
            WeekSchedule::new(Default::default()),
            Err(HoursError::NoHours)
        );
    }

    #[test]
    fn a_year_of_business_time_is_quick_and_bounded() {
        let cal = hours(BERLIN, WEEKDAYS_9_TO_5, &["2026-12-25", "2027-01-01"]);
        let from = at(BERLIN, "2026-06-12 16:30");
        let due = cal.add_minutes(from, 525_600);
        assert_eq!(cal.minutes_between(from, due), 525_600);
        // 8760 hours at 40 a week: 219 weeks to Friday 2030-08-23 16:30, and the two holidays'
        // 16 hours after it.
        assert_eq!(show(BERLIN, due), "2030-08-27 16:30 +02:00");
        // One minute a week cannot give a year of minutes within the horizon: it stops there.
        let tiny = hours(BERLIN, &[("mon", &["09:00-09:01"])], &[]);
        let far = tiny.add_minutes(from, 525_600);
        assert!(
            far.millis() > from.millis() + 99 * 365 * 86_400_000,
            "{}",
            show(BERLIN, far)
        );
    }

    fn a_zone() -> impl Strategy<Value = &'static str> {
        prop::sample::select(vec![
            BERLIN,
            NEW_YORK,
            "Australia/Lord_Howe",
            "America/Santiago",
            "Asia/Kolkata",
            "UTC",
            "Pacific/Chatham",
        ])
    }

    /// Up to three ranges a day on whole quarter hours, some days closed.
    fn a_day() -> impl Strategy<Value = Vec<(u16, u16)>> {
        prop::collection::btree_set(0u16..=96, 0..=6).prop_map(|cuts| {
            let cuts: Vec<u16> = cuts.into_iter().collect();
            cuts.chunks_exact(2)
                .map(|c| (c[0] * 15, c[1] * 15))
                .collect()
        })
    }

    prop_compose! {
        fn a_calendar()(
            tz in a_zone(),
            days in prop::array::uniform7(a_day()),
            holidays in prop::collection::vec(0u64..730, 0..20),
        ) -> Calendar {
            let mut week: [DayHours; 7] = Default::default();
            for (i, ranges) in days.iter().enumerate() {
                week[i] = DayHours::new(ranges.iter().map(|&(start, end)| TimeRange { start, end }).collect()).unwrap();
            }
            if week.iter().all(|d| d.ranges().is_empty()) {
                week[2] = DayHours::new(vec![TimeRange { start: 600, end: 660 }]).unwrap();
            }
            let d0: NaiveDate = "2026-01-01".parse().unwrap();
            let holidays = holidays.into_iter().map(|n| d0 + chrono::Days::new(n));
            let week = WeekSchedule::new(week).unwrap();
            Calendar::Business(Box::new(BusinessHours::new(Zone::get(tz).unwrap(), week, holidays)))
        }
    }

    /// Instants in 2026 and 2027, at any millisecond.
    fn an_instant() -> impl Strategy<Value = Timestamp> {
        (1_767_225_600_000i64..1_830_297_600_000).prop_map(Timestamp::from_millis)
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(200))]

        #[test]
        fn adding_then_measuring_gives_the_minutes_back(
            cal in a_calendar(), from in an_instant(), minutes in 0i64..20_000,
        ) {
            let due = cal.add_minutes(from, minutes);
            prop_assert_eq!(cal.between(from, due), minutes * MINUTE_MS);
            prop_assert!(due >= from);
        }

        #[test]
        fn the_result_is_the_end_of_a_business_millisecond(
            cal in a_calendar(), from in an_instant(), ms in 1i64..200_000_000,
        ) {
            let due = cal.add(from, ms);
            let just_before = Timestamp::from_millis(due.millis() - 1);
            prop_assert_eq!(cal.between(just_before, due), 1);
            // ... and the earliest such: a millisecond less is not enough.
            prop_assert_eq!(cal.between(from, just_before), ms - 1);
        }

        #[test]
        fn more_minutes_never_give_an_earlier_time(
            cal in a_calendar(), from in an_instant(), a in 0i64..20_000, b in 0i64..20_000,
        ) {
            let (lo, hi) = (a.min(b), a.max(b));
            prop_assert!(cal.add_minutes(from, lo) <= cal.add_minutes(from, hi));
        }

        #[test]
        fn adding_in_two_steps_is_adding_once(
            cal in a_calendar(), from in an_instant(), a in 0i64..10_000, b in 0i64..10_000,
        ) {
            let once = cal.add_minutes(from, a + b);
            let twice = cal.add_minutes(cal.add_minutes(from, a), b);
            prop_assert_eq!(once, twice);
        }

        #[test]
        fn measuring_is_additive(
            cal in a_calendar(), a in an_instant(), b in an_instant(), c in an_instant(),
        ) {
            let mut v = [a, b, c];
            v.sort();
            prop_assert_eq!(cal.between(v[0], v[1]) + cal.between(v[1], v[2]), cal.between(v[0], v[2]));
            prop_assert_eq!(cal.between(v[2], v[0]), 0);
        }

        #[test]
        fn office_hours_hold_across_clock_changes(
            tz in a_zone(), day in 0u64..730, start in 32u16..64, len in 1u16..=16,
        ) {
            // A daytime range (08:00-20:00 at most) on every day has its wall-clock length on
            // every date, clock-change days included (these zones change their clocks at night),
            // and opens at its local start.
            let range = TimeRange { start: start * 15, end: (start + len).min(80) * 15 };
            prop_assume!(range.end > range.start);
            let week = WeekSchedule::new(std::array::from_fn(|_| DayHours::new(vec![range]).unwrap())).unwrap();
            let cal = Calendar::Business(Box::new(BusinessHours::new(Zone::get(tz).unwrap(), week, [])));
            let date = "2026-01-01".parse::<NaiveDate>().unwrap() + chrono::Days::new(day);
            let (d0, d1) = (day_start(&cal, date), day_start(&cal, date + chrono::Days::new(1)));
            prop_assert_eq!(cal.minutes_between(d0, d1), i64::from(range.minutes()));
            let opening = Timestamp::from_millis(cal.add(d0, 1).millis() - 1);
            prop_assert_eq!(&show(tz, opening)[11..16], &range.to_string()[..5]);
        }

        #[test]
        fn round_the_clock_hours_are_calendar_time(
            tz in a_zone(), from in an_instant(), ms in 0i64..5_000_000_000,
        ) {
            let tz_ = Zone::get(tz).unwrap();
            let all = DayHours::new(vec![TimeRange { start: 0, end: DAY_MINUTES }]).unwrap();
            let cal = Calendar::Business(Box::new(BusinessHours::new(tz_, WeekSchedule::new(std::array::from_fn(|_| all.clone())).unwrap(), [])));
            prop_assert_eq!(cal.add(from, ms), Calendar::Continuous.add(from, ms));
        }
    }
}
