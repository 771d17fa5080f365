fn main() -> std::process::ExitCode {
    server::main(
        env!("CARGO_PKG_NAME"),
        env!("CARGO_PKG_VERSION"),
        web_flask_equivalent::run,
    )
}
