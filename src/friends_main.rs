//! The Friends page's binary (`/friends`).
fn main() {
    kefu::start(kefu::Page::Friends);
}
