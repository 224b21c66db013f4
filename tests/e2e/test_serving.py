"""The HTTP server (`textseq serve`) through FastAPI's test client, on a tiny classifier and a
tiny tagger trained here: same answers as `predict`, every bad input answered with a JSON
error while the server keeps serving, and concurrent requests sharing model calls."""

import dataclasses
import json
import random
import threading
from pathlib import Path

import pytest
import torch
from fastapi.testclient import TestClient

import textseq
from textseq import __version__
from textseq.cli import main
from textseq.errors import TextseqError
from textseq.serving import (
    SETTINGS_ENV,
    MicroBatcher,
    ServeSettings,
    app_from_environment,
    create_app,
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


@pytest.fixture
def client(classifier):
    with TestClient(create_app(classifier, max_texts=8, max_chars=50)) as test_client:
        yield test_client


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
        (b"\xff\xfe not utf-8", 400, "not valid JSON"),
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


def test_json_is_read_whatever_the_content_type(client):
    for content_type in ("text/plain", "application/x-www-form-urlencoded"):
        response = client.post(
            "/predict", content=b'{"texts": ["w1 w4"]}', headers={"content-type": content_type}
        )
        assert response.status_code == 200
        assert response.json()["predictions"][0]["label"] == "yes"


def test_unknown_routes_and_methods_answer_errors(client):
    assert client.get("/predict").status_code == 405
    assert client.get("/nowhere").status_code == 404


def test_a_failing_model_call_answers_500_as_json_and_the_server_survives(classifier):
    calls = {"n": 0}

    def flaky(texts):
        calls["n"] += 1
        if calls["n"] == 1:
            raise RuntimeError("out of memory")
        return classifier.predict(texts)

    with TestClient(create_app(classifier, predict=flaky), raise_server_exceptions=False) as c:
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
    app = create_app(classifier, max_batch=2 * requests, max_wait_ms=2000, predict=counted)
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
    assert stats == {"model_calls": len(calls), "texts": 2 * requests}
    assert all(a is not None and a.status_code == 200 for a in answers)
    assert sum(calls) == 2 * requests
    assert len(calls) < requests
    assert app.state.batcher.calls == len(calls)
    for i in range(requests):
        assert_same_predictions(answers[i].json()["predictions"], classifier.predict(texts[i]))


def test_batcher_keeps_batches_within_max_batch():
    import asyncio

    seen: list[list[str]] = []

    def echo(texts):
        seen.append(list(texts))
        return [{"text": t} for t in texts]

    async def run():
        batcher = MicroBatcher(echo, max_batch=4, max_wait_ms=50)
        jobs = [batcher.submit([f"{i}a", f"{i}b", f"{i}c"][: 1 + i % 3]) for i in range(9)]
        results = await asyncio.gather(*jobs)
        await batcher.stop()
        return results

    results = asyncio.run(run())
    for i, result in enumerate(results):
        assert [r["text"] for r in result] == [f"{i}a", f"{i}b", f"{i}c"][: 1 + i % 3]
    assert all(len(batch) <= 4 for batch in seen)
    assert sum(len(batch) for batch in seen) == 18
    assert len(seen) < 9


def test_one_bad_request_in_a_shared_batch_fails_alone():
    import asyncio

    def picky(texts):
        if "bad" in texts:
            raise ValueError("bad text")
        return [{"text": t} for t in texts]

    async def run():
        batcher = MicroBatcher(picky, max_batch=16, max_wait_ms=100)
        results = await asyncio.gather(
            batcher.submit(["a"]),
            batcher.submit(["bad"]),
            batcher.submit(["b"]),
            return_exceptions=True,
        )
        await batcher.stop()
        return results

    good, bad, other = asyncio.run(run())
    assert good == [{"text": "a"}] and other == [{"text": "b"}]
    assert isinstance(bad, ValueError)


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


def test_language_models_and_bad_settings_are_refused(tmp_path, classifier_dir):
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
    with pytest.raises(TextseqError, match="language model"):
        load_servable(lm)
    with pytest.raises(TextseqError, match="--max-batch"):
        ServeSettings(model_dir=str(classifier_dir), max_batch=0)
    assert main(["serve", str(classifier_dir), "--max-wait-ms", "-1"]) == 2
    assert main(["serve", str(tmp_path / "missing")]) == 3


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
