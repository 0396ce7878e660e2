"""Secret values out of Airflow command lines, before they are logged or kept in history.

Connection passwords (in ``--conn-uri`` URIs, ``--conn-password``, ``--conn-json``),
connection extras and variable values become ``***``, as Airflow's own secrets masker
shows them; everything else - the command, ids, hosts, logins - is kept, so an audit log
or a shell history still says what was done.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from urllib.parse import urlsplit

MASK = "***"
_SECRET_OPTIONS = ("--conn-password", "--conn-extra")  # their values are masked whole
_URI_OPTIONS = ("--conn-uri",)
_JSON_OPTIONS = ("--conn-json",)
_SECRET_JSON_KEYS = {"password", "extra"}


def mask_uri(uri: str) -> str:
    """``uri`` with its password (and any secret-looking query value) masked; otherwise
    exactly as given."""
    try:
        parts = urlsplit(uri)
    except ValueError:
        return MASK
    out = uri
    if parts.password is not None and "@" in parts.netloc:
        userinfo, _, host = parts.netloc.rpartition("@")
        user = userinfo.partition(":")[0]
        out = out.replace(parts.netloc, f"{user}:{MASK}@{host}", 1)
    if parts.query:
        query = re.sub(
            r"(?i)((?:^|&)[^=&]*(?:password|secret|token|key|passwd)[^=&]*=)[^&]*",
            lambda m: m.group(1) + MASK,
            parts.query,
        )
        head, _, rest = out.partition("?")
        out = f"{head}?{rest.replace(parts.query, query, 1)}"
    return out


def _mask_json(text: str) -> str:
    try:
        doc = json.loads(text)
    except ValueError:
        return MASK
    if not isinstance(doc, dict):
        return MASK
    for key in list(doc):
        if key.lower() in _SECRET_JSON_KEYS and doc[key]:
            doc[key] = MASK
    return json.dumps(doc)


def _option(arg: str, names: Sequence[str]) -> str | None:
    """The option of ``names`` that ``arg`` spells (a unique prefix, ``--opt=value`` too)."""
    name = arg.split("=", 1)[0]
    if len(name) <= 2 or not name.startswith("--"):
        return None
    hits = [n for n in names if n.startswith(name)]
    return hits[0] if len(hits) == 1 else None


def mask_argv(argv: Sequence[str]) -> list[str]:
    """``argv`` with secret values replaced (see the module docstring)."""
    out = list(argv)
    command = " ".join(out[:2])
    if out[:1] == ["variables"] and len(out) > 3 and out[1] in ("-s", "--set"):
        out[3] = MASK  # Airflow 1.10: variables -s KEY VALUE
        return out
    if command in ("variables set",):
        # variables set KEY VALUE [--description D] [--serialize-json]: mask the value
        positional = [i for i in range(2, len(out)) if not out[i].startswith("-")]
        skip = _values_of(out, ("--description",))
        positional = [i for i in positional if i not in skip]
        if len(positional) >= 2:
            out[positional[1]] = MASK
    if command in ("connections add",):
        maskers = {
            **dict.fromkeys(_SECRET_OPTIONS, lambda _v: MASK),
            **dict.fromkeys(_URI_OPTIONS, mask_uri),
            **dict.fromkeys(_JSON_OPTIONS, _mask_json),
        }
        names = tuple(maskers)
        index = 2
        while index < len(out):
            arg = out[index]
            option = _option(arg, names)
            if option is not None:
                if "=" in arg:
                    out[index] = f"{arg.split('=', 1)[0]}={maskers[option](arg.split('=', 1)[1])}"
                elif index + 1 < len(out):
                    out[index + 1] = maskers[option](out[index + 1])
                    index += 1
            elif "://" in arg and not arg.startswith("-"):  # a URI given positionally
                out[index] = mask_uri(arg)
            index += 1
    return out


def _values_of(argv: Sequence[str], options: Sequence[str]) -> set[int]:
    """Indexes of the values that follow ``options`` in ``argv``."""
    found = set()
    for i, arg in enumerate(argv[:-1]):
        if _option(arg, options) is not None and "=" not in arg:
            found.add(i + 1)
    return found


def mask_line(line: str) -> str:
    """A typed command line (a shell history entry) with secrets masked; kept as typed when it
    cannot be split."""
    import shlex

    try:
        argv = shlex.split(line)
    except ValueError:
        return line
    masked = mask_argv(argv)
    return line if masked == argv else shlex.join(masked)


# Airflow's own list of sensitive names (core.sensitive_var_conn_names' defaults)
_SENSITIVE_NAMES = (
    "access_token", "api_key", "apikey", "authorization", "passphrase", "passwd",
    "password", "private_key", "secret", "token", "keyfile_dict", "service_account",
)  # fmt: skip


def looks_secret(name: str) -> bool:
    """Whether a variable named ``name`` holds a secret by Airflow's rules (or is a
    connection, whose URI may hold a password)."""
    lowered = name.lower()
    return lowered.startswith("airflow_conn_") or any(s in lowered for s in _SENSITIVE_NAMES)
