"""The jurisdiction in force right now: the configuration file plus any admin overrides.

Read inside the caller's transaction whenever an outcall takes its ladder snapshot, so every
bot process sees an admin's edit at once. An override that no longer validates (say the file
changed the legal model since) is ignored with a warning: the file is always the safe base.
"""

from __future__ import annotations

import logging

from pydantic import ValidationError
from sqlalchemy.orm import Session

from checkins.policy import Jurisdiction, Policy
from checkins.rules import merged
from storage.tables import JurisdictionRules

log = logging.getLogger(__name__)


_CACHE = "effective_jurisdictions"  # the session.info key of what `effective` worked out


def effective(session: Session, policy: Policy, jurisdiction_id: str) -> Jurisdiction:
    """`jurisdiction_id`'s rules as they stand, falling back to the file's.

    Worked out once per transaction and place: every alert of an engine group reads its
    place (the response protocol), and looking it up each time cost a query, a validation
    and — worst — an autoflush of the group's pending writes, one alert at a time. A
    transaction that changes the rules says so with `forget_effective`.
    """
    cache: dict[str, Jurisdiction] = session.info.setdefault(_CACHE, {})
    known = cache.get(jurisdiction_id)
    if known is None:
        with session.no_autoflush:
            known = cache[jurisdiction_id] = _effective(session, policy, jurisdiction_id)
    return known


def forget_effective(session: Session, jurisdiction_id: str) -> None:
    """The transaction changed `jurisdiction_id`'s rules: read them afresh next time."""
    session.info.get(_CACHE, {}).pop(jurisdiction_id, None)


def _effective(session: Session, policy: Policy, jurisdiction_id: str) -> Jurisdiction:
    base = policy.jurisdiction(jurisdiction_id)
    row = session.get(JurisdictionRules, base.id)
    if row is None or base.id not in policy.sources:
        return base
    try:
        rules = merged(policy.sources[base.id], row.rules, policy.limits)
        return rules.to_jurisdiction(base.id, policy.limits)
    except (ValidationError, ValueError):
        log.warning("admin rules for jurisdiction %s no longer validate; using the file's", base.id)
        return base
