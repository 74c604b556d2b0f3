"""The schema: members, roles, pairings, invites, outcalls, sealed details, alerts, the
outbox, runtime jurisdiction rules and the admin audit log.

There is no plaintext column for outcall details: `envelopes` and `sealed_keys` hold
ciphertext only, and both are deleted when an outcall ends (crypto-shredding).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, ClassVar

from sqlalchemy import (
    JSON,
    Boolean,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

from storage.types import UTCDateTime


class Base(DeclarativeBase):
    """Declarative base; every datetime column is a UTC-aware one."""

    type_annotation_map: ClassVar[dict[Any, Any]] = {datetime: UTCDateTime()}


class Member(Base):
    """A person known to the bot by a messenger identity and a self-chosen alias.

    No legal name, no phone number where the messenger gives a stable id. The X25519 secret
    key is stored only wrapped by a key derived from the member's PIN and the server pepper.
    """

    __tablename__ = "members"
    __table_args__ = (UniqueConstraint("channel", "address", name="uq_members_identity"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    channel: Mapped[str] = mapped_column(String(16))
    address: Mapped[str] = mapped_column(String(128))
    alias: Mapped[str] = mapped_column(String(64))
    locale: Mapped[str] = mapped_column(String(16))
    jurisdiction: Mapped[str] = mapped_column(String(64))
    public_key: Mapped[bytes] = mapped_column(LargeBinary(32))
    wrapped_secret: Mapped[bytes] = mapped_column(LargeBinary(128))
    kdf_salt: Mapped[bytes] = mapped_column(LargeBinary(32))
    kdf_ops: Mapped[int] = mapped_column(Integer)
    kdf_mem: Mapped[int] = mapped_column(Integer)
    # Wrong PINs when unlocking details or changing settings (they protect the key)...
    pin_failures: Mapped[int] = mapped_column(Integer, default=0)
    pin_locked_until: Mapped[datetime | None]
    # ...and, counted apart, wrong check-in PINs: a duress PIN is honoured even then.
    checkin_failures: Mapped[int] = mapped_column(Integer, default=0)
    checkin_locked_until: Mapped[datetime | None]
    # "I forgot my PIN" asked at this time: new keys only after the cooling-off period.
    reset_requested_at: Mapped[datetime | None]
    # Asked to be deleted while an SOS or duress outcall of theirs was open: their messenger
    # identity is already detached; the row goes once a buddy or responder settles it.
    departed_at: Mapped[datetime | None]
    unreachable_since: Mapped[datetime | None]
    # When the reachability check last probed this member's chat.
    probed_at: Mapped[datetime | None]
    # "I'm safe" asks for the PIN (opt-in); a duress PIN then raises a silent SOS.
    checkin_pin: Mapped[bool] = mapped_column(Boolean, default=False)
    duress_verifier: Mapped[bytes | None] = mapped_column(LargeBinary(32))
    # Only in decriminalised jurisdictions, and only with this consent.
    emergency_opt_in: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime]

    # Read-only views, loaded only when the engine preloads a batch of stages (see
    # `storage.queries.preload_stages`); every write goes through the link table itself.
    buddy_links: Mapped[list[BuddyLink]] = relationship(
        foreign_keys="BuddyLink.worker_id", order_by="BuddyLink.id", viewonly=True
    )


class Role(Base):
    """An organisation role: `admin`, `responder`, `moderator` or `verified`, for one
    jurisdiction or `*` (all).

    Responders are alerted when a member's buddies don't answer, but only while on duty.
    Moderators publish the warning list's reports; verified members may read it.
    """

    __tablename__ = "roles"
    __table_args__ = (
        UniqueConstraint("member_id", "role", "jurisdiction", name="uq_roles_member_role"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    member_id: Mapped[int] = mapped_column(ForeignKey("members.id", ondelete="CASCADE"), index=True)
    role: Mapped[str] = mapped_column(String(16))
    jurisdiction: Mapped[str] = mapped_column(String(64))
    on_duty: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime]


class RoleInvite(Base):
    """A one-time code that grants a role. Only a keyed hash of the code is stored.

    `created_by_id` is empty for the first admin's code, printed on the server.
    """

    __tablename__ = "role_invites"

    id: Mapped[int] = mapped_column(primary_key=True)
    code_hash: Mapped[bytes] = mapped_column(LargeBinary(32), unique=True)
    role: Mapped[str] = mapped_column(String(16))
    jurisdiction: Mapped[str] = mapped_column(String(64))
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("members.id", ondelete="SET NULL"))
    expires_at: Mapped[datetime]
    used_at: Mapped[datetime | None]


class JurisdictionRules(Base):
    """An admin's runtime changes to a jurisdiction, layered over the configuration file.

    `rules` holds only the keys an admin changed; the merged result is validated by the same
    rules as the file before it is stored and again every time it is read.
    """

    __tablename__ = "jurisdiction_rules"

    jurisdiction: Mapped[str] = mapped_column(String(64), primary_key=True)
    rules: Mapped[dict[str, Any]] = mapped_column(JSON)
    updated_at: Mapped[datetime]
    updated_by_id: Mapped[int | None] = mapped_column(ForeignKey("members.id", ondelete="SET NULL"))


class AuditEntry(Base):
    """Append-only record of admin actions: who, when, what. Never an outcall's details.

    The code only ever inserts here; `actor` keeps the admin's alias as it was at the time.
    """

    __tablename__ = "audit_log"

    id: Mapped[int] = mapped_column(primary_key=True)
    at: Mapped[datetime]
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("members.id", ondelete="SET NULL"))
    actor: Mapped[str] = mapped_column(String(64))
    action: Mapped[str] = mapped_column(String(32))
    jurisdiction: Mapped[str | None] = mapped_column(String(64))
    before: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    after: Mapped[dict[str, Any] | None] = mapped_column(JSON)


class BuddyLink(Base):
    """`buddy` receives `worker`'s alerts and can unlock the worker's sealed details."""

    __tablename__ = "buddy_links"
    __table_args__ = (UniqueConstraint("worker_id", "buddy_id", name="uq_buddy_links_pair"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    worker_id: Mapped[int] = mapped_column(ForeignKey("members.id", ondelete="CASCADE"))
    buddy_id: Mapped[int] = mapped_column(ForeignKey("members.id", ondelete="CASCADE"))
    created_at: Mapped[datetime]

    buddy: Mapped[Member] = relationship(foreign_keys=[buddy_id], viewonly=True)


class Invite(Base):
    """A one-time buddy invitation. Only a keyed hash of the code is stored."""

    __tablename__ = "invites"

    id: Mapped[int] = mapped_column(primary_key=True)
    code_hash: Mapped[bytes] = mapped_column(LargeBinary(32), unique=True)
    worker_id: Mapped[int] = mapped_column(ForeignKey("members.id", ondelete="CASCADE"))
    expires_at: Mapped[datetime]
    used_at: Mapped[datetime | None]


class Outcall(Base):
    """One booking being watched. `next_action_at` is the deadline the engine acts on.

    `ladder` is a snapshot of the jurisdiction's escalation ladder taken at creation, so an
    outcall keeps the rules it started under even if an admin edits them later.
    """

    __tablename__ = "outcalls"
    __table_args__ = (Index("ix_outcalls_next_action_at", "next_action_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    ref: Mapped[str] = mapped_column(String(16), unique=True)
    worker_id: Mapped[int] = mapped_column(ForeignKey("members.id", ondelete="CASCADE"), index=True)
    jurisdiction: Mapped[str] = mapped_column(String(64))
    state: Mapped[str] = mapped_column(String(16), index=True)
    ladder: Mapped[dict[str, Any]] = mapped_column(JSON)
    due_at: Mapped[datetime]
    next_action_at: Mapped[datetime | None]
    next_stage: Mapped[int] = mapped_column(Integer, default=0)
    reminded: Mapped[bool] = mapped_column(Boolean, default=False)
    sos: Mapped[bool] = mapped_column(Boolean, default=False)
    # Raised by a duress PIN: escalates as SOS while the worker's chat looks checked in.
    duress: Mapped[bool] = mapped_column(Boolean, default=False)
    # A practice run: clearly marked, never reaches an emergency contact.
    drill: Mapped[bool] = mapped_column(Boolean, default=False)
    # The plate matched a published report and the worker went anyway: the alert says so.
    report_match: Mapped[bool] = mapped_column(Boolean, default=False)
    # The worker's emergency-contact consent as it stood when they raised SOS or duress:
    # whoever holds the phone afterwards cannot withdraw it from this outcall.
    emergency_consent: Mapped[bool] = mapped_column(Boolean, default=False)
    acknowledged_by_id: Mapped[int | None] = mapped_column(
        ForeignKey("members.id", ondelete="SET NULL")
    )
    extended_minutes: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime]
    # When the retention limit closes it if still open (empty: rows from before 0003, which
    # fall back to the configured `[retention] details`).
    expires_at: Mapped[datetime | None] = mapped_column(index=True)
    ended_at: Mapped[datetime | None]

    # Read-only views for the engine's preloaded batches (`storage.queries.preload_stages`).
    worker: Mapped[Member] = relationship(foreign_keys=[worker_id], viewonly=True)
    alerts: Mapped[list[Alert]] = relationship(viewonly=True)
    sealed_keys: Mapped[list[SealedKey]] = relationship(viewonly=True)


class Envelope(Base):
    """The outcall's details, encrypted once with a random data key (XSalsa20-Poly1305)."""

    __tablename__ = "envelopes"

    outcall_id: Mapped[int] = mapped_column(
        ForeignKey("outcalls.id", ondelete="CASCADE"), primary_key=True
    )
    ciphertext: Mapped[bytes] = mapped_column(LargeBinary)


class SealedKey(Base):
    """The outcall's data key sealed to one recipient's public key."""

    __tablename__ = "sealed_keys"

    outcall_id: Mapped[int] = mapped_column(
        ForeignKey("outcalls.id", ondelete="CASCADE"), primary_key=True
    )
    member_id: Mapped[int] = mapped_column(
        ForeignKey("members.id", ondelete="CASCADE"), primary_key=True
    )
    sealed: Mapped[bytes] = mapped_column(LargeBinary(128))


class Alert(Base):
    """Who has been alerted about an outcall, so everyone alerted hears how it ended."""

    __tablename__ = "alerts"

    outcall_id: Mapped[int] = mapped_column(
        ForeignKey("outcalls.id", ondelete="CASCADE"), primary_key=True
    )
    member_id: Mapped[int] = mapped_column(
        ForeignKey("members.id", ondelete="CASCADE"), primary_key=True
    )
    # The ladder stage that alerted them; None when they were not alerted by a stage (an
    # admin told as the last resort, a drill's practice alert).
    stage: Mapped[int | None] = mapped_column(Integer)
    # An admin alerted once because the ladder was spent; never alerted again by repeats.
    last_resort: Mapped[bool] = mapped_column(Boolean, default=False)
    alerted_at: Mapped[datetime]
    # A drill: when they tapped Got it.
    got_it_at: Mapped[datetime | None]

    member: Mapped[Member] = relationship(viewonly=True)


class OutboxMessage(Base):
    """A message waiting to be delivered, written in the same transaction as the change.

    At-least-once: a row is marked sent only after the messenger accepted it. `dedupe_key`
    stops the same logical message from being queued twice.
    """

    __tablename__ = "outbox"
    __table_args__ = (Index("ix_outbox_pending", "state", "priority", "next_attempt_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    channel: Mapped[str] = mapped_column(String(16))
    address: Mapped[str] = mapped_column(String(128))
    member_id: Mapped[int | None] = mapped_column(ForeignKey("members.id", ondelete="CASCADE"))
    outcall_id: Mapped[int | None] = mapped_column(ForeignKey("outcalls.id", ondelete="SET NULL"))
    kind: Mapped[str] = mapped_column(String(16))
    priority: Mapped[int] = mapped_column(Integer)
    text: Mapped[str] = mapped_column(Text)
    buttons: Mapped[list[list[list[str]]]] = mapped_column(JSON, default=list)
    input_hint: Mapped[str | None] = mapped_column(String(16))
    # The language the text was written in, for a recipient who is not a member yet (a
    # newcomer registering): the channel renders its own words ("Reply 1 for …") in it.
    locale: Mapped[str | None] = mapped_column(String(16))
    dedupe_key: Mapped[str | None] = mapped_column(String(128), unique=True)
    state: Mapped[str] = mapped_column(String(8), default="pending")
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime]
    claimed_until: Mapped[datetime | None]
    # The process instance holding the claim (`[outbox] instance`), so a restart frees it.
    claimed_by: Mapped[str | None] = mapped_column(String(64))
    last_error: Mapped[str | None] = mapped_column(String(32))
    created_at: Mapped[datetime]
    sent_at: Mapped[datetime | None]


class Report(Base):
    """A report of a dangerous client for the warning list (`checkins.reports`).

    Plates and phone numbers are stored only as a pepper-keyed hash of their folded form
    (`checkins.normalise`), with a short hint only if the reporter agreed. `reporter_id`,
    `question` and `answer` exist only while the report waits for moderation: publishing
    or rejecting it clears them, so a published report names nobody.
    """

    __tablename__ = "reports"
    __table_args__ = (Index("ix_reports_list", "jurisdiction", "state", "expires_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    jurisdiction: Mapped[str] = mapped_column(String(64))
    state: Mapped[str] = mapped_column(String(16))
    kind: Mapped[str | None] = mapped_column(String(16))
    plate_hash: Mapped[bytes | None] = mapped_column(LargeBinary(32), index=True)
    plate_hint: Mapped[str | None] = mapped_column(String(8))
    phone_hash: Mapped[bytes | None] = mapped_column(LargeBinary(32), index=True)
    phone_hint: Mapped[str | None] = mapped_column(String(8))
    vehicle: Mapped[str | None] = mapped_column(Text)
    description: Mapped[str | None] = mapped_column(Text)
    area: Mapped[str | None] = mapped_column(String(120))
    happened: Mapped[str | None] = mapped_column(String(16))
    reporter_id: Mapped[int | None] = mapped_column(
        ForeignKey("members.id", ondelete="SET NULL"), index=True
    )
    question: Mapped[str | None] = mapped_column(Text)
    answer: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime]
    published_at: Mapped[datetime | None]
    expires_at: Mapped[datetime | None]


class Raid(Base):
    """A raid alert: police or immigration activity, in words, for a few hours.

    Like a report, it names its reporter only while it waits for moderation.
    """

    __tablename__ = "raids"
    __table_args__ = (Index("ix_raids_list", "jurisdiction", "state", "expires_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    jurisdiction: Mapped[str] = mapped_column(String(64))
    state: Mapped[str] = mapped_column(String(16))
    kind: Mapped[str | None] = mapped_column(String(16))
    area: Mapped[str | None] = mapped_column(String(120))
    happened: Mapped[str | None] = mapped_column(String(16))
    reporter_id: Mapped[int | None] = mapped_column(
        ForeignKey("members.id", ondelete="SET NULL"), index=True
    )
    created_at: Mapped[datetime]
    published_at: Mapped[datetime | None]
    expires_at: Mapped[datetime | None]


class RaidDelivery(Base):
    """Who was sent a raid alert, so a withdrawal reaches the same people; deleted with it."""

    __tablename__ = "raid_deliveries"

    raid_id: Mapped[int] = mapped_column(
        ForeignKey("raids.id", ondelete="CASCADE"), primary_key=True
    )
    member_id: Mapped[int] = mapped_column(
        ForeignKey("members.id", ondelete="CASCADE"), primary_key=True
    )


class ReportMute(Base):
    """A member who turned off the messages about new reports (they are on by default)."""

    __tablename__ = "report_mutes"

    member_id: Mapped[int] = mapped_column(
        ForeignKey("members.id", ondelete="CASCADE"), primary_key=True
    )
