//! Our Standard Webhooks signatures verified by a library no one here wrote: the PyPI package
//! `standardwebhooks` (pinned in scripts/emulators.sh, installed into the test venv), as a
//! receiver would (SPEC §7: "A receiver verifies it with any Standard Webhooks library"). One
//! secret; the two signatures of a rotation, each secret verifying; the previous secret no
//! longer signing after the overlap; a tampered body refused. No venv or no package: the test
//! fails.

use crm_shared::model::Timestamp;
use crm_shared::webhooks::signature::{self, Secret, Signers, WebhookHeaders};
use serde_json::{Value, json};
use std::io::Write;
use std::process::{Command, Stdio};

/// Reads `{"body", "headers", "secrets"}` on stdin and prints, per secret, "ok" or why
/// `Webhook(secret).verify(body, headers)` refused.
const VERIFY: &str = r#"
import json, sys
from standardwebhooks import Webhook, WebhookVerificationError
case = json.load(sys.stdin)
body = case["body"].encode("utf-8")
results = []
for secret in case["secrets"]:
    try:
        Webhook(secret).verify(body, case["headers"])
        results.append("ok")
    except WebhookVerificationError as e:
        results.append("refused: " + str(e))
print(json.dumps(results))
"#;

/// What `standardwebhooks` says of `body` with `headers`, for each of `secrets`.
fn verify(body: &str, headers: &WebhookHeaders, secrets: &[&Secret]) -> Vec<String> {
    let headers: serde_json::Map<String, Value> = headers
        .pairs()
        .iter()
        .map(|(name, value)| ((*name).to_owned(), json!(value)))
        .collect();
    let case = json!({
        "body": body,
        "headers": headers,
        "secrets": secrets.iter().map(|s| s.reveal()).collect::<Vec<_>>(),
    });
    let mut child = Command::new(crm_tests::venv_python())
        .args(["-c", VERIFY])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("the venv's python starts");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(case.to_string().as_bytes())
        .expect("writing the case");
    let out = child.wait_with_output().expect("python ends");
    assert!(
        out.status.success(),
        "the verifier failed (is standardwebhooks in the venv? scripts/with-emulators installs it): {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("the verifier prints a JSON list")
}

/// An event as the dispatcher sends it, with text beyond ASCII.
fn event_body() -> String {
    json!({
        "id": "evt_01JD6E2Q7M0000000000000000",
        "type": "ticket.updated",
        "timestamp": "2026-12-06T12:00:00.000Z",
        "data": {
            "actor": "engineer1",
            "ticket": {"_id": "t1", "title": "Imprimante cassée — erreur 254 ✓", "version": 2},
            "changes": {"status": {"from": "OPEN", "to": "CLOSED"}}
        }
    })
    .to_string()
}

fn sign(signers: Signers<'_>, body: &str) -> WebhookHeaders {
    signature::sign(
        signers,
        "evt_01JD6E2Q7M0000000000000000",
        Timestamp::now(),
        body.as_bytes(),
    )
    .expect("an event id signs")
}

const REFUSED: &str = "refused: No matching signature found";

#[test]
fn standardwebhooks_verifies_a_delivery_signed_with_one_secret() {
    let (secret, stranger) = (Secret::generate(), Secret::generate());
    let body = event_body();
    let headers = sign(
        Signers {
            current: &secret,
            previous: None,
        },
        &body,
    );
    assert_eq!(
        verify(&body, &headers, &[&secret, &stranger]),
        ["ok", REFUSED]
    );
}

#[test]
fn during_a_rotation_either_secret_verifies_and_after_it_only_the_new_one() {
    let (old, new, stranger) = (Secret::generate(), Secret::generate(), Secret::generate());
    let body = event_body();
    let now = Timestamp::now();
    let hour = 3600;

    let during = Signers::at(&new, Some((&old, now.plus_seconds(-hour))), now);
    let headers = sign(during, &body);
    assert_eq!(
        headers.signature.split(' ').count(),
        2,
        "{}",
        headers.signature
    );
    assert_eq!(
        verify(&body, &headers, &[&new, &old, &stranger]),
        ["ok", "ok", REFUSED]
    );

    let after = Signers::at(&new, Some((&old, now.plus_seconds(-25 * hour))), now);
    let headers = sign(after, &body);
    assert_eq!(verify(&body, &headers, &[&new, &old]), ["ok", REFUSED]);
}

#[test]
fn a_tampered_body_is_refused_by_every_secret() {
    let (old, new) = (Secret::generate(), Secret::generate());
    let body = event_body();
    let headers = sign(
        Signers {
            current: &new,
            previous: Some(&old),
        },
        &body,
    );
    let tampered = body.replace("CLOSED", "OPEN!");
    assert_ne!(tampered, body);
    assert_eq!(
        verify(&tampered, &headers, &[&new, &old]),
        [REFUSED, REFUSED]
    );
    // One byte more is tampering too.
    assert_eq!(verify(&format!("{body} "), &headers, &[&new]), [REFUSED]);
}
