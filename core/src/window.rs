//! A windowed list: which rows of a long list the page keeps in the DOM — those on screen and
//! a few either side — so that a view of 10,000 conversations costs what one of 30 does.
//! Rows are about one height (a long name may wrap to a second line): the page measures the
//! average of the rows it built, and the overscan absorbs the difference. The rows above
//! and below the window are stood in for by padding, so the scroll bar stays the whole list's.

use std::ops::Range;

/// Rows kept beyond each edge of the screen, so a scroll by a few rows shows rows already
/// built while the window catches up.
pub const OVERSCAN: usize = 8;

/// Where a list is scrolled to and how much of it shows, in CSS pixels.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Viewport {
    /// The height of a row (the average of those measured).
    pub row: f64,
    /// How far the list is scrolled.
    pub top: f64,
    /// How much of it is on screen.
    pub height: f64,
    /// The most it could show (the window's height): rows are built for that much, so a
    /// window made taller shows built rows before the list is measured again.
    pub screen: f64,
}

impl Viewport {
    /// The rows to build of a list of `count`: those touching the screen, plus
    /// [`OVERSCAN`] either side; never past the list, never empty for a non-empty list.
    pub fn rows(&self, count: usize) -> Range<usize> {
        if count == 0 {
            return 0..0;
        }
        let row = self.row.max(1.0);
        let first = (self.top.max(0.0) / row).floor() as usize;
        let shown = (self.height.max(self.screen).max(0.0) / row).ceil() as usize + 1;
        let start = first.saturating_sub(OVERSCAN).min(count - 1);
        let end = first.saturating_add(shown).saturating_add(OVERSCAN).min(count).max(start + 1);
        start..end
    }

    /// The padding that stands in for the rows above `rows` and below it, in a list of `count`.
    pub fn padding(&self, rows: &Range<usize>, count: usize) -> (f64, f64) {
        let row = self.row.max(1.0);
        (rows.start as f64 * row, count.saturating_sub(rows.end) as f64 * row)
    }

    /// Where to scroll so that row `index` is wholly on screen: `None` when it already is;
    /// otherwise the least scroll that shows it (at the top if above, at the bottom if below).
    pub fn scroll_to_show(&self, index: usize) -> Option<f64> {
        let row = self.row.max(1.0);
        let top = index as f64 * row;
        if top < self.top {
            Some(top)
        } else if top + row > self.top + self.height {
            Some((top + row - self.height).max(0.0))
        } else {
            None
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(top: f64) -> Viewport {
        Viewport { row: 64.0, top, height: 640.0, screen: 0.0 }
    }

    #[test]
    fn the_top_of_a_long_list_builds_the_screen_and_the_overscan_below() {
        // 10 rows fit; a partly shown 11th; then the overscan.
        assert_eq!(at(0.0).rows(10_000), 0..(11 + OVERSCAN));
    }

    #[test]
    fn scrolled_into_the_middle_the_overscan_is_on_both_sides() {
        let rows = at(64.0 * 5_000.0 + 10.0).rows(10_000);
        assert_eq!(rows, (5_000 - OVERSCAN)..(5_000 + 11 + OVERSCAN));
        let (above, below) = at(0.0).padding(&rows, 10_000);
        assert_eq!(above, rows.start as f64 * 64.0);
        assert_eq!(below, (10_000 - rows.end) as f64 * 64.0);
        // The padding and the rows make up the whole list's height.
        assert_eq!(above + below + rows.len() as f64 * 64.0, 10_000.0 * 64.0);
    }

    #[test]
    fn a_short_list_or_a_lying_scroll_position_stays_within_the_list() {
        assert_eq!(at(0.0).rows(3), 0..3);
        assert_eq!(at(0.0).rows(0), 0..0);
        // Scrolled past the end (the list just shrank: a view switch, a filter).
        assert_eq!(at(64.0 * 9_000.0).rows(40), 39..40);
        assert_eq!(at(-500.0).rows(40), 0..(11 + OVERSCAN));
        // An unmeasured row height of 0 counts as 1 pixel, not a division by zero.
        let unmeasured = Viewport { row: 0.0, top: 0.0, height: 10.0, screen: 0.0 };
        assert_eq!(unmeasured.rows(100), 0..(11 + OVERSCAN));
    }

    #[test]
    fn rows_are_built_for_the_whole_window_but_on_screen_means_the_list() {
        // The list shows 640 px of a 1,280 px window: rows for 1,280 px are built...
        let view = Viewport { screen: 1_280.0, ..at(0.0) };
        assert_eq!(view.rows(10_000), 0..(21 + OVERSCAN));
        // ...but a row below the list's 640 px is not on screen.
        assert_eq!(view.scroll_to_show(12), Some(64.0 * 13.0 - 640.0));
    }

    #[test]
    fn every_row_is_in_the_window_for_every_scroll_position() {
        // Whatever the scroll, the rows on screen are built.
        for count in [1usize, 7, 60, 1_000] {
            for step in 0..200 {
                let view = at(step as f64 * 37.0);
                let rows = view.rows(count);
                let first_shown = (view.top / view.row) as usize;
                let last_shown = ((view.top + view.height) / view.row) as usize;
                for index in first_shown..=last_shown.min(count - 1) {
                    if index < count {
                        assert!(rows.contains(&index), "row {index} of {count} at {}", view.top);
                    }
                }
            }
        }
    }

    #[test]
    fn scrolling_to_show_a_row_moves_the_least_and_only_when_needed() {
        let view = at(640.0); // rows 10..20 on screen
        assert_eq!(view.scroll_to_show(12), None);
        assert_eq!(view.scroll_to_show(10), None);
        assert_eq!(view.scroll_to_show(19), None);
        assert_eq!(view.scroll_to_show(9), Some(576.0), "above: to the top");
        assert_eq!(view.scroll_to_show(20), Some(64.0 * 21.0 - 640.0), "below: to the bottom");
        assert_eq!(at(0.0).scroll_to_show(0), None);
    }
}
