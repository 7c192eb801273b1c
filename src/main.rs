fn main() {
    kefu::start();
}
