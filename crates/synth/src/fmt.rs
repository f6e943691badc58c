//! Allocation-free row formatting: integers, dates, RFC 3339 timestamps, fixed-point numbers and
//! CSV quoting, pushed straight into a byte buffer. The hot path formats tens of millions of rows,
//! so nothing here allocates or goes through `std::fmt`.

/// Append an unsigned integer in decimal.
pub(crate) fn push_u64(buf: &mut Vec<u8>, mut v: u64) {
    let mut tmp = [0u8; 20];
    let mut i = tmp.len();
    loop {
        i -= 1;
        tmp[i] = b'0' + (v % 10) as u8;
        v /= 10;
        if v == 0 {
            break;
        }
    }
    buf.extend_from_slice(&tmp[i..]);
}

/// Append a signed integer in decimal.
pub(crate) fn push_i64(buf: &mut Vec<u8>, v: i64) {
    if v < 0 {
        buf.push(b'-');
    }
    push_u64(buf, v.unsigned_abs());
}

/// Append a string verbatim (the caller knows it needs no quoting).
#[inline]
pub(crate) fn push_str(buf: &mut Vec<u8>, s: &str) {
    buf.extend_from_slice(s.as_bytes());
}

/// Append a CSV field, quoting it (RFC 4180) when it contains a comma, quote or line break.
pub(crate) fn push_field(buf: &mut Vec<u8>, s: &str) {
    if s.bytes().any(|b| matches!(b, b',' | b'"' | b'\n' | b'\r')) {
        buf.push(b'"');
        for b in s.bytes() {
            if b == b'"' {
                buf.push(b'"');
            }
            buf.push(b);
        }
        buf.push(b'"');
    } else {
        push_str(buf, s);
    }
}

/// Days since 1970-01-01 to a proleptic Gregorian (year, month, day).
pub(crate) fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = if z >= 0 { z } else { z - 146_096 } / 146_097;
    let doe = (z - era * 146_097) as u64;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe as i64 + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (if m <= 2 { y + 1 } else { y }, m, d)
}

/// A proleptic Gregorian date to days since 1970-01-01.
pub(crate) fn days_from_civil(y: i64, m: u32, d: u32) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = if y >= 0 { y } else { y - 399 } / 400;
    let yoe = (y - era * 400) as u64;
    let mp = u64::from(if m > 2 { m - 3 } else { m + 9 });
    let doy = (153 * mp + 2) / 5 + u64::from(d) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe as i64 - 719_468
}

#[inline]
fn push_2(buf: &mut Vec<u8>, v: u32) {
    buf.push(b'0' + (v / 10) as u8);
    buf.push(b'0' + (v % 10) as u8);
}

fn push_year(buf: &mut Vec<u8>, y: i64) {
    let y = y.clamp(0, 9999) as u32;
    push_2(buf, y / 100);
    push_2(buf, y % 100);
}

/// Append a date `YYYY-MM-DD` given days since the Unix epoch.
pub(crate) fn push_date(buf: &mut Vec<u8>, days: i64) {
    let (y, m, d) = civil_from_days(days);
    push_year(buf, y);
    buf.push(b'-');
    push_2(buf, m);
    buf.push(b'-');
    push_2(buf, d);
}

/// Append an RFC 3339 UTC timestamp with seconds (`2026-03-04T12:31:07Z`) given Unix seconds.
pub(crate) fn push_ts(buf: &mut Vec<u8>, secs: i64) {
    let days = secs.div_euclid(86_400);
    let s = secs.rem_euclid(86_400) as u32;
    push_date(buf, days);
    buf.push(b'T');
    push_2(buf, s / 3600);
    buf.push(b':');
    push_2(buf, s / 60 % 60);
    buf.push(b':');
    push_2(buf, s % 60);
    buf.push(b'Z');
}

/// Append a number with exactly two decimals, never `-0.00`.
pub(crate) fn push_fixed2(buf: &mut Vec<u8>, v: f64) {
    let c = (v * 100.0).round() as i64;
    if c < 0 {
        buf.push(b'-');
    }
    let a = c.unsigned_abs();
    push_u64(buf, a / 100);
    buf.push(b'.');
    push_2(buf, (a % 100) as u32);
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::{DateTime, NaiveDate, SecondsFormat};

    #[test]
    fn dates_and_timestamps_match_chrono() {
        let epoch = NaiveDate::from_ymd_opt(1970, 1, 1).unwrap();
        for days in [-1000i64, 0, 59, 10_957, 20_000, 20_757, 20_758, 30_000] {
            let d = epoch + chrono::Days::new(0) + chrono::TimeDelta::days(days);
            let mut b = Vec::new();
            push_date(&mut b, days);
            if days >= 0 {
                assert_eq!(
                    String::from_utf8(b).unwrap(),
                    d.format("%Y-%m-%d").to_string()
                );
            }
            use chrono::Datelike;
            assert_eq!(
                days_from_civil(i64::from(d.year()), d.month(), d.day()),
                days
            );
        }
        for secs in [0i64, 1_772_627_467, 1_793_000_000, 86_399] {
            let mut b = Vec::new();
            push_ts(&mut b, secs);
            let want = DateTime::from_timestamp(secs, 0)
                .unwrap()
                .to_rfc3339_opts(SecondsFormat::Secs, true);
            assert_eq!(String::from_utf8(b).unwrap(), want);
        }
    }

    #[test]
    fn numbers_and_quoting() {
        let mut b = Vec::new();
        push_i64(&mut b, -1205);
        b.push(b' ');
        push_fixed2(&mut b, -0.001);
        b.push(b' ');
        push_fixed2(&mut b, -0.456);
        b.push(b' ');
        push_field(&mut b, "a, \"b\"");
        assert_eq!(
            String::from_utf8(b).unwrap(),
            "-1205 0.00 -0.46 \"a, \"\"b\"\"\""
        );
    }
}
