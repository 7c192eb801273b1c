//! The agent console's binary (`/agent`).
fn main() {
    kefu::start(kefu::Page::Agent);
}
