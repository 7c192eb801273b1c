//! Who gets a conversation: one pure rule, tested natively. The store gathers the facts in
//! the transaction that assigns ([`crate::store`]'s team room); nothing else decides.
//!
//! - A conversation that opens or reopens without an assignee goes to the signed-in agent
//!   (a console connected somewhere: "Available"; switched to Away, the console disconnects)
//!   with the fewest open conversations, ties to the one who waited longest since its last
//!   assignment (then by name, so the choice is the same on every instance); never past an
//!   agent's capacity; nobody: it waits, and is handed out oldest first.
//! - A resolved or snoozed conversation that the user writes to again goes back to its
//!   assignee while that agent is signed in, else to auto-assignment.

/// One signed-in agent as auto-assignment weighs it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Candidate {
    pub name: String,
    /// Open conversations assigned to it now.
    pub open: u32,
    pub capacity: u32,
    /// When it was last given a conversation (ms; 0: never).
    pub last_assigned_at: i64,
}

/// The agent a new or reopened unassigned conversation goes to, if anyone can take it.
pub fn pick(candidates: &[Candidate]) -> Option<&Candidate> {
    candidates
        .iter()
        .filter(|c| c.open < c.capacity)
        .min_by(|a, b| (a.open, a.last_assigned_at, &a.name).cmp(&(b.open, b.last_assigned_at, &b.name)))
}

/// Who a conversation reopened by the user's message goes back to: its assignee while signed
/// in (`seated`), else nobody (auto-assignment then picks).
pub fn reopen_to(assignee: Option<String>, seated: bool) -> Option<String> {
    assignee.filter(|_| seated)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn agent(name: &str, open: u32, capacity: u32, last: i64) -> Candidate {
        Candidate { name: name.into(), open, capacity, last_assigned_at: last }
    }

    #[test]
    fn fewest_open_then_longest_waiting_never_past_capacity() {
        let team = [agent("a", 2, 10, 5), agent("b", 1, 10, 9), agent("c", 1, 10, 3)];
        assert_eq!(pick(&team).map(|c| c.name.as_str()), Some("c"));
        let full = [agent("a", 3, 3, 0), agent("b", 4, 4, 0)];
        assert_eq!(pick(&full), None);
        assert_eq!(pick(&[]), None);
        let over = [agent("a", 0, 0, 0), agent("b", 9, 10, 0)];
        assert_eq!(pick(&over).map(|c| c.name.as_str()), Some("b"));
    }

    #[test]
    fn reopening_goes_back_only_to_a_signed_in_assignee() {
        assert_eq!(reopen_to(Some("mei".into()), true), Some("mei".into()));
        assert_eq!(reopen_to(Some("mei".into()), false), None);
        assert_eq!(reopen_to(None, true), None);
    }

    proptest! {
        /// Over any team: the pick is under capacity and no one under capacity has fewer
        /// open, or as many and waited longer.
        #[test]
        fn the_pick_is_the_least_loaded_longest_waiting(team in proptest::collection::vec((0u32..20, 0u32..20, 0i64..50), 0..12)) {
            let team: Vec<Candidate> = team.into_iter().enumerate()
                .map(|(n, (open, capacity, last))| agent(&format!("agent{n:02}"), open, capacity, last)).collect();
            match pick(&team) {
                None => prop_assert!(team.iter().all(|c| c.open >= c.capacity)),
                Some(chosen) => {
                    prop_assert!(chosen.open < chosen.capacity);
                    for other in team.iter().filter(|c| c.open < c.capacity) {
                        prop_assert!((chosen.open, chosen.last_assigned_at) <= (other.open, other.last_assigned_at));
                    }
                }
            }
        }

        /// Handing out a wave one by one spreads it within one of even while nobody is full.
        #[test]
        fn a_wave_is_spread_within_one(agents in 1usize..10, wave in 0u32..200) {
            let mut team: Vec<Candidate> = (0..agents).map(|n| agent(&format!("agent{n}"), 0, 1_000, 0)).collect();
            for now in 1..=i64::from(wave) {
                let name = pick(&team).expect("room").name.clone();
                let chosen = team.iter_mut().find(|c| c.name == name).expect("listed");
                chosen.open += 1;
                chosen.last_assigned_at = now;
            }
            let most = team.iter().map(|c| c.open).max().unwrap_or(0);
            let least = team.iter().map(|c| c.open).min().unwrap_or(0);
            prop_assert!(most - least <= 1);
        }
    }
}
