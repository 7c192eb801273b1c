//! The console's sign-in form (`form.sign-in`): name and password, the server's refusal
//! shown as said, and (when the backend could not be asked) a way to connect without one.

use kefu_core::config::PageConfig;
use leptos::prelude::*;
use leptos::task::spawn_local;

use super::{BackendHost, Gate};
use crate::browser::identity;
use crate::pages::texts;

#[component]
pub(super) fn SignInForm(
    config: PageConfig,
    gate: RwSignal<Gate>,
    error: Option<String>,
    unreachable: bool,
    trusted: bool,
) -> impl IntoView {
    let texts = texts();
    let error = error.or_else(|| (!trusted).then(|| texts.foreign_backend.to_owned()));
    let backend = config.clone();
    let name = RwSignal::new(String::new());
    let password = RwSignal::new(String::new());
    let busy = RwSignal::new(false);
    let error = RwSignal::new(error);
    let submit = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        if !trusted {
            error.set(Some(texts.foreign_backend.to_owned()));
            return;
        }
        let (who, secret) = (name.get_untracked(), password.get_untracked());
        if who.trim().is_empty() || secret.is_empty() {
            error.set(Some(texts.sign_in_missing.to_owned()));
            return;
        }
        busy.set(true);
        let config = config.clone();
        spawn_local(async move {
            match identity::sign_in(&config, who.trim(), &secret).await {
                Ok(session) => gate.set(Gate::Console { session: Some(session) }),
                Err(err) => {
                    error.set(Some(err));
                    busy.set(false);
                }
            }
        });
    };
    view! {
        <div class="page sign-in-page">
            <form class="sign-in" on:submit=submit aria-label=texts.sign_in>
                <h1 class="title">{texts.agent_title}</h1>
                <BackendHost config=backend />
                <label>
                    <span>{texts.agent_name}</span>
                    <input
                        name="name"
                        autocomplete="username"
                        prop:value=move || name.get()
                        on:input=move |ev| name.set(event_target_value(&ev))
                    />
                </label>
                <label>
                    <span>{texts.password}</span>
                    <input
                        name="password"
                        type="password"
                        autocomplete="current-password"
                        prop:value=move || password.get()
                        on:input=move |ev| password.set(event_target_value(&ev))
                    />
                </label>
                <Show when=move || error.with(Option::is_some)>
                    <p class="error" role="alert">{move || error.get().unwrap_or_default()}</p>
                </Show>
                <button type="submit" class="primary" disabled=move || busy.get() || !trusted>
                    {texts.sign_in}
                </button>
                {unreachable
                    .then(|| {
                        view! {
                            <button
                                type="button"
                                class="secondary"
                                on:click=move |_| gate.set(Gate::Console { session: None })
                            >
                                {texts.without_account}
                            </button>
                        }
                    })}
            </form>
        </div>
    }
}
