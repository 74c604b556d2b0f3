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


def effective(session: Session, policy: Policy, jurisdiction_id: str) -> Jurisdiction:
    """`jurisdiction_id`'s rules as they stand, falling back to the file's."""
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
