"""Sealing outcall details so that only the chosen recipients can read them.

- Each member has an X25519 key pair. The secret key is stored wrapped with SecretBox under
  KEK = BLAKE2b(key=pepper, Argon2id(PIN, salt)). The pepper lives outside the database, so a
  database dump alone cannot even be brute-forced.
- Details are encrypted once with a random data key; the data key is sealed (SealedBox) to
  each recipient's public key. Destroying the envelope destroys the details for everyone.
- Plaintext is padded to a fixed bucket so ciphertext length does not hint at its content.
"""

from __future__ import annotations

import hmac
import json
from dataclasses import dataclass
from enum import Enum, auto

import nacl.exceptions
import nacl.pwhash.argon2id as argon2id
import nacl.utils
from nacl.encoding import RawEncoder
from nacl.hash import blake2b
from nacl.public import PrivateKey, PublicKey, SealedBox
from nacl.secret import SecretBox

from checkins.argon2_pool import Argon2Pool

PEPPER_MIN_BYTES = 32
_PAD_BUCKET = 512
# Domain separation: a duress verifier can never equal a key-encryption key.
_DURESS_PERSON = b"bc-duress-pin"


@dataclass(frozen=True)
class KdfCost:
    """Argon2id cost. Stored per member so a later change of default never locks anyone out."""

    ops: int
    mem: int


KDF_COSTS = {
    "moderate": KdfCost(argon2id.OPSLIMIT_MODERATE, argon2id.MEMLIMIT_MODERATE),
    "interactive": KdfCost(argon2id.OPSLIMIT_INTERACTIVE, argon2id.MEMLIMIT_INTERACTIVE),
    # Only for tests and the throwaway demo: trivially brute-forceable.
    "insecure-fast": KdfCost(argon2id.OPSLIMIT_MIN, argon2id.MEMLIMIT_MIN),
}


@dataclass(frozen=True)
class Details:
    """What a worker wants their buddies to know if they don't check in."""

    plate: str
    address: str
    notes: str = ""
    # A shared location, `lat,lon` (`checkins.locations`); sealed like the rest, never elsewhere.
    location: str = ""


@dataclass(frozen=True)
class WrappedKeyPair:
    public_key: bytes
    wrapped_secret: bytes
    salt: bytes
    cost: KdfCost


@dataclass(frozen=True)
class SealedDetails:
    envelope: bytes
    sealed_keys: dict[int, bytes]


class WrongPin(Exception):
    """The PIN did not unwrap the secret key."""


class PinMatch(Enum):
    """What a PIN typed at a check-in turned out to be."""

    PIN = auto()
    DURESS = auto()
    WRONG = auto()


class Sealer:
    """Key wrapping and envelope encryption, bound to the server pepper.

    Every Argon2id run goes through `argon2` when one is given (the running service: see
    `checkins/argon2_pool.py`), else runs on the calling thread (the command line, tests).
    """

    def __init__(self, pepper: bytes, cost: KdfCost, argon2: Argon2Pool | None = None) -> None:
        if len(pepper) < PEPPER_MIN_BYTES:
            raise ValueError(f"the pepper must be at least {PEPPER_MIN_BYTES} bytes")
        self._pepper = pepper
        self.cost = cost
        self._argon2 = argon2

    def new_key_pair(
        self, pin: str, salt: bytes = b"", cost: KdfCost | None = None
    ) -> WrappedKeyPair:
        """A fresh key pair whose secret half only `pin` (with the pepper) can unwrap.

        `salt` and `cost` keep a member's across new keys, so their duress verifier (bound to
        both) stays valid; a new salt and the configured cost are used when none is given.
        """
        return self.rewrap(PrivateKey.generate(), pin, salt, cost)

    def unwrap(self, pin: str, wrapped_secret: bytes, salt: bytes, cost: KdfCost) -> PrivateKey:
        """The member's secret key, or `WrongPin`."""
        return self._unwrap_stretched(self._stretch(pin, salt, cost), wrapped_secret)

    def rewrap(
        self, secret: PrivateKey, new_pin: str, salt: bytes = b"", cost: KdfCost | None = None
    ) -> WrappedKeyPair:
        """The same key pair wrapped under `new_pin` (a PIN change). Keeping the member's
        `salt` and `cost` keeps their duress verifier valid; otherwise a new salt is drawn
        and the configured cost used."""
        salt = salt or nacl.utils.random(argon2id.SALTBYTES)
        cost = cost or self.cost
        box = SecretBox(self._kek_of(self._stretch(new_pin, salt, cost)))
        return WrappedKeyPair(
            public_key=bytes(secret.public_key),
            wrapped_secret=bytes(box.encrypt(bytes(secret))),
            salt=salt,
            cost=cost,
        )

    def duress_verifier(self, duress_pin: str, salt: bytes, cost: KdfCost) -> bytes:
        """A pepper-keyed verifier of the duress PIN: it recognises the PIN, never stores it.

        Bound to the member's salt and cost, which PIN changes and resets therefore keep.
        """
        return self._duress_of(self._stretch(duress_pin, salt, cost))

    def match_pin(
        self,
        pin: str,
        wrapped_secret: bytes,
        salt: bytes,
        cost: KdfCost,
        duress_verifier: bytes | None,
    ) -> PinMatch:
        """Whether `pin` is the member's PIN, their duress PIN, or neither.

        One Argon2id run serves both checks, so the answer takes the same time either way.
        """
        stretched = self._stretch(pin, salt, cost)
        try:
            self._unwrap_stretched(stretched, wrapped_secret)
            return PinMatch.PIN
        except WrongPin:
            pass
        if duress_verifier and hmac.compare_digest(self._duress_of(stretched), duress_verifier):
            return PinMatch.DURESS
        return PinMatch.WRONG

    @staticmethod
    def seal(details: Details, recipients: dict[int, bytes]) -> SealedDetails:
        """Encrypt `details` once and seal the data key to each recipient's public key."""
        data_key = nacl.utils.random(SecretBox.KEY_SIZE)
        envelope = bytes(SecretBox(data_key).encrypt(_pad(details)))
        sealed = {
            member_id: bytes(SealedBox(PublicKey(public_key)).encrypt(data_key))
            for member_id, public_key in recipients.items()
        }
        return SealedDetails(envelope=envelope, sealed_keys=sealed)

    @staticmethod
    def open(envelope: bytes, sealed_key: bytes, secret: PrivateKey) -> Details:
        """Decrypt an envelope with the recipient's secret key."""
        data_key = SealedBox(secret).decrypt(sealed_key)
        return _unpad(SecretBox(data_key).decrypt(envelope))

    def keyed_hash(self, value: str) -> bytes:
        """A pepper-keyed hash, for looking up secrets we must not store (invite codes)."""
        return blake2b(value.encode(), key=self._pepper, digest_size=32, encoder=RawEncoder)

    def _stretch(self, pin: str, salt: bytes, cost: KdfCost) -> bytes:
        def work() -> bytes:
            return argon2id.kdf(
                SecretBox.KEY_SIZE, pin.encode(), salt, opslimit=cost.ops, memlimit=cost.mem
            )

        return self._argon2.run(work) if self._argon2 else work()

    def _kek_of(self, stretched: bytes) -> bytes:
        return blake2b(
            stretched, key=self._pepper, digest_size=SecretBox.KEY_SIZE, encoder=RawEncoder
        )

    def _duress_of(self, stretched: bytes) -> bytes:
        return blake2b(
            stretched,
            key=self._pepper,
            person=_DURESS_PERSON.ljust(16, b"\0"),
            digest_size=32,
            encoder=RawEncoder,
        )

    def _unwrap_stretched(self, stretched: bytes, wrapped_secret: bytes) -> PrivateKey:
        if not wrapped_secret:  # keys destroyed by a panic wipe: no PIN can open them
            raise WrongPin()
        try:
            raw = SecretBox(self._kek_of(stretched)).decrypt(wrapped_secret)
        except nacl.exceptions.CryptoError:
            raise WrongPin() from None
        return PrivateKey(raw)


def _pad(details: Details) -> bytes:
    raw = json.dumps(
        {
            "plate": details.plate,
            "address": details.address,
            "notes": details.notes,
            "location": details.location,
        },
        ensure_ascii=False,
    ).encode()
    size = -(-(len(raw) + 1) // _PAD_BUCKET) * _PAD_BUCKET
    return raw + b"\n" + b" " * (size - len(raw) - 1)


def _unpad(padded: bytes) -> Details:
    data = json.loads(padded.split(b"\n", 1)[0])
    # Envelopes sealed before locations were shared have no "location".
    return Details(data["plate"], data["address"], data["notes"], data.get("location", ""))
