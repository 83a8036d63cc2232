//! The `paperboy` command. Everything it does is in the library (`src/cli/`), so that the
//! library's boundary is what its tests and benchmarks name, not what this binary needs.

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    paperboy::cli::main().await
}
