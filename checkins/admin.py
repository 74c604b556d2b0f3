"""Running the organisation from the bot: roles by one-time code, per-jurisdiction rules edited
by admins, the audit log, and the organisation's texts (know-your-rights, response protocol).

A deployment is one organisation. Anyone may register; roles (admin, responder, moderator,
verified) are granted only by redeeming a one-time code, of which only a pepper-keyed hash is
stored. An admin's rule change is validated by exactly the rules the configuration file is held to
(`checkins.rules.merged`), stored as overrides over the file, and written to the append-only
audit log in the same transaction. Outcalls keep the ladder they started with.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import Enum
from typing import Any

from pydantic import BaseModel, TypeAdapter, ValidationError
from sqlalchemy import select
from sqlalchemy.orm import Session

from checkins import report_texts, texts
from checkins.actions import OrgText, Timing
from checkins.context import Context, Refusal, require_member
from checkins.escalation import tell
from checkins.i18n import _
from checkins.jurisdictions import effective, forget_effective
from checkins.ladder import LegalModel, Notify
from checkins.messages import Identity, Message
from checkins.parsing import normalise_code
from checkins.rules import (
    MAX_STAGES,
    PROTOCOL_MAX_CHARS,
    RIGHTS_MAX_CHARS,
    Duration,
    JurisdictionConfig,
    merged,
)
from storage.roles import (
    ADMIN,
    EVERYWHERE,
    MODERATOR,
    RESPONDER,
    STAFF,
    VERIFIED,
    has_any_role,
    has_role,
    roles_of,
)
from storage.tables import AuditEntry, JurisdictionRules, Member, Role, RoleInvite

ROLES = (ADMIN, RESPONDER, MODERATOR, VERIFIED)
ROLE_CODE_PREFIX = "R"
ROLE_CODE_TTL = timedelta(hours=24)
# 10 characters from 30 is 49 bits: far beyond guessing within a day.
_ROLE_CODE_ALPHABET = "23456789ABCDEFGHJKMNPQRSTVWXYZ"
_ROLE_CODE_LENGTH = 10
# Timings an admin may set, by the short name buttons carry.
DURATION_KEYS: dict[str, str] = {
    Timing.REMINDER: "reminder_before",
    Timing.ACK_TIMEOUT: "ack_timeout",
    Timing.MAX_EXTENSION: "max_extension",
    Timing.RETENTION: "details_retention",
}
# Each organisation text: the rules key it is stored under, and its longest length.
ORG_TEXTS: dict[OrgText, tuple[str, int]] = {
    OrgText.RIGHTS: ("rights", RIGHTS_MAX_CHARS),
    OrgText.PROTOCOL: ("protocol", PROTOCOL_MAX_CHARS),
}
SERVER = "server"
_DURATION = TypeAdapter(Duration)


@dataclass(frozen=True)
class AuditView:
    at: datetime
    actor: str
    actor_id: int | None
    action: str
    jurisdiction: str | None
    before: dict[str, Any] | None
    after: dict[str, Any] | None


@dataclass(frozen=True)
class RoleCode:
    """A freshly made role code, shown once; only its keyed hash is stored."""

    code: str
    expires_at: datetime


def is_role_code(text: str) -> bool:
    """Role codes look like `R-7KQ2X-9HMPA`; buddy codes (`ABCD-EFGH`) are shorter."""
    code = normalise_code(text)
    return code.startswith(ROLE_CODE_PREFIX) and len(code) == 1 + _ROLE_CODE_LENGTH


class AdminService:
    """What admins (and, for `/rights`, every member) can do about the organisation."""

    def __init__(self, ctx: Context) -> None:
        self.db = ctx.db
        self.sealer = ctx.sealer
        self.policy = ctx.policy
        self.clock = ctx.clock

    # -- roles ---------------------------------------------------------------------------

    def server_invite(self, role: str, jurisdiction: str) -> RoleCode:
        """A role code made on the server (`buddycheck admin invite`): how the first admin
        gets in, and a way back in if every admin lost their phone."""
        self._check_role_target(role, jurisdiction)
        with self.db.transaction() as session:
            made = self._new_code(session, role, jurisdiction, None)
            self._audit(session, None, "invite_created", jurisdiction, None, {"role": role})
            return made

    def invite(self, who: Identity, role: str, jurisdiction: str) -> RoleCode:
        """An admin makes a one-time code granting `role` for a jurisdiction they administer."""
        self._check_role_target(role, jurisdiction)
        with self.db.transaction() as session:
            admin = self._admin(session, who, jurisdiction)
            made = self._new_code(session, role, jurisdiction, admin.id)
            self._audit(session, admin, "invite_created", jurisdiction, None, {"role": role})
            shown, place = show_code(made.code), self._place(jurisdiction)
            tell(
                session,
                self.policy,
                admin,
                lambda r: texts.role_code_created(role, place, shown, r.on(made.expires_at)),
                self.clock(),
            )
            return made

    def verification_code(self, who: Identity) -> RoleCode:
        """`/verify`: an admin, responder or moderator makes a one-time code that makes a worker
        a verified member of the caller's place (able to read the warning list). Handed out in
        person, so someone who merely registered can never read or probe the list."""
        now = self.clock()
        with self.db.transaction() as session:
            member = require_member(session, who)
            place = member.jurisdiction
            if not has_any_role(session, member.id, STAFF, place):
                raise Refusal(report_texts.staff_only())
            made = self._new_code(session, VERIFIED, place, member.id)
            self._audit(session, member, "invite_created", place, None, {"role": VERIFIED})
            shown, expires = show_code(made.code), made.expires_at
            tell(
                session,
                self.policy,
                member,
                lambda r: Message(report_texts.verification_code(place, shown, r.at(expires))),
                now,
            )
            return made

    def accept_role(self, who: Identity, code: str) -> None:
        """Redeem a role code. Unknown, used and expired codes get the same answer."""
        now = self.clock()
        digest = self.sealer.keyed_hash(normalise_code(code))
        with self.db.transaction() as session:
            member = require_member(session, who)
            invite = session.scalar(
                select(RoleInvite).where(RoleInvite.code_hash == digest).with_for_update()
            )
            if invite is None or invite.used_at is not None or invite.expires_at <= now:
                raise Refusal(
                    _(
                        "That code doesn't work. It may be mistyped, used already, or expired. "
                        "Ask an admin of your organisation for a new one."
                    )
                )
            role, jurisdiction = invite.role, invite.jurisdiction
            held = {(r.role, r.jurisdiction) for r in roles_of(session, member.id)}
            if (role, jurisdiction) in held:
                raise Refusal(_("You already have this role. Nothing has changed."))
            invite.used_at = now
            session.add(
                Role(member_id=member.id, role=role, jurisdiction=jurisdiction, created_at=now)
            )
            self._audit(
                session,
                member,
                "role_granted",
                jurisdiction,
                None,
                {"role": role, "to": member.alias},
            )
            place = self._place(jurisdiction)
            tell(session, self.policy, member, lambda r: texts.role_granted(role, place), now)

    def show_roles(self, who: Identity, jurisdiction: str) -> None:
        """Send the admin the people holding roles for `jurisdiction`, with remove buttons."""
        with self.db.transaction() as session:
            admin = self._admin(session, who, jurisdiction)
            held = self._roles_for(session, jurisdiction)
            place = self._place(jurisdiction)
            tell(
                session,
                self.policy,
                admin,
                lambda r: texts.roles_screen(jurisdiction, place, held),
                self.clock(),
            )

    def revoke(self, who: Identity, role_id: int) -> None:
        """Remove a role. A place is never left without an admin."""
        now = self.clock()
        gone = Refusal(_("That role was already removed. Send /admin to see who has roles now."))
        with self.db.transaction() as session:
            member = require_member(session, who)
            if not self._administered(session, member):
                raise Refusal(texts.admins_only())
            # Lock every admin role first, so two admins removing each other can't both win.
            session.scalars(select(Role.id).where(Role.role == ADMIN).with_for_update()).all()
            role = session.get(Role, role_id)
            if role is None:
                raise gone
            admin = self._admin(session, who, role.jurisdiction)
            holder = session.get_one(Member, role.member_id)
            session.delete(role)
            session.flush()
            if role.role == ADMIN and not self._every_place_has_an_admin(session, role):
                raise Refusal(
                    _(
                        "You can't remove the last admin. Invite another admin first, "
                        "then try again."
                    )
                )
            what = {"role": role.role, "from": holder.alias}
            self._audit(session, admin, "role_revoked", role.jurisdiction, what, None)
            kind, place = role.role, self._place(role.jurisdiction)
            tell(session, self.policy, holder, lambda r: texts.role_removed(kind, place), now)
            held = self._roles_for(session, role.jurisdiction)
            shown_for = role.jurisdiction
            tell(
                session,
                self.policy,
                admin,
                lambda r: texts.roles_screen(shown_for, place, held),
                now,
            )

    # -- rules -----------------------------------------------------------------------------

    def open_menu(self, who: Identity) -> None:
        """`/admin`: the rules of the one place this admin runs, or a choice of places."""
        with self.db.transaction() as session:
            member = require_member(session, who)
            places = self._administered(session, member)
            if not places:
                raise Refusal(texts.admins_only())
            if len(places) == 1:
                self._tell_rules(session, member, places[0], None)
                return
            named = [(place, self._place(place)) for place in places]
            tell(session, self.policy, member, lambda r: texts.pick_place(named), self.clock())

    def require_admin(self, who: Identity, jurisdiction: str) -> None:
        """Refuse now, before asking an admin to type something they could not save."""
        with self.db.transaction() as session:
            self._admin(session, who, jurisdiction)

    def show_rules(self, who: Identity, jurisdiction: str) -> None:
        with self.db.transaction() as session:
            admin = self._admin(session, who, jurisdiction)
            self._tell_rules(session, admin, jurisdiction, None)

    def show_stage(self, who: Identity, jurisdiction: str, index: int) -> None:
        """One step of the ladder, with what can be changed about it."""
        with self.db.transaction() as session:
            admin = self._admin(session, who, jurisdiction)
            stages = self._current(session, jurisdiction).ladder
            stage = _stage_at(stages, index)
            tell(
                session,
                self.policy,
                admin,
                lambda r: texts.stage_screen(jurisdiction, index, stage.after, stage.notify),
                self.clock(),
            )

    def target_choices(self, jurisdiction: str) -> list[Notify]:
        """Who a step may alert here; the emergency contact only where the law makes it safe."""
        place = self.policy.jurisdiction(jurisdiction)
        allowed = [Notify.WORKER, Notify.BUDDIES, Notify.RESPONDERS]
        if place.ladder.legal_model is LegalModel.DECRIMINALISED and place.emergency_contact:
            allowed.append(Notify.EMERGENCY)
        return allowed

    def set_stage_after(self, who: Identity, jurisdiction: str, index: int, text: str) -> None:
        after = _read_duration(text)

        def edit(current: JurisdictionConfig) -> dict[str, Any]:
            stages = _stage_list(current)
            _stage_at(current.ladder, index)
            stages[index]["after"] = after
            return {"ladder": _in_order(stages)}

        self._change(who, jurisdiction, "ladder_changed", edit)

    def set_stage_notify(self, who: Identity, jurisdiction: str, index: int, notify: str) -> None:
        target = _read_notify(notify)

        def edit(current: JurisdictionConfig) -> dict[str, Any]:
            stages = _stage_list(current)
            _stage_at(current.ladder, index)
            stages[index]["notify"] = target.value
            return {"ladder": stages}

        self._change(who, jurisdiction, "ladder_changed", edit)

    def add_stage(self, who: Identity, jurisdiction: str, text: str, notify: str) -> None:
        after, target = _read_duration(text), _read_notify(notify)

        def edit(current: JurisdictionConfig) -> dict[str, Any]:
            stages = _stage_list(current)
            if len(stages) >= MAX_STAGES:
                raise Refusal(
                    _("A ladder can have at most {n} steps. Remove one first.").format(n=MAX_STAGES)
                )
            stages.append({"after": after, "notify": target.value})
            return {"ladder": _in_order(stages)}

        self._change(who, jurisdiction, "ladder_changed", edit)

    def remove_stage(self, who: Identity, jurisdiction: str, index: int) -> None:
        def edit(current: JurisdictionConfig) -> dict[str, Any]:
            stages = _stage_list(current)
            _stage_at(current.ladder, index)
            del stages[index]
            return {"ladder": stages}

        self._change(who, jurisdiction, "ladder_changed", edit)

    def set_duration(self, who: Identity, jurisdiction: str, key: str, text: str) -> None:
        """Set `reminder_before`, `ack_timeout`, `max_extension` or `details_retention`
        (by its short name)."""
        if key not in DURATION_KEYS:
            raise Refusal(texts.stale_button())
        value = _read_duration(text)
        self._change(who, jurisdiction, "rules_changed", lambda c: {DURATION_KEYS[key]: value})

    def toggle_sealing(self, who: Identity, jurisdiction: str) -> None:
        """Turn on or off the sealed copy of the details for on-duty responders."""
        self._change(
            who,
            jurisdiction,
            "rules_changed",
            lambda current: {"seal_to_responders": not current.seal_to_responders},
        )

    def set_rights(self, who: Identity, jurisdiction: str, locale: str, text: str | None) -> None:
        """Write (or with `None`, remove) the know-your-rights text in one language."""
        self.set_text(who, jurisdiction, OrgText.RIGHTS, locale, text)

    def set_text(
        self, who: Identity, jurisdiction: str, kind: OrgText, locale: str, text: str | None
    ) -> None:
        """Write (or with `None`, remove) one of the organisation's texts in one language:
        validated, stored and audited like every other rule change."""
        locale = read_locale(locale)
        key, most = ORG_TEXTS[kind]
        if text is not None:
            text = text.strip()
            if not text:
                raise Refusal(_("The text is empty. Send the text, or choose Stop."))
            if len(text) > most:
                raise Refusal(
                    _(
                        "That text is {n} characters; the most is {most}. "
                        "Please shorten it and send it again."
                    ).format(n=len(text), most=most)
                )

        def edit(current: JurisdictionConfig) -> dict[str, Any]:
            written = {k: v for k, v in getattr(current, key).items() if k != locale}
            if text is not None:
                written[locale] = text
            return {key: written}

        self._change(who, jurisdiction, f"{key}_changed", edit, texts.text_saved(kind))

    def text_languages(self, who: Identity, jurisdiction: str, kind: OrgText) -> list[str]:
        """Languages worth offering: the admin's, the place's, and any already written."""
        with self.db.transaction() as session:
            admin = self._admin(session, who, jurisdiction)
            written = getattr(self._current(session, jurisdiction), ORG_TEXTS[kind][0])
            place = self.policy.jurisdiction(jurisdiction)
            return list(dict.fromkeys([admin.locale, place.locale, *sorted(written)]))

    def reset(self, who: Identity, jurisdiction: str) -> None:
        """Drop every admin change for `jurisdiction`: the file's rules apply again."""
        with self.db.transaction() as session:
            admin = self._admin(session, who, jurisdiction)
            row = session.get(JurisdictionRules, jurisdiction, with_for_update=True)
            keys = set(row.rules) if row else set()
            current = self._current(session, jurisdiction)
            if row is not None:
                session.delete(row)
                session.flush()
                forget_effective(session, jurisdiction)
            base = merged(self.policy.sources[jurisdiction], {}, self.policy.limits)
            before, after = _stored_form(current, keys), _stored_form(base, keys)
            self._audit(session, admin, "rules_reset", jurisdiction, before, after)
            self._tell_rules(session, admin, jurisdiction, texts.rules_reset())

    # -- know your rights ------------------------------------------------------------------

    def show_rights(self, who: Identity) -> None:
        """`/rights`: the text for the member's place in their language, else the place's."""
        with self.db.transaction() as session:
            member = require_member(session, who)
            place = effective(session, self.policy, member.jurisdiction)
            text = place.written(place.rights, member.locale)
            tell(session, self.policy, member, lambda r: texts.rights(text), self.clock())

    # -- the audit log -----------------------------------------------------------------------

    def audit_log(self, limit: int = 200) -> list[AuditView]:
        """The newest `limit` entries, oldest first (for `buddycheck admin audit`)."""
        with self.db.transaction() as session:
            rows = session.scalars(select(AuditEntry).order_by(AuditEntry.id.desc()).limit(limit))
            return [
                AuditView(
                    row.at,
                    row.actor,
                    row.actor_id,
                    row.action,
                    row.jurisdiction,
                    row.before,
                    row.after,
                )
                for row in reversed(list(rows))
            ]

    # -- helpers -----------------------------------------------------------------------------

    def _change(
        self,
        who: Identity,
        jurisdiction: str,
        action: str,
        edit: Callable[[JurisdictionConfig], dict[str, Any]],
        saved: str | None = None,
    ) -> None:
        """Apply one edit: validate as the file is validated, store, audit, show the result
        (with `saved`, or the rules' own notice)."""
        now = self.clock()
        with self.db.transaction() as session:
            admin = self._admin(session, who, jurisdiction)
            source = self.policy.sources[jurisdiction]
            row = session.get(JurisdictionRules, jurisdiction, with_for_update=True)
            stored = self._valid_overrides(jurisdiction, row)
            current = merged(source, stored, self.policy.limits)
            changes = edit(current)
            try:
                updated = merged(source, {**stored, **changes}, self.policy.limits)
            except ValidationError as error:
                raise Refusal(texts.rules_refused(_reason(error))) from None
            overrides = _stored_form(updated, set(stored) | set(changes))
            if row is None:
                session.add(
                    JurisdictionRules(
                        jurisdiction=jurisdiction,
                        rules=overrides,
                        updated_at=now,
                        updated_by_id=admin.id,
                    )
                )
            else:
                row.rules, row.updated_at, row.updated_by_id = overrides, now, admin.id
            before, after = _stored_form(current, set(changes)), _stored_form(updated, set(changes))
            self._audit(session, admin, action, jurisdiction, before, after)
            session.flush()
            forget_effective(session, jurisdiction)
            self._tell_rules(session, admin, jurisdiction, saved or texts.rules_saved())

    def _valid_overrides(self, jurisdiction: str, row: JurisdictionRules | None) -> dict[str, Any]:
        """The stored overrides, or none if they no longer fit the file (as `effective` does)."""
        if row is None:
            return {}
        try:
            merged(self.policy.sources[jurisdiction], row.rules, self.policy.limits)
        except ValueError:
            return {}
        return dict(row.rules)

    def _current(self, session: Session, jurisdiction: str) -> JurisdictionConfig:
        row = session.get(JurisdictionRules, jurisdiction)
        overrides = self._valid_overrides(jurisdiction, row)
        return merged(self.policy.sources[jurisdiction], overrides, self.policy.limits)

    def _tell_rules(
        self, session: Session, admin: Member, jurisdiction: str, notice: str | None
    ) -> None:
        config = self._current(session, jurisdiction)
        ladder = config.to_ladder(self.policy.limits)
        place = self._place(jurisdiction)
        rights, protocol = sorted(config.rights), sorted(config.protocol)
        tell(
            session,
            self.policy,
            admin,
            lambda r: texts.rules_screen(jurisdiction, place, ladder, rights, protocol, notice),
            self.clock(),
        )

    def _admin(self, session: Session, who: Identity, jurisdiction: str) -> Member:
        """The caller, if they administer `jurisdiction`; the same refusal for everyone else."""
        member = require_member(session, who)
        known = jurisdiction == EVERYWHERE or jurisdiction in self.policy.sources
        if not known or not has_role(session, member.id, ADMIN, jurisdiction):
            raise Refusal(texts.admins_only())
        return member

    def _administered(self, session: Session, member: Member) -> list[str]:
        places = {r.jurisdiction for r in roles_of(session, member.id) if r.role == ADMIN}
        if EVERYWHERE in places:
            return sorted(self.policy.sources)
        return sorted(places & set(self.policy.sources))

    def _roles_for(self, session: Session, jurisdiction: str) -> list[texts.RoleLine]:
        rows = session.execute(
            select(Role, Member)
            .join(Member, Member.id == Role.member_id)
            .where(Role.jurisdiction.in_([jurisdiction, EVERYWHERE]))
            .order_by(Role.role, Role.id)
        )
        return [
            texts.RoleLine(role.id, member.alias, role.role, self._place(role.jurisdiction))
            for role, member in rows
        ]

    def _every_place_has_an_admin(self, session: Session, removed: Role) -> bool:
        places = (
            list(self.policy.sources)
            if removed.jurisdiction == EVERYWHERE
            else [removed.jurisdiction]
        )
        return all(
            session.scalar(
                select(Role.id).where(
                    Role.role == ADMIN, Role.jurisdiction.in_([place, EVERYWHERE])
                )
            )
            is not None
            for place in places
        )

    def _check_role_target(self, role: str, jurisdiction: str) -> None:
        if role not in ROLES:
            raise Refusal(
                _("There is no such role. Roles: {known}.").format(known=", ".join(ROLES))
            )
        if jurisdiction != EVERYWHERE and jurisdiction not in self.policy.sources:
            raise Refusal(
                _("There is no such place. Known: {known}.").format(
                    known=", ".join(sorted(self.policy.sources))
                )
            )

    def _new_code(
        self, session: Session, role: str, jurisdiction: str, created_by: int | None
    ) -> RoleCode:
        body = "".join(secrets.choice(_ROLE_CODE_ALPHABET) for _i in range(_ROLE_CODE_LENGTH))
        code = ROLE_CODE_PREFIX + body
        expires = self.clock() + ROLE_CODE_TTL
        session.add(
            RoleInvite(
                code_hash=self.sealer.keyed_hash(code),
                role=role,
                jurisdiction=jurisdiction,
                created_by_id=created_by,
                expires_at=expires,
            )
        )
        return RoleCode(code, expires)

    def _audit(
        self,
        session: Session,
        actor: Member | None,
        action: str,
        jurisdiction: str | None,
        before: dict[str, Any] | None,
        after: dict[str, Any] | None,
    ) -> None:
        """Append one entry. Nothing here ever updates or deletes an entry."""
        session.add(
            AuditEntry(
                at=self.clock(),
                actor_id=actor.id if actor else None,
                actor=actor.alias if actor else SERVER,
                action=action,
                jurisdiction=jurisdiction,
                before=before,
                after=after,
            )
        )

    def _place(self, jurisdiction: str) -> str:
        """A role's or rule screen's place as the reader calls it (its name, else its id)."""
        if jurisdiction == EVERYWHERE:
            return texts.everywhere()
        place = self.policy.jurisdictions.get(jurisdiction)
        return texts.place_name(place) if place else jurisdiction


def show_code(code: str) -> str:
    """`R7KQ2X9HMPA` → `R-7KQ2X-9HMPA`: easier to read out and type."""
    body = code.removeprefix(ROLE_CODE_PREFIX)
    return f"{ROLE_CODE_PREFIX}-{body[:5]}-{body[5:]}"


def read_locale(text: str) -> str:
    """A language code like `en`, `es` or `pt_BR`; anything else is refused."""
    value = text.strip().replace("-", "_")
    language, _sep, region = value.partition("_")
    if not (2 <= len(language) <= 3 and language.isascii() and language.isalpha()) or (
        region and not (len(region) == 2 and region.isascii() and region.isalpha())
    ):
        raise Refusal(_("That is not a language code. Send two letters, like en, es or pt."))
    return language.lower() + (f"_{region.upper()}" if region else "")


def _read_duration(text: str) -> timedelta:
    """Read a typed length of time with the configuration file's own rules."""
    try:
        return _DURATION.validate_python(text)
    except ValidationError as error:
        raise Refusal(texts.rules_refused(_reason(error))) from None


def _read_notify(value: str) -> Notify:
    try:
        return Notify(value)
    except ValueError:
        raise Refusal(texts.stale_button()) from None


def _stage_at(stages: list[Any], index: int) -> Any:
    if not 0 <= index < len(stages):
        raise Refusal(texts.stale_button())
    return stages[index]


def _stage_list(config: JurisdictionConfig) -> list[dict[str, Any]]:
    return [{"after": stage.after, "notify": stage.notify.value} for stage in config.ladder]


def _in_order(stages: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Steps sorted by how late they come, so changing one time never breaks the order."""
    return sorted(stages, key=lambda stage: stage["after"])


def _reason(error: ValidationError) -> str:
    """The first reason the rules gave, as the plain sentence they wrote."""
    return str(error.errors()[0]["msg"]).removeprefix("Value error, ")


def _stored_form(config: JurisdictionConfig, keys: set[str]) -> dict[str, Any]:
    """`keys` of `config` as JSON the rules read back (durations in seconds)."""
    return {key: _plain(getattr(config, key)) for key in sorted(keys)}


def _plain(value: Any) -> Any:
    if isinstance(value, timedelta):
        return int(value.total_seconds())
    if isinstance(value, BaseModel):
        return _plain(value.model_dump())
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, dict):
        return {key: _plain(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_plain(item) for item in value]
    return value
