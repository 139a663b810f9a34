#!/usr/bin/env python
"""Refuse bad template variables before cookiecutter writes anything (then it removes the project folder).

The rules are plain Python (Jinja leaves the block below alone), so that ``eigkit.workspace.validate`` can load
them from this file and check ``eig new``'s values before calling cookiecutter: one copy of the rules.
"""
# {% raw %}
import json
import os
import re
import signal
import sys

if __name__ == "__main__":  # first thing after the imports:
    signal.signal(signal.SIGINT, lambda signum, frame: sys.exit(130))  # Ctrl-C: quiet (`eig new` says it)
    # cookiecutter runs a copy rendered with the answers from a temporary file it never removes (its #886)
    if os.path.basename(__file__).startswith("tmp"):
        os.remove(__file__)

KINDS = (
    "generique", "securite-routiere", "pompiers", "sauvetage-en-mer", "cour-des-comptes", "controle-fiscal",
    "gendarmerie",
)
CI_PROVIDERS = ("github", "gitlab", "both")
LICENCES = (
    "MIT", "EUPL-1.2", "Apache-2.0", "BSD-2-Clause", "BSD-3-Clause", "MPL-2.0",
    "CeCILL-2.1", "CeCILL-B", "CeCILL-C", "GPL-3.0", "LGPL-3.0", "AGPL-3.0", "EPL-2.0",
)
DATA_LICENCES = ("Licence-Ouverte-2.0", "ODbL-1.0")
SLUG_RULE = re.compile(r"[a-z0-9]+(?:-[a-z0-9]+)*")
SLUG_MAX_LENGTH = 64
PYTHON_RULE = re.compile(r"3\.(?:1[1-9]|[2-9][0-9])")
TEXT_VARIABLES = ("project_name", "administration", "entrepreneurs", "mentor")
JINJA_MARKERS = ("{" + "{", "{" + "%", "{" + "#")
KIT_SOURCE_PREFIXES = ("git+", "file://", "https://", "/")


def _text_problem(name, value):
    """The rule every free-text variable follows (one line, no template syntax; no path separator in the name)."""
    if not isinstance(value, str) or not value.strip():
        return f"{name}: must not be empty"
    if any(ord(char) < 32 for char in value):
        return f"{name}: must be a single line of text (no control characters), got {value!r}"
    if name == "project_name" and ("/" in value or "\\" in value):
        return f"{name}: must not contain a path separator ('/' or '\\'), got {value!r}"
    if any(marker in value for marker in JINJA_MARKERS):
        return f"{name}: must not contain template syntax ({', '.join(JINJA_MARKERS)}), got {value!r}"
    return None


def _choice_problem(name, value, choices):
    if value not in choices:
        return f"{name}: {value!r} is not one of {', '.join(choices)}"
    return None


def problems(context):
    """Return one message per bad variable of ``context`` (the ``cookiecutter`` mapping); empty when all good."""
    found = [_text_problem(name, context.get(name)) for name in TEXT_VARIABLES]
    slug = context.get("project_slug")
    if not isinstance(slug, str) or not SLUG_RULE.fullmatch(slug) or len(slug) > SLUG_MAX_LENGTH:
        found.append(
            f"project_slug: {slug!r} must be lowercase ASCII letters, digits and single hyphens "
            f"(no accent, space, '/' or leading/trailing hyphen; at most {SLUG_MAX_LENGTH} characters), "
            "e.g. 'securite-routiere-31'"
        )
    found.append(_choice_problem("defi_kind", context.get("defi_kind"), KINDS))
    found.append(_choice_problem("ci_provider", context.get("ci_provider"), CI_PROVIDERS))
    found.append(_choice_problem("licence", context.get("licence"), LICENCES))
    found.append(_choice_problem("licence_donnees", context.get("licence_donnees"), DATA_LICENCES))
    python_version = context.get("python_version")
    if not isinstance(python_version, str) or not PYTHON_RULE.fullmatch(python_version):
        found.append(f"python_version: {python_version!r} must look like '3.11' (Python 3.11 or later)")
    source = context.get("kit_source")
    if (
        not isinstance(source, str)
        or not source.startswith(KIT_SOURCE_PREFIXES)
        or any(char.isspace() for char in source)
    ):
        found.append(
            f"kit_source: {source!r} must be a git URL (git+https://...), a file:// URL or an absolute path "
            "to a copy of eig-kit, without spaces"
        )
    url = context.get("repository_url")
    if not isinstance(url, str) or not re.fullmatch(r"https://[^\s/]+\.[^\s/]+(/\S*)?", url):
        found.append(f"repository_url: {url!r} must be an https:// address of the code's repository")
    return [message for message in found if message]


def main(context_json):
    found = problems(json.loads(context_json))
    if found:
        print("Refused: the défi workspace was not created.", file=sys.stderr)
        for message in found:
            print(f"  - {message}", file=sys.stderr)
        return 1
    return 0


# {% endraw %}
if __name__ == "__main__":
    sys.exit(main({{ cookiecutter | tojson | tojson }}))
