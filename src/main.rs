use clap::Parser as _;

fn main() -> std::process::ExitCode {
    qdx::cli::run(qdx::cli::Cli::parse())
}
