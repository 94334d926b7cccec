//! Accounts (SPEC §2, issue 14) at the service level, on both backends: a password change,
//! an admin's reset and a sign-out each revoke every older token (401 TOKEN_REVOKED); the old
//! password stops working and the new one works; rights come before existence; wrong
//! current passwords count toward the sign-in lock-out; of concurrent changes exactly one
//! wins and no older token survives.

use super::{email, uid};
use crm_shared::ApiError;
use crm_shared::ErrorCode;
use crm_shared::config::Secret;
use crm_shared::model::{Name, Password, UserType};
use crm_shared::service::{self, Authed, Ctx, PasswordChange, SigninInput, SignupInput};
use crm_shared::store::Store;
use std::sync::Arc;

crm_tests::on_both_backends!(
    a_change_a_reset_and_a_signout_each_revoke_older_tokens,
    the_old_password_is_refused_and_the_new_one_works,
    rights_come_before_existence,
    wrong_current_passwords_lock_the_user_id_after_five,
    a_change_clears_the_failed_signins,
    new_passwords_follow_the_rules_and_self_needs_the_current_one,
    the_operator_reset_revokes_tokens_too,
    #[concurrent]
    concurrent_changes_leave_one_winner_and_no_usable_older_token,
);

const PASSWORD: &str = "crmService@1";
const NEW: &str = "n3w-Secret-pw";

fn ctx(store: Store) -> Ctx {
    Ctx::new(store, &Secret::new("x".repeat(40)), 3600, 4)
}

async fn signup(ctx: &Ctx, id: &str, t: UserType) {
    service::signup(
        ctx,
        SignupInput {
            name: Name::parse(id).expect("name"),
            user_id: uid(id),
            email: email(&format!("{id}@example.com")),
            password: Password::parse(PASSWORD).expect("password"),
            user_type: t,
        },
    )
    .await
    .unwrap_or_else(|e| panic!("signup {id}: {e}"));
}

async fn signin(ctx: &Ctx, id: &str, pw: &str) -> Result<Authed, ApiError> {
    let view = service::signin(
        ctx,
        SigninInput {
            user_id: id.into(),
            password: pw.into(),
        },
    )
    .await?;
    let claims = ctx.tokens.verify(&view.access_token).expect("verifies");
    Ok(Authed {
        id: uid(&claims.id),
        claims,
    })
}

async fn login(ctx: &Ctx, id: &str) -> Authed {
    signin(ctx, id, PASSWORD)
        .await
        .unwrap_or_else(|e| panic!("signin {id}: {e}"))
}

async fn admin(ctx: &Ctx) -> Authed {
    assert!(service::ensure_default_admin(ctx).await.expect("admin"));
    login(ctx, "admin").await
}

fn own(current: &str, new: &str) -> PasswordChange {
    PasswordChange {
        current: Some(current.into()),
        new: Password::parse_field("newPassword", new).expect("new password"),
    }
}

fn reset(new: &str) -> PasswordChange {
    PasswordChange {
        current: None,
        new: Password::parse_field("newPassword", new).expect("new password"),
    }
}

/// What a request with this token gets: Ok, or the status and code it is refused with.
async fn works(ctx: &Ctx, who: &Authed) -> Result<(), (u16, &'static str)> {
    service::get_user(ctx, who, who.id.as_str())
        .await
        .map(|_| ())
        .map_err(|e| (e.status(), e.code.as_str()))
}

const REVOKED: Result<(), (u16, &str)> = Err((401, "TOKEN_REVOKED"));

async fn a_change_a_reset_and_a_signout_each_revoke_older_tokens(store: Store) {
    let ctx = ctx(store);
    let root = admin(&ctx).await;
    signup(&ctx, "ann", UserType::Customer).await;

    // Two devices; the change made on one revokes both.
    let (phone, laptop) = (login(&ctx, "ann").await, login(&ctx, "ann").await);
    service::change_password(&ctx, &phone, "ann", own(PASSWORD, NEW))
        .await
        .expect("change");
    assert_eq!(works(&ctx, &phone).await, REVOKED);
    assert_eq!(works(&ctx, &laptop).await, REVOKED);
    let fresh = signin(&ctx, "ann", NEW).await.expect("new password");
    assert_eq!(works(&ctx, &fresh).await, Ok(()));

    // An admin's reset.
    service::change_password(&ctx, &root, "ann", reset(PASSWORD))
        .await
        .expect("reset");
    assert_eq!(works(&ctx, &fresh).await, REVOKED);
    assert_eq!(works(&ctx, &root).await, Ok(()), "the admin's own token");
    let again = login(&ctx, "ann").await;

    // Sign-out everywhere.
    let other = login(&ctx, "ann").await;
    service::signout(&ctx, &again).await.expect("signout");
    assert_eq!(works(&ctx, &again).await, REVOKED);
    assert_eq!(works(&ctx, &other).await, REVOKED);
    let e = service::signout(&ctx, &again).await.expect_err("revoked");
    assert_eq!(e.code, ErrorCode::TokenRevoked);
    assert_eq!(works(&ctx, &login(&ctx, "ann").await).await, Ok(()));
}

async fn the_old_password_is_refused_and_the_new_one_works(store: Store) {
    let ctx = ctx(store);
    signup(&ctx, "ann", UserType::Customer).await;
    let me = login(&ctx, "ann").await;
    service::change_password(&ctx, &me, "ann", own(PASSWORD, NEW))
        .await
        .expect("change");
    let e = signin(&ctx, "ann", PASSWORD).await.expect_err("old");
    assert_eq!(e.code, ErrorCode::InvalidCredentials);
    signin(&ctx, "ann", NEW).await.expect("new");
}

async fn rights_come_before_existence(store: Store) {
    let ctx = ctx(store);
    let root = admin(&ctx).await;
    signup(&ctx, "ann", UserType::Customer).await;
    signup(&ctx, "bob", UserType::Customer).await;
    let bob = login(&ctx, "bob").await;
    for target in ["ann", "nobody", "no such/user"] {
        let e = service::change_password(&ctx, &bob, target, reset(NEW))
            .await
            .expect_err(target);
        assert_eq!(e.code, ErrorCode::Forbidden, "{target}");
        let e = service::change_password(&ctx, &bob, target, own(PASSWORD, NEW))
            .await
            .expect_err(target);
        assert_eq!(e.code, ErrorCode::Forbidden, "{target}");
    }
    // Ann's password is untouched; an admin gets 404 for someone who does not exist.
    login(&ctx, "ann").await;
    let e = service::change_password(&ctx, &root, "nobody", reset(NEW))
        .await
        .expect_err("unknown");
    assert_eq!(e.code, ErrorCode::UserNotFound);
}

async fn wrong_current_passwords_lock_the_user_id_after_five(store: Store) {
    let ctx = ctx(store);
    signup(&ctx, "ann", UserType::Customer).await;
    let me = login(&ctx, "ann").await;
    for i in 0..5 {
        let e = service::change_password(&ctx, &me, "ann", own("Wrong-Password-1", NEW))
            .await
            .expect_err("wrong");
        assert_eq!(e.code, ErrorCode::WrongPassword, "attempt {i}");
    }
    // Now even the right current password is refused, and so is a sign-in.
    let e = service::change_password(&ctx, &me, "ann", own(PASSWORD, NEW))
        .await
        .expect_err("locked");
    assert_eq!(e.status(), 429);
    assert!(e.retry_after.is_some());
    assert_eq!(
        signin(&ctx, "ann", PASSWORD)
            .await
            .map(|_| ())
            .unwrap_err()
            .status(),
        429
    );
    // The token itself still works: only the password checks are locked.
    assert_eq!(works(&ctx, &me).await, Ok(()));
}

async fn a_change_clears_the_failed_signins(store: Store) {
    let ctx = ctx(store);
    signup(&ctx, "ann", UserType::Customer).await;
    let me = login(&ctx, "ann").await;
    for _ in 0..4 {
        signin(&ctx, "ann", "Wrong-Password-1")
            .await
            .map(|_| ())
            .unwrap_err();
    }
    service::change_password(&ctx, &me, "ann", own(PASSWORD, NEW))
        .await
        .expect("change");
    assert_eq!(ctx.store.get_signin_failures(&uid("ann")).await, Ok(None));
    for _ in 0..4 {
        signin(&ctx, "ann", "Wrong-Password-1")
            .await
            .map(|_| ())
            .unwrap_err();
    }
    signin(&ctx, "ann", NEW).await.expect("not locked");
}

async fn new_passwords_follow_the_rules_and_self_needs_the_current_one(store: Store) {
    let ctx = ctx(store);
    signup(&ctx, "ann", UserType::Customer).await;
    let me = login(&ctx, "ann").await;
    let weak = Password::parse_field("newPassword", "short").expect_err("weak");
    assert_eq!(weak.field, "newPassword");
    assert!(weak.message.contains("newPassword"), "{}", weak.message);
    let e = service::change_password(&ctx, &me, "ann", reset(NEW))
        .await
        .expect_err("no current password");
    assert_eq!((e.status(), e.field), (400, Some("currentPassword")));
    assert_eq!(works(&ctx, &me).await, Ok(()), "nothing changed");
    login(&ctx, "ann").await;
}

async fn the_operator_reset_revokes_tokens_too(store: Store) {
    let ctx = ctx(store);
    signup(&ctx, "ann", UserType::Customer).await;
    let me = login(&ctx, "ann").await;
    service::set_password_by_id(
        &ctx.store,
        &ctx.passwords,
        &uid("ann"),
        &Password::parse(NEW).expect("pw"),
    )
    .await
    .expect("set");
    assert_eq!(works(&ctx, &me).await, REVOKED);
    signin(&ctx, "ann", NEW).await.expect("new");
    let e = service::set_password_by_id(
        &ctx.store,
        &ctx.passwords,
        &uid("nobody"),
        &Password::parse(NEW).expect("pw"),
    )
    .await
    .expect_err("unknown");
    assert_eq!(e.status(), 404);
}

async fn concurrent_changes_leave_one_winner_and_no_usable_older_token(store: Store) {
    let ctx = Arc::new(ctx(store));
    signup(&ctx, "ann", UserType::Customer).await;
    let old = login(&ctx, "ann").await;
    let candidates = [
        "Alpha-pass-1",
        "Bravo-pass-2",
        "Charlie-pass-3",
        "Delta-pass-4",
    ];
    let barrier = Arc::new(tokio::sync::Barrier::new(candidates.len()));
    let mut set = tokio::task::JoinSet::new();
    for pw in candidates {
        let (ctx, old, b) = (ctx.clone(), old.clone(), barrier.clone());
        set.spawn(async move {
            b.wait().await;
            (
                pw,
                service::change_password(&ctx, &old, "ann", own(PASSWORD, pw)).await,
            )
        });
    }
    let mut winners = Vec::new();
    while let Some(r) = set.join_next().await {
        match r.expect("task") {
            (pw, Ok(())) => winners.push(pw),
            (_, Err(e)) => assert!(
                matches!(e.code, ErrorCode::Conflict | ErrorCode::TokenRevoked),
                "{e:?}"
            ),
        }
    }
    assert_eq!(winners.len(), 1, "{winners:?}");
    assert_eq!(works(&ctx, &old).await, REVOKED);
    signin(&ctx, "ann", winners[0])
        .await
        .expect("the winner's password");
    for pw in candidates.iter().filter(|p| **p != winners[0]) {
        assert_eq!(
            signin(&ctx, "ann", pw)
                .await
                .map(|_| ())
                .unwrap_err()
                .status(),
            401
        );
    }
}
