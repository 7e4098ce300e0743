use clap::Parser as _;

// Measures the memory of user scripts, so their sandbox can enforce its total memory budget.
#[global_allocator]
static ALLOCATOR: qdx_script::MeteredAllocator = qdx_script::MeteredAllocator;

fn main() -> std::process::ExitCode {
    qdx::cli::run(qdx::cli::Cli::parse())
}
