"""GGUF input (file, folder with one, Ollama name) and the checks that fail in the caller, not the worker.

Every problem here is found by ``FineTuneJob(...)`` / ``validate()`` in this process, before a training
process is launched, with the setting and what to do.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from ftkit.providers.local._gguf import MARKER, cache_root, converted_model, find_gguf

from ftkit.errors import ConfigError, UnsupportedSettingError
from ftkit.job import FineTuneJob
from ftkit.testing.samples import colour_examples
from ftkit.testing.smollm import smollm2_gguf

gguf = pytest.importorskip("gguf")
np = pytest.importorskip("numpy")


def _write_gguf(path: Path, architecture: str, tensors: dict[str, object]) -> Path:
    writer = gguf.GGUFWriter(str(path), architecture)
    for name, value in tensors.items():
        writer.add_tensor(name, value)
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    return path


def _job(model: str, **kwargs) -> FineTuneJob:
    return FineTuneJob(provider="local", model=model, train=colour_examples(8), **kwargs)


@pytest.fixture
def gguf_dir(tmp_path: Path) -> Path:
    folder = tmp_path / "weights"
    folder.mkdir()
    _write_gguf(folder / "model.gguf", "llama", {"blk.0.attn_q.weight": np.zeros((4, 4), dtype=np.float32)})
    return folder


def test_a_file_or_a_folder_with_exactly_one_gguf_is_found(gguf_dir: Path, tiny: str):
    assert find_gguf(str(gguf_dir / "model.gguf")) == (gguf_dir / "model.gguf").resolve()
    assert find_gguf(str(gguf_dir)) == (gguf_dir / "model.gguf").resolve()
    assert find_gguf(tiny) is None  # a Hugging Face folder is trained as it is
    shutil.copy(gguf_dir / "model.gguf", gguf_dir / "other.gguf")
    with pytest.raises(ConfigError, match=r"holds 2 \.gguf files"):
        find_gguf(str(gguf_dir))
    with pytest.raises(ConfigError, match="no such file"):
        find_gguf(str(gguf_dir / "missing.gguf"))


def test_an_ollama_name_resolves_to_its_blob(gguf_dir: Path, tmp_path: Path, monkeypatch):
    models = tmp_path / "ollama"
    blob = models / "blobs" / f"sha256-{'a' * 64}"
    blob.parent.mkdir(parents=True)
    shutil.copy(gguf_dir / "model.gguf", blob)
    manifest = models / "manifests" / "registry.ollama.ai" / "library" / "smollm2" / "135m"
    manifest.parent.mkdir(parents=True)
    manifest.write_text(json.dumps({"layers": [
        {"mediaType": "application/vnd.ollama.image.template", "digest": "sha256:" + "b" * 64},
        {"mediaType": "application/vnd.ollama.image.model", "digest": "sha256:" + "a" * 64},
    ]}))
    monkeypatch.setenv("OLLAMA_MODELS", str(models))
    assert find_gguf("smollm2:135m") == blob
    assert find_gguf("library/smollm2:135m") == blob
    assert find_gguf("smollm2") is None  # no "latest" pulled: not an Ollama model here
    blob.unlink()
    with pytest.raises(ConfigError, match="ollama pull smollm2:135m"):
        find_gguf("smollm2:135m")


def test_a_tensor_type_that_cannot_be_dequantised_fails_before_launch(tmp_path: Path):
    bad = _write_gguf(tmp_path / "int.gguf", "llama", {"blk.0.w": np.zeros(32, dtype=np.int32)})
    with pytest.raises(UnsupportedSettingError, match="I32"):
        _job(str(bad))


def test_an_architecture_transformers_cannot_convert_fails_before_launch(tmp_path: Path):
    bert = _write_gguf(tmp_path / "bert.gguf", "bert", {"w": np.zeros(32, dtype=np.float32)})
    with pytest.raises(UnsupportedSettingError, match="'bert' GGUF"):
        _job(str(bert))


def test_a_truncated_gguf_is_a_clear_error(gguf_dir: Path, tmp_path: Path):
    cut = tmp_path / "cut.gguf"
    cut.write_bytes((gguf_dir / "model.gguf").read_bytes()[:40])
    with pytest.raises(UnsupportedSettingError, match="not a readable GGUF"):
        _job(str(cut))


@pytest.mark.slow
def test_a_failed_conversion_leaves_nothing_that_counts_as_done(tmp_path: Path, monkeypatch):
    # readable header, but not a model transformers can build: the child process fails mid-conversion
    monkeypatch.setenv("FTKIT_GGUF_CACHE", str(tmp_path / "cache"))
    broken = _write_gguf(tmp_path / "broken.gguf", "llama", {"blk.0.attn_q.weight": np.zeros((4, 4), np.float32)})
    with pytest.raises(ConfigError, match=r"broken\.gguf"):
        converted_model(str(broken))
    root = cache_root()
    assert not [p for p in root.iterdir() if p.is_dir() and p.name != "hashes"]  # no folder, no partial one
    assert not list(root.glob("*/" + MARKER))


def _model_copy(tiny: str, tmp_path: Path, **config_changes) -> Path:
    """The tiny model's config and tokenizer files (check_spec reads no weights)."""
    folder = tmp_path / "model"
    folder.mkdir(parents=True)
    for file in Path(tiny).iterdir():
        if not file.name.endswith(".safetensors"):
            shutil.copy(file, folder / file.name)
    config = json.loads((folder / "config.json").read_text()) | config_changes
    (folder / "config.json").write_text(json.dumps(config))
    return folder


def test_model_problems_are_found_in_the_caller(tiny: str, tmp_path: Path):
    unknown = _model_copy(tiny, tmp_path / "a", model_type="no_such_architecture")
    with pytest.raises(UnsupportedSettingError, match="does not know"):
        _job(str(unknown))
    gptq = _model_copy(tiny, tmp_path / "b", quantization_config={"quant_method": "gptq", "bits": 4})
    with pytest.raises(UnsupportedSettingError, match="already quantised with gptq"):
        _job(str(gptq), adapter="qlora")
    no_template = _model_copy(tiny, tmp_path / "c")
    (no_template / "chat_template.jinja").unlink(missing_ok=True)
    config = json.loads((no_template / "tokenizer_config.json").read_text())
    config.pop("chat_template", None)
    (no_template / "tokenizer_config.json").write_text(json.dumps(config))
    with pytest.raises(UnsupportedSettingError, match="no chat template"):
        _job(str(no_template))
    _job(str(no_template), options={"chat_template": "{{ messages[0]['content'] }}"})  # fixed by the option
    with pytest.raises(UnsupportedSettingError, match="not a model folder"):
        _job(str(tmp_path))


def test_validate_reports_each_answer_the_template_cannot_locate_with_its_line(tiny: str, tmp_path: Path):
    # a template that leaves out answers mentioning "internal": those examples would train on nothing
    template = ("{% for m in messages %}{% if m['role'] != 'assistant' or 'internal' not in m['content'] %}"
                "{{ '<|im_start|>' + m['role'] + '\\n' + m['content'] + '<|im_end|>\\n' }}{% endif %}{% endfor %}"
                "{% if add_generation_prompt %}{{ '<|im_start|>assistant\\n' }}{% endif %}")
    rows = colour_examples(5)
    rows[3]["messages"][-1]["content"] = "internal note: green"
    train = tmp_path / "train.jsonl"
    train.write_text("".join(json.dumps(r) + "\n" for r in rows))
    job = FineTuneJob(provider="local", model=tiny, train=str(train), options={"chat_template": template})
    report = job.validate()
    located = [i for i in report.issues if i.code == "assistant_not_located"]
    assert not report.ok and [i.line for i in located] == [4]
    assert "loss_on" in located[0].hint
    assert FineTuneJob(provider="local", model=tiny, train=str(train),
                       options={"chat_template": template, "loss_on": "all"}).validate().ok


@pytest.mark.slow
def test_the_gguf_counts_tokens_with_its_own_tokenizer_and_an_ollama_name_shares_the_cache(
        smollm: str, tmp_path: Path, monkeypatch):
    from ftkit._hashing import sha256_file
    from ftkit.registry import get_provider

    source = smollm2_gguf()
    assert converted_model(str(source)) == Path(smollm)  # cached: the same folder, no second conversion
    counter = get_provider("local").token_counter(str(source))
    assert counter.exact and Path(counter.model_dir) == Path(smollm)
    models = tmp_path / "ollama"
    blob = models / "blobs" / f"sha256-{sha256_file(source)}"
    blob.parent.mkdir(parents=True)
    blob.symlink_to(source)
    manifest = models / "manifests" / "registry.ollama.ai" / "library" / "smollm2" / "latest"
    manifest.parent.mkdir(parents=True)
    manifest.write_text(json.dumps({"layers": [{"mediaType": "application/vnd.ollama.image.model",
                                                "digest": blob.name.replace("-", ":")}]}))
    monkeypatch.setenv("OLLAMA_MODELS", str(models))
    estimate = FineTuneJob(provider="local", model="smollm2", train=colour_examples(8)).estimate()
    assert estimate.model == "smollm2" and estimate.tokens.method == "exact" and smollm in estimate.tokens.tokenizer
    assert any(smollm in a for a in estimate.assumptions)
