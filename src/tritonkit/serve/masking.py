"""Masking of values that look like credentials, for `--dry-run` output (env values, argv, repository URIs).

By name (`NGC_API_KEY`, `*_TOKEN`, `*PASSWORD*`...) and by shape: URLs with userinfo, `key=value` pairs
with secret-looking keys, HTTP authorization values, and the published formats of common keys (AWS access
key ids and secret keys, NGC `nvapi-` keys, GitHub, Hugging Face, Slack, OpenAI, Google, JWTs, private-key
blocks), plus long mixed-case high-entropy tokens (legacy NGC keys, most API keys). Hand-written rather
than detect-secrets: that scans files, knows no NGC format and pulls in requests for one --dry-run.
"""

from __future__ import annotations

import re

MASK = "***"
_SECRET_NAME = re.compile(r"KEY|TOKEN|SECRET|PASSW|CREDENTIAL|AUTH|PWD|SESSION|COOKIE", re.I)
# scheme://user:password@host or scheme://token@host: the whole userinfo goes.
_USERINFO = re.compile(r"(?P<scheme>\b[A-Za-z][A-Za-z0-9+.-]*://)(?P<userinfo>[^/@\s?#]+)@")
_PAIR = re.compile(
    r"(?P<key>(?:[\w-]*(?:pass(?:word)?|pwd|secret|token|api[_-]?key|access[_-]?key|credential|auth)"
    r"[\w-]*)\s*[=:]\s*)(?P<value>[^&\s,;\"']+)",
    re.I,
)
_AUTH_SCHEME = re.compile(r"(?P<key>\b(?:Bearer|Basic|Token|Digest)\s+)(?P<value>[A-Za-z0-9._~+/=-]{8,})")
_FORMATS = [
    re.compile(p)
    for p in (
        r"\b(?:AKIA|ASIA|ABIA|ACCA|AGPA|AIDA|AROA|ANPA|ANVA|AIPA)[0-9A-Z]{16}\b",  # AWS access key id
        r"\bnvapi-[A-Za-z0-9_-]{20,}",  # NGC personal / service keys
        r"\b(?:ghp|gho|ghu|ghs|ghr)_[A-Za-z0-9]{30,}\b|\bgithub_pat_[A-Za-z0-9_]{30,}\b",
        r"\bhf_[A-Za-z0-9]{30,}\b",  # Hugging Face
        r"\bxox[abposr]-[A-Za-z0-9-]{10,}",  # Slack
        r"\bsk-(?:proj-)?[A-Za-z0-9_-]{20,}",  # OpenAI-style
        r"\bAIza[0-9A-Za-z_-]{35}\b",  # Google API key
        r"\beyJ[A-Za-z0-9_-]{8,}\.eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]*",  # JWT
        r"-----BEGIN [A-Z ]*PRIVATE KEY-----[\s\S]*?(?:-----END [A-Z ]*PRIVATE KEY-----|$)",
    )
]
_KEEP = (MASK, "Bearer", "Basic", "Token", "Digest")  # already masked, or the scheme of a masked value
# A bare 40-character AWS secret access key, or any long token mixing upper, lower and digits.
_TOKEN = re.compile(r"(?<![A-Za-z0-9+/=_-])(?P<token>[A-Za-z0-9+/=_-]{32,})(?![A-Za-z0-9+/=_-])")


def _mixed(text: str) -> bool:
    return (
        any(c.isupper() for c in text) and any(c.islower() for c in text) and any(c.isdigit() for c in text)
    )


def _looks_random(token: str) -> bool:
    if "/" in token and len(token) != 40:  # a path segment run, not a key (AWS secrets are exactly 40)
        return False
    return _mixed(token) and len(set(token)) >= 12


def mask_text(text: str) -> str:
    """`text` with every part that looks like a credential replaced by ***."""
    if not text:
        return text
    text = _USERINFO.sub(lambda m: f"{m['scheme']}{MASK}@", text)
    text = _AUTH_SCHEME.sub(lambda m: f"{m['key']}{MASK}", text)
    text = _PAIR.sub(lambda m: m[0] if m["value"] in _KEEP else f"{m['key']}{MASK}", text)
    for pattern in _FORMATS:
        text = pattern.sub(MASK, text)
    return _TOKEN.sub(lambda m: MASK if _looks_random(m["token"]) else m["token"], text)


def mask_env(env: dict[str, str]) -> dict[str, str]:
    """Env with the values of secret-looking names masked whole, and secret-looking parts of the others."""
    return {k: (MASK if _SECRET_NAME.search(k) and v else mask_text(v)) for k, v in env.items()}


def mask_args(args: list[str]) -> list[str]:
    """Command-line items with their secret-looking parts masked."""
    return [mask_text(a) for a in args]
