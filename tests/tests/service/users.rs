//! The users and auth use cases (SPEC §2) called directly, on the embedded backend: sign-up, sign-in (one answer for an unknown user
//! and a wrong password, the lock, clearing), user updates (type and status rules, the last
//! admin) and the default admin.

use crate::store::{email, uid};
use crm_shared::ApiError;
use crm_shared::ErrorCode;
use crm_shared::config::Secret;
use crm_shared::model::{Name, Password, UserStatus, UserType};
use crm_shared::service::{
    self, Authed, Ctx, DEFAULT_ADMIN, SigninInput, SignupInput, UserUpdate, UserView,
};
use crm_shared::store::{SigninFailures, UserFilter};

use UserStatus::{Approved, Pending, Rejected};
use UserType::{Admin, Customer, Engineer};

const PASSWORD: &str = "crmService@1";

fn ctx() -> Ctx {
    Ctx::new(
        crm_tests::emulator::sqlite_store(),
        &Secret::new("x".repeat(40)),
        3600,
        4,
    )
}

fn signup_input(id: &str, t: UserType) -> SignupInput {
    SignupInput {
        name: Name::parse(&format!("Name {id}")).expect("name"),
        user_id: uid(id),
        email: email(&format!("{id}@example.com")),
        password: Password::parse(PASSWORD).expect("password"),
        user_type: t,
    }
}

async fn signup(ctx: &Ctx, id: &str, t: UserType) -> UserView {
    service::signup(ctx, signup_input(id, t))
        .await
        .unwrap_or_else(|e| panic!("signup {id}: {e}"))
}

async fn signin(ctx: &Ctx, id: &str, password: &str) -> Result<service::SigninView, ApiError> {
    service::signin(
        ctx,
        SigninInput {
            user_id: id.into(),
            password: password.into(),
        },
    )
    .await
}

/// Signs in and returns who the token says the caller is, as a handler would.
async fn login(ctx: &Ctx, id: &str) -> Authed {
    let view = signin(ctx, id, PASSWORD)
        .await
        .unwrap_or_else(|e| panic!("signin {id}: {e}"));
    let claims = ctx
        .tokens
        .verify(&view.access_token)
        .expect("token verifies");
    Authed {
        id: uid(&claims.id),
        claims,
    }
}

/// The seed's default admin, signed in.
async fn admin(ctx: &Ctx) -> Authed {
    assert!(
        service::ensure_default_admin(ctx)
            .await
            .expect("default admin")
    );
    login(ctx, DEFAULT_ADMIN.0).await
}

fn change(t: Option<UserType>, s: Option<UserStatus>) -> UserUpdate {
    UserUpdate {
        user_type: t,
        user_status: s,
        ..UserUpdate::default()
    }
}

async fn update(
    ctx: &Ctx,
    who: &Authed,
    target: &str,
    c: UserUpdate,
) -> Result<UserView, ApiError> {
    service::update_user(ctx, who, target, c).await
}

fn ts(v: &UserView) -> (UserType, UserStatus) {
    (v.user_type, v.user_status)
}

#[tokio::test]
async fn signup_starts_customers_approved_and_engineers_pending() {
    let ctx = ctx();
    let c = signup(&ctx, "cust", Customer).await;
    assert_eq!(ts(&c), (Customer, Approved));
    assert_eq!(c.tickets_working_on_count, None);
    let e = signup(&ctx, "eng", Engineer).await;
    assert_eq!(ts(&e), (Engineer, Pending));
    assert_eq!(e.tickets_working_on_count, Some(0));
    let stored = ctx
        .store
        .get_user(&uid("eng"))
        .await
        .expect("get")
        .expect("stored");
    assert_eq!(UserView::from(&stored), e);
    assert_ne!(stored.password_hash, PASSWORD);
    assert!(stored.password_hash.starts_with("$2b$04$"));
}

#[tokio::test]
async fn signup_as_admin_is_refused_and_stores_nothing() {
    let ctx = ctx();
    let err = service::signup(&ctx, signup_input("boss", Admin))
        .await
        .expect_err("admin signup");
    assert_eq!(err.code, ErrorCode::AdminSignupNotAllowed);
    assert_eq!(
        err.message,
        "User registration as ADMIN userType not allowed."
    );
    assert_eq!(ctx.store.get_user(&uid("boss")).await, Ok(None));
}

#[tokio::test]
async fn signup_with_a_taken_user_id_or_email_conflicts() {
    let ctx = ctx();
    signup(&ctx, "ann", Customer).await;
    let mut dup_id = signup_input("ann", Engineer);
    dup_id.email = email("fresh@example.com");
    let err = service::signup(&ctx, dup_id).await.expect_err("dup id");
    assert_eq!(err.code, ErrorCode::UserIdTaken);
    let mut dup_email = signup_input("bob", Customer);
    dup_email.email = email("ANN@Example.com");
    let err = service::signup(&ctx, dup_email)
        .await
        .expect_err("dup email");
    assert_eq!(err.code, ErrorCode::EmailTaken);
    assert_eq!(ctx.store.get_user(&uid("bob")).await, Ok(None));
}

#[tokio::test]
async fn signin_returns_the_user_and_a_token_for_it() {
    let ctx = ctx();
    let c = signup(&ctx, "cust", Customer).await;
    let view = signin(&ctx, "cust", PASSWORD).await.expect("signin");
    assert_eq!(view.user, c);
    let claims = ctx.tokens.verify(&view.access_token).expect("verifies");
    assert_eq!((claims.id.as_str(), claims.sub.as_str()), ("cust", "cust"));
    assert_eq!(claims.exp - claims.iat, 3600);
    assert_eq!(claims.user_type, Some(Customer));
    // userIds are case-sensitive.
    assert_eq!(
        signin(&ctx, "Cust", PASSWORD)
            .await
            .map(|_| ())
            .unwrap_err()
            .status(),
        401
    );
}

#[tokio::test]
async fn unknown_user_and_wrong_password_get_one_and_the_same_answer() {
    let ctx = ctx();
    signup(&ctx, "ann", Customer).await;
    let wrong = signin(&ctx, "ann", "crmService@2")
        .await
        .expect_err("wrong");
    let unknown = signin(&ctx, "nobody", PASSWORD).await.expect_err("unknown");
    // A userId that cannot exist takes the decoy path without a store read.
    let impossible = signin(&ctx, "no such/user", PASSWORD)
        .await
        .expect_err("bad id");
    assert_eq!(wrong.code, ErrorCode::InvalidCredentials);
    for other in [&unknown, &impossible] {
        assert_eq!(
            (
                other.status(),
                other.code,
                &other.message,
                other.field,
                other.retry_after
            ),
            (
                wrong.status(),
                wrong.code,
                &wrong.message,
                wrong.field,
                wrong.retry_after
            )
        );
    }
    // An empty password is a missing one (SPEC §2: 400): no check, nothing counted.
    let empty = signin(&ctx, "ann", "").await.expect_err("empty password");
    assert_eq!((empty.status(), empty.field), (400, Some("password")));
    // The unknown userId's failures are counted like a real one's.
    let f = |id: &'static str| {
        let ctx = &ctx;
        async move { ctx.store.get_signin_failures(&uid(id)).await.expect("get") }
    };
    assert_eq!(f("ann").await.map(|f| (f.count, f.failures)), Some((1, 1)));
    assert_eq!(
        f("nobody").await.map(|f| (f.count, f.failures)),
        Some((1, 1))
    );
}

#[tokio::test]
async fn an_unapproved_user_is_told_only_after_the_right_password() {
    let ctx = ctx();
    signup(&ctx, "eng", Engineer).await;
    let err = signin(&ctx, "eng", "crmService@2")
        .await
        .expect_err("wrong");
    assert_eq!(err.status(), 401);
    let err = signin(&ctx, "eng", PASSWORD).await.expect_err("pending");
    assert_eq!(err.code, ErrorCode::UserNotApproved);
    assert_eq!(
        err.message,
        "UserStatus is not approved yet. Current userStatus is - PENDING"
    );
}

#[tokio::test]
async fn five_failures_lock_the_user_id_even_for_the_right_password() {
    let ctx = ctx();
    signup(&ctx, "ann", Customer).await;
    for i in 0..SigninFailures::LIMIT {
        let e = signin(&ctx, "ann", "crmService@2")
            .await
            .expect_err("wrong");
        assert_eq!(e.status(), 401, "failure {i}");
    }
    let e = signin(&ctx, "ann", PASSWORD).await.expect_err("locked");
    assert_eq!(e.status(), 429);
    let wait = e.retry_after.expect("Retry-After");
    assert!((1..=900).contains(&wait), "{wait}");
    // The same for a userId that does not exist.
    for _ in 0..SigninFailures::LIMIT {
        signin(&ctx, "ghost", PASSWORD).await.expect_err("unknown");
    }
    assert_eq!(
        signin(&ctx, "ghost", PASSWORD)
            .await
            .map(|_| ())
            .unwrap_err()
            .status(),
        429
    );
    // Others are unaffected.
    signup(&ctx, "bob", Customer).await;
    signin(&ctx, "bob", PASSWORD).await.expect("bob");
}

#[tokio::test]
async fn a_right_password_gives_back_its_attempt_and_keeps_the_failures() {
    let ctx = ctx();
    signup(&ctx, "ann", Customer).await;
    for _ in 0..SigninFailures::LIMIT - 1 {
        signin(&ctx, "ann", "crmService@2")
            .await
            .expect_err("wrong");
    }
    // Right passwords never lock anyone out...
    for _ in 0..3 {
        signin(&ctx, "ann", PASSWORD).await.expect("right");
    }
    assert_eq!(
        ctx.store
            .get_signin_failures(&uid("ann"))
            .await
            .expect("get")
            .map(|f| f.count),
        Some(SigninFailures::LIMIT - 1)
    );
    // ...but do not wipe out the failures either: one more wrong one locks the window.
    signin(&ctx, "ann", "crmService@2")
        .await
        .expect_err("wrong");
    let e = signin(&ctx, "ann", PASSWORD).await.expect_err("locked");
    assert_eq!(e.status(), 429);
}

/// Issue 11 item 1: 60 wrong passwords at once for one userId. At most five passwords are
/// checked (bcrypt runs at most five times), every other answer is 429 without a check, and
/// the right password, after the fifth failure, is refused too.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_burst_of_concurrent_signins_checks_at_most_five_passwords() {
    let ctx = std::sync::Arc::new(ctx());
    signup(&ctx, "ann", Customer).await;
    let before = ctx.passwords.checks();
    let barrier = std::sync::Arc::new(tokio::sync::Barrier::new(60));
    let mut set = tokio::task::JoinSet::new();
    for _ in 0..60 {
        let (ctx, b) = (ctx.clone(), barrier.clone());
        set.spawn(async move {
            b.wait().await;
            signin(&ctx, "ann", "crmService@2").await.map(|_| ())
        });
    }
    let mut statuses = Vec::new();
    while let Some(r) = set.join_next().await {
        statuses.push(r.expect("task").expect_err("wrong password").status());
    }
    let wrong = statuses.iter().filter(|s| **s == 401).count();
    assert_eq!(wrong + statuses.iter().filter(|s| **s == 429).count(), 60);
    assert_eq!(wrong, 5, "{statuses:?}");
    assert_eq!(ctx.passwords.checks() - before, 5, "bcrypt runs");
    let e = signin(&ctx, "ann", PASSWORD).await.map(|_| ()).unwrap_err();
    assert_eq!(e.status(), 429);
    assert_eq!(ctx.passwords.checks() - before, 5, "no check when locked");
}

#[tokio::test]
async fn type_changes_set_the_status_the_spec_says() {
    let ctx = ctx();
    let root = admin(&ctx).await;
    signup(&ctx, "u", Customer).await;
    let me = login(&ctx, "u").await;
    // (who, body, resulting type and status)
    let steps: Vec<(&Authed, UserUpdate, (UserType, UserStatus))> = vec![
        // Self: customer → engineer needs approval.
        (&me, change(Some(Engineer), None), (Engineer, Pending)),
        // Admin approves.
        (&root, change(None, Some(Approved)), (Engineer, Approved)),
        // Sending the current type is no change.
        (&root, change(Some(Engineer), None), (Engineer, Approved)),
        // Becoming a customer means approved.
        (&root, change(Some(Customer), None), (Customer, Approved)),
        // Admin makes an admin and approves it in one request.
        (
            &root,
            change(Some(Admin), Some(Approved)),
            (Admin, Approved),
        ),
        // An explicit status wins over the type's initial one.
        (
            &root,
            change(Some(Customer), Some(Rejected)),
            (Customer, Rejected),
        ),
        (&root, change(Some(Engineer), None), (Engineer, Pending)),
        (&root, change(None, Some(Rejected)), (Engineer, Rejected)),
    ];
    for (i, (who, body, want)) in steps.into_iter().enumerate() {
        let v = update(&ctx, who, "u", body)
            .await
            .unwrap_or_else(|e| panic!("step {i}: {e}"));
        assert_eq!(ts(&v), want, "step {i}");
        let stored = ctx
            .store
            .get_user(&uid("u"))
            .await
            .expect("get")
            .expect("user");
        assert_eq!(
            (stored.user_type, stored.user_status),
            want,
            "step {i}: stored"
        );
    }
}

#[tokio::test]
async fn an_approved_engineer_is_assignable_and_leaves_when_changed() {
    let ctx = ctx();
    let root = admin(&ctx).await;
    signup(&ctx, "eng", Engineer).await;
    assert_eq!(ctx.store.least_loaded_engineer().await, Ok(None));
    update(&ctx, &root, "eng", change(None, Some(Approved)))
        .await
        .expect("approve");
    let least = ctx
        .store
        .least_loaded_engineer()
        .await
        .expect("least")
        .map(|u| u.user_id);
    assert_eq!(least, Some(uid("eng")));
    update(&ctx, &root, "eng", change(Some(Customer), None))
        .await
        .expect("to customer");
    assert_eq!(ctx.store.least_loaded_engineer().await, Ok(None));
}

#[tokio::test]
async fn only_an_admin_changes_status_and_only_admin_or_self_updates() {
    let ctx = ctx();
    admin(&ctx).await;
    signup(&ctx, "a", Customer).await;
    signup(&ctx, "b", Customer).await;
    let a = login(&ctx, "a").await;
    let e = update(&ctx, &a, "a", change(None, Some(Approved)))
        .await
        .expect_err("status");
    assert_eq!(e.status(), 403);
    let e = update(
        &ctx,
        &a,
        "b",
        UserUpdate {
            name: Some(Name::parse("B").expect("name")),
            ..UserUpdate::default()
        },
    )
    .await
    .expect_err("other user");
    assert_eq!(e.status(), 403);
    // Self rename works; sending the own email back is fine, another one is refused.
    let v = update(
        &ctx,
        &a,
        "a",
        UserUpdate {
            name: Some(Name::parse("New A").expect("name")),
            email: Some(email("A@example.com")),
            ..UserUpdate::default()
        },
    )
    .await
    .expect("rename");
    assert_eq!(v.name, "New A");
    let e = update(
        &ctx,
        &a,
        "a",
        UserUpdate {
            email: Some(email("other@example.com")),
            ..UserUpdate::default()
        },
    )
    .await
    .expect_err("email change");
    assert_eq!((e.status(), e.field), (400, Some("email")));
}

#[tokio::test]
async fn a_rejected_user_loses_access_at_once() {
    let ctx = ctx();
    let root = admin(&ctx).await;
    signup(&ctx, "a", Customer).await;
    let a = login(&ctx, "a").await;
    update(&ctx, &root, "a", change(None, Some(Rejected)))
        .await
        .expect("reject");
    let e = service::get_user(&ctx, &a, "a")
        .await
        .expect_err("rejected");
    assert_eq!(e.code, ErrorCode::UserNotApproved);
}

#[tokio::test]
async fn the_last_admin_cannot_demote_pend_or_reject_themself() {
    let ctx = ctx();
    let root = admin(&ctx).await;
    let me = DEFAULT_ADMIN.0;
    for body in [
        change(None, Some(Pending)),
        change(None, Some(Rejected)),
        change(Some(Engineer), None),
        change(Some(Customer), Some(Approved)),
    ] {
        let e = update(&ctx, &root, me, body.clone())
            .await
            .expect_err("last admin");
        assert_eq!(e.code, ErrorCode::LastAdmin, "{body:?}");
    }
    let stored = ctx
        .store
        .get_user(&uid(me))
        .await
        .expect("get")
        .expect("admin");
    assert_eq!(
        (stored.user_type, stored.user_status, stored.version),
        (Admin, Approved, 1)
    );
    assert_eq!(ctx.store.approved_admin_count().await, Ok(1));
    // With a second approved admin, the first may step down; then the second may not.
    signup(&ctx, "two", Customer).await;
    update(&ctx, &root, "two", change(Some(Admin), Some(Approved)))
        .await
        .expect("promote");
    let two = login(&ctx, "two").await;
    update(&ctx, &root, me, change(Some(Engineer), None))
        .await
        .expect("step down");
    let e = update(&ctx, &two, "two", change(None, Some(Pending)))
        .await
        .expect_err("last");
    assert_eq!(e.code, ErrorCode::LastAdmin);
    assert_eq!(ctx.store.approved_admin_count().await, Ok(1));
}

#[tokio::test]
async fn ensure_default_admin_is_idempotent() {
    let ctx = ctx();
    assert_eq!(service::ensure_default_admin(&ctx).await, Ok(true));
    assert_eq!(service::ensure_default_admin(&ctx).await, Ok(false));
    assert_eq!(service::ensure_default_admin(&ctx).await, Ok(false));
    assert_eq!(ctx.store.approved_admin_count().await, Ok(1));
    let (id, pw, mail, name) = DEFAULT_ADMIN;
    let stored = ctx
        .store
        .get_user(&uid(id))
        .await
        .expect("get")
        .expect("admin");
    assert_eq!(
        (
            stored.email.as_str(),
            stored.name.as_str(),
            stored.user_type,
            stored.user_status
        ),
        (mail, name, Admin, Approved)
    );
    let view = signin(&ctx, id, pw).await.expect("default admin signs in");
    assert_eq!(view.user.user_type, Admin);
    let all = ctx
        .store
        .list_users(UserFilter::default(), None, 10)
        .await
        .expect("list");
    assert_eq!(all.items.len(), 1);
}

#[tokio::test]
async fn ensure_default_admin_leaves_an_existing_admin_user_id_alone() {
    let ctx = ctx();
    // Someone signed up as "admin" before the server first started.
    signup(&ctx, DEFAULT_ADMIN.0, Customer).await;
    assert_eq!(service::ensure_default_admin(&ctx).await, Ok(false));
    let stored = ctx
        .store
        .get_user(&uid(DEFAULT_ADMIN.0))
        .await
        .expect("get")
        .expect("user");
    assert_eq!((stored.user_type, stored.user_status), (Customer, Approved));
    assert_eq!(ctx.store.approved_admin_count().await, Ok(0));
}

#[tokio::test]
async fn an_existing_approved_admin_means_no_default_admin() {
    let ctx = ctx();
    service::create_admin(
        &ctx.store,
        &ctx.passwords,
        uid("ops"),
        Name::parse("Ops").expect("name"),
        email("ops@example.com"),
        &Password::parse(PASSWORD).expect("password"),
    )
    .await
    .expect("create admin");
    assert_eq!(service::ensure_default_admin(&ctx).await, Ok(false));
    assert_eq!(ctx.store.get_user(&uid(DEFAULT_ADMIN.0)).await, Ok(None));
}
