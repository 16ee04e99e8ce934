//! WeChat's two time formats, both in Beijing time (UTC+8):
//! v2 `yyyyMMddHHmmss` (`time_start`, `time_expire`, `time_end`) and v3 RFC 3339 with `+08:00`.
//! paygate itself speaks RFC 3339 UTC; these conversions happen only at the protocol edge.

use time::format_description::BorrowedFormatItem;
use time::format_description::well_known::Rfc3339;
use time::macros::{format_description, offset};
use time::{OffsetDateTime, PrimitiveDateTime, UtcOffset};

/// Beijing time, the offset of every WeChat timestamp.
pub const BEIJING: UtcOffset = offset!(+8);

const V2_FORMAT: &[BorrowedFormatItem<'static>] =
    format_description!("[year][month][day][hour][minute][second]");

/// Formats as v2's `yyyyMMddHHmmss` in Beijing time.
pub fn to_v2(t: OffsetDateTime) -> String {
    t.to_offset(BEIJING).format(V2_FORMAT).unwrap_or_default()
}

/// Parses v2's `yyyyMMddHHmmss`, read as Beijing time.
pub fn from_v2(s: &str) -> Option<OffsetDateTime> {
    if s.len() != 14 {
        return None;
    }
    PrimitiveDateTime::parse(s, V2_FORMAT)
        .ok()
        .map(|p| p.assume_offset(BEIJING))
}

/// Formats as RFC 3339 in Beijing time, e.g. `2018-06-08T10:34:56+08:00`.
pub fn to_v3(t: OffsetDateTime) -> String {
    // Whole seconds only: WeChat's examples never carry fractions.
    let t = t.to_offset(BEIJING).replace_nanosecond(0).unwrap_or(t);
    t.format(&Rfc3339).unwrap_or_default()
}

/// Parses an RFC 3339 time with any offset.
pub fn from_rfc3339(s: &str) -> Option<OffsetDateTime> {
    OffsetDateTime::parse(s, &Rfc3339).ok()
}

/// Formats as RFC 3339 UTC (`…Z`), paygate's own API format.
pub fn to_utc_rfc3339(t: OffsetDateTime) -> String {
    t.to_offset(UtcOffset::UTC)
        .format(&Rfc3339)
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    #[test]
    fn v2_is_beijing_time() {
        let t = datetime!(2014-09-03 05:15:40 UTC);
        assert_eq!(to_v2(t), "20140903131540");
        assert_eq!(from_v2("20140903131540"), Some(t));
        assert_eq!(from_v2("2014090313154"), None);
        assert_eq!(from_v2("20141303131540"), None);
    }

    #[test]
    fn v3_is_rfc3339_with_plus_eight() {
        let t = datetime!(2018-06-08 02:34:56.25 UTC);
        assert_eq!(to_v3(t), "2018-06-08T10:34:56+08:00");
        assert_eq!(
            from_rfc3339("2018-06-08T10:34:56+08:00"),
            Some(datetime!(2018-06-08 02:34:56 UTC))
        );
        assert_eq!(
            to_utc_rfc3339(datetime!(2018-06-08 10:34:56 +8)),
            "2018-06-08T02:34:56Z"
        );
    }
}
