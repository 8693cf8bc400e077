//! Test-only: external tools a test needs (bcftools, samtools, tabix, mpirun, Slurm, ...).
//!
//! CI never skips silently: under `CI` (set and not `false`/`0`, as `.ci/run` exports `CI=true`)
//! a missing tool fails the test; elsewhere the test prints a `NOTE` and may skip the checks that
//! need it. The unit tests use this module as `crate::test_tools`; the integration tests include
//! the same file from `tests/common/mod.rs`.

use std::path::Path;

/// Is this a CI run? `CI` set to anything but empty, `0` or `false`.
pub fn under_ci() -> bool {
    std::env::var("CI").is_ok_and(|v| !v.is_empty() && v != "0" && !v.eq_ignore_ascii_case("false"))
}

/// An executable file named `tool` in a folder of `PATH`.
pub fn on_path(tool: &str) -> bool {
    use std::os::unix::fs::PermissionsExt;
    let Some(path) = std::env::var_os("PATH") else { return false };
    std::env::split_paths(&path).any(|dir| {
        Path::new(&dir).join(tool).metadata().is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
    })
}

/// The Debian package that provides `tool`, for the messages.
fn package_of(tool: &str) -> &'static str {
    match tool {
        "bcftools" => "bcftools",
        "samtools" => "samtools",
        "tabix" | "bgzip" => "tabix",
        "vcf-validator" => "vcftools",
        "mpirun" => "openmpi-bin libopenmpi-dev",
        "sbatch" | "scontrol" | "srun" | "squeue" | "sinfo" => "slurm-wlm munge",
        _ => "the package that provides it",
    }
}

/// True when `tool` is on `PATH`. Otherwise: under CI a panic (the test fails), elsewhere a
/// `NOTE` on stderr and false, so that the caller skips what needs the tool.
pub fn require_tool(tool: &str) -> bool {
    if on_path(tool) {
        return true;
    }
    let package = package_of(tool);
    if under_ci() {
        panic!("`{tool}` is not installed, and CI is set: a CI run never skips (apt-get install -y {package})");
    }
    eprintln!("NOTE: `{tool}` is not installed: skipping the checks that need it (apt-get install -y {package})");
    false
}

/// For a requirement other than a tool on `PATH` (e.g. a Slurm cluster that answers): under CI a
/// panic with `what`, elsewhere a `NOTE` and false.
pub fn require(ok: bool, what: &str) -> bool {
    if ok {
        return true;
    }
    if under_ci() {
        panic!("{what}, and CI is set: a CI run never skips");
    }
    eprintln!("NOTE: {what}: skipping");
    false
}
