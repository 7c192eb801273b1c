//! New-message alerts in the browser: a short tone (Web Audio, no sound file to download) and
//! a desktop notification while the tab is hidden (with the person's permission). Each is
//! switched on by the agent and remembered in storage. When to alert is decided in
//! `kefu-core` (the courier's `Effect::Alert`, and `alerts::desktop_wanted`).

use std::cell::RefCell;

use kefu_core::alerts::Permission;
use wasm_bindgen::prelude::*;
use web_sys::{AudioContext, Notification, NotificationOptions, NotificationPermission, OscillatorType};

use super::error_text;
use super::storage::{self, Key};

fn stored_flag(key: &Key) -> bool {
    storage::get(key).as_deref() == Some("1")
}

pub(crate) fn sound_enabled() -> bool {
    stored_flag(&Key::SoundAlerts)
}

pub(crate) fn set_sound(on: bool) {
    storage::set(&Key::SoundAlerts, if on { "1" } else { "0" });
}

pub(crate) fn desktop_enabled() -> bool {
    stored_flag(&Key::DesktopAlerts)
}

pub(crate) fn set_desktop(on: bool) {
    storage::set(&Key::DesktopAlerts, if on { "1" } else { "0" });
}

thread_local! {
    /// Made on the first tone; browsers let a page make sound only after a click, which the
    /// sound switch is.
    static AUDIO: RefCell<Option<AudioContext>> = const { RefCell::new(None) };
}

/// Plays a short two-note tone.
pub(crate) fn beep() -> Result<(), String> {
    AUDIO.with(|audio| {
        let mut audio = audio.borrow_mut();
        if audio.is_none() {
            *audio = Some(AudioContext::new().map_err(describe)?);
        }
        let Some(context) = audio.as_ref() else { return Err("no audio".into()) };
        // A context made before any click starts suspended; resuming is allowed after one.
        let _ = context.resume();
        let start = context.current_time();
        for (offset, frequency) in [(0.0, 880.0), (0.12, 1320.0)] {
            let oscillator = context.create_oscillator().map_err(describe)?;
            oscillator.set_type(OscillatorType::Sine);
            oscillator.frequency().set_value(frequency);
            let gain = context.create_gain().map_err(describe)?;
            let volume = gain.gain();
            volume.set_value_at_time(0.0001, start + offset).map_err(describe)?;
            volume.exponential_ramp_to_value_at_time(0.2, start + offset + 0.02).map_err(describe)?;
            volume.exponential_ramp_to_value_at_time(0.0001, start + offset + 0.11).map_err(describe)?;
            oscillator.connect_with_audio_node(&gain).map_err(describe)?;
            gain.connect_with_audio_node(&context.destination()).map_err(describe)?;
            oscillator.start_with_when(start + offset).map_err(describe)?;
            oscillator.stop_with_when(start + offset + 0.12).map_err(describe)?;
        }
        Ok(())
    })
}

fn describe(err: JsValue) -> String {
    error_text(&err, "unknown error")
}

fn supported() -> bool {
    web_sys::window().is_some_and(|w| js_sys::Reflect::has(&w, &"Notification".into()).unwrap_or(false))
}

pub(crate) fn permission() -> Permission {
    if !supported() {
        return Permission::Unsupported;
    }
    match Notification::permission() {
        NotificationPermission::Granted => Permission::Granted,
        NotificationPermission::Denied => Permission::Denied,
        _ => Permission::Ask,
    }
}

/// Asks the person to allow notifications (the browser shows its prompt once).
pub(crate) async fn request_permission() -> Permission {
    if !supported() {
        return Permission::Unsupported;
    }
    if let Ok(promise) = Notification::request_permission() {
        let _ = wasm_bindgen_futures::JsFuture::from(promise).await;
    }
    permission()
}

/// Shows a desktop notification; clicking it brings the console to the front.
pub(crate) fn show(title: &str, body: &str) -> Result<(), String> {
    let options = NotificationOptions::new();
    options.set_body(body);
    // One notification per console: a new message replaces the previous one.
    options.set_tag("kefu-new-message");
    let notification = Notification::new_with_options(title, &options).map_err(describe)?;
    let focus = Closure::<dyn FnMut()>::new(move || {
        if let Some(window) = web_sys::window() {
            let _ = window.focus();
        }
    });
    notification.set_onclick(Some(focus.as_ref().unchecked_ref()));
    focus.forget();
    Ok(())
}

pub(crate) fn page_hidden() -> bool {
    web_sys::window()
        .and_then(|w| w.document())
        .is_some_and(|d| d.visibility_state() != web_sys::VisibilityState::Visible)
}
