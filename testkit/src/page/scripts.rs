//! Every script the tests run inside the pages, in one place. They read the stable hooks
//! (`role`, `data-*`, class names documented in docs/architecture.md); arguments arrive as
//! `arguments[0]`, `arguments[1]`…

/// `data-state` of the status indicator, or "" before the app has mounted.
pub const STATUS: &str =
    "const s = document.querySelector('[role=status]'); return s ? s.dataset.state : '';";

/// The messages in the log: `[data-from, text, data-delivery]` each.
/// (Team events, `data-from=event`, are not messages: `TEAM_EVENTS` reads them.)
pub const MESSAGES: &str =
    "return [...document.querySelectorAll('[role=log] > [data-from]:not([data-from=event])')].map(li => \
     [li.dataset.from, li.querySelector('.bubble').textContent, li.dataset.delivery]);";

/// The team events shown in the console's open conversation: their texts.
pub const TEAM_EVENTS: &str =
    "return [...document.querySelectorAll('[role=log] > [data-from=event] .bubble')].map(b => b.textContent);";

/// Whether the console shows its sign-in form (`form`), itself (`console`), or neither yet.
pub const CONSOLE_OR_FORM: &str = "return document.querySelector('form.sign-in') ? 'form' : \
     (document.querySelector('.agent-page') ? 'console' : null);";

/// The guest identity the page keeps (`{"uid", "token"}`), or `null`.
pub const STORED_GUEST: &str = "const k = Object.keys(localStorage).find(k => k.startsWith('kefu.guest.')); \
     return k ? JSON.parse(localStorage.getItem(k)) : null;";

/// Breaks the signature of the kept guest token; returns the guest's id.
pub const SPOIL_GUEST_TOKEN: &str =
    "const k = Object.keys(localStorage).find(k => k.startsWith('kefu.guest.')); \
     const g = JSON.parse(localStorage.getItem(k)); \
     g.token = g.token.slice(0, -4) + 'AAAA'; localStorage.setItem(k, JSON.stringify(g)); \
     return g.uid;";

/// `[the made-up guest id kept, whether a server-issued identity is kept]`.
pub const MADE_UP_GUEST: &str = "return [localStorage.getItem('kefu.guest_uid'), \
     Object.keys(localStorage).some(k => k.startsWith('kefu.guest.'))];";

/// How many outboxes the page keeps.
pub const OUTBOXES: &str =
    "return Object.keys(localStorage).filter(k => k.startsWith('kefu.outbox.')).length;";

/// The text of the first `[role=alert]`, or `null`.
pub const ALERT_TEXT: &str =
    "const a = document.querySelector('[role=alert]'); return a ? a.textContent : null;";

/// The text of the first note banner (`.banner[role=note]`), or `null`.
pub const NOTE_TEXT: &str =
    "const n = document.querySelector('.banner[role=note]'); return n ? n.textContent : null;";

/// The failure reason under the failed message whose text is `arguments[0]`, or `null`.
pub const FAILURE_REASON: &str =
    "const li = [...document.querySelectorAll('[role=log] > [data-delivery=failed]')]\
     .find(li => li.querySelector('.bubble').textContent === arguments[0]); \
     const r = li && li.querySelector('.msg-reason'); return r ? r.textContent : null;";

/// Whether the message whose text is `arguments[0]` shows as read by the other side.
pub const READ_MARK: &str = "return [...document.querySelectorAll('[role=log] > [data-read=true] .bubble')]\
     .some(b => b.textContent === arguments[0]);";

/// `[whether no injected script ran, how many injected elements are in the log]`.
pub const INJECTED: &str = "return [window.__pwned === undefined, \
     document.querySelectorAll('[role=log] b, [role=log] img:not(.avatar), [role=log] script').length];";

/// Scrolls the message log to the top (as a person would), which asks for older messages.
pub const SCROLL_TO_TOP: &str = "const log = document.querySelector('[role=log]'); log.scrollTop = 0; \
     log.dispatchEvent(new Event('scroll'));";

/// The console's notices (system lines not tied to a conversation).
pub const CONSOLE_NOTICES: &str =
    "return [...document.querySelectorAll('.notices [data-from=system]')].map(n => n.textContent);";

/// A counter of the console page: `data-<arguments[0]>` of `.agent-page`.
pub const CONSOLE_COUNTER: &str = "return document.querySelector('.agent-page').dataset[arguments[0]];";

/// The console's list: `[data-uid, data-online]` per row.
pub const CONVERSATION_ROWS: &str = "return [...document.querySelectorAll('button.conversation-item')]\
     .filter(b => b.checkVisibility()).map(b => [b.dataset.uid, b.dataset.online]);";

/// The row of user `arguments[0]`: `[unread count (0 without a badge), online]`, or `null`.
pub const ROW_STATE: &str =
    "const b = document.querySelector(`button.conversation-item[data-uid='${arguments[0]}']`); \
     if (!b) return null; const u = b.querySelector('.unread'); \
     return [u ? Number(u.textContent) : 0, b.dataset.online === 'true'];";

/// Runs before the app (benchmarks): stamps the arrival of the frame carrying
/// `window.__kefuExpect` in `window.__kefuFrameAt`.
pub const STAMP_FRAMES: &str = r#"
(() => {
  const Native = window.WebSocket;
  window.WebSocket = class extends Native {
    constructor(...args) {
      super(...args);
      this.addEventListener('message', (event) => {
        if (window.__kefuExpect && typeof event.data === 'string' && event.data.includes(window.__kefuExpect)) {
          window.__kefuFrameAt = performance.now();
        }
      });
    }
  };
})();
"#;

/// Benchmarks: `__kefuWatch(text, selector)` resolves, once the element at `selector` shows
/// `text`, with the `performance.now()` times {dom, layout, painted}: when it was in the DOM,
/// when style and layout were done (forced then), and when the next frame had been painted.
pub const WATCH: &str = r#"
window.__kefuWatch = (text, selector) => new Promise((resolve) => {
  const shown = () => { const el = document.querySelector(selector); return el && el.textContent.includes(text); };
  const observer = new MutationObserver(() => {
    if (!shown()) return;
    observer.disconnect();
    const dom = performance.now();
    document.body.offsetHeight; // forces style and layout now
    const layout = performance.now();
    requestAnimationFrame(() => setTimeout(() => resolve({ dom, layout, painted: performance.now() }), 0));
  });
  observer.observe(document.body, { childList: true, subtree: true, characterData: true });
});
"#;

/// Benchmarks: how many conversations the console lists.
pub const ROW_COUNT: &str = "return document.querySelectorAll('button.conversation-item').length;";

/// Benchmarks: the page's clock.
pub const NOW: &str = "return performance.now();";

/// Benchmarks (async): how long the next painted frame takes with nothing to render.
pub const IDLE_FRAME: &str = "const done = arguments[0]; const start = performance.now(); \
     requestAnimationFrame(() => setTimeout(() => done(performance.now() - start), 0));";

/// Benchmarks (async): clicks row `arguments[0]` of the list and resolves with `{start, dom,
/// layout, painted}` once its latest message shows in the log.
pub const SWITCH_TO_ROW: &str = r#"
const [index, done] = arguments;
const row = document.querySelectorAll('button.conversation-item')[index];
const expected = row.querySelector('.conversation-preview').textContent;
const start = performance.now();
window.__kefuWatch(expected, '[role=log]').then((t) => done({ start, ...t }));
row.click();
"#;

/// The user id of the conversation open in the console.
pub const OPEN_CONVERSATION_UID: &str =
    "return Number(document.querySelector('button.conversation-item[aria-current=true]').dataset.uid);";

/// Benchmarks: watches for text `arguments[0]` at selector `arguments[1]`, stamping the
/// frame that carries it ([`STAMP_FRAMES`]); [`WATCH_RESULT`] gives `{frame, dom, layout, painted}`.
pub const ARM_WATCH: &str = "window.__kefuExpect = arguments[0]; window.__kefuFrameAt = null; \
     window.__kefuResult = window.__kefuWatch(arguments[0], arguments[1]) \
       .then((t) => ({ frame: window.__kefuFrameAt, ...t }));";

/// Benchmarks (async): the result of [`ARM_WATCH`].
pub const WATCH_RESULT: &str = "window.__kefuResult.then(arguments[0]);";

/// Writes `arguments[0]` into the composer and sends it, in one go (no WebDriver round trips
/// between the two pages' sends, so that their timing is the test's).
pub const SEND_NOW: &str = "const input = document.querySelector('.composer-input'); \
     Object.getOwnPropertyDescriptor(HTMLTextAreaElement.prototype, 'value').set.call(input, arguments[0]); \
     input.dispatchEvent(new Event('input', { bubbles: true })); \
     document.querySelector('button.send').click();";

/// Starts (or restarts, from nothing) recording every state the page's status takes
/// (`window.__kefuStates`).
pub const RECORD_STATES: &str = "window.__kefuStates = []; if (!window.__kefuRecording) { \
     const el = document.querySelector('[role=status]'); window.__kefuRecording = true; \
     new MutationObserver(() => window.__kefuStates.push(el.dataset.state)) \
     .observe(el, { attributes: true, attributeFilter: ['data-state'] }); }";

/// Runs before the app (`Page.addScriptToEvaluateOnNewDocument`): every state the status
/// takes from its first render, in `window.__kefuAllStates` (read with [`RECORDED_FROM_START`]).
pub const RECORD_STATES_FROM_START: &str = "window.__kefuAllStates = []; \
     new MutationObserver(() => { const el = document.querySelector('[role=status]'); \
       const last = window.__kefuAllStates[window.__kefuAllStates.length - 1]; \
       if (el && el.dataset.state && el.dataset.state !== last) window.__kefuAllStates.push(el.dataset.state); }) \
     .observe(document, { subtree: true, childList: true, attributes: true, attributeFilter: ['data-state'] });";

/// The states of [`RECORD_STATES_FROM_START`].
pub const RECORDED_FROM_START: &str = "return window.__kefuAllStates || null;";

/// The states recorded since [`RECORD_STATES`].
pub const RECORDED_STATES: &str = "return window.__kefuStates || null;";

/// Runs before the app (friends benchmark): stamps the first WebSocket `open` in
/// `window.__kefuOpenAt`, and in `window.__kefuListed` the times (`dom`, `layout`) when the
/// friends list first holds `{count}` rows.
pub fn stamp_friends_listed(count: usize) -> String {
    format!(
        r#"
(() => {{
  const Native = window.WebSocket;
  window.WebSocket = class extends Native {{
    constructor(...args) {{
      super(...args);
      this.addEventListener('open', () => {{ if (window.__kefuOpenAt == null) window.__kefuOpenAt = performance.now(); }});
    }}
  }};
  const observer = new MutationObserver(() => {{
    if (document.querySelectorAll('ul.friend-list button[data-friend]').length < {count}) return;
    observer.disconnect();
    const dom = performance.now();
    document.body.offsetHeight;
    window.__kefuListed = {{ open: window.__kefuOpenAt, dom, layout: performance.now() }};
  }});
  observer.observe(document, {{ childList: true, subtree: true }});
}})();
"#
    )
}

/// The stamps of [`stamp_friends_listed`] (null until listed).
pub const FRIENDS_LISTED: &str = "return window.__kefuListed || null;";

/// Benchmarks (async): clicks the conversation's back button and resolves with `{start, dom,
/// layout, painted}` once the friends list holds `arguments[0]` rows again.
pub const BACK_TO_LIST: &str = r#"
const [count, done] = arguments;
const start = performance.now();
const observer = new MutationObserver(() => {
  if (document.querySelectorAll('ul.friend-list button[data-friend]').length < count) return;
  observer.disconnect();
  const dom = performance.now();
  document.body.offsetHeight;
  const layout = performance.now();
  requestAnimationFrame(() => setTimeout(() => done({ start, dom, layout, painted: performance.now() }), 0));
});
observer.observe(document.body, { childList: true, subtree: true });
document.querySelector('button.back').click();
"#;
