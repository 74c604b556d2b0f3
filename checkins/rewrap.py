"""Moving a member's key to the configured Argon2id cost at their next correct PIN.

A member's secret key is wrapped at the cost in force when they chose their PIN (stored as
`members.kdf_ops` and `kdf_mem`). When the configured cost is higher (the deployment ran
"interactive", or by mistake "insecure-fast"), the same secret key is wrapped again at the
configured cost with a new salt the next time the member types their PIN correctly: nothing
sealed to them is lost, and a stolen database with the pepper no longer offers cheap guesses.

The duress PIN's verifier is bound to the member's salt and cost, and when the real PIN is
typed the duress PIN is unknown, so its verifier cannot follow. A member with a duress PIN
therefore keeps their salt and cost until they next set the duress PIN; then both PINs are
known and both move together. Nothing is said either way: no reply may hint that a duress PIN
exists, and the duress PIN must keep working.
"""

from __future__ import annotations

from nacl.public import PrivateKey

from checkins.context import Context, require_member
from checkins.messages import Identity
from checkins.sealing import KdfCost


def is_weaker(stored: KdfCost, configured: KdfCost) -> bool:
    """Whether a stored cost is cheaper to guess against than the configured one."""
    return stored.ops < configured.ops or stored.mem < configured.mem


def rewrap_if_weaker(
    ctx: Context,
    who: Identity,
    pin: str,
    secret: PrivateKey | None = None,
    duress_pin: str | None = None,
) -> bool:
    """After `pin` proved correct: re-wrap the member's key at the configured cost if theirs
    is weaker, and say whether it was done.

    `secret` is the key the caller already unwrapped (otherwise it is unwrapped again, at the
    old, cheaper cost). `duress_pin` is given when the member is setting it right now: its
    verifier then moves to the new salt and cost in the same transaction. Argon2id runs
    outside any transaction; a key changed meanwhile (another PIN change) is left alone.
    """
    with ctx.db.transaction() as session:
        member = require_member(session, who)
        stored = KdfCost(member.kdf_ops, member.kdf_mem)
        keeps_duress = member.duress_verifier is not None and duress_pin is None
        if keeps_duress or not member.wrapped_secret or not is_weaker(stored, ctx.sealer.cost):
            return False
        wrapped, salt = member.wrapped_secret, member.kdf_salt
    secret = secret or ctx.sealer.unwrap(pin, wrapped, salt, stored)
    keys = ctx.sealer.rewrap(secret, pin)
    verifier = ctx.sealer.duress_verifier(duress_pin, keys.salt, keys.cost) if duress_pin else None
    with ctx.db.transaction() as session:
        member = require_member(session, who)
        if member.wrapped_secret != wrapped or (member.duress_verifier and not duress_pin):
            return False
        member.wrapped_secret, member.kdf_salt = keys.wrapped_secret, keys.salt
        member.kdf_ops, member.kdf_mem = keys.cost.ops, keys.cost.mem
        if verifier is not None:
            member.duress_verifier = verifier
    return True
