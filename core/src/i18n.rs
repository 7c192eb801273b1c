//! UI text in Chinese and English, chosen from the browser language.

use kefu_protocol::TextError;

/// Lowercases text to compare it without case (the filters, the canned replies' `/` query).
/// The pages pass the browser's own (`String.prototype.toLowerCase`): Rust's Unicode case
/// tables would add 7 KB brotli to a page. Native code and tests pass `str::to_lowercase`.
pub type Fold = fn(&str) -> String;

use crate::connection::Status;

/// Every piece of UI text.
#[derive(Debug)]
pub struct Texts {
    pub lang: &'static str,
    pub title: &'static str,
    pub agent_title: &'static str,
    pub online: &'static str,
    pub connecting: &'static str,
    pub offline: &'static str,
    pub reconnecting: &'static str,
    pub switched_off: &'static str,
    pub placeholder: &'static str,
    pub message_label: &'static str,
    pub send: &'static str,
    pub emoji: &'static str,
    pub empty_error: &'static str,
    pub sending: &'static str,
    pub failed: &'static str,
    pub retry: &'static str,
    pub messages_label: &'static str,
    pub connect: &'static str,
    pub disconnect: &'static str,
    pub conversations: &'static str,
    pub no_conversations: &'static str,
    pub pick_conversation: &'static str,
    pub broadcast_warning: &'static str,
    pub closed_by_server: &'static str,
    pub config_error: &'static str,
    pub queued: &'static str,
    pub outbox_unreadable: &'static str,
    pub outbox_not_saved: &'static str,
    pub filter: &'static str,
    pub user_online: &'static str,
    pub user_offline: &'static str,
    pub agent_typing: &'static str,
    pub user_typing: &'static str,
    pub read: &'static str,
    pub refused: &'static str,
    pub identity_renewed: &'static str,
    pub sign_in: &'static str,
    pub agent_name: &'static str,
    pub password: &'static str,
    pub sign_in_missing: &'static str,
    pub sign_out: &'static str,
    pub signed_out: &'static str,
    /// Signed out in this browser only; `{reason}` why the server was not told.
    pub signed_out_here_only: &'static str,
    pub without_account: &'static str,
    pub cannot_reach: &'static str,
    pub sound: &'static str,
    pub sound_failed: &'static str,
    pub desktop_alerts: &'static str,
    pub desktop_failed: &'static str,
    pub desktop_blocked: &'static str,
    pub desktop_unsupported: &'static str,
    pub new_message_from: &'static str,
    pub backend: &'static str,
    pub foreign_backend: &'static str,
    pub today: &'static str,
    pub yesterday: &'static str,
    pub just_now: &'static str,
    pub minutes_ago: &'static str,
    pub welcome: &'static str,
    pub agents_here: &'static str,
    pub agents_away: &'static str,
    pub away_detail: &'static str,
    pub unknown_user: &'static str,
    pub missed: &'static str,
    pub last_close: &'static str,
    pub signed_in_as: &'static str,
    pub available: &'static str,
    pub away_switch: &'static str,
    pub availability: &'static str,
    pub send_hint: &'static str,
    pub service: &'static str,
    /// The Friends tab and peer chat.
    pub friends: &'static FriendTexts,
}

/// UI text of the Friends tab and peer conversations.
#[derive(Debug)]
pub struct FriendTexts {
    pub tab: &'static str,
    pub tabs_label: &'static str,
    pub empty: &'static str,
    pub add: &'static str,
    pub their_id: &'static str,
    pub my_id: &'static str,
    pub note: &'static str,
    pub send_request: &'static str,
    pub requests: &'static str,
    pub accept: &'static str,
    pub decline: &'static str,
    pub withdraw: &'static str,
    pub waiting: &'static str,
    pub invite_link: &'static str,
    pub invite_hint: &'static str,
    pub copy: &'static str,
    pub copied: &'static str,
    pub new_link: &'static str,
    pub invited_by: &'static str,
    pub add_inviter: &'static str,
    pub remove: &'static str,
    pub block: &'static str,
    pub more: &'static str,
    pub confirm_remove: &'static str,
    pub confirm_block: &'static str,
    pub cancel: &'static str,
    pub unblock: &'static str,
    pub blocked: &'static str,
    pub back: &'static str,
    pub no_messages: &'static str,
    pub not_connected: &'static str,
    pub bad_id: &'static str,
    pub not_friends: &'static str,
    pub blocked_error: &'static str,
    pub too_many: &'static str,
    pub unknown_user: &'static str,
    pub bad_invite: &'static str,
    pub slow_down: &'static str,
    pub note_too_long: &'static str,
    /// The Friends page against a backend without friends (v1, the original).
    pub unavailable: &'static str,
}

pub const ZH_FRIENDS: FriendTexts = FriendTexts {
    tab: "好友",
    tabs_label: "页面",
    empty: "还没有好友。分享你的邀请链接，或按编号添加。",
    add: "添加好友",
    their_id: "对方的用户编号",
    my_id: "我的用户编号",
    note: "附言（可选）",
    send_request: "发送好友请求",
    requests: "新的朋友",
    accept: "接受",
    decline: "拒绝",
    withdraw: "撤回",
    waiting: "等待验证",
    invite_link: "我的邀请链接",
    invite_hint: "对方打开这个链接即可加你为好友（30 天内有效；换新链接、删除或拉黑好友后旧链接失效）。",
    copy: "复制",
    copied: "已复制",
    new_link: "换新链接",
    invited_by: "邀请你成为好友：",
    add_inviter: "加为好友",
    remove: "删除好友",
    block: "拉黑",
    unblock: "取消拉黑",
    blocked: "黑名单",
    back: "返回",
    no_messages: "还没有消息，打个招呼吧。",
    not_connected: "未连接，请稍后再试。",
    bad_id: "请输入对方的用户编号（数字）。",
    more: "更多操作",
    confirm_remove: "删除这位好友？聊天记录会保留，但双方都不能再发消息。",
    confirm_block: "拉黑？对方将不能给你发消息、加你为好友或看到你是否在线。",
    cancel: "取消",
    not_friends: "你们已不是好友：不能再发消息（聊天记录仍在）。",
    blocked_error: "你们之间已被拉黑，无法发送。",
    too_many: "好友数量已达上限（1000）。",
    unknown_user: "找不到这个用户（或没有这个请求）。",
    bad_invite: "邀请链接无效或已过期。",
    slow_down: "请求太频繁，请稍后再试。",
    note_too_long: "附言最多 100 个字。",
    unavailable: "此服务没有好友功能。",
};

pub const EN_FRIENDS: FriendTexts = FriendTexts {
    tab: "Friends",
    tabs_label: "Sections",
    empty: "No friends yet. Share your invite link, or add someone by their user id.",
    add: "Add a friend",
    their_id: "Their user id",
    my_id: "My user id",
    note: "Note (optional)",
    send_request: "Send friend request",
    requests: "Friend requests",
    accept: "Accept",
    decline: "Decline",
    withdraw: "Withdraw",
    waiting: "Waiting",
    invite_link: "My invite link",
    invite_hint: "Whoever opens this link can add you as a friend (valid for 30 days; a new link, removing or blocking someone ends the old one).",
    copy: "Copy",
    copied: "Copied",
    new_link: "New link",
    invited_by: "invites you to be friends:",
    add_inviter: "Add as friend",
    remove: "Remove friend",
    block: "Block",
    unblock: "Unblock",
    blocked: "Blocked",
    back: "Back",
    no_messages: "No messages yet. Say hello!",
    not_connected: "Not connected; try again in a moment.",
    bad_id: "Enter their user id (a number).",
    more: "More actions",
    confirm_remove: "Remove this friend? The conversation is kept, but neither of you can write in it.",
    confirm_block: "Block them? They will not be able to message you, ask to be friends or see whether you are online.",
    cancel: "Cancel",
    not_friends: "You are no longer friends: messages cannot be sent (the conversation is kept).",
    blocked_error: "One of you has blocked the other.",
    too_many: "The friends list is full (1,000).",
    unknown_user: "No such user (or no such request).",
    bad_invite: "This invite link is not valid or has expired.",
    slow_down: "Too many requests; try again later.",
    note_too_long: "A note has at most 100 characters.",
    unavailable: "This service has no friends list.",
};

impl FriendTexts {
    /// What to say for a refused friend frame.
    pub fn error(&self, code: kefu_protocol::v1::ErrorCode) -> Option<&'static str> {
        use kefu_protocol::v1::ErrorCode;
        Some(match code {
            ErrorCode::NotFriends => self.not_friends,
            ErrorCode::Blocked => self.blocked_error,
            ErrorCode::TooManyFriends => self.too_many,
            ErrorCode::UnknownUser => self.unknown_user,
            ErrorCode::BadInvite => self.bad_invite,
            ErrorCode::RateLimited => self.slow_down,
            ErrorCode::Oversize => self.note_too_long,
            _ => return None,
        })
    }
}

pub const ZH: Texts = Texts {
    lang: "zh",
    title: "在线客服",
    agent_title: "人工客服控制台",
    online: "在线",
    connecting: "连接中…",
    offline: "离线",
    reconnecting: "离线，正在重连…",
    switched_off: "已断开",
    placeholder: "请输入消息...",
    message_label: "消息",
    send: "发送",
    emoji: "表情",
    empty_error: "发送消息不能为空!",
    sending: "发送中…",
    failed: "未发送",
    retry: "重试",
    messages_label: "聊天记录",
    connect: "连接",
    disconnect: "断开",
    conversations: "用户",
    no_conversations: "还没有用户发来消息",
    pick_conversation: "请选择左侧的用户",
    broadcast_warning: "注意：当前协议的回复没有收件人，会发给所有在线用户。",
    closed_by_server: "连接被服务器关闭",
    config_error: "地址参数有误",
    queued: "条消息待发送",
    outbox_unreadable: "本地保存的待发送消息无法读取",
    outbox_not_saved: "无法在本机保存待发送消息，刷新页面会丢失它们",
    filter: "按名字筛选",
    user_online: "在线",
    user_offline: "离线",
    agent_typing: "客服正在输入…",
    user_typing: "正在输入…",
    read: "已读",
    refused: "服务器拒绝了本页面的身份",
    identity_renewed: "已换用新的访客身份",
    sign_in: "登录",
    agent_name: "客服账号",
    password: "密码",
    sign_in_missing: "请输入账号和密码",
    sign_out: "退出登录",
    signed_out: "已退出登录",
    signed_out_here_only: "已在本浏览器退出登录；未能通知服务器（{reason}），该会话在过期前仍然有效",
    without_account: "不登录直接连接（无账号的后端）",
    cannot_reach: "无法连接服务器",
    sound: "提示音",
    sound_failed: "无法播放提示音",
    desktop_alerts: "桌面通知",
    desktop_failed: "无法显示桌面通知",
    desktop_blocked: "浏览器不允许本页面显示通知，请在浏览器设置中允许",
    desktop_unsupported: "此浏览器不支持桌面通知",
    new_message_from: "新消息：",
    backend: "服务器",
    foreign_backend:
        "本页面不会把密码发送到这个服务器：它不在本站信任的服务器列表中（运营者可用 --console-backend 添加）",
    today: "今天",
    yesterday: "昨天",
    just_now: "刚刚",
    minutes_ago: "分钟前",
    welcome: "您好！欢迎咨询。请在下方输入您的问题，客服通常几分钟内回复。",
    agents_here: "客服在线",
    agents_away: "客服暂时不在，可以留言",
    away_detail: "您的消息会保留，客服上线后会回复您。",
    unknown_user:
        "此客服服务不认识这个访客编号。请从 App 里打开客服页面（或在地址后加上 ?uid=您的用户编号）。",
    missed: "连接在 {since} 至 {until} 之间中断，此服务器不会补发这段时间的消息：可能有消息未收到。",
    last_close: "上次断开",
    signed_in_as: "当前客服",
    available: "接待中",
    away_switch: "暂离",
    availability: "接待状态",
    send_hint: "Enter 发送，Shift+Enter 换行",
    service: "客服",
    friends: &ZH_FRIENDS,
};

pub const EN: Texts = Texts {
    lang: "en",
    title: "Customer service",
    agent_title: "Agent console",
    online: "Online",
    connecting: "Connecting…",
    offline: "Offline",
    reconnecting: "Offline, reconnecting…",
    switched_off: "Disconnected",
    placeholder: "Type a message...",
    message_label: "Message",
    send: "Send",
    emoji: "Emoji",
    empty_error: "Message must not be empty!",
    sending: "Sending…",
    failed: "Not sent",
    retry: "Retry",
    messages_label: "Messages",
    connect: "Connect",
    disconnect: "Disconnect",
    conversations: "Users",
    no_conversations: "No user has written yet",
    pick_conversation: "Pick a user on the left",
    broadcast_warning: "Note: with this protocol a reply has no addressee; it reaches every connected user.",
    closed_by_server: "Connection closed by the server",
    config_error: "Bad URL parameter",
    queued: "queued",
    outbox_unreadable: "Messages saved in this browser could not be read",
    outbox_not_saved: "Cannot keep unsent messages in this browser: a reload would lose them",
    filter: "Filter by name",
    user_online: "online",
    user_offline: "offline",
    agent_typing: "Customer service is typing…",
    user_typing: "typing…",
    read: "Read",
    refused: "The server refused this page's identity",
    identity_renewed: "Started again as a new guest",
    sign_in: "Sign in",
    agent_name: "Agent name",
    password: "Password",
    sign_in_missing: "Enter your name and password",
    sign_out: "Sign out",
    signed_out: "Signed out",
    signed_out_here_only: "Signed out in this browser; the server could not be told ({reason}), so the session stays valid until it expires",
    without_account: "Connect without signing in (backends without accounts)",
    cannot_reach: "Cannot reach the server",
    sound: "Sound",
    sound_failed: "Cannot play the alert sound",
    desktop_alerts: "Desktop alerts",
    desktop_failed: "Cannot show a desktop notification",
    desktop_blocked: "The browser does not allow notifications from this page; allow them in its settings",
    desktop_unsupported: "This browser has no desktop notifications",
    new_message_from: "New message from",
    backend: "Server",
    foreign_backend: "This page will not send your password to this server: it is not one this site trusts (the operator can add it with --console-backend)",
    today: "Today",
    yesterday: "Yesterday",
    just_now: "now",
    minutes_ago: "min",
    welcome: "Hi! How can we help? Write your question below; an agent usually replies within a few minutes.",
    agents_here: "Customer service is online",
    agents_away: "Away – leave a message",
    away_detail: "Your messages are kept and will be answered when an agent is back.",
    unknown_user: "This service does not know this visitor id. Open customer service from the app (or add ?uid=your user id to the address).",
    missed: "The connection was down from {since} to {until}, and this server does not resend what was sent meanwhile: messages may be missing.",
    last_close: "Last disconnect",
    signed_in_as: "Signed in as",
    available: "Available",
    away_switch: "Away",
    availability: "Availability",
    send_hint: "Enter to send, Shift+Enter for a new line",
    service: "Customer service",
    friends: &EN_FRIENDS,
};

impl Texts {
    /// The label for a connection status, so that the state is never shown by colour alone.
    pub fn status_label(&self, status: Status, retrying: bool) -> &'static str {
        match status {
            Status::Online => self.online,
            Status::Connecting => self.connecting,
            Status::Offline if retrying => self.reconnecting,
            Status::Offline => self.offline,
        }
    }

    /// The visitor's one status message: the connection and, once connected, whether an agent
    /// is there (`None`: the backend does not say, as the original does not; or the page is
    /// the console).
    pub fn visitor_status(
        &self,
        status: Status,
        retrying: bool,
        agents_online: Option<bool>,
    ) -> &'static str {
        match (status, agents_online) {
            (Status::Online, Some(true)) => self.agents_here,
            (Status::Online, Some(false)) => self.agents_away,
            _ => self.status_label(status, retrying),
        }
    }

    /// The notice after a v0 link was down from `since` to `until`.
    pub fn may_have_missed(&self, since: &str, until: &str) -> String {
        self.missed.replace("{since}", since).replace("{until}", until)
    }

    /// Checks a text before it is sent; the error is in the page's language.
    pub fn check_text(&self, text: &str) -> Result<(), String> {
        match kefu_protocol::validate_text(text, kefu_protocol::MAX_TEXT_UTF16) {
            Ok(()) => Ok(()),
            Err(TextError::Empty) => Err(self.empty_error.to_owned()),
            Err(err) => Err(err.to_string()),
        }
    }
}

/// Chinese for any `zh*` language tag, English otherwise.
pub fn for_language(tag: &str) -> &'static Texts {
    if tag.to_ascii_lowercase().starts_with("zh") {
        &ZH
    } else {
        &EN
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn picks_by_language_tag() {
        assert_eq!(for_language("zh-CN").lang, "zh");
        assert_eq!(for_language("ZH-tw").lang, "zh");
        assert_eq!(for_language("en-US").lang, "en");
        assert_eq!(for_language("").lang, "en");
        assert_eq!(ZH.empty_error, "发送消息不能为空!");
    }

    #[test]
    fn statuses_are_said_in_words_and_texts_checked_in_the_page_language() {
        assert_eq!(EN.status_label(Status::Offline, true), EN.reconnecting);
        assert_eq!(ZH.status_label(Status::Online, false), "在线");
        assert_eq!(ZH.check_text("  "), Err("发送消息不能为空!".to_owned()));
        assert!(EN.check_text("heartbeat").is_err());
        assert_eq!(EN.check_text("hi"), Ok(()));
    }

    #[test]
    fn the_visitor_sees_one_status_message() {
        assert_eq!(EN.visitor_status(Status::Online, false, Some(true)), EN.agents_here);
        assert_eq!(EN.visitor_status(Status::Online, false, Some(false)), EN.agents_away);
        assert_eq!(ZH.visitor_status(Status::Online, false, None), "在线", "the original does not say");
        assert_eq!(
            EN.visitor_status(Status::Offline, true, Some(true)),
            EN.reconnecting,
            "the link comes first"
        );
        let missed = ZH.may_have_missed("10:00:01", "10:00:09");
        assert!(
            missed.contains("10:00:01") && missed.contains("10:00:09") && !missed.contains('{'),
            "{missed}"
        );
    }
}
