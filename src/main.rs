use clap::Parser as _;

// Measures the memory of user scripts, so their sandbox can enforce its total memory budget.
#[global_allocator]
static ALLOCATOR: qdx_script::MeteredAllocator = qdx_script::MeteredAllocator;

fn main() -> std::process::ExitCode {
    // clap exits with 2 on a usage error, 0 for --help and --version.
    let cli = qdx::cli::Cli::parse();
    // A panic is an internal error: its message is printed by the default hook, and the run's
    // guard has brought the lab to its safe state while unwinding; qdx exits 3, not 101.
    std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| qdx::cli::run(cli)))
        .unwrap_or_else(|_| std::process::ExitCode::from(qdx::cli::exit::FAILED))
}
