"""Secret references: config files hold `env:NAME` or `file:/path`, never the secret itself.

The resolved value is a pydantic SecretStr, so it is masked in reprs, logs and error output.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated

from pydantic import BeforeValidator, SecretStr


def resolve_secret(reference: object) -> SecretStr:
    if isinstance(reference, SecretStr):
        return reference
    if not isinstance(reference, str):
        raise ValueError("expected a secret reference 'env:NAME' or 'file:/path'")
    kind, _, target = reference.partition(":")
    if kind == "env" and target:
        value = os.environ.get(target)
        if value is None:
            raise ValueError(f"environment variable {target} is not set")
        return SecretStr(value)
    if kind == "file" and target:
        path = Path(target)
        try:
            return SecretStr(path.read_text(encoding="utf-8").strip())
        except OSError as exc:
            raise ValueError(f"cannot read secret file {path}: {exc.strerror}") from None
    raise ValueError("expected a secret reference 'env:NAME' or 'file:/path', not a literal value")


Secret = Annotated[SecretStr, BeforeValidator(resolve_secret)]
