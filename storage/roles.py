"""Reads about organisation roles: who responds, administers, moderates the warning list or is
verified to read it, for which jurisdiction.

A role row's `jurisdiction` is one jurisdiction id, or `*` for all of them.
"""

from __future__ import annotations

from sqlalchemy import ColumnElement, or_, select
from sqlalchemy.orm import Session

from storage.tables import Member, Role

ADMIN = "admin"
RESPONDER = "responder"
MODERATOR = "moderator"
VERIFIED = "verified"
# The organisation's people: they may hand out verification codes and read the list.
STAFF = (ADMIN, RESPONDER, MODERATOR)
EVERYWHERE = "*"


def _covering(jurisdiction: str) -> ColumnElement[bool]:
    return or_(Role.jurisdiction == jurisdiction, Role.jurisdiction == EVERYWHERE)


def members_with_role(
    session: Session, role: str, jurisdiction: str, *, on_duty_only: bool = False
) -> list[Member]:
    """Members holding `role` for `jurisdiction` (directly or everywhere), oldest first."""
    query = (
        select(Member)
        .join(Role, Role.member_id == Member.id)
        .where(Role.role == role, _covering(jurisdiction))
        .order_by(Role.id)
    )
    if on_duty_only:
        query = query.where(Role.on_duty.is_(True))
    return list(dict.fromkeys(session.scalars(query)))


def responders_on_duty(session: Session, jurisdiction: str) -> list[Member]:
    return members_with_role(session, RESPONDER, jurisdiction, on_duty_only=True)


def admins_of(session: Session, jurisdiction: str) -> list[Member]:
    return members_with_role(session, ADMIN, jurisdiction)


def roles_of(session: Session, member_id: int) -> list[Role]:
    return list(session.scalars(select(Role).where(Role.member_id == member_id).order_by(Role.id)))


def has_role(session: Session, member_id: int, role: str, jurisdiction: str) -> bool:
    """Whether the member holds `role` for `jurisdiction` (or everywhere)."""
    found = session.scalar(
        select(Role.id).where(
            Role.member_id == member_id, Role.role == role, _covering(jurisdiction)
        )
    )
    return found is not None


def has_any_role(
    session: Session, member_id: int, kinds: tuple[str, ...], jurisdiction: str
) -> bool:
    """Whether the member holds one of `kinds` for `jurisdiction` (or everywhere)."""
    found = session.scalar(
        select(Role.id).where(
            Role.member_id == member_id, Role.role.in_(kinds), _covering(jurisdiction)
        )
    )
    return found is not None


def members_with_any_role(
    session: Session, kinds: tuple[str, ...], jurisdiction: str
) -> list[Member]:
    """Members holding one of `kinds` for `jurisdiction` (directly or everywhere), oldest first."""
    query = (
        select(Member)
        .join(Role, Role.member_id == Member.id)
        .where(Role.role.in_(kinds), _covering(jurisdiction))
        .order_by(Role.id)
    )
    return list(dict.fromkeys(session.scalars(query)))
