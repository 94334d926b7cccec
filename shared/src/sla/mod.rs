//! Service levels (SPEC §10), the pure part: business calendars, the `PUT /sla` policy and a
//! ticket's clocks. No I/O: the store, the ticket transition and the breach sweep build on it.

pub mod calendar;
pub mod clock;
pub mod policy;
pub mod ticket;

pub use crate::model::SlaView;
pub use calendar::{BusinessHours, Calendar, DayHours, HoursError, TimeRange, WeekSchedule, Zone};
pub use clock::{DueTimes, Metric, SlaClock, due_at};
pub use policy::{SlaPolicy, Target, TargetMinutes};
pub use ticket::TicketSla;
