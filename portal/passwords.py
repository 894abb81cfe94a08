"""Password hashing, the password policy and one-time temporary passwords."""
import functools
import gzip
import secrets
import threading
from pathlib import Path

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from flask_babel import gettext as _

# OWASP Password Storage Cheat Sheet minimum for argon2id: 19 MiB, t=2, p=1.
HASHER = PasswordHasher(time_cost=2, memory_cost=19 * 1024, parallelism=1)
MIN_LENGTH = 10
MAX_LENGTH = 128
# Each hash takes 19 MiB and a core for ~30 ms: a burst of logins queues here
# instead of exhausting memory.
_HASHING_SLOTS = threading.BoundedSemaphore(4)
# Letters and digits without look-alikes (0/O, 1/l/I): typed from an e-mail.
_TEMPORARY_ALPHABET = "abcdefghijkmnpqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789"
TEMPORARY_LENGTH = 14


def hash_password(password):
    with _HASHING_SLOTS:
        return HASHER.hash(password)


def verify_password(password_hash, password):
    """True when `password` matches; a missing hash is checked against a dummy one
    so that an unknown account costs the same time as a known one."""
    with _HASHING_SLOTS:
        try:
            return HASHER.verify(password_hash or _dummy_hash(), password) and bool(password_hash)
        except (VerificationError, InvalidHashError):
            return False


def needs_rehash(password_hash):
    return HASHER.check_needs_rehash(password_hash)


@functools.cache
def _dummy_hash():
    return HASHER.hash(secrets.token_urlsafe(16))


def new_temporary_password():
    return "".join(secrets.choice(_TEMPORARY_ALPHABET) for _ in range(TEMPORARY_LENGTH))


@functools.cache
def common_passwords():
    """The 20,000 most common passwords (the list Django ships; see data/NOTICE)."""
    path = Path(__file__).parent / "data" / "common-passwords.txt.gz"
    with gzip.open(path, "rt", encoding="utf-8") as lines:
        return frozenset(line.strip().lower() for line in lines if line.strip())


def policy_errors(password, customer_code=None):
    """Italian messages for what the new password breaks (empty when acceptable).
    ASVS 6.2: length only, no composition rules, common passwords refused."""
    errors = []
    if len(password) < MIN_LENGTH:
        errors.append(_("La password deve avere almeno %(count)s caratteri.", count=MIN_LENGTH))
    if len(password) > MAX_LENGTH:
        errors.append(_("La password può avere al massimo %(count)s caratteri.", count=MAX_LENGTH))
    lowered = password.strip().lower()
    if lowered in common_passwords():
        errors.append(_("Questa password è tra le più usate e facili da indovinare: "
                        "scegline un'altra."))
    if customer_code and customer_code in password:
        errors.append(_("La password non può contenere il codice cliente."))
    return errors
