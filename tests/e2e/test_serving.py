"""The HTTP server (`textseq serve`) through FastAPI's test client, on a tiny classifier, tagger
and language model trained here: same answers as `predict`, every bad or hostile input answered
with a JSON error (never 5xx, never a traceback) while the server keeps serving, concurrent
requests sharing model calls, a full queue answering 503 at once, a deadline 504, /ready and
/metrics. The batching itself is tested in tests/unit/test_admission.py."""

import dataclasses
import json
import logging
import math
import os
import random
import re
import threading
from pathlib import Path

import pytest
import torch
from fastapi.testclient import TestClient

import textseq
from textseq import __version__
from textseq.cli import main
from textseq.errors import DataError, TextseqError
from textseq.limits import InputLimits, InputTooLarge
from textseq.serving import (
    ONEDNN_CACHE,
    SETTINGS_ENV,
    ServeSettings,
    app_from_environment,
    create_app,
    create_app_from_settings,
    load_servable,
)

WORDS = [f"w{i}" for i in range(30)]
TRIGGERS = ["w1", "w2", "w3"]


def write_toy_classification(path: Path, n: int, seed: int) -> Path:
    """'yes' when the text holds a trigger word, else 'no' (learnable in a few epochs)."""
    rng = random.Random(seed)
    plain = [w for w in WORDS if w not in TRIGGERS]
    lines = ["label\ttext"]
    for i in range(n):
        tokens = rng.choices(plain, k=rng.randint(3, 10))
        if i % 2:
            tokens[rng.randrange(len(tokens))] = rng.choice(TRIGGERS)
        lines.append(f"{'yes' if i % 2 else 'no'}\t{' '.join(tokens)}")
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def write_toy_conll(path: Path, n: int, seed: int) -> Path:
    """Capitalised words are PER entities (B-PER, then I-PER), the rest O."""
    rng = random.Random(seed)
    sentences = []
    for _ in range(n):
        rows, previous = [], "O"
        for _ in range(rng.randint(2, 8)):
            word = rng.choice(WORDS)
            if rng.random() < 0.3:
                word = word.capitalize()
                tag = "I-PER" if previous != "O" else "B-PER"
            else:
                tag = "O"
            rows.append(f"{word} {tag}")
            previous = tag
        sentences.append("\n".join(rows))
    path.write_text("\n\n".join(sentences) + "\n", encoding="utf-8")
    return path


def assert_same_predictions(served: list[dict], direct: list[dict]) -> None:
    """Equal labels and texts; probabilities equal up to float rounding (a shared batch pads
    texts to another length than a batch of their own, which moves the 6th decimal)."""
    assert len(served) == len(direct)
    for a, b in zip(served, direct, strict=True):
        assert (a["text"], a["label"]) == (b["text"], b["label"])
        assert a["probs"].keys() == b["probs"].keys()
        assert all(abs(a["probs"][k] - b["probs"][k]) <= 2e-6 for k in a["probs"])


@pytest.fixture(scope="module")
def classifier_dir(tmp_path_factory):
    root = tmp_path_factory.mktemp("serve-classifier")
    threads = torch.get_num_threads()
    config = {
        "seed": 7,
        "data": {
            "train": str(write_toy_classification(root / "train.tsv", 800, seed=1)),
            "val": str(write_toy_classification(root / "val.tsv", 200, seed=2)),
            "batch_size": 32,
        },
        "text": {"tokenizer": "whitespace"},
        "model": {
            "embedding": {"dim": 16},
            "encoder": {"cell": "gru", "hidden_size": 16},
            "pooling": {"type": "attention", "attention_dim": 16},
        },
        "optim": {"lr": 0.01},
        "trainer": {"max_epochs": 5, "progress_bar": False, "threads": 1},
    }
    directory = textseq.train(config, out=root / "model")
    torch.set_num_threads(threads)
    return directory


@pytest.fixture(scope="module")
def tagger_dir(tmp_path_factory):
    root = tmp_path_factory.mktemp("serve-tagger")
    threads = torch.get_num_threads()
    config = {
        "task": "tag",
        "data": {
            "train": str(write_toy_conll(root / "train.conll", 200, seed=1)),
            "val": str(write_toy_conll(root / "val.conll", 50, seed=2)),
        },
        "model": {
            "embedding": {"dim": 8},
            "chars": {"dim": 8, "hidden_size": 8},
            "encoder": {"hidden_size": 8},
        },
        "trainer": {"max_epochs": 1, "progress_bar": False, "threads": 1},
    }
    directory = textseq.train(config, out=root / "model")
    torch.set_num_threads(threads)
    return directory


@pytest.fixture(scope="module")
def classifier(classifier_dir):
    return textseq.load(classifier_dir)


def settings(**values) -> ServeSettings:
    return ServeSettings(model_dir="unused", **values)


@pytest.fixture
def client(classifier):
    with TestClient(create_app(classifier, settings=settings(max_texts=8, max_chars=50))) as c:
        yield c


def test_predict_answers_what_predict_returns(client, classifier):
    texts = ["w5 w1 w9 w10", "w5 w6 w9 w10", "an unseen word"]
    response = client.post("/predict", json={"texts": texts})
    assert response.status_code == 200
    predictions = response.json()["predictions"]
    assert predictions == classifier.predict(texts)
    assert [p["label"] for p in predictions[:2]] == ["yes", "no"]
    assert client.post("/predict", json={"texts": []}).json() == {"predictions": []}


def test_health_and_metadata(client, classifier_dir):
    assert client.get("/health").json() == {"status": "ok"}
    metadata = client.get("/metadata").json()
    assert metadata["task"] == "classify"
    assert metadata["labels"] == ["no", "yes"]
    assert metadata["textseq_version"] == __version__
    assert metadata["model"]["encoder"]["cell"] == "gru"
    assert metadata["model_dir"] == str(classifier_dir)
    assert metadata["limits"]["max_texts"] == 8
    schema = client.get("/openapi.json").json()["paths"]["/predict"]["post"]["requestBody"]
    assert "texts" in schema["content"]["application/json"]["schema"]["properties"]


@pytest.mark.parametrize(
    ("body", "status", "says"),
    [
        (b'{"texts": ["w1"', 400, "not valid JSON"),
        (b"\xff\xfe not utf-8", 400, "not UTF-8"),
        (b"", 400, "needs a JSON body"),
        (b'["w1", "w2"]', 422, "must be"),
        (b'{"texts": "w1 w2"}', 422, "must be"),
        (b'{"texts": [1, 2]}', 422, "must be"),
        (b'{"texts": [null]}', 422, "must be"),
        (b'{"text": ["w1"]}', 422, "must be"),
        (b'{"texts": ["w1"], "extra": 1}', 422, "must be"),
        (b'{"texts": ["w1", "   "]}', 422, "text 2 is empty"),
        (json.dumps({"texts": ["w1"] * 9}).encode(), 413, "9 texts"),
        (json.dumps({"texts": ["w1", "w2 " * 20]}).encode(), 413, "text 2 has 60 characters"),
        (b'{"texts": ["' + b"w" * 5000 + b'"]}', 413, "body exceeds"),
    ],
)
def test_bad_input_answers_a_json_error_and_the_server_keeps_serving(client, body, status, says):
    response = client.post("/predict", content=body, headers={"content-type": "application/json"})
    assert response.status_code == status
    assert says in response.json()["error"]
    assert client.post("/predict", json={"texts": ["w1 w4"]}).status_code == 200


def test_json_content_types_are_read_and_others_answer_415(client):
    for content_type in ("application/json; charset=utf-8", "application/vnd.api+json", None):
        headers = {} if content_type is None else {"content-type": content_type}
        response = client.post("/predict", content=b'{"texts": ["w1 w4"]}', headers=headers)
        assert response.status_code == 200
        assert response.json()["predictions"][0]["label"] == "yes"
    for content_type in ("text/plain", "application/x-www-form-urlencoded"):
        response = client.post(
            "/predict", content=b'{"texts": ["w1 w4"]}', headers={"content-type": content_type}
        )
        assert response.status_code == 415
        assert "application/json" in response.json()["error"]


HOSTILE = [
    (b'{"texts": ["a \\ud800 b"]}', 422, "lone surrogate (U+D800)"),
    (b'{"texts": ' + b"[" * 100_000 + b"]" * 100_000 + b"}", 400, "nests deeper than 16"),
    (b'{"texts": ["w1"], "texts": ["w2"]}', 400, "given twice"),
    (b'{"texts": ["w1"], "n": 1' + b"0" * 5000 + b"}", 400, "a number of 5001"),
    (b'{"texts": ["w1"], "n": 1e999}', 400, "out of range"),
    (b'{"texts": [NaN]}', 400, "NaN is not JSON"),
    (b'{"texts": ["w1"]', 400, "not valid JSON"),
]


@pytest.mark.parametrize(("body", "status", "says"), HOSTILE)
def test_hostile_json_is_refused_before_the_model_without_a_traceback(
    classifier, caplog, body, status, says
):
    calls = []

    def counted(texts):
        calls.append(texts)
        return classifier.predict(texts)

    app = create_app(classifier, settings=settings(max_chars=300_000), predict=counted)
    with TestClient(app) as test_client:
        calls.clear()  # the canary's call at start-up
        response = test_client.post(
            "/predict", content=body, headers={"content-type": "application/json"}
        )
        assert (response.status_code, calls) == (status, [])
        assert says in response.json()["error"]
        assert test_client.post("/predict", json={"texts": ["w1"]}).status_code == 200
    assert "Traceback" not in caplog.text and not [r for r in caplog.records if r.exc_info]


def test_unknown_routes_and_methods_answer_errors(client):
    assert client.get("/predict").status_code == 405
    assert client.get("/nowhere").status_code == 404


def test_a_failing_model_call_answers_500_as_json_and_the_server_survives(classifier):
    calls = {"n": 0}

    def flaky(texts):
        calls["n"] += 1
        if calls["n"] == 2:  # the first call is the canary at start-up
            raise RuntimeError("out of memory")
        return classifier.predict(texts)

    app = create_app(classifier, settings=settings(batch_seconds=0), predict=flaky)
    with TestClient(app, raise_server_exceptions=False) as c:
        response = c.post("/predict", json={"texts": ["w1"]})
        assert response.status_code == 500
        assert "out of memory" in response.json()["error"]
        assert c.post("/predict", json={"texts": ["w1"]}).status_code == 200


def test_concurrent_requests_share_model_calls_and_get_their_own_answers(classifier):
    requests = 8
    calls: list[int] = []

    def counted(texts):
        calls.append(len(texts))
        return classifier.predict(texts)

    # The batch closes when all 16 texts are in, or after 2 s: either way well under 8 calls.
    app = create_app(
        classifier,
        settings=settings(max_batch=2 * requests, max_wait_ms=2000, deadline_s=60, batch_seconds=0),
        predict=counted,
    )
    texts = [[f"w{i} w{i + 5} w1", f"w{i + 10} w{i + 3}"] for i in range(requests)]
    answers: list = [None] * requests
    with TestClient(app) as test_client:
        start = threading.Barrier(requests)

        def send(i: int) -> None:
            start.wait()
            answers[i] = test_client.post("/predict", json={"texts": texts[i]})

        threads = [threading.Thread(target=send, args=(i,)) for i in range(requests)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=60)
        stats = test_client.get("/stats").json()
    calls = calls[1:]  # not the canary's
    assert stats["model_calls"] == len(calls) + 1 and stats["texts"] == 2 * requests + 1
    assert (stats["queue_texts"], stats["queue_chars"]) == (0, 0)
    assert all(a is not None and a.status_code == 200 for a in answers)
    assert sum(calls) == 2 * requests
    assert len(calls) < requests
    assert app.state.batcher.calls == len(calls) + 1
    for i in range(requests):
        assert_same_predictions(answers[i].json()["predictions"], classifier.predict(texts[i]))


def test_batches_are_bounded_by_the_work_measured_at_start_up(classifier):
    """--batch-seconds: the model is timed on growing batches of dense text at start-up, and
    batches then hold at most what it runs in that time (textseq.serve_budget)."""
    calls: list[int] = []

    def counted(texts):
        calls.append(sum(len(text) for text in texts))
        return classifier.predict(texts)

    app = create_app(classifier, settings=settings(max_chars=2_000), predict=counted)
    with TestClient(app) as test_client:
        limits = test_client.get("/metadata").json()["limits"]
    budget = app.state.budget
    assert budget is not None and limits["batch_budget_chars"] == budget.chars
    assert 1 <= budget.chars <= 50_000 and app.state.batcher.batch_chars == budget.chars
    assert app.state.batcher.seconds_per_char == budget.seconds_per_char
    # the canary, the warm-up, then batches growing from one text of 256 characters
    assert calls[:3] == [len("hello world"), 256, 256] and budget.measured_chars in calls
    assert budget.longest_text_seconds == pytest.approx(budget.seconds_per_char * 2_000)
    off = create_app(classifier, settings=settings(batch_seconds=0), predict=counted)
    with TestClient(off):
        assert off.state.budget is None and off.state.batcher.batch_chars == 50_000


def test_tagger_is_served_with_its_predict_dicts(tagger_dir):
    tagger = textseq.load(tagger_dir)
    texts = ["w1 W2 W3 w4", "W7 w8"]
    with TestClient(create_app(tagger)) as test_client:
        response = test_client.post("/predict", json={"texts": texts})
        assert response.status_code == 200
        predictions = response.json()["predictions"]
        assert predictions == tagger.predict(texts)
        assert predictions[0]["tokens"] == ["w1", "W2", "W3", "w4"]
        assert {"tags", "confidences", "entities"} <= predictions[0].keys()
        metadata = test_client.get("/metadata").json()
        assert metadata["task"] == "tag"
        assert "B-PER" in metadata["labels"]


def test_language_models_are_served_at_generate_with_max_tokens_capped(tmp_path):
    lm = tmp_path / "lm"
    (tmp_path / "corpus.txt").write_text("a b c d e f\n" * 50, encoding="utf-8")
    textseq.train(
        {
            "task": "lm",
            "data": {
                "train": str(tmp_path / "corpus.txt"),
                "val": None,
                "batch_size": 2,
                "bptt": 4,
            },
            "model": {"embedding": {"dim": 8}, "rnn": {"hidden_size": 8, "num_layers": 1}},
            "trainer": {"max_epochs": 1, "progress_bar": False, "threads": 1},
        },
        out=lm,
    )
    model = load_servable(lm)
    with TestClient(create_app(model, settings=settings(max_new_tokens=5))) as test_client:
        assert test_client.get("/ready").status_code == 200
        assert test_client.get("/metadata").json()["endpoint"] == "/generate"
        answer = test_client.post("/generate", json={"texts": ["a b"], "max_tokens": 3})
        assert answer.status_code == 200
        want = model.generate("a b", max_tokens=3, temperature=0)[0]
        assert answer.json() == {"generations": [{"prompt": "a b", "text": want}]}
        too_long = test_client.post("/generate", json={"texts": ["a"], "max_tokens": 6})
        assert too_long.status_code == 422 and "between 1 and 5" in too_long.json()["error"]
        assert test_client.post("/predict", json={"texts": ["a"]}).status_code == 404


@pytest.mark.parametrize(
    ("values", "says"),
    [
        ({"max_batch": 0}, "--max-batch"),
        ({"port": 70000}, "--port (70000) must be between 1 and 65535"),
        ({"port": 0}, "--port"),
        ({"host": "no such host.invalid"}, "--host"),
        ({"deadline_s": 0}, "--deadline-s"),
        ({"queue_texts": 10, "max_texts": 20}, "--queue-texts (10) must be at least"),
        ({"over_limit": "drop"}, "--over-limit"),
    ],
)
def test_bad_settings_are_refused_in_one_line(values, says):
    with pytest.raises(TextseqError, match=re.escape(says)):
        settings(**values)


def test_the_cli_refuses_bad_ports_and_missing_models(tmp_path, classifier_dir, capsys):
    assert main(["serve", str(classifier_dir), "--port", "70000"]) == 2
    assert "--port (70000)" in capsys.readouterr().err
    assert main(["serve", str(classifier_dir), "--max-wait-ms", "-1"]) == 2
    assert main(["serve", str(tmp_path / "missing")]) == 3


class Gate:
    """A model call that blocks, after the canary, until `open` is set."""

    def __init__(self, classifier) -> None:
        self.classifier = classifier
        self.calls: list[list[str]] = []
        self.entered = threading.Event()
        self.open = threading.Event()

    def __call__(self, texts):
        self.calls.append(list(texts))
        if len(self.calls) > 1:
            self.entered.set()
            assert self.open.wait(30)
        return self.classifier.predict(texts)


def wait_for(condition) -> None:
    for _ in range(3000):
        if condition():
            return
        threading.Event().wait(0.01)
    raise AssertionError("the condition never held")


def test_a_full_queue_answers_503_with_retry_after_at_once(classifier):
    gate = Gate(classifier)
    app = create_app(
        classifier,
        settings=settings(max_texts=2, queue_texts=2, deadline_s=60, batch_seconds=0),
        predict=gate,
    )
    with TestClient(app) as test_client:
        answers = {}
        running = threading.Thread(
            target=lambda: answers.update(a=test_client.post("/predict", json={"texts": ["w1"]}))
        )
        running.start()
        assert gate.entered.wait(30)  # the model is busy with the first request
        queued = threading.Thread(
            target=lambda: answers.update(
                b=test_client.post("/predict", json={"texts": ["w2", "w3"]})
            )
        )
        queued.start()
        wait_for(lambda: app.state.batcher.waiting_texts == 2)
        full = test_client.post("/predict", json={"texts": ["w4"]})
        assert full.status_code == 503 and int(full.headers["retry-after"]) >= 1
        assert "queue is full" in full.json()["error"]
        metrics = test_client.get("/metrics").text
        assert "textseq_queue_texts 2.0" in metrics
        assert 'textseq_rejections_total{reason="queue_full"} 1.0' in metrics
        gate.open.set()
        running.join(30)
        queued.join(30)
        assert answers["a"].status_code == answers["b"].status_code == 200
        assert ["w4"] not in gate.calls
        metrics = test_client.get("/metrics").text
        assert 'textseq_requests_total{endpoint="predict",status="503"} 1.0' in metrics
        assert "textseq_batch_texts_count 3.0" in metrics  # the canary and two batches


def test_past_the_deadline_a_request_answers_504_and_never_reaches_the_model(classifier):
    gate = Gate(classifier)
    app = create_app(classifier, settings=settings(deadline_s=0.5, batch_seconds=0), predict=gate)
    with TestClient(app) as test_client:
        answers = {}
        first = threading.Thread(
            target=lambda: answers.update(a=test_client.post("/predict", json={"texts": ["w1"]}))
        )
        first.start()
        assert gate.entered.wait(30)
        late = test_client.post("/predict", json={"texts": ["w9 late"]})  # the model is busy
        assert late.status_code == 504 and "deadline" in late.json()["error"]
        gate.open.set()
        first.join(30)
        assert answers["a"].status_code == 504  # it was answered 504 at its deadline, too
        assert test_client.post("/predict", json={"texts": ["w2"]}).status_code == 200
    assert ["w9 late"] not in gate.calls


def test_a_model_with_non_finite_outputs_is_not_ready_and_answers_503(classifier):
    def broken(texts):
        return [
            {"text": t, "label": "yes", "probs": {"no": math.nan, "yes": math.nan}} for t in texts
        ]

    with TestClient(create_app(classifier, predict=broken)) as test_client:
        assert test_client.get("/health").json() == {"status": "ok"}
        ready = test_client.get("/ready")
        assert ready.status_code == 503 and "not finite" in ready.json()["problem"]
        answer = test_client.post("/predict", json={"texts": ["w1"]})
        assert answer.status_code == 503 and "not finite" in answer.json()["error"]
        assert "textseq_ready 0.0" in test_client.get("/metrics").text
    with TestClient(create_app(classifier)) as test_client:
        ready = test_client.get("/ready")
        assert ready.status_code == 200 and ready.json()["ready"] is True


def test_over_the_character_cap_texts_are_truncated_with_a_warning_when_asked(classifier):
    app = create_app(classifier, settings=settings(max_chars=10, over_limit="truncate"))
    with TestClient(app) as test_client:
        answer = test_client.post("/predict", json={"texts": ["w1 w2 w3 w4 w5", "w6"]})
        assert answer.status_code == 200
        body = answer.json()
        assert [p["text"] for p in body["predictions"]] == ["w1 w2 w3 w", "w6"]
        assert body["warnings"] == ["text 1 has 14 characters; the limit is 10: truncated to 10"]


def test_worker_processes_build_the_app_from_the_environment(classifier_dir, monkeypatch):
    # `--workers N`: each uvicorn worker process builds its app from the settings in the
    # environment.
    settings = ServeSettings(model_dir=str(classifier_dir), max_texts=3, max_batch=2)
    monkeypatch.setenv(SETTINGS_ENV, json.dumps(dataclasses.asdict(settings)))
    with TestClient(app_from_environment()) as test_client:
        assert test_client.get("/metadata").json()["limits"]["max_texts"] == 3
        answer = test_client.post("/predict", json={"texts": ["w1 w5", "w6", "w7 w2"]})
        predictions = answer.json()["predictions"]
        assert len(predictions) == 3 and predictions[0]["label"] == "yes"


def test_the_server_bounds_onednns_shape_cache_unless_the_environment_does(
    classifier_dir, monkeypatch
):
    name, _ = ONEDNN_CACHE
    settings = ServeSettings(model_dir=str(classifier_dir), batch_seconds=0)
    monkeypatch.delenv(name, raising=False)
    create_app_from_settings(settings)
    assert os.environ[name] == "64"
    monkeypatch.setenv(name, "8")
    create_app_from_settings(settings)
    assert os.environ[name] == "8"


def test_serving_an_int8_model_answers_like_predict_with_int8(classifier_dir, monkeypatch):
    """`textseq serve --quantize int8`: the workers load the dynamically quantised model, say
    so in /metadata, and answer what `textseq.load(DIR, quantize="int8").predict` answers
    (which differs from the fp32 model's answer, so the comparison can tell them apart)."""
    texts = ["w1 w5", "w6 w8 w9", "w7 w2"]
    int8 = textseq.load(classifier_dir, quantize="int8").predict(texts)
    fp32 = textseq.load(classifier_dir).predict(texts)
    pairs = zip(int8, fp32, strict=True)
    assert max(abs(a["probs"][k] - b["probs"][k]) for a, b in pairs for k in a["probs"]) > 1e-5
    settings = ServeSettings(model_dir=str(classifier_dir), quantize="int8")
    monkeypatch.setenv(SETTINGS_ENV, json.dumps(dataclasses.asdict(settings)))
    with TestClient(app_from_environment()) as test_client:
        metadata = test_client.get("/metadata").json()
        assert (metadata["quantize"], metadata["precision"]) == ("int8", "fp32")
        predictions = test_client.post("/predict", json={"texts": texts}).json()["predictions"]
    for got, want in zip(predictions, int8, strict=True):
        assert got["label"] == want["label"]
        assert got["probs"] == pytest.approx(want["probs"], abs=1e-6)
    with pytest.raises(TextseqError, match="quantize"):
        load_servable(classifier_dir, quantize="int4")
    assert main(["serve", str(classifier_dir), "--quantize", "int4"]) == 2


def test_clients_that_leave_cost_no_model_work_and_log_no_traceback(classifier, caplog):
    """On a loopback uvicorn: a client that sends half a body and one that leaves while its
    request waits are each dropped (one log line, no traceback), the second before its texts
    reach the model."""
    import socket

    import uvicorn

    caplog.set_level(logging.INFO, logger="textseq")
    gate = Gate(classifier)
    app = create_app(classifier, settings=settings(deadline_s=60, batch_seconds=0), predict=gate)
    server = uvicorn.Server(
        uvicorn.Config(app, host="127.0.0.1", port=0, log_level="info", log_config=None)
    )
    thread = threading.Thread(target=server.run)
    thread.start()
    try:
        wait_for(lambda: server.started)
        port = server.servers[0].sockets[0].getsockname()[1]

        def send(body: bytes, length: int | None = None) -> socket.socket:
            connection = socket.create_connection(("127.0.0.1", port), timeout=30)
            head = (
                f"POST /predict HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                f"Content-Length: {len(body) if length is None else length}\r\n\r\n"
            )
            connection.sendall(head.encode() + body)
            return connection

        running = send(b'{"texts": ["w1"]}')
        assert gate.entered.wait(30)
        half = b'{"texts": ["w2 w3 w4"]}'
        send(half[:10], length=len(half)).close()  # leaves while sending its body
        waiting = send(b'{"texts": ["w9 gone"]}')
        wait_for(lambda: app.state.batcher.waiting_texts == 1)
        waiting.close()  # leaves while its request waits for the model
        wait_for(lambda: app.state.batcher.waiting_texts == 0)
        gate.open.set()
        assert running.recv(4096).startswith(b"HTTP/1.1 200")
        running.close()
        wait_for(lambda: 'reason="gone"} 2.0' in metrics_text(app, port))
    finally:
        gate.open.set()
        server.should_exit = True
        thread.join(30)
    assert ["w9 gone"] not in gate.calls and len(gate.calls) == 2  # the canary and w1
    assert "Traceback" not in caplog.text and not [r for r in caplog.records if r.exc_info]
    assert caplog.text.count("the client left") == 2


def metrics_text(app, port: int) -> str:
    import urllib.request

    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=30) as response:
        return response.read().decode()


def test_the_python_api_and_the_cli_cap_characters_per_text(classifier, classifier_dir, capsys):
    with pytest.raises(InputTooLarge, match="text 2 has 100001 characters"):
        classifier.predict(["w1", "w" * 100_001])
    assert main(["predict", str(classifier_dir), "w1 w5 w6", "--max-chars", "5"]) != 0
    assert "the limit is 5" in capsys.readouterr().err
    argv = ["predict", str(classifier_dir), "w1 w5 w6", "--max-chars", "5", "--over-limit"]
    assert main([*argv, "truncate"]) == 0
    out, err = capsys.readouterr()
    assert json.loads(out)["text"] == "w1 w5"
    assert "warning: text 1 has 8 characters; the limit is 5: truncated to 5" in err


def test_translation_models_are_served_at_translate_with_the_beam_capped(tmp_path):
    lines = [" ".join(random.Random(i).choices("0123456789", k=3)) for i in range(60)]
    for name in ("src", "tgt"):
        (tmp_path / f"train.{name}").write_text("\n".join(lines) + "\n", encoding="utf-8")
    directory = textseq.train(
        {
            "task": "translate",
            "data": {
                "train": None,
                "val": None,
                "train_src": str(tmp_path / "train.src"),
                "train_tgt": str(tmp_path / "train.tgt"),
                "val_src": str(tmp_path / "train.src"),
                "val_tgt": str(tmp_path / "train.tgt"),
                "batch_size": 16,
            },
            "text": {"min_freq": 1},
            "model": {
                "embedding": {"dim": 8},
                "rnn": {"encoder_hidden_size": 8, "decoder_hidden_size": 8, "attention_dim": 8},
            },
            "trainer": {"max_epochs": 1, "progress_bar": False, "threads": 1},
        },
        out=tmp_path / "model",
    )
    translator = load_servable(directory)
    texts = ["1 2 3", "4 5"]
    with TestClient(create_app(translator, settings=settings(max_beam=3))) as test_client:
        assert test_client.get("/ready").status_code == 200
        assert test_client.get("/metadata").json()["limits"]["beam_size_max"] == 3
        answer = test_client.post("/translate", json={"texts": texts, "beam_size": 2})
        assert answer.status_code == 200
        assert answer.json() == {"translations": translator.translate(texts, beam_size=2)}
        too_wide = test_client.post("/translate", json={"texts": texts, "beam_size": 4})
        assert too_wide.status_code == 422 and "between 1 and 3" in too_wide.json()["error"]
        assert test_client.post("/predict", json={"texts": texts}).status_code == 404


@pytest.fixture(scope="module")
def capped_dir(tmp_path_factory):
    """A classifier whose config caps texts at 4 tokens (data.max_length)."""
    root = tmp_path_factory.mktemp("serve-capped")
    threads = torch.get_num_threads()
    config = {
        "seed": 7,
        "data": {
            "train": str(write_toy_classification(root / "train.tsv", 200, seed=1)),
            "val": str(write_toy_classification(root / "val.tsv", 50, seed=2)),
            "batch_size": 32,
            "max_length": 4,
        },
        "text": {"tokenizer": "whitespace"},
        "model": {"embedding": {"dim": 8}, "encoder": {"cell": "gru", "hidden_size": 8}},
        "trainer": {"max_epochs": 1, "progress_bar": False, "threads": 1},
    }
    directory = textseq.train(config, out=root / "model")
    torch.set_num_threads(threads)
    return directory


def test_the_models_token_cap_is_refused_or_read_in_part_by_the_api_the_cli_and_the_server(
    capped_dir, capsys
):
    """data.max_length 4: by default a 5-token text is answered as its first 4 tokens with a
    warning (stderr, the answer's warnings), as training read it; with refuse it is refused
    (InputTooLarge, exit 3, 413)."""
    model = textseq.load(capped_dir)
    assert (model.max_tokens, model.count_tokens("w1  w2 w3")) == (4, 3)
    first_four = model.predict(["w1 w2 w3 w4"])[0]["probs"]
    assert model.predict(["w1 w2 w3 w4 w5"])[0]["probs"] == first_four
    model.limits = InputLimits(over_tokens="refuse")
    with pytest.raises(InputTooLarge, match="text 2 has 5 tokens; the limit is 4"):
        model.predict(["w1", "w1 w2 w3 w4 w5"])
    model.limits = InputLimits()
    assert main(["predict", str(capped_dir), "w1 w2 w3 w4 w5", "--over-limit", "refuse"]) == 3
    assert "text 1 has 5 tokens; the limit is 4" in capsys.readouterr().err
    assert main(["predict", str(capped_dir), "w1 w2 w3 w4 w5"]) == 0
    out, err = capsys.readouterr()
    assert "warning: text 1 has 5 tokens; the limit is 4: the model reads the first 4" in err
    assert json.loads(out)["probs"] == first_four
    app = create_app(model, settings=settings(batch_seconds=0, over_limit="refuse"))
    with TestClient(app) as c:
        assert c.get("/metadata").json()["limits"]["max_tokens"] == 4
        refused = c.post("/predict", json={"texts": ["w1", "w1 w2 w3 w4 w5"]})
        assert refused.status_code == 413 and "text 2 has 5 tokens" in refused.json()["error"]
    app = create_app(model, settings=settings(batch_seconds=0))
    with TestClient(app) as c:
        answer = c.post("/predict", json={"texts": ["w1 w2 w3 w4 w5"]}).json()
    assert answer["predictions"][0]["probs"] == first_four
    assert answer["warnings"] == [
        "text 1 has 5 tokens; the limit is 4: the model reads the first 4"
    ]


def test_a_control_character_is_refused_by_the_server_the_cli_and_the_api(
    classifier, classifier_dir, capsys, tmp_path
):
    with TestClient(create_app(classifier, settings=settings(batch_seconds=0))) as c:
        for text, code in (("w1\u0000w2", "0000"), ("w1 \u001b[31m", "001B")):
            response = c.post("/predict", json={"texts": ["w1", text]})
            assert response.status_code == 422
            assert f"text 2 holds the control character U+{code}" in response.json()["error"]
        tab = c.post("/predict", json={"texts": ["w1\tw2\nw3"]})  # whitespace is read
        assert tab.status_code == 200
        assert 'reason="bad_body"} 2.0' in c.get("/metrics").text
    with pytest.raises(DataError, match="U\\+0000 at character 3"):
        classifier.predict(["w1\x00"])
    lines = tmp_path / "lines.txt"
    lines.write_text("w1 w2\nw3\x00w4\n", encoding="utf-8")
    assert main(["predict", str(classifier_dir), "--file", str(lines)]) == 3
    out, err = capsys.readouterr()
    assert out == "" and "text 2 holds the control character U+0000 at character 3" in err
