//! The calendar window the data covers: whole months ending with the month of `end_date`, the
//! last one clipped at `end_date`. Days are counted from the Unix epoch.

use crate::fmt::{civil_from_days, days_from_civil};
use chrono::{Datelike, NaiveDate};

/// One calendar month of the window.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Month {
    /// First day of the month (days since the epoch).
    pub start_day: i64,
    /// Days of this month inside the window (the last month may be clipped).
    pub days: u32,
    /// Calendar days in the month.
    pub full_days: u32,
    /// Calendar month, 1–12.
    pub month: u32,
}

/// The months covered, oldest first.
#[derive(Debug, Clone)]
pub(crate) struct Window {
    pub months: Vec<Month>,
    /// First day of the window.
    pub start_day: i64,
    /// One past the last day of the window.
    pub end_day: i64,
}

fn days_in_month(y: i64, m: u32) -> u32 {
    let (ny, nm) = if m == 12 { (y + 1, 1) } else { (y, m + 1) };
    (days_from_civil(ny, nm, 1) - days_from_civil(y, m, 1)) as u32
}

impl Window {
    pub fn new(end: NaiveDate, months: u32) -> Self {
        let (ey, em) = (i64::from(end.year()), end.month());
        let end_idx = ey * 12 + i64::from(em) - 1;
        let mut out = Vec::with_capacity(months as usize);
        for k in (0..i64::from(months)).rev() {
            let idx = end_idx - k;
            let (y, m) = (idx.div_euclid(12), (idx.rem_euclid(12) + 1) as u32);
            let full = days_in_month(y, m);
            let days = if k == 0 { end.day() } else { full };
            out.push(Month {
                start_day: days_from_civil(y, m, 1),
                days,
                full_days: full,
                month: m,
            });
        }
        let start_day = out[0].start_day;
        let end_day = days_from_civil(ey, em, end.day()) + 1;
        Self {
            months: out,
            start_day,
            end_day,
        }
    }

    /// Index of the month holding `day` (clamped to the window).
    pub fn month_of_day(&self, day: i64) -> usize {
        self.months
            .iter()
            .rposition(|m| m.start_day <= day)
            .unwrap_or(0)
    }

    /// The window's first date, for the manifest.
    pub fn start_date(&self) -> (i64, u32, u32) {
        civil_from_days(self.start_day)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn twelve_months_to_end_of_october() {
        let w = Window::new(NaiveDate::from_ymd_opt(2026, 10, 31).unwrap(), 12);
        assert_eq!(w.months.len(), 12);
        assert_eq!(w.start_date(), (2025, 11, 1));
        assert_eq!(w.months[3].month, 2);
        assert_eq!(w.months[3].days, 28);
        assert_eq!(w.end_day - w.start_day, 365);
        let clipped = Window::new(NaiveDate::from_ymd_opt(2026, 3, 10).unwrap(), 2);
        assert_eq!(clipped.months[1].days, 10);
        assert_eq!(clipped.months[1].full_days, 31);
        assert_eq!(clipped.month_of_day(clipped.end_day - 1), 1);
    }
}
