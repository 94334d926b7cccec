//! What the function bootstraps link, from the lock file (`cargo tree`, normal dependencies of
//! the four functions as `scripts/package` builds them, and of the webhook dispatcher's
//! library, a function to come): one crypto library, and no embedded store. Each of these came
//! back once through a feature default (an SDK crate's `default-https-client`, reqwest's
//! `rustls`, jsonwebtoken's `aws_lc_rs`, crm-shared's `sqlite`) and cost a bootstrap 0.7–3 MiB
//! (docs/BENCHMARKS.md, section 2).

use std::collections::BTreeSet;

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
