"""The README's walk-through, told through the Python client generated from docs/openapi.yaml.

    python walkthrough.py BASE_URL      e.g. http://127.0.0.1:3000/crmService/api/v1

scripts/openapi-check generates the client (package `crm_client`, openapi-python-client),
type-checks this file with `mypy --strict` and runs it against a fresh `crm serve`. It uses
only the generated client: no hand-written HTTP, no casts, no `# type: ignore`. Every
response is parsed into the document's types, and every error into `ErrorEnvelope`, whose
`code` is checked.

It expects a fresh server (the default admin `admin` / `crmService@1` and no other engineer),
so that the auto-assignment and the counts it checks are exact.

The story is a list of steps (STEPS, at the end) sharing one `Story`.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from http import HTTPStatus
from typing import TypeVar

from crm_client import AuthenticatedClient, Client
from crm_client.api.auth import signin, signout, signup
from crm_client.api.tickets import (
    add_comment,
    create_ticket,
    get_ticket,
    list_comments,
    list_tickets,
    ticket_history,
    update_ticket,
)
from crm_client.api.users import change_password, get_user, list_users, update_user
from crm_client.models import (
    ChangeField,
    Comment,
    CommentCreateRequest,
    CommentListEnvelope,
    CommentMessageEnvelope,
    ErrorCode,
    ErrorEnvelope,
    HistoryEntry,
    HistoryListEnvelope,
    MessageEnvelope,
    PasswordChangeRequest,
    SigninEnvelope,
    SigninRequest,
    SignedInUser,
    SignupRequest,
    SignupRequestUserType,
    Ticket,
    TicketCreateRequest,
    TicketEnvelope,
    TicketListEnvelope,
    TicketMessageEnvelope,
    TicketPriority,
    TicketStatus,
    TicketUpdateRequest,
    User,
    UserEnvelope,
    UserListEnvelope,
    UserStatus,
    UserType,
    UserUpdateRequest,
)
from crm_client.types import UNSET, Response, Unset

BASE_PATH = "/crmService/api/v1"
ADMIN_ID = "admin"
ADMIN_PASSWORD = "crmService@1"
PASSWORD = "Walk@through1"
# A well-formed ticket id (a ULID) that no ticket has.
UNKNOWN_TICKET = "01ARZ3NDEKTSV4RRFFQ69G5FAV"

T = TypeVar("T")


def expect(resp: Response[T | ErrorEnvelope], status: HTTPStatus, kind: type[T]) -> T:
    """The parsed body of a success response, of the documented type."""
    assert resp.status_code == status, f"want {status}, got {resp.status_code}: {resp.content!r}"
    body = resp.parsed
    assert isinstance(body, kind), f"want {kind.__name__}, got {body!r}"
    return body


def fails(resp: Response[T | ErrorEnvelope], status: HTTPStatus, code: ErrorCode) -> ErrorEnvelope:
    """The parsed ErrorEnvelope of an error response, with its status and code checked."""
    assert resp.status_code == status, f"want {status} {code}, got {resp.status_code}: {resp.content!r}"
    body = resp.parsed
    assert isinstance(body, ErrorEnvelope), f"want an ErrorEnvelope, got {body!r}"
    assert body.success is False, body
    assert body.code == code, f"want code {code}, got {body.code}: {body.message}"
    assert body.message, body
    return body


@dataclass
class Story:
    """What the steps share: the base URL, who signed in, and what they made."""

    base_url: str
    run: str = field(default_factory=lambda: str(time.time_ns())[-8:])
    tokens: dict[str, str] = field(default_factory=dict)
    tickets: list[Ticket] = field(default_factory=list)

    @property
    def customer(self) -> str:
        return f"cust.{self.run}"

    @property
    def engineer(self) -> str:
        return f"eng.{self.run}"

    @property
    def anonymous(self) -> Client:
        return Client(base_url=self.base_url, raise_on_unexpected_status=True)

    def as_user(self, user_id: str) -> AuthenticatedClient:
        """A client sending `user_id`'s token as `Authorization: Bearer`."""
        return AuthenticatedClient(
            base_url=self.base_url, token=self.tokens[user_id], raise_on_unexpected_status=True
        )

    def sign_in(self, user_id: str, password: str) -> SignedInUser:
        resp = signin.sync_detailed(
            client=self.anonymous, body=SigninRequest(user_id=user_id, password=password)
        )
        user = expect(resp, HTTPStatus.OK, SigninEnvelope).data
        assert user.user_id == user_id, user
        assert user.access_token.count(".") == 2, "an access token is a JWT"
        self.tokens[user_id] = user.access_token
        return user

    def user(self, user_id: str) -> User:
        resp = get_user.sync_detailed(user_id, client=self.as_user(ADMIN_ID))
        return expect(resp, HTTPStatus.OK, UserEnvelope).data


def sign_up(s: Story) -> None:
    """A customer (approved at once) and an engineer (pending an admin)."""
    resp = signup.sync_detailed(
        client=s.anonymous,
        body=SignupRequest(
            name="Jane Roe",
            user_id=s.customer,
            email=f"Jane.{s.run}@Example.com",
            password=PASSWORD,
        ),
    )
    customer = expect(resp, HTTPStatus.CREATED, UserEnvelope).data
    assert resp.headers["location"] == f"{BASE_PATH}/users/{s.customer}", resp.headers
    assert customer.user_type == UserType.CUSTOMER, customer
    assert customer.user_status == UserStatus.APPROVED, customer
    assert customer.email == f"jane.{s.run}@example.com", "emails are stored lower-cased"
    assert isinstance(customer.tickets_working_on_count, Unset), "customers have no count"

    resp = signup.sync_detailed(
        client=s.anonymous,
        body=SignupRequest(
            name="Eve Engineer",
            user_id=s.engineer,
            email=f"eve.{s.run}@example.com",
            password=PASSWORD,
            user_type=SignupRequestUserType.ENGINEER,
        ),
    )
    engineer = expect(resp, HTTPStatus.CREATED, UserEnvelope).data
    assert engineer.user_type == UserType.ENGINEER, engineer
    assert engineer.user_status == UserStatus.PENDING, engineer

    # The email is taken case-insensitively: 409 EMAIL_TAKEN, parsed.
    resp = signup.sync_detailed(
        client=s.anonymous,
        body=SignupRequest(
            name="Jane Again",
            user_id=f"other.{s.run}",
            email=f"JANE.{s.run}@example.com",
            password=PASSWORD,
        ),
    )
    fails(resp, HTTPStatus.CONFLICT, ErrorCode.EMAIL_TAKEN)
    resp = signup.sync_detailed(
        client=s.anonymous,
        body=SignupRequest(
            name="Jane Short", user_id=f"short.{s.run}", email=f"s.{s.run}@example.com", password="Sh@rt1"
        ),
    )
    assert fails(resp, HTTPStatus.BAD_REQUEST, ErrorCode.VALIDATION_FAILED).field == "password"


def sign_in(s: Story) -> None:
    """Wrong password: 401; a pending engineer: 403; the admin and the customer: tokens."""
    resp = signin.sync_detailed(
        client=s.anonymous, body=SigninRequest(user_id=s.customer, password=PASSWORD + "x")
    )
    fails(resp, HTTPStatus.UNAUTHORIZED, ErrorCode.INVALID_CREDENTIALS)
    resp = signin.sync_detailed(
        client=s.anonymous, body=SigninRequest(user_id=s.engineer, password=PASSWORD)
    )
    pending = fails(resp, HTTPStatus.FORBIDDEN, ErrorCode.USER_NOT_APPROVED)
    assert pending.message.endswith("PENDING"), pending.message
    admin = s.sign_in(ADMIN_ID, ADMIN_PASSWORD)
    assert admin.user_type == UserType.ADMIN, admin
    s.sign_in(s.customer, PASSWORD)


def approve_engineer(s: Story) -> None:
    """The admin finds the pending engineer by filter and approves them."""
    admin = s.as_user(ADMIN_ID)
    listed = list_users.sync_detailed(
        client=admin, user_type=UserType.ENGINEER, user_status=UserStatus.PENDING
    )
    page = expect(listed, HTTPStatus.OK, UserListEnvelope)
    assert [u.user_id for u in page.data] == [s.engineer], page.data
    assert page.document_results_count == 1, page

    resp = update_user.sync_detailed(
        s.engineer, client=admin, body=UserUpdateRequest(user_status=UserStatus.APPROVED)
    )
    engineer = expect(resp, HTTPStatus.OK, UserEnvelope).data
    assert engineer.user_status == UserStatus.APPROVED, engineer
    assert engineer.tickets_working_on_count == 0, engineer

    # A password cannot change here: the document does not offer the field; sent anyway, 400.
    sneaky = UserUpdateRequest(name="Eve E.")
    sneaky.additional_properties["password"] = "Other@pass123"
    resp = update_user.sync_detailed(s.engineer, client=admin, body=sneaky)
    assert fails(resp, HTTPStatus.BAD_REQUEST, ErrorCode.VALIDATION_FAILED).field == "password"
    assert s.user(s.engineer).name == "Eve Engineer", "a refused update changes nothing"

    s.sign_in(s.engineer, PASSWORD)


def create_tickets(s: Story) -> None:
    """The customer reports three tickets; each goes to the only approved engineer."""
    customer = s.as_user(s.customer)
    for n, priority in [(1, TicketPriority.VALUE_2), (2, TicketPriority.VALUE_4), (3, TicketPriority.VALUE_2)]:
        resp = create_ticket.sync_detailed(
            client=customer,
            body=TicketCreateRequest(
                title=f"Printer {n} of run {s.run}",
                description="Printer is not working,\nshowing error 254.",
                ticket_priority=priority,
            ),
        )
        created = expect(resp, HTTPStatus.CREATED, TicketMessageEnvelope)
        ticket = created.data
        assert created.message == "Ticket successfully created.", created.message
        assert resp.headers["location"] == f"{BASE_PATH}/tickets/{ticket.field_id}", resp.headers
        assert ticket.status == TicketStatus.OPEN, ticket
        assert ticket.reporter == s.customer, ticket
        assert ticket.assignee == s.engineer, ticket
        assert ticket.ticket_priority == priority, ticket
        s.tickets.append(ticket)
    assert s.user(s.engineer).tickets_working_on_count == 3


def list_and_page(s: Story) -> None:
    """Filters, then pages of two through the customer's tickets with nextToken."""
    customer = s.as_user(s.customer)
    resp = list_tickets.sync_detailed(
        client=customer, ticket_priority=TicketPriority.VALUE_2, title=f"OF RUN {s.run}"
    )
    page = expect(resp, HTTPStatus.OK, TicketListEnvelope)
    want = [t.field_id for t in s.tickets if t.ticket_priority == TicketPriority.VALUE_2]
    assert [t.field_id for t in page.data] == want, page.data
    assert isinstance(page.next_token, Unset), page

    seen: list[str] = []
    token: str | Unset = UNSET
    pages = 0
    while True:
        resp = list_tickets.sync_detailed(
            client=customer, status=TicketStatus.OPEN, limit=2, next_token=token
        )
        page = expect(resp, HTTPStatus.OK, TicketListEnvelope)
        assert page.document_results_count == len(page.data) <= 2, page
        seen.extend(t.field_id for t in page.data)
        pages += 1
        if isinstance(page.next_token, Unset):
            break
        token = page.next_token
    assert seen == [t.field_id for t in s.tickets], seen
    assert pages == 2, pages

    # Nothing of ours is unassigned (`assignee=null` filters the unassigned tickets).
    resp = list_tickets.sync_detailed(client=s.as_user(ADMIN_ID), assignee="null")
    unassigned = expect(resp, HTTPStatus.OK, TicketListEnvelope)
    assert not {t.field_id for t in unassigned.data} & set(seen), unassigned.data


def update(s: Story) -> None:
    """The engineer closes the first ticket; their count follows."""
    first = s.tickets[0]
    engineer = s.as_user(s.engineer)
    resp = update_ticket.sync_detailed(
        first.field_id, client=engineer, body=TicketUpdateRequest(status=TicketStatus.CLOSED)
    )
    updated = expect(resp, HTTPStatus.OK, TicketMessageEnvelope)
    assert updated.message == "Ticket successfully updated.", updated.message
    assert updated.data.status == TicketStatus.CLOSED, updated.data
    got = get_ticket.sync_detailed(first.field_id, client=s.as_user(s.customer))
    again = expect(got, HTTPStatus.OK, TicketEnvelope).data
    assert again.status == TicketStatus.CLOSED and again.updated_at >= first.updated_at, again
    assert s.user(s.engineer).tickets_working_on_count == 2


def history(s: Story) -> None:
    """Creation, then the close, one entry per page; from/to are typed values."""
    first = s.tickets[0]
    customer = s.as_user(s.customer)
    entries: list[HistoryEntry] = []
    token: str | Unset = UNSET
    while True:
        resp = ticket_history.sync_detailed(first.field_id, client=customer, limit=1, next_token=token)
        page = expect(resp, HTTPStatus.OK, HistoryListEnvelope)
        entries.extend(page.data)
        if isinstance(page.next_token, Unset):
            break
        token = page.next_token
    assert [e.version for e in entries] == [1, 2], entries
    created, closed = entries
    assert created.actor == s.customer, created
    made = {c.field: (c.from_, c.to) for c in created.changes}
    assert made[ChangeField.TITLE] == (None, first.title), made
    assert made[ChangeField.TICKETPRIORITY] == (None, 2), made
    assert made[ChangeField.ASSIGNEE] == (None, s.engineer), made
    assert closed.actor == s.engineer, closed
    assert [(c.field, c.from_, c.to) for c in closed.changes] == [
        (ChangeField.STATUS, "OPEN", "CLOSED")
    ], closed.changes


def comments(s: Story) -> None:
    """The customer replies to the closed ticket (which reopens it), the engineer adds an
    internal note the customer never sees, and a customer's internal note is refused."""
    first = s.tickets[0]
    customer = s.as_user(s.customer)
    engineer = s.as_user(s.engineer)
    resp = add_comment.sync_detailed(
        first.field_id,
        client=customer,
        body=CommentCreateRequest(body="  Still broken:\nerror 254 again.  "),
    )
    added = expect(resp, HTTPStatus.CREATED, CommentMessageEnvelope)
    assert added.message == "Comment added.", added.message
    reply = added.data
    assert reply.body == "Still broken:\nerror 254 again.", reply
    assert reply.author == s.customer and reply.internal is False, reply
    assert reply.ticket_id == first.field_id, reply
    got = get_ticket.sync_detailed(first.field_id, client=customer)
    assert expect(got, HTTPStatus.OK, TicketEnvelope).data.status == TicketStatus.OPEN
    assert s.user(s.engineer).tickets_working_on_count == 3, "the reopened ticket counts again"

    resp = add_comment.sync_detailed(
        first.field_id,
        client=engineer,
        body=CommentCreateRequest(body="Toner ordered; do not promise a date.", internal=True),
    )
    note = expect(resp, HTTPStatus.CREATED, CommentMessageEnvelope).data
    assert note.internal is True, note
    resp = add_comment.sync_detailed(
        first.field_id, client=customer, body=CommentCreateRequest(body="Let me see.", internal=True)
    )
    fails(resp, HTTPStatus.FORBIDDEN, ErrorCode.FORBIDDEN)

    def thread(client: AuthenticatedClient) -> list[Comment]:
        out: list[Comment] = []
        token: str | Unset = UNSET
        while True:
            resp = list_comments.sync_detailed(first.field_id, client=client, limit=1, next_token=token)
            page = expect(resp, HTTPStatus.OK, CommentListEnvelope)
            assert page.document_results_count == len(page.data) <= 1, page
            out.extend(page.data)
            if isinstance(page.next_token, Unset):
                return out
            token = page.next_token

    assert [c.field_id for c in thread(engineer)] == [reply.field_id, note.field_id]
    assert [c.field_id for c in thread(customer)] == [reply.field_id], "no internal note for a customer"
    hist = ticket_history.sync_detailed(first.field_id, client=customer)
    last = expect(hist, HTTPStatus.OK, HistoryListEnvelope).data[-1]
    assert last.actor == s.customer, last
    assert [(c.field, c.from_, c.to) for c in last.changes] == [
        (ChangeField.STATUS, "CLOSED", "OPEN")
    ], last.changes


def error_codes(s: Story) -> None:
    """Each failure class parsed into ErrorEnvelope with its documented code."""
    customer = s.as_user(s.customer)
    admin = s.as_user(ADMIN_ID)
    ticket = s.tickets[1].field_id

    # 401: a token that is not one.
    bad = AuthenticatedClient(base_url=s.base_url, token="not.a.token", raise_on_unexpected_status=True)
    fails(list_tickets.sync_detailed(client=bad), HTTPStatus.UNAUTHORIZED, ErrorCode.INVALID_TOKEN)
    # 401: no token at all.
    fails(list_tickets.sync_detailed(client=s.anonymous), HTTPStatus.UNAUTHORIZED, ErrorCode.NO_TOKEN)
    # The seed's header works as well as Authorization: Bearer.
    seed_header = AuthenticatedClient(
        base_url=s.base_url,
        token=s.tokens[s.customer],
        prefix="",
        auth_header_name="x-access-token",
        raise_on_unexpected_status=True,
    )
    expect(get_ticket.sync_detailed(ticket, client=seed_header), HTTPStatus.OK, TicketEnvelope)

    # 403: a customer may not list users, nor see another user, nor set a userStatus.
    fails(list_users.sync_detailed(client=customer), HTTPStatus.FORBIDDEN, ErrorCode.FORBIDDEN)
    fails(get_user.sync_detailed(ADMIN_ID, client=customer), HTTPStatus.FORBIDDEN, ErrorCode.FORBIDDEN)
    resp = update_user.sync_detailed(
        s.customer, client=customer, body=UserUpdateRequest(user_status=UserStatus.REJECTED)
    )
    fails(resp, HTTPStatus.FORBIDDEN, ErrorCode.FORBIDDEN)
    # 403: only an admin reassigns.
    changed = update_ticket.sync_detailed(
        ticket, client=customer, body=TicketUpdateRequest(assignee=s.engineer)
    )
    fails(changed, HTTPStatus.FORBIDDEN, ErrorCode.FORBIDDEN)

    # 404: no such ticket, no such user.
    fails(get_ticket.sync_detailed(UNKNOWN_TICKET, client=admin), HTTPStatus.NOT_FOUND, ErrorCode.TICKET_NOT_FOUND)
    fails(get_user.sync_detailed(f"nobody.{s.run}", client=admin), HTTPStatus.NOT_FOUND, ErrorCode.USER_NOT_FOUND)

    # 400: status and assignee together; a bad limit; a nextToken of another listing.
    changed = update_ticket.sync_detailed(
        ticket, client=admin, body=TicketUpdateRequest(status=TicketStatus.BLOCKED, assignee=s.engineer)
    )
    fails(changed, HTTPStatus.BAD_REQUEST, ErrorCode.STATUS_AND_ASSIGNEE)
    listed = list_tickets.sync_detailed(client=customer, limit=0)
    assert fails(listed, HTTPStatus.BAD_REQUEST, ErrorCode.INVALID_QUERY).field == "limit"
    page = expect(list_tickets.sync_detailed(client=customer, limit=1), HTTPStatus.OK, TicketListEnvelope)
    assert isinstance(page.next_token, str), page
    hist = ticket_history.sync_detailed(ticket, client=customer, next_token=page.next_token)
    fails(hist, HTTPStatus.BAD_REQUEST, ErrorCode.INVALID_NEXT_TOKEN)
    got = get_ticket.sync_detailed("not-a-ulid", client=customer)
    assert fails(got, HTTPStatus.BAD_REQUEST, ErrorCode.VALIDATION_FAILED).field == "ticketId"

    # Nothing above changed the ticket.
    hist = ticket_history.sync_detailed(ticket, client=admin)
    assert [e.version for e in expect(hist, HTTPStatus.OK, HistoryListEnvelope).data] == [1]


def retry_a_creation(s: Story) -> None:
    """A creation sent twice with one Idempotency-Key: one ticket, the answer replayed; the
    key with another body: 422."""
    customer = s.as_user(s.customer)
    body = TicketCreateRequest(title=f"Retried {s.run}", description="Sent twice.")
    key = f"walk-{s.run}"
    first = create_ticket.sync_detailed(client=customer, body=body, idempotency_key=key)
    made = expect(first, HTTPStatus.CREATED, TicketMessageEnvelope).data
    assert "idempotent-replayed" not in first.headers, first.headers
    again = create_ticket.sync_detailed(client=customer, body=body, idempotency_key=key)
    replayed = expect(again, HTTPStatus.CREATED, TicketMessageEnvelope).data
    assert replayed.field_id == made.field_id, (replayed, made)
    assert again.headers["idempotent-replayed"] == "true", again.headers
    assert again.headers["location"] == first.headers["location"], again.headers
    other = TicketCreateRequest(title=f"Other {s.run}", description="Another body.")
    resp = create_ticket.sync_detailed(client=customer, body=other, idempotency_key=key)
    fails(resp, HTTPStatus.UNPROCESSABLE_ENTITY, ErrorCode.IDEMPOTENCY_KEY_REUSED)
    s.tickets.append(made)


def change_password_and_sign_out(s: Story) -> None:
    """A wrong current password is 403; a change revokes the old token (401 TOKEN_REVOKED);
    the new password signs in; a sign-out revokes that token too."""
    old = s.as_user(s.customer)
    resp = change_password.sync_detailed(
        s.customer,
        client=old,
        body=PasswordChangeRequest(new_password="N3w@walk-pw", current_password="Wrong@pass123"),
    )
    fails(resp, HTTPStatus.FORBIDDEN, ErrorCode.WRONG_PASSWORD)
    resp = change_password.sync_detailed(
        s.customer,
        client=old,
        body=PasswordChangeRequest(new_password="N3w@walk-pw", current_password=PASSWORD),
    )
    assert expect(resp, HTTPStatus.OK, MessageEnvelope).message == "Password changed."
    fails(get_user.sync_detailed(s.customer, client=old), HTTPStatus.UNAUTHORIZED, ErrorCode.TOKEN_REVOKED)
    s.sign_in(s.customer, "N3w@walk-pw")
    fresh = s.as_user(s.customer)
    expect(signout.sync_detailed(client=fresh), HTTPStatus.OK, MessageEnvelope)
    fails(get_user.sync_detailed(s.customer, client=fresh), HTTPStatus.UNAUTHORIZED, ErrorCode.TOKEN_REVOKED)


# The story, in order.
STEPS: list[Callable[[Story], None]] = [
    sign_up,
    sign_in,
    approve_engineer,
    create_tickets,
    list_and_page,
    update,
    history,
    comments,
    error_codes,
    retry_a_creation,
    change_password_and_sign_out,
]


def main(argv: list[str]) -> int:
    if len(argv) != 2:
        print(__doc__, file=sys.stderr)
        return 2
    story = Story(base_url=argv[1].rstrip("/"))
    for step in STEPS:
        step(story)
        print(f"ok  {step.__name__}")
    print(f"walk-through passed: {len(STEPS)} steps")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
