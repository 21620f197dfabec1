"""The core never names a built-in provider: what is specific to a provider lives in its own subpackage.

ftkit's promise to plugin authors is that a provider is one subpackage; a third-party provider gets plan
rows, validation rules, estimates, deployments and evaluation exactly as the built-ins do, because the core
asks providers what they declare instead of knowing them. This test reads every module of ``ftkit/``
(outside ``ftkit/testing``, whose conformance harnesses and emulator plumbing are test support) and fails
on any code that names one: string constants equal to a provider name or a ``"<provider>:..."`` reference,
imports of ``ftkit.providers.<name>``, and identifiers built from a provider's name. Docstrings and comments
may name providers (they show real usage). Any exception is listed here, with its reason.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

import ftkit

BUILT_INS = ("local", "openai", "together", "fireworks", "azure")
CORE = Path(ftkit.__file__).parent

#: (module path relative to ftkit/, the offending text) -> why it is allowed
ALLOWED: dict[tuple[str, str], str] = {
    ("data/checks.py", "_check_openai_preference"):
        "checks the 'openai_preference' data format, named for its row shape (input / preferred_output / "
        "non_preferred_output), which several services accept",
    ("estimation/tiktoken_offline.py", "_rank_file_from_bpe_openai"): "bpe-openai is a tokenizer package",
    ("estimation/tiktoken_offline.py", "bpe_openai"): "bpe-openai is a tokenizer package",
}

_REF = re.compile(rf"^({'|'.join(BUILT_INS)})(:\S|:$|$)")  # "openai", "openai:gpt-4o"; not "local: prose"
_IDENTIFIER = re.compile(rf"({'|'.join(n for n in BUILT_INS if n != 'local')})", re.IGNORECASE)


def _docstring_nodes(tree: ast.AST) -> set[int]:
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)):
            body = getattr(node, "body", [])
            if body and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant):
                found.add(id(body[0].value))
    return found


def _offences(path: Path) -> list[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    docstrings = _docstring_nodes(tree)
    found = []
    for node in ast.walk(tree):
        text = None
        if isinstance(node, ast.Constant) and isinstance(node.value, str) and id(node) not in docstrings:
            if _REF.match(node.value) or re.search(rf"ftkit\.providers\.({'|'.join(BUILT_INS)})\b", node.value):
                text = node.value
        elif isinstance(node, (ast.Import, ast.ImportFrom)):
            names = [node.module or ""] if isinstance(node, ast.ImportFrom) else [a.name for a in node.names]
            text = next((n for n in names if re.match(rf"ftkit\.providers\.({'|'.join(BUILT_INS)})\b", n)), None)
        elif isinstance(node, ast.Name) and _IDENTIFIER.search(node.id):
            text = node.id
        elif isinstance(node, ast.Attribute) and _IDENTIFIER.search(node.attr):
            text = node.attr
        elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)) and _IDENTIFIER.search(node.name):
            text = node.name
        elif (isinstance(node, ast.arg) and _IDENTIFIER.search(node.arg)) or (isinstance(node, ast.keyword) and node.arg and _IDENTIFIER.search(node.arg)):
            text = node.arg
        if text is not None:
            found.append(f"{path.relative_to(CORE)}:{getattr(node, 'lineno', '?')}: {text!r}")
    return found


def test_no_core_module_names_a_built_in_provider():
    offences = []
    for path in sorted(CORE.rglob("*.py")):
        relative = path.relative_to(CORE)
        if relative.parts[0] == "testing":
            continue
        for offence in _offences(path):
            module, _, rest = offence.partition(":")
            text = rest.split(": ", 1)[1].strip("'\"")
            if (module, text) not in ALLOWED:
                offences.append(offence)
    assert not offences, "the core names built-in providers (move it into the provider):\n" + "\n".join(offences)


def test_the_checker_catches_what_it_should(tmp_path):
    sample = tmp_path / "sample.py"
    sample.write_text(
        '"""Docstrings may say provider="openai"."""\n'
        'from ftkit.providers.openai import OpenAIProvider\n'
        'if provider == "local": pass\n'
        'together_model = "x"\n'
        'ref = "openai:gpt-4o-mini"\n'
        'message = "a local directory"  # ordinary words are fine\n'
    )
    global CORE
    saved, CORE = CORE, tmp_path
    try:
        found = [o.split(": ", 1)[1] for o in sorted(_offences(sample), key=lambda o: int(o.split(":")[1]))]
    finally:
        CORE = saved
    assert found == ["'ftkit.providers.openai'", "'local'", "'together_model'", "'openai:gpt-4o-mini'"]
