//! `paygate bench`: the load and cost harness (`paygate-bench`), run from the paygate binary so
//! that the server and simulator it starts are this very build.
//!
//! Glue only: flags and behaviour live in `paygate_bench::runner`. It must never start
//! anything that talks to real WeChat (the harness points every upstream at its simulator).

pub use paygate_bench::runner::BenchArgs;

/// Runs the bench; the exact command line goes into the JSON report.
pub fn run(args: BenchArgs) -> anyhow::Result<()> {
    crate::logging::init(crate::config::LogFormat::Text);
    paygate_bench::runner::run(args, std::env::args().collect())
}
