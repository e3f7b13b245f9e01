//! `google.protobuf.Timestamp` as nanoseconds since the Unix epoch, printed as RFC 3339 UTC.

use crate::duration::{Duration, write_fraction};
use serde::{Deserialize, Deserializer, Serialize, Serializer, de};
use std::fmt;

const NANOS_PER_SEC: i64 = 1_000_000_000;
const SECS_PER_DAY: i64 = 86_400;

/// An instant in nanoseconds since 1970-01-01T00:00:00Z (covers years 1677–2262).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Timestamp(i64);

impl Timestamp {
    pub const UNIX_EPOCH: Timestamp = Timestamp(0);

    pub const fn from_nanos(nanos: i64) -> Self {
        Timestamp(nanos)
    }

    pub const fn as_nanos(self) -> i64 {
        self.0
    }

    pub const fn from_unix_millis(millis: i64) -> Self {
        Timestamp(millis.saturating_mul(1_000_000))
    }

    pub const fn as_unix_millis(self) -> i64 {
        self.0.div_euclid(1_000_000)
    }

    pub fn from_system_time(t: std::time::SystemTime) -> Self {
        match t.duration_since(std::time::UNIX_EPOCH) {
            Ok(after) => Timestamp(Duration::from_std(after).as_nanos()),
            Err(e) => Timestamp(-Duration::from_std(e.duration()).as_nanos()),
        }
    }

    /// `self + d`, saturating at the representable range.
    #[allow(clippy::should_implement_trait)]
    pub const fn add(self, d: Duration) -> Self {
        Timestamp(self.0.saturating_add(d.as_nanos()))
    }

    /// `self - earlier` (negative when `earlier` is later), saturating.
    pub const fn since(self, earlier: Timestamp) -> Duration {
        Duration::from_nanos(self.0.saturating_sub(earlier.0))
    }

    /// Parses RFC 3339: `YYYY-MM-DDTHH:MM:SS[.f{1,9}](Z|±HH:MM)`.
    pub fn parse(s: &str) -> Result<Timestamp, String> {
        parse_rfc3339(s.as_bytes())
            .ok_or_else(|| format!("invalid google.protobuf.Timestamp value \"{s}\""))
    }
}

fn parse_rfc3339(b: &[u8]) -> Option<Timestamp> {
    let num = |range: std::ops::Range<usize>| -> Option<i64> {
        let digits = b.get(range)?;
        digits.iter().all(u8::is_ascii_digit).then(|| {
            digits
                .iter()
                .fold(0, |acc, d| acc * 10 + i64::from(d - b'0'))
        })
    };
    let at = |i: usize, c: u8| b.get(i).is_some_and(|x| x.eq_ignore_ascii_case(&c));
    if !(at(4, b'-') && at(7, b'-') && at(10, b'T') && at(13, b':') && at(16, b':')) {
        return None;
    }
    let (year, month, day) = (num(0..4)?, num(5..7)?, num(8..10)?);
    let (hour, minute, second) = (num(11..13)?, num(14..16)?, num(17..19)?);
    if year < 1
        || !(1..=12).contains(&month)
        || day < 1
        || day > days_in_month(year, month)
        || hour > 23
        || minute > 59
        || second > 59
    {
        return None;
    }

    let mut i = 19;
    let mut frac_nanos = 0;
    if at(i, b'.') {
        let digits = b[i + 1..].iter().take_while(|c| c.is_ascii_digit()).count();
        if digits == 0 {
            return None;
        }
        // RFC 3339 allows any precision; digits past nanoseconds are dropped.
        let kept = digits.min(9);
        frac_nanos = num(i + 1..i + 1 + kept)? * 10i64.pow(9 - kept as u32);
        i += 1 + digits;
    }

    let offset_secs = match b.get(i..)? {
        [z] if z.eq_ignore_ascii_case(&b'Z') => 0,
        [sign @ (b'+' | b'-'), _, _, b':', _, _] => {
            let (h, m) = (num(i + 1..i + 3)?, num(i + 4..i + 6)?);
            if h > 23 || m > 59 {
                return None;
            }
            let secs = h * 3600 + m * 60;
            if *sign == b'-' { -secs } else { secs }
        }
        _ => return None,
    };

    let secs =
        days_from_civil(year, month, day) * SECS_PER_DAY + hour * 3600 + minute * 60 + second
            - offset_secs;
    let nanos = i128::from(secs) * i128::from(NANOS_PER_SEC) + i128::from(frac_nanos);
    i64::try_from(nanos).ok().map(Timestamp)
}

fn days_in_month(year: i64, month: i64) -> i64 {
    match month {
        2 if year % 4 == 0 && (year % 100 != 0 || year % 400 == 0) => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's algorithm).
fn days_from_civil(year: i64, month: i64, day: i64) -> i64 {
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y.rem_euclid(400);
    let doy = (153 * (if month > 2 { month - 3 } else { month + 9 }) + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// The inverse of [`days_from_civil`]: `(year, month, day)`.
fn civil_from_days(days: i64) -> (i64, i64, i64) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

impl fmt::Display for Timestamp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let secs = self.0.div_euclid(NANOS_PER_SEC);
        let nanos = self.0.rem_euclid(NANOS_PER_SEC) as u64;
        let (year, month, day) = civil_from_days(secs.div_euclid(SECS_PER_DAY));
        let tod = secs.rem_euclid(SECS_PER_DAY);
        write!(
            f,
            "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}",
            tod / 3600,
            tod / 60 % 60,
            tod % 60
        )?;
        write_fraction(f, nanos)?;
        f.write_str("Z")
    }
}

impl std::str::FromStr for Timestamp {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        Timestamp::parse(s)
    }
}

impl std::ops::Add<Duration> for Timestamp {
    type Output = Timestamp;

    fn add(self, d: Duration) -> Timestamp {
        Timestamp::add(self, d)
    }
}

impl Serialize for Timestamp {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Timestamp {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct TimestampVisitor;

        impl de::Visitor<'_> for TimestampVisitor {
            type Value = Timestamp;

            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("an RFC 3339 google.protobuf.Timestamp string")
            }

            fn visit_str<E: de::Error>(self, v: &str) -> Result<Timestamp, E> {
                Timestamp::parse(v).map_err(E::custom)
            }
        }

        d.deserialize_str(TimestampVisitor)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prints_utc_with_trimmed_fraction() {
        let table = [
            (1_795_311_623_056_197_952, "2026-11-22T01:40:23.056197952Z"),
            (1_795_311_623_056_000_000, "2026-11-22T01:40:23.056Z"),
            (1_795_311_623_056_197_000, "2026-11-22T01:40:23.056197Z"),
            (1_795_311_623_000_000_000, "2026-11-22T01:40:23Z"),
            (0, "1970-01-01T00:00:00Z"),
            (-1, "1969-12-31T23:59:59.999999999Z"),
            (951_782_400_000_000_000, "2000-02-29T00:00:00Z"),
        ];
        for (nanos, text) in table {
            let ts = Timestamp::from_nanos(nanos);
            assert_eq!(ts.to_string(), text);
            assert_eq!(Timestamp::parse(text), Ok(ts), "{text}");
            assert_eq!(serde_json::to_string(&ts).unwrap(), format!("\"{text}\""));
        }
    }

    #[test]
    fn parses_offsets_and_short_fractions() {
        let utc = Timestamp::parse("2026-11-22T01:40:23.5Z").unwrap();
        assert_eq!(utc.to_string(), "2026-11-22T01:40:23.500Z");
        assert_eq!(Timestamp::parse("2026-11-22T03:40:23.5+02:00"), Ok(utc));
        assert_eq!(Timestamp::parse("2026-11-21T23:10:23.5-02:30"), Ok(utc));
        assert_eq!(Timestamp::parse("2026-11-22t01:40:23.500z"), Ok(utc));
    }

    #[test]
    fn digits_past_nanoseconds_are_dropped() {
        let t = Timestamp::parse("2026-11-22T01:40:23.0123456789Z").unwrap();
        assert_eq!(
            t,
            Timestamp::parse("2026-11-22T01:40:23.012345678Z").unwrap()
        );
    }

    #[test]
    fn rejects_malformed_timestamps() {
        for input in [
            "x",
            "2026-11-22",
            "2026-11-22T01:40:23",
            "2026-11-22 01:40:23Z",
            "2026-13-22T01:40:23Z",
            "2026-02-29T01:40:23Z",
            "2026-11-22T24:00:00Z",
            "2026-11-22T01:40:23.Z",
            "2026-11-22T01:40:23+0200",
            "9999-12-31T23:59:59Z",
        ] {
            assert_eq!(
                Timestamp::parse(input),
                Err(format!(
                    "invalid google.protobuf.Timestamp value \"{input}\""
                )),
            );
        }
    }

    #[test]
    fn arithmetic_uses_durations() {
        let t = Timestamp::from_unix_millis(1_000);
        assert_eq!(t.add(Duration::from_millis(500)).as_unix_millis(), 1_500);
        assert_eq!(t.since(Timestamp::UNIX_EPOCH), Duration::from_secs(1));
        assert_eq!(
            Timestamp::from_nanos(i64::MAX)
                .add(Duration::from_secs(1))
                .as_nanos(),
            i64::MAX
        );
    }
}
