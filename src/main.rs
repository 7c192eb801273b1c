//! The user page's binary (`/`).
fn main() {
    kefu::start(kefu::Page::User);
}
