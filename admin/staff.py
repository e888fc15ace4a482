"""Staff users and notes: create, authenticate, change password, add a note.

Passwords are hashed with argon2id when ``argon2-cffi`` is installed, otherwise with
werkzeug's scrypt (N=2^15, r=8, p=1); both hashes verify, so installing argon2 later
upgrades each hash at the user's next login.
"""

from __future__ import annotations

from datetime import datetime
from functools import cache

from praho.admin.models import StaffNote, StaffRole, StaffUser
from praho.core import validation as v
from praho.core.clock import resolve_now
from praho.core.errors import FieldError
from praho.core.models.audit import ActorType
from praho.core.services.audit import Actor, record_audit
from sqlalchemy import func, select
from sqlalchemy.orm import Session
from werkzeug.security import check_password_hash, generate_password_hash

MIN_PASSWORD_LENGTH = 12
MAX_PASSWORD_LENGTH = 256
NOTE_OBJECTS = ("customer", "invoice", "subscription")

try:  # argon2 is optional; scrypt from the standard library is the fallback
    from argon2 import PasswordHasher
    from argon2.exceptions import Argon2Error

    _ARGON2: PasswordHasher | None = PasswordHasher()
except ImportError:  # pragma: no cover - depends on the environment
    _ARGON2 = None



@cache
def _dummy_hash() -> str:
    """Verified when the e-mail is unknown, so a wrong e-mail costs as long as a wrong
    password. Made on first use: hashing at import would slow every worker's start."""
    return hash_password("praho-timing-equaliser")


def staff_actor(user: StaffUser) -> Actor:
    """The audit actor for a staff user (``user:<email>``)."""
    return Actor(ActorType.USER, user.email)


def hash_password(password: str) -> str:
    """A salted slow hash of ``password`` (argon2id if available, else scrypt)."""
    if _ARGON2 is not None:
        return _ARGON2.hash(password)
    return generate_password_hash(password, method="scrypt")


def verify_password(stored: str, password: str) -> bool:
    """True when ``password`` matches ``stored`` (either scheme); constant-time compare."""
    if stored.startswith("$argon2"):
        if _ARGON2 is None:
            return False
        try:
            return bool(_ARGON2.verify(stored, password))
        except Argon2Error:
            return False
    return check_password_hash(stored, password)


def _check_password(password: object) -> str:
    if not isinstance(password, str) or len(password) < MIN_PASSWORD_LENGTH:
        raise FieldError("password", f"must be at least {MIN_PASSWORD_LENGTH} characters long")
    if len(password) > MAX_PASSWORD_LENGTH:
        raise FieldError("password", f"must be at most {MAX_PASSWORD_LENGTH} characters long")
    return password


def find_staff(session: Session, email: str) -> StaffUser | None:
    """The staff user with this e-mail (case-insensitive), or None."""
    query = select(StaffUser).where(func.lower(StaffUser.email) == email.strip().lower())
    return session.execute(query).scalar_one_or_none()


def create_staff_user(
    session: Session,
    *,
    email: str,
    name: str,
    role: str,
    password: str,
    language: str = "ro",
    actor: Actor | None = None,
    now: datetime | None = None,
) -> StaffUser:
    """Create a staff user; every field is checked before anything is written."""
    moment = resolve_now(now)
    errors = v.Collector()
    clean_email = errors.check(v.email, "email", email)
    clean_name = errors.check(v.text, "name", name, max_length=120)
    clean_role = errors.check(v.choice, "role", role, StaffRole)
    clean_language = errors.check(v.choice, "language", language, ("ro", "en"))
    errors.check(_check_password, password)
    if clean_email and find_staff(session, clean_email) is not None:
        errors.errors.append(FieldError("email", f"{clean_email} already has a staff account"))
    errors.raise_if_any()
    user = StaffUser(
        email=clean_email.lower(),
        name=clean_name,
        role=StaffRole(clean_role),
        password_hash=hash_password(password),
        language=clean_language,
        active=True,
        session_version=1,
        created_at=moment,
    )
    session.add(user)
    session.flush()
    record_audit(
        session,
        actor=actor,
        action="staff_user.created",
        object_type="staff_user",
        object_id=user.id,
        data={"email": user.email, "role": str(user.role)},
        now=moment,
    )
    return user


def authenticate(
    session: Session, email: str, password: str, *, now: datetime | None = None
) -> StaffUser | None:
    """The active staff user with these credentials, or None (same cost either way)."""
    if not isinstance(email, str) or not isinstance(password, str):
        return None
    if len(email) > 254 or len(password) > MAX_PASSWORD_LENGTH:
        return None
    user = find_staff(session, email)
    if user is None:
        verify_password(_dummy_hash(), password)
        return None
    if not verify_password(user.password_hash, password) or not user.active:
        return None
    if _ARGON2 is not None and not user.password_hash.startswith("$argon2"):
        user.password_hash = hash_password(password)  # upgrade the scheme on success
    user.last_login_at = resolve_now(now)
    session.flush()
    return user


def set_password(
    session: Session,
    user: StaffUser,
    password: str,
    *,
    actor: Actor | None = None,
    now: datetime | None = None,
) -> None:
    """Replace the password; sessions opened with the old one stop working."""
    _check_password(password)
    user.password_hash = hash_password(password)
    user.session_version += 1
    session.flush()
    record_audit(
        session,
        actor=actor,
        action="staff_user.password_changed",
        object_type="staff_user",
        object_id=user.id,
        now=resolve_now(now),
    )


def add_note(
    session: Session,
    author: StaffUser,
    *,
    object_type: str,
    object_id: int,
    body: str,
    now: datetime | None = None,
) -> StaffNote:
    """Append a note to a customer, document or subscription (any role may)."""
    errors = v.Collector()
    errors.check(v.choice, "object_type", object_type, NOTE_OBJECTS)
    clean_body = errors.check(v.text, "body", body, max_length=4000)
    if not isinstance(object_id, int) or object_id <= 0:
        errors.errors.append(FieldError("object_id", "must be a positive id"))
    errors.raise_if_any()
    note = StaffNote(
        object_type=object_type,
        object_id=object_id,
        author_id=author.id,
        body=clean_body,
        created_at=resolve_now(now),
    )
    session.add(note)
    session.flush()
    return note


def notes_for(session: Session, object_type: str, object_id: int) -> list[StaffNote]:
    """Notes on one object, oldest first."""
    query = (
        select(StaffNote)
        .where(StaffNote.object_type == object_type, StaffNote.object_id == object_id)
        .order_by(StaffNote.id)
    )
    return list(session.execute(query).scalars())
