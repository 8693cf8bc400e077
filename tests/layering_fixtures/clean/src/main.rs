fn main() {
    dagr::cli::run();
}
