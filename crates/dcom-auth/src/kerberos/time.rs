//! Time and randomness as inputs of the sans-IO Kerberos cores: a [`Clock`] and an [`Entropy`] source are
//! configuration, so tests can move time (expired tickets, clock skew) and nothing reads the system clock
//! behind the caller's back.
//!
//! KerberosTime is a GeneralizedTime without fractions (`YYYYMMDDHHMMSSZ`, [RFC 4120 5.2.3]); microseconds
//! travel in separate fields.

use core::fmt;
use std::time::{SystemTime, UNIX_EPOCH};

use picky_asn1::date::GeneralizedTime;
use picky_asn1::wrapper::GeneralizedTimeAsn1;

use crate::error::{AuthError, AuthErrorKind, Result};

/// A point in time: seconds since 1970-01-01T00:00:00Z and microseconds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Timestamp {
    /// Seconds since the Unix epoch.
    pub secs: i64,
    /// Microseconds within the second (0..=999_999).
    pub usec: u32,
}

impl Timestamp {
    /// `secs` seconds after the epoch.
    #[must_use]
    pub const fn from_secs(secs: i64) -> Self {
        Self { secs, usec: 0 }
    }

    /// This time moved by `delta` seconds (saturating).
    #[must_use]
    pub const fn add_secs(self, delta: i64) -> Self {
        Self { secs: self.secs.saturating_add(delta), usec: self.usec }
    }

    /// The system time.
    #[must_use]
    pub fn now() -> Self {
        match SystemTime::now().duration_since(UNIX_EPOCH) {
            Ok(d) => Self { secs: i64::try_from(d.as_secs()).unwrap_or(i64::MAX), usec: d.subsec_micros() },
            Err(_) => Self::default(),
        }
    }

    /// The KerberosTime encoding of the whole seconds ([RFC 4120 5.2.3]). Years outside 1970..=9999 are an
    /// error.
    pub fn to_kerberos_time(self) -> Result<GeneralizedTimeAsn1> {
        let days = self.secs.div_euclid(86_400);
        let rem = self.secs.rem_euclid(86_400);
        let (y, m, d) = civil_from_days(days);
        let bad = || AuthError::new(AuthErrorKind::Unsupported, "kerberos time").with_detail("year out of range");
        let year = u16::try_from(y).ok().filter(|y| (1970..=9999).contains(y)).ok_or_else(bad)?;
        let hour = u8::try_from(rem / 3600).map_err(|_| bad())?;
        let minute = u8::try_from(rem % 3600 / 60).map_err(|_| bad())?;
        let second = u8::try_from(rem % 60).map_err(|_| bad())?;
        let date = GeneralizedTime::new(year, m, d, hour, minute, second).ok_or_else(bad)?;
        Ok(GeneralizedTimeAsn1::from(date))
    }

    /// Reads a KerberosTime (whole seconds).
    #[must_use]
    pub fn from_kerberos_time(t: &GeneralizedTimeAsn1) -> Self {
        let d = &t.0;
        let days = days_from_civil(i64::from(d.year()), d.month(), d.day());
        let secs = days
            .saturating_mul(86_400)
            .saturating_add(i64::from(d.hour()) * 3600 + i64::from(d.minute()) * 60 + i64::from(d.second()));
        Self::from_secs(secs)
    }
}

impl fmt::Display for Timestamp {
    /// `YYYY-MM-DDTHH:MM:SSZ`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let days = self.secs.div_euclid(86_400);
        let rem = self.secs.rem_euclid(86_400);
        let (y, m, d) = civil_from_days(days);
        write!(f, "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}Z", rem / 3600, rem % 3600 / 60, rem % 60)
    }
}

/// Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's `days_from_civil`).
fn days_from_civil(y: i64, m: u8, d: u8) -> i64 {
    let (m, d) = (i64::from(m), i64::from(d));
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// The date of a day number (inverse of [`days_from_civil`]).
fn civil_from_days(z: i64) -> (i64, u8, u8) {
    let z = z.saturating_add(719_468);
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = if m <= 2 { y + 1 } else { y };
    (y, u8::try_from(m).unwrap_or(1), u8::try_from(d).unwrap_or(1))
}

/// Where a Kerberos context reads the current time. Object safe; shared between contexts.
pub trait Clock: Send + Sync + fmt::Debug {
    /// The current time.
    fn now(&self) -> Timestamp;
}

/// The system clock.
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> Timestamp {
        Timestamp::now()
    }
}

/// The system clock moved by a fixed number of seconds (tests: a server whose clock is off).
#[derive(Debug, Clone, Copy, Default)]
pub struct OffsetClock(pub i64);

impl Clock for OffsetClock {
    fn now(&self) -> Timestamp {
        Timestamp::now().add_secs(self.0)
    }
}

/// A clock that always says the same time.
#[derive(Debug, Clone, Copy, Default)]
pub struct FixedClock(pub Timestamp);

impl Clock for FixedClock {
    fn now(&self) -> Timestamp {
        self.0
    }
}

/// Where a Kerberos context takes its random bytes (nonces, subkeys, initial sequence numbers).
pub trait Entropy: Send + Sync + fmt::Debug {
    /// Fills `buf` with unpredictable bytes.
    fn fill(&self, buf: &mut [u8]) -> Result<()>;
}

/// The operating system's random source.
#[derive(Debug, Clone, Copy, Default)]
pub struct OsEntropy;

impl Entropy for OsEntropy {
    fn fill(&self, buf: &mut [u8]) -> Result<()> {
        getrandom::fill(buf).map_err(|e| {
            AuthError::new(AuthErrorKind::Provider, "random source").with_detail(format!("getrandom: {e}"))
        })
    }
}

/// A random 30-bit value: nonces and initial sequence numbers stay positive whichever way an implementation
/// encodes UInt32 (MIT and Windows differ; [MS-KILE 3.1.5.1]).
pub(crate) fn random_u30(entropy: &dyn Entropy) -> Result<u32> {
    let mut b = [0u8; 4];
    entropy.fill(&mut b)?;
    Ok(u32::from_be_bytes(b) & 0x3fff_ffff)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn civil_round_trip() {
        for days in [-1, 0, 1, 59, 365, 10_957, 20_000, 2_932_896] {
            let (y, m, d) = civil_from_days(days);
            assert_eq!(days_from_civil(y, m, d), days);
        }
        assert_eq!(civil_from_days(0), (1970, 1, 1));
        assert_eq!(civil_from_days(11_016), (2000, 2, 29));
    }

    #[test]
    fn kerberos_time_round_trip() {
        let t = Timestamp::from_secs(1_700_000_000);
        let k = t.to_kerberos_time().unwrap();
        let der = picky_asn1_der::to_vec(&k).unwrap();
        assert_eq!(&der[2..], b"20231114221320Z");
        assert_eq!(Timestamp::from_kerberos_time(&k), t);
        assert_eq!(t.to_string(), "2023-11-14T22:13:20Z");
        assert!(Timestamp::from_secs(-10).to_kerberos_time().is_err());
    }
}
