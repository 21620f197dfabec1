"""Together deployments through ftkit's Deployment interface, against the emulator with the real SDK.

The emulator's own record (``server.created_deployments``, ``server.running_deployments``,
``server.live_endpoints``) is the judge: an evaluation of a Together fine-tune creates exactly one deployment
and leaves nothing running, whether it succeeds, raises or is interrupted with Ctrl-C.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from ftkit.providers.together.testing.emulator import TogetherServer

from ftkit.deployment import Deployment, DeploymentState, list_deployments
from ftkit.errors import ProviderError, UnsupportedSettingError
from ftkit.evaluation import evaluate
from ftkit.job import FineTuneJob
from ftkit.model import TrainedModel
from ftkit.testing.samples import colour_examples
from tests.providers.harness_together import fast_server
from tests.providers.together.conftest import job_kwargs


@pytest.fixture
def server():
    with fast_server(deploy_seconds=4.0) as emulator:
        yield emulator


@pytest.fixture
def tuned(server: TogetherServer, make_job) -> TrainedModel:
    job = make_job()
    job.start()
    return job.wait(timeout=30)


def assert_nothing_left(server: TogetherServer) -> None:
    assert server.running_deployments == [], "a deployment is still billed"
    assert server.live_endpoints == [], "an endpoint was left behind"
    assert all(d.state is DeploymentState.DELETED for d in list_deployments())


def test_evaluating_a_fine_tune_deploys_once_and_deletes_it(server: TogetherServer, tuned: TrainedModel) -> None:
    result = evaluate(tuned, colour_examples(8), metrics=["exact_match"], base=True, cache=False)
    assert result.metrics["exact_match"].value == 1.0  # answered through the deployment, as it learned
    assert result.comparison is not None  # the base model answers serverless, without a deployment
    assert len(server.created_deployments) == 1
    assert_nothing_left(server)
    (deployment,) = result.deployments
    assert deployment["price_per_hour"] == pytest.approx(3.99)  # Together's hardware list, 1 replica
    assert result.deployment_cost_usd is not None
    # the serving name is the endpoint's, never the job's output name
    chats = server.requests_to("POST", "/v1/chat/completions")
    served = {r.body["model"] for r in chats} - {tuned.base_model}
    assert served == {f"{server.user}/ftkit-{list_deployments()[0].id.lower()}"}


def test_an_error_during_evaluation_still_deletes_the_deployment(server: TogetherServer, tuned: TrainedModel) -> None:
    server.faults.add("POST", "/v1/chat/completions", status=400, times=None)
    with pytest.raises(ProviderError):
        evaluate(tuned, colour_examples(4), metrics=["exact_match"], cache=False)
    assert len(server.created_deployments) == 1
    assert_nothing_left(server)


_CHILD = textwrap.dedent(
    """
    import signal
    import sys
    from pathlib import Path

    # Ctrl-C as a user's terminal delivers it: a SIGINT ignored or blocked in the test runner is inherited
    # across exec (Python then installs no handler), which made the child finish as if never interrupted.
    print(f"inherited SIGINT: {signal.getsignal(signal.SIGINT)!r}, blocked: {signal.pthread_sigmask(signal.SIG_BLOCK, [])}",
          file=sys.stderr)
    signal.signal(signal.SIGINT, signal.default_int_handler)
    signal.pthread_sigmask(signal.SIG_UNBLOCK, [signal.SIGINT])
    from ftkit.evaluation import evaluate
    from ftkit.model import TrainedModel
    from ftkit.providers.together import TogetherProvider
    from ftkit.testing.samples import colour_examples

    model = TrainedModel.model_validate_json(Path(sys.argv[3]).read_text())
    model.bind(TogetherProvider(api_key=sys.argv[1], base_url=sys.argv[2], poll_interval=0.02))
    evaluate(model, colour_examples(4), metrics=["exact_match"], cache=False)
    """
)


def test_ctrl_c_during_evaluation_deletes_the_deployment(tmp_path: Path) -> None:
    with fast_server(deploy_seconds=20_000.0) as server:  # ~50 s of wall time provisioning: Ctrl-C comes first
        job = FineTuneJob(**job_kwargs(server))
        job.start()
        model = job.wait(timeout=30)
        saved = tmp_path / "model.json"
        saved.write_text(model.model_dump_json())
        repo = Path(__file__).resolve().parents[3]
        env = {**os.environ, "PYTHONPATH": f"{repo}{os.pathsep}{os.environ.get('PYTHONPATH', '')}"}
        child = subprocess.Popen([sys.executable, "-c", _CHILD, server.api_key, server.base_url, str(saved)],
                                 env=env, cwd=tmp_path, stderr=subprocess.PIPE, text=True)  # fmt: skip
        try:
            routed = lambda: bool(server.requests_to("PATCH", "/v2/projects/{pid}/endpoints/{eid}"))  # noqa: E731
            if not server.wait_until(lambda: routed() or child.poll() is not None, timeout=60) or not routed():
                child.kill()
                pytest.fail(f"the child never deployed: {child.communicate()[1][-3000:]}")
            assert len(server.running_deployments) == 1
            child.send_signal(signal.SIGINT)
            _, errors = child.communicate(timeout=60)
        finally:
            if child.poll() is None:
                child.kill()
        # interrupted: the traceback, or the exit status of a process ended by SIGINT; the status and stderr
        # are in the message so a run that does not end this way says how it ended
        interrupted = "KeyboardInterrupt" in errors or child.returncode in (-signal.SIGINT, 128 + signal.SIGINT)
        assert interrupted, f"exit status {child.returncode}, stderr: {errors[-2000:]!r}"
        assert len(server.created_deployments) == 1
        assert server.running_deployments == [] and server.live_endpoints == []
        (record,) = list_deployments()
        assert record.state is DeploymentState.DELETED and record.created_by == "evaluation"


def test_a_failed_create_removes_what_it_made(server: TogetherServer, tuned: TrainedModel) -> None:
    server.faults.add("POST", "/v2/projects/{pid}/endpoints/{eid}/deployments", status=400, times=None)
    with pytest.raises(ProviderError):
        tuned.deploy()
    assert len(server.recorded("endpoint_created")) == 1
    assert_nothing_left(server)


def test_what_a_failed_cleanup_leaves_is_in_the_store_and_deleted_later(
    server: TogetherServer, tuned: TrainedModel
) -> None:
    server.faults.add("POST", "/v2/projects/{pid}/endpoints/{eid}/deployments", status=400, times=None)
    server.faults.add("DELETE", "/v2/projects/{pid}/endpoints/{eid}", status=503, times=None)
    with pytest.raises(ProviderError):
        tuned.deploy()
    assert server.live_endpoints, "the endpoint still exists on Together"
    (left,) = list_deployments(active_only=True)  # what `ftkit deployments list` shows
    server.faults.clear()
    Deployment.attach(left.id, api_key=server.api_key, base_url=server.base_url).delete()
    assert_nothing_left(server)


def test_deploy_by_hand_wait_and_delete_with_settings(server: TogetherServer, tuned: TrainedModel) -> None:
    deployment = tuned.deploy(min_replicas=2, max_replicas=3, inactive_timeout=60)
    assert deployment.price_per_hour == pytest.approx(2 * 3.99)
    body = server.requests_to("POST", "/v2/projects/{pid}/endpoints/{eid}/deployments")[-1].body
    assert body["autoscaling"] == {"minReplicas": 2, "maxReplicas": 3} and body["inactiveTimeout"] == 60
    deployment.wait_ready(poll_interval=0.02, timeout=30)
    assert deployment.state is DeploymentState.READY and deployment.serving_id.startswith(f"{server.user}/")
    deployment.delete()
    deployment.delete()  # safe twice
    assert_nothing_left(server)
    with pytest.raises(UnsupportedSettingError, match="gpu"):
        tuned.deploy(gpu="h100")
    with pytest.raises(UnsupportedSettingError, match="inactive_timeout"):
        tuned.deploy(inactive_timeout=5)


def test_a_reference_base_is_refused_before_anything_exists_naming_a_deployable_one(
    server: TogetherServer, make_job
) -> None:
    job = make_job(model="meta-llama/Meta-Llama-3.1-8B-Instruct-Reference")
    job.start()
    model = job.wait(timeout=30)
    with pytest.raises(UnsupportedSettingError) as refused:
        model.deploy()
    assert "cannot be deployed" in str(refused.value) and "Qwen/Qwen2.5-7B-Instruct" in str(refused.value)
    assert list_deployments() == [] and server.requests_to("POST", "/v2/projects/{pid}/endpoints") == []


def test_the_catalogs_default_model_is_deployable_and_priced() -> None:
    from ftkit.providers.together import TogetherProvider
    from ftkit.providers.together._deploy import deployable_problem

    default = TogetherProvider.default_model()
    assert default is not None and deployable_problem(default) is None
    assert TogetherProvider.catalog().find(default).deployment.usd_per_hour > 0


_DEPLOYING_CHILD = textwrap.dedent(
    """
    import signal
    import sys
    from pathlib import Path

    # Ctrl-C as a user's terminal delivers it: a SIGINT ignored or blocked in the test runner is inherited
    # across exec (Python then installs no handler), which made the child finish as if never interrupted.
    print(f"inherited SIGINT: {signal.getsignal(signal.SIGINT)!r}, blocked: {signal.pthread_sigmask(signal.SIG_BLOCK, [])}",
          file=sys.stderr)
    signal.signal(signal.SIGINT, signal.default_int_handler)
    signal.pthread_sigmask(signal.SIG_UNBLOCK, [signal.SIGINT])
    from ftkit.model import TrainedModel
    from ftkit.providers.together import TogetherProvider

    model = TrainedModel.model_validate_json(Path(sys.argv[3]).read_text())
    model.bind(TogetherProvider(api_key=sys.argv[1], base_url=sys.argv[2], poll_interval=0.02))
    model.deploy()
    """
)


def test_a_process_killed_while_deploying_leaves_a_record_that_finishes_or_deletes_it(
    server: TogetherServer, tuned: TrainedModel, tmp_path: Path
) -> None:
    saved = tmp_path / "model.json"
    saved.write_text(tuned.model_dump_json())
    held = server.faults.add("POST", "/v2/projects/{pid}/endpoints/{eid}/deployments", delay=1.0)
    repo = Path(__file__).resolve().parents[3]
    env = {**os.environ, "PYTHONPATH": f"{repo}{os.pathsep}{os.environ.get('PYTHONPATH', '')}"}
    child = subprocess.Popen([sys.executable, "-c", _DEPLOYING_CHILD, server.api_key, server.base_url, str(saved)],
                             env=env, cwd=tmp_path)  # fmt: skip
    try:
        assert server.wait_until(lambda: held.hits > 0, timeout=60), "the child never asked for a deployment"
        child.send_signal(signal.SIGKILL)  # no cleanup runs: only the store knows
        child.wait(timeout=10)
    finally:
        if child.poll() is None:
            child.kill()
    assert server.wait_until(lambda: len(server.created_deployments) == 1, timeout=10)  # the server finished it
    (left,) = list_deployments(active_only=True)  # what `ftkit deployments list` shows after the crash
    assert left.remote_id is None, "the process died before it heard the deployment's id"
    resumed = Deployment.attach(left.id, api_key=server.api_key, base_url=server.base_url)
    resumed.wait_ready(poll_interval=0.02, timeout=30)  # adopts the deployment by its name, routes it
    assert len(server.created_deployments) == 1 and resumed.remote_id == server.created_deployments[0]["deployment_id"]
    resumed.delete()
    assert_nothing_left(server)
