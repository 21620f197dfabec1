"""``ftkit validate / convert / split / dedup`` as a user runs them."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from ftkit.cli import main
from tests.data.data_rows import chat, rows_of


def run(capsys, *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_validate_json_shape_and_exit_codes(capsys, write):
    good = write(rows_of("chat", 12), "good.jsonl")
    code, out, _ = run(capsys, "validate", str(good), "--json", "--provider", "openai", "--model", "gpt-4o-mini")
    data = json.loads(out)
    assert code == 0 and data["ok"] is True and data["stats"]["examples"] == 12
    bad = write(b'{"messages": []}\n' + json.dumps(chat(1)).encode() + b"\n" + json.dumps(chat(1)).encode() + b"\n")
    code, out, _ = run(capsys, "validate", str(bad), "--json")
    data = json.loads(out)
    assert code == 1 and data["ok"] is False
    assert set(data) >= {"ok", "stats", "issues"}
    assert set(data["issues"][0]) == {"code", "severity", "line", "related_lines", "path", "message", "hint"}
    dup = next(i for i in data["issues"] if i["code"] == "duplicate")
    assert dup["line"] == 2 and dup["related_lines"] == [3]
    assert dup["cluster"] == {"size": 2, "representative": 2, "members": [2, 3]}
    assert data["clustered_lines"] == {"duplicate": 2}
    assert "cluster" not in data["issues"][0]


def test_validate_readable_report(capsys, write):
    path = write([*rows_of("chat", 3), {"messages": [{"role": "user", "content": "hi"}]}])
    code, out, _ = run(capsys, "validate", str(path), "--max-issues", "1")
    assert code == 1
    assert "examples" in out and "has errors" in out


def test_validate_usage_errors(capsys, write, tmp_path):
    code, _, err = run(capsys, "validate", str(write(rows_of("chat", 2))), "--method", "ppo")
    assert code == 2 and "sft or dpo" in err
    code, out, _ = run(capsys, "validate", str(tmp_path / "missing.jsonl"), "--json")
    assert code == 1 and json.loads(out)["issues"][0]["code"] == "file_missing"


def test_convert_split_dedup_commands(capsys, write, tmp_path):
    source = write([*rows_of("instruction", 20), rows_of("instruction", 1)[0]])
    out = tmp_path / "openai.jsonl"
    code, _, err = run(capsys, "convert", str(source), "--to", "openai", "--out", str(out))
    assert code == 0 and "wrote" in err and len(out.read_text().splitlines()) == 21
    code, _, err = run(capsys, "convert", str(write(rows_of("text", 2), "t.jsonl")), "--to", "openai", "--out",
                       str(tmp_path / "x.jsonl"))
    assert code == 1 and "cannot convert to messages" in err  # the format openai declares
    code, out_text, _ = run(capsys, "split", str(source), "--train", "0.8", "--validation", "0.1", "--test", "0.1",
                            "--seed", "1", "--out", str(tmp_path / "splits"), "--json")
    data = json.loads(out_text)
    assert code == 0 and sum(data["counts"].values()) == 20 and data["removed"][0]["kind"] == "duplicate"
    code, out_text, err = run(capsys, "dedup", str(source), "--out", str(tmp_path / "d.jsonl"))
    assert code == 0 and "removed 1 exact" in err and "kept 20" in out_text


@pytest.mark.slow
def test_validate_imports_no_heavy_library(write):
    path = write(rows_of("chat", 12))
    script = (
        "import sys\nfrom ftkit.cli import main\n"
        f"code = main(['validate', {str(path)!r}, '--json', '--provider', 'openai', '--model', 'gpt-4o-mini'])\n"
        "heavy = sorted(m for m in sys.modules if m.split('.')[0] in "
        "('torch', 'transformers', 'datasets', 'openai', 'together', 'pandas'))\n"
        "print('HEAVY', heavy, code)\n"
    )
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120)
    assert "HEAVY [] 0" in result.stdout, result.stdout + result.stderr
