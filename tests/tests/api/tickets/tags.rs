//! Tags over HTTP (SPEC §11): `tags` on POST and PUT /tickets (staff only; the whole new
//! set, lower-cased and sorted, at most 20 of 1–50 characters of `a-z 0-9 _ -`, anything
//! else a 400 naming `tags`), always in the ticket object, and `GET /tickets?tag=a&tag=b`.

use super::desk::{HttpDesk, assert_error, assert_invalid, id_of};
use serde_json::{Value, json};

fn body(title: &str, tags: Value) -> Value {
    json!({"title": title, "description": format!("About {title}"), "tags": tags})
}

#[tokio::test]
async fn staff_tag_on_create_and_update_a_customer_is_refused() {
    let d = HttpDesk::new().await;
    let cust = d.customer("cust").await;
    let eng = d.engineer("eng").await;
    let r = d
        .post_ticket(&eng, body("Printer", json!(["VIP", " printer ", "vip"])))
        .await;
    r.expect(201);
    assert_eq!(r.data()["tags"], json!(["printer", "vip"]));
    let id = id_of(r.data());
    assert_eq!(
        d.get_ticket(&eng, &id).await.data()["tags"],
        json!(["printer", "vip"])
    );
    let h = d.history(&eng, &id, "").await;
    assert!(
        h.data()[0]["changes"]
            .as_array()
            .expect("changes")
            .contains(&json!({"field": "tags", "from": null, "to": ["printer", "vip"]})),
        "{}",
        h.text
    );
    // A customer: 403 on creation (nothing created) and on update (nothing changed).
    for tags in [json!(["vip"]), json!([])] {
        let r = d.post_ticket(&cust, body("Mine", tags)).await;
        assert_error(&r, 403, "FORBIDDEN");
    }
    assert_eq!(d.all_tickets().await.len(), 1);
    let own = id_of(&d.create(&cust, "Mine").await);
    assert_eq!(d.get_ticket(&cust, &own).await.data()["tags"], json!([]));
    let r = d
        .put_ticket(&cust, &own, json!({"title": "Renamed", "tags": ["vip"]}))
        .await;
    assert_error(&r, 403, "FORBIDDEN");
    let t = d.get_ticket(&cust, &own).await.data().clone();
    assert_eq!(
        (&t["title"], &t["tags"], &t["version"]),
        (&json!("Mine"), &json!([]), &json!(1))
    );
    // The assignee sets the whole new set; the change is in the history.
    let r = d
        .put_ticket(&eng, &own, json!({"tags": ["Hardware", "a-b_1"]}))
        .await;
    r.expect(200);
    assert_eq!(r.data()["tags"], json!(["a-b_1", "hardware"]));
    let h = d.history(&cust, &own, "").await;
    assert_eq!(
        h.data()[1]["changes"],
        json!([{"field": "tags", "from": [], "to": ["a-b_1", "hardware"]}])
    );
    // The customer sees the tags.
    assert_eq!(
        d.get_ticket(&cust, &own).await.data()["tags"],
        json!(["a-b_1", "hardware"])
    );
}

#[tokio::test]
async fn bad_tags_are_400_naming_tags_and_change_nothing() {
    let d = HttpDesk::new().await;
    let cust = d.customer("cust").await;
    let eng = d.engineer("eng").await;
    let id = id_of(&d.create(&cust, "Printer").await);
    let twenty_one: Vec<String> = (0..21).map(|i| format!("t{i}")).collect();
    for bad in [
        json!("vip"),
        json!(null),
        json!({"vip": true}),
        json!([1]),
        json!(["ok", null]),
        json!([""]),
        json!(["  "]),
        json!(["a".repeat(51)]),
        json!(["two words"]),
        json!(["dot.ted"]),
        json!(["ünï"]),
        json!(["ta\tb"]),
        json!(twenty_one),
    ] {
        assert_invalid(&d.post_ticket(&eng, body("Bad", bad.clone())).await, "tags");
        assert_invalid(&d.put_ticket(&eng, &id, json!({"tags": bad})).await, "tags");
    }
    assert_eq!(d.all_tickets().await.len(), 1, "nothing created");
    let t = d.get_ticket(&eng, &id).await.data().clone();
    assert_eq!(
        (&t["tags"], &t["version"]),
        (&json!([]), &json!(1)),
        "nothing changed"
    );
    // 20 tags of 50 characters are fine.
    let twenty: Vec<String> = (0..20)
        .map(|i| format!("{i:02}{}", "x".repeat(48)))
        .collect();
    let r = d.put_ticket(&eng, &id, json!({"tags": twenty})).await;
    r.expect(200);
    assert_eq!(r.data()["tags"].as_array().map(Vec::len), Some(20));
}

#[tokio::test]
async fn listing_by_tags_every_given_tag_scoped() {
    let d = HttpDesk::new().await;
    let cust = d.customer("cust").await;
    let other = d.customer("other").await;
    let eng = d.engineer("eng").await;
    let a = id_of(&d.create(&cust, "a").await);
    let b = id_of(&d.create(&other, "b").await);
    let c = id_of(&d.create(&cust, "c").await);
    for (id, tags) in [
        (&a, json!(["vip", "printer"])),
        (&b, json!(["vip", "printer"])),
        (&c, json!(["vip"])),
    ] {
        d.put_ticket(&eng, id, json!({"tags": tags}))
            .await
            .expect(200);
    }
    for (token, query, want) in [
        (&d.admin, "tag=vip", vec![&a, &b, &c]),
        (&d.admin, "tag=VIP&tag=printer", vec![&a, &b]),
        (&d.admin, "tag=printer&tag=vip&tag=printer", vec![&a, &b]),
        (&d.admin, "tag=nothing", vec![]),
        (&d.admin, "tag=vip&reporter=cust", vec![&a, &c]),
        (&d.admin, "tag=vip&status=OPEN", vec![&a, &b, &c]),
        (&cust, "tag=vip", vec![&a, &c]),
        (&cust, "tag=vip&tag=printer", vec![&a]),
        (&other, "tag=vip", vec![&b]),
        (&eng, "tag=printer", vec![&a, &b]),
    ] {
        let (_, got) = d.walk(token, query, 1).await;
        let want: Vec<String> = want.into_iter().cloned().collect();
        assert_eq!(got, want, "{query}");
    }
    // Bad tags in the query: 400 INVALID_QUERY naming `tag`; other parameters still may not
    // repeat.
    let many: Vec<String> = (0..21).map(|i| format!("tag=t{i}")).collect();
    for q in [
        "tag=".to_owned(),
        "tag=a%20b".to_owned(),
        format!("tag={}", "a".repeat(51)),
        "tag=ok&tag=%C3%BC".to_owned(),
        many.join("&"),
    ] {
        let r = d.list(&d.admin, &q).await;
        assert_error(&r, 400, "INVALID_QUERY");
        assert_eq!(r.body["field"], "tag", "{q}: {}", r.text);
    }
    assert_error(
        &d.list(&d.admin, "tag=vip&status=OPEN&status=CLOSED").await,
        400,
        "INVALID_QUERY",
    );
    // A nextToken is for its tags only.
    let r = d.list(&d.admin, "tag=vip&limit=1").await;
    let token = r.body["nextToken"].as_str().expect("more").to_owned();
    let r = d
        .list(
            &d.admin,
            &format!("tag=printer&limit=1&nextToken={}", super::desk::enc(&token)),
        )
        .await;
    assert_error(&r, 400, "INVALID_NEXT_TOKEN");
}
