//! Which protocol to offer when connecting. Pure logic, no browser types.
//!
//! v1 is offered as the WebSocket subprotocol `kefu.v1`. Chromium fails the handshake when a
//! subprotocol was offered and the server selects none, which is what the original backend
//! does; from the page that failure looks exactly like a server that is down. So a failed v1
//! offer is followed by a plain (v0) attempt; if that one opens, the server is up, and a v1
//! offer right after it tells whether the v1 failure was the protocol. Only when that happens
//! twice in a row (a server that restarts at the wrong moment can fool one round) does the
//! page settle on v0. A backend that selected v1 once is never downgraded.

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Negotiation {
    /// What the backend speaks, once known: `Some(true)` for v1.
    known: Option<bool>,
    /// A v1 offer failed and the server's state is not known.
    v1_failed: bool,
    /// A v0 connection opened after a failed v1 offer: the next v1 offer is a deciding one.
    deciding: bool,
    /// Deciding v1 offers that failed in a row.
    v0_votes: u8,
    /// Settled on v0 by the last failed offer, and not connected with it yet.
    v0_untried: bool,
}

/// Deciding rounds that must all point to v0 before the page settles on it.
const V0_VOTES_NEEDED: u8 = 2;

/// What to do with a connection that just opened.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Opened {
    /// Use it, speaking v1 or v0.
    Use { v1: bool },
    /// Drop it and connect again at once, offering v1: the server is up, so this tells whether
    /// the earlier v1 failure was the protocol or an outage.
    ProbeV1,
}

impl Negotiation {
    /// Whether a v1 offer failed and it is not known yet whether that was the protocol (the
    /// original backend refuses the offer) or an outage: the page says "connecting", not
    /// "offline", meanwhile (a failed plain attempt settles it: an outage).
    pub fn undecided(&self) -> bool {
        (self.known.is_none() && (self.v1_failed || self.deciding)) || self.v0_untried
    }

    /// What the status indicator shows: `status` and whether retrying by itself, except that
    /// a failure that is only the protocol being found out is no "offline".
    pub fn shown(
        &self,
        status: crate::connection::Status,
        retrying: bool,
    ) -> (crate::connection::Status, bool) {
        use crate::connection::Status;
        if status == Status::Offline && self.undecided() {
            (Status::Connecting, false)
        } else {
            (status, retrying)
        }
    }

    /// Whether the next connection should offer v1.
    pub fn offer_v1(&self) -> bool {
        match self.known {
            Some(v1) => v1,
            None => self.deciding || !self.v1_failed,
        }
    }

    /// A connection offering `offered_v1` failed before it opened.
    pub fn failed(&mut self, offered_v1: bool) {
        if !offered_v1 {
            // A plain attempt failed: an outage, whatever was decided.
            self.v0_untried = false;
        }
        if self.known.is_some() {
            return;
        }
        if offered_v1 && self.deciding {
            // Up a moment ago over v0, refusing v1 now: a vote for v0.
            self.v0_votes += 1;
            if self.v0_votes >= V0_VOTES_NEEDED {
                self.known = Some(false);
                self.v0_untried = true;
            }
            self.v1_failed = true;
        } else if offered_v1 {
            self.v1_failed = true;
        } else {
            // Down over v0 too: an outage, not a protocol question. Start over.
            self.v1_failed = false;
            self.v0_votes = 0;
        }
        self.deciding = false;
    }

    /// A connection offering `offered_v1` opened; `selected_v1` if the server chose v1.
    pub fn opened(&mut self, offered_v1: bool, selected_v1: bool) -> Opened {
        self.v0_untried = false;
        if selected_v1 {
            self.known = Some(true);
            return Opened::Use { v1: true };
        }
        match self.known {
            Some(_) => Opened::Use { v1: false },
            None if offered_v1 => {
                // Opened without selecting an offered subprotocol (browsers that allow it).
                self.known = Some(false);
                Opened::Use { v1: false }
            }
            None => {
                self.deciding = true;
                Opened::ProbeV1
            }
        }
    }

    pub fn known(&self) -> Option<bool> {
        self.known
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_v1_server_is_used_at_once_and_never_downgraded() {
        let mut n = Negotiation::default();
        assert!(n.offer_v1());
        assert_eq!(n.opened(true, true), Opened::Use { v1: true });
        n.failed(true);
        n.failed(true);
        assert!(n.offer_v1(), "outages do not downgrade");
    }

    #[test]
    fn an_original_backend_is_found_with_two_probes() {
        let mut n = Negotiation::default();
        for round in 1..=2 {
            n.failed(true); // v1 handshake refused
            assert!(!n.offer_v1());
            assert_eq!(n.opened(false, false), Opened::ProbeV1, "round {round}");
            assert!(n.offer_v1());
        }
        n.failed(true); // refused again while the server is up, a second time
        assert_eq!(n.known(), Some(false));
        assert!(!n.offer_v1());
        assert_eq!(n.opened(false, false), Opened::Use { v1: false });
    }

    #[test]
    fn an_outage_does_not_pass_for_a_v0_backend() {
        let mut n = Negotiation::default();
        // The reference server is down: v1 and v0 attempts both fail, over and over.
        for _ in 0..5 {
            let offered = n.offer_v1();
            n.failed(offered);
        }
        assert_eq!(n.known(), None);
        // It comes back while a v0 attempt is due: that one opens, the probe settles on v1.
        if !n.offer_v1() {
            assert_eq!(n.opened(false, false), Opened::ProbeV1);
        }
        assert!(n.offer_v1());
        assert_eq!(n.opened(true, true), Opened::Use { v1: true });
        assert_eq!(n.known(), Some(true));
    }

    #[test]
    fn a_v1_server_dying_during_one_probe_is_not_taken_for_v0() {
        let mut n = Negotiation::default();
        n.failed(true);
        assert_eq!(n.opened(false, false), Opened::ProbeV1);
        // The server dies just as the probe goes out: one vote, not a verdict.
        n.failed(true);
        assert_eq!(n.known(), None);
        // Still down over v0: an outage; the votes start over.
        n.failed(false);
        assert!(n.offer_v1());
        assert_eq!(n.opened(true, true), Opened::Use { v1: true });
        assert_eq!(n.known(), Some(true));
    }

    /// Against the original backend the page said "offline" three times while it found out
    /// the protocol; now "connecting" until it knows, and "offline" only for an outage.
    #[test]
    fn finding_out_the_protocol_is_connecting_an_outage_is_offline() {
        use crate::connection::Status;
        let mut n = Negotiation::default();
        assert_eq!(n.shown(Status::Offline, true), (Status::Offline, true), "nothing tried yet");
        n.failed(true);
        assert_eq!(n.shown(Status::Offline, true), (Status::Connecting, false), "a v1 offer refused");
        assert_eq!(n.opened(false, false), Opened::ProbeV1);
        assert_eq!(n.shown(Status::Offline, true).0, Status::Connecting, "probing");
        n.failed(true);
        assert_eq!(n.opened(false, false), Opened::ProbeV1);
        n.failed(true);
        assert_eq!(n.shown(Status::Offline, true).0, Status::Connecting, "settled, not connected yet");
        let mut outage = n;
        outage.failed(false);
        assert_eq!(outage.shown(Status::Offline, true).0, Status::Offline, "then down over v0 too: offline");
        assert_eq!(n.opened(false, false), Opened::Use { v1: false }, "settled on v0");
        assert_eq!(n.shown(Status::Offline, true), (Status::Offline, true), "known: an outage is offline");
        // A server down at the first load: the plain attempt fails too, that is an outage.
        let mut down = Negotiation::default();
        down.failed(true);
        down.failed(false);
        assert_eq!(down.shown(Status::Offline, true), (Status::Offline, true));
    }
}
