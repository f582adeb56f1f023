//! The server's memory during a run: VmRSS and VmHWM sampled from
//! `/proc/PID/status`.

use super::*;

/// Interval between `/proc/PID/status` samples.
const RSS_SAMPLE_EVERY: Duration = Duration::from_millis(250);

/// Memory figures in kB, from `/proc/PID/status`.
#[derive(Default, Clone, Copy)]
pub(super) struct MemSample {
    pub(super) rss_kb: Option<u64>,
    pub(super) hwm_kb: Option<u64>,
}

#[derive(Default)]
pub(super) struct MemReport {
    pub(super) start: MemSample,
    pub(super) peak_rss_kb: Option<u64>,
    pub(super) last: MemSample,
    pub(super) samples: u64,
}

/// Samples VmRSS / VmHWM every 250 ms until `deadline`, then once more.
pub(super) async fn sample_mem(pid: u32, deadline: Instant) -> MemReport {
    fn record(sample: MemSample, report: &mut MemReport) {
        if report.samples == 0 {
            report.start = sample;
        }
        report.samples += 1;
        if let Some(rss) = sample.rss_kb {
            report.peak_rss_kb = Some(report.peak_rss_kb.map_or(rss, |p| p.max(rss)));
        }
        // Keep the last readable figures if the process goes away.
        if sample.rss_kb.is_some() {
            report.last.rss_kb = sample.rss_kb;
        }
        if sample.hwm_kb.is_some() {
            report.last.hwm_kb = sample.hwm_kb;
        }
    }
    let mut report = MemReport::default();
    let mut ticker = tokio::time::interval(RSS_SAMPLE_EVERY);
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
    loop {
        ticker.tick().await;
        if Instant::now() >= deadline {
            break;
        }
        if let Ok(sample) = read_mem(pid) {
            record(sample, &mut report);
        }
    }
    if let Ok(sample) = read_mem(pid) {
        record(sample, &mut report);
    }
    report
}

pub(super) fn read_mem(pid: u32) -> Result<MemSample> {
    let text = std::fs::read_to_string(format!("/proc/{pid}/status"))?;
    let field = |name: &str| {
        text.lines()
            .find_map(|line| line.strip_prefix(name))
            .and_then(|rest| {
                rest.trim()
                    .trim_end_matches("kB")
                    .trim()
                    .parse::<u64>()
                    .ok()
            })
    };
    Ok(MemSample {
        rss_kb: field("VmRSS:"),
        hwm_kb: field("VmHWM:"),
    })
}
