//! The access-control matrix (SPEC §1–§3, §7, §11): every route of the API × fifteen callers × four
//! targets, over HTTP against one `crm serve`. The expected status of each cell is written
//! out below from SPEC, not computed from the product's policy code; the same table is
//! rendered into docs/RELIABILITY.md (between the `matrix` markers) and the test fails when
//! the document differs (`RELIABILITY_BLESS=1` rewrites it).
//!
//! Precedence where SPEC states no order (documented in docs/RELIABILITY.md): a missing token
//! is 401; then the request's shape (body, query, a malformed ticket id) is 400; then a caller
//! who is not APPROVED at request time is 403; then the role rules; then existence (404).
//! A userId in a path is never "malformed": one that no user can have is an unknown userId
//! (403 for non-admins, before existence; 404 for an admin).

use super::support::*;
use crm_tests::{Client, Resp, ServerOptions};
use serde_json::{Value, json};
use std::collections::BTreeMap;

/// The callers, in the matrix's row order.
const CALLERS: [&str; 15] = [
    "anonymous (no token)",
    "admin",
    "another approved admin",
    "approved engineer, assignee",
    "approved engineer, reporter",
    "unrelated approved engineer",
    "reporting customer",
    "another customer",
    "pending engineer",
    "rejected user",
    "engineer set PENDING after sign-in",
    "admin demoted to CUSTOMER after sign-in",
    "customer following the ticket",
    "engineer following the ticket",
    "removed follower",
];

const TARGETS: [&str; 4] = ["own", "other's", "unknown", "malformed"];

/// What each target means per route.
const TARGET_MEANING: &[(&str, [&str; 4])] = &[
    (
        "signup",
        [
            "a fresh userId",
            "a taken userId",
            "`userType: SUPERUSER`",
            "a truncated JSON body",
        ],
    ),
    (
        "signin",
        [
            "the caller's own userId and password (anonymous: a customer's)",
            "another user's userId, wrong password",
            "a userId nobody has",
            "`userId` as a number",
        ],
    ),
    (
        "listUsers",
        [
            "no filter",
            "`?userType=ENGINEER`",
            "`?userType=ADMIN&userStatus=REJECTED` (matches nobody)",
            "`?userStatus=SLEEPY`",
        ],
    ),
    (
        "getUser",
        [
            "the caller",
            "another user",
            "a userId nobody has",
            "`bad id!` (no user can have it)",
        ],
    ),
    (
        "updateUser",
        [
            "the caller, `{name}`",
            "another user, `{name}`",
            "a userId nobody has",
            "`bad id!` (no user can have it)",
        ],
    ),
    (
        "createTicket",
        [
            "title and description",
            "plus `reporter: <another user>` (ignored: the caller reports)",
            "plus `assignee: <nobody>` (ignored)",
            "`ticketPriority: \"2\"` (a string)",
        ],
    ),
    (
        "listTickets",
        [
            "no filter",
            "`?reporter=<another user>`",
            "`?assignee=<nobody>`",
            "`?status=BOGUS`",
        ],
    ),
    (
        "getTicket",
        [
            "a ticket the caller reported, is assigned or follows (a removed follower: the one they followed)",
            "a ticket they are not concerned with",
            "a well-formed id of no ticket",
            "`not-a-ticket-id`",
        ],
    ),
    (
        "updateTicket",
        [
            "as getTicket, `{description}`",
            "as getTicket, `{description}`",
            "as getTicket",
            "as getTicket",
        ],
    ),
    (
        "ticketHistory",
        [
            "as getTicket",
            "as getTicket",
            "as getTicket",
            "as getTicket",
        ],
    ),
    (
        "addComment",
        [
            "as getTicket, an internal note `{body, internal: true}`",
            "as getTicket, a public `{body}`",
            "as getTicket, a public `{body}`",
            "as getTicket, a public `{body}`",
        ],
    ),
    (
        "listComments",
        [
            "as getTicket",
            "as getTicket",
            "as getTicket",
            "as getTicket",
        ],
    ),
    (
        "createAttachmentUpload",
        [
            "as getTicket, `{fileName, contentType: text/plain, size: 5}`",
            "as getTicket, the same declaration",
            "as getTicket, the same declaration",
            "as getTicket, the same declaration",
        ],
    ),
    (
        "downloadAttachment",
        [
            "a public comment's file on the caller's own ticket (`302` to the file)",
            "one on the other ticket",
            "an attachment id no upload has, on the own ticket",
            "`not-an-attachment-id` on the own ticket",
        ],
    ),
    (
        "listEvents",
        [
            "no filter",
            "`?type=ticket.updated&limit=1000`",
            "`?since=2000-01-01T00:00:00Z` (older than the retention)",
            "`?type=TICKET_CREATED`",
        ],
    ),
    (
        "addFollower",
        [
            "as getTicket (a follower: the ticket they follow), `{userId: bystander}`",
            "as getTicket, `{userId: bystander}`",
            "as getTicket, `{userId: bystander}`",
            "as getTicket, `{userId: bystander}`",
        ],
    ),
    (
        "removeFollower",
        [
            "as getTicket, the caller themself",
            "as getTicket, `nobody-here`",
            "as getTicket, the caller themself",
            "as getTicket, the caller themself",
        ],
    ),
    (
        "createWebhook",
        [
            "a loopback URL (`crm serve` allows it), `events: [\"*\"]`",
            "`events: [\"ticket.created\"]` and a description",
            "`events: [\"ticket.deleted\"]` (no such type)",
            "`url` as a number",
        ],
    ),
    (
        "listWebhooks",
        ["no query", "`?limit=1`", "`?limit=100`", "`?limit=0`"],
    ),
    (
        "getWebhook",
        [
            "a subscription this admin made (for others: the admin's)",
            "one another admin made",
            "a well-formed id of no subscription",
            "`bad id!` (no subscription can have it)",
        ],
    ),
    (
        "updateWebhook",
        [
            "as getWebhook, `{description}`",
            "as getWebhook, `{description}`",
            "as getWebhook",
            "as getWebhook",
        ],
    ),
    (
        "deleteWebhook",
        [
            "a subscription made for the cell (removed after it when still there)",
            "a subscription deleted before",
            "a well-formed id of no subscription",
            "`bad id!`",
        ],
    ),
    (
        "rotateWebhookSecret",
        [
            "as getWebhook",
            "as getWebhook",
            "as getWebhook",
            "as getWebhook",
        ],
    ),
    (
        "listDeliveries",
        [
            "as getWebhook",
            "as getWebhook, `?status=failed`",
            "a well-formed id of no subscription",
            "as getWebhook, `?status=done`",
        ],
    ),
    (
        "retryDelivery",
        [
            "a delivery of the subscription of getWebhook",
            "the same event's delivery to the other subscription",
            "a well-formed delivery id of no delivery",
            "`bad id!` as the delivery id",
        ],
    ),
    (
        "getSla",
        [
            "the policy in force",
            "the policy in force, `?x=1` (ignored)",
            "the policy in force",
            "the policy in force",
        ],
    ),
    (
        "putSla",
        [
            "`{targets}` in calendar time",
            "`{targets, businessHours}` (Europe/Berlin, Monday 09:00-17:00)",
            "a calendar with no hours",
            "a truncated JSON body",
        ],
    ),
    (
        "rateTicket",
        [
            "as getTicket (OPEN), `{rating: good}`",
            "as getTicket, `{rating: bad}`",
            "as getTicket, `{rating: good}`",
            "as getTicket, `{rating: good}`",
        ],
    ),
    (
        "satisfactionReport",
        [
            "no query (the last 30 days)",
            "`?from=<an hour ago>&to=<now>`",
            "`?from=2000-01-01T00:00:00Z&to=2000-01-02T00:00:00Z` (no ratings)",
            "`?from=yesterday`",
        ],
    ),
    (
        "mergeTicket",
        [
            "as getTicket, `{into: <the same ticket>}`",
            "two tickets made for the cell by `cust`, both assigned to `eng-assignee`: the first `{into: <the second>}`",
            "`{into: <the caller's own ticket>}`",
            "`{into: <the caller's own ticket>}`",
        ],
    ),
    (
        "changePassword",
        [
            "the caller, a wrong `currentPassword`",
            "`bystander` (a user of no row), `{newPassword}` (a reset)",
            "a userId nobody has, `{newPassword}`",
            "the caller, a `newPassword` that breaks the rules",
        ],
    ),
    (
        "signout",
        [
            "the caller's token",
            "the same token again",
            "`x-access-token: not-a-token`",
            "the caller's token, a body that is not JSON (ignored)",
        ],
    ),
];

/// The expected status per route, caller (row order of CALLERS) and target (own, other's,
/// unknown, malformed), from SPEC.
#[rustfmt::skip]
const EXPECTED: &[(&str, [[u16; 4]; 15])] = &[
    // Public: a token is ignored. A right password with a status other than APPROVED is 403;
    // a wrong one is 401 whoever's userId it is.
    ("signup", [
        [201, 409, 400, 400], // anonymous
        [201, 409, 400, 400], // admin
        [201, 409, 400, 400], // another admin
        [201, 409, 400, 400], // engineer, assignee
        [201, 409, 400, 400], // engineer, reporter
        [201, 409, 400, 400], // unrelated engineer
        [201, 409, 400, 400], // reporting customer
        [201, 409, 400, 400], // another customer
        [201, 409, 400, 400], // pending engineer
        [201, 409, 400, 400], // rejected
        [201, 409, 400, 400], // engineer set PENDING
        [201, 409, 400, 400], // admin demoted to CUSTOMER
        [201, 409, 400, 400], // customer follower
        [201, 409, 400, 400], // engineer follower
        [201, 409, 400, 400], // removed follower
    ]),
    ("signin", [
        [200, 401, 401, 400],
        [200, 401, 401, 400],
        [200, 401, 401, 400],
        [200, 401, 401, 400],
        [200, 401, 401, 400],
        [200, 401, 401, 400],
        [200, 401, 401, 400],
        [200, 401, 401, 400],
        [403, 401, 401, 400],
        [403, 401, 401, 400],
        [403, 401, 401, 400],
        [200, 401, 401, 400],
        [200, 401, 401, 400],
        [200, 401, 401, 400],
        [200, 401, 401, 400],
    ]),
    // Approved ADMIN only; an invalid filter is 400 for any signed-in caller.
    ("listUsers", [
        [401, 401, 401, 401],
        [200, 200, 200, 400],
        [200, 200, 200, 400],
        [403, 403, 403, 400],
        [403, 403, 403, 400],
        [403, 403, 403, 400],
        [403, 403, 403, 400],
        [403, 403, 403, 400],
        [403, 403, 403, 400],
        [403, 403, 403, 400],
        [403, 403, 403, 400],
        [403, 403, 403, 400],
        [403, 403, 403, 400],
        [403, 403, 403, 400],
        [403, 403, 403, 400],
    ]),
    // Admin or self; not self and not admin is 403 before existence.
    ("getUser", [
        [401, 401, 401, 401],
        [200, 200, 404, 404],
        [200, 200, 404, 404],
        [200, 403, 403, 403],
        [200, 403, 403, 403],
        [200, 403, 403, 403],
        [200, 403, 403, 403],
        [200, 403, 403, 403],
        [403, 403, 403, 403],
        [403, 403, 403, 403],
        [403, 403, 403, 403],
        [200, 403, 403, 403],
        [200, 403, 403, 403],
        [200, 403, 403, 403],
        [200, 403, 403, 403],
    ]),
    ("updateUser", [
        [401, 401, 401, 401],
        [200, 200, 404, 404],
        [200, 200, 404, 404],
        [200, 403, 403, 403],
        [200, 403, 403, 403],
        [200, 403, 403, 403],
        [200, 403, 403, 403],
        [200, 403, 403, 403],
        [403, 403, 403, 403],
        [403, 403, 403, 403],
        [403, 403, 403, 403],
        [200, 403, 403, 403],
        [200, 403, 403, 403],
        [200, 403, 403, 403],
        [200, 403, 403, 403],
    ]),
    // Any approved user.
    ("createTicket", [
        [401, 401, 401, 401],
        [201, 201, 201, 400],
        [201, 201, 201, 400],
        [201, 201, 201, 400],
        [201, 201, 201, 400],
        [201, 201, 201, 400],
        [201, 201, 201, 400],
        [201, 201, 201, 400],
        [403, 403, 403, 400],
        [403, 403, 403, 400],
        [403, 403, 403, 400],
        [201, 201, 201, 400],
        [201, 201, 201, 400],
        [201, 201, 201, 400],
        [201, 201, 201, 400],
    ]),
    // Any approved user, scoped (a filter on someone else's tickets is an empty page).
    ("listTickets", [
        [401, 401, 401, 401],
        [200, 200, 200, 400],
        [200, 200, 200, 400],
        [200, 200, 200, 400],
        [200, 200, 200, 400],
        [200, 200, 200, 400],
        [200, 200, 200, 400],
        [200, 200, 200, 400],
        [403, 403, 403, 400],
        [403, 403, 403, 400],
        [403, 403, 403, 400],
        [200, 200, 200, 400],
        [200, 200, 200, 400],
        [200, 200, 200, 400],
        [200, 200, 200, 400],
    ]),
    // Concerned users; not visible 403, no such ticket 404, malformed id 400. The demoted
    // admin is a customer now: their own report only, whatever the token says.
    ("getTicket", [
        [401, 401, 401, 401],
        [200, 200, 404, 400],
        [200, 200, 404, 400],
        [200, 403, 404, 400],
        [200, 403, 404, 400],
        [200, 403, 404, 400],
        [200, 403, 404, 400],
        [200, 403, 404, 400],
        [403, 403, 403, 400],
        [403, 403, 403, 400],
        [403, 403, 403, 400],
        [200, 403, 404, 400],
        [200, 403, 404, 400],
        [200, 403, 404, 400],
        [403, 403, 404, 400],
    ]),
    ("updateTicket", [
        [401, 401, 401, 401],
        [200, 200, 404, 400],
        [200, 200, 404, 400],
        [200, 403, 404, 400],
        [200, 403, 404, 400],
        [200, 403, 404, 400],
        [200, 403, 404, 400],
        [200, 403, 404, 400],
        [403, 403, 403, 400],
        [403, 403, 403, 400],
        [403, 403, 403, 400],
        [200, 403, 404, 400],
        [403, 403, 404, 400],
        [200, 403, 404, 400],
        [403, 403, 404, 400],
    ]),
    ("ticketHistory", [
        [401, 401, 401, 401],
        [200, 200, 404, 400],
        [200, 200, 404, 400],
        [200, 403, 404, 400],
        [200, 403, 404, 400],
        [200, 403, 404, 400],
        [200, 403, 404, 400],
        [200, 403, 404, 400],
        [403, 403, 403, 400],
        [403, 403, 403, 400],
        [403, 403, 403, 400],
        [200, 403, 404, 400],
        [200, 403, 404, 400],
        [200, 403, 404, 400],
        [403, 403, 404, 400],
    ]),
    // Concerned users, as getTicket; an internal note only from an ENGINEER or ADMIN (a
    // customer's, the demoted admin's included, is 403 after the ticket is found).
    ("addComment", [
        [401, 401, 401, 401],
        [201, 201, 404, 400],
        [201, 201, 404, 400],
        [201, 403, 404, 400],
        [201, 403, 404, 400],
        [201, 403, 404, 400],
        [403, 403, 404, 400],
        [403, 403, 404, 400],
        [403, 403, 403, 400],
        [403, 403, 403, 400],
        [403, 403, 403, 400],
        [403, 403, 404, 400],
        [403, 403, 404, 400],
        [201, 403, 404, 400],
        [403, 403, 404, 400],
    ]),
    // SPEC §13: who may attach is who may comment publicly, so as getTicket (`201`).
    ("createAttachmentUpload", [
        [401, 401, 401, 401],
        [201, 201, 404, 400],
        [201, 201, 404, 400],
        [201, 403, 404, 400],
        [201, 403, 404, 400],
        [201, 403, 404, 400],
        [201, 403, 404, 400],
        [201, 403, 404, 400],
        [403, 403, 403, 400],
        [403, 403, 403, 400],
        [403, 403, 403, 400],
        [201, 403, 404, 400],
        [201, 403, 404, 400],
        [201, 403, 404, 400],
        [403, 403, 404, 400],
    ]),
    // SPEC §13: a public comment's file to whoever sees the ticket (`302`); an unknown
    // attachment on a ticket the caller sees is 404, on one they no longer see 403 (the
    // ticket's rights first); a malformed id 400 before anything is read.
    ("downloadAttachment", [
        [401, 401, 401, 401],
        [302, 302, 404, 400],
        [302, 302, 404, 400],
        [302, 403, 404, 400],
        [302, 403, 404, 400],
        [302, 403, 404, 400],
        [302, 403, 404, 400],
        [302, 403, 404, 400],
        [403, 403, 403, 400],
        [403, 403, 403, 400],
        [403, 403, 403, 400],
        [302, 403, 404, 400],
        [302, 403, 404, 400],
        [302, 403, 404, 400],
        [403, 403, 403, 400],
    ]),
    // As getTicket; a customer's page never holds an internal note (checked per cell).
    ("listComments", [
        [401, 401, 401, 401],
        [200, 200, 404, 400],
        [200, 200, 404, 400],
        [200, 403, 404, 400],
        [200, 403, 404, 400],
        [200, 403, 404, 400],
        [200, 403, 404, 400],
        [200, 403, 404, 400],
        [403, 403, 403, 400],
        [403, 403, 403, 400],
        [403, 403, 403, 400],
        [200, 403, 404, 400],
        [200, 403, 404, 400],
        [200, 403, 404, 400],
        [403, 403, 404, 400],
    ]),
    // The reporter or concerned staff (a staff follower too) add a follower; a customer who
    // follows may not; rights before the user to add is looked at (SPEC §11).
    ("addFollower", [
        [401, 401, 401, 401],
        [200, 200, 404, 400],
        [200, 200, 404, 400],
        [200, 403, 404, 400],
        [200, 403, 404, 400],
        [200, 403, 404, 400],
        [200, 403, 404, 400],
        [200, 403, 404, 400],
        [403, 403, 403, 400],
        [403, 403, 403, 400],
        [403, 403, 403, 400],
        [200, 403, 404, 400],
        [403, 403, 404, 400],
        [200, 403, 404, 400],
        [403, 403, 404, 400],
    ]),
    // Anyone concerned removes themself (not following: 404); another follower, as
    // addFollower, rights before existence (SPEC §11).
    ("removeFollower", [
        [401, 401, 401, 401],
        [404, 404, 404, 400],
        [404, 404, 404, 400],
        [404, 403, 404, 400],
        [404, 403, 404, 400],
        [404, 403, 404, 400],
        [404, 403, 404, 400],
        [404, 403, 404, 400],
        [403, 403, 403, 400],
        [403, 403, 403, 400],
        [403, 403, 403, 400],
        [404, 403, 404, 400],
        [200, 403, 404, 400],
        [200, 403, 404, 400],
        [403, 403, 404, 400],
    ]),
    // Approved ADMIN only (SPEC §8); a bad query is 400 before the caller's rights, a start
    // older than the retention 410 after them.
    ("listEvents", [
        [401, 401, 401, 401],
        [200, 200, 410, 400],
        [200, 200, 410, 400],
        [403, 403, 403, 400],
        [403, 403, 403, 400],
        [403, 403, 403, 400],
        [403, 403, 403, 400],
        [403, 403, 403, 400],
        [403, 403, 403, 400],
        [403, 403, 403, 400],
        [403, 403, 403, 400],
        [403, 403, 403, 400],
        [403, 403, 403, 400],
        [403, 403, 403, 400],
        [403, 403, 403, 400],
    ]),
    // Webhooks (SPEC §7): approved ADMIN only, checked before existence; the body's and the
    // query's shape first (400 for any signed-in caller).
    ("createWebhook", [
        [401, 401, 401, 401],
        [201, 201, 400, 400],
        [201, 201, 400, 400],
        [403, 403, 400, 400],
        [403, 403, 400, 400],
        [403, 403, 400, 400],
        [403, 403, 400, 400],
        [403, 403, 400, 400],
        [403, 403, 400, 400],
        [403, 403, 400, 400],
        [403, 403, 400, 400],
        [403, 403, 400, 400],
        [403, 403, 400, 400],
        [403, 403, 400, 400],
        [403, 403, 400, 400],
    ]),
    ("listWebhooks", [
        [401, 401, 401, 401],
        [200, 200, 200, 400],
        [200, 200, 200, 400],
        [403, 403, 403, 400],
        [403, 403, 403, 400],
        [403, 403, 403, 400],
        [403, 403, 403, 400],
        [403, 403, 403, 400],
        [403, 403, 403, 400],
        [403, 403, 403, 400],
        [403, 403, 403, 400],
        [403, 403, 403, 400],
        [403, 403, 403, 400],
        [403, 403, 403, 400],
        [403, 403, 403, 400],
    ]),
    // A malformed subscription id matches nothing (404 for an admin, 403 before existence for
    // the others).
    ("getWebhook", [
        [401, 401, 401, 401],
        [200, 200, 404, 404],
        [200, 200, 404, 404],
        [403, 403, 403, 403],
        [403, 403, 403, 403],
        [403, 403, 403, 403],
        [403, 403, 403, 403],
        [403, 403, 403, 403],
        [403, 403, 403, 403],
        [403, 403, 403, 403],
        [403, 403, 403, 403],
        [403, 403, 403, 403],
        [403, 403, 403, 403],
        [403, 403, 403, 403],
        [403, 403, 403, 403],
    ]),
    ("updateWebhook", [
        [401, 401, 401, 401],
        [200, 200, 404, 404],
        [200, 200, 404, 404],
        [403, 403, 403, 403],
        [403, 403, 403, 403],
        [403, 403, 403, 403],
        [403, 403, 403, 403],
        [403, 403, 403, 403],
        [403, 403, 403, 403],
        [403, 403, 403, 403],
        [403, 403, 403, 403],
        [403, 403, 403, 403],
        [403, 403, 403, 403],
        [403, 403, 403, 403],
        [403, 403, 403, 403],
    ]),
    ("deleteWebhook", [
        [401, 401, 401, 401],
        [200, 404, 404, 404],
        [200, 404, 404, 404],
        [403, 403, 403, 403],
        [403, 403, 403, 403],
        [403, 403, 403, 403],
        [403, 403, 403, 403],
        [403, 403, 403, 403],
        [403, 403, 403, 403],
        [403, 403, 403, 403],
        [403, 403, 403, 403],
        [403, 403, 403, 403],
        [403, 403, 403, 403],
        [403, 403, 403, 403],
        [403, 403, 403, 403],
    ]),
    ("rotateWebhookSecret", [
        [401, 401, 401, 401],
        [200, 200, 404, 404],
        [200, 200, 404, 404],
        [403, 403, 403, 403],
        [403, 403, 403, 403],
        [403, 403, 403, 403],
        [403, 403, 403, 403],
        [403, 403, 403, 403],
        [403, 403, 403, 403],
        [403, 403, 403, 403],
        [403, 403, 403, 403],
        [403, 403, 403, 403],
        [403, 403, 403, 403],
        [403, 403, 403, 403],
        [403, 403, 403, 403],
    ]),
    ("listDeliveries", [
        [401, 401, 401, 401],
        [200, 200, 404, 400],
        [200, 200, 404, 400],
        [403, 403, 403, 400],
        [403, 403, 403, 400],
        [403, 403, 403, 400],
        [403, 403, 403, 400],
        [403, 403, 403, 400],
        [403, 403, 403, 400],
        [403, 403, 403, 400],
        [403, 403, 403, 400],
        [403, 403, 403, 400],
        [403, 403, 403, 400],
        [403, 403, 403, 400],
        [403, 403, 403, 400],
    ]),
    ("retryDelivery", [
        [401, 401, 401, 401],
        [202, 202, 404, 404],
        [202, 202, 404, 404],
        [403, 403, 403, 403],
        [403, 403, 403, 403],
        [403, 403, 403, 403],
        [403, 403, 403, 403],
        [403, 403, 403, 403],
        [403, 403, 403, 403],
        [403, 403, 403, 403],
        [403, 403, 403, 403],
        [403, 403, 403, 403],
        [403, 403, 403, 403],
        [403, 403, 403, 403],
        [403, 403, 403, 403],
    ]),
    // SPEC §10: approved staff read the policy; approved admins set it. The policy is
    // checked after the caller (a calendar with no hours is 403 but for an admin, 400); a
    // body that is not JSON is 400 before anything.
    ("getSla", [
        [401, 401, 401, 401],
        [200, 200, 200, 200],
        [200, 200, 200, 200],
        [200, 200, 200, 200],
        [200, 200, 200, 200],
        [200, 200, 200, 200],
        [403, 403, 403, 403],
        [403, 403, 403, 403],
        [403, 403, 403, 403],
        [403, 403, 403, 403],
        [403, 403, 403, 403],
        [403, 403, 403, 403],
        [403, 403, 403, 403],
        [200, 200, 200, 200],
        [403, 403, 403, 403],
    ]),
    ("putSla", [
        [401, 401, 401, 401],
        [200, 200, 400, 400],
        [200, 200, 400, 400],
        [403, 403, 403, 400],
        [403, 403, 403, 400],
        [403, 403, 403, 400],
        [403, 403, 403, 400],
        [403, 403, 403, 400],
        [403, 403, 403, 400],
        [403, 403, 403, 400],
        [403, 403, 403, 400],
        [403, 403, 403, 400],
        [403, 403, 403, 400],
        [403, 403, 403, 400],
        [403, 403, 403, 400],
    ]),
    // SPEC §12: only the reporter rates (anyone else who sees the ticket: 403), only a
    // CLOSED ticket (every ticket here is OPEN: 409 for its reporter).
    ("rateTicket", [
        [401, 401, 401, 401],
        [409, 403, 404, 400],
        [409, 403, 404, 400],
        [403, 403, 404, 400],
        [409, 403, 404, 400],
        [403, 403, 404, 400],
        [409, 403, 404, 400],
        [409, 403, 404, 400],
        [403, 403, 403, 400],
        [403, 403, 403, 400],
        [403, 403, 403, 400],
        [409, 403, 404, 400],
        [403, 403, 404, 400],
        [403, 403, 404, 400],
        [403, 403, 404, 400],
    ]),
    // Approved ADMIN only; a bad query is 400 for any signed-in caller.
    ("satisfactionReport", [
        [401, 401, 401, 401],
        [200, 200, 200, 400],
        [200, 200, 200, 400],
        [403, 403, 403, 400],
        [403, 403, 403, 400],
        [403, 403, 403, 400],
        [403, 403, 403, 400],
        [403, 403, 403, 400],
        [403, 403, 403, 400],
        [403, 403, 403, 400],
        [403, 403, 403, 400],
        [403, 403, 403, 400],
        [403, 403, 403, 400],
        [403, 403, 403, 400],
        [403, 403, 403, 400],
    ]),
    // An approved ADMIN, or an ENGINEER assigned to both, who sees both; the rights before
    // the refusal to merge a ticket into itself (409). The followers of the followed ticket
    // were removed by removeFollower above.
    ("mergeTicket", [
        [401, 401, 401, 401],
        [409, 200, 404, 400],
        [409, 200, 404, 400],
        [409, 200, 404, 400],
        [403, 403, 404, 400],
        [409, 403, 404, 400],
        [403, 403, 404, 400],
        [403, 403, 404, 400],
        [403, 403, 403, 400],
        [403, 403, 403, 400],
        [403, 403, 403, 400],
        [403, 403, 404, 400],
        [403, 403, 404, 400],
        [403, 403, 404, 400],
        [403, 403, 404, 400],
    ]),
    // Self (a wrong current password is 403 WRONG_PASSWORD) or an approved ADMIN resetting
    // another user; rights before existence; the body is checked before the caller's status.
    ("changePassword", [
        [401, 401, 401, 401],
        [403, 200, 404, 400],
        [403, 200, 404, 400],
        [403, 403, 403, 400],
        [403, 403, 403, 400],
        [403, 403, 403, 400],
        [403, 403, 403, 400],
        [403, 403, 403, 400],
        [403, 403, 403, 400],
        [403, 403, 403, 400],
        [403, 403, 403, 400],
        [403, 403, 403, 400],
        [403, 403, 403, 400],
        [403, 403, 403, 400],
        [403, 403, 403, 400],
    ]),
    // Any approved user; the signed-out token is then revoked (401), an inactive caller's is
    // not (403 again).
    ("signout", [
        [401, 401, 401, 401],
        [200, 401, 401, 401],
        [200, 401, 401, 401],
        [200, 401, 401, 401],
        [200, 401, 401, 401],
        [200, 401, 401, 401],
        [200, 401, 401, 401],
        [200, 401, 401, 401],
        [403, 403, 401, 403],
        [403, 403, 401, 403],
        [403, 403, 401, 403],
        [200, 401, 401, 401],
        [200, 401, 401, 401],
        [200, 401, 401, 401],
        [200, 401, 401, 401],
    ]),
];

const MARK_BEGIN: &str = "<!-- matrix:begin (generated by tests/tests/reliability/matrix.rs) -->";
const MARK_END: &str = "<!-- matrix:end -->";

/// The matrix as markdown: what each target means, then one table per route.
pub fn render() -> String {
    let mut s = String::new();
    s.push_str("| route | own | other's | unknown | malformed |\n|---|---|---|---|---|\n");
    let api = crm::router();
    let route = |name: &str| api.routes().iter().find(|r| r.name == name).expect("route");
    for (name, m) in TARGET_MEANING {
        let r = route(name);
        s.push_str(&format!(
            "| `{name}` {} {} | {} |\n",
            r.method,
            r.path,
            m.join(" | ")
        ));
    }
    for (name, rows) in EXPECTED {
        let r = route(name);
        s.push_str(&format!(
            "\n**{} {}** (`{name}`)\n\n| caller | {} |\n|---|---|---|---|---|\n",
            r.method,
            r.path,
            TARGETS.join(" | ")
        ));
        for (caller, cells) in CALLERS.iter().zip(rows) {
            let cells: Vec<String> = cells.iter().map(u16::to_string).collect();
            s.push_str(&format!("| {caller} | {} |\n", cells.join(" | ")));
        }
    }
    s
}

fn doc_path() -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../docs/RELIABILITY.md")
}

#[test]
fn the_documented_matrix_is_the_tested_one() {
    let rendered = render();
    let path = doc_path();
    let doc = std::fs::read_to_string(&path).unwrap_or_default();
    let section = doc
        .split_once(MARK_BEGIN)
        .and_then(|(_, rest)| rest.split_once(MARK_END))
        .map(|(m, _)| m.trim().to_owned());
    if std::env::var_os("RELIABILITY_BLESS").is_some() {
        let new = match doc.split_once(MARK_BEGIN) {
            Some((head, rest)) => {
                let tail = rest.split_once(MARK_END).map(|(_, t)| t).unwrap_or("");
                format!("{head}{MARK_BEGIN}\n{}\n{MARK_END}{tail}", rendered.trim())
            }
            None => format!("{doc}\n{MARK_BEGIN}\n{}\n{MARK_END}\n", rendered.trim()),
        };
        std::fs::write(&path, new).expect("writing docs/RELIABILITY.md");
        return;
    }
    assert_eq!(
        section.as_deref(),
        Some(rendered.trim()),
        "docs/RELIABILITY.md's matrix differs from the one tested; regenerate it with \
         RELIABILITY_BLESS=1 cargo test -p crm-tests --test reliability matrix"
    );
}

#[test]
fn every_route_has_a_row_and_a_meaning() {
    let api = crm::router();
    let mut names: Vec<&str> = api.routes().iter().map(|r| r.name).collect();
    names.sort_unstable();
    let mut expected: Vec<&str> = EXPECTED.iter().map(|(n, _)| *n).collect();
    let mut meanings: Vec<&str> = TARGET_MEANING.iter().map(|(n, _)| *n).collect();
    // The matrix runs the routes in EXPECTED's order, which ends with the two that revoke
    // the caller's tokens.
    assert_eq!(
        expected[expected.len() - 2..],
        ["changePassword", "signout"]
    );
    expected.sort_unstable();
    meanings.sort_unstable();
    assert_eq!(expected, names);
    assert_eq!(meanings, names);
}

/// Everything a caller row needs.
struct Row {
    user_id: Option<String>,
    token: Option<String>,
    /// What this caller is now: "admin", "engineer", "customer" or "inactive".
    now: &'static str,
    own_ticket: String,
    other_ticket: String,
    other_user: String,
    password_of_own: String,
}

struct Fixture {
    c: Client,
    rows: Vec<Row>,
    /// Subscriptions made by `admin` and by `admin2` (to a loopback port nobody answers),
    /// one made and deleted, and an event delivered (pending) to both.
    hooks: [String; 2],
    deleted_hook: String,
    delivery: String,
    /// A public comment's attachment on each row's tickets, by ticket id (SPEC §13).
    attachments: BTreeMap<String, String>,
}

async fn create(c: &Client, token: &str, title: &str) -> String {
    let r = c
        .post(
            "/tickets",
            token,
            json!({"title": title, "description": format!("About {title}")}),
        )
        .await;
    r.expect(201);
    id_of(r.data())
}

async fn reassign(c: &Client, admin: &str, ticket: &str, to: &str) {
    let r = c
        .put(
            &format!("/tickets/{ticket}"),
            admin,
            json!({"assignee": to}),
        )
        .await;
    r.expect(200);
    assert_eq!(r.data()["assignee"], to);
}

/// The world of the matrix: users of every kind with tokens issued while they were
/// approved, and tickets with known reporters and assignees.
async fn fixture(c: Client) -> Fixture {
    let admin = c.admin().await;
    let admin2 = c.second_admin(&admin, "admin2").await;
    let exadmin = c.second_admin(&admin, "exadmin").await;
    let eng_a = c.engineer(&admin, "eng-assignee").await;
    let eng_r = c.engineer(&admin, "eng-reporter").await;
    let eng_x = c.engineer(&admin, "eng-other").await;
    let eng_d = c.engineer(&admin, "eng-demoted").await;
    let cust = c.customer("cust").await;
    let cust2 = c.customer("cust-other").await;
    let pending = c.customer("pending-eng").await;
    let rejected = c.customer("rejected-user").await;
    let fcust = c.customer("follower-cust").await;
    let feng = c.engineer(&admin, "follower-eng").await;
    let fgone = c.customer("ex-follower").await;
    c.signup("walkin", None).await.expect(201);
    c.signup("bystander", None).await.expect(201);

    let t_c = create(&c, &cust, "Customer's ticket").await;
    let t_c2 = create(&c, &cust2, "Other customer's ticket").await;
    let t_r = create(&c, &eng_r, "Engineer's report").await;
    let t_a = create(&c, &admin, "Admin's ticket").await;
    let t_a2 = create(&c, &admin2, "Other admin's ticket").await;
    let t_p = create(&c, &pending, "Pending engineer's ticket").await;
    let t_j = create(&c, &rejected, "Rejected user's ticket").await;
    let t_d = create(&c, &eng_d, "Demoted engineer's ticket").await;
    let t_m = create(&c, &exadmin, "Demoted admin's ticket").await;
    let t_f = create(&c, &admin, "Followed ticket").await;
    for (t, to) in [
        (&t_c, "eng-assignee"),
        (&t_r, "eng-assignee"),
        (&t_c2, "eng-other"),
        (&t_a, "eng-other"),
        (&t_a2, "eng-other"),
        (&t_p, "eng-other"),
        (&t_j, "eng-other"),
        (&t_d, "eng-other"),
        (&t_m, "eng-other"),
        (&t_f, "eng-other"),
    ] {
        reassign(&c, &admin, t, to).await;
    }
    // The followed ticket: three followers, the last one removed again (their token kept).
    for f in ["follower-cust", "follower-eng", "ex-follower"] {
        c.post(
            &format!("/tickets/{t_f}/followers"),
            &admin,
            json!({"userId": f}),
        )
        .await
        .expect(200);
    }
    c.call(
        "DELETE",
        &format!("/tickets/{t_f}/followers/ex-follower"),
        Some(&admin),
        None,
    )
    .await
    .expect(200);

    // Now the status changes, after the tokens were issued.
    let r = c
        .put(
            "/users/pending-eng",
            &pending,
            json!({"userType": "ENGINEER"}),
        )
        .await;
    r.expect(200);
    assert_eq!(r.data()["userStatus"], "PENDING");
    c.put(
        "/users/rejected-user",
        &admin,
        json!({"userStatus": "REJECTED"}),
    )
    .await
    .expect(200);
    c.put(
        "/users/eng-demoted",
        &admin,
        json!({"userStatus": "PENDING"}),
    )
    .await
    .expect(200);
    let r = c
        .put("/users/exadmin", &admin, json!({"userType": "CUSTOMER"}))
        .await;
    r.expect(200);
    assert_eq!(
        (&r.data()["userType"], &r.data()["userStatus"]),
        (&json!("CUSTOMER"), &json!("APPROVED"))
    );

    let row = |id: Option<&str>,
               token: Option<&String>,
               now: &'static str,
               own: &String,
               other: &String,
               other_user: &str| Row {
        user_id: id.map(str::to_owned),
        token: token.cloned(),
        now,
        own_ticket: own.clone(),
        other_ticket: other.clone(),
        other_user: other_user.to_owned(),
        password_of_own: PASSWORD.to_owned(),
    };
    let rows = vec![
        row(None, None, "anonymous", &t_c, &t_c2, "cust"),
        row(
            Some("admin"),
            Some(&admin),
            "admin",
            &t_a,
            &t_c,
            "cust-other",
        ),
        row(
            Some("admin2"),
            Some(&admin2),
            "admin",
            &t_a2,
            &t_c,
            "cust-other",
        ),
        row(
            Some("eng-assignee"),
            Some(&eng_a),
            "engineer",
            &t_c,
            &t_c2,
            "cust",
        ),
        row(
            Some("eng-reporter"),
            Some(&eng_r),
            "engineer",
            &t_r,
            &t_c,
            "cust",
        ),
        row(
            Some("eng-other"),
            Some(&eng_x),
            "engineer",
            &t_c2,
            &t_c,
            "cust",
        ),
        row(
            Some("cust"),
            Some(&cust),
            "customer",
            &t_c,
            &t_c2,
            "cust-other",
        ),
        row(
            Some("cust-other"),
            Some(&cust2),
            "customer",
            &t_c2,
            &t_c,
            "cust",
        ),
        row(
            Some("pending-eng"),
            Some(&pending),
            "inactive",
            &t_p,
            &t_c,
            "cust",
        ),
        row(
            Some("rejected-user"),
            Some(&rejected),
            "inactive",
            &t_j,
            &t_c,
            "cust",
        ),
        row(
            Some("eng-demoted"),
            Some(&eng_d),
            "inactive",
            &t_d,
            &t_c,
            "cust",
        ),
        row(
            Some("exadmin"),
            Some(&exadmin),
            "customer",
            &t_m,
            &t_c,
            "cust",
        ),
        row(
            Some("follower-cust"),
            Some(&fcust),
            "customer",
            &t_f,
            &t_c2,
            "cust",
        ),
        row(
            Some("follower-eng"),
            Some(&feng),
            "engineer",
            &t_f,
            &t_c,
            "cust",
        ),
        row(
            Some("ex-follower"),
            Some(&fgone),
            "customer",
            &t_f,
            &t_c,
            "cust",
        ),
    ];
    let hook = |token: String| {
        let c = c.clone();
        async move {
            let r = c
                .post(
                    "/webhooks",
                    &token,
                    json!({"url": "http://127.0.0.1:9/matrix", "events": ["ticket.created"]}),
                )
                .await;
            r.expect(201);
            r.data()["_id"].as_str().unwrap().to_owned()
        }
    };
    let hooks = [hook(admin.clone()).await, hook(admin2.clone()).await];
    let deleted_hook = hook(admin.clone()).await;
    c.call(
        "DELETE",
        &format!("/webhooks/{deleted_hook}"),
        Some(&admin),
        None,
    )
    .await
    .expect(200);
    create(&c, &cust, "Seen by the webhooks").await;
    let delivery = {
        let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(20);
        loop {
            let both = futures_util::future::join_all(hooks.iter().map(|h| {
                let c = c.clone();
                let admin = admin.clone();
                let h = h.clone();
                async move {
                    c.get(&format!("/webhooks/{h}/deliveries"), &admin)
                        .await
                        .data()[0]["_id"]
                        .as_str()
                        .map(str::to_owned)
                }
            }))
            .await;
            if let [Some(a), Some(b)] = both.as_slice() {
                assert_eq!(a, b, "one event, one delivery id");
                break a.clone();
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "no delivery recorded"
            );
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        }
    };
    let mut attachments = BTreeMap::new();
    for t in rows.iter().flat_map(|r| [&r.own_ticket, &r.other_ticket]) {
        if !attachments.contains_key(t) {
            attachments.insert(t.clone(), attach(&c, &admin, t).await);
        }
    }
    Fixture {
        c,
        rows,
        hooks,
        deleted_hook,
        delivery,
        attachments,
    }
}

/// Uploads a 5-byte file to `ticket` as `token` and links it with a public comment: its id.
async fn attach(c: &Client, token: &str, ticket: &str) -> String {
    let r = c
        .post(
            &format!("/tickets/{ticket}/attachments"),
            token,
            json!({"fileName": "matrix.txt", "contentType": "text/plain", "size": 5}),
        )
        .await;
    r.expect(201);
    let up = &r.data()["upload"];
    let fields = up["fields"]
        .as_object()
        .expect("fields")
        .iter()
        .map(|(k, v)| (k.clone(), v.as_str().unwrap_or_default().to_owned()));
    let (status, body) = crm_tests::attach::post_fields(
        &reqwest::Client::new(),
        up["url"].as_str().expect("url"),
        fields,
        b"hello",
    )
    .await;
    assert_eq!(status, 204, "{body}");
    let id = r.data()["attachmentId"].as_str().expect("id").to_owned();
    c.post(
        &format!("/tickets/{ticket}/comments"),
        token,
        json!({"body": "A file for the matrix.", "attachments": [id]}),
    )
    .await
    .expect(201);
    id
}

/// A request that does not follow a redirect (the download's `302`).
async fn unfollowed(c: &Client, path: &str, token: Option<&str>) -> Resp {
    let http = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("client");
    let mut req = http.get(format!("{}{path}", c.base()));
    if let Some(t) = token {
        req = req.header("x-access-token", t);
    }
    let resp = req.send().await.expect("request sent");
    let status = resp.status().as_u16();
    let headers = resp.headers().clone();
    let text = resp.text().await.expect("body");
    let body = serde_json::from_str(&text).unwrap_or(Value::Null);
    Resp {
        status,
        headers,
        text,
        body,
    }
}

const NOBODY: &str = "nobody-here";
const NEW_PASSWORD: &str = "Matrix-new-pw1";
const UNKNOWN_TICKET: &str = "01ARZ3NDEKTSV4RRFFQ69G5FAV";

/// Sends one cell's request.
async fn cell(f: &Fixture, i: usize, route: &str, target: usize, n: &mut usize) -> Resp {
    let c = &f.c;
    let row = &f.rows[i];
    let token = row.token.as_deref();
    let me = row.user_id.clone().unwrap_or_else(|| "walkin".to_owned());
    *n += 1;
    let json_call = |method: &'static str, path: String, body: Option<Value>| async move {
        c.call(method, &path, token, body).await
    };
    match route {
        "signup" => {
            let body = |id: &str, t: &str| {
                json!({"name": "Matrix User", "userId": id, "email": format!("{id}@email.com"),
                       "password": PASSWORD, "userType": t})
            };
            match target {
                0 => {
                    json_call(
                        "POST",
                        "/auth/signup".into(),
                        Some(body(&format!("new-{i}"), "CUSTOMER")),
                    )
                    .await
                }
                1 => {
                    json_call(
                        "POST",
                        "/auth/signup".into(),
                        Some(body("cust", "CUSTOMER")),
                    )
                    .await
                }
                2 => {
                    json_call(
                        "POST",
                        "/auth/signup".into(),
                        Some(body(&format!("super-{i}"), "SUPERUSER")),
                    )
                    .await
                }
                _ => {
                    raw(
                        c,
                        "POST",
                        "/auth/signup",
                        token,
                        b"{\"name\": \"Matrix".to_vec(),
                    )
                    .await
                }
            }
        }
        "signin" => {
            // Each userId gets at most one wrong password from the matrix (far from the
            // lock-out at five): "other's" is the next row's user.
            let victim = f.rows[(i + 1) % f.rows.len()]
                .user_id
                .clone()
                .unwrap_or_else(|| "walkin".to_owned());
            let body = match target {
                0 => json!({"userId": me, "password": row.password_of_own}),
                1 => json!({"userId": victim, "password": "Wrong-Password-1"}),
                2 => json!({"userId": format!("ghost-{i}"), "password": PASSWORD}),
                _ => json!({"userId": 5, "password": PASSWORD}),
            };
            json_call("POST", "/auth/signin".into(), Some(body)).await
        }
        "listUsers" => {
            let q = [
                "",
                "?userType=ENGINEER",
                "?userType=ADMIN&userStatus=REJECTED",
                "?userStatus=SLEEPY",
            ][target];
            json_call("GET", format!("/users{q}"), None).await
        }
        "getUser" | "updateUser" => {
            let id = match target {
                0 => me.clone(),
                1 => row.other_user.clone(),
                2 => NOBODY.to_owned(),
                _ => "bad%20id%21".to_owned(),
            };
            if route == "getUser" {
                json_call("GET", format!("/users/{id}"), None).await
            } else {
                let name = format!("Renamed {n}");
                json_call("PUT", format!("/users/{id}"), Some(json!({"name": name}))).await
            }
        }
        "createTicket" => {
            let mut body =
                json!({"title": format!("Matrix {n}"), "description": "Made by the matrix."});
            match target {
                0 => {}
                1 => body["reporter"] = json!(row.other_user),
                2 => body["assignee"] = json!(NOBODY),
                _ => body["ticketPriority"] = json!("2"),
            }
            json_call("POST", "/tickets".into(), Some(body)).await
        }
        "listTickets" => {
            let q = match target {
                0 => String::new(),
                1 => format!("?reporter={}", row.other_user),
                2 => format!("?assignee={NOBODY}"),
                _ => "?status=BOGUS".to_owned(),
            };
            json_call("GET", format!("/tickets{q}"), None).await
        }
        "getTicket" | "updateTicket" | "ticketHistory" => {
            let id = match target {
                0 => row.own_ticket.clone(),
                1 => row.other_ticket.clone(),
                2 => UNKNOWN_TICKET.to_owned(),
                _ => "not-a-ticket-id".to_owned(),
            };
            match route {
                "getTicket" => json_call("GET", format!("/tickets/{id}"), None).await,
                "ticketHistory" => json_call("GET", format!("/tickets/{id}/history"), None).await,
                _ => {
                    let body = json!({"description": format!("Edited by the matrix, cell {n}.")});
                    json_call("PUT", format!("/tickets/{id}"), Some(body)).await
                }
            }
        }
        "addComment" | "listComments" => {
            let id = match target {
                0 => row.own_ticket.clone(),
                1 => row.other_ticket.clone(),
                2 => UNKNOWN_TICKET.to_owned(),
                _ => "not-a-ticket-id".to_owned(),
            };
            let path = format!("/tickets/{id}/comments");
            if route == "listComments" {
                return json_call("GET", path, None).await;
            }
            let body = if target == 0 {
                json!({"body": format!("Internal note of cell {n}."), "internal": true})
            } else {
                json!({"body": format!("Comment of cell {n}.")})
            };
            json_call("POST", path, Some(body)).await
        }
        "createAttachmentUpload" | "downloadAttachment" => {
            let id = match target {
                0 | 2 | 3 => row.own_ticket.clone(),
                _ => row.other_ticket.clone(),
            };
            let id = match (route, target) {
                ("createAttachmentUpload", 2) => UNKNOWN_TICKET.to_owned(),
                ("createAttachmentUpload", 3) => "not-a-ticket-id".to_owned(),
                _ => id,
            };
            if route == "createAttachmentUpload" {
                let body = json!({"fileName": format!("cell-{n}.txt"), "contentType": "text/plain", "size": 5});
                return json_call("POST", format!("/tickets/{id}/attachments"), Some(body)).await;
            }
            let attachment = match target {
                0 | 1 => f.attachments[&id].clone(),
                2 => UNKNOWN_TICKET.to_owned(),
                _ => "not-an-attachment-id".to_owned(),
            };
            unfollowed(c, &format!("/tickets/{id}/attachments/{attachment}"), token).await
        }
        "listEvents" => {
            let q = [
                "",
                "?type=ticket.updated&limit=1000",
                "?since=2000-01-01T00:00:00Z",
                "?type=TICKET_CREATED",
            ][target];
            json_call("GET", format!("/events{q}"), None).await
        }
        "addFollower" | "removeFollower" => {
            let id = match target {
                0 => row.own_ticket.clone(),
                1 => row.other_ticket.clone(),
                2 => UNKNOWN_TICKET.to_owned(),
                _ => "not-a-ticket-id".to_owned(),
            };
            if route == "addFollower" {
                let body = json!({"userId": "bystander"});
                return json_call("POST", format!("/tickets/{id}/followers"), Some(body)).await;
            }
            let user = if target == 1 {
                NOBODY.to_owned()
            } else {
                me.clone()
            };
            json_call("DELETE", format!("/tickets/{id}/followers/{user}"), None).await
        }
        "createWebhook" => {
            let body = match target {
                0 => json!({"url": "http://127.0.0.1:9/cell", "events": ["*"]}),
                1 => {
                    json!({"url": "http://127.0.0.1:9/cell", "events": ["ticket.created"], "description": format!("cell {n}")})
                }
                2 => json!({"url": "http://127.0.0.1:9/cell", "events": ["ticket.deleted"]}),
                _ => json!({"url": 5, "events": ["*"]}),
            };
            json_call("POST", "/webhooks".into(), Some(body)).await
        }
        "listWebhooks" => {
            let q = ["", "?limit=1", "?limit=100", "?limit=0"][target];
            json_call("GET", format!("/webhooks{q}"), None).await
        }
        "getWebhook" | "updateWebhook" | "rotateWebhookSecret" | "listDeliveries" => {
            // Each admin's own is the one they made; the others' "own" is the admin's.
            let (own, other) = if me == "admin2" {
                (&f.hooks[1], &f.hooks[0])
            } else {
                (&f.hooks[0], &f.hooks[1])
            };
            let id = match target {
                0 => own.clone(),
                1 => other.clone(),
                2 => UNKNOWN_TICKET.to_owned(),
                _ => "bad%20id%21".to_owned(),
            };
            match route {
                "getWebhook" => json_call("GET", format!("/webhooks/{id}"), None).await,
                "updateWebhook" => {
                    let body = json!({"description": format!("Edited by cell {n}.")});
                    json_call("PUT", format!("/webhooks/{id}"), Some(body)).await
                }
                "rotateWebhookSecret" => {
                    json_call("POST", format!("/webhooks/{id}/rotate-secret"), None).await
                }
                _ => {
                    let path = match target {
                        1 => format!("/webhooks/{id}/deliveries?status=failed"),
                        3 => format!("/webhooks/{own}/deliveries?status=done"),
                        _ => format!("/webhooks/{id}/deliveries"),
                    };
                    json_call("GET", path, None).await
                }
            }
        }
        "deleteWebhook" => {
            let admin = f.rows[1].token.as_deref().expect("the admin's token");
            let id = match target {
                0 => {
                    let r = c
                        .post(
                            "/webhooks",
                            admin,
                            json!({"url": "http://127.0.0.1:9/doomed", "events": ["*"]}),
                        )
                        .await;
                    r.expect(201);
                    r.data()["_id"].as_str().unwrap().to_owned()
                }
                1 => f.deleted_hook.clone(),
                2 => UNKNOWN_TICKET.to_owned(),
                _ => "bad%20id%21".to_owned(),
            };
            let r = json_call("DELETE", format!("/webhooks/{id}"), None).await;
            if target == 0 && r.status != 200 {
                c.call("DELETE", &format!("/webhooks/{id}"), Some(admin), None)
                    .await
                    .expect(200);
            }
            r
        }
        "retryDelivery" => {
            let (hook, delivery) = match target {
                0 => (&f.hooks[0], f.delivery.clone()),
                1 => (&f.hooks[1], f.delivery.clone()),
                2 => (&f.hooks[0], UNKNOWN_TICKET.to_owned()),
                _ => (&f.hooks[0], "bad%20id%21".to_owned()),
            };
            json_call(
                "POST",
                format!("/webhooks/{hook}/deliveries/{delivery}/retry"),
                None,
            )
            .await
        }
        "getSla" => {
            let q = if target == 1 { "?x=1" } else { "" };
            json_call("GET", format!("/sla{q}"), None).await
        }
        "putSla" => {
            let body = match target {
                0 => {
                    json!({"targets": {"1": {"firstResponseMinutes": 30, "resolutionMinutes": 240}}})
                }
                1 => json!({"targets": {"2": {"resolutionMinutes": 480}},
                            "businessHours": {"timezone": "Europe/Berlin",
                                              "days": {"mon": ["09:00-17:00"]}}}),
                2 => json!({"targets": {"1": {"resolutionMinutes": 60}},
                            "businessHours": {"timezone": "UTC", "days": {}}}),
                _ => return raw(c, "PUT", "/sla", token, b"{\"targets\": {".to_vec()).await,
            };
            json_call("PUT", "/sla".into(), Some(body)).await
        }
        "rateTicket" => {
            let id = match target {
                0 => row.own_ticket.clone(),
                1 => row.other_ticket.clone(),
                2 => UNKNOWN_TICKET.to_owned(),
                _ => "not-a-ticket-id".to_owned(),
            };
            let rating = if target == 1 { "bad" } else { "good" };
            json_call(
                "PUT",
                format!("/tickets/{id}/satisfaction"),
                Some(json!({"rating": rating})),
            )
            .await
        }
        "satisfactionReport" => {
            let now = crm_shared::model::Timestamp::now();
            let q = match target {
                0 => String::new(),
                1 => format!(
                    "?from={}&to={}",
                    now.plus_seconds(-3600).rfc3339(),
                    now.rfc3339()
                ),
                2 => "?from=2000-01-01T00:00:00Z&to=2000-01-02T00:00:00Z".to_owned(),
                _ => "?from=yesterday".to_owned(),
            };
            json_call("GET", format!("/reports/satisfaction{q}"), None).await
        }
        "mergeTicket" => {
            let (source, into) = match target {
                0 => (row.own_ticket.clone(), row.own_ticket.clone()),
                1 => {
                    let admin = f.rows[1].token.as_deref().expect("the admin's token");
                    let cust = f.rows[6].token.as_deref().expect("the customer's token");
                    let a = create(c, cust, &format!("Duplicate {n}")).await;
                    let b = create(c, cust, &format!("Original {n}")).await;
                    for t in [&a, &b] {
                        reassign(c, admin, t, "eng-assignee").await;
                    }
                    (a, b)
                }
                2 => (UNKNOWN_TICKET.to_owned(), row.own_ticket.clone()),
                _ => ("not-a-ticket-id".to_owned(), row.own_ticket.clone()),
            };
            json_call(
                "POST",
                format!("/tickets/{source}/merge"),
                Some(json!({"into": into})),
            )
            .await
        }
        "changePassword" => {
            let (id, body) = match target {
                0 => (
                    me.clone(),
                    json!({"currentPassword": "Wrong-Password-1", "newPassword": NEW_PASSWORD}),
                ),
                1 => ("bystander".to_owned(), json!({"newPassword": NEW_PASSWORD})),
                2 => (NOBODY.to_owned(), json!({"newPassword": NEW_PASSWORD})),
                _ => (
                    me.clone(),
                    json!({"currentPassword": row.password_of_own, "newPassword": "short"}),
                ),
            };
            json_call("PUT", format!("/users/{id}/password"), Some(body)).await
        }
        "signout" => match target {
            0 | 1 => json_call("POST", "/auth/signout".into(), None).await,
            2 => {
                c.raw(
                    "POST",
                    "/auth/signout",
                    &[("x-access-token", "not-a-token")],
                    None,
                )
                .await
            }
            _ => raw(c, "POST", "/auth/signout", token, b"not json".to_vec()).await,
        },
        other => panic!("no request for route {other}"),
    }
}

async fn raw(c: &Client, method: &str, path: &str, token: Option<&str>, body: Vec<u8>) -> Resp {
    let mut headers = vec![("content-type", "application/json")];
    if let Some(t) = token {
        headers.push(("x-access-token", t));
    }
    c.raw(method, path, &headers, Some(body)).await
}

/// Checks beyond the status that a cell's response must pass.
fn check_body(f: &Fixture, i: usize, route: &str, r: &Resp, problems: &mut Vec<String>) {
    let row = &f.rows[i];
    if route == "downloadAttachment" && r.status == 302 {
        // SPEC §13: to a download URL of the server's own, the file's (checked beside it:
        // tests/tests/api/serve_attachments.rs).
        let to_file = r
            .header("location")
            .is_some_and(|l| l.contains("/files/attachments/"));
        if !to_file || r.header("x-content-type-options") != Some("nosniff") {
            problems.push(format!(
                "{route} / {}: a 302 without its Location",
                CALLERS[i]
            ));
        }
        return;
    }
    let ok = (200..300).contains(&r.status);
    let mut fail = |what: String| problems.push(format!("{route} / {}: {what}", CALLERS[i]));
    if r.body["success"] != json!(ok) {
        fail(format!("success is not {ok}: {}", r.text));
    }
    if !ok && r.body["code"].as_str().is_none_or(str::is_empty) {
        fail(format!("error without a code: {}", r.text));
    }
    if INTERNALS.iter().any(|w| r.text.contains(w)) {
        fail(format!("internal detail in the body: {}", r.text));
    }
    if r.header("x-content-type-options") != Some("nosniff") {
        fail("no nosniff".into());
    }
    if !ok {
        return;
    }
    let me = row.user_id.as_deref().unwrap_or("");
    match route {
        "listTickets" => {
            for t in r.data().as_array().cloned().unwrap_or_default() {
                let follows = t["followers"]
                    .as_array()
                    .is_some_and(|f| f.contains(&json!(me)));
                let visible = match row.now {
                    "admin" => true,
                    "engineer" => t["reporter"] == me || t["assignee"] == me || follows,
                    _ => t["reporter"] == me || follows,
                };
                if !visible {
                    fail(format!("lists a ticket it may not see: {t}"));
                }
            }
        }
        "createTicket" => {
            if r.data()["reporter"] != me {
                fail(format!("reporter is not the caller: {}", r.data()));
            }
            if r.data()["assignee"] == NOBODY {
                fail("took the assignee from the body".into());
            }
        }
        "listComments" if !matches!(row.now, "admin" | "engineer") => {
            for c in r.data().as_array().cloned().unwrap_or_default() {
                if c["internal"] != json!(false) {
                    fail(format!("lists an internal note to a customer: {c}"));
                }
            }
        }
        "addFollower"
            if !r.data()["followers"]
                .as_array()
                .is_some_and(|f| f.contains(&json!("bystander"))) =>
        {
            fail(format!("the follower is not in the ticket: {}", r.data()));
        }
        "removeFollower"
            if r.data()["followers"]
                .as_array()
                .is_none_or(|f| f.contains(&json!(me))) =>
        {
            fail(format!("the follower is still in the ticket: {}", r.data()));
        }
        "mergeTicket"
            if r.data()["source"]["mergedInto"] != r.data()["target"]["_id"]
                || r.data()["source"]["status"] != "CLOSED" =>
        {
            fail(format!(
                "the source is not closed into the target: {}",
                r.data()
            ));
        }
        "satisfactionReport"
            if !(r.data()["good"].is_u64()
                && r.data()["bad"].is_u64()
                && r.data()["assignees"].is_array()) =>
        {
            fail(format!("a report without its figures: {}", r.text));
        }
        "addComment" if r.data()["author"] != me => {
            fail(format!("author is not the caller: {}", r.data()));
        }
        "getUser" | "updateUser" if r.text.contains("password") => {
            fail("user object carries a password".into());
        }
        "listEvents" if !r.body["nextCursor"].is_string() || !r.data().is_array() => {
            fail(format!(
                "a feed page without its events and nextCursor: {}",
                r.text
            ));
        }
        "createWebhook" | "rotateWebhookSecret"
            if !r.data()["secret"]
                .as_str()
                .is_some_and(|x| x.starts_with("whsec_")) =>
        {
            fail(format!("no secret in the answer: {}", r.text));
        }
        "listWebhooks" | "getWebhook" | "updateWebhook" | "listDeliveries" | "retryDelivery"
            if r.text.contains("whsec_") || r.text.contains("\"secret\"") =>
        {
            fail(format!(
                "a secret outside creation and rotation: {}",
                r.text
            ));
        }
        _ => {}
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn access_control_matrix_over_http() {
    let server = start(ServerOptions::default());
    let f = fixture(server.client()).await;
    let mut mismatches = Vec::new();
    let mut problems = Vec::new();
    let mut n = 0;
    let mut cells = 0;
    let mut tally: BTreeMap<u16, usize> = BTreeMap::new();
    for (route, rows) in EXPECTED {
        for (i, want) in rows.iter().enumerate() {
            for (t, want) in want.iter().enumerate() {
                let r = cell(&f, i, route, t, &mut n).await;
                cells += 1;
                *tally.entry(r.status).or_default() += 1;
                if r.status != *want {
                    mismatches.push(format!(
                        "{route} / {} / {}: want {want}, got {} {}",
                        CALLERS[i], TARGETS[t], r.status, r.text
                    ));
                }
                check_body(&f, i, route, &r, &mut problems);
            }
        }
    }
    figure("matrix cells checked", cells);
    figure("matrix statuses", format!("{tally:?}"));
    assert!(
        mismatches.is_empty() && problems.is_empty(),
        "{} of {cells} cells differ from SPEC:\n{}\nother problems:\n{}",
        mismatches.len(),
        mismatches.join("\n"),
        problems.join("\n")
    );
    let admin = f.c.admin().await;
    assert_invariant(&f.c, &admin).await;
}
