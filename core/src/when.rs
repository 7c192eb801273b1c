//! Times as people read them in a chat: messages grouped under a day ("Today", "Yesterday",
//! "23 Nov") with short clock times ("14:05"), and the console's short relative times ("now",
//! "5 min", "14:05", "Yesterday", "23 Nov"). Times come in the protocol's
//! `yyyy-MM-dd HH:mm:ss`, in the backend's local time (the original sends no zone), and are
//! compared with the browser's local time in the same layout.

use chrono::{Datelike, NaiveDate, NaiveDateTime, Timelike};

use crate::i18n::Texts;

/// A wall-clock time as the protocol writes it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Stamp(NaiveDateTime);

impl Stamp {
    /// Reads `yyyy-MM-dd HH:mm:ss` (seconds optional); `None` for anything else.
    pub fn parse(text: &str) -> Option<Stamp> {
        let (date, clock) = text.trim().split_once(' ')?;
        let mut ymd = date.split('-').map(|n| n.parse::<u32>().ok());
        let (year, month, day) = (ymd.next()??, ymd.next()??, ymd.next()??);
        let mut hms = clock.split(':').map(|n| n.parse::<u32>().ok());
        let (hour, minute) = (hms.next()??, hms.next()??);
        let second = hms.next().flatten().unwrap_or(0);
        if ymd.next().is_some() || hms.next().is_some() {
            return None;
        }
        let date = NaiveDate::from_ymd_opt(i32::try_from(year).ok()?, month, day)?;
        Some(Stamp(date.and_hms_opt(hour, minute, second)?))
    }

    pub fn date(self) -> NaiveDate {
        self.0.date()
    }

    /// `HH:MM`.
    pub fn clock(self) -> String {
        format!("{:02}:{:02}", self.0.hour(), self.0.minute())
    }
}

/// The short clock time of a message (`14:05`), or the time as given when it cannot be read.
pub fn clock(time: &str) -> String {
    Stamp::parse(time).map(Stamp::clock).unwrap_or_else(|| time.to_owned())
}

/// The heading of a day's messages, seen on `today`.
pub fn day_label(day: NaiveDate, today: NaiveDate, texts: &Texts) -> String {
    match (today - day).num_days() {
        0 => texts.today.to_owned(),
        1 => texts.yesterday.to_owned(),
        _ => date_label(day, day.year() != today.year(), texts),
    }
}

/// `23 Nov` / `11月23日`, with the year when asked.
fn date_label(day: NaiveDate, with_year: bool, texts: &Texts) -> String {
    const MONTHS: [&str; 12] =
        ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];
    match (texts.lang, with_year) {
        ("zh", false) => format!("{}月{}日", day.month(), day.day()),
        ("zh", true) => format!("{}年{}月{}日", day.year(), day.month(), day.day()),
        (_, false) => format!("{} {}", day.day(), MONTHS[day.month0() as usize]),
        (_, true) => format!("{} {} {}", day.day(), MONTHS[day.month0() as usize], day.year()),
    }
}

/// How long ago `then` was, seen at `now`, in a few characters: for the console's list.
pub fn relative(then: &str, now: &str, texts: &Texts) -> String {
    let (Some(then), Some(now)) = (Stamp::parse(then), Stamp::parse(now)) else {
        return then.to_owned();
    };
    let minutes = (now.0 - then.0).num_minutes();
    match minutes {
        // A backend clock slightly ahead reads as now, not as the future.
        ..=0 => texts.just_now.to_owned(),
        1..=59 => format!("{minutes} {}", texts.minutes_ago),
        _ if then.date() == now.date() => then.clock(),
        _ => day_label(then.date(), now.date(), texts),
    }
}

/// A row of a message list: a day's heading, or the item (a message) at this index.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Row {
    Day { date: String, label: String },
    Item(usize),
}

/// Rows for items with these `times`, in order, with a day heading wherever the day changes
/// (items whose time cannot be read stay under the heading before them).
pub fn with_days<'a>(times: impl IntoIterator<Item = &'a str>, today: NaiveDate, texts: &Texts) -> Vec<Row> {
    let mut rows = vec![];
    let mut current = None;
    for (index, time) in times.into_iter().enumerate() {
        if let Some(day) = Stamp::parse(time).map(Stamp::date).filter(|day| Some(*day) != current) {
            current = Some(day);
            rows.push(Row::Day { date: day.to_string(), label: day_label(day, today, texts) });
        }
        rows.push(Row::Item(index));
    }
    rows
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::i18n::{EN, ZH};

    fn day(text: &str) -> NaiveDate {
        Stamp::parse(&format!("{text} 00:00:00")).expect("date").date()
    }

    #[test]
    fn reads_the_protocol_layout_and_nothing_else() {
        assert_eq!(clock("2026-11-29 04:48:32"), "04:48");
        assert_eq!(clock("2026-11-29 4:08"), "04:08");
        for bad in [
            "",
            "today",
            "2026-11-29",
            "2026-13-01 10:00:00",
            "2026-11-29 25:00:00",
            "2026-11-29 10:00:00:00",
        ] {
            assert_eq!(Stamp::parse(bad), None, "{bad:?}");
        }
        assert_eq!(clock("soon"), "soon", "unreadable times are shown as given");
    }

    #[test]
    fn days_are_today_yesterday_or_a_date_with_the_year_only_when_another() {
        let today = day("2026-11-29");
        assert_eq!(day_label(today, today, &EN), "Today");
        assert_eq!(day_label(day("2026-11-28"), today, &ZH), "昨天");
        assert_eq!(day_label(day("2026-11-23"), today, &EN), "23 Nov");
        assert_eq!(day_label(day("2026-11-23"), today, &ZH), "11月23日");
        assert_eq!(day_label(day("2025-12-31"), day("2026-01-02"), &EN), "31 Dec 2025");
        assert_eq!(day_label(day("2025-12-31"), day("2026-01-02"), &ZH), "2025年12月31日");
        assert_eq!(day_label(day("2025-12-31"), day("2026-01-01"), &EN), "Yesterday");
    }

    #[test]
    fn relative_times_are_short() {
        let now = "2026-11-29 14:30:00";
        assert_eq!(relative("2026-11-29 14:29:40", now, &EN), "now");
        assert_eq!(relative("2026-11-29 14:31:00", now, &EN), "now", "a clock a little ahead");
        assert_eq!(relative("2026-11-29 14:25:00", now, &EN), "5 min");
        assert_eq!(relative("2026-11-29 14:25:00", now, &ZH), "5 分钟前");
        assert_eq!(relative("2026-11-29 09:05:00", now, &EN), "09:05");
        assert_eq!(relative("2026-11-28 23:59:00", now, &EN), "Yesterday");
        assert_eq!(relative("2026-11-20 10:00:00", now, &EN), "20 Nov");
        assert_eq!(relative("garbled", now, &EN), "garbled");
        assert!(relative("2026-11-20 10:00:00", now, &EN).len() < "2026-11-20 10:00:00".len());
    }

    #[test]
    fn a_heading_opens_each_day() {
        let today = day("2026-11-29");
        let times = [
            "2026-11-28 23:58:00",
            "2026-11-28 23:59:00",
            "bad",
            "2026-11-29 00:01:00",
            "2026-11-29 08:00:00",
        ];
        let rows = with_days(times, today, &EN);
        assert_eq!(
            rows,
            vec![
                Row::Day { date: "2026-11-28".into(), label: "Yesterday".into() },
                Row::Item(0),
                Row::Item(1),
                Row::Item(2),
                Row::Day { date: "2026-11-29".into(), label: "Today".into() },
                Row::Item(3),
                Row::Item(4),
            ]
        );
        assert_eq!(with_days([], today, &EN), vec![]);
    }
}
