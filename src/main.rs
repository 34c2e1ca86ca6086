//! The `pirwatch` binary: parse the command line and hand over to [`pirwatch::cli`].

fn main() -> std::process::ExitCode {
    pirwatch::cli::main()
}
