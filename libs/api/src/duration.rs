//! `google.protobuf.Duration` as nanoseconds, printed as protojson seconds (`"2.500s"`).

use serde::{Deserialize, Deserializer, Serialize, Serializer, de};
use std::fmt;

/// Largest magnitude protobuf allows: 10 000 years in seconds.
const MAX_SECONDS: u64 = 315_576_000_000;
const NANOS_PER_SEC: u64 = 1_000_000_000;

/// The rule an invalid duration breaks, stated with the error.
pub const DURATION_FORMAT: &str = "a duration is seconds with an `s` suffix and at most 9 \
    decimals, from -315576000000s to 315576000000s, e.g. \"60s\", \"0.5s\" or \"3600s\"";

/// A signed duration in nanoseconds. Negative values are representable so that validation can
/// report "negative duration" rather than a parse error.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Duration(i64);

impl Duration {
    pub const ZERO: Duration = Duration(0);
    pub const MAX: Duration = Duration(i64::MAX);

    pub const fn from_nanos(nanos: i64) -> Self {
        Duration(nanos)
    }

    pub const fn from_millis(millis: i64) -> Self {
        Duration(millis.saturating_mul(1_000_000))
    }

    pub const fn from_secs(secs: i64) -> Self {
        Duration(secs.saturating_mul(NANOS_PER_SEC as i64))
    }

    pub const fn as_nanos(self) -> i64 {
        self.0
    }

    pub const fn as_millis(self) -> i64 {
        self.0 / 1_000_000
    }

    pub fn as_secs_f64(self) -> f64 {
        self.0 as f64 / NANOS_PER_SEC as f64
    }

    pub const fn is_zero(self) -> bool {
        self.0 == 0
    }

    pub const fn is_negative(self) -> bool {
        self.0 < 0
    }

    /// Negative durations become zero.
    pub fn to_std(self) -> std::time::Duration {
        std::time::Duration::from_nanos(self.0.max(0) as u64)
    }

    pub fn from_std(d: std::time::Duration) -> Self {
        Duration(i64::try_from(d.as_nanos()).unwrap_or(i64::MAX))
    }

    pub const fn saturating_add(self, other: Duration) -> Self {
        Duration(self.0.saturating_add(other.0))
    }

    pub const fn saturating_sub(self, other: Duration) -> Self {
        Duration(self.0.saturating_sub(other.0))
    }

    /// Float scaling as the retry backoff does it, clamped to `[0, MAX]` (NaN gives zero).
    pub fn mul_f64(self, factor: f64) -> Self {
        // `as` saturates at the i64 bounds and maps NaN to 0.
        Duration(((self.0 as f64 * factor) as i64).max(0))
    }

    /// Parses protojson's `"<seconds>[.<up to 9 digits>]s"`, optionally negative.
    pub fn parse(s: &str) -> Result<Duration, String> {
        let invalid =
            || format!("invalid google.protobuf.Duration value \"{s}\" ({DURATION_FORMAT})");
        let body = s.strip_suffix('s').ok_or_else(invalid)?;
        let (negative, body) = match body.strip_prefix('-') {
            Some(rest) => (true, rest),
            None => (false, body),
        };
        let (int, frac) = match body.split_once('.') {
            Some((int, frac)) if !frac.is_empty() => (int, frac),
            Some(_) => return Err(invalid()),
            None => (body, ""),
        };
        let digits = |x: &str| x.bytes().all(|b| b.is_ascii_digit());
        if !digits(int)
            || !digits(frac)
            || frac.len() > 9
            || (int.is_empty() && frac.is_empty())
            || (int.len() > 1 && int.starts_with('0'))
        {
            return Err(invalid());
        }
        let secs: u64 = if int.is_empty() {
            0
        } else {
            int.parse().map_err(|_| invalid())?
        };
        if secs > MAX_SECONDS {
            return Err(invalid());
        }
        let frac_nanos: u64 = if frac.is_empty() {
            0
        } else {
            frac.parse::<u64>().map_err(|_| invalid())? * 10u64.pow(9 - frac.len() as u32)
        };
        let nanos = i128::from(secs) * i128::from(NANOS_PER_SEC) + i128::from(frac_nanos);
        let nanos = if negative { -nanos } else { nanos };
        // Protobuf allows ±10 000 years; anything past i64 nanoseconds (~292 years) saturates.
        Ok(Duration(
            nanos.clamp(i64::MIN as i128, i64::MAX as i128) as i64
        ))
    }
}

/// Writes `.ddd`, `.dddddd` or `.ddddddddd` (or nothing) for a sub-second nanosecond count, like
/// Go's protojson.
pub(crate) fn write_fraction(f: &mut fmt::Formatter<'_>, nanos: u64) -> fmt::Result {
    if nanos == 0 {
        Ok(())
    } else if nanos.is_multiple_of(1_000_000) {
        write!(f, ".{:03}", nanos / 1_000_000)
    } else if nanos.is_multiple_of(1_000) {
        write!(f, ".{:06}", nanos / 1_000)
    } else {
        write!(f, ".{nanos:09}")
    }
}

impl fmt::Display for Duration {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.0 < 0 {
            f.write_str("-")?;
        }
        let abs = self.0.unsigned_abs();
        write!(f, "{}", abs / NANOS_PER_SEC)?;
        write_fraction(f, abs % NANOS_PER_SEC)?;
        f.write_str("s")
    }
}

impl std::str::FromStr for Duration {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        Duration::parse(s)
    }
}

impl Serialize for Duration {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Duration {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct DurationVisitor;

        impl de::Visitor<'_> for DurationVisitor {
            type Value = Duration;

            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a google.protobuf.Duration string such as \"1.5s\"")
            }

            fn visit_str<E: de::Error>(self, v: &str) -> Result<Duration, E> {
                Duration::parse(v).map_err(E::custom)
            }
        }

        d.deserialize_str(DurationVisitor)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_protojson_durations() {
        let table = [
            ("10s", 10_000_000_000),
            ("0s", 0),
            ("2.5s", 2_500_000_000),
            ("-1s", -1_000_000_000),
            ("-0.5s", -500_000_000),
            ("0.000000001s", 1),
            ("1.000013290s", 1_000_013_290),
            (".5s", 500_000_000),
            ("315576000000s", i64::MAX),
        ];
        for (input, nanos) in table {
            assert_eq!(
                Duration::parse(input),
                Ok(Duration::from_nanos(nanos)),
                "{input}"
            );
        }
    }

    #[test]
    fn rejects_malformed_durations() {
        for input in [
            "10x",
            "10",
            "",
            "s",
            "-s",
            "1.s",
            "01s",
            "1.0000000001s",
            "1e3s",
            " 1s",
            "315576000001s",
        ] {
            assert_eq!(
                Duration::parse(input),
                Err(format!(
                    "invalid google.protobuf.Duration value \"{input}\" ({DURATION_FORMAT})"
                )),
            );
        }
    }

    #[test]
    fn prints_0_3_6_or_9_fraction_digits() {
        let table = [
            (Duration::from_secs(60), "60s"),
            (Duration::from_millis(2500), "2.500s"),
            (Duration::from_millis(1), "0.001s"),
            (Duration::from_nanos(1_000_013_290), "1.000013290s"),
            (Duration::from_nanos(1_500_000), "0.001500s"),
            (Duration::from_secs(-1), "-1s"),
            (Duration::from_millis(-500), "-0.500s"),
            (Duration::ZERO, "0s"),
        ];
        for (d, text) in table {
            assert_eq!(d.to_string(), text);
            assert_eq!(serde_json::to_string(&d).unwrap(), format!("\"{text}\""));
            assert_eq!(
                serde_json::from_str::<Duration>(&format!("\"{text}\"")).unwrap(),
                d
            );
        }
    }

    #[test]
    fn deserialize_error_names_the_type() {
        let err = serde_json::from_str::<Duration>("\"10x\"").unwrap_err();
        assert!(
            err.to_string()
                .contains("invalid google.protobuf.Duration value \"10x\""),
            "{err}"
        );
    }

    #[test]
    fn arithmetic_saturates_and_clamps() {
        assert_eq!(
            Duration::MAX.saturating_add(Duration::from_secs(1)),
            Duration::MAX
        );
        assert_eq!(Duration::from_secs(2).mul_f64(1.5), Duration::from_secs(3));
        assert_eq!(Duration::from_secs(2).mul_f64(-1.0), Duration::ZERO);
        assert_eq!(Duration::from_secs(2).mul_f64(f64::NAN), Duration::ZERO);
        assert_eq!(Duration::from_secs(100).mul_f64(1e300), Duration::MAX);
        assert_eq!(Duration::from_secs(-1).to_std(), std::time::Duration::ZERO);
        assert_eq!(
            Duration::from_std(std::time::Duration::from_millis(5)).as_millis(),
            5
        );
    }
}
