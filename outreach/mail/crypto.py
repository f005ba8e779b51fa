"""Mailbox passwords at rest: encrypted with the configured key, readable only by the app."""

from __future__ import annotations

from cryptography.fernet import Fernet, InvalidToken


class SecretUnreadableError(RuntimeError):
    """A stored secret does not open with the current key (the key was changed or lost)."""


def encrypt_secret(key: str, secret: str) -> str:
    return Fernet(key.encode()).encrypt(secret.encode()).decode() if secret else ""


def decrypt_secret(key: str, token: str) -> str:
    if not token:
        return ""
    try:
        return Fernet(key.encode()).decrypt(token.encode()).decode()
    except InvalidToken:
        raise SecretUnreadableError(
            "the stored mailbox password cannot be decrypted with the current "
            "mail_encryption_key; enter the password again"
        ) from None
