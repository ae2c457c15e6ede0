"""Member invitations: one-time, expiring, stored hashed, beside the record and never in it (issue 12).

``shora member invite --name NAME`` (the operator, or a sitting board member with their key) issues one.
The invitation text the member gets is ``base64url(node id ‖ member id ‖ secret)``: the node it is for,
the pseudonymous id it binds (a new member's, chosen now, or an existing member's whose key it replaces),
and 16 random bytes. Only SHA-256 of the secret is stored, so the table lets nobody redeem an invitation;
a row is used once (``used_ms``) in the same transaction as the entry it allows.
"""

from __future__ import annotations

import hashlib
import sqlite3
from dataclasses import dataclass

import sqlite_utils

from federation.db import Migration
from protocol import codec
from protocol.errors import DecodeError

NODE_ID_LEN, MEMBER_LEN, SECRET_LEN = 32, 16, 16
TOKEN_LEN = NODE_ID_LEN + MEMBER_LEN + SECRET_LEN


def _schema(db: sqlite_utils.Database) -> None:
    db.execute(
        """CREATE TABLE member_invitations (
            secret_hash BLOB PRIMARY KEY, member_id BLOB NOT NULL, name TEXT NOT NULL,
            contact TEXT NOT NULL DEFAULT '', new_member INTEGER NOT NULL,
            issued_role TEXT NOT NULL, issued_key BLOB NOT NULL, issued_member BLOB,
            created_ms INTEGER NOT NULL, expires_ms INTEGER NOT NULL, used_ms INTEGER)"""
    )
    db.execute("CREATE INDEX member_invitations_member ON member_invitations (member_id)")


MIGRATIONS = [Migration("0601-member-invitations", _schema)]


@dataclass(frozen=True)
class Token:
    """What an invitation text carries."""

    node_id: bytes
    member: bytes
    secret: bytes

    def text(self) -> str:
        return codec.b64u(self.node_id + self.member + self.secret)

    @classmethod
    def parse(cls, text: str) -> Token:
        """Step ``DecodeError`` if ``text`` is not an invitation."""
        raw = codec.unb64u(text.strip(), TOKEN_LEN)
        return cls(raw[:NODE_ID_LEN], raw[NODE_ID_LEN:-SECRET_LEN], raw[-SECRET_LEN:])


def secret_hash(secret: bytes) -> bytes:
    return hashlib.sha256(b"shora/v1/invitation\x00" + secret).digest()


@dataclass(frozen=True)
class Invitation:
    member: bytes
    name: str
    contact: str
    new_member: bool
    issued_role: str
    issued_key: bytes
    issued_member: bytes | None
    expires_ms: int
    used_ms: int | None


INSERT = (
    "INSERT INTO member_invitations (secret_hash, member_id, name, contact, new_member, issued_role, "
    "issued_key, issued_member, created_ms, expires_ms) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
)
# the condition keeps a row used once even if two redemptions raced to the writer
USE = "UPDATE member_invitations SET used_ms = ? WHERE secret_hash = ? AND used_ms IS NULL"
# a new invitation for a member supersedes every earlier unused one for them
SUPERSEDE = "UPDATE member_invitations SET used_ms = ? WHERE member_id = ? AND used_ms IS NULL"


def find(conn: sqlite3.Connection, secret: bytes) -> Invitation | None:
    row = conn.execute(
        "SELECT member_id, name, contact, new_member, issued_role, issued_key, issued_member, expires_ms, "
        "used_ms FROM member_invitations WHERE secret_hash = ?",
        (secret_hash(secret),),
    ).fetchone()
    if row is None:
        return None
    member, name, contact, new, role, key, by, expires, used = row
    return Invitation(
        bytes(member),
        name,
        contact,
        bool(new),
        role,
        bytes(key),
        None if by is None else bytes(by),
        expires,
        used,
    )


def pending(conn: sqlite3.Connection, now_ms: int) -> int:
    row = conn.execute(
        "SELECT count(*) FROM member_invitations WHERE used_ms IS NULL AND expires_ms > ?", (now_ms,)
    ).fetchone()
    return int(row[0])


def parse_token(text: object) -> Token | None:
    if not isinstance(text, str):
        return None
    try:
        return Token.parse(text)
    except DecodeError:
        return None


def issue(
    conn: sqlite3.Connection,
    token: Token,
    invitation: Invitation,
    now_ms: int,
    pending_max: int,
) -> bool:
    """Store ``invitation`` (hashed) in one transaction, superseding the member's earlier unused ones;
    ``False`` (nothing stored) when ``pending_max`` invitations are waiting already."""
    conn.execute("BEGIN IMMEDIATE")
    try:
        if pending(conn, now_ms) >= pending_max:
            conn.execute("ROLLBACK")
            return False
        conn.execute(SUPERSEDE, (now_ms, invitation.member))
        conn.execute(
            INSERT,
            (
                secret_hash(token.secret),
                invitation.member,
                invitation.name,
                invitation.contact,
                int(invitation.new_member),
                invitation.issued_role,
                invitation.issued_key,
                invitation.issued_member,
                now_ms,
                invitation.expires_ms,
            ),
        )
        conn.execute("COMMIT")
    except BaseException:
        if conn.in_transaction:
            conn.execute("ROLLBACK")
        raise
    return True
