"""The serving side of the Fireworks emulator: tunable base models, trained models (``:getDownloadEndpoint``
and the signed files), on-demand deployments, and chat completions that answer a fine-tune only through
a READY deployment (see the assumptions listed in :mod:`ftkit.providers.fireworks.testing.emulator`)."""

from __future__ import annotations

import hashlib
import json
import re
from typing import Any

from ftkit.providers.fireworks.testing._data import base_answer, count_tokens, recall
from ftkit.providers.fireworks.testing._jobs import EmulatedDeployment, EmulatedJob

from ftkit.testing._http import HTTPError, Request, Response

__all__ = ["BASE_MODELS", "RESOURCE_ID", "ServingEndpoints", "bad_request"]

#: Fireworks resource ids: lowercase letters, digits and hyphens, at most 63 characters
RESOURCE_ID = re.compile(r"[a-z0-9][a-z0-9-]{0,62}")

_ACCELERATORS = {"NVIDIA_A100_80GB", "NVIDIA_H100_80GB", "NVIDIA_H200_141GB", "NVIDIA_B200_180GB",
                 "AMD_MI300X_192GB", "NVIDIA_A10G_24GB", "NVIDIA_A100_40GB", "NVIDIA_L4_24GB"}  # fmt: skip
#: tunable base models: name -> (max context, serverless)
BASE_MODELS: dict[str, tuple[int, bool]] = {
    "accounts/fireworks/models/llama-v3p1-8b-instruct": (131072, True),
    "accounts/fireworks/models/llama-v3p1-70b-instruct": (131072, True),
    "accounts/fireworks/models/qwen2p5-7b-instruct": (32768, False),
    "accounts/fireworks/models/qwen3-8b": (40960, True),
}


def bad_request(message: str, status: int = 400) -> HTTPError:
    return HTTPError(status, message)


class ServingEndpoints:
    """Mixed into :class:`~ftkit.providers.fireworks.testing.emulator.FireworksServer` (which holds the state)."""

    jobs: dict[str, EmulatedJob]
    deployments: dict[str, EmulatedDeployment]

    # -- models ---------------------------------------------------------------------------------------------------

    def _trained_job(self, model_id: str) -> EmulatedJob:
        name = self._name("models", model_id)
        now = self.clock.now()
        with self.lock:
            for job in self.jobs.values():
                if job.output_model == name and job.state(now) == "JOB_STATE_COMPLETED":
                    return job
        raise HTTPError(404, f"model {name!r} not found")

    def _get_model(self, request: Request) -> dict[str, Any]:
        job = self._trained_job(request.params["model"])
        return {"name": job.output_model, "kind": "HF_PEFT_ADDON", "state": "READY",
                "peftDetails": {"baseModel": job.base_model, "r": job.request.get("loraRank") or 8},
                "createTime": job.view(self.clock.now(), metrics_url=None)["completedTime"]}  # fmt: skip

    def _download_endpoint(self, request: Request) -> dict[str, Any]:
        model_id = request.params["model"]
        self._trained_job(model_id)
        files = ("adapter_config.json", "adapter_model.safetensors")
        return {"filenameToSignedUrls": {f: self._signed_url("models", model_id, f) for f in files}}

    def _signed(self, request: Request) -> Response:
        kind, name, file = request.params["kind"], request.params["name"], request.params["file"]
        if request.arg("X-Goog-Signature") != self._signature(request.path):
            return Response("<Error><Code>SignatureDoesNotMatch</Code></Error>", 403, content_type="application/xml")
        now = self.clock.now()
        if kind == "metrics":
            job = self._job(name)
            return Response("".join(json.dumps(m) + "\n" for m in job.metrics_lines(now)).encode(),
                            content_type="application/jsonl")  # fmt: skip
        job = self._trained_job(name)
        if file == "adapter_config.json":
            config = {"peft_type": "LORA", "r": job.request.get("loraRank") or 8,
                      "base_model_name_or_path": job.base_model, "target_modules": "all-linear"}  # fmt: skip
            return Response(json.dumps(config).encode(), content_type="application/json")
        return Response(hashlib.sha256(job.name.encode()).digest() * 32, content_type="application/octet-stream")

    # -- deployments ------------------------------------------------------------------------------------------------

    def _deployment(self, deployment_id: str) -> EmulatedDeployment:
        with self.lock:
            deployment = self.deployments.get(deployment_id)
        if deployment is None:
            raise HTTPError(404, f"deployment {self._name('deployments', deployment_id)!r} not found")
        return deployment

    def _create_deployment(self, request: Request) -> dict[str, Any]:
        body = request.json()
        deployment_id = request.arg("deploymentId") or f"dep{self.next_id():06d}"
        if not RESOURCE_ID.fullmatch(deployment_id):
            raise bad_request(f"invalid deploymentId {deployment_id!r}")
        base = body.get("baseModel") or ""
        if base not in BASE_MODELS:
            prefix = f"accounts/{self.account_id}/models/"
            if not base.startswith(prefix):
                raise bad_request(f"baseModel {base!r} not found")
            self._trained_job(base[len(prefix):])
        accelerator = body.get("acceleratorType")
        if accelerator is not None and accelerator not in _ACCELERATORS:
            raise bad_request(f"unknown acceleratorType {accelerator!r}")
        low, high = int(body.get("minReplicaCount") or 0), body.get("maxReplicaCount")
        if high is not None and int(high) < low:
            raise bad_request("maxReplicaCount must be at least minReplicaCount")
        with self.lock:
            if deployment_id in self.deployments:
                raise HTTPError(409, f"deployment {self._name('deployments', deployment_id)!r} already exists")
            deployment = EmulatedDeployment(self._name("deployments", deployment_id), base, self.clock.now(),
                                            self.deploy_seconds, {k: v for k, v in body.items() if k != "baseModel"})  # fmt: skip
            self.deployments[deployment_id] = deployment
            self.record("deployment_created", deployment_id=deployment_id, base_model=base)
            return deployment.view(self.clock.now())

    def _list_deployments(self, request: Request) -> dict[str, Any]:
        now = self.clock.now()
        with self.lock:
            live = [d.view(now) for d in self.deployments.values() if d.state(now) != "DELETED"]
        return {"deployments": live, "nextPageToken": "", "totalSize": len(live)}

    def _delete_deployment(self, request: Request) -> dict[str, Any]:
        deployment = self._deployment(request.params["deployment"])
        with self.lock:
            if deployment.deleted_at is None:
                deployment.deleted_at = self.clock.now()
                self.record("deployment_deleted", deployment_id=request.params["deployment"])
        return {}

    # -- inference ----------------------------------------------------------------------------------------------------

    def _chat(self, request: Request) -> dict[str, Any]:
        body = request.json()
        model, messages = body.get("model"), body.get("messages")
        if not isinstance(model, str) or not isinstance(messages, list) or not messages:
            raise bad_request("model and a non-empty messages array are required")
        now = self.clock.now()
        prompt = next((str(m.get("content") or "") for m in reversed(messages) if m.get("role") == "user"), "")
        served, _, deployment_name = model.partition("#")
        if deployment_name:
            deployment = self._deployment(deployment_name.rsplit("/", 1)[-1])
            if deployment.state(now) != "READY":
                raise bad_request(f"deployment {deployment_name!r} is {deployment.state(now)}, not READY")
            if deployment.base_model != served:
                raise bad_request(f"deployment {deployment_name!r} serves {deployment.base_model!r}, not {served!r}")
        elif served not in BASE_MODELS or not BASE_MODELS[served][1]:
            raise HTTPError(404, f"Model not found, inaccessible, and/or not deployed: {served}")
        if served in BASE_MODELS:
            text = base_answer(prompt)
        else:
            text = recall(self._trained_job(served.rsplit("/", 1)[-1]).dataset.summary.pairs, prompt)  # type: ignore[union-attr]
        limit = body.get("max_tokens")
        words = text.split(" ")
        if limit is not None and count_tokens(text) > int(limit):
            text = " ".join(words[: max(1, int(limit))])
        prompt_tokens = sum(count_tokens(str(m.get("content") or "")) + 4 for m in messages)
        return {
            "id": f"chatcmpl-{self.next_id()}", "object": "chat.completion", "created": int(now), "model": model,
            "choices": [{"index": 0, "message": {"role": "assistant", "content": text}, "finish_reason": "stop"}],
            "usage": {"prompt_tokens": prompt_tokens, "completion_tokens": count_tokens(text),
                      "total_tokens": prompt_tokens + count_tokens(text)},
        }  # fmt: skip


