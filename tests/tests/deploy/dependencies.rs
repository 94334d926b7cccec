//! What the function bootstraps link, from the lock file (`cargo tree`, normal dependencies of
//! the four functions as `scripts/package` builds them, and of the webhook dispatcher's
//! library, a function to come): one crypto library, and no embedded store. Each of these came
//! back once through a feature default (an SDK crate's `default-https-client`, reqwest's
//! `rustls`, jsonwebtoken's `aws_lc_rs`, crm-shared's `sqlite`) and cost a bootstrap 0.7–3 MiB
//! (docs/BENCHMARKS.md, section 2).
//!
//! And what a build of the whole workspace links: features are unified over one cargo
//! invocation, so `cargo build --release --workspace` once gave the functions crm-shared's
//! `sqlite` feature (10.1–10.5 MiB bootstraps instead of 7.8–8.2). The embedded store is now a
//! crate the functions do not depend on (crm-embedded); the test-only store hooks stay a
//! feature, and the functions' own tree must not turn it on.

use std::collections::BTreeSet;

const FUNCTIONS: [&str; 6] = [
    "crm-auth",
    "crm-users",
    "crm-tickets",
    "crm-notifier",
    "crm-dispatcher",
    "crm-intake",
];

/// `cargo tree --locked <args>`'s lines.
fn tree(args: &[&str]) -> Vec<String> {
    let root = super::support::root();
    let out = crm_tests::server::cargo_command()
        .current_dir(&root)
        .args(["tree", "--locked"])
        .args(args)
        .output()
        .expect("cargo tree runs");
    assert!(
        out.status.success(),
        "cargo tree {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(str::to_owned)
        .collect()
}

#[test]
fn a_build_of_the_whole_workspace_links_sqlite_into_no_function() {
    // Everything that depends on rusqlite when the whole workspace is built at once.
    let dependents: BTreeSet<String> = tree(&[
        "--workspace",
        "-e",
        "normal",
        "-i",
        "rusqlite",
        "--prefix",
        "none",
        "--format",
        "{p}",
    ])
    .iter()
    .filter_map(|l| l.split_whitespace().next().map(str::to_owned))
    .collect();
    assert!(
        dependents.contains("crm-embedded"),
        "rusqlite is expected through crm-embedded: {dependents:?}"
    );
    for reaches_functions in FUNCTIONS.iter().chain(&["crm-shared", "crm-intake"]) {
        assert!(
            !dependents.contains(*reaches_functions),
            "{reaches_functions} depends on rusqlite in a workspace build: {dependents:?}"
        );
    }
}

#[test]
fn the_functions_build_crm_shared_without_the_test_hooks() {
    let mut args = vec!["-e", "features", "--prefix", "none"];
    for f in FUNCTIONS {
        args.extend(["-p", f]);
    }
    let lines = tree(&args);
    assert!(
        lines.iter().any(|l| l.starts_with("crm-shared ")),
        "crm-shared is missing from the functions' tree"
    );
    let hooked: Vec<&String> = lines.iter().filter(|l| l.contains("test-hooks")).collect();
    assert!(hooked.is_empty(), "test hooks in a function: {hooked:?}");
}

fn function_packages() -> BTreeSet<String> {
    let root = super::support::root();
    let out = crm_tests::server::cargo_command()
        .current_dir(&root)
        .args([
            "tree",
            "--locked",
            "-e",
            "normal",
            "--prefix",
            "none",
            "--format",
            "{p}",
            "-p",
            "crm-auth",
            "-p",
            "crm-users",
            "-p",
            "crm-tickets",
            "-p",
            "crm-notifier",
            "-p",
            "crm-dispatcher",
            "-p",
            "crm-intake",
        ])
        .output()
        .expect("cargo tree runs");
    assert!(
        out.status.success(),
        "cargo tree failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| l.split_whitespace().next())
        .map(str::to_owned)
        .collect()
}

#[test]
fn the_functions_link_ring_as_their_only_crypto_and_no_embedded_store() {
    let packages = function_packages();
    assert!(packages.contains("ring"), "ring is missing: {packages:?}");
    // The intake Lambda reads mail from S3: the local SMTP listener (crm-intake's `smtp`
    // feature, `crm serve` only) is not linked into it.
    assert!(
        !packages.contains("mailin"),
        "the SMTP listener reached a function"
    );
    assert!(packages.contains("rustls"), "rustls is missing");
    assert!(packages.contains("jsonwebtoken"), "jsonwebtoken is missing");
    for banned in [
        "aws-lc-rs",
        "aws-lc-sys",
        "aws-lc-fips-sys",
        "openssl",
        "openssl-sys",
        "rsa",
        "p256",
        "ed25519-dalek",
        "rusqlite",
        "libsqlite3-sys",
        "reqwest",
    ] {
        assert!(
            !packages.contains(banned),
            "{banned} is linked into a function; see this file's header"
        );
    }
}
