//! Resource readings for the benchmarks and `paperboy bench`, from Linux's /proc (`None`
//! elsewhere): peak memory, and CPU time, which a busy machine disturbs less than the wall
//! clock.

use std::time::Duration;

/// Peak resident memory of this process, since it started or since [`reset_peak_rss`], in MiB.
pub fn peak_rss_mib() -> Option<f64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let kb: f64 = status
        .lines()
        .find(|l| l.starts_with("VmHWM:"))?
        .split_whitespace()
        .nth(1)?
        .parse()
        .ok()?;
    Some(kb / 1024.0)
}

/// Start measuring the peak afresh: "5" resets VmHWM to the current size.
pub fn reset_peak_rss() {
    let _ = std::fs::write("/proc/self/clear_refs", "5");
}

/// CPU time (user and system) this process has used, all threads together.
pub fn process_cpu() -> Option<Duration> {
    cpu_of("/proc/self/stat")
}

/// CPU time (user and system) the calling thread has used.
pub fn thread_cpu() -> Option<Duration> {
    cpu_of("/proc/thread-self/stat")
}

fn cpu_of(stat: &str) -> Option<Duration> {
    let stat = std::fs::read_to_string(stat).ok()?;
    // Fields after the command name, which is in parentheses: utime and stime are the 12th
    // and 13th of them, in clock ticks (100 a second on Linux).
    let mut fields = stat.rsplit_once(')')?.1.split_whitespace().skip(11);
    let ticks: u64 = fields.next()?.parse::<u64>().ok()? + fields.next()?.parse::<u64>().ok()?;
    Some(Duration::from_millis(ticks * 10))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn readings_move_with_work_on_linux() {
        let Some(before) = thread_cpu() else {
            return; // Not Linux.
        };
        // Spin until a clock tick has passed on this thread (bounded, for a starved machine).
        let start = std::time::Instant::now();
        let mut x = 0u64;
        while thread_cpu().unwrap() <= before && start.elapsed() < Duration::from_secs(10) {
            for _ in 0..100_000 {
                x = std::hint::black_box(x.wrapping_mul(31).wrapping_add(7));
            }
        }
        assert!(
            thread_cpu().unwrap() > before,
            "no CPU time counted in 10 s of spinning"
        );
        assert!(process_cpu().unwrap() >= thread_cpu().unwrap());
        assert!(peak_rss_mib().unwrap() > 0.0);
    }
}
