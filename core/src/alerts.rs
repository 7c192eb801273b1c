//! When a new message should alert the agent beyond the list itself. Whether a message is
//! news at all is the courier's call ([`crate::courier::Effect::Alert`]); this decides the
//! desktop notification.

/// Whether the browser lets the page show notifications.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Permission {
    Granted,
    Denied,
    /// Not asked yet.
    Ask,
    /// No Notification API (some mobile browsers, insecure origins).
    Unsupported,
}

/// Whether a new message should raise a desktop notification: only when switched on, allowed,
/// and the person is not looking at the page (then the list already shows it).
pub fn desktop_wanted(enabled: bool, permission: Permission, page_hidden: bool) -> bool {
    enabled && permission == Permission::Granted && page_hidden
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn desktop_alerts_only_when_on_allowed_and_hidden() {
        assert!(desktop_wanted(true, Permission::Granted, true));
        assert!(!desktop_wanted(true, Permission::Granted, false), "the person is looking");
        assert!(!desktop_wanted(false, Permission::Granted, true), "switched off");
        for permission in [Permission::Denied, Permission::Ask, Permission::Unsupported] {
            assert!(!desktop_wanted(true, permission, true));
        }
    }
}
