//! CPU pinning as the peer figures in the performance anchors were measured: the server on
//! CPU 0, the client (this process and any child it starts later) on CPU 1, with `taskset`.

use pgline::cluster::TempCluster;

fn pin(cpu: u32, pid: u32) {
    let _ = std::process::Command::new("taskset")
        .args(["-a", "-cp", &cpu.to_string(), &pid.to_string()])
        .stdout(std::process::Stdio::null())
        .status();
}

/// Pins the cluster's postmaster (and so every backend it forks later) to CPU 0 and this
/// process to CPU 1, when `PGLINE_PIN` is set. Returns whether it pinned.
pub(crate) fn pin_if_asked(cluster: &TempCluster) -> bool {
    if std::env::var_os("PGLINE_PIN").is_none() {
        return false;
    }
    let pid = std::fs::read_to_string(cluster.data_dir().join("postmaster.pid"))
        .ok()
        .and_then(|s| s.lines().next().and_then(|l| l.trim().parse().ok()));
    if let Some(pid) = pid {
        pin(0, pid);
    }
    pin(1, std::process::id());
    true
}
