//! The connection state machine: when to connect, heartbeat, give up and retry.
//!
//! Pure logic with no browser types. The browser adapter ([`crate::link`]) feeds it events
//! (socket opened, frame received, socket closed, a clock tick, the tab waking up) with the
//! current time, and carries out the [`Action`]s it returns. Tests drive it with a fake clock.
//!
//! Liveness: every frame received counts as a sign of life. A heartbeat is sent every
//! `heartbeat_ms`; if no frame at all arrives within `heartbeat_timeout_ms` of one, the link
//! is declared dead. That is the only way to notice a frozen server or a network path that
//! silently drops packets, since sending on such a socket reports no error.

/// Milliseconds on some monotonic-enough clock.
pub type Millis = u64;

/// Timing settings.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Timing {
    /// Interval between heartbeats while connected (the original: 2 s).
    pub heartbeat_ms: Millis,
    /// How long a heartbeat may go unanswered before the link counts as dead.
    pub heartbeat_timeout_ms: Millis,
    /// How long an opening handshake may take.
    pub connect_timeout_ms: Millis,
    /// First retry delay after a failure; doubles with each further failure.
    pub backoff_initial_ms: Millis,
    /// Upper bound of the retry delay while an outage is young ([`Timing::fast_window_ms`]):
    /// a server that comes back is found within this.
    pub backoff_fast_max_ms: Millis,
    /// How long an outage counts as young: 40 s, so that an outage of up to 30 s on the server
    /// (plus the time a page takes to notice it) is still young when the server returns.
    pub fast_window_ms: Millis,
    /// Upper bound of the retry delay after that: a server down for long is not hammered.
    pub backoff_max_ms: Millis,
    /// How long after a chat message the probe heartbeat goes (0: at once). The original
    /// backend answers a heartbeat while it may still be writing the message to the same
    /// connection, and then drops it; a probe a moment later finds it done.
    pub probe_delay_ms: Millis,
}

/// The probe delay for the original protocol (measured: 24 of 40 heartbeats sent right after
/// a message were lost with the connection, none 300 ms after).
pub const V0_PROBE_DELAY_MS: Millis = 400;

impl Default for Timing {
    fn default() -> Self {
        Timing {
            heartbeat_ms: 2_000,
            heartbeat_timeout_ms: 1_500,
            connect_timeout_ms: 5_000,
            backoff_initial_ms: 250,
            backoff_fast_max_ms: 800,
            fast_window_ms: 40_000,
            backoff_max_ms: 5_000,
            probe_delay_ms: 0,
        }
    }
}

/// What the status indicator shows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    Online,
    /// First connection attempt since the link was switched on.
    Connecting,
    /// Not connected (switched off, or lost and retrying).
    Offline,
}

impl Status {
    /// The `data-state` value of the status indicator.
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Online => "online",
            Status::Connecting => "connecting",
            Status::Offline => "offline",
        }
    }
}

/// Something that happened.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Event {
    /// The person wants to be connected (page load, agent switch on).
    Enable,
    /// The person wants to be disconnected (agent switch off).
    Disable,
    /// The socket finished its opening handshake.
    Opened,
    /// Any frame arrived.
    FrameReceived,
    /// The socket closed or failed.
    Closed,
    /// The tab became visible or the browser came back online: retry now.
    Wake,
    /// A chat message was sent: probe the link at once, so that a message sent into a dead
    /// link is noticed within the heartbeat timeout, and a message the backend refused
    /// is known as soon as the probe's answer arrives without its echo.
    MessageSent,
    /// Time passed.
    Tick,
}

/// What the adapter must do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    /// Open a new socket.
    Open,
    /// Send a heartbeat frame.
    SendHeartbeat,
    /// Drop the current socket (closing it if it is still open).
    Close,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    Disabled,
    Connecting {
        since: Millis,
    },
    /// `answered`: a frame has come on this connection. Until then the link is only half
    /// proven: the first answer may take as long as a handshake (a server busy with a
    /// restart storm answers after the replay), and the backoff is not reset yet.
    Open {
        last_heartbeat_at: Millis,
        awaiting_reply_since: Option<Millis>,
        probe_at: Option<Millis>,
        answered: bool,
    },
    Waiting {
        retry_at: Millis,
    },
}

/// The state machine. Starts disabled.
#[derive(Debug, Clone)]
pub struct Connection {
    timing: Timing,
    phase: Phase,
    /// Failures since the last successful open; drives the backoff.
    failures: u32,
    /// Whether the link has been open since it was last enabled.
    was_online: bool,
    /// When the current outage began (the link was lost, or never opened since enabled).
    outage_since: Option<Millis>,
    rng: u64,
}

impl Connection {
    /// `seed` feeds the retry jitter (so that many clients do not retry in lockstep).
    pub fn new(timing: Timing, seed: u64) -> Self {
        Connection {
            timing,
            phase: Phase::Disabled,
            failures: 0,
            was_online: false,
            outage_since: None,
            rng: seed | 1,
        }
    }

    pub fn status(&self) -> Status {
        match self.phase {
            Phase::Open { .. } => Status::Online,
            Phase::Connecting { .. } if !self.was_online => Status::Connecting,
            _ => Status::Offline,
        }
    }

    /// Whether the link is switched on but not connected (so it is retrying by itself).
    pub fn is_retrying(&self) -> bool {
        matches!(self.phase, Phase::Waiting { .. })
            || (matches!(self.phase, Phase::Connecting { .. }) && self.was_online)
    }

    /// When the next retry is due, while waiting for one.
    pub fn retry_at(&self) -> Option<Millis> {
        match self.phase {
            Phase::Waiting { retry_at } => Some(retry_at),
            _ => None,
        }
    }

    /// How long after a chat message the probe goes (the original protocol needs a moment).
    pub fn set_probe_delay(&mut self, ms: Millis) {
        self.timing.probe_delay_ms = ms;
    }

    /// Applies an event at time `now`; returns what the adapter must do, in order.
    pub fn handle(&mut self, event: Event, now: Millis) -> Vec<Action> {
        match (event, self.phase) {
            (Event::Enable, Phase::Disabled) => {
                self.failures = 0;
                self.was_online = false;
                self.outage_since = None;
                self.connect(now)
            }
            (Event::Disable, Phase::Disabled) => vec![],
            (Event::Disable, phase) => {
                self.phase = Phase::Disabled;
                match phase {
                    Phase::Connecting { .. } | Phase::Open { .. } => vec![Action::Close],
                    _ => vec![],
                }
            }
            (Event::Opened, Phase::Connecting { .. }) => {
                self.was_online = true;
                self.phase = Phase::Open {
                    last_heartbeat_at: now,
                    awaiting_reply_since: Some(now),
                    probe_at: None,
                    answered: false,
                };
                vec![Action::SendHeartbeat]
            }
            (Event::FrameReceived, Phase::Open { last_heartbeat_at, probe_at, .. }) => {
                // Only a link that answers ends the outage: one that opens and then says
                // nothing must not reset the backoff (it would reconnect in a tight loop).
                self.failures = 0;
                self.outage_since = None;
                self.phase =
                    Phase::Open { last_heartbeat_at, awaiting_reply_since: None, probe_at, answered: true };
                vec![]
            }
            (Event::Closed, Phase::Connecting { .. } | Phase::Open { .. }) => {
                self.fail(now);
                vec![]
            }
            (Event::Wake, Phase::Waiting { .. }) => {
                self.failures = 0;
                self.connect(now)
            }
            // Coming back to a tab: check the link now rather than at the next heartbeat.
            (Event::Wake, Phase::Open { awaiting_reply_since: None, .. }) => self.heartbeat(now),
            (Event::MessageSent, Phase::Open { .. }) if self.timing.probe_delay_ms == 0 => {
                self.heartbeat(now)
            }
            (
                Event::MessageSent,
                Phase::Open { last_heartbeat_at, awaiting_reply_since, probe_at, answered },
            ) => {
                let probe_at = probe_at.or(Some(now + self.timing.probe_delay_ms));
                self.phase = Phase::Open { last_heartbeat_at, awaiting_reply_since, probe_at, answered };
                vec![]
            }
            (Event::Tick, Phase::Connecting { since }) if now >= since + self.timing.connect_timeout_ms => {
                self.fail(now);
                vec![Action::Close]
            }
            (Event::Tick, Phase::Open { last_heartbeat_at, awaiting_reply_since, probe_at, answered }) => {
                let timeout =
                    if answered { self.timing.heartbeat_timeout_ms } else { self.timing.connect_timeout_ms };
                match awaiting_reply_since {
                    Some(since) if now >= since + timeout => {
                        self.fail(now);
                        vec![Action::Close]
                    }
                    _ if now >= last_heartbeat_at + self.timing.heartbeat_ms => self.heartbeat(now),
                    _ if probe_at.is_some_and(|at| now >= at) => self.heartbeat(now),
                    _ => vec![],
                }
            }
            (Event::Tick, Phase::Waiting { retry_at }) if now >= retry_at => self.connect(now),
            // Anything else (a late frame from a dropped socket, a tick with nothing due...)
            // changes nothing.
            _ => vec![],
        }
    }

    fn connect(&mut self, now: Millis) -> Vec<Action> {
        self.phase = Phase::Connecting { since: now };
        vec![Action::Open]
    }

    fn heartbeat(&mut self, now: Millis) -> Vec<Action> {
        if let Phase::Open { awaiting_reply_since, answered, .. } = self.phase {
            self.phase = Phase::Open {
                last_heartbeat_at: now,
                awaiting_reply_since: Some(awaiting_reply_since.unwrap_or(now)),
                probe_at: None,
                answered,
            };
        }
        vec![Action::SendHeartbeat]
    }

    fn fail(&mut self, now: Millis) {
        self.failures = self.failures.saturating_add(1);
        let outage_since = *self.outage_since.get_or_insert(now);
        let delay = self.backoff_delay(now.saturating_sub(outage_since));
        self.phase = Phase::Waiting { retry_at: now + delay };
    }

    /// Capped exponential backoff with jitter: a delay in [d/2, d], d = initial * 2^(n-1),
    /// capped low while the outage is young (a returning server is found at once) and higher
    /// after (a server down for long is not hammered).
    fn backoff_delay(&mut self, outage_ms: Millis) -> Millis {
        let exponent = self.failures.saturating_sub(1).min(16);
        let cap = if outage_ms < self.timing.fast_window_ms {
            self.timing.backoff_fast_max_ms
        } else {
            self.timing.backoff_max_ms
        };
        let ceiling = self.timing.backoff_initial_ms.saturating_mul(1 << exponent).min(cap);
        let half = ceiling / 2;
        half + self.next_random() % (ceiling - half + 1)
    }

    /// xorshift64: enough to spread retries; not for anything secret.
    fn next_random(&mut self) -> u64 {
        let mut x = self.rng;
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        self.rng = x;
        x
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A connection plus a fake clock.
    struct Harness {
        connection: Connection,
        now: Millis,
    }

    impl Harness {
        fn new() -> Self {
            Harness { connection: Connection::new(Timing::default(), 42), now: 1_000 }
        }

        fn at(&mut self, event: Event) -> Vec<Action> {
            self.connection.handle(event, self.now)
        }

        /// Advances the clock in 100 ms ticks (as the adapter does), collecting actions.
        fn advance(&mut self, ms: Millis) -> Vec<Action> {
            let end = self.now + ms;
            let mut actions = vec![];
            while self.now < end {
                self.now = (self.now + 100).min(end);
                actions.extend(self.at(Event::Tick));
            }
            actions
        }

        /// Advances in ticks until the watchdog closes the link (at most 4 s); returns when.
        fn until_closed(&mut self) -> Millis {
            for _ in 0..40 {
                if self.advance(100).contains(&Action::Close) {
                    return self.now;
                }
            }
            panic!("the watchdog did not fire within 4 s");
        }

        fn online() -> Self {
            let mut h = Harness::new();
            assert_eq!(h.at(Event::Enable), vec![Action::Open]);
            assert_eq!(h.at(Event::Opened), vec![Action::SendHeartbeat]);
            h.at(Event::FrameReceived);
            h
        }
    }

    #[test]
    fn starts_disabled_and_offline() {
        let mut h = Harness::new();
        assert_eq!(h.connection.status(), Status::Offline);
        assert!(!h.connection.is_retrying());
        assert_eq!(h.connection.retry_at(), None);
        assert_eq!(h.advance(10_000), vec![], "disabled: never connects by itself");
    }

    #[test]
    fn enable_connects_and_open_goes_online() {
        let mut h = Harness::new();
        assert_eq!(h.at(Event::Enable), vec![Action::Open]);
        assert_eq!(h.connection.status(), Status::Connecting);
        assert_eq!(h.at(Event::Opened), vec![Action::SendHeartbeat]);
        assert_eq!(h.connection.status(), Status::Online);
    }

    #[test]
    fn heartbeats_every_interval_while_answered() {
        let mut h = Harness::online();
        let mut sent = 0;
        for _ in 0..5 {
            let actions = h.advance(2_000);
            assert_eq!(actions, vec![Action::SendHeartbeat]);
            sent += 1;
            h.at(Event::FrameReceived);
        }
        assert_eq!(sent, 5);
        assert_eq!(h.connection.status(), Status::Online);
    }

    #[test]
    fn close_goes_offline_at_once_and_retries_soon() {
        let mut h = Harness::online();
        assert_eq!(h.at(Event::Closed), vec![]);
        assert_eq!(h.connection.status(), Status::Offline);
        assert!(h.connection.is_retrying());
        let retry_at = h.connection.retry_at().expect("a retry is scheduled");
        let delay = retry_at - h.now;
        assert!((125..=250).contains(&delay), "first retry after {delay} ms");
        assert_eq!(h.advance(delay), vec![Action::Open]);
        // A reconnect attempt after a loss reads as offline, not as a first connection.
        assert_eq!(h.connection.status(), Status::Offline);
        h.at(Event::Opened);
        assert_eq!(h.connection.status(), Status::Online);
    }

    #[test]
    fn unanswered_heartbeat_means_dead_within_interval_plus_timeout() {
        let mut h = Harness::online();
        let frozen_at = h.now;
        // The server freezes: frames stop. Tick until the machine gives up.
        let mut gave_up_at = None;
        for _ in 0..100 {
            if h.advance(100).contains(&Action::Close) {
                gave_up_at = Some(h.now);
                break;
            }
        }
        let gave_up_at = gave_up_at.expect("the watchdog fired");
        let timing = Timing::default();
        assert!(gave_up_at - frozen_at <= timing.heartbeat_ms + timing.heartbeat_timeout_ms + 100);
        assert!(gave_up_at - frozen_at >= timing.heartbeat_ms + timing.heartbeat_timeout_ms - 100);
        assert_eq!(h.connection.status(), Status::Offline);
    }

    #[test]
    fn a_late_reply_before_the_timeout_keeps_the_link() {
        let mut h = Harness::online();
        assert_eq!(h.advance(2_000), vec![Action::SendHeartbeat]);
        assert_eq!(h.advance(1_400), vec![]);
        h.at(Event::FrameReceived);
        assert_eq!(h.advance(500), vec![]);
        assert_eq!(h.connection.status(), Status::Online);
    }

    /// Retries after a loss at `h.now`, with a server that accepts from `back_at` on;
    /// returns the retry delays and when the link was open again.
    fn outage(h: &mut Harness, back_at: Millis) -> (Vec<Millis>, Millis) {
        h.at(Event::Closed);
        let mut delays = vec![];
        loop {
            let delay = h.connection.retry_at().expect("waiting") - h.now;
            delays.push(delay);
            assert_eq!(h.advance(delay), vec![Action::Open]);
            if h.now >= back_at {
                h.at(Event::Opened);
                return (delays, h.now);
            }
            h.at(Event::Closed);
        }
    }

    #[test]
    fn backoff_grows_stays_low_while_the_outage_is_young_then_backs_off() {
        let timing = Timing::default();
        let mut h = Harness::online();
        let lost_at = h.now;
        let (delays, _) = outage(&mut h, lost_at + 120_000);
        let mut elapsed = 0;
        for (n, &d) in delays.iter().enumerate() {
            let cap = if elapsed < timing.fast_window_ms {
                timing.backoff_fast_max_ms
            } else {
                timing.backoff_max_ms
            };
            assert!(d <= cap, "retry {n} after {elapsed} ms waited {d} ms: {delays:?}");
            elapsed += d;
        }
        assert!(delays[3] > delays[0], "{delays:?}");
        // A server down for long is not hammered: the last delays are near the long cap.
        assert!(delays.iter().rev().take(3).all(|&d| d >= timing.backoff_max_ms / 2), "{delays:?}");
        // While the outage is young, retries stay below about one per 400 ms.
        let young_attempts = delays
            .iter()
            .scan(0, |t, &d| {
                *t += d;
                Some(*t)
            })
            .take_while(|&t| t < timing.fast_window_ms)
            .count() as u64;
        assert!(
            young_attempts <= timing.fast_window_ms / (timing.backoff_fast_max_ms / 2) + 3,
            "{young_attempts}"
        );
    }

    #[test]
    fn a_server_back_within_thirty_seconds_is_found_within_one_second() {
        let timing = Timing::default();
        for outage_ms in (0..=30_000).step_by(700) {
            let mut h = Harness::online();
            let back_at = h.now + outage_ms;
            let (_, online_at) = outage(&mut h, back_at);
            let waited = online_at - back_at;
            // One tick (100 ms) of the adapter's clock on top of the fast cap.
            assert!(
                waited <= timing.backoff_fast_max_ms + 100,
                "after {outage_ms} ms down, back after {waited} ms"
            );
            assert!(timing.backoff_fast_max_ms + 100 <= 1_000);
        }
    }

    #[test]
    fn different_seeds_do_not_retry_in_lockstep() {
        let timing = Timing::default();
        let mut other = Connection::new(timing, 7);
        other.handle(Event::Enable, 0);
        other.handle(Event::Closed, 0);
        let mut this = Connection::new(timing, 8);
        this.handle(Event::Enable, 0);
        this.handle(Event::Closed, 0);
        let mut a = vec![];
        let mut b = vec![];
        for n in 0..6 {
            a.push(other.retry_at());
            b.push(this.retry_at());
            other.handle(Event::Tick, 10_000 * (n + 1));
            other.handle(Event::Closed, 10_000 * (n + 1));
            this.handle(Event::Tick, 10_000 * (n + 1));
            this.handle(Event::Closed, 10_000 * (n + 1));
        }
        assert_ne!(a, b);
    }

    #[test]
    fn a_delayed_probe_goes_once_after_the_delay_and_still_finds_a_dead_link() {
        let mut h = Harness::online();
        h.connection.set_probe_delay(V0_PROBE_DELAY_MS);
        h.advance(500);
        let sent_at = h.now;
        assert_eq!(h.at(Event::MessageSent), vec![], "no heartbeat straight after a message");
        assert_eq!(h.advance(200), vec![]);
        // A second message does not push the probe further out.
        assert_eq!(h.at(Event::MessageSent), vec![]);
        assert_eq!(h.advance(V0_PROBE_DELAY_MS - 200), vec![Action::SendHeartbeat]);
        assert_eq!(h.now - sent_at, V0_PROBE_DELAY_MS);
        h.at(Event::FrameReceived);
        assert_eq!(h.advance(1_000), vec![], "one probe only");
        // Unanswered, the delayed probe finds the dead link one timeout later.
        h.at(Event::MessageSent);
        let sent_at = h.now;
        let waited = h.until_closed() - sent_at;
        assert!(waited <= V0_PROBE_DELAY_MS + Timing::default().heartbeat_timeout_ms + 100, "{waited} ms");
    }

    #[test]
    fn a_link_that_opens_but_does_not_answer_gets_the_handshake_time_and_keeps_the_backoff() {
        let timing = Timing::default();
        let mut h = Harness::new();
        assert_eq!(h.at(Event::Enable), vec![Action::Open]);
        // Two refused attempts grow the backoff.
        for _ in 0..2 {
            h.at(Event::Closed);
            let mut opened = false;
            for _ in 0..20 {
                if h.advance(100).contains(&Action::Open) {
                    opened = true;
                    break;
                }
            }
            assert!(opened, "retried");
        }
        // A server busy with a storm accepts, then answers only after the replay: the link is
        // not declared dead at the heartbeat timeout...
        assert_eq!(h.at(Event::Opened), vec![Action::SendHeartbeat]);
        assert!(!h.advance(timing.heartbeat_timeout_ms + 500).contains(&Action::Close));
        // ...but at the handshake's, and the backoff goes on growing instead of starting over
        // (third failure: a delay of at least 400 ms, not 125-250 ms).
        let opened_at = h.now - timing.heartbeat_timeout_ms - 500;
        while !h.advance(100).contains(&Action::Close) {
            assert!(h.now < opened_at + timing.connect_timeout_ms + 100, "not closed in time");
        }
        assert!(h.now >= opened_at + timing.connect_timeout_ms);
        let delay = h.connection.retry_at().expect("waiting") - h.now;
        assert!(delay >= 400, "{delay}");
        // Once a link has answered, the next loss starts the backoff afresh.
        h.advance(delay + 100);
        h.at(Event::Opened);
        h.at(Event::FrameReceived);
        h.at(Event::Closed);
        let delay = h.connection.retry_at().expect("waiting") - h.now;
        assert!((125..=250).contains(&delay), "{delay}");
    }

    #[test]
    fn a_stuck_handshake_times_out() {
        let mut h = Harness::new();
        h.at(Event::Enable);
        let actions = h.advance(Timing::default().connect_timeout_ms);
        assert_eq!(actions, vec![Action::Close]);
        assert_eq!(h.connection.status(), Status::Offline);
        assert!(h.connection.retry_at().is_some());
    }

    #[test]
    fn wake_retries_at_once_and_probes_an_open_link() {
        let mut h = Harness::online();
        h.at(Event::Closed);
        assert_eq!(h.at(Event::Wake), vec![Action::Open]);
        h.at(Event::Opened);
        h.at(Event::FrameReceived);
        assert_eq!(h.at(Event::Wake), vec![Action::SendHeartbeat]);
        // While a probe is outstanding, waking again sends nothing more.
        assert_eq!(h.at(Event::Wake), vec![]);
    }

    #[test]
    fn a_sent_message_is_followed_by_a_probe_and_a_dead_link_is_found_within_the_timeout() {
        let mut h = Harness::online();
        h.advance(500);
        assert_eq!(h.at(Event::MessageSent), vec![Action::SendHeartbeat]);
        let sent_at = h.now;
        // No answer: the link is declared dead one timeout after the message, not after the
        // next periodic heartbeat.
        let waited = h.until_closed() - sent_at;
        assert!(waited <= Timing::default().heartbeat_timeout_ms + 100, "{waited} ms");
        // While not open, a sent message asks for nothing.
        assert_eq!(h.at(Event::MessageSent), vec![]);
    }

    #[test]
    fn disable_closes_and_stays_off() {
        let mut h = Harness::online();
        assert_eq!(h.at(Event::Disable), vec![Action::Close]);
        assert_eq!(h.connection.status(), Status::Offline);
        assert!(!h.connection.is_retrying());
        assert_eq!(h.advance(60_000), vec![]);
        assert_eq!(h.at(Event::Wake), vec![]);
        // A close event from the socket just dropped changes nothing.
        assert_eq!(h.at(Event::Closed), vec![]);
        assert_eq!(h.at(Event::Enable), vec![Action::Open]);
        assert_eq!(h.connection.status(), Status::Connecting);
    }

    #[test]
    fn stray_events_are_ignored() {
        let mut h = Harness::new();
        assert_eq!(h.at(Event::Opened), vec![]);
        assert_eq!(h.at(Event::FrameReceived), vec![]);
        assert_eq!(h.at(Event::Closed), vec![]);
        assert_eq!(h.connection.status(), Status::Offline);
    }
}
