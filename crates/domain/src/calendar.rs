//! Working days for legal deadlines.
//!
//! Regulation 1182/71 art. 3(4): a period that ends on a Saturday, a Sunday or a public
//! holiday ends instead at the end of the next working day. The public holidays are those
//! of the controller's country: Belgium's ten legal holidays (royal decree of 18 April 1974)
//! and the days the Dutch Algemene termijnenwet (art. 3) lists.
//!
//! Written here rather than taken from a crate: the holiday crates on crates.io are either
//! unmaintained or cover neither list exactly, and both lists are a few fixed dates plus
//! days that follow Easter.

use time::{Date, Duration, Month, Weekday};

use crate::register::Country;

/// Easter Sunday of `year` in the Gregorian calendar (the anonymous algorithm published by
/// Meeus, after Butcher).
pub fn easter_sunday(year: i32) -> Date {
    let a = year.rem_euclid(19);
    let b = year.div_euclid(100);
    let c = year.rem_euclid(100);
    let d = b / 4;
    let e = b % 4;
    let f = (b + 8) / 25;
    let g = (b - f + 1) / 3;
    let h = (19 * a + b - d - g + 15) % 30;
    let i = c / 4;
    let k = c % 4;
    let l = (32 + 2 * e + 2 * i - h - k) % 7;
    let m = (a + 11 * h + 22 * l) / 451;
    let month = (h + l - 7 * m + 114) / 31;
    let day = (h + l - 7 * m + 114) % 31 + 1;
    let month = if month == 3 {
        Month::March
    } else {
        Month::April
    };
    Date::from_calendar_date(year, month, day as u8).unwrap_or(Date::MIN)
}

/// The public holidays of `country` in `year`, in date order.
pub fn public_holidays(country: Country, year: i32) -> Vec<Date> {
    let easter = easter_sunday(year);
    let after_easter = |days: i64| easter + Duration::days(days);
    let on = |month: Month, day: u8| Date::from_calendar_date(year, month, day).ok();
    let mut days: Vec<Date> = match country {
        Country::Be => vec![
            on(Month::January, 1),
            Some(after_easter(1)),  // Easter Monday
            on(Month::May, 1),      // Labour Day
            Some(after_easter(39)), // Ascension Day
            Some(after_easter(50)), // Whit Monday
            on(Month::July, 21),    // National Day
            on(Month::August, 15),  // Assumption
            on(Month::November, 1), // All Saints
            on(Month::November, 11),
            on(Month::December, 25),
        ],
        Country::Nl => vec![
            on(Month::January, 1),
            Some(after_easter(1)), // tweede Paasdag
            Some(kings_day(year)),
            on(Month::May, 5),      // Bevrijdingsdag
            Some(after_easter(39)), // Hemelvaartsdag
            Some(after_easter(50)), // tweede Pinksterdag
            on(Month::December, 25),
            on(Month::December, 26),
        ],
    }
    .into_iter()
    .flatten()
    .collect();
    days.sort();
    days
}

/// Koningsdag: 27 April, or 26 April when the 27th is a Sunday.
fn kings_day(year: i32) -> Date {
    let day = Date::from_calendar_date(year, Month::April, 27).unwrap_or(Date::MIN);
    if day.weekday() == Weekday::Sunday {
        day - Duration::days(1)
    } else {
        day
    }
}

/// Whether `date` is a working day in `country`.
pub fn is_working_day(country: Country, date: Date) -> bool {
    !matches!(date.weekday(), Weekday::Saturday | Weekday::Sunday)
        && !public_holidays(country, date.year()).contains(&date)
}

/// `date` itself when it is a working day, else the first working day after it.
pub fn working_day_on_or_after(country: Country, date: Date) -> Date {
    let mut day = date;
    // A run of days off is never longer than a weekend plus two holidays; the bound only
    // guards against a date at the end of the calendar.
    for _ in 0..14 {
        if is_working_day(country, day) {
            return day;
        }
        match day.next_day() {
            Some(next) => day = next,
            None => return day,
        }
    }
    day
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::date;

    #[test]
    fn easter_matches_the_published_dates() {
        for (year, easter) in [
            (2024, date!(2024 - 03 - 31)),
            (2025, date!(2025 - 04 - 20)),
            (2026, date!(2026 - 04 - 05)),
            (2027, date!(2027 - 03 - 28)),
            (2038, date!(2038 - 04 - 25)),
            (2285, date!(2285 - 03 - 22)),
        ] {
            assert_eq!(easter_sunday(year), easter, "{year}");
        }
    }

    #[test]
    fn belgian_holidays_of_2026() {
        assert_eq!(
            public_holidays(Country::Be, 2026),
            [
                date!(2026 - 01 - 01),
                date!(2026 - 04 - 06),
                date!(2026 - 05 - 01),
                date!(2026 - 05 - 14),
                date!(2026 - 05 - 25),
                date!(2026 - 07 - 21),
                date!(2026 - 08 - 15),
                date!(2026 - 11 - 01),
                date!(2026 - 11 - 11),
                date!(2026 - 12 - 25),
            ]
        );
    }

    #[test]
    fn dutch_holidays_follow_the_algemene_termijnenwet() {
        let days = public_holidays(Country::Nl, 2026);
        assert!(days.contains(&date!(2026 - 04 - 27)), "Koningsdag");
        assert!(days.contains(&date!(2026 - 05 - 05)), "Bevrijdingsdag");
        assert!(days.contains(&date!(2026 - 12 - 26)), "tweede Kerstdag");
        assert!(!days.contains(&date!(2026 - 07 - 21)), "a Belgian holiday");
        // 27 April 2025 was a Sunday: Koningsdag moved to Saturday the 26th.
        assert!(public_holidays(Country::Nl, 2025).contains(&date!(2025 - 04 - 26)));
    }

    #[test]
    fn a_deadline_on_a_day_off_moves_to_the_next_working_day() {
        // Saturday 21 November 2026 → Monday 23.
        assert_eq!(
            working_day_on_or_after(Country::Be, date!(2026 - 11 - 21)),
            date!(2026 - 11 - 23)
        );
        // Wednesday 11 November 2026 is Armistice Day in Belgium, not in the Netherlands.
        assert_eq!(
            working_day_on_or_after(Country::Be, date!(2026 - 11 - 11)),
            date!(2026 - 11 - 12)
        );
        assert_eq!(
            working_day_on_or_after(Country::Nl, date!(2026 - 11 - 11)),
            date!(2026 - 11 - 11)
        );
        // Friday 25 December 2026, then a weekend: Belgium works again on Monday 28, the
        // Netherlands too (26 December is a Saturday).
        assert_eq!(
            working_day_on_or_after(Country::Be, date!(2026 - 12 - 25)),
            date!(2026 - 12 - 28)
        );
        // Easter Sunday and Monday 2026.
        assert_eq!(
            working_day_on_or_after(Country::Be, date!(2026 - 04 - 05)),
            date!(2026 - 04 - 07)
        );
    }
}
