//! `paperboy doctor`: each check of the installation on a line, `ok`, `warn` or `fail`, its
//! name and what was found or what to do; the exit status is non-zero when one fails.

use std::path::Path;

use anyhow::Result;

use crate::doctor::doctor;
use crate::health::State;

pub async fn run(config_file: Option<&Path>) -> Result<()> {
    let findings = doctor(config_file).await;
    for f in &findings {
        println!("{:<4}  {:<13}  {}", f.state.as_str(), f.name, f.message);
        for line in &f.extra {
            println!("      {:<13}  {line}", "");
        }
    }
    let count = |s: State| findings.iter().filter(|f| f.state == s).count();
    let (failed, warned) = (count(State::Fail), count(State::Warn));
    println!(
        "{} checks: {} ok, {warned} to look at, {failed} failing",
        findings.len(),
        count(State::Ok)
    );
    if failed > 0 {
        anyhow::bail!("{failed} check(s) failed: see `fail` above for what to do");
    }
    Ok(())
}
