"""Together estimates: billed tokens with evaluations, bracket and per-model prices, and Together's own quote
through the real together SDK against a loopback HTTP server."""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, HTTPServer

import pytest
from ftkit.providers.together._estimate import compare_with_quote, estimate, quote

from ftkit.estimation.catalog import load_catalog
from ftkit.estimation.types import TokenCount
from ftkit.spec import JobSpec

ROWS = [{"messages": [{"role": "user", "content": f"Q{i}"}, {"role": "assistant", "content": f"A{i}"}]} for i in range(20)]


def counts(train: int, validation: int = 0) -> TokenCount:
    return TokenCount(examples=100, total_tokens=train, trained_tokens=train // 3, tokenizer="test",
                      validation_tokens=validation)


@pytest.mark.parametrize("model, method, adapter, rate", [
    ("meta-llama/Meta-Llama-3.1-8B-Instruct-Reference", "sft", "lora", 0.48),
    ("meta-llama/Meta-Llama-3.1-8B-Instruct-Reference", "dpo", "full", 1.35),
    ("meta-llama/Meta-Llama-3.1-70B-Instruct-Reference", "sft", "lora", 2.90),
    ("meta-llama/Meta-Llama-3.1-70B-Instruct-Reference", "dpo", "lora", 7.25),
    ("Qwen/Qwen3.8-27B", "sft", "lora", 1.05),  # its own price, below the 17B-69B bracket's 1.50
    ("Qwen/Qwen3.5-9B", "dpo", "lora", 0.84),
    ("Qwen/Qwen3.5-9B", "sft", "full", 0.54),  # no own full price: the bracket's
])
def test_price_per_model_or_bracket_and_billed_tokens(model, method, adapter, rate):
    spec = JobSpec(provider="together", model=model, train=ROWS, validation=ROWS, method=method, adapter=adapter,
                   epochs=3, options={"n_evals": 2})
    est = estimate(spec, counts=counts(1_000_000, 50_000))
    assert est.billed_tokens == 3 * 1_000_000 + 2 * 50_000
    assert est.cost_breakdown_usd["training"] == pytest.approx(3.0 * rate)
    assert est.cost_breakdown_usd["evaluation"] == pytest.approx(0.1 * rate)
    assert est.cost_usd == pytest.approx(3.1 * rate)


def test_default_epochs_packing_off_and_unknown_models():
    est = estimate(JobSpec(provider="together", model="Qwen/Qwen2.5-7B-Instruct", train=ROWS), counts=counts(9000))
    assert (est.epochs, est.epochs_source) == (1, "provider default") and est.billed_tokens == 9000
    packed_off = estimate(JobSpec(provider="together", model="Qwen/Qwen2.5-7B-Instruct", train=ROWS, max_seq_length=512,
                                  options={"packing": False}), counts=counts(9000))
    assert packed_off.billed_tokens == 100 * 512
    unknown = estimate(JobSpec(provider="together", model="acme/unknown-13b", train=ROWS))
    assert unknown.cost_usd is None and unknown.tokens.method == "approximate"
    assert len(load_catalog("together").brackets) == 3


class _Quotes(BaseHTTPRequestHandler):
    answer: dict = {}
    seen: list = []

    def do_POST(self):
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        type(self).seen.append((self.path, body))
        payload = json.dumps(type(self).answer).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    def log_message(self, *args):
        pass


@pytest.fixture
def quote_server():
    server = HTTPServer(("127.0.0.1", 0), _Quotes)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()


def test_quote_through_the_real_sdk_and_comparison(quote_server):
    together = pytest.importorskip("together")
    client = together.Together(api_key="test-key", base_url=f"http://127.0.0.1:{quote_server.server_port}",
                               max_retries=0)
    spec = JobSpec(provider="together", model="meta-llama/Meta-Llama-3.1-8B-Instruct-Reference", train=ROWS,
                   epochs=2, lora_r=16)
    est = estimate(spec, counts=counts(1_000_000))
    _Quotes.answer = {"estimation_available": True, "estimated_total_price": 0.96,
                      "estimated_train_token_count": 1_000_000.0, "estimated_eval_token_count": 0,
                      "allowed_to_proceed": True}
    q = quote(client, spec, training_file="file-123")
    path, body = _Quotes.seen[-1]
    assert path == "/v1/fine-tunes/estimate-price"
    assert body["training_file"] == "file-123" and body["n_epochs"] == 2
    assert body["training_type"] == {"type": "Lora", "lora_r": 16}
    assert q.available and q.total_usd == 0.96 and q.train_tokens == 1_000_000
    agreed = compare_with_quote(est, q)
    assert any("Together's own quote" in a for a in agreed.assumptions)
    assert not any("differs" in w for w in agreed.warnings)

    _Quotes.answer = {**_Quotes.answer, "estimated_total_price": 2.0}
    assert any("differs" in w for w in compare_with_quote(est, quote(client, spec, training_file="file-123")).warnings)
    _Quotes.answer = {"estimation_available": False, "unavailable_reason": "train_file_not_validated"}
    unavailable = compare_with_quote(est, quote(client, spec, training_file="file-123"))
    assert any("train_file_not_validated" in w for w in unavailable.warnings)
